/* node/http_auth.c — signed reads of the HTTP API.
 *
 * Layer: node/. A read is signed by a member's key over (method, path,
 * query, time, body hash) with the "hallmark/request" purpose and the chain
 * id (docs/settlement.md, "Signed reads"). This file checks the headers, the
 * time window (±5 minutes of our clock) and the signature, and refuses a
 * signature already seen within the window. The replay table is bounded: it
 * never forgets a live entry early; when full it answers 503. Never logs a
 * signature or key at more than debug level, never blocks. */
#include "http_auth.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define REPLAY_PROBES 64

typedef struct {
    uint8_t tag[16];     /* first bytes of SHA-256(signature) */
    uint64_t expires_ms; /* 0: empty */
} replay_slot;

struct nd_auth {
    replay_slot *slots; /* ND_AUTH_REPLAY_SLOTS */
};

hm_err nd_auth_new(nd_auth **out) {
    nd_auth *a = calloc(1, sizeof *a);
    if (a == NULL)
        return HM_ERR_NOMEM;
    a->slots = calloc(ND_AUTH_REPLAY_SLOTS, sizeof *a->slots);
    if (a->slots == NULL) {
        free(a);
        return HM_ERR_NOMEM;
    }
    *out = a;
    return HM_OK;
}

void nd_auth_free(nd_auth *a) {
    if (a == NULL)
        return;
    free(a->slots);
    free(a);
}

uint64_t nd_auth_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

typedef enum { REPLAY_FRESH, REPLAY_SEEN, REPLAY_FULL } replay_verdict;

/* Remembers sig until expires_ms; says whether it was already there. */
static replay_verdict replay_remember(nd_auth *a, const hm_sig *sig, uint64_t now_ms,
                                      uint64_t expires_ms) {
    uint8_t h[HM_HASH_LEN];
    hm_sha256(sig->bytes, HM_SIG_LEN, h);
    uint32_t start = ((uint32_t)h[16] << 16 | (uint32_t)h[17] << 8 | h[18]) % ND_AUTH_REPLAY_SLOTS;
    replay_slot *free_slot = NULL;
    for (uint32_t i = 0; i < REPLAY_PROBES; i++) {
        replay_slot *s = &a->slots[(start + i) % ND_AUTH_REPLAY_SLOTS];
        bool live = s->expires_ms >= now_ms && s->expires_ms != 0;
        if (live && memcmp(s->tag, h, sizeof s->tag) == 0)
            return REPLAY_SEEN;
        if (!live && free_slot == NULL)
            free_slot = s;
    }
    if (free_slot == NULL)
        return REPLAY_FULL;
    memcpy(free_slot->tag, h, sizeof free_slot->tag);
    free_slot->expires_ms = expires_ms;
    return REPLAY_FRESH;
}

static const char *method_name(enum evhttp_cmd_type cmd) {
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

static int unauthorized(struct evhttp_request *req, const char *why) {
    nd_http_reply_error(req, 401, "unauthorized", "%s", why);
    return 401;
}

int nd_auth_check(nd_auth *a, nd_node *n, struct evhttp_request *req, uint64_t now_ms,
                  hm_pubkey *signer) {
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *key_hex = evhttp_find_header(h, "X-Hallmark-Key");
    const char *time_text = evhttp_find_header(h, "X-Hallmark-Time");
    const char *sig_hex = evhttp_find_header(h, "X-Hallmark-Signature");
    if (key_hex == NULL || time_text == NULL || sig_hex == NULL)
        return unauthorized(req, "a signed request is required (X-Hallmark-Key, "
                                 "X-Hallmark-Time, X-Hallmark-Signature)");
    hm_pubkey key;
    hm_sig sig;
    if (hm_hex_decode(key_hex, key.bytes, HM_PUBKEY_LEN) != HM_OK ||
        hm_hex_decode(sig_hex, sig.bytes, HM_SIG_LEN) != HM_OK)
        return unauthorized(req, "malformed key or signature header");
    uint64_t t_ms = 0;
    size_t digits = 0;
    for (const char *p = time_text; *p; p++, digits++) {
        if (*p < '0' || *p > '9' || digits >= 19)
            return unauthorized(req, "malformed X-Hallmark-Time");
        t_ms = t_ms * 10 + (uint64_t)(*p - '0');
    }
    if (digits == 0)
        return unauthorized(req, "malformed X-Hallmark-Time");
    uint64_t skew = t_ms > now_ms ? t_ms - now_ms : now_ms - t_ms;
    if (skew > ND_AUTH_WINDOW_MS)
        return unauthorized(req, "request time outside the accepted window");

    const char *uri = evhttp_request_get_uri(req);
    const char *q = strchr(uri, '?');
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
    if (path_len > CT_REQUEST_PATH_MAX || (q && strlen(q + 1) > CT_REQUEST_QUERY_MAX))
        return unauthorized(req, "request target too long to sign");
    char path[CT_REQUEST_PATH_MAX + 1];
    memcpy(path, uri, path_len);
    path[path_len] = '\0';
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t body_len = evbuffer_get_length(in);
    const uint8_t *body = body_len ? evbuffer_pullup(in, -1) : NULL;
    hm_err err =
        ct_request_verify(&key, nd_node_chain_id(n), method_name(evhttp_request_get_command(req)),
                          path, q ? q + 1 : "", t_ms, body, body_len, &sig);
    if (err != HM_OK)
        return unauthorized(req, "the signature does not verify");
    /* Only a valid signature is remembered, so nobody can fill the table
     * with garbage; it is kept until it would be stale anyway. */
    switch (replay_remember(a, &sig, now_ms, t_ms + ND_AUTH_WINDOW_MS)) {
    case REPLAY_SEEN:
        return unauthorized(req, "this signature was already used");
    case REPLAY_FULL:
        nd_http_reply_error(req, 503, "busy", "too many signed requests; retry shortly");
        return 503;
    case REPLAY_FRESH:
        break;
    }
    *signer = key;
    return 0;
}

bool nd_auth_is_overseer(nd_node *n, const hm_pubkey *key) {
    const nd_genesis *g = nd_node_genesis(n);
    for (uint32_t i = 0; i < g->admin_count; i++)
        if (memcmp(g->admins[i].bytes, key->bytes, HM_PUBKEY_LEN) == 0)
            return true;
    ct_member m;
    if (ct_query_member(nd_node_state_store(n), key, &m) != HM_OK || m.revoked)
        return false;
    return (m.roles & (CT_ROLE_ADMIN | CT_ROLE_AUDITOR)) != 0;
}
