# shellcheck shell=bash disable=SC2034 # BENCH_BIN, ENV_NOTE, HS_*: for the caller
# bench/lib.sh — shell helpers shared by bench/run.sh, rss_decay.sh,
# soak.sh and oom_recover.sh, sourced with `. "$REPO/bench/lib.sh"` after
# REPO, BUILD_DIR, LOG and note() and die() functions are defined.
#
# Owns: finding peer allocator libraries, finding (or making) the CMake
# configuration of the build directory the scripts build in, building
# one workload with the runner there, the private copy of the measured
# library, and the identity lines of a report's header (bench_lib_id,
# bench_glibc_id).

# Finds a shared library by file name in the usual library directories.
find_lib() {
    local d
    for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 \
             /usr/lib /usr/local/lib; do
        [[ -e "$d/$1" ]] && { echo "$d/$1"; return 0; }
    done
    ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }'
}

# Prints the source directory BUILD_DIR was configured from: its
# CMakeCache's, or the repository's after configuring it there; nothing
# (with a note) when neither works.  Configure output goes to LOG.
bench_build_home() {
    if [[ -f "$BUILD_DIR/CMakeCache.txt" ]]; then
        sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt"
    elif cmake -S "$REPO" -B "$BUILD_DIR" >>"$LOG" 2>&1; then
        echo "$REPO"
    else
        note "top-level configure failed (see $LOG); building the bench alone"
    fi
}

# bench_build WORKLOAD: builds bench/<WORKLOAD> and the runner, and
# libheapsight when WANT_HS is 1, LIB_GIVEN is 0 and LIB is missing; sets
# BENCH_BIN to the folder holding them.  The top-level build when BUILD_DIR
# is (or can be configured as) the repository's, else the bench directory
# alone (in <BUILD_DIR>/bench-standalone).  Build output goes to LOG, which
# is emptied first; dies when nothing builds.
bench_build() {
    local w=$1 jobs home targets
    mkdir -p "$BUILD_DIR/bench-results"
    : >"$LOG"
    jobs=$(nproc 2>/dev/null || echo 2)
    targets=(--target "hs_bench_$w" hs_bench_runner)
    BENCH_BIN=""
    home=$(bench_build_home)
    if [[ "$home" == "$REPO" ]]; then
        if [[ ${WANT_HS:-0} == 1 && ${LIB_GIVEN:-0} == 0 && ! -e "$LIB" ]]; then
            note "building libheapsight (target heapsight)"
            cmake --build "$BUILD_DIR" -j "$jobs" --target heapsight >>"$LOG" 2>&1 ||
                note "libheapsight did not build (see $LOG)"
        fi
        if cmake --build "$BUILD_DIR" -j "$jobs" "${targets[@]}" >>"$LOG" 2>&1; then
            BENCH_BIN="$BUILD_DIR/bench"
            return 0
        fi
        note "top-level build of the bench failed (see $LOG); building the bench alone"
    elif [[ "$home" == "$REPO/bench" ]]; then
        cmake --build "$BUILD_DIR" -j "$jobs" "${targets[@]}" >>"$LOG" 2>&1 &&
            { BENCH_BIN="$BUILD_DIR/bench"; return 0; }
    fi
    local alone="$BUILD_DIR/bench-standalone"
    { cmake -S "$REPO/bench" -B "$alone" >>"$LOG" 2>&1 &&
        cmake --build "$alone" -j "$jobs" "${targets[@]}" >>"$LOG" 2>&1; } ||
        die "cannot build bench/$w (see $LOG)"
    BENCH_BIN="$alone/bench"
}

# bench_drop_env: removes HEAPSIGHT and MALLOC_CONF inherited from the
# caller (every allocator runs with its defaults unless a variant says
# otherwise); ENV_NOTE says what was removed, for the report's header.
bench_drop_env() {
    local v
    ENV_NOTE=""
    for v in HEAPSIGHT MALLOC_CONF; do
        if [[ -n "${!v+x}" ]]; then
            ENV_NOTE+="${ENV_NOTE:+, }$v=${!v}"
            unset "$v"
        fi
    done
}

# The library measured and its private copy: empty until bench_copy_lib.
HS_ORIG=""
HS_COPY=""

# bench_copy_lib DEST: copies LIB (resolved: HS_ORIG) to DEST (HS_COPY),
# so a rebuild during the run cannot change what is measured; dies when
# LIB is missing.
bench_copy_lib() {
    [[ -e "$LIB" ]] || die "libheapsight not found at $LIB (build it: cmake --build $BUILD_DIR --target heapsight; or pass --lib)"
    HS_ORIG=$(readlink -f "$LIB")
    HS_COPY=$1
    cp "$HS_ORIG" "$HS_COPY"
}

# bench_lib_id: "HS_ORIG (built DATE, sha256 PREFIX)", the copy's identity
# for a report's header.
bench_lib_id() {
    echo "$HS_ORIG ($(stat -L -c 'built %y' "$HS_ORIG" | cut -d. -f1), sha256 $(sha256sum "$HS_COPY" | cut -c1-12))"
}

# bench_glibc_id: "glibc: VERSION LINE, no preload" for a report's header.
bench_glibc_id() {
    echo "glibc: $(ldd --version 2>/dev/null | head -1 | sed 's/^ldd //'), no preload"
}

# bench_drop_copy: removes the copy, if any (for the caller's EXIT trap).
bench_drop_copy() {
    [[ -n "$HS_COPY" ]] && rm -f "$HS_COPY"
    return 0
}
