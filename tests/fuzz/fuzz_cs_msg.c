/* tests/fuzz/fuzz_cs_msg.c — libFuzzer target for consensus' wire formats
 * and for the replica's handling of whatever a peer may send.
 *
 * The first byte picks the mode, the rest is its input:
 *   0  cs_msg_decode: any bytes are accepted or refused, never crash; a
 *      message that decodes encodes back to the very same bytes (one byte
 *      string per message, so signatures and duplicates compare as bytes);
 *   1  cs_sign_state_decode: the same for the 81-byte sign-state record;
 *   2  a replica (4 validators, validator 0, a signer that accepts every
 *      signature so that crafted messages get past the signature check) fed
 *      a script of events built from the input: messages of any height,
 *      round, type, validator and block, timeouts, block answers, gossip,
 *      decisions elsewhere. cs_replica_step must never fail on them nor
 *      trip an assertion, and every sign-state it hands out to persist must
 *      lie strictly after the previous one (the replica never signs twice at
 *      one position), ahead of the broadcast it covers.
 * Layer: tests/, over consensus/ and lib/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_msg(const uint8_t *data, size_t size) {
    cs_msg m;
    if (cs_msg_decode(data, size, &m) != HM_OK)
        return;
    uint8_t out[CS_MSG_MAX];
    size_t len = 0;
    check(cs_msg_encode(&m, out, &len) == HM_OK);
    check(len == size && memcmp(out, data, size) == 0);
}

static void fuzz_sign_state(const uint8_t *data, size_t size) {
    cs_sign_state s;
    if (cs_sign_state_decode(data, size, &s) != HM_OK)
        return;
    uint8_t out[CS_SIGN_STATE_ENCODED_LEN];
    cs_sign_state_encode(&s, out);
    check(size == CS_SIGN_STATE_ENCODED_LEN && memcmp(out, data, size) == 0);
}

/* ------------------------------------------------------------- replica */

static hm_err any_sign(void *ctx, const char *purpose, const char *chain_id, const uint8_t *msg,
                       size_t msg_len, hm_sig *sig) {
    (void)ctx;
    (void)purpose;
    (void)chain_id;
    (void)msg;
    (void)msg_len;
    memset(sig->bytes, 0x5a, HM_SIG_LEN);
    return HM_OK;
}

static hm_err any_verify(void *ctx, const hm_pubkey *pub, const char *purpose, const char *chain_id,
                         const uint8_t *msg, size_t msg_len, const hm_sig *sig) {
    (void)ctx;
    (void)pub;
    (void)purpose;
    (void)chain_id;
    (void)msg;
    (void)msg_len;
    /* Byte 0 of the signature decides, so the fuzzer can also send bad ones. */
    return sig->bytes[0] == 0xff ? HM_ERR_BAD_SIG : HM_OK;
}

typedef struct {
    const uint8_t *p;
    size_t left;
} script;

static uint8_t take(script *s) {
    if (s->left == 0)
        return 0;
    s->left--;
    return *s->p++;
}

static int cmp_pos(const cs_sign_state *a, const cs_sign_state *b) {
    if (a->height != b->height)
        return a->height < b->height ? -1 : 1;
    if (a->round != b->round)
        return a->round < b->round ? -1 : 1;
    if (a->step != b->step)
        return a->step < b->step ? -1 : 1;
    return 0;
}

/* A round from one byte: mostly small, sometimes far. */
static uint32_t pick_round(uint8_t b) {
    if (b < 200)
        return b % 24;
    return (uint32_t)(b - 200) * 19000u;
}

static void fuzz_replica(const uint8_t *data, size_t size) {
    enum { N = 4 };
    static cs_actions out;
    cs_config c;
    cs_config_default(&c);
    strcpy(c.chain_id, "fuzz");
    c.validators.count = N;
    for (uint32_t i = 0; i < N; i++)
        memset(c.validators.keys[i].bytes, (int)(i + 1), HM_PUBKEY_LEN);
    c.self_index = 0;
    c.signer.sign = any_sign;
    c.signer.verify = any_verify;
    cs_replica *r = malloc(cs_replica_size(&c));
    if (r == NULL)
        return;
    script s = {data, size};
    /* The first bytes may give a recovered sign-state. */
    cs_sign_state rec;
    bool has_rec = false;
    if (take(&s) & 1) {
        memset(&rec, 0, sizeof rec);
        rec.height = 1 + take(&s) % 3;
        rec.round = take(&s) % 8;
        rec.step = (uint8_t)(1 + take(&s) % 3);
        memset(rec.block_id, take(&s) % 4, HM_HASH_LEN);
        rec.locked_round = (int32_t)(take(&s) % 10) - 1;
        if (rec.locked_round > (int32_t)rec.round)
            rec.locked_round = -1;
        memset(rec.locked_block_id, rec.locked_round >= 0 ? 1 + take(&s) % 3 : 0, HM_HASH_LEN);
        has_rec = true;
    }
    check(cs_replica_init(r, &c, 1 + take(&s) % 2, has_rec ? &rec : NULL) == HM_OK);
    cs_sign_state last;
    bool has_last = has_rec;
    if (has_rec)
        last = rec;
    hm_cert cert;
    for (uint32_t steps = 0; steps < 4096; steps++) {
        cs_event ev;
        memset(&ev, 0, sizeof ev);
        uint8_t msg[CS_MSG_MAX];
        uint8_t kind = steps == 0 ? 0 : take(&s);
        if (steps > 0 && s.left == 0)
            break;
        uint64_t h = cs_replica_height(r);
        switch (kind % 8) {
        case 0:
            ev.type = CS_EV_START;
            break;
        case 1:
        case 2:
        case 3: { /* a message, mostly for the replica's height */
            cs_msg m;
            memset(&m, 0, sizeof m);
            uint8_t a = take(&s), b = take(&s), d = take(&s);
            m.type = (a & 1) ? CS_MSG_PROPOSAL : CS_MSG_VOTE;
            strcpy(m.chain_id, (a & 0x80) ? "other" : "fuzz");
            m.validator_index = (a >> 1) % (N + 1);
            uint64_t mh = h + (uint64_t)((a >> 4) & 3) - 1;
            uint32_t rnd = pick_round(b);
            uint8_t id = d % 4; /* 0 is nil */
            if (m.type == CS_MSG_PROPOSAL) {
                m.proposal.height = mh;
                m.proposal.round = rnd;
                m.proposal.pol_round = (int32_t)((d >> 2) % 6) - 1;
                memset(m.proposal.block_id, id, HM_HASH_LEN);
            } else {
                m.vote.type = (d & 0x80) ? HM_VOTE_PRECOMMIT : HM_VOTE_PREVOTE;
                m.vote.height = mh;
                m.vote.round = rnd;
                memset(m.vote.block_id, id, HM_HASH_LEN);
            }
            memset(m.sig.bytes, (d & 0x40) && (d & 0x20) ? 0xff : 0x11, HM_SIG_LEN);
            size_t len = 0;
            if (cs_msg_encode(&m, msg, &len) != HM_OK)
                continue;
            ev.type = CS_EV_MESSAGE;
            ev.data = msg;
            ev.data_len = len;
            break;
        }
        case 4: {
            uint8_t a = take(&s);
            ev.type = CS_EV_TIMEOUT;
            ev.height = h;
            ev.round = (a & 0x80) ? cs_replica_round(r) : pick_round(take(&s));
            ev.step = (uint8_t)(1 + a % 3);
            break;
        }
        case 5: {
            uint8_t a = take(&s);
            ev.type = (a & 1) ? CS_EV_BLOCK_BUILT : CS_EV_BLOCK_VALIDATED;
            ev.height = h;
            ev.round = cs_replica_round(r);
            ev.valid = (a & 2) != 0;
            memset(ev.block_id, (a >> 2) % 4, HM_HASH_LEN);
            break;
        }
        case 6:
            ev.type = CS_EV_GOSSIP;
            break;
        default: {
            memset(&cert, 0, sizeof cert);
            cert.height = h - 1 + take(&s) % 3;
            memset(cert.block_id, 1, HM_HASH_LEN);
            ev.type = CS_EV_DECIDED_ELSEWHERE;
            ev.cert = &cert;
            break;
        }
        }
        check(cs_replica_step(r, &ev, &out) == HM_OK);
        check(out.count <= CS_ACTIONS_MAX);
        bool pending_persist = false;
        for (uint32_t i = 0; i < out.count; i++) {
            const cs_action *a = &out.items[i];
            if (a->type == CS_ACT_PERSIST_SIGN_STATE) {
                check(!has_last || cmp_pos(&last, &a->sign_state) < 0);
                last = a->sign_state;
                has_last = true;
                pending_persist = true;
            } else if (a->type == CS_ACT_BROADCAST && pending_persist) {
                /* The broadcast right after a persist is the message it covers. */
                cs_msg m;
                check(cs_msg_decode(a->msg, a->msg_len, &m) == HM_OK);
                check(m.validator_index == 0);
                pending_persist = false;
            }
            check(a->type != CS_ACT_COMMIT || out.has_commit);
        }
        check(!pending_persist);
    }
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t which;
    if (!fuzz_take_selector(&data, &size, &which))
        return 0;
    switch (which % 3) {
    case 0:
        fuzz_msg(data, size);
        break;
    case 1:
        fuzz_sign_state(data, size);
        break;
    default:
        fuzz_replica(data, size);
        break;
    }
    return 0;
}
