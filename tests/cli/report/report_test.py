#!/usr/bin/env python3
"""report_test.py — tests of `heapsight top`, `leaks`, `merge` and `convert`.

Usage: report_test.py CASE --heapsight EXE [--lib SO] [--leaky EXE] [--regen]

Each CASE is one CTest test (cli_report_<CASE>); see CASES at the bottom.

  golden_top, golden_leaks, golden_convert
      run the command on fixed profiles written by tests/cli/profgen.py and
      compare its standard output, exit status and standard error with
      golden/<name>.txt (COLUMNS is set in each, so widths are fixed).
      `report_test.py golden --regen --heapsight build/bin/heapsight`
      rewrites every golden file instead (all three groups); read the
      diff before committing it.
  top_vs_pprof   top's flat and cum per function equal `go tool pprof
                 -top`'s on a fixture (recursion, inlining, filters).
  merge          fixtures: totals of each sample type in OUT (go tool
                 pprof -top) are the inputs' sums; duplicates summed,
                 mappings moved by ASLR merged, comments, times, period
                 warning, mismatched sample types.
  merge_real     two real runs of leaky.c merged: totals, ASLR.
  convert_pprof  convert --to pprof of an unsymbolized real dump: go tool
                 pprof reads it, names are there, totals unchanged.
  real_dump      leaky.c under `heapsight run --sample 1k`: top, leaks
                 and collapsed stacks agree with go tool pprof -top.
  usage          usage errors and --help: exit 2, one line.
  bad_input      unreadable and malformed profiles: exit 2, one line
                 naming the file.

Every case works in its own temporary directory, removed at the end, and
prints what it checked; a failure prints FAIL lines and exits 1.
"""

import argparse
import gzip
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from profgen import Profile  # noqa: E402  (tests/cli/profgen.py)

GOLDEN = os.path.join(HERE, "golden")
ARGS = None
TMP = None
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def run(cmd, env=None, cwd=None):
    """Runs cmd; returns (exit status, stdout, stderr) as text."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, cwd=cwd,
                       timeout=100)
    return p.returncode, p.stdout, p.stderr


def hs(*args, columns=80, cwd=None):
    env = dict(os.environ, COLUMNS=str(columns))
    return run([ARGS.heapsight] + list(args), env=env, cwd=cwd or TMP)


def one_error_line(err, what):
    """stderr must be exactly one line starting with 'heapsight: '."""
    lines = err.splitlines()
    ok = len(lines) == 1 and lines[0].startswith("heapsight: ")
    check(ok, "%s: want one 'heapsight: ' line on stderr, got %r"
          % (what, err))
    return lines[0] if lines else ""


def fmt_value(v, unit):
    """model_fmt_value (cli/model.c) in Python: "12.4 MiB", "1.23 k"."""
    sign = "-" if v < 0 else ""
    a = abs(float(v))
    nbytes = unit == "bytes"
    names = (["B", "KiB", "MiB", "GiB", "TiB", "PiB"] if nbytes
             else ["", "k", "M", "G", "T", "P"])
    base = 1024.0 if nbytes else 1000.0
    k = 0
    while a >= base and k < 5:
        a /= base
        k += 1
    if k == 0:
        return "%s%.0f%s%s" % (sign, a, " " if nbytes else "", names[0])
    return "%s%.*f %s" % (sign, 2 if a < 10 else 1 if a < 100 else 0, a,
                          names[k])


# ---- fixtures ---------------------------------------------------------------

HEAP = (("alloc_objects", "count"), ("alloc_space", "bytes"),
        ("inuse_objects", "count"), ("inuse_space", "bytes"))
T0 = 1700000000000000000  # 2023-11-14 22:13:20 UTC
LONG = ("std::vector<std::pair<std::string, std::unordered_map<int, double>"
        ">>::emplace_back<std::pair<std::string, double>>(...)")
LONG_FILE = "/usr/include/c++/12/bits/vector.tcc"
MALLOC = {"thread": "main", "allocator": "malloc"}
PYMALLOC = {"thread": "worker", "allocator": "pymalloc"}


def size(n):
    return {"bytes": (n, "bytes")}


def fixture_basic(path, mapping_start=0x400000, period=524288,
                  comments=("fixture: basic",), time_nanos=T0,
                  duration=5 * 10**9, address=True):
    """Stacks with recursion, inlining, one function at two lines, a long
    C++ name, a ';' in a name, a freed site, an address without symbols
    and a sample without frames.  Values: alloc_objects, alloc_space,
    inuse_objects, inuse_space."""
    p = Profile(types=HEAP, period=period, time_nanos=time_nanos,
                duration_nanos=duration, comments=comments)
    p.mapping_start = mapping_start
    p.mapping_limit = mapping_start + 0x400000
    p.sample(["json_parse", "load_config", "main"],
             [100, 6400, 40, 2560], MALLOC, size(64))
    # The same stack from another thread, with bigger objects: the same
    # site for leaks; from another allocator: another site.
    p.sample(["json_parse", "load_config", "main"],
             [10, 1280, 4, 512], {"thread": "worker", "allocator": "malloc"},
             size(128))
    p.sample(["json_parse", "load_config", "main"],
             [6, 384, 6, 384], PYMALLOC, size(64))
    p.sample([("parse", "parse.c", 10), "load_config", "main"],
             [50, 51200, 10, 10240], MALLOC, size(1024))
    p.sample([("parse", "parse.c", 30), "load_config", "main"],
             [20, 81920, 20, 81920], PYMALLOC, size(4096))
    p.sample(["leaf_alloc", "recurse", "recurse", "recurse", "main"],
             [30, 983040, 16, 524288], MALLOC, size(32768))
    p.sample(["recurse", "recurse", "main"],
             [8, 2048, 8, 2048], MALLOC, size(256))
    p.sample([[("inl_helper", "util.h", 5), ("outer_fn", "outer.c", 20)],
              "main"], [5, 10240, 2, 4096], MALLOC, size(2048))
    p.sample([(LONG, LONG_FILE, 123), ("run_job;retry", "jobs.c", 44),
              "main"], [12, 3 << 20, 12, 3 << 20], MALLOC, size(262144))
    p.sample(["free_later", "main"], [200, 102400, 0, 0], MALLOC, size(512))
    if address:  # symbolized on the fly: "no file for ..." on stderr
        p.sample([mapping_start + 0x1234, "main"], [1, 4096, 1, 4096],
                 None, size(4096))
    p.sample([], [3, 300, 1, 100])
    p.write(path)
    return path


def fixture_clean(path):
    """Everything freed: nothing live."""
    p = Profile(types=HEAP, time_nanos=T0)
    p.sample(["tmp_buffer", "main"], [10, 640, 0, 0], MALLOC, size(64))
    p.sample(["scratch", "main"], [4, 16384, 0, 0], MALLOC, size(4096))
    p.write(path)
    return path


def fixture_cpu(path):
    """Not a heap profile: no inuse_* types."""
    p = Profile(types=(("samples", "count"), ("cpu", "nanoseconds")),
                default="cpu")
    p.sample(["spin", "main"], [5, 50000000])
    p.write(path)
    return path


def fixtures():
    """Writes the golden cases' profiles into TMP."""
    fixture_basic(os.path.join(TMP, "basic.pb.gz"))
    fixture_clean(os.path.join(TMP, "clean.pb.gz"))
    p = Profile(types=HEAP)  # no samples at all
    p.write(os.path.join(TMP, "empty.pb.gz"))


# ---- golden files -----------------------------------------------------------

# (golden name, COLUMNS, arguments); the profiles are in the cwd.
GOLDEN_TOP = [
    ("top_default", 80, ["top", "basic.pb.gz"]),
    ("top_alloc_objects", 80, ["top", "basic.pb.gz", "--sample-index",
                               "alloc_objects"]),
    ("top_alloc_space_by_index", 80, ["top", "basic.pb.gz",
                                      "--sample-index", "1"]),
    ("top_by_file", 80, ["top", "basic.pb.gz", "--by", "file"]),
    ("top_by_line", 80, ["top", "basic.pb.gz", "--by", "line"]),
    ("top_by_stack", 80, ["top", "basic.pb.gz", "--by", "stack"]),
    ("top_by_stack_narrow", 60, ["top", "basic.pb.gz", "--by", "stack",
                                 "-n", "4"]),
    ("top_n3", 80, ["top", "basic.pb.gz", "-n", "3"]),
    ("top_n0_narrow", 50, ["top", "-n", "0", "basic.pb.gz"]),
    ("top_focus", 80, ["top", "basic.pb.gz", "--focus", "recurse"]),
    ("top_ignore", 80, ["top", "basic.pb.gz", "--ignore",
                        "^(parse|recurse)$"]),
    ("top_focus_ignore", 80, ["top", "basic.pb.gz", "--focus",
                              "load_config", "--ignore", "^json_",
                              "--sample-index", "alloc_space"]),
    ("top_focus_nothing", 80, ["top", "basic.pb.gz", "--focus", "nomatch"]),
    ("top_empty", 80, ["top", "empty.pb.gz"]),
]
GOLDEN_LEAKS = [
    ("leaks_default", 80, ["leaks", "basic.pb.gz"]),
    ("leaks_n2_narrow", 50, ["leaks", "basic.pb.gz", "-n", "2"]),
    ("leaks_all_error", 100, ["leaks", "-n", "0", "--error",
                              "basic.pb.gz"]),
    ("leaks_clean", 80, ["leaks", "clean.pb.gz"]),
    ("leaks_clean_error", 80, ["leaks", "--error", "clean.pb.gz"]),
]
GOLDEN_CONVERT = [
    ("convert_collapsed", 80, ["convert", "basic.pb.gz", "--to",
                               "collapsed"]),
    ("convert_collapsed_alloc_objects", 80,
     ["convert", "basic.pb.gz", "--to", "collapsed", "--sample-index",
      "alloc_objects"]),
    ("convert_collapsed_to_file", 80,
     ["convert", "basic.pb.gz", "--to", "collapsed", "-o",
      "collapsed.txt"]),
]
GOLDEN_GROUPS = {"golden_top": GOLDEN_TOP, "golden_leaks": GOLDEN_LEAKS,
                 "golden_convert": GOLDEN_CONVERT}


def golden_text(args, columns):
    """What a golden file holds: the command, exit status, stderr, stdout
    (and a file it wrote with -o)."""
    rc, out, err = hs(*args, columns=columns)
    text = "$ COLUMNS=%d heapsight %s\n# exit %d\n" % (
        columns, " ".join(shlex.quote(a) for a in args), rc)
    for line in err.splitlines():
        text += "# stderr: %s\n" % line
    text += out
    if "-o" in args:
        written = os.path.join(TMP, args[args.index("-o") + 1])
        with open(written) as f:
            text += "# %s:\n%s" % (args[args.index("-o") + 1], f.read())
    return text


def run_golden(groups):
    fixtures()
    for group in groups:
        for name, columns, args in GOLDEN_GROUPS[group]:
            path = os.path.join(GOLDEN, name + ".txt")
            got = golden_text(args, columns)
            if ARGS.regen:
                with open(path, "w") as f:
                    f.write(got)
                print("wrote %s" % path)
                continue
            with open(path) as f:
                want = f.read()
            if check(got == want, "%s differs from %s" % (name, path)):
                print("%s: ok" % name)
            else:
                show_diff(want, got)


def show_diff(want, got):
    import difflib
    for line in difflib.unified_diff(want.splitlines(), got.splitlines(),
                                     "golden", "got", lineterm=""):
        print("  " + line)


def case_golden():
    run_golden(sorted(GOLDEN_GROUPS))


def case_golden_top():
    run_golden(["golden_top"])


def case_golden_leaks():
    run_golden(["golden_leaks"])


def case_golden_convert():
    run_golden(["golden_convert"])


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
    check(rc == 0, "go tool pprof %s %s: exit %d: %s"
          % (" ".join(opts), profile, rc, err.strip()))
    return out


def pprof_total(profile, sample_index):
    """The exact total of -top for one sample type (-unit=byte prints raw
    numbers: "of 4736B total", "of 11byte total")."""
    out = pprof(profile, "-top", "-nodecount=1", "-unit=byte",
                "-sample_index=" + sample_index)
    m = re.search(r"of (-?\d+)\D* total", out)
    if not check(m is not None, "no total in pprof -top: %r" % out[:400]):
        return None
    return int(m.group(1))


TOP_ROW = re.compile(r"^\s*(\S+)\s+(\S+)%\s+(\S+)%\s+(\S+)\s+(\S+)%\s+(.*)$")


def pprof_rows(profile, sample_index, *opts):
    """{function: (flat, cum)} of pprof -top (counts: plain integers)."""
    out = pprof(profile, "-top", "-nodefraction=0", "-nodecount=100000",
                "-sample_index=" + sample_index, *opts)
    rows, started = {}, False
    for line in out.splitlines():
        if line.strip().startswith("flat"):
            started = True
            continue
        m = TOP_ROW.match(line) if started else None
        if m:
            name = m.group(6).replace(" (inline)", "").strip()
            rows[name] = (int(m.group(1)), int(m.group(4)))
    return rows


def our_rows(out):
    """{name: (flat, cum)} of `heapsight top` (counts below 1000)."""
    rows, started = {}, False
    for line in out.splitlines():
        if line.strip().startswith("flat"):
            started = True
            continue
        m = TOP_ROW.match(line) if started else None
        if m:
            rows[m.group(6).strip()] = (int(m.group(1)), int(m.group(4)))
    return rows


def as_pprof_names(rows):
    """Our rows with frames without symbols named as pprof -top names
    them: "libfake.so+0x1234" (module, file offset) becomes "[libfake.so]",
    one row per module (sums: right while no stack holds two addresses of
    one module, as in the fixtures)."""
    out = {}
    for name, (flat, cum) in rows.items():
        m = re.match(r"^(\S+)\+0x[0-9a-f]+$", name)
        key = "[%s]" % m.group(1) if m else name
        f0, c0 = out.get(key, (0, 0))
        out[key] = (f0 + flat, c0 + cum)
    return out


def our_total(out):
    m = re.search(r"^Total: (.*?)(?: of .*)?$", out, re.M)
    return m.group(1) if m else None


# ---- top against pprof ------------------------------------------------------

def case_top_vs_pprof():
    prof = fixture_basic(os.path.join(TMP, "basic.pb.gz"))
    for opts, ours in (([], []),
                       (["-focus=recurse"], ["--focus", "recurse"]),
                       (["-ignore=^(parse|recurse)$"],
                        ["--ignore", "^(parse|recurse)$"]),
                       (["-focus=load_config", "-ignore=^json_"],
                        ["--focus", "load_config", "--ignore", "^json_"])):
        for sidx in ("alloc_objects", "inuse_objects"):
            theirs = pprof_rows(prof, sidx, *opts)
            rc, out, err = hs("top", prof, "-n", "0", "--sample-index", sidx,
                              *ours, columns=400)
            check(rc == 0, "top %s: exit %d %s" % (sidx, rc, err))
            mine = as_pprof_names(our_rows(out))
            mine.pop("[no stack]", None)  # pprof lists no such node
            check(mine == theirs, "top %s %s vs pprof -top:\n  ours   %r\n"
                  "  pprof  %r" % (sidx, " ".join(ours), mine, theirs))
            print("%-14s %-28s %d functions agree with pprof -top"
                  % (sidx, " ".join(ours), len(mine)))
    # Totals in bytes, formatted as we format them.
    for sidx in ("alloc_space", "inuse_space"):
        rc, out, _ = hs("top", prof, "--sample-index", sidx)
        want = fmt_value(pprof_total(prof, sidx), "bytes")
        check(our_total(out) == want, "total %s: ours %r, pprof %r"
              % (sidx, our_total(out), want))


# ---- merge ------------------------------------------------------------------

def raw_field(path, name):
    """Lines of pprof -raw's header starting with name (Comment, Time...)."""
    return [l.split(": ", 1)[1] for l in pprof(path, "-raw").splitlines()
            if l.startswith(name + ": ")]


def raw_counts(path):
    """(samples, locations, mappings) in pprof -raw."""
    out = pprof(path, "-raw")
    section, n = None, {"Samples": 0, "Locations": 0, "Mappings": 0}
    for line in out.splitlines():
        if line.rstrip(":") in n:
            section = line.rstrip(":")
            continue
        if section == "Samples" and re.match(r"^\s+-?\d+(\s+-?\d+)*: ", line):
            n["Samples"] += 1
        elif section == "Locations" and re.match(r"^\s+\d+: 0x", line):
            n["Locations"] += 1
        elif section == "Mappings" and re.match(r"^\d+: ", line.strip()):
            n["Mappings"] += 1
    return n["Samples"], n["Locations"], n["Mappings"]


def check_totals(out, inputs, what):
    for sidx, _ in HEAP:
        want = sum(pprof_total(p, sidx) for p in inputs)
        got = pprof_total(out, sidx)
        check(got == want, "%s: %s total %r, inputs sum %r"
              % (what, sidx, got, want))
    print("%s: totals of the 4 sample types = the inputs' sums" % what)


def case_merge():
    a = fixture_basic(os.path.join(TMP, "a.pb.gz"),
                      comments=("fixture: basic", "host: a"))
    # b: the same program in another process: its library is mapped
    # elsewhere (ASLR), another period, later and longer.
    b = fixture_basic(os.path.join(TMP, "b.pb.gz"), mapping_start=0x7f0000,
                      period=1024, comments=("fixture: basic", "host: b"),
                      time_nanos=T0 + 2 * 10**9, duration=10 * 10**9)
    c = os.path.join(TMP, "c.pb.gz")
    p = Profile(types=HEAP, time_nanos=T0 - 10**9, duration_nanos=10**9)
    p.sample(["json_parse", "load_config", "main"], [1, 64, 1, 64],
             {"thread": "other", "allocator": "malloc"}, size(64))
    p.sample(["only_in_c", "main"], [7, 700, 7, 700], MALLOC, size(100))
    p.write(c)
    out = os.path.join(TMP, "merged.pb.gz")
    rc, o, err = hs("merge", a, b, c, "-o", out)
    line = one_error_line(err, "merge with another period")
    check(rc == 0 and "warning" in line and "b.pb.gz" in line
          and "1024" in line and "524288" in line,
          "period warning: exit %d %r" % (rc, line))
    print("period: %s" % line)
    check_totals(out, [a, b, c], "merge a b c")
    # Equal samples summed: a and b have the same stacks and labels (b's
    # address moved with its mapping), c adds one new sample and one
    # with another thread label.
    na, la, ma = raw_counts(a)
    n, l, mp = raw_counts(out)
    check((n, l, mp) == (na + 2, la + 1, ma),
          "merged samples/locations/mappings %r, want %r"
          % ((n, l, mp), (na + 2, la + 1, ma)))
    print("a: %d samples %d locations %d mappings; merged: %d %d %d"
          % (na, la, ma, n, l, mp))
    comments = raw_field(out, "Comment")
    check(comments == ["fixture: basic", "host: a", "host: b"],
          "comments %r" % comments)
    check(raw_field(out, "Period") == ["524288"], "period kept: %r"
          % raw_field(out, "Period"))
    # c starts 1 s before a; b ends 12 s after a's start: 13 s in all.
    top = pprof(out, "-top", "-sample_index=inuse_objects")
    dur = re.findall(r"^Duration: ([^,]*),", top, re.M)
    check(dur == ["13s"], "duration %r, want 13s" % dur)
    check("Time: Nov 14, 2023 at 10:13pm" in top, "start time: %r"
          % top[:300])
    print("comments %r, duration %s" % (comments, dur))
    # Merging a profile with itself doubles every value, adds nothing.
    twice = os.path.join(TMP, "twice.pb.gz")
    rc, _, err = hs("merge", a, a, "-o", twice)
    check(rc == 0 and not err, "merge a a: exit %d %r" % (rc, err))
    check(raw_counts(twice) == raw_counts(a), "a + a: %r vs %r"
          % (raw_counts(twice), raw_counts(a)))
    check_totals(twice, [a, a], "merge a a")
    # One input, written over itself.
    one = os.path.join(TMP, "one.pb.gz")
    shutil.copy(c, one)
    rc, _, err = hs("merge", one, "-o", one)
    check(rc == 0 and not err, "merge one -o one: %d %r" % (rc, err))
    check_totals(one, [c], "merge c -o itself")
    merge_errors(a)


def merge_errors(a):
    cpu = fixture_cpu(os.path.join(TMP, "cpu.pb.gz"))
    out = os.path.join(TMP, "bad.pb.gz")
    rc, _, err = hs("merge", a, cpu, "-o", out)
    line = one_error_line(err, "merge with other sample types")
    check(rc == 2 and cpu in line and a in line and "sample types" in line,
          "mismatch: exit %d %r" % (rc, line))
    check(not os.path.exists(out), "nothing written on a mismatch")
    print("mismatch -> exit %d: %s" % (rc, line))
    rc, _, err = hs("merge", a, os.path.join(TMP, "nosuch.pb.gz"), "-o", out)
    line = one_error_line(err, "merge of a missing file")
    check(rc == 2 and "nosuch.pb.gz" in line and not os.path.exists(out),
          "missing input: exit %d %r" % (rc, line))
    rc, _, err = hs("merge", a, "-o", os.path.join(TMP, "no", "dir.pb.gz"))
    line = one_error_line(err, "merge to a bad path")
    check(rc == 1 and "cannot write" in line, "unwritable: %d %r"
          % (rc, line))


# ---- real dumps -------------------------------------------------------------

def marker_line(marker):
    with open(os.path.join(HERE, "leaky.c")) as f:
        for i, line in enumerate(f, 1):
            if "/* @%s */" % marker in line:
                return i
    raise RuntimeError("no marker @%s in leaky.c" % marker)


def leaky_run(tag):
    """leaky.c under `heapsight run --sample 1k`; returns its dump."""
    out = os.path.join(TMP, tag)
    rc, o, e = run([ARGS.heapsight, "run", "--lib", ARGS.lib, "--sample",
                    "1k", "--out", out, "--", ARGS.leaky])
    check(rc == 0 and o.startswith("leaky: done"), "leaky: exit %d %r %r"
          % (rc, o, e))
    # The final dump (the peak profile beside it is another file).
    dumps = [l.split(": ", 2)[2] for l in e.splitlines()
             if l.startswith("heapsight: profile: ") and ".final." in l]
    if not check(len(dumps) == 1, "one dump from leaky, got %r" % e):
        raise RuntimeError("no dump")
    return dumps[0]


def leaky_raw(tag):
    """leaky.c with the library preloaded by hand: an unsymbolized dump."""
    out = os.path.join(TMP, tag)
    os.makedirs(out)
    env = dict(os.environ, LD_PRELOAD=ARGS.lib,
               HEAPSIGHT="prof:true,prof_final:true,prof_sample:1024,"
               "prof_prefix:%s/raw" % out)
    rc, o, e = run([ARGS.leaky], env=env)
    check(rc == 0, "leaky preloaded: exit %d %r" % (rc, e))
    dumps = [os.path.join(out, f) for f in os.listdir(out)
             if f.endswith(".final.pb.gz")]
    if not check(len(dumps) == 1, "one raw dump, got %r" % dumps):
        raise RuntimeError("no dump")
    return dumps[0]


def case_real_dump():
    dump = leaky_run("run")
    totals = {sidx: pprof_total(dump, sidx) for sidx, _ in HEAP}
    print("pprof totals: %r" % totals)
    for sidx, unit in HEAP:
        rc, out, err = hs("top", dump, "--sample-index", sidx)
        check(rc == 0 and our_total(out) == fmt_value(totals[sidx], unit),
              "top %s: total %r, pprof %r" % (sidx, our_total(out),
                                              fmt_value(totals[sidx], unit)))
    # The heaviest functions and their flat values, as pprof has them.
    rc, out, err = hs("top", dump, "-n", "5", columns=200)
    print(out)
    rows = re.findall(r"^\s*(\S+ \S+)\s+\S+%\s+\S+%\s+(\S+ \S+)\s+\S+%\s+"
                      r"(\S+)$", out, re.M)
    theirs = pprof(dump, "-top", "-unit=byte", "-nodecount=10")
    for flat, cum, name in rows[:2]:
        m = re.search(r"^\s*(\d+)B\s+\S+\s+\S+\s+(\d+)B\s+\S+\s+%s"
                      r"(?: \(inline\))?$" % re.escape(name), theirs, re.M)
        check(m and fmt_value(int(m.group(1)), "bytes") == flat and
              fmt_value(int(m.group(2)), "bytes") == cum,
              "%s: ours %s/%s, pprof %r" % (name, flat, cum,
                                           m.groups() if m else theirs))
    check(any(n == "report_leak_big" for _, _, n in rows[:3]) and
          any(n == "report_leak_small" for _, _, n in rows[:3]),
          "the leaking functions lead top: %r" % rows)
    real_leaks(dump, totals)
    real_collapsed(dump, totals)
    rc, out, _ = hs("top", dump, "--by", "stack", "-n", "3", columns=300)
    check("report_leak_big \u2190 report_recurse \u2190 report_recurse "
          "\u2190 report_recurse \u2190 report_recurse \u2190 main" in out,
          "--by stack shows the recursion: %r" % out)


def site_bytes(out, func):
    """(live bytes text, header line, stack) of func's site in leaks."""
    for block in out.split("\n\n")[1:]:
        lines = block.splitlines()
        if len(lines) > 1 and lines[1].split()[0] == func:
            return lines[0], lines[1:]
    return None, None


def real_leaks(dump, totals):
    rc, out, err = hs("leaks", dump, "-n", "0", columns=120)
    print("\n".join(out.splitlines()[:12]))
    want = "Live: %s in %s object%s at " % (
        fmt_value(totals["inuse_space"], "bytes"),
        fmt_value(totals["inuse_objects"], "count"),
        "" if totals["inuse_objects"] == 1 else "s")
    check(rc == 0 and out.startswith(want), "leaks totals: %r, want %r"
          % (out.splitlines()[:1], want))
    for func, marker, truth, objects in (
            ("report_leak_small", "small", 4000 * 64, 4000),
            ("report_leak_big", "big", 32 * 16384, 32)):
        head, stack = site_bytes(out, func)
        if not check(head is not None, "no site of %s in leaks" % func):
            continue
        check(stack[0].endswith("leaky.c:%d" % marker_line(marker)),
              "%s: frame %r, want leaky.c:%d" % (func, stack[0],
                                                 marker_line(marker)))
        m = re.match(r"#\d+  (\S+) (\S+) live \(\S+\) in (\S+)", head)
        units = {"B": 1, "KiB": 1024, "MiB": 1 << 20}
        est = float(m.group(1)) * units[m.group(2)] if m else 0
        check(abs(est - truth) < 0.3 * truth,
              "%s: estimated %r, truth %d bytes" % (func, head, truth))
        check("of %s" % fmt_value(truth // objects, "bytes") in head and
              "allocator malloc" in head, "%s: %r" % (func, head))
        print("%s: %s (truth %d bytes)" % (func, head, truth))
    rc, _, _ = hs("leaks", "--error", dump)
    check(rc == 1, "leaks --error on a leaky dump: exit %d" % rc)


def real_collapsed(dump, totals):
    for sidx, _ in HEAP:
        rc, out, err = hs("convert", dump, "--to", "collapsed",
                          "--sample-index", sidx)
        vals = [int(l.rsplit(" ", 1)[1]) for l in out.splitlines()]
        check(rc == 0 and sum(vals) == totals[sidx],
              "collapsed %s: sum %d, pprof %d" % (sidx, sum(vals),
                                                  totals[sidx]))
        check(out.splitlines() == sorted(out.splitlines()),
              "collapsed lines sorted")
    print("collapsed stacks: sums = pprof totals for the 4 types")


def mapping_starts(path):
    """{file: start} of pprof -raw's Mappings."""
    out = pprof(path, "-raw")
    return dict((m.group(2), int(m.group(1), 16)) for m in re.finditer(
        r"^\d+: (0x[0-9a-f]+)/\S+ (\S+)", out[out.find("Mappings"):],
        re.M))


def case_merge_real():
    a, b = leaky_run("one"), leaky_run("two")
    sa, sb = mapping_starts(a), mapping_starts(b)
    moved = [f for f in sa if f in sb and sa[f] != sb[f]]
    print("mapped elsewhere in the second run (ASLR): %s"
          % (", ".join(os.path.basename(f) for f in moved) or "none"))
    out = os.path.join(TMP, "fleet.pb.gz")
    rc, _, err = hs("merge", a, b, "-o", out)
    check(rc == 0, "merge of two runs: exit %d %r" % (rc, err))
    check_totals(out, [a, b], "two runs of leaky")
    (_, la, ma), (_, lb, mb), (_, l, mp) = map(raw_counts, (a, b, out))
    # The two processes map the same files at other addresses (ASLR):
    # merged, their locations and mappings are mostly shared.
    check(mp == max(ma, mb), "mappings: %d and %d merged into %d"
          % (ma, mb, mp))
    check(l < (la + lb) * 3 // 4, "locations: %d and %d merged into %d"
          % (la, lb, l))
    print("locations %d + %d -> %d, mappings %d + %d -> %d"
          % (la, lb, l, ma, mb, mp))
    rc, top, _ = hs("top", out, "-n", "3")
    check("report_leak_big" in top, "merged profile's top: %r" % top)
    # An unsymbolized dump first, then a symbolized one: a location of
    # the first takes the lines of the same address in the second.
    raw = leaky_raw("raw")
    rawsym = os.path.join(TMP, "rawsym.pb.gz")
    mixed = os.path.join(TMP, "mixed.pb.gz")
    rc1, _, _ = hs("convert", raw, "--to", "pprof", "-o", rawsym)
    rc2, _, err = hs("merge", raw, a, "-o", mixed)
    check(rc1 == 0 and rc2 == 0, "merge raw + symbolized: %r" % err)
    for func in ("report_leak_big", "report_leak_small"):
        got = pprof_flat(mixed, func)
        want = (pprof_flat(a, func) or 0) + (pprof_flat(rawsym, func) or 0)
        check(got == want, "%s in raw + symbolized: flat %r, want %r"
              % (func, got, want))
        print("raw + symbolized: %s flat %r = %r + %r" % (
            func, got, pprof_flat(rawsym, func), pprof_flat(a, func)))


def pprof_flat(profile, func):
    """func's flat inuse_space in pprof -top, in bytes, or None."""
    out = pprof(profile, "-top", "-unit=byte", "-nodefraction=0")
    m = re.search(r"^\s*(\d+)B?\s+\S+\s+\S+\s+\S+\s+\S+\s+%s$"
                  % re.escape(func), out, re.M)
    return int(m.group(1)) if m else None


def case_convert_pprof():
    raw = leaky_raw("raw")
    check("report_leak_small" not in pprof(raw, "-top", "-nodecount=5"),
          "the preloaded dump is not symbolized")
    out = os.path.join(TMP, "conv.pb.gz")
    rc, _, err = hs("convert", raw, "--to", "pprof", "-o", out)
    check(rc == 0 and not err, "convert --to pprof: exit %d %r" % (rc, err))
    top = pprof(out, "-top", "-nodecount=5")
    check("report_leak_big" in top and "report_leak_small" in top,
          "names after convert: %r" % top)
    check("Type: inuse_space" in top, "default type kept: %r" % top[:400])
    for sidx, _ in HEAP:
        check(pprof_total(out, sidx) == pprof_total(raw, sidx),
              "%s total changed by convert" % sidx)
    print("convert --to pprof: symbolized, totals unchanged")
    out2 = os.path.join(TMP, "conv2.pb.gz")
    rc, _, err = hs("convert", raw, "--to", "pprof", "-o", out2,
                    "--sample-index", "alloc_objects")
    top = pprof(out2, "-top", "-nodecount=3")
    check(rc == 0 and "Type: alloc_objects" in top,
          "--sample-index sets the default: %r" % top[:400])
    # The fixture's own default stays (profgen writes inuse_space).
    basic = fixture_basic(os.path.join(TMP, "basic.pb.gz"))
    out3 = os.path.join(TMP, "conv3.pb.gz")
    rc, _, err = hs("convert", basic, "--to", "pprof", "-o", out3,
                    "--sample-index", "2")
    check(rc == 0 and "Type: inuse_objects" in pprof(out3, "-top"),
          "--sample-index 2 = inuse_objects")
    for sidx, _ in HEAP:
        check(pprof_total(out3, sidx) == pprof_total(basic, sidx),
              "basic: %s total changed by convert" % sidx)
    # top and leaks read the unsymbolized dump and symbolize it themselves.
    rc, out, _ = hs("top", raw, "-n", "4")
    check("report_leak_big" in out, "top of the raw dump: %r" % out)
    rc, out, _ = hs("leaks", raw, "-n", "2")
    check("leaky.c:%d" % marker_line("big") in out,
          "leaks of the raw dump: %r" % out)


# ---- usage and bad input ----------------------------------------------------

def case_usage():
    basic = fixture_basic(os.path.join(TMP, "basic.pb.gz"), address=False)
    out = os.path.join(TMP, "o.pb.gz")
    for cmd in ("top", "leaks", "merge", "convert"):
        for args in ((cmd, "--help"), (cmd, "-h"), ("help", cmd)):
            rc, o, e = hs(*args)
            check(rc == 0 and o.startswith("usage: heapsight %s" % cmd)
                  and not e, "%s: exit %d %r %r" % (args, rc, o[:50], e))
    rc, o, _ = hs("--help")
    check(all(" %s " % c in o for c in ("top", "leaks", "merge", "convert")),
          "heapsight --help lists the commands: %r" % o)
    for args, word in (
            (("top",), "no PROFILE"),
            (("top", basic, basic), "one PROFILE"),
            (("top", basic, "--by", "module"), "unknown --by 'module'"),
            (("top", basic, "--focus", "(unclosed"), "--focus"),
            (("top", basic, "--ignore", "a{2,1}"), "--ignore"),
            (("top", basic, "-n", "-3"), "bad -n"),
            (("top", basic, "-n", "x"), "bad -n"),
            (("top", basic, "--sample-index", "cpu"), "no sample type 'cpu'"),
            (("top", basic, "--sample-index", "9"), "no sample type '9'"),
            (("top", basic, "--bogus"), "unknown option --bogus"),
            (("top", basic, "--by"), "needs an argument"),
            (("leaks",), "no PROFILE"),
            (("leaks", basic, "-n", "many"), "bad -n"),
            (("leaks", basic, "--focus", "x"), "unknown option"),
            (("merge", basic), "no output"),
            (("merge", "-o", out), "no PROFILE"),
            (("merge", basic, "-x", out), "unknown option -x"),
            (("convert", basic), "no format"),
            (("convert", basic, "--to", "svg"), "unknown --to 'svg'"),
            (("convert", basic, "--to", "pprof"), "needs an output"),
            (("convert", "--to", "collapsed"), "no PROFILE"),
            (("convert", basic, "--to", "collapsed", "--sample-index",
              "bogus"), "no sample type 'bogus'")):
        rc, o, e = hs(*args)
        line = one_error_line(e, " ".join(args))
        check(rc == 2 and word in line and not o,
              "%s: exit %d, %r (want %r)" % (" ".join(args), rc, line, word))
        print("%-52s -> exit %d: %s" % (" ".join(args)[-52:], rc, line))
    check(not os.path.exists(out), "no output written on usage errors")


def case_bad_input():
    paths = []
    for name, data in (("empty", b""), ("garbage", b"\x08\x96\x01hello" * 9),
                       ("truncated", gzip.compress(b"\x0a\x04\x08\x01")[:12])):
        path = os.path.join(TMP, name + ".pb.gz")
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    paths += [os.path.join(TMP, "nosuch.pb.gz"), TMP]
    basic = fixture_basic(os.path.join(TMP, "basic.pb.gz"), address=False)
    out = os.path.join(TMP, "out.pb.gz")
    for path in paths:
        for args in (("top", path), ("leaks", path),
                     ("merge", basic, path, "-o", out),
                     ("convert", path, "--to", "collapsed"),
                     ("convert", path, "--to", "pprof", "-o", out)):
            rc, o, e = hs(*args)
            line = one_error_line(e, " ".join(args))
            check(rc == 2 and line.startswith("heapsight: %s: " % path),
                  "%s: exit %d %r" % (" ".join(args), rc, line))
        print("%-40s -> exit 2: %s" % (os.path.basename(path), line))
    check(not os.path.exists(out), "nothing written from bad input")
    cpu = fixture_cpu(os.path.join(TMP, "cpu.pb.gz"))
    rc, o, e = hs("leaks", cpu)
    line = one_error_line(e, "leaks of a cpu profile")
    check(rc == 2 and cpu in line and "inuse_space" in line and
          "samples, cpu" in line, "leaks of cpu: %d %r" % (rc, line))
    print("cpu profile -> exit %d: %s" % (rc, line))
    rc, o, e = hs("top", cpu)
    check(rc == 0 and "Type: cpu" in o, "top of a cpu profile: %r" % o)
    rc, o, e = hs("convert", basic, "--to", "collapsed", "-o",
                  os.path.join(TMP, "no", "dir.txt"))
    line = one_error_line(e, "collapsed to a bad path")
    check(rc == 1 and "cannot write" in line, "collapsed unwritable: %d %r"
          % (rc, line))


CASES = {
    "golden": case_golden,
    "golden_top": case_golden_top,
    "golden_leaks": case_golden_leaks,
    "golden_convert": case_golden_convert,
    "top_vs_pprof": case_top_vs_pprof,
    "merge": case_merge,
    "merge_real": case_merge_real,
    "convert_pprof": case_convert_pprof,
    "real_dump": case_real_dump,
    "usage": case_usage,
    "bad_input": case_bad_input,
}
NEEDS_PROGRAM = ("merge_real", "convert_pprof", "real_dump")


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--heapsight", required=True)
    ap.add_argument("--lib")
    ap.add_argument("--leaky")
    ap.add_argument("--regen", action="store_true",
                    help="rewrite the golden files (golden cases only)")
    ARGS = ap.parse_args()
    if ARGS.case in NEEDS_PROGRAM and not (ARGS.lib and ARGS.leaky):
        ap.error("%s needs --lib and --leaky" % ARGS.case)
    ARGS.heapsight = os.path.abspath(ARGS.heapsight)
    TMP = tempfile.mkdtemp(prefix="hs-report-")
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
