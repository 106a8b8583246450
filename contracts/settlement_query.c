/* contracts/settlement_query.c — read-only queries of settlement state over a
 * committed store: balances, statements, the journal feed, sales with their
 * split trees, contracts, and totals per live session and per streamer.
 *
 * Layer: contracts/ (pure). Reads only through the ct_store it is given and
 * writes nothing. The key layout is the one settlement.c writes (prefixes and
 * builders shared through ct_internal.h), described
 * in docs/settlement.md; a stored value that does not decode is reported as
 * HM_ERR_IO (damaged store), never asserted. */
#include "ct_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static hm_err store_get(const ct_store *s, const ct_key_buf *k, uint8_t **val, size_t *val_len) {
    *val = NULL;
    *val_len = 0;
    return s->get(s->ctx, k->bytes, k->len, val, val_len);
}

/* A decoder's verdict on a stored value: one that does not decode means a
 * damaged store (HM_ERR_IO); running out of memory stays what it is. */
static hm_err stored_decode_err(hm_err err) {
    return err == HM_OK || err == HM_ERR_NOMEM ? err : HM_ERR_IO;
}

static bool account_is_valid(const ct_account *a) {
    return a->kind >= CT_ACCOUNT_MEMBER && a->kind <= CT_ACCOUNT_PAID;
}

/* ------------------------------------------------------------ balances */

hm_err ct_query_balance(const ct_store *s, const ct_account *a, const char *currency,
                        ct_balance *out) {
    if (s == NULL || a == NULL || out == NULL || !account_is_valid(a) ||
        !ct_currency_is_valid(currency))
        return HM_ERR_ARG;
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_BALANCE);
    ct_key_add_account(&k, a);
    ct_key_add(&k, currency, CT_CURRENCY_LEN);
    uint8_t *val;
    size_t val_len;
    hm_err err = store_get(s, &k, &val, &val_len);
    if (err != HM_OK)
        return err;
    ct_balance b;
    memset(&b, 0, sizeof b);
    memcpy(b.currency, currency, CT_CURRENCY_LEN);
    err = ct_balance_decode(val, val_len, &b.pending, &b.available);
    free(val);
    if (err != HM_OK)
        return HM_ERR_IO;
    *out = b;
    return HM_OK;
}

typedef struct {
    ct_balance_fn fn;
    void *arg;
    size_t prefix_len;
    hm_err err;
    size_t seen;
} balances_walk;

static bool visit_balance(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                          size_t val_len) {
    balances_walk *b = arg;
    if (key_len != b->prefix_len + CT_CURRENCY_LEN) {
        b->err = HM_ERR_IO;
        return false;
    }
    ct_balance bal;
    memset(&bal, 0, sizeof bal);
    memcpy(bal.currency, key + b->prefix_len, CT_CURRENCY_LEN);
    if (!ct_currency_is_valid(bal.currency) ||
        ct_balance_decode(val, val_len, &bal.pending, &bal.available) != HM_OK) {
        b->err = HM_ERR_IO;
        return false;
    }
    b->seen++;
    return b->fn(b->arg, &bal);
}

hm_err ct_query_balances(const ct_store *s, const ct_account *a, ct_balance_fn fn, void *arg) {
    if (s == NULL || a == NULL || fn == NULL || !account_is_valid(a))
        return HM_ERR_ARG;
    ct_key_buf start, end;
    ct_key_start(&start, CT_SKEY_BALANCE);
    ct_key_add_account(&start, a);
    end = start;
    /* end = the next account's prefix: bump the last byte, carrying. */
    size_t i = end.len;
    while (i > 4 && end.bytes[i - 1] == 0xff)
        end.bytes[--i] = 0;
    if (i == 4)
        ct_key_start(&end, "s/b0"); /* past every balance: CT_SKEY_BALANCE, last byte + 1 */
    else
        end.bytes[i - 1]++;
    balances_walk b = {fn, arg, start.len, HM_OK, 0};
    hm_err err = s->scan(s->ctx, start.bytes, start.len, end.bytes, end.len, visit_balance, &b);
    if (err != HM_OK)
        return err;
    if (b.err != HM_OK)
        return b.err;
    return b.seen == 0 ? HM_ERR_NOT_FOUND : HM_OK;
}

/* ------------------------------------------------------------ journal */

static hm_err load_posting(const ct_store *s, uint64_t seq, ct_posting *p) {
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_JOURNAL);
    ct_key_add_u64(&k, seq);
    uint8_t *val;
    size_t val_len;
    hm_err err = store_get(s, &k, &val, &val_len);
    if (err == HM_ERR_NOT_FOUND)
        return HM_ERR_IO; /* an index named it */
    if (err != HM_OK)
        return err;
    err = ct_posting_decode(val, val_len, p);
    free(val);
    return stored_decode_err(err);
}

typedef struct {
    const ct_store *s;
    ct_posting_fn fn;
    void *arg;
    size_t seq_offset; /* where the seq sits in the key */
    size_t key_len;
    size_t max;
    size_t seen;
    hm_err err;
} postings_walk;

static bool visit_index(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    (void)val_len;
    postings_walk *w = arg;
    if (key_len != w->key_len) {
        w->err = HM_ERR_IO;
        return false;
    }
    ct_posting p;
    if (w->seq_offset == 4) {
        /* the journal itself: the value is the posting */
        if (ct_posting_decode(val, val_len, &p) != HM_OK) {
            w->err = HM_ERR_IO;
            return false;
        }
    } else {
        w->err = load_posting(w->s, be64(key + w->seq_offset), &p);
        if (w->err != HM_OK)
            return false;
    }
    w->seen++;
    if (!w->fn(w->arg, &p))
        return false;
    return w->max == 0 || w->seen < w->max;
}

hm_err ct_query_statement(const ct_store *s, const ct_account *a, uint64_t from_ms, uint64_t to_ms,
                          ct_posting_fn fn, void *arg) {
    if (s == NULL || a == NULL || fn == NULL || !account_is_valid(a) || from_ms > to_ms)
        return HM_ERR_ARG;
    ct_key_buf start, end;
    ct_key_start(&start, CT_SKEY_ACCOUNT_INDEX);
    ct_key_add_account(&start, a);
    end = start;
    ct_key_add_u64(&start, from_ms);
    ct_key_add_u64(&end, to_ms);
    postings_walk w = {s, fn, arg,  4 + 1 + HM_PUBKEY_LEN + 8, 4 + 1 + HM_PUBKEY_LEN + 16,
                       0, 0,  HM_OK};
    hm_err err = s->scan(s->ctx, start.bytes, start.len, end.bytes, end.len, visit_index, &w);
    return err != HM_OK ? err : w.err;
}

hm_err ct_query_postings_after(const ct_store *s, uint64_t after_seq, size_t max, ct_posting_fn fn,
                               void *arg) {
    if (s == NULL || fn == NULL || after_seq == UINT64_MAX)
        return HM_ERR_ARG;
    ct_key_buf start, end;
    ct_key_start(&start, CT_SKEY_JOURNAL);
    ct_key_add_u64(&start, after_seq + 1);
    ct_key_start(&end, "s/j0"); /* past the journal: CT_SKEY_JOURNAL, last byte + 1 */
    postings_walk w = {s, fn, arg, 4, 4 + 8, max, 0, HM_OK};
    hm_err err = s->scan(s->ctx, start.bytes, start.len, end.bytes, end.len, visit_index, &w);
    return err != HM_OK ? err : w.err;
}

hm_err ct_query_journal_last_seq(const ct_store *s, uint64_t *seq) {
    if (s == NULL || seq == NULL)
        return HM_ERR_ARG;
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_SEQ);
    uint8_t *val;
    size_t val_len;
    hm_err err = store_get(s, &k, &val, &val_len);
    if (err == HM_ERR_NOT_FOUND) {
        *seq = 0;
        return HM_OK;
    }
    if (err != HM_OK)
        return err;
    err = val_len == 8 ? HM_OK : HM_ERR_IO;
    if (err == HM_OK)
        *seq = be64(val);
    free(val);
    return err;
}

/* ------------------------------------------------------------ records */

hm_err ct_query_sale(const ct_store *s, const hm_pubkey *platform, const char *order_id,
                     ct_sale *out) {
    if (s == NULL || platform == NULL || order_id == NULL || out == NULL)
        return HM_ERR_ARG;
    size_t order_len = strnlen(order_id, CT_ORDER_ID_MAX + 1);
    if (order_len == 0 || order_len > CT_ORDER_ID_MAX)
        return HM_ERR_ARG;
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_SALE);
    ct_key_add(&k, platform->bytes, HM_PUBKEY_LEN);
    ct_key_add(&k, order_id, order_len);
    uint8_t *val;
    size_t val_len;
    hm_err err = store_get(s, &k, &val, &val_len);
    if (err != HM_OK)
        return err;
    err = ct_sale_record_decode(val, val_len, out);
    free(val);
    return stored_decode_err(err);
}

hm_err ct_query_split_version(const ct_store *s, const uint8_t id[32], uint32_t version,
                              ct_split_version *out) {
    if (s == NULL || id == NULL || out == NULL)
        return HM_ERR_ARG;
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_VERSION);
    ct_key_add(&k, id, 32);
    ct_key_add_u32(&k, version);
    uint8_t *val;
    size_t val_len;
    hm_err err = store_get(s, &k, &val, &val_len);
    if (err != HM_OK)
        return err;
    err = ct_split_version_decode(val, val_len, out);
    free(val);
    return stored_decode_err(err);
}

hm_err ct_query_split(const ct_store *s, const uint8_t id[32], ct_split_head *head,
                      ct_split_version *latest) {
    if (s == NULL || id == NULL || head == NULL)
        return HM_ERR_ARG;
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_CONTRACT);
    ct_key_add(&k, id, 32);
    uint8_t *val;
    size_t val_len;
    hm_err err = store_get(s, &k, &val, &val_len);
    if (err != HM_OK)
        return err;
    err = stored_decode_err(ct_split_head_decode(val, val_len, head));
    free(val);
    if (err != HM_OK)
        return err;
    if (latest == NULL)
        return HM_OK;
    err = ct_query_split_version(s, id, head->version_count, latest);
    return err == HM_ERR_NOT_FOUND ? HM_ERR_IO : err;
}

static hm_err query_totals(const ct_store *s, const ct_key_buf *k, ct_sale_totals *out) {
    uint8_t *val;
    size_t val_len;
    hm_err err = store_get(s, k, &val, &val_len);
    if (err != HM_OK)
        return err;
    err = ct_sale_totals_decode(val, val_len, out);
    free(val);
    return stored_decode_err(err);
}

hm_err ct_query_session_totals(const ct_store *s, const hm_pubkey *platform, const char *session_id,
                               const char *currency, ct_sale_totals *out) {
    if (s == NULL || platform == NULL || session_id == NULL || out == NULL ||
        !ct_currency_is_valid(currency))
        return HM_ERR_ARG;
    size_t session_len = strnlen(session_id, CT_SESSION_ID_MAX + 1);
    if (session_len == 0 || session_len > CT_SESSION_ID_MAX)
        return HM_ERR_ARG;
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_SESSION);
    ct_key_add(&k, platform->bytes, HM_PUBKEY_LEN);
    ct_key_add(&k, currency, CT_CURRENCY_LEN);
    ct_key_add(&k, session_id, session_len);
    return query_totals(s, &k, out);
}

hm_err ct_query_streamer_totals(const ct_store *s, const hm_pubkey *streamer, const char *currency,
                                ct_sale_totals *out) {
    if (s == NULL || streamer == NULL || out == NULL || !ct_currency_is_valid(currency))
        return HM_ERR_ARG;
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_STREAMER);
    ct_key_add(&k, streamer->bytes, HM_PUBKEY_LEN);
    ct_key_add(&k, currency, CT_CURRENCY_LEN);
    return query_totals(s, &k, out);
}
