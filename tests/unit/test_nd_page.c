/* tests/unit/test_nd_page.c — the consumer page renderer alone: status a
 * person reads in each state and language, escaping of ledger text, no
 * external assets, the claim form only when it makes sense, language choice,
 * plain-words timeline, JSON fields and the QR SVG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "page.h"

static nd_page_item *sample(nd_item_state state) {
    nd_page_item *it = calloc(1, sizeof *it);
    assert_non_null(it);
    it->state = state;
    snprintf(it->gtin, sizeof it->gtin, "09520123456788");
    snprintf(it->serial, sizeof it->serial, "SN-1");
    snprintf(it->lot, sizeof it->lot, "L7");
    snprintf(it->brand, sizeof it->brand, "Acme & Sons");
    snprintf(it->product, sizeof it->product, "Silk scarf <b>x</b>");
    snprintf(it->image_url, sizeof it->image_url, "https://img.example/scarf.jpg");
    snprintf(it->recall_reason, sizeof it->recall_reason, "dye defect");
    it->registered_ms = 1764000000000ull;
    it->claimed_ms = 1764300000000ull;
    it->claimable = state == ND_ITEM_GENUINE;
    it->event_count = 2;
    snprintf(it->events[0].biz_step, sizeof it->events[0].biz_step,
             "https://ref.gs1.org/cbv/BizStep-shipping");
    it->events[0].time_ms = 1764100000000ull;
    snprintf(it->events[1].biz_step, sizeof it->events[1].biz_step,
             "urn:epcglobal:cbv:bizstep:retail_selling");
    it->events[1].time_ms = 1764200000000ull;
    it->lookups = 3;
    it->first_lookup_ms = 1764050000000ull;
    it->self_path = "/01/09520123456788/21/SN-1";
    it->chain_id = "test-chain";
    it->bundle_json = "{\"format\":\"hallmark-proof-bundle\",\"x\":\"</pre><script>\"}";
    return it;
}

static char *render(const nd_page_item *it, nd_lang lang) {
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(nd_page_render_html(it, lang, &html, &len), HM_OK);
    assert_int_equal(strlen(html), len);
    return html;
}

static void assert_contains(const char *hay, const char *needle) {
    if (strstr(hay, needle) == NULL) {
        fail_msg("expected to find \"%s\"", needle);
    }
}

static void assert_lacks(const char *hay, const char *needle) {
    if (strstr(hay, needle) != NULL) {
        fail_msg("did not expect \"%s\"", needle);
    }
}

static void test_states_english(void **state) {
    (void)state;
    struct {
        nd_item_state s;
        const char *text;
    } cases[] = {
        {ND_ITEM_GENUINE, "<strong>Genuine</strong>"},
        {ND_ITEM_RECALLED, "<strong>Recalled</strong>"},
        {ND_ITEM_CLAIMED, "<strong>Already claimed 2025-11-28"},
        {ND_ITEM_UNKNOWN, "<strong>Not registered</strong>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nd_page_item *it = sample(cases[i].s);
        char *html = render(it, ND_LANG_EN);
        assert_contains(html, cases[i].text);
        assert_contains(html, "<html lang=\"en\">");
        assert_contains(html, "role=\"status\"");
        /* No external assets: nothing is loaded from elsewhere. */
        assert_lacks(html, "src=\"http");
        assert_lacks(html, "<link");
        assert_lacks(html, "@import");
        if (cases[i].s == ND_ITEM_GENUINE) {
            assert_contains(html, "<form method=\"post\" action=\"/01/09520123456788/21/SN-1\">");
            assert_contains(html, "<label for=\"code\">");
            assert_contains(html, "Shipped");
            assert_contains(html, "Sold");
            assert_contains(html, "looked up 3 times since 2025-11-25");
        } else {
            assert_lacks(html, "<form");
        }
        if (cases[i].s == ND_ITEM_RECALLED) {
            assert_contains(html, "dye defect");
        }
        if (cases[i].s == ND_ITEM_UNKNOWN) {
            assert_contains(html, "likely not genuine");
            assert_lacks(html, "Silk scarf");
        }
        free(html);
        free(it);
    }
}

static void test_chinese(void **state) {
    (void)state;
    nd_page_item *it = sample(ND_ITEM_GENUINE);
    char *html = render(it, ND_LANG_ZH);
    assert_contains(html, "<html lang=\"zh-CN\">");
    assert_contains(html, "正品");
    assert_contains(html, "已发货");
    assert_contains(html, "认领此商品");
    free(html);
    it->state = ND_ITEM_UNKNOWN;
    html = render(it, ND_LANG_ZH);
    assert_contains(html, "未登记");
    free(html);
    free(it);
}

static void test_escaping(void **state) {
    (void)state;
    nd_page_item *it = sample(ND_ITEM_GENUINE);
    char *html = render(it, ND_LANG_EN);
    assert_contains(html, "Silk scarf &lt;b&gt;x&lt;/b&gt;");
    assert_contains(html, "Acme &amp; Sons");
    assert_lacks(html, "<b>x</b>");
    /* The bundle text cannot close its element or open a script. */
    assert_lacks(html, "</pre><script>\"");
    assert_contains(html, "&lt;/pre&gt;&lt;script&gt;");
    /* In element text quotes are plain characters: the bundle keeps them,
     * exactly as the script reads it back with textContent. */
    assert_contains(html, "<pre id=\"proof\">{\"format\":\"hallmark-proof-bundle\",\"x\":\"");
    /* Exactly one script element: ours. */
    const char *first = strstr(html, "<script>");
    assert_non_null(first);
    assert_null(strstr(first + 1, "<script"));
    free(html);
    /* An ampersand in the bundle text is escaped (it could start a
     * character reference), and the rest of the text is kept as it is. */
    it->bundle_json = "{\"a\":\"x&amp;y\",\"b\":\"'\"}";
    html = render(it, ND_LANG_EN);
    assert_contains(html, "<pre id=\"proof\">{\"a\":\"x&amp;amp;y\",\"b\":\"'\"}</pre>");
    free(html);
    free(it);
}

static void test_language_choice(void **state) {
    (void)state;
    assert_int_equal(nd_page_lang(NULL), ND_LANG_EN);
    assert_int_equal(nd_page_lang(""), ND_LANG_EN);
    assert_int_equal(nd_page_lang("zh-CN,zh;q=0.9,en;q=0.8"), ND_LANG_ZH);
    assert_int_equal(nd_page_lang("en-US,en;q=0.9,zh;q=0.8"), ND_LANG_EN);
    assert_int_equal(nd_page_lang("fr, zh;q=0.5, en;q=0.4"), ND_LANG_ZH);
    assert_int_equal(nd_page_lang("zh;q=0, en"), ND_LANG_EN);
    assert_int_equal(nd_page_lang("ZH-tw"), ND_LANG_ZH);
    assert_int_equal(nd_page_lang("zhx, de"), ND_LANG_EN);
    assert_int_equal(nd_page_lang(";;;,,,q=,"), ND_LANG_EN);
    /* A tab is whitespace, as a space is: the API port hands the value on
     * with a leading tab, the lane without; both pick the same language. */
    assert_int_equal(nd_page_lang("\tzh-CN"), ND_LANG_ZH);
    assert_int_equal(nd_page_lang("zh-CN"), ND_LANG_ZH);
    assert_int_equal(nd_page_lang("fr,\tzh\t;q=0.5,\ten;q=0.4"), ND_LANG_ZH);
}

static void test_step_labels(void **state) {
    (void)state;
    assert_string_equal(
        nd_page_step_label("https://ref.gs1.org/cbv/BizStep-commissioning", ND_LANG_EN), "Made");
    assert_string_equal(nd_page_step_label("urn:epcglobal:cbv:bizstep:packing", ND_LANG_EN),
                        "Packed");
    assert_string_equal(nd_page_step_label("receiving", ND_LANG_ZH), "已收货");
    assert_null(nd_page_step_label("https://example.com/custom-step", ND_LANG_EN));
}

static void test_json_and_claim_page(void **state) {
    (void)state;
    nd_page_item *it = sample(ND_ITEM_CLAIMED);
    json_t *j = nd_page_item_json(it);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "claimed");
    assert_int_equal(json_integer_value(json_object_get(j, "claimed_ms")), 1764300000000ll);
    assert_int_equal(json_array_size(json_object_get(j, "timeline")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "lookups"), "count")),
                     3);
    json_decref(j);
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(
        nd_page_render_claim(it->self_path, false, "code <wrong>", ND_LANG_EN, &html, &len), HM_OK);
    assert_contains(html, "refused: code &lt;wrong&gt;");
    free(html);
    assert_int_equal(nd_page_render_claim(it->self_path, true, NULL, ND_LANG_ZH, &html, &len),
                     HM_OK);
    assert_contains(html, "认领已提交");
    free(html);
    free(it);
}

/* The item JSON written directly must be byte for byte what jansson
 * writes for the same item (clients and the answer's ETag see no change). */
static void assert_json_text_same(const nd_page_item *it) {
    json_t *j = nd_page_item_json(it);
    assert_non_null(j);
    assert_int_equal(json_object_del(j, "lookups"), 0);
    char *want = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(want);
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(nd_page_item_json_text(it, &got, &len), HM_OK);
    assert_int_equal(strlen(got), len);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

static void test_json_text(void **state) {
    (void)state;
    nd_item_state states[] = {ND_ITEM_GENUINE, ND_ITEM_RECALLED, ND_ITEM_CLAIMED, ND_ITEM_UNKNOWN};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        nd_page_item *it = sample(states[i]);
        assert_json_text_same(it);
        it->claimable = !it->claimable;
        it->registered_ms = 0;
        assert_json_text_same(it);
        it->event_count = 0;
        assert_json_text_same(it);
        free(it);
    }
    /* Escapes: quotes, backslashes, every control character, DEL and
     * UTF-8 kept as they are. */
    nd_page_item *it = sample(ND_ITEM_RECALLED);
    snprintf(it->product, sizeof it->product, "a\"b\\c/d\x7f 丝巾 \xf0\x9f\x98\x80");
    for (int c = 1; c < 0x20; c++) {
        it->description[c - 1] = (char)c;
    }
    it->description[0x1f] = '\0';
    snprintf(it->recall_reason, sizeof it->recall_reason, "\t\"x\"\n");
    snprintf(it->events[1].location, sizeof it->events[1].location, "\\\\server");
    assert_json_text_same(it);
    /* The edges of each UTF-8 form, kept as they are. */
    snprintf(it->brand, sizeof it->brand,
             "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4"
             "\x8f\xbf\xbf");
    assert_json_text_same(it);
    /* Not UTF-8 (a lone continuation byte, an overlong form, a surrogate):
     * refused, as jansson refuses it. */
    const char *bad[] = {"x\x80",
                         "\xc0\xaf",
                         "\xed\xa0\x80",
                         "\xf4\x90\x80\x80",
                         "\xe4\xb8",
                         "\xe0\x9f\xbf",
                         "\xf0\x8f\xbf\xbf",
                         "\xf5\x80\x80\x80",
                         "ok\xf0\x9f\x98",
                         "\xc2",
                         "\xff",
                         "\xe4\xb8\xadx\xc1\xbf",
                         "\xf0\x9f\x98\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(it->brand, sizeof it->brand, "%s", bad[i]);
        char *got = NULL;
        size_t len = 0;
        assert_int_equal(nd_page_item_json_text(it, &got, &len), HM_ERR_BAD_VALUE);
        assert_null(nd_page_item_json(it));
    }
    free(it);
}

static void test_bad_code_page(void **state) {
    (void)state;
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(nd_page_render_bad_code("check digit <x>", ND_LANG_EN, &html, &len), HM_OK);
    assert_contains(html, "<strong>Not a valid product code</strong>");
    assert_contains(html, "check digit &lt;x&gt;");
    free(html);
    assert_int_equal(nd_page_render_bad_code("x", ND_LANG_ZH, &html, &len), HM_OK);
    assert_contains(html, "无效的商品码");
    free(html);
}

static void test_qr_svg(void **state) {
    (void)state;
    char *svg = NULL;
    size_t len = 0;
    assert_int_equal(nd_page_qr_svg("https://id.gs1.org/01/09520123456788/21/SN-1", &svg, &len),
                     HM_OK);
    assert_contains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
    assert_contains(svg, "<title>https://id.gs1.org/01/09520123456788/21/SN-1</title>");
    assert_contains(svg, "h1v1h-1z");
    free(svg);
}

/* The counter paragraph, written without printf, says what the printf and
 * strftime version said: count in decimal, time as "%Y-%m-%d %H:%M UTC". */
static void test_lookups_paragraph(void **state) {
    (void)state;
    const uint64_t counts[] = {0, 1, 9, 10, 1234567, UINT64_MAX};
    const uint64_t times[] = {0,
                              1000,
                              951782400000ull,    /* 2000-02-29 00:00 */
                              1764300000000ull,   /* 2025-11-28 */
                              4107542399999ull,   /* 2100-02-28 23:59 */
                              253402300799000ull, /* 9999-12-31 23:59 */
                              253402300800000ull, /* 10000-01-01 */
                              1764300000000ull + 59999};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        for (size_t t = 0; t < sizeof times / sizeof times[0]; t++) {
            for (int lang = ND_LANG_EN; lang <= ND_LANG_ZH; lang++) {
                char when[64] = "";
                time_t secs = (time_t)(times[t] / 1000);
                struct tm tm;
                assert_non_null(gmtime_r(&secs, &tm));
                strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
                char want[512];
                if (lang == ND_LANG_EN) {
                    snprintf(want, sizeof want,
                             "<p class=\"muted\" id=\"lookups\">This code has been looked up "
                             "%llu times since %s</p>\n",
                             (unsigned long long)counts[c], when);
                } else {
                    snprintf(want, sizeof want,
                             "<p class=\"muted\" id=\"lookups\">此码已被查询 %llu 次，首次查询于 "
                             "%s</p>\n",
                             (unsigned long long)counts[c], when);
                }
                /* 0 means "not known" (below): the epoch's own second is 1 ms. */
                const uint64_t first = times[t] == 0 ? 1 : times[t];
                char got[ND_PAGE_LOOKUPS_MAX];
                size_t n = nd_page_render_lookups(counts[c], first, (nd_lang)lang, got, sizeof got);
                assert_int_equal(n, strlen(want));
                assert_string_equal(got, want);
            }
        }
        char got[ND_PAGE_LOOKUPS_MAX];
        size_t n = nd_page_render_lookups(counts[c], 0, ND_LANG_EN, got, sizeof got);
        char want[256];
        snprintf(want, sizeof want,
                 "<p class=\"muted\" id=\"lookups\">This code has been looked up %llu times</p>\n",
                 (unsigned long long)counts[c]);
        assert_int_equal(n, strlen(want));
        assert_string_equal(got, want);
        /* Too small a buffer: nothing (0), as before. */
        assert_int_equal(nd_page_render_lookups(counts[c], 0, ND_LANG_EN, got, 20), 0);
    }
}

/* The JSON counter, written without printf, is what printf wrote; too
 * small a buffer gets nothing. */
static void test_json_lookups(void **state) {
    (void)state;
    const uint64_t values[] = {0, 1, 9, 10, 99, 1234567, 1795903033000ull, UINT64_MAX};
    size_t count_n = sizeof values / sizeof values[0];
    for (size_t c = 0; c < count_n; c++) {
        for (size_t t = 0; t < count_n; t++) {
            char want[256];
            snprintf(want, sizeof want, "\"lookups\":{\"count\":%llu,\"since_ms\":%llu},",
                     (unsigned long long)values[c], (unsigned long long)values[t]);
            char got[512];
            size_t n = nd_page_json_lookups(values[c], values[t], got, sizeof got);
            assert_int_equal(n, strlen(want));
            assert_string_equal(got, want);
            assert_int_equal(nd_page_json_lookups(values[c], values[t], got, n), 0);
            assert_int_equal(nd_page_json_lookups(values[c], values[t], got, n + 1), n);
        }
    }
}

/* A page sent in parts (the kept rendering without counter, style sheet
 * and script, with those three between its pieces) is byte for byte the
 * page rendered whole, in every state, both languages, with and without a
 * proof bundle, claim form and events; and the kept rendering holds neither
 * the style sheet nor the script (they are sent from static memory). */
static void test_page_parts(void **state) {
    (void)state;
    const nd_item_state states[] = {ND_ITEM_GENUINE, ND_ITEM_RECALLED, ND_ITEM_CLAIMED,
                                    ND_ITEM_UNKNOWN};
    for (size_t s = 0; s < sizeof states / sizeof states[0]; s++) {
        for (int lang = ND_LANG_EN; lang <= ND_LANG_ZH; lang++) {
            for (int variant = 0; variant < 4; variant++) {
                nd_page_item *it = sample(states[s]);
                if (variant & 1) {
                    it->bundle_json = NULL;
                }
                if (variant & 2) {
                    it->claimable = !it->claimable;
                    it->event_count = 0;
                    it->first_lookup_ms = 0;
                }
                char *whole = render(it, (nd_lang)lang);
                char *kept = NULL;
                size_t kept_len = 0;
                nd_page_layout layout;
                assert_int_equal(
                    nd_page_render_html_split(it, (nd_lang)lang, &kept, &kept_len, &layout), HM_OK);
                assert_int_equal(strlen(kept), kept_len);
                assert_lacks(kept, "box-sizing");
                assert_lacks(kept, "crypto.subtle");
                assert_true(layout.has_script == (it->bundle_json != NULL));
                char counter[ND_PAGE_LOOKUPS_MAX];
                size_t n = nd_page_render_lookups(it->lookups, it->first_lookup_ms, (nd_lang)lang,
                                                  counter, sizeof counter);
                assert_true(n > 0);
                nd_page_part parts[ND_PAGE_PARTS];
                size_t total = nd_page_parts(kept, kept_len, &layout, counter, n, parts);
                char *sent = malloc(total + 1);
                assert_non_null(sent);
                size_t at = 0;
                for (int i = 0; i < ND_PAGE_PARTS; i++) {
                    memcpy(sent + at, parts[i].data, parts[i].len);
                    at += parts[i].len;
                }
                sent[at] = '\0';
                assert_int_equal(at, total);
                assert_string_equal(sent, whole);
                free(sent);
                free(kept);
                free(whole);
                free(it);
            }
        }
    }
}

/* The dates of the counter paragraph, written without gmtime_r below the
 * year 10000, are the ones strftime writes: every day from 1970 to 2600
 * (each at a different time of day, so that hours and minutes move too),
 * then every 97th day to 9999, then the last seconds before 10000 and the
 * first ones after it, where gmtime_r takes over. */
static void check_date(uint64_t secs) {
    char when[64] = "";
    time_t t = (time_t)secs;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    char want[512];
    snprintf(want, sizeof want,
             "<p class=\"muted\" id=\"lookups\">This code has been looked up 2 times since "
             "%s</p>\n",
             when);
    char got[ND_PAGE_LOOKUPS_MAX];
    /* ms just under the next second: only whole seconds are shown */
    size_t n = nd_page_render_lookups(2, secs * 1000 + 999, ND_LANG_EN, got, sizeof got);
    if (n != strlen(want) || strcmp(got, want) != 0) {
        fail_msg("at %llu s: got %s want %s", (unsigned long long)secs, got, want);
    }
}

static void test_lookups_dates(void **state) {
    (void)state;
    const uint64_t day = 86400, end = 253402300800ull; /* 10000-01-01 00:00 */
    uint64_t d = 0;
    for (; d * day < 19723ull * day; d++) { /* to 2024-01-01 */
        check_date(d * day + (d * 7919) % day);
    }
    for (; d < 230000; d++) { /* to about 2599 */
        check_date(d * day + (d * 7919) % day);
        check_date(d * day); /* midnight */
    }
    for (; d * day < end; d += 97) {
        check_date(d * day + (d * 104729) % day);
    }
    for (uint64_t s = end - 3 * day; s < end + 3 * day; s += 59) {
        check_date(s);
    }
    check_date(end - 1);
    check_date(end);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states_english), cmocka_unit_test(test_chinese),
        cmocka_unit_test(test_escaping),       cmocka_unit_test(test_language_choice),
        cmocka_unit_test(test_step_labels),    cmocka_unit_test(test_json_and_claim_page),
        cmocka_unit_test(test_bad_code_page),  cmocka_unit_test(test_qr_svg),
        cmocka_unit_test(test_json_text),      cmocka_unit_test(test_lookups_paragraph),
        cmocka_unit_test(test_lookups_dates),  cmocka_unit_test(test_page_parts),
        cmocka_unit_test(test_json_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
