/* lib/hex.c — lower-case hex encoding, decimal digits, strict hex decoding.
 *
 * Layer: lib/, the bottom. Decoders take text from outside (config files,
 * command lines, HTTP), so they validate every character and write nothing
 * to the output unless the whole input is valid. Never allocates. */
#include "hm.h"

#include <assert.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The two digits of every byte value: one table read per byte instead of
 * two (proof bundles on the consumer page are mostly hex, rendered per
 * lookup). */
static const char hex_pairs[2 * 256 + 1] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

#if defined(__SSE2__)
/* The 32 hex digits of 16 bytes: each nibble n becomes n + '0', plus the
 * gap from '9' + 1 to 'a' when n > 9; the high and low digits are then
 * interleaved. SSE2 is part of every x86-64 processor. */
static void hex_encode_16(const uint8_t *data, char *out) {
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i nine = _mm_set1_epi8(9);
    const __m128i zero = _mm_set1_epi8('0');
    const __m128i gap = _mm_set1_epi8('a' - '9' - 1);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)data);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), nibble);
    __m128i lo = _mm_and_si128(v, nibble);
    hi = _mm_add_epi8(_mm_add_epi8(hi, zero), _mm_and_si128(_mm_cmpgt_epi8(hi, nine), gap));
    lo = _mm_add_epi8(_mm_add_epi8(lo, zero), _mm_and_si128(_mm_cmpgt_epi8(lo, nine), gap));
    _mm_storeu_si128((__m128i *)(void *)out, _mm_unpacklo_epi8(hi, lo));
    _mm_storeu_si128((__m128i *)(void *)(out + 16), _mm_unpackhi_epi8(hi, lo));
}
#endif

size_t hm_u64_decimal(uint64_t v, char out[20]) {
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

void hm_hex_encode(const uint8_t *data, size_t data_len, char *out) {
    assert(out != NULL);
    assert(data != NULL || data_len == 0);
    size_t i = 0;
#if defined(__SSE2__)
    /* Hashes and signatures, most of a proof bundle's text, are whole
     * multiples of 16 bytes. */
    for (; data_len - i >= 16; i += 16) {
        hex_encode_16(data + i, out + 2 * i);
    }
#endif
    for (; i < data_len; i++) {
        memcpy(out + 2 * i, hex_pairs + 2 * data[i], 2);
    }
    out[2 * data_len] = '\0';
}

/* The value of one hex digit, or -1. */
static int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Checks that text[0..digits) are all hex digits, then decodes them; the
 * check comes first so that out is untouched on error. */
static hm_err hex_decode_digits(const char *text, size_t digits, uint8_t *out) {
    for (size_t i = 0; i < digits; i++) {
        if (hex_value(text[i]) < 0) {
            return HM_ERR_HEX;
        }
    }
    for (size_t i = 0; i < digits / 2; i++) {
        out[i] = (uint8_t)((hex_value(text[2 * i]) << 4) | hex_value(text[2 * i + 1]));
    }
    return HM_OK;
}

hm_err hm_hex_decode(const char *text, uint8_t *out, size_t out_len) {
    if (text == NULL || (out == NULL && out_len > 0)) {
        return HM_ERR_ARG;
    }
    /* strnlen bounds the scan: a text longer than expected is an error anyway. */
    size_t digits = strnlen(text, 2 * out_len + 1);
    if (digits != 2 * out_len) {
        return HM_ERR_HEX;
    }
    return hex_decode_digits(text, digits, out);
}

hm_err hm_hex_decode_any(const char *text, uint8_t *out, size_t out_cap, size_t *out_len) {
    if (text == NULL || out_len == NULL || (out == NULL && out_cap > 0)) {
        return HM_ERR_ARG;
    }
    size_t digits = strnlen(text, 2 * out_cap + 1);
    if (digits > 2 * out_cap || digits % 2 != 0) {
        return HM_ERR_HEX;
    }
    hm_err err = hex_decode_digits(text, digits, out);
    if (err != HM_OK) {
        return err;
    }
    *out_len = digits / 2;
    return HM_OK;
}
