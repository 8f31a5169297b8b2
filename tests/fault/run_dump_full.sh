#!/usr/bin/env bash
# run_dump_full.sh PROGRAM [--inner MODE DIR] — the profiler dumping into a
# full file system.  PROGRAM (fault_dump_full.c) asks for three dumps and
# has prof_final:true, all into DIR.  Judged: exit status 0, the program's
# own result line unchanged, every dump reported failed with the file
# system's error or written, exactly one line on stderr naming the
# failure, and nothing left in DIR but what was there before and complete
# dumps (docs/RELIABILITY.md).
#
# A real full file system when possible: as root, in a private mount
# namespace (unshare -m), a tmpfs of 256 KiB, run twice:
#   full     filled to the last byte first (the temporary cannot be
#            written at all: ENOSPC at the first write)
#   partial  left with 4 KiB free: a dump that fits is written whole,
#            one that does not fills the file system part-way through its
#            temporary; what is left must be complete dumps only.  The
#            sizes decide which: at prof_sample:4k a dump is about 2.5 KiB
#            compressed (the first is written, the rest fail), at
#            prof_sample:1 about 4.6 KiB (all three fail part-way), and
#            the final dump, its objects freed, is smaller (about 2.4 and
#            4.0 KiB): it may be written whole after failed ones.
# Otherwise (not root, or no unshare/mount) the substitute RLIMIT_FSIZE =
# 8 KiB with SIGXFSZ ignored: writes past it fail with EFBIG, not ENOSPC,
# but the profiler's path through a failed write is the same.  The
# variant's HEAPSIGHT (set by CTest) is kept; prof:true is added when it
# lacks it (with prof_sample:4k), with prof_final:true and the prefix.
set -u
prog=$1; shift
here=$(cd "$(dirname "$0")" && pwd)

judge() { # judge MODE DIR ERRTEXT OUT ERR RC
    local mode=$1 dir=$2 errtext=$3 out=$4 err=$5 rc=$6
    fail() {
        echo "FAIL dump_dir_full ($mode): $*"
        echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"
        echo "--- $dir"; ls -la "$dir"
        exit 1
    }
    [ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
    grep -qx "result: 664000 bytes in 400 blocks" "$out" ||
        fail "the program's result line changed"
    nfail=$(grep -c "^dump [0-2]: $errtext\$" "$out")
    nok=$(grep -c "^dump [0-2]: written\$" "$out")
    [ $((nfail + nok)) -eq 3 ] || fail "a dump failed otherwise"
    if [ "$mode" = partial ]; then
        [ "$nfail" -ge 1 ] || fail "want a dump failed with \"$errtext\""
    else
        [ "$nfail" -eq 3 ] || fail "want three dumps failed with \"$errtext\""
    fi
    [ "$(wc -l <"$err")" -eq 1 ] || fail "want exactly one line on stderr"
    grep -q "$dir" "$err" || fail "the stderr line does not name $dir"
    # Left behind: only the filler and complete dumps (no temporary, no
    # truncated file).  The three asked for are reported on stdout; the
    # final one is not: at most one, and none in a full file system.
    left=$(find "$dir" -mindepth 1 ! -name filler \
        ! -name 'prof.*.manual.pb.gz' ! -name 'prof.*.final.pb.gz')
    [ -z "$left" ] || fail "left behind: $left"
    [ "$(find "$dir" -name 'prof.*.manual.pb.gz' | wc -l)" -eq "$nok" ] ||
        fail "dumps on disk do not match those reported written"
    nfinal=$(find "$dir" -name 'prof.*.final.pb.gz' | wc -l)
    [ "$nfinal" -le 1 ] || fail "$nfinal final dumps"
    [ "$mode" != full ] || [ "$nfinal" -eq 0 ] ||
        fail "a final dump written into a full file system"
    bad=$(find "$dir" -name 'prof.*.pb.gz' ! -exec gzip -t {} \; -print 2>/dev/null)
    [ -z "$bad" ] || fail "truncated: $bad"
    echo "ok $mode: $(cat "$err")"
}

opts=${HEAPSIGHT:-}
case ",$opts," in *,prof:true,*) ;; *) opts=${opts:+$opts,}prof:true,prof_sample:4k ;; esac

if [ "${1:-}" = --inner ]; then
    # In the private mount namespace: mount, fill, run, judge.
    mode=$2 dir=$3
    mount -t tmpfs -o size=256k,mode=0755 hs_fault_full "$dir" || exit 1
    if [ "$mode" = full ]; then
        dd if=/dev/zero of="$dir/filler" bs=4k 2>/dev/null
    else
        dd if=/dev/zero of="$dir/filler" bs=4k count=63 2>/dev/null
    fi
    echo "$mode: $(df -k --output=avail "$dir" | tail -1) KiB free"
    out=$(mktemp) err=$(mktemp)
    HEAPSIGHT="$opts,prof_final:true,prof_prefix:$dir/prof" "$prog" \
        >"$out" 2>"$err"
    rc=$?
    judge "$mode" "$dir" "No space left on device" "$out" "$err" "$rc"
    rm -f "$out" "$err"
    exit 0
fi

tmp=$(mktemp -d /tmp/hs_fault_full.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "HEAPSIGHT=$opts"
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null &&
   unshare -m sh -c "mount -t tmpfs -o size=4k t '$tmp'" 2>/dev/null; then
    for mode in full partial; do
        mkdir -p "$tmp/$mode"
        HEAPSIGHT=$opts unshare -m --propagation private \
            bash "$here/run_dump_full.sh" "$prog" --inner "$mode" \
            "$tmp/$mode" || exit 1
    done
else
    echo "no private tmpfs here (not root, or unshare/mount refused):"
    echo "substitute RLIMIT_FSIZE 8 KiB with SIGXFSZ ignored (EFBIG)"
    dir=$tmp/fsize
    mkdir "$dir"
    out=$tmp/out err=$tmp/err
    (trap '' XFSZ; ulimit -f 16
     HEAPSIGHT="$opts,prof_final:true,prof_prefix:$dir/prof" \
         exec "$prog") >"$out" 2>"$err"
    rc=$?
    judge fsize "$dir" "File too large" "$out" "$err" "$rc"
fi
