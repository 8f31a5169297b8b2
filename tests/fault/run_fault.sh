#!/usr/bin/env bash
# run_fault.sh [options] PROGRAM [ARGS...] — runs one fault-survival case
# under its variant's HEAPSIGHT (set by CTest) and judges the exact
# outcome: exit status 0, nothing on stderr, no dump temporary left.
#
#   --prof-opts OPTS  options appended when the variant profiles
#   --cli HEAPSIGHT   when the variant profiles: at least one dump was
#                     written and `heapsight top` reads every one
#   --cli-name NAME   ... and names NAME in at least one of them
#
# A profiling variant (prof:true) gets
# prof_prefix into a fresh temporary directory, FAULT_DIR, which the
# program may use too and which is removed at the end.
set -u
prof_opts="" cli="" cli_name=""
while [ $# -gt 0 ]; do
    case $1 in
    --prof-opts) prof_opts=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --cli-name) cli_name=$2; shift 2 ;;
    *) break ;;
    esac
done
prog=$1; shift
name=$(basename "$prog")
dir=$(mktemp -d /tmp/hs_fault.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export FAULT_DIR=$dir
opts=${HEAPSIGHT:-}
add() { opts=${opts:+$opts,}$1; }
profiling=false
case ",$opts," in
*,prof:true,*)
    profiling=true
    [ -n "$prof_opts" ] && add "$prof_opts"
    add "prof_prefix:$dir/prof" ;;
esac
export HEAPSIGHT=$opts
echo "HEAPSIGHT=$HEAPSIGHT"
"$prog" "$@" >"$dir/stdout" 2>"$dir/stderr"
rc=$?
fail() {
    echo "FAIL $name: $*"
    echo "--- stdout"; cat "$dir/stdout"
    echo "--- stderr"; cat "$dir/stderr"
    exit 1
}
[ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
[ -s "$dir/stderr" ] && fail "unexpected output on stderr"
tmps=$(find "$dir" -name '.*.tmp')
[ -z "$tmps" ] || fail "dump temporaries left behind: $tmps"
if $profiling && [ -n "$cli" ]; then
    dumps=$(find "$dir" -name 'prof.*.pb.gz' | sort)
    [ -n "$dumps" ] || fail "no dump in $dir"
    : >"$dir/top"
    for d in $dumps; do
        "$cli" top "$d" >>"$dir/top" 2>&1 ||
            { cat "$dir/top"; fail "heapsight top $d failed"; }
    done
    if [ -n "$cli_name" ] && ! grep -q -- "$cli_name" "$dir/top"; then
        cat "$dir/top"; fail "no dump names $cli_name"
    fi
    echo "heapsight top read $(echo "$dumps" | wc -l) dumps"
fi
cat "$dir/stdout"
echo "ok $name"
