/* lib/encoding.c — the canonical binary encoding: writer and reader.
 *
 * Layer: lib/, the bottom. Every signed or hashed object is encoded here, so
 * each value must have exactly one byte string: big-endian fixed integers,
 * minimal unsigned LEB128 varints, length-prefixed bytes and text with a
 * per-field maximum (docs/encoding.md is normative). The reader takes bytes
 * from the network and disk: it never asserts on them, never reads past the
 * end, and keeps the first error so a decoder checks once at the end.
 * Never allocates except for growable writers, which never exceed cap_max. */
#include "hm.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define VARINT_BYTES_MAX 10
#define GROWABLE_CAP_MIN 64

/* ------------------------------------------------------------------ writer */

void hm_writer_init(hm_writer *w, uint8_t *buf, size_t cap) {
    assert(w != NULL);
    assert(buf != NULL || cap == 0);
    w->buf = buf;
    w->len = 0;
    w->cap = cap;
    w->cap_max = cap;
    w->growable = false;
    w->err = HM_OK;
}

void hm_writer_init_growable(hm_writer *w, size_t cap_max) {
    assert(w != NULL);
    w->buf = NULL;
    w->len = 0;
    w->cap = 0;
    w->cap_max = cap_max;
    w->growable = true;
    w->err = HM_OK;
}

void hm_writer_free(hm_writer *w) {
    if (w == NULL) {
        return;
    }
    if (w->growable) {
        free(w->buf);
        w->buf = NULL;
        w->cap = 0;
    }
    w->len = 0;
}

uint8_t *hm_writer_take(hm_writer *w, size_t *len_out) {
    assert(w != NULL);
    assert(w->growable);
    uint8_t *buf = w->buf;
    /* Callers commonly read NULL as "out of memory", so an empty but
     * successful writer still hands over a (1-byte) buffer. */
    if (buf == NULL && w->err == HM_OK) {
        buf = malloc(1);
    }
    if (len_out != NULL) {
        *len_out = w->len;
    }
    w->buf = NULL;
    w->len = 0;
    w->cap = 0;
    w->err = HM_OK;
    return buf;
}

void hm_writer_fail(hm_writer *w, hm_err err) {
    assert(w != NULL);
    assert(err != HM_OK);
    if (w->err == HM_OK) {
        w->err = err;
    }
}

hm_err hm_writer_error(const hm_writer *w) {
    assert(w != NULL);
    return w->err;
}

/* Makes room for extra more bytes; false (and the writer failed) if it
 * cannot. A failed writer never writes again. */
static bool writer_reserve(hm_writer *w, size_t extra) {
    if (w->err != HM_OK) {
        return false;
    }
    assert(w->len <= w->cap);
    if (extra <= w->cap - w->len) {
        return true;
    }
    if (!w->growable || extra > w->cap_max - w->len || w->len > w->cap_max) {
        hm_writer_fail(w, HM_ERR_FULL);
        return false;
    }
    size_t need = w->len + extra;
    size_t new_cap = w->cap < GROWABLE_CAP_MIN ? GROWABLE_CAP_MIN : w->cap;
    while (new_cap < need) {
        new_cap = new_cap > SIZE_MAX / 2 ? SIZE_MAX : new_cap * 2;
    }
    if (new_cap > w->cap_max) {
        new_cap = w->cap_max;
    }
    uint8_t *grown = realloc(w->buf, new_cap);
    if (grown == NULL) {
        hm_writer_fail(w, HM_ERR_NOMEM);
        return false;
    }
    w->buf = grown;
    w->cap = new_cap;
    return true;
}

static void writer_append(hm_writer *w, const uint8_t *data, size_t data_len) {
    if (!writer_reserve(w, data_len)) {
        return;
    }
    if (data_len > 0) {
        memcpy(w->buf + w->len, data, data_len);
        w->len += data_len;
    }
}

static void put_be(hm_writer *w, uint64_t v, size_t width) {
    uint8_t tmp[8];
    assert(width <= sizeof tmp);
    for (size_t i = 0; i < width; i++) {
        tmp[width - 1 - i] = (uint8_t)(v >> (8 * i));
    }
    writer_append(w, tmp, width);
}

void hm_put_u8(hm_writer *w, uint8_t v) {
    put_be(w, v, 1);
}

void hm_put_u16(hm_writer *w, uint16_t v) {
    put_be(w, v, 2);
}

void hm_put_u32(hm_writer *w, uint32_t v) {
    put_be(w, v, 4);
}

void hm_put_u64(hm_writer *w, uint64_t v) {
    put_be(w, v, 8);
}

void hm_put_varint(hm_writer *w, uint64_t v) {
    uint8_t tmp[VARINT_BYTES_MAX];
    size_t n = 0;
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        tmp[n++] = v != 0 ? (uint8_t)(byte | 0x80) : byte;
    } while (v != 0);
    assert(n <= VARINT_BYTES_MAX);
    writer_append(w, tmp, n);
}

void hm_put_bool(hm_writer *w, bool v) {
    put_be(w, v ? 1 : 0, 1);
}

void hm_put_raw(hm_writer *w, const uint8_t *data, size_t data_len) {
    assert(data != NULL || data_len == 0);
    writer_append(w, data, data_len);
}

void hm_put_bytes(hm_writer *w, const uint8_t *data, size_t data_len, size_t len_max) {
    assert(data != NULL || data_len == 0);
    if (data_len > len_max) {
        hm_writer_fail(w, HM_ERR_TOO_LONG);
        return;
    }
    hm_put_varint(w, data_len);
    writer_append(w, data, data_len);
}

void hm_put_str(hm_writer *w, const char *text, size_t len_max) {
    if (text == NULL) {
        hm_writer_fail(w, HM_ERR_ARG);
        return;
    }
    /* Bounded scan: a text longer than len_max is rejected without reading
     * the rest of it. */
    size_t text_len = strnlen(text, len_max == SIZE_MAX ? SIZE_MAX : len_max + 1);
    if (text_len > len_max) {
        hm_writer_fail(w, HM_ERR_TOO_LONG);
        return;
    }
    hm_put_varint(w, text_len);
    writer_append(w, (const uint8_t *)text, text_len);
}

/* ------------------------------------------------------------------ reader */

void hm_reader_init(hm_reader *r, const uint8_t *data, size_t data_len) {
    assert(r != NULL);
    assert(data != NULL || data_len == 0);
    r->data = data;
    r->len = data_len;
    r->pos = 0;
    r->err = HM_OK;
}

void hm_reader_fail(hm_reader *r, hm_err err) {
    assert(r != NULL);
    assert(err != HM_OK);
    if (r->err == HM_OK) {
        r->err = err;
    }
}

bool hm_reader_at_end(const hm_reader *r) {
    assert(r != NULL);
    return r->pos >= r->len;
}

hm_err hm_reader_error(const hm_reader *r) {
    assert(r != NULL);
    return r->err;
}

hm_err hm_reader_finish(const hm_reader *r) {
    assert(r != NULL);
    if (r->err != HM_OK) {
        return r->err;
    }
    return r->pos == r->len ? HM_OK : HM_ERR_TRAILING;
}

/* Takes n bytes from the input; NULL (and the reader failed) if fewer
 * remain or the reader has already failed. */
static const uint8_t *reader_take(hm_reader *r, size_t n) {
    if (r->err != HM_OK) {
        return NULL;
    }
    assert(r->pos <= r->len);
    if (n > r->len - r->pos) {
        hm_reader_fail(r, HM_ERR_TRUNCATED);
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_be(hm_reader *r, size_t width) {
    const uint8_t *p = reader_take(r, width);
    if (p == NULL) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

uint8_t hm_get_u8(hm_reader *r) {
    return (uint8_t)get_be(r, 1);
}

uint16_t hm_get_u16(hm_reader *r) {
    return (uint16_t)get_be(r, 2);
}

uint32_t hm_get_u32(hm_reader *r) {
    return (uint32_t)get_be(r, 4);
}

uint64_t hm_get_u64(hm_reader *r) {
    return get_be(r, 8);
}

uint64_t hm_get_varint(hm_reader *r, uint64_t max) {
    if (r->err != HM_OK) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < VARINT_BYTES_MAX; i++) {
        const uint8_t *p = reader_take(r, 1);
        if (p == NULL) {
            return 0;
        }
        uint8_t byte = *p;
        unsigned shift = (unsigned)(7 * i);
        /* The tenth byte carries bit 63 only: anything more is >= 2^64. */
        if (i == VARINT_BYTES_MAX - 1 && byte > 0x01) {
            hm_reader_fail(r, HM_ERR_OVERFLOW);
            return 0;
        }
        v |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            /* A zero final byte after the first adds nothing: a shorter
             * encoding of the same value exists. */
            if (byte == 0 && i > 0) {
                hm_reader_fail(r, HM_ERR_NONMINIMAL);
                return 0;
            }
            if (v > max) {
                hm_reader_fail(r, HM_ERR_OVERFLOW);
                return 0;
            }
            return v;
        }
    }
    /* Unreachable: the tenth byte either ends the varint or overflows. */
    hm_reader_fail(r, HM_ERR_OVERFLOW);
    return 0;
}

bool hm_get_bool(hm_reader *r) {
    const uint8_t *p = reader_take(r, 1);
    if (p == NULL) {
        return false;
    }
    if (*p > 1) {
        hm_reader_fail(r, HM_ERR_BAD_VALUE);
        return false;
    }
    return *p == 1;
}

void hm_get_raw(hm_reader *r, uint8_t *out, size_t out_len) {
    assert(out != NULL || out_len == 0);
    const uint8_t *p = reader_take(r, out_len);
    if (p == NULL) {
        /* Deterministic contents on error, never stale caller data. */
        if (out_len > 0) {
            memset(out, 0, out_len);
        }
        return;
    }
    if (out_len > 0) {
        memcpy(out, p, out_len);
    }
}

/* Reads a length prefix and checks it against len_max and the input left. */
static const uint8_t *get_length_prefixed(hm_reader *r, size_t len_max, size_t *len_out) {
    *len_out = 0;
    uint64_t n = hm_get_varint(r, UINT64_MAX);
    if (r->err != HM_OK) {
        return NULL;
    }
    if (n > len_max) {
        hm_reader_fail(r, HM_ERR_TOO_LONG);
        return NULL;
    }
    const uint8_t *p = reader_take(r, (size_t)n);
    if (p == NULL) {
        return NULL;
    }
    *len_out = (size_t)n;
    return p;
}

const uint8_t *hm_get_bytes(hm_reader *r, size_t len_max, size_t *len_out) {
    assert(len_out != NULL);
    return get_length_prefixed(r, len_max, len_out);
}

void hm_get_str(hm_reader *r, char *out, size_t out_cap, size_t len_max) {
    assert(out != NULL && out_cap > 0);
    out[0] = '\0';
    if (out_cap <= len_max) {
        /* A caller bug, but reported rather than overflowing out. */
        hm_reader_fail(r, HM_ERR_ARG);
        return;
    }
    size_t n = 0;
    const uint8_t *p = get_length_prefixed(r, len_max, &n);
    if (p == NULL) {
        return;
    }
    if (n > 0 && memchr(p, 0, n) != NULL) {
        hm_reader_fail(r, HM_ERR_BAD_VALUE);
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}
