/* tests/bench/bench_settle_exec.c — what settlement's execution costs on one
 * core, with no network, no signatures (sig_checked) and a memory store: the
 * ceiling that the 4-validator figures of bench_settle.sh are set against.
 *
 * Layer: benchmarks (reads the monotonic clock). Figures, each the median of
 * RUNS runs: sales executed per second as one-sale txs and as batches of
 * 2,000 records, under a nested contract (platform 10%, MCN contract 90%:
 * streamer 70%, agency 30%), and the state writes per sale. Asserts nothing
 * about speed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ct.h"

#define RUNS 5
#define SALES 20000
#define BATCH 2000

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char CHAIN[] = "bench";
static hm_keypair admin;
static uint64_t nonce;

static void die(const char *what) {
    fprintf(stderr, "bench_settle_exec: %s\n", what);
    exit(1);
}

static uint8_t *build(uint32_t type, const uint8_t *body, size_t body_len,
                      const uint8_t *const *recs, const size_t *lens, uint32_t n, size_t *len) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    if (ct_tx_build(&w, type, &admin, CHAIN, ++nonce, body, body_len, n > 0, recs, lens, n) !=
        HM_OK)
        die("build");
    return hm_writer_take(&w, len);
}

static ct_exec *block_begin(ct_store *s, uint64_t height) {
    ct_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    snprintf(ctx.chain_id, sizeof ctx.chain_id, "%s", CHAIN);
    ctx.height = height;
    ctx.time_ms = 1700000000000ull + height * 1000;
    ctx.admin_count = 1;
    ctx.admins[0] = admin.pub;
    ct_exec *x;
    if (ct_exec_new(s, &ctx, &x) != HM_OK)
        die("exec");
    return x;
}

static void run_tx(ct_exec *x, const uint8_t *tx, size_t len) {
    ct_result res;
    if (ct_exec_tx(x, tx, len, true, &res) != HM_OK || res.code != HM_OK) {
        fprintf(stderr, "refused: %s\n", res.message);
        die("tx");
    }
}

static size_t count_writes_n;
static bool count_writes(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    (void)arg, (void)k, (void)kl, (void)v, (void)vl;
    count_writes_n++;
    return true;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One run: contracts in block 1, SALES sales in block 2; returns sales/s. */
static double one_run(bool batched, size_t *writes_per_sale) {
    ct_memstore *m;
    if (ct_memstore_new(&m) != HM_OK)
        die("memstore");
    ct_store s = ct_memstore_store(m);
    hm_keypair streamer, agency;
    uint8_t sk[32];
    memset(sk, 5, 32);
    if (hm_keypair_from_seckey(&streamer, sk) != HM_OK)
        die("key");
    memset(sk, 6, 32);
    if (hm_keypair_from_seckey(&agency, sk) != HM_OK)
        die("key");

    ct_exec *x = block_begin(&s, 1);
    ct_split_create_body c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "mcn");
    memcpy(c.terms.currency, "CNY", 4);
    c.terms.return_window_ms = 7ull * 24 * 3600 * 1000;
    c.terms.share_count = 2;
    c.terms.shares[0] = (ct_split_share){{CT_PARTY_ACCOUNT, {0}}, 7000};
    memcpy(c.terms.shares[0].to.id, streamer.pub.bytes, 32);
    c.terms.shares[1] = (ct_split_share){{CT_PARTY_ACCOUNT, {0}}, 3000};
    memcpy(c.terms.shares[1].to.id, agency.pub.bytes, 32);
    uint8_t mcn[32], top[32];
    ct_split_id(&admin.pub, "mcn", mcn);
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    if (ct_split_create_encode(&c, &w) != HM_OK)
        die("encode");
    size_t len;
    uint8_t *tx = build(CT_TX_SPLIT_CREATE, w.buf, w.len, NULL, NULL, 0, &len);
    run_tx(x, tx, len);
    free(tx);
    hm_writer_free(&w);
    snprintf(c.name, sizeof c.name, "top");
    c.terms.shares[0] = (ct_split_share){{CT_PARTY_ACCOUNT, {0}}, 1000};
    memcpy(c.terms.shares[0].to.id, admin.pub.bytes, 32);
    c.terms.shares[1] = (ct_split_share){{CT_PARTY_SPLIT, {0}}, 9000};
    memcpy(c.terms.shares[1].to.id, mcn, 32);
    ct_split_id(&admin.pub, "top", top);
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    if (ct_split_create_encode(&c, &w) != HM_OK)
        die("encode");
    tx = build(CT_TX_SPLIT_CREATE, w.buf, w.len, NULL, NULL, 0, &len);
    run_tx(x, tx, len);
    free(tx);
    hm_writer_free(&w);
    if (ct_exec_end_block(x) != HM_OK || ct_exec_apply_to_memstore(x, m) != HM_OK)
        die("block 1");
    ct_exec_free(x);

    /* prepare every tx before the clock starts */
    uint32_t tx_count = batched ? SALES / BATCH : SALES;
    uint8_t **txs = calloc(tx_count, sizeof *txs);
    size_t *tx_lens = calloc(tx_count, sizeof *tx_lens);
    uint8_t **recs = calloc(BATCH, sizeof *recs);
    size_t *rec_lens = calloc(BATCH, sizeof *rec_lens);
    if (!txs || !tx_lens || !recs || !rec_lens)
        die("memory");
    for (uint32_t t = 0; t < tx_count; t++) {
        uint32_t per = batched ? BATCH : 1;
        for (uint32_t r = 0; r < per; r++) {
            ct_sale_body sale;
            memset(&sale, 0, sizeof sale);
            snprintf(sale.order_id, sizeof sale.order_id, "o-%u-%u", t, r);
            sale.gross = 1000 + r;
            memcpy(sale.currency, "CNY", 4);
            memcpy(sale.contract_id, top, 32);
            snprintf(sale.session_id, sizeof sale.session_id, "live-1");
            sale.has_streamer = true;
            sale.streamer = streamer.pub;
            hm_writer_init_growable(&w, CT_RECORD_MAX);
            if (ct_sale_encode(&sale, !batched, &w) != HM_OK)
                die("sale");
            recs[r] = hm_writer_take(&w, &rec_lens[r]);
        }
        if (batched)
            txs[t] = build(CT_TX_SALE, NULL, 0, (const uint8_t *const *)recs, rec_lens, per,
                           &tx_lens[t]);
        else
            txs[t] = build(CT_TX_SALE, recs[0], rec_lens[0], NULL, NULL, 0, &tx_lens[t]);
        for (uint32_t r = 0; r < per; r++)
            free(recs[r]);
    }
    uint64_t t0 = now_ns();
    x = block_begin(&s, 2);
    for (uint32_t t = 0; t < tx_count; t++)
        run_tx(x, txs[t], tx_lens[t]);
    if (ct_exec_end_block(x) != HM_OK)
        die("end block");
    uint64_t t1 = now_ns();
    count_writes_n = 0;
    if (ct_exec_foreach_write(x, count_writes, NULL) != HM_OK)
        die("writes");
    *writes_per_sale = count_writes_n / SALES;
    ct_exec_free(x);
    for (uint32_t t = 0; t < tx_count; t++)
        free(txs[t]);
    free(txs);
    free(tx_lens);
    free(recs);
    free(rec_lens);
    ct_memstore_free(m);
    return (double)SALES / ((double)(t1 - t0) / 1e9);
}

int main(void) {
    uint8_t sk[32];
    memset(sk, 1, 32);
    if (hm_keypair_from_seckey(&admin, sk) != HM_OK)
        die("key");
    for (int batched = 0; batched <= 1; batched++) {
        double rates[RUNS];
        size_t writes = 0;
        for (int r = 0; r < RUNS; r++)
            rates[r] = one_run(batched != 0, &writes);
        qsort(rates, RUNS, sizeof rates[0], cmp_double);
        printf("settle exec: %.0f sales/s on one core (%s, %d sales, nested contract, "
               "signatures pre-checked), %zu state writes per sale\n",
               rates[RUNS / 2], batched ? "batches of 2,000" : "one sale per tx", SALES, writes);
    }
    return 0;
}
