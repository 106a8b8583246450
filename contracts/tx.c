/* contracts/tx.c — the transaction envelope: decode, check, build.
 *
 * Layer: contracts/ (pure). Everything that can be said about a transaction
 * without looking at state lives here: its canonical form, its id, its
 * signature, and that its batch records hash to the signed root. The layout
 * is in ct.h and docs/transactions.md. Never trusts a length it has not
 * bounded; never allocates. */
#include "ct.h"
#include "ct_internal.h"
#include "ct_provenance.h"

#include <assert.h>
#include <string.h>

static const uint8_t zero32[32];
static const uint8_t zero64[64];

bool ct_tx_type_is_keyless(uint32_t type) {
    return type == CT_TX_CLAIM;
}

/* Reads the head and signature; r is left after the signature. */
static void tx_read_head(hm_reader *r, ct_tx *tx) {
    size_t head_start = r->pos;
    uint8_t version = hm_get_u8(r);
    if (hm_reader_error(r) == HM_OK && version != CT_TX_VERSION)
        hm_reader_fail(r, HM_ERR_UNKNOWN_TYPE);
    tx->type = (uint32_t)hm_get_varint(r, UINT32_MAX);
    hm_get_raw(r, tx->signer.bytes, HM_PUBKEY_LEN);
    tx->nonce = hm_get_varint(r, UINT64_MAX);
    tx->body = hm_get_bytes(r, CT_TX_BODY_MAX, &tx->body_len);
    tx->has_records = hm_get_bool(r);
    tx->record_count = 0;
    memset(tx->records_root, 0, sizeof tx->records_root);
    if (tx->has_records) {
        hm_get_raw(r, tx->records_root, HM_HASH_LEN);
        tx->record_count = (uint32_t)hm_get_varint(r, CT_BATCH_RECORDS_MAX);
    }
    if (hm_reader_error(r) != HM_OK)
        return;
    tx->head = r->data + head_start;
    tx->head_len = r->pos - head_start;
    hm_get_raw(r, tx->sig.bytes, HM_SIG_LEN);
}

hm_err ct_tx_decode(const uint8_t *data, size_t data_len, ct_tx *out) {
    if (data == NULL || out == NULL)
        return HM_ERR_ARG;
    if (data_len > CT_TX_MAX)
        return HM_ERR_TOO_LONG;
    ct_tx tx;
    memset(&tx, 0, sizeof tx);
    hm_reader r;
    hm_reader_init(&r, data, data_len);
    tx_read_head(&r, &tx);
    if (hm_reader_error(&r) != HM_OK)
        return hm_reader_error(&r);
    if (tx.has_records) {
        size_t list_start = r.pos;
        uint64_t count = hm_get_varint(&r, CT_BATCH_RECORDS_MAX);
        if (hm_reader_error(&r) == HM_OK && count != tx.record_count)
            hm_reader_fail(&r, HM_ERR_BAD_VALUE);
        for (uint64_t i = 0; i < count && hm_reader_error(&r) == HM_OK; i++) {
            size_t rec_len;
            (void)hm_get_bytes(&r, CT_RECORD_MAX, &rec_len);
        }
        tx.records = data + list_start;
        tx.records_len = r.pos - list_start;
    }
    hm_err err = hm_reader_finish(&r);
    if (err != HM_OK)
        return err;
    /* A keyless tx is all zero in signer and signature, and only for a
     * keyless type; a keyed tx never has the zero key. */
    bool zero_signer = memcmp(tx.signer.bytes, zero32, 32) == 0;
    bool zero_sig = memcmp(tx.sig.bytes, zero64, 64) == 0;
    if (zero_signer != zero_sig || (zero_signer && !ct_tx_type_is_keyless(tx.type)))
        return HM_ERR_BAD_VALUE;
    /* id = SHA-256(head || sig): head and sig are contiguous in data. */
    hm_sha256(tx.head, tx.head_len + HM_SIG_LEN, tx.id);
    *out = tx;
    return HM_OK;
}

bool ct_tx_record_next(const ct_tx *tx, size_t *pos, const uint8_t **rec, size_t *rec_len) {
    assert(tx != NULL && pos != NULL);
    if (!tx->has_records || tx->records == NULL)
        return false;
    hm_reader r;
    hm_reader_init(&r, tx->records, tx->records_len);
    if (*pos == 0)
        (void)hm_get_varint(&r, CT_BATCH_RECORDS_MAX);
    else
        r.pos = *pos;
    if (r.pos >= r.len || hm_reader_error(&r) != HM_OK)
        return false;
    const uint8_t *p = hm_get_bytes(&r, CT_RECORD_MAX, rec_len);
    if (hm_reader_error(&r) != HM_OK)
        return false; /* cannot happen after ct_tx_decode accepted the list */
    *rec = p;
    *pos = r.pos;
    return true;
}

void ct_tx_leaf_hash(const ct_tx *tx, uint8_t out[HM_HASH_LEN]) {
    assert(tx->head != NULL);
    hm_merkle_leaf_hash(tx->head, tx->head_len + HM_SIG_LEN, out);
}

hm_err ct_tx_check_sig(const ct_tx *tx, const char *chain_id) {
    if (tx == NULL || chain_id == NULL)
        return HM_ERR_ARG;
    if (memcmp(tx->signer.bytes, zero32, 32) == 0)
        return HM_OK; /* keyless: the decoder saw the signature is all zero */
    hm_err err = hm_verify(&tx->signer, HM_PURPOSE_TX, chain_id, tx->head, tx->head_len, &tx->sig);
    if (err != HM_OK)
        return err == HM_ERR_BAD_KEY ? HM_ERR_BAD_KEY : HM_ERR_BAD_SIG;
    return HM_OK;
}

hm_err ct_tx_check(const ct_tx *tx, const char *chain_id, bool sig_checked) {
    if (tx == NULL || chain_id == NULL)
        return HM_ERR_ARG;
    if (!sig_checked) {
        hm_err err = ct_tx_check_sig(tx, chain_id);
        if (err != HM_OK)
            return err;
    }
    if (tx->has_records) {
        hm_merkle_builder b;
        hm_merkle_builder_init(&b);
        size_t pos = 0;
        const uint8_t *rec;
        size_t rec_len;
        while (ct_tx_record_next(tx, &pos, &rec, &rec_len)) {
            uint8_t leaf[HM_HASH_LEN];
            hm_merkle_leaf_hash(rec, rec_len, leaf);
            hm_merkle_builder_add(&b, leaf);
        }
        assert(b.count == tx->record_count);
        uint8_t root[HM_HASH_LEN];
        hm_merkle_builder_root(&b, root);
        if (memcmp(root, tx->records_root, HM_HASH_LEN) != 0)
            return HM_ERR_PROOF;
    }
    return HM_OK;
}

size_t ct_tx_records_chunks(const ct_tx *tx) {
    return tx->has_records ? (tx->record_count + CT_CHUNK_LEAVES - 1) / CT_CHUNK_LEAVES : 0;
}

hm_err ct_tx_records_hash(const ct_tx *tx, uint8_t (*leaves)[HM_HASH_LEN],
                          uint8_t (*chunk_roots)[HM_HASH_LEN]) {
    if (tx == NULL || !tx->has_records || leaves == NULL || chunk_roots == NULL)
        return HM_ERR_ARG;
    size_t n = tx->record_count;
    size_t chunks = ct_tx_records_chunks(tx);
    size_t pos = 0, i = 0;
    const uint8_t *rec;
    size_t rec_len;
    while (i < n && ct_tx_record_next(tx, &pos, &rec, &rec_len))
        hm_merkle_leaf_hash(rec, rec_len, leaves[i++]);
    assert(i == n); /* the decoder checked the count */
    for (size_t c = 0; c < chunks; c++) {
        size_t first = c * CT_CHUNK_LEAVES;
        size_t count = n - first < CT_CHUNK_LEAVES ? n - first : CT_CHUNK_LEAVES;
        hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])(leaves + first), count, chunk_roots[c]);
    }
    return ct_tx_chunk_roots_check(tx, (const uint8_t(*)[HM_HASH_LEN])chunk_roots);
}

hm_err ct_tx_chunk_roots_check(const ct_tx *tx, const uint8_t (*chunk_roots)[HM_HASH_LEN]) {
    /* each aligned chunk is a subtree of the RFC 9162 tree, so the root
     * over the chunk roots is the records root */
    uint8_t root[HM_HASH_LEN];
    hm_merkle_root(chunk_roots, ct_tx_records_chunks(tx), root);
    return memcmp(root, tx->records_root, HM_HASH_LEN) == 0 ? HM_OK : HM_ERR_PROOF;
}

hm_err ct_tx_build(hm_writer *w, uint32_t type, const hm_keypair *kp, const char *chain_id,
                   uint64_t nonce, const uint8_t *body, size_t body_len, bool has_records,
                   const uint8_t *const *records, const size_t *record_lens,
                   uint32_t record_count) {
    if (w == NULL || chain_id == NULL || (body == NULL && body_len > 0))
        return HM_ERR_ARG;
    if (kp == NULL && !ct_tx_type_is_keyless(type))
        return HM_ERR_ARG;
    if (!has_records && record_count > 0)
        return HM_ERR_ARG;
    if (record_count > CT_BATCH_RECORDS_MAX || body_len > CT_TX_BODY_MAX)
        return HM_ERR_TOO_LONG;
    if (record_count > 0 && (records == NULL || record_lens == NULL))
        return HM_ERR_ARG;
    for (uint32_t i = 0; i < record_count; i++)
        if (record_lens[i] > CT_RECORD_MAX)
            return HM_ERR_TOO_LONG;
    size_t head_start = w->len;
    hm_put_u8(w, CT_TX_VERSION);
    hm_put_varint(w, type);
    if (kp != NULL)
        hm_put_raw(w, kp->pub.bytes, HM_PUBKEY_LEN);
    else
        hm_put_raw(w, zero32, HM_PUBKEY_LEN);
    hm_put_varint(w, nonce);
    hm_put_bytes(w, body, body_len, CT_TX_BODY_MAX);
    hm_put_bool(w, has_records);
    if (has_records) {
        hm_merkle_builder b;
        hm_merkle_builder_init(&b);
        for (uint32_t i = 0; i < record_count; i++) {
            uint8_t leaf[HM_HASH_LEN];
            hm_merkle_leaf_hash(records[i], record_lens[i], leaf);
            hm_merkle_builder_add(&b, leaf);
        }
        uint8_t root[HM_HASH_LEN];
        hm_merkle_builder_root(&b, root);
        hm_put_raw(w, root, HM_HASH_LEN);
        hm_put_varint(w, record_count);
    }
    hm_err err = hm_writer_error(w);
    if (err != HM_OK)
        return err;
    hm_sig sig;
    memset(&sig, 0, sizeof sig);
    if (kp != NULL) {
        /* w->buf may move when a growable writer grows, so sign before the
         * next put. */
        err = hm_sign(kp, HM_PURPOSE_TX, chain_id, w->buf + head_start, w->len - head_start, &sig);
        if (err != HM_OK) {
            /* The head is already in w: fail it so nobody sends half a tx. */
            hm_writer_fail(w, err);
            return err;
        }
    }
    hm_put_raw(w, sig.bytes, HM_SIG_LEN);
    if (has_records) {
        hm_put_varint(w, record_count);
        for (uint32_t i = 0; i < record_count; i++)
            hm_put_bytes(w, records[i], record_lens[i], CT_RECORD_MAX);
    }
    return hm_writer_error(w);
}
