/* lib/keys.c — secp256k1 keys and BIP340 Schnorr signatures with domain
 * separation.
 *
 * Layer: lib/, the bottom, over libsecp256k1. One process-wide context is
 * created once and randomized (side-channel blinding), then only read, which
 * libsecp256k1 allows from many threads. Every Hallmark signature is over
 * hm_sighash(purpose, chain id, message), so a signature for one purpose or
 * chain never verifies for another. Never logs, copies or keeps secret bytes
 * beyond the caller's keypair; temporaries holding secrets are wiped. */
#include "hm.h"
#include "hm_internal.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(secp256k1_keypair) <= sizeof(((hm_keypair *)0)->opaque),
               "hm_keypair.opaque must hold a libsecp256k1 keypair");
_Static_assert(HM_SIG_LEN == 64 && HM_PUBKEY_LEN == 32, "BIP340 sizes");

static secp256k1_context *secp_ctx;
static pthread_once_t secp_once = PTHREAD_ONCE_INIT;

static void secp_init_once(void) {
    secp_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (secp_ctx == NULL) {
        fprintf(stderr, "level=error event=secp256k1_context_failed\n");
        abort();
    }
    /* Blinding protects signing against timing side channels. If the OS
     * random source fails here the context still works, unblinded; signing
     * itself will then fail on its own getrandom call. */
    uint8_t seed[32];
    if (hm_random_bytes(seed, sizeof seed) == HM_OK) {
        int ok = secp256k1_context_randomize(secp_ctx, seed);
        assert(ok == 1);
        (void)ok;
    }
    OPENSSL_cleanse(seed, sizeof seed);
}

const secp256k1_context *hm_secp_ctx(void) {
    pthread_once(&secp_once, secp_init_once);
    assert(secp_ctx != NULL);
    return secp_ctx;
}

static const secp256k1_keypair *keypair_inner(const hm_keypair *kp) {
    return (const secp256k1_keypair *)(const void *)kp->opaque;
}

hm_err hm_keypair_from_seckey(hm_keypair *kp, const uint8_t seckey[HM_SECKEY_LEN]) {
    if (kp == NULL || seckey == NULL) {
        return HM_ERR_ARG;
    }
    const secp256k1_context *ctx = hm_secp_ctx();
    secp256k1_keypair inner;
    if (secp256k1_keypair_create(ctx, &inner, seckey) != 1) {
        OPENSSL_cleanse(&inner, sizeof inner);
        return HM_ERR_BAD_KEY;
    }
    secp256k1_xonly_pubkey xonly;
    if (secp256k1_keypair_xonly_pub(ctx, &xonly, NULL, &inner) != 1 ||
        secp256k1_xonly_pubkey_serialize(ctx, kp->pub.bytes, &xonly) != 1) {
        OPENSSL_cleanse(&inner, sizeof inner);
        return HM_ERR_CRYPTO;
    }
    memset(kp->opaque, 0, sizeof kp->opaque);
    memcpy(kp->opaque, &inner, sizeof inner);
    OPENSSL_cleanse(&inner, sizeof inner);
    return HM_OK;
}

hm_err hm_keypair_generate(hm_keypair *kp) {
    if (kp == NULL) {
        return HM_ERR_ARG;
    }
    uint8_t seckey[HM_SECKEY_LEN];
    hm_err err = HM_ERR_BAD_KEY;
    /* A random 32-byte string is an invalid key with probability ~2^-128;
     * a few retries make a persistent failure mean a broken random source. */
    for (int attempt = 0; attempt < 8 && err == HM_ERR_BAD_KEY; attempt++) {
        err = hm_random_bytes(seckey, sizeof seckey);
        if (err != HM_OK) {
            break;
        }
        err = hm_keypair_from_seckey(kp, seckey);
    }
    OPENSSL_cleanse(seckey, sizeof seckey);
    return err == HM_ERR_BAD_KEY ? HM_ERR_RANDOM : err;
}

void hm_keypair_seckey(const hm_keypair *kp, uint8_t seckey[HM_SECKEY_LEN]) {
    assert(kp != NULL && seckey != NULL);
    int ok = secp256k1_keypair_sec(hm_secp_ctx(), seckey, keypair_inner(kp));
    assert(ok == 1);
    (void)ok;
}

void hm_keypair_wipe(hm_keypair *kp) {
    if (kp == NULL) {
        return;
    }
    OPENSSL_cleanse(kp, sizeof *kp);
}

hm_err hm_pubkey_check(const hm_pubkey *pub) {
    if (pub == NULL) {
        return HM_ERR_ARG;
    }
    secp256k1_xonly_pubkey xonly;
    if (secp256k1_xonly_pubkey_parse(hm_secp_ctx(), &xonly, pub->bytes) != 1) {
        return HM_ERR_BAD_KEY;
    }
    return HM_OK;
}

void hm_sighash(const char *purpose, const char *chain_id, const uint8_t *msg, size_t msg_len,
                uint8_t out[HM_HASH_LEN]) {
    assert(purpose != NULL && chain_id != NULL);
    assert(msg != NULL || msg_len == 0);
    /* tag_hash || tag_hash || varint(len(chain_id)) is assembled on the
     * stack; chain_id and msg are hashed in place, so this hot path neither
     * copies the message nor allocates. */
    size_t chain_id_len = strlen(chain_id);
    uint8_t prefix[2 * HM_HASH_LEN + 10];
    hm_tag_hash(purpose, prefix);
    memcpy(prefix + HM_HASH_LEN, prefix, HM_HASH_LEN);
    hm_writer w;
    hm_writer_init(&w, prefix + 2 * HM_HASH_LEN, sizeof prefix - 2 * HM_HASH_LEN);
    hm_put_varint(&w, chain_id_len);
    assert(hm_writer_error(&w) == HM_OK);
    hm_sha256_3(prefix, 2 * HM_HASH_LEN + w.len, (const uint8_t *)chain_id, chain_id_len, msg,
                msg_len, out);
}

hm_err hm_sign(const hm_keypair *kp, const char *purpose, const char *chain_id, const uint8_t *msg,
               size_t msg_len, hm_sig *sig) {
    if (kp == NULL || purpose == NULL || chain_id == NULL || sig == NULL ||
        (msg == NULL && msg_len > 0) || strnlen(chain_id, HM_CHAIN_ID_MAX + 1) > HM_CHAIN_ID_MAX) {
        return HM_ERR_ARG;
    }
    uint8_t digest[HM_HASH_LEN];
    hm_sighash(purpose, chain_id, msg, msg_len, digest);
    /* Fresh aux randomness per signature, as BIP340 recommends, so a fault
     * or side channel in one signing does not leak the nonce of another. */
    uint8_t aux[32];
    hm_err err = hm_random_bytes(aux, sizeof aux);
    if (err != HM_OK) {
        OPENSSL_cleanse(aux, sizeof aux); /* it may hold part of a nonce input */
        return err;
    }
    if (secp256k1_schnorrsig_sign32(hm_secp_ctx(), sig->bytes, digest, keypair_inner(kp), aux) !=
        1) {
        OPENSSL_cleanse(aux, sizeof aux);
        return HM_ERR_CRYPTO;
    }
    OPENSSL_cleanse(aux, sizeof aux);
    return HM_OK;
}

/* Parsing an x-only key costs a square root, about 15% of a verification,
 * and the same few keys (validators, active members) sign most of what a node
 * verifies. So each thread keeps the parsed form of recently seen keys, one
 * per slot chosen by a key byte. Only keys that parsed are kept, and a slot is
 * used only when all 32 bytes match: the outcome is exactly that of parsing. */
#define PUBKEY_CACHE_SLOTS 64

typedef struct {
    bool used;
    uint8_t bytes[HM_PUBKEY_LEN];
    secp256k1_xonly_pubkey parsed;
} pubkey_cache_slot;

static _Thread_local pubkey_cache_slot pubkey_cache[PUBKEY_CACHE_SLOTS];

static bool pubkey_parse_cached(const secp256k1_context *ctx, const hm_pubkey *pub,
                                secp256k1_xonly_pubkey *out) {
    pubkey_cache_slot *slot = &pubkey_cache[pub->bytes[HM_PUBKEY_LEN - 1] % PUBKEY_CACHE_SLOTS];
    if (slot->used && memcmp(slot->bytes, pub->bytes, HM_PUBKEY_LEN) == 0) {
        *out = slot->parsed;
        return true;
    }
    if (secp256k1_xonly_pubkey_parse(ctx, out, pub->bytes) != 1) {
        return false;
    }
    memcpy(slot->bytes, pub->bytes, HM_PUBKEY_LEN);
    slot->parsed = *out;
    slot->used = true;
    return true;
}

static hm_err verify_digest(const hm_pubkey *pub, const uint8_t *msg, size_t msg_len,
                            const hm_sig *sig) {
    const secp256k1_context *ctx = hm_secp_ctx();
    secp256k1_xonly_pubkey xonly;
    if (!pubkey_parse_cached(ctx, pub, &xonly)) {
        return HM_ERR_BAD_KEY;
    }
    if (secp256k1_schnorrsig_verify(ctx, sig->bytes, msg, msg_len, &xonly) != 1) {
        return HM_ERR_BAD_SIG;
    }
    return HM_OK;
}

hm_err hm_verify(const hm_pubkey *pub, const char *purpose, const char *chain_id,
                 const uint8_t *msg, size_t msg_len, const hm_sig *sig) {
    if (pub == NULL || purpose == NULL || chain_id == NULL || sig == NULL ||
        (msg == NULL && msg_len > 0) || strnlen(chain_id, HM_CHAIN_ID_MAX + 1) > HM_CHAIN_ID_MAX) {
        return HM_ERR_ARG;
    }
    uint8_t digest[HM_HASH_LEN];
    hm_sighash(purpose, chain_id, msg, msg_len, digest);
    return verify_digest(pub, digest, sizeof digest, sig);
}

hm_err hm_bip340_sign(const hm_keypair *kp, const uint8_t *msg, size_t msg_len,
                      const uint8_t aux[32], hm_sig *sig) {
    if (kp == NULL || sig == NULL || (msg == NULL && msg_len > 0)) {
        return HM_ERR_ARG;
    }
    static const uint8_t zero_aux[32];
    secp256k1_schnorrsig_extraparams extra = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
    /* libsecp256k1 reads ndata as exactly 32 bytes of aux randomness. */
    extra.ndata = (void *)(uintptr_t)(aux != NULL ? aux : zero_aux);
    /* libsecp256k1 rejects a NULL msg even with length 0. */
    static const uint8_t empty_msg[1];
    const uint8_t *msg_ptr = msg != NULL ? msg : empty_msg;
    if (secp256k1_schnorrsig_sign_custom(hm_secp_ctx(), sig->bytes, msg_ptr, msg_len,
                                         keypair_inner(kp), &extra) != 1) {
        return HM_ERR_CRYPTO;
    }
    return HM_OK;
}

hm_err hm_bip340_verify(const hm_pubkey *pub, const uint8_t *msg, size_t msg_len,
                        const hm_sig *sig) {
    if (pub == NULL || sig == NULL || (msg == NULL && msg_len > 0)) {
        return HM_ERR_ARG;
    }
    static const uint8_t empty_msg[1];
    return verify_digest(pub, msg != NULL ? msg : empty_msg, msg_len, sig);
}
