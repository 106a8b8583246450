#!/usr/bin/env bash
# tests/browser/submit.sh URL DIR — submits DIR/NN.tx in order to the node at
# URL (POST /v1/txs) and waits for each to commit before the next, so that
# each sees the state the previous one wrote. Fails (exit 1) naming the tx if
# one is refused by the node or by its contract. Used by the browser test and
# the consumer benchmark with the files tests/browser/demo_data writes.
set -euo pipefail
url=$1
dir=$2
for f in "$dir"/*.tx; do
    answer=$(curl -s --max-time 60 -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary @"$f" "$url/v1/txs")
    id=$(sed -n 's/.*"tx":"\([0-9a-f]*\)".*/\1/p' <<<"$answer")
    if [ -z "$id" ]; then
        echo "submit: $(basename "$f") refused: $answer" >&2
        exit 1
    fi
    for _ in $(seq 1 600); do
        status=$(curl -s --max-time 5 "$url/v1/txs/$id" || true)
        case "$status" in
        *'"status":"committed"'*) break ;;
        esac
        sleep 0.1
    done
    case "$status" in
    *'"result":"ok"'*) ;;
    *)
        echo "submit: $(basename "$f") did not apply: $status" >&2
        exit 1
        ;;
    esac
done
