/* cli/cmd_epcis.c — `hallmark epcis import FILE --key KEY`: a standard EPCIS
 * 2.0 JSON/JSON-LD document becomes signed EVENT_RECORD batch transactions,
 * submitted as txs or (--capture) through the node's standard EPCIS capture
 * endpoint with the member's signature over the tx the node rebuilds.
 *
 * Layer: cli/ (top). Parsing, the standard event hash ID, the record form and
 * the per-item chain come from contracts/epcis.c; the previous event of each
 * item comes from the node (or is zero for --offline). All-or-nothing per
 * document: one event Hallmark cannot store refuses the whole document before
 * anything is signed. Never prints a secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "ct.h"

#define IMPORT_BATCH_RECORDS 10000 /* records per tx (also the node's capture limit) */

typedef struct {
    const char *node;
    bool offline;
} prev_ctx;

/* The item's last event from the node's item route (zero when it has none;
 * not registered: HM_ERR_NOT_FOUND). Offline: zero. */
static hm_err node_prev(void *arg, const char *epc, uint8_t out[HM_HASH_LEN]) {
    const prev_ctx *p = arg;
    memset(out, 0, HM_HASH_LEN);
    ct_item_ref ref;
    if (p->offline || !ct_epc_item_parse(epc, &ref))
        return HM_OK;
    char path[256];
    snprintf(path, sizeof path, "/v1/prov/items/%s/%s", ref.gtin, ref.serial);
    int status = 0;
    char *resp = NULL;
    size_t len = 0;
    if (cli_http_request(p->node, "GET", path, NULL, NULL, 0, NULL, &status, &resp, &len,
                         CLI_HTTP_RESPONSE_MAX, CLI_HTTP_TIMEOUT_MS) != HM_OK)
        return HM_ERR_IO;
    json_t *j = status == 200 ? json_loadb(resp, len, 0, NULL) : NULL;
    free(resp);
    if (j == NULL)
        return status == 404 ? HM_ERR_NOT_FOUND : HM_ERR_IO;
    const char *h = json_string_value(json_object_get(j, "last_event"));
    hm_err err = h != NULL && hm_hex_decode(h, out, HM_HASH_LEN) == HM_OK ? HM_OK : HM_ERR_IO;
    json_decref(j);
    return err;
}

/* Sends the document to the node's EPCIS capture endpoint with the member's
 * signature over the one tx the node will build from it. */
static int capture(const char *node, const char *doc, size_t doc_len, const hm_keypair *kp,
                   uint64_t nonce, const ct_tx *tx) {
    char sig_hex[2 * HM_SIG_LEN + 1], key_hex[2 * HM_PUBKEY_LEN + 1];
    hm_hex_encode(tx->sig.bytes, HM_SIG_LEN, sig_hex);
    hm_hex_encode(kp->pub.bytes, HM_PUBKEY_LEN, key_hex);
    char headers[512];
    snprintf(headers, sizeof headers,
             "Hallmark-Signer: %s\r\nHallmark-Nonce: %llu\r\nHallmark-Signature: %s\r\n"
             "GS1-EPCIS-Version: 2.0.0\r\n",
             key_hex, (unsigned long long)nonce, sig_hex);
    int status = 0;
    char *resp = NULL;
    size_t len = 0;
    if (cli_http_request(node, "POST", "/epcis/capture", "application/ld+json",
                         (const uint8_t *)doc, doc_len, headers, &status, &resp, &len,
                         CLI_HTTP_RESPONSE_MAX, CLI_HTTP_TIMEOUT_MS) != HM_OK)
        return CLI_EXIT_NODE;
    printf("%s\n", resp ? resp : "");
    free(resp);
    if (status == 202)
        return CLI_EXIT_OK;
    return status >= 400 && status < 500 ? CLI_EXIT_FAILED : CLI_EXIT_NODE;
}

static int epcis_import(int argc, char **argv) {
    static const cli_opt opts[] = {
        {"key", "FILE", "the signing key file (the submitting member)"},
        {"genesis", "FILE", "genesis file for the chain id (default $HALLMARK_GENESIS)"},
        {"node", "URL", "node API base URL"},
        {"out", "PREFIX", "write the signed txs to PREFIX.1, PREFIX.2, ... instead"},
        {"offline", NULL, "do not ask the node for previous events (items' first events only)"},
        {"capture", NULL, "send the document to the node's /epcis/capture (one batch)"},
        {"dry-run", NULL, "only print each event's hash ID, or why the document is refused"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark epcis import FILE --key FILE [--out PREFIX] [--offline] [--capture] "
                 "[--dry-run]",
        .description = "Turns an EPCIS 2.0 JSON/JSON-LD document into signed batch "
                       "transactions of event records, each identified by its standard event "
                       "hash ID. All-or-nothing: an event Hallmark cannot store refuses the "
                       "document before anything is signed (docs/provenance.md lists the "
                       "unsupported cases).",
        .opts = opts,
        .positional_min = 1,
        .positional_max = 1,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    const char *path = a.positional[0];
    uint8_t *data = NULL;
    size_t len = 0;
    hm_err err = cli_read_file(path, CT_EPCIS_DOC_MAX, &data, &len);
    if (err != HM_OK)
        return cli_exit_for(err);
    ct_epcis_doc *d = NULL;
    char why[300];
    err = ct_epcis_doc_parse((const char *)data, len, &d, why, sizeof why);
    if (err != HM_OK) {
        free(data);
        cli_error("%s: refused: %s", path, why);
        return CLI_EXIT_FAILED;
    }
    size_t count = ct_epcis_doc_count(d);
    /* All-or-nothing: every event must convert before anything is signed. */
    ct_event_record *rec = calloc(1, sizeof *rec);
    rc = rec ? CLI_EXIT_OK : CLI_EXIT_IO;
    for (size_t i = 0; i < count && rc == CLI_EXIT_OK; i++) {
        if (ct_epcis_doc_record(d, i, rec, why, sizeof why) != HM_OK) {
            cli_error("%s: event %zu refused: %s", path, i, why);
            rc = CLI_EXIT_FAILED;
        }
    }
    free(rec);
    if (rc == CLI_EXIT_OK && cli_flag(&a, "dry-run")) {
        for (size_t i = 0; i < count; i++) {
            uint8_t h[HM_HASH_LEN];
            char id[CT_EPCIS_HASH_ID_LEN + 1];
            ct_epcis_doc_hash(d, i, h);
            ct_epcis_hash_id(h, id);
            printf("%s\n", id);
        }
    }
    if (rc != CLI_EXIT_OK || cli_flag(&a, "dry-run") || count == 0) {
        ct_epcis_doc_free(d);
        free(data);
        return rc;
    }
    bool to_capture = cli_flag(&a, "capture");
    if (to_capture && count > IMPORT_BATCH_RECORDS) {
        ct_epcis_doc_free(d);
        free(data);
        return cli_usage_error(&spec, "--capture takes at most %d events per document",
                               IMPORT_BATCH_RECORDS);
    }
    hm_keypair kp;
    char chain_id[HM_CHAIN_ID_MAX + 1];
    rc = cli_load_key_opt(&spec, &a, &kp);
    if (rc == CLI_EXIT_OK &&
        (err = cli_genesis_chain_id(cli_arg(&a, "genesis"), chain_id)) != HM_OK) {
        hm_keypair_wipe(&kp);
        rc = cli_exit_for(err);
    }
    if (rc != CLI_EXIT_OK) {
        ct_epcis_doc_free(d);
        free(data);
        return rc;
    }
    const char *node = cli_node_url(cli_arg(&a, "node"));
    const char *out = cli_arg(&a, "out");
    prev_ctx pc = {.node = node, .offline = cli_flag(&a, "offline") || out != NULL};
    size_t batches = 0;
    for (size_t first = 0; first < count && rc == CLI_EXIT_OK; first += IMPORT_BATCH_RECORDS) {
        size_t n = count - first < IMPORT_BATCH_RECORDS ? count - first : IMPORT_BATCH_RECORDS;
        uint8_t **recs = NULL;
        size_t *lens = NULL;
        err = ct_epcis_doc_records(d, first, n, node_prev, &pc, &recs, &lens, why, sizeof why);
        if (err != HM_OK) {
            cli_error("%s: refused: %s", path, why);
            rc = err == HM_ERR_IO ? CLI_EXIT_NODE : CLI_EXIT_FAILED;
            break;
        }
        uint64_t nonce = cli_random_nonce();
        hm_writer w;
        hm_writer_init_growable(&w, CT_TX_MAX);
        err = ct_tx_build(&w, CT_TX_EVENT_RECORD, &kp, chain_id, nonce, NULL, 0, true,
                          (const uint8_t *const *)recs, lens, (uint32_t)n);
        ct_epcis_records_free(recs, lens, n);
        batches++;
        if (err != HM_OK) {
            cli_error("cannot build batch %zu: %s", batches, hm_err_message(err));
            rc = cli_exit_for(err);
        } else if (to_capture) {
            ct_tx tx;
            rc = ct_tx_decode(w.buf, w.len, &tx) == HM_OK
                     ? capture(node, (const char *)data, len, &kp, nonce, &tx)
                     : CLI_EXIT_FAILED;
        } else if (out != NULL) {
            char file[1024];
            snprintf(file, sizeof file, "%s.%zu", out, batches);
            rc = cli_write_file(file, w.buf, w.len);
            if (rc == CLI_EXIT_OK)
                fprintf(stderr, "wrote %s (%zu events)\n", file, n);
        } else {
            rc = cli_submit_tx(node, w.buf, w.len);
        }
        hm_writer_free(&w);
    }
    hm_keypair_wipe(&kp);
    ct_epcis_doc_free(d);
    free(data);
    if (rc == CLI_EXIT_OK)
        fprintf(stderr, "%zu events in %zu batch(es)\n", count, batches);
    return rc;
}

int cli_cmd_epcis(int argc, char **argv) {
    static const cli_command sub[] = {
        {"import", "EPCIS 2.0 JSON/JSON-LD document -> signed event batches", epcis_import},
    };
    return cli_dispatch(sub, 1, "hallmark epcis <subcommand>", argc - 1, argv + 1);
}
