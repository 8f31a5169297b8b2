#!/usr/bin/env bash
# run_misuse.sh PROGRAM CASE REGEX — runs one misuse case and checks that it
# died of SIGABRT with exactly one stderr line that matches REGEX and names
# the address the program announced.
set -u
prog=$1 case=$2 regex=$3
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$prog" "$case" >"$out" 2>"$err"
rc=$?
addr=$(sed -n 's/^addr \(0x[0-9a-f]*\)$/\1/p' "$out")
fail() { echo "FAIL $case: $*"; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; exit 1; }
[ "$rc" -eq 134 ] || fail "exit status $rc, expected 134 (SIGABRT)"
[ "$(wc -l <"$err")" -eq 1 ] || fail "expected exactly one stderr line"
grep -Eq "$regex" "$err" || fail "stderr does not match /$regex/"
[ -n "$addr" ] && grep -q -- "$addr" "$err" || fail "stderr does not name $addr"
echo "ok $case: $(cat "$err")"
