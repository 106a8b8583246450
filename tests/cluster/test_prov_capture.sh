#!/usr/bin/env bash
# The EPCIS 2.0 capture interface end to end: OPTIONS advertises the limits
# as the standard's headers do; a member's signed document (hallmark epcis
# import --capture) is answered 202 with a capture job that GET
# /epcis/capture/{id} reports running, then successful, with the events
# readable through /epcis/events on another validator; a document whose
# events the contract refuses makes a failed job naming the rule and event;
# unsigned, empty, non-JSON, XML, over-limit and non-rollback captures are
# refused with their status and nothing is written. Ports 29600-29703.
source "$(dirname "$0")/node_common.sh"

GTIN=10614141073464
cl_init capture 29600 0
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30
export HALLMARK_GENESIS="$CL_DIR/genesis.json"
admin="$CL_DIR/admin.key"
url=$(cl_url v1)

cl_log "a brand, its prefix, product and two items"
cl_prov_brand S1 S2

job_done() { # job_done ID -> the job (spaces dropped) once it is no longer running
    local st
    for _ in $(seq 1 300); do
        st=$(curl -s "$url/epcis/capture/$1" | tr -d ' \n')
        case "$st" in *'"running":false'*) break ;; esac
        sleep 0.1
    done
    echo "$st"
}
# code METHOD PATH [curl args...] -> HTTP status; body in $CL_DIR/out, headers in $CL_DIR/hdr
code() {
    local m=$1 p=$2
    shift 2
    curl -s -X "$m" -o "$CL_DIR/out" -D "$CL_DIR/hdr" -w '%{http_code}' "$@" "$url$p"
}
event_doc() { # event_doc SERIAL... -> an EPCISDocument, one shipping event per serial
    local s first=1
    printf '{"@context":"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",'
    printf '"type":"EPCISDocument","schemaVersion":"2.0","epcisBody":{"eventList":['
    for s in "$@"; do
        [ $first = 1 ] || printf ','
        first=0
        printf '{"type":"ObjectEvent","eventTime":"2026-02-01T08:00:00+08:00",'
        printf '"eventTimeZoneOffset":"+08:00","action":"OBSERVE","bizStep":"shipping",'
        printf '"epcList":["urn:epc:id:sgtin:0614141.107346.%s"]}' "$s"
    done
    printf ']}}'
}
# Well-formed signing headers that sign nothing: refusals that come before
# the signature check must not depend on it.
fake=(-H "Hallmark-Signer: $B" -H "Hallmark-Nonce: 1"
    -H "Hallmark-Signature: $(printf '%0128d' 1)" -H 'Content-Type: application/ld+json')
events_of() { # events_of NODE -> how many events of the GTIN it serves
    curl -s --max-time 10 "$(cl_url "$1")/epcis/events?gtin=$GTIN&perPage=100" |
        { grep -o '"eventID":"[^"]*"' || true; } | wc -l
}

cl_log "OPTIONS advertises the capture limits"
[ "$(code OPTIONS /epcis/capture)" = 204 ] || cl_fail "OPTIONS not 204"
for h in 'GS1-EPCIS-Version: 2.0.0' 'GS1-EPCIS-Capture-Limit: 10000' \
    'GS1-EPCIS-Capture-File-Size-Limit: 8388608' 'GS1-Capture-Error-Behaviour: rollback'; do
    tr -d '\r' <"$CL_DIR/hdr" | grep -qixF "$h" || cl_fail "OPTIONS lacks $h: $(cat "$CL_DIR/hdr")"
done

cl_log "refusals: nothing is written"
event_doc S1 >"$CL_DIR/one.json"
before=$(events_of v1)
[ "$before" = 0 ] || cl_fail "events before any capture: $before"
[ "$(code POST /epcis/capture --data-binary @"$CL_DIR/one.json")" = 401 ] ||
    cl_fail "unsigned capture not 401: $(cat "$CL_DIR/out")"
grep -q '"unauthorized"' "$CL_DIR/out" || cl_fail "unsigned: $(cat "$CL_DIR/out")"
[ "$(code POST /epcis/capture "${fake[@]}" --data-binary @"$CL_DIR/one.json")" = 401 ] ||
    cl_fail "a signature over something else not 401: $(cat "$CL_DIR/out")"
event_doc >"$CL_DIR/empty.json"
[ "$(code POST /epcis/capture "${fake[@]}" --data-binary @"$CL_DIR/empty.json")" = 400 ] ||
    cl_fail "empty document not 400: $(cat "$CL_DIR/out")"
grep -q 'no events' "$CL_DIR/out" || cl_fail "empty: $(cat "$CL_DIR/out")"
[ "$(code POST /epcis/capture "${fake[@]}" --data-binary '{"type":"EPCISDocument",')" = 400 ] ||
    cl_fail "truncated JSON not 400"
[ "$(code POST /epcis/capture "${fake[@]}" --data-binary '<epcis:EPCISDocument/>')" = 400 ] ||
    cl_fail "XML not 400"
grep -q 'XML documents are not supported' "$CL_DIR/out" || cl_fail "XML: $(cat "$CL_DIR/out")"
[ "$(code POST /epcis/capture "${fake[@]}" -H 'GS1-Capture-Error-Behaviour: proceed' \
    --data-binary @"$CL_DIR/one.json")" = 400 ] || cl_fail "proceed not refused"
grep -q '"unsupported"' "$CL_DIR/out" || cl_fail "proceed: $(cat "$CL_DIR/out")"
# 10,001 events: over the capture limit, refused before any signature check
serials=$(seq -f 'X%g' 1 10001)
# shellcheck disable=SC2086
event_doc $serials >"$CL_DIR/many.json"
[ "$(code POST /epcis/capture "${fake[@]}" --data-binary @"$CL_DIR/many.json")" = 413 ] ||
    cl_fail "10001 events not 413: $(cat "$CL_DIR/out")"
tr -d '\r' <"$CL_DIR/hdr" | grep -qixF 'GS1-EPCIS-Capture-Limit: 10000' ||
    cl_fail "413 without the limit header"
head -c $((8388608 + 1)) /dev/zero | tr '\0' ' ' >"$CL_DIR/huge.json"
[ "$(code POST /epcis/capture "${fake[@]}" --data-binary @"$CL_DIR/huge.json")" = 413 ] ||
    cl_fail "a document over 8 MiB not 413"
[ "$(code GET "/epcis/capture/$(printf '%064d' 9)")" = 404 ] || cl_fail "unknown job not 404"
[ "$(code GET /epcis/capture/x1)" = 404 ] || cl_fail "malformed job id not 404"
[ "$(code DELETE "/epcis/capture/$(printf '%064d' 9)")" = 405 ] || cl_fail "DELETE a job not 405"
[ "$(events_of v1)" = 0 ] || cl_fail "a refused capture wrote events"

cl_log "a signed capture: 202, a job, then success and the events on another validator"
event_doc S1 S2 >"$CL_DIR/two.json"
out=$("$HALLMARK" epcis import "$CL_DIR/two.json" --key "$CL_DIR/acme.key" --capture \
    --node "$url" 2>/dev/null) || cl_fail "capture: $out"
job=$(echo "$out" | tr -d ' \n' | sed -n 's/.*"captureID":"\([0-9a-f]\{64\}\)".*/\1/p')
[ -n "$job" ] || cl_fail "no captureID in: $out"
echo "$out" | tr -d ' \n' | grep -q '"hallmark:events":2' || cl_fail "job events: $out"
state=$(job_done "$job")
echo "$state" | grep -q '"success":true' || cl_fail "job did not succeed: $state"
echo "$state" | grep -q '"errors":\[\]' || cl_fail "successful job with errors: $state"
curl -s "$url/epcis/capture" | tr -d ' \n' | grep -q "\"captureID\":\"$job\"" ||
    cl_fail "job not listed"
h=$(cl_height v1)
cl_wait_height v3 "$h" 60
[ "$(events_of v3)" = 2 ] || cl_fail "two events expected on v3: $(events_of v3)"
# the captureID is the tx id: another validator answers from the ledger,
# and so does the node that took it after a restart
other=$(curl -s "$(cl_url v3)/epcis/capture/$job" | tr -d ' \n')
echo "$other" | grep -q '"running":false,"success":true' || cl_fail "job on v3: $other"
echo "$other" | grep -q '"finishedAt":"20' || cl_fail "job on v3 without its block time: $other"
echo "$state" | grep -q "\"hallmark:tx\":\"$job\"" || cl_fail "captureID is not the tx id: $state"
cl_stop v1
cl_start v1
for _ in $(seq 1 100); do curl -s -o /dev/null "$url/v1/status" && break; sleep 0.1; done
again=$(curl -s "$url/epcis/capture/$job" | tr -d ' \n')
echo "$again" | grep -q '"running":false,"success":true' || cl_fail "job after a restart: $again"

cl_log "a capture the contract refuses: a failed job with the rule and event, nothing written"
# a logistics member that is not the items' custodian (rule 207)
"$HALLMARK" keygen --out "$CL_DIR/truck.key" >/dev/null
T=$("$HALLMARK" key show --key "$CL_DIR/truck.key")
cl_submit member add --key "$admin" --member "$T" --role logistics --name "Truck Co"
event_doc S2 | sed "s/shipping/receiving/" >"$CL_DIR/bad.json"
out=$("$HALLMARK" epcis import "$CL_DIR/bad.json" --key "$CL_DIR/truck.key" --capture \
    --node "$url" 2>/dev/null) || cl_fail "capture: $out"
job=$(echo "$out" | tr -d ' \n' | sed -n 's/.*"captureID":"\([0-9a-f]\{64\}\)".*/\1/p')
[ -n "$job" ] || cl_fail "no captureID in: $out"
state=$(job_done "$job")
echo "$state" | grep -q '"success":false' || cl_fail "refused events, job: $state"
echo "$state" | grep -q 'rule207,event0' || cl_fail "job error without rule 207, event 0: $state"
echo "$state" | grep -q 'ValidationException' || cl_fail "job error type: $state"
other=$(curl -s "$(cl_url v2)/epcis/capture/$job" | tr -d ' \n')
echo "$other" | grep -q 'rule207,event0' || cl_fail "failed job on v2: $other"
sleep 1.5
[ "$(events_of v1)" = 2 ] || cl_fail "the refused capture wrote events: $(events_of v1)"
cl_log "ok: capture jobs, limits and refusals"
