/* tests/unit/test_hm_basics.c — error names, hex, logging, SHA-256 and
 * tagged hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hm.h"

static void test_error_names(void **state) {
    (void)state;
    /* Every code has a distinct, non-empty name and a message. */
    for (int i = 0; i < HM_ERR__COUNT; i++) {
        const char *name = hm_err_name((hm_err)i);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        assert_string_not_equal(name, "unknown_error");
        assert_true(strlen(hm_err_message((hm_err)i)) > 0);
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(name, hm_err_name((hm_err)j));
        }
    }
    assert_string_equal(hm_err_name(HM_OK), "ok");
    assert_string_equal(hm_err_name(HM_ERR_TRAILING), "trailing_bytes");
    assert_string_equal(hm_err_name(HM_ERR__COUNT), "unknown_error");
    assert_string_equal(hm_err_name((hm_err)-1), "unknown_error");
}

static void test_hex(void **state) {
    (void)state;
    static const uint8_t data[] = {0x00, 0x01, 0xab, 0xff};
    char text[9];
    hm_hex_encode(data, sizeof data, text);
    assert_string_equal(text, "0001abff");
    hm_hex_encode(NULL, 0, text);
    assert_string_equal(text, "");
    /* Every byte value, against printf's lower-case hex. */
    uint8_t all[256];
    char all_hex[2 * 256 + 1], want[2 * 256 + 1];
    for (int i = 0; i < 256; i++) {
        all[i] = (uint8_t)i;
        snprintf(want + 2 * i, 3, "%02x", i);
    }
    hm_hex_encode(all, sizeof all, all_hex);
    assert_string_equal(all_hex, want);
    /* Every length up to 100 and every start offset within 16 bytes (the
     * encoder works 16 bytes at a time where it can), without writing past
     * the NUL. */
    for (size_t off = 0; off < 16; off++) {
        for (size_t n = 0; n <= 100; n++) {
            char got[2 * 100 + 2];
            memset(got, 'X', sizeof got);
            hm_hex_encode(all + 97 + off, n, got);
            assert_memory_equal(got, want + 2 * (97 + off), 2 * n);
            assert_int_equal(got[2 * n], '\0');
            assert_int_equal(got[2 * n + 1], 'X');
        }
    }

    /* Decimal digits, against printf, with nothing written past them. */
    static const uint64_t nums[] = {0, 7, 10, 99, 1000, 4294967296u, UINT64_MAX};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        char dec[21], ref[21];
        memset(dec, 'X', sizeof dec);
        int len = snprintf(ref, sizeof ref, "%llu", (unsigned long long)nums[i]);
        assert_int_equal(hm_u64_decimal(nums[i], dec), (size_t)len);
        assert_memory_equal(dec, ref, (size_t)len);
        assert_int_equal(dec[len], 'X');
    }

    uint8_t out[4] = {0};
    assert_int_equal(hm_hex_decode("0001ABff", out, sizeof out), HM_OK);
    assert_memory_equal(out, data, sizeof data);
    /* Wrong length, odd length, bad digit: nothing written. */
    uint8_t untouched[4] = {7, 7, 7, 7};
    const char *bad[] = {"0001ab", "0001abff00", "0001abf", "0001abfg", "0x01abff", " 001abff", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(out, 7, sizeof out);
        assert_int_equal(hm_hex_decode(bad[i], out, sizeof out), HM_ERR_HEX);
        assert_memory_equal(out, untouched, sizeof out);
    }
    size_t len = 99;
    assert_int_equal(hm_hex_decode_any("abcd", out, sizeof out, &len), HM_OK);
    assert_int_equal(len, 2);
    assert_int_equal(out[0], 0xab);
    assert_int_equal(hm_hex_decode_any("", out, sizeof out, &len), HM_OK);
    assert_int_equal(len, 0);
    assert_int_equal(hm_hex_decode_any("abc", out, sizeof out, &len), HM_ERR_HEX);
    assert_int_equal(hm_hex_decode_any("0011223344", out, sizeof out, &len), HM_ERR_HEX);
    assert_int_equal(hm_hex_decode_any("zz", out, sizeof out, &len), HM_ERR_HEX);
    assert_int_equal(hm_hex_decode(NULL, out, sizeof out), HM_ERR_ARG);
}

static uint64_t fixed_clock_ms(void) {
    return 1764300000123ull;
}

static void test_logging(void **state) {
    (void)state;
    hm_log_level level;
    assert_int_equal(hm_log_level_parse("debug", &level), HM_OK);
    assert_int_equal(level, HM_LOG_DEBUG);
    assert_int_equal(hm_log_level_parse("WARN", &level), HM_OK);
    assert_int_equal(level, HM_LOG_WARN);
    assert_int_equal(hm_log_level_parse("error", &level), HM_OK);
    assert_int_equal(level, HM_LOG_ERROR);
    assert_int_equal(hm_log_level_parse("loud", &level), HM_ERR_BAD_VALUE);
    assert_int_equal(hm_log_level_parse("", &level), HM_ERR_BAD_VALUE);

    /* Capture stderr in a temporary file to check the line format. */
    FILE *capture = tmpfile();
    assert_non_null(capture);
    fflush(stderr);
    int saved = dup(fileno(stderr));
    assert_true(saved >= 0);
    assert_true(dup2(fileno(capture), fileno(stderr)) >= 0);

    hm_log_set_level(HM_LOG_INFO);
    assert_int_equal(hm_log_get_level(), HM_LOG_INFO);
    hm_log(HM_LOG_DEBUG, "hidden", "x=%d", 1);
    hm_log(HM_LOG_INFO, "plain", "height=%d", 7);
    hm_log_set_clock(fixed_clock_ms);
    hm_log_set_prefix("node=v1");
    hm_log(HM_LOG_WARN, "stamped", "peer=%s", "v2");
    hm_log_set_clock(NULL);
    hm_log_set_prefix(NULL);
    fflush(stderr);
    assert_true(dup2(saved, fileno(stderr)) >= 0);
    close(saved);

    char text[512] = {0};
    rewind(capture);
    size_t n = fread(text, 1, sizeof text - 1, capture);
    fclose(capture);
    text[n] = '\0';
    assert_string_equal(text, "level=info event=plain height=7\n"
                              "ts=1764300000.123 level=warn event=stamped node=v1 peer=v2\n");
}

static void hash_hex(const char *text, uint8_t out[HM_HASH_LEN]) {
    hm_sha256((const uint8_t *)text, strlen(text), out);
}

static void assert_hash_hex(const uint8_t hash[HM_HASH_LEN], const char *want) {
    char hex[2 * HM_HASH_LEN + 1];
    hm_hex_encode(hash, HM_HASH_LEN, hex);
    assert_string_equal(hex, want);
}

static void test_sha256(void **state) {
    (void)state;
    uint8_t out[HM_HASH_LEN];
    hash_hex("", out);
    assert_hash_hex(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hash_hex("abc", out);
    assert_hash_hex(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hash_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", out);
    assert_hash_hex(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    /* Incremental: one million 'a' in uneven pieces; final resets. */
    hm_sha256_ctx *ctx = hm_sha256_new();
    assert_non_null(ctx);
    uint8_t chunk[997];
    memset(chunk, 'a', sizeof chunk);
    size_t left = 1000000;
    while (left > 0) {
        size_t take = left < sizeof chunk ? left : sizeof chunk;
        hm_sha256_update(ctx, chunk, take);
        left -= take;
    }
    hm_sha256_final(ctx, out);
    assert_hash_hex(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    hm_sha256_update(ctx, (const uint8_t *)"abc", 3);
    hm_sha256_final(ctx, out);
    assert_hash_hex(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hm_sha256_final(ctx, out);
    assert_hash_hex(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hm_sha256_free(ctx);
    hm_sha256_free(NULL);
}

static void test_tagged_hash(void **state) {
    (void)state;
    /* tagged_hash(tag, data) = SHA256(SHA256(tag) || SHA256(tag) || data). */
    const char *tags[] = {"hallmark/block",
                          "BIP0340/challenge",
                          "a",
                          "",
                          "t1",
                          "t2",
                          "t3",
                          "t4",
                          "t5",
                          "t6",
                          "t7",
                          "t8",
                          "t9",
                          "a tag longer than the per-thread cache keeps, by some margin"};
    static const uint8_t data[] = {1, 2, 3};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
            uint8_t tag_hash[HM_HASH_LEN], buf[2 * HM_HASH_LEN + sizeof data];
            hm_sha256((const uint8_t *)tags[i], strlen(tags[i]), tag_hash);
            memcpy(buf, tag_hash, HM_HASH_LEN);
            memcpy(buf + HM_HASH_LEN, tag_hash, HM_HASH_LEN);
            memcpy(buf + 2 * HM_HASH_LEN, data, sizeof data);
            uint8_t want[HM_HASH_LEN], got[HM_HASH_LEN];
            hm_sha256(buf, sizeof buf, want);
            hm_tagged_hash(tags[i], data, sizeof data, got);
            assert_memory_equal(got, want, HM_HASH_LEN);
        }
    }
    uint8_t a[HM_HASH_LEN], b[HM_HASH_LEN];
    hm_tagged_hash("hallmark/tx", NULL, 0, a);
    hm_tagged_hash("hallmark/vote", NULL, 0, b);
    assert_memory_not_equal(a, b, HM_HASH_LEN);
}

static void test_random_bytes(void **state) {
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0};
    assert_int_equal(hm_random_bytes(a, sizeof a), HM_OK);
    assert_int_equal(hm_random_bytes(b, sizeof b), HM_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(hm_random_bytes(NULL, 0), HM_OK);
    assert_int_equal(hm_random_bytes(NULL, 1), HM_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names), cmocka_unit_test(test_hex),
        cmocka_unit_test(test_logging),     cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_tagged_hash), cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
