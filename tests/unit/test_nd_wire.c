/* tests/unit/test_nd_wire.c — peer frame headers (per-type limits), tx
 * batches, the block encoding (decoded, or built from txs), compact blocks,
 * and executing a block from its once-decoded txs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nd_int.h"

static void test_frame_round_trip(void **state) {
    (void)state;
    uint8_t hdr[ND_FRAME_HEADER_LEN];
    nd_frame_header_put(hdr, ND_MSG_BLOCK, 0x01020304);
    assert_int_equal(hdr[0], ND_MSG_BLOCK);
    assert_int_equal(hdr[1], 1);
    assert_int_equal(hdr[4], 4);
    uint8_t type = 0;
    uint32_t len = 0;
    assert_int_equal(nd_frame_header_parse(hdr, &type, &len), HM_OK);
    assert_int_equal(type, ND_MSG_BLOCK);
    assert_int_equal(len, 0x01020304);
}

static void test_frame_limits(void **state) {
    (void)state;
    uint8_t hdr[ND_FRAME_HEADER_LEN];
    uint8_t type = 0;
    uint32_t len = 0;
    /* every known type has a limit; the limit itself passes, one more fails */
    for (uint8_t t = ND_MSG_STATUS; t < ND_MSG__COUNT; t++) {
        uint32_t max = nd_frame_max(t);
        assert_true(max > 0);
        nd_frame_header_put(hdr, t, max);
        assert_int_equal(nd_frame_header_parse(hdr, &type, &len), HM_OK);
        nd_frame_header_put(hdr, t, max + 1);
        type = 0;
        assert_int_equal(nd_frame_header_parse(hdr, &type, &len), HM_ERR_TOO_LONG);
        assert_int_equal(type, 0); /* nothing written on error */
    }
    /* votes and status are tiny: a hostile length is refused from the header */
    nd_frame_header_put(hdr, ND_MSG_STATUS, 0x80000000u);
    assert_int_equal(nd_frame_header_parse(hdr, &type, &len), HM_ERR_TOO_LONG);
    nd_frame_header_put(hdr, ND_MSG_GET_BLOCK, 17);
    assert_int_equal(nd_frame_header_parse(hdr, &type, &len), HM_ERR_TOO_LONG);
    /* unknown types */
    nd_frame_header_put(hdr, 0, 1);
    assert_int_equal(nd_frame_header_parse(hdr, &type, &len), HM_ERR_UNKNOWN_TYPE);
    nd_frame_header_put(hdr, ND_MSG__COUNT, 1);
    assert_int_equal(nd_frame_header_parse(hdr, &type, &len), HM_ERR_UNKNOWN_TYPE);
    nd_frame_header_put(hdr, 255, 1);
    assert_int_equal(nd_frame_header_parse(hdr, &type, &len), HM_ERR_UNKNOWN_TYPE);
}

/* A batch reads back entry by entry, in order, and ends cleanly. */
static void test_txs_round_trip(void **state) {
    (void)state;
    uint8_t *buf = malloc(ND_TXS_FRAME_MAX);
    assert_non_null(buf);
    size_t len = 0;
    const uint8_t a[] = "first", b[] = {0}, c[] = "third tx";
    assert_int_equal(nd_txs_append(buf, &len, a, sizeof a), HM_OK);
    assert_int_equal(nd_txs_append(buf, &len, b, sizeof b), HM_OK);
    assert_int_equal(nd_txs_append(buf, &len, c, sizeof c), HM_OK);
    assert_int_equal(len, 3 * ND_TXS_ENTRY_HEADER_LEN + sizeof a + sizeof b + sizeof c);
    assert_int_equal(buf[3], sizeof a); /* u32 big-endian length first */
    const uint8_t *want[] = {a, b, c};
    const size_t want_len[] = {sizeof a, sizeof b, sizeof c};
    size_t pos = 0, tx_len = 0;
    const uint8_t *tx = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(nd_txs_next(buf, len, &pos, &tx, &tx_len), HM_OK);
        assert_int_equal(tx_len, want_len[i]);
        assert_memory_equal(tx, want[i], tx_len);
    }
    assert_int_equal(pos, len);
    assert_int_equal(nd_txs_next(buf, len, &pos, &tx, &tx_len), HM_ERR_NOT_FOUND);
    /* an empty tx is never appended */
    assert_int_equal(nd_txs_append(buf, &len, a, 0), HM_ERR_ARG);
    free(buf);
}

/* A batch never grows past the frame maximum: a full batch refuses the next
 * tx, unchanged, and a tx too large for any batch is refused even alone. */
static void test_txs_bounds(void **state) {
    (void)state;
    uint8_t *buf = malloc(ND_TXS_FRAME_MAX);
    uint8_t *tx = calloc(1, ND_TXS_FRAME_MAX);
    assert_non_null(buf);
    assert_non_null(tx);
    size_t len = 0;
    size_t biggest = ND_TXS_FRAME_MAX - ND_TXS_ENTRY_HEADER_LEN;
    assert_int_equal(nd_txs_append(buf, &len, tx, biggest + 1), HM_ERR_FULL);
    assert_int_equal(len, 0);
    assert_int_equal(nd_txs_append(buf, &len, tx, biggest - 10), HM_OK);
    assert_int_equal(nd_txs_append(buf, &len, tx, 7), HM_ERR_FULL);
    assert_int_equal(len, biggest - 10 + ND_TXS_ENTRY_HEADER_LEN);
    assert_int_equal(nd_txs_append(buf, &len, tx, 6), HM_OK);
    assert_int_equal(len, ND_TXS_FRAME_MAX);
    assert_int_equal(nd_txs_append(buf, &len, tx, 1), HM_ERR_FULL);
    free(tx);
    free(buf);
}

/* What a peer may send: a length past the end, a cut header, an empty
 * entry. Each stops the walk with an error; what came before was read. */
static void test_txs_malformed(void **state) {
    (void)state;
    const uint8_t *tx = NULL;
    size_t pos = 0, tx_len = 0;
    /* one good entry, then a header announcing more bytes than remain */
    const uint8_t past[] = {0, 0, 0, 2, 'o', 'k', 0, 0, 0, 9, 'x'};
    assert_int_equal(nd_txs_next(past, sizeof past, &pos, &tx, &tx_len), HM_OK);
    assert_int_equal(tx_len, 2);
    assert_int_equal(nd_txs_next(past, sizeof past, &pos, &tx, &tx_len), HM_ERR_TRUNCATED);
    /* a cut entry header */
    const uint8_t cut[] = {0, 0, 1};
    pos = 0;
    assert_int_equal(nd_txs_next(cut, sizeof cut, &pos, &tx, &tx_len), HM_ERR_TRUNCATED);
    /* an empty entry */
    const uint8_t empty[] = {0, 0, 0, 0, 'x'};
    pos = 0;
    assert_int_equal(nd_txs_next(empty, sizeof empty, &pos, &tx, &tx_len), HM_ERR_BAD_VALUE);
    /* a hostile length near 2^32 */
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'x'};
    pos = 0;
    assert_int_equal(nd_txs_next(huge, sizeof huge, &pos, &tx, &tx_len), HM_ERR_TRUNCATED);
    assert_int_equal(pos, 0);
}

/* A key whose 32 secret bytes are all seed. */
static void key_of_seed(hm_keypair *kp, uint8_t seed) {
    uint8_t sk[32];
    memset(sk, seed, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(kp, sk), HM_OK);
}

static size_t make_note(uint8_t **out, const hm_keypair *kp, uint64_t nonce) {
    hm_writer w;
    hm_writer_init_growable(&w, 4096);
    const uint8_t body[] = "a note";
    assert_int_equal(ct_tx_build(&w, CT_TX_NOTE, kp, "chain", nonce, body, sizeof body - 1, false,
                                 NULL, NULL, 0),
                     HM_OK);
    size_t len = 0;
    *out = hm_writer_take(&w, &len);
    return len;
}

static void test_block_round_trip(void **state) {
    (void)state;
    hm_keypair kp;
    key_of_seed(&kp, 7);
    uint8_t *txs[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++)
        lens[i] = make_note(&txs[i], &kp, (uint64_t)i);
    hm_block_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.chain_id, "chain");
    h.height = 9;
    h.time_ms = 1234;
    h.proposer = kp.pub;
    /* the expected root, computed apart from the node's own indexing */
    uint8_t leaves[3][HM_HASH_LEN];
    for (int i = 0; i < 3; i++) {
        ct_tx tx;
        assert_int_equal(ct_tx_decode(txs[i], lens[i], &tx), HM_OK);
        ct_tx_leaf_hash(&tx, leaves[i]);
    }
    hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])leaves, 3, h.tx_root);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    assert_int_equal(nd_block_encode(&h, (const uint8_t *const *)txs, lens, 3, &raw, &raw_len),
                     HM_OK);
    nd_block b;
    assert_int_equal(nd_block_decode(raw, raw_len, 100, &b), HM_OK);
    assert_int_equal(b.tx_count, 3);
    assert_int_equal(b.header.height, 9);
    assert_memory_equal(b.header.tx_root, h.tx_root, HM_HASH_LEN);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(b.tx_lens[i], lens[i]);
        assert_memory_equal(b.txs[i], txs[i], lens[i]);
    }
    /* indexing decodes each tx once: the same root, and each tx's id */
    uint8_t root[HM_HASH_LEN];
    assert_null(b.ids);
    assert_int_equal(nd_block_index(&b, root), HM_OK);
    assert_memory_equal(root, h.tx_root, HM_HASH_LEN);
    assert_non_null(b.ids);
    for (int i = 0; i < 3; i++) {
        ct_tx tx;
        assert_int_equal(ct_tx_decode(txs[i], lens[i], &tx), HM_OK);
        assert_memory_equal(b.ids[i], tx.id, HM_HASH_LEN);
    }
    nd_block_clear(&b);
    assert_null(b.ids);
    /* a tx that does not decode fails indexing and leaves no ids */
    nd_block bad;
    memset(&bad, 0, sizeof bad);
    const uint8_t junk[] = {1, 2, 3};
    const uint8_t *junk_txs[1] = {junk};
    size_t junk_lens[1] = {sizeof junk};
    bad.txs = junk_txs;
    bad.tx_lens = junk_lens;
    bad.tx_count = 1;
    assert_int_not_equal(nd_block_index(&bad, root), HM_OK);
    assert_null(bad.ids);
    /* more txs than the caller allows */
    assert_int_equal(nd_block_decode(raw, raw_len, 2, &b), HM_ERR_OVERFLOW);
    /* every truncation fails cleanly; a trailing byte fails */
    for (size_t cut = 0; cut < raw_len; cut++)
        assert_int_not_equal(nd_block_decode(raw, cut, 100, &b), HM_OK);
    uint8_t *longer = malloc(raw_len + 1);
    memcpy(longer, raw, raw_len);
    longer[raw_len] = 0;
    assert_int_equal(nd_block_decode(longer, raw_len + 1, 100, &b), HM_ERR_TRAILING);
    free(longer);
    /* the tx root changes with the order of the txs */
    uint8_t root2[HM_HASH_LEN];
    uint8_t *swapped[3] = {txs[1], txs[0], txs[2]};
    size_t swapped_lens[3] = {lens[1], lens[0], lens[2]};
    nd_block view;
    memset(&view, 0, sizeof view);
    view.txs = (const uint8_t **)swapped;
    view.tx_lens = swapped_lens;
    view.tx_count = 3;
    assert_int_equal(nd_block_index(&view, root2), HM_OK);
    assert_memory_not_equal(root2, h.tx_root, HM_HASH_LEN);
    free(view.ids);
    /* an empty block has the empty tree's root */
    uint8_t empty[HM_HASH_LEN], sha_empty[HM_HASH_LEN];
    memset(&view, 0, sizeof view);
    assert_int_equal(nd_block_index(&view, empty), HM_OK);
    free(view.ids);
    hm_sha256(NULL, 0, sha_empty);
    assert_memory_equal(empty, sha_empty, HM_HASH_LEN);
    free(raw);
    for (int i = 0; i < 3; i++)
        free(txs[i]);
    hm_keypair_wipe(&kp);
}

/* nd_block_build gives the block nd_block_decode gives for the same bytes;
 * a compact block round-trips, carries the header and the ids in order,
 * and anything malformed, truncated, with bytes over or with more txs than
 * allowed fails; the frame's maximum admits the most txs any genesis
 * allows. */
static void test_block_build_and_compact(void **state) {
    (void)state;
    hm_keypair kp;
    key_of_seed(&kp, 5);
    enum { N = 4 };
    uint8_t *txs[N];
    size_t lens[N];
    for (int i = 0; i < N; i++)
        lens[i] = make_note(&txs[i], &kp, (uint64_t)(100 + i));
    hm_block_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.chain_id, "chain");
    h.height = 12;
    h.time_ms = 99;
    h.proposer = kp.pub;
    memset(h.tx_root, 0xab, HM_HASH_LEN);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    assert_int_equal(nd_block_encode(&h, (const uint8_t *const *)txs, lens, N, &raw, &raw_len),
                     HM_OK);
    nd_block built, decoded;
    assert_int_equal(nd_block_build(&h, (const uint8_t *const *)txs, lens, N, &built), HM_OK);
    assert_int_equal(nd_block_decode(raw, raw_len, N, &decoded), HM_OK);
    assert_int_equal(built.raw_len, raw_len);
    assert_memory_equal(built.raw, raw, raw_len);
    assert_int_equal(built.tx_count, N);
    uint8_t id_built[HM_HASH_LEN], id_decoded[HM_HASH_LEN];
    assert_int_equal(hm_block_header_hash(&built.header, id_built), HM_OK);
    assert_int_equal(hm_block_header_hash(&decoded.header, id_decoded), HM_OK);
    assert_memory_equal(id_built, id_decoded, HM_HASH_LEN);
    for (int i = 0; i < N; i++) {
        assert_int_equal(built.tx_lens[i], lens[i]);
        assert_memory_equal(built.txs[i], txs[i], lens[i]);
        /* views into the block's own bytes, as after decoding */
        assert_true(built.txs[i] >= built.raw && built.txs[i] < built.raw + built.raw_len);
    }
    nd_block_clear(&decoded);
    /* the compact form */
    uint8_t root[HM_HASH_LEN];
    assert_int_equal(nd_block_index(&built, root), HM_OK);
    uint8_t *c = NULL;
    size_t c_len = 0;
    assert_int_equal(nd_compact_encode(&h, (const uint8_t(*)[HM_HASH_LEN])built.ids, N, &c, &c_len),
                     HM_OK);
    hm_block_header back;
    const uint8_t(*ids)[HM_HASH_LEN] = NULL;
    uint32_t count = 0;
    assert_int_equal(nd_compact_decode(c, c_len, 100, &back, &ids, &count), HM_OK);
    assert_int_equal(count, N);
    uint8_t id_back[HM_HASH_LEN];
    assert_int_equal(hm_block_header_hash(&back, id_back), HM_OK);
    assert_memory_equal(id_back, id_built, HM_HASH_LEN);
    for (int i = 0; i < N; i++) {
        ct_tx tx;
        assert_int_equal(ct_tx_decode(txs[i], lens[i], &tx), HM_OK);
        assert_memory_equal(ids[i], tx.id, HM_HASH_LEN);
    }
    /* far smaller than the block: 32 bytes a tx */
    assert_true(c_len < raw_len);
    /* more txs than allowed; every truncation; a byte over */
    assert_int_not_equal(nd_compact_decode(c, c_len, N - 1, &back, &ids, &count), HM_OK);
    for (size_t cut = 0; cut < c_len; cut++)
        assert_int_not_equal(nd_compact_decode(c, cut, 100, &back, &ids, &count), HM_OK);
    uint8_t *longer = malloc(c_len + 1);
    memcpy(longer, c, c_len);
    longer[c_len] = 0;
    assert_int_not_equal(nd_compact_decode(longer, c_len + 1, 100, &back, &ids, &count), HM_OK);
    free(longer);
    /* an empty block */
    uint8_t *e = NULL;
    size_t e_len = 0;
    assert_int_equal(nd_compact_encode(&h, NULL, 0, &e, &e_len), HM_OK);
    assert_int_equal(nd_compact_decode(e, e_len, 100, &back, &ids, &count), HM_OK);
    assert_int_equal(count, 0);
    free(e);
    free(c);
    free(raw);
    nd_block_clear(&built);
    for (int i = 0; i < N; i++)
        free(txs[i]);
    hm_keypair_wipe(&kp);
}

/* Executing a block from its once-decoded txs (what the node does) gives
 * the same results and state root as executing the raw bytes: the
 * signature is still checked when the caller has not checked it, and a
 * repeated tx is still refused. */
static void test_block_execute_decoded(void **state) {
    (void)state;
    hm_keypair kp;
    key_of_seed(&kp, 9);
    enum { N = 5 };
    uint8_t *txs[N];
    size_t lens[N];
    for (int i = 0; i < 3; i++)
        lens[i] = make_note(&txs[i], &kp, (uint64_t)i);
    /* a copy of tx 0, and a tx whose signature has a flipped bit */
    lens[3] = lens[0];
    txs[3] = malloc(lens[0]);
    memcpy(txs[3], txs[0], lens[0]);
    lens[4] = make_note(&txs[4], &kp, 1);
    txs[4][lens[4] - 1] ^= 1;
    nd_block view;
    memset(&view, 0, sizeof view);
    view.txs = (const uint8_t **)txs;
    view.tx_lens = lens;
    view.tx_count = N;
    ct_tx decoded[N];
    uint8_t root[HM_HASH_LEN], root_plain[HM_HASH_LEN];
    assert_int_equal(nd_block_index_decoded(&view, root, decoded), HM_OK);
    assert_int_equal(nd_block_index(&view, root_plain), HM_OK);
    assert_memory_equal(root, root_plain, HM_HASH_LEN);
    ct_memstore *ms;
    assert_int_equal(ct_memstore_new(&ms), HM_OK);
    ct_store st = ct_memstore_store(ms);
    ct_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    strcpy(ctx.chain_id, "chain");
    ctx.height = 1;
    ctx.time_ms = 1000;
    ct_exec *a, *b;
    assert_int_equal(ct_exec_new(&st, &ctx, &a), HM_OK);
    assert_int_equal(ct_exec_new(&st, &ctx, &b), HM_OK);
    const hm_err want[N] = {HM_OK, HM_OK, HM_OK, HM_ERR_CONFLICT, HM_ERR_BAD_SIG};
    for (int i = 0; i < N; i++) {
        assert_memory_equal(decoded[i].id, view.ids[i], HM_HASH_LEN);
        ct_result ra, rb;
        assert_int_equal(ct_exec_tx(a, txs[i], lens[i], false, &ra), HM_OK);
        assert_int_equal(ct_exec_tx_decoded(b, &decoded[i], false, &rb), HM_OK);
        assert_int_equal(ra.code, want[i]);
        assert_int_equal(rb.code, want[i]);
        assert_string_equal(ra.message, rb.message);
    }
    assert_int_equal(ct_exec_end_block(a), HM_OK);
    assert_int_equal(ct_exec_end_block(b), HM_OK);
    uint8_t prev[HM_HASH_LEN] = {0}, sa[HM_HASH_LEN], sb[HM_HASH_LEN];
    ct_exec_state_root(a, prev, sa);
    ct_exec_state_root(b, prev, sb);
    assert_memory_equal(sa, sb, HM_HASH_LEN);
    /* a tx that never decoded cannot be passed */
    ct_tx blank;
    memset(&blank, 0, sizeof blank);
    ct_result r;
    ct_exec *c;
    assert_int_equal(ct_exec_new(&st, &ctx, &c), HM_OK);
    assert_int_equal(ct_exec_tx_decoded(c, &blank, true, &r), HM_ERR_ARG);
    ct_exec_free(c);
    ct_exec_free(a);
    ct_exec_free(b);
    ct_memstore_free(ms);
    free(view.ids);
    for (int i = 0; i < N; i++)
        free(txs[i]);
    hm_keypair_wipe(&kp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_round_trip),
        cmocka_unit_test(test_frame_limits),
        cmocka_unit_test(test_txs_round_trip),
        cmocka_unit_test(test_txs_bounds),
        cmocka_unit_test(test_txs_malformed),
        cmocka_unit_test(test_block_round_trip),
        cmocka_unit_test(test_block_execute_decoded),
        cmocka_unit_test(test_block_build_and_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
