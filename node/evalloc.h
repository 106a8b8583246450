/* node/evalloc.h — the allocator libevent uses inside hallmarkd: glibc's
 * malloc, with a per-thread cache of small freed blocks in front of it.
 *
 * Layer: node/. Why: an HTTP lookup makes libevent allocate and free about
 * fifty small blocks (three for each header of the request and the answer,
 * the request, its buffers), many of the same size and all freed together
 * when the answer is written. glibc keeps at most seven freed blocks per
 * size in its per-thread cache; the rest go back to the arena's bins, and
 * the next request takes them out again through the slow path (and a large
 * allocation in between makes glibc consolidate them all). This cache
 * keeps up to ND_EVALLOC_BLOCKS_MAX freed blocks per size class, up to
 * ND_EVALLOC_CACHE_BYTES per thread, for blocks whose usable size is at
 * most ND_EVALLOC_SIZE_MAX.
 *
 * Every block is a glibc malloc block from start to end: the cache only
 * delays free(). So memory libevent hands out (evhttp_uridecode,
 * evbuffer_readln, ...) is still released with free(), and a block freed
 * through nd_evalloc_free may have come from plain malloc. Built with
 * AddressSanitizer, nothing is cached (ASan must see every free). */
#ifndef HALLMARK_ND_EVALLOC_H
#define HALLMARK_ND_EVALLOC_H

#include <stdbool.h>
#include <stddef.h>

#define ND_EVALLOC_SIZE_MAX 1032          /* the largest usable size cached */
#define ND_EVALLOC_BLOCKS_MAX 128         /* per size class */
#define ND_EVALLOC_CACHE_BYTES (1u << 20) /* per thread, usable bytes */

/* Makes libevent allocate through the three functions below. Must run
 * before any other libevent call (libevent's rule); call it once. */
void nd_evalloc_install(void);
/* glibc's settings for large blocks that hallmarkd (and the benchmarks that
 * stand for it) start with: heap blocks up to 32 MiB, trimming past 64 MiB
 * (node/evalloc.c says why). */
void nd_malloc_tune(void);

/* malloc(n), served from this thread's cache when it holds a block of a
 * size class that fits n. NULL when out of memory. */
void *nd_evalloc_malloc(size_t n);
/* realloc(p, n): p is a glibc block (cached blocks are never handed to
 * realloc while cached). */
void *nd_evalloc_realloc(void *p, size_t n);
/* Keeps p in this thread's cache when it is small and there is room, else
 * free(p). NULL-safe. */
void nd_evalloc_free(void *p);

/* Frees every block this thread's cache holds (at shutdown). */
void nd_evalloc_drain(void);
/* Usable bytes this thread's cache holds (for tests). */
size_t nd_evalloc_cached_bytes(void);
/* False when built to hand every block straight back to glibc (ASan), or
 * when the allocator in use does not give glibc's size classes (under
 * valgrind, a block's usable size is what was asked): blocks are then kept
 * only when their size happens to fall on a class, and tests that count on
 * reuse have nothing to check. */
bool nd_evalloc_caches(void);

#endif
