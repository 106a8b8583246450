/* node/lane_req.c — the resolver lane's HTTP/1.1 request parser (rules in
 * node/lane_req.h).
 *
 * Layer: node/, pure. One pass over the bytes, left to right, checking each
 * byte as it comes: garbage is refused at the first byte that shows it,
 * not once a head's worth has arrived, and a partial request is told apart
 * from a bad one (ND_LANE_INCOMPLETE) so that the caller can wait for more.
 * The caller bounds how often it parses again (node/lane.c parses only when
 * a line end arrived); a parse costs O(bytes). */
#include "lane_req.h"

#include <assert.h>
#include <string.h>

#define METHOD_MAX 15

/* Byte classes, one table lookup per byte of a head (a request's head is
 * most of the bytes a lookup parses): bit 1 an RFC 9110 tchar, bit 2 a byte
 * of a field value (visible ASCII, space, tab, obs-text). */
#define CLASS_TCHAR 1u
#define CLASS_VALUE 2u
static const uint8_t byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    2, 3, 2, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2, /* 0x20 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, /* 0x30 */
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x40 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 3, 3, /* 0x50 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x60 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 0, /* 0x70 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xa0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xb0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xc0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xd0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xe0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xf0 */
};

static bool name_is(const uint8_t *name, size_t len, const char *want) {
    size_t n = strlen(want);
    if (len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = name[i];
        if (c >= 'A' && c <= 'Z') {
            c = (uint8_t)(c - 'A' + 'a');
        }
        if (c != (uint8_t)want[i]) {
            return false;
        }
    }
    return true;
}

/* Case-insensitive: does value start with want (all lower case)? */
static bool value_starts(nd_lane_slice v, const char *want) {
    size_t n = strlen(want);
    return v.len >= n && name_is(v.p, n, want);
}

/* What to return when the bytes ran out at pos without an error: more are
 * needed, unless the head can no longer fit its bound. */
static nd_lane_parse_result need_more(size_t len, const nd_lane_limits *lim) {
    return len >= lim->head_max ? ND_LANE_HEAD_TOO_LARGE : ND_LANE_INCOMPLETE;
}

/* Parses the request line at *pos; on ND_LANE_OK *pos is past its CRLF. */
static nd_lane_parse_result parse_request_line(const uint8_t *in, size_t len, size_t *pos,
                                               const nd_lane_limits *lim, nd_lane_request *r) {
    size_t p = *pos;
    size_t start = p;
    while (p < len && in[p] >= 'A' && in[p] <= 'Z' && p - start < METHOD_MAX) {
        p++;
    }
    if (p == len) {
        return need_more(len, lim);
    }
    if (in[p] != ' ' || p == start) {
        return ND_LANE_BAD_REQUEST;
    }
    size_t mlen = p - start;
    if (mlen == 3 && memcmp(in + start, "GET", 3) == 0) {
        r->method = ND_LANE_GET;
    } else if (mlen == 4 && memcmp(in + start, "HEAD", 4) == 0) {
        r->method = ND_LANE_HEAD;
    } else if (mlen == 4 && memcmp(in + start, "POST", 4) == 0) {
        r->method = ND_LANE_POST;
    } else {
        r->method = ND_LANE_OTHER;
    }
    p++;
    /* origin-form target */
    size_t tstart = p;
    if (p == len) {
        return need_more(len, lim);
    }
    if (in[p] != '/') {
        return ND_LANE_BAD_REQUEST;
    }
    while (p < len && in[p] >= 0x21 && in[p] <= 0x7e) {
        p++;
        if (p - tstart > lim->target_max) {
            return ND_LANE_URI_TOO_LONG;
        }
    }
    if (p == len) {
        return need_more(len, lim);
    }
    if (in[p] != ' ') {
        return ND_LANE_BAD_REQUEST;
    }
    r->target.p = in + tstart;
    r->target.len = p - tstart;
    p++;
    /* "HTTP/" DIGIT "." DIGIT CRLF */
    static const char version[] = "HTTP/d.d\r\n";
    uint8_t major = 0, minor = 0;
    for (size_t i = 0; i < sizeof version - 1; i++, p++) {
        if (p == len) {
            return need_more(len, lim);
        }
        if (version[i] == 'd') {
            if (in[p] < '0' || in[p] > '9') {
                return ND_LANE_BAD_REQUEST;
            }
            if (i == 5) {
                major = (uint8_t)(in[p] - '0');
            } else {
                minor = (uint8_t)(in[p] - '0');
            }
        } else if (in[p] != (uint8_t)version[i]) {
            return ND_LANE_BAD_REQUEST;
        }
    }
    if (major != 1 || minor > 1) {
        return ND_LANE_VERSION;
    }
    r->minor = minor;
    *pos = p;
    return ND_LANE_OK;
}

/* Reads Content-Length's value: digits only, bounded. */
static nd_lane_parse_result content_length(nd_lane_slice v, const nd_lane_limits *lim,
                                           size_t *out) {
    if (v.len == 0) {
        return ND_LANE_BAD_CONTENT_LENGTH;
    }
    size_t n = 0;
    bool over = false;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') {
            return ND_LANE_BAD_CONTENT_LENGTH;
        }
        /* Past the bound the digits are only checked, never summed. */
        if (!over) {
            n = n * 10 + (size_t)(v.p[i] - '0');
            over = n > lim->body_max;
        }
    }
    if (over) {
        return ND_LANE_BODY_TOO_LARGE;
    }
    *out = n;
    return ND_LANE_OK;
}

/* Keeps a field the routes read (the first of each name). */
static nd_lane_parse_result field(const uint8_t *name, size_t name_len, nd_lane_slice value,
                                  const nd_lane_limits *lim, bool *have_length,
                                  nd_lane_request *r) {
    nd_lane_slice *keep = NULL;
    switch (name_len) {
    case 4: /* Host: not needed, not required (the API port does not either) */
        break;
    case 6:
        if (name_is(name, name_len, "accept")) {
            keep = &r->accept;
        }
        break;
    case 10:
        if (name_is(name, name_len, "connection")) {
            keep = &r->connection;
        }
        break;
    case 13:
        if (name_is(name, name_len, "if-none-match")) {
            keep = &r->if_none_match;
        }
        break;
    case 14:
        if (name_is(name, name_len, "content-length")) {
            if (*have_length) {
                return ND_LANE_BAD_CONTENT_LENGTH;
            }
            *have_length = true;
            return content_length(value, lim, &r->content_length);
        }
        break;
    case 15:
        if (name_is(name, name_len, "accept-language")) {
            keep = &r->accept_language;
        }
        break;
    case 17:
        if (name_is(name, name_len, "transfer-encoding")) {
            return ND_LANE_TRANSFER_ENCODING;
        }
        break;
    default:
        break;
    }
    if (keep != NULL && keep->p == NULL) {
        *keep = value;
    }
    return ND_LANE_OK;
}

nd_lane_parse_result nd_lane_parse(const uint8_t *in, size_t len, const nd_lane_limits *lim,
                                   nd_lane_request *out) {
    assert(in != NULL || len == 0);
    assert(lim != NULL && out != NULL && lim->head_max > 0);
    nd_lane_request r;
    memset(&r, 0, sizeof r);
    /* The head is read from its first head_max bytes only: what lies past
     * the bound can neither complete a head nor change a refusal, so a
     * prefix of the input is refused exactly as the whole would be. */
    const size_t whole = len;
    len = len < lim->head_max ? len : lim->head_max;
    size_t p = 0;
    /* Empty lines before the request line (RFC 9112 §2.2), within the head's bound. */
    while (p < len && in[p] == '\r') {
        if (p + 1 == len) {
            return need_more(len, lim);
        }
        if (in[p + 1] != '\n') {
            return ND_LANE_BAD_REQUEST;
        }
        p += 2;
        if (p >= lim->head_max) {
            return ND_LANE_HEAD_TOO_LARGE;
        }
    }
    r.skipped = p;
    nd_lane_parse_result res = parse_request_line(in, len, &p, lim, &r);
    if (res != ND_LANE_OK) {
        return res;
    }
    bool have_length = false;
    /* p never passes len, and len is at most head_max: a head that does
     * not end within the bound runs out of bytes (need_more refuses it). */
    for (;;) {
        assert(p <= len);
        if (p == len) {
            return need_more(len, lim);
        }
        if (in[p] == '\r') {
            if (p + 1 == len) {
                return need_more(len, lim);
            }
            if (in[p + 1] != '\n') {
                return ND_LANE_BAD_REQUEST;
            }
            p += 2;
            break;
        }
        /* A field name: no leading space (no line folding), no bare LF. */
        size_t nstart = p;
        while (p < len && (byte_class[in[p]] & CLASS_TCHAR) != 0) {
            p++;
        }
        if (p == len) {
            return need_more(len, lim);
        }
        if (in[p] != ':' || p == nstart) {
            return ND_LANE_BAD_REQUEST;
        }
        size_t name_len = p - nstart;
        p++;
        while (p < len && (in[p] == ' ' || in[p] == '\t')) {
            p++;
        }
        size_t vstart = p;
        while (p < len && (byte_class[in[p]] & CLASS_VALUE) != 0) {
            p++;
        }
        if (p == len) {
            return need_more(len, lim);
        }
        if (in[p] != '\r') {
            return ND_LANE_BAD_REQUEST; /* a bare LF or another control byte */
        }
        if (p + 1 == len) {
            return need_more(len, lim);
        }
        if (in[p + 1] != '\n') {
            return ND_LANE_BAD_REQUEST;
        }
        size_t vend = p;
        while (vend > vstart && (in[vend - 1] == ' ' || in[vend - 1] == '\t')) {
            vend--;
        }
        p += 2;
        if (++r.header_count > lim->headers_max) {
            return ND_LANE_HEAD_TOO_LARGE;
        }
        nd_lane_slice value = {in + vstart, vend - vstart};
        res = field(in + nstart, name_len, value, lim, &have_length, &r);
        if (res != ND_LANE_OK) {
            return res;
        }
    }
    r.head_len = p;
    r.total_len = p + r.content_length;
    /* libevent's rules (evhttp_is_connection_keepalive, _close): keep-alive
     * is a prefix match, close an exact one. */
    bool keepalive_field = r.connection.p != NULL && value_starts(r.connection, "keep-alive");
    bool close_field = r.connection.p != NULL && r.connection.len == 5 &&
                       name_is(r.connection.p, r.connection.len, "close");
    r.echo_keepalive = r.minor == 0 && keepalive_field;
    r.echo_close = close_field;
    r.keep_alive = !close_field && (r.minor == 1 || keepalive_field);
    assert(r.head_len <= whole && r.head_len <= lim->head_max);
    *out = r;
    /* The head is whole: the caller learns how many bytes to wait for. */
    return whole < r.total_len ? ND_LANE_INCOMPLETE : ND_LANE_OK;
}

int nd_lane_parse_status_code(nd_lane_parse_result r) {
    switch (r) {
    case ND_LANE_BAD_REQUEST:
    case ND_LANE_BAD_CONTENT_LENGTH:
        return 400;
    case ND_LANE_HEAD_TOO_LARGE:
        return 431;
    case ND_LANE_URI_TOO_LONG:
        return 414;
    case ND_LANE_BODY_TOO_LARGE:
        return 413;
    case ND_LANE_TRANSFER_ENCODING:
        return 501;
    case ND_LANE_VERSION:
        return 505;
    case ND_LANE_OK:
    case ND_LANE_INCOMPLETE:
        return 0;
    }
    return 400;
}

const char *nd_lane_parse_error_name(nd_lane_parse_result r) {
    switch (r) {
    case ND_LANE_BAD_REQUEST:
        return "bad_request";
    case ND_LANE_BAD_CONTENT_LENGTH:
        return "bad_content_length";
    case ND_LANE_HEAD_TOO_LARGE:
        return "headers_too_large";
    case ND_LANE_URI_TOO_LONG:
        return "uri_too_long";
    case ND_LANE_BODY_TOO_LARGE:
        return "body_too_large";
    case ND_LANE_TRANSFER_ENCODING:
        return "transfer_encoding_unsupported";
    case ND_LANE_VERSION:
        return "http_version_unsupported";
    case ND_LANE_OK:
    case ND_LANE_INCOMPLETE:
        return "";
    }
    return "bad_request";
}

const char *nd_lane_parse_error_message(nd_lane_parse_result r) {
    switch (r) {
    case ND_LANE_BAD_REQUEST:
        return "malformed request line or header field";
    case ND_LANE_BAD_CONTENT_LENGTH:
        return "Content-Length must be one decimal number";
    case ND_LANE_HEAD_TOO_LARGE:
        return "request head too large or too many header fields";
    case ND_LANE_URI_TOO_LONG:
        return "request target too long";
    case ND_LANE_BODY_TOO_LARGE:
        return "request body too large";
    case ND_LANE_TRANSFER_ENCODING:
        return "Transfer-Encoding is not supported: send the body with Content-Length";
    case ND_LANE_VERSION:
        return "only HTTP/1.0 and HTTP/1.1 are served";
    case ND_LANE_OK:
    case ND_LANE_INCOMPLETE:
        return "";
    }
    return "";
}
