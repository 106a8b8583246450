/* tests/unit/test_nd_config.c — the node config (defaults, overrides,
 * relative paths, every refusal) and the genesis file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nd_int.h"

static void test_defaults_and_overrides(void **state) {
    (void)state;
    nd_config c;
    char err[256] = "";
    nd_config_defaults(&c);
    assert_int_equal(c.mempool_txs_max, 100000);
    assert_int_equal(c.http_idle_timeout_s, 30);
    assert_int_equal(
        nd_config_parse("{\"name\": \"v7\", \"data_dir\": \"d\", \"genesis\": \"/abs/g.json\","
                        " \"peer_listen\": \"127.0.0.1:9000\", \"http_listen\": \"0.0.0.0:80\","
                        " \"mempool_txs_max\": 5, \"log_level\": \"debug\", \"observers\": [\""
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"]}",
                        "base", &c, err, sizeof err),
        HM_OK);
    assert_string_equal(c.name, "v7");
    assert_string_equal(c.data_dir, "base/d");          /* relative to the file */
    assert_string_equal(c.genesis_path, "/abs/g.json"); /* absolute stays */
    assert_string_equal(c.peer_listen, "127.0.0.1:9000");
    assert_int_equal(c.mempool_txs_max, 5);
    assert_int_equal(c.mempool_bytes_max, 256u * 1024 * 1024); /* default kept */
    assert_int_equal(c.log_level, HM_LOG_DEBUG);
    assert_int_equal(c.observer_count, 1);
    assert_int_equal(c.observer_fingerprints[0][1], 0x11);
}

static void test_refusals(void **state) {
    (void)state;
    static const char *const bad[] = {
        "not json",
        "[]",
        "{\"nmae\": \"typo\"}",
        "{\"name\": 5}",
        "{\"mempool_txs_max\": 0}",
        "{\"mempool_txs_max\": -1}",
        "{\"mempool_txs_max\": \"5\"}",
        "{\"http_listen\": \"nohost\"}",
        "{\"http_listen\": \"127.0.0.1:0\"}",
        "{\"http_listen\": \"127.0.0.1:70000\"}",
        "{\"log_level\": \"loud\"}",
        "{\"observers\": [\"abcd\"]}",
        "{\"reconnect_min_ms\": 5000, \"reconnect_max_ms\": 100}",
        "{\"name\": \"a\", \"name\": \"b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nd_config c;
        char err[256] = "";
        nd_config_defaults(&c);
        assert_int_equal(nd_config_parse(bad[i], ".", &c, err, sizeof err), HM_ERR_BAD_VALUE);
        assert_true(strlen(err) > 0); /* every refusal says why */
    }
}

/* resolver_listen is bound as given: a host name is refused at parse time,
 * naming the key, rather than when the node starts the lane. */
static void test_resolver_listen(void **state) {
    (void)state;
    static const char *const bad[] = {
        "{\"resolver_listen\": \"localhost:7180\"}",
        "{\"resolver_listen\": \"example.org:80\"}",
        "{\"resolver_listen\": \"127.0.0.1:0\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nd_config c;
        char err[256] = "";
        nd_config_defaults(&c);
        assert_int_equal(nd_config_parse(bad[i], ".", &c, err, sizeof err), HM_ERR_BAD_VALUE);
        assert_non_null(strstr(err, "resolver_listen"));
    }
    static const char *const good[] = {
        "{\"resolver_listen\": \"127.0.0.1:7180\"}",
        "{\"resolver_listen\": \"0.0.0.0:80\"}",
        "{\"resolver_listen\": \"[::1]:7180\"}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        nd_config c;
        char err[256] = "";
        nd_config_defaults(&c);
        assert_int_equal(nd_config_parse(good[i], ".", &c, err, sizeof err), HM_OK);
    }
}

static void test_hostport(void **state) {
    (void)state;
    char host[64];
    uint16_t port = 0;
    assert_int_equal(nd_split_hostport("127.0.0.1:8080", host, sizeof host, &port), HM_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(nd_split_hostport("[::1]:1", host, sizeof host, &port), HM_OK);
    assert_string_equal(host, "[::1]");
    assert_int_not_equal(nd_split_hostport(":80", host, sizeof host, &port), HM_OK);
    assert_int_not_equal(nd_split_hostport("h:", host, sizeof host, &port), HM_OK);
    assert_int_not_equal(nd_split_hostport("h:8x", host, sizeof host, &port), HM_OK);
    assert_int_not_equal(nd_split_hostport("h", host, sizeof host, &port), HM_OK);
    assert_int_not_equal(nd_split_hostport("abcdefgh:1", host, 4, &port), HM_OK);
}

/* Writes text to a fresh file and returns its path (static buffer). */
static const char *write_temp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "test_nd_config.%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void genesis_text(char *out, size_t cap, const char *extra) {
    hm_keypair a, b;
    uint8_t sk[32];
    memset(sk, 1, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(&a, sk), HM_OK);
    memset(sk, 2, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(&b, sk), HM_OK);
    char ka[65], kb[65];
    hm_hex_encode(a.pub.bytes, 32, ka);
    hm_hex_encode(b.pub.bytes, 32, kb);
    snprintf(out, cap,
             "{\"chain_id\": \"c\", \"genesis_time_ms\": 5, \"validators\": ["
             "{\"name\": \"v1\", \"consensus_pubkey\": \"%s\", \"tls_cert_fingerprint\": "
             "\"%064d\", \"address\": \"127.0.0.1:1\"},"
             "{\"consensus_pubkey\": \"%s\", \"tls_cert_fingerprint\": "
             "\"%063d1\", \"address\": \"127.0.0.1:2\"}], \"admins\": [\"%s\"]%s}",
             ka, 0, kb, 0, ka, extra);
}

static void test_genesis(void **state) {
    (void)state;
    char text[2048], err[256] = "";
    nd_genesis g;
    genesis_text(text, sizeof text, ", \"consensus\": {\"block_interval_ms\": 250}");
    const char *path = write_temp(text);
    assert_int_equal(nd_genesis_load(path, &g, err, sizeof err), HM_OK);
    assert_string_equal(g.chain_id, "c");
    assert_int_equal(g.validator_count, 2);
    assert_int_equal(g.vset.count, 2);
    assert_string_equal(g.validators[1].name, "v2"); /* default name */
    assert_int_equal(g.block_interval_ms, 250);
    assert_int_equal(g.timeout_propose_ms, 3000); /* default */
    assert_int_equal(g.admin_count, 1);
    uint8_t fp[HM_HASH_LEN] = {0};
    assert_int_equal(nd_genesis_find_fingerprint(&g, fp), 0);
    fp[31] = 1;
    assert_int_equal(nd_genesis_find_fingerprint(&g, fp), 1);
    fp[0] = 9;
    assert_int_equal(nd_genesis_find_fingerprint(&g, fp), -1);
    uint8_t vh[HM_HASH_LEN];
    hm_validator_set_hash(&g.vset, vh);
    assert_memory_equal(vh, g.vset_hash, HM_HASH_LEN);

    static const char *const bad_extra[] = {
        ", \"consensus\": {\"block_interval_ms\": 0}",
        ", \"consensus\": {\"unknown_ms\": 10}",
        ", \"limits\": {\"block_bytes_max\": 1}",
        ", \"surprise\": 1",
    };
    for (size_t i = 0; i < sizeof bad_extra / sizeof bad_extra[0]; i++) {
        genesis_text(text, sizeof text, bad_extra[i]);
        path = write_temp(text);
        assert_int_equal(nd_genesis_load(path, &g, err, sizeof err), HM_ERR_BAD_VALUE);
    }
    /* a key that is not on the curve */
    path = write_temp("{\"chain_id\": \"c\", \"validators\": [{\"consensus_pubkey\": \""
                      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\", "
                      "\"tls_cert_fingerprint\": \""
                      "0000000000000000000000000000000000000000000000000000000000000000\", "
                      "\"address\": \"127.0.0.1:1\"}]}");
    assert_int_equal(nd_genesis_load(path, &g, err, sizeof err), HM_ERR_BAD_VALUE);
    unlink(path);
    assert_int_equal(nd_genesis_load("no-such-genesis.json", &g, err, sizeof err), HM_ERR_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_overrides),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_resolver_listen),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_genesis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
