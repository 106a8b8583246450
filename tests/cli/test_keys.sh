#!/usr/bin/env bash
# tests/cli/test_keys.sh BUILD — keys and signatures from the shell: keygen,
# key show, sign, verify-sig, the refusals and their exit codes, and the
# Merkle root of the RFC 6962 example tree.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
hm="${1:?usage: test_keys.sh BUILD_DIR}/hallmark"

# keygen: a new key, mode 0600, never overwritten.
expect_rc 0 "keygen" "$hm" keygen --out "$work/a.key"
pub="$out"
expect_match '^[0-9a-f]{64}$' "$pub" "keygen prints a 64-digit public key"
expect_eq 600 "$(stat -c %a "$work/a.key")" "key file mode"
expect_rc 3 "keygen refuses to overwrite" "$hm" keygen --out "$work/a.key"
expect_match "overwrite" "$err" "overwrite refusal says why"
expect_rc 2 "keygen without --out" "$hm" keygen
expect_rc 0 "keygen --json" "$hm" keygen --out "$work/b.key" --json
expect_match '"pubkey": "[0-9a-f]{64}"' "$out" "keygen --json has pubkey"

# key show gives back the same public key.
expect_rc 0 "key show" "$hm" key show --key "$work/a.key"
expect_eq "$pub" "$out" "key show matches keygen"

# sign then verify-sig, with every way of giving the message.
expect_rc 0 "sign --message" "$hm" sign --key "$work/a.key" --chain-id test-chain \
    --message "hello hallmark"
sig="$out"
expect_match '^[0-9a-f]{128}$' "$sig" "sign prints a 128-digit signature"
expect_rc 0 "verify-sig valid" "$hm" verify-sig --pubkey "$pub" --sig "$sig" \
    --chain-id test-chain --message "hello hallmark"
expect_eq "valid" "$out" "verify-sig says valid"
printf 'hello hallmark' >"$work/msg"
expect_rc 0 "verify-sig --file" "$hm" verify-sig --pubkey "$pub" --sig "$sig" \
    --chain-id test-chain --file "$work/msg"
expect_rc 0 "verify-sig --hex" "$hm" verify-sig --pubkey "$pub" --sig "$sig" \
    --chain-id test-chain --hex "$(printf 'hello hallmark' | od -An -tx1 | tr -d ' \n')"

# Tampering with anything signed fails with exit 1.
expect_rc 1 "tampered message" "$hm" verify-sig --pubkey "$pub" --sig "$sig" \
    --chain-id test-chain --message "hello hallmarK"
expect_eq "invalid" "$out" "verify-sig says invalid"
expect_rc 1 "other chain" "$hm" verify-sig --pubkey "$pub" --sig "$sig" \
    --chain-id other-chain --message "hello hallmark"
expect_rc 1 "other purpose" "$hm" verify-sig --pubkey "$pub" --sig "$sig" \
    --chain-id test-chain --purpose request --message "hello hallmark"
other_pub="$("$hm" key show --key "$work/b.key")"
expect_rc 1 "other key" "$hm" verify-sig --pubkey "$other_pub" --sig "$sig" \
    --chain-id test-chain --message "hello hallmark"
bad_sig="$(printf '%s' "$sig" | sed 's/^./0/;t;')"
[ "$bad_sig" = "$sig" ] && bad_sig="1${sig:1}"
expect_rc 1 "tampered signature" "$hm" verify-sig --pubkey "$pub" --sig "$bad_sig" \
    --chain-id test-chain --message "hello hallmark"
expect_rc 2 "short signature hex" "$hm" verify-sig --pubkey "$pub" --sig abcd \
    --chain-id test-chain --message x
expect_rc 2 "two message sources" "$hm" sign --key "$work/a.key" --message a --hex 00

# The chain id may come from a genesis file.
printf '{"chain_id": "test-chain", "validators": []}\n' >"$work/genesis.json"
expect_rc 0 "verify-sig --genesis" "$hm" verify-sig --pubkey "$pub" --sig "$sig" \
    --genesis "$work/genesis.json" --message "hello hallmark"
HALLMARK_GENESIS="$work/genesis.json" expect_rc 0 "verify-sig HALLMARK_GENESIS" \
    "$hm" verify-sig --pubkey "$pub" --sig "$sig" --message "hello hallmark"
printf '{"validators": []}\n' >"$work/nochain.json"
expect_rc 3 "genesis without chain_id" "$hm" sign --key "$work/a.key" \
    --genesis "$work/nochain.json" --message x
expect_match 'chain_id' "$err" "missing chain_id is named"
expect_rc 2 "tx purpose needs a chain id" env -u HALLMARK_GENESIS "$hm" sign \
    --key "$work/a.key" --purpose tx --message x

# A key file others can read is refused, saying how to fix it.
chmod 0644 "$work/a.key"
expect_rc 3 "0644 key refused by sign" "$hm" sign --key "$work/a.key" --message x
expect_match 'chmod 600' "$err" "permission refusal says chmod 600"
expect_rc 3 "0644 key refused by key show" "$hm" key show --key "$work/a.key"
expect_rc 3 "missing key file" "$hm" key show --key "$work/none.key"
printf 'not a key\n' >"$work/bad.key"
chmod 600 "$work/bad.key"
expect_rc 3 "malformed key file" "$hm" key show --key "$work/bad.key"

# Merkle root of the RFC 6962 8-leaf example tree.
printf '\n00\n10\n2021\n3031\n40414243\n5051525354555657\n606162636465666768696a6b6c6d6e6f\n' \
    >"$work/rfc6962.txt"
expect_rc 0 "merkle root" "$hm" merkle root --hex "$work/rfc6962.txt"
expect_eq 5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328 "$out" \
    "RFC 6962 8-leaf root"

# Usage errors.
expect_rc 2 "unknown command" "$hm" no-such-command
expect_rc 2 "unknown option" "$hm" keygen --no-such-option
expect_rc 0 "help" "$hm" --help
expect_match 'exit codes' "$out" "help lists exit codes"
expect_rc 0 "help keygen" "$hm" help keygen
expect_match 'usage: hallmark keygen' "$out" "help <cmd> shows its usage"

finish
