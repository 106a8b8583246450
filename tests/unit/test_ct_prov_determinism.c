/* tests/unit/test_ct_prov_determinism.c — the same transactions in the same
 * order give byte-identical state roots: a seeded sequence of 10,000 mixed
 * members and provenance txs (many refused on purpose) is generated against
 * one state, then replayed block by block on a fresh state, and every
 * block's state root must agree. And a fixed sequence (item and event
 * batches, applied and refused) must reproduce recorded state roots: any
 * change to execution that alters one written byte, or one refusal, fails
 * it. */
#include "test_ct_prov_env.h"

#define GTIN_A "10614141073464"
#define TXS 10000
#define BLOCK_TXS 50

static uint64_t rng = 0x5eed;
static uint64_t rnd(void) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Applied and refused txs per type, in the generating run. */
static uint32_t applied[16], refused_n[16];

typedef struct {
    uint8_t *bytes;
    size_t len;
} txbuf;

typedef struct {
    txbuf *txs;
    size_t n, cap;
    uint8_t roots[TXS / BLOCK_TXS + 64][HM_HASH_LEN];
    size_t sizes[TXS / BLOCK_TXS + 64]; /* txs per block */
    size_t blocks;
} tape;

static void tape_add(tape *t, uint8_t *bytes, size_t len) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->txs = realloc(t->txs, t->cap * sizeof *t->txs);
        assert_non_null(t->txs);
    }
    t->txs[t->n].bytes = bytes;
    t->txs[t->n].len = len;
    t->n++;
}

static void build(tape *t, uint32_t type, const hm_keypair *kp, uint64_t nonce, const uint8_t *body,
                  size_t body_len, uint8_t **recs, size_t *lens, uint32_t n) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    assert_int_equal(ct_tx_build(&w, type, kp, ENV_CHAIN, nonce, body, body_len, n > 0,
                                 (const uint8_t *const *)recs, lens, n),
                     HM_OK);
    size_t len = 0;
    uint8_t *bytes = hm_writer_take(&w, &len);
    tape_add(t, bytes, len);
}

static void encode_body(hm_writer *w, uint8_t *buf, size_t cap) {
    hm_writer_init(w, buf, cap);
}

/* Executes txs [first, first+count) as one block over e's state. */
static void run_block(env *e, const tape *t, size_t first, size_t count, uint8_t root_out[32]) {
    ct_exec *x = env_block_open(e);
    for (size_t i = first; i < first + count; i++) {
        ct_result res;
        assert_int_equal(ct_exec_tx(x, t->txs[i].bytes, t->txs[i].len, false, &res), HM_OK);
        ct_tx tx;
        assert_int_equal(ct_tx_decode(t->txs[i].bytes, t->txs[i].len, &tx), HM_OK);
        if (tx.type < 16) {
            if (res.code == HM_OK)
                applied[tx.type]++;
            else
                refused_n[tx.type]++;
        }
    }
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    ct_exec_state_root(x, e->root, root_out);
    memcpy(e->root, root_out, HM_HASH_LEN);
    assert_int_equal(ct_exec_apply_to_memstore(x, e->mem), HM_OK);
    ct_exec_free(x);
}

enum { N_ACTORS = 4 };

static void test_replay_agrees(void **state) {
    (void)state;
    env *e = env_new();
    tape *t = calloc(1, sizeof *t);
    hm_keypair actors[N_ACTORS]; /* brand, logistics, retailer, second brand */
    uint32_t roles[N_ACTORS] = {CT_ROLE_BRAND, CT_ROLE_LOGISTICS, CT_ROLE_RETAILER, CT_ROLE_BRAND};
    uint64_t nonce = 0;
    uint8_t buf[4096];
    hm_writer w;
    for (int i = 0; i < N_ACTORS; i++) {
        env_key(&actors[i], (uint8_t)(10 + i));
        ct_member_add_body b = {.key = actors[i].pub, .roles = roles[i]};
        snprintf(b.name, sizeof b.name, "actor%d", i);
        encode_body(&w, buf, sizeof buf);
        assert_int_equal(ct_member_add_encode(&b, &w), HM_OK);
        build(t, CT_TX_MEMBER_ADD, &e->admin, ++nonce, buf, w.len, NULL, NULL, 0);
    }
    ct_prefix_assign_body pb = {.prefix = "0614141"};
    memcpy(pb.brand.bytes, actors[0].pub.bytes, 32);
    encode_body(&w, buf, sizeof buf);
    assert_int_equal(ct_prefix_assign_encode(&pb, &w), HM_OK);
    build(t, CT_TX_PREFIX_ASSIGN, &e->admin, ++nonce, buf, w.len, NULL, NULL, 0);
    ct_product_body *prod = calloc(1, sizeof *prod);
    strcpy(prod->gtin, GTIN_A);
    strcpy(prod->name, "Bag");
    encode_body(&w, buf, sizeof buf);
    assert_int_equal(ct_product_encode(prod, &w), HM_OK);
    free(prod);
    uint8_t product_hash[HM_HASH_LEN];
    hm_sha256(buf, w.len, product_hash);
    build(t, CT_TX_PRODUCT_SET, &actors[0], ++nonce, buf, w.len, NULL, NULL, 0);
    uint8_t root[HM_HASH_LEN];
    run_block(e, t, 0, t->n, root);
    t->sizes[t->blocks] = t->n;
    memcpy(t->roots[t->blocks++], root, 32);

    uint32_t serial_next = 0;
    ct_event_record *ev = calloc(1, sizeof *ev);
    ct_custody_body *cb = calloc(1, sizeof *cb);
    ct_recall_body *rb = calloc(1, sizeof *rb);
    while (t->n < TXS) {
        size_t block_first = t->n;
        for (int k = 0; k < BLOCK_TXS && t->n < TXS; k++) {
            uint64_t pick = rnd() % 100;
            /* A random existing (or not) serial. */
            char serial[21];
            snprintf(serial, sizeof serial, "S%u",
                     serial_next ? (uint32_t)(rnd() % (serial_next + 2)) : 0);
            const hm_keypair *who = &actors[rnd() % N_ACTORS];
            if (pick < 25) {
                uint32_t n = 1 + (uint32_t)(rnd() % 8);
                uint8_t *recs[8];
                size_t lens[8];
                for (uint32_t i = 0; i < n; i++) {
                    ct_item_record r;
                    memset(&r, 0, sizeof r);
                    strcpy(r.gtin, GTIN_A);
                    /* Now and then a duplicate, refusing the whole batch. */
                    uint32_t s = rnd() % 20 == 0 && serial_next ? (uint32_t)(rnd() % serial_next)
                                                                : serial_next++;
                    snprintf(r.serial, sizeof r.serial, "S%u", s);
                    snprintf(r.lot, sizeof r.lot, "L%u", s % 7);
                    memcpy(r.product_hash, product_hash, 32);
                    r.has_code = s % 3 == 0;
                    char code[16];
                    snprintf(code, sizeof code, "c%u", s);
                    hm_sha256((const uint8_t *)code, strlen(code), r.code_hash);
                    hm_writer rw;
                    hm_writer_init_growable(&rw, CT_RECORD_MAX);
                    assert_int_equal(ct_item_record_encode(&r, &rw), HM_OK);
                    recs[i] = hm_writer_take(&rw, &lens[i]);
                }
                build(t, CT_TX_ITEM_REGISTER, rnd() % 10 ? &actors[0] : who, ++nonce, NULL, 0, recs,
                      lens, n);
                for (uint32_t i = 0; i < n; i++)
                    free(recs[i]);
            } else if (pick < 60) {
                /* An event on one item, usually by its custodian with the
                 * right previous hash (read from the current state). */
                memset(ev, 0, sizeof *ev);
                uint64_t v = rnd();
                hm_sha256((const uint8_t *)&v, sizeof v, ev->event_hash);
                ev->type = CT_EPCIS_OBJECT;
                ev->action = CT_ACTION_OBSERVE;
                ev->event_time_ms = 1000 + rnd() % 100000;
                strcpy(ev->tz_offset, "+08:00");
                snprintf(ev->biz_step, sizeof ev->biz_step, "https://ref.gs1.org/cbv/BizStep-%s",
                         rnd() % 2 ? "shipping" : "receiving");
                ev->epc_count = 1;
                assert_int_equal(ct_item_epc(GTIN_A, serial, ev->epcs[0].epc, CT_URI_MAX + 1),
                                 HM_OK);
                ct_item_status st;
                const hm_keypair *signer = who;
                if (ct_query_item(&e->store, GTIN_A, serial, &st) == HM_OK) {
                    if (rnd() % 10)
                        memcpy(ev->epcs[0].prev_hash, st.last_event, 32);
                    for (int i = 0; i < N_ACTORS; i++)
                        if (rnd() % 10 && memcmp(actors[i].pub.bytes, st.custodian.bytes, 32) == 0)
                            signer = &actors[i];
                }
                hm_writer rw;
                hm_writer_init_growable(&rw, CT_RECORD_MAX);
                assert_int_equal(ct_event_record_encode(ev, &rw), HM_OK);
                size_t len = 0;
                uint8_t *rec = hm_writer_take(&rw, &len);
                build(t, CT_TX_EVENT_RECORD, signer, ++nonce, NULL, 0, &rec, &len, 1);
                free(rec);
            } else if (pick < 75) {
                memset(cb, 0, sizeof *cb);
                memcpy(cb->to.bytes, actors[rnd() % N_ACTORS].pub.bytes, 32);
                cb->item_count = 1;
                strcpy(cb->items[0].gtin, GTIN_A);
                strcpy(cb->items[0].serial, serial);
                const hm_keypair *signer = who;
                ct_item_status st;
                if (ct_query_item(&e->store, GTIN_A, serial, &st) == HM_OK)
                    for (int i = 0; i < N_ACTORS; i++)
                        if (rnd() % 8 && memcmp(actors[i].pub.bytes, st.custodian.bytes, 32) == 0)
                            signer = &actors[i];
                encode_body(&w, buf, sizeof buf);
                assert_int_equal(ct_custody_encode(cb, &w), HM_OK);
                build(t, CT_TX_CUSTODY_TRANSFER, signer, ++nonce, buf, w.len, NULL, NULL, 0);
            } else if (pick < 85) {
                ct_claim_body c;
                memset(&c, 0, sizeof c);
                strcpy(c.item.gtin, GTIN_A);
                strcpy(c.item.serial, serial);
                c.code_len = (size_t)snprintf((char *)c.code, sizeof c.code, "c%s",
                                              rnd() % 4 ? serial + 1 : "x");
                encode_body(&w, buf, sizeof buf);
                assert_int_equal(ct_claim_encode(&c, &w), HM_OK);
                build(t, CT_TX_CLAIM, NULL, 0, buf, w.len, NULL, NULL, 0);
            } else if (pick < 92) {
                memset(rb, 0, sizeof *rb);
                strcpy(rb->reason, "test");
                if (rnd() % 2) {
                    rb->mode = CT_RECALL_LOT;
                    strcpy(rb->gtin, GTIN_A);
                    snprintf(rb->lot, sizeof rb->lot, "L%u", (uint32_t)(rnd() % 7));
                } else {
                    rb->mode = CT_RECALL_ITEMS;
                    rb->item_count = 1;
                    strcpy(rb->items[0].gtin, GTIN_A);
                    strcpy(rb->items[0].serial, serial);
                }
                encode_body(&w, buf, sizeof buf);
                assert_int_equal(ct_recall_encode(rb, &w), HM_OK);
                build(t, CT_TX_RECALL, rnd() % 4 ? &actors[0] : who, ++nonce, buf, w.len, NULL,
                      NULL, 0);
            } else {
                /* Members: add a fresh key (sometimes by a non-admin). */
                hm_keypair kp;
                env_key(&kp, (uint8_t)(100 + rnd() % 100));
                ct_member_add_body b = {.key = kp.pub, .roles = CT_ROLE_AUDITOR};
                strcpy(b.name, "m");
                encode_body(&w, buf, sizeof buf);
                assert_int_equal(ct_member_add_encode(&b, &w), HM_OK);
                build(t, CT_TX_MEMBER_ADD, rnd() % 4 ? &e->admin : who, ++nonce, buf, w.len, NULL,
                      NULL, 0);
            }
        }
        run_block(e, t, block_first, t->n - block_first, root);
        t->sizes[t->blocks] = t->n - block_first;
        memcpy(t->roots[t->blocks++], root, 32);
    }
    free(ev);
    free(cb);
    free(rb);
    size_t states_first = ct_memstore_count(e->mem);
    /* Every kind of tx both applied and was refused some of the time. */
    for (uint32_t type = CT_TX_ITEM_REGISTER; type <= CT_TX_CLAIM; type++) {
        print_message("type %u: %u applied, %u refused\n", type, applied[type], refused_n[type]);
        assert_true(applied[type] > 20);
        assert_true(refused_n[type] > 5);
    }
    env_free(e);

    /* Replay on a fresh state, block by block. */
    env *e2 = env_new();
    size_t first = 0;
    for (size_t b = 0; b < t->blocks; b++) {
        size_t count = t->sizes[b];
        run_block(e2, t, first, count, root);
        assert_memory_equal(root, t->roots[b], 32);
        first += count;
    }
    assert_int_equal(first, t->n);
    assert_int_equal(ct_memstore_count(e2->mem), states_first);
    /* The run must have done real work: many items and events exist. */
    assert_true(states_first > 5000);
    env_free(e2);
    for (size_t i = 0; i < t->n; i++)
        free(t->txs[i].bytes);
    free(t->txs);
    free(t);
}

/* ------------------------------------------------------------ golden roots */

/* The roots the fixed sequence below gave when recorded; an optimisation of
 * execution must reproduce them exactly. Signatures are replaced by a fixed
 * value and not checked (BIP340 signing draws fresh randomness, which would
 * change every tx id), as after the node's verify cache. Recorded again when
 * the brand's index went from one row per item to one per batch (p/bb/), a
 * change of the state's format. */
static const char GOLDEN_ROOT_BLOCKS[] =
    "fe64839c3708be232d40c24c45b87747508c359eb5bd8ddc99b2496cf9cc0a04";
static const char GOLDEN_ROOT_ONE_BLOCK[] =
    "eb1bb2828556ecdcddde95d892955828c18eab4c2db577c75652e1d4801ab049";

#define GOLDEN_ITEMS 1000
#define GOLDEN_EVENTS 64

static uint8_t *golden_tx(uint32_t type, const hm_keypair *kp, uint64_t nonce, const uint8_t *body,
                          size_t body_len, uint8_t *const *recs, const size_t *lens, uint32_t n,
                          size_t *len) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    assert_int_equal(ct_tx_build(&w, type, kp, ENV_CHAIN, nonce, body, body_len, n > 0,
                                 (const uint8_t *const *)recs, lens, n),
                     HM_OK);
    uint8_t *tx = hm_writer_take(&w, len);
    ct_tx t;
    assert_int_equal(ct_tx_decode(tx, *len, &t), HM_OK);
    memset(tx + t.head_len, 0x5a, HM_SIG_LEN);
    return tx;
}

static uint8_t *golden_items(const hm_keypair *brand, uint64_t nonce, uint32_t first, uint32_t n,
                             uint32_t dup_at, const uint8_t product_hash[32], size_t *len) {
    uint8_t **recs = calloc(n, sizeof *recs);
    size_t *lens = calloc(n, sizeof *lens);
    assert_true(recs != NULL && lens != NULL);
    for (uint32_t i = 0; i < n; i++) {
        ct_item_record r = {.gtin = GTIN_A};
        uint32_t serial = i == dup_at ? 5 : first + i;
        snprintf(r.serial, sizeof r.serial, "G%05u", serial);
        snprintf(r.lot, sizeof r.lot, "L%u", serial / 300);
        if (serial % 2)
            strcpy(r.expiry, "301231");
        memcpy(r.product_hash, product_hash, 32);
        r.has_code = serial % 3 == 0;
        if (r.has_code)
            hm_sha256((const uint8_t *)r.serial, strlen(r.serial), r.code_hash);
        hm_writer rw;
        hm_writer_init_growable(&rw, CT_RECORD_MAX);
        assert_int_equal(ct_item_record_encode(&r, &rw), HM_OK);
        recs[i] = hm_writer_take(&rw, &lens[i]);
    }
    uint8_t *tx = golden_tx(CT_TX_ITEM_REGISTER, brand, nonce, NULL, 0, recs, lens, n, len);
    for (uint32_t i = 0; i < n; i++)
        free(recs[i]);
    free(recs);
    free(lens);
    return tx;
}

/* Events on items 0..n-1, each its item's first (prev all zero), then one
 * more on item 0 chained to the first inside the batch; bad_chain names a
 * wrong previous hash on the last record. */
static uint8_t *golden_events(const hm_keypair *signer, uint64_t nonce, uint32_t seed, uint32_t n,
                              bool bad_chain, size_t *len) {
    uint8_t **recs = calloc(n + 1, sizeof *recs);
    size_t *lens = calloc(n + 1, sizeof *lens);
    ct_event_record *ev = calloc(1, sizeof *ev);
    assert_true(recs != NULL && lens != NULL && ev != NULL);
    uint8_t first_hash[32] = {0};
    for (uint32_t i = 0; i <= n; i++) {
        memset(ev, 0, sizeof *ev);
        uint32_t v[2] = {seed, i};
        hm_sha256((const uint8_t *)v, sizeof v, ev->event_hash);
        ev->type = CT_EPCIS_OBJECT;
        ev->action = CT_ACTION_OBSERVE;
        ev->event_time_ms = 1700000000000ULL + 1000u * i;
        strcpy(ev->tz_offset, "+08:00");
        snprintf(ev->biz_step, sizeof ev->biz_step, "https://ref.gs1.org/cbv/BizStep-%s",
                 i % 2 ? "shipping" : "receiving");
        ev->epc_count = 1;
        char serial[16];
        snprintf(serial, sizeof serial, "G%05u", i == n ? 0 : i);
        assert_int_equal(ct_item_epc(GTIN_A, serial, ev->epcs[0].epc, CT_URI_MAX + 1), HM_OK);
        if (i == 0)
            memcpy(first_hash, ev->event_hash, 32);
        if (i == n && !bad_chain)
            memcpy(ev->epcs[0].prev_hash, first_hash, 32);
        hm_writer rw;
        hm_writer_init_growable(&rw, CT_RECORD_MAX);
        assert_int_equal(ct_event_record_encode(ev, &rw), HM_OK);
        recs[i] = hm_writer_take(&rw, &lens[i]);
    }
    uint8_t *tx = golden_tx(CT_TX_EVENT_RECORD, signer, nonce, NULL, 0, recs, lens, n + 1, len);
    for (uint32_t i = 0; i <= n; i++)
        free(recs[i]);
    free(recs);
    free(lens);
    free(ev);
    return tx;
}

enum { GOLDEN_TXS = 10 };

/* Runs the fixed sequence, one block per tx or all in one block; checks
 * each tx's verdict and returns the final root as hex. */
static void golden_run(bool one_block, char hex[2 * HM_HASH_LEN + 1]) {
    env *e = env_new();
    hm_keypair brand, carrier;
    env_key(&brand, 2);
    env_key(&carrier, 3);
    uint8_t *txs[GOLDEN_TXS];
    size_t lens[GOLDEN_TXS];
    uint8_t buf[2048];
    hm_writer w;
    ct_member_add_body ma = {.key = brand.pub, .roles = CT_ROLE_BRAND, .name = "Brand"};
    encode_body(&w, buf, sizeof buf);
    assert_int_equal(ct_member_add_encode(&ma, &w), HM_OK);
    txs[0] = golden_tx(CT_TX_MEMBER_ADD, &e->admin, 1, buf, w.len, NULL, NULL, 0, &lens[0]);
    ct_member_add_body mc = {.key = carrier.pub, .roles = CT_ROLE_LOGISTICS, .name = "Carrier"};
    encode_body(&w, buf, sizeof buf);
    assert_int_equal(ct_member_add_encode(&mc, &w), HM_OK);
    txs[1] = golden_tx(CT_TX_MEMBER_ADD, &e->admin, 2, buf, w.len, NULL, NULL, 0, &lens[1]);
    ct_prefix_assign_body pa = {.prefix = "0614141"};
    memcpy(pa.brand.bytes, brand.pub.bytes, 32);
    encode_body(&w, buf, sizeof buf);
    assert_int_equal(ct_prefix_assign_encode(&pa, &w), HM_OK);
    txs[2] = golden_tx(CT_TX_PREFIX_ASSIGN, &e->admin, 3, buf, w.len, NULL, NULL, 0, &lens[2]);
    ct_product_body pb = {.gtin = GTIN_A, .name = "Silk scarf", .description = "Golden"};
    encode_body(&w, buf, sizeof buf);
    assert_int_equal(ct_product_encode(&pb, &w), HM_OK);
    uint8_t product_hash[32];
    hm_sha256(buf, w.len, product_hash);
    txs[3] = golden_tx(CT_TX_PRODUCT_SET, &brand, 4, buf, w.len, NULL, NULL, 0, &lens[3]);
    txs[4] = golden_items(&brand, 5, 0, GOLDEN_ITEMS, UINT32_MAX, product_hash, &lens[4]);
    /* refused: its record 37 is item 5 again */
    txs[5] = golden_items(&brand, 6, GOLDEN_ITEMS, 40, 37, product_hash, &lens[5]);
    /* refused before any rule: a record altered after signing */
    txs[6] = golden_items(&brand, 7, GOLDEN_ITEMS, 40, UINT32_MAX, product_hash, &lens[6]);
    txs[6][lens[6] - 1] ^= 1;
    txs[7] = golden_events(&brand, 8, 1, GOLDEN_EVENTS, false, &lens[7]);
    /* refused: the last event names a wrong previous event */
    txs[8] = golden_events(&brand, 9, 2, GOLDEN_EVENTS, true, &lens[8]);
    /* refused: the carrier holds none of these items */
    txs[9] = golden_events(&carrier, 10, 3, 4, false, &lens[9]);
    const hm_err want_code[GOLDEN_TXS] = {HM_OK,           HM_OK,           HM_OK,        HM_OK,
                                          HM_OK,           HM_ERR_CONFLICT, HM_ERR_PROOF, HM_OK,
                                          HM_ERR_CONFLICT, HM_ERR_DENIED};
    const uint32_t want_index[GOLDEN_TXS] = {0, 0, 0, 0, 0, 37, 0, 0, 0, 0};
    ct_exec *x = NULL;
    for (int i = 0; i < GOLDEN_TXS; i++) {
        if (x == NULL) {
            x = env_block_open(e);
        }
        ct_result res;
        assert_int_equal(ct_exec_tx(x, txs[i], lens[i], true, &res), HM_OK);
        if (res.code != want_code[i] || res.index != want_index[i])
            print_error("golden tx %d: %s rule %u index %u (%s)\n", i, hm_err_name(res.code),
                        res.rule, res.index, res.message);
        assert_int_equal(res.code, want_code[i]);
        assert_int_equal(res.index, want_index[i]);
        if (one_block && i + 1 < GOLDEN_TXS)
            continue;
        assert_int_equal(ct_exec_end_block(x), HM_OK);
        uint8_t root[HM_HASH_LEN];
        ct_exec_state_root(x, e->root, root);
        memcpy(e->root, root, HM_HASH_LEN);
        assert_int_equal(ct_exec_apply_to_memstore(x, e->mem), HM_OK);
        ct_exec_free(x);
        x = NULL;
    }
    for (int i = 0; i < GOLDEN_TXS; i++)
        free(txs[i]);
    for (int i = 0; i < HM_HASH_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", e->root[i]);
    env_free(e);
}

static void test_golden_roots(void **state) {
    (void)state;
    char hex[2 * HM_HASH_LEN + 1];
    golden_run(false, hex);
    if (strcmp(hex, GOLDEN_ROOT_BLOCKS) != 0)
        print_error("golden root (one block per tx): %s\n", hex);
    assert_string_equal(hex, GOLDEN_ROOT_BLOCKS);
    golden_run(true, hex);
    if (strcmp(hex, GOLDEN_ROOT_ONE_BLOCK) != 0)
        print_error("golden root (one block): %s\n", hex);
    assert_string_equal(hex, GOLDEN_ROOT_ONE_BLOCK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_agrees),
        cmocka_unit_test(test_golden_roots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
