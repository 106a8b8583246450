/* tests/unit/test_hm_encoding.c — the canonical encoding: round trips for
 * every type and every rejection rule with its own error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hm.h"

/* Decodes a varint from the given bytes with max; returns the reader's
 * final state through err. */
static uint64_t decode_varint(const uint8_t *bytes, size_t len, uint64_t max, hm_err *err) {
    hm_reader r;
    hm_reader_init(&r, bytes, len);
    uint64_t v = hm_get_varint(&r, max);
    *err = hm_reader_finish(&r);
    return v;
}

static void test_fixed_ints_round_trip(void **state) {
    (void)state;
    uint8_t buf[64];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_u8(&w, 0xab);
    hm_put_u16(&w, 0x1234);
    hm_put_u32(&w, 0xdeadbeef);
    hm_put_u64(&w, 0x0102030405060708ull);
    hm_put_bool(&w, true);
    hm_put_bool(&w, false);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    static const uint8_t want[] = {0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 1, 2,
                                   3,    4,    5,    6,    7,    8,    1,    0};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);

    hm_reader r;
    hm_reader_init(&r, buf, w.len);
    assert_int_equal(hm_get_u8(&r), 0xab);
    assert_int_equal(hm_get_u16(&r), 0x1234);
    assert_int_equal(hm_get_u32(&r), 0xdeadbeef);
    assert_true(hm_get_u64(&r) == 0x0102030405060708ull);
    assert_true(hm_get_bool(&r));
    assert_false(hm_get_bool(&r));
    assert_true(hm_reader_at_end(&r));
    assert_int_equal(hm_reader_finish(&r), HM_OK);
}

static void test_varint_round_trip(void **state) {
    (void)state;
    const uint64_t values[] = {0,          1,          127,
                               128,        255,        300,
                               16383,      16384,      (1u << 21) - 1,
                               1u << 21,   UINT32_MAX, 1ull << 35,
                               1ull << 56, 1ull << 63, UINT64_MAX - 1,
                               UINT64_MAX};
    const size_t want_len[] = {1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 5, 6, 9, 10, 10, 10};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t buf[16];
        hm_writer w;
        hm_writer_init(&w, buf, sizeof buf);
        hm_put_varint(&w, values[i]);
        assert_int_equal(hm_writer_error(&w), HM_OK);
        assert_int_equal(w.len, want_len[i]);
        hm_err err;
        assert_true(decode_varint(buf, w.len, UINT64_MAX, &err) == values[i]);
        assert_int_equal(err, HM_OK);
        /* Exactly at the maximum is accepted, one below it is overflow. */
        assert_true(decode_varint(buf, w.len, values[i], &err) == values[i]);
        assert_int_equal(err, HM_OK);
        if (values[i] > 0) {
            (void)decode_varint(buf, w.len, values[i] - 1, &err);
            assert_int_equal(err, HM_ERR_OVERFLOW);
        }
    }
    /* Known encodings. */
    uint8_t buf[16];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_varint(&w, 300);
    assert_int_equal(w.len, 2);
    assert_int_equal(buf[0], 0xac);
    assert_int_equal(buf[1], 0x02);
}

static void test_varint_rejections(void **state) {
    (void)state;
    hm_err err;
    /* Non-minimal: a zero final byte after the first. */
    static const uint8_t zero_padded[] = {0x80, 0x00};
    (void)decode_varint(zero_padded, sizeof zero_padded, UINT64_MAX, &err);
    assert_int_equal(err, HM_ERR_NONMINIMAL);
    static const uint8_t one_padded[] = {0x81, 0x80, 0x00};
    (void)decode_varint(one_padded, sizeof one_padded, UINT64_MAX, &err);
    assert_int_equal(err, HM_ERR_NONMINIMAL);
    static const uint8_t ten_padded[] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0x80, 0x00};
    (void)decode_varint(ten_padded, sizeof ten_padded, UINT64_MAX, &err);
    assert_int_equal(err, HM_ERR_NONMINIMAL);
    /* Truncated: the input ends with the continuation bit set. */
    static const uint8_t cut[] = {0x80};
    (void)decode_varint(cut, sizeof cut, UINT64_MAX, &err);
    assert_int_equal(err, HM_ERR_TRUNCATED);
    (void)decode_varint(NULL, 0, UINT64_MAX, &err);
    assert_int_equal(err, HM_ERR_TRUNCATED);
    /* Past 2^64: a tenth byte above 1, or an eleventh byte. */
    static const uint8_t two_to_64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
    (void)decode_varint(two_to_64, sizeof two_to_64, UINT64_MAX, &err);
    assert_int_equal(err, HM_ERR_OVERFLOW);
    static const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0x81, 0x00};
    (void)decode_varint(eleven, sizeof eleven, UINT64_MAX, &err);
    assert_int_equal(err, HM_ERR_OVERFLOW);
    /* Over the caller's maximum. */
    static const uint8_t v200[] = {0xc8, 0x01};
    (void)decode_varint(v200, sizeof v200, 199, &err);
    assert_int_equal(err, HM_ERR_OVERFLOW);
    /* Trailing bytes after a good value. */
    static const uint8_t trailing[] = {0x05, 0x00};
    assert_int_equal(decode_varint(trailing, sizeof trailing, UINT64_MAX, &err), 5);
    assert_int_equal(err, HM_ERR_TRAILING);
}

static void test_bytes_and_text(void **state) {
    (void)state;
    uint8_t buf[64];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    static const uint8_t blob[] = {9, 8, 7};
    hm_put_bytes(&w, blob, sizeof blob, 3);
    hm_put_bytes(&w, NULL, 0, 0);
    hm_put_str(&w, "hallmark", 8);
    hm_put_str(&w, "", 0);
    static const uint8_t raw[4] = {0xaa, 0xbb, 0xcc, 0xdd};
    hm_put_raw(&w, raw, sizeof raw);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    static const uint8_t want[] = {3,   9,   8,   7,   0, 8,    'h',  'a',  'l', 'l',
                                   'm', 'a', 'r', 'k', 0, 0xaa, 0xbb, 0xcc, 0xdd};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);

    hm_reader r;
    hm_reader_init(&r, buf, w.len);
    size_t len = 99;
    const uint8_t *p = hm_get_bytes(&r, 3, &len);
    assert_non_null(p);
    assert_int_equal(len, 3);
    assert_memory_equal(p, blob, 3);
    p = hm_get_bytes(&r, 0, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    char text[9];
    hm_get_str(&r, text, sizeof text, 8);
    assert_string_equal(text, "hallmark");
    hm_get_str(&r, text, sizeof text, 8);
    assert_string_equal(text, "");
    uint8_t got_raw[4];
    hm_get_raw(&r, got_raw, sizeof got_raw);
    assert_memory_equal(got_raw, raw, sizeof raw);
    assert_int_equal(hm_reader_finish(&r), HM_OK);
}

static void test_field_rejections(void **state) {
    (void)state;
    uint8_t buf[64];
    hm_writer w;
    /* Too long on write, for bytes and text. */
    hm_writer_init(&w, buf, sizeof buf);
    static const uint8_t blob[] = {1, 2, 3, 4};
    hm_put_bytes(&w, blob, sizeof blob, 3);
    assert_int_equal(hm_writer_error(&w), HM_ERR_TOO_LONG);
    assert_int_equal(w.len, 0);
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_str(&w, "four", 3);
    assert_int_equal(hm_writer_error(&w), HM_ERR_TOO_LONG);

    /* Too long on read. */
    static const uint8_t four[] = {4, 'a', 'b', 'c', 'd'};
    hm_reader r;
    size_t len;
    hm_reader_init(&r, four, sizeof four);
    assert_null(hm_get_bytes(&r, 3, &len));
    assert_int_equal(hm_reader_error(&r), HM_ERR_TOO_LONG);
    char text[8];
    hm_reader_init(&r, four, sizeof four);
    hm_get_str(&r, text, sizeof text, 3);
    assert_int_equal(hm_reader_error(&r), HM_ERR_TOO_LONG);
    assert_string_equal(text, "");

    /* Truncated: the length says more than there is. */
    hm_reader_init(&r, four, 3);
    assert_null(hm_get_bytes(&r, 10, &len));
    assert_int_equal(hm_reader_error(&r), HM_ERR_TRUNCATED);
    /* A huge length is too long, not an allocation or a wrap-around. */
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    hm_reader_init(&r, huge, sizeof huge);
    assert_null(hm_get_bytes(&r, SIZE_MAX - 1, &len));
    assert_int_equal(hm_reader_error(&r), HM_ERR_TOO_LONG);

    /* NUL inside text. */
    static const uint8_t nul[] = {3, 'a', 0, 'b'};
    hm_reader_init(&r, nul, sizeof nul);
    hm_get_str(&r, text, sizeof text, 7);
    assert_int_equal(hm_reader_error(&r), HM_ERR_BAD_VALUE);
    assert_string_equal(text, "");

    /* A bool is 0 or 1. */
    static const uint8_t two = 2;
    hm_reader_init(&r, &two, 1);
    (void)hm_get_bool(&r);
    assert_int_equal(hm_reader_error(&r), HM_ERR_BAD_VALUE);

    /* Truncated fixed-width integers. */
    static const uint8_t three[] = {1, 2, 3};
    hm_reader_init(&r, three, sizeof three);
    assert_int_equal(hm_get_u32(&r), 0);
    assert_int_equal(hm_reader_error(&r), HM_ERR_TRUNCATED);
    hm_reader_init(&r, three, sizeof three);
    assert_true(hm_get_u64(&r) == 0);
    assert_int_equal(hm_reader_finish(&r), HM_ERR_TRUNCATED);
    hm_reader_init(&r, three, 1);
    assert_int_equal(hm_get_u16(&r), 0);
    assert_int_equal(hm_reader_error(&r), HM_ERR_TRUNCATED);
    uint8_t out[4] = {7, 7, 7, 7};
    hm_reader_init(&r, three, sizeof three);
    hm_get_raw(&r, out, sizeof out);
    assert_int_equal(hm_reader_error(&r), HM_ERR_TRUNCATED);
    static const uint8_t zeros[4] = {0};
    assert_memory_equal(out, zeros, sizeof out);

    /* Trailing bytes. */
    hm_reader_init(&r, three, sizeof three);
    (void)hm_get_u16(&r);
    assert_false(hm_reader_at_end(&r));
    assert_int_equal(hm_reader_error(&r), HM_OK);
    assert_int_equal(hm_reader_finish(&r), HM_ERR_TRAILING);

    /* An out buffer too small for len_max is refused, not overflowed. */
    hm_reader_init(&r, four, sizeof four);
    hm_get_str(&r, text, 4, 4);
    assert_int_equal(hm_reader_error(&r), HM_ERR_ARG);
}

static void test_sticky_errors(void **state) {
    (void)state;
    /* The first error stays; later reads return zero and change nothing. */
    static const uint8_t data[] = {0x80, 0x00, 0x05, 0x06};
    hm_reader r;
    hm_reader_init(&r, data, sizeof data);
    (void)hm_get_varint(&r, UINT64_MAX);
    assert_int_equal(hm_reader_error(&r), HM_ERR_NONMINIMAL);
    assert_int_equal(hm_get_u8(&r), 0);
    hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    assert_int_equal(hm_reader_finish(&r), HM_ERR_NONMINIMAL);

    uint8_t buf[4];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_u16(&w, 1);
    hm_writer_fail(&w, HM_ERR_BAD_VALUE);
    hm_put_u8(&w, 2);
    hm_writer_fail(&w, HM_ERR_ARG);
    assert_int_equal(hm_writer_error(&w), HM_ERR_BAD_VALUE);
    assert_int_equal(w.len, 2);
}

static void test_writer_full(void **state) {
    (void)state;
    uint8_t buf[5];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_u32(&w, 1);
    hm_put_u16(&w, 2); /* one byte short: nothing of it is written */
    assert_int_equal(hm_writer_error(&w), HM_ERR_FULL);
    assert_int_equal(w.len, 4);
    hm_put_u8(&w, 3); /* would fit, but the writer has failed */
    assert_int_equal(w.len, 4);

    /* Exactly full is fine. */
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_u32(&w, 1);
    hm_put_u8(&w, 1);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    assert_int_equal(w.len, 5);

    hm_writer_init(&w, NULL, 0);
    hm_put_varint(&w, 0);
    assert_int_equal(hm_writer_error(&w), HM_ERR_FULL);
}

static void test_growable_writer(void **state) {
    (void)state;
    hm_writer w;
    hm_writer_init_growable(&w, 1000);
    for (int i = 0; i < 250; i++) {
        hm_put_u32(&w, (uint32_t)i);
    }
    assert_int_equal(hm_writer_error(&w), HM_OK);
    assert_int_equal(w.len, 1000);
    assert_true(w.cap <= 1000);
    /* One byte past cap_max fails. */
    hm_put_u8(&w, 1);
    assert_int_equal(hm_writer_error(&w), HM_ERR_FULL);
    assert_int_equal(w.len, 1000);
    size_t len = 0;
    uint8_t *buf = hm_writer_take(&w, &len);
    assert_non_null(buf);
    assert_int_equal(len, 1000);
    hm_reader r;
    hm_reader_init(&r, buf, len);
    for (int i = 0; i < 250; i++) {
        assert_int_equal(hm_get_u32(&r), (uint32_t)i);
    }
    assert_int_equal(hm_reader_finish(&r), HM_OK);
    free(buf);
    assert_null(w.buf);
    assert_int_equal(w.len, 0);
    hm_writer_free(&w);

    /* An empty writer still hands over a buffer to free. */
    hm_writer_init_growable(&w, 16);
    buf = hm_writer_take(&w, &len);
    assert_non_null(buf);
    assert_int_equal(len, 0);
    free(buf);

    /* A single write larger than cap_max fails without allocating it. */
    hm_writer_init_growable(&w, 16);
    uint8_t big[17] = {0};
    hm_put_raw(&w, big, sizeof big);
    assert_int_equal(hm_writer_error(&w), HM_ERR_FULL);
    hm_writer_free(&w);
    hm_writer_free(&w); /* freeing twice is harmless */

    /* Bytes written through a growable writer decode back. */
    hm_writer_init_growable(&w, 1 << 20);
    uint8_t *blob = malloc(100000);
    assert_non_null(blob);
    for (size_t i = 0; i < 100000; i++) {
        blob[i] = (uint8_t)(i * 7);
    }
    hm_put_bytes(&w, blob, 100000, 100000);
    hm_put_str(&w, "end", 16);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    hm_reader_init(&r, w.buf, w.len);
    const uint8_t *p = hm_get_bytes(&r, 100000, &len);
    assert_non_null(p);
    assert_int_equal(len, 100000);
    assert_memory_equal(p, blob, 100000);
    char text[17];
    hm_get_str(&r, text, sizeof text, 16);
    assert_string_equal(text, "end");
    assert_int_equal(hm_reader_finish(&r), HM_OK);
    free(blob);
    hm_writer_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_ints_round_trip), cmocka_unit_test(test_varint_round_trip),
        cmocka_unit_test(test_varint_rejections),     cmocka_unit_test(test_bytes_and_text),
        cmocka_unit_test(test_field_rejections),      cmocka_unit_test(test_sticky_errors),
        cmocka_unit_test(test_writer_full),           cmocka_unit_test(test_growable_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
