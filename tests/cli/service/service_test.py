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
           and the final profile without it; top --by stack names the
           final profile's rows from the function calling xmalloc
           (cache_put ..., history_append ...), not xmalloc
  keep     --every with --keep 3: at most 3 periodic dumps are left, the
           first of them kept, beside the final and the peak
  reach    the reachability scan at exit (prof_leak): the sessions whose
           pointer was dropped are unreachable (definitely lost) and
           listed first, the cache and the history still reachable; the
           final profile's label reachable splits them for go tool pprof
           -tagfocus; prof_leak_error fails on unreachable memory only
  python   the same shapes in Python (service.py): the report under
           run --leaks names the Python functions, the peak profile
           holds the spike, top --by stack of the final profile names a
           row from history_append

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
    # 64 KiB: the 1.2 MiB of sessions are sampled surely (at the default
    # 512 KiB, not at all one run in ten).
    rc, o, e = run_service(out, "--leaks", "--sample", "64k")
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
    # The reachability scan's classes: the dropped sessions first.
    sites = re.findall(r"^#\d+ .*$", e, re.M)
    check(sites and "unreachable (definitely lost)" in sites[0] and
          "session_open" in sites[0] and
          any("still reachable" in x and "cache_put" in x for x in sites) and
          re.search(r"^Unreachable \(definitely lost\): .*; still "
                    r"reachable: ", e, re.M),
          "reachability classes in the report: %r" % sites)
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
    check_row_names(o)
    print("peak: %.1f MiB (true %.1f MiB) in %s" % (got, true,
                                                   os.path.basename(peaks[0])))


def stack_names(top):
    """The row names of `heapsight top --by stack` output."""
    return re.findall(r"^\s*\S+ \S+\s+\S+%\s+\S+%  (.*)$", top, re.M)


def check_row_names(top):
    """Rows start at the function that called xmalloc (cli/naming.h)."""
    names = stack_names(top)
    for fn in ("cache_put", "history_append"):
        check([n for n in names if n.startswith(fn + " \u2190 main")],
              "top --by stack: no row %s \u2190 main ...: %r" % (fn, names))
    check(not [n for n in names if n.startswith("xmalloc")],
          "top --by stack: a row named from xmalloc: %r" % names)


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
        print("python: peak %.1f MiB" % got)
    # The final profile, not the peak: at the peak (a third of the run)
    # the history held 100 blocks of 16 KiB, which the default sampling
    # missed entirely about once in 25 runs; at the end it holds 300
    # (about 9 samples expected: all of them missed about once in 1e4).
    finals = glob.glob(os.path.join(out, "heapsight.*.final.pb.gz"))
    if check(len(finals) == 1, "final files %r" % finals):
        rc, o, e = hs("top", "--by", "stack", "-n", "0", finals[0])
        check([n for n in stack_names(o)
               if n.startswith("history_append \u2190 main")],
              "python: no row history_append \u2190 main ...: %r" % o)
        print("python: final profile names history_append")


def go_env():
    env = hs_env()
    for var in ("HOME", "GOCACHE", "GOPATH", "PPROF_TMPDIR"):
        d = os.path.join(TMP, "go", var.lower())
        os.makedirs(d, exist_ok=True)
        env[var] = d
    env["PPROF_BINARY_PATH"] = os.path.join(TMP, "go", "nobinaries")
    env["GOFLAGS"] = ""
    env["GOTOOLCHAIN"] = "local"
    return env


def pprof_top(profile, *opts):
    p = subprocess.run(["go", "tool", "pprof", "-symbolize=none", "-top"] +
                       list(opts) + [profile], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       env=go_env(), timeout=120)
    check(p.returncode == 0, "go tool pprof %r: %s" % (opts, p.stderr))
    return p.stdout


def cum_of(top, fn):
    """The cum value of fn in go tool pprof -top output, in bytes."""
    units = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
    for line in top.splitlines():
        f = line.split()
        if len(f) == 6 and f[5] == fn:
            m = re.match(r"^([\d.]+)(B|kB|MB|GB)$", f[3])
            return float(m.group(1)) * units[m.group(2)] if m else 0.0
    return 0.0


def preloaded(out, *args):
    """The service run directly, preloaded, with prof_leak and
    prof_leak_error, sampling every 64 KiB; (exit status, stderr, final
    dump)."""
    os.makedirs(out)
    env = hs_env()
    env["LD_PRELOAD"] = ARGS.lib
    # 64 KiB: the 800 KiB of sessions get a dozen samples (at the default
    # 512 KiB, none one run in five).
    env["HEAPSIGHT"] = ("prof:true,prof_sample:64k,prof_leak:true,"
                        "prof_leak_error:true,prof_prefix:%s/h" % out)
    p = subprocess.run([ARGS.service, "2"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, timeout=120)
    finals = glob.glob(os.path.join(out, "h.*.final.pb.gz"))
    check(len(finals) == 1, "final dumps %r" % finals)
    return p.returncode, p.stderr, finals[0] if finals else None


def case_reach():
    rc, e, final = preloaded(os.path.join(TMP, "lost"))
    check(rc == 1, "unreachable memory with prof_leak_error: exit %d" % rc)
    sites = re.findall(r"^  #\d+: \d+ bytes in \d+ objects of (\d+) bytes"
                       r"( unreachable \(definitely lost\)| still reachable)$",
                       e, re.M)
    check(sites[:1] == [("4096", " unreachable (definitely lost)")] and
          ("32768", " still reachable") in sites and
          ("16384", " still reachable") in sites,
          "classes in the report: %r\n%s" % (sites, e))
    check(re.search(r"^heapsight: \d+ bytes in \d+ objects unreachable "
                    r"\(definitely lost\), \d+ bytes in \d+ objects still "
                    r"reachable$", e, re.M), "totals line: %r" % e)
    if final is None:
        return
    rc2, o, err = hs("symbolize", final, "-o", final)
    lost = pprof_top(final, "-tagfocus", "reachable=no")
    kept = pprof_top(final, "-tagfocus", "reachable=yes")
    check("session_open" in lost and "cache_put" not in lost and
          "history_append" not in lost, "reachable=no: %r" % lost)
    # A conservative scan may find a stale copy of the newest session's
    # pointer (a dead stack slot): a sampled session or two may read
    # reachable, never the bulk of them.
    check("cache_put" in kept and "history_append" in kept and
          cum_of(kept, "session_open") * 4 <= cum_of(lost, "session_open"),
          "reachable=yes: %r" % kept)
    p = subprocess.run(["go", "tool", "pprof", "-comments", final],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=go_env(), timeout=60)
    check(re.search(r"^reachability: scanned \d+ bytes of roots and \d+ of "
                    r"heap \(\d+ blocks\) in \d+ ms; label reachable$",
                    p.stdout, re.M), "comment: %r" % p.stdout)
    # Everything still referenced: live memory, nothing lost, exit 0.
    rc, e, final = preloaded(os.path.join(TMP, "kept"), "keep")
    check(rc == 0 and " unreachable (definitely lost)\n" not in e and
          re.search(r"^heapsight: 0 bytes in 0 objects unreachable", e, re.M),
          "all reachable: exit %d %r" % (rc, e))
    print("reach: sessions unreachable, cache and history reachable; "
          "exit 1 only for unreachable memory")


CASES = {"leaks": case_leaks, "peak": case_peak, "keep": case_keep,
         "reach": case_reach, "python": case_python}


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
