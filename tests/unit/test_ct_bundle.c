/* tests/unit/test_ct_bundle.c — proof bundles over a synthetic chain built
 * here with real keys: a validator set, blocks whose certificates a quorum
 * signed, a signed batch tx and a keyless claim.
 *
 * What must hold: a valid bundle verifies; every single-byte change of its
 * binary form fails (decode or verify) with a reason; the wrong genesis
 * fails; a certificate with too few or foreign signatures fails; the JSON
 * form carries exactly the same bundle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ct.h"
#include "ct_bundle.h"

#define CHAIN "bundle-test"
#define VALIDATORS 4
#define BATCH_RECORDS 37
#define BLOCK_TXS 5

typedef struct {
    hm_keypair vals[VALIDATORS];
    hm_validator_set vset;
    hm_keypair brand;
    hm_keypair stranger;
    uint8_t *bundle_bytes;
    size_t bundle_len;
} fixture;

static void key_from_seed(hm_keypair *kp, uint8_t seed) {
    uint8_t sk[HM_SECKEY_LEN];
    memset(sk, seed, sizeof sk);
    assert_int_equal(hm_keypair_from_seckey(kp, sk), HM_OK);
}

/* Signs a certificate for header with the validators listed in signers. */
static void make_cert(const fixture *f, const hm_block_header *h, const hm_keypair *signers,
                      const uint32_t *indexes, uint32_t count, hm_cert *cert) {
    memset(cert, 0, sizeof *cert);
    cert->height = h->height;
    cert->round = 0;
    assert_int_equal(hm_block_header_hash(h, cert->block_id), HM_OK);
    hm_vote_body vote = {.type = HM_VOTE_PRECOMMIT, .height = h->height, .round = 0};
    memcpy(vote.block_id, cert->block_id, HM_HASH_LEN);
    uint8_t body[64];
    hm_writer w;
    hm_writer_init(&w, body, sizeof body);
    hm_vote_body_encode(&vote, &w);
    assert_int_equal(hm_writer_error(&w), HM_OK);
    for (uint32_t i = 0; i < count; i++) {
        cert->sigs[i].validator_index = indexes[i];
        assert_int_equal(
            hm_sign(&signers[i], HM_PURPOSE_VOTE, CHAIN, body, w.len, &cert->sigs[i].sig), HM_OK);
    }
    cert->count = count;
    (void)f;
}

static void quorum_cert(const fixture *f, const hm_block_header *h, hm_cert *cert) {
    hm_keypair signers[3] = {f->vals[0], f->vals[2], f->vals[3]};
    uint32_t idx[3] = {0, 2, 3};
    make_cert(f, h, signers, idx, 3, cert);
}

/* A block of BLOCK_TXS txs with tx (head||sig) at position at; the others
 * are notes. Writes the header and the inclusion proof of position at. */
static void make_block(const fixture *f, uint64_t height, const uint8_t *tx, size_t tx_len,
                       uint32_t at, hm_block_header *h, uint8_t (*proof)[HM_HASH_LEN],
                       size_t *proof_len) {
    uint8_t leaves[BLOCK_TXS][HM_HASH_LEN];
    for (uint32_t i = 0; i < BLOCK_TXS; i++) {
        if (i == at) {
            ct_tx d;
            assert_int_equal(ct_tx_decode(tx, tx_len, &d), HM_OK);
            ct_tx_leaf_hash(&d, leaves[i]);
            continue;
        }
        hm_writer w;
        hm_writer_init_growable(&w, 4096);
        uint8_t note[8] = {(uint8_t)height, (uint8_t)i};
        assert_int_equal(ct_tx_build(&w, CT_TX_NOTE, &f->stranger, CHAIN, height * 100 + i, note,
                                     sizeof note, false, NULL, NULL, 0),
                         HM_OK);
        ct_tx d;
        assert_int_equal(ct_tx_decode(w.buf, w.len, &d), HM_OK);
        ct_tx_leaf_hash(&d, leaves[i]);
        hm_writer_free(&w);
    }
    memset(h, 0, sizeof *h);
    snprintf(h->chain_id, sizeof h->chain_id, "%s", CHAIN);
    h->height = height;
    h->time_ms = 1700000000000ull + height * 1000;
    memset(h->prev_block_hash, (int)height, HM_HASH_LEN);
    hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])leaves, BLOCK_TXS, h->tx_root);
    memset(h->state_root, 0x5a, HM_HASH_LEN);
    hm_validator_set_hash(&f->vset, h->validator_set_hash);
    h->proposer = f->vals[height % VALIDATORS].pub;
    assert_int_equal(hm_merkle_inclusion_proof((const uint8_t(*)[HM_HASH_LEN])leaves, BLOCK_TXS, at,
                                               proof, proof_len),
                     HM_OK);
}

/* Builds the reference bundle: record 11 of a 37-record batch (block 7,
 * position 1) and a keyless claim (block 9, position 4, the last). */
static void fill_bundle(fixture *f, ct_bundle *b);
static void build_bundle(fixture *f, ct_bundle *b) {
    assert_int_equal(ct_bundle_init(b, CHAIN, &f->vset), HM_OK);
    fill_bundle(f, b);
}

/* Adds the reference bundle's blocks and entries to the empty bundle b. */
static void fill_bundle(fixture *f, ct_bundle *b) {
    uint8_t recs[BATCH_RECORDS][24];
    const uint8_t *rec_ptrs[BATCH_RECORDS];
    size_t rec_lens[BATCH_RECORDS];
    uint8_t leaves[BATCH_RECORDS][HM_HASH_LEN];
    memset(recs, 0, sizeof recs); /* the text fills 19 of each record's 24 bytes */
    for (uint32_t i = 0; i < BATCH_RECORDS; i++) {
        snprintf((char *)recs[i], sizeof recs[i], "record-%03u-payload", i);
        rec_ptrs[i] = recs[i];
        rec_lens[i] = sizeof recs[i];
        hm_merkle_leaf_hash(recs[i], sizeof recs[i], leaves[i]);
    }
    hm_writer w;
    hm_writer_init_growable(&w, 1 << 20);
    assert_int_equal(ct_tx_build(&w, CT_TX_ITEM_REGISTER, &f->brand, CHAIN, 1, NULL, 0, true,
                                 rec_ptrs, rec_lens, BATCH_RECORDS),
                     HM_OK);
    hm_block_header h;
    uint8_t tx_proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t tx_proof_len;
    make_block(f, 7, w.buf, w.len, 1, &h, tx_proof, &tx_proof_len);
    hm_cert cert;
    quorum_cert(f, &h, &cert);
    uint32_t blk;
    assert_int_equal(ct_bundle_add_block(b, &h, &cert, &blk), HM_OK);
    uint8_t rec_proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t rec_proof_len;
    assert_int_equal(hm_merkle_inclusion_proof((const uint8_t(*)[HM_HASH_LEN])leaves, BATCH_RECORDS,
                                               11, rec_proof, &rec_proof_len),
                     HM_OK);
    assert_int_equal(
        ct_bundle_add_entry(b, CT_BUNDLE_RECORD, w.buf, w.len, recs[11], sizeof recs[11], 11,
                            (const uint8_t(*)[HM_HASH_LEN])rec_proof, rec_proof_len, blk, 1,
                            BLOCK_TXS, (const uint8_t(*)[HM_HASH_LEN])tx_proof, tx_proof_len),
        HM_OK);
    hm_writer_free(&w);

    /* A keyless claim in a later block, added before an earlier block to
     * exercise the ordering of blocks. */
    hm_writer_init_growable(&w, 4096);
    uint8_t claim[16] = "claim-body-bytes";
    assert_int_equal(
        ct_tx_build(&w, CT_TX_CLAIM, NULL, CHAIN, 0, claim, sizeof claim, false, NULL, NULL, 0),
        HM_OK);
    make_block(f, 9, w.buf, w.len, BLOCK_TXS - 1, &h, tx_proof, &tx_proof_len);
    quorum_cert(f, &h, &cert);
    assert_int_equal(ct_bundle_add_block(b, &h, &cert, &blk), HM_OK);
    assert_int_equal(blk, 1);
    assert_int_equal(ct_bundle_add_entry(b, CT_BUNDLE_TX, w.buf, w.len, NULL, 0, 0, NULL, 0, blk,
                                         BLOCK_TXS - 1, BLOCK_TXS,
                                         (const uint8_t(*)[HM_HASH_LEN])tx_proof, tx_proof_len),
                     HM_OK);
    hm_writer_free(&w);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    for (uint8_t i = 0; i < VALIDATORS; i++) {
        key_from_seed(&f->vals[i], (uint8_t)(0x11 + i));
        f->vset.keys[i] = f->vals[i].pub;
    }
    f->vset.count = VALIDATORS;
    key_from_seed(&f->brand, 0x77);
    key_from_seed(&f->stranger, 0x78);
    ct_bundle b;
    build_bundle(f, &b);
    hm_writer w;
    hm_writer_init_growable(&w, CT_BUNDLE_ENCODED_MAX);
    assert_int_equal(ct_bundle_encode(&b, &w), HM_OK);
    f->bundle_bytes = hm_writer_take(&w, &f->bundle_len);
    ct_bundle_clear(&b);
    /* HALLMARK_BUNDLE_SEED=FILE writes the bundle out (the fuzz seed). */
    const char *seed = getenv("HALLMARK_BUNDLE_SEED");
    if (seed != NULL && seed[0] != '\0') {
        FILE *out = fopen(seed, "wb");
        assert_non_null(out);
        assert_int_equal(fwrite(f->bundle_bytes, 1, f->bundle_len, out), f->bundle_len);
        assert_int_equal(fclose(out), 0);
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    free(f->bundle_bytes);
    free(f);
    return 0;
}

typedef struct {
    int steps;
    int failed;
    char last_step[32];
    char last_detail[320];
} report_log;

static void record_report(void *arg, const char *step, bool ok, const char *detail) {
    report_log *log = arg;
    log->steps++;
    if (!ok) {
        log->failed++;
    }
    snprintf(log->last_step, sizeof log->last_step, "%s", step);
    snprintf(log->last_detail, sizeof log->last_detail, "%s", detail);
}

static hm_err decode_and_verify(const fixture *f, const uint8_t *data, size_t len,
                                const char *chain, const hm_validator_set *vs, report_log *log) {
    ct_bundle b;
    hm_err err = ct_bundle_decode(data, len, &b);
    if (err != HM_OK) {
        return err;
    }
    err = ct_bundle_verify(&b, chain, vs, record_report, log);
    ct_bundle_clear(&b);
    (void)f;
    return err;
}

static void test_valid_bundle_verifies(void **state) {
    fixture *f = *state;
    report_log log = {0};
    assert_int_equal(decode_and_verify(f, f->bundle_bytes, f->bundle_len, CHAIN, &f->vset, &log),
                     HM_OK);
    assert_int_equal(log.failed, 0);
    assert_string_equal(log.last_step, "done");
    /* chain, validators, 2 certificates, 2 x (tx, inclusion), 1 record, done */
    assert_int_equal(log.steps, 1 + 1 + 2 + 4 + 1 + 1);
}

static void test_every_byte_flip_fails(void **state) {
    fixture *f = *state;
    uint8_t *copy = malloc(f->bundle_len);
    assert_non_null(copy);
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    size_t decode_failures = 0, verify_failures = 0;
    for (size_t m = 0; m < sizeof masks; m++) {
        for (size_t i = 0; i < f->bundle_len; i++) {
            memcpy(copy, f->bundle_bytes, f->bundle_len);
            copy[i] ^= masks[m];
            ct_bundle b;
            hm_err err = ct_bundle_decode(copy, f->bundle_len, &b);
            if (err != HM_OK) {
                decode_failures++;
                continue;
            }
            report_log log = {0};
            err = ct_bundle_verify(&b, CHAIN, &f->vset, record_report, &log);
            ct_bundle_clear(&b);
            if (err == HM_OK) {
                fail_msg("flipping byte %zu with 0x%02x still verifies", i, masks[m]);
            }
            /* A failure names its step and a reason. */
            assert_int_equal(log.failed, 1);
            assert_true(strlen(log.last_detail) > 0);
            verify_failures++;
        }
    }
    /* Truncations and an extra byte fail too. */
    for (size_t len = 0; len < f->bundle_len; len += 7) {
        report_log log = {0};
        assert_int_not_equal(decode_and_verify(f, f->bundle_bytes, len, CHAIN, &f->vset, &log),
                             HM_OK);
    }
    uint8_t *longer = malloc(f->bundle_len + 1);
    assert_non_null(longer);
    memcpy(longer, f->bundle_bytes, f->bundle_len);
    longer[f->bundle_len] = 0;
    report_log log = {0};
    assert_int_equal(decode_and_verify(f, longer, f->bundle_len + 1, CHAIN, &f->vset, &log),
                     HM_ERR_TRAILING);
    free(longer);
    free(copy);
    print_message("bundle of %zu bytes: %zu flips refused by the decoder, %zu by verification\n",
                  f->bundle_len, decode_failures, verify_failures);
    /* Most flips land in hashes and signatures, which only verification sees. */
    assert_true(verify_failures > decode_failures);
}

static void test_wrong_genesis_fails(void **state) {
    fixture *f = *state;
    report_log log = {0};
    assert_int_equal(
        decode_and_verify(f, f->bundle_bytes, f->bundle_len, "another-chain", &f->vset, &log),
        HM_ERR_BAD_VALUE);
    assert_string_equal(log.last_step, "chain");
    hm_validator_set other = f->vset;
    other.keys[2] = f->stranger.pub;
    memset(&log, 0, sizeof log);
    assert_int_equal(decode_and_verify(f, f->bundle_bytes, f->bundle_len, CHAIN, &other, &log),
                     HM_ERR_BAD_VALUE);
    assert_string_equal(log.last_step, "validators");
    hm_validator_set fewer = f->vset;
    fewer.count = 3;
    memset(&log, 0, sizeof log);
    assert_int_equal(decode_and_verify(f, f->bundle_bytes, f->bundle_len, CHAIN, &fewer, &log),
                     HM_ERR_BAD_VALUE);
}

/* Replaces block 0's certificate and checks verification. */
static hm_err verify_with_cert(fixture *f, const hm_keypair *signers, const uint32_t *idx,
                               uint32_t count, report_log *log) {
    ct_bundle b;
    assert_int_equal(ct_bundle_decode(f->bundle_bytes, f->bundle_len, &b), HM_OK);
    make_cert(f, &b.blocks[0].header, signers, idx, count, &b.blocks[0].cert);
    hm_err err = ct_bundle_verify(&b, CHAIN, &f->vset, record_report, log);
    ct_bundle_clear(&b);
    return err;
}

static void test_bad_certificates_fail(void **state) {
    fixture *f = *state;
    report_log log = {0};
    /* Sanity: a different quorum (0, 1, 2) is fine. */
    hm_keypair q[3] = {f->vals[0], f->vals[1], f->vals[2]};
    uint32_t qi[3] = {0, 1, 2};
    assert_int_equal(verify_with_cert(f, q, qi, 3, &log), HM_OK);
    /* Too few: 2 of 4 (quorum is 3). */
    memset(&log, 0, sizeof log);
    assert_int_equal(verify_with_cert(f, q, qi, 2, &log), HM_ERR_PROOF);
    assert_string_equal(log.last_step, "certificate");
    /* A foreign signature under a member's index. */
    hm_keypair foreign[3] = {f->vals[0], f->stranger, f->vals[2]};
    memset(&log, 0, sizeof log);
    assert_int_equal(verify_with_cert(f, foreign, qi, 3, &log), HM_ERR_BAD_SIG);
    assert_string_equal(log.last_step, "certificate");
    /* The same validator twice to reach the count. */
    hm_keypair twice[3] = {f->vals[0], f->vals[0], f->vals[2]};
    uint32_t twice_i[3] = {0, 0, 2};
    memset(&log, 0, sizeof log);
    assert_int_equal(verify_with_cert(f, twice, twice_i, 3, &log), HM_ERR_PROOF);
    /* An index outside the set. */
    uint32_t outside[3] = {0, 1, 9};
    memset(&log, 0, sizeof log);
    assert_int_not_equal(verify_with_cert(f, q, outside, 3, &log), HM_OK);
    /* Signed by a whole foreign validator set of the right size. */
    hm_keypair strangers[3];
    for (int i = 0; i < 3; i++) {
        key_from_seed(&strangers[i], (uint8_t)(0x90 + i));
    }
    memset(&log, 0, sizeof log);
    assert_int_equal(verify_with_cert(f, strangers, qi, 3, &log), HM_ERR_BAD_SIG);
}

static void test_json_round_trip(void **state) {
    fixture *f = *state;
    ct_bundle b;
    assert_int_equal(ct_bundle_decode(f->bundle_bytes, f->bundle_len, &b), HM_OK);
    json_t *j = ct_bundle_to_json(&b);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    json_decref(j);
    ct_bundle_clear(&b);
    json_error_t jerr;
    json_t *back = json_loads(text, 0, &jerr);
    assert_non_null(back);
    ct_bundle c;
    const char *why = NULL;
    assert_int_equal(ct_bundle_from_json(back, &c, &why), HM_OK);
    hm_writer w;
    hm_writer_init_growable(&w, CT_BUNDLE_ENCODED_MAX);
    assert_int_equal(ct_bundle_encode(&c, &w), HM_OK);
    assert_int_equal(w.len, f->bundle_len);
    assert_memory_equal(w.buf, f->bundle_bytes, f->bundle_len);
    hm_writer_free(&w);
    report_log log = {0};
    assert_int_equal(ct_bundle_verify(&c, CHAIN, &f->vset, record_report, &log), HM_OK);
    ct_bundle_clear(&c);
    /* A changed hex digit in the JSON fails verification. */
    json_t *entries = json_object_get(back, "entries");
    json_t *e0 = json_array_get(entries, 0);
    char rec[256];
    snprintf(rec, sizeof rec, "%s", json_string_value(json_object_get(e0, "record")));
    rec[3] = rec[3] == '0' ? '1' : '0';
    json_object_set_new(e0, "record", json_string(rec));
    assert_int_equal(ct_bundle_from_json(back, &c, &why), HM_OK);
    assert_int_equal(ct_bundle_verify(&c, CHAIN, &f->vset, NULL, NULL), HM_ERR_PROOF);
    ct_bundle_clear(&c);
    /* Malformed JSON bundles are refused with a reason. */
    json_object_set_new(e0, "tx_sig", json_string("zz"));
    why = NULL;
    assert_int_not_equal(ct_bundle_from_json(back, &c, &why), HM_OK);
    assert_non_null(why);
    json_object_set_new(back, "version", json_integer(2));
    assert_int_equal(ct_bundle_from_json(back, &c, &why), HM_ERR_UNKNOWN_TYPE);
    json_decref(back);
    free(text);

    /* The directly written text is the same JSON. */
    assert_int_equal(ct_bundle_decode(f->bundle_bytes, f->bundle_len, &b), HM_OK);
    char *direct = NULL;
    size_t direct_len = 0;
    assert_int_equal(ct_bundle_to_json_text(&b, &direct, &direct_len), HM_OK);
    assert_int_equal(strlen(direct), direct_len);
    json_t *via_tree = ct_bundle_to_json(&b);
    json_t *parsed = json_loads(direct, 0, &jerr);
    assert_non_null(parsed);
    assert_true(json_equal(parsed, via_tree));
    /* Byte for byte what jansson writes, not only the same JSON. */
    char *dumped = json_dumps(via_tree, JSON_COMPACT);
    assert_non_null(dumped);
    assert_string_equal(direct, dumped);
    free(dumped);
    json_decref(via_tree);
    /* Kept pieces copied in give the same bytes: all kept, none kept, and
     * the head kept with the first block rendered. */
    assert_true(b.block_count >= 1 && b.block_count <= CT_BUNDLE_BLOCKS_MAX);
    char *head = NULL;
    size_t head_len = 0;
    assert_int_equal(ct_bundle_json_head_text(b.chain_id, &b.vset, &head, &head_len), HM_OK);
    assert_int_equal(strlen(head), head_len);
    assert_memory_equal(direct, head, head_len);
    ct_bundle_json_piece pieces[CT_BUNDLE_BLOCKS_MAX];
    char *block_texts[CT_BUNDLE_BLOCKS_MAX];
    for (uint32_t i = 0; i < b.block_count; i++) {
        size_t n = 0;
        assert_int_equal(
            ct_bundle_json_block_text(&b.blocks[i].header, &b.blocks[i].cert, &block_texts[i], &n),
            HM_OK);
        assert_non_null(strstr(direct, block_texts[i]));
        pieces[i] = (ct_bundle_json_piece){block_texts[i], n};
    }
    ct_bundle_json_piece head_piece = {head, head_len};
    for (int variant = 0; variant < 3; variant++) {
        ct_bundle_json_piece blocks[CT_BUNDLE_BLOCKS_MAX];
        memcpy(blocks, pieces, b.block_count * sizeof blocks[0]);
        if (variant == 2) {
            blocks[0].text = NULL;
        }
        char *with = NULL;
        size_t with_len = 0;
        assert_int_equal(ct_bundle_to_json_text_pieces(&b, variant == 1 ? NULL : &head_piece,
                                                       variant == 1 ? NULL : blocks, &with,
                                                       &with_len),
                         HM_OK);
        assert_int_equal(with_len, direct_len);
        assert_string_equal(with, direct);
        free(with);
    }
    /* The kept pieces are what is copied in: marked ones show up in place
     * of the head and the first block, the rest as rendered. */
    {
        ct_bundle_json_piece marked_head = {"HEAD", 4};
        ct_bundle_json_piece blocks[CT_BUNDLE_BLOCKS_MAX];
        memcpy(blocks, pieces, b.block_count * sizeof blocks[0]);
        blocks[0] = (ct_bundle_json_piece){"B0", 2};
        char *with = NULL;
        size_t with_len = 0;
        assert_int_equal(ct_bundle_to_json_text_pieces(&b, &marked_head, blocks, &with, &with_len),
                         HM_OK);
        assert_int_equal(with_len, direct_len - head_len - pieces[0].len + 4 + 2);
        assert_memory_equal(with, "HEADB0", 6);
        assert_string_equal(with + 6, direct + head_len + pieces[0].len);
        free(with);
    }
    for (uint32_t i = 0; i < b.block_count; i++) {
        free(block_texts[i]);
    }
    free(head);
    /* A height JSON cannot carry is refused, as for the whole bundle. */
    hm_block_header big = b.blocks[0].header;
    big.height = (uint64_t)INT64_MAX + 1;
    char *none = NULL;
    size_t none_len = 0;
    assert_int_equal(ct_bundle_json_block_text(&big, &b.blocks[0].cert, &none, &none_len),
                     HM_ERR_OVERFLOW);
    assert_null(none);
    assert_int_equal(ct_bundle_json_head_text(NULL, &b.vset, &none, &none_len), HM_ERR_ARG);
    assert_int_equal(ct_bundle_from_json(parsed, &c, &why), HM_OK);
    assert_int_equal(ct_bundle_verify(&c, CHAIN, &f->vset, NULL, NULL), HM_OK);
    ct_bundle_clear(&c);
    json_decref(parsed);
    free(direct);
    ct_bundle_clear(&b);
}

static void test_path_bits_and_misuse(void **state) {
    (void)state;
    uint64_t bits;
    /* The last of 5 leaves: one left sibling (the first 4). */
    assert_int_equal(ct_bundle_path_bits(4, 5, 1, &bits), HM_OK);
    assert_int_equal(bits, 1);
    /* Leaf 0 of 8: three right siblings. */
    assert_int_equal(ct_bundle_path_bits(0, 8, 3, &bits), HM_OK);
    assert_int_equal(bits, 0);
    assert_int_equal(ct_bundle_path_bits(7, 8, 3, &bits), HM_OK);
    assert_int_equal(bits, 7);
    assert_int_equal(ct_bundle_path_bits(0, 8, 2, &bits), HM_ERR_PROOF);
    assert_int_equal(ct_bundle_path_bits(8, 8, 3, &bits), HM_ERR_PROOF);
    ct_bundle b;
    hm_validator_set empty = {0};
    assert_int_equal(ct_bundle_init(&b, CHAIN, &empty), HM_ERR_ARG);
    assert_int_equal(ct_bundle_init(&b, "", &empty), HM_ERR_ARG);
    ct_bundle_clear(NULL);
    uint8_t junk[8] = "HMPB\x02";
    assert_int_equal(ct_bundle_decode(junk, sizeof junk, &b), HM_ERR_UNKNOWN_TYPE);
}

/* A block's certificate is copied up to its count; one that claims more
 * signatures than any validator set holds is refused, and nothing added. */
static void test_add_block_cert_copy(void **state) {
    fixture *f = *state;
    ct_bundle b;
    assert_int_equal(ct_bundle_init(&b, CHAIN, &f->vset), HM_OK);
    hm_block_header h;
    memset(&h, 0, sizeof h);
    h.height = 3;
    hm_cert *cert = calloc(1, sizeof *cert);
    assert_non_null(cert);
    cert->height = 3;
    cert->round = 1;
    memset(cert->block_id, 0xab, HM_HASH_LEN);
    cert->count = HM_VALIDATORS_MAX + 1;
    uint32_t blk = 99;
    assert_int_equal(ct_bundle_add_block(&b, &h, cert, &blk), HM_ERR_BAD_VALUE);
    assert_int_equal(b.block_count, 0);
    assert_int_equal(blk, 99);
    cert->count = 2;
    for (uint32_t i = 0; i < 2; i++) {
        cert->sigs[i].validator_index = i + 1;
        memset(cert->sigs[i].sig.bytes, (int)(0x10 + i), HM_SIG_LEN);
    }
    assert_int_equal(ct_bundle_add_block(&b, &h, cert, &blk), HM_OK);
    assert_int_equal(blk, 0);
    const hm_cert *kept = &b.blocks[0].cert;
    assert_int_equal(kept->height, 3);
    assert_int_equal(kept->round, 1);
    assert_int_equal(kept->count, 2);
    assert_memory_equal(kept->block_id, cert->block_id, HM_HASH_LEN);
    assert_memory_equal(kept->sigs, cert->sigs, 2 * sizeof cert->sigs[0]);
    free(cert);
    ct_bundle_clear(&b);
}

static void test_genesis_parse(void **state) {
    fixture *f = *state;
    char text[2048];
    char k[VALIDATORS][65];
    for (int i = 0; i < VALIDATORS; i++) {
        hm_hex_encode(f->vals[i].pub.bytes, HM_PUBKEY_LEN, k[i]);
    }
    snprintf(text, sizeof text,
             "{\"chain_id\":\"%s\",\"validators\":[{\"consensus_pubkey\":\"%s\"},"
             "{\"consensus_pubkey\":\"%s\"},{\"consensus_pubkey\":\"%s\"},"
             "{\"consensus_pubkey\":\"%s\"}]}",
             CHAIN, k[0], k[1], k[2], k[3]);
    char chain[HM_CHAIN_ID_MAX + 1];
    hm_validator_set vs;
    const char *why = NULL;
    assert_int_equal(ct_bundle_genesis_parse(text, strlen(text), chain, &vs, &why), HM_OK);
    assert_string_equal(chain, CHAIN);
    assert_int_equal(vs.count, VALIDATORS);
    assert_memory_equal(vs.keys, f->vset.keys, VALIDATORS * sizeof vs.keys[0]);
    assert_int_equal(ct_bundle_genesis_parse("{}", 2, chain, &vs, &why), HM_ERR_BAD_VALUE);
    assert_int_equal(ct_bundle_genesis_parse("nope", 4, chain, &vs, &why), HM_ERR_BAD_VALUE);
}

/* A reset bundle filled again is the same bundle as a fresh one (same
 * length, verifies step for step), round after round, and owns nothing of
 * the previous round's entries. */
static void test_reset_reuse(void **state) {
    fixture *f = *state;
    ct_bundle b;
    build_bundle(f, &b);
    for (int round = 0; round < 3; round++) {
        ct_bundle_reset(&b);
        assert_int_equal(b.entry_count, 0);
        assert_int_equal(b.block_count, 0);
        fill_bundle(f, &b);
        hm_writer w;
        hm_writer_init_growable(&w, CT_BUNDLE_ENCODED_MAX);
        assert_int_equal(ct_bundle_encode(&b, &w), HM_OK);
        /* Signatures differ from one build to the next (BIP340 nonces take
         * fresh randomness), so the bytes are checked by verifying them. */
        assert_int_equal(w.len, f->bundle_len);
        report_log log = {0};
        assert_int_equal(decode_and_verify(f, w.buf, w.len, CHAIN, &f->vset, &log), HM_OK);
        assert_int_equal(log.failed, 0);
        assert_int_equal(log.steps, 1 + 1 + 2 + 4 + 1 + 1);
        hm_writer_free(&w);
    }
    /* Reset to empty, then cleared: nothing leaks (ASan), twice is fine. */
    ct_bundle_reset(&b);
    ct_bundle_reset(&b);
    ct_bundle_clear(&b);
    ct_bundle_reset(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_bundle_verifies), cmocka_unit_test(test_every_byte_flip_fails),
        cmocka_unit_test(test_wrong_genesis_fails),   cmocka_unit_test(test_bad_certificates_fail),
        cmocka_unit_test(test_json_round_trip),       cmocka_unit_test(test_path_bits_and_misuse),
        cmocka_unit_test(test_genesis_parse),         cmocka_unit_test(test_add_block_cert_copy),
        cmocka_unit_test(test_reset_reuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
