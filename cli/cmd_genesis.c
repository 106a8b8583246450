/* cli/cmd_genesis.c — `hallmark genesis init`: creates a local network.
 *
 * Layer: cli/ (top). Writes, under one folder, the genesis file and for each
 * node its consensus key, its TLS key and self-signed certificate, and its
 * config file; plus a consortium admin key and a demo brand key. Uses
 * OpenSSL only to make TLS identities. Never overwrites an existing file
 * (a network's keys are not recreated by accident) and writes every secret
 * with mode 0600. docs/operations.md describes the layout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli.h"

#define GENESIS_NODES_MAX 64
/* Ports of a generated network, from --base-port P: validators' APIs at
 * P..P+63 and observers' at P+50..P+65 (more than 50 validators would meet
 * the observers' ports: a limit of the scheme from before resolvers),
 * validators' peer listeners at P+100..P+163 (observers listen for no
 * peers: they dial), and validators' resolvers (resolver_listen) at
 * P+180..P+243, apart from all of them. */
#define RESOLVER_PORT_OFFSET 180
#define BASE_PORT_MAX (65535 - RESOLVER_PORT_OFFSET - GENESIS_NODES_MAX)

static const cli_opt init_opts[] = {
    {"validators", "N", "number of validators (1..64, default 4)"},
    {"observers", "N", "number of observer nodes (0..16, default 0)"},
    {"out", "DIR", "folder to create (must not exist or be empty)"},
    {"base-port", "P",
     "first HTTP port (default 7000); peer ports start at P+100, resolver ports at P+180"},
    {"chain-id", "ID", "chain id (default hallmark-local)"},
    {"host", "IP", "address nodes listen on and dial (default 127.0.0.1)"},
    {NULL, NULL, NULL},
};
static const cli_spec init_spec = {
    .usage = "hallmark genesis init --out DIR [--validators N] [--observers N] [--base-port P]",
    .description =
        "Creates a network: DIR/genesis.json, DIR/admin.key, DIR/brand.key and, per node,\n"
        "DIR/<name>/{consensus.key,tls.key,tls.crt,node.json}. Validators are v1..vN with\n"
        "HTTP on P+i-1 and peers on P+100+i-1; observers o1..oM with HTTP on P+50+j-1.\n"
        "Start a node with: hallmarkd --config DIR/<name>/node.json",
    .opts = init_opts,
    .positional_min = 0,
    .positional_max = 0,
};

/* Writes a PEM private key to a new file with mode 0600. */
static hm_err write_tls_key(const char *path, EVP_PKEY *pkey) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_error("%s: %s", path, strerror(errno));
        return errno == EEXIST ? HM_ERR_EXISTS : HM_ERR_IO;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return HM_ERR_IO;
    }
    int ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || ok != 1) {
        cli_error("%s: cannot write the TLS key", path);
        return HM_ERR_IO;
    }
    return HM_OK;
}

/* A fresh Ed25519 TLS identity: key file, self-signed certificate and the
 * SHA-256 fingerprint of the DER certificate. */
static hm_err make_tls_identity(const char *dir, const char *name, uint8_t fp[HM_HASH_LEN]) {
    char key_path[1100], crt_path[1100];
    snprintf(key_path, sizeof key_path, "%s/tls.key", dir);
    snprintf(crt_path, sizeof crt_path, "%s/tls.crt", dir);
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    X509 *x = X509_new();
    hm_err err = HM_ERR_CRYPTO;
    uint8_t serial[8];
    if (!pkey || !x || hm_random_bytes(serial, sizeof serial) != HM_OK)
        goto out;
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        BN_free(bn);
        goto out;
    }
    BN_free(bn);
    X509_NAME *subject = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * 365 * 30) ||
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, subject) != 1 || X509_set_pubkey(x, pkey) != 1 ||
        X509_sign(x, pkey, NULL) <= 0)
        goto out;
    unsigned int len = 0;
    if (X509_digest(x, EVP_sha256(), fp, &len) != 1 || len != HM_HASH_LEN)
        goto out;
    if ((err = write_tls_key(key_path, pkey)) != HM_OK)
        goto out;
    FILE *f = fopen(crt_path, "wx");
    if (!f || PEM_write_X509(f, x) != 1) {
        if (f)
            fclose(f);
        cli_error("%s: cannot write the certificate", crt_path);
        err = HM_ERR_IO;
        goto out;
    }
    err = fclose(f) == 0 ? HM_OK : HM_ERR_IO;
out:
    if (err == HM_ERR_CRYPTO)
        cli_error("cannot create a TLS identity for %s", name);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return err;
}

static hm_err make_key(const char *path, hm_pubkey *pub) {
    hm_keypair kp;
    hm_err err = hm_keypair_generate(&kp);
    if (err == HM_OK)
        err = hm_keyfile_write(path, &kp);
    if (err == HM_OK)
        *pub = kp.pub;
    else
        cli_error("%s: %s", path, hm_err_message(err));
    hm_keypair_wipe(&kp);
    return err;
}

static hm_err write_json(const char *path, json_t *j) {
    int rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (rc != 0) {
        cli_error("%s: cannot write", path);
        return HM_ERR_IO;
    }
    return HM_OK;
}

static json_t *hex_string(const uint8_t *data, size_t len) {
    char buf[2 * 64 + 1];
    hm_hex_encode(data, len, buf);
    return json_string(buf);
}

static int genesis_init(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&init_spec, argc, argv, &a, &rc))
        return rc;
    uint64_t validators = 4, observers = 0, base_port = 7000;
    const char *out = cli_arg(&a, "out");
    const char *chain_id = cli_arg(&a, "chain-id") ? cli_arg(&a, "chain-id") : "hallmark-local";
    const char *host = cli_arg(&a, "host") ? cli_arg(&a, "host") : "127.0.0.1";
    if (!out)
        return cli_usage_error(&init_spec, "--out is required");
    if (cli_arg(&a, "validators") &&
        (!cli_parse_u64(cli_arg(&a, "validators"), GENESIS_NODES_MAX, &validators) ||
         validators == 0))
        return cli_usage_error(&init_spec, "--validators must be 1..%d", GENESIS_NODES_MAX);
    if (cli_arg(&a, "observers") && !cli_parse_u64(cli_arg(&a, "observers"), 16, &observers))
        return cli_usage_error(&init_spec, "--observers must be 0..16");
    if (cli_arg(&a, "base-port") &&
        (!cli_parse_u64(cli_arg(&a, "base-port"), BASE_PORT_MAX, &base_port) || base_port < 1024))
        return cli_usage_error(&init_spec, "--base-port must be 1024..%d", BASE_PORT_MAX);
    if (cli_check_chain_id(chain_id) != HM_OK)
        return CLI_EXIT_USAGE;
    if (strlen(out) > 900 || strlen(host) > 64)
        return cli_usage_error(&init_spec, "--out or --host is too long");
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        cli_error("%s: %s", out, strerror(errno));
        return CLI_EXIT_IO;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/genesis.json", out);
    if (access(path, F_OK) == 0) {
        cli_error("%s exists: refusing to overwrite a network", path);
        return CLI_EXIT_IO;
    }
    uint32_t total = (uint32_t)(validators + observers);
    uint8_t fps[GENESIS_NODES_MAX + 16][HM_HASH_LEN];
    hm_pubkey keys[GENESIS_NODES_MAX];
    hm_err err = HM_OK;
    for (uint32_t i = 0; i < total && err == HM_OK; i++) {
        bool is_val = i < validators;
        char name[16];
        snprintf(name, sizeof name, is_val ? "v%u" : "o%u",
                 is_val ? i + 1 : i - (uint32_t)validators + 1);
        char dir[1000];
        snprintf(dir, sizeof dir, "%s/%s", out, name);
        if (mkdir(dir, 0700) != 0) {
            cli_error("%s: %s", dir, strerror(errno));
            return CLI_EXIT_IO;
        }
        err = make_tls_identity(dir, name, fps[i]);
        if (err == HM_OK && is_val) {
            snprintf(path, sizeof path, "%s/consensus.key", dir);
            err = make_key(path, &keys[i]);
        }
    }
    hm_pubkey admin, brand;
    if (err == HM_OK) {
        snprintf(path, sizeof path, "%s/admin.key", out);
        err = make_key(path, &admin);
    }
    if (err == HM_OK) {
        snprintf(path, sizeof path, "%s/brand.key", out);
        err = make_key(path, &brand);
    }
    if (err != HM_OK)
        return cli_exit_for(err);
    /* genesis */
    json_t *vals = json_array();
    for (uint32_t i = 0; i < validators; i++) {
        char name[16], addr[96];
        snprintf(name, sizeof name, "v%u", i + 1);
        snprintf(addr, sizeof addr, "%s:%u", host, (unsigned)(base_port + 100 + i));
        json_array_append_new(
            vals, json_pack("{s:s, s:o, s:o, s:s}", "name", name, "consensus_pubkey",
                            hex_string(keys[i].bytes, HM_PUBKEY_LEN), "tls_cert_fingerprint",
                            hex_string(fps[i], HM_HASH_LEN), "address", addr));
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *g = json_pack(
        "{s:s, s:I, s:o, s:[o], s:{s:i, s:i, s:i, s:i, s:i, s:i}, s:{s:i, s:i}}", "chain_id",
        chain_id, "genesis_time_ms", (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
        "validators", vals, "admins", hex_string(admin.bytes, HM_PUBKEY_LEN), "consensus",
        "timeout_propose_ms", 3000, "timeout_prevote_ms", 1000, "timeout_precommit_ms", 1000,
        "timeout_delta_ms", 500, "block_interval_ms", 1000, "time_drift_max_ms", 2000, "limits",
        "block_txs_max", 10000, "block_bytes_max", 16 * 1024 * 1024);
    snprintf(path, sizeof path, "%s/genesis.json", out);
    if ((err = write_json(path, g)) != HM_OK)
        return cli_exit_for(err);
    /* node configs */
    for (uint32_t i = 0; i < total; i++) {
        bool is_val = i < validators;
        char name[16], http[96], peer[96], resolver[96];
        uint32_t k = is_val ? i : i - (uint32_t)validators;
        snprintf(name, sizeof name, is_val ? "v%u" : "o%u", k + 1);
        snprintf(http, sizeof http, "%s:%u", host, (unsigned)(base_port + (is_val ? 0 : 50) + k));
        snprintf(peer, sizeof peer, "%s:%u", host, (unsigned)(base_port + 100 + k));
        snprintf(resolver, sizeof resolver, "%s:%u", host,
                 (unsigned)(base_port + RESOLVER_PORT_OFFSET + k));
        json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "data_dir",
                              "data", "genesis", "../genesis.json", "tls_cert", "tls.crt",
                              "tls_key", "tls.key", "http_listen", http, "log_level", "info");
        if (is_val) {
            json_object_set_new(c, "consensus_key", json_string("consensus.key"));
            json_object_set_new(c, "peer_listen", json_string(peer));
            json_object_set_new(c, "resolver_listen", json_string(resolver));
            json_t *obs = json_array();
            for (uint32_t j = (uint32_t)validators; j < total; j++)
                json_array_append_new(obs, hex_string(fps[j], HM_HASH_LEN));
            json_object_set_new(c, "observers", obs);
        }
        snprintf(path, sizeof path, "%s/%s/node.json", out, name);
        if ((err = write_json(path, c)) != HM_OK)
            return cli_exit_for(err);
    }
    printf("%s/genesis.json\n", out);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ add-observer */

static const cli_opt observer_opts[] = {
    {"dir", "DIR", "the network folder made by `genesis init` (holds genesis.json, vN/)"},
    {"name", "NAME", "the observer's folder and log name (e.g. o2)"},
    {"http", "IP:PORT", "its API address"},
    {NULL, NULL, NULL},
};
static const cli_spec observer_spec = {
    .usage = "hallmark genesis add-observer --dir DIR --name NAME --http IP:PORT",
    .description = "Creates DIR/NAME/{tls.key,tls.crt,node.json} for a new observer and adds its\n"
                   "certificate fingerprint to the `observers` list of every DIR/v*/node.json.\n"
                   "Restart the validators (one at a time) so that they accept it, then start it\n"
                   "with: hallmarkd --config DIR/NAME/node.json",
    .opts = observer_opts,
    .positional_min = 0,
    .positional_max = 0,
};

static int genesis_add_observer(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&observer_spec, argc, argv, &a, &rc))
        return rc;
    const char *dir = cli_arg(&a, "dir"), *name = cli_arg(&a, "name"), *http = cli_arg(&a, "http");
    if (!dir || !name || !http)
        return cli_usage_error(&observer_spec, "--dir, --name and --http are required");
    if (strlen(dir) > 900 || strlen(name) > 32 || strlen(http) > 64 || !name[0] ||
        strchr(name, '/') || name[0] == '.')
        return cli_usage_error(&observer_spec, "--dir, --name or --http is malformed");
    char path[1100], odir[1000];
    snprintf(odir, sizeof odir, "%s/%s", dir, name);
    if (mkdir(odir, 0700) != 0) {
        cli_error("%s: %s", odir, strerror(errno));
        return CLI_EXIT_IO;
    }
    uint8_t fp[HM_HASH_LEN];
    hm_err err = make_tls_identity(odir, name, fp);
    if (err != HM_OK)
        return cli_exit_for(err);
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "data_dir", "data",
                          "genesis", "../genesis.json", "tls_cert", "tls.crt", "tls_key", "tls.key",
                          "http_listen", http, "log_level", "info");
    snprintf(path, sizeof path, "%s/node.json", odir);
    if ((err = write_json(path, c)) != HM_OK)
        return cli_exit_for(err);
    /* every validator's config learns the new fingerprint */
    int updated = 0;
    for (int i = 1; i <= GENESIS_NODES_MAX; i++) {
        snprintf(path, sizeof path, "%s/v%d/node.json", dir, i);
        if (access(path, F_OK) != 0)
            break;
        json_error_t jerr;
        json_t *vc = json_load_file(path, 0, &jerr);
        json_t *obs = vc ? json_object_get(vc, "observers") : NULL;
        if (!vc || (obs && !json_is_array(obs))) {
            json_decref(vc);
            cli_error("%s: not a node config", path);
            return CLI_EXIT_IO;
        }
        if (!obs) {
            obs = json_array();
            json_object_set_new(vc, "observers", obs);
        }
        json_array_append_new(obs, hex_string(fp, HM_HASH_LEN));
        if ((err = write_json(path, vc)) != HM_OK)
            return cli_exit_for(err);
        updated++;
    }
    char hex[2 * HM_HASH_LEN + 1];
    hm_hex_encode(fp, HM_HASH_LEN, hex);
    printf("%s/node.json\n", odir);
    fprintf(stderr, "added observer %s (fingerprint %s) to %d validator configs\n", name, hex,
            updated);
    return CLI_EXIT_OK;
}

static const cli_command genesis_commands[] = {
    {"add-observer", "create an observer and allow it in every validator's config",
     genesis_add_observer},
    {"init", "create keys, TLS identities, genesis and configs for a network", genesis_init},
};

int cli_cmd_genesis(int argc, char **argv) {
    return cli_dispatch(genesis_commands, sizeof genesis_commands / sizeof genesis_commands[0],
                        "hallmark genesis <subcommand>", argc - 1, argv + 1);
}
