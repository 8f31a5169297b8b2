#!/usr/bin/env python3
"""unnamed_test.py — frames without symbols in every report: a native
location with no function name is named `<module>+0x<file offset>`
(offset = address - mapping start + mapping file offset), or
`0x<address>` when its mapping names no file, and two such addresses are
never one frame, one row or one leak site (cli/model.c).

Usage: unnamed_test.py CASE --heapsight EXE [--selfprof EXE --selflib SO]

Each CASE is one CTest test (cli_unnamed_<CASE>); see CASES at the
bottom.  The fixture (written here with ../profgen.py) is a stripped git
and libsqlite3 with no symbol files: eight distinct leaf addresses under
two callers, one address in a mapping with no file name, and two
symbolized locations of one function (those do make one row).  The
expected names are checked against `go tool pprof -raw` (addresses and
mappings), and top's values per name against pprof -top -addresses.

  names       the fixture's expected names equal those computed from
              pprof -raw's locations and mappings
  top         one row per address (by function and by stack), values as
              pprof's per address; no "[git]"
  leaks       one site per stack, each frame with its own address
  diff        one row per site, named by module+offset
  trend       the same over four timed dumps
  flamegraph  one frame per address in the SVG
  graph       one node per address in the DOT (.dot output)
  convert     collapsed stacks with the names
  stripped    a stripped copy of selfprof recorded for real: its frames
              read selfprof+0x..., the offsets are pprof -raw's addresses
              less mapping start plus file offset, and addr2line on the
              unstripped program finds its functions at them

Every case works in its own temporary directory, removed at the end, and
prints what it checked; a failure prints FAIL lines and exits 1.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from profgen import Addr, Native, Profile  # noqa: E402

ARGS = None
TMP = None
FAILURES = []

GIT = "/nonexistent/usr/bin/git"
SQL = "/nonexistent/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6"
GIT_AT = (0x55d0c8a04000, 0x55d0c8c00000, 0x4000)  # start, limit, offset
SQL_AT = (0x7f69c6dd9000, 0x7f69c6ea0000, 0x9000)
ANON_AT = (0x7ffd00000000, 0x7ffd00100000, 0)


def git(off):
    return Addr(GIT, GIT_AT[0] - GIT_AT[2] + off)


def sql(off):
    return Addr(SQL, SQL_AT[0] - SQL_AT[2] + off)


ANON = Addr("", 0x7ffd0000beef)
# A symbolized function at two lines (one row).  Not a malloc wrapper such
# as sqlite3_malloc64: a row's name starts past those (cli/naming.h), and
# these rows are named by their whole stacks.
GROW = "sqlite3VdbeMemGrow"
# (stack leaf first, bytes): bytes < 1 KiB, so that every value prints
# exactly ("200 B"); distinct, so that the order is fixed.
SITES = [
    ([git(0x4a2f0), git(0x51d10), "main"], 200),
    ([git(0x4a31c), git(0x51d10), "main"], 150),
    ([git(0x4b004), git(0x51d10), "main"], 120),
    ([git(0x4b0a8), git(0x5220c), "main"], 100),
    ([git(0x6c9e1), git(0x5220c), "main"], 90),
    ([git(0x6ca07), git(0x5220c), "main"], 80),
    ([sql(0x1c5e3), git(0x5220c), "main"], 70),
    ([sql(0x2d503), git(0x51d10), "main"], 60),
    ([ANON, "main"], 50),
    ([Native(GROW, SQL, "sqlite3.c", 2001), git(0x51d10), "main"], 40),
    ([Native(GROW, SQL, "sqlite3.c", 2010), git(0x51d10), "main"], 30),
]
NAMES = {
    git(0x4a2f0): "git+0x4a2f0", git(0x4a31c): "git+0x4a31c",
    git(0x4b004): "git+0x4b004", git(0x4b0a8): "git+0x4b0a8",
    git(0x6c9e1): "git+0x6c9e1", git(0x6ca07): "git+0x6ca07",
    git(0x51d10): "git+0x51d10", git(0x5220c): "git+0x5220c",
    sql(0x1c5e3): "libsqlite3.so.0.8.6+0x1c5e3",
    sql(0x2d503): "libsqlite3.so.0.8.6+0x2d503",
    ANON: "0x7ffd0000beef",
}
NAME_RE = re.compile(r"^(?:[\w.-]+\+0x[0-9a-f]+|0x[0-9a-f]+)$")


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def run(cmd, env=None):
    """Runs cmd; returns (exit status, stdout, stderr) as text."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, cwd=TMP,
                       timeout=100)
    return p.returncode, p.stdout, p.stderr


def hs(*args):
    """heapsight with a wide terminal; only the symbolizer may complain
    (once per missing module: the fixture's files do not exist)."""
    rc, out, err = run([ARGS.heapsight] + list(args),
                       env=dict(os.environ, COLUMNS="200"))
    other = [ln for ln in err.splitlines() if "symbolize: no file" not in ln]
    check(rc == 0 and not other, "heapsight %s: exit %d, stderr %r"
          % (" ".join(args), rc, err))
    return out


def fixture(name, scale=lambda i: 1, time_nanos=0):
    """The fixture's profile in TMP/name, site i's values times scale(i);
    the first site is split over two samples (one address, one row)."""
    p = Profile(time_nanos=time_nanos)
    for path, at in ((GIT, GIT_AT), (SQL, SQL_AT), ("", ANON_AT)):
        p.place(path, *at)
    for i, (stack, b) in enumerate(SITES):
        b *= scale(i)
        parts = (b // 2, b - b // 2) if i == 0 else (b,)
        for k, v in enumerate(parts):
            p.sample(stack, [1, v, 1, v], labels={"thread": "t%d" % k})
    return p.write(os.path.join(TMP, name))


# ---- go tool pprof ----------------------------------------------------------

def go_env():
    env = dict(os.environ)
    for var in ("HOME", "GOCACHE", "GOPATH", "PPROF_TMPDIR"):
        d = os.path.join(TMP, "go", var.lower())
        os.makedirs(d, exist_ok=True)
        env[var] = d
    env["PPROF_BINARY_PATH"] = os.path.join(TMP, "go", "nobinaries")
    env["GOFLAGS"] = ""
    env["GOTOOLCHAIN"] = "local"
    return env


def pprof(profile, *opts):
    rc, out, err = run(["go", "tool", "pprof", "-symbolize=none"]
                       + list(opts) + [profile], env=go_env())
    check(rc == 0, "go tool pprof %s: exit %d: %s" % (opts, rc, err))
    return out


def pprof_unnamed(profile):
    """{address: name} of pprof -raw's locations without lines, named by
    the rule from its mappings (start/limit/offset file)."""
    out = pprof(profile, "-raw")
    maps, locs = {}, {}
    for m in re.finditer(r"^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+)"
                         r" ?(\S*)", out, re.M):
        maps[m.group(1)] = (int(m.group(2), 16), int(m.group(4), 16),
                            m.group(5))
    for m in re.finditer(r"^\s+\d+: 0x([0-9a-f]+) M=(\d+) *$", out, re.M):
        locs[int(m.group(1), 16)] = m.group(2)
    names = {}
    for addr, mid in locs.items():
        start, offset, path = maps[mid]
        names[addr] = ("%s+0x%x" % (os.path.basename(path),
                                    addr - start + offset)
                       if path else "0x%x" % addr)
    return names


def by_name():
    return {n: a.address for a, n in NAMES.items()}


def frame_name(f):
    """How the reports name a frame of SITES."""
    return f if isinstance(f, str) else NAMES.get(f, getattr(f, "name", ""))


def no_module_rows(text, what):
    """No frame is named after its module alone ("[git]")."""
    for bad in ("[git]", "[libsqlite3", "[]"):
        check(bad not in text, "%s: %r in the output" % (what, bad))


# ---- cases ------------------------------------------------------------------

def case_names():
    prof = fixture("u.pb.gz")
    got = pprof_unnamed(prof)
    want = {a.address: n for a, n in NAMES.items()}
    check(got == want, "names from pprof -raw\n  got  %r\n  want %r"
          % (sorted(got.values()), sorted(want.values())))
    print("names: %d unnamed locations, as pprof -raw places them"
          % len(got))


ROW_RE = re.compile(r"^\s*(\d+) B\s+[\d.]+%\s+[\d.]+%\s+(\d+) B\s+[\d.]+%"
                    r"\s+(.+)$")
PPROF_ROW_RE = re.compile(r"^\s*(\d+)B?\s+[\d.]+%\s+[\d.]+%\s+(\d+)B?\s+"
                          r"[\d.]+%\s+([0-9a-f]{16}) ")


def case_top():
    prof = fixture("u.pb.gz")
    out = hs("top", "-n", "0", prof)
    rows = [ROW_RE.match(ln) for ln in out.splitlines()]
    rows = [m.groups() for m in rows if m]
    names = [n for _, _, n in rows]
    check(len(names) == len(set(names)), "top: a name twice: %r" % names)
    ours = {n: (int(f), int(c)) for f, c, n in rows}
    theirs = {}
    for ln in pprof(prof, "-top", "-addresses", "-nodecount=1000",
                    "-unit=byte").splitlines():
        m = PPROF_ROW_RE.match(ln)
        if m:
            theirs[int(m.group(3), 16)] = (int(m.group(1)), int(m.group(2)))
    for name, addr in by_name().items():
        check(name in ours and ours[name] == theirs.get(addr),
              "top: %s (0x%x): ours %r, pprof -addresses %r"
              % (name, addr, ours.get(name), theirs.get(addr)))
    check(ours.get(GROW) == (70, 70),
          "top: %s's two lines are one row of 70 B: %r"
          % (GROW, ours.get(GROW)))
    no_module_rows(out, "top")
    stacks = hs("top", "--by", "stack", "-n", "0", prof)
    for want in set(site_names()):
        check(stacks.count("  %s\n" % want) == 1,
              "top --by stack: no single row %r" % want)
    print("top: %d rows, unnamed ones as pprof -top -addresses" % len(rows))


def leaks_sites(out):
    """[[(name, where)]] of leaks' sites, frames innermost first."""
    sites = []
    for ln in out.splitlines():
        if ln.startswith("#"):
            sites.append([])
        elif ln.startswith("    ") and sites:
            parts = re.split(r"\s{2,}", ln.strip(), maxsplit=1)
            sites[-1].append((parts[0], parts[1] if len(parts) > 1 else ""))
    return sites


def case_leaks():
    prof = fixture("u.pb.gz")
    out = hs("leaks", "-n", "0", prof)
    sites = leaks_sites(out)
    check(len(sites) == len(SITES), "leaks: %d sites, want %d (one per "
          "stack)" % (len(sites), len(SITES)))
    addr = {n: "0x%x" % a for a, n in pprof_unnamed(prof).items()}
    seen = set()
    for site in sites:
        for name, where in site:
            if not NAME_RE.match(name):
                continue
            seen.add(name)
            check(where == addr.get(name), "leaks: %s printed at %s, "
                  "pprof -raw has it at %s" % (name, where, addr.get(name)))
    check(seen == set(NAMES.values()), "leaks: frames %r, want %r"
          % (sorted(seen), sorted(NAMES.values())))
    leaves = [s[0][0] for s in sites if s]
    check(len(set(leaves)) == len(leaves) - 1,  # GROW at two lines
          "leaks: leaves %r" % leaves)
    no_module_rows(out, "leaks")
    print("leaks: %d sites, every unnamed frame at its own address"
          % len(sites))


def site_names():
    """The fixture's sites as diff and trend name them."""
    return [" ← ".join(map(frame_name, stack)) for stack, _ in SITES]


def check_site_rows(out, what):
    rows = [ln for ln in out.splitlines() if " ← " in ln]
    for name in set(site_names()):
        n = sum(ln.endswith("  " + name) for ln in rows)
        check(n == 1, "%s: %d rows for %r, want 1" % (what, n, name))
    no_module_rows(out, what)
    print("%s: %d rows, one per site" % (what, len(rows)))


def case_diff():
    base = fixture("base.pb.gz")
    new = fixture("new.pb.gz", scale=lambda i: 2 + i % 3)
    check_site_rows(hs("diff", "-n", "0", base, new), "diff")


def case_trend():
    dumps = [fixture("d%d.pb.gz" % k, scale=lambda i, k=k: k + 1,
                     time_nanos=1700000000000000000 + k * 10 ** 10)
             for k in range(4)]
    check_site_rows(hs("trend", "-n", "0", *dumps), "trend")


def case_flamegraph():
    prof = fixture("u.pb.gz")
    svg = os.path.join(TMP, "u.svg")
    hs("flamegraph", prof, "-o", svg)
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.parse(svg).getroot()
    frames = []  # (name, parent name)

    def walk(elem, parent):
        for g in elem.findall(ns + "g"):
            if "f" in g.get("class", "").split():
                name = g.find(ns + "title").text.split("\n")[0]
                frames.append((name, parent))
                walk(g, name)

    walk(root.find(ns + "g[@class='frames']"), None)
    for stack, _ in SITES:
        leaf, caller = frame_name(stack[0]), frame_name(stack[1])
        n = frames.count((leaf, caller))
        check(n == 1 or leaf == GROW,
              "flamegraph: %d frames %s above %s" % (n, leaf, caller))
    no_module_rows("\n".join(n for n, _ in frames), "flamegraph")
    print("flamegraph: %d frames, one per address" % len(frames))


def case_graph():
    prof = fixture("u.pb.gz")
    dot = os.path.join(TMP, "u.dot")
    hs("graph", prof, "-o", dot)
    with open(dot, encoding="utf-8") as f:
        text = f.read()
    tips = re.findall(r'^  N\d+ \[label="([^"]*)".* tooltip="([^"]*)"\]$',
                      text, re.M)
    nodes = {tip: label for label, tip in tips}
    for name in NAMES.values():
        label = nodes.get(name, "").split("\\n")
        value = [re.match(r"\d+ B \(", ln) is not None for ln in label]
        shown = "".join(label[:value.index(True)]) if any(value) else None
        check(shown == name, "graph: node of %s shows %r" % (name, shown))
    check(len(tips) == len(set(t for _, t in tips)), "graph: a node twice")
    no_module_rows(text, "graph")
    print("graph: %d nodes, one per address" % len(tips))


def case_convert():
    prof = fixture("u.pb.gz")
    out = hs("convert", prof, "--to", "collapsed")
    for stack, b in SITES[:9]:
        names = [frame_name(f) for f in reversed(stack)]
        check("%s %d\n" % (";".join(names), b) in out,
              "convert: no line %r" % ";".join(names))
    no_module_rows(out, "convert")
    print("convert: %d lines" % len(out.splitlines()))


# ---- a real stripped program ------------------------------------------------

def addr2line(exe, offset):
    """The functions (inlined first) at offset in exe."""
    rc, out, _ = run(["addr2line", "-f", "-i", "-e", exe, "0x%x" % offset])
    return out.splitlines()[0::2] if rc == 0 else []


def case_stripped():
    import cli_test  # noqa: E402  (tests/cli/cli_test.py: stage, record)
    cli_test.TMP = TMP
    cli_test.ARGS = types.SimpleNamespace(selfprof=ARGS.selfprof,
                                          selflib=ARGS.selflib)
    exe, lib = cli_test.stage_program("stripped", strip=True)
    prof = os.path.join(TMP, "raw.pb.gz")
    cli_test.record(exe, lib, prof)
    unnamed = pprof_unnamed(prof)
    mine = {a: n for a, n in unnamed.items() if n.startswith("selfprof+")}
    sites = leaks_sites(hs("leaks", prof))
    frames = [f for s in sites for f in s]
    shown = {n: w for n, w in frames if n.startswith("selfprof+")}
    want = {n: "0x%x" % a for a, n in mine.items()}
    check(len(mine) >= 2 and shown == want,
          "stripped: leaks shows %r, pprof -raw has %r" % (shown, want))
    top = hs("top", "-n", "0", prof)
    for name in mine.values():
        check(top.count("  %s\n" % name) == 1, "stripped: top: no row %s"
              % name)
        funcs = addr2line(ARGS.selfprof, int(name.split("+")[1], 16))
        check(set(funcs) & {"main", "prog_outer", "prog_inlined", "_start"},
              "stripped: %s: addr2line on the unstripped program says %r"
              % (name, funcs))
    no_module_rows(top, "stripped")
    print("stripped: %s" % ", ".join(sorted(mine.values())))


CASES = {
    "names": case_names,
    "top": case_top,
    "leaks": case_leaks,
    "diff": case_diff,
    "trend": case_trend,
    "flamegraph": case_flamegraph,
    "graph": case_graph,
    "convert": case_convert,
    "stripped": case_stripped,
}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--heapsight", required=True)
    ap.add_argument("--selfprof")
    ap.add_argument("--selflib")
    ARGS = ap.parse_args()
    TMP = tempfile.mkdtemp(prefix="hs-unnamed-")
    try:
        CASES[ARGS.case]()
    except Exception as e:  # a crash of the test itself is a failure too
        fail("%s: %s: %s" % (ARGS.case, type(e).__name__, e))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%s: %s" % (ARGS.case, "FAILED (%d)" % len(FAILURES)
                      if FAILURES else "ok"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
