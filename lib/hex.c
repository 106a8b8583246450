/* lib/hex.c — lower-case hex encoding and strict hex decoding.
 *
 * Layer: lib/, the bottom. Decoders take text from outside (config files,
 * command lines, HTTP), so they validate every character and write nothing
 * to the output unless the whole input is valid. Never allocates. */
#include "hm.h"

#include <assert.h>
#include <string.h>

static const char hex_digits[16] = "0123456789abcdef";

void hm_hex_encode(const uint8_t *data, size_t data_len, char *out) {
    assert(out != NULL);
    assert(data != NULL || data_len == 0);
    for (size_t i = 0; i < data_len; i++) {
        out[2 * i] = hex_digits[data[i] >> 4];
        out[2 * i + 1] = hex_digits[data[i] & 0x0f];
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
