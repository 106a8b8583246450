/* tests/unit/test_ct_members.c — consortium members: add, revoke, rotate,
 * every permission rule and rejection with its code, and that a refused tx
 * writes nothing but its result. */
#include "test_ct_prov_env.h"

static void test_add_and_lookup(void **state) {
    (void)state;
    env *e = env_new();
    hm_keypair brand;
    env_key(&brand, 2);
    EXPECT_OK(env_member_add(e, &e->admin, &brand.pub, CT_ROLE_BRAND | CT_ROLE_RETAILER, "Acme"));
    ct_member m;
    assert_int_equal(ct_query_member(&e->store, &brand.pub, &m), HM_OK);
    assert_int_equal(m.roles, CT_ROLE_BRAND | CT_ROLE_RETAILER);
    assert_string_equal(m.name, "Acme");
    assert_false(m.revoked);
    assert_int_equal(m.since_height, 1);
    /* The new member can sign: it rotates its own key. */
    hm_keypair next;
    env_key(&next, 3);
    ct_member_rotate_body rb = {.old_key = brand.pub, .new_key = next.pub};
    uint8_t buf[80];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_member_rotate_encode(&rb, &w), HM_OK);
    EXPECT_OK(env_exec(e, CT_TX_MEMBER_ROTATE, &brand, buf, w.len, NULL, NULL, 0));
    env_free(e);
}

static void test_add_refusals(void **state) {
    (void)state;
    env *e = env_new();
    hm_keypair brand, other, stranger;
    env_key(&brand, 2);
    env_key(&other, 3);
    env_key(&stranger, 9);
    EXPECT_OK(env_member_add(e, &e->admin, &brand.pub, CT_ROLE_BRAND, "Acme"));
    /* Only admins add. */
    EXPECT_REFUSED(e, env_member_add(e, &brand, &other.pub, CT_ROLE_BRAND, "X"), HM_ERR_DENIED,
                   CT_RULE_NOT_ADMIN);
    /* A non-member cannot sign at all (the executor refuses, rule 0). */
    EXPECT_REFUSED(e, env_member_add(e, &stranger, &other.pub, CT_ROLE_BRAND, "X"), HM_ERR_DENIED,
                   0);
    /* Roles: empty, admin, unknown bits. */
    EXPECT_REFUSED(e, env_member_add(e, &e->admin, &other.pub, 0, "X"), HM_ERR_BAD_VALUE,
                   CT_RULE_BAD_ROLES);
    EXPECT_REFUSED(e, env_member_add(e, &e->admin, &other.pub, CT_ROLE_ADMIN, "X"),
                   HM_ERR_BAD_VALUE, CT_RULE_BAD_ROLES);
    EXPECT_REFUSED(e, env_member_add(e, &e->admin, &other.pub, 1u << 20, "X"), HM_ERR_BAD_VALUE,
                   CT_RULE_BAD_ROLES);
    /* Keys are unique: an existing member, a genesis admin. */
    EXPECT_REFUSED(e, env_member_add(e, &e->admin, &brand.pub, CT_ROLE_MCN, "X"), HM_ERR_CONFLICT,
                   CT_RULE_MEMBER_EXISTS);
    EXPECT_REFUSED(e, env_member_add(e, &e->admin, &e->admin.pub, CT_ROLE_MCN, "X"),
                   HM_ERR_CONFLICT, CT_RULE_MEMBER_EXISTS);
    /* Not a curve point (x = 0 is not on secp256k1). */
    hm_pubkey bad;
    memset(&bad, 0, sizeof bad);
    bad.bytes[31] = 5;
    if (hm_pubkey_check(&bad) != HM_OK)
        EXPECT_REFUSED(e, env_member_add(e, &e->admin, &bad, CT_ROLE_MCN, "X"), HM_ERR_BAD_KEY,
                       CT_RULE_BAD_KEY);
    /* Empty name, trailing bytes, truncated body. */
    EXPECT_REFUSED(e, env_member_add(e, &e->admin, &other.pub, CT_ROLE_MCN, ""), HM_ERR_BAD_VALUE,
                   CT_RULE_BODY);
    uint8_t buf[64];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    ct_member_add_body b = {.key = other.pub, .roles = CT_ROLE_MCN, .name = "Y"};
    assert_int_equal(ct_member_add_encode(&b, &w), HM_OK);
    buf[w.len] = 0;
    EXPECT_REFUSED(e, env_exec(e, CT_TX_MEMBER_ADD, &e->admin, buf, w.len + 1, NULL, NULL, 0),
                   HM_ERR_TRAILING, CT_RULE_BODY);
    EXPECT_REFUSED(e, env_exec(e, CT_TX_MEMBER_ADD, &e->admin, buf, 10, NULL, NULL, 0),
                   HM_ERR_TRUNCATED, CT_RULE_BODY);
    /* Member txs carry no records. */
    const uint8_t *rec = (const uint8_t *)"r";
    size_t rec_len = 1;
    EXPECT_REFUSED(e, env_exec(e, CT_TX_MEMBER_ADD, &e->admin, buf, w.len, &rec, &rec_len, 1),
                   HM_ERR_BAD_VALUE, CT_RULE_RECORDS);
    assert_int_equal(ct_query_member(&e->store, &other.pub, &(ct_member){0}), HM_ERR_NOT_FOUND);
    env_free(e);
}

static ct_result revoke(env *e, const hm_keypair *signer, const hm_pubkey *key) {
    ct_member_revoke_body b = {.key = *key};
    uint8_t buf[64];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_member_revoke_encode(&b, &w), HM_OK);
    return env_exec(e, CT_TX_MEMBER_REVOKE, signer, buf, w.len, NULL, NULL, 0);
}

static ct_result rotate(env *e, const hm_keypair *signer, const hm_pubkey *old_key,
                        const hm_pubkey *new_key) {
    ct_member_rotate_body b = {.old_key = *old_key, .new_key = *new_key};
    uint8_t buf[80];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_member_rotate_encode(&b, &w), HM_OK);
    return env_exec(e, CT_TX_MEMBER_ROTATE, signer, buf, w.len, NULL, NULL, 0);
}

static void test_revoke(void **state) {
    (void)state;
    env *e = env_new();
    hm_keypair brand, other, admin2;
    env_key(&brand, 2);
    env_key(&other, 3);
    env_key(&admin2, 4);
    EXPECT_OK(env_member_add(e, &e->admin, &brand.pub, CT_ROLE_BRAND, "Acme"));
    EXPECT_OK(env_member_add(e, &e->admin, &other.pub, CT_ROLE_LOGISTICS, "Ship"));
    EXPECT_REFUSED(e, revoke(e, &brand, &other.pub), HM_ERR_DENIED, CT_RULE_NOT_ADMIN);
    EXPECT_REFUSED(e, revoke(e, &e->admin, &e->admin.pub), HM_ERR_DENIED, CT_RULE_SELF_REVOKE);
    EXPECT_REFUSED(e, revoke(e, &e->admin, &admin2.pub), HM_ERR_NOT_FOUND, CT_RULE_NO_MEMBER);
    EXPECT_OK(revoke(e, &e->admin, &brand.pub));
    ct_member m;
    assert_int_equal(ct_query_member(&e->store, &brand.pub, &m), HM_ERR_NOT_FOUND);
    assert_true(m.revoked);
    /* A revoked key can no longer sign anything that executes. */
    hm_keypair fresh;
    env_key(&fresh, 7);
    EXPECT_REFUSED(e, rotate(e, &brand, &brand.pub, &fresh.pub), HM_ERR_DENIED, 0);
    /* Revoking twice: no active member has the key. */
    EXPECT_REFUSED(e, revoke(e, &e->admin, &brand.pub), HM_ERR_NOT_FOUND, CT_RULE_NO_MEMBER);
    /* And the key can never come back. */
    EXPECT_REFUSED(e, env_member_add(e, &e->admin, &brand.pub, CT_ROLE_BRAND, "Again"),
                   HM_ERR_CONFLICT, CT_RULE_MEMBER_EXISTS);
    env_free(e);
}

static void test_rotate(void **state) {
    (void)state;
    env *e = env_new();
    hm_keypair brand, brand2, brand3, other;
    env_key(&brand, 2);
    env_key(&brand2, 5);
    env_key(&brand3, 6);
    env_key(&other, 3);
    EXPECT_OK(env_member_add(e, &e->admin, &brand.pub, CT_ROLE_BRAND, "Acme"));
    EXPECT_OK(env_member_add(e, &e->admin, &other.pub, CT_ROLE_LOGISTICS, "Ship"));
    /* Another member may not rotate someone's key. */
    EXPECT_REFUSED(e, rotate(e, &other, &brand.pub, &brand2.pub), HM_ERR_DENIED,
                   CT_RULE_NOT_SELF_OR_ADMIN);
    /* Genesis admins are fixed by genesis. */
    EXPECT_REFUSED(e, rotate(e, &e->admin, &e->admin.pub, &brand2.pub), HM_ERR_DENIED,
                   CT_RULE_ROTATE_GENESIS);
    /* To a key in use. */
    EXPECT_REFUSED(e, rotate(e, &brand, &brand.pub, &other.pub), HM_ERR_CONFLICT,
                   CT_RULE_MEMBER_EXISTS);
    /* From a key no member has (an admin signing). */
    EXPECT_REFUSED(e, rotate(e, &e->admin, &brand2.pub, &brand3.pub), HM_ERR_NOT_FOUND,
                   CT_RULE_NO_MEMBER);
    /* The member rotates itself. */
    EXPECT_OK(rotate(e, &brand, &brand.pub, &brand2.pub));
    ct_member m;
    assert_int_equal(ct_query_member(&e->store, &brand.pub, &m), HM_ERR_NOT_FOUND);
    assert_true(m.revoked);
    assert_int_equal(ct_query_member(&e->store, &brand2.pub, &m), HM_OK);
    assert_string_equal(m.name, "Acme");
    assert_int_equal(m.roles, CT_ROLE_BRAND);
    /* Identity is stable: looked up by its first key. */
    ct_member_id id;
    env_id(&brand, &id);
    assert_int_equal(ct_query_member_id(&e->store, &id, &m), HM_OK);
    assert_memory_equal(m.key.bytes, brand2.pub.bytes, 32);
    assert_false(m.revoked);
    /* Old key is dead, new key signs. */
    hm_keypair fresh;
    env_key(&fresh, 8);
    EXPECT_REFUSED(e, rotate(e, &brand, &brand.pub, &fresh.pub), HM_ERR_DENIED, 0);
    /* Back to the old key: keys are never reused. */
    EXPECT_REFUSED(e, rotate(e, &brand2, &brand2.pub, &brand.pub), HM_ERR_CONFLICT,
                   CT_RULE_MEMBER_EXISTS);
    /* An admin rotates it again. */
    EXPECT_OK(rotate(e, &e->admin, &brand2.pub, &brand3.pub));
    assert_int_equal(ct_query_member(&e->store, &brand3.pub, &m), HM_OK);
    env_free(e);
}

/* Builds, signs and executes one more tx in the open block x. */
static ct_result block_tx(env *e, ct_exec *x, uint32_t type, const hm_keypair *signer,
                          const uint8_t *body, size_t body_len) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    assert_int_equal(
        ct_tx_build(&w, type, signer, ENV_CHAIN, ++e->nonce, body, body_len, false, NULL, NULL, 0),
        HM_OK);
    size_t len = 0;
    uint8_t *tx = hm_writer_take(&w, &len);
    ct_result res;
    assert_int_equal(ct_exec_tx(x, tx, len, false, &res), HM_OK);
    free(tx);
    return res;
}

static size_t add_body(uint8_t *buf, size_t cap, const hm_pubkey *key, uint32_t roles) {
    ct_member_add_body b;
    memset(&b, 0, sizeof b);
    b.key = *key;
    b.roles = roles;
    snprintf(b.name, sizeof b.name, "%s", "In block");
    hm_writer w;
    hm_writer_init(&w, buf, cap);
    assert_int_equal(ct_member_add_encode(&b, &w), HM_OK);
    return w.len;
}

/* Within one block the executor keeps what it read of members from the
 * committed state (one signer, many txs): a member added, revoked or
 * rotated earlier in the same block must still count for the txs after
 * it, whatever was read before. */
static void test_changes_within_one_block(void **state) {
    (void)state;
    env *e = env_new();
    hm_keypair brand, stranger, other, fresh;
    env_key(&brand, 2);
    env_key(&stranger, 9);
    env_key(&other, 3);
    env_key(&fresh, 7);
    EXPECT_OK(env_member_add(e, &e->admin, &brand.pub, CT_ROLE_BRAND, "Acme"));

    ct_exec *x = env_block_open(e);
    uint8_t body[256];
    size_t len = add_body(body, sizeof body, &other.pub, CT_ROLE_MCN);
    ct_result r;
    /* Read twice from the committed state: a stranger is no member... */
    for (int i = 0; i < 2; i++) {
        r = block_tx(e, x, CT_TX_MEMBER_ADD, &stranger, body, len);
        assert_int_equal(r.code, HM_ERR_DENIED);
        assert_int_equal(r.rule, 0);
    }
    /* ...and the brand is one, but not an admin. */
    r = block_tx(e, x, CT_TX_MEMBER_ADD, &brand, body, len);
    assert_int_equal(r.code, HM_ERR_DENIED);
    assert_int_equal(r.rule, CT_RULE_NOT_ADMIN);
    /* The admin adds the stranger: from the next tx on, it signs. */
    size_t slen = add_body(body, sizeof body, &stranger.pub, CT_ROLE_LOGISTICS);
    assert_int_equal(block_tx(e, x, CT_TX_MEMBER_ADD, &e->admin, body, slen).code, HM_OK);
    ct_member_rotate_body rb = {.old_key = stranger.pub, .new_key = fresh.pub};
    hm_writer w;
    hm_writer_init(&w, body, sizeof body);
    assert_int_equal(ct_member_rotate_encode(&rb, &w), HM_OK);
    assert_int_equal(block_tx(e, x, CT_TX_MEMBER_ROTATE, &stranger, body, w.len).code, HM_OK);
    /* Its old key is dead at once, though it was read as absent before. */
    r = block_tx(e, x, CT_TX_MEMBER_ROTATE, &stranger, body, w.len);
    assert_int_equal(r.code, HM_ERR_DENIED);
    assert_int_equal(r.rule, 0);
    /* The brand, read as a member from the committed state, is revoked:
     * from the next tx on it signs nothing. */
    ct_member_revoke_body vb = {.key = brand.pub};
    hm_writer_init(&w, body, sizeof body);
    assert_int_equal(ct_member_revoke_encode(&vb, &w), HM_OK);
    assert_int_equal(block_tx(e, x, CT_TX_MEMBER_REVOKE, &e->admin, body, w.len).code, HM_OK);
    len = add_body(body, sizeof body, &other.pub, CT_ROLE_MCN);
    r = block_tx(e, x, CT_TX_MEMBER_ADD, &brand, body, len);
    assert_int_equal(r.code, HM_ERR_DENIED);
    assert_int_equal(r.rule, 0);
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    assert_int_equal(ct_exec_apply_to_memstore(x, e->mem), HM_OK);
    ct_exec_free(x);

    ct_member m;
    assert_int_equal(ct_query_member(&e->store, &brand.pub, &m), HM_ERR_NOT_FOUND);
    assert_true(m.revoked);
    assert_int_equal(ct_query_member(&e->store, &fresh.pub, &m), HM_OK);
    assert_int_equal(m.roles, CT_ROLE_LOGISTICS);
    assert_int_equal(ct_query_member(&e->store, &other.pub, &m), HM_ERR_NOT_FOUND);
    env_free(e);
}

static void test_roles_and_codecs(void **state) {
    (void)state;
    uint32_t role = 0;
    assert_true(ct_role_parse("logistics", &role));
    assert_int_equal(role, CT_ROLE_LOGISTICS);
    assert_false(ct_role_parse("king", &role));
    assert_string_equal(ct_role_name(CT_ROLE_AUDITOR), "auditor");
    assert_null(ct_role_name(3));
    ct_member_rotate_body rb, back;
    memset(&rb, 7, sizeof rb);
    uint8_t buf[80];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_member_rotate_encode(&rb, &w), HM_OK);
    assert_int_equal(w.len, 64);
    assert_int_equal(ct_member_rotate_decode(buf, w.len, &back), HM_OK);
    assert_memory_equal(&rb, &back, sizeof rb);
    assert_int_equal(ct_member_rotate_decode(buf, 63, &back), HM_ERR_TRUNCATED);
    assert_int_equal(ct_member_revoke_decode(buf, 33, &(ct_member_revoke_body){0}),
                     HM_ERR_TRAILING);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_lookup),   cmocka_unit_test(test_add_refusals),
        cmocka_unit_test(test_revoke),           cmocka_unit_test(test_rotate),
        cmocka_unit_test(test_roles_and_codecs), cmocka_unit_test(test_changes_within_one_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
