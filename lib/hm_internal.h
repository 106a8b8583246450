/* lib/hm_internal.h — declarations shared between lib/ files only.
 *
 * Layer: lib/. Nothing outside lib/ includes this; the public surface is
 * hm.h alone. */
#ifndef HALLMARK_HM_INTERNAL_H
#define HALLMARK_HM_INTERNAL_H

#include "hm.h"

#include <secp256k1.h>

/* SHA-256 of a || b || c with the thread's reused context (no allocation). */
void hm_sha256_3(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, const uint8_t *c,
                 size_t c_len, uint8_t out[HM_HASH_LEN]);

/* SHA256(tag), cached per thread for the few tags a process uses. */
void hm_tag_hash(const char *tag, uint8_t tag_hash[HM_HASH_LEN]);

/* The process-wide libsecp256k1 context: created once, randomized, then
 * only read (libsecp256k1 allows concurrent use of a const context). */
const secp256k1_context *hm_secp_ctx(void);

#endif
