/* consensus/cs.h — the whole public surface of Hallmark's consensus core.
 *
 * Layer: above lib/, below node/. One validator's Tendermint state machine
 * (Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus", Algorithm
 * 1) as a pure function of its state and the events it is fed: proposals,
 * votes, expired timeouts, answers to "build a block" and "validate this
 * block". It answers with actions the embedder carries out in order:
 * persist the sign-state, broadcast a message, schedule a timeout, build or
 * validate a block, commit a block with its certificate.
 *
 * Never: sockets, files, clocks, threads, random numbers, floating point,
 * hidden allocation. The caller allocates the replica (cs_replica_size) and
 * the action buffer; the same state and event give the same actions on every
 * machine, which is what lets tests/sim replay any execution from a seed.
 *
 * Blocks are opaque here: consensus deals in block ids (hm_block_header_hash
 * of the header the embedder builds). The embedder ships block bytes beside
 * the proposal message and answers validation requests once it has executed
 * them. docs/consensus.md describes the protocol, the wire formats and the
 * safety argument. */
#ifndef HALLMARK_CS_H
#define HALLMARK_CS_H

#include "hm.h"

/* ------------------------------------------------------------- limits */

/* Slots for the rounds of the current height whose votes and proposals are
 * kept: always the current round, a few before and after it, the locked and
 * valid rounds and the proof-of-lock rounds proposals name; other rounds
 * only while a slot is spare. Messages of past rounds no one needs are
 * dropped (and counted). */
#define CS_ROUND_WINDOW 16
/* Messages of the next height held until this height decides. When full,
 * a validator holding more than its share gives up its latest one. */
#define CS_FUTURE_MSGS_MAX 64
/* Equivocation evidence kept, one piece per validator; more is counted, not
 * stored. */
#define CS_EVIDENCE_MAX 16
/* Largest encoded consensus message (a proposal with the longest chain id). */
#define CS_MSG_MAX 256
/* Actions one cs_replica_step can emit. The replica never exceeds it. */
#define CS_ACTIONS_MAX 64
/* Rounds are bounded so that round arithmetic never overflows. */
#define CS_ROUND_MAX 1000000u

/* ------------------------------------------------------------- steps */

/* Also the order of the sign-state: within a (height, round) a replica signs
 * at most one proposal, then one prevote, then one precommit. */
typedef enum {
    CS_STEP_PROPOSE = 1,
    CS_STEP_PREVOTE = 2,
    CS_STEP_PRECOMMIT = 3,
} cs_step;

/* ------------------------------------------------------------- signer
 *
 * Everything the replica signs or verifies goes through this interface, so a
 * node plugs real BIP340 (hm_sign / hm_verify, which bind purpose and chain
 * id) and the simulator a cheap stand-in for its bulk seeds. purpose is
 * HM_PURPOSE_VOTE or HM_PURPOSE_PROPOSAL; msg is the canonical signed body.
 * sign uses the key of the replica's own validator index. Both return HM_OK
 * or an error (verify: HM_ERR_BAD_SIG / HM_ERR_BAD_KEY). */
typedef struct {
    void *ctx;
    hm_err (*sign)(void *ctx, const char *purpose, const char *chain_id, const uint8_t *msg,
                   size_t msg_len, hm_sig *sig);
    hm_err (*verify)(void *ctx, const hm_pubkey *pub, const char *purpose, const char *chain_id,
                     const uint8_t *msg, size_t msg_len, const hm_sig *sig);
} cs_signer;

/* A signer over hm_sign / hm_verify with one keypair (borrowed; it must
 * outlive the signer). verify needs no key. */
void cs_signer_bip340(cs_signer *s, const hm_keypair *kp);

/* ------------------------------------------------------------- config */

typedef struct {
    char chain_id[HM_CHAIN_ID_MAX + 1];
    hm_validator_set validators; /* index order = proposer rotation */
    int32_t self_index;          /* own validator index, -1 for an observer */
    cs_signer signer;
    /* Timeout of a step in round r = base + r * delta. */
    uint32_t timeout_propose_ms;
    uint32_t timeout_propose_delta_ms;
    uint32_t timeout_prevote_ms;
    uint32_t timeout_prevote_delta_ms;
    uint32_t timeout_precommit_ms;
    uint32_t timeout_precommit_delta_ms;
} cs_config;

/* Fills in defaults (1000+500r propose, 500+250r prevote and precommit);
 * the caller sets chain id, validators, self_index and signer. */
void cs_config_default(cs_config *c);

/* ------------------------------------------------------------- sign-state
 *
 * The last message this validator signed, and the lock it held when it
 * signed. The embedder persists it durably (PERSIST_SIGN_STATE) before any
 * action that follows it in the same batch, and gives it back on restart.
 * A replica never signs at a (height, round, step) at or below the recorded
 * one, except the very same vote again. */
typedef struct {
    uint64_t height; /* 0: nothing signed yet */
    uint32_t round;
    uint8_t step; /* cs_step */
    uint8_t block_id[HM_HASH_LEN];
    int32_t locked_round; /* -1: not locked */
    uint8_t locked_block_id[HM_HASH_LEN];
} cs_sign_state;

#define CS_SIGN_STATE_ENCODED_LEN (8 + 4 + 1 + 32 + 4 + 32)
/* Fixed-size big-endian record for the embedder's store. */
void cs_sign_state_encode(const cs_sign_state *s, uint8_t out[CS_SIGN_STATE_ENCODED_LEN]);
HM_MUST_USE hm_err cs_sign_state_decode(const uint8_t *data, size_t data_len, cs_sign_state *s);

/* ------------------------------------------------------------- messages
 *
 *   proposal = u8 1 | str chain_id | varint proposer | varint height
 *              | varint round | varint pol_round+1 (0 = none) | block_id(32) | sig(64)
 *   vote     = u8 2 | str chain_id | varint validator | hm_vote_body | sig(64)
 *
 * Proposal signature: HM_PURPOSE_PROPOSAL over varint height | varint round
 * | varint pol_round+1 | block_id. Vote signature: HM_PURPOSE_VOTE over the
 * encoded hm_vote_body, so precommits go straight into an hm_cert. */
typedef enum { CS_MSG_PROPOSAL = 1, CS_MSG_VOTE = 2 } cs_msg_type;

typedef struct {
    uint64_t height;
    uint32_t round;
    int32_t pol_round; /* valid round, -1 for none */
    uint8_t block_id[HM_HASH_LEN];
} cs_proposal_body;

typedef struct {
    uint8_t type; /* cs_msg_type */
    char chain_id[HM_CHAIN_ID_MAX + 1];
    uint32_t validator_index;
    cs_proposal_body proposal; /* when type == CS_MSG_PROPOSAL */
    hm_vote_body vote;         /* when type == CS_MSG_VOTE */
    hm_sig sig;
} cs_msg;

/* The bytes a proposal signature covers (at most 64). */
HM_MUST_USE hm_err cs_proposal_body_encode(const cs_proposal_body *p, hm_writer *w);
HM_MUST_USE hm_err cs_msg_encode(const cs_msg *m, uint8_t out[CS_MSG_MAX], size_t *out_len);
/* Decodes one message exactly (no trailing bytes). Checks form only: not
 * the chain, the validator or the signature. */
HM_MUST_USE hm_err cs_msg_decode(const uint8_t *data, size_t data_len, cs_msg *m);
/* Signs m (its body and chain id set) with the signer, filling m->sig. */
HM_MUST_USE hm_err cs_msg_sign(cs_msg *m, const cs_signer *signer);
/* HM_OK if m->sig verifies for validator pub. */
HM_MUST_USE hm_err cs_msg_verify(const cs_msg *m, const cs_signer *signer, const hm_pubkey *pub);

/* hm_cert_verify's rules with signatures checked through signer, so the
 * simulator's stand-in signatures can be checked too. */
HM_MUST_USE hm_err cs_cert_verify(const hm_cert *c, const char *chain_id,
                                  const hm_validator_set *vs, const cs_signer *signer);

/* ------------------------------------------------------------- events */

typedef enum {
    /* First event after init: starts the round (schedules, maybe builds). */
    CS_EV_START = 1,
    /* An encoded cs_msg from the network (untrusted). */
    CS_EV_MESSAGE,
    /* A timeout scheduled by SCHEDULE_TIMEOUT expired. */
    CS_EV_TIMEOUT,
    /* Answer to BUILD_BLOCK: the block id of the block built. */
    CS_EV_BLOCK_BUILT,
    /* Answer to VALIDATE_BLOCK. */
    CS_EV_BLOCK_VALIDATED,
    /* Height `cert.height` was decided elsewhere (the embedder fetched the
     * block and verified the certificate): move to the next height. The
     * certificate is not checked here (HM_ERR_ARG only for a height with no
     * next one); one for a height below the replica's is ignored. */
    CS_EV_DECIDED_ELSEWHERE,
    /* Periodic nudge (every second or so): if the replica has not moved
     * since the previous one, it re-broadcasts what it holds for its round,
     * the precommits of the round before and its proof-of-lock, so that
     * peers that lost messages or restarted catch up inside the height. */
    CS_EV_GOSSIP,
} cs_event_type;

typedef struct {
    uint8_t type; /* cs_event_type */
    /* CS_EV_MESSAGE: borrowed for the call. */
    const uint8_t *data;
    size_t data_len;
    /* CS_EV_TIMEOUT, CS_EV_BLOCK_BUILT, CS_EV_BLOCK_VALIDATED. */
    uint64_t height;
    uint32_t round;
    uint8_t step; /* CS_EV_TIMEOUT: cs_step */
    uint8_t block_id[HM_HASH_LEN];
    bool valid; /* CS_EV_BLOCK_VALIDATED */
    /* CS_EV_DECIDED_ELSEWHERE: borrowed for the call. */
    const hm_cert *cert;
} cs_event;

/* ------------------------------------------------------------- actions
 *
 * Carried out in order. Every action that follows a PERSIST_SIGN_STATE in
 * the same batch must wait until that sign-state is durable: the replica
 * relies on it never to sign twice after a crash. */
typedef enum {
    CS_ACT_PERSIST_SIGN_STATE = 1,
    CS_ACT_BROADCAST,
    CS_ACT_SCHEDULE_TIMEOUT,
    CS_ACT_BUILD_BLOCK,
    CS_ACT_VALIDATE_BLOCK,
    CS_ACT_COMMIT,
} cs_action_type;

typedef struct {
    uint8_t type; /* cs_action_type */
    /* PERSIST_SIGN_STATE */
    cs_sign_state sign_state;
    /* BROADCAST: an encoded cs_msg. For a proposal, block_id says which
     * block's bytes to ship with it. */
    uint8_t msg_type; /* cs_msg_type */
    uint8_t msg[CS_MSG_MAX];
    size_t msg_len;
    /* SCHEDULE_TIMEOUT (height, round, step, duration_ms), BUILD_BLOCK
     * (height, round), VALIDATE_BLOCK (height, round, block_id), COMMIT
     * (height, block_id; the certificate is cs_actions.cert). */
    uint64_t height;
    uint32_t round;
    uint8_t step;
    uint32_t duration_ms;
    uint8_t block_id[HM_HASH_LEN];
} cs_action;

/* Why an incoming message was not used. Each is counted by the replica. */
typedef enum {
    CS_DROP_NONE = 0,
    CS_DROP_MALFORMED,         /* does not decode */
    CS_DROP_CHAIN_ID,          /* another chain */
    CS_DROP_UNKNOWN_VALIDATOR, /* index outside the validator set */
    CS_DROP_BAD_SIG,           /* signature does not verify */
    CS_DROP_STALE_HEIGHT,      /* below the current height */
    CS_DROP_FUTURE_HEIGHT,     /* beyond the next height, or next-height buffer full */
    CS_DROP_ROUND_WINDOW,      /* round outside the kept window */
    CS_DROP_NOT_PROPOSER,      /* proposal from a validator not proposer of its round */
    CS_DROP_DUPLICATE,         /* already have it */
    CS_DROP_EQUIVOCATION,      /* conflicts with a message already held (evidence kept) */
    CS_DROP_BAD_VALUE,         /* a value outside its domain (pol_round >= round, nil proposal) */
    CS_DROP__COUNT
} cs_drop_reason;

const char *cs_drop_reason_name(cs_drop_reason reason);

typedef struct {
    uint32_t count;
    cs_action items[CS_ACTIONS_MAX];
    /* The certificate of the COMMIT action (at most one per step). */
    bool has_commit;
    hm_cert cert;
    /* For CS_EV_MESSAGE: CS_DROP_NONE if used, else why it was dropped. */
    cs_drop_reason drop;
} cs_actions;

/* ------------------------------------------------------------- evidence */

/* Two signed votes of one validator for the same (height, round, type) and
 * different block ids. Either vote verifies alone against the validator's
 * key with HM_PURPOSE_VOTE over hm_vote_body. */
typedef struct {
    uint32_t validator_index;
    hm_vote_body vote_a;
    hm_sig sig_a;
    hm_vote_body vote_b;
    hm_sig sig_b;
} cs_evidence;

/* ------------------------------------------------------------- replica */

typedef struct cs_replica cs_replica;

/* Bytes the caller must provide for a replica with this config (depends on
 * the validator count). */
size_t cs_replica_size(const cs_config *config);

/* Initialises a replica in mem (cs_replica_size bytes, suitably aligned:
 * malloc'd or max_align_t) to decide `height` (last committed + 1, >= 1).
 * recovered is the persisted sign-state, or NULL when nothing was ever
 * signed. If it is of this height, the replica restores its lock, starts in
 * the recorded round at the recorded step and, on CS_EV_START, sends the
 * recorded vote again (it may never have left before the crash). config is
 * copied. HM_ERR_ARG for a bad config (no validators, self_index out of
 * range, missing signer) or a recovered sign-state cs_sign_state_decode
 * would refuse. Feed CS_EV_START next, then the consensus messages
 * of this height the embedder logged before the restart (as CS_EV_MESSAGE),
 * so the replica holds again the votes behind its lock. */
HM_MUST_USE hm_err cs_replica_init(cs_replica *r, const cs_config *config, uint64_t height,
                                   const cs_sign_state *recovered);

/* Feeds one event; resets *out and writes the actions to carry out, in
 * order. HM_ERR_ARG for a malformed event (unknown type, missing data). A
 * bad message from the network is not an error: it is dropped, counted, and
 * out->drop says why. */
HM_MUST_USE hm_err cs_replica_step(cs_replica *r, const cs_event *event, cs_actions *out);

/* Current position. */
uint64_t cs_replica_height(const cs_replica *r);
uint32_t cs_replica_round(const cs_replica *r);
cs_step cs_replica_step_kind(const cs_replica *r);
/* Whether validator self is the proposer of (height, round): round-robin
 * over the validator set from index (height + round) mod n. */
bool cs_replica_is_proposer(const cs_replica *r, uint64_t height, uint32_t round,
                            uint32_t validator_index);
uint32_t cs_proposer_index(uint32_t validator_count, uint64_t height, uint32_t round);
/* The sign-state the replica holds now (what was last handed to persist). */
void cs_replica_sign_state(const cs_replica *r, cs_sign_state *out);

/* Drop counters, by reason (index CS_DROP_NONE counts messages used). */
uint64_t cs_replica_drop_count(const cs_replica *r, cs_drop_reason reason);
/* Signatures refused because they would conflict with the sign-state. */
uint64_t cs_replica_sign_refusals(const cs_replica *r);
/* Evidence found so far (at most CS_EVIDENCE_MAX kept) and the total seen. */
uint32_t cs_replica_evidence_count(const cs_replica *r);
const cs_evidence *cs_replica_evidence(const cs_replica *r, uint32_t i);
uint64_t cs_replica_evidence_total(const cs_replica *r);

/* ------------------------------------------------------------- test only */

#ifdef CS_TEST_MUTANTS
/* Deliberately broken variants, so the simulator can show it catches them. */
typedef enum {
    CS_MUTANT_NONE = 0,
    CS_MUTANT_NO_LOCKING = 1,          /* L22/L28 ignore the lock */
    CS_MUTANT_SEND_BEFORE_PERSIST = 2, /* BROADCAST ahead of its PERSIST_SIGN_STATE */
} cs_mutant;
void cs_replica_set_mutant(cs_replica *r, cs_mutant mutant);
/* One line describing the replica's position, lock and rounds held. */
void cs_replica_debug(const cs_replica *r, char *out, size_t out_cap);
#endif

#endif
