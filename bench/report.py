"""report.py — turns bench/run.sh's raw measurements into markdown tables.

Owns: medians, ratios, target checks and the markdown layout.  Does not own
running anything: it reads one raw TSV written by run.sh, so a run can be
re-rendered (`python3 bench/report.py RAW.tsv`) without re-measuring.

Raw TSV columns (one row per measured run):
    workload allocator rep wall_s maxrss_kib user_s sys_s status checksum
status is the exit code, 128+signal, or "timeout".  Lines starting with
'#' are metadata ("# key: value") and are echoed in the report header.

Ratios are heapsight's median divided by the other allocator's median, so
below 1.00 means heapsight is faster / smaller.  Targets (from the project
brief): time <= 1.5x jemalloc and peak RSS <= 1.3x jemalloc per workload.
"""
import statistics
import sys

ALLOC_ORDER = ["heapsight", "jemalloc", "mimalloc", "tcmalloc", "glibc"]
REF = "heapsight"
TIME_TARGET = 1.5
RSS_TARGET = 1.3


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
            w, a, rep, wall, rss, user, sys_s, status, csum = line.split("\t")
            rows.append({
                "workload": w, "alloc": a, "rep": int(rep),
                "wall": float(wall), "rss": int(rss), "user": float(user),
                "sys": float(sys_s), "status": status, "checksum": csum,
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
            summary[w][a] = s
    return summary


def allocs_of(summary):
    seen = {a for per in summary.values() for a in per}
    return [a for a in ALLOC_ORDER if a in seen] + sorted(seen - set(ALLOC_ORDER))


def ratio(per, key, other):
    h, o = per.get(REF, {}), per.get(other, {})
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


def cell_rss(s):
    return "%.1f" % s["rss"] if s and "rss" in s else "—"


def checksum_problems(summary):
    """Workloads where an allocator's checksum differs from glibc's."""
    problems = []
    for w, per in summary.items():
        base = per.get("glibc", {}).get("checksums")
        for a, s in per.items():
            if len(s["checksums"]) > 1:
                problems.append("%s/%s: checksum varies between runs" % (w, a))
            elif base and s["checksums"] and s["checksums"] != base:
                problems.append("%s/%s: checksum %s differs from glibc's %s"
                                % (w, a, s["checksums"][0], base[0]))
            if s["bad"]:
                problems.append("%s/%s: %d of %d runs failed (status %s)"
                                % (w, a, s["n"] - s["ok"], s["n"],
                                   ",".join(s["bad"])))
    return problems


def summary_tables(summary, allocs, lines):
    others = [a for a in allocs if a != REF]
    have_ref = REF in allocs
    head = ["workload"] + ["%s s" % a for a in allocs]
    if have_ref:
        head += ["hs/%s" % a[:2] if a != "glibc" else "hs/glibc" for a in others]
    lines.append("### Wall time (median seconds; ratio = heapsight ÷ other, "
                 "✗ = over the %.1fx-jemalloc target)" % TIME_TARGET)
    lines.append("")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for w, per in summary.items():
        row = [w] + [cell_time(per.get(a)) for a in allocs]
        if have_ref:
            row += [fmt_ratio(ratio(per, "wall", a),
                              TIME_TARGET if a == "jemalloc" else None)
                    for a in others]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    head = ["workload"] + ["%s MiB" % a for a in allocs]
    if have_ref:
        head += ["hs/%s" % a[:2] if a != "glibc" else "hs/glibc" for a in others]
    lines.append("### Peak RSS (median MiB; ratio = heapsight ÷ other, "
                 "✗ = over the %.1fx-jemalloc target)" % RSS_TARGET)
    lines.append("")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for w, per in summary.items():
        row = [w] + [cell_rss(per.get(a)) for a in allocs]
        if have_ref:
            row += [fmt_ratio(ratio(per, "rss", a),
                              RSS_TARGET if a == "jemalloc" else None)
                    for a in others]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")


def detail_tables(summary, allocs, lines):
    lines.append("### Per workload")
    lines.append("")
    for w, per in summary.items():
        lines.append("#### %s" % w)
        lines.append("")
        lines.append("| allocator | time s (median) | min–max | CPU s | sys s "
                     "| peak RSS MiB | hs time ÷ | hs RSS ÷ | runs ok |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for a in allocs:
            s = per.get(a)
            if not s:
                continue
            if "wall" in s:
                spread = "%.3f–%.3f" % (s["wall_min"], s["wall_max"])
                cpu, sy = "%.3f" % s["cpu"], "%.3f" % s["sys"]
            else:
                spread = cpu = sy = "—"
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
                a, cell_time(s), spread, cpu, sy, cell_rss(s),
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
        if t is not None and t > TIME_TARGET:
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


def render(path):
    meta, rows = load(path)
    summary = summarize(rows)
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
    lines.append("")
    detail_tables(summary, allocs, lines)
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RAW.tsv")
    print(render(sys.argv[1]))


if __name__ == "__main__":
    main()
