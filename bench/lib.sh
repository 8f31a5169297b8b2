# bench/lib.sh — shell helpers shared by bench/run.sh and bench/rss_decay.sh,
# sourced with `. "$REPO/bench/lib.sh"` after REPO, BUILD_DIR, LOG and a
# note() function are defined.
#
# Owns: finding peer allocator libraries, and finding (or making) the CMake
# configuration of the build directory the scripts build in.

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
