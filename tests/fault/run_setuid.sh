#!/usr/bin/env bash
# run_setuid.sh PROGRAM WORKDIR — a setuid program ignores HEAPSIGHT.
#
# As root: copies PROGRAM (fault_setuid.c) into a fresh directory under
# WORKDIR (the build tree, checked not to be mounted nosuid), makes it
# owned by root and setuid, and runs it as nobody (setpriv) with
# HEAPSIGHT asking for the profiler, a final dump into a directory nobody
# can write, statistics at exit and guards (plus the variant's options).
# Judged: exit 0, euid 0, every option at its default, no profile written,
# nothing on stderr.  The control run, the same copy without the setuid
# bit, must see the options applied and write the final dump — proof that
# the first run could have failed.  Exit status 77 (CTest: skipped) when
# not root, or when nobody cannot reach the copy or the library it links
# (a build tree under a directory closed to others, such as one made by
# mktemp -d), with the reason.
set -u
prog=$1 work=$2
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: not root (needs chown root + chmod u+s and setpriv)"
    exit 77
fi
if findmnt -n -o OPTIONS -T "$work" | tr , '\n' | grep -qx nosuid; then
    echo "SKIP: $work is on a file system mounted nosuid"
    exit 77
fi
dir=$(mktemp -d "$work/setuid.XXXXXX") || {
    echo "FAIL setuid_ignores_env: cannot make a directory in $work"
    exit 1
}
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
mkdir "$dir/out" && chmod 1777 "$dir/out"
cp "$prog" "$dir/prog"
chown root:root "$dir/prog"
# nobody CMD...: runs CMD as nobody (uid and gid 65534, no groups).
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
lib=$(ldd "$prog" | awk '/libheapsight/ { print $3; exit }')
if ! nobody sh -c 'test -x "$1" && test -r "$2"' sh "$dir/prog" "$lib"; then
    echo "SKIP: nobody cannot reach $dir/prog or $lib (a parent directory is closed to others)"
    exit 77
fi
opts="${HEAPSIGHT:+$HEAPSIGHT,}prof:true,prof_final:true,stats_print:true"
opts="$opts,san_guard_small:1,prof_prefix:$dir/out/x"
as_nobody() {
    nobody env HEAPSIGHT="$opts" "$dir/prog" >"$dir/stdout" 2>"$dir/stderr"
}
fail() {
    echo "FAIL setuid_ignores_env ($1): $2"
    echo "--- stdout"; cat "$dir/stdout"; echo "--- stderr"; cat "$dir/stderr"
    echo "--- $dir/out"; ls -la "$dir/out"
    exit 1
}

chmod 4755 "$dir/prog"
as_nobody; rc=$?
[ "$rc" -eq 0 ] || fail setuid "exit status $rc"
grep -qx "uid 65534 euid 0" "$dir/stdout" || fail setuid "not run setuid-root"
grep -qx "opt.prof 0 opt.prof_final 0 opt.stats_print 0 opt.san_guard_small 0" \
    "$dir/stdout" || fail setuid "HEAPSIGHT was applied"
[ -s "$dir/stderr" ] && fail setuid "output on stderr"
[ -z "$(ls -A "$dir/out")" ] || fail setuid "a profile was written"
echo "setuid:  $(tr '\n' ';' <"$dir/stdout")"

chmod 0755 "$dir/prog"
as_nobody; rc=$?
[ "$rc" -eq 0 ] || fail control "exit status $rc"
grep -qx "opt.prof 1 opt.prof_final 1 opt.stats_print 1 opt.san_guard_small 1" \
    "$dir/stdout" || fail control "HEAPSIGHT was not applied"
[ -n "$(find "$dir/out" -maxdepth 1 -name 'x.*.final.pb.gz')" ] ||
    fail control "no final dump written"
echo "control: $(tr '\n' ';' <"$dir/stdout") dump $(ls "$dir/out")"
echo "ok setuid_ignores_env"
