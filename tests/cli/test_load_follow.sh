#!/usr/bin/env bash
# tests/cli/test_load_follow.sh BUILD — `hallmark load`'s chain follower,
# against a scripted node: every tx the node reports in a committed block is
# counted once, at the height of that block, whether the block's "txs" array
# is in the node's own compact form (read straight from the text) or in any
# other JSON form (spaces, upper-case hex: parsed with jansson), over one or
# two blocks; an id that does not decode is skipped, never counted, and the
# txs it leaves uncommitted make the command fail.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
hm="${1:?usage: test_load_follow.sh BUILD_DIR}/hallmark"

# The node: accepts every POST /v1/txs; GET /v1/status says height 0;
# GET /v1/blocks/1 and /2 hold the ids the generator wrote (its --ids file,
# written before it sends anything), the first half and the rest, laid out
# as MODE says; any other height is not there yet (404).
cat >"$work/node.py" <<'PY'
import http.server, json, sys

port_file, ids_file, mode = sys.argv[1], sys.argv[2], sys.argv[3]


def block(height):
    ids = [l.strip() for l in open(ids_file) if l.strip()]
    half = len(ids) // 2
    ids = ids[:half] if height == 1 else ids[half:]
    if mode == "upper":
        ids = [i.upper() for i in ids]
    if mode == "bad" and height == 1:
        ids[0] = ids[0][:-1]  # 63 digits: not an id
    head = {"height": height, "hash": "ab" * 32, "chain_id": "t", "time_ms": 1}
    cert = {"round": 0, "block_id": "cd" * 32, "sigs": [{"validator": 0, "sig": "ef" * 64}]}
    if mode == "spaced":
        return json.dumps(dict(head, txs=ids, cert=cert), indent=1)
    # the node's form: jansson's compact output, "txs" between other members
    return json.dumps(dict(head, txs=ids, cert=cert), separators=(",", ":"))


class Node(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer(202, '{"tx":"' + "00" * 32 + '"}\n')

    def do_GET(self):
        if self.path == "/v1/status":
            self.answer(200, '{"height":0}')
        elif self.path in ("/v1/blocks/1", "/v1/blocks/2"):
            self.answer(200, block(int(self.path[-1])))
        else:
            self.answer(404, '{"error":"not_found","message":"no block"}')

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Node)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os

os.rename(port_file + ".tmp", port_file)
server.serve_forever()
PY

"$hm" genesis init --out "$work/net" --validators 1 --chain-id t >/dev/null ||
    { echo "FAIL: genesis init"; exit 1; }

# run MODE COUNT TIMEOUT_S: the generator against a fresh scripted node
run() {
    local mode=$1 count=$2 timeout=$3 pid port=""
    rm -f "$work/port" "$work/ids" "$work/committed"
    : >"$work/ids"
    python3 "$work/node.py" "$work/port" "$work/ids" "$mode" &
    pid=$!
    for _ in $(seq 1 100); do
        [ -s "$work/port" ] && break
        sleep 0.05
    done
    port=$(cat "$work/port" 2>/dev/null)
    expect_rc "$4" "$mode: load" "$hm" load --genesis "$work/net/genesis.json" \
        --node "http://127.0.0.1:$port" --count "$count" --connections 2 --timeout "$timeout" \
        --ids "$work/ids" --committed "$work/committed"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

field() { echo "$out" | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"; }

for mode in compact spaced upper; do
    run "$mode" 40 20 0
    expect_eq 40 "$(field accepted)" "$mode: accepted"
    expect_eq 40 "$(field committed)" "$mode: committed"
    expect_eq 2 "$(field blocks)" "$mode: blocks followed"
    # every id once, the first half at height 1 and the rest at 2
    expect_eq 40 "$(sort -u "$work/committed" | wc -l)" "$mode: ids in the committed file"
    expect_eq "$(head -n 20 "$work/ids" | sed 's/$/ 1/'; tail -n 20 "$work/ids" | sed 's/$/ 2/')" \
        "$(tr 'A-F' 'a-f' <"$work/committed" | sort -k2,2n -s)" "$mode: ids and heights"
done

# one id of block 1 cut short: the other 39 count, and the load fails
run bad 40 2 1
expect_eq 39 "$(field committed)" "bad: committed"
expect_eq 39 "$(wc -l <"$work/committed")" "bad: ids in the committed file"
expect_eq "" "$(grep -F "$(head -n 1 "$work/ids")" "$work/committed")" "bad: the cut id is not counted"
finish
