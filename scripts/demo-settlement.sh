#!/usr/bin/env bash
# scripts/demo-settlement.sh — settlement demo data for `make run`.
#
# Run by scripts/run-local.sh once the network is up, with HALLMARK_NODE,
# HALLMARK_GENESIS, HALLMARK_RUN_DIR and HALLMARK_BUILD set. Creates (once)
# demo keys for a streamer and an agency, a nested split contract (platform
# 10%, MCN contract 90%: streamer 70%, agency 30%; 7-day return window),
# records a few sales and a partial refund, then prints each demo account's
# address and the `hallmark balance` command that reads it with a signed
# request. A second run reuses the keys and contracts and adds new sales.
set -euo pipefail
: "${HALLMARK_NODE:?}" "${HALLMARK_GENESIS:?}" "${HALLMARK_RUN_DIR:?}" "${HALLMARK_BUILD:?}"
hallmark="$HALLMARK_BUILD/hallmark"
dir="$HALLMARK_RUN_DIR/settle-demo"
mkdir -p "$dir"
admin="$HALLMARK_RUN_DIR/admin.key" # a genesis admin acts as the platform here
for k in streamer agency; do
    [ -f "$dir/$k.key" ] || "$hallmark" keygen --out "$dir/$k.key" >/dev/null
done
P=$("$hallmark" key show --key "$admin")
S=$("$hallmark" key show --key "$dir/streamer.key")
A=$("$hallmark" key show --key "$dir/agency.key")
M=$("$hallmark" split id --creator "$P" --name demo-mcn)
T=$("$hallmark" split id --creator "$P" --name demo-platform)

# submit ARGS...: a tx, then wait until the node has committed it
submit() {
    local out id j
    out=$("$hallmark" "$@") || return 1
    id=$(echo "$out" | tr -d ' \n' | sed -n 's/.*"tx":"\([0-9a-f]\{64\}\)".*/\1/p')
    for _ in $(seq 1 100); do
        j=$(curl -s --max-time 2 "$HALLMARK_NODE/v1/txs/$id")
        case "$j" in *'"committed"'*) echo "$j" | grep -q '"result":"ok"' && return 0 || return 1 ;; esac
        sleep 0.1
    done
    return 1
}

if ! "$hallmark" split show --key "$admin" "$T" >/dev/null 2>&1; then
    submit split create --key "$admin" --name demo-mcn --currency CNY \
        --share "$S=7000" --share "$A=3000"
    submit split create --key "$admin" --name demo-platform --currency CNY \
        --share "$P=1000" --share "split:$M=9000"
fi

run_id=$(date +%s)
csv="$dir/sales-$run_id.csv"
echo "order_id,gross,currency,contract,gtin,serial,session,streamer" >"$csv"
for i in 1 2 3 4 5; do
    echo "demo-$run_id-$i,$((i * 1999)),CNY,$T,,,demo-live,$S" >>"$csv"
done
submit sale record --key "$admin" --csv "$csv" 2>/dev/null
submit refund --key "$admin" --order "demo-$run_id-5" --amount 2000 --currency CNY

echo "settlement demo: contract $T (nested: $M), 5 sales, 1 partial refund"
show() { # show NAME KEYFILE ACCOUNT
    echo "  $1: $HALLMARK_NODE/v1/accounts/$3"
    echo "      $hallmark balance --key $2 $3 --node $HALLMARK_NODE --genesis $HALLMARK_GENESIS"
}
show streamer "$dir/streamer.key" "m$S"
show agency "$dir/agency.key" "m$A"
show platform "$admin" "m$P"
show "platform sales" "$admin" "s$P"
