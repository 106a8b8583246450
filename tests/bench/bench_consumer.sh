#!/usr/bin/env bash
# tests/bench/bench_consumer.sh BUILD — consumer lookups against one node
# with 1,000,000 items stored, next to nginx serving a static file of the same
# size on the same machine in the same run.
#
# Starts a single-validator node (BUILD/bench-consumer, HTTP on
# $HALLMARK_BENCH_PORT, default 17900), registers the demo items plus
# $CONSUMER_BENCH_ITEMS bulk items (default 1,000,000, in batches of 100,000)
# with tests/browser/demo_data, then runs wrk (1 thread, 16 connections) on:
#   page   GET /01/{gtin}/21/{random bulk serial}            (HTML)
#   json   the same with Accept: application/json            (data + proof)
#   hot    both again over 100 items only (one live stream's goods)
#   nginx  a static file as large as a page, one worker process
# Each figure is the median of $CONSUMER_BENCH_RUNS runs (default 3) of
# $CONSUMER_BENCH_SECONDS seconds (default 5). Prints requests/s, p50, p99 and
# the ratio to nginx (targets: >= 0.5 of nginx, p99 < 10 ms). Measures only:
# exits non-zero only if something could not run. DEMO_CFLAGS adds flags to
# the demo tool's build (as in tests/browser/run.sh).
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
math.randomseed(42)
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

# One wrk run: prints "req/s p50_ms p99_ms".
wrk_once() {
    local out
    out=$(BENCH_ACCEPT="$2" wrk -t1 -c16 -d"${seconds}s" --latency ${3:+-s "$3"} "$1" 2>&1)
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n }'
}
# Median of $runs runs per column.
measure() {
    local rows=()
    for _ in $(seq 1 "$runs"); do rows+=("$(wrk_once "$@")"); done
    printf '%s\n' "${rows[@]}" | awk -v n="$runs" '
        { r[NR] = $1; a[NR] = $2; b[NR] = $3 }
        function med(x,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                if (x[j] + 0 < x[i] + 0) { t = x[i]; x[i] = x[j]; x[j] = t }
            return x[int((n + 1) / 2)] }
        END { printf "%.0f %.2f %.2f\n", med(r), med(a), med(b) }'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
read -r page_rps page_p50 page_p99 < <(measure "$url" "text/html" "$serial_lua")
read -r json_rps json_p50 json_p99 < <(measure "$url" "application/json" "$serial_lua")
read -r hot_rps hot_p50 hot_p99 < <(measure "$url" "text/html" "$hot_lua")
read -r hotj_rps hotj_p50 hotj_p99 < <(measure "$url" "application/json" "$hot_lua")
read -r ngx_rps ngx_p50 ngx_p99 < <(measure "http://127.0.0.1:$nginx_port/page.html" "text/html")
read -r ngxj_rps ngxj_p50 ngxj_p99 < <(measure "http://127.0.0.1:$nginx_port/page.json" \
    "application/json")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "consumer lookups, $items items stored, wrk 1 thread 16 connections, median of $runs x ${seconds}s:"
printf '  %-28s %9s %9s %9s %9s\n' "" "req/s" "p50 ms" "p99 ms" "vs nginx"
printf '  %-28s %9s %9s %9s %9s\n' "page HTML ($page_bytes B)" "$page_rps" "$page_p50" \
    "$page_p99" "$(ratio "$page_rps" "$ngx_rps")"
printf '  %-28s %9s %9s %9s %9s\n' "page HTML, 100 hot items" "$hot_rps" "$hot_p50" \
    "$hot_p99" "$(ratio "$hot_rps" "$ngx_rps")"
printf '  %-28s %9s %9s %9s %9s\n' "nginx static ($page_bytes B)" "$ngx_rps" "$ngx_p50" "$ngx_p99" "1.00"
printf '  %-28s %9s %9s %9s %9s\n' "JSON + proof ($json_bytes B)" "$json_rps" "$json_p50" \
    "$json_p99" "$(ratio "$json_rps" "$ngxj_rps")"
printf '  %-28s %9s %9s %9s %9s\n' "JSON + proof, 100 hot items" "$hotj_rps" "$hotj_p50" \
    "$hotj_p99" "$(ratio "$hotj_rps" "$ngxj_rps")"
printf '  %-28s %9s %9s %9s %9s\n' "nginx static ($json_bytes B)" "$ngxj_rps" "$ngxj_p50" \
    "$ngxj_p99" "1.00"
echo "  targets: >= 0.50 of nginx, p99 < 10 ms"
# Other work on the machine moves every figure: say how busy it was.
echo "  load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
