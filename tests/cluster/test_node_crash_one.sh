#!/usr/bin/env bash
# kill -9 one validator under load: the other three keep committing; once
# restarted it catches up (fetching blocks and certificates from its peers)
# to the same chain and state root.
source "$(dirname "$0")/node_common.sh"

cl_init crash_one 22000
cl_start v1 v2 v3 v4
cl_wait_height v1 1 30

cl_log "load on v1-v3 while v4 is killed"
cl_load --node "$(cl_url v1)" --node "$(cl_url v2)" --node "$(cl_url v3)" \
    --count 1500 --rate 150 --timeout 90 >"$CL_DIR/load.out" 2>&1 &
load_pid=$!
sleep 2
cl_kill9 v4
h_kill=$(cl_height v1)
cl_log "killed v4 at height $h_kill"
sleep 3
cl_wait_height v1 $((h_kill + 3)) 20
cl_log "three validators kept committing: v1 at $(cl_height v1)"

cl_start v4
wait "$load_pid" || cl_fail "load: $(cat "$CL_DIR/load.out")"
cat "$CL_DIR/load.out"
h=$(cl_height v1)
cl_wait_height v4 "$h" 60
cl_log "v4 caught up to $h"
cl_same_chain "$h" v1 v2 v3 v4
[ "$(cl_block_id v4 "$h")" = "$(cl_block_id v1 "$h")" ] || cl_fail "state roots differ"

# and it takes part again: the chain advances with v1 stopped
cl_stop v1
h2=$(cl_height v2)
cl_wait_height v4 $((h2 + 2)) 30
cl_log "ok: v4 caught up and commits with v2, v3"
