/* contracts/ct_gs1.h — GS1 identifiers: GTIN validation and padding, and GS1
 * Digital Link URIs (parsing a URI or a resolver path, generating the
 * canonical URI of an item).
 *
 * Layer: contracts/ (pure text processing over lib/'s error codes). Used by
 * the provenance contract to validate GTINs, by node/ to resolve scanned
 * codes, by cli/ to print QR labels.
 *
 * Never: allocation, I/O, locale-dependent functions. Every input is
 * untrusted text from a scanner or a browser: bounded, validated, and refused
 * with a reason (a static English sentence) rather than asserted.
 *
 * The parser follows GS1's reference implementation (the GS1 Barcode Syntax
 * Engine) under its strict defaults: scheme http(s) in one case, a domain of
 * legal characters, an optional path stem, a primary key found right to left,
 * its key qualifiers in the order the standard allows (e.g. 01 then 22, 10,
 * 21 — or 235), data attributes in the query (numeric keys must be known AIs
 * allowed as attributes; other parameters are ignored), percent-decoding
 * ('+' literal in the path, a space in the query), no %00, no duplicate AI,
 * a trailing '/' refused. One option departs from the defaults:
 * zero_suppressed_gtin accepts GTIN-8/12/13 under /01/ and pads them to 14
 * digits (the resolver enables it; the standard deprecates such URIs).
 * Deprecated alphabetic keys (/gtin/) and AIs missing from the built-in table
 * are refused, which is also what the reference does by default. */
#ifndef HALLMARK_CT_GS1_H
#define HALLMARK_CT_GS1_H

#include "hm.h"

#define CT_GTIN_LEN 14         /* digits of a GTIN-14, without NUL */
#define CT_GS1_AI_LEN_MAX 4    /* AIs are 2 to 4 digits */
#define CT_GS1_VALUE_MAX 90    /* longest AI value (AI 91-99) */
#define CT_GS1_SERIAL_MAX 20   /* AI 21 */
#define CT_GS1_LOT_MAX 20      /* AI 10 */
#define CT_GS1_DL_AIS_MAX 64   /* AIs in one URI */
#define CT_GS1_DL_URI_MAX 2048 /* longest URI we parse or generate, bytes */
#define CT_GS1_DL_STEM_MAX 256 /* longest stem ("https://example.com/x") */

/* The GS1 mod-10 check digit ('0'..'9') of the digits[0..len) that precede
 * it (weights 3,1,3,... from the right). digits must be ASCII digits. */
char ct_gs1_check_digit(const char *digits, size_t len);

/* Validates a GTIN given as text: only digits, length 8, 12, 13 or 14,
 * correct check digit. Writes the GTIN-14 (left-padded with zeros) and a
 * NUL to out14. HM_ERR_BAD_VALUE with *reason set otherwise (reason may be
 * NULL); out14 untouched on error. */
HM_MUST_USE hm_err ct_gtin_normalize(const char *text, char out14[CT_GTIN_LEN + 1],
                                     const char **reason);
/* Same for a GTIN that must already be 14 digits (what ledger records hold). */
HM_MUST_USE hm_err ct_gtin14_check(const char *gtin14, const char **reason);
/* HM_OK if text is a valid AI 21 serial or AI 10 lot: 1..20 characters of
 * GS1's character set 82. */
HM_MUST_USE hm_err ct_gs1_serial_check(const char *text, const char **reason);

/* One application identifier and its value (decoded, NUL-terminated). */
typedef struct {
    char ai[CT_GS1_AI_LEN_MAX + 1];
    char value[CT_GS1_VALUE_MAX + 1];
} ct_gs1_ai;

typedef struct {
    bool zero_suppressed_gtin; /* accept GTIN-8/12/13 in /01/ and ?01= */
} ct_gs1_dl_options;

/* A parsed Digital Link: ais[0] is the primary key, ais[1..path_ai_count)
 * its key qualifiers from the path, the rest the query's data attributes in
 * URI order; slots from ai_count on hold nothing to read. gtin/serial/lot
 * are copies of AIs 01/21/10 ("" when absent). */
typedef struct {
    uint32_t ai_count;
    uint32_t path_ai_count;
    ct_gs1_ai ais[CT_GS1_DL_AIS_MAX];
    char gtin[CT_GTIN_LEN + 1];
    char serial[CT_GS1_SERIAL_MAX + 1];
    char lot[CT_GS1_LOT_MAX + 1];
} ct_gs1_dl;

/* Parses a whole Digital Link URI ("https://host/stem/01/.../21/...?k=v#f").
 * HM_OK and *out filled; HM_ERR_BAD_VALUE or HM_ERR_TOO_LONG with *reason (a
 * static sentence; reason may be NULL). opt NULL means strict defaults. */
HM_MUST_USE hm_err ct_gs1_dl_parse_uri(const char *uri, const ct_gs1_dl_options *opt,
                                       ct_gs1_dl *out, const char **reason);
/* Parses what a resolver receives: a path starting with '/' and an optional
 * query after '?' (a fragment never reaches a server). Same rules as above. */
HM_MUST_USE hm_err ct_gs1_dl_parse_path(const char *path_and_query, const ct_gs1_dl_options *opt,
                                        ct_gs1_dl *out, const char **reason);

/* The GS1 element string of dl ("^" for FNC1, leading "^" for the GS1
 * symbology). HM_ERR_FULL if it does not fit out_cap. */
HM_MUST_USE hm_err ct_gs1_dl_element_string(const ct_gs1_dl *dl, char *out, size_t out_cap);

/* Generates the canonical Digital Link URI for the AIs (in any order): the
 * first primary key found, then every key qualifier it may take in the path
 * in the standard's order, then the remaining AIs as query attributes
 * (predefined-length AIs first), values percent-encoded. Duplicate AIs with
 * the same value are dropped; with different values refused. stem NULL means
 * "https://id.gs1.org"; a trailing '/' of the stem is dropped. */
HM_MUST_USE hm_err ct_gs1_dl_generate(const char *stem, const ct_gs1_ai *ais, size_t ai_count,
                                      char *out, size_t out_cap, const char **reason);
/* The canonical item URI stem/01/{gtin14}/21/{serial}; validates both. */
HM_MUST_USE hm_err ct_gs1_dl_item_uri(const char *stem, const char *gtin, const char *serial,
                                      char *out, size_t out_cap, const char **reason);

#endif
