/* tests/unit/test_ct_settle_math.c — settlement's split arithmetic:
 * largest-remainder apportionment, nested split expansion and proportional
 * refunds, with fixed examples and a property test over at least a million
 * random cases (HALLMARK_SETTLE_CASES scales it, e.g. under sanitizers).
 *
 * Properties, for random nested contracts, amounts 1..10^15 and random
 * partial refunds: every contract's parts add up to what it received; the
 * leaves add up to the gross, so the sale's postings sum to zero; no part is
 * negative or above the whole; each refund is voided exactly, never more
 * than a leaf still holds; a full refund nets every leaf to zero; and a
 * digest over a fixed prefix of the cases matches a constant, so the result
 * is the same on every machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct.h"

/* ------------------------------------------------------------ examples */

static void test_apportion_examples(void **state) {
    (void)state;
    uint64_t out[4];
    /* ties go to the lower index */
    const uint64_t thirds[3] = {1, 1, 1};
    assert_int_equal(ct_apportion(1, thirds, 3, out), HM_OK);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 0);
    assert_int_equal(ct_apportion(2, thirds, 3, out), HM_OK);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 0);
    /* the largest remainder wins over order */
    const uint64_t bps[3] = {3333, 3333, 3334};
    assert_int_equal(ct_apportion(10, bps, 3, out), HM_OK);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 4);
    /* 7000/2000/1000 of 99: 69.3, 19.8, 9.9 -> 69, 20, 10 */
    const uint64_t split[3] = {7000, 2000, 1000};
    assert_int_equal(ct_apportion(99, split, 3, out), HM_OK);
    assert_int_equal(out[0], 69);
    assert_int_equal(out[1], 20);
    assert_int_equal(out[2], 10);
    /* a zero weight gets nothing, even with units left over */
    const uint64_t with_zero[3] = {0, 1, 1};
    assert_int_equal(ct_apportion(1, with_zero, 3, out), HM_OK);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 1);
    /* 10^15 * 9999 does not fit 64 bits: the 128-bit path must be exact */
    const uint64_t big[2] = {9999, 1};
    assert_int_equal(ct_apportion(CT_AMOUNT_MAX, big, 2, out), HM_OK);
    assert_int_equal(out[0], 999900000000000ull);
    assert_int_equal(out[1], 100000000000ull);
    /* misuse */
    const uint64_t zeros[2] = {0, 0};
    assert_int_equal(ct_apportion(5, zeros, 2, out), HM_ERR_ARG);
    assert_int_equal(ct_apportion(5, big, 0, out), HM_ERR_ARG);
    const uint64_t huge[2] = {UINT64_MAX, 1};
    assert_int_equal(ct_apportion(5, huge, 2, out), HM_ERR_ARG);
}

/* ------------------------------------------------------- contract worlds */

#define WORLD_CONTRACTS 8

/* A set of contracts where contract i nests only contracts j > i, so it is
 * acyclic by construction, like the chain's own (the chain refuses cycles at
 * creation). Contract 0..7 ids are their index in byte 0. */
typedef struct {
    ct_split_version versions[WORLD_CONTRACTS];
} world;

typedef struct {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_below(rng *r, uint64_t n) {
    return rng_next(r) % n;
}

static void random_world(rng *r, world *w) {
    memset(w, 0, sizeof *w);
    for (uint32_t c = 0; c < WORLD_CONTRACTS; c++) {
        ct_split_version *v = &w->versions[c];
        v->version = 1;
        memcpy(v->terms.currency, "CNY", 4);
        v->terms.share_count = 1 + (uint32_t)rng_below(r, 4);
        /* random shares summing to 10,000: cut points */
        uint32_t left = CT_BPS_TOTAL;
        for (uint32_t i = 0; i < v->terms.share_count; i++) {
            uint32_t give = (i + 1 == v->terms.share_count)
                                ? left
                                : 1 + (uint32_t)rng_below(r, left - (v->terms.share_count - i - 1));
            left -= give;
            ct_split_share *sh = &v->terms.shares[i];
            sh->share_bps = give;
            bool nest = c + 1 < WORLD_CONTRACTS && rng_below(r, 3) == 0;
            sh->to.kind = nest ? CT_PARTY_SPLIT : CT_PARTY_ACCOUNT;
            sh->to.id[0] = nest ? (uint8_t)(c + 1 + rng_below(r, WORLD_CONTRACTS - c - 1))
                                : (uint8_t)(100 + rng_below(r, 20));
        }
        v->terms.fee_count = (uint32_t)rng_below(r, 3);
        for (uint32_t i = 0; i < v->terms.fee_count; i++) {
            v->terms.fees[i].to.kind = CT_PARTY_ACCOUNT;
            v->terms.fees[i].to.id[0] = (uint8_t)(200 + i);
            v->terms.fees[i].amount = 1 + rng_below(r, 500);
        }
    }
}

static hm_err world_resolve(void *arg, const uint8_t id[32], uint64_t height,
                            ct_split_version *out) {
    (void)height;
    const world *w = arg;
    if (id[0] >= WORLD_CONTRACTS)
        return HM_ERR_NOT_FOUND;
    *out = w->versions[id[0]];
    return HM_OK;
}

static uint64_t random_amount(rng *r) {
    /* mix magnitudes: tiny, everyday and up to 10^15 */
    switch (rng_below(r, 4)) {
    case 0:
        return 1 + rng_below(r, 10);
    case 1:
        return 1 + rng_below(r, 100000);
    case 2:
        return 1 + rng_below(r, 10000000000ull);
    default:
        return 1 + rng_below(r, CT_AMOUNT_MAX);
    }
}

/* Checks the tree's shape and sums; returns the leaf total. */
static uint64_t check_tree(const ct_sale_node *nodes, uint32_t count, uint64_t gross) {
    uint64_t child_sum[CT_SALE_NODES_MAX] = {0};
    uint64_t leaves = 0;
    assert_int_equal(nodes[0].parent, CT_NODE_ROOT);
    assert_int_equal(nodes[0].amount, gross);
    for (uint32_t i = 1; i < count; i++) {
        assert_true(nodes[i].parent < i);
        assert_true(nodes[i].amount <= nodes[nodes[i].parent].amount);
        child_sum[nodes[i].parent] += nodes[i].amount;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (nodes[i].party.kind == CT_PARTY_SPLIT)
            assert_int_equal(child_sum[i], nodes[i].amount); /* parts = whole */
        else
            leaves += nodes[i].amount;
    }
    assert_int_equal(leaves, gross); /* clearing -gross + leaves = 0 */
    return leaves;
}

static uint64_t fnv(uint64_t h, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

static size_t cases_from_env(void) {
    const char *text = getenv("HALLMARK_SETTLE_CASES");
    if (text == NULL || *text == '\0')
        return 1000000;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    return (*end == '\0' && n >= 10000) ? (size_t)n : 10000;
}

#define DIGEST_CASES 10000
/* Recorded once; any machine must produce the same parts, so the same value. */
#define DIGEST_EXPECTED 0x95f6233daad632c6ull

static void test_property_random_splits_and_refunds(void **state) {
    (void)state;
    size_t cases = cases_from_env();
    rng r = {20261128};
    world w;
    static ct_sale_node nodes[CT_SALE_NODES_MAX];
    uint64_t voided_now[CT_SALE_NODES_MAX];
    uint64_t digest = 0xcbf29ce484222325ull;
    size_t refused = 0, refunds = 0;
    for (size_t c = 0; c < cases; c++) {
        if (c % 256 == 0)
            random_world(&r, &w);
        uint8_t root[32] = {0};
        root[0] = (uint8_t)rng_below(&r, WORLD_CONTRACTS);
        uint64_t gross = random_amount(&r);
        uint32_t count = 0;
        ct_expand_error why;
        hm_err err = ct_split_expand(world_resolve, &w, root, "CNY", 1, gross, nodes,
                                     CT_SALE_NODES_MAX, &count, &why);
        if (err != HM_OK) {
            /* only the documented refusals, never a partial success */
            assert_int_equal(err, HM_ERR_CONFLICT);
            assert_true(why.rule == CT_SRULE_TREE_LIMIT || why.rule == CT_SRULE_DEPTH);
            refused++;
            continue;
        }
        check_tree(nodes, count, gross);
        if (c < DIGEST_CASES)
            for (uint32_t i = 0; i < count; i++)
                digest = fnv(digest, nodes[i].amount);

        /* a few random partial refunds, then (half the time) the rest */
        uint64_t left = gross;
        uint32_t partials = (uint32_t)rng_below(&r, 3);
        bool refund_all = rng_below(&r, 2) == 0;
        for (uint32_t k = 0; k < partials + (refund_all ? 1u : 0u) && left > 0; k++) {
            uint64_t amount = (k == partials) ? left : 1 + rng_below(&r, left);
            assert_int_equal(ct_sale_void(nodes, count, amount, voided_now), HM_OK);
            uint64_t sum = 0;
            for (uint32_t i = 0; i < count; i++) {
                if (nodes[i].party.kind == CT_PARTY_SPLIT)
                    assert_int_equal(voided_now[i], 0);
                assert_true(nodes[i].voided <= nodes[i].amount);
                sum += voided_now[i];
            }
            assert_int_equal(sum, amount); /* refund postings sum to zero */
            left -= amount;
            refunds++;
            if (c < DIGEST_CASES)
                for (uint32_t i = 0; i < count; i++)
                    digest = fnv(digest, voided_now[i]);
        }
        /* pending + available of every leaf = what postings gave it */
        uint64_t remaining = 0;
        for (uint32_t i = 0; i < count; i++)
            if (nodes[i].party.kind == CT_PARTY_ACCOUNT)
                remaining += nodes[i].amount - nodes[i].voided;
        assert_int_equal(remaining, left);
        if (left == 0)
            for (uint32_t i = 0; i < count; i++)
                if (nodes[i].party.kind == CT_PARTY_ACCOUNT)
                    assert_int_equal(nodes[i].amount, nodes[i].voided); /* nets to zero */
        assert_int_equal(ct_sale_void(nodes, count, left + 1, voided_now), HM_ERR_ARG);
    }
    printf("property: %zu cases, %zu refused as too large/deep, %zu refunds, digest %016llx\n",
           cases, refused, refunds, (unsigned long long)digest);
    assert_true(refused < cases / 2);
    if (DIGEST_EXPECTED != 0)
        assert_int_equal(digest, DIGEST_EXPECTED);
}

/* Refunding one unit at a time must never give a leaf a negative part and
 * must end at exactly zero for each. */
static void test_refund_unit_by_unit(void **state) {
    (void)state;
    world w;
    rng r = {7};
    random_world(&r, &w);
    static ct_sale_node nodes[CT_SALE_NODES_MAX];
    uint64_t voided_now[CT_SALE_NODES_MAX];
    uint8_t root[32] = {0};
    uint32_t count;
    ct_expand_error why;
    assert_int_equal(ct_split_expand(world_resolve, &w, root, "CNY", 1, 997, nodes,
                                     CT_SALE_NODES_MAX, &count, &why),
                     HM_OK);
    for (int i = 0; i < 997; i++)
        assert_int_equal(ct_sale_void(nodes, count, 1, voided_now), HM_OK);
    for (uint32_t i = 0; i < count; i++)
        if (nodes[i].party.kind == CT_PARTY_ACCOUNT)
            assert_int_equal(nodes[i].voided, nodes[i].amount);
}

static void test_expand_refusals(void **state) {
    (void)state;
    world w;
    memset(&w, 0, sizeof w);
    /* a chain 0 -> 1 -> 2 -> 3 -> 4: five levels, one too many */
    for (uint32_t c = 0; c < 5; c++) {
        ct_split_version *v = &w.versions[c];
        v->version = 1;
        memcpy(v->terms.currency, "CNY", 4);
        v->terms.share_count = 2;
        v->terms.shares[0] = (ct_split_share){{CT_PARTY_ACCOUNT, {100}}, 5000};
        v->terms.shares[1] = (ct_split_share){{CT_PARTY_ACCOUNT, {101}}, 5000};
        if (c < 4) {
            v->terms.shares[1].to.kind = CT_PARTY_SPLIT;
            v->terms.shares[1].to.id[0] = (uint8_t)(c + 1);
        }
    }
    static ct_sale_node nodes[CT_SALE_NODES_MAX];
    uint32_t count;
    ct_expand_error why;
    uint8_t root[32] = {0};
    assert_int_equal(ct_split_expand(world_resolve, &w, root, "CNY", 1, 1000, nodes,
                                     CT_SALE_NODES_MAX, &count, &why),
                     HM_ERR_CONFLICT);
    assert_int_equal(why.rule, CT_SRULE_DEPTH);
    root[0] = 1; /* four levels: fine */
    assert_int_equal(ct_split_expand(world_resolve, &w, root, "CNY", 1, 1000, nodes,
                                     CT_SALE_NODES_MAX, &count, &why),
                     HM_OK);
    check_tree(nodes, count, 1000);
    /* currency mismatch inside the tree */
    memcpy(w.versions[3].terms.currency, "EUR", 4);
    assert_int_equal(ct_split_expand(world_resolve, &w, root, "CNY", 1, 1000, nodes,
                                     CT_SALE_NODES_MAX, &count, &why),
                     HM_ERR_CONFLICT);
    assert_int_equal(why.rule, CT_SRULE_CURRENCY_MISMATCH);
    /* unknown contract */
    root[0] = 50;
    assert_int_equal(ct_split_expand(world_resolve, &w, root, "CNY", 1, 1000, nodes,
                                     CT_SALE_NODES_MAX, &count, &why),
                     HM_ERR_CONFLICT);
    assert_int_equal(why.rule, CT_SRULE_SPLIT_UNKNOWN);
}

/* Fixed fees are taken first, in order, each at most what is left. */
static void test_fees_first(void **state) {
    (void)state;
    world w;
    memset(&w, 0, sizeof w);
    ct_split_version *v = &w.versions[0];
    v->version = 1;
    memcpy(v->terms.currency, "CNY", 4);
    v->terms.fee_count = 2;
    v->terms.fees[0] = (ct_split_fee){{CT_PARTY_ACCOUNT, {200}}, 30};
    v->terms.fees[1] = (ct_split_fee){{CT_PARTY_ACCOUNT, {201}}, 50};
    v->terms.share_count = 2;
    v->terms.shares[0] = (ct_split_share){{CT_PARTY_ACCOUNT, {100}}, 5000};
    v->terms.shares[1] = (ct_split_share){{CT_PARTY_ACCOUNT, {101}}, 5000};
    static ct_sale_node nodes[CT_SALE_NODES_MAX];
    uint32_t count;
    ct_expand_error why;
    uint8_t root[32] = {0};
    assert_int_equal(ct_split_expand(world_resolve, &w, root, "CNY", 1, 181, nodes,
                                     CT_SALE_NODES_MAX, &count, &why),
                     HM_OK);
    assert_int_equal(count, 5);
    assert_int_equal(nodes[1].amount, 30);
    assert_true(nodes[1].is_fee);
    assert_int_equal(nodes[2].amount, 50);
    assert_int_equal(nodes[3].amount, 51); /* 101 split 50/50: tie to the first */
    assert_int_equal(nodes[4].amount, 50);
    /* a sale smaller than the fees: the second fee gets what is left */
    assert_int_equal(ct_split_expand(world_resolve, &w, root, "CNY", 1, 40, nodes,
                                     CT_SALE_NODES_MAX, &count, &why),
                     HM_OK);
    assert_int_equal(nodes[1].amount, 30);
    assert_int_equal(nodes[2].amount, 10);
    assert_int_equal(nodes[3].amount, 0);
    assert_int_equal(nodes[4].amount, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apportion_examples),
        cmocka_unit_test(test_fees_first),
        cmocka_unit_test(test_expand_refusals),
        cmocka_unit_test(test_refund_unit_by_unit),
        cmocka_unit_test(test_property_random_splits_and_refunds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
