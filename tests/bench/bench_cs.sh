#!/usr/bin/env bash
# tests/bench/bench_cs.sh BUILD — consensus figures for `make bench`: commits
# per second of the Tendermint state machines alone, all replicas of a
# cluster on one thread of the deterministic simulator over a clean network
# (no crypto shortcuts in the "bip340" rows, a stand-in signature in the
# "stub" rows), and messages sent per committed height, for n = 4, 7, 10.
# Each figure is the median of several runs. Nothing here passes or fails on
# speed; the script fails only if the simulator does.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:?usage: tests/bench/bench_cs.sh BUILD_DIR}"
sim="$build/hallmark-sim"
[ -x "$sim" ] || {
    echo "bench_cs: $sim is not built" >&2
    exit 1
}
"$sim" --bench --runs 5
