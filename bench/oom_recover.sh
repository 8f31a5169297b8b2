#!/usr/bin/env bash
# bench/oom_recover.sh — each allocator under a tight RLIMIT_AS: how much
# it serves before malloc fails, whether failures say ENOMEM, and whether
# memory freed can be had again (bench/oom_recover.c; one run each, the
# outcome is not a timing).
#
# Allocators: glibc (no preload), heapsight (<build-dir>/lib), jemalloc,
# mimalloc, tcmalloc (Debian's packages), and LLVM's hardened allocator
# Scudo, classic and standalone (libclang-rt-14-dev); a missing one is
# skipped with a note.  "exit" is the program's status (134: abort, an
# allocator that ends the process instead of returning NULL).  Every
# allocator runs with its defaults (HEAPSIGHT and MALLOC_CONF are removed
# from the environment).
#
# Usage: bash bench/oom_recover.sh [--limit MiB] [--build-dir DIR]
#   --limit MiB       the RLIMIT_AS (default 256)
#   --build-dir DIR   build directory (default: <repo>/build); the program
#                     and libheapsight are built there when missing
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$REPO/build"
LIMIT=256
note() { printf '[oom_recover.sh] %s\n' "$*" >&2; }
die() { note "error: $*"; exit 1; }
while [[ $# -gt 0 ]]; do
    case "$1" in
    --limit) LIMIT="${2:?--limit wants MiB}"; shift ;;
    --build-dir) BUILD_DIR="${2:?--build-dir wants a directory}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
[[ "$LIMIT" =~ ^[1-9][0-9]*$ ]] || die "--limit wants a positive number of MiB"
unset HEAPSIGHT MALLOC_CONF

mkdir -p "$BUILD_DIR/bench-results"
LOG="$BUILD_DIR/bench-results/oom_recover-build.log"
. "$REPO/bench/lib.sh"
HOME_DIR=$(bench_build_home)
[[ "$HOME_DIR" == "$REPO" ]] || die "$BUILD_DIR is not configured from $REPO (see $LOG)"
cmake --build "$BUILD_DIR" --target hs_bench_oom_recover heapsight -j2 >>"$LOG" 2>&1 ||
    die "build failed (see $LOG)"
PROG="$BUILD_DIR/bench/oom_recover"

# Scudo, the hardened allocator of LLVM's compiler-rt, in both versions
# (Debian's libclang-rt-14-dev, which the fuzz targets need anyway).
scudo_lib() {
    local f
    for f in /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt."$1"-x86_64.so; do
        [[ -e "$f" ]] && { echo "$f"; return; }
    done
}
declare -A LIBS=([glibc]="" [heapsight]="$BUILD_DIR/lib/libheapsight.so"
                 [jemalloc]=$(find_lib libjemalloc.so.2)
                 [mimalloc]=$(find_lib libmimalloc.so.2)
                 [tcmalloc]=$(find_lib libtcmalloc_minimal.so.4)
                 [scudo]=$(scudo_lib scudo)
                 [scudo_standalone]=$(scudo_lib scudo_standalone))
echo "# RLIMIT_AS = $LIMIT MiB: MiB served by 1000-byte and 3 MiB mallocs until"
echo "# the first failure, then (after freeing all) a 100 MiB malloc, a 150 MiB"
echo "# calloc and the 1000-byte fill again"
echo
echo "| allocator | small MiB | ENOMEM | 3 MiB blocks, MiB | ENOMEM | 100 MiB after | 150 MiB calloc after | small again, MiB | exit |"
echo "|---|---|---|---|---|---|---|---|---|"
for a in glibc heapsight jemalloc mimalloc tcmalloc scudo scudo_standalone; do
    lib=${LIBS[$a]}
    if [[ $a != glibc && -z "$lib" ]]; then
        note "$a not found: skipped"
        continue
    fi
    rc=0
    out=$(env ${lib:+LD_PRELOAD=$lib} "$PROG" "$LIMIT" 2>/dev/null) || rc=$?
    declare -A v=()
    for kv in $out; do v[${kv%%=*}]=${kv#*=}; done
    yn() { case "${1:-}" in 1) echo yes ;; 0) echo no ;; *) echo "-" ;; esac; }
    echo "| $a | ${v[small_mib]:--} | $(yn "${v[small_enomem]:-}") | ${v[big_mib]:--} | $(yn "${v[big_enomem]:-}") | $(yn "${v[malloc100_after]:-}") | $(yn "${v[calloc150_after]:-}") | ${v[small_again_mib]:--} | $rc |"
    unset v
done
