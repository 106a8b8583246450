/* tests/unit/test_nd_evalloc.c — libevent's allocator (node/evalloc.c): a
 * block is never handed out smaller than asked, freed blocks are reused
 * within their size class only, the cache stays within its bounds, drain
 * empties it, blocks from plain malloc are accepted, and libevent runs its
 * HTTP header lists and buffers on it. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "evalloc.h"

/* Every size up to twice the largest class (small, then large in steps):
 * the block given holds the
 * whole request (writing it all is what ASan would catch), before and
 * after blocks of every size went through the cache. */
static void test_never_smaller(void **state) {
    (void)state;
    for (int round = 0; round < 2; round++) {
        for (size_t n = 1; n <= 64 * ND_EVALLOC_SIZE_MAX;
             n += n < 4 * ND_EVALLOC_SIZE_MAX ? 7 : 997) {
            uint8_t *p = nd_evalloc_malloc(n);
            assert_non_null(p);
            assert_true(malloc_usable_size(p) >= n);
            memset(p, 0xa5, n);
            nd_evalloc_free(p);
        }
    }
    nd_evalloc_drain();
    assert_int_equal(nd_evalloc_cached_bytes(), 0);
}

/* A freed block comes back for a request of its class, and never for a
 * larger one. */
static void test_reuse_by_class(void **state) {
    (void)state;
    if (!nd_evalloc_caches()) {
        skip();
    }
    void *a = nd_evalloc_malloc(30);
    assert_non_null(a);
    size_t usable = malloc_usable_size(a);
    nd_evalloc_free(a);
    assert_int_equal(nd_evalloc_cached_bytes(), usable);
    void *bigger = nd_evalloc_malloc(usable + 1);
    assert_non_null(bigger);
    assert_ptr_not_equal(bigger, a);
    assert_true(malloc_usable_size(bigger) >= usable + 1);
    void *again = nd_evalloc_malloc(usable);
    assert_ptr_equal(again, a);
    assert_int_equal(nd_evalloc_cached_bytes(), 0);
    nd_evalloc_free(again);
    nd_evalloc_free(bigger);
    nd_evalloc_drain();
    assert_int_equal(nd_evalloc_cached_bytes(), 0);
}

/* Past ND_EVALLOC_BLOCKS_MAX blocks of one class, the rest go back to
 * glibc; blocks above the largest class are never kept. */
static void test_bounds(void **state) {
    (void)state;
    enum { N = ND_EVALLOC_BLOCKS_MAX + 40 };
    void *blocks[N];
    for (size_t i = 0; i < N; i++) {
        blocks[i] = nd_evalloc_malloc(100);
        assert_non_null(blocks[i]);
    }
    size_t usable = malloc_usable_size(blocks[0]);
    for (size_t i = 0; i < N; i++) {
        nd_evalloc_free(blocks[i]);
    }
    size_t kept = nd_evalloc_cached_bytes();
    assert_true(kept <= (size_t)ND_EVALLOC_BLOCKS_MAX * usable);
    assert_true(kept <= ND_EVALLOC_CACHE_BYTES);
    if (nd_evalloc_caches()) {
        assert_int_equal(kept, (size_t)ND_EVALLOC_BLOCKS_MAX * usable);
    }
    void *big = nd_evalloc_malloc(4 * ND_EVALLOC_SIZE_MAX);
    assert_non_null(big);
    nd_evalloc_free(big);
    assert_int_equal(nd_evalloc_cached_bytes(), kept);
    nd_evalloc_drain();
    assert_int_equal(nd_evalloc_cached_bytes(), 0);
}

/* The byte budget holds across classes. */
static void test_byte_budget(void **state) {
    (void)state;
    size_t n = ND_EVALLOC_SIZE_MAX;
    size_t count = 2 * ND_EVALLOC_CACHE_BYTES / n + 1;
    void **blocks = calloc(count, sizeof *blocks);
    assert_non_null(blocks);
    for (size_t i = 0; i < count; i++) {
        /* sizes spread over the classes near the top */
        blocks[i] = nd_evalloc_malloc(n - 16 * (i % 32));
        assert_non_null(blocks[i]);
    }
    for (size_t i = 0; i < count; i++) {
        nd_evalloc_free(blocks[i]);
    }
    assert_true(nd_evalloc_cached_bytes() <= ND_EVALLOC_CACHE_BYTES);
    nd_evalloc_drain();
    assert_int_equal(nd_evalloc_cached_bytes(), 0);
    free(blocks);
}

/* Blocks from plain malloc may be freed here, blocks from here with free();
 * realloc keeps the content and accepts NULL. */
static void test_interchangeable(void **state) {
    (void)state;
    char *p = malloc(40);
    assert_non_null(p);
    nd_evalloc_free(p);
    char *q = nd_evalloc_malloc(40);
    assert_non_null(q);
    memcpy(q, "hallmark", 9);
    q = nd_evalloc_realloc(q, 4000);
    assert_non_null(q);
    assert_string_equal(q, "hallmark");
    free(q);
    char *r = nd_evalloc_realloc(NULL, 10);
    assert_non_null(r);
    free(r);
    nd_evalloc_free(NULL);
    nd_evalloc_drain();
    assert_int_equal(nd_evalloc_cached_bytes(), 0);
}

/* libevent on this allocator: header lists and buffers come and go, blocks
 * are reused, and everything is released. */
static void test_libevent(void **state) {
    (void)state;
    for (int round = 0; round < 50; round++) {
        struct evkeyvalq headers;
        /* TAILQ_INIT, which libevent's headers do not define */
        headers.tqh_first = NULL;
        headers.tqh_last = &headers.tqh_first;
        assert_int_equal(evhttp_add_header(&headers, "Content-Type", "text/html"), 0);
        assert_int_equal(evhttp_add_header(&headers, "ETag", "\"0123\""), 0);
        assert_int_equal(evhttp_add_header(&headers, "Bad", "a\r\nb"), -1);
        assert_string_equal(evhttp_find_header(&headers, "etag"), "\"0123\"");
        struct evbuffer *b = evbuffer_new();
        assert_non_null(b);
        for (int i = 0; i < 100; i++) {
            assert_int_equal(evbuffer_add(b, "0123456789", 10), 0);
        }
        assert_int_equal(evbuffer_get_length(b), 1000);
        evbuffer_free(b);
        evhttp_clear_headers(&headers);
        char *decoded = evhttp_uridecode("a%20b", 0, NULL);
        assert_string_equal(decoded, "a b");
        free(decoded); /* what libevent hands out is freed with free() */
    }
    assert_true(nd_evalloc_cached_bytes() <= ND_EVALLOC_CACHE_BYTES);
    if (nd_evalloc_caches()) {
        assert_true(nd_evalloc_cached_bytes() > 0);
    }
    nd_evalloc_drain();
    assert_int_equal(nd_evalloc_cached_bytes(), 0);
}

int main(void) {
    /* libevent's rule: before any other libevent call. */
    nd_evalloc_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_smaller),   cmocka_unit_test(test_reuse_by_class),
        cmocka_unit_test(test_bounds),          cmocka_unit_test(test_byte_budget),
        cmocka_unit_test(test_interchangeable), cmocka_unit_test(test_libevent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
