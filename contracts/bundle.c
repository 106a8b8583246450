/* contracts/bundle.c — proof bundles: build, encode, decode, JSON, verify.
 *
 * Layer: contracts/ (pure), on lib/'s chain objects and Merkle proofs. The
 * layout is docs/proofs.md; the decoder is its executable form. A bundle is
 * checked with nothing but the genesis chain id and validator set, so the
 * verifier trusts no field of it: every hash is recomputed, every signature
 * checked, every length bounded.
 *
 * Never: I/O, clocks, randomness; never asserts on bundle contents (only on
 * what this file itself built). */
#include "ct_bundle.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const uint8_t zero_bytes[HM_SIG_LEN];

static bool bytes_zero(const uint8_t *p, size_t len) {
    return memcmp(p, zero_bytes, len) == 0;
}

/* ------------------------------------------------------------ tx heads */

hm_err ct_tx_head_decode(const uint8_t *data, size_t data_len, ct_tx *out) {
    if (data == NULL || out == NULL) {
        return HM_ERR_ARG;
    }
    if (data_len > CT_TX_HEAD_MAX + HM_SIG_LEN) {
        return HM_ERR_TOO_LONG;
    }
    /* Mirrors the head layout of contracts/tx.c (ct.h): version, type,
     * signer, nonce, body, has_records [root, count], then the signature. */
    ct_tx tx;
    memset(&tx, 0, sizeof tx);
    hm_reader r;
    hm_reader_init(&r, data, data_len);
    uint8_t version = hm_get_u8(&r);
    if (hm_reader_error(&r) == HM_OK && version != CT_TX_VERSION) {
        hm_reader_fail(&r, HM_ERR_UNKNOWN_TYPE);
    }
    tx.type = (uint32_t)hm_get_varint(&r, UINT32_MAX);
    hm_get_raw(&r, tx.signer.bytes, HM_PUBKEY_LEN);
    tx.nonce = hm_get_varint(&r, UINT64_MAX);
    tx.body = hm_get_bytes(&r, CT_TX_BODY_MAX, &tx.body_len);
    tx.has_records = hm_get_bool(&r);
    if (tx.has_records) {
        hm_get_raw(&r, tx.records_root, HM_HASH_LEN);
        tx.record_count = (uint32_t)hm_get_varint(&r, CT_BATCH_RECORDS_MAX);
    }
    tx.head = data;
    tx.head_len = r.pos;
    hm_get_raw(&r, tx.sig.bytes, HM_SIG_LEN);
    hm_err err = hm_reader_finish(&r);
    if (err != HM_OK) {
        return err;
    }
    bool zero_signer = bytes_zero(tx.signer.bytes, HM_PUBKEY_LEN);
    bool zero_sig = bytes_zero(tx.sig.bytes, HM_SIG_LEN);
    if (zero_signer != zero_sig || (zero_signer && !ct_tx_type_is_keyless(tx.type))) {
        return HM_ERR_BAD_VALUE;
    }
    hm_sha256(data, data_len, tx.id);
    *out = tx;
    return HM_OK;
}

/* Length of head || sig at the start of a whole tx (or of head || sig). */
static hm_err head_sig_len(const uint8_t *tx, size_t tx_len, size_t *len) {
    hm_reader r;
    hm_reader_init(&r, tx, tx_len);
    (void)hm_get_u8(&r);
    (void)hm_get_varint(&r, UINT32_MAX);
    uint8_t signer[HM_PUBKEY_LEN];
    hm_get_raw(&r, signer, sizeof signer);
    (void)hm_get_varint(&r, UINT64_MAX);
    size_t body_len;
    (void)hm_get_bytes(&r, CT_TX_BODY_MAX, &body_len);
    if (hm_get_bool(&r)) {
        uint8_t root[HM_HASH_LEN];
        hm_get_raw(&r, root, sizeof root);
        (void)hm_get_varint(&r, CT_BATCH_RECORDS_MAX);
    }
    uint8_t sig[HM_SIG_LEN];
    hm_get_raw(&r, sig, sizeof sig);
    if (hm_reader_error(&r) != HM_OK) {
        return hm_reader_error(&r);
    }
    *len = r.pos;
    return HM_OK;
}

/* --------------------------------------------------------- construction */

hm_err ct_bundle_init(ct_bundle *b, const char *chain_id, const hm_validator_set *vs) {
    if (b == NULL || chain_id == NULL || vs == NULL) {
        return HM_ERR_ARG;
    }
    memset(b, 0, sizeof *b);
    size_t len = strnlen(chain_id, HM_CHAIN_ID_MAX + 1);
    if (len == 0 || len > HM_CHAIN_ID_MAX || vs->count == 0 || vs->count > HM_VALIDATORS_MAX) {
        return HM_ERR_ARG;
    }
    memcpy(b->chain_id, chain_id, len + 1);
    b->vset = *vs;
    return HM_OK;
}

void ct_bundle_reset(ct_bundle *b) {
    if (b == NULL) {
        return;
    }
    assert(b->entry_count == 0 || b->entries != NULL);
    for (uint32_t i = 0; i < b->entry_count; i++) {
        free(b->entries[i].record);
        free(b->entries[i].head);
    }
    /* The arrays stay: the next additions realloc them to the size they
     * need, which glibc does in place when the block is large enough. */
    b->entry_count = 0;
    b->block_count = 0;
}

void ct_bundle_clear(ct_bundle *b) {
    if (b == NULL) {
        return;
    }
    ct_bundle_reset(b);
    free(b->entries);
    free(b->blocks);
    b->entries = NULL;
    b->blocks = NULL;
}

/* Copies a certificate's signatures in use only: the struct has room for
 * HM_VALIDATORS_MAX of them (8.7 KB), a network of four fills 3 or 4, and
 * a consumer lookup adds a block or two to its bundle. Everything that reads
 * a certificate stops at count. */
static void cert_copy(hm_cert *dst, const hm_cert *src) {
    assert(src->count <= HM_VALIDATORS_MAX);
    dst->height = src->height;
    dst->round = src->round;
    memcpy(dst->block_id, src->block_id, HM_HASH_LEN);
    dst->count = src->count;
    memcpy(dst->sigs, src->sigs, src->count * sizeof src->sigs[0]);
}

hm_err ct_bundle_add_block(ct_bundle *b, const hm_block_header *header, const hm_cert *cert,
                           uint32_t *index) {
    if (b == NULL || header == NULL || cert == NULL || index == NULL) {
        return HM_ERR_ARG;
    }
    if (cert->count > HM_VALIDATORS_MAX) {
        return HM_ERR_BAD_VALUE;
    }
    uint32_t pos = 0;
    while (pos < b->block_count && b->blocks[pos].header.height < header->height) {
        pos++;
    }
    if (pos < b->block_count && b->blocks[pos].header.height == header->height) {
        uint8_t a[HM_HASH_LEN], c[HM_HASH_LEN];
        if (hm_block_header_hash(header, a) != HM_OK ||
            hm_block_header_hash(&b->blocks[pos].header, c) != HM_OK || memcmp(a, c, 32) != 0) {
            return HM_ERR_BAD_VALUE;
        }
        *index = pos;
        return HM_OK;
    }
    if (b->block_count >= CT_BUNDLE_BLOCKS_MAX) {
        return HM_ERR_FULL;
    }
    ct_bundle_block *grown = realloc(b->blocks, (b->block_count + 1) * sizeof *grown);
    if (grown == NULL) {
        return HM_ERR_NOMEM;
    }
    b->blocks = grown;
    memmove(&b->blocks[pos + 1], &b->blocks[pos], (b->block_count - pos) * sizeof *grown);
    b->blocks[pos].header = *header;
    cert_copy(&b->blocks[pos].cert, cert);
    b->block_count++;
    for (uint32_t i = 0; i < b->entry_count; i++) {
        if (b->entries[i].block >= pos) {
            b->entries[i].block++;
        }
    }
    *index = pos;
    return HM_OK;
}

hm_err ct_bundle_path_bits(uint64_t index, uint64_t tree_size, size_t proof_len,
                           uint64_t *left_bits) {
    if (left_bits == NULL || index >= tree_size || proof_len > HM_MERKLE_PROOF_MAX) {
        return HM_ERR_PROOF;
    }
    /* RFC 9162 2.1.3.2, recording which side each sibling is on. */
    uint64_t fn = index, sn = tree_size - 1, bits = 0;
    for (size_t i = 0; i < proof_len; i++) {
        if (sn == 0) {
            return HM_ERR_PROOF;
        }
        if ((fn & 1u) || fn == sn) {
            bits |= (uint64_t)1 << i;
            while ((fn & 1u) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) {
        return HM_ERR_PROOF;
    }
    *left_bits = bits;
    return HM_OK;
}

hm_err ct_bundle_add_entry(ct_bundle *b, uint8_t kind, const uint8_t *tx, size_t tx_len,
                           const uint8_t *record, size_t record_len, uint64_t record_index,
                           const uint8_t (*record_path)[HM_HASH_LEN], size_t record_path_len,
                           uint32_t block_index, uint64_t tx_index, uint64_t tx_tree_size,
                           const uint8_t (*tx_path)[HM_HASH_LEN], size_t tx_path_len) {
    if (b == NULL || tx == NULL || (tx_path == NULL && tx_path_len > 0) ||
        block_index >= b->block_count || tx_path_len > HM_MERKLE_PROOF_MAX) {
        return HM_ERR_ARG;
    }
    if (kind == CT_BUNDLE_RECORD) {
        if (record == NULL || record_len > CT_RECORD_MAX || record_path_len > HM_MERKLE_PROOF_MAX ||
            (record_path == NULL && record_path_len)) {
            return HM_ERR_ARG;
        }
    } else if (kind != CT_BUNDLE_TX || record != NULL || record_path_len != 0) {
        return HM_ERR_ARG;
    }
    if (b->entry_count >= CT_BUNDLE_ENTRIES_MAX) {
        return HM_ERR_FULL;
    }
    size_t hs_len = 0;
    hm_err err = head_sig_len(tx, tx_len, &hs_len);
    if (err != HM_OK) {
        return err;
    }
    uint64_t bits;
    err = ct_bundle_path_bits(tx_index, tx_tree_size, tx_path_len, &bits);
    if (err != HM_OK) {
        return err;
    }
    ct_bundle_entry *grown = realloc(b->entries, (b->entry_count + 1) * sizeof *grown);
    if (grown == NULL) {
        return HM_ERR_NOMEM;
    }
    b->entries = grown;
    ct_bundle_entry *e = &b->entries[b->entry_count];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->head_len = hs_len - HM_SIG_LEN;
    e->head = malloc(e->head_len > 0 ? e->head_len : 1);
    if (kind == CT_BUNDLE_RECORD) {
        e->record = malloc(record_len > 0 ? record_len : 1);
    }
    if (e->head == NULL || (kind == CT_BUNDLE_RECORD && e->record == NULL)) {
        free(e->head);
        free(e->record);
        return HM_ERR_NOMEM;
    }
    memcpy(e->head, tx, e->head_len);
    memcpy(e->sig.bytes, tx + e->head_len, HM_SIG_LEN);
    if (kind == CT_BUNDLE_RECORD) {
        memcpy(e->record, record, record_len);
        e->record_len = record_len;
        e->record_index = record_index;
        e->record_path_len = (uint32_t)record_path_len;
        if (record_path_len > 0) {
            memcpy(e->record_path, record_path, record_path_len * HM_HASH_LEN);
        }
    }
    e->block = block_index;
    e->tx_path_left = bits;
    e->tx_path_len = (uint32_t)tx_path_len;
    if (tx_path_len > 0) {
        memcpy(e->tx_path, tx_path, tx_path_len * HM_HASH_LEN);
    }
    b->entry_count++;
    return HM_OK;
}

/* ------------------------------------------------------------ encoding */

static void put_path(hm_writer *w, const uint8_t (*path)[HM_HASH_LEN], uint32_t len) {
    hm_put_varint(w, len);
    for (uint32_t i = 0; i < len; i++) {
        hm_put_raw(w, path[i], HM_HASH_LEN);
    }
}

hm_err ct_bundle_encode(const ct_bundle *b, hm_writer *w) {
    if (b == NULL || w == NULL) {
        return HM_ERR_ARG;
    }
    if (b->block_count == 0 || b->entry_count == 0) {
        hm_writer_fail(w, HM_ERR_ARG);
        return HM_ERR_ARG;
    }
    hm_put_raw(w, (const uint8_t *)CT_BUNDLE_MAGIC, 4);
    hm_put_u8(w, CT_BUNDLE_VERSION);
    hm_put_str(w, b->chain_id, HM_CHAIN_ID_MAX);
    hm_put_varint(w, b->vset.count);
    for (uint32_t i = 0; i < b->vset.count; i++) {
        hm_put_raw(w, b->vset.keys[i].bytes, HM_PUBKEY_LEN);
    }
    hm_put_varint(w, b->block_count);
    for (uint32_t i = 0; i < b->block_count; i++) {
        if (hm_block_header_encode(&b->blocks[i].header, w) != HM_OK ||
            hm_cert_encode(&b->blocks[i].cert, w) != HM_OK) {
            return hm_writer_error(w);
        }
    }
    hm_put_varint(w, b->entry_count);
    for (uint32_t i = 0; i < b->entry_count; i++) {
        const ct_bundle_entry *e = &b->entries[i];
        hm_put_u8(w, e->kind);
        if (e->kind == CT_BUNDLE_RECORD) {
            hm_put_bytes(w, e->record, e->record_len, CT_RECORD_MAX);
            hm_put_varint(w, e->record_index);
            put_path(w, (const uint8_t(*)[HM_HASH_LEN])e->record_path, e->record_path_len);
        }
        hm_put_bytes(w, e->head, e->head_len, CT_TX_HEAD_MAX);
        hm_put_raw(w, e->sig.bytes, HM_SIG_LEN);
        hm_put_varint(w, e->block);
        put_path(w, (const uint8_t(*)[HM_HASH_LEN])e->tx_path, e->tx_path_len);
        hm_put_varint(w, e->tx_path_left);
    }
    return hm_writer_error(w);
}

static uint32_t get_path(hm_reader *r, uint8_t (*path)[HM_HASH_LEN]) {
    uint32_t len = (uint32_t)hm_get_varint(r, HM_MERKLE_PROOF_MAX);
    for (uint32_t i = 0; i < len && hm_reader_error(r) == HM_OK; i++) {
        hm_get_raw(r, path[i], HM_HASH_LEN);
    }
    return len;
}

/* Structural rules shared by the binary and JSON decoders. */
static hm_err bundle_check_form(const ct_bundle *b) {
    for (uint32_t i = 1; i < b->block_count; i++) {
        if (b->blocks[i].header.height <= b->blocks[i - 1].header.height) {
            return HM_ERR_BAD_VALUE;
        }
    }
    for (uint32_t i = 0; i < b->entry_count; i++) {
        const ct_bundle_entry *e = &b->entries[i];
        if (e->block >= b->block_count) {
            return HM_ERR_BAD_VALUE;
        }
        /* Bits past the path would change nothing: refuse them so that
         * each bundle has one encoding. */
        if (e->tx_path_len < 64 && (e->tx_path_left >> e->tx_path_len) != 0) {
            return HM_ERR_NONMINIMAL;
        }
    }
    /* Every block is used by some entry. */
    for (uint32_t k = 0; k < b->block_count; k++) {
        bool used = false;
        for (uint32_t i = 0; i < b->entry_count && !used; i++) {
            used = b->entries[i].block == k;
        }
        if (!used) {
            return HM_ERR_BAD_VALUE;
        }
    }
    return HM_OK;
}

static hm_err bundle_alloc(ct_bundle *b, uint32_t blocks, uint32_t entries) {
    b->blocks = calloc(blocks, sizeof *b->blocks);
    b->entries = calloc(entries, sizeof *b->entries);
    if (b->blocks == NULL || b->entries == NULL) {
        free(b->blocks);
        free(b->entries);
        b->blocks = NULL;
        b->entries = NULL;
        return HM_ERR_NOMEM;
    }
    return HM_OK;
}

hm_err ct_bundle_decode(const uint8_t *data, size_t data_len, ct_bundle *out) {
    if (data == NULL || out == NULL) {
        return HM_ERR_ARG;
    }
    if (data_len > CT_BUNDLE_ENCODED_MAX) {
        return HM_ERR_TOO_LONG;
    }
    ct_bundle b;
    memset(&b, 0, sizeof b);
    hm_reader r;
    hm_reader_init(&r, data, data_len);
    uint8_t magic[4];
    hm_get_raw(&r, magic, 4);
    uint8_t version = hm_get_u8(&r);
    if (hm_reader_error(&r) == HM_OK &&
        (memcmp(magic, CT_BUNDLE_MAGIC, 4) != 0 || version != CT_BUNDLE_VERSION)) {
        hm_reader_fail(&r, HM_ERR_UNKNOWN_TYPE);
    }
    hm_get_str(&r, b.chain_id, sizeof b.chain_id, HM_CHAIN_ID_MAX);
    if (hm_reader_error(&r) == HM_OK && b.chain_id[0] == '\0') {
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    }
    b.vset.count = (uint32_t)hm_get_varint(&r, HM_VALIDATORS_MAX);
    if (hm_reader_error(&r) == HM_OK && b.vset.count == 0) {
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    }
    for (uint32_t i = 0; i < b.vset.count && hm_reader_error(&r) == HM_OK; i++) {
        hm_get_raw(&r, b.vset.keys[i].bytes, HM_PUBKEY_LEN);
    }
    uint32_t block_count = (uint32_t)hm_get_varint(&r, CT_BUNDLE_BLOCKS_MAX);
    if (hm_reader_error(&r) == HM_OK && block_count == 0) {
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    }
    if (hm_reader_error(&r) != HM_OK) {
        return hm_reader_error(&r);
    }
    /* Blocks first into a temporary array: the entry count comes after. */
    b.blocks = calloc(block_count, sizeof *b.blocks);
    if (b.blocks == NULL) {
        return HM_ERR_NOMEM;
    }
    b.block_count = block_count;
    for (uint32_t i = 0; i < block_count && hm_reader_error(&r) == HM_OK; i++) {
        /* Both decoders keep their error in r (sticky), checked below. */
        if (hm_block_header_decode(&r, &b.blocks[i].header) != HM_OK ||
            hm_cert_decode(&r, &b.blocks[i].cert) != HM_OK) {
            break;
        }
    }
    uint32_t entry_count = (uint32_t)hm_get_varint(&r, CT_BUNDLE_ENTRIES_MAX);
    if (hm_reader_error(&r) == HM_OK && entry_count == 0) {
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    }
    if (hm_reader_error(&r) == HM_OK) {
        b.entries = calloc(entry_count, sizeof *b.entries);
        if (b.entries == NULL) {
            ct_bundle_clear(&b);
            return HM_ERR_NOMEM;
        }
    }
    for (uint32_t i = 0; i < entry_count && hm_reader_error(&r) == HM_OK; i++) {
        ct_bundle_entry *e = &b.entries[i];
        b.entry_count = i + 1;
        e->kind = hm_get_u8(&r);
        if (hm_reader_error(&r) == HM_OK && e->kind != CT_BUNDLE_RECORD &&
            e->kind != CT_BUNDLE_TX) {
            hm_reader_fail(&r, HM_ERR_UNKNOWN_TYPE);
        }
        if (e->kind == CT_BUNDLE_RECORD) {
            const uint8_t *rec = hm_get_bytes(&r, CT_RECORD_MAX, &e->record_len);
            if (rec != NULL) {
                e->record = malloc(e->record_len > 0 ? e->record_len : 1);
                if (e->record == NULL) {
                    hm_reader_fail(&r, HM_ERR_NOMEM);
                } else {
                    memcpy(e->record, rec, e->record_len);
                }
            }
            e->record_index = hm_get_varint(&r, CT_BATCH_RECORDS_MAX - 1);
            e->record_path_len = get_path(&r, e->record_path);
        }
        const uint8_t *head = hm_get_bytes(&r, CT_TX_HEAD_MAX, &e->head_len);
        if (head != NULL) {
            e->head = malloc(e->head_len > 0 ? e->head_len : 1);
            if (e->head == NULL) {
                hm_reader_fail(&r, HM_ERR_NOMEM);
            } else {
                memcpy(e->head, head, e->head_len);
            }
        }
        hm_get_raw(&r, e->sig.bytes, HM_SIG_LEN);
        e->block = (uint32_t)hm_get_varint(&r, CT_BUNDLE_BLOCKS_MAX - 1);
        e->tx_path_len = get_path(&r, e->tx_path);
        e->tx_path_left = hm_get_varint(&r, UINT64_MAX);
    }
    hm_err err = hm_reader_finish(&r);
    if (err == HM_OK) {
        err = bundle_check_form(&b);
    }
    if (err != HM_OK) {
        ct_bundle_clear(&b);
        return err;
    }
    *out = b;
    return HM_OK;
}

/* ---------------------------------------------------------------- JSON */

static json_t *hex_json(const uint8_t *data, size_t len) {
    char *text = malloc(2 * len + 1);
    if (text == NULL) {
        return NULL;
    }
    hm_hex_encode(data, len, text);
    json_t *j = json_string(text);
    free(text);
    return j;
}

static json_t *path_json(const uint8_t (*path)[HM_HASH_LEN], uint32_t len) {
    json_t *a = json_array();
    for (uint32_t i = 0; a != NULL && i < len; i++) {
        if (json_array_append_new(a, hex_json(path[i], HM_HASH_LEN)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *header_json(const hm_block_header *h) {
    return json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "chain_id", h->chain_id, "height",
                     (json_int_t)h->height, "time_ms", (json_int_t)h->time_ms, "prev_block_hash",
                     hex_json(h->prev_block_hash, HM_HASH_LEN), "tx_root",
                     hex_json(h->tx_root, HM_HASH_LEN), "state_root",
                     hex_json(h->state_root, HM_HASH_LEN), "validator_set_hash",
                     hex_json(h->validator_set_hash, HM_HASH_LEN), "proposer",
                     hex_json(h->proposer.bytes, HM_PUBKEY_LEN));
}

static json_t *cert_json(const hm_cert *c) {
    json_t *sigs = json_array();
    for (uint32_t i = 0; sigs != NULL && i < c->count; i++) {
        json_t *s =
            json_pack("{s:I, s:o}", "validator_index", (json_int_t)c->sigs[i].validator_index,
                      "sig", hex_json(c->sigs[i].sig.bytes, HM_SIG_LEN));
        if (json_array_append_new(sigs, s) != 0) {
            json_decref(sigs);
            return NULL;
        }
    }
    return json_pack("{s:I, s:I, s:o, s:o}", "height", (json_int_t)c->height, "round",
                     (json_int_t)c->round, "block_id", hex_json(c->block_id, HM_HASH_LEN),
                     "signatures", sigs);
}

/* JSON numbers here are 0..2^63-1 (what jansson reads back); a bundle with
 * a larger integer (it could not verify: no chain is that long) has no JSON
 * form. A block's integers first, then the whole bundle's. */
static bool block_representable(const hm_block_header *h, const hm_cert *c) {
    const uint64_t max = (uint64_t)INT64_MAX;
    return h->height <= max && h->time_ms <= max && c->height <= max;
}

static bool json_representable(const ct_bundle *b) {
    const uint64_t max = (uint64_t)INT64_MAX;
    for (uint32_t i = 0; i < b->block_count; i++) {
        if (!block_representable(&b->blocks[i].header, &b->blocks[i].cert)) {
            return false;
        }
    }
    for (uint32_t i = 0; i < b->entry_count; i++) {
        if (b->entries[i].tx_path_left > max) {
            return false;
        }
    }
    return true;
}

json_t *ct_bundle_to_json(const ct_bundle *b) {
    if (b == NULL || !json_representable(b)) {
        return NULL;
    }
    json_t *vals = json_array();
    for (uint32_t i = 0; vals != NULL && i < b->vset.count; i++) {
        if (json_array_append_new(vals, hex_json(b->vset.keys[i].bytes, HM_PUBKEY_LEN)) != 0) {
            json_decref(vals);
            vals = NULL;
        }
    }
    json_t *blocks = json_array();
    for (uint32_t i = 0; blocks != NULL && i < b->block_count; i++) {
        json_t *blk = json_pack("{s:o, s:o}", "header", header_json(&b->blocks[i].header),
                                "certificate", cert_json(&b->blocks[i].cert));
        if (json_array_append_new(blocks, blk) != 0) {
            json_decref(blocks);
            blocks = NULL;
        }
    }
    json_t *entries = json_array();
    for (uint32_t i = 0; entries != NULL && i < b->entry_count; i++) {
        const ct_bundle_entry *e = &b->entries[i];
        json_t *j = json_pack(
            "{s:s, s:o, s:o, s:I, s:o, s:I}", "kind", e->kind == CT_BUNDLE_RECORD ? "record" : "tx",
            "tx_head", hex_json(e->head, e->head_len), "tx_sig", hex_json(e->sig.bytes, HM_SIG_LEN),
            "block", (json_int_t)e->block, "tx_path",
            path_json((const uint8_t(*)[HM_HASH_LEN])e->tx_path, e->tx_path_len), "tx_path_left",
            (json_int_t)e->tx_path_left);
        if (j != NULL && e->kind == CT_BUNDLE_RECORD) {
            json_object_set_new(j, "record", hex_json(e->record, e->record_len));
            json_object_set_new(j, "record_index", json_integer((json_int_t)e->record_index));
            json_object_set_new(
                j, "record_path",
                path_json((const uint8_t(*)[HM_HASH_LEN])e->record_path, e->record_path_len));
        }
        if (json_array_append_new(entries, j) != 0) {
            json_decref(entries);
            entries = NULL;
        }
    }
    /* tx_path_left above 2^53 cannot be a JSON number safely; paths that
     * long (> 53 levels) do not occur in blocks of at most 2^32 txs. */
    return json_pack("{s:s, s:i, s:s, s:o, s:o, s:o}", "format", "hallmark-proof-bundle", "version",
                     CT_BUNDLE_VERSION, "chain_id", b->chain_id, "validators", vals, "blocks",
                     blocks, "entries", entries);
}

/* The same JSON as ct_bundle_to_json + json_dumps(JSON_COMPACT), written
 * directly: the node renders one per lookup, and building a jansson tree of
 * a few hundred small strings costs more than the rest of the page. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} text_buf;

/* Room for n more bytes and the NUL after them: where they go, or NULL
 * (t->failed) when out of memory. */
static char *tb_room(text_buf *t, size_t n) {
    if (t->failed) {
        return NULL;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *grown = realloc(t->buf, cap);
        if (grown == NULL) {
            t->failed = true;
            return NULL;
        }
        t->buf = grown;
        t->cap = cap;
    }
    return t->buf + t->len;
}

static void tb_add(text_buf *t, const char *s, size_t n) {
    char *p = tb_room(t, n);
    if (p == NULL) {
        return;
    }
    memcpy(p, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void tb_str(text_buf *t, const char *s) {
    tb_add(t, s, strlen(s));
}

static void tb_u64(text_buf *t, uint64_t v) {
    char num[20];
    tb_add(t, num, hm_u64_decimal(v, num));
}

/* key then "hex": the hex written in place (most of a bundle is hex). */
static void tb_hex(text_buf *t, const char *key, const uint8_t *data, size_t len) {
    size_t key_len = strlen(key);
    char *p = tb_room(t, key_len + 2 * len + 2);
    if (p == NULL) {
        return;
    }
    memcpy(p, key, key_len);
    p[key_len] = '"';
    hm_hex_encode(data, len, p + key_len + 1); /* writes a NUL, overwritten next */
    p[key_len + 1 + 2 * len] = '"';
    t->len += key_len + 2 * len + 2;
    t->buf[t->len] = '\0';
}

static void tb_path(text_buf *t, const char *key, const uint8_t (*path)[HM_HASH_LEN],
                    uint32_t len) {
    tb_str(t, key);
    tb_str(t, "[");
    for (uint32_t i = 0; i < len; i++) {
        tb_hex(t, i == 0 ? "" : ",", path[i], HM_HASH_LEN);
    }
    tb_str(t, "]");
}

/* JSON string of text that needs escaping at most for '"', '\\' and
 * control bytes (chain ids are printable by construction, but a decoded
 * bundle's are not trusted). */
static void tb_json_string(text_buf *t, const char *text) {
    tb_str(t, "\"");
    for (const char *p = text; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            tb_add(t, esc, 2);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            tb_add(t, esc, 6);
        } else {
            tb_add(t, p, 1);
        }
    }
    tb_str(t, "\"");
}

/* The opening of the text up to the first block: format, version, chain
 * id and validator set, then `"blocks":[`. */
static void tb_head(text_buf *t, const char *chain_id, const hm_validator_set *vs) {
    tb_str(t, "{\"format\":\"hallmark-proof-bundle\",\"version\":");
    tb_u64(t, CT_BUNDLE_VERSION);
    tb_str(t, ",\"chain_id\":");
    tb_json_string(t, chain_id);
    tb_str(t, ",\"validators\":[");
    for (uint32_t i = 0; i < vs->count && i < HM_VALIDATORS_MAX; i++) {
        tb_hex(t, i == 0 ? "" : ",", vs->keys[i].bytes, HM_PUBKEY_LEN);
    }
    tb_str(t, "],\"blocks\":[");
}

/* One element of "blocks": {"header":{..},"certificate":{..}}. */
static void tb_block(text_buf *t, const hm_block_header *h, const hm_cert *c) {
    tb_str(t, "{\"header\":{\"chain_id\":");
    tb_json_string(t, h->chain_id);
    tb_str(t, ",\"height\":");
    tb_u64(t, h->height);
    tb_str(t, ",\"time_ms\":");
    tb_u64(t, h->time_ms);
    tb_hex(t, ",\"prev_block_hash\":", h->prev_block_hash, HM_HASH_LEN);
    tb_hex(t, ",\"tx_root\":", h->tx_root, HM_HASH_LEN);
    tb_hex(t, ",\"state_root\":", h->state_root, HM_HASH_LEN);
    tb_hex(t, ",\"validator_set_hash\":", h->validator_set_hash, HM_HASH_LEN);
    tb_hex(t, ",\"proposer\":", h->proposer.bytes, HM_PUBKEY_LEN);
    tb_str(t, "},\"certificate\":{\"height\":");
    tb_u64(t, c->height);
    tb_str(t, ",\"round\":");
    tb_u64(t, c->round);
    tb_hex(t, ",\"block_id\":", c->block_id, HM_HASH_LEN);
    tb_str(t, ",\"signatures\":[");
    for (uint32_t k = 0; k < c->count && k < HM_VALIDATORS_MAX; k++) {
        tb_str(t, k == 0 ? "{\"validator_index\":" : ",{\"validator_index\":");
        tb_u64(t, c->sigs[k].validator_index);
        tb_hex(t, ",\"sig\":", c->sigs[k].sig.bytes, HM_SIG_LEN);
        tb_str(t, "}");
    }
    tb_str(t, "]}}");
}

static hm_err tb_finish(text_buf *t, char **out, size_t *out_len) {
    if (t->failed || t->buf == NULL) {
        free(t->buf);
        return HM_ERR_NOMEM;
    }
    *out = t->buf;
    *out_len = t->len;
    return HM_OK;
}

hm_err ct_bundle_json_head_text(const char *chain_id, const hm_validator_set *vs, char **out,
                                size_t *out_len) {
    if (chain_id == NULL || vs == NULL || out == NULL || out_len == NULL) {
        return HM_ERR_ARG;
    }
    text_buf t = {0};
    tb_head(&t, chain_id, vs);
    return tb_finish(&t, out, out_len);
}

hm_err ct_bundle_json_block_text(const hm_block_header *h, const hm_cert *c, char **out,
                                 size_t *out_len) {
    if (h == NULL || c == NULL || out == NULL || out_len == NULL) {
        return HM_ERR_ARG;
    }
    if (!block_representable(h, c)) {
        return HM_ERR_OVERFLOW;
    }
    text_buf t = {0};
    tb_block(&t, h, c);
    return tb_finish(&t, out, out_len);
}

hm_err ct_bundle_to_json_text_pieces(const ct_bundle *b, const ct_bundle_json_piece *head,
                                     const ct_bundle_json_piece *blocks, char **out,
                                     size_t *out_len) {
    if (b == NULL || out == NULL || out_len == NULL) {
        return HM_ERR_ARG;
    }
    if (!json_representable(b)) {
        return HM_ERR_OVERFLOW;
    }
    text_buf t = {0};
    if (head != NULL && head->text != NULL) {
        tb_add(&t, head->text, head->len);
    } else {
        tb_head(&t, b->chain_id, &b->vset);
    }
    for (uint32_t i = 0; i < b->block_count; i++) {
        if (i > 0) {
            tb_str(&t, ",");
        }
        if (blocks != NULL && blocks[i].text != NULL) {
            tb_add(&t, blocks[i].text, blocks[i].len);
        } else {
            tb_block(&t, &b->blocks[i].header, &b->blocks[i].cert);
        }
    }
    tb_str(&t, "],\"entries\":[");
    for (uint32_t i = 0; i < b->entry_count; i++) {
        const ct_bundle_entry *e = &b->entries[i];
        tb_str(&t, i == 0 ? "{\"kind\":" : ",{\"kind\":");
        tb_str(&t, e->kind == CT_BUNDLE_RECORD ? "\"record\"" : "\"tx\"");
        tb_hex(&t, ",\"tx_head\":", e->head, e->head_len);
        tb_hex(&t, ",\"tx_sig\":", e->sig.bytes, HM_SIG_LEN);
        tb_str(&t, ",\"block\":");
        tb_u64(&t, e->block);
        tb_path(&t, ",\"tx_path\":", (const uint8_t(*)[HM_HASH_LEN])e->tx_path, e->tx_path_len);
        tb_str(&t, ",\"tx_path_left\":");
        tb_u64(&t, e->tx_path_left);
        if (e->kind == CT_BUNDLE_RECORD) {
            tb_hex(&t, ",\"record\":", e->record, e->record_len);
            tb_str(&t, ",\"record_index\":");
            tb_u64(&t, e->record_index);
            tb_path(&t, ",\"record_path\":", (const uint8_t(*)[HM_HASH_LEN])e->record_path,
                    e->record_path_len);
        }
        tb_str(&t, "}");
    }
    tb_str(&t, "]}");
    return tb_finish(&t, out, out_len);
}

hm_err ct_bundle_to_json_text(const ct_bundle *b, char **out, size_t *out_len) {
    return ct_bundle_to_json_text_pieces(b, NULL, NULL, out, out_len);
}

static bool json_hex(const json_t *j, uint8_t *out, size_t len) {
    const char *text = json_string_value(j);
    return text != NULL && hm_hex_decode(text, out, len) == HM_OK;
}

static bool json_u64(const json_t *j, uint64_t max, uint64_t *out) {
    if (!json_is_integer(j) || json_integer_value(j) < 0 || (uint64_t)json_integer_value(j) > max) {
        return false;
    }
    *out = (uint64_t)json_integer_value(j);
    return true;
}

/* Hex text into a malloc'd buffer of at most max bytes. */
static bool json_hex_alloc(const json_t *j, size_t max, uint8_t **out, size_t *len) {
    const char *text = json_string_value(j);
    if (text == NULL) {
        return false;
    }
    size_t digits = strlen(text);
    if (digits % 2 != 0 || digits / 2 > max) {
        return false;
    }
    uint8_t *buf = malloc(digits / 2 > 0 ? digits / 2 : 1);
    if (buf == NULL) {
        return false;
    }
    size_t got;
    if (hm_hex_decode_any(text, buf, digits / 2, &got) != HM_OK || got != digits / 2) {
        free(buf);
        return false;
    }
    *out = buf;
    *len = got;
    return true;
}

static bool json_path(const json_t *j, uint8_t (*path)[HM_HASH_LEN], uint32_t *len) {
    if (!json_is_array(j) || json_array_size(j) > HM_MERKLE_PROOF_MAX) {
        return false;
    }
    for (size_t i = 0; i < json_array_size(j); i++) {
        if (!json_hex(json_array_get(j, i), path[i], HM_HASH_LEN)) {
            return false;
        }
    }
    *len = (uint32_t)json_array_size(j);
    return true;
}

static bool header_from_json(const json_t *j, hm_block_header *h) {
    memset(h, 0, sizeof *h);
    const char *chain = json_string_value(json_object_get(j, "chain_id"));
    uint64_t height, time_ms;
    if (chain == NULL || strlen(chain) == 0 || strlen(chain) > HM_CHAIN_ID_MAX ||
        !json_u64(json_object_get(j, "height"), UINT64_MAX, &height) ||
        !json_u64(json_object_get(j, "time_ms"), UINT64_MAX, &time_ms)) {
        return false;
    }
    memcpy(h->chain_id, chain, strlen(chain) + 1);
    h->height = height;
    h->time_ms = time_ms;
    return json_hex(json_object_get(j, "prev_block_hash"), h->prev_block_hash, HM_HASH_LEN) &&
           json_hex(json_object_get(j, "tx_root"), h->tx_root, HM_HASH_LEN) &&
           json_hex(json_object_get(j, "state_root"), h->state_root, HM_HASH_LEN) &&
           json_hex(json_object_get(j, "validator_set_hash"), h->validator_set_hash, HM_HASH_LEN) &&
           json_hex(json_object_get(j, "proposer"), h->proposer.bytes, HM_PUBKEY_LEN);
}

static bool cert_from_json(const json_t *j, hm_cert *c) {
    memset(c, 0, sizeof *c);
    uint64_t height, round;
    const json_t *sigs = json_object_get(j, "signatures");
    if (!json_u64(json_object_get(j, "height"), UINT64_MAX, &height) ||
        !json_u64(json_object_get(j, "round"), UINT32_MAX, &round) ||
        !json_hex(json_object_get(j, "block_id"), c->block_id, HM_HASH_LEN) ||
        !json_is_array(sigs) || json_array_size(sigs) > HM_VALIDATORS_MAX) {
        return false;
    }
    c->height = height;
    c->round = (uint32_t)round;
    c->count = (uint32_t)json_array_size(sigs);
    for (uint32_t i = 0; i < c->count; i++) {
        const json_t *s = json_array_get(sigs, i);
        uint64_t index;
        if (!json_u64(json_object_get(s, "validator_index"), HM_VALIDATORS_MAX - 1, &index) ||
            !json_hex(json_object_get(s, "sig"), c->sigs[i].sig.bytes, HM_SIG_LEN)) {
            return false;
        }
        c->sigs[i].validator_index = (uint32_t)index;
    }
    return true;
}

hm_err ct_bundle_from_json(const json_t *j, ct_bundle *out, const char **reason) {
    const char *sink;
    if (reason == NULL) {
        reason = &sink;
    }
    if (j == NULL || out == NULL) {
        return HM_ERR_ARG;
    }
    const char *format = json_string_value(json_object_get(j, "format"));
    const char *chain = json_string_value(json_object_get(j, "chain_id"));
    const json_t *vals = json_object_get(j, "validators");
    const json_t *blocks = json_object_get(j, "blocks");
    const json_t *entries = json_object_get(j, "entries");
    if (format == NULL || strcmp(format, "hallmark-proof-bundle") != 0 ||
        json_integer_value(json_object_get(j, "version")) != CT_BUNDLE_VERSION) {
        *reason = "not a hallmark-proof-bundle of version 1";
        return HM_ERR_UNKNOWN_TYPE;
    }
    if (chain == NULL || strlen(chain) == 0 || strlen(chain) > HM_CHAIN_ID_MAX) {
        *reason = "chain_id missing or too long";
        return HM_ERR_BAD_VALUE;
    }
    if (!json_is_array(vals) || json_array_size(vals) == 0 ||
        json_array_size(vals) > HM_VALIDATORS_MAX || !json_is_array(blocks) ||
        json_array_size(blocks) == 0 || json_array_size(blocks) > CT_BUNDLE_BLOCKS_MAX ||
        !json_is_array(entries) || json_array_size(entries) == 0 ||
        json_array_size(entries) > CT_BUNDLE_ENTRIES_MAX) {
        *reason = "validators, blocks and entries must be non-empty arrays within their limits";
        return HM_ERR_BAD_VALUE;
    }
    ct_bundle b;
    memset(&b, 0, sizeof b);
    memcpy(b.chain_id, chain, strlen(chain) + 1);
    b.vset.count = (uint32_t)json_array_size(vals);
    for (uint32_t i = 0; i < b.vset.count; i++) {
        if (!json_hex(json_array_get(vals, i), b.vset.keys[i].bytes, HM_PUBKEY_LEN)) {
            *reason = "a validator key is not 64 hex digits";
            return HM_ERR_HEX;
        }
    }
    if (bundle_alloc(&b, (uint32_t)json_array_size(blocks), (uint32_t)json_array_size(entries)) !=
        HM_OK) {
        return HM_ERR_NOMEM;
    }
    b.block_count = (uint32_t)json_array_size(blocks);
    for (uint32_t i = 0; i < b.block_count; i++) {
        const json_t *blk = json_array_get(blocks, i);
        if (!header_from_json(json_object_get(blk, "header"), &b.blocks[i].header) ||
            !cert_from_json(json_object_get(blk, "certificate"), &b.blocks[i].cert)) {
            *reason = "a block header or certificate is malformed";
            ct_bundle_clear(&b);
            return HM_ERR_BAD_VALUE;
        }
    }
    for (uint32_t i = 0; i < (uint32_t)json_array_size(entries); i++) {
        const json_t *je = json_array_get(entries, i);
        ct_bundle_entry *e = &b.entries[i];
        b.entry_count = i + 1;
        const char *kind = json_string_value(json_object_get(je, "kind"));
        uint64_t block, left;
        bool ok = kind != NULL && (strcmp(kind, "record") == 0 || strcmp(kind, "tx") == 0);
        if (ok) {
            e->kind = strcmp(kind, "record") == 0 ? CT_BUNDLE_RECORD : CT_BUNDLE_TX;
        }
        if (ok && e->kind == CT_BUNDLE_RECORD) {
            ok = json_hex_alloc(json_object_get(je, "record"), CT_RECORD_MAX, &e->record,
                                &e->record_len) &&
                 json_u64(json_object_get(je, "record_index"), CT_BATCH_RECORDS_MAX - 1,
                          &e->record_index) &&
                 json_path(json_object_get(je, "record_path"), e->record_path, &e->record_path_len);
        }
        ok = ok &&
             json_hex_alloc(json_object_get(je, "tx_head"), CT_TX_HEAD_MAX, &e->head,
                            &e->head_len) &&
             json_hex(json_object_get(je, "tx_sig"), e->sig.bytes, HM_SIG_LEN) &&
             json_u64(json_object_get(je, "block"), CT_BUNDLE_BLOCKS_MAX - 1, &block) &&
             json_path(json_object_get(je, "tx_path"), e->tx_path, &e->tx_path_len) &&
             json_u64(json_object_get(je, "tx_path_left"), UINT64_MAX, &left);
        if (!ok) {
            *reason = "an entry is malformed";
            ct_bundle_clear(&b);
            return HM_ERR_BAD_VALUE;
        }
        e->block = (uint32_t)block;
        e->tx_path_left = left;
    }
    hm_err err = bundle_check_form(&b);
    if (err != HM_OK) {
        *reason = "blocks out of height order, an unused block, a bad block reference, or "
                  "path bits beyond the path";
        ct_bundle_clear(&b);
        return err;
    }
    *out = b;
    return HM_OK;
}

/* -------------------------------------------------------- verification */

typedef struct {
    ct_bundle_report_fn fn;
    void *arg;
} reporter;

static hm_err report_step(const reporter *rp, const char *step, hm_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static hm_err report_step(const reporter *rp, const char *step, hm_err err, const char *fmt, ...) {
    if (rp->fn != NULL) {
        char detail[320];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        rp->fn(rp->arg, step, err == HM_OK, detail);
    }
    return err;
}

static void short_hex(const uint8_t *data, char out[17]) {
    hm_hex_encode(data, 8, out);
}

hm_err ct_bundle_verify(const ct_bundle *b, const char *chain_id,
                        const hm_validator_set *genesis_vset, ct_bundle_report_fn report,
                        void *arg) {
    if (b == NULL || chain_id == NULL || genesis_vset == NULL ||
        genesis_vset->count > HM_VALIDATORS_MAX) {
        return HM_ERR_ARG;
    }
    reporter rp = {report, arg};
    char hx[17];
    if (b->block_count == 0 || b->entry_count == 0 || bundle_check_form(b) != HM_OK) {
        return report_step(&rp, "form", HM_ERR_BAD_VALUE,
                           "the bundle has no block or entry, or refers to a missing block");
    }
    if (strcmp(b->chain_id, chain_id) != 0) {
        return report_step(&rp, "chain", HM_ERR_BAD_VALUE,
                           "the bundle is for chain \"%s\", the genesis file for \"%s\"",
                           b->chain_id, chain_id);
    }
    report_step(&rp, "chain", HM_OK, "chain id \"%s\" matches the genesis file", chain_id);
    if (b->vset.count != genesis_vset->count ||
        memcmp(b->vset.keys, genesis_vset->keys, b->vset.count * sizeof b->vset.keys[0]) != 0) {
        return report_step(&rp, "validators", HM_ERR_BAD_VALUE,
                           "the bundle's validator set is not the genesis validator set");
    }
    uint8_t vset_hash[HM_HASH_LEN];
    hm_validator_set_hash(genesis_vset, vset_hash);
    short_hex(vset_hash, hx);
    report_step(&rp, "validators", HM_OK,
                "validator set of %" PRIu32 " keys (hash %s…) is the genesis set, quorum %" PRIu32,
                genesis_vset->count, hx, hm_validator_set_quorum(genesis_vset));

    for (uint32_t i = 0; i < b->block_count; i++) {
        const ct_bundle_block *blk = &b->blocks[i];
        uint64_t h = blk->header.height;
        if (strcmp(blk->header.chain_id, chain_id) != 0) {
            return report_step(&rp, "header", HM_ERR_BAD_VALUE,
                               "block %" PRIu64 " names another chain", h);
        }
        if (memcmp(blk->header.validator_set_hash, vset_hash, HM_HASH_LEN) != 0) {
            return report_step(&rp, "header", HM_ERR_BAD_VALUE,
                               "block %" PRIu64 " commits to another validator set", h);
        }
        uint8_t block_id[HM_HASH_LEN];
        if (hm_block_header_hash(&blk->header, block_id) != HM_OK) {
            return report_step(&rp, "header", HM_ERR_BAD_VALUE,
                               "block %" PRIu64 " header does not encode", h);
        }
        short_hex(block_id, hx);
        if (memcmp(blk->cert.block_id, block_id, HM_HASH_LEN) != 0 || blk->cert.height != h) {
            return report_step(
                &rp, "certificate", HM_ERR_PROOF,
                "the certificate of block %" PRIu64 " is for another block than header %s…", h, hx);
        }
        hm_err err = hm_cert_verify(&blk->cert, chain_id, genesis_vset);
        if (err != HM_OK) {
            return report_step(&rp, "certificate", err == HM_ERR_BAD_SIG ? err : HM_ERR_PROOF,
                               "block %" PRIu64 " (%s…): %s", h, hx,
                               err == HM_ERR_BAD_SIG
                                   ? "a precommit signature does not verify"
                                   : "too few, repeated, unordered or unknown signers");
        }
        report_step(&rp, "certificate", HM_OK,
                    "block %" PRIu64 " (%s…) committed by %" PRIu32 " of %" PRIu32
                    " validators (quorum %" PRIu32 "), round %" PRIu32,
                    h, hx, blk->cert.count, genesis_vset->count,
                    hm_validator_set_quorum(genesis_vset), blk->cert.round);
    }

    for (uint32_t i = 0; i < b->entry_count; i++) {
        const ct_bundle_entry *e = &b->entries[i];
        uint8_t *hs = malloc(e->head_len + HM_SIG_LEN);
        if (hs == NULL) {
            return HM_ERR_NOMEM;
        }
        memcpy(hs, e->head, e->head_len);
        memcpy(hs + e->head_len, e->sig.bytes, HM_SIG_LEN);
        ct_tx tx;
        hm_err err = ct_tx_head_decode(hs, e->head_len + HM_SIG_LEN, &tx);
        if (err != HM_OK) {
            free(hs);
            return report_step(&rp, "tx", HM_ERR_BAD_VALUE,
                               "entry %" PRIu32 ": the tx head is malformed (%s)", i,
                               hm_err_name(err));
        }
        short_hex(tx.id, hx);
        if (bytes_zero(tx.signer.bytes, HM_PUBKEY_LEN)) {
            report_step(&rp, "tx", HM_OK,
                        "entry %" PRIu32 ": tx %s… of type %" PRIu32
                        " is keyless (its authority is a claim code)",
                        i, hx, tx.type);
        } else {
            err = hm_verify(&tx.signer, HM_PURPOSE_TX, chain_id, tx.head, tx.head_len, &tx.sig);
            if (err != HM_OK) {
                free(hs);
                return report_step(&rp, "tx", HM_ERR_BAD_SIG,
                                   "entry %" PRIu32 ": the signature of tx %s… does not verify", i,
                                   hx);
            }
            char signer[17];
            short_hex(tx.signer.bytes, signer);
            report_step(&rp, "tx", HM_OK,
                        "entry %" PRIu32 ": tx %s… of type %" PRIu32 " signed by %s…", i, hx,
                        tx.type, signer);
        }
        if (e->kind == CT_BUNDLE_RECORD) {
            if (!tx.has_records) {
                free(hs);
                return report_step(&rp, "record", HM_ERR_BAD_VALUE,
                                   "entry %" PRIu32 ": the tx carries no records", i);
            }
            uint8_t leaf[HM_HASH_LEN];
            hm_merkle_leaf_hash(e->record, e->record_len, leaf);
            err = hm_merkle_inclusion_verify(leaf, e->record_index, tx.record_count,
                                             (const uint8_t(*)[HM_HASH_LEN])e->record_path,
                                             e->record_path_len, tx.records_root);
            if (err != HM_OK) {
                free(hs);
                return report_step(&rp, "record", HM_ERR_PROOF,
                                   "entry %" PRIu32 ": record %" PRIu64 " of %" PRIu32
                                   " is not under the signed batch root",
                                   i, e->record_index, tx.record_count);
            }
            report_step(&rp, "record", HM_OK,
                        "entry %" PRIu32 ": record %" PRIu64 " of %" PRIu32
                        " is under the signed batch root (%" PRIu32 " hashes)",
                        i, e->record_index, tx.record_count, e->record_path_len);
        }
        uint8_t r[HM_HASH_LEN];
        hm_merkle_leaf_hash(hs, e->head_len + HM_SIG_LEN, r);
        free(hs);
        for (uint32_t k = 0; k < e->tx_path_len; k++) {
            if ((e->tx_path_left >> k) & 1u) {
                hm_merkle_node_hash(e->tx_path[k], r, r);
            } else {
                hm_merkle_node_hash(r, e->tx_path[k], r);
            }
        }
        const ct_bundle_block *blk = &b->blocks[e->block];
        if (memcmp(r, blk->header.tx_root, HM_HASH_LEN) != 0) {
            return report_step(&rp, "inclusion", HM_ERR_PROOF,
                               "entry %" PRIu32
                               ": tx %s… is not under the tx root of block %" PRIu64,
                               i, hx, blk->header.height);
        }
        report_step(&rp, "inclusion", HM_OK,
                    "entry %" PRIu32 ": tx %s… is in block %" PRIu64 " (%" PRIu32 " hashes)", i, hx,
                    blk->header.height, e->tx_path_len);
    }
    return report_step(&rp, "done", HM_OK,
                       "all %" PRIu32 " entries are on the chain the genesis validators signed",
                       b->entry_count);
}

/* ------------------------------------------------------------- genesis */

hm_err ct_bundle_genesis_parse(const char *json_text, size_t json_len,
                               char chain_id[HM_CHAIN_ID_MAX + 1], hm_validator_set *vs,
                               const char **reason) {
    const char *sink;
    if (reason == NULL) {
        reason = &sink;
    }
    if (json_text == NULL || chain_id == NULL || vs == NULL) {
        return HM_ERR_ARG;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json_text, json_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        *reason = "the genesis file is not JSON";
        return HM_ERR_BAD_VALUE;
    }
    hm_err err = HM_ERR_BAD_VALUE;
    const char *chain = json_string_value(json_object_get(root, "chain_id"));
    const json_t *vals = json_object_get(root, "validators");
    if (chain == NULL || strlen(chain) == 0 || strlen(chain) > HM_CHAIN_ID_MAX) {
        *reason = "the genesis file has no valid chain_id";
        goto out;
    }
    if (!json_is_array(vals) || json_array_size(vals) == 0 ||
        json_array_size(vals) > HM_VALIDATORS_MAX) {
        *reason = "the genesis file's validators must be an array of 1 to 128 entries";
        goto out;
    }
    memset(vs, 0, sizeof *vs);
    for (size_t i = 0; i < json_array_size(vals); i++) {
        const json_t *pk = json_object_get(json_array_get(vals, i), "consensus_pubkey");
        if (!json_hex(pk, vs->keys[i].bytes, HM_PUBKEY_LEN) ||
            hm_pubkey_check(&vs->keys[i]) != HM_OK) {
            *reason = "a validator's consensus_pubkey is not a key";
            goto out;
        }
    }
    vs->count = (uint32_t)json_array_size(vals);
    memcpy(chain_id, chain, strlen(chain) + 1);
    err = HM_OK;
out:
    json_decref(root);
    return err;
}
