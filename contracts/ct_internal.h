/* contracts/ct_internal.h — what the contract families share inside
 * contracts/ and nobody outside may use: the dispatch entry points of each
 * family and small helpers for results. */
#ifndef HALLMARK_CT_INTERNAL_H
#define HALLMARK_CT_INTERNAL_H

#include "ct.h"

#include <assert.h>
#include <string.h>

/* ------------------------------------------------ ordered byte map (AVL) */

enum { CT_SLOT_ABSENT = 0, CT_SLOT_SET = 1, CT_SLOT_DELETED = 2 };

typedef struct ct_bytemap_node {
    struct ct_bytemap_node *left, *right;
    uint8_t *val; /* owned; NULL when val_len is 0 */
    size_t val_len;
    size_t key_len;
    int height;
    uint8_t state; /* CT_SLOT_* */
    uint8_t key[]; /* key_len bytes */
} ct_bytemap_node;

typedef struct ct_arena_block ct_arena_block;

typedef struct {
    ct_bytemap_node *root;
    size_t nodes;
    uint64_t shape;         /* changes whenever the tree's links do (see ct_bytemap_iter) */
    bool arena;             /* nodes and values come from blocks (ct_bytemap_init_arena) */
    ct_arena_block *blocks; /* newest first */
} ct_bytemap;

/* An AVL tree of n nodes is at most 1.44 log2(n + 2) high: 96 levels hold
 * far more nodes than memory can. */
#define CT_BYTEMAP_DEPTH_MAX 96

/* An in-order cursor over the slots with start <= key < end (NULL bounds are
 * open), of every state. It reads the nodes as it goes, so a scan that stops
 * early pays only for what it visited; the map's links must not change
 * while it is in use (no new slot, no ct_bytemap_slots_sorted; values and
 * states may change), which ct_bytemap_iter_next asserts. */
typedef struct {
    const ct_bytemap *m;
    uint64_t shape;
    const uint8_t *end;
    size_t end_len;
    size_t depth;
    const ct_bytemap_node *stack[CT_BYTEMAP_DEPTH_MAX];
} ct_bytemap_iter;

typedef bool (*ct_bytemap_walk_fn)(void *arg, const ct_bytemap_node *n);

void ct_bytemap_init(ct_bytemap *m);
/* A map for a short life (one block's overlay): nodes, and values stored
 * with ct_bytemap_value_copy, are carved from large blocks freed all at once
 * by ct_bytemap_free, instead of one allocation each. A replaced value is not
 * freed before then, so a pointer to it stays valid (the undo journal keeps
 * such pointers). Use ct_bytemap_node_put on its slots, never node_set/take. */
void ct_bytemap_init_arena(ct_bytemap *m);
/* A copy of len bytes owned by the arena map m; NULL (and HM_OK) when len is
 * 0. */
HM_MUST_USE hm_err ct_bytemap_value_copy(ct_bytemap *m, const uint8_t *data, size_t len,
                                         uint8_t **out);
/* Sets a slot of an arena map: val is the map's (or static), nothing freed. */
static inline void ct_bytemap_node_put(ct_bytemap_node *n, uint8_t *val, size_t val_len,
                                       uint8_t state) {
    n->val = val;
    n->val_len = val_len;
    n->state = state;
}
void ct_bytemap_free(ct_bytemap *m);
ct_bytemap_node *ct_bytemap_find(const ct_bytemap *m, const uint8_t *key, size_t key_len);
/* The slot for key, created ABSENT if new. */
HM_MUST_USE hm_err ct_bytemap_slot(ct_bytemap *m, const uint8_t *key, size_t key_len,
                                   ct_bytemap_node **out);
/* A malloc'd copy of len bytes in *out; NULL (and HM_OK) when len is 0. */
HM_MUST_USE hm_err ct_bytes_dup(const uint8_t *data, size_t len, uint8_t **out);
/* Copies val into the slot and marks it SET. */
HM_MUST_USE hm_err ct_bytemap_node_set(ct_bytemap_node *n, const uint8_t *val, size_t val_len);
/* A SET slot's value for a visitor: never NULL, so that an empty value reads
 * as a value (as the node's store hands it out), never as a deletion. */
const uint8_t *ct_bytemap_node_value(const ct_bytemap_node *n);
/* Replaces the slot's value with val (taking ownership) and state. */
void ct_bytemap_node_take(ct_bytemap_node *n, uint8_t *val, size_t val_len, uint8_t state);
/* A key and a value, borrowed: one write of a sorted bulk put. */
typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *val; /* NULL with val_len 0: an empty value */
    size_t val_len;
} ct_write_ref;

/* The slots for n keys (w[i].key; the values are not looked at) in strictly
 * ascending order, created ABSENT where new: what n ct_bytemap_slot calls
 * give, out[i] the slot of w[i]. When the map is not much larger than n, it
 * is rebuilt in one merge pass, perfectly balanced, with the new nodes
 * allocated in key order, instead of n descents (a 100,000-record batch
 * otherwise spends more on AVL descents than on anything else). HM_ERR_ARG
 * when the keys are not strictly ascending or a key is empty or over
 * CT_KEY_MAX (the map is then unchanged); HM_ERR_NOMEM (the map is then
 * unchanged, or, on the descent path, holds some of the new slots ABSENT, as
 * a failed ct_bytemap_slot may). */
HM_MUST_USE hm_err ct_bytemap_slots_sorted(ct_bytemap *m, const ct_write_ref *w, size_t n,
                                           ct_bytemap_node **out);
void ct_bytemap_iter_init(ct_bytemap_iter *it, const ct_bytemap *m, const uint8_t *start,
                          size_t start_len, const uint8_t *end, size_t end_len);
/* The next slot in range, or NULL when there is none. */
const ct_bytemap_node *ct_bytemap_iter_next(ct_bytemap_iter *it);
/* In-order visit of start <= key < end (NULL bounds are open); false if the
 * visitor stopped. */
bool ct_bytemap_walk(const ct_bytemap *m, const uint8_t *start, size_t start_len,
                     const uint8_t *end, size_t end_len, ct_bytemap_walk_fn fn, void *arg);

/* Writes w[0..n), keys strictly ascending, into x's overlay: the same
 * overlay, journal and state root as n ct_state_put calls in that order, in
 * one pass over the overlay (ct_bytemap_slots_sorted) when it is not much
 * larger than n. For a batch's writes. HM_ERR_ARG (nothing written) when the
 * keys are not strictly ascending, a key is empty or over CT_KEY_MAX, or a
 * NULL value has a length; HM_ERR_NOMEM (what was written is journaled, so
 * the executor's rollback of the tx removes it). */
HM_MUST_USE hm_err ct_state_put_sorted(ct_exec *x, const ct_write_ref *w, size_t n);

/* ------------------------------------------------ settlement state keys
 *
 * The settlement schema (docs/settlement.md), in one place for the contract
 * that writes it and the queries that read it. Fixed-width integers in keys
 * are big-endian, so byte order is numeric order. */

#define CT_SKEY_CONTRACT "s/c/"
#define CT_SKEY_VERSION "s/v/"
#define CT_SKEY_SALE "s/s/"
#define CT_SKEY_MATURITY "s/m/"
#define CT_SKEY_ITEM "s/i/"
#define CT_SKEY_SEQ "s/n"
#define CT_SKEY_JOURNAL "s/j/"
#define CT_SKEY_ACCOUNT_INDEX "s/a/"
#define CT_SKEY_BALANCE "s/b/"
#define CT_SKEY_SESSION "s/ts/"
#define CT_SKEY_STREAMER "s/tr/"

typedef struct {
    uint8_t bytes[CT_KEY_MAX];
    size_t len;
} ct_key_buf;

/* Callers add only fields of bounded length, so a key never outgrows
 * CT_KEY_MAX: that is asserted, not checked. */
static inline void ct_key_start(ct_key_buf *k, const char *prefix) {
    k->len = strlen(prefix);
    memcpy(k->bytes, prefix, k->len);
}

static inline void ct_key_add(ct_key_buf *k, const void *data, size_t len) {
    assert(k->len + len <= sizeof k->bytes);
    memcpy(k->bytes + k->len, data, len);
    k->len += len;
}

static inline void ct_key_add_u64(ct_key_buf *k, uint64_t v) {
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    ct_key_add(k, be, 8);
}

static inline void ct_key_add_u32(ct_key_buf *k, uint32_t v) {
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    ct_key_add(k, be, 4);
}

static inline void ct_key_add_str(ct_key_buf *k, const char *text) {
    ct_key_add(k, text, strlen(text));
}

static inline void ct_key_add_account(ct_key_buf *k, const ct_account *a) {
    ct_key_add(k, &a->kind, 1);
    ct_key_add(k, a->owner.bytes, HM_PUBKEY_LEN);
}

/* ------------------------------------------------ state sources (src.c)
 *
 * Reads either a block's overlay (x set: what execution sees, its own writes
 * included) or a committed store (s set: what queries see); exactly one of
 * the two is set. The same decoding code then serves execution and queries. */

typedef struct {
    ct_exec *x;
    const ct_store *s;
} ct_src;

/* As ct_state_get / ct_store.get on the chosen source: HM_OK with a malloc'd
 * *val (the caller frees), HM_ERR_NOT_FOUND, or an operating error. */
HM_MUST_USE hm_err ct_src_get(const ct_src *from, const uint8_t *key, size_t key_len, uint8_t **val,
                              size_t *val_len);
/* As ct_state_scan / ct_store.scan on the chosen source. */
HM_MUST_USE hm_err ct_src_scan(const ct_src *from, const uint8_t *start, size_t start_len,
                               const uint8_t *end, size_t end_len, ct_visit_fn visit, void *arg);
/* *exists tells whether key has a value; HM_OK unless the read failed. */
HM_MUST_USE hm_err ct_src_exists(const ct_src *from, const uint8_t *key, size_t key_len,
                                 bool *exists);

/* ------------------------------------------------ decoders */

/* Ends a decode into a scratch copy: copies size bytes of tmp to out only
 * when the reader consumed its whole input without error, so a decoder
 * writes its output only on success. Returns the reader's verdict. */
static inline hm_err ct_reader_finish_into(hm_reader *r, void *out, const void *tmp, size_t size) {
    hm_err err = hm_reader_finish(r);
    if (err == HM_OK)
        memcpy(out, tmp, size);
    return err;
}

/* ct_event_record_decode straight into rec, without its 60 KB scratch
 * record and copy (the contract decodes up to 100,000 per batch): on success
 * rec is what ct_event_record_decode gives, except that list entries past
 * each count keep what they held; on failure rec is partly written. */
HM_MUST_USE hm_err ct_event_record_decode_into(const uint8_t *data, size_t len,
                                               ct_event_record *rec);

/* Encodes/decodes a tx result for the "t/" index. */
HM_MUST_USE hm_err ct_result_encode(const ct_result *res, uint64_t height, hm_writer *w);

/* Sets res to a refusal: code, rule number, record index, message. Returns
 * HM_OK so that contract code can `return ct_refuse(...)` for a refused tx
 * (a refusal is a processed tx, not an operating error). */
hm_err ct_refuse(ct_result *res, hm_err code, uint32_t rule, uint32_t index, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Whether chunk_roots (ct_tx_records_chunks of them) give tx's records
 * root: HM_OK or HM_ERR_PROOF. */
HM_MUST_USE hm_err ct_tx_chunk_roots_check(const ct_tx *tx,
                                           const uint8_t (*chunk_roots)[HM_HASH_LEN]);

/* The hashes the executor computed once when it checked tx's records root:
 * the leaf hash of every record and the root of every aligned chunk of
 * CT_CHUNK_LEAVES leaves. Borrowed: valid while tx executes. false when x has
 * none for tx (then the caller hashes the records itself). */
bool ct_exec_tx_hashes(const ct_exec *x, const ct_tx *tx, const uint8_t (**leaves)[HM_HASH_LEN],
                       const uint8_t (**chunk_roots)[HM_HASH_LEN]);

/* Each family applies the tx types of its range. The caller has decoded the
 * envelope, checked the signature and the records root, and resolved the
 * signer (signer NULL for a keyless tx). On refusal the family returns HM_OK
 * with res->code set, and the executor rolls back everything it wrote. */
hm_err ct_members_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res);
hm_err ct_prov_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res);
hm_err ct_settle_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res);
/* Settlement's block-time work (pending -> available), once per block. */
hm_err ct_settle_end_block(ct_exec *x);

#endif
