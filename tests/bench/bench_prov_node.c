/* tests/bench/bench_prov_node.c — what one validator spends on a batch of N
 * item records, phase by phase, over its real RocksDB store: admission
 * (decode, one signature check, the records hashed and their root checked,
 * the hashes kept), execution (over the RocksDB-backed state, with the
 * signature and record hashes of admission, the state root), and the commit (the block kept as
 * the proposal a validator saves before voting, then one synced WriteBatch with its certificate,
 * every state write and a reference to the kept block). Batches of distinct items follow one
 * another into the same database, as on a chain that keeps registering.
 *
 * Usage: bench_prov_node [N [BATCHES]] (default 100,000 and 5). Prints one
 * line: "prov_node n=N batches=B admit_rps=.. exec_rps=.. commit_rps=..
 * node_rps=.." where each figure is records per second of that phase alone
 * (the median over the batches) and node_rps the records per second of the
 * three together. This is the per-node cost behind bench_prov.sh's figures
 * (four nodes share two cores there); the profile target for the node's
 * batch path (`valgrind --tool=callgrind bench_prov_node 100000 1`).
 *
 * Layer: benchmarks (clock, files). Asserts nothing about speed. The database
 * lives in a folder beside the binary and is removed after. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "bench_prov_node"
#include "bench_prov_setup.h"
#include "ct.h"
#include "evalloc.h"
#include "nd_int.h"

#define BATCHES_MAX 64

static nd_store *g_store;
static ct_store g_state;

/* Executes tx (signature already checked or not) in the next block and
 * commits it; the phase times go to exec_ns and commit_ns when given. */
/* hashes, when not NULL: the tx's record hashes from admission (leaves,
 * then chunk roots), which the node hands to the execution. */
static void run_block(ledger *l, const uint8_t *tx, size_t len, bool checked,
                      const uint8_t (*hashes)[HM_HASH_LEN], uint64_t *exec_ns,
                      uint64_t *commit_ns) {
    l->ctx.height++;
    l->ctx.time_ms += 1000;
    ct_tx d;
    if (ct_tx_decode(tx, len, &d) != HM_OK)
        die("decode");
    uint64_t t0 = now_ns();
    ct_exec *x = NULL;
    if (ct_exec_new(&g_state, &l->ctx, &x) != HM_OK)
        die("exec");
    ct_result res;
    hm_err err = hashes
                     ? ct_exec_tx_prehashed(x, &d, checked, hashes, hashes + d.record_count, &res)
                     : ct_exec_tx(x, tx, len, checked, &res);
    if (err != HM_OK || res.code != HM_OK) {
        fprintf(stderr, "refused: %s\n", res.message);
        die("tx refused");
    }
    if (ct_exec_end_block(x) != HM_OK)
        die("end block");
    static uint8_t root[HM_HASH_LEN];
    ct_exec_state_root(x, root, root);
    uint64_t t1 = now_ns();
    hm_block_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.chain_id, sizeof h.chain_id, "%s", CHAIN);
    h.height = l->ctx.height;
    h.time_ms = l->ctx.time_ms;
    memcpy(h.state_root, root, HM_HASH_LEN);
    hm_cert cert;
    memset(&cert, 0, sizeof cert);
    cert.height = h.height;
    /* the block's bytes are about the tx's: store the tx as the block,
     * kept first as the proposal a validator saves before voting, which
     * the commit then refers to (as a validator's does) */
    uint8_t block_id[HM_HASH_LEN];
    if (hm_block_header_hash(&h, block_id) != HM_OK ||
        nd_store_put_proposed(g_store, h.height, block_id, tx, len) != HM_OK)
        die("proposal");
    if (nd_store_commit(g_store, &h, tx, len, block_id, &cert, (const uint8_t(*)[HM_HASH_LEN])d.id,
                        1, x, root) != HM_OK)
        die("commit");
    uint64_t t2 = now_ns();
    ct_exec_free(x);
    if (exec_ns)
        *exec_ns = t1 - t0;
    if (commit_ns)
        *commit_ns = t2 - t1;
}

static void run_setup_tx(ledger *l, const uint8_t *tx, size_t len) {
    run_block(l, tx, len, false, NULL, NULL, NULL);
}

int main(int argc, char **argv) {
    nd_malloc_tune(); /* the allocator settings hallmarkd starts with */
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
    uint32_t batches = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 5;
    if (n == 0 || n > CT_BATCH_RECORDS_MAX || batches == 0 || batches > BATCHES_MAX)
        die("usage: bench_prov_node [N (1..100000) [BATCHES (1..64)]]");
    char dir[1024];
    const char *slash = strrchr(argv[0], '/');
    snprintf(dir, sizeof dir, "%.*sprov-node-db", slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
    rm_tree(dir);
    char err[256];
    if (nd_store_open(dir, &g_store, err, sizeof err) != HM_OK)
        die(err);
    g_state = nd_store_state(g_store);
    hm_keypair admin, brand;
    key_of(1, &admin);
    key_of(2, &brand);
    ledger l;
    uint8_t product_hash[32];
    setup_ledger(&l, &admin, &brand, product_hash, run_setup_tx);
    /* the ledger's memory store is not used: the state lives in RocksDB */
    ct_memstore_free(l.mem);
    l.mem = NULL;
    uint64_t admit_ns[BATCHES_MAX], exec_ns[BATCHES_MAX], commit_ns[BATCHES_MAX],
        all_ns[BATCHES_MAX];
    uint8_t **recs = malloc(n * sizeof *recs);
    size_t *lens = malloc(n * sizeof *lens);
    if (recs == NULL || lens == NULL)
        die("memory");
    for (uint32_t b = 0; b < batches; b++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "B%uS", b);
        for (uint32_t i = 0; i < n; i++)
            recs[i] = item_record(product_hash, prefix, i, &lens[i]);
        size_t len;
        uint8_t *tx = build(CT_TX_ITEM_REGISTER, &brand, 10 + b, NULL, 0, recs, lens, n, &len);
        for (uint32_t i = 0; i < n; i++)
            free(recs[i]);
        /* admission as the node does it: decode, the signature check, and
         * the records hashed once, their hashes kept for the execution */
        uint64_t t0 = now_ns();
        ct_tx d;
        if (ct_tx_decode(tx, len, &d) != HM_OK)
            die("admission");
        uint8_t(*hashes)[HM_HASH_LEN] = malloc((n + ct_tx_records_chunks(&d)) * HM_HASH_LEN);
        if (hashes == NULL || ct_tx_check_sig(&d, CHAIN) != HM_OK ||
            ct_tx_records_hash(&d, hashes, hashes + n) != HM_OK)
            die("admission");
        admit_ns[b] = now_ns() - t0;
        run_block(&l, tx, len, true, (const uint8_t(*)[HM_HASH_LEN])hashes, &exec_ns[b],
                  &commit_ns[b]);
        free(hashes);
        all_ns[b] = admit_ns[b] + exec_ns[b] + commit_ns[b];
        free(tx);
    }
    free(recs);
    free(lens);
    double a = (double)median_u64(admit_ns, batches), e = (double)median_u64(exec_ns, batches),
           c = (double)median_u64(commit_ns, batches), t = (double)median_u64(all_ns, batches);
    printf("prov_node n=%u batches=%u admit_rps=%.0f exec_rps=%.0f commit_rps=%.0f "
           "node_rps=%.0f\n",
           n, batches, n / (a / 1e9), n / (e / 1e9), n / (c / 1e9), n / (t / 1e9));
    nd_store_close(g_store);
    rm_tree(dir);
    return 0;
}
