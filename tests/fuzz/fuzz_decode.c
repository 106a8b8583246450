/* tests/fuzz/fuzz_decode.c — libFuzzer target for the canonical reader and
 * the chain-object decoders (hm_block_header_decode, hm_cert_decode,
 * hm_vote_body_decode).
 *
 * Layer: tests only. The input is a little program followed by the data it
 * decodes: byte 0 gives the number of operations k (byte0 % 33), the next k
 * bytes are the operations, the rest is the data. An operation's low nibble
 * picks what to read (u8, u16, u32, u64, varint, bool, raw bytes, bytes, text,
 * block header, certificate, vote body) and its high nibble a parameter (a
 * varint maximum, a length maximum, a raw length). Then:
 *   - the reader never reads past its input;
 *   - when the whole sequence decodes, writing the decoded values back gives
 *     exactly the bytes that were consumed (one byte string per value: the
 *     heart of a canonical encoding), and each decoded header or certificate
 *     re-encodes to its own bytes;
 *   - hm_reader_finish agrees with whether bytes are left.
 * Never depends on anything but the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "hm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPS_MAX 32

static const uint64_t varint_max[16] = {
    UINT64_MAX,
    0,
    1,
    127,
    128,
    255,
    16383,
    16384,
    65535,
    65536,
    UINT32_MAX,
    (uint64_t)1 << 53,
    ((uint64_t)1 << 63) - 1,
    (uint64_t)1 << 63,
    UINT64_MAX - 1,
    100000,
};
static const size_t len_max[16] = {
    0, 1, 2, 3, 8, 16, 32, 63, 64, 127, 128, 255, 256, 1000, 4096, 65536,
};

typedef enum {
    OP_U8,
    OP_U16,
    OP_U32,
    OP_U64,
    OP_VARINT,
    OP_BOOL,
    OP_RAW,
    OP_BYTES,
    OP_STR,
    OP_HEADER,
    OP_CERT,
    OP_VOTE,
    OP__COUNT
} op_kind;

/* One decoded value, kept to be written back. */
typedef struct {
    op_kind kind;
    uint8_t param;
    uint64_t u;         /* integers and bools */
    const uint8_t *ptr; /* raw, bytes: into the input; composites: their bytes */
    size_t len;
    char text[65537];
} value;

static value values[OPS_MAX];
static hm_cert cert;
static hm_cert cert_again;

/* Re-encodes a decoded composite and checks it gives back its own bytes. */
static void check_reencodes(op_kind kind, const void *obj, const uint8_t *bytes, size_t len) {
    uint8_t *buf = malloc(len + 64);
    check(buf != NULL);
    hm_writer w;
    hm_writer_init(&w, buf, len + 64);
    if (kind == OP_HEADER)
        check(hm_block_header_encode(obj, &w) == HM_OK);
    else if (kind == OP_CERT)
        check(hm_cert_encode(obj, &w) == HM_OK);
    else
        hm_vote_body_encode(obj, &w);
    check(hm_writer_error(&w) == HM_OK);
    check(w.len == len && memcmp(buf, bytes, len) == 0);
    free(buf);
}

/* A fixed validator set of four keys (secret keys 1..4), so that decoded
 * certificates can be run through hm_cert_verify's structural checks. */
static hm_validator_set *validators(void) {
    static hm_validator_set vs;
    static int ready;
    if (!ready) {
        vs.count = 4;
        for (uint32_t i = 0; i < 4; i++) {
            uint8_t sk[HM_SECKEY_LEN] = {0};
            sk[31] = (uint8_t)(i + 1);
            hm_keypair kp;
            check(hm_keypair_from_seckey(&kp, sk) == HM_OK);
            vs.keys[i] = kp.pub;
        }
        ready = 1;
    }
    return &vs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    size_t op_count = data[0] % (OPS_MAX + 1);
    if (size < 1 + op_count)
        return 0;
    const uint8_t *ops = data + 1;
    const uint8_t *in = data + 1 + op_count;
    size_t in_len = size - 1 - op_count;

    hm_reader r;
    hm_reader_init(&r, in, in_len);
    size_t decoded = 0;
    for (size_t i = 0; i < op_count; i++) {
        value *v = &values[decoded];
        v->kind = (op_kind)((ops[i] & 0x0f) % OP__COUNT);
        v->param = ops[i] >> 4;
        size_t start = r.pos;
        switch (v->kind) {
        case OP_U8:
            v->u = hm_get_u8(&r);
            break;
        case OP_U16:
            v->u = hm_get_u16(&r);
            break;
        case OP_U32:
            v->u = hm_get_u32(&r);
            break;
        case OP_U64:
            v->u = hm_get_u64(&r);
            break;
        case OP_VARINT:
            v->u = hm_get_varint(&r, varint_max[v->param]);
            if (hm_reader_error(&r) == HM_OK)
                check(v->u <= varint_max[v->param]);
            break;
        case OP_BOOL:
            v->u = hm_get_bool(&r);
            break;
        case OP_RAW: {
            v->len = (size_t)v->param * 3;
            uint8_t raw[45];
            hm_get_raw(&r, raw, v->len);
            v->ptr = in + start;
            if (hm_reader_error(&r) == HM_OK)
                check(memcmp(raw, v->ptr, v->len) == 0);
            break;
        }
        case OP_BYTES:
            v->ptr = hm_get_bytes(&r, len_max[v->param], &v->len);
            if (hm_reader_error(&r) == HM_OK) {
                check(v->ptr != NULL || v->len == 0);
                check(v->len <= len_max[v->param]);
                check(v->len == 0 || (v->ptr >= in && v->ptr + v->len <= in + in_len));
            }
            break;
        case OP_STR:
            hm_get_str(&r, v->text, len_max[v->param] + 1, len_max[v->param]);
            if (hm_reader_error(&r) == HM_OK)
                check(strlen(v->text) <= len_max[v->param]);
            break;
        case OP_HEADER: {
            hm_block_header h;
            if (hm_block_header_decode(&r, &h) == HM_OK) {
                check(hm_reader_error(&r) == HM_OK);
                check_reencodes(OP_HEADER, &h, in + start, r.pos - start);
                uint8_t id[HM_HASH_LEN];
                check(hm_block_header_hash(&h, id) == HM_OK);
                check(r.pos - start <= HM_BLOCK_HEADER_ENCODED_MAX);
            }
            break;
        }
        case OP_CERT:
            if (hm_cert_decode(&r, &cert) == HM_OK) {
                check(cert.count <= HM_VALIDATORS_MAX);
                check_reencodes(OP_CERT, &cert, in + start, r.pos - start);
                /* Decoding the same bytes again gives the same certificate. */
                hm_reader again;
                hm_reader_init(&again, in + start, r.pos - start);
                check(hm_cert_decode(&again, &cert_again) == HM_OK);
                check(hm_reader_finish(&again) == HM_OK);
                check(cert_again.count == cert.count &&
                      memcmp(cert_again.sigs, cert.sigs, cert.count * sizeof cert.sigs[0]) == 0);
                /* Structure only: random signatures never verify, and a
                 * small count keeps each run cheap. */
                if (cert.count <= 4) {
                    hm_err err = hm_cert_verify(&cert, "fuzz", validators());
                    check(err == HM_ERR_PROOF || err == HM_ERR_BAD_SIG);
                }
            }
            break;
        case OP_VOTE: {
            hm_vote_body vote;
            if (hm_vote_body_decode(&r, &vote) == HM_OK)
                check_reencodes(OP_VOTE, &vote, in + start, r.pos - start);
            break;
        }
        default:
            abort();
        }
        check(r.pos <= in_len);
        if (hm_reader_error(&r) != HM_OK)
            break;
        if (v->kind >= OP_HEADER) {
            v->ptr = in + start;
            v->len = r.pos - start;
        }
        decoded++;
    }
    check(r.pos <= in_len);
    hm_err err = hm_reader_error(&r);
    if (err != HM_OK) {
        check(hm_reader_finish(&r) == err);
        return 0;
    }
    check(hm_reader_finish(&r) == (r.pos == in_len ? HM_OK : HM_ERR_TRAILING));
    check(hm_reader_at_end(&r) == (r.pos == in_len));

    /* Everything decoded: writing it back must give the consumed bytes. */
    uint8_t *buf = malloc(r.pos + 64);
    check(buf != NULL);
    hm_writer w;
    hm_writer_init(&w, buf, r.pos + 64);
    for (size_t i = 0; i < decoded; i++) {
        const value *v = &values[i];
        switch (v->kind) {
        case OP_U8:
            hm_put_u8(&w, (uint8_t)v->u);
            break;
        case OP_U16:
            hm_put_u16(&w, (uint16_t)v->u);
            break;
        case OP_U32:
            hm_put_u32(&w, (uint32_t)v->u);
            break;
        case OP_U64:
            hm_put_u64(&w, v->u);
            break;
        case OP_VARINT:
            hm_put_varint(&w, v->u);
            break;
        case OP_BOOL:
            hm_put_bool(&w, v->u != 0);
            break;
        case OP_RAW:
            hm_put_raw(&w, v->ptr, v->len);
            break;
        case OP_BYTES:
            hm_put_bytes(&w, v->ptr, v->len, len_max[v->param]);
            break;
        case OP_STR:
            hm_put_str(&w, v->text, len_max[v->param]);
            break;
        default: /* composites were checked on their own above */
            hm_put_raw(&w, v->ptr, v->len);
            break;
        }
    }
    check(hm_writer_error(&w) == HM_OK);
    check(w.len == r.pos && memcmp(buf, in, r.pos) == 0);
    free(buf);
    return 0;
}
