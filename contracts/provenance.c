/* contracts/provenance.c — the provenance contract: GS1 prefixes, products,
 * items (one by one or 100,000 per batch), EPCIS events chained per item,
 * custody, recalls and ownership claims; and the queries over its state.
 *
 * Layer: contracts/ (pure). Runs inside ct_exec; reads and writes only
 * through ct_state_*; block time is ct_exec_ctx(x)->time_ms. A refusal
 * returns HM_OK with res set and the executor rolls back whatever was
 * written, so checks may interleave with writes (a batch fails whole, naming
 * the first bad record). Never: I/O, clocks, randomness, floats.
 *
 * Key schema (all under "p/"; docs/provenance.md is normative):
 *   p/px/<prefix digits>                -> owner id(32)
 *   p/g/<gtin14>                        -> owner id(32) | product body
 *   p/i/<item>                          -> item value (see item_value_*)
 *   p/bb/<brand id(32)><u64 batch>      -> ""        brand's item batches
 *   p/bt/<tx id(32)>                    -> u64 batch number
 *   p/b/<u64 batch>                     -> batch meta: type, count, root, chunk roots
 *   p/c/<u64 batch><u32 chunk>          -> <= 16 records: events' leaf hashes,
 *                                          items' keys (without "p/i/")
 *   p/e/<event hash(32)>                -> signer id | varint batch | varint index | record
 *   p/h/<item><u32 seq>                 -> event hash  (item history)
 *   p/pk/<child epc>                    -> parent epc  (packed in)
 *   p/ct/<u8 len><parent epc><child>    -> ""        (contents)
 *   p/et/<u64 time><hash>, p/eg/<gtin14><u64 time><hash>,
 *   p/el/<gtin14><u8 len><lot><u64 time><hash>, p/es/<16 of sha(bizStep)><u64 time><hash>
 *   p/rl/<gtin14><u8 len><lot>          -> reason     (lot recall)
 *   p/ri/<item>                         -> reason     (item recall)
 *   p/n                                 -> u64 next batch number
 * where <item> = gtin14 | u8 serial length | serial. */
#include "ct_gs1.h"
#include "ct_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define ITEM_KEY_MAX (CT_GTIN_LEN + 1 + CT_SERIAL_MAX)
#define PROPAGATE_DEPTH_MAX 4 /* pallet > case > inner pack > item */
#define PROPAGATE_MAX 4096    /* items an event on a container reaches */

enum {
    F_CUSTODIAN = 1u << 0, /* custodian stored (else the brand holds it) */
    F_RECALLED = 1u << 1,
    F_CLAIMED = 1u << 2,
    F_EVENTS = 1u << 3,
};

/* ------------------------------------------------------------- keys */

typedef struct {
    uint8_t b[CT_KEY_MAX];
    size_t n;
} key_buf;

static void kb_init(key_buf *k, const char *prefix) {
    k->n = strlen(prefix);
    assert(k->n < CT_KEY_MAX);
    memcpy(k->b, prefix, k->n);
}

static void kb_raw(key_buf *k, const void *data, size_t n) {
    assert(k->n + n <= CT_KEY_MAX); /* every part is bounded well below */
    memcpy(k->b + k->n, data, n);
    k->n += n;
}

/* Appends 0xff: k then ends a scan over the keys that start with what it
 * held before. */
static void kb_past_prefix(key_buf *k) {
    uint8_t ff = 0xff;
    kb_raw(k, &ff, 1);
}

/* Scans the keys that start with prefix. */
static hm_err scan_prefix(const ct_src *from, const key_buf *prefix, ct_visit_fn visit, void *arg) {
    key_buf end = *prefix;
    kb_past_prefix(&end);
    return ct_src_scan(from, prefix->b, prefix->n, end.b, end.n, visit, arg);
}

/* Sets k to the least key after key[0..n): key followed by a zero byte. */
static void kb_after(key_buf *k, const uint8_t *key, size_t n) {
    static const uint8_t zero = 0;
    k->n = 0;
    kb_raw(k, key, n);
    kb_raw(k, &zero, 1);
}

static void kb_u64(key_buf *k, uint64_t v) {
    uint8_t be[8];
    for (int i = 7; i >= 0; i--, v >>= 8)
        be[i] = (uint8_t)v;
    kb_raw(k, be, 8);
}

static void kb_u32(key_buf *k, uint32_t v) {
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    kb_raw(k, be, 4);
}

static void kb_lenstr(key_buf *k, const char *s) {
    size_t n = strlen(s);
    assert(n <= 255);
    uint8_t len = (uint8_t)n;
    kb_raw(k, &len, 1);
    kb_raw(k, s, n);
}

static void kb_item(key_buf *k, const char *gtin14, const char *serial) {
    kb_raw(k, gtin14, CT_GTIN_LEN);
    kb_lenstr(k, serial);
}

/* The key of a batch's chunk: p/c/ u64 batch · u32 chunk. */
static void kb_chunk(key_buf *k, uint64_t batch, uint32_t chunk) {
    kb_init(k, "p/c/");
    kb_u64(k, batch);
    kb_u32(k, chunk);
}

/* The length of the item key (gtin14 · u8 serial length · serial, without
 * "p/i/") at pos (< chunk_len) of an item batch's chunk; 0 where the chunk
 * is malformed. */
static size_t chunk_item_key_len(const uint8_t *chunk, size_t chunk_len, size_t pos) {
    assert(pos < chunk_len);
    if (chunk_len - pos < CT_GTIN_LEN + 1)
        return 0;
    size_t serial_len = chunk[pos + CT_GTIN_LEN];
    size_t key_len = CT_GTIN_LEN + 1 + serial_len;
    if (serial_len == 0 || serial_len > CT_SERIAL_MAX || chunk_len - pos < key_len)
        return 0;
    return key_len;
}

static uint64_t be_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static bool zero32(const uint8_t *h) {
    static const uint8_t z[HM_HASH_LEN];
    return memcmp(h, z, HM_HASH_LEN) == 0;
}

/* ---------------------------------------------------------- item value */

typedef struct {
    uint8_t flags;
    uint64_t batch;
    uint32_t index;
    ct_member_id custodian; /* valid with F_CUSTODIAN */
    uint64_t claimed_ms;
    uint32_t event_count;
    uint8_t last_event[HM_HASH_LEN];
    const uint8_t *record; /* into the value buffer */
    size_t record_len;
} item_value;

static hm_err item_value_decode(const uint8_t *val, size_t len, item_value *iv) {
    memset(iv, 0, sizeof *iv);
    hm_reader r;
    hm_reader_init(&r, val, len);
    iv->flags = hm_get_u8(&r);
    iv->batch = hm_get_varint(&r, UINT64_MAX);
    iv->index = (uint32_t)hm_get_varint(&r, CT_BATCH_RECORDS_MAX);
    if (iv->flags & F_CUSTODIAN)
        hm_get_raw(&r, iv->custodian.bytes, HM_PUBKEY_LEN);
    if (iv->flags & F_CLAIMED)
        iv->claimed_ms = hm_get_varint(&r, UINT64_MAX);
    if (iv->flags & F_EVENTS) {
        iv->event_count = (uint32_t)hm_get_varint(&r, UINT32_MAX);
        hm_get_raw(&r, iv->last_event, HM_HASH_LEN);
    }
    if (hm_reader_error(&r) != HM_OK)
        return HM_ERR_IO;
    iv->record = val + r.pos;
    iv->record_len = len - r.pos;
    return HM_OK;
}

/* Upper bounds of an item value's bytes before its record: any, and a
 * freshly registered item's (flags, batch, index only). */
#define ITEM_VALUE_HEAD_MAX (1 + 10 + 5 + 32 + 10 + 5 + 32)
#define ITEM_VALUE_FRESH_HEAD_MAX (1 + 10 + 5)

static void item_value_encode(const item_value *iv, hm_writer *w) {
    hm_put_u8(w, iv->flags);
    hm_put_varint(w, iv->batch);
    hm_put_varint(w, iv->index);
    if (iv->flags & F_CUSTODIAN)
        hm_put_raw(w, iv->custodian.bytes, HM_PUBKEY_LEN);
    if (iv->flags & F_CLAIMED)
        hm_put_varint(w, iv->claimed_ms);
    if (iv->flags & F_EVENTS) {
        hm_put_varint(w, iv->event_count);
        hm_put_raw(w, iv->last_event, HM_HASH_LEN);
    }
    hm_put_raw(w, iv->record, iv->record_len);
}

static hm_err item_value_put(ct_exec *x, const key_buf *k, const item_value *iv) {
    uint8_t buf[ITEM_VALUE_HEAD_MAX + 256];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    item_value_encode(iv, &w);
    hm_err err = hm_writer_error(&w);
    if (err != HM_OK)
        return err;
    return ct_state_put(x, k->b, k->n, buf, w.len);
}

/* Reads an item: HM_ERR_NOT_FOUND or the value (*raw owned by the caller,
 * iv points into it). */
static hm_err item_read(const ct_src *from, const char *gtin14, const char *serial, uint8_t **raw,
                        item_value *iv, key_buf *k) {
    kb_init(k, "p/i/");
    kb_item(k, gtin14, serial);
    size_t len = 0;
    hm_err err = ct_src_get(from, k->b, k->n, raw, &len);
    if (err != HM_OK)
        return err;
    err = item_value_decode(*raw, len, iv);
    if (err != HM_OK) {
        free(*raw);
        *raw = NULL;
    }
    return err;
}

/* item_read for entry i of a tx's item list: an item that is not registered
 * refuses the tx (HM_OK with res->code set, nothing to free). */
static hm_err item_read_listed(const ct_src *from, const ct_item_ref *ref, uint32_t i,
                               ct_result *res, uint8_t **raw, item_value *iv, key_buf *k) {
    hm_err err = item_read(from, ref->gtin, ref->serial, raw, iv, k);
    if (err == HM_ERR_NOT_FOUND)
        return ct_refuse(res, HM_ERR_NOT_FOUND, CT_RULE_NO_ITEM, i,
                         "item %u (%s/%s) is not registered", i, ref->gtin, ref->serial);
    return err;
}

/* The verdict on a tx body that did not decode (err != HM_OK): lack of
 * memory is an operating error; anything else refuses the tx under the body
 * rule, naming `what`. */
static hm_err refuse_body(ct_result *res, hm_err err, const char *what) {
    assert(err != HM_OK);
    if (err == HM_ERR_NOMEM)
        return err;
    return ct_refuse(res, err, CT_RULE_BODY, 0, "%s body: %s", what, hm_err_message(err));
}

/* ------------------------------------------------------ GTIN ownership */

/* The member owning the prefix a GTIN-14 carries (the company prefix starts
 * after the indicator digit). Prefixes never overlap, so at most one of the
 * 6..12-digit candidates is assigned. */
static hm_err gtin_owner(const ct_src *from, const char *gtin14, ct_member_id *owner) {
    for (size_t n = CT_PREFIX_MIN; n <= CT_PREFIX_MAX; n++) {
        key_buf k;
        kb_init(&k, "p/px/");
        kb_raw(&k, gtin14 + 1, n);
        uint8_t *val = NULL;
        size_t len = 0;
        hm_err err = ct_src_get(from, k.b, k.n, &val, &len);
        if (err == HM_ERR_NOT_FOUND)
            continue;
        if (err != HM_OK)
            return err;
        bool ok = len == HM_PUBKEY_LEN;
        if (ok)
            memcpy(owner->bytes, val, HM_PUBKEY_LEN);
        free(val);
        return ok ? HM_OK : HM_ERR_IO;
    }
    return HM_ERR_NOT_FOUND;
}

/* Product: owner and hash of the stored body. */
static hm_err product_read(const ct_src *from, const char *gtin14, ct_member_id *owner,
                           uint8_t hash[HM_HASH_LEN], uint8_t **body, size_t *body_len) {
    key_buf k;
    kb_init(&k, "p/g/");
    kb_raw(&k, gtin14, CT_GTIN_LEN);
    uint8_t *val = NULL;
    size_t len = 0;
    hm_err err = ct_src_get(from, k.b, k.n, &val, &len);
    if (err != HM_OK)
        return err;
    if (len < HM_PUBKEY_LEN) {
        free(val);
        return HM_ERR_IO;
    }
    memcpy(owner->bytes, val, HM_PUBKEY_LEN);
    if (hash != NULL)
        hm_sha256(val + HM_PUBKEY_LEN, len - HM_PUBKEY_LEN, hash);
    if (body != NULL) {
        *body_len = len - HM_PUBKEY_LEN;
        *body = malloc(*body_len + 1);
        if (*body == NULL) {
            free(val);
            return HM_ERR_NOMEM;
        }
        memcpy(*body, val + HM_PUBKEY_LEN, *body_len);
    }
    free(val);
    return HM_OK;
}

/* Whether id is an active member with one of roles; its member record. */
static hm_err member_active(const ct_src *from, const ct_member_id *id, uint32_t roles, bool *ok) {
    *ok = false;
    ct_member m;
    hm_err err;
    if (from->x != NULL) {
        /* Inside a block: resolve through its current key in the overlay. */
        uint8_t k[4 + HM_PUBKEY_LEN];
        memcpy(k, "m/i/", 4);
        memcpy(k + 4, id->bytes, HM_PUBKEY_LEN);
        uint8_t *val = NULL;
        size_t len = 0;
        err = ct_state_get(from->x, k, sizeof k, &val, &len);
        if (err == HM_ERR_NOT_FOUND)
            return HM_OK;
        if (err != HM_OK)
            return err;
        hm_pubkey key;
        bool long_enough = len >= HM_PUBKEY_LEN;
        if (long_enough)
            memcpy(key.bytes, val, HM_PUBKEY_LEN);
        free(val);
        if (!long_enough)
            return HM_ERR_IO;
        ct_member_id back;
        err = ct_member_id_lookup(from->x, &key, &m, &back);
        if (err == HM_ERR_NOT_FOUND)
            return HM_OK;
        if (err != HM_OK)
            return err;
    } else {
        err = ct_query_member_id(from->s, id, &m);
        if (err == HM_ERR_NOT_FOUND)
            return HM_OK;
        if (err != HM_OK)
            return err;
        if (m.revoked)
            return HM_OK;
    }
    *ok = (m.roles & roles) != 0;
    return HM_OK;
}

/* ------------------------------------------------------------- batches */

static hm_err next_batch_number(ct_exec *x, uint64_t *out) {
    static const uint8_t k[] = "p/n";
    uint8_t *val = NULL;
    size_t len = 0;
    uint64_t next = 1;
    hm_err err = ct_state_get(x, k, sizeof k - 1, &val, &len);
    if (err == HM_OK) {
        if (len != 8) {
            free(val);
            return HM_ERR_IO;
        }
        next = be_u64(val);
        free(val);
    } else if (err != HM_ERR_NOT_FOUND) {
        return err;
    }
    *out = next;
    key_buf v;
    v.n = 0;
    kb_u64(&v, next + 1);
    return ct_state_put(x, k, sizeof k - 1, v.b, v.n);
}

/* The hashes of a batch's records (see batch_hashes_get). */
typedef struct {
    const uint8_t (*leaves)[HM_HASH_LEN];      /* one per record */
    const uint8_t (*chunk_roots)[HM_HASH_LEN]; /* one per CT_CHUNK_LEAVES records */
} batch_hashes;

/* Stores what makes each record of tx provable alone: the chunk roots (one
 * per 16 records) in the batch meta, and per chunk what gives back its
 * leaves: the 16 leaf hashes (leaf_chunks, for events), or for items the 16
 * item keys, written by the caller (each item's value holds its record, so
 * its leaf is recomputed from it: 21 bytes per record instead of 32). A
 * proof is the in-chunk path (from <= 16 leaves) followed by the path of the
 * chunk root in the tree of chunk roots, which is the RFC 9162 path because
 * every aligned chunk of 16 leaves is a subtree of the RFC 9162 tree. */
static hm_err batch_store(ct_exec *x, const ct_tx *tx, const batch_hashes *h, bool leaf_chunks,
                          uint64_t *batch_out) {
    uint64_t batch = 0;
    hm_err err = next_batch_number(x, &batch);
    if (err != HM_OK)
        return err;
    uint32_t n = tx->record_count;
    uint32_t chunks = (uint32_t)ct_tx_records_chunks(tx);
    hm_writer meta;
    hm_writer_init_growable(&meta, 128 + (size_t)chunks * HM_HASH_LEN);
    hm_put_u8(&meta, (uint8_t)tx->type);
    hm_put_raw(&meta, tx->id, HM_HASH_LEN);
    hm_put_varint(&meta, n);
    hm_put_raw(&meta, tx->records_root, HM_HASH_LEN);
    for (uint32_t c = 0; c < chunks && err == HM_OK; c++) {
        uint32_t first = c * CT_CHUNK_LEAVES;
        uint32_t count = n - first < CT_CHUNK_LEAVES ? n - first : CT_CHUNK_LEAVES;
        hm_put_raw(&meta, h->chunk_roots[c], HM_HASH_LEN);
        if (!leaf_chunks)
            continue;
        key_buf k;
        kb_chunk(&k, batch, c);
        err = ct_state_put(x, k.b, k.n, h->leaves[first], (size_t)count * HM_HASH_LEN);
    }
    if (err == HM_OK)
        err = hm_writer_error(&meta);
    if (err == HM_OK) {
        key_buf k;
        kb_init(&k, "p/b/");
        kb_u64(&k, batch);
        err = ct_state_put(x, k.b, k.n, meta.buf, meta.len);
    }
    hm_writer_free(&meta);
    if (err != HM_OK)
        return err;
    key_buf k, v;
    kb_init(&k, "p/bt/");
    kb_raw(&k, tx->id, HM_HASH_LEN);
    v.n = 0;
    kb_u64(&v, batch);
    *batch_out = batch;
    return ct_state_put(x, k.b, k.n, v.b, v.n);
}

/* Leaf hashes and chunk roots of tx's records: the executor's, which it
 * computed (or was handed) checking the records root before any contract
 * ran. */
static hm_err batch_hashes_get(ct_exec *x, const ct_tx *tx, batch_hashes *h) {
    memset(h, 0, sizeof *h);
    bool have = ct_exec_tx_hashes(x, tx, &h->leaves, &h->chunk_roots);
    assert(have); /* every tx with records went through records_check */
    return have ? HM_OK : HM_ERR_IO;
}

/* ------------------------------------------------------ prefix, product */

static hm_err apply_prefix(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    ct_prefix_assign_body b;
    hm_err err = ct_prefix_assign_decode(tx->body, tx->body_len, &b);
    if (err != HM_OK)
        return ct_refuse(res, err, CT_RULE_BODY, 0, "prefix assign body: %s", hm_err_message(err));
    if ((signer->roles & CT_ROLE_ADMIN) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_ADMIN, 0,
                         "only an admin assigns GS1 prefixes");
    ct_src from = {.x = x, .s = NULL};
    bool ok = false;
    err = member_active(&from, &b.brand, CT_ROLE_BRAND, &ok);
    if (err != HM_OK)
        return err;
    if (!ok)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_BRAND, 0,
                         "prefix holder must be an active member with the brand role");
    size_t len = strlen(b.prefix);
    /* No assigned prefix may be a prefix of this one, nor this one of it:
     * then a GTIN has exactly one owner. */
    for (size_t n = CT_PREFIX_MIN; n < len; n++) {
        key_buf k;
        kb_init(&k, "p/px/");
        kb_raw(&k, b.prefix, n);
        bool exists = false;
        err = ct_src_exists(&from, k.b, k.n, &exists);
        if (err != HM_OK)
            return err;
        if (exists)
            return ct_refuse(res, HM_ERR_CONFLICT, CT_RULE_PREFIX_TAKEN, 0,
                             "prefix %.*s, which covers %s, is already assigned", (int)n, b.prefix,
                             b.prefix);
    }
    key_buf start;
    kb_init(&start, "p/px/");
    kb_raw(&start, b.prefix, len);
    bool found = false;
    err = scan_prefix(&from, &start, ct_visit_found, &found);
    if (err != HM_OK)
        return err;
    if (found)
        return ct_refuse(res, HM_ERR_CONFLICT, CT_RULE_PREFIX_TAKEN, 0,
                         "prefix %s or a longer one within it is already assigned", b.prefix);
    return ct_state_put(x, start.b, start.n, b.brand.bytes, HM_PUBKEY_LEN);
}

/* The signer's member id, for ownership and custody checks. */
static hm_err signer_id(ct_exec *x, const ct_member *signer, ct_member_id *id) {
    ct_member m;
    return ct_member_id_lookup(x, &signer->key, &m, id);
}

static hm_err apply_product(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    ct_product_body *b = malloc(sizeof *b);
    if (b == NULL)
        return HM_ERR_NOMEM;
    hm_err err = ct_product_decode(tx->body, tx->body_len, b);
    char gtin[CT_GTIN_LEN + 1];
    memcpy(gtin, b->gtin, sizeof gtin);
    free(b);
    if (err != HM_OK)
        return refuse_body(res, err, "product");
    if ((signer->roles & CT_ROLE_BRAND) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_BRAND, 0,
                         "only a brand sets product metadata");
    ct_src from = {.x = x, .s = NULL};
    ct_member_id me, owner;
    err = signer_id(x, signer, &me);
    if (err != HM_OK)
        return err;
    err = gtin_owner(&from, gtin, &owner);
    if (err != HM_OK && err != HM_ERR_NOT_FOUND)
        return err;
    if (err == HM_ERR_NOT_FOUND || memcmp(owner.bytes, me.bytes, HM_PUBKEY_LEN) != 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_PREFIX_OWNER, 0,
                         "GTIN %s does not carry a prefix assigned to the signer", gtin);
    key_buf k;
    kb_init(&k, "p/g/");
    kb_raw(&k, gtin, CT_GTIN_LEN);
    uint8_t *val = malloc(HM_PUBKEY_LEN + tx->body_len);
    if (val == NULL)
        return HM_ERR_NOMEM;
    memcpy(val, me.bytes, HM_PUBKEY_LEN);
    memcpy(val + HM_PUBKEY_LEN, tx->body, tx->body_len);
    err = ct_state_put(x, k.b, k.n, val, HM_PUBKEY_LEN + tx->body_len);
    free(val);
    return err;
}

/* ------------------------------------------------------------- items */

/* One record of an item batch as the checking pass leaves it (see
 * apply_items). */
typedef struct {
    uint8_t key[4 + ITEM_KEY_MAX]; /* "p/i/" | gtin14 | u8 serial length | serial */
    uint8_t key_len;
    uint32_t val_at, val_len; /* its item value in the batch's value buffer */
} batch_item;

static int batch_item_compare(const batch_item *items, uint32_t a, uint32_t b) {
    return ct_key_compare(items[a].key, items[a].key_len, items[b].key, items[b].key_len);
}

/* The end of the run of non-descending keys of src that starts at from. */
static size_t batch_run_end(const batch_item *items, const uint32_t *src, size_t from, size_t n) {
    size_t end = from + 1;
    while (end < n && batch_item_compare(items, src[end - 1], src[end]) <= 0)
        end++;
    return end;
}

/* Sorts order[0..n) (record numbers) by item key, stably (equal keys stay in
 * record order), with tmp as scratch: a natural merge sort, so a batch whose
 * serials run in sequence (a few ascending runs) costs about one pass, and
 * any batch at most n log2 n comparisons. */
static void batch_sort(const batch_item *items, uint32_t *order, uint32_t *tmp, size_t n) {
    uint32_t *src = order, *dst = tmp;
    for (;;) {
        size_t merged = 0;
        for (size_t lo = 0; lo < n; merged++) {
            size_t mid = batch_run_end(items, src, lo, n);
            size_t hi = mid < n ? batch_run_end(items, src, mid, n) : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                dst[k++] = batch_item_compare(items, src[b], src[a]) < 0 ? src[b++] : src[a++];
            while (a < mid)
                dst[k++] = src[a++];
            while (b < hi)
                dst[k++] = src[b++];
            lo = hi;
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
        if (merged <= 1)
            break;
    }
    if (src != order)
        memcpy(order, src, n * sizeof *order);
}

/* Finding which items of a batch are stored already (in the committed state
 * or earlier in the block), over their keys in sorted order. One read per
 * item costs a database lookup each; a scan of the range a run of sorted
 * keys spans settles the whole run with one seek when the state holds few
 * keys inside it (serials numbered in sequence: a new batch's range is
 * empty). Where the state holds many (serials at random among stored ones),
 * scans stop early and the items are read one by one, with a scan tried
 * again after ever longer runs of reads, so such a batch costs little more
 * than one read per item. Either way the answer is exactly that of one read
 * per item. */
#define STORED_SCAN_KEYS 4096 /* sorted keys one scan covers at most */
#define STORED_SCAN_GAP 8     /* stored keys in a row that are not the batch's: stop */
#define STORED_SCAN_WORTH 8   /* keys a scan must settle to be worth its seek */
#define STORED_READS_MIN 16   /* reads after an unprofitable scan, doubling ... */
#define STORED_READS_MAX 1024 /* ... up to this */

typedef struct {
    const batch_item *items;
    const uint32_t *order;
    size_t next, end; /* the scan settles order[next..end) */
    size_t misses;    /* visits in a row that settled nothing */
    size_t first;     /* smallest record number found stored, or SIZE_MAX */
    bool gave_up;
} stored_scan;

static void stored_note(stored_scan *s, uint32_t record) {
    if (record < s->first)
        s->first = record;
}

static bool stored_visit(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                         size_t val_len) {
    (void)val;
    (void)val_len;
    stored_scan *s = arg;
    size_t before = s->next;
    /* Batch keys below the stored key are not stored; equal ones are. */
    while (s->next < s->end) {
        const batch_item *it = &s->items[s->order[s->next]];
        int c = ct_key_compare(it->key, it->key_len, key, key_len);
        if (c > 0)
            break;
        if (c == 0)
            stored_note(s, s->order[s->next]);
        s->next++;
    }
    if (s->next == s->end)
        return false;       /* all settled */
    if (s->next > before) { /* some settled, a match among them or not */
        s->misses = 0;
        return true;
    }
    if (++s->misses < STORED_SCAN_GAP)
        return true;
    s->gave_up = true;
    return false;
}

/* The smallest record number among order[0..count) (sorted by key) whose
 * item is stored, in *first; count when none. */
static hm_err batch_stored(const ct_src *from, const batch_item *items, const uint32_t *order,
                           size_t count, size_t *first) {
    stored_scan s = {.items = items, .order = order, .first = SIZE_MAX};
    size_t next = 0, reads = 0, reads_next = STORED_READS_MIN;
    while (next < count) {
        const batch_item *it = &items[order[next]];
        if (reads > 0) {
            /* One read settles this key and its repeats. */
            bool exists = false;
            hm_err err = ct_src_exists(from, it->key, it->key_len, &exists);
            if (err != HM_OK)
                return err;
            size_t j = next;
            do {
                if (exists)
                    stored_note(&s, order[j]);
                j++;
            } while (j < count && batch_item_compare(items, order[j - 1], order[j]) == 0);
            next = j;
            reads--;
            continue;
        }
        size_t end = count - next > STORED_SCAN_KEYS ? next + STORED_SCAN_KEYS : count;
        const batch_item *last = &items[order[end - 1]];
        key_buf past; /* the least key after the last one */
        kb_after(&past, last->key, last->key_len);
        s.next = next;
        s.end = end;
        s.misses = 0;
        s.gave_up = false;
        hm_err err = ct_src_scan(from, it->key, it->key_len, past.b, past.n, stored_visit, &s);
        if (err != HM_OK)
            return err;
        if (!s.gave_up)
            s.next = end;      /* the range held no more stored keys */
        assert(s.next > next); /* the first visit, or the scan's end, settles order[next] */
        if (s.next - next < STORED_SCAN_WORTH) {
            reads = reads_next;
            reads_next = reads_next * 2 < STORED_READS_MAX ? reads_next * 2 : STORED_READS_MAX;
        } else {
            reads_next = STORED_READS_MIN;
        }
        next = s.next;
    }
    *first = s.first == SIZE_MAX ? count : s.first;
    return HM_OK;
}

/* The buffers of one item batch, freed together. */
typedef struct {
    batch_item *items;    /* n, record order */
    uint32_t *order;      /* 2n: record numbers in key order, then scratch */
    uint8_t *vals;        /* item values, record order */
    uint8_t *keys;        /* the p/bb/ key, then p/c/ keys and values */
    ct_write_ref *writes; /* 1 + chunks + n, key order */
} batch_bufs;

static void batch_bufs_free(batch_bufs *b) {
    free(b->items);
    free(b->order);
    free(b->vals);
    free(b->keys);
    free(b->writes);
}

/* Registers tx's items in passes that give exactly the verdict of checking
 * record by record in order against the state and the batch's own writes.
 * The first decodes each record, checks its GTIN, product and hash, and
 * builds its key and value, stopping at the first refusal. The records
 * checked are then sorted by item key: the earliest that repeats an earlier
 * one, and the earliest whose item is stored already (batch_stored), come
 * before that refusal if at all, and the earliest of them is the refusal
 * (rule 205 either way). The last pass writes everything in key order in
 * one ct_state_put_sorted: the same writes as one put per key, in a merge
 * instead of 200,000 AVL descents. */
static hm_err apply_items(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    if (!tx->has_records || tx->record_count == 0 || tx->body_len != 0)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_RULE_RECORDS, 0,
                         "item registration carries 1..%d records and an empty body",
                         CT_BATCH_RECORDS_MAX);
    if ((signer->roles & CT_ROLE_BRAND) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_BRAND, 0, "only a brand registers items");
    ct_src from = {.x = x, .s = NULL};
    ct_member_id me;
    hm_err err = signer_id(x, signer, &me);
    if (err != HM_OK)
        return err;
    batch_hashes hashes;
    err = batch_hashes_get(x, tx, &hashes);
    if (err != HM_OK)
        return err;
    uint64_t batch = 0;
    err = batch_store(x, tx, &hashes, false, &batch);
    if (err != HM_OK)
        return err;

    const size_t n = tx->record_count;
    const size_t chunks = ct_tx_records_chunks(tx);
    const size_t bb_key_len = 5 + HM_PUBKEY_LEN + 8, chunk_key_len = 4 + 8 + 4;
    const size_t vals_cap = tx->records_len + n * ITEM_VALUE_FRESH_HEAD_MAX;
    const size_t keys_cap = bb_key_len + n * ITEM_KEY_MAX + chunks * chunk_key_len;
    batch_bufs b = {
        .items = malloc(n * sizeof *b.items),
        .order = malloc(2 * n * sizeof *b.order),
        .vals = malloc(vals_cap),
        .keys = malloc(keys_cap),
        .writes = malloc((1 + chunks + n) * sizeof *b.writes),
    };
    if (!b.items || !b.order || !b.vals || !b.keys || !b.writes) {
        batch_bufs_free(&b);
        return HM_ERR_NOMEM;
    }

    /* Records of one batch usually share a GTIN: remember the last one's
     * ownership and product hash rather than reading them 100,000 times. */
    char cached_gtin[CT_GTIN_LEN + 1] = "";
    uint8_t cached_hash[HM_HASH_LEN];
    size_t pos = 0, vals_len = 0, checked = 0;
    const uint8_t *rec = NULL;
    size_t rec_len = 0;
    /* a refused record ends the loop: checked < n tells it afterwards */
    for (uint32_t i = 0; ct_tx_record_next(tx, &pos, &rec, &rec_len); i++) {
        ct_item_record ir;
        err = ct_item_record_decode(rec, rec_len, &ir);
        if (err != HM_OK) {
            (void)ct_refuse(res, err, CT_RULE_BODY, i, "record %u: not a valid item record: %s", i,
                            hm_err_message(err));
            break;
        }
        if (strcmp(ir.gtin, cached_gtin) != 0) {
            ct_member_id owner;
            err = gtin_owner(&from, ir.gtin, &owner);
            if (err != HM_OK && err != HM_ERR_NOT_FOUND)
                goto out;
            if (err == HM_ERR_NOT_FOUND || memcmp(owner.bytes, me.bytes, HM_PUBKEY_LEN) != 0) {
                (void)ct_refuse(res, HM_ERR_DENIED, CT_RULE_PREFIX_OWNER, i,
                                "record %u: GTIN %s does not carry a prefix of the signer", i,
                                ir.gtin);
                break;
            }
            ct_member_id powner;
            err = product_read(&from, ir.gtin, &powner, cached_hash, NULL, NULL);
            if (err == HM_ERR_NOT_FOUND) {
                (void)ct_refuse(res, HM_ERR_NOT_FOUND, CT_RULE_NO_PRODUCT, i,
                                "record %u: GTIN %s has no product metadata", i, ir.gtin);
                break;
            }
            if (err != HM_OK)
                goto out;
            memcpy(cached_gtin, ir.gtin, sizeof cached_gtin);
        }
        if (memcmp(ir.product_hash, cached_hash, HM_HASH_LEN) != 0) {
            (void)ct_refuse(res, HM_ERR_CONFLICT, CT_RULE_PRODUCT_HASH, i,
                            "record %u: product hash is not that of GTIN %s's metadata", i,
                            ir.gtin);
            break;
        }
        key_buf k;
        kb_init(&k, "p/i/");
        kb_item(&k, ir.gtin, ir.serial);
        batch_item *it = &b.items[i];
        assert(k.n <= sizeof it->key);
        memcpy(it->key, k.b, k.n);
        it->key_len = (uint8_t)k.n;
        item_value iv;
        memset(&iv, 0, sizeof iv);
        iv.batch = batch;
        iv.index = i;
        iv.record = rec;
        iv.record_len = rec_len;
        hm_writer w;
        hm_writer_init(&w, b.vals + vals_len, vals_cap - vals_len);
        item_value_encode(&iv, &w);
        assert(hm_writer_error(&w) == HM_OK && w.len <= ITEM_VALUE_FRESH_HEAD_MAX + rec_len);
        it->val_at = (uint32_t)vals_len;
        it->val_len = (uint32_t)w.len;
        vals_len += w.len;
        checked = i + 1;
    }
    assert(checked <= n);

    /* The earliest record, among those checked, whose item is stored or
     * repeats an earlier record's. */
    for (size_t i = 0; i < checked; i++)
        b.order[i] = (uint32_t)i;
    batch_sort(b.items, b.order, b.order + n, checked);
    size_t repeat = checked;
    for (size_t i = 1; i < checked; i++)
        if (b.order[i] < repeat && batch_item_compare(b.items, b.order[i - 1], b.order[i]) == 0)
            repeat = b.order[i];
    size_t stored = checked;
    err = batch_stored(&from, b.items, b.order, checked, &stored);
    if (err != HM_OK)
        goto out;
    if (stored < repeat)
        repeat = stored;
    if (repeat < checked) {
        const batch_item *it = &b.items[repeat];
        (void)ct_refuse(res, HM_ERR_CONFLICT, CT_RULE_ITEM_EXISTS, (uint32_t)repeat,
                        "record %u: item %.*s/%.*s is already registered", (unsigned)repeat,
                        CT_GTIN_LEN, (const char *)it->key + 4, (int)it->key[4 + CT_GTIN_LEN],
                        (const char *)it->key + 4 + CT_GTIN_LEN + 1);
    }
    if (checked < n || repeat < checked) {
        err = HM_OK; /* refused above */
        goto out;
    }

    /* The writes in key order: "p/bb/" < "p/c/" < "p/i/"; the chunks
     * follow their numbers, the items the sort. The brand's index names the
     * batch, not each item (its chunks list the items): one row per item
     * there cost a third of a validator's work per batch (the rows' keys
     * were longer than the items' own, and each was one more memtable
     * insert, flush and compaction entry). */
    size_t nw = 0, keys_len = 0;
    key_buf bk;
    kb_init(&bk, "p/bb/");
    kb_raw(&bk, me.bytes, HM_PUBKEY_LEN);
    kb_u64(&bk, batch);
    assert(bk.n == bb_key_len);
    memcpy(b.keys, bk.b, bk.n);
    keys_len += bk.n;
    b.writes[nw++] = (ct_write_ref){.key = b.keys, .key_len = bk.n};
    for (size_t c = 0; c < chunks; c++) {
        /* What gives the chunk's leaves back: its item keys (without
         * "p/i/"), in record order (see batch_store). */
        key_buf ck;
        kb_chunk(&ck, batch, (uint32_t)c);
        assert(ck.n == chunk_key_len);
        uint8_t *key = b.keys + keys_len;
        memcpy(key, ck.b, ck.n);
        keys_len += ck.n;
        uint8_t *val = b.keys + keys_len;
        size_t last = (c + 1) * CT_CHUNK_LEAVES < n ? (c + 1) * CT_CHUNK_LEAVES : n;
        for (size_t i = c * CT_CHUNK_LEAVES; i < last; i++) {
            memcpy(b.keys + keys_len, b.items[i].key + 4, b.items[i].key_len - 4u);
            keys_len += b.items[i].key_len - 4u;
        }
        b.writes[nw++] = (ct_write_ref){
            .key = key, .key_len = ck.n, .val = val, .val_len = (size_t)(b.keys + keys_len - val)};
    }
    for (size_t j = 0; j < n; j++) {
        const batch_item *it = &b.items[b.order[j]];
        b.writes[nw++] = (ct_write_ref){.key = it->key,
                                        .key_len = it->key_len,
                                        .val = b.vals + it->val_at,
                                        .val_len = it->val_len};
    }
    assert(nw == 1 + chunks + n && keys_len <= keys_cap);
    err = ct_state_put_sorted(x, b.writes, nw);
out:
    batch_bufs_free(&b);
    return err;
}

/* ------------------------------------------------------------ events */

static bool ids_equal(const ct_member_id *a, const ct_member_id *b) {
    return memcmp(a->bytes, b->bytes, HM_PUBKEY_LEN) == 0;
}

/* The holder of an item: its stored custodian, else its brand. */
static hm_err item_custodian(const ct_src *from, const ct_item_ref *ref, const item_value *iv,
                             ct_member_id *out) {
    if (iv->flags & F_CUSTODIAN) {
        *out = iv->custodian;
        return HM_OK;
    }
    hm_err err = gtin_owner(from, ref->gtin, out);
    return err == HM_ERR_NOT_FOUND ? HM_ERR_IO : err;
}

static hm_err history_append(ct_exec *x, const ct_item_ref *ref, uint32_t seq,
                             const uint8_t hash[HM_HASH_LEN]) {
    key_buf k;
    kb_init(&k, "p/h/");
    kb_item(&k, ref->gtin, ref->serial);
    kb_u32(&k, seq);
    return ct_state_put(x, k.b, k.n, hash, HM_HASH_LEN);
}

typedef struct {
    hm_err err;
    char (*queue)[CT_URI_MAX + 1];
    size_t queue_len, queue_cap;
} propagate_ctx;

/* Collects the contents of a container (one level) for propagation. */
static bool visit_content(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                          size_t val_len) {
    (void)val;
    (void)val_len;
    propagate_ctx *p = arg;
    size_t parent_len = key[5];
    size_t child_len = key_len - 6 - parent_len;
    if (child_len > CT_URI_MAX) {
        p->err = HM_ERR_IO;
        return false;
    }
    if (p->queue_len == p->queue_cap) {
        size_t cap = p->queue_cap ? p->queue_cap * 2 : 16;
        void *q = realloc(p->queue, cap * sizeof *p->queue);
        if (q == NULL) {
            p->err = HM_ERR_NOMEM;
            return false;
        }
        p->queue = q;
        p->queue_cap = cap;
    }
    memcpy(p->queue[p->queue_len], key + 6 + parent_len, child_len);
    p->queue[p->queue_len][child_len] = '\0';
    p->queue_len++;
    return p->queue_len < PROPAGATE_MAX;
}

/* Events on a container apply to its contents while they are packed: the
 * event is appended to the history of every item inside that the signer
 * holds, to a bounded depth and count (breadth-first, in key order, so
 * deterministic). A container that is not an item has no owner, so anyone
 * may name it: without the custody check a member could write events into
 * the history of another member's goods by naming their case. */
static hm_err propagate(ct_exec *x, const ct_member_id *signer, const char *container,
                        const uint8_t hash[HM_HASH_LEN]) {
    propagate_ctx p;
    memset(&p, 0, sizeof p);
    size_t head = 0;
    p.queue = malloc(sizeof *p.queue);
    if (p.queue == NULL)
        return HM_ERR_NOMEM;
    p.queue_cap = 1;
    strcpy(p.queue[0], container);
    p.queue_len = 1;
    size_t level_end = 1;
    uint32_t depth = 0;
    hm_err err = HM_OK;
    ct_src from = {.x = x, .s = NULL};
    while (head < p.queue_len && err == HM_OK) {
        if (head == level_end) {
            depth++;
            level_end = p.queue_len;
            if (depth > PROPAGATE_DEPTH_MAX)
                break;
        }
        char epc[CT_URI_MAX + 1];
        strcpy(epc, p.queue[head++]);
        if (head > 1) {
            ct_item_ref ref;
            if (ct_epc_item_parse(epc, &ref)) {
                uint8_t *raw = NULL;
                item_value iv;
                key_buf ik;
                err = item_read(&from, ref.gtin, ref.serial, &raw, &iv, &ik);
                bool held = false;
                if (err == HM_OK) {
                    ct_member_id holder;
                    err = item_custodian(&from, &ref, &iv, &holder);
                    held = err == HM_OK && ids_equal(&holder, signer);
                } else if (err == HM_ERR_NOT_FOUND) {
                    err = HM_OK;
                }
                if (held) {
                    /* The event joins the item's history but not its chain:
                     * last_event moves only with events naming the item. */
                    uint32_t seq = (iv.flags & F_EVENTS) ? iv.event_count : 0;
                    if (!(iv.flags & F_EVENTS))
                        memset(iv.last_event, 0, HM_HASH_LEN);
                    iv.flags |= F_EVENTS;
                    iv.event_count = seq + 1;
                    err = item_value_put(x, &ik, &iv);
                    if (err == HM_OK)
                        err = history_append(x, &ref, seq, hash);
                }
                free(raw);
            }
        }
        if (err != HM_OK || p.queue_len >= PROPAGATE_MAX)
            continue;
        key_buf start;
        kb_init(&start, "p/ct/");
        kb_lenstr(&start, epc);
        err = scan_prefix(&from, &start, visit_content, &p);
        if (err == HM_OK)
            err = p.err;
    }
    free(p.queue);
    return err;
}

/* Distinct (gtin, lot) pairs an event touches, for its indexes. */
typedef struct {
    char gtin[CT_GTIN_LEN + 1];
    char lot[CT_LOT_MAX + 1];
} gtin_lot;

static void gl_add(gtin_lot *set, uint32_t *n, uint32_t cap, const char *gtin, const char *lot) {
    for (uint32_t i = 0; i < *n; i++)
        if (strcmp(set[i].gtin, gtin) == 0 && strcmp(set[i].lot, lot) == 0)
            return;
    if (*n < cap) {
        strcpy(set[*n].gtin, gtin);
        strcpy(set[*n].lot, lot);
        (*n)++;
    }
}

static hm_err put_time_index(ct_exec *x, key_buf *k, uint64_t time_ms,
                             const uint8_t hash[HM_HASH_LEN]) {
    kb_u64(k, time_ms);
    kb_raw(k, hash, HM_HASH_LEN);
    return ct_state_put(x, k->b, k->n, NULL, 0);
}

typedef struct {
    ct_exec *x;
    const ct_member_id *me;
    const ct_event_record *ev;
    uint32_t index;
    ct_result *res;
    gtin_lot *touched;
    uint32_t touched_n;
    struct event_cache *cache;
} event_ctx;

/* What one EVENT_RECORD tx would otherwise look up or hash once per record,
 * though it cannot change during the tx (prefixes change only by
 * PREFIX_ASSIGN): the owner of the last GTIN whose items the brand holds,
 * and the index hash of the last bizStep. */
typedef struct event_cache {
    char owner_gtin[CT_GTIN_LEN + 1]; /* "" when none yet */
    ct_member_id owner;
    char biz_step[CT_URI_MAX + 1]; /* "" when none yet */
    uint8_t biz_step_hash[HM_HASH_LEN];
} event_cache;

/* Checks and advances one directly named EPC. *refused is set when the tx
 * was refused (res filled). chain false for an aggregation's parent, which
 * carries no previous hash. */
static hm_err event_touch(event_ctx *e, const char *epc, const uint8_t *prev_hash, bool *refused) {
    ct_src from = {.x = e->x, .s = NULL};
    ct_item_ref ref;
    if (!ct_epc_item_parse(epc, &ref)) {
        if (prev_hash != NULL && !zero32(prev_hash)) {
            *refused = true;
            return ct_refuse(e->res, HM_ERR_BAD_VALUE, CT_RULE_CHAIN, e->index,
                             "record %u: %s is not a registered item and has no chain", e->index,
                             epc);
        }
        return HM_OK;
    }
    uint8_t *raw = NULL;
    item_value iv;
    key_buf k;
    hm_err err = item_read(&from, ref.gtin, ref.serial, &raw, &iv, &k);
    if (err == HM_ERR_NOT_FOUND) {
        *refused = true;
        return ct_refuse(e->res, HM_ERR_NOT_FOUND, CT_RULE_NO_ITEM, e->index,
                         "record %u: item %s is not registered", e->index, epc);
    }
    if (err != HM_OK)
        return err;
    ct_member_id holder;
    if (!(iv.flags & F_CUSTODIAN) && strcmp(ref.gtin, e->cache->owner_gtin) == 0) {
        holder = e->cache->owner;
    } else {
        err = item_custodian(&from, &ref, &iv, &holder);
        if (err == HM_OK && !(iv.flags & F_CUSTODIAN)) {
            memcpy(e->cache->owner_gtin, ref.gtin, sizeof e->cache->owner_gtin);
            e->cache->owner = holder;
        }
    }
    if (err == HM_OK && !ids_equal(&holder, e->me)) {
        *refused = true;
        err = ct_refuse(e->res, HM_ERR_DENIED, CT_RULE_NOT_CUSTODIAN, e->index,
                        "record %u: the signer is not the custodian of %s", e->index, epc);
    }
    if (err == HM_OK && !*refused && prev_hash != NULL) {
        const uint8_t *last = (iv.flags & F_EVENTS) ? iv.last_event : NULL;
        bool match = last == NULL ? zero32(prev_hash) : memcmp(last, prev_hash, HM_HASH_LEN) == 0;
        if (!match) {
            *refused = true;
            err = ct_refuse(e->res, HM_ERR_CONFLICT, CT_RULE_CHAIN, e->index,
                            "record %u: previous event hash of %s is not its last event", e->index,
                            epc);
        }
    }
    if (err == HM_OK && !*refused) {
        ct_item_record ir;
        err = ct_item_record_decode(iv.record, iv.record_len, &ir);
        if (err != HM_OK)
            err = HM_ERR_IO;
        else
            gl_add(e->touched, &e->touched_n, 3 * CT_EVENT_EPCS_MAX, ir.gtin, ir.lot);
    }
    if (err == HM_OK && !*refused) {
        uint32_t seq = (iv.flags & F_EVENTS) ? iv.event_count : 0;
        if (prev_hash != NULL)
            memcpy(iv.last_event, e->ev->event_hash, HM_HASH_LEN);
        else if (!(iv.flags & F_EVENTS))
            memset(iv.last_event, 0, HM_HASH_LEN);
        iv.flags |= F_EVENTS;
        iv.event_count = seq + 1;
        err = item_value_put(e->x, &k, &iv);
        if (err == HM_OK)
            err = history_append(e->x, &ref, seq, e->ev->event_hash);
    }
    free(raw);
    return err;
}

static hm_err aggregate(event_ctx *e, bool *refused) {
    const ct_event_record *ev = e->ev;
    if (ev->type != CT_EPCIS_AGGREGATION || ev->action == CT_ACTION_OBSERVE)
        return HM_OK;
    ct_src from = {.x = e->x, .s = NULL};
    for (uint32_t i = 0; i < ev->epc_count; i++) {
        const char *child = ev->epcs[i].epc;
        key_buf pk;
        kb_init(&pk, "p/pk/");
        kb_raw(&pk, child, strlen(child));
        uint8_t *val = NULL;
        size_t len = 0;
        hm_err err = ct_src_get(&from, pk.b, pk.n, &val, &len);
        if (err != HM_OK && err != HM_ERR_NOT_FOUND)
            return err;
        bool packed_here =
            err == HM_OK && len == strlen(ev->parent) && memcmp(val, ev->parent, len) == 0;
        bool packed = err == HM_OK;
        free(val);
        key_buf ct;
        kb_init(&ct, "p/ct/");
        kb_lenstr(&ct, ev->parent);
        kb_raw(&ct, child, strlen(child));
        if (ev->action == CT_ACTION_ADD) {
            if (packed) {
                *refused = true;
                return ct_refuse(e->res, HM_ERR_CONFLICT, CT_RULE_CONTAINER, e->index,
                                 "record %u: %s is already packed in a container", e->index, child);
            }
            err = ct_state_put(e->x, pk.b, pk.n, (const uint8_t *)ev->parent, strlen(ev->parent));
            if (err == HM_OK)
                err = ct_state_put(e->x, ct.b, ct.n, NULL, 0);
        } else {
            if (!packed_here) {
                *refused = true;
                return ct_refuse(e->res, HM_ERR_CONFLICT, CT_RULE_CONTAINER, e->index,
                                 "record %u: %s is not packed in %s", e->index, child, ev->parent);
            }
            err = ct_state_del(e->x, pk.b, pk.n);
            if (err == HM_OK)
                err = ct_state_del(e->x, ct.b, ct.n);
        }
        if (err != HM_OK)
            return err;
    }
    return HM_OK;
}

static hm_err event_index(event_ctx *e) {
    const ct_event_record *ev = e->ev;
    key_buf k;
    kb_init(&k, "p/et/");
    hm_err err = put_time_index(e->x, &k, ev->event_time_ms, ev->event_hash);
    if (err == HM_OK && ev->biz_step[0] != '\0') {
        event_cache *c = e->cache;
        if (strcmp(c->biz_step, ev->biz_step) != 0) {
            hm_sha256((const uint8_t *)ev->biz_step, strlen(ev->biz_step), c->biz_step_hash);
            strcpy(c->biz_step, ev->biz_step);
        }
        kb_init(&k, "p/es/");
        kb_raw(&k, c->biz_step_hash, 16);
        err = put_time_index(e->x, &k, ev->event_time_ms, ev->event_hash);
    }
    for (uint32_t i = 0; i < e->touched_n && err == HM_OK; i++) {
        bool first_of_gtin = true;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(e->touched[j].gtin, e->touched[i].gtin) == 0)
                first_of_gtin = false;
        if (first_of_gtin) {
            kb_init(&k, "p/eg/");
            kb_raw(&k, e->touched[i].gtin, CT_GTIN_LEN);
            err = put_time_index(e->x, &k, ev->event_time_ms, ev->event_hash);
        }
        if (err == HM_OK && e->touched[i].lot[0] != '\0') {
            kb_init(&k, "p/el/");
            kb_raw(&k, e->touched[i].gtin, CT_GTIN_LEN);
            kb_lenstr(&k, e->touched[i].lot);
            err = put_time_index(e->x, &k, ev->event_time_ms, ev->event_hash);
        }
    }
    return err;
}

/* The first item EPC named twice by an event (in its lists or as its parent),
 * or NULL. Each mention would advance the item's chain and history once
 * more, and a parent packed into itself would loop. */
static const char *item_named_twice(const ct_event_record *ev) {
    const char *named[2 * CT_EVENT_EPCS_MAX + 1];
    uint32_t n = 0;
    for (uint32_t i = 0; i < ev->epc_count; i++)
        named[n++] = ev->epcs[i].epc;
    for (uint32_t i = 0; i < ev->output_count; i++)
        named[n++] = ev->outputs[i].epc;
    if (ev->parent[0] != '\0')
        named[n++] = ev->parent;
    assert(n <= sizeof named / sizeof named[0]);
    for (uint32_t i = 1; i < n; i++) {
        ct_item_ref ref;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(named[i], named[j]) == 0 && ct_epc_item_parse(named[i], &ref))
                return named[i];
    }
    return NULL;
}

static hm_err apply_one_event(event_ctx *e, uint64_t batch, const uint8_t *rec, size_t rec_len,
                              bool *refused) {
    const ct_event_record *ev = e->ev;
    ct_src from = {.x = e->x, .s = NULL};
    key_buf ek;
    kb_init(&ek, "p/e/");
    kb_raw(&ek, ev->event_hash, HM_HASH_LEN);
    bool exists = false;
    hm_err err = ct_src_exists(&from, ek.b, ek.n, &exists);
    if (err != HM_OK)
        return err;
    if (exists) {
        *refused = true;
        return ct_refuse(e->res, HM_ERR_CONFLICT, CT_RULE_EVENT_EXISTS, e->index,
                         "record %u: event already recorded", e->index);
    }
    if (ev->prehash_len > 0) {
        uint8_t h[HM_HASH_LEN];
        hm_sha256((const uint8_t *)ev->prehash, ev->prehash_len, h);
        if (memcmp(h, ev->event_hash, HM_HASH_LEN) != 0) {
            *refused = true;
            return ct_refuse(e->res, HM_ERR_BAD_VALUE, CT_RULE_EVENT_HASH, e->index,
                             "record %u: event hash is not SHA-256 of its pre-hash string",
                             e->index);
        }
    }
    const char *twice = item_named_twice(ev);
    if (twice != NULL) {
        *refused = true;
        return ct_refuse(e->res, HM_ERR_CONFLICT, CT_RULE_DUPLICATE, e->index,
                         "record %u: item %s is named twice", e->index, twice);
    }
    for (uint32_t i = 0; i < ev->epc_count && !*refused && err == HM_OK; i++)
        err = event_touch(e, ev->epcs[i].epc, ev->epcs[i].prev_hash, refused);
    for (uint32_t i = 0; i < ev->output_count && !*refused && err == HM_OK; i++)
        err = event_touch(e, ev->outputs[i].epc, ev->outputs[i].prev_hash, refused);
    if (ev->parent[0] != '\0' && !*refused && err == HM_OK)
        err = event_touch(e, ev->parent, NULL, refused);
    if (*refused || err != HM_OK)
        return err;
    /* Contents of named containers (before packing changes them). */
    for (uint32_t i = 0; i < ev->epc_count && err == HM_OK; i++)
        err = propagate(e->x, e->me, ev->epcs[i].epc, ev->event_hash);
    if (err == HM_OK && ev->parent[0] != '\0' && ev->action == CT_ACTION_OBSERVE)
        err = propagate(e->x, e->me, ev->parent, ev->event_hash);
    if (err == HM_OK)
        err = aggregate(e, refused);
    if (*refused || err != HM_OK)
        return err;
    err = event_index(e);
    if (err != HM_OK)
        return err;
    hm_writer w;
    hm_writer_init_growable(&w, HM_PUBKEY_LEN + 20 + rec_len);
    hm_put_raw(&w, e->me->bytes, HM_PUBKEY_LEN);
    hm_put_varint(&w, batch);
    hm_put_varint(&w, e->index);
    hm_put_raw(&w, rec, rec_len);
    err = hm_writer_error(&w);
    if (err == HM_OK)
        err = ct_state_put(e->x, ek.b, ek.n, w.buf, w.len);
    hm_writer_free(&w);
    /* A return recorded as an event refunds the sale that linked each item
     * (settlement; the refund's postings name the event hash), but only when
     * the signer is the brand owning the item's GTIN, to whom the goods came
     * back. Any custodian may record a return (it stands as a supply-chain
     * fact), yet a carrier or retailer holding the item must not be able to
     * void a platform's sale and its commissions: the platform refunds those
     * itself with REFUND. */
    bool returned = ct_settle_disposition_is_returned(ev->disposition);
    for (uint32_t i = 0; err == HM_OK && returned && i < ev->epc_count; i++) {
        ct_item_ref ref;
        if (!ct_epc_item_parse(ev->epcs[i].epc, &ref))
            continue;
        ct_member_id brand;
        err = gtin_owner(&from, ref.gtin, &brand);
        if (err == HM_ERR_NOT_FOUND)
            err = HM_ERR_IO; /* a registered item always has its brand */
        uint64_t refunded = 0;
        if (err == HM_OK && ids_equal(&brand, e->me))
            err = ct_settle_item_returned(e->x, ref.gtin, ref.serial, ev->event_hash, &refunded);
    }
    return err;
}

static hm_err apply_events(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    if (!tx->has_records || tx->record_count == 0 || tx->body_len != 0)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_RULE_RECORDS, 0,
                         "event recording carries 1..%d records and an empty body",
                         CT_BATCH_RECORDS_MAX);
    if ((signer->roles & (CT_ROLE_BRAND | CT_ROLE_LOGISTICS | CT_ROLE_RETAILER)) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_EVENT_ROLE, 0,
                         "only brands, logistics and retailers record events");
    ct_member_id me;
    hm_err err = signer_id(x, signer, &me);
    if (err != HM_OK)
        return err;
    batch_hashes hashes;
    err = batch_hashes_get(x, tx, &hashes);
    if (err != HM_OK)
        return err;
    uint64_t batch = 0;
    err = batch_store(x, tx, &hashes, true, &batch);
    if (err != HM_OK)
        return err;
    ct_event_record *ev = malloc(sizeof *ev);
    gtin_lot *touched = malloc(3 * CT_EVENT_EPCS_MAX * sizeof *touched);
    event_cache *cache = calloc(1, sizeof *cache);
    if (ev == NULL || touched == NULL || cache == NULL) {
        free(ev);
        free(touched);
        free(cache);
        return HM_ERR_NOMEM;
    }
    size_t pos = 0;
    const uint8_t *rec = NULL;
    size_t rec_len = 0;
    bool refused = false;
    for (uint32_t i = 0; !refused && err == HM_OK && ct_tx_record_next(tx, &pos, &rec, &rec_len);
         i++) {
        hm_err derr = ct_event_record_decode_into(rec, rec_len, ev);
        if (derr == HM_ERR_NOMEM) {
            err = derr;
            break;
        }
        if (derr != HM_OK) {
            refused = true;
            err = ct_refuse(res, derr, CT_RULE_BODY, i, "record %u: not a valid event record: %s",
                            i, hm_err_message(derr));
            break;
        }
        event_ctx e = {.x = x,
                       .me = &me,
                       .ev = ev,
                       .index = i,
                       .res = res,
                       .touched = touched,
                       .cache = cache};
        err = apply_one_event(&e, batch, rec, rec_len, &refused);
    }
    free(ev);
    free(touched);
    free(cache);
    return err;
}

/* ------------------------------------------------------------ custody */

/* The body of a custody transfer or a recall: both list items, so they are
 * decoded on the heap, never on the stack. */
typedef union {
    ct_custody_body custody;
    ct_recall_body recall;
} item_list_body;

/* Decodes the body of a custody transfer or recall tx (by tx->type), which
 * carries no records. *body is NULL when the tx was refused (the verdict is in
 * res) or on error; otherwise the caller frees it. */
static hm_err item_list_body_get(const ct_tx *tx, ct_result *res, const char *what,
                                 item_list_body **body) {
    assert(tx->type == CT_TX_CUSTODY_TRANSFER || tx->type == CT_TX_RECALL);
    *body = NULL;
    if (tx->has_records)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_RULE_RECORDS, 0, "%s carries no records", what);
    item_list_body *b = malloc(sizeof *b);
    if (b == NULL)
        return HM_ERR_NOMEM;
    hm_err err = tx->type == CT_TX_CUSTODY_TRANSFER
                     ? ct_custody_decode(tx->body, tx->body_len, &b->custody)
                     : ct_recall_decode(tx->body, tx->body_len, &b->recall);
    if (err != HM_OK) {
        free(b);
        return refuse_body(res, err, what);
    }
    *body = b;
    return HM_OK;
}

static hm_err apply_custody(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    item_list_body *body = NULL;
    hm_err err = item_list_body_get(tx, res, "custody", &body);
    if (err != HM_OK || body == NULL)
        return err;
    const ct_custody_body *b = &body->custody;
    ct_src from = {.x = x, .s = NULL};
    ct_member_id me;
    err = signer_id(x, signer, &me);
    bool ok = false;
    if (err == HM_OK)
        err =
            member_active(&from, &b->to, CT_ROLE_BRAND | CT_ROLE_LOGISTICS | CT_ROLE_RETAILER, &ok);
    if (err == HM_OK && !ok)
        err = ct_refuse(res, HM_ERR_DENIED, CT_RULE_TRANSFER_TO, 0,
                        "custody goes to an active brand, logistics or retailer member");
    for (uint32_t i = 0; err == HM_OK && res->code == HM_OK && i < b->item_count; i++) {
        const ct_item_ref *ref = &b->items[i];
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(b->items[j].gtin, ref->gtin) == 0 &&
                strcmp(b->items[j].serial, ref->serial) == 0)
                err = ct_refuse(res, HM_ERR_CONFLICT, CT_RULE_DUPLICATE, i,
                                "item %u is listed twice", i);
        if (res->code != HM_OK)
            break;
        uint8_t *raw = NULL;
        item_value iv;
        key_buf k;
        err = item_read_listed(&from, ref, i, res, &raw, &iv, &k);
        if (err != HM_OK || res->code != HM_OK)
            break;
        ct_member_id holder, brand;
        err = item_custodian(&from, ref, &iv, &holder);
        if (err == HM_OK)
            err = gtin_owner(&from, ref->gtin, &brand);
        if (err == HM_OK && !ids_equal(&holder, &me)) {
            err = ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_CUSTODIAN, i,
                            "item %u: the signer is not its custodian", i);
        } else if (err == HM_OK) {
            if (ids_equal(&b->to, &brand)) {
                iv.flags &= (uint8_t)~F_CUSTODIAN;
            } else {
                iv.flags |= F_CUSTODIAN;
                iv.custodian = b->to;
            }
            err = item_value_put(x, &k, &iv);
        }
        free(raw);
    }
    free(body);
    return err;
}

/* ------------------------------------------------------------- recall */

static hm_err apply_recall(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    item_list_body *body = NULL;
    hm_err err = item_list_body_get(tx, res, "recall", &body);
    if (err != HM_OK || body == NULL)
        return err;
    const ct_recall_body *b = &body->recall;
    ct_src from = {.x = x, .s = NULL};
    ct_member_id me, owner;
    err = signer_id(x, signer, &me);
    if (err == HM_OK && b->mode == CT_RECALL_LOT) {
        err = gtin_owner(&from, b->gtin, &owner);
        if (err == HM_ERR_NOT_FOUND || (err == HM_OK && !ids_equal(&owner, &me))) {
            err = ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_ITEM_BRAND, 0,
                            "only the brand owning GTIN %s recalls it", b->gtin);
        } else if (err == HM_OK) {
            key_buf k;
            kb_init(&k, "p/rl/");
            kb_raw(&k, b->gtin, CT_GTIN_LEN);
            kb_lenstr(&k, b->lot);
            err = ct_state_put(x, k.b, k.n, (const uint8_t *)b->reason, strlen(b->reason));
        }
    }
    for (uint32_t i = 0;
         err == HM_OK && res->code == HM_OK && b->mode == CT_RECALL_ITEMS && i < b->item_count;
         i++) {
        const ct_item_ref *ref = &b->items[i];
        uint8_t *raw = NULL;
        item_value iv;
        key_buf k;
        err = item_read_listed(&from, ref, i, res, &raw, &iv, &k);
        if (err != HM_OK || res->code != HM_OK)
            break;
        err = gtin_owner(&from, ref->gtin, &owner);
        if (err == HM_OK && !ids_equal(&owner, &me)) {
            err = ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_ITEM_BRAND, i,
                            "item %u: only its brand recalls it", i);
        } else if (err == HM_OK) {
            iv.flags |= F_RECALLED;
            err = item_value_put(x, &k, &iv);
            if (err == HM_OK) {
                key_buf rk;
                kb_init(&rk, "p/ri/");
                kb_item(&rk, ref->gtin, ref->serial);
                err = ct_state_put(x, rk.b, rk.n, (const uint8_t *)b->reason, strlen(b->reason));
            }
        }
        free(raw);
    }
    free(body);
    return err;
}

/* -------------------------------------------------------------- claim */

static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n) {
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

static hm_err apply_claim(ct_exec *x, const ct_tx *tx, ct_result *res) {
    if (tx->has_records)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_RULE_RECORDS, 0, "a claim carries no records");
    ct_claim_body b;
    hm_err err = ct_claim_decode(tx->body, tx->body_len, &b);
    if (err != HM_OK)
        return ct_refuse(res, err, CT_RULE_BODY, 0, "claim body: %s", hm_err_message(err));
    ct_src from = {.x = x, .s = NULL};
    uint8_t *raw = NULL;
    item_value iv;
    key_buf k;
    err = item_read(&from, b.item.gtin, b.item.serial, &raw, &iv, &k);
    if (err == HM_ERR_NOT_FOUND)
        return ct_refuse(res, HM_ERR_NOT_FOUND, CT_RULE_NO_ITEM, 0, "item %s/%s is not registered",
                         b.item.gtin, b.item.serial);
    if (err != HM_OK)
        return err;
    ct_item_record ir;
    err = ct_item_record_decode(iv.record, iv.record_len, &ir);
    if (err != HM_OK) {
        free(raw);
        return HM_ERR_IO;
    }
    if (!ir.has_code) {
        err = ct_refuse(res, HM_ERR_DENIED, CT_RULE_NO_CODE, 0,
                        "item was registered without a claim code");
    } else if (iv.flags & F_CLAIMED) {
        err = ct_refuse(res, HM_ERR_CONFLICT, CT_RULE_CLAIMED, 0,
                        "item was already claimed at %llu ms", (unsigned long long)iv.claimed_ms);
    } else {
        uint8_t h[HM_HASH_LEN];
        hm_sha256(b.code, b.code_len, h);
        if (!equal_ct(h, ir.code_hash, HM_HASH_LEN)) {
            err = ct_refuse(res, HM_ERR_DENIED, CT_RULE_BAD_CODE, 0, "claim code does not match");
        } else {
            iv.flags |= F_CLAIMED;
            iv.claimed_ms = ct_exec_ctx(x)->time_ms;
            err = item_value_put(x, &k, &iv);
        }
    }
    free(raw);
    return err;
}

/* ------------------------------------------------------------ dispatch */

hm_err ct_prov_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    assert(x != NULL && tx != NULL && res != NULL);
    if (tx->type == CT_TX_CLAIM)
        return apply_claim(x, tx, res);
    if (signer == NULL)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_SIGNER, 0, "this tx type needs a signer");
    switch (tx->type) {
    case CT_TX_PREFIX_ASSIGN:
        if (tx->has_records)
            return ct_refuse(res, HM_ERR_BAD_VALUE, CT_RULE_RECORDS, 0, "carries no records");
        return apply_prefix(x, tx, signer, res);
    case CT_TX_PRODUCT_SET:
        if (tx->has_records)
            return ct_refuse(res, HM_ERR_BAD_VALUE, CT_RULE_RECORDS, 0, "carries no records");
        return apply_product(x, tx, signer, res);
    case CT_TX_ITEM_REGISTER:
        return apply_items(x, tx, signer, res);
    case CT_TX_EVENT_RECORD:
        return apply_events(x, tx, signer, res);
    case CT_TX_CUSTODY_TRANSFER:
        return apply_custody(x, tx, signer, res);
    case CT_TX_RECALL:
        return apply_recall(x, tx, signer, res);
    default:
        return ct_refuse(res, HM_ERR_UNKNOWN_TYPE, 0, 0, "unknown provenance tx type %u", tx->type);
    }
}

/* ------------------------------------------------------------- queries */

hm_err ct_query_prefix(const ct_store *s, const char *prefix, ct_member_id *owner) {
    if (s == NULL || prefix == NULL || owner == NULL)
        return HM_ERR_ARG;
    size_t n = strlen(prefix);
    if (n < CT_PREFIX_MIN || n > CT_PREFIX_MAX)
        return HM_ERR_ARG;
    ct_src from = {.x = NULL, .s = s};
    key_buf k;
    kb_init(&k, "p/px/");
    kb_raw(&k, prefix, n);
    uint8_t *val = NULL;
    size_t len = 0;
    hm_err err = ct_src_get(&from, k.b, k.n, &val, &len);
    if (err != HM_OK)
        return err;
    if (len == HM_PUBKEY_LEN)
        memcpy(owner->bytes, val, HM_PUBKEY_LEN);
    free(val);
    return len == HM_PUBKEY_LEN ? HM_OK : HM_ERR_IO;
}

hm_err ct_query_product(const ct_store *s, const char *gtin14, ct_product_body *out,
                        ct_member_id *owner) {
    if (s == NULL || gtin14 == NULL || out == NULL || owner == NULL)
        return HM_ERR_ARG;
    if (ct_gtin14_check(gtin14, NULL) != HM_OK)
        return HM_ERR_BAD_VALUE;
    ct_src from = {.x = NULL, .s = s};
    uint8_t *body = NULL;
    size_t body_len = 0;
    hm_err err = product_read(&from, gtin14, owner, NULL, &body, &body_len);
    if (err != HM_OK)
        return err;
    err = ct_product_decode(body, body_len, out);
    free(body);
    return err == HM_OK ? HM_OK : HM_ERR_IO;
}

hm_err ct_query_batch_tx(const ct_store *s, uint64_t batch, uint8_t tx_id[HM_HASH_LEN]) {
    if (s == NULL || tx_id == NULL)
        return HM_ERR_ARG;
    ct_src from = {.x = NULL, .s = s};
    key_buf bk;
    kb_init(&bk, "p/b/");
    kb_u64(&bk, batch);
    uint8_t *meta = NULL;
    size_t meta_len = 0;
    hm_err err = ct_src_get(&from, bk.b, bk.n, &meta, &meta_len);
    if (err == HM_OK && meta_len >= 1 + HM_HASH_LEN)
        memcpy(tx_id, meta + 1, HM_HASH_LEN);
    else if (err == HM_OK)
        err = HM_ERR_IO;
    free(meta);
    return err;
}

hm_err ct_query_item(const ct_store *s, const char *gtin14, const char *serial,
                     ct_item_status *out) {
    uint64_t batch = 0;
    hm_err err = ct_query_item_in_batch(s, gtin14, serial, out, &batch);
    if (err != HM_OK)
        return err;
    /* The registering tx id, from the batch meta. */
    err = ct_query_batch_tx(s, batch, out->reg_tx);
    return err == HM_ERR_NOT_FOUND ? HM_ERR_IO : err; /* an item without its batch: damage */
}

hm_err ct_query_item_in_batch(const ct_store *s, const char *gtin14, const char *serial,
                              ct_item_status *out, uint64_t *batch) {
    if (s == NULL || gtin14 == NULL || serial == NULL || out == NULL || batch == NULL)
        return HM_ERR_ARG;
    if (ct_gtin14_check(gtin14, NULL) != HM_OK || ct_gs1_serial_check(serial, NULL) != HM_OK)
        return HM_ERR_BAD_VALUE;
    ct_src from = {.x = NULL, .s = s};
    uint8_t *raw = NULL;
    item_value iv;
    key_buf k;
    hm_err err = item_read(&from, gtin14, serial, &raw, &iv, &k);
    if (err != HM_OK)
        return err;
    ct_item_status st;
    memset(&st, 0, sizeof st);
    err = ct_item_record_decode(iv.record, iv.record_len, &st.record);
    if (err == HM_OK) {
        ct_item_ref ref;
        strcpy(ref.gtin, gtin14);
        strcpy(ref.serial, serial);
        err = gtin_owner(&from, gtin14, &st.brand);
        if (err == HM_OK)
            err = item_custodian(&from, &ref, &iv, &st.custodian);
    }
    /* reg_tx stays zero here: the batch meta holds it (ct_query_batch_tx). */
    *batch = iv.batch;
    st.reg_index = iv.index;
    st.claimed = (iv.flags & F_CLAIMED) != 0;
    st.claimed_ms = iv.claimed_ms;
    st.event_count = iv.event_count;
    if (iv.flags & F_EVENTS)
        memcpy(st.last_event, iv.last_event, HM_HASH_LEN);
    free(raw);
    if (err == HM_ERR_NOT_FOUND)
        err = HM_ERR_IO; /* an item without its brand or batch: damage */
    /* Recalled by item, else by lot. */
    for (int pass = 0; err == HM_OK && pass < 2 && !st.recalled; pass++) {
        key_buf rk;
        if (pass == 0) {
            if (!(iv.flags & F_RECALLED))
                continue;
            kb_init(&rk, "p/ri/");
            kb_item(&rk, gtin14, serial);
        } else {
            if (st.record.lot[0] == '\0')
                continue;
            kb_init(&rk, "p/rl/");
            kb_raw(&rk, gtin14, CT_GTIN_LEN);
            kb_lenstr(&rk, st.record.lot);
        }
        uint8_t *reason = NULL;
        size_t reason_len = 0;
        hm_err rerr = ct_src_get(&from, rk.b, rk.n, &reason, &reason_len);
        if (rerr == HM_OK) {
            st.recalled = true;
            size_t n = reason_len < CT_RECALL_REASON_MAX ? reason_len : CT_RECALL_REASON_MAX;
            if (n > 0)
                memcpy(st.recall_reason, reason, n);
            st.recall_reason[n] = '\0';
        } else if (rerr != HM_ERR_NOT_FOUND) {
            err = rerr;
        }
        free(reason);
    }
    if (err == HM_OK)
        *out = st;
    return err;
}

static hm_err batch_by_tx(const ct_src *from, const uint8_t tx_id[HM_HASH_LEN], uint64_t *batch) {
    key_buf k;
    kb_init(&k, "p/bt/");
    kb_raw(&k, tx_id, HM_HASH_LEN);
    uint8_t *val = NULL;
    size_t len = 0;
    hm_err err = ct_src_get(from, k.b, k.n, &val, &len);
    if (err != HM_OK)
        return err;
    if (len == 8)
        *batch = be_u64(val);
    free(val);
    return len == 8 ? HM_OK : HM_ERR_IO;
}

/* The leaf hashes of one stored chunk: read directly (events), or
 * recomputed from the records held in the chunk's items' values (items).
 * leaves receives up to CT_CHUNK_LEAVES hashes. */
static hm_err chunk_leaves(const ct_src *from, uint8_t type, const uint8_t *chunk, size_t chunk_len,
                           uint8_t (*leaves)[HM_HASH_LEN], size_t *count) {
    *count = 0;
    if (type != CT_TX_ITEM_REGISTER) {
        if (chunk_len % HM_HASH_LEN != 0 || chunk_len / HM_HASH_LEN > CT_CHUNK_LEAVES)
            return HM_ERR_IO;
        memcpy(leaves, chunk, chunk_len);
        *count = chunk_len / HM_HASH_LEN;
        return HM_OK;
    }
    size_t pos = 0;
    while (pos < chunk_len) {
        size_t key_len = chunk_item_key_len(chunk, chunk_len, pos);
        if (*count == CT_CHUNK_LEAVES || key_len == 0)
            return HM_ERR_IO;
        key_buf k;
        kb_init(&k, "p/i/");
        kb_raw(&k, chunk + pos, key_len);
        uint8_t *val = NULL;
        size_t val_len = 0;
        hm_err err = ct_src_get(from, k.b, k.n, &val, &val_len);
        if (err != HM_OK)
            return err == HM_ERR_NOT_FOUND ? HM_ERR_IO : err;
        item_value iv;
        err = item_value_decode(val, val_len, &iv);
        if (err == HM_OK)
            hm_merkle_leaf_hash(iv.record, iv.record_len, leaves[*count]);
        free(val);
        if (err != HM_OK)
            return err;
        (*count)++;
        pos += key_len;
    }
    return HM_OK;
}

static hm_err record_proof_by_batch(const ct_src *from, uint64_t batch, uint32_t index,
                                    ct_record_proof *out) {
    key_buf k;
    kb_init(&k, "p/b/");
    kb_u64(&k, batch);
    uint8_t *meta = NULL;
    size_t meta_len = 0;
    hm_err err = ct_src_get(from, k.b, k.n, &meta, &meta_len);
    if (err != HM_OK)
        return err == HM_ERR_NOT_FOUND ? HM_ERR_NOT_FOUND : err;
    hm_reader r;
    hm_reader_init(&r, meta, meta_len);
    uint8_t type = hm_get_u8(&r);
    uint8_t txid[HM_HASH_LEN];
    hm_get_raw(&r, txid, HM_HASH_LEN);
    uint32_t count = (uint32_t)hm_get_varint(&r, CT_BATCH_RECORDS_MAX);
    hm_get_raw(&r, out->root, HM_HASH_LEN);
    uint32_t chunks = (count + CT_CHUNK_LEAVES - 1) / CT_CHUNK_LEAVES;
    if (hm_reader_error(&r) != HM_OK || meta_len - r.pos != (size_t)chunks * HM_HASH_LEN) {
        free(meta);
        return HM_ERR_IO;
    }
    if (index >= count) {
        free(meta);
        return HM_ERR_NOT_FOUND;
    }
    const uint8_t(*chunk_roots)[HM_HASH_LEN] = (const uint8_t(*)[HM_HASH_LEN])(meta + r.pos);
    uint32_t chunk = index / CT_CHUNK_LEAVES;
    kb_chunk(&k, batch, chunk);
    uint8_t *stored = NULL;
    size_t stored_len = 0;
    err = ct_src_get(from, k.b, k.n, &stored, &stored_len);
    uint8_t leaves[CT_CHUNK_LEAVES][HM_HASH_LEN];
    size_t chunk_count = 0;
    uint32_t in_chunk = index % CT_CHUNK_LEAVES;
    if (err == HM_OK)
        err = chunk_leaves(from, type, stored, stored_len, leaves, &chunk_count);
    if (err == HM_OK && in_chunk >= chunk_count)
        err = HM_ERR_IO;
    /* The chunk must give back the root signed for it: a damaged store
     * never yields a wrong proof. */
    if (err == HM_OK) {
        uint8_t root[HM_HASH_LEN];
        hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])leaves, chunk_count, root);
        if (memcmp(root, chunk_roots[chunk], HM_HASH_LEN) != 0)
            err = HM_ERR_IO;
    }
    size_t low_len = 0, high_len = 0;
    if (err == HM_OK)
        err = hm_merkle_inclusion_proof((const uint8_t(*)[HM_HASH_LEN])leaves, chunk_count,
                                        in_chunk, out->path, &low_len);
    if (err == HM_OK)
        err = hm_merkle_inclusion_proof(chunk_roots, chunks, chunk, out->path + low_len, &high_len);
    if (err == HM_OK) {
        memcpy(out->leaf_hash, leaves[in_chunk], HM_HASH_LEN);
        out->path_len = low_len + high_len;
        out->tree_size = count;
        out->index = index;
    }
    free(stored);
    free(meta);
    return err == HM_ERR_NOT_FOUND ? HM_ERR_IO : err;
}

hm_err ct_query_record_proof(const ct_store *s, const uint8_t tx_id[HM_HASH_LEN], uint32_t index,
                             ct_record_proof *out) {
    if (s == NULL || tx_id == NULL || out == NULL)
        return HM_ERR_ARG;
    ct_src from = {.x = NULL, .s = s};
    uint64_t batch = 0;
    hm_err err = batch_by_tx(&from, tx_id, &batch);
    if (err != HM_OK)
        return err;
    return record_proof_by_batch(&from, batch, index, out);
}

void ct_stored_event_clear(ct_stored_event *e) {
    if (e == NULL)
        return;
    free(e->record);
    memset(e, 0, sizeof *e);
}

hm_err ct_query_event(const ct_store *s, const uint8_t hash[HM_HASH_LEN], ct_stored_event *out) {
    if (s == NULL || hash == NULL || out == NULL)
        return HM_ERR_ARG;
    ct_src from = {.x = NULL, .s = s};
    key_buf k;
    kb_init(&k, "p/e/");
    kb_raw(&k, hash, HM_HASH_LEN);
    uint8_t *val = NULL;
    size_t len = 0;
    hm_err err = ct_src_get(&from, k.b, k.n, &val, &len);
    if (err != HM_OK)
        return err;
    ct_stored_event e;
    memset(&e, 0, sizeof e);
    hm_reader r;
    hm_reader_init(&r, val, len);
    hm_get_raw(&r, e.signer.bytes, HM_PUBKEY_LEN);
    uint64_t batch = hm_get_varint(&r, UINT64_MAX);
    e.index = (uint32_t)hm_get_varint(&r, CT_BATCH_RECORDS_MAX);
    if (hm_reader_error(&r) != HM_OK || r.pos >= len) {
        free(val);
        return HM_ERR_IO;
    }
    e.record_len = len - r.pos;
    e.record = malloc(e.record_len);
    if (e.record == NULL) {
        free(val);
        return HM_ERR_NOMEM;
    }
    memcpy(e.record, val + r.pos, e.record_len);
    free(val);
    kb_init(&k, "p/b/");
    kb_u64(&k, batch);
    uint8_t *meta = NULL;
    size_t meta_len = 0;
    err = ct_src_get(&from, k.b, k.n, &meta, &meta_len);
    if (err == HM_OK && meta_len >= 1 + HM_HASH_LEN)
        memcpy(e.tx_id, meta + 1, HM_HASH_LEN);
    else if (err == HM_OK || err == HM_ERR_NOT_FOUND)
        err = HM_ERR_IO;
    free(meta);
    if (err != HM_OK) {
        ct_stored_event_clear(&e);
        return err;
    }
    *out = e;
    return HM_OK;
}

/* ---------------------------------------------------------- pagination */

typedef struct page page;
typedef bool (*page_row_fn)(page *p, const uint8_t *key, size_t key_len, const uint8_t *val,
                            size_t val_len, bool *emit);
struct page {
    const ct_src *from;
    uint32_t limit, emitted;
    uint32_t visited, visit_max; /* bound on rows examined (filters) */
    page_row_fn row;
    void *arg;
    const ct_event_filter *filter;
    ct_hash_visit_fn hash_visit;
    size_t prefix_len;
    uint8_t *next;
    size_t *next_len;
    hm_err err;
};

static bool page_visit(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                       size_t val_len) {
    page *p = arg;
    if (p->emitted == p->limit || p->visited == p->visit_max) {
        /* One more row exists: the cursor is the last row handed out (or,
         * when a filter bounded the scan, the last row examined). */
        return false;
    }
    p->visited++;
    bool emit = false;
    bool go_on = p->row(p, key, key_len, val, val_len, &emit);
    memcpy(p->next, key, key_len);
    *p->next_len = key_len;
    if (emit)
        p->emitted++;
    return go_on && p->err == HM_OK;
}

/* Runs a paginated scan over [start, end) resuming after the cursor. */
static hm_err page_run(page *p, const uint8_t *start, size_t start_len, const uint8_t *end,
                       size_t end_len, const uint8_t *after, size_t after_len) {
    if (p->limit == 0 || p->limit > CT_PAGE_MAX)
        return HM_ERR_ARG;
    key_buf from_key;
    if (after != NULL && after_len > 0) {
        /* The cursor must lie in this listing's range. */
        if (after_len + 1 > CT_KEY_MAX || after_len < start_len ||
            memcmp(after, start, p->prefix_len) != 0 || memcmp(after, start, start_len) < 0)
            return HM_ERR_ARG;
        kb_after(&from_key, after, after_len);
    } else {
        from_key.n = 0;
        kb_raw(&from_key, start, start_len);
    }
    *p->next_len = 0;
    hm_err err = ct_src_scan(p->from, from_key.b, from_key.n, end, end_len, page_visit, p);
    if (err == HM_OK)
        err = p->err;
    if (err != HM_OK)
        return err;
    /* Whether anything follows the last visited row decides the cursor. */
    if (*p->next_len > 0) {
        key_buf probe;
        kb_after(&probe, p->next, *p->next_len);
        bool more = false;
        err = ct_src_scan(p->from, probe.b, probe.n, end, end_len, ct_visit_found, &more);
        if (err != HM_OK)
            return err;
        if (!more)
            *p->next_len = 0;
    }
    return HM_OK;
}

/* Runs a paginated scan over the keys that start with prefix. */
static hm_err page_run_prefix(page *p, const key_buf *prefix, const uint8_t *after,
                              size_t after_len) {
    key_buf end = *prefix;
    kb_past_prefix(&end);
    p->prefix_len = prefix->n;
    return page_run(p, prefix->b, prefix->n, end.b, end.n, after, after_len);
}

static bool row_history(page *p, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len, bool *emit) {
    (void)key;
    (void)key_len;
    if (val_len != HM_HASH_LEN) {
        p->err = HM_ERR_IO;
        return false;
    }
    *emit = true;
    return p->hash_visit(p->arg, val);
}

hm_err ct_query_item_history(const ct_store *s, const char *gtin14, const char *serial,
                             const uint8_t *after, size_t after_len, uint32_t limit,
                             ct_hash_visit_fn visit, void *arg, uint8_t *next, size_t *next_len) {
    if (s == NULL || gtin14 == NULL || serial == NULL || visit == NULL || next == NULL ||
        next_len == NULL)
        return HM_ERR_ARG;
    if (ct_gtin14_check(gtin14, NULL) != HM_OK || ct_gs1_serial_check(serial, NULL) != HM_OK)
        return HM_ERR_BAD_VALUE;
    ct_src from = {.x = NULL, .s = s};
    key_buf start;
    kb_init(&start, "p/h/");
    kb_item(&start, gtin14, serial);
    page p = {.from = &from,
              .limit = limit,
              .visit_max = UINT32_MAX,
              .row = row_history,
              .arg = arg,
              .hash_visit = visit,
              .next = next,
              .next_len = next_len};
    return page_run_prefix(&p, &start, after, after_len);
}

/* A brand's items are listed batch by batch (p/bb/ names the brand's item
 * batches in order), each batch's items in record order from its chunks
 * (p/c/, the item keys). The cursor is the last item handed out: u64 batch ·
 * u32 index, big-endian. */
#define BRAND_CURSOR_LEN 12

/* Where a listing of a brand's items stands: handing out (until limit or
 * the visitor says stop), then looking for one more item to know whether a
 * cursor is due. */
typedef struct {
    const ct_src *src;
    uint64_t from_batch; /* the cursor's batch: its items from from_index on */
    uint32_t from_index;
    uint32_t limit, emitted;
    bool stopped;
    ct_item_visit_fn visit;
    void *arg;
    uint8_t *next;
    size_t *next_len;
    uint64_t last_batch;
    uint32_t last_index;
    hm_err err;
} brand_listing;

/* Hands out the items of one chunk from index `from` on; false once the
 * listing is over (its cursor then set) or the chunk is damaged. */
static bool brand_chunk_items(brand_listing *l, uint64_t batch, uint32_t first, uint32_t from,
                              const uint8_t *chunk, size_t chunk_len) {
    if (chunk_len == 0) {
        l->err = HM_ERR_IO; /* a stored chunk names at least one item */
        return false;
    }
    size_t pos = 0;
    uint32_t index = first;
    while (pos < chunk_len) {
        size_t key_len = chunk_item_key_len(chunk, chunk_len, pos);
        if (index - first == CT_CHUNK_LEAVES || key_len == 0) {
            l->err = HM_ERR_IO;
            return false;
        }
        size_t serial_len = key_len - CT_GTIN_LEN - 1;
        if (index >= from) {
            if (l->stopped) {
                /* one more exists: the cursor is the last item handed out */
                key_buf c = {.n = 0};
                kb_u64(&c, l->last_batch);
                kb_u32(&c, l->last_index);
                assert(c.n == BRAND_CURSOR_LEN);
                memcpy(l->next, c.b, c.n);
                *l->next_len = c.n;
                return false;
            }
            char gtin[CT_GTIN_LEN + 1], serial[CT_SERIAL_MAX + 1];
            memcpy(gtin, chunk + pos, CT_GTIN_LEN);
            gtin[CT_GTIN_LEN] = '\0';
            memcpy(serial, chunk + pos + CT_GTIN_LEN + 1, serial_len);
            serial[serial_len] = '\0';
            bool go_on = l->visit(l->arg, gtin, serial);
            l->emitted++;
            l->last_batch = batch;
            l->last_index = index;
            l->stopped = !go_on || l->emitted == l->limit;
        }
        pos += key_len;
        index++;
    }
    return true;
}

/* One of the brand's item batches (a p/bb/ row, in batch order): its items
 * from its chunks. A batch's chunks are numbered from 0 without gaps: the
 * first missing one ends it. */
static bool visit_brand_batch(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                              size_t val_len) {
    (void)val;
    (void)val_len;
    brand_listing *l = arg;
    if (key_len != 5 + HM_PUBKEY_LEN + 8) {
        l->err = HM_ERR_IO;
        return false;
    }
    uint64_t batch = be_u64(key + 5 + HM_PUBKEY_LEN);
    uint32_t from = batch == l->from_batch ? l->from_index : 0;
    for (uint32_t chunk = from / CT_CHUNK_LEAVES;; chunk++) {
        key_buf ck;
        kb_chunk(&ck, batch, chunk);
        uint8_t *stored = NULL;
        size_t stored_len = 0;
        hm_err err = ct_src_get(l->src, ck.b, ck.n, &stored, &stored_len);
        if (err == HM_ERR_NOT_FOUND)
            return true;
        if (err != HM_OK) {
            l->err = err;
            return false;
        }
        bool go_on = brand_chunk_items(l, batch, chunk * CT_CHUNK_LEAVES, from, stored, stored_len);
        free(stored);
        if (!go_on)
            return false;
    }
}

hm_err ct_query_brand_items(const ct_store *s, const ct_member_id *brand, const uint8_t *after,
                            size_t after_len, uint32_t limit, ct_item_visit_fn visit, void *arg,
                            uint8_t *next, size_t *next_len) {
    if (s == NULL || brand == NULL || visit == NULL || next == NULL || next_len == NULL)
        return HM_ERR_ARG;
    if (limit == 0 || limit > CT_PAGE_MAX)
        return HM_ERR_ARG;
    ct_src src = {.x = NULL, .s = s};
    brand_listing l = {.src = &src,
                       .limit = limit,
                       .visit = visit,
                       .arg = arg,
                       .next = next,
                       .next_len = next_len,
                       .err = HM_OK};
    if (after != NULL && after_len > 0) {
        if (after_len != BRAND_CURSOR_LEN)
            return HM_ERR_ARG;
        hm_reader r;
        hm_reader_init(&r, after, after_len);
        l.from_batch = hm_get_u64(&r);
        uint32_t index = hm_get_u32(&r);
        if (index >= CT_BATCH_RECORDS_MAX)
            return HM_ERR_ARG;
        l.from_index = index + 1;
    }
    *next_len = 0;
    /* One scan over the brand's batches from the cursor's on, the chunks
     * read as each batch comes. */
    key_buf start, end;
    kb_init(&start, "p/bb/");
    kb_raw(&start, brand->bytes, HM_PUBKEY_LEN);
    end = start;
    kb_past_prefix(&end);
    kb_u64(&start, l.from_batch);
    hm_err err = ct_src_scan(&src, start.b, start.n, end.b, end.n, visit_brand_batch, &l);
    return err != HM_OK ? err : l.err;
}

/* Rows of the time indexes end with <u64 time><hash>. A filter not served by
 * the index (bizStep with a GTIN index) is checked on the stored event. */
static bool row_event(page *p, const uint8_t *key, size_t key_len, const uint8_t *val,
                      size_t val_len, bool *emit) {
    (void)val;
    (void)val_len;
    if (key_len < p->prefix_len + 8 + HM_HASH_LEN) {
        p->err = HM_ERR_IO;
        return false;
    }
    const uint8_t *hash = key + key_len - HM_HASH_LEN;
    const ct_event_filter *f = p->filter;
    bool bizstep_in_key = key[2] == 'e' && key[3] == 's';
    if (f->biz_step[0] != '\0' && !bizstep_in_key) {
        ct_stored_event se;
        hm_err err = ct_query_event(p->from->s, hash, &se);
        if (err != HM_OK) {
            p->err = err == HM_ERR_NOT_FOUND ? HM_ERR_IO : err;
            return false;
        }
        ct_event_record *ev = malloc(sizeof *ev);
        if (ev == NULL) {
            ct_stored_event_clear(&se);
            p->err = HM_ERR_NOMEM;
            return false;
        }
        err = ct_event_record_decode(se.record, se.record_len, ev);
        bool match = err == HM_OK && strcmp(ev->biz_step, f->biz_step) == 0;
        free(ev);
        ct_stored_event_clear(&se);
        if (err != HM_OK) {
            p->err = err == HM_ERR_NOMEM ? err : HM_ERR_IO;
            return false;
        }
        if (!match)
            return true;
    }
    *emit = true;
    return p->hash_visit(p->arg, hash);
}

hm_err ct_query_events(const ct_store *s, const ct_event_filter *f, const uint8_t *after,
                       size_t after_len, uint32_t limit, ct_hash_visit_fn visit, void *arg,
                       uint8_t *next, size_t *next_len) {
    if (s == NULL || f == NULL || visit == NULL || next == NULL || next_len == NULL)
        return HM_ERR_ARG;
    if (f->gtin[0] != '\0' && ct_gtin14_check(f->gtin, NULL) != HM_OK)
        return HM_ERR_BAD_VALUE;
    if (f->lot[0] != '\0' && (f->gtin[0] == '\0' || ct_gs1_serial_check(f->lot, NULL) != HM_OK))
        return HM_ERR_BAD_VALUE;
    if (f->time_to_ms != 0 && f->time_to_ms <= f->time_from_ms)
        return HM_ERR_BAD_VALUE;
    ct_src from = {.x = NULL, .s = s};
    key_buf base;
    if (f->lot[0] != '\0') {
        kb_init(&base, "p/el/");
        kb_raw(&base, f->gtin, CT_GTIN_LEN);
        kb_lenstr(&base, f->lot);
    } else if (f->gtin[0] != '\0') {
        kb_init(&base, "p/eg/");
        kb_raw(&base, f->gtin, CT_GTIN_LEN);
    } else if (f->biz_step[0] != '\0') {
        uint8_t h[HM_HASH_LEN];
        hm_sha256((const uint8_t *)f->biz_step, strlen(f->biz_step), h);
        kb_init(&base, "p/es/");
        kb_raw(&base, h, 16);
    } else {
        kb_init(&base, "p/et/");
    }
    key_buf start = base, end = base;
    kb_u64(&start, f->time_from_ms);
    if (f->time_to_ms != 0) {
        kb_u64(&end, f->time_to_ms);
    } else {
        kb_past_prefix(&end);
    }
    page p = {.from = &from,
              .limit = limit,
              .visit_max = 10u * CT_PAGE_MAX,
              .row = row_event,
              .arg = arg,
              .filter = f,
              .hash_visit = visit,
              .prefix_len = base.n,
              .next = next,
              .next_len = next_len};
    return page_run(&p, start.b, start.n, end.b, end.n, after, after_len);
}
