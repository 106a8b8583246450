/* contracts/ct_internal.h — what the contract families share inside
 * contracts/ and nobody outside may use: the dispatch entry points of each
 * family and small helpers for results. */
#ifndef HALLMARK_CT_INTERNAL_H
#define HALLMARK_CT_INTERNAL_H

#include "ct.h"

/* ------------------------------------------------ ordered byte map (AVL) */

enum { CT_SLOT_ABSENT = 0, CT_SLOT_SET = 1, CT_SLOT_DELETED = 2 };

typedef struct ct_bytemap_node {
    struct ct_bytemap_node *left, *right;
    uint8_t *val; /* owned; NULL when val_len is 0 */
    size_t val_len;
    size_t key_len;
    int height;
    uint8_t state; /* CT_SLOT_* */
    uint8_t key[]; /* key_len bytes */
} ct_bytemap_node;

typedef struct {
    ct_bytemap_node *root;
    size_t nodes;
} ct_bytemap;

typedef bool (*ct_bytemap_walk_fn)(void *arg, const ct_bytemap_node *n);

/* memcmp order, shorter first on a common prefix. */
int ct_key_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
void ct_bytemap_init(ct_bytemap *m);
void ct_bytemap_free(ct_bytemap *m);
ct_bytemap_node *ct_bytemap_find(const ct_bytemap *m, const uint8_t *key, size_t key_len);
/* The slot for key, created ABSENT if new. */
HM_MUST_USE hm_err ct_bytemap_slot(ct_bytemap *m, const uint8_t *key, size_t key_len,
                                   ct_bytemap_node **out);
/* Copies val into the slot and marks it SET. */
HM_MUST_USE hm_err ct_bytemap_node_set(ct_bytemap_node *n, const uint8_t *val, size_t val_len);
/* Replaces the slot's value with val (taking ownership) and state. */
void ct_bytemap_node_take(ct_bytemap_node *n, uint8_t *val, size_t val_len, uint8_t state);
/* In-order visit of start <= key < end (NULL bounds are open); false if the
 * visitor stopped. */
bool ct_bytemap_walk(const ct_bytemap *m, const uint8_t *start, size_t start_len,
                     const uint8_t *end, size_t end_len, ct_bytemap_walk_fn fn, void *arg);

/* Encodes/decodes a tx result for the "t/" index. */
HM_MUST_USE hm_err ct_result_encode(const ct_result *res, uint64_t height, hm_writer *w);

/* Sets res to a refusal: code, rule number, record index, message. Returns
 * HM_OK so that contract code can `return ct_refuse(...)` for a refused tx
 * (a refusal is a processed tx, not an operating error). */
hm_err ct_refuse(ct_result *res, hm_err code, uint32_t rule, uint32_t index, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Each family applies the tx types of its range. The caller has decoded the
 * envelope, checked the signature and the records root, and resolved the
 * signer (signer NULL for a keyless tx). On refusal the family returns HM_OK
 * with res->code set, and the executor rolls back everything it wrote. */
hm_err ct_members_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res);
hm_err ct_prov_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res);
hm_err ct_settle_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res);
/* Settlement's block-time work (pending -> available), once per block. */
hm_err ct_settle_end_block(ct_exec *x);

#endif
