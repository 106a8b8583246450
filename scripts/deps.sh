#!/usr/bin/env bash
# Installs the Debian 12 packages Hallmark needs, and only when one is missing,
# so that `make run` and `make test` work on a fresh machine and cost nothing
# on a prepared one.
#
#   scripts/deps.sh build   compiler, pkg-config and the libraries we link
#   scripts/deps.sh test    build + clang/libFuzzer, chromium and node for the browser test,
#                           python3-yaml for the OpenAPI check
#   scripts/deps.sh bench   test + wrk and nginx (the reference points of `make bench`)
set -euo pipefail

build_pkgs=(build-essential pkg-config libsecp256k1-dev librocksdb-dev libevent-dev
    libssl-dev libjansson-dev libqrencode-dev libcmocka-dev openssl curl)
test_pkgs=(clang libclang-rt-14-dev chromium fonts-wqy-zenhei nodejs npm python3-yaml)
bench_pkgs=(wrk nginx-light)

want=("${build_pkgs[@]}")
case "${1:-build}" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*)
    echo "usage: $0 [build|test|bench]" >&2
    exit 2
    ;;
esac

# Node.js and npm may come from another packaging of Node.js that bundles
# npm (Debian's npm package then conflicts with it): a working command is
# enough for those two.
satisfied_by_command() {
    case $1 in
    nodejs) command -v node >/dev/null 2>&1 ;;
    npm) command -v npm >/dev/null 2>&1 ;;
    *) return 1 ;;
    esac
}

missing=()
for p in "${want[@]}"; do
    satisfied_by_command "$p" && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
