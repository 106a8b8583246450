/* contracts/memstore.c — committed state held in memory.
 *
 * Layer: contracts/ (pure). The ct_store that unit tests, the simulator and
 * offline tools execute against; the node backs the same interface with
 * RocksDB. Byte-ordered, so scans visit keys exactly as RocksDB would. */
#include "ct_internal.h"

#include <stdlib.h>
#include <string.h>

struct ct_memstore {
    ct_bytemap map;
    size_t live; /* slots in state SET */
};

hm_err ct_memstore_new(ct_memstore **out) {
    if (out == NULL)
        return HM_ERR_ARG;
    ct_memstore *m = calloc(1, sizeof *m);
    if (m == NULL)
        return HM_ERR_NOMEM;
    ct_bytemap_init(&m->map);
    *out = m;
    return HM_OK;
}

void ct_memstore_free(ct_memstore *m) {
    if (m == NULL)
        return;
    ct_bytemap_free(&m->map);
    free(m);
}

size_t ct_memstore_count(const ct_memstore *m) {
    return m->live;
}

hm_err ct_memstore_write(ct_memstore *m, const uint8_t *key, size_t key_len, const uint8_t *val,
                         size_t val_len) {
    if (m == NULL || key == NULL || key_len > CT_KEY_MAX)
        return HM_ERR_ARG;
    ct_bytemap_node *n;
    hm_err err = ct_bytemap_slot(&m->map, key, key_len, &n);
    if (err != HM_OK)
        return err;
    bool was_live = n->state == CT_SLOT_SET;
    if (val != NULL) {
        err = ct_bytemap_node_set(n, val, val_len);
        if (err != HM_OK)
            return err;
        m->live += !was_live;
    } else {
        ct_bytemap_node_take(n, NULL, 0, CT_SLOT_DELETED);
        m->live -= was_live;
    }
    return HM_OK;
}

static hm_err mem_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                      size_t *val_len) {
    ct_memstore *m = ctx;
    ct_bytemap_node *n = ct_bytemap_find(&m->map, key, key_len);
    if (n == NULL || n->state != CT_SLOT_SET)
        return HM_ERR_NOT_FOUND;
    *val_len = n->val_len;
    return ct_bytes_dup(n->val, n->val_len, val);
}

typedef struct {
    ct_visit_fn visit;
    void *arg;
} mem_scan_ctx;

static bool mem_scan_one(void *arg, const ct_bytemap_node *n) {
    mem_scan_ctx *s = arg;
    if (n->state != CT_SLOT_SET)
        return true;
    return s->visit(s->arg, n->key, n->key_len, ct_bytemap_node_value(n), n->val_len);
}

static hm_err mem_scan(void *ctx, const uint8_t *start, size_t start_len, const uint8_t *end,
                       size_t end_len, ct_visit_fn visit, void *arg) {
    ct_memstore *m = ctx;
    mem_scan_ctx s = {visit, arg};
    (void)ct_bytemap_walk(&m->map, start, start_len, end, end_len, mem_scan_one, &s);
    return HM_OK;
}

ct_store ct_memstore_store(ct_memstore *m) {
    ct_store s = {.ctx = m, .get = mem_get, .scan = mem_scan};
    return s;
}
