#!/usr/bin/env bash
# bench/rss_decay.sh — how much resident memory each allocator gives back
# after bursts (bench/burst), and how fast the bursts run.
#
# Owns: building bench/burst and the runner (and libheapsight when it is
# missing), the measurement loop over the allocator configurations, the
# medians and the markdown table.  The workload and its RSS timeline are
# bench/burst.c; each run goes through bench/runner.c (preload for the
# child only, a timeout).
#
# Configurations (every one with its defaults unless said; HEAPSIGHT and
# MALLOC_CONF inherited from the caller are removed, and the header says
# so):
#   glibc      no preload
#   jemalloc   libjemalloc.so.2 (Debian libjemalloc2: dirty_decay_ms
#              10000, muzzy_decay_ms 0)
#   heapsight  <build-dir>/lib/libheapsight.so (dirty_decay_ms 10000,
#              muzzy_decay_ms 0)
#   hs_bg      heapsight, HEAPSIGHT=background_thread:true
#   je_bg      jemalloc, MALLOC_CONF=background_thread:true
# and, only when named in --allocators:
#   hs_muzzy10s  heapsight, HEAPSIGHT=muzzy_decay_ms:10000 (the two-stage
#              pipeline: MADV_FREE pages count in RSS until reclaimed)
#   hs_bg_muzzy10s  the same with background_thread:true
#
# Method: as bench/run.sh — N repetitions, inside each every configuration
# runs once, round-robin, the first one rotating by one per repetition.
# One short unmeasured glibc run first warms the page cache.  Medians over
# the N runs; ratios are heapsight's over jemalloc's (target: idle-end and
# final RSS within 10% of jemalloc's, i.e. ratio <= 1.10).
#
# Usage: bash bench/rss_decay.sh [options]
#   --quick            1 rep, 2 short cycles (about 15 s a run: a smoke
#                      test of the script; idles shorter than the 10 s
#                      decay, so the RSS figures mean little)
#   --reps N           repetitions (default 3; --quick: 1)
#   --out FILE         also write the markdown report to FILE
#   --build-dir DIR    build directory (default: <repo>/build)
#   --lib PATH         libheapsight.so to measure (default:
#                      <build-dir>/lib/libheapsight.so, built only when
#                      missing; the header gives its build time and hash)
#   --allocators LIST  comma-separated configurations (default:
#                      glibc,jemalloc,heapsight,hs_bg,je_bg)
#   --args "K=V ..."   extra bench/burst parameters, after the mode's
#                      (bench/burst --help lists them)
#   --timeout S        per-run timeout in seconds (default 300)
# Raw results: <build-dir>/bench-results/rss_decay-<timestamp>.tsv, and
# each run's output with its RSS timeline (one sample per 100 ms) and
# stderr in <build-dir>/bench-results/rss_decay-<timestamp>/.
set -euo pipefail
# The whole script is one brace group, read before any of it runs: a run
# takes ten minutes, and bash reads a plain script as it goes, so an edit
# of this file during a run would execute from the middle of a line.
{

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$REPO/build"
LIB=""
REPS=""
QUICK=0
OUT=""
ALLOCS="glibc,jemalloc,heapsight,hs_bg,je_bg"
EXTRA_ARGS=""
TIMEOUT=300

note() { printf '[rss_decay.sh] %s\n' "$*" >&2; }
die() { note "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --reps) REPS="${2:?--reps wants a value}"; shift ;;
    --out) OUT="${2:?--out wants a file}"; shift ;;
    --build-dir) BUILD_DIR="${2:?--build-dir wants a directory}"; shift ;;
    --lib) LIB="${2:?--lib wants a path}"; shift ;;
    --allocators) ALLOCS="${2:?--allocators wants a list}"; shift ;;
    --args) EXTRA_ARGS="${2?--args wants a value}"; shift ;;
    --timeout) TIMEOUT="${2:?--timeout wants seconds}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
[[ -z "$REPS" ]] && { [[ $QUICK == 1 ]] && REPS=1 || REPS=3; }
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive integer"
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "--timeout wants a positive integer"
BUILD_DIR=$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)
LIB_GIVEN=0
if [[ -n "$LIB" ]]; then LIB_GIVEN=1; else LIB="$BUILD_DIR/lib/libheapsight.so"; fi

# bench/burst parameters per mode; the defaults in burst.c are the full
# mode (3 cycles of a 320 MiB burst and a 12 s idle: 40 s or so a run).
if [[ $QUICK == 1 ]]; then
    MODE_ARGS="cycles=2 burst_mib=96 waves=1 idle_ms=5000"
else
    MODE_ARGS=""
fi
# shellcheck disable=SC2206 # word splitting is the point
BURST_ARGS=($MODE_ARGS $EXTRA_ARGS timeline=1)

# ---- Libraries ------------------------------------------------------------------
# find_lib, bench_build_home and bench_build.
. "$REPO/bench/lib.sh"

declare -A PRELOAD=() ALLOC_ENV=()
ORDER=()
WANT_HS=0
WANT_JE=0
IFS=',' read -r -a want <<<"$ALLOCS"
for a in "${want[@]}"; do
    case "$a" in
    glibc) ;;
    jemalloc) WANT_JE=1 ;;
    je_bg) WANT_JE=1; ALLOC_ENV[$a]="MALLOC_CONF=background_thread:true" ;;
    heapsight) WANT_HS=1 ;;
    hs_bg) WANT_HS=1; ALLOC_ENV[$a]="HEAPSIGHT=background_thread:true" ;;
    hs_muzzy10s) WANT_HS=1; ALLOC_ENV[$a]="HEAPSIGHT=muzzy_decay_ms:10000" ;;
    hs_bg_muzzy10s) WANT_HS=1; ALLOC_ENV[$a]="HEAPSIGHT=background_thread:true,muzzy_decay_ms:10000" ;;
    *) die "unknown configuration '$a' (glibc, jemalloc, heapsight, hs_bg, je_bg, hs_muzzy10s, hs_bg_muzzy10s)" ;;
    esac
    ORDER+=("$a")
done
[[ ${#ORDER[@]} -gt 0 ]] || die "no configuration to measure"

JE_LIB=""
if [[ $WANT_JE == 1 ]]; then
    JE_LIB=$(find_lib libjemalloc.so.2)
    [[ -n "$JE_LIB" ]] || die "libjemalloc.so.2 not found (Debian/Ubuntu: apt-get install libjemalloc2; or drop jemalloc and je_bg from --allocators)"
fi

# ---- Build ------------------------------------------------------------------------
# The bench's burst and runner, and libheapsight when missing (lib.sh).
LOG="$BUILD_DIR/bench-results/rss_decay-build.log"
bench_build burst
RUNNER="$BENCH_BIN/runner"
BURST="$BENCH_BIN/burst"
[[ -x "$RUNNER" && -x "$BURST" ]] || die "no runner or burst in $BENCH_BIN"

STAMP=$(date +%Y%m%d-%H%M%S)
RESDIR="$BUILD_DIR/bench-results/rss_decay-$STAMP"
RAW="$RESDIR.tsv"
mkdir -p "$RESDIR"

if [[ $WANT_HS == 1 ]]; then
    # A private copy: every heapsight run of this report is the same build.
    bench_copy_lib "$RESDIR/libheapsight.so"
fi
for a in "${ORDER[@]}"; do
    case "$a" in
    glibc) PRELOAD[$a]="" ;;
    jemalloc|je_bg) PRELOAD[$a]=$JE_LIB ;;
    *) PRELOAD[$a]=$HS_COPY ;;
    esac
done
trap bench_drop_copy EXIT

# Every configuration runs with its own defaults unless it says otherwise.
bench_drop_env

# ---- Measuring -------------------------------------------------------------------
# Runs burst once under configuration $1 into $2 (stdout) and $2.err;
# sets RESULT (the runner's line).
run_one() {
    local a=$1 out=$2 args=()
    shift 2
    [[ -n "${ALLOC_ENV[$a]:-}" ]] && args+=(-e "${ALLOC_ENV[$a]}")
    RESULT=$("$RUNNER" -p "${PRELOAD[$a]}" -t "$TIMEOUT" -o "$out" "${args[@]}" \
        -- "$BURST" "$@" 2>"$out.err")
}
# The value of key $1 in the line $2 (key=value words).
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

COLS=(base_kib peak_kib idle_end_kib final_kib idle_mean_kib exit_kib burst_s idle_ends_kib idle_means_kib bursts_s)
{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# command: bash bench/rss_decay.sh$([[ $QUICK == 1 ]] && echo ' --quick') (reps=$REPS); burst arguments: ${BURST_ARGS[*]}"
    [[ -n "$ENV_NOTE" ]] && echo "# environment: $ENV_NOTE removed: every configuration runs with its defaults unless it says otherwise"
    for a in "${ORDER[@]}"; do
        extra=${ALLOC_ENV[$a]:+, with ${ALLOC_ENV[$a]}}
        case "$a" in
        glibc) echo "# $(bench_glibc_id)" ;;
        jemalloc|je_bg) echo "# $a: $JE_LIB ($(stat -L -c '%s bytes, modified %y' "$JE_LIB" | cut -d. -f1))$extra" ;;
        *) echo "# $a: $(bench_lib_id)$extra" ;;
        esac
    done
    printf '#alloc\trep\tstatus\twall_s\tchecksum'
    printf '\t%s' "${COLS[@]}"
    printf '\n'
} >"$RAW"

note "configurations: ${ORDER[*]}; reps: $REPS; raw: $RAW"
PRELOAD[glibc]=""
run_one glibc "$RESDIR/warmup.txt" cycles=1 burst_mib=16 waves=1 idle_ms=0
START=$(date +%s)
for ((rep = 1; rep <= REPS; rep++)); do
    n=${#ORDER[@]}
    for ((k = 0; k < n; k++)); do
        a=${ORDER[$(( (k + rep - 1) % n ))]}
        out="$RESDIR/$a-$rep.txt"
        run_one "$a" "$out" "${BURST_ARGS[@]}"
        line=$(grep -m1 '^checksum=' "$out" || true)
        st=$(field status "$RESULT")
        row="$a	$rep	$st	$(field wall_s "$RESULT")	$(field checksum "$line")"
        for c in "${COLS[@]}"; do row+="	$(field "$c" "$line")"; done
        printf '%s\n' "$row" >>"$RAW"
        [[ "$st" == 0 && -n "$line" ]] || note "$a rep $rep: status $st (see $out.err)"
        note "$a rep $rep: $(field idle_end_kib "$line") KiB idle-end, $(field burst_s "$line") s bursts ($(( $(date +%s) - START )) s elapsed)"
    done
done
echo "# elapsed: $(( $(date +%s) - START )) s for the measured runs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"

# ---- Report -------------------------------------------------------------------------
# Median of column $2 (1-based, in RAW) over the good runs of $1; empty
# when none.  A column of comma lists takes element $3 (1-based).
median() {
    awk -F'\t' -v a="$1" -v c="$2" -v e="${3:-0}" '
        !/^#/ && $1 == a && $3 == "0" && $c != "" {
            v = $c
            if (e > 0) { split(v, p, ","); v = p[e] }
            if (v != "" && v >= 0) print v
        }' "$RAW" | sort -g | awk '
        { v[NR] = $1 }
        END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
col() { local i; for i in "${!COLS[@]}"; do [[ "${COLS[$i]}" == "$1" ]] && { echo $((i + 6)); return; }; done; }
mib() {
    if [[ -n "$1" ]]; then awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; else echo "-"; fi
}
secs() {
    if [[ -n "$1" ]]; then awk -v s="$1" 'BEGIN { printf "%.2f", s }'; else echo "-"; fi
}
ratio() {
    if [[ -n "$1" && -n "$2" ]]; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
    else
        echo "-"
    fi
}
verdict() {
    if [[ "$1" == - ]]; then echo "$1"; return; fi
    awk -v r="$1" 'BEGIN { printf "%s %s", r, (r <= 1.10 ? "(ok)" : "(over)") }'
}
good_runs() { awk -F'\t' -v a="$1" '!/^#/ && $1 == a && $3 == "0"' "$RAW" | wc -l; }

CYCLES=$(awk -F'\t' -v c="$(col idle_ends_kib)" '!/^#/ && $3 == "0" { print split($c, p, ","); exit }' "$RAW")
CYCLES=${CYCLES:-0}
declare -A MED=()
for a in "${ORDER[@]}"; do
    for c in peak_kib idle_end_kib final_kib idle_mean_kib exit_kib burst_s base_kib; do
        MED[$a,$c]=$(median "$a" "$(col "$c")")
    done
    for ((i = 1; i <= CYCLES; i++)); do
        MED[$a,end$i]=$(median "$a" "$(col idle_ends_kib)" "$i")
    done
done

report() {
    echo "## RSS given back after bursts (bench/burst)"
    echo
    grep '^# ' "$RAW" | sed 's/^# /- /'
    echo
    echo "Medians over $REPS runs.  RSS in MiB, from /proc/self/statm.  Peak:"
    echo "ru_maxrss.  Idle-end: at the end of an idle period, just before the"
    echo "next burst (mean over those periods).  Final: at the end of the last"
    echo "idle period (threads alive, live set held).  Mean idle: the mean of"
    echo "the 100 ms samples taken while idle.  After exit: once the threads"
    echo "freed their live sets and exited (jemalloc without a background"
    echo "thread purges an arena whose last thread exits).  Burst time: the"
    echo "bursts' total, idles excluded."
    echo
    echo "| configuration | peak RSS | idle-end RSS | final RSS | mean idle RSS | after exit | burst time (s) | good runs |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    local a
    for a in "${ORDER[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s/%s |\n' "$a" \
            "$(mib "${MED[$a,peak_kib]}")" "$(mib "${MED[$a,idle_end_kib]}")" \
            "$(mib "${MED[$a,final_kib]}")" "$(mib "${MED[$a,idle_mean_kib]}")" \
            "$(mib "${MED[$a,exit_kib]}")" "$(secs "${MED[$a,burst_s]}")" \
            "$(good_runs "$a")" "$REPS"
    done
    if [[ $CYCLES -gt 0 ]]; then
        echo
        echo "RSS at the end of each idle period (MiB; base: after the live sets were allocated, before burst 1; the last column is the final RSS):"
        echo
        local hdr="| configuration | base" sep="|---|---:" i
        for ((i = 1; i <= CYCLES; i++)); do hdr+=" | cycle $i"; sep+="|---:"; done
        echo "$hdr |"
        echo "$sep|"
        for a in "${ORDER[@]}"; do
            local row
            row="| $a | $(mib "${MED[$a,base_kib]}")"
            for ((i = 1; i <= CYCLES; i++)); do row+=" | $(mib "${MED[$a,end$i]}")"; done
            echo "$row |"
        done
    fi
    local pairs=() p hs je
    in_order() { [[ " ${ORDER[*]} " == *" $1 "* ]]; }
    in_order heapsight && in_order jemalloc && pairs+=("heapsight:jemalloc")
    in_order hs_bg && in_order je_bg && pairs+=("hs_bg:je_bg")
    in_order hs_muzzy10s && in_order jemalloc && pairs+=("hs_muzzy10s:jemalloc")
    in_order hs_bg_muzzy10s && in_order je_bg && pairs+=("hs_bg_muzzy10s:je_bg")
    if [[ ${#pairs[@]} -gt 0 ]]; then
        echo
        echo "heapsight over jemalloc (ratio of medians; target: idle-end and final RSS <= 1.10):"
        echo
        echo "| pair | idle-end RSS | final RSS | mean idle RSS | peak RSS | burst time |"
        echo "|---|---:|---:|---:|---:|---:|"
        for p in "${pairs[@]}"; do
            hs=${p%%:*}
            je=${p##*:}
            printf '| %s / %s | %s | %s | %s | %s | %s |\n' "$hs" "$je" \
                "$(verdict "$(ratio "${MED[$hs,idle_end_kib]}" "${MED[$je,idle_end_kib]}")")" \
                "$(verdict "$(ratio "${MED[$hs,final_kib]}" "${MED[$je,final_kib]}")")" \
                "$(ratio "${MED[$hs,idle_mean_kib]}" "${MED[$je,idle_mean_kib]}")" \
                "$(ratio "${MED[$hs,peak_kib]}" "${MED[$je,peak_kib]}")" \
                "$(ratio "${MED[$hs,burst_s]}" "${MED[$je,burst_s]}")"
        done
    fi
    local sums
    sums=$(awk -F'\t' '!/^#/ && $3 == "0" { print $5 }' "$RAW" | sort -u | wc -l)
    echo
    if [[ "$sums" == 0 ]]; then
        echo "**No run succeeded.**"
    elif [[ "$sums" == 1 ]]; then
        echo "Checksums: all runs agree."
    else
        echo "**Checksums differ between runs** (a correctness problem): see $RAW."
    fi
    local bad
    bad=$(awk -F'\t' '!/^#/ && $3 != "0" { printf "%s%s rep %s (status %s)", (n++ ? ", " : ""), $1, $2, $3 }' "$RAW")
    [[ -n "$bad" ]] && echo "Failed runs (left out of the medians): $bad."
    echo
    echo "Raw results: $RAW; per-run output and timelines: $RESDIR/"
}

REPORT=$(report)
printf '%s\n' "$REPORT"
if [[ -n "$OUT" ]]; then
    printf '%s\n' "$REPORT" >"$OUT"
    note "report written to $OUT"
fi
exit 0
}
