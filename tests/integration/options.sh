#!/bin/sh
# options.sh — the HEAPSIGHT= environment variable, seen from outside:
#   unset                  -> exit 0, stderr empty
#   stats_print:true       -> exit 0, statistics on stderr naming
#                             "heapsight", opt.stats_print reads 1
#   bogus_key:1            -> exit 0, exactly one stderr line, naming
#                             "bogus_key"; the program runs to the end
#   narenas:3              -> opt.narenas reads 3
#   hpa_dehugification_threshold:0.2 -> one stderr line: accepted, ignored
# Usage: options.sh <opt_probe executable>
set -u
probe=${1:?usage: options.sh opt_probe}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

run() { # run <HEAPSIGHT value or "-" for unset>
    if [ "$1" = "-" ]; then
        env -u HEAPSIGHT "$probe" >"$tmp/out" 2>"$tmp/err"
    else
        env HEAPSIGHT="$1" "$probe" >"$tmp/out" 2>"$tmp/err"
    fi
    rc=$?
    echo "--- HEAPSIGHT=$1: exit $rc; stdout:"; cat "$tmp/out"
    echo "--- stderr ($(wc -l <"$tmp/err") lines, first 20):"
    head -n 20 "$tmp/err"
    [ $rc -eq 0 ] || fail "HEAPSIGHT=$1: exit status $rc"
    grep -qx 'probe done' "$tmp/out" || fail "HEAPSIGHT=$1: did not finish"
}

run -
[ -s "$tmp/err" ] && fail "no HEAPSIGHT: stderr is not empty"
grep -qx 'opt.stats_print=0 rc=0' "$tmp/out" ||
    fail "no HEAPSIGHT: opt.stats_print is not 0"

run stats_print:true
grep -qi heapsight "$tmp/err" ||
    fail "stats_print:true: stderr does not mention heapsight"
grep -qx 'opt.stats_print=1 rc=0' "$tmp/out" ||
    fail "stats_print:true: opt.stats_print is not 1"

run bogus_key:1
lines=$(wc -l <"$tmp/err")
[ "$lines" -eq 1 ] || fail "bogus_key:1: $lines stderr lines, want 1"
grep -q bogus_key "$tmp/err" || fail "bogus_key:1: warning lacks bogus_key"

run narenas:3
grep -qx 'opt.narenas=3 rc=0' "$tmp/out" || fail "narenas:3: not read back"
[ -s "$tmp/err" ] && fail "narenas:3: stderr is not empty"

run hpa_dehugification_threshold:0.2
lines=$(wc -l <"$tmp/err")
[ "$lines" -eq 1 ] || fail "hpa_dehugification_threshold: $lines stderr lines, want 1"
grep -q "accepted and ignored" "$tmp/err" ||
    fail "hpa_dehugification_threshold: no note that it is ignored"

[ $status -eq 0 ] && echo "options ok"
exit $status
