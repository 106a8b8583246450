/* tests/sim/main.c — hallmark-sim, the command line of the consensus
 * simulator.
 *
 *   hallmark-sim --seeds N [--start-seed S] [--validators N] [--byzantine F]
 *                [--sigs stub|real|mixed] [--heights H]
 *                [--mutant no-locking|send-before-persist]
 *                [--stop-on-failure] [--verbose]
 *   hallmark-sim --bench [--runs R]
 *
 * Layer: tests/. Runs seeds one after another and reports each failing seed
 * with the exact command that replays it; ends with one summary line
 * `seeds=N safety_violations=X liveness_failures=Y` and exits non-zero if
 * either count is. The benchmark mode is the only place that reads a clock,
 * and only to time whole runs. */
#include "sim.h"

/* The simulator links the test build of the core, which has the mutants. */
#define CS_TEST_MUTANTS 1
#include "cs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void) {
    fprintf(stderr, "usage: hallmark-sim --seeds N [--start-seed S] [--validators N] "
                    "[--byzantine F] [--sigs stub|real|mixed] [--heights H] "
                    "[--mutant no-locking|send-before-persist] [--stop-on-failure] [--verbose]\n"
                    "       hallmark-sim --bench [--runs R]\n");
    return 2;
}

static int parse_u64(const char *text, uint64_t *out) {
    char *end = NULL;
    if (text == NULL || *text == '\0' || *text == '-') {
        return -1;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* BIP340 verifications per second on this machine, the ceiling the signed
 * figures are set against. */
static double verify_rate(void) {
    uint8_t sk[HM_SECKEY_LEN];
    memset(sk, 0x42, sizeof sk);
    hm_keypair kp;
    hm_sig sig;
    static const uint8_t msg[45] = {2};
    if (hm_keypair_from_seckey(&kp, sk) != HM_OK ||
        hm_sign(&kp, HM_PURPOSE_VOTE, "bench", msg, sizeof msg, &sig) != HM_OK) {
        return 0;
    }
    enum { OPS = 4000 };
    double t0 = now_s();
    for (int i = 0; i < OPS; i++) {
        if (hm_verify(&kp.pub, HM_PURPOSE_VOTE, "bench", msg, sizeof msg, &sig) != HM_OK) {
            return 0;
        }
    }
    double dt = now_s() - t0;
    return dt > 0 ? OPS / dt : 0;
}

/* Commits per second of the state machines alone (a clean network, all the
 * cluster's replicas on this one thread) and messages per commit. */
static int bench(uint32_t runs) {
    static const uint32_t sizes[] = {4, 7, 10};
    enum { RUNS_MAX = 15, SEEDS_PER_RUN = 4 };
    if (runs == 0 || runs > RUNS_MAX) {
        runs = 5;
    }
    int failed = 0;
    double verify_per_s = verify_rate();
    printf("bench=cs_sim bip340_verify_per_s=%.0f\n", verify_per_s);
    for (int real = 0; real <= 1; real++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            double rates[RUNS_MAX];
            double msgs_per_commit = 0;
            double ops_per_commit = 0;
            for (uint32_t run = 0; run < runs; run++) {
                uint64_t heights = 0, msgs = 0, ops = 0;
                double t0 = now_s();
                for (uint32_t k = 0; k < SEEDS_PER_RUN; k++) {
                    sim_params p = {.seed = 1000 + run * SEEDS_PER_RUN + k,
                                    .validators = sizes[s],
                                    .sigs = real ? SIM_SIGS_REAL : SIM_SIGS_STUB,
                                    .heights = real ? 20 : 100,
                                    .faults = false,
                                    .skip_cert_check = true};
                    sim_result r;
                    if (sim_run(&p, &r) != 0 || r.safety_violation || r.liveness_failure) {
                        failed = 1;
                    }
                    heights += r.heights_decided;
                    msgs += r.messages_delivered;
                    ops += r.sign_ops + r.verify_ops;
                }
                double dt = now_s() - t0;
                rates[run] = dt > 0 ? (double)heights / dt : 0;
                msgs_per_commit = heights ? (double)msgs / (double)heights : 0;
                ops_per_commit = heights ? (double)ops / (double)heights : 0;
            }
            qsort(rates, runs, sizeof rates[0], cmp_double);
            printf("bench=cs_sim n=%u sigs=%s commits_per_s=%.0f msgs_per_commit=%.1f runs=%u",
                   sizes[s], real ? "bip340" : "stub", rates[runs / 2], msgs_per_commit, runs);
            if (real) {
                /* The signatures made and checked per commit, all replicas
                 * together (a signature costs about a verification), at the
                 * verification rate measured above. */
                double ceiling = ops_per_commit > 0 ? verify_per_s / ops_per_commit : 0;
                printf(" sig_ops_per_commit=%.1f crypto_ceiling_commits_per_s=%.0f "
                       "share_of_ceiling=%.2f",
                       ops_per_commit, ceiling, ceiling > 0 ? rates[runs / 2] / ceiling : 0);
            }
            printf("\n");
        }
    }
    return failed;
}

int main(int argc, char **argv) {
    uint64_t seeds = 1, start = 1, validators = 0, byzantine = 0, heights = 30, runs = 5;
    sim_sigs sigs = SIM_SIGS_MIXED;
    int mutant = 0;
    int do_bench = 0;
    int verbose = 0;
    int stop_on_failure = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--bench") == 0) {
            do_bench = 1;
            continue;
        }
        if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp(a, "--stop-on-failure") == 0) {
            stop_on_failure = 1;
            continue;
        }
        if (v == NULL) {
            return usage();
        }
        i++;
        int bad = 0;
        if (strcmp(a, "--seeds") == 0) {
            bad = parse_u64(v, &seeds);
        } else if (strcmp(a, "--start-seed") == 0) {
            bad = parse_u64(v, &start);
        } else if (strcmp(a, "--validators") == 0) {
            bad = parse_u64(v, &validators) || validators > 10; /* 0: 4 or 7 */
        } else if (strcmp(a, "--byzantine") == 0) {
            bad = parse_u64(v, &byzantine) || byzantine > 10;
        } else if (strcmp(a, "--heights") == 0) {
            bad = parse_u64(v, &heights) || heights < 1 || heights > 150;
        } else if (strcmp(a, "--runs") == 0) {
            bad = parse_u64(v, &runs);
        } else if (strcmp(a, "--sigs") == 0) {
            if (strcmp(v, "stub") == 0) {
                sigs = SIM_SIGS_STUB;
            } else if (strcmp(v, "real") == 0) {
                sigs = SIM_SIGS_REAL;
            } else if (strcmp(v, "mixed") == 0) {
                sigs = SIM_SIGS_MIXED;
            } else {
                bad = 1;
            }
        } else if (strcmp(a, "--mutant") == 0) {
            if (strcmp(v, "no-locking") == 0) {
                mutant = CS_MUTANT_NO_LOCKING;
            } else if (strcmp(v, "send-before-persist") == 0) {
                mutant = CS_MUTANT_SEND_BEFORE_PERSIST;
            } else if (strcmp(v, "none") != 0) {
                bad = 1;
            }
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "hallmark-sim: bad option %s %s\n", a, v);
            return usage();
        }
    }
    if (do_bench) {
        return bench((uint32_t)runs);
    }
    static const char *const sig_names[] = {"stub", "real", "mixed"};
    uint64_t safety = 0, liveness = 0, real_count = 0, evidence = 0, drops = 0, refusals = 0;
    uint32_t max_round = 0;
    uint64_t max_stall_ms = 0;
    uint64_t ran = 0;
    for (uint64_t s = start; s < start + seeds; s++) {
        ran++;
        sim_params p = {.seed = s,
                        .validators = (uint32_t)validators,
                        .byzantine = (uint32_t)byzantine,
                        .sigs = sigs,
                        .mutant = mutant,
                        .heights = (uint32_t)heights,
                        .faults = true,
                        .verbose = verbose};
        sim_result r;
        if (sim_run(&p, &r) != 0) {
            fprintf(stderr, "hallmark-sim: out of memory\n");
            return 2;
        }
        real_count += r.real_sigs;
        evidence += r.evidence;
        drops += r.drops;
        refusals += r.sign_refusals;
        if (r.max_round > max_round) {
            max_round = r.max_round;
        }
        if (r.max_stall_ms > max_stall_ms) {
            max_stall_ms = r.max_stall_ms;
        }
        if (r.safety_violation || r.liveness_failure) {
            safety += r.safety_violation;
            liveness += r.liveness_failure;
            printf("FAIL seed=%llu n=%u byzantine=%u real_sigs=%d %s: %s\n", (unsigned long long)s,
                   r.n, r.byzantine, r.real_sigs, r.safety_violation ? "SAFETY" : "LIVENESS",
                   r.detail);
            printf("  replay: hallmark-sim --seeds 1 --start-seed %llu --validators %llu "
                   "--byzantine %llu --sigs %s --heights %llu%s --verbose\n",
                   (unsigned long long)s, (unsigned long long)validators,
                   (unsigned long long)byzantine, sig_names[sigs], (unsigned long long)heights,
                   mutant == CS_MUTANT_NO_LOCKING            ? " --mutant no-locking"
                   : mutant == CS_MUTANT_SEND_BEFORE_PERSIST ? " --mutant send-before-persist"
                                                             : "");
            fflush(stdout);
            if (stop_on_failure) {
                break;
            }
        }
    }
    fprintf(stderr,
            "info: real_sig_seeds=%llu evidence=%llu dropped_msgs=%llu sign_refusals=%llu "
            "max_round=%u max_stall_after_gst_ms=%llu\n",
            (unsigned long long)real_count, (unsigned long long)evidence, (unsigned long long)drops,
            (unsigned long long)refusals, max_round, (unsigned long long)max_stall_ms);
    printf("seeds=%llu safety_violations=%llu liveness_failures=%llu\n", (unsigned long long)ran,
           (unsigned long long)safety, (unsigned long long)liveness);
    return safety || liveness ? 1 : 0;
}
