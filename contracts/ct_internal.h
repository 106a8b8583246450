/* contracts/ct_internal.h — what the contract families share inside
 * contracts/ and nobody outside may use: the dispatch entry points of each
 * family and small helpers for results. */
#ifndef HALLMARK_CT_INTERNAL_H
#define HALLMARK_CT_INTERNAL_H

#include "ct.h"

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
