/* contracts/exec.c — executing one block's transactions over committed state.
 *
 * Layer: contracts/ (pure). A ct_exec is an overlay of writes on top of a
 * read-only ct_store. Each tx runs against the overlay with an undo journal:
 * a refused tx is rolled back in place and leaves nothing behind but its
 * result under "t/<id>", which also makes every tx id single-use. The writes
 * come out in byte order, so the state root and the node's WriteBatch are the
 * same on every machine. Never reads a clock: block time is in the context. */
#include "ct_internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ct_bytemap_node *node;
    uint8_t *old_val;
    size_t old_len;
    uint8_t old_state;
} journal_entry;

/* Member entries ("m/k/", "m/i/") read from the base during the block. The
 * txs of a block are mostly signed by a few keys (a platform posting sales,
 * a brand its batches, a load generator its notes), and every tx looked its
 * signer up in the store again. The base does not change while a block
 * executes (ct_exec_new), so an answer read once stays true for the block;
 * the overlay is still consulted first, so the block's own member writes
 * win. Slots are replaced in turn, a miss costs what it did before, and
 * results are identical with or without the cache. */
#define BASE_CACHE_SLOTS 16
#define BASE_CACHE_KEY_MAX (4 + HM_PUBKEY_LEN)
#define BASE_CACHE_VAL_MAX 192 /* a member record: key, roles, name, height */
static const char BASE_CACHE_PREFIX[] = "m/";

typedef struct {
    uint8_t key[BASE_CACHE_KEY_MAX];
    uint8_t val[BASE_CACHE_VAL_MAX];
    uint8_t key_len; /* 0: slot unused */
    uint8_t val_len;
    bool found;
} base_cached;

struct ct_exec {
    ct_store base;
    ct_block_ctx ctx;
    ct_bytemap overlay;
    journal_entry *journal;
    size_t journal_len, journal_cap;
    /* The records' leaf hashes and chunk roots of the tx being executed
     * (see ct_exec_tx_hashes): the buffers are kept for the next batch. */
    uint8_t (*leaves)[HM_HASH_LEN];
    uint8_t (*chunk_roots)[HM_HASH_LEN];
    size_t leaves_cap, chunk_roots_cap;
    /* The record hashes of the tx executing (ct_exec_tx_hashes): views of
     * the buffers above, or of the caller's for ct_exec_tx_prehashed; NULL
     * but from records_check to the end of that tx. */
    const uint8_t (*tx_leaves)[HM_HASH_LEN];
    const uint8_t (*tx_chunk_roots)[HM_HASH_LEN];
    uint8_t hashes_tx_id[HM_HASH_LEN];
    bool in_tx;
    bool ended; /* end_block ran */
    base_cached base_cache[BASE_CACHE_SLOTS];
    unsigned base_cache_next; /* the slot replaced next */
};

const char ct_per_tx_prefix[CT_PER_TX_PREFIXES][3] = {"t/", "n/"};
#define TX_RESULT_PREFIX (ct_per_tx_prefix[0])
#define NOTE_PREFIX (ct_per_tx_prefix[1])

bool ct_key_is_per_tx(const uint8_t *key, size_t key_len) {
    if (key_len != 2 + HM_HASH_LEN)
        return false;
    for (int i = 0; i < CT_PER_TX_PREFIXES; i++)
        if (memcmp(key, ct_per_tx_prefix[i], 2) == 0)
            return true;
    return false;
}

hm_err ct_refuse(ct_result *res, hm_err code, uint32_t rule, uint32_t index, const char *fmt, ...) {
    assert(code != HM_OK);
    res->code = code;
    res->rule = rule;
    res->index = index;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    return HM_OK;
}

hm_err ct_exec_new(const ct_store *base, const ct_block_ctx *ctx, ct_exec **out) {
    if (base == NULL || ctx == NULL || out == NULL || base->get == NULL || base->scan == NULL)
        return HM_ERR_ARG;
    if (ctx->admin_count > CT_ADMINS_MAX || memchr(ctx->chain_id, 0, sizeof ctx->chain_id) == NULL)
        return HM_ERR_ARG;
    ct_exec *x = calloc(1, sizeof *x);
    if (x == NULL)
        return HM_ERR_NOMEM;
    x->base = *base;
    x->ctx = *ctx;
    ct_bytemap_init_arena(&x->overlay);
    *out = x;
    return HM_OK;
}

void ct_exec_free(ct_exec *x) {
    if (x == NULL)
        return;
    free(x->journal); /* the values it points to are the overlay arena's */
    free(x->leaves);
    free(x->chunk_roots);
    ct_bytemap_free(&x->overlay);
    free(x);
}

const ct_block_ctx *ct_exec_ctx(const ct_exec *x) {
    return &x->ctx;
}

/* ------------------------------------------------------------ state access */

/* x->base.get, answered from the base cache for member entries. */
static hm_err base_get(ct_exec *x, const uint8_t *key, size_t key_len, uint8_t **val,
                       size_t *val_len) {
    bool cacheable =
        key_len <= BASE_CACHE_KEY_MAX && key_len > 2 && memcmp(key, BASE_CACHE_PREFIX, 2) == 0;
    if (!cacheable)
        return x->base.get(x->base.ctx, key, key_len, val, val_len);
    for (size_t i = 0; i < BASE_CACHE_SLOTS; i++) {
        const base_cached *c = &x->base_cache[i];
        if (c->key_len != key_len || memcmp(c->key, key, key_len) != 0)
            continue;
        if (!c->found)
            return HM_ERR_NOT_FOUND;
        *val_len = c->val_len;
        return ct_bytes_dup(c->val, c->val_len, val);
    }
    hm_err err = x->base.get(x->base.ctx, key, key_len, val, val_len);
    if ((err != HM_OK && err != HM_ERR_NOT_FOUND) ||
        (err == HM_OK && *val_len > BASE_CACHE_VAL_MAX))
        return err; /* failures are never kept; nor are values too long */
    base_cached *c = &x->base_cache[x->base_cache_next];
    x->base_cache_next = (x->base_cache_next + 1) % BASE_CACHE_SLOTS;
    memcpy(c->key, key, key_len);
    c->key_len = (uint8_t)key_len;
    c->found = err == HM_OK;
    c->val_len = c->found ? (uint8_t)*val_len : 0;
    if (c->found && *val_len > 0)
        memcpy(c->val, *val, *val_len);
    return err;
}

hm_err ct_state_get(ct_exec *x, const uint8_t *key, size_t key_len, uint8_t **val,
                    size_t *val_len) {
    if (x == NULL || key == NULL || val == NULL || val_len == NULL || key_len > CT_KEY_MAX)
        return HM_ERR_ARG;
    ct_bytemap_node *n = ct_bytemap_find(&x->overlay, key, key_len);
    if (n != NULL && n->state == CT_SLOT_DELETED)
        return HM_ERR_NOT_FOUND;
    if (n != NULL && n->state == CT_SLOT_SET) {
        *val_len = n->val_len;
        return ct_bytes_dup(n->val, n->val_len, val);
    }
    *val = NULL;
    *val_len = 0;
    return base_get(x, key, key_len, val, val_len);
}

/* Room in the journal for `more` entries past its length. */
static hm_err journal_reserve(ct_exec *x, size_t more) {
    if (x->journal_cap - x->journal_len >= more)
        return HM_OK;
    size_t cap = x->journal_cap ? x->journal_cap : 64;
    while (cap - x->journal_len < more)
        cap *= 2;
    journal_entry *j = realloc(x->journal, cap * sizeof *j);
    if (j == NULL)
        return HM_ERR_NOMEM;
    x->journal = j;
    x->journal_cap = cap;
    return HM_OK;
}

/* What an empty value points at: not NULL, which would mean a delete. */
static const uint8_t EMPTY_VALUE[1];

/* Puts a copy of val (NULL = delete) in slot n, journaling what it replaces
 * when a tx is open; the journal has room for one more entry then. */
static hm_err slot_write(ct_exec *x, ct_bytemap_node *n, const uint8_t *val, size_t val_len) {
    assert(!x->in_tx || x->journal_len < x->journal_cap);
    /* Values live in the overlay's arena until the block ends: the one
     * replaced here stays valid for the journal to put back. */
    uint8_t *copy;
    hm_err err = ct_bytemap_value_copy(&x->overlay, val, val != NULL ? val_len : 0, &copy);
    if (err != HM_OK)
        return err;
    if (x->in_tx)
        x->journal[x->journal_len++] = (journal_entry){
            .node = n, .old_val = n->val, .old_len = n->val_len, .old_state = n->state};
    ct_bytemap_node_put(n, copy, val != NULL ? val_len : 0,
                        val != NULL ? CT_SLOT_SET : CT_SLOT_DELETED);
    return HM_OK;
}

/* Writes val (NULL = delete) into the overlay, journaling what it replaces
 * when a tx is open so that a refusal can put it back. */
static hm_err overlay_write(ct_exec *x, const uint8_t *key, size_t key_len, const uint8_t *val,
                            size_t val_len) {
    if (x == NULL || key == NULL || key_len == 0 || key_len > CT_KEY_MAX ||
        (val == NULL && val_len != 0))
        return HM_ERR_ARG;
    ct_bytemap_node *n;
    hm_err err = ct_bytemap_slot(&x->overlay, key, key_len, &n);
    if (err != HM_OK)
        return err;
    if (x->in_tx) {
        err = journal_reserve(x, 1);
        if (err != HM_OK)
            return err;
    }
    return slot_write(x, n, val, val_len);
}

hm_err ct_state_put(ct_exec *x, const uint8_t *key, size_t key_len, const uint8_t *val,
                    size_t val_len) {
    if (val == NULL && val_len == 0)
        val = EMPTY_VALUE;
    return overlay_write(x, key, key_len, val, val_len);
}

hm_err ct_state_put_sorted(ct_exec *x, const ct_write_ref *w, size_t n) {
    if (x == NULL || (w == NULL && n > 0))
        return HM_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (w[i].val == NULL && w[i].val_len != 0)
            return HM_ERR_ARG;
    if (n == 0)
        return HM_OK;
    ct_bytemap_node **slots = malloc(n * sizeof *slots);
    if (slots == NULL)
        return HM_ERR_NOMEM;
    hm_err err = x->in_tx ? journal_reserve(x, n) : HM_OK;
    if (err == HM_OK)
        err = ct_bytemap_slots_sorted(&x->overlay, w, n, slots);
    /* As overlay_write, write by write: each journaled before it is put. */
    for (size_t i = 0; err == HM_OK && i < n; i++)
        err = slot_write(x, slots[i], w[i].val != NULL ? w[i].val : EMPTY_VALUE, w[i].val_len);
    free(slots);
    return err;
}

hm_err ct_state_del(ct_exec *x, const uint8_t *key, size_t key_len) {
    return overlay_write(x, key, key_len, NULL, 0);
}

static void tx_begin(ct_exec *x) {
    assert(!x->in_tx && x->journal_len == 0);
    x->in_tx = true;
}

static void tx_commit(ct_exec *x) {
    assert(x->in_tx);
    x->journal_len = 0; /* replaced values are freed with the overlay */
    x->in_tx = false;
}

static void tx_rollback(ct_exec *x) {
    assert(x->in_tx);
    while (x->journal_len > 0) {
        journal_entry *e = &x->journal[--x->journal_len];
        ct_bytemap_node_put(e->node, e->old_val, e->old_len, e->old_state);
    }
    x->in_tx = false;
}

/* Scan: the overlay's slots in range, merged into the base's scan. The
 * overlay is read through a cursor as the merge needs it, so a scan its
 * visitor stops early costs what it visited, not the whole overlay range
 * (a batch's existence scans stop after a few keys). Visitors never write
 * to the state (the cursor asserts that the overlay is not relinked). */
typedef struct {
    ct_bytemap_iter overlay;
    const ct_bytemap_node *peek; /* the next overlay slot in range, SET or DELETED */
    ct_visit_fn visit;
    void *arg;
    bool stopped;
} scan_merge;

static const ct_bytemap_node *overlay_next(scan_merge *s) {
    const ct_bytemap_node *n;
    while ((n = ct_bytemap_iter_next(&s->overlay)) != NULL && n->state == CT_SLOT_ABSENT)
        ;
    return n;
}

/* Emits overlay slots strictly below key (all when key is NULL). */
static bool emit_overlay_until(scan_merge *s, const uint8_t *key, size_t key_len) {
    while (s->peek != NULL) {
        const ct_bytemap_node *n = s->peek;
        if (key != NULL && ct_key_compare(n->key, n->key_len, key, key_len) >= 0)
            break;
        s->peek = overlay_next(s);
        if (n->state == CT_SLOT_SET &&
            !s->visit(s->arg, n->key, n->key_len, ct_bytemap_node_value(n), n->val_len)) {
            s->stopped = true;
            return false;
        }
    }
    return true;
}

static bool merge_base(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                       size_t val_len) {
    scan_merge *s = arg;
    if (!emit_overlay_until(s, key, key_len))
        return false;
    if (s->peek != NULL) {
        const ct_bytemap_node *n = s->peek;
        if (ct_key_compare(n->key, n->key_len, key, key_len) == 0) {
            s->peek = overlay_next(s); /* the overlay shadows the base */
            if (n->state == CT_SLOT_SET &&
                !s->visit(s->arg, n->key, n->key_len, ct_bytemap_node_value(n), n->val_len)) {
                s->stopped = true;
                return false;
            }
            return true;
        }
    }
    if (!s->visit(s->arg, key, key_len, val, val_len)) {
        s->stopped = true;
        return false;
    }
    return true;
}

hm_err ct_state_scan(ct_exec *x, const uint8_t *start, size_t start_len, const uint8_t *end,
                     size_t end_len, ct_visit_fn visit, void *arg) {
    if (x == NULL || visit == NULL)
        return HM_ERR_ARG;
    scan_merge s = {.visit = visit, .arg = arg};
    ct_bytemap_iter_init(&s.overlay, &x->overlay, start, start_len, end, end_len);
    s.peek = overlay_next(&s);
    hm_err err = x->base.scan(x->base.ctx, start, start_len, end, end_len, merge_base, &s);
    if (err == HM_OK && !s.stopped)
        (void)emit_overlay_until(&s, NULL, 0);
    return err;
}

/* ------------------------------------------------------------ tx results */

hm_err ct_result_encode(const ct_result *res, uint64_t height, hm_writer *w) {
    hm_put_u8(w, 1);
    hm_put_varint(w, (uint64_t)res->code);
    hm_put_varint(w, res->rule);
    hm_put_varint(w, res->index);
    hm_put_str(w, res->message, sizeof res->message - 1);
    hm_put_varint(w, height);
    return hm_writer_error(w);
}

static void tx_result_key(const uint8_t id[HM_HASH_LEN], uint8_t key[2 + HM_HASH_LEN]) {
    memcpy(key, TX_RESULT_PREFIX, 2);
    memcpy(key + 2, id, HM_HASH_LEN);
}

hm_err ct_query_tx_result(const ct_store *s, const uint8_t id[HM_HASH_LEN], ct_result *res) {
    if (s == NULL || id == NULL || res == NULL)
        return HM_ERR_ARG;
    uint8_t key[2 + HM_HASH_LEN];
    tx_result_key(id, key);
    uint8_t *val = NULL;
    size_t val_len = 0;
    hm_err err = s->get(s->ctx, key, sizeof key, &val, &val_len);
    if (err != HM_OK)
        return err;
    hm_reader r;
    hm_reader_init(&r, val, val_len);
    ct_result out;
    memset(&out, 0, sizeof out);
    if (hm_get_u8(&r) != 1)
        hm_reader_fail(&r, HM_ERR_UNKNOWN_TYPE);
    out.code = (hm_err)hm_get_varint(&r, HM_ERR__COUNT - 1);
    out.rule = (uint32_t)hm_get_varint(&r, UINT32_MAX);
    out.index = (uint32_t)hm_get_varint(&r, UINT32_MAX);
    hm_get_str(&r, out.message, sizeof out.message, sizeof out.message - 1);
    (void)hm_get_varint(&r, UINT64_MAX);
    err = hm_reader_finish(&r);
    free(val);
    if (err != HM_OK)
        return HM_ERR_IO; /* our own record is unreadable: storage damage */
    *res = out;
    return HM_OK;
}

/* ------------------------------------------------------------ dispatch */

static hm_err note_apply(ct_exec *x, const ct_tx *tx, ct_result *res) {
    if (tx->has_records)
        return ct_refuse(res, HM_ERR_BAD_VALUE, 1, 0, "a note carries no records");
    if (tx->body_len > CT_NOTE_MAX)
        return ct_refuse(res, HM_ERR_TOO_LONG, 2, 0, "note longer than %d bytes", CT_NOTE_MAX);
    uint8_t key[2 + HM_HASH_LEN];
    memcpy(key, NOTE_PREFIX, 2);
    memcpy(key + 2, tx->id, HM_HASH_LEN);
    return ct_state_put(x, key, sizeof key, tx->body, tx->body_len);
}

/* Room in x for the record hashes of tx; HM_ERR_NOMEM. */
static hm_err hashes_reserve(ct_exec *x, const ct_tx *tx) {
    size_t n = tx->record_count;
    size_t chunks = ct_tx_records_chunks(tx);
    if (n > x->leaves_cap) {
        uint8_t(*leaves)[HM_HASH_LEN] = realloc(x->leaves, n * HM_HASH_LEN);
        if (leaves == NULL)
            return HM_ERR_NOMEM;
        x->leaves = leaves;
        x->leaves_cap = n;
    }
    if (chunks > x->chunk_roots_cap) {
        uint8_t(*roots)[HM_HASH_LEN] = realloc(x->chunk_roots, chunks * HM_HASH_LEN);
        if (roots == NULL)
            return HM_ERR_NOMEM;
        x->chunk_roots = roots;
        x->chunk_roots_cap = chunks;
    }
    return HM_OK;
}

/* Checks that tx's records hash to its signed records root, as ct_tx_check
 * does, keeping what the contracts need again: every leaf hash and the root
 * of every aligned chunk of CT_CHUNK_LEAVES leaves (ct_tx_records_hash).
 * With leaves given (prehashed by the caller over these bytes), uses them
 * for the tx instead; their chunk roots must still give the signed root
 * (one hash per 16 records), so that a wrong caller is refused rather than
 * storing other hashes. Nothing is hashed twice per tx. HM_ERR_PROOF when
 * the roots differ; HM_ERR_NOMEM. */
static hm_err records_check(ct_exec *x, const ct_tx *tx, const uint8_t (*leaves)[HM_HASH_LEN],
                            const uint8_t (*chunk_roots)[HM_HASH_LEN]) {
    assert(tx->has_records && x->tx_leaves == NULL);
    hm_err err;
    if (leaves != NULL) {
        if ((err = ct_tx_chunk_roots_check(tx, chunk_roots)) != HM_OK)
            return err;
    } else {
        if ((err = hashes_reserve(x, tx)) != HM_OK ||
            (err = ct_tx_records_hash(tx, x->leaves, x->chunk_roots)) != HM_OK)
            return err;
        leaves = (const uint8_t(*)[HM_HASH_LEN])x->leaves;
        chunk_roots = (const uint8_t(*)[HM_HASH_LEN])x->chunk_roots;
    }
    memcpy(x->hashes_tx_id, tx->id, HM_HASH_LEN);
    x->tx_leaves = leaves;
    x->tx_chunk_roots = chunk_roots;
    return HM_OK;
}

bool ct_exec_tx_hashes(const ct_exec *x, const ct_tx *tx, const uint8_t (**leaves)[HM_HASH_LEN],
                       const uint8_t (**chunk_roots)[HM_HASH_LEN]) {
    if (x->tx_leaves == NULL || !tx->has_records ||
        memcmp(x->hashes_tx_id, tx->id, HM_HASH_LEN) != 0)
        return false;
    *leaves = x->tx_leaves;
    *chunk_roots = x->tx_chunk_roots;
    return true;
}

static hm_err dispatch(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    if (tx->type >= CT_TX_MEMBER_ADD && tx->type <= CT_TX_MEMBER_ROTATE)
        return ct_members_apply(x, tx, signer, res);
    if (tx->type >= CT_TX_PREFIX_ASSIGN && tx->type <= 31)
        return ct_prov_apply(x, tx, signer, res);
    if (tx->type >= CT_TX_SPLIT_CREATE && tx->type <= 63)
        return ct_settle_apply(x, tx, signer, res);
    if (tx->type == CT_TX_NOTE)
        return note_apply(x, tx, res);
    return ct_refuse(res, HM_ERR_UNKNOWN_TYPE, 0, 0, "unknown transaction type %u", tx->type);
}

hm_err ct_exec_tx(ct_exec *x, const uint8_t *data, size_t data_len, bool sig_checked,
                  ct_result *res) {
    if (x == NULL || data == NULL || res == NULL)
        return HM_ERR_ARG;
    ct_tx tx;
    hm_err err = ct_tx_decode(data, data_len, &tx);
    if (err != HM_OK) {
        memset(res, 0, sizeof *res);
        return ct_refuse(res, err, 0, 0, "malformed transaction: %s", hm_err_message(err));
    }
    return ct_exec_tx_decoded(x, &tx, sig_checked, res);
}

static hm_err exec_tx(ct_exec *x, const ct_tx *txp, bool sig_checked,
                      const uint8_t (*leaves)[HM_HASH_LEN],
                      const uint8_t (*chunk_roots)[HM_HASH_LEN], ct_result *res);

hm_err ct_exec_tx_decoded(ct_exec *x, const ct_tx *txp, bool sig_checked, ct_result *res) {
    if (x == NULL || txp == NULL || res == NULL || txp->head == NULL)
        return HM_ERR_ARG;
    return exec_tx(x, txp, sig_checked, NULL, NULL, res);
}

hm_err ct_exec_tx_prehashed(ct_exec *x, const ct_tx *txp, bool sig_checked,
                            const uint8_t (*leaves)[HM_HASH_LEN],
                            const uint8_t (*chunk_roots)[HM_HASH_LEN], ct_result *res) {
    if (x == NULL || txp == NULL || res == NULL || txp->head == NULL || !txp->has_records ||
        leaves == NULL || chunk_roots == NULL)
        return HM_ERR_ARG;
    return exec_tx(x, txp, sig_checked, leaves, chunk_roots, res);
}

static hm_err exec_tx(ct_exec *x, const ct_tx *txp, bool sig_checked,
                      const uint8_t (*leaves)[HM_HASH_LEN],
                      const uint8_t (*chunk_roots)[HM_HASH_LEN], ct_result *res) {
    assert(!x->in_tx && !x->ended);
    memset(res, 0, sizeof *res);
    const ct_tx tx = *txp;
    hm_err err;

    uint8_t key[2 + HM_HASH_LEN];
    tx_result_key(tx.id, key);
    uint8_t *seen = NULL;
    size_t seen_len = 0;
    err = ct_state_get(x, key, sizeof key, &seen, &seen_len);
    free(seen);
    if (err == HM_OK)
        return ct_refuse(res, HM_ERR_CONFLICT, 0, 0, "transaction already executed");
    if (err != HM_ERR_NOT_FOUND)
        return err;

    /* The signature, then the records (records_check). A tx that fails
     * this check was not authored as it stands: the id does not cover the
     * records, so anyone can pair a genuine head and signature with
     * altered records. Spending the id here would let them burn the genuine
     * tx for good; like a malformed tx, it is refused and writes nothing. */
    err = sig_checked ? HM_OK : ct_tx_check_sig(&tx, x->ctx.chain_id);
    if (err == HM_OK && tx.has_records) {
        err = records_check(x, &tx, leaves, chunk_roots);
        if (err == HM_ERR_NOMEM)
            return err;
    }
    if (err != HM_OK)
        return ct_refuse(res, err, 0, 0, "%s",
                         err == HM_ERR_PROOF ? "records do not hash to the signed root"
                                             : "signature does not verify");

    ct_member member;
    const ct_member *signer = NULL;
    bool keyless =
        ct_tx_type_is_keyless(tx.type) && memcmp(tx.signer.bytes, (uint8_t[32]){0}, 32) == 0;
    if (!keyless) {
        err = ct_member_lookup(x, &tx.signer, &member);
        if (err == HM_OK)
            signer = &member;
        else if (err != HM_ERR_NOT_FOUND) {
            x->tx_leaves = NULL; /* the hashes are this tx's alone */
            return err;
        }
    }
    if (!keyless && signer == NULL && tx.type != CT_TX_NOTE) {
        (void)ct_refuse(res, HM_ERR_DENIED, 0, 0, "signer is not a member, or was revoked");
    } else {
        tx_begin(x);
        err = dispatch(x, &tx, signer, res);
        if (err != HM_OK) {
            tx_rollback(x);
            x->tx_leaves = NULL;
            return err;
        }
        if (res->code != HM_OK)
            tx_rollback(x);
        else
            tx_commit(x);
    }

    x->tx_leaves = NULL; /* the hashes are this tx's alone */

    uint8_t buf[256];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    err = ct_result_encode(res, x->ctx.height, &w);
    assert(err == HM_OK);
    return ct_state_put(x, key, sizeof key, buf, w.len);
}

hm_err ct_exec_end_block(ct_exec *x) {
    if (x == NULL)
        return HM_ERR_ARG;
    assert(!x->in_tx && !x->ended);
    x->ended = true;
    return ct_settle_end_block(x);
}

/* ------------------------------------------------------------ results out */

typedef struct {
    ct_visit_fn visit;
    void *arg;
} write_walk;

static bool visit_write(void *arg, const ct_bytemap_node *n) {
    write_walk *w = arg;
    if (n->state == CT_SLOT_ABSENT)
        return true;
    if (n->state == CT_SLOT_DELETED)
        return w->visit(w->arg, n->key, n->key_len, NULL, 0);
    /* An empty value is still a value: never hand out NULL for it. */
    return w->visit(w->arg, n->key, n->key_len, ct_bytemap_node_value(n), n->val_len);
}

hm_err ct_exec_foreach_write(const ct_exec *x, ct_visit_fn visit, void *arg) {
    if (x == NULL || visit == NULL)
        return HM_ERR_ARG;
    write_walk w = {.visit = visit, .arg = arg};
    (void)ct_bytemap_walk(&x->overlay, NULL, 0, NULL, 0, visit_write, &w);
    return HM_OK;
}

/* The digest's input goes through a buffer: hundreds of thousands of short
 * keys and values per block, each hashed in a few calls, would spend more on
 * the calls than on the hashing. The bytes hashed are the same. */
#define DIGEST_BUF_SIZE (16 * 1024)

typedef struct {
    hm_sha256_ctx *sha;
    uint8_t *buf; /* NULL (cap 0) if it could not be allocated: unbuffered */
    size_t len, cap;
} digest_buf;

static void digest_add(digest_buf *d, const uint8_t *data, size_t len) {
    if (len > d->cap - d->len) {
        if (d->len > 0)
            hm_sha256_update(d->sha, d->buf, d->len);
        d->len = 0;
        if (len > d->cap / 2) {
            hm_sha256_update(d->sha, data, len);
            return;
        }
    }
    memcpy(d->buf + d->len, data, len);
    d->len += len;
}

static bool digest_write(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                         size_t val_len) {
    digest_buf *d = arg;
    uint8_t head[16];
    hm_writer w;
    hm_writer_init(&w, head, sizeof head);
    hm_put_varint(&w, key_len);
    digest_add(d, head, w.len);
    digest_add(d, key, key_len);
    hm_writer_init(&w, head, sizeof head);
    hm_put_bool(&w, val != NULL);
    if (val != NULL)
        hm_put_varint(&w, val_len);
    digest_add(d, head, w.len);
    if (val != NULL)
        digest_add(d, val, val_len);
    return true;
}

void ct_exec_state_root(const ct_exec *x, const uint8_t prev_root[HM_HASH_LEN],
                        uint8_t out[HM_HASH_LEN]) {
    assert(x != NULL && !x->in_tx);
    digest_buf d = {.sha = hm_sha256_new(), .buf = malloc(DIGEST_BUF_SIZE)};
    d.cap = d.buf != NULL ? DIGEST_BUF_SIZE : 0;
    assert(d.sha != NULL); /* a few hundred bytes; failing here means the process is dying */
    hm_err err = ct_exec_foreach_write(x, digest_write, &d);
    assert(err == HM_OK); /* x and the visitor are not NULL */
    (void)err;
    if (d.len > 0)
        hm_sha256_update(d.sha, d.buf, d.len);
    free(d.buf);
    uint8_t buf[2 * HM_HASH_LEN];
    memcpy(buf, prev_root, HM_HASH_LEN);
    hm_sha256_final(d.sha, buf + HM_HASH_LEN);
    hm_sha256_free(d.sha);
    hm_tagged_hash("hallmark/state", buf, sizeof buf, out);
}

typedef struct {
    ct_memstore *m;
    hm_err err;
} apply_ctx;

static bool apply_write(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    apply_ctx *a = arg;
    a->err = ct_memstore_write(a->m, key, key_len, val, val_len);
    return a->err == HM_OK;
}

hm_err ct_exec_apply_to_memstore(const ct_exec *x, ct_memstore *m) {
    if (x == NULL || m == NULL)
        return HM_ERR_ARG;
    apply_ctx a = {m, HM_OK};
    hm_err err = ct_exec_foreach_write(x, apply_write, &a);
    return err != HM_OK ? err : a.err;
}
