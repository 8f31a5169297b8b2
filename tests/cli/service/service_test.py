#!/usr/bin/env python3
"""service_test.py — leak hunting on a service-shaped program, end to end:
`heapsight run --every ... --leaks` on service.c (churn, a bounded cache,
a reachable growing list, an unreachable leak and a 200 MiB spike, all
through one xmalloc wrapper; see its header), with the real library.

Usage: service_test.py CASE --heapsight EXE --lib LIB --service EXE

  leaks    run --leaks prints the leak report itself, symbolized (each
           leaking site's functions with service.c:LINE), once, instead
           of the library's raw one; the exit status stays the program's
  peak     the peak profile holds the spike: its total within 10% of the
           true peak at the default sampling rate, the spike's site in it,
           and the final profile without it
  keep     --every with --keep 3: at most 3 periodic dumps are left, the
           first of them kept, beside the final and the peak
  python   the same shapes in Python (service.py): the report under
           run --leaks names the Python functions, the peak profile
           holds the spike

Each case runs in its own temporary directory; failures print FAIL lines
and exit 1.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ARGS = None
TMP = None
FAILURES = []
HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def hs_env():
    env = dict(os.environ)
    for k in ("HEAPSIGHT", "HEAPSIGHT_LIB", "LD_PRELOAD"):
        env.pop(k, None)
    return env


def run_service(out, *opts, prog=None):
    """heapsight run OPTS -- PROG; (exit status, stdout, stderr)."""
    prog = prog or [ARGS.service, "3"]
    cmd = [ARGS.heapsight, "run", "--lib", ARGS.lib, "--out", out] + \
        list(opts) + ["--"] + prog
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=hs_env(), timeout=120)
    return p.returncode, p.stdout, p.stderr


def hs(*args):
    p = subprocess.run([ARGS.heapsight] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       env=hs_env(), timeout=120)
    return p.returncode, p.stdout, p.stderr


def total_mib(profile):
    """The Total line of heapsight top, in MiB."""
    rc, o, e = hs("top", "-n", "5", profile)
    m = re.search(r"^Total: ([\d.]+) (B|KiB|MiB|GiB)$", o, re.M)
    if not check(rc == 0 and m, "top %s: %d %r %r" % (profile, rc, o, e)):
        return -1, o
    scale = {"B": 2.0**-20, "KiB": 2.0**-10, "MiB": 1, "GiB": 1024}
    return float(m.group(1)) * scale[m.group(2)], o


def case_leaks():
    out = os.path.join(TMP, "leaks")
    rc, o, e = run_service(out, "--leaks")
    check(rc == 0 and o.endswith("done\n"), "service: %d %r" % (rc, o))
    check("leak report:" not in e, "the library's raw report: %r" % e)
    heads = re.findall(r"^heapsight: leaks of process (\d+) \((.*)\):$", e,
                       re.M)
    check(len(heads) == 1 and heads[0][1].endswith("service 3"),
          "one report, for the service: %r" % heads)
    for fn in ("cache_put", "history_append", "session_open"):
        check(re.search(r"^\s+%s\s+\S*service\.c:\d+$" % fn, e, re.M),
              "report names %s with service.c:LINE: %r" % (fn, e))
    check("handle_request" not in e and "spike_alloc" not in e,
          "freed memory reported as leaked: %r" % e)
    print("leaks: one symbolized report, naming cache_put, history_append, "
          "session_open")


def case_peak():
    out = os.path.join(TMP, "peak")
    rc, o, e = run_service(out, "--every", "500ms")
    peaks = glob.glob(os.path.join(out, "heapsight.*.peak.pb.gz"))
    finals = glob.glob(os.path.join(out, "heapsight.*.final.pb.gz"))
    check(rc == 0 and len(peaks) == 1 and len(finals) == 1,
          "run: %d, peak %r, final %r, %r" % (rc, peaks, finals, e))
    if not peaks:
        return
    got, top = total_mib(peaks[0])
    # The true peak: 200 MiB of spike on the cache (4 MiB, full by then),
    # a third of the history (100 ticks of 16 KiB) and of the sessions
    # (100 of 4 KiB): 206 MiB.
    true = 200 + 4 + 100 * 16 / 1024.0 + 100 * 4 / 1024.0
    check(abs(got - true) <= 0.10 * true,
          "peak total %.1f MiB, true %.1f MiB (10%%)" % (got, true))
    rc, o, e = hs("top", "--by", "stack", "-n", "0", peaks[0])
    check("spike_alloc" in o, "the spike's site in the peak: %r" % o)
    rc, o, e = hs("top", "--by", "stack", "-n", "0", finals[0])
    check("spike_alloc" not in o or
          re.search(r"^\s*0 B .*spike_alloc", o, re.M) is not None,
          "the spike is live in the final profile: %r" % o)
    print("peak: %.1f MiB (true %.1f MiB) in %s" % (got, true,
                                                   os.path.basename(peaks[0])))


def case_keep():
    out = os.path.join(TMP, "keep")
    rc, o, e = run_service(out, "--every", "200ms", "--keep", "3")
    timers = sorted(glob.glob(os.path.join(out, "heapsight.*.timer.pb.gz")),
                    key=lambda p: int(os.path.basename(p).split(".")[2]))
    seqs = [int(os.path.basename(p).split(".")[2]) for p in timers]
    # 3 s at 200 ms: about 15 periodic dumps, of which the first and the
    # newest stay; the final dump counts among the kept ones.
    check(rc == 0 and 1 <= len(seqs) <= 3 and seqs[0] == 0,
          "kept timer dumps %r" % seqs)
    check(len(glob.glob(os.path.join(out, "*.peak.pb.gz"))) == 1 and
          len(glob.glob(os.path.join(out, "*.final.pb.gz"))) == 1,
          "peak and final: %r" % os.listdir(out))
    print("keep: timer dumps %r left" % seqs)


def case_python():
    out = os.path.join(TMP, "python")
    rc, o, e = run_service(out, "--leaks", "--every", "500ms",
                           prog=["/usr/bin/python3",
                                 os.path.join(HERE, "service.py"), "3"])
    check(rc == 0 and o.endswith("done\n"), "service.py: %d %r %r"
          % (rc, o, e))
    heads = re.findall(r"^heapsight: leaks of process \d+ \((.*)\):$", e,
                       re.M)
    check(len(heads) == 1 and heads[0].endswith("service.py 3"),
          "one report for service.py: %r" % heads)
    check(re.search(r"^\s+history_append\s+\S*service\.py:\d+$", e, re.M),
          "the report names history_append (service.py): %r" % e)
    peaks = glob.glob(os.path.join(out, "heapsight.*.peak.pb.gz"))
    if check(len(peaks) == 1, "peak files %r" % peaks):
        got, _ = total_mib(peaks[0])
        rc, o, e = hs("top", "-n", "0", peaks[0])
        check(got >= 200 * 0.9 and re.search(r"\bspike$", o, re.M),
              "python peak %.1f MiB with the spike: %r" % (got, o))
        print("python: peak %.1f MiB, report names history_append" % got)


CASES = {"leaks": case_leaks, "peak": case_peak, "keep": case_keep,
         "python": case_python}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    for opt in ("heapsight", "lib", "service"):
        ap.add_argument("--" + opt, required=True)
    ARGS = ap.parse_args()
    TMP = tempfile.mkdtemp(prefix="hs-service-")
    try:
        CASES[ARGS.case]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%s: %s" % (ARGS.case, "FAILED (%d)" % len(FAILURES)
                      if FAILURES else "ok"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
