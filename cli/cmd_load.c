/* cli/cmd_load.c — `hallmark load`: offered load and commit latency.
 *
 * Layer: cli/ (top). Pre-signs N NOTE transactions with a fresh key, POSTs
 * them to one or more nodes over keep-alive HTTP/1.1 connections (a lean
 * client of its own on libevent sockets, one request in flight per
 * connection, many connections), one per request or --batch of them per
 * POST /v1/txs/batch, at a fixed rate or as fast as the nodes take them, and
 * follows the chain on a node to see when each one commits. It shares the
 * cores with the nodes it measures, and its CPU is counted with theirs, so
 * it writes each node's request head once and reads the ids of a committed
 * block straight from the answer's text. Prints
 * a JSON summary: accepted, committed, committed tx/s, commit latency
 * p50/p99, and its own CPU time per committed tx. Optionally writes the ids
 * of accepted txs and of txs seen committed (for the cluster tests'
 * durability checks).
 *
 * Never: signs inside the timed section, or counts a tx as committed before
 * a node has reported it in a committed block. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "ct.h"
#include "cli.h"

#define LOAD_NODES_MAX 16
#define LOAD_CONNS_MAX 64
#define LOAD_COUNT_MAX 2000000u
#define LOAD_BATCH_MAX 1024u /* the node's limit per POST /v1/txs/batch */
#define LOAD_HEAD_MAX 256    /* a request head: the host is at most 127 bytes */

typedef struct {
    uint8_t *bytes;
    size_t len;
    uint8_t id[HM_HASH_LEN];
    uint64_t submit_us; /* 0 until sent */
    uint64_t commit_us; /* 0 until seen committed */
} load_tx;

typedef struct load_state load_state;

typedef struct {
    load_state *ls;
    struct bufferevent *bev; /* NULL until (re)connected on the next send */
    int node;
    uint32_t in_flight; /* txs in the request on the wire */
    bool busy;
    bool connected; /* the socket is up: requests may be sent directly */
} load_conn;

struct load_state {
    struct event_base *base;
    char hosts[LOAD_NODES_MAX][128];
    uint16_t ports[LOAD_NODES_MAX];
    /* each node's POST /v1/txs head up to the Content-Length value */
    char heads[LOAD_NODES_MAX][LOAD_HEAD_MAX];
    size_t head_lens[LOAD_NODES_MAX];
    int node_count;
    load_conn conns[LOAD_NODES_MAX * LOAD_CONNS_MAX];
    int conn_count;
    load_tx *txs;
    uint32_t count;
    uint32_t next; /* next tx to send */
    uint32_t done; /* answered (accepted or not) */
    uint32_t accepted;
    uint32_t rejected;
    uint32_t committed;
    uint64_t rate;  /* tx/s, 0 = unlimited */
    uint32_t batch; /* txs per request: 1 posts to /v1/txs, more to /v1/txs/batch */
    uint64_t start_us;
    uint64_t last_commit_us;
    uint64_t deadline_us;
    /* chain follower */
    struct evhttp_connection *poll_conn;
    int poll_node;
    uint64_t seen_height;
    uint64_t start_height;
    bool poll_busy;
    struct event *tick;
    /* id -> tx index (open addressing on the first id bytes) */
    uint32_t *index;
    uint32_t index_mask;
    FILE *committed_out;
};

static uint32_t id_slot(const load_state *ls, const uint8_t id[HM_HASH_LEN]) {
    uint32_t v;
    memcpy(&v, id, sizeof v);
    return v & ls->index_mask;
}

static load_tx *find_tx(load_state *ls, const uint8_t id[HM_HASH_LEN]) {
    for (uint32_t s = id_slot(ls, id);; s = (s + 1) & ls->index_mask) {
        uint32_t i = ls->index[s];
        if (i == 0)
            return NULL;
        if (!memcmp(ls->txs[i - 1].id, id, HM_HASH_LEN))
            return &ls->txs[i - 1];
    }
}

static void send_more(load_state *ls);

/* CPU time this process used so far, user + system, in microseconds: the
 * benchmark weighs the generator's own share of the shared cores. */
static uint64_t cpu_used_us(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

/* The submissions speak HTTP/1.1 on plain keep-alive sockets rather than
 * through evhttp's client: one POST in flight per connection, its bytes
 * written in one go and its answer read with nothing kept but the status.
 * The generator shares the machine's cores with the nodes it measures, and
 * evhttp's per-request objects and event re-arming cost it about twice as
 * much CPU per tx. The chain follower, one request per block, keeps evhttp. */

#define LOAD_RESPONSE_HEAD_MAX 8192
#define LOAD_RESPONSE_BODY_MAX (1u << 20)
#define LOAD_REQUEST_MAX 2048 /* head + a note of at most 1024 bytes fits */

/* Writes each node's POST /v1/txs head, up to its Content-Length value:
 * the same bytes for every request to that node. False when a head would
 * not fit. */
static bool request_heads(load_state *ls) {
    for (int i = 0; i < ls->node_count; i++) {
        char head[LOAD_HEAD_MAX]; /* written apart: ls holds both the host and the head */
        int n = snprintf(head, sizeof head,
                         "POST /v1/txs HTTP/1.1\r\nHost: %s:%u\r\n"
                         "Content-Type: application/octet-stream\r\nContent-Length: ",
                         ls->hosts[i], ls->ports[i]);
        if (n <= 0 || (size_t)n >= sizeof head)
            return false;
        memcpy(ls->heads[i], head, (size_t)n);
        ls->head_lens[i] = (size_t)n;
    }
    return true;
}

static void conn_close(load_conn *c) {
    if (c->bev)
        bufferevent_free(c->bev);
    c->bev = NULL;
    c->connected = false;
}

/* The request on c ended: status is the HTTP status, 0 when the connection
 * failed before an answer came; taken is the "accepted" count a batch's
 * answer opened with, -1 when there was none. */
static void submitted(load_conn *c, int status, long taken) {
    load_state *ls = c->ls;
    assert(c->busy && c->in_flight > 0);
    c->busy = false;
    uint32_t n = c->in_flight, ok = 0;
    c->in_flight = 0;
    ls->done += n;
    if (ls->batch > 1 && status == 202 && taken >= 0)
        ok = (uint32_t)taken <= n ? (uint32_t)taken : n;
    else if (ls->batch == 1 && (status == 202 || status == 409))
        ok = n; /* 409: a retry of a tx the node already has counts as accepted */
    ls->accepted += ok;
    ls->rejected += n - ok;
}

/* Parses one whole response at the head of in, if it is all there: returns
 * 1 and drains it (setting *status, *close, and *taken to the "accepted"
 * count that heads a batch's answer, -1 when there is none), 0 when more
 * bytes are needed, -1 when it is not an answer this client can read (the
 * connection is then dropped). */
static int response_take(struct evbuffer *in, int *status, bool *close, long *taken) {
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return evbuffer_get_length(in) > LOAD_RESPONSE_HEAD_MAX ? -1 : 0;
    size_t head_len = (size_t)end.pos + 4;
    if (head_len > LOAD_RESPONSE_HEAD_MAX)
        return -1;
    char head[LOAD_RESPONSE_HEAD_MAX + 1];
    evbuffer_copyout(in, head, head_len);
    head[head_len] = '\0';
    /* "HTTP/1.x NNN": read directly, as sscanf cost a tenth of a request */
    if (head_len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || (head[7] != '0' && head[7] != '1') ||
        head[8] != ' ')
        return -1;
    unsigned code = 0;
    for (int i = 9; i < 12; i++) {
        if (head[i] < '0' || head[i] > '9')
            return -1;
        code = code * 10 + (unsigned)(head[i] - '0');
    }
    if (code < 100 || code > 599 || (head[12] != ' ' && head[12] != '\r'))
        return -1;
    size_t body_len = 0;
    bool has_len = false;
    *close = false;
    for (char *line = strstr(head, "\r\n"); line && line[2] != '\r';
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (!strncasecmp(h, "Content-Length:", 15)) {
            char *stop;
            unsigned long long v = strtoull(h + 15, &stop, 10);
            if (v > LOAD_RESPONSE_BODY_MAX)
                return -1;
            body_len = (size_t)v;
            has_len = true;
        } else if (!strncasecmp(h, "Transfer-Encoding:", 18)) {
            return -1; /* the node's answers to a POST carry a length */
        } else if (!strncasecmp(h, "Connection:", 11)) {
            /* the value up to the line's end; "close" anywhere in it */
            for (const char *v = h + 11; *v != '\r'; v++)
                if (!strncasecmp(v, "close", 5))
                    *close = true;
        }
    }
    if (!has_len && code >= 200 && code != 204 && code != 304)
        return -1;
    if (evbuffer_get_length(in) < head_len + body_len)
        return 0;
    /* a batch's answer opens with {"accepted":N, the rest is not needed */
    char opening[48] = {0};
    size_t open_len = body_len < sizeof opening - 1 ? body_len : sizeof opening - 1;
    struct evbuffer_ptr body_at;
    *taken = -1;
    if (evbuffer_ptr_set(in, &body_at, head_len, EVBUFFER_PTR_SET) == 0 &&
        evbuffer_copyout_from(in, &body_at, opening, open_len) == (ev_ssize_t)open_len &&
        !strncmp(opening, "{\"accepted\":", 12)) {
        char *stop;
        unsigned long v = strtoul(opening + 12, &stop, 10);
        if (stop != opening + 12 && *stop == ',' && v <= LOAD_BATCH_MAX)
            *taken = (long)v;
    }
    evbuffer_drain(in, head_len + body_len);
    *status = (int)code;
    return 1;
}

static void conn_read(struct bufferevent *bev, void *arg) {
    load_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    int status = 0;
    bool close = false;
    long taken = -1;
    int r = response_take(in, &status, &close, &taken);
    if (r == 0)
        return;
    if (r < 0 || !c->busy || evbuffer_get_length(in) > 0)
        close = true; /* not one answer to the one request in flight */
    if (c->busy)
        submitted(c, r > 0 ? status : 0, r > 0 ? taken : -1);
    if (close)
        conn_close(c);
    send_more(c->ls);
}

static void conn_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    load_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        return;
    }
    /* refused, reset, closed or timed out: like evhttp, the request in
     * flight is lost, and the next one connects again */
    conn_close(c);
    if (c->busy)
        submitted(c, 0, -1);
    send_more(c->ls);
}

static bool conn_open(load_state *ls, load_conn *c) {
    c->bev = bufferevent_socket_new(ls->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev)
        return false;
    bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
    struct timeval tv = {10, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    if (bufferevent_socket_connect_hostname(c->bev, NULL, AF_INET, ls->hosts[c->node],
                                            ls->ports[c->node]) != 0) {
        conn_close(c);
        return false;
    }
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return true;
}

/* Sends txs [next, next + n) as one POST /v1/txs/batch: each tx framed as
 * a 4-byte big-endian length and its bytes. */
static void submit_batch(load_state *ls, load_conn *c, uint32_t n) {
    uint64_t now = cli_monotonic_us();
    size_t body_len = 0;
    uint32_t first = ls->next;
    for (uint32_t i = 0; i < n; i++) {
        load_tx *t = &ls->txs[first + i];
        t->submit_us = now;
        body_len += 4 + t->len;
    }
    ls->next += n;
    c->busy = true;
    c->in_flight = n;
    if (!c->bev && !conn_open(ls, c)) {
        submitted(c, 0, -1);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    bool ok = evbuffer_add_printf(out,
                                  "POST /v1/txs/batch HTTP/1.1\r\nHost: %s:%u\r\n"
                                  "Content-Type: application/octet-stream\r\n"
                                  "Content-Length: %zu\r\n\r\n",
                                  ls->hosts[c->node], ls->ports[c->node], body_len) > 0;
    for (uint32_t i = 0; ok && i < n; i++) {
        const load_tx *t = &ls->txs[first + i];
        uint8_t len[4] = {(uint8_t)(t->len >> 24), (uint8_t)(t->len >> 16), (uint8_t)(t->len >> 8),
                          (uint8_t)t->len};
        ok = evbuffer_add(out, len, sizeof len) == 0 && evbuffer_add(out, t->bytes, t->len) == 0;
    }
    if (!ok) {
        conn_close(c);
        submitted(c, 0, -1);
    }
}

static void submit_one(load_state *ls, load_conn *c) {
    load_tx *t = &ls->txs[ls->next++];
    t->submit_us = cli_monotonic_us();
    c->busy = true;
    c->in_flight = 1;
    if (!c->bev && !conn_open(ls, c)) {
        submitted(c, 0, -1);
        return;
    }
    /* the head made once per node (request_heads), then the length */
    uint8_t req[LOAD_REQUEST_MAX];
    size_t len = ls->head_lens[c->node];
    static_assert(LOAD_HEAD_MAX + 20 + 4 <= LOAD_REQUEST_MAX, "a head and its length fit");
    memcpy(req, ls->heads[c->node], len);
    len += hm_u64_decimal(t->len, (char *)req + len);
    memcpy(req + len, "\r\n\r\n", 4);
    len += 4;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (c->connected && evbuffer_get_length(out) == 0 && t->len <= sizeof req - len) {
        /* one send() while the socket has room, as it has for a request of
         * a few hundred bytes, saves arming a write event for it */
        memcpy(req + len, t->bytes, t->len);
        len += t->len;
        ssize_t w = send(bufferevent_getfd(c->bev), req, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        size_t sent = w > 0 ? (size_t)w : 0;
        /* the rest goes through the bufferevent, which reports errors */
        if (sent == len || evbuffer_add(out, req + sent, len - sent) == 0)
            return;
    } else if (evbuffer_add(out, req, len) == 0 && evbuffer_add(out, t->bytes, t->len) == 0) {
        return;
    }
    conn_close(c);
    submitted(c, 0, -1);
}

static void send_more(load_state *ls) {
    uint64_t allowed = ls->count;
    if (ls->rate) {
        uint64_t elapsed = cli_monotonic_us() - ls->start_us;
        allowed = ls->rate * elapsed / 1000000u + 1;
        if (allowed > ls->count)
            allowed = ls->count;
    }
    for (int i = 0; i < ls->conn_count && ls->next < allowed; i++) {
        load_conn *c = &ls->conns[(ls->next + (uint32_t)i) % (uint32_t)ls->conn_count];
        if (c->busy)
            continue;
        if (ls->batch > 1) {
            uint64_t n = allowed - ls->next;
            submit_batch(ls, c, n < ls->batch ? (uint32_t)n : ls->batch);
        } else {
            submit_one(ls, c);
        }
    }
}

static void poll_block(load_state *ls, uint64_t height);

#define LOAD_ID_HEX (2 * HM_HASH_LEN)

/* Marks the tx with this id, written as hex (LOAD_ID_HEX digits), as seen
 * committed at time t, if it is one of ours and not yet marked. */
static void mark_committed(load_state *ls, const uint8_t id[HM_HASH_LEN], const char *hex,
                           uint64_t t) {
    load_tx *tx = find_tx(ls, id);
    if (tx && !tx->commit_us) {
        tx->commit_us = t;
        ls->committed++;
        ls->last_commit_us = t;
        if (ls->committed_out)
            fprintf(ls->committed_out, "%.*s %llu\n", LOAD_ID_HEX, hex,
                    (unsigned long long)(ls->seen_height + 1));
    }
}

/* A lowercase hex digit's value, -1 for any other byte. */
static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The tx ids of a GET /v1/blocks answer, read straight from its text: the
 * "txs" array as the node writes it, ["<64 hex>","<64 hex>",...] with no
 * spaces. Building jansson's tree of the whole block (and its certificate)
 * cost the generator more than its requests did, per tx. Returns false,
 * having marked nothing, when the array is not in that form (the caller
 * then parses the answer as JSON) or memory runs out. */
static bool block_ids_scan(load_state *ls, const char *text, size_t len, uint64_t t) {
    static const char key[] = "\"txs\":[";
    const size_t key_len = sizeof key - 1, item_len = LOAD_ID_HEX + 3; /* "<hex>", */
    const char *end = text + len, *p = NULL;
    for (const char *q = text; (size_t)(end - q) >= key_len; q++) {
        if (!(q = memchr(q, '"', (size_t)(end - q))) || (size_t)(end - q) < key_len)
            return false;
        if (!memcmp(q, key, key_len)) {
            p = q + key_len;
            break;
        }
    }
    if (!p || p == end)
        return false;
    if (*p == ']')
        return true;
    /* the whole array decoded first, so that a malformed one marks nothing */
    size_t cap = (size_t)(end - p) / item_len + 1, count = 0;
    uint8_t(*ids)[HM_HASH_LEN] = malloc(cap * HM_HASH_LEN);
    if (!ids)
        return false;
    bool ok = true;
    for (const char *q = p;; q++) {
        /* q at an item's opening quote, with its closing quote and the
         * byte after it in the text */
        if ((size_t)(end - q) < item_len || q[0] != '"' || q[LOAD_ID_HEX + 1] != '"') {
            ok = false;
            break;
        }
        assert(count < cap);
        for (size_t i = 0; ok && i < HM_HASH_LEN; i++) {
            int hi = hex_digit(q[1 + 2 * i]), lo = hex_digit(q[2 + 2 * i]);
            ok = hi >= 0 && lo >= 0;
            if (ok)
                ids[count][i] = (uint8_t)(hi << 4 | lo);
        }
        count++;
        q += LOAD_ID_HEX + 2;
        if (!ok || *q == ']')
            break;
        if (*q != ',') {
            ok = false;
            break;
        }
    }
    for (size_t i = 0; ok && i < count; i++)
        mark_committed(ls, ids[i], p + i * item_len + 1, t);
    free(ids);
    return ok;
}

static void on_block(struct evhttp_request *req, void *arg) {
    load_state *ls = arg;
    ls->poll_busy = false;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    if (status == 404)
        return; /* not committed yet: ask again on the next tick */
    if (status != 200) {
        /* this node may be down: follow another one */
        ls->poll_node = (ls->poll_node + 1) % ls->node_count;
        evhttp_connection_free_on_completion(ls->poll_conn);
        ls->poll_conn = evhttp_connection_base_new(ls->base, NULL, ls->hosts[ls->poll_node],
                                                   ls->ports[ls->poll_node]);
        if (ls->poll_conn)
            evhttp_connection_set_timeout(ls->poll_conn, 5);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *text = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
    uint64_t t = cli_monotonic_us();
    if (!text || !block_ids_scan(ls, text, len, t)) {
        json_error_t jerr;
        json_t *j = text ? json_loadb(text, len, 0, &jerr) : NULL;
        json_t *txs = j ? json_object_get(j, "txs") : NULL;
        size_t i;
        json_t *v;
        json_array_foreach(txs, i, v) {
            uint8_t id[HM_HASH_LEN];
            if (json_is_string(v) && hm_hex_decode(json_string_value(v), id, HM_HASH_LEN) == HM_OK)
                mark_committed(ls, id, json_string_value(v), t);
        }
        json_decref(j);
    }
    ls->seen_height++;
    if (ls->committed_out)
        fflush(ls->committed_out);
}

static void poll_block(load_state *ls, uint64_t height) {
    if (!ls->poll_conn)
        return;
    struct evhttp_request *req = evhttp_request_new(on_block, ls);
    if (!req)
        return;
    char path[64], host[160];
    snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long)height);
    snprintf(host, sizeof host, "%s:%u", ls->hosts[ls->poll_node], ls->ports[ls->poll_node]);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
    ls->poll_busy = true;
    if (evhttp_make_request(ls->poll_conn, req, EVHTTP_REQ_GET, path) != 0)
        ls->poll_busy = false;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    load_state *ls = arg;
    send_more(ls);
    if (!ls->poll_busy)
        poll_block(ls, ls->seen_height + 1);
    uint64_t t = cli_monotonic_us();
    bool all_sent = ls->done >= ls->count;
    if ((all_sent && ls->committed >= ls->accepted) || t > ls->deadline_us)
        event_base_loopexit(ls->base, NULL);
}

static hm_err parse_url(const char *url, char *host, size_t host_cap, uint16_t *port) {
    if (strncmp(url, "http://", 7) != 0)
        return HM_ERR_ARG;
    const char *h = url + 7;
    const char *colon = strrchr(h, ':');
    if (!colon || (size_t)(colon - h) >= host_cap)
        return HM_ERR_ARG;
    uint64_t p;
    char portbuf[8];
    size_t plen = strcspn(colon + 1, "/");
    if (plen == 0 || plen >= sizeof portbuf)
        return HM_ERR_ARG;
    memcpy(portbuf, colon + 1, plen);
    portbuf[plen] = '\0';
    if (!cli_parse_u64(portbuf, 65535, &p) || p == 0)
        return HM_ERR_ARG;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    *port = (uint16_t)p;
    return HM_OK;
}

static const cli_opt load_opts[] = {
    {"node", "URL", "node API base URL (repeat to spread the load; default $HALLMARK_NODE)"},
    {"genesis", "FILE", "genesis file (for the chain id; default $HALLMARK_GENESIS)"},
    {"count", "N", "transactions to send (default 1000)"},
    {"rate", "TPS", "offered load in tx/s (default 0: as fast as accepted)"},
    {"connections", "C", "keep-alive connections per node (default 8)"},
    {"batch", "B", "txs per request (default 1: POST /v1/txs; 2..1024: POST /v1/txs/batch)"},
    {"body-size", "B", "note size in bytes (default 64, at most 1024)"},
    {"timeout", "S", "give up waiting for commits after S seconds (default 60)"},
    {"ids", "FILE", "write the id of every tx sent"},
    {"committed", "FILE", "write \"id height\" for every tx seen committed"},
    {"verify-ceiling", NULL, "only measure BIP340 tx signature checks per second on one core"},
    {NULL, NULL, NULL},
};
static const cli_spec load_spec = {
    .usage = "hallmark load [--node URL]... [--genesis FILE] [--count N] [--rate TPS] [--batch B]",
    .description =
        "Sends signed NOTE transactions and reports committed tx/s and commit latency\n"
        "(submission to the block that holds it being visible on the followed node) as\n"
        "JSON: {sent, accepted, rejected, committed, seconds, committed_tps, p50_ms,\n"
        "p99_ms, blocks, load_cpu_us_per_tx}. Exit 1 if some accepted tx did not commit\n"
        "before the timeout.",
    .opts = load_opts,
    .positional_min = 0,
    .positional_max = 0,
};

/* Checks of one signed NOTE per second on this core, for about a second:
 * the ceiling that committed tx/s is measured against. */
static int verify_ceiling(void) {
    hm_keypair kp;
    if (hm_keypair_generate(&kp) != HM_OK)
        return CLI_EXIT_IO;
    hm_writer w;
    hm_writer_init_growable(&w, 4096);
    uint8_t body[64] = {0};
    if (ct_tx_build(&w, CT_TX_NOTE, &kp, "bench", 1, body, sizeof body, false, NULL, NULL, 0) !=
        HM_OK)
        return CLI_EXIT_FAILED;
    size_t len = 0;
    uint8_t *txb = hm_writer_take(&w, &len);
    ct_tx tx;
    if (ct_tx_decode(txb, len, &tx) != HM_OK)
        return CLI_EXIT_FAILED;
    uint64_t start = cli_monotonic_us(), cpu_start = cpu_used_us(), n = 0;
    while (cli_monotonic_us() - start < 1000000u) {
        for (int i = 0; i < 100; i++)
            if (ct_tx_check(&tx, "bench", false) != HM_OK)
                return CLI_EXIT_FAILED;
        n += 100;
    }
    double secs = (double)(cli_monotonic_us() - start) / 1e6;
    /* per CPU second as well: unlike the wall-clock rate, it does not
     * depend on what else the machine's cores were running meanwhile */
    double cpu_us = (double)(cpu_used_us() - cpu_start);
    printf("{\"verify_per_s\": %.0f, \"verify_cpu_us\": %.2f}\n", (double)n / secs,
           cpu_us / (double)n);
    free(txb);
    hm_keypair_wipe(&kp);
    return CLI_EXIT_OK;
}

int cli_cmd_load(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&load_spec, argc, argv, &a, &rc))
        return rc;
    if (cli_flag(&a, "verify-ceiling"))
        return verify_ceiling();
    uint64_t count = 1000, rate = 0, conns = 8, body_size = 64, timeout_s = 60, batch = 1;
    if ((cli_arg(&a, "count") && !cli_parse_u64(cli_arg(&a, "count"), LOAD_COUNT_MAX, &count)) ||
        count == 0)
        return cli_usage_error(&load_spec, "--count must be 1..%u", LOAD_COUNT_MAX);
    if (cli_arg(&a, "rate") && !cli_parse_u64(cli_arg(&a, "rate"), 10000000, &rate))
        return cli_usage_error(&load_spec, "--rate must be a number of tx/s");
    if ((cli_arg(&a, "connections") &&
         !cli_parse_u64(cli_arg(&a, "connections"), LOAD_CONNS_MAX, &conns)) ||
        conns == 0)
        return cli_usage_error(&load_spec, "--connections must be 1..%d", LOAD_CONNS_MAX);
    if ((cli_arg(&a, "batch") && !cli_parse_u64(cli_arg(&a, "batch"), LOAD_BATCH_MAX, &batch)) ||
        batch == 0)
        return cli_usage_error(&load_spec, "--batch must be 1..%u", LOAD_BATCH_MAX);
    if (cli_arg(&a, "body-size") && !cli_parse_u64(cli_arg(&a, "body-size"), 1024, &body_size))
        return cli_usage_error(&load_spec, "--body-size must be 0..1024");
    if (cli_arg(&a, "timeout") && !cli_parse_u64(cli_arg(&a, "timeout"), 86400, &timeout_s))
        return cli_usage_error(&load_spec, "--timeout must be seconds");
    char chain_id[HM_CHAIN_ID_MAX + 1];
    hm_err err = cli_genesis_chain_id(cli_arg(&a, "genesis"), chain_id);
    if (err != HM_OK)
        return cli_exit_for(err);
    static load_state ls;
    memset(&ls, 0, sizeof ls);
    size_t cursor = 0;
    const char *url;
    while ((url = cli_arg_next(&a, "node", &cursor)) != NULL) {
        if (ls.node_count >= LOAD_NODES_MAX)
            return cli_usage_error(&load_spec, "at most %d --node", LOAD_NODES_MAX);
        if (parse_url(url, ls.hosts[ls.node_count], sizeof ls.hosts[0], &ls.ports[ls.node_count]) !=
            HM_OK)
            return cli_usage_error(&load_spec, "--node %s is not http://IP:PORT", url);
        ls.node_count++;
    }
    if (ls.node_count == 0) {
        if (parse_url(cli_node_url(NULL), ls.hosts[0], sizeof ls.hosts[0], &ls.ports[0]) != HM_OK)
            return cli_usage_error(&load_spec, "node URL must be http://IP:PORT");
        ls.node_count = 1;
    }
    /* sign everything before the clock starts */
    hm_keypair kp;
    if ((err = hm_keypair_generate(&kp)) != HM_OK)
        return cli_exit_for(err);
    ls.count = (uint32_t)count;
    ls.txs = calloc(count, sizeof *ls.txs);
    uint32_t slots = 1;
    while (slots < count * 2)
        slots <<= 1;
    ls.index = calloc(slots, sizeof *ls.index);
    ls.index_mask = slots - 1;
    if (!ls.txs || !ls.index) {
        cli_error("out of memory");
        return CLI_EXIT_IO;
    }
    uint8_t body[1024];
    uint8_t salt[8];
    if (hm_random_bytes(salt, sizeof salt) != HM_OK)
        return CLI_EXIT_IO;
    for (uint32_t i = 0; i < count; i++) {
        memset(body, 'x', sizeof body);
        int n = snprintf((char *)body, sizeof body, "load %02x%02x%02x%02x #%u ", salt[0], salt[1],
                         salt[2], salt[3], i);
        (void)n;
        hm_writer w;
        hm_writer_init_growable(&w, 4096);
        err = ct_tx_build(&w, CT_TX_NOTE, &kp, chain_id, i, body, body_size, false, NULL, NULL, 0);
        if (err != HM_OK) {
            hm_writer_free(&w);
            cli_error("cannot build a transaction: %s", hm_err_message(err));
            return cli_exit_for(err);
        }
        ls.txs[i].bytes = hm_writer_take(&w, &ls.txs[i].len);
        ct_tx tx;
        if (ct_tx_decode(ls.txs[i].bytes, ls.txs[i].len, &tx) != HM_OK)
            return CLI_EXIT_FAILED;
        memcpy(ls.txs[i].id, tx.id, HM_HASH_LEN);
        uint32_t s = id_slot(&ls, tx.id);
        while (ls.index[s])
            s = (s + 1) & ls.index_mask;
        ls.index[s] = i + 1;
    }
    hm_keypair_wipe(&kp);
    const char *ids_path = cli_arg(&a, "ids");
    if (ids_path) {
        FILE *f = fopen(ids_path, "w");
        if (!f) {
            cli_error("%s: cannot write", ids_path);
            return CLI_EXIT_IO;
        }
        for (uint32_t i = 0; i < count; i++) {
            char hex[2 * HM_HASH_LEN + 1];
            hm_hex_encode(ls.txs[i].id, HM_HASH_LEN, hex);
            fprintf(f, "%s\n", hex);
        }
        fclose(f);
    }
    const char *committed_path = cli_arg(&a, "committed");
    if (committed_path && !(ls.committed_out = fopen(committed_path, "w"))) {
        cli_error("%s: cannot write", committed_path);
        return CLI_EXIT_IO;
    }
    if (!request_heads(&ls))
        return cli_usage_error(&load_spec, "a --node host is too long");
    ls.base = event_base_new();
    if (!ls.base)
        return CLI_EXIT_IO;
    ls.rate = rate;
    ls.batch = (uint32_t)batch;
    for (int nd = 0; nd < ls.node_count; nd++) {
        for (uint64_t c = 0; c < conns; c++) {
            load_conn *lc = &ls.conns[ls.conn_count++];
            lc->ls = &ls;
            lc->node = nd;
            if (!conn_open(&ls, lc))
                return CLI_EXIT_IO;
        }
    }
    /* follow the chain from its current height */
    char status_url[192];
    snprintf(status_url, sizeof status_url, "http://%s:%u", ls.hosts[0], ls.ports[0]);
    int status = 0;
    char *resp = NULL;
    size_t resp_len = 0;
    if (cli_http_request(status_url, "GET", "/v1/status", NULL, NULL, 0, NULL, &status, &resp,
                         &resp_len, 65536, 5000) != HM_OK)
        return CLI_EXIT_NODE;
    json_error_t jerr;
    json_t *js = json_loads(resp, 0, &jerr);
    free(resp);
    ls.seen_height = js ? (uint64_t)json_integer_value(json_object_get(js, "height")) : 0;
    json_decref(js);
    ls.start_height = ls.seen_height;
    ls.poll_conn = evhttp_connection_base_new(ls.base, NULL, ls.hosts[0], ls.ports[0]);
    evhttp_connection_set_timeout(ls.poll_conn, 5);
    ls.tick = event_new(ls.base, -1, EV_PERSIST, on_tick, &ls);
    struct timeval tv = {0, 2000};
    evtimer_add(ls.tick, &tv);
    ls.start_us = cli_monotonic_us();
    uint64_t cpu_start = cpu_used_us();
    ls.deadline_us = ls.start_us + timeout_s * 1000000u;
    send_more(&ls);
    event_base_dispatch(ls.base);
    uint64_t cpu_us = cpu_used_us() - cpu_start;
    /* figures */
    uint64_t *lat = calloc(count, sizeof *lat);
    uint32_t nl = 0;
    for (uint32_t i = 0; i < count; i++)
        if (ls.txs[i].commit_us && lat)
            lat[nl++] = ls.txs[i].commit_us - ls.txs[i].submit_us;
    if (lat && nl)
        qsort(lat, nl, sizeof *lat, cli_compare_u64);
    double secs =
        (double)((ls.last_commit_us ? ls.last_commit_us : cli_monotonic_us()) - ls.start_us) / 1e6;
    double p50 = nl ? (double)lat[nl / 2] / 1000.0 : 0;
    double p99 =
        nl ? (double)lat[(size_t)((double)nl * 0.99) < nl ? (size_t)((double)nl * 0.99) : nl - 1] /
                 1000.0
           : 0;
    printf("{\"sent\": %u, \"accepted\": %u, \"rejected\": %u, \"committed\": %u, "
           "\"seconds\": %.3f, \"offered_tps\": %llu, \"committed_tps\": %.1f, \"p50_ms\": %.1f, "
           "\"p99_ms\": %.1f, \"blocks\": %llu, \"load_cpu_us_per_tx\": %.1f}\n",
           ls.next, ls.accepted, ls.rejected, ls.committed, secs, (unsigned long long)rate,
           secs > 0 ? ls.committed / secs : 0.0, p50, p99,
           (unsigned long long)(ls.seen_height - ls.start_height),
           ls.committed ? (double)cpu_us / ls.committed : 0.0);
    if (ls.committed_out)
        fclose(ls.committed_out);
    bool ok = ls.committed >= ls.accepted;
    free(lat);
    for (int i = 0; i < ls.conn_count; i++)
        conn_close(&ls.conns[i]);
    if (ls.poll_conn)
        evhttp_connection_free(ls.poll_conn);
    event_free(ls.tick);
    event_base_free(ls.base);
    for (uint32_t i = 0; i < count; i++)
        free(ls.txs[i].bytes);
    free(ls.txs);
    free(ls.index);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}
