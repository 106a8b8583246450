#!/usr/bin/env bash
# tests/sim/run.sh — the consensus simulator as run by `make sim`.
#
#   tests/sim/run.sh <hallmark-sim> <seeds>
#
# 1. <seeds> seeds (at least 10,000 in `make test`) mixing n = 4 and n = 7
#    with f Byzantine validators; 1 seed in 32 with real BIP340 signatures.
# 2. A share of seeds all with real signatures, and a share with n = 10.
# 3. The mutants (no-locking, send-before-persist): each must be caught (a
#    safety violation, non-zero exit), and its first failing seed must replay
#    to the same report.
# Exits non-zero if any honest run fails or a mutant goes unnoticed.
set -u

sim=${1:?usage: run.sh <hallmark-sim> <seeds>}
seeds=${2:-10000}
status=0
errf=$(mktemp)
trap 'rm -f "$errf"' EXIT

run() {
    local name=$1
    shift
    local start end out rc
    start=$(date +%s)
    out=$("$sim" "$@" 2>"$errf")
    rc=$?
    end=$(date +%s)
    echo "sim: $name: $(echo "$out" | tail -n 1) ($((end - start)) s)"
    grep '^info:' "$errf" | sed 's/^info:/     /'
    if [ "$rc" -ne 0 ]; then
        echo "$out" | grep -A1 '^FAIL' | head -n 20
        grep -v '^info:' "$errf" | tail -n 20 >&2
        status=1
    fi
}

real_seeds=$((seeds / 50))
[ "$real_seeds" -lt 10 ] && real_seeds=10
big_seeds=$((seeds / 20))
[ "$big_seeds" -lt 20 ] && big_seeds=20

run "n=4|7, f byzantine, mixed signatures" --seeds "$seeds" --byzantine 3 --sigs mixed
run "n=4|7, f byzantine, real signatures" --seeds "$real_seeds" --start-seed 1000001 \
    --byzantine 3 --sigs real
run "n=10, f byzantine" --seeds "$big_seeds" --start-seed 2000001 --validators 10 \
    --byzantine 3 --sigs stub

# Each mutant must fail. Deterministic seeds mean it fails at the same seed
# every time; --stop-on-failure keeps the run short.
mutant() {
    local name=$1 seeds_max=$2
    local out rc first seed replay
    out=$("$sim" --seeds "$seeds_max" --byzantine 3 --sigs stub --mutant "$name" \
        --stop-on-failure 2>"$errf")
    rc=$?
    echo "sim: mutant $name: $(echo "$out" | tail -n 1) (exit $rc)"
    if [ "$rc" -eq 0 ] || ! echo "$out" | grep -q 'safety_violations=[1-9]'; then
        echo "sim: FAIL: the $name mutant was not caught" >&2
        grep -v '^info:' "$errf" | tail -n 20 >&2
        status=1
        return
    fi
    first=$(echo "$out" | grep -m1 '^FAIL')
    echo "sim: mutant caught: $first"
    seed=$(echo "$first" | sed -n 's/^FAIL seed=\([0-9]*\) .*/\1/p')
    replay=$("$sim" --seeds 1 --start-seed "$seed" --byzantine 3 --sigs stub \
        --mutant "$name" 2>/dev/null | grep -m1 '^FAIL')
    if [ "$replay" != "$first" ]; then
        echo "sim: FAIL: seed $seed did not replay to the same report" >&2
        echo "  first:  $first" >&2
        echo "  replay: $replay" >&2
        status=1
    else
        echo "sim: seed $seed replays exactly"
    fi
}

# No locking (L22/L28): an agreement violation. Sending a vote before its
# sign-state is durable: the simulator checks every honest message that
# leaves against the durable record.
mutant no-locking 20000
mutant send-before-persist 2000

if [ "$status" -eq 0 ]; then
    echo "sim: OK"
else
    echo "sim: FAILED" >&2
fi
exit "$status"
