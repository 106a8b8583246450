/* tests/bench/bench_hm.c — what lib/'s hot paths cost, each set against the
 * bare library call it wraps, measured in the same run on the same machine.
 *
 * Layer: benchmarks (not a pure layer: it reads the monotonic clock). Prints
 * figures, asserts nothing about speed: a slow machine is not a failure.
 * Every figure is the median of RUNS runs, because these machines are shared
 * and noisy. Figures:
 *   - SHA-256 of 64-byte inputs: hm_sha256 vs EVP with an EVP_MD fetched once
 *     and a reused context;
 *   - Merkle root of 100,000 leaves of 250 bytes: hm_merkle_builder and
 *     hm_merkle_root vs a bare loop of the same SHA-256 calls;
 *   - BIP340 sign and verify: hm_sign/hm_verify vs secp256k1_schnorrsig_*;
 *   - the signature ceiling of one validator in a 4-node network sharing
 *     this machine: bare verify/s x cores / 4.
 * Never use a figure from here as a test threshold. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "hm.h"

#define RUNS 5
#define SHA_INPUTS 400000
#define MERKLE_LEAVES 100000
#define MERKLE_LEAF_LEN 250
#define SIG_OPS 1500

static volatile uint8_t sink; /* keeps results observable */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs fn RUNS times; returns the median of ops / seconds. */
static double median_rate(double (*fn)(void), double ops) {
    double rates[RUNS];
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_s();
        double done = fn();
        double dt = now_s() - t0;
        rates[i] = (done > 0 ? done : ops) / (dt > 0 ? dt : 1e-9);
    }
    qsort(rates, RUNS, sizeof rates[0], cmp_double);
    return rates[RUNS / 2];
}

static void die(const char *what) {
    fprintf(stderr, "bench_hm: %s\n", what);
    exit(1);
}

/* ---------------------------------------------------------------- SHA-256 */

static EVP_MD *sha256_md;
static EVP_MD_CTX *sha256_ctx;

static void bare_sha256(const uint8_t *data, size_t len, uint8_t out[32]) {
    unsigned int out_len = 0;
    if (EVP_DigestInit_ex(sha256_ctx, sha256_md, NULL) != 1 ||
        EVP_DigestUpdate(sha256_ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(sha256_ctx, out, &out_len) != 1)
        die("EVP digest failed");
}

/* Each input depends on the previous digest, so no call can be skipped. */
static double run_sha_hm(void) {
    uint8_t buf[64] = {1}, out[32];
    for (int i = 0; i < SHA_INPUTS; i++) {
        hm_sha256(buf, sizeof buf, out);
        memcpy(buf, out, sizeof out);
    }
    sink ^= out[0];
    return SHA_INPUTS;
}

static double run_sha_bare(void) {
    uint8_t buf[64] = {1}, out[32];
    for (int i = 0; i < SHA_INPUTS; i++) {
        bare_sha256(buf, sizeof buf, out);
        memcpy(buf, out, sizeof out);
    }
    sink ^= out[0];
    return SHA_INPUTS;
}

/* ----------------------------------------------------------------- Merkle */

static uint8_t *leaf_data; /* MERKLE_LEAVES x MERKLE_LEAF_LEN */
static uint8_t (*leaf_hashes)[HM_HASH_LEN];
static uint8_t root_builder[HM_HASH_LEN], root_oneshot[HM_HASH_LEN], root_bare[HM_HASH_LEN];

static double run_merkle_builder(void) {
    hm_merkle_builder b;
    hm_merkle_builder_init(&b);
    uint8_t h[HM_HASH_LEN];
    for (size_t i = 0; i < MERKLE_LEAVES; i++) {
        hm_merkle_leaf_hash(leaf_data + i * MERKLE_LEAF_LEN, MERKLE_LEAF_LEN, h);
        hm_merkle_builder_add(&b, h);
    }
    hm_merkle_builder_root(&b, root_builder);
    return MERKLE_LEAVES;
}

static double run_merkle_root(void) {
    for (size_t i = 0; i < MERKLE_LEAVES; i++)
        hm_merkle_leaf_hash(leaf_data + i * MERKLE_LEAF_LEN, MERKLE_LEAF_LEN, leaf_hashes[i]);
    hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])leaf_hashes, MERKLE_LEAVES, root_oneshot);
    return MERKLE_LEAVES;
}

/* The same hashing with nothing around it: leaf hashes, then levels of node
 * hashes, an odd last node carried up (which is RFC 9162's tree shape). */
static double run_merkle_bare(void) {
    static const uint8_t leaf_prefix = 0x00, node_prefix = 0x01;
    unsigned int out_len = 0;
    for (size_t i = 0; i < MERKLE_LEAVES; i++) {
        if (EVP_DigestInit_ex(sha256_ctx, sha256_md, NULL) != 1 ||
            EVP_DigestUpdate(sha256_ctx, &leaf_prefix, 1) != 1 ||
            EVP_DigestUpdate(sha256_ctx, leaf_data + i * MERKLE_LEAF_LEN, MERKLE_LEAF_LEN) != 1 ||
            EVP_DigestFinal_ex(sha256_ctx, leaf_hashes[i], &out_len) != 1)
            die("EVP digest failed");
    }
    size_t n = MERKLE_LEAVES;
    while (n > 1) {
        size_t out = 0;
        for (size_t i = 0; i + 1 < n; i += 2) {
            uint8_t buf[1 + 2 * HM_HASH_LEN];
            buf[0] = node_prefix;
            memcpy(buf + 1, leaf_hashes[i], HM_HASH_LEN);
            memcpy(buf + 1 + HM_HASH_LEN, leaf_hashes[i + 1], HM_HASH_LEN);
            bare_sha256(buf, sizeof buf, leaf_hashes[out++]);
        }
        if (n % 2)
            memcpy(leaf_hashes[out++], leaf_hashes[n - 1], HM_HASH_LEN);
        n = out;
    }
    memcpy(root_bare, leaf_hashes[0], HM_HASH_LEN);
    return MERKLE_LEAVES;
}

/* ---------------------------------------------------------------- BIP340 */

static hm_keypair kp;
static uint8_t msg[64];
static hm_sig sigs[SIG_OPS];
static uint8_t digests[SIG_OPS][32];
static uint8_t bare_sigs[SIG_OPS][64];
static secp256k1_context *secp;
static secp256k1_keypair secp_kp;
static secp256k1_xonly_pubkey secp_pub;
static const char chain_id[] = "bench-chain";

static double run_hm_sign(void) {
    for (int i = 0; i < SIG_OPS; i++) {
        msg[0] = (uint8_t)i;
        msg[1] = (uint8_t)(i >> 8);
        if (hm_sign(&kp, HM_PURPOSE_TX, chain_id, msg, sizeof msg, &sigs[i]) != HM_OK)
            die("hm_sign failed");
    }
    return SIG_OPS;
}

static double run_hm_verify(void) {
    for (int i = 0; i < SIG_OPS; i++) {
        msg[0] = (uint8_t)i;
        msg[1] = (uint8_t)(i >> 8);
        if (hm_verify(&kp.pub, HM_PURPOSE_TX, chain_id, msg, sizeof msg, &sigs[i]) != HM_OK)
            die("hm_verify refused a good signature");
    }
    return SIG_OPS;
}

static double run_bare_sign(void) {
    static const uint8_t aux[32] = {7};
    for (int i = 0; i < SIG_OPS; i++) {
        if (!secp256k1_schnorrsig_sign32(secp, bare_sigs[i], digests[i], &secp_kp, aux))
            die("secp256k1_schnorrsig_sign32 failed");
    }
    return SIG_OPS;
}

static double run_bare_verify(void) {
    for (int i = 0; i < SIG_OPS; i++) {
        if (!secp256k1_schnorrsig_verify(secp, bare_sigs[i], digests[i], 32, &secp_pub))
            die("secp256k1_schnorrsig_verify refused a good signature");
    }
    return SIG_OPS;
}

int main(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    sha256_ctx = EVP_MD_CTX_new();
    if (!sha256_md || !sha256_ctx)
        die("cannot set up OpenSSL SHA-256");
    printf("bench_hm: median of %d runs per figure; %ld cores online\n", RUNS, cores);

    double sha_hm = median_rate(run_sha_hm, SHA_INPUTS);
    double sha_bare = median_rate(run_sha_bare, SHA_INPUTS);
    printf("sha256_64B_per_s        hm_sha256=%.0f  bare_evp=%.0f  ratio=%.2f\n", sha_hm, sha_bare,
           sha_hm / sha_bare);

    leaf_data = malloc((size_t)MERKLE_LEAVES * MERKLE_LEAF_LEN);
    leaf_hashes = malloc((size_t)MERKLE_LEAVES * sizeof *leaf_hashes);
    if (!leaf_data || !leaf_hashes)
        die("out of memory");
    for (size_t i = 0; i < (size_t)MERKLE_LEAVES * MERKLE_LEAF_LEN; i++)
        leaf_data[i] = (uint8_t)(i * 2654435761u >> 13);
    double mk_builder = median_rate(run_merkle_builder, MERKLE_LEAVES);
    double mk_root = median_rate(run_merkle_root, MERKLE_LEAVES);
    double mk_bare = median_rate(run_merkle_bare, MERKLE_LEAVES);
    if (memcmp(root_builder, root_oneshot, HM_HASH_LEN) != 0 ||
        memcmp(root_builder, root_bare, HM_HASH_LEN) != 0)
        die("the three Merkle roots differ: the benchmark is not comparing like with like");
    printf("merkle_100k_x_250B_leaves_per_s  hm_merkle_builder=%.0f  hm_merkle_root=%.0f  "
           "bare_sha256_loop=%.0f  ratio_builder=%.2f  ratio_root=%.2f\n",
           mk_builder, mk_root, mk_bare, mk_builder / mk_bare, mk_root / mk_bare);
    free(leaf_data);
    free(leaf_hashes);

    uint8_t seckey[HM_SECKEY_LEN];
    for (int i = 0; i < HM_SECKEY_LEN; i++)
        seckey[i] = (uint8_t)(i + 1);
    if (hm_keypair_from_seckey(&kp, seckey) != HM_OK)
        die("hm_keypair_from_seckey failed");
    secp = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!secp || !secp256k1_keypair_create(secp, &secp_kp, seckey) ||
        !secp256k1_keypair_xonly_pub(secp, &secp_pub, NULL, &secp_kp))
        die("cannot set up libsecp256k1");
    for (int i = 0; i < SIG_OPS; i++) {
        msg[0] = (uint8_t)i;
        msg[1] = (uint8_t)(i >> 8);
        hm_sighash(HM_PURPOSE_TX, chain_id, msg, sizeof msg, digests[i]);
    }
    double sign_hm = median_rate(run_hm_sign, SIG_OPS);
    double sign_bare = median_rate(run_bare_sign, SIG_OPS);
    double verify_hm = median_rate(run_hm_verify, SIG_OPS);
    double verify_bare = median_rate(run_bare_verify, SIG_OPS);
    printf("bip340_sign_per_s       hm_sign=%.0f  bare_schnorrsig_sign32=%.0f  ratio=%.2f\n",
           sign_hm, sign_bare, sign_hm / sign_bare);
    printf("bip340_verify_per_s     hm_verify=%.0f  bare_schnorrsig_verify=%.0f  ratio=%.2f\n",
           verify_hm, verify_bare, verify_hm / verify_bare);
    printf("signature ceiling per validator of a 4-node network: %.0f verify/s "
           "(bare verify/s %.0f x %ld cores / 4)\n",
           verify_bare * (double)cores / 4.0, verify_bare, cores);
    printf("signature_ceiling_per_validator_4node_per_s=%.0f\n", verify_bare * (double)cores / 4.0);

    hm_keypair_wipe(&kp);
    secp256k1_context_destroy(secp);
    EVP_MD_CTX_free(sha256_ctx);
    EVP_MD_free(sha256_md);
    return 0;
}
