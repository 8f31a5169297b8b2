#!/bin/sh
# cpython_suite.sh — CPython's own regression tests (Debian's
# libpython3.11-testsuite, run by /usr/bin/python3.11 -m test) on glibc and
# then with libheapsight.so preloaded; suite_compare.py requires the same
# outcome for every module and for every test case, and nothing written by
# heapsight in the output.  Outcomes are compared, not passes: a module
# that fails on glibc too is reported (it proves nothing) and compared.
#
# Usage: cpython_suite.sh <libheapsight.so> [HEAPSIGHT options]
#   With options, the preloaded run gets HEAPSIGHT=<options> (e.g.
#   prof:true,prof_sample:64k); the plain run never sees them.
#
# /usr/bin/python3.11 and not `python3`: the test package belongs to
# Debian's interpreter (a pyenv python3 on PATH has its own, or none).
# regrtest -j2 starts worker processes with the parent's environment, so
# they run on heapsight too; a probe test checks that in a worker.
LIB=${1:?usage: cpython_suite.sh libheapsight.so [HEAPSIGHT options]}
HS_OPTS=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
PY=/usr/bin/python3.11
[ -x "$PY" ] || { echo "FAIL: $PY not found"; exit 1; }
"$PY" -c 'import test.libregrtest, test.test_dict' 2>/dev/null || {
    echo "FAIL: CPython's tests are missing:" \
         "apt-get install libpython3.11-testsuite"
    exit 1
}

# The selection: modules that allocate hard (containers, strings, numbers,
# the garbage collector and weak references, the compiler, serialisers,
# compression, threads, fork and exec, mmap, ctypes, tracemalloc), as many
# as fit in about 1.5 minutes a run with -j2 on two cores.
#
# Left out, with the reason:
#   test_sqlite3, test_capi   not shipped by Debian's 3.11 test package
#                             (sqlite3 is covered by sqlite.sh)
#   test_concurrent_futures, test_asyncio, test_multiprocessing_fork
#                             1-2 minutes each; mostly waiting on pools
#   test_signal, test_poll, test_selectors, test_faulthandler,
#   test_largefile, test_logging, test_ssl
#                             10-45 s each of sleeps, timeouts or disk I/O,
#                             little allocation
#   test_socket               minutes; test_socketserver and other
#                             network tests need the network resource
#   test_bigmem               needs -M and gigabytes
# Every module here passed on glibc as root in a container with no
# network (Debian 12, 3.11.2); resource-gated parts (-u) are skipped in
# both runs and compared as skips.
SELECTION="
test_dict test_dictviews test_ordered_dict test_defaultdict test_userdict
test_list test_userlist test_tuple test_set test_weakset test_deque
test_collections test_heapq test_bisect test_sort test_range test_slice
test_iter test_bytes test_unicode test_userstring test_string test_format
test_fstring test_memoryview test_buffer test_array test_struct
test_picklebuffer test_memoryio test_bufio
test_long test_int test_float test_decimal test_fractions test_math
test_statistics test_strtod
test_gc test_weakref test_finalization test_copy test_copyreg test_descr
test_class test_super test_property test_abc test_isinstance test_richcmp
test_generators test_genexps test_coroutines test_context test_contextlib
test_contextlib_async test_dataclasses test_enum test_typing
test_functools test_itertools test_call test_builtin test_exceptions
test_traceback test_frame test_code test_inspect test_sys
test_sys_settrace test_sys_setprofile test_audit test_atexit
test_ast test_compile test_grammar test_syntax test_dis test_opcache
test_peepholer test_tokenize
test_pickle test_pickletools test_marshal test_json test_re test_codecs
test_multibytecodec test_unicodedata test_csv test_pprint test_difflib
test_argparse test_configparser test_email test_xml_etree test_xml_etree_c
test_minidom test_pyexpat test_binascii test_base64 test_hashlib test_hmac
test_uuid test_ipaddress test_random test_datetime test_time test_locale
test_zlib test_bz2 test_lzma test_gzip test_zipfile test_zipimport
test_tarfile test_shelve test_dbm test_mailbox
test_threading test_thread test_threading_local test_queue test_subprocess
test_os test_posix test_resource test_mmap test_fcntl test_pty test_select
test_epoll test_io test_fileio test_file test_tempfile test_shutil
test_pathlib test_importlib test_embed test_tracemalloc test_ctypes
"

# regrtest makes its temporary directories under the working directory's
# tempfile root; keep both runs inside $tmp.
mkdir -p "$tmp/probe" "$tmp/work"
cd "$tmp/work" || exit 1
export TMPDIR="$tmp/work"

# regrtest <tag> [env assignments...]: one run of the selection.
# shellcheck disable=SC2086 # $SELECTION is split into names on purpose
regrtest() {
    tag=$1
    shift
    env "$@" "$PY" -m test -j2 --timeout 300 --junit-xml "$tmp/$tag.xml" \
        $SELECTION >"$tmp/$tag.log" 2>&1
    echo "$tag: regrtest exited $?;" \
         "$(grep -m1 '^Total duration' "$tmp/$tag.log")"
}

# The probe: a test run by a regrtest worker that fails unless the
# library is mapped into that worker.  It must fail on glibc (so it can
# fail at all) and pass preloaded.
base=$(basename "$LIB")
cat >"$tmp/probe/test_hs_preloaded.py" <<EOF
import unittest
class Preloaded(unittest.TestCase):
    def test_mapped(self):
        with open("/proc/self/maps") as f:
            self.assertIn("/$base", f.read())
EOF
probe() {
    env "$@" "$PY" -m test -j2 --testdir "$tmp/probe" test_hs_preloaded \
        >"$tmp/probe.log" 2>&1
}

hs_loaded
if probe; then
    hs_fail "the worker probe passes without the library preloaded"
fi
if ! probe LD_PRELOAD="$LIB"; then
    hs_fail "regrtest's workers do not run on $base:"
    tail -n 20 "$tmp/probe.log"
fi

regrtest plain
if [ -n "$HS_OPTS" ]; then
    regrtest heapsight LD_PRELOAD="$LIB" HEAPSIGHT="$HS_OPTS"
else
    regrtest heapsight LD_PRELOAD="$LIB"
fi
"$PY" "$here/suite_compare.py" "$tmp/plain.log" "$tmp/plain.xml" \
    "$tmp/heapsight.log" "$tmp/heapsight.xml" ||
    hs_fail "CPython's tests differ with $base preloaded${HS_OPTS:+ (HEAPSIGHT=$HS_OPTS)}"
hs_finish
