#!/usr/bin/env bash
# tests/cli/test_layers.sh BUILD — proves tests/check_layers.sh can fail: it
# must reject a consensus object that calls socket() and time(), a contracts
# object that reads a file, and a lib object that calls libevent, naming each
# object and symbol; and it must accept clean objects.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
cc="${CC:-cc}"

mkdir -p "$work/good/consensus" "$work/good/contracts" "$work/good/lib" \
    "$work/bad/consensus" "$work/bad/contracts" "$work/bad/lib"

cat >"$work/clean.c" <<'C'
#include <string.h>
int clean_fn(char *dst, const char *src);
int clean_fn(char *dst, const char *src) { return (int)strlen(strcpy(dst, src)); }
C
cat >"$work/net_clock.c" <<'C'
#include <sys/socket.h>
#include <time.h>
int bad_fn(void);
int bad_fn(void) { return socket(AF_INET, SOCK_STREAM, 0) + (int)time(NULL); }
C
cat >"$work/file.c" <<'C'
#include <stdio.h>
int bad_file(void);
int bad_file(void) { FILE *f = fopen("x", "r"); return f != NULL; }
C
cat >"$work/ev.c" <<'C'
struct event_base;
struct event_base *event_base_new(void);
int bad_ev(void);
int bad_ev(void) { return event_base_new() != 0; }
C

for d in consensus contracts lib; do
    "$cc" -c "$work/clean.c" -o "$work/good/$d/clean.o"
    cp "$work/good/$d/clean.o" "$work/bad/$d/clean.o"
done
"$cc" -c "$work/net_clock.c" -o "$work/bad/consensus/net_clock.o"
"$cc" -c "$work/file.c" -o "$work/bad/contracts/file.o"
"$cc" -c "$work/ev.c" -o "$work/bad/lib/ev.o"
# lib may read files: the same object there is no violation.
"$cc" -c "$work/file.c" -o "$work/good/lib/file.o"

expect_rc 0 "clean objects pass" bash tests/check_layers.sh "$work/good"
expect_match 'ok \(4 objects\)' "$out" "all clean objects were checked"
expect_rc 1 "bad objects fail" bash tests/check_layers.sh "$work/bad"
expect_match 'net_clock\.o: socket \(sockets\)' "$out" "socket() in consensus is named"
expect_match 'net_clock\.o: time \(clocks\)' "$out" "time() in consensus is named"
expect_match 'file\.o: fopen \(file I/O\)' "$out" "fopen() in contracts is named"
expect_match 'ev\.o: event_base_new \(libevent\)' "$out" "libevent in lib is named"
expect_match '4 violation' "$out" "exactly four violations"
expect_rc 2 "missing directory is misuse" bash tests/check_layers.sh "$work/none"

finish
