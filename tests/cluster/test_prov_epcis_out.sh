#!/usr/bin/env bash
# EPCIS events out with everything their hash covers: a brand imports a
# JSON-LD document whose events carry quantity lists, sensor data, ILMD,
# persistentDisposition, certificationInfo and user extensions (one event too
# large for its canonical form to be stored). The EPCIS query document and
# each single event are read back from another validator and put through the
# importer's hash computation (`hallmark epcis import --dry-run`): every
# event gives its own eventID again, with quantities and sensor values as
# JSON numbers (decimals as written); the event stored without its canonical
# form says so in "hallmark:incomplete" (and, missing fields, does not re-hash
# to its ID). Ports 29400-29503.
source "$(dirname "$0")/node_common.sh"

GTIN=10614141073464

cl_init epcisout 29400 0
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30
export HALLMARK_GENESIS="$CL_DIR/genesis.json"
admin="$CL_DIR/admin.key"

cl_log "a brand, its prefix, product and three items"
cl_prov_brand S1 S2 S3

cl_log "events with quantities, sensor data, ILMD and extensions"
big=$(printf 'y%.0s' $(seq 1 900))
doc="$CL_DIR/events.jsonld"
cat >"$doc" <<DOC
{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
  {"example":"https://ns.example.com/epcis/"}],
 "type":"EPCISDocument","schemaVersion":"2.0","epcisBody":{"eventList":[
 {"type":"ObjectEvent","eventTime":"2026-01-05T09:00:00+08:00","eventTimeZoneOffset":"+08:00",
  "action":"ADD","bizStep":"commissioning","disposition":"active",
  "epcList":["urn:epc:id:sgtin:0614141.107346.S1","urn:epc:id:sgtin:0614141.107346.S2"],
  "quantityList":[{"epcClass":"urn:epc:class:lgtin:0614141.107346.L1","quantity":12.5,"uom":"KGM"},
                  {"epcClass":"https://id.gs1.org/01/10614141073464","quantity":200}],
  "persistentDisposition":{"set":["completeness_verified"],"unset":["completeness_inferred"]},
  "certificationInfo":"https://accreditation.example.org/certificate/ABC12345",
  "readPoint":{"id":"urn:epc:id:sgln:0614141.00777.0","example:dock":"7"},
  "ilmd":{"cbvmda:lotNumber":"L1","example:grade":{"example:colour":"red","example:size":3}},
  "example:note":"first run"},
 {"type":"ObjectEvent","eventTime":"2026-01-05T10:00:00+08:00","eventTimeZoneOffset":"+08:00",
  "action":"OBSERVE","bizStep":"inspecting","epcList":["urn:epc:id:sgtin:0614141.107346.S1"],
  "sensorElementList":[{"sensorMetadata":{"time":"2026-01-05T09:55:00+08:00","deviceID":"urn:epc:id:giai:4000001.111"},
    "sensorReport":[{"type":"Temperature","value":26.1,"uom":"CEL"},
                    {"type":"Humidity","minValue":12,"maxValue":40.5,"uom":"A93"},
                    {"type":"gs1:MT-Speed","booleanValue":true}]}]},
 {"type":"ObjectEvent","eventTime":"2026-01-05T11:00:00+08:00","eventTimeZoneOffset":"+08:00",
  "action":"OBSERVE","bizStep":"shipping","epcList":["urn:epc:id:sgtin:0614141.107346.S3"],
  "quantityList":[{"epcClass":"urn:epc:class:lgtin:0614141.107346.L1","quantity":3,"uom":"KGM"}],
  "example:a":"$big","example:b":"$big","example:c":"$big","example:d":"$big"}]}}
DOC
cl_submit epcis import "$doc" --key "$CL_DIR/acme.key"
ids=$("$HALLMARK" epcis import "$doc" --dry-run) || cl_fail "dry run: $ids"
[ "$(echo "$ids" | wc -l)" = 3 ] || cl_fail "three event IDs expected: $ids"
big_id=$(echo "$ids" | tail -n 1)

h=$(cl_height v1)
cl_wait_height v3 "$h" 60
page="$CL_DIR/page.json"
curl -s --max-time 10 "$(cl_url v3)/epcis/events?gtin=$GTIN&perPage=10" >"$page" || cl_fail "GET /epcis/events"
grep -q '"EPCISQueryDocument"' "$page" || cl_fail "not a query document: $(cat "$page")"
for want in '"quantity":12.5' '"quantity":200' '"value":26.1,"uom"' '"minValue":12' '"booleanValue":true' \
    '"cbvmda:lotNumber":"L1"' '"certificationInfo":"https://accreditation.example.org/certificate/ABC12345"' \
    '"set":["https://ref.gs1.org/cbv/Disp-completeness_verified"]' 'https://ns.example.com/epcis/' \
    '"hallmark:incomplete"'; do
    grep -qF "$want" "$page" || cl_fail "page lacks $want: $(head -c 3000 "$page")"
done

cl_log "the query document re-hashes to its eventIDs (the oversized event excepted)"
again=$("$HALLMARK" epcis import "$page" --dry-run) || cl_fail "page refused by the importer: $again"
listed=$(grep -o '"eventID":"[^"]*"' "$page" | sed 's/"eventID":"\(.*\)"/\1/')
[ "$(echo "$listed" | wc -l)" = 3 ] || cl_fail "three events expected on the page: $listed"
for id in $(echo "$ids" | head -n 2); do
    echo "$listed" | grep -qxF "$id" || cl_fail "$id not on the page"
    echo "$again" | grep -qxF "$id" || cl_fail "$id does not re-hash from the page: $again"
done
echo "$again" | grep -qxF "$big_id" && cl_fail "the incomplete event cannot re-hash to its ID"

cl_log "each single event, in a document with its @context, re-hashes to its eventID"
for id in $(echo "$ids" | head -n 2); do
    enc=$(printf '%s' "$id" | sed 's/:/%3A/g; s/\//%2F/g; s/;/%3B/g; s/?/%3F/g; s/=/%3D/g')
    one=$(curl -s --max-time 10 "$(cl_url v2)/epcis/events/$enc") || cl_fail "GET one event"
    echo "$one" | grep -q '"@context"' || cl_fail "no @context: $one"
    # The event's @context goes to the document; the event goes in its list.
    ctx=$(echo "$one" | sed -n 's/.*"@context":\(\[[^]]*\]\|"[^"]*"\).*/\1/p')
    [ -n "$ctx" ] || cl_fail "cannot read the @context of: $one"
    printf '{"@context":%s,"type":"EPCISDocument","epcisBody":{"eventList":[%s]}}' "$ctx" "$one" \
        >"$CL_DIR/one.json"
    got=$("$HALLMARK" epcis import "$CL_DIR/one.json" --dry-run) || cl_fail "refused: $got"
    [ "$got" = "$id" ] || cl_fail "event $id re-hashes to $got: $one"
done
one=$(curl -s --max-time 10 "$(cl_url v2)/v1/prov/events/$(echo "$big_id" | sed 's/.*;\([0-9a-f]*\)?.*/\1/')")
echo "$one" | grep -q '"hallmark:incomplete"' || cl_fail "oversized event not marked incomplete: $one"
cl_log "ok: quantities, sensor data, ILMD and extensions come out and re-hash to their eventIDs"
