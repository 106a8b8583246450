/* cli/cmd_provenance.c — `hallmark member|prefix|product|item|event|custody|
 * recall|claim`: build, sign and submit the provenance transactions, and
 * show an item as the node sees it.
 *
 * Layer: cli/ (top). Encodes bodies with contracts/ (ct_provenance.h), signs
 * with lib/, talks to a node only over HTTP. Where a transaction needs state
 * (a product's hash, an item's last event) it asks the node, or takes the
 * value from an option for offline use with --out. Never keeps state between
 * runs and never prints a secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "ct.h"
#include "ct_gs1.h"

#define ITEMS_FILE_LINE_MAX 1024

/* ------------------------------------------------------------ common */

/* Encodes a body with enc into a growable writer and sends it. */
typedef hm_err (*body_encoder)(const void *body, hm_writer *w);

static int send_body(const cli_spec *spec, const cli_args *a, const hm_keypair *kp, uint32_t type,
                     body_encoder enc, const void *body) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    hm_err err = enc(body, &w);
    if (err != HM_OK) {
        hm_writer_free(&w);
        cli_error("cannot encode the body: %s", hm_err_message(err));
        return CLI_EXIT_USAGE;
    }
    int rc = cli_send_tx(spec, a, kp, type, w.buf, w.len, NULL, NULL, 0);
    hm_writer_free(&w);
    return rc;
}

static bool parse_key_hex(const char *text, uint8_t out[32]) {
    return text != NULL && strlen(text) == 64 && hm_hex_decode(text, out, 32) == HM_OK;
}

static bool parse_gtin(const char *text, char out[CT_GTIN_LEN + 1]) {
    return text != NULL && ct_gtin_normalize(text, out, NULL) == HM_OK;
}

/* GETs a node path and parses the JSON answer; NULL (after printing why)
 * unless the node answered 200 with JSON. */
static json_t *node_get_json(const cli_args *a, const char *path, int *status_out) {
    int status = 0;
    char *resp = NULL;
    size_t resp_len = 0;
    hm_err err =
        cli_http_request(cli_node_url(cli_arg(a, "node")), "GET", path, NULL, NULL, 0, NULL,
                         &status, &resp, &resp_len, CLI_HTTP_RESPONSE_MAX, CLI_HTTP_TIMEOUT_MS);
    if (status_out != NULL)
        *status_out = status;
    if (err != HM_OK)
        return NULL;
    json_t *j = json_loadb(resp, resp_len, 0, NULL);
    if (status != 200 || j == NULL) {
        cli_error("node answered %d for %s: %.300s", status, path, resp);
        json_decref(j);
        free(resp);
        return NULL;
    }
    free(resp);
    return j;
}

/* ------------------------------------------------------------ member */

static const cli_opt MEMBER_OPTS[] = {
    CLI_TX_OPTS,
    {"member", "HEX", "the member's public key (x-only, 64 hex digits)"},
    {"new-key", "HEX", "rotate: the new public key"},
    {"role", "ROLE", "add: brand, logistics, retailer, platform, mcn or auditor (repeat)"},
    {"name", "TEXT", "add: the member's name"},
    {NULL, NULL, NULL},
};

static int member_cmd(int argc, char **argv, uint32_t type) {
    static const cli_spec spec = {
        .usage = "hallmark member add|revoke|rotate --key FILE --member HEX [--role ROLE]... "
                 "[--name TEXT] [--new-key HEX] [--out FILE]",
        .description = "Admins add members with roles, revoke them, and rotate their keys; a "
                       "member may rotate its own key (sign with its current key).",
        .opts = MEMBER_OPTS,
        .positional_min = 0,
        .positional_max = 0,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    hm_pubkey member;
    if (!parse_key_hex(cli_arg(&a, "member"), member.bytes))
        return cli_usage_error(&spec, "--member must be 64 hex digits");
    hm_keypair kp;
    if ((rc = cli_load_key_opt(&spec, &a, &kp)) != CLI_EXIT_OK)
        return rc;
    if (type == CT_TX_MEMBER_ADD) {
        ct_member_add_body b;
        memset(&b, 0, sizeof b);
        b.key = member;
        size_t cursor = 0;
        const char *v;
        while ((v = cli_arg_next(&a, "role", &cursor)) != NULL) {
            uint32_t role;
            if (!ct_role_parse(v, &role) || role == CT_ROLE_ADMIN) {
                hm_keypair_wipe(&kp);
                return cli_usage_error(&spec, "unknown role %s", v);
            }
            b.roles |= role;
        }
        const char *name = cli_arg(&a, "name");
        if (b.roles == 0 || name == NULL || name[0] == '\0' || strlen(name) > CT_MEMBER_NAME_MAX) {
            hm_keypair_wipe(&kp);
            return cli_usage_error(&spec, "add needs --role and --name (1..%d bytes)",
                                   CT_MEMBER_NAME_MAX);
        }
        strcpy(b.name, name);
        rc = send_body(&spec, &a, &kp, type, (body_encoder)ct_member_add_encode, &b);
    } else if (type == CT_TX_MEMBER_REVOKE) {
        ct_member_revoke_body b = {.key = member};
        rc = send_body(&spec, &a, &kp, type, (body_encoder)ct_member_revoke_encode, &b);
    } else {
        ct_member_rotate_body b = {.old_key = member};
        if (!parse_key_hex(cli_arg(&a, "new-key"), b.new_key.bytes)) {
            hm_keypair_wipe(&kp);
            return cli_usage_error(&spec, "rotate needs --new-key HEX");
        }
        rc = send_body(&spec, &a, &kp, type, (body_encoder)ct_member_rotate_encode, &b);
    }
    hm_keypair_wipe(&kp);
    return rc;
}

static int member_add(int argc, char **argv) {
    return member_cmd(argc, argv, CT_TX_MEMBER_ADD);
}
static int member_revoke(int argc, char **argv) {
    return member_cmd(argc, argv, CT_TX_MEMBER_REVOKE);
}
static int member_rotate(int argc, char **argv) {
    return member_cmd(argc, argv, CT_TX_MEMBER_ROTATE);
}

int cli_cmd_member(int argc, char **argv) {
    static const cli_command sub[] = {
        {"add", "add a member with roles (admins)", member_add},
        {"revoke", "revoke a member's key (admins)", member_revoke},
        {"rotate", "move a member to a new key (admins, or the member itself)", member_rotate},
    };
    return cli_dispatch(sub, 3, "hallmark member <subcommand>", argc - 1, argv + 1);
}

/* ------------------------------------------------------------ prefix */

static int prefix_assign(int argc, char **argv) {
    static const cli_opt opts[] = {
        CLI_TX_OPTS,
        {"prefix", "DIGITS", "the GS1 company prefix (6-12 digits)"},
        {"brand", "HEX", "the brand's member id (the key it was first added with)"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark prefix assign --key FILE --prefix DIGITS --brand HEX [--out FILE]",
        .description = "An admin assigns a GS1 company prefix to a brand.",
        .opts = opts,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    ct_prefix_assign_body b;
    memset(&b, 0, sizeof b);
    const char *prefix = cli_arg(&a, "prefix");
    if (prefix == NULL || strlen(prefix) < CT_PREFIX_MIN || strlen(prefix) > CT_PREFIX_MAX ||
        strspn(prefix, "0123456789") != strlen(prefix))
        return cli_usage_error(&spec, "--prefix must be 6 to 12 digits");
    strcpy(b.prefix, prefix);
    if (!parse_key_hex(cli_arg(&a, "brand"), b.brand.bytes))
        return cli_usage_error(&spec, "--brand must be 64 hex digits");
    hm_keypair kp;
    if ((rc = cli_load_key_opt(&spec, &a, &kp)) != CLI_EXIT_OK)
        return rc;
    rc = send_body(&spec, &a, &kp, CT_TX_PREFIX_ASSIGN, (body_encoder)ct_prefix_assign_encode, &b);
    hm_keypair_wipe(&kp);
    return rc;
}

int cli_cmd_prefix(int argc, char **argv) {
    static const cli_command sub[] = {
        {"assign", "assign a GS1 company prefix to a brand (admins)", prefix_assign},
    };
    return cli_dispatch(sub, 1, "hallmark prefix <subcommand>", argc - 1, argv + 1);
}

/* ----------------------------------------------------------- product */

static int product_set(int argc, char **argv) {
    static const cli_opt opts[] = {
        CLI_TX_OPTS,
        {"gtin", "GTIN", "GTIN-8/12/13/14 with its check digit"},
        {"name", "TEXT", "product name"},
        {"description", "TEXT", "product description"},
        {"image", "URL", "product image URL"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark product set --key FILE --gtin GTIN --name TEXT [--description TEXT] "
                 "[--image URL] [--out FILE]",
        .description = "The brand owning the GTIN's prefix stores its product metadata; item "
                       "records bind its hash.",
        .opts = opts,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    ct_product_body *b = calloc(1, sizeof *b);
    if (b == NULL)
        return CLI_EXIT_IO;
    const char *name = cli_arg(&a, "name");
    const char *desc = cli_arg(&a, "description");
    const char *image = cli_arg(&a, "image");
    if (!parse_gtin(cli_arg(&a, "gtin"), b->gtin) || name == NULL ||
        strlen(name) > CT_PRODUCT_NAME_MAX || (desc && strlen(desc) > CT_PRODUCT_DESC_MAX) ||
        (image && strlen(image) > CT_PRODUCT_URL_MAX)) {
        free(b);
        return cli_usage_error(&spec, "need a valid --gtin and --name; texts within limits");
    }
    strcpy(b->name, name);
    strcpy(b->description, desc ? desc : "");
    strcpy(b->image_url, image ? image : "");
    hm_keypair kp;
    if ((rc = cli_load_key_opt(&spec, &a, &kp)) == CLI_EXIT_OK) {
        hm_writer w;
        hm_writer_init_growable(&w, CT_TX_BODY_MAX);
        if (ct_product_encode(b, &w) == HM_OK) {
            uint8_t h[HM_HASH_LEN];
            hm_sha256(w.buf, w.len, h);
            char hex[65];
            hm_hex_encode(h, 32, hex);
            fprintf(stderr, "product hash %s\n", hex);
        }
        hm_writer_free(&w);
        rc = send_body(&spec, &a, &kp, CT_TX_PRODUCT_SET, (body_encoder)ct_product_encode, b);
        hm_keypair_wipe(&kp);
    }
    free(b);
    return rc;
}

int cli_cmd_product(int argc, char **argv) {
    static const cli_command sub[] = {
        {"set", "store a GTIN's product metadata (its brand)", product_set},
    };
    return cli_dispatch(sub, 1, "hallmark product <subcommand>", argc - 1, argv + 1);
}

/* -------------------------------------------------------------- item */

/* The product hash of a GTIN: from --product-hash, else from the node. */
static bool product_hash_for(const cli_args *a, const char *gtin, uint8_t out[HM_HASH_LEN]) {
    const char *hex = cli_arg(a, "product-hash");
    if (hex != NULL)
        return hm_hex_decode(hex, out, HM_HASH_LEN) == HM_OK;
    char path[128];
    snprintf(path, sizeof path, "/v1/prov/products/%s", gtin);
    json_t *j = node_get_json(a, path, NULL);
    const char *h = json_string_value(json_object_get(j, "product_hash"));
    bool ok = h != NULL && hm_hex_decode(h, out, HM_HASH_LEN) == HM_OK;
    json_decref(j);
    if (!ok)
        cli_error("no product metadata for GTIN %s (set it first, or pass --product-hash)", gtin);
    return ok;
}

typedef struct {
    uint8_t **recs;
    size_t *lens;
    uint32_t n, cap;
} rec_list;

static void rec_list_free(rec_list *l) {
    for (uint32_t i = 0; i < l->n; i++)
        free(l->recs[i]);
    free(l->recs);
    free(l->lens);
    memset(l, 0, sizeof *l);
}

/* Validates and appends one item record; prints why not. */
static bool add_item(rec_list *l, const cli_args *a, const char *gtin_text, const char *serial,
                     const char *lot, const char *expiry, const char *code, size_t line) {
    ct_item_record r;
    memset(&r, 0, sizeof r);
    const char *why = NULL;
    if (ct_gtin_normalize(gtin_text, r.gtin, &why) != HM_OK ||
        ct_gs1_serial_check(serial, &why) != HM_OK ||
        (lot[0] && ct_gs1_serial_check(lot, &why) != HM_OK) ||
        (expiry[0] && (strlen(expiry) != 6 || strspn(expiry, "0123456789") != 6))) {
        cli_error("item %zu: %s", line, why ? why : "expiry must be YYMMDD");
        return false;
    }
    if (l->n == CT_BATCH_RECORDS_MAX) {
        cli_error("at most %d items in one batch", CT_BATCH_RECORDS_MAX);
        return false;
    }
    strcpy(r.serial, serial);
    strcpy(r.lot, lot);
    strcpy(r.expiry, expiry);
    /* One product lookup per GTIN run: batches usually share one GTIN. */
    static char last_gtin[CT_GTIN_LEN + 1];
    static uint8_t last_hash[HM_HASH_LEN];
    if (strcmp(last_gtin, r.gtin) != 0) {
        if (!product_hash_for(a, r.gtin, last_hash))
            return false;
        strcpy(last_gtin, r.gtin);
    }
    memcpy(r.product_hash, last_hash, HM_HASH_LEN);
    if (code != NULL && code[0] != '\0') {
        if (strlen(code) > CT_CLAIM_CODE_MAX) {
            cli_error("item %zu: claim code longer than %d bytes", line, CT_CLAIM_CODE_MAX);
            return false;
        }
        r.has_code = true;
        hm_sha256((const uint8_t *)code, strlen(code), r.code_hash);
    }
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? 2 * l->cap : 64;
        uint8_t **recs = realloc(l->recs, cap * sizeof *recs);
        size_t *lens = recs ? realloc(l->lens, cap * sizeof *lens) : NULL;
        if (recs == NULL || lens == NULL) {
            if (recs != NULL)
                l->recs = recs;
            cli_error("out of memory");
            return false;
        }
        l->recs = recs;
        l->lens = lens;
        l->cap = cap;
    }
    hm_writer w;
    hm_writer_init_growable(&w, CT_RECORD_MAX);
    if (ct_item_record_encode(&r, &w) != HM_OK) {
        hm_writer_free(&w);
        cli_error("item %zu: cannot encode", line);
        return false;
    }
    l->recs[l->n] = hm_writer_take(&w, &l->lens[l->n]);
    l->n++;
    return true;
}

/* CSV lines "gtin,serial[,lot[,expiry[,code]]]" (a header line starting
 * with "gtin" is skipped), or a JSON array of objects with those keys. */
static bool load_items_file(rec_list *l, const cli_args *a, const char *path) {
    uint8_t *data = NULL;
    size_t len = 0;
    if (cli_read_file(path, CLI_FILE_MAX, &data, &len) != HM_OK)
        return false;
    bool ok = true;
    const char *text = (const char *)data;
    size_t skip = strspn(text, " \t\r\n");
    if (text[skip] == '[') {
        json_error_t jerr;
        json_t *arr = json_loadb(text, len, 0, &jerr);
        if (!json_is_array(arr)) {
            cli_error("%s: not a JSON array of items: %s", path, jerr.text);
            ok = false;
        }
        size_t i;
        json_t *it;
        json_array_foreach(arr, i, it) {
            if (!ok)
                break;
            const char *g = json_string_value(json_object_get(it, "gtin"));
            const char *s = json_string_value(json_object_get(it, "serial"));
            const char *lot = json_string_value(json_object_get(it, "lot"));
            const char *exp = json_string_value(json_object_get(it, "expiry"));
            const char *code = json_string_value(json_object_get(it, "code"));
            if (g == NULL || s == NULL) {
                cli_error("item %zu: needs \"gtin\" and \"serial\"", i);
                ok = false;
                break;
            }
            ok = add_item(l, a, g, s, lot ? lot : "", exp ? exp : "", code, i);
        }
        json_decref(arr);
    } else {
        size_t line_no = 0;
        char *save = NULL;
        for (char *line = strtok_r((char *)data, "\n", &save); ok && line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            line_no++;
            line[strcspn(line, "\r")] = '\0';
            if (line[0] == '\0' || (line_no == 1 && strncmp(line, "gtin", 4) == 0))
                continue;
            if (strlen(line) > ITEMS_FILE_LINE_MAX) {
                cli_error("%s:%zu: line too long", path, line_no);
                ok = false;
                break;
            }
            char *f[5] = {"", "", "", "", ""};
            size_t nf = 0;
            char *p = line;
            while (nf < 5) {
                f[nf++] = p;
                char *comma = strchr(p, ',');
                if (comma == NULL)
                    break;
                *comma = '\0';
                p = comma + 1;
            }
            if (nf < 2) {
                cli_error("%s:%zu: want gtin,serial[,lot[,expiry[,code]]]", path, line_no);
                ok = false;
                break;
            }
            ok = add_item(l, a, f[0], f[1], f[2], f[3], f[4], line_no);
        }
    }
    free(data);
    return ok;
}

static int item_register(int argc, char **argv) {
    static const cli_opt opts[] = {
        CLI_TX_OPTS,
        {"gtin", "GTIN", "one item: its GTIN"},
        {"serial", "TEXT", "one item: its serial (GS1 AI 21)"},
        {"lot", "TEXT", "one item: its lot (AI 10)"},
        {"expiry", "YYMMDD", "one item: its expiry date (AI 17)"},
        {"code", "TEXT", "one item: the hidden claim code printed under the label"},
        {"file", "FILE", "many items as one batch: CSV gtin,serial,lot,expiry,code or JSON"},
        {"product-hash", "HEX", "offline: the product hash (else asked from the node)"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark item register --key FILE (--gtin G --serial S [--lot L] [--expiry "
                 "YYMMDD] [--code C] | --file FILE) [--out FILE]",
        .description = "Registers one item, or up to 100,000 items from a file as one signed "
                       "batch under the Merkle root of their records.",
        .opts = opts,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    rec_list l = {0};
    bool ok;
    const char *file = cli_arg(&a, "file");
    if (file != NULL) {
        ok = load_items_file(&l, &a, file);
    } else {
        const char *g = cli_arg(&a, "gtin"), *s = cli_arg(&a, "serial");
        if (g == NULL || s == NULL)
            return cli_usage_error(&spec, "give --gtin and --serial, or --file");
        const char *lot = cli_arg(&a, "lot"), *exp = cli_arg(&a, "expiry");
        ok = add_item(&l, &a, g, s, lot ? lot : "", exp ? exp : "", cli_arg(&a, "code"), 1);
    }
    if (!ok || l.n == 0) {
        rec_list_free(&l);
        return ok ? cli_usage_error(&spec, "no items") : CLI_EXIT_USAGE;
    }
    hm_keypair kp;
    if ((rc = cli_load_key_opt(&spec, &a, &kp)) == CLI_EXIT_OK) {
        fprintf(stderr, "registering %u item(s) in one batch\n", l.n);
        rc = cli_send_tx(&spec, &a, &kp, CT_TX_ITEM_REGISTER, NULL, 0,
                         (const uint8_t *const *)l.recs, l.lens, l.n);
        hm_keypair_wipe(&kp);
    }
    rec_list_free(&l);
    return rc;
}

static int item_show(int argc, char **argv) {
    static const cli_opt opts[] = {
        {"node", "URL", "node API base URL"},
        {"gtin", "GTIN", "the item's GTIN"},
        {"serial", "TEXT", "the item's serial"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark item show --gtin GTIN --serial TEXT [--node URL]",
        .description = "Prints the item's status, custodian, registration with its proof, and "
                       "event history as the node's JSON.",
        .opts = opts,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    char gtin[CT_GTIN_LEN + 1];
    const char *serial = cli_arg(&a, "serial");
    if (!parse_gtin(cli_arg(&a, "gtin"), gtin) || serial == NULL ||
        ct_gs1_serial_check(serial, NULL) != HM_OK)
        return cli_usage_error(&spec, "need a valid --gtin and --serial");
    char path[256];
    snprintf(path, sizeof path, "/v1/prov/items/%s/%s", gtin, serial);
    int status = 0;
    json_t *j = node_get_json(&a, path, &status);
    if (j == NULL)
        return status == 404 ? CLI_EXIT_FAILED : CLI_EXIT_NODE;
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
    json_decref(j);
    return CLI_EXIT_OK;
}

int cli_cmd_item(int argc, char **argv) {
    static const cli_command sub[] = {
        {"register", "register one item, or a CSV/JSON file of many as one batch", item_register},
        {"show", "an item's status, custodian, registration proof and history", item_show},
    };
    return cli_dispatch(sub, 2, "hallmark item <subcommand>", argc - 1, argv + 1);
}

/* ------------------------------------------------------------- event */

/* The last event hash of an item EPC, from --prev or the node. */
static bool prev_hash_for(const cli_args *a, const char *epc, uint8_t out[HM_HASH_LEN]) {
    memset(out, 0, HM_HASH_LEN);
    ct_item_ref ref;
    if (!ct_epc_item_parse(epc, &ref))
        return true; /* not an item: no chain */
    const char *hex = cli_arg(a, "prev");
    if (hex != NULL)
        return hm_hex_decode(hex, out, HM_HASH_LEN) == HM_OK;
    char path[256];
    snprintf(path, sizeof path, "/v1/prov/items/%s/%s", ref.gtin, ref.serial);
    json_t *j = node_get_json(a, path, NULL);
    if (j == NULL)
        return false;
    const char *last = json_string_value(json_object_get(j, "last_event"));
    bool ok = last != NULL && hm_hex_decode(last, out, HM_HASH_LEN) == HM_OK;
    json_decref(j);
    return ok;
}

static int event_record(int argc, char **argv) {
    static const cli_opt opts[] = {
        CLI_TX_OPTS,
        {"type", "TYPE", "ObjectEvent (default), AggregationEvent or TransactionEvent"},
        {"action", "ACTION", "ADD, OBSERVE (default) or DELETE"},
        {"epc", "URI", "an EPC (item DL URI or EPC URN); repeat"},
        {"parent", "URI", "AggregationEvent: the container"},
        {"biz-step", "STEP", "CBV bizStep, e.g. shipping"},
        {"disposition", "DISP", "CBV disposition, e.g. in_transit"},
        {"read-point", "URI", "readPoint id"},
        {"biz-location", "URI", "bizLocation id"},
        {"time", "DATETIME", "eventTime with offset (default: now, UTC)"},
        {"tz", "+hh:mm", "eventTimeZoneOffset (default +00:00)"},
        {"prev", "HEX", "offline: the previous event hash of the (single) item"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark event record --key FILE --epc URI... [--type T] [--action A] "
                 "[--biz-step S] [--disposition D] [--read-point URI] [--parent URI] [--out FILE]",
        .description = "Builds one EPCIS 2.0 event, computes its standard hash ID, chains it to "
                       "each item's previous event and records it.",
        .opts = opts,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    const char *type = cli_arg(&a, "type") ? cli_arg(&a, "type") : "ObjectEvent";
    bool aggregation = strcmp(type, "AggregationEvent") == 0;
    char now[64];
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%S.000Z", &tmv);
    json_t *ev = json_object();
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "eventTime",
                        json_string(cli_arg(&a, "time") ? cli_arg(&a, "time") : now));
    json_object_set_new(ev, "eventTimeZoneOffset",
                        json_string(cli_arg(&a, "tz") ? cli_arg(&a, "tz") : "+00:00"));
    json_object_set_new(ev, "action",
                        json_string(cli_arg(&a, "action") ? cli_arg(&a, "action") : "OBSERVE"));
    json_t *epcs = json_array();
    size_t cursor = 0;
    const char *v;
    while ((v = cli_arg_next(&a, "epc", &cursor)) != NULL)
        json_array_append_new(epcs, json_string(v));
    json_object_set_new(ev, aggregation ? "childEPCs" : "epcList", epcs);
    if (cli_arg(&a, "parent"))
        json_object_set_new(ev, "parentID", json_string(cli_arg(&a, "parent")));
    if (cli_arg(&a, "biz-step"))
        json_object_set_new(ev, "bizStep", json_string(cli_arg(&a, "biz-step")));
    if (cli_arg(&a, "disposition"))
        json_object_set_new(ev, "disposition", json_string(cli_arg(&a, "disposition")));
    if (cli_arg(&a, "read-point")) {
        json_t *rp = json_object();
        json_object_set_new(rp, "id", json_string(cli_arg(&a, "read-point")));
        json_object_set_new(ev, "readPoint", rp);
    }
    if (cli_arg(&a, "biz-location")) {
        json_t *bl = json_object();
        json_object_set_new(bl, "id", json_string(cli_arg(&a, "biz-location")));
        json_object_set_new(ev, "bizLocation", bl);
    }
    json_t *doc = json_pack("{s:s, s:s, s:{s:[o]}}", "type", "EPCISDocument", "schemaVersion",
                            "2.0", "epcisBody", "eventList", ev);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    ct_epcis_doc *d = NULL;
    char why[256];
    hm_err err = text ? ct_epcis_doc_parse(text, strlen(text), &d, why, sizeof why) : HM_ERR_NOMEM;
    free(text);
    if (err != HM_OK)
        return cli_usage_error(&spec, "not a valid event: %s", why);
    ct_event_record *rec = calloc(1, sizeof *rec);
    if (rec == NULL || ct_epcis_doc_record(d, 0, rec, why, sizeof why) != HM_OK) {
        free(rec);
        ct_epcis_doc_free(d);
        return cli_usage_error(&spec, "cannot record this event: %s", why);
    }
    char id[CT_EPCIS_HASH_ID_LEN + 1];
    ct_epcis_hash_id(rec->event_hash, id);
    ct_epcis_doc_free(d);
    for (uint32_t i = 0; i < rec->epc_count; i++) {
        if (!prev_hash_for(&a, rec->epcs[i].epc, rec->epcs[i].prev_hash)) {
            cli_error("cannot find the previous event of %s (is it registered?)", rec->epcs[i].epc);
            free(rec);
            return CLI_EXIT_NODE;
        }
    }
    hm_writer w;
    hm_writer_init_growable(&w, CT_RECORD_MAX);
    err = ct_event_record_encode(rec, &w);
    free(rec);
    if (err != HM_OK) {
        hm_writer_free(&w);
        cli_error("cannot encode the event record: %s", hm_err_message(err));
        return CLI_EXIT_USAGE;
    }
    hm_keypair kp;
    if ((rc = cli_load_key_opt(&spec, &a, &kp)) == CLI_EXIT_OK) {
        fprintf(stderr, "event %s\n", id);
        const uint8_t *recs[1] = {w.buf};
        size_t lens[1] = {w.len};
        rc = cli_send_tx(&spec, &a, &kp, CT_TX_EVENT_RECORD, NULL, 0, recs, lens, 1);
        hm_keypair_wipe(&kp);
    }
    hm_writer_free(&w);
    return rc;
}

int cli_cmd_event(int argc, char **argv) {
    static const cli_command sub[] = {
        {"record", "record one EPCIS event (chained to each item's last event)", event_record},
    };
    return cli_dispatch(sub, 1, "hallmark event <subcommand>", argc - 1, argv + 1);
}

/* ------------------------------------------------- custody, recall, claim */

/* Parses repeated --item GTIN/SERIAL into refs. */
static bool parse_items(const cli_args *a, ct_item_ref *items, uint32_t *count) {
    size_t cursor = 0;
    const char *v;
    *count = 0;
    while ((v = cli_arg_next(a, "item", &cursor)) != NULL) {
        const char *slash = strchr(v, '/');
        if (slash == NULL || *count == CT_ITEMS_PER_TX_MAX || (size_t)(slash - v) > 14)
            return false;
        char g[16];
        memcpy(g, v, (size_t)(slash - v));
        g[slash - v] = '\0';
        if (!parse_gtin(g, items[*count].gtin) || strlen(slash + 1) > CT_SERIAL_MAX ||
            ct_gs1_serial_check(slash + 1, NULL) != HM_OK)
            return false;
        strcpy(items[*count].serial, slash + 1);
        (*count)++;
    }
    return *count > 0;
}

static int custody_transfer(int argc, char **argv) {
    static const cli_opt opts[] = {
        CLI_TX_OPTS,
        {"to", "HEX", "the receiving member's id"},
        {"item", "GTIN/SERIAL", "an item (repeat, up to 1000)"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark custody transfer --key FILE --to HEX --item GTIN/SERIAL... [--out FILE]",
        .description = "The current custodian hands items to a brand, logistics or retailer "
                       "member.",
        .opts = opts,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    ct_custody_body *b = calloc(1, sizeof *b);
    if (b == NULL)
        return CLI_EXIT_IO;
    if (!parse_key_hex(cli_arg(&a, "to"), b->to.bytes) ||
        !parse_items(&a, b->items, &b->item_count)) {
        free(b);
        return cli_usage_error(&spec, "need --to HEX and at least one valid --item GTIN/SERIAL");
    }
    hm_keypair kp;
    if ((rc = cli_load_key_opt(&spec, &a, &kp)) == CLI_EXIT_OK) {
        rc = send_body(&spec, &a, &kp, CT_TX_CUSTODY_TRANSFER, (body_encoder)ct_custody_encode, b);
        hm_keypair_wipe(&kp);
    }
    free(b);
    return rc;
}

int cli_cmd_custody(int argc, char **argv) {
    static const cli_command sub[] = {
        {"transfer", "hand items to another member (their custodian)", custody_transfer},
    };
    return cli_dispatch(sub, 1, "hallmark custody <subcommand>", argc - 1, argv + 1);
}

int cli_cmd_recall(int argc, char **argv) {
    static const cli_opt opts[] = {
        CLI_TX_OPTS,
        {"gtin", "GTIN", "recall a lot of this GTIN (with --lot)"},
        {"lot", "TEXT", "the lot"},
        {"item", "GTIN/SERIAL", "recall these items instead (repeat)"},
        {"reason", "TEXT", "why (shown on lookups)"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark recall --key FILE (--gtin GTIN --lot LOT | --item GTIN/SERIAL...) "
                 "--reason TEXT [--out FILE]",
        .description = "The brand recalls a GTIN's lot, or a list of its items.",
        .opts = opts,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    ct_recall_body *b = calloc(1, sizeof *b);
    if (b == NULL)
        return CLI_EXIT_IO;
    const char *reason = cli_arg(&a, "reason");
    const char *lot = cli_arg(&a, "lot");
    bool ok = reason != NULL && strlen(reason) <= CT_RECALL_REASON_MAX;
    if (ok && cli_arg(&a, "item") != NULL) {
        b->mode = CT_RECALL_ITEMS;
        ok = parse_items(&a, b->items, &b->item_count);
    } else if (ok) {
        b->mode = CT_RECALL_LOT;
        ok = parse_gtin(cli_arg(&a, "gtin"), b->gtin) && lot != NULL &&
             ct_gs1_serial_check(lot, NULL) == HM_OK;
        if (ok)
            strcpy(b->lot, lot);
    }
    if (!ok) {
        free(b);
        return cli_usage_error(&spec, "need --reason and either --gtin with --lot, or --item");
    }
    strcpy(b->reason, reason);
    hm_keypair kp;
    if ((rc = cli_load_key_opt(&spec, &a, &kp)) == CLI_EXIT_OK) {
        rc = send_body(&spec, &a, &kp, CT_TX_RECALL, (body_encoder)ct_recall_encode, b);
        hm_keypair_wipe(&kp);
    }
    free(b);
    return rc;
}

int cli_cmd_claim(int argc, char **argv) {
    static const cli_opt opts[] = {
        {"genesis", "FILE", "genesis file for the chain id"},
        {"node", "URL", "node API base URL"},
        {"out", "FILE", "write the tx to FILE instead of submitting it"},
        {"nonce", "N", "unused: claims are keyless"},
        {"gtin", "GTIN", "the item's GTIN"},
        {"serial", "TEXT", "the item's serial"},
        {"code", "TEXT", "the hidden code printed under the label"},
        {NULL, NULL, NULL},
    };
    static const cli_spec spec = {
        .usage = "hallmark claim --gtin GTIN --serial TEXT --code TEXT [--out FILE]",
        .description = "Claims ownership of an item by revealing its hidden code. No key: "
                       "knowing the code is the authorisation. Only the first claim succeeds.",
        .opts = opts,
    };
    cli_args a;
    int rc;
    if (!cli_parse(&spec, argc, argv, &a, &rc))
        return rc;
    ct_claim_body b;
    memset(&b, 0, sizeof b);
    const char *serial = cli_arg(&a, "serial");
    const char *code = cli_arg(&a, "code");
    if (!parse_gtin(cli_arg(&a, "gtin"), b.item.gtin) || serial == NULL ||
        ct_gs1_serial_check(serial, NULL) != HM_OK || code == NULL || code[0] == '\0' ||
        strlen(code) > CT_CLAIM_CODE_MAX)
        return cli_usage_error(&spec, "need --gtin, --serial and --code (1..%d bytes)",
                               CT_CLAIM_CODE_MAX);
    strcpy(b.item.serial, serial);
    b.code_len = strlen(code);
    memcpy(b.code, code, b.code_len);
    return send_body(&spec, &a, NULL, CT_TX_CLAIM, (body_encoder)ct_claim_encode, &b);
}
