/* node/nd_int.h — what node/ files share among themselves and nobody else
 * uses: peer framing, the block encoding, the RocksDB store, the mempool and
 * the pieces of the node object.
 *
 * Layer: node/. Feature files use nd.h, never this header. */
#ifndef HALLMARK_ND_INT_H
#define HALLMARK_ND_INT_H

#include "nd.h"

/* ------------------------------------------------------------- framing
 *
 * Every peer message is [u8 type][u32 big-endian length][payload]. Each type
 * has a hard maximum payload; a frame over it, or of an unknown type, is a
 * protocol violation and the link is dropped before the payload is read. */

#define ND_FRAME_HEADER_LEN 5

typedef enum {
    ND_MSG_STATUS = 1,       /* u64 height: sent on connect and periodically */
    ND_MSG_CONSENSUS = 2,    /* a vote, or a proposal (with its block or not) */
    ND_MSG_TX = 3,           /* one tx, from the node a client gave it to */
    ND_MSG_GET_BLOCK = 4,    /* u64 height: ask for a committed block */
    ND_MSG_BLOCK = 5,        /* bytes block | bytes cert: a committed block */
    ND_MSG_GET_PROPOSAL = 6, /* block_id: ask for a proposal and its block */
    ND_MSG_TXS = 7,          /* a batch of txs, from the node clients gave them to */
    ND_MSG_PROPOSAL_IDS = 8, /* a proposal with its block's txs as ids (compact) */
    ND_MSG__COUNT
} nd_msg_type;

#define ND_TX_FRAME_MAX (16u * 1024 * 1024)
/* A tx batch is repeated [u32 big-endian length >= 1 | tx]; a tx whose
 * entry would not fit a batch of its own goes alone as ND_MSG_TX. */
#define ND_TXS_FRAME_MAX (64u * 1024)
#define ND_TXS_ENTRY_HEADER_LEN 4
#define ND_BLOCK_BYTES_MAX (64u * 1024 * 1024)
/* The most txs a block may hold under any genesis (limits.block_txs_max). */
#define ND_BLOCK_TXS_LIMIT 1000000u

/* The hard maximum payload of a message type, 0 for an unknown type. */
uint32_t nd_frame_max(uint8_t type);
/* Writes the 5-byte header. */
void nd_frame_header_put(uint8_t out[ND_FRAME_HEADER_LEN], uint8_t type, uint32_t len);
/* Parses a header: HM_ERR_UNKNOWN_TYPE for an unknown type, HM_ERR_TOO_LONG
 * above the type's maximum. */
HM_MUST_USE hm_err nd_frame_header_parse(const uint8_t in[ND_FRAME_HEADER_LEN], uint8_t *type,
                                         uint32_t *len);

/* Appends one entry to a tx batch buf[0..*len) of capacity ND_TXS_FRAME_MAX.
 * HM_ERR_FULL, appending nothing, when it does not fit; HM_ERR_ARG for an
 * empty tx. */
HM_MUST_USE hm_err nd_txs_append(uint8_t *buf, size_t *len, const uint8_t *tx, size_t tx_len);
/* The entry of a tx batch at *pos, as a view into batch, and moves *pos past
 * it. HM_ERR_NOT_FOUND at the end; HM_ERR_TRUNCATED or HM_ERR_BAD_VALUE
 * (an empty entry) for a malformed batch, after which nothing more of it
 * should be read. */
HM_MUST_USE hm_err nd_txs_next(const uint8_t *batch, size_t len, size_t *pos, const uint8_t **tx,
                               size_t *tx_len);

/* --------------------------------------------------------------- blocks
 *
 * block = header | varint tx_count | tx_count x bytes(tx) */

typedef struct {
    hm_block_header header;
    uint32_t tx_count;
    const uint8_t **txs; /* views into the encoded bytes (or owned, see below) */
    size_t *tx_lens;
    uint8_t *raw; /* the encoded block when decoded (owned) */
    size_t raw_len;
    uint8_t (*ids)[HM_HASH_LEN]; /* tx ids, once nd_block_index ran (owned) */
} nd_block;

/* Encodes header + txs into a growable writer capped at ND_BLOCK_BYTES_MAX. */
HM_MUST_USE hm_err nd_block_encode(const hm_block_header *h, const uint8_t *const *txs,
                                   const size_t *tx_lens, uint32_t tx_count, uint8_t **out,
                                   size_t *out_len);
/* Decodes a block, taking a copy of data; free with nd_block_clear(). */
HM_MUST_USE hm_err nd_block_decode(const uint8_t *data, size_t data_len, uint32_t tx_count_max,
                                   nd_block *b);
/* The same for a malloc'd raw (a block just read from the store), which b
 * takes instead of copying it: freed with b, or here on failure. */
HM_MUST_USE hm_err nd_block_take(uint8_t *raw, size_t raw_len, uint32_t tx_count_max, nd_block *b);
void nd_block_clear(nd_block *b);
/* Encodes header + txs (as nd_block_encode) straight into b, which then owns
 * the bytes and views into them, as after nd_block_decode of the same bytes:
 * no second copy of a block of many megabytes. Free with nd_block_clear(). */
HM_MUST_USE hm_err nd_block_build(const hm_block_header *h, const uint8_t *const *txs,
                                  const size_t *tx_lens, uint32_t tx_count, nd_block *b);

/* ------------------------------------------------------- compact blocks
 *
 * The block of a proposal as its validators rebuild it from their mempools:
 *   compact = header | varint tx_count | tx_count x tx id (32 bytes)
 * (ND_MSG_PROPOSAL_IDS carries u16 msg_len | msg | compact). A tx id is
 * SHA-256(head || sig) and a pooled tx passed its records-root check at
 * admission, so a pooled tx with the id is the very tx; the block id (the
 * header's hash, over the tx root) is checked against the proposal. */
#define ND_COMPACT_MAX (HM_BLOCK_HEADER_ENCODED_MAX + 10 + (size_t)HM_HASH_LEN * ND_BLOCK_TXS_LIMIT)

/* Encodes the compact form of a block (malloc'd). */
HM_MUST_USE hm_err nd_compact_encode(const hm_block_header *h, const uint8_t (*ids)[HM_HASH_LEN],
                                     uint32_t tx_count, uint8_t **out, size_t *out_len);
/* Decodes a compact block: *ids points into data (tx_count x 32 bytes).
 * HM_ERR_TOO_LONG above ND_COMPACT_MAX or tx_count_max txs; a decoding
 * error for anything malformed or with bytes left over. */
HM_MUST_USE hm_err nd_compact_decode(const uint8_t *data, size_t data_len, uint32_t tx_count_max,
                                     hm_block_header *h, const uint8_t (**ids)[HM_HASH_LEN],
                                     uint32_t *tx_count);
/* Decodes every tx of b once: fills b->ids and computes the tx root (RFC
 * 9162 over ct_tx_leaf_hash). An error if a tx does not decode. */
HM_MUST_USE hm_err nd_block_index(nd_block *b, uint8_t tx_root[HM_HASH_LEN]);
/* The same, also keeping each decoded tx in decoded[0..tx_count) (views into
 * b->txs' bytes) for ct_exec_tx_decoded, so that execution neither decodes
 * nor hashes a tx again. */
HM_MUST_USE hm_err nd_block_index_decoded(nd_block *b, uint8_t tx_root[HM_HASH_LEN],
                                          ct_tx *decoded);

/* --------------------------------------------------------------- store */

typedef struct nd_store nd_store;

/* Opens (creating if needed) the RocksDB database under dir. */
HM_MUST_USE hm_err nd_store_open(const char *dir, nd_store **out, char *err, size_t err_cap);
void nd_store_close(nd_store *s);

typedef struct {
    uint64_t height; /* 0: nothing committed */
    uint8_t block_hash[HM_HASH_LEN];
    uint8_t state_root[HM_HASH_LEN];
    uint64_t time_ms;
} nd_chain_tip;

HM_MUST_USE hm_err nd_store_tip(nd_store *s, nd_chain_tip *tip);
/* Writes block, cert, tx index, every write of x and the new tip in one
 * synced WriteBatch. x may be NULL (no state writes). proposed_id: the id
 * under which nd_store_put_proposed kept these very block bytes at this
 * height (the block is then not written again; checked: bytes not kept
 * there are written whole), or NULL. */
HM_MUST_USE hm_err nd_store_commit(nd_store *s, const hm_block_header *h, const uint8_t *block,
                                   size_t block_len, const uint8_t *proposed_id,
                                   const hm_cert *cert, const uint8_t (*tx_ids)[HM_HASH_LEN],
                                   uint32_t tx_count, const ct_exec *x,
                                   const uint8_t state_root[HM_HASH_LEN]);
/* The encoded block / cert at height (malloc'd). HM_ERR_NOT_FOUND. */
HM_MUST_USE hm_err nd_store_get_block(nd_store *s, uint64_t height, uint8_t **out, size_t *len);
HM_MUST_USE hm_err nd_store_get_cert(nd_store *s, uint64_t height, hm_cert *cert);
HM_MUST_USE hm_err nd_store_get_cert_raw(nd_store *s, uint64_t height, uint8_t **out, size_t *len);
HM_MUST_USE hm_err nd_store_tx_locate(nd_store *s, const uint8_t id[HM_HASH_LEN], uint64_t *height,
                                      uint32_t *index);
/* A proposed block kept until its height commits, and after it when the
 * commit refers to it (see store.c). */
HM_MUST_USE hm_err nd_store_put_proposed(nd_store *s, uint64_t height,
                                         const uint8_t id[HM_HASH_LEN], const uint8_t *block,
                                         size_t len);
HM_MUST_USE hm_err nd_store_get_proposed(nd_store *s, uint64_t height,
                                         const uint8_t id[HM_HASH_LEN], uint8_t **out, size_t *len);
/* Durable (synced) consensus sign-state blob, and its read-back. */
HM_MUST_USE hm_err nd_store_put_sign_state(nd_store *s, const uint8_t *data, size_t len);
HM_MUST_USE hm_err nd_store_get_sign_state(nd_store *s, uint8_t **out, size_t *len);
/* Appends a record of a signed vote (for the cluster tests' double-sign
 * check); written in the same synced batch as the sign-state. */
HM_MUST_USE hm_err nd_store_put_sign_state_and_vote(nd_store *s, const uint8_t *state,
                                                    size_t state_len, const uint8_t *vote_key,
                                                    size_t vote_key_len, const uint8_t *vote,
                                                    size_t vote_len);
/* Visits the recorded own votes of heights >= from_height in key order:
 * key "v/" | u64 height | u32 round | u8 type | block_id, value the signed
 * encoded cs_msg. */
HM_MUST_USE hm_err nd_store_scan_votes(nd_store *s, uint64_t from_height, ct_visit_fn visit,
                                       void *arg);
/* The state column family as a ct_store. */
ct_store nd_store_state(nd_store *s);

/* -------------------------------------------------------------- mempool */

typedef struct nd_mempool nd_mempool;

HM_MUST_USE hm_err nd_mempool_new(uint32_t txs_max, uint64_t bytes_max, nd_mempool **out);
void nd_mempool_free(nd_mempool *m);
/* Takes a copy of tx. HM_ERR_EXISTS for a duplicate id, HM_ERR_FULL when
 * count or bytes would pass the bounds. The tx must already be checked. */
HM_MUST_USE hm_err nd_mempool_add(nd_mempool *m, const uint8_t id[HM_HASH_LEN], const uint8_t *tx,
                                  size_t tx_len);
/* nd_mempool_add, keeping beside the tx the hash_count hashes of its records
 * (leaves, then chunk roots: ct_tx_records_hash) that admission computed,
 * so that executing the tx does not hash them again. They count in the
 * pool's bytes. */
HM_MUST_USE hm_err nd_mempool_add_hashed(nd_mempool *m, const uint8_t id[HM_HASH_LEN],
                                         const uint8_t *tx, size_t tx_len,
                                         const uint8_t (*hashes)[HM_HASH_LEN], size_t hash_count);
/* The record hashes kept with the pooled tx id, as a view valid until the
 * next add/remove, if the pooled bytes are exactly tx[0..tx_len): a tx id
 * does not cover the records, so a block may carry other records under a
 * pooled id, and their hashes are not these. false otherwise. */
bool nd_mempool_hashes(const nd_mempool *m, const uint8_t id[HM_HASH_LEN], const uint8_t *tx,
                       size_t tx_len, const uint8_t (**hashes)[HM_HASH_LEN], size_t *hash_count);
bool nd_mempool_contains(const nd_mempool *m, const uint8_t id[HM_HASH_LEN]);
/* The pooled tx with this id, as a view into the pool valid until the next
 * add/remove: false when not pooled. */
bool nd_mempool_get(const nd_mempool *m, const uint8_t id[HM_HASH_LEN], const uint8_t **tx,
                    size_t *tx_len);
/* Removes id if present. */
void nd_mempool_remove(nd_mempool *m, const uint8_t id[HM_HASH_LEN]);
uint32_t nd_mempool_count(const nd_mempool *m);
uint64_t nd_mempool_bytes(const nd_mempool *m);
/* The oldest txs, in arrival order, up to count_max and bytes_max total:
 * pointers into the pool, valid until the next add/remove. Returns count. */
uint32_t nd_mempool_reap(const nd_mempool *m, uint32_t count_max, uint64_t bytes_max,
                         const uint8_t **txs, size_t *tx_lens);

/* ------------------------------------------------------------- network
 *
 * TLS 1.3 links to the other validators (the lower index dials the higher)
 * and from configured observers; observers dial every validator. A link is
 * kept only if the peer's certificate fingerprint is the one genesis (or the
 * config, for observers) names. */

typedef struct nd_net nd_net;
typedef struct nd_peer nd_peer;

typedef struct {
    void (*on_message)(void *arg, nd_peer *p, uint8_t type, const uint8_t *payload, size_t len);
    void (*on_connect)(void *arg, nd_peer *p);
} nd_net_callbacks;

typedef enum {
    ND_REJECT_TLS = 0,    /* handshake failed (garbage, wrong protocol) */
    ND_REJECT_IDENTITY,   /* certificate not in genesis / observers */
    ND_REJECT_FRAME_TYPE, /* unknown frame type */
    ND_REJECT_FRAME_SIZE, /* frame above its type's maximum */
    ND_REJECT_SLOW,       /* handshake or frame not finished in time */
    ND_REJECT_QUEUE_FULL, /* a message not queued: the peer's queue was full */
    ND_REJECT_LIMIT,      /* too many unauthenticated connections */
    ND_REJECT_MESSAGE,    /* a message that did not decode or verify */
    ND_REJECT__COUNT
} nd_reject_reason;

const char *nd_reject_reason_name(nd_reject_reason r);

HM_MUST_USE hm_err nd_net_new(struct event_base *base, const nd_config *cfg, const nd_genesis *g,
                              int self_index, const nd_net_callbacks *cb, void *cb_arg,
                              nd_net **out, char *err, size_t err_cap);
void nd_net_free(nd_net *net);
/* Sends to every connected peer; validators_only skips observers. */
void nd_net_broadcast(nd_net *net, uint8_t type, const uint8_t *payload, size_t len,
                      bool validators_only);
/* Sends two byte strings as one frame (header + a + b). Returns false, and
 * queues nothing, when the peer is gone or its output queue has no room
 * (peer_queue_bytes_max): backpressure, never a reason to drop the link.
 * Frames of at most 4 KiB (votes, status) may use ND_SMALL_FRAMES_HEADROOM
 * past the limit, so that consensus keeps moving behind a queue of blocks. */
#define ND_SMALL_FRAMES_HEADROOM (1u << 20)
bool nd_net_send2(nd_peer *p, uint8_t type, const uint8_t *a, size_t a_len, const uint8_t *b,
                  size_t b_len);
bool nd_net_send(nd_peer *p, uint8_t type, const uint8_t *payload, size_t len);
/* Bytes waiting in the peer's output queue. */
size_t nd_net_queued(const nd_peer *p);
/* Validator index of the peer, or -1 for an observer. */
int nd_peer_validator_index(const nd_peer *p);
const char *nd_peer_name(const nd_peer *p);
uint32_t nd_net_peer_count(const nd_net *net);
/* Counts a rejected message against the peer (and drops it if asked). */
void nd_net_reject(nd_net *net, nd_peer *p, nd_reject_reason reason, bool drop);
uint64_t nd_net_reject_count(const nd_net *net, nd_reject_reason reason);
/* Calls fn for every connected peer. */
void nd_net_foreach(nd_net *net, void (*fn)(nd_peer *p, void *arg), void *arg);

/* ------------------------------------------------------------ the node */

#include "cs.h"

#define ND_PENDING_BLOCKS_MAX 16
#define ND_COMMIT_HOOKS_MAX 16
/* Peer consensus messages waiting to be fed beyond this are dropped (and
 * counted): gossip sends them again. The queue's first capacity too; the
 * node's own events (timeouts, block answers, decided-elsewhere) are never
 * dropped, the queue grows for them up to ND_CS_QUEUE_OWN_MAX. */
#define ND_CS_QUEUE_MAX 64
#define ND_CS_QUEUE_OWN_MAX 65536
/* VALIDATE_BLOCK requests waiting for their block or for the tip to reach
 * the height below them. */
#define ND_DEFERRED_VALIDATIONS_MAX 16
/* The log of the current height's consensus messages (own proposals and
 * the messages the replica accepted), replayed after a restart: chunks of
 * at most ND_CSLOG_CHUNK_BYTES, at most ND_CSLOG_CHUNKS_MAX per height. */
#define ND_CSLOG_CHUNK_BYTES 4096
#define ND_CSLOG_CHUNKS_MAX 64
#define ND_LATENCY_BUCKETS 12

typedef struct {
    bool used;
    uint8_t id[HM_HASH_LEN];
    nd_block block;
    ct_exec *exec; /* after execution */
    bool executed;
    bool valid;
    uint64_t seq; /* arrival order, to evict the oldest */
    /* the signed proposal that carried it, to answer ND_MSG_GET_PROPOSAL */
    uint8_t proposal_msg[CS_MSG_MAX];
    size_t proposal_msg_len;
    bool pushed;  /* its bytes went to every peer once: re-gossip sends the
                   * proposal alone, and a peer that lacks the block asks */
    bool rebuilt; /* rebuilt from the mempool after a compact proposal */
    bool saved;   /* its bytes are kept in the store as a proposal */
} nd_pending_block;

typedef struct {
    cs_event ev;
    uint8_t msg[CS_MSG_MAX];
    hm_cert cert;
} nd_cs_queued;

/* A VALIDATE_BLOCK the node cannot answer yet: the block's bytes are
 * missing or the tip is below height - 1. Answered once it can be. */
typedef struct {
    bool used;
    uint64_t height;
    uint32_t round;
    uint8_t block_id[HM_HASH_LEN];
    uint64_t seq;      /* arrival order, to evict the oldest */
    uint64_t asked_ms; /* last ND_MSG_GET_PROPOSAL sent for the block */
} nd_deferred_validation;

typedef struct nd_timer nd_timer;

typedef struct {
    char prefix[128];
    nd_http_handler handler;
    void *arg;
} nd_route;

/* One block's tx tree leaves, kept for inclusion proofs (node.c). */
#define ND_LEAVES_CACHE_SLOTS 8
#define ND_LEAVES_CACHE_ENTRY_MAX ((size_t)131072) /* leaves: 4 MiB of hashes */
typedef struct {
    uint64_t height; /* 0: empty */
    uint8_t (*leaves)[HM_HASH_LEN];
    size_t count;
    uint64_t last_use;
} nd_leaves_slot;

struct nd_node {
    nd_config cfg;
    nd_genesis g;
    struct event_base *base;
    int lock_fd;
    nd_store *store;
    ct_store state;
    nd_mempool *mempool;
    nd_net *net;
    int self_index; /* -1 for an observer */
    hm_keypair key;
    cs_config cs_cfg;
    cs_replica *replica;
    nd_chain_tip tip;
    /* blocks proposed or received for the current height */
    nd_pending_block pending[ND_PENDING_BLOCKS_MAX];
    uint64_t pending_seq;
    /* consensus events waiting to be fed (never fed re-entrantly) */
    nd_cs_queued *cs_queue;
    uint32_t cs_queue_head, cs_queue_len;
    bool cs_draining;
    uint32_t cs_queue_cap;         /* grows only for the node's own events */
    uint64_t cs_queue_dropped;     /* peer messages dropped: queue full */
    uint64_t cs_queue_drop_log_ms; /* last drop logged (at most one a second) */
    /* validations waiting for their block or for the tip */
    nd_deferred_validation deferred[ND_DEFERRED_VALIDATIONS_MAX];
    uint64_t deferred_seq;
    uint64_t deferred_total; /* validations answered late rather than "not valid" */
    /* the consensus log of height cslog_height: chunk cslog_chunk is being
     * filled (cslog_len bytes of u16 length | message entries) */
    uint64_t cslog_height;
    uint32_t cslog_chunk;
    uint32_t cslog_len;
    bool cslog_replaying; /* feeding the log back: do not log again */
    uint8_t cslog_buf[ND_CSLOG_CHUNK_BYTES];
    nd_timer *timers;
    /* txs taken from clients, waiting to leave for the validators as one
     * ND_MSG_TXS frame (node.c, gossip_tx) */
    uint8_t *gossip_buf; /* ND_TXS_FRAME_MAX bytes */
    size_t gossip_len;
    struct event *gossip_timer; /* pending while a batch waits for it */
    /* a compact proposal waiting for txs still in flight (node.c,
     * on_compact_proposal): u16 msg_len | msg | compact, as received */
    uint8_t *held_compact;
    size_t held_compact_len;
    int held_from;         /* validator index of the peer that sent it */
    uint32_t held_missing; /* its txs not pooled at the last try */
    struct event *held_timer;
    /* tx tree leaves of recently proven committed blocks (node.c,
     * nd_node_tx_inclusion_proof): immutable once committed */
    nd_leaves_slot leaves_cache[ND_LEAVES_CACHE_SLOTS];
    uint64_t leaves_clock;
    /* deferred empty-block proposal */
    struct event *build_timer;
    bool build_deferred;
    bool build_gathering; /* build_timer set to gather more txs first */
    uint64_t build_height;
    uint32_t build_round;
    /* catch-up */
    uint64_t fetch_height;
    uint64_t fetch_sent_ms;
    uint64_t peer_best_height;          /* highest height a peer announced */
    uint64_t last_commit_ms;            /* wall clock of the last local commit */
    uint8_t want_block_id[HM_HASH_LEN]; /* last proposal block asked for */
    uint64_t want_sent_ms;
    hm_cert orphan_cert; /* a decided height whose block we lack */
    bool has_orphan_cert;
    struct event *tick;
    struct event *sig_int, *sig_term;
    /* hooks and HTTP */
    struct {
        nd_commit_fn fn;
        void *arg;
    } hooks[ND_COMMIT_HOOKS_MAX];
    uint32_t hook_count;
    struct evhttp *http;
    nd_route routes[ND_HTTP_ROUTES_MAX];
    uint32_t route_count;
    /* API connections, tracked to enforce http_connections_max (http.c) */
    struct nd_http_conn *http_conns;
    uint32_t http_conn_count;
    uint64_t http_refused;
    /* metrics */
    uint64_t txs_committed;
    uint64_t txs_rejected[HM_ERR__COUNT];
    uint64_t blocks_committed;
    uint64_t latency_buckets[ND_LATENCY_BUCKETS + 1];
    uint64_t latency_sum_ms;
    uint64_t latency_count;
    uint64_t cs_drops[CS_DROP__COUNT];
};

/* Upper bounds of the commit latency histogram buckets, ms. */
extern const uint32_t nd_latency_bounds_ms[ND_LATENCY_BUCKETS];

/* Creates the node from a loaded config: locks the data dir, opens the
 * store, loads keys, starts peers, consensus and the HTTP API. */
HM_MUST_USE hm_err nd_node_new(const nd_config *cfg, nd_node **out);
/* Runs the event loop until SIGINT/SIGTERM. */
HM_MUST_USE hm_err nd_node_run(nd_node *n);
void nd_node_free(nd_node *n);

/* HTTP server setup/teardown (node/http.c). */
HM_MUST_USE hm_err nd_http_start(nd_node *n, char *err, size_t err_cap);
void nd_http_stop(nd_node *n);

/* The committed block at height, decoded (node/store_read.c); free with
 * nd_block_clear(). HM_ERR_NOT_FOUND above the tip, HM_ERR_IO if the stored
 * bytes do not decode. */
HM_MUST_USE hm_err nd_node_block_read(nd_node *n, uint64_t height, nd_block *out);

/* -------------------------------------------------------------- helpers */

/* Wall clock in Unix milliseconds (node/ only). */
uint64_t nd_now_ms(void);
/* Splits "host:port"; HM_ERR_BAD_VALUE for anything else. */
HM_MUST_USE hm_err nd_split_hostport(const char *text, char *host, size_t host_cap, uint16_t *port);

#endif
