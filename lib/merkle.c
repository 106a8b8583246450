/* lib/merkle.c — RFC 9162 section 2.1 Merkle trees: hashes, roots, inclusion
 * and consistency proofs, a streaming builder and a level-by-level tree.
 *
 * Layer: lib/, the bottom. Leaf hash SHA-256(0x00 || data), node hash
 * SHA-256(0x01 || left || right); the left subtree of n leaves always holds
 * the largest power of two below n (RFC 6962/9162). Verifiers take proofs
 * from outside: they follow RFC 9162 2.1.3.2 and 2.1.4.2 exactly, with the
 * upstream rules of the test corpus (exact proof lengths, size1 == 0 refused),
 * and never assert on proof contents. Only hm_merkle_tree_new allocates. */
#include "hm.h"
#include "hm_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void hm_merkle_leaf_hash(const uint8_t *data, size_t data_len, uint8_t out[HM_HASH_LEN]) {
    static const uint8_t leaf_prefix = 0x00;
    assert(data != NULL || data_len == 0);
    hm_sha256_3(&leaf_prefix, 1, data, data_len, NULL, 0, out);
}

void hm_merkle_node_hash(const uint8_t left[HM_HASH_LEN], const uint8_t right[HM_HASH_LEN],
                         uint8_t out[HM_HASH_LEN]) {
    /* One contiguous 65-byte update is measurably faster than three small
     * ones; out may alias left or right, so hash from the copy. */
    uint8_t buf[1 + 2 * HM_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, left, HM_HASH_LEN);
    memcpy(buf + 1 + HM_HASH_LEN, right, HM_HASH_LEN);
    hm_sha256(buf, sizeof buf, out);
}

/* ---------------------------------------------------------------- builder */

void hm_merkle_builder_init(hm_merkle_builder *b) {
    assert(b != NULL);
    b->count = 0;
}

void hm_merkle_builder_add(hm_merkle_builder *b, const uint8_t leaf_hash[HM_HASH_LEN]) {
    assert(b != NULL && leaf_hash != NULL);
    assert(b->count < UINT64_MAX);
    /* Like a binary increment: stack[h] holds the root of a perfect subtree
     * of 2^h leaves exactly when bit h of count is set; each carry merges
     * two equal subtrees. */
    uint8_t carry[HM_HASH_LEN];
    memcpy(carry, leaf_hash, HM_HASH_LEN);
    unsigned height = 0;
    while ((b->count >> height) & 1u) {
        hm_merkle_node_hash(b->stack[height], carry, carry);
        height++;
    }
    assert(height < 64);
    memcpy(b->stack[height], carry, HM_HASH_LEN);
    b->count++;
}

void hm_merkle_builder_root(const hm_merkle_builder *b, uint8_t root[HM_HASH_LEN]) {
    assert(b != NULL && root != NULL);
    if (b->count == 0) {
        hm_sha256(NULL, 0, root);
        return;
    }
    /* The smallest perfect subtree is the rightmost; fold leftwards, each
     * larger subtree being the left child (the largest-power-of-two split). */
    unsigned height = 0;
    while (((b->count >> height) & 1u) == 0) {
        height++;
    }
    uint8_t acc[HM_HASH_LEN];
    memcpy(acc, b->stack[height], HM_HASH_LEN);
    for (height++; height < 64; height++) {
        if ((b->count >> height) & 1u) {
            hm_merkle_node_hash(b->stack[height], acc, acc);
        }
    }
    memcpy(root, acc, HM_HASH_LEN);
}

void hm_merkle_root(const uint8_t (*leaf_hashes)[HM_HASH_LEN], size_t n,
                    uint8_t root[HM_HASH_LEN]) {
    assert(leaf_hashes != NULL || n == 0);
    hm_merkle_builder b;
    hm_merkle_builder_init(&b);
    for (size_t i = 0; i < n; i++) {
        hm_merkle_builder_add(&b, leaf_hashes[i]);
    }
    hm_merkle_builder_root(&b, root);
}

/* ------------------------------------------------------- proofs from leaves */

/* The largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n) {
    assert(n >= 2);
    uint64_t k = 1;
    while (k < n - k) {
        k <<= 1;
    }
    assert(k < n && 2 * k >= n);
    return k;
}

static void reverse_hashes(uint8_t (*hashes)[HM_HASH_LEN], size_t count) {
    for (size_t i = 0; i < count / 2; i++) {
        uint8_t tmp[HM_HASH_LEN];
        memcpy(tmp, hashes[i], HM_HASH_LEN);
        memcpy(hashes[i], hashes[count - 1 - i], HM_HASH_LEN);
        memcpy(hashes[count - 1 - i], tmp, HM_HASH_LEN);
    }
}

hm_err hm_merkle_inclusion_proof(const uint8_t (*leaf_hashes)[HM_HASH_LEN], size_t n, size_t index,
                                 uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len) {
    if (leaf_hashes == NULL || proof == NULL || proof_len == NULL || index >= n) {
        return HM_ERR_ARG;
    }
    /* RFC 6962 PATH(m, D[lo:hi]) unrolled: walk down from the root, taking
     * the sibling subtree's root at each split; the proof lists them from
     * the leaf up, hence the reversal. */
    size_t lo = 0, hi = n, count = 0;
    while (hi - lo > 1) {
        size_t k = (size_t)split_point(hi - lo);
        assert(count < HM_MERKLE_PROOF_MAX);
        if (index - lo < k) {
            hm_merkle_root(leaf_hashes + lo + k, hi - lo - k, proof[count++]);
            hi = lo + k;
        } else {
            hm_merkle_root(leaf_hashes + lo, k, proof[count++]);
            lo += k;
        }
    }
    reverse_hashes(proof, count);
    *proof_len = count;
    return HM_OK;
}

hm_err hm_merkle_consistency_proof(const uint8_t (*leaf_hashes)[HM_HASH_LEN], size_t n,
                                   size_t size1, uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len) {
    if (leaf_hashes == NULL || proof == NULL || proof_len == NULL || size1 == 0 || size1 > n) {
        return HM_ERR_ARG;
    }
    /* RFC 6962 SUBPROOF(m, D[lo:hi], b) unrolled, collected top-down. */
    size_t lo = 0, hi = n, m = size1, count = 0;
    bool whole_old_tree = true;
    while (m != hi - lo) {
        size_t k = (size_t)split_point(hi - lo);
        assert(count < HM_MERKLE_PROOF_MAX);
        if (m <= k) {
            hm_merkle_root(leaf_hashes + lo + k, hi - lo - k, proof[count++]);
            hi = lo + k;
        } else {
            hm_merkle_root(leaf_hashes + lo, k, proof[count++]);
            lo += k;
            m -= k;
            whole_old_tree = false;
        }
    }
    /* The old tree's subtree root is needed unless it is the old root
     * itself, which the verifier already has. */
    if (!whole_old_tree) {
        assert(count < HM_MERKLE_PROOF_MAX);
        hm_merkle_root(leaf_hashes + lo, hi - lo, proof[count++]);
    }
    reverse_hashes(proof, count);
    *proof_len = count;
    return HM_OK;
}

/* --------------------------------------------------------------- verifiers */

static unsigned bit_length(uint64_t x) {
    return x == 0 ? 0 : 64u - (unsigned)__builtin_clzll(x);
}

static unsigned ones_count(uint64_t x) {
    return (unsigned)__builtin_popcountll(x);
}

static bool hash_equal(const uint8_t a[HM_HASH_LEN], const uint8_t b[HM_HASH_LEN]) {
    return memcmp(a, b, HM_HASH_LEN) == 0;
}

hm_err hm_merkle_inclusion_verify(const uint8_t leaf_hash[HM_HASH_LEN], uint64_t index,
                                  uint64_t tree_size, const uint8_t (*proof)[HM_HASH_LEN],
                                  size_t proof_len, const uint8_t root[HM_HASH_LEN]) {
    if (leaf_hash == NULL || root == NULL || (proof == NULL && proof_len > 0)) {
        return HM_ERR_ARG;
    }
    if (index >= tree_size) {
        return HM_ERR_PROOF;
    }
    /* The exact length: the levels where index and the last leaf diverge,
     * plus the left siblings above them. */
    unsigned inner = bit_length(index ^ (tree_size - 1));
    size_t expected_len = inner + (inner < 64 ? ones_count(index >> inner) : 0); /* no >> 64 */
    if (proof_len != expected_len) {
        return HM_ERR_PROOF;
    }
    /* RFC 9162 2.1.3.2. */
    uint64_t fn = index, sn = tree_size - 1;
    uint8_t r[HM_HASH_LEN];
    memcpy(r, leaf_hash, HM_HASH_LEN);
    for (size_t i = 0; i < proof_len; i++) {
        if (sn == 0) {
            return HM_ERR_PROOF;
        }
        if ((fn & 1u) || fn == sn) {
            hm_merkle_node_hash(proof[i], r, r);
            if ((fn & 1u) == 0) {
                while ((fn & 1u) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            hm_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !hash_equal(r, root)) {
        return HM_ERR_PROOF;
    }
    return HM_OK;
}

hm_err hm_merkle_consistency_verify(uint64_t size1, uint64_t size2,
                                    const uint8_t root1[HM_HASH_LEN],
                                    const uint8_t root2[HM_HASH_LEN],
                                    const uint8_t (*proof)[HM_HASH_LEN], size_t proof_len) {
    if (root1 == NULL || root2 == NULL || (proof == NULL && proof_len > 0)) {
        return HM_ERR_ARG;
    }
    /* A consistency proof from the empty tree is meaningless (upstream rule,
     * even for size2 == 0). */
    if (size1 == 0 || size1 > size2) {
        return HM_ERR_PROOF;
    }
    if (size1 == size2) {
        return proof_len == 0 && hash_equal(root1, root2) ? HM_OK : HM_ERR_PROOF;
    }
    if (proof_len == 0) {
        return HM_ERR_PROOF;
    }
    /* The exact length, as upstream computes it: levels below the old
     * tree's lowest perfect subtree are shared and need no hashes. */
    unsigned shift = (unsigned)__builtin_ctzll(size1);
    unsigned inner = bit_length(((size1 - 1) >> shift) ^ ((size2 - 1) >> shift));
    unsigned border = inner < 64 ? ones_count(((size1 - 1) >> shift) >> inner) : 0; /* no >> 64 */
    bool size1_is_power_of_two = (size1 & (size1 - 1)) == 0;
    size_t expected_len = (size1_is_power_of_two ? 0 : 1) + inner + border;
    if (proof_len != expected_len) {
        return HM_ERR_PROOF;
    }
    /* RFC 9162 2.1.4.2. When size1 is a power of two, the old root is the
     * (implicit) first element of the path. */
    const uint8_t *first = size1_is_power_of_two ? root1 : proof[0];
    size_t next = size1_is_power_of_two ? 0 : 1;
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1u) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[HM_HASH_LEN], sr[HM_HASH_LEN];
    memcpy(fr, first, HM_HASH_LEN);
    memcpy(sr, first, HM_HASH_LEN);
    for (size_t i = next; i < proof_len; i++) {
        if (sn == 0) {
            return HM_ERR_PROOF;
        }
        if ((fn & 1u) || fn == sn) {
            hm_merkle_node_hash(proof[i], fr, fr);
            hm_merkle_node_hash(proof[i], sr, sr);
            if ((fn & 1u) == 0) {
                while ((fn & 1u) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            hm_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !hash_equal(fr, root1) || !hash_equal(sr, root2)) {
        return HM_ERR_PROOF;
    }
    return HM_OK;
}

/* -------------------------------------------------------------- whole tree */

#define TREE_LEVELS_MAX 65

struct hm_merkle_tree {
    size_t leaf_count;
    size_t level_count;                   /* levels stored, leaves first */
    size_t level_offset[TREE_LEVELS_MAX]; /* index of each level's first node */
    size_t level_size[TREE_LEVELS_MAX];   /* nodes on each level */
    uint8_t root[HM_HASH_LEN];
    uint8_t (*nodes)[HM_HASH_LEN]; /* every level, one after another */
};

hm_err hm_merkle_tree_new(const uint8_t (*leaf_hashes)[HM_HASH_LEN], size_t n,
                          hm_merkle_tree **out) {
    if (out == NULL || (leaf_hashes == NULL && n > 0)) {
        return HM_ERR_ARG;
    }
    *out = NULL;
    /* Levels halve (rounding up), so all of them hold fewer than 2n + 64
     * nodes. */
    if (n > (SIZE_MAX / HM_HASH_LEN - 64) / 2) {
        return HM_ERR_NOMEM;
    }
    hm_merkle_tree *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return HM_ERR_NOMEM;
    }
    t->leaf_count = n;
    if (n == 0) {
        hm_sha256(NULL, 0, t->root);
        *out = t;
        return HM_OK;
    }
    size_t total = 0;
    for (size_t size = n;; size = (size + 1) / 2) {
        total += size;
        if (size == 1) {
            break;
        }
    }
    t->nodes = malloc(total * HM_HASH_LEN);
    if (t->nodes == NULL) {
        free(t);
        return HM_ERR_NOMEM;
    }
    memcpy(t->nodes, leaf_hashes, n * HM_HASH_LEN);
    t->level_offset[0] = 0;
    t->level_size[0] = n;
    t->level_count = 1;
    size_t used = n;
    /* Pairing nodes left to right and promoting an odd last node unchanged
     * builds exactly RFC 6962's tree (largest power of two on the left). */
    while (t->level_size[t->level_count - 1] > 1) {
        size_t below = t->level_count - 1;
        size_t below_size = t->level_size[below];
        const uint8_t(*src)[HM_HASH_LEN] = t->nodes + t->level_offset[below];
        uint8_t(*dst)[HM_HASH_LEN] = t->nodes + used;
        size_t size = (below_size + 1) / 2;
        for (size_t i = 0; i < below_size / 2; i++) {
            hm_merkle_node_hash(src[2 * i], src[2 * i + 1], dst[i]);
        }
        if (below_size % 2 == 1) {
            memcpy(dst[size - 1], src[below_size - 1], HM_HASH_LEN);
        }
        assert(t->level_count < TREE_LEVELS_MAX);
        t->level_offset[t->level_count] = used;
        t->level_size[t->level_count] = size;
        t->level_count++;
        used += size;
    }
    assert(used == total);
    memcpy(t->root, t->nodes[used - 1], HM_HASH_LEN);
    *out = t;
    return HM_OK;
}

void hm_merkle_tree_root(const hm_merkle_tree *t, uint8_t root[HM_HASH_LEN]) {
    assert(t != NULL && root != NULL);
    memcpy(root, t->root, HM_HASH_LEN);
}

size_t hm_merkle_tree_size(const hm_merkle_tree *t) {
    assert(t != NULL);
    return t->leaf_count;
}

hm_err hm_merkle_tree_proof(const hm_merkle_tree *t, size_t index, uint8_t (*proof)[HM_HASH_LEN],
                            size_t *proof_len) {
    if (t == NULL || proof == NULL || proof_len == NULL || index >= t->leaf_count) {
        return HM_ERR_ARG;
    }
    size_t count = 0;
    size_t pos = index;
    for (size_t level = 0; level + 1 < t->level_count; level++) {
        size_t sibling = pos ^ 1u;
        /* A promoted last node has no sibling on this level. */
        if (sibling < t->level_size[level]) {
            assert(count < HM_MERKLE_PROOF_MAX);
            memcpy(proof[count++], t->nodes[t->level_offset[level] + sibling], HM_HASH_LEN);
        }
        pos >>= 1;
    }
    *proof_len = count;
    return HM_OK;
}

void hm_merkle_tree_free(hm_merkle_tree *t) {
    if (t == NULL) {
        return;
    }
    free(t->nodes);
    free(t);
}
