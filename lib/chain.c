/* lib/chain.c — the chain objects a light client checks alone: block
 * header, validator set, vote body and commit certificate.
 *
 * Layer: lib/, the bottom. These live below consensus/ because a proof
 * bundle is verified with nothing but lib/ and a genesis file. Encodings are
 * canonical (docs/encoding.md gives the byte layouts); decoders take bytes
 * from peers and disk, so they validate everything and never assert on it.
 * Never allocates, never does I/O. */
#include "hm.h"

#include <assert.h>
#include <string.h>

#define BLOCK_HEADER_VERSION 1
#define BLOCK_TAG "hallmark/block"
#define VALIDATORS_TAG "hallmark/validators"

/* The varints of a certificate (count, indices) take at most 2 bytes each
 * because both are bounded by HM_VALIDATORS_MAX. */
_Static_assert(HM_VALIDATORS_MAX <= 128 * 128, "certificate varints fit 2 bytes");
_Static_assert(HM_CHAIN_ID_MAX < 128, "a chain id's length prefix is one byte");

static bool hash_is_zero(const uint8_t hash[HM_HASH_LEN]) {
    uint8_t acc = 0;
    for (size_t i = 0; i < HM_HASH_LEN; i++) {
        acc |= hash[i];
    }
    return acc == 0;
}

/* ------------------------------------------------------------ block header */

/* The checks shared by encode and decode, so that every header that encodes
 * also decodes and the other way round. */
static hm_err block_header_check(const hm_block_header *h) {
    size_t chain_id_len = strnlen(h->chain_id, sizeof h->chain_id);
    if (chain_id_len == 0) {
        return HM_ERR_BAD_VALUE;
    }
    if (chain_id_len > HM_CHAIN_ID_MAX) {
        return HM_ERR_TOO_LONG;
    }
    if (h->height == 0) {
        return HM_ERR_BAD_VALUE;
    }
    return HM_OK;
}

hm_err hm_block_header_encode(const hm_block_header *h, hm_writer *w) {
    if (h == NULL || w == NULL) {
        return HM_ERR_ARG;
    }
    hm_err err = block_header_check(h);
    if (err != HM_OK) {
        hm_writer_fail(w, err);
        return err;
    }
    hm_put_u8(w, BLOCK_HEADER_VERSION);
    hm_put_str(w, h->chain_id, HM_CHAIN_ID_MAX);
    hm_put_varint(w, h->height);
    hm_put_u64(w, h->time_ms);
    hm_put_raw(w, h->prev_block_hash, HM_HASH_LEN);
    hm_put_raw(w, h->tx_root, HM_HASH_LEN);
    hm_put_raw(w, h->state_root, HM_HASH_LEN);
    hm_put_raw(w, h->validator_set_hash, HM_HASH_LEN);
    hm_put_raw(w, h->proposer.bytes, HM_PUBKEY_LEN);
    return hm_writer_error(w);
}

hm_err hm_block_header_decode(hm_reader *r, hm_block_header *h) {
    if (r == NULL || h == NULL) {
        return HM_ERR_ARG;
    }
    memset(h, 0, sizeof *h);
    uint8_t version = hm_get_u8(r);
    if (hm_reader_error(r) == HM_OK && version != BLOCK_HEADER_VERSION) {
        hm_reader_fail(r, HM_ERR_UNKNOWN_TYPE);
    }
    hm_get_str(r, h->chain_id, sizeof h->chain_id, HM_CHAIN_ID_MAX);
    h->height = hm_get_varint(r, UINT64_MAX);
    h->time_ms = hm_get_u64(r);
    hm_get_raw(r, h->prev_block_hash, HM_HASH_LEN);
    hm_get_raw(r, h->tx_root, HM_HASH_LEN);
    hm_get_raw(r, h->state_root, HM_HASH_LEN);
    hm_get_raw(r, h->validator_set_hash, HM_HASH_LEN);
    hm_get_raw(r, h->proposer.bytes, HM_PUBKEY_LEN);
    if (hm_reader_error(r) == HM_OK) {
        hm_err err = block_header_check(h);
        if (err != HM_OK) {
            hm_reader_fail(r, err);
        }
    }
    return hm_reader_error(r);
}

hm_err hm_block_header_hash(const hm_block_header *h, uint8_t out[HM_HASH_LEN]) {
    if (h == NULL || out == NULL) {
        return HM_ERR_ARG;
    }
    uint8_t buf[HM_BLOCK_HEADER_ENCODED_MAX];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_err err = hm_block_header_encode(h, &w);
    if (err != HM_OK) {
        return err;
    }
    hm_tagged_hash(BLOCK_TAG, buf, w.len, out);
    return HM_OK;
}

/* ----------------------------------------------------------- validator set */

uint32_t hm_validator_set_quorum(const hm_validator_set *vs) {
    assert(vs != NULL);
    assert(vs->count <= HM_VALIDATORS_MAX);
    /* floor(2n/3)+1: for n = 3f+1 this is 2f+1, and any two quorums of it
     * intersect in more than n/3 members, hence in an honest one. */
    return (uint32_t)((2u * vs->count) / 3u + 1u);
}

void hm_validator_set_hash(const hm_validator_set *vs, uint8_t out[HM_HASH_LEN]) {
    assert(vs != NULL);
    assert(vs->count <= HM_VALIDATORS_MAX);
    uint8_t buf[2 + HM_VALIDATORS_MAX * HM_PUBKEY_LEN];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_varint(&w, vs->count);
    for (uint32_t i = 0; i < vs->count; i++) {
        hm_put_raw(&w, vs->keys[i].bytes, HM_PUBKEY_LEN);
    }
    assert(hm_writer_error(&w) == HM_OK);
    hm_tagged_hash(VALIDATORS_TAG, buf, w.len, out);
}

int hm_validator_set_find(const hm_validator_set *vs, const hm_pubkey *pub) {
    assert(vs != NULL && pub != NULL);
    assert(vs->count <= HM_VALIDATORS_MAX);
    for (uint32_t i = 0; i < vs->count; i++) {
        if (memcmp(vs->keys[i].bytes, pub->bytes, HM_PUBKEY_LEN) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* --------------------------------------------------------------- vote body */

void hm_vote_body_encode(const hm_vote_body *v, hm_writer *w) {
    assert(v != NULL && w != NULL);
    hm_put_u8(w, v->type);
    hm_put_u64(w, v->height);
    hm_put_u32(w, v->round);
    hm_put_raw(w, v->block_id, HM_HASH_LEN);
}

hm_err hm_vote_body_decode(hm_reader *r, hm_vote_body *v) {
    if (r == NULL || v == NULL) {
        return HM_ERR_ARG;
    }
    memset(v, 0, sizeof *v);
    v->type = hm_get_u8(r);
    if (hm_reader_error(r) == HM_OK && v->type != HM_VOTE_PREVOTE && v->type != HM_VOTE_PRECOMMIT) {
        hm_reader_fail(r, HM_ERR_UNKNOWN_TYPE);
    }
    v->height = hm_get_u64(r);
    v->round = hm_get_u32(r);
    hm_get_raw(r, v->block_id, HM_HASH_LEN);
    return hm_reader_error(r);
}

/* ------------------------------------------------------ commit certificate */

hm_err hm_cert_encode(const hm_cert *c, hm_writer *w) {
    if (c == NULL || w == NULL) {
        return HM_ERR_ARG;
    }
    if (c->count > HM_VALIDATORS_MAX) {
        hm_writer_fail(w, HM_ERR_TOO_LONG);
        return HM_ERR_TOO_LONG;
    }
    hm_put_u64(w, c->height);
    hm_put_u32(w, c->round);
    hm_put_raw(w, c->block_id, HM_HASH_LEN);
    hm_put_varint(w, c->count);
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->sigs[i].validator_index >= HM_VALIDATORS_MAX) {
            hm_writer_fail(w, HM_ERR_OVERFLOW);
            break;
        }
        hm_put_varint(w, c->sigs[i].validator_index);
        hm_put_raw(w, c->sigs[i].sig.bytes, HM_SIG_LEN);
    }
    return hm_writer_error(w);
}

hm_err hm_cert_decode(hm_reader *r, hm_cert *c) {
    if (r == NULL || c == NULL) {
        return HM_ERR_ARG;
    }
    memset(c, 0, sizeof *c);
    c->height = hm_get_u64(r);
    c->round = hm_get_u32(r);
    hm_get_raw(r, c->block_id, HM_HASH_LEN);
    uint64_t count = hm_get_varint(r, UINT64_MAX);
    if (hm_reader_error(r) == HM_OK && count > HM_VALIDATORS_MAX) {
        hm_reader_fail(r, HM_ERR_TOO_LONG);
    }
    if (hm_reader_error(r) != HM_OK) {
        return hm_reader_error(r);
    }
    c->count = (uint32_t)count;
    for (uint32_t i = 0; i < c->count && hm_reader_error(r) == HM_OK; i++) {
        c->sigs[i].validator_index = (uint32_t)hm_get_varint(r, HM_VALIDATORS_MAX - 1);
        hm_get_raw(r, c->sigs[i].sig.bytes, HM_SIG_LEN);
    }
    return hm_reader_error(r);
}

hm_err hm_cert_verify(const hm_cert *c, const char *chain_id, const hm_validator_set *vs) {
    if (c == NULL || chain_id == NULL || vs == NULL || vs->count > HM_VALIDATORS_MAX) {
        return HM_ERR_ARG;
    }
    /* Structure first: it is cheap, and a malformed certificate should not
     * cost anyone a quorum of signature verifications. */
    if (c->count > HM_VALIDATORS_MAX || c->count < hm_validator_set_quorum(vs)) {
        return HM_ERR_PROOF;
    }
    if (hash_is_zero(c->block_id)) {
        return HM_ERR_PROOF;
    }
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->sigs[i].validator_index >= vs->count) {
            return HM_ERR_PROOF;
        }
        /* Strictly increasing indices: no signer counted twice, one order. */
        if (i > 0 && c->sigs[i].validator_index <= c->sigs[i - 1].validator_index) {
            return HM_ERR_PROOF;
        }
    }
    hm_vote_body vote = {.type = HM_VOTE_PRECOMMIT, .height = c->height, .round = c->round};
    memcpy(vote.block_id, c->block_id, HM_HASH_LEN);
    uint8_t body[HM_VOTE_BODY_ENCODED_LEN];
    hm_writer w;
    hm_writer_init(&w, body, sizeof body);
    hm_vote_body_encode(&vote, &w);
    assert(hm_writer_error(&w) == HM_OK && w.len == HM_VOTE_BODY_ENCODED_LEN);
    for (uint32_t i = 0; i < c->count; i++) {
        const hm_pubkey *signer = &vs->keys[c->sigs[i].validator_index];
        hm_err err =
            hm_verify(signer, HM_PURPOSE_VOTE, chain_id, body, sizeof body, &c->sigs[i].sig);
        if (err != HM_OK) {
            /* A validator key that is not on the curve makes its signature
             * invalid too; the caller learns which kind by the code. */
            return err == HM_ERR_BAD_KEY ? HM_ERR_BAD_SIG : err;
        }
    }
    return HM_OK;
}
