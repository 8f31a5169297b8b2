#!/usr/bin/env bash
# bench/reach.sh — what the reachability scan at exit costs (prof/reach.h):
# bench/reach_heap.c builds a live heap of MIB MiB (default 1024) in blocks
# of SIZE bytes (default 4096) under the library with prof_leak on, and
# this prints, for REPS runs (default 3), the scan's own figure from the
# final dump's comment ("reachability: scanned R bytes of roots and H of
# heap (N blocks) in T ms") and the whole run's wall and CPU time, with
# and without the scan (prof_leak_scan:false).
# Usage: bash bench/reach.sh [MIB] [SIZE] [REPS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MIB=${1:-1024} SIZE=${2:-4096} REPS=${3:-3}
B=build
cmake --build "$B" --target heapsight hs_bench_reach_heap hs_cli -j2 >/dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for r in $(seq "$REPS"); do
  for scan in true false; do
    rm -f "$OUT"/h.* "$OUT"/err "$OUT"/time
    /usr/bin/time -o "$OUT/time" -f "%e s wall, %U+%S s cpu" \
      env LD_PRELOAD="$B/lib/libheapsight.so" \
      HEAPSIGHT="prof:true,prof_leak:true,prof_leak_scan:$scan,prof_prefix:$OUT/h" \
      "$B/bench/reach_heap" "$MIB" "$SIZE" >/dev/null 2>"$OUT/err"
    t=$(cat "$OUT/time")
    c=$(go tool pprof -comments "$OUT"/h.*.final.pb.gz 2>/dev/null |
        grep '^reachability' || echo "reachability: (no scan)")
    echo "run $r, scan $scan: $t | $c"
  done
done
