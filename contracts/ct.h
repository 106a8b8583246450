/* contracts/ct.h — the public surface of Hallmark's deterministic execution.
 *
 * Layer: above lib/, below node/ and cli/. Turns transactions into state
 * changes over a read-only committed store plus an in-memory overlay, and
 * answers queries over a committed store. The same transactions in the same
 * order give the same writes and the same state root on every machine.
 *
 * Never: sockets, files, clocks, random numbers, floating point, or any
 * iteration order that is not a byte order. Block time comes from the block
 * context. The node backs ct_store with RocksDB; tests back it with
 * ct_memstore.
 *
 * Sections: the transaction envelope; the store interface and the memory
 * store; block execution; members (shared by every contract); then one
 * section per contract family (provenance, settlement), declared in their own
 * headers included at the end. */
#ifndef HALLMARK_CT_H
#define HALLMARK_CT_H

#include "hm.h"

/* ------------------------------------------------------------ envelope
 *
 *   tx      = head sig [records]
 *   head    = u8 version(=1) | varint type | signer(32) | varint nonce
 *             | bytes body (<= CT_TX_BODY_MAX)
 *             | bool has_records [ | records_root(32) | varint record_count ]
 *   sig     = 64 bytes, BIP340 over hm_sighash(HM_PURPOSE_TX, chain_id, head)
 *   records = (only if has_records) record_count x bytes(<= CT_RECORD_MAX)
 *
 * records_root is the RFC 9162 root of hm_merkle_leaf_hash(record) over the
 * records in order, so one signature covers them all and each record is
 * provable alone. The tx id is SHA-256(head || sig); the block's tx root is
 * the RFC 9162 root over hm_merkle_leaf_hash(head || sig) of its txs. A
 * keyless tx type (an ownership claim, whose authority is a secret code) has
 * an all-zero signer and an all-zero signature. */

#define CT_TX_VERSION 1
#define CT_TX_BODY_MAX (64 * 1024)
#define CT_RECORD_MAX 4096
#define CT_BATCH_RECORDS_MAX 100000
#define CT_TX_MAX (CT_TX_BODY_MAX + 256 + CT_BATCH_RECORDS_MAX * (CT_RECORD_MAX + 3))
#define CT_TX_HEAD_MAX (CT_TX_BODY_MAX + 256)

/* Transaction types. Ranges: 1-31 members and provenance, 32-63 settlement,
 * 100+ node-level. */
typedef enum {
    CT_TX_MEMBER_ADD = 1,
    CT_TX_MEMBER_REVOKE = 2,
    CT_TX_MEMBER_ROTATE = 3,
    CT_TX_PREFIX_ASSIGN = 4,
    CT_TX_PRODUCT_SET = 5,
    CT_TX_ITEM_REGISTER = 6,
    CT_TX_EVENT_RECORD = 7,
    CT_TX_CUSTODY_TRANSFER = 8,
    CT_TX_RECALL = 9,
    CT_TX_CLAIM = 10,
    CT_TX_SPLIT_CREATE = 32,
    CT_TX_SPLIT_AMEND = 33,
    CT_TX_SALE = 34,
    CT_TX_REFUND = 35,
    CT_TX_PAYOUT = 36,
    CT_TX_NOTE = 100, /* an opaque note any key may sign: the node's own smoke test */
} ct_tx_type;

#define CT_NOTE_MAX 1024

/* A decoded transaction: views into the caller's bytes, valid while they are. */
typedef struct {
    uint32_t type;
    hm_pubkey signer;
    uint64_t nonce;
    const uint8_t *body;
    size_t body_len;
    bool has_records;
    uint8_t records_root[HM_HASH_LEN];
    uint32_t record_count;
    hm_sig sig;
    const uint8_t *head; /* head bytes: what is signed */
    size_t head_len;
    const uint8_t *records; /* the encoded record list (after sig), or NULL */
    size_t records_len;
    uint8_t id[HM_HASH_LEN]; /* SHA-256(head || sig) */
} ct_tx;

/* Decodes and checks the form of a whole tx (not its signature, not the
 * records root): HM_ERR_* of the canonical decoder, HM_ERR_UNKNOWN_TYPE for an
 * unknown version. Writes *tx only on success. */
HM_MUST_USE hm_err ct_tx_decode(const uint8_t *data, size_t data_len, ct_tx *tx);
/* Checks what needs no state: the signature (skipped when sig_checked, e.g.
 * when the node's verify cache already saw this id) and that the records hash
 * to records_root. HM_ERR_BAD_SIG, HM_ERR_PROOF. */
HM_MUST_USE hm_err ct_tx_check(const ct_tx *tx, const char *chain_id, bool sig_checked);
/* The signature part of ct_tx_check alone (a keyless tx passes):
 * HM_ERR_BAD_SIG, HM_ERR_BAD_KEY. For callers that check the records with
 * ct_tx_records_hash, which keeps the hashes. */
HM_MUST_USE hm_err ct_tx_check_sig(const ct_tx *tx, const char *chain_id);
/* How many chunk roots ct_tx_records_hash writes: one per CT_CHUNK_LEAVES
 * (16) records, rounded up; 0 for a tx without records. */
size_t ct_tx_records_chunks(const ct_tx *tx);
/* Hashes tx's records: every leaf (tx->record_count of them) and the root of
 * every aligned chunk of 16 leaves (ct_tx_records_chunks), and checks that
 * they give records_root: HM_ERR_PROOF when not, HM_ERR_ARG for a tx without
 * records. The signature is not looked at. */
HM_MUST_USE hm_err ct_tx_records_hash(const ct_tx *tx, uint8_t (*leaves)[HM_HASH_LEN],
                                      uint8_t (*chunk_roots)[HM_HASH_LEN]);
/* Iterates the records: *pos starts at 0; returns false after the last. */
bool ct_tx_record_next(const ct_tx *tx, size_t *pos, const uint8_t **rec, size_t *rec_len);
/* Whether type may be sent keyless (all-zero signer and sig). */
bool ct_tx_type_is_keyless(uint32_t type);
/* The leaf hash of this tx in its block's tx tree. */
void ct_tx_leaf_hash(const ct_tx *tx, uint8_t out[HM_HASH_LEN]);

/* Builds and signs a tx into w (growable or fixed). kp NULL builds a keyless
 * tx. records may be NULL when record_count is 0 and has_records is false. */
HM_MUST_USE hm_err ct_tx_build(hm_writer *w, uint32_t type, const hm_keypair *kp,
                               const char *chain_id, uint64_t nonce, const uint8_t *body,
                               size_t body_len, bool has_records, const uint8_t *const *records,
                               const size_t *record_lens, uint32_t record_count);

/* ------------------------------------------------------------- the store */

/* Committed state, read-only during execution. Keys and values are bytes;
 * order is memcmp order, shorter first on a common prefix. */
typedef bool (*ct_visit_fn)(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                            size_t val_len);
typedef struct {
    void *ctx;
    /* HM_OK with *val malloc'd (caller frees; may be NULL when *val_len is 0),
     * or HM_ERR_NOT_FOUND, or HM_ERR_IO. */
    hm_err (*get)(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val, size_t *val_len);
    /* Visits start <= key < end in order until visit returns false. end NULL
     * means no upper bound. */
    hm_err (*scan)(void *ctx, const uint8_t *start, size_t start_len, const uint8_t *end,
                   size_t end_len, ct_visit_fn visit, void *arg);
} ct_store;

/* memcmp order, shorter first on a common prefix. */
int ct_key_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
/* A visit that records that a row exists (arg: bool *, set true) and stops. */
bool ct_visit_found(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                    size_t val_len);

/* The state's per-tx rows: "t/" | tx id (its result) and "n/" | tx id (a
 * note). Every tx writes one or two, at a random place in the key order;
 * they are read only by whole key and no contract scans them, so a store
 * may keep them apart (the node keeps them where its tx index is). */
#define CT_PER_TX_PREFIXES 2
extern const char ct_per_tx_prefix[CT_PER_TX_PREFIXES][3];
bool ct_key_is_per_tx(const uint8_t *key, size_t key_len);

/* An in-memory ct_store for tests, tools and the simulator. */
typedef struct ct_memstore ct_memstore;
HM_MUST_USE hm_err ct_memstore_new(ct_memstore **out);
void ct_memstore_free(ct_memstore *m);
ct_store ct_memstore_store(ct_memstore *m);
/* Sets (val != NULL) or deletes (val == NULL) one key. */
HM_MUST_USE hm_err ct_memstore_write(ct_memstore *m, const uint8_t *key, size_t key_len,
                                     const uint8_t *val, size_t val_len);
size_t ct_memstore_count(const ct_memstore *m);

/* ------------------------------------------------------- block execution */

#define CT_ADMINS_MAX 16

typedef struct {
    char chain_id[HM_CHAIN_ID_MAX + 1];
    uint64_t height;
    uint64_t time_ms; /* the block header's time: the only clock contracts see */
    uint32_t admin_count;
    hm_pubkey admins[CT_ADMINS_MAX]; /* consortium admins, from genesis */
} ct_block_ctx;

/* Outcome of one tx inside a block. A tx refused by a rule changes nothing
 * but is still recorded (its id is spent so it can never be replayed); a tx
 * that is malformed or fails its signature or records check writes nothing,
 * so that nobody can spend a genuine id with altered bytes. */
typedef struct {
    hm_err code;       /* HM_OK or why the tx was refused */
    uint32_t rule;     /* contract-specific rule number (0 when none) */
    uint32_t index;    /* for batches: the first offending record */
    char message[160]; /* human text naming the rule */
} ct_result;

/* One block's execution: an overlay of writes over base. Heap-owned. base
 * must answer the same for the life of the execution (it is the committed
 * state the block builds on): the execution keeps some of what it read. */
typedef struct ct_exec ct_exec;
HM_MUST_USE hm_err ct_exec_new(const ct_store *base, const ct_block_ctx *ctx, ct_exec **out);
void ct_exec_free(ct_exec *x);
const ct_block_ctx *ct_exec_ctx(const ct_exec *x);

/* Executes one tx. Returns HM_OK when the tx was processed (res says whether
 * it applied), or an operating error (HM_ERR_IO, HM_ERR_NOMEM) after which the
 * block cannot be executed here. sig_checked as in ct_tx_check. */
HM_MUST_USE hm_err ct_exec_tx(ct_exec *x, const uint8_t *tx, size_t tx_len, bool sig_checked,
                              ct_result *res);
/* The same for a tx the caller already decoded with ct_tx_decode (so that a
 * node that decoded and hashed each tx of a block once, for its ids and tx
 * root, does not do it again here). tx's views must stay valid for the call.
 * A tx that did not decode cannot be passed: the caller records it with
 * ct_exec_tx, which refuses it as malformed. */
HM_MUST_USE hm_err ct_exec_tx_decoded(ct_exec *x, const ct_tx *tx, bool sig_checked,
                                      ct_result *res);
/* The same for a tx whose records the caller already hashed with
 * ct_tx_records_hash, over these very bytes, and found to give its records
 * root (a node does so when it admits a tx to its pool): they are not hashed
 * again, but the chunk roots must still give the records root (else the tx
 * is refused with HM_ERR_PROOF, as a tx whose records do not match). leaves
 * and chunk_roots are read during the call, not kept. */
HM_MUST_USE hm_err ct_exec_tx_prehashed(ct_exec *x, const ct_tx *tx, bool sig_checked,
                                        const uint8_t (*leaves)[HM_HASH_LEN],
                                        const uint8_t (*chunk_roots)[HM_HASH_LEN], ct_result *res);
/* Work driven by block time with no tx (maturing settlements); call once,
 * after the last tx. */
HM_MUST_USE hm_err ct_exec_end_block(ct_exec *x);
/* tagged_hash("hallmark/state", prev_root || digest of the sorted writes). */
void ct_exec_state_root(const ct_exec *x, const uint8_t prev_root[HM_HASH_LEN],
                        uint8_t out[HM_HASH_LEN]);
/* Visits every write in key order; val NULL means delete. */
HM_MUST_USE hm_err ct_exec_foreach_write(const ct_exec *x, ct_visit_fn visit, void *arg);
/* Applies every write of x to a memory store (tests and tools). */
HM_MUST_USE hm_err ct_exec_apply_to_memstore(const ct_exec *x, ct_memstore *m);

/* State access for contract code (through the overlay). Errors other than
 * HM_ERR_NOT_FOUND are operating errors. Keys at most CT_KEY_MAX bytes. */
#define CT_KEY_MAX 512
HM_MUST_USE hm_err ct_state_get(ct_exec *x, const uint8_t *key, size_t key_len, uint8_t **val,
                                size_t *val_len);
HM_MUST_USE hm_err ct_state_put(ct_exec *x, const uint8_t *key, size_t key_len, const uint8_t *val,
                                size_t val_len);
HM_MUST_USE hm_err ct_state_del(ct_exec *x, const uint8_t *key, size_t key_len);
/* Visits overlay-merged state in key order, start <= key < end. */
HM_MUST_USE hm_err ct_state_scan(ct_exec *x, const uint8_t *start, size_t start_len,
                                 const uint8_t *end, size_t end_len, ct_visit_fn visit, void *arg);

/* Key of a spent tx id: "t/" || id; value: encoded result. Queries use it to
 * answer "committed" for a tx. */
HM_MUST_USE hm_err ct_query_tx_result(const ct_store *s, const uint8_t id[HM_HASH_LEN],
                                      ct_result *res);

/* --------------------------------------------------------------- members */

typedef enum {
    CT_ROLE_ADMIN = 1u << 0, /* genesis admins only */
    CT_ROLE_BRAND = 1u << 1,
    CT_ROLE_LOGISTICS = 1u << 2,
    CT_ROLE_RETAILER = 1u << 3,
    CT_ROLE_PLATFORM = 1u << 4,
    CT_ROLE_MCN = 1u << 5,
    CT_ROLE_AUDITOR = 1u << 6,
} ct_role;

#define CT_MEMBER_NAME_MAX 128

typedef struct {
    hm_pubkey key;
    uint32_t roles; /* ct_role bits */
    char name[CT_MEMBER_NAME_MAX + 1];
    bool revoked;
    uint64_t since_height;
} ct_member;

/* The member whose current key is key, from the overlay. Genesis admins are
 * members with CT_ROLE_ADMIN. HM_ERR_NOT_FOUND if none (or revoked: then
 * out->revoked is set and HM_ERR_NOT_FOUND returned). */
HM_MUST_USE hm_err ct_member_lookup(ct_exec *x, const hm_pubkey *key, ct_member *out);
HM_MUST_USE hm_err ct_query_member(const ct_store *s, const hm_pubkey *key, ct_member *out);
bool ct_role_parse(const char *name, uint32_t *role);
const char *ct_role_name(uint32_t role);

#include "ct_provenance.h"
#include "ct_settlement.h"

#endif
