#!/usr/bin/env bash
# scripts/run-local.sh BUILD_DIR — `make run`: a 4-validator network on
# loopback, in the foreground.
#
# Creates run/ once (keys, TLS identities, genesis, configs via
# `hallmark genesis init`), starts the four nodes with their logs under
# run/vN/node.log, waits for the chain to advance, loads demo data by running
# every scripts/demo-*.sh (each item page the demos print is printed again on
# the first node's resolver listener, resolver_listen), prints each node's
# API and resolver addresses and the genesis file, then waits. Ctrl-C or SIGTERM stops all four nodes cleanly. A second
# run reuses run/ and resumes the chain.
#
# Environment: HALLMARK_RUN_DIR (default run), HALLMARK_BASE_PORT (default
# 7000: HTTP on 7000-7003, peers on 7100-7103, resolvers on 7180-7183).
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
run=${HALLMARK_RUN_DIR:-run}
base_port=${HALLMARK_BASE_PORT:-7000}
hallmarkd="$PWD/$build/hallmarkd"
hallmark="$PWD/$build/hallmark"
[ -x "$hallmarkd" ] && [ -x "$hallmark" ] || {
    echo "run-local: build $build/hallmarkd and $build/hallmark first (make run does)" >&2
    exit 2
}

if [ ! -f "$run/genesis.json" ]; then
    "$hallmark" genesis init --out "$run" --validators 4 --base-port "$base_port" >/dev/null
    echo "run-local: created a new network in $run/"
fi

pids=()
stop() {
    trap - INT TERM EXIT
    if ((${#pids[@]})); then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
    echo "run-local: stopped"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

ports=()
resolvers=()
for v in v1 v2 v3 v4; do
    (cd "$run/$v" && exec "$hallmarkd" --config node.json 2>>node.log) &
    pids+=($!)
    ports+=("$(sed -n 's/.*"http_listen": *"[^"]*:\([0-9]*\)".*/\1/p' "$run/$v/node.json")")
    # empty for a network made before nodes had a resolver listener
    resolvers+=("$(sed -n 's/.*"resolver_listen": *"[^"]*:\([0-9]*\)".*/\1/p' "$run/$v/node.json")")
done

height() {
    curl -s --max-time 1 "http://127.0.0.1:$1/v1/status" |
        sed -n 's/.*"height":\([0-9]*\).*/\1/p'
}

start=$(height "${ports[0]}" || true)
start=${start:-0}
for _ in $(seq 1 300); do
    h=$(height "${ports[0]}" || true)
    if [ -n "$h" ] && [ "$h" -gt "$start" ]; then break; fi
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || {
            echo "run-local: a node exited; see $run/v*/node.log" >&2
            if grep -qs "earlier version" "$run"/v*/node.log; then
                echo "run-local: $run/ holds a chain from an earlier version of Hallmark;" \
                    "remove it (rm -rf $run) and make run again for a new one" >&2
            fi
            exit 1
        }
    done
    sleep 0.1
done

export HALLMARK_NODE="http://127.0.0.1:${ports[0]}"
export HALLMARK_GENESIS="$PWD/$run/genesis.json"
export HALLMARK_RUN_DIR="$PWD/$run"
export HALLMARK_BUILD="$PWD/$build"
if [ -n "${resolvers[0]}" ]; then
    export HALLMARK_RESOLVER="http://127.0.0.1:${resolvers[0]}"
fi
# Each item page a demo prints on the API port, printed again on the
# resolver port (the address a label's QR code carries).
resolver_pages() {
    local line
    while IFS= read -r line; do
        printf '%s\n' "$line"
        if [ -n "${HALLMARK_RESOLVER:-}" ] && [[ "$line" == *"$HALLMARK_NODE/01/"* ]]; then
            printf '%s\n' "${line/"$HALLMARK_NODE"/"$HALLMARK_RESOLVER"}"
        fi
    done
}
for demo in scripts/demo-*.sh; do
    [ -e "$demo" ] || continue
    bash "$demo" | resolver_pages || echo "run-local: $demo failed (the network keeps running)" >&2
done

for i in "${!ports[@]}"; do
    if [ -n "${resolvers[$i]}" ]; then
        echo "http://127.0.0.1:${ports[$i]}  (resolver http://127.0.0.1:${resolvers[$i]})"
    else
        echo "http://127.0.0.1:${ports[$i]}"
    fi
done
echo "$PWD/$run/genesis.json"
echo "run-local: running; Ctrl-C stops all four nodes" >&2
wait "${pids[@]}"
