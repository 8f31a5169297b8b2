#!/usr/bin/env bash
# bench/soak.sh — the soak benchmark (bench/soak.c) under each allocator:
# hours of mixed multi-threaded allocation, every block's contents
# checked, and the trend of resident memory while the live set is steady.
#
# Owns: building bench/soak and the runner (and libheapsight when it is
# missing), running the soak once per allocator, one after the other (a
# soak is long: no repetitions, no round-robin), and the markdown table.
# The workload, its RSS timeline and the trend figures are bench/soak.c;
# each run goes through bench/runner.c (preload for the child only, a
# timeout of the run's length plus 10 minutes).
#
# Allocators (each with its defaults; HEAPSIGHT and MALLOC_CONF inherited
# from the caller are removed, and the header says so):
#   heapsight  <build-dir>/lib/libheapsight.so, measured from a copy
#   glibc      no preload
#   jemalloc, mimalloc, tcmalloc   the Debian packages' libraries (see
#              bench/run.sh, which installs them); a missing one is
#              skipped with a note
#
# Columns: ops/s over the whole run; RSS at 10% of the run (mean of the
# samples 9..11% in) and at the end (mean of the last 2%), and their
# ratio; the mean RSS of each quarter of the run; the least-squares slope
# of RSS over the second half (KiB/hour, +- its standard error); the
# fitted change over the second half as a percentage of the working set
# (the live bytes the program holds, mean over the second half); the
# working set; peak RSS; flat = that change is under 10%.  A content
# mismatch aborts the run (status 134 in the table).  Runs shorter than
# an hour or so mostly measure the noise of the bursts (tens of MiB
# within minutes): see the standard error and the quarters.
#
# Usage: bash bench/soak.sh [options]
#   --quick            60 s a run, a progress line every 5 s
#   --duration D       run length: seconds, or with a suffix s, m or h
#                      (default 2h)
#   --threads N        worker threads (default 8)
#   --allocators LIST  comma-separated (default: heapsight,glibc; "all":
#                      heapsight,glibc,jemalloc,mimalloc,tcmalloc)
#   --args "K=V ..."   extra bench/soak parameters (bench/soak --help)
#   --out FILE         also write the markdown report to FILE
#   --build-dir DIR    build directory (default: <repo>/build)
#   --lib PATH         libheapsight.so to measure (default:
#                      <build-dir>/lib/libheapsight.so, built only when
#                      missing)
# Progress lines go to stderr as the runs go.  Per-run output (summary
# line and 1 s RSS timeline) and stderr: <build-dir>/bench-results/
# soak-<timestamp>/<allocator>.txt and .err.
set -euo pipefail
# One brace group, read before any of it runs: a run takes hours, and an
# edit of this file meanwhile must not execute from the middle of a line.
{

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$REPO/build"
LIB=""
QUICK=0
DURATION="2h"
THREADS=8
ALLOCS="heapsight,glibc"
EXTRA_ARGS=""
OUT=""

note() { printf '[soak.sh] %s\n' "$*" >&2; }
die() { note "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --duration) DURATION="${2:?--duration wants a value}"; shift ;;
    --threads) THREADS="${2:?--threads wants a value}"; shift ;;
    --allocators) ALLOCS="${2:?--allocators wants a list}"; shift ;;
    --args) EXTRA_ARGS="${2?--args wants a value}"; shift ;;
    --out) OUT="${2:?--out wants a file}"; shift ;;
    --build-dir) BUILD_DIR="${2:?--build-dir wants a directory}"; shift ;;
    --lib) LIB="${2:?--lib wants a path}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
[[ $QUICK == 1 ]] && DURATION=60
case "$DURATION" in
*h) SECS=$(( ${DURATION%h} * 3600 )) ;;
*m) SECS=$(( ${DURATION%m} * 60 )) ;;
*s) SECS=${DURATION%s} ;;
*) SECS=$DURATION ;;
esac
[[ "$SECS" =~ ^[1-9][0-9]*$ ]] || die "--duration wants a positive number of seconds (or Ns, Nm, Nh)"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "--threads wants a positive integer"
[[ "$ALLOCS" == all ]] && ALLOCS="heapsight,glibc,jemalloc,mimalloc,tcmalloc"
# A progress line every 5 s for runs up to 5 minutes, every minute after.
REPORT_S=$(( SECS <= 300 ? 5 : 60 ))
# shellcheck disable=SC2206 # word splitting is the point
SOAK_ARGS=(threads="$THREADS" seconds="$SECS" report="$REPORT_S" $EXTRA_ARGS timeline=1)
TIMEOUT=$(( SECS + 600 ))
BUILD_DIR=$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)
LIB_GIVEN=0
# shellcheck disable=SC2034 # LIB_GIVEN: read by bench_build (lib.sh)
if [[ -n "$LIB" ]]; then LIB_GIVEN=1; else LIB="$BUILD_DIR/lib/libheapsight.so"; fi

# find_lib, bench_build_home and bench_build.
. "$REPO/bench/lib.sh"

declare -A PRELOAD=()
ORDER=()
WANT_HS=0
IFS=',' read -r -a want <<<"$ALLOCS"
for a in "${want[@]}"; do
    case "$a" in
    glibc) PRELOAD[$a]="" ;;
    heapsight) WANT_HS=1 ;;
    jemalloc) PRELOAD[$a]=$(find_lib libjemalloc.so.2) ;;
    mimalloc) PRELOAD[$a]=$(find_lib libmimalloc.so.2) ;;
    tcmalloc) PRELOAD[$a]=$(find_lib libtcmalloc_minimal.so.4) ;;
    *) die "unknown allocator '$a' (heapsight, glibc, jemalloc, mimalloc, tcmalloc)" ;;
    esac
    if [[ $a != glibc && $a != heapsight && -z "${PRELOAD[$a]}" ]]; then
        note "NOTE: $a library not found: skipped (bench/run.sh installs the peers)"
        continue
    fi
    ORDER+=("$a")
done
[[ ${#ORDER[@]} -gt 0 ]] || die "no allocator to measure"

# ---- Build ------------------------------------------------------------------------
# The bench's soak and runner, and libheapsight when missing (lib.sh).
# shellcheck disable=SC2034 # LOG: written by bench_build (lib.sh)
LOG="$BUILD_DIR/bench-results/soak-build.log"
bench_build soak
RUNNER="$BENCH_BIN/runner"
SOAK="$BENCH_BIN/soak"
[[ -x "$RUNNER" && -x "$SOAK" ]] || die "no runner or soak in $BENCH_BIN"

STAMP=$(date +%Y%m%d-%H%M%S)
RESDIR="$BUILD_DIR/bench-results/soak-$STAMP"
mkdir -p "$RESDIR"
if [[ $WANT_HS == 1 ]]; then
    # A private copy: the library may be rebuilt during a run of hours.
    bench_copy_lib "$RESDIR/libheapsight.so"
    PRELOAD[heapsight]=$HS_COPY
fi
trap bench_drop_copy EXIT

bench_drop_env

HEADER=$(
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- command: bash bench/soak.sh$([[ $QUICK == 1 ]] && echo ' --quick') (soak arguments: ${SOAK_ARGS[*]})"
    [[ -n "$ENV_NOTE" ]] && echo "- environment: $ENV_NOTE removed: every allocator runs with its defaults"
    for a in "${ORDER[@]}"; do
        case "$a" in
        glibc) echo "- $(bench_glibc_id)" ;;
        heapsight) echo "- heapsight: $(bench_lib_id), measured from a copy" ;;
        *) echo "- $a: ${PRELOAD[$a]}" ;;
        esac
    done
)

# ---- Measuring -------------------------------------------------------------------
# The value of key $1 in the line $2 (key=value words).
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
declare -A STATUS=() LINE=() QUART=()
note "allocators: ${ORDER[*]}; ${SECS} s each; output: $RESDIR"
START=$(date +%s)
for a in "${ORDER[@]}"; do
    out="$RESDIR/$a.txt"
    note "$a: starting ($(( $(date +%s) - START )) s elapsed)"
    # Progress lines (soak's stderr) to the terminal and the .err file.
    res=$("$RUNNER" -p "${PRELOAD[$a]}" -t "$TIMEOUT" -o "$out" -- "$SOAK" "${SOAK_ARGS[@]}" \
        2> >(tee "$RESDIR/$a.err" | sed -u "s/^/[$a] /" >&2))
    STATUS[$a]=$(field status "$res")
    LINE[$a]=$(grep -m1 '^soak ' "$out" || true)
    QUART[$a]=$(sed -n 's/^quarters rss_q_kib=//p' "$out" | head -1)
    [[ "${STATUS[$a]}" == 0 && -n "${LINE[$a]}" ]] ||
        note "$a: status ${STATUS[$a]} (see $RESDIR/$a.err)"
done

# ---- Report -------------------------------------------------------------------------
mib() { [[ -n "$1" ]] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' || echo "-"; }
# "a,b,c,d" KiB -> "a / b / c / d" MiB
mibs() { [[ -n "$1" ]] && awk -v l="$1" 'BEGIN { n = split(l, v, ","); for (i = 1; i <= n; i++) printf "%s%.0f", (i > 1 ? " / " : ""), v[i] / 1024 }' || echo "-"; }
report() {
    echo "## Soak (bench/soak)"
    echo
    printf '%s\n' "$HEADER"
    echo "- elapsed: $(( $(date +%s) - START )) s for all runs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "RSS in MiB from /proc/self/statm (1 s samples); slope: least squares"
    echo "over the second half of the run (± its standard error); WS: the live"
    echo "bytes the program holds (mean over the second half)."
    echo
    echo "| allocator | status | seconds | ops/s | RSS at 10% | RSS at end | end/10% | RSS by quarter | slope (KiB/h) | change over 2nd half (% of WS) | working set | peak RSS | flat |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    local a l
    for a in "${ORDER[@]}"; do
        l=${LINE[$a]}
        if [[ -z "$l" ]]; then
            echo "| $a | ${STATUS[$a]} | - | - | - | - | - | - | - | - | - | - | - |"
            continue
        fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s ± %s | %s | %s | %s | %s |\n' \
            "$a" "${STATUS[$a]}" "$(field seconds "$l")" "$(field ops_per_s "$l")" \
            "$(mib "$(field rss10_kib "$l")")" "$(mib "$(field rss_end_kib "$l")")" \
            "$(field rss_ratio "$l")" "$(mibs "${QUART[$a]}")" "$(field slope_kib_h "$l")" \
            "$(field slope_se_kib_h "$l")" "$(field growth_pct "$l")" \
            "$(mib "$(field ws_kib "$l")")" "$(mib "$(field peak_kib "$l")")" \
            "$(field flat "$l")"
    done
    echo
    echo "Per-run output and timelines: $RESDIR/"
}
REPORT=$(report)
printf '%s\n' "$REPORT"
if [[ -n "$OUT" ]]; then
    printf '%s\n' "$REPORT" >"$OUT"
    note "report written to $OUT"
fi
exit 0
}
