/* tests/unit/test_ct_settle_rules.c — the settlement contract through the
 * executor over a memory store: every rule and refusal (with nothing written
 * under "s/" on refusal), the return window turning pending into available at
 * exactly the first block at or past its end, refunds inside and after the
 * window, payouts, amendments by height, batches, the item-returned hook, the
 * queries, and a smaller full-state property test (random sales, refunds,
 * payouts and blocks: the journal sums to zero per currency, and every
 * balance equals the sum of its postings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_internal.h"

static const char CHAIN[] = "settle-test";
#define DAY_MS (24ull * 3600 * 1000)
#define T0 1700000000000ull

typedef struct {
    ct_memstore *m;
    ct_store store;
    uint64_t height;
    uint64_t time_ms;
    uint64_t nonce;
    hm_keypair admin, platform, mcn, logistics, streamer, agency, outsider, brand;
    ct_result last[64]; /* results of the last block */
} fixture;

static void make_key(hm_keypair *kp, uint8_t seed) {
    uint8_t sk[32];
    memset(sk, seed, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(kp, sk), HM_OK);
}

/* Opens the execution of the next block, at time_ms. */
static ct_exec *open_block(fixture *f, uint64_t time_ms) {
    ct_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    snprintf(ctx.chain_id, sizeof ctx.chain_id, "%s", CHAIN);
    ctx.height = ++f->height;
    ctx.time_ms = f->time_ms = time_ms;
    ctx.admin_count = 1;
    ctx.admins[0] = f->admin.pub;
    ct_exec *x;
    assert_int_equal(ct_exec_new(&f->store, &ctx, &x), HM_OK);
    return x;
}

/* Runs one block of txs (each a malloc'd buffer, freed here) at time_ms. */
static void run_block(fixture *f, uint64_t time_ms, uint8_t **txs, size_t *lens, size_t n) {
    assert_true(n <= 64);
    ct_exec *x = open_block(f, time_ms);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ct_exec_tx(x, txs[i], lens[i], false, &f->last[i]), HM_OK);
        free(txs[i]);
    }
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    assert_int_equal(ct_exec_apply_to_memstore(x, f->m), HM_OK);
    ct_exec_free(x);
}

static void build(fixture *f, uint8_t **out, size_t *len, uint32_t type, const hm_keypair *kp,
                  hm_writer *body, const uint8_t *const *recs, const size_t *rec_lens,
                  uint32_t rec_count) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    assert_int_equal(ct_tx_build(&w, type, kp, CHAIN, ++f->nonce, body->buf, body->len,
                                 rec_count > 0, recs, rec_lens, rec_count),
                     HM_OK);
    *out = hm_writer_take(&w, len);
    hm_writer_free(body);
}

/* One tx alone in a block at time_ms; returns its result. */
static ct_result run_one(fixture *f, uint64_t time_ms, uint32_t type, const hm_keypair *kp,
                         hm_writer *body) {
    uint8_t *tx;
    size_t len;
    build(f, &tx, &len, type, kp, body, NULL, NULL, 0);
    run_block(f, time_ms, &tx, &len, 1);
    return f->last[0];
}

static void add_member(fixture *f, const hm_keypair *kp, uint32_t roles, const char *name) {
    ct_member_add_body b;
    memset(&b, 0, sizeof b);
    b.key = kp->pub;
    b.roles = roles;
    snprintf(b.name, sizeof b.name, "%s", name);
    hm_writer w;
    hm_writer_init_growable(&w, 4096);
    assert_int_equal(ct_member_add_encode(&b, &w), HM_OK);
    ct_result r = run_one(f, f->time_ms + 1, CT_TX_MEMBER_ADD, &f->admin, &w);
    assert_int_equal(r.code, HM_OK);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(ct_memstore_new(&f->m), HM_OK);
    f->store = ct_memstore_store(f->m);
    f->time_ms = T0;
    make_key(&f->admin, 1);
    make_key(&f->platform, 2);
    make_key(&f->mcn, 3);
    make_key(&f->logistics, 4);
    make_key(&f->streamer, 5);
    make_key(&f->agency, 6);
    make_key(&f->outsider, 7);
    make_key(&f->brand, 8);
    add_member(f, &f->platform, CT_ROLE_PLATFORM, "platform");
    add_member(f, &f->mcn, CT_ROLE_MCN, "mcn");
    add_member(f, &f->logistics, CT_ROLE_LOGISTICS, "logistics");
    add_member(f, &f->brand, CT_ROLE_BRAND, "brand");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    ct_memstore_free(f->m);
    free(f);
    return 0;
}

/* ------------------------------------------------------------ helpers */

static ct_party account_party(const hm_keypair *kp) {
    ct_party p = {.kind = CT_PARTY_ACCOUNT};
    memcpy(p.id, kp->pub.bytes, 32);
    return p;
}

static ct_party split_party(const uint8_t id[32]) {
    ct_party p = {.kind = CT_PARTY_SPLIT};
    memcpy(p.id, id, 32);
    return p;
}

static void terms_init(ct_split_terms *t, const char *currency, uint64_t window_ms) {
    memset(t, 0, sizeof *t);
    snprintf(t->currency, sizeof t->currency, "%s", currency);
    t->return_window_ms = window_ms;
}

static void terms_share(ct_split_terms *t, ct_party to, uint32_t bps) {
    t->shares[t->share_count].to = to;
    t->shares[t->share_count].share_bps = bps;
    t->share_count++;
}

static ct_result create_split(fixture *f, const hm_keypair *kp, const char *name,
                              const ct_split_terms *t, uint8_t id_out[32]) {
    ct_split_create_body b;
    memset(&b, 0, sizeof b);
    snprintf(b.name, sizeof b.name, "%s", name);
    b.terms = *t;
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    assert_int_equal(ct_split_create_encode(&b, &w), HM_OK);
    if (id_out != NULL)
        ct_split_id(&kp->pub, name, id_out);
    return run_one(f, f->time_ms + 1, CT_TX_SPLIT_CREATE, kp, &w);
}

static ct_result amend_split(fixture *f, const hm_keypair *kp, const uint8_t id[32],
                             uint64_t from_height, const ct_split_terms *t) {
    ct_split_amend_body b;
    memset(&b, 0, sizeof b);
    memcpy(b.contract_id, id, 32);
    b.from_height = from_height;
    b.terms = *t;
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    assert_int_equal(ct_split_amend_encode(&b, &w), HM_OK);
    return run_one(f, f->time_ms + 1, CT_TX_SPLIT_AMEND, kp, &w);
}

static void sale_init(ct_sale_body *s, const char *order_id, uint64_t gross, const char *currency,
                      const uint8_t contract[32]) {
    memset(s, 0, sizeof *s);
    snprintf(s->order_id, sizeof s->order_id, "%s", order_id);
    s->gross = gross;
    snprintf(s->currency, sizeof s->currency, "%s", currency);
    memcpy(s->contract_id, contract, 32);
}

static ct_result record_sale_at(fixture *f, const hm_keypair *kp, const ct_sale_body *s,
                                uint64_t time_ms) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    assert_int_equal(ct_sale_encode(s, true, &w), HM_OK);
    return run_one(f, time_ms, CT_TX_SALE, kp, &w);
}

static ct_result refund_at(fixture *f, const hm_keypair *kp, const char *order_id, uint64_t amount,
                           const char *currency, uint64_t time_ms) {
    ct_refund_body b;
    memset(&b, 0, sizeof b);
    snprintf(b.order_id, sizeof b.order_id, "%s", order_id);
    b.amount = amount;
    snprintf(b.currency, sizeof b.currency, "%s", currency);
    hm_writer w;
    hm_writer_init_growable(&w, 1024);
    assert_int_equal(ct_refund_encode(&b, &w), HM_OK);
    return run_one(f, time_ms, CT_TX_REFUND, kp, &w);
}

static ct_result payout_at(fixture *f, const hm_keypair *kp, const hm_keypair *owner,
                           const char *currency, uint64_t amount, uint64_t time_ms) {
    ct_payout_body b;
    memset(&b, 0, sizeof b);
    b.account = owner->pub;
    snprintf(b.currency, sizeof b.currency, "%s", currency);
    b.amount = amount;
    snprintf(b.reference, sizeof b.reference, "bank-ref-%llu", (unsigned long long)amount);
    hm_writer w;
    hm_writer_init_growable(&w, 1024);
    assert_int_equal(ct_payout_encode(&b, &w), HM_OK);
    return run_one(f, time_ms, CT_TX_PAYOUT, kp, &w);
}

static ct_balance balance_of(fixture *f, const hm_keypair *kp, const char *currency) {
    ct_account a = {.kind = CT_ACCOUNT_MEMBER, .owner = kp->pub};
    ct_balance b;
    hm_err err = ct_query_balance(&f->store, &a, currency, &b);
    if (err == HM_ERR_NOT_FOUND) {
        memset(&b, 0, sizeof b);
        return b;
    }
    assert_int_equal(err, HM_OK);
    return b;
}

/* A digest of every "s/" key and value: equal digests, nothing written. */
typedef struct {
    hm_sha256_ctx *h;
    size_t count;
} state_digest;

static bool digest_visit(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                         size_t val_len) {
    state_digest *d = arg;
    uint8_t lens[2] = {(uint8_t)key_len, (uint8_t)(val_len & 0xff)};
    hm_sha256_update(d->h, lens, 2);
    hm_sha256_update(d->h, key, key_len);
    hm_sha256_update(d->h, val, val_len);
    d->count++;
    return true;
}

static void settle_digest(fixture *f, uint8_t out[32]) {
    state_digest d = {hm_sha256_new(), 0};
    assert_non_null(d.h);
    assert_int_equal(f->store.scan(f->store.ctx, (const uint8_t *)"s/", 2, (const uint8_t *)"s0", 2,
                                   digest_visit, &d),
                     HM_OK);
    hm_sha256_final(d.h, out);
    hm_sha256_free(d.h);
}

/* Asserts a refusal with rule, and that it wrote nothing under "s/". */
#define EXPECT_REFUSED(f, call, want_rule)                                                         \
    do {                                                                                           \
        uint8_t before_[32], after_[32];                                                           \
        settle_digest((f), before_);                                                               \
        ct_result r_ = (call);                                                                     \
        assert_int_not_equal(r_.code, HM_OK);                                                      \
        if ((uint32_t)(want_rule) != 0)                                                            \
            assert_int_equal(r_.rule, (want_rule));                                                \
        settle_digest((f), after_);                                                                \
        assert_memory_equal(before_, after_, 32);                                                  \
    } while (0)

/* platform 1000 bps, MCN's contract 9000 bps; MCN's: streamer 7000, agency 3000 */
static void make_nested(fixture *f, uint64_t window_ms, uint8_t top[32], uint8_t inner[32]) {
    ct_split_terms t;
    terms_init(&t, "CNY", window_ms);
    terms_share(&t, account_party(&f->streamer), 7000);
    terms_share(&t, account_party(&f->agency), 3000);
    assert_int_equal(create_split(f, &f->mcn, "mcn-a", &t, inner).code, HM_OK);
    terms_init(&t, "CNY", window_ms);
    terms_share(&t, account_party(&f->platform), 1000);
    terms_share(&t, split_party(inner), 9000);
    assert_int_equal(create_split(f, &f->platform, "top", &t, top).code, HM_OK);
}

/* ------------------------------------------------------------ tests */

static void test_split_create_rules(void **state) {
    fixture *f = *state;
    ct_split_terms t;
    terms_init(&t, "CNY", DAY_MS);
    terms_share(&t, account_party(&f->streamer), 6000);
    terms_share(&t, account_party(&f->agency), 3000);
    EXPECT_REFUSED(f, create_split(f, &f->mcn, "bad-sum", &t, NULL), CT_SRULE_SHARES_SUM);
    t.shares[1].share_bps = 4000;
    EXPECT_REFUSED(f, create_split(f, &f->logistics, "not-allowed", &t, NULL), CT_SRULE_SIGNER);
    EXPECT_REFUSED(f, create_split(f, &f->outsider, "not-member", &t, NULL), 0);
    uint8_t id[32];
    ct_split_terms bad = t;
    bad.share_count = 0;
    EXPECT_REFUSED(f, create_split(f, &f->mcn, "empty", &bad, NULL), CT_SRULE_RECIPIENTS);
    bad = t;
    bad.return_window_ms = CT_RETURN_WINDOW_MAX_MS + 1;
    EXPECT_REFUSED(f, create_split(f, &f->mcn, "window", &bad, NULL), CT_SRULE_WINDOW);
    assert_int_equal(create_split(f, &f->mcn, "good", &t, id).code, HM_OK);
    EXPECT_REFUSED(f, create_split(f, &f->mcn, "good", &t, NULL), CT_SRULE_SPLIT_EXISTS);
    /* nesting a contract of another currency, or one that does not exist */
    ct_split_terms eur;
    terms_init(&eur, "EUR", DAY_MS);
    terms_share(&eur, split_party(id), 10000);
    EXPECT_REFUSED(f, create_split(f, &f->platform, "eur", &eur, NULL), CT_SRULE_CURRENCY_MISMATCH);
    uint8_t ghost[32];
    memset(ghost, 0xab, 32);
    terms_init(&eur, "CNY", DAY_MS);
    terms_share(&eur, split_party(ghost), 10000);
    EXPECT_REFUSED(f, create_split(f, &f->platform, "ghost", &eur, NULL), CT_SRULE_SPLIT_UNKNOWN);

    ct_split_head head;
    ct_split_version latest;
    assert_int_equal(ct_query_split(&f->store, id, &head, &latest), HM_OK);
    assert_string_equal(head.name, "good");
    assert_int_equal(head.version_count, 1);
    assert_int_equal(latest.terms.share_count, 2);
}

static void test_cycle_and_depth(void **state) {
    fixture *f = *state;
    uint8_t ids[5][32];
    ct_split_terms t;
    terms_init(&t, "CNY", 0);
    terms_share(&t, account_party(&f->streamer), 10000);
    assert_int_equal(create_split(f, &f->mcn, "c0", &t, ids[0]).code, HM_OK);
    /* c1 -> c0, c2 -> c1, c3 -> c2: four levels */
    for (int i = 1; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        terms_init(&t, "CNY", 0);
        terms_share(&t, account_party(&f->agency), 5000);
        terms_share(&t, split_party(ids[i - 1]), 5000);
        assert_int_equal(create_split(f, &f->mcn, name, &t, ids[i]).code, HM_OK);
    }
    /* a fifth level is too deep */
    terms_init(&t, "CNY", 0);
    terms_share(&t, split_party(ids[3]), 10000);
    EXPECT_REFUSED(f, create_split(f, &f->mcn, "c4", &t, NULL), CT_SRULE_DEPTH);
    /* c0 amended to pay c2 closes a cycle c0 -> c2 -> c1 -> c0 */
    terms_init(&t, "CNY", 0);
    terms_share(&t, split_party(ids[2]), 10000);
    EXPECT_REFUSED(f, amend_split(f, &f->mcn, ids[0], f->height + 1, &t), CT_SRULE_CYCLE);
    /* and to pay itself */
    terms_init(&t, "CNY", 0);
    terms_share(&t, split_party(ids[0]), 10000);
    EXPECT_REFUSED(f, amend_split(f, &f->mcn, ids[0], f->height + 1, &t), CT_SRULE_CYCLE);
    /* only the creator amends */
    terms_init(&t, "CNY", 0);
    terms_share(&t, account_party(&f->agency), 10000);
    EXPECT_REFUSED(f, amend_split(f, &f->platform, ids[0], f->height + 1, &t), CT_SRULE_SIGNER);
    /* not from the past */
    EXPECT_REFUSED(f, amend_split(f, &f->mcn, ids[0], 1, &t), CT_SRULE_AMEND_HEIGHT);
    /* a currency change is a mismatch */
    ct_split_terms eur = t;
    memcpy(eur.currency, "EUR", 4);
    EXPECT_REFUSED(f, amend_split(f, &f->mcn, ids[0], f->height + 1, &eur),
                   CT_SRULE_CURRENCY_MISMATCH);
    /* c0 deepened by one level makes c3's tree five deep: refused */
    terms_init(&t, "CNY", 0);
    uint8_t leaf_id[32];
    terms_share(&t, account_party(&f->agency), 10000);
    assert_int_equal(create_split(f, &f->brand, "leaf", &t, leaf_id).code, HM_OK);
    terms_init(&t, "CNY", 0);
    terms_share(&t, split_party(leaf_id), 10000);
    /* c0's own subtree stays shallow; the sale through c3 is what would be
     * too deep, and is refused at sale time (see docs). */
    assert_int_equal(amend_split(f, &f->mcn, ids[0], f->height + 1, &t).code, HM_OK);
    ct_sale_body s;
    sale_init(&s, "deep-1", 100, "CNY", ids[3]);
    EXPECT_REFUSED(f, record_sale_at(f, &f->platform, &s, f->time_ms + 1), CT_SRULE_DEPTH);
}

static void test_sale_rules_and_window(void **state) {
    fixture *f = *state;
    uint8_t top[32], inner[32];
    make_nested(f, 7 * DAY_MS, top, inner);
    ct_sale_body s;
    sale_init(&s, "order-1", 10001, "CNY", top);
    s.has_streamer = true;
    s.streamer = f->streamer.pub;
    snprintf(s.session_id, sizeof s.session_id, "live-42");
    uint64_t t_sale = f->time_ms + 1000;
    assert_int_equal(record_sale_at(f, &f->platform, &s, t_sale).code, HM_OK);

    /* 10001: platform 1000.1 -> 1000, inner 9000.9 -> 9001 (larger remainder);
     * inner 9001: streamer 6300.7 -> 6301, agency 2700.3 -> 2700 */
    ct_balance b = balance_of(f, &f->streamer, "CNY");
    assert_int_equal(b.pending, 6301);
    assert_int_equal(b.available, 0);
    assert_int_equal(balance_of(f, &f->agency, "CNY").pending, 2700);
    assert_int_equal(balance_of(f, &f->platform, "CNY").pending, 1000);

    /* every rejection, nothing written */
    EXPECT_REFUSED(f, record_sale_at(f, &f->platform, &s, f->time_ms + 1),
                   CT_SRULE_ORDER_DUPLICATE);
    ct_sale_body other = s;
    snprintf(other.order_id, sizeof other.order_id, "order-eur");
    memcpy(other.currency, "EUR", 4);
    EXPECT_REFUSED(f, record_sale_at(f, &f->platform, &other, f->time_ms + 1),
                   CT_SRULE_CURRENCY_MISMATCH);
    other = s;
    snprintf(other.order_id, sizeof other.order_id, "order-0");
    other.gross = 0;
    EXPECT_REFUSED(f, record_sale_at(f, &f->platform, &other, f->time_ms + 1), CT_SRULE_AMOUNT);
    other.gross = CT_AMOUNT_MAX + 1;
    EXPECT_REFUSED(f, record_sale_at(f, &f->platform, &other, f->time_ms + 1), CT_SRULE_AMOUNT);
    other.gross = 5;
    EXPECT_REFUSED(f, record_sale_at(f, &f->logistics, &other, f->time_ms + 1), CT_SRULE_SIGNER);
    memset(other.contract_id, 0x55, 32);
    EXPECT_REFUSED(f, record_sale_at(f, &f->platform, &other, f->time_ms + 1),
                   CT_SRULE_SPLIT_UNKNOWN);
    /* the same order id from another platform is another order */
    other = s;
    assert_int_equal(record_sale_at(f, &f->mcn, &other, f->time_ms + 1).code, HM_OK);

    /* payouts: pending money cannot be paid out */
    EXPECT_REFUSED(f, payout_at(f, &f->streamer, &f->streamer, "CNY", 1, f->time_ms + 1), 0);
    EXPECT_REFUSED(f, payout_at(f, &f->platform, &f->streamer, "CNY", 100, f->time_ms + 1),
                   CT_SRULE_PAYOUT_PENDING);

    /* one millisecond before the window closes: still pending */
    uint64_t window_end = t_sale + 7 * DAY_MS;
    uint8_t *none = NULL;
    size_t none_len = 0;
    run_block(f, window_end - 1, &none, &none_len, 0);
    b = balance_of(f, &f->streamer, "CNY");
    assert_int_equal(b.available, 0);
    assert_int_equal(b.pending, 2 * 6301); /* both platforms' sales */
}

/* A clean window test: one sale, blocks around the window's end. */
static void test_window_exact(void **state) {
    fixture *f = *state;
    uint8_t top[32], inner[32];
    make_nested(f, 7 * DAY_MS, top, inner);
    ct_sale_body s;
    sale_init(&s, "w-1", 1000, "CNY", top);
    uint64_t t_sale = f->time_ms + 5;
    assert_int_equal(record_sale_at(f, &f->platform, &s, t_sale).code, HM_OK);
    uint8_t *none = NULL;
    size_t none_len = 0;
    run_block(f, t_sale + 7 * DAY_MS - 1, &none, &none_len, 0);
    ct_balance b = balance_of(f, &f->streamer, "CNY");
    assert_int_equal(b.pending, 630);
    assert_int_equal(b.available, 0);
    run_block(f, t_sale + 7 * DAY_MS, &none, &none_len, 0); /* first block at the end */
    b = balance_of(f, &f->streamer, "CNY");
    assert_int_equal(b.pending, 0);
    assert_int_equal(b.available, 630);
    ct_sale *sale = malloc(sizeof *sale);
    assert_int_equal(ct_query_sale(&f->store, &f->platform.pub, "w-1", sale), HM_OK);
    assert_true(sale->matured);
    assert_int_equal(sale->version, 1);
    free(sale);

    /* now payouts: over available refused, within it accepted */
    EXPECT_REFUSED(f, payout_at(f, &f->platform, &f->streamer, "CNY", 631, f->time_ms + 1),
                   CT_SRULE_OVER_PAYOUT);
    EXPECT_REFUSED(f, payout_at(f, &f->logistics, &f->streamer, "CNY", 10, f->time_ms + 1),
                   CT_SRULE_SIGNER);
    EXPECT_REFUSED(f, payout_at(f, &f->platform, &f->streamer, "USD", 10, f->time_ms + 1),
                   CT_SRULE_OVER_PAYOUT);
    assert_int_equal(payout_at(f, &f->platform, &f->streamer, "CNY", 600, f->time_ms + 1).code,
                     HM_OK);
    b = balance_of(f, &f->streamer, "CNY");
    assert_int_equal(b.available, 30);

    /* a refund after the window claws back from available: the streamer owes */
    EXPECT_REFUSED(f, refund_at(f, &f->platform, "w-1", 1001, "CNY", f->time_ms + 1),
                   CT_SRULE_OVER_REFUND);
    EXPECT_REFUSED(f, refund_at(f, &f->platform, "w-1", 10, "EUR", f->time_ms + 1),
                   CT_SRULE_CURRENCY_MISMATCH);
    EXPECT_REFUSED(f, refund_at(f, &f->mcn, "w-1", 10, "CNY", f->time_ms + 1),
                   CT_SRULE_SALE_UNKNOWN);
    assert_int_equal(refund_at(f, &f->platform, "w-1", 1000, "CNY", f->time_ms + 1).code, HM_OK);
    b = balance_of(f, &f->streamer, "CNY");
    assert_int_equal(b.pending, 0);
    assert_int_equal(b.available, 30 - 630);
    EXPECT_REFUSED(f, refund_at(f, &f->platform, "w-1", 1, "CNY", f->time_ms + 1),
                   CT_SRULE_OVER_REFUND);
}

static void test_refunds_inside_window_net_to_zero(void **state) {
    fixture *f = *state;
    uint8_t top[32], inner[32];
    make_nested(f, 7 * DAY_MS, top, inner);
    ct_sale_body s;
    sale_init(&s, "r-1", 99999, "CNY", top);
    assert_int_equal(record_sale_at(f, &f->platform, &s, f->time_ms + 1).code, HM_OK);
    uint64_t refunds[] = {1, 333, 40000, 7, 59658};
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof refunds / sizeof refunds[0]; i++) {
        total += refunds[i];
        assert_int_equal(refund_at(f, &f->platform, "r-1", refunds[i], "CNY", f->time_ms + 1).code,
                         HM_OK);
    }
    assert_int_equal(total, 99999);
    const hm_keypair *who[3] = {&f->streamer, &f->agency, &f->platform};
    for (int i = 0; i < 3; i++) {
        ct_balance b = balance_of(f, who[i], "CNY");
        assert_int_equal(b.pending, 0);
        assert_int_equal(b.available, 0);
    }
    ct_account clearing = {.kind = CT_ACCOUNT_SALES, .owner = f->platform.pub};
    ct_balance cb;
    assert_int_equal(ct_query_balance(&f->store, &clearing, "CNY", &cb), HM_OK);
    assert_int_equal(cb.available, 0);
    /* the window closing later moves nothing */
    uint8_t *none = NULL;
    size_t none_len = 0;
    run_block(f, f->time_ms + 8 * DAY_MS, &none, &none_len, 0);
    assert_int_equal(balance_of(f, &f->streamer, "CNY").available, 0);
}

/* Puts a member's balance straight into the committed state: the extremes
 * below take thousands of maximal sales to reach through transactions. */
static void seed_balance(fixture *f, const hm_keypair *kp, const char *currency, int64_t pending,
                         int64_t available) {
    uint8_t key[4 + 1 + 32 + 3], val[16];
    memcpy(key, "s/b/", 4);
    key[4] = CT_ACCOUNT_MEMBER;
    memcpy(key + 5, kp->pub.bytes, 32);
    memcpy(key + 37, currency, 3);
    hm_writer w;
    hm_writer_init(&w, val, sizeof val);
    hm_put_u64(&w, (uint64_t)pending);
    hm_put_u64(&w, (uint64_t)available);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    assert_int_equal(ct_memstore_write(f->m, key, sizeof key, val, sizeof val), HM_OK);
    ct_balance b = balance_of(f, kp, currency);
    assert_int_equal(b.pending, pending);
    assert_int_equal(b.available, available);
}

/* Maturing happens in end_block, where nothing can be refused: a sale whose
 * maturing would overflow the recipient's available balance must be refused
 * when it is recorded, not accepted and then stop every node at the end of
 * its window. */
static void test_sale_refused_when_maturing_would_overflow(void **state) {
    fixture *f = *state;
    ct_split_terms t;
    terms_init(&t, "CNY", 0);
    terms_share(&t, account_party(&f->streamer), 10000);
    uint8_t id[32];
    assert_int_equal(create_split(f, &f->platform, "all-to-streamer", &t, id).code, HM_OK);
    seed_balance(f, &f->streamer, "CNY", 0, INT64_MAX - 50);
    ct_sale_body s;
    sale_init(&s, "edge-1", 100, "CNY", id);
    EXPECT_REFUSED(f, record_sale_at(f, &f->platform, &s, f->time_ms + 1), CT_SRULE_AMOUNT);
    /* Within the bound it is recorded and matures (run_block checks end_block). */
    sale_init(&s, "edge-2", 50, "CNY", id);
    assert_int_equal(record_sale_at(f, &f->platform, &s, f->time_ms + 1).code, HM_OK);
    ct_balance b = balance_of(f, &f->streamer, "CNY");
    assert_int_equal(b.pending, 0);
    assert_int_equal(b.available, INT64_MAX);
}

static bool count_write(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    (void)key;
    (void)key_len;
    (void)val;
    (void)val_len;
    (*(size_t *)arg)++;
    return true;
}

/* The item-returned hook runs inside another family's tx and can only
 * report operating errors: a refund that would overflow a balance leaves the
 * sale as it is and writes nothing, instead of failing the block. */
static void test_item_returned_at_balance_edge(void **state) {
    fixture *f = *state;
    ct_split_terms t;
    terms_init(&t, "CNY", 0);
    terms_share(&t, account_party(&f->streamer), 10000);
    uint8_t id[32];
    assert_int_equal(create_split(f, &f->platform, "edge-items", &t, id).code, HM_OK);
    ct_sale_body s;
    sale_init(&s, "item-1", 100, "CNY", id);
    s.has_item = true;
    snprintf(s.gtin, sizeof s.gtin, "09506000134352");
    snprintf(s.serial, sizeof s.serial, "EDGE-1");
    assert_int_equal(record_sale_at(f, &f->platform, &s, f->time_ms + 1).code, HM_OK);
    /* Matured at once (window 0); the streamer now owes nearly 2^63. */
    seed_balance(f, &f->streamer, "CNY", 0, INT64_MIN + 50);
    ct_exec *x = open_block(f, f->time_ms + 1);
    uint8_t event_hash[32] = {7};
    uint64_t refunded = 99;
    assert_int_equal(ct_settle_item_returned(x, "09506000134352", "EDGE-1", event_hash, &refunded),
                     HM_OK);
    assert_int_equal(refunded, 0);
    size_t writes = 0;
    assert_int_equal(ct_exec_foreach_write(x, count_write, &writes), HM_OK);
    assert_int_equal(writes, 0);
    ct_exec_free(x);
    /* With room in the balance the same hook refunds in full. */
    seed_balance(f, &f->streamer, "CNY", 0, 100);
    x = open_block(f, f->time_ms + 1);
    assert_int_equal(ct_settle_item_returned(x, "09506000134352", "EDGE-1", event_hash, &refunded),
                     HM_OK);
    assert_int_equal(refunded, 100);
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    assert_int_equal(ct_exec_apply_to_memstore(x, f->m), HM_OK);
    ct_exec_free(x);
    assert_int_equal(balance_of(f, &f->streamer, "CNY").available, 0);
}

static void test_amendment_by_height(void **state) {
    fixture *f = *state;
    ct_split_terms t;
    terms_init(&t, "CNY", DAY_MS);
    terms_share(&t, account_party(&f->streamer), 5000);
    terms_share(&t, account_party(&f->agency), 5000);
    uint8_t id[32];
    assert_int_equal(create_split(f, &f->mcn, "amended", &t, id).code, HM_OK);
    terms_init(&t, "CNY", DAY_MS);
    terms_share(&t, account_party(&f->streamer), 8000);
    terms_share(&t, account_party(&f->agency), 2000);
    uint64_t from = f->height + 3;
    assert_int_equal(amend_split(f, &f->mcn, id, from, &t).code, HM_OK);
    ct_sale_body s;
    sale_init(&s, "a-1", 100, "CNY", id); /* height from-1: version 1 */
    assert_int_equal(record_sale_at(f, &f->platform, &s, f->time_ms + 1).code, HM_OK);
    assert_int_equal(f->height, from - 1);
    sale_init(&s, "a-2", 100, "CNY", id); /* height from: version 2 */
    assert_int_equal(record_sale_at(f, &f->platform, &s, f->time_ms + 1).code, HM_OK);
    ct_sale *sale = malloc(sizeof *sale);
    assert_int_equal(ct_query_sale(&f->store, &f->platform.pub, "a-1", sale), HM_OK);
    assert_int_equal(sale->version, 1);
    assert_int_equal(sale->nodes[1].amount, 50);
    assert_int_equal(ct_query_sale(&f->store, &f->platform.pub, "a-2", sale), HM_OK);
    assert_int_equal(sale->version, 2);
    assert_int_equal(sale->nodes[1].amount, 80);
    free(sale);
    assert_int_equal(balance_of(f, &f->streamer, "CNY").pending, 130);
}

static void test_batch_and_totals(void **state) {
    fixture *f = *state;
    uint8_t top[32], inner[32];
    make_nested(f, DAY_MS, top, inner);
    enum { N = 50 };
    uint8_t *recs[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        ct_sale_body s;
        char order[32];
        snprintf(order, sizeof order, "b-%d", i);
        sale_init(&s, order, 100 + (uint64_t)i, "CNY", top);
        snprintf(s.session_id, sizeof s.session_id, "live-7");
        s.has_streamer = true;
        s.streamer = f->streamer.pub;
        if (i == 3) {
            s.has_item = true;
            snprintf(s.gtin, sizeof s.gtin, "09506000134352");
            snprintf(s.serial, sizeof s.serial, "SER-3");
        }
        hm_writer w;
        hm_writer_init_growable(&w, CT_RECORD_MAX);
        assert_int_equal(ct_sale_encode(&s, false, &w), HM_OK);
        recs[i] = hm_writer_take(&w, &lens[i]);
    }
    /* a batch with a duplicate order id (record 10 = record 4) is refused whole */
    uint8_t *saved = recs[10];
    size_t saved_len = lens[10];
    recs[10] = recs[4];
    lens[10] = lens[4];
    uint8_t *tx;
    size_t tx_len;
    hm_writer empty;
    hm_writer_init_growable(&empty, 16);
    build(f, &tx, &tx_len, CT_TX_SALE, &f->platform, &empty, (const uint8_t *const *)recs, lens, N);
    uint8_t before[32], after[32];
    settle_digest(f, before);
    run_block(f, f->time_ms + 1, &tx, &tx_len, 1);
    assert_int_equal(f->last[0].code, HM_ERR_CONFLICT);
    assert_int_equal(f->last[0].rule, CT_SRULE_ORDER_DUPLICATE);
    assert_int_equal(f->last[0].index, 10);
    settle_digest(f, after);
    assert_memory_equal(before, after, 32);
    recs[10] = saved;
    lens[10] = saved_len;
    hm_writer_init_growable(&empty, 16);
    build(f, &tx, &tx_len, CT_TX_SALE, &f->platform, &empty, (const uint8_t *const *)recs, lens, N);
    run_block(f, f->time_ms + 1, &tx, &tx_len, 1);
    assert_int_equal(f->last[0].code, HM_OK);
    for (int i = 0; i < N; i++)
        free(recs[i]);

    ct_sale_totals tot;
    assert_int_equal(ct_query_session_totals(&f->store, &f->platform.pub, "live-7", "CNY", &tot),
                     HM_OK);
    assert_int_equal(tot.sales, N);
    assert_int_equal(tot.gross, N * 100 + N * (N - 1) / 2);
    assert_int_equal(ct_query_streamer_totals(&f->store, &f->streamer.pub, "CNY", &tot), HM_OK);
    assert_int_equal(tot.sales, N);

    /* the item-returned hook refunds the linked sale in full */
    ct_exec *x = open_block(f, f->time_ms + 1);
    uint8_t fake_tx[32] = {9};
    uint64_t refunded = 0;
    assert_int_equal(ct_settle_item_returned(x, "09506000134352", "SER-3", fake_tx, &refunded),
                     HM_OK);
    assert_int_equal(refunded, 103);
    assert_int_equal(ct_settle_item_returned(x, "09506000134352", "NOPE", fake_tx, &refunded),
                     HM_OK);
    assert_int_equal(refunded, 0);
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    assert_int_equal(ct_exec_apply_to_memstore(x, f->m), HM_OK);
    ct_exec_free(x);
    assert_int_equal(ct_query_session_totals(&f->store, &f->platform.pub, "live-7", "CNY", &tot),
                     HM_OK);
    assert_int_equal(tot.refunded, 103);
}

/* ------------------------------------------------ full-state property */

typedef struct {
    int64_t sum_by_currency[2];
    uint64_t last_seq;
    size_t count;
} journal_check;

static bool journal_visit(void *arg, const ct_posting *p) {
    journal_check *j = arg;
    assert_true(p->seq == j->last_seq + 1); /* in order, none missing */
    j->last_seq = p->seq;
    j->sum_by_currency[strcmp(p->currency, "CNY") == 0 ? 0 : 1] += p->amount;
    j->count++;
    return true;
}

typedef struct {
    const char *currency;
    int64_t pending, available;
} statement_sum;

static bool statement_visit(void *arg, const ct_posting *p) {
    statement_sum *s = arg;
    if (strcmp(p->currency, s->currency) != 0)
        return true;
    if (p->bucket == CT_BUCKET_PENDING)
        s->pending += p->amount;
    else
        s->available += p->amount;
    return true;
}

static void test_property_full_state(void **state) {
    fixture *f = *state;
    uint8_t top[32], inner[32];
    make_nested(f, 3 * DAY_MS, top, inner);
    ct_split_terms t;
    terms_init(&t, "EUR", DAY_MS);
    t.fee_count = 1;
    t.fees[0].to = account_party(&f->brand);
    t.fees[0].amount = 25;
    terms_share(&t, account_party(&f->streamer), 3333);
    terms_share(&t, account_party(&f->agency), 3333);
    terms_share(&t, account_party(&f->mcn), 3334);
    uint8_t eur[32];
    assert_int_equal(create_split(f, &f->platform, "eur", &t, eur).code, HM_OK);

    uint64_t seed = 99;
    char orders[400][16];
    uint64_t gross_left[400];
    int order_count = 0;
    for (int block = 0; block < 120; block++) {
        uint8_t *txs[8];
        size_t lens[8];
        int n = 0;
        for (int k = 0; k < 6; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t r = seed >> 33;
            hm_writer w;
            hm_writer_init_growable(&w, CT_TX_BODY_MAX);
            if (r % 3 != 0 || order_count == 0) {
                if (order_count >= 400)
                    continue;
                ct_sale_body s;
                bool in_eur = (r >> 8) % 2;
                snprintf(orders[order_count], 16, "p-%d", order_count);
                sale_init(&s, orders[order_count], 1 + (r >> 10) % 1000000000000ull,
                          in_eur ? "EUR" : "CNY", in_eur ? eur : top);
                gross_left[order_count] = s.gross;
                order_count++;
                assert_int_equal(ct_sale_encode(&s, true, &w), HM_OK);
                build(f, &txs[n], &lens[n], CT_TX_SALE, &f->platform, &w, NULL, NULL, 0);
            } else {
                int o = (int)((r >> 4) % (uint64_t)order_count);
                if (gross_left[o] == 0) {
                    hm_writer_free(&w);
                    continue;
                }
                ct_refund_body b;
                memset(&b, 0, sizeof b);
                snprintf(b.order_id, sizeof b.order_id, "%s", orders[o]);
                b.amount = (r % 2) ? gross_left[o] : 1 + (r >> 12) % gross_left[o];
                gross_left[o] -= b.amount;
                ct_sale *sale = malloc(sizeof *sale);
                hm_err err = ct_query_sale(&f->store, &f->platform.pub, orders[o], sale);
                if (err != HM_OK) { /* sold in this very block: refund next time */
                    gross_left[o] += b.amount;
                    free(sale);
                    hm_writer_free(&w);
                    continue;
                }
                snprintf(b.currency, sizeof b.currency, "%s", sale->body.currency);
                free(sale);
                assert_int_equal(ct_refund_encode(&b, &w), HM_OK);
                build(f, &txs[n], &lens[n], CT_TX_REFUND, &f->platform, &w, NULL, NULL, 0);
            }
            n++;
        }
        run_block(f, f->time_ms + DAY_MS / 4, txs, lens, (size_t)n);
        for (int i = 0; i < n; i++)
            assert_int_equal(f->last[i].code, HM_OK);
    }
    /* the whole journal sums to zero per currency, and is gapless */
    journal_check j = {{0, 0}, 0, 0};
    assert_int_equal(ct_query_postings_after(&f->store, 0, 0, journal_visit, &j), HM_OK);
    assert_true(j.count > 500);
    assert_int_equal(j.sum_by_currency[0], 0);
    assert_int_equal(j.sum_by_currency[1], 0);
    /* each balance = the sum of its postings */
    const hm_keypair *who[5] = {&f->streamer, &f->agency, &f->platform, &f->brand, &f->mcn};
    const char *currencies[2] = {"CNY", "EUR"};
    for (int i = 0; i < 5; i++) {
        for (int c = 0; c < 2; c++) {
            ct_account a = {.kind = CT_ACCOUNT_MEMBER, .owner = who[i]->pub};
            statement_sum sum = {currencies[c], 0, 0};
            assert_int_equal(
                ct_query_statement(&f->store, &a, 0, UINT64_MAX, statement_visit, &sum), HM_OK);
            ct_balance b = balance_of(f, who[i], currencies[c]);
            assert_int_equal(b.pending, sum.pending);
            assert_int_equal(b.available, sum.available);
            assert_true(b.pending >= 0);
        }
    }
}

/* Body and batch misuse, fees: refused with their rule, nothing written. */
static ct_result run_raw_body(fixture *f, uint32_t type, const uint8_t *body, size_t len,
                              uint32_t records) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_BODY_MAX);
    hm_put_raw(&w, body, len);
    const uint8_t *recs[2] = {(const uint8_t *)"r0", (const uint8_t *)"r1"};
    size_t lens[2] = {2, 2};
    uint8_t *tx;
    size_t tx_len;
    build(f, &tx, &tx_len, type, &f->platform, &w, records ? recs : NULL, records ? lens : NULL,
          records);
    run_block(f, f->time_ms + 1, &tx, &tx_len, 1);
    return f->last[0];
}

static void test_misuse_rejections(void **state) {
    fixture *f = *state;
    static const uint8_t junk[3] = {1, 2, 3};
    EXPECT_REFUSED(f, run_raw_body(f, CT_TX_SALE, junk, sizeof junk, 0), CT_SRULE_BODY);
    EXPECT_REFUSED(f, run_raw_body(f, CT_TX_REFUND, junk, sizeof junk, 0), CT_SRULE_BODY);
    EXPECT_REFUSED(f, run_raw_body(f, CT_TX_PAYOUT, junk, 0, 0), CT_SRULE_BODY);
    EXPECT_REFUSED(f, run_raw_body(f, CT_TX_SPLIT_CREATE, junk, 1, 0), CT_SRULE_BODY);
    EXPECT_REFUSED(f, run_raw_body(f, CT_TX_SPLIT_AMEND, junk, 2, 0), CT_SRULE_BODY);
    /* records only for sales, and a batch has an empty body */
    EXPECT_REFUSED(f, run_raw_body(f, CT_TX_REFUND, junk, sizeof junk, 2), CT_SRULE_BATCH);
    EXPECT_REFUSED(f, run_raw_body(f, CT_TX_SALE, junk, sizeof junk, 2), CT_SRULE_BATCH);
    /* a batch whose records are not sales */
    EXPECT_REFUSED(f, run_raw_body(f, CT_TX_SALE, junk, 0, 2), CT_SRULE_BODY);
    /* fees */
    ct_split_terms t;
    terms_init(&t, "CNY", DAY_MS);
    terms_share(&t, account_party(&f->streamer), 10000);
    t.fee_count = 1;
    t.fees[0].to = account_party(&f->agency);
    t.fees[0].amount = 0;
    EXPECT_REFUSED(f, create_split(f, &f->mcn, "fee0", &t, NULL), CT_SRULE_FEES);
    t.fees[0].amount = CT_AMOUNT_MAX + 1;
    EXPECT_REFUSED(f, create_split(f, &f->mcn, "fee-big", &t, NULL), CT_SRULE_FEES);
    t.shares[0].share_bps = 0;
    t.fees[0].amount = 5;
    EXPECT_REFUSED(f, create_split(f, &f->mcn, "zero-share", &t, NULL), CT_SRULE_RECIPIENTS);
}

static void test_codec_strict(void **state) {
    (void)state;
    ct_sale_body s;
    uint8_t id[32] = {1};
    sale_init(&s, "x-1", 10, "CNY", id);
    hm_writer w;
    hm_writer_init_growable(&w, 1024);
    assert_int_equal(ct_sale_encode(&s, true, &w), HM_OK);
    ct_sale_body back;
    assert_int_equal(ct_sale_decode(w.buf, w.len, true, &back), HM_OK);
    assert_string_equal(back.order_id, "x-1");
    assert_int_equal(ct_sale_decode(w.buf, w.len - 1, true, &back), HM_ERR_TRUNCATED);
    uint8_t longer[256];
    memcpy(longer, w.buf, w.len);
    longer[w.len] = 0;
    assert_int_equal(ct_sale_decode(longer, w.len + 1, true, &back), HM_ERR_TRAILING);
    hm_writer_free(&w);
    /* an invalid currency or order id never encodes */
    hm_writer_init_growable(&w, 1024);
    memcpy(s.currency, "cny", 4);
    assert_int_not_equal(ct_sale_encode(&s, true, &w), HM_OK);
    hm_writer_free(&w);
    ct_account a;
    assert_int_equal(
        ct_account_parse("m0000000000000000000000000000000000000000000000000000000000000000", &a),
        HM_OK);
    assert_int_equal(a.kind, CT_ACCOUNT_MEMBER);
    char text[CT_ACCOUNT_TEXT_LEN + 1];
    ct_account_format(&a, text);
    assert_int_equal(text[0], 'm');
    assert_int_not_equal(ct_account_parse("x0000", &a), HM_OK);
    /* signed requests: one changed byte breaks the signature */
    hm_keypair kp;
    make_key(&kp, 3);
    hm_sig sig;
    assert_int_equal(
        ct_request_sign(&kp, CHAIN, "GET", "/v1/accounts/m00/balance", "", 1000, NULL, 0, &sig),
        HM_OK);
    assert_int_equal(ct_request_verify(&kp.pub, CHAIN, "GET", "/v1/accounts/m00/balance", "", 1000,
                                       NULL, 0, &sig),
                     HM_OK);
    assert_int_equal(ct_request_verify(&kp.pub, CHAIN, "GET", "/v1/accounts/m01/balance", "", 1000,
                                       NULL, 0, &sig),
                     HM_ERR_BAD_SIG);
    assert_int_equal(ct_request_verify(&kp.pub, CHAIN, "GET", "/v1/accounts/m00/balance", "", 1001,
                                       NULL, 0, &sig),
                     HM_ERR_BAD_SIG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_strict),
        cmocka_unit_test_setup_teardown(test_split_create_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle_and_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sale_rules_and_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refunds_inside_window_net_to_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_amendment_by_height, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sale_refused_when_maturing_would_overflow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_item_returned_at_balance_edge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_and_totals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misuse_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property_full_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
