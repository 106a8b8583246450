/* consensus/replica.c — one validator's Tendermint state machine.
 *
 * Layer: consensus/, over lib/. Implements Algorithm 1 of "The latest gossip
 * on BFT consensus" (arXiv:1807.04938): the rule numbers in comments (L22,
 * L28, ...) are the line numbers of the paper's pseudocode. Rules are
 * evaluated to a fixed point after every event, which is the "upon" semantics
 * of the paper: a rule fires as soon as its condition holds, whatever event
 * made it hold.
 *
 * Never: I/O, clocks, random numbers, allocation, floating point. Every
 * message is checked before it is stored; nothing from the network is
 * asserted on. Signing goes through sign_message(), the one place that
 * consults and advances the sign-state. */
#include "cs.h"

#include <assert.h>
#ifdef CS_TEST_MUTANTS
#include <stdio.h> /* snprintf for cs_replica_debug only */
#endif
#include <string.h>

typedef enum { BLK_UNKNOWN = 0, BLK_PENDING, BLK_VALID, BLK_INVALID } blk_status;

/* Vote kinds as array indices. */
#define PV 0
#define PC 1

/* One validator's votes of one kind in one round: the first one seen and,
 * if it equivocated, one other. Keeping the second lets the vote count for
 * the block it names too: otherwise a Byzantine validator that shows nil to
 * some and a block to others could deny the honest ones the proof-of-lock
 * they need to move on. */
typedef struct {
    uint8_t count; /* 0, 1 or 2 */
    uint8_t id[2][HM_HASH_LEN];
    hm_sig sig[2];
} vote_pair;

typedef struct {
    vote_pair kind[2]; /* [PV], [PC] */
} vote_slot;

static int kind_of(uint8_t vote_type) {
    return vote_type == HM_VOTE_PREVOTE ? PV : PC;
}

/* Everything held for one round of the current height. */
typedef struct {
    int64_t round; /* -1: slot empty */
    bool has_proposal;
    cs_proposal_body proposal;
    hm_sig proposal_sig;
    uint8_t status; /* blk_status of proposal.block_id */
    bool prevote_timeout_done;
    bool precommit_timeout_done;
    bool l36_done;
} round_state;

struct cs_replica {
    cs_config config;
    uint32_t n;
    uint32_t quorum;  /* 2f+1 */
    uint32_t f_plus1; /* n - quorum + 1: more than the faulty can be */
    uint64_t height;
    uint32_t round;
    uint8_t step;
    int32_t locked_round;
    uint8_t locked_id[HM_HASH_LEN];
    int32_t valid_round;
    uint8_t valid_id[HM_HASH_LEN];
    cs_sign_state sign_state;
    uint64_t drops[CS_DROP__COUNT];
    uint64_t sign_refusals;
    uint64_t evidence_total;
    uint32_t evidence_count;
    cs_evidence evidence[CS_EVIDENCE_MAX];
    uint32_t future_count;
    cs_msg future[CS_FUTURE_MSGS_MAX];
    bool replaying; /* inside replay_future */
    int mutant;
    /* Position at the last gossip call, to gossip only when stuck. */
    uint64_t gossip_height;
    uint32_t gossip_round;
    uint8_t gossip_step;
    uint32_t gossip_offset;
    int32_t pol_hint; /* pol_round of the latest proposal that had one */
    /* Per validator, the highest round of this height it has sent a verified
     * message for (-1: none). The f+1 round skip (L55) reads these rather
     * than the round slots: a validator can only ever move its own entry,
     * so Byzantine messages for many rounds can neither grow memory nor
     * push out the honest messages that show f+1 validators moved on. */
    int64_t highest_round[HM_VALIDATORS_MAX];
    round_state rounds[CS_ROUND_WINDOW];
    vote_slot votes[]; /* CS_ROUND_WINDOW * n, slot-major */
};

static const uint8_t NIL_ID[HM_HASH_LEN];

static bool id_is_nil(const uint8_t id[HM_HASH_LEN]) {
    return memcmp(id, NIL_ID, HM_HASH_LEN) == 0;
}

static bool id_eq(const uint8_t a[HM_HASH_LEN], const uint8_t b[HM_HASH_LEN]) {
    return memcmp(a, b, HM_HASH_LEN) == 0;
}

/* ------------------------------------------------------------- config */

void cs_config_default(cs_config *c) {
    assert(c != NULL);
    memset(c, 0, sizeof *c);
    c->self_index = -1;
    c->timeout_propose_ms = 1000;
    c->timeout_propose_delta_ms = 500;
    c->timeout_prevote_ms = 500;
    c->timeout_prevote_delta_ms = 250;
    c->timeout_precommit_ms = 500;
    c->timeout_precommit_delta_ms = 250;
}

const char *cs_drop_reason_name(cs_drop_reason reason) {
    static const char *const names[CS_DROP__COUNT] = {
        [CS_DROP_NONE] = "none",
        [CS_DROP_MALFORMED] = "malformed",
        [CS_DROP_CHAIN_ID] = "chain_id",
        [CS_DROP_UNKNOWN_VALIDATOR] = "unknown_validator",
        [CS_DROP_BAD_SIG] = "bad_sig",
        [CS_DROP_STALE_HEIGHT] = "stale_height",
        [CS_DROP_FUTURE_HEIGHT] = "future_height",
        [CS_DROP_ROUND_WINDOW] = "round_window",
        [CS_DROP_NOT_PROPOSER] = "not_proposer",
        [CS_DROP_DUPLICATE] = "duplicate",
        [CS_DROP_EQUIVOCATION] = "equivocation",
        [CS_DROP_BAD_VALUE] = "bad_value",
    };
    if ((unsigned)reason >= CS_DROP__COUNT) {
        return "unknown";
    }
    return names[reason];
}

uint32_t cs_proposer_index(uint32_t validator_count, uint64_t height, uint32_t round) {
    assert(validator_count > 0);
    return (uint32_t)((height + round) % validator_count);
}

size_t cs_replica_size(const cs_config *config) {
    assert(config != NULL);
    size_t n = config->validators.count;
    return sizeof(cs_replica) + (size_t)CS_ROUND_WINDOW * n * sizeof(vote_slot);
}

/* ------------------------------------------------------------- rounds */

/* Which rounds' messages are worth a slot. Always: the current round, a
 * few before it and after it, the locked and valid rounds, and the
 * proof-of-lock round named by the current round's proposal and the one
 * named by the latest proposal that named one (so it is still at hand when
 * that value is proposed again). These number at most CS_ROUND_WINDOW, so a
 * slot can always be freed for a protected round; any other
 * round (a far-future one, which may show that f+1 validators moved on) only
 * takes a slot nobody else needs, and can lose it. */
#define PAST_ROUNDS 4
#define FUTURE_ROUNDS 7
/* Past and future ranges, locked, valid, current and hinted pol rounds, and
 * one to spare: a protected round missing from the slots always finds one. */
_Static_assert(PAST_ROUNDS + FUTURE_ROUNDS + 4 < CS_ROUND_WINDOW, "round window too small");

static int64_t current_pol_round(const cs_replica *r);

static bool round_protected(const cs_replica *r, int64_t round) {
    int64_t cur = r->round;
    return (round >= cur && round - cur < FUTURE_ROUNDS) ||
           (round < cur && cur - round <= PAST_ROUNDS) || round == r->locked_round ||
           round == r->valid_round || round == r->pol_hint || round == current_pol_round(r);
}

static vote_slot *slot_votes(cs_replica *r, const round_state *rs) {
    size_t idx = (size_t)(rs - r->rounds);
    assert(idx < CS_ROUND_WINDOW);
    return &r->votes[idx * r->n];
}

static void round_reset(cs_replica *r, round_state *rs, int64_t round) {
    memset(rs, 0, sizeof *rs);
    rs->round = round;
    memset(slot_votes(r, rs), 0, (size_t)r->n * sizeof(vote_slot));
}

/* The state of `round`, or NULL if nothing of it is held. */
static round_state *round_find(cs_replica *r, uint32_t round) {
    for (uint32_t i = 0; i < CS_ROUND_WINDOW; i++) {
        if (r->rounds[i].round == (int64_t)round) {
            return &r->rounds[i];
        }
    }
    return NULL;
}

static int64_t current_pol_round(const cs_replica *r) {
    for (uint32_t i = 0; i < CS_ROUND_WINDOW; i++) {
        const round_state *rs = &r->rounds[i];
        if (rs->round == (int64_t)r->round) {
            return rs->has_proposal ? rs->proposal.pol_round : -1;
        }
    }
    return -1;
}

/* The state of `round`, creating it in a free slot or one whose round is no
 * longer protected (the lowest such). NULL when round is not protected and
 * every slot is. */
static round_state *round_get(cs_replica *r, uint32_t round) {
    round_state *rs = round_find(r, round);
    if (rs != NULL) {
        return rs;
    }
    round_state *victim = NULL;
    for (uint32_t i = 0; i < CS_ROUND_WINDOW; i++) {
        round_state *c = &r->rounds[i];
        if (c->round < 0) {
            victim = c;
            break;
        }
        if (!round_protected(r, c->round) && (victim == NULL || c->round < victim->round)) {
            victim = c;
        }
    }
    /* Protected rounds are fewer than the slots (see the static assertion),
     * so a protected round always finds one. */
    assert(victim != NULL || !round_protected(r, round));
    if (victim != NULL) {
        round_reset(r, victim, round);
    }
    return victim;
}

static bool pair_has(const vote_pair *p, const uint8_t *id) {
    return (p->count > 0 && id_eq(p->id[0], id)) || (p->count > 1 && id_eq(p->id[1], id));
}

/* Validators with a vote of this type for id (NULL: for anything). */
static uint32_t count_votes(cs_replica *r, round_state *rs, uint8_t type, const uint8_t *id) {
    const vote_slot *v = slot_votes(r, rs);
    int k = kind_of(type);
    uint32_t count = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        const vote_pair *p = &v[i].kind[k];
        if (id == NULL ? p->count > 0 : pair_has(p, id)) {
            count++;
        }
    }
    return count;
}

/* L55: the highest round R above the current one such that f+1 validators
 * have sent a verified message for some round >= R (the current round if
 * none). The paper asks for f+1 messages of round R itself; this is the same
 * argument with less memory: of f+1 validators at least one is correct, and
 * a correct validator signs only in rounds it has entered, so one correct
 * validator has reached R. Round changes never touch safety. */
static uint32_t skip_target(const cs_replica *r) {
    uint32_t skip_to = r->round;
    for (uint32_t i = 0; i < r->n; i++) {
        int64_t cand = r->highest_round[i];
        if (cand <= (int64_t)skip_to) {
            continue;
        }
        uint32_t at_or_above = 0;
        for (uint32_t j = 0; j < r->n; j++) {
            if (r->highest_round[j] >= cand) {
                at_or_above++;
            }
        }
        if (at_or_above >= r->f_plus1) {
            skip_to = (uint32_t)cand;
        }
    }
    assert(skip_to >= r->round);
    return skip_to;
}

static void note_round(cs_replica *r, uint32_t validator, uint32_t round) {
    assert(validator < r->n);
    if ((int64_t)round > r->highest_round[validator]) {
        r->highest_round[validator] = round;
    }
}

/* ------------------------------------------------------------- actions */

static cs_action *push_action(cs_actions *out, uint8_t type) {
    /* The replica bounds its own output (gossip and replay stop early), so
     * running out is a bug, not bad input. */
    assert(out->count < CS_ACTIONS_MAX);
    cs_action *a = &out->items[out->count++];
    memset(a, 0, sizeof *a);
    a->type = type;
    return a;
}

static size_t actions_free(const cs_actions *out) {
    return CS_ACTIONS_MAX - out->count;
}

static void schedule_timeout(cs_replica *r, uint8_t step, cs_actions *out) {
    uint32_t base = 0;
    uint32_t delta = 0;
    switch (step) {
    case CS_STEP_PROPOSE:
        base = r->config.timeout_propose_ms;
        delta = r->config.timeout_propose_delta_ms;
        break;
    case CS_STEP_PREVOTE:
        base = r->config.timeout_prevote_ms;
        delta = r->config.timeout_prevote_delta_ms;
        break;
    default:
        base = r->config.timeout_precommit_ms;
        delta = r->config.timeout_precommit_delta_ms;
        break;
    }
    uint64_t d = (uint64_t)base + (uint64_t)delta * r->round;
    cs_action *a = push_action(out, CS_ACT_SCHEDULE_TIMEOUT);
    a->height = r->height;
    a->round = r->round;
    a->step = step;
    a->duration_ms = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static void broadcast(const cs_msg *m, cs_actions *out) {
    cs_action *a = push_action(out, CS_ACT_BROADCAST);
    a->msg_type = m->type;
    hm_err err = cs_msg_encode(m, a->msg, &a->msg_len);
    /* Our own messages are well formed by construction. */
    assert(err == HM_OK);
    (void)err;
    if (m->type == CS_MSG_PROPOSAL) {
        a->height = m->proposal.height;
        a->round = m->proposal.round;
        memcpy(a->block_id, m->proposal.block_id, HM_HASH_LEN);
    } else {
        a->height = m->vote.height;
        a->round = m->vote.round;
        a->step = m->vote.type == HM_VOTE_PREVOTE ? CS_STEP_PREVOTE : CS_STEP_PRECOMMIT;
        memcpy(a->block_id, m->vote.block_id, HM_HASH_LEN);
    }
}

/* ------------------------------------------------------------- evidence */

static void add_evidence(cs_replica *r, uint32_t validator, const hm_vote_body *a,
                         const hm_sig *sig_a, const hm_vote_body *b, const hm_sig *sig_b) {
    r->evidence_total++;
    if (r->evidence_count >= CS_EVIDENCE_MAX) {
        return;
    }
    /* One proof per validator is enough to act on; more from the same one
     * would let a single equivocator fill the store and hide the others. */
    for (uint32_t i = 0; i < r->evidence_count; i++) {
        if (r->evidence[i].validator_index == validator) {
            return;
        }
    }
    cs_evidence *e = &r->evidence[r->evidence_count++];
    e->validator_index = validator;
    e->vote_a = *a;
    e->sig_a = *sig_a;
    e->vote_b = *b;
    e->sig_b = *sig_b;
}

/* Stores a verified vote. Returns the drop reason (NONE when stored;
 * EQUIVOCATION when it conflicts with one held: the pair is evidence, and
 * the new vote is kept as the second one if there is room or if it names
 * the round's proposal). */
static cs_drop_reason store_vote(cs_replica *r, uint32_t validator, const hm_vote_body *v,
                                 const hm_sig *sig) {
    assert(v->height == r->height && validator < r->n);
    round_state *rs = round_get(r, v->round);
    if (rs == NULL) {
        return CS_DROP_ROUND_WINDOW;
    }
    vote_pair *p = &slot_votes(r, rs)[validator].kind[kind_of(v->type)];
    if (pair_has(p, v->block_id)) {
        return CS_DROP_DUPLICATE;
    }
    if (p->count == 0) {
        memcpy(p->id[0], v->block_id, HM_HASH_LEN);
        p->sig[0] = *sig;
        p->count = 1;
        return CS_DROP_NONE;
    }
    hm_vote_body held = *v;
    memcpy(held.block_id, p->id[0], HM_HASH_LEN);
    add_evidence(r, validator, &held, &p->sig[0], v, sig);
    bool names_proposal = rs->has_proposal && id_eq(rs->proposal.block_id, v->block_id);
    if (p->count == 1 || names_proposal) {
        memcpy(p->id[1], v->block_id, HM_HASH_LEN);
        p->sig[1] = *sig;
        p->count = 2;
    }
    return CS_DROP_EQUIVOCATION;
}

/* ------------------------------------------------------------- signing */

static int cmp_position(uint64_t h1, uint32_t r1, uint8_t s1, uint64_t h2, uint32_t r2,
                        uint8_t s2) {
    if (h1 != h2) {
        return h1 < h2 ? -1 : 1;
    }
    if (r1 != r2) {
        return r1 < r2 ? -1 : 1;
    }
    if (s1 != s2) {
        return s1 < s2 ? -1 : 1;
    }
    return 0;
}

/* The one gate every signature passes: signs m only if it does not
 * conflict with anything signed before (the persisted sign-state), and puts
 * the new sign-state in the action stream ahead of the broadcast. Returns
 * whether m was signed and broadcast. */
static bool sign_message(cs_replica *r, cs_msg *m, cs_actions *out) {
    if (r->config.self_index < 0) {
        return false;
    }
    uint64_t h = m->type == CS_MSG_PROPOSAL ? m->proposal.height : m->vote.height;
    uint32_t rnd = m->type == CS_MSG_PROPOSAL ? m->proposal.round : m->vote.round;
    uint8_t step = m->type == CS_MSG_PROPOSAL        ? CS_STEP_PROPOSE
                   : m->vote.type == HM_VOTE_PREVOTE ? CS_STEP_PREVOTE
                                                     : CS_STEP_PRECOMMIT;
    const uint8_t *id = m->type == CS_MSG_PROPOSAL ? m->proposal.block_id : m->vote.block_id;
    const cs_sign_state *ss = &r->sign_state;
    bool need_persist = true;
    if (ss->height != 0) {
        int c = cmp_position(h, rnd, step, ss->height, ss->round, ss->step);
        if (c < 0) {
            r->sign_refusals++;
            return false;
        }
        if (c == 0) {
            /* The very same vote again (after a restart) conflicts with
             * nothing; any other message at this position would. */
            if (step == CS_STEP_PROPOSE || !id_eq(id, ss->block_id)) {
                r->sign_refusals++;
                return false;
            }
            need_persist = false;
        }
    }
    memcpy(m->chain_id, r->config.chain_id, sizeof m->chain_id);
    m->validator_index = (uint32_t)r->config.self_index;
    if (cs_msg_sign(m, &r->config.signer) != HM_OK) {
        /* A signer that fails (a broken key) cannot be retried into
         * safety; the replica stays silent, which is always safe. */
        r->sign_refusals++;
        return false;
    }
    if (need_persist) {
        cs_sign_state *w = &r->sign_state;
        w->height = h;
        w->round = rnd;
        w->step = step;
        memcpy(w->block_id, id, HM_HASH_LEN);
        w->locked_round = r->locked_round;
        memcpy(w->locked_block_id, r->locked_id, HM_HASH_LEN);
#ifdef CS_TEST_MUTANTS
        if (r->mutant == CS_MUTANT_SEND_BEFORE_PERSIST) {
            broadcast(m, out);
        }
#endif
        cs_action *a = push_action(out, CS_ACT_PERSIST_SIGN_STATE);
        a->sign_state = *w;
        a->height = h;
        a->round = rnd;
        a->step = step;
#ifdef CS_TEST_MUTANTS
        if (r->mutant == CS_MUTANT_SEND_BEFORE_PERSIST) {
            return true;
        }
#endif
    }
    broadcast(m, out);
    return true;
}

static void cast_vote(cs_replica *r, uint8_t type, const uint8_t id[HM_HASH_LEN], cs_actions *out) {
    cs_msg m;
    memset(&m, 0, sizeof m);
    m.type = CS_MSG_VOTE;
    m.vote.type = type;
    m.vote.height = r->height;
    m.vote.round = r->round;
    memcpy(m.vote.block_id, id, HM_HASH_LEN);
    if (sign_message(r, &m, out)) {
        /* A twin holding our key may have voted first; then the pair is
         * evidence like any other, and both count for what they name. */
        (void)store_vote(r, (uint32_t)r->config.self_index, &m.vote, &m.sig);
    }
}

static void relay_prevotes_for(cs_replica *r, uint32_t round, const uint8_t id[HM_HASH_LEN],
                               cs_actions *out) {
    round_state *rs = round_find(r, round);
    if (rs == NULL) {
        return;
    }
    const vote_slot *v = slot_votes(r, rs);
    cs_msg m;
    memset(&m, 0, sizeof m);
    m.type = CS_MSG_VOTE;
    memcpy(m.chain_id, r->config.chain_id, sizeof m.chain_id);
    for (uint32_t i = 0; i < r->n && actions_free(out) > 16; i++) {
        const vote_pair *p = &v[i].kind[PV];
        for (uint32_t j = 0; j < p->count; j++) {
            if (id_eq(p->id[j], id)) {
                m.validator_index = i;
                m.vote.type = HM_VOTE_PREVOTE;
                m.vote.height = r->height;
                m.vote.round = round;
                memcpy(m.vote.block_id, id, HM_HASH_LEN);
                m.sig = p->sig[j];
                broadcast(&m, out);
            }
        }
    }
}

static void send_proposal(cs_replica *r, const uint8_t id[HM_HASH_LEN], int32_t pol_round,
                          cs_actions *out) {
    cs_msg m;
    memset(&m, 0, sizeof m);
    m.type = CS_MSG_PROPOSAL;
    m.proposal.height = r->height;
    m.proposal.round = r->round;
    m.proposal.pol_round = pol_round;
    memcpy(m.proposal.block_id, id, HM_HASH_LEN);
    if (sign_message(r, &m, out)) {
        round_state *rs = round_get(r, r->round);
        assert(rs != NULL); /* the current round is always protected */
        rs->has_proposal = true;
        rs->proposal = m.proposal;
        rs->proposal_sig = m.sig;
        rs->status = BLK_VALID; /* we built or validated it ourselves */
        if (pol_round >= 0) {
            /* Peers need the proof-of-lock to accept a value proposed again
             * (L28); ship the prevotes we hold for it along. */
            relay_prevotes_for(r, (uint32_t)pol_round, id, out);
        }
    }
}

/* ------------------------------------------------------------- rounds */

static bool self_is_proposer(const cs_replica *r) {
    return r->config.self_index >= 0 &&
           cs_proposer_index(r->n, r->height, r->round) == (uint32_t)r->config.self_index;
}

/* StartRound (L11-21). */
static void start_round(cs_replica *r, uint32_t round, cs_actions *out) {
    r->round = round;
    r->step = CS_STEP_PROPOSE;
    round_state *rs = round_get(r, round);
    assert(rs != NULL);
    (void)rs;
    if (self_is_proposer(r)) {
        if (r->valid_round >= 0) {
            send_proposal(r, r->valid_id, r->valid_round, out);
        } else {
            cs_action *a = push_action(out, CS_ACT_BUILD_BLOCK);
            a->height = r->height;
            a->round = round;
        }
    }
    /* Also for the proposer: if the embedder never answers BUILD_BLOCK the
     * round still ends. */
    schedule_timeout(r, CS_STEP_PROPOSE, out);
}

static void reset_height(cs_replica *r, uint64_t height) {
    r->height = height;
    r->round = 0;
    r->step = CS_STEP_PROPOSE;
    r->locked_round = -1;
    r->valid_round = -1;
    r->pol_hint = -1;
    memset(r->locked_id, 0, HM_HASH_LEN);
    memset(r->valid_id, 0, HM_HASH_LEN);
    for (uint32_t i = 0; i < CS_ROUND_WINDOW; i++) {
        r->rounds[i].round = -1;
    }
    for (uint32_t i = 0; i < HM_VALIDATORS_MAX; i++) {
        r->highest_round[i] = -1;
    }
}

static void ask_validation(cs_replica *r, round_state *rs, cs_actions *out) {
    /* The same block may come back in a later round: reuse the answer. */
    for (uint32_t i = 0; i < CS_ROUND_WINDOW; i++) {
        const round_state *o = &r->rounds[i];
        /* Only a "valid" or a pending answer is reused: an embedder may
         * refuse a block it cannot execute yet (its bytes or its parent
         * missing), and a later round deserves a fresh look. */
        if (o != rs && o->round >= 0 && o->has_proposal &&
            (o->status == BLK_VALID || o->status == BLK_PENDING) &&
            id_eq(o->proposal.block_id, rs->proposal.block_id)) {
            rs->status = o->status;
            return;
        }
    }
    if (r->valid_round >= 0 && id_eq(r->valid_id, rs->proposal.block_id)) {
        rs->status = BLK_VALID;
        return;
    }
    rs->status = BLK_PENDING;
    cs_action *a = push_action(out, CS_ACT_VALIDATE_BLOCK);
    a->height = r->height;
    a->round = rs->proposal.round;
    memcpy(a->block_id, rs->proposal.block_id, HM_HASH_LEN);
}

/* ------------------------------------------------------------- decision */

static void process_stored(cs_replica *r, const cs_msg *m, cs_actions *out, cs_drop_reason *drop);
static void replay_future(cs_replica *r, cs_actions *out);
static void replay_pass(cs_replica *r, cs_actions *out);

static void decide(cs_replica *r, round_state *rs, cs_actions *out) {
    assert(!out->has_commit);
    hm_cert *c = &out->cert;
    memset(c, 0, sizeof *c);
    c->height = r->height;
    c->round = (uint32_t)rs->round;
    memcpy(c->block_id, rs->proposal.block_id, HM_HASH_LEN);
    const vote_slot *v = slot_votes(r, rs);
    for (uint32_t i = 0; i < r->n; i++) {
        const vote_pair *p = &v[i].kind[PC];
        for (uint32_t k = 0; k < p->count; k++) {
            if (id_eq(p->id[k], c->block_id)) {
                c->sigs[c->count].validator_index = i;
                c->sigs[c->count].sig = p->sig[k];
                c->count++;
                break;
            }
        }
    }
    assert(c->count >= r->quorum);
    out->has_commit = true;
    cs_action *a = push_action(out, CS_ACT_COMMIT);
    a->height = r->height;
    a->round = c->round;
    memcpy(a->block_id, c->block_id, HM_HASH_LEN);
    reset_height(r, r->height + 1);
    start_round(r, 0, out);
}

/* ------------------------------------------------------------- the rules */

static bool lock_allows(const cs_replica *r, const uint8_t id[HM_HASH_LEN], int32_t pol_round) {
#ifdef CS_TEST_MUTANTS
    if (r->mutant == CS_MUTANT_NO_LOCKING) {
        return true;
    }
#endif
    if (pol_round < 0) {
        return r->locked_round == -1 || id_eq(r->locked_id, id); /* L23 */
    }
    return r->locked_round <= pol_round || id_eq(r->locked_id, id); /* L29 */
}

/* Fires every rule whose condition holds, until none does. */
static void progress(cs_replica *r, cs_actions *out) {
    for (;;) {
        /* L49: a decision in any kept round. One commit per step: the next
         * event (at worst the propose timeout) finds the next one. */
        if (!out->has_commit) {
            for (uint32_t i = 0; i < CS_ROUND_WINDOW; i++) {
                round_state *rs = &r->rounds[i];
                if (rs->round >= 0 && rs->has_proposal && rs->status == BLK_VALID &&
                    count_votes(r, rs, HM_VOTE_PRECOMMIT, rs->proposal.block_id) >= r->quorum) {
                    decide(r, rs, out);
                    replay_future(r, out);
                    return;
                }
            }
        }
        /* L55: f+1 validators are already in a later round: join it. */
        uint32_t skip_to = skip_target(r);
        if (skip_to != r->round) {
            start_round(r, skip_to, out);
            continue;
        }
        round_state *cur = round_get(r, r->round);
        assert(cur != NULL);
        if (r->step == CS_STEP_PROPOSE && cur->has_proposal &&
            (cur->status == BLK_VALID || cur->status == BLK_INVALID)) {
            const cs_proposal_body *p = &cur->proposal;
            bool valid = cur->status == BLK_VALID;
            if (p->pol_round < 0) { /* L22 */
                cast_vote(r, HM_VOTE_PREVOTE,
                          valid && lock_allows(r, p->block_id, -1) ? p->block_id : NIL_ID, out);
                r->step = CS_STEP_PREVOTE;
                continue;
            }
            round_state *pol = round_find(r, (uint32_t)p->pol_round);
            if (pol != NULL && (uint32_t)p->pol_round < r->round &&
                count_votes(r, pol, HM_VOTE_PREVOTE, p->block_id) >= r->quorum) { /* L28 */
                cast_vote(r, HM_VOTE_PREVOTE,
                          valid && lock_allows(r, p->block_id, p->pol_round) ? p->block_id : NIL_ID,
                          out);
                r->step = CS_STEP_PREVOTE;
                continue;
            }
        }
        /* L34 */
        if (r->step == CS_STEP_PREVOTE && !cur->prevote_timeout_done &&
            count_votes(r, cur, HM_VOTE_PREVOTE, NULL) >= r->quorum) {
            cur->prevote_timeout_done = true;
            schedule_timeout(r, CS_STEP_PREVOTE, out);
            continue;
        }
        /* L36 */
        if (r->step >= CS_STEP_PREVOTE && !cur->l36_done && cur->has_proposal &&
            cur->status == BLK_VALID &&
            count_votes(r, cur, HM_VOTE_PREVOTE, cur->proposal.block_id) >= r->quorum) {
            cur->l36_done = true;
            if (r->step == CS_STEP_PREVOTE) {
                r->locked_round = (int32_t)r->round;
                memcpy(r->locked_id, cur->proposal.block_id, HM_HASH_LEN);
                cast_vote(r, HM_VOTE_PRECOMMIT, cur->proposal.block_id, out);
                r->step = CS_STEP_PRECOMMIT;
            }
            r->valid_round = (int32_t)r->round;
            memcpy(r->valid_id, cur->proposal.block_id, HM_HASH_LEN);
            continue;
        }
        /* L44 */
        if (r->step == CS_STEP_PREVOTE &&
            count_votes(r, cur, HM_VOTE_PREVOTE, NIL_ID) >= r->quorum) {
            cast_vote(r, HM_VOTE_PRECOMMIT, NIL_ID, out);
            r->step = CS_STEP_PRECOMMIT;
            continue;
        }
        /* L47 */
        if (!cur->precommit_timeout_done &&
            count_votes(r, cur, HM_VOTE_PRECOMMIT, NULL) >= r->quorum) {
            cur->precommit_timeout_done = true;
            schedule_timeout(r, CS_STEP_PRECOMMIT, out);
            continue;
        }
        return;
    }
}

/* ------------------------------------------------------------- messages */

/* Stores a message already checked (form, chain, signer, signature) for
 * the current height. */
static void process_stored(cs_replica *r, const cs_msg *m, cs_actions *out, cs_drop_reason *drop) {
    /* Verified, so it counts towards the round skip even when no slot is
     * spare for its round. */
    note_round(r, m->validator_index,
               m->type == CS_MSG_PROPOSAL ? m->proposal.round : m->vote.round);
    if (m->type == CS_MSG_VOTE) {
        *drop = store_vote(r, m->validator_index, &m->vote, &m->sig);
        return;
    }
    round_state *rs = round_get(r, m->proposal.round);
    if (rs == NULL) {
        *drop = CS_DROP_ROUND_WINDOW;
        return;
    }
    if (rs->has_proposal) {
        *drop = id_eq(rs->proposal.block_id, m->proposal.block_id) &&
                        rs->proposal.pol_round == m->proposal.pol_round
                    ? CS_DROP_DUPLICATE
                    : CS_DROP_EQUIVOCATION;
        return;
    }
    rs->has_proposal = true;
    rs->proposal = m->proposal;
    rs->proposal_sig = m->sig;
    rs->status = BLK_UNKNOWN;
    if (m->proposal.pol_round >= 0) {
        r->pol_hint = m->proposal.pol_round;
    }
    ask_validation(r, rs, out);
    *drop = CS_DROP_NONE;
}

/* Whether the same signed content (type, signer, body) is held. The
 * signature is left out: BIP340 signatures carry fresh randomness, so the
 * same vote signed again differs in its signature, and one already held
 * verified is all the replica needs. */
static bool future_has(const cs_replica *r, const cs_msg *m) {
    for (uint32_t i = 0; i < r->future_count; i++) {
        const cs_msg *o = &r->future[i];
        if (o->type != m->type || o->validator_index != m->validator_index) {
            continue;
        }
        bool same = m->type == CS_MSG_PROPOSAL
                        ? o->proposal.height == m->proposal.height &&
                              o->proposal.round == m->proposal.round &&
                              o->proposal.pol_round == m->proposal.pol_round &&
                              id_eq(o->proposal.block_id, m->proposal.block_id)
                        : o->vote.type == m->vote.type && o->vote.height == m->vote.height &&
                              o->vote.round == m->vote.round &&
                              id_eq(o->vote.block_id, m->vote.block_id);
        if (same) {
            return true;
        }
    }
    return false;
}

/* Messages of this height that arrived while the previous one ran. They were
 * verified on arrival. Stops early to stay inside the action bound; the rest
 * wait for the next event. */
static void replay_future(cs_replica *r, cs_actions *out) {
    /* A message replayed here may decide the height, and decide() replays
     * again: that inner call would compact the buffer under this loop. It
     * returns at once instead, and this loop passes once more over the
     * buffer for the height it moved to. */
    if (r->replaying) {
        return;
    }
    r->replaying = true;
    uint64_t height = 0;
    do {
        height = r->height;
        replay_pass(r, out);
    } while (r->height != height);
    r->replaying = false;
}

static void replay_pass(cs_replica *r, cs_actions *out) {
    uint32_t kept = 0;
    uint32_t i = 0;
    for (; i < r->future_count; i++) {
        const cs_msg *m = &r->future[i];
        uint64_t h = m->type == CS_MSG_PROPOSAL ? m->proposal.height : m->vote.height;
        uint32_t rnd = m->type == CS_MSG_PROPOSAL ? m->proposal.round : m->vote.round;
        if (h < r->height || (h == r->height && rnd < r->round && !round_protected(r, rnd))) {
            continue;
        }
        if (h > r->height || actions_free(out) < 24) {
            r->future[kept++] = *m;
            continue;
        }
        cs_drop_reason drop = CS_DROP_NONE;
        process_stored(r, m, out, &drop);
        if (drop != CS_DROP_NONE) {
            continue;
        }
        progress(r, out);
    }
    r->future_count = kept;
}

/* Holds a verified message of the next height. When the buffer is full, a
 * validator holding more than one entry more than the sender gives up its
 * latest one: each validator keeps a fair share, so one that signs many
 * different votes for the next height (which costs it nothing) cannot
 * crowd out the honest messages that let this replica start it quickly. */
static bool future_hold(cs_replica *r, const cs_msg *m) {
    if (r->future_count == CS_FUTURE_MSGS_MAX) {
        uint32_t held[HM_VALIDATORS_MAX] = {0};
        for (uint32_t i = 0; i < r->future_count; i++) {
            held[r->future[i].validator_index]++;
        }
        uint32_t top = m->validator_index;
        for (uint32_t v = 0; v < r->n; v++) {
            if (held[v] > held[top]) {
                top = v;
            }
        }
        if (held[top] <= held[m->validator_index] + 1) {
            return false;
        }
        uint32_t victim = CS_FUTURE_MSGS_MAX;
        for (uint32_t i = r->future_count; i > 0; i--) {
            if (r->future[i - 1].validator_index == top) {
                victim = i - 1;
                break;
            }
        }
        assert(victim < r->future_count);
        memmove(&r->future[victim], &r->future[victim + 1],
                (size_t)(r->future_count - victim - 1) * sizeof r->future[0]);
        r->future_count--;
    }
    assert(r->future_count < CS_FUTURE_MSGS_MAX);
    r->future[r->future_count++] = *m;
    return true;
}

static cs_drop_reason check_message(cs_replica *r, const uint8_t *data, size_t len, cs_msg *m) {
    if (cs_msg_decode(data, len, m) != HM_OK) {
        return CS_DROP_MALFORMED;
    }
    if (strcmp(m->chain_id, r->config.chain_id) != 0) {
        return CS_DROP_CHAIN_ID;
    }
    if (m->validator_index >= r->n) {
        return CS_DROP_UNKNOWN_VALIDATOR;
    }
    bool proposal = m->type == CS_MSG_PROPOSAL;
    uint64_t h = proposal ? m->proposal.height : m->vote.height;
    uint32_t rnd = proposal ? m->proposal.round : m->vote.round;
    if (h < r->height) {
        return CS_DROP_STALE_HEIGHT;
    }
    if (h > r->height + 1) {
        return CS_DROP_FUTURE_HEIGHT;
    }
    /* Rounds long past are of no use unless a lock or proposal names them;
     * the next height only needs its first rounds. */
    if (h == r->height ? rnd < r->round && !round_protected(r, rnd) : rnd >= FUTURE_ROUNDS) {
        return CS_DROP_ROUND_WINDOW;
    }
    if (proposal) {
        if (m->validator_index != cs_proposer_index(r->n, h, rnd)) {
            return CS_DROP_NOT_PROPOSER;
        }
        if (m->proposal.pol_round >= (int32_t)rnd || id_is_nil(m->proposal.block_id)) {
            return CS_DROP_BAD_VALUE;
        }
    }
    if (h == r->height) {
        /* An exact copy of what we hold costs no signature check. */
        round_state *rs = round_find(r, rnd);
        if (rs != NULL && proposal && rs->has_proposal &&
            memcmp(&rs->proposal, &m->proposal, sizeof m->proposal) == 0) {
            return CS_DROP_DUPLICATE;
        }
        if (rs != NULL && !proposal) {
            const vote_slot *v = &slot_votes(r, rs)[m->validator_index];
            if (pair_has(&v->kind[kind_of(m->vote.type)], m->vote.block_id)) {
                return CS_DROP_DUPLICATE;
            }
        }
    } else if (future_has(r, m)) {
        return CS_DROP_DUPLICATE;
    }
    if (cs_msg_verify(m, &r->config.signer, &r->config.validators.keys[m->validator_index]) !=
        HM_OK) {
        return CS_DROP_BAD_SIG;
    }
    return CS_DROP_NONE;
}

static void on_message(cs_replica *r, const uint8_t *data, size_t len, cs_actions *out) {
    cs_msg m;
    cs_drop_reason drop = check_message(r, data, len, &m);
    if (drop == CS_DROP_NONE) {
        uint64_t h = m.type == CS_MSG_PROPOSAL ? m.proposal.height : m.vote.height;
        if (h == r->height) {
            process_stored(r, &m, out, &drop);
        } else if (!future_hold(r, &m)) {
            drop = CS_DROP_FUTURE_HEIGHT;
        }
    }
    r->drops[drop]++;
    out->drop = drop;
}

/* ------------------------------------------------------------- gossip */

/* Re-broadcasts what is held for one round: the proposal and, when kinds
 * has them, prevotes (1) and precommits (2). Validators are visited from a
 * rotating offset so that, when the action budget truncates a large set,
 * successive calls still cover everyone. */
static void regossip_round(cs_replica *r, round_state *rs, unsigned kinds, cs_actions *out) {
    if (rs == NULL) {
        return;
    }
    cs_msg m;
    memset(&m, 0, sizeof m);
    memcpy(m.chain_id, r->config.chain_id, sizeof m.chain_id);
    if (rs->has_proposal && actions_free(out) > 8) {
        m.type = CS_MSG_PROPOSAL;
        m.validator_index = cs_proposer_index(r->n, r->height, (uint32_t)rs->round);
        m.proposal = rs->proposal;
        m.sig = rs->proposal_sig;
        broadcast(&m, out);
    }
    const vote_slot *v = slot_votes(r, rs);
    m.type = CS_MSG_VOTE;
    for (uint32_t step = 0; step < r->n; step++) {
        uint32_t i = (step + r->gossip_offset) % r->n;
        for (int k = PV; k <= PC; k++) {
            if (!(kinds & (k == PV ? 1u : 2u))) {
                continue;
            }
            const vote_pair *p = &v[i].kind[k];
            for (uint32_t j = 0; j < p->count && actions_free(out) > 8; j++) {
                m.validator_index = i;
                m.vote.type = k == PV ? HM_VOTE_PREVOTE : HM_VOTE_PRECOMMIT;
                m.vote.height = r->height;
                m.vote.round = (uint32_t)rs->round;
                memcpy(m.vote.block_id, p->id[j], HM_HASH_LEN);
                m.sig = p->sig[j];
                broadcast(&m, out);
            }
        }
    }
}

/* Gossip only when stuck: a replica that moved since the last call has
 * nothing to repair, and stays quiet. What a peer behind us needs is this
 * round, the precommits of the previous one (which moved us on) and the
 * proof-of-lock of our valid round. */
static void gossip(cs_replica *r, cs_actions *out) {
    if (r->gossip_height != r->height || r->gossip_round != r->round || r->gossip_step != r->step) {
        r->gossip_height = r->height;
        r->gossip_round = r->round;
        r->gossip_step = r->step;
        return;
    }
    r->gossip_offset++;
    regossip_round(r, round_find(r, r->round), 3u, out);
    if (r->round > 0) {
        regossip_round(r, round_find(r, r->round - 1), 2u, out);
    }
    if (r->valid_round >= 0 && (uint32_t)r->valid_round != r->round) {
        regossip_round(r, round_find(r, (uint32_t)r->valid_round), 1u, out);
    }
}

/* After a restart inside the round we last signed in: the vote recorded in
 * the sign-state may never have left (the crash can fall between the persist
 * and the send), so it is sent again (the same vote, no conflict), and the
 * replica resumes at the step it had reached, since it could sign nothing
 * else before it anyway. */
static void resume_signed(cs_replica *r, cs_actions *out) {
    const cs_sign_state *ss = &r->sign_state;
    if (ss->height != r->height || ss->round != r->round || ss->step == CS_STEP_PROPOSE ||
        r->config.self_index < 0) {
        return;
    }
    cast_vote(r, ss->step == CS_STEP_PREVOTE ? HM_VOTE_PREVOTE : HM_VOTE_PRECOMMIT, ss->block_id,
              out);
    if (r->step < ss->step) {
        r->step = ss->step;
    }
}

/* ------------------------------------------------------------- public API */

hm_err cs_replica_init(cs_replica *r, const cs_config *config, uint64_t height,
                       const cs_sign_state *recovered) {
    if (r == NULL || config == NULL || height == 0 || config->validators.count == 0 ||
        config->validators.count > HM_VALIDATORS_MAX || config->self_index < -1 ||
        config->self_index >= (int32_t)config->validators.count || config->signer.verify == NULL ||
        (config->self_index >= 0 && config->signer.sign == NULL) ||
        memchr(config->chain_id, 0, sizeof config->chain_id) == NULL) {
        return HM_ERR_ARG;
    }
    /* The same rules as cs_sign_state_decode: a record the replica could
     * never have written would make the signing gate meaningless. */
    if (recovered != NULL &&
        (recovered->step > CS_STEP_PRECOMMIT ||
         (recovered->height == 0) != (recovered->step == 0) || recovered->round > CS_ROUND_MAX ||
         recovered->locked_round < -1 ||
         (recovered->locked_round >= 0 && (uint32_t)recovered->locked_round > recovered->round))) {
        return HM_ERR_ARG;
    }
    memset(r, 0, cs_replica_size(config));
    r->config = *config;
    r->n = config->validators.count;
    r->quorum = hm_validator_set_quorum(&config->validators);
    r->f_plus1 = r->n - r->quorum + 1;
    reset_height(r, height);
    if (recovered != NULL) {
        r->sign_state = *recovered;
        if (recovered->height == height) {
            /* Rounds before the recorded one are over for us; the lock we
             * held when we last signed is still binding. */
            r->round = recovered->round;
            if (recovered->locked_round >= 0) {
                r->locked_round = recovered->locked_round;
                memcpy(r->locked_id, recovered->locked_block_id, HM_HASH_LEN);
                r->valid_round = recovered->locked_round;
                memcpy(r->valid_id, recovered->locked_block_id, HM_HASH_LEN);
            }
        }
    }
    assert(r->quorum > r->n / 2 && r->f_plus1 >= 1);
    return HM_OK;
}

hm_err cs_replica_step(cs_replica *r, const cs_event *ev, cs_actions *out) {
    if (r == NULL || ev == NULL || out == NULL) {
        return HM_ERR_ARG;
    }
    out->count = 0;
    out->has_commit = false;
    out->drop = CS_DROP_NONE;
    switch (ev->type) {
    case CS_EV_START:
        start_round(r, r->round, out);
        resume_signed(r, out);
        break;
    case CS_EV_MESSAGE:
        if (ev->data == NULL && ev->data_len > 0) {
            return HM_ERR_ARG;
        }
        on_message(r, ev->data, ev->data_len, out);
        break;
    case CS_EV_TIMEOUT:
        if (ev->height != r->height || ev->round != r->round) {
            break; /* a timeout of a round already left */
        }
        if (ev->step == CS_STEP_PROPOSE && r->step == CS_STEP_PROPOSE) { /* L57 */
            cast_vote(r, HM_VOTE_PREVOTE, NIL_ID, out);
            r->step = CS_STEP_PREVOTE;
        } else if (ev->step == CS_STEP_PREVOTE && r->step == CS_STEP_PREVOTE) { /* L61 */
            cast_vote(r, HM_VOTE_PRECOMMIT, NIL_ID, out);
            r->step = CS_STEP_PRECOMMIT;
        } else if (ev->step == CS_STEP_PRECOMMIT) { /* L65 */
            if (r->round >= CS_ROUND_MAX) {
                break;
            }
            start_round(r, r->round + 1, out);
        }
        break;
    case CS_EV_BLOCK_BUILT: {
        round_state *rs = round_find(r, r->round);
        if (ev->height == r->height && ev->round == r->round && r->step == CS_STEP_PROPOSE &&
            self_is_proposer(r) && !id_is_nil(ev->block_id) && (rs == NULL || !rs->has_proposal)) {
            send_proposal(r, ev->block_id, -1, out);
        }
        break;
    }
    case CS_EV_BLOCK_VALIDATED:
        if (ev->height == r->height) {
            for (uint32_t i = 0; i < CS_ROUND_WINDOW; i++) {
                round_state *rs = &r->rounds[i];
                if (rs->round >= 0 && rs->has_proposal && rs->status == BLK_PENDING &&
                    id_eq(rs->proposal.block_id, ev->block_id)) {
                    rs->status = ev->valid ? BLK_VALID : BLK_INVALID;
                }
            }
        }
        break;
    case CS_EV_DECIDED_ELSEWHERE:
        if (ev->cert == NULL || ev->cert->height == UINT64_MAX) {
            return HM_ERR_ARG;
        }
        if (ev->cert->height >= r->height) {
            reset_height(r, ev->cert->height + 1);
            start_round(r, 0, out);
            replay_future(r, out);
        }
        break;
    case CS_EV_GOSSIP:
        gossip(r, out);
        break;
    default:
        return HM_ERR_ARG;
    }
    replay_future(r, out);
    progress(r, out);
    return HM_OK;
}

uint64_t cs_replica_height(const cs_replica *r) {
    return r->height;
}

uint32_t cs_replica_round(const cs_replica *r) {
    return r->round;
}

cs_step cs_replica_step_kind(const cs_replica *r) {
    return (cs_step)r->step;
}

bool cs_replica_is_proposer(const cs_replica *r, uint64_t height, uint32_t round,
                            uint32_t validator_index) {
    return cs_proposer_index(r->n, height, round) == validator_index;
}

void cs_replica_sign_state(const cs_replica *r, cs_sign_state *out) {
    *out = r->sign_state;
}

uint64_t cs_replica_drop_count(const cs_replica *r, cs_drop_reason reason) {
    return (unsigned)reason < CS_DROP__COUNT ? r->drops[reason] : 0;
}

uint64_t cs_replica_sign_refusals(const cs_replica *r) {
    return r->sign_refusals;
}

uint32_t cs_replica_evidence_count(const cs_replica *r) {
    return r->evidence_count;
}

const cs_evidence *cs_replica_evidence(const cs_replica *r, uint32_t i) {
    return i < r->evidence_count ? &r->evidence[i] : NULL;
}

uint64_t cs_replica_evidence_total(const cs_replica *r) {
    return r->evidence_total;
}

#ifdef CS_TEST_MUTANTS
void cs_replica_set_mutant(cs_replica *r, cs_mutant mutant) {
    r->mutant = (int)mutant;
}

void cs_replica_debug(const cs_replica *r, char *out, size_t out_cap) {
    size_t len = 0;
    int k = snprintf(out, out_cap, "h=%llu r=%u step=%u locked=%d/%02x valid=%d/%02x future=%u |",
                     (unsigned long long)r->height, r->round, r->step, r->locked_round,
                     r->locked_id[0], r->valid_round, r->valid_id[0], r->future_count);
    for (uint32_t i = 0; i < CS_ROUND_WINDOW && k > 0 && (len += (size_t)k) < out_cap; i++) {
        const round_state *rs = &r->rounds[i];
        k = 0;
        if (rs->round < 0) {
            continue;
        }
        cs_replica *m = (cs_replica *)(uintptr_t)r;
        round_state *mrs = &m->rounds[i];
        k = snprintf(out + len, out_cap - len, " r%lld:p=%02x/%d/%u pv=%u pc=%u",
                     (long long)rs->round, rs->has_proposal ? rs->proposal.block_id[0] : 0,
                     rs->has_proposal ? rs->proposal.pol_round : -2, rs->status,
                     count_votes(m, mrs, HM_VOTE_PREVOTE, NULL),
                     count_votes(m, mrs, HM_VOTE_PRECOMMIT, NULL));
    }
}
#endif
