/* node/http_txs_batch.c — POST /v1/txs/batch: many transactions in one request.
 *
 * Layer: node/. A client that submits thousands of transactions a second (a
 * platform posting its sales, a load generator) pays, per request, for HTTP
 * parsing, an answer and a round trip, on its side and on the node's: about
 * as much CPU as the node spends on everything but the signature check of a
 * small tx. This route takes up to ND_TXS_BATCH_MAX txs in one body, framed
 * as the peers' TXS frames are (docs/api.md), and admits each exactly as
 * POST /v1/txs would. A malformed body is refused whole, before any tx is
 * admitted; a well-framed batch gets one verdict per tx, in order: a tx
 * refused (bad signature, duplicate, full mempool) does not stop the others. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "nd_int.h"

/* At most this many txs per request: a bound on the answer and on the time
 * one request holds the event loop (about 30 ms of signature checks). */
#define ND_TXS_BATCH_MAX 1024u

/* Counts the entries of body, refusing it (with a reply) when it is not a
 * whole batch of 1..ND_TXS_BATCH_MAX non-empty txs. */
static bool batch_check(struct evhttp_request *req, const uint8_t *body, size_t len,
                        uint32_t *count) {
    size_t pos = 0;
    uint32_t n = 0;
    const uint8_t *tx;
    size_t tx_len;
    hm_err err;
    while ((err = nd_txs_next(body, len, &pos, &tx, &tx_len)) == HM_OK) {
        if (n == ND_TXS_BATCH_MAX) {
            nd_http_reply_error(req, 413, "too_many_txs", "a batch holds at most %u txs",
                                ND_TXS_BATCH_MAX);
            return false;
        }
        n++;
    }
    if (err != HM_ERR_NOT_FOUND) {
        nd_http_reply_error(req, 400, hm_err_name(err),
                            "entry %u is %s: each tx is a 4-byte big-endian length (at least 1) "
                            "and that many bytes",
                            n, err == HM_ERR_TRUNCATED ? "cut short" : "empty");
        return false;
    }
    if (n == 0) {
        nd_http_reply_error(req, 400, "empty_batch", "the batch holds no tx");
        return false;
    }
    *count = n;
    return true;
}

/* Appends the verdict of one tx to out: {"tx": id} when admitted, with
 * "error" and "message" when not (no "tx" when the bytes did not decode). */
static bool verdict_append(struct evbuffer *out, bool first, hm_err err,
                           const uint8_t id[HM_HASH_LEN], bool has_id) {
    char hex[2 * HM_HASH_LEN + 1];
    hm_hex_encode(id, HM_HASH_LEN, hex);
    hex[2 * HM_HASH_LEN] = '\0';
    const char *sep = first ? "" : ",";
    if (err == HM_OK)
        return evbuffer_add_printf(out, "%s{\"tx\":\"%s\"}", sep, hex) >= 0;
    /* Codes and messages are the node's own constant texts; jansson writes
     * them as JSON all the same, so that no text can break the answer. */
    const char *code, *message;
    nd_http_tx_refusal(err, &code, &message);
    json_t *j = json_pack("{s:s, s:s}", "error", code, "message", message);
    if (j && has_id)
        json_object_set_new(j, "tx", json_string(hex));
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    bool ok = text && evbuffer_add_printf(out, "%s%s", sep, text) >= 0;
    free(text);
    return ok;
}

static void route_txs_batch(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (rest[0] != '\0') {
        nd_http_reply_error(req, 404, "not_found", "no such resource");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        nd_http_reply_error(req, 405, "method_not_allowed", "use POST to submit a batch of txs");
        return;
    }
    const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    /* the media type, with parameters after a ';' allowed */
    if (!ctype || strncmp(ctype, "application/octet-stream", 24) != 0 ||
        (ctype[24] != '\0' && ctype[24] != ';' && ctype[24] != ' ')) {
        nd_http_reply_error(req, 415, "unsupported_media_type",
                            "a batch is sent as application/octet-stream");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    /* one contiguous view of the body: the entries are read in place */
    const uint8_t *body = len ? evbuffer_pullup(in, (ev_ssize_t)len) : (const uint8_t *)"";
    uint32_t count = 0;
    if (!body) {
        nd_http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    if (!batch_check(req, body, len, &count))
        return;
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        nd_http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    /* the verdicts first, the counts that head the answer after */
    uint32_t accepted = 0;
    size_t pos = 0;
    const uint8_t *tx;
    size_t tx_len;
    bool ok = true;
    for (uint32_t i = 0; i < count; i++) {
        hm_err err = nd_txs_next(body, len, &pos, &tx, &tx_len);
        assert(err == HM_OK); /* batch_check walked the same bytes */
        uint8_t id[HM_HASH_LEN];
        err = nd_node_submit_tx(n, tx, tx_len, id);
        /* the id is known (non-zero) once the tx decoded, whatever came after */
        static const uint8_t no_id[HM_HASH_LEN];
        bool has_id = memcmp(id, no_id, HM_HASH_LEN) != 0;
        if (err == HM_OK)
            accepted++;
        ok = ok && verdict_append(out, i == 0, err, id, has_id);
    }
    struct evbuffer *reply = evbuffer_new();
    ok = ok && reply &&
         evbuffer_add_printf(reply, "{\"accepted\":%u,\"refused\":%u,\"results\":[", accepted,
                             count - accepted) >= 0 &&
         evbuffer_add_buffer(reply, out) == 0 && evbuffer_add(reply, "]}\n", 3) == 0;
    evbuffer_free(out);
    if (!ok) {
        if (reply)
            evbuffer_free(reply);
        /* the txs admitted so far stay admitted: their ids are in the pool */
        nd_http_reply_error(req, 500, "internal", "out of memory writing the answer");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    nd_http_send(req, 202, NULL, reply);
    evbuffer_free(reply);
}

hm_err nd_http_txs_batch_register(nd_node *n) {
    return nd_http_add_route(n, "/v1/txs/batch", route_txs_batch, NULL);
}
