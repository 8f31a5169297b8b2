#!/usr/bin/env bash
# scripts/setup.sh — idempotent set-up of a Debian 12 machine, then the build.
#
#   bash scripts/setup.sh             install what is missing, configure, build
#   bash scripts/setup.sh --deps-only install what is missing, no build
#
# Runs from any directory (it works in the repository that holds it), as root
# or as a user with sudo, and without a terminal (CI=true, no stdin).
# Packages are checked with dpkg first: apt-get runs only when something is
# missing, so a second run touches nothing but the build.
#
# Environment:
#   HS_CMAKE_ARGS  extra arguments for the configure step, e.g. "-DHS_DEBUG=ON"
set -euo pipefail

# Every Debian package the project needs, in one list.
PACKAGES=(
    # toolchain and build
    build-essential cmake pkg-config git binutils
    # test and demo tools (python3 and sqlite3 also run under LD_PRELOAD)
    python3 sqlite3 procps
    # CPython's own regression tests (Lib/test of /usr/bin/python3.11), run
    # on the preloaded library by tests/programs/cpython_suite.sh
    libpython3.11-testsuite
    # benchmark peers
    libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4
    # the profiler: unwinding (libunwind is dlopen'ed privately), gzip
    libunwind8 libunwind-dev zlib1g-dev
    # the heapsight command: profile.proto, symbols and lines
    libprotobuf-c-dev protobuf-c-compiler libdw-dev libelf-dev
    # the reference pprof client, used by the tests; debug symbols of libc
    golang-go libc6-dbg
    # the Python package and its tests (CPython 3.11's headers, its
    # embedding library; python3.11-dbg has the symbols of the stripped
    # /usr/bin/python3.11, for the eval loop's .cold part)
    python3-dev python3.11-dbg
    # pytest for /usr/bin/python3: it runs tests/python on every interpreter
    python3-pytest
    # the heapsight command's call graphs (graphviz's libgvc, in process)
    libgraphviz-dev
    # the profile reader's fuzz target (libFuzzer) and the flame graph's
    # browser test (headless Chromium)
    clang libclang-rt-14-dev chromium
)

BUILD_DIR=build
BUILD_TYPE=RelWithDebInfo

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

deps_only=false
for arg in "$@"; do
    case "$arg" in
    --deps-only) deps_only=true ;;
    -h | --help)
        sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$arg' (try --help)" ;;
    esac
done

# No pipe into grep -q: under pipefail, grep quitting early makes dpkg die
# of SIGPIPE on long entries and the test fails at random.
is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

install_packages() {
    local missing=() p
    command -v dpkg >/dev/null 2>&1 ||
        die "dpkg not found: this script expects Debian 12 (bookworm)"
    for p in "${PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "all ${#PACKAGES[@]} packages already installed"
        return 0
    fi
    say "missing packages: ${missing[*]}"

    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            say "not root: using sudo"
            sudo=(sudo)
        else
            die "not root and sudo is not available; as root run:
    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
        fi
    fi
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
    "${apt[@]}" update || die "apt-get update failed"
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}" ||
        die "apt-get install failed for: ${missing[*]}"
    for p in "${missing[@]}"; do
        is_installed "$p" || die "package $p is still not installed"
    done
    say "installed: ${missing[*]}"
}

build() {
    local cache="$BUILD_DIR/CMakeCache.txt" extra=()
    [ -f alloc/CMakeLists.txt ] ||
        die "cannot build: alloc/CMakeLists.txt does not exist yet.
    The allocator (CMake target 'heapsight' -> $BUILD_DIR/lib/libheapsight.so)
    has not been written; packages are installed, the build step is not."
    # A build/ configured from another checkout makes cmake refuse to run.
    if [ -f "$cache" ]; then
        local home
        home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")
        if [ -n "$home" ] && [ "$home" != "$ROOT" ]; then
            die "$ROOT/$BUILD_DIR was configured for $home; remove it: rm -rf '$ROOT/$BUILD_DIR'"
        fi
    fi
    # shellcheck disable=SC2206 # word splitting of HS_CMAKE_ARGS is wanted
    [ -n "${HS_CMAKE_ARGS:-}" ] && extra=(${HS_CMAKE_ARGS})

    say "configure: cmake -S . -B $BUILD_DIR -DCMAKE_BUILD_TYPE=$BUILD_TYPE${extra[*]:+ ${extra[*]}}"
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${extra[@]}" ||
        die "cmake configure failed (see the messages above)"
    say "build: cmake --build $BUILD_DIR -j$(nproc)"
    cmake --build "$BUILD_DIR" -j"$(nproc)" ||
        die "build failed (see the compiler messages above)"
    if [ -f "$BUILD_DIR/lib/libheapsight.so" ]; then
        say "built $ROOT/$BUILD_DIR/lib/libheapsight.so"
    else
        die "build finished but $BUILD_DIR/lib/libheapsight.so is missing"
    fi
}

install_packages
if $deps_only; then
    say "--deps-only: skipping the build"
else
    build
fi
