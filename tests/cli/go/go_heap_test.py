#!/usr/bin/env python3
"""go_heap_test.py — the CTest test cli_go_heap_profile: a Go runtime heap
profile reads in heapsight as in pprof.

Usage: go_heap_test.py --heapsight EXE

heapgen.go (beside this file; standard library only) writes a heap
profile of known contents with runtime/pprof.WriteHeapProfile; it runs
with `go run` under a temporary HOME, GOCACHE and GOPATH, GOPROXY=off and
CGO_ENABLED=0, so it works offline on a fresh machine with Debian's
golang-go.  Then, for each of the four sample types (alloc_objects,
alloc_space, inuse_objects, inuse_space):
  - `heapsight top PROFILE --sample-index T -n 0` (its "Total:" header
    line and its rows: flat flat% sum% cum cum% function) and
    `go tool pprof -symbolize=none -top -sample_index=T PROFILE` ("... of
    TOTAL total" and its rows) must report the same total;
  - their three heaviest functions by flat value must be the same, in the
    same order, with the same flat values, and be the ones heapgen.go
    made heaviest (EXPECTED_TOP).
Both tools round what they print (heapsight "29.5 MiB", pprof
"30183.48kB"), so a printed value stands for an interval, half a unit of
its last digit either way; "the same" means both intervals hold the exact
value, summed from the profile itself (tests/prof/pprof_decode.py).
Prints what it compared; exits 1 on a failure.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "prof"))
import pprof_decode  # noqa: E402

TYPES = ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")
# heapgen.go's table, heaviest first (main.newBlock is inlined).
EXPECTED_TOP = {
    "alloc_objects": ["main.allocSmall", "main.newBlock", "main.makeGarbage"],
    "alloc_space": ["main.makeGarbage", "main.allocLarge", "main.newBlock"],
    "inuse_objects": ["main.allocSmall", "main.newBlock", "main.allocLarge"],
    "inuse_space": ["main.allocLarge", "main.newBlock", "main.allocSmall"],
}
TOP = 3

# Unit suffixes: heapsight's (binary bytes, decimal counts) and pprof's.
UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
         "TiB": 1 << 40, "PiB": 1 << 50, "k": 10**3, "M": 10**6,
         "G": 10**9, "T": 10**12, "P": 10**15, "kB": 1 << 10,
         "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50}
VALUE = (r"-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?"
         r"(?: ?(?:[KMGTP]iB|[kMGTP]B|B|[kMGTP]))?")

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def interval(text):
    """The interval of exact values a printed value may stand for."""
    m = re.fullmatch(r"(-?[0-9]+(?:\.([0-9]*))?)(?:e([-+]?[0-9]+))? ?"
                     r"([A-Za-z]*)", text.strip())
    if not m or m.group(4) not in UNITS:
        raise ValueError("cannot read the value %r" % text)
    exp = int(m.group(3) or 0)
    value = float(m.group(1)) * 10 ** exp
    half = 0.5 * 10 ** (exp - len(m.group(2) or ""))
    unit = UNITS[m.group(4)]
    return (value - half) * unit, (value + half) * unit


def holds(text, exact):
    lo, hi = interval(text)
    return lo <= exact <= hi


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def go_env(tmp):
    env = dict(os.environ)
    for var in ("HOME", "GOCACHE", "GOPATH", "PPROF_TMPDIR"):
        d = os.path.join(tmp, "go", var.lower())
        os.makedirs(d, exist_ok=True)
        env[var] = d
    env.update(GOFLAGS="", GOPROXY="off", GOTOOLCHAIN="local",
               CGO_ENABLED="0", GO111MODULE="on",
               PPROF_BINARY_PATH=os.path.join(tmp, "go", "nobinaries"))
    return env


def parse_heapsight(out):
    """(total text, [(flat text, function)]) of `heapsight top`."""
    total, rows, in_rows = None, [], False
    for line in out.splitlines():
        if line.startswith("Total:"):
            total = line[len("Total:"):].strip()
        elif re.match(r"^\s*flat\s+flat%", line):
            in_rows = True
        elif in_rows:
            m = re.match(r"^\s*(%s)\s+\S+%%\s+\S+%%\s+(%s)\s+\S+%%\s+(.+)$"
                         % (VALUE, VALUE), line)
            if m:
                rows.append((m.group(1), m.group(3).strip()))
    return total, rows


def parse_pprof(out):
    """(total text, [(flat text, function)]) of `go tool pprof -top`."""
    m = re.search(r"^Showing nodes accounting for .*, .* of (\S+) total$",
                  out, re.M)
    total = m.group(1) if m else None
    rows, in_rows = [], False
    for line in out.splitlines():
        if re.match(r"^\s*flat\s+flat%", line):
            in_rows = True
        elif in_rows:
            m = re.match(r"^\s*(\S+)\s+\S+%\s+\S+%\s+(\S+)\s+\S+%\s+(.+)$",
                         line)
            if m:
                name = re.sub(r" \(inline\)$", "", m.group(3).strip())
                rows.append((m.group(1), name))
    return total, rows


def truth(path):
    """Exact totals and flat values by leaf function, per sample type."""
    prof = pprof_decode.decode(path)
    names = [t for t, _ in prof["sample_types"]]
    totals = {t: 0 for t in names}
    flat = {t: {} for t in names}
    for s in prof["samples"]:
        leaf = s["frames"][0] if s["frames"] else None
        fn = leaf[1] if leaf and leaf[0] == "sym" else None
        for t, v in zip(names, s["values"]):
            totals[t] += v
            if fn is not None:
                flat[t][fn] = flat[t].get(fn, 0) + v
    return totals, flat


def compare(t, hs_out, pp_out, totals, flat):
    hs_total, hs_rows = parse_heapsight(hs_out)
    pp_total, pp_rows = parse_pprof(pp_out)
    exact = totals.get(t)
    if hs_total is None or pp_total is None or exact is None:
        fail("%s: no total (heapsight %r, pprof %r, profile %r)"
             % (t, hs_total, pp_total, exact))
        return
    if not (holds(hs_total, exact) and holds(pp_total, exact)):
        fail("%s: totals differ: heapsight %s, pprof %s, exact %d"
             % (t, hs_total, pp_total, exact))
    hs_top, pp_top = hs_rows[:TOP], pp_rows[:TOP]
    if [n for _, n in hs_top] != [n for _, n in pp_top]:
        fail("%s: top functions differ: heapsight %s, pprof %s"
             % (t, hs_top, pp_top))
    if [n for _, n in hs_top] != EXPECTED_TOP[t]:
        fail("%s: top functions %s, want heapgen.go's %s"
             % (t, [n for _, n in hs_top], EXPECTED_TOP[t]))
    for (hv, hn), (pv, pn) in zip(hs_top, pp_top):
        want = flat[t].get(hn)
        if want is None or not holds(hv, want) or not holds(pv, want):
            fail("%s: %s: flat differs: heapsight %s, pprof %s (%s), "
                 "exact %r" % (t, hn, hv, pv, pn, want))
    print("%-14s total heapsight %-10s pprof %-12s exact %-9d top %s"
          % (t, hs_total, pp_total, exact,
             ", ".join("%s %s" % (n, v) for v, n in hs_top)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--heapsight", required=True)
    args = ap.parse_args()
    if shutil.which("go") is None:
        fail("no `go` command (Debian package golang-go)")
        return 1
    tmp = tempfile.mkdtemp(prefix="hs-go-")
    try:
        env = go_env(tmp)
        prof = os.path.join(tmp, "heap.pb.gz")
        rc, _, err = run(["go", "run", os.path.join(HERE, "heapgen.go"),
                          prof], env=env)
        if rc != 0:
            fail("go run heapgen.go: exit %d: %s" % (rc, err.strip()))
            return 1
        totals, flat = truth(prof)
        for t in TYPES:
            rc, hs_out, err = run([args.heapsight, "top", prof,
                                   "--sample-index", t, "-n", "0"])
            if rc != 0:
                fail("heapsight top --sample-index %s: exit %d: %s"
                     % (t, rc, err.strip()))
                continue
            rc, pp_out, err = run(["go", "tool", "pprof", "-symbolize=none",
                                   "-top", "-sample_index=" + t, prof],
                                  env=env)
            if rc != 0:
                fail("go tool pprof -sample_index=%s: exit %d: %s"
                     % (t, rc, err.strip()))
                continue
            compare(t, hs_out, pp_out, totals, flat)
    except Exception as e:  # a crash of the test itself is a failure too
        fail("%s: %s" % (type(e).__name__, e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("cli_go_heap_profile: %s" % ("FAILED (%d)" % len(FAILURES)
                                       if FAILURES else "ok"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
