/* contracts/ct_settlement.h — split contracts, sales, refunds and payouts:
 * transaction bodies, the pure split arithmetic, stored records and queries.
 * Included by ct.h; docs/settlement.md is the normative description (rules,
 * rounding, state schema, request signing).
 *
 * Layer: contracts/ (pure). Money is an integer count of minor units with an
 * ISO 4217 code; nothing here uses floating point, a clock or randomness.
 * Every function that reads outside input bounds and validates it and says
 * why it refused. */
#ifndef HALLMARK_CT_SETTLEMENT_H
#define HALLMARK_CT_SETTLEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- limits */

#define CT_CURRENCY_LEN 3
#define CT_BPS_TOTAL 10000u
#define CT_AMOUNT_MAX 1000000000000000ull /* 10^15 minor units per sale */
#define CT_SPLIT_NAME_MAX 64
#define CT_SPLIT_SHARES_MAX 32
#define CT_SPLIT_FEES_MAX 8
#define CT_SPLIT_DEPTH_MAX 4 /* contract levels, the root contract counting 1 */
#define CT_SPLIT_VERSIONS_MAX 256
#define CT_SPLIT_CHECK_VISITS_MAX 4096 /* contract versions visited by the cycle check */
#define CT_SALE_NODES_MAX 128          /* nodes of one sale's expanded split tree */
#define CT_RETURN_WINDOW_MAX_MS (366ull * 24 * 3600 * 1000)
#define CT_ORDER_ID_MAX 64
#define CT_SESSION_ID_MAX 64
#define CT_GTIN_LEN 14
#define CT_SERIAL_MAX 20
#define CT_PAYOUT_REF_MAX 128
#define CT_SETTLE_BODY_VERSION 1

/* Rule numbers reported in ct_result.rule for a refused settlement tx. */
typedef enum {
    CT_SRULE_BODY = 1,               /* body or record malformed */
    CT_SRULE_SIGNER = 2,             /* signer lacks the role or is not the owner */
    CT_SRULE_SHARES_SUM = 3,         /* shares do not sum to 10,000 bps */
    CT_SRULE_RECIPIENTS = 4,         /* no recipient, too many, or a zero share */
    CT_SRULE_CURRENCY = 5,           /* not three upper-case letters */
    CT_SRULE_CYCLE = 6,              /* a contract would reach itself */
    CT_SRULE_DEPTH = 7,              /* nesting deeper than CT_SPLIT_DEPTH_MAX */
    CT_SRULE_SPLIT_EXISTS = 8,       /* the creator already has a contract of that name */
    CT_SRULE_SPLIT_UNKNOWN = 9,      /* no such contract (or none in force yet) */
    CT_SRULE_AMEND_HEIGHT = 10,      /* amendment from a past height or not after the last */
    CT_SRULE_ORDER_DUPLICATE = 11,   /* order id already used by this platform */
    CT_SRULE_AMOUNT = 12,            /* zero, or above CT_AMOUNT_MAX */
    CT_SRULE_CURRENCY_MISMATCH = 13, /* the currency differs from the contract's or sale's */
    CT_SRULE_SALE_UNKNOWN = 14,      /* refund of an order this platform never recorded */
    CT_SRULE_OVER_REFUND = 15,       /* refund above what is left of the sale */
    CT_SRULE_OVER_PAYOUT = 16,       /* payout above available + pending */
    CT_SRULE_PAYOUT_PENDING = 17,    /* payout would take money still pending */
    CT_SRULE_TREE_LIMIT = 18,        /* the expanded split tree is too large */
    CT_SRULE_VERSIONS = 19,          /* too many amendments */
    CT_SRULE_WINDOW = 20,            /* return window above CT_RETURN_WINDOW_MAX_MS */
    CT_SRULE_FEES = 21,              /* too many fees or a zero fee */
    CT_SRULE_BATCH = 22,             /* records where none belong, or none where needed */
    CT_SRULE_GRAPH_LIMIT = 23,       /* the cycle check would visit too much */
} ct_settle_rule;

/* ------------------------------------------------------------ parties */

typedef enum { CT_PARTY_ACCOUNT = 1, CT_PARTY_SPLIT = 2 } ct_party_kind;

/* A recipient: a member's account (id = the member's public key) or another
 * split contract (id = its contract id). */
typedef struct {
    uint8_t kind; /* ct_party_kind */
    uint8_t id[32];
} ct_party;

typedef struct {
    ct_party to;
    uint32_t share_bps;
} ct_split_share;

typedef struct {
    ct_party to;
    uint64_t amount; /* minor units, taken before the shares */
} ct_split_fee;

/* The terms of one version of a split contract. */
typedef struct {
    char currency[CT_CURRENCY_LEN + 1];
    uint64_t return_window_ms;
    uint32_t fee_count;
    ct_split_fee fees[CT_SPLIT_FEES_MAX];
    uint32_t share_count;
    ct_split_share shares[CT_SPLIT_SHARES_MAX];
} ct_split_terms;

/* A stored version: terms in force from from_height. */
typedef struct {
    uint32_t version; /* 1 for the creation, +1 per amendment */
    uint64_t from_height;
    ct_split_terms terms;
} ct_split_version;

/* A contract's head record. */
typedef struct {
    uint8_t id[32];
    hm_pubkey creator;
    char name[CT_SPLIT_NAME_MAX + 1];
    char currency[CT_CURRENCY_LEN + 1];
    uint32_t version_count;
} ct_split_head;

/* The contract id: tagged_hash("hallmark/split", creator || name). */
void ct_split_id(const hm_pubkey *creator, const char *name, uint8_t out[32]);

/* ------------------------------------------------------- tx bodies
 *
 *   party  = u8 kind | raw id(32)
 *   terms  = raw currency(3) | varint return_window_ms
 *            | varint fee_count {party varint amount} | varint share_count {party varint bps}
 *   SPLIT_CREATE body = u8 1 | str name | terms
 *   SPLIT_AMEND  body = u8 1 | raw contract_id(32) | varint from_height | terms
 *   SALE         body = u8 1 | sale, or empty with records (each record a sale)
 *   sale   = str order_id | varint gross | raw currency(3) | raw contract_id(32)
 *            | bool has_item [str gtin str serial] | str session_id
 *            | bool has_streamer [raw streamer(32)]
 *   REFUND body = u8 1 | str order_id | varint amount | raw currency(3)
 *   PAYOUT body = u8 1 | raw account(32) | raw currency(3) | varint amount | str reference
 *
 * Encoders fail (sticky writer error) on values outside their domain;
 * decoders are strict (bounds, domains, no trailing bytes) and write *out
 * only on success. */

typedef struct {
    char name[CT_SPLIT_NAME_MAX + 1];
    ct_split_terms terms;
} ct_split_create_body;

typedef struct {
    uint8_t contract_id[32];
    uint64_t from_height;
    ct_split_terms terms;
} ct_split_amend_body;

typedef struct {
    char order_id[CT_ORDER_ID_MAX + 1];
    uint64_t gross;
    char currency[CT_CURRENCY_LEN + 1];
    uint8_t contract_id[32];
    bool has_item;
    char gtin[CT_GTIN_LEN + 1];
    char serial[CT_SERIAL_MAX + 1];
    char session_id[CT_SESSION_ID_MAX + 1]; /* may be empty */
    bool has_streamer;
    hm_pubkey streamer;
} ct_sale_body;

typedef struct {
    char order_id[CT_ORDER_ID_MAX + 1];
    uint64_t amount;
    char currency[CT_CURRENCY_LEN + 1];
} ct_refund_body;

typedef struct {
    hm_pubkey account; /* the member whose available balance is paid out */
    char currency[CT_CURRENCY_LEN + 1];
    uint64_t amount;
    char reference[CT_PAYOUT_REF_MAX + 1]; /* external bank or wallet reference */
} ct_payout_body;

/* Domain checks shared by encoders, decoders and the CLI. */
bool ct_currency_is_valid(const char *code);
bool ct_split_terms_are_valid(const ct_split_terms *t, uint32_t *rule);

HM_MUST_USE hm_err ct_split_create_encode(const ct_split_create_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_split_create_decode(const uint8_t *data, size_t len,
                                          ct_split_create_body *out);
HM_MUST_USE hm_err ct_split_amend_encode(const ct_split_amend_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_split_amend_decode(const uint8_t *data, size_t len, ct_split_amend_body *out);
/* with_version: the one-sale body form (leading u8 1); a batch record omits it. */
HM_MUST_USE hm_err ct_sale_encode(const ct_sale_body *b, bool with_version, hm_writer *w);
HM_MUST_USE hm_err ct_sale_decode(const uint8_t *data, size_t len, bool with_version,
                                  ct_sale_body *out);
HM_MUST_USE hm_err ct_refund_encode(const ct_refund_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_refund_decode(const uint8_t *data, size_t len, ct_refund_body *out);
HM_MUST_USE hm_err ct_payout_encode(const ct_payout_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_payout_decode(const uint8_t *data, size_t len, ct_payout_body *out);

/* ------------------------------------------------------ split arithmetic
 *
 * Pure functions: same inputs, same outputs on every machine. */

#define CT_APPORTION_MAX CT_SALE_NODES_MAX

/* Largest-remainder apportionment of total over n weights: out[i] =
 * floor(total * w[i] / W) plus one for the (total - sum of floors) largest
 * remainders, ties to the lower index (W = sum of weights). The parts sum to
 * total exactly; a zero weight gets zero; if total <= W no part exceeds its
 * weight. HM_ERR_ARG if n is 0 or above CT_APPORTION_MAX, W is 0 or the sum
 * overflows. */
HM_MUST_USE hm_err ct_apportion(uint64_t total, const uint64_t *weights, size_t n, uint64_t *out);

/* The root index marker of a sale tree node. */
#define CT_NODE_ROOT UINT16_MAX

/* One node of a sale's split tree: the root contract, nested contracts,
 * fee and share recipients. amount is what the node received; a leaf
 * (an account) also tracks what refunds voided. Nodes are in depth-first
 * order, parents before children. */
typedef struct {
    ct_party party;
    uint16_t parent; /* index of the parent node, CT_NODE_ROOT for the root */
    uint8_t depth;   /* 1 for the root contract */
    uint8_t is_fee;  /* reached through a fixed fee rather than a share */
    uint32_t share_bps;
    uint32_t version; /* contracts: the version that applied */
    uint64_t amount;
    uint64_t voided; /* accounts: voided by refunds so far */
} ct_sale_node;

/* Resolves the version of contract id in force at height; HM_ERR_NOT_FOUND if
 * none, other errors are operating errors. */
typedef hm_err (*ct_split_resolve_fn)(void *arg, const uint8_t id[32], uint64_t height,
                                      ct_split_version *out);

/* Why an expansion failed, for the refusal. */
typedef struct {
    uint32_t rule; /* CT_SRULE_* when the result is a refusal, else 0 */
    char message[120];
} ct_expand_error;

/* Splits amount under the contract root_id at height into nodes (capacity
 * nodes_cap): fixed fees first in their order (each at most what is left),
 * then the rest by shares with ct_apportion, recursing into nested
 * contracts. HM_OK, or HM_ERR_CONFLICT with err filled (unknown contract,
 * depth, tree too large, nested currency differs from currency), or an
 * operating error of resolve. */
HM_MUST_USE hm_err ct_split_expand(ct_split_resolve_fn resolve, void *arg,
                                   const uint8_t root_id[32], const char *currency, uint64_t height,
                                   uint64_t amount, ct_sale_node *nodes, size_t nodes_cap,
                                   uint32_t *node_count, ct_expand_error *err);

/* Voids refund (<= what the leaves still hold) over the leaves' remaining
 * amounts (amount - voided) with ct_apportion, writing each leaf's share into
 * voided_now[i] (0 for contract nodes) and adding it to nodes[i].voided.
 * HM_ERR_ARG if refund exceeds the remaining total. */
HM_MUST_USE hm_err ct_sale_void(ct_sale_node *nodes, uint32_t node_count, uint64_t refund,
                                uint64_t *voided_now);

/* ------------------------------------------------------------- accounts
 *
 * Text form (URLs, CLI, JSON): one letter and 64 hex digits.
 *   m<hex>  a member's account (recipient of commissions)
 *   s<hex>  a platform's sales clearing account (source of every gross)
 *   p<hex>  money paid out of a member's account to the outside */

typedef enum {
    CT_ACCOUNT_MEMBER = 1,
    CT_ACCOUNT_SALES = 2,
    CT_ACCOUNT_PAID = 3,
} ct_account_kind;

typedef struct {
    uint8_t kind; /* ct_account_kind */
    hm_pubkey owner;
} ct_account;

#define CT_ACCOUNT_TEXT_LEN 65
void ct_account_format(const ct_account *a, char out[CT_ACCOUNT_TEXT_LEN + 1]);
HM_MUST_USE hm_err ct_account_parse(const char *text, ct_account *out);

typedef enum { CT_BUCKET_PENDING = 0, CT_BUCKET_AVAILABLE = 1 } ct_bucket;

typedef enum {
    CT_ENTRY_SALE = 1,
    CT_ENTRY_REFUND = 2,
    CT_ENTRY_MATURE = 3,
    CT_ENTRY_PAYOUT = 4,
} ct_entry_kind;

/* One journal posting. For every tx (and every maturity), the postings of
 * each currency sum to zero. */
typedef struct {
    uint64_t seq; /* global journal order, from 1 */
    uint64_t height;
    uint64_t time_ms;
    uint8_t entry;              /* ct_entry_kind */
    uint8_t tx_id[HM_HASH_LEN]; /* zero for a maturity (no tx) */
    hm_pubkey platform;         /* the sale's platform (payouts: zero) */
    char order_id[CT_ORDER_ID_MAX + 1];
    ct_account account;
    char currency[CT_CURRENCY_LEN + 1];
    uint8_t bucket; /* ct_bucket */
    int64_t amount; /* signed minor units */
} ct_posting;

HM_MUST_USE hm_err ct_posting_encode(const ct_posting *p, hm_writer *w);
HM_MUST_USE hm_err ct_posting_decode(const uint8_t *data, size_t len, ct_posting *out);

typedef struct {
    char currency[CT_CURRENCY_LEN + 1];
    int64_t pending;
    int64_t available; /* below zero: owed */
} ct_balance;

/* A stored sale (with its whole split tree). Large: allocate it. */
typedef struct {
    hm_pubkey platform;
    ct_sale_body body;
    uint32_t version; /* of the root contract */
    uint64_t height;
    uint64_t time_ms;
    uint64_t window_end_ms; /* matures at the end of the first block at or after */
    uint64_t refunded;
    bool matured;
    uint8_t tx_id[HM_HASH_LEN];
    uint32_t node_count;
    ct_sale_node nodes[CT_SALE_NODES_MAX];
} ct_sale;

HM_MUST_USE hm_err ct_sale_record_encode(const ct_sale *s, hm_writer *w);
HM_MUST_USE hm_err ct_sale_record_decode(const uint8_t *data, size_t len, ct_sale *out);

/* Totals per live session (of one platform) or per streamer, per currency. */
typedef struct {
    uint64_t sales;
    uint64_t gross;
    uint64_t refunded;
} ct_sale_totals;

/* Decoders of the other stored values (state schema in docs/settlement.md). */
HM_MUST_USE hm_err ct_split_head_decode(const uint8_t *data, size_t len, ct_split_head *out);
HM_MUST_USE hm_err ct_split_version_decode(const uint8_t *data, size_t len, ct_split_version *out);
HM_MUST_USE hm_err ct_balance_decode(const uint8_t *data, size_t len, int64_t *pending,
                                     int64_t *available);
HM_MUST_USE hm_err ct_sale_totals_decode(const uint8_t *data, size_t len, ct_sale_totals *out);

/* ------------------------------------------------- contract entry points */

/* Refunds what is left of the latest sale that linked item (gtin, serial):
 * the hook for a return recorded as an EPCIS event (disposition returned).
 * Writes through x; *refunded is the amount (0, with nothing written, when
 * the item is linked to no sale, the sale is already refunded in full, or
 * the refund would take a balance out of int64). Operating errors only. */
HM_MUST_USE hm_err ct_settle_item_returned(ct_exec *x, const char *gtin, const char *serial,
                                           const uint8_t tx_id[HM_HASH_LEN], uint64_t *refunded);

/* True for the CBV disposition "returned" in either form
 * ("https://ref.gs1.org/cbv/Disp-returned", "urn:epcglobal:cbv:disp:returned"
 * or the bare "returned"): the events that call ct_settle_item_returned(). */
bool ct_settle_disposition_is_returned(const char *disposition);

/* --------------------------------------------------------------- queries
 *
 * Over a committed store. HM_ERR_NOT_FOUND when there is nothing; HM_ERR_IO
 * from the store. Callbacks return false to stop. */

HM_MUST_USE hm_err ct_query_balance(const ct_store *s, const ct_account *a, const char *currency,
                                    ct_balance *out);
/* Every currency of an account, in code order. */
typedef bool (*ct_balance_fn)(void *arg, const ct_balance *b);
HM_MUST_USE hm_err ct_query_balances(const ct_store *s, const ct_account *a, ct_balance_fn fn,
                                     void *arg);
/* The account's postings with from_ms <= time < to_ms, in journal order. */
typedef bool (*ct_posting_fn)(void *arg, const ct_posting *p);
HM_MUST_USE hm_err ct_query_statement(const ct_store *s, const ct_account *a, uint64_t from_ms,
                                      uint64_t to_ms, ct_posting_fn fn, void *arg);
/* Postings with seq > after_seq, in order, at most max (the live feed). */
HM_MUST_USE hm_err ct_query_postings_after(const ct_store *s, uint64_t after_seq, size_t max,
                                           ct_posting_fn fn, void *arg);
/* The last journal sequence number (0 when the journal is empty). */
HM_MUST_USE hm_err ct_query_journal_last_seq(const ct_store *s, uint64_t *seq);
HM_MUST_USE hm_err ct_query_sale(const ct_store *s, const hm_pubkey *platform, const char *order_id,
                                 ct_sale *out);
HM_MUST_USE hm_err ct_query_split(const ct_store *s, const uint8_t id[32], ct_split_head *head,
                                  ct_split_version *latest);
HM_MUST_USE hm_err ct_query_split_version(const ct_store *s, const uint8_t id[32], uint32_t version,
                                          ct_split_version *out);
HM_MUST_USE hm_err ct_query_session_totals(const ct_store *s, const hm_pubkey *platform,
                                           const char *session_id, const char *currency,
                                           ct_sale_totals *out);
HM_MUST_USE hm_err ct_query_streamer_totals(const ct_store *s, const hm_pubkey *streamer,
                                            const char *currency, ct_sale_totals *out);

/* ------------------------------------------------------ signed requests
 *
 * A read of the HTTP API is signed by a member's key:
 *   msg = str method(<=16) | str path(<=1024) | str query(<=2048)
 *         | u64 time_ms | raw SHA-256(body)(32)
 *   sig = hm_sign(key, HM_PURPOSE_REQUEST, chain_id, msg)
 * sent as X-Hallmark-Key (64 hex), X-Hallmark-Time (decimal ms) and
 * X-Hallmark-Signature (128 hex). The clock is the caller's: this layer only
 * builds and checks bytes. */

#define CT_REQUEST_METHOD_MAX 16
#define CT_REQUEST_PATH_MAX 1024
#define CT_REQUEST_QUERY_MAX 2048

HM_MUST_USE hm_err ct_request_message(const char *method, const char *path, const char *query,
                                      uint64_t time_ms, const uint8_t body_hash[HM_HASH_LEN],
                                      hm_writer *w);
HM_MUST_USE hm_err ct_request_sign(const hm_keypair *kp, const char *chain_id, const char *method,
                                   const char *path, const char *query, uint64_t time_ms,
                                   const uint8_t *body, size_t body_len, hm_sig *sig);
/* HM_OK, HM_ERR_BAD_SIG, HM_ERR_BAD_KEY, or an encoding error for fields over
 * their limits. */
HM_MUST_USE hm_err ct_request_verify(const hm_pubkey *key, const char *chain_id, const char *method,
                                     const char *path, const char *query, uint64_t time_ms,
                                     const uint8_t *body, size_t body_len, const hm_sig *sig);

#endif
