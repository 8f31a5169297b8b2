#!/usr/bin/env bash
# scripts/test.sh — README command 2: set up and build (scripts/setup.sh),
# then run the whole test suite with CTest.  Extra arguments go to ctest,
# e.g. `bash scripts/test.sh -R include_rules` or `-L unit`.
# The exit status is ctest's.  A run that finds no test fails
# (--no-tests=error), so an empty suite never passes silently.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

printf '\n$ ctest --test-dir build --output-on-failure -j2 --no-tests=error%s\n' "${*:+ $*}"
status=0
ctest --test-dir build --output-on-failure -j2 --no-tests=error "$@" || status=$?
exit "$status"
