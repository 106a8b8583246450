/* contracts/epcis.c — EPCIS 2.0 JSON/JSON-LD documents: the CBV 2.0 event
 * hash ID (its canonical pre-hash string) and conversion of events into
 * Hallmark event records.
 *
 * Layer: contracts/ (pure text processing; jansson for parsing). Used by the
 * CLI's `epcis import` and the node's /epcis/capture before a tx is signed;
 * the contract itself only checks SHA-256(prehash) == event hash;
 * contracts/epcis_out.c reads stored pre-hash strings back into JSON and
 * checks its reading with this file's event_prehash (epcis_int.h). The
 * algorithm follows the reference implementation whose golden vectors live
 * in shared/testdata/epcis-hash (see its README): fields in a fixed order,
 * no separators, lists sorted byte-wise, timestamps in UTC milliseconds,
 * numbers without trailing zeros, EPC URNs and CBV URNs as web URIs, CURIEs
 * expanded, user extensions as {namespace}name sorted at the end of their
 * parent.
 *
 * Never: I/O, clocks, locale-dependent functions, or jansson's object
 * iteration order for anything that reaches a hash (every list of keys is
 * sorted first). Every input is untrusted: bounded and refused with a reason. */
#include "ct_gs1.h"
#include "ct_internal.h"
#include "epcis_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIXES_MAX 64
#define PREHASH_HARD_MAX (1024 * 1024) /* one event's pre-hash string */
#define DEPTH_MAX 16                   /* nesting of extensions */

/* ------------------------------------------------------------ strings */

typedef struct {
    char *s;
    size_t len, cap;
    bool failed; /* allocation failed or limit passed */
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->failed)
        return;
    if (b->len + n + 1 > PREHASH_HARD_MAX) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_put(sbuf *b, const char *s) {
    sb_putn(b, s, strlen(s));
}

static void sb_free(sbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* A list of owned strings, sorted byte-wise before use. */
typedef struct {
    char **v;
    size_t n, cap;
    bool failed;
} slist;

static void sl_take(slist *l, sbuf *b) {
    if (b->failed) {
        l->failed = true;
        sb_free(b);
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **p = realloc(l->v, cap * sizeof *p);
        if (p == NULL) {
            l->failed = true;
            sb_free(b);
            return;
        }
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = b->s ? b->s : calloc(1, 1);
    memset(b, 0, sizeof *b);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the sorted strings to b and frees them. */
static void sl_flush(slist *l, sbuf *b) {
    if (l->failed)
        b->failed = true;
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, cmp_str);
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i] == NULL)
            b->failed = true;
        else
            sb_put(b, l->v[i]);
        free(l->v[i]);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ------------------------------------------------------------- context */

typedef struct {
    char prefix[64];
    char ns[CT_URI_MAX + 1];
} prefix_map_entry;

typedef struct {
    prefix_map_entry e[PREFIXES_MAX];
    size_t n;
    char ignore[16][CT_URI_MAX + 1]; /* expanded names to leave out */
    size_t ignore_n;
    /* A prefix or an ignored field that did not fit: which ones were kept
     * would depend on the order of the document's keys, and a dropped
     * prefix would hash its CURIEs unexpanded, so the document is refused. */
    bool overflow;
} context;

static void ctx_set(context *c, const char *prefix, const char *ns) {
    if (strlen(prefix) >= sizeof c->e[0].prefix || strlen(ns) > CT_URI_MAX) {
        c->overflow = true;
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].prefix, prefix) == 0) {
            strcpy(c->e[i].ns, ns);
            return;
        }
    }
    if (c->n < PREFIXES_MAX) {
        strcpy(c->e[c->n].prefix, prefix);
        strcpy(c->e[c->n].ns, ns);
        c->n++;
    } else {
        c->overflow = true;
    }
}

static const char *ctx_ns(const context *c, const char *prefix, size_t prefix_len) {
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->e[i].prefix) == prefix_len && memcmp(c->e[i].prefix, prefix, prefix_len) == 0)
            return c->e[i].ns;
    return NULL;
}

/* The prefixes of the standard EPCIS 2.0 context. */
static const struct {
    const char *prefix, *ns;
} STD_PREFIXES[] = {
    {"epcis", "https://ref.gs1.org/epcis/"},
    {"cbv", "https://ref.gs1.org/cbv/"},
    {"cbvmda", "urn:epcglobal:cbv:mda:"},
    {"gs1", "https://gs1.org/voc/"},
    {"rdfs", "http://www.w3.org/2000/01/rdf-schema#"},
    {"owl", "http://www.w3.org/2002/07/owl#"},
    {"xsd", "http://www.w3.org/2001/XMLSchema#"},
    {"dcterms", "http://purl.org/dc/terms/"},
};

static void ctx_init(context *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof STD_PREFIXES / sizeof STD_PREFIXES[0]; i++)
        ctx_set(c, STD_PREFIXES[i].prefix, STD_PREFIXES[i].ns);
}

const char *ct_epcis_std_prefix(const char *ns, size_t ns_len) {
    for (size_t i = 0; i < sizeof STD_PREFIXES / sizeof STD_PREFIXES[0]; i++)
        if (strlen(STD_PREFIXES[i].ns) == ns_len && memcmp(STD_PREFIXES[i].ns, ns, ns_len) == 0)
            return STD_PREFIXES[i].prefix;
    return NULL;
}

/* Reads the document's @context: objects map prefixes to namespaces; the
 * order of keys inside one object does not matter (each key set once). */
static void ctx_load(context *c, json_t *doc) {
    json_t *jc = json_object_get(doc, "@context");
    size_t n = json_is_array(jc) ? json_array_size(jc) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_is_array(jc) ? json_array_get(jc, i) : jc;
        if (!json_is_object(item))
            continue;
        const char *k;
        json_t *v;
        json_object_foreach(item, k, v) {
            if (json_is_string(v) && strchr(k, ':') == NULL && k[0] != '@')
                ctx_set(c, k, json_string_value(v));
        }
    }
}

/* "prefix:local" with a known prefix -> ns + local; else NULL. */
static bool curie_expand(const context *c, const char *s, char *out, size_t out_cap) {
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '/')
        return false;
    const char *ns = ctx_ns(c, s, (size_t)(colon - s));
    if (ns == NULL)
        return false;
    int n = snprintf(out, out_cap, "%s%s", ns, colon + 1);
    return n > 0 && (size_t)n < out_cap;
}

/* ---------------------------------------------------------- values */

static bool is_digit(char ch) {
    return ch >= '0' && ch <= '9';
}

/* Rewrites a decimal number without a sign '+', leading or trailing zeros,
 * or exponent ("1.0" -> "1", "1e3" -> "1000", "0.50" -> "0.5"). false when
 * text is not a plain decimal number. Exact decimal arithmetic on digits,
 * never floating point. */
static bool number_normalize(const char *text, char *out, size_t out_cap) {
    const char *p = text;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    char digits[128];
    size_t nd = 0;
    long point = -1; /* digits before the decimal point */
    bool any = false;
    for (; *p != '\0' && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            if (point >= 0)
                return false;
            point = (long)nd;
        } else if (is_digit(*p)) {
            if (nd >= sizeof digits - 1)
                return false;
            digits[nd++] = *p;
            any = true;
        } else {
            return false;
        }
    }
    if (!any)
        return false;
    if (point < 0)
        point = (long)nd;
    long exp = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool eneg = false;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        if (!is_digit(*p))
            return false;
        for (; is_digit(*p); p++) {
            exp = exp * 10 + (*p - '0');
            if (exp > 64)
                return false;
        }
        if (*p != '\0')
            return false;
        if (eneg)
            exp = -exp;
    }
    point += exp;
    /* Integer part = digits[0..point), fraction = digits[point..nd). */
    char buf[256];
    size_t o = 0;
    size_t first = 0;
    while (first < nd && digits[first] == '0' && (long)first < point - 1)
        first++;
    if (neg)
        buf[o++] = '-';
    if (point <= 0) {
        buf[o++] = '0';
    } else {
        for (long i = (long)first; i < point; i++)
            buf[o++] = i < (long)nd ? digits[i] : '0';
    }
    size_t int_end = o;
    buf[o++] = '.';
    for (long i = point < 0 ? point : point; i < (long)nd; i++)
        buf[o++] = i < 0 ? '0' : digits[i];
    while (o > int_end + 1 && buf[o - 1] == '0')
        o--;
    if (o == int_end + 1)
        o--; /* no fraction left */
    buf[o] = '\0';
    /* Leading zeros of the integer part ("007" -> "7"). */
    char *q = buf + (neg ? 1 : 0);
    while (q[0] == '0' && is_digit(q[1]))
        memmove(q, q + 1, strlen(q));
    if (strcmp(buf, "-0") == 0)
        strcpy(buf, "0");
    if (strlen(buf) + 1 > out_cap)
        return false;
    strcpy(out, buf);
    return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    *y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y += *m <= 2;
}

static bool parse_digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* An xsd:dateTime with an offset -> Unix milliseconds, rounding the fraction
 * to milliseconds half-to-even at microsecond precision (as the reference
 * does); digits past the sixth are dropped. */
static bool time_parse(const char *s, int64_t *ms_out) {
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (!parse_digits(&p, 4, &y) || *p++ != '-' || !parse_digits(&p, 2, &mo) || *p++ != '-' ||
        !parse_digits(&p, 2, &d) || (*p != 'T' && *p != 't') || !(p++, 1) ||
        !parse_digits(&p, 2, &h) || *p++ != ':' || !parse_digits(&p, 2, &mi) || *p++ != ':' ||
        !parse_digits(&p, 2, &sec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    int64_t micro = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        if (!is_digit(*p))
            return false;
        for (; is_digit(*p); p++, n++)
            if (n < 6)
                micro = micro * 10 + (*p - '0');
        for (; n < 6; n++)
            micro *= 10;
    }
    int64_t off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh, om;
        if (!parse_digits(&p, 2, &oh) || *p++ != ':' || !parse_digits(&p, 2, &om) || oh > 14 ||
            om > 59)
            return false;
        off_min = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    int64_t ms = micro / 1000, rest = micro % 1000;
    if (rest > 500 || (rest == 500 && (ms % 2) == 1))
        ms++;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms_out = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms - off_min * 60000;
    return true;
}

hm_err ct_epcis_time_parse(const char *text, int64_t *ms) {
    if (text == NULL || ms == NULL)
        return HM_ERR_ARG;
    return time_parse(text, ms) ? HM_OK : HM_ERR_BAD_VALUE;
}

static void time_format(int64_t ms, char out[64]) {
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 64, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", (long long)y, m, d,
             (long long)(rem / 3600000), (long long)(rem / 60000 % 60),
             (long long)(rem / 1000 % 60), (long long)(rem % 1000));
}

/* ---------------------------------------------------- EPC URN -> DL */

static const char DL[] = "https://id.gs1.org";

static int hex_value(char ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes src into out (capacity cap); false on a bad escape. */
static bool pct_decode(const char *src, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = src[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return false;
            /* Exactly two hex digits (strtol would also take "+1", " 1",
             * "-1", which are not escapes). */
            int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return false;
            ch = (char)(hi << 4 | lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return true;
}

/* Percent-encodes what a Digital Link path segment may not carry bare. */
static void pct_encode(sbuf *b, const char *s) {
    static const char hexd[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        bool bare = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || is_digit((char)ch) ||
                    ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '\'';
        if (bare) {
            sb_putn(b, (const char *)&ch, 1);
        } else {
            char e[3] = {'%', hexd[ch >> 4], hexd[ch & 15]};
            sb_putn(b, e, 3);
        }
    }
}

/* Appends digits plus their GS1 check digit. */
static void put_with_check(sbuf *b, const char *digits) {
    size_t n = strlen(digits);
    for (size_t i = 0; i < n; i++)
        if (!is_digit(digits[i])) {
            b->failed = true;
            return;
        }
    char cd = ct_gs1_check_digit(digits, n);
    sb_put(b, digits);
    sb_putn(b, &cd, 1);
}

/* GTIN-14 from company prefix and item reference (indicator digit first). */
static bool gtin_from(const char *cp, const char *ir, char out[15]) {
    if (strlen(cp) + strlen(ir) != 13 || ir[0] == '\0')
        return false;
    char body[14];
    body[0] = ir[0];
    memcpy(body + 1, cp, strlen(cp));
    memcpy(body + 1 + strlen(cp), ir + 1, strlen(ir) - 1);
    body[13] = '\0';
    for (int i = 0; i < 13; i++)
        if (!is_digit(body[i]))
            return false;
    memcpy(out, body, 13);
    out[13] = ct_gs1_check_digit(body, 13);
    out[14] = '\0';
    return true;
}

/* Splits the dotted fields of an EPC URN body (at most 6). */
static size_t split_dots(char *s, char **parts, size_t max) {
    size_t n = 0;
    parts[n++] = s;
    for (char *p = s; *p != '\0'; p++) {
        if (*p == '.') {
            if (n == max)
                return max + 1;
            *p = '\0';
            parts[n++] = p + 1;
        }
    }
    return n;
}

static bool urn_to_dl_into(const char *urn, sbuf *b) {
    const char *kind = NULL;
    bool is_class = false, is_pat = false;
    if (strncmp(urn, "urn:epc:id:", 11) == 0) {
        kind = urn + 11;
    } else if (strncmp(urn, "urn:epc:class:", 14) == 0) {
        kind = urn + 14;
        is_class = true;
    } else if (strncmp(urn, "urn:epc:idpat:", 14) == 0) {
        kind = urn + 14;
        is_pat = true;
    } else {
        return false;
    }
    const char *colon = strchr(kind, ':');
    if (colon == NULL || strlen(colon + 1) > CT_URI_MAX)
        return false;
    char scheme[16];
    size_t sl = (size_t)(colon - kind);
    if (sl >= sizeof scheme)
        return false;
    memcpy(scheme, kind, sl);
    scheme[sl] = '\0';
    char body[CT_URI_MAX + 1];
    strcpy(body, colon + 1);
    static char empty[1];
    char *f[7] = {empty, empty, empty, empty, empty, empty, empty};
    size_t n = split_dots(body, f, 6);
    if (n > 6)
        return false;
    char dec[CT_URI_MAX + 1];
    char g[15];
    sb_put(b, DL);
    if (is_class) {
        if (strcmp(scheme, "lgtin") != 0 || n != 3 || !gtin_from(f[0], f[1], g) ||
            !pct_decode(f[2], strlen(f[2]), dec, sizeof dec))
            return false;
        sb_put(b, "/01/");
        sb_put(b, g);
        sb_put(b, "/10/");
        pct_encode(b, dec);
        return true;
    }
    if (is_pat) {
        if (n < 2 || strcmp(f[n - 1], "*") != 0)
            return false;
        char digits[32];
        if (strcmp(scheme, "sgtin") == 0 && n == 3 && gtin_from(f[0], f[1], g)) {
            sb_put(b, "/01/");
            sb_put(b, g);
            return true;
        }
        if ((strcmp(scheme, "grai") == 0 || strcmp(scheme, "gdti") == 0 ||
             strcmp(scheme, "sgcn") == 0) &&
            n == 3 && strlen(f[0]) + strlen(f[1]) == 12) {
            snprintf(digits, sizeof digits, "%s%s", f[0], f[1]);
            sb_put(b, strcmp(scheme, "grai") == 0   ? "/8003/0"
                      : strcmp(scheme, "gdti") == 0 ? "/253/"
                                                    : "/255/");
            put_with_check(b, digits);
            return true;
        }
        if (strcmp(scheme, "cpi") == 0 && n == 3 &&
            pct_decode(f[1], strlen(f[1]), dec, sizeof dec)) {
            sb_put(b, "/8010/");
            sb_put(b, f[0]);
            pct_encode(b, dec);
            return true;
        }
        if (strcmp(scheme, "itip") == 0 && n == 5 && gtin_from(f[0], f[1], g)) {
            sb_put(b, "/8006/");
            sb_put(b, g);
            sb_put(b, f[2]);
            sb_put(b, f[3]);
            return true;
        }
        return false;
    }
    char digits[40];
    if (strcmp(scheme, "sgtin") == 0 && n == 3 && gtin_from(f[0], f[1], g) &&
        pct_decode(f[2], strlen(f[2]), dec, sizeof dec)) {
        sb_put(b, "/01/");
        sb_put(b, g);
        sb_put(b, "/21/");
        pct_encode(b, dec);
        return true;
    }
    if (strcmp(scheme, "upui") == 0 && n == 3 && gtin_from(f[0], f[1], g) &&
        pct_decode(f[2], strlen(f[2]), dec, sizeof dec)) {
        sb_put(b, "/01/");
        sb_put(b, g);
        sb_put(b, "/235/");
        pct_encode(b, dec);
        return true;
    }
    if (strcmp(scheme, "sscc") == 0 && n == 2 && strlen(f[0]) + strlen(f[1]) == 17 &&
        f[1][0] != '\0') {
        snprintf(digits, sizeof digits, "%c%s%s", f[1][0], f[0], f[1] + 1);
        sb_put(b, "/00/");
        put_with_check(b, digits);
        return true;
    }
    if ((strcmp(scheme, "sgln") == 0 || strcmp(scheme, "pgln") == 0) &&
        strlen(f[0]) + strlen(f[1]) == 12) {
        bool sgln = strcmp(scheme, "sgln") == 0;
        if ((sgln && n != 3) || (!sgln && n != 2))
            return false;
        snprintf(digits, sizeof digits, "%s%s", f[0], f[1]);
        sb_put(b, sgln ? "/414/" : "/417/");
        put_with_check(b, digits);
        if (sgln && strcmp(f[2], "0") != 0) {
            if (!pct_decode(f[2], strlen(f[2]), dec, sizeof dec))
                return false;
            sb_put(b, "/254/");
            pct_encode(b, dec);
        }
        return true;
    }
    if ((strcmp(scheme, "grai") == 0 || strcmp(scheme, "gdti") == 0 ||
         strcmp(scheme, "sgcn") == 0) &&
        n == 3 && strlen(f[0]) + strlen(f[1]) == 12 &&
        pct_decode(f[2], strlen(f[2]), dec, sizeof dec)) {
        snprintf(digits, sizeof digits, "%s%s", f[0], f[1]);
        sb_put(b, strcmp(scheme, "grai") == 0   ? "/8003/0"
                  : strcmp(scheme, "gdti") == 0 ? "/253/"
                                                : "/255/");
        put_with_check(b, digits);
        pct_encode(b, dec);
        return true;
    }
    if ((strcmp(scheme, "giai") == 0 || strcmp(scheme, "ginc") == 0) && n == 2 &&
        pct_decode(f[1], strlen(f[1]), dec, sizeof dec)) {
        sb_put(b, strcmp(scheme, "giai") == 0 ? "/8004/" : "/401/");
        sb_put(b, f[0]);
        pct_encode(b, dec);
        return true;
    }
    if ((strcmp(scheme, "gsrn") == 0 || strcmp(scheme, "gsrnp") == 0) && n == 2 &&
        strlen(f[0]) + strlen(f[1]) == 17) {
        snprintf(digits, sizeof digits, "%s%s", f[0], f[1]);
        sb_put(b, strcmp(scheme, "gsrn") == 0 ? "/8018/" : "/8017/");
        put_with_check(b, digits);
        return true;
    }
    if (strcmp(scheme, "gsin") == 0 && n == 2 && strlen(f[0]) + strlen(f[1]) == 16) {
        snprintf(digits, sizeof digits, "%s%s", f[0], f[1]);
        sb_put(b, "/402/");
        put_with_check(b, digits);
        return true;
    }
    if (strcmp(scheme, "cpi") == 0 && n == 3 && pct_decode(f[1], strlen(f[1]), dec, sizeof dec)) {
        sb_put(b, "/8010/");
        sb_put(b, f[0]);
        pct_encode(b, dec);
        if (!pct_decode(f[2], strlen(f[2]), dec, sizeof dec))
            return false;
        sb_put(b, "/8011/");
        pct_encode(b, dec);
        return true;
    }
    if (strcmp(scheme, "itip") == 0 && n == 5 && gtin_from(f[0], f[1], g) &&
        pct_decode(f[4], strlen(f[4]), dec, sizeof dec)) {
        sb_put(b, "/8006/");
        sb_put(b, g);
        sb_put(b, f[2]);
        sb_put(b, f[3]);
        sb_put(b, "/21/");
        pct_encode(b, dec);
        return true;
    }
    return false;
}

/* An EPC URN as a Digital Link appended to b; b untouched when urn is not
 * one (or is malformed). */
static bool urn_to_dl(const char *urn, sbuf *b) {
    sbuf tmp = {0};
    bool ok = urn_to_dl_into(urn, &tmp) && !tmp.failed && tmp.s != NULL;
    if (ok)
        sb_put(b, tmp.s);
    sb_free(&tmp);
    return ok;
}

/* Primary keys a Digital Link path may start from, with their alphabetic
 * (deprecated) spellings. */
static const struct {
    const char *ai, *alpha;
} DL_KEYS[] = {
    {"01", "gtin"},   {"00", "sscc"},   {"414", "gln"},    {"417", "party"}, {"8003", "grai"},
    {"8004", "giai"}, {"253", "gdti"},  {"255", "gcn"},    {"401", "ginc"},  {"402", "gsin"},
    {"8006", "itip"}, {"8010", "cpid"}, {"8017", "gsrnp"}, {"8018", "gsrn"},
};
static const struct {
    const char *ai, *alpha;
} DL_QUALIFIERS[] = {
    {"21", "ser"},   {"10", "lot"},    {"22", "cpv"},  {"235", "tpx"},
    {"254", "glnx"}, {"8011", "cpsn"}, {"7040", NULL},
};

static const char *dl_key(const char *seg, size_t n, bool qualifier) {
    size_t count = qualifier ? sizeof DL_QUALIFIERS / sizeof DL_QUALIFIERS[0]
                             : sizeof DL_KEYS / sizeof DL_KEYS[0];
    for (size_t i = 0; i < count; i++) {
        const char *ai = qualifier ? DL_QUALIFIERS[i].ai : DL_KEYS[i].ai;
        const char *alpha = qualifier ? DL_QUALIFIERS[i].alpha : DL_KEYS[i].alpha;
        if ((strlen(ai) == n && memcmp(ai, seg, n) == 0) ||
            (alpha != NULL && strlen(alpha) == n && memcmp(alpha, seg, n) == 0))
            return ai;
    }
    return NULL;
}

/* A Digital Link URI on any domain -> id.gs1.org, numeric keys, no query.
 * false when s is not a Digital Link. */
static bool dl_constrain(const char *s, sbuf *b) {
    const char *p;
    if (strncmp(s, "https://", 8) == 0)
        p = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        p = s + 7;
    else
        return false;
    const char *path = strchr(p, '/');
    if (path == NULL)
        return false;
    size_t path_len = strcspn(path, "?#");
    /* Find the first segment that is a primary key followed by a value. */
    const char *seg = path + 1;
    const char *end = path + path_len;
    while (seg < end) {
        const char *seg_end = memchr(seg, '/', (size_t)(end - seg));
        if (seg_end == NULL)
            seg_end = end;
        const char *ai = dl_key(seg, (size_t)(seg_end - seg), false);
        if (ai != NULL && seg_end < end) {
            sbuf out = {0};
            sb_put(&out, DL);
            const char *q = seg;
            bool primary = true;
            while (q < end) {
                const char *k_end = memchr(q, '/', (size_t)(end - q));
                if (k_end == NULL)
                    return sb_free(&out), false;
                const char *v = k_end + 1;
                const char *v_end = memchr(v, '/', (size_t)(end - v));
                if (v_end == NULL)
                    v_end = end;
                const char *k = dl_key(q, (size_t)(k_end - q), !primary);
                if (k == NULL || v_end == v)
                    return sb_free(&out), false;
                sb_put(&out, "/");
                sb_put(&out, k);
                sb_put(&out, "/");
                sb_putn(&out, v, (size_t)(v_end - v));
                primary = false;
                q = v_end < end ? v_end + 1 : end;
            }
            if (out.failed)
                return sb_free(&out), false;
            sb_put(b, out.s);
            sb_free(&out);
            return true;
        }
        seg = seg_end + 1;
    }
    return false;
}

hm_err ct_epcis_epc_normalize(const char *epc, char *out, size_t out_cap) {
    if (epc == NULL || out == NULL)
        return HM_ERR_ARG;
    sbuf b = {0};
    if (!urn_to_dl(epc, &b)) {
        sb_free(&b);
        if (!dl_constrain(epc, &b)) {
            sb_free(&b);
            sb_put(&b, epc);
        }
    }
    hm_err err = HM_OK;
    if (b.failed || b.s == NULL)
        err = HM_ERR_BAD_VALUE;
    else if (b.len + 1 > out_cap)
        err = HM_ERR_TOO_LONG;
    else
        memcpy(out, b.s, b.len + 1);
    sb_free(&b);
    return err;
}

/* The canonical text of one leaf value. kind decides vocabulary expansion. */
typedef enum {
    V_PLAIN,
    V_BIZSTEP,
    V_DISP,
    V_BTT,
    V_SDT,
    V_GS1VOC, /* sensor type / exception: bare words are gs1: terms */
} vkind;

static bool key_has_time(const char *key) {
    for (const char *p = key; *p != '\0'; p++)
        if ((p[0] == 't' || p[0] == 'T') && (p[1] == 'i' || p[1] == 'I') &&
            (p[2] == 'm' || p[2] == 'M') && (p[3] == 'e' || p[3] == 'E'))
            return true;
    return false;
}

static void value_canonical(const context *c, const char *key, json_t *v, vkind kind, sbuf *b) {
    char tmp[1024];
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        sb_put(b, tmp);
        return;
    }
    if (json_is_real(v)) {
        /* jansson formats the double; the digits are then normalised as
         * text, so no floating point happens here. */
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        if (t == NULL || !number_normalize(t, tmp, sizeof tmp))
            b->failed = true;
        else
            sb_put(b, tmp);
        free(t);
        return;
    }
    if (json_is_boolean(v)) {
        sb_put(b, json_is_true(v) ? "true" : "false");
        return;
    }
    if (!json_is_string(v)) {
        b->failed = true;
        return;
    }
    /* Trim surrounding whitespace. */
    const char *s = json_string_value(v);
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n >= sizeof tmp) {
        b->failed = true;
        return;
    }
    char val[1024];
    memcpy(val, s, n);
    val[n] = '\0';
    /* Timestamps: any key with "time" in it except the offset. */
    if (key != NULL && key_has_time(key) && strcmp(key, "eventTimeZoneOffset") != 0) {
        int64_t ms;
        if (time_parse(val, &ms)) {
            char t[64];
            time_format(ms, t);
            sb_put(b, t);
            return;
        }
    }
    static const struct {
        const char *urn, *web;
    } CBV_URNS[] = {
        {"urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"},
        {"urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"},
        {"urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"},
        {"urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"},
        {"urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"},
    };
    for (size_t i = 0; i < sizeof CBV_URNS / sizeof CBV_URNS[0]; i++) {
        size_t ul = strlen(CBV_URNS[i].urn);
        if (strncmp(val, CBV_URNS[i].urn, ul) == 0) {
            sb_put(b, CBV_URNS[i].web);
            sb_put(b, val + ul);
            return;
        }
    }
    if (strchr(val, ':') == NULL && kind != V_PLAIN) {
        static const char *const BARE[] = {
            [V_BIZSTEP] = "https://ref.gs1.org/cbv/BizStep-",
            [V_DISP] = "https://ref.gs1.org/cbv/Disp-",
            [V_BTT] = "https://ref.gs1.org/cbv/BTT-",
            [V_SDT] = "https://ref.gs1.org/cbv/SDT-",
            [V_GS1VOC] = "https://gs1.org/voc/",
        };
        sb_put(b, BARE[kind]);
        sb_put(b, val);
        return;
    }
    if (urn_to_dl(val, b))
        return;
    size_t before = b->len;
    if (dl_constrain(val, b))
        return;
    b->len = before;
    if (b->s != NULL)
        b->s[before] = '\0';
    if (curie_expand(c, val, tmp, sizeof tmp)) {
        sb_put(b, tmp);
        return;
    }
    if (number_normalize(val, tmp, sizeof tmp)) {
        sb_put(b, tmp);
        return;
    }
    sb_put(b, val);
}

/* ------------------------------------------------------ the pre-hash */

/* Standard EPCIS keys (never treated as extensions). */
static const char *const STANDARD_KEYS[] = {
    "type",
    "eventTime",
    "eventTimeZoneOffset",
    "recordTime",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
    "parentID",
    "epcList",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action",
    "transformationID",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "ilmd",
    "@context",
    "id",
    "comment",
    "rdfs:comment",
};

static bool is_standard(const char *key, const char *const *extra, size_t extra_n) {
    for (size_t i = 0; i < sizeof STANDARD_KEYS / sizeof STANDARD_KEYS[0]; i++)
        if (strcmp(key, STANDARD_KEYS[i]) == 0)
            return true;
    for (size_t i = 0; i < extra_n; i++)
        if (strcmp(key, extra[i]) == 0)
            return true;
    return false;
}

/* "{ns}local" of an extension key, or false to leave it out (a key that is
 * not a CURIE of a known prefix is not in the JSON-LD context, so JSON-LD
 * drops it; so does the reference). */
static bool ext_name(const context *c, const char *key, char *out, size_t cap) {
    const char *colon = strchr(key, ':');
    if (colon == NULL || colon == key)
        return false;
    const char *ns = ctx_ns(c, key, (size_t)(colon - key));
    if (ns == NULL)
        return false;
    int n = snprintf(out, cap, "{%s}%s", ns, colon + 1);
    if (n <= 0 || (size_t)n >= cap)
        return false;
    char expanded[CT_URI_MAX + 64];
    snprintf(expanded, sizeof expanded, "%s%s", ns, colon + 1);
    for (size_t i = 0; i < c->ignore_n; i++)
        if (strcmp(c->ignore[i], expanded) == 0)
            return false;
    return strcmp(expanded, "http://www.w3.org/2000/01/rdf-schema#comment") != 0;
}

static void ext_value(const context *c, const char *name, json_t *v, int depth, slist *out);

/* Extensions of obj (keys not in skip lists), sorted, appended to b. */
static void extensions(const context *c, json_t *obj, const char *const *extra, size_t extra_n,
                       int depth, sbuf *b) {
    slist l = {0};
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (is_standard(k, extra, extra_n))
            continue;
        char name[CT_URI_MAX + 64];
        if (!ext_name(c, k, name, sizeof name))
            continue;
        ext_value(c, name, v, depth + 1, &l);
    }
    sl_flush(&l, b);
}

static void ext_value(const context *c, const char *name, json_t *v, int depth, slist *out) {
    if (depth > DEPTH_MAX) {
        out->failed = true;
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) ext_value(c, name, item, depth + 1, out);
        return;
    }
    sbuf b = {0};
    sb_put(&b, name);
    if (json_is_object(v)) {
        /* "@value" objects carry a literal. */
        json_t *lit = json_object_get(v, "@value");
        if (lit != NULL) {
            sb_put(&b, "=");
            value_canonical(c, NULL, lit, V_PLAIN, &b);
        } else {
            extensions(c, v, NULL, 0, depth, &b);
        }
    } else if (!json_is_null(v)) {
        sb_put(&b, "=");
        const char *colon = strchr(name, '}');
        value_canonical(c, colon ? colon + 1 : name, v, V_PLAIN, &b);
    }
    sl_take(out, &b);
}

static void field(const context *c, json_t *ev, const char *key, vkind kind, sbuf *b) {
    json_t *v = json_object_get(ev, key);
    if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        return;
    sb_put(b, key);
    sb_put(b, "=");
    value_canonical(c, key, v, kind, b);
}

/* One entry of a list, written into e; arg is what the caller passed. */
typedef void (*entry_fn)(const context *c, json_t *item, const void *arg, sbuf *e);

/* The entries of list (none if it is not an array), each written by put into
 * a buffer of its own, sorted and appended to b. With objects_only, an entry
 * that is not an object fails the list. */
static void sorted_entries(const context *c, json_t *list, bool objects_only, entry_fn put,
                           const void *arg, sbuf *b) {
    slist l = {0};
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        if (objects_only && !json_is_object(item)) {
            l.failed = true;
            continue;
        }
        sbuf e = {0};
        put(c, item, arg, &e);
        sl_take(&l, &e);
    }
    sl_flush(&l, b);
}

/* A key, and how its value is written. */
typedef struct {
    const char *key;
    vkind kind;
} member_spec;

/* "key=value" of one entry of a list of values; arg is the member_spec of
 * those values. */
static void put_value(const context *c, json_t *item, const void *arg, sbuf *e) {
    const member_spec *value = arg;
    sb_put(e, value->key);
    sb_put(e, "=");
    value_canonical(c, value->key, item, value->kind, e);
}

static void epc_list(const context *c, json_t *ev, const char *key, sbuf *b) {
    json_t *list = json_object_get(ev, key);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return;
    static const member_spec epc = {"epc", V_PLAIN};
    sb_put(b, key);
    sorted_entries(c, list, false, put_value, &epc, b);
}

/* How the entries of an object list are written: their label, if any, then
 * the members named, in this order. */
typedef struct {
    const char *label;
    const member_spec *members;
    size_t member_count;
} object_spec;

static void put_object(const context *c, json_t *item, const void *arg, sbuf *e) {
    const object_spec *spec = arg;
    if (spec->label != NULL)
        sb_put(e, spec->label);
    for (size_t m = 0; m < spec->member_count; m++)
        field(c, item, spec->members[m].key, spec->members[m].kind, e);
}

/* A list of objects (quantities, typed business entries). An entry that is
 * not an object fails the list. */
static void object_list(const context *c, json_t *ev, const char *key, const object_spec *spec,
                        sbuf *b) {
    json_t *list = json_object_get(ev, key);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return;
    sb_put(b, key);
    sorted_entries(c, list, true, put_object, spec, b);
}

static void quantity_list(const context *c, json_t *ev, const char *key, sbuf *b) {
    static const member_spec members[] = {
        {"epcClass", V_PLAIN}, {"quantity", V_PLAIN}, {"uom", V_PLAIN}};
    static const object_spec spec = {"quantityElement", members,
                                     sizeof members / sizeof members[0]};
    object_list(c, ev, key, &spec, b);
}

static void typed_list(const context *c, json_t *ev, const char *list_key, const char *value_key,
                       vkind type_kind, sbuf *b) {
    const member_spec members[] = {{"type", type_kind}, {value_key, V_PLAIN}};
    const object_spec spec = {NULL, members, sizeof members / sizeof members[0]};
    object_list(c, ev, list_key, &spec, b);
}

static void location(const context *c, json_t *ev, const char *key, sbuf *b) {
    json_t *loc = json_object_get(ev, key);
    if (!json_is_object(loc))
        return;
    sb_put(b, key);
    field(c, loc, "id", V_PLAIN, b);
    extensions(c, loc, NULL, 0, 1, b);
}

static const char *const SENSOR_META[] = {"time",
                                          "startTime",
                                          "endTime",
                                          "deviceID",
                                          "deviceMetadata",
                                          "rawData",
                                          "dataProcessingMethod",
                                          "bizRules"};
/* type and exception first: put_sensor_report writes those two as CBV terms. */
static const char *const SENSOR_REPORT[] = {"type",
                                            "exception",
                                            "deviceID",
                                            "deviceMetadata",
                                            "rawData",
                                            "dataProcessingMethod",
                                            "time",
                                            "microorganism",
                                            "chemicalSubstance",
                                            "value",
                                            "component",
                                            "stringValue",
                                            "booleanValue",
                                            "hexBinaryValue",
                                            "uriValue",
                                            "minValue",
                                            "maxValue",
                                            "meanValue",
                                            "sDev",
                                            "percRank",
                                            "percValue",
                                            "uom",
                                            "coordinateReferenceSystem"};

static void put_sensor_report(const context *c, json_t *r, const void *arg, sbuf *e) {
    (void)arg;
    sb_put(e, "sensorReport");
    /* The first two, type and exception, are CBV vocabulary. */
    for (size_t k = 0; k < sizeof SENSOR_REPORT / sizeof SENSOR_REPORT[0]; k++)
        field(c, r, SENSOR_REPORT[k], k < 2 ? V_GS1VOC : V_PLAIN, e);
    extensions(c, r, SENSOR_REPORT, sizeof SENSOR_REPORT / sizeof SENSOR_REPORT[0], 1, e);
}

static void put_sensor_element(const context *c, json_t *se, const void *arg, sbuf *e) {
    (void)arg;
    sb_put(e, "sensorElement");
    json_t *meta = json_object_get(se, "sensorMetadata");
    if (json_is_object(meta)) {
        sb_put(e, "sensorMetadata");
        for (size_t k = 0; k < sizeof SENSOR_META / sizeof SENSOR_META[0]; k++)
            field(c, meta, SENSOR_META[k], V_PLAIN, e);
        extensions(c, meta, SENSOR_META, sizeof SENSOR_META / sizeof SENSOR_META[0], 1, e);
    }
    sorted_entries(c, json_object_get(se, "sensorReport"), true, put_sensor_report, NULL, e);
    static const char *const SE_KEYS[] = {"sensorMetadata", "sensorReport"};
    extensions(c, se, SE_KEYS, 2, 1, e);
}

static void sensor_elements(const context *c, json_t *ev, sbuf *b) {
    json_t *list = json_object_get(ev, "sensorElementList");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return;
    sb_put(b, "sensorElementList");
    sorted_entries(c, list, true, put_sensor_element, NULL, b);
}

static const char *const EVENT_TYPES[] = {"ObjectEvent", "AggregationEvent", "TransactionEvent",
                                          "TransformationEvent", "AssociationEvent"};

/* The whole pre-hash string of one event. */
static hm_err event_prehash(const context *c, json_t *ev, sbuf *b, char *why, size_t why_cap) {
    const char *type = json_string_value(json_object_get(ev, "type"));
    bool known = false;
    for (size_t i = 0; type != NULL && i < sizeof EVENT_TYPES / sizeof EVENT_TYPES[0]; i++)
        known = known || strcmp(type, EVENT_TYPES[i]) == 0;
    if (!known) {
        snprintf(why, why_cap, "event type is missing or not an EPCIS 2.0 event type");
        return HM_ERR_UNKNOWN_TYPE;
    }
    int64_t ms;
    const char *t = json_string_value(json_object_get(ev, "eventTime"));
    if (t == NULL || !time_parse(t, &ms)) {
        snprintf(why, why_cap, "eventTime is missing or not an xsd:dateTime with an offset");
        return HM_ERR_BAD_VALUE;
    }
    sb_put(b, "eventType=");
    sb_put(b, type);
    field(c, ev, "eventTime", V_PLAIN, b);
    field(c, ev, "eventTimeZoneOffset", V_PLAIN, b);
    field(c, ev, "certificationInfo", V_PLAIN, b);
    field(c, ev, "parentID", V_PLAIN, b);
    epc_list(c, ev, "epcList", b);
    epc_list(c, ev, "inputEPCList", b);
    epc_list(c, ev, "childEPCs", b);
    quantity_list(c, ev, "quantityList", b);
    quantity_list(c, ev, "childQuantityList", b);
    quantity_list(c, ev, "inputQuantityList", b);
    epc_list(c, ev, "outputEPCList", b);
    quantity_list(c, ev, "outputQuantityList", b);
    field(c, ev, "action", V_PLAIN, b);
    field(c, ev, "transformationID", V_PLAIN, b);
    field(c, ev, "bizStep", V_BIZSTEP, b);
    field(c, ev, "disposition", V_DISP, b);
    json_t *pd = json_object_get(ev, "persistentDisposition");
    if (json_is_object(pd)) {
        sb_put(b, "persistentDisposition");
        static const member_spec PD[] = {{"set", V_DISP}, {"unset", V_DISP}};
        for (int k = 0; k < 2; k++)
            sorted_entries(c, json_object_get(pd, PD[k].key), false, put_value, &PD[k], b);
    }
    location(c, ev, "readPoint", b);
    location(c, ev, "bizLocation", b);
    typed_list(c, ev, "bizTransactionList", "bizTransaction", V_BTT, b);
    /* The golden data put destinations before sources. */
    typed_list(c, ev, "destinationList", "destination", V_SDT, b);
    typed_list(c, ev, "sourceList", "source", V_SDT, b);
    sensor_elements(c, ev, b);
    json_t *ilmd = json_object_get(ev, "ilmd");
    if (json_is_object(ilmd) && json_object_size(ilmd) > 0) {
        sb_put(b, "ilmd");
        extensions(c, ilmd, NULL, 0, 1, b);
    }
    extensions(c, ev, NULL, 0, 0, b);
    if (b->failed) {
        snprintf(why, why_cap,
                 "a field has a value of the wrong JSON type, or the event is too "
                 "large or nested too deeply");
        return HM_ERR_BAD_VALUE;
    }
    return HM_OK;
}

hm_err ct_epcis_event_prehash(json_t *event, const char *const *prefixes,
                              const char *const *namespaces, size_t count, char **out) {
    assert(out != NULL);
    *out = NULL;
    if (event == NULL || (count > 0 && (prefixes == NULL || namespaces == NULL)))
        return HM_ERR_ARG;
    context *c = malloc(sizeof *c);
    if (c == NULL)
        return HM_ERR_NOMEM;
    ctx_init(c);
    for (size_t i = 0; i < count; i++)
        ctx_set(c, prefixes[i], namespaces[i]);
    hm_err err = HM_ERR_TOO_LONG;
    sbuf b = {0};
    if (!c->overflow) {
        char why[8];
        err = event_prehash(c, event, &b, why, sizeof why);
    }
    free(c);
    if (err == HM_OK && b.s == NULL)
        err = HM_ERR_BAD_VALUE;
    if (err != HM_OK) {
        sb_free(&b);
        return err;
    }
    *out = b.s;
    return HM_OK;
}

/* ----------------------------------------------------------- documents */

struct ct_epcis_doc {
    json_t *root;
    context ctx;
    size_t count;
    json_t **events; /* borrowed from root */
    char **prehash;
    uint8_t (*hash)[HM_HASH_LEN];
};

void ct_epcis_doc_free(ct_epcis_doc *d) {
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->count; i++)
        free(d->prehash ? d->prehash[i] : NULL);
    free(d->prehash);
    free(d->hash);
    free(d->events);
    json_decref(d->root);
    free(d);
}

static hm_err doc_fail(ct_epcis_doc *d, hm_err err, char *why, size_t why_cap, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static hm_err doc_fail(ct_epcis_doc *d, hm_err err, char *why, size_t why_cap, const char *fmt,
                       ...) {
    if (why != NULL && why_cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_cap, fmt, ap);
        va_end(ap);
    }
    ct_epcis_doc_free(d);
    return err;
}

hm_err ct_epcis_doc_parse(const char *json, size_t len, ct_epcis_doc **out, char *why,
                          size_t why_cap) {
    char scratch[8];
    if (why == NULL || why_cap == 0) {
        why = scratch;
        why_cap = sizeof scratch;
    }
    why[0] = '\0';
    if (json == NULL || out == NULL)
        return HM_ERR_ARG;
    if (len > CT_EPCIS_DOC_MAX)
        return doc_fail(NULL, HM_ERR_TOO_LONG, why, why_cap, "document larger than %u bytes",
                        CT_EPCIS_DOC_MAX);
    if (len > 0 && json[0] == '<')
        return doc_fail(NULL, HM_ERR_UNKNOWN_TYPE, why, why_cap,
                        "XML documents are not supported; send EPCIS 2.0 JSON or JSON-LD");
    ct_epcis_doc *d = calloc(1, sizeof *d);
    if (d == NULL)
        return HM_ERR_NOMEM;
    json_error_t jerr;
    d->root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (d->root == NULL)
        return doc_fail(d, HM_ERR_BAD_VALUE, why, why_cap, "not JSON: %s (line %d)", jerr.text,
                        jerr.line);
    const char *dtype = json_string_value(json_object_get(d->root, "type"));
    json_t *body = json_object_get(d->root, "epcisBody");
    json_t *list = NULL;
    if (dtype != NULL && strcmp(dtype, "EPCISDocument") == 0) {
        list = json_object_get(body, "eventList");
    } else if (dtype != NULL && strcmp(dtype, "EPCISQueryDocument") == 0) {
        json_t *results = json_object_get(json_object_get(body, "queryResults"), "resultsBody");
        list = json_object_get(results, "eventList");
    } else {
        return doc_fail(d, HM_ERR_UNKNOWN_TYPE, why, why_cap,
                        "not an EPCISDocument or EPCISQueryDocument (type is \"%s\")",
                        dtype ? dtype : "missing");
    }
    if (!json_is_array(list))
        return doc_fail(d, HM_ERR_BAD_VALUE, why, why_cap, "epcisBody has no eventList array");
    d->count = json_array_size(list);
    if (d->count > CT_EPCIS_EVENTS_MAX)
        return doc_fail(d, HM_ERR_TOO_LONG, why, why_cap, "more than %d events",
                        CT_EPCIS_EVENTS_MAX);
    ctx_init(&d->ctx);
    ctx_load(&d->ctx, d->root);
    /* Tool-level ignore lists ("x:ignoreFields": [CURIE, ...]) in the
     * document header: those fields are left out of the hash. */
    const char *k;
    json_t *v;
    json_t *holders[3] = {d->root, body, json_object_get(body, "queryResults")};
    for (int h = 0; h < 3; h++) {
        if (!json_is_object(holders[h]))
            continue;
        json_object_foreach(holders[h], k, v) {
            const char *colon = strchr(k, ':');
            if (colon == NULL || strcmp(colon + 1, "ignoreFields") != 0 || !json_is_array(v))
                continue;
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) {
                char exp[CT_URI_MAX + 1];
                if (!json_is_string(item) ||
                    !curie_expand(&d->ctx, json_string_value(item), exp, sizeof exp))
                    continue;
                if (d->ctx.ignore_n < sizeof d->ctx.ignore / sizeof d->ctx.ignore[0])
                    strcpy(d->ctx.ignore[d->ctx.ignore_n++], exp);
                else
                    d->ctx.overflow = true;
            }
        }
    }
    if (d->ctx.overflow)
        return doc_fail(d, HM_ERR_TOO_LONG, why, why_cap,
                        "@context or ignoreFields too large (at most %d prefixes of 63 bytes, "
                        "namespaces of %d bytes, 16 ignored fields)",
                        PREFIXES_MAX, CT_URI_MAX);
    size_t n = d->count ? d->count : 1;
    d->events = calloc(n, sizeof *d->events);
    d->prehash = calloc(n, sizeof *d->prehash);
    d->hash = calloc(n, HM_HASH_LEN);
    if (d->events == NULL || d->prehash == NULL || d->hash == NULL)
        return doc_fail(d, HM_ERR_NOMEM, why, why_cap, "out of memory");
    for (size_t i = 0; i < d->count; i++) {
        json_t *ev = json_array_get(list, i);
        if (!json_is_object(ev))
            return doc_fail(d, HM_ERR_BAD_VALUE, why, why_cap, "event %zu is not an object", i);
        d->events[i] = ev;
        sbuf b = {0};
        char reason[160];
        hm_err err = event_prehash(&d->ctx, ev, &b, reason, sizeof reason);
        if (err != HM_OK) {
            sb_free(&b);
            return doc_fail(d, err, why, why_cap, "event %zu: %s", i, reason);
        }
        d->prehash[i] = b.s;
        hm_sha256((const uint8_t *)b.s, b.len, d->hash[i]);
    }
    *out = d;
    return HM_OK;
}

size_t ct_epcis_doc_count(const ct_epcis_doc *d) {
    return d ? d->count : 0;
}

const char *ct_epcis_doc_prehash(const ct_epcis_doc *d, size_t i) {
    return d != NULL && i < d->count ? d->prehash[i] : NULL;
}

void ct_epcis_doc_hash(const ct_epcis_doc *d, size_t i, uint8_t out[HM_HASH_LEN]) {
    if (d != NULL && i < d->count)
        memcpy(out, d->hash[i], HM_HASH_LEN);
}

void ct_epcis_hash_id(const uint8_t hash[HM_HASH_LEN], char *out) {
    char hex[2 * HM_HASH_LEN + 1];
    hm_hex_encode(hash, HM_HASH_LEN, hex);
    memcpy(out, "ni:///sha-256;", 14);
    memcpy(out + 14, hex, 2 * HM_HASH_LEN);
    memcpy(out + 14 + 2 * HM_HASH_LEN, "?ver=CBV2.0", 12);
}

hm_err ct_epcis_hash_id_parse(const char *text, uint8_t hash[HM_HASH_LEN]) {
    if (text == NULL || hash == NULL)
        return HM_ERR_ARG;
    static const char pre[] = "ni:///sha-256;";
    static const char post[] = "?ver=CBV2.0";
    size_t n = strlen(text);
    if (n != CT_EPCIS_HASH_ID_LEN || strncmp(text, pre, sizeof pre - 1) != 0 ||
        strcmp(text + n - (sizeof post - 1), post) != 0)
        return HM_ERR_BAD_VALUE;
    char hex[2 * HM_HASH_LEN + 1];
    memcpy(hex, text + sizeof pre - 1, 2 * HM_HASH_LEN);
    hex[2 * HM_HASH_LEN] = '\0';
    return hm_hex_decode(hex, hash, HM_HASH_LEN) == HM_OK ? HM_OK : HM_ERR_BAD_VALUE;
}

/* ------------------------------------------------------------ records */

/* The canonical text of v into out (cap bytes), or false if it has none or
 * does not fit. */
static bool canon_value(const context *c, const char *key, json_t *v, vkind kind, char *out,
                        size_t cap) {
    sbuf b = {0};
    value_canonical(c, key, v, kind, &b);
    bool ok = !b.failed && b.s != NULL && b.len < cap;
    if (ok)
        memcpy(out, b.s, b.len + 1);
    sb_free(&b);
    return ok;
}

static bool canon_field(const context *c, json_t *obj, const char *key, vkind kind, char *out,
                        size_t cap) {
    out[0] = '\0';
    json_t *v = json_object_get(obj, key);
    return v == NULL || json_is_null(v) || canon_value(c, key, v, kind, out, cap);
}

static hm_err rec_epcs(const context *c, json_t *ev, const char *key, ct_event_epc *epcs,
                       uint32_t *count, char *why, size_t why_cap) {
    json_t *list = json_object_get(ev, key);
    if (list == NULL)
        return HM_OK;
    if (!json_is_array(list)) {
        snprintf(why, why_cap, "%s is not a list", key);
        return HM_ERR_BAD_VALUE;
    }
    if (*count + json_array_size(list) > CT_EVENT_EPCS_MAX) {
        snprintf(why, why_cap, "more than %d EPCs in %s (unsupported: split the event)",
                 CT_EVENT_EPCS_MAX, key);
        return HM_ERR_TOO_LONG;
    }
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        ct_event_epc *e = &epcs[*count];
        if (!canon_value(c, "epc", item, V_PLAIN, e->epc, sizeof e->epc) || e->epc[0] == '\0') {
            snprintf(why, why_cap, "an EPC in %s is empty, not text, or longer than %d bytes", key,
                     CT_URI_MAX);
            return HM_ERR_BAD_VALUE;
        }
        memset(e->prev_hash, 0, HM_HASH_LEN);
        (*count)++;
    }
    return HM_OK;
}

static hm_err rec_biz(const context *c, json_t *ev, const char *list_key, const char *value_key,
                      vkind kind, ct_event_biz *out, uint32_t *count, char *why, size_t why_cap) {
    json_t *list = json_object_get(ev, list_key);
    if (list == NULL)
        return HM_OK;
    if (!json_is_array(list) || json_array_size(list) > CT_EVENT_BIZ_MAX) {
        snprintf(why, why_cap, "%s is not a list of at most %d entries", list_key,
                 CT_EVENT_BIZ_MAX);
        return HM_ERR_TOO_LONG;
    }
    /* Stored in canonical (sorted) order so that the record does not depend
     * on the order of the submitted JSON. */
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        ct_event_biz *e = &out[*count];
        if (!json_is_object(item) || !canon_field(c, item, "type", kind, e->type, sizeof e->type) ||
            !canon_field(c, item, value_key, V_PLAIN, e->value, sizeof e->value) ||
            e->value[0] == '\0') {
            snprintf(why, why_cap, "an entry of %s is malformed or too long", list_key);
            return HM_ERR_BAD_VALUE;
        }
        (*count)++;
    }
    for (uint32_t a = 1; a < *count; a++)
        for (uint32_t b = a; b > 0; b--) {
            int cmp = strcmp(out[b - 1].type, out[b].type);
            if (cmp < 0 || (cmp == 0 && strcmp(out[b - 1].value, out[b].value) <= 0))
                break;
            ct_event_biz t = out[b - 1];
            out[b - 1] = out[b];
            out[b] = t;
        }
    return HM_OK;
}

static int cmp_epc(const void *a, const void *b) {
    return strcmp(((const ct_event_epc *)a)->epc, ((const ct_event_epc *)b)->epc);
}

hm_err ct_epcis_doc_record(const ct_epcis_doc *d, size_t i, ct_event_record *out, char *why,
                           size_t why_cap) {
    char scratch[8];
    if (why == NULL || why_cap == 0) {
        why = scratch;
        why_cap = sizeof scratch;
    }
    if (d == NULL || out == NULL || i >= d->count)
        return HM_ERR_ARG;
    json_t *ev = d->events[i];
    const context *c = &d->ctx;
    memset(out, 0, sizeof *out);
    memcpy(out->event_hash, d->hash[i], HM_HASH_LEN);
    const char *type = json_string_value(json_object_get(ev, "type"));
    static const struct {
        const char *name;
        uint8_t type;
    } TYPES[] = {{"ObjectEvent", CT_EPCIS_OBJECT},
                 {"AggregationEvent", CT_EPCIS_AGGREGATION},
                 {"TransactionEvent", CT_EPCIS_TRANSACTION},
                 {"TransformationEvent", CT_EPCIS_TRANSFORMATION}};
    for (size_t k = 0; k < 4; k++)
        if (type != NULL && strcmp(type, TYPES[k].name) == 0)
            out->type = TYPES[k].type;
    if (out->type == 0) {
        snprintf(why, why_cap,
                 "%s is not supported (only Object, Aggregation, Transaction and "
                 "Transformation events)",
                 type ? type : "an untyped event");
        return HM_ERR_UNKNOWN_TYPE;
    }
    const char *action = json_string_value(json_object_get(ev, "action"));
    if (out->type == CT_EPCIS_TRANSFORMATION) {
        out->action = CT_ACTION_NONE;
    } else if (action != NULL && strcmp(action, "ADD") == 0) {
        out->action = CT_ACTION_ADD;
    } else if (action != NULL && strcmp(action, "OBSERVE") == 0) {
        out->action = CT_ACTION_OBSERVE;
    } else if (action != NULL && strcmp(action, "DELETE") == 0) {
        out->action = CT_ACTION_DELETE;
    } else {
        snprintf(why, why_cap, "action must be ADD, OBSERVE or DELETE");
        return HM_ERR_BAD_VALUE;
    }
    int64_t ms = 0;
    const char *t = json_string_value(json_object_get(ev, "eventTime"));
    if (t == NULL || !time_parse(t, &ms) || ms < 0) {
        snprintf(why, why_cap, "eventTime before 1970 is not supported");
        return HM_ERR_BAD_VALUE;
    }
    out->event_time_ms = (uint64_t)ms;
    const char *tz = json_string_value(json_object_get(ev, "eventTimeZoneOffset"));
    if (tz == NULL || strlen(tz) != 6) {
        snprintf(why, why_cap, "eventTimeZoneOffset must be \"+hh:mm\" or \"-hh:mm\"");
        return HM_ERR_BAD_VALUE;
    }
    strcpy(out->tz_offset, tz);
    json_t *rp = json_object_get(ev, "readPoint");
    json_t *bl = json_object_get(ev, "bizLocation");
    if (!canon_field(c, ev, "bizStep", V_BIZSTEP, out->biz_step, sizeof out->biz_step) ||
        !canon_field(c, ev, "disposition", V_DISP, out->disposition, sizeof out->disposition) ||
        (json_is_object(rp) &&
         !canon_field(c, rp, "id", V_PLAIN, out->read_point, sizeof out->read_point)) ||
        (json_is_object(bl) &&
         !canon_field(c, bl, "id", V_PLAIN, out->biz_location, sizeof out->biz_location)) ||
        !canon_field(c, ev, "parentID", V_PLAIN, out->parent, sizeof out->parent)) {
        snprintf(why, why_cap,
                 "bizStep, disposition, readPoint, bizLocation or parentID is "
                 "malformed or longer than %d bytes",
                 CT_URI_MAX);
        return HM_ERR_BAD_VALUE;
    }
    if (out->type == CT_EPCIS_AGGREGATION && out->parent[0] == '\0' &&
        out->action != CT_ACTION_OBSERVE) {
        snprintf(why, why_cap, "an AggregationEvent ADD or DELETE needs a parentID");
        return HM_ERR_BAD_VALUE;
    }
    if (out->type == CT_EPCIS_TRANSFORMATION && out->parent[0] != '\0') {
        snprintf(why, why_cap, "a TransformationEvent has no parentID");
        return HM_ERR_BAD_VALUE;
    }
    hm_err err = HM_OK;
    const char *main_list = out->type == CT_EPCIS_AGGREGATION      ? "childEPCs"
                            : out->type == CT_EPCIS_TRANSFORMATION ? "inputEPCList"
                                                                   : "epcList";
    err = rec_epcs(c, ev, main_list, out->epcs, &out->epc_count, why, why_cap);
    if (err == HM_OK && out->type == CT_EPCIS_TRANSFORMATION)
        err = rec_epcs(c, ev, "outputEPCList", out->outputs, &out->output_count, why, why_cap);
    if (err == HM_OK)
        err = rec_biz(c, ev, "bizTransactionList", "bizTransaction", V_BTT, out->biz,
                      &out->biz_count, why, why_cap);
    if (err == HM_OK)
        err = rec_biz(c, ev, "sourceList", "source", V_SDT, out->sources, &out->source_count, why,
                      why_cap);
    if (err == HM_OK)
        err = rec_biz(c, ev, "destinationList", "destination", V_SDT, out->dests, &out->dest_count,
                      why, why_cap);
    if (err != HM_OK)
        return err;
    qsort(out->epcs, out->epc_count, sizeof out->epcs[0], cmp_epc);
    qsort(out->outputs, out->output_count, sizeof out->outputs[0], cmp_epc);
    /* The record carries the whole canonical event when it fits; else only
     * its hash (the event is still identified and provable by it). */
    size_t pl = strlen(d->prehash[i]);
    if (pl <= CT_PREHASH_MAX) {
        memcpy(out->prehash, d->prehash[i], pl + 1);
        out->prehash_len = (uint32_t)pl;
    }
    uint8_t *buf = malloc(CT_RECORD_MAX + 1);
    if (buf == NULL)
        return HM_ERR_NOMEM;
    hm_writer w;
    hm_writer_init(&w, buf, CT_RECORD_MAX);
    err = ct_event_record_encode(out, &w);
    if (err == HM_ERR_FULL && out->prehash_len > 0) {
        out->prehash_len = 0;
        out->prehash[0] = '\0';
        hm_writer_init(&w, buf, CT_RECORD_MAX);
        err = ct_event_record_encode(out, &w);
    }
    free(buf);
    if (err != HM_OK) {
        snprintf(why, why_cap,
                 "event does not fit a %d-byte record (unsupported: too many or too "
                 "long EPCs and business entries)",
                 CT_RECORD_MAX);
        return HM_ERR_TOO_LONG;
    }
    return HM_OK;
}

/* ------------------------------------------------- batches of records */

/* Last event hash per item EPC seen so far in one document, kept sorted
 * (binary search; inserts shift, which is fine for one document). */
typedef struct {
    char (*epc)[CT_URI_MAX + 1];
    uint8_t (*hash)[HM_HASH_LEN];
    size_t n, cap;
} chain_map;

static size_t chain_pos(const chain_map *m, const char *epc, bool *found) {
    size_t lo = 0, hi = m->n;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->epc[mid], epc);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool chain_set(chain_map *m, const char *epc, const uint8_t hash[HM_HASH_LEN]) {
    bool found;
    size_t pos = chain_pos(m, epc, &found);
    if (found) {
        memcpy(m->hash[pos], hash, HM_HASH_LEN);
        return true;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        void *e = realloc(m->epc, cap * sizeof *m->epc);
        if (e == NULL)
            return false;
        m->epc = e;
        void *h = realloc(m->hash, cap * sizeof *m->hash);
        if (h == NULL)
            return false;
        m->hash = h;
        m->cap = cap;
    }
    memmove(m->epc + pos + 1, m->epc + pos, (m->n - pos) * sizeof *m->epc);
    memmove(m->hash + pos + 1, m->hash + pos, (m->n - pos) * sizeof *m->hash);
    strcpy(m->epc[pos], epc);
    memcpy(m->hash[pos], hash, HM_HASH_LEN);
    m->n++;
    return true;
}

void ct_epcis_records_free(uint8_t **recs, size_t *lens, size_t count) {
    for (size_t i = 0; recs != NULL && i < count; i++)
        free(recs[i]);
    free(recs);
    free(lens);
}

hm_err ct_epcis_doc_records(const ct_epcis_doc *d, size_t first, size_t count,
                            ct_epcis_prev_fn prev, void *arg, uint8_t ***recs_out,
                            size_t **lens_out, char *why, size_t why_cap) {
    char scratch[8];
    if (why == NULL || why_cap == 0) {
        why = scratch;
        why_cap = sizeof scratch;
    }
    why[0] = '\0';
    if (d == NULL || prev == NULL || recs_out == NULL || lens_out == NULL || first > d->count ||
        count > d->count - first || count > CT_BATCH_RECORDS_MAX)
        return HM_ERR_ARG;
    uint8_t **recs = calloc(count ? count : 1, sizeof *recs);
    size_t *lens = calloc(count ? count : 1, sizeof *lens);
    ct_event_record *rec = calloc(1, sizeof *rec);
    chain_map chain = {0};
    hm_err err = recs && lens && rec ? HM_OK : HM_ERR_NOMEM;
    /* Earlier events of the document (before first) chain too. */
    for (size_t i = 0; i < first + count && err == HM_OK; i++) {
        err = ct_epcis_doc_record(d, i, rec, why, why_cap);
        if (err != HM_OK) {
            char inner[200];
            snprintf(inner, sizeof inner, "%s", why);
            snprintf(why, why_cap, "event %zu: %s", i, inner);
            break;
        }
        ct_event_epc *lists[2] = {rec->epcs, rec->outputs};
        uint32_t counts[2] = {rec->epc_count, rec->output_count};
        for (int l = 0; l < 2 && err == HM_OK; l++) {
            for (uint32_t k = 0; k < counts[l] && err == HM_OK; k++) {
                ct_event_epc *e = &lists[l][k];
                ct_item_ref ref;
                if (!ct_epc_item_parse(e->epc, &ref))
                    continue;
                bool found;
                size_t pos = chain_pos(&chain, e->epc, &found);
                if (found) {
                    memcpy(e->prev_hash, chain.hash[pos], HM_HASH_LEN);
                } else {
                    err = prev(arg, e->epc, e->prev_hash);
                    if (err == HM_ERR_NOT_FOUND)
                        snprintf(why, why_cap, "event %zu: %s is not a registered item", i, e->epc);
                    else if (err != HM_OK)
                        snprintf(why, why_cap, "event %zu: cannot read %s's last event", i, e->epc);
                }
                if (err == HM_OK && !chain_set(&chain, e->epc, rec->event_hash))
                    err = HM_ERR_NOMEM;
            }
        }
        if (err != HM_OK || i < first)
            continue;
        hm_writer w;
        hm_writer_init_growable(&w, CT_RECORD_MAX);
        err = ct_event_record_encode(rec, &w);
        if (err != HM_OK) {
            hm_writer_free(&w);
            snprintf(why, why_cap, "event %zu: its record does not encode", i);
            break;
        }
        recs[i - first] = hm_writer_take(&w, &lens[i - first]);
    }
    free(rec);
    free(chain.epc);
    free(chain.hash);
    if (err != HM_OK) {
        ct_epcis_records_free(recs, lens, count);
        return err;
    }
    *recs_out = recs;
    *lens_out = lens;
    return HM_OK;
}

hm_err ct_epcis_prev_from_store(void *arg, const char *epc, uint8_t out[HM_HASH_LEN]) {
    const ct_store *s = arg;
    ct_item_ref ref;
    if (!ct_epc_item_parse(epc, &ref)) {
        memset(out, 0, HM_HASH_LEN);
        return HM_OK;
    }
    ct_item_status *st = malloc(sizeof *st);
    if (st == NULL)
        return HM_ERR_NOMEM;
    hm_err err = ct_query_item(s, ref.gtin, ref.serial, st);
    if (err == HM_OK)
        memcpy(out, st->last_event, HM_HASH_LEN);
    free(st);
    return err;
}

hm_err ct_epcis_tx_assemble(hm_writer *w, uint32_t type, const hm_pubkey *signer, uint64_t nonce,
                            const uint8_t *const *records, const size_t *lens, uint32_t count,
                            const hm_sig *sig) {
    if (w == NULL || signer == NULL || sig == NULL ||
        (count > 0 && (records == NULL || lens == NULL)))
        return HM_ERR_ARG;
    if (count == 0 || count > CT_BATCH_RECORDS_MAX)
        return HM_ERR_TOO_LONG;
    /* The envelope of contracts/ct.h: head (with the records root), the
     * signature, then the records. */
    hm_put_u8(w, CT_TX_VERSION);
    hm_put_varint(w, type);
    hm_put_raw(w, signer->bytes, HM_PUBKEY_LEN);
    hm_put_varint(w, nonce);
    hm_put_bytes(w, NULL, 0, CT_TX_BODY_MAX);
    hm_put_bool(w, true);
    hm_merkle_builder b;
    hm_merkle_builder_init(&b);
    for (uint32_t i = 0; i < count; i++) {
        if (lens[i] > CT_RECORD_MAX)
            return HM_ERR_TOO_LONG;
        uint8_t leaf[HM_HASH_LEN];
        hm_merkle_leaf_hash(records[i], lens[i], leaf);
        hm_merkle_builder_add(&b, leaf);
    }
    uint8_t root[HM_HASH_LEN];
    hm_merkle_builder_root(&b, root);
    hm_put_raw(w, root, HM_HASH_LEN);
    hm_put_varint(w, count);
    hm_put_raw(w, sig->bytes, HM_SIG_LEN);
    hm_put_varint(w, count);
    for (uint32_t i = 0; i < count; i++)
        hm_put_bytes(w, records[i], lens[i], CT_RECORD_MAX);
    return hm_writer_error(w);
}
