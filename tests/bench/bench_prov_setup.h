/* tests/bench/bench_prov_setup.h — setup helpers shared by the contract
 * benchmarks (bench_ct_exec, bench_prov_store, bench_prov_node): a monotonic
 * clock, fatal exit, a median, fixed test keys, item records, signed
 * transaction building and a ledger set up with a brand and its product,
 * ready for item registration.
 *
 * The including file defines BENCH_NAME (the program name printed on a fatal
 * error) before including this header. Layer: benchmarks (clock). Must never
 * be used by the node or the contracts: it exits on any error. */
#ifndef HM_BENCH_PROV_SETUP_H
#define HM_BENCH_PROV_SETUP_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_prov_setup.h"
#endif

static const char CHAIN[] = "bench";

/* The product every benchmark registers items of. */
#define GTIN "10614141073464"

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *what) {
    fprintf(stderr, BENCH_NAME ": %s\n", what);
    exit(1);
}

/* Removes a benchmark's database folder (and everything below it). */
static inline void rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[2048];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int n = snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (n < 0 || (size_t)n >= sizeof p)
            continue; /* deeper than a benchmark's own folder goes */
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static inline int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n), which it sorts. */
static inline uint64_t median_u64(uint64_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u64);
    return v[n / 2];
}

/* A fixed key per seed, so that every run signs with the same keys. */
static inline void key_of(uint8_t seed, hm_keypair *kp) {
    uint8_t sk[32];
    memset(sk, seed, sizeof sk);
    sk[0] = 1;
    if (hm_keypair_from_seckey(kp, sk) != HM_OK)
        die("key");
}

/* The encoded record of item i of the product: serial `serial_prefix` then
 * i, lot `lot_prefix` then i / 10000, expiry 301231; its length goes to
 * len. */
static inline uint8_t *item_record_lot(const uint8_t product_hash[32], const char *serial_prefix,
                                       const char *lot_prefix, uint32_t i, size_t *len) {
    ct_item_record r = {.gtin = GTIN, .expiry = "301231"};
    if (snprintf(r.serial, sizeof r.serial, "%s%u", serial_prefix, i) >= (int)sizeof r.serial)
        die("serial too long");
    if (snprintf(r.lot, sizeof r.lot, "%s%u", lot_prefix, i / 10000) >= (int)sizeof r.lot)
        die("lot too long");
    memcpy(r.product_hash, product_hash, 32);
    hm_writer w;
    hm_writer_init_growable(&w, CT_RECORD_MAX);
    if (ct_item_record_encode(&r, &w) != HM_OK)
        die("record");
    return hm_writer_take(&w, len);
}

/* The same with lot LOT(i / 10000). */
static inline uint8_t *item_record(const uint8_t product_hash[32], const char *serial_prefix,
                                   uint32_t i, size_t *len) {
    return item_record_lot(product_hash, serial_prefix, "LOT", i, len);
}

/* A signed tx of `type` carrying `body` and, when n > 0, the n records. */
static inline uint8_t *build(uint32_t type, const hm_keypair *kp, uint64_t nonce,
                             const uint8_t *body, size_t body_len, uint8_t *const *recs,
                             const size_t *lens, uint32_t n, size_t *len) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    if (ct_tx_build(&w, type, kp, CHAIN, nonce, body, body_len, n > 0, (const uint8_t *const *)recs,
                    lens, n) != HM_OK)
        die("tx build");
    return hm_writer_take(&w, len);
}

/* The state a benchmark executes over: a memstore and the context of the
 * next block. */
typedef struct {
    ct_memstore *mem;
    ct_store store;
    ct_block_ctx ctx;
} ledger;

/* Opens the ledger with one admin and runs, each through run_setup in a
 * block of its own, the txs every item registration needs: the brand as a
 * member, its GS1 prefix, and the product, whose body hash goes to
 * product_hash. */
static inline void setup_ledger(ledger *l, const hm_keypair *admin, const hm_keypair *brand,
                                uint8_t product_hash[32],
                                void (*run_setup)(ledger *, const uint8_t *, size_t)) {
    memset(l, 0, sizeof *l);
    if (ct_memstore_new(&l->mem) != HM_OK)
        die("memstore");
    l->store = ct_memstore_store(l->mem);
    strcpy(l->ctx.chain_id, CHAIN);
    l->ctx.time_ms = 1700000000000ULL;
    l->ctx.admin_count = 1;
    l->ctx.admins[0] = admin->pub;
    uint8_t buf[2048];
    hm_writer w;
    size_t len;
    uint8_t *tx;
    ct_member_add_body ma = {.key = brand->pub, .roles = CT_ROLE_BRAND, .name = "Bench"};
    hm_writer_init(&w, buf, sizeof buf);
    if (ct_member_add_encode(&ma, &w) != HM_OK)
        die("encode");
    tx = build(CT_TX_MEMBER_ADD, admin, 1, buf, w.len, NULL, NULL, 0, &len);
    run_setup(l, tx, len);
    free(tx);
    ct_prefix_assign_body pa = {.prefix = "0614141"};
    memcpy(pa.brand.bytes, brand->pub.bytes, 32);
    hm_writer_init(&w, buf, sizeof buf);
    if (ct_prefix_assign_encode(&pa, &w) != HM_OK)
        die("encode");
    tx = build(CT_TX_PREFIX_ASSIGN, admin, 2, buf, w.len, NULL, NULL, 0, &len);
    run_setup(l, tx, len);
    free(tx);
    static ct_product_body pb = {.gtin = GTIN, .name = "Silk scarf"};
    hm_writer_init(&w, buf, sizeof buf);
    if (ct_product_encode(&pb, &w) != HM_OK)
        die("encode");
    hm_sha256(buf, w.len, product_hash);
    tx = build(CT_TX_PRODUCT_SET, brand, 3, buf, w.len, NULL, NULL, 0, &len);
    run_setup(l, tx, len);
    free(tx);
}

#endif
