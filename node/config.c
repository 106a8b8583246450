/* node/config.c — the node's config file and the chain's genesis file.
 *
 * Layer: node/. Both are JSON (jansson). Every value read from them is
 * checked for type and range and every error names the offending key; an
 * unknown key is an error (a typo must not silently fall back to a default).
 * Must never leave a half-parsed result in the caller's struct on error
 * paths that the caller may still use: callers treat any error as fatal. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/util.h>
#include <jansson.h>

#include "nd_int.h"

static hm_err fail(char *err, size_t err_cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static hm_err fail(char *err, size_t err_cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
    return HM_ERR_BAD_VALUE;
}

uint64_t nd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

hm_err nd_split_hostport(const char *text, char *host, size_t host_cap, uint16_t *port) {
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return HM_ERR_BAD_VALUE;
    size_t hlen = (size_t)(colon - text);
    if (hlen >= host_cap)
        return HM_ERR_TOO_LONG;
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || !end || *end || colon[1] == '\0' || p == 0 || p > 65535)
        return HM_ERR_BAD_VALUE;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return HM_OK;
}

/* ------------------------------------------------------------- config */

void nd_config_defaults(nd_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "node");
    snprintf(c->data_dir, sizeof c->data_dir, "data");
    snprintf(c->genesis_path, sizeof c->genesis_path, "genesis.json");
    snprintf(c->tls_cert_path, sizeof c->tls_cert_path, "tls.crt");
    snprintf(c->tls_key_path, sizeof c->tls_key_path, "tls.key");
    c->mempool_txs_max = 100000;
    c->mempool_bytes_max = 256u * 1024 * 1024;
    c->peer_queue_bytes_max = 128u * 1024 * 1024;
    c->http_body_max = 16u * 1024 * 1024;
    c->http_headers_max = 16u * 1024;
    c->http_idle_timeout_s = 30;
    c->http_connections_max = 1024;
    c->reconnect_min_ms = 100;
    c->reconnect_max_ms = 5000;
    c->log_level = HM_LOG_INFO;
}

static hm_err get_path(json_t *v, const char *key, const char *base_dir, char *out, size_t cap,
                       char *err, size_t err_cap) {
    if (!json_is_string(v))
        return fail(err, err_cap, "config: %s must be a string", key);
    const char *s = json_string_value(v);
    int n;
    if (s[0] == '/' || s[0] == '\0' || !base_dir || !base_dir[0])
        n = snprintf(out, cap, "%s", s);
    else
        n = snprintf(out, cap, "%s/%s", base_dir, s);
    if (n < 0 || (size_t)n >= cap)
        return fail(err, err_cap, "config: %s is too long", key);
    return HM_OK;
}

static hm_err get_text(json_t *v, const char *key, char *out, size_t cap, char *err,
                       size_t err_cap) {
    if (!json_is_string(v))
        return fail(err, err_cap, "%s must be a string", key);
    const char *s = json_string_value(v);
    if (strlen(s) >= cap)
        return fail(err, err_cap, "%s is longer than %zu bytes", key, cap - 1);
    snprintf(out, cap, "%s", s);
    return HM_OK;
}

static hm_err get_uint(json_t *v, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                       char *err, size_t err_cap) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < lo ||
        (uint64_t)json_integer_value(v) > hi)
        return fail(err, err_cap, "%s must be an integer in [%llu, %llu]", key,
                    (unsigned long long)lo, (unsigned long long)hi);
    *out = (uint64_t)json_integer_value(v);
    return HM_OK;
}

#define GET_U32(field, lo, hi)                                                                     \
    do {                                                                                           \
        uint64_t tmp_;                                                                             \
        if ((err_ = get_uint(v, key, lo, hi, &tmp_, err, err_cap)) != HM_OK)                       \
            goto out;                                                                              \
        field = (uint32_t)tmp_;                                                                    \
    } while (0)

static hm_err config_from_json(json_t *root, const char *base_dir, nd_config *c, char *err,
                               size_t err_cap) {
    hm_err err_ = HM_OK;
    if (!json_is_object(root))
        return fail(err, err_cap, "config: not a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "name")) {
            err_ = get_text(v, key, c->name, sizeof c->name, err, err_cap);
        } else if (!strcmp(key, "data_dir")) {
            err_ = get_path(v, key, base_dir, c->data_dir, sizeof c->data_dir, err, err_cap);
        } else if (!strcmp(key, "genesis")) {
            err_ =
                get_path(v, key, base_dir, c->genesis_path, sizeof c->genesis_path, err, err_cap);
        } else if (!strcmp(key, "consensus_key")) {
            err_ = get_path(v, key, base_dir, c->consensus_key_path, sizeof c->consensus_key_path,
                            err, err_cap);
        } else if (!strcmp(key, "tls_cert")) {
            err_ =
                get_path(v, key, base_dir, c->tls_cert_path, sizeof c->tls_cert_path, err, err_cap);
        } else if (!strcmp(key, "tls_key")) {
            err_ =
                get_path(v, key, base_dir, c->tls_key_path, sizeof c->tls_key_path, err, err_cap);
        } else if (!strcmp(key, "peer_listen") || !strcmp(key, "http_listen") ||
                   !strcmp(key, "resolver_listen")) {
            char *dst = key[0] == 'p'   ? c->peer_listen
                        : key[0] == 'h' ? c->http_listen
                                        : c->resolver_listen;
            err_ = get_text(v, key, dst, ND_ADDR_MAX + 1, err, err_cap);
            char host[ND_ADDR_MAX + 1];
            uint16_t port;
            if (err_ == HM_OK && dst[0] &&
                nd_split_hostport(dst, host, sizeof host, &port) != HM_OK)
                err_ = fail(err, err_cap, "%s must be host:port", key);
            /* The lane binds the address as given (nd_lane_start): a host
             * name would pass the split above and only fail at start. */
            struct sockaddr_storage ss;
            int sslen = (int)sizeof ss;
            if (err_ == HM_OK && key[0] == 'r' && dst[0] &&
                evutil_parse_sockaddr_port(dst, (struct sockaddr *)&ss, &sslen) != 0)
                err_ = fail(err, err_cap, "%s must be a numeric IP:port", key);
        } else if (!strcmp(key, "observers")) {
            if (!json_is_array(v) || json_array_size(v) > ND_OBSERVERS_MAX) {
                err_ = fail(err, err_cap, "observers must be an array of at most %d fingerprints",
                            ND_OBSERVERS_MAX);
                goto out;
            }
            size_t i;
            json_t *fp;
            json_array_foreach(v, i, fp) {
                if (!json_is_string(fp) ||
                    hm_hex_decode(json_string_value(fp), c->observer_fingerprints[i],
                                  HM_HASH_LEN) != HM_OK) {
                    err_ = fail(err, err_cap, "observers[%zu] must be 64 hex digits", i);
                    goto out;
                }
            }
            c->observer_count = (uint32_t)json_array_size(v);
        } else if (!strcmp(key, "mempool_txs_max")) {
            GET_U32(c->mempool_txs_max, 1, 10000000);
        } else if (!strcmp(key, "mempool_bytes_max")) {
            uint64_t tmp;
            if ((err_ = get_uint(v, key, 1024, 1ull << 40, &tmp, err, err_cap)) != HM_OK)
                goto out;
            c->mempool_bytes_max = tmp;
        } else if (!strcmp(key, "peer_queue_bytes_max")) {
            GET_U32(c->peer_queue_bytes_max, 1u << 20, 1u << 31);
        } else if (!strcmp(key, "http_body_max")) {
            GET_U32(c->http_body_max, 1024, 1u << 30);
        } else if (!strcmp(key, "http_headers_max")) {
            GET_U32(c->http_headers_max, 1024, 1u << 20);
        } else if (!strcmp(key, "http_idle_timeout_s")) {
            GET_U32(c->http_idle_timeout_s, 1, 3600);
        } else if (!strcmp(key, "http_connections_max")) {
            GET_U32(c->http_connections_max, 1, 100000);
        } else if (!strcmp(key, "reconnect_min_ms")) {
            GET_U32(c->reconnect_min_ms, 10, 60000);
        } else if (!strcmp(key, "reconnect_max_ms")) {
            GET_U32(c->reconnect_max_ms, 10, 600000);
        } else if (!strcmp(key, "log_level")) {
            if (!json_is_string(v) ||
                hm_log_level_parse(json_string_value(v), &c->log_level) != HM_OK)
                err_ = fail(err, err_cap, "log_level must be debug, info, warn or error");
        } else {
            err_ = fail(err, err_cap, "config: unknown key \"%s\"", key);
        }
        if (err_ != HM_OK)
            goto out;
    }
    if (c->reconnect_min_ms > c->reconnect_max_ms)
        err_ = fail(err, err_cap, "reconnect_min_ms must not exceed reconnect_max_ms");
out:
    return err_;
}

hm_err nd_config_parse(const char *json_text, const char *base_dir, nd_config *c, char *err,
                       size_t err_cap) {
    json_error_t jerr;
    json_t *root = json_loads(json_text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(err, err_cap, "config: line %d: %s", jerr.line, jerr.text);
    hm_err e = config_from_json(root, base_dir, c, err, err_cap);
    json_decref(root);
    return e;
}

static void dir_of(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, cap, ".");
        return;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

hm_err nd_config_load(const char *path, nd_config *c, char *err, size_t err_cap) {
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, err_cap, "%s: line %d: %s", path, jerr.line, jerr.text);
        return jerr.line <= 0 ? HM_ERR_IO : HM_ERR_BAD_VALUE;
    }
    char base[ND_PATH_MAX];
    dir_of(path, base, sizeof base);
    hm_err e = config_from_json(root, base, c, err, err_cap);
    json_decref(root);
    return e;
}

/* ------------------------------------------------------------ genesis */

int nd_genesis_find_fingerprint(const nd_genesis *g, const uint8_t fp[HM_HASH_LEN]) {
    for (uint32_t i = 0; i < g->validator_count; i++)
        if (!memcmp(g->validators[i].tls_fingerprint, fp, HM_HASH_LEN))
            return (int)i;
    return -1;
}

static hm_err genesis_from_json(json_t *root, nd_genesis *g, char *err, size_t err_cap) {
    hm_err err_ = HM_OK;
    memset(g, 0, sizeof *g);
    g->timeout_propose_ms = 3000;
    g->timeout_prevote_ms = 1000;
    g->timeout_precommit_ms = 1000;
    g->timeout_delta_ms = 500;
    g->block_interval_ms = 1000;
    g->time_drift_max_ms = 2000;
    g->block_txs_max = 10000;
    g->block_bytes_max = 16u * 1024 * 1024;
    if (!json_is_object(root))
        return fail(err, err_cap, "genesis: not a JSON object");
    const char *key;
    json_t *v;
    bool have_chain = false, have_vals = false;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "chain_id")) {
            if ((err_ = get_text(v, key, g->chain_id, sizeof g->chain_id, err, err_cap)) != HM_OK)
                goto out;
            if (!g->chain_id[0]) {
                err_ = fail(err, err_cap, "chain_id must not be empty");
                goto out;
            }
            have_chain = true;
        } else if (!strcmp(key, "genesis_time_ms")) {
            if ((err_ = get_uint(v, key, 0, 1ull << 53, &g->genesis_time_ms, err, err_cap)) !=
                HM_OK)
                goto out;
        } else if (!strcmp(key, "validators")) {
            if (!json_is_array(v) || json_array_size(v) == 0 ||
                json_array_size(v) > HM_VALIDATORS_MAX) {
                err_ = fail(err, err_cap, "validators must be an array of 1..%d entries",
                            HM_VALIDATORS_MAX);
                goto out;
            }
            size_t i;
            json_t *val;
            json_array_foreach(v, i, val) {
                nd_validator *nv = &g->validators[i];
                json_t *name = json_object_get(val, "name");
                json_t *pk = json_object_get(val, "consensus_pubkey");
                json_t *fp = json_object_get(val, "tls_cert_fingerprint");
                json_t *addr = json_object_get(val, "address");
                if (!json_is_object(val) || !json_is_string(pk) || !json_is_string(fp) ||
                    !json_is_string(addr)) {
                    err_ = fail(err, err_cap,
                                "validators[%zu] needs consensus_pubkey, tls_cert_fingerprint "
                                "and address strings",
                                i);
                    goto out;
                }
                if (name && get_text(name, "name", nv->name, sizeof nv->name, err, err_cap))
                    return HM_ERR_BAD_VALUE;
                if (!name)
                    snprintf(nv->name, sizeof nv->name, "v%zu", i + 1);
                if (hm_hex_decode(json_string_value(pk), nv->consensus_key.bytes, HM_PUBKEY_LEN) !=
                        HM_OK ||
                    hm_pubkey_check(&nv->consensus_key) != HM_OK) {
                    err_ = fail(err, err_cap, "validators[%zu].consensus_pubkey is not a key", i);
                    goto out;
                }
                if (hm_hex_decode(json_string_value(fp), nv->tls_fingerprint, HM_HASH_LEN) !=
                    HM_OK) {
                    err_ = fail(err, err_cap,
                                "validators[%zu].tls_cert_fingerprint must be 64 hex digits", i);
                    goto out;
                }
                char host[ND_ADDR_MAX + 1];
                uint16_t port;
                if (get_text(addr, "address", nv->address, sizeof nv->address, err, err_cap) ||
                    nd_split_hostport(nv->address, host, sizeof host, &port) != HM_OK) {
                    err_ = fail(err, err_cap, "validators[%zu].address must be host:port", i);
                    goto out;
                }
                g->vset.keys[i] = nv->consensus_key;
            }
            g->validator_count = (uint32_t)json_array_size(v);
            g->vset.count = g->validator_count;
            have_vals = true;
        } else if (!strcmp(key, "admins")) {
            if (!json_is_array(v) || json_array_size(v) > CT_ADMINS_MAX) {
                err_ =
                    fail(err, err_cap, "admins must be an array of at most %d keys", CT_ADMINS_MAX);
                goto out;
            }
            size_t i;
            json_t *a;
            json_array_foreach(v, i, a) {
                if (!json_is_string(a) ||
                    hm_hex_decode(json_string_value(a), g->admins[i].bytes, HM_PUBKEY_LEN) !=
                        HM_OK ||
                    hm_pubkey_check(&g->admins[i]) != HM_OK) {
                    err_ = fail(err, err_cap, "admins[%zu] is not a key", i);
                    goto out;
                }
            }
            g->admin_count = (uint32_t)json_array_size(v);
        } else if (!strcmp(key, "consensus")) {
            if (!json_is_object(v)) {
                err_ = fail(err, err_cap, "consensus must be an object");
                goto out;
            }
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) {
                uint32_t *dst = !strcmp(k2, "timeout_propose_ms")     ? &g->timeout_propose_ms
                                : !strcmp(k2, "timeout_prevote_ms")   ? &g->timeout_prevote_ms
                                : !strcmp(k2, "timeout_precommit_ms") ? &g->timeout_precommit_ms
                                : !strcmp(k2, "timeout_delta_ms")     ? &g->timeout_delta_ms
                                : !strcmp(k2, "block_interval_ms")    ? &g->block_interval_ms
                                : !strcmp(k2, "time_drift_max_ms")    ? &g->time_drift_max_ms
                                                                      : NULL;
                uint64_t tmp;
                if (!dst) {
                    err_ = fail(err, err_cap, "consensus: unknown key \"%s\"", k2);
                    goto out;
                }
                if ((err_ = get_uint(v2, k2, 1, 600000, &tmp, err, err_cap)) != HM_OK)
                    goto out;
                *dst = (uint32_t)tmp;
            }
        } else if (!strcmp(key, "limits")) {
            if (!json_is_object(v)) {
                err_ = fail(err, err_cap, "limits must be an object");
                goto out;
            }
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) {
                uint64_t tmp;
                if (!strcmp(k2, "block_txs_max")) {
                    if ((err_ = get_uint(v2, k2, 1, ND_BLOCK_TXS_LIMIT, &tmp, err, err_cap)) !=
                        HM_OK)
                        goto out;
                    g->block_txs_max = (uint32_t)tmp;
                } else if (!strcmp(k2, "block_bytes_max")) {
                    if ((err_ = get_uint(v2, k2, 4096, ND_BLOCK_BYTES_MAX - 65536, &tmp, err,
                                         err_cap)) != HM_OK)
                        goto out;
                    g->block_bytes_max = (uint32_t)tmp;
                } else {
                    err_ = fail(err, err_cap, "limits: unknown key \"%s\"", k2);
                    goto out;
                }
            }
        } else {
            err_ = fail(err, err_cap, "genesis: unknown key \"%s\"", key);
            goto out;
        }
    }
    if (!have_chain || !have_vals)
        return fail(err, err_cap, "genesis needs chain_id and validators");
    for (uint32_t i = 0; i < g->validator_count; i++)
        for (uint32_t j = 0; j < i; j++)
            if (!memcmp(&g->vset.keys[i], &g->vset.keys[j], sizeof(hm_pubkey)) ||
                !memcmp(g->validators[i].tls_fingerprint, g->validators[j].tls_fingerprint,
                        HM_HASH_LEN))
                return fail(err, err_cap, "validators[%u] repeats validators[%u]", i, j);
    hm_validator_set_hash(&g->vset, g->vset_hash);
out:
    return err_;
}

hm_err nd_genesis_load(const char *path, nd_genesis *g, char *err, size_t err_cap) {
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, err_cap, "%s: line %d: %s", path, jerr.line, jerr.text);
        return jerr.line <= 0 ? HM_ERR_IO : HM_ERR_BAD_VALUE;
    }
    hm_err e = genesis_from_json(root, g, err, err_cap);
    json_decref(root);
    return e;
}
