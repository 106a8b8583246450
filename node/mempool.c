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

/* One allocation per pooled tx: the entry, its bytes and its record hashes
 * together. */
typedef struct mp_entry {
    uint8_t id[HM_HASH_LEN];
    size_t tx_len;
    size_t hash_count;              /* record hashes after the tx bytes */
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

bool nd_mempool_hashes(const nd_mempool *m, const uint8_t id[HM_HASH_LEN], const uint8_t *tx,
                       size_t tx_len, const uint8_t (**hashes)[HM_HASH_LEN], size_t *hash_count) {
    const mp_entry *e = *find_slot(m, id);
    if (!e || e->hash_count == 0 || e->tx_len != tx_len || memcmp(e->tx, tx, tx_len) != 0)
        return false;
    *hashes = (const uint8_t(*)[HM_HASH_LEN])(e->tx + e->tx_len);
    *hash_count = e->hash_count;
    return true;
}

/* What an entry adds to the pool's bytes. */
static size_t entry_bytes(const mp_entry *e) {
    return e->tx_len + e->hash_count * HM_HASH_LEN;
}

hm_err nd_mempool_add(nd_mempool *m, const uint8_t id[HM_HASH_LEN], const uint8_t *tx,
                      size_t tx_len) {
    return nd_mempool_add_hashed(m, id, tx, tx_len, NULL, 0);
}

hm_err nd_mempool_add_hashed(nd_mempool *m, const uint8_t id[HM_HASH_LEN], const uint8_t *tx,
                             size_t tx_len, const uint8_t (*hashes)[HM_HASH_LEN],
                             size_t hash_count) {
    assert(hash_count == 0 || hashes != NULL);
    mp_entry **slot = find_slot(m, id);
    if (*slot)
        return HM_ERR_EXISTS;
    /* in this order, so that nothing below can wrap around */
    if (m->count >= m->txs_max || tx_len > m->bytes_max ||
        hash_count > (m->bytes_max - tx_len) / HM_HASH_LEN)
        return HM_ERR_FULL;
    size_t bytes = tx_len + hash_count * HM_HASH_LEN;
    if (m->bytes > m->bytes_max - bytes)
        return HM_ERR_FULL;
    mp_entry *e = malloc(sizeof *e + bytes);
    if (!e)
        return HM_ERR_NOMEM;
    e->chain = NULL;
    e->newer = NULL;
    memcpy(e->tx, tx, tx_len);
    if (hash_count)
        memcpy(e->tx + tx_len, hashes, hash_count * HM_HASH_LEN);
    memcpy(e->id, id, HM_HASH_LEN);
    e->tx_len = tx_len;
    e->hash_count = hash_count;
    *slot = e;
    e->older = m->newest;
    if (m->newest)
        m->newest->newer = e;
    else
        m->oldest = e;
    m->newest = e;
    m->count++;
    m->bytes += bytes;
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
    assert(m->count > 0 && m->bytes >= entry_bytes(e));
    m->count--;
    m->bytes -= entry_bytes(e);
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
