/* tests/unit/test_hm_chain.c — block headers, validator sets, vote bodies
 * and commit certificates: round trips, decoder rejections, and every way a
 * certificate can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm.h"

#define CHAIN "hallmark-test"
#define VALIDATORS 7 /* f = 2, quorum 5 */

static hm_block_header sample_header(void) {
    hm_block_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.chain_id, sizeof h.chain_id, "%s", CHAIN);
    h.height = 42;
    h.time_ms = 1764300000123ull;
    for (size_t i = 0; i < HM_HASH_LEN; i++) {
        h.prev_block_hash[i] = (uint8_t)i;
        h.tx_root[i] = (uint8_t)(0x40 + i);
        h.state_root[i] = (uint8_t)(0x80 + i);
        h.validator_set_hash[i] = (uint8_t)(0xc0 + i);
        h.proposer.bytes[i] = (uint8_t)(0xff - i);
    }
    return h;
}

static size_t encode_header(const hm_block_header *h, uint8_t *buf, size_t cap) {
    hm_writer w;
    hm_writer_init(&w, buf, cap);
    assert_int_equal(hm_block_header_encode(h, &w), HM_OK);
    return w.len;
}

static hm_err decode_header(const uint8_t *buf, size_t len, hm_block_header *h) {
    hm_reader r;
    hm_reader_init(&r, buf, len);
    hm_err err = hm_block_header_decode(&r, h);
    return err != HM_OK ? err : hm_reader_finish(&r);
}

static void test_header_round_trip(void **state) {
    (void)state;
    hm_block_header h = sample_header(), back;
    uint8_t buf[HM_BLOCK_HEADER_ENCODED_MAX];
    size_t len = encode_header(&h, buf, sizeof buf);
    /* version, chain id (1 + 13), height varint (1), time (8), 5 x 32. */
    assert_int_equal(len, 1 + 1 + strlen(CHAIN) + 1 + 8 + 5 * 32);
    assert_int_equal(buf[0], 1);
    assert_int_equal(decode_header(buf, len, &back), HM_OK);
    assert_memory_equal(&back, &h, sizeof h);

    /* The longest header fits HM_BLOCK_HEADER_ENCODED_MAX exactly. */
    memset(h.chain_id, 'c', HM_CHAIN_ID_MAX);
    h.chain_id[HM_CHAIN_ID_MAX] = '\0';
    h.height = UINT64_MAX;
    len = encode_header(&h, buf, sizeof buf);
    assert_int_equal(len, HM_BLOCK_HEADER_ENCODED_MAX);
    assert_int_equal(decode_header(buf, len, &back), HM_OK);
    assert_memory_equal(&back, &h, sizeof h);

    /* The block id is a tagged hash of exactly these bytes, and it changes
     * with any field. */
    uint8_t id[HM_HASH_LEN], want[HM_HASH_LEN];
    assert_int_equal(hm_block_header_hash(&h, id), HM_OK);
    hm_tagged_hash("hallmark/block", buf, len, want);
    assert_memory_equal(id, want, HM_HASH_LEN);
    h.time_ms++;
    assert_int_equal(hm_block_header_hash(&h, want), HM_OK);
    assert_memory_not_equal(id, want, HM_HASH_LEN);
}

static void test_header_rejections(void **state) {
    (void)state;
    hm_block_header h = sample_header(), back;
    uint8_t buf[HM_BLOCK_HEADER_ENCODED_MAX + 1];
    size_t len = encode_header(&h, buf, sizeof buf);
    /* Every truncation. */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(decode_header(buf, cut, &back), HM_ERR_TRUNCATED);
    }
    /* A trailing byte. */
    buf[len] = 0;
    assert_int_equal(decode_header(buf, len + 1, &back), HM_ERR_TRAILING);
    /* Unknown version. */
    buf[0] = 2;
    assert_int_equal(decode_header(buf, len, &back), HM_ERR_UNKNOWN_TYPE);
    buf[0] = 1;
    /* Chain id: NUL inside, over the maximum, empty. */
    buf[3] = 0;
    assert_int_equal(decode_header(buf, len, &back), HM_ERR_BAD_VALUE);
    buf[3] = CHAIN[1];
    uint8_t longer[HM_BLOCK_HEADER_ENCODED_MAX + 8];
    longer[0] = 1;
    longer[1] = HM_CHAIN_ID_MAX + 1;
    memset(longer + 2, 'c', HM_CHAIN_ID_MAX + 1);
    assert_int_equal(decode_header(longer, HM_CHAIN_ID_MAX + 3, &back), HM_ERR_TOO_LONG);
    hm_block_header bad = h;
    bad.chain_id[0] = '\0';
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(hm_block_header_encode(&bad, &w), HM_ERR_BAD_VALUE);
    /* Height 0, and a non-minimal height. */
    bad = h;
    bad.height = 0;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(hm_block_header_encode(&bad, &w), HM_ERR_BAD_VALUE);
    len = encode_header(&h, buf, sizeof buf);
    size_t height_at = 2 + strlen(CHAIN);
    assert_int_equal(buf[height_at], 42);
    buf[height_at] = 0;
    assert_int_equal(decode_header(buf, len, &back), HM_ERR_BAD_VALUE);
    uint8_t padded[HM_BLOCK_HEADER_ENCODED_MAX + 1];
    memcpy(padded, buf, height_at);
    padded[height_at] = 42 | 0x80;
    padded[height_at + 1] = 0;
    memcpy(padded + height_at + 2, buf + height_at + 1, len - height_at - 1);
    assert_int_equal(decode_header(padded, len + 1, &back), HM_ERR_NONMINIMAL);
    /* A writer too small for the header. */
    hm_writer_init(&w, buf, 20);
    assert_int_equal(hm_block_header_encode(&h, &w), HM_ERR_FULL);
    uint8_t id[HM_HASH_LEN];
    bad = h;
    bad.height = 0;
    assert_int_equal(hm_block_header_hash(&bad, id), HM_ERR_BAD_VALUE);
}

static void test_validator_set(void **state) {
    (void)state;
    hm_validator_set vs;
    memset(&vs, 0, sizeof vs);
    const uint32_t quorum[][2] = {{1, 1}, {2, 2}, {3, 3},  {4, 3},    {5, 4},
                                  {6, 5}, {7, 5}, {10, 7}, {100, 67}, {128, 86}};
    for (size_t i = 0; i < sizeof quorum / sizeof quorum[0]; i++) {
        vs.count = quorum[i][0];
        assert_int_equal(hm_validator_set_quorum(&vs), quorum[i][1]);
    }
    vs.count = 3;
    for (uint32_t i = 0; i < 3; i++) {
        memset(vs.keys[i].bytes, (int)(i + 1), HM_PUBKEY_LEN);
    }
    hm_pubkey missing;
    memset(missing.bytes, 9, HM_PUBKEY_LEN);
    assert_int_equal(hm_validator_set_find(&vs, &vs.keys[2]), 2);
    assert_int_equal(hm_validator_set_find(&vs, &missing), -1);

    /* hash = tagged_hash("hallmark/validators", varint(count) || keys). */
    uint8_t buf[1 + 3 * HM_PUBKEY_LEN], want[HM_HASH_LEN], got[HM_HASH_LEN];
    buf[0] = 3;
    memcpy(buf + 1, vs.keys, 3 * HM_PUBKEY_LEN);
    hm_tagged_hash("hallmark/validators", buf, sizeof buf, want);
    hm_validator_set_hash(&vs, got);
    assert_memory_equal(got, want, HM_HASH_LEN);
    /* Order matters. */
    hm_pubkey tmp = vs.keys[0];
    vs.keys[0] = vs.keys[1];
    vs.keys[1] = tmp;
    hm_validator_set_hash(&vs, want);
    assert_memory_not_equal(got, want, HM_HASH_LEN);
}

static void test_vote_body(void **state) {
    (void)state;
    hm_vote_body v = {.type = HM_VOTE_PRECOMMIT, .height = 9, .round = 3}, back;
    memset(v.block_id, 0xab, HM_HASH_LEN);
    uint8_t buf[64];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_vote_body_encode(&v, &w);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    assert_int_equal(w.len, HM_VOTE_BODY_ENCODED_LEN);
    hm_reader r;
    hm_reader_init(&r, buf, w.len);
    assert_int_equal(hm_vote_body_decode(&r, &back), HM_OK);
    assert_int_equal(hm_reader_finish(&r), HM_OK);
    assert_memory_equal(&back, &v, sizeof v);
    for (size_t cut = 0; cut < w.len; cut++) {
        hm_reader_init(&r, buf, cut);
        assert_int_equal(hm_vote_body_decode(&r, &back), HM_ERR_TRUNCATED);
    }
    const uint8_t bad_types[] = {0, 3, 0xff};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        buf[0] = bad_types[i];
        hm_reader_init(&r, buf, w.len);
        assert_int_equal(hm_vote_body_decode(&r, &back), HM_ERR_UNKNOWN_TYPE);
    }
}

/* ------------------------------------------------------------ certificates */

typedef struct {
    hm_keypair keys[VALIDATORS];
    hm_validator_set vs;
    uint8_t block_id[HM_HASH_LEN];
} fixture;

static int fixture_setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL) {
        return -1;
    }
    fx->vs.count = VALIDATORS;
    for (uint32_t i = 0; i < VALIDATORS; i++) {
        uint8_t seckey[HM_SECKEY_LEN] = {0};
        seckey[0] = 0x11;
        seckey[31] = (uint8_t)(i + 1);
        if (hm_keypair_from_seckey(&fx->keys[i], seckey) != HM_OK) {
            free(fx);
            return -1;
        }
        fx->vs.keys[i] = fx->keys[i].pub;
    }
    hm_block_header h = sample_header();
    if (hm_block_header_hash(&h, fx->block_id) != HM_OK) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int fixture_teardown(void **state) {
    fixture *fx = *state;
    for (uint32_t i = 0; i < VALIDATORS; i++) {
        hm_keypair_wipe(&fx->keys[i]);
    }
    free(fx);
    return 0;
}

/* A precommit signature by validator index over (height, round, block_id). */
static hm_sig sign_precommit(const fixture *fx, uint32_t index, const char *chain_id,
                             uint64_t height, uint32_t round, const uint8_t block_id[HM_HASH_LEN],
                             uint8_t type) {
    hm_vote_body v = {.type = type, .height = height, .round = round};
    memcpy(v.block_id, block_id, HM_HASH_LEN);
    uint8_t buf[64];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    hm_vote_body_encode(&v, &w);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    hm_sig sig;
    assert_int_equal(hm_sign(&fx->keys[index], HM_PURPOSE_VOTE, chain_id, buf, w.len, &sig), HM_OK);
    return sig;
}

/* A valid certificate signed by the given validator indices. */
static void make_cert(const fixture *fx, hm_cert *c, const uint32_t *signers, uint32_t count) {
    memset(c, 0, sizeof *c);
    c->height = 42;
    c->round = 1;
    memcpy(c->block_id, fx->block_id, HM_HASH_LEN);
    c->count = count;
    for (uint32_t i = 0; i < count; i++) {
        c->sigs[i].validator_index = signers[i];
        c->sigs[i].sig =
            sign_precommit(fx, signers[i], CHAIN, 42, 1, fx->block_id, HM_VOTE_PRECOMMIT);
    }
}

static void test_cert_valid_and_round_trip(void **state) {
    fixture *fx = *state;
    static const uint32_t signers[] = {0, 2, 3, 5, 6};
    hm_cert c, back;
    make_cert(fx, &c, signers, 5);
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_OK);
    static const uint32_t all[] = {0, 1, 2, 3, 4, 5, 6};
    hm_cert full;
    make_cert(fx, &full, all, 7);
    assert_int_equal(hm_cert_verify(&full, CHAIN, &fx->vs), HM_OK);

    uint8_t buf[HM_CERT_ENCODED_MAX];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(hm_cert_encode(&c, &w), HM_OK);
    assert_int_equal(w.len, 8 + 4 + 32 + 1 + 5 * (1 + HM_SIG_LEN));
    hm_reader r;
    hm_reader_init(&r, buf, w.len);
    assert_int_equal(hm_cert_decode(&r, &back), HM_OK);
    assert_int_equal(hm_reader_finish(&r), HM_OK);
    assert_memory_equal(&back, &c, sizeof c);
    assert_int_equal(hm_cert_verify(&back, CHAIN, &fx->vs), HM_OK);

    for (size_t cut = 0; cut < w.len; cut++) {
        hm_reader_init(&r, buf, cut);
        assert_int_equal(hm_cert_decode(&r, &back), HM_ERR_TRUNCATED);
    }

    /* The largest certificate fits HM_CERT_ENCODED_MAX exactly. */
    hm_cert big;
    memset(&big, 0x5a, sizeof big);
    big.count = HM_VALIDATORS_MAX;
    for (uint32_t i = 0; i < HM_VALIDATORS_MAX; i++) {
        big.sigs[i].validator_index = i;
    }
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(hm_cert_encode(&big, &w), HM_OK);
    assert_true(w.len <= HM_CERT_ENCODED_MAX);
    hm_reader_init(&r, buf, w.len);
    assert_int_equal(hm_cert_decode(&r, &back), HM_OK);
    assert_int_equal(hm_reader_finish(&r), HM_OK);
    assert_memory_equal(&back, &big, sizeof big);
    /* A signer count over HM_VALIDATORS_MAX, an index over it. */
    uint8_t bad[64] = {0};
    bad[44] = 0x81; /* count = 129 */
    bad[45] = 0x01;
    hm_reader_init(&r, bad, 46);
    assert_int_equal(hm_cert_decode(&r, &back), HM_ERR_TOO_LONG);
    bad[44] = 1;
    bad[45] = 0x80; /* index = 128 */
    bad[46] = 0x01;
    hm_reader_init(&r, bad, sizeof bad);
    assert_int_equal(hm_cert_decode(&r, &back), HM_ERR_OVERFLOW);
}

static void test_cert_rejections(void **state) {
    fixture *fx = *state;
    static const uint32_t signers[] = {0, 2, 3, 5, 6};
    hm_cert c;

    /* Too few signatures (quorum of 7 is 5). */
    make_cert(fx, &c, signers, 4);
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_PROOF);

    /* Duplicate signer: five signatures, but only four validators. */
    static const uint32_t dup[] = {0, 2, 2, 5, 6};
    make_cert(fx, &c, dup, 5);
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_PROOF);

    /* Out of order. */
    static const uint32_t unordered[] = {0, 3, 2, 5, 6};
    make_cert(fx, &c, unordered, 5);
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_PROOF);

    /* An index outside the set: a non-validator's valid signature. */
    make_cert(fx, &c, signers, 5);
    hm_validator_set six = fx->vs;
    six.count = 6; /* validator 6 is no longer a member */
    assert_int_equal(hm_cert_verify(&c, CHAIN, &six), HM_ERR_PROOF);

    /* A signature on another block id. */
    make_cert(fx, &c, signers, 5);
    uint8_t other_id[HM_HASH_LEN];
    memcpy(other_id, fx->block_id, HM_HASH_LEN);
    other_id[0] ^= 1;
    c.sigs[3].sig = sign_precommit(fx, 5, CHAIN, 42, 1, other_id, HM_VOTE_PRECOMMIT);
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_BAD_SIG);

    /* Wrong chain id: every signature was for another chain. */
    make_cert(fx, &c, signers, 5);
    assert_int_equal(hm_cert_verify(&c, "another-chain", &fx->vs), HM_ERR_BAD_SIG);

    /* A prevote is not a precommit; other height or round is not this one. */
    make_cert(fx, &c, signers, 5);
    c.sigs[0].sig = sign_precommit(fx, 0, CHAIN, 42, 1, fx->block_id, HM_VOTE_PREVOTE);
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_BAD_SIG);
    make_cert(fx, &c, signers, 5);
    c.round = 2;
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_BAD_SIG);
    make_cert(fx, &c, signers, 5);
    c.height = 43;
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_BAD_SIG);

    /* A signature by the wrong member under a valid index. */
    make_cert(fx, &c, signers, 5);
    c.sigs[1].sig = sign_precommit(fx, 1, CHAIN, 42, 1, fx->block_id, HM_VOTE_PRECOMMIT);
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_BAD_SIG);

    /* A nil block id, even signed by a quorum. */
    static const uint8_t nil[HM_HASH_LEN] = {0};
    memset(&c, 0, sizeof c);
    c.height = 42;
    c.round = 1;
    c.count = 5;
    for (uint32_t i = 0; i < 5; i++) {
        c.sigs[i].validator_index = signers[i];
        c.sigs[i].sig = sign_precommit(fx, signers[i], CHAIN, 42, 1, nil, HM_VOTE_PRECOMMIT);
    }
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_PROOF);

    /* A count over the maximum. */
    make_cert(fx, &c, signers, 5);
    c.count = HM_VALIDATORS_MAX + 1;
    assert_int_equal(hm_cert_verify(&c, CHAIN, &fx->vs), HM_ERR_PROOF);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_header_rejections),
        cmocka_unit_test(test_validator_set),
        cmocka_unit_test(test_vote_body),
        cmocka_unit_test_setup_teardown(test_cert_valid_and_round_trip, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_cert_rejections, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
