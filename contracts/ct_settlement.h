/* contracts/ct_settlement.h — split contracts, sales, refunds and payouts:
 * transaction bodies and queries. Included by ct.h; see docs/settlement.md. */
#ifndef HALLMARK_CT_SETTLEMENT_H
#define HALLMARK_CT_SETTLEMENT_H
#endif
