/* contracts/epcis_out.c — reading an event's CBV 2.0 pre-hash string back
 * into an EPCIS 2.0 JSON-LD event, so that the node can serve quantities,
 * sensor data, ILMD and extensions that its event records keep only inside
 * that string.
 *
 * The pre-hash string has no separators: fields come in a fixed order as
 * "name=value" or as a bare list name followed by its entries, lists sorted
 * byte-wise, extensions as "{namespace}name" after their parent. It is read
 * with the grammar of contracts/epcis.c's event_prehash: a value ends where
 * the earliest token that may follow it begins. Two things make the form not
 * quite reversible, and both are settled the same way every time: a value
 * that contains a token of the grammar, and extensions whose parent cannot be
 * told from the text (a nested object and the siblings that follow it, the
 * last ILMD entry and a top-level extension). For the second, an extension
 * list continues while its entries stay in sorted order (which is how they
 * were written) and otherwise ends; any reading that re-hashes to the same
 * string is as good as any other for the hash. Every result is then checked
 * by hashing it again with event_prehash: a reading that does not give back
 * the very same string is refused, never served.
 *
 * Layer: contracts/ (pure: no I/O, no clock, no floating point in this file;
 * jansson builds the JSON). Every input is untrusted: lengths, nesting and the
 * number of namespaces are bounded, and malformed text is refused with a
 * reason. */
#include "epcis_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_DEPTH_MAX 16  /* nesting of extensions */
#define NS_LEN_MAX 256     /* bytes of one extension namespace */
#define LOCAL_LEN_MAX 1024 /* bytes of one extension's local name */

/* The top-level fields in the order event_prehash writes them. */
static const char *const SLOTS[] = {
    "eventType=",
    "eventTime=",
    "eventTimeZoneOffset=",
    "certificationInfo=",
    "parentID=",
    "epcList",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action=",
    "transformationID=",
    "bizStep=",
    "disposition=",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "destinationList",
    "sourceList",
    "sensorElementList",
    "ilmd",
};
enum {
    S_TYPE,
    S_TIME,
    S_TZ,
    S_CERT,
    S_PARENT,
    S_EPCS,
    S_INPUT_EPCS,
    S_CHILD_EPCS,
    S_QTY,
    S_CHILD_QTY,
    S_INPUT_QTY,
    S_OUTPUT_EPCS,
    S_OUTPUT_QTY,
    S_ACTION,
    S_TRANSFORMATION,
    S_BIZSTEP,
    S_DISP,
    S_PERSIST,
    S_READ_POINT,
    S_BIZ_LOCATION,
    S_BIZ_TX,
    S_DEST,
    S_SRC,
    S_SENSORS,
    S_ILMD,
    S_COUNT
};
_Static_assert(sizeof SLOTS / sizeof SLOTS[0] == S_COUNT, "one token per slot");

/* How a value is written in JSON: the standard's numbers and booleans come
 * out as such; everything else (extensions included, whose JSON type the
 * pre-hash does not keep) as strings. */
typedef enum { K_STR, K_NUM, K_BOOL } kind;

static const char *const QE_TOKENS[] = {"epcClass=", "quantity=", "uom="};
static const kind QE_KINDS[] = {K_STR, K_NUM, K_STR};

static const char *const META_TOKENS[] = {"time=",
                                          "startTime=",
                                          "endTime=",
                                          "deviceID=",
                                          "deviceMetadata=",
                                          "rawData=",
                                          "dataProcessingMethod=",
                                          "bizRules="};
static const kind META_KINDS[] = {K_STR, K_STR, K_STR, K_STR, K_STR, K_STR, K_STR, K_STR};

static const char *const REPORT_TOKENS[] = {"type=",
                                            "exception=",
                                            "deviceID=",
                                            "deviceMetadata=",
                                            "rawData=",
                                            "dataProcessingMethod=",
                                            "time=",
                                            "microorganism=",
                                            "chemicalSubstance=",
                                            "value=",
                                            "component=",
                                            "stringValue=",
                                            "booleanValue=",
                                            "hexBinaryValue=",
                                            "uriValue=",
                                            "minValue=",
                                            "maxValue=",
                                            "meanValue=",
                                            "sDev=",
                                            "percRank=",
                                            "percValue=",
                                            "uom=",
                                            "coordinateReferenceSystem="};
static const kind REPORT_KINDS[] = {K_STR, K_STR, K_STR, K_STR, K_STR,  K_STR, K_STR, K_STR,
                                    K_STR, K_NUM, K_STR, K_STR, K_BOOL, K_STR, K_STR, K_NUM,
                                    K_NUM, K_NUM, K_NUM, K_NUM, K_NUM,  K_STR, K_STR};
_Static_assert(sizeof REPORT_TOKENS / sizeof REPORT_TOKENS[0] ==
                   sizeof REPORT_KINDS / sizeof REPORT_KINDS[0],
               "one kind per sensor report field");
_Static_assert(sizeof META_TOKENS / sizeof META_TOKENS[0] ==
                   sizeof META_KINDS / sizeof META_KINDS[0],
               "one kind per sensor metadata field");

static const char *const SENSOR_LISTS[] = {"sensorReport", "sensorElement"};
static const char *const QE_START[] = {"quantityElement"};

/* Where a value may end: '{' (an extension), a token of the enclosing
 * object (a), a token that starts the next entry of an enclosing list (b),
 * or a top-level field from slot on. */
typedef struct {
    const char *const *a;
    size_t an;
    const char *const *b;
    size_t bn;
    size_t slot;
} stops;

typedef struct {
    const char *s;
    size_t len, pos;
    json_t *ctx;           /* prefix -> namespace, the ones not in the standard context */
    bool members_share_ns; /* the guess of read_ext_list; off on the second try */
    const char *why;
    size_t why_at;
    bool nomem;
} reader;

static bool fail(reader *r, const char *why) {
    if (r->why == NULL) {
        r->why = why;
        r->why_at = r->pos;
    }
    return false;
}

static bool at(const reader *r, size_t p, const char *tok) {
    /* The first byte rules out almost every token cheaply: value_end asks
     * this for every byte of every value and every token that may follow. */
    if (p >= r->len || r->s[p] != tok[0])
        return false;
    size_t n = strlen(tok);
    return p <= r->len && r->len - p >= n && memcmp(r->s + p, tok, n) == 0;
}

/* Moves past tok if the text at the reading position begins with it. */
static bool take(reader *r, const char *tok) {
    if (!at(r, r->pos, tok))
        return false;
    r->pos += strlen(tok);
    return true;
}

/* Length of the token of st that starts at p, or 0. */
static size_t stop_len(const reader *r, size_t p, const stops *st) {
    assert(p < r->len);
    if (r->s[p] == '{')
        return 1;
    for (size_t i = 0; i < st->an; i++)
        if (at(r, p, st->a[i]))
            return strlen(st->a[i]);
    for (size_t i = 0; i < st->bn; i++)
        if (at(r, p, st->b[i]))
            return strlen(st->b[i]);
    for (size_t k = st->slot; k < S_COUNT; k++)
        if (at(r, p, SLOTS[k]))
            return strlen(SLOTS[k]);
    return 0;
}

/* The end of the value that starts at from: the earliest stop. The first
 * bytes of the stops are gathered once, so most bytes cost one lookup. */
static size_t value_end(const reader *r, size_t from, const stops *st) {
    bool first[256] = {false};
    first['{'] = true;
    for (size_t i = 0; i < st->an; i++)
        first[(unsigned char)st->a[i][0]] = true;
    for (size_t i = 0; i < st->bn; i++)
        first[(unsigned char)st->b[i][0]] = true;
    for (size_t k = st->slot; k < S_COUNT; k++)
        first[(unsigned char)SLOTS[k][0]] = true;
    size_t p = from;
    while (p < r->len && (!first[(unsigned char)r->s[p]] || stop_len(r, p, st) == 0))
        p++;
    return p;
}

/* Text that number_normalize in contracts/epcis.c may have written: an
 * optional '-', an integer without leading zeros, an optional fraction
 * without trailing zeros. Counts the significant digits. */
static bool is_canonical_number(const char *s, size_t n, size_t *int_digits, size_t *sig_digits,
                                bool *has_point) {
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    size_t int_from = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    *int_digits = i - int_from;
    if (*int_digits == 0 || (*int_digits > 1 && s[int_from] == '0'))
        return false;
    *has_point = false;
    size_t frac = 0, frac_lead_zeros = 0;
    if (i < n && s[i] == '.') {
        *has_point = true;
        i++;
        size_t frac_from = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        frac = i - frac_from;
        if (frac == 0 || s[i - 1] == '0')
            return false;
        while (frac_lead_zeros < frac && s[frac_from + frac_lead_zeros] == '0')
            frac_lead_zeros++;
    }
    if (i != n)
        return false;
    bool int_zero = *int_digits == 1 && s[int_from] == '0';
    *sig_digits = int_zero ? frac - frac_lead_zeros : *int_digits + frac;
    return true;
}

/* A value as JSON. A number becomes a JSON number only when the importer
 * reads it back to the same digits: integers of up to 18 digits (exact in
 * jansson's integers), decimals of up to 15 significant digits (the
 * precision at which the importer prints them); longer ones stay strings,
 * which hash the same. */
static json_t *value_json(reader *r, size_t from, size_t to, kind k) {
    const char *s = r->s + from;
    size_t n = to - from;
    json_t *v = NULL;
    size_t int_digits = 0, sig = 0;
    bool point = false;
    if (k == K_NUM && is_canonical_number(s, n, &int_digits, &sig, &point)) {
        if (!point && int_digits <= 18) {
            json_int_t x = 0;
            for (size_t i = s[0] == '-' ? 1 : 0; i < n; i++)
                x = x * 10 + (s[i] - '0');
            v = json_integer(s[0] == '-' ? -x : x);
        } else if (point && sig <= 15) {
            /* jansson reads the decimal text; no floating point here. */
            v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
        }
    } else if (k == K_BOOL && n == 4 && memcmp(s, "true", 4) == 0) {
        v = json_true();
    } else if (k == K_BOOL && n == 5 && memcmp(s, "false", 5) == 0) {
        v = json_false();
    }
    if (v == NULL)
        v = json_stringn(s, n);
    if (v == NULL)
        fail(r, "a value is not UTF-8 text");
    return v;
}

/* Reads a value up to its stop into obj[key] (obj may be an array). */
static bool read_value(reader *r, const stops *st, kind k, json_t *obj, const char *key) {
    size_t from = r->pos, to = value_end(r, from, st);
    json_t *v = value_json(r, from, to, k);
    if (v == NULL)
        return false;
    r->pos = to;
    int rc = json_is_array(obj) ? json_array_append_new(obj, v) : json_object_set_new(obj, key, v);
    if (rc != 0) {
        r->nomem = true;
        return fail(r, "out of memory");
    }
    return true;
}

/* The JSON key of a token ("uom=" -> "uom"). */
static void token_key(const char *tok, char *out, size_t cap) {
    size_t n = strcspn(tok, "=");
    assert(n < cap);
    memcpy(out, tok, n);
    out[n] = '\0';
}

/* The members of one object written in a fixed order, each at most once:
 * tokens[i] with kinds[i]. outer names what starts the next entry. */
static bool read_members(reader *r, json_t *obj, const char *const *tokens, const kind *kinds,
                         size_t n, const char *const *outer, size_t outer_n, size_t slot) {
    for (size_t m = 0; m < n; m++) {
        if (!take(r, tokens[m]))
            continue;
        stops st = {tokens + m + 1, n - m - 1, outer, outer_n, slot};
        char key[32];
        token_key(tokens[m], key, sizeof key);
        if (!read_value(r, &st, kinds[m], obj, key))
            return false;
    }
    return true;
}

static int span_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : (an > bn) - (an < bn);
}

/* The prefix of namespace ns: the standard context's, or "ext" + 8 hex
 * digits of its SHA-256, recorded in r->ctx. NULL after failing. */
static const char *ns_prefix(reader *r, const char *ns, size_t ns_len, char out[16]) {
    const char *std = ct_epcis_std_prefix(ns, ns_len);
    if (std != NULL)
        return std;
    uint8_t h[HM_HASH_LEN];
    hm_sha256((const uint8_t *)ns, ns_len, h);
    memcpy(out, "ext", 3);
    hm_hex_encode(h, 4, out + 3); /* 8 digits and the NUL */
    json_t *have = json_object_get(r->ctx, out);
    if (have != NULL) {
        /* Two namespaces with one prefix: 32 bits of SHA-256 collided. */
        if (json_string_length(have) != ns_len || memcmp(json_string_value(have), ns, ns_len) != 0)
            return fail(r, "two extension namespaces share a prefix"), NULL;
        return out;
    }
    if (json_object_size(r->ctx) >= CT_EPCIS_OUT_PREFIXES_MAX)
        return fail(r, "too many extension namespaces"), NULL;
    json_t *v = json_stringn(ns, ns_len);
    if (v == NULL || json_object_set_new(r->ctx, out, v) != 0) {
        if (v == NULL)
            return fail(r, "an extension namespace is not UTF-8 text"), NULL;
        r->nomem = true;
        return fail(r, "out of memory"), NULL;
    }
    return out;
}

/* Adds value under key; a repeated key (an extension list) becomes an
 * array, which the importer flattens back into repeated entries. */
static bool merge(reader *r, json_t *obj, const char *key, json_t *value) {
    json_t *have = json_object_get(obj, key);
    int rc;
    if (have == NULL) {
        rc = json_object_set_new(obj, key, value);
    } else if (json_is_array(have)) {
        rc = json_array_append_new(have, value);
    } else {
        json_t *list = json_array();
        rc = list == NULL || json_array_append(list, have) != 0 ||
             json_array_append_new(list, value) != 0 || json_object_set_new(obj, key, list) != 0;
        if (list == NULL)
            json_decref(value);
    }
    if (rc != 0) {
        r->nomem = true;
        return fail(r, "out of memory");
    }
    return true;
}

static bool read_ext_list(reader *r, json_t *obj, const stops *st, int depth, const char *parent_ns,
                          size_t parent_ns_len);

/* One extension "{ns}local" then "=value", nested extensions or nothing. */
static bool read_ext(reader *r, const stops *st, int depth, char **key_out, json_t **value_out) {
    *key_out = NULL;
    *value_out = NULL;
    if (depth > READ_DEPTH_MAX)
        return fail(r, "extensions nested too deeply");
    assert(r->s[r->pos] == '{');
    size_t ns_from = r->pos + 1, p = ns_from;
    while (p < r->len && r->s[p] != '}' && r->s[p] != '{' && p - ns_from <= NS_LEN_MAX)
        p++;
    if (p >= r->len || r->s[p] != '}' || p == ns_from || p - ns_from > NS_LEN_MAX)
        return fail(r, "an extension namespace is not closed by '}' or is too long");
    char pbuf[16];
    const char *prefix = ns_prefix(r, r->s + ns_from, p - ns_from, pbuf);
    if (prefix == NULL)
        return false;
    r->pos = p + 1;
    /* The local name ends at '=' or '{', or earlier where a token of the
     * grammar ends before that (an extension without a value followed by
     * the next field). */
    size_t local_from = r->pos, e = local_from;
    while (e < r->len && r->s[e] != '=' && r->s[e] != '{')
        e++;
    size_t local_to = e;
    for (size_t q = local_from; q < e; q++) {
        size_t tl = stop_len(r, q, st);
        if (tl > 0 && q + tl <= e) {
            local_to = q;
            break;
        }
    }
    if (local_to - local_from > LOCAL_LEN_MAX)
        return fail(r, "an extension name is too long");
    size_t key_len = strlen(prefix) + 1 + (local_to - local_from);
    char *key = malloc(key_len + 1);
    if (key == NULL) {
        r->nomem = true;
        return fail(r, "out of memory");
    }
    snprintf(key, key_len + 1, "%s:%.*s", prefix, (int)(local_to - local_from), r->s + local_from);
    /* jansson refuses keys that are not UTF-8: say so, not "out of memory". */
    json_t *probe = json_stringn(key, key_len);
    if (probe == NULL) {
        free(key);
        return fail(r, "an extension name is not UTF-8 text");
    }
    json_decref(probe);
    r->pos = local_to;
    json_t *value = NULL;
    if (r->pos < r->len && r->s[r->pos] == '=' && local_to == e) {
        r->pos++;
        size_t to = value_end(r, r->pos, st);
        value = value_json(r, r->pos, to, K_STR);
        r->pos = to;
    } else {
        value = json_object();
        if (value == NULL) {
            r->nomem = true;
            fail(r, "out of memory");
        } else if (!read_ext_list(r, value, st, depth + 1, r->s + ns_from, p - ns_from)) {
            json_decref(value);
            value = NULL;
        }
    }
    if (value == NULL) {
        free(key);
        return false;
    }
    *key_out = key;
    *value_out = value;
    return true;
}

/* Extensions into obj while they come in sorted order (the order they were
 * written in); the first one out of order belongs to an enclosing list. The
 * members of an extension object (parent_ns set) are also taken to share its
 * namespace: the text cannot tell a member from a sibling that follows the
 * object, and ILMD and extensions that mix vocabularies side by side
 * ("cbvmda:lotNumber" beside "example:grade") are common, objects whose
 * members change vocabulary rare. Either reading hashes the same. */
static bool read_ext_list(reader *r, json_t *obj, const stops *st, int depth, const char *parent_ns,
                          size_t parent_ns_len) {
    size_t prev_from = 0, prev_len = 0;
    bool have_prev = false;
    while (r->pos < r->len && r->s[r->pos] == '{') {
        size_t start = r->pos;
        if (parent_ns != NULL && r->members_share_ns &&
            (r->len - start - 1 <= parent_ns_len ||
             memcmp(r->s + start + 1, parent_ns, parent_ns_len) != 0 ||
             r->s[start + 1 + parent_ns_len] != '}'))
            break;
        char *key;
        json_t *value;
        if (!read_ext(r, st, depth, &key, &value))
            return false;
        size_t n = r->pos - start;
        if (have_prev && span_cmp(r->s + start, n, r->s + prev_from, prev_len) < 0) {
            r->pos = start;
            free(key);
            json_decref(value);
            break;
        }
        bool ok = merge(r, obj, key, value);
        free(key);
        if (!ok)
            return false;
        prev_from = start;
        prev_len = n;
        have_prev = true;
    }
    return true;
}

/* A new object or array set into parent[key]; NULL after failing. */
static json_t *child(reader *r, json_t *parent, const char *key, bool array) {
    json_t *c = array ? json_array() : json_object();
    int rc = c == NULL               ? -1
             : json_is_array(parent) ? json_array_append_new(parent, c)
                                     : json_object_set_new(parent, key, c);
    if (rc != 0) {
        r->nomem = true;
        fail(r, "out of memory");
        return NULL;
    }
    return c;
}

static bool read_epc_list(reader *r, json_t *ev, size_t slot) {
    static const char *const EPC[] = {"epc="};
    json_t *list = child(r, ev, SLOTS[slot], true);
    if (list == NULL)
        return false;
    stops st = {EPC, 1, NULL, 0, slot + 1};
    while (take(r, "epc=")) {
        if (!read_value(r, &st, K_STR, list, NULL))
            return false;
    }
    return json_array_size(list) > 0 || fail(r, "an EPC list without EPCs");
}

static bool read_quantity_list(reader *r, json_t *ev, size_t slot) {
    json_t *list = child(r, ev, SLOTS[slot], true);
    if (list == NULL)
        return false;
    while (take(r, QE_START[0])) {
        json_t *qe = child(r, list, NULL, false);
        if (qe == NULL || !read_members(r, qe, QE_TOKENS, QE_KINDS, 3, QE_START, 1, slot + 1))
            return false;
    }
    return json_array_size(list) > 0 || fail(r, "a quantity list without quantities");
}

/* bizTransactionList, sourceList, destinationList: entries "type=" then
 * the value, each optional; either token starts the next entry. */
static bool read_typed_list(reader *r, json_t *ev, size_t slot, const char *value_token) {
    const char *const tokens[] = {"type=", value_token};
    static const kind kinds[] = {K_STR, K_STR};
    json_t *list = child(r, ev, SLOTS[slot], true);
    if (list == NULL)
        return false;
    while (r->pos < r->len && (at(r, r->pos, tokens[0]) || at(r, r->pos, tokens[1]))) {
        json_t *e = child(r, list, NULL, false);
        if (e == NULL || !read_members(r, e, tokens, kinds, 2, tokens, 2, slot + 1))
            return false;
    }
    return json_array_size(list) > 0 || fail(r, "a business list without entries");
}

static bool read_persistent(reader *r, json_t *ev) {
    static const char *const PD[] = {"set=", "unset="};
    json_t *pd = child(r, ev, SLOTS[S_PERSIST], false);
    if (pd == NULL)
        return false;
    for (size_t k = 0; k < 2; k++) {
        if (!at(r, r->pos, PD[k]))
            continue;
        char key[8];
        token_key(PD[k], key, sizeof key);
        json_t *list = child(r, pd, key, true);
        if (list == NULL)
            return false;
        stops st = {PD + k, 2 - k, NULL, 0, S_PERSIST + 1};
        while (take(r, PD[k])) {
            if (!read_value(r, &st, K_STR, list, NULL))
                return false;
        }
    }
    return true;
}

static bool read_location(reader *r, json_t *ev, size_t slot) {
    json_t *loc = child(r, ev, SLOTS[slot], false);
    if (loc == NULL)
        return false;
    stops st = {NULL, 0, NULL, 0, slot + 1};
    if (take(r, "id=")) {
        if (!read_value(r, &st, K_STR, loc, "id"))
            return false;
    }
    return read_ext_list(r, loc, &st, 1, NULL, 0);
}

static bool read_sensors(reader *r, json_t *ev) {
    json_t *list = child(r, ev, SLOTS[S_SENSORS], true);
    if (list == NULL)
        return false;
    stops st = {NULL, 0, SENSOR_LISTS, 2, S_ILMD};
    while (take(r, "sensorElement")) {
        json_t *se = child(r, list, NULL, false);
        if (se == NULL)
            return false;
        if (take(r, "sensorMetadata")) {
            json_t *meta = child(r, se, "sensorMetadata", false);
            if (meta == NULL ||
                !read_members(r, meta, META_TOKENS, META_KINDS,
                              sizeof META_TOKENS / sizeof META_TOKENS[0], SENSOR_LISTS, 2,
                              S_ILMD) ||
                !read_ext_list(r, meta, &st, 1, NULL, 0))
                return false;
        }
        json_t *reports = NULL;
        while (take(r, "sensorReport")) {
            if (reports == NULL && (reports = child(r, se, "sensorReport", true)) == NULL)
                return false;
            json_t *rep = child(r, reports, NULL, false);
            if (rep == NULL ||
                !read_members(r, rep, REPORT_TOKENS, REPORT_KINDS,
                              sizeof REPORT_TOKENS / sizeof REPORT_TOKENS[0], SENSOR_LISTS, 2,
                              S_ILMD) ||
                !read_ext_list(r, rep, &st, 1, NULL, 0))
                return false;
        }
        if (!read_ext_list(r, se, &st, 1, NULL, 0))
            return false;
    }
    return json_array_size(list) > 0 || fail(r, "a sensorElementList without elements");
}

/* The whole event into ev; false with r->why set. */
static bool read_event(reader *r, json_t *ev) {
    if (!at(r, 0, SLOTS[S_TYPE]))
        return fail(r, "does not start with eventType=");
    r->pos = strlen(SLOTS[S_TYPE]);
    stops first = {NULL, 0, NULL, 0, S_TYPE + 1};
    if (!read_value(r, &first, K_STR, ev, "type"))
        return false;
    size_t slot = S_TYPE + 1;
    while (r->pos < r->len && r->s[r->pos] != '{') {
        size_t k = slot;
        while (k < S_COUNT && !at(r, r->pos, SLOTS[k]))
            k++;
        if (k == S_COUNT)
            return fail(r, "unexpected text where a field should start");
        r->pos += strlen(SLOTS[k]);
        slot = k + 1;
        stops st = {NULL, 0, NULL, 0, slot};
        char key[32];
        token_key(SLOTS[k], key, sizeof key);
        bool ok = true;
        switch (k) {
        case S_EPCS:
        case S_INPUT_EPCS:
        case S_CHILD_EPCS:
        case S_OUTPUT_EPCS:
            ok = read_epc_list(r, ev, k);
            break;
        case S_QTY:
        case S_CHILD_QTY:
        case S_INPUT_QTY:
        case S_OUTPUT_QTY:
            ok = read_quantity_list(r, ev, k);
            break;
        case S_PERSIST:
            ok = read_persistent(r, ev);
            break;
        case S_READ_POINT:
        case S_BIZ_LOCATION:
            ok = read_location(r, ev, k);
            break;
        case S_BIZ_TX:
            ok = read_typed_list(r, ev, k, "bizTransaction=");
            break;
        case S_DEST:
            ok = read_typed_list(r, ev, k, "destination=");
            break;
        case S_SRC:
            ok = read_typed_list(r, ev, k, "source=");
            break;
        case S_SENSORS:
            ok = read_sensors(r, ev);
            break;
        case S_ILMD: {
            json_t *ilmd = child(r, ev, "ilmd", false);
            ok = ilmd != NULL && read_ext_list(r, ilmd, &st, 1, NULL, 0);
            break;
        }
        default:
            ok = read_value(r, &st, K_STR, ev, key);
            break;
        }
        if (!ok)
            return false;
    }
    stops top = {NULL, 0, NULL, 0, S_COUNT};
    if (!read_ext_list(r, ev, &top, 1, NULL, 0))
        return false;
    return r->pos == r->len || fail(r, "extensions out of order, or text after them");
}

/* true when the pre-hash of ev under r->ctx is the input, byte for byte. */
static hm_err check_round_trip(reader *r, json_t *ev) {
    const char *prefixes[CT_EPCIS_OUT_PREFIXES_MAX], *nss[CT_EPCIS_OUT_PREFIXES_MAX];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(r->ctx, k, v) {
        assert(n < CT_EPCIS_OUT_PREFIXES_MAX);
        prefixes[n] = k;
        nss[n] = json_string_value(v);
        n++;
    }
    char *again = NULL;
    hm_err err = ct_epcis_event_prehash(ev, prefixes, nss, n, &again);
    if (err == HM_ERR_NOMEM)
        return err;
    bool same = err == HM_OK && strlen(again) == r->len && memcmp(again, r->s, r->len) == 0;
    free(again);
    return same ? HM_OK : HM_ERR_BAD_VALUE;
}

hm_err ct_epcis_prehash_json(const char *prehash, size_t len, json_t **event, json_t **context,
                             char *why, size_t why_cap) {
    char scratch[8];
    if (why == NULL || why_cap == 0) {
        why = scratch;
        why_cap = sizeof scratch;
    }
    why[0] = '\0';
    if (event == NULL || context == NULL || (prehash == NULL && len > 0))
        return HM_ERR_ARG;
    *event = NULL;
    *context = NULL;
    if (len > CT_EPCIS_PREHASH_READ_MAX) {
        snprintf(why, why_cap, "pre-hash string longer than %d bytes", CT_EPCIS_PREHASH_READ_MAX);
        return HM_ERR_TOO_LONG;
    }
    if (len == 0 || memchr(prehash, '\0', len) != NULL) {
        snprintf(why, why_cap, "pre-hash string empty or with a NUL byte");
        return HM_ERR_BAD_VALUE;
    }
    /* Two tries: with the guess that an extension object's members share
     * its namespace, then (if that reading does not hold) without it. */
    reader r;
    json_t *ev = NULL;
    hm_err err = HM_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(&r, 0, sizeof r);
        r.s = prehash;
        r.len = len;
        r.members_share_ns = attempt == 0;
        r.ctx = json_object();
        ev = json_object();
        if (r.ctx == NULL || ev == NULL) {
            err = HM_ERR_NOMEM;
        } else if (!read_event(&r, ev)) {
            err = r.nomem ? HM_ERR_NOMEM : HM_ERR_BAD_VALUE;
            if (r.why != NULL && strstr(r.why, "too many") != NULL)
                err = HM_ERR_TOO_LONG;
            snprintf(why, why_cap, "pre-hash string malformed at byte %zu: %s", r.why_at,
                     r.why ? r.why : "unreadable");
        } else {
            err = check_round_trip(&r, ev);
            if (err == HM_ERR_BAD_VALUE)
                snprintf(why, why_cap,
                         "pre-hash string not readable back exactly (a value holds a field name "
                         "of the hash algorithm, or the text was not made by it)");
        }
        if (err == HM_OK)
            break;
        json_decref(ev);
        json_decref(r.ctx);
        ev = NULL;
        if (err == HM_ERR_NOMEM)
            return err;
    }
    if (err != HM_OK)
        return err;
    why[0] = '\0';
    assert(json_is_object(ev) && json_is_object(r.ctx));
    *event = ev;
    *context = r.ctx;
    return HM_OK;
}
