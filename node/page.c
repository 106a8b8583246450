/* node/page.c — renders the consumer page and its JSON, and QR codes as SVG.
 *
 * Layer: node/, but pure: a function of its arguments only (no clock, no
 * store, no sockets), so tests/unit/test_nd_page.c checks it alone. Every
 * piece of text that came from the ledger is escaped for HTML, the proof
 * bundle too (it is shown as text and read back by the script). The page must stay readable without
 * JavaScript and must never load anything from elsewhere. */
#include "page.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <qrencode.h>

/* ------------------------------------------------------------ buffer */

typedef struct {
    char *buf;
    size_t len;
    size_t cap;
    size_t first_cap; /* the first allocation; 0: room for a page */
    bool failed;
} sbuf;

/* Makes room for len more bytes and the NUL; false (and b failed) when
 * memory runs out. Out of line: sb_add's common case is the copy alone. */
static bool sb_grow(sbuf *b, size_t len) {
    if (b->failed) {
        return false;
    }
    /* a whole page is about 11 KB, one kept without its style sheet and
     * script about 5 KB */
    size_t cap = b->cap ? b->cap : b->first_cap ? b->first_cap : 16384;
    while (cap < b->len + len + 1) {
        cap *= 2;
    }
    char *grown = realloc(b->buf, cap);
    if (grown == NULL) {
        b->failed = true;
        return false;
    }
    b->buf = grown;
    b->cap = cap;
    return true;
}

/* Inline, so that the copy of a literal (most of a page's pieces) is a few
 * moves rather than a call. A failed buffer stays failed: sb_grow refuses
 * it. */
static inline __attribute__((always_inline)) void sb_add(sbuf *b, const char *text, size_t len) {
    if ((b->len + len + 1 > b->cap || b->failed) && !sb_grow(b, len)) {
        return;
    }
    memcpy(b->buf + b->len, text, len);
    b->len += len;
    b->buf[b->len] = '\0';
}

/* Inline for the same reason: a literal's length is then known at once. */
static inline __attribute__((always_inline)) void sb_str(sbuf *b, const char *text) {
    sb_add(b, text, strlen(text));
}

/* A signed decimal, as printf's %lld writes it. */
static void sb_lld(sbuf *b, long long v) {
    char digits[21];
    size_t n = 0;
    if (v < 0) {
        digits[n++] = '-';
        n += hm_u64_decimal(0 - (uint64_t)v, digits + n);
    } else {
        n = hm_u64_decimal((uint64_t)v, digits);
    }
    sb_add(b, digits, n);
}

static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Copies text, escaping for HTML each byte of `unsafe` (a subset of
 * <>&"'). Runs of safe bytes are found with strcspn (vectorised in libc)
 * and copied at once; the proof bundle is a few KB of mostly safe text on
 * every page. */
static void sb_esc_set(sbuf *b, const char *text, const char *unsafe) {
    const char *p = text;
    for (;;) {
        size_t run = strcspn(p, unsafe);
        sb_add(b, p, run);
        p += run;
        switch (*p) {
        case '<':
            sb_add(b, "&lt;", 4);
            break;
        case '>':
            sb_add(b, "&gt;", 4);
            break;
        case '&':
            sb_add(b, "&amp;", 5);
            break;
        case '"':
            sb_add(b, "&quot;", 6);
            break;
        case '\'':
            sb_add(b, "&#39;", 5);
            break;
        default: /* the terminating NUL */
            return;
        }
        p++;
    }
}

/* HTML text and attribute values. */
static void sb_esc(sbuf *b, const char *text) {
    sb_esc_set(b, text, "<>&\"'");
}

/* Element text only (never an attribute value): there quotes are plain
 * characters, and only '&', '<' and '>' need escaping. The proof bundle is
 * JSON, full of quotes, shown in a <pre>. */
static void sb_esc_text(sbuf *b, const char *text) {
    sb_esc_set(b, text, "<>&");
}

static hm_err sb_finish(sbuf *b, char **out, size_t *out_len) {
    if (b->failed || b->buf == NULL) {
        free(b->buf);
        return HM_ERR_NOMEM;
    }
    *out = b->buf;
    *out_len = b->len;
    return HM_OK;
}

/* -------------------------------------------------------------- language */

nd_lang nd_page_lang(const char *accept) {
    if (accept == NULL) {
        return ND_LANG_EN;
    }
    /* "zh-CN,zh;q=0.9,en;q=0.8": take the best q among en and zh. */
    int best_q = -1;
    nd_lang best = ND_LANG_EN;
    const char *p = accept;
    while (*p != '\0') {
        /* Tabs are whitespace too (RFC 9110 OWS): libevent keeps a tab
         * after the colon, the lane skips it, and both must agree. */
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        const char *tag = p;
        size_t tag_len = strcspn(p, ";, \t");
        p += tag_len;
        int q = 1000;
        const char *semi = p;
        while (*semi == ' ' || *semi == '\t') {
            semi++;
        }
        if (*semi == ';') {
            const char *qp = strstr(semi, "q=");
            const char *comma = strchr(semi, ',');
            if (qp != NULL && (comma == NULL || qp < comma)) {
                /* q is 0 to 1 with up to three decimals. */
                qp += 2;
                q = (*qp == '1') ? 1000 : 0;
                if (*qp == '0' && qp[1] == '.') {
                    int scale = 100;
                    for (const char *d = qp + 2; *d >= '0' && *d <= '9' && scale > 0; d++) {
                        q += (*d - '0') * scale;
                        scale /= 10;
                    }
                }
            }
        }
        while (*p != '\0' && *p != ',') {
            p++;
        }
        bool en = tag_len >= 2 && (tag[0] == 'e' || tag[0] == 'E') &&
                  (tag[1] == 'n' || tag[1] == 'N') && (tag_len == 2 || tag[2] == '-');
        bool zh = tag_len >= 2 && (tag[0] == 'z' || tag[0] == 'Z') &&
                  (tag[1] == 'h' || tag[1] == 'H') && (tag_len == 2 || tag[2] == '-');
        if ((en || zh) && q > best_q && q > 0) {
            best_q = q;
            best = zh ? ND_LANG_ZH : ND_LANG_EN;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- words */

typedef enum {
    S_TITLE,
    S_GENUINE,
    S_GENUINE_DETAIL,
    S_RECALLED,
    S_RECALLED_DETAIL,
    S_CLAIMED,
    S_CLAIMED_DETAIL,
    S_UNKNOWN,
    S_UNKNOWN_DETAIL,
    S_BRAND,
    S_PRODUCT,
    S_GTIN,
    S_SERIAL,
    S_LOT,
    S_TIMELINE,
    S_NO_EVENTS,
    S_REGISTERED,
    S_LOOKUPS,
    S_LOOKUPS_FIRST,
    S_CHECK,
    S_CHECK_INTRO,
    S_CHECK_BUTTON,
    S_CHECK_OFFLINE,
    S_CLAIM,
    S_CLAIM_INTRO,
    S_CLAIM_LABEL,
    S_CLAIM_BUTTON,
    S_CLAIM_SENT,
    S_CLAIM_REFUSED,
    S_BACK,
    S_PHOTO,
    S_LANG_OTHER,
    S_BAD_CODE,
    S_BAD_CODE_DETAIL,
    S__COUNT
} string_id;

static const char *const words[2][S__COUNT] = {
    [ND_LANG_EN] =
        {
            [S_TITLE] = "Product check",
            [S_GENUINE] = "Genuine",
            [S_GENUINE_DETAIL] = "This item was registered by its brand and has not been "
                                 "claimed or recalled.",
            [S_RECALLED] = "Recalled",
            [S_RECALLED_DETAIL] = "The brand has recalled this item. Do not use it.",
            [S_CLAIMED] = "Already claimed",
            [S_CLAIMED_DETAIL] = "Someone claimed ownership of this item on %s. If you just "
                                 "bought it new, ask the seller.",
            [S_UNKNOWN] = "Not registered",
            [S_UNKNOWN_DETAIL] = "Warning: no brand registered this code. The product is "
                                 "likely not genuine.",
            [S_BRAND] = "Brand",
            [S_PRODUCT] = "Product",
            [S_GTIN] = "GTIN",
            [S_SERIAL] = "Serial",
            [S_LOT] = "Lot",
            [S_TIMELINE] = "History",
            [S_NO_EVENTS] = "No supply-chain events recorded yet.",
            [S_REGISTERED] = "Registered by the brand",
            [S_LOOKUPS] = "This code has been looked up %s times",
            [S_LOOKUPS_FIRST] = " since %s",
            [S_CHECK] = "Check it yourself",
            [S_CHECK_INTRO] = "This proof links the record to a block signed by the network's "
                              "validators. Your browser can recompute its hashes; the "
                              "signatures are checked offline with: hallmark verify "
                              "bundle.json --genesis genesis.json",
            [S_CHECK_BUTTON] = "Recompute the hashes",
            [S_CHECK_OFFLINE] = "Proof bundle (JSON)",
            [S_CLAIM] = "Claim ownership",
            [S_CLAIM_INTRO] = "Bought this item? Scratch the label to reveal its hidden code "
                              "and claim it. Each item can be claimed once.",
            [S_CLAIM_LABEL] = "Hidden code",
            [S_CLAIM_BUTTON] = "Claim this item",
            [S_CLAIM_SENT] = "Claim submitted. It takes effect when the next block is "
                             "committed, in a few seconds.",
            [S_CLAIM_REFUSED] = "The claim was refused: %s",
            [S_BACK] = "Back to the product",
            [S_PHOTO] = "Product photo",
            [S_LANG_OTHER] = "中文",
            [S_BAD_CODE] = "Not a valid product code",
            [S_BAD_CODE_DETAIL] = "Warning: this link is not a valid GS1 product code (%s). "
                                  "A genuine label never carries one: the product is likely "
                                  "not genuine.",
        },
    [ND_LANG_ZH] =
        {
            [S_TITLE] = "商品验证",
            [S_GENUINE] = "正品",
            [S_GENUINE_DETAIL] = "该商品已由品牌方登记，尚未被认领或召回。",
            [S_RECALLED] = "已召回",
            [S_RECALLED_DETAIL] = "品牌方已召回该商品，请勿使用。",
            [S_CLAIMED] = "已被认领",
            [S_CLAIMED_DETAIL] = "该商品已于 %s 被认领。如果您刚购买的是新品，请联系卖家。",
            [S_UNKNOWN] = "未登记",
            [S_UNKNOWN_DETAIL] = "警告：没有品牌登记过此码，该商品很可能不是正品。",
            [S_BRAND] = "品牌",
            [S_PRODUCT] = "商品",
            [S_GTIN] = "GTIN",
            [S_SERIAL] = "序列号",
            [S_LOT] = "批号",
            [S_TIMELINE] = "流转记录",
            [S_NO_EVENTS] = "尚无供应链记录。",
            [S_REGISTERED] = "品牌方登记",
            [S_LOOKUPS] = "此码已被查询 %s 次",
            [S_LOOKUPS_FIRST] = "，首次查询于 %s",
            [S_CHECK] = "自行验证",
            [S_CHECK_INTRO] = "此证明将记录与网络验证节点签名的区块关联。浏览器可重新计算其哈希；"
                              "签名可离线验证：hallmark verify bundle.json --genesis "
                              "genesis.json",
            [S_CHECK_BUTTON] = "重新计算哈希",
            [S_CHECK_OFFLINE] = "证明包（JSON）",
            [S_CLAIM] = "认领所有权",
            [S_CLAIM_INTRO] = "已购买此商品？刮开标签获取隐藏码即可认领。每件商品只能认领一次。",
            [S_CLAIM_LABEL] = "隐藏码",
            [S_CLAIM_BUTTON] = "认领此商品",
            [S_CLAIM_SENT] = "认领已提交，将在下一个区块提交后生效（几秒钟）。",
            [S_CLAIM_REFUSED] = "认领被拒绝：%s",
            [S_BACK] = "返回商品页",
            [S_PHOTO] = "商品图片",
            [S_LANG_OTHER] = "English",
            [S_BAD_CODE] = "无效的商品码",
            [S_BAD_CODE_DETAIL] =
                "警告：此链接不是有效的 GS1 商品码（%s）。正品标签不会出现这种情况，"
                "该商品很可能不是正品。",
        },
};

static const char *W(nd_lang lang, string_id id) {
    return words[lang][id];
}

static const struct {
    const char *step;
    const char *en;
    const char *zh;
} step_words[] = {
    {"commissioning", "Made", "已生产"},
    {"packing", "Packed", "已包装"},
    {"shipping", "Shipped", "已发货"},
    {"departing", "Shipped", "已发货"},
    {"receiving", "Received", "已收货"},
    {"arriving", "Received", "已收货"},
    {"accepting", "Received", "已收货"},
    {"storing", "Stored", "已入库"},
    {"retail_selling", "Sold", "已售出"},
    {"selling", "Sold", "已售出"},
    {"returning", "Returned", "已退货"},
    {"unpacking", "Unpacked", "已拆包"},
    {"inspecting", "Inspected", "已检验"},
    {"loading", "Loaded", "已装车"},
    {"decommissioning", "Taken out of use", "已停用"},
    {"destroying", "Destroyed", "已销毁"},
};

const char *nd_page_step_label(const char *biz_step, nd_lang lang) {
    /* "https://ref.gs1.org/cbv/BizStep-shipping", "urn:epcglobal:cbv:bizstep:
     * shipping" or plain "shipping": compare the last word. */
    const char *word = biz_step;
    const char *dash = strrchr(biz_step, '-');
    const char *colon = strrchr(biz_step, ':');
    const char *slash = strrchr(biz_step, '/');
    if (dash != NULL && strstr(biz_step, "BizStep-") != NULL) {
        word = dash + 1;
    } else if (colon != NULL && (slash == NULL || colon > slash)) {
        word = colon + 1;
    } else if (slash != NULL) {
        word = slash + 1;
    }
    for (size_t i = 0; i < sizeof step_words / sizeof step_words[0]; i++) {
        if (strcmp(word, step_words[i].step) == 0) {
            return lang == ND_LANG_ZH ? step_words[i].zh : step_words[i].en;
        }
    }
    return NULL;
}

/* Appends n bytes of text at out[*used], as many as fit before the NUL
 * that always ends out (cap > 0): snprintf's truncation, without parsing a
 * format on every lookup. */
static void put_text(char *out, size_t cap, size_t *used, const char *text, size_t n) {
    size_t room = cap - 1 - *used;
    if (n > room) {
        n = room;
    }
    memcpy(out + *used, text, n);
    *used += n;
    out[*used] = '\0';
}

/* Copies template into out with its one "%s" replaced by value (the
 * templates are ours, but a format string that is not a literal is not
 * handed to printf). */
static void subst(char *out, size_t cap, const char *template, const char *value) {
    size_t used = 0;
    out[0] = '\0';
    const char *mark = strstr(template, "%s");
    if (mark == NULL) {
        put_text(out, cap, &used, template, strlen(template));
        return;
    }
    put_text(out, cap, &used, template, (size_t)(mark - template));
    put_text(out, cap, &used, value, strlen(value));
    put_text(out, cap, &used, mark + 2, strlen(mark + 2));
}

/* Seconds before 10000-01-01 00:00 UTC: below it the date is computed
 * here, at and above it gmtime_r is asked (a year of five or more digits). */
#define CIVIL_SECONDS_MAX 253402300800ull

/* The UTC calendar date and time of t seconds after the epoch (t below
 * CIVIL_SECONDS_MAX), as gmtime_r gives it, without gmtime_r: glibc's
 * takes the time zone lock and converts through the zone's rules on every
 * call, which cost more than the rest of the counter paragraph. Proleptic
 * Gregorian, days counted from 0000-03-01 so that a leap day ends its year
 * (H. Hinnant's civil_from_days). */
static void civil_utc(uint64_t t, int *year, int *mon, int *mday, int *hour, int *min) {
    assert(t < CIVIL_SECONDS_MAX);
    uint64_t days = t / 86400, secs = t % 86400;
    uint64_t z = days + 719468;                                           /* from 0000-03-01 */
    uint64_t era = z / 146097;                                            /* 400-year cycles */
    uint64_t doe = z - era * 146097;                                      /* [0, 146096] */
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    uint64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    uint64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(yoe + era * 400 + (m <= 2 ? 1 : 0));
    *mon = (int)m;
    *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    *hour = (int)(secs / 3600);
    *min = (int)(secs % 3600 / 60);
}

/* "2026-11-28 10:15 UTC", as strftime("%Y-%m-%d %H:%M UTC") writes it,
 * written by hand: the counter paragraph carries one on every lookup. */
static void format_time(uint64_t ms, char *out, size_t cap) {
    uint64_t secs = ms / 1000;
    time_t t = (time_t)secs;
    struct tm tm;
    char text[64];
    size_t n = 0;
    int year = 0, mon = 0, mday = 0, hour = 0, min = 0;
    bool known = true;
    if (secs < CIVIL_SECONDS_MAX) {
        civil_utc(secs, &year, &mon, &mday, &hour, &min);
    } else if (gmtime_r(&t, &tm) != NULL) {
        assert(tm.tm_year >= 70); /* t >= 0 */
        year = tm.tm_year + 1900;
        mon = tm.tm_mon + 1;
        mday = tm.tm_mday;
        hour = tm.tm_hour;
        min = tm.tm_min;
    } else {
        known = false;
    }
    if (!known) {
        text[n++] = '?';
    } else {
        n = hm_u64_decimal((uint64_t)year, text);
        const int fields[4] = {mon, mday, hour, min};
        const char seps[4] = {'-', '-', ' ', ':'};
        for (int i = 0; i < 4; i++) {
            text[n++] = seps[i];
            text[n++] = (char)('0' + fields[i] / 10);
            text[n++] = (char)('0' + fields[i] % 10);
        }
        memcpy(text + n, " UTC", 4);
        n += 4;
    }
    size_t used = 0;
    out[0] = '\0';
    put_text(out, cap, &used, text, n);
}

/* ------------------------------------------------------------------ HTML */

static const char page_css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"PingFang SC\","
    "\"Noto Sans CJK SC\",sans-serif;color:#1a1a1a;background:#f6f6f4}"
    "main{max-width:36rem;margin:0 auto;padding:1rem}"
    "header.top{display:flex;justify-content:space-between;align-items:center}"
    "h1{font-size:1.25rem;margin:.5rem 0}"
    "h2{font-size:1.1rem;margin:1.5rem 0 .5rem}"
    ".status{border-radius:.75rem;padding:1rem;margin:1rem 0;border:2px solid}"
    ".status p{margin:.25rem 0 0}"
    ".status strong{font-size:1.6rem;display:block}"
    ".genuine{background:#e7f5ec;border-color:#0b6b32;color:#0b4d25}"
    ".recalled,.unknown{background:#fdecea;border-color:#a4161a;color:#7a0e12}"
    ".claimed{background:#fff3dc;border-color:#8a5300;color:#5c3700}"
    ".card{background:#fff;border-radius:.75rem;padding:1rem;margin:1rem 0;"
    "box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    ".product{display:flex;gap:1rem;align-items:center}"
    ".product img,.product svg{width:5rem;height:5rem;border-radius:.5rem;flex:none}"
    "dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem;margin:0}"
    "dt{color:#555}dd{margin:0;word-break:break-all}"
    "ol.timeline{list-style:none;padding:0;margin:0}"
    "ol.timeline li{border-left:3px solid #0b6b32;padding:0 0 .75rem .75rem;margin-left:.25rem}"
    "ol.timeline time,ol.timeline span{display:block;color:#555;font-size:.9rem}"
    "label{display:block;font-weight:600;margin-bottom:.25rem}"
    "input{width:100%;font-size:1.1rem;padding:.6rem;border:2px solid #555;border-radius:.5rem}"
    "button{margin-top:.75rem;font-size:1.05rem;padding:.7rem 1rem;border:0;border-radius:.5rem;"
    "background:#0b4d8c;color:#fff;width:100%}"
    "button:focus,input:focus,a:focus{outline:3px solid #f0b400;outline-offset:2px}"
    "a{color:#0b4d8c}"
    "pre{white-space:pre-wrap;word-break:break-all;font-size:.75rem;max-height:20rem;"
    "overflow:auto;background:#f0f0f0;padding:.5rem}"
    "#steps li.ok{color:#0b4d25}#steps li.bad{color:#7a0e12;font-weight:600}"
    ".muted{color:#555;font-size:.9rem}";

/* The "check it yourself" script: recomputes every hash of the bundle with
 * WebCrypto (SHA-256) and lists each step. BIP340 signatures are not in
 * WebCrypto; the page says to check them offline. */
static const char page_js[] =
    "(function(){"
    "var btn=document.getElementById('check');if(!btn)return;"
    "var out=document.getElementById('steps');"
    "function hx(s){var a=new Uint8Array(s.length/2);for(var i=0;i<a.length;i++)"
    "a[i]=parseInt(s.substr(2*i,2),16);return a}"
    "function th(b){return Array.from(b).map(function(x){return(x<16?'0':'')+x.toString(16)})"
    ".join('')}"
    "function cat(){var n=0,i;for(i=0;i<arguments.length;i++)n+=arguments[i].length;"
    "var r=new Uint8Array(n),o=0;for(i=0;i<arguments.length;i++){r.set(arguments[i],o);"
    "o+=arguments[i].length}return r}"
    "function sha(b){return crypto.subtle.digest('SHA-256',b).then(function(d){"
    "return new Uint8Array(d)})}"
    "function leaf(b){return sha(cat(new Uint8Array([0]),b))}"
    "function node(l,r){return sha(cat(new Uint8Array([1]),l,r))}"
    "function vi(n){var a=[];do{var b=n%128;n=Math.floor(n/128);a.push(n>0?b|128:b)}"
    "while(n>0);return new Uint8Array(a)}"
    "function u64(n){var a=new Uint8Array(8);for(var i=7;i>=0;i--){a[i]=n%256;"
    "n=Math.floor(n/256)}return a}"
    "function tagged(t,b){var tb=new TextEncoder().encode(t);return sha(tb).then("
    "function(h){return sha(cat(h,h,b))})}"
    "function rd(b){var p=0;return{u8:function(){return b[p++]},vi:function(){var r=0,m=1,c;"
    "do{c=b[p++];r+=(c&127)*m;m*=128}while(c&128);return r},raw:function(n){var r=b.slice(p,"
    "p+n);p+=n;return r}}}"
    "function head(h){var r=rd(h);r.u8();var type=r.vi();r.raw(32);r.vi();var bl=r.vi();"
    "r.raw(bl);var has=r.u8();var o={type:type,has:has};if(has){o.root=r.raw(32);"
    "o.count=r.vi()}return o}"
    "function incl(l,idx,size,path,root){if(idx>=size)return Promise.resolve(false);"
    "var fn=idx,sn=size-1,i=0,r=l;function step(){if(i==path.length)return Promise.resolve("
    "sn==0&&th(r)==th(root));if(sn==0)return Promise.resolve(false);var p=hx(path[i++]),q;"
    "if(fn%2==1||fn==sn){q=node(p,r);if(fn%2==0){while(fn%2==0&&fn!=0){fn=Math.floor(fn/2);"
    "sn=Math.floor(sn/2)}}}else q=node(r,p);fn=Math.floor(fn/2);sn=Math.floor(sn/2);"
    "return q.then(function(x){r=x;return step()})}return step()}"
    "function hdr(h){var c=new TextEncoder().encode(h.chain_id);return cat(new Uint8Array([1]),"
    "vi(c.length),c,vi(h.height),u64(h.time_ms),hx(h.prev_block_hash),hx(h.tx_root),"
    "hx(h.state_root),hx(h.validator_set_hash),hx(h.proposer))}"
    "function say(ok,t){var li=document.createElement('li');li.className=ok?'ok':'bad';"
    "li.textContent=(ok?'\\u2713 ':'\\u2717 ')+t;out.appendChild(li);return ok}"
    "btn.addEventListener('click',function(){out.textContent='';"
    "if(!window.crypto||!crypto.subtle){say(false,'this page needs https for WebCrypto; "
    "use hallmark verify');return}var b;try{b=JSON.parse("
    "document.getElementById('proof').textContent)}catch(e){say(false,'bundle: '+e);return}"
    "var ks=b.validators.map(hx);"
    "tagged('hallmark/validators',cat.apply(null,[vi(ks.length)].concat(ks))).then("
    "function(vh){var p=Promise.resolve(true);"
    "b.blocks.forEach(function(k){p=p.then(function(ok){if(!ok)return false;"
    "if(!say(th(vh)==k.header.validator_set_hash,'block '+k.header.height+"
    "': validator set '+th(vh).slice(0,16)+'\\u2026'))return false;"
    "return tagged('hallmark/block',hdr(k.header)).then(function(id){"
    "return say(th(id)==k.certificate.block_id,'block '+k.header.height+': header hash '+"
    "th(id).slice(0,16)+'\\u2026 = certificate ('+k.certificate.signatures.length+' of '+"
    "ks.length+' validators)')})})});"
    "b.entries.forEach(function(e,i){p=p.then(function(ok){if(!ok)return false;"
    "var h=hx(e.tx_head),s=hx(e.tx_sig),q=Promise.resolve(true);"
    "if(e.kind=='record'){var hd=head(h);q=leaf(hx(e.record)).then(function(l){"
    "return incl(l,e.record_index,hd.count,e.record_path,hd.root)}).then(function(ok2){"
    "return say(ok2,'entry '+i+': record '+e.record_index+' of '+hd.count+"
    "' is under the batch root')})}"
    "return q.then(function(ok3){if(!ok3)return false;return leaf(cat(h,s)).then(function(l){"
    "var r=l,j=0;function up(){if(j==e.tx_path.length)return Promise.resolve(r);"
    "var sib=hx(e.tx_path[j]),left=Math.floor(e.tx_path_left/Math.pow(2,j))%2==1;j++;"
    "return(left?node(sib,r):node(r,sib)).then(function(x){r=x;return up()})}"
    "return up()}).then(function(root){return say(th(root)==b.blocks[e.block].header.tx_root,"
    "'entry '+i+': transaction is in block '+b.blocks[e.block].header.height)})})})});"
    "return p}).then(function(ok){say(ok,ok?'all hashes match':'a hash does not match')})"
    ".catch(function(e){say(false,String(e))})})})();";

static const char *state_class(nd_item_state s) {
    switch (s) {
    case ND_ITEM_GENUINE:
        return "genuine";
    case ND_ITEM_RECALLED:
        return "recalled";
    case ND_ITEM_CLAIMED:
        return "claimed";
    default:
        return "unknown";
    }
}

/* inline_css false: the style sheet is left out, where the caller sends
 * page_css from its static memory (nd_page_parts). Returns where it goes. */
static size_t page_head_css(sbuf *b, nd_lang lang, const char *title, bool inline_css) {
    /* fixed text around the one variable part, without printf: every
     * consumer page starts here */
    sb_str(b, "<!DOCTYPE html>\n<html lang=\"");
    sb_str(b, lang == ND_LANG_ZH ? "zh-CN" : "en");
    sb_str(b, "\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
              "<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
    sb_esc(b, title);
    sb_str(b, "</title>\n<style>");
    size_t css_at = b->len;
    if (inline_css) {
        sb_add(b, page_css, sizeof page_css - 1);
    }
    sb_str(b, "</style>\n</head>\n<body>\n<main>\n");
    return css_at;
}

static void page_head(sbuf *b, nd_lang lang, const char *title) {
    (void)page_head_css(b, lang, title, true);
}

/* A monogram instead of a remote image: the page loads nothing from
 * elsewhere. A data: URI image is shown as it is. */
static void product_picture(sbuf *b, const nd_page_item *it, nd_lang lang) {
    if (strncmp(it->image_url, "data:image/", 11) == 0) {
        sb_str(b, "<img src=\"");
        sb_esc(b, it->image_url);
        sb_str(b, "\" alt=\"");
        sb_esc(b, W(lang, S_PHOTO));
        sb_str(b, "\">");
        return;
    }
    char initial[5] = "?";
    const unsigned char *p = (const unsigned char *)(it->product[0] ? it->product : it->brand);
    if (*p != '\0') {
        /* One UTF-8 character. */
        size_t n = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
        size_t len = strnlen((const char *)p, n);
        memcpy(initial, p, len);
        initial[len] = '\0';
    }
    sb_str(b, "<svg viewBox=\"0 0 80 80\" role=\"img\" aria-label=\"");
    sb_esc(b, W(lang, S_PHOTO));
    sb_str(b, "\"><rect width=\"80\" height=\"80\" rx=\"10\" fill=\"#0b4d8c\"/>"
              "<text x=\"40\" y=\"52\" font-size=\"36\" text-anchor=\"middle\" fill=\"#fff\">");
    sb_esc(b, initial);
    sb_str(b, "</text></svg>");
}

size_t nd_page_render_lookups(uint64_t count, uint64_t first_ms, nd_lang lang, char *out,
                              size_t out_cap) {
    /* Many lookups of one serial are a sign of a copied code. */
    char text[256];
    char number[24];
    char when[64];
    number[hm_u64_decimal(count, number)] = '\0';
    subst(text, sizeof text, W(lang, S_LOOKUPS), number);
    if (first_ms != 0) {
        format_time(first_ms, when, sizeof when);
        size_t used = strlen(text);
        subst(text + used, sizeof text - used, W(lang, S_LOOKUPS_FIRST), when);
    }
    /* The text is ours and has nothing to escape. */
    static const char open[] = "<p class=\"muted\" id=\"lookups\">";
    static const char close[] = "</p>\n";
    size_t text_len = strlen(text);
    size_t n = sizeof open - 1 + text_len + sizeof close - 1;
    if (n >= out_cap) {
        return 0;
    }
    memcpy(out, open, sizeof open - 1);
    memcpy(out + sizeof open - 1, text, text_len);
    memcpy(out + sizeof open - 1 + text_len, close, sizeof close);
    return n;
}

size_t nd_page_json_lookups(uint64_t count, uint64_t first_ms, char *out, size_t out_cap) {
    static const char open[] = "\"lookups\":{\"count\":";
    static const char mid[] = ",\"since_ms\":";
    static const char close[] = "},";
    char a[24], b[24];
    size_t a_len = hm_u64_decimal(count, a);
    size_t b_len = hm_u64_decimal(first_ms, b);
    size_t n = sizeof open - 1 + a_len + sizeof mid - 1 + b_len + sizeof close - 1;
    if (n >= out_cap) {
        return 0;
    }
    char *w = out;
    memcpy(w, open, sizeof open - 1);
    w += sizeof open - 1;
    memcpy(w, a, a_len);
    w += a_len;
    memcpy(w, mid, sizeof mid - 1);
    w += sizeof mid - 1;
    memcpy(w, b, b_len);
    w += b_len;
    memcpy(w, close, sizeof close); /* with its NUL */
    return n;
}

static hm_err render_page(const nd_page_item *it, nd_lang lang, bool whole, char **out,
                          size_t *out_len, nd_page_layout *layout);

hm_err nd_page_render_html(const nd_page_item *it, nd_lang lang, char **out, size_t *out_len) {
    /* Style sheet, counter and script written in place: the whole page in
     * one buffer, a rendering independent of nd_page_parts' assembly. */
    nd_page_layout layout;
    return render_page(it, lang, true, out, out_len, &layout);
}

hm_err nd_page_render_html_split(const nd_page_item *it, nd_lang lang, char **out, size_t *out_len,
                                 nd_page_layout *layout) {
    return render_page(it, lang, false, out, out_len, layout);
}

size_t nd_page_parts(const char *kept, size_t kept_len, const nd_page_layout *layout,
                     const char *counter, size_t counter_len, nd_page_part parts[ND_PAGE_PARTS]) {
    assert(layout->css_at <= layout->lookups_at && layout->lookups_at <= layout->js_at &&
           layout->js_at <= kept_len);
    size_t js_len = layout->has_script ? sizeof page_js - 1 : 0;
    parts[0] = (nd_page_part){kept, layout->css_at};
    parts[1] = (nd_page_part){page_css, sizeof page_css - 1};
    parts[2] = (nd_page_part){kept + layout->css_at, layout->lookups_at - layout->css_at};
    parts[3] = (nd_page_part){counter, counter_len};
    parts[4] = (nd_page_part){kept + layout->lookups_at, layout->js_at - layout->lookups_at};
    parts[5] = (nd_page_part){page_js, js_len};
    parts[6] = (nd_page_part){kept + layout->js_at, kept_len - layout->js_at};
    return kept_len + (sizeof page_css - 1) + counter_len + js_len;
}

/* whole: the page with its style sheet, counter paragraph and script
 * written in place. Else the page without them, and layout says where they
 * go. */
static hm_err render_page(const nd_page_item *it, nd_lang lang, bool whole, char **out,
                          size_t *out_len, nd_page_layout *layout) {
    sbuf b = {0};
    char when[64];
    *layout = (nd_page_layout){0};
    size_t css_at = page_head_css(&b, lang, W(lang, S_TITLE), whole);
    layout->css_at = whole ? 0 : css_at;
    sb_str(&b, "<header class=\"top\"><h1>");
    sb_esc(&b, W(lang, S_TITLE));
    sb_str(&b, "</h1><a href=\"?lang=");
    sb_str(&b, lang == ND_LANG_ZH ? "en" : "zh");
    sb_str(&b, lang == ND_LANG_ZH ? "\" lang=\"en\">" : "\" lang=\"zh-CN\">");
    sb_esc(&b, W(lang, S_LANG_OTHER));
    sb_str(&b, "</a></header>\n");

    /* Status first: it is what the shopper came for. role=status so that a
     * screen reader announces it. */
    sb_str(&b, "<section class=\"status ");
    sb_str(&b, state_class(it->state));
    sb_str(&b, "\" role=\"status\" aria-live=\"polite\"><strong>");
    switch (it->state) {
    case ND_ITEM_GENUINE:
        sb_esc(&b, W(lang, S_GENUINE));
        sb_str(&b, "</strong><p>");
        sb_esc(&b, W(lang, S_GENUINE_DETAIL));
        break;
    case ND_ITEM_RECALLED:
        sb_esc(&b, W(lang, S_RECALLED));
        sb_str(&b, "</strong><p>");
        sb_esc(&b, W(lang, S_RECALLED_DETAIL));
        if (it->recall_reason[0] != '\0') {
            sb_str(&b, " ");
            sb_esc(&b, it->recall_reason);
        }
        break;
    case ND_ITEM_CLAIMED: {
        format_time(it->claimed_ms, when, sizeof when);
        char detail[512];
        subst(detail, sizeof detail, W(lang, S_CLAIMED_DETAIL), when);
        sb_esc(&b, W(lang, S_CLAIMED));
        sb_str(&b, " ");
        sb_esc(&b, when);
        sb_str(&b, "</strong><p>");
        sb_esc(&b, detail);
        break;
    }
    default:
        sb_esc(&b, W(lang, S_UNKNOWN));
        sb_str(&b, "</strong><p>");
        sb_esc(&b, W(lang, S_UNKNOWN_DETAIL));
        break;
    }
    sb_str(&b, "</p></section>\n");

    if (it->state != ND_ITEM_UNKNOWN) {
        sb_str(&b, "<section class=\"card\" aria-labelledby=\"product-h\"><div class=\"product\">");
        product_picture(&b, it, lang);
        sb_str(&b, "<div><h2 id=\"product-h\">");
        sb_esc(&b, it->product[0] ? it->product : it->gtin);
        sb_str(&b, "</h2><p class=\"muted\">");
        sb_esc(&b, it->brand);
        sb_str(&b, "</p></div></div>");
        if (it->description[0] != '\0') {
            sb_str(&b, "<p>");
            sb_esc(&b, it->description);
            sb_str(&b, "</p>");
        }
        if (it->image_url[0] != '\0' && strncmp(it->image_url, "data:", 5) != 0 &&
            (strncmp(it->image_url, "https://", 8) == 0 ||
             strncmp(it->image_url, "http://", 7) == 0)) {
            sb_str(&b, "<p><a rel=\"noopener noreferrer\" href=\"");
            sb_esc(&b, it->image_url);
            sb_str(&b, "\">");
            sb_esc(&b, W(lang, S_PHOTO));
            sb_str(&b, "</a></p>");
        }
    } else {
        sb_str(&b, "<section class=\"card\">");
    }
    sb_str(&b, "<dl><dt>");
    sb_esc(&b, W(lang, S_GTIN));
    sb_str(&b, "</dt><dd>");
    sb_esc(&b, it->gtin);
    sb_str(&b, "</dd><dt>");
    sb_esc(&b, W(lang, S_SERIAL));
    sb_str(&b, "</dt><dd>");
    sb_esc(&b, it->serial);
    sb_str(&b, "</dd>");
    if (it->lot[0] != '\0') {
        sb_str(&b, "<dt>");
        sb_esc(&b, W(lang, S_LOT));
        sb_str(&b, "</dt><dd>");
        sb_esc(&b, it->lot);
        sb_str(&b, "</dd>");
    }
    sb_str(&b, "</dl></section>\n");

    if (it->state != ND_ITEM_UNKNOWN) {
        sb_str(&b, "<section class=\"card\" aria-labelledby=\"timeline-h\"><h2 id=\"timeline-h\">");
        sb_esc(&b, W(lang, S_TIMELINE));
        sb_str(&b, "</h2><ol class=\"timeline\">");
        if (it->registered_ms != 0) {
            format_time(it->registered_ms, when, sizeof when);
            sb_str(&b, "<li><strong>");
            sb_esc(&b, W(lang, S_REGISTERED));
            sb_str(&b, "</strong><time>");
            sb_esc(&b, when);
            sb_str(&b, "</time></li>");
        }
        for (uint32_t i = 0; i < it->event_count && i < ND_PAGE_EVENTS_MAX; i++) {
            const nd_page_event *ev = &it->events[i];
            const char *label = nd_page_step_label(ev->biz_step, lang);
            format_time(ev->time_ms, when, sizeof when);
            sb_str(&b, "<li><strong>");
            sb_esc(&b, label != NULL ? label : ev->biz_step);
            sb_str(&b, "</strong>");
            if (ev->location[0] != '\0') {
                /* A GLN as a Digital Link (…/414/{gln}) reads as "GLN n". */
                const char *gln = strstr(ev->location, "/414/");
                sb_str(&b, "<span class=\"muted\">");
                if (gln != NULL) {
                    sb_str(&b, "GLN ");
                    sb_esc(&b, gln + 5);
                } else {
                    sb_esc(&b, ev->location);
                }
                sb_str(&b, "</span>");
            }
            sb_str(&b, "<time>");
            sb_esc(&b, when);
            sb_str(&b, "</time></li>");
        }
        sb_str(&b, "</ol>");
        if (it->event_count == 0) {
            sb_str(&b, "<p class=\"muted\">");
            sb_esc(&b, W(lang, S_NO_EVENTS));
            sb_str(&b, "</p>");
        }
        sb_str(&b, "</section>\n");
    }

    /* The lookup counter goes here; unless whole, the caller inserts it
     * (it is the one part that changes with every lookup). */
    layout->lookups_at = b.len;
    if (whole) {
        char lookups[ND_PAGE_LOOKUPS_MAX];
        sb_add(&b, lookups,
               nd_page_render_lookups(it->lookups, it->first_lookup_ms, lang, lookups,
                                      sizeof lookups));
    }
    layout->js_at = b.len;

    if (it->claimable && it->self_path != NULL) {
        sb_str(&b, "<section class=\"card\" aria-labelledby=\"claim-h\"><h2 id=\"claim-h\">");
        sb_esc(&b, W(lang, S_CLAIM));
        sb_str(&b, "</h2><p>");
        sb_esc(&b, W(lang, S_CLAIM_INTRO));
        sb_str(&b, "</p><form method=\"post\" action=\"");
        sb_esc(&b, it->self_path);
        sb_str(&b, "\"><label for=\"code\">");
        sb_esc(&b, W(lang, S_CLAIM_LABEL));
        sb_str(&b, "</label><input id=\"code\" name=\"code\" required maxlength=\"64\" "
                   "autocomplete=\"off\" autocapitalize=\"off\" spellcheck=\"false\">"
                   "<button type=\"submit\">");
        sb_esc(&b, W(lang, S_CLAIM_BUTTON));
        sb_str(&b, "</button></form></section>\n");
    }

    if (it->bundle_json != NULL) {
        sb_str(&b, "<section class=\"card\" aria-labelledby=\"check-h\"><h2 id=\"check-h\">");
        sb_esc(&b, W(lang, S_CHECK));
        sb_str(&b, "</h2><p>");
        sb_esc(&b, W(lang, S_CHECK_INTRO));
        if (it->chain_id != NULL) {
            sb_str(&b, " (chain ");
            sb_esc(&b, it->chain_id);
            sb_str(&b, ")");
        }
        sb_str(&b, "</p><button type=\"button\" id=\"check\">");
        sb_esc(&b, W(lang, S_CHECK_BUTTON));
        sb_str(&b, "</button><ol id=\"steps\" aria-live=\"polite\"></ol><details><summary>");
        sb_esc(&b, W(lang, S_CHECK_OFFLINE));
        /* Shown as text (escaped), so it is readable without JavaScript;
         * the script reads it back with textContent. */
        sb_str(&b, "</summary><pre id=\"proof\">");
        sb_esc_text(&b, it->bundle_json);
        sb_str(&b, "</pre></details></section>\n<script>");
        if (whole) {
            sb_add(&b, page_js, sizeof page_js - 1);
        } else {
            layout->js_at = b.len;
            layout->has_script = true;
        }
        sb_str(&b, "</script>\n");
    }
    sb_str(&b, "</main>\n</body>\n</html>\n");
    return sb_finish(&b, out, out_len);
}

hm_err nd_page_render_claim(const char *self_path, bool accepted, const char *reason, nd_lang lang,
                            char **out, size_t *out_len) {
    sbuf b = {0};
    page_head(&b, lang, W(lang, S_CLAIM));
    sb_fmt(&b, "<h1>");
    sb_esc(&b, W(lang, S_CLAIM));
    sb_fmt(&b, "</h1><section class=\"status %s\" role=\"status\"><p>",
           accepted ? "genuine" : "recalled");
    if (accepted) {
        sb_esc(&b, W(lang, S_CLAIM_SENT));
    } else {
        char text[512];
        subst(text, sizeof text, W(lang, S_CLAIM_REFUSED), reason != NULL ? reason : "");
        sb_esc(&b, text);
    }
    sb_str(&b, "</p></section><p><a href=\"");
    sb_esc(&b, self_path);
    sb_str(&b, "\">");
    sb_esc(&b, W(lang, S_BACK));
    sb_str(&b, "</a></p></main>\n</body>\n</html>\n");
    return sb_finish(&b, out, out_len);
}

hm_err nd_page_render_bad_code(const char *reason, nd_lang lang, char **out, size_t *out_len) {
    sbuf b = {0};
    page_head(&b, lang, W(lang, S_TITLE));
    sb_str(&b, "<h1>");
    sb_esc(&b, W(lang, S_TITLE));
    sb_str(&b, "</h1><section class=\"status unknown\" role=\"status\"><strong>");
    sb_esc(&b, W(lang, S_BAD_CODE));
    sb_str(&b, "</strong><p>");
    char text[640];
    subst(text, sizeof text, W(lang, S_BAD_CODE_DETAIL), reason != NULL ? reason : "");
    sb_esc(&b, text);
    sb_str(&b, "</p></section></main>\n</body>\n</html>\n");
    return sb_finish(&b, out, out_len);
}

/* ------------------------------------------------------------------ JSON */

json_t *nd_page_item_json(const nd_page_item *it) {
    static const char *const names[] = {"", "genuine", "recalled", "claimed", "not_registered"};
    json_t *timeline = json_array();
    for (uint32_t i = 0; timeline != NULL && i < it->event_count && i < ND_PAGE_EVENTS_MAX; i++) {
        const nd_page_event *ev = &it->events[i];
        const char *label = nd_page_step_label(ev->biz_step, ND_LANG_EN);
        json_array_append_new(timeline, json_pack("{s:I, s:s, s:s, s:s}", "time_ms",
                                                  (json_int_t)ev->time_ms, "biz_step", ev->biz_step,
                                                  "label", label != NULL ? label : ev->biz_step,
                                                  "location", ev->location));
    }
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I}}", "status",
        names[it->state >= ND_ITEM_GENUINE && it->state <= ND_ITEM_UNKNOWN ? it->state
                                                                           : ND_ITEM_UNKNOWN],
        "gtin", it->gtin, "serial", it->serial, "lot", it->lot, "brand", it->brand, "product",
        it->product, "description", it->description, "timeline", timeline, "lookups", "count",
        (json_int_t)it->lookups, "since_ms", (json_int_t)it->first_lookup_ms);
    if (j == NULL) {
        return NULL;
    }
    json_object_set_new(j, "image_url", json_string(it->image_url));
    if (it->registered_ms != 0) {
        json_object_set_new(j, "registered_ms", json_integer((json_int_t)it->registered_ms));
    }
    if (it->state == ND_ITEM_CLAIMED) {
        json_object_set_new(j, "claimed_ms", json_integer((json_int_t)it->claimed_ms));
    }
    if (it->state == ND_ITEM_RECALLED) {
        json_object_set_new(j, "recall_reason", json_string(it->recall_reason));
    }
    json_object_set_new(j, "claimable", json_boolean(it->claimable));
    return j;
}

/* The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF, the rule jansson applies to
 * every string) that starts with the byte at p (>= 0x80) of a NUL-terminated
 * text; 0 if there is none. */
static size_t utf8_seq(const unsigned char *p) {
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    /* The NUL that ends the text is below every range: a sequence cut short
     * fails here, and no byte past the NUL is read. */
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t k = 2; k <= n; k++) {
        if (p[k] < 0x80 || p[k] > 0xbf) {
            return 0;
        }
    }
    return n + 1;
}

/* A JSON string as jansson's compact dump writes it: '"', '\\' and control
 * characters escaped, everything else (UTF-8 included) as it is. false for
 * text that is not valid UTF-8 (jansson refuses it too); what was written
 * before is then to be dropped (the caller drops the whole text). One pass:
 * the item's JSON has a dozen short fields, and measuring, checking and
 * escaping each in three passes cost more than the rest of the text. */
static bool sb_json_str(sbuf *b, const char *text) {
    const unsigned char *p = (const unsigned char *)text;
    sb_add(b, "\"", 1);
    for (;;) {
        const unsigned char *run = p;
        for (;;) {
            unsigned char c = *p;
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                p++;
            } else if (c >= 0x80) {
                size_t n = utf8_seq(p);
                if (n == 0) {
                    return false;
                }
                p += n;
            } else {
                break; /* the NUL, a control character, '"' or '\\' */
            }
        }
        sb_add(b, (const char *)run, (size_t)(p - run));
        unsigned char c = *p;
        if (c == '\0') {
            break;
        }
        switch (c) {
        case '"':
            sb_add(b, "\\\"", 2);
            break;
        case '\\':
            sb_add(b, "\\\\", 2);
            break;
        case '\b':
            sb_add(b, "\\b", 2);
            break;
        case '\f':
            sb_add(b, "\\f", 2);
            break;
        case '\n':
            sb_add(b, "\\n", 2);
            break;
        case '\r':
            sb_add(b, "\\r", 2);
            break;
        case '\t':
            sb_add(b, "\\t", 2);
            break;
        default:
            sb_fmt(b, "\\u%04X", c);
            break;
        }
        p++;
    }
    sb_add(b, "\"", 1);
    return true;
}

/* ,"key": and the value; key_text is that literal, written at once. */
#define sb_json_field(b, key_text, value) sb_json_field_n(b, key_text, sizeof key_text - 1, value)
static bool sb_json_field_n(sbuf *b, const char *key_text, size_t key_len, const char *value) {
    sb_add(b, key_text, key_len);
    return sb_json_str(b, value);
}

hm_err nd_page_item_json_text(const nd_page_item *it, char **out, size_t *out_len) {
    static const char *const names[] = {"", "genuine", "recalled", "claimed", "not_registered"};
    nd_item_state state =
        it->state >= ND_ITEM_GENUINE && it->state <= ND_ITEM_UNKNOWN ? it->state : ND_ITEM_UNKNOWN;
    /* An item's fields are a few hundred bytes; the text is kept with the
     * answer, so it does not start at a page's size. */
    sbuf b = {.first_cap = 1024};
    sb_str(&b, "{\"status\":");
    bool ok = sb_json_str(&b, names[state]);
    ok = ok && sb_json_field(&b, ",\"gtin\":", it->gtin);
    ok = ok && sb_json_field(&b, ",\"serial\":", it->serial);
    ok = ok && sb_json_field(&b, ",\"lot\":", it->lot);
    ok = ok && sb_json_field(&b, ",\"brand\":", it->brand);
    ok = ok && sb_json_field(&b, ",\"product\":", it->product);
    ok = ok && sb_json_field(&b, ",\"description\":", it->description);
    sb_str(&b, ",\"timeline\":[");
    for (uint32_t i = 0; ok && i < it->event_count && i < ND_PAGE_EVENTS_MAX; i++) {
        const nd_page_event *ev = &it->events[i];
        const char *label = nd_page_step_label(ev->biz_step, ND_LANG_EN);
        sb_str(&b, i == 0 ? "{\"time_ms\":" : ",{\"time_ms\":");
        sb_lld(&b, (long long)ev->time_ms);
        ok = ok && sb_json_field(&b, ",\"biz_step\":", ev->biz_step);
        ok = ok && sb_json_field(&b, ",\"label\":", label != NULL ? label : ev->biz_step);
        ok = ok && sb_json_field(&b, ",\"location\":", ev->location);
        sb_str(&b, "}");
    }
    sb_str(&b, "]");
    ok = ok && sb_json_field(&b, ",\"image_url\":", it->image_url);
    if (it->registered_ms != 0) {
        sb_str(&b, ",\"registered_ms\":");
        sb_lld(&b, (long long)it->registered_ms);
    }
    if (it->state == ND_ITEM_CLAIMED) {
        sb_str(&b, ",\"claimed_ms\":");
        sb_lld(&b, (long long)it->claimed_ms);
    }
    if (it->state == ND_ITEM_RECALLED) {
        ok = ok && sb_json_field(&b, ",\"recall_reason\":", it->recall_reason);
    }
    sb_str(&b, it->claimable ? ",\"claimable\":true}" : ",\"claimable\":false}");
    if (!ok) {
        free(b.buf);
        return HM_ERR_BAD_VALUE;
    }
    return sb_finish(&b, out, out_len);
}

/* -------------------------------------------------------------------- QR */

hm_err nd_page_qr_svg(const char *text, char **out, size_t *out_len) {
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL) {
        return HM_ERR_BAD_VALUE;
    }
    const int quiet = 4;
    int size = qr->width + 2 * quiet;
    sbuf b = {0};
    sb_fmt(&b,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
           "height=\"%d\" shape-rendering=\"crispEdges\" role=\"img\"><title>",
           size, size, size * 8, size * 8);
    sb_esc(&b, text);
    sb_fmt(&b, "</title><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
           size, size);
    for (int r = 0; r < qr->width; r++) {
        for (int c = 0; c < qr->width; c++) {
            if (qr->data[r * qr->width + c] & 1) {
                sb_fmt(&b, "M%d %dh1v1h-1z", c + quiet, r + quiet);
            }
        }
    }
    sb_str(&b, "\"/></svg>\n");
    QRcode_free(qr);
    return sb_finish(&b, out, out_len);
}
