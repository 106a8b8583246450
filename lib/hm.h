/* lib/hm.h — the whole public surface of Hallmark's core library.
 *
 * Layer: the bottom. Everything else (consensus/, contracts/, node/, cli/)
 * builds on what is declared here and on nothing inside lib/ that is not.
 * What lives here: error codes, hex, logging, SHA-256 and tagged hashes,
 * the canonical binary encoding, RFC 9162 Merkle trees and proofs, BIP340
 * keys and domain-separated signatures, key files, and the chain objects that
 * a light client must be able to check alone (block header, validator set,
 * precommit vote, commit certificate).
 *
 * Never: sockets, libevent, RocksDB, TLS. The only disk access is the key
 * file, the only randomness is key generation and signing's aux nonce.
 *
 * Conventions: functions that can fail return hm_err and must be checked;
 * binary data is (const uint8_t *data, size_t data_len); char * is for
 * NUL-terminated text only; the caller owns every buffer it passes in;
 * nothing here keeps a pointer past the call unless it says so. */
#ifndef HALLMARK_HM_H
#define HALLMARK_HM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HM_MUST_USE __attribute__((warn_unused_result))

/* ---------------------------------------------------------------- errors */

/* Stable error codes. The first group is "invalid input from outside" and is
 * returned, counted, reported; never asserted. hm_err_name() gives the short
 * machine name used in logs and JSON errors ("trailing_bytes"), and
 * hm_err_message() a sentence for people. */
typedef enum {
    HM_OK = 0,
    HM_ERR_ARG,          /* an argument out of its documented domain */
    HM_ERR_NOMEM,        /* allocation failed */
    HM_ERR_TRUNCATED,    /* decoder: input ended inside a value */
    HM_ERR_TRAILING,     /* decoder: bytes left after the value */
    HM_ERR_NONMINIMAL,   /* decoder: varint not in its shortest form */
    HM_ERR_OVERFLOW,     /* decoder: integer above its maximum */
    HM_ERR_TOO_LONG,     /* a length above its per-field maximum */
    HM_ERR_UNKNOWN_TYPE, /* decoder: a type tag or version we do not know */
    HM_ERR_BAD_VALUE,    /* a value outside its domain (bool 2, NUL in text) */
    HM_ERR_FULL,         /* writer: the output does not fit its capacity */
    HM_ERR_HEX,          /* not hex, or not the expected length */
    HM_ERR_BAD_KEY,      /* not a valid secp256k1 key */
    HM_ERR_BAD_SIG,      /* signature does not verify */
    HM_ERR_PROOF,        /* Merkle proof or certificate does not verify */
    HM_ERR_IO,           /* reading or writing a file failed */
    HM_ERR_KEY_PERMS,    /* key file readable by group or others */
    HM_ERR_KEY_FORMAT,   /* key file malformed */
    HM_ERR_EXISTS,       /* refusing to overwrite an existing file */
    HM_ERR_RANDOM,       /* the OS random source failed */
    HM_ERR_NOT_FOUND,    /* a lookup found nothing */
    HM_ERR_CRYPTO,       /* the crypto library failed (not the input) */
    HM_ERR_DENIED,       /* the signer is not allowed to do this */
    HM_ERR_CONFLICT,     /* refused by a rule over current state (duplicate, over-refund) */
    HM_ERR_LIMIT,        /* a configured bound reached (queue full, too many) */
    HM_ERR__COUNT
} hm_err;

const char *hm_err_name(hm_err err);
const char *hm_err_message(hm_err err);

/* ------------------------------------------------------------------- hex */

/* Writes 2*data_len lower-case hex digits and a NUL to out (capacity
 * 2*data_len+1). */
void hm_hex_encode(const uint8_t *data, size_t data_len, char *out);
/* Writes the decimal digits of v at out (no sign, no NUL) and returns how
 * many (1 to 20): a number in an HTTP header or a page without printf. */
size_t hm_u64_decimal(uint64_t v, char out[20]);
/* Decodes exactly out_len bytes from text (upper or lower case); HM_ERR_HEX
 * if text is not exactly 2*out_len hex digits. Writes nothing on error. */
HM_MUST_USE hm_err hm_hex_decode(const char *text, uint8_t *out, size_t out_len);
/* Decodes any even-length hex text of at most 2*out_cap digits. */
HM_MUST_USE hm_err hm_hex_decode_any(const char *text, uint8_t *out, size_t out_cap,
                                     size_t *out_len);

/* --------------------------------------------------------------- logging */

typedef enum { HM_LOG_DEBUG = 0, HM_LOG_INFO, HM_LOG_WARN, HM_LOG_ERROR } hm_log_level;

/* One line per event on stderr: `ts=… level=info event=NAME` followed by the
 * caller's key=value text. The timestamp comes from the clock hook, which
 * node/ sets; lib/ never reads a clock itself (without a hook, no ts=). */
void hm_log_set_level(hm_log_level level);
hm_log_level hm_log_get_level(void);
void hm_log_set_clock(uint64_t (*now_ms)(void));
void hm_log_set_prefix(const char *prefix); /* e.g. "node=v1"; copied */
void hm_log(hm_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
HM_MUST_USE hm_err hm_log_level_parse(const char *text, hm_log_level *out);

/* ---------------------------------------------------------------- SHA-256 */

#define HM_HASH_LEN 32

/* One-shot SHA-256. Uses an EVP_MD fetched once and a per-thread context, so
 * it is cheap to call on small inputs in hot paths. */
void hm_sha256(const uint8_t *data, size_t data_len, uint8_t out[HM_HASH_LEN]);

/* Incremental SHA-256 for long or scattered inputs. Opaque, heap-owned:
 * hm_sha256_new() returns NULL only when out of memory; hm_sha256_free(NULL)
 * is a no-op. hm_sha256_final() resets the context for reuse. */
typedef struct hm_sha256_ctx hm_sha256_ctx;
hm_sha256_ctx *hm_sha256_new(void);
void hm_sha256_update(hm_sha256_ctx *ctx, const uint8_t *data, size_t data_len);
void hm_sha256_final(hm_sha256_ctx *ctx, uint8_t out[HM_HASH_LEN]);
void hm_sha256_free(hm_sha256_ctx *ctx);

/* BIP340-style tagged hash: SHA256(SHA256(tag) || SHA256(tag) || data). The
 * tag is the domain: two purposes never share a digest. */
void hm_tagged_hash(const char *tag, const uint8_t *data, size_t data_len,
                    uint8_t out[HM_HASH_LEN]);

/* --------------------------------------------------------- canonical encoding
 *
 * docs/encoding.md is the normative description. In short: fixed-width
 * integers are big-endian; varints are unsigned LEB128 in their shortest
 * form (at most 10 bytes, value < 2^64); byte strings and text are a varint
 * length then the bytes, each field with its own maximum; bools are one byte
 * 0 or 1. Writer and reader keep the first error ("sticky"), so a sequence of
 * calls is checked once at the end. */

typedef struct {
    uint8_t *buf;   /* owned by the writer when growable, else borrowed */
    size_t len;     /* bytes written so far */
    size_t cap;     /* current capacity of buf */
    size_t cap_max; /* growable writers never exceed this */
    bool growable;
    hm_err err; /* first error, HM_OK while none */
} hm_writer;

/* A writer over a caller-owned buffer. */
void hm_writer_init(hm_writer *w, uint8_t *buf, size_t cap);
/* A writer that allocates and grows up to cap_max bytes; release with
 * hm_writer_free() (or take the buffer with hm_writer_take()). */
void hm_writer_init_growable(hm_writer *w, size_t cap_max);
void hm_writer_free(hm_writer *w);
/* Hands the growable buffer to the caller (free() it); the writer is reset.
 * Check hm_writer_error() first: the buffer is handed over even after an
 * error. NULL only when out of memory or when a failed writer had none. */
uint8_t *hm_writer_take(hm_writer *w, size_t *len_out);

void hm_put_u8(hm_writer *w, uint8_t v);
void hm_put_u16(hm_writer *w, uint16_t v);
void hm_put_u32(hm_writer *w, uint32_t v);
void hm_put_u64(hm_writer *w, uint64_t v);
void hm_put_varint(hm_writer *w, uint64_t v);
void hm_put_bool(hm_writer *w, bool v);
/* Fixed-size bytes, no length prefix (hashes, keys, signatures). */
void hm_put_raw(hm_writer *w, const uint8_t *data, size_t data_len);
/* Length-prefixed bytes; HM_ERR_TOO_LONG if data_len > len_max. */
void hm_put_bytes(hm_writer *w, const uint8_t *data, size_t data_len, size_t len_max);
/* Length-prefixed text (no NUL inside); HM_ERR_TOO_LONG above len_max. */
void hm_put_str(hm_writer *w, const char *text, size_t len_max);
/* Marks the writer failed with err (keeps an earlier error). */
void hm_writer_fail(hm_writer *w, hm_err err);
HM_MUST_USE hm_err hm_writer_error(const hm_writer *w);

typedef struct {
    const uint8_t *data; /* borrowed for the reader's lifetime */
    size_t len;
    size_t pos;
    hm_err err;
} hm_reader;

void hm_reader_init(hm_reader *r, const uint8_t *data, size_t data_len);
uint8_t hm_get_u8(hm_reader *r);
uint16_t hm_get_u16(hm_reader *r);
uint32_t hm_get_u32(hm_reader *r);
uint64_t hm_get_u64(hm_reader *r);
/* A minimal varint not above max (HM_ERR_OVERFLOW if above). */
uint64_t hm_get_varint(hm_reader *r, uint64_t max);
bool hm_get_bool(hm_reader *r);
void hm_get_raw(hm_reader *r, uint8_t *out, size_t out_len);
/* Length-prefixed bytes of at most len_max; returns a pointer into the input
 * (valid while the input is) and writes the length; NULL on error. */
const uint8_t *hm_get_bytes(hm_reader *r, size_t len_max, size_t *len_out);
/* Length-prefixed text of at most len_max bytes, copied NUL-terminated into
 * out (capacity out_cap > len_max); HM_ERR_BAD_VALUE for an embedded NUL. */
void hm_get_str(hm_reader *r, char *out, size_t out_cap, size_t len_max);
void hm_reader_fail(hm_reader *r, hm_err err);
bool hm_reader_at_end(const hm_reader *r);
/* The sticky error, or HM_ERR_TRAILING if no error but bytes remain. */
HM_MUST_USE hm_err hm_reader_finish(const hm_reader *r);
HM_MUST_USE hm_err hm_reader_error(const hm_reader *r);

/* ---------------------------------------------------- Merkle (RFC 9162 2.1) */

#define HM_MERKLE_PROOF_MAX 64 /* hashes in any proof of a tree < 2^64 */

/* SHA-256(0x00 || data) */
void hm_merkle_leaf_hash(const uint8_t *data, size_t data_len, uint8_t out[HM_HASH_LEN]);
/* SHA-256(0x01 || left || right) */
void hm_merkle_node_hash(const uint8_t left[HM_HASH_LEN], const uint8_t right[HM_HASH_LEN],
                         uint8_t out[HM_HASH_LEN]);
/* Root of n leaf hashes; the root of the empty tree is SHA-256(""). */
void hm_merkle_root(const uint8_t (*leaf_hashes)[HM_HASH_LEN], size_t n, uint8_t root[HM_HASH_LEN]);

/* Inclusion proof of leaf index in the tree of the n leaf hashes; writes up to
 * HM_MERKLE_PROOF_MAX hashes. HM_ERR_ARG if index >= n. */
HM_MUST_USE hm_err hm_merkle_inclusion_proof(const uint8_t (*leaf_hashes)[HM_HASH_LEN], size_t n,
                                             size_t index, uint8_t (*proof)[HM_HASH_LEN],
                                             size_t *proof_len);
/* RFC 9162 2.1.3.2. HM_OK when the proof links leaf_hash at index of a tree
 * of tree_size leaves to root; HM_ERR_PROOF otherwise (including a proof of
 * the wrong length or index >= tree_size). */
HM_MUST_USE hm_err hm_merkle_inclusion_verify(const uint8_t leaf_hash[HM_HASH_LEN], uint64_t index,
                                              uint64_t tree_size,
                                              const uint8_t (*proof)[HM_HASH_LEN], size_t proof_len,
                                              const uint8_t root[HM_HASH_LEN]);
/* Consistency proof between the first size1 leaves and all n (= size2). */
HM_MUST_USE hm_err hm_merkle_consistency_proof(const uint8_t (*leaf_hashes)[HM_HASH_LEN], size_t n,
                                               size_t size1, uint8_t (*proof)[HM_HASH_LEN],
                                               size_t *proof_len);
/* RFC 9162 2.1.4.2, with the rules of shared/testdata/merkle: size1 == 0 is an
 * error, size1 == size2 needs an empty proof and equal roots. */
HM_MUST_USE hm_err hm_merkle_consistency_verify(uint64_t size1, uint64_t size2,
                                                const uint8_t root1[HM_HASH_LEN],
                                                const uint8_t root2[HM_HASH_LEN],
                                                const uint8_t (*proof)[HM_HASH_LEN],
                                                size_t proof_len);

/* Streaming root: O(log n) state, for 100,000+ leaves arriving one by one. */
typedef struct {
    uint8_t stack[64][HM_HASH_LEN]; /* perfect subtree roots, by height */
    uint64_t count;                 /* leaves added */
} hm_merkle_builder;
void hm_merkle_builder_init(hm_merkle_builder *b);
void hm_merkle_builder_add(hm_merkle_builder *b, const uint8_t leaf_hash[HM_HASH_LEN]);
void hm_merkle_builder_root(const hm_merkle_builder *b, uint8_t root[HM_HASH_LEN]);

/* A whole tree kept level by level (about 2n hashes), so that any leaf's
 * inclusion proof costs O(log n). Heap-owned; hm_merkle_tree_free(NULL) is a
 * no-op. */
typedef struct hm_merkle_tree hm_merkle_tree;
HM_MUST_USE hm_err hm_merkle_tree_new(const uint8_t (*leaf_hashes)[HM_HASH_LEN], size_t n,
                                      hm_merkle_tree **out);
void hm_merkle_tree_root(const hm_merkle_tree *t, uint8_t root[HM_HASH_LEN]);
size_t hm_merkle_tree_size(const hm_merkle_tree *t);
HM_MUST_USE hm_err hm_merkle_tree_proof(const hm_merkle_tree *t, size_t index,
                                        uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len);
void hm_merkle_tree_free(hm_merkle_tree *t);

/* ------------------------------------------------------ keys and signatures */

#define HM_PUBKEY_LEN 32
#define HM_SECKEY_LEN 32
#define HM_SIG_LEN 64
#define HM_CHAIN_ID_MAX 64

typedef struct {
    uint8_t bytes[HM_PUBKEY_LEN]; /* x-only secp256k1 public key */
} hm_pubkey;

typedef struct {
    uint8_t bytes[HM_SIG_LEN]; /* BIP340 Schnorr signature */
} hm_sig;

/* A secret key with its public key, precomputed for fast signing. Opaque
 * bytes (a libsecp256k1 keypair); wipe with hm_keypair_wipe(). */
typedef struct {
    uint8_t opaque[96];
    hm_pubkey pub;
} hm_keypair;

/* Signing purposes (the tag of the tagged hash). A signature made for one
 * never verifies for another. */
#define HM_PURPOSE_TX "hallmark/tx"
#define HM_PURPOSE_PROPOSAL "hallmark/proposal"
#define HM_PURPOSE_VOTE "hallmark/vote"
#define HM_PURPOSE_REQUEST "hallmark/request"
#define HM_PURPOSE_RAW "hallmark/raw"

/* New key from the OS's secure random source (getrandom). */
HM_MUST_USE hm_err hm_keypair_generate(hm_keypair *kp);
HM_MUST_USE hm_err hm_keypair_from_seckey(hm_keypair *kp, const uint8_t seckey[HM_SECKEY_LEN]);
/* Copies the 32 secret bytes out (for key files); wipe them after use. */
void hm_keypair_seckey(const hm_keypair *kp, uint8_t seckey[HM_SECKEY_LEN]);
void hm_keypair_wipe(hm_keypair *kp);
/* HM_OK if bytes are the x coordinate of a curve point. */
HM_MUST_USE hm_err hm_pubkey_check(const hm_pubkey *pub);

/* The 32-byte digest that is signed for (purpose, chain id, message):
 * tagged_hash(purpose, varint(len(chain_id)) || chain_id || message). */
void hm_sighash(const char *purpose, const char *chain_id, const uint8_t *msg, size_t msg_len,
                uint8_t out[HM_HASH_LEN]);
HM_MUST_USE hm_err hm_sign(const hm_keypair *kp, const char *purpose, const char *chain_id,
                           const uint8_t *msg, size_t msg_len, hm_sig *sig);
/* HM_OK, HM_ERR_BAD_SIG, or HM_ERR_BAD_KEY (pubkey not on the curve). */
HM_MUST_USE hm_err hm_verify(const hm_pubkey *pub, const char *purpose, const char *chain_id,
                             const uint8_t *msg, size_t msg_len, const hm_sig *sig);

/* Bare BIP340 over an arbitrary message, for the official test vectors.
 * aux may be NULL (then 32 zero bytes are used). */
HM_MUST_USE hm_err hm_bip340_sign(const hm_keypair *kp, const uint8_t *msg, size_t msg_len,
                                  const uint8_t aux[32], hm_sig *sig);
HM_MUST_USE hm_err hm_bip340_verify(const hm_pubkey *pub, const uint8_t *msg, size_t msg_len,
                                    const hm_sig *sig);

/* Key files: one line "hallmark-key-v1 <64 hex digits of the secret key>\n".
 * Written with mode 0600, refusing to overwrite (HM_ERR_EXISTS). Reading
 * refuses a file readable or writable by group or others (HM_ERR_KEY_PERMS)
 * or malformed (HM_ERR_KEY_FORMAT); HM_ERR_NOT_FOUND if there is no file,
 * HM_ERR_BAD_KEY if the number is not a valid secret key. */
HM_MUST_USE hm_err hm_keyfile_write(const char *path, const hm_keypair *kp);
HM_MUST_USE hm_err hm_keyfile_read(const char *path, hm_keypair *kp);

/* Fills buf with bytes from the OS's secure random source. */
HM_MUST_USE hm_err hm_random_bytes(uint8_t *buf, size_t len);

/* ---------------------------------------- chain objects a light client checks
 *
 * These are here, not in consensus/, because a proof bundle is checked with
 * nothing but lib/ and a genesis file. */

#define HM_VALIDATORS_MAX 128

typedef struct {
    char chain_id[HM_CHAIN_ID_MAX + 1];
    uint64_t height;                      /* first block is 1 */
    uint64_t time_ms;                     /* Unix milliseconds, strictly increasing */
    uint8_t prev_block_hash[HM_HASH_LEN]; /* zero for height 1 */
    uint8_t tx_root[HM_HASH_LEN];         /* RFC 9162 root over the txs */
    uint8_t state_root[HM_HASH_LEN];      /* state after this block's txs */
    uint8_t validator_set_hash[HM_HASH_LEN];
    hm_pubkey proposer;
} hm_block_header;

#define HM_BLOCK_HEADER_ENCODED_MAX (1 + 1 + HM_CHAIN_ID_MAX + 10 + 8 + 4 * 32 + 32)

/* Layout in docs/encoding.md. Encode refuses (and fails w with) an empty or
 * too long chain id or height 0. Decode reads one header from r and leaves
 * the rest: call hm_reader_finish() to refuse trailing bytes. */
HM_MUST_USE hm_err hm_block_header_encode(const hm_block_header *h, hm_writer *w);
HM_MUST_USE hm_err hm_block_header_decode(hm_reader *r, hm_block_header *h);
/* The block id: tagged_hash("hallmark/block", encoded header). */
HM_MUST_USE hm_err hm_block_header_hash(const hm_block_header *h, uint8_t out[HM_HASH_LEN]);

typedef struct {
    uint32_t count;
    hm_pubkey keys[HM_VALIDATORS_MAX]; /* order = index = proposer rotation */
} hm_validator_set;

/* Largest f with 3f+1 <= n, and the quorum 2f+1 generalised: floor(2n/3)+1. */
uint32_t hm_validator_set_quorum(const hm_validator_set *vs);
/* tagged_hash("hallmark/validators", varint count || keys). */
void hm_validator_set_hash(const hm_validator_set *vs, uint8_t out[HM_HASH_LEN]);
/* Index of pub in vs, or -1. */
int hm_validator_set_find(const hm_validator_set *vs, const hm_pubkey *pub);

typedef enum { HM_VOTE_PREVOTE = 1, HM_VOTE_PRECOMMIT = 2 } hm_vote_type;

/* What a validator signs when it votes. block_id all zero means nil. */
typedef struct {
    uint8_t type; /* hm_vote_type */
    uint64_t height;
    uint32_t round;
    uint8_t block_id[HM_HASH_LEN];
} hm_vote_body;

/* Always HM_VOTE_BODY_ENCODED_LEN bytes; decode refuses an unknown type. */
#define HM_VOTE_BODY_ENCODED_LEN (1 + 8 + 4 + HM_HASH_LEN)
void hm_vote_body_encode(const hm_vote_body *v, hm_writer *w);
HM_MUST_USE hm_err hm_vote_body_decode(hm_reader *r, hm_vote_body *v);

typedef struct {
    uint32_t validator_index;
    hm_sig sig;
} hm_cert_sig;

/* A commit certificate: >= quorum precommits for block_id at (height, round),
 * signers in strictly increasing index order. */
typedef struct {
    uint64_t height;
    uint32_t round;
    uint8_t block_id[HM_HASH_LEN];
    uint32_t count;
    hm_cert_sig sigs[HM_VALIDATORS_MAX];
} hm_cert;

#define HM_CERT_ENCODED_MAX (8 + 4 + HM_HASH_LEN + 2 + HM_VALIDATORS_MAX * (2 + HM_SIG_LEN))
/* Decode checks the structure only (count <= HM_VALIDATORS_MAX, indices
 * below it); order, membership and signatures are hm_cert_verify's job. */
HM_MUST_USE hm_err hm_cert_encode(const hm_cert *c, hm_writer *w);
HM_MUST_USE hm_err hm_cert_decode(hm_reader *r, hm_cert *c);
/* HM_OK if c carries >= quorum valid precommit signatures of distinct
 * members of vs for c->block_id. Rejects (HM_ERR_PROOF) too few signatures,
 * duplicate or out-of-order signers, an index outside vs, a nil block id;
 * (HM_ERR_BAD_SIG) any signature that does not verify. */
HM_MUST_USE hm_err hm_cert_verify(const hm_cert *c, const char *chain_id,
                                  const hm_validator_set *vs);

#endif
