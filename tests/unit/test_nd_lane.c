/* tests/unit/test_nd_lane.c — the resolver lane: its request parser
 * (node/lane_req.c) on valid and invalid requests, every prefix of valid
 * ones, and the bounds; the answer writer's text; the config key; and the
 * server itself (node/lane.c) on a loopback socket with a stand-in answer
 * function: keep-alive, pipelining, HEAD, refusals, the connection cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lane.h"
#include "lane_req.h"
#include "nd_int.h"

static const nd_lane_limits LIMITS = {
    .head_max = 1024, .headers_max = 8, .target_max = 256, .body_max = 64};

static nd_lane_parse_result parse(const char *text, nd_lane_request *r) {
    memset(r, 0, sizeof *r);
    return nd_lane_parse((const uint8_t *)text, strlen(text), &LIMITS, r);
}

static bool slice_is(nd_lane_slice s, const char *want) {
    return s.p != NULL && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void test_parse_get(void **state) {
    (void)state;
    const char *req = "GET /01/09520123456788/21/A1?lang=zh HTTP/1.1\r\n"
                      "Host: x\r\n"
                      "accept:   application/json  \r\n"
                      "Accept: text/html\r\n"
                      "Accept-Language: zh-CN\r\n"
                      "If-None-Match: \"abc\"\r\n"
                      "\r\n"
                      "GET /next";
    nd_lane_request r;
    assert_int_equal(parse(req, &r), ND_LANE_OK);
    assert_int_equal(r.method, ND_LANE_GET);
    assert_int_equal(r.minor, 1);
    assert_true(slice_is(r.target, "/01/09520123456788/21/A1?lang=zh"));
    assert_true(slice_is(r.accept, "application/json")); /* first one, spaces trimmed */
    assert_true(slice_is(r.accept_language, "zh-CN"));
    assert_true(slice_is(r.if_none_match, "\"abc\""));
    assert_null(r.connection.p);
    assert_int_equal(r.header_count, 5);
    assert_true(r.keep_alive);
    assert_false(r.echo_close);
    assert_false(r.echo_keepalive);
    assert_int_equal(r.content_length, 0);
    assert_int_equal(r.total_len, strlen(req) - strlen("GET /next"));
    assert_int_equal(r.head_len, r.total_len);
}

/* Every proper prefix of a valid request is incomplete, never an error;
 * the whole request parses. */
static void test_parse_prefixes(void **state) {
    (void)state;
    static const char *const reqs[] = {
        "GET / HTTP/1.1\r\n\r\n",
        "\r\n\r\nHEAD /01/1/21/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "POST /01/09520123456788/21/A1 HTTP/1.1\r\nContent-Type: "
        "application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\ncode=abcd",
        "DELETE /x HTTP/1.1\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        size_t n = strlen(reqs[i]);
        for (size_t len = 0; len < n; len++) {
            nd_lane_request r;
            memset(&r, 0, sizeof r);
            nd_lane_parse_result res = nd_lane_parse((const uint8_t *)reqs[i], len, &LIMITS, &r);
            assert_int_equal(res, ND_LANE_INCOMPLETE);
            if (r.head_len != 0) {
                assert_true(r.total_len > len); /* only body bytes missing */
            }
        }
        nd_lane_request r;
        assert_int_equal(nd_lane_parse((const uint8_t *)reqs[i], n, &LIMITS, &r), ND_LANE_OK);
        assert_int_equal(r.total_len, n);
    }
    nd_lane_request r;
    assert_int_equal(parse(reqs[1], &r), ND_LANE_OK);
    assert_int_equal(r.method, ND_LANE_HEAD);
    assert_int_equal(r.skipped, 4);
    assert_true(r.keep_alive && r.echo_keepalive && !r.echo_close);
    assert_int_equal(parse(reqs[2], &r), ND_LANE_OK);
    assert_int_equal(r.method, ND_LANE_POST);
    assert_int_equal(r.content_length, 9);
    assert_int_equal(r.total_len - r.head_len, 9);
    assert_int_equal(parse(reqs[3], &r), ND_LANE_OK);
    assert_int_equal(r.method, ND_LANE_OTHER);
}

static void test_parse_connection(void **state) {
    (void)state;
    nd_lane_request r;
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &r), ND_LANE_OK);
    assert_false(r.keep_alive);
    assert_false(r.echo_close || r.echo_keepalive); /* libevent says nothing either */
    assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", &r), ND_LANE_OK);
    assert_false(r.keep_alive);
    assert_true(r.echo_close);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: close\r\n\r\n", &r), ND_LANE_OK);
    assert_false(r.keep_alive);
    assert_true(r.echo_close && !r.echo_keepalive);
    assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", &r), ND_LANE_OK);
    assert_true(r.keep_alive);
    assert_false(r.echo_keepalive); /* only HTTP/1.0 answers carry it */
}

static void test_parse_refusals(void **state) {
    (void)state;
    static const struct {
        const char *text;
        nd_lane_parse_result want;
    } cases[] = {
        {"GET / HTTP/1.1\n\n", ND_LANE_BAD_REQUEST},                /* bare LF */
        {"GET / HTTP/1.1\r\nA: b\n\r\n", ND_LANE_BAD_REQUEST},      /* bare LF in a field */
        {"GET / HTTP/1.1\rX", ND_LANE_BAD_REQUEST},                 /* bare CR */
        {"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", ND_LANE_BAD_REQUEST}, /* CR inside a value */
        {"\r\n\nGET / HTTP/1.1\r\n\r\n", ND_LANE_BAD_REQUEST},      /* bare LF before */
        {"get / HTTP/1.1\r\n\r\n", ND_LANE_BAD_REQUEST},            /* methods are capitals */
        {"GET  / HTTP/1.1\r\n\r\n", ND_LANE_BAD_REQUEST},           /* two spaces */
        {"GET http://x/ HTTP/1.1\r\n\r\n", ND_LANE_BAD_REQUEST},    /* absolute form */
        {"GET /a\x01 HTTP/1.1\r\n\r\n", ND_LANE_BAD_REQUEST},       /* control byte in target */
        {"GET /a\xc3\xa9 HTTP/1.1\r\n\r\n", ND_LANE_BAD_REQUEST},   /* raw UTF-8 in target */
        {"GET / HTTX/1.1\r\n\r\n", ND_LANE_BAD_REQUEST},
        {"GET / HTTP/1.1 \r\n\r\n", ND_LANE_BAD_REQUEST},
        {"GET / HTTP/2.0\r\n\r\n", ND_LANE_VERSION},
        {"GET / HTTP/1.2\r\n\r\n", ND_LANE_VERSION},
        {"GET / HTTP/0.9\r\n\r\n", ND_LANE_VERSION},
        {"ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n", ND_LANE_BAD_REQUEST}, /* 16-letter method */
        {"GET / HTTP/1.1\r\n folded\r\n\r\n", ND_LANE_BAD_REQUEST},   /* obs-fold */
        {"GET / HTTP/1.1\r\nA : b\r\n\r\n", ND_LANE_BAD_REQUEST},     /* space before colon */
        {"GET / HTTP/1.1\r\n: b\r\n\r\n", ND_LANE_BAD_REQUEST},       /* empty name */
        {"GET / HTTP/1.1\r\nA b\r\n\r\n", ND_LANE_BAD_REQUEST},       /* no colon */
        {"GET / HTTP/1.1\r\nA: \x7f\r\n\r\n", ND_LANE_BAD_REQUEST},   /* DEL in a value */
        {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", ND_LANE_TRANSFER_ENCODING},
        {"POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n", ND_LANE_TRANSFER_ENCODING},
        {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", ND_LANE_BAD_CONTENT_LENGTH},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", ND_LANE_BAD_CONTENT_LENGTH},
        {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", ND_LANE_BAD_CONTENT_LENGTH},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
         ND_LANE_BAD_CONTENT_LENGTH},
        {"POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", ND_LANE_BODY_TOO_LARGE},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
         ND_LANE_BODY_TOO_LARGE},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ND_LANE_BAD_REQUEST}, /* a TLS hello */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nd_lane_request r;
        assert_int_equal(parse(cases[i].text, &r), cases[i].want);
        assert_true(nd_lane_parse_status_code(cases[i].want) >= 400);
        assert_true(nd_lane_parse_error_name(cases[i].want)[0] != '\0');
    }
    /* Refused as soon as the bytes show it: a garbage first byte, a target
     * past its bound before the line ends. */
    nd_lane_request r;
    assert_int_equal(parse("\x16", &r), ND_LANE_BAD_REQUEST);
    char target[400];
    memset(target, 'a', sizeof target);
    target[0] = '/';
    char line[512];
    snprintf(line, sizeof line, "GET %.*s", (int)LIMITS.target_max + 1, target);
    assert_int_equal(parse(line, &r), ND_LANE_URI_TOO_LONG);
    snprintf(line, sizeof line, "GET %.*s HTTP/1.1\r\n\r\n", (int)LIMITS.target_max, target);
    assert_int_equal(parse(line, &r), ND_LANE_OK);
}

static void test_parse_bounds(void **state) {
    (void)state;
    nd_lane_request r;
    /* more fields than headers_max */
    char head[2048] = "GET / HTTP/1.1\r\n";
    for (size_t i = 0; i < LIMITS.headers_max; i++) {
        strcat(head, "A: b\r\n");
    }
    char ok[2048 + 2];
    snprintf(ok, sizeof ok, "%s\r\n", head);
    assert_int_equal(parse(ok, &r), ND_LANE_OK);
    strcat(head, "A: b\r\n\r\n");
    assert_int_equal(parse(head, &r), ND_LANE_HEAD_TOO_LARGE);
    /* a head that does not end within head_max, whole or not */
    char big[1100];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %01010d", 0);
    assert_int_equal(parse(big, &r), ND_LANE_HEAD_TOO_LARGE);
    strcat(big, "\r\n\r\n");
    assert_int_equal(parse(big, &r), ND_LANE_HEAD_TOO_LARGE);
    /* empty lines count against the bound too */
    char blank[1100] = "";
    for (int i = 0; i < 520; i++) {
        strcat(blank, "\r\n");
    }
    assert_int_equal(parse(blank, &r), ND_LANE_HEAD_TOO_LARGE);
    /* a body at the bound is fine */
    char post[256];
    snprintf(post, sizeof post, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%0*d",
             LIMITS.body_max, (int)LIMITS.body_max, 0);
    assert_int_equal(parse(post, &r), ND_LANE_OK);
    assert_int_equal(r.content_length, LIMITS.body_max);
}

static void test_config_key(void **state) {
    (void)state;
    nd_config c;
    char err[256] = "";
    nd_config_defaults(&c);
    assert_string_equal(c.resolver_listen, "");
    assert_int_equal(
        nd_config_parse("{\"resolver_listen\": \"127.0.0.1:7180\"}", "", &c, err, sizeof err),
        HM_OK);
    assert_string_equal(c.resolver_listen, "127.0.0.1:7180");
    assert_int_equal(nd_config_parse("{\"resolver_listen\": \"nohost\"}", "", &c, err, sizeof err),
                     HM_ERR_BAD_VALUE);
    assert_non_null(strstr(err, "resolver_listen"));
    assert_int_equal(nd_config_parse("{\"resolver_listen\": 7}", "", &c, err, sizeof err),
                     HM_ERR_BAD_VALUE);
}

static void test_answer_error_text(void **state) {
    (void)state;
    nd_answer a;
    nd_answer_init(&a);
    nd_answer_error(&a, 404, "not_found", "no such \"resource\"");
    assert_int_equal(a.status, 404);
    assert_true(a.has_body);
    const char *want = "{\"error\":\"not_found\",\"message\":\"no such \\\"resource\\\"\"}\n";
    assert_int_equal(a.part_len[0], strlen(want));
    assert_memory_equal(a.part[0], want, strlen(want));
    assert_int_equal(a.header_count, 1);
    assert_string_equal(a.headers[0].name, "Content-Type");
    assert_string_equal(a.headers[0].value, "application/json");
    nd_answer_clear(&a);
    assert_string_equal(nd_answer_reason(304), "Not Modified");
    assert_string_equal(nd_answer_reason(414), "Request-URI Too Large");
    const char *date = nd_answer_date();
    assert_non_null(date);
    assert_int_equal(strlen(date), 29); /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    assert_string_equal(date + 25, " GMT");
}

/* ------------------------------------------------------------ the server */

typedef struct {
    int calls;
    char last_uri[256];
    char last_body[128];
    const uint8_t *body_at; /* where the last body lay in the lane's buffer */
    size_t body_len;
} stand_in;

#define HUGE_LEN (2u * 1024 * 1024 + 7) /* well past the lane's output bound */
#define SLOW_LEN (900u * 1024)

/* A body of len bytes of c, owned by the answer. */
static void answer_filled(nd_answer *a, size_t len, char c) {
    a->owned = malloc(len);
    assert_non_null(a->owned);
    memset(a->owned, c, len);
    a->status = 200;
    nd_answer_header_add(a, "Content-Type", "text/plain");
    nd_answer_body(a, (const uint8_t *)a->owned, len);
}

/* Answers the target as text; "/304" gives a 304, "/big" 100,000 bytes,
 * "/huge" HUGE_LEN, "/slow" SLOW_LEN, "/nobody" a 200 without a body (a
 * route's mistake), "/bighead" a header too long for an answer's head. */
static void stand_in_answer(void *arg, const nd_consumer_request *q, nd_answer *a) {
    stand_in *s = arg;
    s->calls++;
    snprintf(s->last_uri, sizeof s->last_uri, "%s", q->uri);
    snprintf(s->last_body, sizeof s->last_body, "%.*s", (int)q->body_len, (const char *)q->body);
    s->body_at = q->body;
    s->body_len = q->body_len;
    if (strcmp(q->uri, "/huge") == 0) {
        answer_filled(a, HUGE_LEN, 'h');
        return;
    }
    if (strcmp(q->uri, "/slow") == 0) {
        answer_filled(a, SLOW_LEN, 's');
        return;
    }
    if (strcmp(q->uri, "/nobody") == 0) {
        a->status = 200;
        nd_answer_header_add(a, "Content-Type", "text/plain");
        return;
    }
    if (strcmp(q->uri, "/bighead") == 0) {
        static char value[1100];
        memset(value, 'v', sizeof value - 1);
        a->status = 200;
        nd_answer_header_add(a, "X-Long", value);
        nd_answer_body(a, (const uint8_t *)"x", 1);
        return;
    }
    if (strcmp(q->uri, "/304") == 0) {
        a->status = 304;
        a->reason = "Not Modified";
        nd_answer_header_add(a, "ETag", "\"x\"");
        return;
    }
    if (strcmp(q->uri, "/big") == 0) {
        a->owned = malloc(100000);
        assert_non_null(a->owned);
        memset(a->owned, 'b', 100000);
        a->status = 200;
        nd_answer_header_add(a, "Content-Type", "text/plain");
        nd_answer_body(a, (const uint8_t *)a->owned, 100000);
        return;
    }
    a->status = 200;
    nd_answer_header_add(a, "Content-Type", "text/plain");
    a->part[0] = (const uint8_t *)"<";
    a->part_len[0] = 1;
    size_t n = strlen(q->uri);
    a->owned = malloc(n + 1);
    assert_non_null(a->owned);
    memcpy(a->owned, q->uri, n + 1);
    a->part[1] = (const uint8_t *)a->owned;
    a->part_len[1] = n;
    a->part[2] = (const uint8_t *)">";
    a->part_len[2] = 1;
    a->has_body = true;
}

typedef struct {
    struct event_base *base;
    nd_lane *lane;
    stand_in s;
    int port;
} server;

static void server_start_idle(server *sv, uint32_t conns_max, uint32_t idle_s) {
    memset(sv, 0, sizeof *sv);
    sv->base = event_base_new();
    assert_non_null(sv->base);
    nd_config cfg;
    nd_config_defaults(&cfg);
    cfg.http_connections_max = conns_max;
    cfg.http_headers_max = 1024;
    cfg.http_idle_timeout_s = idle_s;
    /* No port: libevent's address parser takes it as port 0, and the
     * system picks a free one (the config parser would refuse this). */
    snprintf(cfg.resolver_listen, sizeof cfg.resolver_listen, "127.0.0.1");
    assert_int_equal(nd_lane_start(sv->base, &cfg, stand_in_answer, &sv->s, &sv->lane), HM_OK);
    sv->port = nd_lane_port(sv->lane);
    assert_true(sv->port > 0);
}

static void server_start(server *sv, uint32_t conns_max) {
    server_start_idle(sv, conns_max, 30);
}

static void server_stop(server *sv) {
    nd_lane_free(sv->lane);
    event_base_free(sv->base);
}

/* rcvbuf > 0: the client's receive buffer, set before connecting so that
 * the window stays small and the lane's answers back up. */
static int client_connect_rcvbuf(const server *sv, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0) {
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sv->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static int client_connect(const server *sv) {
    return client_connect_rcvbuf(sv, 0);
}

static void client_send(int fd, const char *text) {
    size_t n = strlen(text);
    assert_int_equal(send(fd, text, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Runs the server's loop and reads until want bytes came or the server
 * closed; returns the bytes read (NUL-terminated in out). *closed tells
 * whether the server closed the connection. Bounded by a round count, not
 * by time. */
static size_t client_read(server *sv, int fd, char *out, size_t cap, size_t want, bool *closed) {
    size_t got = 0;
    *closed = false;
    for (int round = 0; round < 2000 && got < want && !*closed; round++) {
        event_base_loop(sv->base, EVLOOP_NONBLOCK);
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n == 0) {
            *closed = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            *closed = true;
        } else {
            usleep(1000);
        }
    }
    out[got] = '\0';
    return got;
}

/* Runs the server's loop a few times without reading. */
static void pump(server *sv, int rounds) {
    for (int i = 0; i < rounds; i++) {
        event_base_loop(sv->base, EVLOOP_NONBLOCK);
    }
}

static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void test_server_keepalive_pipelining(void **state) {
    (void)state;
    server sv;
    server_start(&sv, 8);
    int fd = client_connect(&sv);
    static char buf[1 << 18];
    bool closed = false;
    /* two pipelined requests in one write, and a third split in two */
    client_send(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c");
    pump(&sv, 20);
    client_send(fd, "?q=1 HTTP/1.1\r\n\r\n");
    char all[4096] = "";
    for (int i = 0; i < 200 && count_of(all, "HTTP/1.1 200 OK") < 3 && !closed; i++) {
        size_t n = client_read(&sv, fd, buf, sizeof buf, 1, &closed);
        if (n > 0 && strlen(all) + n < sizeof all) {
            strcat(all, buf);
        }
    }
    assert_false(closed);
    assert_int_equal(count_of(all, "HTTP/1.1 200 OK\r\n"), 3);
    /* in order; HEAD's answer has the length but no body */
    const char *a = strstr(all, "</a>");
    const char *c = strstr(all, "</c?q=1>");
    assert_non_null(a);
    assert_non_null(c);
    assert_true(a < c);
    assert_null(strstr(all, "</b>"));
    assert_int_equal(count_of(all, "Content-Length: 4\r\n"), 2); /* "</a>", HEAD of "</b>" */
    assert_int_equal(count_of(all, "Content-Length: 8\r\n"), 1);
    assert_int_equal(count_of(all, "\r\nDate: "), 3);
    assert_int_equal(sv.s.calls, 3);
    /* a 304 has neither body nor length */
    client_send(fd, "GET /304 HTTP/1.1\r\n\r\n");
    size_t n = client_read(&sv, fd, buf, sizeof buf, 1, &closed);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nDate: "));
    assert_null(strstr(buf, "Content-Length"));
    /* Connection: close is answered, echoed, and closes */
    client_send(fd, "GET /d HTTP/1.1\r\nConnection: close\r\n\r\n");
    n = client_read(&sv, fd, buf, sizeof buf, sizeof buf, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "Connection: close\r\n\r\n</d>"));
    close(fd);
    /* HTTP/1.0: answered as 1.0 and closed; with keep-alive, kept */
    fd = client_connect(&sv);
    client_send(fd, "GET /e HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    n = client_read(&sv, fd, buf, sizeof buf, 1, &closed);
    assert_non_null(strstr(buf, "HTTP/1.0 200 OK\r\n"));
    assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));
    client_send(fd, "GET /f HTTP/1.0\r\n\r\n");
    n = client_read(&sv, fd, buf, sizeof buf, sizeof buf, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "</f>"));
    close(fd);
    /* a POST body reaches the answer function */
    fd = client_connect(&sv);
    client_send(fd, "POST /g HTTP/1.1\r\nContent-Length: 9\r\n\r\ncode=");
    pump(&sv, 20);
    assert_int_equal(sv.s.calls, 7); /* not answered before the body is whole */
    client_send(fd, "abcd");
    n = client_read(&sv, fd, buf, sizeof buf, 1, &closed);
    assert_non_null(strstr(buf, "</g>"));
    assert_string_equal(sv.s.last_body, "code=abcd");
    close(fd);
    /* a large answer to a client that reads late arrives whole */
    fd = client_connect(&sv);
    client_send(fd, "GET /big HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    pump(&sv, 50);
    size_t total = 0;
    char *big = calloc(1, 1 << 18);
    assert_non_null(big);
    for (int i = 0; i < 2000 && strstr(big, "</after>") == NULL; i++) {
        size_t got = client_read(&sv, fd, big + total, (1 << 18) - total, 1, &closed);
        total += got;
        big[total] = '\0';
        if (got == 0) {
            break;
        }
    }
    assert_non_null(strstr(big, "Content-Length: 100000\r\n"));
    assert_non_null(strstr(big, "</after>"));
    assert_true(total > 100000);
    free(big);
    close(fd);
    server_stop(&sv);
}

static void test_server_refusals(void **state) {
    (void)state;
    server sv;
    server_start(&sv, 2);
    static char buf[1 << 16];
    bool closed = false;
    static const struct {
        const char *text;
        const char *status;
    } bad[] = {
        {"BLAH\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
         "HTTP/1.1 501 Not Implemented\r\n"},
        {"GET / HTTP/3.0\r\n\r\n", "HTTP/1.1 505 HTTP Version not supported\r\n"},
        {"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", "HTTP/1.1 413 "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = client_connect(&sv);
        client_send(fd, bad[i].text);
        client_read(&sv, fd, buf, sizeof buf, sizeof buf, &closed);
        assert_true(closed);
        assert_non_null(strstr(buf, bad[i].status));
        assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
        assert_non_null(strstr(buf, "Connection: close\r\n"));
        assert_non_null(strstr(buf, "{\"error\":\""));
        close(fd);
    }
    /* an oversized head: 431 and closed */
    int fd = client_connect(&sv);
    char head[1200];
    snprintf(head, sizeof head, "GET / HTTP/1.1\r\nX: %01100d", 0);
    client_send(fd, head);
    client_read(&sv, fd, buf, sizeof buf, sizeof buf, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "HTTP/1.1 431 "));
    close(fd);
    /* the connection cap: the third connection is closed unanswered */
    int a = client_connect(&sv), b = client_connect(&sv);
    pump(&sv, 20);
    int c = client_connect(&sv);
    size_t n = client_read(&sv, c, buf, sizeof buf, sizeof buf, &closed);
    assert_true(closed);
    assert_int_equal(n, 0);
    nd_lane_stats st;
    nd_lane_get_stats(sv.lane, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.bad_requests, 5);
    /* and the lane still serves */
    client_send(a, "GET /still HTTP/1.1\r\n\r\n");
    client_read(&sv, a, buf, sizeof buf, 1, &closed);
    assert_non_null(strstr(buf, "</still>"));
    close(a);
    close(b);
    close(c);
    server_stop(&sv);
}

/* The first occurrence of needle[0..n) in hay[0..len), or NULL. */
static const char *find_bytes(const char *hay, size_t len, const char *needle, size_t n) {
    for (size_t i = 0; n <= len && i <= len - n; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

/* Splits buf[0..len) into whole answers (head, then Content-Length bytes of
 * body); returns how many are whole, with each body's offset and length. */
static size_t answers_split(const char *buf, size_t len, size_t *body_off, size_t *body_len,
                            size_t max) {
    size_t n = 0, pos = 0;
    while (n < max && pos < len) {
        const char *end = find_bytes(buf + pos, len - pos, "\r\n\r\n", 4);
        if (end == NULL) {
            break;
        }
        size_t head_end = (size_t)(end - buf) + 4;
        size_t blen = 0;
        const char *cl = find_bytes(buf + pos, head_end - pos, "Content-Length: ", 16);
        if (cl != NULL) {
            blen = (size_t)strtoul(cl + 16, NULL, 10);
        }
        if (head_end + blen > len) {
            break;
        }
        body_off[n] = head_end;
        body_len[n] = blen;
        n++;
        pos = head_end + blen;
    }
    return n;
}

/* Runs the server and reads, at most `chunk` bytes a round (sleeping
 * pause_us after each read), until `want` whole answers came or the server
 * closed. Bounded by a round count. Returns the bytes read. */
static size_t read_answers(server *sv, int fd, char *buf, size_t cap, size_t want, size_t chunk,
                           unsigned pause_us, bool *closed) {
    size_t got = 0;
    size_t off[8], blen[8];
    *closed = false;
    for (long round = 0; round < 400000 && !*closed; round++) {
        event_base_loop(sv->base, EVLOOP_NONBLOCK);
        size_t room = cap - got < chunk ? cap - got : chunk;
        ssize_t n = room > 0 ? recv(fd, buf + got, room, 0) : -1;
        if (n > 0) {
            got += (size_t)n;
            if (answers_split(buf, got, off, blen, 8) >= want) {
                break;
            }
            if (pause_us > 0) {
                usleep(pause_us);
            }
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            *closed = true;
        } else {
            usleep(200);
        }
    }
    return got;
}

/* Shrinks the send buffer of the lane's end of the client connection fd
 * (the lane runs in this process: its socket is the one whose peer is fd's
 * own address), so that the lane's answers back up into its own output
 * rather than into the system's buffers. */
static void server_side_sndbuf(server *sv, int fd, int bytes) {
    pump(sv, 20); /* the lane accepts */
    struct sockaddr_in self;
    socklen_t self_len = sizeof self;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&self, &self_len), 0);
    int found = -1;
    for (int s = 3; s < 4096 && found < 0; s++) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        if (s != fd && getpeername(s, (struct sockaddr *)&peer, &peer_len) == 0 &&
            peer_len == self_len && peer.sin_family == AF_INET && peer.sin_port == self.sin_port &&
            peer.sin_addr.s_addr == self.sin_addr.s_addr) {
            found = s;
        }
    }
    assert_true(found >= 0);
    assert_int_equal(setsockopt(found, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes), 0);
}

static bool all_bytes(const char *p, size_t len, char c) {
    for (size_t i = 0; i < len; i++) {
        if (p[i] != c) {
            return false;
        }
    }
    return true;
}

/* Answers larger than any output bound, pipelined to a client with a small
 * receive window, all arrive whole and in order: an answer is never cut
 * after its Content-Length went out, nor dropped when queued. */
static void test_server_big_answers(void **state) {
    (void)state;
    server sv;
    server_start(&sv, 8);
    int fd = client_connect_rcvbuf(&sv, 4096);
    server_side_sndbuf(&sv, fd, 4096);
    client_send(fd, "GET /huge HTTP/1.1\r\n\r\nGET /huge HTTP/1.1\r\n\r\n"
                    "GET /huge HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    size_t cap = 3 * (HUGE_LEN + 1024) + 1024;
    char *buf = malloc(cap);
    assert_non_null(buf);
    bool closed = false;
    size_t got = read_answers(&sv, fd, buf, cap, 4, 65536, 0, &closed);
    size_t off[8], blen[8];
    assert_int_equal(answers_split(buf, got, off, blen, 8), 4);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(blen[i], HUGE_LEN);
        assert_true(all_bytes(buf + off[i], blen[i], 'h'));
    }
    assert_int_equal(blen[3], strlen("</after>"));
    assert_memory_equal(buf + off[3], "</after>", blen[3]);
    assert_int_equal(got, off[3] + blen[3]); /* nothing more, nothing cut */
    /* the connection still serves, and holds no large buffer for it */
    client_send(fd, "GET /again HTTP/1.1\r\n\r\n");
    got = read_answers(&sv, fd, buf, cap, 1, 65536, 0, &closed);
    assert_false(closed);
    assert_non_null(find_bytes(buf, got, "</again>", 8));
    nd_lane_stats st;
    nd_lane_get_stats(sv.lane, &st);
    assert_int_equal(st.requests, 5);
    assert_int_equal(st.timeouts, 0);
    free(buf);
    close(fd);
    server_stop(&sv);
}

/* A client that reads a long answer slowly, with a whole request pipelined
 * behind it, is not taken for a slow request: the request timeout runs
 * only while the request at the front is incomplete. Runs for a few
 * seconds (past the one-second timeout) whatever the machine's speed; the
 * client reads throughout, so the idle timeout never applies. */
static void test_server_slow_reader(void **state) {
    (void)state;
    server sv;
    server_start_idle(&sv, 8, 1);
    int fd = client_connect_rcvbuf(&sv, 4096);
    server_side_sndbuf(&sv, fd, 4096);
    client_send(fd, "GET /slow HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    size_t cap = SLOW_LEN + 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    bool closed = false;
    /* about 1 KB every 3 ms: at least 2.7 s for the answer */
    size_t got = read_answers(&sv, fd, buf, cap, 2, 1024, 3000, &closed);
    size_t off[8], blen[8];
    assert_int_equal(answers_split(buf, got, off, blen, 8), 2);
    assert_int_equal(blen[0], SLOW_LEN);
    assert_true(all_bytes(buf + off[0], blen[0], 's'));
    assert_memory_equal(buf + off[1], "</after>", 8);
    nd_lane_stats st;
    nd_lane_get_stats(sv.lane, &st);
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(st.open, 1);
    free(buf);
    close(fd);
    server_stop(&sv);
}

/* A route's answer without a body becomes a 500 with one (never a crash,
 * never an answer the client would read to the connection's end); an
 * answer whose head cannot be written closes the connection. */
static void test_server_bad_answers(void **state) {
    (void)state;
    server sv;
    server_start(&sv, 8);
    static char buf[1 << 16];
    bool closed = false;
    int fd = client_connect(&sv);
    client_send(fd, "GET /nobody HTTP/1.1\r\n\r\n");
    size_t got = read_answers(&sv, fd, buf, sizeof buf, 1, sizeof buf, 0, &closed);
    buf[got] = '\0';
    assert_false(closed);
    assert_non_null(strstr(buf, "HTTP/1.1 500 Internal Server Error\r\n"));
    assert_non_null(strstr(buf, "{\"error\":\"internal\",\"message\":\"no answer\"}\n"));
    client_send(fd, "GET /bighead HTTP/1.1\r\n\r\n");
    got = client_read(&sv, fd, buf, sizeof buf, sizeof buf, &closed);
    assert_true(closed);
    assert_int_equal(got, 0);
    close(fd);
    server_stop(&sv);
}

/* A claim form's body does not stay in the lane's buffer after its answer;
 * nor does the old copy of a partial form moved to the buffer's front. */
static void test_server_body_wiped(void **state) {
    (void)state;
    server sv;
    server_start(&sv, 8);
    static char buf[1 << 16];
    bool closed = false;
    int fd = client_connect(&sv);
    client_send(fd, "POST /claim HTTP/1.1\r\nContent-Length: 14\r\n\r\ncode=SECRET42x");
    size_t got = read_answers(&sv, fd, buf, sizeof buf, 1, sizeof buf, 0, &closed);
    buf[got] = '\0';
    assert_non_null(strstr(buf, "</claim>"));
    assert_string_equal(sv.s.last_body, "code=SECRET42x");
    /* the connection is open: its buffer is still the lane's */
    assert_int_equal(sv.s.body_len, 14);
    assert_true(all_bytes((const char *)sv.s.body_at, sv.s.body_len, '\0'));
    close(fd);
    server_stop(&sv);
}

/* An idle connection holds no input buffer; one is allocated at the first
 * bytes, freed at close; the cap and the close paths work as before. */
static void test_server_lazy_buffer(void **state) {
    (void)state;
    server sv;
    server_start(&sv, 3);
    static char buf[1 << 16];
    bool closed = false;
    int a = client_connect(&sv), b = client_connect(&sv), c = client_connect(&sv);
    pump(&sv, 20);
    nd_lane_stats st;
    nd_lane_get_stats(sv.lane, &st);
    assert_int_equal(st.open, 3);
    assert_int_equal(st.buffered, 0);
    /* the cap counts idle connections all the same */
    int d = client_connect(&sv);
    assert_int_equal(client_read(&sv, d, buf, sizeof buf, sizeof buf, &closed), 0);
    assert_true(closed);
    close(d);
    client_send(a, "GET /x HTTP/1.1\r\n\r\n");
    client_read(&sv, a, buf, sizeof buf, 1, &closed);
    assert_non_null(strstr(buf, "</x>"));
    nd_lane_get_stats(sv.lane, &st);
    assert_int_equal(st.buffered, 1);
    /* closed by the client without a byte sent, and after a request */
    close(b);
    close(a);
    pump(&sv, 50);
    nd_lane_get_stats(sv.lane, &st);
    assert_int_equal(st.open, 1);
    assert_int_equal(st.buffered, 0);
    /* a refusal on a fresh connection still answers */
    client_send(c, "BLAH\r\n\r\n");
    client_read(&sv, c, buf, sizeof buf, sizeof buf, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
    close(c);
    pump(&sv, 20);
    nd_lane_get_stats(sv.lane, &st);
    assert_int_equal(st.open, 0);
    assert_int_equal(st.buffered, 0);
    server_stop(&sv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_get),
        cmocka_unit_test(test_parse_prefixes),
        cmocka_unit_test(test_parse_connection),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_parse_bounds),
        cmocka_unit_test(test_config_key),
        cmocka_unit_test(test_answer_error_text),
        cmocka_unit_test(test_server_keepalive_pipelining),
        cmocka_unit_test(test_server_refusals),
        cmocka_unit_test(test_server_big_answers),
        cmocka_unit_test(test_server_slow_reader),
        cmocka_unit_test(test_server_bad_answers),
        cmocka_unit_test(test_server_body_wiped),
        cmocka_unit_test(test_server_lazy_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
