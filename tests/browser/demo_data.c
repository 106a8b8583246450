/* tests/browser/demo_data.c — writes the signed transactions that put the
 * consumer-page demo on a fresh chain: a brand with a GS1 prefix and a
 * product, a batch of items (some with claim codes), supply-chain events,
 * a recall and a claim. The browser test and the consumer benchmark submit
 * them to a node in order (one block each).
 *
 *   demo_data --keys DIR --chain-id ID --out DIR [--now-ms T] [--bulk N]
 *
 * DIR holds admin.key and brand.key (as `hallmark genesis init` writes
 * them). Files are OUT/NN.tx, in submission order; stdout lists "NN.tx
 * <tx id>" per line. --bulk N adds N more items (serials B0000000...) in
 * batches of 100,000 records (for the benchmark). --now-ms dates the events
 * (a few seconds after T, so that they follow the registration's block).
 *
 * Layer: a test tool over lib/ and contracts/ (built by tests/browser/run.sh
 * and the benchmark against the build's archives). Writes only under OUT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "ct_gs1.h"

#define DEMO_GTIN "09520123456788"
#define DEMO_PREFIX "952012"
#define DEMO_CODE "SCRATCH-7Q4M"

static const char *chain_id;
static const char *out_dir;
static int file_no;

static void die(const char *what, hm_err err) {
    fprintf(stderr, "demo_data: %s: %s\n", what, hm_err_name(err));
    exit(1);
}

static void write_tx(hm_writer *w) {
    if (hm_writer_error(w) != HM_OK) {
        die("building a tx", hm_writer_error(w));
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%02d.tx", out_dir, file_no);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(w->buf, 1, w->len, f) != w->len || fclose(f) != 0) {
        fprintf(stderr, "demo_data: cannot write %s\n", path);
        exit(1);
    }
    ct_tx tx;
    hm_err err = ct_tx_decode(w->buf, w->len, &tx);
    if (err != HM_OK) {
        die("decoding our own tx", err);
    }
    char id[65];
    hm_hex_encode(tx.id, HM_HASH_LEN, id);
    printf("%02d.tx %s\n", file_no, id);
    file_no++;
    hm_writer_free(w);
}

static void body_tx(uint32_t type, const hm_keypair *kp, uint64_t nonce, hm_writer *body) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    hm_err err =
        ct_tx_build(&w, type, kp, chain_id, nonce, body->buf, body->len, false, NULL, NULL, 0);
    if (err != HM_OK) {
        die("ct_tx_build", err);
    }
    hm_writer_free(body);
    write_tx(&w);
}

static void batch_tx(uint32_t type, const hm_keypair *kp, uint64_t nonce, uint8_t **recs,
                     size_t *lens, uint32_t count) {
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    hm_err err = ct_tx_build(&w, type, kp, chain_id, nonce, NULL, 0, true,
                             (const uint8_t *const *)recs, lens, count);
    if (err != HM_OK) {
        die("ct_tx_build (batch)", err);
    }
    write_tx(&w);
}

static void item_record(const char *serial, const char *lot, bool with_code,
                        const uint8_t product_hash[HM_HASH_LEN], uint8_t **rec, size_t *len) {
    ct_item_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.gtin, sizeof r.gtin, "%s", DEMO_GTIN);
    snprintf(r.serial, sizeof r.serial, "%s", serial);
    snprintf(r.lot, sizeof r.lot, "%s", lot);
    memcpy(r.product_hash, product_hash, HM_HASH_LEN);
    r.has_code = with_code;
    if (with_code) {
        hm_sha256((const uint8_t *)DEMO_CODE, strlen(DEMO_CODE), r.code_hash);
    }
    hm_writer w;
    hm_writer_init_growable(&w, CT_RECORD_MAX);
    hm_err err = ct_item_record_encode(&r, &w);
    if (err != HM_OK) {
        die("item record", err);
    }
    *rec = hm_writer_take(&w, len);
}

/* One event on each of the serials; prev[] carries each item's last event. */
static void events_tx(const hm_keypair *brand, uint64_t nonce, const char *step, uint64_t time_ms,
                      const char *const *serials, size_t n, uint8_t (*prev)[HM_HASH_LEN]) {
    uint8_t *recs[8];
    size_t lens[8];
    ct_event_record *ev = calloc(1, sizeof *ev);
    if (ev == NULL || n > 8) {
        die("events", HM_ERR_NOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        memset(ev, 0, sizeof *ev);
        ev->type = CT_EPCIS_OBJECT;
        ev->action = strstr(step, "commissioning") != NULL ? CT_ACTION_ADD : CT_ACTION_OBSERVE;
        ev->event_time_ms = time_ms;
        snprintf(ev->tz_offset, sizeof ev->tz_offset, "+08:00");
        snprintf(ev->biz_step, sizeof ev->biz_step, "https://ref.gs1.org/cbv/BizStep-%s", step);
        snprintf(ev->biz_location, sizeof ev->biz_location, "https://id.gs1.org/414/9520123456788");
        ev->epc_count = 1;
        hm_err err = ct_item_epc(DEMO_GTIN, serials[i], ev->epcs[0].epc, sizeof ev->epcs[0].epc);
        if (err != HM_OK) {
            die("epc", err);
        }
        memcpy(ev->epcs[0].prev_hash, prev[i], HM_HASH_LEN);
        /* The demo's event id: a hash of what makes it unique. */
        char id_text[512];
        snprintf(id_text, sizeof id_text, "%s|%s|%llu", ev->epcs[0].epc, step,
                 (unsigned long long)time_ms);
        hm_sha256((const uint8_t *)id_text, strlen(id_text), ev->event_hash);
        memcpy(prev[i], ev->event_hash, HM_HASH_LEN);
        hm_writer w;
        hm_writer_init_growable(&w, CT_RECORD_MAX);
        err = ct_event_record_encode(ev, &w);
        if (err != HM_OK) {
            die("event record", err);
        }
        recs[i] = hm_writer_take(&w, &lens[i]);
    }
    batch_tx(CT_TX_EVENT_RECORD, brand, nonce, recs, lens, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        free(recs[i]);
    }
    free(ev);
}

int main(int argc, char **argv) {
    const char *keys = NULL;
    unsigned long bulk = 0;
    uint64_t now_ms = 1764300000000ull;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--keys") == 0) {
            keys = argv[i + 1];
        } else if (strcmp(argv[i], "--chain-id") == 0) {
            chain_id = argv[i + 1];
        } else if (strcmp(argv[i], "--out") == 0) {
            out_dir = argv[i + 1];
        } else if (strcmp(argv[i], "--now-ms") == 0) {
            now_ms = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--bulk") == 0) {
            bulk = strtoul(argv[i + 1], NULL, 10);
        }
    }
    if (keys == NULL || chain_id == NULL || out_dir == NULL || bulk > 10000000) {
        fprintf(stderr, "usage: demo_data --keys DIR --chain-id ID --out DIR [--bulk N]\n");
        return 2;
    }
    char path[1024];
    hm_keypair admin, brand;
    snprintf(path, sizeof path, "%s/admin.key", keys);
    hm_err err = hm_keyfile_read(path, &admin);
    if (err != HM_OK) {
        die(path, err);
    }
    snprintf(path, sizeof path, "%s/brand.key", keys);
    err = hm_keyfile_read(path, &brand);
    if (err != HM_OK) {
        die(path, err);
    }
    uint64_t admin_nonce = 1, brand_nonce = 1;

    hm_writer body;
    ct_member_add_body add;
    memset(&add, 0, sizeof add);
    add.key = brand.pub;
    add.roles = CT_ROLE_BRAND;
    snprintf(add.name, sizeof add.name, "Hangzhou Silk Works");
    hm_writer_init_growable(&body, CT_TX_BODY_MAX);
    if ((err = ct_member_add_encode(&add, &body)) != HM_OK) {
        die("member add", err);
    }
    body_tx(CT_TX_MEMBER_ADD, &admin, admin_nonce++, &body);

    ct_prefix_assign_body pa;
    memset(&pa, 0, sizeof pa);
    snprintf(pa.prefix, sizeof pa.prefix, "%s", DEMO_PREFIX);
    memcpy(pa.brand.bytes, brand.pub.bytes, HM_PUBKEY_LEN);
    hm_writer_init_growable(&body, CT_TX_BODY_MAX);
    if ((err = ct_prefix_assign_encode(&pa, &body)) != HM_OK) {
        die("prefix", err);
    }
    body_tx(CT_TX_PREFIX_ASSIGN, &admin, admin_nonce++, &body);

    ct_product_body *prod = calloc(1, sizeof *prod);
    if (prod == NULL) {
        die("product", HM_ERR_NOMEM);
    }
    snprintf(prod->gtin, sizeof prod->gtin, "%s", DEMO_GTIN);
    snprintf(prod->name, sizeof prod->name, "Mulberry silk scarf");
    snprintf(prod->description, sizeof prod->description,
             "Hand-rolled edges, 90 x 90 cm, 16 momme mulberry silk.");
    hm_writer_init_growable(&body, CT_TX_BODY_MAX);
    if ((err = ct_product_encode(prod, &body)) != HM_OK) {
        die("product", err);
    }
    uint8_t product_hash[HM_HASH_LEN];
    hm_sha256(body.buf, body.len, product_hash);
    free(prod);
    body_tx(CT_TX_PRODUCT_SET, &brand, brand_nonce++, &body);

    /* GEN1 genuine, REC1 recalled (lot L2), CLM1 claimed, GEN2 claimed by
     * the browser test through the page's form. */
    static const char *const serials[] = {"GEN1", "REC1", "CLM1", "GEN2"};
    static const char *const lots[] = {"L1", "L2", "L1", "L1"};
    uint8_t *recs[4];
    size_t lens[4];
    for (int i = 0; i < 4; i++) {
        item_record(serials[i], lots[i], i != 1, product_hash, &recs[i], &lens[i]);
    }
    batch_tx(CT_TX_ITEM_REGISTER, &brand, brand_nonce++, recs, lens, 4);
    for (int i = 0; i < 4; i++) {
        free(recs[i]);
    }

    uint8_t prev[4][HM_HASH_LEN];
    memset(prev, 0, sizeof prev);
    events_tx(&brand, brand_nonce++, "commissioning", now_ms + 1000, serials, 4, prev);
    events_tx(&brand, brand_nonce++, "packing", now_ms + 2000, serials, 4, prev);
    events_tx(&brand, brand_nonce++, "shipping", now_ms + 3000, serials, 4, prev);

    ct_recall_body *rb = calloc(1, sizeof *rb);
    if (rb == NULL) {
        die("recall", HM_ERR_NOMEM);
    }
    rb->mode = CT_RECALL_LOT;
    snprintf(rb->gtin, sizeof rb->gtin, "%s", DEMO_GTIN);
    snprintf(rb->lot, sizeof rb->lot, "L2");
    snprintf(rb->reason, sizeof rb->reason, "Colour may run when wet (lot L2).");
    hm_writer_init_growable(&body, CT_TX_BODY_MAX);
    if ((err = ct_recall_encode(rb, &body)) != HM_OK) {
        die("recall", err);
    }
    free(rb);
    body_tx(CT_TX_RECALL, &brand, brand_nonce++, &body);

    ct_claim_body cb;
    memset(&cb, 0, sizeof cb);
    snprintf(cb.item.gtin, sizeof cb.item.gtin, "%s", DEMO_GTIN);
    snprintf(cb.item.serial, sizeof cb.item.serial, "CLM1");
    memcpy(cb.code, DEMO_CODE, strlen(DEMO_CODE));
    cb.code_len = strlen(DEMO_CODE);
    hm_writer_init_growable(&body, CT_TX_BODY_MAX);
    if ((err = ct_claim_encode(&cb, &body)) != HM_OK) {
        die("claim", err);
    }
    body_tx(CT_TX_CLAIM, NULL, 0, &body);

    /* Bulk items for the benchmark: batches of up to 100,000. */
    const uint32_t batch_max = CT_BATCH_RECORDS_MAX;
    uint8_t **brecs = bulk ? calloc(batch_max, sizeof *brecs) : NULL;
    size_t *blens = bulk ? calloc(batch_max, sizeof *blens) : NULL;
    if (bulk && (brecs == NULL || blens == NULL)) {
        die("bulk", HM_ERR_NOMEM);
    }
    for (unsigned long done = 0; done < bulk;) {
        uint32_t n = (uint32_t)(bulk - done < batch_max ? bulk - done : batch_max);
        for (uint32_t i = 0; i < n; i++) {
            char serial[32];
            snprintf(serial, sizeof serial, "B%07lu", done + i);
            item_record(serial, "L9", false, product_hash, &brecs[i], &blens[i]);
        }
        batch_tx(CT_TX_ITEM_REGISTER, &brand, brand_nonce++, brecs, blens, n);
        for (uint32_t i = 0; i < n; i++) {
            free(brecs[i]);
        }
        done += n;
    }
    free(brecs);
    free(blens);
    hm_keypair_wipe(&admin);
    hm_keypair_wipe(&brand);
    return 0;
}
