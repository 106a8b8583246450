/* node/http_epcis.c — the EPCIS 2.0 REST binding, as far as Hallmark
 * supports it: capture of EPCIS 2.0 JSON/JSON-LD documents as capture jobs,
 * and event queries answered as EPCIS 2.0 JSON-LD with the standard's
 * perPage / nextPageToken pagination, so existing EPCIS tools can read the
 * ledger.
 *
 *   OPTIONS /epcis/capture            204 with the capture limits headers
 *   POST    /epcis/capture            202 + Location: /epcis/capture/{id}
 *   GET     /epcis/capture[/{id}]     capture jobs
 *   GET     /epcis/events[/{eventID}] EPCISQueryDocument / one event
 *
 * A capture is signed by the submitting member: the document comes with
 * Hallmark-Signer, Hallmark-Nonce and Hallmark-Signature headers, the
 * signature being the member's BIP340 tx signature over the one EVENT_RECORD
 * tx that this node rebuilds from the document and the committed state
 * (what `hallmark epcis import --capture` computes). The node holds no member
 * key: if the state moved in between, the signature does not verify and the
 * capture is refused (401), to be re-signed. All-or-nothing ("rollback", the
 * standard's default): the whole document is one tx.
 *
 * Events carry every field their stored pre-hash string holds (quantities,
 * sensor data, ILMD, extensions: nd_prov_event_json); the extension prefixes
 * of a page's events are declared once in the document's @context.
 *
 * Layer: node/. Parsing and hashing are contracts/epcis.c; state is read
 * through the committed store only. Never blocks the loop. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "ct_gs1.h"
#include "nd.h"

#define CAPTURE_EVENTS_MAX 10000 /* GS1-EPCIS-Capture-Limit */
#define CAPTURE_JOBS_MAX 1024    /* jobs remembered (oldest forgotten first) */
#define PER_PAGE_DEFAULT 30      /* the standard's default perPage */
#define PER_PAGE_MAX 1000
#define EPCIS_CONTEXT "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

typedef enum { JOB_RUNNING = 0, JOB_SUCCEEDED, JOB_FAILED } job_state;

typedef struct {
    uint64_t seq; /* 0: free slot */
    uint8_t tx_id[HM_HASH_LEN];
    uint64_t created_ms, finished_ms;
    uint32_t events;
    job_state state;
    char error[200];
} capture_job;

typedef struct {
    nd_node *node;
    capture_job jobs[CAPTURE_JOBS_MAX];
    uint64_t next_seq;
} epcis_api;

/* ------------------------------------------------------------ helpers */

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void iso_time(uint64_t ms, char out[40]) {
    time_t s = (time_t)(ms / 1000);
    struct tm tmv;
    gmtime_r(&s, &tmv);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tmv);
    snprintf(out, 40, "%s.%03uZ", base, (unsigned)(ms % 1000));
}

static void standard_headers(struct evhttp_request *req) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "GS1-EPCIS-Version", "2.0.0");
    evhttp_add_header(h, "GS1-CBV-Version", "2.0.0");
    evhttp_add_header(h, "GS1-Extensions", "");
}

static void capture_limit_headers(struct evhttp_request *req) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char v[32];
    snprintf(v, sizeof v, "%d", CAPTURE_EVENTS_MAX);
    evhttp_add_header(h, "GS1-EPCIS-Capture-Limit", v);
    snprintf(v, sizeof v, "%u", CT_EPCIS_DOC_MAX);
    evhttp_add_header(h, "GS1-EPCIS-Capture-File-Size-Limit", v);
    evhttp_add_header(h, "GS1-Capture-Error-Behaviour", "rollback");
}

/* Refuses a capture past one of the limits capture_limit_headers states. */
static void reply_over_limit(struct evhttp_request *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_over_limit(struct evhttp_request *req, const char *code, const char *fmt, ...) {
    char msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    capture_limit_headers(req);
    nd_http_reply_error(req, 413, code, "%s", msg);
}

/* A job's captureID is the id of the tx its document became: the ledger
 * keeps the outcome, so any node answers for a committed capture, also after
 * a restart (created_ms 0: the job was rebuilt from the ledger, and only its
 * block's time is known). */
static json_t *job_json(const capture_job *j) {
    char hex[2 * HM_HASH_LEN + 1], t[40];
    hm_hex_encode(j->tx_id, HM_HASH_LEN, hex);
    json_t *o = json_object();
    json_object_set_new(o, "captureID", json_string(hex));
    if (j->created_ms != 0) {
        iso_time(j->created_ms, t);
        json_object_set_new(o, "createdAt", json_string(t));
    }
    if (j->state != JOB_RUNNING) {
        iso_time(j->finished_ms, t);
        json_object_set_new(o, "finishedAt", json_string(t));
    }
    json_object_set_new(o, "running", json_boolean(j->state == JOB_RUNNING));
    json_object_set_new(o, "success", json_boolean(j->state != JOB_FAILED));
    json_object_set_new(o, "captureErrorBehaviour", json_string("rollback"));
    json_t *errors = json_array();
    if (j->state == JOB_FAILED)
        json_array_append_new(errors,
                              json_pack("{s:s, s:s}", "type", "epcisException:ValidationException",
                                        "detail", j->error));
    json_object_set_new(o, "errors", errors);
    json_object_set_new(o, "hallmark:tx", json_string(hex));
    if (j->events != 0)
        json_object_set_new(o, "hallmark:events", json_integer(j->events));
    return o;
}

/* The job of tx id: from this node's memory, else rebuilt from the committed
 * state (outcome and block time). False if neither knows it. */
static bool job_lookup(epcis_api *api, const uint8_t id[HM_HASH_LEN], capture_job *out) {
    for (size_t i = 0; i < CAPTURE_JOBS_MAX; i++) {
        const capture_job *j = &api->jobs[i];
        if (j->seq != 0 && memcmp(j->tx_id, id, HM_HASH_LEN) == 0) {
            *out = *j;
            return true;
        }
    }
    ct_result res;
    uint64_t height;
    uint32_t index;
    hm_block_header h;
    if (ct_query_tx_result(nd_node_state_store(api->node), id, &res) != HM_OK ||
        nd_node_tx_locate(api->node, id, &height, &index) != HM_OK ||
        nd_node_block_header(api->node, height, &h) != HM_OK)
        return false;
    memset(out, 0, sizeof *out);
    memcpy(out->tx_id, id, HM_HASH_LEN);
    out->finished_ms = h.time_ms;
    out->state = res.code == HM_OK ? JOB_SUCCEEDED : JOB_FAILED;
    if (res.code != HM_OK)
        snprintf(out->error, sizeof out->error, "%s (rule %u, event %u): %s", hm_err_name(res.code),
                 res.rule, res.index, res.message);
    return true;
}

static capture_job *job_find(epcis_api *api, uint64_t seq) {
    if (seq == 0)
        return NULL;
    capture_job *j = &api->jobs[seq % CAPTURE_JOBS_MAX];
    return j->seq == seq ? j : NULL;
}

/* Finishes running jobs whose tx has a result in the committed state. */
static void on_commit(nd_node *n, const hm_block_header *header, const nd_block_txs *txs,
                      const ct_exec *exec, void *arg) {
    (void)txs;
    (void)header;
    (void)exec;
    epcis_api *api = arg;
    const ct_store *s = nd_node_state_store(n);
    for (size_t i = 0; i < CAPTURE_JOBS_MAX; i++) {
        capture_job *j = &api->jobs[i];
        if (j->seq == 0 || j->state != JOB_RUNNING)
            continue;
        ct_result res;
        if (ct_query_tx_result(s, j->tx_id, &res) != HM_OK)
            continue;
        j->finished_ms = wall_ms();
        if (res.code == HM_OK) {
            j->state = JOB_SUCCEEDED;
        } else {
            j->state = JOB_FAILED;
            snprintf(j->error, sizeof j->error, "%s (rule %u, event %u): %s", hm_err_name(res.code),
                     res.rule, res.index, res.message);
        }
    }
}

/* ------------------------------------------------------------- capture */

static bool header_hex(struct evhttp_request *req, const char *name, uint8_t *out, size_t len) {
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
    return v != NULL && strlen(v) == 2 * len && hm_hex_decode(v, out, len) == HM_OK;
}

static void capture_post(epcis_api *api, struct evhttp_request *req) {
    nd_node *n = api->node;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *behaviour = evhttp_find_header(in, "GS1-Capture-Error-Behaviour");
    if (behaviour != NULL && strcmp(behaviour, "rollback") != 0) {
        nd_http_reply_error(req, 400, "unsupported",
                            "only GS1-Capture-Error-Behaviour: rollback is supported");
        return;
    }
    hm_pubkey signer;
    hm_sig sig;
    const char *nonce_text = evhttp_find_header(in, "Hallmark-Nonce");
    uint64_t nonce = 0;
    bool nonce_ok = nonce_text != NULL && nd_parse_u64_text(nonce_text, &nonce);
    if (!header_hex(req, "Hallmark-Signer", signer.bytes, HM_PUBKEY_LEN) ||
        !header_hex(req, "Hallmark-Signature", sig.bytes, HM_SIG_LEN) || !nonce_ok) {
        nd_http_reply_error(req, 401, "unauthorized",
                            "a capture is signed by the submitting member: send Hallmark-Signer, "
                            "Hallmark-Nonce and Hallmark-Signature (hallmark epcis import "
                            "--capture)");
        return;
    }
    /* An oversized document is refused before it is copied. */
    if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > CT_EPCIS_DOC_MAX) {
        reply_over_limit(req, "too_large", "document larger than %u bytes", CT_EPCIS_DOC_MAX);
        return;
    }
    size_t len = 0;
    uint8_t *body = nd_http_read_body(req, &len);
    if (body == NULL) {
        nd_http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    ct_epcis_doc *d = NULL;
    char why[300];
    hm_err err = ct_epcis_doc_parse((const char *)body, len, &d, why, sizeof why);
    free(body);
    if (err != HM_OK) {
        nd_http_reply_error(req, 400, "validation", "%s", why);
        return;
    }
    size_t count = ct_epcis_doc_count(d);
    if (count == 0) {
        ct_epcis_doc_free(d);
        nd_http_reply_error(req, 400, "validation", "the document holds no events");
        return;
    }
    if (count > CAPTURE_EVENTS_MAX) {
        ct_epcis_doc_free(d);
        reply_over_limit(req, "capture_limit", "1..%d events per capture", CAPTURE_EVENTS_MAX);
        return;
    }
    uint8_t **recs = NULL;
    size_t *lens = NULL;
    err = ct_epcis_doc_records(d, 0, count, ct_epcis_prev_from_store,
                               (void *)nd_node_state_store(n), &recs, &lens, why, sizeof why);
    ct_epcis_doc_free(d);
    if (err != HM_OK) {
        nd_http_reply_error(req, err == HM_ERR_NOMEM || err == HM_ERR_IO ? 500 : 400, "validation",
                            "%s", why);
        return;
    }
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    err = ct_epcis_tx_assemble(&w, CT_TX_EVENT_RECORD, &signer, nonce, (const uint8_t *const *)recs,
                               lens, (uint32_t)count, &sig);
    ct_epcis_records_free(recs, lens, count);
    uint8_t id[HM_HASH_LEN];
    if (err == HM_OK)
        err = nd_node_submit_tx(n, w.buf, w.len, id);
    hm_writer_free(&w);
    if (err == HM_ERR_BAD_SIG || err == HM_ERR_BAD_KEY) {
        nd_http_reply_error(req, 401, "unauthorized",
                            "the signature does not cover these events as this node sees them "
                            "(the items' last events may have changed): re-sign");
        return;
    }
    if (err != HM_OK) {
        nd_http_reply_error(req, nd_http_status_for(err), hm_err_name(err),
                            "the capture was not accepted: %s", hm_err_message(err));
        return;
    }
    uint64_t seq = ++api->next_seq;
    capture_job *j = &api->jobs[seq % CAPTURE_JOBS_MAX];
    memset(j, 0, sizeof *j);
    j->seq = seq;
    memcpy(j->tx_id, id, HM_HASH_LEN);
    j->created_ms = wall_ms();
    j->events = (uint32_t)count;
    j->state = JOB_RUNNING;
    char location[32 + 2 * HM_HASH_LEN];
    char hex[2 * HM_HASH_LEN + 1];
    hm_hex_encode(id, HM_HASH_LEN, hex);
    snprintf(location, sizeof location, "/epcis/capture/%s", hex);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", location);
    standard_headers(req);
    capture_limit_headers(req);
    nd_http_reply_json(req, 202, job_json(j));
}

static void route_capture(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)n;
    epcis_api *api = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (rest[0] == '\0') {
        if (cmd == EVHTTP_REQ_OPTIONS) {
            standard_headers(req);
            capture_limit_headers(req);
            evhttp_send_reply(req, 204, "No Content", NULL);
        } else if (cmd == EVHTTP_REQ_POST) {
            capture_post(api, req);
        } else if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) {
            json_t *list = json_array();
            for (uint64_t s = api->next_seq; s > 0 && json_array_size(list) < PER_PAGE_MAX; s--) {
                capture_job *j = job_find(api, s);
                if (j == NULL)
                    break;
                json_array_append_new(list, job_json(j));
            }
            standard_headers(req);
            nd_http_reply_json(req, 200, list);
        } else {
            nd_http_reply_error(req, 405, "method_not_allowed", "OPTIONS, POST or GET");
        }
        return;
    }
    if (!nd_http_require_read(req))
        return;
    const char *p = rest[0] == '/' ? rest + 1 : rest;
    uint8_t id[HM_HASH_LEN];
    capture_job j;
    if (strlen(p) != 2 * HM_HASH_LEN || hm_hex_decode(p, id, HM_HASH_LEN) != HM_OK ||
        !job_lookup(api, id, &j)) {
        nd_http_reply_error(req, 404, "not_found",
                            "no such capture job (a captureID is 64 hex digits; a job still "
                            "running is known only to the node that took it)");
        return;
    }
    standard_headers(req);
    nd_http_reply_json(req, 200, job_json(&j));
}

/* ------------------------------------------------------------- events */

typedef struct {
    nd_node *node;
    json_t *list;
    hm_err err;
} event_collect;

static json_t *event_by_hash(nd_node *n, const uint8_t hash[HM_HASH_LEN], hm_err *err) {
    ct_stored_event se;
    *err = ct_query_event(nd_node_state_store(n), hash, &se);
    if (*err != HM_OK)
        return NULL;
    ct_event_record *ev = malloc(sizeof *ev);
    json_t *o = NULL;
    if (ev != NULL && ct_event_record_decode(se.record, se.record_len, ev) == HM_OK)
        o = nd_prov_event_json(ev, false);
    else
        *err = ev ? HM_ERR_IO : HM_ERR_NOMEM;
    free(ev);
    ct_stored_event_clear(&se);
    return o;
}

static bool collect_event(void *arg, const uint8_t hash[HM_HASH_LEN]) {
    event_collect *c = arg;
    json_t *o = event_by_hash(c->node, hash, &c->err);
    if (o == NULL)
        return false;
    json_array_append_new(c->list, o);
    return true;
}

/* Moves the extension prefixes of each event ("@context" objects, see
 * nd_prov_event_json) into the document's context, so that the events of a
 * page read as in any EPCIS document. Prefixes come from the namespace's
 * hash, so two events agree on them; an event whose prefix means something
 * else in the document (a hash collision) keeps its own context. */
static void hoist_contexts(json_t *events, json_t *context) {
    json_t *merged = json_object();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        json_t *ctx = json_object_get(ev, "@context");
        if (!json_is_object(ctx))
            continue;
        bool clash = false;
        const char *k;
        json_t *v;
        json_object_foreach(ctx, k, v) {
            json_t *have = json_object_get(merged, k);
            clash = clash || (have != NULL && !json_equal(have, v));
        }
        if (clash)
            continue;
        json_object_update(merged, ctx);
        json_object_del(ev, "@context");
    }
    if (json_object_size(merged) > 0)
        json_array_append(context, merged);
    json_decref(merged);
}

static void events_query(nd_node *n, struct evhttp_request *req) {
    char text[2 * CT_KEY_MAX + 2];
    uint32_t per_page = PER_PAGE_DEFAULT;
    int got = nd_http_query_param(req, "perPage", text, sizeof text, "QueryParameterException");
    if (got < 0)
        return;
    if (got > 0) {
        uint64_t v = 0;
        if (!nd_parse_u64_text(text, &v) || v == 0 || v > PER_PAGE_MAX) {
            nd_http_reply_error(req, 400, "QueryParameterException", "perPage must be 1..%d",
                                PER_PAGE_MAX);
            return;
        }
        per_page = (uint32_t)v;
    }
    uint8_t after[CT_KEY_MAX], next[CT_KEY_MAX];
    size_t after_len = 0, next_len = 0;
    got = nd_http_query_param(req, "nextPageToken", text, sizeof text, "QueryParameterException");
    if (got < 0)
        return;
    if (got > 0 && hm_hex_decode_any(text, after, CT_KEY_MAX, &after_len) != HM_OK) {
        nd_http_reply_error(req, 400, "QueryParameterException", "bad nextPageToken");
        return;
    }
    ct_event_filter f;
    memset(&f, 0, sizeof f);
    char step[CT_URI_MAX + 1];
    got = nd_http_query_param(req, "EQ_bizStep", step, sizeof step, "QueryParameterException");
    if (got < 0)
        return;
    if (got > 0) {
        int len;
        if (strchr(step, ':') == NULL)
            len =
                snprintf(f.biz_step, sizeof f.biz_step, "https://ref.gs1.org/cbv/BizStep-%s", step);
        else if (strncmp(step, "urn:epcglobal:cbv:bizstep:", 26) == 0)
            len = snprintf(f.biz_step, sizeof f.biz_step, "https://ref.gs1.org/cbv/BizStep-%s",
                           step + 26);
        else
            len = snprintf(f.biz_step, sizeof f.biz_step, "%s", step);
        if (len < 0 || (size_t)len >= sizeof f.biz_step) {
            nd_http_reply_error(req, 400, "QueryParameterException",
                                "EQ_bizStep is longer than %d bytes", CT_URI_MAX);
            return;
        }
    }
    int64_t ms = 0;
    got = nd_http_query_param(req, "GE_eventTime", text, sizeof text, "QueryParameterException");
    if (got < 0)
        return;
    if (got > 0) {
        if (ct_epcis_time_parse(text, &ms) != HM_OK || ms < 0) {
            nd_http_reply_error(req, 400, "QueryParameterException", "GE_eventTime: bad time");
            return;
        }
        f.time_from_ms = (uint64_t)ms;
    }
    got = nd_http_query_param(req, "LT_eventTime", text, sizeof text, "QueryParameterException");
    if (got < 0)
        return;
    if (got > 0) {
        if (ct_epcis_time_parse(text, &ms) != HM_OK || ms <= (int64_t)f.time_from_ms) {
            nd_http_reply_error(req, 400, "QueryParameterException", "LT_eventTime: bad time");
            return;
        }
        f.time_to_ms = (uint64_t)ms;
    }
    /* Hallmark's own filters, beside the standard ones: validated here so a
     * GTIN-13 or -12 is accepted as its GTIN-14. */
    got = nd_http_query_param(req, "gtin", text, sizeof text, "QueryParameterException");
    if (got < 0)
        return;
    if (got > 0 && ct_gtin_normalize(text, f.gtin, NULL) != HM_OK) {
        nd_http_reply_error(req, 400, "QueryParameterException", "gtin is not a valid GTIN");
        return;
    }
    got = nd_http_query_param(req, "lot", text, sizeof text, "QueryParameterException");
    if (got < 0)
        return;
    if (got > 0) {
        if (f.gtin[0] == '\0' || strlen(text) > CT_LOT_MAX ||
            ct_gs1_serial_check(text, NULL) != HM_OK) {
            nd_http_reply_error(req, 400, "QueryParameterException",
                                "lot needs gtin and a valid lot");
            return;
        }
        strcpy(f.lot, text);
    }
    char match[CT_URI_MAX + 1];
    got = nd_http_query_param(req, "MATCH_epc", match, sizeof match, "QueryParameterException");
    if (got < 0)
        return;
    event_collect c = {.node = n, .list = json_array(), .err = HM_OK};
    hm_err err;
    char epc[CT_URI_MAX + 1];
    if (got > 0) {
        /* One item's history (its events and those of its containers). */
        ct_item_ref ref;
        if (ct_epcis_epc_normalize(match, epc, sizeof epc) != HM_OK ||
            !ct_epc_item_parse(epc, &ref)) {
            json_decref(c.list);
            nd_http_reply_error(req, 400, "QueryParameterException",
                                "MATCH_epc must name one item (GTIN + serial)");
            return;
        }
        err = ct_query_item_history(nd_node_state_store(n), ref.gtin, ref.serial,
                                    after_len ? after : NULL, after_len, per_page, collect_event,
                                    &c, next, &next_len);
    } else {
        err = ct_query_events(nd_node_state_store(n), &f, after_len ? after : NULL, after_len,
                              per_page, collect_event, &c, next, &next_len);
    }
    if (err == HM_OK)
        err = c.err;
    if (err != HM_OK && err != HM_ERR_NOT_FOUND) {
        json_decref(c.list);
        nd_http_reply_error(req, err == HM_ERR_ARG || err == HM_ERR_BAD_VALUE ? 400 : 500,
                            "QueryParameterException", "query failed: %s", hm_err_name(err));
        return;
    }
    char now[40];
    iso_time(wall_ms(), now);
    json_t *context = json_pack("[s]", EPCIS_CONTEXT);
    hoist_contexts(c.list, context);
    json_t *doc = json_pack("{s:o, s:s, s:s, s:s, s:{s:{s:s, s:{s:o}}}}", "@context", context,
                            "type", "EPCISQueryDocument", "schemaVersion", "2.0", "creationDate",
                            now, "epcisBody", "queryResults", "queryName", "SimpleEventQuery",
                            "resultsBody", "eventList", c.list);
    standard_headers(req);
    if (next_len > 0) {
        /* The standard's pagination: a Link to the next page. */
        char token[2 * CT_KEY_MAX + 1];
        hm_hex_encode(next, next_len, token);
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
        struct evbuffer *link = evbuffer_new();
        if (link != NULL) {
            evbuffer_add_printf(link, "</epcis/events?");
            if (q != NULL) {
                /* keep the other parameters, drop the old token */
                struct evkeyvalq params;
                if (evhttp_parse_query_str(q, &params) == 0) {
                    for (struct evkeyval *kv = params.tqh_first; kv; kv = kv->next.tqe_next) {
                        if (strcmp(kv->key, "nextPageToken") == 0)
                            continue;
                        char *ek = evhttp_encode_uri(kv->key);
                        char *ev = evhttp_encode_uri(kv->value);
                        evbuffer_add_printf(link, "%s=%s&", ek ? ek : "", ev ? ev : "");
                        free(ek);
                        free(ev);
                    }
                    evhttp_clear_headers(&params);
                }
            }
            evbuffer_add_printf(link, "nextPageToken=%s>; rel=\"next\"", token);
            size_t ll = evbuffer_get_length(link);
            char *lv = malloc(ll + 1);
            if (lv != NULL) {
                evbuffer_copyout(link, lv, ll);
                lv[ll] = '\0';
                evhttp_add_header(evhttp_request_get_output_headers(req), "Link", lv);
                free(lv);
            }
            evbuffer_free(link);
        }
        json_object_set_new(doc, "hallmark:nextPageToken", json_string(token));
    }
    nd_http_reply_json(req, 200, doc);
}

static void route_events(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!nd_http_require_read(req))
        return;
    if (rest[0] == '/')
        rest++;
    if (rest[0] == '\0') {
        events_query(n, req);
        return;
    }
    size_t dlen = 0;
    char *d = evhttp_uridecode(rest, 0, &dlen);
    uint8_t h[HM_HASH_LEN];
    bool ok = d != NULL && (ct_epcis_hash_id_parse(d, h) == HM_OK ||
                            (dlen == 64 && hm_hex_decode(d, h, 32) == HM_OK));
    free(d);
    if (!ok) {
        nd_http_reply_error(req, 400, "QueryParameterException",
                            "eventID must be ni:///sha-256;<hex>?ver=CBV2.0 (URL-encoded)");
        return;
    }
    hm_err err;
    json_t *o = event_by_hash(n, h, &err);
    if (o == NULL) {
        nd_http_reply_error(req, err == HM_ERR_NOT_FOUND ? 404 : 500,
                            err == HM_ERR_NOT_FOUND ? "NoSuchResourceException" : "internal",
                            "event %s", err == HM_ERR_NOT_FOUND ? "not found" : "unreadable");
        return;
    }
    /* The standard context, then the event's extension prefixes if any. */
    json_t *ext = json_object_get(o, "@context");
    if (json_is_object(ext))
        json_object_set_new(o, "@context", json_pack("[s, O]", EPCIS_CONTEXT, ext));
    else
        json_object_set_new(o, "@context", json_string(EPCIS_CONTEXT));
    standard_headers(req);
    nd_http_reply_json(req, 200, o);
}

hm_err nd_http_epcis_register(nd_node *n) {
    epcis_api *api = calloc(1, sizeof *api);
    if (api == NULL)
        return HM_ERR_NOMEM;
    api->node = n;
    /* The jobs live inline in api: the HTTP server frees it at shutdown,
     * after the routes and the commit hook that use it are gone. */
    hm_err err = nd_http_add_cleanup(n, free, api);
    if (err != HM_OK) {
        free(api);
        return err;
    }
    err = nd_http_add_route(n, "/epcis/capture", route_capture, api);
    if (err == HM_OK)
        err = nd_http_add_route(n, "/epcis/events", route_events, api);
    if (err == HM_OK)
        err = nd_node_on_commit(n, on_commit, api);
    return err;
}
