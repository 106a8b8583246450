/* tests/unit/test_cs_cert.c — commit certificates, checked alone against a
 * validator set, by lib's hm_cert_verify and by consensus' cs_cert_verify
 * (the same rules with signatures checked through a cs_signer).
 *
 * What must hold: a quorum of precommits for the block verifies; too few
 * signatures, a duplicate or out-of-order signer, an index outside the set,
 * a non-validator's signature, a signature on another block (or another
 * round, height or chain), a prevote instead of a precommit and a nil block
 * id are each rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cs.h"

#define CHAIN "cs-cert-test"
#define N 7 /* quorum 5 */

typedef struct {
    hm_keypair keys[N + 1]; /* keys[N] is an outsider */
    hm_validator_set vs;
    cs_signer signer;
    hm_cert cert; /* a good certificate signed by validators 0..4 */
} fixture;

static void key_from_seed(hm_keypair *kp, uint8_t seed) {
    uint8_t sk[HM_SECKEY_LEN];
    memset(sk, seed, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(kp, sk), HM_OK);
}

static void sign_vote(const hm_keypair *kp, const char *chain, uint8_t type, uint64_t height,
                      uint32_t round, uint8_t id_byte, hm_sig *sig) {
    hm_vote_body v = {.type = type, .height = height, .round = round};
    memset(v.block_id, id_byte, HM_HASH_LEN);
    uint8_t body[64];
    hm_writer w;
    hm_writer_init(&w, body, sizeof body);
    hm_vote_body_encode(&v, &w);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    assert_int_equal(hm_sign(kp, HM_PURPOSE_VOTE, chain, body, w.len, sig), HM_OK);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->vs.count = N;
    for (int i = 0; i <= N; i++) {
        key_from_seed(&f->keys[i], (uint8_t)(0x20 + i));
        if (i < N) {
            f->vs.keys[i] = f->keys[i].pub;
        }
    }
    cs_signer_bip340(&f->signer, &f->keys[0]);
    f->cert.height = 12;
    f->cert.round = 3;
    memset(f->cert.block_id, 0xc4, HM_HASH_LEN);
    for (uint32_t i = 0; i < 5; i++) {
        f->cert.sigs[i].validator_index = i;
        sign_vote(&f->keys[i], CHAIN, HM_VOTE_PRECOMMIT, 12, 3, 0xc4, &f->cert.sigs[i].sig);
    }
    f->cert.count = 5;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    free(*state);
    return 0;
}

/* Both verifiers must give the same answer. */
static void expect(fixture *f, const hm_cert *c, hm_err want) {
    assert_int_equal(hm_cert_verify(c, CHAIN, &f->vs), want);
    assert_int_equal(cs_cert_verify(c, CHAIN, &f->vs, &f->signer), want);
}

static void test_good(void **state) {
    fixture *f = *state;
    expect(f, &f->cert, HM_OK);
    /* More than a quorum is fine too. */
    hm_cert c = f->cert;
    c.sigs[5].validator_index = 6;
    sign_vote(&f->keys[6], CHAIN, HM_VOTE_PRECOMMIT, 12, 3, 0xc4, &c.sigs[5].sig);
    c.count = 6;
    expect(f, &c, HM_OK);
    /* And it survives its encoding. */
    uint8_t buf[16 + HM_VALIDATORS_MAX * 70];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(hm_cert_encode(&c, &w), HM_OK);
    hm_reader r;
    hm_reader_init(&r, buf, w.len);
    hm_cert back;
    assert_int_equal(hm_cert_decode(&r, &back), HM_OK);
    assert_int_equal(hm_reader_finish(&r), HM_OK);
    expect(f, &back, HM_OK);
}

static void test_too_few(void **state) {
    fixture *f = *state;
    hm_cert c = f->cert;
    c.count = 4;
    expect(f, &c, HM_ERR_PROOF);
    c.count = 0;
    expect(f, &c, HM_ERR_PROOF);
}

static void test_duplicate_signer(void **state) {
    fixture *f = *state;
    hm_cert c = f->cert;
    /* Validator 3 twice (a valid signature both times), as the fifth. */
    c.sigs[4] = c.sigs[3];
    expect(f, &c, HM_ERR_PROOF);
    /* Out of order is refused as well: one canonical form. */
    c = f->cert;
    hm_cert_sig tmp = c.sigs[1];
    c.sigs[1] = c.sigs[2];
    c.sigs[2] = tmp;
    expect(f, &c, HM_ERR_PROOF);
}

static void test_non_validator(void **state) {
    fixture *f = *state;
    hm_cert c = f->cert;
    /* The outsider's signature under an index of the set. */
    sign_vote(&f->keys[N], CHAIN, HM_VOTE_PRECOMMIT, 12, 3, 0xc4, &c.sigs[4].sig);
    expect(f, &c, HM_ERR_BAD_SIG);
    /* An index outside the set. */
    c = f->cert;
    c.sigs[4].validator_index = N;
    sign_vote(&f->keys[N], CHAIN, HM_VOTE_PRECOMMIT, 12, 3, 0xc4, &c.sigs[4].sig);
    expect(f, &c, HM_ERR_PROOF);
}

static void test_other_block(void **state) {
    fixture *f = *state;
    hm_cert c = f->cert;
    /* One precommit for another block. */
    sign_vote(&f->keys[2], CHAIN, HM_VOTE_PRECOMMIT, 12, 3, 0xc5, &c.sigs[2].sig);
    expect(f, &c, HM_ERR_BAD_SIG);
    /* The whole certificate moved to another block, round, height. */
    c = f->cert;
    c.block_id[31] ^= 1;
    expect(f, &c, HM_ERR_BAD_SIG);
    c = f->cert;
    c.round = 4;
    expect(f, &c, HM_ERR_BAD_SIG);
    c = f->cert;
    c.height = 13;
    expect(f, &c, HM_ERR_BAD_SIG);
    /* A prevote is not a precommit; another chain is another chain. */
    c = f->cert;
    sign_vote(&f->keys[0], CHAIN, HM_VOTE_PREVOTE, 12, 3, 0xc4, &c.sigs[0].sig);
    expect(f, &c, HM_ERR_BAD_SIG);
    c = f->cert;
    sign_vote(&f->keys[0], "other-chain", HM_VOTE_PRECOMMIT, 12, 3, 0xc4, &c.sigs[0].sig);
    expect(f, &c, HM_ERR_BAD_SIG);
}

static void test_nil_block(void **state) {
    fixture *f = *state;
    hm_cert c = f->cert;
    memset(c.block_id, 0, HM_HASH_LEN);
    for (uint32_t i = 0; i < 5; i++) {
        sign_vote(&f->keys[i], CHAIN, HM_VOTE_PRECOMMIT, 12, 3, 0x00, &c.sigs[i].sig);
    }
    expect(f, &c, HM_ERR_PROOF);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_few, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_signer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_validator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nil_block, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
