/* node/lane.c — the resolver lane: a lean HTTP/1.1 server on its own
 * listener (resolver_listen) for the consumer's Digital Link pages.
 *
 * Layer: node/. Why it exists: through libevent's evhttp a page lookup
 * costs about fifty small allocations (three per header of the request and
 * of the answer), a printf per header, and per request an ioctl(FIONREAD)
 * and epoll_ctl calls to re-arm the connection. Here a connection has one
 * input buffer (the request head's bound plus ND_LANE_BODY_MAX), read with
 * recv() straight into it and parsed in place (node/lane_req.c); one output
 * buffer that the answers are written into, sent with one send() or, for
 * the last answer of a read, one sendmsg() of the head and the body's
 * pieces where they lie; and one read event registered for the
 * connection's whole life. Only a client that does not read its answers
 * costs epoll changes: the lane stops reading from it until its answers
 * have drained. An answer is always queued whole, whatever its size (a
 * bundle page can be large; a Content-Length once sent is kept); what
 * bounds a connection's output is that the next pipelined request is
 * answered only while less than LANE_OUT_MAX bytes wait, so a connection
 * holds at most one answer plus LANE_OUT_MAX. The input buffer is
 * allocated when the first bytes arrive, not at accept: an idle connection
 * costs no buffer.
 *
 * Requests are answered in order, pipelined or not. Idle connections, and
 * requests that do not arrive whole, are closed after http_idle_timeout_s
 * (a sweep once a second, not a timer per request). The lane counts its
 * own connections against http_connections_max; past it a new connection
 * is closed at once. Every refusal is logged at debug level. */
#include "lane.h"

#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/crypto.h>

#define LANE_FIELDS_MAX 100        /* header fields per request */
#define LANE_OUT_MAX (64u * 1024)  /* queued bytes past which pipelined requests wait */
#define LANE_OUT_KEEP (64u * 1024) /* an output buffer larger than this is freed once sent */
#define LANE_HEAD_BYTES 1024       /* status line and headers of one answer, at most */
#define LANE_SWEEP_MS 1000

typedef struct lane_conn {
    nd_lane *lane;
    struct lane_conn *prev, *next;
    evutil_socket_t fd;
    struct event *rev; /* EV_READ | EV_PERSIST, added for the connection's life */
    struct event *wev; /* EV_WRITE | EV_PERSIST, added only while answers wait */
    uint8_t *in;
    size_t in_len;
    size_t want; /* bytes of the request whose head is whole, 0 when unknown */
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    uint64_t active_ms;  /* last byte read or sent */
    uint64_t started_ms; /* when the incomplete request at the front of `in`
                            began arriving; 0 when none is (nothing there, or
                            whole requests waiting for the output) */
    bool eof;            /* the client sent FIN: answer what is whole, then close */
    bool closing;        /* no more requests: close once `out` is sent */
    bool blocked;        /* `out` waits for the socket; reading stopped */
} lane_conn;

struct nd_lane {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sweep;
    nd_lane_answer_fn fn;
    void *arg;
    nd_lane_limits limits;
    size_t in_cap;
    uint64_t idle_ms;
    uint32_t conns_max;
    lane_conn *conns;
    nd_lane_stats stats;
};

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ answers */

void nd_answer_init(nd_answer *a) {
    a->status = 500;
    a->reason = NULL;
    a->header_count = 0;
    a->has_body = false;
    for (int i = 0; i < ND_ANSWER_PARTS; i++) {
        a->part[i] = NULL;
        a->part_len[i] = 0;
    }
    a->etag[0] = '\0';
    a->counter[0] = '\0';
    a->owned = NULL;
}

void nd_answer_header_add(nd_answer *a, const char *name, const char *value) {
    assert(a->header_count < ND_ANSWER_HEADERS_MAX);
    if (a->header_count < ND_ANSWER_HEADERS_MAX) {
        a->headers[a->header_count].name = name;
        a->headers[a->header_count].value = value;
        a->header_count++;
    }
}

void nd_answer_body(nd_answer *a, const uint8_t *data, size_t len) {
    a->has_body = true;
    a->part[0] = data;
    a->part_len[0] = len;
    for (int i = 1; i < ND_ANSWER_PARTS; i++) {
        a->part[i] = NULL;
        a->part_len[i] = 0;
    }
}

void nd_answer_clear(nd_answer *a) {
    free(a->owned);
    nd_answer_init(a);
}

void nd_answer_error(nd_answer *a, int status, const char *code, const char *message) {
    nd_answer_clear(a);
    a->status = status;
    /* nd_http_reply_json's text: jansson, compact, and a newline. */
    json_t *j = json_pack("{s:s, s:s}", "error", code, "message", message);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    size_t len = text != NULL ? strlen(text) : 0;
    char *body = text != NULL ? realloc(text, len + 2) : NULL;
    if (body == NULL) {
        free(text);
        static const char oom[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}";
        a->status = 500;
        nd_answer_header_add(a, "Content-Type", "application/json");
        nd_answer_body(a, (const uint8_t *)oom, sizeof oom - 1);
        return;
    }
    body[len] = '\n';
    body[len + 1] = '\0';
    a->owned = body;
    nd_answer_header_add(a, "Content-Type", "application/json");
    nd_answer_body(a, (const uint8_t *)body, len + 1);
}

const char *nd_answer_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Request Entity Too Large";
    case 414:
        return "Request-URI Too Large";
    case 431: /* the lane's own (libevent would say "Client Error") */
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version not supported";
    default:
        break;
    }
    /* libevent's phrase for a code outside its table: the class's name */
    return status < 300   ? "Success"
           : status < 400 ? "Redirection"
           : status < 500 ? "Client Error"
                          : "Server Error";
}

/* The Date text of both HTTP servers (the API's and this one), formatted
 * once a second, with our own day and month names so that no locale
 * changes it. Per thread, so no answer sees another thread's half-written
 * text. */
const char *nd_answer_date(void) {
    static _Thread_local time_t shown = (time_t)-1;
    static _Thread_local char text[32];
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now != shown) {
        struct tm tm;
        if (gmtime_r(&now, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
            tm.tm_mon > 11) {
            return NULL;
        }
        int w = snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                         tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
        if (w <= 0 || (size_t)w >= sizeof text) {
            return NULL;
        }
        shown = now;
    }
    return text;
}

/* ------------------------------------------------------------ output */

static void put(uint8_t **w, const void *s, size_t n) {
    memcpy(*w, s, n);
    *w += n;
}

static void put_text(uint8_t **w, const char *s) {
    put(w, s, strlen(s));
}

/* Writes the status line and headers of a into dst (LANE_HEAD_BYTES at
 * least); returns its length, 0 if it would not fit. The order is what
 * nd_http_send and libevent write: the answer's headers, Date,
 * Content-Length, then libevent's Connection. */
static size_t head_write(const nd_answer *a, uint8_t minor, bool echo_keepalive, bool echo_close,
                         size_t body_len, uint8_t *dst) {
    size_t need = 64 + 32 + 40 + 48;
    /* Each length measured once, for the bound and for the copy. */
    size_t name_len[ND_ANSWER_HEADERS_MAX], value_len[ND_ANSWER_HEADERS_MAX];
    assert(a->header_count <= ND_ANSWER_HEADERS_MAX);
    for (uint32_t i = 0; i < a->header_count; i++) {
        name_len[i] = strlen(a->headers[i].name);
        value_len[i] = strlen(a->headers[i].value);
        need += name_len[i] + value_len[i] + 4;
    }
    const char *reason = a->reason != NULL ? a->reason : nd_answer_reason(a->status);
    size_t reason_len = strlen(reason);
    need += reason_len;
    if (need > LANE_HEAD_BYTES || a->status < 100 || a->status > 999) {
        return 0;
    }
    uint8_t *w = dst;
    put(&w, minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ", 9);
    char code[3] = {(char)('0' + a->status / 100), (char)('0' + a->status / 10 % 10),
                    (char)('0' + a->status % 10)};
    put(&w, code, 3);
    put(&w, " ", 1);
    put(&w, reason, reason_len);
    put(&w, "\r\n", 2);
    for (uint32_t i = 0; i < a->header_count; i++) {
        put(&w, a->headers[i].name, name_len[i]);
        put(&w, ": ", 2);
        put(&w, a->headers[i].value, value_len[i]);
        put(&w, "\r\n", 2);
    }
    const char *date = nd_answer_date();
    if (date != NULL) {
        put(&w, "Date: ", 6);
        put_text(&w, date);
        put(&w, "\r\n", 2);
    }
    if (a->has_body && a->status >= 200 && a->status != 204 && a->status != 304) {
        char len[24];
        size_t n = hm_u64_decimal((uint64_t)body_len, len);
        put(&w, "Content-Length: ", 16);
        put(&w, len, n);
        put(&w, "\r\n", 2);
    }
    if (echo_close) {
        put(&w, "Connection: close\r\n", 19);
    } else if (echo_keepalive) {
        put(&w, "Connection: keep-alive\r\n", 24);
    }
    put(&w, "\r\n", 2);
    assert((size_t)(w - dst) <= need);
    return (size_t)(w - dst);
}

/* Room for more bytes at the end of `out`; false only when memory runs out. */
static bool out_reserve(lane_conn *c, size_t more) {
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    }
    if (c->out_len + more <= c->out_cap) {
        return true;
    }
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + more <= c->out_cap) {
            return true;
        }
    }
    /* No bound here: an answer is taken whole (its Content-Length may
     * already be on the wire); conn_process bounds how much is queued
     * before another answer is added. */
    if (more > SIZE_MAX / 2 - c->out_len) {
        return false;
    }
    size_t need = c->out_len + more;
    size_t cap = c->out_cap ? c->out_cap : 16384;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *grown = realloc(c->out, cap);
    if (grown == NULL) {
        return false;
    }
    c->out = grown;
    c->out_cap = cap;
    return true;
}

static void conn_close(lane_conn *c) {
    nd_lane *l = c->lane;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        l->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    assert(l->stats.open > 0);
    l->stats.open--;
    if (c->rev != NULL) {
        event_free(c->rev);
    }
    if (c->wev != NULL) {
        event_free(c->wev);
    }
    evutil_closesocket(c->fd);
    if (c->in != NULL) {
        assert(l->stats.buffered > 0);
        l->stats.buffered--;
        free(c->in);
    }
    free(c->out);
    free(c);
}

/* Sends what `out` holds. False when the connection is gone (closed here:
 * an error, or everything sent on a closing connection). */
static bool conn_flush(lane_conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->active_ms = mono_ms();
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->blocked) {
                /* Stop reading until the client takes its answers. */
                c->blocked = true;
                event_del(c->rev);
                event_add(c->wev, NULL);
            }
            return true;
        }
        conn_close(c);
        return false;
    }
    c->out_off = c->out_len = 0;
    if (c->closing) {
        conn_close(c);
        return false;
    }
    if (c->out_cap > LANE_OUT_KEEP) {
        /* A large answer went out: do not keep its room for the
         * connection's life. */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    if (c->blocked) {
        c->blocked = false;
        event_del(c->wev);
        if (!c->eof) {
            event_add(c->rev, NULL);
        }
    }
    return true;
}

/* Why an answer could not be queued (the connection must then close). */
typedef enum {
    ANSWER_QUEUED = 0,
    ANSWER_HEAD_TOO_LARGE, /* status line and headers over LANE_HEAD_BYTES */
    ANSWER_NO_MEMORY,
} answer_result;

static const char *answer_result_name(answer_result r) {
    return r == ANSWER_HEAD_TOO_LARGE ? "answer_head_too_large"
           : r == ANSWER_NO_MEMORY    ? "out_of_memory"
                                      : "";
}

/* Queues answer a to the request r (its method decides whether the body is
 * sent), whole, whatever its size. When `direct` (nothing queued before it,
 * nothing parsed after it) the head and the body's pieces go out in one
 * sendmsg from where they lie, and only what the socket did not take is
 * copied. */
static answer_result conn_answer(lane_conn *c, const nd_answer *a, uint8_t minor, bool head_only,
                                 bool echo_keepalive, bool echo_close, bool direct) {
    size_t body_len = 0;
    for (int i = 0; i < ND_ANSWER_PARTS; i++) {
        body_len += a->has_body ? a->part_len[i] : 0;
    }
    bool send_body =
        a->has_body && !head_only && a->status >= 200 && a->status != 204 && a->status != 304;
    uint8_t head[LANE_HEAD_BYTES];
    size_t head_len = head_write(a, minor, echo_keepalive, echo_close, body_len, head);
    if (head_len == 0) {
        return ANSWER_HEAD_TOO_LARGE;
    }
    struct iovec iov[1 + ND_ANSWER_PARTS];
    int iovcnt = 0;
    iov[iovcnt++] = (struct iovec){head, head_len};
    for (int i = 0; send_body && i < ND_ANSWER_PARTS; i++) {
        if (a->part_len[i] > 0) {
            iov[iovcnt++] = (struct iovec){(void *)a->part[i], a->part_len[i]};
        }
    }
    size_t total = head_len + (send_body ? body_len : 0);
    size_t sent = 0;
    if (direct && c->out_off == c->out_len) {
        /* sendmsg rather than writev: MSG_NOSIGNAL, whatever the process
         * does with SIGPIPE. */
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n > 0) {
            sent = (size_t)n;
            c->active_ms = mono_ms();
        }
        /* An error other than EAGAIN shows again at the next send. */
    }
    if (sent == total) {
        return ANSWER_QUEUED;
    }
    if (!out_reserve(c, total - sent)) {
        return ANSWER_NO_MEMORY;
    }
    size_t skip = sent;
    for (int i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(c->out + c->out_len, (const uint8_t *)iov[i].iov_base + skip, len - skip);
        c->out_len += len - skip;
        skip = 0;
    }
    return ANSWER_QUEUED;
}

/* Answers a request the parser refused, and closes after it. */
static answer_result conn_refuse(lane_conn *c, nd_lane_parse_result res) {
    nd_lane *l = c->lane;
    l->stats.bad_requests++;
    hm_log(HM_LOG_DEBUG, "lane_refused", "reason=%s", nd_lane_parse_error_name(res));
    nd_answer a;
    nd_answer_init(&a);
    nd_answer_error(&a, nd_lane_parse_status_code(res), nd_lane_parse_error_name(res),
                    nd_lane_parse_error_message(res));
    answer_result ar = conn_answer(c, &a, 1, false, false, true, false);
    nd_answer_clear(&a);
    c->closing = true;
    return ar;
}

/* NUL-terminates a slice in place (the byte after it is a space, a tab or
 * the CR of its line: the parser is done with it) and returns it as text. */
static const char *slice_text(nd_lane_slice s) {
    if (s.p == NULL) {
        return NULL;
    }
    uint8_t *p = (uint8_t *)(uintptr_t)s.p;
    p[s.len] = '\0';
    return (const char *)p;
}

/* Answers every whole request in `in`, in order, while less than
 * LANE_OUT_MAX bytes wait to be sent. False when the connection had to be
 * closed. */
static bool conn_process(lane_conn *c) {
    nd_lane *l = c->lane;
    size_t used = 0;
    answer_result ar = ANSWER_QUEUED;
    bool front_incomplete = false; /* the parse stopped on a partial request */
    while (ar == ANSWER_QUEUED && !c->closing && used < c->in_len &&
           c->out_len - c->out_off < LANE_OUT_MAX) {
        nd_lane_request r;
        memset(&r, 0, sizeof r);
        nd_lane_parse_result res = nd_lane_parse(c->in + used, c->in_len - used, &l->limits, &r);
        if (res == ND_LANE_INCOMPLETE) {
            c->want = r.head_len != 0 ? r.total_len : 0;
            front_incomplete = true;
            break;
        }
        if (res != ND_LANE_OK) {
            ar = conn_refuse(c, res);
            break;
        }
        c->want = 0;
        l->stats.requests++;
        uint8_t *base = c->in + used;
        nd_consumer_request q = {
            .method = r.method,
            .body = base + r.head_len,
            .body_len = r.content_length,
        };
        /* Terminated only now: a terminating NUL overwrites the byte after
         * a slice, which the parse above had to read. */
        q.uri = slice_text(r.target);
        q.accept = slice_text(r.accept);
        q.accept_language = slice_text(r.accept_language);
        q.if_none_match = slice_text(r.if_none_match);
        nd_answer a;
        nd_answer_init(&a);
        l->fn(l->arg, &q, &a);
        if (r.content_length > 0) {
            /* A body is a claim form: its code is a secret until it is on
             * the chain, so it does not stay in the buffer. */
            OPENSSL_cleanse(base + r.head_len, r.content_length);
        }
        if (!a.has_body && a.status != 304 && a.status != 204) {
            /* Every answer but these has a body and a length: one without
             * would leave the client reading to the connection's end. */
            nd_answer_error(&a, 500, "internal", "no answer");
        }
        used += r.total_len;
        if (!r.keep_alive) {
            c->closing = true;
        }
        bool last = used == c->in_len;
        ar = conn_answer(c, &a, r.minor, r.method == ND_LANE_HEAD, r.echo_keepalive, r.echo_close,
                         last);
        nd_answer_clear(&a);
    }
    if (used > 0) {
        size_t left = c->in_len - used;
        memmove(c->in, c->in + used, left);
        c->in_len = left;
        if (left > 0) {
            /* Past the moved bytes lies their old copy, which may hold part
             * of a claim form. */
            OPENSSL_cleanse(c->in + left, used);
        }
        if (c->want > 0) {
            assert(c->want > c->in_len);
        }
    }
    /* The request timeout runs only while the request at the front is
     * incomplete: whole requests waiting behind unsent answers are the
     * client's reading, which the idle timeout watches. A partial request
     * behind one just answered starts its clock now. */
    if (!front_incomplete || c->in_len == 0) {
        c->started_ms = 0;
    } else if (used > 0 || c->started_ms == 0) {
        c->started_ms = mono_ms();
    }
    if (ar != ANSWER_QUEUED) {
        hm_log(HM_LOG_DEBUG, "lane_refused", "reason=%s", answer_result_name(ar));
        conn_close(c);
        return false;
    }
    if (c->eof && !c->closing && (c->out_len - c->out_off < LANE_OUT_MAX)) {
        /* Nothing whole is left, and nothing more will come. */
        c->closing = true;
    }
    return true;
}

/* Answers and sends until nothing whole is left or the socket is full. */
static void conn_run(lane_conn *c) {
    for (;;) {
        size_t before = c->in_len;
        if (!conn_process(c) || !conn_flush(c)) {
            return;
        }
        /* Go round again only if requests waited behind a full output
         * that has now drained. */
        if (c->blocked || c->in_len == before || c->in_len == 0 || c->want > c->in_len) {
            return;
        }
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    lane_conn *c = arg;
    nd_lane *l = c->lane;
    if (c->in == NULL) {
        /* The first readable event: an idle connection holds no buffer. */
        c->in = malloc(l->in_cap);
        if (c->in == NULL) {
            hm_log(HM_LOG_DEBUG, "lane_refused", "reason=out_of_memory");
            conn_close(c);
            return;
        }
        l->stats.buffered++;
    }
    size_t room = l->in_cap - c->in_len;
    if (room == 0) {
        /* The parser refuses a head past its bound and a body past
         * ND_LANE_BODY_MAX, so a full buffer holds whole requests waiting
         * for the output: they are answered first. */
        conn_run(c);
        return;
    }
    ssize_t n = recv(fd, c->in + c->in_len, room, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;
        }
        conn_close(c);
        return;
    }
    if (n == 0) {
        c->eof = true;
        event_del(c->rev);
        conn_run(c);
        return;
    }
    const uint8_t *fresh = c->in + c->in_len;
    bool first = c->in_len == 0;
    c->in_len += (size_t)n;
    c->active_ms = mono_ms();
    if (c->started_ms == 0) {
        c->started_ms = c->active_ms;
    }
    /* Parsed when it can finish or fail: the first bytes of a request
     * (garbage is refused at once), a line ended, the awaited body is
     * whole, or the bound is reached. A slow drip costs no re-parse per
     * byte. */
    if (c->want > 0
            ? c->in_len < c->want
            : !first && memchr(fresh, '\n', (size_t)n) == NULL && c->in_len < l->limits.head_max) {
        return;
    }
    conn_run(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    lane_conn *c = arg;
    if (!conn_flush(c)) {
        return;
    }
    if (!c->blocked && (c->in_len > 0 || c->eof)) {
        conn_run(c);
    }
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
    (void)listener;
    (void)sa;
    (void)salen;
    nd_lane *l = arg;
    if (l->stats.open >= l->conns_max) {
        l->stats.refused++;
        hm_log(HM_LOG_DEBUG, "lane_refused", "reason=connections_max open=%u", l->stats.open);
        evutil_closesocket(fd);
        return;
    }
    lane_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->lane = l;
    c->fd = fd;
    c->active_ms = mono_ms();
    c->rev = event_new(l->base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(l->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->next = l->conns;
    if (l->conns != NULL) {
        l->conns->prev = c;
    }
    l->conns = c;
    l->stats.open++;
    l->stats.accepted++;
    if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) != 0) {
        conn_close(c);
    }
}

/* Once a second: closes connections idle for http_idle_timeout_s, and those
 * whose unanswered request began that long ago (a slow drip). */
static void on_sweep(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    nd_lane *l = arg;
    uint64_t now = mono_ms();
    for (lane_conn *c = l->conns; c != NULL;) {
        lane_conn *next = c->next;
        bool idle = now - c->active_ms > l->idle_ms;
        bool slow = c->started_ms != 0 && now - c->started_ms > l->idle_ms;
        if (idle || slow) {
            l->stats.timeouts++;
            hm_log(HM_LOG_DEBUG, "lane_refused", "reason=%s", slow ? "request_timeout" : "idle");
            conn_close(c);
        }
        c = next;
    }
}

hm_err nd_lane_start(struct event_base *base, const nd_config *cfg, nd_lane_answer_fn fn, void *arg,
                     nd_lane **out) {
    if (base == NULL || cfg == NULL || fn == NULL || out == NULL || cfg->resolver_listen[0] == 0) {
        return HM_ERR_ARG;
    }
    struct sockaddr_storage ss;
    int sslen = sizeof ss;
    if (evutil_parse_sockaddr_port(cfg->resolver_listen, (struct sockaddr *)&ss, &sslen) != 0) {
        return HM_ERR_BAD_VALUE;
    }
    nd_lane *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return HM_ERR_NOMEM;
    }
    l->base = base;
    l->fn = fn;
    l->arg = arg;
    l->limits = (nd_lane_limits){.head_max = cfg->http_headers_max,
                                 .headers_max = LANE_FIELDS_MAX,
                                 .target_max = ND_LANE_TARGET_MAX,
                                 .body_max = ND_LANE_BODY_MAX};
    l->in_cap = cfg->http_headers_max + ND_LANE_BODY_MAX;
    l->idle_ms = (uint64_t)cfg->http_idle_timeout_s * 1000u;
    l->conns_max = cfg->http_connections_max;
    l->sweep = event_new(base, -1, EV_PERSIST, on_sweep, l);
    struct timeval tv = {LANE_SWEEP_MS / 1000, (LANE_SWEEP_MS % 1000) * 1000};
    if (l->sweep == NULL || event_add(l->sweep, &tv) != 0) {
        nd_lane_free(l);
        return HM_ERR_NOMEM;
    }
    l->listener =
        evconnlistener_new_bind(base, on_accept, l, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, -1,
                                (struct sockaddr *)&ss, sslen);
    if (l->listener == NULL) {
        nd_lane_free(l);
        return HM_ERR_IO;
    }
    /* Answers are written whole: Nagle's algorithm would only hold the
     * second of two pipelined answers. Accepted sockets inherit it. */
    int one = 1;
    (void)setsockopt(evconnlistener_get_fd(l->listener), IPPROTO_TCP, TCP_NODELAY, &one,
                     sizeof one);
    *out = l;
    return HM_OK;
}

void nd_lane_free(nd_lane *l) {
    if (l == NULL) {
        return;
    }
    if (l->listener != NULL) {
        evconnlistener_free(l->listener);
    }
    while (l->conns != NULL) {
        conn_close(l->conns);
    }
    if (l->sweep != NULL) {
        event_free(l->sweep);
    }
    free(l);
}

void nd_lane_get_stats(const nd_lane *l, nd_lane_stats *out) {
    *out = l->stats;
}

uint16_t nd_lane_port(const nd_lane *l) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evconnlistener_get_fd(l->listener), (struct sockaddr *)&ss, &len) != 0) {
        return 0;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}
