#!/usr/bin/env bash
# run_misuse.sh PROGRAM CASE REGEX [survive] — runs one misuse case and
# checks that it died of SIGABRT with exactly one stderr line that matches
# REGEX and names the address the program announced; with "survive" (run
# under HEAPSIGHT=abort_on_error:false), that it printed the same line and
# went on to exit 0.  With MISUSE_STACK=1 in the environment (the profiler
# sampling every allocation), the line must also end with the block's
# allocation stack, innermost frame in the misuse program.
set -u
prog=$1 case=$2 regex=$3 mode=${4:-abort}
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$prog" "$case" >"$out" 2>"$err"
rc=$?
addr=$(sed -n 's/^addr \(0x[0-9a-f]*\)$/\1/p' "$out")
fail() { echo "FAIL $case: $*"; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; exit 1; }
if [ "$mode" = survive ]; then
    [ "$rc" -eq 0 ] || fail "exit status $rc, expected 0 (abort_on_error:false)"
else
    [ "$rc" -eq 134 ] || fail "exit status $rc, expected 134 (SIGABRT)"
fi
[ "$(wc -l <"$err")" -eq 1 ] || fail "expected exactly one stderr line"
grep -Eq "$regex" "$err" || fail "stderr does not match /$regex/"
[ -n "$addr" ] && grep -q -- "$addr" "$err" || fail "stderr does not name $addr"
if [ "${MISUSE_STACK:-0}" = 1 ]; then
    grep -Eq "; allocated at hs_misuse\+0x[0-9a-f]+ <- " "$err" ||
        fail "stderr does not give the allocation stack"
fi
echo "ok $case: $(cat "$err")"
