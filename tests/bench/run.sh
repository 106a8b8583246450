#!/usr/bin/env bash
# tests/bench/run.sh BUILD — `make bench`: runs every BUILD/bench/bench_*
# binary, then every other tests/bench/*.sh script (cluster benchmarks) with
# BUILD as its argument, from the repo root, and shows the figures they
# print. Benchmarks measure; they do not pass or fail on speed. This script
# exits non-zero only if a benchmark itself fails (crashes, exits non-zero).
# Adding a benchmark is dropping tests/bench/bench_<name>.c or
# tests/bench/<name>.sh beside this file.
set -uo pipefail
cd "$(dirname "$0")/../.."
build="${1:?usage: tests/bench/run.sh BUILD_DIR}"

ok=0
failed=0
failed_names=()
run_one() {
    local name="$1"
    shift
    echo "== $name ($(date -u +%H:%M:%S))"
    if nice "$@"; then
        ok=$((ok + 1))
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "== $name: FAILED"
    fi
}

for bin in "$build"/bench/bench_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    run_one "$(basename "$bin")" "$bin"
done
for script in tests/bench/*.sh; do
    [ "$(basename "$script")" = run.sh ] && continue
    [ -f "$script" ] || continue
    run_one "$script" bash "$script" "$build"
done

((failed)) && echo "bench: failed: ${failed_names[*]}"
echo "bench: $ok ran, $failed failed"
((failed == 0))
