#!/usr/bin/env bash
# POST /v1/txs/batch: batches submitted to all four validators commit on
# all; a malformed batch is refused whole (not even its well-formed txs are
# admitted); a well-framed batch gets one verdict per tx, in order.
source "$(dirname "$0")/node_common.sh"

cl_init txbatch 20400
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30

for b in 0 1025 x; do
    rc=0
    "$HALLMARK" load --batch "$b" --count 1 >/dev/null 2>&1 || rc=$?
    [ "$rc" = 2 ] || cl_fail "load --batch $b: exit $rc, not a usage error (2)"
done

cl_log "600 txs in batches of 50 spread over the four validators"
out=$(cl_load --node "$(cl_url v1)" --node "$(cl_url v2)" --node "$(cl_url v3)" \
    --node "$(cl_url v4)" --count 600 --rate 300 --batch 50 --connections 2 --timeout 60 \
    --ids "$CL_DIR/ids") || cl_fail "load did not commit everything: $out"
echo "$out"
[ "$(echo "$out" | cl_field accepted)" = 600 ] || cl_fail "not all txs accepted"
[ "$(echo "$out" | cl_field committed)" = 600 ] || cl_fail "not all txs committed"
h=$(cl_height v1)
for n in v2 v3 v4; do cl_wait_height "$n" "$h" 20; done
cl_same_chain "$h" v1 v2 v3 v4
for id in $(sed -n '1p;50p;51p;600p' "$CL_DIR/ids"); do
    j=$(curl -s "$(cl_url v3)/v1/txs/$id")
    [ "$(echo "$j" | cl_field status)" = committed ] || cl_fail "v3: tx $id: $j"
done

# Two signed txs of the brand (event batches; admission checks the
# signature, not the contract rules, which run in a block).
doc() { # doc SERIAL
    printf '{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],'
    printf '"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-02-01T08:00:00Z",'
    printf '"epcisBody":{"eventList":[{"type":"ObjectEvent",'
    printf '"eventTime":"2026-02-01T08:00:00+08:00","eventTimeZoneOffset":"+08:00",'
    printf '"action":"OBSERVE","bizStep":"shipping",'
    printf '"epcList":["urn:epc:id:sgtin:0614141.107346.%s"]}]}}' "$1"
}
for s in 1 2; do
    doc "$s" >"$CL_DIR/doc$s.json"
    "$HALLMARK" epcis import "$CL_DIR/doc$s.json" --key "$CL_DIR/brand.key" \
        --genesis "$CL_DIR/genesis.json" --offline --out "$CL_DIR/tx$s" >/dev/null ||
        cl_fail "cannot sign tx $s"
    [ -s "$CL_DIR/tx$s.1" ] || cl_fail "no tx file $s"
done

# batch FILE... : the body of a batch holding these files' bytes; "CUT"
# appends an entry whose length runs past the end, "EMPTY" a zero length.
batch() {
    python3 - "$@" <<'PY'
import struct, sys
out = b""
for a in sys.argv[1:]:
    if a == "CUT":
        out += struct.pack(">I", 1000) + b"\x01\x02"
    elif a == "EMPTY":
        out += struct.pack(">I", 0)
    else:
        data = open(a, "rb").read()
        out += struct.pack(">I", len(data)) + data
sys.stdout.buffer.write(out)
PY
}
post() { # post BODYFILE [CONTENT-TYPE] -> status; the answer in $CL_DIR/ans
    curl -s -o "$CL_DIR/ans" -w '%{http_code}' -X POST --data-binary @"$1" \
        -H "Content-Type: ${2:-application/octet-stream}" "$(cl_url v2)/v1/txs/batch"
}

cl_log "malformed batches are refused whole"
for bad in CUT EMPTY; do
    batch "$CL_DIR/tx1.1" "$bad" >"$CL_DIR/bad.bin"
    code=$(post "$CL_DIR/bad.bin")
    [ "$code" = 400 ] || cl_fail "$bad entry: status $code: $(cat "$CL_DIR/ans")"
    grep -q '"error"' "$CL_DIR/ans" || cl_fail "$bad entry: no JSON error"
    grep -q 'entry 1' "$CL_DIR/ans" || cl_fail "$bad entry: the answer does not name entry 1"
done
: >"$CL_DIR/empty.bin"
[ "$(post "$CL_DIR/empty.bin")" = 400 ] || cl_fail "an empty batch was not refused"
batch "$CL_DIR/tx1.1" >"$CL_DIR/one.bin"
[ "$(post "$CL_DIR/one.bin" application/json)" = 415 ] || cl_fail "a JSON batch was not refused"
python3 -c "
import struct, sys
sys.stdout.buffer.write((struct.pack('>I', 1) + b'x') * 1025)" >"$CL_DIR/many.bin"
[ "$(post "$CL_DIR/many.bin")" = 413 ] || cl_fail "1,025 entries were not refused"
code=$(curl -s -o /dev/null -w '%{http_code}' "$(cl_url v2)/v1/txs/batch")
[ "$code" = 405 ] || cl_fail "GET /v1/txs/batch: status $code"
# tx1 was in every refused batch: none admitted it
code=$(curl -s -o "$CL_DIR/ans" -w '%{http_code}' -X POST --data-binary @"$CL_DIR/tx1.1" \
    -H 'Content-Type: application/octet-stream' "$(cl_url v2)/v1/txs")
[ "$code" = 202 ] || cl_fail "tx1 alone: status $code (a refused batch admitted it?): $(cat "$CL_DIR/ans")"
id1=$(cl_field tx <"$CL_DIR/ans")

cl_log "one verdict per tx, in order"
printf 'not a tx' >"$CL_DIR/junk.bin"
batch "$CL_DIR/tx2.1" "$CL_DIR/junk.bin" "$CL_DIR/tx1.1" >"$CL_DIR/mixed.bin"
code=$(post "$CL_DIR/mixed.bin")
[ "$code" = 202 ] || cl_fail "mixed batch: status $code: $(cat "$CL_DIR/ans")"
python3 - "$CL_DIR/ans" "$id1" <<'PY' || cl_fail "mixed batch answer: $(cat "$CL_DIR/ans")"
import json, sys
a = json.load(open(sys.argv[1]))
r = a["results"]
assert a["accepted"] == 1 and a["refused"] == 2 and len(r) == 3, a
assert set(r[0]) == {"tx"} and len(r[0]["tx"]) == 64, r[0]
assert "tx" not in r[1] and r[1]["error"] and r[1]["message"], r[1]
assert r[2] == {"tx": sys.argv[2], "error": "duplicate",
                "message": "this tx is already pending or committed"}, r[2]
PY
id2=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['tx'])" \
    "$CL_DIR/ans")
cl_wait_tx "$id1" v4 any
cl_wait_tx "$id2" v4 any
curl -s "$(cl_url v2)/metrics" | grep -q '^hallmark_rejected_total{source="tx"' ||
    cl_fail "the batch's refusals are not counted in /metrics"
cl_log "ok"
