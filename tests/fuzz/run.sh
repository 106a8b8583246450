#!/usr/bin/env bash
# tests/fuzz/run.sh — runs libFuzzer targets built from tests/fuzz/fuzz_*.c.
#
#   run.sh replay BIN...          runs every input of tests/fuzz/corpus/<name>
#                                 through each target once (-runs=0): what CI
#                                 does on every `make test`
#   run.sh run SECONDS BIN...     fuzzes each target for SECONDS, starting from
#                                 its seed corpus; new inputs and any crash go
#                                 to a scratch directory beside the binaries
#                                 (BUILD/fuzz/work/<name>/), never into the repo
#
# <name> is the binary's file name, so a new target needs nothing here: add
# tests/fuzz/fuzz_<name>.c and a few seeds in tests/fuzz/corpus/fuzz_<name>/.
# Exits non-zero if any target crashes, leaks, times out or runs out of
# memory; prints one line per target and a closing "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

usage() {
    echo "usage: tests/fuzz/run.sh replay BIN... | tests/fuzz/run.sh run SECONDS BIN..." >&2
    exit 2
}

mode="${1:-}"
shift || usage
seconds=0
case "$mode" in
replay) ;;
run)
    seconds="${1:-}"
    shift || usage
    [[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds > 0)) || usage
    ;;
*) usage ;;
esac

# Undefined behaviour is a finding, not a warning to scroll past.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

# Bounds for one target: memory per process, seconds per input.
rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-1024}"
timeout_s="${FUZZ_TIMEOUT_S:-20}"

passed=0
failed=0
failed_names=()
for bin in "$@"; do
    name="$(basename "$bin")"
    seeds="tests/fuzz/corpus/$name"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $name: $bin is not an executable"
        failed=$((failed + 1))
        failed_names+=("$name")
        continue
    fi
    work="$(dirname "$bin")/work/$name"
    mkdir -p "$work/corpus" "$work/artifacts"
    log="$work/$mode.log"
    if [ ! -d "$seeds" ]; then
        echo "fuzz: $name: no seed corpus in $seeds (add a few small inputs there)"
        seeds=""
    fi
    common=(-rss_limit_mb="$rss_limit_mb" -timeout="$timeout_s"
        -artifact_prefix="$work/artifacts/" -print_final_stats=1)
    if [ "$mode" = replay ]; then
        if [ -n "$seeds" ]; then
            nice "$bin" "${common[@]}" -runs=0 "$seeds" >"$log" 2>&1
        else
            # No corpus: at least run the empty input once.
            nice "$bin" "${common[@]}" -runs=1 "$work/corpus" >"$log" 2>&1
        fi
    else
        # The scratch corpus comes first: libFuzzer writes new inputs into
        # the first directory and only reads the seeds.
        nice "$bin" "${common[@]}" -max_total_time="$seconds" "$work/corpus" \
            ${seeds:+"$seeds"} >"$log" 2>&1
    fi
    rc=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1)"
    corpus_n="$(find "$work/corpus" -type f | wc -l)"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "fuzz: $name: ok ($mode, ${execs:-?} runs, ${cov:-cov: ?}, scratch corpus $corpus_n)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "fuzz: $name: FAILED (exit $rc); log: $log"
        grep -E 'ERROR|SUMMARY|==[0-9]+==|Test unit written|artifact_prefix' "$log" | head -20
    fi
done
((failed)) && echo "fuzz: failing targets: ${failed_names[*]}"
echo "fuzz $mode: $passed passed, $failed failed"
((failed == 0))
