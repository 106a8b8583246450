#!/usr/bin/env bash
# Compact proposals when a validator lacks some of the txs: a proposal
# carries its block's tx ids, and a validator rebuilds the block from its
# mempool; one missing a tx must ask for the whole block and still vote for
# it. v4 pools at most one tx (mempool_txs_max 1), so blocks of several txs
# always miss some there, and v3 stays down, so that no height commits
# without v4's votes (3 of 4 needed): every tx committing means v4 judged
# those blocks valid. v4 must have logged the miss, and all three chains
# must be the same.
source "$(dirname "$0")/node_common.sh"

cl_init compact_miss 29800
sed -i 's/"log_level": "[a-z]*"/"log_level": "info", "mempool_txs_max": 1/' "$CL_DIR/v4/node.json"
grep -q '"mempool_txs_max": 1' "$CL_DIR/v4/node.json" || cl_fail "could not limit v4's mempool"
cl_start v1 v2 v4
cl_wait_height v1 1 30

cl_log "submitting 200 txs to v1 with v3 down and v4 pooling one tx at most"
out=$(cl_load --node "$(cl_url v1)" --count 200 --rate 400 --timeout 90 --ids "$CL_DIR/ids") ||
    cl_fail "load did not commit everything: $out"
echo "$out"
[ "$(echo "$out" | cl_field committed)" = 200 ] || cl_fail "not all txs committed"

grep -q 'event=proposal_txs_missing' "$CL_DIR/v4/node.log" ||
    cl_fail "v4 never lacked a tx of a proposal: the test did not exercise the fetch"
n=$(grep -c 'event=proposal_txs_missing' "$CL_DIR/v4/node.log")
if grep -h 'event=block_invalid\|event=rebuilt_block_invalid' "$CL_DIR"/v*/node.log; then
    cl_fail "a block was judged invalid"
fi
# compact proposals are well-formed: nobody rejected a message or dropped a link
if grep -h 'event=peer_rejected\|event=peer_disconnected' "$CL_DIR"/v*/node.log; then
    cl_fail "a peer message was rejected or a link dropped"
fi

h=$(cl_height v1)
for v in v2 v4; do cl_wait_height "$v" "$h" 30; done
cl_same_chain "$h" v1 v2 v4
for id in $(head -n 10 "$CL_DIR/ids"); do
    j=$(curl -s "$(cl_url v4)/v1/txs/$id")
    [ "$(echo "$j" | cl_field status)" = committed ] || cl_fail "v4: tx $id: $j"
done
cl_stop v1 v2 v4
cl_log "ok: 200 txs committed at height $h with v4's votes; v4 fetched $n blocks it could not rebuild"
