#!/usr/bin/env bash
# tests/cli/test_merkle.sh BUILD — `hallmark merkle` against the RFC 6962
# reference tree: roots, inclusion and consistency proofs generated and
# checked, known proofs from the reference vectors, and tampered ones refused.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
hm="${1:?usage: test_merkle.sh BUILD_DIR}/hallmark"

printf '\n00\n10\n2021\n3031\n40414243\n5051525354555657\n606162636465666768696a6b6c6d6e6f\n' \
    >"$work/leaves.txt"
root8=5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328

# Inclusion proof of leaf 0, as in the reference vectors.
expect_rc 0 "proof" "$hm" merkle proof --hex "$work/leaves.txt" --index 0
expect_eq "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" "$out" "proof of leaf 0"

# Every leaf's proof verifies through --proof-file, and only at its index.
for i in 0 1 2 3 4 5 6 7; do
    "$hm" merkle proof --hex "$work/leaves.txt" --index "$i" >"$work/proof$i"
    leaf="$(sed -n "$((i + 1))p" "$work/leaves.txt")"
    expect_rc 0 "verify leaf $i" "$hm" merkle verify --root "$root8" --size 8 --index "$i" \
        --leaf-hex "$leaf" --proof-file "$work/proof$i"
    expect_rc 1 "verify leaf $i at another index" "$hm" merkle verify --root "$root8" --size 8 \
        --index "$(((i + 1) % 8))" --leaf-hex "$leaf" --proof-file "$work/proof$i"
done
expect_rc 1 "verify with a wrong root" "$hm" merkle verify --root "${root8/5dc9/5dc8}" --size 8 \
    --index 0 --leaf-hex "" --proof-file "$work/proof0"
expect_rc 1 "verify with a short proof" "$hm" merkle verify --root "$root8" --size 8 --index 0 \
    --leaf-hex "" 96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
expect_rc 0 "verify --json" "$hm" merkle verify --root "$root8" --size 8 --index 5 \
    --leaf-hash 4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658 --json \
    bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b \
    ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0 \
    d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
expect_match '"valid": true' "$out" "verify --json says valid"
expect_rc 2 "index beyond the tree" "$hm" merkle proof --hex "$work/leaves.txt" --index 8

# Consistency 6 -> 8, as in the reference vectors, and checked back.
expect_rc 0 "consistency" "$hm" merkle consistency --hex "$work/leaves.txt" --size1 6
expect_eq "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a
ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0
d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" "$out" "consistency 6 -> 8"
printf '%s\n' "$out" >"$work/cons"
root6=76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef
expect_rc 0 "verify-consistency" "$hm" merkle verify-consistency --size1 6 --size2 8 \
    --root1 "$root6" --root2 "$root8" --proof-file "$work/cons"
expect_rc 1 "verify-consistency swapped roots" "$hm" merkle verify-consistency --size1 6 \
    --size2 8 --root1 "$root8" --root2 "$root6" --proof-file "$work/cons"
expect_rc 1 "verify-consistency from size 0" "$hm" merkle verify-consistency --size1 0 \
    --size2 8 --root1 "$root6" --root2 "$root8" --proof-file "$work/cons"
for m in 1 2 3 4 5 6 7 8; do
    head -n "$m" "$work/leaves.txt" >"$work/prefix"
    r1="$("$hm" merkle root --hex "$work/prefix")"
    "$hm" merkle consistency --hex "$work/leaves.txt" --size1 "$m" >"$work/cons$m"
    expect_rc 0 "verify-consistency $m -> 8" "$hm" merkle verify-consistency --size1 "$m" \
        --size2 8 --root1 "$r1" --root2 "$root8" --proof-file "$work/cons$m"
done

# Text leaves and standard input; the empty tree.
printf 'a\nb\r\nc' >"$work/text.txt"
printf 'a\nb\nc\n' >"$work/text2.txt"
expect_rc 0 "root of text leaves" "$hm" merkle root "$work/text.txt"
r_text="$out"
expect_rc 0 "root from stdin" sh -c "\"$hm\" merkle root - <\"$work/text2.txt\""
expect_eq "$r_text" "$out" "CRLF and a missing final newline do not change leaves"
: >"$work/empty"
expect_rc 0 "empty tree" "$hm" merkle root "$work/empty"
expect_eq e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "$out" \
    "empty tree root is SHA-256 of nothing"
printf 'zz\n' >"$work/badhex"
expect_rc 2 "bad hex leaf" "$hm" merkle root --hex "$work/badhex"
expect_rc 3 "missing leaf file" "$hm" merkle root "$work/none"

finish
