#!/usr/bin/env bash
# tests/bench/bench_prov.sh BUILD — item registration on the local
# 4-validator network: records committed per second for one signed batch of
# 1,000 / 10,000 / 100,000 items, "committed" meaning the batch's last item
# is readable on every validator, timed from the moment `hallmark item
# register` starts (so the client's encoding, Merkle root and signature are
# included). Each figure is the median of BENCH_PROV_RUNS runs (default 3).
# Beside each, the ceiling measured by the same benchmark in the same run:
# RocksDB alone writing the very same state writes into four databases
# (BUILD/bench/bench_prov_store), and the ratio (target >= 0.5); then the
# signature verifications per record and bytes stored per record from the
# same tool. Prints figures; never fails on speed.
set -euo pipefail
build=${1:-build}
export CLUSTER_BUILD="$PWD/$build"
source "$(dirname "$0")/../cluster/node_common.sh"
runs=${BENCH_PROV_RUNS:-3}
sizes=${BENCH_PROV_SIZES:-"1000 10000 100000"}
store_bench="$CLUSTER_BUILD/bench/bench_prov_store"
GTIN=10614141073464

cl_init prov-bench 28400
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30
export HALLMARK_GENESIS="$CL_DIR/genesis.json"
admin="$CL_DIR/admin.key"
"$HALLMARK" keygen --out "$CL_DIR/bench-brand.key" >/dev/null
B=$("$HALLMARK" key show --key "$CL_DIR/bench-brand.key")
wait_ok() { # wait_ok ID
    local j
    for _ in $(seq 1 600); do
        j=$(curl -s --max-time 2 "$(cl_url v1)/v1/txs/$1" || true)
        case "$j" in *'"committed"'*) return 0 ;; esac
        sleep 0.1
    done
    cl_fail "tx $1 not committed"
}
tx() {
    local out
    out=$("$HALLMARK" "$@" --node "$(cl_url v1)" 2>/dev/null) || cl_fail "hallmark $*"
    wait_ok "$(echo "$out" | tr -d ' \n' | sed -n 's/.*"tx":"\([0-9a-f]\{64\}\)".*/\1/p')"
}
tx member add --key "$admin" --member "$B" --role brand --name Bench
tx prefix assign --key "$admin" --prefix 0614141 --brand "$B"
tx product set --key "$CL_DIR/bench-brand.key" --gtin "$GTIN" --name Bench
ph=$(curl -s "$(cl_url v1)/v1/prov/products/$GTIN" | cl_field product_hash)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

batch=0
for n in $sizes; do
    : >"$CL_DIR/rate-$n"
    for r in $(seq 1 "$runs"); do
        batch=$((batch + 1))
        csv="$CL_DIR/items-$batch.csv"
        awk -v n="$n" -v g="$GTIN" -v b="$batch" 'BEGIN { for (i = 1; i <= n; i++)
            printf "%s,B%dS%d,L%d,301231\n", g, b, i, int(i / 10000) }' >"$csv"
        start=$(date +%s%N)
        "$HALLMARK" item register --key "$CL_DIR/bench-brand.key" --file "$csv" \
            --product-hash "$ph" --node "$(cl_url v1)" >/dev/null 2>&1 || cl_fail "register $n"
        for v in v1 v2 v3 v4; do
            for _ in $(seq 1 3000); do
                code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
                    "$(cl_url "$v")/v1/prov/items/$GTIN/B${batch}S$n" || true)
                [ "$code" = 200 ] && break
                sleep 0.02
            done
            [ "$code" = 200 ] || cl_fail "batch $batch not readable on $v"
        done
        end=$(date +%s%N)
        echo $((n * 1000000000 / (end - start))) >>"$CL_DIR/rate-$n"
        rm -f "$csv"
    done
    rate=$(median <"$CL_DIR/rate-$n")
    line=$("$store_bench" "$n")
    ceiling=$(echo "$line" | field rocksdb4_rps)
    ratio=$(awk -v a="$rate" -v b="$ceiling" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    echo "prov: batch $n: $rate records/s committed on 4 validators (median of $runs);" \
        "RocksDB alone x4: ${ceiling%.*} records/s; ratio $ratio (target >= 0.5);" \
        "sigs/record $(echo "$line" | field sigs_per_record);" \
        "bytes/record $(echo "$line" | field bytes_per_record) (values $(echo "$line" |
            field value_bytes_per_record), record $(echo "$line" | field record_bytes))"
done
