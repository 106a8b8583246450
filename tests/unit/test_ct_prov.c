/* tests/unit/test_ct_prov.c — the provenance contract: prefixes, products,
 * items one by one and in batches (with per-record proofs), claims, recalls,
 * custody and EPCIS events chained per item, and the queries. Every refusal
 * is checked with its code and rule, and that it wrote nothing. */
#include "test_ct_prov_env.h"

#define GTIN_A "10614141073464" /* carries prefix 0614141 */

typedef struct {
    env *e;
    hm_keypair brand, brand2, logi, retail, auditor;
    ct_member_id brand_id, brand2_id, logi_id, retail_id, auditor_id;
    uint8_t product_hash[HM_HASH_LEN];
    char gtin_b[CT_GTIN_LEN + 1]; /* carries brand2's prefix */
} world;

static world *world_new(void) {
    world *w = calloc(1, sizeof *w);
    w->e = env_new();
    env_key(&w->brand, 2);
    env_key(&w->brand2, 3);
    env_key(&w->logi, 4);
    env_key(&w->retail, 5);
    env_key(&w->auditor, 6);
    env_id(&w->brand, &w->brand_id);
    env_id(&w->brand2, &w->brand2_id);
    env_id(&w->logi, &w->logi_id);
    env_id(&w->retail, &w->retail_id);
    env_id(&w->auditor, &w->auditor_id);
    EXPECT_OK(env_member_add(w->e, &w->e->admin, &w->brand.pub, CT_ROLE_BRAND, "Acme"));
    EXPECT_OK(env_member_add(w->e, &w->e->admin, &w->brand2.pub, CT_ROLE_BRAND, "Knockoff"));
    EXPECT_OK(env_member_add(w->e, &w->e->admin, &w->logi.pub, CT_ROLE_LOGISTICS, "Ship"));
    EXPECT_OK(env_member_add(w->e, &w->e->admin, &w->retail.pub, CT_ROLE_RETAILER, "Shop"));
    EXPECT_OK(env_member_add(w->e, &w->e->admin, &w->auditor.pub, CT_ROLE_AUDITOR, "Audit"));
    EXPECT_OK(env_prefix_assign(w->e, &w->e->admin, "0614141", &w->brand_id));
    EXPECT_OK(env_prefix_assign(w->e, &w->e->admin, "0712345", &w->brand2_id));
    EXPECT_OK(env_product_set(w->e, &w->brand, GTIN_A, "Bag", w->product_hash));
    char body[14] = "0071234567890";
    memcpy(w->gtin_b, body, 13);
    w->gtin_b[13] = ct_gs1_check_digit(body, 13);
    w->gtin_b[14] = '\0';
    EXPECT_OK(env_product_set(w->e, &w->brand2, w->gtin_b, "Other", NULL));
    return w;
}

static void world_free(world *w) {
    env_free(w->e);
    free(w);
}

/* Encodes n item records with serials "S<first+i>" into one array. */
typedef struct {
    uint8_t **recs;
    size_t *lens;
    uint32_t n;
} records;

static void item_rec(ct_item_record *r, const char *gtin, const char *serial, const char *lot,
                     const uint8_t hash[HM_HASH_LEN], const char *code) {
    memset(r, 0, sizeof *r);
    strcpy(r->gtin, gtin);
    strcpy(r->serial, serial);
    strcpy(r->lot, lot);
    strcpy(r->expiry, "271231");
    memcpy(r->product_hash, hash, HM_HASH_LEN);
    if (code != NULL) {
        r->has_code = true;
        hm_sha256((const uint8_t *)code, strlen(code), r->code_hash);
    }
}

static void records_add(records *rs, const ct_item_record *r) {
    rs->recs = realloc(rs->recs, (rs->n + 1) * sizeof *rs->recs);
    rs->lens = realloc(rs->lens, (rs->n + 1) * sizeof *rs->lens);
    hm_writer wr;
    hm_writer_init_growable(&wr, CT_RECORD_MAX);
    assert_int_equal(ct_item_record_encode(r, &wr), HM_OK);
    rs->recs[rs->n] = hm_writer_take(&wr, &rs->lens[rs->n]);
    rs->n++;
}

static void records_free(records *rs) {
    for (uint32_t i = 0; i < rs->n; i++)
        free(rs->recs[i]);
    free(rs->recs);
    free(rs->lens);
    memset(rs, 0, sizeof *rs);
}

static bool count_item(void *arg, const char *gtin14, const char *serial) {
    assert_int_equal(strlen(gtin14), 14);
    assert_true(serial[0] != '\0');
    (*(uint32_t *)arg)++;
    return true;
}

static ct_result register_items(world *w, const hm_keypair *signer, records *rs) {
    return env_exec(w->e, CT_TX_ITEM_REGISTER, signer, NULL, 0, (const uint8_t *const *)rs->recs,
                    rs->lens, rs->n);
}

static ct_result register_one(world *w, const hm_keypair *signer, const char *gtin,
                              const char *serial, const char *lot, const char *code) {
    records rs = {0};
    ct_item_record r;
    item_rec(&r, gtin, serial, lot, w->product_hash, code);
    records_add(&rs, &r);
    ct_result res = register_items(w, signer, &rs);
    records_free(&rs);
    return res;
}

/* ---------------------------------------------------------- prefixes */

static void test_prefix_rules(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_REFUSED(e, env_prefix_assign(w->e, &w->brand, "0999999", &w->brand_id), HM_ERR_DENIED,
                   CT_RULE_NOT_ADMIN);
    EXPECT_REFUSED(e, env_prefix_assign(w->e, &e->admin, "0999999", &w->logi_id), HM_ERR_DENIED,
                   CT_RULE_NOT_BRAND);
    ct_member_id nobody;
    memset(&nobody, 9, sizeof nobody);
    EXPECT_REFUSED(e, env_prefix_assign(w->e, &e->admin, "0999999", &nobody), HM_ERR_DENIED,
                   CT_RULE_NOT_BRAND);
    /* Exact, shorter covering, longer inside. */
    EXPECT_REFUSED(e, env_prefix_assign(w->e, &e->admin, "0614141", &w->brand2_id), HM_ERR_CONFLICT,
                   CT_RULE_PREFIX_TAKEN);
    EXPECT_REFUSED(e, env_prefix_assign(w->e, &e->admin, "06141419", &w->brand2_id),
                   HM_ERR_CONFLICT, CT_RULE_PREFIX_TAKEN);
    EXPECT_REFUSED(e, env_prefix_assign(w->e, &e->admin, "061414", &w->brand2_id), HM_ERR_CONFLICT,
                   CT_RULE_PREFIX_TAKEN);
    /* Malformed: 5 digits, letters. */
    EXPECT_REFUSED(e, env_prefix_assign(w->e, &e->admin, "06141", &w->brand2_id), HM_ERR_BAD_VALUE,
                   CT_RULE_BODY);
    EXPECT_REFUSED(e, env_prefix_assign(w->e, &e->admin, "06141a1", &w->brand2_id),
                   HM_ERR_BAD_VALUE, CT_RULE_BODY);
    ct_member_id owner;
    assert_int_equal(ct_query_prefix(&e->store, "0614141", &owner), HM_OK);
    assert_memory_equal(owner.bytes, w->brand_id.bytes, 32);
    assert_int_equal(ct_query_prefix(&e->store, "0999999", &owner), HM_ERR_NOT_FOUND);
    world_free(w);
}

static void test_product_rules(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_REFUSED(e, env_product_set(w->e, &w->brand2, GTIN_A, "Fake", NULL), HM_ERR_DENIED,
                   CT_RULE_PREFIX_OWNER);
    EXPECT_REFUSED(e, env_product_set(w->e, &w->logi, GTIN_A, "Fake", NULL), HM_ERR_DENIED,
                   CT_RULE_NOT_BRAND);
    EXPECT_REFUSED(e, env_product_set(w->e, &w->brand, GTIN_A, "", NULL), HM_ERR_BAD_VALUE,
                   CT_RULE_BODY);
    ct_product_body *p = calloc(1, sizeof *p);
    ct_member_id owner;
    assert_int_equal(ct_query_product(&e->store, GTIN_A, p, &owner), HM_OK);
    assert_string_equal(p->name, "Bag");
    assert_memory_equal(owner.bytes, w->brand_id.bytes, 32);
    free(p);
    /* A bad check digit never decodes. */
    ct_product_body *b = calloc(1, sizeof *b);
    strcpy(b->gtin, "10614141073465");
    strcpy(b->name, "x");
    uint8_t buf[256];
    hm_writer wr;
    hm_writer_init(&wr, buf, sizeof buf);
    assert_int_equal(ct_product_encode(b, &wr), HM_OK);
    assert_int_equal(ct_product_decode(buf, wr.len, b), HM_ERR_BAD_VALUE);
    free(b);
    world_free(w);
}

/* -------------------------------------------------------------- items */

static void test_item_register_and_status(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "A1", "L1", NULL));
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "A1", &st), HM_OK);
    assert_string_equal(st.record.lot, "L1");
    assert_memory_equal(st.brand.bytes, w->brand_id.bytes, 32);
    assert_memory_equal(st.custodian.bytes, w->brand_id.bytes, 32);
    assert_memory_equal(st.reg_tx, e->last_tx_id, 32);
    assert_int_equal(st.reg_index, 0);
    assert_false(st.recalled);
    assert_false(st.claimed);
    assert_int_equal(st.event_count, 0);
    /* Its proof: a one-leaf tree. */
    ct_record_proof pr;
    assert_int_equal(ct_query_record_proof(&e->store, st.reg_tx, 0, &pr), HM_OK);
    assert_int_equal(pr.tree_size, 1);
    assert_int_equal(pr.path_len, 0);
    assert_int_equal(ct_query_record_proof(&e->store, st.reg_tx, 1, &pr), HM_ERR_NOT_FOUND);
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "nope", &st), HM_ERR_NOT_FOUND);
    world_free(w);
}

static void test_item_rules(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    /* A counterfeiter's key cannot mint a genuine item. */
    EXPECT_REFUSED(e, register_one(w, &w->brand2, GTIN_A, "F1", "", NULL), HM_ERR_DENIED,
                   CT_RULE_PREFIX_OWNER);
    EXPECT_REFUSED(e, register_one(w, &w->logi, GTIN_A, "F1", "", NULL), HM_ERR_DENIED,
                   CT_RULE_NOT_BRAND);
    /* A GTIN with a prefix but no product. */
    char g[15] = "1061414199999";
    g[13] = ct_gs1_check_digit(g, 13);
    g[14] = '\0';
    EXPECT_REFUSED(e, register_one(w, &w->brand, g, "F1", "", NULL), HM_ERR_NOT_FOUND,
                   CT_RULE_NO_PRODUCT);
    /* Stale product hash. */
    records rs = {0};
    ct_item_record r;
    uint8_t wrong[HM_HASH_LEN] = {1};
    item_rec(&r, GTIN_A, "F2", "", wrong, NULL);
    records_add(&rs, &r);
    EXPECT_REFUSED(e, register_items(w, &w->brand, &rs), HM_ERR_CONFLICT, CT_RULE_PRODUCT_HASH);
    records_free(&rs);
    /* Duplicate, across txs and inside one batch (naming the index). */
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "D1", "", NULL));
    EXPECT_REFUSED(e, register_one(w, &w->brand, GTIN_A, "D1", "", NULL), HM_ERR_CONFLICT,
                   CT_RULE_ITEM_EXISTS);
    item_rec(&r, GTIN_A, "D2", "", w->product_hash, NULL);
    records_add(&rs, &r);
    item_rec(&r, GTIN_A, "D3", "", w->product_hash, NULL);
    records_add(&rs, &r);
    item_rec(&r, GTIN_A, "D2", "", w->product_hash, NULL);
    records_add(&rs, &r);
    ct_result res = register_items(w, &w->brand, &rs);
    EXPECT_REFUSED(e, res, HM_ERR_CONFLICT, CT_RULE_ITEM_EXISTS);
    assert_int_equal(res.index, 2);
    records_free(&rs);
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "D2", &st), HM_ERR_NOT_FOUND);
    /* No records, or a body. */
    EXPECT_REFUSED(e, env_exec(e, CT_TX_ITEM_REGISTER, &w->brand, NULL, 0, NULL, NULL, 0),
                   HM_ERR_BAD_VALUE, CT_RULE_RECORDS);
    /* A malformed record: bad serial character. */
    const uint8_t *bad = (const uint8_t *)"\x01";
    size_t bad_len = 1;
    res = env_exec(e, CT_TX_ITEM_REGISTER, &w->brand, NULL, 0, &bad, &bad_len, 1);
    EXPECT_REFUSED(e, res, HM_ERR_TRUNCATED, CT_RULE_BODY);
    world_free(w);
}

/* A batch of the given serials of GTIN_A (hash: the product's, except at
 * index bad_hash, which carries a stale one; -1 for none). */
static ct_result register_serials(world *w, const char *const *serials, size_t n, int bad_hash) {
    records rs = {0};
    uint8_t wrong[HM_HASH_LEN] = {1};
    for (size_t i = 0; i < n; i++) {
        ct_item_record r;
        item_rec(&r, GTIN_A, serials[i], "", (int)i == bad_hash ? wrong : w->product_hash, NULL);
        records_add(&rs, &r);
    }
    ct_result res = register_items(w, &w->brand, &rs);
    records_free(&rs);
    return res;
}

/* A batch is checked as if record by record in order: the refusal names the
 * first record that fails, whether it repeats an earlier record of the batch
 * or breaks another rule, and an item twice in a batch is named at its
 * second occurrence, whatever order the serials come in. */
static void test_batch_first_refusal_in_record_order(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "X1", "", NULL));
    static const struct {
        const char *serials[5];
        size_t n;
        int bad_hash;
        uint32_t rule, index;
        const char *named;
    } cases[] = {
        {{"D2", "D3", "D2", "D4"}, 4, 3, CT_RULE_ITEM_EXISTS, 2, "/D2 "},  /* repeat first */
        {{"E1", "E2", "E1"}, 3, 1, CT_RULE_PRODUCT_HASH, 1, NULL},         /* stale hash first */
        {{"F1", "F2", "F1", "F1"}, 4, -1, CT_RULE_ITEM_EXISTS, 2, "/F1 "}, /* three times */
        {{"G9", "G5", "G1", "G5"}, 4, -1, CT_RULE_ITEM_EXISTS, 3, "/G5 "}, /* descending */
        {{"H10", "H9", "H10"}, 3, -1, CT_RULE_ITEM_EXISTS, 2, "/H10 "},    /* length first */
        {{"N1", "X1", "N1"}, 3, -1, CT_RULE_ITEM_EXISTS, 1, "/X1 "},       /* stored first */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ct_result res = register_serials(w, cases[c].serials, cases[c].n, cases[c].bad_hash);
        EXPECT_REFUSED(e, res, HM_ERR_CONFLICT, cases[c].rule); /* rules 204 and 205 */
        assert_int_equal(res.index, cases[c].index);
        if (cases[c].named != NULL && strstr(res.message, cases[c].named) == NULL)
            fail_msg("case %zu: %s", c, res.message);
        ct_item_status st;
        assert_int_equal(ct_query_item(&e->store, GTIN_A, cases[c].serials[0], &st),
                         HM_ERR_NOT_FOUND); /* nothing of a refused batch is stored */
    }
    /* Serials in no order at all register, each at its own index. */
    enum { N = 300 };
    records rs = {0};
    for (uint32_t i = 0; i < N; i++) {
        ct_item_record r;
        char serial[21];
        snprintf(serial, sizeof serial, "R%u", (i * 7919u) % 1009u);
        item_rec(&r, GTIN_A, serial, "", w->product_hash, NULL);
        records_add(&rs, &r);
    }
    EXPECT_OK(register_items(w, &w->brand, &rs));
    for (uint32_t i = 0; i < N; i++) {
        char serial[21];
        snprintf(serial, sizeof serial, "R%u", (i * 7919u) % 1009u);
        ct_item_status st;
        assert_int_equal(ct_query_item(&e->store, GTIN_A, serial, &st), HM_OK);
        assert_int_equal(st.reg_index, i);
        ct_record_proof pr;
        assert_int_equal(ct_query_record_proof(&e->store, st.reg_tx, i, &pr), HM_OK);
        uint8_t leaf[HM_HASH_LEN];
        hm_merkle_leaf_hash(rs.recs[i], rs.lens[i], leaf);
        assert_memory_equal(pr.leaf_hash, leaf, HM_HASH_LEN);
    }
    records_free(&rs);
    world_free(w);
}

/* A batch of GTIN_A items with serials prefix | number(i) in 5 digits, i < n;
 * the record at index `at` (if < n) has serial `odd` instead. */
static void serial_batch(world *w, records *rs, const char *prefix, uint32_t (*number)(uint32_t),
                         uint32_t n, uint32_t at, const char *odd) {
    memset(rs, 0, sizeof *rs);
    for (uint32_t i = 0; i < n; i++) {
        char serial[21];
        snprintf(serial, sizeof serial, "%s%05u", prefix, number(i));
        ct_item_record r;
        item_rec(&r, GTIN_A, i == at ? odd : serial, "", w->product_hash, NULL);
        records_add(rs, &r);
    }
}

static uint32_t number_even(uint32_t i) {
    return 2 * i;
}
static uint32_t number_odd(uint32_t i) {
    return 2 * i + 1;
}
static uint32_t number_same(uint32_t i) {
    return i;
}
static uint32_t number_scattered(uint32_t i) {
    return (i * 7919u) % 10007u;
}

/* A signed ITEM_REGISTER tx of rs, for running several in one block. */
static uint8_t *items_tx(world *w, const records *rs, size_t *len) {
    hm_writer wr;
    hm_writer_init_growable(&wr, CT_TX_MAX);
    assert_int_equal(ct_tx_build(&wr, CT_TX_ITEM_REGISTER, &w->brand, ENV_CHAIN, ++w->e->nonce,
                                 NULL, 0, true, (const uint8_t *const *)rs->recs, rs->lens, rs->n),
                     HM_OK);
    return hm_writer_take(&wr, len);
}

/* Items already stored are found whichever way the batch's keys fall among
 * the stored ones: interleaved with them (each item read alone), in a range
 * of their own (one scan settles thousands), in no order at all, and stored
 * earlier in the same block (in the overlay, not yet committed). */
static void test_batch_stored_items_found(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    enum { N = 3000 };
    records rs;
    serial_batch(w, &rs, "Q", number_even, N, N, NULL);
    EXPECT_OK(register_items(w, &w->brand, &rs));
    records_free(&rs);
    /* Interleaved with stored keys, none of them stored: registers. */
    serial_batch(w, &rs, "Q", number_odd, N, N, NULL);
    EXPECT_OK(register_items(w, &w->brand, &rs));
    records_free(&rs);
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "Q05999", &st), HM_OK);
    /* One stored item among 2 * N new ones in a range of their own. */
    static const uint32_t ats[] = {0, 1, 4500, 2 * N - 1};
    for (size_t a = 0; a < sizeof ats / sizeof ats[0]; a++) {
        serial_batch(w, &rs, "Z", number_same, 2 * N, ats[a], "Q00010");
        ct_result res = register_items(w, &w->brand, &rs);
        EXPECT_REFUSED(e, res, HM_ERR_CONFLICT, CT_RULE_ITEM_EXISTS);
        assert_int_equal(res.index, ats[a]);
        assert_non_null(strstr(res.message, "/Q00010 "));
        records_free(&rs);
    }
    /* In no order, a stored item and later a repeat: the stored one. */
    serial_batch(w, &rs, "R", number_scattered, 2 * N, 5000, "Q05999");
    ct_item_record r;
    item_rec(&r, GTIN_A, "R07919", "", w->product_hash, NULL); /* the serial of record 1 */
    records_add(&rs, &r);
    ct_result res = register_items(w, &w->brand, &rs);
    EXPECT_REFUSED(e, res, HM_ERR_CONFLICT, CT_RULE_ITEM_EXISTS);
    assert_int_equal(res.index, 5000);
    records_free(&rs);

    /* Three txs in one block: the second repeats an item of the first. */
    records first, second, third;
    serial_batch(w, &first, "S", number_same, 100, 100, NULL);
    serial_batch(w, &second, "T", number_same, 51, 50, "S00077");
    serial_batch(w, &third, "U", number_same, 5000, 5000, NULL);
    size_t len[3];
    uint8_t *txs[3] = {items_tx(w, &first, &len[0]), items_tx(w, &second, &len[1]),
                       items_tx(w, &third, &len[2])};
    ct_exec *x = env_block_open(e);
    ct_result results[3];
    for (int t = 0; t < 3; t++)
        assert_int_equal(ct_exec_tx(x, txs[t], len[t], false, &results[t]), HM_OK);
    assert_int_equal(results[0].code, HM_OK);
    assert_int_equal(results[1].code, HM_ERR_CONFLICT);
    assert_int_equal(results[1].rule, CT_RULE_ITEM_EXISTS);
    assert_int_equal(results[1].index, 50);
    assert_int_equal(results[2].code, HM_OK);
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    assert_int_equal(ct_exec_apply_to_memstore(x, e->mem), HM_OK);
    ct_exec_free(x);
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "S00077", &st), HM_OK);
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "T00000", &st), HM_ERR_NOT_FOUND);
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "U04999", &st), HM_OK);
    for (int t = 0; t < 3; t++)
        free(txs[t]);
    records_free(&first);
    records_free(&second);
    records_free(&third);
    world_free(w);
}

/* Record hashes computed once (a node does so when it admits a tx) and
 * handed to the execution give the very writes and result that hashing
 * them there gives; ct_tx_records_hash refuses records that are not the
 * signed ones. */
static void test_batch_prehashed(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    records rs;
    serial_batch(w, &rs, "H", number_same, 1000, 1000, NULL); /* 63 chunks, the last short */
    size_t len = 0;
    uint8_t *txb = items_tx(w, &rs, &len);
    ct_tx tx;
    assert_int_equal(ct_tx_decode(txb, len, &tx), HM_OK);
    assert_int_equal(ct_tx_records_chunks(&tx), 63);
    uint8_t(*leaves)[HM_HASH_LEN] = malloc(1000 * HM_HASH_LEN);
    uint8_t(*chunks)[HM_HASH_LEN] = malloc(63 * HM_HASH_LEN);
    assert_non_null(leaves);
    assert_non_null(chunks);
    assert_int_equal(ct_tx_records_hash(&tx, leaves, chunks), HM_OK);
    uint8_t roots[2][HM_HASH_LEN];
    ct_result res[2];
    for (int pre = 0; pre < 2; pre++) {
        ct_exec *x = env_block_open(e);
        e->height--; /* both run as the same block */
        e->time_ms -= 1000;
        if (pre)
            assert_int_equal(ct_exec_tx_prehashed(x, &tx, false,
                                                  (const uint8_t(*)[HM_HASH_LEN])leaves,
                                                  (const uint8_t(*)[HM_HASH_LEN])chunks, &res[pre]),
                             HM_OK);
        else
            assert_int_equal(ct_exec_tx_decoded(x, &tx, false, &res[pre]), HM_OK);
        assert_int_equal(ct_exec_end_block(x), HM_OK);
        ct_exec_state_root(x, e->root, roots[pre]);
        ct_exec_free(x);
    }
    assert_int_equal(res[0].code, HM_OK);
    assert_int_equal(res[1].code, HM_OK);
    assert_memory_equal(roots[0], roots[1], HM_HASH_LEN);
    /* chunk roots that do not give the signed root: refused, as records
     * that do not match are, and nothing but the result is written */
    chunks[62][0] ^= 1;
    ct_exec *x = env_block_open(e);
    e->height--;
    e->time_ms -= 1000;
    ct_result other;
    assert_int_equal(ct_exec_tx_prehashed(x, &tx, false, (const uint8_t(*)[HM_HASH_LEN])leaves,
                                          (const uint8_t(*)[HM_HASH_LEN])chunks, &other),
                     HM_OK);
    assert_int_equal(other.code, HM_ERR_PROOF);
    size_t writes = 0;
    assert_int_equal(ct_exec_foreach_write(x, env_count_write, &writes), HM_OK);
    assert_int_equal(writes, 0);
    ct_exec_free(x);
    /* one byte of the last record changed: its records no longer give the
     * signed root (the id, over head and signature, is the same) */
    uint8_t *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, txb, len);
    bad[len - 1] ^= 1;
    ct_tx bad_tx;
    assert_int_equal(ct_tx_decode(bad, len, &bad_tx), HM_OK);
    assert_memory_equal(bad_tx.id, tx.id, HM_HASH_LEN);
    assert_int_equal(ct_tx_records_hash(&bad_tx, leaves, chunks), HM_ERR_PROOF);
    ct_tx no_records;
    memset(&no_records, 0, sizeof no_records);
    assert_int_equal(ct_tx_records_hash(&no_records, leaves, chunks), HM_ERR_ARG);
    free(bad);
    free(leaves);
    free(chunks);
    free(txb);
    records_free(&rs);
    world_free(w);
}

static void test_batch_proofs_and_all_or_nothing(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    enum { N = 1000, BAD = 537 };
    records rs = {0};
    for (uint32_t i = 0; i < N; i++) {
        ct_item_record r;
        char serial[21];
        snprintf(serial, sizeof serial, "B%u", i);
        item_rec(&r, GTIN_A, serial, i < 500 ? "LOTA" : "LOTB", w->product_hash, NULL);
        records_add(&rs, &r);
    }
    /* One bad record (a counterfeit GTIN) rejects the whole batch. */
    ct_item_record bad;
    item_rec(&bad, w->gtin_b, "X", "", w->product_hash, NULL);
    uint8_t *saved = rs.recs[BAD];
    size_t saved_len = rs.lens[BAD];
    hm_writer wr;
    hm_writer_init_growable(&wr, CT_RECORD_MAX);
    assert_int_equal(ct_item_record_encode(&bad, &wr), HM_OK);
    rs.recs[BAD] = hm_writer_take(&wr, &rs.lens[BAD]);
    size_t count_before = ct_memstore_count(e->mem);
    ct_result res = register_items(w, &w->brand, &rs);
    EXPECT_REFUSED(e, res, HM_ERR_DENIED, CT_RULE_PREFIX_OWNER);
    assert_int_equal(res.index, BAD);
    assert_int_equal(ct_memstore_count(e->mem), count_before + 1); /* only "t/<id>" */
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "B0", &st), HM_ERR_NOT_FOUND);
    free(rs.recs[BAD]);
    rs.recs[BAD] = saved;
    rs.lens[BAD] = saved_len;

    EXPECT_OK(register_items(w, &w->brand, &rs));
    /* The signed root, recomputed here. */
    uint8_t(*leaves)[HM_HASH_LEN] = malloc(N * HM_HASH_LEN);
    for (uint32_t i = 0; i < N; i++)
        hm_merkle_leaf_hash(rs.recs[i], rs.lens[i], leaves[i]);
    uint8_t root[HM_HASH_LEN];
    hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])leaves, N, root);
    /* Every record is stored and individually provable. */
    for (uint32_t i = 0; i < N; i += (i < 40 ? 1 : 37)) {
        char serial[21];
        snprintf(serial, sizeof serial, "B%u", i);
        assert_int_equal(ct_query_item(&e->store, GTIN_A, serial, &st), HM_OK);
        assert_int_equal(st.reg_index, i);
        ct_record_proof pr;
        assert_int_equal(ct_query_record_proof(&e->store, st.reg_tx, i, &pr), HM_OK);
        assert_memory_equal(pr.root, root, 32);
        assert_memory_equal(pr.leaf_hash, leaves[i], 32);
        assert_int_equal(hm_merkle_inclusion_verify(leaves[i], i, N,
                                                    (const uint8_t(*)[HM_HASH_LEN])pr.path,
                                                    pr.path_len, root),
                         HM_OK);
        /* The proof from the lib's whole-tree builder is the same path. */
        uint8_t path[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
        size_t path_len = 0;
        assert_int_equal(
            hm_merkle_inclusion_proof((const uint8_t(*)[HM_HASH_LEN])leaves, N, i, path, &path_len),
            HM_OK);
        assert_int_equal(path_len, pr.path_len);
        assert_memory_equal(path, pr.path, path_len * HM_HASH_LEN);
    }
    /* The last record (in a partial chunk of 8). */
    ct_record_proof pr;
    assert_int_equal(ct_query_record_proof(&e->store, st.reg_tx, N - 1, &pr), HM_OK);
    assert_int_equal(hm_merkle_inclusion_verify(leaves[N - 1], N - 1, N,
                                                (const uint8_t(*)[HM_HASH_LEN])pr.path, pr.path_len,
                                                root),
                     HM_OK);
    free(leaves);
    records_free(&rs);

    /* The brand's items, paginated: the 1,000 of the batch in pages of 300. */
    uint8_t cursor[CT_KEY_MAX];
    size_t cursor_len = 0;
    uint32_t total = 0, pages = 0;
    for (;;) {
        uint8_t next[CT_KEY_MAX];
        size_t next_len = 0;
        assert_int_equal(ct_query_brand_items(&e->store, &w->brand_id, cursor_len ? cursor : NULL,
                                              cursor_len, 300, count_item, &total, next, &next_len),
                         HM_OK);
        pages++;
        if (next_len == 0)
            break;
        memcpy(cursor, next, next_len);
        cursor_len = next_len;
    }
    assert_int_equal(total, N);
    assert_int_equal(pages, 4);
    /* Limits are bounded. */
    uint8_t next[CT_KEY_MAX];
    size_t next_len = 0;
    assert_int_equal(ct_query_brand_items(&e->store, &w->brand_id, NULL, 0, CT_PAGE_MAX + 1,
                                          count_item, &total, next, &next_len),
                     HM_ERR_ARG);
    world_free(w);
}

/* ------------------------------------------------------- brand listings */

typedef struct {
    char items[64][CT_GTIN_LEN + 1 + CT_SERIAL_MAX + 1];
    uint32_t n;
    uint32_t stop_at; /* the visitor says stop after this many (0: never) */
} item_list;

static bool list_item(void *arg, const char *gtin14, const char *serial) {
    item_list *l = arg;
    assert_true(l->n < 64);
    snprintf(l->items[l->n], sizeof l->items[l->n], "%s/%s", gtin14, serial);
    l->n++;
    return l->stop_at == 0 || l->n < l->stop_at;
}

/* One page of the brand's items of world w from cursor `after` into l. */
static hm_err brand_page(world *w, const ct_member_id *brand, const uint8_t *after,
                         size_t after_len, uint32_t limit, item_list *l, uint8_t *next,
                         size_t *next_len) {
    return ct_query_brand_items(&w->e->store, brand, after, after_len, limit, list_item, l, next,
                                next_len);
}

/* Lists a brand's items in pages of `limit` into l; returns the pages. */
static uint32_t list_brand(world *w, const ct_member_id *brand, uint32_t limit, item_list *l) {
    uint8_t cursor[CT_KEY_MAX];
    size_t cursor_len = 0;
    uint32_t pages = 0;
    for (;;) {
        uint8_t next[CT_KEY_MAX];
        size_t next_len = 99;
        uint32_t before = l->n;
        assert_int_equal(
            brand_page(w, brand, cursor_len ? cursor : NULL, cursor_len, limit, l, next, &next_len),
            HM_OK);
        pages++;
        assert_true(l->n - before <= limit);
        if (next_len == 0)
            return pages;
        assert_int_equal(l->n - before, limit); /* a cursor only after a full page */
        memcpy(cursor, next, next_len);
        cursor_len = next_len;
    }
}

static void test_brand_items_listing(void **state) {
    (void)state;
    world *w = world_new();
    /* brand A: 40 items (serials in falling order), brand B's batch, one
     * item of A alone, then 17 of A (two chunks) */
    records a1 = {0}, b1 = {0}, a3 = {0};
    ct_item_record r;
    char serial[CT_SERIAL_MAX + 1];
    char want[64][CT_GTIN_LEN + 1 + CT_SERIAL_MAX + 1];
    uint32_t nwant = 0;
    for (uint32_t i = 0; i < 40; i++) {
        snprintf(serial, sizeof serial, "A%03u", 39 - i);
        item_rec(&r, GTIN_A, serial, "", w->product_hash, NULL);
        records_add(&a1, &r);
        snprintf(want[nwant++], sizeof want[0], "%s/%s", GTIN_A, serial);
    }
    uint8_t hash_b[HM_HASH_LEN];
    EXPECT_OK(env_product_set(w->e, &w->brand2, w->gtin_b, "Other", hash_b));
    for (uint32_t i = 0; i < 5; i++) {
        snprintf(serial, sizeof serial, "K%u", i);
        item_rec(&r, w->gtin_b, serial, "", hash_b, NULL);
        records_add(&b1, &r);
    }
    for (uint32_t i = 0; i < 17; i++) {
        snprintf(serial, sizeof serial, "C%02u", i);
        item_rec(&r, GTIN_A, serial, "", w->product_hash, NULL);
        records_add(&a3, &r);
    }
    EXPECT_OK(register_items(w, &w->brand, &a1));
    EXPECT_OK(register_items(w, &w->brand2, &b1));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "Z1", "", NULL));
    snprintf(want[nwant++], sizeof want[0], "%s/Z1", GTIN_A);
    EXPECT_OK(register_items(w, &w->brand, &a3));
    for (uint32_t i = 0; i < 17; i++)
        snprintf(want[nwant++], sizeof want[0], "%s/C%02u", GTIN_A, i);
    assert_int_equal(nwant, 58);

    /* In registration order whatever the page size, no item twice. */
    static const uint32_t limits[] = {1, 7, 16, 40, 41, 57, 58, 100};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        item_list l = {.n = 0};
        uint32_t pages = list_brand(w, &w->brand_id, limits[k], &l);
        assert_int_equal(l.n, nwant);
        assert_int_equal(pages, (nwant + limits[k] - 1) / limits[k]);
        for (uint32_t i = 0; i < nwant; i++)
            assert_string_equal(l.items[i], want[i]);
    }
    /* The other brand sees its own batch only; a member without items none. */
    item_list lb = {.n = 0};
    assert_int_equal(list_brand(w, &w->brand2_id, 10, &lb), 1);
    assert_int_equal(lb.n, 5);
    char k4[CT_GTIN_LEN + 4];
    snprintf(k4, sizeof k4, "%s/K4", w->gtin_b);
    assert_string_equal(lb.items[4], k4);
    item_list none = {.n = 0};
    assert_int_equal(list_brand(w, &w->auditor_id, 10, &none), 1);
    assert_int_equal(none.n, 0);

    /* A visitor that stops early still gets a cursor that resumes after
     * the last item it took. */
    item_list l = {.n = 0, .stop_at = 3};
    uint8_t next[CT_KEY_MAX];
    size_t next_len = 0;
    assert_int_equal(brand_page(w, &w->brand_id, NULL, 0, 10, &l, next, &next_len), HM_OK);
    assert_int_equal(l.n, 3);
    assert_int_equal(next_len, 12);
    item_list rest = {.n = 0};
    assert_int_equal(brand_page(w, &w->brand_id, next, next_len, 1, &rest, next, &next_len), HM_OK);
    assert_int_equal(rest.n, 1);
    assert_string_equal(rest.items[0], want[3]);

    /* Cursors and limits are checked; a cursor past the end lists nothing. */
    uint8_t bad[13] = {0};
    assert_int_equal(brand_page(w, &w->brand_id, bad, 11, 10, &rest, next, &next_len), HM_ERR_ARG);
    assert_int_equal(brand_page(w, &w->brand_id, bad, 13, 10, &rest, next, &next_len), HM_ERR_ARG);
    uint32_t too_far = CT_BATCH_RECORDS_MAX;
    for (int i = 0; i < 4; i++)
        bad[8 + i] = (uint8_t)(too_far >> (24 - 8 * i));
    assert_int_equal(brand_page(w, &w->brand_id, bad, 12, 10, &rest, next, &next_len), HM_ERR_ARG);
    assert_int_equal(brand_page(w, &w->brand_id, NULL, 0, 0, &rest, next, &next_len), HM_ERR_ARG);
    memset(bad, 0xff, 8);
    memset(bad + 8, 0, 4);
    rest.n = 0;
    next_len = 99;
    assert_int_equal(brand_page(w, &w->brand_id, bad, 12, 10, &rest, next, &next_len), HM_OK);
    assert_int_equal(rest.n, 0);
    assert_int_equal(next_len, 0);

    records_free(&a1);
    records_free(&b1);
    records_free(&a3);
    world_free(w);
}

/* -------------------------------------------------------------- claims */

static ct_result claim(world *w, const char *gtin, const char *serial, const char *code) {
    ct_claim_body b;
    memset(&b, 0, sizeof b);
    strcpy(b.item.gtin, gtin);
    strcpy(b.item.serial, serial);
    b.code_len = strlen(code);
    memcpy(b.code, code, b.code_len);
    uint8_t buf[160];
    hm_writer wr;
    hm_writer_init(&wr, buf, sizeof buf);
    assert_int_equal(ct_claim_encode(&b, &wr), HM_OK);
    return env_exec(w->e, CT_TX_CLAIM, NULL, buf, wr.len, NULL, NULL, 0);
}

static void test_claims(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "C1", "L1", "s3cret-code"));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "C2", "L1", NULL));
    EXPECT_REFUSED(e, claim(w, GTIN_A, "C1", "guess"), HM_ERR_DENIED, CT_RULE_BAD_CODE);
    EXPECT_REFUSED(e, claim(w, GTIN_A, "C2", "anything"), HM_ERR_DENIED, CT_RULE_NO_CODE);
    EXPECT_REFUSED(e, claim(w, GTIN_A, "C9", "s3cret-code"), HM_ERR_NOT_FOUND, CT_RULE_NO_ITEM);
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "C1", &st), HM_OK);
    assert_false(st.claimed);
    /* Knowing the code is the authorisation: no key. */
    EXPECT_OK(claim(w, GTIN_A, "C1", "s3cret-code"));
    uint64_t claim_time = e->time_ms;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "C1", &st), HM_OK);
    assert_true(st.claimed);
    assert_int_equal(st.claimed_ms, claim_time);
    /* A cloned code on a fake: the second claim fails, lookups still say
     * claimed at the first time. */
    EXPECT_REFUSED(e, claim(w, GTIN_A, "C1", "s3cret-code"), HM_ERR_CONFLICT, CT_RULE_CLAIMED);
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "C1", &st), HM_OK);
    assert_true(st.claimed);
    assert_int_equal(st.claimed_ms, claim_time);
    /* Empty code never decodes. */
    EXPECT_REFUSED(e, claim(w, GTIN_A, "C1", ""), HM_ERR_BAD_VALUE, CT_RULE_BODY);
    world_free(w);
}

/* -------------------------------------------------------------- recall */

static ct_result recall_lot(world *w, const hm_keypair *signer, const char *gtin, const char *lot) {
    ct_recall_body *b = calloc(1, sizeof *b);
    b->mode = CT_RECALL_LOT;
    strcpy(b->gtin, gtin);
    strcpy(b->lot, lot);
    strcpy(b->reason, "contamination");
    uint8_t buf[512];
    hm_writer wr;
    hm_writer_init(&wr, buf, sizeof buf);
    assert_int_equal(ct_recall_encode(b, &wr), HM_OK);
    free(b);
    return env_exec(w->e, CT_TX_RECALL, signer, buf, wr.len, NULL, NULL, 0);
}

/* Fills items with gtin/serials[i] for the item lists of recalls and
 * transfers; returns n, the count to set. */
static uint32_t item_refs(ct_item_ref *items, const char *gtin, const char *const *serials,
                          uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        strcpy(items[i].gtin, gtin);
        strcpy(items[i].serial, serials[i]);
    }
    return n;
}

static ct_result recall_items(world *w, const hm_keypair *signer, const char *gtin,
                              const char *const *serials, uint32_t n) {
    ct_recall_body *b = calloc(1, sizeof *b);
    b->mode = CT_RECALL_ITEMS;
    strcpy(b->reason, "damaged");
    b->item_count = item_refs(b->items, gtin, serials, n);
    uint8_t buf[4096];
    hm_writer wr;
    hm_writer_init(&wr, buf, sizeof buf);
    assert_int_equal(ct_recall_encode(b, &wr), HM_OK);
    free(b);
    return env_exec(w->e, CT_TX_RECALL, signer, buf, wr.len, NULL, NULL, 0);
}

static void test_recalls(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "R1", "L7", NULL));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "R2", "L8", NULL));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "R3", "L8", NULL));
    EXPECT_REFUSED(e, recall_lot(w, &w->brand2, GTIN_A, "L7"), HM_ERR_DENIED,
                   CT_RULE_NOT_ITEM_BRAND);
    EXPECT_REFUSED(e, recall_lot(w, &w->logi, GTIN_A, "L7"), HM_ERR_DENIED, CT_RULE_NOT_ITEM_BRAND);
    const char *r2[] = {"R2"};
    EXPECT_REFUSED(e, recall_items(w, &w->brand2, GTIN_A, r2, 1), HM_ERR_DENIED,
                   CT_RULE_NOT_ITEM_BRAND);
    const char *missing[] = {"R2", "R404"};
    ct_result res = recall_items(w, &w->brand, GTIN_A, missing, 2);
    EXPECT_REFUSED(e, res, HM_ERR_NOT_FOUND, CT_RULE_NO_ITEM);
    assert_int_equal(res.index, 1);
    EXPECT_OK(recall_lot(w, &w->brand, GTIN_A, "L7"));
    EXPECT_OK(recall_items(w, &w->brand, GTIN_A, r2, 1));
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "R1", &st), HM_OK);
    assert_true(st.recalled);
    assert_string_equal(st.recall_reason, "contamination");
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "R2", &st), HM_OK);
    assert_true(st.recalled);
    assert_string_equal(st.recall_reason, "damaged");
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "R3", &st), HM_OK);
    assert_false(st.recalled);
    /* Items registered into a recalled lot later show it too. */
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "R4", "L7", NULL));
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "R4", &st), HM_OK);
    assert_true(st.recalled);
    world_free(w);
}

/* ------------------------------------------------------------- custody */

static ct_result transfer(world *w, const hm_keypair *signer, const ct_member_id *to,
                          const char *gtin, const char *const *serials, uint32_t n) {
    ct_custody_body *b = calloc(1, sizeof *b);
    b->to = *to;
    b->item_count = item_refs(b->items, gtin, serials, n);
    uint8_t buf[4096];
    hm_writer wr;
    hm_writer_init(&wr, buf, sizeof buf);
    assert_int_equal(ct_custody_encode(b, &wr), HM_OK);
    free(b);
    return env_exec(w->e, CT_TX_CUSTODY_TRANSFER, signer, buf, wr.len, NULL, NULL, 0);
}

static void test_custody(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "K1", "", NULL));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "K2", "", NULL));
    const char *k1[] = {"K1"};
    const char *twice[] = {"K1", "K1"};
    const char *k404[] = {"K404"};
    EXPECT_REFUSED(e, transfer(w, &w->logi, &w->logi_id, GTIN_A, k1, 1), HM_ERR_DENIED,
                   CT_RULE_NOT_CUSTODIAN);
    EXPECT_REFUSED(e, transfer(w, &w->brand, &w->auditor_id, GTIN_A, k1, 1), HM_ERR_DENIED,
                   CT_RULE_TRANSFER_TO);
    EXPECT_REFUSED(e, transfer(w, &w->brand, &w->logi_id, GTIN_A, twice, 2), HM_ERR_CONFLICT,
                   CT_RULE_DUPLICATE);
    EXPECT_REFUSED(e, transfer(w, &w->brand, &w->logi_id, GTIN_A, k404, 1), HM_ERR_NOT_FOUND,
                   CT_RULE_NO_ITEM);
    EXPECT_OK(transfer(w, &w->brand, &w->logi_id, GTIN_A, k1, 1));
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "K1", &st), HM_OK);
    assert_memory_equal(st.custodian.bytes, w->logi_id.bytes, 32);
    /* The brand no longer holds it. */
    EXPECT_REFUSED(e, transfer(w, &w->brand, &w->retail_id, GTIN_A, k1, 1), HM_ERR_DENIED,
                   CT_RULE_NOT_CUSTODIAN);
    EXPECT_OK(transfer(w, &w->logi, &w->retail_id, GTIN_A, k1, 1));
    EXPECT_OK(transfer(w, &w->retail, &w->brand_id, GTIN_A, k1, 1));
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "K1", &st), HM_OK);
    assert_memory_equal(st.custodian.bytes, w->brand_id.bytes, 32);
    world_free(w);
}

/* -------------------------------------------------------------- events */

static void event_init(ct_event_record *ev, const char *seed, uint8_t type, uint8_t action,
                       uint64_t time_ms, const char *biz_step) {
    memset(ev, 0, sizeof *ev);
    hm_sha256((const uint8_t *)seed, strlen(seed), ev->event_hash);
    ev->type = type;
    ev->action = action;
    ev->event_time_ms = time_ms;
    strcpy(ev->tz_offset, "+01:00");
    snprintf(ev->biz_step, sizeof ev->biz_step, "https://ref.gs1.org/cbv/BizStep-%s", biz_step);
    strcpy(ev->read_point, "https://id.gs1.org/414/4012345000115");
}

static void event_epc(ct_event_record *ev, const char *gtin, const char *serial,
                      const uint8_t *prev) {
    ct_event_epc *p = &ev->epcs[ev->epc_count++];
    if (serial != NULL)
        assert_int_equal(ct_item_epc(gtin, serial, p->epc, sizeof p->epc), HM_OK);
    else
        snprintf(p->epc, sizeof p->epc, "%s", gtin); /* a non-item EPC */
    if (prev != NULL)
        memcpy(p->prev_hash, prev, HM_HASH_LEN);
}

static ct_result record_events(world *w, const hm_keypair *signer, ct_event_record *evs,
                               uint32_t n) {
    records rs = {0};
    rs.recs = calloc(n, sizeof *rs.recs);
    rs.lens = calloc(n, sizeof *rs.lens);
    for (uint32_t i = 0; i < n; i++) {
        hm_writer wr;
        hm_writer_init_growable(&wr, CT_RECORD_MAX);
        assert_int_equal(ct_event_record_encode(&evs[i], &wr), HM_OK);
        rs.recs[i] = hm_writer_take(&wr, &rs.lens[i]);
    }
    rs.n = n;
    ct_result res = env_exec(w->e, CT_TX_EVENT_RECORD, signer, NULL, 0,
                             (const uint8_t *const *)rs.recs, rs.lens, rs.n);
    records_free(&rs);
    return res;
}

typedef struct {
    uint8_t hashes[16][HM_HASH_LEN];
    uint32_t n;
} hash_list;

static bool collect_hash(void *arg, const uint8_t hash[HM_HASH_LEN]) {
    hash_list *l = arg;
    assert_true(l->n < 16);
    memcpy(l->hashes[l->n++], hash, HM_HASH_LEN);
    return true;
}

static void history(world *w, const char *serial, hash_list *l) {
    memset(l, 0, sizeof *l);
    uint8_t next[CT_KEY_MAX];
    size_t next_len = 0;
    assert_int_equal(ct_query_item_history(&w->e->store, GTIN_A, serial, NULL, 0, 16, collect_hash,
                                           l, next, &next_len),
                     HM_OK);
    assert_int_equal(next_len, 0);
}

static void test_events_chain_and_custody(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "E1", "LE", NULL));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "E2", "LE", NULL));
    ct_event_record *ev = calloc(2, sizeof *ev);
    /* First event: commissioning, prev = zero. */
    event_init(&ev[0], "ev1", CT_EPCIS_OBJECT, CT_ACTION_ADD, 1000, "commissioning");
    event_epc(&ev[0], GTIN_A, "E1", NULL);
    event_epc(&ev[0], GTIN_A, "E2", NULL);
    EXPECT_REFUSED(e, record_events(w, &w->auditor, ev, 1), HM_ERR_DENIED, CT_RULE_EVENT_ROLE);
    EXPECT_REFUSED(e, record_events(w, &w->logi, ev, 1), HM_ERR_DENIED, CT_RULE_NOT_CUSTODIAN);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    uint8_t h1[HM_HASH_LEN];
    memcpy(h1, ev[0].event_hash, HM_HASH_LEN);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_CONFLICT, CT_RULE_EVENT_EXISTS);
    /* Wrong previous hash (zero again), then right; two events of one batch
     * chain to each other. */
    event_init(&ev[0], "ev2", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 2000, "packing");
    event_epc(&ev[0], GTIN_A, "E1", NULL);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_CONFLICT, CT_RULE_CHAIN);
    memcpy(ev[0].epcs[0].prev_hash, h1, HM_HASH_LEN);
    event_init(&ev[1], "ev3", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 3000, "shipping");
    event_epc(&ev[1], GTIN_A, "E1", ev[0].event_hash);
    ct_result res = record_events(w, &w->brand, ev, 2);
    EXPECT_OK(res);
    uint8_t h3[HM_HASH_LEN];
    memcpy(h3, ev[1].event_hash, HM_HASH_LEN);
    hash_list l;
    history(w, "E1", &l);
    assert_int_equal(l.n, 3);
    assert_memory_equal(l.hashes[0], h1, 32);
    assert_memory_equal(l.hashes[2], h3, 32);
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "E1", &st), HM_OK);
    assert_int_equal(st.event_count, 3);
    assert_memory_equal(st.last_event, h3, 32);
    /* Unregistered item; a non-item EPC with a chain. */
    event_init(&ev[0], "ev4", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 4000, "shipping");
    event_epc(&ev[0], GTIN_A, "E404", NULL);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_NOT_FOUND, CT_RULE_NO_ITEM);
    event_init(&ev[0], "ev4", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 4000, "shipping");
    event_epc(&ev[0], "https://id.gs1.org/00/106141412345678908", NULL, h1);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_BAD_VALUE, CT_RULE_CHAIN);
    /* A batch whose 2nd record is bad rejects the first too. */
    event_init(&ev[0], "ev5", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 5000, "shipping");
    event_epc(&ev[0], GTIN_A, "E2", h1);
    event_init(&ev[1], "ev6", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 5000, "shipping");
    event_epc(&ev[1], GTIN_A, "E2", h1);
    res = record_events(w, &w->brand, ev, 2);
    EXPECT_REFUSED(e, res, HM_ERR_CONFLICT, CT_RULE_CHAIN);
    assert_int_equal(res.index, 1);
    history(w, "E2", &l);
    assert_int_equal(l.n, 1);
    /* Custody moves who may record. */
    const char *e2[] = {"E2"};
    EXPECT_OK(transfer(w, &w->brand, &w->logi_id, GTIN_A, e2, 1));
    event_init(&ev[0], "ev7", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 6000, "receiving");
    event_epc(&ev[0], GTIN_A, "E2", h1);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_DENIED, CT_RULE_NOT_CUSTODIAN);
    EXPECT_OK(record_events(w, &w->logi, ev, 1));
    /* The stored event and its proof. */
    ct_stored_event se;
    assert_int_equal(ct_query_event(&e->store, ev[0].event_hash, &se), HM_OK);
    assert_memory_equal(se.signer.bytes, w->logi_id.bytes, 32);
    ct_event_record *back = calloc(1, sizeof *back);
    assert_int_equal(ct_event_record_decode(se.record, se.record_len, back), HM_OK);
    assert_string_equal(back->biz_step, "https://ref.gs1.org/cbv/BizStep-receiving");
    ct_record_proof pr;
    assert_int_equal(ct_query_record_proof(&e->store, se.tx_id, se.index, &pr), HM_OK);
    uint8_t leaf[HM_HASH_LEN];
    hm_merkle_leaf_hash(se.record, se.record_len, leaf);
    assert_memory_equal(pr.leaf_hash, leaf, 32);
    free(back);
    ct_stored_event_clear(&se);
    free(ev);
    world_free(w);
}

static void test_aggregation_and_queries(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "P1", "LA", NULL));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "P2", "LB", NULL));
    const char *sscc = "https://id.gs1.org/00/106141412345678908";
    const char *pallet = "https://id.gs1.org/00/106141419999999995";
    ct_event_record *ev = calloc(1, sizeof *ev);
    /* Pack P1, P2 into a case, the case onto a pallet. */
    event_init(ev, "pack", CT_EPCIS_AGGREGATION, CT_ACTION_ADD, 1000, "packing");
    strcpy(ev->parent, sscc);
    event_epc(ev, GTIN_A, "P1", NULL);
    event_epc(ev, GTIN_A, "P2", NULL);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    uint8_t hpack[HM_HASH_LEN];
    memcpy(hpack, ev->event_hash, 32);
    event_init(ev, "pallet", CT_EPCIS_AGGREGATION, CT_ACTION_ADD, 1500, "packing");
    strcpy(ev->parent, pallet);
    event_epc(ev, sscc, NULL, NULL);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    /* Packing P1 again elsewhere is refused. */
    event_init(ev, "pack2", CT_EPCIS_AGGREGATION, CT_ACTION_ADD, 1600, "packing");
    strcpy(ev->parent, pallet);
    event_epc(ev, GTIN_A, "P1", hpack);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_CONFLICT, CT_RULE_CONTAINER);
    /* An event on the pallet reaches the items inside the case. */
    event_init(ev, "ship", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 2000, "shipping");
    event_epc(ev, pallet, NULL, NULL);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    uint8_t hship[HM_HASH_LEN];
    memcpy(hship, ev->event_hash, 32);
    hash_list l;
    history(w, "P1", &l);
    assert_int_equal(l.n, 3); /* pack, case onto pallet, ship */
    assert_memory_equal(l.hashes[2], hship, 32);
    /* The chain still names the last direct event. */
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "P1", &st), HM_OK);
    assert_memory_equal(st.last_event, hpack, 32);
    /* Unpack P2 from the case: later pallet events no longer reach it. */
    event_init(ev, "unpack", CT_EPCIS_AGGREGATION, CT_ACTION_DELETE, 3000, "unpacking");
    strcpy(ev->parent, pallet);
    event_epc(ev, GTIN_A, "P2", hpack);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_CONFLICT, CT_RULE_CONTAINER);
    strcpy(ev->parent, sscc);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    event_init(ev, "ship2", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 4000, "shipping");
    event_epc(ev, pallet, NULL, NULL);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    history(w, "P2", &l);
    assert_int_equal(l.n, 4); /* pack, pallet, ship, unpack */
    history(w, "P1", &l);
    assert_int_equal(l.n, 4); /* pack, pallet, ship, ship2 */

    /* Queries: by GTIN, by lot, by bizStep, by time range; paginated. */
    ct_event_filter f;
    memset(&f, 0, sizeof f);
    uint8_t next[CT_KEY_MAX];
    size_t next_len = 0;
    strcpy(f.gtin, GTIN_A);
    memset(&l, 0, sizeof l);
    assert_int_equal(ct_query_events(&e->store, &f, NULL, 0, 16, collect_hash, &l, next, &next_len),
                     HM_OK);
    assert_int_equal(l.n, 2); /* the events naming the items directly */
    strcpy(f.lot, "LB");
    memset(&l, 0, sizeof l);
    assert_int_equal(ct_query_events(&e->store, &f, NULL, 0, 16, collect_hash, &l, next, &next_len),
                     HM_OK);
    assert_int_equal(l.n, 2); /* pack, unpack */
    memset(&f, 0, sizeof f);
    strcpy(f.biz_step, "https://ref.gs1.org/cbv/BizStep-shipping");
    memset(&l, 0, sizeof l);
    assert_int_equal(ct_query_events(&e->store, &f, NULL, 0, 16, collect_hash, &l, next, &next_len),
                     HM_OK);
    assert_int_equal(l.n, 2);
    memset(&f, 0, sizeof f);
    f.time_from_ms = 1500;
    f.time_to_ms = 3000;
    memset(&l, 0, sizeof l);
    assert_int_equal(ct_query_events(&e->store, &f, NULL, 0, 16, collect_hash, &l, next, &next_len),
                     HM_OK);
    assert_int_equal(l.n, 2); /* pallet 1500, ship 2000 */
    /* All five events one page at a time. */
    memset(&f, 0, sizeof f);
    memset(&l, 0, sizeof l);
    uint8_t cursor[CT_KEY_MAX];
    size_t cursor_len = 0;
    uint32_t pages = 0;
    do {
        assert_int_equal(ct_query_events(&e->store, &f, cursor_len ? cursor : NULL, cursor_len, 1,
                                         collect_hash, &l, next, &next_len),
                         HM_OK);
        memcpy(cursor, next, next_len);
        cursor_len = next_len;
        pages++;
    } while (cursor_len > 0 && pages < 10);
    assert_int_equal(l.n, 5);
    assert_int_equal(pages, 5);
    /* A cursor from another listing is refused. */
    strcpy(f.gtin, GTIN_A);
    uint8_t bogus[] = "p/zz";
    assert_int_equal(ct_query_events(&e->store, &f, bogus, 4, 1, collect_hash, &l, next, &next_len),
                     HM_ERR_ARG);
    free(ev);
    world_free(w);
}

/* A brand's rotated key still owns its prefix and items. */
static void test_rotation_keeps_ownership(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "Z1", "", NULL));
    hm_keypair next;
    env_key(&next, 42);
    ct_member_rotate_body rb = {.old_key = w->brand.pub, .new_key = next.pub};
    uint8_t buf[80];
    hm_writer wr;
    hm_writer_init(&wr, buf, sizeof buf);
    assert_int_equal(ct_member_rotate_encode(&rb, &wr), HM_OK);
    EXPECT_OK(env_exec(e, CT_TX_MEMBER_ROTATE, &w->brand, buf, wr.len, NULL, NULL, 0));
    EXPECT_OK(register_one(w, &next, GTIN_A, "Z2", "", NULL));
    const char *z1[] = {"Z1"};
    EXPECT_OK(transfer(w, &next, &w->logi_id, GTIN_A, z1, 1));
    /* The old key signs nothing. */
    EXPECT_REFUSED(e, register_one(w, &w->brand, GTIN_A, "Z3", "", NULL), HM_ERR_DENIED, 0);
    world_free(w);
}

/* An event on a container reaches only the packed items the signer holds:
 * naming another member's case must not write into its goods' history. */
static void test_container_events_need_custody(void **state) {
    (void)state;
    world *w = world_new();
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "C1", "", NULL));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "C2", "", NULL));
    const char *sscc = "https://id.gs1.org/00/106141412345678908";
    ct_event_record *ev = calloc(1, sizeof *ev);
    event_init(ev, "pack", CT_EPCIS_AGGREGATION, CT_ACTION_ADD, 1000, "packing");
    strcpy(ev->parent, sscc);
    event_epc(ev, GTIN_A, "C1", NULL);
    event_epc(ev, GTIN_A, "C2", NULL);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    /* The carrier holds neither item: its event on the case stands but
     * joins no item's history. */
    event_init(ev, "forged", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 2000, "shipping");
    strcpy(ev->disposition, "https://ref.gs1.org/cbv/Disp-destroyed");
    event_epc(ev, sscc, NULL, NULL);
    EXPECT_OK(record_events(w, &w->logi, ev, 1));
    hash_list l;
    history(w, "C1", &l);
    assert_int_equal(l.n, 1);
    history(w, "C2", &l);
    assert_int_equal(l.n, 1);
    /* Once it holds C1, its events on the case reach C1 only. */
    const char *c1[] = {"C1"};
    EXPECT_OK(transfer(w, &w->brand, &w->logi_id, GTIN_A, c1, 1));
    event_init(ev, "ship", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 3000, "shipping");
    event_epc(ev, sscc, NULL, NULL);
    EXPECT_OK(record_events(w, &w->logi, ev, 1));
    history(w, "C1", &l);
    assert_int_equal(l.n, 2);
    assert_memory_equal(l.hashes[1], ev->event_hash, 32);
    history(w, "C2", &l);
    assert_int_equal(l.n, 1);
    free(ev);
    world_free(w);
}

/* An item named twice by one event would advance its chain twice (or be
 * packed into itself): refused. */
static void test_event_names_item_once(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "D1", "", NULL));
    ct_event_record *ev = calloc(1, sizeof *ev);
    event_init(ev, "twice", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 1000, "shipping");
    event_epc(ev, GTIN_A, "D1", NULL);
    event_epc(ev, GTIN_A, "D1", ev->event_hash); /* chains to the event itself */
    ct_result res = record_events(w, &w->brand, ev, 1);
    EXPECT_REFUSED(e, res, HM_ERR_CONFLICT, CT_RULE_DUPLICATE);
    event_init(ev, "self", CT_EPCIS_AGGREGATION, CT_ACTION_ADD, 1000, "packing");
    event_epc(ev, GTIN_A, "D1", NULL);
    strcpy(ev->parent, ev->epcs[0].epc);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_CONFLICT, CT_RULE_DUPLICATE);
    /* A non-item EPC listed twice is not an item's business. */
    event_init(ev, "cases", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 1000, "shipping");
    event_epc(ev, GTIN_A, "D1", NULL);
    event_epc(ev, "https://id.gs1.org/00/106141412345678908", NULL, NULL);
    event_epc(ev, "https://id.gs1.org/00/106141412345678908", NULL, NULL);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    free(ev);
    world_free(w);
}

/* A "returned" event refunds the linked sale only when the brand records it:
 * a carrier holding the item may record the return but cannot void the
 * platform's sale and the streamer's commission. */
static void test_return_refund_needs_the_brand(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    hm_keypair platform, streamer;
    env_key(&platform, 7);
    env_key(&streamer, 8);
    EXPECT_OK(env_member_add(e, &e->admin, &platform.pub, CT_ROLE_PLATFORM, "Live"));
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "R1", "", NULL));
    const hm_keypair *to[] = {&streamer};
    const uint32_t bps[] = {10000};
    EXPECT_OK(env_split_create(e, &platform, "split", to, bps, 1));
    EXPECT_OK(env_item_sale(e, &platform, "split", "order-1", 5000, GTIN_A, "R1"));
    assert_int_equal(env_pending_cny(e, &streamer), 5000);

    const char *r1[] = {"R1"};
    EXPECT_OK(transfer(w, &w->brand, &w->logi_id, GTIN_A, r1, 1));
    ct_event_record *ev = calloc(1, sizeof *ev);
    event_init(ev, "carrier-return", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 1000, "receiving");
    strcpy(ev->disposition, "https://ref.gs1.org/cbv/Disp-returned");
    event_epc(ev, GTIN_A, "R1", NULL);
    EXPECT_OK(record_events(w, &w->logi, ev, 1));
    uint8_t h1[HM_HASH_LEN];
    memcpy(h1, ev->event_hash, HM_HASH_LEN);
    assert_int_equal(env_pending_cny(e, &streamer), 5000); /* the sale stands */

    EXPECT_OK(transfer(w, &w->logi, &w->brand_id, GTIN_A, r1, 1));
    event_init(ev, "brand-return", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 2000, "receiving");
    strcpy(ev->disposition, "https://ref.gs1.org/cbv/Disp-returned");
    event_epc(ev, GTIN_A, "R1", h1);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    assert_int_equal(env_pending_cny(e, &streamer), 0);
    free(ev);
    world_free(w);
}

/* A record carrying a pre-hash string must hash to its event hash (218). */
static void test_prehash_binds_hash(void **state) {
    (void)state;
    world *w = world_new();
    env *e = w->e;
    EXPECT_OK(register_one(w, &w->brand, GTIN_A, "H1", "", NULL));
    ct_event_record *ev = calloc(1, sizeof *ev);
    event_init(ev, "not-its-hash", CT_EPCIS_OBJECT, CT_ACTION_OBSERVE, 1000, "shipping");
    event_epc(ev, GTIN_A, "H1", NULL);
    const char *pre = "eventType=ObjectEventeventTime=1970-01-01T00:00:01.000Z";
    strcpy(ev->prehash, pre);
    ev->prehash_len = (uint32_t)strlen(pre);
    EXPECT_REFUSED(e, record_events(w, &w->brand, ev, 1), HM_ERR_BAD_VALUE, CT_RULE_EVENT_HASH);
    hm_sha256((const uint8_t *)pre, strlen(pre), ev->event_hash);
    EXPECT_OK(record_events(w, &w->brand, ev, 1));
    free(ev);
    world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_rules),
        cmocka_unit_test(test_product_rules),
        cmocka_unit_test(test_item_register_and_status),
        cmocka_unit_test(test_item_rules),
        cmocka_unit_test(test_batch_first_refusal_in_record_order),
        cmocka_unit_test(test_batch_stored_items_found),
        cmocka_unit_test(test_batch_proofs_and_all_or_nothing),
        cmocka_unit_test(test_batch_prehashed),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_recalls),
        cmocka_unit_test(test_custody),
        cmocka_unit_test(test_events_chain_and_custody),
        cmocka_unit_test(test_aggregation_and_queries),
        cmocka_unit_test(test_rotation_keeps_ownership),
        cmocka_unit_test(test_container_events_need_custody),
        cmocka_unit_test(test_event_names_item_once),
        cmocka_unit_test(test_return_refund_needs_the_brand),
        cmocka_unit_test(test_prehash_binds_hash),
        cmocka_unit_test(test_brand_items_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
