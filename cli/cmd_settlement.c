/* cli/cmd_settlement.c — `hallmark split create|amend|show|id`, `sale record`
 * (one sale, or a CSV of many as one batch tx), `refund`, `payout`, `balance`
 * and `statement`: settlement from the shell.
 *
 * Layer: cli/ (top). Builds and signs transactions with the encoders of
 * contracts/ct_settlement.h and submits them to a node; reads go to the
 * node's API as requests signed by the member's key (docs/settlement.md,
 * "Signed reads"). Never prints a secret key; wipes every keypair it loads;
 * never trusts a CSV line it has not bounded and validated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cli.h"
#include "ct.h"

#define CSV_LINE_MAX 1024

/* ------------------------------------------------------------ common */

#define TERMS_OPTS                                                                                 \
    {"currency", "CODE", "ISO 4217 currency code, e.g. CNY"},                                      \
        {"window-ms", "MS", "return window in milliseconds (default 7 days)"},                     \
        {"share", "RECIPIENT=BPS", "a share in basis points (repeat; they sum to 10000)"}, {       \
        "fee", "RECIPIENT=AMOUNT", "a fixed fee per sale in minor units, taken first (repeat)"     \
    }

#define DEFAULT_WINDOW_MS (7ull * 24 * 3600 * 1000)

/* Parses "KEY" (an account) or "split:ID" (a contract). */
static bool parse_party(const char *text, size_t text_len, ct_party *out) {
    char hex[2 * 32 + 1];
    const char *id = text;
    size_t id_len = text_len;
    out->kind = CT_PARTY_ACCOUNT;
    if (text_len > 6 && strncmp(text, "split:", 6) == 0) {
        out->kind = CT_PARTY_SPLIT;
        id += 6;
        id_len -= 6;
    }
    if (id_len != 64)
        return false;
    memcpy(hex, id, 64);
    hex[64] = '\0';
    return hm_hex_decode(hex, out->id, 32) == HM_OK;
}

/* Parses "RECIPIENT=NUMBER". */
static bool parse_assignment(const char *text, uint64_t max, ct_party *party, uint64_t *value) {
    const char *eq = strrchr(text, '=');
    if (eq == NULL)
        return false;
    return parse_party(text, (size_t)(eq - text), party) && cli_parse_u64(eq + 1, max, value);
}

static int parse_terms(const cli_spec *spec, const cli_args *a, ct_split_terms *t) {
    memset(t, 0, sizeof *t);
    const char *currency = cli_arg(a, "currency");
    if (currency == NULL || !ct_currency_is_valid(currency))
        return cli_usage_error(spec, "--currency must be an ISO 4217 code such as CNY");
    memcpy(t->currency, currency, CT_CURRENCY_LEN + 1);
    t->return_window_ms = DEFAULT_WINDOW_MS;
    const char *window = cli_arg(a, "window-ms");
    if (window != NULL && !cli_parse_u64(window, CT_RETURN_WINDOW_MAX_MS, &t->return_window_ms))
        return cli_usage_error(spec, "--window-ms must be 0..%llu",
                               (unsigned long long)CT_RETURN_WINDOW_MAX_MS);
    size_t cursor = 0;
    const char *v;
    while ((v = cli_arg_next(a, "share", &cursor)) != NULL) {
        if (t->share_count == CT_SPLIT_SHARES_MAX)
            return cli_usage_error(spec, "at most %d --share", CT_SPLIT_SHARES_MAX);
        uint64_t bps;
        ct_split_share *s = &t->shares[t->share_count];
        if (!parse_assignment(v, CT_BPS_TOTAL, &s->to, &bps))
            return cli_usage_error(spec, "--share %s: want KEY=BPS or split:ID=BPS", v);
        s->share_bps = (uint32_t)bps;
        t->share_count++;
    }
    cursor = 0;
    while ((v = cli_arg_next(a, "fee", &cursor)) != NULL) {
        if (t->fee_count == CT_SPLIT_FEES_MAX)
            return cli_usage_error(spec, "at most %d --fee", CT_SPLIT_FEES_MAX);
        ct_split_fee *f = &t->fees[t->fee_count];
        if (!parse_assignment(v, CT_AMOUNT_MAX, &f->to, &f->amount))
            return cli_usage_error(spec, "--fee %s: want KEY=AMOUNT or split:ID=AMOUNT", v);
        t->fee_count++;
    }
    uint32_t rule;
    if (!ct_split_terms_are_valid(t, &rule))
        return cli_usage_error(spec,
                               "the terms break settlement rule %u (shares must sum to "
                               "10000, 1..32 shares, fees above 0)",
                               rule);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ split */

static const cli_opt split_create_opts[] = {
    CLI_TX_OPTS,
    TERMS_OPTS,
    {"name", "NAME", "the contract's name (unique per creator; 1..64 characters)"},
    {NULL, NULL, NULL},
};
static const cli_spec split_create_spec = {
    .usage = "hallmark split create --key FILE --name NAME --currency CODE [--window-ms MS]\n"
             "                             --share RECIPIENT=BPS... [--fee RECIPIENT=AMOUNT...]",
    .description = "Creates a split contract. RECIPIENT is an account key (64 hex) or\n"
                   "split:ID for a nested contract. Prints the contract id, then the node's\n"
                   "answer. The id is tagged_hash(\"hallmark/split\", creator || name).",
    .opts = split_create_opts,
    .positional_min = 0,
    .positional_max = 0,
};

static int cmd_split_create(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&split_create_spec, argc, argv, &a, &rc))
        return rc;
    ct_split_create_body *b = calloc(1, sizeof *b);
    if (b == NULL)
        return CLI_EXIT_IO;
    const char *name = cli_arg(&a, "name");
    if (name == NULL || strlen(name) == 0 || strlen(name) > CT_SPLIT_NAME_MAX) {
        free(b);
        return cli_usage_error(&split_create_spec, "--name NAME (1..64 characters) is required");
    }
    snprintf(b->name, sizeof b->name, "%s", name);
    rc = parse_terms(&split_create_spec, &a, &b->terms);
    hm_keypair kp;
    if (rc == CLI_EXIT_OK)
        rc = cli_load_key_opt(&split_create_spec, &a, &kp);
    if (rc != CLI_EXIT_OK) {
        free(b);
        return rc;
    }
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    hm_err err = ct_split_create_encode(b, &w);
    if (err == HM_OK) {
        uint8_t id[32];
        ct_split_id(&kp.pub, b->name, id);
        char hex[65];
        hm_hex_encode(id, 32, hex);
        printf("contract %s\n", hex);
        fflush(stdout);
        rc = cli_send_tx(&split_create_spec, &a, &kp, CT_TX_SPLIT_CREATE, w.buf, w.len, NULL, NULL,
                         0);
    } else {
        cli_error("cannot encode the contract: %s", hm_err_message(err));
        rc = CLI_EXIT_USAGE;
    }
    hm_writer_free(&w);
    hm_keypair_wipe(&kp);
    free(b);
    return rc;
}

static const cli_opt split_amend_opts[] = {
    CLI_TX_OPTS,
    TERMS_OPTS,
    {"contract", "ID", "the contract id (64 hex)"},
    {"from-height", "H", "the first block height the new version applies to"},
    {NULL, NULL, NULL},
};
static const cli_spec split_amend_spec = {
    .usage = "hallmark split amend --key FILE --contract ID --from-height H --currency CODE\n"
             "                            --share RECIPIENT=BPS... [--fee ...] [--window-ms MS]",
    .description = "Adds a version of a contract you created, in force from height H. Sales\n"
                   "settle under the version in force at their block's height.",
    .opts = split_amend_opts,
    .positional_min = 0,
    .positional_max = 0,
};

static int cmd_split_amend(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&split_amend_spec, argc, argv, &a, &rc))
        return rc;
    ct_split_amend_body *b = calloc(1, sizeof *b);
    if (b == NULL)
        return CLI_EXIT_IO;
    const char *id = cli_arg(&a, "contract");
    const char *from = cli_arg(&a, "from-height");
    if (id == NULL || hm_hex_decode(id, b->contract_id, 32) != HM_OK) {
        free(b);
        return cli_usage_error(&split_amend_spec, "--contract ID (64 hex digits) is required");
    }
    if (from == NULL || !cli_parse_u64(from, UINT64_MAX, &b->from_height)) {
        free(b);
        return cli_usage_error(&split_amend_spec, "--from-height H is required");
    }
    rc = parse_terms(&split_amend_spec, &a, &b->terms);
    hm_keypair kp;
    if (rc == CLI_EXIT_OK)
        rc = cli_load_key_opt(&split_amend_spec, &a, &kp);
    if (rc != CLI_EXIT_OK) {
        free(b);
        return rc;
    }
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    hm_err err = ct_split_amend_encode(b, &w);
    if (err == HM_OK) {
        rc =
            cli_send_tx(&split_amend_spec, &a, &kp, CT_TX_SPLIT_AMEND, w.buf, w.len, NULL, NULL, 0);
    } else {
        cli_error("cannot encode the amendment: %s", hm_err_message(err));
        rc = CLI_EXIT_USAGE;
    }
    hm_writer_free(&w);
    hm_keypair_wipe(&kp);
    free(b);
    return rc;
}

static const cli_opt split_id_opts[] = {
    {"creator", "KEY", "the creator's public key (64 hex)"},
    {"name", "NAME", "the contract's name"},
    {NULL, NULL, NULL},
};
static const cli_spec split_id_spec = {
    .usage = "hallmark split id --creator KEY --name NAME",
    .description = "Prints the id of the contract NAME created by KEY (no node needed).",
    .opts = split_id_opts,
    .positional_min = 0,
    .positional_max = 0,
};

static int cmd_split_id(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&split_id_spec, argc, argv, &a, &rc))
        return rc;
    const char *creator = cli_arg(&a, "creator");
    const char *name = cli_arg(&a, "name");
    hm_pubkey pub;
    if (creator == NULL || hm_hex_decode(creator, pub.bytes, 32) != HM_OK)
        return cli_usage_error(&split_id_spec, "--creator KEY (64 hex digits) is required");
    if (name == NULL || strlen(name) == 0 || strlen(name) > CT_SPLIT_NAME_MAX)
        return cli_usage_error(&split_id_spec, "--name NAME (1..64 characters) is required");
    uint8_t id[32];
    ct_split_id(&pub, name, id);
    cli_print_hex(id, 32);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ signed reads */

#define READ_OPTS                                                                                  \
    {"key", "FILE", "the key that signs the request (the account's owner, an admin or auditor)"},  \
        {"genesis", "FILE", "genesis file for the chain id (default $HALLMARK_GENESIS)"}, {        \
        "node", "URL", "node API base URL (default $HALLMARK_NODE or " CLI_NODE_URL_DEFAULT ")"    \
    }

static uint64_t wall_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* GETs path?query signed by kp; prints the body on stdout for 2xx. */
static int signed_get(const cli_args *a, const hm_keypair *kp, const char *path, const char *query,
                      const char *accept) {
    char chain_id[HM_CHAIN_ID_MAX + 1];
    hm_err err = cli_genesis_chain_id(cli_arg(a, "genesis"), chain_id);
    if (err != HM_OK)
        return cli_exit_for(err);
    uint64_t now_ms = wall_clock_ms();
    hm_sig sig;
    err = ct_request_sign(kp, chain_id, "GET", path, query, now_ms, NULL, 0, &sig);
    if (err != HM_OK) {
        cli_error("cannot sign the request: %s", hm_err_message(err));
        return cli_exit_for(err);
    }
    char key_hex[65], sig_hex[129];
    hm_hex_encode(kp->pub.bytes, 32, key_hex);
    hm_hex_encode(sig.bytes, 64, sig_hex);
    char headers[512];
    snprintf(headers, sizeof headers,
             "X-Hallmark-Key: %s\r\nX-Hallmark-Time: %llu\r\nX-Hallmark-Signature: %s\r\n"
             "Accept: %s\r\n",
             key_hex, (unsigned long long)now_ms, sig_hex, accept);
    char target[CT_REQUEST_PATH_MAX + CT_REQUEST_QUERY_MAX + 2];
    snprintf(target, sizeof target, "%s%s%s", path, query[0] ? "?" : "", query);
    int status = 0;
    char *answer = NULL;
    size_t answer_len = 0;
    const char *node = cli_node_url(cli_arg(a, "node"));
    err = cli_http_request(node, "GET", target, NULL, NULL, 0, headers, &status, &answer,
                           &answer_len, CLI_HTTP_RESPONSE_MAX, CLI_HTTP_TIMEOUT_MS);
    if (err != HM_OK) {
        cli_error("could not reach %s", node);
        return CLI_EXIT_NODE;
    }
    int rc = CLI_EXIT_OK;
    if (status >= 200 && status < 300) {
        fwrite(answer, 1, answer_len, stdout);
        if (answer_len > 0 && answer[answer_len - 1] != '\n')
            putchar('\n');
    } else {
        cli_error("the node answered HTTP %d: %.*s", status, (int)answer_len, answer);
        rc = status >= 400 && status < 500 ? CLI_EXIT_FAILED : CLI_EXIT_NODE;
    }
    free(answer);
    return rc;
}

/* Accepts "m<hex>", "s<hex>", "p<hex>" or a bare key (its member account). */
static bool account_arg(const char *text, char out[CT_ACCOUNT_TEXT_LEN + 1]) {
    ct_account acct;
    if (strlen(text) == 64) {
        acct.kind = CT_ACCOUNT_MEMBER;
        if (hm_hex_decode(text, acct.owner.bytes, 32) != HM_OK)
            return false;
    } else if (ct_account_parse(text, &acct) != HM_OK) {
        return false;
    }
    ct_account_format(&acct, out);
    out[CT_ACCOUNT_TEXT_LEN] = '\0';
    return true;
}

static const cli_opt split_show_opts[] = {READ_OPTS, {NULL, NULL, NULL}};
static const cli_spec split_show_spec = {
    .usage = "hallmark split show --key FILE ID",
    .description = "Prints a contract and its latest version (a signed read).",
    .opts = split_show_opts,
    .positional_min = 1,
    .positional_max = 1,
};

static int cmd_split_show(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&split_show_spec, argc, argv, &a, &rc))
        return rc;
    uint8_t id[32];
    if (hm_hex_decode(a.positional[0], id, 32) != HM_OK)
        return cli_usage_error(&split_show_spec, "ID must be 64 hex digits");
    hm_keypair kp;
    rc = cli_load_key_opt(&split_show_spec, &a, &kp);
    if (rc != CLI_EXIT_OK)
        return rc;
    char path[128];
    snprintf(path, sizeof path, "/v1/splits/%s", a.positional[0]);
    rc = signed_get(&a, &kp, path, "", "application/json");
    hm_keypair_wipe(&kp);
    return rc;
}

static const cli_command split_commands[] = {
    {"amend", "add a version of a contract, in force from a height", cmd_split_amend},
    {"create", "create a split contract", cmd_split_create},
    {"id", "print a contract's id from its creator and name", cmd_split_id},
    {"show", "show a contract (signed read)", cmd_split_show},
};

int cli_cmd_split(int argc, char **argv) {
    return cli_dispatch(split_commands, sizeof split_commands / sizeof split_commands[0],
                        "hallmark split <subcommand>", argc - 1, argv + 1);
}

/* ------------------------------------------------------------ sales */

static const cli_opt sale_opts[] = {
    CLI_TX_OPTS,
    {"contract", "ID", "the split contract (64 hex)"},
    {"order", "ID", "order id, unique per platform"},
    {"gross", "AMOUNT", "gross amount in minor units"},
    {"currency", "CODE", "ISO 4217 currency code"},
    {"gtin", "GTIN", "the item sold: GTIN (14 digits)"},
    {"serial", "SERIAL", "the item sold: serial number"},
    {"session", "ID", "the live session"},
    {"streamer", "KEY", "the streamer's key (64 hex)"},
    {"csv", "FILE", "record every sale of a CSV file as one batch tx"},
    {NULL, NULL, NULL},
};
static const cli_spec sale_spec = {
    .usage = "hallmark sale record --key FILE (--contract ID --order O --gross G --currency C\n"
             "                            [--gtin G --serial S] [--session S] [--streamer KEY]\n"
             "                            | --csv FILE)",
    .description = "Records one sale, or every line of a CSV file as one batch (all or none).\n"
                   "CSV header: order_id,gross,currency,contract,gtin,serial,session,streamer\n"
                   "(the last four may be empty). The signer is the sale's platform.",
    .opts = sale_opts,
    .positional_min = 0,
    .positional_max = 0,
};

/* Fills a sale from its fields; false with a reason in why. */
static bool sale_from_fields(ct_sale_body *s, const char *order, const char *gross,
                             const char *currency, const char *contract, const char *gtin,
                             const char *serial, const char *session, const char *streamer,
                             const char **why) {
    memset(s, 0, sizeof *s);
    if (order == NULL || strlen(order) == 0 || strlen(order) > CT_ORDER_ID_MAX) {
        *why = "order id: 1..64 characters";
        return false;
    }
    snprintf(s->order_id, sizeof s->order_id, "%s", order);
    if (gross == NULL || !cli_parse_u64(gross, CT_AMOUNT_MAX, &s->gross) || s->gross == 0) {
        *why = "gross: 1..10^15 minor units";
        return false;
    }
    if (currency == NULL || !ct_currency_is_valid(currency)) {
        *why = "currency: an ISO 4217 code";
        return false;
    }
    memcpy(s->currency, currency, CT_CURRENCY_LEN + 1);
    if (contract == NULL || hm_hex_decode(contract, s->contract_id, 32) != HM_OK) {
        *why = "contract: 64 hex digits";
        return false;
    }
    if ((gtin && *gtin) || (serial && *serial)) {
        if (!gtin || strlen(gtin) != CT_GTIN_LEN || !serial || !*serial ||
            strlen(serial) > CT_SERIAL_MAX) {
            *why = "item: a 14-digit GTIN and a serial of 1..20 characters";
            return false;
        }
        s->has_item = true;
        memcpy(s->gtin, gtin, CT_GTIN_LEN + 1);
        snprintf(s->serial, sizeof s->serial, "%s", serial);
    }
    if (session && *session) {
        if (strlen(session) > CT_SESSION_ID_MAX) {
            *why = "session: at most 64 characters";
            return false;
        }
        snprintf(s->session_id, sizeof s->session_id, "%s", session);
    }
    if (streamer && *streamer) {
        if (hm_hex_decode(streamer, s->streamer.bytes, 32) != HM_OK) {
            *why = "streamer: 64 hex digits";
            return false;
        }
        s->has_streamer = true;
    }
    return true;
}

/* Splits one CSV line in place into up to n fields (no quoting: no field of
 * a sale may contain a comma). Returns the field count. */
static int csv_split(char *line, char **fields, int n) {
    int count = 0;
    char *p = line;
    while (count < n) {
        fields[count++] = p;
        char *comma = strchr(p, ',');
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return count;
}

static int record_csv(const cli_args *a, const hm_keypair *kp, const char *path) {
    uint8_t *data = NULL;
    size_t data_len = 0;
    if (cli_read_file(path, CLI_FILE_MAX, &data, &data_len) != HM_OK)
        return CLI_EXIT_IO;
    uint8_t **recs = calloc(CT_BATCH_RECORDS_MAX, sizeof *recs);
    size_t *lens = calloc(CT_BATCH_RECORDS_MAX, sizeof *lens);
    int rc = CLI_EXIT_OK;
    uint32_t count = 0;
    if (recs == NULL || lens == NULL) {
        cli_error("out of memory");
        rc = CLI_EXIT_IO;
    }
    char *save = NULL;
    size_t line_no = 0;
    for (char *line = strtok_r((char *)data, "\n", &save); line != NULL && rc == CLI_EXIT_OK;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (len > CSV_LINE_MAX) {
            cli_error("%s:%zu: line longer than %d bytes", path, line_no, CSV_LINE_MAX);
            rc = CLI_EXIT_USAGE;
            break;
        }
        if (line_no == 1) {
            if (strncmp(line, "order_id,", 9) != 0) {
                cli_error("%s: the first line must be the header "
                          "order_id,gross,currency,contract,gtin,serial,session,streamer",
                          path);
                rc = CLI_EXIT_USAGE;
            }
            continue;
        }
        char *f[8] = {NULL};
        int n = csv_split(line, f, 8);
        if (n < 4) {
            cli_error("%s:%zu: want at least order_id,gross,currency,contract", path, line_no);
            rc = CLI_EXIT_USAGE;
            break;
        }
        if (count == CT_BATCH_RECORDS_MAX) {
            cli_error("%s: more than %d sales in one batch", path, CT_BATCH_RECORDS_MAX);
            rc = CLI_EXIT_USAGE;
            break;
        }
        ct_sale_body s;
        const char *why = NULL;
        if (!sale_from_fields(&s, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], &why)) {
            cli_error("%s:%zu: %s", path, line_no, why);
            rc = CLI_EXIT_USAGE;
            break;
        }
        hm_writer w;
        hm_writer_init_growable(&w, CT_RECORD_MAX);
        if (ct_sale_encode(&s, false, &w) != HM_OK) {
            hm_writer_free(&w);
            cli_error("%s:%zu: a field is outside its domain (printable, no spaces)", path,
                      line_no);
            rc = CLI_EXIT_USAGE;
            break;
        }
        recs[count] = hm_writer_take(&w, &lens[count]);
        count++;
    }
    if (rc == CLI_EXIT_OK && count == 0) {
        cli_error("%s: no sales", path);
        rc = CLI_EXIT_USAGE;
    }
    if (rc == CLI_EXIT_OK) {
        fprintf(stderr, "hallmark: %u sales in one batch\n", count);
        rc = cli_send_tx(&sale_spec, a, kp, CT_TX_SALE, NULL, 0, (const uint8_t *const *)recs, lens,
                         count);
    }
    for (uint32_t i = 0; recs != NULL && i < count; i++)
        free(recs[i]);
    free(recs);
    free(lens);
    free(data);
    return rc;
}

static int cmd_sale_record(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&sale_spec, argc, argv, &a, &rc))
        return rc;
    hm_keypair kp;
    const char *csv = cli_arg(&a, "csv");
    ct_sale_body s;
    const char *why = NULL;
    if (csv == NULL &&
        !sale_from_fields(&s, cli_arg(&a, "order"), cli_arg(&a, "gross"), cli_arg(&a, "currency"),
                          cli_arg(&a, "contract"), cli_arg(&a, "gtin"), cli_arg(&a, "serial"),
                          cli_arg(&a, "session"), cli_arg(&a, "streamer"), &why))
        return cli_usage_error(&sale_spec, "%s", why);
    rc = cli_load_key_opt(&sale_spec, &a, &kp);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (csv != NULL) {
        rc = record_csv(&a, &kp, csv);
    } else {
        hm_writer w;
        hm_writer_init_growable(&w, CT_TX_BODY_MAX);
        if (ct_sale_encode(&s, true, &w) == HM_OK) {
            rc = cli_send_tx(&sale_spec, &a, &kp, CT_TX_SALE, w.buf, w.len, NULL, NULL, 0);
        } else {
            cli_error("a field is outside its domain (printable ASCII, no spaces)");
            rc = CLI_EXIT_USAGE;
        }
        hm_writer_free(&w);
    }
    hm_keypair_wipe(&kp);
    return rc;
}

/* ------------------------------------------------------------ sale load
 *
 * `hallmark sale load`: the settlement benchmark's load generator. Pre-signs
 * N one-sale txs (never inside the timed part), POSTs them round-robin to the
 * given nodes at a fixed rate or as fast as they are taken, and follows the
 * signed postings feed of every node: a sale counts as settled when its
 * clearing posting has arrived from all of them, i.e. its payouts are
 * readable on every node. Prints settled sales/s and the submit-to-readable
 * latency (p50/p99, the slowest node per sale). */

#define LOAD_NODES_MAX 8
#define LOAD_CONNS_PER_NODE 8
#define LOAD_COUNT_MAX 1000000u

typedef struct load_run load_run;

typedef struct {
    load_run *run;
    struct evhttp_connection *conn;
    int node;
    bool busy;
} load_conn;

typedef struct {
    load_run *run;
    int node;
    struct evbuffer *pending; /* feed bytes not yet split into events */
    bool open;
} load_feed;

struct load_run {
    struct event_base *base;
    char hosts[LOAD_NODES_MAX][128];
    uint16_t ports[LOAD_NODES_MAX];
    int node_count;
    load_conn conns[LOAD_NODES_MAX * LOAD_CONNS_PER_NODE];
    int conn_count;
    load_feed feeds[LOAD_NODES_MAX];
    uint8_t **txs;
    size_t *tx_lens;
    uint64_t *submit_us;
    uint64_t *seen_us;  /* latest arrival over the feeds */
    uint8_t *seen_mask; /* bit per node */
    uint32_t count, next, answered, accepted, settled;
    uint64_t rate, start_us, deadline_us, last_settled_us;
    char prefix[32]; /* order ids are prefix + index */
};

static void load_send_more(load_run *r);

static void on_load_submitted(struct evhttp_request *req, void *arg) {
    load_conn *c = arg;
    c->busy = false;
    c->run->answered++;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    if (status == 202)
        c->run->accepted++;
    load_send_more(c->run);
}

static void load_send_more(load_run *r) {
    uint64_t allowed = r->count;
    if (r->rate) {
        allowed = r->rate * (cli_monotonic_us() - r->start_us) / 1000000u + 1;
        if (allowed > r->count)
            allowed = r->count;
    }
    for (int i = 0; i < r->conn_count && r->next < allowed; i++) {
        load_conn *c = &r->conns[(r->next + (uint32_t)i) % (uint32_t)r->conn_count];
        if (c->busy)
            continue;
        uint32_t k = r->next++;
        struct evhttp_request *req = evhttp_request_new(on_load_submitted, c);
        if (req == NULL)
            return;
        char host[160];
        snprintf(host, sizeof host, "%s:%u", r->hosts[c->node], r->ports[c->node]);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/octet-stream");
        evbuffer_add(evhttp_request_get_output_buffer(req), r->txs[k], r->tx_lens[k]);
        r->submit_us[k] = cli_monotonic_us();
        c->busy = true;
        if (evhttp_make_request(c->conn, req, EVHTTP_REQ_POST, "/v1/txs") != 0) {
            c->busy = false;
            r->answered++;
        }
    }
}

/* The first occurrence of needle in hay[0, len), or NULL. */
static const char *find_in(const char *hay, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

/* One feed event: the clearing posting of one of our sales. */
static void load_feed_event(load_feed *f, const char *event, size_t len) {
    load_run *r = f->run;
    const char *order = find_in(event, len, "\"order_id\":\"");
    const char *entry = find_in(event, len, "\"entry\":\"sale\"");
    const char *clearing = find_in(event, len, "\"account\":\"s");
    if (order == NULL || entry == NULL || clearing == NULL)
        return;
    order += 12;
    size_t plen = strlen(r->prefix);
    if ((size_t)(event + len - order) <= plen || memcmp(order, r->prefix, plen) != 0)
        return;
    uint64_t k = 0;
    const char *p = order + plen;
    while (p < event + len && *p >= '0' && *p <= '9')
        k = k * 10 + (uint64_t)(*p++ - '0');
    if (k >= r->count || (r->seen_mask[k] >> f->node & 1))
        return;
    r->seen_mask[k] |= (uint8_t)(1u << f->node);
    uint64_t t = cli_monotonic_us();
    if (t > r->seen_us[k])
        r->seen_us[k] = t;
    if (r->seen_mask[k] == (uint8_t)((1u << r->node_count) - 1)) {
        r->settled++;
        r->last_settled_us = t;
    }
}

static void on_feed_chunk(struct evhttp_request *req, void *arg) {
    load_feed *f = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    evbuffer_add_buffer(f->pending, in);
    for (;;) {
        struct evbuffer_ptr end = evbuffer_search(f->pending, "\n\n", 2, NULL);
        if (end.pos < 0)
            break;
        size_t len = (size_t)end.pos;
        const char *event = (const char *)evbuffer_pullup(f->pending, (ev_ssize_t)len);
        load_feed_event(f, event, len);
        evbuffer_drain(f->pending, len + 2);
    }
}

static void on_feed_done(struct evhttp_request *req, void *arg) {
    (void)req;
    load_feed *f = arg;
    f->open = false;
}

static hm_err load_parse_url(const char *url, char *host, size_t host_cap, uint16_t *port) {
    if (strncmp(url, "http://", 7) != 0)
        return HM_ERR_ARG;
    const char *h = url + 7;
    const char *colon = strrchr(h, ':');
    uint64_t p;
    if (colon == NULL || (size_t)(colon - h) >= host_cap || !cli_parse_u64(colon + 1, 65535, &p) ||
        p == 0)
        return HM_ERR_ARG;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    *port = (uint16_t)p;
    return HM_OK;
}

static void on_load_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    load_run *r = arg;
    load_send_more(r);
    uint64_t t = cli_monotonic_us();
    bool feeds_open = true;
    for (int i = 0; i < r->node_count; i++)
        feeds_open = feeds_open && r->feeds[i].open;
    if ((r->answered >= r->count && r->settled >= r->accepted) || t > r->deadline_us || !feeds_open)
        event_base_loopexit(r->base, NULL);
}

static const cli_opt load_opts[] = {
    {"key", "FILE", "the platform's key (signs the sales and the feed requests)"},
    {"genesis", "FILE", "genesis file for the chain id (default $HALLMARK_GENESIS)"},
    {"node", "URL", "a node to submit to and follow (repeat: every validator)"},
    {"contract", "ID", "the split contract"},
    {"currency", "CODE", "the contract's currency"},
    {"count", "N", "sales to send (default 1000)"},
    {"rate", "PER_S", "offered sales/s (default 0: as fast as accepted)"},
    {"timeout", "S", "give up after S seconds (default 120)"},
    {NULL, NULL, NULL},
};
static const cli_spec load_spec = {
    .usage = "hallmark sale load --key FILE --contract ID --currency CODE --node URL...\n"
             "                          [--count N] [--rate PER_S] [--timeout S]",
    .description = "Sends N one-sale txs and reports, as JSON, the sales settled per second\n"
                   "(readable on every --node) and the submit-to-readable latency p50/p99.",
    .opts = load_opts,
    .positional_min = 0,
    .positional_max = 0,
};

static int cmd_sale_load(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&load_spec, argc, argv, &a, &rc))
        return rc;
    static load_run r;
    memset(&r, 0, sizeof r);
    uint64_t count = 1000, timeout_s = 120;
    uint8_t contract[32];
    const char *currency = cli_arg(&a, "currency");
    if (cli_arg(&a, "contract") == NULL || hm_hex_decode(cli_arg(&a, "contract"), contract, 32))
        return cli_usage_error(&load_spec, "--contract ID (64 hex digits) is required");
    if (currency == NULL || !ct_currency_is_valid(currency))
        return cli_usage_error(&load_spec, "--currency CODE is required");
    if ((cli_arg(&a, "count") && !cli_parse_u64(cli_arg(&a, "count"), LOAD_COUNT_MAX, &count)) ||
        count == 0 ||
        (cli_arg(&a, "rate") && !cli_parse_u64(cli_arg(&a, "rate"), 1000000, &r.rate)) ||
        (cli_arg(&a, "timeout") && !cli_parse_u64(cli_arg(&a, "timeout"), 3600, &timeout_s)))
        return cli_usage_error(&load_spec, "bad --count, --rate or --timeout");
    size_t cursor = 0;
    const char *url;
    while ((url = cli_arg_next(&a, "node", &cursor)) != NULL) {
        if (r.node_count == LOAD_NODES_MAX)
            return cli_usage_error(&load_spec, "at most %d --node", LOAD_NODES_MAX);
        if (load_parse_url(url, r.hosts[r.node_count], sizeof r.hosts[0], &r.ports[r.node_count]) !=
            HM_OK)
            return cli_usage_error(&load_spec, "--node %s: want http://host:port", url);
        r.node_count++;
    }
    if (r.node_count == 0)
        return cli_usage_error(&load_spec, "at least one --node URL");
    char chain_id[HM_CHAIN_ID_MAX + 1];
    hm_err err = cli_genesis_chain_id(cli_arg(&a, "genesis"), chain_id);
    if (err != HM_OK)
        return cli_exit_for(err);
    hm_keypair kp;
    rc = cli_load_key_opt(&load_spec, &a, &kp);
    if (rc != CLI_EXIT_OK)
        return rc;

    r.count = (uint32_t)count;
    r.txs = calloc(count, sizeof *r.txs);
    r.tx_lens = calloc(count, sizeof *r.tx_lens);
    r.submit_us = calloc(count, sizeof *r.submit_us);
    r.seen_us = calloc(count, sizeof *r.seen_us);
    r.seen_mask = calloc(count, 1);
    r.base = event_base_new();
    if (!r.txs || !r.tx_lens || !r.submit_us || !r.seen_us || !r.seen_mask || !r.base) {
        cli_error("out of memory");
        hm_keypair_wipe(&kp);
        return CLI_EXIT_IO;
    }
    snprintf(r.prefix, sizeof r.prefix, "load-%08llx-",
             (unsigned long long)(cli_random_nonce() >> 32));
    uint64_t nonce = cli_random_nonce();
    for (uint32_t i = 0; i < r.count; i++) {
        ct_sale_body s;
        memset(&s, 0, sizeof s);
        snprintf(s.order_id, sizeof s.order_id, "%s%u", r.prefix, i);
        s.gross = 100 + i % 100000;
        memcpy(s.currency, currency, CT_CURRENCY_LEN + 1);
        memcpy(s.contract_id, contract, 32);
        uint8_t body[256];
        hm_writer bw;
        hm_writer_init(&bw, body, sizeof body);
        hm_writer w;
        hm_writer_init_growable(&w, 1024);
        if (ct_sale_encode(&s, true, &bw) != HM_OK ||
            ct_tx_build(&w, CT_TX_SALE, &kp, chain_id, nonce + i, body, bw.len, false, NULL, NULL,
                        0) != HM_OK) {
            cli_error("cannot build sale %u", i);
            hm_keypair_wipe(&kp);
            return CLI_EXIT_IO;
        }
        r.txs[i] = hm_writer_take(&w, &r.tx_lens[i]);
    }

    /* the feeds first, so that nothing settles unseen */
    for (int i = 0; i < r.node_count; i++) {
        load_feed *f = &r.feeds[i];
        f->run = &r;
        f->node = i;
        f->pending = evbuffer_new();
        struct evhttp_connection *conn =
            evhttp_connection_base_new(r.base, NULL, r.hosts[i], r.ports[i]);
        struct evhttp_request *req = evhttp_request_new(on_feed_done, f);
        hm_sig sig;
        uint64_t now_ms = wall_clock_ms();
        if (!f->pending || !conn || !req ||
            ct_request_sign(&kp, chain_id, "GET", "/v1/feed/postings", "", now_ms, NULL, 0, &sig) !=
                HM_OK) {
            cli_error("cannot open the feed of node %d", i + 1);
            hm_keypair_wipe(&kp);
            return CLI_EXIT_NODE;
        }
        evhttp_request_set_chunked_cb(req, on_feed_chunk);
        char key_hex[65], sig_hex[129], time_text[24], host[160];
        hm_hex_encode(kp.pub.bytes, 32, key_hex);
        hm_hex_encode(sig.bytes, 64, sig_hex);
        snprintf(time_text, sizeof time_text, "%llu", (unsigned long long)now_ms);
        snprintf(host, sizeof host, "%s:%u", r.hosts[i], r.ports[i]);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Host", host);
        evhttp_add_header(h, "X-Hallmark-Key", key_hex);
        evhttp_add_header(h, "X-Hallmark-Time", time_text);
        evhttp_add_header(h, "X-Hallmark-Signature", sig_hex);
        f->open = evhttp_make_request(conn, req, EVHTTP_REQ_GET, "/v1/feed/postings") == 0;
        for (int c = 0; c < LOAD_CONNS_PER_NODE; c++) {
            load_conn *lc = &r.conns[r.conn_count++];
            lc->run = &r;
            lc->node = i;
            lc->conn = evhttp_connection_base_new(r.base, NULL, r.hosts[i], r.ports[i]);
            if (lc->conn == NULL) {
                cli_error("out of memory");
                hm_keypair_wipe(&kp);
                return CLI_EXIT_IO;
            }
        }
    }
    hm_keypair_wipe(&kp);
    /* let the feeds connect before the clock starts */
    struct timeval settle_in = {0, 300000};
    event_base_loopexit(r.base, &settle_in);
    event_base_dispatch(r.base);

    r.start_us = cli_monotonic_us();
    r.deadline_us = r.start_us + timeout_s * 1000000u;
    struct event *tick = event_new(r.base, -1, EV_PERSIST, on_load_tick, &r);
    struct timeval every = {0, 2000};
    if (tick == NULL || event_add(tick, &every) != 0) {
        cli_error("out of memory");
        return CLI_EXIT_IO;
    }
    load_send_more(&r);
    event_base_dispatch(r.base);
    event_free(tick);

    uint64_t *lat = calloc(r.count, sizeof *lat);
    size_t nl = 0;
    for (uint32_t i = 0; lat && i < r.count; i++)
        if (r.seen_mask[i] == (uint8_t)((1u << r.node_count) - 1) && r.submit_us[i])
            lat[nl++] = r.seen_us[i] - r.submit_us[i];
    if (lat)
        qsort(lat, nl, sizeof *lat, cli_compare_u64);
    double secs =
        r.last_settled_us > r.start_us ? (double)(r.last_settled_us - r.start_us) / 1e6 : 0;
    double p50 = nl ? (double)lat[nl / 2] / 1000.0 : 0;
    double p99 =
        nl ? (double)lat[(size_t)((double)nl * 0.99) < nl ? (size_t)((double)nl * 0.99) : nl - 1] /
                 1000.0
           : 0;
    printf("{\"sent\": %u, \"accepted\": %u, \"settled\": %u, \"nodes\": %d, \"rate\": %llu, "
           "\"seconds\": %.2f, \"settled_per_s\": %.1f, \"p50_ms\": %.1f, \"p99_ms\": %.1f}\n",
           r.next, r.accepted, r.settled, r.node_count, (unsigned long long)r.rate, secs,
           secs > 0 ? r.settled / secs : 0.0, p50, p99);
    free(lat);
    for (uint32_t i = 0; i < r.count; i++)
        free(r.txs[i]);
    free(r.txs);
    free(r.tx_lens);
    free(r.submit_us);
    free(r.seen_us);
    free(r.seen_mask);
    return r.settled == r.accepted && r.accepted == r.count ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

static const cli_command sale_commands[] = {
    {"load", "benchmark: sales settled per second, submit-to-readable latency", cmd_sale_load},
    {"record", "record a sale, or a CSV of sales as one batch", cmd_sale_record},
};

int cli_cmd_sale(int argc, char **argv) {
    return cli_dispatch(sale_commands, sizeof sale_commands / sizeof sale_commands[0],
                        "hallmark sale <subcommand>", argc - 1, argv + 1);
}

/* ------------------------------------------------------------ refund, payout */

static const cli_opt refund_opts[] = {
    CLI_TX_OPTS,
    {"order", "ID", "the order id the platform recorded"},
    {"amount", "AMOUNT", "minor units to refund (at most what is left of the sale)"},
    {"currency", "CODE", "the sale's currency"},
    {NULL, NULL, NULL},
};
static const cli_spec refund_spec = {
    .usage = "hallmark refund --key FILE --order ID --amount AMOUNT --currency CODE",
    .description = "Refunds part or all of a sale recorded by the signing platform. Inside the\n"
                   "return window it voids pending commissions in proportion; after it, it\n"
                   "claws them back from available balances.",
    .opts = refund_opts,
    .positional_min = 0,
    .positional_max = 0,
};

int cli_cmd_refund(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&refund_spec, argc, argv, &a, &rc))
        return rc;
    ct_refund_body b;
    memset(&b, 0, sizeof b);
    const char *order = cli_arg(&a, "order");
    const char *amount = cli_arg(&a, "amount");
    const char *currency = cli_arg(&a, "currency");
    if (order == NULL || strlen(order) == 0 || strlen(order) > CT_ORDER_ID_MAX)
        return cli_usage_error(&refund_spec, "--order ID (1..64 characters) is required");
    if (amount == NULL || !cli_parse_u64(amount, CT_AMOUNT_MAX, &b.amount) || b.amount == 0)
        return cli_usage_error(&refund_spec, "--amount must be 1..10^15 minor units");
    if (currency == NULL || !ct_currency_is_valid(currency))
        return cli_usage_error(&refund_spec, "--currency must be an ISO 4217 code");
    snprintf(b.order_id, sizeof b.order_id, "%s", order);
    memcpy(b.currency, currency, CT_CURRENCY_LEN + 1);
    hm_keypair kp;
    rc = cli_load_key_opt(&refund_spec, &a, &kp);
    if (rc != CLI_EXIT_OK)
        return rc;
    hm_writer w;
    hm_writer_init_growable(&w, 1024);
    if (ct_refund_encode(&b, &w) == HM_OK) {
        rc = cli_send_tx(&refund_spec, &a, &kp, CT_TX_REFUND, w.buf, w.len, NULL, NULL, 0);
    } else {
        cli_error("--order must be printable ASCII without spaces");
        rc = CLI_EXIT_USAGE;
    }
    hm_writer_free(&w);
    hm_keypair_wipe(&kp);
    return rc;
}

static const cli_opt payout_opts[] = {
    CLI_TX_OPTS,
    {"account", "KEY", "the account's key (64 hex)"},
    {"amount", "AMOUNT", "minor units paid out (at most the available balance)"},
    {"currency", "CODE", "ISO 4217 currency code"},
    {"reference", "TEXT", "the external bank or wallet reference"},
    {NULL, NULL, NULL},
};
static const cli_spec payout_spec = {
    .usage = "hallmark payout --key FILE --account KEY --amount AMOUNT --currency CODE\n"
             "                       --reference TEXT",
    .description = "Records money paid out of an available balance. Signed by the account's\n"
                   "owner, a platform or an admin; pending money cannot be paid out.",
    .opts = payout_opts,
    .positional_min = 0,
    .positional_max = 0,
};

int cli_cmd_payout(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&payout_spec, argc, argv, &a, &rc))
        return rc;
    ct_payout_body b;
    memset(&b, 0, sizeof b);
    const char *account = cli_arg(&a, "account");
    const char *amount = cli_arg(&a, "amount");
    const char *currency = cli_arg(&a, "currency");
    const char *reference = cli_arg(&a, "reference");
    if (account == NULL || hm_hex_decode(account, b.account.bytes, 32) != HM_OK)
        return cli_usage_error(&payout_spec, "--account KEY (64 hex digits) is required");
    if (amount == NULL || !cli_parse_u64(amount, CT_AMOUNT_MAX, &b.amount) || b.amount == 0)
        return cli_usage_error(&payout_spec, "--amount must be 1..10^15 minor units");
    if (currency == NULL || !ct_currency_is_valid(currency))
        return cli_usage_error(&payout_spec, "--currency must be an ISO 4217 code");
    if (reference == NULL || strlen(reference) > CT_PAYOUT_REF_MAX)
        return cli_usage_error(&payout_spec, "--reference TEXT (up to 128 characters) is required");
    memcpy(b.currency, currency, CT_CURRENCY_LEN + 1);
    snprintf(b.reference, sizeof b.reference, "%s", reference);
    hm_keypair kp;
    rc = cli_load_key_opt(&payout_spec, &a, &kp);
    if (rc != CLI_EXIT_OK)
        return rc;
    hm_writer w;
    hm_writer_init_growable(&w, 1024);
    if (ct_payout_encode(&b, &w) == HM_OK) {
        rc = cli_send_tx(&payout_spec, &a, &kp, CT_TX_PAYOUT, w.buf, w.len, NULL, NULL, 0);
    } else {
        cli_error("--reference must be printable ASCII");
        rc = CLI_EXIT_USAGE;
    }
    hm_writer_free(&w);
    hm_keypair_wipe(&kp);
    return rc;
}

/* ------------------------------------------------------------ balance, statement */

static const cli_opt balance_opts[] = {READ_OPTS, {NULL, NULL, NULL}};
static const cli_spec balance_spec = {
    .usage = "hallmark balance --key FILE ACCOUNT",
    .description = "Prints an account's balances per currency (pending, available, owed).\n"
                   "ACCOUNT is m<hex>, s<hex>, p<hex> or a bare key (its m account). The\n"
                   "request is signed by --key: the owner, an admin or an auditor.",
    .opts = balance_opts,
    .positional_min = 1,
    .positional_max = 1,
};

int cli_cmd_balance(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&balance_spec, argc, argv, &a, &rc))
        return rc;
    char account[CT_ACCOUNT_TEXT_LEN + 1];
    if (!account_arg(a.positional[0], account))
        return cli_usage_error(&balance_spec, "ACCOUNT must be m<hex>, s<hex>, p<hex> or a key");
    hm_keypair kp;
    rc = cli_load_key_opt(&balance_spec, &a, &kp);
    if (rc != CLI_EXIT_OK)
        return rc;
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s/balance", account);
    rc = signed_get(&a, &kp, path, "", "application/json");
    hm_keypair_wipe(&kp);
    return rc;
}

static const cli_opt statement_opts[] = {
    READ_OPTS,
    {"from", "MS", "from this block time (Unix ms, inclusive; default 0)"},
    {"to", "MS", "to this block time (Unix ms, exclusive; default: no end)"},
    {"csv", NULL, "CSV instead of JSON"},
    {NULL, NULL, NULL},
};
static const cli_spec statement_spec = {
    .usage = "hallmark statement --key FILE ACCOUNT [--from MS] [--to MS] [--csv]",
    .description = "Prints an account's postings between two block times (signed read).",
    .opts = statement_opts,
    .positional_min = 1,
    .positional_max = 1,
};

int cli_cmd_statement(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&statement_spec, argc, argv, &a, &rc))
        return rc;
    char account[CT_ACCOUNT_TEXT_LEN + 1];
    if (!account_arg(a.positional[0], account))
        return cli_usage_error(&statement_spec, "ACCOUNT must be m<hex>, s<hex>, p<hex> or a key");
    uint64_t from = 0, to = UINT64_MAX;
    const char *from_text = cli_arg(&a, "from");
    const char *to_text = cli_arg(&a, "to");
    if (from_text != NULL && !cli_parse_u64(from_text, UINT64_MAX, &from))
        return cli_usage_error(&statement_spec, "--from must be a whole number of ms");
    if (to_text != NULL && !cli_parse_u64(to_text, UINT64_MAX, &to))
        return cli_usage_error(&statement_spec, "--to must be a whole number of ms");
    hm_keypair kp;
    rc = cli_load_key_opt(&statement_spec, &a, &kp);
    if (rc != CLI_EXIT_OK)
        return rc;
    char path[128], query[64];
    snprintf(path, sizeof path, "/v1/accounts/%s/statement", account);
    snprintf(query, sizeof query, "from=%llu&to=%llu", (unsigned long long)from,
             (unsigned long long)to);
    rc = signed_get(&a, &kp, path, query, cli_flag(&a, "csv") ? "text/csv" : "application/json");
    hm_keypair_wipe(&kp);
    return rc;
}

/* ------------------------------------------------------------ sign-request */

static const cli_opt sign_request_opts[] = {
    {"key", "FILE", "the key that signs the request"},
    {"genesis", "FILE", "genesis file for the chain id (default $HALLMARK_GENESIS)"},
    {"method", "METHOD", "HTTP method (default GET)"},
    {"path", "PATH", "the request path as sent, e.g. /v1/accounts/m.../balance"},
    {"query", "QUERY", "the query string as sent, without '?' (default empty)"},
    {NULL, NULL, NULL},
};
static const cli_spec sign_request_spec = {
    .usage = "hallmark sign-request --key FILE --path PATH [--query Q] [--method M]",
    .description = "Prints the three header lines of a signed read (X-Hallmark-Key, -Time,\n"
                   "-Signature) for a request without a body, valid for 5 minutes and once,\n"
                   "e.g. for `curl -H @headers.txt`.",
    .opts = sign_request_opts,
    .positional_min = 0,
    .positional_max = 0,
};

int cli_cmd_sign_request(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&sign_request_spec, argc, argv, &a, &rc))
        return rc;
    const char *path = cli_arg(&a, "path");
    const char *query = cli_arg(&a, "query");
    const char *method = cli_arg(&a, "method");
    if (path == NULL || path[0] != '/')
        return cli_usage_error(&sign_request_spec, "--path /... is required");
    char chain_id[HM_CHAIN_ID_MAX + 1];
    hm_err err = cli_genesis_chain_id(cli_arg(&a, "genesis"), chain_id);
    if (err != HM_OK)
        return cli_exit_for(err);
    hm_keypair kp;
    rc = cli_load_key_opt(&sign_request_spec, &a, &kp);
    if (rc != CLI_EXIT_OK)
        return rc;
    uint64_t now_ms = wall_clock_ms();
    hm_sig sig;
    err = ct_request_sign(&kp, chain_id, method ? method : "GET", path, query ? query : "", now_ms,
                          NULL, 0, &sig);
    char key_hex[65], sig_hex[129];
    hm_hex_encode(kp.pub.bytes, 32, key_hex);
    hm_keypair_wipe(&kp);
    if (err != HM_OK) {
        cli_error("cannot sign the request: %s", hm_err_message(err));
        return cli_exit_for(err);
    }
    hm_hex_encode(sig.bytes, 64, sig_hex);
    printf("X-Hallmark-Key: %s\nX-Hallmark-Time: %llu\nX-Hallmark-Signature: %s\n", key_hex,
           (unsigned long long)now_ms, sig_hex);
    return CLI_EXIT_OK;
}
