# tests/cluster/node_common.sh — helpers the node's cluster tests source.
#
# A test calls cl_init NAME BASE_PORT [OBSERVERS] to create a fresh network
# under $CLUSTER_BUILD/cluster/NAME, then cl_start/cl_kill9/cl_stop on nodes
# (v1..v4, o1..). Every process a test starts is killed on exit (and the
# network's folder removed when CL_REMOVE_ON_EXIT=1, as benchmarks set). Ports: HTTP
# BASE+i, peers BASE+100+i, observers' HTTP BASE+50+j: give each test its own
# BASE so tests never collide.
set -euo pipefail

CLUSTER_BUILD=${CLUSTER_BUILD:-$PWD/${1:-build}}
HALLMARKD="$CLUSTER_BUILD/hallmarkd"
HALLMARK="$CLUSTER_BUILD/hallmark"
declare -A CL_PID=()
CL_DIR=""
CL_BASE=0

cl_cleanup() {
    local n
    for n in "${!CL_PID[@]}"; do
        kill -9 "${CL_PID[$n]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    # benchmarks leave gigabytes of chain behind otherwise; a test's network
    # stays for its log to be read
    if [ "${CL_REMOVE_ON_EXIT:-0}" = 1 ] && [ -n "$CL_DIR" ]; then rm -rf "$CL_DIR"; fi
}
trap cl_cleanup EXIT

cl_log() { echo "[$(date +%H:%M:%S)] $*"; }
cl_fail() {
    echo "FAIL: $*"
    exit 1
}

# cl_init NAME BASE_PORT [OBSERVERS]
cl_init() {
    CL_DIR="$CLUSTER_BUILD/cluster/$1"
    CL_BASE=$2
    rm -rf "$CL_DIR"
    "$HALLMARK" genesis init --out "$CL_DIR" --validators 4 --observers "${3:-0}" \
        --base-port "$CL_BASE" --chain-id "cluster-$1" >/dev/null
    # shorter timeouts so that a lost round costs little in a test
    sed -i 's/"timeout_propose_ms": [0-9]*/"timeout_propose_ms": 2000/' "$CL_DIR/genesis.json"
}

cl_port() { # cl_port v1 -> HTTP port
    case $1 in
    v*) echo $((CL_BASE + ${1#v} - 1)) ;;
    o*) echo $((CL_BASE + 50 + ${1#o} - 1)) ;;
    esac
}
cl_url() { echo "http://127.0.0.1:$(cl_port "$1")"; }

cl_start() {
    local n
    for n in "$@"; do
        (cd "$CL_DIR/$n" && exec "$HALLMARKD" --config node.json 2>>node.log) &
        CL_PID[$n]=$!
    done
}

cl_kill9() {
    local n
    for n in "$@"; do
        kill -9 "${CL_PID[$n]}" 2>/dev/null || true
        wait "${CL_PID[$n]}" 2>/dev/null || true
        unset "CL_PID[$n]"
    done
}

cl_stop() {
    local n
    for n in "$@"; do
        kill -TERM "${CL_PID[$n]}" 2>/dev/null || true
        wait "${CL_PID[$n]}" 2>/dev/null || true
        unset "CL_PID[$n]"
    done
}

# JSON field of a compact one-line object (numbers or strings).
cl_field() { # cl_field FIELD < json
    sed -n "s/.*\"$1\": *\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n 1
}

cl_height() {
    curl -s --max-time 2 "$(cl_url "$1")/v1/status" | cl_field height || true
}

# cl_wait_height NODE HEIGHT TIMEOUT_S
cl_wait_height() {
    local i h
    for i in $(seq 1 $(($3 * 10))); do
        h=$(cl_height "$1")
        if [ -n "$h" ] && [ "$h" -ge "$2" ]; then return 0; fi
        sleep 0.1
    done
    cl_fail "$1 did not reach height $2 in $3 s (at ${h:-none})"
}

# "hash state_root" of block H on NODE
cl_block_id() {
    local j
    j=$(curl -s --max-time 2 "$(cl_url "$1")/v1/blocks/$2")
    echo "$(echo "$j" | cl_field hash) $(echo "$j" | cl_field state_root)"
}

# cl_load ARGS... : hallmark load against this network
cl_load() {
    "$HALLMARK" load --genesis "$CL_DIR/genesis.json" "$@"
}

# Every node given holds the same block (hash and state root) at height H.
# Block hashes chain through prev_block_hash, so equal blocks at H mean
# equal chains up to H; a few lower heights are checked as well.
cl_same_chain() { # cl_same_chain H NODE...
    local h=$1 hgt ref id n
    shift
    for hgt in "$h" $((h / 2 + 1)) 1; do
        ref=$(cl_block_id "$1" "$hgt")
        [ -n "${ref// /}" ] || cl_fail "$1 has no block $hgt"
        for n in "${@:2}"; do
            id=$(cl_block_id "$n" "$hgt")
            [ "$id" = "$ref" ] || cl_fail "fork at height $hgt: $1=$ref $n=$id"
        done
    done
}

# cl_wait_tx ID [NODE [any]]: until NODE (default v1) reports tx ID
# committed; it must have applied, unless "any" (whatever the contract said).
cl_wait_tx() {
    local j node=${2:-v1}
    for _ in $(seq 1 600); do
        j=$(curl -s --max-time 2 "$(cl_url "$node")/v1/txs/$1" || true)
        if [ "$(echo "$j" | cl_field status)" = committed ]; then
            [ "${3:-}" = any ] || [ "$(echo "$j" | cl_field result)" = ok ] ||
                cl_fail "tx $1 refused: $j"
            return 0
        fi
        sleep 0.1
    done
    cl_fail "tx $1 not committed on $node: $j"
}

# cl_submit ARGS...: `hallmark ARGS --node v1`, then cl_wait_tx on its tx.
cl_submit() {
    local out id
    out=$("$HALLMARK" "$@" --node "$(cl_url v1)" 2>&1) || cl_fail "hallmark $*: $out"
    id=$(echo "$out" | tr -d ' \n' | sed -n 's/.*"tx":"\([0-9a-f]\{64\}\)".*/\1/p')
    [ -n "$id" ] || cl_fail "no tx id in: $out"
    cl_wait_tx "$id"
}

# cl_prov_brand SERIAL...: a brand with its key in $CL_DIR/acme.key (public
# key in B), GS1 prefix 0614141, product $GTIN and items SERIAL... of lot L1,
# each tx committed on v1. Needs admin (a genesis admin's key file) and GTIN.
cl_prov_brand() {
    local s
    "$HALLMARK" keygen --out "$CL_DIR/acme.key" >/dev/null
    B=$("$HALLMARK" key show --key "$CL_DIR/acme.key")
    cl_submit member add --key "$admin" --member "$B" --role brand --name "Acme Silk"
    cl_submit prefix assign --key "$admin" --prefix 0614141 --brand "$B"
    cl_submit product set --key "$CL_DIR/acme.key" --gtin "$GTIN" --name "Silk scarf"
    {
        echo 'gtin,serial,lot,expiry,code'
        for s in "$@"; do echo "$GTIN,$s,L1,301231,"; done
    } >"$CL_DIR/items.csv"
    cl_submit item register --key "$CL_DIR/acme.key" --file "$CL_DIR/items.csv"
}
