#!/usr/bin/env bash
# Settlement end to end on four validators: nested split contracts, 10,000
# sales in CSV batches and some refunds through the CLI; the balances read
# from every validator agree and add up; the server-sent-events feeds of two
# validators deliver every posting once, in order, live; signed reads work
# and unsigned, stale, replayed or wrong-key ones are refused without saying
# whether the account exists.
source "$(dirname "$0")/node_common.sh"

SALES=${SETTLE_E2E_SALES:-10000}
BATCH=2000

cl_init settle 21400
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30
G="$CL_DIR/genesis.json"
export HALLMARK_GENESIS="$G"
admin="$CL_DIR/admin.key" # a genesis admin: may create contracts and record sales
for k in streamer agency stranger; do "$HALLMARK" keygen --out "$CL_DIR/$k.key" >/dev/null; done
A=$("$HALLMARK" key show --key "$admin")
S=$("$HALLMARK" key show --key "$CL_DIR/streamer.key")
Y=$("$HALLMARK" key show --key "$CL_DIR/agency.key")

cl_log "contracts: platform 10% + MCN contract 90% (streamer 70%, agency 30%)"
M=$("$HALLMARK" split id --creator "$A" --name mcn)
T=$("$HALLMARK" split id --creator "$A" --name top)
cl_submit split create --key "$admin" --name mcn --currency CNY --window-ms 600000 \
    --share "$S=7000" --share "$Y=3000" >/dev/null
cl_submit split create --key "$admin" --name top --currency CNY --window-ms 600000 \
    --share "$A=1000" --share "split:$M=9000" >/dev/null
"$HALLMARK" split show --key "$CL_DIR/stranger.key" "$T" --node "$(cl_url v2)" | grep -q '"shares"' ||
    cl_fail "split show"

cl_log "feeds on v1 and v2 from now on (live), signed by the admin"
for n in v1 v2; do
    "$HALLMARK" sign-request --key "$admin" --path /v1/feed/postings >"$CL_DIR/feed-$n.h"
    curl -sN --max-time 600 -H @"$CL_DIR/feed-$n.h" "$(cl_url "$n")/v1/feed/postings" \
        >"$CL_DIR/feed-$n.txt" &
    CL_PID[feed$n]=$!
done
sleep 1
start_seq=$(sed -n 's/^: hallmark postings after \([0-9]*\)$/\1/p' "$CL_DIR/feed-v1.txt")
[ -n "$start_seq" ] || cl_fail "feed did not start: $(head -c 300 "$CL_DIR/feed-v1.txt")"

cl_log "$SALES sales in batches of $BATCH"
total=0
for b in $(seq 0 $(((SALES - 1) / BATCH))); do
    f="$CL_DIR/sales-$b.csv"
    echo "order_id,gross,currency,contract,gtin,serial,session,streamer" >"$f"
    for i in $(seq $((b * BATCH)) $(((b + 1) * BATCH - 1))); do
        [ "$i" -lt "$SALES" ] || break
        g=$((1000 + (i * 7919) % 99001))
        total=$((total + g))
        echo "o-$i,$g,CNY,$T,,,live-$((i % 3)),$S"
    done >>"$f"
    cl_submit sale record --key "$admin" --csv "$f" >/dev/null
done

cl_log "refunds: partial, several, full"
refunded=0
for i in 0 1 2 3 4; do
    g=$((1000 + (i * 7919) % 99001))
    cl_submit refund --key "$admin" --order "o-$i" --amount 333 --currency CNY >/dev/null
    cl_submit refund --key "$admin" --order "o-$i" --amount $((g - 333)) --currency CNY >/dev/null
    refunded=$((refunded + g))
done
cl_submit refund --key "$admin" --order o-9 --amount 1 --currency CNY >/dev/null
refunded=$((refunded + 1))
# over-refund is refused by the chain
out=$("$HALLMARK" refund --key "$admin" --order o-0 --amount 1 --currency CNY \
    --node "$(cl_url v1)")
id=$(echo "$out" | tr -d ' \n' | sed -n 's/.*"tx":"\([0-9a-f]\{64\}\)".*/\1/p')
for _ in $(seq 1 100); do
    j=$(curl -s "$(cl_url v1)/v1/txs/$id")
    [ "$(echo "$j" | cl_field status)" = committed ] && break
    sleep 0.1
done
[ "$(echo "$j" | cl_field result)" = conflict ] || cl_fail "over-refund not refused: $j"

cl_log "balances agree on all four validators"
h=$(cl_height v1)
for n in v2 v3 v4; do cl_wait_height "$n" "$h" 30; done
bal() { # bal NODE KEYFILE ACCOUNT -> "pending available" of CNY
    "$HALLMARK" balance --key "$2" "$3" --node "$(cl_url "$1")" | tr -d ' \n' |
        sed -n 's/.*"currency":"CNY","pending":\(-\{0,1\}[0-9]*\),"available":\(-\{0,1\}[0-9]*\).*/\1 \2/p'
}
for who in "streamer.key $S" "agency.key $Y" "admin.key $A"; do
    set -- $who
    ref=$(bal v1 "$CL_DIR/$1" "$2")
    [ -n "$ref" ] || cl_fail "no balance for $1"
    for n in v2 v3 v4; do
        got=$(bal "$n" "$CL_DIR/$1" "$2")
        [ "$got" = "$ref" ] || cl_fail "$1 on $n: $got, on v1: $ref"
    done
    echo "$1: $ref"
done
ps=$(bal v1 "$CL_DIR/streamer.key" "$S")
py=$(bal v1 "$CL_DIR/agency.key" "$Y")
pa=$(bal v1 "$admin" "$A")
sum=$((${ps% *} + ${ps#* } + ${py% *} + ${py#* } + ${pa% *} + ${pa#* }))
[ "$sum" = $((total - refunded)) ] || cl_fail "parts $sum != gross $total - refunds $refunded"
clear=$("$HALLMARK" balance --key "$admin" "s$A" --node "$(cl_url v3)" | tr -d ' \n' |
    sed -n 's/.*"available":\(-\{0,1\}[0-9]*\).*/\1/p')
[ "$clear" = "-$((total - refunded))" ] || cl_fail "clearing $clear != -($total - $refunded)"

cl_log "signed reads: refusals"
code() { curl -s -o "$CL_DIR/out.json" -w '%{http_code}' "$@"; }
p="/v1/accounts/m$S/balance"
[ "$(code "$(cl_url v1)$p")" = 401 ] || cl_fail "unsigned read not 401"
"$HALLMARK" sign-request --key "$CL_DIR/stranger.key" --path "$p" >"$CL_DIR/h1"
[ "$(code -H @"$CL_DIR/h1" "$(cl_url v1)$p")" = 403 ] || cl_fail "wrong key not 403"
ghost="/v1/accounts/m$(printf '%064d' 7)/balance"
"$HALLMARK" sign-request --key "$CL_DIR/stranger.key" --path "$ghost" >"$CL_DIR/h2"
[ "$(code -H @"$CL_DIR/h2" "$(cl_url v1)$ghost")" = 403 ] || cl_fail "unknown account not 403"
"$HALLMARK" sign-request --key "$CL_DIR/streamer.key" --path "$p" >"$CL_DIR/h3"
[ "$(code -H @"$CL_DIR/h3" "$(cl_url v1)$p")" = 200 ] || cl_fail "owner read not 200"
[ "$(code -H @"$CL_DIR/h3" "$(cl_url v1)$p")" = 401 ] || cl_fail "replayed read not 401"
sed 's/^X-Hallmark-Time: .*/X-Hallmark-Time: 1000/' "$CL_DIR/h1" >"$CL_DIR/h4"
[ "$(code -H @"$CL_DIR/h4" "$(cl_url v1)$p")" = 401 ] || cl_fail "stale read not 401"
"$HALLMARK" statement --key "$CL_DIR/streamer.key" "$S" --csv --node "$(cl_url v2)" \
    >"$CL_DIR/statement.csv" || cl_fail "statement"
head -n 1 "$CL_DIR/statement.csv" | grep -q '^seq,time_ms' || cl_fail "statement CSV header"
[ "$(wc -l <"$CL_DIR/statement.csv")" -gt "$SALES" ] || cl_fail "statement too short"
# a bound too long to read is refused, not ignored (that would widen the answer)
sp="/v1/accounts/m$S/statement"
long=from=$(printf '1%.0s' $(seq 1 40))
"$HALLMARK" sign-request --key "$CL_DIR/streamer.key" --path "$sp" --query "$long" >"$CL_DIR/h6"
[ "$(code -H @"$CL_DIR/h6" "$(cl_url v1)$sp?$long")" = 400 ] ||
    cl_fail "an over-long from= not 400: $(head -c 300 "$CL_DIR/out.json")"
"$HALLMARK" sign-request --key "$admin" --path "/v1/sales/$A/o-0" >"$CL_DIR/h5"
curl -s -H @"$CL_DIR/h5" "$(cl_url v4)/v1/sales/$A/o-0" | grep -q '"refunded":' ||
    cl_fail "sale tree"

cl_log "totals per streamer and per live session add up"
signed_get() { # signed_get NODE KEYFILE PATH QUERY -> body (status checked by the caller)
    "$HALLMARK" sign-request --key "$2" --path "$3" --query "$4" >"$CL_DIR/hq"
    curl -s -H @"$CL_DIR/hq" "$(cl_url "$1")$3?$4"
}
st=$(signed_get v2 "$CL_DIR/streamer.key" "/v1/streamers/$S" currency=CNY | tr -d ' \n')
[ "$st" = "{\"currency\":\"CNY\",\"sales\":$SALES,\"gross\":$total,\"refunded\":$refunded,\"net\":$((total - refunded))}" ] ||
    cl_fail "streamer totals: $st"
sg=0
for k in 0 1 2; do
    j=$(signed_get v3 "$admin" "/v1/sessions/$A/live-$k" currency=CNY | tr -d ' \n')
    g=$(echo "$j" | sed -n 's/.*"gross":\([0-9]*\).*/\1/p')
    [ -n "$g" ] || cl_fail "session live-$k: $j"
    sg=$((sg + g))
done
[ "$sg" = "$total" ] || cl_fail "session totals $sg != $total"
"$HALLMARK" sign-request --key "$CL_DIR/streamer.key" --path "/v1/streamers/$S/x" \
    --query currency=CNY >"$CL_DIR/hq"
[ "$(code -H @"$CL_DIR/hq" "$(cl_url v1)/v1/streamers/$S/x?currency=CNY")" = 404 ] ||
    cl_fail "/v1/streamers/{key}/x not 404"
"$HALLMARK" sign-request --key "$CL_DIR/stranger.key" --path "/v1/streamers/$S" \
    --query currency=CNY >"$CL_DIR/hq"
[ "$(code -H @"$CL_DIR/hq" "$(cl_url v1)/v1/streamers/$S?currency=CNY")" = 403 ] ||
    cl_fail "a stranger reads streamer totals"

cl_log "a 1.5 s return window: pending turns available on every validator, then a payout"
"$HALLMARK" keygen --out "$CL_DIR/quick.key" >/dev/null
Q=$("$HALLMARK" key show --key "$CL_DIR/quick.key")
QC=$("$HALLMARK" split id --creator "$A" --name quick)
cl_submit split create --key "$admin" --name quick --currency EUR --window-ms 1500 \
    --share "$Q=10000" >/dev/null
cl_submit sale record --key "$admin" --contract "$QC" --order q-1 --gross 777 --currency EUR >/dev/null
eur() { # eur NODE -> "pending available" in EUR of the quick account
    "$HALLMARK" balance --key "$CL_DIR/quick.key" "$Q" --node "$(cl_url "$1")" | tr -d ' \n' |
        sed -n 's/.*"currency":"EUR","pending":\(-\{0,1\}[0-9]*\),"available":\(-\{0,1\}[0-9]*\).*/\1 \2/p'
}
# pending right after the commit (unless a slow machine already passed the window)
case "$(eur v1)" in "777 0" | "0 777") ;; *) cl_fail "quick sale: $(eur v1)" ;; esac
for n in v1 v2 v3 v4; do
    for _ in $(seq 1 100); do
        [ "$(eur "$n")" = "0 777" ] && break
        sleep 0.1
    done
    [ "$(eur "$n")" = "0 777" ] || cl_fail "$n: not matured: $(eur "$n")"
done
cl_submit payout --key "$admin" --account "$Q" --amount 700 --currency EUR --reference bank-1 >/dev/null
[ "$(eur v1)" = "0 77" ] || cl_fail "payout not applied: $(eur v1)"

cl_log "feeds: every posting once, in order, the same on v1 and v2"
"$HALLMARK" sign-request --key "$admin" --path /v1/feed/postings >"$CL_DIR/feed-end.h"
# (curl ends by its time limit: the feed never ends by itself)
last=$({ curl -sN --max-time 2 -H @"$CL_DIR/feed-end.h" "$(cl_url v1)/v1/feed/postings" || true; } |
    sed -n 's/^: hallmark postings after \([0-9]*\)$/\1/p')
[ -n "$last" ] || cl_fail "no journal position"
for _ in $(seq 1 100); do
    n1=$(grep -c '^id: ' "$CL_DIR/feed-v1.txt" || true)
    n2=$(grep -c '^id: ' "$CL_DIR/feed-v2.txt" || true)
    [ "$n1" -ge $((last - start_seq)) ] && [ "$n2" -ge $((last - start_seq)) ] && break
    sleep 0.2
done
for n in v1 v2; do
    grep '^id: ' "$CL_DIR/feed-$n.txt" | cut -c5- >"$CL_DIR/ids-$n"
    seq $((start_seq + 1)) "$last" | cmp -s - "$CL_DIR/ids-$n" ||
        cl_fail "feed $n: not exactly ids $((start_seq + 1))..$last once in order"
done
cmp -s <(grep '^data: ' "$CL_DIR/feed-v1.txt") <(grep '^data: ' "$CL_DIR/feed-v2.txt") ||
    cl_fail "feeds of v1 and v2 differ"
echo "feeds: $((last - start_seq)) postings each"
cl_log "PASS"
