/* tests/unit/test_ct_epcis.c — the EPCIS event hash ID against the golden
 * vectors of shared/testdata/epcis-hash (JSON and JSON-LD inputs; XML is
 * documented as unsupported), and the EPCIS corpus of shared/testdata/epcis:
 * every JSON document there either converts into event records or is refused
 * with a reason that docs/provenance.md lists. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_ct_prov_env.h"
#include "test_ct_epcis_env.h"

/* Line i (0-based) of text into out; false past the end. */
static bool line_at(const char *text, size_t i, char *out, size_t cap) {
    const char *p = text;
    for (size_t k = 0; k < i; k++) {
        p = strchr(p, '\n');
        if (p == NULL)
            return false;
        p++;
    }
    if (*p == '\0')
        return false;
    size_t n = strcspn(p, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool superseded(const char *base) {
    static const char *const S[] = {"epcisDocWithAllGS1Keys", "epcisDocWithCustomSchemaInContext",
                                    "epcisDocWithDefaultSchemaInContext",
                                    "epcisDocHavingEventWithComment"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(base, S[i]) == 0)
            return true;
    return false;
}

/* Checks one input against its .hashes (authoritative); on a mismatch shows
 * where the pre-hash string departs from the expected one. */
static int check_file(const char *dir, const char *name, const char *hashes_path,
                      const char *prehash_path) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    char *json = slurp(path, &len);
    assert_non_null(json);
    char *hashes = slurp(hashes_path, NULL);
    assert_non_null(hashes);
    char *pre = prehash_path ? slurp(prehash_path, NULL) : NULL;
    ct_epcis_doc *d = NULL;
    char why[256];
    int failures = 0;
    hm_err err = ct_epcis_doc_parse(json, len, &d, why, sizeof why);
    if (err != HM_OK) {
        print_message("%s: refused: %s\n", name, why);
        failures++;
    } else {
        size_t expected = 0;
        char line[8192];
        while (line_at(hashes, expected, line, sizeof line))
            expected++;
        if (ct_epcis_doc_count(d) != expected) {
            print_message("%s: %zu events, expected %zu\n", name, ct_epcis_doc_count(d), expected);
            failures++;
        }
        for (size_t i = 0; i < ct_epcis_doc_count(d) && i < expected; i++) {
            uint8_t h[HM_HASH_LEN];
            ct_epcis_doc_hash(d, i, h);
            char id[CT_EPCIS_HASH_ID_LEN + 1];
            ct_epcis_hash_id(h, id);
            assert_true(line_at(hashes, i, line, sizeof line));
            if (strcmp(id, line) != 0) {
                failures++;
                char exp[8192] = "";
                const char *got = ct_epcis_doc_prehash(d, i);
                if (pre != NULL && line_at(pre, i, exp, sizeof exp)) {
                    size_t k = 0;
                    while (got[k] != '\0' && got[k] == exp[k])
                        k++;
                    print_message("%s event %zu: hash differs; pre-hash departs at %zu:\n"
                                  "  got: %.160s\n  exp: %.160s\n",
                                  name, i, k, got + (k > 40 ? k - 40 : 0),
                                  exp + (k > 40 ? k - 40 : 0));
                } else {
                    print_message("%s event %zu: hash differs\n  got: %s\n", name, i, got);
                }
            }
        }
    }
    ct_epcis_doc_free(d);
    free(json);
    free(hashes);
    free(pre);
    return failures;
}

static void test_golden_hashes(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/epcis-hash/examples", testdata());
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    struct dirent *de;
    int files = 0, failures = 0;
    char *names[128];
    size_t n = 0;
    while ((de = readdir(dh)) != NULL && n < 128) {
        size_t l = strlen(de->d_name);
        if (l > 7 && strcmp(de->d_name + l - 7, ".jsonld") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(dh);
    for (size_t i = 0; i < n; i++) {
        char base[256], hp[1024], pp[1024];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(names[i]) - 7), names[i]);
        snprintf(hp, sizeof hp, "%s/%s.hashes", dir, base);
        if (superseded(base))
            snprintf(pp, sizeof pp, "%s/epcis-hash/derived/%s.prehashes", testdata(), base);
        else
            snprintf(pp, sizeof pp, "%s/%s.prehashes", dir, base);
        failures += check_file(dir, names[i], hp, pp);
        files++;
        free(names[i]);
    }
    /* The JSON member of expected_equal: all events hash the same. */
    char eq[512], hp[1024], pp[1024];
    snprintf(eq, sizeof eq, "%s/epcis-hash/expected_equal", testdata());
    snprintf(hp, sizeof hp,
             "%s/epcis-hash/derived/expected_equal/ReferenceEventHashAlgorithm.hashes", testdata());
    snprintf(pp, sizeof pp,
             "%s/epcis-hash/derived/expected_equal/ReferenceEventHashAlgorithm.prehashes",
             testdata());
    failures += check_file(eq, "ReferenceEventHashAlgorithm.json", hp, pp);
    files++;
    print_message("golden EPCIS hash files: %d checked, %d mismatches\n", files, failures);
    assert_int_equal(files, 23);
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------ corpus */

/* Each corpus document's expected outcome: NULL imports; else a substring
 * of the refusal, which docs/provenance.md lists as an unsupported case. */
static const struct {
    const char *path;
    const char *refusal;
} CORPUS[] = {
    {"JSON-Schema/test/AggregationEvent.json", "not an EPCISDocument or EPCISQueryDocument"},
    {"JSON-Schema/test/AssociationEvent.json", "not an EPCISDocument or EPCISQueryDocument"},
    {"JSON-Schema/test/ObjectEvent.json", "not an EPCISDocument or EPCISQueryDocument"},
    {"JSON/AssociationEvent/AssociationEvent-a.jsonld", "AssociationEvent is not supported"},
    {"JSON/AssociationEvent/AssociationEvent-b.jsonld", "AssociationEvent is not supported"},
    {"JSON/AssociationEvent/AssociationEvent-d.jsonld", "AssociationEvent is not supported"},
    {"JSON/AssociationEvent/AssociationEvent-e.jsonld", "AssociationEvent is not supported"},
    {"JSON/AssociationEvent/AssociationEvent-f.jsonld", "AssociationEvent is not supported"},
    {"JSON/AssociationEvent/AssociationEvent-h.jsonld", "duplicate object key"},
    {"JSON/EPCISQueryDocument.jsonld", NULL},
    {"JSON/Example-TransactionEvents-2020_07_03y.jsonld", NULL},
    {"JSON/Example_9.6.1-ObjectEvent.jsonld", NULL},
    {"JSON/Example_9.6.2-ObjectEvent.jsonld", NULL},
    {"JSON/Example_9.6.3-AggregationEvent.jsonld", NULL},
    {"JSON/Example_9.6.4-TransformationEvent.jsonld", NULL},
    {"JSON/WithDigitalLinkID/Example_9.6.1-ObjectEventWithDigitalLink.jsonld", NULL},
    {"JSON/WithDigitalLinkID/Example_9.6.2-ObjectEventWithDigitalLink.jsonld", NULL},
    {"JSON/WithDigitalLinkID/Example_9.6.4-TransformationEventWithDigitalLink.jsonld", NULL},
    {"JSON/WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration.jsonld", NULL},
    {"JSON/WithFullCombinationOfFields/aggregation_event_all_possible_fields.jsonld", NULL},
    {"JSON/WithFullCombinationOfFields/association_event_all_possible_fields.jsonld",
     "AssociationEvent is not supported"},
    {"JSON/WithFullCombinationOfFields/object_event_all_possible_fields.jsonld", NULL},
    {"JSON/WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld", NULL},
    {"JSON/WithSensorData/SensorDataExample1.jsonld", NULL},
    {"JSON/WithSensorData/SensorDataExample11.jsonld", NULL},
    {"JSON/WithSensorData/SensorDataExample13.jsonld", NULL},
    {"JSON/WithSensorData/SensorDataExample6.jsonld", NULL},
};

/* The outcome of importing one document: "" or the first refusal. */
static void import_doc(const char *json, size_t len, char *why, size_t why_cap) {
    why[0] = '\0';
    ct_epcis_doc *d = NULL;
    if (ct_epcis_doc_parse(json, len, &d, why, why_cap) != HM_OK)
        return;
    ct_event_record *rec = calloc(1, sizeof *rec);
    assert_non_null(rec);
    for (size_t i = 0; i < ct_epcis_doc_count(d) && why[0] == '\0'; i++) {
        char reason[200];
        if (ct_epcis_doc_record(d, i, rec, reason, sizeof reason) != HM_OK) {
            snprintf(why, why_cap, "event %zu: %s", i, reason);
            break;
        }
        /* The record is a valid event record, and round-trips. */
        hm_writer w;
        hm_writer_init_growable(&w, CT_RECORD_MAX);
        hm_err err = ct_event_record_encode(rec, &w);
        if (err != HM_OK) {
            snprintf(why, why_cap, "event %zu: record does not encode: %s", i, hm_err_name(err));
        } else {
            ct_event_record *back = calloc(1, sizeof *back);
            assert_int_equal(ct_event_record_decode(w.buf, w.len, back), HM_OK);
            if (back->prehash_len > 0) {
                uint8_t h[HM_HASH_LEN];
                hm_sha256((const uint8_t *)back->prehash, back->prehash_len, h);
                assert_memory_equal(h, back->event_hash, HM_HASH_LEN);
            }
            free(back);
        }
        hm_writer_free(&w);
    }
    free(rec);
    ct_epcis_doc_free(d);
}

static void test_corpus(void **state) {
    (void)state;
    size_t n = sizeof CORPUS / sizeof CORPUS[0];
    int imported = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/epcis/%s", testdata(), CORPUS[i].path);
        size_t len = 0;
        char *json = slurp(path, &len);
        if (json == NULL)
            print_error("missing corpus file %s\n", path);
        assert_non_null(json);
        char why[300];
        import_doc(json, len, why, sizeof why);
        print_message("%-75s %s\n", CORPUS[i].path, why[0] ? why : "imports");
        if (CORPUS[i].refusal == NULL) {
            assert_string_equal(why, "");
            imported++;
        } else {
            assert_non_null(strstr(why, CORPUS[i].refusal));
        }
        free(json);
    }
    /* Every file of the corpus is in the table. */
    assert_int_equal(n, 27);
    assert_int_equal(imported, 17);
}

/* Same event as JSON-LD with its keys in another order, lists shuffled,
 * other time zone: one hash. */
static void test_hash_is_order_free(void **state) {
    (void)state;
    const char *a = "{\"@context\":[\"https://ref.gs1.org/standards/epcis/2.0.0/"
                    "epcis-context.jsonld\"],\"type\":\"EPCISDocument\",\"schemaVersion\":"
                    "\"2.0\",\"epcisBody\":{\"eventList\":[{\"type\":\"ObjectEvent\","
                    "\"eventTime\":\"2020-03-04T11:00:30.000+01:00\",\"eventTimeZoneOffset\":"
                    "\"+01:00\",\"epcList\":[\"urn:epc:id:sgtin:0614141.107346.1\","
                    "\"urn:epc:id:sgtin:0614141.107346.2\"],\"action\":\"OBSERVE\","
                    "\"bizStep\":\"shipping\"}]}}";
    const char *b = "{\"type\":\"EPCISDocument\",\"epcisBody\":{\"eventList\":[{"
                    "\"bizStep\":\"urn:epcglobal:cbv:bizstep:shipping\",\"action\":"
                    "\"OBSERVE\",\"epcList\":[\"https://id.gs1.org/01/10614141073464/21/2\","
                    "\"urn:epc:id:sgtin:0614141.107346.1\"],\"eventTimeZoneOffset\":\"+01:00\","
                    "\"eventTime\":\"2020-03-04T10:00:30Z\",\"type\":\"ObjectEvent\"}]}}";
    ct_epcis_doc *da = NULL, *db = NULL;
    char why[200];
    assert_int_equal(ct_epcis_doc_parse(a, strlen(a), &da, why, sizeof why), HM_OK);
    hm_err perr = ct_epcis_doc_parse(b, strlen(b), &db, why, sizeof why);
    if (perr != HM_OK)
        print_error("%s\n", why);
    assert_int_equal(perr, HM_OK);
    uint8_t ha[32], hb[32];
    ct_epcis_doc_hash(da, 0, ha);
    ct_epcis_doc_hash(db, 0, hb);
    assert_memory_equal(ha, hb, 32);
    /* The hash ID round-trips. */
    char id[CT_EPCIS_HASH_ID_LEN + 1];
    ct_epcis_hash_id(ha, id);
    uint8_t back[32];
    assert_int_equal(ct_epcis_hash_id_parse(id, back), HM_OK);
    assert_memory_equal(back, ha, 32);
    id[5] = 'x';
    assert_int_equal(ct_epcis_hash_id_parse(id, back), HM_ERR_BAD_VALUE);
    /* The record keeps the canonical EPCs and the item is recognised. */
    ct_event_record *rec = calloc(1, sizeof *rec);
    assert_int_equal(ct_epcis_doc_record(da, 0, rec, why, sizeof why), HM_OK);
    assert_int_equal(rec->epc_count, 2);
    assert_string_equal(rec->epcs[0].epc, "https://id.gs1.org/01/10614141073464/21/1");
    assert_string_equal(rec->biz_step, "https://ref.gs1.org/cbv/BizStep-shipping");
    assert_int_equal(rec->event_time_ms, 1583316030000ULL);
    ct_item_ref ref;
    assert_true(ct_epc_item_parse(rec->epcs[1].epc, &ref));
    assert_string_equal(ref.serial, "2");
    free(rec);
    ct_epcis_doc_free(da);
    ct_epcis_doc_free(db);
    /* A malformed EPC URN is kept verbatim (and never read past its end). */
    const char *odd = "{\"type\":\"EPCISDocument\",\"epcisBody\":{\"eventList\":[{\"type\":"
                      "\"ObjectEvent\",\"eventTime\":\"2024-01-01T00:00:00Z\",\"readPoint\":"
                      "{\"id\":\"urn:epc:id:sgln:1\"},\"epcList\":[\"urn:epc:id:sgtin:1.2\"]}]}}";
    ct_epcis_doc *dodd = NULL;
    assert_int_equal(ct_epcis_doc_parse(odd, strlen(odd), &dodd, why, sizeof why), HM_OK);
    assert_non_null(strstr(ct_epcis_doc_prehash(dodd, 0), "readPointid=urn:epc:id:sgln:1"));
    assert_non_null(strstr(ct_epcis_doc_prehash(dodd, 0), "epc=urn:epc:id:sgtin:1.2"));
    ct_epcis_doc_free(dodd);
    /* Refusals: XML, not JSON, wrong type, bad time. */
    const char *bad[] = {"<epcis:EPCISDocument/>", "{", "{\"type\":\"Foo\"}",
                         "{\"type\":\"EPCISDocument\",\"epcisBody\":{\"eventList\":[{"
                         "\"type\":\"ObjectEvent\",\"eventTime\":\"yesterday\"}]}}"};
    hm_err codes[] = {HM_ERR_UNKNOWN_TYPE, HM_ERR_BAD_VALUE, HM_ERR_UNKNOWN_TYPE, HM_ERR_BAD_VALUE};
    for (size_t i = 0; i < 4; i++) {
        ct_epcis_doc *d = NULL;
        assert_int_equal(ct_epcis_doc_parse(bad[i], strlen(bad[i]), &d, why, sizeof why), codes[i]);
        assert_true(why[0] != '\0');
    }
}

/* A context or ignore list larger than the parser keeps is refused: which
 * entries were dropped would depend on the order of the document's keys. */
static void test_context_overflow_refused(void **state) {
    (void)state;
    const char *event = "],\"type\":\"EPCISDocument\",\"epcisBody\":{\"eventList\":[{\"type\":"
                        "\"ObjectEvent\",\"eventTime\":\"2024-01-01T00:00:00Z\",\"action\":"
                        "\"OBSERVE\",\"epcList\":[\"urn:epc:id:sgtin:0614141.107346.1\"]}]}}";
    char *doc = malloc(16384);
    char why[300];
    for (int prefixes = 50; prefixes <= 60; prefixes += 10) {
        size_t n = (size_t)snprintf(doc, 16384, "{\"@context\":[{");
        for (int i = 0; i < prefixes; i++)
            n += (size_t)snprintf(doc + n, 16384 - n, "%s\"p%d\":\"https://example.com/%d/\"",
                                  i ? "," : "", i, i);
        n += (size_t)snprintf(doc + n, 16384 - n, "}%s", event);
        ct_epcis_doc *d = NULL;
        hm_err err = ct_epcis_doc_parse(doc, n, &d, why, sizeof why);
        /* 8 standard prefixes + 50 fit in 64; + 60 do not. */
        assert_int_equal(err, prefixes == 50 ? HM_OK : HM_ERR_TOO_LONG);
        ct_epcis_doc_free(d);
    }
    for (int fields = 16; fields <= 17; fields++) {
        size_t n = (size_t)snprintf(doc, 16384, "{\"example:ignoreFields\":[");
        for (int i = 0; i < fields; i++)
            n += (size_t)snprintf(doc + n, 16384 - n, "%s\"example:f%d\"", i ? "," : "", i);
        n += (size_t)snprintf(doc + n, 16384 - n,
                              "],\"@context\":[{\"example\":\"https://example.com/\"}%s", event);
        ct_epcis_doc *d = NULL;
        hm_err err = ct_epcis_doc_parse(doc, n, &d, why, sizeof why);
        if (err != (fields == 16 ? HM_OK : HM_ERR_TOO_LONG))
            print_error("%d fields: %s\n", fields, why);
        assert_int_equal(err, fields == 16 ? HM_OK : HM_ERR_TOO_LONG);
        ct_epcis_doc_free(d);
    }
    free(doc);
}

/* A percent escape in an EPC URN is exactly two hex digits: "%21" is "!",
 * while "%+1" is no escape and the URN is kept as it was written. */
static void test_urn_escapes_strict(void **state) {
    (void)state;
    char out[CT_URI_MAX + 1];
    assert_int_equal(
        ct_epcis_epc_normalize("urn:epc:id:sgtin:0614141.107346.A%21", out, sizeof out), HM_OK);
    assert_string_equal(out, "https://id.gs1.org/01/10614141073464/21/A%21");
    const char *odd[] = {"urn:epc:id:sgtin:0614141.107346.A%+1",
                         "urn:epc:id:sgtin:0614141.107346.A% 1",
                         "urn:epc:id:sgtin:0614141.107346.A%-1"};
    for (size_t i = 0; i < 3; i++) {
        hm_err err = ct_epcis_epc_normalize(odd[i], out, sizeof out);
        assert_true(err != HM_OK || strcmp(out, odd[i]) == 0);
    }
}

/* --------------------------------------------- import through the ledger */

#define GTIN_A "10614141073464"

static const char IMPORT_DOC[] =
    "{\"@context\":[\"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld\"],"
    "\"type\":\"EPCISDocument\",\"schemaVersion\":\"2.0\",\"epcisBody\":{\"eventList\":["
    "{\"type\":\"ObjectEvent\",\"eventTime\":\"2024-01-01T08:00:00+08:00\","
    "\"eventTimeZoneOffset\":\"+08:00\",\"epcList\":[\"urn:epc:id:sgtin:0614141.107346.S1\","
    "\"urn:epc:id:sgtin:0614141.107346.S2\"],\"action\":\"ADD\",\"bizStep\":"
    "\"commissioning\",\"disposition\":\"active\",\"readPoint\":{\"id\":"
    "\"urn:epc:id:sgln:0614141.07346.1234\"},\"ilmd\":{\"cbvmda:lotNumber\":\"L1\"}},"
    "{\"type\":\"AggregationEvent\",\"eventTime\":\"2024-01-01T09:00:00+08:00\","
    "\"eventTimeZoneOffset\":\"+08:00\",\"parentID\":\"urn:epc:id:sscc:0614141.1234567890\","
    "\"childEPCs\":[\"https://id.gs1.org/01/10614141073464/21/S1\"],\"action\":\"ADD\","
    "\"bizStep\":\"packing\"},"
    "{\"type\":\"ObjectEvent\",\"eventTime\":\"2024-01-02T08:00:00.5+08:00\","
    "\"eventTimeZoneOffset\":\"+08:00\",\"epcList\":[\"urn:epc:id:sscc:0614141.1234567890\"],"
    "\"action\":\"OBSERVE\",\"bizStep\":\"shipping\",\"bizTransactionList\":[{\"type\":"
    "\"po\",\"bizTransaction\":\"urn:epcglobal:cbv:bt:0614141073467:PO1\"}]}]}}";

static hm_err prev_store(void *arg, const char *epc, uint8_t out[HM_HASH_LEN]) {
    return ct_epcis_prev_from_store(arg, epc, out);
}

static void test_import_through_ledger(void **state) {
    (void)state;
    env *e = env_new();
    hm_keypair brand;
    env_key(&brand, 2);
    EXPECT_OK(env_member_add(e, &e->admin, &brand.pub, CT_ROLE_BRAND, "Acme"));
    ct_member_id brand_id;
    env_id(&brand, &brand_id);
    EXPECT_OK(env_prefix_assign(e, &e->admin, "0614141", &brand_id));
    uint8_t product_hash[32];
    EXPECT_OK(env_product_set(e, &brand, GTIN_A, "Bag", product_hash));
    uint8_t *irecs[2];
    size_t ilens[2];
    for (int i = 0; i < 2; i++) {
        ct_item_record r = {.gtin = GTIN_A, .lot = "L1"};
        snprintf(r.serial, sizeof r.serial, "S%d", i + 1);
        memcpy(r.product_hash, product_hash, 32);
        hm_writer rw;
        hm_writer_init_growable(&rw, CT_RECORD_MAX);
        assert_int_equal(ct_item_record_encode(&r, &rw), HM_OK);
        irecs[i] = hm_writer_take(&rw, &ilens[i]);
    }
    EXPECT_OK(
        env_exec(e, CT_TX_ITEM_REGISTER, &brand, NULL, 0, (const uint8_t *const *)irecs, ilens, 2));
    free(irecs[0]);
    free(irecs[1]);

    ct_epcis_doc *d = NULL;
    char why[300];
    assert_int_equal(ct_epcis_doc_parse(IMPORT_DOC, strlen(IMPORT_DOC), &d, why, sizeof why),
                     HM_OK);
    assert_int_equal(ct_epcis_doc_count(d), 3);
    uint8_t **recs = NULL;
    size_t *lens = NULL;
    assert_int_equal(
        ct_epcis_doc_records(d, 0, 3, prev_store, &e->store, &recs, &lens, why, sizeof why), HM_OK);
    /* The node's assembly of a signature made by the member gives the very
     * bytes the member's own build gives. */
    hm_writer a, b;
    hm_writer_init_growable(&a, CT_TX_MAX);
    hm_writer_init_growable(&b, CT_TX_MAX);
    assert_int_equal(ct_tx_build(&a, CT_TX_EVENT_RECORD, &brand, ENV_CHAIN, 77, NULL, 0, true,
                                 (const uint8_t *const *)recs, lens, 3),
                     HM_OK);
    ct_tx tx;
    assert_int_equal(ct_tx_decode(a.buf, a.len, &tx), HM_OK);
    assert_int_equal(ct_epcis_tx_assemble(&b, CT_TX_EVENT_RECORD, &brand.pub, 77,
                                          (const uint8_t *const *)recs, lens, 3, &tx.sig),
                     HM_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);
    EXPECT_OK(env_exec_raw(e, a.buf, a.len));
    /* Re-importing the same document: every event already exists. */
    ct_result res =
        env_exec(e, CT_TX_EVENT_RECORD, &brand, NULL, 0, (const uint8_t *const *)recs, lens, 3);
    EXPECT_REFUSED(e, res, HM_ERR_CONFLICT, CT_RULE_EVENT_EXISTS);
    hm_writer_free(&a);
    hm_writer_free(&b);
    ct_epcis_records_free(recs, lens, 3);

    /* S1: commissioning, packing, and the case's shipping (via the case). */
    ct_item_status st;
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "S1", &st), HM_OK);
    assert_int_equal(st.event_count, 3);
    uint8_t h1[32];
    ct_epcis_doc_hash(d, 1, h1);
    assert_memory_equal(st.last_event, h1, 32);
    assert_int_equal(ct_query_item(&e->store, GTIN_A, "S2", &st), HM_OK);
    assert_int_equal(st.event_count, 1);
    /* The stored record carries the standard pre-hash: its SHA-256 is the
     * standard event hash ID. */
    uint8_t h2[32];
    ct_epcis_doc_hash(d, 2, h2);
    ct_stored_event se;
    assert_int_equal(ct_query_event(&e->store, h2, &se), HM_OK);
    ct_event_record *rec = calloc(1, sizeof *rec);
    assert_int_equal(ct_event_record_decode(se.record, se.record_len, rec), HM_OK);
    assert_true(rec->prehash_len > 0);
    assert_string_equal(rec->prehash, ct_epcis_doc_prehash(d, 2));
    free(rec);
    ct_stored_event_clear(&se);
    /* An event on an unregistered item refuses the whole import. */
    const char *bad = "{\"type\":\"EPCISDocument\",\"epcisBody\":{\"eventList\":[{\"type\":"
                      "\"ObjectEvent\",\"eventTime\":\"2024-01-01T00:00:00Z\","
                      "\"eventTimeZoneOffset\":\"+00:00\",\"action\":\"OBSERVE\",\"epcList\":"
                      "[\"https://id.gs1.org/01/10614141073464/21/NOPE\"]}]}}";
    ct_epcis_doc *d2 = NULL;
    assert_int_equal(ct_epcis_doc_parse(bad, strlen(bad), &d2, why, sizeof why), HM_OK);
    assert_int_equal(
        ct_epcis_doc_records(d2, 0, 1, prev_store, &e->store, &recs, &lens, why, sizeof why),
        HM_ERR_NOT_FOUND);
    assert_non_null(strstr(why, "not a registered item"));
    ct_epcis_doc_free(d2);
    ct_epcis_doc_free(d);
    env_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_through_ledger),
        cmocka_unit_test(test_golden_hashes),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_hash_is_order_free),
        cmocka_unit_test(test_context_overflow_refused),
        cmocka_unit_test(test_urn_escapes_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
