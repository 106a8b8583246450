#!/usr/bin/env bash
# Provenance end to end on four validators and an observer: members, a
# brand's prefix and product, a batch of 100,000 items in one signed tx,
# EPCIS events imported from a standard JSON-LD document (commissioning,
# packing into a case, shipping the case), custody handed to logistics, a
# recall and a claim (a second claim refused). Everything is read back from
# a different validator and from the observer, with each record's proof.
source "$(dirname "$0")/node_common.sh"

ITEMS=${PROV_E2E_ITEMS:-100000}
GTIN=10614141073464

cl_init prov 26400 1
cl_start v1 v2 v3 v4 o1
cl_wait_height v1 1 30
export HALLMARK_GENESIS="$CL_DIR/genesis.json"
admin="$CL_DIR/admin.key"
for k in acme logistics fake; do "$HALLMARK" keygen --out "$CL_DIR/prov-$k.key" >/dev/null; done
B=$("$HALLMARK" key show --key "$CL_DIR/prov-acme.key")
L=$("$HALLMARK" key show --key "$CL_DIR/prov-logistics.key")
F=$("$HALLMARK" key show --key "$CL_DIR/prov-fake.key")

# wait_tx ID [refused]: until v1 reports the tx committed; it must have
# applied (or, with "refused", have been refused).
wait_tx() {
    local i j r
    for i in $(seq 1 1200); do
        j=$(curl -s --max-time 2 "$(cl_url v1)/v1/txs/$1" || true) # busy node: retry
        if [ "$(echo "$j" | cl_field status)" = committed ]; then
            r=$(echo "$j" | cl_field result)
            if [ "${2:-}" = refused ]; then
                [ "$r" != ok ] || cl_fail "tx $1 applied but should be refused: $j"
            else
                [ "$r" = ok ] || cl_fail "tx $1 refused: $j"
            fi
            return 0
        fi
        sleep 0.1
    done
    cl_fail "tx $1 not committed: $j"
}
submit() { # submit [refused] ARGS...
    local expect="" out id
    if [ "$1" = refused ]; then
        expect=refused
        shift
    fi
    out=$("$HALLMARK" "$@" --node "$(cl_url v1)" 2>&1) || [ -n "$expect" ] || cl_fail "hallmark $*: $out"
    id=$(echo "$out" | tr -d ' \n' | sed -n 's/.*"tx":"\([0-9a-f]\{64\}\)".*/\1/p')
    [ -n "$id" ] || cl_fail "no tx id in: $out"
    wait_tx "$id" $expect
}
item() { # item NODE SERIAL -> JSON
    curl -s --max-time 10 "$(cl_url "$1")/v1/prov/items/$GTIN/$2" || true
}

cl_log "members, prefix, product"
submit member add --key "$admin" --member "$B" --role brand --name "Acme Silk"
submit member add --key "$admin" --member "$L" --role logistics --name "Acme Express"
submit member add --key "$admin" --member "$F" --role brand --name "Knockoff"
submit prefix assign --key "$admin" --prefix 0614141 --brand "$B"
submit product set --key "$CL_DIR/prov-acme.key" --gtin "$GTIN" --name "Silk scarf"

cl_log "a counterfeiter's key cannot register an item of the brand's GTIN"
ph=$(curl -s "$(cl_url v2)/v1/prov/products/$GTIN" | cl_field product_hash)
submit refused item register --key "$CL_DIR/prov-fake.key" --gtin "$GTIN" --serial FAKE1 --product-hash "$ph"

cl_log "register $ITEMS items in one batch"
csv="$CL_DIR/items.csv"
awk -v n="$ITEMS" -v g="$GTIN" 'BEGIN { print "gtin,serial,lot,expiry,code";
    for (i = 1; i <= n; i++) printf "%s,S%d,LOT%d,301231,%s\n", g, i, int((i - 1) / 10000), (i <= 3 ? "code-" i : "") }' >"$csv"
t0=$(date +%s%N)
submit item register --key "$CL_DIR/prov-acme.key" --file "$csv"
t1=$(date +%s%N)
cl_log "committed $ITEMS items in $(((t1 - t0) / 1000000)) ms"

cl_log "EPCIS events: commissioning, packing S1-S5 into a case, shipping the case"
doc="$CL_DIR/events.jsonld"
{
    echo '{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],'
    echo '"type":"EPCISDocument","schemaVersion":"2.0","epcisBody":{"eventList":['
    echo '{"type":"ObjectEvent","eventTime":"2026-01-05T09:00:00+08:00","eventTimeZoneOffset":"+08:00",'
    echo '"action":"ADD","bizStep":"commissioning","epcList":['
    for i in $(seq 1 9); do echo "\"urn:epc:id:sgtin:0614141.107346.S$i\","; done
    echo '"urn:epc:id:sgtin:0614141.107346.S10"]},'
    echo '{"type":"AggregationEvent","eventTime":"2026-01-05T10:00:00+08:00","eventTimeZoneOffset":"+08:00",'
    echo '"action":"ADD","bizStep":"packing","parentID":"urn:epc:id:sscc:0614141.1000000001",'
    echo '"childEPCs":["https://id.gs1.org/01/10614141073464/21/S1","https://id.gs1.org/01/10614141073464/21/S2",'
    echo '"https://id.gs1.org/01/10614141073464/21/S3","https://id.gs1.org/01/10614141073464/21/S4",'
    echo '"https://id.gs1.org/01/10614141073464/21/S5"]},'
    echo '{"type":"ObjectEvent","eventTime":"2026-01-06T08:30:00+08:00","eventTimeZoneOffset":"+08:00",'
    echo '"action":"OBSERVE","bizStep":"shipping","epcList":["urn:epc:id:sscc:0614141.1000000001"]}]}}'
} >"$doc"
submit epcis import "$doc" --key "$CL_DIR/prov-acme.key"
ship_id=$("$HALLMARK" epcis import "$doc" --dry-run | tail -n 1)

cl_log "custody to logistics, who records receiving; the brand no longer may"
submit custody transfer --key "$CL_DIR/prov-acme.key" --to "$L" --item "$GTIN/S4"
submit event record --key "$CL_DIR/prov-logistics.key" --epc "https://id.gs1.org/01/$GTIN/21/S4" \
    --biz-step receiving --time 2026-01-07T08:00:00Z
submit refused event record --key "$CL_DIR/prov-acme.key" --epc "https://id.gs1.org/01/$GTIN/21/S4" \
    --biz-step receiving --time 2026-01-07T09:00:00Z

cl_log "recall one item and a lot; claim one item twice"
submit recall --key "$CL_DIR/prov-acme.key" --item "$GTIN/S2" --reason "damaged in transit"
submit recall --key "$CL_DIR/prov-acme.key" --gtin "$GTIN" --lot LOT9 --reason "dye lot"
submit refused recall --key "$CL_DIR/prov-fake.key" --gtin "$GTIN" --lot LOT1 --reason "sabotage"
submit claim --gtin "$GTIN" --serial S1 --code code-1
submit refused claim --gtin "$GTIN" --serial S3 --code wrong-code
submit refused claim --gtin "$GTIN" --serial S1 --code code-1x

h=$(cl_height v1)
cl_wait_height o1 "$h" 60
for n in v3 o1; do
    cl_log "read back from $n"
    j=$(item "$n" S1)
    echo "$j" | grep -q '"status":"claimed"' || cl_fail "$n: S1 not claimed: $j"
    echo "$j" | grep -q '"event_count":3' || cl_fail "$n: S1 history: $j"
    echo "$j" | grep -q "\"tree_size\":$ITEMS" || cl_fail "$n: S1 registration proof: $j"
    j=$(item "$n" S2)
    echo "$j" | grep -q '"status":"recalled"' || cl_fail "$n: S2 not recalled: $j"
    j=$(item "$n" "S$ITEMS")
    echo "$j" | grep -q '"status":"recalled"' || cl_fail "$n: lot LOT9 (S$ITEMS) not recalled: $j"
    j=$(item "$n" S4)
    echo "$j" | grep -q "\"custodian\":\"$L\"" || cl_fail "$n: S4 custodian: $j"
    echo "$j" | grep -q '"event_count":4' || cl_fail "$n: S4 history: $j"
    j=$(item "$n" S50000)
    echo "$j" | grep -q '"status":"genuine"' || cl_fail "$n: S50000: $j"
    echo "$j" | grep -q '"index":49999' || cl_fail "$n: S50000 index: $j"
    j=$(curl -s "$(cl_url "$n")/epcis/events?EQ_bizStep=shipping" || true)
    echo "$j" | grep -q '"EPCISQueryDocument"' || cl_fail "$n: EPCIS query: $j"
    echo "$j" | grep -qF "$ship_id" || cl_fail "$n: shipping event $ship_id not found: $j"
    j=$(curl -s "$(cl_url "$n")/v1/prov/items/$GTIN/S9999999" || true)
    echo "$j" | grep -q not_found || cl_fail "$n: unknown item: $j"
done
cl_log "the brand's items, in registration order, page by page"
serials() { grep -o '"serial": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' || true; }
page=$(curl -s --max-time 10 "$(cl_url v3)/v1/prov/brands/$B/items?limit=1000")
echo "$page" | serials >"$CL_DIR/brand-page"
first=$(sed -n 1p "$CL_DIR/brand-page")
count=$(wc -l <"$CL_DIR/brand-page")
next=$(echo "$page" | cl_field next)
[ "$first" = S1 ] && [ "$count" = 1000 ] && [ -n "$next" ] || cl_fail "brand items page 1: $first $count $next"
second=$(curl -s --max-time 10 "$(cl_url v3)/v1/prov/brands/$B/items?limit=2&after=$next" | serials | paste -sd,)
[ "$second" = S1001,S1002 ] || cl_fail "brand items page 2: $second"
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$(cl_url v3)/v1/prov/brands/$B/items?after=00ff")" = 400 ] ||
    cl_fail "a cursor of the wrong shape is not 400"
cl_log "query parameters too long or malformed are refused, never ignored"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$(cl_url v3)$1" || true; }
long=$(printf 'x%.0s' $(seq 1 300))
for q in "/epcis/events?EQ_bizStep=$long" "/epcis/events?MATCH_epc=$long" "/epcis/events?gtin=123" \
    "/epcis/events?perPage=-5" "/v1/prov/events?gtin=$long" "/v1/prov/events?bizStep=$long" \
    "/v1/prov/events?lot=L1"; do
    [ "$(code "$q")" = 400 ] || cl_fail "GET $q: want 400, got $(code "$q")"
done
[ "$(code "/v1/prov/members/$(printf '7%.0s' $(seq 1 64))")" = 404 ] || cl_fail "unknown member not 404"
cl_log "read-only consumer routes refuse other methods"
for q in "/v1/items/$GTIN/S0000001/qr.svg" "/v1/proofs/$(printf '0%.0s' $(seq 1 64))/0"; do
    got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE "$(cl_url v3)$q" || true)
    [ "$got" = 405 ] || cl_fail "DELETE $q: want 405, got $got"
done
cl_same_chain "$h" v1 v2 v3 v4 o1
cl_log "ok: $ITEMS items, events, custody, recall and claim agree on every node"
