#!/usr/bin/env bash
# scripts/demo-provenance.sh — provenance demo data for `make run`.
#
# Run by scripts/run-local.sh once the network is up, with HALLMARK_NODE,
# HALLMARK_GENESIS, HALLMARK_RUN_DIR and HALLMARK_BUILD set. Creates (once)
# a demo brand and a logistics member, assigns the brand the GS1 company
# prefix 0614141 and sets a product; then, on every run, registers a batch of
# items (two with hidden claim codes), records EPCIS events for them
# (commissioning, packing into a case, shipping the case) from an EPCIS 2.0
# JSON-LD document, hands the case's items to the logistics member, recalls
# one item and claims another, and prints each item's lookup address
# (http://127.0.0.1:PORT/01/{gtin}/21/{serial}).
set -euo pipefail
: "${HALLMARK_NODE:?}" "${HALLMARK_GENESIS:?}" "${HALLMARK_RUN_DIR:?}" "${HALLMARK_BUILD:?}"
hallmark="$HALLMARK_BUILD/hallmark"
dir="$HALLMARK_RUN_DIR/prov-demo"
mkdir -p "$dir"
admin="$HALLMARK_RUN_DIR/admin.key"
gtin=10614141073464
prefix=0614141
for k in brand logistics; do
    [ -f "$dir/$k.key" ] || "$hallmark" keygen --out "$dir/$k.key" >/dev/null
done
B=$("$hallmark" key show --key "$dir/brand.key")
L=$("$hallmark" key show --key "$dir/logistics.key")

# submit ARGS...: a tx, then wait until the node has committed it (0 if it
# applied, 1 if it was refused or never committed).
submit() {
    local out id j
    out=$("$hallmark" "$@" 2>/dev/null) || return 1
    id=$(echo "$out" | tr -d ' \n' | sed -n 's/.*"tx":"\([0-9a-f]\{64\}\)".*/\1/p')
    [ -n "$id" ] || return 1
    for _ in $(seq 1 200); do
        j=$(curl -s --max-time 2 "$HALLMARK_NODE/v1/txs/$id")
        case "$j" in *'"committed"'*) echo "$j" | grep -q '"result":"ok"' && return 0 || return 1 ;; esac
        sleep 0.1
    done
    return 1
}

if ! curl -sf --max-time 2 "$HALLMARK_NODE/v1/prov/products/$gtin" >/dev/null; then
    submit member add --key "$admin" --member "$B" --role brand --name "Demo Silk Co."
    submit member add --key "$admin" --member "$L" --role logistics --name "Demo Express"
    submit prefix assign --key "$admin" --prefix "$prefix" --brand "$B"
    submit product set --key "$dir/brand.key" --gtin "$gtin" --name "Silk scarf" \
        --description "Hand-rolled mulberry silk, 90 x 90 cm" --image "https://example.com/scarf.png"
fi

run_id=$(date +%s)
n=20
csv="$dir/items-$run_id.csv"
echo "gtin,serial,lot,expiry,code" >"$csv"
for i in $(seq 1 $n); do
    code=""
    [ "$i" -le 2 ] && code="code-$run_id-$i"
    echo "$gtin,D$run_id-$i,L$run_id,301231,$code" >>"$csv"
done
submit item register --key "$dir/brand.key" --file "$csv"

# Events as a standard EPCIS 2.0 document: commissioning of every item,
# packing items 1-10 into a case, shipping the case.
sscc="urn:epc:id:sscc:0614141.1$(printf '%09d' $((run_id % 1000000000)))"
doc="$dir/events-$run_id.jsonld"
{
    echo '{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],'
    echo '"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-01-01T00:00:00Z",'
    echo '"epcisBody":{"eventList":['
    echo '{"type":"ObjectEvent","eventTime":"2026-01-05T09:00:00+08:00","eventTimeZoneOffset":"+08:00",'
    echo '"action":"ADD","bizStep":"commissioning","disposition":"active",'
    echo '"readPoint":{"id":"urn:epc:id:sgln:0614141.00001.0"},"epcList":['
    for i in $(seq 1 $n); do
        sep=","
        [ "$i" -eq "$n" ] && sep=""
        echo "\"https://id.gs1.org/01/$gtin/21/D$run_id-$i\"$sep"
    done
    echo ']},'
    echo '{"type":"AggregationEvent","eventTime":"2026-01-05T10:00:00+08:00","eventTimeZoneOffset":"+08:00",'
    echo "\"action\":\"ADD\",\"bizStep\":\"packing\",\"parentID\":\"$sscc\",\"childEPCs\":["
    for i in $(seq 1 10); do
        sep=","
        [ "$i" -eq 10 ] && sep=""
        echo "\"https://id.gs1.org/01/$gtin/21/D$run_id-$i\"$sep"
    done
    echo ']},'
    echo '{"type":"ObjectEvent","eventTime":"2026-01-06T08:30:00+08:00","eventTimeZoneOffset":"+08:00",'
    echo "\"action\":\"OBSERVE\",\"bizStep\":\"shipping\",\"disposition\":\"in_transit\",\"epcList\":[\"$sscc\"],"
    echo '"bizTransactionList":[{"type":"po","bizTransaction":"urn:epcglobal:cbv:bt:0614141000005:PO-1"}]}'
    echo ']}}'
} >"$doc"
submit epcis import "$doc" --key "$dir/brand.key"

items=()
for i in $(seq 1 10); do items+=(--item "$gtin/D$run_id-$i"); done
submit custody transfer --key "$dir/brand.key" --to "$L" "${items[@]}"
submit recall --key "$dir/brand.key" --item "$gtin/D$run_id-2" --reason "Dye lot failed colour-fastness test"
submit claim --gtin "$gtin" --serial "D$run_id-1" --code "code-$run_id-1"

echo "provenance demo: brand $B, GTIN $gtin, $n items in lot L$run_id, 3 EPCIS events"
echo "  claimed:   $HALLMARK_NODE/01/$gtin/21/D$run_id-1"
echo "  recalled:  $HALLMARK_NODE/01/$gtin/21/D$run_id-2"
for i in 3 11; do
    echo "  item:      $HALLMARK_NODE/01/$gtin/21/D$run_id-$i"
done
echo "  as JSON:   $HALLMARK_NODE/v1/prov/items/$gtin/D$run_id-1"
echo "  EPCIS:     $HALLMARK_NODE/epcis/events?MATCH_epc=https://id.gs1.org/01/$gtin/21/D$run_id-3"
