/* tests/unit/test_nd_store.c — the RocksDB store: a committed block with its
 * certificate, tx index and contract writes reads back, survives a reopen,
 * and the sign-state, vote records and saved proposals round-trip; a block
 * committed by reference to the proposal this node kept reads back whole,
 * and later commits keep it; state
 * reads give back exactly the bytes committed (empty and large values
 * included) and tell a missing key apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rocksdb/c.h>

#include "nd_int.h"

static char dir[256];

static int setup(void **state) {
    (void)state;
    /* a fresh folder beside the test run (TMPDIR when set) */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_nd_store.XXXXXX", tmp && *tmp ? tmp : ".");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The test's database folder. */
static void db_path(char path[300]) {
    snprintf(path, 300, "%s/db", dir);
}

/* Opens (or reopens) the store of the test's folder, which must succeed. */
static nd_store *store_open(void) {
    char err[256] = "", path[300];
    db_path(path);
    nd_store *s = NULL;
    assert_int_equal(nd_store_open(path, &s, err, sizeof err), HM_OK);
    return s;
}

static bool count_visit(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    (void)key;
    (void)key_len;
    (void)val;
    (void)val_len;
    (*(int *)arg)++;
    return true;
}

static void test_commit_round_trip(void **state) {
    (void)state;
    nd_store *s = store_open();
    nd_chain_tip tip;
    assert_int_equal(nd_store_tip(s, &tip), HM_OK);
    assert_int_equal(tip.height, 0);

    /* a block of one NOTE, executed over the store's own state */
    hm_keypair kp;
    uint8_t sk[32];
    memset(sk, 3, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(&kp, sk), HM_OK);
    hm_writer w;
    hm_writer_init_growable(&w, 4096);
    const uint8_t body[] = "stored note";
    assert_int_equal(
        ct_tx_build(&w, CT_TX_NOTE, &kp, "c", 1, body, sizeof body - 1, false, NULL, NULL, 0),
        HM_OK);
    size_t tx_len = 0;
    uint8_t *txb = hm_writer_take(&w, &tx_len);
    ct_tx tx;
    assert_int_equal(ct_tx_decode(txb, tx_len, &tx), HM_OK);
    ct_store st = nd_store_state(s);
    ct_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    strcpy(ctx.chain_id, "c");
    ctx.height = 1;
    ctx.time_ms = 10;
    ct_exec *x = NULL;
    assert_int_equal(ct_exec_new(&st, &ctx, &x), HM_OK);
    ct_result res;
    assert_int_equal(ct_exec_tx(x, txb, tx_len, false, &res), HM_OK);
    assert_int_equal(res.code, HM_OK);
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    hm_block_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.chain_id, "c");
    h.height = 1;
    h.time_ms = 10;
    ct_exec_state_root(x, tip.state_root, h.state_root);
    const uint8_t *txs[1] = {txb};
    size_t lens[1] = {tx_len};
    ct_tx decoded;
    assert_int_equal(ct_tx_decode(txb, tx_len, &decoded), HM_OK);
    uint8_t leaf[1][HM_HASH_LEN];
    ct_tx_leaf_hash(&decoded, leaf[0]);
    hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])leaf, 1, h.tx_root);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    assert_int_equal(nd_block_encode(&h, txs, lens, 1, &raw, &raw_len), HM_OK);
    uint8_t block_id[HM_HASH_LEN];
    assert_int_equal(hm_block_header_hash(&h, block_id), HM_OK);
    hm_cert cert;
    memset(&cert, 0, sizeof cert);
    cert.height = 1;
    cert.round = 2;
    memcpy(cert.block_id, block_id, HM_HASH_LEN);
    cert.count = 1;
    memset(cert.sigs[0].sig.bytes, 0x5a, HM_SIG_LEN);

    /* a proposal saved for height 1 is dropped by the commit of height 1 */
    assert_int_equal(nd_store_put_proposed(s, 1, block_id, raw, raw_len), HM_OK);
    uint8_t *got = NULL;
    size_t got_len = 0;
    assert_int_equal(nd_store_get_proposed(s, 1, block_id, &got, &got_len), HM_OK);
    assert_int_equal(got_len, raw_len);
    free(got);

    const uint8_t(*ids)[HM_HASH_LEN] = (const uint8_t(*)[HM_HASH_LEN])tx.id;
    assert_int_equal(nd_store_commit(s, &h, raw, raw_len, NULL, &cert, ids, 1, x, h.state_root),
                     HM_OK);
    ct_exec_free(x);
    assert_int_equal(nd_store_get_proposed(s, 1, block_id, &got, &got_len), HM_ERR_NOT_FOUND);

    /* sign-state and vote records */
    const uint8_t state_blob[] = "signed";
    const uint8_t vkey[] = {0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1};
    assert_int_equal(nd_store_put_sign_state_and_vote(s, state_blob, sizeof state_blob, vkey,
                                                      sizeof vkey, (const uint8_t *)"v", 1),
                     HM_OK);
    nd_store_close(s);

    /* everything is there after a reopen */
    s = store_open();
    assert_int_equal(nd_store_tip(s, &tip), HM_OK);
    assert_int_equal(tip.height, 1);
    assert_int_equal(tip.time_ms, 10);
    assert_memory_equal(tip.block_hash, block_id, HM_HASH_LEN);
    assert_memory_equal(tip.state_root, h.state_root, HM_HASH_LEN);
    assert_int_equal(nd_store_get_block(s, 1, &got, &got_len), HM_OK);
    assert_int_equal(got_len, raw_len);
    assert_memory_equal(got, raw, raw_len);
    free(got);
    assert_int_equal(nd_store_get_block(s, 2, &got, &got_len), HM_ERR_NOT_FOUND);
    hm_cert back;
    assert_int_equal(nd_store_get_cert(s, 1, &back), HM_OK);
    assert_int_equal(back.round, 2);
    assert_memory_equal(back.block_id, block_id, HM_HASH_LEN);
    uint64_t at = 0;
    uint32_t index = 9;
    assert_int_equal(nd_store_tx_locate(s, tx.id, &at, &index), HM_OK);
    assert_int_equal(at, 1);
    assert_int_equal(index, 0);
    st = nd_store_state(s);
    assert_int_equal(ct_query_tx_result(&st, tx.id, &res), HM_OK);
    assert_int_equal(res.code, HM_OK);
    /* the note and the spent-id record are read by key; they live in the
     * txs family, so a state scan that would reach them is refused */
    uint8_t note_key[2 + HM_HASH_LEN] = {'n', '/'};
    memcpy(note_key + 2, tx.id, HM_HASH_LEN);
    assert_int_equal(st.get(st.ctx, note_key, sizeof note_key, &got, &got_len), HM_OK);
    assert_int_equal(got_len, sizeof body - 1);
    assert_memory_equal(got, body, got_len);
    free(got);
    int n = 0;
    assert_int_equal(st.scan(st.ctx, NULL, 0, NULL, 0, count_visit, &n), HM_ERR_ARG);
    assert_int_equal(
        st.scan(st.ctx, (const uint8_t *)"n/", 2, (const uint8_t *)"n0", 2, count_visit, &n),
        HM_ERR_ARG);
    assert_int_equal(
        st.scan(st.ctx, (const uint8_t *)"s", 1, (const uint8_t *)"t/", 2, count_visit, &n), HM_OK);
    assert_int_equal(st.scan(st.ctx, (const uint8_t *)"t0", 2, NULL, 0, count_visit, &n), HM_OK);
    assert_int_equal(n, 0);
    assert_int_equal(nd_store_get_sign_state(s, &got, &got_len), HM_OK);
    assert_int_equal(got_len, sizeof state_blob);
    free(got);
    n = 0;
    assert_int_equal(nd_store_scan_votes(s, 0, count_visit, &n), HM_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(nd_store_scan_votes(s, 3, count_visit, &n), HM_OK);
    assert_int_equal(n, 0); /* the vote is of height 2 */
    nd_store_close(s);
    free(raw);
    free(txb);
    hm_keypair_wipe(&kp);
}

typedef struct {
    const ct_store *st;
    int checked;
} state_check;

/* Every write of the block reads back from the store byte for byte. */
static bool check_write(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    state_check *c = arg;
    uint8_t *got = NULL;
    size_t got_len = 99;
    assert_int_equal(c->st->get(c->st->ctx, key, key_len, &got, &got_len), HM_OK);
    assert_non_null(got); /* an empty value still comes as an allocation */
    assert_int_equal(got_len, val_len);
    if (val_len > 0)
        assert_memory_equal(got, val, val_len);
    free(got);
    c->checked++;
    return true;
}

static void test_state_reads(void **state) {
    (void)state;
    nd_store *s = store_open();
    ct_store st = nd_store_state(s);
    ct_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    strcpy(ctx.chain_id, "c");
    ctx.height = 1;
    ctx.time_ms = 10;
    ct_exec *x = NULL;
    assert_int_equal(ct_exec_new(&st, &ctx, &x), HM_OK);
    static uint8_t big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(ct_state_put(x, (const uint8_t *)"k/empty", 7, NULL, 0), HM_OK);
    assert_int_equal(ct_state_put(x, (const uint8_t *)"k/small", 7, (const uint8_t *)"v", 1),
                     HM_OK);
    assert_int_equal(ct_state_put(x, (const uint8_t *)"k/big", 5, big, sizeof big), HM_OK);
    assert_int_equal(ct_exec_end_block(x), HM_OK);
    hm_block_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.chain_id, "c");
    h.height = 1;
    h.time_ms = 10;
    uint8_t zero[HM_HASH_LEN] = {0};
    ct_exec_state_root(x, zero, h.state_root);
    hm_cert cert;
    memset(&cert, 0, sizeof cert);
    cert.height = 1;
    const uint8_t raw[] = "block";
    assert_int_equal(nd_store_commit(s, &h, raw, sizeof raw, NULL, &cert, NULL, 0, x, h.state_root),
                     HM_OK);
    for (int round = 0; round < 2; round++) {
        state_check c = {.st = &st};
        assert_int_equal(ct_exec_foreach_write(x, check_write, &c), HM_OK);
        assert_int_equal(c.checked, 3);
        uint8_t *got = (uint8_t *)"untouched";
        size_t got_len = 5;
        assert_int_equal(st.get(st.ctx, (const uint8_t *)"k/none", 6, &got, &got_len),
                         HM_ERR_NOT_FOUND);
        /* a key that is a prefix of stored ones is not one of them */
        assert_int_equal(st.get(st.ctx, (const uint8_t *)"k/", 2, &got, &got_len),
                         HM_ERR_NOT_FOUND);
        /* the same reads from the files after a reopen */
        nd_store_close(s);
        s = store_open();
        st = nd_store_state(s);
    }
    ct_exec_free(x);
    nd_store_close(s);
}

/* A fake block of height h and its id: len patterned bytes. */
static void fake_block(uint64_t height, uint8_t seed, uint8_t *raw, size_t len, hm_block_header *h,
                       uint8_t id[HM_HASH_LEN]) {
    for (size_t i = 0; i < len; i++)
        raw[i] = (uint8_t)(seed + i * 13);
    memset(h, 0, sizeof *h);
    strcpy(h->chain_id, "c");
    h->height = height;
    h->time_ms = 10 * height;
    h->tx_root[0] = seed; /* blocks of one height differ */
    assert_int_equal(hm_block_header_hash(h, id), HM_OK);
}

static void expect_block(nd_store *s, uint64_t height, const uint8_t *want, size_t want_len) {
    uint8_t *got = NULL;
    size_t got_len = 0;
    assert_int_equal(nd_store_get_block(s, height, &got, &got_len), HM_OK);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
}

static bool proposal_kept(nd_store *s, uint64_t height, const uint8_t id[HM_HASH_LEN]) {
    uint8_t *got = NULL;
    size_t got_len = 0;
    hm_err err = nd_store_get_proposed(s, height, id, &got, &got_len);
    free(got);
    assert_true(err == HM_OK || err == HM_ERR_NOT_FOUND);
    return err == HM_OK;
}

static void test_commit_by_reference(void **state) {
    (void)state;
    nd_store *s = store_open();
    static uint8_t a[300], b[300], c[400], d[500], e[64];
    hm_block_header ha, hb, hc, hd, he;
    uint8_t ida[HM_HASH_LEN], idb[HM_HASH_LEN], idc[HM_HASH_LEN], idd[HM_HASH_LEN],
        ide[HM_HASH_LEN];
    fake_block(1, 1, a, sizeof a, &ha, ida);
    fake_block(1, 2, b, sizeof b, &hb, idb); /* another proposal of height 1 */
    fake_block(2, 3, c, sizeof c, &hc, idc);
    fake_block(3, 4, d, sizeof d, &hd, idd);
    fake_block(4, 5, e, sizeof e, &he, ide);
    hm_cert cert;
    memset(&cert, 0, sizeof cert);
    assert_int_equal(nd_store_put_proposed(s, 1, ida, a, sizeof a), HM_OK);
    assert_int_equal(nd_store_put_proposed(s, 1, idb, b, sizeof b), HM_OK);
    assert_int_equal(nd_store_put_proposed(s, 2, idc, c, sizeof c), HM_OK);
    assert_int_equal(nd_store_put_proposed(s, 3, idd, d, sizeof d), HM_OK);

    /* height 1 by reference: its block reads back whole, the other
     * proposal of its height is gone, the next height's stays */
    cert.height = 1;
    assert_int_equal(nd_store_commit(s, &ha, a, sizeof a, ida, &cert, NULL, 0, NULL, ha.state_root),
                     HM_OK);
    expect_block(s, 1, a, sizeof a);
    assert_false(proposal_kept(s, 1, idb));
    assert_true(proposal_kept(s, 2, idc));
    /* height 2 by reference: the block of height 1 is still there */
    cert.height = 2;
    assert_int_equal(nd_store_commit(s, &hc, c, sizeof c, idc, &cert, NULL, 0, NULL, hc.state_root),
                     HM_OK);
    expect_block(s, 1, a, sizeof a);
    expect_block(s, 2, c, sizeof c);
    /* height 3 written whole (as after catch-up): its proposal is dropped */
    cert.height = 3;
    assert_int_equal(
        nd_store_commit(s, &hd, d, sizeof d, NULL, &cert, NULL, 0, NULL, hd.state_root), HM_OK);
    assert_false(proposal_kept(s, 3, idd));
    expect_block(s, 3, d, sizeof d);
    /* all of it after a reopen */
    nd_store_close(s);
    s = NULL;
    s = store_open();
    expect_block(s, 1, a, sizeof a);
    expect_block(s, 2, c, sizeof c);
    expect_block(s, 3, d, sizeof d);
    /* a reference to a proposal that is not kept, or kept with other
     * bytes, is not made: the block is written whole; a block as short as
     * a reference is refused */
    cert.height = 4;
    assert_int_equal(nd_store_commit(s, &he, e, sizeof e, ide, &cert, NULL, 0, NULL, he.state_root),
                     HM_OK);
    expect_block(s, 4, e, sizeof e);
    static uint8_t f[200];
    hm_block_header hf;
    uint8_t idf[HM_HASH_LEN];
    fake_block(5, 6, f, sizeof f, &hf, idf);
    assert_int_equal(nd_store_put_proposed(s, 5, idf, f, sizeof f - 1), HM_OK);
    cert.height = 5;
    assert_int_equal(nd_store_commit(s, &hf, f, sizeof f, idf, &cert, NULL, 0, NULL, hf.state_root),
                     HM_OK);
    expect_block(s, 5, f, sizeof f);
    cert.height = 6;
    he.height = 6;
    assert_int_equal(
        nd_store_commit(s, &he, e, HM_HASH_LEN, NULL, &cert, NULL, 0, NULL, he.state_root),
        HM_ERR_ARG);
    nd_store_close(s);
}

/* A data directory of the earlier layout (per-tx rows in the state family)
 * is refused with a reason, never read half. */
static void test_old_layout_refused(void **state) {
    (void)state;
    char err[256] = "", path[300];
    db_path(path);
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    const char *names[2] = {"default", "state"};
    const rocksdb_options_t *cfo[2] = {o, o};
    rocksdb_column_family_handle_t *cfs[2];
    char *rerr = NULL;
    rocksdb_t *db = rocksdb_open_column_families(o, path, 2, names, cfo, cfs, &rerr);
    assert_null(rerr);
    uint8_t key[2 + HM_HASH_LEN] = {'t', '/'};
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put_cf(db, wo, cfs[1], (const char *)key, sizeof key, "r", 1, &rerr);
    assert_null(rerr);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_column_family_handle_destroy(cfs[0]);
    rocksdb_column_family_handle_destroy(cfs[1]);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    nd_store *s = NULL;
    assert_int_equal(nd_store_open(path, &s, err, sizeof err), HM_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err, "earlier version"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_by_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_layout_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
