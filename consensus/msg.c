/* consensus/msg.c — wire encoding of consensus messages, the sign-state
 * record, the BIP340 signer and certificate checking through a signer.
 *
 * Layer: consensus/, over lib/'s canonical encoding. Decoders take bytes
 * from the network: they check form strictly (exact length, known tags,
 * bounded lengths) and never assert on input. Never: I/O, clocks, random
 * numbers, allocation. */
#include "cs.h"

#include <assert.h>
#include <string.h>

/* ------------------------------------------------------------- signer */

static hm_err bip340_sign(void *ctx, const char *purpose, const char *chain_id, const uint8_t *msg,
                          size_t msg_len, hm_sig *sig) {
    const hm_keypair *kp = ctx;
    return hm_sign(kp, purpose, chain_id, msg, msg_len, sig);
}

static hm_err bip340_verify(void *ctx, const hm_pubkey *pub, const char *purpose,
                            const char *chain_id, const uint8_t *msg, size_t msg_len,
                            const hm_sig *sig) {
    (void)ctx;
    return hm_verify(pub, purpose, chain_id, msg, msg_len, sig);
}

void cs_signer_bip340(cs_signer *s, const hm_keypair *kp) {
    assert(s != NULL);
    s->ctx = (void *)(uintptr_t)kp; /* the signer only reads the keypair */
    s->sign = bip340_sign;
    s->verify = bip340_verify;
}

/* ------------------------------------------------------------- sign-state */

static void put_be(uint8_t *out, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *in, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

void cs_sign_state_encode(const cs_sign_state *s, uint8_t out[CS_SIGN_STATE_ENCODED_LEN]) {
    assert(s != NULL && out != NULL);
    put_be(out, s->height, 8);
    put_be(out + 8, s->round, 4);
    out[12] = s->step;
    memcpy(out + 13, s->block_id, HM_HASH_LEN);
    put_be(out + 45, (uint32_t)s->locked_round, 4);
    memcpy(out + 49, s->locked_block_id, HM_HASH_LEN);
}

hm_err cs_sign_state_decode(const uint8_t *data, size_t data_len, cs_sign_state *s) {
    if (data == NULL || s == NULL) {
        return HM_ERR_ARG;
    }
    if (data_len < CS_SIGN_STATE_ENCODED_LEN) {
        return HM_ERR_TRUNCATED;
    }
    if (data_len > CS_SIGN_STATE_ENCODED_LEN) {
        return HM_ERR_TRAILING;
    }
    cs_sign_state tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.height = get_be(data, 8);
    tmp.round = (uint32_t)get_be(data + 8, 4);
    tmp.step = data[12];
    memcpy(tmp.block_id, data + 13, HM_HASH_LEN);
    tmp.locked_round = (int32_t)(uint32_t)get_be(data + 45, 4);
    memcpy(tmp.locked_block_id, data + 49, HM_HASH_LEN);
    /* A record of a signature names its step; only "nothing signed yet"
     * (height 0) has none. */
    if (tmp.step > CS_STEP_PRECOMMIT || (tmp.height == 0) != (tmp.step == 0) ||
        tmp.round > CS_ROUND_MAX || tmp.locked_round < -1 ||
        (tmp.locked_round >= 0 && (uint32_t)tmp.locked_round > tmp.round)) {
        return HM_ERR_BAD_VALUE;
    }
    *s = tmp;
    return HM_OK;
}

/* ------------------------------------------------------------- messages */

hm_err cs_proposal_body_encode(const cs_proposal_body *p, hm_writer *w) {
    if (p == NULL || w == NULL || p->pol_round < -1) {
        return HM_ERR_ARG;
    }
    hm_put_varint(w, p->height);
    hm_put_varint(w, p->round);
    hm_put_varint(w, (uint64_t)((int64_t)p->pol_round + 1)); /* no overflow at INT32_MAX */
    hm_put_raw(w, p->block_id, HM_HASH_LEN);
    return hm_writer_error(w);
}

/* the type-specific body shared by the signed bytes and the wire form;
 * writer overflow is left for the caller's hm_writer_error */
static hm_err body_encode(const cs_msg *m, hm_writer *w) {
    if (m->type == CS_MSG_PROPOSAL) {
        return cs_proposal_body_encode(&m->proposal, w);
    }
    if (m->type == CS_MSG_VOTE) {
        hm_vote_body_encode(&m->vote, w);
        return HM_OK;
    }
    return HM_ERR_UNKNOWN_TYPE;
}

static hm_err signed_bytes(const cs_msg *m, uint8_t *buf, size_t cap, size_t *len,
                           const char **purpose) {
    hm_writer w;
    hm_writer_init(&w, buf, cap);
    hm_err err = body_encode(m, &w);
    if (err != HM_OK) {
        return err;
    }
    *purpose = m->type == CS_MSG_PROPOSAL ? HM_PURPOSE_PROPOSAL : HM_PURPOSE_VOTE;
    *len = w.len;
    return hm_writer_error(&w);
}

hm_err cs_msg_encode(const cs_msg *m, uint8_t out[CS_MSG_MAX], size_t *out_len) {
    if (m == NULL || out == NULL || out_len == NULL) {
        return HM_ERR_ARG;
    }
    hm_writer w;
    hm_writer_init(&w, out, CS_MSG_MAX);
    hm_put_u8(&w, m->type);
    hm_put_str(&w, m->chain_id, HM_CHAIN_ID_MAX);
    hm_put_varint(&w, m->validator_index);
    hm_err err = body_encode(m, &w);
    if (err != HM_OK) {
        return err;
    }
    hm_put_raw(&w, m->sig.bytes, HM_SIG_LEN);
    err = hm_writer_error(&w);
    if (err != HM_OK) {
        return err;
    }
    *out_len = w.len;
    return HM_OK;
}

hm_err cs_msg_decode(const uint8_t *data, size_t data_len, cs_msg *m) {
    if (m == NULL || (data == NULL && data_len > 0)) {
        return HM_ERR_ARG;
    }
    memset(m, 0, sizeof *m);
    if (data_len > CS_MSG_MAX) {
        return HM_ERR_TOO_LONG;
    }
    hm_reader r;
    hm_reader_init(&r, data, data_len);
    m->type = hm_get_u8(&r);
    if (hm_reader_error(&r) == HM_OK && m->type != CS_MSG_PROPOSAL && m->type != CS_MSG_VOTE) {
        hm_reader_fail(&r, HM_ERR_UNKNOWN_TYPE);
    }
    hm_get_str(&r, m->chain_id, sizeof m->chain_id, HM_CHAIN_ID_MAX);
    m->validator_index = (uint32_t)hm_get_varint(&r, HM_VALIDATORS_MAX - 1);
    if (hm_reader_error(&r) != HM_OK) {
        return hm_reader_error(&r);
    }
    if (m->type == CS_MSG_PROPOSAL) {
        m->proposal.height = hm_get_varint(&r, UINT64_MAX);
        m->proposal.round = (uint32_t)hm_get_varint(&r, CS_ROUND_MAX);
        m->proposal.pol_round = (int32_t)hm_get_varint(&r, CS_ROUND_MAX) - 1;
        hm_get_raw(&r, m->proposal.block_id, HM_HASH_LEN);
    } else {
        hm_err err = hm_vote_body_decode(&r, &m->vote);
        if (err != HM_OK) {
            return err;
        }
        if (m->vote.round > CS_ROUND_MAX) {
            return HM_ERR_OVERFLOW;
        }
    }
    hm_get_raw(&r, m->sig.bytes, HM_SIG_LEN);
    return hm_reader_finish(&r);
}

hm_err cs_msg_sign(cs_msg *m, const cs_signer *signer) {
    if (m == NULL || signer == NULL || signer->sign == NULL) {
        return HM_ERR_ARG;
    }
    uint8_t buf[CS_MSG_MAX];
    size_t len = 0;
    const char *purpose = NULL;
    hm_err err = signed_bytes(m, buf, sizeof buf, &len, &purpose);
    if (err != HM_OK) {
        return err;
    }
    return signer->sign(signer->ctx, purpose, m->chain_id, buf, len, &m->sig);
}

hm_err cs_msg_verify(const cs_msg *m, const cs_signer *signer, const hm_pubkey *pub) {
    if (m == NULL || signer == NULL || signer->verify == NULL || pub == NULL) {
        return HM_ERR_ARG;
    }
    uint8_t buf[CS_MSG_MAX];
    size_t len = 0;
    const char *purpose = NULL;
    hm_err err = signed_bytes(m, buf, sizeof buf, &len, &purpose);
    if (err != HM_OK) {
        return err;
    }
    err = signer->verify(signer->ctx, pub, purpose, m->chain_id, buf, len, &m->sig);
    return err == HM_OK ? HM_OK : HM_ERR_BAD_SIG;
}

/* ------------------------------------------------------------- certificates */

hm_err cs_cert_verify(const hm_cert *c, const char *chain_id, const hm_validator_set *vs,
                      const cs_signer *signer) {
    if (c == NULL || chain_id == NULL || vs == NULL || signer == NULL || signer->verify == NULL ||
        vs->count > HM_VALIDATORS_MAX) {
        return HM_ERR_ARG;
    }
    static const uint8_t zero[HM_HASH_LEN];
    if (c->count > HM_VALIDATORS_MAX || c->count < hm_validator_set_quorum(vs) ||
        memcmp(c->block_id, zero, HM_HASH_LEN) == 0) {
        return HM_ERR_PROOF;
    }
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->sigs[i].validator_index >= vs->count ||
            (i > 0 && c->sigs[i].validator_index <= c->sigs[i - 1].validator_index)) {
            return HM_ERR_PROOF;
        }
    }
    hm_vote_body vote = {.type = HM_VOTE_PRECOMMIT, .height = c->height, .round = c->round};
    memcpy(vote.block_id, c->block_id, HM_HASH_LEN);
    uint8_t body[64];
    hm_writer w;
    hm_writer_init(&w, body, sizeof body);
    hm_vote_body_encode(&vote, &w);
    assert(hm_writer_error(&w) == HM_OK);
    for (uint32_t i = 0; i < c->count; i++) {
        const hm_pubkey *pub = &vs->keys[c->sigs[i].validator_index];
        if (signer->verify(signer->ctx, pub, HM_PURPOSE_VOTE, chain_id, body, w.len,
                           &c->sigs[i].sig) != HM_OK) {
            return HM_ERR_BAD_SIG;
        }
    }
    return HM_OK;
}
