/* tests/fuzz/fuzz_epcis_prehash.c — libFuzzer target for the reader of stored
 * EPCIS pre-hash strings (ct_epcis_prehash_json). The input is the pre-hash
 * string. Any input must be read back or refused, never crash, hang or read
 * out of bounds; an input read back must give, once its JSON is put in an
 * EPCIS document with the returned context and imported again, the event
 * hash SHA-256(input): what a client re-hashing the node's output gets. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *ev = NULL, *ctx = NULL;
    char why[300];
    hm_err err = ct_epcis_prehash_json((const char *)data, size, &ev, &ctx, why, sizeof why);
    if (err != HM_OK) {
        if (ev != NULL || ctx != NULL || why[0] == '\0')
            __builtin_trap();
        return 0;
    }
    json_t *doc = json_pack("{s:[s,o], s:s, s:{s:[o]}}", "@context",
                            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", ctx,
                            "type", "EPCISDocument", "epcisBody", "eventList", ev);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return 0; /* out of memory */
    ct_epcis_doc *d = NULL;
    if (ct_epcis_doc_parse(text, strlen(text), &d, why, sizeof why) != HM_OK ||
        ct_epcis_doc_count(d) != 1)
        __builtin_trap();
    uint8_t want[HM_HASH_LEN], got[HM_HASH_LEN];
    hm_sha256(data, size, want);
    ct_epcis_doc_hash(d, 0, got);
    if (memcmp(want, got, HM_HASH_LEN) != 0)
        __builtin_trap();
    ct_epcis_doc_free(d);
    free(text);
    return 0;
}
