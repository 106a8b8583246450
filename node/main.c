/* node/main.c — entry point of hallmarkd: `hallmarkd --config FILE`.
 *
 * Layer: node/ (top). Parses the command line, loads the config, sets up
 * logging and runs the node until SIGINT/SIGTERM. Never holds node logic:
 * that lives in node/node.c. Exit codes: 0 clean shutdown, 1 runtime
 * failure, 2 usage or config error, 3 data directory in use. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "evalloc.h"
#include "nd_int.h"

static void usage(void) {
    fprintf(stderr, "usage: hallmarkd --config FILE [--dump-votes]\n"
                    "  Runs a Hallmark validator or observer node; see docs/operations.md.\n"
                    "  --dump-votes  print every vote this validator signed (\"height round\n"
                    "                type block_id\" per line) from its stopped database\n");
}

static bool print_vote(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                       size_t val_len) {
    (void)arg;
    (void)val;
    (void)val_len;
    /* key: "v/" | u64 height | u32 round | u8 type | block_id */
    if (key_len != 2 + 8 + 4 + 1 + HM_HASH_LEN)
        return true;
    uint64_t h = 0;
    uint32_t r = 0;
    for (int i = 0; i < 8; i++)
        h = (h << 8) | key[2 + i];
    for (int i = 0; i < 4; i++)
        r = (r << 8) | key[10 + i];
    char id[2 * HM_HASH_LEN + 1];
    hm_hex_encode(key + 15, HM_HASH_LEN, id);
    printf("%llu %u %u %s\n", (unsigned long long)h, r, key[14], id);
    return true;
}

static int dump_votes(const nd_config *cfg) {
    char path[ND_PATH_MAX + 8], err[512] = "";
    snprintf(path, sizeof path, "%s/db", cfg->data_dir);
    nd_store *s = NULL;
    if (nd_store_open(path, &s, err, sizeof err) != HM_OK) {
        fprintf(stderr, "hallmarkd: %s\n", err);
        return 3;
    }
    hm_err e = nd_store_scan_votes(s, 0, print_vote, NULL);
    nd_store_close(s);
    return e == HM_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    nd_evalloc_install(); /* before any other libevent call */
    nd_malloc_tune();
    const char *config_path = NULL;
    bool votes = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config_path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config_path = argv[i] + 9;
        } else if (!strcmp(argv[i], "--dump-votes")) {
            votes = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (!config_path) {
        usage();
        return 2;
    }
    hm_log_set_clock(nd_now_ms);
    nd_config cfg;
    nd_config_defaults(&cfg);
    char err[512] = "";
    hm_err e = nd_config_load(config_path, &cfg, err, sizeof err);
    if (e != HM_OK) {
        fprintf(stderr, "hallmarkd: %s\n", err);
        return 2;
    }
    if (votes)
        return dump_votes(&cfg);
    char prefix[ND_NAME_MAX + 8];
    snprintf(prefix, sizeof prefix, "node=%s", cfg.name);
    hm_log_set_prefix(prefix);
    hm_log_set_level(cfg.log_level);
    /* a peer that vanishes mid-write must not kill the process */
    signal(SIGPIPE, SIG_IGN);
    nd_node *n = NULL;
    e = nd_node_new(&cfg, &n);
    if (e != HM_OK)
        return e == HM_ERR_EXISTS ? 3 : (e == HM_ERR_BAD_VALUE ? 2 : 1);
    e = nd_node_run(n);
    nd_node_free(n);
    nd_evalloc_drain();
    hm_log(HM_LOG_INFO, "stopped", "clean=%d", e == HM_OK);
    return e == HM_OK ? 0 : 1;
}
