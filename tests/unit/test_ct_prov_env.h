/* tests/unit/test_ct_prov_env.h — a small ledger for the members and
 * provenance tests: a memory store, genesis admins, and helpers that build,
 * sign and execute one tx per block and check that a refused tx wrote
 * nothing but its result. Header-only (static inline) so each test binary
 * stays one file. */
#ifndef HALLMARK_TEST_CT_PROV_ENV_H
#define HALLMARK_TEST_CT_PROV_ENV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_gs1.h"
#include "ct_internal.h"

#define ENV_CHAIN "prov-test"

typedef struct {
    ct_memstore *mem;
    ct_store store;
    uint64_t height;
    uint64_t time_ms;
    uint64_t nonce;
    hm_keypair admin;
    uint8_t root[HM_HASH_LEN];
    uint8_t last_tx_id[HM_HASH_LEN];
    size_t last_writes; /* writes of the last tx other than its "t/" result */
} env;

static inline void env_key(hm_keypair *kp, uint8_t seed) {
    uint8_t sk[32];
    memset(sk, seed, sizeof sk);
    sk[0] = 0x01; /* stays below the curve order for any seed */
    assert_int_equal(hm_keypair_from_seckey(kp, sk), HM_OK);
}

static inline env *env_new(void) {
    env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(ct_memstore_new(&e->mem), HM_OK);
    e->store = ct_memstore_store(e->mem);
    e->time_ms = 1700000000000ULL;
    env_key(&e->admin, 1);
    return e;
}

static inline void env_free(env *e) {
    ct_memstore_free(e->mem);
    free(e);
}

static inline ct_block_ctx env_ctx(const env *e) {
    ct_block_ctx c;
    memset(&c, 0, sizeof c);
    strcpy(c.chain_id, ENV_CHAIN);
    c.height = e->height;
    c.time_ms = e->time_ms;
    c.admin_count = 1;
    c.admins[0] = e->admin.pub;
    return c;
}

static inline bool env_count_write(void *arg, const uint8_t *key, size_t key_len,
                                   const uint8_t *val, size_t val_len) {
    (void)val;
    (void)val_len;
    if (!(key_len >= 2 && key[0] == 't' && key[1] == '/'))
        (*(size_t *)arg)++;
    return true;
}

/* Opens the execution of the next block (a second later) over the store. */
static inline ct_exec *env_block_open(env *e) {
    e->height++;
    e->time_ms += 1000;
    ct_block_ctx c = env_ctx(e);
    ct_exec *x = NULL;
    assert_int_equal(ct_exec_new(&e->store, &c, &x), HM_OK);
    return x;
}

/* Executes raw tx bytes in a block of their own and commits the writes. */
static inline ct_result env_exec_raw(env *e, const uint8_t *tx, size_t tx_len) {
    ct_exec *x = env_block_open(e);
    ct_result res;
    assert_int_equal(ct_exec_tx(x, tx, tx_len, false, &res), HM_OK);
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    e->last_writes = 0;
    assert_int_equal(ct_exec_foreach_write(x, env_count_write, &e->last_writes), HM_OK);
    uint8_t root[HM_HASH_LEN];
    ct_exec_state_root(x, e->root, root);
    memcpy(e->root, root, HM_HASH_LEN);
    assert_int_equal(ct_exec_apply_to_memstore(x, e->mem), HM_OK);
    ct_exec_free(x);
    ct_tx t;
    if (ct_tx_decode(tx, tx_len, &t) == HM_OK)
        memcpy(e->last_tx_id, t.id, HM_HASH_LEN);
    return res;
}

/* Builds a tx (kp NULL: keyless) with optional records and executes it. */
static inline ct_result env_exec(env *e, uint32_t type, const hm_keypair *kp, const uint8_t *body,
                                 size_t body_len, const uint8_t *const *recs,
                                 const size_t *rec_lens, uint32_t rec_count) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    assert_int_equal(ct_tx_build(&w, type, kp, ENV_CHAIN, ++e->nonce, body, body_len, rec_count > 0,
                                 recs, rec_lens, rec_count),
                     HM_OK);
    size_t len = 0;
    uint8_t *tx = hm_writer_take(&w, &len);
    ct_result res = env_exec_raw(e, tx, len);
    free(tx);
    return res;
}

/* Asserts a refusal with its code and rule, and that it wrote nothing. */
#define EXPECT_REFUSED(e, res, code_, rule_)                                                       \
    do {                                                                                           \
        ct_result r_ = (res);                                                                      \
        if (r_.code != (code_) || r_.rule != (uint32_t)(rule_))                                    \
            print_error("refusal: got %s rule %u (%s)\n", hm_err_name(r_.code), r_.rule,           \
                        r_.message);                                                               \
        assert_int_equal(r_.code, (code_));                                                        \
        assert_int_equal(r_.rule, (rule_));                                                        \
        assert_int_equal((e)->last_writes, 0);                                                     \
    } while (0)

#define EXPECT_OK(res)                                                                             \
    do {                                                                                           \
        ct_result r_ = (res);                                                                      \
        if (r_.code != HM_OK)                                                                      \
            print_error("unexpected refusal: %s rule %u index %u (%s)\n", hm_err_name(r_.code),    \
                        r_.rule, r_.index, r_.message);                                            \
        assert_int_equal(r_.code, HM_OK);                                                          \
    } while (0)

static inline ct_result env_member_add(env *e, const hm_keypair *signer, const hm_pubkey *key,
                                       uint32_t roles, const char *name) {
    ct_member_add_body b;
    memset(&b, 0, sizeof b);
    b.key = *key;
    b.roles = roles;
    snprintf(b.name, sizeof b.name, "%s", name);
    uint8_t buf[256];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_member_add_encode(&b, &w), HM_OK);
    return env_exec(e, CT_TX_MEMBER_ADD, signer, buf, w.len, NULL, NULL, 0);
}

static inline void env_id(const hm_keypair *kp, ct_member_id *id) {
    memcpy(id->bytes, kp->pub.bytes, HM_PUBKEY_LEN);
}

/* ----------------------------------------- provenance and settlement setup */

/* An admin-signed (or signer-signed) prefix assignment to brand `to`. */
static inline ct_result env_prefix_assign(env *e, const hm_keypair *signer, const char *prefix,
                                          const ct_member_id *to) {
    ct_prefix_assign_body b;
    memset(&b, 0, sizeof b);
    snprintf(b.prefix, sizeof b.prefix, "%s", prefix);
    b.brand = *to;
    uint8_t buf[128];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_prefix_assign_encode(&b, &w), HM_OK);
    return env_exec(e, CT_TX_PREFIX_ASSIGN, signer, buf, w.len, NULL, NULL, 0);
}

/* Sets product gtin with name; hash (may be NULL) receives the hash of the
 * encoded body, which item records name as their product hash. */
static inline ct_result env_product_set(env *e, const hm_keypair *signer, const char *gtin,
                                        const char *name, uint8_t hash[HM_HASH_LEN]) {
    ct_product_body *b = calloc(1, sizeof *b);
    assert_non_null(b);
    strcpy(b->gtin, gtin);
    snprintf(b->name, sizeof b->name, "%s", name);
    strcpy(b->description, "A fine thing");
    strcpy(b->image_url, "https://example.com/p.png");
    uint8_t buf[2048];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_product_encode(b, &w), HM_OK);
    free(b);
    if (hash != NULL)
        hm_sha256(buf, w.len, hash);
    return env_exec(e, CT_TX_PRODUCT_SET, signer, buf, w.len, NULL, NULL, 0);
}

/* Creates split contract `name` in CNY with a 7-day return window that
 * shares every sale among the accounts of to[i] with bps[i] basis points. */
static inline ct_result env_split_create(env *e, const hm_keypair *creator, const char *name,
                                         const hm_keypair *const *to, const uint32_t *bps,
                                         uint32_t share_count) {
    ct_split_create_body *c = calloc(1, sizeof *c);
    assert_non_null(c);
    snprintf(c->name, sizeof c->name, "%s", name);
    strcpy(c->terms.currency, "CNY");
    c->terms.return_window_ms = 7ull * 24 * 3600 * 1000;
    assert_true(share_count <= CT_SPLIT_SHARES_MAX);
    c->terms.share_count = share_count;
    for (uint32_t i = 0; i < share_count; i++) {
        c->terms.shares[i].to.kind = CT_PARTY_ACCOUNT;
        memcpy(c->terms.shares[i].to.id, to[i]->pub.bytes, 32);
        c->terms.shares[i].share_bps = bps[i];
    }
    uint8_t buf[4096];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_split_create_encode(c, &w), HM_OK);
    free(c);
    return env_exec(e, CT_TX_SPLIT_CREATE, creator, buf, w.len, NULL, NULL, 0);
}

/* A CNY sale of item gtin/serial by platform under its split `split_name`. */
static inline ct_result env_item_sale(env *e, const hm_keypair *platform, const char *split_name,
                                      const char *order_id, uint64_t gross, const char *gtin,
                                      const char *serial) {
    ct_sale_body s;
    memset(&s, 0, sizeof s);
    snprintf(s.order_id, sizeof s.order_id, "%s", order_id);
    s.gross = gross;
    strcpy(s.currency, "CNY");
    ct_split_id(&platform->pub, split_name, s.contract_id);
    s.has_item = true;
    snprintf(s.gtin, sizeof s.gtin, "%s", gtin);
    snprintf(s.serial, sizeof s.serial, "%s", serial);
    uint8_t buf[1024];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_sale_encode(&s, true, &w), HM_OK);
    return env_exec(e, CT_TX_SALE, platform, buf, w.len, NULL, NULL, 0);
}

/* The pending CNY balance of kp's member account (0 when it has none). */
static inline int64_t env_pending_cny(env *e, const hm_keypair *kp) {
    ct_account a = {.kind = CT_ACCOUNT_MEMBER, .owner = kp->pub};
    ct_balance b;
    hm_err err = ct_query_balance(&e->store, &a, "CNY", &b);
    if (err == HM_ERR_NOT_FOUND)
        return 0;
    assert_int_equal(err, HM_OK);
    return b.pending;
}

#endif
