"""report.py — turns bench/run.sh's raw measurements into markdown tables.

Owns: medians, ratios, target checks and the markdown layout.  Does not own
running anything: it reads one raw TSV written by run.sh, so a run can be
re-rendered (`python3 bench/report.py RAW.tsv`) without re-measuring.  It
also renders bench/prof_micro.sh's raw file (first line "# format:
prof_micro"): cost per sampled backtrace and symbolization speed; and
run.sh --callgrind's (first line "# format: callgrind"): instructions
executed per workload and allocator.

Raw TSV columns (one row per measured run):
    workload allocator rep wall_s maxrss_kib user_s sys_s status checksum
    [throughput]
status is the exit code, 128+signal, or "timeout".  throughput is the
operations per second a fixed-time workload (server) prints, "-" for the
others (files written before it existed have nine columns).  Lines
starting with '#' are metadata ("# key: value") and are echoed in the
report header.

Ratios are heapsight's median divided by the other allocator's median, so
below 1.00 means heapsight is faster / smaller.  A fixed-time workload
runs as long whatever the allocator, so it is compared by throughput
instead, the other way up: the other allocator's median ops/s divided by
heapsight's, so that below 1.00 still means heapsight is faster (its own
table, and the same ratio wherever a time ratio is shown: per-workload
tables, the target check, and the paired ratios of the variant reports,
where a throughput run's "wall" is seconds per operation and its "CPU"
CPU seconds per operation).  Its checksum is a hash of its arguments
(the program checks every object itself and exits 1 on a corrupt one).
Targets (from the project brief): time <= 1.5x jemalloc and peak RSS <=
1.3x jemalloc per workload.

A run with profiling variants (run.sh --profile: hs_prof_off, hs_prof512k,
je_prof512k, ...) gets the profiler report instead: each variant against
its own allocator unprofiled and heapsight's profiler against jemalloc's,
as ratios paired per repetition (the variants of one repetition run back
to back, so slow drifts of the machine's load cancel), shown as median
(min–max) over the repetitions, for wall time, CPU time (user + sys) and
peak RSS.  Target (issue 3): at the default rate (512 KiB) under 3% slower
than unprofiled, and cheaper than jemalloc's profiler.

A run with the Python variants (run.sh --python: hs_py512k, the profiler
with Python frames merged, and hs_tracemalloc) gets the Python report
instead: every variant against plain heapsight, paired the same way.
Target (issue 4): hs_py512k under 5% slower than heapsight, and far
cheaper than tracemalloc (-X tracemalloc=25).  A verdict on 5% also
gives the median's 95% confidence interval (order statistics, no
assumption on the distribution): the resolution of the run.  When the
Python workloads ran on several interpreters (run.sh --interpreter: the
workloads are named <workload>@<version>), a table gives hs_py512k ÷
heapsight per interpreter and workload.

A run with the misuse-check variants (run.sh --checks: hs_nochecks, the
library built with HS_FREE_CHECKS=OFF, and hs_checks, canary:true and
junk:true) gets the checks report instead: every variant, and jemalloc
and glibc for scale, against plain heapsight, paired the same way, with
the geometric mean over the workloads of the per-workload medians.
hs_nochecks ÷ heapsight below 1.00 is what the free path's checks cost;
hs_prof_off ÷ heapsight (the same code path) is the A/A noise floor.
"""
import math
import statistics
import sys

ALLOC_ORDER = ["heapsight", "jemalloc", "mimalloc", "tcmalloc", "glibc"]
REF = "heapsight"
TIME_TARGET = 1.5
RSS_TARGET = 1.3

# Profiling variants (bench/run.sh): the allocator each one profiles.
PROF_BASE = {
    "hs_prof_off": "heapsight", "hs_prof_idle": "heapsight",
    "hs_prof512k": "heapsight", "hs_prof64k": "heapsight",
    "je_prof512k": "jemalloc", "je_prof64k": "jemalloc",
}
PROF_ORDER = ["heapsight", "hs_prof_off", "hs_prof_idle", "hs_prof512k",
              "hs_prof64k", "jemalloc", "je_prof512k", "je_prof64k"]
# (numerator, denominator, column header) of the profiler tables.
PROF_RATIOS = [
    ("hs_prof_off", "heapsight", "hs off ÷ hs"),
    ("hs_prof_idle", "heapsight", "hs idle ÷ hs"),
    ("hs_prof512k", "heapsight", "hs 512k ÷ hs"),
    ("hs_prof64k", "heapsight", "hs 64k ÷ hs"),
    ("je_prof512k", "jemalloc", "je 512k ÷ je"),
    ("je_prof64k", "jemalloc", "je 64k ÷ je"),
    ("hs_prof512k", "je_prof512k", "hs 512k ÷ je 512k"),
    ("hs_prof64k", "je_prof64k", "hs 64k ÷ je 64k"),
]
PROF_TARGET = 1.03  # hs_prof512k's time <= 1.03x heapsight's

# Python variants (bench/run.sh --python): all on heapsight's library.
PY_VARIANTS = {"hs_py512k", "hs_tracemalloc"}
PY_ORDER = ["heapsight", "hs_prof_off", "hs_prof512k", "hs_py512k",
            "hs_tracemalloc"]
PY_RATIOS = [
    ("hs_prof_off", "heapsight", "hs off ÷ hs (A/A)"),
    ("hs_prof512k", "heapsight", "native 512k ÷ hs"),
    ("hs_py512k", "heapsight", "py 512k ÷ hs"),
    ("hs_tracemalloc", "heapsight", "tracemalloc ÷ hs"),
    ("hs_py512k", "hs_prof512k", "py 512k ÷ native 512k"),
    ("hs_tracemalloc", "hs_py512k", "tracemalloc ÷ py 512k"),
]
PY_TARGET = 1.05    # hs_py512k's time <= 1.05x heapsight's

# Misuse-check variants (bench/run.sh --checks): each against heapsight.
CHECK_VARIANTS = {"hs_nochecks", "hs_checks", "hs_guards"}
CHECK_ORDER = ["heapsight", "hs_prof_off", "hs_nochecks", "hs_checks",
               "hs_guards", "jemalloc", "glibc"]
CHECK_RATIOS = [
    ("hs_prof_off", "heapsight", "hs off ÷ hs (A/A)"),
    ("hs_nochecks", "heapsight", "no checks ÷ hs"),
    ("hs_checks", "heapsight", "canary+junk ÷ hs"),
    ("hs_guards", "heapsight", "guards ÷ hs"),
    ("jemalloc", "heapsight", "jemalloc ÷ hs"),
    ("glibc", "heapsight", "glibc ÷ hs"),
]
PROF_TIE = 0.02     # overheads closer than this are not told apart


def load(path):
    meta, rows = [], []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("#"):
                meta.append(line[1:].strip())
                continue
            cols = line.split("\t")
            w, a, rep, wall, rss, user, sys_s, status, csum = cols[:9]
            tput = cols[9] if len(cols) > 9 else "-"
            rows.append({
                "workload": w, "alloc": a, "rep": int(rep),
                "wall": float(wall) if wall else 0.0,
                "rss": int(rss) if rss else 0,
                "user": float(user) if user else 0.0,
                "sys": float(sys_s) if sys_s else 0.0, "status": status,
                "checksum": csum,
                "tput": float(tput) if tput not in ("", "-") else None,
            })
    return meta, rows


def summarize(rows):
    """{workload: {alloc: stats}} keeping first-seen workload order."""
    out = {}
    for r in rows:
        out.setdefault(r["workload"], {}).setdefault(r["alloc"], []).append(r)
    summary = {}
    for w, by_alloc in out.items():
        summary[w] = {}
        for a, runs in by_alloc.items():
            ok = [r for r in runs if r["status"] == "0"]
            bad = sorted({r["status"] for r in runs if r["status"] != "0"})
            s = {"n": len(runs), "ok": len(ok), "bad": bad,
                 "checksums": sorted({r["checksum"] for r in ok})}
            if ok:
                walls = [r["wall"] for r in ok]
                s["wall"] = statistics.median(walls)
                s["wall_min"], s["wall_max"] = min(walls), max(walls)
                s["rss"] = statistics.median(r["rss"] for r in ok) / 1024.0
                s["cpu"] = statistics.median(r["user"] + r["sys"] for r in ok)
                s["sys"] = statistics.median(r["sys"] for r in ok)
                tputs = [r["tput"] for r in ok if r["tput"] is not None]
                if tputs and len(tputs) == len(ok):
                    s["tput"] = statistics.median(tputs)
                    s["tput_min"], s["tput_max"] = min(tputs), max(tputs)
            summary[w][a] = s
    return summary


def is_throughput(per):
    """A fixed-time workload: its runs report throughput, not a time."""
    return any("tput" in s for s in per.values())


def allocs_of(summary):
    seen = {a for per in summary.values() for a in per}
    return [a for a in ALLOC_ORDER if a in seen] + sorted(seen - set(ALLOC_ORDER))


def ratio(per, key, other):
    """heapsight ÷ other; for a fixed-time workload's "wall", other's
    throughput ÷ heapsight's (below 1.00 heapsight is faster either way)."""
    h, o = per.get(REF, {}), per.get(other, {})
    if key == "wall" and is_throughput(per):
        if "tput" not in h or "tput" not in o or h["tput"] == 0:
            return None
        return o["tput"] / h["tput"]
    if key not in h or key not in o or o[key] == 0:
        return None
    return h[key] / o[key]


def fmt_ratio(x, limit=None):
    if x is None:
        return "—"
    mark = " ✗" if limit is not None and x > limit else ""
    return "%.2f%s" % (x, mark)


def cell_time(s):
    if not s or "wall" not in s:
        return "FAIL(%s)" % ",".join(s.get("bad", [])) if s else "—"
    fail = " (%d failed)" % (s["n"] - s["ok"]) if s["ok"] < s["n"] else ""
    return "%.3f%s" % (s["wall"], fail)


def cell_tput(s):
    if not s or "tput" not in s:
        return cell_time(s) if s and "wall" not in s else "—"
    fail = " (%d failed)" % (s["n"] - s["ok"]) if s["ok"] < s["n"] else ""
    return "%s%s" % (fmt_ops(s["tput"]), fail)


def fmt_ops(x):
    """Operations per second, in thousands with a thin grouping."""
    return "{:,.0f}k".format(x / 1000.0)


def cell_rss(s):
    return "%.1f" % s["rss"] if s and "rss" in s else "—"


def checksum_problems(summary):
    """Workloads where an allocator's checksum differs from glibc's (from
    heapsight's, or jemalloc's, when glibc did not run)."""
    problems = []
    for w, per in summary.items():
        ref = next((a for a in ("glibc", REF, "jemalloc") if a in per), None)
        base = per.get(ref, {}).get("checksums")
        for a, s in per.items():
            if len(s["checksums"]) > 1:
                problems.append("%s/%s: checksum varies between runs" % (w, a))
            elif base and s["checksums"] and s["checksums"] != base:
                problems.append("%s/%s: checksum %s differs from %s's %s"
                                % (w, a, s["checksums"][0], ref, base[0]))
            if s["bad"]:
                problems.append("%s/%s: %d of %d runs failed (status %s)"
                                % (w, a, s["n"] - s["ok"], s["n"],
                                   ",".join(s["bad"])))
    return problems


def metric_table(summary, allocs, workloads, heading, unit, cell, metric,
                 target, other_over_hs, lines):
    """One table: a column per allocator (cell), then the ratio columns
    (ratio of metric, ✗ past target for jemalloc); nothing for no
    workloads."""
    if not workloads:
        return
    others = [a for a in allocs if a != REF]
    head = ["workload"] + ["%s %s" % (a, unit) for a in allocs]
    if REF in allocs:
        if other_over_hs:
            head += ["%s/hs" % (a[:2] if a != "glibc" else a) for a in others]
        else:
            head += ["hs/%s" % a[:2] if a != "glibc" else "hs/glibc"
                     for a in others]
    lines.append(heading)
    lines.append("")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for w in workloads:
        per = summary[w]
        row = [w] + [cell(per.get(a)) for a in allocs]
        if REF in allocs:
            row += [fmt_ratio(ratio(per, metric, a),
                              target if a == "jemalloc" else None)
                    for a in others]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")


def summary_tables(summary, allocs, lines):
    timed = [w for w, per in summary.items() if not is_throughput(per)]
    metric_table(summary, allocs, timed,
                 "### Wall time (median seconds; ratio = heapsight ÷ "
                 "other, ✗ = over the %.1fx-jemalloc target)" % TIME_TARGET,
                 "s", cell_time, "wall", TIME_TARGET, False, lines)
    # The fixed-time workloads, by throughput.
    metric_table(summary, allocs,
                 [w for w, per in summary.items() if is_throughput(per)],
                 "### Throughput of the fixed-time workloads (median "
                 "operations per second; ratio = other ÷ heapsight, so "
                 "below 1.00 heapsight is faster, as in the time table; "
                 "✗ = jemalloc over %.1fx heapsight's throughput)"
                 % TIME_TARGET,
                 "ops/s", cell_tput, "wall", TIME_TARGET, True, lines)
    metric_table(summary, allocs, list(summary),
                 "### Peak RSS (median MiB; ratio = heapsight ÷ other, "
                 "✗ = over the %.1fx-jemalloc target)" % RSS_TARGET,
                 "MiB", cell_rss, "rss", RSS_TARGET, False, lines)


def detail_tables(summary, allocs, lines):
    lines.append("### Per workload")
    lines.append("")
    for w, per in summary.items():
        tp = is_throughput(per)
        lines.append("#### %s" % w)
        lines.append("")
        lines.append("| allocator | %s | min–max | CPU s | sys s "
                     "| peak RSS MiB | %s | hs RSS ÷ | runs ok |"
                     % (("ops/s (median)", "÷ hs ops/s") if tp else
                        ("time s (median)", "hs time ÷")))
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for a in allocs:
            s = per.get(a)
            if not s:
                continue
            if tp and "tput" in s:
                spread = "%s–%s" % (fmt_ops(s["tput_min"]),
                                    fmt_ops(s["tput_max"]))
                cpu, sy = "%.3f" % s["cpu"], "%.3f" % s["sys"]
            elif "wall" in s and not tp:
                spread = "%.3f–%.3f" % (s["wall_min"], s["wall_max"])
                cpu, sy = "%.3f" % s["cpu"], "%.3f" % s["sys"]
            else:
                spread = cpu = sy = "—"
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
                a, cell_tput(s) if tp else cell_time(s), spread, cpu, sy,
                cell_rss(s),
                fmt_ratio(ratio(per, "wall", a)) if a != REF else "1.00",
                fmt_ratio(ratio(per, "rss", a)) if a != REF else "1.00",
                s["ok"], s["n"]))
        lines.append("")


def verdict(summary, lines):
    misses = []
    for w, per in summary.items():
        t, r = ratio(per, "wall", "jemalloc"), ratio(per, "rss", "jemalloc")
        if REF in per and "wall" not in per[REF]:
            misses.append("%s: heapsight runs failed" % w)
        if t is not None and t > TIME_TARGET and is_throughput(per):
            misses.append("%s: jemalloc's throughput %.2fx heapsight's "
                          "(target <= %.1fx)" % (w, t, TIME_TARGET))
        elif t is not None and t > TIME_TARGET:
            misses.append("%s: time %.2fx jemalloc (target <= %.1fx)"
                          % (w, t, TIME_TARGET))
        if r is not None and r > RSS_TARGET:
            misses.append("%s: peak RSS %.2fx jemalloc (target <= %.1fx)"
                          % (w, r, RSS_TARGET))
    lines.append("### Targets vs jemalloc")
    lines.append("")
    if not misses:
        lines.append("All workloads within target (time <= %.1fx, peak RSS "
                     "<= %.1fx jemalloc)." % (TIME_TARGET, RSS_TARGET))
    for m in misses:
        lines.append("- MISS " + m)
    lines.append("")


# ---- the profiler report ---------------------------------------------------

def metric(r, key):
    """A run's measure for paired ratios.  A fixed-time run's time is
    per operation (operations = throughput x wall time): its paired
    ratios then read like those of the other workloads."""
    cpu = r["user"] + r["sys"]
    if r["tput"] and key in ("wall", "cpu"):
        return 1.0 / r["tput"] if key == "wall" else (
            cpu / (r["tput"] * r["wall"]) if r["wall"] > 0 else 0.0)
    return cpu if key == "cpu" else r[key]


def paired(rows, w, num, den, key):
    """Ratios num/den of runs of workload w from the same repetition."""
    by = {}
    for r in rows:
        if r["workload"] == w and r["status"] == "0" and r["alloc"] in (num, den):
            by.setdefault(r["rep"], {})[r["alloc"]] = metric(r, key)
    return [v[num] / v[den] for v in by.values()
            if num in v and den in v and v[den] > 0]


def fmt_paired(xs, limit=None):
    if not xs:
        return "—"
    m = statistics.median(xs)
    mark = " ✗" if limit is not None and m > limit else ""
    return "%.2f (%.2f–%.2f)%s" % (m, min(xs), max(xs), mark)


def ratio_columns(ratios, allocs):
    return [c for c in ratios if c[0] in allocs and c[1] in allocs]


def geomean(xs):
    return math.exp(statistics.fmean(math.log(x) for x in xs)) if xs else None


def workload_medians(rows, summary, num, den, key):
    """The median paired ratio num/den of every workload that has one."""
    out = []
    for w in summary:
        xs = paired(rows, w, num, den, key)
        if xs:
            out.append(statistics.median(xs))
    return out


def prof_ratio_table(rows, summary, cols, key, title, lines, target=None,
                     geo=False):
    """One paired-ratio table; target = (numerator, denominator, limit)
    marks that column's medians over the limit, on wall and CPU time; geo
    adds a row with each column's geometric mean of the workload
    medians."""
    lines.append("### %s" % title)
    lines.append("")
    lines.append("| workload | " + " | ".join(c[2] for c in cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for w in summary:
        cells = [fmt_paired(paired(rows, w, n, d, key),
                            target[2] if target and (n, d) == target[:2]
                            and key in ("wall", "cpu") else None)
                 for n, d, _ in cols]
        lines.append("| %s | %s |" % (w, " | ".join(cells)))
    if geo:
        cells = []
        for n, d, _ in cols:
            meds = workload_medians(rows, summary, n, d, key)
            cell = fmt_ratio(geomean(meds))
            if meds and len(meds) < len(summary):
                cell += " (%d of %d)" % (len(meds), len(summary))
            cells.append(cell)
        lines.append("| geometric mean | %s |" % " | ".join(cells))
    lines.append("")


def prof_median_table(summary, allocs, key, title, fmt, lines):
    lines.append("### %s" % title)
    lines.append("")
    lines.append("| workload | " + " | ".join(allocs) + " |")
    lines.append("|---|" + "---|" * len(allocs))
    for w, per in summary.items():
        cells = []
        for a in allocs:
            s = per.get(a)
            if not s or key not in s:
                cells.append("FAIL" if s else "—")
            else:
                cells.append(fmt % s[key])
        lines.append("| %s | %s |" % (w, " | ".join(cells)))
    lines.append("")


def aa_noise(rows, summary, lines):
    """The A/A lines (hs_prof_off ÷ heapsight: the same code path)."""
    for key, name in (("wall", "wall"), ("cpu", "CPU")):
        aa = [x for w in summary
              for x in paired(rows, w, "hs_prof_off", "heapsight", key)]
        if not aa:
            continue
        med = [statistics.median(paired(rows, w, "hs_prof_off",
                                        "heapsight", key))
               for w in summary
               if paired(rows, w, "hs_prof_off", "heapsight", key)]
        lines.append("- Noise floor, %s time (A/A: hs_prof_off ÷ "
                     "heapsight, the same code path): single repetitions "
                     "range %.2f–%.2f; the per-workload medians range "
                     "%.2f–%.2f." % (name, min(aa), max(aa), min(med),
                                     max(med)))


def prof_verdict(rows, summary, allocs, lines):
    """The issue's two targets, per workload, on wall and CPU time."""
    lines.append("### Targets: profiler at the default rate (512 KiB)")
    lines.append("")
    have = set(allocs)
    if not {"heapsight", "hs_prof512k"} <= have:
        lines.append("_needs heapsight and hs_prof512k in the run._")
        lines.append("")
        return
    if "hs_prof_off" in have:
        aa_noise(rows, summary, lines)
    for w in summary:
        parts = []
        for key, name in (("wall", "wall"), ("cpu", "CPU")):
            hs = paired(rows, w, "hs_prof512k", "heapsight", key)
            if not hs:
                continue
            m = statistics.median(hs)
            aa = paired(rows, w, "hs_prof_off", "heapsight", key)
            noise = abs(statistics.median(aa) - 1) if aa else 0.0
            part = "%s %+.1f%% %s" % (
                name, 100 * (m - 1),
                "(within 3%)" if m <= PROF_TARGET else "(MISS: over 3%)")
            if abs(m - PROF_TARGET) < 0.01:
                part += " [at the edge]"
            elif noise >= abs(m - PROF_TARGET):
                part += " [A/A off by %.0f%%: too noisy to tell]" % (
                    100 * noise)
            je = paired(rows, w, "je_prof512k", "jemalloc", key)
            if je:
                mj = statistics.median(je)
                # A negative overhead is noise (or a layout accident):
                # compare costs, not luck.
                d = max(m, 1.0) - max(mj, 1.0)
                verdict = ("same as jemalloc's within noise"
                           if abs(d) <= max(PROF_TIE, noise) else
                           "cheaper than jemalloc's" if d < 0 else
                           "dearer than jemalloc's")
                part += ", jemalloc's %+.1f%%: %s" % (100 * (mj - 1), verdict)
            ab = paired(rows, w, "hs_prof512k", "je_prof512k", key)
            if ab:
                part += "; hs÷je profiled %.2f" % statistics.median(ab)
            parts.append(part)
        if parts:
            lines.append("- %s: %s" % (w, "; ".join(parts)))
    lines.append("")
    lines.append("Overheads are medians of paired ratios − 1.  To compare "
                 "them, a negative overhead counts as 0, and two overheads "
                 "closer than %.0f points (or than this workload's A/A "
                 "offset) are called the same." % (100 * PROF_TIE))
    lines.append("")


def variant_order(summary, order):
    seen = {a for per in summary.values() for a in per}
    return [a for a in order if a in seen] + sorted(seen - set(order))


def variant_head(meta, title, target_note, lines):
    lines.extend(["## " + title, ""])
    for m in meta:
        lines.append("- " + m)
    lines.append("")
    lines.append("Ratios are paired per repetition: variant ÷ reference "
                 "from the same repetition, shown as median (min–max) over "
                 "the repetitions; below 1.00 the variant is faster / "
                 "smaller.  " + target_note)
    lines.append("")


def variant_correctness(summary, lines):
    problems = checksum_problems(summary)
    lines.append("### Correctness checks")
    lines.append("")
    if problems:
        lines.extend("- " + p for p in problems)
    else:
        lines.append("Every run exited 0 and every variant produced the "
                     "same checksum for every workload.")
    lines.append("")


def variant_medians(summary, allocs, lines):
    prof_median_table(summary, allocs, "wall", "Wall time (median s)",
                      "%.3f", lines)
    prof_median_table(summary, allocs, "cpu", "CPU time (median s)",
                      "%.3f", lines)
    prof_median_table(summary, allocs, "rss", "Peak RSS (median MiB)",
                      "%.1f", lines)


def render_profile(meta, rows, summary):
    allocs = variant_order(summary, PROF_ORDER)
    lines = []
    variant_head(meta, "heapsight profiler overhead",
                 "✗ marks heapsight's profiler at 512 KiB over the %.0f%% "
                 "target." % (100 * (PROF_TARGET - 1)), lines)
    cols = ratio_columns(PROF_RATIOS, allocs)
    target = ("hs_prof512k", "heapsight", PROF_TARGET)
    prof_ratio_table(rows, summary, cols, "wall",
                     "Wall time ratios", lines, target)
    prof_ratio_table(rows, summary, cols, "cpu",
                     "CPU time (user + sys) ratios", lines, target)
    prof_ratio_table(rows, summary, cols, "rss",
                     "Peak RSS ratios", lines)
    prof_verdict(rows, summary, allocs, lines)
    variant_correctness(summary, lines)
    variant_medians(summary, allocs, lines)
    variant_details(summary, allocs, lines)
    return "\n".join(lines)


def variant_details(summary, allocs, lines):
    lines.append("### Per workload (wall time)")
    lines.append("")
    for w, per in summary.items():
        lines.append("#### %s" % w)
        lines.append("")
        lines.append("| variant | time s (median) | min–max | CPU s | sys s "
                     "| peak RSS MiB | runs ok |")
        lines.append("|---|---|---|---|---|---|---|")
        for a in allocs:
            s = per.get(a)
            if not s:
                continue
            if "wall" in s:
                spread = "%.3f–%.3f" % (s["wall_min"], s["wall_max"])
                cpu, sy = "%.3f" % s["cpu"], "%.3f" % s["sys"]
            else:
                spread = cpu = sy = "—"
            lines.append("| %s | %s | %s | %s | %s | %s | %d/%d |" % (
                a, cell_time(s), spread, cpu, sy, cell_rss(s), s["ok"],
                s["n"]))
        lines.append("")


# ---- the Python report ------------------------------------------------------

def median_ci(xs, level=0.95):
    """Distribution-free confidence interval of the median: the k-th
    smallest and k-th largest value, k as large as keeps P(Binomial(n, 1/2)
    < k) <= (1 - level) / 2.  (lo, hi, coverage) or None when n is too
    small (n < 6 at 95%)."""
    n = len(xs)
    tail, k = 0.0, 0
    while True:
        nxt = tail + math.comb(n, k) / 2.0 ** n
        if nxt > (1 - level) / 2:
            break
        tail, k = nxt, k + 1
    if k < 1:
        return None
    xs = sorted(xs)
    return xs[k - 1], xs[n - k], 1 - 2 * tail


def py_target_part(xs, name):
    """'CPU +1.2% (within 5%) [95% CI ...]' for one metric."""
    m = statistics.median(xs)
    part = "%s %+.1f%% %s" % (name, 100 * (m - 1),
                              "(within 5%)" if m <= PY_TARGET
                              else "(MISS: over 5%)")
    ci = median_ci(xs)
    if ci is None:
        return part + " [too few repetitions for an interval]"
    lo, hi, cov = ci
    part += " [%.0f%% CI %+.1f%%…%+.1f%%" % (100 * cov, 100 * (lo - 1),
                                            100 * (hi - 1))
    if lo <= PY_TARGET < hi:
        part += ": straddles 5%, cannot tell"
    return part + "]"


def tm_part(py, tm, name):
    """How much dearer tracemalloc is than hs_py512k, for one metric."""
    mp, mt = statistics.median(py), statistics.median(tm)
    part = "%s: tracemalloc %+.0f%% vs hs_py512k %+.1f%%" % (
        name, 100 * (mt - 1), 100 * (mp - 1))
    # An overhead inside the noise has no meaningful ratio: compare with
    # half a point instead, and say so.
    floor = 0.005
    if mp - 1 >= floor:
        part += ": %.0fx the overhead" % ((mt - 1) / (mp - 1))
    else:
        part += ": over %.0fx the overhead (hs_py512k's is under %.1f%%)" % (
            (mt - 1) / floor, 100 * floor)
    return part


def py_verdict(rows, summary, allocs, lines):
    lines.append("### Targets: Python frames merged (hs_py512k) vs "
                 "heapsight and vs tracemalloc")
    lines.append("")
    have = set(allocs)
    if not {"heapsight", "hs_py512k"} <= have:
        lines.append("_needs heapsight and hs_py512k in the run._")
        lines.append("")
        return
    if "hs_prof_off" in have:
        aa_noise(rows, summary, lines)
    for w in summary:
        parts = []
        for key, name in (("cpu", "CPU"), ("wall", "wall")):
            xs = paired(rows, w, "hs_py512k", "heapsight", key)
            if xs:
                parts.append(py_target_part(xs, name))
        if parts:
            lines.append("- %s, under 5%%: %s" % (w, "; ".join(parts)))
        parts = []
        for key, name in (("cpu", "CPU"), ("wall", "wall")):
            py = paired(rows, w, "hs_py512k", "heapsight", key)
            tm = paired(rows, w, "hs_tracemalloc", "heapsight", key)
            if py and tm:
                parts.append(tm_part(py, tm, name))
            slow = paired(rows, w, "hs_tracemalloc", "hs_py512k", key)
            if slow and key == "cpu":
                parts[-1] += " (tracemalloc's run %.1fx as long)" % (
                    statistics.median(slow))
        if parts:
            lines.append("- %s, against tracemalloc: %s" % (w, "; ".join(parts)))
        native = paired(rows, w, "hs_py512k", "hs_prof512k", "cpu")
        if native:
            lines.append("- %s, Python frames on top of native-only "
                         "profiling: CPU %+.1f%% (py 512k ÷ native 512k)"
                         % (w, 100 * (statistics.median(native) - 1)))
    lines.append("")
    lines.append("Overheads are medians of paired ratios − 1.  The "
                 "interval is the median's confidence interval over the "
                 "repetitions (order statistics): when it contains 5%, the "
                 "run cannot tell whether the target is met.  The overhead "
                 "ratio is tracemalloc's overhead ÷ hs_py512k's.")
    lines.append("")


def split_interp(w):
    """'python@3.12.1' -> ('python', '3.12.1'); ('python', None)."""
    base, _, tag = w.partition("@")
    return base, tag or None


def py_interp_tables(rows, summary, lines):
    """hs_py512k ÷ heapsight, one row per interpreter, one column per
    workload: median (min–max) [confidence interval of the median], for
    CPU and wall time."""
    tags, bases = [], []
    for w in summary:
        base, tag = split_interp(w)
        if tag is None:
            continue
        if tag not in tags:
            tags.append(tag)
        if base not in bases:
            bases.append(base)
    if not tags:
        return
    for key, name in (("cpu", "CPU time (user + sys)"), ("wall", "Wall time")):
        lines.append("### %s, hs_py512k ÷ heapsight per interpreter" % name)
        lines.append("")
        lines.append("Median (min–max) [confidence interval of the median]; "
                     "✗ = median over %.0f%%, ? = the interval contains "
                     "%.2f." % (100 * (PY_TARGET - 1), PY_TARGET))
        lines.append("")
        lines.append("| interpreter | " + " | ".join(bases) + " |")
        lines.append("|---|" + "---|" * len(bases))
        for tag in tags:
            cells = []
            for base in bases:
                xs = paired(rows, "%s@%s" % (base, tag), "hs_py512k",
                            "heapsight", key)
                if not xs:
                    cells.append("—")
                    continue
                m = statistics.median(xs)
                cell = "%.3f (%.2f–%.2f)" % (m, min(xs), max(xs))
                ci = median_ci(xs)
                if ci:
                    cell += " [%.3f–%.3f]" % ci[:2]
                if m > PY_TARGET:
                    cell += " ✗"
                elif ci and ci[0] <= PY_TARGET < ci[1]:
                    cell += " ?"
                cells.append(cell)
            lines.append("| %s | %s |" % (tag, " | ".join(cells)))
        lines.append("")


def render_python(meta, rows, summary):
    allocs = variant_order(summary, PY_ORDER)
    lines = []
    variant_head(meta, "heapsight Python profiling overhead",
                 "Every variant runs on the same heapsight library; "
                 "heapsight (profiling off) is the reference.  ✗ marks "
                 "hs_py512k over the %.0f%% target."
                 % (100 * (PY_TARGET - 1)), lines)
    cols = ratio_columns(PY_RATIOS, allocs)
    target = ("hs_py512k", "heapsight", PY_TARGET)
    prof_ratio_table(rows, summary, cols, "cpu",
                     "CPU time (user + sys) ratios", lines, target)
    prof_ratio_table(rows, summary, cols, "wall",
                     "Wall time ratios", lines, target)
    prof_ratio_table(rows, summary, cols, "rss",
                     "Peak RSS ratios", lines)
    py_interp_tables(rows, summary, lines)
    py_verdict(rows, summary, allocs, lines)
    variant_correctness(summary, lines)
    variant_medians(summary, allocs, lines)
    variant_details(summary, allocs, lines)
    return "\n".join(lines)


# ---- the checks report ----------------------------------------------------

def ratio_ci_part(xs, name):
    """'CPU 0.955 [96% CI 0.892–1.008]' ("" without ratios)."""
    if not xs:
        return ""
    part = "%s %.3f" % (name, statistics.median(xs))
    ci = median_ci(xs)
    if ci:
        lo, hi, cov = ci
        part += " [%.0f%% CI %.3f–%.3f%s]" % (
            100 * cov, lo, hi, ", excludes 1" if hi < 1 or lo > 1 else "")
    return part


def checks_summary(rows, summary, allocs, lines):
    """Per variant: the geometric means, and per workload the median's
    confidence interval (is the difference resolved by this run?)."""
    lines.append("### Cost of the checks")
    lines.append("")
    if "hs_prof_off" in allocs:
        aa_noise(rows, summary, lines)
    for num, name in (("hs_prof_off", "A/A: the same code path"),
                      ("hs_nochecks", "free-path checks compiled out"),
                      ("hs_checks", "canary:true,junk:true"),
                      ("hs_guards", "guards on every allocation")):
        if num not in allocs or REF not in allocs:
            continue
        parts = []
        for key, kname in (("cpu", "CPU"), ("wall", "wall"), ("rss", "RSS")):
            meds = workload_medians(rows, summary, num, REF, key)
            if meds:
                parts.append("%s %.3f" % (kname, geomean(meds)))
        if meds and len(meds) < len(summary):
            parts.append("over the %d of %d workloads with runs that "
                         "succeeded" % (len(meds), len(summary)))
        lines.append("- %s ÷ heapsight (%s), geometric mean over the "
                     "workloads: %s" % (num, name, ", ".join(parts)))
        for w in summary:
            cis = [ratio_ci_part(paired(rows, w, num, REF, key), kname)
                   for key, kname in (("cpu", "CPU"), ("wall", "wall"))]
            if any(cis):
                lines.append("  - %s: %s" % (w, "; ".join(filter(None, cis))))
    lines.append("")
    lines.append("Ratios below 1.00 are faster / smaller than heapsight: "
                 "for hs_nochecks, 1 − ratio is the share of heapsight's "
                 "time the checks take.  The interval is the median's "
                 "confidence interval over the repetitions (order "
                 "statistics); one that contains 1.00 means this run "
                 "cannot tell the variant from heapsight.")
    lines.append("")


def render_checks(meta, rows, summary):
    allocs = variant_order(summary, CHECK_ORDER)
    lines = []
    variant_head(meta, "heapsight: cost of the misuse checks",
                 "Every row pairs with plain heapsight (reference); "
                 "jemalloc and glibc are there for scale.  The last row is "
                 "the geometric mean of the workload medians.", lines)
    cols = ratio_columns(CHECK_RATIOS, allocs)
    prof_ratio_table(rows, summary, cols, "wall",
                     "Wall time ratios", lines, geo=True)
    prof_ratio_table(rows, summary, cols, "cpu",
                     "CPU time (user + sys) ratios", lines, geo=True)
    prof_ratio_table(rows, summary, cols, "rss",
                     "Peak RSS ratios", lines, geo=True)
    checks_summary(rows, summary, allocs, lines)
    variant_correctness(summary, lines)
    variant_medians(summary, allocs, lines)
    variant_details(summary, allocs, lines)
    return "\n".join(lines)


# ---- bench/prof_micro.sh's raw file -----------------------------------------

COST_COLS = [("hs_cfi", "hs", "cfi (default)"),
             ("hs_libunwind", "hs", "libunwind"), ("hs_gcc", "hs", "gcc"),
             ("hs_fp", "hs", "fp"),
             ("hs_floor", "hs", "fp, prof_bt_max:1 (no walk)"),
             ("je_prof", "je", "jemalloc lg_prof_sample:0")]


def render_micro(path):
    meta, cost, frames, dumps, sym = [], {}, {}, [], {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                if not line.startswith("# format:"):
                    meta.append(line[1:].strip())
                continue
            if not line:
                continue
            t = line.split("\t")
            if t[0] == "cost" and t[6] == "0" and t[4]:
                cost.setdefault(int(t[1]), {}).setdefault(t[2], []).append(
                    float(t[4]))
            elif t[0] == "frames":
                frames.setdefault(int(t[1]), {})[t[2]] = t[3]
            elif t[0] == "dump":
                dumps.append(t[1:])
            elif t[0] == "sym" and t[6] == "0":
                sym.setdefault(t[1], []).append(
                    (float(t[3]), float(t[4]), int(t[5]), t[7], t[8]))
    lines = ["## heapsight profiler micro-benchmarks", ""]
    lines.extend("- " + m for m in meta)
    lines.append("")
    if cost:
        lines.append("### Cost of one sampled allocation + free "
                     "(prof_sample:1, ns)")
        lines.append("")
        lines.append("Each cell: median over runs of the variant's fastest "
                     "round, minus the same allocator's unprofiled median "
                     "(min–max of the runs, minus that median).  Frames: "
                     "the captured stack of the hot site per unwinder.")
        lines.append("")
        cols = [c for c in COST_COLS if any(c[0] in v for v in cost.values())]
        lines.append("| depth | frames (cfi / libunwind / gcc / fp) | unprofiled "
                     "ns/op (hs; je) | " + " | ".join(c[2] for c in cols)
                     + " |")
        lines.append("|---|---|---|" + "---|" * len(cols))
        med = {}
        for d in sorted(cost):
            per = cost[d]
            fr = frames.get(d, {})
            base = {b: statistics.median(per[b]) for b in ("hs", "je")
                    if b in per}
            cells = []
            for v, b, _ in cols:
                if v not in per or b not in base:
                    cells.append("—")
                    continue
                m = statistics.median(per[v]) - base[b]
                med[(d, v)] = m
                cells.append("%.0f (%.0f–%.0f)" % (
                    m, min(per[v]) - base[b], max(per[v]) - base[b]))
            lines.append("| %d | %s | %s | %s |" % (
                d, " / ".join(fr.get(v, "?") for v in
                              ("hs_cfi", "hs_libunwind", "hs_gcc", "hs_fp")),
                "; ".join("%.1f" % base[b] for b in ("hs", "je")
                          if b in base),
                " | ".join(cells)))
        lines.append("")
        ds = sorted(cost)
        if len(ds) >= 2:
            lo, hi = ds[0], ds[-1]
            parts = []
            for v, _, name in cols:
                if (lo, v) in med and (hi, v) in med:
                    parts.append("%s %.0f ns" % (
                        name, (med[(hi, v)] - med[(lo, v)]) / (hi - lo)))
            lines.append("Per extra frame (depth %d → %d): %s."
                         % (lo, hi, ", ".join(parts)))
            lines.append("")
    if dumps:
        lines.append("### Symbolization speed (`heapsight symbolize -v`)")
        lines.append("")
        lines.append("| dump | recorded with | samples | distinct addresses "
                     "| mappings | resolved | wall s median (min–max) | CPU s "
                     "| peak RSS MiB | addresses/s (wall) "
                     "| addresses/s (CPU) |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        pts = []
        for name, how, ns, na, nm, size, gen_wall, gen_rss in dumps:
            runs = sym.get(name, [])
            if not runs:
                lines.append("| %s | `%s` | %s | %s | %s | FAIL | — | — | — "
                             "| — | — |" % (name, how, ns, na, nm))
                continue
            walls = [r[0] for r in runs]
            w = statistics.median(walls)
            c = statistics.median(r[1] for r in runs)
            pts.append((int(na), w, c))
            lines.append("| %s | `%s` | %s | %s | %s | %s of %s | %.3f "
                         "(%.3f–%.3f) | %.3f | %.1f | %.0f | %.0f |" % (
                             name, how, ns, na, nm, runs[0][3], runs[0][4],
                             w, min(walls), max(walls), c,
                             statistics.median(r[2] for r in runs) / 1024.0,
                             int(na) / w if w > 0 else 0,
                             int(na) / c if c > 0 else 0))
        lines.append("")
        if len(pts) >= 2:
            pts.sort()
            (a0, _, c0), (a1, _, c1) = pts[0], pts[-1]
            if a1 > a0 and c1 > c0:
                per = (c1 - c0) / (a1 - a0)
                lines.append("Marginal CPU cost (%d → %d addresses): %.0f µs "
                             "per address, %.0f addresses/s; fixed cost "
                             "(start-up, opening the files and their debug "
                             "information) about %.2f s of CPU." % (
                                 a0, a1, per * 1e6, 1 / per,
                                 c0 - per * a0))
                lines.append("")
    return "\n".join(lines)


# ---- run.sh --callgrind's raw file -------------------------------------------

CG_PEERS = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]


def load_callgrind(path):
    """Metadata and {workload: {alloc: row}}; a row's "ir" is None when
    valgrind reported no count."""
    meta, runs = [], {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                if not line.startswith("# format:"):
                    meta.append(line[1:].strip())
                continue
            if not line:
                continue
            w, a, ir, nproc, status, csum, wall = line.split("\t")
            runs.setdefault(w, {})[a] = {
                "ir": int(ir) if ir.isdigit() else None,
                "nproc": nproc, "status": status, "checksum": csum,
                "wall": float(wall) if wall else None}
    return meta, runs


def cg_cell(r):
    if r is None:
        return "—"
    if r["status"] != "0" or r["ir"] is None:
        return "FAIL(%s)" % r["status"]
    return "%.1f" % (r["ir"] / 1e6)


def cg_best_peer(per):
    """(name, count) of the peer with the fewest instructions, or None."""
    ok = [(per[a]["ir"], a) for a in CG_PEERS
          if a in per and per[a]["status"] == "0" and per[a]["ir"]]
    return (min(ok)[1], min(ok)[0]) if ok else None


def cg_problems(runs):
    problems = []
    for w, per in runs.items():
        ref = next((a for a in ("glibc", REF, "jemalloc") if a in per), None)
        base = per[ref]["checksum"] if ref else None
        for a, r in per.items():
            if r["status"] != "0":
                problems.append("%s/%s: status %s" % (w, a, r["status"]))
            elif r["ir"] is None:
                problems.append("%s/%s: valgrind reported no instruction "
                                "count" % (w, a))
            elif base and r["checksum"] != base:
                problems.append("%s/%s: checksum %s differs from %s's %s"
                                % (w, a, r["checksum"], ref, base))
    return problems


def render_callgrind(path):
    meta, runs = load_callgrind(path)
    seen = {a for per in runs.values() for a in per}
    allocs = [a for a in ALLOC_ORDER if a in seen] + sorted(
        seen - set(ALLOC_ORDER))
    lines = ["## heapsight instruction counts (callgrind)", ""]
    lines.extend("- " + m for m in meta)
    lines.append("")
    lines.append("### Instructions executed (millions; ratio = heapsight ÷ "
                 "the best peer, the one of %s with the fewest)"
                 % ", ".join(CG_PEERS))
    lines.append("")
    lines.append("Valgrind's `Collected :` figure (instructions read, Ir) of "
                 "the workload's own process, one run each: below 1.00 "
                 "heapsight executes fewer instructions than every peer.  "
                 "User-space instructions only: the kernel's work for page "
                 "faults, madvise and mmap is not in them, and neither are "
                 "cache misses.")
    lines.append("")
    head = ["workload"] + ["%s M" % a for a in allocs] + [
        "hs ÷ best peer", "best peer"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for w, per in runs.items():
        row = [w] + [cg_cell(per.get(a)) for a in allocs]
        best = cg_best_peer(per)
        hs = per.get(REF)
        if best and hs and hs["status"] == "0" and hs["ir"]:
            row += ["%.2f" % (hs["ir"] / best[1]), best[0]]
        else:
            row += ["—", best[0] if best else "—"]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("### Correctness checks")
    lines.append("")
    problems = cg_problems(runs)
    if problems:
        lines.extend("- " + p for p in problems)
    else:
        lines.append("Every run exited 0 and every allocator produced "
                     "glibc's checksum for every workload.")
    lines.append("")
    return "\n".join(lines)


def render(path):
    with open(path) as f:
        first = f.readline()
    if first.startswith("# format: prof_micro"):
        return render_micro(path)
    if first.startswith("# format: callgrind"):
        return render_callgrind(path)
    meta, rows = load(path)
    summary = summarize(rows)
    if any(r["alloc"] in CHECK_VARIANTS for r in rows):
        return render_checks(meta, rows, summary)
    if any(r["alloc"] in PY_VARIANTS for r in rows):
        return render_python(meta, rows, summary)
    if any(r["alloc"] in PROF_BASE for r in rows):
        return render_profile(meta, rows, summary)
    allocs = allocs_of(summary)
    lines = ["## heapsight benchmark results", ""]
    for m in meta:
        lines.append("- " + m)
    lines.append("")
    if REF not in allocs:
        lines.append("_heapsight was not measured in this run (library "
                     "missing): peers only, no ratios._")
        lines.append("")
    summary_tables(summary, allocs, lines)
    if REF in allocs:
        verdict(summary, lines)
    problems = checksum_problems(summary)
    lines.append("### Correctness checks")
    lines.append("")
    if problems:
        lines.extend("- " + p for p in problems)
    else:
        lines.append("Every run exited 0 and every allocator produced "
                     "glibc's checksum for every workload.")
    fixed = [w for w, per in summary.items() if is_throughput(per)]
    if fixed:
        lines.append("")
        lines.append("%s: fixed time, so the checksum is a hash of the "
                     "arguments; the program checks every object before "
                     "freeing it and exits 1 on a corrupt one."
                     % ", ".join(fixed))
    lines.append("")
    detail_tables(summary, allocs, lines)
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RAW.tsv")
    print(render(sys.argv[1]))


if __name__ == "__main__":
    main()
