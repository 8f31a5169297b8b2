#!/usr/bin/env bash
# bench/run.sh — runs every workload under every allocator and reports.
#
# Owns: installing the peer allocators (when root and missing), building
# the workloads and libheapsight (incrementally; not the library when
# --lib names one), the measurement loop
# and where the raw results and the markdown go.  The measuring itself is
# bench/runner.c (fork/exec, wall clock, ru_maxrss from wait4); medians,
# ratios and tables are bench/report.py.
#
# Method: for each workload, N repetitions; inside a repetition every
# allocator runs once, round-robin, the starting allocator rotating by one
# each repetition so no allocator always runs first (cold caches) or right
# after a memory-hungry one.  One unmeasured warm-up run per workload
# (glibc) first fills the page cache.  Medians over the N runs are
# reported.  A fixed-time workload (server) prints throughput=<ops/s>:
# run.sh records it and report.py compares those workloads by throughput
# instead of wall time.  Allocators: glibc (no preload), heapsight, jemalloc, mimalloc,
# tcmalloc (all with their default configuration: HEAPSIGHT and MALLOC_CONF
# are removed from the environment, and the header says so if they were
# set).
#
# Profiling variants (--profile, or name them in --allocators): the same
# libraries with one environment variable each —
#   hs_prof_off   HEAPSIGHT=prof:false (the profiler compiled in, off; the
#                 same code path as plain heapsight, so it is an A/A test
#                 of the noise)
#   hs_prof_idle  HEAPSIGHT=prof:true,prof_active:false (armed, idle)
#   hs_prof512k   HEAPSIGHT=prof:true (default rate, 512 KiB)
#   hs_prof64k    HEAPSIGHT=prof:true,prof_sample:64k
#   je_prof512k   MALLOC_CONF=prof:true (jemalloc's default
#                 lg_prof_sample:19 = 512 KiB)
#   je_prof64k    MALLOC_CONF=prof:true,lg_prof_sample:16 (64 KiB)
# Page-allocator variants (name them in --allocators):
#   hs_hpa        HEAPSIGHT=hpa:true (the hugepage-aware allocator)
#   je_hpa        MALLOC_CONF=hpa:true
# No variant writes a dump.  report.py then reports each profiled variant
# against its own allocator unprofiled and heapsight's against jemalloc's.
#
# Python variants (--python, or name them in --allocators), all on
# heapsight's library, each against plain heapsight (profiling off):
#   hs_prof512k     as above: native frames only
#   hs_py512k       HEAPSIGHT=prof:true HEAPSIGHT_PYTHON=1
#                   PYTHONPATH=<pkg>/heapsight/boot:<pkg>: what `heapsight
#                   run` does for a Python program (libheapsight.so's
#                   audit hook attaches when the program starts: the
#                   Python frame hook and the PyMem wrappers; the boot
#                   sitecustomize then has nothing to do).  <pkg> is a copy, taken at
#                   the start, of <build-dir>/python (target hs_pypkg,
#                   built with the library); without that package the
#                   variant is skipped, and before measuring, one run on
#                   each interpreter checks heapsight.python_status():
#                   Python frames merged (hook 1), mem and object domains
#                   wrapped
#   hs_tracemalloc  PYTHONTRACEMALLOC=25 (= -X tracemalloc=25), profiler off
# report.py then renders the Python-overhead report.  A variant's
# environment is a space-separated list of VAR=VALUE (values without
# spaces).  A Python variant whose check fails on an interpreter is not
# run on that interpreter (dropped, with a note, when it fails on all).
# PYTHONDONTWRITEBYTECODE is removed from the environment too (the header
# says so): the check runs write the copy's bytecode and the measured runs
# import the package from it, as an installed package is imported.
#
# Interpreters (--interpreter): the Python workloads run on
# /usr/bin/python3 unless --interpreter names others; then each Python
# workload runs once per interpreter, as a workload of its own named
# <workload>@<version> (python@3.12.1; a second interpreter of the same
# version gets @<version>-2, ...), in the same repetition loop, so every
# ratio pairs runs of one interpreter.  Name the real binary
# ($(pyenv root)/versions/3.12.1/bin/python3.12): a pyenv shim on PATH is
# a bash script, which would put bash under the preload and in the
# timing, and is refused.
#
# Misuse-check variants (--checks, or name them in --allocators), each
# against plain heapsight:
#   hs_nochecks   no environment, but another library: heapsight built
#                 with -DHS_FREE_CHECKS=OFF (free's region-start check and
#                 the double-free mark compiled out; that build exists only
#                 for this measurement).  run.sh configures it in
#                 <build-dir>/nochecks (once, with the main build's
#                 CMAKE_BUILD_TYPE and HS_DEBUG; no tests, no bench),
#                 builds its target heapsight incrementally from the same
#                 source tree (also when --lib names the main library) and
#                 measures a copy taken at the start; if it does not build,
#                 the variant is skipped with a note
#   hs_checks     HEAPSIGHT=canary:true,junk:true (the debugging mode:
#                 canaries after every block, junk fills, every call on
#                 the slow path)
#   hs_guards     HEAPSIGHT=san_guard_small:1,san_guard_large:1 (guard
#                 pages around every allocation; not in the --checks
#                 default)
#   hs_prof_off   as above: the A/A test, the resolution of the run
# report.py then renders the checks report.
#
# Callgrind mode (--callgrind): instead of timing, every selected workload
# runs once per allocator under
#   valgrind --tool=callgrind --trace-children=yes
#            --callgrind-out-file=<dir>/<workload>.<alloc>.%p.out
#            env [LD_PRELOAD=<allocator>] [VAR=VALUE...] <workload argv>
# (the preload is set by env on the traced program, so valgrind itself
# never runs on the allocator; glibc: no LD_PRELOAD), and report.py
# prints the instructions executed (valgrind's "Collected :" figure; of a
# run with several processes, the largest: the workload's own), in
# millions, with heapsight ÷ the best peer (glibc, jemalloc, mimalloc,
# tcmalloc) and that peer's name.  Instruction counts do not depend on the
# machine's load, so one repetition is enough (--reps is ignored); they
# do not count the kernel's work either (page faults, madvise, mmap), so
# read them next to the wall-time tables, not instead of them.  Default
# workloads: the single-threaded ones — churn_1t, realloc_grow, large,
# frag, cxx_map, python_malloc (about 5 s to 1 min each under callgrind
# with --quick, some 7 minutes for the set on five allocators; python,
# with pymalloc, measures the interpreter rather than the allocator and
# is left out); valgrind serializes threads, and a
# fixed-time workload (server) is refused: its count measures the time.
# Per-run timeout 1800 s (--timeout overrides).  The .out files and the
# measured copy of libheapsight.so stay in
# <build-dir>/bench-results/callgrind-<timestamp>/ (callgrind_annotate
# reads them); raw counts in <build-dir>/bench-results/raw-callgrind-
# <timestamp>.tsv.  Needs valgrind; without it run.sh stops with an error.
#
# Usage: bash bench/run.sh [options]
#   --quick              2 reps and smaller parameters (a minute or two)
#   --callgrind          instruction counts under callgrind (see above);
#                        with --only, --allocators and --quick
#   --profile            profiler overhead: allocators heapsight,
#                        hs_prof_off,hs_prof_idle,hs_prof512k,hs_prof64k,
#                        jemalloc,je_prof512k,je_prof64k on larson, prodcons,
#                        churn_1t, realloc_grow, large, python,
#                        python_malloc, cxx_map; 15 reps (--quick: 3)
#                        (--allocators and --only still override)
#   --python             Python profiling overhead: allocators heapsight,
#                        hs_prof512k,hs_py512k,hs_tracemalloc on python,
#                        python_malloc, py_calls; 15 reps (--quick: 3),
#                        per-run timeout 600 s (tracemalloc makes runs
#                        30-50x slower) (--allocators, --only, --reps and
#                        --timeout still override)
#   --checks             cost of the misuse checks: allocators heapsight,
#                        hs_prof_off,hs_nochecks,hs_checks,jemalloc,glibc
#                        on larson, prodcons, churn_1t, realloc_grow,
#                        python_malloc, cxx_map; 15 reps (--quick: 3)
#                        (--allocators, --only and --reps still override)
#   --reps N             repetitions (default 5; --quick: 2)
#   --out FILE           also write the markdown report to FILE
#   --build-dir DIR      build directory (default: <repo>/build)
#   --interpreter LIST   comma-separated Python interpreters for the
#                        Python workloads (repeatable; default
#                        /usr/bin/python3): see Interpreters above
#   --lib PATH           libheapsight.so to measure (default:
#                        <build-dir>/lib/libheapsight.so; given explicitly,
#                        it is not rebuilt)
#   --only LIST          comma-separated workloads (default: all but
#                        py_calls, bigheap, server, pairs and retain,
#                        which run only when named, py_calls also with
#                        --python)
#   --allocators LIST    comma-separated allocators (default: all five;
#                        profiling variants above may be named too)
#   --timeout S          per-run timeout in seconds (default 120; --python:
#                        600; --callgrind: 1800)
#   --no-install         never apt-get install the peers
#   --list               print the workloads and exit
# Raw results: <build-dir>/bench-results/raw-<timestamp>.tsv (re-render
# with python3 bench/report.py FILE; --callgrind: raw-callgrind-*.tsv).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$REPO/build"
LIB=""
REPS=""
QUICK=0
OUT=""
ONLY=""
ALLOCS=""
PROFILE=0
PYMODE=0
CHECKS=0
CALLGRIND=0
TIMEOUT=""
INSTALL=1
LIST=0
INTERPS=""

ARGV="$*"  # for the report's header
note() { printf '[run.sh] %s\n' "$*" >&2; }
die() { note "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --profile) PROFILE=1 ;;
    --python) PYMODE=1 ;;
    --checks) CHECKS=1 ;;
    --callgrind) CALLGRIND=1 ;;
    --reps) REPS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    --lib) LIB="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    --allocators) ALLOCS="$2"; shift ;;
    --timeout) TIMEOUT="$2"; shift ;;
    --interpreter) INTERPS+="${INTERPS:+,}$2"; shift ;;
    --no-install) INSTALL=0 ;;
    --list) LIST=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
if [[ $PROFILE == 1 ]]; then
    [[ -z "$ALLOCS" ]] && ALLOCS="heapsight,hs_prof_off,hs_prof_idle,hs_prof512k,hs_prof64k,jemalloc,je_prof512k,je_prof64k"
    [[ -z "$ONLY" ]] && ONLY="larson,prodcons,churn_1t,realloc_grow,large,python,python_malloc,cxx_map"
    [[ -z "$REPS" ]] && { [[ $QUICK == 1 ]] && REPS=3 || REPS=15; }
fi
if [[ $PYMODE == 1 ]]; then
    [[ $PROFILE == 1 ]] && die "--profile and --python are separate runs"
    [[ -z "$ALLOCS" ]] && ALLOCS="heapsight,hs_prof512k,hs_py512k,hs_tracemalloc"
    [[ -z "$ONLY" ]] && ONLY="python,python_malloc,py_calls"
    [[ -z "$REPS" ]] && { [[ $QUICK == 1 ]] && REPS=3 || REPS=15; }
    [[ -z "$TIMEOUT" ]] && TIMEOUT=600
fi
if [[ $CHECKS == 1 ]]; then
    [[ $PROFILE == 1 || $PYMODE == 1 ]] && die "--checks is a run of its own (not with --profile or --python)"
    [[ -z "$ALLOCS" ]] && ALLOCS="heapsight,hs_prof_off,hs_nochecks,hs_checks,jemalloc,glibc"
    [[ -z "$ONLY" ]] && ONLY="larson,prodcons,churn_1t,realloc_grow,python_malloc,cxx_map"
    [[ -z "$REPS" ]] && { [[ $QUICK == 1 ]] && REPS=3 || REPS=15; }
fi
if [[ $CALLGRIND == 1 ]]; then
    [[ $PROFILE == 1 || $PYMODE == 1 || $CHECKS == 1 ]] &&
        die "--callgrind is a run of its own (not with --profile, --python or --checks)"
    command -v valgrind >/dev/null 2>&1 ||
        die "--callgrind needs valgrind, which is not installed (apt-get install valgrind)"
    [[ -z "$ONLY" ]] && ONLY="churn_1t,realloc_grow,large,frag,cxx_map,python_malloc"
    [[ -n "$REPS" && "$REPS" != 1 ]] && note "NOTE: --callgrind runs each workload once: --reps $REPS ignored"
    REPS=1
    [[ -z "$TIMEOUT" ]] && TIMEOUT=1800
fi
[[ -z "$TIMEOUT" ]] && TIMEOUT=120
[[ -z "$ALLOCS" ]] && ALLOCS="glibc,heapsight,jemalloc,mimalloc,tcmalloc"
[[ -z "$REPS" ]] && { [[ $QUICK == 1 ]] && REPS=2 || REPS=5; }
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive integer"
BUILD_DIR=$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)
LIB_GIVEN=0
if [[ -n "$LIB" ]]; then LIB_GIVEN=1; else LIB="$BUILD_DIR/lib/libheapsight.so"; fi

# ---- Workloads: name | argv after the program | quick argv | env ------------
# "PY" stands for the Python interpreter, "BIN/" for the bench build dir.
WORKLOADS=(
    "larson|BIN/larson|BIN/larson generations=15|"
    "prodcons|BIN/prodcons|BIN/prodcons messages=600000|"
    "churn_1t|BIN/churn threads=1|BIN/churn threads=1 iters=2500000|"
    "churn_2t|BIN/churn threads=2|BIN/churn threads=2 iters=2500000|"
    "realloc_grow|BIN/realloc_grow|BIN/realloc_grow appends=1500000|"
    "large|BIN/large|BIN/large iters=10000|"
    "frag|BIN/frag|BIN/frag mib=48|"
    "python|PY $REPO/bench/py_alloc.py|PY $REPO/bench/py_alloc.py scale=1|"
    "python_malloc|PY $REPO/bench/py_alloc.py|PY $REPO/bench/py_alloc.py scale=1|PYTHONMALLOC=malloc"
    "cxx_map|BIN/cxx_map|BIN/cxx_map rounds=2|"
    "py_calls|PY $REPO/bench/py_calls.py|PY $REPO/bench/py_calls.py scale=1|"
    "bigheap|BIN/bigheap|BIN/bigheap mib=256 reads=5000000|"
    "server|BIN/server|BIN/server seconds=1|"
    "pairs|BIN/pairs|BIN/pairs blocks=1000000|"
    "retain|BIN/retain|BIN/retain generations=8|"
)
# Workloads that run only when named (--only, --python): the default run
# keeps the workloads its published results have.
OPT_IN=",py_calls,bigheap,server,pairs,retain,"
# Fixed-time workloads: compared by the throughput= they print, and
# refused by --callgrind (their instruction count measures the time).
FIXED_TIME=",server,"
if [[ $LIST == 1 ]]; then
    printf '%s\n' "${WORKLOADS[@]}" | cut -d'|' -f1,2,4 | tr '|' '\t'
    exit 0
fi

# ---- Peers: install when missing (root only, idempotent) --------------------
PEER_PKGS=(libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4)
install_peers() {
    local missing=() p
    for p in "${PEER_PKGS[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $INSTALL == 0 || $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        note "peer packages missing (${missing[*]}); their allocators are skipped"
        return 0
    fi
    note "installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null 2>&1; then
        apt-get update >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
            note "apt-get install failed; missing peers are skipped"
    fi
}

# find_lib and bench_build_home.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091 # followed under -x
. "$REPO/bench/lib.sh"

# ---- Build --------------------------------------------------------------------
BENCH_BIN=""
LIB_NOTE=""
LOG="$BUILD_DIR/bench-results/build.log"
build() {
    mkdir -p "$BUILD_DIR/bench-results"
    : >"$LOG"
    local jobs home
    jobs=$(nproc 2>/dev/null || echo 2)
    home=$(bench_build_home)
    if [[ "$home" == "$REPO" ]]; then
        local targets=(hs_bench)
        # Incremental: a no-op when the library is up to date.
        [[ $LIB_GIVEN == 0 ]] && targets+=(heapsight)
        if cmake --build "$BUILD_DIR" -j "$jobs" --target "${targets[@]}" >>"$LOG" 2>&1 ||
           { [[ $LIB_GIVEN == 0 ]] && LIB_NOTE="the library's rebuild failed (see $LOG): $LIB may be older than the source tree"
             cmake --build "$BUILD_DIR" -j "$jobs" --target hs_bench >>"$LOG" 2>&1; }; then
            BENCH_BIN="$BUILD_DIR/bench"
            # The Python package goes with the library it was built with;
            # a tree configured without Python has no such target.
            if [[ $LIB_GIVEN == 0 && ",$ALLOCS," == *",hs_py512k,"* ]] &&
               ! cmake --build "$BUILD_DIR" -j "$jobs" --target hs_pypkg >>"$LOG" 2>&1; then
                note "NOTE: the Python package (target hs_pypkg) did not build (see $LOG)"
            fi
            return 0
        fi
        note "top-level build of hs_bench failed (see $LOG); building the bench alone"
    elif [[ "$home" == "$REPO/bench" ]]; then
        cmake --build "$BUILD_DIR" -j "$jobs" >>"$LOG" 2>&1 &&
            { BENCH_BIN="$BUILD_DIR/bench"; return 0; }
    fi
    local alone="$BUILD_DIR/bench-standalone"
    if ! { cmake -S "$REPO/bench" -B "$alone" >>"$LOG" 2>&1 &&
           cmake --build "$alone" -j "$jobs" >>"$LOG" 2>&1; }; then
        die "cannot build the benchmarks (see $LOG)"
    fi
    BENCH_BIN="$alone/bench"
}

# hs_nochecks' library: the same sources built with HS_FREE_CHECKS=OFF in
# a build directory of its own, configured once like the main one (build
# type, HS_DEBUG) and built incrementally.  Sets NC_LIB ("" on failure).
NC_DIR="$BUILD_DIR/nochecks"
NC_LIB=""
build_nochecks() {
    local jobs cfg=() v val
    jobs=$(nproc 2>/dev/null || echo 2)
    if [[ ! -f "$NC_DIR/CMakeCache.txt" ]]; then
        for v in CMAKE_BUILD_TYPE HS_DEBUG; do
            val=$(sed -n "s/^$v:[A-Z]*=//p" "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
            [[ -n "$val" ]] && cfg+=("-D$v=$val")
        done
        cmake -S "$REPO" -B "$NC_DIR" "${cfg[@]}" -DHS_FREE_CHECKS=OFF \
            -DHS_BUILD_TESTS=OFF -DHS_BUILD_BENCH=OFF >>"$LOG" 2>&1 ||
            { note "NOTE: configuring $NC_DIR failed (see $LOG): hs_nochecks skipped"; return 0; }
    fi
    if ! cmake --build "$NC_DIR" -j "$jobs" --target heapsight >>"$LOG" 2>&1; then
        note "NOTE: the HS_FREE_CHECKS=OFF library did not build (see $LOG): hs_nochecks skipped"
        return 0
    fi
    # The variant must measure what its name says.
    if ! grep -q '^#define HS_FREE_CHECKS 0' "$NC_DIR/generated/hs_config.h" 2>/dev/null; then
        note "NOTE: $NC_DIR is not configured with HS_FREE_CHECKS=OFF: hs_nochecks skipped"
        return 0
    fi
    NC_LIB="$NC_DIR/lib/libheapsight.so"
    [[ -e "$NC_LIB" ]] || NC_LIB=""
}

# ---- Main -----------------------------------------------------------------------
# The system interpreter, named directly: a python3 found on PATH may be a
# pyenv shim (a bash script), which would put bash under the preload and in
# the timing.
PY=/usr/bin/python3
if [[ ! -x "$PY" ]]; then
    PY=$(command -v python3 || true)
    [[ -n "$PY" ]] || die "python3 is needed (python workload and the report)"
    note "NOTE: /usr/bin/python3 missing; using $PY"
fi
# The interpreters of the Python workloads: PYS[i] runs as
# <workload>@PY_TAGS[i] (no tag, and the workload's own name, when
# --interpreter is not given).  $PY itself renders the report.
PYS=()
PY_TAGS=()
if [[ -z "$INTERPS" ]]; then
    PYS=("$PY")
    PY_TAGS=("")
else
    IFS=',' read -r -a given <<<"$INTERPS"
    for p in "${given[@]}"; do
        [[ -x "$p" && -f "$p" ]] || die "--interpreter $p: not an executable file"
        [[ "$(head -c2 "$p")" != '#!' ]] ||
            die "--interpreter $p is a script (a pyenv shim?): name the interpreter itself, e.g. \$(pyenv root)/versions/<version>/bin/python3"
        [[ "$p" =~ [[:space:]] ]] && die "--interpreter $p: a path with spaces is not supported"
        tag=$("$p" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) ||
            die "--interpreter $p does not run"
        base=$tag
        n=1
        while [[ " ${PY_TAGS[*]} " == *" $tag "* ]]; do n=$((n + 1)); tag="$base-$n"; done
        PYS+=("$p")
        PY_TAGS+=("$tag")
    done
fi

install_peers
build
[[ ",$ALLOCS," == *",hs_nochecks,"* ]] && build_nochecks
RUNNER="$BENCH_BIN/runner"
[[ -x "$RUNNER" ]] || die "no runner at $RUNNER"

# Every allocator runs with its own defaults unless a variant says
# otherwise: options inherited from the caller's environment are dropped.
bench_drop_env
# The package copy is compiled by the check runs and imported from its
# bytecode after that, as an installed package is: a caller's
# PYTHONDONTWRITEBYTECODE would have every hs_py512k run compile it again
# (4-9 ms a process, docs/PERFORMANCE.md).
if [[ -n "${PYTHONDONTWRITEBYTECODE+x}" ]]; then
    ENV_NOTE+="${ENV_NOTE:+, }PYTHONDONTWRITEBYTECODE=$PYTHONDONTWRITEBYTECODE"
    unset PYTHONDONTWRITEBYTECODE
fi

declare -A PRELOAD=([glibc]="")  # glibc: the warm-up run uses it
declare -A ALLOC_ENV=()          # "VAR=VALUE ..." a variant adds to the run
ORDER=()
HS_WANTED=0
STAMP=$(date +%Y%m%d-%H%M%S)
# hs_py512k imports the heapsight package from a copy taken below (like
# the library's): a rebuild during the run cannot change it.
PY_PKG_ORIG="$BUILD_DIR/python"
PY_PKG=""
IFS=',' read -r -a want <<<"$ALLOCS"
for a in "${want[@]}"; do
    case "$a" in
    glibc) PRELOAD[$a]="" ;;
    hs_nochecks)
        [[ -n "$NC_LIB" ]] || continue  # build_nochecks said why
        PRELOAD[$a]=$(readlink -f "$NC_LIB") ;;
    heapsight|hs_prof_off|hs_prof_idle|hs_prof512k|hs_prof64k|hs_py512k|hs_tracemalloc|hs_hpa|hs_checks|hs_guards)
        case "$a" in
        hs_hpa) ALLOC_ENV[$a]="HEAPSIGHT=hpa:true" ;;
        hs_checks) ALLOC_ENV[$a]="HEAPSIGHT=canary:true,junk:true" ;;
        hs_guards) ALLOC_ENV[$a]="HEAPSIGHT=san_guard_small:1,san_guard_large:1" ;;
        hs_prof_off) ALLOC_ENV[$a]="HEAPSIGHT=prof:false" ;;
        hs_prof_idle) ALLOC_ENV[$a]="HEAPSIGHT=prof:true,prof_active:false" ;;
        hs_prof512k) ALLOC_ENV[$a]="HEAPSIGHT=prof:true" ;;
        hs_prof64k) ALLOC_ENV[$a]="HEAPSIGHT=prof:true,prof_sample:64k" ;;
        hs_py512k)
            # Pure Python now (ctypes onto the library): these three
            # files are the package, the rest of its work is the library's.
            if [[ ! -f "$PY_PKG_ORIG/heapsight/__init__.py" ||
                  ! -f "$PY_PKG_ORIG/heapsight/_native.py" ||
                  ! -f "$PY_PKG_ORIG/heapsight/boot/sitecustomize.py" ]]; then
                note "NOTE: no heapsight Python package in $PY_PKG_ORIG (target hs_pypkg): $a skipped"
                continue
            fi
            [[ "$BUILD_DIR" =~ [[:space:]] ]] && { note "NOTE: build dir path has spaces: $a skipped"; continue; }
            PY_PKG="$BUILD_DIR/bench-results/python-$STAMP"
            ALLOC_ENV[$a]="HEAPSIGHT=prof:true HEAPSIGHT_PYTHON=1 PYTHONPATH=$PY_PKG/heapsight/boot:$PY_PKG" ;;
        hs_tracemalloc) ALLOC_ENV[$a]="PYTHONTRACEMALLOC=25" ;;
        esac
        if [[ -e "$LIB" ]]; then
            PRELOAD[$a]=$(readlink -f "$LIB")
            HS_WANTED=1
        else
            note "NOTE: $LIB not found: $a skipped (peers only)"
            continue
        fi ;;
    jemalloc|je_prof512k|je_prof64k|je_hpa)
        case "$a" in
        je_hpa) ALLOC_ENV[$a]="MALLOC_CONF=hpa:true" ;;
        je_prof512k) ALLOC_ENV[$a]="MALLOC_CONF=prof:true" ;;
        je_prof64k) ALLOC_ENV[$a]="MALLOC_CONF=prof:true,lg_prof_sample:16" ;;
        esac
        PRELOAD[$a]=$(find_lib libjemalloc.so.2) ;;
    mimalloc) PRELOAD[$a]=$(find_lib libmimalloc.so.2) ;;
    tcmalloc) PRELOAD[$a]=$(find_lib libtcmalloc_minimal.so.4) ;;
    *) die "unknown allocator '$a'" ;;
    esac
    if [[ "$a" != glibc && -z "${PRELOAD[$a]}" ]]; then
        note "NOTE: $a library not found: skipped"
        continue
    fi
    ORDER+=("$a")
done
[[ ${#ORDER[@]} -gt 0 ]] || die "no allocator to measure"

SELECTED=()
for spec in "${WORKLOADS[@]}"; do
    name=${spec%%|*}
    if [[ -z "$ONLY" && "$OPT_IN" != *",$name,"* || ",$ONLY," == *",$name,"* ]]; then
        SELECTED+=("$spec")
    fi
done
[[ ${#SELECTED[@]} -gt 0 ]] || die "no workload matches --only $ONLY"

RAW="$BUILD_DIR/bench-results/raw-$STAMP.tsv"
CG_DIR=""
HS_COPY_AT="$BUILD_DIR/bench-results/libheapsight-$STAMP.so"
if [[ $CALLGRIND == 1 ]]; then
    kept=()
    for spec in "${SELECTED[@]}"; do
        name=${spec%%|*}
        if [[ "$FIXED_TIME" == *",$name,"* ]]; then
            note "NOTE: $name runs for a fixed time: its instruction count measures the time, not the allocator; skipped under --callgrind"
        else
            kept+=("$spec")
        fi
    done
    [[ ${#kept[@]} -gt 0 ]] || die "no workload left to run under callgrind"
    SELECTED=("${kept[@]}")
    RAW="$BUILD_DIR/bench-results/raw-callgrind-$STAMP.tsv"
    CG_DIR="$BUILD_DIR/bench-results/callgrind-$STAMP"
    mkdir -p "$CG_DIR"
    # Kept with the .out files, which name it: callgrind_annotate reads it.
    HS_COPY_AT="$CG_DIR/libheapsight.so"
fi
if [[ $HS_WANTED == 1 ]]; then
    # Measure a private copy: the library may be rebuilt while we run, and
    # every heapsight run of this report (every variant) must be the same
    # build.
    bench_copy_lib "$HS_COPY_AT"
    for a in "${ORDER[@]}"; do
        [[ "${PRELOAD[$a]}" == "$HS_ORIG" ]] && PRELOAD[$a]=$HS_COPY
    done
fi
NC_ORIG=""
NC_COPY=""
if [[ " ${ORDER[*]} " == *" hs_nochecks "* ]]; then
    # The same reason as above.
    NC_ORIG=${PRELOAD[hs_nochecks]}
    NC_COPY="$BUILD_DIR/bench-results/libheapsight-nochecks-$STAMP.so"
    cp "$NC_ORIG" "$NC_COPY"
    PRELOAD[hs_nochecks]=$NC_COPY
fi
PY_PKG_NOTE=""
in_order() { [[ " ${ORDER[*]} " == *" $1 "* ]]; }
if [[ -n "$PY_PKG" ]] && in_order hs_py512k; then
    cp -r "$PY_PKG_ORIG" "$PY_PKG"
    # Its identity: one sha256 over the sha256 of each .py file (sorted
    # relative paths), and the library it calls into, whose copy is the
    # one measured (the package finds the preloaded library).
    pkg_py=$(cd "$PY_PKG" && find . -name '*.py' -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    PY_PKG_NOTE="$PY_PKG_ORIG (pure Python: $(wc -l <<<"$pkg_py") .py files, newest modified $(cd "$PY_PKG_ORIG" && find . -name '*.py' -type f -printf '%TY-%Tm-%Td %TH:%TM:%.2TS\n' | sort | tail -1), sha256 of their sums $(sha256sum <<<"$pkg_py" | cut -c1-12); calls into libheapsight.so sha256 $(sha256sum "$HS_COPY" | cut -c1-12)), measured from a copy"
else
    PY_PKG=""
fi
OUTDIR=$(mktemp -d)
cleanup() {
    rm -rf "$OUTDIR"
    [[ $CALLGRIND == 1 ]] || bench_drop_copy
    [[ -n "$NC_COPY" ]] && rm -f "$NC_COPY"
    [[ -n "$PY_PKG" ]] && rm -rf "$PY_PKG"
    return 0
}
trap cleanup EXIT

# Appends "-e VAR=VALUE" to ARGS for each word of $1.
env_args() {
    local kvs kv
    read -r -a kvs <<<"$1"
    for kv in "${kvs[@]}"; do ARGS+=(-e "$kv"); done
}

# The Python variants are checked once on each interpreter before
# measuring, through the runner like the measured runs: a variant whose
# hook or tracer is not on would measure nothing, so it is not run on that
# interpreter (PY_SKIP), and dropped with a note when it is on nowhere.
PY_CHECKS=""
declare -A PY_SKIP=()  # "variant|interpreter index" whose check failed
check_py_variant() {
    local a=$1 i=$2 code out="$OUTDIR/check" ARGS=() res on=${PY_TAGS[$2]:+ on ${PY_TAGS[$2]}}
    case "$a" in
    hs_py512k) code='import heapsight as h
st = h.python_status()
ok = st.get("hook") == "1" and st.get("wrapped", "")[1:] == "11"
print("ok" if ok else "FAIL", "python=%s hook=%s pymem=%s "
      "wrapped(raw,mem,obj)=%s%s" % (st.get("python"), st.get("hook"),
      st.get("pymem"), st.get("wrapped"),
      " reason=" + st["reason"] if st.get("reason") else ""))' ;;
    hs_tracemalloc) code='import tracemalloc as t
ok = t.is_tracing() and t.get_traceback_limit() == 25
print("ok" if ok else "FAIL", "tracing=%s frames=%d"
      % (t.is_tracing(), t.get_traceback_limit()))' ;;
    *) return 0 ;;
    esac
    env_args "${ALLOC_ENV[$a]}"
    res=$("$RUNNER" -p "${PRELOAD[$a]}" -t 60 -o "$out" "${ARGS[@]}" -- "${PYS[$i]}" -c "$code")
    if [[ "$(head -1 "$out" 2>/dev/null)" == ok* ]]; then
        PY_CHECKS+="${PY_CHECKS:+; }$a$on: $(cut -d' ' -f2- "$out" | head -1)"
        return 0
    fi
    note "NOTE: $a check failed$on ($res; $(head -1 "$out" 2>/dev/null)): not run${on:+ there}"
    PY_SKIP[$a|$i]=1
    return 1
}
kept=()
for a in "${ORDER[@]}"; do
    ok=0
    for i in "${!PYS[@]}"; do
        check_py_variant "$a" "$i" && ok=1
    done
    [[ $ok == 1 ]] && kept+=("$a")
done
ORDER=("${kept[@]}")
[[ ${#ORDER[@]} -gt 0 ]] || die "no allocator to measure"
{
    # report.py renders a callgrind run's raw file as its own report.
    if [[ $CALLGRIND == 1 ]]; then echo "# format: callgrind"; fi
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
    for i in "${!PYS[@]}"; do
        echo "# python${PY_TAGS[$i]:+ ${PY_TAGS[$i]}}: ${PYS[$i]} ($("${PYS[$i]}" --version 2>&1))"
    done
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on the machine add noise)"
    echo "# command: bash bench/run.sh${ARGV:+ $ARGV} (reps=$REPS, timeout=${TIMEOUT}s)"
    [[ -n "$ENV_NOTE" ]] && echo "# environment: $ENV_NOTE removed: every allocator runs with its defaults unless its variant says otherwise"
    hs_said=""
    for a in "${ORDER[@]}"; do
        extra=${ALLOC_ENV[$a]:+, with ${ALLOC_ENV[$a]}}
        if [[ $a == hs_nochecks ]]; then
            echo "# $a: $NC_ORIG ($(stat -L -c '%s bytes, built %y' "$NC_ORIG" | cut -d. -f1), sha256 $(sha256sum "$NC_COPY" | cut -c1-12)), built with -DHS_FREE_CHECKS=OFF from $REPO, measured from a copy"
        elif [[ $a == glibc ]]; then
            echo "# $(bench_glibc_id)"
        elif [[ "${PRELOAD[$a]}" == "$HS_COPY" && -n "$HS_COPY" && -n "$hs_said" ]]; then
            echo "# $a: $hs_said's library$extra"
        elif [[ "${PRELOAD[$a]}" == "$HS_COPY" && -n "$HS_COPY" ]]; then
            echo "# $a: $HS_ORIG ($(stat -L -c '%s bytes, built %y' "$HS_ORIG" | cut -d. -f1), sha256 $(sha256sum "$HS_COPY" | cut -c1-12)), measured from a copy$extra"
            hs_said=$a
        else
            echo "# $a: ${PRELOAD[$a]} ($(stat -L -c '%s bytes, modified %y' "${PRELOAD[$a]}" | cut -d. -f1))$extra"
        fi
    done
    [[ -n "$PY_PKG_NOTE" ]] && echo "# python package: $PY_PKG_NOTE"
    [[ -n "$LIB_NOTE" && $HS_WANTED == 1 ]] && echo "# build: $LIB_NOTE"
    [[ -n "$PY_CHECKS" ]] && echo "# checked before measuring: $PY_CHECKS"
    if [[ $CALLGRIND == 1 ]]; then
        echo "# valgrind: $(valgrind --version) --tool=callgrind --trace-children=yes; output and the measured library copy in $CG_DIR"
    fi
} >"$RAW"

# Expands a workload spec into the argv array CMD; PY is the interpreter
# PYS[$2].
expand_cmd() {
    local s=$1 i=$2 w
    CMD=()
    for w in $s; do
        case "$w" in
        PY) CMD+=("${PYS[$i]}") ;;
        BIN/*) CMD+=("$BENCH_BIN/${w#BIN/}") ;;
        *) CMD+=("$w") ;;
        esac
    done
}

# Runs CMD once under allocator $1 with env $2 (plus the allocator's own,
# if it is a variant); sets RESULT (runner line), CSUM and TPUT (the
# throughput a fixed-time workload prints, "-" for the others).
run_one() {
    local alloc=$1 envs=$2 out="$OUTDIR/out" ARGS=()
    env_args "$envs"
    env_args "${ALLOC_ENV[$alloc]:-}"
    RESULT=$("$RUNNER" -p "${PRELOAD[$alloc]}" -t "$TIMEOUT" -o "$out" "${ARGS[@]}" -- "${CMD[@]}")
    CSUM=$(sed -n 's/^checksum=\([0-9a-f]*\).*/\1/p' "$out" | head -1)
    [[ -n "$CSUM" ]] || CSUM="none"
    TPUT=$(sed -n 's/.*\bthroughput=\([0-9.]*\).*/\1/p' "$out" | head -1)
    [[ -n "$TPUT" ]] || TPUT="-"
}

# Runs CMD (workload $1) once under callgrind with allocator $2 and env $3
# (plus the allocator's own).  The preload and the environment are set by
# env(1) under valgrind, on the traced program only; valgrind's messages
# and the workload's stderr go to <workload>.<alloc>.log.  Appends a row to
# RAW: workload alloc instructions processes status checksum wall_s, where
# instructions is the largest "Collected :" of the run's processes (the
# workload's own; "-" if none) and wall_s the run's time under valgrind.
callgrind_one() {
    local name=$1 alloc=$2 envs=$3 out="$OUTDIR/out" log kvs prog=(env) ir np st
    log="$CG_DIR/$name.$alloc.log"
    [[ -n "${PRELOAD[$alloc]}" ]] && prog+=("LD_PRELOAD=${PRELOAD[$alloc]}")
    read -r -a kvs <<<"${ALLOC_ENV[$alloc]:-} $envs"
    prog+=("${kvs[@]}")
    RESULT=$("$RUNNER" -p "" -t "$TIMEOUT" -o "$out" -- valgrind \
        --tool=callgrind --trace-children=yes \
        "--callgrind-out-file=$CG_DIR/$name.$alloc.%p.out" \
        "${prog[@]}" "${CMD[@]}" 2>"$log")
    CSUM=$(sed -n 's/^checksum=\([0-9a-f]*\).*/\1/p' "$out" | head -1)
    ir=$(sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$log" | sort -n | tail -1)
    np=$(grep -c '^==[0-9]*== Collected : ' "$log" || true)
    st=$(field status)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$alloc" "${ir:--}" \
        "$np" "$st" "${CSUM:-none}" "$(field wall_s)" >>"$RAW"
    [[ "$st" == 0 ]] || note "$name/$alloc: status $st (see $log)"
    note "$name/$alloc: ${ir:-no} instructions, $np process(es), $(field wall_s) s under callgrind"
}

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$RESULT"; }

# One entry per workload run: "name|argv|quick argv|env|interpreter index"
# (a Python workload once per interpreter, named <workload>@<tag> when
# there is a tag).
RUNS=()
for spec in "${SELECTED[@]}"; do
    IFS='|' read -r name full quick envs <<<"$spec"
    if [[ "$full" != PY\ * ]]; then
        RUNS+=("$spec|0")
        continue
    fi
    for i in "${!PYS[@]}"; do
        RUNS+=("$name${PY_TAGS[$i]:+@${PY_TAGS[$i]}}|$full|$quick|$envs|$i")
    done
done

# The timed runs: warm-up, then REPS round-robin repetitions.
time_all() {
    local spec name full quick envs py_i rep n k alloc st
    for spec in "${RUNS[@]}"; do
        IFS='|' read -r name full quick envs py_i <<<"$spec"
        if [[ $QUICK == 1 ]]; then expand_cmd "$quick" "$py_i"; else expand_cmd "$full" "$py_i"; fi
        run_one glibc "$envs"   # warm-up, not recorded
        for ((rep = 1; rep <= REPS; rep++)); do
            n=${#ORDER[@]}
            for ((k = 0; k < n; k++)); do
                alloc=${ORDER[$(( (k + rep - 1) % n ))]}
                # A Python variant whose check failed on this interpreter.
                [[ "$full" == PY\ * && -n "${PY_SKIP[$alloc|$py_i]:-}" ]] && continue
                run_one "$alloc" "$envs"
                printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$alloc" "$rep" \
                    "$(field wall_s)" "$(field maxrss_kib)" "$(field user_s)" \
                    "$(field sys_s)" "$(field status)" "$CSUM" "$TPUT" >>"$RAW"
                st=$(field status)
                [[ "$st" == 0 ]] || note "$name/$alloc rep $rep: status $st"
            done
        done
        note "$name done ($(( $(date +%s) - START )) s elapsed)"
    done
}

# The callgrind runs: each workload once per allocator, no warm-up (the
# count does not depend on the page cache).
callgrind_all() {
    local spec name full quick envs py_i alloc
    for spec in "${RUNS[@]}"; do
        IFS='|' read -r name full quick envs py_i <<<"$spec"
        if [[ $QUICK == 1 ]]; then expand_cmd "$quick" "$py_i"; else expand_cmd "$full" "$py_i"; fi
        for alloc in "${ORDER[@]}"; do
            [[ "$full" == PY\ * && -n "${PY_SKIP[$alloc|$py_i]:-}" ]] && continue
            callgrind_one "$name" "$alloc" "$envs"
        done
        note "$name done ($(( $(date +%s) - START )) s elapsed)"
    done
}

note "allocators: ${ORDER[*]}; reps: $REPS; workloads: ${#RUNS[@]}; raw: $RAW"
START=$(date +%s)
if [[ $CALLGRIND == 1 ]]; then callgrind_all; else time_all; fi
echo "# elapsed: $(( $(date +%s) - START )) s for the measured runs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"

REPORT=$("$PY" "$REPO/bench/report.py" "$RAW")
printf '%s\n' "$REPORT"
if [[ -n "$OUT" ]]; then
    printf '%s\n' "$REPORT" >"$OUT"
    note "report written to $OUT"
fi
note "raw results: $RAW"
[[ -z "$CG_DIR" ]] || note "callgrind output: $CG_DIR"
