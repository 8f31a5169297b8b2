#!/usr/bin/env bash
# bench/prof_micro.sh — the profiler's two micro-benchmarks: the cost of
# one sampled backtrace, and the speed of `heapsight symbolize`.
#
# Owns: running bench/prof_cost.c under each unwinder and the symbolizer
# on real python3 dumps, and where their raw results go.  Medians and
# tables are bench/report.py (it recognises this script's raw file);
# the profiler's overhead on whole workloads is bench/run.sh --profile.
#
# Cost per sampled backtrace ("cost"): bench/prof_cost.c does malloc(64) +
# free at recursion depth D (a captured stack is D + 6 frames) and times
# itself in process (fastest of 10 rounds: the loaded machine's
# preemptions only ever add time).  Variants, round-robin with the start
# rotating each repetition, per depth:
#   hs              heapsight, unprofiled (the baseline)
#   hs_cfi          HEAPSIGHT=prof:true,prof_sample:1,prof_unwind:cfi (the
#                   default: heapsight's own .eh_frame reader)
#   hs_libunwind    ...prof_unwind:libunwind
#   hs_gcc          ...prof_unwind:gcc (libgcc's _Unwind_Backtrace)
#   hs_fp           ...prof_unwind:fp (frame pointers; prof_cost has them)
#   hs_floor        ...prof_unwind:fp,prof_bt_max:1: everything a sample
#                   costs but the walk (promotion to a page, site update,
#                   the sampled free)
#   je              jemalloc, unprofiled
#   je_prof         MALLOC_CONF=prof:true,lg_prof_sample:0 (every
#                   allocation; Debian's jemalloc unwinds with libgcc)
# prof_sample:1 samples every allocation, so variant − baseline is the
# cost of one sampled allocation + free.  Once per unwinder and depth a
# run with prof_final:true checks how many frames were really captured.
#
# Symbolization ("symbolize"): /usr/bin/python3 runs bench/py_alloc.py
# under heapsight with prof_sample:4k and prof_final:true, once with
# pymalloc (default) and once with PYTHONMALLOC=malloc (every object
# through malloc: many more distinct call sites), plus one exact-mode
# (prof_sample:1) dump with PYTHONMALLOC=malloc at scale=1; then each dump
# is symbolized N times (`heapsight symbolize DUMP -o OUT -v`, measured
# by bench/runner.c: wall, CPU, peak RSS).  Distinct addresses are
# counted with tests/prof/pprof_decode.py.  How much resolves depends on
# the debug files installed (python3.11's DWARF comes with python3-dbg):
# the raw file records it.
#
# Usage: bash bench/prof_micro.sh [options]
#   --only LIST          cost, symbolize or both (default: cost,symbolize)
#   --reps N             repetitions (default 7)
#   --depths LIST        recursion depths (default 10,30,60)
#   --quick              3 reps, depths 10,30, fewer operations
#   --out FILE           also write the markdown report to FILE
#   --build-dir DIR      build directory (default: <repo>/build)
#   --lib PATH           libheapsight.so (default: <build-dir>/lib/...;
#                        measured from a copy, as run.sh does)
#   --cli PATH           the heapsight command (default:
#                        <build-dir>/bin/heapsight)
# Raw results: <build-dir>/bench-results/prof-micro-<timestamp>.tsv
# (re-render with python3 bench/report.py FILE).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$REPO/build"
LIB=""
CLI=""
REPS=""
QUICK=0
OUT=""
ONLY="cost,symbolize"
DEPTHS=""

note() { printf '[prof_micro.sh] %s\n' "$*" >&2; }
die() { note "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
    --only) ONLY="$2"; shift ;;
    --reps) REPS="$2"; shift ;;
    --depths) DEPTHS="$2"; shift ;;
    --quick) QUICK=1 ;;
    --out) OUT="$2"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    --lib) LIB="$2"; shift ;;
    --cli) CLI="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
[[ -z "$REPS" ]] && { [[ $QUICK == 1 ]] && REPS=3 || REPS=7; }
[[ -z "$DEPTHS" ]] && { [[ $QUICK == 1 ]] && DEPTHS=10,30 || DEPTHS=10,30,60; }
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive integer"
BUILD_DIR=$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)
LIB_GIVEN=0
if [[ -n "$LIB" ]]; then LIB_GIVEN=1; else LIB="$BUILD_DIR/lib/libheapsight.so"; fi
[[ -z "$CLI" ]] && CLI="$BUILD_DIR/bin/heapsight"
want() { [[ ",$ONLY," == *",$1,"* ]]; }

# ---- Build (incremental; the library only when --lib was not given) -------
mkdir -p "$BUILD_DIR/bench-results"
LOG="$BUILD_DIR/bench-results/build-micro.log"
[[ -f "$BUILD_DIR/CMakeCache.txt" ]] ||
    cmake -S "$REPO" -B "$BUILD_DIR" >"$LOG" 2>&1 || die "configure failed (see $LOG)"
targets=(hs_bench)
[[ $LIB_GIVEN == 0 ]] && targets+=(heapsight hs_cli)
cmake --build "$BUILD_DIR" -j "$(nproc 2>/dev/null || echo 2)" \
    --target "${targets[@]}" >>"$LOG" 2>&1 || die "build failed (see $LOG)"
RUNNER="$BUILD_DIR/bench/runner"
COST="$BUILD_DIR/bench/prof_cost"
[[ -x "$RUNNER" && -x "$COST" ]] || die "no runner or prof_cost in $BUILD_DIR/bench"
[[ -e "$LIB" ]] || die "no library at $LIB"
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=$(command -v python3) || die "python3 is needed"
JE=""
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
    [[ -e "$d/libjemalloc.so.2" ]] && { JE="$d/libjemalloc.so.2"; break; }
done
[[ -n "$JE" ]] || note "NOTE: libjemalloc.so.2 not found: the jemalloc rows are skipped"

# Options from the caller's environment would change every variant.
unset HEAPSIGHT MALLOC_CONF PYTHONMALLOC

STAMP=$(date +%Y%m%d-%H%M%S)
RAW="$BUILD_DIR/bench-results/prof-micro-$STAMP.tsv"
HS_ORIG=$(readlink -f "$LIB")
HS="$BUILD_DIR/bench-results/libheapsight-micro-$STAMP.so"
cp "$HS_ORIG" "$HS"
WORK=$(mktemp -d)
cleanup() { rm -rf "$WORK"; rm -f "$HS"; return 0; }
trap cleanup EXIT

{
    echo "# format: prof_micro"
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on the machine add noise)"
    echo "# command: bash bench/prof_micro.sh --only $ONLY --reps $REPS --depths $DEPTHS$([[ $QUICK == 1 ]] && echo ' --quick')"
    echo "# heapsight: $HS_ORIG ($(stat -L -c '%s bytes, built %y' "$HS_ORIG" | cut -d. -f1), sha256 $(sha256sum "$HS" | cut -c1-12)), measured from a copy"
    [[ -n "$JE" ]] && echo "# jemalloc: $JE ($(stat -L -c '%s bytes, modified %y' "$JE" | cut -d. -f1))"
} >"$RAW"

# Sets RESULT to the runner's line for: preload $1, env $2 (may be empty,
# or several VAR=VALUE separated by spaces), then the command.
run_measured() {
    local pre=$1 envs=$2 args=() e
    shift 2
    for e in $envs; do args+=(-e "$e"); done
    RESULT=$("$RUNNER" -p "$pre" -t 300 -o "$WORK/out" "${args[@]}" -- "$@" 2>"$WORK/err")
}
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# ---- cost per sampled backtrace ---------------------------------------------
if want cost; then
    SAMPLED="prof:true,prof_sample:1"
    declare -A CPRE=() CENV=()
    CORDER=(hs hs_cfi hs_libunwind hs_gcc hs_fp hs_floor)
    CPRE[hs]=$HS; CENV[hs]=""
    for u in cfi libunwind gcc fp; do
        CPRE[hs_$u]=$HS; CENV[hs_$u]="HEAPSIGHT=$SAMPLED,prof_unwind:$u"
    done
    CPRE[hs_floor]=$HS; CENV[hs_floor]="HEAPSIGHT=$SAMPLED,prof_unwind:fp,prof_bt_max:1"
    if [[ -n "$JE" ]]; then
        CORDER+=(je je_prof)
        CPRE[je]=$JE; CENV[je]=""
        CPRE[je_prof]=$JE; CENV[je_prof]="MALLOC_CONF=prof:true,lg_prof_sample:0"
        echo "# cost je_prof: MALLOC_CONF=prof:true,lg_prof_sample:0 (jemalloc unwinds with libgcc: $(LD_PRELOAD=$JE MALLOC_CONF=stats_print:true,prof:true "$COST" depth=1 iters=10 rounds=1 2>&1 >/dev/null | sed -n 's/^ *config.prof_\(libgcc\|libunwind\): /\1=/p' | paste -sd' '))" >>"$RAW"
    fi
    echo "# cost: malloc(64)+free, fastest of 10 rounds per run; sampled variants prof_sample:1 ($([[ $QUICK == 1 ]] && echo 10000 || echo 40000) ops per run), unprofiled 2000000 ops per run" >>"$RAW"
    IFS=',' read -r -a depths <<<"$DEPTHS"
    for d in "${depths[@]}"; do
        # Frames captured per unwinder (the hot site of a final dump).
        for v in hs_cfi hs_libunwind hs_gcc hs_fp hs_floor; do
            run_measured "$HS" "${CENV[$v]},prof_final:true,prof_prefix:$WORK/frames" \
                "$COST" "depth=$d" iters=2000 rounds=1
            n=$("$PY" - "$REPO/tests/prof" "$WORK"/frames.*.pb.gz <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import pprof_decode
p = pprof_decode.decode(sys.argv[2])
hot = max(p["samples"], key=lambda s: s["values"][0], default=None)
print(len(hot["frames"]) if hot else 0)
EOF
)
            rm -f "$WORK"/frames.*.pb.gz
            printf 'frames\t%s\t%s\t%s\n' "$d" "$v" "$n" >>"$RAW"
        done
        for ((rep = 1; rep <= REPS; rep++)); do
            n=${#CORDER[@]}
            for ((k = 0; k < n; k++)); do
                v=${CORDER[$(( (k + rep - 1) % n ))]}
                if [[ -z "${CENV[$v]}" ]]; then ops=2000000
                elif [[ $QUICK == 1 ]]; then ops=10000
                else ops=40000; fi
                run_measured "${CPRE[$v]}" "${CENV[$v]}" "$COST" "depth=$d" "iters=$ops" rounds=10
                line=$(grep '^checksum=' "$WORK/out" || true)
                printf 'cost\t%s\t%s\t%d\t%s\t%s\t%s\n' "$d" "$v" "$rep" \
                    "$(field ns_per_op_min "$line")" "$(field ns_per_op_med "$line")" \
                    "$(field status "$RESULT")" >>"$RAW"
                [[ "$(field status "$RESULT")" == 0 ]] ||
                    note "cost depth $d $v rep $rep: status $(field status "$RESULT"): $(head -c 300 "$WORK/err")"
            done
        done
        note "cost: depth $d done"
    done
fi

# ---- symbolization speed ------------------------------------------------------
if want symbolize; then
    [[ -x "$CLI" ]] || die "no heapsight command at $CLI"
    dbg="none"
    for b in /usr/bin/python3.*[0-9]; do
        [[ -x "$b" ]] || continue
        id=$(readelf -n "$b" 2>/dev/null | sed -n 's/.*Build ID: //p')
        [[ -n "$id" && -e "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" ]] && dbg="$b"
    done
    echo "# symbolize: $CLI ($(stat -L -c '%s bytes, built %y' "$CLI" | cut -d. -f1)); $("$PY" --version 2>&1); separate debug file (DWARF) for: $dbg" >>"$RAW"
    # name | env | py_alloc.py argument
    DUMPS=(
        "py4k|PYTHONMALLOC=pymalloc HEAPSIGHT=prof:true,prof_sample:4k|"
        "py4k_malloc|PYTHONMALLOC=malloc HEAPSIGHT=prof:true,prof_sample:4k|"
        "exact_malloc|PYTHONMALLOC=malloc HEAPSIGHT=prof:true,prof_sample:1|scale=1"
    )
    [[ $QUICK == 1 ]] && DUMPS=("${DUMPS[@]:0:2}")
    names=()
    for spec in "${DUMPS[@]}"; do
        IFS='|' read -r name envs arg <<<"$spec"
        envs="${envs},prof_final:true,prof_prefix:$WORK/$name"
        run_measured "$HS" "$envs" "$PY" "$REPO/bench/py_alloc.py" $arg
        f=$(ls "$WORK/$name".*.pb.gz 2>/dev/null | head -1)
        if [[ -z "$f" || "$(field status "$RESULT")" != 0 ]]; then
            note "no dump for $name (status $(field status "$RESULT")): $(head -c 300 "$WORK/err")"
            continue
        fi
        mv "$f" "$WORK/$name.pb.gz"
        counts=$("$PY" - "$REPO/tests/prof" "$WORK/$name.pb.gz" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import pprof_decode
p = pprof_decode.decode(sys.argv[2])
addrs = {(fr[2], fr[1]) for s in p["samples"] for fr in s["frames"]
         if fr[0] == "addr"}
maps = {m for m, _ in addrs}
print("%d\t%d\t%d" % (len(p["samples"]), len(addrs), len(maps)))
EOF
)
        printf 'dump\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${envs%%,prof_final*}${arg:+ $arg}" \
            "$counts" "$(stat -c %s "$WORK/$name.pb.gz")" "$(field wall_s "$RESULT")" \
            "$(field maxrss_kib "$RESULT")" >>"$RAW"
        names+=("$name")
    done
    for ((rep = 1; rep <= REPS; rep++)); do
        n=${#names[@]}
        for ((k = 0; k < n; k++)); do
            name=${names[$(( (k + rep - 1) % n ))]}
            run_measured "" "" "$CLI" symbolize "$WORK/$name.pb.gz" -o "$WORK/$name.sym.pb.gz" -v
            v=$(grep -o '[0-9]* of [0-9]* locations resolved' "$WORK/err" | head -1)
            printf 'sym\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rep" \
                "$(field wall_s "$RESULT")" \
                "$(awk -v u="$(field user_s "$RESULT")" -v s="$(field sys_s "$RESULT")" 'BEGIN { printf "%.3f", u + s }')" \
                "$(field maxrss_kib "$RESULT")" "$(field status "$RESULT")" \
                "$(awk '{ print $1 }' <<<"$v")" "$(awk '{ print $3 }' <<<"$v")" >>"$RAW"
            [[ "$(field status "$RESULT")" == 0 ]] ||
                note "symbolize $name rep $rep: status $(field status "$RESULT"): $(head -c 300 "$WORK/err")"
        done
    done
    grep -h '^heapsight: symbolize: no file' "$WORK/err" | sed 's/^/# symbolize note: /' >>"$RAW" || true
    note "symbolize done"
fi
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"

REPORT=$("$PY" "$REPO/bench/report.py" "$RAW")
printf '%s\n' "$REPORT"
if [[ -n "$OUT" ]]; then
    printf '%s\n' "$REPORT" >"$OUT"
    note "report written to $OUT"
fi
note "raw results: $RAW"
