/* tests/bench/bench_prov_store.c — the ceilings that bench_prov.sh sets the
 * 4-validator item registration figures against, and the storage figures.
 *
 * For a batch of N item records (N = 1,000 / 10,000 / 100,000, or those on
 * the command line) it measures, each figure the median of 21 / 7 / 7 runs
 * (runs_for):
 *   - exec: records per second the provenance contract executes on one core
 *     (signature checked: one BIP340 verification per batch);
 *   - rocksdb x4: records per second RocksDB alone writes, in one burst, the
 *     very writes a validator's commit makes for the batch: every state write
 *     execution produced, the block that carries the batch (its bytes are
 *     the tx's, as in bench_prov_node) and the tx's index row; written as one
 *     synced WriteBatch into each of four databases in turn (four nodes on
 *     one machine), default options;
 *   - rocksdb x4, state only: the same without the block and its index row
 *     (the ceiling before the brand's index shrank to one row per batch,
 *     when the state writes were most of the bytes; printed for
 *     comparison);
 *   - signature verifications per record (1/N: one per batch tx);
 *   - bytes stored per record (keys + values of every write / N), next to
 *     the record's canonical size.
 * One line per N: "prov_store n=N exec_rps=.. rocksdb4_rps=.. rocksdb4_state_rps=..
 * sigs_per_record=.. bytes_per_record=.. record_bytes=.. value_bytes_per_record=..".
 * Those databases are fresh for each write: a burst into empty memtables
 * that never pays a flush or a compaction.
 *
 * `bench_prov_store --sustained DIR RUNS N:M [N:M ...]` is the sustained
 * ceiling: RocksDB alone writing what the validators of bench_prov.sh write,
 * in the same sequence and volume, into four databases (DIR/db0..db3, DIR
 * created here and removed after) that stay open through the whole
 * invocation, so that it pays the memtable flushes and L0 compactions the
 * nodes pay. For each N:M in order, RUNS times: M batches of N items
 * (timed), then one more batch of N (untimed: the network's one-batch
 * run). Batch b (counting from 1 across everything, the one-batch runs
 * included, as bench_prov.sh's new_csv does) holds the items B<b>S1..N with
 * lot L<i / 10000> and expiry 301231, the network's very records. The
 * batches go into blocks as a proposer packs them (as many as fit in 16 MiB,
 * BLOCK_TX_BYTES), and each block's writes (the state writes of its
 * execution, the block under an 8-byte height key, each tx's 12-byte index
 * row) are built into a WriteBatch before the run's clock starts, as the
 * network's txs are signed before its clock; timed is writing the run's
 * blocks one after the other, each synced into the four databases in turn,
 * default options, one column family. One line per N:M:
 * "prov_store_sustained n=N m=M runs=R blocks=B rps=<median records/s>
 * run_rps=<each run's records/s, comma-separated>", a run's records being
 * M x N in B blocks. N is 1..100,000, M x N at most 1,000,000 (the run's
 * batches are held in memory), RUNS 1..21.
 *
 * Layer: benchmarks (clock, files). Asserts nothing about speed. The
 * one-batch databases live in a folder beside the binary and are removed
 * after. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#define BENCH_NAME "bench_prov_store"
#include "bench_prov_setup.h"
#include "ct.h"

#define RUNS_MAX 21
#define NODES 4

/* Runs per figure: a small batch's write is a few fsyncs, whose time on a
 * shared disk varies by a factor of four from one to the next, so small
 * batches take the median of more runs. Batches of 100,000 took the median
 * of 3, which read 65,000-157,000 records/s in a third of the benchmark
 * runs against 190,000-245,000 in the others (slow writes on the shared
 * disk in two of the three): 7 runs (about 5 s) ride out three slow ones. */
static int runs_for(uint32_t n) {
    return n >= 10000 ? 7 : RUNS_MAX;
}

/* Executes the k txs in the next block over l (each must be accepted):
 * the block's ct_exec, ended; the ns the txs took in *ns (if given). */
static ct_exec *exec_block(ledger *l, const uint8_t *const *txs, const size_t *lens, uint32_t k,
                           uint64_t *ns) {
    l->ctx.height++;
    l->ctx.time_ms += 1000;
    ct_exec *x = NULL;
    if (ct_exec_new(&l->store, &l->ctx, &x) != HM_OK)
        die("exec");
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < k; i++) {
        ct_result res;
        if (ct_exec_tx(x, txs[i], lens[i], false, &res) != HM_OK || res.code != HM_OK) {
            fprintf(stderr, "refused: %s\n", res.message);
            die("tx refused");
        }
    }
    if (ns != NULL)
        *ns = now_ns() - t0;
    if (ct_exec_end_block(x) != HM_OK)
        die("end block");
    return x;
}

static ct_exec *run_tx(ledger *l, const uint8_t *tx, size_t len, bool keep, uint64_t *ns) {
    ct_exec *x = exec_block(l, &tx, &len, 1, ns);
    if (!keep) {
        if (ct_exec_apply_to_memstore(x, l->mem) != HM_OK)
            die("apply");
        ct_exec_free(x);
        return NULL;
    }
    return x;
}

static void run_setup_tx(ledger *l, const uint8_t *tx, size_t len) {
    (void)run_tx(l, tx, len, false, NULL);
}

typedef struct {
    rocksdb_writebatch_t *batch;
    uint64_t bytes, value_bytes, writes;
} write_collect;

static bool collect(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                    size_t val_len) {
    write_collect *c = arg;
    /* only the state this tx stored: the "t/" result is per tx, not per record */
    if (val != NULL)
        rocksdb_writebatch_put(c->batch, (const char *)key, key_len, (const char *)val, val_len);
    else
        rocksdb_writebatch_delete(c->batch, (const char *)key, key_len);
    c->bytes += key_len + val_len;
    c->value_bytes += val_len;
    c->writes++;
    return true;
}

/* Four databases, one per validator: open through the sustained ceiling, as
 * the validators' stores are; fresh for each write of the one-batch one. */
typedef struct {
    rocksdb_t *dbs[NODES];
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wo;
} four_dbs;

static void four_open(four_dbs *f, const char *dir) {
    f->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(f->opts, 1);
    f->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(f->wo, 1);
    char *err = NULL;
    for (int node = 0; node < NODES; node++) {
        char path[1024];
        if (snprintf(path, sizeof path, "%s/db%d", dir, node) >= (int)sizeof path)
            die("folder name too long");
        f->dbs[node] = rocksdb_open(f->opts, path, &err);
        if (f->dbs[node] == NULL)
            die(err ? err : "rocksdb open");
    }
}

static void four_close(four_dbs *f) {
    for (int node = 0; node < NODES; node++)
        rocksdb_close(f->dbs[node]);
    rocksdb_writeoptions_destroy(f->wo);
    rocksdb_options_destroy(f->opts);
}

/* One batch, synced, into each of the four databases in turn (a commit on
 * each validator). */
static void four_write(four_dbs *f, rocksdb_writebatch_t *batch) {
    char *err = NULL;
    for (int node = 0; node < NODES; node++) {
        rocksdb_write(f->dbs[node], f->wo, batch, &err);
        if (err != NULL)
            die(err);
    }
}

/* Writes batch, synced, into four fresh databases in turn: the ns it took. */
static uint64_t write_four(rocksdb_writebatch_t *batch, const char *dir) {
    four_dbs f;
    four_open(&f, dir);
    uint64_t t0 = now_ns();
    four_write(&f, batch);
    uint64_t ns = now_ns() - t0;
    four_close(&f);
    rm_tree(dir);
    mkdir(dir, 0700);
    return ns;
}

static void bench(uint32_t n, const char *dir) {
    hm_keypair admin, brand;
    key_of(1, &admin);
    key_of(2, &brand);
    uint64_t exec_ns[RUNS_MAX], db_ns[RUNS_MAX], state_ns[RUNS_MAX];
    double bytes_per_record = 0, value_per_record = 0, record_bytes = 0;
    const int runs = runs_for(n);
    for (int run = 0; run < runs; run++) {
        ledger l;
        uint8_t product_hash[32];
        setup_ledger(&l, &admin, &brand, product_hash, run_setup_tx);
        uint8_t **recs = malloc(n * sizeof *recs);
        size_t *lens = malloc(n * sizeof *lens);
        if (recs == NULL || lens == NULL)
            die("memory");
        uint64_t total = 0;
        for (uint32_t i = 0; i < n; i++) {
            recs[i] = item_record(product_hash, "S", i, &lens[i]);
            total += lens[i];
        }
        record_bytes = (double)total / n;
        size_t len;
        uint8_t *tx = build(CT_TX_ITEM_REGISTER, &brand, 10, NULL, 0, recs, lens, n, &len);
        for (uint32_t i = 0; i < n; i++)
            free(recs[i]);
        free(recs);
        free(lens);
        ct_exec *x = run_tx(&l, tx, len, true, &exec_ns[run]);
        write_collect c = {.batch = rocksdb_writebatch_create()};
        if (ct_exec_foreach_write(x, collect, &c) != HM_OK)
            die("writes");
        ct_exec_free(x);
        bytes_per_record = (double)c.bytes / n;
        value_per_record = (double)c.value_bytes / n;
        /* four nodes: the same batch into four open databases, synced;
         * first the state alone, then with the block and its index row */
        state_ns[run] = write_four(c.batch, dir);
        ct_tx d;
        if (ct_tx_decode(tx, len, &d) != HM_OK)
            die("decode");
        uint8_t height[8] = {0}, where[12] = {0};
        height[7] = 1;
        rocksdb_writebatch_put(c.batch, (const char *)height, sizeof height, (const char *)tx, len);
        rocksdb_writebatch_put(c.batch, (const char *)d.id, HM_HASH_LEN, (const char *)where,
                               sizeof where);
        db_ns[run] = write_four(c.batch, dir);
        free(tx);
        rocksdb_writebatch_destroy(c.batch);
        ct_memstore_free(l.mem);
    }
    uint64_t e = median_u64(exec_ns, (size_t)runs), d = median_u64(db_ns, (size_t)runs),
             st = median_u64(state_ns, (size_t)runs);
    printf("prov_store n=%u exec_rps=%.0f rocksdb4_rps=%.0f rocksdb4_state_rps=%.0f "
           "sigs_per_record=%.6f bytes_per_record=%.1f record_bytes=%.1f "
           "value_bytes_per_record=%.1f\n",
           n, n / (e / 1e9), n / (d / 1e9), n / (st / 1e9), 1.0 / n, bytes_per_record, record_bytes,
           value_per_record);
    fflush(stdout);
}

/* ------------------------------------------------------ sustained ceiling */

#define SUSTAINED_RECORDS_MAX 1000000u /* M x N: a run's batches are in memory */
#define SPECS_MAX 16

typedef struct {
    uint32_t n, m;
} size_spec;

/* The chain the sustained ceiling executes: the ledger holds only the rows
 * later executions read (see keep_small), batch is the number of the last
 * batch built. */
typedef struct {
    ledger l;
    hm_keypair brand;
    uint8_t product_hash[32];
    uint64_t batch;
} chain;

/* Applies a write to the ledger unless it is an item row or a chunk row:
 * new serials never collide, so no later execution reads them (it finds
 * the same "not found" in the ledger as in the full state), and keeping
 * them would hold the whole ~4.5 million items in memory. What is kept
 * (batch counter, batch meta, brand index, per-tx rows) is small. */
static bool keep_small(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                       size_t val_len) {
    ct_memstore *mem = arg;
    if (key_len >= 4 && (memcmp(key, "p/i/", 4) == 0 || memcmp(key, "p/c/", 4) == 0))
        return true;
    if (ct_memstore_write(mem, key, key_len, val, val_len) != HM_OK)
        die("memstore");
    return true;
}

static void put_u64_be(uint8_t out[8], uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

/* The signed tx of the next batch of n items: B<b>S1..n, lot L<i/10000>,
 * as bench_prov.sh's new_csv writes them. */
static uint8_t *next_tx(chain *c, uint32_t n, size_t *len) {
    c->batch++;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "B%" PRIu64 "S", c->batch);
    uint8_t **recs = malloc(n * sizeof *recs);
    size_t *lens = malloc(n * sizeof *lens);
    if (recs == NULL || lens == NULL)
        die("memory");
    for (uint32_t i = 0; i < n; i++)
        recs[i] = item_record_lot(c->product_hash, prefix, "L", i + 1, &lens[i]);
    uint8_t *tx = build(CT_TX_ITEM_REGISTER, &c->brand, 10 + c->batch, NULL, 0, recs, lens, n, len);
    for (uint32_t i = 0; i < n; i++)
        free(recs[i]);
    free(recs);
    free(lens);
    return tx;
}

/* What a proposer puts in one block: the mempool's txs in order while they
 * fit in block_bytes_max - 4096 bytes, at most block_txs_max of them
 * (node/node.c; 16 MiB and 10,000 by default, which bench_prov.sh's
 * validators run with). The network's back-to-back batches may land in
 * more blocks than this, each one more synced commit: packing as tightly as
 * the proposer can keeps the ceiling an upper bound. */
#define BLOCK_TX_BYTES (16u * 1024 * 1024 - 4096)
#define BLOCK_TXS 10000u

/* The writes validators' commits make for one block of k txs: execution of
 * the k in one block (its state writes, merged as the node's overlay merges
 * them), the block (the txs' bytes) under its 8-byte height, and each tx's
 * 12-byte index row (height, index). */
static rocksdb_writebatch_t *block_writes(chain *c, uint8_t *const *txs, const size_t *lens,
                                          uint32_t k) {
    ledger *l = &c->l;
    ct_exec *x = exec_block(l, (const uint8_t *const *)txs, lens, k, NULL);
    size_t block_len = 0;
    for (uint32_t i = 0; i < k; i++)
        block_len += lens[i];
    write_collect wc = {.batch = rocksdb_writebatch_create()};
    if (ct_exec_foreach_write(x, collect, &wc) != HM_OK)
        die("writes");
    if (ct_exec_foreach_write(x, keep_small, l->mem) != HM_OK)
        die("apply");
    ct_exec_free(x);
    uint8_t height[8];
    put_u64_be(height, l->ctx.height); /* increases across the whole sequence */
    uint8_t *block = malloc(block_len);
    if (block == NULL)
        die("memory");
    size_t at = 0;
    for (uint32_t i = 0; i < k; i++) {
        memcpy(block + at, txs[i], lens[i]);
        at += lens[i];
        ct_tx d;
        if (ct_tx_decode(txs[i], lens[i], &d) != HM_OK)
            die("decode");
        uint8_t where[12];
        memcpy(where, height, sizeof height);
        for (int b = 0; b < 4; b++)
            where[8 + b] = (uint8_t)(i >> (24 - 8 * b));
        rocksdb_writebatch_put(wc.batch, (const char *)d.id, HM_HASH_LEN, (const char *)where,
                               sizeof where);
    }
    rocksdb_writebatch_put(wc.batch, (const char *)height, sizeof height, (const char *)block,
                           block_len);
    free(block);
    return wc.batch;
}

/* The blocks of m batches of n (built now, off the clock): the batches in
 * order, as many to a block as fit in BLOCK_TX_BYTES; their count in
 * *blocks. */
static rocksdb_writebatch_t **build_blocks(chain *c, uint32_t n, uint32_t m, uint32_t *blocks) {
    uint8_t **txs = malloc(m * sizeof *txs);
    size_t *lens = malloc(m * sizeof *lens);
    rocksdb_writebatch_t **out = malloc(m * sizeof *out);
    if (txs == NULL || lens == NULL || out == NULL)
        die("memory");
    for (uint32_t j = 0; j < m; j++)
        txs[j] = next_tx(c, n, &lens[j]);
    uint32_t count = 0;
    for (uint32_t first = 0; first < m;) {
        uint32_t k = 1;
        size_t bytes = lens[first];
        while (first + k < m && k < BLOCK_TXS && bytes + lens[first + k] <= BLOCK_TX_BYTES)
            bytes += lens[first + k++];
        out[count++] = block_writes(c, txs + first, lens + first, k);
        first += k;
    }
    for (uint32_t j = 0; j < m; j++)
        free(txs[j]);
    free(txs);
    free(lens);
    *blocks = count;
    return out;
}

/* One sustained run: m batches of n built off the clock, then written back
 * to back, block after block; the ns the writes took. */
static uint64_t sustained_run(chain *c, four_dbs *f, uint32_t n, uint32_t m, uint32_t *blocks) {
    rocksdb_writebatch_t **wbs = build_blocks(c, n, m, blocks);
    uint64_t t0 = now_ns();
    for (uint32_t j = 0; j < *blocks; j++)
        four_write(f, wbs[j]);
    uint64_t ns = now_ns() - t0;
    for (uint32_t j = 0; j < *blocks; j++)
        rocksdb_writebatch_destroy(wbs[j]);
    free(wbs);
    return ns;
}

/* The network's one-batch run, a block of its own, written off the clock so
 * that the volume (and so the flushes and compactions to come) matches. */
static void one_batch_untimed(chain *c, four_dbs *f, uint32_t n) {
    uint32_t blocks = 0;
    rocksdb_writebatch_t **wbs = build_blocks(c, n, 1, &blocks);
    assert(blocks == 1);
    four_write(f, wbs[0]);
    rocksdb_writebatch_destroy(wbs[0]);
    free(wbs);
}

/* The sustained ceiling's folder, removed at exit however the run ends. */
static const char *sustained_dir;

static void remove_sustained_dir(void) {
    if (sustained_dir != NULL)
        rm_tree(sustained_dir);
}

static void sustained(const char *dir, int runs, const size_spec *specs, int nspecs) {
    if (mkdir(dir, 0700) != 0) {
        fprintf(stderr, BENCH_NAME ": %s: %s (it must not exist; its parent must)\n", dir,
                strerror(errno));
        exit(1);
    }
    sustained_dir = dir;
    atexit(remove_sustained_dir); /* also after die() */
    chain c = {0};
    hm_keypair admin;
    key_of(1, &admin);
    key_of(2, &c.brand);
    setup_ledger(&c.l, &admin, &c.brand, c.product_hash, run_setup_tx);
    four_dbs f;
    four_open(&f, dir);
    for (int s = 0; s < nspecs; s++) {
        uint32_t n = specs[s].n, m = specs[s].m;
        uint64_t rps[RUNS_MAX], sorted[RUNS_MAX];
        uint32_t blocks = 0;
        for (int run = 0; run < runs; run++) {
            uint64_t ns = sustained_run(&c, &f, n, m, &blocks);
            rps[run] = (uint64_t)((double)n * m * 1e9 / (double)ns);
            one_batch_untimed(&c, &f, n);
        }
        memcpy(sorted, rps, sizeof rps);
        printf("prov_store_sustained n=%u m=%u runs=%d blocks=%u rps=%" PRIu64 " run_rps=", n, m,
               runs, blocks, median_u64(sorted, (size_t)runs));
        for (int run = 0; run < runs; run++)
            printf("%s%" PRIu64, run ? "," : "", rps[run]);
        printf("\n");
        fflush(stdout);
    }
    four_close(&f);
    ct_memstore_free(c.l.mem);
    rm_tree(dir);
}

/* Parses "N:M" into spec, within the bounds the opening comment gives. */
static bool parse_spec(const char *arg, size_spec *spec) {
    char *end;
    unsigned long n = strtoul(arg, &end, 10);
    if (end == arg || *end != ':')
        return false;
    const char *ms = end + 1;
    unsigned long m = strtoul(ms, &end, 10);
    if (end == ms || *end != '\0')
        return false;
    if (n < 1 || n > CT_BATCH_RECORDS_MAX || m < 1 || m > SUSTAINED_RECORDS_MAX / n)
        return false;
    spec->n = (uint32_t)n;
    spec->m = (uint32_t)m;
    return true;
}

static int sustained_main(int argc, char **argv) {
    size_spec specs[SPECS_MAX];
    char *end;
    if (argc < 5 || argc - 4 > SPECS_MAX)
        die("usage: --sustained DIR RUNS N:M [N:M ...] (at most 16 N:M)");
    unsigned long runs = strtoul(argv[3], &end, 10);
    if (end == argv[3] || *end != '\0' || runs < 1 || runs > RUNS_MAX)
        die("RUNS must be 1..21");
    for (int i = 4; i < argc; i++)
        if (!parse_spec(argv[i], &specs[i - 4]))
            die("N:M: N 1..100000, M >= 1, M x N <= 1000000");
    sustained(argv[2], (int)runs, specs, argc - 4);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--sustained") == 0)
        return sustained_main(argc, argv);
    char dir[1024];
    const char *slash = strrchr(argv[0], '/');
    snprintf(dir, sizeof dir, "%.*sprov-store-db", slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
    rm_tree(dir);
    if (mkdir(dir, 0700) != 0)
        die("cannot create the database folder");
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            bench((uint32_t)strtoul(argv[i], NULL, 10), dir);
    } else {
        bench(1000, dir);
        bench(10000, dir);
        bench(100000, dir);
    }
    rm_tree(dir);
    return 0;
}
