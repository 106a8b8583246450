/* node/store.c — the node's RocksDB database.
 *
 * Layer: node/; the only file that includes rocksdb/c.h. Column families:
 * blocks (u64 height -> block, or -> the block's id when the block's bytes
 * are those this node kept as a proposal: see nd_store_commit), certs (u64
 * height -> cert), txs (id -> u64 height | u32 index, and the contract
 * state's per-tx rows: "t/" | id, a tx's result, and "n/" | id, a note),
 * state (the other contract keys), indexes (block hash -> height),
 * consensus (sign-state and the record of signed votes); the default family
 * holds the chain tip.
 *
 * A committed block and its state are there whole or not at all after a
 * crash: the block's bytes are written before or in the synced WriteBatch
 * that commits it (before: the proposal this validator kept, earlier in the
 * same write-ahead log, which a synced write makes durable with everything
 * logged before it). Writes that guard against double signing are synced
 * before returning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "nd_int.h"

enum { CF_DEFAULT, CF_BLOCKS, CF_CERTS, CF_TXS, CF_STATE, CF_INDEXES, CF_CONSENSUS, CF__COUNT };
static const char *const cf_names[CF__COUNT] = {"default", "blocks",  "certs",    "txs",
                                                "state",   "indexes", "consensus"};

struct nd_store {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_options_t *cf_opts[CF__COUNT];
    rocksdb_block_based_table_options_t *table_opts;
    rocksdb_filterpolicy_t *bloom; /* owned by table_opts once set */
    rocksdb_cache_t *block_cache;  /* uncompressed data blocks */
    rocksdb_column_family_handle_t *cf[CF__COUNT];
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wopts_sync;
    rocksdb_writeoptions_t *wopts_nosync;
};

static const uint8_t KEY_TIP[] = "tip";
static const uint8_t KEY_SIGN_STATE[] = "sign-state";

static void put_be64(uint8_t out[8], uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t in[8]) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

static hm_err scan_cf(nd_store *s, int cf, const uint8_t *start, size_t start_len,
                      const uint8_t *end, size_t end_len, ct_visit_fn visit, void *arg);

hm_err nd_store_open(const char *dir, nd_store **out, char *err, size_t err_cap) {
    nd_store *s = calloc(1, sizeof *s);
    if (!s)
        return HM_ERR_NOMEM;
    s->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->opts, 1);
    rocksdb_options_set_create_missing_column_families(s->opts, 1);
    rocksdb_options_set_max_open_files(s->opts, 256);
    /* the node is one of several on a small machine */
    rocksdb_options_increase_parallelism(s->opts, 1);
    /* One thread writes (the event loop); the hash memtable of the tx index
     * (below) does not take concurrent inserts. */
    rocksdb_options_set_allow_concurrent_memtable_write(s->opts, 0);
    /* Most lookups on the hot path miss (is this tx id already spent? is
     * this key new?): a Bloom filter answers those without reading blocks. */
    s->table_opts = rocksdb_block_based_options_create();
    s->bloom = rocksdb_filterpolicy_create_bloom_full(10);
    rocksdb_block_based_options_set_filter_policy(s->table_opts, s->bloom);
    /* Index and filter blocks stay with their open table (at most
     * max_open_files), not in the 8 MB block cache: with a million items
     * they do not fit there, and every lookup re-read and re-decompressed
     * them (consumer lookups fell from ~6,500/s to ~200/s). */
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(s->table_opts, 0);
    /* Consumer lookups read one random item row each: with the default 8 MB
     * cache every one re-read and decompressed its block (about a fifth of a
     * lookup's time). 256 MB holds the item rows of a million items; the
     * cache fills only with blocks that are read. */
    s->block_cache = rocksdb_cache_create_lru((size_t)256 << 20);
    rocksdb_block_based_options_set_block_cache(s->table_opts, s->block_cache);
    /* The state family answers a consumer lookup's point reads (one item
     * row each, at random): its blocks carry a hash index (a key is found
     * in a block without a binary search) and are stored uncompressed (a
     * block-cache miss is then a read, not a read and a Snappy
     * decompression). The table factory copies its options, so these are
     * released here; the cache is shared, and the filter policy is one of
     * its own (the options take ownership of the policy they are given). */
    rocksdb_block_based_table_options_t *state_table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_filter_policy(state_table,
                                                  rocksdb_filterpolicy_create_bloom_full(10));
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(state_table, 0);
    rocksdb_block_based_options_set_block_cache(state_table, s->block_cache);
    rocksdb_block_based_options_set_data_block_index_type(
        state_table, rocksdb_block_based_table_data_block_index_type_binary_search_and_hash);
    const rocksdb_options_t *cfo[CF__COUNT];
    for (int i = 0; i < CF__COUNT; i++) {
        s->cf_opts[i] = rocksdb_options_create();
        rocksdb_options_set_block_based_table_factory(s->cf_opts[i],
                                                      i == CF_STATE ? state_table : s->table_opts);
        if (i == CF_STATE) {
            rocksdb_options_set_compression(s->cf_opts[i], rocksdb_no_compression);
        }
        if (i == CF_TXS) {
            /* The tx index is only ever read by whole key (is this id
             * spent? where was it committed?), never scanned, and its keys
             * are hashes, uniformly random: a hash table memtable inserts
             * them without the skip list's descent through cache-cold
             * nodes, several per tx on every validator. The prefix is the
             * whole 32-byte key. */
            rocksdb_options_set_prefix_extractor(s->cf_opts[i],
                                                 rocksdb_slicetransform_create_fixed_prefix(32));
            rocksdb_options_set_hash_link_list_rep(s->cf_opts[i], 1u << 16);
        }
        rocksdb_options_set_memtable_whole_key_filtering(s->cf_opts[i], 1);
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(s->cf_opts[i], 0.05);
        cfo[i] = s->cf_opts[i];
    }
    rocksdb_block_based_options_destroy(state_table);
    char *rerr = NULL;
    s->db = rocksdb_open_column_families(s->opts, dir, CF__COUNT, cf_names, cfo, s->cf, &rerr);
    if (rerr) {
        snprintf(err, err_cap, "%s", rerr);
        rocksdb_free(rerr);
        s->db = NULL;
        nd_store_close(s);
        return HM_ERR_IO;
    }
    s->ropts = rocksdb_readoptions_create();
    s->wopts_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wopts_sync, 1);
    s->wopts_nosync = rocksdb_writeoptions_create();
    /* An earlier version kept the per-tx rows in the state family: read
     * from the txs family they would be missing (a tx id would be usable
     * again). Such a directory is refused, not half read. */
    bool old_layout = false;
    for (int i = 0; i < CT_PER_TX_PREFIXES && !old_layout; i++) {
        const uint8_t *prefix = (const uint8_t *)ct_per_tx_prefix[i];
        const uint8_t end[2] = {prefix[0], (uint8_t)(prefix[1] + 1)};
        if (scan_cf(s, CF_STATE, prefix, 2, end, 2, ct_visit_found, &old_layout) != HM_OK)
            old_layout = true;
    }
    if (old_layout) {
        snprintf(err, err_cap,
                 "%s holds a chain written by an earlier version (tx results in the state "
                 "family): start the chain again in a fresh data directory",
                 dir);
        nd_store_close(s);
        return HM_ERR_IO;
    }
    *out = s;
    return HM_OK;
}

void nd_store_close(nd_store *s) {
    if (!s)
        return;
    if (s->db) {
        for (int i = 0; i < CF__COUNT; i++)
            if (s->cf[i])
                rocksdb_column_family_handle_destroy(s->cf[i]);
        rocksdb_close(s->db);
    }
    for (int i = 0; i < CF__COUNT; i++)
        if (s->cf_opts[i])
            rocksdb_options_destroy(s->cf_opts[i]);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->table_opts)
        rocksdb_block_based_options_destroy(s->table_opts); /* frees the filter too */
    if (s->block_cache)
        rocksdb_cache_destroy(s->block_cache);
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->wopts_sync)
        rocksdb_writeoptions_destroy(s->wopts_sync);
    if (s->wopts_nosync)
        rocksdb_writeoptions_destroy(s->wopts_nosync);
    free(s);
}

/* Logs a RocksDB error as event, frees it: HM_ERR_IO. */
static hm_err rocks_failed(const char *event, char *rerr) {
    hm_log(HM_LOG_ERROR, event, "error=\"%s\"", rerr);
    rocksdb_free(rerr);
    return HM_ERR_IO;
}

/* RocksDB counts every key comparison, block read and more in a
 * thread-local perf context unless told not to (its default level counts):
 * a thread-local lookup per comparison, about a quarter of the CPU of a
 * memtable insert of random keys (a tx id), and the node inserts a few per
 * tx. Nothing here reads those counters, so every thread that uses the
 * store turns them off before its first call. */
static void perf_counters_off(void) {
    static _Thread_local bool off;
    if (!off) {
        rocksdb_set_perf_level(rocksdb_disable);
        off = true;
    }
}

static hm_err get_cf(nd_store *s, int cf, const uint8_t *key, size_t key_len, uint8_t **val,
                     size_t *val_len) {
    perf_counters_off();
    char *rerr = NULL;
    /* Pinned: the value where RocksDB holds it (the block cache, a
     * memtable), copied once into what the caller frees; rocksdb_get_cf
     * would copy it into its own allocation first (a block of 7 MB twice). */
    rocksdb_pinnableslice_t *pin =
        rocksdb_get_pinned_cf(s->db, s->ropts, s->cf[cf], (const char *)key, key_len, &rerr);
    if (rerr)
        return rocks_failed("store_read_failed", rerr);
    if (pin == NULL)
        return HM_ERR_NOT_FOUND;
    size_t len = 0;
    const char *v = rocksdb_pinnableslice_value(pin, &len);
    /* hand out a malloc'd copy: callers free() it */
    uint8_t *copy = malloc(len ? len : 1);
    if (copy != NULL && len > 0)
        memcpy(copy, v, len);
    rocksdb_pinnableslice_destroy(pin);
    if (copy == NULL)
        return HM_ERR_NOMEM;
    *val = copy;
    *val_len = len;
    return HM_OK;
}

/* writes and destroys b */
static hm_err write_batch_with(nd_store *s, rocksdb_writeoptions_t *wo, rocksdb_writebatch_t *b) {
    perf_counters_off();
    char *rerr = NULL;
    rocksdb_write(s->db, wo, b, &rerr);
    rocksdb_writebatch_destroy(b);
    if (rerr)
        return rocks_failed("store_write_failed", rerr);
    return HM_OK;
}

static hm_err write_batch(nd_store *s, rocksdb_writebatch_t *b) {
    return write_batch_with(s, s->wopts_sync, b);
}

hm_err nd_store_tip(nd_store *s, nd_chain_tip *tip) {
    memset(tip, 0, sizeof *tip);
    uint8_t *v = NULL;
    size_t len = 0;
    hm_err err = get_cf(s, CF_DEFAULT, KEY_TIP, sizeof KEY_TIP - 1, &v, &len);
    if (err == HM_ERR_NOT_FOUND)
        return HM_OK;
    if (err != HM_OK)
        return err;
    if (len != 8 + 32 + 32 + 8) {
        free(v);
        return HM_ERR_IO;
    }
    tip->height = get_be64(v);
    memcpy(tip->block_hash, v + 8, 32);
    memcpy(tip->state_root, v + 40, 32);
    tip->time_ms = get_be64(v + 72);
    free(v);
    return HM_OK;
}

/* The contract state's per-tx rows (ct_key_is_per_tx: every tx writes one
 * or two, at random places in the key order) live in the txs family, whose
 * hash memtable inserts random keys without a skip list's descent through
 * cache-cold nodes (7% of a validator's CPU per signed tx at saturation).
 * They are only ever read by whole key (state_scan refuses a range that
 * reaches them). */
typedef struct {
    rocksdb_writebatch_t *b;
    rocksdb_column_family_handle_t *cf, *txs;
} write_visit;

static bool put_write(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                      size_t val_len) {
    write_visit *wv = arg;
    rocksdb_column_family_handle_t *cf = ct_key_is_per_tx(key, key_len) ? wv->txs : wv->cf;
    if (val)
        rocksdb_writebatch_put_cf(wv->b, cf, (const char *)key, key_len, (const char *)val,
                                  val_len);
    else
        rocksdb_writebatch_delete_cf(wv->b, cf, (const char *)key, key_len);
    return true;
}

static void pending_key(uint8_t key[2 + 8 + HM_HASH_LEN], uint64_t height,
                        const uint8_t id[HM_HASH_LEN]);

/* Deletes, in b, each key it visits but the kept one. */
typedef struct {
    rocksdb_writebatch_t *b;
    rocksdb_column_family_handle_t *cf;
    uint8_t kept[2 + 8 + HM_HASH_LEN];
    bool has_kept;
} proposal_sweep;

static bool sweep_visit(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    (void)val;
    (void)val_len;
    proposal_sweep *sw = arg;
    if (!(sw->has_kept && key_len == sizeof sw->kept && memcmp(key, sw->kept, key_len) == 0))
        rocksdb_writebatch_delete_cf(sw->b, sw->cf, (const char *)key, key_len);
    return true;
}

hm_err nd_store_commit(nd_store *s, const hm_block_header *h, const uint8_t *block,
                       size_t block_len, const uint8_t *proposed_id, const hm_cert *cert,
                       const uint8_t (*tx_ids)[HM_HASH_LEN], uint32_t tx_count, const ct_exec *x,
                       const uint8_t state_root[HM_HASH_LEN]) {
    /* A reference is told from a block by its length: no encoded block is
     * as short as one hash (its header alone holds three). */
    if (block_len == HM_HASH_LEN)
        return HM_ERR_ARG;
    uint8_t hkey[8];
    put_be64(hkey, h->height);
    uint8_t block_hash[HM_HASH_LEN];
    hm_err err = hm_block_header_hash(h, block_hash);
    if (err != HM_OK)
        return err;
    hm_writer cw;
    hm_writer_init_growable(&cw, 16384);
    err = hm_cert_encode(cert, &cw);
    if (err == HM_OK)
        err = hm_writer_error(&cw);
    if (err != HM_OK) {
        hm_writer_free(&cw);
        return err;
    }
    if (proposed_id != NULL) {
        /* The kept proposal must be these very bytes (compared where they
         * lie, not copied), else the block is written whole: a wrong
         * reference would be a block lost for good. */
        uint8_t pkey[2 + 8 + HM_HASH_LEN];
        pending_key(pkey, h->height, proposed_id);
        char *rerr = NULL;
        rocksdb_pinnableslice_t *kept = rocksdb_get_pinned_cf(
            s->db, s->ropts, s->cf[CF_CONSENSUS], (const char *)pkey, sizeof pkey, &rerr);
        if (rerr)
            return rocks_failed("store_read_failed", rerr);
        size_t kept_len = 0;
        const char *kv = kept ? rocksdb_pinnableslice_value(kept, &kept_len) : NULL;
        bool same = kv != NULL && kept_len == block_len && memcmp(kv, block, block_len) == 0;
        rocksdb_pinnableslice_destroy(kept);
        if (!same) {
            hm_log(HM_LOG_WARN, "proposal_not_kept", "height=%llu", (unsigned long long)h->height);
            proposed_id = NULL;
        }
    }
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    /* A block this node kept as a proposal (nd_store_put_proposed, in the
     * same log, made durable no later than this synced batch) stays where
     * it is, and the height names it: its bytes (7 MB for a batch of
     * 100,000 records) are not written a second time. */
    if (proposed_id != NULL)
        rocksdb_writebatch_put_cf(b, s->cf[CF_BLOCKS], (const char *)hkey, 8,
                                  (const char *)proposed_id, HM_HASH_LEN);
    else
        rocksdb_writebatch_put_cf(b, s->cf[CF_BLOCKS], (const char *)hkey, 8, (const char *)block,
                                  block_len);
    rocksdb_writebatch_put_cf(b, s->cf[CF_CERTS], (const char *)hkey, 8, (const char *)cw.buf,
                              cw.len);
    hm_writer_free(&cw);
    rocksdb_writebatch_put_cf(b, s->cf[CF_INDEXES], (const char *)block_hash, HM_HASH_LEN,
                              (const char *)hkey, 8);
    for (uint32_t i = 0; i < tx_count; i++) {
        uint8_t loc[12];
        put_be64(loc, h->height);
        loc[8] = (uint8_t)(i >> 24);
        loc[9] = (uint8_t)(i >> 16);
        loc[10] = (uint8_t)(i >> 8);
        loc[11] = (uint8_t)i;
        rocksdb_writebatch_put_cf(b, s->cf[CF_TXS], (const char *)tx_ids[i], HM_HASH_LEN,
                                  (const char *)loc, sizeof loc);
    }
    if (x) {
        write_visit wv = {b, s->cf[CF_STATE], s->cf[CF_TXS]};
        err = ct_exec_foreach_write(x, put_write, &wv);
        if (err != HM_OK) {
            rocksdb_writebatch_destroy(b);
            return err;
        }
    }
    /* The other proposals (and logged messages) of this height are of no
     * use any more; lower heights were cleared by their own commits. The
     * committed block's own key is kept when the height refers to it. Point
     * deletes of the keys found, not a range deletion: the blocks kept here
     * are read, and RocksDB (7.8) sorts a memtable's range deletions anew
     * for every read of their column family. */
    uint8_t pstart[2 + 8] = {'p', '/'}, pend[2 + 8] = {'p', '/'};
    put_be64(pstart + 2, h->height);
    put_be64(pend + 2, h->height + 1);
    proposal_sweep sw = {.b = b, .cf = s->cf[CF_CONSENSUS]};
    if (proposed_id != NULL)
        pending_key(sw.kept, h->height, proposed_id);
    sw.has_kept = proposed_id != NULL;
    err = scan_cf(s, CF_CONSENSUS, pstart, sizeof pstart, pend, sizeof pend, sweep_visit, &sw);
    if (err != HM_OK) {
        rocksdb_writebatch_destroy(b);
        return err;
    }
    uint8_t tip[8 + 32 + 32 + 8];
    put_be64(tip, h->height);
    memcpy(tip + 8, block_hash, 32);
    memcpy(tip + 40, state_root, 32);
    put_be64(tip + 72, h->time_ms);
    rocksdb_writebatch_put_cf(b, s->cf[CF_DEFAULT], (const char *)KEY_TIP, sizeof KEY_TIP - 1,
                              (const char *)tip, sizeof tip);
    return write_batch(s, b);
}

/* Proposed blocks live under "p/" | u64 height | block_id until their height
 * is committed, so that a validator that restarts still holds the block it
 * may be locked on (and can re-propose it); the committed one stays there
 * as the block of its height when the commit refers to it. */
static void pending_key(uint8_t key[2 + 8 + HM_HASH_LEN], uint64_t height,
                        const uint8_t id[HM_HASH_LEN]) {
    key[0] = 'p';
    key[1] = '/';
    put_be64(key + 2, height);
    memcpy(key + 10, id, HM_HASH_LEN);
}

hm_err nd_store_put_proposed(nd_store *s, uint64_t height, const uint8_t id[HM_HASH_LEN],
                             const uint8_t *block, size_t len) {
    uint8_t key[2 + 8 + HM_HASH_LEN];
    pending_key(key, height, id);
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_put_cf(b, s->cf[CF_CONSENSUS], (const char *)key, sizeof key,
                              (const char *)block, len);
    /* not synced by itself: the synced sign-state write of the vote that
     * follows makes it durable (one WAL, written in order) */
    return write_batch_with(s, s->wopts_nosync, b);
}

hm_err nd_store_get_proposed(nd_store *s, uint64_t height, const uint8_t id[HM_HASH_LEN],
                             uint8_t **out, size_t *len) {
    uint8_t key[2 + 8 + HM_HASH_LEN];
    pending_key(key, height, id);
    return get_cf(s, CF_CONSENSUS, key, sizeof key, out, len);
}

hm_err nd_store_get_block(nd_store *s, uint64_t height, uint8_t **out, size_t *len) {
    uint8_t hkey[8];
    put_be64(hkey, height);
    uint8_t *v = NULL;
    size_t v_len = 0;
    hm_err err = get_cf(s, CF_BLOCKS, hkey, 8, &v, &v_len);
    if (err != HM_OK || v_len != HM_HASH_LEN) {
        *out = v;
        *len = v_len;
        return err;
    }
    /* a reference to the proposal this node kept */
    uint8_t key[2 + 8 + HM_HASH_LEN];
    pending_key(key, height, v);
    free(v);
    err = get_cf(s, CF_CONSENSUS, key, sizeof key, out, len);
    return err == HM_ERR_NOT_FOUND ? HM_ERR_IO : err; /* a committed block lost: damage */
}

hm_err nd_store_get_cert_raw(nd_store *s, uint64_t height, uint8_t **out, size_t *len) {
    uint8_t hkey[8];
    put_be64(hkey, height);
    return get_cf(s, CF_CERTS, hkey, 8, out, len);
}

hm_err nd_store_get_cert(nd_store *s, uint64_t height, hm_cert *cert) {
    uint8_t *v = NULL;
    size_t len = 0;
    hm_err err = nd_store_get_cert_raw(s, height, &v, &len);
    if (err != HM_OK)
        return err;
    hm_reader r;
    hm_reader_init(&r, v, len);
    err = hm_cert_decode(&r, cert);
    if (err == HM_OK)
        err = hm_reader_finish(&r);
    free(v);
    return err == HM_OK ? HM_OK : HM_ERR_IO;
}

hm_err nd_store_tx_locate(nd_store *s, const uint8_t id[HM_HASH_LEN], uint64_t *height,
                          uint32_t *index) {
    uint8_t *v = NULL;
    size_t len = 0;
    hm_err err = get_cf(s, CF_TXS, id, HM_HASH_LEN, &v, &len);
    if (err != HM_OK)
        return err;
    if (len != 12) {
        free(v);
        return HM_ERR_IO;
    }
    *height = get_be64(v);
    *index = ((uint32_t)v[8] << 24) | ((uint32_t)v[9] << 16) | ((uint32_t)v[10] << 8) | v[11];
    free(v);
    return HM_OK;
}

hm_err nd_store_put_sign_state(nd_store *s, const uint8_t *data, size_t len) {
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_put_cf(b, s->cf[CF_CONSENSUS], (const char *)KEY_SIGN_STATE,
                              sizeof KEY_SIGN_STATE - 1, (const char *)data, len);
    return write_batch(s, b);
}

hm_err nd_store_put_sign_state_and_vote(nd_store *s, const uint8_t *state, size_t state_len,
                                        const uint8_t *vote_key, size_t vote_key_len,
                                        const uint8_t *vote, size_t vote_len) {
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    if (state)
        rocksdb_writebatch_put_cf(b, s->cf[CF_CONSENSUS], (const char *)KEY_SIGN_STATE,
                                  sizeof KEY_SIGN_STATE - 1, (const char *)state, state_len);
    /* votes live under "v/" so they sort apart from the sign-state */
    uint8_t key[2 + 64];
    if (vote_key_len > 64) {
        rocksdb_writebatch_destroy(b);
        return HM_ERR_ARG;
    }
    key[0] = 'v';
    key[1] = '/';
    memcpy(key + 2, vote_key, vote_key_len);
    rocksdb_writebatch_put_cf(b, s->cf[CF_CONSENSUS], (const char *)key, 2 + vote_key_len,
                              (const char *)vote, vote_len);
    return write_batch(s, b);
}

hm_err nd_store_get_sign_state(nd_store *s, uint8_t **out, size_t *len) {
    return get_cf(s, CF_CONSENSUS, KEY_SIGN_STATE, sizeof KEY_SIGN_STATE - 1, out, len);
}

static hm_err scan_cf(nd_store *s, int cf, const uint8_t *start, size_t start_len,
                      const uint8_t *end, size_t end_len, ct_visit_fn visit, void *arg) {
    perf_counters_off();
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[cf]);
    if (start && start_len)
        rocksdb_iter_seek(it, (const char *)start, start_len);
    else
        rocksdb_iter_seek_to_first(it);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        if (end && ct_key_compare((const uint8_t *)k, klen, end, end_len) >= 0)
            break;
        const char *v = rocksdb_iter_value(it, &vlen);
        if (!visit(arg, (const uint8_t *)k, klen, (const uint8_t *)v, vlen))
            break;
    }
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    rocksdb_iter_destroy(it);
    if (rerr)
        return rocks_failed("store_scan_failed", rerr);
    return HM_OK;
}

hm_err nd_store_scan_votes(nd_store *s, uint64_t from_height, ct_visit_fn visit, void *arg) {
    static const uint8_t end[] = "v0";
    uint8_t start[2 + 8] = {'v', '/'};
    put_be64(start + 2, from_height);
    return scan_cf(s, CF_CONSENSUS, start, sizeof start, end, 2, visit, arg);
}

static hm_err state_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                        size_t *val_len) {
    return get_cf(ctx, ct_key_is_per_tx(key, key_len) ? CF_TXS : CF_STATE, key, key_len, val,
                  val_len);
}

/* Whether [start, end) reaches a key that begins with the 2-byte prefix (a
 * NULL or empty end: no upper bound). */
static bool range_reaches(const uint8_t *start, size_t start_len, const uint8_t *end,
                          size_t end_len, const uint8_t prefix[2]) {
    const uint8_t past[2] = {prefix[0], (uint8_t)(prefix[1] + 1)};
    return ct_key_compare(start, start_len, past, 2) < 0 &&
           (end == NULL || end_len == 0 || ct_key_compare(end, end_len, prefix, 2) > 0);
}

static hm_err state_scan(void *ctx, const uint8_t *start, size_t start_len, const uint8_t *end,
                         size_t end_len, ct_visit_fn visit, void *arg) {
    /* the per-tx rows are elsewhere (put_write): a scan would miss them */
    for (int i = 0; i < CT_PER_TX_PREFIXES; i++)
        if (range_reaches(start, start_len, end, end_len, (const uint8_t *)ct_per_tx_prefix[i]))
            return HM_ERR_ARG;
    return scan_cf(ctx, CF_STATE, start, start_len, end, end_len, visit, arg);
}

ct_store nd_store_state(nd_store *s) {
    ct_store st = {.ctx = s, .get = state_get, .scan = state_scan};
    return st;
}
