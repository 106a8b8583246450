/* tests/unit/test_cs_replica.c — the consensus replica's handling of
 * incoming messages and of its own signatures, with real BIP340 keys.
 *
 * What must hold: every validation rule drops the message and counts it
 * (malformed encoding, wrong chain id, unknown validator, bad signature,
 * stale and too-far heights, rounds outside the kept window, a proposal from
 * a non-proposer or with a bad value, a duplicate);
 * two conflicting votes of one validator become evidence that verifies; the
 * sign-state is persisted before the message it covers leaves; after a
 * restart from that sign-state the replica never signs a conflicting
 * message; four replicas wired together commit with a certificate that
 * lib's hm_cert_verify accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cs.h"

#define CHAIN "cs-test"
#define N 4

typedef struct {
    hm_keypair keys[N + 1]; /* the last one is not a validator */
    hm_validator_set vs;
    cs_signer signers[N + 1];
    cs_replica *rep;
    cs_actions out;
} fixture;

static void key_from_seed(hm_keypair *kp, uint8_t seed) {
    uint8_t sk[HM_SECKEY_LEN];
    memset(sk, seed, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(kp, sk), HM_OK);
}

static void make_config(fixture *f, int32_t self, cs_config *c) {
    cs_config_default(c);
    strcpy(c->chain_id, CHAIN);
    c->validators = f->vs;
    c->self_index = self;
    c->signer = f->signers[self >= 0 ? self : 0];
}

static cs_replica *new_replica(fixture *f, int32_t self, uint64_t height,
                               const cs_sign_state *recovered) {
    cs_config c;
    make_config(f, self, &c);
    cs_replica *r = malloc(cs_replica_size(&c));
    assert_non_null(r);
    assert_int_equal(cs_replica_init(r, &c, height, recovered), HM_OK);
    return r;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->vs.count = N;
    for (int i = 0; i <= N; i++) {
        key_from_seed(&f->keys[i], (uint8_t)(i + 1));
        cs_signer_bip340(&f->signers[i], &f->keys[i]);
        if (i < N) {
            f->vs.keys[i] = f->keys[i].pub;
        }
    }
    /* Validator 0 at height 5, not yet started: it only listens. */
    f->rep = new_replica(f, 0, 5, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    free(f->rep);
    free(f);
    return 0;
}

/* An encoded vote of `signer_key` claiming to be `index`. */
static size_t make_vote(fixture *f, uint8_t *buf, const char *chain, uint32_t index, int signer_key,
                        uint8_t type, uint64_t height, uint32_t round, uint8_t id_byte) {
    cs_msg m;
    memset(&m, 0, sizeof m);
    m.type = CS_MSG_VOTE;
    strcpy(m.chain_id, chain);
    m.validator_index = index;
    m.vote.type = type;
    m.vote.height = height;
    m.vote.round = round;
    memset(m.vote.block_id, id_byte, HM_HASH_LEN);
    assert_int_equal(cs_msg_sign(&m, &f->signers[signer_key]), HM_OK);
    size_t len = 0;
    assert_int_equal(cs_msg_encode(&m, buf, &len), HM_OK);
    return len;
}

static size_t make_proposal(fixture *f, uint8_t *buf, uint32_t index, uint64_t height,
                            uint32_t round, int32_t pol_round, uint8_t id_byte) {
    cs_msg m;
    memset(&m, 0, sizeof m);
    m.type = CS_MSG_PROPOSAL;
    strcpy(m.chain_id, CHAIN);
    m.validator_index = index;
    m.proposal.height = height;
    m.proposal.round = round;
    m.proposal.pol_round = pol_round;
    memset(m.proposal.block_id, id_byte, HM_HASH_LEN);
    assert_int_equal(cs_msg_sign(&m, &f->signers[index]), HM_OK);
    size_t len = 0;
    assert_int_equal(cs_msg_encode(&m, buf, &len), HM_OK);
    return len;
}

static cs_drop_reason deliver(fixture *f, cs_replica *r, const uint8_t *buf, size_t len) {
    cs_event ev = {.type = CS_EV_MESSAGE, .data = buf, .data_len = len};
    assert_int_equal(cs_replica_step(r, &ev, &f->out), HM_OK);
    return f->out.drop;
}

/* ------------------------------------------------------------- encoding */

static void test_msg_roundtrip(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    size_t len = make_proposal(f, buf, 1, 5, 3, 1, 0xab);
    cs_msg m;
    assert_int_equal(cs_msg_decode(buf, len, &m), HM_OK);
    assert_int_equal(m.type, CS_MSG_PROPOSAL);
    assert_string_equal(m.chain_id, CHAIN);
    assert_int_equal(m.proposal.height, 5);
    assert_int_equal(m.proposal.round, 3);
    assert_int_equal(m.proposal.pol_round, 1);
    assert_int_equal(cs_msg_verify(&m, &f->signers[0], &f->vs.keys[1]), HM_OK);
    assert_int_equal(cs_msg_verify(&m, &f->signers[0], &f->vs.keys[2]), HM_ERR_BAD_SIG);

    /* Canonical: a trailing byte, a missing byte, an unknown type. */
    uint8_t longer[CS_MSG_MAX + 1];
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(cs_msg_decode(longer, len + 1, &m), HM_ERR_TRAILING);
    assert_int_not_equal(cs_msg_decode(buf, len - 1, &m), HM_OK);
    buf[0] = 7;
    assert_int_equal(cs_msg_decode(buf, len, &m), HM_ERR_UNKNOWN_TYPE);

    len = make_vote(f, buf, CHAIN, 2, 2, HM_VOTE_PRECOMMIT, 9, 0, 0);
    assert_int_equal(cs_msg_decode(buf, len, &m), HM_OK);
    assert_int_equal(m.vote.type, HM_VOTE_PRECOMMIT);
    assert_int_equal(m.vote.height, 9);
    /* The body encoder takes any int32 pol_round without overflowing. */
    cs_proposal_body body = {.height = 1, .round = 0, .pol_round = INT32_MAX};
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(cs_proposal_body_encode(&body, &w), HM_OK);
    hm_reader rd;
    hm_reader_init(&rd, buf, w.len);
    assert_int_equal(hm_get_varint(&rd, UINT64_MAX), 1);
    assert_int_equal(hm_get_varint(&rd, UINT64_MAX), 0);
    assert_int_equal(hm_get_varint(&rd, UINT64_MAX), (uint64_t)INT32_MAX + 1);
}

static void test_sign_state_encoding(void **state) {
    (void)state;
    cs_sign_state s = {.height = 77, .round = 3, .step = CS_STEP_PRECOMMIT, .locked_round = 2};
    memset(s.block_id, 0x11, HM_HASH_LEN);
    memset(s.locked_block_id, 0x22, HM_HASH_LEN);
    uint8_t buf[CS_SIGN_STATE_ENCODED_LEN + 1];
    cs_sign_state_encode(&s, buf);
    cs_sign_state back;
    assert_int_equal(cs_sign_state_decode(buf, CS_SIGN_STATE_ENCODED_LEN, &back), HM_OK);
    assert_memory_equal(&back, &s, sizeof s);
    assert_int_equal(cs_sign_state_decode(buf, CS_SIGN_STATE_ENCODED_LEN - 1, &back),
                     HM_ERR_TRUNCATED);
    assert_int_equal(cs_sign_state_decode(buf, CS_SIGN_STATE_ENCODED_LEN + 1, &back),
                     HM_ERR_TRAILING);
    buf[12] = 9; /* no such step */
    assert_int_equal(cs_sign_state_decode(buf, CS_SIGN_STATE_ENCODED_LEN, &back), HM_ERR_BAD_VALUE);
    /* A signature at a height always has a step: a record without one
     * would let the replica sign again where it already signed. */
    buf[12] = 0;
    assert_int_equal(cs_sign_state_decode(buf, CS_SIGN_STATE_ENCODED_LEN, &back), HM_ERR_BAD_VALUE);
    /* "Nothing signed yet" has neither height nor step. */
    cs_sign_state none = {.locked_round = -1};
    cs_sign_state_encode(&none, buf);
    assert_int_equal(cs_sign_state_decode(buf, CS_SIGN_STATE_ENCODED_LEN, &back), HM_OK);
    buf[12] = CS_STEP_PREVOTE;
    assert_int_equal(cs_sign_state_decode(buf, CS_SIGN_STATE_ENCODED_LEN, &back), HM_ERR_BAD_VALUE);
}

/* ------------------------------------------------------------- validation */

static void test_drop_malformed(void **state) {
    fixture *f = *state;
    uint8_t junk[40];
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(deliver(f, f->rep, junk, sizeof junk), CS_DROP_MALFORMED);
    assert_int_equal(deliver(f, f->rep, junk, 0), CS_DROP_MALFORMED);
    uint8_t buf[CS_MSG_MAX];
    size_t len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 5, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len - 1), CS_DROP_MALFORMED);
    assert_int_equal(cs_replica_drop_count(f->rep, CS_DROP_MALFORMED), 3);
    assert_int_equal(cs_replica_drop_count(f->rep, CS_DROP_NONE), 0);
}

static void test_drop_chain_id(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    size_t len = make_vote(f, buf, "another-chain", 1, 1, HM_VOTE_PREVOTE, 5, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_CHAIN_ID);
    assert_int_equal(cs_replica_drop_count(f->rep, CS_DROP_CHAIN_ID), 1);
}

static void test_drop_unknown_validator(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    /* The outsider signs with its own key and claims index N. */
    size_t len = make_vote(f, buf, CHAIN, N, N, HM_VOTE_PREVOTE, 5, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_UNKNOWN_VALIDATOR);
    assert_int_equal(cs_replica_drop_count(f->rep, CS_DROP_UNKNOWN_VALIDATOR), 1);
}

static void test_drop_bad_sig(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    /* Validator 2's key, claiming to be validator 1. */
    size_t len = make_vote(f, buf, CHAIN, 1, 2, HM_VOTE_PREVOTE, 5, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_BAD_SIG);
    /* A flipped signature bit. */
    len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 5, 0, 0x33);
    buf[len - 1] ^= 1;
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_BAD_SIG);
    /* A non-validator's signature under a validator's index. */
    len = make_vote(f, buf, CHAIN, 3, N, HM_VOTE_PREVOTE, 5, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_BAD_SIG);
    assert_int_equal(cs_replica_drop_count(f->rep, CS_DROP_BAD_SIG), 3);
    assert_int_equal(cs_replica_drop_count(f->rep, CS_DROP_NONE), 0);
}

static void test_drop_heights(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    size_t len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 4, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_STALE_HEIGHT);
    len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 7, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_FUTURE_HEIGHT);
    /* The next height is held, not dropped. */
    len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 6, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_NONE);
    /* The same vote signed again (BIP340 draws fresh randomness, so the
     * signature differs) is a duplicate, not one more entry to hold. */
    len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 6, 0, 0x33);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_DUPLICATE);
    assert_int_equal(cs_replica_drop_count(f->rep, CS_DROP_STALE_HEIGHT), 1);
    assert_int_equal(cs_replica_drop_count(f->rep, CS_DROP_FUTURE_HEIGHT), 1);
}

static void test_drop_round_window(void **state) {
    fixture *f = *state;
    /* A replica restarted in round 10 of height 5. */
    cs_sign_state saved = {.height = 5, .round = 10, .step = CS_STEP_PREVOTE, .locked_round = -1};
    cs_replica *r = new_replica(f, 0, 5, &saved);
    cs_event start = {.type = CS_EV_START};
    assert_int_equal(cs_replica_step(r, &start, &f->out), HM_OK);
    uint8_t buf[CS_MSG_MAX];
    /* Round 2 is long past and nothing names it. */
    size_t len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 5, 2, 0x33);
    assert_int_equal(deliver(f, r, buf, len), CS_DROP_ROUND_WINDOW);
    /* Round 7 is among the recent ones, and kept. */
    len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 5, 7, 0x33);
    assert_int_equal(deliver(f, r, buf, len), CS_DROP_NONE);
    /* The next height keeps only its first rounds. */
    len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 6, 40, 0x33);
    assert_int_equal(deliver(f, r, buf, len), CS_DROP_ROUND_WINDOW);
    assert_int_equal(cs_replica_drop_count(r, CS_DROP_ROUND_WINDOW), 2);
    free(r);
}

static void test_drop_not_proposer_and_bad_value(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    /* Proposer of (5, 0) is (5 + 0) mod 4 = 1. */
    size_t len = make_proposal(f, buf, 2, 5, 0, -1, 0x44);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_NOT_PROPOSER);
    /* pol_round must be below the round. */
    len = make_proposal(f, buf, 2, 5, 1, 1, 0x44);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_BAD_VALUE);
    /* A nil block is no proposal. */
    len = make_proposal(f, buf, 1, 5, 0, -1, 0x00);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_BAD_VALUE);
    len = make_proposal(f, buf, 1, 5, 0, -1, 0x44);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_NONE);
    /* Accepted: the replica asks for the block to be validated. */
    assert_int_equal(f->out.count, 1);
    assert_int_equal(f->out.items[0].type, CS_ACT_VALIDATE_BLOCK);
    assert_int_equal(f->out.items[0].height, 5);
    assert_int_equal(f->out.items[0].block_id[0], 0x44);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_DUPLICATE);
}

static void test_equivocation_evidence(void **state) {
    fixture *f = *state;
    uint8_t a[CS_MSG_MAX], b[CS_MSG_MAX];
    size_t alen = make_vote(f, a, CHAIN, 2, 2, HM_VOTE_PREVOTE, 5, 0, 0x55);
    size_t blen = make_vote(f, b, CHAIN, 2, 2, HM_VOTE_PREVOTE, 5, 0, 0x66);
    assert_int_equal(deliver(f, f->rep, a, alen), CS_DROP_NONE);
    assert_int_equal(deliver(f, f->rep, a, alen), CS_DROP_DUPLICATE);
    assert_int_equal(cs_replica_evidence_count(f->rep), 0);
    assert_int_equal(deliver(f, f->rep, b, blen), CS_DROP_EQUIVOCATION);
    assert_int_equal(cs_replica_evidence_count(f->rep), 1);
    assert_int_equal(cs_replica_evidence_total(f->rep), 1);
    const cs_evidence *e = cs_replica_evidence(f->rep, 0);
    assert_non_null(e);
    assert_int_equal(e->validator_index, 2);
    assert_int_equal(e->vote_a.height, e->vote_b.height);
    assert_int_equal(e->vote_a.round, e->vote_b.round);
    assert_int_equal(e->vote_a.type, e->vote_b.type);
    assert_memory_not_equal(e->vote_a.block_id, e->vote_b.block_id, HM_HASH_LEN);
    /* Both halves verify alone against the validator's key. */
    const hm_vote_body *bodies[2] = {&e->vote_a, &e->vote_b};
    const hm_sig *sigs[2] = {&e->sig_a, &e->sig_b};
    for (int i = 0; i < 2; i++) {
        uint8_t body[64];
        hm_writer w;
        hm_writer_init(&w, body, sizeof body);
        hm_vote_body_encode(bodies[i], &w);
        assert_int_equal(hm_writer_error(&w), HM_OK);
        assert_int_equal(hm_verify(&f->vs.keys[2], HM_PURPOSE_VOTE, CHAIN, body, w.len, sigs[i]),
                         HM_OK);
    }
    /* A precommit at the same round is another step: no evidence. */
    alen = make_vote(f, a, CHAIN, 2, 2, HM_VOTE_PRECOMMIT, 5, 0, 0x66);
    assert_int_equal(deliver(f, f->rep, a, alen), CS_DROP_NONE);
    assert_int_equal(cs_replica_evidence_count(f->rep), 1);
}

static void test_bad_events(void **state) {
    fixture *f = *state;
    cs_event ev = {.type = 99};
    assert_int_equal(cs_replica_step(f->rep, &ev, &f->out), HM_ERR_ARG);
    ev.type = CS_EV_DECIDED_ELSEWHERE; /* without a certificate */
    assert_int_equal(cs_replica_step(f->rep, &ev, &f->out), HM_ERR_ARG);
    cs_config c;
    make_config(f, 0, &c);
    c.self_index = N;
    cs_replica *r = malloc(cs_replica_size(&c));
    assert_non_null(r);
    assert_int_equal(cs_replica_init(r, &c, 1, NULL), HM_ERR_ARG);
    make_config(f, 0, &c);
    assert_int_equal(cs_replica_init(r, &c, 0, NULL), HM_ERR_ARG);
    /* A recovered sign-state the replica could never have written. */
    cs_sign_state bad = {.height = 5, .round = 2, .step = 0, .locked_round = -1};
    assert_int_equal(cs_replica_init(r, &c, 5, &bad), HM_ERR_ARG);
    bad.step = CS_STEP_PREVOTE;
    bad.locked_round = 3; /* a lock later than the signature */
    assert_int_equal(cs_replica_init(r, &c, 5, &bad), HM_ERR_ARG);
    bad.locked_round = 2;
    assert_int_equal(cs_replica_init(r, &c, 5, &bad), HM_OK);
    free(r);
    /* A certificate of the last possible height has no next height. */
    hm_cert cert;
    memset(&cert, 0, sizeof cert);
    cert.height = UINT64_MAX;
    ev.cert = &cert;
    assert_int_equal(cs_replica_step(f->rep, &ev, &f->out), HM_ERR_ARG);
    assert_int_equal(cs_replica_height(f->rep), 5);
}

/* ------------------------------------------------------------- Byzantine load */

/* A Byzantine validator signs votes for many far rounds (each costs it
 * nothing). It must not push out the honest messages that show f+1
 * validators moved on (L55), nor move the replica on its own. */
static void test_round_skip_survives_flood(void **state) {
    fixture *f = *state;
    cs_replica *r = new_replica(f, 0, 5, NULL);
    cs_event start = {.type = CS_EV_START};
    assert_int_equal(cs_replica_step(r, &start, &f->out), HM_OK);
    uint8_t buf[CS_MSG_MAX];
    /* Alone, the flooder moves nothing (f+1 = 2 for n = 4). */
    for (uint32_t round = 100; round < 132; round++) {
        size_t len = make_vote(f, buf, CHAIN, 3, 3, HM_VOTE_PREVOTE, 5, round, 0x21);
        cs_drop_reason d = deliver(f, r, buf, len);
        assert_true(d == CS_DROP_NONE || d == CS_DROP_ROUND_WINDOW);
        assert_int_equal(cs_replica_round(r), 0);
    }
    /* Validators 1 and 2 are in round 20, and the flood goes on between
     * their votes over every slot that is not protected: kept per round,
     * their votes never met in one slot. Counted per validator, two
     * validators (one of them surely correct) have reached round 20; only
     * the flooder went beyond it, so the replica goes to 20 and no further. */
    size_t len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 5, 20, 0x00);
    (void)deliver(f, r, buf, len);
    for (uint32_t round = 200; round < 232; round++) {
        len = make_vote(f, buf, CHAIN, 3, 3, HM_VOTE_PRECOMMIT, 5, round, 0x00);
        (void)deliver(f, r, buf, len);
    }
    len = make_vote(f, buf, CHAIN, 2, 2, HM_VOTE_PREVOTE, 5, 20, 0x00);
    (void)deliver(f, r, buf, len);
    assert_int_equal(cs_replica_round(r), 20);
    free(r);
}

/* One validator signing many different next-height votes must not fill the
 * next-height buffer against the others. */
static void test_future_buffer_fair_share(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    for (uint32_t i = 0; i < CS_FUTURE_MSGS_MAX; i++) {
        size_t len = make_vote(f, buf, CHAIN, 3, 3, i % 2 ? HM_VOTE_PRECOMMIT : HM_VOTE_PREVOTE, 6,
                               (i / 2) % 7, (uint8_t)(1 + i));
        assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_NONE);
    }
    /* Full of the flooder's votes: an honest one still finds room, and the
     * flooder's next one does not. */
    size_t len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PREVOTE, 6, 0, 0x77);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_NONE);
    uint8_t honest[CS_MSG_MAX];
    size_t honest_len = make_vote(f, honest, CHAIN, 2, 2, HM_VOTE_PREVOTE, 6, 0, 0x77);
    assert_int_equal(deliver(f, f->rep, honest, honest_len), CS_DROP_NONE);
    len = make_vote(f, buf, CHAIN, 3, 3, HM_VOTE_PREVOTE, 6, 0, 0xee);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_FUTURE_HEIGHT);
    /* Every validator keeps its fair share: fill with validator 1's votes
     * and the flooder is pushed down, never validator 2. */
    for (uint32_t i = 0; i < CS_FUTURE_MSGS_MAX; i++) {
        len = make_vote(f, buf, CHAIN, 1, 1, HM_VOTE_PRECOMMIT, 6, i % 7, (uint8_t)(0x80 + i));
        (void)deliver(f, f->rep, buf, len);
    }
    assert_int_equal(deliver(f, f->rep, honest, honest_len), CS_DROP_DUPLICATE); /* still held */
}

/* One equivocating validator must not fill the evidence store. */
static void test_evidence_one_per_validator(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    for (uint8_t id = 1; id <= CS_EVIDENCE_MAX + 4; id++) {
        size_t len = make_vote(f, buf, CHAIN, 2, 2, HM_VOTE_PREVOTE, 5, 0, id);
        (void)deliver(f, f->rep, buf, len);
    }
    assert_int_equal(cs_replica_evidence_count(f->rep), 1);
    assert_int_equal(cs_replica_evidence_total(f->rep), CS_EVIDENCE_MAX + 3);
    size_t len = make_vote(f, buf, CHAIN, 3, 3, HM_VOTE_PRECOMMIT, 5, 0, 0x01);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_NONE);
    len = make_vote(f, buf, CHAIN, 3, 3, HM_VOTE_PRECOMMIT, 5, 0, 0x02);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_EQUIVOCATION);
    assert_int_equal(cs_replica_evidence_count(f->rep), 2);
    assert_int_equal(cs_replica_evidence(f->rep, 1)->validator_index, 3);
}

/* A block called invalid in one round is asked about again when a later
 * round proposes it: the embedder may have refused it only because it could
 * not execute it yet. */
static void test_invalid_answer_not_reused(void **state) {
    fixture *f = *state;
    uint8_t buf[CS_MSG_MAX];
    size_t len = make_proposal(f, buf, 1, 5, 0, -1, 0x44);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_NONE);
    cs_event ans = {.type = CS_EV_BLOCK_VALIDATED, .height = 5, .valid = false};
    memset(ans.block_id, 0x44, HM_HASH_LEN);
    assert_int_equal(cs_replica_step(f->rep, &ans, &f->out), HM_OK);
    /* Round 1's proposer is validator 2. */
    len = make_proposal(f, buf, 2, 5, 1, -1, 0x44);
    assert_int_equal(deliver(f, f->rep, buf, len), CS_DROP_NONE);
    assert_int_equal(f->out.count, 1);
    assert_int_equal(f->out.items[0].type, CS_ACT_VALIDATE_BLOCK);
    assert_int_equal(f->out.items[0].round, 1);
}

/* ------------------------------------------------------------- signing */

/* Index of the first action of type in out, or -1. */
static int find_action(const cs_actions *out, uint8_t type) {
    for (uint32_t i = 0; i < out->count; i++) {
        if (out->items[i].type == type) {
            return (int)i;
        }
    }
    return -1;
}

static void test_persist_before_broadcast_and_restart(void **state) {
    fixture *f = *state;
    /* Validator 0 at height 5, round 0; the proposer is validator 1. */
    cs_replica *r = new_replica(f, 0, 5, NULL);
    cs_event start = {.type = CS_EV_START};
    assert_int_equal(cs_replica_step(r, &start, &f->out), HM_OK);
    assert_true(find_action(&f->out, CS_ACT_SCHEDULE_TIMEOUT) >= 0);

    uint8_t buf[CS_MSG_MAX];
    size_t len = make_proposal(f, buf, 1, 5, 0, -1, 0x77);
    assert_int_equal(deliver(f, r, buf, len), CS_DROP_NONE);
    cs_event valid = {.type = CS_EV_BLOCK_VALIDATED, .height = 5, .valid = true};
    memset(valid.block_id, 0x77, HM_HASH_LEN);
    assert_int_equal(cs_replica_step(r, &valid, &f->out), HM_OK);
    int persist = find_action(&f->out, CS_ACT_PERSIST_SIGN_STATE);
    int send = find_action(&f->out, CS_ACT_BROADCAST);
    assert_true(persist >= 0 && send > persist);
    const cs_sign_state *ss = &f->out.items[persist].sign_state;
    assert_int_equal(ss->height, 5);
    assert_int_equal(ss->round, 0);
    assert_int_equal(ss->step, CS_STEP_PREVOTE);
    assert_int_equal(ss->block_id[0], 0x77);
    cs_msg m;
    assert_int_equal(cs_msg_decode(f->out.items[send].msg, f->out.items[send].msg_len, &m), HM_OK);
    assert_int_equal(m.type, CS_MSG_VOTE);
    assert_int_equal(m.vote.block_id[0], 0x77);
    assert_int_equal(cs_msg_verify(&m, &f->signers[0], &f->vs.keys[0]), HM_OK);
    cs_sign_state saved = *ss;
    free(r);

    /* Restart from the persisted sign-state. The recorded vote may never
     * have left before the crash: it is sent again, unchanged, without a
     * new persist. */
    r = new_replica(f, 0, 5, &saved);
    assert_int_equal(cs_replica_step(r, &start, &f->out), HM_OK);
    assert_int_equal(cs_replica_round(r), 0);
    assert_int_equal(find_action(&f->out, CS_ACT_PERSIST_SIGN_STATE), -1);
    send = find_action(&f->out, CS_ACT_BROADCAST);
    assert_true(send >= 0);
    assert_int_equal(cs_msg_decode(f->out.items[send].msg, f->out.items[send].msg_len, &m), HM_OK);
    assert_int_equal(m.vote.type, HM_VOTE_PREVOTE);
    assert_int_equal(m.vote.block_id[0], 0x77);
    /* A conflicting proposal for the same round arrives and validates: the
     * replica must not prevote it, nor nil when the propose timeout fires. */
    len = make_proposal(f, buf, 1, 5, 0, -1, 0x78);
    assert_int_equal(deliver(f, r, buf, len), CS_DROP_NONE);
    memset(valid.block_id, 0x78, HM_HASH_LEN);
    assert_int_equal(cs_replica_step(r, &valid, &f->out), HM_OK);
    assert_int_equal(find_action(&f->out, CS_ACT_BROADCAST), -1);
    cs_event to = {.type = CS_EV_TIMEOUT, .height = 5, .round = 0, .step = CS_STEP_PROPOSE};
    assert_int_equal(cs_replica_step(r, &to, &f->out), HM_OK);
    assert_int_equal(find_action(&f->out, CS_ACT_BROADCAST), -1);
    free(r);

    /* The gate itself: a sign-state one step further (a nil precommit at
     * this round) and the prevote for 0x77 is refused outright. */
    cs_sign_state later = saved;
    later.step = CS_STEP_PRECOMMIT;
    memset(later.block_id, 0, HM_HASH_LEN);
    r = new_replica(f, 0, 5, &later);
    assert_int_equal(cs_replica_step(r, &start, &f->out), HM_OK);
    len = make_proposal(f, buf, 1, 5, 0, -1, 0x77);
    assert_int_equal(deliver(f, r, buf, len), CS_DROP_NONE);
    memset(valid.block_id, 0x77, HM_HASH_LEN);
    assert_int_equal(cs_replica_step(r, &valid, &f->out), HM_OK);
    for (uint32_t i = 0; i < f->out.count; i++) {
        if (f->out.items[i].type == CS_ACT_BROADCAST) {
            assert_int_equal(cs_msg_decode(f->out.items[i].msg, f->out.items[i].msg_len, &m),
                             HM_OK);
            assert_false(m.type == CS_MSG_VOTE && m.vote.type == HM_VOTE_PREVOTE);
        }
    }
    free(r);
}

static void test_restart_keeps_lock(void **state) {
    fixture *f = *state;
    /* Signed a precommit for 0x77 at (5, 2) while locked on it. */
    cs_sign_state saved = {.height = 5, .round = 2, .step = CS_STEP_PRECOMMIT, .locked_round = 2};
    memset(saved.block_id, 0x77, HM_HASH_LEN);
    memset(saved.locked_block_id, 0x77, HM_HASH_LEN);
    cs_replica *r = new_replica(f, 0, 5, &saved);
    cs_event start = {.type = CS_EV_START};
    assert_int_equal(cs_replica_step(r, &start, &f->out), HM_OK);
    assert_int_equal(cs_replica_round(r), 2);
    /* Round 3 (proposer 0 = us): we re-propose the locked block with its
     * round as proof-of-lock round, never a fresh block. */
    cs_event to = {.type = CS_EV_TIMEOUT, .height = 5, .round = 2, .step = CS_STEP_PRECOMMIT};
    assert_int_equal(cs_replica_step(r, &to, &f->out), HM_OK);
    assert_int_equal(cs_replica_round(r), 3);
    assert_int_equal(find_action(&f->out, CS_ACT_BUILD_BLOCK), -1);
    int send = find_action(&f->out, CS_ACT_BROADCAST);
    assert_true(send >= 0);
    cs_msg m;
    assert_int_equal(cs_msg_decode(f->out.items[send].msg, f->out.items[send].msg_len, &m), HM_OK);
    assert_int_equal(m.type, CS_MSG_PROPOSAL);
    assert_int_equal(m.proposal.pol_round, 2);
    assert_int_equal(m.proposal.block_id[0], 0x77);
    free(r);
}

/* ------------------------------------------------------------- the lock rules */

/* The first byte of the block id validator 0 prevoted in round `round`
 * among f->out, or -1 if it sent no prevote there (0 is nil). */
static int own_prevote(fixture *f, uint32_t round) {
    for (uint32_t i = 0; i < f->out.count; i++) {
        const cs_action *a = &f->out.items[i];
        cs_msg m;
        if (a->type != CS_ACT_BROADCAST || cs_msg_decode(a->msg, a->msg_len, &m) != HM_OK) {
            continue;
        }
        if (m.type == CS_MSG_VOTE && m.validator_index == 0 && m.vote.type == HM_VOTE_PREVOTE &&
            m.vote.round == round) {
            return m.vote.block_id[0];
        }
    }
    return -1;
}

/* Validator 0 at height 5, locked on 0x77 since round 1 (restarted from
 * that sign-state), moved on to round 2, whose proposer is validator 3.
 * It receives the proposal (id, pol_round), the prevotes of validators 1-3
 * for id in pol_round if any, and the answer that id is valid; returns what
 * it prevoted in round 2. */
static int prevote_while_locked(fixture *f, uint8_t id, int32_t pol_round) {
    cs_sign_state saved = {.height = 5, .round = 1, .step = CS_STEP_PRECOMMIT, .locked_round = 1};
    memset(saved.block_id, 0x77, HM_HASH_LEN);
    memset(saved.locked_block_id, 0x77, HM_HASH_LEN);
    cs_replica *r = new_replica(f, 0, 5, &saved);
    cs_event ev = {.type = CS_EV_START};
    assert_int_equal(cs_replica_step(r, &ev, &f->out), HM_OK);
    cs_event to = {.type = CS_EV_TIMEOUT, .height = 5, .round = 1, .step = CS_STEP_PRECOMMIT};
    assert_int_equal(cs_replica_step(r, &to, &f->out), HM_OK);
    assert_int_equal(cs_replica_round(r), 2);
    uint8_t buf[CS_MSG_MAX];
    int vote = -1;
    if (pol_round >= 0) {
        for (uint32_t v = 1; v < N; v++) {
            size_t len =
                make_vote(f, buf, CHAIN, v, (int)v, HM_VOTE_PREVOTE, 5, (uint32_t)pol_round, id);
            cs_drop_reason d = deliver(f, r, buf, len);
            assert_true(d == CS_DROP_NONE || d == CS_DROP_EQUIVOCATION);
        }
    }
    size_t len = make_proposal(f, buf, 3, 5, 2, pol_round, id);
    assert_int_equal(deliver(f, r, buf, len), CS_DROP_NONE);
    vote = own_prevote(f, 2);
    cs_event ans = {.type = CS_EV_BLOCK_VALIDATED, .height = 5, .valid = true};
    memset(ans.block_id, id, HM_HASH_LEN);
    assert_int_equal(cs_replica_step(r, &ans, &f->out), HM_OK);
    if (vote < 0) {
        vote = own_prevote(f, 2);
    }
    free(r);
    return vote;
}

/* L22-L33 with a lock: a fresh proposal of another block gets nil, of the
 * locked block gets the block; a re-proposal of another block gets the
 * block only if its proof-of-lock round is at or after the lock (L29). */
static void test_lock_rules(void **state) {
    fixture *f = *state;
    assert_int_equal(prevote_while_locked(f, 0x77, -1), 0x77); /* L23: locked on it */
    assert_int_equal(prevote_while_locked(f, 0x88, -1), 0x00); /* L23: locked elsewhere */
    assert_int_equal(prevote_while_locked(f, 0x88, 0), 0x00);  /* L29: pol 0 < lock 1 */
    assert_int_equal(prevote_while_locked(f, 0x88, 1), 0x88);  /* L29: pol 1 >= lock 1 */
}

/* ------------------------------------------------------------- a cluster */

static void test_four_replicas_commit(void **state) {
    fixture *f = *state;
    cs_replica *reps[N];
    for (int i = 0; i < N; i++) {
        reps[i] = new_replica(f, i, 1, NULL);
    }
    /* A FIFO of (destination, message); block ids are built as 0xb1. */
    enum { QUEUE_MAX = 4096 };
    static uint8_t q_msg[QUEUE_MAX][CS_MSG_MAX];
    static size_t q_len[QUEUE_MAX];
    static int q_to[QUEUE_MAX];
    static int q_kind[QUEUE_MAX]; /* 0 message, 1 build, 2 validate */
    static uint8_t q_id[QUEUE_MAX];
    size_t head = 0, tail = 0;
    bool committed[N] = {false};
    hm_cert cert;
    memset(&cert, 0, sizeof cert);
    cs_event start = {.type = CS_EV_START};
    for (int i = 0; i < N; i++) {
        assert_int_equal(cs_replica_step(reps[i], &start, &f->out), HM_OK);
        if (find_action(&f->out, CS_ACT_BUILD_BLOCK) >= 0) {
            q_to[tail] = i;
            q_kind[tail] = 1;
            tail++;
        }
    }
    assert_int_equal(tail, 1); /* exactly one proposer */
    while (head < tail) {
        int to = q_to[head];
        cs_event ev;
        memset(&ev, 0, sizeof ev);
        if (q_kind[head] == 0) {
            ev.type = CS_EV_MESSAGE;
            ev.data = q_msg[head];
            ev.data_len = q_len[head];
        } else if (q_kind[head] == 1) {
            ev.type = CS_EV_BLOCK_BUILT;
            ev.height = 1;
            ev.round = 0;
            memset(ev.block_id, 0xb1, HM_HASH_LEN);
        } else {
            ev.type = CS_EV_BLOCK_VALIDATED;
            ev.height = 1;
            ev.valid = true;
            memset(ev.block_id, q_id[head], HM_HASH_LEN);
        }
        head++;
        assert_int_equal(cs_replica_step(reps[to], &ev, &f->out), HM_OK);
        for (uint32_t a = 0; a < f->out.count; a++) {
            const cs_action *act = &f->out.items[a];
            if (act->type == CS_ACT_BROADCAST) {
                for (int d = 0; d < N; d++) {
                    if (d != to) {
                        assert_true(tail < QUEUE_MAX);
                        memcpy(q_msg[tail], act->msg, act->msg_len);
                        q_len[tail] = act->msg_len;
                        q_to[tail] = d;
                        q_kind[tail] = 0;
                        tail++;
                    }
                }
            } else if (act->type == CS_ACT_VALIDATE_BLOCK) {
                q_to[tail] = to;
                q_kind[tail] = 2;
                q_id[tail] = act->block_id[0];
                tail++;
            } else if (act->type == CS_ACT_COMMIT && act->height == 1) {
                assert_true(f->out.has_commit);
                assert_false(committed[to]);
                committed[to] = true;
                assert_int_equal(act->block_id[0], 0xb1);
                cert = f->out.cert;
                /* The certificate stands alone: lib checks it. */
                assert_int_equal(hm_cert_verify(&cert, CHAIN, &f->vs), HM_OK);
                assert_int_equal(cs_cert_verify(&cert, CHAIN, &f->vs, &f->signers[0]), HM_OK);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        assert_true(committed[i]);
        assert_int_equal(cs_replica_height(reps[i]), 2);
        free(reps[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_msg_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_state_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_chain_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_unknown_validator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_bad_sig, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_heights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_round_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_not_proposer_and_bad_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equivocation_evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_skip_survives_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_future_buffer_fair_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_one_per_validator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_answer_not_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persist_before_broadcast_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_replicas_commit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
