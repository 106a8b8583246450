/* node/net.c — TLS 1.3 peer links over libevent.
 *
 * Layer: node/; the only file that opens peer sockets. Every link is mutual
 * TLS 1.3 with self-signed certificates pinned by their SHA-256 fingerprint:
 * validators from genesis, observers from the config. Messages are frames
 * [u8 type][u32 length][payload] with a hard maximum per type, checked from
 * the header before the payload is buffered.
 *
 * Must never let one peer stall the others: all I/O is non-blocking, every
 * peer has its own output queue bounded in bytes, and a peer that takes too
 * long to finish its handshake or a frame, or that drains nothing of its
 * queue for FRAME_TIMEOUT_MS, is dropped. A full queue is backpressure, not
 * misbehaviour: a message that does not fit is not queued (the sender learns
 * it from nd_net_send's result; consensus gossip repairs what was skipped)
 * and the link stays up, since an honest peer that is busy executing a large
 * block drains slowly for a while. Time this node itself spent not running
 * its loop (executing a block) is never held against a peer. Peers are freed
 * only from the reaper event, never inside a callback that may still use
 * them. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "nd_int.h"

/* generous: the other side may be a validator busy executing a large block */
#define HANDSHAKE_TIMEOUT_MS 10000
#define FRAME_TIMEOUT_MS 15000
#define UNAUTHENTICATED_MAX 64
#define TICK_MS 500
/* A frame of len bytes may take FRAME_TIMEOUT_MS plus len / FRAME_RATE_MIN
 * ms to arrive: 64 MiB frames at >= 1 MiB/s. */
#define FRAME_RATE_MIN_BYTES_PER_MS 1024
/* Bytes moved per read or write callback (libevent's default is 16 KiB, which
 * costs one loop turn per 16 KiB of a multi-megabyte frame). */
#define SINGLE_IO_BYTES (1u << 20)

struct nd_peer {
    nd_net *net;
    struct bufferevent *bev;
    int vindex;    /* validator index, -1 observer, -2 not yet known */
    int dial_slot; /* validator index this outbound link is for, -1 inbound */
    bool authed;
    bool dead;
    uint64_t opened_ms;
    uint64_t frame_started_ms; /* 0: no partial frame buffered */
    uint32_t frame_len;        /* payload length of the partial frame, once known */
    uint64_t out_drained;      /* bytes the output queue ever drained */
    uint64_t out_drained_seen; /* out_drained at the last progress check */
    uint64_t out_stalled_ms;   /* 0, or since when the queue drains nothing */
    uint64_t queue_skips;      /* messages not queued: the queue was full */
    char name[ND_NAME_MAX + 16];
    nd_peer *next;
};

typedef struct {
    bool used;
    struct sockaddr_storage addr;
    int addr_len;
    uint32_t backoff_ms;
    struct event *timer;
    nd_peer *peer;
    nd_net *net;
    int vindex;
} dial_slot;

struct nd_net {
    struct event_base *base;
    const nd_config *cfg;
    const nd_genesis *g;
    int self_index;
    SSL_CTX *ssl_ctx;
    struct evconnlistener *listener;
    nd_peer *peers;
    uint32_t unauthenticated;
    dial_slot slots[HM_VALIDATORS_MAX];
    struct event *tick;
    struct event *reaper;
    nd_net_callbacks cb;
    void *cb_arg;
    uint64_t rejects[ND_REJECT__COUNT];
    uint64_t last_tick_ms;
};

static const char *const reject_names[ND_REJECT__COUNT] = {
    "tls", "identity", "frame_type", "frame_size", "slow", "queue_full", "limit", "message"};

const char *nd_reject_reason_name(nd_reject_reason r) {
    return r < ND_REJECT__COUNT ? reject_names[r] : "unknown";
}

static void schedule_dial(dial_slot *s);
static void on_output_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

static void peer_kill(nd_peer *p) {
    if (p->dead)
        return;
    p->dead = true;
    nd_net *net = p->net;
    if (p->bev)
        bufferevent_disable(p->bev, EV_READ | EV_WRITE);
    if (!p->authed && p->dial_slot < 0 && net->unauthenticated > 0)
        net->unauthenticated--;
    if (p->authed)
        hm_log(HM_LOG_INFO, "peer_disconnected", "peer=%s", p->name);
    if (p->dial_slot >= 0) {
        dial_slot *s = &net->slots[p->dial_slot];
        if (s->peer == p) {
            s->peer = NULL;
            schedule_dial(s);
        }
    }
    event_active(net->reaper, EV_TIMEOUT, 0);
}

static void reap(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    nd_net *net = arg;
    nd_peer **pp = &net->peers;
    while (*pp) {
        nd_peer *p = *pp;
        if (p->dead) {
            *pp = p->next;
            if (p->bev) {
                /* the queue may outlive the bufferevent's free: never let
                 * its callback reach a freed peer */
                evbuffer_remove_cb(bufferevent_get_output(p->bev), on_output_drained, p);
                bufferevent_free(p->bev);
            }
            free(p);
        } else {
            pp = &p->next;
        }
    }
}

void nd_net_reject(nd_net *net, nd_peer *p, nd_reject_reason reason, bool drop) {
    net->rejects[reason]++;
    hm_log(HM_LOG_WARN, "peer_rejected", "peer=%s reason=%s drop=%d", p ? p->name : "-",
           nd_reject_reason_name(reason), (int)drop);
    if (drop && p)
        peer_kill(p);
}

uint64_t nd_net_reject_count(const nd_net *net, nd_reject_reason reason) {
    return reason < ND_REJECT__COUNT ? net->rejects[reason] : 0;
}

static bool peer_fingerprint(nd_peer *p, uint8_t fp[HM_HASH_LEN]) {
    SSL *ssl = bufferevent_openssl_get_ssl(p->bev);
    if (!ssl)
        return false;
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return false;
    unsigned int len = 0;
    int ok = X509_digest(cert, EVP_sha256(), fp, &len);
    X509_free(cert);
    return ok == 1 && len == HM_HASH_LEN;
}

/* Consensus messages are small and latency-bound: never let Nagle hold one
 * back waiting for the ACK of the previous one. */
static void set_nodelay(evutil_socket_t fd) {
    int one = 1;
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void on_authenticated(nd_peer *p) {
    nd_net *net = p->net;
    set_nodelay(bufferevent_getfd(p->bev));
    uint8_t fp[HM_HASH_LEN];
    if (!peer_fingerprint(p, fp)) {
        nd_net_reject(net, p, ND_REJECT_IDENTITY, true);
        return;
    }
    int v = nd_genesis_find_fingerprint(net->g, fp);
    if (p->dial_slot >= 0) {
        if (v != p->dial_slot) {
            nd_net_reject(net, p, ND_REJECT_IDENTITY, true);
            return;
        }
    } else if (v < 0) {
        bool observer = false;
        for (uint32_t i = 0; i < net->cfg->observer_count; i++)
            if (!memcmp(net->cfg->observer_fingerprints[i], fp, HM_HASH_LEN))
                observer = true;
        if (!observer || net->self_index < 0) {
            nd_net_reject(net, p, ND_REJECT_IDENTITY, true);
            return;
        }
    }
    if (v == net->self_index && v >= 0) {
        nd_net_reject(net, p, ND_REJECT_IDENTITY, true);
        return;
    }
    if (p->dial_slot < 0 && net->unauthenticated > 0)
        net->unauthenticated--;
    /* a validator that reconnects replaces its old link (it restarted) */
    if (v >= 0)
        for (nd_peer *q = net->peers; q; q = q->next)
            if (q != p && !q->dead && q->authed && q->vindex == v)
                peer_kill(q);
    p->authed = true;
    p->vindex = v;
    if (v >= 0)
        snprintf(p->name, sizeof p->name, "%s", net->g->validators[v].name);
    else
        snprintf(p->name, sizeof p->name, "observer");
    if (p->dial_slot >= 0)
        net->slots[p->dial_slot].backoff_ms = 0;
    hm_log(HM_LOG_INFO, "peer_connected", "peer=%s outbound=%d", p->name, p->dial_slot >= 0);
    if (net->cb.on_connect)
        net->cb.on_connect(net->cb_arg, p);
}

static void on_read(struct bufferevent *bev, void *arg) {
    nd_peer *p = arg;
    nd_net *net = p->net;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!p->dead && p->authed) {
        size_t avail = evbuffer_get_length(in);
        if (avail < ND_FRAME_HEADER_LEN) {
            if (avail && !p->frame_started_ms)
                p->frame_started_ms = nd_now_ms();
            return;
        }
        uint8_t hdr[ND_FRAME_HEADER_LEN];
        evbuffer_copyout(in, hdr, sizeof hdr);
        uint8_t type = 0;
        uint32_t len = 0;
        hm_err err = nd_frame_header_parse(hdr, &type, &len);
        if (err != HM_OK) {
            nd_net_reject(
                net, p, err == HM_ERR_TOO_LONG ? ND_REJECT_FRAME_SIZE : ND_REJECT_FRAME_TYPE, true);
            return;
        }
        if (avail < ND_FRAME_HEADER_LEN + (size_t)len) {
            if (!p->frame_started_ms)
                p->frame_started_ms = nd_now_ms();
            p->frame_len = len;
            return;
        }
        evbuffer_drain(in, ND_FRAME_HEADER_LEN);
        const uint8_t *payload = len ? evbuffer_pullup(in, len) : (const uint8_t *)"";
        p->frame_started_ms = 0;
        p->frame_len = 0;
        if (payload && net->cb.on_message)
            net->cb.on_message(net->cb_arg, p, type, payload, len);
        evbuffer_drain(in, len);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    nd_peer *p = arg;
    if (p->dead)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        on_authenticated(p);
        /* data may already be buffered behind the handshake */
        if (!p->dead && p->authed)
            on_read(p->bev, p);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)) {
        if (!p->authed && p->dial_slot < 0 && (what & BEV_EVENT_ERROR))
            nd_net_reject(p->net, p, ND_REJECT_TLS, false);
        peer_kill(p);
    }
}

/* Counts what the kernel took from the output queue: the measure of a
 * peer's progress (a queue that only grows is a peer that reads nothing). */
static void on_output_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                              void *arg) {
    (void)buf;
    nd_peer *p = arg;
    p->out_drained += info->n_deleted;
}

static nd_peer *peer_new(nd_net *net, evutil_socket_t fd, bool outbound) {
    SSL *ssl = SSL_new(net->ssl_ctx);
    if (!ssl)
        return NULL;
    nd_peer *p = calloc(1, sizeof *p);
    if (!p) {
        SSL_free(ssl);
        return NULL;
    }
    p->bev = bufferevent_openssl_socket_new(
        net->base, fd, ssl, outbound ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!p->bev) {
        SSL_free(ssl);
        free(p);
        return NULL;
    }
    p->net = net;
    p->vindex = -2;
    p->dial_slot = -1;
    p->opened_ms = nd_now_ms();
    snprintf(p->name, sizeof p->name, "%s", outbound ? "dialing" : "inbound");
    bufferevent_setcb(p->bev, on_read, NULL, on_event, p);
    (void)bufferevent_set_max_single_read(p->bev, SINGLE_IO_BYTES);
    (void)bufferevent_set_max_single_write(p->bev, SINGLE_IO_BYTES);
    if (!evbuffer_add_cb(bufferevent_get_output(p->bev), on_output_drained, p)) {
        bufferevent_free(p->bev);
        free(p);
        return NULL;
    }
    bufferevent_enable(p->bev, EV_READ | EV_WRITE);
    p->next = net->peers;
    net->peers = p;
    return p;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg) {
    (void)l;
    (void)sa;
    (void)salen;
    nd_net *net = arg;
    if (net->unauthenticated >= UNAUTHENTICATED_MAX) {
        net->rejects[ND_REJECT_LIMIT]++;
        evutil_closesocket(fd);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    nd_peer *p = peer_new(net, fd, false);
    if (!p) {
        evutil_closesocket(fd);
        return;
    }
    net->unauthenticated++;
}

static void dial_now(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    dial_slot *s = arg;
    nd_net *net = s->net;
    if (s->peer)
        return;
    nd_peer *p = peer_new(net, -1, true);
    if (!p) {
        schedule_dial(s);
        return;
    }
    p->dial_slot = s->vindex;
    s->peer = p;
    snprintf(p->name, sizeof p->name, "%s", net->g->validators[s->vindex].name);
    if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&s->addr, s->addr_len) != 0)
        peer_kill(p);
}

static void schedule_dial(dial_slot *s) {
    nd_net *net = s->net;
    if (!s->used)
        return;
    if (s->backoff_ms == 0)
        s->backoff_ms = net->cfg->reconnect_min_ms;
    else if (s->backoff_ms < net->cfg->reconnect_max_ms / 2)
        s->backoff_ms *= 2;
    else
        s->backoff_ms = net->cfg->reconnect_max_ms;
    struct timeval tv = {s->backoff_ms / 1000, (s->backoff_ms % 1000) * 1000};
    evtimer_add(s->timer, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    nd_net *net = arg;
    uint64_t now = nd_now_ms();
    /* The loop did not run for a while (this node executed or committed a
     * large block): peers could not be read or written meanwhile, so the
     * time is added to every deadline rather than charged to them. */
    uint64_t lost_ms = 0;
    if (net->last_tick_ms && now > net->last_tick_ms + 2 * TICK_MS)
        lost_ms = now - net->last_tick_ms - TICK_MS;
    net->last_tick_ms = now;
    for (nd_peer *p = net->peers; p; p = p->next) {
        if (p->dead)
            continue;
        p->opened_ms += lost_ms;
        if (p->frame_started_ms)
            p->frame_started_ms += lost_ms;
        size_t queued = p->bev ? evbuffer_get_length(bufferevent_get_output(p->bev)) : 0;
        if (queued == 0 || p->out_drained != p->out_drained_seen)
            p->out_stalled_ms = 0;
        else if (p->out_stalled_ms == 0)
            p->out_stalled_ms = now;
        else
            p->out_stalled_ms += lost_ms;
        p->out_drained_seen = p->out_drained;
        uint64_t frame_allow_ms = FRAME_TIMEOUT_MS + p->frame_len / FRAME_RATE_MIN_BYTES_PER_MS;
        if (!p->authed && now > p->opened_ms + HANDSHAKE_TIMEOUT_MS)
            nd_net_reject(net, p, ND_REJECT_SLOW, true);
        else if (p->frame_started_ms && now > p->frame_started_ms + frame_allow_ms)
            nd_net_reject(net, p, ND_REJECT_SLOW, true);
        else if (p->out_stalled_ms && now > p->out_stalled_ms + FRAME_TIMEOUT_MS)
            nd_net_reject(net, p, ND_REJECT_SLOW, true);
    }
}

static int verify_any(int preverify, X509_STORE_CTX *ctx) {
    /* self-signed certificates: identity is pinned by fingerprint after the
     * handshake, not by a chain */
    (void)preverify;
    (void)ctx;
    return 1;
}

hm_err nd_net_new(struct event_base *base, const nd_config *cfg, const nd_genesis *g,
                  int self_index, const nd_net_callbacks *cb, void *cb_arg, nd_net **out, char *err,
                  size_t err_cap) {
    nd_net *net = calloc(1, sizeof *net);
    if (!net)
        return HM_ERR_NOMEM;
    net->base = base;
    net->cfg = cfg;
    net->g = g;
    net->self_index = self_index;
    net->cb = *cb;
    net->cb_arg = cb_arg;
    net->ssl_ctx = SSL_CTX_new(TLS_method());
    if (!net->ssl_ctx || !SSL_CTX_set_min_proto_version(net->ssl_ctx, TLS1_3_VERSION) ||
        SSL_CTX_use_certificate_file(net->ssl_ctx, cfg->tls_cert_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(net->ssl_ctx, cfg->tls_key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(net->ssl_ctx) != 1) {
        snprintf(err, err_cap, "TLS: cannot load %s / %s", cfg->tls_cert_path, cfg->tls_key_path);
        nd_net_free(net);
        return HM_ERR_IO;
    }
    SSL_CTX_set_verify(net->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_any);
    net->reaper = event_new(base, -1, 0, reap, net);
    net->tick = event_new(base, -1, EV_PERSIST, on_tick, net);
    if (!net->reaper || !net->tick) {
        nd_net_free(net);
        return HM_ERR_NOMEM;
    }
    struct timeval tv = {0, TICK_MS * 1000};
    evtimer_add(net->tick, &tv);
    if (cfg->peer_listen[0]) {
        struct sockaddr_storage ss;
        int sslen = sizeof ss;
        if (evutil_parse_sockaddr_port(cfg->peer_listen, (struct sockaddr *)&ss, &sslen) != 0) {
            snprintf(err, err_cap, "peer_listen %s is not IP:port", cfg->peer_listen);
            nd_net_free(net);
            return HM_ERR_BAD_VALUE;
        }
        net->listener =
            evconnlistener_new_bind(base, on_accept, net, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
                                    128, (struct sockaddr *)&ss, sslen);
        if (!net->listener) {
            snprintf(err, err_cap, "cannot listen on %s", cfg->peer_listen);
            nd_net_free(net);
            return HM_ERR_IO;
        }
    }
    for (uint32_t j = 0; j < g->validator_count; j++) {
        if (self_index >= 0 && (int)j <= self_index)
            continue;
        dial_slot *s = &net->slots[j];
        s->addr_len = sizeof s->addr;
        if (evutil_parse_sockaddr_port(g->validators[j].address, (struct sockaddr *)&s->addr,
                                       &s->addr_len) != 0) {
            snprintf(err, err_cap, "validator %s address %s is not IP:port", g->validators[j].name,
                     g->validators[j].address);
            nd_net_free(net);
            return HM_ERR_BAD_VALUE;
        }
        s->used = true;
        s->net = net;
        s->vindex = (int)j;
        s->timer = evtimer_new(base, dial_now, s);
        if (!s->timer) {
            nd_net_free(net);
            return HM_ERR_NOMEM;
        }
        struct timeval now = {0, 0};
        evtimer_add(s->timer, &now);
    }
    *out = net;
    return HM_OK;
}

void nd_net_free(nd_net *net) {
    if (!net)
        return;
    for (uint32_t j = 0; j < HM_VALIDATORS_MAX; j++) {
        net->slots[j].used = false;
        if (net->slots[j].timer)
            event_free(net->slots[j].timer);
    }
    nd_peer *p = net->peers;
    while (p) {
        nd_peer *next = p->next;
        if (p->bev) {
            evbuffer_remove_cb(bufferevent_get_output(p->bev), on_output_drained, p);
            bufferevent_free(p->bev);
        }
        free(p);
        p = next;
    }
    if (net->listener)
        evconnlistener_free(net->listener);
    if (net->tick)
        event_free(net->tick);
    if (net->reaper)
        event_free(net->reaper);
    if (net->ssl_ctx)
        SSL_CTX_free(net->ssl_ctx);
    free(net);
}

bool nd_net_send2(nd_peer *p, uint8_t type, const uint8_t *a, size_t a_len, const uint8_t *b,
                  size_t b_len) {
    if (p->dead || !p->authed)
        return false;
    size_t len = a_len + b_len;
    if (len > nd_frame_max(type)) {
        /* the caller built a frame the protocol forbids: a bug here, not
         * the peer's doing */
        hm_log(HM_LOG_ERROR, "frame_too_large", "peer=%s type=%u len=%zu", p->name, type, len);
        return false;
    }
    struct evbuffer *outb = bufferevent_get_output(p->bev);
    size_t queued = evbuffer_get_length(outb);
    /* Small frames (votes, status) always fit: they are what lets a busy
     * network decide, and their bytes are bounded by the consensus core's
     * own output bounds. Large ones wait for room. */
    uint64_t need = (uint64_t)queued + ND_FRAME_HEADER_LEN + len;
    uint64_t room = p->net->cfg->peer_queue_bytes_max;
    if (len <= 4096)
        room += ND_SMALL_FRAMES_HEADROOM;
    /* any legal frame fits an empty queue, whatever the configured bound */
    if (queued > 0 && need > room) {
        if (p->queue_skips++ % 64 == 0)
            nd_net_reject(p->net, p, ND_REJECT_QUEUE_FULL, false);
        else
            p->net->rejects[ND_REJECT_QUEUE_FULL]++;
        return false;
    }
    uint8_t hdr[ND_FRAME_HEADER_LEN];
    nd_frame_header_put(hdr, type, (uint32_t)len);
    bufferevent_write(p->bev, hdr, sizeof hdr);
    if (a_len)
        bufferevent_write(p->bev, a, a_len);
    if (b_len)
        bufferevent_write(p->bev, b, b_len);
    return true;
}

bool nd_net_send(nd_peer *p, uint8_t type, const uint8_t *payload, size_t len) {
    return nd_net_send2(p, type, payload, len, NULL, 0);
}

size_t nd_net_queued(const nd_peer *p) {
    if (p->dead || !p->authed || !p->bev)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(p->bev));
}

void nd_net_broadcast(nd_net *net, uint8_t type, const uint8_t *payload, size_t len,
                      bool validators_only) {
    for (nd_peer *p = net->peers; p; p = p->next)
        if (!p->dead && p->authed && (!validators_only || p->vindex >= 0))
            nd_net_send(p, type, payload, len);
}

void nd_net_foreach(nd_net *net, void (*fn)(nd_peer *p, void *arg), void *arg) {
    for (nd_peer *p = net->peers; p; p = p->next)
        if (!p->dead && p->authed)
            fn(p, arg);
}

int nd_peer_validator_index(const nd_peer *p) {
    return p->vindex;
}

const char *nd_peer_name(const nd_peer *p) {
    return p->name;
}

uint32_t nd_net_peer_count(const nd_net *net) {
    uint32_t n = 0;
    for (const nd_peer *p = net->peers; p; p = p->next)
        if (!p->dead && p->authed)
            n++;
    return n;
}
