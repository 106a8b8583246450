/* tests/unit/test_hm_bip340.c — BIP340 Schnorr signatures against the
 * official test vectors (all 19 rows of bip-0340/test-vectors.csv).
 *
 * Rows with a secret key are signed with their aux_rand and must match the
 * expected signature byte for byte; every row is verified and must give its
 * expected result. An empty message field is a 0-byte message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm.h"

#define ROWS_EXPECTED 19
#define FIELDS 8

static const char *testdata_dir(void) {
    const char *dir = getenv("HALLMARK_TESTDATA");
    return dir != NULL && dir[0] != '\0' ? dir : "../shared/testdata";
}

/* Splits one CSV line (no quoting in this file) into its fields in place. */
static size_t split_csv(char *line, char **fields, size_t fields_max) {
    size_t n = 0;
    char *p = line;
    while (n < fields_max) {
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (comma == NULL) {
            break;
        }
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static void test_official_vectors(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/bip340/test-vectors.csv", testdata_dir());
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open %s (set HALLMARK_TESTDATA or run from the repo root)", path);
    }
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    assert_int_equal(strncmp(line, "index,secret key,public key", 27), 0);
    size_t rows = 0, signed_rows = 0, true_rows = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0') {
            continue;
        }
        char *field[FIELDS];
        assert_true(split_csv(line, field, FIELDS) == FIELDS);
        const char *seckey_hex = field[1], *pubkey_hex = field[2], *aux_hex = field[3],
                   *msg_hex = field[4], *sig_hex = field[5], *result = field[6];
        assert_int_equal(atoi(field[0]), (int)rows);

        hm_pubkey pub;
        hm_sig want_sig;
        uint8_t msg[256];
        size_t msg_len = 0;
        assert_int_equal(hm_hex_decode(pubkey_hex, pub.bytes, sizeof pub.bytes), HM_OK);
        assert_int_equal(hm_hex_decode(sig_hex, want_sig.bytes, sizeof want_sig.bytes), HM_OK);
        assert_int_equal(hm_hex_decode_any(msg_hex, msg, sizeof msg, &msg_len), HM_OK);
        bool want_valid = strcmp(result, "TRUE") == 0;
        assert_true(want_valid || strcmp(result, "FALSE") == 0);

        if (seckey_hex[0] != '\0') {
            uint8_t seckey[HM_SECKEY_LEN], aux[32];
            assert_int_equal(hm_hex_decode(seckey_hex, seckey, sizeof seckey), HM_OK);
            assert_int_equal(hm_hex_decode(aux_hex, aux, sizeof aux), HM_OK);
            hm_keypair kp;
            assert_int_equal(hm_keypair_from_seckey(&kp, seckey), HM_OK);
            assert_memory_equal(kp.pub.bytes, pub.bytes, HM_PUBKEY_LEN);
            hm_sig sig;
            assert_int_equal(hm_bip340_sign(&kp, msg, msg_len, aux, &sig), HM_OK);
            if (memcmp(sig.bytes, want_sig.bytes, HM_SIG_LEN) != 0) {
                fail_msg("row %zu: signature differs from the vector", rows);
            }
            uint8_t back[HM_SECKEY_LEN];
            hm_keypair_seckey(&kp, back);
            assert_memory_equal(back, seckey, HM_SECKEY_LEN);
            hm_keypair_wipe(&kp);
            signed_rows++;
        }

        hm_err err = hm_bip340_verify(&pub, msg, msg_len, &want_sig);
        if (want_valid) {
            true_rows++;
            if (err != HM_OK) {
                fail_msg("row %zu: valid signature rejected (%s)", rows, hm_err_name(err));
            }
        } else if (err == HM_OK) {
            fail_msg("row %zu: invalid signature accepted (%s)", rows, field[7]);
        } else {
            /* A public key that is not on the curve (row 5, x >= p row 14)
             * is reported as a bad key, everything else as a bad signature. */
            assert_true(err == HM_ERR_BAD_SIG || err == HM_ERR_BAD_KEY);
        }
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, ROWS_EXPECTED);
    assert_int_equal(signed_rows, 8);
    assert_int_equal(true_rows, 9);
}

/* The same message signed with and without explicit aux data: a NULL aux is
 * 32 zero bytes, and both signatures verify. */
static void test_null_aux_and_empty_message(void **state) {
    (void)state;
    uint8_t seckey[HM_SECKEY_LEN] = {0};
    seckey[31] = 3;
    hm_keypair kp;
    assert_int_equal(hm_keypair_from_seckey(&kp, seckey), HM_OK);
    uint8_t zero_aux[32] = {0};
    hm_sig a, b;
    assert_int_equal(hm_bip340_sign(&kp, NULL, 0, NULL, &a), HM_OK);
    assert_int_equal(hm_bip340_sign(&kp, NULL, 0, zero_aux, &b), HM_OK);
    assert_memory_equal(a.bytes, b.bytes, HM_SIG_LEN);
    assert_int_equal(hm_bip340_verify(&kp.pub, NULL, 0, &a), HM_OK);
    uint8_t one = 0;
    assert_int_equal(hm_bip340_verify(&kp.pub, &one, 1, &a), HM_ERR_BAD_SIG);
    hm_keypair_wipe(&kp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_vectors),
        cmocka_unit_test(test_null_aux_and_empty_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
