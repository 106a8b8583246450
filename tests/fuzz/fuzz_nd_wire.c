/* tests/fuzz/fuzz_nd_wire.c — libFuzzer target for what a peer's bytes meet
 * first: frame headers (nd_frame_header_parse), tx batches (nd_txs_next),
 * blocks (nd_block_decode) and compact blocks (nd_compact_decode).
 *
 * Layer: tests only. Byte 0 picks the decoder (mod 4), the rest is its input.
 * Then:
 *   - a frame header that parses has a known type and a length within that
 *     type's maximum, and writing it back gives the same 5 bytes;
 *   - walking a tx batch never reads past it, every entry is non-empty and
 *     inside the batch, and a batch read to its end re-appends (with
 *     nd_txs_append) to exactly its own bytes;
 *   - a block that decodes re-encodes to exactly its bytes, and its tx views
 *     lie inside them; built from those views (nd_block_build) it is the
 *     same bytes again;
 *   - a compact block that decodes has at most the allowed txs, its ids are
 *     its last tx_count x 32 bytes, and it re-encodes to exactly its bytes.
 * Never depends on anything but the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "nd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BLOCK_TXS_MAX 4096

static void frame_header(const uint8_t *in, size_t len) {
    if (len < ND_FRAME_HEADER_LEN)
        return;
    uint8_t type = 0;
    uint32_t flen = 0;
    if (nd_frame_header_parse(in, &type, &flen) != HM_OK)
        return;
    check(nd_frame_max(type) > 0);
    check(flen <= nd_frame_max(type));
    uint8_t back[ND_FRAME_HEADER_LEN];
    nd_frame_header_put(back, type, flen);
    check(memcmp(back, in, ND_FRAME_HEADER_LEN) == 0);
}

static void tx_batch(const uint8_t *in, size_t len) {
    if (len > ND_TXS_FRAME_MAX)
        return; /* the frame maximum stops larger ones before this */
    uint8_t *again = malloc(ND_TXS_FRAME_MAX);
    check(again != NULL);
    size_t again_len = 0, pos = 0, tx_len = 0;
    const uint8_t *tx = NULL;
    hm_err err;
    while ((err = nd_txs_next(in, len, &pos, &tx, &tx_len)) == HM_OK) {
        check(pos <= len);
        check(tx_len > 0);
        check(tx >= in + ND_TXS_ENTRY_HEADER_LEN && tx + tx_len == in + pos);
        check(nd_txs_append(again, &again_len, tx, tx_len) == HM_OK);
    }
    check(err == HM_ERR_NOT_FOUND || err == HM_ERR_TRUNCATED || err == HM_ERR_BAD_VALUE);
    if (err == HM_ERR_NOT_FOUND) {
        check(pos == len);
        check(again_len == len && memcmp(again, in, len) == 0);
    }
    free(again);
}

static void block(const uint8_t *in, size_t len) {
    nd_block b;
    if (nd_block_decode(in, len, BLOCK_TXS_MAX, &b) != HM_OK)
        return;
    check(b.tx_count <= BLOCK_TXS_MAX);
    check(b.raw_len == len && memcmp(b.raw, in, len) == 0);
    for (uint32_t i = 0; i < b.tx_count; i++)
        check(b.txs[i] >= b.raw && b.txs[i] + b.tx_lens[i] <= b.raw + b.raw_len);
    uint8_t *out = NULL;
    size_t out_len = 0;
    check(nd_block_encode(&b.header, b.txs, b.tx_lens, b.tx_count, &out, &out_len) == HM_OK);
    check(out_len == len && memcmp(out, in, len) == 0);
    free(out);
    nd_block built;
    check(nd_block_build(&b.header, b.txs, b.tx_lens, b.tx_count, &built) == HM_OK);
    check(built.raw_len == len && memcmp(built.raw, in, len) == 0);
    check(built.tx_count == b.tx_count);
    nd_block_clear(&built);
    nd_block_clear(&b);
}

static void compact(const uint8_t *in, size_t len) {
    hm_block_header h;
    const uint8_t(*ids)[HM_HASH_LEN] = NULL;
    uint32_t count = 0;
    if (nd_compact_decode(in, len, BLOCK_TXS_MAX, &h, &ids, &count) != HM_OK)
        return;
    check(count <= BLOCK_TXS_MAX);
    check((size_t)count * HM_HASH_LEN <= len);
    check((const uint8_t *)ids == in + len - (size_t)count * HM_HASH_LEN);
    uint8_t *out = NULL;
    size_t out_len = 0;
    check(nd_compact_encode(&h, ids, count, &out, &out_len) == HM_OK);
    check(out_len == len && memcmp(out, in, len) == 0);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
        frame_header(data + 1, size - 1);
        break;
    case 1:
        tx_batch(data + 1, size - 1);
        break;
    case 2:
        block(data + 1, size - 1);
        break;
    default:
        compact(data + 1, size - 1);
        break;
    }
    return 0;
}
