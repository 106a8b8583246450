#!/usr/bin/env bash
# tests/browser/run.sh BUILD_DIR — the consumer page in a real browser.
#
# Starts a single-validator network of its own (BUILD_DIR/browser-net, HTTP
# on $HALLMARK_BROWSER_PORT, default 17800, the resolver listener on that
# port + 180, idle timeout 3 s), puts the demo data on it
# (tests/browser/demo_data.c, built here against BUILD_DIR's archives),
# installs playwright-core from the npm registry if node_modules is missing
# (never a browser: Debian's /usr/bin/chromium is used), runs
# consumer.test.js at a phone viewport (item pages and the claim on the
# resolver port, one page and the QR code on the API port), then
# lane_check.py (the resolver's answers byte for byte against the API
# port's, and its refusals of bad requests), stops the node, and prints
# "N passed, N failed". Screenshots go to tests/artifacts/. Exits non-zero on
# any failure. Before the browser, the same node's bundles are checked with
# `hallmark verify` (among them a batch of 3,000 bulk items, before and after
# a restart of the node) and labels made with `hallmark qr`. DEMO_CFLAGS adds
# flags to the demo tool's build (e.g. -fsanitize=address,undefined when
# BUILD_DIR holds sanitizer archives).
set -uo pipefail
build=${1:?usage: tests/browser/run.sh BUILD_DIR}
cd "$(dirname "$0")/../.."
root=$PWD
port=${HALLMARK_BROWSER_PORT:-17800}
net="$root/$build/browser-net"
artifacts="$root/tests/artifacts"
url="http://127.0.0.1:$port"
resolver_port=$((port + 180))
resolver="http://127.0.0.1:$resolver_port"
idle_s=3

fail() {
    echo "browser: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

[ -x /usr/bin/chromium ] || fail "chromium is missing (scripts/deps.sh test installs it)"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh test installs it)"
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
        --loglevel=error >/dev/null) || fail "npm ci of playwright-core failed"
fi

mkdir -p "$root/$build/tests/browser" "$artifacts"
demo="$root/$build/tests/browser/demo_data"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Werror ${DEMO_CFLAGS:-} -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Ilib \
    -Icontracts tests/browser/demo_data.c "$build/libct.a" "$build/libhm.a" \
    $(pkg-config --libs libsecp256k1 libcrypto jansson) -o "$demo" || fail "cannot build demo_data"

rm -rf "$net"
"$build/hallmark" genesis init --out "$net" --validators 1 --base-port "$port" >/dev/null ||
    fail "genesis init failed"
# A short idle timeout, so that lane_check.py sees a dripped request closed.
python3 - "$net/v1/node.json" "$idle_s" <<'PY' || fail "cannot set the idle timeout"
import json, sys
c = json.load(open(sys.argv[1]))
c["http_idle_timeout_s"] = int(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
grep -q "\"resolver_listen\": \"127.0.0.1:$resolver_port\"" "$net/v1/node.json" ||
    fail "genesis init did not set resolver_listen"
(cd "$net/v1" && exec "$root/$build/hallmarkd" --config node.json 2>node.log) &
node_pid=$!
stop() {
    kill -TERM "$node_pid" 2>/dev/null
    wait "$node_pid" 2>/dev/null
}
trap stop EXIT

for _ in $(seq 1 100); do
    curl -s --max-time 1 "$url/v1/status" | grep -q '"height":[1-9]' && break
    sleep 0.1
done
curl -s --max-time 1 "$url/v1/status" | grep -q '"height":[1-9]' || fail "node did not start"

chain=$(sed -n 's/.*"chain_id": *"\([^"]*\)".*/\1/p' "$net/genesis.json" | head -1)
mkdir -p "$net/txs"
# 3,000 bulk items (serials B0000000...) in one batch: large enough that the
# node builds its record tree when the block commits (node/http_consumer.c).
"$demo" --keys "$net" --chain-id "$chain" --out "$net/txs" --now-ms "$(date +%s%3N)" \
    --bulk 3000 >"$net/txs/list" || fail "demo_data failed"
tests/browser/submit.sh "$url" "$net/txs" || fail "demo data did not commit"

# The command-line side of the same data: offline verification of what the
# page serves, and QR labels. Counted with the browser's checks.
cli_passed=0
cli_failed=0
cli_check() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then
        cli_passed=$((cli_passed + 1))
        echo "ok   $name"
    else
        cli_failed=$((cli_failed + 1))
        echo "FAIL $name"
    fi
}
hm="$root/$build/hallmark"
out="$net/cli"
mkdir -p "$out"
curl -s -H 'Accept: application/json' "$url/01/09520123456788/21/GEN1" -o "$out/gen1.json"
cli_check "hallmark verify accepts the page's JSON proof" \
    "$hm" verify "$out/gen1.json" --genesis "$net/genesis.json"
# Items of the bulk batch, whose proofs come from the tree kept at commit:
# first, middle and last record, each checked offline, and a path taken from
# another record's position must fail.
bulk_ok() {
    curl -s -H 'Accept: application/json' "$url/01/09520123456788/21/$1" -o "$out/$1.json" &&
        grep -q '"proof":' "$out/$1.json" &&
        "$hm" verify "$out/$1.json" --genesis "$net/genesis.json"
}
for s in B0000000 B0001499 B0002999; do
    cli_check "hallmark verify accepts the proof of bulk item $s" bulk_ok "$s"
done
bulk_tx=$(tail -n 1 "$net/txs/list" | cut -d' ' -f2)
curl -s -H 'Accept: application/octet-stream' "$url/v1/proofs/$bulk_tx/2999" -o "$out/bulk-last.bin"
cli_check "hallmark verify accepts the binary bundle of the last bulk record" \
    "$hm" verify "$out/bulk-last.bin" --genesis "$net/genesis.json"
swapped() {
    # B0001499's proof with B0000000's record path: must not verify. The
    # swapped file must have been written, with a path that differs, or the
    # failure below would prove nothing.
    rm -f "$out/swapped.json"
    python3 - "$out/B0000000.json" "$out/B0001499.json" "$out/swapped.json" <<'PY' || return 1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def first_record(j):
    return next(e for e in j["proof"]["entries"] if "record_path" in e)
if first_record(a)["record_path"] == first_record(b)["record_path"]:
    sys.exit("the two record paths are the same")
first_record(b)["record_path"] = first_record(a)["record_path"]
json.dump(b, open(sys.argv[3], "w"))
PY
    ! "$hm" verify "$out/swapped.json" --genesis "$net/genesis.json"
}
cli_check "a bulk proof with another record's path fails verification" swapped
cli_check "the bulk batch's record tree was built when its block committed" \
    bash -c "grep -q 'event=consumer_tree_built.*records=3000 from=commit' '$net/v1/node.log' &&
             ! grep -q 'event=consumer_tree_built.*from=lookup' '$net/v1/node.log'"
# The page's ETag stands for its exact bytes: the counter moves with every
# lookup, so the tag of the previous answer must not earn a 304.
etag_moves() {
    local page="$url/01/09520123456788/21/B0000007" e1 e2 code
    e1=$(curl -s -D - -o /dev/null "$page" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
    e2=$(curl -s -D - -o /dev/null "$page" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $e1" "$page")
    [ -n "$e1" ] && [ -n "$e2" ] && [ "$e1" != "$e2" ] && [ "$code" = 200 ]
}
cli_check "the page's ETag changes with its counter and an old one gets no 304" etag_moves
# After a restart nothing is kept: the first lookup builds the batch's tree
# again, and the proof it serves is the same one.
restart_node() {
    stop
    (cd "$net/v1" && exec "$root/$build/hallmarkd" --config node.json 2>>node.log) &
    node_pid=$!
    for _ in $(seq 1 100); do
        curl -s --max-time 1 "$url/v1/status" | grep -q '"height":[1-9]' && return 0
        sleep 0.1
    done
    return 1
}
rebuilt_same() {
    restart_node &&
        curl -s -H 'Accept: application/json' "$url/01/09520123456788/21/B0001499" |
        python3 -c 'import json, sys
a = json.load(sys.stdin)["proof"]
b = json.load(open(sys.argv[1]))["proof"]
sys.exit(0 if a == b else 1)' "$out/B0001499.json" &&
        grep -q 'event=consumer_tree_built.*records=3000 from=lookup' "$net/v1/node.log"
}
cli_check "after a restart the first lookup rebuilds the tree and serves the same proof" \
    rebuilt_same
reg_tx=$(sed -n '4p' "$net/txs/list" | cut -d' ' -f2)
curl -s -H 'Accept: application/octet-stream' "$url/v1/proofs/$reg_tx/0" -o "$out/rec0.bin"
cli_check "hallmark verify accepts a binary record bundle" \
    "$hm" verify "$out/rec0.bin" --genesis "$net/genesis.json"
flipped() {
    local off=$1 byte
    cp "$out/rec0.bin" "$out/flipped.bin"
    byte=$(od -An -tu1 -j "$off" -N1 "$out/rec0.bin" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "$(printf '\\%03o' $((byte ^ 1)))" |
        dd of="$out/flipped.bin" bs=1 seek="$off" conv=notrunc 2>/dev/null
    ! cmp -s "$out/rec0.bin" "$out/flipped.bin" &&
        ! "$hm" verify "$out/flipped.bin" --genesis "$net/genesis.json"
}
size=$(wc -c <"$out/rec0.bin")
cli_check "a flipped byte in a served bundle fails verification" flipped $((size / 2))
printf '{"chain_id":"other","validators":[{"consensus_pubkey":"%s"}]}' \
    "$(sed -n 's/.*"consensus_pubkey": *"\([0-9a-f]*\)".*/\1/p' "$net/genesis.json" | head -1)" \
    >"$out/other-genesis.json"
cli_check "a bundle checked against another genesis fails" \
    bash -c "! '$hm' verify '$out/rec0.bin' --genesis '$out/other-genesis.json'"
cli_check "hallmark qr writes an SVG label" bash -c \
    "'$hm' qr --gtin 9520123456788 --serial GEN1 --base-url '$url' --out '$out/gen1.svg' &&
     grep -q '<title>$url/01/09520123456788/21/GEN1</title>' '$out/gen1.svg'"
cli_check "hallmark qr writes a PNG label" bash -c \
    "'$hm' qr --gtin 9520123456788 --serial GEN1 --out '$out/gen1.png' &&
     [ \"\$(head -c 8 '$out/gen1.png' | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a ]"
cli_check "hallmark qr --sheet lays out a range" bash -c \
    "'$hm' qr --sheet --gtin 9520123456788 --from 1 --to 25 --serial-prefix S --out '$out/sheet.svg' &&
     [ \"\$(grep -c '<g><title>' '$out/sheet.svg')\" = 25 ]"
cp "$out/gen1.svg" "$out/gen1.png" "$out/sheet.svg" "$artifacts/" 2>/dev/null

(cd tests/browser && node consumer.test.js "$url" "$artifacts" "$resolver") |
    tee "$net/browser.log" | grep -v '^[0-9]* passed, [0-9]* failed$'
browser_passed=$(sed -n 's/^\([0-9]*\) passed, [0-9]* failed$/\1/p' "$net/browser.log")
browser_failed=$(sed -n 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p' "$net/browser.log")
python3 tests/browser/lane_check.py 127.0.0.1 "$port" "$resolver_port" "$idle_s" |
    tee "$net/lane.log" | grep -v '^[0-9]* passed, [0-9]* failed$'
lane_passed=$(sed -n 's/^\([0-9]*\) passed, [0-9]* failed$/\1/p' "$net/lane.log")
lane_failed=$(sed -n 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p' "$net/lane.log")
passed=$((cli_passed + ${browser_passed:-0} + ${lane_passed:-0}))
failed=$((cli_failed + ${browser_failed:-1} + ${lane_failed:-1}))
echo "$passed passed, $failed failed"
((failed == 0))
