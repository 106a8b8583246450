/* tests/unit/test_ct_gs1.c — GTINs and GS1 Digital Link URIs against GS1's
 * own reference cases (shared testdata, read at run time) and a few cases of
 * our own.
 *
 * The reference cases come from the GS1 Barcode Syntax Engine. Cases that
 * need an option we do not support (deprecated alphabetic keys, AIs outside
 * our table) are checked to be refused under the strict defaults, which is
 * what the reference does with those options off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ct.h"
#include "ct_gs1.h"

static const char *testdata_dir(void) {
    const char *dir = getenv("HALLMARK_TESTDATA");
    return dir != NULL && dir[0] != '\0' ? dir : "../shared/testdata";
}

static FILE *open_testdata(const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", testdata_dir(), rel);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open %s (set HALLMARK_TESTDATA)", path);
    }
    return f;
}

static void test_check_digit(void **state) {
    (void)state;
    assert_int_equal(ct_gs1_check_digit("0952012345678", 13), '8');
    assert_int_equal(ct_gs1_check_digit("1231231231233", 13), '3');
    assert_int_equal(ct_gs1_check_digit("0234567", 7), '3');
}

static void test_gtin_normalize(void **state) {
    (void)state;
    char g[CT_GTIN_LEN + 1];
    const char *why = NULL;
    assert_int_equal(ct_gtin_normalize("09520123456788", g, &why), HM_OK);
    assert_string_equal(g, "09520123456788");
    assert_int_equal(ct_gtin_normalize("9520123456788", g, &why), HM_OK);
    assert_string_equal(g, "09520123456788");
    assert_int_equal(ct_gtin_normalize("416000336108", g, &why), HM_OK);
    assert_string_equal(g, "00416000336108");
    assert_int_equal(ct_gtin_normalize("02345673", g, &why), HM_OK);
    assert_string_equal(g, "00000002345673");
    /* Wrong check digit, wrong lengths, non-digits, empty. */
    assert_int_equal(ct_gtin_normalize("09520123456789", g, &why), HM_ERR_BAD_VALUE);
    assert_non_null(why);
    assert_int_equal(ct_gtin_normalize("0952012345678", g, NULL), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gtin_normalize("123456789", g, NULL), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gtin_normalize("0952012345678A", g, NULL), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gtin_normalize("", g, NULL), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gtin_normalize("095201234567880", g, NULL), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gtin14_check("09520123456788", NULL), HM_OK);
    assert_int_equal(ct_gtin14_check("9520123456788", NULL), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_serial_check("ABC-123/x", NULL), HM_OK);
    assert_int_equal(ct_gs1_serial_check("", NULL), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_serial_check("123456789012345678901", NULL), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_serial_check("a b", NULL), HM_ERR_BAD_VALUE);
}

static void split_tabs(char *line, char **fields, size_t nfields) {
    for (size_t i = 0; i < nfields; i++) {
        fields[i] = line;
        if (line != NULL) {
            char *tab = strchr(line, '\t');
            if (tab != NULL) {
                *tab = '\0';
                line = tab + 1;
            } else {
                line = NULL;
            }
        } else {
            fields[i] = (char *)"";
        }
    }
}

static void test_reference_parse_cases(void **state) {
    (void)state;
    FILE *f = open_testdata("digital-link/dl-uri-parse-cases.gs1-syntax-engine.tsv");
    char line[4096];
    int cases = 0, checked_valid = 0, checked_invalid = 0, unsupported = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || strncmp(line, "source_line", 11) == 0) {
            continue;
        }
        char *fld[11];
        split_tabs(line, fld, 11);
        cases++;
        bool valid = strcmp(fld[1], "1") == 0;
        bool alphas = strcmp(fld[2], "1") == 0;
        bool zero_suppressed = strcmp(fld[3], "1") == 0;
        bool unknown_ais = strcmp(fld[4], "1") == 0;
        bool attr_validation = strcmp(fld[5], "1") == 0;
        const char *uri = fld[6];
        ct_gs1_dl dl;
        const char *why = NULL;
        if (alphas || unknown_ais || !attr_validation) {
            /* Unsupported options: the strict parser must refuse these. */
            hm_err err = ct_gs1_dl_parse_uri(uri, NULL, &dl, &why);
            if (err == HM_OK) {
                fail_msg("line %s: %s accepted; options it needs are unsupported", fld[0], uri);
            }
            unsupported++;
            continue;
        }
        ct_gs1_dl_options opt = {.zero_suppressed_gtin = zero_suppressed};
        hm_err err = ct_gs1_dl_parse_uri(uri, &opt, &dl, &why);
        if (!valid) {
            if (err == HM_OK) {
                fail_msg("line %s: %s accepted, the reference refuses it", fld[0], uri);
            }
            assert_non_null(why);
            checked_invalid++;
            continue;
        }
        if (err != HM_OK) {
            fail_msg("line %s: %s refused (%s), the reference accepts it", fld[0], uri, why);
        }
        char es[4096];
        assert_int_equal(ct_gs1_dl_element_string(&dl, es, sizeof es), HM_OK);
        if (strcmp(es, fld[7]) != 0) {
            fail_msg("line %s: %s gives %s, want %s", fld[0], uri, es, fld[7]);
        }
        assert_string_equal(dl.gtin, fld[8]);
        assert_string_equal(dl.serial, fld[9]);
        assert_string_equal(dl.lot, fld[10]);
        checked_valid++;
    }
    fclose(f);
    print_message("digital link: %d cases, %d valid, %d invalid, %d unsupported-option refused\n",
                  cases, checked_valid, checked_invalid, unsupported);
    assert_int_equal(cases, 118);
    assert_true(checked_valid >= 60);
    assert_true(checked_invalid >= 35);
}

/* "(01)123(21)abc" -> AI pairs. */
static size_t parse_bracketed(const char *text, ct_gs1_ai *ais, size_t cap) {
    size_t n = 0;
    const char *p = text;
    while (*p == '(' && n < cap) {
        const char *close = strchr(p, ')');
        assert_non_null(close);
        size_t ai_len = (size_t)(close - p - 1);
        assert_true(ai_len <= CT_GS1_AI_LEN_MAX);
        memset(&ais[n], 0, sizeof ais[n]);
        memcpy(ais[n].ai, p + 1, ai_len);
        const char *v = close + 1;
        size_t v_len = strcspn(v, "(");
        assert_true(v_len <= CT_GS1_VALUE_MAX);
        memcpy(ais[n].value, v, v_len);
        n++;
        p = v + v_len;
    }
    return n;
}

static void test_reference_generate_cases(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/digital-link/dl-uri-cases.gs1-syntax-engine.json",
             testdata_dir());
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fail_msg("cannot read %s: %s", path, jerr.text);
    }
    json_t *cases = json_object_get(root, "generate_cases");
    assert_true(json_is_array(cases));
    size_t idx;
    json_t *c;
    int checked = 0;
    json_array_foreach(cases, idx, c) {
        const char *ai_data = json_string_value(json_object_get(c, "ai_data"));
        const char *stem = json_string_value(json_object_get(c, "stem"));
        bool should = json_is_true(json_object_get(c, "should_succeed"));
        json_t *opts = json_object_get(c, "options");
        bool unknown_ok = json_is_true(json_object_get(opts, "permitUnknownAIs"));
        ct_gs1_ai ais[CT_GS1_DL_AIS_MAX];
        size_t n = parse_bracketed(ai_data, ais, CT_GS1_DL_AIS_MAX);
        char uri[CT_GS1_DL_URI_MAX];
        const char *why = NULL;
        hm_err err = ct_gs1_dl_generate(stem, ais, n, uri, sizeof uri, &why);
        if (unknown_ok || !should) {
            /* Unknown AIs are unsupported: refused, as by the strict default. */
            if (err == HM_OK) {
                fail_msg("generate %s: got %s, want refusal", ai_data, uri);
            }
        } else {
            const char *want = json_string_value(json_object_get(c, "expected_uri"));
            if (err != HM_OK) {
                fail_msg("generate %s refused: %s", ai_data, why);
            }
            if (strcmp(uri, want) != 0) {
                fail_msg("generate %s: got %s, want %s", ai_data, uri, want);
            }
            /* What we generate we parse back to the same AIs. */
            ct_gs1_dl dl;
            assert_int_equal(ct_gs1_dl_parse_uri(uri, NULL, &dl, &why), HM_OK);
        }
        checked++;
    }
    json_decref(root);
    assert_true(checked >= 20);
}

/* digital-link.js (secondary, older grammar): its check-digit cases for
 * every key type must agree with us once its deprecated alphabetic keys are
 * written as AIs and a trailing '/' removed (both refused by the strict
 * engine). GIAI has no check digit: those cases are the library's own. */
static void test_secondary_check_digit_cases(void **state) {
    (void)state;
    static const struct {
        const char *alpha;
        const char *ai;
    } keys[] = {{"gtin", "01"},   {"grai", "8003"}, {"gln", "414"},  {"sscc", "00"},
                {"gsrn", "8018"}, {"gdti", "253"},  {"gsin", "402"}, {"gcn", "255"}};
    char path[1024];
    snprintf(path, sizeof path, "%s/digital-link/dl-uri-cases.digital-link-js.json",
             testdata_dir());
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fail_msg("cannot read %s: %s", path, jerr.text);
    }
    size_t idx;
    json_t *c;
    int checked = 0;
    json_array_foreach(json_object_get(root, "validity_cases"), idx, c) {
        const char *test = json_string_value(json_object_get(c, "test"));
        const char *uri = json_string_value(json_object_get(c, "uri"));
        const char *check = json_string_value(json_object_get(c, "check"));
        bool digit_case = test != NULL && (strstr(test, "check digit") != NULL ||
                                           (check != NULL && !strcmp(check, "isCheckDigitValid")));
        if (!digit_case || uri == NULL || strstr(uri, "/giai/") != NULL) {
            continue;
        }
        const char *host_end = strstr(uri, "://");
        assert_non_null(host_end);
        host_end = strchr(host_end + 3, '/');
        assert_non_null(host_end);
        char rewritten[512];
        snprintf(rewritten, sizeof rewritten, "%s", uri);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char alpha[16];
            snprintf(alpha, sizeof alpha, "/%s/", keys[k].alpha);
            if (strncmp(host_end, alpha, strlen(alpha)) == 0) {
                snprintf(rewritten, sizeof rewritten, "%.*s/%s/%s", (int)(host_end - uri), uri,
                         keys[k].ai, host_end + strlen(alpha));
            }
        }
        ct_gs1_dl dl;
        ct_gs1_dl_options zs = {.zero_suppressed_gtin = true};
        const char *why = NULL;
        bool ok = ct_gs1_dl_parse_uri(rewritten, &zs, &dl, &why) == HM_OK;
        bool want = json_is_true(json_object_get(c, "expected"));
        if (ok != want) {
            fail_msg("%s (as %s): %s, digital-link.js says %s (%s)", uri, rewritten,
                     ok ? "accepted" : "refused", want ? "valid" : "invalid", why);
        }
        checked++;
    }
    json_decref(root);
    assert_true(checked >= 20);
}

static void test_item_uri_and_path(void **state) {
    (void)state;
    char uri[CT_GS1_DL_URI_MAX];
    const char *why = NULL;
    assert_int_equal(
        ct_gs1_dl_item_uri("https://hm.example/", "9520123456788", "A1/2", uri, sizeof uri, &why),
        HM_OK);
    assert_string_equal(uri, "https://hm.example/01/09520123456788/21/A1%2F2");
    assert_int_equal(ct_gs1_dl_item_uri(NULL, "9520123456789", "A1", uri, sizeof uri, &why),
                     HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_dl_item_uri(NULL, "9520123456788", "", uri, sizeof uri, &why),
                     HM_ERR_BAD_VALUE);
    char tiny[10];
    assert_int_equal(ct_gs1_dl_item_uri(NULL, "9520123456788", "A", tiny, sizeof tiny, &why),
                     HM_ERR_FULL);
    /* The item URI is written directly: it must be what the generic
     * generator makes of the same two AIs, for every serial character GS1
     * allows (escaped or not), for each kind of stem, and on every length
     * of buffer the generator's URI does or does not fit. */
    static const char *const stems[] = {NULL, "", "https://hm.example", "https://hm.example/",
                                        "https://hm.example/x/"};
    static const char *const serials[] = {"B0001234", "A1/2", "!\"%&'()*+,-./:;<=>?_", "0",
                                          "ABCDEFGHIJKLMNOPQRST"};
    for (size_t si = 0; si < sizeof stems / sizeof stems[0]; si++) {
        for (size_t ri = 0; ri < sizeof serials / sizeof serials[0]; ri++) {
            ct_gs1_ai ais[2];
            memset(ais, 0, sizeof ais);
            memcpy(ais[0].ai, "01", 3);
            memcpy(ais[0].value, "09520123456788", 15);
            memcpy(ais[1].ai, "21", 3);
            snprintf(ais[1].value, sizeof ais[1].value, "%s", serials[ri]);
            char want[CT_GS1_DL_URI_MAX];
            assert_int_equal(ct_gs1_dl_generate(stems[si], ais, 2, want, sizeof want, &why), HM_OK);
            assert_int_equal(
                ct_gs1_dl_item_uri(stems[si], "9520123456788", serials[ri], uri, sizeof uri, &why),
                HM_OK);
            assert_string_equal(uri, want);
            size_t need = strlen(want) + 1;
            assert_int_equal(
                ct_gs1_dl_item_uri(stems[si], "9520123456788", serials[ri], uri, need, &why),
                HM_OK);
            assert_string_equal(uri, want);
            assert_int_equal(
                ct_gs1_dl_item_uri(stems[si], "9520123456788", serials[ri], uri, need - 1, &why),
                HM_ERR_FULL);
        }
    }

    ct_gs1_dl dl;
    ct_gs1_dl_options zs = {.zero_suppressed_gtin = true};
    assert_int_equal(
        ct_gs1_dl_parse_path("/01/9520123456788/10/L1/21/S%2F1?17=261231", &zs, &dl, &why), HM_OK);
    assert_string_equal(dl.gtin, "09520123456788");
    assert_string_equal(dl.lot, "L1");
    assert_string_equal(dl.serial, "S/1");
    assert_int_equal(dl.path_ai_count, 3);
    assert_int_equal(dl.ai_count, 4);
    /* Strict: the 13-digit GTIN is refused. Order 21 before 10 is refused. */
    assert_int_equal(ct_gs1_dl_parse_path("/01/9520123456788/21/S1", NULL, &dl, &why),
                     HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_dl_parse_path("/01/09520123456788/21/S1/10/L1", NULL, &dl, &why),
                     HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_dl_parse_path("/01/09520123456788/21/S1%", NULL, &dl, &why),
                     HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_dl_parse_path("/01/09520123456788/21/S1%4", NULL, &dl, &why),
                     HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_dl_parse_path("", NULL, &dl, &why), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_gs1_dl_parse_path("/01/09520123456788/21/"
                                          "123456789012345678901",
                                          NULL, &dl, &why),
                     HM_ERR_BAD_VALUE);
    /* AI 99: 90 characters accepted, 91 refused (the reference's boundary). */
    char q[256];
    char v[92];
    memset(v, 'A', 91);
    v[91] = '\0';
    snprintf(q, sizeof q, "/01/09520123456788?99=%.*s", 90, v);
    assert_int_equal(ct_gs1_dl_parse_path(q, NULL, &dl, &why), HM_OK);
    snprintf(q, sizeof q, "/01/09520123456788?99=%s", v);
    assert_int_equal(ct_gs1_dl_parse_path(q, NULL, &dl, &why), HM_ERR_BAD_VALUE);
    /* More AIs than the limit. */
    static char many[CT_GS1_DL_URI_MAX];
    size_t pos = (size_t)snprintf(many, sizeof many, "/01/09520123456788?");
    for (int i = 0; i < 70 && pos + 10 < sizeof many; i++) {
        pos += (size_t)snprintf(many + pos, sizeof many - pos, "99=A&");
    }
    assert_int_not_equal(ct_gs1_dl_parse_path(many, NULL, &dl, &why), HM_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_digit),
        cmocka_unit_test(test_gtin_normalize),
        cmocka_unit_test(test_reference_parse_cases),
        cmocka_unit_test(test_reference_generate_cases),
        cmocka_unit_test(test_secondary_check_digit_cases),
        cmocka_unit_test(test_item_uri_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
