#!/usr/bin/env bash
# kill -9 all four validators at random moments under load, restart them:
# every tx a client saw committed is still committed on every node, no
# validator ever signed two different votes for one (height, round, type),
# and there is no fork.
source "$(dirname "$0")/node_common.sh"

cl_init crash_all 23000
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30
nodes=(v1 v2 v3 v4)

for cycle in 1 2 3; do
    cl_log "cycle $cycle: load, then kill -9 every validator at a random moment"
    cl_load --node "$(cl_url v1)" --node "$(cl_url v2)" --node "$(cl_url v3)" \
        --node "$(cl_url v4)" --count 3000 --rate 400 --timeout 8 \
        --committed "$CL_DIR/committed.$cycle" >"$CL_DIR/load.$cycle" 2>&1 &
    load_pid=$!
    sleep "0.$((RANDOM % 9 + 1))"
    for n in $(printf '%s\n' "${nodes[@]}" | shuf); do
        sleep "0.$((RANDOM % 6))"
        cl_kill9 "$n"
    done
    wait "$load_pid" || true
    cl_log "load: $(cat "$CL_DIR/load.$cycle")"
    cl_start v1 v2 v3 v4
    cl_wait_height v1 1 30
done

h=$(cl_height v1)
cl_wait_height v1 $((h + 2)) 30
h=$(cl_height v1)
for n in v2 v3 v4; do cl_wait_height "$n" "$h" 30; done

seen=$(cat "$CL_DIR"/committed.* | wc -l)
cl_log "checking the $seen txs clients saw committed"
[ "$seen" -gt 0 ] || cl_fail "no tx was seen committed: the test proves nothing"
sort -u "$CL_DIR"/committed.* | shuf -n 100 |
    while read -r id at; do
        for n in v1 v2 v3 v4; do
            j=$(curl -s "$(cl_url "$n")/v1/txs/$id")
            [ "$(echo "$j" | cl_field status)" = committed ] || cl_fail "$n lost tx $id: $j"
            [ "$(echo "$j" | cl_field height)" = "$at" ] || cl_fail "$n: tx $id moved: $j"
        done
    done
cl_same_chain "$h" v1 v2 v3 v4

cl_stop v1 v2 v3 v4
for n in v1 v2 v3 v4; do
    (cd "$CL_DIR/$n" && "$HALLMARKD" --config node.json --dump-votes) >"$CL_DIR/votes.$n" ||
        cl_fail "cannot read $n's votes"
    [ -s "$CL_DIR/votes.$n" ] || cl_fail "$n recorded no votes"
    dup=$(awk '{print $1, $2, $3}' "$CL_DIR/votes.$n" | sort | uniq -d | head -n 1)
    [ -z "$dup" ] || cl_fail "$n signed two different votes at (height round type) $dup"
done
cl_log "ok: $seen committed txs kept, no double votes, no fork up to $h"
