/* tests/unit/test_ct_core.c — the contracts core: envelope, ordered map,
 * overlay execution, scans, results and the state root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_internal.h"

static const char CHAIN[] = "test-chain";

static uint64_t rng_state = 0x1234567;
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void make_key(hm_keypair *kp, uint8_t seed) {
    uint8_t sk[32];
    memset(sk, seed, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(kp, sk), HM_OK);
}

/* A tx built into a growable writer; the caller frees *out. */
static size_t build_tx(uint8_t **out, uint32_t type, const hm_keypair *kp, uint64_t nonce,
                       const char *body, uint32_t records) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    const uint8_t *recs[8];
    size_t lens[8];
    static const char *texts[8] = {"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"};
    assert_true(records <= 8);
    for (uint32_t i = 0; i < records; i++) {
        recs[i] = (const uint8_t *)texts[i];
        lens[i] = strlen(texts[i]);
    }
    assert_int_equal(ct_tx_build(&w, type, kp, CHAIN, nonce, (const uint8_t *)body, strlen(body),
                                 records > 0, records ? recs : NULL, records ? lens : NULL,
                                 records),
                     HM_OK);
    size_t len;
    *out = hm_writer_take(&w, &len);
    return len;
}

/* ------------------------------------------------------------ bytemap */

static bool collect_keys(void *arg, const ct_bytemap_node *n) {
    uint64_t **cursor = arg;
    uint64_t v;
    assert_int_equal(n->key_len, 8);
    memcpy(&v, n->key, 8);
    *(*cursor)++ = v;
    return true;
}

static void test_bytemap_order_and_lookup(void **state) {
    (void)state;
    enum { N = 5000 };
    ct_bytemap m;
    ct_bytemap_init(&m);
    uint64_t *keys = calloc(N, sizeof *keys);
    for (size_t i = 0; i < N; i++) {
        uint8_t be[8];
        uint64_t v = rng_next() % 100000;
        for (int b = 0; b < 8; b++)
            be[b] = (uint8_t)(v >> (56 - 8 * b));
        ct_bytemap_node *n;
        assert_int_equal(ct_bytemap_slot(&m, be, 8, &n), HM_OK);
        assert_int_equal(ct_bytemap_node_set(n, be, 8), HM_OK);
        keys[i] = v;
    }
    /* Every key is found, and walking gives strictly increasing keys. */
    for (size_t i = 0; i < N; i++) {
        uint8_t be[8];
        for (int b = 0; b < 8; b++)
            be[b] = (uint8_t)(keys[i] >> (56 - 8 * b));
        ct_bytemap_node *n = ct_bytemap_find(&m, be, 8);
        assert_non_null(n);
        assert_memory_equal(n->val, be, 8);
    }
    uint64_t *walked = calloc(m.nodes, sizeof *walked);
    uint64_t *cursor = walked;
    assert_true(ct_bytemap_walk(&m, NULL, 0, NULL, 0, collect_keys, &cursor));
    assert_int_equal((size_t)(cursor - walked), m.nodes);
    for (size_t i = 1; i < m.nodes; i++) {
        uint8_t a[8], b[8];
        memcpy(a, &walked[i - 1], 8);
        memcpy(b, &walked[i], 8);
        assert_true(ct_key_compare(a, 8, b, 8) < 0);
    }
    free(walked);
    free(keys);
    ct_bytemap_free(&m);
}

/* Checks the AVL invariants below n and returns its height. */
static int avl_check(const ct_bytemap_node *n) {
    if (n == NULL)
        return 0;
    int l = avl_check(n->left), r = avl_check(n->right);
    assert_true(l - r <= 1 && r - l <= 1);
    if (n->left != NULL)
        assert_true(ct_key_compare(n->left->key, n->left->key_len, n->key, n->key_len) < 0);
    if (n->right != NULL)
        assert_true(ct_key_compare(n->key, n->key_len, n->right->key, n->right->key_len) < 0);
    assert_int_equal(n->height, (l > r ? l : r) + 1);
    return n->height;
}

/* Keys arriving in order (a batch's items), then at random, in both kinds
 * of map: the tree stays balanced, every key keeps its own value (small
 * ones packed in arena blocks, large ones in blocks of their own), and
 * replaced arena values stay readable (the undo journal relies on it). */
static void test_bytemap_sorted_and_arena(void **state) {
    (void)state;
    enum { SORTED = 20000, RANDOM = 5000, BIG = 100 * 1024 };
    uint8_t *big = malloc(BIG);
    assert_non_null(big);
    memset(big, 0xab, BIG);
    for (int arena = 0; arena < 2; arena++) {
        ct_bytemap m;
        if (arena)
            ct_bytemap_init_arena(&m);
        else
            ct_bytemap_init(&m);
        const uint8_t *first_val = NULL;
        for (size_t i = 0; i < SORTED + RANDOM; i++) {
            uint8_t key[12] = "k/";
            uint64_t v = i < SORTED ? i : rng_next() % (2 * SORTED);
            for (int b = 0; b < 8; b++)
                key[2 + b] = (uint8_t)(v >> (56 - 8 * b));
            size_t key_len = 2 + 8 + (v % 3); /* some keys extend others */
            ct_bytemap_node *n;
            assert_int_equal(ct_bytemap_slot(&m, key, key_len, &n), HM_OK);
            const uint8_t *val = v % 1000 == 7 ? big : key;
            size_t val_len = v % 1000 == 7 ? BIG : key_len;
            if (arena) {
                uint8_t *copy;
                assert_int_equal(ct_bytemap_value_copy(&m, val, val_len, &copy), HM_OK);
                if (i == 0)
                    first_val = copy;
                ct_bytemap_node_put(n, copy, val_len, CT_SLOT_SET);
            } else {
                assert_int_equal(ct_bytemap_node_set(n, val, val_len), HM_OK);
            }
        }
        assert_true(avl_check(m.root) <= 2 * 16); /* about 1.44 log2(nodes) */
        size_t seen = 0;
        for (uint64_t v = 0; v < 2 * SORTED; v++) {
            uint8_t key[12] = "k/";
            for (int b = 0; b < 8; b++)
                key[2 + b] = (uint8_t)(v >> (56 - 8 * b));
            ct_bytemap_node *n = ct_bytemap_find(&m, key, 2 + 8 + (v % 3));
            if (n == NULL) {
                assert_true(v >= SORTED);
                continue;
            }
            seen++;
            if (v % 1000 == 7)
                assert_memory_equal(n->val, big, BIG);
            else
                assert_memory_equal(n->val, key, n->key_len);
        }
        assert_int_equal(seen, m.nodes);
        if (arena)
            assert_memory_equal(first_val, "k/\0\0\0\0\0\0\0\0", 10);
        ct_bytemap_free(&m);
    }
    free(big);
}

/* A key of the slots_sorted test: "k/" | big-endian v | (v % 3) more bytes,
 * so that some keys extend others. */
static size_t sorted_test_key(uint64_t v, uint8_t key[12]) {
    memset(key, 0, 12);
    key[0] = 'k';
    key[1] = '/';
    for (int b = 0; b < 8; b++)
        key[2 + b] = (uint8_t)(v >> (56 - 8 * b));
    return 2 + 8 + (v % 3);
}

/* The slots a walk or a cursor meets: how many, and an order-sensitive sum
 * of their addresses. */
typedef struct {
    size_t count;
    uint64_t sum[1];
} cursor_log;

static bool cursor_log_add(void *arg, const ct_bytemap_node *n) {
    cursor_log *l = arg;
    l->count++;
    l->sum[0] = l->sum[0] * 1000003u + (uint64_t)(uintptr_t)n;
    return true;
}

/* ct_bytemap_slots_sorted gives what one ct_bytemap_slot per key gives, on
 * both of its paths (rebuild when the map is small next to the keys, descents
 * when it is large) and in both kinds of map: the slot of each key, old
 * slots kept with their values, new ones ABSENT, the tree a valid AVL tree
 * holding every key once. Unsorted, repeated or empty keys are refused and
 * leave the map as it was. A cursor over a range meets the slots a walk
 * over it meets, in the same order. */
static void test_bytemap_slots_sorted(void **state) {
    (void)state;
    enum { KEYS = 3000 };
    static const size_t old_counts[] = {0, 1, 50, 2000, 40000};
    for (int arena = 0; arena < 2; arena++) {
        for (size_t t = 0; t < sizeof old_counts / sizeof old_counts[0]; t++) {
            ct_bytemap m;
            if (arena)
                ct_bytemap_init_arena(&m);
            else
                ct_bytemap_init(&m);
            /* Old keys: even values, each holding its own key as value;
             * the largest map spread wide enough to be over 8 times the
             * new keys (contracts/bytemap.c's SORTED_REBUILD_FACTOR), so
             * that it takes the descents. */
            const uint64_t spread = old_counts[t] > 4 * KEYS ? 2 * old_counts[t] : 4 * KEYS;
            for (size_t i = 0; i < old_counts[t]; i++) {
                uint8_t key[12];
                size_t key_len = sorted_test_key(2 * (rng_next() % spread), key);
                ct_bytemap_node *n;
                assert_int_equal(ct_bytemap_slot(&m, key, key_len, &n), HM_OK);
                if (arena) {
                    uint8_t *copy;
                    assert_int_equal(ct_bytemap_value_copy(&m, key, key_len, &copy), HM_OK);
                    ct_bytemap_node_put(n, copy, key_len, CT_SLOT_SET);
                } else {
                    assert_int_equal(ct_bytemap_node_set(n, key, key_len), HM_OK);
                }
            }
            size_t before = m.nodes;
            if (old_counts[t] > 4 * KEYS)
                assert_true(before > 8 * KEYS);
            /* New keys: every third value below 4 * KEYS (old ones among them). */
            static uint8_t keys[KEYS][12];
            static ct_write_ref w[KEYS];
            static ct_bytemap_node *out[KEYS];
            size_t n = 0;
            for (uint64_t v = 0; v < 4 * KEYS && n < KEYS; v += 3) {
                w[n].key = keys[n];
                w[n].key_len = sorted_test_key(v, keys[n]);
                n++;
            }
            /* Refusals first: nothing may change. */
            ct_write_ref swapped[2] = {w[1], w[0]};
            assert_int_equal(ct_bytemap_slots_sorted(&m, swapped, 2, out), HM_ERR_ARG);
            ct_write_ref twice[2] = {w[0], w[0]};
            assert_int_equal(ct_bytemap_slots_sorted(&m, twice, 2, out), HM_ERR_ARG);
            ct_write_ref empty = {.key = keys[0], .key_len = 0};
            assert_int_equal(ct_bytemap_slots_sorted(&m, &empty, 1, out), HM_ERR_ARG);
            assert_int_equal(m.nodes, before);

            size_t existing = 0;
            static bool was[KEYS];
            for (size_t i = 0; i < n; i++) {
                was[i] = ct_bytemap_find(&m, w[i].key, w[i].key_len) != NULL;
                existing += was[i];
            }
            assert_int_equal(ct_bytemap_slots_sorted(&m, w, n, out), HM_OK);
            assert_int_equal(m.nodes, before + n - existing);
            avl_check(m.root);
            for (size_t i = 0; i < n; i++) {
                assert_ptr_equal(out[i], ct_bytemap_find(&m, w[i].key, w[i].key_len));
                /* old slots kept with their values, new ones absent */
                assert_int_equal(out[i]->state, was[i] ? CT_SLOT_SET : CT_SLOT_ABSENT);
                if (was[i])
                    assert_memory_equal(out[i]->val, w[i].key, w[i].key_len);
            }
            /* In order, each key once: as many as the map counts. */
            uint8_t last[12];
            size_t last_len = 0, walked = 0;
            for (ct_bytemap_node *stack[96], *c = m.root, **sp = stack; c != NULL || sp > stack;) {
                while (c != NULL) {
                    *sp++ = c;
                    c = c->left;
                }
                c = *--sp;
                if (walked++ > 0)
                    assert_true(ct_key_compare(last, last_len, c->key, c->key_len) < 0);
                memcpy(last, c->key, c->key_len);
                last_len = c->key_len;
                c = c->right;
            }
            assert_int_equal(walked, m.nodes);
            /* The cursor gives what the walk gives, for a few ranges. */
            for (int r = 0; r < 20; r++) {
                uint8_t lo[12], hi[12];
                size_t lo_len = sorted_test_key(rng_next() % (5 * KEYS), lo);
                size_t hi_len = sorted_test_key(rng_next() % (5 * KEYS), hi);
                const uint8_t *start = r % 5 == 0 ? NULL : lo, *end = r % 7 == 0 ? NULL : hi;
                cursor_log walk_log = {0}, iter_log = {0};
                (void)ct_bytemap_walk(&m, start, lo_len, end, hi_len, cursor_log_add, &walk_log);
                ct_bytemap_iter it;
                ct_bytemap_iter_init(&it, &m, start, lo_len, end, hi_len);
                for (const ct_bytemap_node *c; (c = ct_bytemap_iter_next(&it)) != NULL;)
                    (void)cursor_log_add(&iter_log, c);
                assert_int_equal(walk_log.count, iter_log.count);
                assert_memory_equal(walk_log.sum, iter_log.sum, sizeof walk_log.sum);
            }
            ct_bytemap_free(&m);
        }
    }
}

static void test_key_compare_prefix_first(void **state) {
    (void)state;
    assert_true(ct_key_compare((const uint8_t *)"ab", 2, (const uint8_t *)"abc", 3) < 0);
    assert_true(ct_key_compare((const uint8_t *)"abd", 3, (const uint8_t *)"abc", 3) > 0);
    assert_int_equal(ct_key_compare((const uint8_t *)"", 0, (const uint8_t *)"", 0), 0);
}

/* ------------------------------------------------------------ envelope */

static void test_tx_round_trip_and_records(void **state) {
    (void)state;
    hm_keypair kp;
    make_key(&kp, 7);
    uint8_t *tx_bytes;
    size_t len = build_tx(&tx_bytes, CT_TX_NOTE, &kp, 42, "hello", 5);
    ct_tx tx;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_OK);
    assert_int_equal(tx.type, CT_TX_NOTE);
    assert_int_equal(tx.nonce, 42);
    assert_int_equal(tx.body_len, 5);
    assert_memory_equal(tx.body, "hello", 5);
    assert_memory_equal(tx.signer.bytes, kp.pub.bytes, 32);
    assert_int_equal(tx.record_count, 5);
    assert_int_equal(ct_tx_check(&tx, CHAIN, false), HM_OK);
    size_t pos = 0, n = 0;
    const uint8_t *rec;
    size_t rec_len;
    while (ct_tx_record_next(&tx, &pos, &rec, &rec_len)) {
        char expect[3] = {'r', (char)('0' + n), 0};
        assert_int_equal(rec_len, 2);
        assert_memory_equal(rec, expect, 2);
        n++;
    }
    assert_int_equal(n, 5);
    /* The id is SHA-256(head || sig). */
    uint8_t id[32];
    hm_sha256(tx.head, tx.head_len + HM_SIG_LEN, id);
    assert_memory_equal(id, tx.id, 32);
    /* Another chain id: the signature must not verify. */
    assert_int_equal(ct_tx_check(&tx, "other-chain", false), HM_ERR_BAD_SIG);
    free(tx_bytes);
}

static void test_tx_tampering_detected(void **state) {
    (void)state;
    hm_keypair kp;
    make_key(&kp, 9);
    uint8_t *tx_bytes;
    size_t len = build_tx(&tx_bytes, CT_TX_NOTE, &kp, 1, "body", 3);
    ct_tx tx;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_OK);
    size_t head_len = tx.head_len;
    /* A record byte changed: the records no longer hash to the signed root. */
    tx_bytes[len - 1] ^= 1;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_OK);
    assert_int_equal(ct_tx_check(&tx, CHAIN, false), HM_ERR_PROOF);
    tx_bytes[len - 1] ^= 1;
    /* A body byte changed: the signature fails. */
    size_t body_at = (size_t)(tx.body - tx_bytes);
    tx_bytes[body_at] ^= 1;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_OK);
    assert_int_equal(ct_tx_check(&tx, CHAIN, false), HM_ERR_BAD_SIG);
    /* ... unless the caller says it already verified this id (cache). */
    assert_int_equal(ct_tx_check(&tx, CHAIN, true), HM_OK);
    tx_bytes[body_at] ^= 1;
    /* A signature byte changed. */
    tx_bytes[head_len + 3] ^= 0x40;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_OK);
    assert_int_not_equal(ct_tx_check(&tx, CHAIN, false), HM_OK);
    free(tx_bytes);
}

static void test_tx_decode_rejections(void **state) {
    (void)state;
    hm_keypair kp;
    make_key(&kp, 11);
    uint8_t *tx_bytes;
    size_t len = build_tx(&tx_bytes, CT_TX_NOTE, &kp, 3, "x", 2);
    ct_tx tx;
    /* Every strict prefix is truncated or otherwise malformed. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal(ct_tx_decode(tx_bytes, cut, &tx), HM_OK);
    /* Trailing bytes. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, tx_bytes, len);
    longer[len] = 0;
    assert_int_equal(ct_tx_decode(longer, len + 1, &tx), HM_ERR_TRAILING);
    free(longer);
    /* Unknown version. */
    tx_bytes[0] = 2;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_ERR_UNKNOWN_TYPE);
    tx_bytes[0] = CT_TX_VERSION;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_OK);
    /* The record count in the list must match the signed count. */
    size_t list_at = (size_t)(tx.records - tx_bytes);
    tx_bytes[list_at] = 1;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_ERR_BAD_VALUE);
    free(tx_bytes);
}

static void test_tx_keyless_only_for_claims(void **state) {
    (void)state;
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    /* Building a keyless note is refused outright. */
    assert_int_equal(
        ct_tx_build(&w, CT_TX_NOTE, NULL, CHAIN, 1, (const uint8_t *)"a", 1, false, NULL, NULL, 0),
        HM_ERR_ARG);
    hm_writer_free(&w);
    hm_writer_init_growable(&w, CT_TX_MAX);
    assert_int_equal(
        ct_tx_build(&w, CT_TX_CLAIM, NULL, CHAIN, 1, (const uint8_t *)"a", 1, false, NULL, NULL, 0),
        HM_OK);
    size_t len;
    uint8_t *bytes = hm_writer_take(&w, &len);
    ct_tx tx;
    assert_int_equal(ct_tx_decode(bytes, len, &tx), HM_OK);
    assert_int_equal(ct_tx_check(&tx, CHAIN, false), HM_OK);
    /* The same zero signer on a keyed type is malformed. */
    bytes[1] = CT_TX_NOTE;
    assert_int_equal(ct_tx_decode(bytes, len, &tx), HM_ERR_BAD_VALUE);
    free(bytes);
}

/* A failed build leaves nothing in the writer that could be sent as a tx. */
static void test_tx_build_failures_leave_no_tx(void **state) {
    (void)state;
    hm_keypair kp;
    make_key(&kp, 13);
    static uint8_t big[CT_RECORD_MAX + 1];
    const uint8_t *recs[2] = {(const uint8_t *)"ok", big};
    size_t lens[2] = {2, sizeof big};
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    /* A record over the limit is refused before anything is written. */
    assert_int_equal(
        ct_tx_build(&w, CT_TX_NOTE, &kp, CHAIN, 1, (const uint8_t *)"b", 1, true, recs, lens, 2),
        HM_ERR_TOO_LONG);
    assert_int_equal(w.len, 0);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    /* Signing fails after the head is written (chain id over the maximum):
     * the writer is failed, not left holding an unsigned head. */
    char long_chain[HM_CHAIN_ID_MAX + 2];
    memset(long_chain, 'c', sizeof long_chain - 1);
    long_chain[sizeof long_chain - 1] = '\0';
    assert_int_equal(ct_tx_build(&w, CT_TX_NOTE, &kp, long_chain, 1, (const uint8_t *)"b", 1, false,
                                 NULL, NULL, 0),
                     HM_ERR_ARG);
    assert_int_equal(hm_writer_error(&w), HM_ERR_ARG);
    hm_writer_free(&w);
}

/* ------------------------------------------------------------ execution */

static ct_block_ctx block_ctx(uint64_t height) {
    ct_block_ctx c;
    memset(&c, 0, sizeof c);
    strcpy(c.chain_id, CHAIN);
    c.height = height;
    c.time_ms = 1700000000000ULL + height * 1000;
    return c;
}

/* A fresh memstore and an exec over it in block 1: what most exec tests
 * start from. ctx and store live here because the exec points at them. */
typedef struct {
    ct_memstore *mem;
    ct_store store;
    ct_block_ctx ctx;
    ct_exec *x;
} exec_env;

static void exec_env_open(exec_env *e) {
    assert_int_equal(ct_memstore_new(&e->mem), HM_OK);
    e->store = ct_memstore_store(e->mem);
    e->ctx = block_ctx(1);
    assert_int_equal(ct_exec_new(&e->store, &e->ctx, &e->x), HM_OK);
}

/* A block's writes in key order, of two sizes (so that the overlay is
 * rebuilt in one case and descended in the other): ct_state_put_sorted
 * leaves the overlay exactly as one ct_state_put per write does, over
 * earlier writes it replaces (a value, a deletion) or leaves alone, empty
 * values included; the state roots agree. Unsorted writes are refused and
 * write nothing. */
static void test_state_put_sorted_same_as_puts(void **state) {
    (void)state;
    enum { MAX = 4000 };
    static uint8_t keys[MAX][12];
    static ct_write_ref w[MAX];
    static const size_t counts[] = {3, 40, MAX};
    for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++) {
        exec_env a, b;
        exec_env_open(&a);
        exec_env_open(&b);
        /* Earlier writes of the block: 600 of them, every fifth of the
         * values, some deleted. */
        for (uint64_t v = 0; v < 3000; v += 5) {
            uint8_t key[12];
            size_t key_len = sorted_test_key(v, key);
            for (int side = 0; side < 2; side++) {
                ct_exec *x = side ? b.x : a.x;
                if (v % 10 == 0)
                    assert_int_equal(ct_state_del(x, key, key_len), HM_OK);
                else
                    assert_int_equal(ct_state_put(x, key, key_len, (const uint8_t *)"old", 3),
                                     HM_OK);
            }
        }
        size_t n = counts[t];
        for (size_t i = 0; i < n; i++) {
            uint64_t v = i * (6000 / n); /* over the earlier ones and past them */
            w[i].key = keys[i];
            w[i].key_len = sorted_test_key(v, keys[i]);
            w[i].val = i % 4 == 0 ? NULL : keys[i];
            w[i].val_len = i % 4 == 0 ? 0 : w[i].key_len;
        }
        for (size_t i = 1; i < n; i++)
            assert_true(ct_key_compare(w[i - 1].key, w[i - 1].key_len, w[i].key, w[i].key_len) < 0);
        /* two keys nothing else writes, out of order: refused, and neither
         * written */
        uint8_t odd[2][12];
        ct_write_ref swapped[2];
        for (int k = 0; k < 2; k++) {
            swapped[k].key = odd[k];
            swapped[k].key_len = sorted_test_key(6002 - (uint64_t)k, odd[k]);
            swapped[k].val = (const uint8_t *)"x";
            swapped[k].val_len = 1;
        }
        assert_int_equal(ct_state_put_sorted(b.x, swapped, 2), HM_ERR_ARG);
        for (int k = 0; k < 2; k++) {
            uint8_t *v = NULL;
            size_t vl = 0;
            assert_int_equal(ct_state_get(b.x, odd[k], swapped[k].key_len, &v, &vl),
                             HM_ERR_NOT_FOUND);
        }
        for (size_t i = 0; i < n; i++)
            assert_int_equal(ct_state_put(a.x, w[i].key, w[i].key_len, w[i].val, w[i].val_len),
                             HM_OK);
        assert_int_equal(ct_state_put_sorted(b.x, w, n), HM_OK);
        for (size_t i = 0; i < n; i++) {
            uint8_t *va = NULL, *vb = NULL;
            size_t la = 0, lb = 0;
            assert_int_equal(ct_state_get(a.x, w[i].key, w[i].key_len, &va, &la), HM_OK);
            assert_int_equal(ct_state_get(b.x, w[i].key, w[i].key_len, &vb, &lb), HM_OK);
            assert_int_equal(la, lb);
            assert_int_equal(la, w[i].val_len);
            if (la > 0)
                assert_memory_equal(va, vb, la);
            free(va);
            free(vb);
        }
        uint8_t prev[32] = {0}, ra[32], rb[32];
        assert_int_equal(ct_exec_end_block(a.x), HM_OK);
        assert_int_equal(ct_exec_end_block(b.x), HM_OK);
        ct_exec_state_root(a.x, prev, ra);
        ct_exec_state_root(b.x, prev, rb);
        assert_memory_equal(ra, rb, 32);
        for (int side = 0; side < 2; side++) {
            exec_env *e = side ? &b : &a;
            ct_exec_free(e->x);
            ct_memstore_free(e->mem);
        }
    }
}

static void test_exec_note_and_replay(void **state) {
    (void)state;
    exec_env e;
    exec_env_open(&e);
    hm_keypair kp;
    make_key(&kp, 3);
    uint8_t *tx_bytes;
    size_t len = build_tx(&tx_bytes, CT_TX_NOTE, &kp, 5, "note", 0);
    ct_result res;
    assert_int_equal(ct_exec_tx(e.x, tx_bytes, len, false, &res), HM_OK);
    assert_int_equal(res.code, HM_OK);
    /* The same tx again in the same block is refused. */
    assert_int_equal(ct_exec_tx(e.x, tx_bytes, len, false, &res), HM_OK);
    assert_int_equal(res.code, HM_ERR_CONFLICT);
    assert_int_equal(ct_exec_end_block(e.x), HM_OK);
    assert_int_equal(ct_exec_apply_to_memstore(e.x, e.mem), HM_OK);
    ct_exec_free(e.x);
    /* Two keys now: the note and the tx result. */
    assert_int_equal(ct_memstore_count(e.mem), 2);
    ct_tx tx;
    assert_int_equal(ct_tx_decode(tx_bytes, len, &tx), HM_OK);
    ct_result got;
    assert_int_equal(ct_query_tx_result(&e.store, tx.id, &got), HM_OK);
    assert_int_equal(got.code, HM_OK);
    /* And in a later block it is still refused as a replay. */
    e.ctx = block_ctx(2);
    assert_int_equal(ct_exec_new(&e.store, &e.ctx, &e.x), HM_OK);
    assert_int_equal(ct_exec_tx(e.x, tx_bytes, len, false, &res), HM_OK);
    assert_int_equal(res.code, HM_ERR_CONFLICT);
    ct_exec_free(e.x);
    free(tx_bytes);
    ct_memstore_free(e.mem);
}

static void test_exec_refusals_write_only_the_result(void **state) {
    (void)state;
    exec_env e;
    exec_env_open(&e);
    hm_keypair kp;
    make_key(&kp, 4);
    /* A note with records is refused by the note rule. */
    uint8_t *tx_bytes;
    size_t len = build_tx(&tx_bytes, CT_TX_NOTE, &kp, 6, "n", 2);
    ct_result res;
    assert_int_equal(ct_exec_tx(e.x, tx_bytes, len, false, &res), HM_OK);
    assert_int_equal(res.code, HM_ERR_BAD_VALUE);
    assert_int_equal(res.rule, 1);
    /* Garbage is refused as malformed and writes nothing at all. */
    uint8_t junk[7] = {1, 2, 3, 4, 5, 6, 7};
    assert_int_equal(ct_exec_tx(e.x, junk, sizeof junk, false, &res), HM_OK);
    assert_int_not_equal(res.code, HM_OK);
    /* A type from nobody's range. */
    free(tx_bytes);
    len = build_tx(&tx_bytes, 99, &kp, 7, "n", 0);
    assert_int_equal(ct_exec_tx(e.x, tx_bytes, len, false, &res), HM_OK);
    assert_int_not_equal(res.code, HM_OK);
    assert_int_equal(ct_exec_apply_to_memstore(e.x, e.mem), HM_OK);
    /* Only the two results of decodable txs are written. */
    assert_int_equal(ct_memstore_count(e.mem), 2);
    ct_exec_free(e.x);
    free(tx_bytes);
    ct_memstore_free(e.mem);
}

/* The id covers head and signature but not the records: a copy with altered
 * records has the genuine id. Refusing it must not spend that id, or anyone
 * who saw the tx could block it for good. */
static void test_exec_unauthenticated_tx_spends_nothing(void **state) {
    (void)state;
    exec_env e;
    exec_env_open(&e);
    hm_keypair kp;
    make_key(&kp, 12);
    uint8_t *genuine;
    size_t len = build_tx(&genuine, CT_TX_NOTE, &kp, 8, "n", 2);
    uint8_t *altered = malloc(len);
    assert_non_null(altered);
    memcpy(altered, genuine, len);
    altered[len - 1] ^= 1; /* a record byte */
    ct_tx a, g;
    assert_int_equal(ct_tx_decode(altered, len, &a), HM_OK);
    assert_int_equal(ct_tx_decode(genuine, len, &g), HM_OK);
    assert_memory_equal(a.id, g.id, HM_HASH_LEN);
    ct_result res;
    assert_int_equal(ct_exec_tx(e.x, altered, len, false, &res), HM_OK);
    assert_int_equal(res.code, HM_ERR_PROOF);
    /* ... even when the caller's cache vouches for the signature. */
    assert_int_equal(ct_exec_tx(e.x, altered, len, true, &res), HM_OK);
    assert_int_equal(res.code, HM_ERR_PROOF);
    /* A bad signature: refused, nothing written either. */
    uint8_t *forged;
    size_t forged_len = build_tx(&forged, CT_TX_NOTE, &kp, 9, "f", 0);
    ct_tx f;
    assert_int_equal(ct_tx_decode(forged, forged_len, &f), HM_OK);
    forged[(size_t)(f.body - forged)] ^= 1;
    assert_int_equal(ct_exec_tx(e.x, forged, forged_len, false, &res), HM_OK);
    assert_int_equal(res.code, HM_ERR_BAD_SIG);
    /* The genuine tx still runs: refused by the note rule, not as a replay. */
    assert_int_equal(ct_exec_tx(e.x, genuine, len, false, &res), HM_OK);
    assert_int_equal(res.code, HM_ERR_BAD_VALUE);
    assert_int_equal(res.rule, 1);
    assert_int_equal(ct_exec_apply_to_memstore(e.x, e.mem), HM_OK);
    /* Only the genuine tx's result was written. */
    assert_int_equal(ct_memstore_count(e.mem), 1);
    ct_result got;
    assert_int_equal(ct_query_tx_result(&e.store, g.id, &got), HM_OK);
    assert_int_equal(got.code, HM_ERR_BAD_VALUE);
    ct_exec_free(e.x);
    free(forged);
    free(altered);
    free(genuine);
    ct_memstore_free(e.mem);
}

typedef struct {
    char seen[64][8];
    size_t count;
    size_t stop_after;
} scan_log;

static bool log_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                    size_t val_len) {
    scan_log *l = arg;
    (void)val;
    (void)val_len;
    assert_true(key_len < 8);
    memcpy(l->seen[l->count], key, key_len);
    l->seen[l->count][key_len] = 0;
    l->count++;
    return l->stop_after == 0 || l->count < l->stop_after;
}

static void test_exec_scan_merges_overlay_and_base(void **state) {
    (void)state;
    ct_memstore *mem;
    assert_int_equal(ct_memstore_new(&mem), HM_OK);
    const char *base_keys[] = {"a1", "a3", "a5", "a7", "b1"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(
            ct_memstore_write(mem, (const uint8_t *)base_keys[i], 2, (const uint8_t *)"v", 1),
            HM_OK);
    ct_store store = ct_memstore_store(mem);
    ct_block_ctx ctx = block_ctx(1);
    ct_exec *x;
    assert_int_equal(ct_exec_new(&store, &ctx, &x), HM_OK);
    assert_int_equal(ct_state_put(x, (const uint8_t *)"a2", 2, (const uint8_t *)"w", 1), HM_OK);
    assert_int_equal(ct_state_put(x, (const uint8_t *)"a5", 2, (const uint8_t *)"w", 1), HM_OK);
    assert_int_equal(ct_state_del(x, (const uint8_t *)"a3", 2), HM_OK);
    assert_int_equal(ct_state_put(x, (const uint8_t *)"a9", 2, (const uint8_t *)"w", 1), HM_OK);
    scan_log l = {0};
    assert_int_equal(
        ct_state_scan(x, (const uint8_t *)"a", 1, (const uint8_t *)"b", 1, log_key, &l), HM_OK);
    const char *expect[] = {"a1", "a2", "a5", "a7", "a9"};
    assert_int_equal(l.count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(l.seen[i], expect[i]);
    /* A visitor that stops is not called again. */
    scan_log stop = {.stop_after = 2};
    assert_int_equal(ct_state_scan(x, (const uint8_t *)"a", 1, NULL, 0, log_key, &stop), HM_OK);
    assert_int_equal(stop.count, 2);
    /* The deleted key is gone through get, the overlay wins over the base. */
    uint8_t *val;
    size_t val_len;
    assert_int_equal(ct_state_get(x, (const uint8_t *)"a3", 2, &val, &val_len), HM_ERR_NOT_FOUND);
    assert_int_equal(ct_state_get(x, (const uint8_t *)"a5", 2, &val, &val_len), HM_OK);
    assert_int_equal(val_len, 1);
    assert_int_equal(val[0], 'w');
    free(val);
    ct_exec_free(x);
    ct_memstore_free(mem);
}

static bool count_non_null(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                           size_t val_len) {
    (void)key;
    (void)key_len;
    assert_non_null(val);
    assert_int_equal(val_len, 0);
    (*(size_t *)arg)++;
    return true;
}

/* An empty value is a value: scans hand it out as a non-NULL pointer, from
 * the base store as from the overlay, as the node's store does. */
static void test_scan_empty_values_are_values(void **state) {
    (void)state;
    ct_memstore *mem;
    assert_int_equal(ct_memstore_new(&mem), HM_OK);
    assert_int_equal(ct_memstore_write(mem, (const uint8_t *)"e1", 2, (const uint8_t *)"", 0),
                     HM_OK);
    ct_store store = ct_memstore_store(mem);
    size_t seen = 0;
    assert_int_equal(store.scan(store.ctx, (const uint8_t *)"e", 1, NULL, 0, count_non_null, &seen),
                     HM_OK);
    assert_int_equal(seen, 1);
    ct_block_ctx ctx = block_ctx(1);
    ct_exec *x;
    assert_int_equal(ct_exec_new(&store, &ctx, &x), HM_OK);
    assert_int_equal(ct_state_put(x, (const uint8_t *)"e2", 2, NULL, 0), HM_OK);
    seen = 0;
    assert_int_equal(ct_state_scan(x, (const uint8_t *)"e", 1, NULL, 0, count_non_null, &seen),
                     HM_OK);
    assert_int_equal(seen, 2);
    seen = 0;
    assert_int_equal(ct_exec_foreach_write(x, count_non_null, &seen), HM_OK);
    assert_int_equal(seen, 1);
    ct_exec_free(x);
    ct_memstore_free(mem);
}

/* Signing draws fresh aux randomness, so the txs are built once and the
 * same bytes are applied to each state. */
typedef struct {
    uint8_t *bytes[20];
    size_t lens[20];
} note_set;

static void note_set_build(note_set *set, int variant) {
    hm_keypair kp;
    make_key(&kp, 5);
    for (int i = 0; i < 20; i++) {
        char body[32];
        snprintf(body, sizeof body, "note %d", i + variant);
        set->lens[i] = build_tx(&set->bytes[i], CT_TX_NOTE, &kp, (uint64_t)i, body, 0);
    }
}

static void note_set_free(note_set *set) {
    for (int i = 0; i < 20; i++)
        free(set->bytes[i]);
}

static void run_notes(ct_store *store, const note_set *set, uint8_t root[32]) {
    ct_block_ctx ctx = block_ctx(1);
    ct_exec *x;
    assert_int_equal(ct_exec_new(store, &ctx, &x), HM_OK);
    for (int i = 0; i < 20; i++) {
        ct_result res;
        assert_int_equal(ct_exec_tx(x, set->bytes[i], set->lens[i], false, &res), HM_OK);
        assert_int_equal(res.code, HM_OK);
    }
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    uint8_t prev[32] = {0};
    ct_exec_state_root(x, prev, root);
    ct_exec_free(x);
}

static void test_state_root_deterministic(void **state) {
    (void)state;
    ct_memstore *a, *b;
    assert_int_equal(ct_memstore_new(&a), HM_OK);
    assert_int_equal(ct_memstore_new(&b), HM_OK);
    ct_store sa = ct_memstore_store(a), sb = ct_memstore_store(b);
    note_set same, other;
    note_set_build(&same, 0);
    note_set_build(&other, 1);
    uint8_t ra[32], rb[32], rc[32];
    run_notes(&sa, &same, ra);
    run_notes(&sb, &same, rb);
    assert_memory_equal(ra, rb, 32);
    run_notes(&sb, &other, rc);
    assert_memory_not_equal(ra, rc, 32);
    note_set_free(&same);
    note_set_free(&other);
    ct_memstore_free(a);
    ct_memstore_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytemap_order_and_lookup),
        cmocka_unit_test(test_bytemap_sorted_and_arena),
        cmocka_unit_test(test_bytemap_slots_sorted),
        cmocka_unit_test(test_key_compare_prefix_first),
        cmocka_unit_test(test_tx_round_trip_and_records),
        cmocka_unit_test(test_tx_tampering_detected),
        cmocka_unit_test(test_tx_decode_rejections),
        cmocka_unit_test(test_tx_keyless_only_for_claims),
        cmocka_unit_test(test_tx_build_failures_leave_no_tx),
        cmocka_unit_test(test_state_put_sorted_same_as_puts),
        cmocka_unit_test(test_exec_note_and_replay),
        cmocka_unit_test(test_exec_refusals_write_only_the_result),
        cmocka_unit_test(test_exec_unauthenticated_tx_spends_nothing),
        cmocka_unit_test(test_exec_scan_merges_overlay_and_base),
        cmocka_unit_test(test_scan_empty_values_are_values),
        cmocka_unit_test(test_state_root_deterministic),
    };
    return cmocka_run_group_tests_name("ct_core", tests, NULL, NULL);
}
