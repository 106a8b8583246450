#!/usr/bin/env bash
# tests/bench/bench_consumer.sh BUILD — consumer lookups against one node
# with 1,000,000 items stored, next to nginx serving a static file of the same
# size on the same machine in the same run.
#
# Starts a single-validator node (BUILD/bench-consumer, HTTP on
# $HALLMARK_BENCH_PORT, default 17900, its resolver listener on that port
# + 180 as `hallmark genesis init` assigns it), registers the demo items plus
# $CONSUMER_BENCH_ITEMS bulk items (default 1,000,000, in batches of 100,000)
# with tests/browser/demo_data, then runs wrk (1 thread, 16 connections) on
# the resolver port (node/lane.c):
#   page   GET /01/{gtin}/21/{random bulk serial}            (HTML)
#   json   the same with Accept: application/json            (data + proof)
#   hot    both again over 100 items only (one live stream's goods)
# the API port's page (random serials) for comparison, and
#   nginx  a static file as large as a page, one worker process
# Each figure is the median of $CONSUMER_BENCH_RUNS runs (default 3) of
# $CONSUMER_BENCH_SECONDS seconds (default 5), each run with serials of its
# own, after one run of random lookups that fills RocksDB's block cache
# (printed as "first run (cold)"). Prints requests/s, p50, p99 and
# the ratio to nginx (targets: >= 0.5 of nginx, p99 < 10 ms). Measures only:
# exits non-zero only if something could not run. DEMO_CFLAGS adds flags to
# the demo tool's build (as in tests/browser/run.sh).
#
# Beside requests/s it prints the CPU time each server spent per request
# (utime + stime of the process, all its threads, from /proc, over the run,
# divided by the requests wrk completed): on a machine shared with other
# work, requests/s moves with the load, CPU per request much less.
set -uo pipefail
build=${1:?usage: tests/bench/bench_consumer.sh BUILD_DIR}
cd "$(dirname "$0")/../.."
root=$PWD
port=${HALLMARK_BENCH_PORT:-17900}
nginx_port=$((port + 90))
items=${CONSUMER_BENCH_ITEMS:-1000000}
runs=${CONSUMER_BENCH_RUNS:-3}
seconds=${CONSUMER_BENCH_SECONDS:-5}
work="$root/$build/bench-consumer"
url="http://127.0.0.1:$port"
lane_url="http://127.0.0.1:$((port + 180))"

for tool in wrk nginx curl cc; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
        echo "bench_consumer: $tool is missing (scripts/deps.sh bench installs it)" >&2
        exit 1
    }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

rm -rf "$work"
mkdir -p "$work/txs" "$work/nginx/www" "$work/nginx/tmp"
demo="$work/demo_data"
# shellcheck disable=SC2046
cc -std=c11 -O2 ${DEMO_CFLAGS:-} -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Ilib -Icontracts \
    tests/browser/demo_data.c "$build/libct.a" "$build/libhm.a" \
    $(pkg-config --libs libsecp256k1 libcrypto jansson) -o "$demo" || exit 1

"$build/hallmark" genesis init --out "$work/net" --validators 1 --base-port "$port" >/dev/null ||
    exit 1
(cd "$work/net/v1" && exec "$root/$build/hallmarkd" --config node.json 2>node.log) &
node_pid=$!
nginx_pid=
stop() {
    kill -TERM "$node_pid" 2>/dev/null
    wait "$node_pid" 2>/dev/null
    if [ -n "$nginx_pid" ]; then
        kill -TERM "$nginx_pid" 2>/dev/null
        wait "$nginx_pid" 2>/dev/null
    fi
    rm -rf "$work" # a million items: gigabytes
}
trap stop EXIT
for _ in $(seq 1 100); do
    curl -s --max-time 1 "$url/v1/status" | grep -q '"height":[1-9]' && break
    sleep 0.1
done

chain=$(sed -n 's/.*"chain_id": *"\([^"]*\)".*/\1/p' "$work/net/genesis.json" | head -1)
t0=$(date +%s)
"$demo" --keys "$work/net" --chain-id "$chain" --out "$work/txs" --now-ms "$(date +%s%3N)" \
    --bulk "$items" >"$work/txs/list" || exit 1
tests/browser/submit.sh "$url" "$work/txs" || exit 1
echo "loaded $items bulk items (+4 demo items) in $(($(date +%s) - t0)) s"

# Two access patterns: every lookup a random one of all the items (nothing
# the node keeps helps), and lookups over the 100 items of one live stream
# (the node's kept answers help: only the counter is written per lookup).
write_lua() {
    cat >"$1" <<EOF
math.randomseed(tonumber(os.getenv("BENCH_SEED") or "42"))
local accept = os.getenv("BENCH_ACCEPT") or "text/html"
request = function()
    local path = string.format("/01/09520123456788/21/B%07d", math.random(0, $2 - 1))
    return wrk.format("GET", path, { ["Accept"] = accept })
end
EOF
}
serial_lua="$work/page.lua"
hot_lua="$work/hot.lua"
write_lua "$serial_lua" "$items"
write_lua "$hot_lua" 100

# The static file: exactly as large as a page answer.
curl -s "$url/01/09520123456788/21/B0000000" -o "$work/nginx/www/page.html"
curl -s -H 'Accept: application/json' "$url/01/09520123456788/21/B0000000" \
    -o "$work/nginx/www/page.json"
page_bytes=$(wc -c <"$work/nginx/www/page.html")
json_bytes=$(wc -c <"$work/nginx/www/page.json")
[ "$page_bytes" -gt 1000 ] || {
    echo "bench_consumer: the page did not render ($page_bytes bytes)" >&2
    exit 1
}
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$work/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp;
    proxy_temp_path $work/nginx/tmp;
    fastcgi_temp_path $work/nginx/tmp;
    uwsgi_temp_path $work/nginx/tmp;
    scgi_temp_path $work/nginx/tmp;
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/nginx/www;
        etag on;
        types { text/html html; application/json json; }
    }
}
EOF
"$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
sleep 0.5
# The one worker serves; the master only waits.
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)
[ -n "$nginx_worker" ] || {
    echo "bench_consumer: nginx did not start (see $work/nginx/error.log)" >&2
    exit 1
}

ticks=$(getconf CLK_TCK)
# CPU ticks (user + system, all threads) the process pid has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# One wrk run against the server process pid: prints
# "req/s p50_ms p99_ms cpu_us_per_request".
wrk_once() {
    local out c0 c1
    c0=$(cpu_ticks "$4")
    out=$(BENCH_ACCEPT="$2" BENCH_SEED="${seed:-42}" wrk -t1 -c16 -d"${seconds}s" --latency ${3:+-s "$3"} "$1" 2>&1)
    c1=$(cpu_ticks "$4")
    local rps p50 p99 n
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    n=$(awk '/ requests in / {print $1}' <<<"$out")
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") $(awk -v c=$((c1 - c0)) -v n="${n:-0}" -v t="$ticks" \
        'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / t / n; else print 0 }')"
}
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n }'
}
# Median of $runs runs per column.
measure() {
    local rows=() i
    for i in $(seq 1 "$runs"); do rows+=("$(seed=$((42 + i)) wrk_once "$@")"); done
    printf '%s\n' "${rows[@]}" | awk -v n="$runs" '
        { r[NR] = $1; a[NR] = $2; b[NR] = $3; c[NR] = $4 }
        function med(x,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                if (x[j] + 0 < x[i] + 0) { t = x[i]; x[i] = x[j]; x[j] = t }
            return x[int((n + 1) / 2)] }
        END { printf "%.0f %.2f %.2f %.1f\n", med(r), med(a), med(b), med(c) }'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Right after loading, RocksDB's block cache is empty: the first random
# lookups read their table blocks from the file system. One run of random
# lookups (seeded apart from the measured ones) touches nearly every block of
# the item rows (~200,000 lookups over ~30,000 blocks), as a node that has
# served for a while has; it is printed as its own row, then every measured
# run draws its own serials (seeds 43, 44, ...), so no run repeats another's.
read -r cold_rps cold_p50 cold_p99 cold_cpu < <(seed=7 wrk_once "$lane_url" "text/html" \
    "$serial_lua" "$node_pid")
cold_rps=$(printf '%.0f' "$cold_rps")
read -r page_rps page_p50 page_p99 page_cpu < <(measure "$lane_url" "text/html" "$serial_lua" \
    "$node_pid")
read -r api_rps api_p50 api_p99 api_cpu < <(measure "$url" "text/html" "$serial_lua" "$node_pid")
read -r json_rps json_p50 json_p99 json_cpu < <(measure "$lane_url" "application/json" \
    "$serial_lua" "$node_pid")
read -r hot_rps hot_p50 hot_p99 hot_cpu < <(measure "$lane_url" "text/html" "$hot_lua" "$node_pid")
read -r hotj_rps hotj_p50 hotj_p99 hotj_cpu < <(measure "$lane_url" "application/json" "$hot_lua" \
    "$node_pid")
read -r ngx_rps ngx_p50 ngx_p99 ngx_cpu < <(measure "http://127.0.0.1:$nginx_port/page.html" \
    "text/html" "" "$nginx_worker")
read -r ngxj_rps ngxj_p50 ngxj_p99 ngxj_cpu < <(measure "http://127.0.0.1:$nginx_port/page.json" \
    "application/json" "" "$nginx_worker")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "consumer lookups, $items items stored, wrk 1 thread 16 connections, median of $runs x ${seconds}s"
echo "(resolver port $((port + 180)); \"API port\": the same lookups through the API's libevent server):"
# "CPU vs nginx": nginx's CPU per request over the node's (comparable with
# the req/s ratio, and much less moved by other work on the machine).
row() {
    printf '  %-28s %9s %9s %9s %9s %9s %9s\n' "$@"
}
row "" "req/s" "p50 ms" "p99 ms" "vs nginx" "CPU us/rq" "CPU vs ng"
row "page HTML ($page_bytes B)" "$page_rps" "$page_p50" "$page_p99" \
    "$(ratio "$page_rps" "$ngx_rps")" "$page_cpu" "$(ratio "$ngx_cpu" "$page_cpu")"
row "page HTML, first run (cold)" "$cold_rps" "$cold_p50" "$cold_p99" \
    "$(ratio "$cold_rps" "$ngx_rps")" "$cold_cpu" "$(ratio "$ngx_cpu" "$cold_cpu")"
row "page HTML, API port" "$api_rps" "$api_p50" "$api_p99" \
    "$(ratio "$api_rps" "$ngx_rps")" "$api_cpu" "$(ratio "$ngx_cpu" "$api_cpu")"
row "page HTML, 100 hot items" "$hot_rps" "$hot_p50" "$hot_p99" \
    "$(ratio "$hot_rps" "$ngx_rps")" "$hot_cpu" "$(ratio "$ngx_cpu" "$hot_cpu")"
row "nginx static ($page_bytes B)" "$ngx_rps" "$ngx_p50" "$ngx_p99" "1.00" "$ngx_cpu" "1.00"
row "JSON + proof ($json_bytes B)" "$json_rps" "$json_p50" "$json_p99" \
    "$(ratio "$json_rps" "$ngxj_rps")" "$json_cpu" "$(ratio "$ngxj_cpu" "$json_cpu")"
row "JSON + proof, 100 hot items" "$hotj_rps" "$hotj_p50" "$hotj_p99" \
    "$(ratio "$hotj_rps" "$ngxj_rps")" "$hotj_cpu" "$(ratio "$ngxj_cpu" "$hotj_cpu")"
row "nginx static ($json_bytes B)" "$ngxj_rps" "$ngxj_p50" "$ngxj_p99" "1.00" "$ngxj_cpu" "1.00"
echo "  targets: >= 0.50 of nginx, p99 < 10 ms"
# Other work on the machine moves every figure: say how busy it was.
echo "  load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
