/* tests/fuzz/fuzz_check.h — what the structured fuzz targets share: a check
 * that aborts naming the failed condition, big-endian reads of the input,
 * and the proof mutations the two Merkle targets apply to a claim.
 *
 * Layer: tests only. Header-only (static), so each target stays one object.
 * Nothing here may depend on anything but its arguments: the same input must
 * always run the same way. */
#ifndef HALLMARK_FUZZ_CHECK_H
#define HALLMARK_FUZZ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm.h"

/* Aborts (a finding for libFuzzer) naming the check that failed. */
#define check(ok) fuzz_check_at((ok), #ok, __FILE__, __LINE__)
static inline void fuzz_check_at(int ok, const char *what, const char *file, int line) {
    if (!ok) {
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
        abort();
    }
}

/* The 8 bytes at p as a big-endian number. */
static inline uint64_t fuzz_read_u64_be(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Flips one bit of a hash, chosen by the input bytes a (bit) and b (byte). */
static inline void fuzz_flip_hash_bit(uint8_t hash[HM_HASH_LEN], uint8_t a, uint8_t b) {
    hash[b % HM_HASH_LEN] ^= (uint8_t)(1u << (a % 8));
}

/* A claimed index or size moved by the input bytes a and b: with a's top bit
 * set one bit of v flips (possibly far past the tree), else v becomes a
 * small value below limit. */
static inline uint64_t fuzz_move_u64(uint64_t v, uint8_t a, uint8_t b, uint64_t limit) {
    return (a & 0x80) ? v ^ (1ull << (b % 64)) : (uint64_t)(a % limit);
}

/* Applies one of the mutations of a Merkle claim's proof, chosen by kind
 * (from an input byte, mod 8) with parameters a and b: 0 flips a bit of a
 * proof hash, 3 truncates the proof, 4 appends a hash (filled with b, or with
 * leaves[b % n] as a plausible real node; proof holds HM_MERKLE_PROOF_MAX + 1
 * hashes, so one past the limit can be tried), 7 swaps two hashes. Returns
 * false, changing nothing, for the other kinds (1, 2, 5, 6), which each
 * target applies to its own fields. */
static inline bool fuzz_mutate_proof(uint8_t kind, uint8_t a, uint8_t b,
                                     uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len,
                                     const uint8_t (*leaves)[HM_HASH_LEN], size_t n) {
    switch (kind) {
    case 0:
        if (*proof_len)
            proof[a % *proof_len][b % HM_HASH_LEN] ^= (uint8_t)(1u << (a % 8));
        return true;
    case 3:
        *proof_len = *proof_len ? (size_t)a % *proof_len : 0;
        return true;
    case 4:
        if (*proof_len <= HM_MERKLE_PROOF_MAX) {
            memset(proof[*proof_len], b, HM_HASH_LEN);
            if (a & 1) /* a plausible extra hash: a real node */
                memcpy(proof[*proof_len], leaves[b % n], HM_HASH_LEN);
            (*proof_len)++;
        }
        return true;
    case 7:
        if (*proof_len >= 2) {
            size_t i = a % *proof_len, j = b % *proof_len;
            uint8_t tmp[HM_HASH_LEN];
            memcpy(tmp, proof[i], HM_HASH_LEN);
            memcpy(proof[i], proof[j], HM_HASH_LEN);
            memcpy(proof[j], tmp, HM_HASH_LEN);
        }
        return true;
    default:
        return false;
    }
}

#endif
