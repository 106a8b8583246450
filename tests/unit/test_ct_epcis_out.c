/* tests/unit/test_ct_epcis_out.c — reading stored pre-hash strings back into
 * EPCIS 2.0 JSON-LD (ct_epcis_prehash_json).
 *
 * The strongest check is the round trip through the importer: for every event
 * of every document of shared/testdata/epcis and shared/testdata/epcis-hash
 * that the importer hashes, the JSON read back from its pre-hash string, put
 * in a document with the returned context and serialised as the node
 * serialises it, is imported again and must give the same event hash ID. The
 * golden pre-hash strings of epcis-hash (XML inputs included) go through the
 * same trip. Then malformed input: every truncation of real pre-hash strings,
 * flipped bytes, deep nesting, too many namespaces, over-long input — each
 * either read back exactly or refused, never a crash (ASan runs these too). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "ct.h"
#include "test_ct_epcis_env.h"

#define EPCIS_CONTEXT "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

/* The event read back from prehash, in a one-event EPCISDocument as the
 * node would serialise it (compact jansson output), imported again: its hash
 * must be SHA-256(prehash). Returns 0 or 1 failure. */
static int round_trip(const char *where, const char *prehash, size_t len) {
    json_t *ev = NULL, *ctx = NULL;
    char why[300];
    hm_err err = ct_epcis_prehash_json(prehash, len, &ev, &ctx, why, sizeof why);
    if (err != HM_OK) {
        print_message("%s: not read back: %s\n  %.300s\n", where, why, prehash);
        return 1;
    }
    json_t *doc =
        json_pack("{s:[s,O], s:s, s:s, s:{s:[o]}}", "@context", EPCIS_CONTEXT, ctx, "type",
                  "EPCISDocument", "schemaVersion", "2.0", "epcisBody", "eventList", ev);
    json_decref(ctx);
    assert_non_null(doc);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(text);
    ct_epcis_doc *d = NULL;
    int failed = 0;
    if (ct_epcis_doc_parse(text, strlen(text), &d, why, sizeof why) != HM_OK) {
        print_message("%s: emitted JSON refused by the importer: %s\n  %s\n", where, why, text);
        failed = 1;
    } else {
        uint8_t want[HM_HASH_LEN], got[HM_HASH_LEN];
        hm_sha256((const uint8_t *)prehash, len, want);
        ct_epcis_doc_hash(d, 0, got);
        if (ct_epcis_doc_count(d) != 1 || memcmp(want, got, HM_HASH_LEN) != 0) {
            print_message("%s: hash differs\n  want: %s\n  got:  %s\n  json: %s\n", where, prehash,
                          ct_epcis_doc_prehash(d, 0), text);
            failed = 1;
        }
    }
    ct_epcis_doc_free(d);
    free(text);
    return failed;
}

typedef struct {
    int docs, events, failures;
} tally;

/* fn on the pre-hash string of every event of the JSON document at path, if
 * the importer accepts it (then t->docs counts it); t->events counts the
 * events. */
static void each_prehash(const char *path, tally *t,
                         void (*fn)(const char *where, const char *pre, tally *t)) {
    size_t len = 0;
    char *json = slurp(path, &len);
    assert_non_null(json);
    ct_epcis_doc *d = NULL;
    char why[300];
    if (ct_epcis_doc_parse(json, len, &d, why, sizeof why) == HM_OK) {
        t->docs++;
        for (size_t i = 0; i < ct_epcis_doc_count(d); i++) {
            char where[1200];
            snprintf(where, sizeof where, "%s event %zu", path, i);
            fn(where, ct_epcis_doc_prehash(d, i), t);
            t->events++;
        }
    }
    ct_epcis_doc_free(d);
    free(json);
}

static void trip_one(const char *where, const char *pre, tally *t) {
    t->failures += round_trip(where, pre, strlen(pre));
}

/* Every event of one JSON document the importer accepts. */
static void trip_document(const char *path, tally *t) {
    each_prehash(path, t, trip_one);
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Walks dir recursively; names are sorted so that the output is stable. */
static void walk(const char *dir, tally *t, void (*fn)(const char *, tally *), const char *suffix) {
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                walk(path, t, fn, suffix);
            else if (has_suffix(path, suffix) ||
                     (strcmp(suffix, ".jsonld") == 0 && has_suffix(path, ".json")))
                fn(path, t);
        }
        free(names[i]);
    }
    free(names);
}

/* walk() over the directory sub of the test data. */
static void walk_testdata(const char *sub, tally *t, void (*fn)(const char *, tally *),
                          const char *suffix) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", testdata(), sub);
    walk(dir, t, fn, suffix);
}

static void test_documents_round_trip(void **state) {
    (void)state;
    tally t = {0};
    walk_testdata("epcis", &t, trip_document, ".jsonld");
    walk_testdata("epcis-hash", &t, trip_document, ".jsonld");
    print_message("%d documents, %d events read back, %d failures\n", t.docs, t.events, t.failures);
    assert_int_equal(t.failures, 0);
    /* The corpus really was read (a missing directory must not pass). */
    assert_true(t.docs >= 46);
    assert_true(t.events >= 73);
}

/* The pre-hash strings the importer makes from the documents of the
 * corpus, to tell the golden strings it makes from those it does not. */
typedef struct {
    char **v;
    size_t n;
} made_set;
static made_set made;

static void collect_one(const char *where, const char *pre, tally *t) {
    (void)where;
    (void)t;
    made.v = realloc(made.v, (made.n + 1) * sizeof *made.v);
    assert_non_null(made.v);
    made.v[made.n++] = strdup(pre);
}

static void collect_made(const char *path, tally *t) {
    each_prehash(path, t, collect_one);
}

static bool is_made(const char *s, size_t n) {
    for (size_t i = 0; i < made.n; i++)
        if (strlen(made.v[i]) == n && memcmp(made.v[i], s, n) == 0)
            return true;
    return false;
}

/* Every golden pre-hash string (one per line): those the importer makes must
 * come back; a few made by the reference from inputs it reads differently
 * (an XML sensor report with bizRules, unexpanded "gs1:" terms) may be
 * refused, but never read back wrong. */
static void trip_prehashes(const char *path, tally *t) {
    char *text = slurp(path, NULL);
    assert_non_null(text);
    t->docs++;
    size_t line = 0;
    for (char *p = text; *p != '\0'; line++) {
        size_t n = strcspn(p, "\n");
        if (n > 0) {
            char where[1200];
            snprintf(where, sizeof where, "%s line %zu", path, line + 1);
            json_t *ev = NULL, *ctx = NULL;
            hm_err err = ct_epcis_prehash_json(p, n, &ev, &ctx, NULL, 0);
            json_decref(ev);
            json_decref(ctx);
            if (err == HM_OK || is_made(p, n)) {
                t->failures += round_trip(where, p, n);
                t->events++;
            } else {
                assert_int_equal(err, HM_ERR_BAD_VALUE);
                print_message("%s: refused (not what the importer writes)\n", where);
            }
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    free(text);
}

static void test_golden_prehashes_round_trip(void **state) {
    (void)state;
    tally t = {0};
    walk_testdata("epcis-hash", &t, collect_made, ".jsonld");
    assert_true(made.n >= 40);
    memset(&t, 0, sizeof t);
    walk_testdata("epcis-hash", &t, trip_prehashes, ".prehashes");
    print_message("%d files, %d golden pre-hash strings read back, %d failures\n", t.docs, t.events,
                  t.failures);
    assert_int_equal(t.failures, 0);
    assert_true(t.events >= 60);
    for (size_t i = 0; i < made.n; i++)
        free(made.v[i]);
    free(made.v);
    memset(&made, 0, sizeof made);
}

static json_t *read_ok(const char *prehash, json_t **ctx) {
    json_t *ev = NULL;
    char why[300];
    hm_err err = ct_epcis_prehash_json(prehash, strlen(prehash), &ev, ctx, why, sizeof why);
    if (err != HM_OK)
        print_error("%s\n", why);
    assert_int_equal(err, HM_OK);
    assert_non_null(ev);
    return ev;
}

/* Numbers and booleans come out with the standard's JSON types; extension
 * keys get the standard prefixes or a generated one declared in ctx. */
static void test_json_types(void **state) {
    (void)state;
    const char *pre =
        "eventType=ObjectEventeventTime=2024-01-01T00:00:00.000ZeventTimeZoneOffset=+00:00"
        "quantityListquantityElementepcClass=https://id.gs1.org/01/04012345000009/10/L1"
        "quantity=12.5uom=KGMquantityElementepcClass=https://id.gs1.org/01/04012345000016"
        "quantity=200quantityElementepcClass=https://id.gs1.org/01/04012345000023"
        "quantity=1234567890123456789action=OBSERVEsensorElementListsensorElementsensorReport"
        "type=https://gs1.org/voc/MT-TemperaturebooleanValue=trueminValue=-3.25uom=CEL"
        "ilmd{urn:epcglobal:cbv:mda:}lotNumber=L1"
        "{https://ns.example.com/epcis/}grade=0.5";
    json_t *ctx = NULL;
    json_t *ev = read_ok(pre, &ctx);
    json_t *q = json_object_get(ev, "quantityList");
    assert_int_equal(json_array_size(q), 3);
    assert_true(json_is_real(json_object_get(json_array_get(q, 0), "quantity")));
    assert_true(json_is_integer(json_object_get(json_array_get(q, 1), "quantity")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(q, 1), "quantity")), 200);
    /* 19 digits do not fit jansson's integers exactly: kept as text. */
    assert_true(json_is_string(json_object_get(json_array_get(q, 2), "quantity")));
    json_t *rep =
        json_array_get(json_object_get(json_array_get(json_object_get(ev, "sensorElementList"), 0),
                                       "sensorReport"),
                       0);
    assert_true(json_is_true(json_object_get(rep, "booleanValue")));
    assert_true(json_is_real(json_object_get(rep, "minValue")));
    assert_string_equal(json_string_value(json_object_get(rep, "uom")), "CEL");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ev, "ilmd"), "cbvmda:lotNumber")), "L1");
    /* The user extension: a generated prefix, declared in the context. */
    assert_int_equal(json_object_size(ctx), 1);
    const char *prefix = NULL;
    json_t *ns = NULL;
    json_object_foreach(ctx, prefix, ns) {
        assert_string_equal(json_string_value(ns), "https://ns.example.com/epcis/");
        char key[64];
        snprintf(key, sizeof key, "%s:grade", prefix);
        assert_string_equal(json_string_value(json_object_get(ev, key)), "0.5");
    }
    json_decref(ev);
    json_decref(ctx);
    assert_int_equal(round_trip("types", pre, strlen(pre)), 0);
}

/* Nested extensions and repeated names: the structure the reference example
 * has comes back (sorted order tells where a nested object ends). */
static void test_nested_extensions(void **state) {
    (void)state;
    const char *pre = "eventType=ObjectEventeventTime=2020-03-04T10:00:30.000Z"
                      "eventTimeZoneOffset=+01:00action=OBSERVEreadPointid=https://id.gs1.org/"
                      "414/4012345000115{https://gs1.org/voc/}myField1{https://gs1.org/voc/}"
                      "mySubField1=2{https://gs1.org/voc/}mySubField2=5{https://gs1.org/voc/}"
                      "myField2=0{https://gs1.org/voc/}myField3{https://gs1.org/voc/}"
                      "mySubField3=1{https://gs1.org/voc/}mySubField3=3";
    json_t *ctx = NULL;
    json_t *ev = read_ok(pre, &ctx);
    json_t *rp = json_object_get(ev, "readPoint");
    assert_string_equal(json_string_value(json_object_get(rp, "id")),
                        "https://id.gs1.org/414/4012345000115");
    json_t *f1 = json_object_get(rp, "gs1:myField1");
    assert_true(json_is_object(f1));
    assert_string_equal(json_string_value(json_object_get(f1, "gs1:mySubField2")), "5");
    assert_string_equal(json_string_value(json_object_get(rp, "gs1:myField2")), "0");
    json_t *f3 = json_object_get(json_object_get(rp, "gs1:myField3"), "gs1:mySubField3");
    assert_true(json_is_array(f3));
    assert_int_equal(json_array_size(f3), 2);
    assert_int_equal(json_object_size(ctx), 0);
    json_decref(ev);
    json_decref(ctx);
    /* ILMD mixing vocabularies, then a top-level extension: the object's
     * members are taken to share its namespace, and the first entry out of
     * sorted order leaves the ILMD. */
    const char *ilmd = "eventType=ObjectEventeventTime=2020-03-04T10:00:30.000Zilmd"
                       "{https://gs1.org/voc/}grade{https://gs1.org/voc/}colour=red"
                       "{urn:epcglobal:cbv:mda:}lotNumber=L1{https://gs1.org/voc/}note=n";
    ev = read_ok(ilmd, &ctx);
    json_t *im = json_object_get(ev, "ilmd");
    assert_int_equal(json_object_size(im), 2);
    assert_string_equal(json_string_value(json_object_get(im, "cbvmda:lotNumber")), "L1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(im, "gs1:grade"), "gs1:colour")), "red");
    assert_string_equal(json_string_value(json_object_get(ev, "gs1:note")), "n");
    json_decref(ev);
    json_decref(ctx);
    assert_int_equal(round_trip("ilmd", ilmd, strlen(ilmd)), 0);
    /* Members of another vocabulary that only nesting explains: the second
     * reading (no namespace guess) is used. */
    const char *mixed = "eventType=ObjectEventeventTime=2020-03-04T10:00:30.000Z"
                        "{https://gs1.org/voc/}a{http://purl.org/dc/terms/}x=1"
                        "{https://gs1.org/voc/}c=2";
    ev = read_ok(mixed, &ctx);
    json_t *a = json_object_get(ev, "gs1:a");
    assert_int_equal(json_object_size(a), 2);
    assert_string_equal(json_string_value(json_object_get(a, "dcterms:x")), "1");
    json_decref(ev);
    json_decref(ctx);
    assert_int_equal(round_trip("mixed", mixed, strlen(mixed)), 0);
}

static void expect_refused(const char *pre, size_t len, hm_err want) {
    json_t *ev = (json_t *)1, *ctx = (json_t *)1;
    char why[300] = "";
    hm_err err = ct_epcis_prehash_json(pre, len, &ev, &ctx, why, sizeof why);
    if (err != want)
        print_error("%.200s: got %s (%s)\n", pre, hm_err_name(err), why);
    assert_int_equal(err, want);
    assert_null(ev);
    assert_null(ctx);
    assert_true(why[0] != '\0');
}

static void test_malformed_refused(void **state) {
    (void)state;
    expect_refused("", 0, HM_ERR_BAD_VALUE);
    expect_refused("x", 1, HM_ERR_BAD_VALUE);
    expect_refused("eventTime=2020-01-01T00:00:00.000Z", 34, HM_ERR_BAD_VALUE);
    expect_refused("eventType=ObjectEvent\0eventTime=", 32, HM_ERR_BAD_VALUE);
    /* Fields out of order, an unknown field, an unclosed namespace. */
    expect_refused("eventType=ObjectEventaction=OBSERVEeventTime=2020-01-01T00:00:00.000Z", 69,
                   HM_ERR_BAD_VALUE);
    const char *unclosed = "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000Z{urn:x";
    expect_refused(unclosed, strlen(unclosed), HM_ERR_BAD_VALUE);
    /* A type the importer does not hash, or a time it does not write. */
    const char *t = "eventType=OddEventeventTime=2020-01-01T00:00:00.000Z";
    expect_refused(t, strlen(t), HM_ERR_BAD_VALUE);
    const char *tt = "eventType=ObjectEventeventTime=yesterday";
    expect_refused(tt, strlen(tt), HM_ERR_BAD_VALUE);
    /* Text the importer does not write: a number with a trailing zero. */
    const char *num = "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000Z"
                      "quantityListquantityElementepcClass=urn:cquantity=1.50";
    expect_refused(num, strlen(num), HM_ERR_BAD_VALUE);
    /* Empty lists; lists out of sorted order (also what a value holding a
     * field name of the algorithm reads as, when the reading differs). */
    const char *empty = "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000ZepcListaction=ADD";
    expect_refused(empty, strlen(empty), HM_ERR_BAD_VALUE);
    const char *unsorted = "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000Z"
                           "epcListepc=urn:bepc=urn:a";
    expect_refused(unsorted, strlen(unsorted), HM_ERR_BAD_VALUE);
    /* Bytes that are not UTF-8, in a value and in an extension's name. */
    const char *bad_value = "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000Z"
                            "bizStep=x\xff";
    expect_refused(bad_value, strlen(bad_value), HM_ERR_BAD_VALUE);
    const char *bad_name = "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000Z"
                           "{urn:x:}a\xc3=1";
    expect_refused(bad_name, strlen(bad_name), HM_ERR_BAD_VALUE);
    /* Deeper than the bound. */
    char deep[2048] = "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000Z";
    for (int i = 0; i < 20; i++)
        strcat(deep, "{urn:x:}a");
    strcat(deep, "=1");
    expect_refused(deep, strlen(deep), HM_ERR_BAD_VALUE);
    /* More namespaces than the bound. */
    char many[8192] = "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000Z";
    for (int i = 0; i < CT_EPCIS_OUT_PREFIXES_MAX + 1; i++) {
        char e[64];
        snprintf(e, sizeof e, "{urn:ns%02d:}a=1", i);
        strcat(many, e);
    }
    expect_refused(many, strlen(many), HM_ERR_TOO_LONG);
    /* Longer than the bound (checked before reading). */
    size_t big_len = CT_EPCIS_PREHASH_READ_MAX + 1;
    char *big = malloc(big_len);
    assert_non_null(big);
    memset(big, 'a', big_len);
    memcpy(big, "eventType=", 10);
    expect_refused(big, big_len, HM_ERR_TOO_LONG);
    free(big);
    /* Misuse. */
    json_t *ev, *ctx;
    assert_int_equal(ct_epcis_prehash_json("x", 1, NULL, &ctx, NULL, 0), HM_ERR_ARG);
    assert_int_equal(ct_epcis_prehash_json(NULL, 3, &ev, &ctx, NULL, 0), HM_ERR_ARG);
}

/* Every truncation and many single-byte changes of real pre-hash strings:
 * read back exactly (the function checks that itself, and the importer
 * agrees) or refused; never a crash or a read past len. */
static void test_truncated_and_flipped(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/epcis-hash/examples/SensorDataExamples.prehashes", testdata());
    char *a = slurp(path, NULL);
    snprintf(path, sizeof path, "%s/epcis-hash/examples/ReferenceEventHashAlgorithm.prehashes",
             testdata());
    char *b = slurp(path, NULL);
    assert_non_null(a);
    assert_non_null(b);
    const char *inputs[2] = {a, b};
    int accepted = 0, refused = 0;
    for (int k = 0; k < 2; k++) {
        size_t n = strcspn(inputs[k], "\n");
        /* Exact-size copies so that ASan sees any read past len. */
        for (size_t cut = 0; cut <= n; cut++) {
            char *copy = malloc(cut ? cut : 1);
            assert_non_null(copy);
            memcpy(copy, inputs[k], cut);
            json_t *ev = NULL, *ctx = NULL;
            hm_err err = ct_epcis_prehash_json(copy, cut, &ev, &ctx, NULL, 0);
            if (err == HM_OK) {
                accepted++;
                assert_int_equal(round_trip("truncation", copy, cut), 0);
            } else {
                refused++;
                assert_true(err == HM_ERR_BAD_VALUE || err == HM_ERR_TOO_LONG);
            }
            json_decref(ev);
            json_decref(ctx);
            free(copy);
        }
        static const char FLIPS[] = {'{', '}', '=', 'e', 'x', '1', '.', '-'};
        for (size_t pos = 0; pos < n; pos += 3) {
            char *copy = malloc(n);
            assert_non_null(copy);
            memcpy(copy, inputs[k], n);
            copy[pos] = FLIPS[pos % sizeof FLIPS];
            json_t *ev = NULL, *ctx = NULL;
            if (ct_epcis_prehash_json(copy, n, &ev, &ctx, NULL, 0) == HM_OK)
                assert_int_equal(round_trip("flip", copy, n), 0);
            json_decref(ev);
            json_decref(ctx);
            free(copy);
        }
    }
    print_message("truncations: %d read back, %d refused\n", accepted, refused);
    /* A cut inside a value is often a valid shorter event; a cut inside a
     * name or a number's fraction is not. */
    assert_true(accepted > 0);
    assert_true(refused > 0);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documents_round_trip),
        cmocka_unit_test(test_golden_prehashes_round_trip),
        cmocka_unit_test(test_json_types),
        cmocka_unit_test(test_nested_extensions),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_truncated_and_flipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
