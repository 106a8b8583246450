/* cli/cmd_verify.c — `hallmark verify BUNDLE --genesis FILE`: checks a proof
 * bundle offline, with nothing but the genesis file, and reports each step.
 *
 * Layer: cli/ (top), over contracts/ct_bundle.h, which does all the checking;
 * this file reads the two files, describes the entries for people, and maps
 * the outcome to an exit code (0 verified, 1 not verified, 2 malformed
 * bundle or genesis, 3 unreadable file). Never contacts a node: the point is
 * not to trust one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "ct_bundle.h"

#define VERIFY_BUNDLE_MAX (16u * 1024 * 1024)
#define VERIFY_GENESIS_MAX (1u * 1024 * 1024)

static const cli_opt verify_opts[] = {
    {"genesis", "FILE", "the network's genesis file (default: $HALLMARK_GENESIS)"},
    {"json", NULL, "print the steps as JSON"},
    {"quiet", NULL, "print only the outcome"},
    {NULL, NULL, NULL},
};

static const cli_spec verify_spec = {
    .usage = "hallmark verify BUNDLE --genesis FILE [--json] [--quiet]",
    .description =
        "Checks a proof bundle (binary, starting with \"HMPB\", or its JSON form; '-' for\n"
        "standard input) against the chain id and validator set of a genesis file: the\n"
        "commit certificate of each block, each transaction's signature and inclusion in\n"
        "its block, each record's inclusion in its signed batch. Prints one line per step.\n"
        "Exit code 0 when everything verifies, 1 when a step fails (the line says why).\n"
        "docs/proofs.md specifies the bundle.",
    .opts = verify_opts,
    .positional_min = 1,
    .positional_max = 1,
};

typedef struct {
    bool quiet;
    json_t *steps; /* with --json */
} verify_out;

static void on_step(void *arg, const char *step, bool ok, const char *detail) {
    verify_out *out = arg;
    if (out->steps != NULL) {
        json_array_append_new(
            out->steps, json_pack("{s:s, s:b, s:s}", "step", step, "ok", ok, "detail", detail));
        return;
    }
    if (!out->quiet || !ok) {
        printf("%-4s %-12s %s\n", ok ? "ok" : "FAIL", step, detail);
    }
}

/* What an entry is, in words, when its record or body decodes as one of the
 * provenance types; NULL-safe on anything else. */
static void describe_entry(const ct_bundle_entry *e, uint32_t i, json_t *list) {
    ct_tx tx;
    size_t len = e->head_len + HM_SIG_LEN;
    uint8_t *hs = malloc(len);
    if (hs == NULL) {
        return;
    }
    memcpy(hs, e->head, e->head_len);
    memcpy(hs + e->head_len, e->sig.bytes, HM_SIG_LEN);
    char what[512];
    snprintf(what, sizeof what, "malformed transaction head");
    if (ct_tx_head_decode(hs, len, &tx) == HM_OK) {
        snprintf(what, sizeof what, "transaction of type %u", tx.type);
        if (e->kind == CT_BUNDLE_RECORD && tx.type == CT_TX_ITEM_REGISTER) {
            ct_item_record rec;
            if (ct_item_record_decode(e->record, e->record_len, &rec) == HM_OK) {
                snprintf(what, sizeof what, "registration of GTIN %s serial %s%s%s", rec.gtin,
                         rec.serial, rec.lot[0] ? " lot " : "", rec.lot);
            }
        } else if (e->kind == CT_BUNDLE_RECORD && tx.type == CT_TX_EVENT_RECORD) {
            ct_event_record *ev = malloc(sizeof *ev);
            if (ev != NULL && ct_event_record_decode(e->record, e->record_len, ev) == HM_OK) {
                snprintf(what, sizeof what, "EPCIS event %s", ev->biz_step);
            }
            free(ev);
        } else if (tx.type == CT_TX_RECALL) {
            snprintf(what, sizeof what, "recall");
        } else if (tx.type == CT_TX_CLAIM) {
            snprintf(what, sizeof what, "ownership claim");
        } else if (tx.type == CT_TX_CUSTODY_TRANSFER) {
            snprintf(what, sizeof what, "custody transfer");
        }
    }
    free(hs);
    if (list != NULL) {
        json_array_append_new(list, json_string(what));
    } else {
        printf("     entry %-6u %s\n", i, what);
    }
}

int cli_cmd_verify(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&verify_spec, argc, argv, &a, &rc)) {
        return rc;
    }
    const char *bundle_path = a.positional[0];
    const char *genesis_path = cli_arg(&a, "genesis");
    if (genesis_path == NULL) {
        genesis_path = getenv("HALLMARK_GENESIS");
    }
    if (genesis_path == NULL || genesis_path[0] == '\0') {
        return cli_usage_error(&verify_spec, "name the genesis file with --genesis FILE");
    }
    bool as_json = cli_flag(&a, "json");

    uint8_t *gtext = NULL;
    size_t glen = 0;
    if (cli_read_file(genesis_path, VERIFY_GENESIS_MAX, &gtext, &glen) != HM_OK) {
        return CLI_EXIT_IO;
    }
    char chain_id[HM_CHAIN_ID_MAX + 1];
    hm_validator_set vs;
    const char *why = NULL;
    hm_err err = ct_bundle_genesis_parse((const char *)gtext, glen, chain_id, &vs, &why);
    free(gtext);
    if (err != HM_OK) {
        cli_error("%s: %s", genesis_path, why);
        return CLI_EXIT_USAGE;
    }

    uint8_t *data = NULL;
    size_t len = 0;
    if (cli_read_file(bundle_path, VERIFY_BUNDLE_MAX, &data, &len) != HM_OK) {
        return CLI_EXIT_IO;
    }
    ct_bundle b;
    if (len >= 4 && memcmp(data, CT_BUNDLE_MAGIC, 4) == 0) {
        err = ct_bundle_decode(data, len, &b);
        why = err != HM_OK ? hm_err_message(err) : NULL;
    } else {
        json_error_t jerr;
        json_t *j = json_loadb((const char *)data, len, 0, &jerr);
        if (j == NULL) {
            err = HM_ERR_BAD_VALUE;
            why = "neither a binary bundle (HMPB…) nor JSON";
        } else {
            /* A node's JSON answer carries the bundle under "proof". */
            const json_t *inner = json_object_get(j, "proof");
            err = ct_bundle_from_json(inner != NULL ? inner : j, &b, &why);
            json_decref(j);
        }
    }
    free(data);
    if (err != HM_OK) {
        if (as_json) {
            json_t *o = json_pack("{s:b, s:s, s:s}", "verified", 0, "error", hm_err_name(err),
                                  "message", why != NULL ? why : "");
            char *text = json_dumps(o, JSON_INDENT(2));
            puts(text != NULL ? text : "{}");
            free(text);
            json_decref(o);
        } else {
            printf("FAIL %-12s %s (%s)\n", "decode", why != NULL ? why : "malformed bundle",
                   hm_err_name(err));
        }
        return CLI_EXIT_FAILED;
    }

    verify_out out = {.quiet = cli_flag(&a, "quiet"), .steps = as_json ? json_array() : NULL};
    json_t *described = as_json ? json_array() : NULL;
    if (!out.quiet) {
        if (!as_json) {
            printf("bundle: chain \"%s\", %u block(s), %u entr%s\n", b.chain_id, b.block_count,
                   b.entry_count, b.entry_count == 1 ? "y" : "ies");
        }
        for (uint32_t i = 0; i < b.entry_count; i++) {
            describe_entry(&b.entries[i], i, described);
        }
    }
    err = ct_bundle_verify(&b, chain_id, &vs, on_step, &out);
    ct_bundle_clear(&b);
    if (as_json) {
        json_t *o = json_pack("{s:b, s:o, s:o}", "verified", err == HM_OK, "entries",
                              described != NULL ? described : json_array(), "steps", out.steps);
        if (err != HM_OK) {
            json_object_set_new(o, "error", json_string(hm_err_name(err)));
        }
        char *text = json_dumps(o, JSON_INDENT(2));
        puts(text != NULL ? text : "{}");
        free(text);
        json_decref(o);
    } else {
        printf("%s\n", err == HM_OK ? "VERIFIED" : "NOT VERIFIED");
    }
    return err == HM_OK ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}
