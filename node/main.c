/* node/main.c — entry point of hallmarkd: `hallmarkd --config FILE`.
 *
 * Layer: node/ (top). Parses the command line, loads the config, sets up
 * logging and runs the node until SIGINT/SIGTERM. Never holds node logic:
 * that lives in node/node.c. Exit codes: 0 clean shutdown, 1 runtime
 * failure, 2 usage or config error, 3 data directory in use. */
#include <malloc.h>
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

/* Keeps the allocator from handing a batch's buffers back to the kernel.
 * By default glibc serves a block above its mmap threshold (128 KiB, raised
 * dynamically only up to the size of the last such block freed) with its own
 * mapping and returns the heap top once 128 KiB of it is free; a batch of
 * 100,000 records allocates and frees many buffers of several MiB (the tx,
 * leaf hashes, sorted keys, the WriteBatch), so each block paid for fresh
 * zeroed pages again. Heap blocks up to 32 MiB (the largest threshold glibc
 * allows) and trimming only past 64 MiB of free top keep those pages mapped
 * for the next batch (bench_prov_node: page faults and system time about
 * halved). The cost: up to 64 MiB of freed memory may stay resident after
 * a burst, and a freed block below 32 MiB inside the heap is reused rather
 * than unmapped (docs/operations.md, "Memory allocator settings"). */
static void malloc_tune(void) {
    (void)mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

/* libevent allocates through node/evalloc.c: glibc's malloc with a larger
 * cache of small freed blocks than glibc's own per-thread cache (seven per
 * size), which the fifty-odd blocks libevent allocates and frees around
 * every HTTP answer overflowed (docs/operations.md, "Memory allocator
 * settings"). Every block is still a glibc block, so what libevent hands
 * out is released with free() as before. Must run before any other
 * libevent call. */
static void libevent_alloc_tune(void) {
    nd_evalloc_install();
}

int main(int argc, char **argv) {
    libevent_alloc_tune();
    malloc_tune();
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
