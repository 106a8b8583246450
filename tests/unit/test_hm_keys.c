/* tests/unit/test_hm_keys.c — keys, domain-separated signatures and key
 * files: round trips, cross-purpose and cross-chain rejection, bad public
 * keys, key file permissions, format and no-overwrite rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hm.h"

static void test_sign_verify_round_trip(void **state) {
    (void)state;
    hm_keypair kp;
    assert_int_equal(hm_keypair_generate(&kp), HM_OK);
    assert_int_equal(hm_pubkey_check(&kp.pub), HM_OK);
    static const uint8_t msg[] = "one sale, three payouts";
    hm_sig sig;
    assert_int_equal(hm_sign(&kp, HM_PURPOSE_TX, "hallmark-test", msg, sizeof msg, &sig), HM_OK);
    assert_int_equal(hm_verify(&kp.pub, HM_PURPOSE_TX, "hallmark-test", msg, sizeof msg, &sig),
                     HM_OK);
    /* Fresh aux randomness: signing twice gives two different signatures,
     * both valid. */
    hm_sig again;
    assert_int_equal(hm_sign(&kp, HM_PURPOSE_TX, "hallmark-test", msg, sizeof msg, &again), HM_OK);
    assert_memory_not_equal(sig.bytes, again.bytes, HM_SIG_LEN);
    assert_int_equal(hm_verify(&kp.pub, HM_PURPOSE_TX, "hallmark-test", msg, sizeof msg, &again),
                     HM_OK);
    /* Empty message. */
    assert_int_equal(hm_sign(&kp, HM_PURPOSE_RAW, "c", NULL, 0, &sig), HM_OK);
    assert_int_equal(hm_verify(&kp.pub, HM_PURPOSE_RAW, "c", NULL, 0, &sig), HM_OK);
    hm_keypair_wipe(&kp);
    static const uint8_t zeros[sizeof kp] = {0};
    assert_memory_equal(&kp, zeros, sizeof kp);
}

static void test_domain_separation(void **state) {
    (void)state;
    hm_keypair kp, other;
    assert_int_equal(hm_keypair_generate(&kp), HM_OK);
    assert_int_equal(hm_keypair_generate(&other), HM_OK);
    static const uint8_t msg[] = {1, 2, 3, 4, 5};
    hm_sig sig;
    assert_int_equal(hm_sign(&kp, HM_PURPOSE_VOTE, "chain-a", msg, sizeof msg, &sig), HM_OK);
    assert_int_equal(hm_verify(&kp.pub, HM_PURPOSE_VOTE, "chain-a", msg, sizeof msg, &sig), HM_OK);
    const char *purposes[] = {HM_PURPOSE_TX, HM_PURPOSE_PROPOSAL, HM_PURPOSE_REQUEST,
                              HM_PURPOSE_RAW};
    for (size_t i = 0; i < sizeof purposes / sizeof purposes[0]; i++) {
        assert_int_equal(hm_verify(&kp.pub, purposes[i], "chain-a", msg, sizeof msg, &sig),
                         HM_ERR_BAD_SIG);
    }
    assert_int_equal(hm_verify(&kp.pub, HM_PURPOSE_VOTE, "chain-b", msg, sizeof msg, &sig),
                     HM_ERR_BAD_SIG);
    assert_int_equal(hm_verify(&kp.pub, HM_PURPOSE_VOTE, "chain-a", msg, sizeof msg - 1, &sig),
                     HM_ERR_BAD_SIG);
    assert_int_equal(hm_verify(&other.pub, HM_PURPOSE_VOTE, "chain-a", msg, sizeof msg, &sig),
                     HM_ERR_BAD_SIG);
    /* The chain id is length-prefixed: moving a byte between chain id and
     * message changes the digest. */
    uint8_t a[HM_HASH_LEN], b[HM_HASH_LEN];
    static const uint8_t bc[] = {'b', 'c'}, c[] = {'c'};
    hm_sighash(HM_PURPOSE_TX, "a", bc, sizeof bc, a);
    hm_sighash(HM_PURPOSE_TX, "ab", c, sizeof c, b);
    assert_memory_not_equal(a, b, HM_HASH_LEN);
    /* Every bit of the signature matters. */
    for (size_t bit = 0; bit < 8 * HM_SIG_LEN; bit += 7) {
        sig.bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(hm_verify(&kp.pub, HM_PURPOSE_VOTE, "chain-a", msg, sizeof msg, &sig),
                             HM_OK);
        sig.bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    hm_keypair_wipe(&kp);
    hm_keypair_wipe(&other);
}

static void test_sighash_construction(void **state) {
    (void)state;
    /* hm_sighash is tagged_hash(purpose, varint(len(chain)) || chain || msg). */
    static const uint8_t msg[] = {0xde, 0xad};
    uint8_t buf[1 + 5 + sizeof msg];
    buf[0] = 5;
    memcpy(buf + 1, "chain", 5);
    memcpy(buf + 6, msg, sizeof msg);
    uint8_t want[HM_HASH_LEN], got[HM_HASH_LEN];
    hm_tagged_hash(HM_PURPOSE_TX, buf, sizeof buf, want);
    hm_sighash(HM_PURPOSE_TX, "chain", msg, sizeof msg, got);
    assert_memory_equal(got, want, HM_HASH_LEN);
}

static void test_bad_keys(void **state) {
    (void)state;
    /* x = 0 is not on secp256k1 (0^3 + 7 = 7 is not a square mod p). The
     * all-0xff value is >= p. */
    hm_pubkey zero = {{0}}, high;
    memset(high.bytes, 0xff, sizeof high.bytes);
    assert_int_equal(hm_pubkey_check(&zero), HM_ERR_BAD_KEY);
    assert_int_equal(hm_pubkey_check(&high), HM_ERR_BAD_KEY);
    hm_sig sig = {{0}};
    static const uint8_t msg[] = {1};
    assert_int_equal(hm_verify(&zero, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig), HM_ERR_BAD_KEY);
    assert_int_equal(hm_verify(&high, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig), HM_ERR_BAD_KEY);
    /* Secret keys 0 and n are invalid. */
    hm_keypair kp;
    uint8_t seckey[HM_SECKEY_LEN] = {0};
    assert_int_equal(hm_keypair_from_seckey(&kp, seckey), HM_ERR_BAD_KEY);
    assert_int_equal(
        hm_hex_decode("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", seckey,
                      sizeof seckey),
        HM_OK);
    assert_int_equal(hm_keypair_from_seckey(&kp, seckey), HM_ERR_BAD_KEY);
    /* A chain id over the maximum is an argument error, not a truncation. */
    char long_chain[HM_CHAIN_ID_MAX + 2];
    memset(long_chain, 'x', sizeof long_chain - 1);
    long_chain[sizeof long_chain - 1] = '\0';
    assert_int_equal(hm_keypair_generate(&kp), HM_OK);
    assert_int_equal(hm_sign(&kp, HM_PURPOSE_TX, long_chain, msg, sizeof msg, &sig), HM_ERR_ARG);
    assert_int_equal(hm_verify(&kp.pub, HM_PURPOSE_TX, long_chain, msg, sizeof msg, &sig),
                     HM_ERR_ARG);
    hm_keypair_wipe(&kp);
}

/* hm_verify keeps parsed keys per thread, one per slot chosen by the last key
 * byte: keys that share a slot, and an invalid key sharing a slot with a
 * cached valid one, must still be told apart byte for byte. */
static void make_seeded_key(hm_keypair *kp, unsigned seed) {
    uint8_t seckey[HM_SECKEY_LEN] = {0};
    seckey[0] = 1;
    seckey[30] = (uint8_t)(seed >> 8);
    seckey[31] = (uint8_t)seed;
    assert_int_equal(hm_keypair_from_seckey(kp, seckey), HM_OK);
}

static void test_verify_key_cache_keeps_keys_apart(void **state) {
    (void)state;
    enum { SLOT_MOD = 64 };
    static const uint8_t msg[] = "cached keys";
    /* Two distinct keys in one slot, and a valid key in the slot of the
     * invalid all-0xff key. */
    hm_keypair a, b, near_high;
    make_seeded_key(&a, 1);
    unsigned seed = 2;
    do {
        make_seeded_key(&b, seed++);
    } while (b.pub.bytes[31] % SLOT_MOD != a.pub.bytes[31] % SLOT_MOD);
    do {
        make_seeded_key(&near_high, seed++);
    } while (near_high.pub.bytes[31] % SLOT_MOD != 0xff % SLOT_MOD);
    hm_sig sig_a, sig_b, sig_near;
    assert_int_equal(hm_sign(&a, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_a), HM_OK);
    assert_int_equal(hm_sign(&b, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_b), HM_OK);
    assert_int_equal(hm_sign(&near_high, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_near), HM_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(hm_verify(&a.pub, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_a), HM_OK);
        assert_int_equal(hm_verify(&b.pub, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_a),
                         HM_ERR_BAD_SIG);
        assert_int_equal(hm_verify(&b.pub, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_b), HM_OK);
        assert_int_equal(hm_verify(&a.pub, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_b),
                         HM_ERR_BAD_SIG);
        /* A key one byte away from a cached one is parsed on its own. */
        hm_pubkey altered = a.pub;
        altered.bytes[0] ^= 1;
        assert_int_not_equal(hm_verify(&altered, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_a),
                             HM_OK);
        assert_int_equal(hm_verify(&near_high.pub, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_near),
                         HM_OK);
        hm_pubkey high;
        memset(high.bytes, 0xff, sizeof high.bytes);
        assert_int_equal(hm_verify(&high, HM_PURPOSE_TX, "c", msg, sizeof msg, &sig_near),
                         HM_ERR_BAD_KEY);
    }
    hm_keypair_wipe(&a);
    hm_keypair_wipe(&b);
    hm_keypair_wipe(&near_high);
}

/* ------------------------------------------------------------- key files */

typedef struct {
    char dir[512];
    char path[600];
} temp_dir;

static int temp_setup(void **state) {
    temp_dir *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return -1;
    }
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/hm-keys-XXXXXX",
             base != NULL && base[0] != '\0' ? base : P_tmpdir);
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof t->path, "%s/validator.key", t->dir);
    *state = t;
    return 0;
}

static int temp_teardown(void **state) {
    temp_dir *t = *state;
    unlink(t->path);
    rmdir(t->dir);
    free(t);
    return 0;
}

static void write_file(const char *path, const char *content, mode_t mode) {
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0); /* umask must not mask the test */
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
}

static void test_keyfile_round_trip(void **state) {
    temp_dir *t = *state;
    hm_keypair kp, back;
    assert_int_equal(hm_keypair_generate(&kp), HM_OK);
    assert_int_equal(hm_keyfile_write(t->path, &kp), HM_OK);
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 16 + 64 + 1);
    assert_int_equal(hm_keyfile_read(t->path, &back), HM_OK);
    assert_memory_equal(back.pub.bytes, kp.pub.bytes, HM_PUBKEY_LEN);
    /* The key read back signs for the same public key. */
    hm_sig sig;
    assert_int_equal(hm_sign(&back, HM_PURPOSE_RAW, "c", NULL, 0, &sig), HM_OK);
    assert_int_equal(hm_verify(&kp.pub, HM_PURPOSE_RAW, "c", NULL, 0, &sig), HM_OK);

    /* An existing file is never overwritten. */
    hm_keypair other;
    assert_int_equal(hm_keypair_generate(&other), HM_OK);
    assert_int_equal(hm_keyfile_write(t->path, &other), HM_ERR_EXISTS);
    assert_int_equal(hm_keyfile_read(t->path, &back), HM_OK);
    assert_memory_equal(back.pub.bytes, kp.pub.bytes, HM_PUBKEY_LEN);
    hm_keypair_wipe(&kp);
    hm_keypair_wipe(&back);
    hm_keypair_wipe(&other);
}

static void test_keyfile_known_content(void **state) {
    temp_dir *t = *state;
    /* Secret key 3: the public key of BIP340 vector 0. */
    write_file(t->path,
               "hallmark-key-v1 0000000000000000000000000000000000000000000000000000000000000003\n",
               0600);
    hm_keypair kp;
    assert_int_equal(hm_keyfile_read(t->path, &kp), HM_OK);
    char hex[2 * HM_PUBKEY_LEN + 1];
    hm_hex_encode(kp.pub.bytes, HM_PUBKEY_LEN, hex);
    assert_string_equal(hex, "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9");
    hm_keypair_wipe(&kp);
}

/* A FIFO where the key should be is refused at once, not waited on. */
static void test_keyfile_not_regular(void **state) {
    temp_dir *t = *state;
    unlink(t->path);
    assert_int_equal(mkfifo(t->path, 0600), 0);
    hm_keypair kp;
    assert_int_equal(hm_keyfile_read(t->path, &kp), HM_ERR_KEY_FORMAT);
    unlink(t->path);
}

static void test_keyfile_permissions(void **state) {
    temp_dir *t = *state;
    const char *good =
        "hallmark-key-v1 0000000000000000000000000000000000000000000000000000000000000003\n";
    const mode_t bad_modes[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0660};
    hm_keypair kp;
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        write_file(t->path, good, bad_modes[i]);
        assert_int_equal(hm_keyfile_read(t->path, &kp), HM_ERR_KEY_PERMS);
    }
    write_file(t->path, good, 0400);
    assert_int_equal(hm_keyfile_read(t->path, &kp), HM_OK);
    hm_keypair_wipe(&kp);
    unlink(t->path);
    assert_int_equal(hm_keyfile_read(t->path, &kp), HM_ERR_NOT_FOUND);
}

static void test_keyfile_malformed(void **state) {
    temp_dir *t = *state;
    const char *bad[] = {
        "",
        "hallmark-key-v1\n",
        "hallmark-key-v2 0000000000000000000000000000000000000000000000000000000000000003\n",
        "hallmark-key-v1 0000000000000000000000000000000000000000000000000000000000000003",
        "hallmark-key-v1 0000000000000000000000000000000000000000000000000000000000000003\n\n",
        "hallmark-key-v1  000000000000000000000000000000000000000000000000000000000000003\n",
        "hallmark-key-v1 000000000000000000000000000000000000000000000000000000000000003\n",
        "hallmark-key-v1 00000000000000000000000000000000000000000000000000000000000000003\n",
        "hallmark-key-v1 000000000000000000000000000000000000000000000000000000000000000g\n",
        "HALLMARK-KEY-V1 0000000000000000000000000000000000000000000000000000000000000003\n",
        "hallmark-key-v1 0000000000000000000000000000000000000000000000000000000000000003\r",
    };
    hm_keypair kp;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(t->path, bad[i], 0600);
        hm_err err = hm_keyfile_read(t->path, &kp);
        if (err != HM_ERR_KEY_FORMAT) {
            fail_msg("case %zu: got %s, want key_format", i, hm_err_name(err));
        }
    }
    /* Well formed, but zero is not a secret key. */
    write_file(t->path,
               "hallmark-key-v1 0000000000000000000000000000000000000000000000000000000000000000\n",
               0600);
    assert_int_equal(hm_keyfile_read(t->path, &kp), HM_ERR_BAD_KEY);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_domain_separation),
        cmocka_unit_test(test_sighash_construction),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_verify_key_cache_keeps_keys_apart),
        cmocka_unit_test_setup_teardown(test_keyfile_round_trip, temp_setup, temp_teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_known_content, temp_setup, temp_teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_permissions, temp_setup, temp_teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_not_regular, temp_setup, temp_teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_malformed, temp_setup, temp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
