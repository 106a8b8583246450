/* contracts/epcis_int.h — what contracts/epcis.c shares with
 * contracts/epcis_out.c and nothing else: the standard prefixes of the EPCIS
 * 2.0 context and the pre-hash of one parsed event, so that the reader of
 * stored pre-hash strings can check its output against the very function
 * that made them.
 *
 * Layer: contracts/ (private). Pure: no I/O. */
#ifndef HALLMARK_EPCIS_INT_H
#define HALLMARK_EPCIS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ct.h"

/* The prefix the standard EPCIS 2.0 context gives namespace ns (ns_len
 * bytes), or NULL. */
const char *ct_epcis_std_prefix(const char *ns, size_t ns_len);

/* The pre-hash string of event (an EPCIS event object) in a document whose
 * @context adds prefixes[i] -> namespaces[i] (count pairs) to the standard
 * ones. On HM_OK *out is a malloc'd NUL-terminated string the caller frees;
 * otherwise *out is NULL and the event is refused (HM_ERR_BAD_VALUE,
 * HM_ERR_UNKNOWN_TYPE, HM_ERR_TOO_LONG) or memory ran out. */
HM_MUST_USE hm_err ct_epcis_event_prehash(json_t *event, const char *const *prefixes,
                                          const char *const *namespaces, size_t count, char **out);

#endif
