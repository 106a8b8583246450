/* contracts/settlement_math.c — the split arithmetic of settlement:
 * largest-remainder apportionment, the expansion of a sale into its split
 * tree, and the proportional voiding of a refund.
 *
 * Layer: contracts/ (pure). No state, no allocation, no I/O: the caller gives
 * a resolver for contract versions. Every product of two amounts goes through
 * a 128-bit intermediate, so nothing here can overflow for amounts up to
 * 2^64. Must never use floating point: the same inputs give the same parts on
 * every machine. */
#include "ct.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

typedef struct {
    uint64_t remainder;
    uint32_t index;
} remainder_slot;

/* Larger remainder first; equal remainders in index order (a total order, so
 * qsort's instability cannot show). */
static int remainder_slot_cmp(const void *a, const void *b) {
    const remainder_slot *x = a;
    const remainder_slot *y = b;
    if (x->remainder != y->remainder)
        return x->remainder > y->remainder ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

hm_err ct_apportion(uint64_t total, const uint64_t *weights, size_t n, uint64_t *out) {
    if (weights == NULL || out == NULL || n == 0 || n > CT_APPORTION_MAX)
        return HM_ERR_ARG;
    uint64_t weight_sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (weights[i] > UINT64_MAX - weight_sum)
            return HM_ERR_ARG;
        weight_sum += weights[i];
    }
    if (weight_sum == 0)
        return HM_ERR_ARG;

    remainder_slot slots[CT_APPORTION_MAX];
    uint64_t floors_sum = 0;
    for (size_t i = 0; i < n; i++) {
        u128 product = (u128)total * weights[i];
        out[i] = (uint64_t)(product / weight_sum);
        slots[i].remainder = (uint64_t)(product % weight_sum);
        slots[i].index = (uint32_t)i;
        floors_sum += out[i];
    }
    /* sum of floors = total - (sum of remainders)/W, and the remainders sum
     * to a multiple of W below n*W: fewer than n units are left over. */
    assert(floors_sum <= total);
    uint64_t left = total - floors_sum;
    assert(left < n);
    if (left > 0) {
        qsort(slots, n, sizeof slots[0], remainder_slot_cmp);
        for (uint64_t k = 0; k < left; k++) {
            /* A zero remainder never gets a unit: the units left over equal
             * the sum of remainders / W, which is below the count of nonzero
             * remainders. */
            assert(slots[k].remainder > 0);
            out[slots[k].index]++;
        }
    }
    return HM_OK;
}

/* An expansion in progress. */
typedef struct {
    ct_split_resolve_fn resolve;
    void *arg;
    const char *currency;
    uint64_t height;
    ct_sale_node *nodes;
    size_t nodes_cap;
    uint32_t count;
    ct_expand_error *err;
} expansion;

static hm_err expand_refuse(expansion *e, uint32_t rule, const char *message) {
    e->err->rule = rule;
    snprintf(e->err->message, sizeof e->err->message, "%s", message);
    return HM_ERR_CONFLICT;
}

static hm_err expand_add(expansion *e, const ct_party *party, uint32_t parent, uint8_t depth,
                         bool is_fee, uint32_t share_bps, uint64_t amount, uint32_t *index) {
    if (e->count >= e->nodes_cap)
        return expand_refuse(e, CT_SRULE_TREE_LIMIT, "the split tree has too many nodes");
    ct_sale_node *n = &e->nodes[e->count];
    memset(n, 0, sizeof *n);
    n->party = *party;
    n->parent = parent == CT_NODE_ROOT ? CT_NODE_ROOT : (uint16_t)parent;
    n->depth = depth;
    n->is_fee = is_fee ? 1 : 0;
    n->share_bps = share_bps;
    n->amount = amount;
    *index = e->count++;
    return HM_OK;
}

static hm_err expand_contract(expansion *e, uint32_t self, uint8_t depth);

/* Adds a recipient of contract node `self` (at depth) and, for a nested
 * contract, splits its part under it. */
static hm_err expand_child(expansion *e, const ct_party *to, uint32_t self, uint8_t depth,
                           bool is_fee, uint32_t share_bps, uint64_t amount) {
    uint32_t child;
    hm_err err = expand_add(e, to, self, (uint8_t)(depth + 1), is_fee, share_bps, amount, &child);
    if (err == HM_OK && to->kind == CT_PARTY_SPLIT)
        err = expand_contract(e, child, (uint8_t)(depth + 1));
    return err;
}

/* Splits amount under contract node `self` (already added) at depth. */
static hm_err expand_contract(expansion *e, uint32_t self, uint8_t depth) {
    if (depth > CT_SPLIT_DEPTH_MAX)
        return expand_refuse(e, CT_SRULE_DEPTH, "split contracts nested too deep");
    ct_split_version v;
    hm_err err = e->resolve(e->arg, e->nodes[self].party.id, e->height, &v);
    if (err == HM_ERR_NOT_FOUND)
        return expand_refuse(e, CT_SRULE_SPLIT_UNKNOWN, "no split contract in force");
    if (err != HM_OK)
        return err;
    if (strcmp(v.terms.currency, e->currency) != 0)
        return expand_refuse(e, CT_SRULE_CURRENCY_MISMATCH,
                             "a split contract's currency differs from the sale's");
    if (v.terms.share_count == 0 || v.terms.share_count > CT_SPLIT_SHARES_MAX ||
        v.terms.fee_count > CT_SPLIT_FEES_MAX)
        return expand_refuse(e, CT_SRULE_RECIPIENTS, "a stored split contract is malformed");
    e->nodes[self].version = v.version;

    uint64_t left = e->nodes[self].amount;
    for (uint32_t i = 0; i < v.terms.fee_count; i++) {
        uint64_t fee = v.terms.fees[i].amount < left ? v.terms.fees[i].amount : left;
        left -= fee;
        err = expand_child(e, &v.terms.fees[i].to, self, depth, true, 0, fee);
        if (err != HM_OK)
            return err;
    }

    uint64_t weights[CT_SPLIT_SHARES_MAX];
    uint64_t parts[CT_SPLIT_SHARES_MAX];
    for (uint32_t i = 0; i < v.terms.share_count; i++)
        weights[i] = v.terms.shares[i].share_bps;
    err = ct_apportion(left, weights, v.terms.share_count, parts);
    if (err != HM_OK)
        return expand_refuse(e, CT_SRULE_SHARES_SUM, "a stored split contract has no shares");
    for (uint32_t i = 0; i < v.terms.share_count; i++) {
        err = expand_child(e, &v.terms.shares[i].to, self, depth, false,
                           v.terms.shares[i].share_bps, parts[i]);
        if (err != HM_OK)
            return err;
    }
    return HM_OK;
}

hm_err ct_split_expand(ct_split_resolve_fn resolve, void *arg, const uint8_t root_id[32],
                       const char *currency, uint64_t height, uint64_t amount, ct_sale_node *nodes,
                       size_t nodes_cap, uint32_t *node_count, ct_expand_error *err) {
    if (resolve == NULL || root_id == NULL || currency == NULL || nodes == NULL ||
        node_count == NULL || err == NULL || nodes_cap == 0 || nodes_cap > CT_NODE_ROOT)
        return HM_ERR_ARG;
    memset(err, 0, sizeof *err);
    expansion e = {resolve, arg, currency, height, nodes, nodes_cap, 0, err};
    ct_party root = {.kind = CT_PARTY_SPLIT};
    memcpy(root.id, root_id, 32);
    uint32_t root_index;
    hm_err rc = expand_add(&e, &root, CT_NODE_ROOT, 1, false, CT_BPS_TOTAL, amount, &root_index);
    if (rc == HM_OK)
        rc = expand_contract(&e, root_index, 1);
    if (rc != HM_OK)
        return rc;
    *node_count = e.count;
    return HM_OK;
}

hm_err ct_sale_void(ct_sale_node *nodes, uint32_t node_count, uint64_t refund,
                    uint64_t *voided_now) {
    if (nodes == NULL || voided_now == NULL || node_count == 0 || node_count > CT_SALE_NODES_MAX)
        return HM_ERR_ARG;
    uint64_t weights[CT_SALE_NODES_MAX];
    uint64_t remaining_total = 0;
    for (uint32_t i = 0; i < node_count; i++) {
        bool is_leaf = nodes[i].party.kind == CT_PARTY_ACCOUNT;
        assert(nodes[i].voided <= nodes[i].amount);
        weights[i] = is_leaf ? nodes[i].amount - nodes[i].voided : 0;
        remaining_total += weights[i];
        voided_now[i] = 0;
    }
    if (refund > remaining_total)
        return HM_ERR_ARG;
    if (refund == 0)
        return HM_OK;
    hm_err err = ct_apportion(refund, weights, node_count, voided_now);
    if (err != HM_OK)
        return err;
    for (uint32_t i = 0; i < node_count; i++) {
        /* refund <= remaining_total, so no leaf loses more than it holds. */
        assert(voided_now[i] <= weights[i]);
        nodes[i].voided += voided_now[i];
    }
    return HM_OK;
}
