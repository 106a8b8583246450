/* node/wire.c — peer frame headers, tx batches, the block encoding and
 * compact blocks (a proposal's block as header and tx ids).
 *
 * Layer: node/. Pure byte work: no sockets, no allocation beyond the block
 * buffers. Must never trust a length it has not checked against the
 * per-type maximum. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "nd_int.h"

/* A compact proposal with the most txs any genesis allows fits its frame,
 * whose length the header carries in 32 bits. */
static_assert((uint64_t)2 + CS_MSG_MAX + ND_COMPACT_MAX <= UINT32_MAX,
              "a PROPOSAL_IDS frame's maximum fits the frame header");

uint32_t nd_frame_max(uint8_t type) {
    switch (type) {
    case ND_MSG_STATUS:
        return 64;
    case ND_MSG_CONSENSUS:
        /* a proposal carries its block */
        return ND_BLOCK_BYTES_MAX + 4096;
    case ND_MSG_TX:
        return ND_TX_FRAME_MAX;
    case ND_MSG_GET_BLOCK:
        return 16;
    case ND_MSG_BLOCK:
        return ND_BLOCK_BYTES_MAX + 16384;
    case ND_MSG_GET_PROPOSAL:
        return 64;
    case ND_MSG_TXS:
        return ND_TXS_FRAME_MAX;
    case ND_MSG_PROPOSAL_IDS:
        /* u16 msg_len | msg | compact block */
        return (uint32_t)(2 + CS_MSG_MAX + ND_COMPACT_MAX);
    default:
        return 0;
    }
}

void nd_frame_header_put(uint8_t out[ND_FRAME_HEADER_LEN], uint8_t type, uint32_t len) {
    out[0] = type;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

hm_err nd_frame_header_parse(const uint8_t in[ND_FRAME_HEADER_LEN], uint8_t *type, uint32_t *len) {
    uint32_t max = nd_frame_max(in[0]);
    if (max == 0)
        return HM_ERR_UNKNOWN_TYPE;
    uint32_t l = ((uint32_t)in[1] << 24) | ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 8) |
                 (uint32_t)in[4];
    if (l > max)
        return HM_ERR_TOO_LONG;
    *type = in[0];
    *len = l;
    return HM_OK;
}

hm_err nd_txs_append(uint8_t *buf, size_t *len, const uint8_t *tx, size_t tx_len) {
    assert(*len <= ND_TXS_FRAME_MAX);
    if (tx_len == 0)
        return HM_ERR_ARG;
    if (tx_len > ND_TXS_FRAME_MAX - ND_TXS_ENTRY_HEADER_LEN ||
        *len > ND_TXS_FRAME_MAX - ND_TXS_ENTRY_HEADER_LEN - tx_len)
        return HM_ERR_FULL;
    uint8_t *p = buf + *len;
    p[0] = (uint8_t)(tx_len >> 24);
    p[1] = (uint8_t)(tx_len >> 16);
    p[2] = (uint8_t)(tx_len >> 8);
    p[3] = (uint8_t)tx_len;
    memcpy(p + ND_TXS_ENTRY_HEADER_LEN, tx, tx_len);
    *len += ND_TXS_ENTRY_HEADER_LEN + tx_len;
    return HM_OK;
}

hm_err nd_txs_next(const uint8_t *batch, size_t len, size_t *pos, const uint8_t **tx,
                   size_t *tx_len) {
    assert(*pos <= len);
    if (*pos == len)
        return HM_ERR_NOT_FOUND;
    if (len - *pos < ND_TXS_ENTRY_HEADER_LEN)
        return HM_ERR_TRUNCATED;
    const uint8_t *p = batch + *pos;
    size_t l = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    if (l == 0)
        return HM_ERR_BAD_VALUE;
    if (l > len - *pos - ND_TXS_ENTRY_HEADER_LEN)
        return HM_ERR_TRUNCATED;
    *tx = p + ND_TXS_ENTRY_HEADER_LEN;
    *tx_len = l;
    *pos += ND_TXS_ENTRY_HEADER_LEN + l;
    return HM_OK;
}

hm_err nd_block_encode(const hm_block_header *h, const uint8_t *const *txs, const size_t *tx_lens,
                       uint32_t tx_count, uint8_t **out, size_t *out_len) {
    hm_writer w;
    hm_writer_init_growable(&w, ND_BLOCK_BYTES_MAX);
    hm_err err = hm_block_header_encode(h, &w);
    if (err != HM_OK) {
        hm_writer_free(&w);
        return err;
    }
    hm_put_varint(&w, tx_count);
    for (uint32_t i = 0; i < tx_count; i++)
        hm_put_bytes(&w, txs[i], tx_lens[i], ND_TX_FRAME_MAX);
    err = hm_writer_error(&w);
    if (err != HM_OK) {
        hm_writer_free(&w);
        return err;
    }
    *out = hm_writer_take(&w, out_len);
    return *out ? HM_OK : HM_ERR_NOMEM;
}

hm_err nd_block_build(const hm_block_header *h, const uint8_t *const *txs, const size_t *tx_lens,
                      uint32_t tx_count, nd_block *b) {
    memset(b, 0, sizeof *b);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    hm_err err = nd_block_encode(h, txs, tx_lens, tx_count, &raw, &raw_len);
    if (err != HM_OK)
        return err;
    /* the views are found by reading the encoding back, as a receiver does */
    return nd_block_take(raw, raw_len, tx_count, b);
}

void nd_block_clear(nd_block *b) {
    free(b->ids);
    free(b->txs);
    free(b->tx_lens);
    free(b->raw);
    memset(b, 0, sizeof *b);
}

hm_err nd_block_decode(const uint8_t *data, size_t data_len, uint32_t tx_count_max, nd_block *b) {
    memset(b, 0, sizeof *b);
    if (data_len > ND_BLOCK_BYTES_MAX)
        return HM_ERR_TOO_LONG;
    uint8_t *raw = malloc(data_len ? data_len : 1);
    if (!raw)
        return HM_ERR_NOMEM;
    memcpy(raw, data, data_len);
    return nd_block_take(raw, data_len, tx_count_max, b);
}

hm_err nd_block_take(uint8_t *raw, size_t data_len, uint32_t tx_count_max, nd_block *b) {
    memset(b, 0, sizeof *b);
    if (data_len > ND_BLOCK_BYTES_MAX) {
        free(raw);
        return HM_ERR_TOO_LONG;
    }
    b->raw = raw;
    b->raw_len = data_len;
    hm_reader r;
    hm_reader_init(&r, b->raw, data_len);
    hm_err err = hm_block_header_decode(&r, &b->header);
    if (err != HM_OK)
        goto fail;
    uint64_t count = hm_get_varint(&r, tx_count_max);
    if ((err = hm_reader_error(&r)) != HM_OK)
        goto fail;
    b->tx_count = (uint32_t)count;
    b->txs = calloc(count ? count : 1, sizeof *b->txs);
    b->tx_lens = calloc(count ? count : 1, sizeof *b->tx_lens);
    if (!b->txs || !b->tx_lens) {
        err = HM_ERR_NOMEM;
        goto fail;
    }
    for (uint64_t i = 0; i < count; i++) {
        b->txs[i] = hm_get_bytes(&r, ND_TX_FRAME_MAX, &b->tx_lens[i]);
        if (!b->txs[i])
            break;
    }
    if ((err = hm_reader_finish(&r)) != HM_OK)
        goto fail;
    return HM_OK;
fail:
    nd_block_clear(b);
    return err;
}

hm_err nd_block_index(nd_block *b, uint8_t tx_root[HM_HASH_LEN]) {
    return nd_block_index_decoded(b, tx_root, NULL);
}

hm_err nd_block_index_decoded(nd_block *b, uint8_t tx_root[HM_HASH_LEN], ct_tx *decoded) {
    free(b->ids);
    b->ids = malloc((b->tx_count ? b->tx_count : 1) * sizeof *b->ids);
    if (!b->ids)
        return HM_ERR_NOMEM;
    hm_merkle_builder mb;
    hm_merkle_builder_init(&mb);
    for (uint32_t i = 0; i < b->tx_count; i++) {
        ct_tx local;
        ct_tx *tx = decoded ? &decoded[i] : &local;
        hm_err err = ct_tx_decode(b->txs[i], b->tx_lens[i], tx);
        if (err != HM_OK) {
            free(b->ids);
            b->ids = NULL;
            return err;
        }
        memcpy(b->ids[i], tx->id, HM_HASH_LEN);
        uint8_t leaf[HM_HASH_LEN];
        ct_tx_leaf_hash(tx, leaf);
        hm_merkle_builder_add(&mb, leaf);
    }
    hm_merkle_builder_root(&mb, tx_root);
    return HM_OK;
}

hm_err nd_compact_encode(const hm_block_header *h, const uint8_t (*ids)[HM_HASH_LEN],
                         uint32_t tx_count, uint8_t **out, size_t *out_len) {
    if (tx_count > ND_BLOCK_TXS_LIMIT)
        return HM_ERR_TOO_LONG;
    hm_writer w;
    hm_writer_init_growable(&w, ND_COMPACT_MAX);
    hm_err err = hm_block_header_encode(h, &w);
    if (err != HM_OK) {
        hm_writer_free(&w);
        return err;
    }
    hm_put_varint(&w, tx_count);
    if (tx_count)
        hm_put_raw(&w, ids[0], (size_t)tx_count * HM_HASH_LEN);
    if ((err = hm_writer_error(&w)) != HM_OK) {
        hm_writer_free(&w);
        return err;
    }
    *out = hm_writer_take(&w, out_len);
    return *out ? HM_OK : HM_ERR_NOMEM;
}

hm_err nd_compact_decode(const uint8_t *data, size_t data_len, uint32_t tx_count_max,
                         hm_block_header *h, const uint8_t (**ids)[HM_HASH_LEN],
                         uint32_t *tx_count) {
    if (data_len > ND_COMPACT_MAX)
        return HM_ERR_TOO_LONG;
    hm_reader r;
    hm_reader_init(&r, data, data_len);
    hm_err err = hm_block_header_decode(&r, h);
    if (err != HM_OK)
        return err;
    uint64_t count =
        hm_get_varint(&r, tx_count_max < ND_BLOCK_TXS_LIMIT ? tx_count_max : ND_BLOCK_TXS_LIMIT);
    if ((err = hm_reader_error(&r)) != HM_OK)
        return err;
    if (r.len - r.pos != count * HM_HASH_LEN)
        return r.len - r.pos < count * HM_HASH_LEN ? HM_ERR_TRUNCATED : HM_ERR_TRAILING;
    *ids = (const uint8_t(*)[HM_HASH_LEN])(data + r.pos);
    *tx_count = (uint32_t)count;
    return HM_OK;
}
