/* tests/sim/sim.h — the deterministic consensus simulator's harness.
 *
 * Layer: tests/, over consensus/ (the CS_TEST_MUTANTS build) and lib/ only;
 * linked without libevent, RocksDB or TLS, which is itself a check of the
 * layering. One call runs one seed: N replicas of the real state machine
 * over a seeded network that drops, delays, duplicates and reorders
 * messages, partitions that heal at a global stabilisation time, crashes
 * with restart from persisted sign-state, and up to f Byzantine validators.
 * Everything random comes from the seed, time is simulated: a seed replays
 * exactly. Never: wall clock, OS randomness, threads inside a run. */
#ifndef HALLMARK_SIM_H
#define HALLMARK_SIM_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { SIM_SIGS_STUB = 0, SIM_SIGS_REAL = 1, SIM_SIGS_MIXED = 2 } sim_sigs;

typedef struct {
    uint64_t seed;
    uint32_t validators;  /* 0: 4 or 7, chosen by the seed */
    uint32_t byzantine;   /* wanted; clamped to f of the seed's n */
    sim_sigs sigs;        /* MIXED: real BIP340 in 1 seed of 32 */
    int mutant;           /* cs_mutant */
    uint32_t heights;     /* heights every honest replica must commit */
    bool faults;          /* false: a clean network, no crashes (benchmarks) */
    bool skip_cert_check; /* benchmarks: time the state machines, not the checker */
    bool verbose;
} sim_params;

typedef struct {
    bool safety_violation;
    bool liveness_failure;
    char detail[512];
    /* What the seed turned out to be, for the report line. */
    uint32_t n;
    uint32_t byzantine;
    bool real_sigs;
    /* Figures. */
    uint64_t heights_decided;
    uint64_t messages_delivered;
    uint64_t events;
    uint64_t sim_time_ms;
    uint64_t drops;
    uint64_t evidence;
    uint64_t sign_refusals;
    uint32_t max_round;
    uint64_t max_stall_ms; /* longest wait for a commit after stabilisation */
    uint64_t sign_ops;     /* signatures made by the replicas' signers */
    uint64_t verify_ops;   /* signatures verified by them */
} sim_result;

/* Runs one seed. Returns 0 when it ran (violations are in *res), -1 when the
 * harness itself could not run (out of memory). */
int sim_run(const sim_params *p, sim_result *res);

#endif
