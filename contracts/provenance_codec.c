/* contracts/provenance_codec.c — canonical bytes of provenance bodies and
 * records (docs/provenance.md, "Body encodings").
 *
 * Layer: contracts/ (pure). Every decoder reads one value, rejects trailing
 * bytes and validates each field's form (GTIN check digit, GS1 character
 * set, lengths, enum ranges) so that the contract code only ever sees
 * well-formed values. Decoders write their output only on success. Never:
 * I/O, allocation of unbounded size, trust in the input. */
#include "ct_gs1.h"
#include "ct_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void fail_if(hm_reader *r, bool bad) {
    if (bad)
        hm_reader_fail(r, HM_ERR_BAD_VALUE);
}

/* The first byte of a stored record says which kind it is. */
enum { RECORD_KIND_ITEM = 1, RECORD_KIND_EVENT = 2 };

/* Starts decoding a record of kind: any other first byte is refused. */
static void start_record(hm_reader *r, const uint8_t *data, size_t len, uint8_t kind) {
    hm_reader_init(r, data, len);
    uint8_t got = hm_get_u8(r);
    if (hm_reader_error(r) == HM_OK && got != kind)
        hm_reader_fail(r, HM_ERR_UNKNOWN_TYPE);
}

static bool is_digits(const char *s, size_t n_min, size_t n_max) {
    size_t n = strlen(s);
    if (n < n_min || n > n_max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Printable ASCII only, so URIs and names never carry control bytes. */
static bool is_printable(const char *s) {
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

static void get_gtin(hm_reader *r, char out[CT_GTIN_LEN + 1]) {
    hm_get_str(r, out, CT_GTIN_LEN + 1, CT_GTIN_LEN);
    if (hm_reader_error(r) == HM_OK && ct_gtin14_check(out, NULL) != HM_OK)
        hm_reader_fail(r, HM_ERR_BAD_VALUE);
}

/* A serial or lot; empty allowed only when optional. */
static void get_ai82(hm_reader *r, char *out, size_t cap, size_t max, bool optional) {
    hm_get_str(r, out, cap, max);
    if (hm_reader_error(r) != HM_OK)
        return;
    if (out[0] == '\0' && optional)
        return;
    if (ct_gs1_serial_check(out, NULL) != HM_OK)
        hm_reader_fail(r, HM_ERR_BAD_VALUE);
}

static void get_uri(hm_reader *r, char out[CT_URI_MAX + 1]) {
    hm_get_str(r, out, CT_URI_MAX + 1, CT_URI_MAX);
    fail_if(r, hm_reader_error(r) == HM_OK && !is_printable(out));
}

static void put_item_ref(hm_writer *w, const ct_item_ref *ref) {
    hm_put_str(w, ref->gtin, CT_GTIN_LEN);
    hm_put_str(w, ref->serial, CT_SERIAL_MAX);
}

static void get_item_ref(hm_reader *r, ct_item_ref *ref) {
    get_gtin(r, ref->gtin);
    get_ai82(r, ref->serial, sizeof ref->serial, CT_SERIAL_MAX, false);
}

/* The item list of custody and recall bodies (never empty when decoded). */
static void put_item_refs(hm_writer *w, const ct_item_ref *items, uint32_t n) {
    hm_put_varint(w, n);
    for (uint32_t i = 0; i < n; i++)
        put_item_ref(w, &items[i]);
}

static uint32_t get_item_refs(hm_reader *r, ct_item_ref *items) {
    uint32_t n = (uint32_t)hm_get_varint(r, CT_ITEMS_PER_TX_MAX);
    fail_if(r, hm_reader_error(r) == HM_OK && n == 0);
    for (uint32_t i = 0; i < n && hm_reader_error(r) == HM_OK; i++)
        get_item_ref(r, &items[i]);
    return n;
}

/* ------------------------------------------------------------- prefix */

hm_err ct_prefix_assign_encode(const ct_prefix_assign_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_str(w, b->prefix, CT_PREFIX_MAX);
    hm_put_raw(w, b->brand.bytes, HM_PUBKEY_LEN);
    return hm_writer_error(w);
}

hm_err ct_prefix_assign_decode(const uint8_t *data, size_t len, ct_prefix_assign_body *b) {
    if (data == NULL || b == NULL)
        return HM_ERR_ARG;
    ct_prefix_assign_body out;
    hm_reader r;
    hm_reader_init(&r, data, len);
    hm_get_str(&r, out.prefix, sizeof out.prefix, CT_PREFIX_MAX);
    fail_if(&r,
            hm_reader_error(&r) == HM_OK && !is_digits(out.prefix, CT_PREFIX_MIN, CT_PREFIX_MAX));
    hm_get_raw(&r, out.brand.bytes, HM_PUBKEY_LEN);
    return ct_reader_finish_into(&r, b, &out, sizeof out);
}

/* ------------------------------------------------------------ product */

hm_err ct_product_encode(const ct_product_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_str(w, b->gtin, CT_GTIN_LEN);
    hm_put_str(w, b->name, CT_PRODUCT_NAME_MAX);
    hm_put_str(w, b->description, CT_PRODUCT_DESC_MAX);
    hm_put_str(w, b->image_url, CT_PRODUCT_URL_MAX);
    return hm_writer_error(w);
}

hm_err ct_product_decode(const uint8_t *data, size_t len, ct_product_body *b) {
    if (data == NULL || b == NULL)
        return HM_ERR_ARG;
    ct_product_body *out = malloc(sizeof *out);
    if (out == NULL)
        return HM_ERR_NOMEM;
    hm_reader r;
    hm_reader_init(&r, data, len);
    get_gtin(&r, out->gtin);
    hm_get_str(&r, out->name, sizeof out->name, CT_PRODUCT_NAME_MAX);
    fail_if(&r, hm_reader_error(&r) == HM_OK && out->name[0] == '\0');
    hm_get_str(&r, out->description, sizeof out->description, CT_PRODUCT_DESC_MAX);
    hm_get_str(&r, out->image_url, sizeof out->image_url, CT_PRODUCT_URL_MAX);
    fail_if(&r, hm_reader_error(&r) == HM_OK && !is_printable(out->image_url));
    hm_err err = ct_reader_finish_into(&r, b, out, sizeof *out);
    free(out);
    return err;
}

/* ---------------------------------------------------------------- item */

hm_err ct_item_record_encode(const ct_item_record *rec, hm_writer *w) {
    if (rec == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_u8(w, RECORD_KIND_ITEM);
    hm_put_str(w, rec->gtin, CT_GTIN_LEN);
    hm_put_str(w, rec->serial, CT_SERIAL_MAX);
    hm_put_str(w, rec->lot, CT_LOT_MAX);
    hm_put_str(w, rec->expiry, CT_EXPIRY_LEN);
    hm_put_raw(w, rec->product_hash, HM_HASH_LEN);
    hm_put_bool(w, rec->has_code);
    if (rec->has_code)
        hm_put_raw(w, rec->code_hash, HM_HASH_LEN);
    return hm_writer_error(w);
}

hm_err ct_item_record_decode(const uint8_t *data, size_t len, ct_item_record *rec) {
    if (data == NULL || rec == NULL)
        return HM_ERR_ARG;
    ct_item_record out;
    memset(&out, 0, sizeof out);
    hm_reader r;
    start_record(&r, data, len, RECORD_KIND_ITEM);
    get_gtin(&r, out.gtin);
    get_ai82(&r, out.serial, sizeof out.serial, CT_SERIAL_MAX, false);
    get_ai82(&r, out.lot, sizeof out.lot, CT_LOT_MAX, true);
    hm_get_str(&r, out.expiry, sizeof out.expiry, CT_EXPIRY_LEN);
    fail_if(&r, hm_reader_error(&r) == HM_OK && out.expiry[0] != '\0' &&
                    !is_digits(out.expiry, CT_EXPIRY_LEN, CT_EXPIRY_LEN));
    hm_get_raw(&r, out.product_hash, HM_HASH_LEN);
    out.has_code = hm_get_bool(&r);
    if (out.has_code)
        hm_get_raw(&r, out.code_hash, HM_HASH_LEN);
    return ct_reader_finish_into(&r, rec, &out, sizeof out);
}

/* --------------------------------------------------------------- event */

static void put_epcs(hm_writer *w, const ct_event_epc *epcs, uint32_t n) {
    hm_put_varint(w, n);
    for (uint32_t i = 0; i < n && i < CT_EVENT_EPCS_MAX; i++) {
        hm_put_str(w, epcs[i].epc, CT_URI_MAX);
        hm_put_raw(w, epcs[i].prev_hash, HM_HASH_LEN);
    }
    if (n > CT_EVENT_EPCS_MAX)
        hm_writer_fail(w, HM_ERR_TOO_LONG);
}

static uint32_t get_epcs(hm_reader *r, ct_event_epc *epcs) {
    uint32_t n = (uint32_t)hm_get_varint(r, CT_EVENT_EPCS_MAX);
    if (hm_reader_error(r) != HM_OK)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        get_uri(r, epcs[i].epc);
        fail_if(r, hm_reader_error(r) == HM_OK && epcs[i].epc[0] == '\0');
        hm_get_raw(r, epcs[i].prev_hash, HM_HASH_LEN);
    }
    return n;
}

static void put_biz(hm_writer *w, const ct_event_biz *biz, uint32_t n) {
    hm_put_varint(w, n);
    for (uint32_t i = 0; i < n && i < CT_EVENT_BIZ_MAX; i++) {
        hm_put_str(w, biz[i].type, CT_URI_MAX);
        hm_put_str(w, biz[i].value, CT_URI_MAX);
    }
    if (n > CT_EVENT_BIZ_MAX)
        hm_writer_fail(w, HM_ERR_TOO_LONG);
}

static uint32_t get_biz(hm_reader *r, ct_event_biz *biz) {
    uint32_t n = (uint32_t)hm_get_varint(r, CT_EVENT_BIZ_MAX);
    if (hm_reader_error(r) != HM_OK)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        get_uri(r, biz[i].type);
        get_uri(r, biz[i].value);
        fail_if(r, hm_reader_error(r) == HM_OK && biz[i].value[0] == '\0');
    }
    return n;
}

static bool tz_is_valid(const char *tz) {
    /* "+hh:mm" or "-hh:mm", hours 0..14, minutes 0..59 */
    if (strlen(tz) != 6 || (tz[0] != '+' && tz[0] != '-') || tz[3] != ':')
        return false;
    for (int i = 1; i < 6; i++)
        if (i != 3 && (tz[i] < '0' || tz[i] > '9'))
            return false;
    int hh = (tz[1] - '0') * 10 + (tz[2] - '0');
    int mm = (tz[4] - '0') * 10 + (tz[5] - '0');
    return hh <= 14 && mm <= 59;
}

hm_err ct_event_record_encode(const ct_event_record *rec, hm_writer *w) {
    if (rec == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_u8(w, RECORD_KIND_EVENT);
    hm_put_raw(w, rec->event_hash, HM_HASH_LEN);
    hm_put_u8(w, rec->type);
    hm_put_u8(w, rec->action);
    hm_put_u64(w, rec->event_time_ms);
    hm_put_str(w, rec->tz_offset, 6);
    hm_put_str(w, rec->biz_step, CT_URI_MAX);
    hm_put_str(w, rec->disposition, CT_URI_MAX);
    hm_put_str(w, rec->read_point, CT_URI_MAX);
    hm_put_str(w, rec->biz_location, CT_URI_MAX);
    hm_put_str(w, rec->parent, CT_URI_MAX);
    put_epcs(w, rec->epcs, rec->epc_count);
    put_epcs(w, rec->outputs, rec->output_count);
    put_biz(w, rec->biz, rec->biz_count);
    put_biz(w, rec->sources, rec->source_count);
    put_biz(w, rec->dests, rec->dest_count);
    if (rec->prehash_len > CT_PREHASH_MAX)
        hm_writer_fail(w, HM_ERR_TOO_LONG);
    else
        hm_put_bytes(w, (const uint8_t *)rec->prehash, rec->prehash_len, CT_PREHASH_MAX);
    return hm_writer_error(w);
}

/* Decodes into out, which holds zeros in every field the record does not
 * set on success (the scalars and strings before the lists, prehash);
 * entries past a list's count are left as they were. */
static hm_err event_decode(const uint8_t *data, size_t len, ct_event_record *out) {
    hm_reader r;
    start_record(&r, data, len, RECORD_KIND_EVENT);
    hm_get_raw(&r, out->event_hash, HM_HASH_LEN);
    out->type = hm_get_u8(&r);
    fail_if(&r, hm_reader_error(&r) == HM_OK &&
                    (out->type < CT_EPCIS_OBJECT || out->type > CT_EPCIS_TRANSFORMATION));
    out->action = hm_get_u8(&r);
    if (hm_reader_error(&r) == HM_OK) {
        /* Transformation events have no action; every other type has one. */
        bool transform = out->type == CT_EPCIS_TRANSFORMATION;
        fail_if(&r, transform ? out->action != CT_ACTION_NONE
                              : (out->action < CT_ACTION_ADD || out->action > CT_ACTION_DELETE));
    }
    out->event_time_ms = hm_get_u64(&r);
    hm_get_str(&r, out->tz_offset, sizeof out->tz_offset, 6);
    fail_if(&r, hm_reader_error(&r) == HM_OK && !tz_is_valid(out->tz_offset));
    get_uri(&r, out->biz_step);
    get_uri(&r, out->disposition);
    get_uri(&r, out->read_point);
    get_uri(&r, out->biz_location);
    get_uri(&r, out->parent);
    out->epc_count = get_epcs(&r, out->epcs);
    out->output_count = get_epcs(&r, out->outputs);
    fail_if(&r, hm_reader_error(&r) == HM_OK && out->output_count > 0 &&
                    out->type != CT_EPCIS_TRANSFORMATION);
    fail_if(&r, hm_reader_error(&r) == HM_OK && out->parent[0] != '\0' &&
                    out->type != CT_EPCIS_AGGREGATION && out->type != CT_EPCIS_TRANSACTION);
    fail_if(&r, hm_reader_error(&r) == HM_OK && out->parent[0] == '\0' &&
                    out->type == CT_EPCIS_AGGREGATION && out->action != CT_ACTION_OBSERVE);
    out->biz_count = get_biz(&r, out->biz);
    out->source_count = get_biz(&r, out->sources);
    out->dest_count = get_biz(&r, out->dests);
    size_t n = 0;
    const uint8_t *pre = hm_get_bytes(&r, CT_PREHASH_MAX, &n);
    if (pre != NULL) {
        memcpy(out->prehash, pre, n);
        out->prehash[n] = '\0';
        out->prehash_len = (uint32_t)n;
        fail_if(&r, memchr(pre, 0, n) != NULL);
    }
    return hm_reader_finish(&r);
}

hm_err ct_event_record_decode(const uint8_t *data, size_t len, ct_event_record *rec) {
    if (data == NULL || rec == NULL)
        return HM_ERR_ARG;
    /* ~60 KB: on the heap, so a decoder called in a loop stays stack-light. */
    ct_event_record *out = calloc(1, sizeof *out);
    if (out == NULL)
        return HM_ERR_NOMEM;
    hm_err err = event_decode(data, len, out);
    if (err == HM_OK)
        memcpy(rec, out, sizeof *out);
    free(out);
    return err;
}

hm_err ct_event_record_decode_into(const uint8_t *data, size_t len, ct_event_record *rec) {
    if (data == NULL || rec == NULL)
        return HM_ERR_ARG;
    memset(rec, 0, offsetof(ct_event_record, epcs));
    rec->output_count = rec->biz_count = rec->source_count = rec->dest_count = 0;
    rec->prehash_len = 0;
    rec->prehash[0] = '\0';
    return event_decode(data, len, rec);
}

/* ------------------------------------------------------------ custody */

hm_err ct_custody_encode(const ct_custody_body *b, hm_writer *w) {
    if (b == NULL || w == NULL || b->item_count > CT_ITEMS_PER_TX_MAX)
        return HM_ERR_ARG;
    hm_put_raw(w, b->to.bytes, HM_PUBKEY_LEN);
    put_item_refs(w, b->items, b->item_count);
    return hm_writer_error(w);
}

hm_err ct_custody_decode(const uint8_t *data, size_t len, ct_custody_body *b) {
    if (data == NULL || b == NULL)
        return HM_ERR_ARG;
    ct_custody_body *out = malloc(sizeof *out);
    if (out == NULL)
        return HM_ERR_NOMEM;
    hm_reader r;
    hm_reader_init(&r, data, len);
    hm_get_raw(&r, out->to.bytes, HM_PUBKEY_LEN);
    out->item_count = get_item_refs(&r, out->items);
    hm_err err = ct_reader_finish_into(&r, b, out, sizeof *out);
    free(out);
    return err;
}

/* ------------------------------------------------------------- recall */

hm_err ct_recall_encode(const ct_recall_body *b, hm_writer *w) {
    if (b == NULL || w == NULL || b->item_count > CT_ITEMS_PER_TX_MAX)
        return HM_ERR_ARG;
    hm_put_u8(w, b->mode);
    hm_put_str(w, b->reason, CT_RECALL_REASON_MAX);
    if (b->mode == CT_RECALL_LOT) {
        hm_put_str(w, b->gtin, CT_GTIN_LEN);
        hm_put_str(w, b->lot, CT_LOT_MAX);
    } else {
        put_item_refs(w, b->items, b->item_count);
    }
    return hm_writer_error(w);
}

hm_err ct_recall_decode(const uint8_t *data, size_t len, ct_recall_body *b) {
    if (data == NULL || b == NULL)
        return HM_ERR_ARG;
    ct_recall_body *out = calloc(1, sizeof *out);
    if (out == NULL)
        return HM_ERR_NOMEM;
    hm_reader r;
    hm_reader_init(&r, data, len);
    out->mode = hm_get_u8(&r);
    if (hm_reader_error(&r) == HM_OK && out->mode != CT_RECALL_LOT && out->mode != CT_RECALL_ITEMS)
        hm_reader_fail(&r, HM_ERR_UNKNOWN_TYPE);
    hm_get_str(&r, out->reason, sizeof out->reason, CT_RECALL_REASON_MAX);
    if (out->mode == CT_RECALL_LOT) {
        get_gtin(&r, out->gtin);
        get_ai82(&r, out->lot, sizeof out->lot, CT_LOT_MAX, false);
    } else {
        out->item_count = get_item_refs(&r, out->items);
    }
    hm_err err = ct_reader_finish_into(&r, b, out, sizeof *out);
    free(out);
    return err;
}

/* -------------------------------------------------------------- claim */

hm_err ct_claim_encode(const ct_claim_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    put_item_ref(w, &b->item);
    hm_put_bytes(w, b->code, b->code_len, CT_CLAIM_CODE_MAX);
    return hm_writer_error(w);
}

hm_err ct_claim_decode(const uint8_t *data, size_t len, ct_claim_body *b) {
    if (data == NULL || b == NULL)
        return HM_ERR_ARG;
    ct_claim_body out;
    memset(&out, 0, sizeof out);
    hm_reader r;
    hm_reader_init(&r, data, len);
    get_item_ref(&r, &out.item);
    size_t n = 0;
    const uint8_t *code = hm_get_bytes(&r, CT_CLAIM_CODE_MAX, &n);
    if (code != NULL) {
        memcpy(out.code, code, n);
        out.code_len = n;
    }
    fail_if(&r, hm_reader_error(&r) == HM_OK && n == 0);
    return ct_reader_finish_into(&r, b, &out, sizeof out);
}

/* ---------------------------------------------------------------- EPCs */

#define ITEM_EPC_STEM "https://id.gs1.org/01/"

hm_err ct_item_epc(const char *gtin14, const char *serial, char *out, size_t out_cap) {
    if (gtin14 == NULL || serial == NULL || out == NULL)
        return HM_ERR_ARG;
    if (ct_gtin14_check(gtin14, NULL) != HM_OK || ct_gs1_serial_check(serial, NULL) != HM_OK)
        return HM_ERR_BAD_VALUE;
    /* The serial goes in verbatim: canonical item EPCs in records use only
     * characters that need no escaping in a path (checked on parse). */
    size_t need = strlen(ITEM_EPC_STEM) + CT_GTIN_LEN + 4 + strlen(serial) + 1;
    if (need > out_cap)
        return HM_ERR_FULL;
    strcpy(out, ITEM_EPC_STEM);
    strcat(out, gtin14);
    strcat(out, "/21/");
    strcat(out, serial);
    return HM_OK;
}

bool ct_epc_item_parse(const char *epc, ct_item_ref *out) {
    if (epc == NULL || out == NULL)
        return false;
    size_t stem = strlen(ITEM_EPC_STEM);
    if (strncmp(epc, ITEM_EPC_STEM, stem) != 0)
        return false;
    const char *p = epc + stem;
    if (strlen(p) < CT_GTIN_LEN + 5 || strncmp(p + CT_GTIN_LEN, "/21/", 4) != 0)
        return false;
    ct_item_ref ref;
    memcpy(ref.gtin, p, CT_GTIN_LEN);
    ref.gtin[CT_GTIN_LEN] = '\0';
    const char *serial = p + CT_GTIN_LEN + 4;
    if (strlen(serial) > CT_SERIAL_MAX || strpbrk(serial, "/%?#") != NULL)
        return false;
    strcpy(ref.serial, serial);
    if (ct_gtin14_check(ref.gtin, NULL) != HM_OK || ct_gs1_serial_check(ref.serial, NULL) != HM_OK)
        return false;
    *out = ref;
    return true;
}
