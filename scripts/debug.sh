#!/usr/bin/env bash
# scripts/debug.sh — the debug build's run: the allocator built with
# -DHS_DEBUG=ON (internal assertions, whole-structure validators and the
# lock-order witness, alloc/util/mutex.h) in build-debug next to build/,
# and its unit, integration and stress tests run there.  A lock taken out
# of rank order, a failed assertion or a broken structure ends the test
# that hit it with one line naming the problem.
#
#   bash scripts/debug.sh        configure, build, run
#
# scripts/test.sh runs it after the main CTest run and the sanitizer runs;
# it expects the packages of scripts/setup.sh.  The exit status is
# non-zero when the build or a test failed.
set -euo pipefail

JOBS=2
DIR=build-debug
TESTS='^(unit|integration|stress)_'

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf 'debug: %s\n' "$*"; }

mkdir -p "$DIR"
say "configure $DIR: HS_DEBUG=ON"
cmake -S . -B "$DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHS_DEBUG=ON \
    -DHS_BUILD_BENCH=OFF >"$DIR/configure.log" 2>&1 || {
    cat "$DIR/configure.log"
    exit 1
}
# Every target (a test's program is not always named after the test); the
# benchmarks are left out.
say "build $DIR"
cmake --build "$DIR" -j"$JOBS" >"$DIR/build.log" 2>&1 || {
    tail -40 "$DIR/build.log"
    exit 1
}
say "ctest -R '$TESTS'"
ctest --test-dir "$DIR" --output-on-failure -j"$JOBS" --no-tests=error \
    -R "$TESTS"
