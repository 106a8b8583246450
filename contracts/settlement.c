/* contracts/settlement.c — the settlement contract: split contracts and their
 * amendments, sales, refunds, payouts, and the block-time maturing of pending
 * commissions.
 *
 * Layer: contracts/ (pure). Reads and writes state only through the block's
 * overlay (ct_state_*); a refused tx returns HM_OK with res set and the
 * executor rolls back whatever was written. Every money movement goes
 * through post(), which writes a journal posting and the balance it changes;
 * each operation's postings sum to zero in its currency (asserted). Never
 * uses a clock (block time comes from the context), floats, randomness or
 * hash-table order. The state schema is in docs/settlement.md. */
#include "ct_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ keys */

/* The keys' prefixes and builders are in ct_internal.h (CT_SKEY_*). */
#define PREFIX_LEN 4

/* ------------------------------------------------------------ state io */

/* Reads key; *found false when absent. Decodes with dec into out. */
typedef hm_err (*decode_fn)(const uint8_t *data, size_t len, void *out);

static hm_err state_load(ct_exec *x, const ct_key_buf *k, decode_fn dec, void *out, bool *found) {
    uint8_t *val = NULL;
    size_t val_len = 0;
    hm_err err = ct_state_get(x, k->bytes, k->len, &val, &val_len);
    *found = false;
    if (err == HM_ERR_NOT_FOUND)
        return HM_OK;
    if (err != HM_OK)
        return err;
    /* Stored values were written by this code: a value that does not decode
     * means the store is damaged, an operating error, not a refusal. */
    err = dec(val, val_len, out);
    free(val);
    if (err != HM_OK)
        return HM_ERR_IO;
    *found = true;
    return HM_OK;
}

static hm_err state_exists(ct_exec *x, const ct_key_buf *k, bool *found) {
    ct_src from = {.x = x, .s = NULL};
    return ct_src_exists(&from, k->bytes, k->len, found);
}

static hm_err state_put_writer(ct_exec *x, const ct_key_buf *k, hm_writer *w) {
    hm_err err = hm_writer_error(w);
    if (err == HM_OK)
        err = ct_state_put(x, k->bytes, k->len, w->buf, w->len);
    return err;
}

/* ------------------------------------------------------ stored records */

static hm_err split_head_encode(const ct_split_head *h, hm_writer *w) {
    hm_put_raw(w, h->id, 32);
    hm_put_raw(w, h->creator.bytes, HM_PUBKEY_LEN);
    hm_put_str(w, h->name, CT_SPLIT_NAME_MAX);
    hm_put_raw(w, (const uint8_t *)h->currency, CT_CURRENCY_LEN);
    hm_put_varint(w, h->version_count);
    return hm_writer_error(w);
}

hm_err ct_split_head_decode(const uint8_t *data, size_t len, ct_split_head *out) {
    ct_split_head h;
    memset(&h, 0, sizeof h);
    hm_reader r;
    hm_reader_init(&r, data, len);
    hm_get_raw(&r, h.id, 32);
    hm_get_raw(&r, h.creator.bytes, HM_PUBKEY_LEN);
    hm_get_str(&r, h.name, sizeof h.name, CT_SPLIT_NAME_MAX);
    hm_get_raw(&r, (uint8_t *)h.currency, CT_CURRENCY_LEN);
    h.version_count = (uint32_t)hm_get_varint(&r, CT_SPLIT_VERSIONS_MAX);
    return ct_reader_finish_into(&r, out, &h, sizeof h);
}

static hm_err split_version_encode(const ct_split_version *v, hm_writer *w) {
    /* The stored form reuses the amend body layout: version byte, a zero
     * contract id is not needed, so: varint version | varint from | terms. */
    ct_split_amend_body body;
    memset(&body, 0, sizeof body);
    body.from_height = v->from_height;
    body.terms = v->terms;
    hm_put_varint(w, v->version);
    return ct_split_amend_encode(&body, w);
}

hm_err ct_split_version_decode(const uint8_t *data, size_t len, ct_split_version *out) {
    hm_reader r;
    hm_reader_init(&r, data, len);
    uint32_t version = (uint32_t)hm_get_varint(&r, CT_SPLIT_VERSIONS_MAX);
    hm_err err = hm_reader_error(&r);
    if (err != HM_OK)
        return err;
    ct_split_amend_body *body = malloc(sizeof *body);
    if (body == NULL)
        return HM_ERR_NOMEM;
    err = ct_split_amend_decode(data + r.pos, len - r.pos, body);
    if (err == HM_OK) {
        ct_split_version *v = out;
        memset(v, 0, sizeof *v);
        v->version = version;
        v->from_height = body->from_height;
        v->terms = body->terms;
    }
    free(body);
    return err;
}

static hm_err sale_decode_any(const uint8_t *data, size_t len, void *out) {
    return ct_sale_record_decode(data, len, out);
}

static hm_err head_decode_any(const uint8_t *data, size_t len, void *out) {
    return ct_split_head_decode(data, len, out);
}

static hm_err version_decode_any(const uint8_t *data, size_t len, void *out) {
    return ct_split_version_decode(data, len, out);
}

/* ------------------------------------------------------------ contracts */

static void contract_key(ct_key_buf *k, const uint8_t id[32]) {
    ct_key_start(k, CT_SKEY_CONTRACT);
    ct_key_add(k, id, 32);
}

static void version_key(ct_key_buf *k, const uint8_t id[32], uint32_t version) {
    ct_key_start(k, CT_SKEY_VERSION);
    ct_key_add(k, id, 32);
    ct_key_add_u32(k, version);
}

void ct_split_id(const hm_pubkey *creator, const char *name, uint8_t out[32]) {
    uint8_t buf[HM_PUBKEY_LEN + CT_SPLIT_NAME_MAX];
    size_t name_len = strnlen(name, CT_SPLIT_NAME_MAX);
    memcpy(buf, creator->bytes, HM_PUBKEY_LEN);
    memcpy(buf + HM_PUBKEY_LEN, name, name_len);
    hm_tagged_hash("hallmark/split", buf, HM_PUBKEY_LEN + name_len, out);
}

static hm_err load_head(ct_exec *x, const uint8_t id[32], ct_split_head *h, bool *found) {
    ct_key_buf k;
    contract_key(&k, id);
    return state_load(x, &k, head_decode_any, h, found);
}

static hm_err load_version(ct_exec *x, const uint8_t id[32], uint32_t version, ct_split_version *v,
                           bool *found) {
    ct_key_buf k;
    version_key(&k, id, version);
    return state_load(x, &k, version_decode_any, v, found);
}

/* The version in force at height: the latest whose from_height <= height. */
static hm_err resolve_from_state(void *arg, const uint8_t id[32], uint64_t height,
                                 ct_split_version *out) {
    ct_exec *x = arg;
    ct_split_head h;
    bool found;
    hm_err err = load_head(x, id, &h, &found);
    if (err != HM_OK)
        return err;
    if (!found)
        return HM_ERR_NOT_FOUND;
    for (uint32_t v = h.version_count; v >= 1; v--) {
        err = load_version(x, id, v, out, &found);
        if (err != HM_OK)
            return err;
        if (!found)
            return HM_ERR_IO; /* the head promised it */
        if (out->from_height <= height)
            return HM_OK;
    }
    return HM_ERR_NOT_FOUND;
}

/* Recipient i of terms: the fees first, then the shares. */
static const ct_party *terms_party(const ct_split_terms *t, uint32_t i) {
    return i < t->fee_count ? &t->fees[i].to : &t->shares[i - t->fee_count].to;
}

/* The graph check for a new version of `self`: every nested contract must
 * exist with the same currency, no path may lead back to self, and no path
 * may nest deeper than CT_SPLIT_DEPTH_MAX. It walks every version of every
 * reachable contract (a future version too), so no amendment of any of them
 * can later close a cycle through an older one. */
typedef struct {
    ct_exec *x;
    const uint8_t *self;
    uint32_t visits;
    ct_result *res;
    bool refused;
} graph_check;

static hm_err graph_refuse(graph_check *g, uint32_t rule, const char *what) {
    g->refused = true;
    return ct_refuse(g->res, HM_ERR_CONFLICT, rule, 0, "%s", what);
}

static hm_err graph_walk_terms(graph_check *g, const ct_split_terms *t, uint32_t level);

static hm_err graph_walk_contract(graph_check *g, const uint8_t id[32], uint32_t level) {
    if (level > CT_SPLIT_DEPTH_MAX)
        return graph_refuse(g, CT_SRULE_DEPTH, "split contracts would nest too deep");
    ct_split_head h;
    bool found;
    hm_err err = load_head(g->x, id, &h, &found);
    if (err != HM_OK)
        return err;
    if (!found)
        return graph_refuse(g, CT_SRULE_SPLIT_UNKNOWN, "a nested split contract does not exist");
    ct_split_version *ver = malloc(sizeof *ver);
    if (ver == NULL)
        return HM_ERR_NOMEM;
    for (uint32_t v = 1; v <= h.version_count && !g->refused && err == HM_OK; v++) {
        if (++g->visits > CT_SPLIT_CHECK_VISITS_MAX) {
            err =
                graph_refuse(g, CT_SRULE_GRAPH_LIMIT, "the nested contracts are too many to check");
            break;
        }
        err = load_version(g->x, id, v, ver, &found);
        if (err == HM_OK && !found)
            err = HM_ERR_IO;
        if (err == HM_OK)
            err = graph_walk_terms(g, &ver->terms, level);
    }
    free(ver);
    return err;
}

/* Walks the nested contracts of terms that sit at level (self is level 1). */
static hm_err graph_walk_terms(graph_check *g, const ct_split_terms *t, uint32_t level) {
    for (uint32_t i = 0; i < t->fee_count + t->share_count && !g->refused; i++) {
        const ct_party *p = terms_party(t, i);
        if (p->kind != CT_PARTY_SPLIT)
            continue;
        if (memcmp(p->id, g->self, 32) == 0)
            return graph_refuse(g, CT_SRULE_CYCLE, "a split contract would pay itself (cycle)");
        hm_err err = graph_walk_contract(g, p->id, level + 1);
        if (err != HM_OK)
            return err;
    }
    return HM_OK;
}

/* Nested contracts named by terms must have the terms' currency. */
static hm_err check_nested_currency(ct_exec *x, const ct_split_terms *t, ct_result *res,
                                    bool *refused) {
    *refused = false;
    for (uint32_t i = 0; i < t->fee_count + t->share_count; i++) {
        const ct_party *p = terms_party(t, i);
        if (p->kind != CT_PARTY_SPLIT)
            continue;
        ct_split_head h;
        bool found;
        hm_err err = load_head(x, p->id, &h, &found);
        if (err != HM_OK)
            return err;
        if (!found) {
            *refused = true;
            return ct_refuse(res, HM_ERR_NOT_FOUND, CT_SRULE_SPLIT_UNKNOWN, 0,
                             "recipient %u is a split contract that does not exist", i);
        }
        if (strcmp(h.currency, t->currency) != 0) {
            *refused = true;
            return ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_CURRENCY_MISMATCH, 0,
                             "recipient %u is a contract in %s, not %s", i, h.currency,
                             t->currency);
        }
    }
    return HM_OK;
}

static const uint32_t CONTRACT_ROLES =
    CT_ROLE_PLATFORM | CT_ROLE_MCN | CT_ROLE_BRAND | CT_ROLE_ADMIN;
static const uint32_t SALE_ROLES = CT_ROLE_PLATFORM | CT_ROLE_MCN | CT_ROLE_BRAND | CT_ROLE_ADMIN;

static hm_err terms_refuse(ct_result *res, uint32_t rule) {
    switch (rule) {
    case CT_SRULE_SHARES_SUM:
        return ct_refuse(res, HM_ERR_BAD_VALUE, rule, 0, "shares must sum to 10000 basis points");
    case CT_SRULE_CURRENCY:
        return ct_refuse(res, HM_ERR_BAD_VALUE, rule, 0, "currency must be an ISO 4217 code");
    case CT_SRULE_WINDOW:
        return ct_refuse(res, HM_ERR_BAD_VALUE, rule, 0, "return window longer than 366 days");
    case CT_SRULE_FEES:
        return ct_refuse(res, HM_ERR_BAD_VALUE, rule, 0,
                         "fees: at most %d, each 1..10^15 minor units", CT_SPLIT_FEES_MAX);
    default:
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_SRULE_RECIPIENTS, 0,
                         "1..%d recipients, each with a share above zero", CT_SPLIT_SHARES_MAX);
    }
}

/* Checks terms for a version of contract id; refuses through res. */
static hm_err check_terms(ct_exec *x, const uint8_t id[32], const ct_split_terms *t, ct_result *res,
                          bool *refused) {
    uint32_t rule;
    *refused = false;
    if (!ct_split_terms_are_valid(t, &rule)) {
        *refused = true;
        return terms_refuse(res, rule);
    }
    hm_err err = check_nested_currency(x, t, res, refused);
    if (err != HM_OK || *refused)
        return err;
    graph_check g = {x, id, 0, res, false};
    err = graph_walk_terms(&g, t, 1);
    *refused = g.refused;
    return err;
}

static hm_err write_version(ct_exec *x, const uint8_t id[32], const ct_split_version *v) {
    ct_key_buf k;
    version_key(&k, id, v->version);
    hm_writer w;
    hm_writer_init_growable(&w, 8192);
    hm_err err = split_version_encode(v, &w);
    if (err == HM_OK)
        err = state_put_writer(x, &k, &w);
    hm_writer_free(&w);
    return err;
}

static hm_err write_head(ct_exec *x, const ct_split_head *h) {
    ct_key_buf k;
    contract_key(&k, h->id);
    uint8_t buf[256];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_err err = split_head_encode(h, &w);
    if (err == HM_OK)
        err = state_put_writer(x, &k, &w);
    return err;
}

static hm_err apply_split_create(ct_exec *x, const ct_tx *tx, const ct_member *signer,
                                 ct_result *res) {
    if ((signer->roles & CONTRACT_ROLES) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_SRULE_SIGNER, 0,
                         "only a platform, MCN, brand or admin may create a split contract");
    ct_split_create_body *b = malloc(sizeof *b);
    if (b == NULL)
        return HM_ERR_NOMEM;
    hm_err err = ct_split_create_decode(tx->body, tx->body_len, b);
    if (err != HM_OK) {
        free(b);
        return ct_refuse(res, err, CT_SRULE_BODY, 0, "malformed split contract: %s",
                         hm_err_message(err));
    }
    ct_split_head h;
    memset(&h, 0, sizeof h);
    ct_split_id(&signer->key, b->name, h.id);
    bool found, refused = false;
    ct_split_head old;
    err = load_head(x, h.id, &old, &found);
    if (err == HM_OK && found) {
        refused = true;
        (void)ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_SPLIT_EXISTS, 0,
                        "this creator already has a split contract named \"%s\"", b->name);
    }
    if (err == HM_OK && !refused)
        err = check_terms(x, h.id, &b->terms, res, &refused);
    if (err == HM_OK && !refused) {
        h.creator = signer->key;
        memcpy(h.name, b->name, sizeof h.name);
        memcpy(h.currency, b->terms.currency, sizeof h.currency);
        h.version_count = 1;
        ct_split_version *v = malloc(sizeof *v);
        if (v == NULL) {
            free(b);
            return HM_ERR_NOMEM;
        }
        v->version = 1;
        v->from_height = ct_exec_ctx(x)->height;
        v->terms = b->terms;
        err = write_version(x, h.id, v);
        free(v);
        if (err == HM_OK)
            err = write_head(x, &h);
    }
    free(b);
    return err;
}

static hm_err apply_split_amend(ct_exec *x, const ct_tx *tx, const ct_member *signer,
                                ct_result *res) {
    ct_split_amend_body *b = malloc(sizeof *b);
    if (b == NULL)
        return HM_ERR_NOMEM;
    hm_err err = ct_split_amend_decode(tx->body, tx->body_len, b);
    if (err != HM_OK) {
        free(b);
        return ct_refuse(res, err, CT_SRULE_BODY, 0, "malformed amendment: %s",
                         hm_err_message(err));
    }
    ct_split_head h;
    bool found, refused = true;
    ct_split_version *last = malloc(sizeof *last);
    if (last == NULL) {
        free(b);
        return HM_ERR_NOMEM;
    }
    err = load_head(x, b->contract_id, &h, &found);
    if (err != HM_OK) {
        /* operating error, reported below */
    } else if (!found) {
        (void)ct_refuse(res, HM_ERR_NOT_FOUND, CT_SRULE_SPLIT_UNKNOWN, 0, "no such split contract");
    } else if (memcmp(h.creator.bytes, signer->key.bytes, HM_PUBKEY_LEN) != 0) {
        (void)ct_refuse(res, HM_ERR_DENIED, CT_SRULE_SIGNER, 0,
                        "only the contract's creator may amend it");
    } else if (strcmp(h.currency, b->terms.currency) != 0) {
        (void)ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_CURRENCY_MISMATCH, 0,
                        "an amendment cannot change the currency (%s)", h.currency);
    } else if (h.version_count >= CT_SPLIT_VERSIONS_MAX) {
        (void)ct_refuse(res, HM_ERR_LIMIT, CT_SRULE_VERSIONS, 0, "at most %d versions",
                        CT_SPLIT_VERSIONS_MAX);
    } else if ((err = load_version(x, b->contract_id, h.version_count, last, &found)) != HM_OK) {
        /* operating error */
    } else if (!found) {
        err = HM_ERR_IO;
    } else if (b->from_height < ct_exec_ctx(x)->height || b->from_height <= last->from_height) {
        (void)ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_AMEND_HEIGHT, 0,
                        "an amendment applies from this block's height or later, after the "
                        "last version's (%llu)",
                        (unsigned long long)last->from_height);
    } else {
        err = check_terms(x, b->contract_id, &b->terms, res, &refused);
    }
    if (err == HM_OK && !refused) {
        last->version = h.version_count + 1;
        last->from_height = b->from_height;
        last->terms = b->terms;
        err = write_version(x, b->contract_id, last);
        h.version_count++;
        if (err == HM_OK)
            err = write_head(x, &h);
    }
    free(last);
    free(b);
    return err;
}

/* ------------------------------------------------------------ postings */

/* One operation's journal context: postings get consecutive sequence
 * numbers and must sum to zero in the operation's currency. */
typedef struct {
    ct_exec *x;
    const uint8_t *tx_id; /* zero for maturities */
    const hm_pubkey *platform;
    const char *order_id;
    const char *currency;
    int64_t sum;
} op;

static const uint8_t ZERO32[32];
static const hm_pubkey ZERO_KEY;

static hm_err next_seq(ct_exec *x, uint64_t *seq) {
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_SEQ);
    uint8_t *val = NULL;
    size_t val_len = 0;
    uint64_t last = 0;
    hm_err err = ct_state_get(x, k.bytes, k.len, &val, &val_len);
    if (err == HM_OK) {
        hm_reader r;
        hm_reader_init(&r, val, val_len);
        last = hm_get_u64(&r);
        err = hm_reader_finish(&r) == HM_OK ? HM_OK : HM_ERR_IO;
    } else if (err == HM_ERR_NOT_FOUND) {
        err = HM_OK;
    }
    free(val);
    if (err != HM_OK)
        return err;
    uint8_t buf[8];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_u64(&w, last + 1);
    *seq = last + 1;
    return ct_state_put(x, k.bytes, k.len, buf, w.len);
}

static void balance_key(ct_key_buf *k, const ct_account *a, const char *currency) {
    ct_key_start(k, CT_SKEY_BALANCE);
    ct_key_add_account(k, a);
    ct_key_add(k, currency, CT_CURRENCY_LEN);
}

hm_err ct_balance_decode(const uint8_t *data, size_t len, int64_t *pending, int64_t *available) {
    hm_reader r;
    hm_reader_init(&r, data, len);
    uint64_t p = hm_get_u64(&r);
    uint64_t a = hm_get_u64(&r);
    hm_err err = hm_reader_finish(&r);
    if (err == HM_OK) {
        *pending = (int64_t)p;
        *available = (int64_t)a;
    }
    return err;
}

static hm_err load_balance(ct_exec *x, const ct_account *a, const char *currency, int64_t *pending,
                           int64_t *available) {
    ct_key_buf k;
    balance_key(&k, a, currency);
    uint8_t *val = NULL;
    size_t val_len = 0;
    *pending = 0;
    *available = 0;
    hm_err err = ct_state_get(x, k.bytes, k.len, &val, &val_len);
    if (err == HM_ERR_NOT_FOUND)
        return HM_OK;
    if (err == HM_OK && ct_balance_decode(val, val_len, pending, available) != HM_OK)
        err = HM_ERR_IO;
    free(val);
    return err;
}

static bool add_overflows(int64_t a, int64_t b, int64_t *out) {
    return __builtin_add_overflow(a, b, out);
}

/* Posts amount to (account, bucket): the journal entry, the account's
 * statement index and its balance. HM_ERR_OVERFLOW when the balance would
 * leave int64 (a refusal for the caller).
 *
 * Pending and available together must stay within int64 too. Pending is never
 * below zero, so with that bound maturing (pending -> available, in
 * end_block, where nothing can be refused) can never overflow; without it a
 * member holding nearly 2^63 in both buckets, which two sellers could build
 * up, would make end_block fail on every node at the same block, for good. */
static hm_err post(op *o, uint8_t entry, const ct_account *account, uint8_t bucket,
                   int64_t amount) {
    if (amount == 0)
        return HM_OK;
    int64_t pending, available, both;
    hm_err err = load_balance(o->x, account, o->currency, &pending, &available);
    if (err != HM_OK)
        return err;
    int64_t *target = bucket == CT_BUCKET_PENDING ? &pending : &available;
    if (add_overflows(*target, amount, target) || add_overflows(pending, available, &both) ||
        add_overflows(o->sum, amount, &o->sum))
        return HM_ERR_OVERFLOW;
    const ct_block_ctx *ctx = ct_exec_ctx(o->x);

    ct_posting p;
    memset(&p, 0, sizeof p);
    err = next_seq(o->x, &p.seq);
    if (err != HM_OK)
        return err;
    p.height = ctx->height;
    p.time_ms = ctx->time_ms;
    p.entry = entry;
    memcpy(p.tx_id, o->tx_id, HM_HASH_LEN);
    p.platform = *o->platform;
    snprintf(p.order_id, sizeof p.order_id, "%s", o->order_id);
    p.account = *account;
    memcpy(p.currency, o->currency, CT_CURRENCY_LEN);
    p.bucket = bucket;
    p.amount = amount;

    uint8_t buf[256];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    err = ct_posting_encode(&p, &w);
    if (err != HM_OK)
        return err;
    ct_key_buf k;
    ct_key_start(&k, CT_SKEY_JOURNAL);
    ct_key_add_u64(&k, p.seq);
    err = ct_state_put(o->x, k.bytes, k.len, buf, w.len);
    if (err != HM_OK)
        return err;

    ct_key_start(&k, CT_SKEY_ACCOUNT_INDEX);
    ct_key_add_account(&k, account);
    ct_key_add_u64(&k, p.time_ms);
    ct_key_add_u64(&k, p.seq);
    err = ct_state_put(o->x, k.bytes, k.len, NULL, 0);
    if (err != HM_OK)
        return err;

    uint8_t bal[16];
    hm_writer_init(&w, bal, sizeof bal);
    hm_put_u64(&w, (uint64_t)pending);
    hm_put_u64(&w, (uint64_t)available);
    balance_key(&k, account, o->currency);
    return ct_state_put(o->x, k.bytes, k.len, bal, w.len);
}

static ct_account member_account(const uint8_t id[32]) {
    ct_account a = {.kind = CT_ACCOUNT_MEMBER};
    memcpy(a.owner.bytes, id, HM_PUBKEY_LEN);
    return a;
}

/* ------------------------------------------------------------ sales */

/* A platform's sales clearing account: the source of every gross. */
static ct_account clearing_account(const hm_pubkey *platform) {
    ct_account a = {.kind = CT_ACCOUNT_SALES, .owner = *platform};
    return a;
}

static void item_key(ct_key_buf *k, const char *gtin, const char *serial) {
    ct_key_start(k, CT_SKEY_ITEM);
    ct_key_add(k, gtin, CT_GTIN_LEN);
    ct_key_add_str(k, serial);
}

static void sale_key(ct_key_buf *k, const hm_pubkey *platform, const char *order_id) {
    ct_key_start(k, CT_SKEY_SALE);
    ct_key_add(k, platform->bytes, HM_PUBKEY_LEN);
    ct_key_add_str(k, order_id);
}

static void maturity_key(ct_key_buf *k, uint64_t window_end_ms, const hm_pubkey *platform,
                         const char *order_id) {
    ct_key_start(k, CT_SKEY_MATURITY);
    ct_key_add_u64(k, window_end_ms);
    ct_key_add(k, platform->bytes, HM_PUBKEY_LEN);
    ct_key_add_str(k, order_id);
}

static hm_err write_sale(ct_exec *x, const ct_sale *s) {
    ct_key_buf k;
    sale_key(&k, &s->platform, s->body.order_id);
    hm_writer w;
    hm_writer_init_growable(&w, 64 * 1024);
    hm_err err = ct_sale_record_encode(s, &w);
    if (err == HM_OK)
        err = state_put_writer(x, &k, &w);
    hm_writer_free(&w);
    return err;
}

hm_err ct_sale_totals_decode(const uint8_t *data, size_t len, ct_sale_totals *out) {
    hm_reader r;
    hm_reader_init(&r, data, len);
    ct_sale_totals t;
    t.sales = hm_get_varint(&r, UINT64_MAX);
    t.gross = hm_get_varint(&r, UINT64_MAX);
    t.refunded = hm_get_varint(&r, UINT64_MAX);
    return ct_reader_finish_into(&r, out, &t, sizeof t);
}

static hm_err totals_decode_any(const uint8_t *data, size_t len, void *out) {
    return ct_sale_totals_decode(data, len, out);
}

/* Adds to a totals record; saturating is never needed: sale counts and
 * amounts are bounded far below 2^64 per record by CT_AMOUNT_MAX and the
 * overflow check. HM_ERR_OVERFLOW refuses. */
static hm_err totals_add(ct_exec *x, const ct_key_buf *k, uint64_t sales, uint64_t gross,
                         uint64_t refunded) {
    ct_sale_totals t = {0, 0, 0};
    bool found;
    hm_err err = state_load(x, k, totals_decode_any, &t, &found);
    if (err != HM_OK)
        return err;
    if (__builtin_add_overflow(t.sales, sales, &t.sales) ||
        __builtin_add_overflow(t.gross, gross, &t.gross) ||
        __builtin_add_overflow(t.refunded, refunded, &t.refunded))
        return HM_ERR_OVERFLOW;
    uint8_t buf[32];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_put_varint(&w, t.sales);
    hm_put_varint(&w, t.gross);
    hm_put_varint(&w, t.refunded);
    return state_put_writer(x, k, &w);
}

static hm_err sale_totals_add(ct_exec *x, const ct_sale *s, uint64_t sales, uint64_t gross,
                              uint64_t refunded) {
    ct_key_buf k;
    hm_err err = HM_OK;
    if (s->body.session_id[0] != '\0') {
        ct_key_start(&k, CT_SKEY_SESSION);
        ct_key_add(&k, s->platform.bytes, HM_PUBKEY_LEN);
        ct_key_add(&k, s->body.currency, CT_CURRENCY_LEN);
        ct_key_add_str(&k, s->body.session_id);
        err = totals_add(x, &k, sales, gross, refunded);
    }
    if (err == HM_OK && s->body.has_streamer) {
        ct_key_start(&k, CT_SKEY_STREAMER);
        ct_key_add(&k, s->body.streamer.bytes, HM_PUBKEY_LEN);
        ct_key_add(&k, s->body.currency, CT_CURRENCY_LEN);
        err = totals_add(x, &k, sales, gross, refunded);
    }
    return err;
}

/* resolve_from_state that keeps what a sale needs of its root contract's
 * version, so that the expansion's own resolution of it is not repeated.
 * Every resolution is at the same height, so any of the root gives it. */
typedef struct {
    ct_exec *x;
    const uint8_t *root_id;
    bool have_root;
    uint32_t root_version;
    uint64_t root_window_ms;
} sale_resolve;

static hm_err resolve_for_sale(void *arg, const uint8_t id[32], uint64_t height,
                               ct_split_version *out) {
    sale_resolve *r = arg;
    hm_err err = resolve_from_state(r->x, id, height, out);
    if (err == HM_OK && !r->have_root && memcmp(id, r->root_id, 32) == 0) {
        r->have_root = true;
        r->root_version = out->version;
        r->root_window_ms = out->terms.return_window_ms;
    }
    return err;
}

/* Records one sale; refusals carry record index `index`. */
static hm_err apply_one_sale(ct_exec *x, const uint8_t tx_id[32], const ct_member *signer,
                             const ct_sale_body *b, uint32_t index, ct_result *res) {
    const ct_block_ctx *ctx = ct_exec_ctx(x);
    if (b->gross == 0 || b->gross > CT_AMOUNT_MAX)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_SRULE_AMOUNT, index,
                         "gross must be 1..10^15 minor units");
    ct_split_head h;
    bool found;
    hm_err err = load_head(x, b->contract_id, &h, &found);
    if (err != HM_OK)
        return err;
    if (!found)
        return ct_refuse(res, HM_ERR_NOT_FOUND, CT_SRULE_SPLIT_UNKNOWN, index,
                         "no such split contract");
    if (strcmp(h.currency, b->currency) != 0)
        return ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_CURRENCY_MISMATCH, index,
                         "sale in %s under a contract in %s", b->currency, h.currency);
    ct_key_buf k;
    sale_key(&k, &signer->key, b->order_id);
    err = state_exists(x, &k, &found);
    if (err != HM_OK)
        return err;
    if (found)
        return ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_ORDER_DUPLICATE, index,
                         "order id \"%s\" already recorded by this platform", b->order_id);

    ct_sale *s = calloc(1, sizeof *s);
    if (s == NULL)
        return HM_ERR_NOMEM;
    s->platform = signer->key;
    s->body = *b;
    s->height = ctx->height;
    s->time_ms = ctx->time_ms;
    memcpy(s->tx_id, tx_id, HM_HASH_LEN);
    ct_expand_error why;
    sale_resolve sr = {x, b->contract_id, false, 0, 0};
    err = ct_split_expand(resolve_for_sale, &sr, b->contract_id, b->currency, ctx->height, b->gross,
                          s->nodes, CT_SALE_NODES_MAX, &s->node_count, &why);
    if (err == HM_ERR_CONFLICT) {
        free(s);
        return ct_refuse(res, HM_ERR_CONFLICT, why.rule, index, "%s", why.message);
    }
    if (err != HM_OK) {
        free(s);
        return err;
    }
    assert(sr.have_root); /* a successful expansion resolved the root first */
    s->version = sr.root_version;
    if (__builtin_add_overflow(ctx->time_ms, sr.root_window_ms, &s->window_end_ms))
        s->window_end_ms = UINT64_MAX;

    op o = {x, tx_id, &s->platform, b->order_id, b->currency, 0};
    ct_account clearing = clearing_account(&s->platform);
    err = post(&o, CT_ENTRY_SALE, &clearing, CT_BUCKET_AVAILABLE, -(int64_t)b->gross);
    for (uint32_t i = 0; i < s->node_count && err == HM_OK; i++) {
        if (s->nodes[i].party.kind != CT_PARTY_ACCOUNT)
            continue;
        ct_account a = member_account(s->nodes[i].party.id);
        err = post(&o, CT_ENTRY_SALE, &a, CT_BUCKET_PENDING, (int64_t)s->nodes[i].amount);
    }
    if (err == HM_OK) {
        assert(o.sum == 0);
        err = write_sale(x, s);
    }
    if (err == HM_OK) {
        maturity_key(&k, s->window_end_ms, &s->platform, b->order_id);
        err = ct_state_put(x, k.bytes, k.len, NULL, 0);
    }
    if (err == HM_OK && b->has_item) {
        item_key(&k, b->gtin, b->serial);
        uint8_t link[HM_PUBKEY_LEN + CT_ORDER_ID_MAX];
        size_t order_len = strlen(b->order_id);
        memcpy(link, s->platform.bytes, HM_PUBKEY_LEN);
        memcpy(link + HM_PUBKEY_LEN, b->order_id, order_len);
        err = ct_state_put(x, k.bytes, k.len, link, HM_PUBKEY_LEN + order_len);
    }
    if (err == HM_OK)
        err = sale_totals_add(x, s, 1, b->gross, 0);
    free(s);
    if (err == HM_ERR_OVERFLOW)
        return ct_refuse(res, HM_ERR_OVERFLOW, CT_SRULE_AMOUNT, index,
                         "a balance or total would overflow");
    return err;
}

static hm_err apply_sale(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    if ((signer->roles & SALE_ROLES) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_SRULE_SIGNER, 0,
                         "only a platform, MCN, brand or admin may record sales");
    ct_sale_body b;
    if (!tx->has_records) {
        hm_err err = ct_sale_decode(tx->body, tx->body_len, true, &b);
        if (err != HM_OK)
            return ct_refuse(res, err, CT_SRULE_BODY, 0, "malformed sale: %s", hm_err_message(err));
        return apply_one_sale(x, tx->id, signer, &b, 0, res);
    }
    if (tx->body_len != 0 || tx->record_count == 0)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_SRULE_BATCH, 0,
                         "a batch of sales has an empty body and at least one record");
    size_t pos = 0;
    const uint8_t *rec;
    size_t rec_len;
    for (uint32_t i = 0; ct_tx_record_next(tx, &pos, &rec, &rec_len); i++) {
        hm_err err = ct_sale_decode(rec, rec_len, false, &b);
        if (err != HM_OK)
            return ct_refuse(res, err, CT_SRULE_BODY, i, "malformed sale record: %s",
                             hm_err_message(err));
        err = apply_one_sale(x, tx->id, signer, &b, i, res);
        if (err != HM_OK || res->code != HM_OK)
            return err;
    }
    return HM_OK;
}

/* ------------------------------------------------------------ refunds */

/* Whether the postings of a refund (voided[i] out of each leaf's bucket,
 * amount into the clearing account) keep every balance within int64. One
 * member may hold several leaves: their parts are summed. */
static hm_err refund_fits(ct_exec *x, const ct_sale *s, const uint64_t *voided, uint64_t amount,
                          uint8_t bucket, bool *fits) {
    *fits = true;
    int64_t pending, available, after;
    for (uint32_t i = 0; i < s->node_count && *fits; i++) {
        if (voided[i] == 0)
            continue;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = voided[j] > 0 && memcmp(s->nodes[j].party.id, s->nodes[i].party.id, 32) == 0;
        if (seen)
            continue;
        uint64_t total = 0; /* at most the sale's gross: no overflow */
        for (uint32_t j = i; j < s->node_count; j++)
            if (voided[j] > 0 && memcmp(s->nodes[j].party.id, s->nodes[i].party.id, 32) == 0)
                total += voided[j];
        ct_account a = member_account(s->nodes[i].party.id);
        hm_err err = load_balance(x, &a, s->body.currency, &pending, &available);
        if (err != HM_OK)
            return err;
        int64_t target = bucket == CT_BUCKET_PENDING ? pending : available;
        *fits = total <= INT64_MAX && !__builtin_sub_overflow(target, (int64_t)total, &after);
    }
    if (*fits) {
        ct_account clearing = clearing_account(&s->platform);
        hm_err err = load_balance(x, &clearing, s->body.currency, &pending, &available);
        if (err != HM_OK)
            return err;
        *fits = amount <= INT64_MAX && !add_overflows(available, (int64_t)amount, &after) &&
                !add_overflows(pending, after, &after);
    }
    return HM_OK;
}

/* Voids `amount` of sale s (already checked: 0 < amount <= what is left),
 * posts it and stores the sale. HM_ERR_OVERFLOW refuses, and is found before
 * anything is written, so that a caller that cannot roll back (the
 * item-returned hook) is left with nothing half done. */
static hm_err refund_sale(ct_exec *x, const uint8_t tx_id[32], ct_sale *s, uint64_t amount) {
    uint64_t voided[CT_SALE_NODES_MAX];
    hm_err err = ct_sale_void(s->nodes, s->node_count, amount, voided);
    assert(err == HM_OK); /* the caller checked amount against what is left */
    if (err != HM_OK)
        return HM_ERR_IO;
    /* Inside the window the pending parts are voided; after it, the money
     * comes back out of available balances, which may go below zero (owed). */
    uint8_t bucket = s->matured ? CT_BUCKET_AVAILABLE : CT_BUCKET_PENDING;
    bool fits;
    err = refund_fits(x, s, voided, amount, bucket, &fits);
    if (err != HM_OK)
        return err;
    if (!fits)
        return HM_ERR_OVERFLOW;
    op o = {x, tx_id, &s->platform, s->body.order_id, s->body.currency, 0};
    for (uint32_t i = 0; i < s->node_count && err == HM_OK; i++) {
        if (voided[i] == 0)
            continue;
        ct_account a = member_account(s->nodes[i].party.id);
        err = post(&o, CT_ENTRY_REFUND, &a, bucket, -(int64_t)voided[i]);
    }
    ct_account clearing = clearing_account(&s->platform);
    if (err == HM_OK)
        err = post(&o, CT_ENTRY_REFUND, &clearing, CT_BUCKET_AVAILABLE, (int64_t)amount);
    if (err != HM_OK)
        return err;
    assert(o.sum == 0);
    s->refunded += amount;
    err = write_sale(x, s);
    if (err == HM_OK)
        err = sale_totals_add(x, s, 0, 0, amount);
    return err;
}

static hm_err load_sale(ct_exec *x, const hm_pubkey *platform, const char *order_id, ct_sale *s,
                        bool *found) {
    ct_key_buf k;
    sale_key(&k, platform, order_id);
    return state_load(x, &k, sale_decode_any, s, found);
}

static hm_err apply_refund(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    if (tx->has_records)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_SRULE_BATCH, 0, "a refund carries no records");
    ct_refund_body b;
    hm_err err = ct_refund_decode(tx->body, tx->body_len, &b);
    if (err != HM_OK)
        return ct_refuse(res, err, CT_SRULE_BODY, 0, "malformed refund: %s", hm_err_message(err));
    if (b.amount == 0 || b.amount > CT_AMOUNT_MAX)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_SRULE_AMOUNT, 0,
                         "refund must be 1..10^15 minor units");
    ct_sale *s = malloc(sizeof *s);
    if (s == NULL)
        return HM_ERR_NOMEM;
    bool found;
    /* Sales are keyed by the platform that recorded them, so only that
     * platform can name (and so refund) its own orders. */
    err = load_sale(x, &signer->key, b.order_id, s, &found);
    if (err != HM_OK) {
        /* operating error */
    } else if (!found) {
        (void)ct_refuse(res, HM_ERR_NOT_FOUND, CT_SRULE_SALE_UNKNOWN, 0,
                        "this platform recorded no order \"%s\"", b.order_id);
    } else if (strcmp(s->body.currency, b.currency) != 0) {
        (void)ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_CURRENCY_MISMATCH, 0,
                        "refund in %s of a sale in %s", b.currency, s->body.currency);
    } else if (b.amount > s->body.gross - s->refunded) {
        (void)ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_OVER_REFUND, 0,
                        "refund %llu above what is left of the sale (%llu)",
                        (unsigned long long)b.amount,
                        (unsigned long long)(s->body.gross - s->refunded));
    } else {
        err = refund_sale(x, tx->id, s, b.amount);
        if (err == HM_ERR_OVERFLOW)
            err = ct_refuse(res, HM_ERR_OVERFLOW, CT_SRULE_AMOUNT, 0, "a balance would overflow");
    }
    free(s);
    return err;
}

hm_err ct_settle_item_returned(ct_exec *x, const char *gtin, const char *serial,
                               const uint8_t tx_id[HM_HASH_LEN], uint64_t *refunded) {
    if (x == NULL || gtin == NULL || serial == NULL || tx_id == NULL || refunded == NULL)
        return HM_ERR_ARG;
    *refunded = 0;
    if (strnlen(gtin, CT_GTIN_LEN + 1) != CT_GTIN_LEN ||
        strnlen(serial, CT_SERIAL_MAX + 1) > CT_SERIAL_MAX)
        return HM_OK; /* not an item a sale can link */
    ct_key_buf k;
    item_key(&k, gtin, serial);
    uint8_t *link = NULL;
    size_t link_len = 0;
    hm_err err = ct_state_get(x, k.bytes, k.len, &link, &link_len);
    if (err == HM_ERR_NOT_FOUND)
        return HM_OK;
    if (err != HM_OK)
        return err;
    if (link_len <= HM_PUBKEY_LEN || link_len > HM_PUBKEY_LEN + CT_ORDER_ID_MAX) {
        free(link);
        return HM_ERR_IO;
    }
    hm_pubkey platform;
    char order_id[CT_ORDER_ID_MAX + 1];
    memcpy(platform.bytes, link, HM_PUBKEY_LEN);
    memcpy(order_id, link + HM_PUBKEY_LEN, link_len - HM_PUBKEY_LEN);
    order_id[link_len - HM_PUBKEY_LEN] = '\0';
    free(link);
    ct_sale *s = malloc(sizeof *s);
    if (s == NULL)
        return HM_ERR_NOMEM;
    bool found;
    err = load_sale(x, &platform, order_id, s, &found);
    if (err == HM_OK && !found)
        err = HM_ERR_IO;
    if (err == HM_OK && s->refunded < s->body.gross) {
        uint64_t left = s->body.gross - s->refunded;
        err = refund_sale(x, tx_id, s, left);
        if (err == HM_OK)
            *refunded = left;
        /* A balance at the edge of int64 is not an operating error: the
         * event stands, without a refund, and refund_sale wrote nothing. */
        if (err == HM_ERR_OVERFLOW)
            err = HM_OK;
    }
    free(s);
    return err;
}

bool ct_settle_disposition_is_returned(const char *disposition) {
    if (disposition == NULL)
        return false;
    return strcmp(disposition, "returned") == 0 ||
           strcmp(disposition, "https://ref.gs1.org/cbv/Disp-returned") == 0 ||
           strcmp(disposition, "urn:epcglobal:cbv:disp:returned") == 0;
}

/* ------------------------------------------------------------ payouts */

static hm_err apply_payout(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    if (tx->has_records)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_SRULE_BATCH, 0, "a payout carries no records");
    ct_payout_body b;
    hm_err err = ct_payout_decode(tx->body, tx->body_len, &b);
    if (err != HM_OK)
        return ct_refuse(res, err, CT_SRULE_BODY, 0, "malformed payout: %s", hm_err_message(err));
    bool is_owner = memcmp(b.account.bytes, signer->key.bytes, HM_PUBKEY_LEN) == 0;
    if (!is_owner && (signer->roles & (CT_ROLE_PLATFORM | CT_ROLE_ADMIN)) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_SRULE_SIGNER, 0,
                         "only the account's owner, a platform or an admin records a payout");
    if (b.amount == 0 || b.amount > CT_AMOUNT_MAX)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_SRULE_AMOUNT, 0,
                         "payout must be 1..10^15 minor units");
    ct_account acct = member_account(b.account.bytes);
    int64_t pending, available;
    err = load_balance(x, &acct, b.currency, &pending, &available);
    if (err != HM_OK)
        return err;
    int64_t amount = (int64_t)b.amount;
    if (available < amount) {
        int64_t total;
        bool within_total = !add_overflows(available, pending, &total) && total >= amount;
        if (within_total && pending > 0)
            return ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_PAYOUT_PENDING, 0,
                             "payout %lld needs money still pending (available %lld)",
                             (long long)amount, (long long)available);
        return ct_refuse(res, HM_ERR_CONFLICT, CT_SRULE_OVER_PAYOUT, 0,
                         "payout %lld above the available balance %lld", (long long)amount,
                         (long long)available);
    }
    op o = {x, tx->id, &ZERO_KEY, "", b.currency, 0};
    ct_account paid = {.kind = CT_ACCOUNT_PAID, .owner = b.account};
    err = post(&o, CT_ENTRY_PAYOUT, &acct, CT_BUCKET_AVAILABLE, -amount);
    if (err == HM_OK)
        err = post(&o, CT_ENTRY_PAYOUT, &paid, CT_BUCKET_AVAILABLE, amount);
    if (err == HM_ERR_OVERFLOW)
        return ct_refuse(res, HM_ERR_OVERFLOW, CT_SRULE_AMOUNT, 0, "a balance would overflow");
    assert(err != HM_OK || o.sum == 0);
    return err;
}

/* ------------------------------------------------------------ dispatch */

hm_err ct_settle_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    assert(x != NULL && tx != NULL && res != NULL);
    if (signer == NULL)
        return ct_refuse(res, HM_ERR_DENIED, CT_SRULE_SIGNER, 0,
                         "settlement transactions are signed by a member");
    if (tx->type != CT_TX_SALE && tx->has_records)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_SRULE_BATCH, 0,
                         "only sales may come as a batch of records");
    switch (tx->type) {
    case CT_TX_SPLIT_CREATE:
        return apply_split_create(x, tx, signer, res);
    case CT_TX_SPLIT_AMEND:
        return apply_split_amend(x, tx, signer, res);
    case CT_TX_SALE:
        return apply_sale(x, tx, signer, res);
    case CT_TX_REFUND:
        return apply_refund(x, tx, signer, res);
    case CT_TX_PAYOUT:
        return apply_payout(x, tx, signer, res);
    default:
        return ct_refuse(res, HM_ERR_UNKNOWN_TYPE, 0, 0, "unknown settlement type %u", tx->type);
    }
}

/* ------------------------------------------------------------ maturity */

/* The keys due for maturity, packed as (u16 length, bytes) so that a block
 * maturing 100,000 sales holds a few MB, not 100,000 key buffers. */
typedef struct {
    uint8_t *bytes;
    size_t len, cap;
    size_t count;
    hm_err err;
} key_list;

static bool collect_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    (void)val;
    (void)val_len;
    key_list *l = arg;
    if (key_len > CT_KEY_MAX) {
        l->err = HM_ERR_IO;
        return false;
    }
    if (l->len + 2 + key_len > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        while (cap < l->len + 2 + key_len)
            cap *= 2;
        uint8_t *grown = realloc(l->bytes, cap);
        if (grown == NULL) {
            l->err = HM_ERR_NOMEM;
            return false;
        }
        l->bytes = grown;
        l->cap = cap;
    }
    l->bytes[l->len] = (uint8_t)(key_len >> 8);
    l->bytes[l->len + 1] = (uint8_t)key_len;
    memcpy(l->bytes + l->len + 2, key, key_len);
    l->len += 2 + key_len;
    l->count++;
    return true;
}

/* Moves what is left of one sale from pending to available. */
static hm_err mature_sale(ct_exec *x, const ct_key_buf *index_key, ct_sale *s) {
    /* index key = prefix | window_end(8) | platform(32) | order id */
    size_t head = PREFIX_LEN + 8 + HM_PUBKEY_LEN;
    if (index_key->len <= head || index_key->len > head + CT_ORDER_ID_MAX)
        return HM_ERR_IO;
    hm_pubkey platform;
    char order_id[CT_ORDER_ID_MAX + 1];
    memcpy(platform.bytes, index_key->bytes + PREFIX_LEN + 8, HM_PUBKEY_LEN);
    memcpy(order_id, index_key->bytes + head, index_key->len - head);
    order_id[index_key->len - head] = '\0';
    bool found;
    hm_err err = load_sale(x, &platform, order_id, s, &found);
    if (err == HM_OK && !found)
        err = HM_ERR_IO;
    if (err != HM_OK)
        return err;
    if (s->matured)
        return HM_ERR_IO; /* still indexed as due: the store is damaged */
    op o = {x, ZERO32, &s->platform, s->body.order_id, s->body.currency, 0};
    for (uint32_t i = 0; i < s->node_count && err == HM_OK; i++) {
        if (s->nodes[i].party.kind != CT_PARTY_ACCOUNT)
            continue;
        int64_t left = (int64_t)(s->nodes[i].amount - s->nodes[i].voided);
        ct_account a = member_account(s->nodes[i].party.id);
        err = post(&o, CT_ENTRY_MATURE, &a, CT_BUCKET_PENDING, -left);
        if (err == HM_OK)
            err = post(&o, CT_ENTRY_MATURE, &a, CT_BUCKET_AVAILABLE, left);
    }
    /* Moving money between two buckets of one account cannot overflow
     * unless available was already near 2^63: treat as damaged state. */
    if (err == HM_ERR_OVERFLOW)
        err = HM_ERR_IO;
    if (err != HM_OK)
        return err;
    assert(o.sum == 0);
    s->matured = true;
    err = write_sale(x, s);
    if (err == HM_OK)
        err = ct_state_del(x, index_key->bytes, index_key->len);
    return err;
}

hm_err ct_settle_end_block(ct_exec *x) {
    assert(x != NULL);
    const ct_block_ctx *ctx = ct_exec_ctx(x);
    /* Every sale whose window ended at or before this block's time: the
     * index is ordered by window end, so the scan reads only what is due. */
    ct_key_buf start, end;
    ct_key_start(&start, CT_SKEY_MATURITY);
    ct_key_start(&end, CT_SKEY_MATURITY);
    if (ctx->time_ms == UINT64_MAX) {
        end.bytes[end.len - 1]++; /* "s/m0": past every window */
    } else {
        ct_key_add_u64(&end, ctx->time_ms + 1);
    }
    key_list due = {NULL, 0, 0, 0, HM_OK};
    hm_err err = ct_state_scan(x, start.bytes, start.len, end.bytes, end.len, collect_key, &due);
    if (err == HM_OK)
        err = due.err;
    ct_sale *s = NULL;
    if (err == HM_OK && due.count > 0) {
        s = malloc(sizeof *s);
        if (s == NULL)
            err = HM_ERR_NOMEM;
    }
    /* The scan is over before any write: the overlay is not changed under it. */
    for (size_t pos = 0; pos < due.len && err == HM_OK;) {
        ct_key_buf k;
        k.len = (size_t)due.bytes[pos] << 8 | due.bytes[pos + 1];
        memcpy(k.bytes, due.bytes + pos + 2, k.len);
        pos += 2 + k.len;
        err = mature_sale(x, &k, s);
    }
    free(s);
    free(due.bytes);
    return err;
}
