/* node/lane.h — the resolver lane: a lean HTTP/1.1 server for the consumer's
 * GS1 Digital Link pages on its own listener (config resolver_listen), in
 * the node's event loop, and the answer type it shares with the API port.
 *
 * Layer: node/. An answer (nd_answer) is built once, from the request's
 * parsed fields (nd_consumer_request), by the consumer module
 * (node/http_consumer.c); the API port's route hands it to libevent, the
 * lane writes its status line, headers and body itself, so that both ports
 * send the same bytes for the same request (docs/api.md, "The resolver
 * listener"). The lane runs on the node's thread: nothing here is
 * thread-safe, and nothing blocks. */
#ifndef HALLMARK_ND_LANE_H
#define HALLMARK_ND_LANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hm.h"
#include "lane_req.h"
#include "nd.h"

#define ND_ANSWER_HEADERS_MAX 8
/* A kept page split around its counter, style sheet and script (node/page.h
 * ND_PAGE_PARTS). */
#define ND_ANSWER_PARTS 7

typedef struct {
    const char *name;
    const char *value; /* static text, or text the answer holds */
} nd_answer_header;

/* One answer: status, headers in the order they are sent (Date and
 * Content-Length follow them, as nd_http_send adds them), and a body in up
 * to ND_ANSWER_PARTS pieces (a kept rendering split around its lookup
 * counter and the page's static style sheet and script). The pieces point
 * at memory that stays valid until the answer is sent: the consumer's kept
 * renderings, static text, the answer's own text (owned), or counter text
 * inside the answer. */
typedef struct {
    int status;
    const char *reason; /* NULL: the standard phrase */
    uint32_t header_count;
    nd_answer_header headers[ND_ANSWER_HEADERS_MAX];
    bool has_body; /* false: neither body nor Content-Length (304) */
    const uint8_t *part[ND_ANSWER_PARTS];
    size_t part_len[ND_ANSWER_PARTS];
    char etag[2 + 2 * HM_HASH_LEN + 1]; /* the ETag header's value */
    char counter[512];                  /* the lookup counter's text (ND_PAGE_LOOKUPS_MAX) */
    char *owned;                        /* freed by nd_answer_clear */
} nd_answer;

/* The request fields the consumer routes read. Text fields are
 * NUL-terminated; NULL when the request did not carry them. */
typedef struct {
    nd_lane_method method;
    const char *uri; /* the raw request target: path and query, not decoded */
    const char *accept;
    const char *accept_language;
    const char *if_none_match;
    const uint8_t *body; /* body_len bytes, not NUL-terminated; NULL with body_len
                            set when the API port left a body too large for the
                            claim form in libevent's buffer */
    size_t body_len;
} nd_consumer_request;

/* Fills out (initialised by the caller with nd_answer_init) for req. */
typedef void (*nd_lane_answer_fn)(void *arg, const nd_consumer_request *req, nd_answer *out);

void nd_answer_init(nd_answer *a);
/* Appends a header (asserts there is room: answers have at most
 * ND_ANSWER_HEADERS_MAX, a fixed set). */
void nd_answer_header_add(nd_answer *a, const char *name, const char *value);
/* Sets the body to the single piece data (not copied). */
void nd_answer_body(nd_answer *a, const uint8_t *data, size_t len);
/* Makes a the API's JSON error answer: {"error":code,"message":message} and
 * a newline, Content-Type application/json, exactly as nd_http_reply_error
 * writes it (replacing whatever a held). */
void nd_answer_error(nd_answer *a, int status, const char *code, const char *message);
/* Frees what a holds; a can be initialised again. */
void nd_answer_clear(nd_answer *a);
/* The reason phrase libevent sends for status (its table, for the codes the
 * node answers with). */
const char *nd_answer_reason(int status);
/* The Date header's value for now (RFC 9110 IMF-fixdate), formatted once a
 * second; NULL if the clock cannot be read. */
const char *nd_answer_date(void);

/* Counters of one lane, for logs and tests. */
typedef struct {
    uint64_t accepted;
    uint64_t refused; /* connections closed at once: resolver_connections cap */
    uint64_t requests;
    uint64_t bad_requests; /* parse errors answered and closed */
    uint64_t timeouts;     /* closed idle, or with a request unfinished */
    uint32_t open;
    uint32_t buffered; /* open connections holding an input buffer (allocated
                          at their first bytes, not at accept) */
} nd_lane_stats;

typedef struct nd_lane nd_lane;

/* Listens on cfg->resolver_listen (which must be set) and serves every
 * request through fn(arg, ...). Bounds from cfg: http_headers_max (the
 * request head), http_idle_timeout_s, http_connections_max (the lane's own
 * count). HM_ERR_BAD_VALUE for an address that is not IP:port, HM_ERR_IO if
 * it cannot listen. */
HM_MUST_USE hm_err nd_lane_start(struct event_base *base, const nd_config *cfg,
                                 nd_lane_answer_fn fn, void *arg, nd_lane **out);
/* Closes the listener and every connection (NULL-safe). */
void nd_lane_free(nd_lane *lane);
void nd_lane_get_stats(const nd_lane *lane, nd_lane_stats *out);
/* The port the lane listens on (the one the system chose for port 0); 0 if
 * it cannot be read. */
uint16_t nd_lane_port(const nd_lane *lane);

/* The lane's bound on a request body (the claim form is far smaller). */
#define ND_LANE_BODY_MAX 4096
/* The lane's bound on a request target. */
#define ND_LANE_TARGET_MAX 4096

#endif
