#!/usr/bin/env bash
# Four validators start; transactions submitted to all of them commit on
# all, with identical block hashes and state roots at every height.
source "$(dirname "$0")/node_common.sh"

cl_init commit 21000
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30

cl_log "submitting 400 txs spread over the four validators"
out=$(cl_load --node "$(cl_url v1)" --node "$(cl_url v2)" --node "$(cl_url v3)" \
    --node "$(cl_url v4)" --count 400 --rate 200 --timeout 60 --ids "$CL_DIR/ids") ||
    cl_fail "load did not commit everything: $out"
echo "$out"
[ "$(echo "$out" | cl_field committed)" = 400 ] || cl_fail "not all txs committed"

h=$(cl_height v1)
for n in v2 v3 v4; do cl_wait_height "$n" "$h" 20; done
cl_same_chain "$h" v1 v2 v3 v4

# every node reports every tx committed, at the same height
for id in $(head -n 20 "$CL_DIR/ids"); do
    ref=""
    for n in v1 v2 v3 v4; do
        j=$(curl -s "$(cl_url "$n")/v1/txs/$id")
        [ "$(echo "$j" | cl_field status)" = committed ] || cl_fail "$n: tx $id: $j"
        at=$(echo "$j" | cl_field height)
        [ -z "$ref" ] || [ "$ref" = "$at" ] || cl_fail "tx $id at $ref and $at"
        ref=$at
    done
done

# API errors are JSON with the right status
code=$(curl -s -o "$CL_DIR/err.json" -w '%{http_code}' -X POST --data-binary 'garbage' \
    -H 'Content-Type: application/octet-stream' "$(cl_url v1)/v1/txs")
[ "$code" = 400 ] || cl_fail "garbage tx: status $code"
grep -q '"error"' "$CL_DIR/err.json" || cl_fail "garbage tx: no JSON error"
head -c $((17 * 1024 * 1024)) /dev/zero >"$CL_DIR/big.bin"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$CL_DIR/big.bin" \
    -H 'Content-Type: application/octet-stream' "$(cl_url v1)/v1/txs")
[ "$code" = 413 ] || cl_fail "oversized body: status $code"
rm -f "$CL_DIR/big.bin"
code=$(curl -s -o /dev/null -w '%{http_code}' "$(cl_url v1)/v1/blocks/999999")
[ "$code" = 404 ] || cl_fail "missing block: status $code"
# HEAD: the headers GET gets, with the body's length, and no body (so a
# keep-alive connection stays in step), on every kind of read route
for p in /v1/status "/v1/blocks/1" /metrics "/v1/txs/$(printf '%064d' 0)" /v1/prov/products/x; do
    python3 - "$(cl_port v1)" "$p" <<'PY' || cl_fail "HEAD $p"
import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\nGET %s HTTP/1.1\r\nHost: x\r\n"
          b"Connection: close\r\n\r\n" % (path.encode(), path.encode()))
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
head, rest = data.split(b"\r\n\r\n", 1)
def length(h):
    for line in h.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return None
if not rest.startswith(b"HTTP/1.1 "):
    sys.exit("HEAD answer carried a body: %r" % rest[:80])
ghead, gbody = rest.split(b"\r\n\r\n", 1)
if head.split(b" ")[1] != ghead.split(b" ")[1]:
    sys.exit("HEAD status %r, GET %r" % (head[:20], ghead[:20]))
if length(head) != len(gbody) or length(ghead) != len(gbody):
    sys.exit("HEAD length %r, GET length %r, GET body %d bytes" % (length(head), length(ghead), len(gbody)))
PY
done
# a route's prefix is a whole path segment
for p in /v1/txsX /v1/statusX /metricsX /epcis/captureX; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$(cl_url v1)$p")
    [ "$code" = 404 ] || cl_fail "$p: status $code, not 404"
done
curl -s "$(cl_url v1)/metrics" | grep -q '^hallmark_txs_committed_total 400' ||
    cl_fail "metrics do not count 400 committed txs"

# a second instance on the same data directory is refused
if (cd "$CL_DIR/v1" && timeout 10 "$HALLMARKD" --config node.json 2>/dev/null); then
    cl_fail "a second instance on v1's data directory started"
fi

cl_stop v1 v2 v3 v4
grep -q 'event=stopped.*clean=1' "$CL_DIR/v1/node.log" || cl_fail "v1 did not stop cleanly"
cl_log "ok: identical chains up to height $h"
