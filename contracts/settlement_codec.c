/* contracts/settlement_codec.c — canonical encodings of settlement: tx
 * bodies, stored records (contracts, sales, postings), account text and the
 * signed-request message.
 *
 * Layer: contracts/ (pure). Decoders read bytes from the network and from
 * disk: they bound every length, check every domain, reject trailing bytes,
 * never assert on input, and write their output only on success. The layouts
 * are in ct_settlement.h and docs/settlement.md. */
#include "ct_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ domains */

bool ct_currency_is_valid(const char *code) {
    if (code == NULL)
        return false;
    for (size_t i = 0; i < CT_CURRENCY_LEN; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return false;
    return code[CT_CURRENCY_LEN] == '\0';
}

/* Between len_min and len_max bytes of printable ASCII from `lowest` up. */
static bool ascii_is_valid(const char *text, size_t len_min, size_t len_max, unsigned char lowest) {
    size_t n = strnlen(text, len_max + 1);
    if (n < len_min || n > len_max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < lowest || (unsigned char)text[i] > 0x7e)
            return false;
    return true;
}

/* Identifiers (order ids, serials, session ids): printable ASCII, no space. */
static bool token_is_valid(const char *text, size_t len_min, size_t len_max) {
    return ascii_is_valid(text, len_min, len_max, 0x21);
}

/* Names and references: printable ASCII, spaces allowed inside. */
static bool label_is_valid(const char *text, size_t len_min, size_t len_max) {
    return ascii_is_valid(text, len_min, len_max, 0x20);
}

static bool party_kind_is_valid(uint8_t kind) {
    return kind == CT_PARTY_ACCOUNT || kind == CT_PARTY_SPLIT;
}

static bool gtin_is_valid(const char *text) {
    if (strnlen(text, CT_GTIN_LEN + 1) != CT_GTIN_LEN)
        return false;
    for (size_t i = 0; i < CT_GTIN_LEN; i++)
        if (text[i] < '0' || text[i] > '9')
            return false;
    return true;
}

bool ct_split_terms_are_valid(const ct_split_terms *t, uint32_t *rule) {
    uint32_t unused;
    if (rule == NULL)
        rule = &unused;
    if (!ct_currency_is_valid(t->currency)) {
        *rule = CT_SRULE_CURRENCY;
        return false;
    }
    if (t->return_window_ms > CT_RETURN_WINDOW_MAX_MS) {
        *rule = CT_SRULE_WINDOW;
        return false;
    }
    if (t->fee_count > CT_SPLIT_FEES_MAX) {
        *rule = CT_SRULE_FEES;
        return false;
    }
    for (uint32_t i = 0; i < t->fee_count; i++) {
        if (t->fees[i].amount == 0 || t->fees[i].amount > CT_AMOUNT_MAX ||
            !party_kind_is_valid(t->fees[i].to.kind)) {
            *rule = CT_SRULE_FEES;
            return false;
        }
    }
    if (t->share_count == 0 || t->share_count > CT_SPLIT_SHARES_MAX) {
        *rule = CT_SRULE_RECIPIENTS;
        return false;
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < t->share_count; i++) {
        if (t->shares[i].share_bps == 0 || !party_kind_is_valid(t->shares[i].to.kind)) {
            *rule = CT_SRULE_RECIPIENTS;
            return false;
        }
        sum += t->shares[i].share_bps;
    }
    if (sum != CT_BPS_TOTAL) {
        *rule = CT_SRULE_SHARES_SUM;
        return false;
    }
    *rule = 0;
    return true;
}

/* ------------------------------------------------------------ pieces */

static void put_party(hm_writer *w, const ct_party *p) {
    hm_put_u8(w, p->kind);
    hm_put_raw(w, p->id, 32);
}

static void get_party(hm_reader *r, ct_party *p) {
    p->kind = hm_get_u8(r);
    if (hm_reader_error(r) == HM_OK && !party_kind_is_valid(p->kind))
        hm_reader_fail(r, HM_ERR_BAD_VALUE);
    hm_get_raw(r, p->id, 32);
}

static void put_currency(hm_writer *w, const char *code) {
    if (!ct_currency_is_valid(code)) {
        hm_writer_fail(w, HM_ERR_BAD_VALUE);
        return;
    }
    hm_put_raw(w, (const uint8_t *)code, CT_CURRENCY_LEN);
}

static void get_currency(hm_reader *r, char out[CT_CURRENCY_LEN + 1]) {
    memset(out, 0, CT_CURRENCY_LEN + 1);
    hm_get_raw(r, (uint8_t *)out, CT_CURRENCY_LEN);
    if (hm_reader_error(r) == HM_OK && !ct_currency_is_valid(out))
        hm_reader_fail(r, HM_ERR_BAD_VALUE);
}

/* Terms are encoded as they are; whether they obey the contract rules
 * (shares summing to 10,000 ...) is a refusal decided by the contract, so
 * that the rule number reaches the submitter. Only the counts are bounded
 * here, because they size arrays. */
static void put_terms(hm_writer *w, const ct_split_terms *t) {
    put_currency(w, t->currency);
    hm_put_varint(w, t->return_window_ms);
    if (t->fee_count > CT_SPLIT_FEES_MAX || t->share_count > CT_SPLIT_SHARES_MAX) {
        hm_writer_fail(w, HM_ERR_TOO_LONG);
        return;
    }
    hm_put_varint(w, t->fee_count);
    for (uint32_t i = 0; i < t->fee_count; i++) {
        put_party(w, &t->fees[i].to);
        hm_put_varint(w, t->fees[i].amount);
    }
    hm_put_varint(w, t->share_count);
    for (uint32_t i = 0; i < t->share_count; i++) {
        put_party(w, &t->shares[i].to);
        hm_put_varint(w, t->shares[i].share_bps);
    }
}

static void get_terms(hm_reader *r, ct_split_terms *t) {
    memset(t, 0, sizeof *t);
    get_currency(r, t->currency);
    t->return_window_ms = hm_get_varint(r, UINT64_MAX);
    t->fee_count = (uint32_t)hm_get_varint(r, CT_SPLIT_FEES_MAX);
    for (uint32_t i = 0; i < t->fee_count && hm_reader_error(r) == HM_OK; i++) {
        get_party(r, &t->fees[i].to);
        t->fees[i].amount = hm_get_varint(r, UINT64_MAX);
    }
    t->share_count = (uint32_t)hm_get_varint(r, CT_SPLIT_SHARES_MAX);
    for (uint32_t i = 0; i < t->share_count && hm_reader_error(r) == HM_OK; i++) {
        get_party(r, &t->shares[i].to);
        t->shares[i].share_bps = (uint32_t)hm_get_varint(r, UINT32_MAX);
    }
}

static void get_version_byte(hm_reader *r) {
    uint8_t v = hm_get_u8(r);
    if (hm_reader_error(r) == HM_OK && v != CT_SETTLE_BODY_VERSION)
        hm_reader_fail(r, HM_ERR_UNKNOWN_TYPE);
}

/* Starts a decoder: HM_ERR_ARG for bad arguments, else r reads data, past
 * the body version byte when with_version. */
static hm_err decode_start(hm_reader *r, const uint8_t *data, size_t len, const void *out,
                           bool with_version) {
    if ((data == NULL && len > 0) || out == NULL)
        return HM_ERR_ARG;
    hm_reader_init(r, data, len);
    if (with_version)
        get_version_byte(r);
    return HM_OK;
}

/* ------------------------------------------------------------ bodies */

hm_err ct_split_create_encode(const ct_split_create_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    if (!label_is_valid(b->name, 1, CT_SPLIT_NAME_MAX))
        hm_writer_fail(w, HM_ERR_BAD_VALUE);
    hm_put_u8(w, CT_SETTLE_BODY_VERSION);
    hm_put_str(w, b->name, CT_SPLIT_NAME_MAX);
    put_terms(w, &b->terms);
    return hm_writer_error(w);
}

hm_err ct_split_create_decode(const uint8_t *data, size_t len, ct_split_create_body *out) {
    hm_reader r;
    hm_err err = decode_start(&r, data, len, out, true);
    if (err != HM_OK)
        return err;
    ct_split_create_body *b = calloc(1, sizeof *b);
    if (b == NULL)
        return HM_ERR_NOMEM;
    hm_get_str(&r, b->name, sizeof b->name, CT_SPLIT_NAME_MAX);
    if (hm_reader_error(&r) == HM_OK && !label_is_valid(b->name, 1, CT_SPLIT_NAME_MAX))
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    get_terms(&r, &b->terms);
    err = ct_reader_finish_into(&r, out, b, sizeof *b);
    free(b);
    return err;
}

hm_err ct_split_amend_encode(const ct_split_amend_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_u8(w, CT_SETTLE_BODY_VERSION);
    hm_put_raw(w, b->contract_id, 32);
    hm_put_varint(w, b->from_height);
    put_terms(w, &b->terms);
    return hm_writer_error(w);
}

hm_err ct_split_amend_decode(const uint8_t *data, size_t len, ct_split_amend_body *out) {
    hm_reader r;
    hm_err err = decode_start(&r, data, len, out, true);
    if (err != HM_OK)
        return err;
    ct_split_amend_body *b = calloc(1, sizeof *b);
    if (b == NULL)
        return HM_ERR_NOMEM;
    hm_get_raw(&r, b->contract_id, 32);
    b->from_height = hm_get_varint(&r, UINT64_MAX);
    get_terms(&r, &b->terms);
    err = ct_reader_finish_into(&r, out, b, sizeof *b);
    free(b);
    return err;
}

static bool sale_fields_are_valid(const ct_sale_body *b) {
    if (!token_is_valid(b->order_id, 1, CT_ORDER_ID_MAX) || !ct_currency_is_valid(b->currency) ||
        !token_is_valid(b->session_id, 0, CT_SESSION_ID_MAX))
        return false;
    if (b->has_item && (!gtin_is_valid(b->gtin) || !token_is_valid(b->serial, 1, CT_SERIAL_MAX)))
        return false;
    return true;
}

hm_err ct_sale_encode(const ct_sale_body *b, bool with_version, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    if (!sale_fields_are_valid(b))
        hm_writer_fail(w, HM_ERR_BAD_VALUE);
    if (with_version)
        hm_put_u8(w, CT_SETTLE_BODY_VERSION);
    hm_put_str(w, b->order_id, CT_ORDER_ID_MAX);
    hm_put_varint(w, b->gross);
    put_currency(w, b->currency);
    hm_put_raw(w, b->contract_id, 32);
    hm_put_bool(w, b->has_item);
    if (b->has_item) {
        hm_put_str(w, b->gtin, CT_GTIN_LEN);
        hm_put_str(w, b->serial, CT_SERIAL_MAX);
    }
    hm_put_str(w, b->session_id, CT_SESSION_ID_MAX);
    hm_put_bool(w, b->has_streamer);
    if (b->has_streamer)
        hm_put_raw(w, b->streamer.bytes, HM_PUBKEY_LEN);
    return hm_writer_error(w);
}

static void get_sale_fields(hm_reader *r, ct_sale_body *b) {
    hm_get_str(r, b->order_id, sizeof b->order_id, CT_ORDER_ID_MAX);
    b->gross = hm_get_varint(r, UINT64_MAX);
    get_currency(r, b->currency);
    hm_get_raw(r, b->contract_id, 32);
    b->has_item = hm_get_bool(r);
    if (b->has_item) {
        hm_get_str(r, b->gtin, sizeof b->gtin, CT_GTIN_LEN);
        hm_get_str(r, b->serial, sizeof b->serial, CT_SERIAL_MAX);
    }
    hm_get_str(r, b->session_id, sizeof b->session_id, CT_SESSION_ID_MAX);
    b->has_streamer = hm_get_bool(r);
    if (b->has_streamer)
        hm_get_raw(r, b->streamer.bytes, HM_PUBKEY_LEN);
    if (hm_reader_error(r) == HM_OK && !sale_fields_are_valid(b))
        hm_reader_fail(r, HM_ERR_BAD_VALUE);
}

hm_err ct_sale_decode(const uint8_t *data, size_t len, bool with_version, ct_sale_body *out) {
    hm_reader r;
    hm_err err = decode_start(&r, data, len, out, with_version);
    if (err != HM_OK)
        return err;
    ct_sale_body b;
    memset(&b, 0, sizeof b);
    get_sale_fields(&r, &b);
    return ct_reader_finish_into(&r, out, &b, sizeof b);
}

hm_err ct_refund_encode(const ct_refund_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    if (!token_is_valid(b->order_id, 1, CT_ORDER_ID_MAX))
        hm_writer_fail(w, HM_ERR_BAD_VALUE);
    hm_put_u8(w, CT_SETTLE_BODY_VERSION);
    hm_put_str(w, b->order_id, CT_ORDER_ID_MAX);
    hm_put_varint(w, b->amount);
    put_currency(w, b->currency);
    return hm_writer_error(w);
}

hm_err ct_refund_decode(const uint8_t *data, size_t len, ct_refund_body *out) {
    hm_reader r;
    hm_err err = decode_start(&r, data, len, out, true);
    if (err != HM_OK)
        return err;
    ct_refund_body b;
    memset(&b, 0, sizeof b);
    hm_get_str(&r, b.order_id, sizeof b.order_id, CT_ORDER_ID_MAX);
    b.amount = hm_get_varint(&r, UINT64_MAX);
    get_currency(&r, b.currency);
    if (hm_reader_error(&r) == HM_OK && !token_is_valid(b.order_id, 1, CT_ORDER_ID_MAX))
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    return ct_reader_finish_into(&r, out, &b, sizeof b);
}

hm_err ct_payout_encode(const ct_payout_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    if (!label_is_valid(b->reference, 0, CT_PAYOUT_REF_MAX))
        hm_writer_fail(w, HM_ERR_BAD_VALUE);
    hm_put_u8(w, CT_SETTLE_BODY_VERSION);
    hm_put_raw(w, b->account.bytes, HM_PUBKEY_LEN);
    put_currency(w, b->currency);
    hm_put_varint(w, b->amount);
    hm_put_str(w, b->reference, CT_PAYOUT_REF_MAX);
    return hm_writer_error(w);
}

hm_err ct_payout_decode(const uint8_t *data, size_t len, ct_payout_body *out) {
    hm_reader r;
    hm_err err = decode_start(&r, data, len, out, true);
    if (err != HM_OK)
        return err;
    ct_payout_body b;
    memset(&b, 0, sizeof b);
    hm_get_raw(&r, b.account.bytes, HM_PUBKEY_LEN);
    get_currency(&r, b.currency);
    b.amount = hm_get_varint(&r, UINT64_MAX);
    hm_get_str(&r, b.reference, sizeof b.reference, CT_PAYOUT_REF_MAX);
    if (hm_reader_error(&r) == HM_OK && !label_is_valid(b.reference, 0, CT_PAYOUT_REF_MAX))
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    return ct_reader_finish_into(&r, out, &b, sizeof b);
}

/* ------------------------------------------------------------ records */

hm_err ct_posting_encode(const ct_posting *p, hm_writer *w) {
    if (p == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_u64(w, p->seq);
    hm_put_u64(w, p->height);
    hm_put_u64(w, p->time_ms);
    hm_put_u8(w, p->entry);
    hm_put_raw(w, p->tx_id, HM_HASH_LEN);
    hm_put_raw(w, p->platform.bytes, HM_PUBKEY_LEN);
    hm_put_str(w, p->order_id, CT_ORDER_ID_MAX);
    hm_put_u8(w, p->account.kind);
    hm_put_raw(w, p->account.owner.bytes, HM_PUBKEY_LEN);
    put_currency(w, p->currency);
    hm_put_u8(w, p->bucket);
    hm_put_u64(w, (uint64_t)p->amount);
    return hm_writer_error(w);
}

hm_err ct_posting_decode(const uint8_t *data, size_t len, ct_posting *out) {
    hm_reader r;
    hm_err err = decode_start(&r, data, len, out, false);
    if (err != HM_OK)
        return err;
    ct_posting p;
    memset(&p, 0, sizeof p);
    p.seq = hm_get_u64(&r);
    p.height = hm_get_u64(&r);
    p.time_ms = hm_get_u64(&r);
    p.entry = hm_get_u8(&r);
    hm_get_raw(&r, p.tx_id, HM_HASH_LEN);
    hm_get_raw(&r, p.platform.bytes, HM_PUBKEY_LEN);
    hm_get_str(&r, p.order_id, sizeof p.order_id, CT_ORDER_ID_MAX);
    p.account.kind = hm_get_u8(&r);
    hm_get_raw(&r, p.account.owner.bytes, HM_PUBKEY_LEN);
    get_currency(&r, p.currency);
    p.bucket = hm_get_u8(&r);
    p.amount = (int64_t)hm_get_u64(&r);
    if (hm_reader_error(&r) == HM_OK &&
        (p.entry < CT_ENTRY_SALE || p.entry > CT_ENTRY_PAYOUT || p.bucket > CT_BUCKET_AVAILABLE ||
         p.account.kind < CT_ACCOUNT_MEMBER || p.account.kind > CT_ACCOUNT_PAID))
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    return ct_reader_finish_into(&r, out, &p, sizeof p);
}

hm_err ct_sale_record_encode(const ct_sale *s, hm_writer *w) {
    if (s == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_raw(w, s->platform.bytes, HM_PUBKEY_LEN);
    if (ct_sale_encode(&s->body, false, w) != HM_OK)
        return hm_writer_error(w);
    hm_put_varint(w, s->version);
    hm_put_u64(w, s->height);
    hm_put_u64(w, s->time_ms);
    hm_put_u64(w, s->window_end_ms);
    hm_put_varint(w, s->refunded);
    hm_put_bool(w, s->matured);
    hm_put_raw(w, s->tx_id, HM_HASH_LEN);
    if (s->node_count > CT_SALE_NODES_MAX)
        hm_writer_fail(w, HM_ERR_TOO_LONG);
    hm_put_varint(w, s->node_count);
    for (uint32_t i = 0; i < s->node_count && i < CT_SALE_NODES_MAX; i++) {
        const ct_sale_node *n = &s->nodes[i];
        put_party(w, &n->party);
        hm_put_u16(w, n->parent);
        hm_put_u8(w, n->depth);
        hm_put_u8(w, n->is_fee);
        hm_put_varint(w, n->share_bps);
        hm_put_varint(w, n->version);
        hm_put_varint(w, n->amount);
        hm_put_varint(w, n->voided);
    }
    return hm_writer_error(w);
}

hm_err ct_sale_record_decode(const uint8_t *data, size_t len, ct_sale *out) {
    hm_reader r;
    hm_err err = decode_start(&r, data, len, out, false);
    if (err != HM_OK)
        return err;
    ct_sale *s = calloc(1, sizeof *s);
    if (s == NULL)
        return HM_ERR_NOMEM;
    hm_get_raw(&r, s->platform.bytes, HM_PUBKEY_LEN);
    get_sale_fields(&r, &s->body);
    s->version = (uint32_t)hm_get_varint(&r, UINT32_MAX);
    s->height = hm_get_u64(&r);
    s->time_ms = hm_get_u64(&r);
    s->window_end_ms = hm_get_u64(&r);
    s->refunded = hm_get_varint(&r, UINT64_MAX);
    s->matured = hm_get_bool(&r);
    hm_get_raw(&r, s->tx_id, HM_HASH_LEN);
    s->node_count = (uint32_t)hm_get_varint(&r, CT_SALE_NODES_MAX);
    for (uint32_t i = 0; i < s->node_count && hm_reader_error(&r) == HM_OK; i++) {
        ct_sale_node *n = &s->nodes[i];
        get_party(&r, &n->party);
        n->parent = hm_get_u16(&r);
        n->depth = hm_get_u8(&r);
        n->is_fee = hm_get_u8(&r);
        n->share_bps = (uint32_t)hm_get_varint(&r, CT_BPS_TOTAL);
        n->version = (uint32_t)hm_get_varint(&r, UINT32_MAX);
        n->amount = hm_get_varint(&r, UINT64_MAX);
        n->voided = hm_get_varint(&r, UINT64_MAX);
        bool parent_ok = (i == 0) ? n->parent == CT_NODE_ROOT : n->parent < i;
        if (hm_reader_error(&r) == HM_OK && (!parent_ok || n->voided > n->amount || n->is_fee > 1))
            hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    }
    if (hm_reader_error(&r) == HM_OK && (s->refunded > s->body.gross || s->node_count == 0))
        hm_reader_fail(&r, HM_ERR_BAD_VALUE);
    err = ct_reader_finish_into(&r, out, s, sizeof *s);
    free(s);
    return err;
}

/* ------------------------------------------------------------ accounts */

static const char account_letters[] = {0, 'm', 's', 'p'};

void ct_account_format(const ct_account *a, char out[CT_ACCOUNT_TEXT_LEN + 1]) {
    char letter = (a->kind >= CT_ACCOUNT_MEMBER && a->kind <= CT_ACCOUNT_PAID)
                      ? account_letters[a->kind]
                      : '?';
    out[0] = letter;
    hm_hex_encode(a->owner.bytes, HM_PUBKEY_LEN, out + 1);
}

hm_err ct_account_parse(const char *text, ct_account *out) {
    if (text == NULL || out == NULL)
        return HM_ERR_ARG;
    if (strnlen(text, CT_ACCOUNT_TEXT_LEN + 1) != CT_ACCOUNT_TEXT_LEN)
        return HM_ERR_BAD_VALUE;
    ct_account a;
    memset(&a, 0, sizeof a);
    for (uint8_t k = CT_ACCOUNT_MEMBER; k <= CT_ACCOUNT_PAID; k++)
        if (text[0] == account_letters[k])
            a.kind = k;
    if (a.kind == 0)
        return HM_ERR_BAD_VALUE;
    hm_err err = hm_hex_decode(text + 1, a.owner.bytes, HM_PUBKEY_LEN);
    if (err != HM_OK)
        return err;
    *out = a;
    return HM_OK;
}

/* ------------------------------------------------------ signed requests */

hm_err ct_request_message(const char *method, const char *path, const char *query, uint64_t time_ms,
                          const uint8_t body_hash[HM_HASH_LEN], hm_writer *w) {
    if (method == NULL || path == NULL || query == NULL || body_hash == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_str(w, method, CT_REQUEST_METHOD_MAX);
    hm_put_str(w, path, CT_REQUEST_PATH_MAX);
    hm_put_str(w, query, CT_REQUEST_QUERY_MAX);
    hm_put_u64(w, time_ms);
    hm_put_raw(w, body_hash, HM_HASH_LEN);
    return hm_writer_error(w);
}

#define REQUEST_MSG_MAX (CT_REQUEST_METHOD_MAX + CT_REQUEST_PATH_MAX + CT_REQUEST_QUERY_MAX + 64)

/* Builds the signed-request message of one request into buf. */
static hm_err request_message_build(const char *method, const char *path, const char *query,
                                    uint64_t time_ms, const uint8_t *body, size_t body_len,
                                    uint8_t buf[REQUEST_MSG_MAX], size_t *len) {
    uint8_t body_hash[HM_HASH_LEN];
    hm_sha256(body, body_len, body_hash);
    hm_writer w;
    hm_writer_init(&w, buf, REQUEST_MSG_MAX);
    hm_err err = ct_request_message(method, path, query, time_ms, body_hash, &w);
    *len = w.len;
    return err;
}

hm_err ct_request_sign(const hm_keypair *kp, const char *chain_id, const char *method,
                       const char *path, const char *query, uint64_t time_ms, const uint8_t *body,
                       size_t body_len, hm_sig *sig) {
    if (kp == NULL || sig == NULL || (body == NULL && body_len > 0))
        return HM_ERR_ARG;
    uint8_t buf[REQUEST_MSG_MAX];
    size_t len;
    hm_err err = request_message_build(method, path, query, time_ms, body, body_len, buf, &len);
    if (err != HM_OK)
        return err;
    return hm_sign(kp, HM_PURPOSE_REQUEST, chain_id, buf, len, sig);
}

hm_err ct_request_verify(const hm_pubkey *key, const char *chain_id, const char *method,
                         const char *path, const char *query, uint64_t time_ms, const uint8_t *body,
                         size_t body_len, const hm_sig *sig) {
    if (key == NULL || sig == NULL || (body == NULL && body_len > 0))
        return HM_ERR_ARG;
    uint8_t buf[REQUEST_MSG_MAX];
    size_t len;
    hm_err err = request_message_build(method, path, query, time_ms, body, body_len, buf, &len);
    if (err != HM_OK)
        return err;
    return hm_verify(key, HM_PURPOSE_REQUEST, chain_id, buf, len, sig);
}
