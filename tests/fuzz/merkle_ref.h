/* tests/fuzz/merkle_ref.h — a second, deliberately naive implementation of
 * RFC 9162 section 2.1 (tree head, PATH, SUBPROOF, and both verification
 * algorithms), written straight from the RFC's text, for the Merkle fuzz
 * targets to cross-check lib/'s implementation against.
 *
 * Layer: tests only. It hashes with OpenSSL's SHA256() directly so that it
 * shares no code with lib/merkle.c; it recurses and is slow on purpose. Never
 * use it outside tests. The verification rules of shared/testdata/merkle are
 * followed: size1 == 0 is an error, size1 == size2 needs an empty proof and
 * equal roots. */
#ifndef HALLMARK_FUZZ_MERKLE_REF_H
#define HALLMARK_FUZZ_MERKLE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/sha.h>

#define REF_HASH_LEN 32
#define REF_PROOF_MAX 64

static void ref_leaf_hash(const uint8_t *data, size_t data_len, uint8_t out[REF_HASH_LEN]) {
    uint8_t buf[1 + 256];
    /* Leaves in the fuzz targets are short; the bound is the caller's. */
    buf[0] = 0x00;
    memcpy(buf + 1, data, data_len);
    SHA256(buf, 1 + data_len, out);
}

static void ref_node_hash(const uint8_t left[REF_HASH_LEN], const uint8_t right[REF_HASH_LEN],
                          uint8_t out[REF_HASH_LEN]) {
    uint8_t buf[1 + 2 * REF_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, left, REF_HASH_LEN);
    memcpy(buf + 1 + REF_HASH_LEN, right, REF_HASH_LEN);
    SHA256(buf, sizeof buf, out);
}

/* The largest power of two smaller than n (n >= 2). */
static size_t ref_split(size_t n) {
    size_t k = 1;
    while ((k << 1) < n)
        k <<= 1;
    return k;
}

/* MTH(D[n]) */
static void ref_root(const uint8_t (*leaves)[REF_HASH_LEN], size_t n, uint8_t out[REF_HASH_LEN]) {
    if (n == 0) {
        SHA256((const uint8_t *)"", 0, out);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], REF_HASH_LEN);
        return;
    }
    size_t k = ref_split(n);
    uint8_t left[REF_HASH_LEN], right[REF_HASH_LEN];
    ref_root(leaves, k, left);
    ref_root(leaves + k, n - k, right);
    ref_node_hash(left, right, out);
}

/* PATH(m, D[n]), appended to proof. */
static void ref_path(size_t m, const uint8_t (*leaves)[REF_HASH_LEN], size_t n,
                     uint8_t (*proof)[REF_HASH_LEN], size_t *proof_len) {
    if (n <= 1)
        return;
    size_t k = ref_split(n);
    if (m < k) {
        ref_path(m, leaves, k, proof, proof_len);
        ref_root(leaves + k, n - k, proof[(*proof_len)++]);
    } else {
        ref_path(m - k, leaves + k, n - k, proof, proof_len);
        ref_root(leaves, k, proof[(*proof_len)++]);
    }
}

/* SUBPROOF(m, D[n], b), appended to proof. */
static void ref_subproof(size_t m, const uint8_t (*leaves)[REF_HASH_LEN], size_t n, bool b,
                         uint8_t (*proof)[REF_HASH_LEN], size_t *proof_len) {
    if (m == n) {
        if (!b)
            ref_root(leaves, n, proof[(*proof_len)++]);
        return;
    }
    size_t k = ref_split(n);
    if (m <= k) {
        ref_subproof(m, leaves, k, b, proof, proof_len);
        ref_root(leaves + k, n - k, proof[(*proof_len)++]);
    } else {
        ref_subproof(m - k, leaves + k, n - k, false, proof, proof_len);
        ref_root(leaves, k, proof[(*proof_len)++]);
    }
}

/* RFC 9162 2.1.3.2 */
static bool ref_inclusion_verify(const uint8_t leaf_hash[REF_HASH_LEN], uint64_t index,
                                 uint64_t size, const uint8_t (*proof)[REF_HASH_LEN],
                                 size_t proof_len, const uint8_t root[REF_HASH_LEN]) {
    if (index >= size)
        return false;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[REF_HASH_LEN];
    memcpy(r, leaf_hash, REF_HASH_LEN);
    for (size_t i = 0; i < proof_len; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            ref_node_hash(proof[i], r, r);
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            ref_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, REF_HASH_LEN) == 0;
}

/* RFC 9162 2.1.4.2 with the testdata rules. */
static bool ref_consistency_verify(uint64_t size1, uint64_t size2,
                                   const uint8_t root1[REF_HASH_LEN],
                                   const uint8_t root2[REF_HASH_LEN],
                                   const uint8_t (*proof)[REF_HASH_LEN], size_t proof_len) {
    if (size1 == 0 || size1 > size2)
        return false;
    if (size1 == size2)
        return proof_len == 0 && memcmp(root1, root2, REF_HASH_LEN) == 0;
    if (proof_len == 0 || proof_len > REF_PROOF_MAX)
        return false;
    uint8_t path[REF_PROOF_MAX + 1][REF_HASH_LEN];
    size_t path_len = 0;
    if ((size1 & (size1 - 1)) == 0)
        memcpy(path[path_len++], root1, REF_HASH_LEN);
    for (size_t i = 0; i < proof_len; i++)
        memcpy(path[path_len++], proof[i], REF_HASH_LEN);
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[REF_HASH_LEN], sr[REF_HASH_LEN];
    memcpy(fr, path[0], REF_HASH_LEN);
    memcpy(sr, path[0], REF_HASH_LEN);
    for (size_t i = 1; i < path_len; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            ref_node_hash(path[i], fr, fr);
            ref_node_hash(path[i], sr, sr);
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            ref_node_hash(sr, path[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return memcmp(fr, root1, REF_HASH_LEN) == 0 && memcmp(sr, root2, REF_HASH_LEN) == 0 && sn == 0;
}

#endif
