/* tests/fuzz/fuzz_merkle_consistency.c — libFuzzer target for RFC 9162
 * consistency proofs: generation (hm_merkle_consistency_proof) and
 * verification (hm_merkle_consistency_verify).
 *
 * Layer: tests only. The input is structured:
 *   byte 0, top bit clear ("tree mode"): a tree of size2 = 1 + (byte0 % 64)
 *     leaves from seed byte 2, size1 = 1 + byte1 % size2; then 3-byte
 *     mutations (kind, a, b) applied one after another to the (size1, size2,
 *     root1, root2, proof) claim.
 *   byte 0, top bit set ("raw mode"): size1 u64, size2 u64, root1, root2,
 *     then up to 64 proof hashes, as they are.
 * Generated proofs must equal merkle_ref.h's SUBPROOF and verify; every claim
 * must get the same verdict from lib/ as from the reference; a claim whose
 * roots or proof bytes differ from the original (sizes unchanged) must never
 * verify. The same input always runs the same way. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "hm.h"
#include "merkle_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TREE_MAX 64

typedef struct {
    uint64_t size1, size2;
    uint8_t root1[HM_HASH_LEN], root2[HM_HASH_LEN];
    uint8_t proof[HM_MERKLE_PROOF_MAX + 1][HM_HASH_LEN];
    size_t proof_len;
} claim;

static bool hm_accepts(const claim *c) {
    if (c->proof_len > HM_MERKLE_PROOF_MAX)
        return false;
    return hm_merkle_consistency_verify(c->size1, c->size2, c->root1, c->root2,
                                        (const uint8_t(*)[HM_HASH_LEN])c->proof,
                                        c->proof_len) == HM_OK;
}

static bool ref_accepts(const claim *c) {
    if (c->proof_len > HM_MERKLE_PROOF_MAX)
        return false;
    return ref_consistency_verify(c->size1, c->size2, c->root1, c->root2,
                                  (const uint8_t(*)[HM_HASH_LEN])c->proof, c->proof_len);
}

static void raw_mode(const uint8_t *data, size_t size) {
    if (size < 1 + 16 + 64)
        return;
    claim c;
    memset(&c, 0, sizeof c);
    const uint8_t *p = data + 1;
    c.size1 = fuzz_read_u64_be(p);
    c.size2 = fuzz_read_u64_be(p + 8);
    p += 16;
    memcpy(c.root1, p, HM_HASH_LEN);
    memcpy(c.root2, p + HM_HASH_LEN, HM_HASH_LEN);
    p += 2 * HM_HASH_LEN;
    c.proof_len = (size - (size_t)(p - data)) / HM_HASH_LEN;
    if (c.proof_len > HM_MERKLE_PROOF_MAX)
        c.proof_len = HM_MERKLE_PROOF_MAX;
    memcpy(c.proof, p, c.proof_len * HM_HASH_LEN);
    check(hm_accepts(&c) == ref_accepts(&c));
}

static void tree_mode(const uint8_t *data, size_t size) {
    if (size < 3)
        return;
    size_t n = 1 + data[0] % TREE_MAX;
    size_t m = 1 + data[1] % n;
    uint8_t seed = data[2];
    uint8_t leaves[TREE_MAX][HM_HASH_LEN];
    for (size_t i = 0; i < n; i++) {
        uint8_t leaf_data[2] = {seed, (uint8_t)i};
        hm_merkle_leaf_hash(leaf_data, sizeof leaf_data, leaves[i]);
    }
    const uint8_t(*cleaves)[HM_HASH_LEN] = (const uint8_t(*)[HM_HASH_LEN])leaves;

    claim orig;
    memset(&orig, 0, sizeof orig);
    orig.size1 = m;
    orig.size2 = n;
    hm_merkle_root(cleaves, m, orig.root1);
    hm_merkle_root(cleaves, n, orig.root2);
    uint8_t ref_r[HM_HASH_LEN];
    ref_root(cleaves, m, ref_r);
    check(memcmp(ref_r, orig.root1, HM_HASH_LEN) == 0);
    ref_root(cleaves, n, ref_r);
    check(memcmp(ref_r, orig.root2, HM_HASH_LEN) == 0);

    check(hm_merkle_consistency_proof(cleaves, n, m, orig.proof, &orig.proof_len) == HM_OK);
    uint8_t ref_proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t ref_len = 0;
    ref_subproof(m, cleaves, n, true, ref_proof, &ref_len);
    check(ref_len == orig.proof_len);
    check(memcmp(ref_proof, orig.proof, ref_len * HM_HASH_LEN) == 0);
    check(hm_accepts(&orig));
    check(ref_accepts(&orig));
    /* Proofs from size 0 and past the tree do not exist. */
    check(hm_merkle_consistency_proof(cleaves, n, 0, ref_proof, &ref_len) != HM_OK);
    check(hm_merkle_consistency_proof(cleaves, n, n + 1, ref_proof, &ref_len) != HM_OK);

    claim c = orig;
    bool moved = false;
    for (size_t at = 3; at + 3 <= size; at += 3) {
        uint8_t kind = data[at] % 8, a = data[at + 1], b = data[at + 2];
        switch (kind) {
        case 1:
            fuzz_flip_hash_bit(c.root1, a, b);
            break;
        case 2:
            fuzz_flip_hash_bit(c.root2, a, b);
            break;
        case 5:
            c.size1 = fuzz_move_u64(c.size1, a, b, n + 2);
            moved = true;
            break;
        case 6:
            c.size2 = fuzz_move_u64(c.size2, a, b, 2 * n + 2);
            moved = true;
            break;
        default:
            (void)fuzz_mutate_proof(kind, a, b, c.proof, &c.proof_len, cleaves, n);
            break;
        }
        bool hm_ok = hm_accepts(&c);
        check(hm_ok == ref_accepts(&c));
        /* With size1 == size2 any equal pair of roots is a true claim, so
         * there only the agreement with the reference counts. */
        if (orig.size1 != orig.size2 &&
            (!moved || (c.size1 == orig.size1 && c.size2 == orig.size2))) {
            bool same = memcmp(c.root1, orig.root1, HM_HASH_LEN) == 0 &&
                        memcmp(c.root2, orig.root2, HM_HASH_LEN) == 0 &&
                        c.proof_len == orig.proof_len &&
                        memcmp(c.proof, orig.proof, c.proof_len * HM_HASH_LEN) == 0;
            check(hm_ok == same);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    if (data[0] & 0x80)
        raw_mode(data, size);
    else
        tree_mode(data, size);
    return 0;
}
