/* node/lane_req.h — the HTTP/1.1 request parser of the resolver lane
 * (node/lane.c): bytes in, one parsed request head (or an error code) out.
 *
 * Layer: node/, but pure: no I/O, no allocation, no clock, no libevent. It
 * never writes its input; the parsed fields are slices of it. The rules it
 * applies (docs/api.md, "The resolver listener"):
 *   - request line: METHOD SP request-target SP HTTP/1.0 or HTTP/1.1 CRLF,
 *     single spaces; the method a token of capital letters (at most 15); the
 *     target in origin form (starts with '/'), visible ASCII only, at most
 *     limits.target_max bytes;
 *   - every line ends in CRLF: a bare LF or a bare CR is refused (400), not
 *     taken as a line end; empty lines before the request line are skipped;
 *   - header fields: a token, ':', optional spaces or tabs, a value of
 *     visible ASCII, spaces, tabs and bytes 0x80-0xFF; no space before the
 *     colon, no line folding; at most limits.headers_max fields, and the
 *     whole head (request line to the blank line) at most limits.head_max
 *     bytes;
 *   - a body only by Content-Length (digits, at most limits.body_max; two
 *     Content-Length fields are refused); any Transfer-Encoding is refused;
 *   - keep-alive as libevent's server decides it, so that the lane closes
 *     exactly when the API port does: HTTP/1.0 closes unless Connection
 *     starts with "keep-alive", and "Connection: close" closes either.
 * Of the header fields only those the consumer routes read are kept (the
 * first of each name, as libevent's evhttp_find_header finds it). */
#ifndef HALLMARK_ND_LANE_REQ_H
#define HALLMARK_ND_LANE_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What nd_lane_parse found. Errors are negative; each has its answer
 * (nd_lane_parse_status_code). */
typedef enum {
    ND_LANE_OK = 0,
    ND_LANE_INCOMPLETE = 1,          /* a valid prefix: more bytes needed */
    ND_LANE_BAD_REQUEST = -1,        /* 400: malformed line or field */
    ND_LANE_HEAD_TOO_LARGE = -2,     /* 431: head or field count over the bound */
    ND_LANE_URI_TOO_LONG = -3,       /* 414 */
    ND_LANE_BODY_TOO_LARGE = -4,     /* 413 */
    ND_LANE_TRANSFER_ENCODING = -5,  /* 501: only Content-Length bodies */
    ND_LANE_VERSION = -6,            /* 505: HTTP/x.y other than 1.0 and 1.1 */
    ND_LANE_BAD_CONTENT_LENGTH = -7, /* 400: not digits, or given twice */
} nd_lane_parse_result;

typedef enum {
    ND_LANE_GET = 1,
    ND_LANE_HEAD = 2,
    ND_LANE_POST = 3,
    ND_LANE_OTHER = 4, /* any other method token (the route answers 405) */
} nd_lane_method;

/* A slice of the input; len 0 and p NULL when absent. */
typedef struct {
    const uint8_t *p;
    size_t len;
} nd_lane_slice;

typedef struct {
    size_t head_max;    /* bytes from the request line to the blank line */
    size_t headers_max; /* header fields */
    size_t target_max;  /* request-target bytes */
    size_t body_max;    /* Content-Length */
} nd_lane_limits;

typedef struct {
    nd_lane_method method;
    uint8_t minor; /* HTTP/1.minor: 0 or 1 */
    nd_lane_slice target;
    nd_lane_slice accept;
    nd_lane_slice accept_language;
    nd_lane_slice if_none_match;
    nd_lane_slice connection;
    size_t header_count;
    size_t content_length;
    bool keep_alive;     /* the connection stays open after the answer */
    bool echo_close;     /* the answer carries "Connection: close" (libevent's rule) */
    bool echo_keepalive; /* the answer carries "Connection: keep-alive" (HTTP/1.0) */
    size_t skipped;      /* empty lines before the request line, in bytes */
    size_t head_len;     /* skipped + request line + fields + blank line */
    size_t total_len;    /* head_len + content_length: the request's bytes */
} nd_lane_request;

/* Parses the request at the start of in[0..len). ND_LANE_OK with *out filled
 * when the head and the whole body are there (the request is
 * out->total_len bytes; the body is the last content_length of them);
 * ND_LANE_INCOMPLETE when in is a valid prefix of a request within the
 * bounds; an error otherwise, as soon as the bytes seen show it. *out is
 * written on ND_LANE_OK, and on ND_LANE_INCOMPLETE once the head is whole
 * and only body bytes are missing (then out->head_len != 0 and
 * out->total_len > len); otherwise it is left untouched. */
nd_lane_parse_result nd_lane_parse(const uint8_t *in, size_t len, const nd_lane_limits *limits,
                                   nd_lane_request *out);

/* The HTTP status that answers a parse error (400, 413, 414, 431, 501, 505);
 * 0 for ND_LANE_OK and ND_LANE_INCOMPLETE. */
int nd_lane_parse_status_code(nd_lane_parse_result r);
/* The error's name in the JSON answer ("bad_request", ...); "" for non-errors. */
const char *nd_lane_parse_error_name(nd_lane_parse_result r);
/* A sentence for people; "" for non-errors. */
const char *nd_lane_parse_error_message(nd_lane_parse_result r);

#endif
