#!/usr/bin/env bash
# scripts/test.sh — README command 2: set up and build (scripts/setup.sh),
# then run the whole test suite with CTest.  Extra arguments go to ctest,
# e.g. `bash scripts/test.sh -R include_rules` or `-L unit`.
# Without arguments the sanitizer runs follow (scripts/sanitize.sh: the CLI
# under ASan+UBSan, the allocator's unit tests under TSan, in build-asan
# and build-tsan), then the debug build's (scripts/debug.sh: the unit,
# integration and stress tests with HS_DEBUG=ON, its assertions and the
# lock-order witness, in build-debug); with arguments they are skipped.
# The exit status is non-zero when ctest or a sanitizer run failed.  A run
# that finds no test fails (--no-tests=error), so an empty suite never
# passes silently.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

# The symbolizer's on-disk cache (cli/symcache.h) of this test run: fresh,
# in the build tree, so that no answer cached by an older build or by the
# user's own runs can stand in for one the tests check.
export HEAPSIGHT_SYMBOL_CACHE="$PWD/build/test-symbol-cache"
rm -rf "$HEAPSIGHT_SYMBOL_CACHE"

printf '\n$ ctest --test-dir build --output-on-failure -j2 --no-tests=error%s\n' "${*:+ $*}"
status=0
ctest --test-dir build --output-on-failure -j2 --no-tests=error "$@" || status=$?
if [ $# -eq 0 ]; then
    printf '\n$ bash scripts/sanitize.sh\n'
    bash scripts/sanitize.sh || { [ "$status" -ne 0 ] || status=1; }
    printf '\n$ bash scripts/debug.sh\n'
    bash scripts/debug.sh || { [ "$status" -ne 0 ] || status=1; }
else
    printf '\ntest: arguments given: the sanitizer and debug runs are skipped\n'
fi
exit "$status"
