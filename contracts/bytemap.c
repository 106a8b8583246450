/* contracts/bytemap.c — an ordered map from byte keys to byte values.
 *
 * Layer: contracts/ (pure). An AVL tree: worst-case O(log n) whatever keys
 * an attacker chooses (a hash table would need a secret seed, and contracts
 * have no randomness), and in-order traversal is byte order, which is the
 * only order the state may ever be visited in. Entries are never unlinked:
 * a slot keeps a state (absent, set, deleted) so that a block's overlay can
 * record deletions and roll a refused tx back in place. A map lives either
 * on malloc (the memory store: long-lived, values replaced and freed) or on
 * an arena (a block's overlay: nodes and values carved from large blocks
 * and freed together when the block is done). */
#include "ct_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int ct_key_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return (a_len > b_len) - (a_len < b_len);
}

void ct_bytemap_init(ct_bytemap *m) {
    memset(m, 0, sizeof *m);
}

void ct_bytemap_init_arena(ct_bytemap *m) {
    memset(m, 0, sizeof *m);
    m->arena = true;
}

/* ------------------------------------------------------------- arena
 *
 * A block's overlay takes two or three writes per record of a 100,000-record
 * batch and lives for one block: carving nodes and values out of large
 * blocks, freed together, replaces a malloc and a free per node and per
 * value. */

#define ARENA_BLOCK_SIZE (256 * 1024)
#define ARENA_ALIGN 8

struct ct_arena_block {
    ct_arena_block *next;
    size_t used, cap;
    _Alignas(ARENA_ALIGN) uint8_t data[];
};

/* len bytes from m's arena, aligned to ARENA_ALIGN when aligned is set. */
static void *arena_alloc(ct_bytemap *m, size_t len, bool aligned) {
    ct_arena_block *b = m->blocks;
    if (b != NULL) {
        size_t at = aligned ? (b->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1) : b->used;
        if (at <= b->cap && b->cap - at >= len) {
            b->used = at + len;
            return b->data + at;
        }
    }
    /* A large value gets a block of its own, behind the current one so that
     * the current one's free space is not lost. */
    bool own = len > ARENA_BLOCK_SIZE / 4;
    size_t cap = own ? len : ARENA_BLOCK_SIZE;
    ct_arena_block *fresh = malloc(sizeof *fresh + cap);
    if (fresh == NULL)
        return NULL;
    fresh->cap = cap;
    fresh->used = len;
    if (own && b != NULL) {
        fresh->next = b->next;
        b->next = fresh;
    } else {
        fresh->next = b;
        m->blocks = fresh;
    }
    return fresh->data;
}

hm_err ct_bytemap_value_copy(ct_bytemap *m, const uint8_t *data, size_t len, uint8_t **out) {
    assert(m->arena);
    *out = NULL;
    if (len == 0)
        return HM_OK;
    *out = arena_alloc(m, len, false);
    if (*out == NULL)
        return HM_ERR_NOMEM;
    memcpy(*out, data, len);
    return HM_OK;
}

static void node_free(ct_bytemap_node *n) {
    while (n != NULL) {
        node_free(n->left);
        ct_bytemap_node *right = n->right;
        free(n->val);
        free(n);
        n = right;
    }
}

void ct_bytemap_free(ct_bytemap *m) {
    if (m == NULL)
        return;
    if (m->arena) {
        while (m->blocks != NULL) {
            ct_arena_block *next = m->blocks->next;
            free(m->blocks);
            m->blocks = next;
        }
    } else {
        node_free(m->root);
    }
    memset(m, 0, sizeof *m);
}

ct_bytemap_node *ct_bytemap_find(const ct_bytemap *m, const uint8_t *key, size_t key_len) {
    ct_bytemap_node *n = m->root;
    while (n != NULL) {
        int c = ct_key_compare(key, key_len, n->key, n->key_len);
        if (c == 0)
            return n;
        n = c < 0 ? n->left : n->right;
    }
    return NULL;
}

static int height(const ct_bytemap_node *n) {
    return n ? n->height : 0;
}

static void fix_height(ct_bytemap_node *n) {
    int l = height(n->left), r = height(n->right);
    n->height = (l > r ? l : r) + 1;
}

static ct_bytemap_node *rotate_right(ct_bytemap_node *n) {
    ct_bytemap_node *l = n->left;
    n->left = l->right;
    l->right = n;
    fix_height(n);
    fix_height(l);
    return l;
}

static ct_bytemap_node *rotate_left(ct_bytemap_node *n) {
    ct_bytemap_node *r = n->right;
    n->right = r->left;
    r->left = n;
    fix_height(n);
    fix_height(r);
    return r;
}

static ct_bytemap_node *rebalance(ct_bytemap_node *n) {
    fix_height(n);
    int balance = height(n->left) - height(n->right);
    if (balance > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (balance < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

static ct_bytemap_node *node_new(ct_bytemap *m, const uint8_t *key, size_t key_len) {
    /* The key lives in the same allocation as its node. */
    ct_bytemap_node *fresh;
    if (m->arena) {
        fresh = arena_alloc(m, sizeof *fresh + key_len, true);
        if (fresh != NULL)
            memset(fresh, 0, sizeof *fresh);
    } else {
        fresh = calloc(1, sizeof *fresh + key_len);
    }
    if (fresh == NULL)
        return NULL;
    memcpy(fresh->key, key, key_len);
    fresh->key_len = key_len;
    fresh->height = 1;
    fresh->state = CT_SLOT_ABSENT;
    return fresh;
}

/* One descent: finds key's node, or creates it where the search ends and
 * rebalances back up only as far as the subtree heights change (an AVL
 * insertion changes at most one rotation's worth; above a subtree whose
 * height did not change, nothing does). */
hm_err ct_bytemap_slot(ct_bytemap *m, const uint8_t *key, size_t key_len, ct_bytemap_node **out) {
    assert(key_len <= CT_KEY_MAX);
    ct_bytemap_node **path[CT_BYTEMAP_DEPTH_MAX]; /* the links followed, root first */
    size_t depth = 0;
    ct_bytemap_node **link = &m->root;
    while (*link != NULL) {
        ct_bytemap_node *n = *link;
        int c = ct_key_compare(key, key_len, n->key, n->key_len);
        if (c == 0) {
            *out = n;
            return HM_OK;
        }
        assert(depth < CT_BYTEMAP_DEPTH_MAX);
        path[depth++] = link;
        link = c < 0 ? &n->left : &n->right;
    }
    ct_bytemap_node *fresh = node_new(m, key, key_len);
    if (fresh == NULL)
        return HM_ERR_NOMEM;
    *link = fresh;
    m->nodes++;
    m->shape++;
    while (depth > 0) {
        ct_bytemap_node **up = path[--depth];
        int before = (*up)->height;
        *up = rebalance(*up);
        if ((*up)->height == before)
            break;
    }
    *out = fresh;
    return HM_OK;
}

/* A map at most this many times larger than a sorted bulk of slots is
 * rebuilt (about m + n steps, each a pointer move or one key comparison);
 * a larger one takes the n descents (n log m comparisons, each a likely
 * cache miss), which then cost less than walking all of it. */
#define SORTED_REBUILD_FACTOR 8

/* The nodes of m, in order, into out; returns how many. */
static size_t flatten(ct_bytemap *m, ct_bytemap_node **out) {
    ct_bytemap_iter it;
    ct_bytemap_iter_init(&it, m, NULL, 0, NULL, 0);
    size_t count = 0;
    const ct_bytemap_node *n;
    while ((n = ct_bytemap_iter_next(&it)) != NULL)
        out[count++] = (ct_bytemap_node *)n; /* m is the caller's to relink */
    return count;
}

/* A perfectly balanced tree over nodes[0..count), in that order: the two
 * halves under each node differ by at most one node, so by at most one in
 * height, which makes it an AVL tree. */
static ct_bytemap_node *build_balanced(ct_bytemap_node **nodes, size_t count) {
    if (count == 0)
        return NULL;
    size_t mid = count / 2;
    ct_bytemap_node *root = nodes[mid];
    root->left = build_balanced(nodes, mid);
    root->right = build_balanced(nodes + mid + 1, count - mid - 1);
    fix_height(root);
    return root;
}

hm_err ct_bytemap_slots_sorted(ct_bytemap *m, const ct_write_ref *w, size_t n,
                               ct_bytemap_node **out) {
    for (size_t i = 0; i < n; i++) {
        if (w[i].key == NULL || w[i].key_len == 0 || w[i].key_len > CT_KEY_MAX)
            return HM_ERR_ARG;
        if (i > 0 && ct_key_compare(w[i - 1].key, w[i - 1].key_len, w[i].key, w[i].key_len) >= 0)
            return HM_ERR_ARG;
    }
    if (n == 0)
        return HM_OK;
    if (m->nodes / SORTED_REBUILD_FACTOR > n) {
        for (size_t i = 0; i < n; i++) {
            hm_err err = ct_bytemap_slot(m, w[i].key, w[i].key_len, &out[i]);
            if (err != HM_OK)
                return err;
        }
        return HM_OK;
    }
    size_t old = m->nodes;
    ct_bytemap_node **all = malloc((old + n) * sizeof *all);
    if (all == NULL)
        return HM_ERR_NOMEM;
    /* The old nodes go to the back, the merge writes from the front: at
     * every step it has taken j old nodes and i <= n keys and writes slot
     * i + j <= n + j, never past the next old node it has yet to read. */
    size_t got = flatten(m, all + n);
    assert(got == old);
    (void)got;
    size_t i = 0, j = 0, k = 0, fresh = 0;
    while (i < n) {
        int c = j < old
                    ? ct_key_compare(w[i].key, w[i].key_len, all[n + j]->key, all[n + j]->key_len)
                    : -1;
        if (c > 0) {
            all[k++] = all[n + j++];
            continue;
        }
        if (c == 0) {
            out[i++] = all[n + j];
            all[k++] = all[n + j++];
            continue;
        }
        ct_bytemap_node *node = node_new(m, w[i].key, w[i].key_len);
        if (node == NULL) {
            /* The tree is untouched (its links are not rebuilt yet); an
             * arena map frees the new nodes with itself. */
            for (size_t f = 0; !m->arena && f < i; f++)
                if (out[f]->state == CT_SLOT_ABSENT && out[f]->height == 0)
                    free(out[f]);
            free(all);
            return HM_ERR_NOMEM;
        }
        node->height = 0; /* unlinked until the rebuild below */
        out[i++] = node;
        all[k++] = node;
        fresh++;
    }
    while (j < old)
        all[k++] = all[n + j++];
    assert(k == old + fresh);
    m->root = build_balanced(all, k);
    m->nodes = k;
    m->shape++;
    free(all);
    return HM_OK;
}

hm_err ct_bytes_dup(const uint8_t *data, size_t len, uint8_t **out) {
    *out = NULL;
    if (len == 0)
        return HM_OK;
    *out = malloc(len);
    if (*out == NULL)
        return HM_ERR_NOMEM;
    memcpy(*out, data, len);
    return HM_OK;
}

hm_err ct_bytemap_node_set(ct_bytemap_node *n, const uint8_t *val, size_t val_len) {
    uint8_t *copy;
    if (ct_bytes_dup(val, val_len, &copy) != HM_OK)
        return HM_ERR_NOMEM;
    free(n->val);
    n->val = copy;
    n->val_len = val_len;
    n->state = CT_SLOT_SET;
    return HM_OK;
}

const uint8_t *ct_bytemap_node_value(const ct_bytemap_node *n) {
    static const uint8_t empty_value[1];
    return n->val != NULL ? n->val : empty_value;
}

void ct_bytemap_node_take(ct_bytemap_node *n, uint8_t *val, size_t val_len, uint8_t state) {
    free(n->val);
    n->val = val;
    n->val_len = val_len;
    n->state = state;
}

void ct_bytemap_iter_init(ct_bytemap_iter *it, const ct_bytemap *m, const uint8_t *start,
                          size_t start_len, const uint8_t *end, size_t end_len) {
    it->m = m;
    it->shape = m->shape;
    it->end = end;
    it->end_len = end_len;
    it->depth = 0;
    /* The path to the least key >= start: the nodes where the search went
     * left are the ones still to visit, innermost on top. */
    const ct_bytemap_node *n = m->root;
    while (n != NULL) {
        if (start == NULL || ct_key_compare(n->key, n->key_len, start, start_len) >= 0) {
            assert(it->depth < CT_BYTEMAP_DEPTH_MAX);
            it->stack[it->depth++] = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
}

const ct_bytemap_node *ct_bytemap_iter_next(ct_bytemap_iter *it) {
    assert(it->shape == it->m->shape); /* the tree was not relinked under the cursor */
    if (it->depth == 0)
        return NULL;
    const ct_bytemap_node *n = it->stack[--it->depth];
    if (it->end != NULL && ct_key_compare(n->key, n->key_len, it->end, it->end_len) >= 0) {
        it->depth = 0;
        return NULL;
    }
    for (const ct_bytemap_node *c = n->right; c != NULL; c = c->left) {
        assert(it->depth < CT_BYTEMAP_DEPTH_MAX);
        it->stack[it->depth++] = c;
    }
    return n;
}

bool ct_bytemap_walk(const ct_bytemap *m, const uint8_t *start, size_t start_len,
                     const uint8_t *end, size_t end_len, ct_bytemap_walk_fn fn, void *arg) {
    ct_bytemap_iter it;
    ct_bytemap_iter_init(&it, m, start, start_len, end, end_len);
    const ct_bytemap_node *n;
    while ((n = ct_bytemap_iter_next(&it)) != NULL)
        if (!fn(arg, n))
            return false;
    return true;
}
