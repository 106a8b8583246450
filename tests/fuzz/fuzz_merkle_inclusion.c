/* tests/fuzz/fuzz_merkle_inclusion.c — libFuzzer target for RFC 9162
 * inclusion proofs: generation (hm_merkle_inclusion_proof, hm_merkle_tree)
 * and verification (hm_merkle_inclusion_verify).
 *
 * Layer: tests only. The input is structured, not parsed blindly:
 *   byte 0, top bit clear ("tree mode"): a tree of 1 + (byte0 % 64) leaves
 *     built from seed byte 2, leaf index byte 1 % size; then 3-byte mutations
 *     (kind, a, b) applied one after another to the (leaf hash, index, size,
 *     proof, root) claim.
 *   byte 0, top bit set ("raw mode"): index u64, size u64, leaf hash, root,
 *     then up to 64 proof hashes, all taken from the input as they are.
 * Every generated proof and root is checked against merkle_ref.h (a naive RFC
 * implementation), generated proofs must verify, and every claim - mutated or
 * raw - must get the same verdict from lib/ as from the reference; a claim
 * whose leaf, proof or root bytes differ from the original must never verify.
 * Never depends on anything but the input: the same input, the same run. */
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
    uint8_t leaf[HM_HASH_LEN];
    uint64_t index;
    uint64_t size;
    uint8_t proof[HM_MERKLE_PROOF_MAX + 1][HM_HASH_LEN];
    size_t proof_len;
    uint8_t root[HM_HASH_LEN];
} claim;

static bool hm_accepts(const claim *c) {
    if (c->proof_len > HM_MERKLE_PROOF_MAX)
        return false;
    return hm_merkle_inclusion_verify(c->leaf, c->index, c->size,
                                      (const uint8_t(*)[HM_HASH_LEN])c->proof, c->proof_len,
                                      c->root) == HM_OK;
}

static bool ref_accepts(const claim *c) {
    if (c->proof_len > HM_MERKLE_PROOF_MAX)
        return false;
    return ref_inclusion_verify(c->leaf, c->index, c->size, (const uint8_t(*)[HM_HASH_LEN])c->proof,
                                c->proof_len, c->root);
}

static void raw_mode(const uint8_t *data, size_t size) {
    claim c;
    memset(&c, 0, sizeof c);
    if (!fuzz_read_raw_claim(data, size, &c.index, &c.size, c.leaf, c.root, c.proof, &c.proof_len))
        return;
    check(hm_accepts(&c) == ref_accepts(&c));
}

static void tree_mode(const uint8_t *data, size_t size) {
    if (size < 3)
        return;
    size_t n = 1 + data[0] % TREE_MAX;
    size_t index = data[1] % n;
    uint8_t seed = data[2];

    /* Distinct leaves: (seed, i) with a length that varies with i. */
    uint8_t leaves[TREE_MAX][HM_HASH_LEN];
    for (size_t i = 0; i < n; i++) {
        uint8_t leaf_data[3] = {seed, (uint8_t)i, (uint8_t)(i * 7)};
        size_t leaf_len = 1 + i % 3;
        uint8_t ref_hash[HM_HASH_LEN];
        hm_merkle_leaf_hash(leaf_data, leaf_len, leaves[i]);
        ref_leaf_hash(leaf_data, leaf_len, ref_hash);
        check(memcmp(leaves[i], ref_hash, HM_HASH_LEN) == 0);
    }
    const uint8_t(*cleaves)[HM_HASH_LEN] = (const uint8_t(*)[HM_HASH_LEN])leaves;

    /* Roots: the one-shot, the streaming builder, the kept tree, the RFC. */
    claim orig;
    memset(&orig, 0, sizeof orig);
    uint8_t ref_r[HM_HASH_LEN], other[HM_HASH_LEN];
    hm_merkle_root(cleaves, n, orig.root);
    ref_root(cleaves, n, ref_r);
    check(memcmp(orig.root, ref_r, HM_HASH_LEN) == 0);
    hm_merkle_builder builder;
    hm_merkle_builder_init(&builder);
    for (size_t i = 0; i < n; i++)
        hm_merkle_builder_add(&builder, leaves[i]);
    hm_merkle_builder_root(&builder, other);
    check(memcmp(orig.root, other, HM_HASH_LEN) == 0);
    hm_merkle_tree *tree = NULL;
    check(hm_merkle_tree_new(cleaves, n, &tree) == HM_OK);
    check(hm_merkle_tree_size(tree) == n);
    hm_merkle_tree_root(tree, other);
    check(memcmp(orig.root, other, HM_HASH_LEN) == 0);

    /* The proof: lib's two ways and the RFC's must agree, and verify. */
    memcpy(orig.leaf, leaves[index], HM_HASH_LEN);
    orig.index = index;
    orig.size = n;
    check(hm_merkle_inclusion_proof(cleaves, n, index, orig.proof, &orig.proof_len) == HM_OK);
    uint8_t ref_proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t ref_len = 0;
    ref_path(index, cleaves, n, ref_proof, &ref_len);
    check(ref_len == orig.proof_len);
    check(memcmp(ref_proof, orig.proof, ref_len * HM_HASH_LEN) == 0);
    uint8_t tree_proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t tree_len = 0;
    check(hm_merkle_tree_proof(tree, index, tree_proof, &tree_len) == HM_OK);
    check(tree_len == orig.proof_len);
    check(memcmp(tree_proof, orig.proof, tree_len * HM_HASH_LEN) == 0);
    check(hm_merkle_tree_proof(tree, n, tree_proof, &tree_len) != HM_OK);
    hm_merkle_tree_free(tree);
    check(hm_merkle_inclusion_proof(cleaves, n, n, ref_proof, &ref_len) != HM_OK);
    check(hm_accepts(&orig));
    check(ref_accepts(&orig));

    /* Mutations, cumulative. A change to the bytes (leaf, proof, root)
     * that does not restore the original must be refused; a change of
     * index or size may yield another true claim, so there lib and the
     * RFC must simply agree. */
    claim c = orig;
    bool moved = false; /* index or size changed at some point */
    for (size_t at = 3; at + 3 <= size; at += 3) {
        moved |= fuzz_mutate_claim(data[at], data[at + 1], data[at + 2], c.leaf, c.root, &c.index,
                                   &c.size, c.proof, &c.proof_len, cleaves, n);
        bool hm_ok = hm_accepts(&c);
        check(hm_ok == ref_accepts(&c));
        bool same_bytes = fuzz_claim_same_bytes(
            c.leaf, c.root, (const uint8_t(*)[HM_HASH_LEN])c.proof, c.proof_len, orig.leaf,
            orig.root, (const uint8_t(*)[HM_HASH_LEN])orig.proof, orig.proof_len);
        /* In a one-leaf tree the root is the leaf hash, so changing both
         * alike is another true claim; there only agreement counts. */
        if (n > 1 && (!moved || (c.index == orig.index && c.size == orig.size))) {
            bool same = same_bytes && c.index == orig.index && c.size == orig.size;
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
