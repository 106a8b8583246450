/* contracts/members.c — consortium members: who may sign, with which roles.
 *
 * Layer: contracts/ (pure). Genesis names the admins (ct_block_ctx); admins
 * add members with roles, revoke them and rotate their keys; a member may
 * rotate its own key. A member's identity is the key it was first added with
 * (ct_member_id), so what it owns survives a rotation. Never: I/O, clocks,
 * randomness; every body is validated before anything is written.
 *
 * State (docs/provenance.md, "Key schema"):
 *   "m/k/" key(32) -> u8 state (0 active, 1 revoked, 2 rotated away) | id(32)
 *   "m/i/" id(32)  -> key(32) | varint roles | str name | varint since_height
 * Keys are never reused: once seen in "m/k/", a key cannot be added again. */
#include "ct_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { KEY_ACTIVE = 0, KEY_REVOKED = 1, KEY_ROTATED = 2 };

#define MEMBER_ROLES_ALL                                                                           \
    (CT_ROLE_BRAND | CT_ROLE_LOGISTICS | CT_ROLE_RETAILER | CT_ROLE_PLATFORM | CT_ROLE_MCN |       \
     CT_ROLE_AUDITOR)

static void key_index_key(const uint8_t pub[HM_PUBKEY_LEN], uint8_t out[4 + HM_PUBKEY_LEN]) {
    memcpy(out, "m/k/", 4);
    memcpy(out + 4, pub, HM_PUBKEY_LEN);
}

static void member_key(const ct_member_id *id, uint8_t out[4 + HM_PUBKEY_LEN]) {
    memcpy(out, "m/i/", 4);
    memcpy(out + 4, id->bytes, HM_PUBKEY_LEN);
}

/* The head shared by a member record and a member-add body: key, roles,
 * name. */
static void put_member_head(hm_writer *w, const hm_pubkey *key, uint32_t roles, const char *name) {
    hm_put_raw(w, key->bytes, HM_PUBKEY_LEN);
    hm_put_varint(w, roles);
    hm_put_str(w, name, CT_MEMBER_NAME_MAX);
}

static void get_member_head(hm_reader *r, hm_pubkey *key, uint32_t *roles,
                            char name[CT_MEMBER_NAME_MAX + 1]) {
    hm_get_raw(r, key->bytes, HM_PUBKEY_LEN);
    *roles = (uint32_t)hm_get_varint(r, UINT32_MAX);
    hm_get_str(r, name, CT_MEMBER_NAME_MAX + 1, CT_MEMBER_NAME_MAX);
}

static bool is_genesis_admin(const ct_block_ctx *ctx, const hm_pubkey *key) {
    for (uint32_t i = 0; i < ctx->admin_count; i++)
        if (memcmp(ctx->admins[i].bytes, key->bytes, HM_PUBKEY_LEN) == 0)
            return true;
    return false;
}

/* The "m/k/" entry of key: state and id; HM_ERR_NOT_FOUND when none. A
 * damaged value is an operating error (HM_ERR_IO), never a refusal. */
static hm_err read_key_index(const ct_src *from, const hm_pubkey *key, uint8_t *state,
                             ct_member_id *id) {
    uint8_t k[4 + HM_PUBKEY_LEN];
    key_index_key(key->bytes, k);
    uint8_t *val = NULL;
    size_t val_len = 0;
    hm_err err = ct_src_get(from, k, sizeof k, &val, &val_len);
    if (err != HM_OK)
        return err;
    hm_reader r;
    hm_reader_init(&r, val, val_len);
    *state = hm_get_u8(&r);
    hm_get_raw(&r, id->bytes, HM_PUBKEY_LEN);
    err = hm_reader_finish(&r);
    free(val);
    if (err != HM_OK || *state > KEY_ROTATED)
        return HM_ERR_IO;
    return HM_OK;
}

static hm_err read_member(const ct_src *from, const ct_member_id *id, ct_member *out) {
    uint8_t k[4 + HM_PUBKEY_LEN];
    member_key(id, k);
    uint8_t *val = NULL;
    size_t val_len = 0;
    hm_err err = ct_src_get(from, k, sizeof k, &val, &val_len);
    if (err != HM_OK)
        return err;
    ct_member m;
    memset(&m, 0, sizeof m);
    hm_reader r;
    hm_reader_init(&r, val, val_len);
    get_member_head(&r, &m.key, &m.roles, m.name);
    m.since_height = hm_get_varint(&r, UINT64_MAX);
    err = hm_reader_finish(&r);
    free(val);
    if (err != HM_OK)
        return HM_ERR_IO;
    *out = m;
    return HM_OK;
}

static hm_err write_key_index(ct_exec *x, const hm_pubkey *key, uint8_t state,
                              const ct_member_id *id) {
    uint8_t k[4 + HM_PUBKEY_LEN];
    key_index_key(key->bytes, k);
    uint8_t v[1 + HM_PUBKEY_LEN];
    v[0] = state;
    memcpy(v + 1, id->bytes, HM_PUBKEY_LEN);
    return ct_state_put(x, k, sizeof k, v, sizeof v);
}

static hm_err write_member(ct_exec *x, const ct_member_id *id, const ct_member *m) {
    uint8_t k[4 + HM_PUBKEY_LEN];
    member_key(id, k);
    uint8_t buf[HM_PUBKEY_LEN + 10 + 2 + CT_MEMBER_NAME_MAX + 10];
    hm_writer w;
    hm_writer_init(&w, buf, sizeof buf);
    put_member_head(&w, &m->key, m->roles, m->name);
    hm_put_varint(&w, m->since_height);
    hm_err err = hm_writer_error(&w);
    assert(err == HM_OK); /* sized for the maximum */
    if (err != HM_OK)
        return err;
    return ct_state_put(x, k, sizeof k, buf, w.len);
}

/* Resolves key through state, then genesis. ctx NULL for committed-store
 * queries (genesis admins are then known only once written in state). */
static hm_err resolve(const ct_src *from, const ct_block_ctx *ctx, const hm_pubkey *key,
                      ct_member *out, ct_member_id *id_out) {
    uint8_t state = 0;
    ct_member_id id;
    hm_err err = read_key_index(from, key, &state, &id);
    if (err == HM_ERR_NOT_FOUND) {
        if (ctx != NULL && is_genesis_admin(ctx, key)) {
            memset(out, 0, sizeof *out);
            out->key = *key;
            out->roles = CT_ROLE_ADMIN;
            memcpy(id_out->bytes, key->bytes, HM_PUBKEY_LEN);
            return HM_OK;
        }
        return HM_ERR_NOT_FOUND;
    }
    if (err != HM_OK)
        return err;
    if (state != KEY_ACTIVE) {
        memset(out, 0, sizeof *out);
        out->key = *key;
        out->revoked = true;
        return HM_ERR_NOT_FOUND;
    }
    err = read_member(from, &id, out);
    if (err == HM_ERR_NOT_FOUND)
        return HM_ERR_IO; /* an active key index without its member: damage */
    if (err != HM_OK)
        return err;
    *id_out = id;
    return HM_OK;
}

hm_err ct_member_lookup(ct_exec *x, const hm_pubkey *key, ct_member *out) {
    if (x == NULL || key == NULL || out == NULL)
        return HM_ERR_ARG;
    ct_member_id id;
    ct_src from = {.x = x, .s = NULL};
    return resolve(&from, ct_exec_ctx(x), key, out, &id);
}

hm_err ct_member_id_lookup(ct_exec *x, const hm_pubkey *key, ct_member *member, ct_member_id *id) {
    if (x == NULL || key == NULL || member == NULL || id == NULL)
        return HM_ERR_ARG;
    ct_src from = {.x = x, .s = NULL};
    return resolve(&from, ct_exec_ctx(x), key, member, id);
}

hm_err ct_query_member(const ct_store *s, const hm_pubkey *key, ct_member *out) {
    if (s == NULL || key == NULL || out == NULL)
        return HM_ERR_ARG;
    ct_member_id id;
    ct_src from = {.x = NULL, .s = s};
    return resolve(&from, NULL, key, out, &id);
}

hm_err ct_query_member_id(const ct_store *s, const ct_member_id *id, ct_member *member) {
    if (s == NULL || id == NULL || member == NULL)
        return HM_ERR_ARG;
    ct_src from = {.x = NULL, .s = s};
    hm_err err = read_member(&from, id, member);
    if (err != HM_OK)
        return err;
    uint8_t state = 0;
    ct_member_id back;
    err = read_key_index(&from, &member->key, &state, &back);
    if (err == HM_ERR_NOT_FOUND)
        return HM_ERR_IO;
    if (err != HM_OK)
        return err;
    member->revoked = state != KEY_ACTIVE;
    return HM_OK;
}

static const struct {
    uint32_t role;
    const char *name;
} ROLE_NAMES[] = {
    {CT_ROLE_ADMIN, "admin"},         {CT_ROLE_BRAND, "brand"},
    {CT_ROLE_LOGISTICS, "logistics"}, {CT_ROLE_RETAILER, "retailer"},
    {CT_ROLE_PLATFORM, "platform"},   {CT_ROLE_MCN, "mcn"},
    {CT_ROLE_AUDITOR, "auditor"},
};

bool ct_role_parse(const char *name, uint32_t *role) {
    if (name == NULL || role == NULL)
        return false;
    for (size_t i = 0; i < sizeof ROLE_NAMES / sizeof ROLE_NAMES[0]; i++) {
        if (strcmp(name, ROLE_NAMES[i].name) == 0) {
            *role = ROLE_NAMES[i].role;
            return true;
        }
    }
    return false;
}

const char *ct_role_name(uint32_t role) {
    for (size_t i = 0; i < sizeof ROLE_NAMES / sizeof ROLE_NAMES[0]; i++)
        if (ROLE_NAMES[i].role == role)
            return ROLE_NAMES[i].name;
    return NULL;
}

/* ------------------------------------------------------------- bodies */

hm_err ct_member_add_encode(const ct_member_add_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    put_member_head(w, &b->key, b->roles, b->name);
    return hm_writer_error(w);
}

hm_err ct_member_add_decode(const uint8_t *data, size_t len, ct_member_add_body *b) {
    if (data == NULL || b == NULL)
        return HM_ERR_ARG;
    ct_member_add_body out;
    memset(&out, 0, sizeof out);
    hm_reader r;
    hm_reader_init(&r, data, len);
    get_member_head(&r, &out.key, &out.roles, out.name);
    hm_err err = hm_reader_finish(&r);
    if (err != HM_OK)
        return err;
    if (out.name[0] == '\0')
        return HM_ERR_BAD_VALUE;
    *b = out;
    return HM_OK;
}

hm_err ct_member_revoke_encode(const ct_member_revoke_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_raw(w, b->key.bytes, HM_PUBKEY_LEN);
    return hm_writer_error(w);
}

hm_err ct_member_revoke_decode(const uint8_t *data, size_t len, ct_member_revoke_body *b) {
    if (data == NULL || b == NULL)
        return HM_ERR_ARG;
    ct_member_revoke_body out;
    hm_reader r;
    hm_reader_init(&r, data, len);
    hm_get_raw(&r, out.key.bytes, HM_PUBKEY_LEN);
    return ct_reader_finish_into(&r, b, &out, sizeof out);
}

hm_err ct_member_rotate_encode(const ct_member_rotate_body *b, hm_writer *w) {
    if (b == NULL || w == NULL)
        return HM_ERR_ARG;
    hm_put_raw(w, b->old_key.bytes, HM_PUBKEY_LEN);
    hm_put_raw(w, b->new_key.bytes, HM_PUBKEY_LEN);
    return hm_writer_error(w);
}

hm_err ct_member_rotate_decode(const uint8_t *data, size_t len, ct_member_rotate_body *b) {
    if (data == NULL || b == NULL)
        return HM_ERR_ARG;
    ct_member_rotate_body out;
    hm_reader r;
    hm_reader_init(&r, data, len);
    hm_get_raw(&r, out.old_key.bytes, HM_PUBKEY_LEN);
    hm_get_raw(&r, out.new_key.bytes, HM_PUBKEY_LEN);
    return ct_reader_finish_into(&r, b, &out, sizeof out);
}

/* ------------------------------------------------------------- apply */

/* A key is fresh when no member ever had it and it is not a genesis admin. */
static hm_err key_is_fresh(ct_exec *x, const hm_pubkey *key, bool *fresh) {
    uint8_t state = 0;
    ct_member_id id;
    ct_src from = {.x = x, .s = NULL};
    hm_err err = read_key_index(&from, key, &state, &id);
    if (err == HM_OK) {
        *fresh = false;
        return HM_OK;
    }
    if (err != HM_ERR_NOT_FOUND)
        return err;
    *fresh = !is_genesis_admin(ct_exec_ctx(x), key);
    return HM_OK;
}

static hm_err apply_add(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    ct_member_add_body b;
    hm_err err = ct_member_add_decode(tx->body, tx->body_len, &b);
    if (err != HM_OK)
        return ct_refuse(res, err, CT_RULE_BODY, 0, "member add body: %s", hm_err_message(err));
    if ((signer->roles & CT_ROLE_ADMIN) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_ADMIN, 0, "only an admin adds members");
    if (b.roles == 0 || (b.roles & ~(uint32_t)MEMBER_ROLES_ALL) != 0)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_RULE_BAD_ROLES, 0,
                         "roles must be a non-empty set of brand, logistics, retailer, platform, "
                         "mcn, auditor");
    if (hm_pubkey_check(&b.key) != HM_OK)
        return ct_refuse(res, HM_ERR_BAD_KEY, CT_RULE_BAD_KEY, 0, "member key is not valid");
    bool fresh = false;
    err = key_is_fresh(x, &b.key, &fresh);
    if (err != HM_OK)
        return err;
    if (!fresh)
        return ct_refuse(res, HM_ERR_CONFLICT, CT_RULE_MEMBER_EXISTS, 0,
                         "key already belongs or belonged to a member");
    ct_member_id id;
    memcpy(id.bytes, b.key.bytes, HM_PUBKEY_LEN);
    ct_member m;
    memset(&m, 0, sizeof m);
    m.key = b.key;
    m.roles = b.roles;
    memcpy(m.name, b.name, sizeof m.name);
    m.since_height = ct_exec_ctx(x)->height;
    err = write_member(x, &id, &m);
    if (err != HM_OK)
        return err;
    return write_key_index(x, &b.key, KEY_ACTIVE, &id);
}

static hm_err apply_revoke(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    ct_member_revoke_body b;
    hm_err err = ct_member_revoke_decode(tx->body, tx->body_len, &b);
    if (err != HM_OK)
        return ct_refuse(res, err, CT_RULE_BODY, 0, "member revoke body: %s", hm_err_message(err));
    if ((signer->roles & CT_ROLE_ADMIN) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_ADMIN, 0, "only an admin revokes members");
    if (memcmp(b.key.bytes, signer->key.bytes, HM_PUBKEY_LEN) == 0)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_SELF_REVOKE, 0,
                         "an admin cannot revoke its own key");
    ct_member target;
    ct_member_id id;
    err = ct_member_id_lookup(x, &b.key, &target, &id);
    if (err == HM_ERR_NOT_FOUND)
        return ct_refuse(res, HM_ERR_NOT_FOUND, CT_RULE_NO_MEMBER, 0,
                         "no active member has this key");
    if (err != HM_OK)
        return err;
    return write_key_index(x, &b.key, KEY_REVOKED, &id);
}

static hm_err apply_rotate(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    ct_member_rotate_body b;
    hm_err err = ct_member_rotate_decode(tx->body, tx->body_len, &b);
    if (err != HM_OK)
        return ct_refuse(res, err, CT_RULE_BODY, 0, "member rotate body: %s", hm_err_message(err));
    bool is_self = memcmp(b.old_key.bytes, signer->key.bytes, HM_PUBKEY_LEN) == 0;
    if ((signer->roles & CT_ROLE_ADMIN) == 0 && !is_self)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_NOT_SELF_OR_ADMIN, 0,
                         "a key is rotated by its member or by an admin");
    if (is_genesis_admin(ct_exec_ctx(x), &b.old_key))
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_ROTATE_GENESIS, 0,
                         "genesis admin keys change only with genesis");
    ct_member target;
    ct_member_id id;
    err = ct_member_id_lookup(x, &b.old_key, &target, &id);
    if (err == HM_ERR_NOT_FOUND)
        return ct_refuse(res, HM_ERR_NOT_FOUND, CT_RULE_NO_MEMBER, 0,
                         "no active member has the old key");
    if (err != HM_OK)
        return err;
    if (hm_pubkey_check(&b.new_key) != HM_OK)
        return ct_refuse(res, HM_ERR_BAD_KEY, CT_RULE_BAD_KEY, 0, "new key is not valid");
    bool fresh = false;
    err = key_is_fresh(x, &b.new_key, &fresh);
    if (err != HM_OK)
        return err;
    if (!fresh)
        return ct_refuse(res, HM_ERR_CONFLICT, CT_RULE_MEMBER_EXISTS, 0,
                         "new key already belongs or belonged to a member");
    target.key = b.new_key;
    target.revoked = false;
    err = write_member(x, &id, &target);
    if (err != HM_OK)
        return err;
    err = write_key_index(x, &b.old_key, KEY_ROTATED, &id);
    if (err != HM_OK)
        return err;
    return write_key_index(x, &b.new_key, KEY_ACTIVE, &id);
}

hm_err ct_members_apply(ct_exec *x, const ct_tx *tx, const ct_member *signer, ct_result *res) {
    assert(x != NULL && tx != NULL && res != NULL);
    if (signer == NULL)
        return ct_refuse(res, HM_ERR_DENIED, CT_RULE_SIGNER, 0, "member txs need a signer");
    if (tx->has_records)
        return ct_refuse(res, HM_ERR_BAD_VALUE, CT_RULE_RECORDS, 0, "member txs carry no records");
    switch (tx->type) {
    case CT_TX_MEMBER_ADD:
        return apply_add(x, tx, signer, res);
    case CT_TX_MEMBER_REVOKE:
        return apply_revoke(x, tx, signer, res);
    case CT_TX_MEMBER_ROTATE:
        return apply_rotate(x, tx, signer, res);
    default:
        return ct_refuse(res, HM_ERR_UNKNOWN_TYPE, 0, 0, "not a member tx type");
    }
}
