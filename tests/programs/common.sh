# common.sh — shared by the programs/ tests, sourced with `. common.sh`.
#
# Owns the temporary directory (created here, removed on exit), the check
# that the library really is preloaded, and hs_same: run one command
# plainly and under LD_PRELOAD, then require exit status 0, empty stderr
# under heapsight, and identical stdout.
#
# The sourcing script sets LIB (the .so path) before sourcing and calls
# hs_finish at the end; any failure sets status=1.
set -u
: "${LIB:?set LIB to the path of libheapsight.so}"
case "$LIB" in /*) ;; *) LIB=$(pwd)/$LIB ;; esac
[ -f "$LIB" ] || { echo "FAIL: no such library: $LIB"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hs-programs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

hs_fail() {
    echo "FAIL: $*"
    status=1
}

# hs_loaded: the library appears in a preloaded process's own mappings.
hs_loaded() {
    base=$(basename "$LIB")
    if ! env LD_PRELOAD="$LIB" cat /proc/self/maps | grep -qF "$base"; then
        hs_fail "$base is not mapped into a preloaded process"
    fi
}

# hs_same <tag> <command...>: stdout with and without heapsight must match;
# under heapsight the exit status must be 0 and stderr empty.
hs_same() {
    tag=$1
    shift
    "$@" >"$tmp/$tag.plain.out" 2>"$tmp/$tag.plain.err"
    rc_plain=$?
    # A subshell rather than env(1), so that <command> may be a function.
    (LD_PRELOAD="$LIB" && export LD_PRELOAD && "$@") \
        >"$tmp/$tag.hs.out" 2>"$tmp/$tag.hs.err"
    rc_hs=$?
    echo "$tag: exit $rc_plain plain, $rc_hs preloaded;" \
         "$(wc -c <"$tmp/$tag.hs.out") bytes of output"
    [ $rc_plain -eq 0 ] || hs_fail "$tag: plain run exited $rc_plain" \
                                   "(the test itself is broken)"
    [ $rc_hs -eq 0 ] || hs_fail "$tag: preloaded run exited $rc_hs"
    if [ -s "$tmp/$tag.hs.err" ]; then
        hs_fail "$tag: preloaded run wrote to stderr:"
        head -n 20 "$tmp/$tag.hs.err"
    fi
    if ! cmp -s "$tmp/$tag.plain.out" "$tmp/$tag.hs.out"; then
        hs_fail "$tag: stdout differs with heapsight preloaded:"
        diff "$tmp/$tag.plain.out" "$tmp/$tag.hs.out" | head -n 20
    fi
}

hs_finish() {
    [ $status -eq 0 ] && echo "ok"
    exit $status
}
