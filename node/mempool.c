/* node/mempool.c — pending transactions, bounded in count and bytes.
 *
 * Layer: node/. Holds copies of txs that were already decoded and
 * signature-checked by the caller, keyed by tx id, in arrival order so that
 * proposals take the oldest first. Must never grow past its bounds: a full
 * pool refuses with HM_ERR_FULL rather than evicting, so that a client learns
 * its tx was not taken. Single-threaded. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "nd_int.h"

/* One allocation per pooled tx: the entry and its bytes together. */
typedef struct mp_entry {
    uint8_t id[HM_HASH_LEN];
    size_t tx_len;
    struct mp_entry *older, *newer; /* arrival order */
    struct mp_entry *chain;         /* hash bucket */
    uint8_t tx[];
} mp_entry;

struct nd_mempool {
    uint32_t txs_max;
    uint64_t bytes_max;
    uint32_t count;
    uint64_t bytes;
    size_t bucket_mask;
    mp_entry **buckets;
    mp_entry *oldest, *newest;
};

static size_t bucket_of(const nd_mempool *m, const uint8_t id[HM_HASH_LEN]) {
    /* ids are SHA-256 outputs: any 8 bytes are uniformly spread */
    uint64_t v;
    memcpy(&v, id, sizeof v);
    return (size_t)v & m->bucket_mask;
}

hm_err nd_mempool_new(uint32_t txs_max, uint64_t bytes_max, nd_mempool **out) {
    if (txs_max == 0 || bytes_max == 0)
        return HM_ERR_ARG;
    nd_mempool *m = calloc(1, sizeof *m);
    if (!m)
        return HM_ERR_NOMEM;
    size_t buckets = 16;
    while (buckets < (size_t)txs_max * 2 && buckets < ((size_t)1 << 30))
        buckets <<= 1;
    m->buckets = calloc(buckets, sizeof *m->buckets);
    if (!m->buckets) {
        free(m);
        return HM_ERR_NOMEM;
    }
    m->bucket_mask = buckets - 1;
    m->txs_max = txs_max;
    m->bytes_max = bytes_max;
    *out = m;
    return HM_OK;
}

void nd_mempool_free(nd_mempool *m) {
    if (!m)
        return;
    mp_entry *e = m->oldest;
    while (e) {
        mp_entry *next = e->newer;
        free(e);
        e = next;
    }
    free(m->buckets);
    free(m);
}

static mp_entry **find_slot(const nd_mempool *m, const uint8_t id[HM_HASH_LEN]) {
    mp_entry **slot = &m->buckets[bucket_of(m, id)];
    while (*slot && memcmp((*slot)->id, id, HM_HASH_LEN) != 0)
        slot = &(*slot)->chain;
    return slot;
}

bool nd_mempool_contains(const nd_mempool *m, const uint8_t id[HM_HASH_LEN]) {
    return *find_slot(m, id) != NULL;
}

bool nd_mempool_get(const nd_mempool *m, const uint8_t id[HM_HASH_LEN], const uint8_t **tx,
                    size_t *tx_len) {
    const mp_entry *e = *find_slot(m, id);
    if (!e)
        return false;
    *tx = e->tx;
    *tx_len = e->tx_len;
    return true;
}

hm_err nd_mempool_add(nd_mempool *m, const uint8_t id[HM_HASH_LEN], const uint8_t *tx,
                      size_t tx_len) {
    mp_entry **slot = find_slot(m, id);
    if (*slot)
        return HM_ERR_EXISTS;
    if (m->count >= m->txs_max || tx_len > m->bytes_max || m->bytes > m->bytes_max - tx_len)
        return HM_ERR_FULL;
    mp_entry *e = malloc(sizeof *e + tx_len);
    if (!e)
        return HM_ERR_NOMEM;
    e->chain = NULL;
    e->newer = NULL;
    memcpy(e->tx, tx, tx_len);
    memcpy(e->id, id, HM_HASH_LEN);
    e->tx_len = tx_len;
    *slot = e;
    e->older = m->newest;
    if (m->newest)
        m->newest->newer = e;
    else
        m->oldest = e;
    m->newest = e;
    m->count++;
    m->bytes += tx_len;
    assert(m->count <= m->txs_max && m->bytes <= m->bytes_max);
    return HM_OK;
}

void nd_mempool_remove(nd_mempool *m, const uint8_t id[HM_HASH_LEN]) {
    mp_entry **slot = find_slot(m, id);
    mp_entry *e = *slot;
    if (!e)
        return;
    *slot = e->chain;
    if (e->older)
        e->older->newer = e->newer;
    else
        m->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        m->newest = e->older;
    assert(m->count > 0 && m->bytes >= e->tx_len);
    m->count--;
    m->bytes -= e->tx_len;
    free(e);
}

uint32_t nd_mempool_count(const nd_mempool *m) {
    return m->count;
}

uint64_t nd_mempool_bytes(const nd_mempool *m) {
    return m->bytes;
}

uint32_t nd_mempool_reap(const nd_mempool *m, uint32_t count_max, uint64_t bytes_max,
                         const uint8_t **txs, size_t *tx_lens) {
    uint32_t n = 0;
    uint64_t bytes = 0;
    for (const mp_entry *e = m->oldest; e && n < count_max; e = e->newer) {
        if (e->tx_len > bytes_max - bytes)
            break; /* keep arrival order: never skip past a big tx */
        txs[n] = e->tx;
        tx_lens[n] = e->tx_len;
        bytes += e->tx_len;
        n++;
    }
    return n;
}
