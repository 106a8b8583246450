/* tests/fuzz/fuzz_nd_lane_request.c — libFuzzer target for the resolver
 * lane's request parser (node/lane_req.c), the first code a client's bytes
 * meet on the resolver port.
 *
 * Layer: tests only. Byte 0 picks the bounds (head 64..1024 bytes, 1..16
 * fields, target 8..512 bytes, body 0..255 bytes), the rest is the input.
 * Then:
 *   - a request that parses lies inside the input: its head within the
 *     head bound, its body within the body bound, every kept field and the
 *     target inside the head, the target in origin form within its bound,
 *     and at most the allowed fields; parsing exactly its bytes gives the
 *     same request, and every shorter prefix of it is incomplete;
 *   - an incomplete input whose head is whole reports a total beyond it;
 *   - an error seen in a prefix is the error of the whole input (a refusal
 *     never depends on bytes not yet seen, and never goes away with more);
 *   - the keep-alive flags follow libevent's rules as the header states.
 * Never depends on anything but the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "lane_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(nd_lane_slice s, const uint8_t *lo, size_t len) {
    return s.p == NULL || (s.p >= lo && s.p + s.len <= lo + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    uint8_t pick = data[0];
    nd_lane_limits lim = {
        .head_max = 64u + (size_t)(pick & 0x0f) * 64u,
        .headers_max = 1u + (size_t)(pick >> 4),
        .target_max = 8u + (size_t)(pick & 0x07) * 72u,
        .body_max = (size_t)pick,
    };
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    nd_lane_request r;
    memset(&r, 0, sizeof r);
    nd_lane_parse_result res = nd_lane_parse(in, len, &lim, &r);
    if (res == ND_LANE_OK) {
        check(r.total_len <= len);
        check(r.head_len <= lim.head_max && r.head_len <= r.total_len);
        check(r.content_length <= lim.body_max);
        check(r.total_len == r.head_len + r.content_length);
        check(r.header_count <= lim.headers_max);
        check(r.minor <= 1);
        check(r.method >= ND_LANE_GET && r.method <= ND_LANE_OTHER);
        check(r.target.p != NULL && r.target.len >= 1 && r.target.len <= lim.target_max);
        check(r.target.p[0] == '/');
        check(inside(r.target, in, r.head_len) && inside(r.accept, in, r.head_len) &&
              inside(r.accept_language, in, r.head_len) &&
              inside(r.if_none_match, in, r.head_len) && inside(r.connection, in, r.head_len));
        check(!(r.echo_close && r.keep_alive));
        check(!r.echo_keepalive || r.minor == 0);
        check(r.minor == 1 || r.keep_alive == r.echo_keepalive);
        check(r.head_len >= 4 && memcmp(in + r.head_len - 4, "\r\n\r\n", 4) == 0);
        /* Exactly its bytes: the same request. */
        nd_lane_request again;
        check(nd_lane_parse(in, r.total_len, &lim, &again) == ND_LANE_OK);
        check(again.total_len == r.total_len && again.head_len == r.head_len &&
              again.target.p == r.target.p && again.target.len == r.target.len &&
              again.keep_alive == r.keep_alive);
        /* Shorter: incomplete. */
        size_t cuts[3] = {r.total_len - 1, r.head_len - 1, r.total_len / 2};
        for (int i = 0; i < 3; i++) {
            nd_lane_request part;
            memset(&part, 0, sizeof part);
            check(nd_lane_parse(in, cuts[i], &lim, &part) == ND_LANE_INCOMPLETE);
        }
    } else if (res == ND_LANE_INCOMPLETE) {
        check(r.head_len == 0 || r.total_len > len);
        check(r.head_len <= lim.head_max);
    } else {
        check(res < 0);
        check(nd_lane_parse_status_code(res) >= 400);
        check(nd_lane_parse_error_name(res)[0] != '\0');
    }
    /* A prefix's error is the whole input's. */
    size_t half = len / 2;
    nd_lane_request part;
    memset(&part, 0, sizeof part);
    nd_lane_parse_result pres = nd_lane_parse(in, half, &lim, &part);
    if (pres < 0) {
        check(res == pres);
    }
    return 0;
}
