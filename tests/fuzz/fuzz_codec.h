/* tests/fuzz/fuzz_codec.h — what the decoder fuzz targets share: the first
 * input byte picks the decoder, and what a strict decoder accepts must
 * encode back to the very same bytes (a failed check() of fuzz_check.h
 * otherwise).
 *
 * Layer: tests only. Header-only (static), so each target stays one object. */
#ifndef HALLMARK_FUZZ_CODEC_H
#define HALLMARK_FUZZ_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "hm.h"

/* Takes the selector byte off the front of the input: false if there is none. */
static inline bool fuzz_take_selector(const uint8_t **data, size_t *size, uint8_t *which) {
    if (*size < 1)
        return false;
    *which = (*data)[0];
    (*data)++;
    (*size)--;
    return true;
}

/* Traps unless enc (the encoder's result) and w succeeded and w holds exactly
 * data[0..size): one byte string per value. */
static inline void fuzz_require_same(const hm_writer *w, hm_err enc, const uint8_t *data,
                                     size_t size) {
    check(enc == HM_OK && hm_writer_error(w) == HM_OK && w->len == size &&
          memcmp(w->buf, data, size) == 0);
}

#endif
