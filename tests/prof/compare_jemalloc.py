#!/usr/bin/env python3
"""compare_jemalloc.py — heapsight's and jemalloc's heap profilers measured
on the same program (sites_native.c) against its known truth.

    compare_jemalloc.py SITES_NATIVE LIBHEAPSIGHT HEAPSIGHT_CLI
                        [--runs N] [--scale S] [--lg-sample L] [--jemalloc SO]

Not a CTest test: a measurement for docs/PROFILING.md.  For each of N runs
(seeds 1..N) it runs sites_native

  - under heapsight: LD_PRELOAD=LIBHEAPSIGHT
        HEAPSIGHT=prof:true,prof_sample:<2^L>,prof_final:true,prof_prefix:D/hs
    symbolizes the final dump (heapsight symbolize) and sums the samples by
    their innermost function;
  - under jemalloc: LD_PRELOAD=libjemalloc.so.2
        MALLOC_CONF=prof:true,prof_accum:true,lg_prof_sample:<L>,
                    prof_final:true,prof_prefix:D/jeprof
    (also with prof_unbias:false, jemalloc's behaviour before 5.3) and
    reads the heap_v2 dump the way jeprof does: each stack's counts are
    scaled by 1 / (1 - exp(-(bytes/objects) / R)).  This script's reading
    matches `jeprof --text` (checked on the first run when jeprof, from
    Debian's libjemalloc-dev, is installed).

It prints, per profiler and site, the mean over the runs of estimate /
truth for the four values, with truth in usable bytes (what both
allocators' malloc_usable_size say) and, for bytes, also in requested
bytes.  `go tool pprof` cannot read jemalloc's heap_v2 dumps (its legacy
parser knows gperftools' "heap profile:" header only).
"""
import argparse
import bisect
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pprof_decode  # noqa: E402

SITES = ("site_churn", "site_tiny", "site_block64k", "site_huge")
VALUES = ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")


def run_program(prog, scale, seed, env):
    out = subprocess.run([prog, str(scale), str(seed)], env=env, check=True,
                         capture_output=True, text=True).stdout
    truth = {}
    for line in out.splitlines():
        p = line.split()
        if p[:1] == ["truth"]:
            truth[p[1]] = [int(x) for x in p[2:8]]
    return truth


def clean_env(**kw):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HEAPSIGHT", "MALLOC_CONF", "LD_PRELOAD")}
    env.update(kw)
    return env


def heapsight_run(a, d, seed):
    opts = "prof:true,prof_sample:%d,prof_final:true,prof_prefix:%s/hs" \
        % (1 << a.lg_sample, d)
    env = clean_env(LD_PRELOAD=a.lib, HEAPSIGHT=opts)
    truth = run_program(a.program, a.scale, seed, env)
    dump = [f for f in os.listdir(d) if f.startswith("hs.")][0]
    sym = os.path.join(d, "sym.pb.gz")
    subprocess.run([a.cli, "symbolize", os.path.join(d, dump), "-o", sym],
                   check=True, capture_output=True)
    est = {s: [0, 0, 0, 0] for s in SITES}
    for s in pprof_decode.decode(sym)["samples"]:
        f = s["frames"][0] if s["frames"] else None
        if f and f[0] == "sym" and f[1] in est:
            for i in range(4):
                est[f[1]][i] += s["values"][i]
    return truth, est


class Symbols:
    """Function ranges of the program, from nm -S."""

    def __init__(self, path):
        out = subprocess.run(["nm", "-S", "--defined-only", path], check=True,
                             capture_output=True, text=True).stdout
        self.ranges = []
        for line in out.splitlines():
            p = line.split()
            if len(p) == 4 and p[2] in "tT" and p[3] in SITES:
                self.ranges.append((int(p[0], 16), int(p[1], 16), p[3]))
        self.ranges.sort()
        self.starts = [r[0] for r in self.ranges]

    def name(self, vaddr):
        i = bisect.bisect_right(self.starts, vaddr) - 1
        if i >= 0 and vaddr < self.ranges[i][0] + self.ranges[i][1]:
            return self.ranges[i][2]
        return None


def parse_heap_v2(path, program, syms):
    """{site: [alloc_objects, alloc_space, inuse_objects, inuse_space]} as
    jeprof scales them, and the sample period."""
    text = open(path).read()
    rate = int(re.match(r"heap_v2/(\d+)", text).group(1))
    base = None
    maps = re.compile(r"^([0-9a-f]+)-[0-9a-f]+ \S+ ([0-9a-f]+) \S+ \d+"
                      r"\s+(\S+)$", re.M)
    for m in maps.finditer(text):
        if os.path.realpath(m.group(3)) == os.path.realpath(program) and \
                int(m.group(2), 16) == 0:
            base = int(m.group(1), 16)
            break
    est = {s: [0.0, 0.0, 0.0, 0.0] for s in SITES}
    stack = None
    for line in text.splitlines():
        if line.startswith("@ "):
            stack = [int(x, 16) for x in line.split()[1:]]
            continue
        m = re.match(r"^\s*t\*: (\d+): (\d+) \[(\d+): (\d+)\]", line)
        if not m or stack is None:
            continue
        site = None
        for addr in stack:
            site = syms.name(addr - 1 - base)
            if site:
                break
        cur_o, cur_b, acc_o, acc_b = (int(x) for x in m.groups())
        if site:
            for i, (o, b) in enumerate(((acc_o, acc_b), (cur_o, cur_b))):
                if o and b:
                    scale = 1 / (1 - math.exp(-(b / o) / rate))
                    est[site][2 * i] += o * scale
                    est[site][2 * i + 1] += b * scale
        stack = None
    return est, rate


def jemalloc_run(a, d, seed, unbias, syms):
    conf = ("prof:true,prof_accum:true,lg_prof_sample:%d,prof_final:true,"
            "prof_prefix:%s/jeprof" % (a.lg_sample, d))
    if not unbias:
        conf += ",prof_unbias:false"
    env = clean_env(LD_PRELOAD=a.jemalloc, MALLOC_CONF=conf)
    truth = run_program(a.program, a.scale, seed, env)
    heap = [f for f in os.listdir(d) if f.endswith(".heap")][0]
    path = os.path.join(d, heap)
    est, rate = parse_heap_v2(path, a.program, syms)
    if seed == 1 and unbias and shutil.which("jeprof"):
        jeprof_check(a.program, path, est)
    return truth, est


def jeprof_check(program, path, est):
    """Our reading of the dump against jeprof's own (inuse objects)."""
    out = subprocess.run(["jeprof", "--text", "--inuse_objects", program,
                          path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) == 6 and p[5] in SITES:
            mine = est[p[5]][2]
            if abs(int(p[0]) - mine) > max(2, 0.001 * mine):
                print("warning: jeprof says %s inuse_objects %s, we read %.0f"
                      % (p[5], p[0], mine))
    print("(checked against jeprof --text --inuse_objects)")


def report(name, runs):
    print("\n%s: mean estimate/truth over %d runs (usable bytes; "
          "[requested bytes])" % (name, len(runs)))
    for site in SITES:
        cells = []
        for i, v in enumerate(VALUES):
            rs, rq = [], []
            for truth, est in runs:
                t = truth[site]
                if t[i]:
                    rs.append(est[site][i] / t[i])
                req = t[4] if i == 1 else t[5] if i == 3 else 0
                if req:
                    rq.append(est[site][i] / req)
            if rs:
                cell = "%s %.3f" % (v, statistics.mean(rs))
                if len(rs) > 1:
                    se = statistics.stdev(rs) / math.sqrt(len(rs))
                    cell += "±%.3f" % se
                if rq and i in (1, 3):
                    cell += " [%.3f]" % statistics.mean(rq)
                cells.append(cell)
        print("  %-14s %s" % (site, "  ".join(cells)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("program")
    ap.add_argument("lib")
    ap.add_argument("cli")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--lg-sample", type=int, default=16)
    ap.add_argument("--jemalloc",
                    default="/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    a = ap.parse_args()
    a.program = os.path.realpath(a.program)
    syms = Symbols(a.program)
    hs, je, je_old = [], [], []
    for seed in range(1, a.runs + 1):
        for runs, fn in ((hs, lambda d: heapsight_run(a, d, seed)),
                         (je, lambda d: jemalloc_run(a, d, seed, True, syms)),
                         (je_old,
                          lambda d: jemalloc_run(a, d, seed, False, syms))):
            d = tempfile.mkdtemp(prefix="cmp-")
            try:
                runs.append(fn(d))
            finally:
                shutil.rmtree(d)
    lg = a.lg_sample
    report("heapsight (prof_sample:%d)" % (1 << lg), hs)
    report("jemalloc 5.3 (lg_prof_sample:%d, prof_unbias:true, the default),"
           " read as jeprof does" % lg, je)
    report("jemalloc 5.3 (lg_prof_sample:%d, prof_unbias:false), read as "
           "jeprof does" % lg, je_old)


if __name__ == "__main__":
    main()
