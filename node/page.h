/* node/page.h — the consumer page: what a shopper sees after scanning an
 * item's QR code, rendered as one self-contained HTML document (no external
 * assets, readable without JavaScript, in English or Chinese), and the same
 * data as JSON.
 *
 * Layer: node/. The renderer is a pure function of an nd_page_item (no I/O,
 * no clock, no node state) so that it is tested alone; node/http_consumer.c
 * fills the struct from the committed state and serves it. */
#ifndef HALLMARK_ND_PAGE_H
#define HALLMARK_ND_PAGE_H

#include "nd.h"

typedef enum { ND_LANG_EN = 0, ND_LANG_ZH = 1 } nd_lang;

/* The language to answer in for an Accept-Language header (NULL: English):
 * the highest-q tag among en* and zh*, ties to the first listed. */
nd_lang nd_page_lang(const char *accept_language);

typedef enum {
    ND_ITEM_GENUINE = 1, /* registered, not recalled, not claimed */
    ND_ITEM_RECALLED,    /* recalled (by item or lot): wins over claimed */
    ND_ITEM_CLAIMED,     /* someone already claimed ownership */
    ND_ITEM_UNKNOWN,     /* not registered: likely a counterfeit */
} nd_item_state;

#define ND_PAGE_EVENTS_MAX 64

typedef struct {
    uint64_t time_ms;
    char biz_step[CT_URI_MAX + 1]; /* CBV URI or bare word */
    char location[CT_URI_MAX + 1]; /* biz location or read point, may be "" */
} nd_page_event;

typedef struct {
    nd_item_state state;
    char gtin[CT_GTIN_LEN + 1];
    char serial[CT_SERIAL_MAX + 1];
    char lot[CT_LOT_MAX + 1];
    char brand[CT_MEMBER_NAME_MAX + 1];
    char product[CT_PRODUCT_NAME_MAX + 1];
    char description[CT_PRODUCT_DESC_MAX + 1];
    char image_url[CT_PRODUCT_URL_MAX + 1];
    char recall_reason[CT_RECALL_REASON_MAX + 1];
    uint64_t registered_ms; /* block time of the registration, 0 if unknown */
    uint64_t claimed_ms;
    bool claimable; /* has a claim code and is not claimed or recalled */
    uint32_t event_count;
    nd_page_event events[ND_PAGE_EVENTS_MAX];
    uint64_t lookups;         /* node-local counter, this lookup included */
    uint64_t first_lookup_ms; /* when this node first served the code */
    const char *self_path;    /* canonical path "/01/{gtin}/21/{serial}" */
    const char *chain_id;
    const char *bundle_json; /* the proof bundle (JSON text) or NULL */
} nd_page_item;

/* The plain-words label of an EPCIS business step ("Shipped" / "已发货"),
 * or NULL for a step without one (the page then shows the step's name). */
const char *nd_page_step_label(const char *biz_step, nd_lang lang);

/* Renders the page into a malloc'd NUL-terminated buffer (caller frees).
 * HM_ERR_NOMEM only. */
HM_MUST_USE hm_err nd_page_render_html(const nd_page_item *item, nd_lang lang, char **out,
                                       size_t *out_len);
/* Where the pieces a split rendering leaves out go, as offsets into it
 * (css_at <= lookups_at <= js_at <= its length). */
typedef struct {
    size_t css_at;     /* the style sheet, the same on every page */
    size_t lookups_at; /* the lookup-counter paragraph, new on every lookup */
    size_t js_at;      /* the check script, the same on every page that has one */
    bool has_script;   /* the page shows a proof bundle, and so the script */
} nd_page_layout;

/* The same page without its lookup-counter paragraph, its style sheet and
 * its script, and where they go: the rest of the page can be kept while the
 * chain does not change, the counter is written per lookup, and the fixed
 * style sheet and script (6 KB of an 11 KB page) are sent from static
 * memory rather than copied into every rendering (nd_page_parts). */
HM_MUST_USE hm_err nd_page_render_html_split(const nd_page_item *item, nd_lang lang, char **out,
                                             size_t *out_len, nd_page_layout *layout);
#define ND_PAGE_LOOKUPS_MAX 512

/* A piece of a page as it is sent. */
typedef struct {
    const char *data;
    size_t len; /* may be 0 */
} nd_page_part;

#define ND_PAGE_PARTS 7
/* The whole page, in order, as parts pointing into kept (a split rendering
 * of kept_len bytes and its layout), the counter paragraph and the static
 * style sheet and script; their concatenation is byte for byte what
 * nd_page_render_html writes for the same item and counter. Returns the
 * page's length. */
size_t nd_page_parts(const char *kept, size_t kept_len, const nd_page_layout *layout,
                     const char *counter, size_t counter_len, nd_page_part parts[ND_PAGE_PARTS]);
/* The lookup-counter paragraph into out (capacity at least
 * ND_PAGE_LOOKUPS_MAX); returns its length (0 if it did not fit). */
size_t nd_page_render_lookups(uint64_t count, uint64_t first_ms, nd_lang lang, char *out,
                              size_t out_cap);

/* The JSON answer's counter, "lookups":{"count":N,"since_ms":T}, and the
 * comma after it (it goes right after the opening '{'), as printf's %llu
 * writes the numbers, into out (NUL-terminated); returns its length (0 if
 * it did not fit in out_cap). */
size_t nd_page_json_lookups(uint64_t count, uint64_t first_ms, char *out, size_t out_cap);

/* The result page after a claim form was submitted: accepted (the claim is
 * in the mempool) or refused with reason. */
HM_MUST_USE hm_err nd_page_render_claim(const char *self_path, bool accepted, const char *reason,
                                        nd_lang lang, char **out, size_t *out_len);

/* The page for a link that is not a valid GS1 item code (reason from the
 * Digital Link parser, in English): a warning, since a genuine label never
 * carries one. */
HM_MUST_USE hm_err nd_page_render_bad_code(const char *reason, nd_lang lang, char **out,
                                           size_t *out_len);

/* The item's data as JSON (new reference; NULL when out of memory):
 * status, product, timeline, lookups. The caller adds the proof. */
json_t *nd_page_item_json(const nd_page_item *item);
/* The same without "lookups", as compact JSON text: byte for byte what
 * json_dumps(JSON_COMPACT) writes for nd_page_item_json() with "lookups"
 * deleted, without building the JSON tree (the item answer is made on
 * every lookup that is not kept). Malloc'd, caller frees. HM_ERR_BAD_VALUE
 * for text that is not valid UTF-8 (nd_page_item_json refuses it too),
 * HM_ERR_NOMEM. */
HM_MUST_USE hm_err nd_page_item_json_text(const nd_page_item *item, char **out, size_t *out_len);

/* A QR code of text as an SVG document (malloc'd, caller frees), with a
 * 4-module quiet zone. HM_ERR_BAD_VALUE if text cannot be encoded. */
HM_MUST_USE hm_err nd_page_qr_svg(const char *text, char **out, size_t *out_len);

/* Serves GET .../{gtin}/{serial}/qr.svg for whichever module owns the
 * "/v1/items/" prefix: rest is the path after that prefix. */
void nd_consumer_serve_qr(nd_node *n, struct evhttp_request *req, const char *rest);

#endif
