#!/usr/bin/env bash
# scripts/demo.sh — README command 1: set up, build, and run real programs on
# the preloaded allocator with its statistics printed at exit.
#
#   1. scripts/setup.sh (packages when missing, then the build)
#   2. /usr/bin/python3 examples/workload.py under LD_PRELOAD
#   3. the C example hs_example_churn (examples/churn.c) under LD_PRELOAD
#
# Each run prints its command line first.  HEAPSIGHT=stats_print:true makes
# libheapsight print its statistics when the program exits.
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

banner "C: threads allocating and freeing mixed sizes, a small leak on purpose"
run_preloaded "${CHURN#"$ROOT"/}" || status=$?

if [ "$status" -eq 0 ]; then
    banner "demo finished: both programs ran on build/lib/libheapsight.so"
else
    banner "demo FAILED: a program exited with status $status"
fi
exit "$status"
