/* contracts/gs1.c — GTIN validation and GS1 Digital Link URIs.
 *
 * Layer: contracts/, pure text processing. A small table of application
 * identifiers (the subset of GS1's syntax dictionary that consumer goods
 * use) drives value validation, element strings and the key/qualifier rules.
 *
 * Never: allocation, I/O, locale-dependent ctype functions (a scanner's bytes
 * are not text in any locale), or assertions on input. */
#include "ct_gs1.h"

#include <assert.h>
#include <string.h>

/* ------------------------------------------------------------ AI table */

enum { AI_FIXED = 1u << 0, AI_NOT_ATTR = 1u << 1 };

typedef struct {
    const char *ai;
    const char *format; /* components: N/X/Y then "n" or "..n"; ",csum"; "[...]" optional */
    unsigned flags;
    const char *qualifiers; /* primary key: "" none; "22,10,21|235"; NULL not a key */
} ai_def;

/* Predefined-length AIs (no FNC1 after them) are those whose first two
 * digits are in GS1's predefined-length table; AI_FIXED records it. */
static const ai_def ai_table[] = {
    {"00", "N18,csum", AI_FIXED, ""},
    {"01", "N14,csum", AI_FIXED, "22,10,21|235"},
    {"02", "N14,csum", AI_FIXED, NULL},
    {"03", "N14,csum", AI_FIXED, NULL},
    {"10", "X..20", 0, NULL},
    {"11", "N6,date", AI_FIXED, NULL},
    {"12", "N6,date", AI_FIXED, NULL},
    {"13", "N6,date", AI_FIXED, NULL},
    {"15", "N6,date", AI_FIXED, NULL},
    {"16", "N6,date", AI_FIXED, NULL},
    {"17", "N6,date", AI_FIXED, NULL},
    {"20", "N2", AI_FIXED, NULL},
    {"21", "X..20", 0, NULL},
    {"22", "X..20", 0, NULL},
    {"235", "X..28", 0, NULL},
    {"240", "X..30", 0, NULL},
    {"241", "X..30", 0, NULL},
    {"242", "N..6", 0, NULL},
    {"243", "X..20", 0, NULL},
    {"250", "X..30", 0, NULL},
    {"251", "X..30", 0, NULL},
    {"253", "N13,csum [X..17]", 0, ""},
    {"254", "X..20", 0, NULL},
    {"255", "N13,csum [N..12]", 0, ""},
    {"30", "N..8", 0, NULL},
    {"37", "N..8", 0, NULL},
    {"400", "X..30", 0, NULL},
    {"401", "X..30", 0, ""},
    {"402", "N17,csum", 0, ""},
    {"403", "X..30", 0, NULL},
    {"410", "N13,csum", AI_FIXED, NULL},
    {"411", "N13,csum", AI_FIXED, NULL},
    {"412", "N13,csum", AI_FIXED, NULL},
    {"413", "N13,csum", AI_FIXED, NULL},
    {"414", "N13,csum", AI_FIXED, "254|7040"},
    {"415", "N13,csum", AI_FIXED, NULL},
    {"416", "N13,csum", AI_FIXED, NULL},
    {"417", "N13,csum", AI_FIXED, "7040"},
    {"420", "X..20", 0, NULL},
    {"421", "N3 X..9", 0, NULL},
    {"422", "N3", 0, NULL},
    {"423", "N3 [N..12]", 0, NULL},
    {"424", "N3", 0, NULL},
    {"425", "N3 [N..12]", 0, NULL},
    {"426", "N3", 0, NULL},
    {"427", "X..3", 0, NULL},
    {"7001", "N13", 0, NULL},
    {"7002", "X..30", 0, NULL},
    {"7003", "N10", 0, NULL},
    {"7004", "N..4", 0, NULL},
    {"7005", "X..12", 0, NULL},
    {"7006", "N6", 0, NULL},
    {"7007", "N6 [N6]", 0, NULL},
    {"7008", "X..3", 0, NULL},
    {"7009", "X..10", 0, NULL},
    {"7010", "X..2", 0, NULL},
    {"7040", "N1 X1 X1 X1", 0, NULL},
    {"8001", "N14", 0, NULL},
    {"8002", "X..20", 0, NULL},
    {"8003", "N1 N13,csum [X..16]", 0, ""},
    {"8004", "X..30", 0, ""},
    {"8005", "N6", 0, NULL},
    {"8006", "N14,csum N4", 0, "22,10,21"},
    {"8007", "X..34", 0, NULL},
    {"8008", "N8 [N..4]", 0, NULL},
    {"8009", "X..50", 0, NULL},
    {"8010", "Y..30", 0, "8011"},
    {"8011", "N..12", 0, NULL},
    {"8012", "X..20", 0, NULL},
    {"8013", "X..25", 0, ""},
    {"8017", "N18,csum", 0, "8019"},
    {"8018", "N18,csum", 0, "8019"},
    {"8019", "N..10", 0, NULL},
    {"8020", "X..25", 0, NULL},
    {"8026", "N14,csum N4", 0, NULL},
    {"8110", "X..70", 0, NULL},
    {"8111", "N4", 0, NULL},
    {"8112", "X..70", 0, NULL},
    {"8200", "X..70", AI_NOT_ATTR, NULL},
    {"90", "X..30", 0, NULL},
    {"91", "X..90", 0, NULL},
    {"92", "X..90", 0, NULL},
    {"93", "X..90", 0, NULL},
    {"94", "X..90", 0, NULL},
    {"95", "X..90", 0, NULL},
    {"96", "X..90", 0, NULL},
    {"97", "X..90", 0, NULL},
    {"98", "X..90", 0, NULL},
    {"99", "X..90", 0, NULL},
};

/* Measures (31nn-36nn, last digit the decimal point 0-5) and amounts (39nn)
 * are families; they are matched by pattern rather than listed. */
static const ai_def ai_measure = {"3", "N6", AI_FIXED, NULL};
static const ai_def ai_amount = {"39", "N..15", 0, NULL};
static const ai_def ai_amount_iso = {"39", "N3 N..15", 0, NULL};

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* ASCII letter or digit (locale-independent, unlike isalnum). */
static bool is_alnum(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c);
}

static bool all_digits(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

static const ai_def *ai_lookup(const char *ai, size_t len) {
    if (len < 2 || len > CT_GS1_AI_LEN_MAX || !all_digits(ai, len)) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof ai_table / sizeof ai_table[0]; i++) {
        /* every AI has two digits or more: the first two rule out nearly
         * every entry without measuring it */
        const char *t = ai_table[i].ai;
        if (t[0] == ai[0] && t[1] == ai[1] && strlen(t) == len && memcmp(t, ai, len) == 0) {
            return &ai_table[i];
        }
    }
    if (len == 4 && ai[0] == '3' && ai[1] >= '1' && ai[1] <= '6' && ai[3] <= '5') {
        return &ai_measure;
    }
    if (len == 4 && ai[0] == '3' && ai[1] == '9') {
        /* 390n/392n amounts; 391n/393n carry an ISO 4217 code first. */
        if (ai[2] == '0' || ai[2] == '2') {
            return &ai_amount;
        }
        if (ai[2] == '1' || ai[2] == '3') {
            return &ai_amount_iso;
        }
    }
    return NULL;
}

/* GS1 character set 82 (AI values of type X). */
static bool is_cset82(char c) {
    return is_alnum(c) || (c != '\0' && strchr("!\"%&'()*+,-./:;<=>?_", c) != NULL);
}

/* GS1 character set 39 (type Y). */
static bool is_cset39(char c) {
    return (c >= 'A' && c <= 'Z') || is_digit(c) || c == '#' || c == '-' || c == '/';
}

char ct_gs1_check_digit(const char *digits, size_t len) {
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) {
        assert(is_digit(digits[len - 1 - i]));
        unsigned d = (unsigned)(digits[len - 1 - i] - '0');
        sum += (i % 2 == 0) ? 3 * d : d;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

static bool date_ok(const char *v) {
    int month = (v[2] - '0') * 10 + (v[3] - '0');
    int day = (v[4] - '0') * 10 + (v[5] - '0');
    /* Day 00 means "end of month" for best-before dates. */
    return month >= 1 && month <= 12 && day <= 31;
}

/* Checks value against def->format. */
static bool value_matches(const ai_def *def, const char *value, const char **reason) {
    const char *f = def->format;
    size_t len = strlen(value);
    size_t pos = 0;
    while (*f != '\0') {
        bool optional = false;
        if (*f == '[') {
            optional = true;
            f++;
        }
        char type = *f++;
        size_t min_len = 0;
        size_t max_len = 0;
        if (f[0] == '.' && f[1] == '.') {
            f += 2;
            min_len = 1;
        }
        while (is_digit(*f)) {
            max_len = max_len * 10 + (size_t)(*f++ - '0');
        }
        if (min_len == 0) {
            min_len = max_len;
        }
        bool csum = false;
        bool date = false;
        while (*f == ',') {
            f++;
            if (strncmp(f, "csum", 4) == 0) {
                csum = true;
                f += 4;
            } else if (strncmp(f, "date", 4) == 0) {
                date = true;
                f += 4;
            }
        }
        if (*f == ']') {
            f++;
        }
        if (*f == ' ') {
            f++;
        }
        size_t left = len - pos;
        if (left == 0 && optional) {
            continue;
        }
        size_t take = left < max_len ? left : max_len;
        if (take < min_len) {
            *reason = "AI value too short";
            return false;
        }
        const char *comp = value + pos;
        for (size_t i = 0; i < take; i++) {
            bool ok = type == 'N'   ? is_digit(comp[i])
                      : type == 'Y' ? is_cset39(comp[i])
                                    : is_cset82(comp[i]);
            if (!ok) {
                *reason = "AI value contains a character its format does not allow";
                return false;
            }
        }
        if (csum && ct_gs1_check_digit(comp, take - 1) != comp[take - 1]) {
            *reason = "AI value has a wrong check digit";
            return false;
        }
        if (date && !date_ok(comp)) {
            *reason = "AI value is not a valid YYMMDD date";
            return false;
        }
        pos += take;
    }
    if (pos != len) {
        *reason = "AI value too long";
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- GTIN */

hm_err ct_gtin_normalize(const char *text, char out14[CT_GTIN_LEN + 1], const char **reason) {
    const char *reason_sink;
    if (reason == NULL) {
        reason = &reason_sink;
    }
    size_t len = strnlen(text, CT_GTIN_LEN + 1);
    if (len != 8 && len != 12 && len != 13 && len != 14) {
        *reason = "a GTIN has 8, 12, 13 or 14 digits";
        return HM_ERR_BAD_VALUE;
    }
    if (!all_digits(text, len)) {
        *reason = "a GTIN has only digits";
        return HM_ERR_BAD_VALUE;
    }
    if (ct_gs1_check_digit(text, len - 1) != text[len - 1]) {
        *reason = "the GTIN's check digit is wrong";
        return HM_ERR_BAD_VALUE;
    }
    memset(out14, '0', CT_GTIN_LEN - len);
    memcpy(out14 + CT_GTIN_LEN - len, text, len);
    out14[CT_GTIN_LEN] = '\0';
    return HM_OK;
}

hm_err ct_gtin14_check(const char *gtin14, const char **reason) {
    const char *reason_sink;
    if (reason == NULL) {
        reason = &reason_sink;
    }
    if (strnlen(gtin14, CT_GTIN_LEN + 1) != CT_GTIN_LEN) {
        *reason = "a GTIN-14 has 14 digits";
        return HM_ERR_BAD_VALUE;
    }
    char padded[CT_GTIN_LEN + 1];
    return ct_gtin_normalize(gtin14, padded, reason);
}

hm_err ct_gs1_serial_check(const char *text, const char **reason) {
    const char *reason_sink;
    if (reason == NULL) {
        reason = &reason_sink;
    }
    size_t len = strnlen(text, CT_GS1_SERIAL_MAX + 1);
    if (len == 0 || len > CT_GS1_SERIAL_MAX) {
        *reason = "a serial or lot has 1 to 20 characters";
        return HM_ERR_BAD_VALUE;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_cset82(text[i])) {
            *reason = "a serial or lot uses only GS1 character set 82";
            return HM_ERR_BAD_VALUE;
        }
    }
    return HM_OK;
}

/* ------------------------------------------------------- key qualifiers */

/* Whether quals[0..n) is an in-order subsequence of one of the key's
 * qualifier sequences ("22,10,21|235"). */
static bool qualifiers_allowed(const ai_def *key, const char (*quals)[CT_GS1_AI_LEN_MAX + 1],
                               size_t n) {
    assert(key->qualifiers != NULL);
    if (n == 0) {
        return true;
    }
    const char *alt = key->qualifiers;
    while (*alt != '\0') {
        size_t alt_len = strcspn(alt, "|");
        size_t matched = 0;
        const char *p = alt;
        while (p < alt + alt_len && matched < n) {
            size_t ai_len = strcspn(p, ",|");
            if (strlen(quals[matched]) == ai_len && memcmp(quals[matched], p, ai_len) == 0) {
                matched++;
            }
            p += ai_len;
            if (*p == ',') {
                p++;
            }
        }
        if (matched == n) {
            return true;
        }
        alt += alt_len;
        if (*alt == '|') {
            alt++;
        }
    }
    return false;
}

/* ----------------------------------------------------------- URI parsing */

static bool is_uri_char(char c) {
    return is_alnum(c) || (c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL);
}

static bool is_domain_char(char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == ':' || c == '[' || c == ']';
}

/* Percent-decodes src[0..len) into out (capacity out_cap, NUL added).
 * plus_is_space for query values. */
static bool unescape(const char *src, size_t len, bool plus_is_space, char *out, size_t out_cap,
                     const char **reason) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            char pair[3] = {0};
            uint8_t byte = 0;
            if (i + 2 < len) {
                memcpy(pair, src + i + 1, 2);
            }
            if (hm_hex_decode(pair, &byte, 1) != HM_OK) {
                *reason = "malformed percent-encoding";
                return false;
            }
            c = (char)byte;
            if (c == '\0') {
                *reason = "percent-encoded NUL (%00) is refused";
                return false;
            }
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (o + 1 >= out_cap) {
            *reason = "AI value too long";
            return false;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

static bool dl_has_ai(const ct_gs1_dl *dl, const char *ai) {
    for (uint32_t i = 0; i < dl->ai_count; i++) {
        if (strcmp(dl->ais[i].ai, ai) == 0) {
            return true;
        }
    }
    return false;
}

/* Adds one AI (text not yet decoded) to dl after validating its value. */
static hm_err dl_add(ct_gs1_dl *dl, const ai_def *def, const char *ai, size_t ai_len,
                     const char *raw, size_t raw_len, bool in_query, const ct_gs1_dl_options *opt,
                     const char **reason) {
    if (dl->ai_count >= CT_GS1_DL_AIS_MAX) {
        *reason = "too many AIs";
        return HM_ERR_TOO_LONG;
    }
    ct_gs1_ai *slot = &dl->ais[dl->ai_count];
    memcpy(slot->ai, ai, ai_len);
    slot->ai[ai_len] = '\0';
    if (raw_len == 0) {
        *reason = "an AI has an empty value";
        return HM_ERR_BAD_VALUE;
    }
    if (!unescape(raw, raw_len, in_query, slot->value, sizeof slot->value, reason)) {
        return HM_ERR_BAD_VALUE;
    }
    if (dl_has_ai(dl, slot->ai)) {
        *reason = "an AI appears twice";
        return HM_ERR_BAD_VALUE;
    }
    if (strcmp(slot->ai, "01") == 0 && opt->zero_suppressed_gtin) {
        size_t len = strlen(slot->value);
        if ((len == 8 || len == 12 || len == 13) && all_digits(slot->value, len)) {
            char padded[CT_GTIN_LEN + 1];
            memset(padded, '0', CT_GTIN_LEN - len);
            memcpy(padded + CT_GTIN_LEN - len, slot->value, len + 1);
            memcpy(slot->value, padded, sizeof padded);
        }
    }
    if (!value_matches(def, slot->value, reason)) {
        return HM_ERR_BAD_VALUE;
    }
    dl->ai_count++;
    return HM_OK;
}

/* Parses path[0..path_len) (starting at the first '/' after the domain) and
 * query[0..query_len) (after '?', without the fragment). */
static hm_err dl_parse_parts(const char *path, size_t path_len, const char *query, size_t query_len,
                             const ct_gs1_dl_options *opt, ct_gs1_dl *out, const char **reason) {
    static const ct_gs1_dl_options strict = {false};
    if (opt == NULL) {
        opt = &strict;
    }
    /* Only what ai_count does not cover: the 64 AI slots (6 KB) are
     * written as AIs are added, and nothing reads one past ai_count. */
    out->ai_count = 0;
    out->path_ai_count = 0;
    out->gtin[0] = '\0';
    out->serial[0] = '\0';
    out->lot[0] = '\0';
    if (path_len == 0 || path[0] != '/') {
        *reason = "the URI has no path";
        return HM_ERR_BAD_VALUE;
    }
    /* Split the path into segments; an empty one (//, trailing /) is refused. */
    enum { SEGMENTS_MAX = 2 * CT_GS1_DL_AIS_MAX + 32 };
    const char *seg[SEGMENTS_MAX];
    size_t seg_len[SEGMENTS_MAX];
    size_t nseg = 0;
    size_t i = 1;
    while (i <= path_len) {
        size_t start = i;
        while (i < path_len && path[i] != '/') {
            i++;
        }
        if (i == start) {
            *reason = "the path has an empty segment (or ends with '/')";
            return HM_ERR_BAD_VALUE;
        }
        if (nseg == SEGMENTS_MAX) {
            *reason = "the path has too many segments";
            return HM_ERR_TOO_LONG;
        }
        seg[nseg] = path + start;
        seg_len[nseg] = i - start;
        nseg++;
        i++;
    }
    /* Find the primary key right to left, stepping over AI/value pairs. */
    size_t key_seg = SIZE_MAX;
    const ai_def *key = NULL;
    for (size_t k = nseg; k >= 2; k -= 2) {
        const ai_def *def = ai_lookup(seg[k - 2], seg_len[k - 2]);
        if (def != NULL && def->qualifiers != NULL) {
            key_seg = k - 2;
            key = def;
            break;
        }
    }
    if (key == NULL) {
        *reason = "no GS1 primary key (such as /01/ for a GTIN) in the path";
        return HM_ERR_BAD_VALUE;
    }
    char quals[CT_GS1_DL_AIS_MAX][CT_GS1_AI_LEN_MAX + 1];
    size_t nquals = 0;
    for (size_t k = key_seg; k < nseg; k += 2) {
        const ai_def *def = ai_lookup(seg[k], seg_len[k]);
        if (def == NULL) {
            *reason = "an unknown AI in the path";
            return HM_ERR_BAD_VALUE;
        }
        if (k > key_seg) {
            if (nquals >= CT_GS1_DL_AIS_MAX) {
                *reason = "too many AIs";
                return HM_ERR_TOO_LONG;
            }
            memcpy(quals[nquals], seg[k], seg_len[k]);
            quals[nquals][seg_len[k]] = '\0';
            nquals++;
            if (!qualifiers_allowed(key, quals, nquals)) {
                *reason = "a path AI is not a key qualifier of the primary key, or is out of order";
                return HM_ERR_BAD_VALUE;
            }
        }
        hm_err err =
            dl_add(out, def, seg[k], seg_len[k], seg[k + 1], seg_len[k + 1], false, opt, reason);
        if (err != HM_OK) {
            return err;
        }
    }
    out->path_ai_count = out->ai_count;
    /* Query: '&'-separated; empty and '='-less parameters and non-numeric
     * keys are not AIs and are ignored, as the standard asks. */
    size_t q = 0;
    while (q < query_len) {
        size_t start = q;
        while (q < query_len && query[q] != '&') {
            q++;
        }
        const char *param = query + start;
        size_t param_len = q - start;
        q++;
        const char *eq = memchr(param, '=', param_len);
        if (param_len == 0 || eq == NULL) {
            continue;
        }
        size_t key_len = (size_t)(eq - param);
        if (key_len == 0 || !all_digits(param, key_len)) {
            continue;
        }
        const ai_def *def = ai_lookup(param, key_len);
        if (def == NULL) {
            *reason = "an unknown AI in the query";
            return HM_ERR_BAD_VALUE;
        }
        if (def->flags & AI_NOT_ATTR) {
            *reason = "this AI is not allowed as a Digital Link data attribute";
            return HM_ERR_BAD_VALUE;
        }
        if (nquals < CT_GS1_DL_AIS_MAX) {
            memcpy(quals[nquals], param, key_len);
            quals[nquals][key_len] = '\0';
            bool fits_path = qualifiers_allowed(key, quals, nquals + 1);
            /* A qualifier that could sit in the path must be there. */
            if (fits_path && !dl_has_ai(out, quals[nquals])) {
                *reason = "a key qualifier must be in the path, not the query";
                return HM_ERR_BAD_VALUE;
            }
        }
        hm_err err =
            dl_add(out, def, param, key_len, eq + 1, param_len - key_len - 1, true, opt, reason);
        if (err != HM_OK) {
            return err;
        }
    }
    for (uint32_t k = 0; k < out->ai_count; k++) {
        const ct_gs1_ai *a = &out->ais[k];
        if (strcmp(a->ai, "01") == 0) {
            memcpy(out->gtin, a->value, CT_GTIN_LEN + 1);
        } else if (strcmp(a->ai, "21") == 0) {
            memcpy(out->serial, a->value, strlen(a->value) + 1);
        } else if (strcmp(a->ai, "10") == 0) {
            memcpy(out->lot, a->value, strlen(a->value) + 1);
        }
    }
    return HM_OK;
}

static hm_err check_uri_chars(const char *text, size_t len, const char **reason) {
    for (size_t i = 0; i < len; i++) {
        if (!is_uri_char(text[i])) {
            *reason = "the URI contains a character that is not allowed in a URI";
            return HM_ERR_BAD_VALUE;
        }
    }
    return HM_OK;
}

/* Splits "path?query#fragment" and parses it. */
static hm_err dl_parse_tail(const char *tail, size_t tail_len, const ct_gs1_dl_options *opt,
                            ct_gs1_dl *out, const char **reason) {
    const char *hash = memchr(tail, '#', tail_len);
    if (hash != NULL) {
        tail_len = (size_t)(hash - tail);
    }
    const char *qmark = memchr(tail, '?', tail_len);
    size_t path_len = qmark != NULL ? (size_t)(qmark - tail) : tail_len;
    const char *query = qmark != NULL ? qmark + 1 : tail + tail_len;
    size_t query_len = tail_len - (size_t)(query - tail);
    return dl_parse_parts(tail, path_len, query, query_len, opt, out, reason);
}

hm_err ct_gs1_dl_parse_uri(const char *uri, const ct_gs1_dl_options *opt, ct_gs1_dl *out,
                           const char **reason) {
    const char *reason_sink;
    if (reason == NULL) {
        reason = &reason_sink;
    }
    size_t len = strnlen(uri, CT_GS1_DL_URI_MAX + 1);
    if (len > CT_GS1_DL_URI_MAX) {
        *reason = "the URI is too long";
        return HM_ERR_TOO_LONG;
    }
    hm_err err = check_uri_chars(uri, len, reason);
    if (err != HM_OK) {
        return err;
    }
    /* The scheme in one case only, as the reference does. */
    static const char *const schemes[] = {"https://", "HTTPS://", "http://", "HTTP://"};
    const char *rest = NULL;
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(schemes[i]);
        if (len >= n && memcmp(uri, schemes[i], n) == 0) {
            rest = uri + n;
            break;
        }
    }
    if (rest == NULL) {
        *reason = "the scheme must be http:// or https://";
        return HM_ERR_BAD_VALUE;
    }
    size_t rest_len = len - (size_t)(rest - uri);
    size_t domain_len = strcspn(rest, "/?#");
    if (domain_len == 0) {
        *reason = "the URI has no domain";
        return HM_ERR_BAD_VALUE;
    }
    for (size_t i = 0; i < domain_len; i++) {
        if (!is_domain_char(rest[i])) {
            *reason = "the domain contains a character that is not allowed";
            return HM_ERR_BAD_VALUE;
        }
    }
    return dl_parse_tail(rest + domain_len, rest_len - domain_len, opt, out, reason);
}

hm_err ct_gs1_dl_parse_path(const char *path_and_query, const ct_gs1_dl_options *opt,
                            ct_gs1_dl *out, const char **reason) {
    const char *reason_sink;
    if (reason == NULL) {
        reason = &reason_sink;
    }
    size_t len = strnlen(path_and_query, CT_GS1_DL_URI_MAX + 1);
    if (len > CT_GS1_DL_URI_MAX) {
        *reason = "the path is too long";
        return HM_ERR_TOO_LONG;
    }
    hm_err err = check_uri_chars(path_and_query, len, reason);
    if (err != HM_OK) {
        return err;
    }
    return dl_parse_tail(path_and_query, len, opt, out, reason);
}

/* ------------------------------------------------------ element strings */

static bool ai_is_fixed(const char *ai) {
    const ai_def *def = ai_lookup(ai, strlen(ai));
    return def != NULL && (def->flags & AI_FIXED);
}

static bool append(char *out, size_t out_cap, size_t *pos, const char *text, size_t len) {
    if (*pos + len + 1 > out_cap) {
        return false;
    }
    memcpy(out + *pos, text, len);
    *pos += len;
    out[*pos] = '\0';
    return true;
}

hm_err ct_gs1_dl_element_string(const ct_gs1_dl *dl, char *out, size_t out_cap) {
    size_t pos = 0;
    if (out_cap == 0 || !append(out, out_cap, &pos, "^", 1)) {
        return HM_ERR_FULL;
    }
    for (uint32_t i = 0; i < dl->ai_count; i++) {
        const ct_gs1_ai *a = &dl->ais[i];
        if (!append(out, out_cap, &pos, a->ai, strlen(a->ai)) ||
            !append(out, out_cap, &pos, a->value, strlen(a->value))) {
            return HM_ERR_FULL;
        }
        if (i + 1 < dl->ai_count && !ai_is_fixed(a->ai) && !append(out, out_cap, &pos, "^", 1)) {
            return HM_ERR_FULL;
        }
    }
    return HM_OK;
}

/* ----------------------------------------------------------- generation */

static bool append_escaped(char *out, size_t out_cap, size_t *pos, const char *value) {
    static const char hex[] = "0123456789ABCDEF";
    for (const char *p = value; *p != '\0'; p++) {
        char c = *p;
        bool plain = is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
        if (plain) {
            if (!append(out, out_cap, pos, &c, 1)) {
                return false;
            }
        } else {
            char esc[3] = {'%', hex[(unsigned char)c >> 4], hex[(unsigned char)c & 15]};
            if (!append(out, out_cap, pos, esc, 3)) {
                return false;
            }
        }
    }
    return true;
}

/* Whether ai occurs anywhere in key's qualifier sequences. */
static bool is_any_qualifier(const ai_def *key, const char *ai) {
    char one[1][CT_GS1_AI_LEN_MAX + 1];
    memcpy(one[0], ai, strlen(ai) + 1);
    return qualifiers_allowed(key, (const char(*)[CT_GS1_AI_LEN_MAX + 1]) one, 1);
}

/* The stem a URI is generated under: NULL stands for GS1's own resolver; a
 * trailing '/' is dropped (*len excludes it). */
static hm_err stem_take(const char **stem, size_t *len, const char **reason) {
    if (*stem == NULL) {
        *stem = "https://id.gs1.org";
    }
    size_t n = strnlen(*stem, CT_GS1_DL_STEM_MAX + 1);
    if (n > CT_GS1_DL_STEM_MAX) {
        *reason = "the stem is too long";
        return HM_ERR_TOO_LONG;
    }
    if (n > 0 && (*stem)[n - 1] == '/') {
        n--;
    }
    *len = n;
    return HM_OK;
}

hm_err ct_gs1_dl_generate(const char *stem, const ct_gs1_ai *ais, size_t ai_count, char *out,
                          size_t out_cap, const char **reason) {
    const char *reason_sink;
    if (reason == NULL) {
        reason = &reason_sink;
    }
    if (ai_count > CT_GS1_DL_AIS_MAX) {
        *reason = "too many AIs";
        return HM_ERR_TOO_LONG;
    }
    size_t stem_len;
    hm_err stem_err = stem_take(&stem, &stem_len, reason);
    if (stem_err != HM_OK) {
        return stem_err;
    }
    /* Drop exact duplicates; refuse conflicting ones; validate values. */
    size_t keep[CT_GS1_DL_AIS_MAX];
    size_t nkeep = 0;
    for (size_t i = 0; i < ai_count; i++) {
        const ai_def *def = ai_lookup(ais[i].ai, strnlen(ais[i].ai, CT_GS1_AI_LEN_MAX + 1));
        if (def == NULL) {
            *reason = "an unknown AI";
            return HM_ERR_BAD_VALUE;
        }
        if (!value_matches(def, ais[i].value, reason)) {
            return HM_ERR_BAD_VALUE;
        }
        bool dup = false;
        for (size_t j = 0; j < nkeep; j++) {
            if (strcmp(ais[keep[j]].ai, ais[i].ai) == 0) {
                if (strcmp(ais[keep[j]].value, ais[i].value) != 0) {
                    *reason = "an AI appears twice with different values";
                    return HM_ERR_BAD_VALUE;
                }
                dup = true;
            }
        }
        if (!dup) {
            keep[nkeep++] = i;
        }
    }
    size_t key_i = SIZE_MAX;
    const ai_def *key = NULL;
    for (size_t j = 0; j < nkeep && key == NULL; j++) {
        const ai_def *def = ai_lookup(ais[keep[j]].ai, strlen(ais[keep[j]].ai));
        if (def->qualifiers != NULL) {
            key = def;
            key_i = j;
        }
    }
    if (key == NULL) {
        *reason = "no GS1 primary key among the AIs";
        return HM_ERR_BAD_VALUE;
    }
    /* Choose the qualifier sequence that covers the most AIs present. */
    bool used[CT_GS1_DL_AIS_MAX] = {false};
    used[key_i] = true;
    size_t path_idx[CT_GS1_DL_AIS_MAX];
    size_t npath = 0;
    const char *alt = key->qualifiers;
    size_t best_count = 0;
    const char *best_alt = NULL;
    size_t best_len = 0;
    while (*alt != '\0') {
        size_t alt_len = strcspn(alt, "|");
        size_t count = 0;
        for (const char *p = alt; p < alt + alt_len;) {
            size_t ai_len = strcspn(p, ",|");
            for (size_t j = 0; j < nkeep; j++) {
                if (strlen(ais[keep[j]].ai) == ai_len && memcmp(ais[keep[j]].ai, p, ai_len) == 0) {
                    count++;
                }
            }
            p += ai_len + (p[ai_len] == ',');
        }
        if (best_alt == NULL || count > best_count) {
            best_alt = alt;
            best_len = alt_len;
            best_count = count;
        }
        alt += alt_len + (alt[alt_len] == '|');
    }
    for (const char *p = best_alt; best_alt != NULL && p < best_alt + best_len;) {
        size_t ai_len = strcspn(p, ",|");
        for (size_t j = 0; j < nkeep; j++) {
            if (!used[j] && strlen(ais[keep[j]].ai) == ai_len &&
                memcmp(ais[keep[j]].ai, p, ai_len) == 0) {
                used[j] = true;
                path_idx[npath++] = j;
            }
        }
        p += ai_len + (p[ai_len] == ',');
    }
    size_t pos = 0;
    out[0] = '\0';
    if (out_cap == 0 || !append(out, out_cap, &pos, stem, stem_len)) {
        *reason = "the URI does not fit";
        return HM_ERR_FULL;
    }
    bool ok = append(out, out_cap, &pos, "/", 1) &&
              append(out, out_cap, &pos, ais[keep[key_i]].ai, strlen(ais[keep[key_i]].ai)) &&
              append(out, out_cap, &pos, "/", 1) &&
              append_escaped(out, out_cap, &pos, ais[keep[key_i]].value);
    for (size_t k = 0; ok && k < npath; k++) {
        const ct_gs1_ai *a = &ais[keep[path_idx[k]]];
        ok = append(out, out_cap, &pos, "/", 1) &&
             append(out, out_cap, &pos, a->ai, strlen(a->ai)) &&
             append(out, out_cap, &pos, "/", 1) && append_escaped(out, out_cap, &pos, a->value);
    }
    /* Attributes: predefined-length AIs first, then the others, each group in
     * the order given. */
    bool first = true;
    for (int pass = 0; ok && pass < 2; pass++) {
        for (size_t j = 0; ok && j < nkeep; j++) {
            if (used[j]) {
                continue;
            }
            const ct_gs1_ai *a = &ais[keep[j]];
            const ai_def *def = ai_lookup(a->ai, strlen(a->ai));
            if ((pass == 0) != ((def->flags & AI_FIXED) != 0)) {
                continue;
            }
            if (def->flags & AI_NOT_ATTR) {
                *reason = "this AI is not allowed as a Digital Link data attribute";
                return HM_ERR_BAD_VALUE;
            }
            if (is_any_qualifier(key, a->ai)) {
                *reason = "a key qualifier that does not fit the path cannot be an attribute";
                return HM_ERR_BAD_VALUE;
            }
            ok = append(out, out_cap, &pos, first ? "?" : "&", 1) &&
                 append(out, out_cap, &pos, a->ai, strlen(a->ai)) &&
                 append(out, out_cap, &pos, "=", 1) && append_escaped(out, out_cap, &pos, a->value);
            first = false;
        }
    }
    if (!ok) {
        *reason = "the URI does not fit";
        return HM_ERR_FULL;
    }
    return HM_OK;
}

hm_err ct_gs1_dl_item_uri(const char *stem, const char *gtin, const char *serial, char *out,
                          size_t out_cap, const char **reason) {
    const char *reason_sink;
    if (reason == NULL) {
        reason = &reason_sink;
    }
    ct_gs1_ai ais[1];
    memset(ais, 0, sizeof ais);
    hm_err err = ct_gtin_normalize(gtin, ais[0].value, reason);
    if (err != HM_OK) {
        return err;
    }
    err = ct_gs1_serial_check(serial, reason);
    if (err != HM_OK) {
        return err;
    }
    /* Checked as above, a GTIN and a serial make the URI that
     * ct_gs1_dl_generate() would make of them (the key, then AI 21, its one
     * qualifier), written here without the generic qualifier search: this
     * runs for every consumer lookup. */
    size_t stem_len;
    err = stem_take(&stem, &stem_len, reason);
    if (err != HM_OK) {
        return err;
    }
    size_t pos = 0;
    if (out_cap == 0 || !append(out, out_cap, &pos, stem, stem_len) ||
        !append(out, out_cap, &pos, "/01/", 4) ||
        !append(out, out_cap, &pos, ais[0].value, CT_GTIN_LEN) ||
        !append(out, out_cap, &pos, "/21/", 4) || !append_escaped(out, out_cap, &pos, serial)) {
        if (out_cap > 0) {
            out[0] = '\0';
        }
        *reason = "the URI does not fit";
        return HM_ERR_FULL;
    }
    return HM_OK;
}
