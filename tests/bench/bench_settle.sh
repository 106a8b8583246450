#!/usr/bin/env bash
# tests/bench/bench_settle.sh BUILD — settlement on the local 4-validator
# network: (1) sales settled per second at saturation, one signed sale per
# tx, "settled" meaning the sale's postings have arrived on the postings feed
# of every validator; (2) the same for CSV batches of 2,000 sales per tx;
# (3) the submit-to-readable-on-every-validator latency p50/p99 at a steady
# offered load of half the saturation rate (target: p99 <= 1 s). Each figure
# is the median of BENCH_SETTLE_RUNS runs (default 3). Prints figures; never
# fails on speed.
set -euo pipefail
build=${1:-build}
export CLUSTER_BUILD="$PWD/$build"
source "$(dirname "$0")/../cluster/node_common.sh"
CL_REMOVE_ON_EXIT=1 # the chain a benchmark builds is gigabytes
runs=${BENCH_SETTLE_RUNS:-3}
count=${BENCH_SETTLE_COUNT:-6000}

cl_init settle-bench 21800
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30
export HALLMARK_GENESIS="$CL_DIR/genesis.json"
admin="$CL_DIR/admin.key"
for k in streamer agency; do "$HALLMARK" keygen --out "$CL_DIR/$k.key" >/dev/null; done
P=$("$HALLMARK" key show --key "$admin")
S=$("$HALLMARK" key show --key "$CL_DIR/streamer.key")
A=$("$HALLMARK" key show --key "$CL_DIR/agency.key")
M=$("$HALLMARK" split id --creator "$P" --name bench-mcn)
T=$("$HALLMARK" split id --creator "$P" --name bench-top)
nodes=()
for n in v1 v2 v3 v4; do nodes+=(--node "$(cl_url "$n")"); done

"$HALLMARK" split create --key "$admin" --name bench-mcn --currency CNY \
    --share "$S=7000" --share "$A=3000" --node "$(cl_url v1)" >/dev/null
sleep 1.5
"$HALLMARK" split create --key "$admin" --name bench-top --currency CNY \
    --share "$P=1000" --share "split:$M=9000" --node "$(cl_url v1)" >/dev/null
for _ in $(seq 1 50); do
    "$HALLMARK" split show --key "$admin" "$T" --node "$(cl_url v4)" >/dev/null 2>&1 && break
    sleep 0.2
done

field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "saturation: $count one-sale txs as fast as accepted, $runs runs"
: >"$CL_DIR/sat"
for i in $(seq 1 "$runs"); do
    out=$("$HALLMARK" sale load --key "$admin" --contract "$T" --currency CNY "${nodes[@]}" \
        --count "$count" --timeout 180 || true)
    echo "  $out"
    echo "$out" | field settled_per_s >>"$CL_DIR/sat"
done
sat=$(median <"$CL_DIR/sat")
# the same chain's ceiling for signed txs that do nothing: NOTE txs, same count
: >"$CL_DIR/note"
for i in $(seq 1 "$runs"); do
    out=$("$HALLMARK" load --genesis "$HALLMARK_GENESIS" "${nodes[@]}" --count "$count" \
        --timeout 180 || true)
    echo "  note txs: $out" | tr -d '\n'
    echo
    echo "$out" | field committed_tps >>"$CL_DIR/note"
done
note=$(median <"$CL_DIR/note")
echo "settle: saturation $sat sales/s (one signed sale per tx, readable on all 4 validators);" \
    "ceiling: ${note:-?} NOTE tx/s committed on the same network"

half=$(awk -v s="$sat" 'BEGIN { h = int(s / 2); print (h < 1 ? 1 : h) }')
n=$((half * 20))
[ "$n" -le 20000 ] || n=20000
[ "$n" -ge 200 ] || n=200
echo "latency: $n sales at a steady $half sales/s (half of saturation), $runs runs"
: >"$CL_DIR/p50"
: >"$CL_DIR/p99"
for i in $(seq 1 "$runs"); do
    out=$("$HALLMARK" sale load --key "$admin" --contract "$T" --currency CNY "${nodes[@]}" \
        --count "$n" --rate "$half" --timeout 180 || true)
    echo "  $out"
    echo "$out" | field p50_ms >>"$CL_DIR/p50"
    echo "$out" | field p99_ms >>"$CL_DIR/p99"
done
# reference: commit latency of NOTE txs (seen committed on one node) at the same rate
out=$("$HALLMARK" load --genesis "$HALLMARK_GENESIS" "${nodes[@]}" --count "$n" --rate "$half" \
    --timeout 180 || true)
echo "  note txs: $out"
echo "settle: submit-to-readable on every validator at $half sales/s: p50 $(median <"$CL_DIR/p50") ms," \
    "p99 $(median <"$CL_DIR/p99") ms (target p99 <= 1000 ms); NOTE txs at the same rate, commit" \
    "seen on one node: p50 $(echo "$out" | field p50_ms) ms, p99 $(echo "$out" | field p99_ms) ms"

# Batches last: their 1 MB txs are the hardest on the peer links.
echo "batches: 5 CSV batches of 2,000 sales, $runs runs"
: >"$CL_DIR/batch"
for i in $(seq 1 "$runs"); do
    for b in 1 2 3 4 5; do
        f="$CL_DIR/batch-$i-$b.csv"
        echo "order_id,gross,currency,contract,gtin,serial,session,streamer" >"$f"
        seq 1 2000 | sed "s/.*/b$i-$b-&,$((1000 + b)),CNY,$T,,,,/" >>"$f"
    done
    clearing() {
        "$HALLMARK" balance --key "$admin" "s$P" --node "$(cl_url "$1")" 2>/dev/null |
            tr -d ' \n' | sed -n 's/.*"available":\(-\{0,1\}[0-9]*\).*/\1/p'
    }
    before=$(clearing v4)
    start=$(date +%s%N)
    for b in 1 2 3 4 5; do
        "$HALLMARK" sale record --key "$admin" --csv "$CL_DIR/batch-$i-$b.csv" \
            --node "$(cl_url v$b)" >/dev/null 2>&1 || "$HALLMARK" sale record --key "$admin" \
            --csv "$CL_DIR/batch-$i-$b.csv" --node "$(cl_url v1)" >/dev/null 2>&1
    done
    want=$((before - 2000 * (1001 + 1002 + 1003 + 1004 + 1005)))
    for _ in $(seq 1 600); do
        done_all=1
        for n in v1 v2 v3 v4; do [ "$(clearing "$n")" = "$want" ] || done_all=0; done
        [ "$done_all" = 1 ] && break
        sleep 0.05
    done
    ms=$((($(date +%s%N) - start) / 1000000))
    rate=$((10000 * 1000 / (ms > 0 ? ms : 1)))
    echo "  10000 sales in ${ms} ms: $rate sales/s"
    echo "$rate" >>"$CL_DIR/batch"
done
echo "settle: batched $(median <"$CL_DIR/batch") sales/s (2,000 sales per tx, readable on all 4 validators)"
echo "settle: load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores shared)"
