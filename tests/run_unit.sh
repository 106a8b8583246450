#!/usr/bin/env bash
# tests/run_unit.sh TEST_BINARY... — runs each cmocka unit test binary from
# the repo root (where `make` runs), shows its output, and prints one closing
# line "unit tests: N passed, N failed" counting tests, read from cmocka's
# summary lines. A binary that crashes or prints no summary counts as one
# failed test. Exits non-zero if anything failed.
#
# The golden vectors are found through HALLMARK_TESTDATA, which defaults to
# ../shared/testdata relative to the repo root.
set -uo pipefail
cd "$(dirname "$0")/.."
export HALLMARK_TESTDATA="${HALLMARK_TESTDATA:-../shared/testdata}"
# Plain-text summaries: an XML or TAP setting would hide them from us.
export CMOCKA_MESSAGE_OUTPUT=STDOUT

passed=0
failed=0
failed_bins=()
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

for bin in "$@"; do
    echo "== $bin"
    if [ ! -x "$bin" ]; then
        echo "run_unit: $bin: not an executable"
        failed=$((failed + 1))
        failed_bins+=("$bin")
        continue
    fi
    "$bin" >"$log" 2>&1
    rc=$?
    cat "$log"
    # cmocka prints, per group, "[  PASSED  ] N test(s)." and, when some
    # failed, "[  FAILED  ] N test(s), listed below:".
    p="$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')"
    f="$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')"
    if ! grep -q '^\[==========\] .* test(s) run\.' "$log"; then
        echo "run_unit: $bin exited $rc without a cmocka summary (crashed?)"
        f=$((f + 1))
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "run_unit: $bin exited $rc"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    ((f)) && failed_bins+=("$bin")
done

((failed)) && echo "failing binaries: ${failed_bins[*]}"
echo "unit tests: $passed passed, $failed failed ($# binaries)"
((failed == 0))
