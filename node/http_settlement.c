/* node/http_settlement.c — settlement's HTTP API: balances, statements (JSON
 * or CSV), one sale's split tree, totals per live session and per streamer,
 * contracts, and a server-sent-events feed of postings as blocks commit.
 *
 * Layer: node/. Every route is a signed read (node/http_auth.c): 401 for no
 * or a bad signature, 403 for a signer who is not a party, both decided
 * before any lookup so that neither tells whether an account exists. Answers
 * come from the committed state through the queries of
 * contracts/ct_settlement.h; this file never writes state and never blocks
 * the loop. docs/settlement.md lists the routes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "http_auth.h"
#include "nd.h"

#define STATEMENT_POSTINGS_MAX 100000
#define FEED_CLIENTS_MAX 256
#define FEED_REPLAY_BATCH 10000
#define FEED_REPLAY_MAX 100000              /* postings a reconnecting client may ask to catch up */
#define FEED_OUTPUT_MAX (64u * 1024 * 1024) /* a slower client is dropped (it resumes) */
#define FEED_KEEPALIVE_S 10

typedef struct feed_client {
    struct feed_client *next;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    struct evbuffer *out;
    hm_pubkey who;
    bool sees_all;
    uint64_t last_seq;
    void *close_ref; /* what the connection's close callback holds */
} feed_client;

typedef struct {
    nd_node *node;
    nd_auth *auth;
    feed_client *clients;
    uint32_t client_count;
    struct event *keepalive;
} settle_api;

/* ------------------------------------------------------------ helpers */

static json_t *hex_json(const uint8_t *data, size_t len) {
    char buf[2 * 64 + 1];
    hm_hex_encode(data, len, buf);
    return json_string(buf);
}

static json_t *account_json(const ct_account *a) {
    char text[CT_ACCOUNT_TEXT_LEN + 1];
    ct_account_format(a, text);
    text[CT_ACCOUNT_TEXT_LEN] = '\0';
    return json_string(text);
}

static const char *entry_name(uint8_t entry) {
    switch (entry) {
    case CT_ENTRY_SALE:
        return "sale";
    case CT_ENTRY_REFUND:
        return "refund";
    case CT_ENTRY_MATURE:
        return "mature";
    case CT_ENTRY_PAYOUT:
        return "payout";
    default:
        return "unknown";
    }
}

static json_t *posting_json(const ct_posting *p) {
    return json_pack(
        "{s:I, s:I, s:I, s:s, s:o, s:o, s:s, s:o, s:s, s:s, s:I}", "seq", (json_int_t)p->seq,
        "height", (json_int_t)p->height, "time_ms", (json_int_t)p->time_ms, "entry",
        entry_name(p->entry), "tx", hex_json(p->tx_id, HM_HASH_LEN), "platform",
        hex_json(p->platform.bytes, HM_PUBKEY_LEN), "order_id", p->order_id, "account",
        account_json(&p->account), "currency", p->currency, "bucket",
        p->bucket == CT_BUCKET_PENDING ? "pending" : "available", "amount", (json_int_t)p->amount);
}

/* Splits rest at the first '/' into a copy of the head (cap bytes) and the
 * tail after it (NULL when there is no '/'). False if the head is too long. */
static bool split_segment(const char *rest, char *head, size_t cap, const char **tail) {
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (len >= cap)
        return false;
    memcpy(head, rest, len);
    head[len] = '\0';
    *tail = slash ? slash + 1 : NULL;
    return true;
}

/* Percent-decodes a path segment into out (cap bytes); false if too long. */
static bool decode_segment(const char *text, char *out, size_t cap) {
    size_t len = 0;
    char *decoded = evhttp_uridecode(text, 0, &len);
    if (decoded == NULL)
        return false;
    bool ok = len < cap && memchr(decoded, 0, len) == NULL;
    if (ok)
        memcpy(out, decoded, len + 1);
    free(decoded);
    return ok;
}

static bool parse_key(const char *hex, hm_pubkey *out) {
    return hm_hex_decode(hex, out->bytes, HM_PUBKEY_LEN) == HM_OK;
}

/* Account text or a bare key (its member account). */
static bool parse_account(const char *text, ct_account *out) {
    if (strlen(text) == 2 * HM_PUBKEY_LEN) {
        out->kind = CT_ACCOUNT_MEMBER;
        return parse_key(text, &out->owner);
    }
    return ct_account_parse(text, out) == HM_OK;
}

static void forbidden(struct evhttp_request *req) {
    nd_http_reply_error(req, 403, "forbidden", "the signer may not read this");
}

static void reply_nomem(struct evhttp_request *req) {
    nd_http_reply_error(req, 500, "internal", "out of memory");
}

static void reply_read_failed(struct evhttp_request *req, hm_err err) {
    nd_http_reply_error(req, 500, "internal", "state read failed: %s", hm_err_name(err));
}

/* Authenticates a route's request: its api (the route's arg) with signer
 * set, or NULL after a reply. */
static settle_api *authenticate(void *arg, struct evhttp_request *req, hm_pubkey *signer) {
    settle_api *api = arg;
    if (!nd_http_require_read(req) ||
        nd_auth_check(api->auth, api->node, req, nd_auth_now_ms(), signer) != 0)
        return NULL;
    return api;
}

static bool same_key(const hm_pubkey *a, const hm_pubkey *b) {
    return memcmp(a->bytes, b->bytes, HM_PUBKEY_LEN) == 0;
}

/* ------------------------------------------------------------ accounts */

static bool collect_balance(void *arg, const ct_balance *b) {
    json_t *list = arg;
    json_array_append_new(list,
                          json_pack("{s:s, s:I, s:I, s:I}", "currency", b->currency, "pending",
                                    (json_int_t)b->pending, "available", (json_int_t)b->available,
                                    "owed", (json_int_t)(b->available < 0 ? -b->available : 0)));
    return true;
}

static void reply_balance(settle_api *api, struct evhttp_request *req, const ct_account *a) {
    json_t *list = json_array();
    hm_err err = ct_query_balances(nd_node_state_store(api->node), a, collect_balance, list);
    if (err != HM_OK && err != HM_ERR_NOT_FOUND) {
        json_decref(list);
        reply_read_failed(req, err);
        return;
    }
    /* An account with no postings has no balances: the same answer as an
     * empty one, which only its parties can see anyway. */
    nd_http_reply_json(req, 200,
                       json_pack("{s:o, s:o, s:I}", "account", account_json(a), "balances", list,
                                 "height", (json_int_t)nd_node_height(api->node)));
}

typedef struct {
    json_t *list;
    struct evbuffer *csv;
    size_t count;
    bool truncated;
} statement_out;

static bool collect_statement(void *arg, const ct_posting *p) {
    statement_out *o = arg;
    if (o->count == STATEMENT_POSTINGS_MAX) {
        o->truncated = true;
        return false;
    }
    o->count++;
    if (o->csv != NULL) {
        char tx[2 * HM_HASH_LEN + 1];
        hm_hex_encode(p->tx_id, HM_HASH_LEN, tx);
        evbuffer_add_printf(o->csv, "%llu,%llu,%llu,%s,%s,%s,%s,%lld,%s\r\n",
                            (unsigned long long)p->seq, (unsigned long long)p->time_ms,
                            (unsigned long long)p->height, entry_name(p->entry), p->order_id,
                            p->currency, p->bucket == CT_BUCKET_PENDING ? "pending" : "available",
                            (long long)p->amount, tx);
    } else {
        json_array_append_new(o->list, posting_json(p));
    }
    return true;
}

/* Any Accept header naming text/csv (a client may send several). */
static bool wants_csv(struct evhttp_request *req) {
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    for (struct evkeyval *kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next)
        if (evutil_ascii_strcasecmp(kv->key, "Accept") == 0 && strstr(kv->value, "text/csv"))
            return true;
    return false;
}

static void reply_statement(settle_api *api, struct evhttp_request *req, const ct_account *a) {
    char text[32];
    uint64_t from = 0, to = UINT64_MAX;
    /* A value too long or malformed is refused, never ignored: a dropped
     * bound would answer with more than was asked for. */
    int got = nd_http_query_param(req, "from", text, sizeof text, "bad_request");
    if (got < 0)
        return;
    if (got == 1 && !nd_parse_u64_text(text, &from)) {
        nd_http_reply_error(req, 400, "bad_request", "from must be Unix milliseconds");
        return;
    }
    if ((got = nd_http_query_param(req, "to", text, sizeof text, "bad_request")) < 0)
        return;
    if (got == 1 && !nd_parse_u64_text(text, &to)) {
        nd_http_reply_error(req, 400, "bad_request", "to must be Unix milliseconds");
        return;
    }
    if (from > to) {
        nd_http_reply_error(req, 400, "bad_request", "from is after to");
        return;
    }
    statement_out o = {NULL, NULL, 0, false};
    bool csv = wants_csv(req);
    if (csv) {
        o.csv = evbuffer_new();
        if (o.csv == NULL) {
            reply_nomem(req);
            return;
        }
        evbuffer_add_printf(o.csv,
                            "seq,time_ms,height,entry,order_id,currency,bucket,amount,tx\r\n");
    } else {
        o.list = json_array();
    }
    hm_err err =
        ct_query_statement(nd_node_state_store(api->node), a, from, to, collect_statement, &o);
    if (err != HM_OK) {
        json_decref(o.list);
        if (o.csv)
            evbuffer_free(o.csv);
        reply_read_failed(req, err);
        return;
    }
    if (csv) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", "text/csv");
        if (o.truncated)
            evhttp_add_header(h, "X-Hallmark-Truncated", "true");
        nd_http_send(req, 200, "OK", o.csv);
        evbuffer_free(o.csv);
        return;
    }
    nd_http_reply_json(req, 200,
                       json_pack("{s:o, s:I, s:I, s:o, s:b}", "account", account_json(a), "from",
                                 (json_int_t)from, "to",
                                 (json_int_t)(to > INT64_MAX ? INT64_MAX : to), "postings", o.list,
                                 "truncated", o.truncated));
}

/* Whether the signer may read what `owner` holds: the owner itself or an
 * overseer, who may read everything. */
static bool owner_or_overseer(settle_api *api, const hm_pubkey *signer, const hm_pubkey *owner) {
    return same_key(owner, signer) || nd_auth_is_overseer(api->node, signer);
}

/* owner_or_overseer, or false after replying 403. */
static bool may_read(settle_api *api, struct evhttp_request *req, const hm_pubkey *signer,
                     const hm_pubkey *owner) {
    if (owner_or_overseer(api, signer, owner))
        return true;
    forbidden(req);
    return false;
}

static void route_accounts(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)n;
    hm_pubkey signer;
    settle_api *api = authenticate(arg, req, &signer);
    if (api == NULL)
        return;
    char id[CT_ACCOUNT_TEXT_LEN + 2];
    const char *tail;
    ct_account a;
    if (!split_segment(rest, id, sizeof id, &tail) || !parse_account(id, &a)) {
        nd_http_reply_error(req, 400, "bad_request", "an account is m<hex>, s<hex> or p<hex>");
        return;
    }
    /* Decided from the request alone: no lookup before this point. */
    if (!may_read(api, req, &signer, &a.owner))
        return;
    if (tail == NULL || strcmp(tail, "") == 0 || strcmp(tail, "balance") == 0)
        reply_balance(api, req, &a);
    else if (strcmp(tail, "statement") == 0)
        reply_statement(api, req, &a);
    else
        nd_http_reply_error(req, 404, "not_found", "no such resource");
}

/* ------------------------------------------------------------ sales */

static const char *party_kind_name(uint8_t kind) {
    return kind == CT_PARTY_SPLIT ? "split" : "account";
}

static json_t *sale_json(const ct_sale *s) {
    json_t *tree = json_array();
    for (uint32_t i = 0; i < s->node_count; i++) {
        const ct_sale_node *nd = &s->nodes[i];
        json_t *node =
            json_pack("{s:I, s:s, s:o, s:b, s:I, s:I, s:I, s:I, s:I}", "index", (json_int_t)i,
                      "kind", party_kind_name(nd->party.kind), "id", hex_json(nd->party.id, 32),
                      "fee", nd->is_fee != 0, "share_bps", (json_int_t)nd->share_bps, "depth",
                      (json_int_t)nd->depth, "amount", (json_int_t)nd->amount, "voided",
                      (json_int_t)nd->voided, "remaining", (json_int_t)(nd->amount - nd->voided));
        json_object_set_new(node, "parent",
                            nd->parent == CT_NODE_ROOT ? json_null() : json_integer(nd->parent));
        if (nd->party.kind == CT_PARTY_SPLIT)
            json_object_set_new(node, "version", json_integer(nd->version));
        json_array_append_new(tree, node);
    }
    json_t *out =
        json_pack("{s:o, s:s, s:I, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:b, s:o, s:s}", "platform",
                  hex_json(s->platform.bytes, HM_PUBKEY_LEN), "order_id", s->body.order_id, "gross",
                  (json_int_t)s->body.gross, "currency", s->body.currency, "contract",
                  hex_json(s->body.contract_id, 32), "version", (json_int_t)s->version, "height",
                  (json_int_t)s->height, "time_ms", (json_int_t)s->time_ms, "window_end_ms",
                  (json_int_t)s->window_end_ms, "refunded", (json_int_t)s->refunded, "matured",
                  s->matured, "tx", hex_json(s->tx_id, HM_HASH_LEN), "session", s->body.session_id);
    if (s->body.has_streamer)
        json_object_set_new(out, "streamer", hex_json(s->body.streamer.bytes, HM_PUBKEY_LEN));
    if (s->body.has_item)
        json_object_set_new(
            out, "item", json_pack("{s:s, s:s}", "gtin", s->body.gtin, "serial", s->body.serial));
    json_object_set_new(out, "tree", tree);
    return out;
}

/* Parses a path rest "{platform key}/{name}" into platform and the
 * percent-decoded, non-empty name (at most name_cap - 1 bytes); false after
 * replying 400 with the route's shape `want`. */
static bool platform_and_name(struct evhttp_request *req, const char *rest, hm_pubkey *platform,
                              char *name, size_t name_cap, const char *want) {
    char platform_hex[2 * HM_PUBKEY_LEN + 2];
    const char *tail;
    if (!split_segment(rest, platform_hex, sizeof platform_hex, &tail) || tail == NULL ||
        !parse_key(platform_hex, platform) || !decode_segment(tail, name, name_cap) ||
        name[0] == '\0') {
        nd_http_reply_error(req, 400, "bad_request", "want %s", want);
        return false;
    }
    return true;
}

static bool sale_has_party(const ct_sale *s, const hm_pubkey *key) {
    if (s->body.has_streamer && same_key(&s->body.streamer, key))
        return true;
    for (uint32_t i = 0; i < s->node_count; i++)
        if (s->nodes[i].party.kind == CT_PARTY_ACCOUNT &&
            memcmp(s->nodes[i].party.id, key->bytes, HM_PUBKEY_LEN) == 0)
            return true;
    return false;
}

static void route_sales(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)n;
    hm_pubkey signer;
    settle_api *api = authenticate(arg, req, &signer);
    if (api == NULL)
        return;
    char order[CT_ORDER_ID_MAX + 1];
    hm_pubkey platform;
    if (!platform_and_name(req, rest, &platform, order, sizeof order,
                           "/v1/sales/{platform key}/{order id}"))
        return;
    bool allowed = owner_or_overseer(api, &signer, &platform);
    ct_sale *s = malloc(sizeof *s);
    if (s == NULL) {
        reply_nomem(req);
        return;
    }
    hm_err err = ct_query_sale(nd_node_state_store(api->node), &platform, order, s);
    /* A party named in the tree may read it too; a signer who is neither gets
     * the same 403 whether or not the sale exists. */
    if (!allowed && !(err == HM_OK && sale_has_party(s, &signer))) {
        free(s);
        forbidden(req);
        return;
    }
    if (err == HM_ERR_NOT_FOUND)
        nd_http_reply_error(req, 404, "not_found", "no such sale");
    else if (err != HM_OK)
        reply_read_failed(req, err);
    else
        nd_http_reply_json(req, 200, sale_json(s));
    free(s);
}

/* ------------------------------------------------------------ totals */

static json_t *totals_json(const ct_sale_totals *t, const char *currency) {
    return json_pack("{s:s, s:I, s:I, s:I, s:I}", "currency", currency, "sales",
                     (json_int_t)t->sales, "gross", (json_int_t)t->gross, "refunded",
                     (json_int_t)t->refunded, "net", (json_int_t)(t->gross - t->refunded));
}

static bool currency_param(struct evhttp_request *req, char currency[CT_CURRENCY_LEN + 1]) {
    char text[8];
    if (nd_http_query_lookup(req, "currency", text, sizeof text) != ND_QUERY_FOUND ||
        !ct_currency_is_valid(text)) {
        nd_http_reply_error(req, 400, "bad_request", "currency=CODE (ISO 4217) is required");
        return false;
    }
    memcpy(currency, text, CT_CURRENCY_LEN + 1);
    return true;
}

static void reply_totals(struct evhttp_request *req, hm_err err, const ct_sale_totals *t,
                         const char *currency) {
    ct_sale_totals zero = {0, 0, 0};
    if (err == HM_ERR_NOT_FOUND)
        nd_http_reply_json(req, 200, totals_json(&zero, currency));
    else if (err != HM_OK)
        reply_read_failed(req, err);
    else
        nd_http_reply_json(req, 200, totals_json(t, currency));
}

static void route_sessions(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)n;
    hm_pubkey signer;
    settle_api *api = authenticate(arg, req, &signer);
    if (api == NULL)
        return;
    char session[CT_SESSION_ID_MAX + 1];
    hm_pubkey platform;
    if (!platform_and_name(req, rest, &platform, session, sizeof session,
                           "/v1/sessions/{platform key}/{session}"))
        return;
    if (!may_read(api, req, &signer, &platform))
        return;
    char currency[CT_CURRENCY_LEN + 1];
    if (!currency_param(req, currency))
        return;
    ct_sale_totals t;
    hm_err err =
        ct_query_session_totals(nd_node_state_store(api->node), &platform, session, currency, &t);
    reply_totals(req, err, &t, currency);
}

static void route_streamers(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)n;
    hm_pubkey signer;
    settle_api *api = authenticate(arg, req, &signer);
    if (api == NULL)
        return;
    hm_pubkey streamer;
    char hex[2 * HM_PUBKEY_LEN + 2];
    const char *tail;
    if (!split_segment(rest, hex, sizeof hex, &tail) || !parse_key(hex, &streamer)) {
        nd_http_reply_error(req, 400, "bad_request", "want /v1/streamers/{key}");
        return;
    }
    if (tail != NULL && tail[0] != '\0') {
        nd_http_reply_error(req, 404, "not_found", "no such resource");
        return;
    }
    if (!may_read(api, req, &signer, &streamer))
        return;
    char currency[CT_CURRENCY_LEN + 1];
    if (!currency_param(req, currency))
        return;
    ct_sale_totals t;
    hm_err err = ct_query_streamer_totals(nd_node_state_store(api->node), &streamer, currency, &t);
    reply_totals(req, err, &t, currency);
}

/* ------------------------------------------------------------ splits */

static json_t *party_json(const ct_party *p) {
    return json_pack("{s:s, s:o}", "kind", party_kind_name(p->kind), "id", hex_json(p->id, 32));
}

static void route_splits(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)n;
    hm_pubkey signer;
    settle_api *api = authenticate(arg, req, &signer);
    if (api == NULL)
        return;
    uint8_t id[32];
    if (hm_hex_decode(rest, id, 32) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_request", "want /v1/splits/{64 hex id}");
        return;
    }
    ct_split_head head;
    ct_split_version *v = malloc(sizeof *v);
    if (v == NULL) {
        reply_nomem(req);
        return;
    }
    hm_err err = ct_query_split(nd_node_state_store(api->node), id, &head, v);
    if (err != HM_OK) {
        free(v);
        nd_http_reply_error(req, nd_http_status_for(err),
                            err == HM_ERR_NOT_FOUND ? "not_found" : "internal", "%s",
                            err == HM_ERR_NOT_FOUND ? "no such contract" : hm_err_name(err));
        return;
    }
    json_t *shares = json_array(), *fees = json_array();
    for (uint32_t i = 0; i < v->terms.share_count; i++) {
        json_t *s = party_json(&v->terms.shares[i].to);
        json_object_set_new(s, "bps", json_integer(v->terms.shares[i].share_bps));
        json_array_append_new(shares, s);
    }
    for (uint32_t i = 0; i < v->terms.fee_count; i++) {
        json_t *f = party_json(&v->terms.fees[i].to);
        json_object_set_new(f, "amount", json_integer((json_int_t)v->terms.fees[i].amount));
        json_array_append_new(fees, f);
    }
    nd_http_reply_json(
        req, 200,
        json_pack("{s:o, s:o, s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "id", hex_json(id, 32),
                  "creator", hex_json(head.creator.bytes, HM_PUBKEY_LEN), "name", head.name,
                  "currency", head.currency, "version", (json_int_t)v->version, "from_height",
                  (json_int_t)v->from_height, "return_window_ms",
                  (json_int_t)v->terms.return_window_ms, "fees", fees, "shares", shares));
    free(v);
}

/* ------------------------------------------------------------ the feed */

static bool client_sees(const feed_client *c, const ct_posting *p) {
    return c->sees_all || same_key(&p->account.owner, &c->who);
}

/* Appends one event to the client's pending output. */
static void client_add(feed_client *c, const ct_posting *p) {
    if (p->seq <= c->last_seq)
        return;
    c->last_seq = p->seq;
    if (!client_sees(c, p))
        return;
    json_t *j = posting_json(p);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return;
    evbuffer_add_printf(c->out, "id: %llu\nevent: posting\ndata: %s\n\n",
                        (unsigned long long)p->seq, text);
    free(text);
}

static void client_remove(settle_api *api, feed_client *c) {
    for (feed_client **pp = &api->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            api->client_count--;
            break;
        }
    }
    evbuffer_free(c->out);
    free(c);
}

typedef struct {
    settle_api *api;
    feed_client *c;
} client_ref;

static void on_client_closed(struct evhttp_connection *conn, void *arg) {
    (void)conn;
    client_ref *ref = arg;
    /* A client that went away while its stream was open (EOF, timeout):
     * evhttp detaches the unfinished request from the connection and leaves
     * it to us. Otherwise the connection still holds it and frees it. */
    struct evhttp_request *req = ref->c->req;
    bool detached = evhttp_request_get_connection(req) == NULL;
    client_remove(ref->api, ref->c);
    free(ref);
    if (detached)
        evhttp_request_free(req);
}

/* Sends what is pending; ends a client whose connection is backed up. */
static void client_flush(settle_api *api, feed_client *c) {
    if (evbuffer_get_length(c->out) == 0)
        return;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
    if (bev != NULL && evbuffer_get_length(bufferevent_get_output(bev)) > FEED_OUTPUT_MAX) {
        /* The client resumes with Last-Event-ID. Forget it first: once the
         * reply ends, evhttp may reuse or free the request. */
        struct evhttp_request *req = c->req;
        evhttp_connection_set_closecb(c->conn, NULL, NULL);
        free(c->close_ref);
        client_remove(api, c);
        evhttp_send_reply_end(req);
        return;
    }
    evhttp_send_reply_chunk(c->req, c->out);
}

typedef struct {
    settle_api *api;
} commit_walk;

static bool visit_commit_write(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                               size_t val_len) {
    commit_walk *w = arg;
    if (val == NULL || key_len != 4 + 8 || memcmp(key, "s/j/", 4) != 0)
        return true;
    ct_posting p;
    if (ct_posting_decode(val, val_len, &p) != HM_OK)
        return true;
    for (feed_client *c = w->api->clients; c; c = c->next)
        client_add(c, &p);
    return true;
}

static void on_commit(nd_node *n, const hm_block_header *header, const nd_block_txs *txs,
                      const ct_exec *exec, void *arg) {
    (void)txs;
    (void)n;
    (void)header;
    settle_api *api = arg;
    if (api->clients == NULL)
        return;
    commit_walk w = {api};
    if (ct_exec_foreach_write(exec, visit_commit_write, &w) != HM_OK)
        return;
    feed_client *c = api->clients;
    while (c) {
        feed_client *next = c->next; /* client_flush may end c */
        client_flush(api, c);
        c = next;
    }
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    settle_api *api = arg;
    feed_client *c = api->clients;
    while (c) {
        feed_client *next = c->next;
        evbuffer_add_printf(c->out, ": keepalive\n\n");
        client_flush(api, c);
        c = next;
    }
}

static bool replay_visit(void *arg, const ct_posting *p) {
    client_add(arg, p);
    return true;
}

static void route_feed(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    hm_pubkey signer;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* a stream has no length to announce */
        nd_http_reply_error(req, 405, "method_not_allowed", "the feed is read with GET");
        return;
    }
    settle_api *api = authenticate(arg, req, &signer);
    if (api == NULL)
        return;
    if (strcmp(rest, "") != 0) {
        nd_http_reply_error(req, 404, "not_found", "no such feed");
        return;
    }
    if (api->client_count >= FEED_CLIENTS_MAX) {
        nd_http_reply_error(req, 503, "busy", "too many feed clients");
        return;
    }
    const ct_store *store = nd_node_state_store(n);
    uint64_t after = 0;
    bool have_after = true;
    const char *last_id =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
    char text[32];
    int got;
    if (last_id != NULL) {
        if (!nd_parse_u64_text(last_id, &after)) {
            nd_http_reply_error(req, 400, "bad_request", "Last-Event-ID must be a sequence number");
            return;
        }
    } else if ((got = nd_http_query_param(req, "after", text, sizeof text, "bad_request")) != 0) {
        if (got < 0)
            return;
        if (!nd_parse_u64_text(text, &after)) {
            nd_http_reply_error(req, 400, "bad_request", "after must be a sequence number");
            return;
        }
    } else {
        have_after = false; /* no id: from the journal's end */
    }
    /* Catching up runs on the loop: bound it. A client further behind reads
     * its statement first, then resumes from a recent id. */
    uint64_t last_seq = 0;
    if (ct_query_journal_last_seq(store, &last_seq) != HM_OK) {
        nd_http_reply_error(req, 500, "internal", "state read failed");
        return;
    }
    if (!have_after)
        after = last_seq;
    if (after < last_seq && last_seq - after > FEED_REPLAY_MAX) {
        nd_http_reply_error(req, 400, "too_far_behind",
                            "more than %d postings to catch up: read the statement, then resume "
                            "after %llu or later",
                            FEED_REPLAY_MAX, (unsigned long long)(last_seq - FEED_REPLAY_MAX));
        return;
    }
    feed_client *c = calloc(1, sizeof *c);
    client_ref *ref = calloc(1, sizeof *ref);
    if (c == NULL || ref == NULL || (c->out = evbuffer_new()) == NULL) {
        free(c);
        free(ref);
        reply_nomem(req);
        return;
    }
    c->req = req;
    c->conn = evhttp_request_get_connection(req);
    c->who = signer;
    c->sees_all = nd_auth_is_overseer(n, &signer);
    c->last_seq = after == UINT64_MAX ? after - 1 : after;
    /* Catch up from the committed journal first, in batches, then live from
     * the commit hook; last_seq makes each posting go out once. */
    for (;;) {
        uint64_t before = c->last_seq;
        if (ct_query_postings_after(store, c->last_seq, FEED_REPLAY_BATCH, replay_visit, c) !=
                HM_OK ||
            c->last_seq == before)
            break;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_send_reply_start(req, 200, "OK");
    ref->api = api;
    ref->c = c;
    c->close_ref = ref;
    c->next = api->clients;
    api->clients = c;
    api->client_count++;
    evhttp_connection_set_closecb(c->conn, on_client_closed, ref);
    evbuffer_add_printf(c->out, ": hallmark postings after %llu\n\n", (unsigned long long)after);
    client_flush(api, c);
}

/* ------------------------------------------------------------ register */

/* The node the API is registered for: registering twice for one node (two
 * setup paths) is harmless. Cleared when that node's API is freed. */
static const nd_node *registered;

/* Frees the api, its replay table, the keepalive timer and any feed client
 * still held (NULL-safe: it also undoes a registration that failed halfway).
 * Runs after the HTTP server is freed: evhttp has closed every connection
 * by then (a close callback may already have removed its client), so a
 * client left here is only memory, never a live request. */
static void settle_api_free(void *arg) {
    settle_api *api = arg;
    if (api == NULL)
        return;
    if (registered == api->node)
        registered = NULL;
    if (api->keepalive != NULL)
        event_free(api->keepalive);
    while (api->clients != NULL) {
        feed_client *c = api->clients;
        api->clients = c->next;
        evbuffer_free(c->out);
        free(c->close_ref);
        free(c);
    }
    api->client_count = 0;
    nd_auth_free(api->auth);
    free(api);
}

hm_err nd_http_settlement_register(nd_node *n) {
    if (registered == n)
        return HM_OK;
    settle_api *api = calloc(1, sizeof *api);
    if (api == NULL)
        return HM_ERR_NOMEM;
    api->node = n;
    /* The API lives as long as the node's routes: the HTTP server frees it
     * at shutdown, after the routes and the commit hook are gone. */
    hm_err err = nd_http_add_cleanup(n, settle_api_free, api);
    if (err != HM_OK) {
        free(api);
        return err;
    }
    registered = n;
    err = nd_auth_new(&api->auth);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/accounts/", route_accounts, api);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/sales/", route_sales, api);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/sessions/", route_sessions, api);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/streamers/", route_streamers, api);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/splits/", route_splits, api);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/feed/postings", route_feed, api);
    if (err == HM_OK)
        err = nd_node_on_commit(n, on_commit, api);
    if (err == HM_OK) {
        api->keepalive = event_new(nd_node_event_base(n), -1, EV_PERSIST, on_keepalive, api);
        struct timeval every = {FEED_KEEPALIVE_S, 0};
        if (api->keepalive == NULL || event_add(api->keepalive, &every) != 0)
            err = HM_ERR_NOMEM;
    }
    return err;
}
