#!/usr/bin/env bash
# The whole network restarts in the middle of a height whose proposal two
# validators hold. The proposer may not sign a second proposal for that
# round, so the height can be decided in that very round only if the
# restarted validators feed their consensus log (their own proposal and the
# messages they had accepted) back to consensus; without it that round is
# lost and a later one decides. Checked through the round of the height's
# commit certificate, and the chain is the same on every node.
source "$(dirname "$0")/node_common.sh"

cl_init replay 27400
# a long propose timeout: the validators that rejoin wait for the replayed
# proposal instead of giving up on the round before their links are up
sed -i 's/"timeout_propose_ms": [0-9]*/"timeout_propose_ms": 10000/' "$CL_DIR/genesis.json"
cl_start v1 v2 v3 v4
cl_wait_height v1 2 30

round_of() { curl -s --max-time 2 "$(cl_url "$1")/v1/status" | cl_field round; }

# Freeze v3 and v4: v1 and v2 alone are no quorum, so they stall in one
# round of the next height. Keep the stall only if its proposer is v1 or v2
# (validator index (height + round) mod 4), i.e. they hold its proposal.
h=""
for try in $(seq 1 12); do
    kill -STOP "${CL_PID[v3]}" "${CL_PID[v4]}"
    sleep 2.5 # past block_interval_ms: an online proposer has proposed
    h1=$(cl_height v1)
    r1=$(round_of v1)
    sleep 1
    if [ -n "$h1" ] && [ "$h1" = "$(cl_height v1)" ] && [ "$h1" = "$(cl_height v2)" ] &&
        [ "$r1" = "$(round_of v1)" ] && [ "$r1" = "$(round_of v2)" ] &&
        [ $(((h1 + 1 + r1) % 4)) -le 1 ]; then
        h=$((h1 + 1))
        r=$r1
        break
    fi
    kill -CONT "${CL_PID[v3]}" "${CL_PID[v4]}"
    cl_wait_height v1 $((h1 + 1)) 60
done
[ -n "$h" ] || cl_fail "never stalled in a round proposed by v1 or v2"
cl_log "stalled at height $h round $r (proposer v$(((h + r) % 4 + 1))): kill -9 all, restart"
cl_kill9 v1 v2 v3 v4
cl_start v1 v2 v3 v4
cl_wait_height v1 "$h" 60
grep -q consensus_log_replayed "$CL_DIR"/v1/node.log "$CL_DIR"/v2/node.log ||
    cl_fail "no validator replayed its consensus log"
cert_round=$(curl -s "$(cl_url v1)/v1/blocks/$h" | sed -n 's/.*"cert": *{ *"round": *\([0-9]*\).*/\1/p')
[ -n "$cert_round" ] || cl_fail "no certificate round for height $h"
[ "$cert_round" = "$r" ] ||
    cl_fail "height $h decided in round $cert_round, not in round $r: the proposal was lost"
h=$(cl_height v1)
for n in v2 v3 v4; do cl_wait_height "$n" "$h" 30; done
cl_same_chain "$h" v1 v2 v3 v4
cl_log "ok: height decided in round $r after a full restart"
cl_stop v1 v2 v3 v4
