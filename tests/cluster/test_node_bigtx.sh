#!/usr/bin/env bash
# Maximum-size batches back to back: item batches of 100,000 records (the
# most a batch may hold, long serials and lots: ~10 MB each; 4 unless
# BIGTX_BATCHES says) are submitted at once, spread over the validators. Every batch must commit on every
# node, the chain must keep committing afterwards, no peer link may be
# dropped (a busy peer is backpressure, not a fault) and the chains must be
# identical.
source "$(dirname "$0")/node_common.sh"

cl_init bigtx 29000
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30
export HALLMARK_GENESIS="$CL_DIR/genesis.json"
GTIN=10614141073464
n=100000
batches=${BIGTX_BATCHES:-4}

wait_tx() { # wait_tx NODE ID TIMEOUT_S
    local j
    for _ in $(seq 1 $(($3 * 10))); do
        j=$(curl -s --max-time 2 "$(cl_url "$1")/v1/txs/$2" || true)
        case "$j" in *'"committed"'*) return 0 ;; esac
        sleep 0.1
    done
    cl_fail "$1: tx $2 not committed in $3 s"
}
tx_id() { tr -d ' \n' | sed -n 's/.*"tx":"\([0-9a-f]\{64\}\)".*/\1/p'; }
setup() {
    local out
    out=$("$HALLMARK" "$@" --node "$(cl_url v1)" 2>&1) || cl_fail "hallmark $*: $out"
    wait_tx v1 "$(echo "$out" | tx_id)" 30
}

"$HALLMARK" keygen --out "$CL_DIR/big-brand.key" >/dev/null
B=$("$HALLMARK" key show --key "$CL_DIR/big-brand.key")
setup member add --key "$CL_DIR/admin.key" --member "$B" --role brand --name Big
setup prefix assign --key "$CL_DIR/admin.key" --prefix 0614141 --brand "$B"
setup product set --key "$CL_DIR/big-brand.key" --gtin "$GTIN" --name Big
ph=$(curl -s "$(cl_url v1)/v1/prov/products/$GTIN" | cl_field product_hash)
[ -n "$ph" ] || cl_fail "no product hash"

for b in $(seq 1 "$batches"); do
    awk -v n="$n" -v g="$GTIN" -v b="$b" 'BEGIN { for (i = 1; i <= n; i++)
        printf "%s,B%dX%017d,LOT%d-%015d,301231\n", g, b, i, b, int(i / 1000) }' \
        >"$CL_DIR/items-$b.csv"
done
h0=$(cl_height v1)
cl_log "submitting $batches batches of $n records at once, spread over the validators (height $h0)"
pids=()
for b in $(seq 1 "$batches"); do
    "$HALLMARK" item register --key "$CL_DIR/big-brand.key" --file "$CL_DIR/items-$b.csv" \
        --product-hash "$ph" --node "$(cl_url "v$(((b - 1) % 4 + 1))")" >"$CL_DIR/out-$b" 2>&1 &
    pids+=($!)
done
for b in $(seq 1 "$batches"); do
    wait "${pids[$((b - 1))]}" || cl_fail "register batch $b: $(cat "$CL_DIR/out-$b")"
done
for b in $(seq 1 "$batches"); do
    id=$(tx_id <"$CL_DIR/out-$b")
    [ -n "$id" ] || cl_fail "batch $b: no tx id: $(cat "$CL_DIR/out-$b")"
    for v in v1 v2 v3 v4; do wait_tx "$v" "$id" 120; done
    code=$(curl -s -o /dev/null -w '%{http_code}' "$(cl_url v4)/v1/prov/items/$GTIN/B${b}X$(printf %017d $n)")
    [ "$code" = 200 ] || cl_fail "batch $b: last item not readable on v4 (status $code)"
done
cl_log "all batches committed; the chain must keep going"
h1=$(cl_height v1)
for v in v1 v2 v3 v4; do cl_wait_height "$v" $((h1 + 3)) 30; done
cl_same_chain $((h1 + 3)) v1 v2 v3 v4
if grep -h 'event=peer_disconnected\|event=peer_rejected' "$CL_DIR"/v*/node.log; then
    cl_fail "a peer link was dropped or a peer rejected"
fi
rm -f "$CL_DIR"/items-*.csv
cl_stop v1 v2 v3 v4
cl_log "ok: $batches x $n records committed from height $h0, chain at $((h1 + 3)) on all nodes"
