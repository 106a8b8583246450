/* tests/unit/test_ct_settle_return.c — a return recorded as an EPCIS event
 * settles: a brand registers an item, a platform sells it under a split
 * contract (linking GTIN + serial), and an event with disposition "returned"
 * on that item refunds what is left of the sale, so every recipient nets to
 * zero; an event with another disposition refunds nothing. Runs the
 * provenance and settlement contracts together through the executor. */
#include "test_ct_prov_env.h"

#define GTIN "10614141073464" /* carries prefix 0614141 */

static void product_and_item(env *e, const hm_keypair *brand, const char *serial) {
    uint8_t product_hash[HM_HASH_LEN];
    EXPECT_OK(env_product_set(e, brand, GTIN, "Bag", product_hash));
    ct_item_record r;
    memset(&r, 0, sizeof r);
    strcpy(r.gtin, GTIN);
    strcpy(r.serial, serial);
    strcpy(r.lot, "L1");
    strcpy(r.expiry, "271231");
    memcpy(r.product_hash, product_hash, HM_HASH_LEN);
    hm_writer rw;
    hm_writer_init_growable(&rw, CT_RECORD_MAX);
    assert_int_equal(ct_item_record_encode(&r, &rw), HM_OK);
    size_t len;
    uint8_t *rec = hm_writer_take(&rw, &len);
    const uint8_t *recs[1] = {rec};
    EXPECT_OK(env_exec(e, CT_TX_ITEM_REGISTER, brand, NULL, 0, recs, &len, 1));
    free(rec);
}

static ct_result record_event(env *e, const hm_keypair *brand, const char *seed, const char *serial,
                              const char *disposition, const uint8_t prev[HM_HASH_LEN],
                              uint8_t hash_out[HM_HASH_LEN]) {
    ct_event_record *ev = calloc(1, sizeof *ev);
    hm_sha256((const uint8_t *)seed, strlen(seed), ev->event_hash);
    ev->type = CT_EPCIS_OBJECT;
    ev->action = CT_ACTION_OBSERVE;
    ev->event_time_ms = e->time_ms;
    strcpy(ev->tz_offset, "+01:00");
    strcpy(ev->biz_step, "https://ref.gs1.org/cbv/BizStep-receiving");
    snprintf(ev->disposition, sizeof ev->disposition, "%s", disposition);
    ct_event_epc *p = &ev->epcs[ev->epc_count++];
    assert_int_equal(ct_item_epc(GTIN, serial, p->epc, sizeof p->epc), HM_OK);
    if (prev != NULL)
        memcpy(p->prev_hash, prev, HM_HASH_LEN);
    hm_writer w;
    hm_writer_init_growable(&w, CT_RECORD_MAX);
    assert_int_equal(ct_event_record_encode(ev, &w), HM_OK);
    memcpy(hash_out, ev->event_hash, HM_HASH_LEN);
    free(ev);
    size_t len;
    uint8_t *rec = hm_writer_take(&w, &len);
    const uint8_t *recs[1] = {rec};
    ct_result res = env_exec(e, CT_TX_EVENT_RECORD, brand, NULL, 0, recs, &len, 1);
    free(rec);
    return res;
}

static void test_returned_event_refunds_the_sale(void **state) {
    (void)state;
    env *e = env_new();
    hm_keypair brand, platform, streamer;
    env_key(&brand, 2);
    env_key(&platform, 3);
    env_key(&streamer, 4);
    ct_member_id brand_id;
    env_id(&brand, &brand_id);
    EXPECT_OK(env_member_add(e, &e->admin, &brand.pub, CT_ROLE_BRAND, "Acme"));
    EXPECT_OK(env_member_add(e, &e->admin, &platform.pub, CT_ROLE_PLATFORM, "Live"));
    EXPECT_OK(env_prefix_assign(e, &e->admin, "0614141", &brand_id));
    product_and_item(e, &brand, "R1");

    const hm_keypair *to[] = {&streamer, &platform};
    const uint32_t bps[] = {8000, 2000};
    EXPECT_OK(env_split_create(e, &platform, "split", to, bps, 2));
    EXPECT_OK(env_item_sale(e, &platform, "split", "order-r1", 5003, GTIN, "R1"));
    /* a partial refund first: the return refunds what is left */
    ct_refund_body r = {.amount = 3};
    strcpy(r.order_id, "order-r1");
    strcpy(r.currency, "CNY");
    uint8_t buf[256];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    assert_int_equal(ct_refund_encode(&r, &w), HM_OK);
    EXPECT_OK(env_exec(e, CT_TX_REFUND, &platform, buf, w.len, NULL, NULL, 0));
    assert_int_equal(env_pending_cny(e, &streamer), 4000);

    /* any other disposition refunds nothing */
    uint8_t h1[HM_HASH_LEN], h2[HM_HASH_LEN];
    EXPECT_OK(
        record_event(e, &brand, "e1", "R1", "https://ref.gs1.org/cbv/Disp-in_progress", NULL, h1));
    assert_int_equal(env_pending_cny(e, &streamer), 4000);
    EXPECT_OK(record_event(e, &brand, "e2", "R1", "https://ref.gs1.org/cbv/Disp-returned", h1, h2));
    assert_int_equal(env_pending_cny(e, &streamer), 0);
    assert_int_equal(env_pending_cny(e, &platform), 0);
    ct_sale *sale = malloc(sizeof *sale);
    assert_int_equal(ct_query_sale(&e->store, &platform.pub, "order-r1", sale), HM_OK);
    assert_int_equal(sale->refunded, 5003);
    free(sale);
    assert_true(ct_settle_disposition_is_returned("urn:epcglobal:cbv:disp:returned"));
    assert_false(ct_settle_disposition_is_returned("returned-ish"));
    env_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_returned_event_refunds_the_sale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
