/* tests/bench/bench_consumer.c — proof bundle size and verify time for one
 * item registered in a batch of 100,000 records, in a block of 1,000 txs,
 * committed by 3 of 4 validators; and the cost of rendering the consumer
 * page around it.
 *
 * Targets (DESIGN.md): the bundle under 2 KB plus the certificate, verified
 * in under 1 ms. Each time is the median of 7 runs; the ceiling printed
 * beside it is what the 4 BIP340 verifications inside cost alone on this
 * machine in the same run (3 precommits + the brand's tx signature). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ct_bundle.h"
#include "page.h"

#define RECORDS 100000
#define BLOCK_TXS 1000
#define RUNS 7
#define ITERS 300

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void check(hm_err err, const char *what) {
    if (err != HM_OK) {
        fprintf(stderr, "bench_consumer: %s: %s\n", what, hm_err_name(err));
        exit(1);
    }
}

static void key(hm_keypair *kp, uint8_t seed) {
    uint8_t sk[32];
    memset(sk, seed, sizeof sk);
    check(hm_keypair_from_seckey(kp, sk), "key");
}

int main(void) {
    const char *chain = "hallmark-bench";
    hm_keypair vals[4], brand;
    hm_validator_set vs = {.count = 4};
    for (int i = 0; i < 4; i++) {
        key(&vals[i], (uint8_t)(0x21 + i));
        vs.keys[i] = vals[i].pub;
    }
    key(&brand, 0x55);

    /* 100,000 item records as the provenance contract encodes them. */
    uint8_t **recs = calloc(RECORDS, sizeof *recs);
    size_t *lens = calloc(RECORDS, sizeof *lens);
    uint8_t(*leaves)[HM_HASH_LEN] = calloc(RECORDS, sizeof *leaves);
    if (recs == NULL || lens == NULL || leaves == NULL) {
        return 1;
    }
    for (uint32_t i = 0; i < RECORDS; i++) {
        ct_item_record r;
        memset(&r, 0, sizeof r);
        snprintf(r.gtin, sizeof r.gtin, "09520123456788");
        snprintf(r.serial, sizeof r.serial, "B%07u", i);
        snprintf(r.lot, sizeof r.lot, "L9");
        memset(r.product_hash, 0x42, HM_HASH_LEN);
        r.has_code = true;
        memset(r.code_hash, (int)(i & 0xff), HM_HASH_LEN);
        hm_writer w;
        hm_writer_init_growable(&w, CT_RECORD_MAX);
        check(ct_item_record_encode(&r, &w), "record");
        recs[i] = hm_writer_take(&w, &lens[i]);
        hm_merkle_leaf_hash(recs[i], lens[i], leaves[i]);
    }
    hm_writer txw;
    hm_writer_init_growable(&txw, CT_TX_MAX);
    check(ct_tx_build(&txw, CT_TX_ITEM_REGISTER, &brand, chain, 1, NULL, 0, true,
                      (const uint8_t *const *)recs, lens, RECORDS),
          "tx");
    ct_tx tx;
    check(ct_tx_decode(txw.buf, txw.len, &tx), "decode");
    hm_merkle_tree *rtree = NULL;
    check(hm_merkle_tree_new((const uint8_t(*)[HM_HASH_LEN])leaves, RECORDS, &rtree), "tree");
    const uint32_t target = 61803; /* any record */
    uint8_t rpath[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t rpath_len = 0;
    check(hm_merkle_tree_proof(rtree, target, rpath, &rpath_len), "record proof");

    /* A block of 1,000 txs with ours at 777. */
    uint8_t(*bleaves)[HM_HASH_LEN] = calloc(BLOCK_TXS, sizeof *bleaves);
    for (uint32_t i = 0; i < BLOCK_TXS; i++) {
        uint8_t seed[8] = {(uint8_t)i, (uint8_t)(i >> 8)};
        hm_merkle_leaf_hash(seed, sizeof seed, bleaves[i]);
    }
    ct_tx_leaf_hash(&tx, bleaves[777]);
    uint8_t tpath[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t tpath_len = 0;
    check(hm_merkle_inclusion_proof((const uint8_t(*)[HM_HASH_LEN])bleaves, BLOCK_TXS, 777, tpath,
                                    &tpath_len),
          "tx proof");
    hm_block_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.chain_id, sizeof h.chain_id, "%s", chain);
    h.height = 123456;
    h.time_ms = 1764300000000ull;
    hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])bleaves, BLOCK_TXS, h.tx_root);
    memset(h.prev_block_hash, 1, HM_HASH_LEN);
    memset(h.state_root, 2, HM_HASH_LEN);
    hm_validator_set_hash(&vs, h.validator_set_hash);
    h.proposer = vals[0].pub;
    hm_cert cert;
    memset(&cert, 0, sizeof cert);
    cert.height = h.height;
    check(hm_block_header_hash(&h, cert.block_id), "block id");
    hm_vote_body vote = {.type = HM_VOTE_PRECOMMIT, .height = h.height, .round = 0};
    memcpy(vote.block_id, cert.block_id, HM_HASH_LEN);
    uint8_t vbuf[64];
    hm_writer vw;
    hm_writer_init(&vw, vbuf, sizeof vbuf);
    hm_vote_body_encode(&vote, &vw);
    for (uint32_t i = 0; i < 3; i++) {
        cert.sigs[i].validator_index = i;
        check(hm_sign(&vals[i], HM_PURPOSE_VOTE, chain, vbuf, vw.len, &cert.sigs[i].sig), "sign");
    }
    cert.count = 3;

    ct_bundle b;
    check(ct_bundle_init(&b, chain, &vs), "init");
    uint32_t blk;
    check(ct_bundle_add_block(&b, &h, &cert, &blk), "block");
    check(ct_bundle_add_entry(&b, CT_BUNDLE_RECORD, txw.buf, txw.len, recs[target], lens[target],
                              target, (const uint8_t(*)[HM_HASH_LEN])rpath, rpath_len, blk, 777,
                              BLOCK_TXS, (const uint8_t(*)[HM_HASH_LEN])tpath, tpath_len),
          "entry");
    hm_writer bw;
    hm_writer_init_growable(&bw, CT_BUNDLE_ENCODED_MAX);
    check(ct_bundle_encode(&b, &bw), "encode");
    hm_writer cw;
    hm_writer_init_growable(&cw, 1 << 16);
    check(hm_cert_encode(&cert, &cw), "cert");
    json_t *j = ct_bundle_to_json(&b);
    char *jtext = json_dumps(j, JSON_COMPACT);
    size_t json_len = strlen(jtext);

    /* Verify: decode + every step, as `hallmark verify` does. */
    double runs[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_s();
        for (int i = 0; i < ITERS; i++) {
            ct_bundle d;
            check(ct_bundle_decode(bw.buf, bw.len, &d), "decode bundle");
            check(ct_bundle_verify(&d, chain, &vs, NULL, NULL), "verify");
            ct_bundle_clear(&d);
        }
        runs[r] = (now_s() - t0) / ITERS;
    }
    double verify_s = median(runs, RUNS);
    /* Ceiling: the 4 signature verifications alone. */
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_s();
        for (int i = 0; i < ITERS; i++) {
            for (uint32_t k = 0; k < 3; k++) {
                check(
                    hm_verify(&vs.keys[k], HM_PURPOSE_VOTE, chain, vbuf, vw.len, &cert.sigs[k].sig),
                    "sig");
            }
            check(hm_verify(&tx.signer, HM_PURPOSE_TX, chain, tx.head, tx.head_len, &tx.sig),
                  "tx sig");
        }
        runs[r] = (now_s() - t0) / ITERS;
    }
    double sigs_s = median(runs, RUNS);

    /* Rendering the page around it (no I/O): what the node adds per lookup. */
    nd_page_item *it = calloc(1, sizeof *it);
    it->state = ND_ITEM_GENUINE;
    snprintf(it->gtin, sizeof it->gtin, "09520123456788");
    snprintf(it->serial, sizeof it->serial, "B0061803");
    snprintf(it->brand, sizeof it->brand, "Hangzhou Silk Works");
    snprintf(it->product, sizeof it->product, "Mulberry silk scarf");
    it->claimable = true;
    it->self_path = "/01/09520123456788/21/B0061803";
    it->bundle_json = jtext;
    size_t page_len = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_s();
        for (int i = 0; i < ITERS; i++) {
            char *html = NULL;
            check(nd_page_render_html(it, ND_LANG_EN, &html, &page_len), "render");
            free(html);
        }
        runs[r] = (now_s() - t0) / ITERS;
    }
    double render_s = median(runs, RUNS);

    printf("bundle for record %u of a batch of %u, tx %u of %u, 3 of 4 validators:\n", target,
           RECORDS, 777, BLOCK_TXS);
    printf("  binary size            %6zu bytes (certificate %zu, without it %zu; target < 2048 "
           "without)\n",
           bw.len, cw.len, bw.len - cw.len);
    printf("  JSON size              %6zu bytes\n", json_len);
    printf("  record path            %6zu hashes, tx path %zu hashes\n", rpath_len, tpath_len);
    printf("  decode + verify        %8.1f us (median of %d x %d; target < 1000 us)\n",
           verify_s * 1e6, RUNS, ITERS);
    printf("  of which 4 BIP340      %8.1f us (ceiling: signatures alone)\n", sigs_s * 1e6);
    printf("  page render            %8.1f us for a %zu-byte page\n", render_s * 1e6, page_len);
    printf("  verdict: size %s, verify %s\n", bw.len - cw.len < 2048 ? "within target" : "OVER",
           verify_s < 1e-3 ? "within target" : "OVER");

    free(jtext);
    json_decref(j);
    free(it);
    hm_writer_free(&bw);
    hm_writer_free(&cw);
    hm_writer_free(&txw);
    ct_bundle_clear(&b);
    hm_merkle_tree_free(rtree);
    for (uint32_t i = 0; i < RECORDS; i++) {
        free(recs[i]);
    }
    free(recs);
    free(lens);
    free(leaves);
    free(bleaves);
    return 0;
}
