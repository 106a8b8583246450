/* tests/fuzz/fuzz_prov_decode.c — libFuzzer target for provenance's strict
 * decoders (member and provenance tx bodies, item and event records) and the
 * EPCIS 2.0 JSON parser. The first byte picks the decoder, the rest is its
 * input. Any input must be accepted or refused, never crash or read out of
 * bounds; a decoded body must encode back to the very same bytes (one byte
 * string per value); an accepted EPCIS document must give a pre-hash string
 * per event that hashes to its event hash, and its records must encode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROUND_TRIP(type, decode, encode)                                                           \
    do {                                                                                           \
        type *b = calloc(1, sizeof *b);                                                            \
        if (b != NULL && decode(data, size, b) == HM_OK) {                                         \
            fuzz_require_same(&w, encode(b, &w), data, size);                                      \
        }                                                                                          \
        free(b);                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t which;
    if (!fuzz_take_selector(&data, &size, &which))
        return 0;
    hm_writer w;
    hm_writer_init_growable(&w, 1u << 20);
    switch (which % 11) {
    case 0:
        ROUND_TRIP(ct_member_add_body, ct_member_add_decode, ct_member_add_encode);
        break;
    case 1:
        ROUND_TRIP(ct_member_revoke_body, ct_member_revoke_decode, ct_member_revoke_encode);
        break;
    case 2:
        ROUND_TRIP(ct_member_rotate_body, ct_member_rotate_decode, ct_member_rotate_encode);
        break;
    case 3:
        ROUND_TRIP(ct_prefix_assign_body, ct_prefix_assign_decode, ct_prefix_assign_encode);
        break;
    case 4:
        ROUND_TRIP(ct_product_body, ct_product_decode, ct_product_encode);
        break;
    case 5:
        ROUND_TRIP(ct_item_record, ct_item_record_decode, ct_item_record_encode);
        break;
    case 6:
        ROUND_TRIP(ct_event_record, ct_event_record_decode, ct_event_record_encode);
        break;
    case 7:
        ROUND_TRIP(ct_custody_body, ct_custody_decode, ct_custody_encode);
        break;
    case 8:
        ROUND_TRIP(ct_recall_body, ct_recall_decode, ct_recall_encode);
        break;
    case 9:
        ROUND_TRIP(ct_claim_body, ct_claim_decode, ct_claim_encode);
        break;
    default: {
        ct_epcis_doc *d = NULL;
        char why[200] = ""; /* a refusal that wrote no reason must trap below */
        if (ct_epcis_doc_parse((const char *)data, size, &d, why, sizeof why) != HM_OK) {
            check(why[0] != '\0'); /* every refusal says why */
            break;
        }
        ct_event_record *rec = calloc(1, sizeof *rec);
        for (size_t i = 0; rec != NULL && i < ct_epcis_doc_count(d); i++) {
            uint8_t h[HM_HASH_LEN], again[HM_HASH_LEN];
            const char *pre = ct_epcis_doc_prehash(d, i);
            ct_epcis_doc_hash(d, i, h);
            hm_sha256((const uint8_t *)pre, strlen(pre), again);
            check(memcmp(h, again, HM_HASH_LEN) == 0);
            if (ct_epcis_doc_record(d, i, rec, why, sizeof why) == HM_OK) {
                hm_writer rw;
                hm_writer_init_growable(&rw, CT_RECORD_MAX);
                check(ct_event_record_encode(rec, &rw) == HM_OK);
                hm_writer_free(&rw);
            }
        }
        free(rec);
        ct_epcis_doc_free(d);
        break;
    }
    }
    hm_writer_free(&w);
    return 0;
}
