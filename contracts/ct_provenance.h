/* contracts/ct_provenance.h — members' GS1 prefixes, items, EPCIS events,
 * custody, recalls and ownership claims: transaction bodies and queries.
 * Included by ct.h; see docs/provenance.md. */
#ifndef HALLMARK_CT_PROVENANCE_H
#define HALLMARK_CT_PROVENANCE_H
#endif
