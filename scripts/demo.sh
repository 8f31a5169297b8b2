#!/usr/bin/env bash
# scripts/demo.sh — README command 1: set up, build, and run real programs on
# the preloaded allocator: one with its statistics printed at exit, one
# profiled, with its profile, leak report and top sites.
#
#   1. scripts/setup.sh (packages when missing, then the build)
#   2. /usr/bin/python3 examples/workload.py under LD_PRELOAD, statistics
#      printed at exit (HEAPSIGHT=stats_print:true)
#   3. the C example hs_example_churn (examples/churn.c, which leaks a few
#      blocks on purpose) profiled with `heapsight run --leaks
#      --flamegraph`: the leak report on stderr, a symbolized profile and
#      an interactive flame graph in build/demo-profiles/, then `heapsight
#      leaks` and `heapsight top` of it and its top sites through
#      `go tool pprof`
#   4. the same Python script profiled with `heapsight run`: one sampled
#      stack through go tool pprof -traces, the Python functions (file and
#      line) merged with the native frames of SQLite below them
#
# Each run prints its command line first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

LIB="$ROOT/build/lib/libheapsight.so"
CHURN="$ROOT/build/examples/hs_example_churn"
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
OPTIONS=stats_print:true

banner() { printf '\n==== %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

# Runs "$@" with the allocator preloaded, after printing the command.
run_preloaded() {
    printf '$ HEAPSIGHT=%s LD_PRELOAD=%s %s\n' "$OPTIONS" "${LIB#"$ROOT"/}" "$*"
    HEAPSIGHT="$OPTIONS" LD_PRELOAD="$LIB" "$@"
}

banner "set-up and build: bash scripts/setup.sh"
bash scripts/setup.sh

[ -f "$LIB" ] || die "$LIB was not built"
[ -x "$CHURN" ] || die "$CHURN was not built"

status=0

banner "Python: an allocation-heavy script on heapsight"
run_preloaded "$PYTHON" examples/workload.py || status=$?

banner "C, profiled: threads allocating mixed sizes, a small leak on purpose"
HS="$ROOT/build/bin/heapsight"
OUT="$ROOT/build/demo-profiles"
rm -rf "$OUT" && mkdir -p "$OUT"
FLAME="$OUT/churn-flamegraph.html"
printf '$ build/bin/heapsight run --sample 64k --leaks --flamegraph %s --out %s -- %s\n' \
    "${FLAME#"$ROOT"/}" "${OUT#"$ROOT"/}" "${CHURN#"$ROOT"/}"
"$HS" run --sample 64k --leaks --flamegraph "$FLAME" --out "$OUT" -- "$CHURN" ||
    status=$?
PROFILE=$(ls "$OUT"/*.pb.gz 2>/dev/null | head -1)
if [ -n "$PROFILE" ]; then
    banner "what was still live at exit: heapsight leaks -n 3"
    "$HS" leaks -n 3 "$PROFILE" || status=$?
    banner "top allocation sites: heapsight top --sample-index alloc_space"
    "$HS" top --sample-index alloc_space -n 10 "$PROFILE" || status=$?
    [ -s "$FLAME" ] && printf '\nflame graph (open it in a browser): %s\n' \
        "${FLAME#"$ROOT"/}"
fi
if [ -n "$PROFILE" ] && command -v go >/dev/null; then
    banner "the same profile in go tool pprof -top -sample_index=alloc_space"
    GOTMP=$(mktemp -d)
    HOME=$GOTMP GOCACHE=$GOTMP/cache GOPATH=$GOTMP/path \
        go tool pprof -symbolize=none -top -nodecount=12 \
        -sample_index=alloc_space "$PROFILE" 2>/dev/null || status=$?
    rm -rf "$GOTMP"
elif [ -z "$PROFILE" ]; then
    printf 'demo: no profile was written\n' >&2
    status=1
fi

banner "Python, profiled: Python functions merged into the native stacks"
PYOUT="$OUT/python"
mkdir -p "$PYOUT"
printf '$ build/bin/heapsight run --sample 64k --out %s -- %s examples/workload.py\n' \
    "${PYOUT#"$ROOT"/}" "$PYTHON"
"$HS" run --sample 64k --out "$PYOUT" -- "$PYTHON" examples/workload.py ||
    status=$?
PYPROFILE=$(ls "$PYOUT"/*.pb.gz 2>/dev/null | head -1)
if [ -n "$PYPROFILE" ] && command -v go >/dev/null; then
    banner "one SQLite allocation under sqlite_work (go tool pprof -traces -lines)"
    GOTMP=$(mktemp -d)
    HOME=$GOTMP GOCACHE=$GOTMP/cache GOPATH=$GOTMP/path \
        go tool pprof -symbolize=none -traces -lines -focus=sqlite3_step \
        -sample_index=alloc_space "$PYPROFILE" 2>/dev/null |
        sed -n '/^-----/,/^-----/p' | head -40 || true
    rm -rf "$GOTMP"
elif [ -z "$PYPROFILE" ]; then
    printf 'demo: no Python profile was written\n' >&2
    status=1
fi

if [ "$status" -eq 0 ]; then
    banner "demo finished: every program ran on build/lib/libheapsight.so"
else
    banner "demo FAILED: a program exited with status $status"
fi
exit "$status"
