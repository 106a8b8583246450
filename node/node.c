/* node/node.c — the validator: consensus driver, block pipeline, catch-up.
 *
 * Layer: node/. Drives the pure consensus core (consensus/cs.h) with events
 * from the network and timers, and carries out its actions: persisting the
 * sign-state (synced) before anything that follows it leaves the process,
 * broadcasting, building and executing blocks through contracts/ct.h, and
 * committing each block in one RocksDB WriteBatch. Observers run no replica
 * and follow the chain by fetching committed blocks with their certificates.
 *
 * Block time rule: the proposer sets time_ms = max(prev_time_ms + 1, its
 * clock); a validator refuses (prevotes nil on) a proposal whose time is not
 * above the previous block's or is more than time_drift_max_ms ahead of its
 * own clock. When the mempool is empty the proposer waits until
 * prev_time_ms + block_interval_ms before proposing an empty block; when it
 * holds only a few txs, until ND_BUILD_GATHER_MS after the last commit.
 *
 * Restart: the replica is rebuilt from the synced sign-state; the votes this
 * validator signed at the current height (recorded with the sign-state),
 * then its own proposals and the peer messages the replica had accepted
 * (the consensus log) are fed back to it, and blocks it proposed or
 * validated for that height are kept in the store, so a network that
 * crashed mid-round can still decide.
 *
 * Validation answers "not valid" only for a block that fails validation; a
 * request the node cannot judge yet (block missing, tip behind) waits for
 * the block or the tip. The node's own consensus events are never dropped.
 *
 * Must never: feed the replica re-entrantly (events raised while carrying
 * out actions are queued), let a vote leave before its sign-state is synced,
 * or commit a block it has not executed to the state root in its header. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "nd_int.h"

#define TICK_MS 1000
#define FETCH_TIMEOUT_MS 2000
/* see build_when_ready */
#define ND_BUILD_GATHER_MS 10
#define ND_BUILD_GATHER_TXS 1000
#define ND_BUILD_GATHER_BYTES (1024u * 1024)
/* see gossip_tx */
#define ND_GOSSIP_FLUSH_MS 2
/* see on_compact_proposal */
#define ND_COMPACT_WAIT_MS 100

const uint32_t nd_latency_bounds_ms[ND_LATENCY_BUCKETS] = {50,   100,  200,  300,  500,  750,
                                                           1000, 1500, 2000, 3000, 5000, 10000};

struct nd_timer {
    nd_node *n;
    struct event *ev;
    uint64_t height;
    uint32_t round;
    uint8_t step;
    nd_timer *next;
};

static void cs_feed(nd_node *n, const cs_event *ev);
static void validations_retry(nd_node *n);

/* ------------------------------------------------------------ accessors */

const char *nd_node_chain_id(const nd_node *n) {
    return n->g.chain_id;
}
const nd_genesis *nd_node_genesis(const nd_node *n) {
    return &n->g;
}
struct event_base *nd_node_event_base(nd_node *n) {
    return n->base;
}
uint64_t nd_node_height(const nd_node *n) {
    return n->tip.height;
}
const ct_store *nd_node_state_store(nd_node *n) {
    return &n->state;
}

hm_err nd_node_on_commit(nd_node *n, nd_commit_fn fn, void *arg) {
    if (n->hook_count >= ND_COMMIT_HOOKS_MAX)
        return HM_ERR_FULL;
    n->hooks[n->hook_count].fn = fn;
    n->hooks[n->hook_count].arg = arg;
    n->hook_count++;
    return HM_OK;
}

hm_err nd_node_block_header(nd_node *n, uint64_t height, hm_block_header *out) {
    if (height == 0 || height > n->tip.height)
        return HM_ERR_NOT_FOUND;
    uint8_t *raw = NULL;
    size_t len = 0;
    hm_err err = nd_store_get_block(n->store, height, &raw, &len);
    if (err != HM_OK)
        return err;
    hm_reader r;
    hm_reader_init(&r, raw, len);
    err = hm_block_header_decode(&r, out);
    free(raw);
    return err == HM_OK ? HM_OK : HM_ERR_IO;
}

hm_err nd_node_block_cert(nd_node *n, uint64_t height, hm_cert *out) {
    if (height == 0 || height > n->tip.height)
        return HM_ERR_NOT_FOUND;
    return nd_store_get_cert(n->store, height, out);
}

hm_err nd_node_tx_locate(nd_node *n, const uint8_t id[HM_HASH_LEN], uint64_t *height,
                         uint32_t *index) {
    return nd_store_tx_locate(n->store, id, height, index);
}

hm_err nd_node_block_leaves(nd_node *n, uint64_t height, uint8_t (**leaves)[HM_HASH_LEN],
                            size_t *count) {
    nd_block b;
    hm_err err = nd_node_block_read(n, height, &b);
    if (err != HM_OK)
        return err;
    uint8_t(*out)[HM_HASH_LEN] = malloc((b.tx_count ? b.tx_count : 1) * sizeof *out);
    if (!out) {
        nd_block_clear(&b);
        return HM_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < b.tx_count; i++) {
        ct_tx tx;
        if (ct_tx_decode(b.txs[i], b.tx_lens[i], &tx) != HM_OK) {
            free(out);
            nd_block_clear(&b);
            return HM_ERR_IO;
        }
        ct_tx_leaf_hash(&tx, out[i]);
    }
    *count = b.tx_count;
    *leaves = out;
    nd_block_clear(&b);
    return HM_OK;
}

/* The leaves of committed block height from the cache, reading and hashing
 * the block only on a miss. Proving one tx otherwise reads its whole block
 * and hashes every tx in it: several ms for a block of many item batches,
 * paid by every item lookup of that block. A committed block never
 * changes, so a kept entry is never stale. *owned tells the caller to free
 * *leaves (a block too large to keep). */
static hm_err cached_leaves(nd_node *n, uint64_t height, const uint8_t (**leaves)[HM_HASH_LEN],
                            size_t *count, uint8_t (**owned)[HM_HASH_LEN]) {
    assert(height != 0);
    *owned = NULL;
    nd_leaves_slot *victim = &n->leaves_cache[0];
    for (size_t i = 0; i < ND_LEAVES_CACHE_SLOTS; i++) {
        nd_leaves_slot *c = &n->leaves_cache[i];
        if (c->height == height) {
            c->last_use = ++n->leaves_clock;
            *leaves = (const uint8_t(*)[HM_HASH_LEN])c->leaves;
            *count = c->count;
            return HM_OK;
        }
        if (c->last_use < victim->last_use)
            victim = c;
    }
    uint8_t(*got)[HM_HASH_LEN] = NULL;
    size_t got_count = 0;
    hm_err err = nd_node_block_leaves(n, height, &got, &got_count);
    if (err != HM_OK)
        return err;
    *leaves = (const uint8_t(*)[HM_HASH_LEN])got;
    *count = got_count;
    if (got_count > ND_LEAVES_CACHE_ENTRY_MAX) {
        *owned = got;
        return HM_OK;
    }
    free(victim->leaves);
    victim->height = height;
    victim->leaves = got;
    victim->count = got_count;
    victim->last_use = ++n->leaves_clock;
    return HM_OK;
}

hm_err nd_node_tx_inclusion_proof(nd_node *n, uint64_t height, uint32_t index,
                                  uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len,
                                  uint64_t *tree_size) {
    if (height == 0 || height > n->tip.height)
        return HM_ERR_NOT_FOUND;
    const uint8_t(*leaves)[HM_HASH_LEN] = NULL;
    uint8_t(*owned)[HM_HASH_LEN] = NULL;
    size_t count = 0;
    hm_err err = cached_leaves(n, height, &leaves, &count, &owned);
    if (err != HM_OK)
        return err;
    err = hm_merkle_inclusion_proof(leaves, count, index, proof, proof_len);
    free(owned);
    if (err == HM_OK)
        *tree_size = count;
    return err;
}

hm_err nd_node_tx_bytes(nd_node *n, const uint8_t id[HM_HASH_LEN], uint8_t **tx, size_t *tx_len) {
    uint64_t height;
    uint32_t index;
    hm_err err = nd_store_tx_locate(n->store, id, &height, &index);
    if (err != HM_OK)
        return err;
    nd_block b;
    if ((err = nd_node_block_read(n, height, &b)) != HM_OK)
        return err;
    if (index >= b.tx_count) {
        nd_block_clear(&b);
        return HM_ERR_IO;
    }
    uint8_t *copy = malloc(b.tx_lens[index] ? b.tx_lens[index] : 1);
    if (!copy) {
        nd_block_clear(&b);
        return HM_ERR_NOMEM;
    }
    memcpy(copy, b.txs[index], b.tx_lens[index]);
    *tx = copy;
    *tx_len = b.tx_lens[index];
    nd_block_clear(&b);
    return HM_OK;
}

/* ------------------------------------------------------------ mempool */

static void maybe_build_deferred(nd_node *n);

/* Admission shared by the API and gossip. */
static hm_err admit_tx(nd_node *n, const uint8_t *txb, size_t tx_len, uint8_t id[HM_HASH_LEN]) {
    if (tx_len > ND_TX_FRAME_MAX)
        return HM_ERR_TOO_LONG;
    ct_tx tx;
    hm_err err = ct_tx_decode(txb, tx_len, &tx);
    if (err != HM_OK)
        return err;
    memcpy(id, tx.id, HM_HASH_LEN);
    if (nd_mempool_contains(n->mempool, tx.id))
        return HM_ERR_EXISTS;
    uint64_t h;
    uint32_t idx;
    if (nd_store_tx_locate(n->store, tx.id, &h, &idx) == HM_OK)
        return HM_ERR_EXISTS;
    /* the one signature check for this tx on this node: pool membership is
     * the verify cache that block execution consults */
    if ((err = ct_tx_check_sig(&tx, n->g.chain_id)) != HM_OK)
        return err;
    if (!tx.has_records)
        return nd_mempool_add(n->mempool, tx.id, txb, tx_len);
    /* the records root, checked once here: the hashes are kept with the
     * pooled tx, for its execution (execute) to use instead of hashing a
     * batch of up to 100,000 records again */
    size_t count = tx.record_count + ct_tx_records_chunks(&tx);
    uint8_t(*hashes)[HM_HASH_LEN] = malloc(count * HM_HASH_LEN);
    if (!hashes)
        return HM_ERR_NOMEM;
    err = ct_tx_records_hash(&tx, hashes, hashes + tx.record_count);
    if (err == HM_OK)
        err = nd_mempool_add_hashed(n->mempool, tx.id, txb, tx_len,
                                    (const uint8_t(*)[HM_HASH_LEN])hashes, count);
    free(hashes);
    return err;
}

/* Sends the waiting tx batch to every validator. Called when it is full,
 * ND_GOSSIP_FLUSH_MS after its first tx, and before any consensus frame
 * leaves: a proposal must never reach a peer ahead of the txs it holds, or
 * the peer would check their signatures twice (in the block, then again
 * when the gossip arrives). */
static void gossip_flush(nd_node *n) {
    if (n->gossip_len == 0)
        return;
    if (n->net)
        nd_net_broadcast(n->net, ND_MSG_TXS, n->gossip_buf, n->gossip_len, true);
    n->gossip_len = 0;
}

static void gossip_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    gossip_flush(arg);
}

/* Queues a tx taken from a client for the validators. Txs leave in batches
 * (ND_MSG_TXS) of up to ND_TXS_FRAME_MAX bytes, at most ND_GOSSIP_FLUSH_MS
 * after the first one: one frame per batch and peer where there was one per
 * tx and peer, and fewer TLS records and system calls. A tx too large for a
 * batch goes alone as ND_MSG_TX, after the batch, so peers see txs in the
 * order this node took them. */
static void gossip_tx(nd_node *n, const uint8_t *tx, size_t tx_len) {
    if (!n->net)
        return;
    hm_err err = nd_txs_append(n->gossip_buf, &n->gossip_len, tx, tx_len);
    if (err == HM_ERR_FULL) {
        gossip_flush(n);
        err = nd_txs_append(n->gossip_buf, &n->gossip_len, tx, tx_len);
    }
    if (err != HM_OK) {
        /* too large for any batch: alone, after what is waiting */
        gossip_flush(n);
        nd_net_broadcast(n->net, ND_MSG_TX, tx, tx_len, true);
        return;
    }
    if (!evtimer_pending(n->gossip_timer, NULL)) {
        struct timeval tv = {0, ND_GOSSIP_FLUSH_MS * 1000};
        evtimer_add(n->gossip_timer, &tv);
    }
}

hm_err nd_node_submit_tx(nd_node *n, const uint8_t *tx, size_t tx_len,
                         uint8_t id_out[HM_HASH_LEN]) {
    memset(id_out, 0, HM_HASH_LEN);
    hm_err err = admit_tx(n, tx, tx_len, id_out);
    if (err != HM_OK) {
        n->txs_rejected[err]++;
        return err;
    }
    gossip_tx(n, tx, tx_len);
    maybe_build_deferred(n);
    return HM_OK;
}

/* ------------------------------------------------------------ blocks */

static nd_pending_block *pending_find(nd_node *n, const uint8_t id[HM_HASH_LEN]) {
    for (int i = 0; i < ND_PENDING_BLOCKS_MAX; i++)
        if (n->pending[i].used && !memcmp(n->pending[i].id, id, HM_HASH_LEN))
            return &n->pending[i];
    return NULL;
}

static nd_pending_block *pending_slot(nd_node *n);

/* A block of the next height by id: in memory, else saved before a restart. */
static nd_pending_block *pending_load(nd_node *n, const uint8_t id[HM_HASH_LEN]) {
    nd_pending_block *pb = pending_find(n, id);
    if (pb)
        return pb;
    uint8_t *raw = NULL;
    size_t len = 0;
    if (nd_store_get_proposed(n->store, n->tip.height + 1, id, &raw, &len) != HM_OK)
        return NULL;
    nd_block b;
    if (nd_block_take(raw, len, n->g.block_txs_max, &b) != HM_OK)
        return NULL;
    pb = pending_slot(n);
    pb->block = b;
    memcpy(pb->id, id, HM_HASH_LEN);
    pb->used = true;
    pb->saved = true; /* read back from where it is kept */
    pb->seq = ++n->pending_seq;
    return pb;
}

/* Keeps a block we are about to vote for (or propose) across a restart. */
static void pending_save(nd_node *n, nd_pending_block *pb) {
    if (pb->saved)
        return; /* these very bytes are kept already */
    if (nd_store_put_proposed(n->store, pb->block.header.height, pb->id, pb->block.raw,
                              pb->block.raw_len) == HM_OK)
        pb->saved = true;
    else
        hm_log(HM_LOG_WARN, "proposal_save_failed", "height=%llu",
               (unsigned long long)pb->block.header.height);
}

static void pending_clear(nd_pending_block *pb) {
    ct_exec_free(pb->exec);
    nd_block_clear(&pb->block);
    memset(pb, 0, sizeof *pb);
}

/* A slot for a new block: a free one, else the oldest. */
static nd_pending_block *pending_slot(nd_node *n) {
    nd_pending_block *oldest = &n->pending[0];
    for (int i = 0; i < ND_PENDING_BLOCKS_MAX; i++) {
        if (!n->pending[i].used)
            return &n->pending[i];
        if (n->pending[i].seq < oldest->seq)
            oldest = &n->pending[i];
    }
    pending_clear(oldest);
    return oldest;
}

static void pending_drop_upto(nd_node *n, uint64_t height) {
    for (int i = 0; i < ND_PENDING_BLOCKS_MAX; i++)
        if (n->pending[i].used && n->pending[i].block.header.height <= height)
            pending_clear(&n->pending[i]);
}

static ct_block_ctx block_ctx(const nd_node *n, const hm_block_header *h) {
    ct_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    snprintf(ctx.chain_id, sizeof ctx.chain_id, "%s", n->g.chain_id);
    ctx.height = h->height;
    ctx.time_ms = h->time_ms;
    ctx.admin_count = n->g.admin_count;
    memcpy(ctx.admins, n->g.admins, sizeof ctx.admins);
    return ctx;
}

/* All the bytes of a decoded tx with records: head, signature and record
 * list are contiguous, and ct_tx_decode allows nothing after the list. */
static size_t tx_bytes_len(const ct_tx *tx) {
    assert(tx->has_records && tx->records > tx->head);
    return (size_t)(tx->records + tx->records_len - tx->head);
}

/* Executes the txs of a block, decoded once by nd_block_index_decoded, over
 * the committed state. HM_OK with *x and the state root, or an operating
 * error. */
static hm_err execute(nd_node *n, const hm_block_header *h, const ct_tx *txs, uint32_t tx_count,
                      ct_exec **x_out, uint8_t state_root[HM_HASH_LEN]) {
    ct_block_ctx ctx = block_ctx(n, h);
    ct_exec *x = NULL;
    hm_err err = ct_exec_new(&n->state, &ctx, &x);
    if (err != HM_OK)
        return err;
    for (uint32_t i = 0; i < tx_count; i++) {
        /* the record hashes of a pooled tx, when the block carries its very
         * bytes; and the verify cache: a pooled tx had its signature checked
         * when this node admitted it; any other is checked here, once */
        const uint8_t(*hashes)[HM_HASH_LEN] = NULL;
        size_t hash_count = 0;
        bool prehashed =
            txs[i].has_records && nd_mempool_hashes(n->mempool, txs[i].id, txs[i].head,
                                                    tx_bytes_len(&txs[i]), &hashes, &hash_count);
        bool checked = prehashed || nd_mempool_contains(n->mempool, txs[i].id);
        ct_result res;
        if (prehashed) {
            assert(hash_count == txs[i].record_count + ct_tx_records_chunks(&txs[i]));
            err = ct_exec_tx_prehashed(x, &txs[i], checked, hashes, hashes + txs[i].record_count,
                                       &res);
        } else {
            err = ct_exec_tx_decoded(x, &txs[i], checked, &res);
        }
        if (err != HM_OK) {
            ct_exec_free(x);
            return err;
        }
    }
    if ((err = ct_exec_end_block(x)) != HM_OK) {
        ct_exec_free(x);
        return err;
    }
    ct_exec_state_root(x, n->tip.state_root, state_root);
    *x_out = x;
    return HM_OK;
}

/* Checks a proposed or fetched block against the tip and executes it.
 * Returns true when valid; pb->exec holds the execution. */
static bool validate_block(nd_node *n, nd_pending_block *pb, bool check_clock) {
    if (pb->executed)
        return pb->valid;
    pb->executed = true;
    pb->valid = false;
    const hm_block_header *h = &pb->block.header;
    const char *why = NULL;
    uint8_t root[HM_HASH_LEN];
    if (strcmp(h->chain_id, n->g.chain_id) != 0)
        why = "chain_id";
    else if (h->height != n->tip.height + 1)
        why = "height";
    else if (memcmp(h->prev_block_hash, n->tip.block_hash, HM_HASH_LEN) != 0)
        why = "prev_block_hash";
    else if (memcmp(h->validator_set_hash, n->g.vset_hash, HM_HASH_LEN) != 0)
        why = "validator_set_hash";
    else if (hm_validator_set_find(&n->g.vset, &h->proposer) < 0)
        why = "proposer";
    else if (h->time_ms <= n->tip.time_ms)
        why = "time_not_increasing";
    else if (check_clock && h->time_ms > nd_now_ms() + n->g.time_drift_max_ms)
        why = "time_ahead";
    else if (pb->block.tx_count > n->g.block_txs_max || pb->block.raw_len > n->g.block_bytes_max)
        why = "too_big";
    /* each tx decoded and hashed once, for ids, tx root and execution */
    ct_tx *decoded = NULL;
    if (!why &&
        !(decoded = malloc((pb->block.tx_count ? pb->block.tx_count : 1) * sizeof *decoded)))
        why = "execution_failed"; /* out of memory, as when execution runs out */
    else if (!why && (nd_block_index_decoded(&pb->block, root, decoded) != HM_OK ||
                      memcmp(root, h->tx_root, HM_HASH_LEN) != 0))
        why = "tx_root";
    if (!why) {
        hm_err err = execute(n, h, decoded, pb->block.tx_count, &pb->exec, root);
        if (err != HM_OK)
            why = "execution_failed";
        else if (memcmp(root, h->state_root, HM_HASH_LEN) != 0)
            why = "state_root";
    }
    free(decoded);
    if (why) {
        hm_log(HM_LOG_WARN, "block_invalid", "height=%llu reason=%s", (unsigned long long)h->height,
               why);
        ct_exec_free(pb->exec);
        pb->exec = NULL;
        /* a block ahead of this clock may be fine later: judge it again
         * when a later round proposes it */
        if (!strcmp(why, "time_ahead"))
            pb->executed = false;
        return false;
    }
    pb->valid = true;
    return true;
}

static void build_block(nd_node *n, uint64_t height, uint32_t round) {
    if (height != n->tip.height + 1)
        return;
    uint32_t max = n->g.block_txs_max;
    const uint8_t **txs = calloc(max, sizeof *txs);
    size_t *lens = calloc(max, sizeof *lens);
    if (!txs || !lens) {
        free(txs);
        free(lens);
        return;
    }
    uint32_t count = nd_mempool_reap(n->mempool, max, n->g.block_bytes_max - 4096, txs, lens);
    hm_block_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.chain_id, sizeof h.chain_id, "%s", n->g.chain_id);
    h.height = height;
    uint64_t now = nd_now_ms();
    h.time_ms = now > n->tip.time_ms ? now : n->tip.time_ms + 1;
    memcpy(h.prev_block_hash, n->tip.block_hash, HM_HASH_LEN);
    memcpy(h.validator_set_hash, n->g.vset_hash, HM_HASH_LEN);
    h.proposer = n->key.pub;
    ct_exec *x = NULL;
    /* a view of the reaped txs, to decode and hash each one once */
    nd_block view;
    memset(&view, 0, sizeof view);
    view.txs = txs;
    view.tx_lens = lens;
    view.tx_count = count;
    ct_tx *decoded = malloc((count ? count : 1) * sizeof *decoded);
    hm_err err = decoded ? nd_block_index_decoded(&view, h.tx_root, decoded) : HM_ERR_NOMEM;
    if (err == HM_OK)
        err = execute(n, &h, decoded, count, &x, h.state_root);
    free(decoded);
    nd_pending_block *pb = NULL;
    if (err == HM_OK) {
        pb = pending_slot(n);
        err = nd_block_build(&h, txs, lens, count, &pb->block);
    }
    free(txs);
    free(lens);
    if (err == HM_OK) {
        pb->block.ids = view.ids;
        view.ids = NULL;
    }
    free(view.ids);
    if (err == HM_OK)
        err = hm_block_header_hash(&h, pb->id);
    if (err != HM_OK) {
        hm_log(HM_LOG_ERROR, "block_build_failed", "height=%llu error=%s",
               (unsigned long long)height, hm_err_name(err));
        ct_exec_free(x);
        if (pb)
            pending_clear(pb);
        return;
    }
    pb->used = true;
    pb->exec = x;
    pb->executed = true;
    pb->valid = true;
    pb->seq = ++n->pending_seq;
    pending_save(n, pb);
    hm_log(HM_LOG_DEBUG, "block_built", "height=%llu round=%u txs=%u", (unsigned long long)height,
           round, count);
    cs_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = CS_EV_BLOCK_BUILT;
    ev.height = height;
    ev.round = round;
    memcpy(ev.block_id, pb->id, HM_HASH_LEN);
    cs_feed(n, &ev);
}

static void build_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    nd_node *n = arg;
    if (!n->build_deferred)
        return;
    n->build_deferred = false;
    n->build_gathering = false;
    build_block(n, n->build_height, n->build_round);
}

/* Builds on the next loop turn rather than now: requests already waiting
 * (more txs for this block) are served first, and a network that decides
 * heights without waiting on peers (one validator) still yields to its API
 * between blocks. */
static void build_soon(nd_node *n) {
    struct timeval now = {0, 0};
    evtimer_add(n->build_timer, &now);
}

/* With txs waiting, builds now, or, when they are few and the last commit
 * was under ND_BUILD_GATHER_MS ago, once that time has passed. A height
 * costs each validator a few synced writes and signature checks whatever it
 * holds, so a block of a handful of txs every few milliseconds would spend
 * most of the cores on them under a moderate load; gathering for a few
 * milliseconds trades that for a little latency. Never for a later round,
 * which must make progress, nor once ND_BUILD_GATHER_TXS are waiting, nor
 * once ND_BUILD_GATHER_BYTES are: a batch tx counts as one tx however many
 * records it carries, and a MiB of txs (some 15,000 item records, or
 * thousands of small txs) is work enough that the height's fixed cost is
 * small beside it, so waiting would only leave every validator idle. */
static void build_when_ready(nd_node *n) {
    assert(n->build_deferred && nd_mempool_count(n->mempool) > 0);
    uint64_t now = nd_now_ms();
    uint64_t until = n->last_commit_ms + ND_BUILD_GATHER_MS;
    if (n->build_round > 0 || nd_mempool_count(n->mempool) >= ND_BUILD_GATHER_TXS ||
        nd_mempool_bytes(n->mempool) >= ND_BUILD_GATHER_BYTES || now >= until ||
        n->tip.height == 0) {
        n->build_gathering = false;
        build_soon(n);
        return;
    }
    if (n->build_gathering)
        return; /* the timer is already set for until */
    n->build_gathering = true;
    uint64_t wait = until - now;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
    evtimer_add(n->build_timer, &tv);
}

static void maybe_build_deferred(nd_node *n) {
    if (n->build_deferred && nd_mempool_count(n->mempool) > 0)
        build_when_ready(n);
}

static void on_build_request(nd_node *n, uint64_t height, uint32_t round) {
    uint64_t now = nd_now_ms();
    uint64_t due = n->tip.time_ms + n->g.block_interval_ms;
    n->build_deferred = true;
    n->build_gathering = false;
    n->build_height = height;
    n->build_round = round;
    if (nd_mempool_count(n->mempool) > 0) {
        build_when_ready(n);
        return;
    }
    if (round > 0 || now >= due || n->tip.height == 0) {
        build_soon(n);
        return;
    }
    /* idle chain: an empty block at the configured interval */
    uint64_t wait = due - now;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
    evtimer_add(n->build_timer, &tv);
}

static void send_status(nd_node *n, nd_peer *p) {
    uint8_t buf[8];
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(n->tip.height >> (56 - 8 * i));
    if (p)
        nd_net_send(p, ND_MSG_STATUS, buf, 8);
    else if (n->net)
        nd_net_broadcast(n->net, ND_MSG_STATUS, buf, 8, false);
}

/* Commits a validated block with its certificate. */
static hm_err commit_block(nd_node *n, nd_pending_block *pb, const hm_cert *cert) {
    assert(pb->executed && pb->valid && pb->exec);
    const hm_block_header *h = &pb->block.header;
    uint32_t count = pb->block.tx_count;
    /* validation indexed the block (build_block and validate_block both) */
    assert(pb->block.ids || count == 0);
    if (!pb->block.ids) {
        uint8_t root[HM_HASH_LEN];
        if (nd_block_index(&pb->block, root) != HM_OK)
            return HM_ERR_IO;
    }
    const uint8_t(*ids)[HM_HASH_LEN] = (const uint8_t(*)[HM_HASH_LEN])pb->block.ids;
    hm_err err =
        nd_store_commit(n->store, h, pb->block.raw, pb->block.raw_len, pb->saved ? pb->id : NULL,
                        cert, ids, count, pb->exec, h->state_root);
    if (err != HM_OK)
        return err;
    /* the record hashes admission kept, for the commit hooks (the consumer
     * API builds each batch's tree from them); the txs leave the pool after
     * the hooks ran */
    const uint8_t(**leaves)[HM_HASH_LEN] = count ? calloc(count, sizeof *leaves) : NULL;
    for (uint32_t i = 0; leaves && i < count; i++) {
        size_t hash_count = 0;
        if (!nd_mempool_hashes(n->mempool, ids[i], pb->block.txs[i], pb->block.tx_lens[i],
                               &leaves[i], &hash_count))
            leaves[i] = NULL;
    }
    n->tip.height = h->height;
    memcpy(n->tip.block_hash, pb->id, HM_HASH_LEN);
    memcpy(n->tip.state_root, h->state_root, HM_HASH_LEN);
    n->tip.time_ms = h->time_ms;
    n->txs_committed += count;
    n->blocks_committed++;
    uint64_t now = nd_now_ms();
    n->last_commit_ms = now;
    uint64_t lat = now > h->time_ms ? now - h->time_ms : 0;
    int b = 0;
    while (b < ND_LATENCY_BUCKETS && lat > nd_latency_bounds_ms[b])
        b++;
    n->latency_buckets[b]++;
    n->latency_sum_ms += lat;
    n->latency_count++;
    char hash_hex[2 * HM_HASH_LEN + 1];
    hm_hex_encode(pb->id, HM_HASH_LEN, hash_hex);
    /* the round shows heights that needed more than one (a lost round
     * costs at least a propose timeout) */
    hm_log(count ? HM_LOG_INFO : HM_LOG_DEBUG, "block_committed",
           "height=%llu round=%u txs=%u hash=%s latency_ms=%llu", (unsigned long long)h->height,
           cert->round, count, hash_hex, (unsigned long long)lat);
    const nd_block_txs txs = {count, pb->block.txs, pb->block.tx_lens,
                              (const uint8_t(*const *)[HM_HASH_LEN])leaves};
    for (uint32_t i = 0; i < n->hook_count; i++)
        n->hooks[i].fn(n, h, &txs, pb->exec, n->hooks[i].arg);
    free(leaves);
    for (uint32_t i = 0; i < count; i++)
        nd_mempool_remove(n->mempool, ids[i]);
    pending_drop_upto(n, h->height);
    if (n->has_orphan_cert && n->orphan_cert.height <= n->tip.height)
        n->has_orphan_cert = false;
    send_status(n, NULL);
    validations_retry(n);
    return HM_OK;
}

/* ------------------------------------------------------------ consensus */

static void timer_fired(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    nd_timer *t = arg;
    nd_node *n = t->n;
    for (nd_timer **pp = &n->timers; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    cs_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = CS_EV_TIMEOUT;
    ev.height = t->height;
    ev.round = t->round;
    ev.step = t->step;
    event_free(t->ev);
    free(t);
    cs_feed(n, &ev);
}

static void schedule_timeout(nd_node *n, const cs_action *a) {
    nd_timer *t = calloc(1, sizeof *t);
    if (!t)
        return;
    t->n = n;
    t->height = a->height;
    t->round = a->round;
    t->step = a->step;
    t->ev = evtimer_new(n->base, timer_fired, t);
    if (!t->ev) {
        free(t);
        return;
    }
    t->next = n->timers;
    n->timers = t;
    /* libevent measures a timeout from the time it cached when the loop
     * turn began; the actions before this one may have taken seconds (the
     * commit of a large block comes right before the next height's propose
     * timeout), and measured from then the timeout would already be over:
     * the node would prevote nil on a proposal sitting in its socket
     * buffer and lose the round. Measure it from now. */
    event_base_update_cache_time(n->base);
    struct timeval tv = {a->duration_ms / 1000, (a->duration_ms % 1000) * 1000};
    evtimer_add(t->ev, &tv);
}

/* --------------------------------------------------------- consensus log
 *
 * docs/consensus.md asks the embedder to keep the consensus messages of the
 * current height (those it sent and those the replica accepted) and feed
 * them back after a restart, so that a network that crashed mid-height
 * still holds its proposal and the quorums it had gathered. Own votes are
 * in the vote records (nd_store_scan_votes); own proposals and accepted
 * peer messages go here, in chunks kept beside the proposed blocks ("p/"
 * records of the height, which the commit of the height deletes). Writes
 * are not synced: the next synced sign-state write makes them durable, and
 * a lost tail only costs what gossip re-sends anyway. */

static void cslog_key(uint32_t chunk, uint8_t id[HM_HASH_LEN]) {
    static const char tag[] = "hallmark/consensus-log";
    memset(id, 0, HM_HASH_LEN);
    memcpy(id, tag, sizeof tag - 1);
    for (int i = 0; i < 4; i++)
        id[HM_HASH_LEN - 4 + i] = (uint8_t)(chunk >> (24 - 8 * i));
}

static void cslog_append(nd_node *n, const uint8_t *msg, size_t len, uint64_t height) {
    if (n->cslog_replaying || height != n->tip.height + 1 || len > CS_MSG_MAX)
        return;
    if (n->cslog_height != height) {
        n->cslog_height = height;
        n->cslog_chunk = 0;
        n->cslog_len = 0;
    }
    if (n->cslog_len + 2 + len > sizeof n->cslog_buf) {
        if (n->cslog_chunk + 1 >= ND_CSLOG_CHUNKS_MAX)
            return; /* full for this height: replay is for liveness only */
        n->cslog_chunk++;
        n->cslog_len = 0;
    }
    n->cslog_buf[n->cslog_len] = (uint8_t)(len >> 8);
    n->cslog_buf[n->cslog_len + 1] = (uint8_t)len;
    memcpy(n->cslog_buf + n->cslog_len + 2, msg, len);
    n->cslog_len += (uint32_t)(2 + len);
    uint8_t id[HM_HASH_LEN];
    cslog_key(n->cslog_chunk, id);
    if (nd_store_put_proposed(n->store, height, id, n->cslog_buf, n->cslog_len) != HM_OK)
        hm_log(HM_LOG_WARN, "consensus_log_failed", "height=%llu", (unsigned long long)height);
}

/* Logs an encoded message by the height it names. */
static void cslog_message(nd_node *n, const uint8_t *msg, size_t len) {
    cs_msg m;
    if (cs_msg_decode(msg, len, &m) != HM_OK)
        return;
    cslog_append(n, msg, len, m.type == CS_MSG_PROPOSAL ? m.proposal.height : m.vote.height);
}

/* Feeds the logged messages of the current height back to the replica. */
static void cslog_replay(nd_node *n) {
    uint64_t height = n->tip.height + 1;
    uint32_t fed = 0;
    n->cslog_height = height;
    n->cslog_chunk = 0;
    n->cslog_len = 0;
    for (uint32_t k = 0; k < ND_CSLOG_CHUNKS_MAX; k++) {
        uint8_t id[HM_HASH_LEN];
        uint8_t *raw = NULL;
        size_t len = 0;
        cslog_key(k, id);
        if (nd_store_get_proposed(n->store, height, id, &raw, &len) != HM_OK)
            break;
        if (len > sizeof n->cslog_buf) {
            free(raw);
            break;
        }
        /* the last chunk read stays the one being filled */
        memcpy(n->cslog_buf, raw, len);
        free(raw);
        n->cslog_chunk = k;
        n->cslog_len = (uint32_t)len;
        for (size_t at = 0; at + 2 <= len;) {
            size_t msg_len = ((size_t)n->cslog_buf[at] << 8) | n->cslog_buf[at + 1];
            if (msg_len > CS_MSG_MAX || at + 2 + msg_len > len)
                break;
            cs_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = CS_EV_MESSAGE;
            ev.data = n->cslog_buf + at + 2;
            ev.data_len = msg_len;
            cs_feed(n, &ev);
            fed++;
            at += 2 + msg_len;
        }
    }
    if (fed)
        hm_log(HM_LOG_INFO, "consensus_log_replayed", "height=%llu messages=%u",
               (unsigned long long)height, fed);
}

typedef struct {
    const uint8_t *head; /* u16 msg_len | msg */
    size_t head_len;
    uint8_t type;        /* ND_MSG_PROPOSAL_IDS, or ND_MSG_CONSENSUS */
    const uint8_t *body; /* the compact block, or the block */
    size_t body_len;
} proposal_push;

static void push_proposal(nd_peer *p, void *arg) {
    const proposal_push *pp = arg;
    if (nd_peer_validator_index(p) < 0)
        return;
    /* a peer whose queue has no room for the block gets nothing now and
     * asks for it (ND_MSG_GET_PROPOSAL) when the proposal reaches it */
    (void)nd_net_send2(p, pp->type, pp->head, pp->head_len, pp->body, pp->body_len);
}

/* A consensus frame: u16 msg_len | msg | block bytes (proposals only).
 *
 * A block is pushed once, with the first broadcast of its proposal, and in
 * its compact form (ND_MSG_PROPOSAL_IDS: the header and the tx ids): every
 * validator already holds its txs, which the nodes clients gave them to
 * sent to every validator, so sending their bytes again (17 MB for a batch
 * of 100,000 records, to each peer) only made the proposer encrypt and the
 * peers decrypt and copy them a second time while every validator waited
 * for the transfer. A validator missing one of the txs asks for the block
 * itself (ND_MSG_GET_PROPOSAL, answered by send_proposal with the full
 * frame).
 *
 * The consensus core re-gossips proposals every second while a height is
 * stuck (as it is while peers execute a large block), and re-sending
 * megabytes each time filled the peers' queues. Re-gossip therefore sends
 * the proposal alone, and a peer that lacks the block asks for it. */
static void broadcast_msg(nd_node *n, const cs_action *a) {
    gossip_flush(n);
    uint8_t head[2 + CS_MSG_MAX];
    assert(a->msg_len <= CS_MSG_MAX);
    head[0] = (uint8_t)(a->msg_len >> 8);
    head[1] = (uint8_t)a->msg_len;
    memcpy(head + 2, a->msg, a->msg_len);
    size_t head_len = 2 + a->msg_len;
    if (a->msg_type == CS_MSG_PROPOSAL) {
        nd_pending_block *pb = pending_load(n, a->block_id);
        if (pb) {
            cs_msg m;
            /* the first broadcast of an own proposal goes to the log (a
             * peer's was logged when the replica accepted it) */
            if ((pb->proposal_msg_len != a->msg_len ||
                 memcmp(pb->proposal_msg, a->msg, a->msg_len) != 0) &&
                cs_msg_decode(a->msg, a->msg_len, &m) == HM_OK &&
                (int)m.validator_index == n->self_index)
                cslog_append(n, a->msg, a->msg_len, m.proposal.height);
            memcpy(pb->proposal_msg, a->msg, a->msg_len);
            pb->proposal_msg_len = a->msg_len;
            if (!pb->pushed) {
                pb->pushed = true;
                proposal_push pp = {head, head_len, ND_MSG_CONSENSUS, pb->block.raw,
                                    pb->block.raw_len};
                uint8_t *compact = NULL;
                size_t compact_len = 0;
                /* the ids are there for a block built or validated here; a
                 * block read back after a restart goes whole */
                if (pb->block.ids &&
                    nd_compact_encode(&pb->block.header,
                                      (const uint8_t(*)[HM_HASH_LEN])pb->block.ids,
                                      pb->block.tx_count, &compact, &compact_len) == HM_OK) {
                    pp.type = ND_MSG_PROPOSAL_IDS;
                    pp.body = compact;
                    pp.body_len = compact_len;
                }
                nd_net_foreach(n->net, push_proposal, &pp);
                free(compact);
                return;
            }
        }
    }
    nd_net_broadcast(n->net, ND_MSG_CONSENSUS, head, head_len, true);
}

/* Answers ND_MSG_GET_PROPOSAL: the proposal we hold for that block, with the
 * block, to the peer that asked. The peer's queue bound limits how much a
 * peer can make us send. */
static void send_proposal(nd_node *n, nd_peer *p, const uint8_t id[HM_HASH_LEN]) {
    nd_pending_block *pb = pending_find(n, id);
    if (!pb || pb->proposal_msg_len == 0)
        return;
    gossip_flush(n);
    uint8_t head[2 + CS_MSG_MAX];
    head[0] = (uint8_t)(pb->proposal_msg_len >> 8);
    head[1] = (uint8_t)pb->proposal_msg_len;
    memcpy(head + 2, pb->proposal_msg, pb->proposal_msg_len);
    (void)nd_net_send2(p, ND_MSG_CONSENSUS, head, 2 + pb->proposal_msg_len, pb->block.raw,
                       pb->block.raw_len);
}

/* Persists the sign-state with the record of every own vote that follows it
 * in this batch (the cluster tests check the records for double signing). */
static hm_err persist(nd_node *n, const cs_actions *acts, uint32_t at) {
    uint8_t state[CS_SIGN_STATE_ENCODED_LEN];
    cs_sign_state_encode(&acts->items[at].sign_state, state);
    bool first = true;
    for (uint32_t j = at + 1; j < acts->count; j++) {
        const cs_action *b = &acts->items[j];
        if (b->type == CS_ACT_PERSIST_SIGN_STATE)
            break;
        if (b->type != CS_ACT_BROADCAST || b->msg_type != CS_MSG_VOTE)
            continue;
        cs_msg m;
        if (cs_msg_decode(b->msg, b->msg_len, &m) != HM_OK ||
            (int)m.validator_index != n->self_index)
            continue;
        uint8_t key[8 + 4 + 1 + HM_HASH_LEN];
        for (int i = 0; i < 8; i++)
            key[i] = (uint8_t)(m.vote.height >> (56 - 8 * i));
        for (int i = 0; i < 4; i++)
            key[8 + i] = (uint8_t)(m.vote.round >> (24 - 8 * i));
        key[12] = m.vote.type;
        memcpy(key + 13, m.vote.block_id, HM_HASH_LEN);
        hm_err err = nd_store_put_sign_state_and_vote(n->store, first ? state : NULL,
                                                      first ? sizeof state : 0, key, sizeof key,
                                                      b->msg, b->msg_len);
        if (err != HM_OK)
            return err;
        first = false;
    }
    if (first)
        return nd_store_put_sign_state(n->store, state, sizeof state);
    return HM_OK;
}

static void request_block(nd_node *n, nd_peer *p, uint64_t height) {
    uint8_t buf[8];
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(height >> (56 - 8 * i));
    n->fetch_height = height;
    n->fetch_sent_ms = nd_now_ms();
    if (p)
        nd_net_send(p, ND_MSG_GET_BLOCK, buf, 8);
    else
        nd_net_broadcast(n->net, ND_MSG_GET_BLOCK, buf, 8, true);
}

/* ------------------------------------------------- deferred validations
 *
 * "Not valid" makes the replica prevote nil, so it is the answer only for a
 * block that fails validation. A block whose bytes have not arrived, or one
 * for a height this node cannot execute yet (its tip is behind: it decided
 * a height without the block and is fetching it), is answered later: the
 * request waits here and is answered when the block arrives or the tip
 * reaches height - 1. Meanwhile the round's timeouts still move the
 * replica on. The replica asks once per block and height while an answer
 * is pending, so a request must never be forgotten: one evicted for room
 * is answered "not valid", which a later round asks again. */

static void validation_answer(nd_node *n, uint64_t height, uint32_t round,
                              const uint8_t id[HM_HASH_LEN], bool valid) {
    cs_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = CS_EV_BLOCK_VALIDATED;
    ev.height = height;
    ev.round = round;
    memcpy(ev.block_id, id, HM_HASH_LEN);
    ev.valid = valid;
    cs_feed(n, &ev);
}

/* True, with *valid, when the block can be judged now. */
static bool validation_try(nd_node *n, uint64_t height, const uint8_t id[HM_HASH_LEN],
                           bool *valid) {
    *valid = false;
    if (height <= n->tip.height)
        return true; /* decided here already: the replica is moving on */
    if (height != n->tip.height + 1)
        return false;
    nd_pending_block *pb = pending_load(n, id);
    if (!pb)
        return false;
    *valid = validate_block(n, pb, true);
    if (*valid)
        pending_save(n, pb);
    else if (pb->rebuilt && pb->executed) {
        /* Judged on bytes from this node's own pool: never prevote nil on
         * those. The whole block is asked for (the request waits for it)
         * and judged on its own bytes. */
        hm_log(HM_LOG_WARN, "rebuilt_block_invalid", "height=%llu", (unsigned long long)height);
        pending_clear(pb);
        return false;
    }
    return true;
}

/* Asks the validators for a proposal's block now and then while a
 * validation waits for it (any validator that holds it answers). */
static void validation_fetch(nd_node *n, nd_deferred_validation *d, uint64_t now) {
    if (!n->net || d->height > n->tip.height + 2 || now - d->asked_ms <= FETCH_TIMEOUT_MS ||
        pending_find(n, d->block_id))
        return;
    d->asked_ms = now;
    nd_net_broadcast(n->net, ND_MSG_GET_PROPOSAL, d->block_id, HM_HASH_LEN, true);
}

static void validation_defer(nd_node *n, const cs_action *a) {
    nd_deferred_validation *slot = NULL, *oldest = NULL;
    for (int i = 0; i < ND_DEFERRED_VALIDATIONS_MAX; i++) {
        nd_deferred_validation *d = &n->deferred[i];
        if (!d->used) {
            if (!slot)
                slot = d;
            continue;
        }
        /* one answer covers every round that proposes this block */
        if (d->height == a->height && !memcmp(d->block_id, a->block_id, HM_HASH_LEN))
            return;
        if (!oldest || d->seq < oldest->seq)
            oldest = d;
    }
    if (!slot) {
        assert(oldest);
        hm_log(HM_LOG_WARN, "validation_evicted", "height=%llu round=%u",
               (unsigned long long)oldest->height, oldest->round);
        validation_answer(n, oldest->height, oldest->round, oldest->block_id, false);
        slot = oldest;
    }
    memset(slot, 0, sizeof *slot);
    slot->used = true;
    slot->height = a->height;
    slot->round = a->round;
    memcpy(slot->block_id, a->block_id, HM_HASH_LEN);
    slot->seq = ++n->deferred_seq;
    n->deferred_total++;
    hm_log(HM_LOG_INFO, "validation_deferred", "height=%llu round=%u tip=%llu block=%s",
           (unsigned long long)a->height, a->round, (unsigned long long)n->tip.height,
           pending_find(n, a->block_id) ? "held" : "missing");
    validation_fetch(n, slot, nd_now_ms());
}

/* Answers the waiting validations that can be answered now: after a block
 * arrived, after a commit, and every tick. */
static void validations_retry(nd_node *n) {
    cs_event answers[ND_DEFERRED_VALIDATIONS_MAX];
    uint32_t count = 0;
    uint64_t now = nd_now_ms();
    /* judge all first, feed after: feeding may defer or retry again */
    for (int i = 0; i < ND_DEFERRED_VALIDATIONS_MAX; i++) {
        nd_deferred_validation *d = &n->deferred[i];
        if (!d->used)
            continue;
        if (d->height <= n->tip.height) {
            memset(d, 0, sizeof *d); /* decided here: no answer needed */
            continue;
        }
        bool valid = false;
        if (!validation_try(n, d->height, d->block_id, &valid)) {
            validation_fetch(n, d, now);
            continue;
        }
        cs_event *ev = &answers[count++];
        memset(ev, 0, sizeof *ev);
        ev->type = CS_EV_BLOCK_VALIDATED;
        ev->height = d->height;
        ev->round = d->round;
        memcpy(ev->block_id, d->block_id, HM_HASH_LEN);
        ev->valid = valid;
        hm_log(HM_LOG_INFO, "validation_answered", "height=%llu round=%u valid=%d",
               (unsigned long long)d->height, d->round, (int)valid);
        memset(d, 0, sizeof *d);
    }
    for (uint32_t i = 0; i < count; i++)
        cs_feed(n, &answers[i]);
}

static void carry_out(nd_node *n, const cs_actions *acts) {
    for (uint32_t i = 0; i < acts->count; i++) {
        const cs_action *a = &acts->items[i];
        if (hm_log_get_level() <= HM_LOG_DEBUG)
            hm_log(HM_LOG_DEBUG, "consensus_action", "type=%u height=%llu round=%u step=%u",
                   a->type, (unsigned long long)a->height, a->round, a->step);
        switch (a->type) {
        case CS_ACT_PERSIST_SIGN_STATE:
            if (persist(n, acts, i) != HM_OK) {
                /* never send what we could not make durable */
                hm_log(HM_LOG_ERROR, "sign_state_persist_failed", "height=%llu",
                       (unsigned long long)a->sign_state.height);
                event_base_loopbreak(n->base);
                return;
            }
            break;
        case CS_ACT_BROADCAST:
            broadcast_msg(n, a);
            break;
        case CS_ACT_SCHEDULE_TIMEOUT:
            schedule_timeout(n, a);
            break;
        case CS_ACT_BUILD_BLOCK:
            on_build_request(n, a->height, a->round);
            break;
        case CS_ACT_VALIDATE_BLOCK: {
            bool valid = false;
            if (validation_try(n, a->height, a->block_id, &valid))
                validation_answer(n, a->height, a->round, a->block_id, valid);
            else
                validation_defer(n, a);
            break;
        }
        case CS_ACT_COMMIT: {
            if (a->height <= n->tip.height)
                break;
            nd_pending_block *pb = pending_load(n, a->block_id);
            if (pb && a->height == n->tip.height + 1 && validate_block(n, pb, false)) {
                hm_err err = commit_block(n, pb, &acts->cert);
                if (err != HM_OK) {
                    hm_log(HM_LOG_ERROR, "commit_failed", "height=%llu error=%s",
                           (unsigned long long)a->height, hm_err_name(err));
                    event_base_loopbreak(n->base);
                    return;
                }
            } else {
                /* decided without the block here: fetch it */
                n->orphan_cert = acts->cert;
                n->has_orphan_cert = true;
                request_block(n, NULL, n->tip.height + 1);
            }
            break;
        }
        default:
            break;
        }
    }
}

/* Doubles the event queue, keeping its order. False when out of memory or
 * at ND_CS_QUEUE_OWN_MAX. Queued entries point into themselves; the drain
 * loop re-points them, so moving them is safe. */
static bool cs_queue_grow(nd_node *n) {
    uint32_t cap = n->cs_queue_cap * 2;
    if (cap > ND_CS_QUEUE_OWN_MAX)
        return false;
    nd_cs_queued *q = malloc((size_t)cap * sizeof *q);
    if (!q)
        return false;
    for (uint32_t i = 0; i < n->cs_queue_len; i++)
        q[i] = n->cs_queue[(n->cs_queue_head + i) % n->cs_queue_cap];
    free(n->cs_queue);
    n->cs_queue = q;
    n->cs_queue_head = 0;
    n->cs_queue_cap = cap;
    return true;
}

/* Queues an event and, unless already draining, feeds the queue to the
 * replica. A peer message is dropped (and counted) when ND_CS_QUEUE_MAX
 * events wait: gossip re-sends it. The node's own events (timeouts, block
 * built / validated, decided elsewhere, replayed own votes) are never
 * dropped: a lost answer would leave a block pending for the whole height,
 * a lost timeout could stall the replica. */
static void cs_enqueue(nd_node *n, const cs_event *ev, bool from_peer) {
    if (!n->replica)
        return;
    if (from_peer && n->cs_queue_len >= ND_CS_QUEUE_MAX) {
        n->cs_queue_dropped++;
        uint64_t now = nd_now_ms();
        if (now - n->cs_queue_drop_log_ms >= 1000) {
            n->cs_queue_drop_log_ms = now;
            hm_log(HM_LOG_WARN, "consensus_queue_full", "dropped_total=%llu",
                   (unsigned long long)n->cs_queue_dropped);
        }
        return;
    }
    if (n->cs_queue_len >= n->cs_queue_cap && !cs_queue_grow(n)) {
        /* never lose an own event silently: stop, the restart recovers */
        hm_log(HM_LOG_ERROR, "consensus_queue_exhausted", "type=%u queued=%u", ev->type,
               n->cs_queue_len);
        event_base_loopbreak(n->base);
        return;
    }
    nd_cs_queued *q = &n->cs_queue[(n->cs_queue_head + n->cs_queue_len) % n->cs_queue_cap];
    n->cs_queue_len++;
    q->ev = *ev;
    if (ev->type == CS_EV_MESSAGE) {
        size_t len = ev->data_len < CS_MSG_MAX ? ev->data_len : CS_MSG_MAX;
        memcpy(q->msg, ev->data, len);
        q->ev.data = q->msg;
        q->ev.data_len = len;
    }
    if (ev->cert) {
        q->cert = *ev->cert;
        q->ev.cert = &q->cert;
    }
    if (n->cs_draining)
        return;
    n->cs_draining = true;
    static cs_actions acts; /* large; the node has one loop thread */
    while (n->cs_queue_len) {
        nd_cs_queued cur = n->cs_queue[n->cs_queue_head];
        if (cur.ev.type == CS_EV_MESSAGE)
            cur.ev.data = cur.msg;
        if (cur.ev.cert)
            cur.ev.cert = &cur.cert;
        n->cs_queue_head = (n->cs_queue_head + 1) % n->cs_queue_cap;
        n->cs_queue_len--;
        hm_err err = cs_replica_step(n->replica, &cur.ev, &acts);
        if (err != HM_OK) {
            hm_log(HM_LOG_ERROR, "consensus_step_failed", "error=%s", hm_err_name(err));
            continue;
        }
        if (cur.ev.type == CS_EV_MESSAGE) {
            n->cs_drops[acts.drop]++;
            if (acts.drop == CS_DROP_NONE)
                cslog_message(n, cur.msg, cur.ev.data_len);
        }
        carry_out(n, &acts);
    }
    n->cs_draining = false;
}

static void cs_feed(nd_node *n, const cs_event *ev) {
    cs_enqueue(n, ev, false);
}

/* ------------------------------------------------------------ peers */

static uint64_t be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Takes b, whose header hashes to id, as the pending block of the proposal
 * msg. */
static void pending_adopt(nd_node *n, nd_block *b, const uint8_t id[HM_HASH_LEN],
                          const uint8_t *msg, size_t msg_len, bool rebuilt) {
    assert(msg_len <= CS_MSG_MAX);
    nd_pending_block *pb = pending_slot(n);
    pb->block = *b;
    memset(b, 0, sizeof *b);
    memcpy(pb->id, id, HM_HASH_LEN);
    pb->used = true;
    pb->seq = ++n->pending_seq;
    /* its proposer pushed it to every validator: never push it again */
    pb->pushed = true;
    pb->rebuilt = rebuilt;
    /* kept with its proposal, so this node can answer ND_MSG_GET_PROPOSAL
     * for it too (the receiver checks it) */
    memcpy(pb->proposal_msg, msg, msg_len);
    pb->proposal_msg_len = msg_len;
    validations_retry(n);
}

/* Asks p for the block of proposal m, at most once per FETCH_TIMEOUT_MS for
 * the same block; the answer is the proposal again, with the block. */
static void proposal_fetch(nd_node *n, nd_peer *p, const cs_msg *m) {
    uint64_t now = nd_now_ms();
    if (memcmp(n->want_block_id, m->proposal.block_id, HM_HASH_LEN) == 0 &&
        now - n->want_sent_ms <= FETCH_TIMEOUT_MS)
        return;
    memcpy(n->want_block_id, m->proposal.block_id, HM_HASH_LEN);
    n->want_sent_ms = now;
    hm_log(HM_LOG_INFO, "proposal_fetch", "height=%llu round=%u peer=%s",
           (unsigned long long)m->proposal.height, m->proposal.round, nd_peer_name(p));
    (void)nd_net_send(p, ND_MSG_GET_PROPOSAL, m->proposal.block_id, HM_HASH_LEN);
}

/* Splits u16 msg_len | msg | rest (a consensus or compact proposal
 * frame); false when malformed. */
static bool consensus_frame_split(const uint8_t *data, size_t len, const uint8_t **msg,
                                  size_t *msg_len, const uint8_t **rest, size_t *rest_len) {
    if (len < 2)
        return false;
    *msg_len = ((size_t)data[0] << 8) | data[1];
    if (*msg_len > CS_MSG_MAX || 2 + *msg_len > len)
        return false;
    *msg = data + 2;
    *rest = data + 2 + *msg_len;
    *rest_len = len - 2 - *msg_len;
    return true;
}

/* Whether a proposal's block is one to keep: the next height's, or the one
 * after (the replica holds that height's messages while this node finishes
 * committing), and not held already. */
static bool proposal_block_wanted(nd_node *n, const cs_msg *m) {
    return (m->proposal.height == n->tip.height + 1 || m->proposal.height == n->tip.height + 2) &&
           !pending_find(n, m->proposal.block_id);
}

static void consensus_feed_peer(nd_node *n, const uint8_t *msg, size_t msg_len) {
    cs_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = CS_EV_MESSAGE;
    ev.data = msg;
    ev.data_len = msg_len;
    cs_enqueue(n, &ev, true);
}

static void on_consensus_msg(nd_node *n, nd_peer *p, const uint8_t *data, size_t len) {
    const uint8_t *msg, *block;
    size_t msg_len, block_len;
    if (!consensus_frame_split(data, len, &msg, &msg_len, &block, &block_len)) {
        nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
        return;
    }
    if (block_len) {
        cs_msg m;
        if (cs_msg_decode(msg, msg_len, &m) != HM_OK || m.type != CS_MSG_PROPOSAL) {
            nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
            return;
        }
        if (proposal_block_wanted(n, &m)) {
            nd_block b;
            uint8_t id[HM_HASH_LEN];
            if (nd_block_decode(block, block_len, n->g.block_txs_max, &b) != HM_OK) {
                nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
                return;
            }
            if (hm_block_header_hash(&b.header, id) != HM_OK ||
                memcmp(id, m.proposal.block_id, HM_HASH_LEN) != 0) {
                nd_block_clear(&b);
                nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
                return;
            }
            pending_adopt(n, &b, id, msg, msg_len, false);
        }
    } else {
        /* A proposal without its block (re-gossip): feeding it to the
         * replica without the block would make this node prevote nil, so
         * hold it back and ask the sender for the block; the answer is the
         * proposal again, with the block. */
        cs_msg m;
        if (cs_msg_decode(msg, msg_len, &m) == HM_OK && m.type == CS_MSG_PROPOSAL &&
            (m.proposal.height == n->tip.height + 1 || m.proposal.height == n->tip.height + 2) &&
            !(m.proposal.height == n->tip.height + 1 ? pending_load(n, m.proposal.block_id)
                                                     : pending_find(n, m.proposal.block_id))) {
            proposal_fetch(n, p, &m);
            return;
        }
    }
    consensus_feed_peer(n, msg, msg_len);
}

typedef enum {
    COMPACT_TAKEN,   /* block rebuilt (or not needed) and the proposal fed */
    COMPACT_MISSING, /* some txs are not in the mempool */
    COMPACT_BAD      /* malformed, or not the proposal's block */
} compact_result;

/* Rebuilds the block of a compact proposal frame (u16 msg_len | msg |
 * compact) from the mempool, keeps it pending and feeds the proposal to the
 * replica. COMPACT_MISSING, with *m and the count of missing txs, when
 * some txs are not pooled: nothing is fed. */
static compact_result compact_take(nd_node *n, const uint8_t *data, size_t len, cs_msg *m,
                                   uint32_t *missing) {
    *missing = 0;
    const uint8_t *msg, *compact;
    size_t msg_len, compact_len;
    if (!consensus_frame_split(data, len, &msg, &msg_len, &compact, &compact_len) ||
        cs_msg_decode(msg, msg_len, m) != HM_OK || m->type != CS_MSG_PROPOSAL)
        return COMPACT_BAD;
    if (proposal_block_wanted(n, m)) {
        hm_block_header h;
        const uint8_t(*ids)[HM_HASH_LEN] = NULL;
        uint32_t count = 0;
        uint8_t id[HM_HASH_LEN];
        if (nd_compact_decode(compact, compact_len, n->g.block_txs_max, &h, &ids, &count) !=
                HM_OK ||
            hm_block_header_hash(&h, id) != HM_OK ||
            memcmp(id, m->proposal.block_id, HM_HASH_LEN) != 0)
            return COMPACT_BAD;
        const uint8_t **txs = malloc((count ? count : 1) * sizeof *txs);
        size_t *lens = malloc((count ? count : 1) * sizeof *lens);
        for (uint32_t i = 0; txs && lens && i < count; i++)
            if (!nd_mempool_get(n->mempool, ids[i], &txs[i], &lens[i]))
                (*missing)++;
        nd_block b;
        /* out of memory, or a block too large to rebuild: as if missing,
         * so that it is asked for whole */
        hm_err err = HM_ERR_NOMEM;
        if (txs && lens && *missing == 0)
            err = nd_block_build(&h, txs, lens, count, &b);
        free(txs);
        free(lens);
        if (err != HM_OK) {
            if (*missing == 0)
                *missing = count;
            return COMPACT_MISSING;
        }
        pending_adopt(n, &b, id, msg, msg_len, true);
    }
    consensus_feed_peer(n, msg, msg_len);
    return COMPACT_TAKEN;
}

typedef struct {
    int vindex;
    nd_peer *found;
} peer_find;

static void peer_find_cb(nd_peer *p, void *arg) {
    peer_find *f = arg;
    if (nd_peer_validator_index(p) == f->vindex)
        f->found = p;
}

static void held_clear(nd_node *n) {
    free(n->held_compact);
    n->held_compact = NULL;
    n->held_compact_len = 0;
    if (n->held_timer)
        evtimer_del(n->held_timer);
}

/* Gives up waiting for the held proposal's txs: asks its sender for the
 * whole block (any validator, if that link is gone). */
static void held_fetch(nd_node *n) {
    cs_msg m;
    uint32_t missing = 0;
    if (!n->held_compact ||
        compact_take(n, n->held_compact, n->held_compact_len, &m, &missing) != COMPACT_MISSING) {
        held_clear(n);
        return;
    }
    hm_log(HM_LOG_INFO, "proposal_txs_missing", "height=%llu round=%u missing=%u",
           (unsigned long long)m.proposal.height, m.proposal.round, missing);
    peer_find f = {n->held_from, NULL};
    nd_net_foreach(n->net, peer_find_cb, &f);
    held_clear(n);
    if (f.found)
        proposal_fetch(n, f.found, &m);
    else
        nd_net_broadcast(n->net, ND_MSG_GET_PROPOSAL, m.proposal.block_id, HM_HASH_LEN, true);
}

static void held_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    held_fetch(arg);
}

/* After admitted txs joined the pool from a peer: the held proposal may be
 * whole, though not before as many txs came as it missed at the last try. */
static void held_retry(nd_node *n, uint32_t admitted) {
    if (!n->held_compact)
        return;
    if (admitted < n->held_missing) {
        n->held_missing -= admitted;
        return;
    }
    cs_msg m;
    uint32_t missing = 0;
    if (compact_take(n, n->held_compact, n->held_compact_len, &m, &missing) != COMPACT_MISSING)
        held_clear(n);
    else
        n->held_missing = missing;
}

/* A compact proposal (ND_MSG_PROPOSAL_IDS): the block is rebuilt from the
 * txs of the mempool. When some are missing, the proposal is held back (as
 * one without its block: fed to the replica it would prevote nil). The
 * missing txs are usually in flight: a third node's gossip, sent to the
 * proposer and to this node at once, that reached the proposer first (at
 * saturation with clients on every node, a few blocks in a hundred). So
 * the proposal waits ND_COMPACT_WAIT_MS for them, rebuilt again whenever
 * txs join the pool, before its block is asked for whole (a pool that was
 * full never gets them). One proposal waits at a time; an earlier one is
 * asked for at once. */
static void on_compact_proposal(nd_node *n, nd_peer *p, const uint8_t *data, size_t len) {
    cs_msg m;
    uint32_t missing = 0;
    switch (compact_take(n, data, len, &m, &missing)) {
    case COMPACT_TAKEN:
        return;
    case COMPACT_BAD:
        nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
        return;
    case COMPACT_MISSING:
        break;
    }
    if (n->held_compact && (n->held_compact_len != len || memcmp(n->held_compact, data, len) != 0))
        held_fetch(n);
    if (n->held_compact)
        return; /* the same proposal again */
    n->held_compact = malloc(len);
    if (!n->held_compact) {
        proposal_fetch(n, p, &m);
        return;
    }
    memcpy(n->held_compact, data, len);
    n->held_compact_len = len;
    n->held_from = nd_peer_validator_index(p);
    n->held_missing = missing;
    struct timeval tv = {0, ND_COMPACT_WAIT_MS * 1000};
    evtimer_add(n->held_timer, &tv);
}

static void send_block(nd_node *n, nd_peer *p, uint64_t height) {
    uint8_t *block = NULL, *cert = NULL;
    size_t block_len = 0, cert_len = 0;
    if (nd_store_get_block(n->store, height, &block, &block_len) != HM_OK)
        return;
    if (nd_store_get_cert_raw(n->store, height, &cert, &cert_len) != HM_OK) {
        free(block);
        return;
    }
    /* u64 sender height | u32 block_len | block | cert */
    size_t len = 12 + block_len + cert_len;
    uint8_t *buf = malloc(len);
    if (buf) {
        for (int i = 0; i < 8; i++)
            buf[i] = (uint8_t)(n->tip.height >> (56 - 8 * i));
        for (int i = 0; i < 4; i++)
            buf[8 + i] = (uint8_t)(block_len >> (24 - 8 * i));
        memcpy(buf + 12, block, block_len);
        memcpy(buf + 12 + block_len, cert, cert_len);
        nd_net_send(p, ND_MSG_BLOCK, buf, len);
        free(buf);
    }
    free(block);
    free(cert);
}

static void on_block_msg(nd_node *n, nd_peer *p, const uint8_t *data, size_t len) {
    if (len < 12) {
        nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
        return;
    }
    uint64_t sender_height = be64(data);
    size_t block_len =
        ((size_t)data[8] << 24) | ((size_t)data[9] << 16) | ((size_t)data[10] << 8) | data[11];
    if (block_len > len - 12) {
        nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
        return;
    }
    nd_pending_block pb;
    memset(&pb, 0, sizeof pb);
    if (nd_block_decode(data + 12, block_len, n->g.block_txs_max, &pb.block) != HM_OK) {
        nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
        return;
    }
    hm_cert cert;
    hm_reader r;
    hm_reader_init(&r, data + 12 + block_len, len - 12 - block_len);
    bool ok = hm_cert_decode(&r, &cert) == HM_OK && hm_reader_finish(&r) == HM_OK &&
              hm_block_header_hash(&pb.block.header, pb.id) == HM_OK &&
              cert.height == pb.block.header.height && !memcmp(cert.block_id, pb.id, HM_HASH_LEN) &&
              hm_cert_verify(&cert, n->g.chain_id, &n->g.vset) == HM_OK;
    if (!ok) {
        nd_block_clear(&pb.block);
        nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
        return;
    }
    n->fetch_height = 0;
    if (pb.block.header.height != n->tip.height + 1) {
        nd_block_clear(&pb.block);
        return;
    }
    if (!validate_block(n, &pb, false)) {
        /* a certified block that does not execute to its root here means
         * this node's state is wrong: stop rather than diverge */
        hm_log(HM_LOG_ERROR, "certified_block_invalid", "height=%llu",
               (unsigned long long)pb.block.header.height);
        pending_clear(&pb);
        event_base_loopbreak(n->base);
        return;
    }
    hm_err err = commit_block(n, &pb, &cert);
    pending_clear(&pb);
    if (err != HM_OK) {
        hm_log(HM_LOG_ERROR, "commit_failed", "error=%s", hm_err_name(err));
        event_base_loopbreak(n->base);
        return;
    }
    if (n->replica && cs_replica_height(n->replica) <= cert.height) {
        cs_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = CS_EV_DECIDED_ELSEWHERE;
        ev.cert = &cert;
        cs_feed(n, &ev);
    }
    if (sender_height > n->tip.height)
        request_block(n, p, n->tip.height + 1);
}

/* A tx a peer sent (alone or in a batch): true when it joined the pool.
 * Never relayed: the node that took it from a client (validator or
 * observer) sent it to every validator itself, and a validator it missed
 * gets it in the block. */
static bool admit_peer_tx(nd_node *n, nd_peer *p, const uint8_t *tx, size_t len) {
    uint8_t id[HM_HASH_LEN];
    hm_err err = admit_tx(n, tx, len, id);
    if (err != HM_OK && err != HM_ERR_EXISTS && err != HM_ERR_FULL)
        nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
    return err == HM_OK;
}

static void on_message(void *arg, nd_peer *p, uint8_t type, const uint8_t *payload, size_t len) {
    nd_node *n = arg;
    switch (type) {
    case ND_MSG_STATUS: {
        if (len != 8) {
            nd_net_reject(n->net, p, ND_REJECT_MESSAGE, true);
            return;
        }
        uint64_t h = be64(payload);
        uint64_t now = nd_now_ms();
        if (h > n->peer_best_height)
            n->peer_best_height = h;
        /* A validator one height behind is usually just about to commit
         * that height itself: fetching the block then would only ship it
         * twice. It fetches when further behind, or when stuck (on_tick). */
        bool far = !n->replica || h > n->tip.height + 1;
        if (h > n->tip.height && far &&
            (n->fetch_height == 0 || now - n->fetch_sent_ms > FETCH_TIMEOUT_MS))
            request_block(n, p, n->tip.height + 1);
        break;
    }
    case ND_MSG_CONSENSUS:
        if (nd_peer_validator_index(p) < 0) {
            nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
            return;
        }
        on_consensus_msg(n, p, payload, len);
        break;
    case ND_MSG_TX:
        if (admit_peer_tx(n, p, payload, len)) {
            held_retry(n, 1);
            maybe_build_deferred(n);
        }
        break;
    case ND_MSG_TXS: {
        /* the batch's txs are admitted one after the other: their
         * signature checks run back to back */
        size_t pos = 0, tx_len = 0;
        const uint8_t *tx = NULL;
        uint32_t admitted = 0;
        hm_err err;
        while ((err = nd_txs_next(payload, len, &pos, &tx, &tx_len)) == HM_OK)
            admitted += admit_peer_tx(n, p, tx, tx_len);
        if (err != HM_ERR_NOT_FOUND)
            nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
        if (admitted) {
            held_retry(n, admitted);
            maybe_build_deferred(n);
        }
        break;
    }
    case ND_MSG_PROPOSAL_IDS:
        if (nd_peer_validator_index(p) < 0) {
            nd_net_reject(n->net, p, ND_REJECT_MESSAGE, false);
            return;
        }
        on_compact_proposal(n, p, payload, len);
        break;
    case ND_MSG_GET_BLOCK:
        if (len != 8) {
            nd_net_reject(n->net, p, ND_REJECT_MESSAGE, true);
            return;
        }
        send_block(n, p, be64(payload));
        break;
    case ND_MSG_BLOCK:
        on_block_msg(n, p, payload, len);
        break;
    case ND_MSG_GET_PROPOSAL:
        if (len != HM_HASH_LEN || nd_peer_validator_index(p) < 0) {
            nd_net_reject(n->net, p, ND_REJECT_MESSAGE, true);
            return;
        }
        send_proposal(n, p, payload);
        break;
    default:
        break;
    }
}

static void on_connect(void *arg, nd_peer *p) {
    send_status(arg, p);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    nd_node *n = arg;
    send_status(n, NULL);
    uint64_t now = nd_now_ms();
    bool stuck = n->peer_best_height > n->tip.height && now - n->last_commit_ms > TICK_MS;
    bool orphan = n->has_orphan_cert && n->orphan_cert.height == n->tip.height + 1;
    if ((stuck || orphan) && now - n->fetch_sent_ms > FETCH_TIMEOUT_MS)
        request_block(n, NULL, n->tip.height + 1);
    validations_retry(n);
    cs_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = CS_EV_GOSSIP;
    cs_feed(n, &ev);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    nd_node *n = arg;
    hm_log(HM_LOG_INFO, "shutdown", "signal=%d", (int)sig);
    event_base_loopexit(n->base, NULL);
}

/* ------------------------------------------------------------ lifecycle */

static hm_err mkdir_p(const char *path) {
    char tmp[ND_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return HM_ERR_IO;
            *s = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return HM_ERR_IO;
    return HM_OK;
}

static hm_err node_fail(nd_node *n, hm_err err, const char *event, const char *msg) {
    hm_log(HM_LOG_ERROR, event, "message=\"%s\"", msg);
    nd_node_free(n);
    return err;
}

static hm_err cs_sign(void *ctx, const char *purpose, const char *chain_id, const uint8_t *msg,
                      size_t msg_len, hm_sig *sig) {
    return hm_sign(ctx, purpose, chain_id, msg, msg_len, sig);
}

static hm_err cs_verify(void *ctx, const hm_pubkey *pub, const char *purpose, const char *chain_id,
                        const uint8_t *msg, size_t msg_len, const hm_sig *sig) {
    (void)ctx;
    return hm_verify(pub, purpose, chain_id, msg, msg_len, sig);
}

hm_err nd_node_new(const nd_config *cfg, nd_node **out) {
    nd_node *n = calloc(1, sizeof *n);
    if (!n)
        return HM_ERR_NOMEM;
    n->lock_fd = -1;
    n->cfg = *cfg;
    n->self_index = -1;
    char err[512] = "";
    char path[ND_PATH_MAX + 16];
    hm_err e = nd_genesis_load(cfg->genesis_path, &n->g, err, sizeof err);
    if (e != HM_OK)
        return node_fail(n, e, "genesis_invalid", err);
    if (mkdir_p(cfg->data_dir) != HM_OK)
        return node_fail(n, HM_ERR_IO, "data_dir_failed", cfg->data_dir);
    snprintf(path, sizeof path, "%s/LOCK", cfg->data_dir);
    n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (n->lock_fd < 0 || flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return node_fail(n, HM_ERR_EXISTS, "data_dir_locked",
                         "another instance is using this data directory");
    if (cfg->consensus_key_path[0]) {
        if ((e = hm_keyfile_read(cfg->consensus_key_path, &n->key)) != HM_OK)
            return node_fail(n, e, "consensus_key_failed", hm_err_message(e));
        n->self_index = hm_validator_set_find(&n->g.vset, &n->key.pub);
        if (n->self_index < 0)
            return node_fail(n, HM_ERR_BAD_KEY, "not_a_validator",
                             "the consensus key is not in genesis");
    }
    snprintf(path, sizeof path, "%s/db", cfg->data_dir);
    if ((e = nd_store_open(path, &n->store, err, sizeof err)) != HM_OK)
        return node_fail(n, e, "store_open_failed", err);
    n->state = nd_store_state(n->store);
    if ((e = nd_store_tip(n->store, &n->tip)) != HM_OK)
        return node_fail(n, e, "store_read_failed", "cannot read the chain tip");
    if (n->tip.height == 0)
        n->tip.time_ms = n->g.genesis_time_ms;
    n->last_commit_ms = nd_now_ms();
    if ((e = nd_mempool_new(cfg->mempool_txs_max, cfg->mempool_bytes_max, &n->mempool)) != HM_OK)
        return node_fail(n, e, "mempool_failed", hm_err_message(e));
    /* epoll's change list folds the add/delete pairs of re-armed events into
     * one epoll_ctl each: half the calls per HTTP request. Safe here: the
     * node never dup()s a descriptor it watches, the flag's one caveat. */
    struct event_config *ecfg = event_config_new();
    if (ecfg != NULL) {
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        n->base = event_base_new_with_config(ecfg);
        event_config_free(ecfg);
    }
    if (!n->base)
        return node_fail(n, HM_ERR_NOMEM, "event_base_failed", "event_base_new");
    n->cs_queue = calloc(ND_CS_QUEUE_MAX, sizeof *n->cs_queue);
    n->cs_queue_cap = ND_CS_QUEUE_MAX;
    n->build_timer = evtimer_new(n->base, build_timer_cb, n);
    n->gossip_timer = evtimer_new(n->base, gossip_timer_cb, n);
    n->held_timer = evtimer_new(n->base, held_timer_cb, n);
    n->gossip_buf = malloc(ND_TXS_FRAME_MAX);
    n->tick = event_new(n->base, -1, EV_PERSIST, on_tick, n);
    n->sig_int = evsignal_new(n->base, SIGINT, on_signal, n);
    n->sig_term = evsignal_new(n->base, SIGTERM, on_signal, n);
    if (!n->cs_queue || !n->build_timer || !n->gossip_timer || !n->held_timer || !n->gossip_buf ||
        !n->tick || !n->sig_int || !n->sig_term)
        return node_fail(n, HM_ERR_NOMEM, "setup_failed", "out of memory");
    evsignal_add(n->sig_int, NULL);
    evsignal_add(n->sig_term, NULL);
    struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
    evtimer_add(n->tick, &tv);
    nd_net_callbacks cb = {on_message, on_connect};
    if ((e = nd_net_new(n->base, &n->cfg, &n->g, n->self_index, &cb, n, &n->net, err,
                        sizeof err)) != HM_OK)
        return node_fail(n, e, "network_failed", err);
    if ((e = nd_http_start(n, err, sizeof err)) != HM_OK)
        return node_fail(n, e, "http_failed", err);
    if (n->self_index >= 0) {
        cs_config_default(&n->cs_cfg);
        snprintf(n->cs_cfg.chain_id, sizeof n->cs_cfg.chain_id, "%s", n->g.chain_id);
        n->cs_cfg.validators = n->g.vset;
        n->cs_cfg.self_index = n->self_index;
        n->cs_cfg.signer.ctx = &n->key;
        n->cs_cfg.signer.sign = cs_sign;
        n->cs_cfg.signer.verify = cs_verify;
        n->cs_cfg.timeout_propose_ms = n->g.timeout_propose_ms;
        n->cs_cfg.timeout_propose_delta_ms = n->g.timeout_delta_ms;
        n->cs_cfg.timeout_prevote_ms = n->g.timeout_prevote_ms;
        n->cs_cfg.timeout_prevote_delta_ms = n->g.timeout_delta_ms;
        n->cs_cfg.timeout_precommit_ms = n->g.timeout_precommit_ms;
        n->cs_cfg.timeout_precommit_delta_ms = n->g.timeout_delta_ms;
        n->replica = malloc(cs_replica_size(&n->cs_cfg));
        if (!n->replica)
            return node_fail(n, HM_ERR_NOMEM, "setup_failed", "out of memory");
        cs_sign_state ss, *recovered = NULL;
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        e = nd_store_get_sign_state(n->store, &raw, &raw_len);
        if (e == HM_OK) {
            hm_err de = cs_sign_state_decode(raw, raw_len, &ss);
            free(raw);
            if (de != HM_OK)
                return node_fail(n, HM_ERR_IO, "sign_state_corrupt", hm_err_message(de));
            recovered = &ss;
        } else if (e != HM_ERR_NOT_FOUND) {
            return node_fail(n, e, "store_read_failed", "cannot read the sign-state");
        }
        if ((e = cs_replica_init(n->replica, &n->cs_cfg, n->tip.height + 1, recovered)) != HM_OK)
            return node_fail(n, e, "consensus_init_failed", hm_err_message(e));
    }
    hm_log(HM_LOG_INFO, "node_started", "chain=%s height=%llu validator=%d peer=%s http=%s",
           n->g.chain_id, (unsigned long long)n->tip.height, n->self_index, cfg->peer_listen,
           cfg->http_listen);
    *out = n;
    return HM_OK;
}

/* Feeds one recorded own vote back to the replica. */
static bool replay_vote(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    (void)key;
    (void)key_len;
    nd_node *n = arg;
    cs_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = CS_EV_MESSAGE;
    ev.data = val;
    ev.data_len = val_len;
    cs_feed(n, &ev);
    return true;
}

hm_err nd_node_run(nd_node *n) {
    if (n->replica) {
        cs_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = CS_EV_START;
        cs_feed(n, &ev);
        /* After a crash the sign-state forbids signing anything but the
         * votes already signed at this height; the replica does not hold
         * them any more. Giving them back lets it count and re-gossip them,
         * so a network that crashed mid-round can still reach a quorum.
         * The logged own proposal and peer messages follow. */
        n->cslog_replaying = true;
        hm_err err = nd_store_scan_votes(n->store, n->tip.height + 1, replay_vote, n);
        if (err == HM_OK)
            cslog_replay(n);
        n->cslog_replaying = false;
        if (err != HM_OK)
            return err;
    }
    if (event_base_dispatch(n->base) < 0)
        return HM_ERR_IO;
    return HM_OK;
}

void nd_node_free(nd_node *n) {
    if (!n)
        return;
    nd_http_stop(n);
    nd_net_free(n->net);
    while (n->timers) {
        nd_timer *t = n->timers;
        n->timers = t->next;
        event_free(t->ev);
        free(t);
    }
    for (int i = 0; i < ND_PENDING_BLOCKS_MAX; i++)
        if (n->pending[i].used)
            pending_clear(&n->pending[i]);
    if (n->build_timer)
        event_free(n->build_timer);
    if (n->gossip_timer)
        event_free(n->gossip_timer);
    held_clear(n);
    if (n->held_timer)
        event_free(n->held_timer);
    free(n->gossip_buf);
    for (size_t i = 0; i < ND_LEAVES_CACHE_SLOTS; i++)
        free(n->leaves_cache[i].leaves);
    if (n->tick)
        event_free(n->tick);
    if (n->sig_int)
        event_free(n->sig_int);
    if (n->sig_term)
        event_free(n->sig_term);
    if (n->base)
        event_base_free(n->base);
    free(n->replica);
    free(n->cs_queue);
    nd_mempool_free(n->mempool);
    nd_store_close(n->store);
    if (n->lock_fd >= 0)
        close(n->lock_fd);
    hm_keypair_wipe(&n->key);
    free(n);
}
