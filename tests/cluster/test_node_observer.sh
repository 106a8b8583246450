#!/usr/bin/env bash
# An observer follows the chain (fetching blocks and certificates, checking
# each certificate, executing each block) and serves GET /v1/blocks/{h}
# identical to a validator's; a tx submitted to the observer reaches the
# validators and commits.
source "$(dirname "$0")/node_common.sh"

cl_init observer 25000 1
cl_start v1 v2 v3 v4 o1
cl_wait_height v1 1 30

cl_log "load through a validator and through the observer"
cl_load --node "$(cl_url v2)" --count 200 --rate 100 --timeout 30 >"$CL_DIR/load.v" ||
    cl_fail "load via v2: $(cat "$CL_DIR/load.v")"
cl_load --node "$(cl_url o1)" --count 100 --rate 100 --timeout 30 >"$CL_DIR/load.o" ||
    cl_fail "load via the observer: $(cat "$CL_DIR/load.o")"
cat "$CL_DIR/load.v" "$CL_DIR/load.o"

h=$(cl_height v1)
cl_wait_height o1 "$h" 20
for hgt in 1 $((h / 2)) "$h"; do
    # the certificate is the one the observer fetched: any quorum of
    # precommits, so only it may differ from v1's
    a=$(curl -s "$(cl_url v1)/v1/blocks/$hgt" | sed 's/,"cert":.*$//')
    b=$(curl -s "$(cl_url o1)/v1/blocks/$hgt" | sed 's/,"cert":.*$//')
    [ -n "$a" ] && [ "$a" = "$b" ] || cl_fail "block $hgt differs: v1=$a o1=$b"
done
[ "$(curl -s "$(cl_url o1)/v1/status" | cl_field role)" = observer ] || cl_fail "o1 role"

# the observer restarts and resumes from its own store
cl_kill9 o1
cl_start o1
h=$(cl_height v1)
cl_wait_height o1 $((h + 1)) 30
cl_log "ok: the observer follows and serves the same blocks up to $h"
