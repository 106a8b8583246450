/* node/http_provenance.c — provenance's read API: an item's status,
 * custodian, registration and event history with each record's proof; a
 * product; a brand's items; events by GTIN, lot, bizStep and time range; one
 * event; a member. All paginated with bounded page sizes and opaque cursors.
 *
 * Layer: node/. Answers come from the committed state through the queries of
 * contracts/ct_provenance.h; a record's proof reaches the block through
 * nd_node_tx_locate / nd_node_tx_inclusion_proof. This file never writes
 * state and never blocks the loop. Routes (docs/provenance.md, "HTTP API"):
 *
 *   GET /v1/prov/items/{gtin}/{serial}
 *   GET /v1/prov/items/{gtin}/{serial}/history?after=&limit=
 *   GET /v1/prov/products/{gtin}
 *   GET /v1/prov/brands/{member id}/items?after=&limit=
 *   GET /v1/prov/events?gtin=&lot=&bizStep=&from=&to=&after=&limit=
 *   GET /v1/prov/events/{event hash hex | ni:///sha-256;...}
 *   GET /v1/prov/members/{key} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "ct_gs1.h"
#include "nd.h"

#define PAGE_DEFAULT 100
#define HISTORY_INLINE 100 /* history entries embedded in an item answer */

/* ------------------------------------------------------------ helpers */

static json_t *hex_json(const uint8_t *data, size_t len) {
    char buf[2 * CT_KEY_MAX + 1];
    if (len > CT_KEY_MAX)
        return json_null();
    hm_hex_encode(data, len, buf);
    return json_string(buf);
}

/* limit and cursor: false after replying 400. */
static bool page_params(struct evhttp_request *req, uint32_t *limit, uint8_t *after,
                        size_t *after_len) {
    char text[2 * CT_KEY_MAX + 2];
    *limit = PAGE_DEFAULT;
    *after_len = 0;
    uint64_t v = 0;
    int got = nd_http_query_param(req, "limit", text, sizeof text, "bad_request");
    if (got < 0)
        return false;
    if (got > 0) {
        if (!nd_parse_u64_text(text, &v) || v == 0 || v > CT_PAGE_MAX) {
            nd_http_reply_error(req, 400, "bad_request", "limit must be 1..%d", CT_PAGE_MAX);
            return false;
        }
        *limit = (uint32_t)v;
    }
    got = nd_http_query_param(req, "after", text, sizeof text, "bad_request");
    if (got < 0)
        return false;
    if (got > 0 && hm_hex_decode_any(text, after, CT_KEY_MAX, after_len) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_request", "after must be a cursor from a previous page");
        return false;
    }
    return true;
}

static void time_iso(uint64_t ms, char out[40]) {
    int64_t days = (int64_t)(ms / 86400000);
    uint64_t rem = ms % 86400000;
    /* civil_from_days (H. Hinnant), integer only */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, 40, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y, m, d,
             (unsigned)(rem / 3600000), (unsigned)(rem / 60000 % 60), (unsigned)(rem / 1000 % 60),
             (unsigned)(rem % 1000));
}

static void reply_store_error(struct evhttp_request *req, hm_err err, const char *what) {
    if (err == HM_ERR_NOT_FOUND)
        nd_http_reply_error(req, 404, "not_found", "%s not found", what);
    else if (err == HM_ERR_BAD_VALUE || err == HM_ERR_ARG)
        nd_http_reply_error(req, 400, "bad_request", "malformed %s", what);
    else
        nd_http_reply_error(req, 500, "internal", "state read failed: %s", hm_err_name(err));
}

/* A record's proof up to its block: record -> records root (the batch),
 * tx -> block tx root; the block header and certificate complete it. */
static json_t *record_proof_json(nd_node *n, const uint8_t tx_id[HM_HASH_LEN], uint32_t index) {
    ct_record_proof *p = malloc(sizeof *p);
    if (p == NULL)
        return json_null();
    json_t *o = json_object();
    if (ct_query_record_proof(nd_node_state_store(n), tx_id, index, p) == HM_OK) {
        json_t *path = json_array();
        for (size_t i = 0; i < p->path_len; i++)
            json_array_append_new(path, hex_json(p->path[i], HM_HASH_LEN));
        json_object_set_new(o, "leaf_hash", hex_json(p->leaf_hash, HM_HASH_LEN));
        json_object_set_new(o, "index", json_integer((json_int_t)p->index));
        json_object_set_new(o, "tree_size", json_integer((json_int_t)p->tree_size));
        json_object_set_new(o, "records_root", hex_json(p->root, HM_HASH_LEN));
        json_object_set_new(o, "path", path);
    }
    free(p);
    json_object_set_new(o, "tx", hex_json(tx_id, HM_HASH_LEN));
    uint64_t height = 0;
    uint32_t tx_index = 0;
    if (nd_node_tx_locate(n, tx_id, &height, &tx_index) == HM_OK) {
        json_object_set_new(o, "height", json_integer((json_int_t)height));
        json_object_set_new(o, "tx_index", json_integer((json_int_t)tx_index));
        uint8_t(*proof)[HM_HASH_LEN] = malloc(HM_MERKLE_PROOF_MAX * HM_HASH_LEN);
        size_t proof_len = 0;
        uint64_t tree_size = 0;
        if (proof != NULL && nd_node_tx_inclusion_proof(n, height, tx_index, proof, &proof_len,
                                                        &tree_size) == HM_OK) {
            json_t *path = json_array();
            for (size_t i = 0; i < proof_len; i++)
                json_array_append_new(path, hex_json(proof[i], HM_HASH_LEN));
            json_object_set_new(o, "tx_path", path);
            json_object_set_new(o, "block_txs", json_integer((json_int_t)tree_size));
        }
        free(proof);
    }
    return o;
}

static json_t *biz_list_json(const ct_event_biz *b, uint32_t n, const char *value_key) {
    json_t *list = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_t *e = json_object();
        if (b[i].type[0])
            json_object_set_new(e, "type", json_string(b[i].type));
        json_object_set_new(e, value_key, json_string(b[i].value));
        json_array_append_new(list, e);
    }
    return list;
}

static const char *const TYPE_NAMES[] = {"", "ObjectEvent", "AggregationEvent", "TransactionEvent",
                                         "TransformationEvent"};
static const char *const ACTION_NAMES[] = {"", "ADD", "OBSERVE", "DELETE"};

/* The fields a record keeps only inside its pre-hash string (quantities,
 * sensor data, ILMD, persistentDisposition, certificationInfo,
 * transformationID, extensions), read back by contracts/epcis_out.c and set
 * over the record's own fields (which they repeat, extensions of readPoint
 * and bizLocation added). Extension prefixes the standard context lacks go
 * in "@context" (an object, which the EPCIS routes merge with the standard
 * context). Without a readable pre-hash the event says so in
 * "hallmark:incomplete" instead of leaving those fields out silently. */
static void prehash_fields(json_t *o, const ct_event_record *ev) {
    char note[400];
    if (ev->prehash_len == 0) {
        snprintf(note, sizeof note,
                 "the canonical form of this event is not stored (it was over %d bytes, or its "
                 "record would have been over %d): any quantities, sensor data, ILMD, "
                 "persistentDisposition, certificationInfo, transformationID and extensions it "
                 "has are not shown (the eventID covers them)",
                 CT_PREHASH_MAX, CT_RECORD_MAX);
        json_object_set_new(o, "hallmark:incomplete", json_string(note));
        return;
    }
    json_t *full = NULL, *ctx = NULL;
    char why[200];
    if (ct_epcis_prehash_json(ev->prehash, ev->prehash_len, &full, &ctx, why, sizeof why) !=
        HM_OK) {
        snprintf(note, sizeof note,
                 "the stored canonical form of this event could not be read back (%s): only the "
                 "fields of its record are shown",
                 why);
        json_object_set_new(o, "hallmark:incomplete", json_string(note));
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(full, k, v) json_object_set(o, k, v);
    if (json_object_size(ctx) > 0)
        json_object_set(o, "@context", ctx);
    json_decref(full);
    json_decref(ctx);
}

/* An event record as EPCIS 2.0 JSON-LD: the fields Hallmark stores, and
 * those its pre-hash string carries (prehash_fields). The canonical form
 * itself is in "hallmark:prehash" when with_chain and the record carries it. */
json_t *nd_prov_event_json(const ct_event_record *ev, bool with_chain) {
    json_t *o = json_object();
    char id[CT_EPCIS_HASH_ID_LEN + 1];
    char t[40];
    ct_epcis_hash_id(ev->event_hash, id);
    time_iso(ev->event_time_ms, t);
    json_object_set_new(o, "type", json_string(TYPE_NAMES[ev->type <= 4 ? ev->type : 0]));
    json_object_set_new(o, "eventID", json_string(id));
    json_object_set_new(o, "eventTime", json_string(t));
    json_object_set_new(o, "eventTimeZoneOffset", json_string(ev->tz_offset));
    if (ev->type != CT_EPCIS_TRANSFORMATION && ev->action <= 3)
        json_object_set_new(o, "action", json_string(ACTION_NAMES[ev->action]));
    if (ev->parent[0])
        json_object_set_new(o, "parentID", json_string(ev->parent));
    const char *list_name = ev->type == CT_EPCIS_AGGREGATION      ? "childEPCs"
                            : ev->type == CT_EPCIS_TRANSFORMATION ? "inputEPCList"
                                                                  : "epcList";
    json_t *epcs = json_array();
    json_t *chain = json_object();
    for (uint32_t i = 0; i < ev->epc_count; i++) {
        json_array_append_new(epcs, json_string(ev->epcs[i].epc));
        json_object_set_new(chain, ev->epcs[i].epc, hex_json(ev->epcs[i].prev_hash, 32));
    }
    json_object_set_new(o, list_name, epcs);
    if (ev->output_count > 0) {
        json_t *outs = json_array();
        for (uint32_t i = 0; i < ev->output_count; i++) {
            json_array_append_new(outs, json_string(ev->outputs[i].epc));
            json_object_set_new(chain, ev->outputs[i].epc, hex_json(ev->outputs[i].prev_hash, 32));
        }
        json_object_set_new(o, "outputEPCList", outs);
    }
    if (ev->biz_step[0])
        json_object_set_new(o, "bizStep", json_string(ev->biz_step));
    if (ev->disposition[0])
        json_object_set_new(o, "disposition", json_string(ev->disposition));
    if (ev->read_point[0])
        json_object_set_new(o, "readPoint", json_pack("{s:s}", "id", ev->read_point));
    if (ev->biz_location[0])
        json_object_set_new(o, "bizLocation", json_pack("{s:s}", "id", ev->biz_location));
    if (ev->biz_count)
        json_object_set_new(o, "bizTransactionList",
                            biz_list_json(ev->biz, ev->biz_count, "bizTransaction"));
    if (ev->source_count)
        json_object_set_new(o, "sourceList",
                            biz_list_json(ev->sources, ev->source_count, "source"));
    if (ev->dest_count)
        json_object_set_new(o, "destinationList",
                            biz_list_json(ev->dests, ev->dest_count, "destination"));
    prehash_fields(o, ev);
    if (with_chain) {
        json_object_set_new(o, "hallmark:previous", chain);
        if (ev->prehash_len > 0)
            json_object_set_new(o, "hallmark:prehash", json_string(ev->prehash));
    } else {
        json_decref(chain);
    }
    return o;
}

/* One stored event with its proof; NULL when not found (or on error). */
static json_t *stored_event_json(nd_node *n, const uint8_t hash[HM_HASH_LEN], hm_err *err_out) {
    ct_stored_event se;
    hm_err err = ct_query_event(nd_node_state_store(n), hash, &se);
    *err_out = err;
    if (err != HM_OK)
        return NULL;
    ct_event_record *ev = malloc(sizeof *ev);
    json_t *o = NULL;
    if (ev != NULL && ct_event_record_decode(se.record, se.record_len, ev) == HM_OK) {
        o = nd_prov_event_json(ev, true);
        json_object_set_new(o, "hallmark:recordedBy", hex_json(se.signer.bytes, 32));
        json_object_set_new(o, "hallmark:record", hex_json(se.record, se.record_len));
        json_object_set_new(o, "hallmark:proof", record_proof_json(n, se.tx_id, se.index));
    } else {
        *err_out = ev == NULL ? HM_ERR_NOMEM : HM_ERR_IO;
    }
    free(ev);
    ct_stored_event_clear(&se);
    return o;
}

typedef struct {
    json_t *list;
} hash_collect;

static bool collect_hash(void *arg, const uint8_t hash[HM_HASH_LEN]) {
    hash_collect *c = arg;
    char id[CT_EPCIS_HASH_ID_LEN + 1];
    ct_epcis_hash_id(hash, id);
    json_array_append_new(c->list, json_string(id));
    return true;
}

static bool collect_item(void *arg, const char *gtin14, const char *serial) {
    json_t *list = arg;
    char path[CT_URI_MAX + 32];
    snprintf(path, sizeof path, "/01/%s/21/%s", gtin14, serial);
    json_array_append_new(
        list, json_pack("{s:s, s:s, s:s}", "gtin", gtin14, "serial", serial, "path", path));
    return true;
}

/* ------------------------------------------------------------- items */

static const char *item_status_word(const ct_item_status *st) {
    if (st->recalled)
        return "recalled";
    if (st->claimed)
        return "claimed";
    return "genuine";
}

static void reply_item(nd_node *n, struct evhttp_request *req, const char *gtin,
                       const char *serial) {
    ct_item_status *st = malloc(sizeof *st);
    if (st == NULL) {
        nd_http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    const ct_store *s = nd_node_state_store(n);
    hm_err err = ct_query_item(s, gtin, serial, st);
    if (err != HM_OK) {
        free(st);
        reply_store_error(req, err, "item");
        return;
    }
    char path[CT_URI_MAX + 32], t[40];
    snprintf(path, sizeof path, "/01/%s/21/%s", gtin, serial);
    json_t *o = json_object();
    json_object_set_new(o, "gtin", json_string(gtin));
    json_object_set_new(o, "serial", json_string(serial));
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "status", json_string(item_status_word(st)));
    json_object_set_new(o, "lot", json_string(st->record.lot));
    json_object_set_new(o, "expiry", json_string(st->record.expiry));
    json_object_set_new(o, "brand", hex_json(st->brand.bytes, 32));
    json_object_set_new(o, "custodian", hex_json(st->custodian.bytes, 32));
    json_object_set_new(o, "product_hash", hex_json(st->record.product_hash, 32));
    json_object_set_new(o, "recalled", json_boolean(st->recalled));
    if (st->recalled)
        json_object_set_new(o, "recall_reason", json_string(st->recall_reason));
    json_object_set_new(o, "claimable", json_boolean(st->record.has_code && !st->claimed));
    json_object_set_new(o, "claimed", json_boolean(st->claimed));
    if (st->claimed) {
        time_iso(st->claimed_ms, t);
        json_object_set_new(o, "claimed_at", json_string(t));
        json_object_set_new(o, "message",
                            json_string("this item was already claimed: if you were just sold it "
                                        "as new, its code may have been copied"));
    }
    json_object_set_new(o, "event_count", json_integer(st->event_count));
    json_object_set_new(o, "last_event", hex_json(st->last_event, 32));
    /* The registration record and its proof. */
    uint8_t rec[CT_RECORD_MAX];
    hm_writer w;
    hm_writer_init(&w, rec, sizeof rec);
    if (ct_item_record_encode(&st->record, &w) == HM_OK)
        json_object_set_new(o, "record", hex_json(rec, w.len));
    json_object_set_new(o, "registration", record_proof_json(n, st->reg_tx, st->reg_index));
    ct_product_body *p = malloc(sizeof *p);
    ct_member_id owner;
    if (p != NULL && ct_query_product(s, gtin, p, &owner) == HM_OK)
        json_object_set_new(o, "product",
                            json_pack("{s:s, s:s, s:s}", "name", p->name, "description",
                                      p->description, "image_url", p->image_url));
    free(p);
    ct_member m;
    ct_member_id brand = st->brand;
    if (ct_query_member_id(s, &brand, &m) == HM_OK)
        json_object_set_new(o, "brand_name", json_string(m.name));
    /* The first page of history, with each event's proof. */
    hash_collect c = {.list = json_array()};
    uint8_t next[CT_KEY_MAX];
    size_t next_len = 0;
    err = ct_query_item_history(s, gtin, serial, NULL, 0, HISTORY_INLINE, collect_hash, &c, next,
                                &next_len);
    json_t *events = json_array();
    size_t i;
    json_t *idv;
    json_array_foreach(c.list, i, idv) {
        uint8_t h[HM_HASH_LEN];
        hm_err e2 = ct_epcis_hash_id_parse(json_string_value(idv), h);
        json_t *ej = e2 == HM_OK ? stored_event_json(n, h, &e2) : NULL;
        json_array_append_new(events, ej ? ej : json_pack("{s:O}", "eventID", idv));
    }
    json_decref(c.list);
    json_object_set_new(o, "history", events);
    if (next_len > 0)
        json_object_set_new(o, "history_next", hex_json(next, next_len));
    free(st);
    nd_http_reply_json(req, 200, o);
}

static void reply_history(nd_node *n, struct evhttp_request *req, const char *gtin,
                          const char *serial) {
    uint32_t limit;
    uint8_t after[CT_KEY_MAX], next[CT_KEY_MAX];
    size_t after_len, next_len = 0;
    if (!page_params(req, &limit, after, &after_len))
        return;
    hash_collect c = {.list = json_array()};
    hm_err err =
        ct_query_item_history(nd_node_state_store(n), gtin, serial, after_len ? after : NULL,
                              after_len, limit, collect_hash, &c, next, &next_len);
    if (err != HM_OK) {
        json_decref(c.list);
        reply_store_error(req, err, "history");
        return;
    }
    json_t *o = json_pack("{s:o}", "events", c.list);
    if (next_len > 0)
        json_object_set_new(o, "next", hex_json(next, next_len));
    nd_http_reply_json(req, 200, o);
}

/* Splits "a/b[/c]" into up to 3 segments (each < cap). */
static int split_path(const char *rest, char seg[3][CT_URI_MAX + 1]) {
    int n = 0;
    const char *p = rest;
    while (*p != '\0' && n < 3) {
        size_t len = strcspn(p, "/");
        if (len == 0 || len > CT_URI_MAX)
            return -1;
        char raw[CT_URI_MAX + 1];
        memcpy(raw, p, len);
        raw[len] = '\0';
        size_t dlen = 0;
        char *dec = evhttp_uridecode(raw, 0, &dlen);
        if (dec == NULL || dlen > CT_URI_MAX || memchr(dec, 0, dlen) != NULL) {
            free(dec);
            return -1;
        }
        memcpy(seg[n++], dec, dlen + 1);
        free(dec);
        p += len;
        if (*p == '/')
            p++;
    }
    return *p == '\0' ? n : -1;
}

static void route_items(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!nd_http_require_read(req))
        return;
    char seg[3][CT_URI_MAX + 1];
    int count = split_path(rest, seg);
    char gtin[CT_GTIN_LEN + 1];
    if (count < 2 || ct_gtin_normalize(seg[0], gtin, NULL) != HM_OK ||
        ct_gs1_serial_check(seg[1], NULL) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_request",
                            "want /v1/prov/items/{gtin}/{serial}[/history] with a valid GTIN "
                            "and serial");
        return;
    }
    if (count == 2)
        reply_item(n, req, gtin, seg[1]);
    else if (strcmp(seg[2], "history") == 0)
        reply_history(n, req, gtin, seg[1]);
    else
        nd_http_reply_error(req, 404, "not_found", "no such item resource");
}

static void route_products(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!nd_http_require_read(req))
        return;
    char gtin[CT_GTIN_LEN + 1];
    if (ct_gtin_normalize(rest, gtin, NULL) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_request", "want /v1/prov/products/{gtin}");
        return;
    }
    ct_product_body *p = malloc(sizeof *p);
    if (p == NULL) {
        nd_http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    ct_member_id owner;
    hm_err err = ct_query_product(nd_node_state_store(n), gtin, p, &owner);
    if (err != HM_OK) {
        free(p);
        reply_store_error(req, err, "product");
        return;
    }
    /* The encoded body: four length-prefixed strings at their maxima. */
    uint8_t buf[CT_GTIN_LEN + CT_PRODUCT_NAME_MAX + CT_PRODUCT_DESC_MAX + CT_PRODUCT_URL_MAX + 16];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    uint8_t h[HM_HASH_LEN];
    memset(h, 0, sizeof h);
    if (ct_product_encode(p, &w) == HM_OK)
        hm_sha256(buf, w.len, h);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "gtin", gtin, "name", p->name, "description",
                          p->description, "image_url", p->image_url);
    json_object_set_new(o, "brand", hex_json(owner.bytes, 32));
    json_object_set_new(o, "product_hash", hex_json(h, 32));
    free(p);
    nd_http_reply_json(req, 200, o);
}

static void route_brands(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!nd_http_require_read(req))
        return;
    ct_member_id brand;
    if (strlen(rest) != 64 + 6 || strcmp(rest + 64, "/items") != 0) {
        nd_http_reply_error(req, 400, "bad_request", "want /v1/prov/brands/{member id}/items");
        return;
    }
    char hex[65];
    memcpy(hex, rest, 64);
    hex[64] = '\0';
    if (hm_hex_decode(hex, brand.bytes, 32) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_request", "member id must be 64 hex digits");
        return;
    }
    uint32_t limit;
    uint8_t after[CT_KEY_MAX], next[CT_KEY_MAX];
    size_t after_len, next_len = 0;
    if (!page_params(req, &limit, after, &after_len))
        return;
    json_t *list = json_array();
    hm_err err = ct_query_brand_items(nd_node_state_store(n), &brand, after_len ? after : NULL,
                                      after_len, limit, collect_item, list, next, &next_len);
    if (err != HM_OK) {
        json_decref(list);
        reply_store_error(req, err, "cursor");
        return;
    }
    json_t *o = json_pack("{s:o}", "items", list);
    if (next_len > 0)
        json_object_set_new(o, "next", hex_json(next, next_len));
    nd_http_reply_json(req, 200, o);
}

/* Parses the event filter from the query; false after replying 400. */
static bool event_filter(struct evhttp_request *req, ct_event_filter *f) {
    memset(f, 0, sizeof *f);
    char text[CT_URI_MAX + 1];
    uint64_t v;
    int got = nd_http_query_param(req, "gtin", text, sizeof text, "bad_request");
    if (got < 0)
        return false;
    if (got > 0 && ct_gtin_normalize(text, f->gtin, NULL) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_request", "gtin is not a valid GTIN");
        return false;
    }
    got = nd_http_query_param(req, "lot", text, sizeof text, "bad_request");
    if (got < 0)
        return false;
    if (got > 0) {
        if (f->gtin[0] == '\0' || strlen(text) > CT_LOT_MAX ||
            ct_gs1_serial_check(text, NULL) != HM_OK) {
            nd_http_reply_error(req, 400, "bad_request", "lot needs gtin and a valid lot");
            return false;
        }
        strcpy(f->lot, text);
    }
    got = nd_http_query_param(req, "bizStep", text, sizeof text, "bad_request");
    if (got < 0)
        return false;
    if (got > 0) {
        /* Bare CBV words as the standard's query does. */
        int n = strchr(text, ':') == NULL ? snprintf(f->biz_step, sizeof f->biz_step,
                                                     "https://ref.gs1.org/cbv/BizStep-%s", text)
                                          : snprintf(f->biz_step, sizeof f->biz_step, "%s", text);
        if (n < 0 || (size_t)n >= sizeof f->biz_step) {
            nd_http_reply_error(req, 400, "bad_request", "bizStep is longer than %d bytes",
                                CT_URI_MAX);
            return false;
        }
    }
    got = nd_http_query_param(req, "from", text, sizeof text, "bad_request");
    if (got < 0)
        return false;
    if (got > 0) {
        if (!nd_parse_u64_text(text, &v)) {
            nd_http_reply_error(req, 400, "bad_request", "from is Unix milliseconds");
            return false;
        }
        f->time_from_ms = v;
    }
    got = nd_http_query_param(req, "to", text, sizeof text, "bad_request");
    if (got < 0)
        return false;
    if (got > 0) {
        if (!nd_parse_u64_text(text, &v) || v <= f->time_from_ms) {
            nd_http_reply_error(req, 400, "bad_request", "to is Unix milliseconds after from");
            return false;
        }
        f->time_to_ms = v;
    }
    return true;
}

static void route_events(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!nd_http_require_read(req))
        return;
    if (rest[0] == '/')
        rest++;
    if (rest[0] != '\0') {
        uint8_t h[HM_HASH_LEN];
        char dec[CT_EPCIS_HASH_ID_LEN + 1];
        size_t dlen = 0;
        char *d = evhttp_uridecode(rest, 0, &dlen);
        bool ok = d != NULL && dlen <= CT_EPCIS_HASH_ID_LEN;
        if (ok)
            memcpy(dec, d, dlen + 1);
        free(d);
        if (!ok ||
            (hm_hex_decode(dec, h, 32) != HM_OK && ct_epcis_hash_id_parse(dec, h) != HM_OK)) {
            nd_http_reply_error(req, 400, "bad_request",
                                "want an event hash (hex) or its ni:///sha-256;... ID");
            return;
        }
        hm_err err;
        json_t *o = stored_event_json(n, h, &err);
        if (o == NULL)
            reply_store_error(req, err, "event");
        else
            nd_http_reply_json(req, 200, o);
        return;
    }
    ct_event_filter f;
    uint32_t limit;
    uint8_t after[CT_KEY_MAX], next[CT_KEY_MAX];
    size_t after_len, next_len = 0;
    if (!event_filter(req, &f) || !page_params(req, &limit, after, &after_len))
        return;
    hash_collect c = {.list = json_array()};
    hm_err err = ct_query_events(nd_node_state_store(n), &f, after_len ? after : NULL, after_len,
                                 limit, collect_hash, &c, next, &next_len);
    if (err != HM_OK) {
        json_decref(c.list);
        reply_store_error(req, err, "query");
        return;
    }
    json_t *o = json_pack("{s:o}", "events", c.list);
    if (next_len > 0)
        json_object_set_new(o, "next", hex_json(next, next_len));
    nd_http_reply_json(req, 200, o);
}

static void route_members(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!nd_http_require_read(req))
        return;
    hm_pubkey key;
    if (strlen(rest) != 64 || hm_hex_decode(rest, key.bytes, 32) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_request", "want /v1/prov/members/{key hex}");
        return;
    }
    ct_member m;
    memset(&m, 0, sizeof m); /* an unknown key leaves m unwritten; revoked reads it */
    hm_err err = ct_query_member(nd_node_state_store(n), &key, &m);
    if (err == HM_ERR_NOT_FOUND) {
        /* A genesis admin is a member without a state entry. */
        const nd_genesis *g = nd_node_genesis(n);
        for (uint32_t i = 0; i < g->admin_count; i++)
            if (memcmp(g->admins[i].bytes, key.bytes, 32) == 0) {
                nd_http_reply_json(
                    req, 200,
                    json_pack("{s:s, s:[s], s:b}", "key", rest, "roles", "admin", "revoked", 0));
                return;
            }
        if (m.revoked) {
            nd_http_reply_json(req, 200, json_pack("{s:s, s:b}", "key", rest, "revoked", 1));
            return;
        }
    }
    if (err != HM_OK) {
        reply_store_error(req, err, "member");
        return;
    }
    json_t *roles = json_array();
    for (uint32_t bit = 1; bit != 0 && bit <= CT_ROLE_AUDITOR; bit <<= 1)
        if (m.roles & bit)
            json_array_append_new(roles, json_string(ct_role_name(bit)));
    nd_http_reply_json(req, 200,
                       json_pack("{s:s, s:s, s:o, s:b, s:I}", "key", rest, "name", m.name, "roles",
                                 roles, "revoked", m.revoked, "since_height",
                                 (json_int_t)m.since_height));
}

hm_err nd_http_provenance_register(nd_node *n) {
    hm_err err = nd_http_add_route(n, "/v1/prov/items/", route_items, NULL);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/prov/products/", route_products, NULL);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/prov/brands/", route_brands, NULL);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/prov/events", route_events, NULL);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/v1/prov/members/", route_members, NULL);
    if (err == HM_OK)
        err = nd_http_epcis_register(n);
    return err;
}
