/* node/http.c — the HTTP API on evhttp + jansson.
 *
 * Layer: node/. Owns the HTTP listener, routing by longest path prefix, the
 * JSON reply helpers that feature files share, the features' cleanups (run
 * once the server is freed at shutdown), and the node's own routes:
 * POST /v1/txs, GET /v1/txs/{id}, GET /v1/blocks/{height}, GET /v1/status,
 * GET /metrics. docs/api.md describes them.
 *
 * Must never: reply with anything but JSON on an error, read a body larger
 * than http_body_max (evhttp refuses it first), or block the loop. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "lane.h"
#include "nd_int.h"

/* ------------------------------------------------------------ helpers */

/* Writes v in decimal into out (at least 21 bytes) and NUL-terminates it. */
static void u64_text(uint64_t v, char *out) {
    out[hm_u64_decimal(v, out)] = '\0';
}

/* The Date header, formatted once a second by nd_answer_date (the resolver's
 * text too): libevent would format it for each answer (gmtime and a
 * printf). When the clock cannot be read, libevent adds its own. */
static void add_date(struct evkeyvalq *h) {
    const char *date = nd_answer_date();
    if (date != NULL) {
        evhttp_add_header(h, "Date", date);
    }
}

void nd_http_send(struct evhttp_request *req, int status, const char *reason,
                  struct evbuffer *body) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    add_date(h);
    /* Content-Length written here rather than by libevent (a printf per
     * answer). libevent 2.1 also writes the body in answer to HEAD, and
     * without its length, which a keep-alive client reads as the start of
     * the next answer: HEAD gets the headers GET would, Content-Length
     * included, and no body. Answers that never have a body (204, 304)
     * carry none. */
    if (body != NULL && status >= 200 && status != 204 && status != 304) {
        char len[24];
        u64_text((uint64_t)evbuffer_get_length(body), len);
        evhttp_add_header(h, "Content-Length", len);
        if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
            evbuffer_drain(body, evbuffer_get_length(body));
        }
    }
    evhttp_send_reply(req, status, reason, body);
}

bool nd_http_require_read(struct evhttp_request *req) {
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
        return true;
    nd_http_reply_error(req, 405, "method_not_allowed", "use GET (or HEAD)");
    return false;
}

void nd_http_reply_bytes(struct evhttp_request *req, int status, const char *content_type,
                         const uint8_t *data, size_t data_len) {
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, data, data_len);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", content_type);
    nd_http_send(req, status, NULL, b);
    evbuffer_free(b);
}

void nd_http_reply_json(struct evhttp_request *req, int status, json_t *body) {
    /* Reals with 15 significant digits: the decimals of EPCIS events
     * (quantities, sensor values) have at most 15 (contracts/epcis_out.c), so
     * they come out as written ("26.1", not jansson's shortest-exact default
     * "26.100000000000001"). Every other answer is integers and text. */
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}";
        nd_http_reply_bytes(req, 500, "application/json", (const uint8_t *)oom, sizeof oom - 1);
        return;
    }
    size_t len = strlen(text);
    text[len] = '\0';
    struct evbuffer *b = evbuffer_new();
    if (b) {
        evbuffer_add(b, text, len);
        evbuffer_add(b, "\n", 1);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        nd_http_send(req, status, NULL, b);
        evbuffer_free(b);
    } else {
        evhttp_send_error(req, 500, NULL);
    }
    free(text);
}

void nd_http_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
                         ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nd_http_reply_json(req, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
}

uint8_t *nd_http_read_body(struct evhttp_request *req, size_t *len) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    uint8_t *out = malloc(n + 1);
    if (!out)
        return NULL;
    evbuffer_copyout(in, out, n);
    out[n] = '\0';
    *len = n;
    return out;
}

void nd_http_tx_refusal(hm_err err, const char **code, const char **message) {
    *code = err == HM_ERR_FULL     ? "mempool_full"
            : err == HM_ERR_EXISTS ? "duplicate"
                                   : hm_err_name(err);
    *message = err == HM_ERR_FULL     ? "the mempool is full, retry later"
               : err == HM_ERR_EXISTS ? "this tx is already pending or committed"
                                      : hm_err_message(err);
}

int nd_http_status_for(hm_err err) {
    switch (err) {
    case HM_OK:
        return 200;
    case HM_ERR_NOT_FOUND:
        return 404;
    case HM_ERR_EXISTS:
        return 409;
    case HM_ERR_TOO_LONG:
        return 413;
    case HM_ERR_FULL:
        return 503;
    case HM_ERR_NOMEM:
    case HM_ERR_IO:
    case HM_ERR_CRYPTO:
    case HM_ERR_RANDOM:
        return 500;
    default:
        return 400;
    }
}

nd_query_result nd_http_query_lookup(struct evhttp_request *req, const char *name, char *out,
                                     size_t cap) {
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q == NULL)
        return ND_QUERY_ABSENT;
    struct evkeyvalq params;
    if (evhttp_parse_query_str(q, &params) != 0)
        return ND_QUERY_MALFORMED;
    const char *v = evhttp_find_header(&params, name);
    nd_query_result got = v == NULL         ? ND_QUERY_ABSENT
                          : strlen(v) < cap ? ND_QUERY_FOUND
                                            : ND_QUERY_TOO_LONG;
    if (got == ND_QUERY_FOUND)
        snprintf(out, cap, "%s", v);
    evhttp_clear_headers(&params);
    return got;
}

int nd_http_query_param(struct evhttp_request *req, const char *name, char *out, size_t cap,
                        const char *error_code) {
    nd_query_result got = nd_http_query_lookup(req, name, out, cap);
    if (got == ND_QUERY_MALFORMED) {
        nd_http_reply_error(req, 400, error_code, "malformed query string");
        return -1;
    }
    if (got == ND_QUERY_TOO_LONG) {
        nd_http_reply_error(req, 400, error_code, "%s is longer than %zu bytes", name, cap - 1);
        return -1;
    }
    return got == ND_QUERY_FOUND ? 1 : 0;
}

bool nd_parse_u64_text(const char *text, uint64_t *out) {
    uint64_t v = 0;
    if (*text == '\0')
        return false;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

hm_err nd_http_add_route(nd_node *n, const char *prefix, nd_http_handler handler, void *arg) {
    if (!prefix || prefix[0] != '/' || strlen(prefix) >= sizeof n->routes[0].prefix || !handler)
        return HM_ERR_ARG;
    for (uint32_t i = 0; i < n->route_count; i++)
        if (!strcmp(n->routes[i].prefix, prefix))
            return HM_ERR_EXISTS;
    if (n->route_count >= ND_HTTP_ROUTES_MAX)
        return HM_ERR_FULL;
    nd_route *r = &n->routes[n->route_count++];
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
    r->handler = handler;
    r->arg = arg;
    return HM_OK;
}

/* Feature cleanups, kept here by node (nd_node has no slot for them): a
 * node's entries run and are dropped by nd_http_stop. The node runs on one
 * thread, and the table is only touched at registration and shutdown. */
static struct {
    nd_node *node;
    nd_http_cleanup_fn fn;
    void *arg;
} cleanups[ND_HTTP_CLEANUPS_MAX];
static uint32_t cleanup_count;

hm_err nd_http_add_cleanup(nd_node *n, nd_http_cleanup_fn fn, void *arg) {
    if (!n || !fn)
        return HM_ERR_ARG;
    if (cleanup_count >= ND_HTTP_CLEANUPS_MAX)
        return HM_ERR_FULL;
    cleanups[cleanup_count].node = n;
    cleanups[cleanup_count].fn = fn;
    cleanups[cleanup_count].arg = arg;
    cleanup_count++;
    return HM_OK;
}

/* Runs n's cleanups, newest first, and keeps the other nodes' in order. */
static void run_cleanups(nd_node *n) {
    for (uint32_t i = cleanup_count; i-- > 0;) {
        if (cleanups[i].node != n)
            continue;
        cleanups[i].fn(cleanups[i].arg);
        for (uint32_t j = i + 1; j < cleanup_count; j++)
            cleanups[j - 1] = cleanups[j];
        cleanup_count--;
    }
}

static json_t *hex_json(const uint8_t *data, size_t len) {
    char buf[2 * 64 + 1];
    if (len > 64)
        return json_null();
    hm_hex_encode(data, len, buf);
    return json_string(buf);
}

static bool is_method(struct evhttp_request *req, enum evhttp_cmd_type t) {
    return evhttp_request_get_command(req) == t;
}

/* ------------------------------------------------------------ /v1/txs */

static void route_txs(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (rest[0] == '\0' || !strcmp(rest, "/")) {
        if (!is_method(req, EVHTTP_REQ_POST)) {
            nd_http_reply_error(req, 405, "method_not_allowed", "use POST to submit a tx");
            return;
        }
        size_t len = 0;
        uint8_t *body = nd_http_read_body(req, &len);
        if (!body) {
            nd_http_reply_error(req, 500, "internal", "out of memory");
            return;
        }
        const char *ctype =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        uint8_t *tx = body;
        size_t tx_len = len;
        uint8_t *decoded = NULL;
        if (ctype && !strncmp(ctype, "application/json", 16)) {
            json_error_t jerr;
            json_t *root = json_loadb((const char *)body, len, 0, &jerr);
            json_t *hex = root ? json_object_get(root, "tx") : NULL;
            const char *text = json_is_string(hex) ? json_string_value(hex) : NULL;
            size_t cap = text ? strlen(text) / 2 : 0;
            decoded = malloc(cap ? cap : 1);
            if (!text || !decoded || hm_hex_decode_any(text, decoded, cap, &tx_len) != HM_OK) {
                json_decref(root);
                free(decoded);
                free(body);
                nd_http_reply_error(req, 400, "bad_request",
                                    "expected a JSON object {\"tx\": \"<hex>\"}");
                return;
            }
            json_decref(root);
            tx = decoded;
        }
        uint8_t id[HM_HASH_LEN];
        hm_err err = nd_node_submit_tx(n, tx, tx_len, id);
        free(decoded);
        free(body);
        if (err != HM_OK) {
            int status = nd_http_status_for(err);
            const char *code, *msg;
            nd_http_tx_refusal(err, &code, &msg);
            json_t *j = json_pack("{s:s, s:s}", "error", code, "message", msg);
            if (j && err == HM_ERR_EXISTS)
                json_object_set_new(j, "tx", hex_json(id, HM_HASH_LEN));
            nd_http_reply_json(req, status, j);
            return;
        }
        /* the answer every accepted tx gets: written directly, not built
         * with jansson (a sizeable share of a small tx's cost on the node) */
        char text[sizeof "{\"tx\":\"\"}\n" + 2 * HM_HASH_LEN];
        memcpy(text, "{\"tx\":\"", 7);
        hm_hex_encode(id, HM_HASH_LEN, text + 7);
        memcpy(text + 7 + 2 * HM_HASH_LEN, "\"}\n", 3);
        nd_http_reply_bytes(req, 202, "application/json", (const uint8_t *)text, sizeof text - 1);
        return;
    }
    if (!nd_http_require_read(req))
        return;
    uint8_t id[HM_HASH_LEN];
    if (rest[0] != '/' || hm_hex_decode(rest + 1, id, HM_HASH_LEN) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_hash", "tx id must be 64 hex digits");
        return;
    }
    json_t *j = json_pack("{s:o}", "tx", hex_json(id, HM_HASH_LEN));
    uint64_t height;
    uint32_t index;
    if (nd_mempool_contains(n->mempool, id)) {
        json_object_set_new(j, "status", json_string("pending"));
        nd_http_reply_json(req, 200, j);
        return;
    }
    hm_err err = nd_store_tx_locate(n->store, id, &height, &index);
    if (err == HM_OK) {
        json_object_set_new(j, "status", json_string("committed"));
        json_object_set_new(j, "height", json_integer((json_int_t)height));
        json_object_set_new(j, "index", json_integer(index));
        ct_result res;
        if (ct_query_tx_result(&n->state, id, &res) == HM_OK) {
            json_object_set_new(j, "result", json_string(hm_err_name(res.code)));
            if (res.code != HM_OK)
                json_object_set_new(j, "message", json_string(res.message));
        }
        nd_http_reply_json(req, 200, j);
        return;
    }
    json_decref(j);
    if (err == HM_ERR_NOT_FOUND)
        nd_http_reply_json(req, 404,
                           json_pack("{s:s, s:s, s:s}", "error", "not_found", "message",
                                     "unknown transaction", "status", "unknown"));
    else
        nd_http_reply_error(req, 500, "internal", "store read failed");
}

/* ------------------------------------------------------------ /v1/blocks */

static void route_blocks(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!nd_http_require_read(req))
        return;
    uint64_t height = 0;
    if (!strcmp(rest, "latest")) {
        height = n->tip.height;
    } else {
        char *end = NULL;
        if (!rest[0] || rest[0] < '0' || rest[0] > '9' || strlen(rest) > 19) {
            nd_http_reply_error(req, 400, "bad_height", "height must be a decimal number");
            return;
        }
        height = strtoull(rest, &end, 10);
        if (*end) {
            nd_http_reply_error(req, 400, "bad_height", "height must be a decimal number");
            return;
        }
    }
    if (height == 0 || height > n->tip.height) {
        nd_http_reply_error(req, 404, "not_found", "no block at height %llu (tip is %llu)",
                            (unsigned long long)height, (unsigned long long)n->tip.height);
        return;
    }
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    nd_block b;
    hm_cert cert;
    if (nd_store_get_block(n->store, height, &raw, &raw_len) != HM_OK ||
        nd_store_get_cert(n->store, height, &cert) != HM_OK) {
        free(raw);
        nd_http_reply_error(req, 500, "internal", "store read failed");
        return;
    }
    if (nd_block_take(raw, raw_len, UINT32_MAX, &b) != HM_OK) {
        nd_http_reply_error(req, 500, "internal", "stored block does not decode");
        return;
    }
    const hm_block_header *h = &b.header;
    uint8_t hash[HM_HASH_LEN];
    if (hm_block_header_hash(h, hash) != HM_OK) {
        nd_block_clear(&b);
        nd_http_reply_error(req, 500, "internal", "header does not encode");
        return;
    }
    json_t *txs = json_array();
    for (uint32_t i = 0; i < b.tx_count; i++) {
        ct_tx tx;
        if (ct_tx_decode(b.txs[i], b.tx_lens[i], &tx) == HM_OK)
            json_array_append_new(txs, hex_json(tx.id, HM_HASH_LEN));
    }
    json_t *sigs = json_array();
    for (uint32_t i = 0; i < cert.count; i++)
        json_array_append_new(sigs, json_pack("{s:i, s:o}", "validator",
                                              (json_int_t)cert.sigs[i].validator_index, "sig",
                                              hex_json(cert.sigs[i].sig.bytes, HM_SIG_LEN)));
    json_t *j = json_pack(
        "{s:I, s:o, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:i, s:o, s:o}}", "height",
        (json_int_t)h->height, "hash", hex_json(hash, HM_HASH_LEN), "chain_id", h->chain_id,
        "time_ms", (json_int_t)h->time_ms, "prev_block_hash",
        hex_json(h->prev_block_hash, HM_HASH_LEN), "tx_root", hex_json(h->tx_root, HM_HASH_LEN),
        "state_root", hex_json(h->state_root, HM_HASH_LEN), "validator_set_hash",
        hex_json(h->validator_set_hash, HM_HASH_LEN), "proposer",
        hex_json(h->proposer.bytes, HM_PUBKEY_LEN), "txs", txs, "cert", "round",
        (json_int_t)cert.round, "block_id", hex_json(cert.block_id, HM_HASH_LEN), "sigs", sigs);
    nd_block_clear(&b);
    nd_http_reply_json(req, 200, j);
}

/* ------------------------------------------------------------ status, metrics */

/* The checks of a read-only resource with no sub-paths: GET or HEAD, and
 * nothing after the prefix. False after replying 405 or 404. */
static bool is_plain_get(struct evhttp_request *req, const char *rest) {
    if (!nd_http_require_read(req))
        return false;
    if (rest[0]) {
        nd_http_reply_error(req, 404, "not_found", "no such resource");
        return false;
    }
    return true;
}

static void route_status(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!is_plain_get(req, rest))
        return;
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:I, s:i, s:I, s:i}", "chain_id", n->g.chain_id,
        "node", n->cfg.name, "role", n->self_index >= 0 ? "validator" : "observer", "height",
        (json_int_t)n->tip.height, "round",
        (json_int_t)(n->replica ? cs_replica_round(n->replica) : 0), "block_hash",
        hex_json(n->tip.block_hash, HM_HASH_LEN), "state_root",
        hex_json(n->tip.state_root, HM_HASH_LEN), "time_ms", (json_int_t)n->tip.time_ms,
        "mempool_txs", (json_int_t)nd_mempool_count(n->mempool), "mempool_bytes",
        (json_int_t)nd_mempool_bytes(n->mempool), "peers",
        (json_int_t)(n->net ? nd_net_peer_count(n->net) : 0));
    if (j && n->self_index >= 0)
        json_object_set_new(j, "validator_index", json_integer(n->self_index));
    nd_http_reply_json(req, 200, j);
}

static void route_metrics(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!is_plain_get(req, rest))
        return;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        nd_http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    evbuffer_add_printf(
        b,
        "# HELP hallmark_height Height of the last committed block.\n"
        "# TYPE hallmark_height gauge\nhallmark_height %llu\n"
        "# HELP hallmark_round Current consensus round.\n"
        "# TYPE hallmark_round gauge\nhallmark_round %u\n"
        "# HELP hallmark_txs_committed_total Transactions committed.\n"
        "# TYPE hallmark_txs_committed_total counter\n"
        "hallmark_txs_committed_total %llu\n"
        "# HELP hallmark_blocks_committed_total Blocks committed by this "
        "process.\n"
        "# TYPE hallmark_blocks_committed_total counter\n"
        "hallmark_blocks_committed_total %llu\n"
        "# HELP hallmark_mempool_txs Transactions pending.\n"
        "# TYPE hallmark_mempool_txs gauge\nhallmark_mempool_txs %u\n"
        "# HELP hallmark_mempool_bytes Bytes pending.\n"
        "# TYPE hallmark_mempool_bytes gauge\nhallmark_mempool_bytes %llu\n"
        "# HELP hallmark_peers Authenticated peer links.\n"
        "# TYPE hallmark_peers gauge\nhallmark_peers %u\n",
        (unsigned long long)n->tip.height, n->replica ? cs_replica_round(n->replica) : 0,
        (unsigned long long)n->txs_committed, (unsigned long long)n->blocks_committed,
        nd_mempool_count(n->mempool), (unsigned long long)nd_mempool_bytes(n->mempool),
        n->net ? nd_net_peer_count(n->net) : 0);
    evbuffer_add_printf(b, "# HELP hallmark_commit_latency_ms Block time to local commit.\n"
                           "# TYPE hallmark_commit_latency_ms histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < ND_LATENCY_BUCKETS; i++) {
        cum += n->latency_buckets[i];
        evbuffer_add_printf(b, "hallmark_commit_latency_ms_bucket{le=\"%u\"} %llu\n",
                            nd_latency_bounds_ms[i], (unsigned long long)cum);
    }
    cum += n->latency_buckets[ND_LATENCY_BUCKETS];
    evbuffer_add_printf(b,
                        "hallmark_commit_latency_ms_bucket{le=\"+Inf\"} %llu\n"
                        "hallmark_commit_latency_ms_sum %llu\n"
                        "hallmark_commit_latency_ms_count %llu\n",
                        (unsigned long long)cum, (unsigned long long)n->latency_sum_ms,
                        (unsigned long long)n->latency_count);
    evbuffer_add_printf(b, "# HELP hallmark_rejected_total Rejected inputs by source and "
                           "reason.\n# TYPE hallmark_rejected_total counter\n");
    for (int r = 0; r < ND_REJECT__COUNT && n->net; r++)
        evbuffer_add_printf(b, "hallmark_rejected_total{source=\"peer\",reason=\"%s\"} %llu\n",
                            nd_reject_reason_name((nd_reject_reason)r),
                            (unsigned long long)nd_net_reject_count(n->net, (nd_reject_reason)r));
    for (int r = 1; r < CS_DROP__COUNT; r++)
        evbuffer_add_printf(b, "hallmark_rejected_total{source=\"consensus\",reason=\"%s\"} %llu\n",
                            cs_drop_reason_name((cs_drop_reason)r),
                            (unsigned long long)n->cs_drops[r]);
    evbuffer_add_printf(b,
                        "# HELP hallmark_consensus_queue_dropped_total Peer consensus messages "
                        "dropped because the node's event queue was full.\n"
                        "# TYPE hallmark_consensus_queue_dropped_total counter\n"
                        "hallmark_consensus_queue_dropped_total %llu\n"
                        "# HELP hallmark_validations_deferred_total Block validations answered "
                        "late (block missing or tip behind) instead of \"not valid\".\n"
                        "# TYPE hallmark_validations_deferred_total counter\n"
                        "hallmark_validations_deferred_total %llu\n",
                        (unsigned long long)n->cs_queue_dropped,
                        (unsigned long long)n->deferred_total);
    evbuffer_add_printf(b,
                        "# HELP hallmark_http_connections Open API connections.\n"
                        "# TYPE hallmark_http_connections gauge\nhallmark_http_connections %u\n"
                        "# HELP hallmark_http_refused_total API requests refused at "
                        "http_connections_max.\n"
                        "# TYPE hallmark_http_refused_total counter\n"
                        "hallmark_http_refused_total %llu\n",
                        n->http_conn_count, (unsigned long long)n->http_refused);
    if (n->replica)
        evbuffer_add_printf(b,
                            "# HELP hallmark_sign_refusals_total Signatures the consensus core "
                            "refused because of the sign-state.\n"
                            "# TYPE hallmark_sign_refusals_total counter\n"
                            "hallmark_sign_refusals_total %llu\n",
                            (unsigned long long)cs_replica_sign_refusals(n->replica));
    for (int e = 1; e < HM_ERR__COUNT; e++)
        if (n->txs_rejected[e])
            evbuffer_add_printf(b, "hallmark_rejected_total{source=\"tx\",reason=\"%s\"} %llu\n",
                                hm_err_name((hm_err)e), (unsigned long long)n->txs_rejected[e]);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    nd_http_send(req, 200, NULL, b);
    evbuffer_free(b);
}

/* ------------------------------------------------------------ connection cap
 *
 * evhttp (libevent 2.1) has no connection limit, so the node keeps its own
 * table. Every new connection's bufferevent is made here (evhttp_set_bevcb)
 * and entered in the table while there is room; its first request sets a
 * close callback that removes it. A connection that arrives while the table
 * is full gets 503 and is closed on its first request. A connection that
 * sends no request within UNSEEN_MS stops counting (evhttp closes it at its
 * idle timeout, and a closed one must not hold a slot for that long).
 * Entries are only compared, never dereferenced, so a stale one can never
 * touch freed memory. */

#define UNSEEN_MS 5000

typedef struct nd_http_conn {
    const struct bufferevent *bev;
    uint64_t born_ms;
    bool seen; /* its first request set the close callback */
} nd_http_conn;

static void conn_prune(nd_node *n) {
    uint64_t now = nd_now_ms();
    uint64_t idle_ms = (uint64_t)n->cfg.http_idle_timeout_s * 1000;
    uint64_t stale_ms = idle_ms < UNSEEN_MS ? idle_ms : UNSEEN_MS;
    for (uint32_t i = 0; i < n->http_conn_count;) {
        if (!n->http_conns[i].seen && now - n->http_conns[i].born_ms > stale_ms)
            n->http_conns[i] = n->http_conns[--n->http_conn_count];
        else
            i++;
    }
}

static nd_http_conn *conn_find(nd_node *n, const struct bufferevent *bev) {
    for (uint32_t i = 0; i < n->http_conn_count; i++)
        if (n->http_conns[i].bev == bev)
            return &n->http_conns[i];
    return NULL;
}

static struct bufferevent *conn_new(struct event_base *base, void *arg) {
    nd_node *n = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        return NULL;
    if (n->http_conn_count >= n->cfg.http_connections_max)
        conn_prune(n);
    if (n->http_conn_count < n->cfg.http_connections_max) {
        nd_http_conn *c = &n->http_conns[n->http_conn_count++];
        c->bev = bev;
        c->born_ms = nd_now_ms();
        c->seen = false;
    }
    return bev;
}

static void conn_closed(struct evhttp_connection *evcon, void *arg) {
    nd_node *n = arg;
    nd_http_conn *c = conn_find(n, evhttp_connection_get_bufferevent(evcon));
    if (c)
        *c = n->http_conns[--n->http_conn_count];
}

/* False (after replying 503) when the request's connection is over the cap. */
static bool conn_admit(nd_node *n, struct evhttp_request *req) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    nd_http_conn *c = evcon ? conn_find(n, evhttp_connection_get_bufferevent(evcon)) : NULL;
    if (!c) {
        n->http_refused++;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        nd_http_reply_error(req, 503, "too_many_connections",
                            "the node serves at most %u API connections",
                            n->cfg.http_connections_max);
        return false;
    }
    if (!c->seen) {
        c->seen = true;
        evhttp_connection_set_closecb(evcon, conn_closed, n);
    }
    return true;
}

/* ------------------------------------------------------------ dispatch */

static void dispatch(struct evhttp_request *req, void *arg) {
    nd_node *n = arg;
    if (!conn_admit(n, req))
        return;
    const char *uri = evhttp_request_get_uri(req);
    char path[1024];
    size_t i = 0;
    for (; uri[i] && uri[i] != '?' && uri[i] != '#' && i < sizeof path - 1; i++)
        path[i] = uri[i];
    path[i] = '\0';
    if (uri[i] && uri[i] != '?' && uri[i] != '#') {
        nd_http_reply_error(req, 414, "uri_too_long", "request path too long");
        return;
    }
    const nd_route *best = NULL;
    size_t best_len = 0;
    for (uint32_t r = 0; r < n->route_count; r++) {
        size_t plen = strlen(n->routes[r].prefix);
        /* a prefix that does not end in '/' ends a path segment: "/v1/txs"
         * serves /v1/txs and /v1/txs/..., never /v1/txsX */
        if (plen <= best_len || strncmp(path, n->routes[r].prefix, plen) != 0)
            continue; /* path[plen] is read only once path holds the prefix */
        if (n->routes[r].prefix[plen - 1] == '/' || path[plen] == '\0' || path[plen] == '/') {
            best = &n->routes[r];
            best_len = plen;
        }
    }
    if (!best) {
        nd_http_reply_error(req, 404, "not_found", "no such resource");
        return;
    }
    best->handler(n, req, path + best_len, best->arg);
}

static hm_err register_builtin(nd_node *n) {
    hm_err err = HM_OK;
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/txs", route_txs, NULL);
    if (err == HM_OK)
        err = nd_http_txs_batch_register(n);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/blocks/", route_blocks, NULL);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/status", route_status, NULL);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/metrics", route_metrics, NULL);
    if (err == HM_OK)
        err = nd_http_settlement_register(n);
    if (err == HM_OK)
        err = nd_http_provenance_register(n);
    if (err == HM_OK)
        err = nd_http_consumer_register(n);
    return err;
}

hm_err nd_http_start(nd_node *n, char *err, size_t err_cap) {
    hm_err e = register_builtin(n);
    if (e != HM_OK) {
        snprintf(err, err_cap, "cannot register routes: %s", hm_err_name(e));
        return e;
    }
    if (!n->cfg.http_listen[0])
        return HM_OK;
    char host[ND_ADDR_MAX + 1];
    uint16_t port;
    if (nd_split_hostport(n->cfg.http_listen, host, sizeof host, &port) != HM_OK) {
        snprintf(err, err_cap, "http_listen %s is not host:port", n->cfg.http_listen);
        return HM_ERR_BAD_VALUE;
    }
    n->http = evhttp_new(n->base);
    n->http_conns = calloc(n->cfg.http_connections_max, sizeof *n->http_conns);
    if (!n->http || !n->http_conns)
        return HM_ERR_NOMEM;
    evhttp_set_bevcb(n->http, conn_new, n);
    evhttp_set_max_body_size(n->http, n->cfg.http_body_max);
    evhttp_set_max_headers_size(n->http, n->cfg.http_headers_max);
    evhttp_set_timeout(n->http, (int)n->cfg.http_idle_timeout_s);
    /* every method reaches the routes, so that a wrong one gets a JSON 405
     * from the route rather than evhttp's HTML one */
    evhttp_set_allowed_methods(n->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    evhttp_set_gencb(n->http, dispatch, n);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(n->http, host, port);
    if (!bound) {
        snprintf(err, err_cap, "cannot listen on %s", n->cfg.http_listen);
        return HM_ERR_IO;
    }
    /* Answers are small and written whole: Nagle's algorithm would only
     * hold the second of two pipelined answers until the client's delayed
     * ACK (tens of ms). Accepted sockets inherit the option. */
    int one = 1;
    (void)setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return HM_OK;
}

void nd_http_stop(nd_node *n) {
    if (n->http)
        evhttp_free(n->http);
    n->http = NULL;
    free(n->http_conns);
    n->http_conns = NULL;
    n->http_conn_count = 0;
    /* The routes' and commit hooks' args are the features' state: once it
     * is freed nothing may reach it, so both tables are emptied first. */
    n->route_count = 0;
    n->hook_count = 0;
    run_cleanups(n);
}
