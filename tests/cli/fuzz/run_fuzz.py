#!/usr/bin/env python3
"""run_fuzz.py — the CTest test cli_fuzz_reader: builds the seed corpus
(make_corpus.py) and runs the profile reader's fuzz target over it for a
fixed time.

Usage: run_fuzz.py --fuzzer EXE --artifacts DIR [--seconds N]
                   [--lib LIBHEAPSIGHT.so --heapsight EXE]

libFuzzer runs every seed first, then mutates for --seconds (default 20).
Any crash, sanitizer report (ASan, UBSan, LeakSanitizer), timeout (-timeout
5 s per input) or out-of-memory stops it with a non-zero status, and the
test fails, printing the end of libFuzzer's log.  The input that did it
is kept in --artifacts (in the build tree: the temporary corpus is
removed); reproduce with `<fuzzer> <artifact>`.

Memory limits: the reader is designed to hold at most PROFILE_MAX_BYTES
(1 GiB) at each stage (decompressed bytes, decoded message tree, expanded
stacks), so one allocation may be 1 GiB + 1 byte (-malloc_limit_mb 1025:
anything larger means a bound is broken) and the process, with ASan's
redzones and quarantine on top, may reach 2 GiB (-rss_limit_mb 2048).
What the fuzzer finds new stays in a scratch directory; the seeds are
never modified.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fuzzer", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--lib")
    ap.add_argument("--heapsight")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hs-fuzz-")
    try:
        seeds = os.path.join(tmp, "seeds")
        found = os.path.join(tmp, "found")
        os.mkdir(found)
        cmd = [sys.executable, os.path.join(HERE, "make_corpus.py"), seeds]
        if args.lib and args.heapsight:
            cmd += ["--lib", args.lib, "--heapsight", args.heapsight]
        subprocess.run(cmd, check=True, timeout=120)
        print("seeds: %d files" % len(os.listdir(seeds)))
        os.makedirs(args.artifacts, exist_ok=True)
        env = dict(os.environ,
                   ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        fuzz = [args.fuzzer, "-max_total_time=%d" % args.seconds,
                "-timeout=5", "-rss_limit_mb=2048", "-malloc_limit_mb=1025",
                "-print_final_stats=1",
                "-artifact_prefix=" + args.artifacts.rstrip("/") + "/",
                found, seeds]
        print(" ".join(fuzz))
        p = subprocess.run(fuzz, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env,
                           timeout=args.seconds + 90)
        log = p.stdout.decode(errors="replace").splitlines()
        done = [ln for ln in log if ln.startswith("Done ")]
        stats = [ln for ln in log if ln.startswith("stat::")]
        if p.returncode != 0 or not done:
            print("\n".join(log[-60:]))
            print("FAIL: the fuzzer stopped with status %d; the input is "
                  "in %s" % (p.returncode, args.artifacts))
            return 1
        print("\n".join(done + stats))
        print("cli_fuzz_reader: ok")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
