/* tests/unit/test_nd_mempool.c — the mempool's bounds, duplicate handling,
 * arrival order and reaping by count and bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nd_int.h"

static void id_of(uint32_t i, uint8_t id[HM_HASH_LEN]) {
    hm_sha256((const uint8_t *)&i, sizeof i, id);
}

static void test_bounds_and_duplicates(void **state) {
    (void)state;
    nd_mempool *m = NULL;
    assert_int_equal(nd_mempool_new(0, 100, &m), HM_ERR_ARG);
    assert_int_equal(nd_mempool_new(3, 100, &m), HM_OK);
    uint8_t tx[40] = {0};
    uint8_t id[HM_HASH_LEN];
    for (uint32_t i = 0; i < 3; i++) {
        id_of(i, id);
        assert_int_equal(nd_mempool_add(m, id, tx, 30), HM_OK);
    }
    /* count bound */
    id_of(3, id);
    assert_int_equal(nd_mempool_add(m, id, tx, 1), HM_ERR_FULL);
    assert_false(nd_mempool_contains(m, id));
    /* duplicate beats full: the client learns it is already pending */
    id_of(1, id);
    assert_int_equal(nd_mempool_add(m, id, tx, 30), HM_ERR_EXISTS);
    assert_int_equal(nd_mempool_count(m), 3);
    assert_int_equal(nd_mempool_bytes(m), 90);
    /* bytes bound: 90 + 11 > 100 once a slot is free */
    nd_mempool_remove(m, id);
    assert_int_equal(nd_mempool_count(m), 2);
    id_of(4, id);
    assert_int_equal(nd_mempool_add(m, id, tx, 41), HM_ERR_FULL);
    assert_int_equal(nd_mempool_add(m, id, tx, 40), HM_OK);
    assert_int_equal(nd_mempool_bytes(m), 100);
    /* removing what is not there is harmless */
    id_of(99, id);
    nd_mempool_remove(m, id);
    assert_int_equal(nd_mempool_count(m), 3);
    nd_mempool_free(m);
    nd_mempool_free(NULL);
}

/* A pooled tx is found by id, its bytes those added (what a validator
 * rebuilds a compact proposal's block from); a removed or unknown one is
 * not. */
static void test_get(void **state) {
    (void)state;
    nd_mempool *m = NULL;
    assert_int_equal(nd_mempool_new(4, 1000, &m), HM_OK);
    uint8_t a[5] = {1, 2, 3, 4, 5}, b[3] = {9, 8, 7};
    uint8_t ida[HM_HASH_LEN], idb[HM_HASH_LEN], idc[HM_HASH_LEN];
    id_of(1, ida);
    id_of(2, idb);
    id_of(3, idc);
    assert_int_equal(nd_mempool_add(m, ida, a, sizeof a), HM_OK);
    assert_int_equal(nd_mempool_add(m, idb, b, sizeof b), HM_OK);
    const uint8_t *tx = NULL;
    size_t len = 0;
    assert_true(nd_mempool_get(m, ida, &tx, &len));
    assert_int_equal(len, sizeof a);
    assert_memory_equal(tx, a, sizeof a);
    assert_true(nd_mempool_get(m, idb, &tx, &len));
    assert_int_equal(len, sizeof b);
    assert_memory_equal(tx, b, sizeof b);
    tx = NULL;
    assert_false(nd_mempool_get(m, idc, &tx, &len));
    assert_null(tx);
    nd_mempool_remove(m, ida);
    assert_false(nd_mempool_get(m, ida, &tx, &len));
    nd_mempool_free(m);
}

/* Record hashes kept with a tx count in the pool's bytes, and are handed
 * out only for the very bytes they were computed over: a block may carry
 * other records under the same id. */
static void test_hashes(void **state) {
    (void)state;
    nd_mempool *m = NULL;
    assert_int_equal(nd_mempool_new(4, 200, &m), HM_OK);
    uint8_t a[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, other[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11};
    uint8_t hashes[3][HM_HASH_LEN];
    memset(hashes, 0x5a, sizeof hashes);
    uint8_t ida[HM_HASH_LEN], idb[HM_HASH_LEN], idc[HM_HASH_LEN];
    id_of(1, ida);
    id_of(2, idb);
    id_of(3, idc);
    /* 10 + 6 x 32 bytes do not fit in 200 */
    uint8_t many[6][HM_HASH_LEN] = {{0}};
    assert_int_equal(
        nd_mempool_add_hashed(m, idc, a, sizeof a, (const uint8_t(*)[HM_HASH_LEN])many, 6),
        HM_ERR_FULL);
    assert_int_equal(
        nd_mempool_add_hashed(m, ida, a, sizeof a, (const uint8_t(*)[HM_HASH_LEN])hashes, 3),
        HM_OK);
    assert_int_equal(nd_mempool_bytes(m), sizeof a + sizeof hashes);
    const uint8_t(*got)[HM_HASH_LEN] = NULL;
    size_t count = 0;
    /* a copy of the same bytes */
    uint8_t copy[10];
    memcpy(copy, a, sizeof copy);
    assert_true(nd_mempool_hashes(m, ida, copy, sizeof copy, &got, &count));
    assert_int_equal(count, 3);
    assert_memory_equal(got, hashes, sizeof hashes);
    /* the same id with other bytes, or fewer of them: none */
    assert_false(nd_mempool_hashes(m, ida, other, sizeof other, &got, &count));
    assert_false(nd_mempool_hashes(m, ida, a, sizeof a - 1, &got, &count));
    assert_false(nd_mempool_hashes(m, idc, a, sizeof a, &got, &count));
    /* a tx pooled without hashes has none */
    assert_int_equal(nd_mempool_add(m, idb, other, sizeof other), HM_OK);
    assert_false(nd_mempool_hashes(m, idb, other, sizeof other, &got, &count));
    /* 10 + 96 + 10 + 96 > 200: the pool's bytes count the hashes */
    assert_int_equal(
        nd_mempool_add_hashed(m, idc, a, sizeof a, (const uint8_t(*)[HM_HASH_LEN])hashes, 3),
        HM_ERR_FULL);
    nd_mempool_remove(m, ida);
    assert_int_equal(nd_mempool_bytes(m), sizeof other);
    assert_false(nd_mempool_hashes(m, ida, a, sizeof a, &got, &count));
    nd_mempool_free(m);
}

static void test_reap_order(void **state) {
    (void)state;
    nd_mempool *m = NULL;
    assert_int_equal(nd_mempool_new(1000, 1u << 20, &m), HM_OK);
    uint8_t id[HM_HASH_LEN];
    uint8_t tx[100];
    for (uint32_t i = 0; i < 100; i++) {
        memset(tx, (int)i, sizeof tx);
        id_of(i, id);
        assert_int_equal(nd_mempool_add(m, id, tx, 10 + (i % 5)), HM_OK);
    }
    /* remove every third: order of the rest is kept */
    for (uint32_t i = 0; i < 100; i += 3) {
        id_of(i, id);
        nd_mempool_remove(m, id);
    }
    const uint8_t *txs[100];
    size_t lens[100];
    uint32_t n = nd_mempool_reap(m, 100, 1u << 20, txs, lens);
    assert_int_equal(n, nd_mempool_count(m));
    uint32_t expect = 1;
    for (uint32_t k = 0; k < n; k++) {
        if (expect % 3 == 0)
            expect++;
        assert_int_equal(txs[k][0], expect);
        assert_int_equal(lens[k], 10 + (expect % 5));
        expect++;
    }
    /* by count */
    assert_int_equal(nd_mempool_reap(m, 5, 1u << 20, txs, lens), 5);
    /* by bytes: never past the limit, and never skipping ahead */
    n = nd_mempool_reap(m, 100, 25, txs, lens);
    size_t total = 0;
    for (uint32_t k = 0; k < n; k++)
        total += lens[k];
    assert_true(total <= 25);
    assert_int_equal(n, 2); /* 11 + 12 fit; 23 + 14 does not */
    assert_int_equal(nd_mempool_reap(m, 100, 5, txs, lens), 0);
    nd_mempool_free(m);
}

static void test_many(void **state) {
    (void)state;
    nd_mempool *m = NULL;
    assert_int_equal(nd_mempool_new(20000, 1u << 30, &m), HM_OK);
    uint8_t id[HM_HASH_LEN], tx[8] = {0};
    for (uint32_t i = 0; i < 20000; i++) {
        id_of(i, id);
        assert_int_equal(nd_mempool_add(m, id, tx, sizeof tx), HM_OK);
    }
    for (uint32_t i = 0; i < 20000; i += 2) {
        id_of(i, id);
        nd_mempool_remove(m, id);
    }
    for (uint32_t i = 0; i < 20000; i++) {
        id_of(i, id);
        assert_int_equal(nd_mempool_contains(m, id), i % 2 == 1);
    }
    assert_int_equal(nd_mempool_count(m), 10000);
    assert_int_equal(nd_mempool_bytes(m), 80000);
    nd_mempool_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_and_duplicates),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_reap_order),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
