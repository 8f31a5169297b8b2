#!/usr/bin/env python3
"""change_test.py — tests of `heapsight diff`, `heapsight trend` and
`heapsight run --every` (the commands that compare profiles).

Usage: change_test.py CASE --heapsight EXE [--lib SO] [--update]

Each CASE is one CTest test (cli_change_<CASE>); see CASES at the bottom.
The profiles are generated here with ../profgen.py, from a known truth and
with the profiler's sampling simulated: a site of n objects of s bytes in
a profile of mean interval R keeps k ~ Binomial(n, p) samples,
p = 1 - exp(-s/R), and reports k/p objects and k*s/p bytes, as heapsight's
sampler does (docs/PROFILING.md).  Random draws use fixed seeds, so the
profiles, and the outputs, are the same on every run.

Golden files: golden/<name>.txt holds the expected standard output of a
command over the generated profiles, with COLUMNS=100.  After a deliberate
change of the output, regenerate them with

    python3 tests/cli/change/change_test.py CASE \\
        --heapsight build/bin/heapsight --update

for each golden case (diff_golden, diff_exact, trend_golden,
trend_shapes), read the
diff of golden/ by eye, and commit it with the change.

Every case works in its own temporary directory, removed at the end, and
prints what it checked; a failure prints FAIL lines and exits 1.
"""

import argparse
import glob
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from profgen import Profile  # noqa: E402

ARGS = None
TMP = None
FAILURES = []
R = 524288  # the library's default mean interval
MIB = 1 << 20
Z95 = 1.959963984540054


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def hs(*args, cwd=None, env=None):
    """Runs heapsight; returns (exit status, stdout, stderr)."""
    env = dict(os.environ, **dict({"COLUMNS": "100"}, **(env or {})))
    p = subprocess.run([ARGS.heapsight] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       env=env, cwd=cwd or TMP, timeout=100)
    return p.returncode, p.stdout, p.stderr


def one_error_line(err, what):
    """stderr must be exactly one line starting with 'heapsight: '."""
    lines = err.splitlines()
    check(len(lines) == 1 and lines[0].startswith("heapsight: "),
          "%s: want one 'heapsight: ' line on stderr, got %r" % (what, err))
    return lines[0] if lines else ""


def golden(name, out):
    """Compares out with golden/<name>.txt (rewrites it with --update)."""
    path = os.path.join(HERE, "golden", name + ".txt")
    if ARGS.update:
        with open(path, "w") as f:
            f.write(out)
        print("golden %s: updated" % name)
        return
    want = open(path).read() if os.path.exists(path) else None
    if check(out == want, "golden %s differs:\n--- want\n%s--- got\n%s"
             % (name, want, out)):
        print("golden %s: same" % name)


# ---- simulated sampling -----------------------------------------------------

def binomial(rng, n, p):
    """k ~ Binomial(n, p), by geometric gaps between successes (O(k))."""
    if p >= 1:
        return n
    k, i, log_q = 0, -1, math.log1p(-p)
    while True:
        i += int(math.log(1.0 - rng.random()) / log_q) + 1
        if i >= n:
            return k
        k += 1


def sampled(rng, n, size, period):
    """The four values (alloc and inuse objects, space) the profiler
    reports for n live objects of size bytes."""
    if period <= 1:
        objs, space = n, n * size
    else:
        p = -math.expm1(-size / period)
        k = binomial(rng, n, p)
        objs, space = round(k / p), round(k * size / p)
    return [objs, space, objs, space]


def add_site(prof, rng, stack, n, size, label=True):
    """Adds one site; nothing when no object was sampled."""
    vals = sampled(rng, n, size, prof.period)
    if vals[3] == 0:
        return
    prof.sample(stack, vals,
                labels={"thread": "main", "allocator": "malloc"},
                num_labels={"bytes": (size, "bytes")} if label else None)


# ---- diff fixtures -----------------------------------------------------------

# (stack, object size, objects in base, objects in new, "bytes" label)
DIFF_REAL = [
    (["cache_fill", "load_table", "main"], 4096, 2048, 6144, True),
    (["big_buffer", "io_setup", "main"], 1 << 20, 40, 16, True),
    (["session_new", "accept_loop", "main"], 256, 80000, 200000, True),
]
DIFF_NOISE = [
    (["parse_token", "parse_expr", "parse", "main"], 48, 300000, 300000,
     True),
    (["log_line", "logger_write", "main"], 128, 100000, 100000, True),
    (["hash_node", "hash_insert", "load_table", "main"], 64, 250000, 250000,
     True),
    (["str_dup", "config_read", "main"], 32, 400000, 400000, True),
    # A Go-style sample: no "bytes" label, the size is space/objects.
    (["go_buf", "main"], 512, 20000, 20000, False),
    # The same leaf as a real change: --by function adds them up.
    (["session_new", "reconnect", "main"], 256, 40000, 40000, True),
]


def diff_profiles(seed, period=R, sites=None):
    """base.pb.gz and new.pb.gz in TMP from DIFF_REAL + DIFF_NOISE."""
    rng = random.Random(seed)
    base = Profile(period=period, time_nanos=1700000000 * 10**9)
    new = Profile(period=period, time_nanos=1700003600 * 10**9)
    for stack, size, nb, nn, label in sites or DIFF_REAL + DIFF_NOISE:
        add_site(base, rng, stack, nb, size, label)
        add_site(new, rng, stack, nn, size, label)
    return (base.write(os.path.join(TMP, "base.pb.gz")),
            new.write(os.path.join(TMP, "new.pb.gz")))


def site_name(stack):
    return " \u2190 ".join(stack)


def same_site(shown, stack):
    """Whether a report's site column (maybe cut to the terminal, ending
    in "…") shows stack."""
    full = site_name(stack)
    return shown == full or (shown.endswith("\u2026")
                             and full.startswith(shown[:-1]))


UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def to_number(text):
    """"+16.1 MiB" -> bytes; "-9" -> -9 (a report's human units)."""
    w = text.split()
    return float(w[0]) * (UNITS.get(w[1], 1) if len(w) > 1 else 1)


def parse_diff(out):
    """{site: (change column, noise?)} from diff's rows (the total's
    row too); columns as diff.c prints them."""
    rows = {}
    for line in out.splitlines():
        if (len(line) < 55 or line[34:45].strip()[:1] != "\u00b1"
                or line[:11].strip() == "change"):
            continue
        rows[line[54:]] = (line[:11].strip(), line[47:52] == "noise")
    return rows


def case_diff_golden():
    diff_profiles(seed=9)
    rc, out, err = hs("diff", "base.pb.gz", "new.pb.gz")
    check(rc == 0 and err == "", "diff: exit %d %r" % (rc, err))
    golden("diff_stack", out)
    rows = parse_diff(out)
    for stack, *_ in DIFF_REAL:
        check(rows.get(site_name(stack), ("", True))[1] is False,
              "real change %s not flagged real: %r"
              % (stack[0], rows.get(site_name(stack))))
    for stack, *_ in DIFF_NOISE:
        got = rows.get(site_name(stack))
        check(got is not None and got[1],
              "noise-only site %s not flagged noise: %r" % (stack[0], got))
    order = [s for s in rows if not s.startswith("total")]
    check(set(order[:3]) == set(site_name(s) for s, *_ in DIFF_REAL),
          "real changes first: %r" % order[:3])
    for group in (order[:3], order[3:]):
        sizes = [abs(to_number(rows[s][0])) for s in group]
        check(sizes == sorted(sizes, reverse=True),
              "by |change| descending: %r" % group)
    print("%d real, %d noise rows as expected" % (len(DIFF_REAL),
                                                 len(DIFF_NOISE)))
    rc, out, err = hs("diff", "--by", "function", "-n", "4", "base.pb.gz",
                      "new.pb.gz")
    check(rc == 0 and err == "", "diff --by function: %d %r" % (rc, err))
    golden("diff_function", out)
    rc, out, err = hs("diff", "--focus", "^load_table$", "--ignore",
                      "hash_", "base.pb.gz", "new.pb.gz")
    check(rc == 0 and err == "", "diff --focus: %d %r" % (rc, err))
    golden("diff_focus", out)
    rows = parse_diff(out)
    check(list(rows) == [site_name(DIFF_REAL[0][0]), "total (1 site)"],
          "--focus load_table --ignore hash_: %r" % list(rows))


def case_diff_exact():
    """Exact profiles (period 1): no interval, every change is real; a
    sample type asked for by name; a site only in NEW, one only in BASE."""
    sites = DIFF_REAL + DIFF_NOISE[:2] + [
        (["only_new", "main"], 100, 0, 7, True),
        (["only_base", "main"], 100, 9, 0, True)]
    diff_profiles(seed=1, period=1, sites=sites)
    rc, out, err = hs("diff", "-i", "inuse_objects", "base.pb.gz",
                      "new.pb.gz")
    check(rc == 0 and err == "", "diff exact: %d %r" % (rc, err))
    golden("diff_exact", out)
    rows = parse_diff(out)
    check(not any(noise for _, noise in rows.values()),
          "exact profiles: nothing is noise: %r" % rows)
    check(site_name(DIFF_NOISE[0][0]) not in rows,
          "an unchanged site is not listed")
    check(rows.get("only_new \u2190 main", ("",))[0] == "+7"
          and rows.get("only_base \u2190 main", ("",))[0] == "-9",
          "sites in one profile only: %r" % rows)


def case_diff_calibration():
    """The 95% interval covers 0 for ~95% of the noise-only sites over
    many independent pairs (it is neither too narrow nor too wide), and
    the real changes, 2 to 5 standard errors large, are nearly always
    found real."""
    runs, covered, total, missed_real = 60, 0, 0, 0
    for seed in range(1000, 1000 + runs):
        diff_profiles(seed)
        rc, out, err = hs("diff", "-n", "0", "base.pb.gz", "new.pb.gz")
        if not check(rc == 0, "seed %d: exit %d %s" % (seed, rc, err)):
            return
        rows = parse_diff(out)
        for stack, *_ in DIFF_NOISE:
            got = rows.get(site_name(stack))
            if got is None:  # no change at all: covered
                got = ("0", True)
            total += 1
            covered += got[1]
        missed_real += sum(not rows.get(site_name(s), ("", False))[1] is False
                           for s, *_ in DIFF_REAL)
    rate = covered / total
    print("noise-only sites inside their 95%% interval: %d of %d (%.1f%%)"
          % (covered, total, 100 * rate))
    # Binomial(300, 0.95): sd 1.3 %; 0.90 .. 0.99 is about four sd.
    check(0.90 <= rate <= 0.99, "coverage %.3f, want about 0.95" % rate)
    real = runs * len(DIFF_REAL)
    print("real changes found real: %d of %d" % (real - missed_real, real))
    check(missed_real <= 0.05 * real, "%d of %d real changes called noise"
          % (missed_real, real))


# ---- trend fixtures ----------------------------------------------------------

T0 = 1700000000  # seconds
STEP = 600  # ten minutes between dumps
NDUMPS = 12
LEAK = ["leak_append", "handle_request", "serve", "main"]
CACHE = ["cache_insert", "lookup", "serve", "main"]
CONST = ["config_load", "init", "main"]
SHRINK = ["warmup_buf", "warmup", "main"]
TRANSIENT = ["batch_tmp", "batch", "serve", "main"]


def trend_truth(i):
    """(stack, size, live objects) of dump i."""
    return [
        (LEAK, 4096, 2000 + 2000 * i),            # 7.8 MiB + 7.8 MiB/dump
        (CACHE, 1024, 4096 + min(i, 5) * 7373),   # 4 MiB up to 40 MiB
        (CONST, 512, 40960),                      # 20 MiB
        (SHRINK, 65536, 480 - 40 * i),            # 30 MiB down to 2.5 MiB
        (TRANSIENT, 2048, 5000 if i in (5, 6) else 0),
    ]


def trend_dumps(seed, timed=True, subdir="dumps"):
    rng = random.Random(seed)
    d = os.path.join(TMP, subdir)
    os.makedirs(d, exist_ok=True)
    paths = []
    for i in range(NDUMPS):
        p = Profile(period=R,
                    time_nanos=(T0 + STEP * i) * 10**9 if timed else 0)
        for stack, size, n in trend_truth(i):
            if n:
                add_site(p, rng, stack, n, size)
        paths.append(p.write(os.path.join(d, "heapsight.1.%d.timer.pb.gz"
                                          % i)))
    return paths


def mann_kendall(y):
    """(S, Var, Z, p) as the reference for trend's numbers."""
    n = len(y)
    s = sum((y[j] > y[i]) - (y[j] < y[i])
            for i in range(n) for j in range(i + 1, n))
    ties = {}
    for v in y:
        ties[v] = ties.get(v, 0) + 1
    var = (n * (n - 1) * (2 * n + 5)
           - sum(t * (t - 1) * (2 * t + 5) for t in ties.values())) / 18
    z = 0.0 if s == 0 or var <= 0 else (s - (1 if s > 0 else -1)) / var**0.5
    return s, var, z, math.erfc(abs(z) / 2**0.5)


def theil_sen(x, y):
    sl = sorted((y[j] - y[i]) / (x[j] - x[i]) for i in range(len(x))
                for j in range(i + 1, len(x)) if x[j] != x[i])
    m = len(sl)
    return sl[m // 2] if m % 2 else (sl[m // 2 - 1] + sl[m // 2]) / 2


TREND_CLASSES = ("growing", "bounded", "varying", "shrinking", "constant")


def parse_trend(out):
    """[(class, slope, Z, p, site, first, last, peak)] of trend's rows, in
    order; columns as trend.c prints them."""
    rows = []
    for line in out.splitlines():
        w = line.split()
        if w and w[0] in TREND_CLASSES:
            rows.append((w[0], line[10:24].strip(), float(line[25:31]),
                         line[32:38].strip(), line[70:].strip(),
                         line[38:48].strip(), line[48:58].strip(),
                         line[58:68].strip()))
    return rows


def class_of(rows, stack):
    """The class trend gave stack, or None."""
    got = [r[0] for r in rows if same_site(r[4], stack)]
    return got[0] if len(got) == 1 else None


def series_of(paths, stack):
    """The inuse_space of stack in each profile (0 when absent)."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "..", "prof"))
    import pprof_decode
    out = []
    for p in paths:
        prof = pprof_decode.decode(p)
        types = [t for t, _ in prof["sample_types"]]
        vi = types.index("inuse_space")
        out.append(sum(s["values"][vi] for s in prof["samples"]
                       if [f[1] for f in s["frames"]] == stack))
    return out


def case_trend_golden():
    paths = trend_dumps(seed=12)
    names = [os.path.relpath(p, TMP) for p in paths]
    rc, out, err = hs("trend", *names)
    check(rc == 0 and err == "", "trend: exit %d %r" % (rc, err))
    golden("trend", out)
    rows = parse_trend(out)
    want = {tuple(LEAK): "growing", tuple(CACHE): "bounded",
            tuple(CONST): "constant", tuple(SHRINK): "shrinking",
            tuple(TRANSIENT): "varying"}
    for stack, cls in want.items():
        got = [r[0] for r in rows if same_site(r[4], stack)]
        check(got == [cls], "%s: class %r, want %r" % (stack[0], got, cls))
    check(rows and same_site(rows[0][4], LEAK),
          "the growing site first: %r" % rows[:1])
    # Z and p against a reference implementation, on the same series.
    hours = [STEP * i / 3600 for i in range(NDUMPS)]
    for stack in want:
        y = series_of(paths, list(stack))
        s, var, z, p = mann_kendall(y)
        row = [r for r in rows if same_site(r[4], stack)][0]
        check(abs(row[2] - z) < 0.006, "%s: Z %.2f, reference %.4f"
              % (stack[0], row[2], z))
        ref_p = "<0.001" if p < 0.001 else "%.3f" % p
        check(row[3] == ref_p, "%s: p %s, reference %s"
              % (stack[0], row[3], ref_p))
        print("%-13s S=%+3d Z=%+.2f p=%s slope=%.0f B/h (%s)"
              % (stack[0], s, z, ref_p, theil_sen(hours, y), row[1]))
    check_slope(rows, paths, hours)


def check_slope(rows, paths, hours):
    """The leak's Theil-Sen slope matches the reference, in MiB/h."""
    y = series_of(paths, LEAK)
    want = theil_sen(hours, y) / MIB
    got = rows[0][1]
    ok = got.endswith(" MiB/h")
    check(ok and abs(float(got.split()[0]) - want) <= 0.051 * abs(want),
          "leak slope %r, reference %.2f MiB/h" % (got, want))


def case_trend_robust():
    """Over many independent series the classes hold: the leak is always
    growing and first, the shrinking site always shrinking, the cache
    and the constant site nearly always what they are."""
    runs, counts = 40, {}
    for seed in range(2000, 2000 + runs):
        paths = trend_dumps(seed, subdir="s%d" % seed)
        rc, out, err = hs("trend", "-n", "0", *paths)
        if not check(rc == 0, "seed %d: %d %s" % (seed, rc, err)):
            return
        rows = parse_trend(out)
        for stack in (LEAK, CACHE, CONST, SHRINK):
            key = (stack[0], class_of(rows, stack))
            counts[key] = counts.get(key, 0) + 1
        key = ("leak first", same_site(rows[0][4], LEAK))
        counts[key] = counts.get(key, 0) + 1
        shutil.rmtree(os.path.join(TMP, "s%d" % seed))
    for k in sorted(counts, key=str):
        print("%-30s %d of %d" % (k, counts[k], runs))
    check(counts.get(("leak_append", "growing"), 0) == runs, "leak growing")
    check(counts.get(("leak first", True), 0) == runs, "leak first")
    check(counts.get(("warmup_buf", "shrinking"), 0) == runs, "shrinking")
    check(counts.get(("cache_insert", "bounded"), 0) >= 0.85 * runs,
          "cache bounded in too few runs")
    check(counts.get(("config_load", "constant"), 0) >= 0.85 * runs,
          "constant site constant in too few runs")


def case_trend_order():
    """Dumps are ordered by their time, whatever the command line says;
    without times the command-line order stands, with one note."""
    paths = trend_dumps(seed=12)
    names = [os.path.relpath(p, TMP) for p in paths]
    rc, sorted_out, err = hs("trend", *names)
    shuffled = names[:]
    random.Random(3).shuffle(shuffled)
    rc2, out, err2 = hs("trend", *shuffled)
    check(rc == rc2 == 0 and out == sorted_out and err2 == "",
          "shuffled dumps: same report (exit %d, %r)" % (rc2, err2))
    print("shuffled command line: same report")
    untimed = trend_dumps(seed=12, timed=False, subdir="untimed")
    names = [os.path.relpath(p, TMP) for p in untimed]
    rc, out, err = hs("trend", *names)
    line = one_error_line(err, "untimed dumps")
    check(rc == 0 and "12 of 12 dumps have no time" in line
          and "command-line order" in line, "untimed note: %d %r" % (rc, line))
    check("slope/dump" in out and "in command-line order" in out,
          "untimed report: %r" % out[:300])
    rows = parse_trend(out)
    check(rows and same_site(rows[0][4], LEAK)
          and rows[0][1].endswith("/dump"), "untimed: leak first: %r" % rows[:1])
    print("untimed: %s" % line)
    rc, rev, err = hs("trend", *reversed(names))
    rows = parse_trend(rev)
    check(class_of(rows, LEAK) == "shrinking",
          "untimed, reversed: the command-line order is the order: %r"
          % class_of(rows, LEAK))


def case_trend_plot():
    paths = trend_dumps(seed=12)
    svg = os.path.join(TMP, "trend.svg")
    rc, out, err = hs("trend", "-n", "3", "--plot", svg, *paths)
    check(rc == 0 and err == "", "trend --plot: %d %r" % (rc, err))
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.parse(svg).getroot()
    check(root.tag == ns + "svg", "root element %r" % root.tag)
    lines = root.findall(ns + "polyline")
    check(len(lines) == 3, "%d polylines, want 3 (-n 3)" % len(lines))
    titles = [l.find(ns + "title").text for l in lines]
    shown = [r[4] for r in parse_trend(out)[:3]]
    check(len(shown) == 3 and all(same_site(shown[i], titles[i].split(
        " \u2190 ")) for i in range(3)),
          "polylines in report order: %r %r" % (titles, shown))
    for l in lines:
        pts = l.get("points").split()
        check(len(pts) == NDUMPS, "%d points, want %d" % (len(pts), NDUMPS))
        xs = [float(p.split(",")[0]) for p in pts]
        check(xs == sorted(xs), "points in time order")
    texts = [t.text or "" for t in root.iter(ns + "text")]
    check(any(t.endswith("MiB") for t in texts), "y axis in MiB: %r" % texts)
    check("1h" in texts and "0" in texts, "x axis in elapsed time: %r"
          % texts)
    check(any("2023-11-14 22:13:20 UTC" in t for t in texts),
          "the start time: %r" % texts)
    legend = [t for t in texts if t.startswith("leak_append")]
    check(legend == [site_name(LEAK)], "legend: %r" % legend)
    # All sites, and names that need cutting and escaping.
    long_stack = ["f<%d>&'\"" % i for i in range(40)]
    paths2 = []
    for i in range(5):
        p = Profile(period=R, time_nanos=(T0 + 60 * i) * 10**9)
        p.sample(long_stack, [i, i * 1000, i, i * 1000],
                 num_labels={"bytes": (1000, "bytes")})
        paths2.append(p.write(os.path.join(TMP, "l%d.pb.gz" % i)))
    rc, out, err = hs("trend", "--plot", svg, *paths2)
    root = ET.parse(svg).getroot()
    lines = root.findall(ns + "polyline")
    check(rc == 0 and len(lines) == 1, "long names: %d %d" % (rc, len(lines)))
    check(lines and lines[0].find(ns + "title").text ==
          site_name(long_stack), "whole name in <title>")
    legend = [t.text for t in root.iter(ns + "text")
              if t.text and t.text.startswith("f<0>")]
    check(len(legend) == 1 and legend[0].endswith("\u2026")
          and len(legend[0]) == 90, "legend cut to 90 columns: %r" % legend)
    print("plot: polylines, axes and legend checked; long names cut and "
          "escaped")


# ---- trend: steps, a filled cache, a peak dump, --by ------------------------

# Live sampled objects stay in every later dump, so a real site moves in
# steps and holds its value exactly between them: the series below keep
# each sampled object from the dump it was allocated in.  (site, stack,
# object size, live objects per dump; the peak dump is the 13th entry.)
SHAPE_TIMES = [T0 + STEP * i for i in range(6)] + [T0 + STEP * 6 - 120] + \
    [T0 + STEP * i for i in range(6, NDUMPS)]
PEAK_AT = 6  # the peak dump's place in SHAPE_TIMES
MIB14, MIB24 = int(14.1 * MIB), int(24.6 * MIB)
SHAPES = [
    # One vector, reallocated from 14.1 to 24.6 MiB between the last two
    # dumps: "constant +0 B/h" before (Theil-Sen's median pairwise slope
    # is 0, and one step at the end is no significant trend).
    ("step", ["vec_realloc", "index_add", "main"], None,
     [MIB14] * 12 + [MIB24]),
    # Stairs from 14.1 to 24.6 MiB, a step every third dump.
    ("stairs", ["table_grow", "table_put", "main"], None,
     [MIB14 + (MIB24 - MIB14) * (i // 3) // 4 for i in range(13)]),
    # A cache filling in the first seconds (3 MiB at the first dump), then
    # full at 24 MiB: bounded, not constant.
    ("cache", ["lru_insert", "lru_get", "main"], 1024,
     [3 * 1024] + [24 * 1024] * 12),
    # A batch of 30 one-MiB buffers, live only at the peak.
    ("batch", ["batch_buf", "batch_run", "main"], MIB,
     [30 if i == PEAK_AT else 0 for i in range(13)]),
    ("steady", ["conf_parse", "init", "main"], 256, [32768] * 13),
    # Allocated and freed again before every dump: 0 B live throughout.
    ("zero", ["scratch_tmp", "parse", "main"], 4096, [0] * 13),
]
SHAPE_CLASS = {"step": "growing", "stairs": "growing", "cache": "bounded",
               "batch": "varying", "steady": "constant"}


def shape_values(rng, size, counts):
    """[alloc_objects, alloc_space, inuse_objects, inuse_space] per dump
    for a site of counts[i] live objects of size bytes (None: one object
    of counts[i] bytes), whose sampled objects persist while they live."""
    if size is None:
        return [[1, c, 1, c] for c in counts]
    p = -math.expm1(-size / R)
    out, k, live = [], 0, 0
    for c in counts:
        if c > live:
            k += binomial(rng, c - live, p)
        elif c < live:
            k = 0 if c == 0 else k * c // live
        live = c
        objs, space = round(k / p), round(k * size / p)
        out.append([objs + 1, space + size, objs, space])
    return out


def shape_dumps():
    """The series of SHAPES: 12 timer dumps and one peak dump with the
    same sequence number as the timer dump after it; their paths, in
    time order, and {site: inuse_space per dump}."""
    rng = random.Random(5)
    vals = {name: shape_values(rng, size, counts)
            for name, _, size, counts in SHAPES}
    paths = []
    for i, t in enumerate(SHAPE_TIMES):
        p = Profile(period=R, time_nanos=t * 10**9)
        for name, stack, size, _ in SHAPES:
            v = vals[name][i]
            if name == "zero":
                v = [5, 5 * 4096, 0, 0]
            if v[0]:
                p.sample(stack, v, labels={"thread": "main"},
                         num_labels={"bytes": (size or v[1], "bytes")})
        seq = i if i < PEAK_AT else i - 1
        kind = "peak" if i == PEAK_AT else "timer"
        paths.append(p.write(os.path.join(
            TMP, "heapsight.7.%d.%s.pb.gz" % (seq + (i == PEAK_AT), kind))))
    return paths, {n: [v[3] for v in vs] for n, vs in vals.items()}


def near(text, want):
    """Whether a report's value ("24.6 MiB") shows want bytes."""
    got = to_number(text)
    return abs(got - want) <= max(0.006 * abs(want), 0.5)


def case_trend_shapes():
    """Steps, a cache filled at once, a site at 0 throughout, a peak dump
    in the series, and the first / last / peak columns."""
    paths, truth = shape_dumps()
    names = sorted(os.path.basename(p) for p in paths)
    rc, out, err = hs("trend", "-n", "0", *names)
    check(rc == 0 and err == "", "trend: exit %d %r" % (rc, err))
    golden("trend_shapes", out)
    check(out.startswith("inuse_space of 13 dumps over 1h50m"),
          "the peak dump is one of the series: %r" % out[:60])
    rows = parse_trend(out)
    stacks = {name: stack for name, stack, _, _ in SHAPES}
    for name, cls in SHAPE_CLASS.items():
        got = [r for r in rows if same_site(r[4], stacks[name])]
        if not check(len(got) == 1 and got[0][0] == cls, "%s: %r, want %s"
                     % (name, got, cls)):
            continue
        y = truth[name]
        for col, want in ((5, y[0]), (6, y[-1]), (7, max(y))):
            check(near(got[0][col], want), "%s: %s %r, want %d B"
                  % (name, ("first", "last", "peak")[col - 5], got[0][col],
                     want))
        print("%-7s %-9s first %s last %s peak %s slope %s"
              % (name, cls, got[0][5], got[0][6], got[0][7], got[0][1]))
    check(not [r for r in rows if "scratch_tmp" in r[4]],
          "a site at 0 B in every dump is left out")
    check("\n5 sites: 2 growing, 1 bounded, 1 varying, 0 shrinking, "
          "1 constant\n" in out, "summary: %r" % out.splitlines()[-1:])
    # The step: the mean rate, since Theil-Sen's median slope is 0.
    step = [r for r in rows if same_site(r[4], stacks["step"])]
    hours = (SHAPE_TIMES[-1] - SHAPE_TIMES[0]) / 3600
    want = (MIB24 - MIB14) / hours / MIB
    check(step and step[0][1].endswith(" MiB/h")
          and abs(float(step[0][1].split()[0]) - want) < 0.051,
          "step slope %r, want +%.2f MiB/h" % (step[0][1] if step else None,
                                               want))
    # Dumps without the peak: the same classes, 12 dumps.
    rc, out2, err = hs("trend", "-n", "0", *[n for n in names
                                             if ".peak." not in n])
    rows2 = parse_trend(out2)
    for name, cls in SHAPE_CLASS.items():
        if name != "batch":
            check(class_of(rows2, stacks[name]) == cls,
                  "without the peak dump, %s: %r" % (name,
                                                     class_of(rows2,
                                                              stacks[name])))
    check(rc == 0 and "inuse_space of 12 dumps" in out2
          and class_of(rows2, stacks["batch"]) is None,
          "without the peak dump: %d %r" % (rc, out2[:40]))


LONG_LEAF = "std::__new_allocator<int>::allocate(unsigned long, void const*)"
BY_SITES = [  # stack, bytes at dump i
    ([("grow_vec", "grow.c", 10), "load", "main"], lambda i: (i + 1) * MIB),
    ([("grow_vec", "grow.c", 20), "load", "main"], lambda i: 4 * MIB),
    ([("grow_vec", "grow.c", 10), "save", "main"], lambda i: 2 * MIB),
    ([(LONG_LEAF, "new_allocator.h", 151), "std::vector<int>::push_back",
      "fill_ints", "run_benchmark", "main"], lambda i: (i + 2) * MIB),
]


def case_trend_by():
    """--by stack (the default), function and line group the rows; a
    row keeps its leaf whole and cuts its callers."""
    paths = []
    for i in range(6):
        p = Profile(period=R, time_nanos=(T0 + 60 * i) * 10**9)
        for stack, size in BY_SITES:
            p.sample(stack, [1, size(i), 1, size(i)],
                     num_labels={"bytes": (size(i), "bytes")})
        paths.append(p.write(os.path.join(TMP, "b%d.pb.gz" % i)))

    def sums(key):
        out = {}
        for stack, size in BY_SITES:
            k = key(stack)
            out[k] = [out.get(k, [0] * 6)[i] + size(i) for i in range(6)]
        return out
    fname = lambda f: f[0] if isinstance(f, tuple) else f  # noqa: E731
    want = {
        "stack": sums(lambda s: site_name([fname(f) for f in s])),
        "function": sums(lambda s: fname(s[0])),
        "line": sums(lambda s: "%s %s:%d" % s[0]),
    }
    # --full-names: names from the leaf, whatever the leaf is (the long
    # one is allocator plumbing to the default rule, cli/naming.h).
    rc, default, err = hs("trend", "-n", "0", "--full-names", *paths)
    for by, sites in want.items():
        rc, out, err = hs("trend", "-n", "0", "--full-names", "--by", by,
                          *paths, env={"COLUMNS": "400"})
        check(rc == 0 and err == "", "--by %s: %d %r" % (by, rc, err))
        check(out.splitlines()[2].endswith("  " + by),
              "--by %s: header %r" % (by, out.splitlines()[2]))
        rows = {r[4]: r for r in parse_trend(out)}
        check(sorted(rows) == sorted(sites), "--by %s: rows %r, want %r"
              % (by, sorted(rows), sorted(sites)))
        for name, y in sites.items():
            r = rows.get(name)
            check(r is not None and near(r[5], y[0]) and near(r[6], y[-1])
                  and near(r[7], max(y)), "--by %s, %s: %r, want %r"
                  % (by, name, r, y))
        print("--by %-8s %d rows: %s" % (by, len(rows), ", ".join(
            "%s (%s)" % (n, rows[n][0]) for n in sorted(rows))))
    rc, by_stack, err = hs("trend", "-n", "0", "--full-names", "--by",
                           "stack", *paths)
    check(default == by_stack, "the default is --by stack")
    # 100 columns leave 30 for the name: the leaf stays whole.
    row = [r[4] for r in parse_trend(default) if LONG_LEAF in r[4]]
    check(len(row) == 1 and row[0].startswith(LONG_LEAF + " \u2190 ")
          and row[0].endswith("\u2026"), "leaf whole, callers cut: %r" % row)
    line = [ln for ln in default.splitlines() if "grow_vec \u2190 load" in ln]
    check(len(line) == 1 and line[0].endswith("grow_vec \u2190 load \u2190 "
                                              "main"), "short names: %r" % line)
    rc, narrow, err = hs("trend", "--full-names", "--by", "function",
                         *paths, env={"COLUMNS": "40"})
    check(rc == 0 and any(ln.endswith("  " + LONG_LEAF)
                          for ln in narrow.splitlines()),
          "--by function, 40 columns: the leaf whole: %r" % narrow)
    print("leaf kept whole: %s" % row)


# ---- run --every -------------------------------------------------------------

# Ends with os._exit: no interpreter finalization, which frees the list.  A
# periodic dump can fall in it under load (one did, its list almost gone,
# and the list's trend was then not growing); the test is of --every and
# trend, not of that race (docs/PROFILING.md: leave dumps taken while the
# program frees its memory out of the series).
ALLOCATE = """
import os
import sys
import time
keep = []
t0 = time.time()
while time.time() - t0 < 2.0:
    keep.append(bytes(4096) * 16)
    time.sleep(0.01)
print(len(keep))
sys.stdout.flush()
os._exit(0)
"""


def case_run_every():
    out = os.path.join(TMP, "every")
    env = dict(os.environ)
    for k in ("HEAPSIGHT", "HEAPSIGHT_LIB", "LD_PRELOAD"):
        env.pop(k, None)
    cmd = [ARGS.heapsight, "run", "--every", "300ms", "--sample", "16k",
           "--out", out]
    if ARGS.lib:
        cmd += ["--lib", ARGS.lib]
    p = subprocess.run(cmd + ["--", sys.executable, "-c", ALLOCATE],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, timeout=100)
    check(p.returncode == 0, "run --every: exit %d %s" % (p.returncode,
                                                         p.stderr))
    dumps = sorted(glob.glob(os.path.join(out, "heapsight.*.pb.gz")))
    timers = [d for d in dumps if ".timer." in d]
    print("%d dumps (%d periodic)" % (len(dumps), len(timers)))
    check(len(timers) >= 4, "want several periodic dumps in ~2 s at "
          "300 ms, got %r" % [os.path.basename(d) for d in dumps])
    # The periodic dumps: the final one is taken at exit, which the
    # documentation says to leave out.
    rc, o, err = hs("trend", *timers)
    check(rc == 0 and err == "", "trend over the dumps: %d %r" % (rc, err))
    rows = parse_trend(o)
    check(rows, "trend found no site: %r" % o)
    # Named from the innermost Python function (cli/naming.h).
    check(rows and rows[0][0] == "growing"
          and rows[0][4].startswith("<module>"),
          "the growing list (keep.append) is found growing, first: %s" % o)
    print(o.splitlines()[0])
    print("\n".join(o.splitlines()[2:5]))
    # The option and its errors.
    for bad in ("0", "5x", "-1s", "25h", ""):
        rc, o, err = hs("run", "--every", bad, "--", "true")
        line = one_error_line(err, "--every %r" % bad)
        check(rc == 2 and "bad --every" in line, "--every %r: %d %r"
              % (bad, rc, line))
    rc, o, err = hs("run", "--help")
    check(rc == 0 and "--every DURATION" in o, "run --help lists --every")


def case_run_every_env():
    """--every sets prof_interval_ms in HEAPSIGHT (units and a bare
    number of seconds), after the other options."""
    lib = ARGS.lib or "/bin/true"
    env = dict(os.environ)
    for k in ("HEAPSIGHT", "HEAPSIGHT_LIB", "LD_PRELOAD"):
        env.pop(k, None)
    for arg, ms in (("500ms", 500), ("30s", 30000), ("2m", 120000),
                    ("1h", 3600000), ("7", 7000)):
        p = subprocess.run([ARGS.heapsight, "run", "--lib", lib, "--out", TMP,
                            "--every", arg, "--leaks", "--", "sh", "-c",
                            'echo "$HEAPSIGHT"'], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           env=env, timeout=100)
        want = ",prof_leak:true,prof_interval_ms:%d" % ms
        check(p.stdout.strip().endswith(want),
              "--every %s: HEAPSIGHT=%r, want ...%s" % (arg, p.stdout, want))
    print("--every values reach HEAPSIGHT as prof_interval_ms")


# ---- errors ------------------------------------------------------------------

def case_errors():
    base, new = diff_profiles(seed=9)
    counts = Profile(types=[("samples", "count"), ("cpu", "nanoseconds")],
                     default="cpu")
    counts.sample(["main"], [1, 10])
    counts.write(os.path.join(TMP, "cpu.pb.gz"))
    odd = Profile(types=[("inuse_space", "count")])
    odd.sample(["main"], [3])
    odd.write(os.path.join(TMP, "odd.pb.gz"))
    with open(os.path.join(TMP, "junk.pb.gz"), "wb") as f:
        f.write(b"not a profile at all")
    cases = [
        (("diff", "base.pb.gz"), "want two profiles"),
        (("diff", "base.pb.gz", "missing.pb.gz"), "missing.pb.gz"),
        (("diff", "missing.pb.gz", "new.pb.gz"), "missing.pb.gz"),
        (("diff", "cpu.pb.gz", "new.pb.gz"), "cpu.pb.gz: no sample type "
                                             "'inuse_space'"),
        (("diff", "base.pb.gz", "cpu.pb.gz"), "base.pb.gz: no sample type "
                                              "'cpu'"),
        (("diff", "-i", "nosuch", "base.pb.gz", "new.pb.gz"),
         "new.pb.gz: no sample type 'nosuch'"),
        (("diff", "junk.pb.gz", "new.pb.gz"), "junk.pb.gz"),
        (("diff", "odd.pb.gz", "new.pb.gz"), "odd.pb.gz: sample type "
         "inuse_space is in count, but in bytes in new.pb.gz"),
        (("diff", "--by", "line", "base.pb.gz", "new.pb.gz"), "bad --by"),
        (("diff", "-n", "x", "base.pb.gz", "new.pb.gz"), "bad -n"),
        (("diff", "--focus", "(", "base.pb.gz", "new.pb.gz"), "--focus"),
        (("trend", "base.pb.gz", "new.pb.gz", "base.pb.gz"),
         "at least 4 dumps"),
        (("trend",), "at least 4 dumps"),
        (("trend", "base.pb.gz", "new.pb.gz", "base.pb.gz", "missing.pb.gz"),
         "missing.pb.gz"),
        (("trend", "base.pb.gz", "new.pb.gz", "base.pb.gz", "cpu.pb.gz"),
         "cpu.pb.gz: no sample type 'inuse_space'"),
        (("trend", "base.pb.gz", "new.pb.gz", "odd.pb.gz", "new.pb.gz"),
         "odd.pb.gz: sample type inuse_space is in count, but in bytes"),
        (("trend", "-n", "-3", "base.pb.gz", "new.pb.gz", "base.pb.gz",
          "new.pb.gz"), "bad -n"),
        (("trend", "--bogus", "base.pb.gz"), "unknown option --bogus"),
        (("trend", "--by", "file", "base.pb.gz", "new.pb.gz", "base.pb.gz",
          "new.pb.gz"), "bad --by 'file'"),
    ]
    for args, word in cases:
        rc, out, err = hs(*args)
        line = one_error_line(err, " ".join(args))
        check(rc == 2 and word in line and out == "",
              "%s: exit %d, %r (want 2 and %r)" % (" ".join(args), rc, line,
                                                   word))
        print("%-48s -> %d %s" % (" ".join(args)[:48], rc, line))
    # A plot that cannot be written: exit 1, one line.
    four = [base, new, base, new]
    rc, out, err = hs("trend", "-i", "1", *four)
    check(rc == 0 and out.startswith("alloc_space of 4 dumps"),
          "trend -i 1: the type by number: %d %r" % (rc, out[:60]))
    rc, out, err = hs("trend", "--plot", os.path.join(TMP, "no", "x.svg"),
                      *four)
    line = one_error_line(err, "unwritable plot")
    check(rc == 1 and "cannot write" in line, "plot: %d %r" % (rc, line))
    for cmd in ("diff", "trend"):
        rc, out, err = hs(cmd, "--help")
        check(rc == 0 and out.startswith("usage: heapsight %s" % cmd)
              and err == "", "%s --help: %d" % (cmd, rc))
    # No object size at all: a note, and the change counts as real.
    for name, label in (("nb", True), ("nn", False)):
        p = Profile(types=[("inuse_space", "bytes")])
        p.sample(["lonely", "main"], [100000 if label else 300000])
        p.write(os.path.join(TMP, name + ".pb.gz"))
    rc, out, err = hs("diff", "nb.pb.gz", "nn.pb.gz")
    lines = err.splitlines()
    check(rc == 0 and len(lines) == 2 and all(
        "give no object size" in l for l in lines),
        "no object size: %d %r" % (rc, err))
    check("noise" not in parse_diff(out).get("lonely \u2190 main", ("", 1)),
          "unknown variance: not noise")


CASES = {
    "diff_golden": case_diff_golden,
    "diff_exact": case_diff_exact,
    "diff_calibration": case_diff_calibration,
    "trend_golden": case_trend_golden,
    "trend_robust": case_trend_robust,
    "trend_order": case_trend_order,
    "trend_plot": case_trend_plot,
    "trend_shapes": case_trend_shapes,
    "trend_by": case_trend_by,
    "run_every": case_run_every,
    "run_every_env": case_run_every_env,
    "errors": case_errors,
}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--heapsight", required=True)
    ap.add_argument("--lib", default=None)
    ap.add_argument("--update", action="store_true",
                    help="rewrite the golden files instead of comparing")
    ARGS = ap.parse_args()
    ARGS.heapsight = os.path.abspath(ARGS.heapsight)  # cases run in TMP
    if ARGS.lib:
        ARGS.lib = os.path.abspath(ARGS.lib)
    TMP = tempfile.mkdtemp(prefix="hs-change-")
    try:
        CASES[ARGS.case]()
    except Exception as e:  # a crash of the test itself is a failure too
        import traceback
        traceback.print_exc()
        fail("%s: %s: %s" % (ARGS.case, type(e).__name__, e))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%s: %s" % (ARGS.case, "FAILED (%d)" % len(FAILURES)
                      if FAILURES else "ok"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
