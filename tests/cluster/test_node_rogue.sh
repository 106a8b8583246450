#!/usr/bin/env bash
# A rogue peer: garbage bytes, a TLS client with an identity not in genesis,
# a slow drip (past the 10 s handshake limit), and (with a listed observer
# identity) an oversized frame, a frame of an unknown type and a tx batch
# whose entry runs past the frame. Each is refused or dropped, counted in
# /metrics, and the validators keep committing throughout.
source "$(dirname "$0")/node_common.sh"

cl_init rogue 24000 1
cl_start v1 v2 v3 v4
cl_wait_height v1 2 30
peer_port=$((CL_BASE + 100)) # v1's peer listener
metric() {
    curl -s "$(cl_url v1)/metrics" |
        sed -n "s/^hallmark_rejected_total{source=\"peer\",reason=\"$1\"} //p"
}

cl_log "garbage on the peer port"
for _ in 1 2 3; do
    head -c 4096 /dev/urandom | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$peer_port" || true
done

cl_log "TLS 1.3 with a certificate that genesis does not list"
openssl req -x509 -newkey ed25519 -nodes -keyout "$CL_DIR/rogue.key" -out "$CL_DIR/rogue.crt" \
    -subj /CN=rogue -days 1 2>/dev/null
printf 'hello' | timeout 5 openssl s_client -quiet -tls1_3 -connect "127.0.0.1:$peer_port" \
    -cert "$CL_DIR/rogue.crt" -key "$CL_DIR/rogue.key" >/dev/null 2>&1 || true

cl_log "a listed observer identity sending an oversized frame, then an unknown type"
# STATUS (type 1) is at most 64 bytes: announce 2^31
printf '\001\200\000\000\000' | timeout 5 openssl s_client -quiet -tls1_3 \
    -connect "127.0.0.1:$peer_port" -cert "$CL_DIR/o1/tls.crt" -key "$CL_DIR/o1/tls.key" \
    >/dev/null 2>&1 || true
printf '\377\000\000\000\001x' | timeout 5 openssl s_client -quiet -tls1_3 \
    -connect "127.0.0.1:$peer_port" -cert "$CL_DIR/o1/tls.crt" -key "$CL_DIR/o1/tls.key" \
    >/dev/null 2>&1 || true
cl_log "a listed observer identity sending a tx batch whose entry runs past the frame"
# TXS (type 7), 5 bytes: an entry announcing 9 bytes, then 1
printf '\007\000\000\000\005\000\000\000\011x' | timeout 5 openssl s_client -quiet -tls1_3 \
    -connect "127.0.0.1:$peer_port" -cert "$CL_DIR/o1/tls.crt" -key "$CL_DIR/o1/tls.key" \
    >/dev/null 2>&1 || true

cl_log "slow drip: one byte a second, never finishing a handshake"
(
    exec 3<>"/dev/tcp/127.0.0.1/$peer_port"
    # a TLS record header announcing 512 bytes, then the bytes one by one
    printf '\026\003\001\002\000' >&3
    for _ in $(seq 1 14); do
        printf '\000' >&3 2>/dev/null || exit 0
        sleep 1
    done
) &
drip=$!

h=$(cl_height v1)
cl_load --node "$(cl_url v1)" --count 200 --rate 100 --timeout 30 >"$CL_DIR/load.out" ||
    cl_fail "load under attack: $(cat "$CL_DIR/load.out")"
wait "$drip" || true
cl_wait_height v1 $((h + 3)) 20

for reason in tls identity frame_size frame_type slow message; do
    c=$(metric "$reason")
    cl_log "rejected $reason: $c"
    [ -n "$c" ] && [ "$c" -ge 1 ] || cl_fail "no rejection counted for $reason"
done
[ "$(curl -s "$(cl_url v1)/v1/status" | cl_field peers)" -ge 3 ] || cl_fail "v1 lost its peers"
cl_log "ok: every rogue input refused, the chain kept committing"
