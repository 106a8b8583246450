/* tests/fuzz/fuzz_bundle.c — libFuzzer target for the proof bundle decoder
 * and verifier: any bytes must be refused with an error or decode to a
 * bundle that re-encodes to exactly the same bytes (one encoding per
 * bundle), and verification of whatever decodes must end without a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ct_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ct_bundle b;
    if (ct_bundle_decode(data, size, &b) != HM_OK) {
        return 0;
    }
    hm_writer w;
    hm_writer_init_growable(&w, CT_BUNDLE_ENCODED_MAX);
    if (ct_bundle_encode(&b, &w) != HM_OK || w.len != size || memcmp(w.buf, data, size) != 0) {
        __builtin_trap();
    }
    hm_writer_free(&w);
    /* Verify against the bundle's own claims: exercises every step. */
    hm_validator_set vs = b.vset;
    (void)ct_bundle_verify(&b, b.chain_id, &vs, NULL, NULL);
    json_t *j = ct_bundle_to_json(&b);
    char *text = NULL;
    size_t text_len = 0;
    if (j != NULL && ct_bundle_to_json_text(&b, &text, &text_len) == HM_OK) {
        /* The directly written JSON is the same document as the tree. */
        json_t *parsed = json_loadb(text, text_len, 0, NULL);
        if (parsed == NULL || !json_equal(parsed, j)) {
            __builtin_trap();
        }
        json_decref(parsed);
        free(text);
    }
    if (j != NULL) {
        ct_bundle back;
        if (ct_bundle_from_json(j, &back, NULL) == HM_OK) {
            ct_bundle_clear(&back);
        }
        json_decref(j);
    }
    ct_bundle_clear(&b);
    return 0;
}
