#!/usr/bin/env bash
# tests/cluster/run.sh BUILD_DIR — runs every tests/cluster/test_*.sh.
#
# Each test is a multi-process scenario on loopback that starts its own
# nodes (with its own ports and data under BUILD_DIR/cluster/), bounds its
# own run time and cleans up its processes on exit. A test passes when it
# exits 0. Prints one line per test and "N passed, N failed"; exits non-zero
# if any failed. Set CLUSTER_ONLY=name to run one test.
set -uo pipefail
build=${1:-build}
cd "$(dirname "$0")/../.."
export CLUSTER_BUILD="$PWD/$build"
mkdir -p "$build/cluster"
passed=0
failed=0
for t in tests/cluster/test_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    if [ -n "${CLUSTER_ONLY:-}" ] && [ "$name" != "$CLUSTER_ONLY" ]; then continue; fi
    log="$build/cluster/$name.log"
    start=$(date +%s)
    # a hard cap so one stuck scenario cannot hang the suite
    if timeout -k 10 300 bash "$t" "$build" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "PASS $name ($(($(date +%s) - start)) s)"
    else
        failed=$((failed + 1))
        echo "FAIL $name ($(($(date +%s) - start)) s): see $log"
        tail -n 15 "$log" | sed 's/^/    /'
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
