/* contracts/src.c — a state source: one read interface over either a block's
 * uncommitted overlay (ct_exec) or a committed store (ct_store), so that the
 * same decoding code serves execution and queries.
 *
 * Layer: contracts/ (pure). Only forwards reads; never writes, never does
 * I/O of its own (the store behind a ct_store does that for the node). */
#include "ct_internal.h"

#include <stdlib.h>

bool ct_visit_found(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                    size_t val_len) {
    (void)key;
    (void)key_len;
    (void)val;
    (void)val_len;
    *(bool *)arg = true;
    return false;
}

hm_err ct_src_get(const ct_src *from, const uint8_t *key, size_t key_len, uint8_t **val,
                  size_t *val_len) {
    assert((from->x == NULL) != (from->s == NULL));
    if (from->x != NULL)
        return ct_state_get(from->x, key, key_len, val, val_len);
    return from->s->get(from->s->ctx, key, key_len, val, val_len);
}

hm_err ct_src_scan(const ct_src *from, const uint8_t *start, size_t start_len, const uint8_t *end,
                   size_t end_len, ct_visit_fn visit, void *arg) {
    assert((from->x == NULL) != (from->s == NULL));
    if (from->x != NULL)
        return ct_state_scan(from->x, start, start_len, end, end_len, visit, arg);
    return from->s->scan(from->s->ctx, start, start_len, end, end_len, visit, arg);
}

hm_err ct_src_exists(const ct_src *from, const uint8_t *key, size_t key_len, bool *exists) {
    uint8_t *val = NULL;
    size_t val_len = 0;
    hm_err err = ct_src_get(from, key, key_len, &val, &val_len);
    free(val);
    *exists = err == HM_OK;
    return err == HM_ERR_NOT_FOUND ? HM_OK : err;
}
