/* contracts/ct_bundle.h — proof bundles: what a consumer's phone or
 * `hallmark verify` checks, with nothing but the genesis file, to believe a
 * record is on the chain the consortium's validators signed.
 *
 * Layer: contracts/ (pure). A bundle chains each entry
 *   record -> batch records_root (in the signed tx head) -> tx leaf
 *   -> block tx_root -> block header -> commit certificate -> validator set
 * and the validator set is compared with genesis. docs/proofs.md specifies
 * the binary form byte by byte and the JSON form field by field.
 *
 * Never: I/O, clocks, randomness. Decoders take bytes from anyone: every
 * length is bounded and every value validated; nothing is asserted on them.
 * Ownership: a ct_bundle owns its entries' bytes (malloc'd copies) and its
 * blocks; release with ct_bundle_clear(). */
#ifndef HALLMARK_CT_BUNDLE_H
#define HALLMARK_CT_BUNDLE_H

#include "ct.h"

typedef struct json_t json_t; /* jansson's, as in node/nd.h */

#define CT_BUNDLE_MAGIC "HMPB" /* 4 bytes, no NUL in the encoding */
#define CT_BUNDLE_VERSION 1
#define CT_BUNDLE_BLOCKS_MAX 64
#define CT_BUNDLE_ENTRIES_MAX 64
/* Worst case of the binary form: the decoder refuses anything longer. */
#define CT_BUNDLE_ENCODED_MAX (8u * 1024 * 1024)

typedef enum {
    CT_BUNDLE_RECORD = 1, /* one record of a batch tx (registration, event) */
    CT_BUNDLE_TX = 2,     /* a whole tx head: its body is the fact (recall, claim, custody) */
} ct_bundle_kind;

typedef struct {
    hm_block_header header;
    hm_cert cert;
} ct_bundle_block;

typedef struct {
    uint8_t kind; /* ct_bundle_kind */
    /* CT_BUNDLE_RECORD only: the record and its path to the head's
     * records_root (RFC 9162, tree size = the head's record_count). */
    uint8_t *record;
    size_t record_len;
    uint64_t record_index;
    uint32_t record_path_len;
    uint8_t record_path[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    /* The tx head (what its signer signed) and signature. */
    uint8_t *head;
    size_t head_len;
    hm_sig sig;
    /* The tx leaf's path to the block's tx_root: sibling hashes leaf
     * upward, and bit k of tx_path_left set when sibling k is the left
     * operand. (Index and tree size are not carried: they are not signed by
     * anyone, and different pairs give the same path.) */
    uint32_t block;        /* index into the bundle's blocks */
    uint64_t tx_path_left; /* bits >= tx_path_len are zero */
    uint32_t tx_path_len;
    uint8_t tx_path[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
} ct_bundle_entry;

typedef struct {
    char chain_id[HM_CHAIN_ID_MAX + 1];
    hm_validator_set vset;
    uint32_t block_count; /* strictly increasing heights */
    ct_bundle_block *blocks;
    uint32_t entry_count;
    ct_bundle_entry *entries;
} ct_bundle;

/* An empty bundle for chain_id and vset (copied). HM_ERR_ARG for a bad
 * chain id or an empty validator set. */
HM_MUST_USE hm_err ct_bundle_init(ct_bundle *b, const char *chain_id, const hm_validator_set *vs);
/* Frees what b owns and leaves it empty; NULL-safe, idempotent. */
void ct_bundle_clear(ct_bundle *b);
/* Empties b for another bundle of the same chain id and validators: frees
 * what its entries own but keeps its arrays, so that a caller building one
 * bundle after another (the consumer page, per lookup) does not allocate,
 * copy and free them each time. b must have been initialised; release it
 * with ct_bundle_clear() in the end. NULL-safe. */
void ct_bundle_reset(ct_bundle *b);

/* Adds the block (header + certificate) if its height is not there yet, in
 * height order, and writes its index to *index (existing entries' indexes are
 * kept consistent). HM_ERR_FULL past CT_BUNDLE_BLOCKS_MAX; HM_ERR_BAD_VALUE if
 * a different header for the same height is already there. */
HM_MUST_USE hm_err ct_bundle_add_block(ct_bundle *b, const hm_block_header *header,
                                       const hm_cert *cert, uint32_t *index);

/* Converts an RFC 9162 inclusion proof position (index in a tree of
 * tree_size leaves, proof_len hashes) to the left-sibling bits used above.
 * HM_ERR_PROOF when proof_len is not the length that position needs. */
HM_MUST_USE hm_err ct_bundle_path_bits(uint64_t index, uint64_t tree_size, size_t proof_len,
                                       uint64_t *left_bits);

/* Adds an entry. tx is head||sig (or a whole tx: only head and sig are
 * kept). For CT_BUNDLE_RECORD, record/record_index/record_path describe the
 * record's inclusion in the tx's batch; pass NULL/0 for CT_BUNDLE_TX. The tx
 * position is given as an RFC 9162 proof (tx_index in a block of
 * tx_tree_size txs) in block block_index. Copies everything. */
HM_MUST_USE hm_err ct_bundle_add_entry(ct_bundle *b, uint8_t kind, const uint8_t *tx, size_t tx_len,
                                       const uint8_t *record, size_t record_len,
                                       uint64_t record_index,
                                       const uint8_t (*record_path)[HM_HASH_LEN],
                                       size_t record_path_len, uint32_t block_index,
                                       uint64_t tx_index, uint64_t tx_tree_size,
                                       const uint8_t (*tx_path)[HM_HASH_LEN], size_t tx_path_len);

/* Binary form (docs/proofs.md). Encode writes into w (use a growable
 * writer). Decode reads exactly one bundle and nothing after it, and writes
 * *out (which the caller clears) only on success. */
HM_MUST_USE hm_err ct_bundle_encode(const ct_bundle *b, hm_writer *w);
HM_MUST_USE hm_err ct_bundle_decode(const uint8_t *data, size_t data_len, ct_bundle *out);

/* JSON form: the same fields, hashes and bytes as lower-case hex, integers
 * as JSON numbers of at most 2^63-1. to_json returns a new reference (NULL
 * when out of memory or when an integer is above that). from_json
 * validates like decode and sets *reason on error. */
json_t *ct_bundle_to_json(const ct_bundle *b);
HM_MUST_USE hm_err ct_bundle_from_json(const json_t *j, ct_bundle *out, const char **reason);
/* The JSON form as compact text (malloc'd, NUL-terminated, caller frees),
 * written directly without building a JSON tree. HM_ERR_NOMEM, or
 * HM_ERR_OVERFLOW for an integer above 2^63-1. */
HM_MUST_USE hm_err ct_bundle_to_json_text(const ct_bundle *b, char **out, size_t *out_len);
/* Pieces of that text that many bundles share, for a caller that renders
 * bundles often to keep: the opening up to and including `"blocks":[` (for
 * a chain id and validator set), and one element of "blocks" (for a header
 * and its certificate). Malloc'd, NUL-terminated, caller frees. */
HM_MUST_USE hm_err ct_bundle_json_head_text(const char *chain_id, const hm_validator_set *vs,
                                            char **out, size_t *out_len);
HM_MUST_USE hm_err ct_bundle_json_block_text(const hm_block_header *h, const hm_cert *c, char **out,
                                             size_t *out_len);
typedef struct {
    const char *text; /* NULL: render it */
    size_t len;
} ct_bundle_json_piece;
/* ct_bundle_to_json_text with kept pieces copied in: head (NULL or a piece
 * with NULL text: rendered) must be ct_bundle_json_head_text of b's chain id
 * and validators, blocks (NULL, or b->block_count pieces) blocks[i] that of
 * b->blocks[i]. The caller vouches for that; the result is then the same
 * bytes as ct_bundle_to_json_text. */
HM_MUST_USE hm_err ct_bundle_to_json_text_pieces(const ct_bundle *b,
                                                 const ct_bundle_json_piece *head,
                                                 const ct_bundle_json_piece *blocks, char **out,
                                                 size_t *out_len);

/* Verification, step by step. report (may be NULL) is called for every step
 * checked, in order, with ok false for the step that failed (the last call).
 * step is a short machine name ("certificate"), detail a sentence for
 * people. */
typedef void (*ct_bundle_report_fn)(void *arg, const char *step, bool ok, const char *detail);

/* Checks b against the genesis chain id and validator set: HM_OK only if
 * every step holds. Errors: HM_ERR_BAD_VALUE (wrong chain, wrong validator
 * set, malformed head or reference), HM_ERR_PROOF (a Merkle path or a
 * certificate that does not hold), HM_ERR_BAD_SIG (a signature). */
HM_MUST_USE hm_err ct_bundle_verify(const ct_bundle *b, const char *chain_id,
                                    const hm_validator_set *genesis_vset,
                                    ct_bundle_report_fn report, void *arg);

/* Reads the chain id and validator set (validators[].consensus_pubkey, in
 * order) from a genesis file's JSON text. HM_ERR_BAD_VALUE with *reason. */
HM_MUST_USE hm_err ct_bundle_genesis_parse(const char *json_text, size_t json_len,
                                           char chain_id[HM_CHAIN_ID_MAX + 1], hm_validator_set *vs,
                                           const char **reason);

/* A tx head decoded alone (no records list): the fields of ct_tx that the
 * head holds, with head/head_len pointing into data. data is head || sig
 * exactly. */
HM_MUST_USE hm_err ct_tx_head_decode(const uint8_t *data, size_t data_len, ct_tx *tx);

#endif
