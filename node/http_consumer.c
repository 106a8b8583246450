/* node/http_consumer.c — the GS1 Digital Link resolver: the consumer page
 * (HTML, or JSON with the proof bundle), the ownership claim form, QR codes
 * of item URIs, and per-record proof bundles.
 *
 *   GET  /01/{gtin}[/22/..][/10/{lot}]/21/{serial}[?...]   page or JSON (Accept)
 *   POST /01/{gtin}/.../21/{serial}    form field "code": submits a keyless CLAIM
 *   GET  /v1/items/{gtin}/{serial}/qr.svg                  QR of the item's URI
 *   GET  /v1/proofs/{tx id hex}/{record index}             one record's bundle
 *
 * The Digital Link paths (/01/...) are also served on the resolver listener
 * (resolver_listen, node/lane.c), which this module opens: one function
 * (answer_dl) builds each answer from the request's fields for both ports,
 * so that both send the same bytes.
 *
 * Layer: node/. Reads committed state through contracts/ct_provenance.h and
 * the chain through nd.h; renders with node/page.c; builds bundles with
 * contracts/ct_bundle.h. The lookup counter is node-local memory (not
 * consensus state, not proven, reset when the node restarts): it says how
 * often this node served a code. Caching rules are in docs/proofs.md §6.
 * The record trees that bundles take their paths from are built in the
 * commit hook for large batches (from the block's txs as the node holds
 * them), so that the cost lands beside the commit that executed those
 * records rather than inside a shopper's lookup.
 *
 * Never: block the loop, trust the path (the GS1 parser validates it first),
 * or answer a stale status: responses are no-cache, and answers and shared
 * state rows kept in memory are dropped by the first block that writes
 * state; only what a committed block fixed for good is kept longer. */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "ct_bundle.h"
#include "ct_gs1.h"
#include "nd.h"
#include "lane.h"
#include "nd_int.h"
#include "page.h"

#define LOOKUP_ITEMS_MAX (2u * 1024 * 1024) /* codes counted */
/* Slots of the counter table, allocated at once (64 MB of address space;
 * pages are touched as codes arrive): growing it would rehash up to a
 * million codes inside one lookup. Half full at most, so probes stay short. */
#define LOOKUP_SLOTS (2u * LOOKUP_ITEMS_MAX)
#define TX_CACHE_SIZE 256   /* tx positions (head, block, path) */
#define BLOCK_CACHE_SIZE 64 /* headers and certificates */
/* Record trees of batch txs, kept by bytes (about 64 bytes per record:
 * 64 MB holds a million records' trees), hashed by tx id. */
#define TREE_CACHE_BYTES_MAX (256u * 1024 * 1024)
#define TREE_BUCKETS 1024
/* Batch txs with at least this many records get their tree built when their
 * block commits; smaller ones cost well under a millisecond on first use. */
#define TREE_WARM_RECORDS_MIN 1024
#define ANSWER_CACHE_SIZE 1024 /* rendered answers (about 25 KB each) */
/* Codes seen since the filter was last cleared (one bit per hash bucket,
 * 128 KB): a rendering is kept only for a code asked for again within the
 * last ANSWER_SEEN_WINDOW first lookups. The filter is cleared then, so at
 * most 1 in 32 bits is set: a code seen for the first time is taken for a
 * repeat at most that often. */
#define ANSWER_SEEN_BITS (1u << 20)
#define ANSWER_SEEN_WINDOW (ANSWER_SEEN_BITS / 32)
#define STATE_CACHE_SLOTS 1024 /* shared state rows (power of two) */
#define STATE_CACHE_KEY_MAX 64
#define STATE_CACHE_VALUE_MAX 4096
#define BATCH_CACHE_SIZE 64   /* batch number -> registering tx id */
#define PRODUCT_CACHE_SIZE 64 /* what the page shows of a GTIN and its brand */
#define CLAIM_FORM_MAX 1024
#define STEM_MAX 256

/* ------------------------------------------------------------ lookups */

/* 16 bytes per code: the 64-bit hash of "gtin/serial" stands for the code
 * (two codes sharing a hash would share a count: about 1 in 10^7 for a
 * million codes, acceptable for a counter that proves nothing). */
typedef struct {
    uint64_t hash; /* 0: empty slot */
    uint32_t count;
    uint32_t first_s; /* Unix seconds */
} lookup_slot;

typedef struct {
    uint8_t id[HM_HASH_LEN];
    uint8_t *head_sig; /* head || sig */
    size_t head_sig_len;
    uint64_t height;
    uint64_t index;
    uint64_t tree_size;
    size_t path_len;
    uint8_t path[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
} tx_pos;

typedef struct {
    ct_bundle_block block;
    char *json; /* the block's piece of a bundle's JSON text, or NULL */
    size_t json_len;
} block_slot;

/* What a search of the tx and block caches reads, apart from the entries
 * (2 KB and 9 KB each): one compact array per cache, so that a lookup that
 * searches a cache reads 4 KB rather than touching every entry. */
typedef struct {
    uint64_t key;      /* 0: empty; the height, or a tx id's first 8 bytes | 1 */
    uint64_t last_use; /* use counter (least recently used out) */
} cache_ref;

/* A rendered answer for one code without its lookup counter, kept while no
 * block has written state (generation): the status it shows cannot have
 * changed. kinds: 0 English page, 1 Chinese page, 2 JSON. */
#define ANSWER_KINDS 3
#define ANSWER_JSON 2
typedef struct {
    uint64_t hash; /* of the key; 0: empty */
    char key[CT_GTIN_LEN + 1 + CT_SERIAL_MAX + 1];
    uint64_t generation;
    int status;
    char *body[ANSWER_KINDS];
    /* The JSON's proof bundle, kept beside body[ANSWER_JSON] and sent after
     * it as ,"proof":{...}} (NULL: no proof, body is the whole answer). */
    char *proof;
    size_t proof_len;
    size_t len[ANSWER_KINDS];
    nd_page_layout layout[ANSWER_KINDS];       /* JSON: lookups_at alone (after the '{') */
    uint8_t digest[ANSWER_KINDS][HM_HASH_LEN]; /* stands for body (answer_tag) */
} answer_slot;

/* The record tree of a batch tx, kept whole so that any record's path costs
 * O(log n) (about 6.4 MB for 100,000 records). */
typedef struct tree_entry {
    struct tree_entry *next; /* in its bucket */
    uint8_t id[HM_HASH_LEN];
    hm_merkle_tree *tree;
    uint64_t last_use;
    size_t bytes; /* what it holds, counted against TREE_CACHE_BYTES_MAX */
} tree_entry;

/* A committed state row that many items share (a GS1 prefix's owner, a
 * product, a lot's recall, a member), or its absence, as read while no block
 * has written state since (generation). */
typedef struct {
    uint64_t hash; /* of the key; 0: empty */
    uint64_t generation;
    bool found;
    uint8_t key_len;
    uint8_t key[STATE_CACHE_KEY_MAX];
    uint8_t *val;
    size_t val_len;
} state_slot;

typedef struct {
    bool used;
    uint64_t batch;
    uint8_t tx_id[HM_HASH_LEN];
} batch_slot;

/* A product and its brand's name as shown, read in generation. */
typedef struct {
    bool used;
    uint64_t generation;
    char gtin[CT_GTIN_LEN + 1];
    ct_member_id brand;
    char product[CT_PRODUCT_NAME_MAX + 1];
    char description[CT_PRODUCT_DESC_MAX + 1];
    char image_url[CT_PRODUCT_URL_MAX + 1];
    char brand_name[CT_MEMBER_NAME_MAX + 1];
} product_slot;

typedef struct {
    nd_node *node;
    ct_store cached_state; /* the committed state through state_slots */
    state_slot *state_slots;
    batch_slot batches[BATCH_CACHE_SIZE];
    product_slot *products;        /* PRODUCT_CACHE_SIZE, by GTIN hash */
    nd_page_item *item;            /* scratch: an item is large (about 35 KB) */
    uint8_t tag_salt[HM_HASH_LEN]; /* drawn at startup: tags never repeat across runs */
    uint64_t answer_serial;        /* kept renderings made since startup */
    lookup_slot *lookups;
    size_t lookup_cap; /* power of two */
    size_t lookup_count;
    tx_pos txs[TX_CACHE_SIZE];
    cache_ref tx_refs[TX_CACHE_SIZE];
    block_slot *blocks; /* BLOCK_CACHE_SIZE */
    cache_ref block_refs[BLOCK_CACHE_SIZE];
    tree_entry *trees[TREE_BUCKETS]; /* by the first bytes of the tx id */
    size_t tree_bytes;               /* sum of the kept trees' bytes */
    uint64_t clock;                  /* use counter of the caches above (least recently used out) */
    answer_slot *answers;            /* ANSWER_CACHE_SIZE, by key hash */
    /* Where a code's first lookup is rendered: kept renderings of 1,024
     * codes are 16 MB, beyond the CPU's caches, and a random lookup that
     * rendered into the slot it evicted wrote its 11 KB to memory that had
     * gone cold (about 3 us of a 19 us lookup); this one slot stays warm. A
     * code whose bit in seen is set gets a kept slot instead. */
    answer_slot once;
    uint64_t *seen;         /* ANSWER_SEEN_BITS bits */
    size_t seen_count;      /* bits set; cleared at ANSWER_SEEN_WINDOW */
    uint64_t generation;    /* blocks that wrote state */
    ct_event_record *event; /* scratch: events are large */
    ct_gs1_dl *dl;          /* scratch of route_dl */
    /* scratch of bundle_add_record: a record's path to its batch root */
    uint8_t (*record_path)[HM_HASH_LEN];
    /* The opening of every bundle's JSON text (chain id and validators are
     * fixed for the node's life), rendered on first use; NULL until then. */
    char *bundle_head;
    size_t bundle_head_len;
    /* scratch of answer_build: one bundle reset per rendering (its arrays
     * of a block's certificate and an entry's paths, 9 and 4 KB, are kept
     * rather than allocated and freed for every lookup) */
    ct_bundle *bundle;
    bool bundle_ready; /* initialised for this node's chain and validators */
} consumer_api;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* FNV-1a, never 0 (0 marks an empty slot). */
static uint64_t key_hash(const char *key) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = key; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    }
    return h != 0 ? h : 1;
}

/* Copies the text src into dst (cap bytes, cap > 0), cut to fit as
 * snprintf("%s") would, without a printf per field of every rendering. */
static void text_copy(char *dst, size_t cap, const char *src) {
    assert(cap > 0);
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ------------------------------------------------------ shared state */

/* FNV-1a of bytes, never 0. */
static uint64_t bytes_hash(const uint8_t *b, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h != 0 ? h : 1;
}

/* Rows shared by many items (docs/provenance.md key schema): what a lookup
 * reads besides the item's own rows. An item's own rows (p/i/, p/h/, p/ri/)
 * are read through: a random lookup would only push shared rows out. */
static bool state_shared(const uint8_t *key, size_t key_len) {
    static const char *const prefixes[] = {"p/px/", "p/g/", "p/rl/", "m/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (key_len >= n && memcmp(key, prefixes[i], n) == 0) {
            return true;
        }
    }
    return false;
}

/* ct_store get through the kept rows. A kept row is valid only for the
 * generation it was read in: any block that writes state starts a new one,
 * so a row never outlives a change (recall, product update, revocation). */
static hm_err cached_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                         size_t *val_len) {
    consumer_api *api = ctx;
    const ct_store *base = nd_node_state_store(api->node);
    if (key_len > STATE_CACHE_KEY_MAX || !state_shared(key, key_len)) {
        return base->get(base->ctx, key, key_len, val, val_len);
    }
    uint64_t h = bytes_hash(key, key_len);
    state_slot *slot = &api->state_slots[h & (STATE_CACHE_SLOTS - 1)];
    bool hit = slot->hash == h && slot->generation == api->generation && slot->key_len == key_len &&
               memcmp(slot->key, key, key_len) == 0;
    if (!hit) {
        uint8_t *v = NULL;
        size_t v_len = 0;
        hm_err err = base->get(base->ctx, key, key_len, &v, &v_len);
        if (err != HM_OK && err != HM_ERR_NOT_FOUND) {
            return err;
        }
        if (err == HM_OK && v_len > STATE_CACHE_VALUE_MAX) {
            *val = v;
            *val_len = v_len;
            return HM_OK;
        }
        free(slot->val);
        slot->hash = h;
        slot->generation = api->generation;
        slot->found = err == HM_OK;
        slot->key_len = (uint8_t)key_len;
        memcpy(slot->key, key, key_len);
        slot->val = v; /* NULL when not found */
        slot->val_len = err == HM_OK ? v_len : 0;
    }
    if (!slot->found) {
        return HM_ERR_NOT_FOUND;
    }
    uint8_t *copy = malloc(slot->val_len ? slot->val_len : 1);
    if (copy == NULL) {
        return HM_ERR_NOMEM;
    }
    if (slot->val_len > 0) {
        memcpy(copy, slot->val, slot->val_len);
    }
    *val = copy;
    *val_len = slot->val_len;
    return HM_OK;
}

static hm_err cached_scan(void *ctx, const uint8_t *start, size_t start_len, const uint8_t *end,
                          size_t end_len, ct_visit_fn visit, void *arg) {
    consumer_api *api = ctx;
    const ct_store *base = nd_node_state_store(api->node);
    return base->scan(base->ctx, start, start_len, end, end_len, visit, arg);
}

/* The registering tx of a batch: fixed once the batch is committed, and
 * its meta is large, so it is read once per batch. */
static hm_err batch_tx(consumer_api *api, uint64_t batch, uint8_t tx_id[HM_HASH_LEN]) {
    batch_slot *slot = &api->batches[batch % BATCH_CACHE_SIZE];
    if (!slot->used || slot->batch != batch) {
        hm_err err = ct_query_batch_tx(nd_node_state_store(api->node), batch, slot->tx_id);
        if (err != HM_OK) {
            slot->used = false;
            return err == HM_ERR_NOT_FOUND ? HM_ERR_IO : err;
        }
        slot->used = true;
        slot->batch = batch;
    }
    memcpy(tx_id, slot->tx_id, HM_HASH_LEN);
    return HM_OK;
}

static_assert(CT_GS1_SERIAL_MAX <= CT_SERIAL_MAX, "a parsed serial fits a counter key");
static_assert((LOOKUP_SLOTS & (LOOKUP_SLOTS - 1)) == 0, "the counter table is a power of two");
static_assert(LOOKUP_SLOTS >= 2u * LOOKUP_ITEMS_MAX, "the counter table stays half empty");

/* Counts one lookup of the code whose key_hash is h; writes the count (this
 * one included) and when the code was first looked up here. Past
 * LOOKUP_ITEMS_MAX codes, new codes are served without a count (first 0). */
static void lookup_count(consumer_api *api, uint64_t h, uint64_t *count, uint64_t *first) {
    *count = 1;
    *first = 0;
    size_t j = h & (api->lookup_cap - 1);
    while (api->lookups[j].hash != 0) {
        if (api->lookups[j].hash == h) {
            if (api->lookups[j].count < UINT32_MAX) {
                api->lookups[j].count++;
            }
            *count = api->lookups[j].count;
            *first = (uint64_t)api->lookups[j].first_s * 1000u;
            return;
        }
        j = (j + 1) & (api->lookup_cap - 1);
    }
    if (api->lookup_count >= LOOKUP_ITEMS_MAX) {
        return;
    }
    assert((api->lookup_count + 1) * 2 <= api->lookup_cap);
    lookup_slot *slot = &api->lookups[j];
    slot->hash = h;
    slot->count = 1;
    slot->first_s = (uint32_t)(now_ms() / 1000u);
    api->lookup_count++;
    *first = (uint64_t)slot->first_s * 1000u;
}

/* --------------------------------------------------------- chain pieces */

/* The tx and block caches are searched whole (a few hundred entries, in
 * their compact cache_ref arrays): a hashed slot can make two hot entries
 * evict each other on every lookup, and an eviction here costs reading a
 * block of up to 100,000 records. */

/* The slot to fill: an empty one, else the least recently used. */
static size_t ref_victim(const cache_ref *refs, size_t n) {
    size_t pick = 0;
    for (size_t i = 0; i < n; i++) {
        if (refs[i].key == 0) {
            return i;
        }
        if (refs[i].last_use < refs[pick].last_use) {
            pick = i;
        }
    }
    return pick;
}

/* The slot holding key, or n when none does. */
static size_t ref_lookup(const cache_ref *refs, size_t n, uint64_t key) {
    for (size_t i = 0; i < n; i++) {
        if (refs[i].key == key) {
            return i;
        }
    }
    return n;
}

/* The slot holding key (*hit true), else the one to fill. */
static size_t ref_find(const cache_ref *refs, size_t n, uint64_t key, bool *hit) {
    size_t i = ref_lookup(refs, n, key);
    *hit = i < n;
    return *hit ? i : ref_victim(refs, n);
}

static hm_err get_block(consumer_api *api, uint64_t height, const ct_bundle_block **out) {
    assert(height != 0); /* 0 marks an empty slot */
    bool hit = false;
    size_t i = ref_find(api->block_refs, BLOCK_CACHE_SIZE, height, &hit);
    block_slot *slot = &api->blocks[i];
    api->block_refs[i].last_use = ++api->clock;
    if (!hit) {
        api->block_refs[i].key = 0;
        free(slot->json);
        slot->json = NULL;
        slot->json_len = 0;
        hm_err err = nd_node_block_header(api->node, height, &slot->block.header);
        if (err == HM_OK) {
            err = nd_node_block_cert(api->node, height, &slot->block.cert);
        }
        if (err != HM_OK) {
            return err;
        }
        assert(slot->block.header.height == height);
        api->block_refs[i].key = height;
        /* Every bundle with a record of this block repeats this text; when
         * it cannot be made, bundles render it themselves. */
        if (ct_bundle_json_block_text(&slot->block.header, &slot->block.cert, &slot->json,
                                      &slot->json_len) != HM_OK) {
            slot->json = NULL;
            slot->json_len = 0;
        }
    }
    *out = &slot->block;
    return HM_OK;
}

/* The cache key of a tx id: its first 8 bytes (ids are SHA-256 outputs),
 * never 0. */
static uint64_t tx_key(const uint8_t id[HM_HASH_LEN]) {
    uint64_t k;
    memcpy(&k, id, sizeof k);
    return k | 1;
}

/* The tx cache slot for id: the one holding it (*hit true) or the one to
 * fill (empty, else least recently used). */
static size_t tx_slot(consumer_api *api, const uint8_t id[HM_HASH_LEN], bool *hit) {
    uint64_t key = tx_key(id);
    for (size_t i = 0; i < TX_CACHE_SIZE; i++) {
        /* Equal keys are checked on the whole id. */
        if (api->tx_refs[i].key == key && memcmp(api->txs[i].id, id, HM_HASH_LEN) == 0) {
            *hit = true;
            return i;
        }
    }
    *hit = false;
    return ref_victim(api->tx_refs, TX_CACHE_SIZE);
}

/* Keeps where the decoded tx d (id d->id) is: block height, position index
 * in a block of tree_size txs, path to the tx root. */
static hm_err tx_keep(consumer_api *api, const ct_tx *d, uint64_t height, uint32_t index,
                      uint64_t tree_size, const uint8_t (*path)[HM_HASH_LEN], size_t path_len,
                      const tx_pos **out) {
    assert(path_len <= HM_MERKLE_PROOF_MAX);
    bool hit = false;
    size_t i = tx_slot(api, d->id, &hit);
    tx_pos *p = &api->txs[i];
    size_t hs_len = d->head_len + HM_SIG_LEN;
    uint8_t *hs = malloc(hs_len);
    if (hs == NULL) {
        return HM_ERR_NOMEM;
    }
    /* The signature follows the head in the encoding (ct_tx_decode). */
    memcpy(hs, d->head, hs_len);
    free(p->head_sig);
    memset(p, 0, sizeof *p);
    memcpy(p->id, d->id, HM_HASH_LEN);
    api->tx_refs[i].key = tx_key(d->id);
    api->tx_refs[i].last_use = ++api->clock;
    p->head_sig = hs;
    p->head_sig_len = hs_len;
    p->height = height;
    p->index = index;
    p->tree_size = tree_size;
    p->path_len = path_len;
    memcpy(p->path, path, path_len * HM_HASH_LEN);
    if (out != NULL) {
        *out = p;
    }
    return HM_OK;
}

/* Where tx id is: its head and signature, block and path. A committed tx's
 * position never changes, so it is cached (loading a batch of 100,000
 * records to find its head is the expensive part of a bundle). */
static hm_err get_tx(consumer_api *api, const uint8_t id[HM_HASH_LEN], const tx_pos **out) {
    bool hit = false;
    size_t i = tx_slot(api, id, &hit);
    if (hit) {
        api->tx_refs[i].last_use = ++api->clock;
        *out = &api->txs[i];
        return HM_OK;
    }
    uint64_t height;
    uint32_t index;
    hm_err err = nd_node_tx_locate(api->node, id, &height, &index);
    if (err != HM_OK) {
        return err;
    }
    /* The tx is decoded in place in its block, located once above
     * (nd_node_tx_bytes would locate it again and copy it out). */
    nd_block blk;
    err = nd_node_block_read(api->node, height, &blk);
    if (err != HM_OK) {
        return err;
    }
    ct_tx d;
    if (index >= blk.tx_count || ct_tx_decode(blk.txs[index], blk.tx_lens[index], &d) != HM_OK) {
        nd_block_clear(&blk);
        return HM_ERR_IO;
    }
    typedef struct {
        uint8_t path[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    } tx_path;
    tx_path *tp = malloc(sizeof *tp);
    size_t path_len = 0;
    uint64_t tree_size = 0;
    err = tp == NULL ? HM_ERR_NOMEM
                     : nd_node_tx_inclusion_proof(api->node, height, index, tp->path, &path_len,
                                                  &tree_size);
    if (err == HM_OK) {
        err = tx_keep(api, &d, height, index, tree_size, (const uint8_t(*)[HM_HASH_LEN])tp->path,
                      path_len, out);
    }
    free(tp);
    nd_block_clear(&blk);
    return err;
}

/* ------------------------------------------------------- record trees */

static size_t tree_bucket(const uint8_t id[HM_HASH_LEN]) {
    /* Tx ids are SHA-256 outputs: their first bytes are already uniform. */
    return ((size_t)id[0] | (size_t)id[1] << 8) % TREE_BUCKETS;
}

static tree_entry *tree_find(consumer_api *api, const uint8_t id[HM_HASH_LEN]) {
    for (tree_entry *e = api->trees[tree_bucket(id)]; e != NULL; e = e->next) {
        if (memcmp(e->id, id, HM_HASH_LEN) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Drops the least recently used tree other than keep. False if none. */
static bool tree_evict_one(consumer_api *api, const tree_entry *keep) {
    tree_entry **victim = NULL;
    for (size_t b = 0; b < TREE_BUCKETS; b++) {
        for (tree_entry **e = &api->trees[b]; *e != NULL; e = &(*e)->next) {
            if (*e != keep && (victim == NULL || (*e)->last_use < (*victim)->last_use)) {
                victim = e;
            }
        }
    }
    if (victim == NULL) {
        return false;
    }
    tree_entry *gone = *victim;
    *victim = gone->next;
    assert(api->tree_bytes >= gone->bytes);
    api->tree_bytes -= gone->bytes;
    hm_merkle_tree_free(gone->tree);
    free(gone);
    return true;
}

/* Builds the record tree of the decoded batch tx d and checks it against
 * the root its signer signed (a mismatch is damage: HM_ERR_IO). */
static hm_err tree_build(const ct_tx *d, const uint8_t (*given)[HM_HASH_LEN],
                         hm_merkle_tree **out) {
    if (!d->has_records || d->record_count == 0) {
        return HM_ERR_IO;
    }
    /* the leaves the node hashed when it admitted the tx, when it did */
    uint8_t(*leaves)[HM_HASH_LEN] =
        given != NULL ? NULL : malloc((size_t)d->record_count * HM_HASH_LEN);
    if (given == NULL && leaves == NULL) {
        return HM_ERR_NOMEM;
    }
    size_t pos = 0, n = given != NULL ? d->record_count : 0;
    const uint8_t *rec;
    size_t rec_len;
    while (n < d->record_count && ct_tx_record_next(d, &pos, &rec, &rec_len)) {
        hm_merkle_leaf_hash(rec, rec_len, leaves[n++]);
    }
    hm_merkle_tree *tree = NULL;
    hm_err err = n == d->record_count
                     ? hm_merkle_tree_new(
                           given != NULL ? given : (const uint8_t(*)[HM_HASH_LEN])leaves, n, &tree)
                     : HM_ERR_IO;
    free(leaves);
    if (err != HM_OK) {
        return err;
    }
    uint8_t root[HM_HASH_LEN];
    hm_merkle_tree_root(tree, root);
    if (memcmp(root, d->records_root, HM_HASH_LEN) != 0) {
        hm_merkle_tree_free(tree);
        return HM_ERR_IO;
    }
    *out = tree;
    return HM_OK;
}

/* Keeps tree (taking it) for tx id, dropping the least recently used trees
 * while the kept bytes exceed the budget. */
static hm_err tree_keep(consumer_api *api, const uint8_t id[HM_HASH_LEN], hm_merkle_tree *tree,
                        const hm_merkle_tree **out) {
    tree_entry *e = tree_find(api, id);
    if (e != NULL) {
        hm_merkle_tree_free(tree); /* the same tree, built twice */
    } else {
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            hm_merkle_tree_free(tree);
            return HM_ERR_NOMEM;
        }
        memcpy(e->id, id, HM_HASH_LEN);
        e->tree = tree;
        /* Every level: fewer than 2n + 64 nodes (lib/merkle.c). */
        e->bytes = sizeof *e + (2 * hm_merkle_tree_size(tree) + 64) * HM_HASH_LEN;
        size_t b = tree_bucket(id);
        e->next = api->trees[b];
        api->trees[b] = e;
        api->tree_bytes += e->bytes;
    }
    e->last_use = ++api->clock;
    while (api->tree_bytes > TREE_CACHE_BYTES_MAX && tree_evict_one(api, e)) {
    }
    if (out != NULL) {
        *out = e->tree;
    }
    return HM_OK;
}

/* The record tree of batch tx id: kept, or built from the tx's records
 * (once per batch; blocks warm large batches' trees as they commit). */
static hm_err get_tree(consumer_api *api, const uint8_t id[HM_HASH_LEN],
                       const hm_merkle_tree **out) {
    tree_entry *e = tree_find(api, id);
    if (e != NULL) {
        e->last_use = ++api->clock;
        *out = e->tree;
        return HM_OK;
    }
    uint8_t *tx = NULL;
    size_t tx_len = 0;
    hm_err err = nd_node_tx_bytes(api->node, id, &tx, &tx_len);
    if (err != HM_OK) {
        return err;
    }
    ct_tx d;
    hm_merkle_tree *tree = NULL;
    err = ct_tx_decode(tx, tx_len, &d) == HM_OK ? tree_build(&d, NULL, &tree) : HM_ERR_IO;
    free(tx);
    if (err != HM_OK) {
        return err;
    }
    if (d.record_count >= TREE_WARM_RECORDS_MIN) {
        /* Evicted, or committed before this process started. */
        hm_log(HM_LOG_INFO, "consumer_tree_built", "records=%u from=lookup", d.record_count);
    }
    return tree_keep(api, id, tree, out);
}

/* Warms the caches with the large batch txs of the block just committed at
 * height: their record trees and positions, built now from the block's txs
 * as the node holds them (not read back from the store), so that no lookup waits for a batch's tree
 * (tens of milliseconds for 100,000 records). Costs the tree's inner hashes; the leaves are those
 * the node hashed when it admitted the batch (nd_block_txs), else hashed here once more. Best
 * effort: a failure only leaves the work to the first lookup. */
static void warm_block(consumer_api *api, uint64_t height, const nd_block_txs *blk) {
    /* Each tx decoded once: the large batches are warmed below, and all
     * txs' leaves are needed for the batches' own paths. */
    ct_tx *ds = malloc((blk->count ? blk->count : 1) * sizeof *ds);
    bool any = false;
    for (uint32_t i = 0; ds != NULL && i < blk->count; i++) {
        if (ct_tx_decode(blk->txs[i], blk->lens[i], &ds[i]) != HM_OK) {
            any = false; /* no leaves, no paths: leave it all to lookups */
            break;
        }
        any = any || (ds[i].has_records && ds[i].record_count >= TREE_WARM_RECORDS_MIN);
    }
    uint8_t(*leaves)[HM_HASH_LEN] = NULL;
    typedef struct {
        uint8_t path[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    } tx_path;
    tx_path *tp = NULL;
    if (any) {
        leaves = malloc(blk->count * sizeof *leaves);
        tp = malloc(sizeof *tp);
    }
    if (leaves != NULL && tp != NULL) {
        for (uint32_t j = 0; j < blk->count; j++) {
            ct_tx_leaf_hash(&ds[j], leaves[j]);
        }
    }
    for (uint32_t i = 0; leaves != NULL && tp != NULL && i < blk->count; i++) {
        const ct_tx *d = &ds[i];
        if (!d->has_records || d->record_count < TREE_WARM_RECORDS_MIN) {
            continue;
        }
        size_t path_len = 0;
        if (hm_merkle_inclusion_proof((const uint8_t(*)[HM_HASH_LEN])leaves, blk->count, i,
                                      tp->path, &path_len) == HM_OK &&
            tx_keep(api, d, height, i, blk->count, (const uint8_t(*)[HM_HASH_LEN])tp->path,
                    path_len, NULL) != HM_OK) {
            break;
        }
        hm_merkle_tree *tree = NULL;
        if (tree_find(api, d->id) != NULL) {
            continue;
        }
        if (tree_build(d, blk->leaves != NULL ? blk->leaves[i] : NULL, &tree) != HM_OK ||
            tree_keep(api, d->id, tree, NULL) != HM_OK) {
            break;
        }
        hm_log(HM_LOG_INFO, "consumer_tree_built", "height=%llu index=%u records=%u from=commit",
               (unsigned long long)height, i, d->record_count);
    }
    free(tp);
    free(leaves);
    free(ds);
}

/* Adds the record (tx_id, index) with its proofs to b. */
static hm_err bundle_add_record(consumer_api *api, ct_bundle *b, const uint8_t tx_id[HM_HASH_LEN],
                                uint32_t index, const uint8_t *record, size_t record_len) {
    uint8_t(*path)[HM_HASH_LEN] = api->record_path;
    size_t path_len = 0;
    const hm_merkle_tree *tree = NULL;
    hm_err err = get_tree(api, tx_id, &tree);
    if (err == HM_OK) {
        err = hm_merkle_tree_proof(tree, index, path, &path_len);
    }
    const tx_pos *tp = NULL;
    const ct_bundle_block *blk = NULL;
    if (err == HM_OK) {
        err = get_tx(api, tx_id, &tp);
    }
    if (err == HM_OK) {
        err = get_block(api, tp->height, &blk);
    }
    uint32_t blk_index = 0;
    if (err == HM_OK) {
        err = ct_bundle_add_block(b, &blk->header, &blk->cert, &blk_index);
    }
    if (err == HM_OK) {
        err = ct_bundle_add_entry(b, CT_BUNDLE_RECORD, tp->head_sig, tp->head_sig_len, record,
                                  record_len, index, (const uint8_t(*)[HM_HASH_LEN])path, path_len,
                                  blk_index, tp->index, tp->tree_size,
                                  (const uint8_t(*)[HM_HASH_LEN])tp->path, tp->path_len);
    }
    return err;
}

/* ----------------------------------------------------------- item data */

typedef struct {
    uint8_t (*hashes)[HM_HASH_LEN];
    uint32_t count;
} hash_list;

static bool collect_hash(void *arg, const uint8_t hash[HM_HASH_LEN]) {
    hash_list *l = arg;
    if (l->count >= ND_PAGE_EVENTS_MAX - 1) {
        return false;
    }
    memcpy(l->hashes[l->count++], hash, HM_HASH_LEN);
    return true;
}

/* The product of gtin14 and the name of its brand as the page shows them
 * (empty when not set), kept for the generation they were read in: every
 * item of a product shows the same. NULL only when out of memory. */
static const product_slot *product_get(consumer_api *api, const char *gtin14,
                                       const ct_member_id *brand) {
    product_slot *slot = &api->products[key_hash(gtin14) % PRODUCT_CACHE_SIZE];
    if (slot->used && slot->generation == api->generation && strcmp(slot->gtin, gtin14) == 0 &&
        memcmp(slot->brand.bytes, brand->bytes, sizeof brand->bytes) == 0) {
        return slot;
    }
    ct_product_body *prod = malloc(sizeof *prod);
    if (prod == NULL) {
        return NULL;
    }
    const ct_store *s = &api->cached_state;
    memset(slot, 0, sizeof *slot);
    ct_member_id owner;
    hm_err perr = ct_query_product(s, gtin14, prod, &owner);
    if (perr == HM_OK) {
        text_copy(slot->product, sizeof slot->product, prod->name);
        text_copy(slot->description, sizeof slot->description, prod->description);
        text_copy(slot->image_url, sizeof slot->image_url, prod->image_url);
    }
    free(prod);
    ct_member member;
    hm_err merr = ct_query_member_id(s, brand, &member);
    if (merr == HM_OK) {
        text_copy(slot->brand_name, sizeof slot->brand_name, member.name);
    }
    text_copy(slot->gtin, sizeof slot->gtin, gtin14);
    slot->brand = *brand;
    slot->generation = api->generation;
    /* Shown as read; kept only if nothing failed on the way (a missing
     * product or member is an answer, a read error is not). */
    slot->used =
        (perr == HM_OK || perr == HM_ERR_NOT_FOUND) && (merr == HM_OK || merr == HM_ERR_NOT_FOUND);
    return slot;
}

/* Fills it (and the bundle, when b is not NULL) for gtin14/serial.
 * HM_ERR_NOT_FOUND for an unregistered item (it->state is then UNKNOWN). */
static hm_err item_load(consumer_api *api, const char *gtin14, const char *serial, nd_page_item *it,
                        ct_bundle *b) {
    const ct_store *s = &api->cached_state;
    text_copy(it->gtin, sizeof it->gtin, gtin14);
    text_copy(it->serial, sizeof it->serial, serial);
    ct_item_status st;
    uint64_t batch = 0;
    hm_err err = ct_query_item_in_batch(s, gtin14, serial, &st, &batch);
    if (err == HM_OK) {
        err = batch_tx(api, batch, st.reg_tx);
    }
    if (err == HM_ERR_NOT_FOUND) {
        it->state = ND_ITEM_UNKNOWN;
        return HM_ERR_NOT_FOUND;
    }
    if (err != HM_OK) {
        return err;
    }
    it->state = st.recalled ? ND_ITEM_RECALLED : st.claimed ? ND_ITEM_CLAIMED : ND_ITEM_GENUINE;
    it->claimed_ms = st.claimed_ms;
    it->claimable = st.record.has_code && !st.claimed && !st.recalled;
    text_copy(it->lot, sizeof it->lot, st.record.lot);
    text_copy(it->recall_reason, sizeof it->recall_reason, st.recall_reason);
    const product_slot *ps = product_get(api, gtin14, &st.brand);
    if (ps != NULL) {
        memcpy(it->product, ps->product, sizeof it->product);
        memcpy(it->description, ps->description, sizeof it->description);
        memcpy(it->image_url, ps->image_url, sizeof it->image_url);
        memcpy(it->brand, ps->brand_name, sizeof it->brand);
    }
    const tx_pos *reg = NULL;
    const ct_bundle_block *blk = NULL;
    if (get_tx(api, st.reg_tx, &reg) == HM_OK && get_block(api, reg->height, &blk) == HM_OK) {
        it->registered_ms = blk->header.time_ms;
    }
    if (b != NULL) {
        /* A record is at most CT_RECORD_MAX bytes: encoded on the stack. */
        uint8_t rec[CT_RECORD_MAX];
        hm_writer w;
        hm_writer_init(&w, rec, sizeof rec);
        err = ct_item_record_encode(&st.record, &w);
        if (err == HM_OK) {
            err = bundle_add_record(api, b, st.reg_tx, st.reg_index, rec, w.len);
        }
        if (err != HM_OK) {
            return err;
        }
    }
    uint8_t hashes[ND_PAGE_EVENTS_MAX][HM_HASH_LEN];
    hash_list list = {hashes, 0};
    uint8_t next[CT_KEY_MAX];
    size_t next_len = 0;
    /* Every history row is counted in the item's value: an item without
     * events has no rows to scan for. */
    if (st.event_count > 0) {
        err = ct_query_item_history(s, gtin14, serial, NULL, 0, ND_PAGE_EVENTS_MAX - 1,
                                    collect_hash, &list, next, &next_len);
        if (err != HM_OK && err != HM_ERR_NOT_FOUND) {
            return err;
        }
    }
    for (uint32_t i = 0; i < list.count; i++) {
        ct_stored_event ev;
        if (ct_query_event(s, hashes[i], &ev) != HM_OK) {
            continue;
        }
        if (ct_event_record_decode(ev.record, ev.record_len, api->event) == HM_OK) {
            nd_page_event *pe = &it->events[it->event_count++];
            pe->time_ms = api->event->event_time_ms;
            text_copy(pe->biz_step, sizeof pe->biz_step, api->event->biz_step);
            text_copy(pe->location, sizeof pe->location,
                      api->event->biz_location[0] ? api->event->biz_location
                                                  : api->event->read_point);
            if (b != NULL) {
                err = bundle_add_record(api, b, ev.tx_id, ev.index, ev.record, ev.record_len);
            }
        }
        ct_stored_event_clear(&ev);
        if (err != HM_OK && b != NULL) {
            return err;
        }
    }
    return HM_OK;
}

/* ------------------------------------------------------------- replies
 *
 * Every answer of the Digital Link routes is built once as an nd_answer
 * (node/lane.h) from the request's fields (nd_consumer_request), and then
 * sent by whichever port took the request: answer_send hands it to
 * libevent on the API port, node/lane.c writes it itself on the resolver
 * port. The headers are listed in the order libevent's answers always
 * carried them. */

/* A body in up to ND_ANSWER_PARTS pieces: a kept answer split around its
 * counter and, for a page, around its static style sheet and script. */
typedef struct {
    const uint8_t *data;
    size_t len;
} body_part;

#define BODY_PARTS ND_ANSWER_PARTS
static_assert(BODY_PARTS >= ND_PAGE_PARTS, "a page's parts fit an answer");

/* Sends a through libevent: its headers, then nd_http_send (Date,
 * Content-Length, HEAD without a body). The body is copied once, into one
 * chain. */
static void answer_send(struct evhttp_request *req, const nd_answer *a) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    for (uint32_t i = 0; i < a->header_count; i++) {
        evhttp_add_header(h, a->headers[i].name, a->headers[i].value);
    }
    if (!a->has_body) {
        nd_http_send(req, a->status, a->reason, NULL);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    size_t total = 0;
    for (int i = 0; i < BODY_PARTS; i++) {
        total += a->part_len[i];
    }
    /* One chain for the whole body: one copy, one write. */
    bool ok = b != NULL && evbuffer_expand(b, total) == 0;
    for (int i = 0; ok && i < BODY_PARTS; i++) {
        ok = a->part_len[i] == 0 || evbuffer_add(b, a->part[i], a->part_len[i]) == 0;
    }
    if (!ok) {
        if (b != NULL) {
            evbuffer_free(b);
        }
        nd_http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    nd_http_send(req, a->status, a->reason, b);
    evbuffer_free(b);
}

/* The fields of an evhttp request that the routes read. */
static void request_fields(struct evhttp_request *req, nd_consumer_request *q) {
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    q->method = cmd == EVHTTP_REQ_GET    ? ND_LANE_GET
                : cmd == EVHTTP_REQ_HEAD ? ND_LANE_HEAD
                : cmd == EVHTTP_REQ_POST ? ND_LANE_POST
                                         : ND_LANE_OTHER;
    q->uri = evhttp_request_get_uri(req);
    q->accept = evhttp_find_header(in, "Accept");
    q->accept_language = evhttp_find_header(in, "Accept-Language");
    q->if_none_match = evhttp_find_header(in, "If-None-Match");
    q->body = NULL;
    q->body_len = 0;
    if (cmd == EVHTTP_REQ_POST) {
        struct evbuffer *body = evhttp_request_get_input_buffer(req);
        q->body_len = evbuffer_get_length(body);
        /* Only the claim form reads a body, and form_code refuses one over
         * CLAIM_FORM_MAX by its length alone: a larger body (up to
         * http_body_max) is not made contiguous for nothing. */
        if (q->body_len > CLAIM_FORM_MAX) {
            return;
        }
        q->body = q->body_len > 0 ? evbuffer_pullup(body, -1) : NULL;
        if (q->body == NULL) {
            q->body_len = 0;
        }
    }
}

/* Fills a with the parts and a strong ETag; 304 when the client has it.
 * digest NULL: the ETag is the SHA-256 of the body (one part); else digest
 * is used (a hash that already stands for exactly these bytes). */
static void answer_parts(nd_answer *a, const char *if_none_match, int status,
                         const char *content_type, const char *cache_control,
                         const body_part parts[BODY_PARTS], const uint8_t *given_digest) {
    uint8_t digest[HM_HASH_LEN];
    if (given_digest != NULL) {
        memcpy(digest, given_digest, HM_HASH_LEN);
    } else {
        for (int i = 1; i < BODY_PARTS; i++) {
            assert(parts[i].len == 0);
        }
        hm_sha256(parts[0].data, parts[0].len, digest);
    }
    static_assert(sizeof a->etag == 2 + 2 * HM_HASH_LEN + 1, "an ETag is a quoted digest");
    a->etag[0] = '"';
    hm_hex_encode(digest, HM_HASH_LEN, a->etag + 1);
    a->etag[1 + 2 * HM_HASH_LEN] = '"';
    a->etag[2 + 2 * HM_HASH_LEN] = '\0';
    nd_answer_header_add(a, "ETag", a->etag);
    nd_answer_header_add(a, "Cache-Control", cache_control);
    nd_answer_header_add(a, "X-Content-Type-Options", "nosniff");
    if (status == 200 && if_none_match != NULL && strstr(if_none_match, a->etag) != NULL) {
        a->status = 304;
        a->reason = "Not Modified";
        a->has_body = false;
        return;
    }
    a->status = status;
    a->has_body = true;
    for (int i = 0; i < BODY_PARTS; i++) {
        a->part[i] = parts[i].data;
        a->part_len[i] = parts[i].len;
    }
    nd_answer_header_add(a, "Content-Type", content_type);
}

/* An answer of static bytes with a content type (nd_http_reply_bytes). */
static void answer_bytes(nd_answer *a, int status, const char *content_type, const uint8_t *data,
                         size_t len) {
    a->status = status;
    nd_answer_header_add(a, "Content-Type", content_type);
    nd_answer_body(a, data, len);
}

/* evhttp routes that reply with one tagged body (QR codes, proofs). */
static void reply_tagged(struct evhttp_request *req, int status, const char *content_type,
                         const char *cache_control, const uint8_t *body, size_t len) {
    body_part parts[BODY_PARTS] = {{body, len}};
    nd_answer a;
    nd_answer_init(&a);
    answer_parts(&a, evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match"),
                 status, content_type, cache_control, parts, NULL);
    answer_send(req, &a);
    nd_answer_clear(&a);
}

static void answer_html(nd_answer *a, const nd_consumer_request *q, int status, nd_lang lang,
                        const body_part parts[BODY_PARTS], const uint8_t *digest) {
    nd_answer_header_add(a, "Content-Language", lang == ND_LANG_ZH ? "zh-CN" : "en");
    nd_answer_header_add(a, "Vary", "Accept, Accept-Language");
    /* Inline style and script are ours; nothing may load from elsewhere. */
    nd_answer_header_add(
        a, "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    answer_parts(a, q->if_none_match, status, "text/html; charset=utf-8", "no-cache", parts,
                 digest);
}

static bool wants_json(const nd_consumer_request *q) {
    return q->accept != NULL && strstr(q->accept, "application/json") != NULL &&
           strstr(q->accept, "text/html") == NULL;
}

static nd_lang request_lang(const nd_consumer_request *q) {
    const char *q_mark = strchr(q->uri, '?');
    /* ?lang=zh|en (the page's language switch) wins over the header. */
    if (q_mark != NULL) {
        if (strstr(q_mark, "lang=zh") != NULL) {
            return ND_LANG_ZH;
        }
        if (strstr(q_mark, "lang=en") != NULL) {
            return ND_LANG_EN;
        }
    }
    return nd_page_lang(q->accept_language);
}

/* ------------------------------------------------------------ routes */

/* A digest that stands for the rendering just kept in a slot: SHA-256 of
 * (startup salt || serial number of the rendering || kind). A kept
 * rendering never changes and serial numbers are never reused while the
 * node runs, so the same digest always stands for the same bytes; hashing
 * the 3 to 11 KB of the answer itself would buy nothing, because every
 * answer served also carries the lookup counter, which moves with every
 * lookup. */
static void answer_tag(consumer_api *api, int kind, uint8_t out[HM_HASH_LEN]) {
    uint8_t in[HM_HASH_LEN + 8 + 1];
    uint64_t serial = ++api->answer_serial;
    assert(serial != 0); /* 2^64 renderings */
    memcpy(in, api->tag_salt, HM_HASH_LEN);
    for (int i = 0; i < 8; i++) {
        in[HM_HASH_LEN + i] = (uint8_t)(serial >> (56 - 8 * i));
    }
    in[HM_HASH_LEN + 8] = (uint8_t)kind;
    hm_sha256(in, sizeof in, out);
}

/* b's JSON text, with the pieces every bundle of this node shares copied
 * in rather than rendered again: the opening (chain id and validators) and
 * each block's header and certificate as kept beside the block. */
static hm_err bundle_json_text(consumer_api *api, const ct_bundle *b, char **out, size_t *out_len) {
    if (api->bundle_head == NULL &&
        ct_bundle_json_head_text(b->chain_id, &b->vset, &api->bundle_head, &api->bundle_head_len) !=
            HM_OK) {
        api->bundle_head = NULL; /* rendered per bundle */
    }
    ct_bundle_json_piece head = {api->bundle_head, api->bundle_head_len};
    ct_bundle_json_piece blocks[CT_BUNDLE_BLOCKS_MAX];
    assert(b->block_count <= CT_BUNDLE_BLOCKS_MAX);
    for (uint32_t i = 0; i < b->block_count; i++) {
        blocks[i] = (ct_bundle_json_piece){NULL, 0};
        /* A kept slot of a height holds that height's committed block, the
         * one the bundle copied (committed blocks never change). */
        size_t k = ref_lookup(api->block_refs, BLOCK_CACHE_SIZE, b->blocks[i].header.height);
        if (k < BLOCK_CACHE_SIZE && api->blocks[k].json != NULL) {
            blocks[i] = (ct_bundle_json_piece){api->blocks[k].json, api->blocks[k].json_len};
        }
    }
    return ct_bundle_to_json_text_pieces(b, &head, blocks, out, out_len);
}

/* Renders the answer of kind for dl into slot (which is for dl's key and
 * the current generation). Returns HM_OK, or an error already replied. */
static hm_err answer_build(consumer_api *api, nd_answer *ans, const ct_gs1_dl *dl,
                           answer_slot *slot, int kind) {
    /* The events array is read only up to event_count: clearing the rest
     * of the scratch item is enough. */
    nd_page_item *it = api->item;
    memset(it, 0, offsetof(nd_page_item, events));
    it->lookups = 0;
    it->first_lookup_ms = 0;
    it->self_path = NULL;
    it->chain_id = NULL;
    it->bundle_json = NULL;
    /* The chain id and validators are the node's for its whole life: the
     * scratch bundle is initialised once and emptied for each rendering
     * (here, so that no exit below has to). */
    ct_bundle *b = api->bundle;
    if (!api->bundle_ready) {
        const nd_genesis *g = nd_node_genesis(api->node);
        api->bundle_ready = ct_bundle_init(b, nd_node_chain_id(api->node), &g->vset) == HM_OK;
    }
    ct_bundle_reset(api->bundle_ready ? b : NULL);
    bool have_bundle = api->bundle_ready;
    assert(!have_bundle || (b->entry_count == 0 && b->block_count == 0));
    hm_err err = item_load(api, dl->gtin, dl->serial, it, have_bundle ? b : NULL);
    if (err != HM_OK && err != HM_ERR_NOT_FOUND) {
        /* The status can still be shown; the proof could not be built. */
        hm_log(HM_LOG_WARN, "consumer_bundle", "gtin=%s serial=%s err=%s", dl->gtin, dl->serial,
               hm_err_name(err));
        have_bundle = false;
        if (it->state == 0) {
            nd_answer_error(ans, nd_http_status_for(err), hm_err_name(err), "cannot read the item");
            return err;
        }
    }
    if (it->state == ND_ITEM_UNKNOWN || (have_bundle && b->entry_count == 0)) {
        have_bundle = false;
    }
    /* The page's claim form is the only reader of the item's own path
     * (the JSON and a page without the form never show it). */
    char self[CT_GS1_DL_URI_MAX];
    self[0] = '\0';
    if (kind != ANSWER_JSON && it->claimable &&
        ct_gs1_dl_item_uri("", dl->gtin, dl->serial, self, sizeof self, NULL) != HM_OK) {
        self[0] = '\0';
    }
    it->self_path = self;
    it->chain_id = nd_node_chain_id(api->node);
    char *bundle_text = NULL;
    size_t bundle_len = 0;
    if (have_bundle && bundle_json_text(api, b, &bundle_text, &bundle_len) != HM_OK) {
        bundle_text = NULL;
    }
    it->bundle_json = bundle_text;
    slot->status = it->state == ND_ITEM_UNKNOWN ? 404 : 200;
    err = HM_OK;
    if (kind == ANSWER_JSON) {
        /* The counter is written per lookup, right after the '{'. */
        char *text = NULL;
        size_t text_len = 0;
        if (nd_page_item_json_text(it, &text, &text_len) == HM_ERR_BAD_VALUE) {
            /* Not UTF-8: jansson decides, as it always did (it refuses). */
            json_t *j = nd_page_item_json(it);
            if (j != NULL) {
                json_object_del(j, "lookups");
            }
            text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
            json_decref(j);
            text_len = text != NULL ? strlen(text) : 0;
        }
        /* The proof goes out as ,"proof":{...} before the closing '}', in
         * parts (serve_item): kept as rendered, not copied together. */
        if (text == NULL || text_len < 2 || text[text_len - 1] != '}') {
            err = HM_ERR_NOMEM;
            free(text);
        } else {
            slot->body[kind] = text;
            slot->len[kind] = text_len;
            slot->layout[kind] = (nd_page_layout){.lookups_at = 1, .js_at = 1};
            assert(slot->proof == NULL); /* set with body[ANSWER_JSON] only */
            slot->proof = bundle_text;
            slot->proof_len = bundle_len;
            bundle_text = NULL; /* the slot's now */
        }
    } else {
        err = nd_page_render_html_split(it, (nd_lang)kind, &slot->body[kind], &slot->len[kind],
                                        &slot->layout[kind]);
    }
    if (err != HM_OK) {
        nd_answer_error(ans, 500, "internal", "out of memory");
    } else {
        answer_tag(api, kind, slot->digest[kind]);
    }
    free(bundle_text);
    return err;
}

static void answer_clear(answer_slot *slot) {
    for (int k = 0; k < ANSWER_KINDS; k++) {
        free(slot->body[k]);
    }
    free(slot->proof);
    memset(slot, 0, sizeof *slot);
}

/* Whether the code of hash h was asked for since the filter was last
 * cleared; marks it. Two codes may share a bit: one of them is then kept
 * on its first lookup, which costs nothing but the slot. */
static bool seen_again(consumer_api *api, uint64_t h) {
    size_t bit = (size_t)(h >> 32) & (ANSWER_SEEN_BITS - 1);
    uint64_t mask = (uint64_t)1 << (bit & 63);
    if (api->seen[bit / 64] & mask) {
        return true;
    }
    if (api->seen_count >= ANSWER_SEEN_WINDOW) {
        memset(api->seen, 0, ANSWER_SEEN_BITS / 8);
        api->seen_count = 0;
    }
    api->seen[bit / 64] |= mask;
    api->seen_count++;
    return false;
}

static void serve_item(consumer_api *api, const nd_consumer_request *q, const ct_gs1_dl *dl,
                       nd_answer *ans) {
    bool json = wants_json(q);
    nd_lang lang = request_lang(q);
    int kind = json ? ANSWER_JSON : (int)lang;
    /* "gtin/serial": both fit their fields (the parser bounds them), so
     * the key fits without cutting. */
    char key[CT_GTIN_LEN + 1 + CT_SERIAL_MAX + 1];
    size_t gtin_len = strnlen(dl->gtin, CT_GTIN_LEN + 1);
    size_t serial_len = strnlen(dl->serial, CT_SERIAL_MAX + 1);
    assert(gtin_len <= CT_GTIN_LEN && serial_len <= CT_SERIAL_MAX);
    memcpy(key, dl->gtin, gtin_len);
    key[gtin_len] = '/';
    memcpy(key + gtin_len + 1, dl->serial, serial_len);
    key[gtin_len + 1 + serial_len] = '\0';
    uint64_t h = key_hash(key);
    answer_slot *slot = &api->answers[h % ANSWER_CACHE_SIZE];
    if (slot->hash != h || strcmp(slot->key, key) != 0 || slot->generation != api->generation) {
        if (!seen_again(api, h)) {
            slot = &api->once;
        }
        answer_clear(slot);
        slot->hash = h;
        memcpy(slot->key, key, sizeof key);
        slot->generation = api->generation;
    }
    if (slot->body[kind] == NULL && answer_build(api, ans, dl, slot, kind) != HM_OK) {
        answer_clear(slot);
        return;
    }
    uint64_t count, first_ms;
    lookup_count(api, h, &count, &first_ms); /* h: the key's hash, as above */
    /* The counter's text lives in the answer: the body points at it. */
    static_assert(sizeof ans->counter >= ND_PAGE_LOOKUPS_MAX, "the counter fits the answer");
    char *counter = ans->counter;
    size_t n;
    if (json) {
        n = nd_page_json_lookups(count, first_ms, counter, sizeof ans->counter);
    } else {
        n = nd_page_render_lookups(count, first_ms, lang, counter, sizeof ans->counter);
    }
    size_t len = slot->len[kind], at = slot->layout[kind].lookups_at;
    const uint8_t *kept = (const uint8_t *)slot->body[kind];
    body_part parts[BODY_PARTS] = {{NULL, 0}};
    if (json) {
        /* {, the counter, the item's fields, and when there is a proof the
         * text's closing '}' after it. */
        size_t fields_end = slot->proof != NULL ? len - 1 : len;
        assert(at <= fields_end);
        parts[0] = (body_part){kept, at};
        parts[1] = (body_part){(const uint8_t *)counter, n};
        parts[2] = (body_part){kept + at, fields_end - at};
        if (slot->proof != NULL) {
            static const char proof_key[] = ",\"proof\":";
            parts[3] = (body_part){(const uint8_t *)proof_key, sizeof proof_key - 1};
            parts[4] = (body_part){(const uint8_t *)slot->proof, slot->proof_len};
            parts[5] = (body_part){kept + len - 1, 1};
        }
    } else {
        /* The page's fixed style sheet and script go out from static
         * memory, beside the kept rendering's pieces and the counter. */
        nd_page_part page[ND_PAGE_PARTS];
        (void)nd_page_parts(slot->body[kind], len, &slot->layout[kind], counter, n, page);
        for (int i = 0; i < ND_PAGE_PARTS; i++) {
            parts[i] = (body_part){(const uint8_t *)page[i].data, page[i].len};
        }
    }
    /* Strong ETag without hashing the body per lookup: SHA-256 of (the kept
     * rendering's tag || count || first lookup time). The counter's text is
     * written from those two alone (in the rendering's kind, which its tag
     * stands for), so the tag differs whenever the bytes served differ; 48
     * bytes are one SHA-256 block, where the counter's text took up to five. */
    uint8_t tag_in[HM_HASH_LEN + 16];
    memcpy(tag_in, slot->digest[kind], HM_HASH_LEN);
    for (int i = 0; i < 8; i++) {
        tag_in[HM_HASH_LEN + i] = (uint8_t)(count >> (56 - 8 * i));
        tag_in[HM_HASH_LEN + 8 + i] = (uint8_t)(first_ms >> (56 - 8 * i));
    }
    uint8_t digest[HM_HASH_LEN];
    hm_sha256(tag_in, sizeof tag_in, digest);
    if (json) {
        nd_answer_header_add(ans, "Vary", "Accept, Accept-Language");
        answer_parts(ans, q->if_none_match, slot->status, "application/json", "no-cache", parts,
                     digest);
    } else {
        answer_html(ans, q, slot->status, lang, parts, digest);
    }
}

/* What the contract would say about this claim, from the committed state:
 * 202 when it should apply, else an HTTP status and a reason for people. */
static int claim_precheck(consumer_api *api, const ct_gs1_dl *dl, const ct_claim_body *body,
                          nd_lang lang, const char **reason) {
    bool zh = lang == ND_LANG_ZH;
    ct_item_status st;
    hm_err err = ct_query_item(nd_node_state_store(api->node), dl->gtin, dl->serial, &st);
    if (err == HM_ERR_NOT_FOUND) {
        *reason = zh ? "此码未登记" : "this code is not registered";
        return 404;
    }
    if (err != HM_OK) {
        *reason = hm_err_message(err);
        return 500;
    }
    if (st.recalled) {
        *reason = zh ? "已召回的商品不能认领" : "a recalled item cannot be claimed";
        return 409;
    }
    if (st.claimed) {
        *reason = zh ? "该商品已被认领" : "this item was already claimed";
        return 409;
    }
    if (!st.record.has_code) {
        *reason = zh ? "该商品没有隐藏码" : "this item has no hidden code";
        return 409;
    }
    uint8_t h[HM_HASH_LEN];
    hm_sha256(body->code, body->code_len, h);
    if (CRYPTO_memcmp(h, st.record.code_hash, HM_HASH_LEN) != 0) {
        *reason = zh ? "隐藏码不正确" : "the code does not match";
        return 403;
    }
    return 202;
}

/* Reads the "code" field of a urlencoded form body. */
static bool form_code(const nd_consumer_request *q, uint8_t *code, size_t *code_len) {
    if (q->body_len > CLAIM_FORM_MAX) {
        return false;
    }
    /* NUL-terminated for the query parser; the code is a secret until it is
     * on the chain, so the copy is wiped. The lane wipes the request's
     * bytes in its own buffer too (node/lane.c); on the API port route_dl
     * wipes the body where libevent holds it, but copies libevent made on
     * the way (its read buffers, freed unwiped) are beyond reach. */
    char body[CLAIM_FORM_MAX + 1];
    if (q->body_len > 0) {
        memcpy(body, q->body, q->body_len);
    }
    body[q->body_len] = '\0';
    struct evkeyvalq fields;
    memset(&fields, 0, sizeof fields); /* evhttp_parse_query_str initialises it */
    bool ok = evhttp_parse_query_str(body, &fields) == 0;
    const char *value = ok ? evhttp_find_header(&fields, "code") : NULL;
    ok = value != NULL && strlen(value) > 0 && strlen(value) <= CT_CLAIM_CODE_MAX;
    if (ok) {
        *code_len = strlen(value);
        memcpy(code, value, *code_len);
    }
    evhttp_clear_headers(&fields);
    OPENSSL_cleanse(body, sizeof body);
    return ok;
}

static void serve_claim(consumer_api *api, const nd_consumer_request *q, const ct_gs1_dl *dl,
                        nd_answer *ans) {
    nd_lang lang = request_lang(q);
    char self[CT_GS1_DL_URI_MAX];
    if (ct_gs1_dl_item_uri("", dl->gtin, dl->serial, self, sizeof self, NULL) != HM_OK) {
        nd_answer_error(ans, 400, "bad_value", "not an item URI");
        return;
    }
    ct_claim_body body;
    memset(&body, 0, sizeof body);
    snprintf(body.item.gtin, sizeof body.item.gtin, "%s", dl->gtin);
    snprintf(body.item.serial, sizeof body.item.serial, "%s", dl->serial);
    const char *reason = NULL;
    int status = 202;
    hm_err err = HM_OK;
    if (!form_code(q, body.code, &body.code_len)) {
        reason = lang == ND_LANG_ZH ? "请输入隐藏码（最多 64 个字符）"
                                    : "enter the hidden code (at most 64 characters)";
        status = 400;
    } else if ((status = claim_precheck(api, dl, &body, lang, &reason)) != 202) {
        /* Refused here, before a transaction is spent on it; the contract
         * would refuse it the same way (it stays the authority). */
    } else {
        hm_writer bw;
        hm_writer_init_growable(&bw, CT_TX_BODY_MAX);
        hm_writer tw;
        hm_writer_init_growable(&tw, CT_TX_HEAD_MAX + 64);
        err = ct_claim_encode(&body, &bw);
        if (err == HM_OK) {
            /* Keyless: the code is the authority. The nonce is the height, so
             * the same code can be tried again after a block. */
            err = ct_tx_build(&tw, CT_TX_CLAIM, NULL, nd_node_chain_id(api->node),
                              nd_node_height(api->node), bw.buf, bw.len, false, NULL, NULL, 0);
        }
        uint8_t id[HM_HASH_LEN];
        if (err == HM_OK) {
            err = nd_node_submit_tx(api->node, tw.buf, tw.len, id);
        }
        hm_writer_free(&bw);
        hm_writer_free(&tw);
        if (err != HM_OK) {
            reason = hm_err_message(err);
            status = nd_http_status_for(err);
        }
    }
    /* The code is a secret until it is on the chain. */
    OPENSSL_cleanse(body.code, sizeof body.code);
    char *html = NULL;
    size_t len = 0;
    if (nd_page_render_claim(self, status == 202, reason, lang, &html, &len) != HM_OK) {
        nd_answer_error(ans, 500, "internal", "out of memory");
        return;
    }
    ans->owned = html;
    nd_answer_header_add(ans, "Cache-Control", "no-store");
    nd_answer_header_add(ans, "Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'");
    answer_bytes(ans, status, "text/html; charset=utf-8", (const uint8_t *)html, len);
}

/* The answer to a request for a Digital Link path (/01/...): the page or
 * its JSON, a claim, or the error; the same for both ports. */
static void answer_dl(consumer_api *api, const nd_consumer_request *q, nd_answer *ans) {
    if (q->method == ND_LANE_OTHER) {
        nd_answer_error(ans, 405, "method_not_allowed", "GET, HEAD or POST");
        return;
    }
    /* A parsed link is large: the api keeps one (routes run one at a time,
     * on the HTTP thread). */
    ct_gs1_dl *dl = api->dl;
    /* The resolver accepts GTIN-8/12/13 and pads them (a label printed with
     * a short GTIN must still resolve). */
    ct_gs1_dl_options opt = {.zero_suppressed_gtin = true};
    const char *why = NULL;
    hm_err err = ct_gs1_dl_parse_path(q->uri, &opt, dl, &why);
    if (err != HM_OK && !wants_json(q)) {
        /* A person scanned it: say so in words, as a warning. */
        nd_lang lang = request_lang(q);
        char *html = NULL;
        size_t len = 0;
        if (nd_page_render_bad_code(why, lang, &html, &len) == HM_OK) {
            ans->owned = html;
            nd_answer_header_add(ans, "Content-Language", lang == ND_LANG_ZH ? "zh-CN" : "en");
            nd_answer_header_add(ans, "Cache-Control", "no-cache");
            answer_bytes(ans, 400, "text/html; charset=utf-8", (const uint8_t *)html, len);
        } else {
            nd_answer_error(ans, 500, "internal", "out of memory");
        }
    } else if (err != HM_OK) {
        nd_answer_error(ans, 400, "bad_digital_link", why != NULL ? why : "");
    } else if (dl->gtin[0] == '\0' || dl->serial[0] == '\0') {
        nd_answer_error(ans, 404, "not_an_item",
                        "this resolver answers GTIN + serial links (/01/{gtin}/21/{serial})");
    } else if (q->method == ND_LANE_POST) {
        serve_claim(api, q, dl, ans);
    } else {
        serve_item(api, q, dl, ans);
    }
}

static void route_dl(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)n;
    (void)rest;
    consumer_api *api = arg;
    nd_consumer_request q;
    request_fields(req, &q);
    nd_answer ans;
    nd_answer_init(&ans);
    answer_dl(api, &q, &ans);
    if (q.body != NULL) {
        /* The claim code, in the request's input buffer (made contiguous
         * by request_fields): see form_code. */
        OPENSSL_cleanse((void *)(uintptr_t)q.body, q.body_len);
    }
    answer_send(req, &ans);
    nd_answer_clear(&ans);
}

/* The resolver lane's whole routing (node/lane.c calls it for every
 * request): the Digital Link paths as the API port's "/01/" route serves
 * them, and for anything else the API's own 414 and 404. */
static void lane_answer(void *arg, const nd_consumer_request *q, nd_answer *ans) {
    consumer_api *api = arg;
    size_t path_len = strcspn(q->uri, "?#");
    /* node/http.c's dispatch bound on a path (1,023 bytes) */
    if (path_len >= 1024) {
        nd_answer_error(ans, 414, "uri_too_long", "request path too long");
    } else if (strncmp(q->uri, "/01/", 4) != 0 || path_len < 4) {
        nd_answer_error(ans, 404, "not_found", "no such resource");
    } else {
        answer_dl(api, q, ans);
    }
}

void nd_consumer_serve_qr(nd_node *n, struct evhttp_request *req, const char *rest) {
    (void)n;
    /* rest = "{gtin}/{serial}/qr.svg" */
    char gtin[32], serial[64];
    const char *slash = strchr(rest, '/');
    const char *tail = slash != NULL ? strchr(slash + 1, '/') : NULL;
    if (slash == NULL || tail == NULL || strcmp(tail, "/qr.svg") != 0 ||
        (size_t)(slash - rest) >= sizeof gtin || (size_t)(tail - slash - 1) >= sizeof serial) {
        nd_http_reply_error(req, 404, "not_found", "use /v1/items/{gtin}/{serial}/qr.svg");
        return;
    }
    memcpy(gtin, rest, (size_t)(slash - rest));
    gtin[slash - rest] = '\0';
    memcpy(serial, slash + 1, (size_t)(tail - slash - 1));
    serial[tail - slash - 1] = '\0';
    /* The serial arrives percent-encoded in the path. */
    char *decoded = evhttp_uridecode(serial, 0, NULL);
    if (decoded == NULL) {
        nd_http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    char stem[STEM_MAX];
    /* The label points back at this resolver (the host the request named);
     * a brand prints its own domain with `hallmark qr --base-url`. */
    bool host_ok =
        host != NULL && strlen(host) < STEM_MAX - 8 &&
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
            strlen(host);
    snprintf(stem, sizeof stem, "http://%s", host_ok ? host : "localhost");
    char uri[CT_GS1_DL_URI_MAX];
    const char *why = NULL;
    hm_err err = ct_gs1_dl_item_uri(stem, gtin, decoded, uri, sizeof uri, &why);
    free(decoded);
    if (err != HM_OK) {
        nd_http_reply_error(req, 400, "bad_value", "%s", why);
        return;
    }
    char *svg = NULL;
    size_t len = 0;
    if (nd_page_qr_svg(uri, &svg, &len) != HM_OK) {
        nd_http_reply_error(req, 400, "bad_value", "cannot encode the URI as a QR code");
        return;
    }
    reply_tagged(req, 200, "image/svg+xml", "public, max-age=86400", (const uint8_t *)svg, len);
    free(svg);
}

/* The read-only routes answer GET and HEAD; anything else is a 405, as
 * docs/api.md promises for every route. */
static void route_items(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)arg;
    if (!nd_http_require_read(req))
        return;
    nd_consumer_serve_qr(n, req, rest);
}

/* GET /v1/proofs/{tx id}/{index}: one record's bundle. It never changes, so
 * it is cached for a year with a strong ETag. Binary with Accept:
 * application/octet-stream, JSON otherwise. */
static void route_proofs(nd_node *n, struct evhttp_request *req, const char *rest, void *arg) {
    (void)n;
    consumer_api *api = arg;
    if (!nd_http_require_read(req))
        return;
    char hex[2 * HM_HASH_LEN + 1];
    const char *slash = strchr(rest, '/');
    uint8_t id[HM_HASH_LEN];
    char *end = NULL;
    unsigned long index = 0;
    if (slash == NULL || slash - rest != 2 * HM_HASH_LEN) {
        nd_http_reply_error(req, 404, "not_found", "use /v1/proofs/{tx id}/{record index}");
        return;
    }
    memcpy(hex, rest, 2 * HM_HASH_LEN);
    hex[2 * HM_HASH_LEN] = '\0';
    index = strtoul(slash + 1, &end, 10);
    if (hm_hex_decode(hex, id, HM_HASH_LEN) != HM_OK || end == slash + 1 || *end != '\0' ||
        index >= CT_BATCH_RECORDS_MAX) {
        nd_http_reply_error(req, 400, "bad_value", "tx id must be 64 hex digits, index 0-99999");
        return;
    }
    /* The record bytes come from the tx itself. */
    uint8_t *tx = NULL;
    size_t tx_len = 0;
    hm_err err = nd_node_tx_bytes(api->node, id, &tx, &tx_len);
    ct_tx d;
    if (err == HM_OK && ct_tx_decode(tx, tx_len, &d) != HM_OK) {
        err = HM_ERR_IO;
    }
    const uint8_t *rec = NULL;
    size_t rec_len = 0;
    if (err == HM_OK) {
        size_t pos = 0;
        unsigned long i = 0;
        while (ct_tx_record_next(&d, &pos, &rec, &rec_len) && i < index) {
            i++;
        }
        if (rec == NULL || i != index) {
            err = HM_ERR_NOT_FOUND;
        }
    }
    ct_bundle b;
    memset(&b, 0, sizeof b);
    if (err == HM_OK) {
        err = ct_bundle_init(&b, nd_node_chain_id(api->node), &nd_node_genesis(api->node)->vset);
    }
    if (err == HM_OK) {
        err = bundle_add_record(api, &b, id, (uint32_t)index, rec, rec_len);
    }
    free(tx);
    if (err != HM_OK) {
        ct_bundle_clear(&b);
        nd_http_reply_error(req, nd_http_status_for(err), hm_err_name(err),
                            "no such committed record");
        return;
    }
    const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
    const char *cache = "public, max-age=31536000, immutable";
    if (accept != NULL && strstr(accept, "application/octet-stream") != NULL) {
        hm_writer w;
        hm_writer_init_growable(&w, CT_BUNDLE_ENCODED_MAX);
        if (ct_bundle_encode(&b, &w) == HM_OK) {
            reply_tagged(req, 200, "application/octet-stream", cache, w.buf, w.len);
        } else {
            nd_http_reply_error(req, 500, "internal", "cannot encode the bundle");
        }
        hm_writer_free(&w);
    } else {
        json_t *j = ct_bundle_to_json(&b);
        char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (text != NULL) {
            reply_tagged(req, 200, "application/json", cache, (const uint8_t *)text, strlen(text));
        } else {
            nd_http_reply_error(req, 500, "internal", "out of memory");
        }
        free(text);
    }
    ct_bundle_clear(&b);
}

/* After each commit: a block that wrote state may have changed an item's
 * status, so every kept answer is dropped (lazily, by generation). Empty
 * blocks keep them. A block that wrote state may hold batch txs: their
 * trees are built now rather than by the first lookup. */
static void on_commit(nd_node *n, const hm_block_header *header, const nd_block_txs *txs,
                      const ct_exec *exec, void *arg) {
    (void)n;
    consumer_api *api = arg;
    bool wrote = false;
    if (ct_exec_foreach_write(exec, ct_visit_found, &wrote) != HM_OK || wrote) {
        api->generation++;
        warm_block(api, header->height, txs);
    }
}

/* Frees the api and everything its caches hold (NULL-safe: it also undoes
 * a registration that failed halfway). */
static void consumer_api_free(void *arg) {
    consumer_api *api = arg;
    if (api == NULL) {
        return;
    }
    if (api->state_slots != NULL) {
        for (size_t i = 0; i < STATE_CACHE_SLOTS; i++) {
            free(api->state_slots[i].val);
        }
    }
    if (api->answers != NULL) {
        for (size_t i = 0; i < ANSWER_CACHE_SIZE; i++) {
            answer_clear(&api->answers[i]);
        }
    }
    answer_clear(&api->once);
    free(api->seen);
    for (size_t i = 0; i < TX_CACHE_SIZE; i++) {
        free(api->txs[i].head_sig);
    }
    if (api->blocks != NULL) {
        for (size_t i = 0; i < BLOCK_CACHE_SIZE; i++) {
            free(api->blocks[i].json);
        }
    }
    if (api->bundle_ready) {
        ct_bundle_clear(api->bundle);
    }
    free(api->bundle);
    free(api->record_path);
    free(api->dl);
    free(api->bundle_head);
    for (size_t b = 0; b < TREE_BUCKETS; b++) {
        while (api->trees[b] != NULL) {
            tree_entry *e = api->trees[b];
            api->trees[b] = e->next;
            hm_merkle_tree_free(e->tree);
            free(e);
        }
    }
    free(api->item);
    free(api->products);
    free(api->state_slots);
    free(api->answers);
    free(api->blocks);
    free(api->event);
    free(api->lookups);
    free(api);
}

static void lane_close(void *arg) {
    nd_lane *lane = arg;
    nd_lane_stats st;
    nd_lane_get_stats(lane, &st);
    hm_log(HM_LOG_INFO, "lane_stopped",
           "accepted=%llu refused=%llu requests=%llu bad_requests=%llu timeouts=%llu",
           (unsigned long long)st.accepted, (unsigned long long)st.refused,
           (unsigned long long)st.requests, (unsigned long long)st.bad_requests,
           (unsigned long long)st.timeouts);
    nd_lane_free(lane);
}

/* Opens the resolver listener (resolver_listen), serving through
 * lane_answer. Its cleanup is registered after the api's, so it runs
 * first: no connection outlives the state its answers read. */
static hm_err lane_open(nd_node *n, consumer_api *api) {
    nd_lane *lane = NULL;
    hm_err err = nd_lane_start(nd_node_event_base(n), &n->cfg, lane_answer, api, &lane);
    if (err != HM_OK) {
        hm_log(HM_LOG_ERROR, "lane_listen", "resolver_listen=%s err=%s", n->cfg.resolver_listen,
               hm_err_name(err));
        return err;
    }
    err = nd_http_add_cleanup(n, lane_close, lane);
    if (err != HM_OK) {
        nd_lane_free(lane);
        return err;
    }
    hm_log(HM_LOG_INFO, "lane_listen", "resolver_listen=%s", n->cfg.resolver_listen);
    return HM_OK;
}

hm_err nd_http_consumer_register(nd_node *n) {
    consumer_api *api = calloc(1, sizeof *api);
    if (api == NULL) {
        return HM_ERR_NOMEM;
    }
    api->node = n;
    api->blocks = calloc(BLOCK_CACHE_SIZE, sizeof *api->blocks);
    api->event = malloc(sizeof *api->event);
    api->answers = calloc(ANSWER_CACHE_SIZE, sizeof *api->answers);
    api->seen = calloc(ANSWER_SEEN_BITS / 64, sizeof *api->seen);
    api->state_slots = calloc(STATE_CACHE_SLOTS, sizeof *api->state_slots);
    api->item = calloc(1, sizeof *api->item);
    api->products = calloc(PRODUCT_CACHE_SIZE, sizeof *api->products);
    api->cached_state = (ct_store){.ctx = api, .get = cached_get, .scan = cached_scan};
    api->lookups = calloc(LOOKUP_SLOTS, sizeof *api->lookups);
    api->lookup_cap = LOOKUP_SLOTS;
    api->record_path = malloc(HM_MERKLE_PROOF_MAX * sizeof *api->record_path);
    api->dl = malloc(sizeof *api->dl);
    api->bundle = calloc(1, sizeof *api->bundle);
    if (api->bundle == NULL || api->blocks == NULL || api->event == NULL || api->answers == NULL ||
        api->seen == NULL || api->record_path == NULL || api->dl == NULL ||
        api->state_slots == NULL || api->item == NULL || api->products == NULL ||
        hm_random_bytes(api->tag_salt, sizeof api->tag_salt) != HM_OK || api->lookups == NULL) {
        consumer_api_free(api);
        return HM_ERR_NOMEM;
    }
    /* The api lives as long as the node's routes: the HTTP server frees it
     * at shutdown, after the routes and the commit hook are gone. */
    hm_err err = nd_http_add_cleanup(n, consumer_api_free, api);
    if (err != HM_OK) {
        consumer_api_free(api);
        return err;
    }
    err = nd_node_on_commit(n, on_commit, api);
    if (err == HM_OK) {
        err = nd_http_add_route(n, "/01/", route_dl, api);
    }
    if (err == HM_OK) {
        err = nd_http_add_route(n, "/v1/proofs/", route_proofs, api);
    }
    if (err == HM_OK) {
        /* Another module may own /v1/items/; it then serves qr.svg by
         * calling nd_consumer_serve_qr(). */
        hm_err items = nd_http_add_route(n, "/v1/items/", route_items, api);
        if (items != HM_OK && items != HM_ERR_EXISTS) {
            err = items;
        }
    }
    if (err == HM_OK && n->cfg.resolver_listen[0] != '\0') {
        err = lane_open(n, api);
    }
    return err;
}
