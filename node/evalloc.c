/* node/evalloc.c — hallmarkd's allocator settings: glibc's tuning for large
 * blocks, and libevent's allocator, glibc's malloc with a larger per-thread
 * cache of small freed blocks (node/evalloc.h says why).
 *
 * Layer: node/. Never: hand out a block smaller than asked, keep a block
 * that is not a plain glibc block of a known size class, or keep more than
 * ND_EVALLOC_CACHE_BYTES per thread. Blocks are grouped by their usable
 * size as glibc reports it (24, 40, 56, ... bytes on 64-bit glibc): every
 * block of class c has exactly 24 + 16c usable bytes, so any request up to
 * that size fits. A usable size off that grid (another allocator, a
 * debugging malloc) is simply freed. */
#include "evalloc.h"

#include <assert.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#if defined(__SANITIZE_ADDRESS__)
#define EVALLOC_CACHES 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVALLOC_CACHES 0
#endif
#endif
#ifndef EVALLOC_CACHES
#define EVALLOC_CACHES 1
#endif

#define CLASS_MIN 24u /* the smallest usable size of a 64-bit glibc block */
#define CLASS_STEP 16u
#define CLASSES ((ND_EVALLOC_SIZE_MAX - CLASS_MIN) / CLASS_STEP + 1)

static_assert((ND_EVALLOC_SIZE_MAX - CLASS_MIN) % CLASS_STEP == 0,
              "the largest class is on the grid");
static_assert(CLASS_MIN >= sizeof(void *), "a cached block holds the list link");

/* One thread's cache: a singly linked list of blocks per class, the link
 * kept in each block's first bytes. */
typedef struct {
    void *head[CLASSES];
    uint32_t count[CLASSES];
    size_t bytes;
} evalloc_cache;

static _Thread_local evalloc_cache cache;

static size_t class_usable(size_t c) {
    return CLASS_MIN + CLASS_STEP * c;
}

void *nd_evalloc_malloc(size_t n) {
    size_t c = n <= CLASS_MIN ? 0 : (n - CLASS_MIN + CLASS_STEP - 1) / CLASS_STEP;
    if (EVALLOC_CACHES && c < CLASSES && cache.head[c] != NULL) {
        void *p = cache.head[c];
        memcpy(&cache.head[c], p, sizeof(void *));
        assert(cache.count[c] > 0 && cache.bytes >= class_usable(c));
        cache.count[c]--;
        cache.bytes -= class_usable(c);
        assert(class_usable(c) >= n);
        return p;
    }
    return malloc(n);
}

void *nd_evalloc_realloc(void *p, size_t n) {
    return p == NULL ? nd_evalloc_malloc(n) : realloc(p, n);
}

void nd_evalloc_free(void *p) {
    if (p == NULL) {
        return;
    }
    size_t u = EVALLOC_CACHES ? malloc_usable_size(p) : 0;
    if (u >= CLASS_MIN && u <= ND_EVALLOC_SIZE_MAX && (u - CLASS_MIN) % CLASS_STEP == 0) {
        size_t c = (u - CLASS_MIN) / CLASS_STEP;
        if (cache.count[c] < ND_EVALLOC_BLOCKS_MAX && cache.bytes + u <= ND_EVALLOC_CACHE_BYTES) {
            memcpy(p, &cache.head[c], sizeof(void *));
            cache.head[c] = p;
            cache.count[c]++;
            cache.bytes += u;
            return;
        }
    }
    free(p);
}

void nd_evalloc_drain(void) {
    for (size_t c = 0; c < CLASSES; c++) {
        while (cache.head[c] != NULL) {
            void *p = cache.head[c];
            memcpy(&cache.head[c], p, sizeof(void *));
            free(p);
            cache.count[c]--;
            cache.bytes -= class_usable(c);
        }
        assert(cache.count[c] == 0);
    }
    assert(cache.bytes == 0);
}

size_t nd_evalloc_cached_bytes(void) {
    return cache.bytes;
}

bool nd_evalloc_caches(void) {
    if (!EVALLOC_CACHES) {
        return false;
    }
    /* glibc gives 40 usable bytes for 30 asked (its class of 24 + 16) */
    void *p = malloc(30);
    size_t u = p != NULL ? malloc_usable_size(p) : 0;
    free(p);
    return u == CLASS_MIN + CLASS_STEP;
}

/* Keeps the allocator from handing a batch's buffers back to the kernel.
 * By default glibc serves a block above its mmap threshold (128 KiB, raised
 * dynamically only up to the size of the last such block freed) with its own
 * mapping and returns the heap top once 128 KiB of it is free; a batch of
 * 100,000 records allocates and frees many buffers of several MiB (the tx,
 * leaf hashes, sorted keys, the WriteBatch), so each block paid for fresh
 * zeroed pages again. Heap blocks up to 32 MiB (the largest threshold glibc
 * allows) and trimming only past 64 MiB of free top keep those pages mapped
 * for the next batch (bench_prov_node: page faults and system time about
 * halved). The cost: up to 64 MiB of freed memory may stay resident after
 * a burst, and a freed block below 32 MiB inside the heap is reused rather
 * than unmapped (docs/operations.md, "Memory allocator settings"). */
void nd_malloc_tune(void) {
    (void)mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

void nd_evalloc_install(void) {
    event_set_mem_functions(nd_evalloc_malloc, nd_evalloc_realloc, nd_evalloc_free);
}
