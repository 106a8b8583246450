/* node/nd.h — the node's internal header: the node object and the extension
 * points that feature files (node/http_*.c) build on.
 *
 * Layer: node/, the top. Only node/ includes this header. It ties lib/,
 * consensus/ and contracts/ to the outside world: libevent, TLS, RocksDB,
 * the wall clock, files and signals.
 *
 * Everything here runs on the node's single libevent thread: no function is
 * thread-safe, and a handler must never block (no sleeping, no blocking
 * sockets, no waiting on other nodes).
 *
 * Stable surface for feature files (keep it stable; add, never change):
 *   - HTTP routes:      nd_http_add_route(), nd_http_reply_json(),
 *                       nd_http_reply_error(), nd_http_reply_bytes(),
 *                       nd_http_read_body()
 *   - feature state:    nd_http_add_cleanup() (freed at node shutdown)
 *   - committed state:  nd_node_state_store(), nd_node_height()
 *   - submission:       nd_node_submit_tx()
 *   - chain identity:   nd_node_chain_id(), nd_node_genesis()
 *   - commit feed:      nd_node_on_commit()
 *   - proofs:           nd_node_block_header(), nd_node_block_cert(),
 *                       nd_node_tx_locate(), nd_node_block_leaves(),
 *                       nd_node_tx_inclusion_proof(), nd_node_tx_bytes() */
#ifndef HALLMARK_ND_H
#define HALLMARK_ND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct.h"
#include "hm.h"

struct evhttp_request;
struct evbuffer;
struct event_base;
typedef struct json_t json_t;

/* ------------------------------------------------------------- genesis */

#define ND_NAME_MAX 64
#define ND_ADDR_MAX 128
#define ND_OBSERVERS_MAX 64

typedef struct {
    char name[ND_NAME_MAX + 1];
    hm_pubkey consensus_key;
    uint8_t tls_fingerprint[HM_HASH_LEN]; /* SHA-256 of the DER certificate */
    char address[ND_ADDR_MAX + 1];        /* host:port of its peer listener */
} nd_validator;

typedef struct {
    char chain_id[HM_CHAIN_ID_MAX + 1];
    uint64_t genesis_time_ms;
    uint32_t validator_count;
    nd_validator validators[HM_VALIDATORS_MAX];
    hm_validator_set vset; /* the consensus keys, same order */
    uint8_t vset_hash[HM_HASH_LEN];
    uint32_t admin_count;
    hm_pubkey admins[CT_ADMINS_MAX];
    /* consensus timeouts */
    uint32_t timeout_propose_ms;
    uint32_t timeout_prevote_ms;
    uint32_t timeout_precommit_ms;
    uint32_t timeout_delta_ms;  /* added per round */
    uint32_t block_interval_ms; /* empty block when idle (default 1000) */
    uint32_t time_drift_max_ms; /* how far ahead of our clock a proposal may be */
    /* limits */
    uint32_t block_txs_max;
    uint32_t block_bytes_max;
} nd_genesis;

/* Parses a genesis file. HM_ERR_IO if unreadable; HM_ERR_BAD_VALUE with a
 * message in err (capacity err_cap) for anything malformed. */
HM_MUST_USE hm_err nd_genesis_load(const char *path, nd_genesis *g, char *err, size_t err_cap);
/* Index of the validator with this TLS fingerprint, or -1. */
int nd_genesis_find_fingerprint(const nd_genesis *g, const uint8_t fp[HM_HASH_LEN]);

/* -------------------------------------------------------------- config */

#define ND_PATH_MAX 512

typedef struct {
    char name[ND_NAME_MAX + 1]; /* "v1"; log prefix */
    char data_dir[ND_PATH_MAX]; /* RocksDB + LOCK */
    char genesis_path[ND_PATH_MAX];
    char consensus_key_path[ND_PATH_MAX]; /* empty: observer */
    char tls_cert_path[ND_PATH_MAX];
    char tls_key_path[ND_PATH_MAX];
    char peer_listen[ND_ADDR_MAX + 1]; /* host:port, empty: no listener */
    char http_listen[ND_ADDR_MAX + 1]; /* host:port, empty: no API */
    /* host:port of the consumer resolver (node/lane.h), empty: none */
    char resolver_listen[ND_ADDR_MAX + 1];
    /* observers allowed to connect: TLS fingerprints */
    uint32_t observer_count;
    uint8_t observer_fingerprints[ND_OBSERVERS_MAX][HM_HASH_LEN];
    /* validators an observer dials: taken from genesis */
    uint32_t mempool_txs_max;
    uint64_t mempool_bytes_max;
    uint32_t peer_queue_bytes_max;
    uint32_t http_body_max;
    uint32_t http_headers_max;
    uint32_t http_idle_timeout_s;
    uint32_t http_connections_max;
    uint32_t reconnect_min_ms;
    uint32_t reconnect_max_ms;
    hm_log_level log_level;
} nd_config;

/* Fills every field with its documented default (docs/operations.md). */
void nd_config_defaults(nd_config *c);
/* Parses a JSON config file over the defaults; relative paths are resolved
 * against the config file's folder. HM_ERR_BAD_VALUE with a message in err
 * for an unknown key, a wrong type or a value out of range. */
HM_MUST_USE hm_err nd_config_load(const char *path, nd_config *c, char *err, size_t err_cap);
/* The same from JSON text (tests); base_dir resolves relative paths. */
HM_MUST_USE hm_err nd_config_parse(const char *json_text, const char *base_dir, nd_config *c,
                                   char *err, size_t err_cap);

/* -------------------------------------------------------------- the node */

typedef struct nd_node nd_node;

/* The chain id from genesis. */
const char *nd_node_chain_id(const nd_node *n);
const nd_genesis *nd_node_genesis(const nd_node *n);
struct event_base *nd_node_event_base(nd_node *n);
/* Height of the last committed block (0 before the first). */
uint64_t nd_node_height(const nd_node *n);

/* The committed state as a ct_store for contract queries (ct_query_*). Valid
 * for the node's lifetime; reads see the last committed block. */
const ct_store *nd_node_state_store(nd_node *n);

/* Decodes, signature-checks and admits a tx into the mempool, then gossips it.
 * Writes its id. HM_ERR_* of the decoder for malformed bytes, HM_ERR_BAD_SIG,
 * HM_ERR_EXISTS if already pending or committed, HM_ERR_FULL if the mempool is
 * full, HM_ERR_TOO_LONG above the size limit. */
HM_MUST_USE hm_err nd_node_submit_tx(nd_node *n, const uint8_t *tx, size_t tx_len,
                                     uint8_t id_out[HM_HASH_LEN]);

/* The txs of a committed block, in block order: views into the block the
 * node holds (no copy, no read back from the store). */
typedef struct {
    uint32_t count;
    const uint8_t *const *txs;
    const size_t *lens;
    /* Per tx, the leaf hashes of its records (record_count of them) as this
     * node computed them when it admitted these very bytes, NULL when it did
     * not (a tx without records, or one it first saw in the block). */
    const uint8_t (*const *leaves)[HM_HASH_LEN];
} nd_block_txs;

/* Called after each block is durably committed, with the block's header,
 * its txs and its execution (every write, in key order:
 * ct_exec_foreach_write). All are valid only during the call. */
typedef void (*nd_commit_fn)(nd_node *n, const hm_block_header *header, const nd_block_txs *txs,
                             const ct_exec *exec, void *arg);
HM_MUST_USE hm_err nd_node_on_commit(nd_node *n, nd_commit_fn fn, void *arg);

/* Header / certificate of committed block height. HM_ERR_NOT_FOUND above the
 * chain's height. */
HM_MUST_USE hm_err nd_node_block_header(nd_node *n, uint64_t height, hm_block_header *out);
HM_MUST_USE hm_err nd_node_block_cert(nd_node *n, uint64_t height, hm_cert *out);
/* Where a committed tx is: its block height and index in the block. */
HM_MUST_USE hm_err nd_node_tx_locate(nd_node *n, const uint8_t id[HM_HASH_LEN], uint64_t *height,
                                     uint32_t *index);
/* The tx tree leaf hashes of block height (malloc'd array, caller frees). */
HM_MUST_USE hm_err nd_node_block_leaves(nd_node *n, uint64_t height,
                                        uint8_t (**leaves)[HM_HASH_LEN], size_t *count);
/* Inclusion proof of tx index in block height's tx tree (up to
 * HM_MERKLE_PROOF_MAX hashes) and the tree's size. */
HM_MUST_USE hm_err nd_node_tx_inclusion_proof(nd_node *n, uint64_t height, uint32_t index,
                                              uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len,
                                              uint64_t *tree_size);
/* The whole committed tx bytes by id (malloc'd, caller frees). Decode with
 * ct_tx_decode to get the head. */
HM_MUST_USE hm_err nd_node_tx_bytes(nd_node *n, const uint8_t id[HM_HASH_LEN], uint8_t **tx,
                                    size_t *tx_len);

/* --------------------------------------------------------------- HTTP API */

/* A route handler. path_rest is the request path after the prefix (without
 * the query string, percent-decoding not applied). The handler must reply
 * exactly once (nd_http_reply_*), possibly later for an event stream. */
typedef void (*nd_http_handler)(nd_node *n, struct evhttp_request *req, const char *path_rest,
                                void *arg);

#define ND_HTTP_ROUTES_MAX 64

/* Registers a handler for every path that starts with prefix (e.g.
 * "/v1/items/"). The longest matching prefix wins. prefix is copied.
 * HM_ERR_FULL past ND_HTTP_ROUTES_MAX, HM_ERR_EXISTS for a duplicate. */
HM_MUST_USE hm_err nd_http_add_route(nd_node *n, const char *prefix, nd_http_handler handler,
                                     void *arg);

/* A feature's state freed when the node's HTTP server is torn down. */
typedef void (*nd_http_cleanup_fn)(void *arg);

#define ND_HTTP_CLEANUPS_MAX 32

/* Records fn(arg) to run once at node shutdown, after the listener and
 * every open API connection are gone; cleanups run in reverse order of
 * registration. A feature calls it right after allocating what its routes
 * and commit hooks share, so that its state has an owner that frees it.
 * HM_ERR_FULL past ND_HTTP_CLEANUPS_MAX (the caller then frees arg). */
HM_MUST_USE hm_err nd_http_add_cleanup(nd_node *n, nd_http_cleanup_fn fn, void *arg);

/* Replies with a JSON body (takes ownership of body: it is decref'd). */
void nd_http_reply_json(struct evhttp_request *req, int status, json_t *body);
/* Replies {"error": code, "message": ...} with status. */
void nd_http_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
/* evhttp_send_reply, right for HEAD: the headers GET would get (with
 * Content-Length) and no body. Every reply of the node goes through it. */
void nd_http_send(struct evhttp_request *req, int status, const char *reason,
                  struct evbuffer *body);
/* True for GET and HEAD (a read); otherwise replies 405 and returns false. */
bool nd_http_require_read(struct evhttp_request *req);
/* Replies with raw bytes and a content type. */
void nd_http_reply_bytes(struct evhttp_request *req, int status, const char *content_type,
                         const uint8_t *data, size_t data_len);
/* The request body as a malloc'd NUL-terminated copy (len excludes the NUL);
 * NULL when out of memory. Body size is already bounded by the server. */
uint8_t *nd_http_read_body(struct evhttp_request *req, size_t *len);
/* HTTP status for an hm_err from a submission or decoder (400, 404, 409, 413,
 * 503, 500). */
int nd_http_status_for(hm_err err);
/* The error code and message of a submitted tx that was not admitted: the
 * two refusals that are about the node, not the bytes, have names of their
 * own ("mempool_full", "duplicate"); the others are hm_err's. */
void nd_http_tx_refusal(hm_err err, const char **code, const char **message);

/* What nd_http_query_lookup found. */
typedef enum {
    ND_QUERY_ABSENT = 0,     /* no query string, or no such parameter */
    ND_QUERY_FOUND = 1,      /* the value was copied out */
    ND_QUERY_MALFORMED = -1, /* the query string does not parse */
    ND_QUERY_TOO_LONG = -2,  /* the value does not fit the caller's buffer */
} nd_query_result;

/* Looks up query parameter name (percent-decoded, the first occurrence) in
 * the query string of req. On ND_QUERY_FOUND copies the value with its NUL
 * into out (cap bytes, so at most cap - 1 characters); otherwise out is left
 * untouched. Never replies. */
nd_query_result nd_http_query_lookup(struct evhttp_request *req, const char *name, char *out,
                                     size_t cap);
/* nd_http_query_lookup for handlers that refuse what they cannot read: 1 with
 * the value in out, 0 when absent, -1 after replying 400 with error code
 * error_code ("malformed query string", or "NAME is longer than N bytes": a
 * filter too long to hold is refused, never silently dropped). */
int nd_http_query_param(struct evhttp_request *req, const char *name, char *out, size_t cap,
                        const char *error_code);
/* Parses a whole decimal number of uint64_t range (digits only: no sign,
 * space or empty text); false, with out untouched, for anything else. */
bool nd_parse_u64_text(const char *text, uint64_t *out);

/* Feature route registrations, called once at startup by the HTTP setup.
 * Each lives in its own file (node/http_<feature>.c). */
HM_MUST_USE hm_err nd_http_provenance_register(nd_node *n);
HM_MUST_USE hm_err nd_http_settlement_register(nd_node *n);
HM_MUST_USE hm_err nd_http_consumer_register(nd_node *n);
/* POST /v1/txs/batch (node/http_txs_batch.c). */
HM_MUST_USE hm_err nd_http_txs_batch_register(nd_node *n);
/* EPCIS 2.0 REST binding (node/http_epcis.c): capture jobs and event
 * queries; registered by nd_http_provenance_register. */
HM_MUST_USE hm_err nd_http_epcis_register(nd_node *n);
/* A stored event record as EPCIS 2.0 JSON-LD (node/http_provenance.c);
 * with_chain adds Hallmark's per-item chain and the pre-hash string. */
json_t *nd_prov_event_json(const ct_event_record *ev, bool with_chain);

#endif
