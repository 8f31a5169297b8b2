#!/usr/bin/env bash
# scripts/sanitize.sh — the sanitizer runs (HS_SANITIZE, cmake/sanitize.cmake),
# each in a build tree of its own next to build/:
#
#   build-asan  HS_SANITIZE=address,undefined: the heapsight command under
#               ASan, LeakSanitizer and UBSan, through the CLI tests (cli_*)
#   build-tsan  HS_SANITIZE=thread: the allocator's unit tests (tests/unit:
#               util, os, extent, page and the front modules) under TSan
#
#   bash scripts/sanitize.sh          both runs
#   bash scripts/sanitize.sh asan     one of them (asan or tsan)
#
# scripts/test.sh runs it after the main CTest run; it expects the packages
# of scripts/setup.sh.  Each run configures its tree, builds only the
# targets its tests need (-j2), runs the tests with CTest and then fails if
# a sanitizer wrote a report (<tree>/sanitizer-logs/report.<program>.<pid>,
# printed here), even one behind a test that passed.  The exit status is
# non-zero when any run failed.  Set ASAN_OPTIONS=log_path=stderr (or
# TSAN_OPTIONS=...) to see the reports of a program run by hand.
#
# Not run, and why (docs/RELIABILITY.md, "Sanitizer builds", says more):
#   cli_robust_*     set RLIMIT_AS to 1.5 GiB in the child; the ASan runtime
#                    cannot reserve its shadow memory under it and aborts.
#                    The reader's bad inputs are fuzzed under ASan+UBSan by
#                    cli_fuzz_reader in the main run.  (Run once by hand
#                    without the limit they passed, clean, in 4 minutes:
#                    too long for every CI run.)
#   cli_fuzz_reader  is already ASan+UBSan (clang, libFuzzer), main run.
#   unit_prof_*, unit_backtrace_hooks_*  not allocator modules; the
#                    unwinders (unit_backtrace_hooks_unwind, _cfi) crash
#                    under TSan, and backtrace_hooks/seqslot.h's fences are
#                    not modelled by TSan (gcc: -Wtsan).
# Every unit test of tests/unit's allocator folders runs under TSan: they
# link hs_core, which has no malloc entry points (the programs run on the
# C library's malloc, which TSan intercepts), hs_mutex_t is a pthread mutex,
# and the only mapping is mmap(NULL, ...), which TSan intercepts too.
set -euo pipefail

JOBS=2
ASAN_DIR=build-asan
TSAN_DIR=build-tsan
# What the CLI tests run: the command, its test programs, the ordinary
# libheapsight.so (preloaded by `heapsight run`) and the Python package
# (`heapsight run` merges Python frames when it finds it beside bin/).
ASAN_TARGETS=(hs_cli hs_cli_selfprof hs_cli_selflib hs_cli_mkprof
    hs_cli_report_leaky hs_cli_service hs_attach_svc heapsight hs_pypkg)
ASAN_TESTS='^cli_'
ASAN_EXCLUDE='^cli_fuzz_reader$|^cli_robust_'
# Test name = target name (hs_add_test); the targets are derived from it.
TSAN_TESTS='^unit_(util|os|extent|page|front)_'

# A command that runs ctest (setarch for TSan on some kernels), or nothing.
WRAP=()

say() { printf 'sanitize: %s\n' "$*"; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

# configure <dir> <HS_SANITIZE value>
configure() {
    local cache="$1/CMakeCache.txt" home
    if [ -f "$cache" ]; then
        home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")
        if [ -n "$home" ] && [ "$home" != "$ROOT" ]; then
            say "$ROOT/$1 was configured for $home; remove it: rm -rf '$ROOT/$1'"
            return 1
        fi
    fi
    say "configure $1: HS_SANITIZE=$2"
    mkdir -p "$1"
    cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHS_BUILD_BENCH=OFF \
        -DHS_SANITIZE="$2" >"$1/configure.log" 2>&1 || {
        cat "$1/configure.log"
        return 1
    }
}

# build <dir> <target>...
build() {
    local dir=$1
    shift
    say "build $dir: $*"
    cmake --build "$dir" -j"$JOBS" --target "$@" >"$dir/build.log" 2>&1 || {
        tail -n 60 "$dir/build.log"
        return 1
    }
}

# reports <dir>: prints the sanitizer reports of the last run (the first
# few whole, then their first lines); false if there is any.
reports() {
    local f found=0
    for f in "$1"/sanitizer-logs/report.*; do
        [ -e "$f" ] || continue
        found=$((found + 1))
        printf '\n---- %s\n' "$f"
        if [ "$found" -le 5 ]; then
            head -n 80 "$f"
        else
            grep -m 1 -E 'ERROR|WARNING|runtime error' "$f" || head -n 2 "$f"
        fi
    done
    [ "$found" -eq 0 ] && return 0
    say "$found sanitizer report(s) in $1/sanitizer-logs/"
    return 1
}

# run_tests <dir> <ctest args>...: runs the tests; false if a test failed
# or a sanitizer reported anything.  A failed test runs once more: some
# CLI tests time a profiled program (cli_change_run_every) and can miss
# on a loaded machine; a second run hides no sanitizer finding, since the
# reports of both runs stay in sanitizer-logs/ and fail the run.
run_tests() {
    local dir=$1 status=0
    shift
    mkdir -p "$dir/sanitizer-logs"
    rm -f "$dir"/sanitizer-logs/report.*
    say "${WRAP[*]:+${WRAP[*]} }ctest --test-dir $dir $*"
    "${WRAP[@]}" ctest --test-dir "$dir" --output-on-failure -j"$JOBS" \
        --no-tests=error --repeat until-pass:2 "$@" || status=1
    reports "$dir" || status=1
    return "$status"
}

run_asan() {
    WRAP=()
    configure "$ASAN_DIR" address,undefined &&
        build "$ASAN_DIR" "${ASAN_TARGETS[@]}" &&
        run_tests "$ASAN_DIR" -R "$ASAN_TESTS" -E "$ASAN_EXCLUDE"
}

run_tsan() {
    local targets probe
    configure "$TSAN_DIR" thread || return 1
    targets=$(ctest --test-dir "$TSAN_DIR" -N -R "$TSAN_TESTS" |
        sed -n 's/^ *Test *#[0-9]*: //p')
    [ -n "$targets" ] || {
        say "no test matches $TSAN_TESTS"
        return 1
    }
    # shellcheck disable=SC2086 # one target per word
    build "$TSAN_DIR" $targets || return 1
    # gcc 12's TSan does not know the layout of a kernel with 32 bits of
    # mmap randomness ("unexpected memory mapping"): then run without ASLR.
    probe=$(TSAN_OPTIONS=log_path=stderr "$TSAN_DIR/tests/unit/unit_front_sz" \
        2>&1 >/dev/null || true)
    if [[ $probe == *"unexpected memory mapping"* ]]; then
        say "TSan needs less address randomization here: setarch -R"
        WRAP=(setarch "$(uname -m)" -R)
    fi
    run_tests "$TSAN_DIR" -R "$TSAN_TESTS"
}

runs=("$@")
[ ${#runs[@]} -eq 0 ] && runs=(asan tsan)
failed=()
for r in "${runs[@]}"; do
    start=$SECONDS
    case "$r" in
    asan) run_asan || failed+=(asan) ;;
    tsan) run_tsan || failed+=(tsan) ;;
    *)
        say "unknown run '$r' (asan or tsan)"
        exit 2
        ;;
    esac
    say "$r: $((SECONDS - start)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
    say "FAILED: ${failed[*]}"
    exit 1
fi
say "all sanitizer runs passed: ${runs[*]}"
