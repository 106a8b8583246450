/* lib/sha256.c — SHA-256, one-shot and incremental, and BIP340 tagged hashes.
 *
 * Layer: lib/, the bottom, over OpenSSL's EVP interface. Hot paths (Merkle
 * nodes, sighashes) call hm_sha256 on small inputs millions of times, so the
 * EVP_MD is fetched once per process and each thread reuses one EVP_MD_CTX:
 * no allocation and no provider lookup per call. OpenSSL failing here means
 * the process cannot hash at all, which no caller can recover from, so it
 * aborts rather than return a digest that is wrong. */
#include "hm.h"
#include "hm_internal.h"

#include <assert.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hm_sha256_ctx {
    EVP_MD_CTX *md_ctx;
};

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha256_thread_key;

/* The reused context of the calling thread; freed by the key's destructor
 * when the thread exits. */
static _Thread_local EVP_MD_CTX *thread_md_ctx;

static void sha256_die(const char *what) {
    fprintf(stderr, "level=error event=sha256_failed what=%s\n", what);
    abort();
}

static void sha256_thread_ctx_free(void *ctx) {
    EVP_MD_CTX_free(ctx);
    /* Another key's destructor may still hash on this thread: it must get a
     * fresh context, not the one just freed. */
    thread_md_ctx = NULL;
}

static void sha256_init_once(void) {
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_md == NULL) {
        sha256_die("fetch");
    }
    if (pthread_key_create(&sha256_thread_key, sha256_thread_ctx_free) != 0) {
        sha256_die("thread_key");
    }
}

static const EVP_MD *sha256_md_get(void) {
    pthread_once(&sha256_once, sha256_init_once);
    assert(sha256_md != NULL);
    return sha256_md;
}

static EVP_MD_CTX *thread_ctx_get(void) {
    EVP_MD_CTX *ctx = thread_md_ctx;
    if (ctx != NULL) {
        return ctx;
    }
    (void)sha256_md_get();
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        sha256_die("ctx_new");
    }
    if (pthread_setspecific(sha256_thread_key, ctx) != 0) {
        sha256_die("setspecific");
    }
    thread_md_ctx = ctx;
    return ctx;
}

/* Hashes up to three pieces with the thread's context (one allocation-free
 * pass; the pieces are concatenated logically). */
static void sha256_parts(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                         const uint8_t *c, size_t c_len, uint8_t out[HM_HASH_LEN]) {
    EVP_MD_CTX *ctx = thread_ctx_get();
    unsigned int out_len = 0;
    if (EVP_DigestInit_ex2(ctx, sha256_md, NULL) != 1 ||
        (a_len > 0 && EVP_DigestUpdate(ctx, a, a_len) != 1) ||
        (b_len > 0 && EVP_DigestUpdate(ctx, b, b_len) != 1) ||
        (c_len > 0 && EVP_DigestUpdate(ctx, c, c_len) != 1) ||
        EVP_DigestFinal_ex(ctx, out, &out_len) != 1) {
        sha256_die("digest");
    }
    assert(out_len == HM_HASH_LEN);
}

void hm_sha256(const uint8_t *data, size_t data_len, uint8_t out[HM_HASH_LEN]) {
    assert(data != NULL || data_len == 0);
    sha256_parts(data, data_len, NULL, 0, NULL, 0, out);
}

/* Internal (declared in lib/hm_internal.h): SHA-256 of a || b || c, used by
 * leaf hashes, tagged hashes and sighashes to avoid copying into a buffer. */
void hm_sha256_3(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, const uint8_t *c,
                 size_t c_len, uint8_t out[HM_HASH_LEN]) {
    sha256_parts(a, a_len, b, b_len, c, c_len, out);
}

hm_sha256_ctx *hm_sha256_new(void) {
    const EVP_MD *md = sha256_md_get();
    hm_sha256_ctx *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) {
        return NULL;
    }
    ctx->md_ctx = EVP_MD_CTX_new();
    if (ctx->md_ctx == NULL) {
        free(ctx);
        return NULL;
    }
    if (EVP_DigestInit_ex2(ctx->md_ctx, md, NULL) != 1) {
        sha256_die("init");
    }
    return ctx;
}

void hm_sha256_update(hm_sha256_ctx *ctx, const uint8_t *data, size_t data_len) {
    assert(ctx != NULL);
    assert(data != NULL || data_len == 0);
    if (data_len > 0 && EVP_DigestUpdate(ctx->md_ctx, data, data_len) != 1) {
        sha256_die("update");
    }
}

void hm_sha256_final(hm_sha256_ctx *ctx, uint8_t out[HM_HASH_LEN]) {
    assert(ctx != NULL);
    unsigned int out_len = 0;
    if (EVP_DigestFinal_ex(ctx->md_ctx, out, &out_len) != 1) {
        sha256_die("final");
    }
    assert(out_len == HM_HASH_LEN);
    /* Reset so the context can be reused, as the header promises. */
    if (EVP_DigestInit_ex2(ctx->md_ctx, sha256_md, NULL) != 1) {
        sha256_die("init");
    }
}

void hm_sha256_free(hm_sha256_ctx *ctx) {
    if (ctx == NULL) {
        return;
    }
    EVP_MD_CTX_free(ctx->md_ctx);
    free(ctx);
}

/* SHA256(tag) for the few tags a process uses, cached per thread so a
 * tagged hash costs one SHA-256 pass instead of two. Tags are short
 * compile-time strings; longer ones bypass the cache. */
#define TAG_CACHE_SLOTS 8
#define TAG_CACHE_TAG_MAX 48

typedef struct {
    char tag[TAG_CACHE_TAG_MAX];
    uint8_t tag_hash[HM_HASH_LEN];
} tag_cache_slot;

static _Thread_local tag_cache_slot tag_cache[TAG_CACHE_SLOTS];
static _Thread_local unsigned tag_cache_next;

void hm_tag_hash(const char *tag, uint8_t tag_hash[HM_HASH_LEN]) {
    assert(tag != NULL);
    size_t tag_len = strlen(tag);
    /* The empty tag bypasses the cache because "" marks an unused slot. */
    if (tag_len == 0 || tag_len >= TAG_CACHE_TAG_MAX) {
        hm_sha256((const uint8_t *)tag, tag_len, tag_hash);
        return;
    }
    for (unsigned i = 0; i < TAG_CACHE_SLOTS; i++) {
        if (strcmp(tag_cache[i].tag, tag) == 0) {
            memcpy(tag_hash, tag_cache[i].tag_hash, HM_HASH_LEN);
            return;
        }
    }
    tag_cache_slot *slot = &tag_cache[tag_cache_next % TAG_CACHE_SLOTS];
    tag_cache_next++;
    hm_sha256((const uint8_t *)tag, tag_len, slot->tag_hash);
    memcpy(slot->tag, tag, tag_len + 1);
    memcpy(tag_hash, slot->tag_hash, HM_HASH_LEN);
}

void hm_tagged_hash(const char *tag, const uint8_t *data, size_t data_len,
                    uint8_t out[HM_HASH_LEN]) {
    assert(tag != NULL);
    assert(data != NULL || data_len == 0);
    uint8_t tag_hash[HM_HASH_LEN];
    hm_tag_hash(tag, tag_hash);
    sha256_parts(tag_hash, HM_HASH_LEN, tag_hash, HM_HASH_LEN, data, data_len, out);
}
