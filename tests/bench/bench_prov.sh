#!/usr/bin/env bash
# tests/bench/bench_prov.sh BUILD — item registration on the local
# 4-validator network, two figures per batch size N (1,000 / 10,000 /
# 100,000), "committed" meaning readable on every validator:
#
#   - sustained: records committed per second. M batches of N items, signed
#     before the clock starts (like `hallmark load`), POSTed back to back
#     over one keep-alive connection; timed from the first submission until
#     the last item of every batch is readable on all four validators. This
#     is the throughput figure. The clock stops when the last batch is
#     readable on all four; then, off the clock, every earlier batch must
#     have been committed at a height no later than the last one's (a
#     validator's state at a height holds every lower height, so those were
#     readable then too), else the run waits for it and stops the clock
#     again. Polling each of M x 4 items instead cost more than the work
#     measured: an item lookup carries its registration proof, built from
#     the whole block (several ms for blocks of many batches), so 200
#     batches of 1,000 spent seconds in polls after the last commit.
#   - one batch: the latency of a single batch of N, from the moment
#     `hallmark item register` starts (so the client's CSV parsing, encoding,
#     Merkle root and signature are in) until its last item is readable on
#     all four; printed in seconds and as N divided by that time. For a small
#     batch this is mostly fixed latency (the wait for the next block,
#     consensus round trips, polling), not a throughput.
#
# Each figure is the median of BENCH_PROV_RUNS runs (default 5; every run's
# figure is printed beside it: a run that overlaps the validators' RocksDB
# flushes and compactions, or another program's burst on the machine, reads
# lower). The network runs for every size first; then the validators are
# stopped and, on the machine they leave idle, the ceilings are measured by
# the same benchmark in the same run (BUILD/bench/bench_prov_store):
#
#   - RocksDB alone x4, sustained: THE ceiling of the target (sustained rate
#     >= 0.5 of it). RocksDB alone writing what the validators' commits
#     wrote, in the same sequence and volume: for each size, RUNS times, M
#     batches timed then the one-batch run's batch untimed, with the
#     network's very items (B<b>S<i>, lot, expiry), the batches packed into
#     blocks as tightly as a proposer can (16 MiB), each block's state
#     writes, its bytes and its txs' index rows synced into four databases
#     in turn (four nodes on one machine) that persist across all sizes, as
#     the nodes' chains do (~4.5 million items each by the end). So it pays
#     memtable flushes and compactions as the nodes do (those of RocksDB's
#     default options in one column family; the nodes' families and options
#     differ), and no more synced commits than they can; each run's figure
#     and their median are printed, as for the network.
#   - RocksDB alone x4, one batch into empty databases: the same writes of
#     ONE batch of N into four fresh databases, a burst that never pays a
#     flush or a compaction (higher, and not what a network sustains);
#     printed beside it for comparison, with the ceiling of the state writes
#     alone (what this benchmark used before the brand's index went from one
#     row per item to one per batch);
#
# then the signature verifications per record and bytes stored per record
# from the same tool. Readability is polled every 10 ms. Prints figures;
# never fails on speed. Progress goes to stderr, the figures to stdout.
#
# Environment: BENCH_PROV_SIZES (default "1000 10000 100000"),
# BENCH_PROV_RUNS (1..21), BENCH_PROV_SUSTAINED_RECORDS (records per
# sustained run, default 200000, at least 4 batches; at most 1,000,000, as
# the sustained ceiling holds a run's batches in memory), BENCH_PROV_PORT (HTTP base port of
# the four validators, default 28400; peers use base+100).
set -euo pipefail
build=${1:-build}
export CLUSTER_BUILD="$PWD/$build"
source "$(dirname "$0")/../cluster/node_common.sh"
CL_REMOVE_ON_EXIT=1 # the chain a benchmark builds is gigabytes
runs=${BENCH_PROV_RUNS:-5}
sizes=${BENCH_PROV_SIZES:-"1000 10000 100000"}
sustained_records=${BENCH_PROV_SUSTAINED_RECORDS:-200000}
store_bench="$CLUSTER_BUILD/bench/bench_prov_store"
# the bounds the sustained ceiling takes, checked before the network's runs
((runs >= 1 && runs <= 21)) || cl_fail "BENCH_PROV_RUNS must be 1..21"
((sustained_records >= 1 && sustained_records <= 1000000)) ||
    cl_fail "BENCH_PROV_SUSTAINED_RECORDS must be 1..1000000"
seen=" "
for n in $sizes; do
    [[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= 100000)) || cl_fail "BENCH_PROV_SIZES: $n is not 1..100000"
    [[ $seen != *" $n "* ]] || cl_fail "BENCH_PROV_SIZES: $n given twice"
    seen+="$n "
done
(($(wc -w <<<"$sizes") <= 16)) || cl_fail "BENCH_PROV_SIZES: at most 16 sizes"
# the sustained ceiling's four databases: gigabytes, removed on any exit (the
# ceiling stopped first, so that nothing writes there any more)
sus_dir="$CLUSTER_BUILD/bench/prov-sustained.$$"
sus_pid=
trap 'if [ -n "$sus_pid" ]; then kill "$sus_pid" 2>/dev/null; wait "$sus_pid"; fi
rm -rf "$sus_dir" || true; cl_cleanup' EXIT
GTIN=10614141073464
VALIDATORS="v1 v2 v3 v4"

mkdir -p "$CLUSTER_BUILD/cluster"
cl_init prov-bench "${BENCH_PROV_PORT:-28400}"
cl_start $VALIDATORS
cl_wait_height v1 1 30
export HALLMARK_GENESIS="$CL_DIR/genesis.json"
admin="$CL_DIR/admin.key"
key="$CL_DIR/bench-brand.key"
"$HALLMARK" keygen --out "$key" >/dev/null
B=$("$HALLMARK" key show --key "$key")
cl_submit member add --key "$admin" --member "$B" --role brand --name Bench
cl_submit prefix assign --key "$admin" --prefix 0614141 --brand "$B"
cl_submit product set --key "$key" --gtin "$GTIN" --name Bench
ph=$(curl -s "$(cl_url v1)/v1/prov/products/$GTIN" | cl_field product_hash)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

batch=0
# new_csv N: the next batch number in $batch, a CSV of N fresh items
# (serials B<batch>S1..N) at $csv
new_csv() {
    batch=$((batch + 1))
    csv="$CL_DIR/items-$batch.csv"
    awk -v n="$1" -v g="$GTIN" -v b="$batch" 'BEGIN { for (i = 1; i <= n; i++)
        printf "%s,B%dS%d,L%d,301231\n", g, b, i, int(i / 10000) }' >"$csv"
}

# Polling without processes: one keep-alive HTTP/1.1 connection per
# validator through bash's /dev/tcp, and sleeps as read timeouts, so that the
# poller (every 10 ms) takes next to no CPU from the four nodes sharing the
# machine (a curl process costs ~5 ms of CPU; spawned every 10 ms it took a
# quarter of a core). LC_ALL=C: Content-Length counts bytes.
export LC_ALL=C
declare -A CONN=()
exec {SLEEP_FD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }
now_ns() { local t=$EPOCHREALTIME; echo "${t/./}000"; }
conn_open() { # conn_open V
    local fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$(cl_port "$1")" || return 1
    CONN[$1]=$fd
}
conn_close() { # conn_close V
    local fd=${CONN[$1]:-}
    if [ -n "$fd" ]; then exec {fd}>&-; fi
    unset "CONN[$1]"
}
# status_of V PATH: sets $status to the HTTP status of GET PATH on V ("000"
# if the connection failed; it is reopened on the next call).
status_of() {
    local line code len=0 fd req
    status=000
    [ -n "${CONN[$1]:-}" ] || conn_open "$1" 2>/dev/null || return 0
    fd=${CONN[$1]}
    # the request in one write: sent in pieces, the second would wait for
    # the server's delayed ACK (Nagle), 40 ms per request
    printf -v req 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' "$2"
    if ! printf '%s' "$req" 2>/dev/null 1>&"$fd" ||
        ! IFS= read -r -t 5 -u "$fd" line; then
        conn_close "$1"
        return 0
    fi
    code=${line#HTTP/1.1 }
    code=${code%% *}
    while IFS= read -r -t 5 -u "$fd" line; do
        line=${line%$'\r'}
        [ -z "$line" ] && break
        case ${line,,} in content-length:*) len=${line#*:} && len=${len// /} ;; esac
    done
    if ((len > 0)) && ! read -r -N "$len" -t 5 -u "$fd" _; then
        conn_close "$1"
        return 0
    fi
    status=$code
}

# wait_readable "V PATH"... : until each V answers 200 to its PATH, in the
# order given (batches commit in order): asks the first outstanding one
# again every 10 ms, and goes on to the next without waiting once it is
# readable.
wait_readable() {
    local pending=("$@") i=0 naps=0 v path
    while ((i < ${#pending[@]})); do
        read -r v path <<<"${pending[$i]}"
        status_of "$v" "$path"
        if [ "$status" = 200 ]; then
            i=$((i + 1))
            continue
        fi
        ((++naps < 60000)) || cl_fail "not readable on $v: $path"
        nap 0.01
    done
}

# "V PATH" of batch B's last item (the batch has N items), every validator
item_urls() {
    local v
    for v in $VALIDATORS; do echo "$v /v1/prov/items/$GTIN/B${1}S$2"; done
}

# reg_height B N: the height of the block that registered batch B (of N
# items), as v1 reports it in the last item's registration proof
reg_height() {
    curl -s --max-time 5 "$(cl_url v1)/v1/prov/items/$GTIN/B${1}S$2" |
        sed -n 's/.*"registration":{[^}]*"height": *\([0-9]*\).*/\1/p'
}

one_batch() { # one_batch N: $result = ns from the client's start to readable on all 4
    local n=$1 start end urls
    new_csv "$n"
    start=$(now_ns)
    "$HALLMARK" item register --key "$key" --file "$csv" \
        --product-hash "$ph" --node "$(cl_url v1)" >/dev/null 2>&1 || cl_fail "register $n"
    mapfile -t urls < <(item_urls "$batch" "$n")
    wait_readable "${urls[@]}"
    end=$(now_ns)
    rm -f "$csv"
    result=$((end - start))
}

sustained() { # sustained N M: $result = records/s, M batches of N sent back to back
    local n=$1 m=$2 j first start end
    local args=() urls=() codes
    first=$((batch + 1))
    for j in $(seq 1 "$m"); do
        new_csv "$n"
        "$HALLMARK" item register --key "$key" --file "$csv" --product-hash "$ph" \
            --out "$CL_DIR/tx-$batch.bin" >/dev/null 2>&1 || cl_fail "sign batch $batch"
        rm -f "$csv"
        # "Expect:" off: curl would otherwise wait for a 100-continue on big bodies
        ((j > 1)) && args+=(--next)
        args+=(-s -o /dev/null -w '%{http_code}\n' -H 'Expect:'
            -H 'Content-Type: application/octet-stream'
            --data-binary "@$CL_DIR/tx-$batch.bin" "$(cl_url v1)/v1/txs")
    done
    mapfile -t urls < <(item_urls "$batch" "$n")
    start=$(now_ns)
    mapfile -t codes < <(curl "${args[@]}" || true)
    for j in $(seq 0 $((m - 1))); do
        [ "${codes[$j]:-000}" = 202 ] || cl_fail "batch $((first + j)) not accepted (${codes[$j]:-none})"
    done
    wait_readable "${urls[@]}"
    end=$(now_ns)
    # off the clock: every earlier batch committed no later than the last
    local last h
    last=$(reg_height "$batch" "$n")
    [ -n "$last" ] || cl_fail "no registration height for batch $batch"
    for j in $(seq "$first" $((batch - 1))); do
        h=$(reg_height "$j" "$n")
        if [ -z "$h" ] || ((h > last)); then
            mapfile -t urls < <(item_urls "$j" "$n")
            wait_readable "${urls[@]}"
            end=$(now_ns)
        fi
    done
    rm -f "$CL_DIR"/tx-*.bin
    result=$((n * m * 1000000000 / (end - start)))
}

# m_of N: the batches of a sustained run of N
m_of() {
    local m=$((sustained_records / $1))
    ((m >= 4)) || m=4
    echo "$m"
}

specs=()
for n in $sizes; do
    m=$(m_of "$n")
    specs+=("$n:$m")
    : >"$CL_DIR/sus-$n"
    : >"$CL_DIR/lat-$n"
    for _ in $(seq 1 "$runs"); do
        sustained "$n" "$m"
        echo "$result" >>"$CL_DIR/sus-$n"
        one_batch "$n"
        echo "$result" >>"$CL_DIR/lat-$n"
    done
    cl_log "network, batches of $n: sustained $(paste -sd' ' "$CL_DIR/sus-$n") records/s" >&2
done

# The ceilings on a machine the validators no longer share.
for v in $VALIDATORS; do conn_close "$v"; done
# shellcheck disable=SC2086 # a list of names
cl_stop $VALIDATORS
# their chains (gigabytes) are of no more use: the figures are in CL_DIR
for v in $VALIDATORS; do rm -rf "${CL_DIR:?}/$v/data"; done
"$store_bench" --sustained "$sus_dir" "$runs" "${specs[@]}" >"$CL_DIR/ceiling-sustained" &
sus_pid=$!
wait "$sus_pid" || cl_fail "the sustained ceiling failed"
sus_pid=
rm -rf "$sus_dir"

for n in $sizes; do
    m=$(m_of "$n")
    sus=$(median <"$CL_DIR/sus-$n")
    lat_ns=$(median <"$CL_DIR/lat-$n")
    lat_rps=$((n * 1000000000 / lat_ns))
    sline=$(grep "^prov_store_sustained n=$n m=$m " "$CL_DIR/ceiling-sustained") ||
        cl_fail "no sustained ceiling for batches of $n"
    sus_runs=$(echo "$sline" | field run_rps | tr ',' '\n')
    sus_ceiling=$(echo "$sus_runs" | median)
    line=$("$store_bench" "$n")
    ceiling=$(echo "$line" | field rocksdb4_rps)
    ceiling=${ceiling%.*}
    state_ceiling=$(echo "$line" | field rocksdb4_state_rps)
    state_ceiling=${state_ceiling%.*}
    echo "prov: batches of $n, sustained ($m batches back to back): $sus records/s committed" \
        "on 4 validators (median of $runs: $(paste -sd' ' "$CL_DIR/sus-$n")); RocksDB alone x4," \
        "sustained (the same writes, same sequence, persisting databases): $sus_ceiling" \
        "records/s (median of $runs: $(echo "$sus_runs" | paste -sd' ')); ratio" \
        "$(ratio "$sus" "$sus_ceiling") (target >= 0.5); RocksDB alone x4, one batch into" \
        "empty databases: $ceiling records/s, ratio to it $(ratio "$sus" "$ceiling");" \
        "state writes alone, one batch: $state_ceiling records/s, ratio to it" \
        "$(ratio "$sus" "$state_ceiling")"
    echo "prov: one batch of $n, client start to readable on 4 validators:" \
        "$(awk -v t="$lat_ns" 'BEGIN { printf "%.2f", t / 1e9 }') s (median of $runs:" \
        "$(awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 / 1e9 }' "$CL_DIR/lat-$n")), i.e." \
        "$lat_rps records/s; ratio to RocksDB alone x4, one batch into empty databases" \
        "$(ratio "$lat_rps" "$ceiling")"
    echo "prov: batches of $n: sigs/record $(echo "$line" | field sigs_per_record);" \
        "bytes/record $(echo "$line" | field bytes_per_record) (values $(echo "$line" |
            field value_bytes_per_record), record $(echo "$line" | field record_bytes))"
done
