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
#include "fuzz_merkle_claim.h"
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
    claim c;
    memset(&c, 0, sizeof c);
    if (!fuzz_read_raw_claim(data, size, &c.size1, &c.size2, c.root1, c.root2, c.proof,
                             &c.proof_len))
        return;
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
        moved |= fuzz_mutate_claim(data[at], data[at + 1], data[at + 2], c.root1, c.root2, &c.size1,
                                   &c.size2, c.proof, &c.proof_len, cleaves, n);
        bool hm_ok = hm_accepts(&c);
        check(hm_ok == ref_accepts(&c));
        /* With size1 == size2 any equal pair of roots is a true claim, so
         * there only the agreement with the reference counts. */
        if (orig.size1 != orig.size2 &&
            (!moved || (c.size1 == orig.size1 && c.size2 == orig.size2))) {
            bool same = fuzz_claim_same_bytes(
                c.root1, c.root2, (const uint8_t(*)[HM_HASH_LEN])c.proof, c.proof_len, orig.root1,
                orig.root2, (const uint8_t(*)[HM_HASH_LEN])orig.proof, orig.proof_len);
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
