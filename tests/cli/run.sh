#!/usr/bin/env bash
# tests/cli/run.sh BUILD — runs every tests/cli/test_*.sh with the build
# directory as its argument (from the repo root), shows their output, and
# exits non-zero if any fails. A script passes by exiting 0. Adding a test is
# dropping a test_<topic>.sh file beside this one.
set -uo pipefail
cd "$(dirname "$0")/../.."
build="${1:?usage: tests/cli/run.sh BUILD_DIR}"
passed=0
failed=0
failed_names=()
for t in tests/cli/test_*.sh; do
    [ -e "$t" ] || continue
    echo "== $t"
    if bash "$t" "$build"; then
        passed=$((passed + 1))
        echo "== $t: ok"
    else
        failed=$((failed + 1))
        failed_names+=("$t")
        echo "== $t: FAILED"
    fi
done
((failed)) && echo "failed: ${failed_names[*]}"
echo "cli tests: $passed passed, $failed failed"
((failed == 0))
