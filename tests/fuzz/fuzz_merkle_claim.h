/* tests/fuzz/fuzz_merkle_claim.h — the claim handling the two Merkle targets
 * share. Both claims have the same shape: two hashes (inclusion: leaf, root;
 * consistency: root1, root2), two numbers (index, size; size1, size2) and a
 * proof, so one reader and one mutation step serve both.
 *
 * Layer: tests only. Header-only (static), so each target stays one object. */
#ifndef HALLMARK_FUZZ_MERKLE_CLAIM_H
#define HALLMARK_FUZZ_MERKLE_CLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "hm.h"

/* Raw mode: after the mode byte, v1 u64, v2 u64, h1, h2, then up to
 * HM_MERKLE_PROOF_MAX proof hashes, as they are. False if the input is too
 * short for the fixed part. */
static inline bool fuzz_read_raw_claim(const uint8_t *data, size_t size, uint64_t *v1, uint64_t *v2,
                                       uint8_t h1[HM_HASH_LEN], uint8_t h2[HM_HASH_LEN],
                                       uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len) {
    if (size < 1 + 16 + 2 * HM_HASH_LEN)
        return false;
    const uint8_t *p = data + 1;
    *v1 = fuzz_read_u64_be(p);
    *v2 = fuzz_read_u64_be(p + 8);
    p += 16;
    memcpy(h1, p, HM_HASH_LEN);
    memcpy(h2, p + HM_HASH_LEN, HM_HASH_LEN);
    p += 2 * HM_HASH_LEN;
    *proof_len = (size - (size_t)(p - data)) / HM_HASH_LEN;
    if (*proof_len > HM_MERKLE_PROOF_MAX)
        *proof_len = HM_MERKLE_PROOF_MAX;
    memcpy(proof, p, *proof_len * HM_HASH_LEN);
    return true;
}

/* One mutation (kind, a, b) of a claim over a tree of n leaves: 1 flips a
 * bit of h1, 2 of h2, 5 moves v1 (small values below n + 2), 6 moves v2
 * (below 2n + 2), the other kinds change the proof (fuzz_mutate_proof).
 * Returns whether v1 or v2 was moved. */
static inline bool fuzz_mutate_claim(uint8_t kind, uint8_t a, uint8_t b, uint8_t h1[HM_HASH_LEN],
                                     uint8_t h2[HM_HASH_LEN], uint64_t *v1, uint64_t *v2,
                                     uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len,
                                     const uint8_t (*leaves)[HM_HASH_LEN], size_t n) {
    switch (kind % 8) {
    case 1:
        fuzz_flip_hash_bit(h1, a, b);
        return false;
    case 2:
        fuzz_flip_hash_bit(h2, a, b);
        return false;
    case 5:
        *v1 = fuzz_move_u64(*v1, a, b, n + 2);
        return true;
    case 6:
        *v2 = fuzz_move_u64(*v2, a, b, 2 * n + 2);
        return true;
    default:
        (void)fuzz_mutate_proof(kind % 8, a, b, proof, proof_len, leaves, n);
        return false;
    }
}

/* Whether a claim's bytes (both hashes and the proof) equal the original's. */
static inline bool fuzz_claim_same_bytes(const uint8_t h1[HM_HASH_LEN],
                                         const uint8_t h2[HM_HASH_LEN],
                                         const uint8_t (*proof)[HM_HASH_LEN], size_t proof_len,
                                         const uint8_t o1[HM_HASH_LEN],
                                         const uint8_t o2[HM_HASH_LEN],
                                         const uint8_t (*oproof)[HM_HASH_LEN], size_t oproof_len) {
    return memcmp(h1, o1, HM_HASH_LEN) == 0 && memcmp(h2, o2, HM_HASH_LEN) == 0 &&
           proof_len == oproof_len && memcmp(proof, oproof, proof_len * HM_HASH_LEN) == 0;
}

#endif
