/* tests/fuzz/fuzz_settle_decode.c — libFuzzer target for settlement's strict
 * decoders: every tx body (split create and amend, sale, refund, payout) and
 * every stored record (sale with its split tree, posting, contract head and
 * version, balance, totals). The first byte picks the decoder, the rest is
 * its input. Any input must be accepted or refused, never crash or read out
 * of bounds; what is accepted must encode back to the very same bytes (one
 * byte string per value), and a decoded sale tree must be voidable. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t which;
    if (!fuzz_take_selector(&data, &size, &which))
        return 0;
    hm_writer w;
    hm_writer_init_growable(&w, 1u << 20);
    switch (which % 11) {
    case 0: {
        static ct_split_create_body b;
        if (ct_split_create_decode(data, size, &b) == HM_OK) {
            (void)ct_split_terms_are_valid(&b.terms, NULL);
            fuzz_require_same(&w, ct_split_create_encode(&b, &w), data, size);
        }
        break;
    }
    case 1: {
        static ct_split_amend_body b;
        if (ct_split_amend_decode(data, size, &b) == HM_OK) {
            fuzz_require_same(&w, ct_split_amend_encode(&b, &w), data, size);
        }
        break;
    }
    case 2:
    case 3: {
        ct_sale_body b;
        bool with_version = which % 11 == 2;
        if (ct_sale_decode(data, size, with_version, &b) == HM_OK) {
            fuzz_require_same(&w, ct_sale_encode(&b, with_version, &w), data, size);
        }
        break;
    }
    case 4: {
        ct_refund_body b;
        if (ct_refund_decode(data, size, &b) == HM_OK) {
            fuzz_require_same(&w, ct_refund_encode(&b, &w), data, size);
        }
        break;
    }
    case 5: {
        ct_payout_body b;
        if (ct_payout_decode(data, size, &b) == HM_OK) {
            fuzz_require_same(&w, ct_payout_encode(&b, &w), data, size);
        }
        break;
    }
    case 6: {
        ct_posting p;
        if (ct_posting_decode(data, size, &p) == HM_OK) {
            fuzz_require_same(&w, ct_posting_encode(&p, &w), data, size);
        }
        break;
    }
    case 7: {
        static ct_sale s;
        if (ct_sale_record_decode(data, size, &s) == HM_OK) {
            fuzz_require_same(&w, ct_sale_record_encode(&s, &w), data, size);
            /* a stored tree may be anything that decodes: voiding must
             * refuse or succeed, never overflow */
            static uint64_t voided[CT_SALE_NODES_MAX];
            (void)ct_sale_void(s.nodes, s.node_count, s.body.gross - s.refunded, voided);
        }
        break;
    }
    case 8: {
        ct_split_head h;
        (void)ct_split_head_decode(data, size, &h);
        static ct_split_version v;
        (void)ct_split_version_decode(data, size, &v);
        break;
    }
    case 9: {
        int64_t pending, available;
        (void)ct_balance_decode(data, size, &pending, &available);
        ct_sale_totals t;
        (void)ct_sale_totals_decode(data, size, &t);
        break;
    }
    default: {
        char text[CT_ACCOUNT_TEXT_LEN + 2];
        size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
        memcpy(text, data, n);
        text[n] = '\0';
        ct_account a;
        if (ct_account_parse(text, &a) == HM_OK) {
            char back[CT_ACCOUNT_TEXT_LEN + 1];
            ct_account_format(&a, back);
            back[CT_ACCOUNT_TEXT_LEN] = '\0';
            check(ct_account_parse(back, &a) == HM_OK);
        }
        break;
    }
    }
    hm_writer_free(&w);
    return 0;
}
