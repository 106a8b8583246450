/* tests/bench/bench_hm.c — what lib/'s hot paths cost, each set against the
 * bare library call it wraps, measured in the same run on the same machine.
 *
 * Layer: benchmarks (not a pure layer: it reads the monotonic clock). Prints
 * figures, asserts nothing about speed: a slow machine is not a failure.
 * These machines are shared and noisy, and the load changes from one second
 * to the next, so a wrapper and the bare call it is set against are timed in
 * alternation, round by round (which goes first rotates), never in separate
 * blocks of runs: a ratio is the median of the per-round ratios, so a burst
 * of load from a neighbour falls on both sides. Each rate is the median of its
 * ROUNDS rounds. Figures:
 *   - SHA-256 of 64-byte inputs: hm_sha256 vs EVP with an EVP_MD fetched once
 *     and a reused context;
 *   - Merkle root of 100,000 leaves of 250 bytes: hm_merkle_builder and
 *     hm_merkle_root vs a bare loop of the same SHA-256 calls;
 *   - BIP340 sign and verify: hm_sign/hm_verify vs secp256k1_schnorrsig_*;
 *     hm_verify twice: with one signer (its parsed key is cached, as for
 *     validators and busy members) and with a new signer each time (the key
 *     is parsed, a square root, as for a first-time signer);
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

#define ROUNDS 11
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

static void die(const char *what) {
    fprintf(stderr, "bench_hm: %s\n", what);
    exit(1);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, size_t n) {
    qsort(values, n, sizeof values[0], cmp_double);
    return values[n / 2];
}

#define VARIANTS_MAX 3

/* Times the n variants (each returns the operations it did) in alternation
 * for ROUNDS rounds, the first variant of a round rotating. rate[i] is the
 * median ops/s of variant i; ratio[i] the median over rounds of variant i's
 * rate divided by the last variant's (the bare baseline) in the same round. */
static void compare(double (*const *fns)(void), size_t n, double *rate, double *ratio) {
    double rates[VARIANTS_MAX][ROUNDS], ratios[VARIANTS_MAX][ROUNDS];
    if (n == 0 || n > VARIANTS_MAX)
        die("compare: bad variant count");
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t k = 0; k < n; k++) {
            size_t i = (k + (size_t)round) % n;
            double t0 = now_s();
            double done = fns[i]();
            double dt = now_s() - t0;
            rates[i][round] = done / (dt > 0 ? dt : 1e-9);
        }
        for (size_t i = 0; i < n; i++)
            ratios[i][round] = rates[i][round] / rates[n - 1][round];
    }
    for (size_t i = 0; i < n; i++) {
        rate[i] = median(rates[i], ROUNDS);
        ratio[i] = median(ratios[i], ROUNDS);
    }
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

#define DISTINCT_SIGNERS 256
static hm_keypair many_kps[DISTINCT_SIGNERS];
static hm_sig many_sigs[SIG_OPS];

/* Signer i % DISTINCT_SIGNERS: four times the key cache's slots, so nearly
 * every verification parses its key. */
static double run_hm_verify_distinct(void) {
    for (int i = 0; i < SIG_OPS; i++) {
        msg[0] = (uint8_t)i;
        msg[1] = (uint8_t)(i >> 8);
        if (hm_verify(&many_kps[i % DISTINCT_SIGNERS].pub, HM_PURPOSE_TX, chain_id, msg, sizeof msg,
                      &many_sigs[i]) != HM_OK)
            die("hm_verify refused a good signature");
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
    printf("bench_hm: median of %d alternating rounds per figure; %ld cores online\n", ROUNDS,
           cores);

    double rate[VARIANTS_MAX], ratio[VARIANTS_MAX];
    double (*const sha_fns[])(void) = {run_sha_hm, run_sha_bare};
    compare(sha_fns, 2, rate, ratio);
    printf("sha256_64B_per_s        hm_sha256=%.0f  bare_evp=%.0f  ratio=%.2f\n", rate[0], rate[1],
           ratio[0]);

    leaf_data = malloc((size_t)MERKLE_LEAVES * MERKLE_LEAF_LEN);
    leaf_hashes = malloc((size_t)MERKLE_LEAVES * sizeof *leaf_hashes);
    if (!leaf_data || !leaf_hashes)
        die("out of memory");
    for (size_t i = 0; i < (size_t)MERKLE_LEAVES * MERKLE_LEAF_LEN; i++)
        leaf_data[i] = (uint8_t)(i * 2654435761u >> 13);
    double (*const merkle_fns[])(void) = {run_merkle_builder, run_merkle_root, run_merkle_bare};
    compare(merkle_fns, 3, rate, ratio);
    if (memcmp(root_builder, root_oneshot, HM_HASH_LEN) != 0 ||
        memcmp(root_builder, root_bare, HM_HASH_LEN) != 0)
        die("the three Merkle roots differ: the benchmark is not comparing like with like");
    printf("merkle_100k_x_250B_leaves_per_s  hm_merkle_builder=%.0f  hm_merkle_root=%.0f  "
           "bare_sha256_loop=%.0f  ratio_builder=%.2f  ratio_root=%.2f\n",
           rate[0], rate[1], rate[2], ratio[0], ratio[1]);
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
    double (*const sign_fns[])(void) = {run_hm_sign, run_bare_sign};
    compare(sign_fns, 2, rate, ratio);
    printf("bip340_sign_per_s       hm_sign=%.0f  bare_schnorrsig_sign32=%.0f  ratio=%.2f\n",
           rate[0], rate[1], ratio[0]);
    for (int i = 0; i < DISTINCT_SIGNERS; i++) {
        seckey[0] = (uint8_t)(i + 2);
        if (hm_keypair_from_seckey(&many_kps[i], seckey) != HM_OK)
            die("hm_keypair_from_seckey failed");
    }
    for (int i = 0; i < SIG_OPS; i++) {
        msg[0] = (uint8_t)i;
        msg[1] = (uint8_t)(i >> 8);
        if (hm_sign(&many_kps[i % DISTINCT_SIGNERS], HM_PURPOSE_TX, chain_id, msg, sizeof msg,
                    &many_sigs[i]) != HM_OK)
            die("hm_sign failed");
    }
    double (*const verify_fns[])(void) = {run_hm_verify, run_hm_verify_distinct, run_bare_verify};
    compare(verify_fns, 3, rate, ratio);
    double verify_bare = rate[2];
    printf("bip340_verify_per_s     hm_verify_one_signer=%.0f  hm_verify_new_signers=%.0f  "
           "bare_schnorrsig_verify=%.0f  ratio_one=%.2f  ratio_new=%.2f\n",
           rate[0], rate[1], rate[2], ratio[0], ratio[1]);
    printf("signature ceiling per validator of a 4-node network: %.0f verify/s "
           "(bare verify/s %.0f x %ld cores / 4)\n",
           verify_bare * (double)cores / 4.0, verify_bare, cores);
    printf("signature_ceiling_per_validator_4node_per_s=%.0f\n", verify_bare * (double)cores / 4.0);

    hm_keypair_wipe(&kp);
    for (int i = 0; i < DISTINCT_SIGNERS; i++)
        hm_keypair_wipe(&many_kps[i]);
    secp256k1_context_destroy(secp);
    EVP_MD_CTX_free(sha256_ctx);
    EVP_MD_free(sha256_md);
    return 0;
}
