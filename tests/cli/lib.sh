# tests/cli/lib.sh — helpers sourced by the tests/cli/test_*.sh scripts.
#
#   expect_rc WANT DESCRIPTION CMD...   runs CMD, keeps its stdout in $out and
#                                       stderr in $err, and records a failure
#                                       unless it exits with WANT
#   expect_eq WANT GOT DESCRIPTION      records a failure unless equal
#   expect_match PATTERN TEXT DESC      records a failure unless TEXT matches
#                                       the extended regex PATTERN
#   finish                              prints the tally; exit status 1 if
#                                       anything failed
# Each test gets a scratch directory $work, removed on exit.
checks=0
fails=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

expect_rc() {
    local want="$1" desc="$2"
    shift 2
    out="$("$@" 2>"$work/.stderr")"
    local rc=$?
    err="$(cat "$work/.stderr")"
    checks=$((checks + 1))
    if [ "$rc" != "$want" ]; then
        fails=$((fails + 1))
        echo "FAIL: $desc: exit $rc, expected $want"
        echo "  command: $*"
        [ -n "$out" ] && echo "  stdout: $out"
        [ -n "$err" ] && echo "  stderr: $err"
    fi
    return 0
}

expect_eq() {
    checks=$((checks + 1))
    if [ "$1" != "$2" ]; then
        fails=$((fails + 1))
        echo "FAIL: $3: got '$2', expected '$1'"
    fi
}

expect_match() {
    checks=$((checks + 1))
    if ! [[ "$2" =~ $1 ]]; then
        fails=$((fails + 1))
        echo "FAIL: $3: '$2' does not match /$1/"
    fi
}

finish() {
    echo "$(basename "$0"): $((checks - fails)) of $checks checks passed"
    ((fails == 0))
}
