/* tests/sim/sim.c — one seeded execution of a cluster of consensus replicas.
 *
 * Layer: tests/, over consensus/ and lib/. Plays the embedder for every
 * replica: executes their actions in order (persist before anything after
 * it, broadcast through a faulty network, timers on a simulated clock,
 * block building and validation against a registry of blocks), injects
 * crashes and Byzantine behaviour, and checks on every step:
 *   agreement  no two honest replicas commit different blocks at a height;
 *   validity   only registered valid blocks commit, with a certificate that
 *              verifies against the validator set;
 *   signing    no honest validator signs two conflicting messages;
 *   liveness   after stabilisation every honest replica commits again within
 *              a bound of simulated time.
 * Never: wall clock or OS randomness (a seed must replay bit for bit). */
#include "sim.h"

/* The simulator links the test build of the core, which has the mutants. */
#define CS_TEST_MUTANTS 1
#include "cs.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES_MAX 12 /* 10 validators and room for twins */
#define VALIDATORS_SIM_MAX 10
#define HEIGHTS_MAX 200
#define BLOCKS_MAX 4096
#define SIGNED_TABLE_BITS 16
#define LIVENESS_BOUND_MS 60000u
#define GOSSIP_INTERVAL_MS 1000u
#define CHAIN_ID "sim-chain"
#define WAL_MAX 1024

/* ------------------------------------------------------------- PRNG */

typedef struct {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rng_next(rng_t *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, bound) (bound > 0); the tiny modulo bias is irrelevant. */
static uint64_t rng_below(rng_t *r, uint64_t bound) {
    assert(bound > 0);
    return rng_next(r) % bound;
}

/* True with probability permille/1000. */
static bool rng_chance(rng_t *r, uint32_t permille) {
    return rng_below(r, 1000) < permille;
}

/* ------------------------------------------------------------- world */

typedef enum {
    BYZ_NONE = 0,
    BYZ_SILENT,
    BYZ_EQUIVOCATE_PROPOSER,
    BYZ_DOUBLE_VOTE,
    BYZ_INVALID_BLOCKS,
    BYZ_GARBAGE,
    BYZ_TWINS,
    BYZ_FLOOD,
    BYZ__COUNT
} byz_kind;

static const char *const BYZ_NAMES[BYZ__COUNT] = {
    "none", "silent", "equivocate", "double_vote", "invalid_blocks", "garbage", "twins", "flood",
};

typedef enum {
    EV_DELIVER = 1,
    EV_TIMEOUT,
    EV_BUILD,
    EV_VALIDATE,
    EV_GOSSIP,
    EV_SYNC,
    EV_CRASH,
    EV_RESTART,
} ev_kind;

typedef struct {
    uint8_t kind;
    uint8_t node;
    uint32_t inc; /* the node's incarnation when scheduled */
    uint64_t height;
    uint32_t round;
    uint8_t step;
    uint8_t block_id[HM_HASH_LEN];
    uint16_t len;
    uint8_t data[CS_MSG_MAX];
} ev_body;

typedef struct {
    uint64_t time_ms;
    uint64_t seq;
    uint32_t body;
} ev_key;

typedef struct {
    uint8_t id[HM_HASH_LEN];
    uint64_t height;
    bool valid;
} block_rec;

struct world;

typedef struct {
    struct world *w;
    uint32_t key;
} signer_ctx;

typedef struct {
    uint64_t height;
    bool own;
    uint16_t len;
    uint8_t msg[CS_MSG_MAX];
} wal_entry;

typedef struct {
    uint32_t validator;
    uint8_t byz;
    bool up;
    bool crash_armed; /* crash in the middle of the next action batch */
    uint32_t inc;
    uint8_t group; /* side of the partition until GST */
    cs_replica *rep;
    signer_ctx sctx;
    /* The durable store: what survives a crash. */
    bool has_sign_state;
    cs_sign_state sign_state;
    uint64_t committed;
    uint64_t progress_ms; /* last commit, sync or restart */
    /* Also durable: a write-ahead log of the consensus messages of the
     * current height, the ones it sent and the ones it accepted, as a node
     * keeps them. After a crash they are fed back, so the replica holds
     * again the proof behind its lock; its own are sent again whenever it
     * is stuck. That is the reliable-links assumption of partial synchrony:
     * a message of a correct replica is never lost for good, only late. */
    uint32_t wal_count;
    wal_entry *wal; /* WAL_MAX entries */
    bool sync_pending;
    bool replaying;         /* feeding its log back: do not log again */
    uint64_t last_tick_pos; /* height and round at the last gossip tick */
} node_t;

typedef struct {
    uint64_t key; /* validator, height, round, step packed; 0 = empty */
    uint32_t gen;
    uint8_t id[HM_HASH_LEN];
    int32_t pol_round;
} signed_rec;

typedef struct world {
    const sim_params *p;
    sim_result *res;
    rng_t rng;
    uint64_t now_ms;
    uint64_t seq;
    uint32_t n;
    uint32_t node_count;
    bool real_sigs;
    node_t nodes[NODES_MAX];
    hm_validator_set vs;
    hm_keypair keys[VALIDATORS_SIM_MAX];
    size_t replica_size;
    cs_config base_config;
    /* Network faults. */
    uint64_t gst_ms;
    uint32_t drop_permille;
    uint32_t dup_permille;
    uint32_t delay_max_ms; /* before GST */
    uint32_t delta_ms;     /* after GST */
    bool partitioned;
    /* Event queue: a heap of keys over a pool of bodies. */
    ev_key *heap;
    uint32_t heap_len;
    uint32_t heap_cap;
    ev_body *pool;
    uint32_t *free_list;
    uint32_t free_len;
    uint32_t pool_cap;
    /* Blocks, decisions, certificates. */
    block_rec blocks[BLOCKS_MAX];
    uint32_t block_count;
    bool decided_set[HEIGHTS_MAX + 2];
    uint8_t decided[HEIGHTS_MAX + 2][HM_HASH_LEN];
    hm_cert certs[HEIGHTS_MAX + 2];
    uint64_t decided_max;
    uint8_t last_proposal[HEIGHTS_MAX + 2][HM_HASH_LEN];
    signed_rec *signed_table;
    uint32_t signed_gen;
    bool stop;
    cs_actions out;
} world;

/* ------------------------------------------------------------- reporting */

static void violation(world *w, bool safety, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void violation(world *w, bool safety, const char *fmt, ...) {
    if (w->res->safety_violation || w->res->liveness_failure) {
        return; /* the first finding is the one to replay */
    }
    if (safety) {
        w->res->safety_violation = true;
    } else {
        w->res->liveness_failure = true;
    }
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(w->res->detail, sizeof w->res->detail,
                     "t=%llu ms: ", (unsigned long long)w->now_ms);
    if (k > 0 && (size_t)k < sizeof w->res->detail) {
        vsnprintf(w->res->detail + k, sizeof w->res->detail - (size_t)k, fmt, ap);
    }
    va_end(ap);
    w->stop = true;
}

static void hex8(const uint8_t *id, char out[17]) {
    hm_hex_encode(id, 8, out);
}

/* ------------------------------------------------------------- signers */

static void stub_sig(const hm_pubkey *pub, const char *purpose, const char *chain_id,
                     const uint8_t *msg, size_t msg_len, hm_sig *sig) {
    /* FNV-1a then splitmix: cheap, deterministic, and different for every
     * (key, purpose, chain, message). Only the simulator's adversary could
     * forge it, and it never tries. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < HM_PUBKEY_LEN; i++) {
        h = (h ^ pub->bytes[i]) * 0x100000001b3ull;
    }
    for (const char *c = purpose; *c; c++) {
        h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    }
    h = (h ^ 0xff) * 0x100000001b3ull;
    for (const char *c = chain_id; *c; c++) {
        h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    }
    h = (h ^ 0xfe) * 0x100000001b3ull;
    for (size_t i = 0; i < msg_len; i++) {
        h = (h ^ msg[i]) * 0x100000001b3ull;
    }
    for (int i = 0; i < 8; i++) {
        uint64_t v = splitmix64(&h);
        memcpy(sig->bytes + 8 * i, &v, 8);
    }
}

static hm_err sim_sign(void *ctx, const char *purpose, const char *chain_id, const uint8_t *msg,
                       size_t msg_len, hm_sig *sig) {
    signer_ctx *s = ctx;
    world *w = s->w;
    w->res->sign_ops++;
    if (!w->real_sigs) {
        stub_sig(&w->vs.keys[s->key], purpose, chain_id, msg, msg_len, sig);
        return HM_OK;
    }
    /* Zero aux randomness: real BIP340, and still bit-for-bit replayable. */
    uint8_t digest[HM_HASH_LEN];
    hm_sighash(purpose, chain_id, msg, msg_len, digest);
    return hm_bip340_sign(&w->keys[s->key], digest, sizeof digest, NULL, sig);
}

static hm_err sim_verify(void *ctx, const hm_pubkey *pub, const char *purpose, const char *chain_id,
                         const uint8_t *msg, size_t msg_len, const hm_sig *sig) {
    signer_ctx *s = ctx;
    s->w->res->verify_ops++;
    if (!s->w->real_sigs) {
        hm_sig expect;
        stub_sig(pub, purpose, chain_id, msg, msg_len, &expect);
        return memcmp(expect.bytes, sig->bytes, HM_SIG_LEN) == 0 ? HM_OK : HM_ERR_BAD_SIG;
    }
    return hm_verify(pub, purpose, chain_id, msg, msg_len, sig);
}

static cs_signer signer_for(node_t *nd) {
    cs_signer s = {.ctx = &nd->sctx, .sign = sim_sign, .verify = sim_verify};
    return s;
}

/* ------------------------------------------------------------- event queue */

static bool key_less(const ev_key *a, const ev_key *b) {
    return a->time_ms < b->time_ms || (a->time_ms == b->time_ms && a->seq < b->seq);
}

static ev_body *ev_new(world *w, uint64_t at_ms, uint8_t kind, uint32_t node) {
    if (w->free_len == 0) {
        uint32_t old = w->pool_cap;
        uint32_t cap = old ? old * 2 : 1024;
        ev_body *pool = realloc(w->pool, (size_t)cap * sizeof *pool);
        uint32_t *fl = realloc(w->free_list, (size_t)cap * sizeof *fl);
        ev_key *heap = realloc(w->heap, (size_t)cap * sizeof *heap);
        if (pool == NULL || fl == NULL || heap == NULL) {
            fprintf(stderr, "sim: out of memory\n");
            abort();
        }
        w->pool = pool;
        w->free_list = fl;
        w->heap = heap;
        w->heap_cap = cap;
        w->pool_cap = cap;
        for (uint32_t i = cap; i > old; i--) {
            w->free_list[w->free_len++] = i - 1;
        }
    }
    uint32_t b = w->free_list[--w->free_len];
    ev_body *e = &w->pool[b];
    e->kind = kind;
    e->node = (uint8_t)node;
    e->inc = w->nodes[node].inc;
    e->len = 0;
    /* sift up */
    ev_key k = {.time_ms = at_ms, .seq = w->seq++, .body = b};
    uint32_t i = w->heap_len++;
    assert(w->heap_len <= w->heap_cap);
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!key_less(&k, &w->heap[parent])) {
            break;
        }
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = k;
    return e;
}

static bool ev_pop(world *w, ev_key *out) {
    if (w->heap_len == 0) {
        return false;
    }
    *out = w->heap[0];
    ev_key last = w->heap[--w->heap_len];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= w->heap_len) {
            break;
        }
        if (c + 1 < w->heap_len && key_less(&w->heap[c + 1], &w->heap[c])) {
            c++;
        }
        if (!key_less(&w->heap[c], &last)) {
            break;
        }
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->heap_len > 0) {
        w->heap[i] = last;
    }
    return true;
}

/* ------------------------------------------------------------- blocks */

static const block_rec *block_find(const world *w, const uint8_t id[HM_HASH_LEN]) {
    for (uint32_t i = w->block_count; i > 0; i--) {
        if (memcmp(w->blocks[i - 1].id, id, HM_HASH_LEN) == 0) {
            return &w->blocks[i - 1];
        }
    }
    return NULL;
}

static void block_new(world *w, uint64_t height, bool valid, uint8_t id[HM_HASH_LEN]) {
    for (int i = 0; i < HM_HASH_LEN; i += 8) {
        uint64_t v = rng_next(&w->rng);
        memcpy(id + i, &v, 8);
    }
    id[0] |= 1; /* never the nil id */
    if (w->block_count < BLOCKS_MAX) {
        block_rec *b = &w->blocks[w->block_count++];
        memcpy(b->id, id, HM_HASH_LEN);
        b->height = height;
        b->valid = valid;
    }
}

/* ------------------------------------------------------------- checks */

static signed_rec *signed_slot(world *w, uint64_t key) {
    uint32_t mask = (1u << SIGNED_TABLE_BITS) - 1;
    uint64_t x = key;
    uint32_t i = (uint32_t)splitmix64(&x) & mask;
    for (uint32_t probes = 0; probes <= mask; probes++) {
        signed_rec *s = &w->signed_table[i];
        if (s->gen != w->signed_gen || s->key == key) {
            return s;
        }
        i = (i + 1) & mask;
    }
    return NULL;
}

/* Every message an honest validator lets out is recorded: a second,
 * different message at the same (height, round, step) is a double sign. */
static void check_signed(world *w, const node_t *nd, const uint8_t *data, size_t len) {
    cs_msg m;
    if (cs_msg_decode(data, len, &m) != HM_OK) {
        violation(w, true, "honest validator %u broadcast an undecodable message", nd->validator);
        return;
    }
    if (m.validator_index != nd->validator) {
        return; /* gossip relaying someone else's signed message */
    }
    uint64_t h = m.type == CS_MSG_PROPOSAL ? m.proposal.height : m.vote.height;
    uint32_t r = m.type == CS_MSG_PROPOSAL ? m.proposal.round : m.vote.round;
    uint8_t step = m.type == CS_MSG_PROPOSAL        ? CS_STEP_PROPOSE
                   : m.vote.type == HM_VOTE_PREVOTE ? CS_STEP_PREVOTE
                                                    : CS_STEP_PRECOMMIT;
    const uint8_t *id = m.type == CS_MSG_PROPOSAL ? m.proposal.block_id : m.vote.block_id;
    int32_t pol = m.type == CS_MSG_PROPOSAL ? m.proposal.pol_round : -1;
    /* What leaves must already be covered by the durable sign-state: a
     * message beyond it (or another one at it) would be signed again
     * differently after a crash that lost the record. */
    const cs_sign_state *d = &nd->sign_state;
    int beyond = !nd->has_sign_state ? 1
                 : h != d->height    ? (h > d->height ? 1 : -1)
                 : r != d->round     ? (r > d->round ? 1 : -1)
                 : step != d->step   ? (step > d->step ? 1 : -1)
                                     : 0;
    if (beyond > 0 || (beyond == 0 && memcmp(d->block_id, id, HM_HASH_LEN) != 0)) {
        violation(w, true,
                  "honest validator %u sent h=%llu r=%u step=%u before its sign-state was durable",
                  m.validator_index, (unsigned long long)h, r, step);
        return;
    }
    uint64_t key =
        ((uint64_t)(m.validator_index + 1) << 56) ^ (h << 32) ^ ((uint64_t)r << 2) ^ step;
    signed_rec *s = signed_slot(w, key);
    if (s == NULL) {
        return; /* table full: cannot happen at the heights we run */
    }
    if (s->gen != w->signed_gen) {
        s->gen = w->signed_gen;
        s->key = key;
        memcpy(s->id, id, HM_HASH_LEN);
        s->pol_round = pol;
        return;
    }
    if (memcmp(s->id, id, HM_HASH_LEN) != 0 || s->pol_round != pol) {
        char a[17], b[17];
        hex8(s->id, a);
        hex8(id, b);
        violation(w, true,
                  "honest validator %u signed two conflicting messages at h=%llu r=%u step=%u "
                  "(%s vs %s)",
                  m.validator_index, (unsigned long long)h, r, step, a, b);
    }
}

static bool is_honest(const node_t *nd) {
    return nd->byz == BYZ_NONE;
}

/* A commit or a catch-up: the liveness clock of this replica restarts. */
static void note_progress(world *w, node_t *nd) {
    uint64_t since = nd->progress_ms > w->gst_ms ? nd->progress_ms : w->gst_ms;
    if (is_honest(nd) && w->now_ms > since && w->now_ms - since > w->res->max_stall_ms) {
        w->res->max_stall_ms = w->now_ms - since;
    }
    nd->progress_ms = w->now_ms;
}

static void on_commit(world *w, node_t *nd, const cs_action *a, const hm_cert *cert) {
    char idh[17];
    hex8(a->block_id, idh);
    if (!is_honest(nd)) {
        return; /* a faulty validator's own view is not checked */
    }
    if (a->height != nd->committed + 1) {
        violation(w, true, "validator %u committed h=%llu after h=%llu", nd->validator,
                  (unsigned long long)a->height, (unsigned long long)nd->committed);
        return;
    }
    const block_rec *b = block_find(w, a->block_id);
    if (b == NULL || !b->valid || b->height != a->height) {
        violation(w, true, "validity: validator %u committed %s block %s at h=%llu", nd->validator,
                  b == NULL ? "an unknown" : "an invalid", idh, (unsigned long long)a->height);
        return;
    }
    if (memcmp(cert->block_id, a->block_id, HM_HASH_LEN) != 0 || cert->height != a->height) {
        violation(w, true, "validator %u committed with a certificate for another block",
                  nd->validator);
        return;
    }
    cs_signer s = signer_for(nd);
    hm_err err = w->p->skip_cert_check ? HM_OK : cs_cert_verify(cert, CHAIN_ID, &w->vs, &s);
    if (err != HM_OK) {
        violation(w, true, "validator %u committed h=%llu with a bad certificate (%s)",
                  nd->validator, (unsigned long long)a->height, hm_err_name(err));
        return;
    }
    if (a->height <= HEIGHTS_MAX) {
        if (w->decided_set[a->height] &&
            memcmp(w->decided[a->height], a->block_id, HM_HASH_LEN) != 0) {
            char other[17];
            hex8(w->decided[a->height], other);
            violation(w, true, "agreement: validator %u committed %s at h=%llu, another %s",
                      nd->validator, idh, (unsigned long long)a->height, other);
            return;
        }
        if (!w->decided_set[a->height]) {
            w->decided_set[a->height] = true;
            memcpy(w->decided[a->height], a->block_id, HM_HASH_LEN);
            w->certs[a->height] = *cert;
            w->res->heights_decided++;
            if (a->height > w->decided_max) {
                w->decided_max = a->height;
            }
        }
    }
    if (w->p->verbose) {
        fprintf(stderr, "t=%llu node v%u commit h=%llu r=%u %s\n", (unsigned long long)w->now_ms,
                nd->validator, (unsigned long long)a->height, a->round, idh);
    }
    note_progress(w, nd);
    nd->committed = a->height;
}

/* ------------------------------------------------------------- network */

static uint32_t node_index(const world *w, const node_t *nd) {
    return (uint32_t)(nd - w->nodes);
}

static void net_send(world *w, uint32_t from, uint32_t to, const uint8_t *data, size_t len) {
    assert(len <= CS_MSG_MAX);
    uint64_t at = w->now_ms;
    bool pre_gst = w->now_ms < w->gst_ms;
    if (pre_gst && w->p->faults) {
        if (w->partitioned && w->nodes[from].group != w->nodes[to].group) {
            /* Across the partition: lost, or held until it heals. */
            if (rng_chance(&w->rng, 500)) {
                return;
            }
            at = w->gst_ms;
        }
        if (rng_chance(&w->rng, w->drop_permille)) {
            return;
        }
        at += 1 + rng_below(&w->rng, w->delay_max_ms);
    } else {
        at += 1 + rng_below(&w->rng, w->delta_ms);
    }
    int copies = w->p->faults && rng_chance(&w->rng, w->dup_permille) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        ev_body *e = ev_new(w, at + (uint64_t)c * rng_below(&w->rng, 50), EV_DELIVER, to);
        e->len = (uint16_t)len;
        memcpy(e->data, data, len);
    }
}

/* Re-signs m with the faulty node's own key (the adversary holds it). */
static size_t forge(node_t *nd, cs_msg *m, uint8_t out[CS_MSG_MAX]) {
    cs_signer s = signer_for(nd);
    size_t len = 0;
    if (cs_msg_sign(m, &s) != HM_OK || cs_msg_encode(m, out, &len) != HM_OK) {
        return 0;
    }
    return len;
}

static void byz_send(world *w, node_t *nd, uint32_t to, const uint8_t *data, size_t len) {
    uint32_t from = node_index(w, nd);
    cs_msg m;
    uint8_t buf[CS_MSG_MAX];
    if (cs_msg_decode(data, len, &m) != HM_OK) {
        return;
    }
    switch (nd->byz) {
    case BYZ_EQUIVOCATE_PROPOSER:
        if (m.type == CS_MSG_PROPOSAL && rng_chance(&w->rng, 500)) {
            /* Another valid block for some peers: splits the honest ones. */
            block_new(w, m.proposal.height, true, m.proposal.block_id);
            m.proposal.pol_round = -1;
            len = forge(nd, &m, buf);
            data = buf;
        }
        break;
    case BYZ_DOUBLE_VOTE:
        if (m.type == CS_MSG_VOTE && rng_chance(&w->rng, 500)) {
            static const uint8_t nil[HM_HASH_LEN];
            uint64_t h = m.vote.height;
            if (memcmp(m.vote.block_id, nil, HM_HASH_LEN) != 0) {
                memset(m.vote.block_id, 0, HM_HASH_LEN);
            } else if (h <= HEIGHTS_MAX) {
                memcpy(m.vote.block_id, w->last_proposal[h], HM_HASH_LEN);
            }
            len = forge(nd, &m, buf);
            data = buf;
        }
        break;
    case BYZ_GARBAGE: {
        uint64_t what = rng_below(&w->rng, 7);
        memcpy(buf, data, len);
        data = buf;
        if (what == 0) { /* random bytes */
            len = 1 + rng_below(&w->rng, CS_MSG_MAX - 1);
            for (size_t i = 0; i < len; i++) {
                buf[i] = (uint8_t)rng_next(&w->rng);
            }
        } else if (what == 1) { /* one flipped bit */
            buf[rng_below(&w->rng, len)] ^= (uint8_t)(1u << rng_below(&w->rng, 8));
        } else if (what == 2) { /* another chain, signed properly */
            strcpy(m.chain_id, "other-chain");
            len = forge(nd, &m, buf);
        } else if (what == 3) { /* claims to be another validator */
            m.validator_index = (uint32_t)rng_below(&w->rng, w->n + 2);
            if (cs_msg_encode(&m, buf, &len) != HM_OK) {
                len = 0;
            }
        } else if (what == 4) { /* truncated or padded */
            len = rng_below(&w->rng, 2) ? rng_below(&w->rng, len) : len + (len < CS_MSG_MAX);
        } else if (what == 5) { /* a stale height */
            if (m.type == CS_MSG_VOTE && m.vote.height > 1) {
                m.vote.height -= 1;
                len = forge(nd, &m, buf);
            }
        }
        break;
    }
    case BYZ_FLOOD:
        /* Properly signed votes it is free to make, to fill every buffer
         * the replica has: far rounds of this height, many different votes
         * for the next height, equivocations in the current round. The
         * honest messages must keep their place. */
        if (m.type == CS_MSG_VOTE && rng_chance(&w->rng, 600)) {
            uint64_t h = m.vote.height;
            uint32_t rnd = m.vote.round;
            for (int k = 0; k < 3; k++) {
                cs_msg x = m;
                x.vote.type = rng_chance(&w->rng, 500) ? HM_VOTE_PREVOTE : HM_VOTE_PRECOMMIT;
                for (int i = 0; i < HM_HASH_LEN; i += 8) {
                    uint64_t v = rng_next(&w->rng);
                    memcpy(x.vote.block_id + i, &v, 8);
                }
                if (k == 0) {
                    uint64_t span = rng_chance(&w->rng, 500) ? 40 : CS_ROUND_MAX - rnd - 8;
                    x.vote.round = rnd + 8 + (uint32_t)rng_below(&w->rng, span);
                } else if (k == 1) {
                    x.vote.height = h + 1;
                    x.vote.round = (uint32_t)rng_below(&w->rng, 7);
                }
                size_t xlen = forge(nd, &x, buf);
                if (xlen > 0) {
                    net_send(w, from, to, buf, xlen);
                }
            }
        }
        break;
    default:
        break;
    }
    if (len > 0) {
        net_send(w, from, to, data, len);
    }
}

static void broadcast(world *w, node_t *nd, const cs_action *a) {
    if (is_honest(nd)) {
        check_signed(w, nd, a->msg, a->msg_len);
    }
    if (a->msg_type == CS_MSG_PROPOSAL && a->height <= HEIGHTS_MAX) {
        memcpy(w->last_proposal[a->height], a->block_id, HM_HASH_LEN);
    }
    uint32_t from = node_index(w, nd);
    for (uint32_t to = 0; to < w->node_count; to++) {
        if (to == from) {
            continue;
        }
        if (nd->byz != BYZ_NONE && nd->byz != BYZ_TWINS) {
            byz_send(w, nd, to, a->msg, a->msg_len);
        } else {
            net_send(w, from, to, a->msg, a->msg_len);
        }
        w->res->messages_delivered++;
    }
}

/* ------------------------------------------------------------- nodes */

static void node_crash(world *w, node_t *nd) {
    if (w->p->verbose) {
        fprintf(stderr, "t=%llu node v%u crash\n", (unsigned long long)w->now_ms, nd->validator);
    }
    nd->up = false;
    nd->crash_armed = false;
    nd->sync_pending = false; /* a fetch in flight dies with the process */
    nd->inc++;                /* its timers and pending answers die with it */
}

static void step_node(world *w, node_t *nd, const cs_event *ev);

static void wal_append(node_t *nd, uint64_t height, bool own, const uint8_t *msg, size_t len) {
    if (nd->wal_count == WAL_MAX) {
        /* Compact: heights below the replica's are decided. */
        uint64_t h = cs_replica_height(nd->rep);
        uint32_t kept = 0;
        for (uint32_t i = 0; i < nd->wal_count; i++) {
            if (nd->wal[i].height >= h) {
                nd->wal[kept++] = nd->wal[i];
            }
        }
        nd->wal_count = kept;
        if (kept == WAL_MAX) {
            return;
        }
    }
    wal_entry *e = &nd->wal[nd->wal_count++];
    e->height = height;
    e->own = own;
    e->len = (uint16_t)len;
    memcpy(e->msg, msg, len);
}

static uint64_t msg_height(const uint8_t *data, size_t len) {
    cs_msg m;
    if (cs_msg_decode(data, len, &m) != HM_OK) {
        return 0;
    }
    return m.type == CS_MSG_PROPOSAL ? m.proposal.height : m.vote.height;
}

static void wal_resend(world *w, node_t *nd) {
    uint64_t h = cs_replica_height(nd->rep);
    uint32_t from = node_index(w, nd);
    for (uint32_t i = 0; i < nd->wal_count; i++) {
        const wal_entry *e = &nd->wal[i];
        if (!e->own || e->height != h) {
            continue;
        }
        for (uint32_t to = 0; to < w->node_count; to++) {
            if (to != from) {
                net_send(w, from, to, e->msg, e->len);
                w->res->messages_delivered++;
            }
        }
    }
}

static void run_actions(world *w, node_t *nd, const cs_actions *out) {
    uint32_t cut = out->count;
    if (nd->crash_armed) {
        /* Dies part-way: actions past the cut never happen, including a
         * persist that was not yet durable. */
        cut = (uint32_t)rng_below(&w->rng, (uint64_t)out->count + 1);
    }
    uint32_t idx = node_index(w, nd);
    for (uint32_t i = 0; i < cut && !w->stop; i++) {
        const cs_action *a = &out->items[i];
        switch (a->type) {
        case CS_ACT_PERSIST_SIGN_STATE:
            nd->has_sign_state = true;
            nd->sign_state = a->sign_state;
            break;
        case CS_ACT_BROADCAST:
            wal_append(nd, a->height, true, a->msg, a->msg_len);
            broadcast(w, nd, a);
            break;
        case CS_ACT_SCHEDULE_TIMEOUT: {
            ev_body *e = ev_new(w, w->now_ms + a->duration_ms, EV_TIMEOUT, idx);
            e->height = a->height;
            e->round = a->round;
            e->step = a->step;
            break;
        }
        case CS_ACT_BUILD_BLOCK: {
            ev_body *e = ev_new(w, w->now_ms + 1 + rng_below(&w->rng, 5), EV_BUILD, idx);
            e->height = a->height;
            e->round = a->round;
            break;
        }
        case CS_ACT_VALIDATE_BLOCK: {
            ev_body *e = ev_new(w, w->now_ms + 1 + rng_below(&w->rng, 5), EV_VALIDATE, idx);
            e->height = a->height;
            memcpy(e->block_id, a->block_id, HM_HASH_LEN);
            break;
        }
        case CS_ACT_COMMIT:
            assert(out->has_commit);
            on_commit(w, nd, a, &out->cert);
            break;
        default:
            violation(w, true, "unknown action type %u", a->type);
            break;
        }
    }
    if (nd->crash_armed) {
        node_crash(w, nd);
    }
}

static void step_node(world *w, node_t *nd, const cs_event *ev) {
    if (!nd->up || w->stop) {
        return;
    }
    hm_err err = cs_replica_step(nd->rep, ev, &w->out);
    if (err != HM_OK) {
        violation(w, true, "cs_replica_step failed: %s", hm_err_name(err));
        return;
    }
    if (w->out.drop != CS_DROP_NONE) {
        w->res->drops++;
    } else if (ev->type == CS_EV_MESSAGE && !nd->replaying) {
        wal_append(nd, msg_height(ev->data, ev->data_len), false, ev->data, ev->data_len);
    }
    uint32_t r = cs_replica_round(nd->rep);
    if (r > w->res->max_round) {
        w->res->max_round = r;
    }
    run_actions(w, nd, &w->out);
}

static void node_start(world *w, node_t *nd) {
    cs_config c = w->base_config;
    c.self_index = (int32_t)nd->validator;
    c.signer = signer_for(nd);
    hm_err err = cs_replica_init(nd->rep, &c, nd->committed + 1,
                                 nd->has_sign_state ? &nd->sign_state : NULL);
    if (err != HM_OK) {
        violation(w, true, "cs_replica_init failed: %s", hm_err_name(err));
        return;
    }
#ifdef CS_TEST_MUTANTS
    cs_replica_set_mutant(nd->rep, (cs_mutant)w->p->mutant);
#endif
    nd->up = true;
    nd->progress_ms = w->now_ms;
    cs_event ev = {.type = CS_EV_START};
    step_node(w, nd, &ev);
    /* What it signed before the crash comes back from its log, so it holds
     * its own votes again. */
    for (uint32_t i = 0; i < nd->wal_count; i++) {
        const wal_entry *le = &nd->wal[i];
        if (le->height > nd->committed) {
            cs_event msg = {.type = CS_EV_MESSAGE, .data = le->msg, .data_len = le->len};
            nd->replaying = true;
            step_node(w, nd, &msg);
            nd->replaying = false;
        }
    }
    wal_resend(w, nd);
    ev_new(w, w->now_ms + GOSSIP_INTERVAL_MS, EV_GOSSIP, node_index(w, nd));
}

/* ------------------------------------------------------------- events */

static void handle(world *w, const ev_body *e) {
    node_t *nd = &w->nodes[e->node];
    if (e->kind == EV_RESTART) {
        if (nd->up && nd->crash_armed) {
            node_crash(w, nd); /* it never got to the batch it would die in */
        }
        if (!nd->up) {
            if (w->p->verbose) {
                fprintf(stderr, "t=%llu node v%u restart at h=%llu\n",
                        (unsigned long long)w->now_ms, nd->validator,
                        (unsigned long long)nd->committed + 1);
            }
            node_start(w, nd);
        }
        return;
    }
    if (!nd->up || e->inc != nd->inc) {
        return; /* sent to a dead node, or a timer of a previous life */
    }
    cs_event ev;
    memset(&ev, 0, sizeof ev);
    switch (e->kind) {
    case EV_DELIVER:
        ev.type = CS_EV_MESSAGE;
        ev.data = e->data;
        ev.data_len = e->len;
        step_node(w, nd, &ev);
        break;
    case EV_TIMEOUT:
        ev.type = CS_EV_TIMEOUT;
        ev.height = e->height;
        ev.round = e->round;
        ev.step = e->step;
        step_node(w, nd, &ev);
        break;
    case EV_BUILD:
        ev.type = CS_EV_BLOCK_BUILT;
        ev.height = e->height;
        ev.round = e->round;
        block_new(w, e->height, nd->byz != BYZ_INVALID_BLOCKS, ev.block_id);
        step_node(w, nd, &ev);
        break;
    case EV_VALIDATE: {
        const block_rec *b = block_find(w, e->block_id);
        ev.type = CS_EV_BLOCK_VALIDATED;
        ev.height = e->height;
        memcpy(ev.block_id, e->block_id, HM_HASH_LEN);
        /* The invalid-block liar also calls everything valid. */
        ev.valid =
            nd->byz == BYZ_INVALID_BLOCKS || (b != NULL && b->valid && b->height == e->height);
        step_node(w, nd, &ev);
        break;
    }
    case EV_GOSSIP:
        ev.type = CS_EV_GOSSIP;
        step_node(w, nd, &ev);
        if (nd->up && e->inc == nd->inc) {
            /* Resend the log only when stuck for a whole interval. */
            uint64_t pos = (cs_replica_height(nd->rep) << 24) ^ cs_replica_round(nd->rep);
            if ((nd->byz == BYZ_NONE || nd->byz == BYZ_TWINS) && pos == nd->last_tick_pos) {
                wal_resend(w, nd);
            }
            nd->last_tick_pos = pos;
            ev_new(w, w->now_ms + GOSSIP_INTERVAL_MS, EV_GOSSIP, e->node);
            /* Block sync: someone committed our height; fetch it. */
            if (!nd->sync_pending && w->decided_max >= cs_replica_height(nd->rep)) {
                nd->sync_pending = true;
                ev_new(w, w->now_ms + 1 + rng_below(&w->rng, w->delta_ms), EV_SYNC, e->node);
            }
        }
        break;
    case EV_SYNC: {
        nd->sync_pending = false;
        uint64_t top = w->decided_max;
        if (top < cs_replica_height(nd->rep)) {
            break;
        }
        /* The node fetched and verified blocks committed+1..top; its chain
         * now holds what the honest majority decided. */
        nd->committed = top;
        note_progress(w, nd);
        ev.type = CS_EV_DECIDED_ELSEWHERE;
        ev.cert = &w->certs[top];
        step_node(w, nd, &ev);
        break;
    }
    case EV_CRASH:
        if (rng_chance(&w->rng, 500)) {
            node_crash(w, nd);
        } else {
            nd->crash_armed = true;
        }
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------- setup */

static void setup(world *w) {
    const sim_params *p = w->p;
    rng_seed(&w->rng, p->seed);
    uint32_t n = p->validators;
    if (n == 0) {
        n = rng_chance(&w->rng, 500) ? 4 : 7;
    }
    if (n > VALIDATORS_SIM_MAX) {
        n = VALIDATORS_SIM_MAX;
    }
    w->n = n;
    uint32_t f = (n - 1) / 3;
    uint32_t byz = p->byzantine < f ? p->byzantine : f;
    w->res->n = n;
    w->res->byzantine = byz;
    w->real_sigs =
        p->sigs == SIM_SIGS_REAL || (p->sigs == SIM_SIGS_MIXED && rng_below(&w->rng, 32) == 0);
    w->res->real_sigs = w->real_sigs;

    w->vs.count = n;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t sk[HM_SECKEY_LEN];
        for (int j = 0; j < HM_SECKEY_LEN; j += 8) {
            uint64_t v = rng_next(&w->rng);
            memcpy(sk + j, &v, 8);
        }
        if (w->real_sigs) {
            sk[0] = (uint8_t)(sk[0] & 0x7f) | 1; /* far below the group order */
            if (hm_keypair_from_seckey(&w->keys[i], sk) != HM_OK) {
                violation(w, true, "bad simulated key");
                return;
            }
            w->vs.keys[i] = w->keys[i].pub;
        } else {
            memcpy(w->vs.keys[i].bytes, sk, HM_PUBKEY_LEN);
        }
    }
    cs_config_default(&w->base_config);
    strcpy(w->base_config.chain_id, CHAIN_ID);
    w->base_config.validators = w->vs;
    w->base_config.timeout_propose_ms = 300;
    w->base_config.timeout_propose_delta_ms = 100;
    w->base_config.timeout_prevote_ms = 150;
    w->base_config.timeout_prevote_delta_ms = 50;
    w->base_config.timeout_precommit_ms = 150;
    w->base_config.timeout_precommit_delta_ms = 50;

    /* Network. */
    if (p->faults) {
        w->gst_ms = rng_below(&w->rng, 8000);
        w->drop_permille = (uint32_t)rng_below(&w->rng, 250);
        w->dup_permille = (uint32_t)rng_below(&w->rng, 100);
        w->delay_max_ms = 5 + (uint32_t)rng_below(&w->rng, 400);
        w->partitioned = rng_chance(&w->rng, 500);
    }
    w->delta_ms = 1 + (uint32_t)rng_below(&w->rng, 30);

    /* Validators, then Byzantine behaviours, then twins as extra nodes. */
    w->node_count = n;
    for (uint32_t i = 0; i < n; i++) {
        node_t *nd = &w->nodes[i];
        nd->validator = i;
        nd->group = (uint8_t)rng_below(&w->rng, 2);
    }
    for (uint32_t k = 0; k < byz; k++) {
        uint32_t v;
        do {
            v = (uint32_t)rng_below(&w->rng, n);
        } while (w->nodes[v].byz != BYZ_NONE);
        uint8_t kind = (uint8_t)(1 + rng_below(&w->rng, BYZ__COUNT - 1));
        w->nodes[v].byz = kind;
        if (kind == BYZ_TWINS && w->node_count < NODES_MAX) {
            node_t *twin = &w->nodes[w->node_count++];
            twin->validator = v;
            twin->byz = BYZ_TWINS;
            w->nodes[v].group = 0;
            twin->group = 1;
            if (p->faults) {
                w->partitioned = true;
            }
        }
    }
    for (uint32_t i = 0; i < w->node_count; i++) {
        node_t *nd = &w->nodes[i];
        nd->sctx.w = w;
        nd->sctx.key = nd->validator;
        nd->rep = malloc(w->replica_size);
        nd->wal = malloc(WAL_MAX * sizeof *nd->wal);
        if (nd->rep == NULL || nd->wal == NULL) {
            fprintf(stderr, "sim: out of memory\n");
            abort();
        }
    }
    if (p->verbose) {
        fprintf(stderr,
                "seed=%llu n=%u byz=%u real_sigs=%d gst=%llu drop=%u dup=%u delay=%u delta=%u "
                "partitioned=%d\n",
                (unsigned long long)p->seed, n, byz, w->real_sigs, (unsigned long long)w->gst_ms,
                w->drop_permille, w->dup_permille, w->delay_max_ms, w->delta_ms, w->partitioned);
        for (uint32_t i = 0; i < w->node_count; i++) {
            fprintf(stderr, "  node %u: v%u %s group %u\n", i, w->nodes[i].validator,
                    BYZ_NAMES[w->nodes[i].byz], w->nodes[i].group);
        }
    }
    /* Crashes of honest validators, before GST, each restarting later. */
    if (p->faults && rng_chance(&w->rng, 600)) {
        uint32_t crashes = 1 + (uint32_t)rng_below(&w->rng, 3);
        for (uint32_t c = 0; c < crashes; c++) {
            uint32_t v = (uint32_t)rng_below(&w->rng, n);
            if (w->nodes[v].byz != BYZ_NONE) {
                continue;
            }
            uint64_t at = rng_below(&w->rng, w->gst_ms + 1000);
            ev_body *e = ev_new(w, at, EV_CRASH, v);
            e->inc = UINT32_MAX; /* crash events ignore incarnations */
            uint64_t back = at + 100 + rng_below(&w->rng, 3000);
            (void)ev_new(w, back, EV_RESTART, v);
        }
    }
}

static bool all_done(const world *w) {
    for (uint32_t i = 0; i < w->node_count; i++) {
        const node_t *nd = &w->nodes[i];
        if (is_honest(nd) && nd->committed < w->p->heights) {
            return false;
        }
    }
    return true;
}

static void check_liveness(world *w) {
    for (uint32_t i = 0; i < w->node_count; i++) {
        const node_t *nd = &w->nodes[i];
        if (!is_honest(nd) || !nd->up || nd->committed >= w->p->heights) {
            continue;
        }
        uint64_t since = nd->progress_ms > w->gst_ms ? nd->progress_ms : w->gst_ms;
        if (w->now_ms > since + LIVENESS_BOUND_MS) {
            violation(w, false,
                      "liveness: validator %u stuck at h=%llu r=%u for %u ms after stabilisation",
                      nd->validator, (unsigned long long)cs_replica_height(nd->rep),
                      cs_replica_round(nd->rep), LIVENESS_BOUND_MS);
            if (w->p->verbose) {
                for (uint32_t j = 0; j < w->node_count; j++) {
                    char buf[2048];
                    if (w->nodes[j].byz == BYZ_SILENT) {
                        continue;
                    }
                    cs_replica_debug(w->nodes[j].rep, buf, sizeof buf);
                    fprintf(stderr, "  v%u %s: %s\n", w->nodes[j].validator,
                            BYZ_NAMES[w->nodes[j].byz], buf);
                }
            }
            return;
        }
    }
}

int sim_run(const sim_params *p, sim_result *res) {
    memset(res, 0, sizeof *res);
    world *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return -1;
    }
    w->signed_table = calloc((size_t)1 << SIGNED_TABLE_BITS, sizeof(signed_rec));
    if (w->signed_table == NULL) {
        free(w);
        return -1;
    }
    w->signed_gen = 1;
    w->p = p;
    w->res = res;
    cs_config sizing;
    cs_config_default(&sizing);
    sizing.validators.count = VALIDATORS_SIM_MAX;
    w->replica_size = cs_replica_size(&sizing);
    setup(w);
    for (uint32_t i = 0; i < w->node_count && !w->stop; i++) {
        if (w->nodes[i].byz == BYZ_SILENT) {
            continue; /* never speaks, never listens */
        }
        node_start(w, &w->nodes[i]);
    }
    ev_key k;
    while (!w->stop && ev_pop(w, &k)) {
        w->now_ms = k.time_ms;
        /* A copy: handling schedules new events, which may move the pool. */
        ev_body e = w->pool[k.body];
        w->free_list[w->free_len++] = k.body;
        if (e.kind == EV_CRASH) {
            e.inc = w->nodes[e.node].inc;
        }
        handle(w, &e);
        res->events++;
        if (all_done(w)) {
            break;
        }
        check_liveness(w);
    }
    /* Running out of events before every honest replica got there (every
     * timer and tick gone) is a stall, not a pass. */
    if (!w->stop && !all_done(w)) {
        violation(w, false, "liveness: the cluster went quiet before %u heights were committed",
                  p->heights);
    }
    res->sim_time_ms = w->now_ms;
    for (uint32_t i = 0; i < w->node_count; i++) {
        node_t *nd = &w->nodes[i];
        if (nd->rep != NULL && nd->byz != BYZ_SILENT) {
            res->evidence += cs_replica_evidence_total(nd->rep);
            res->sign_refusals += cs_replica_sign_refusals(nd->rep);
        }
        free(nd->rep);
        free(nd->wal);
    }
    free(w->heap);
    free(w->pool);
    free(w->free_list);
    free(w->signed_table);
    free(w);
    return 0;
}
