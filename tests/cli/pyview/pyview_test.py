#!/usr/bin/env python3
"""pyview_test.py — Python-first views: `--no-interpreter` in `top`,
`leaks`, `diff`, `trend`, `flamegraph` and `graph`, and the flame graph's
colours and legend for Python frames (cli/model.c, viz/flamegraph.c).

Usage: pyview_test.py CASE --heapsight EXE [--regen]

Each CASE is one CTest test (cli_pyview_<CASE>); see CASES at the bottom.
The profiles are written here with ../profgen.py: merged stacks as
heapsight's Python hook writes them, Python frames (no mapping, no
address) between native frames of the interpreter (mappings
/usr/bin/python3.11 and libpython3.12.so.1.0), of a C extension
(_sqlite3.cpython-311-x86_64-linux-gnu.so) and of libc:

  A  malloc ← sqlite3_step [_sqlite3] ← method_vectorcall_FASTCALL ←
     PyObject_Vectorcall ← load_batch ← main ← _PyEval_EvalFrameDefault ←
     _PyFunction_Vectorcall ← <module> ← PyEval_EvalCode ← run_mod ←
     pyrun_file ← Py_RunMain ← Py_BytesMain [all python3.11] ←
     __libc_start_main [libc] ← _start [python3.11]
  B  the same program on libpython3.12, where a Python callback runs
     inside sqlite3_step and allocates through the interpreter:
     malloc ← PyMem_Malloc ← PyUnicode_New ← parse_row ← _PyEval_Vector ←
     _pysqlite_func_callback [_sqlite3] ← sqlite3_step ← ... ← <module> ←
     Py_RunMain ← main [/opt/app/server] ← __libc_start_main ← _start
  C  no Python frame at all (start-up): unchanged by the option
  D  frames without a mapping file (profgen's plain names): CPython's are
     told by name (_PyEval_EvalFrameDefault), the others stay

With --no-interpreter, A reads <module> → main → load_batch → sqlite3_step
→ malloc, and B <module> → main → load_batch → sqlite3_step →
_pysqlite_func_callback → parse_row → malloc.

  golden      top --by stack with and without the option, and leaks with
              it, as in golden/ (`pyview_test.py golden --regen
              --heapsight build/bin/heapsight` rewrites them; read the
              diff)
  top, leaks, diff, trend, flamegraph, graph
              each command through the command line, with the option (the
              Python-first stacks, no eval-loop frame, C unchanged) and
              without it (the interpreter's frames are there)
  legend      the flame graph (SVG and HTML): Python frames in cool
              colours with the class "py", native ones warm, a legend
              naming both; no legend for a profile without Python frames
              nor in a differential graph
  help        every one of the six commands documents the option

Every case works in its own temporary directory, removed at the end, and
prints what it checked; a failure prints FAIL lines and exits 1.
"""

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from profgen import Native, Profile, PyFrame  # noqa: E402

GOLDEN = os.path.join(HERE, "golden")
SVG = "{http://www.w3.org/2000/svg}"
OPT = "--no-interpreter"
FULL = "--full-names"  # rows named by the whole stack (cli/naming.h)
LARROW = " \u2190 "  # how top, diff and trend join a stack, leaf first
ARGS = None
TMP = None
FAILURES = []
KiB, MiB = 1 << 10, 1 << 20
T0 = 1700000000000000000


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def run(cmd, columns=1000):
    """(exit status, stdout, stderr); lines as wide as columns (1000: no
    stack is cut)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=100, cwd=TMP,
                       env=dict(os.environ, COLUMNS=str(columns)))
    return p.returncode, p.stdout, p.stderr


def hs(*args):
    """Runs heapsight; its standard output, after checking it succeeded."""
    rc, out, err = run([ARGS.heapsight] + list(args))
    check(rc == 0 and err == "", "heapsight %s: exit %d, stderr %r"
          % (" ".join(args), rc, err))
    return out


def tmp(name):
    return os.path.join(TMP, name)


# ---- the profiles -----------------------------------------------------------

PY311 = "/usr/bin/python3.11"
LIBPY = "/usr/lib/x86_64-linux-gnu/libpython3.12.so.1.0"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
SQLITE = ("/usr/lib/python3.11/lib-dynload/"
          "_sqlite3.cpython-311-x86_64-linux-gnu.so")
SERVER = "/opt/app/server"

MALLOC = Native("malloc", LIBC, "malloc/malloc.c", 3287)
STEP = Native("sqlite3_step", SQLITE, "sqlite3.c", 90125)
CALLBACK = Native("_pysqlite_func_callback", SQLITE, "Modules/_sqlite/"
                  "connection.c", 880)
MODULE = PyFrame("<module>", "app.py", 13)
MAIN = PyFrame("main", "app.py", 9)
LOAD = PyFrame("load_batch", "app.py", 4)
PARSE = PyFrame("parse_row", "app.py", 20)


def cpy(name, path=PY311, line=100):
    """A frame of CPython itself (file and line made up)."""
    return Native(name, path, "Python/ceval.c", line)


def stack_a(interp=PY311):
    """Leaf first: sample A (or B's outer part, on libpython)."""
    return [MALLOC, STEP,
            cpy("method_vectorcall_FASTCALL", interp),
            cpy("PyObject_Vectorcall", interp), LOAD, MAIN,
            cpy("_PyEval_EvalFrameDefault", interp, 1200),
            cpy("_PyFunction_Vectorcall", interp), MODULE,
            cpy("PyEval_EvalCode", interp), cpy("run_mod", interp),
            cpy("pyrun_file", interp), cpy("Py_RunMain", interp),
            cpy("Py_BytesMain", interp),
            Native("__libc_start_main", LIBC, "csu/libc-start.c", 360),
            cpy("_start", interp)]


def stack_b():
    leaf = [MALLOC, cpy("PyMem_Malloc", LIBPY), cpy("PyUnicode_New", LIBPY),
            PARSE, cpy("_PyEval_Vector", LIBPY), CALLBACK]
    outer = [f for f in stack_a(LIBPY)[1:] if f.name not in
             ("Py_BytesMain", "_start")]
    return leaf + outer + [Native("main", SERVER, "server.c", 40),
                           Native("_start", SERVER)]


def stack_c():
    return [MALLOC, cpy("_PyImport_InitCore"), cpy("Py_InitializeFromConfig"),
            cpy("Py_BytesMain"),
            Native("__libc_start_main", LIBC, "csu/libc-start.c", 360),
            cpy("_start")]


def stack_d():
    return ["malloc", PyFrame("helper", "util.py", 3),
            "_PyEval_EvalFrameDefault", PyFrame("<module>", "util.py", 1),
            "Py_RunMain", "_start"]


A = ["<module>", "main", "load_batch", "sqlite3_step", "malloc"]
B = ["<module>", "main", "load_batch", "sqlite3_step",
     "_pysqlite_func_callback", "parse_row", "malloc"]
D = ["<module>", "helper", "malloc"]
EVAL = "_PyEval_EvalFrameDefault"
HIDDEN = ("method_vectorcall_FASTCALL", "PyObject_Vectorcall", EVAL,
          "_PyFunction_Vectorcall", "PyEval_EvalCode", "run_mod",
          "pyrun_file", "Py_RunMain", "__libc_start_main", "PyMem_Malloc",
          "PyUnicode_New", "_PyEval_Vector", "_start")


def heap(v):
    """The four values of heapsight's heap profiles for v live bytes."""
    return [v // 64, v, v // 64, v]


def python_profile(path, a=4 * MiB, b=2 * MiB, c=1 * MiB, d=512 * KiB,
                   time_nanos=T0):
    p = Profile(time_nanos=time_nanos)
    for stack, v in ((stack_a(), a), (stack_b(), b), (stack_c(), c),
                     (stack_d(), d)):
        if v:
            p.sample(stack, heap(v), labels={"thread": "main"},
                     num_labels={"bytes": (64, "bytes")})
    return p.write(path)


def native_profile(path):
    p = Profile()
    p.sample(["malloc", "work", "main"], heap(MiB))
    p.sample(["calloc", "main"], heap(256 * KiB))
    return p.write(path)


def leaf_first(root_first):
    return LARROW.join(reversed(root_first))


def native_c():
    return [f.name for f in stack_c()]


# ---- golden files -----------------------------------------------------------

GOLDEN_COLUMNS = 400  # the whole stacks, even without the option
GOLDEN_RUNS = [
    ("top_stack.txt", ["top", "python.pb.gz", "--by", "stack"]),
    ("top_stack_no_interpreter.txt",
     ["top", "python.pb.gz", "--by", "stack", OPT]),
    ("top_no_interpreter.txt", ["top", "python.pb.gz", OPT, "-n", "0"]),
    ("leaks_no_interpreter.txt", ["leaks", "python.pb.gz", OPT]),
]


def golden_text(args):
    rc, out, err = run([ARGS.heapsight] + args, columns=GOLDEN_COLUMNS)
    text = "$ COLUMNS=%d heapsight %s\n# exit %d\n" % (
        GOLDEN_COLUMNS, " ".join(args), rc)
    text += "".join("# stderr: %s\n" % ln for ln in err.splitlines())
    return text + out


def case_golden():
    python_profile(tmp("python.pb.gz"))
    for name, args in GOLDEN_RUNS:
        got = golden_text(args)
        path = os.path.join(GOLDEN, name)
        if ARGS.regen:
            os.makedirs(GOLDEN, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(got)
            print("wrote golden/%s" % name)
            continue
        with open(path, encoding="utf-8") as f:
            want = f.read()
        if check(got == want, "%s differs from golden/%s (if meant: "
                 "pyview_test.py golden --regen --heapsight EXE)"
                 % (" ".join(args), name)):
            print("heapsight %s: as golden/%s" % (" ".join(args), name))
        else:
            print("\n".join(list(difflib.unified_diff(
                want.splitlines(), got.splitlines(), "golden/" + name,
                "got", lineterm=""))[:60]))


# ---- each command -----------------------------------------------------------

def stack_rows(out):
    """top --by stack: {stack name: flat text}."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+ \S+)\s+\S+%\s+\S+%\s+(.*)$", line)
        if m and m.group(1) != "flat flat%":
            rows[m.group(2)] = m.group(1)
    return rows


def case_top():
    # --full-names: rows named by their whole stacks, as the option left
    # them (by default a row starts at its innermost Python function:
    # tests/cli/naming).
    prof = python_profile(tmp("python.pb.gz"))
    rows = stack_rows(hs("top", prof, "--by", "stack", OPT, FULL))
    want = {leaf_first(A): "4.00 MiB", leaf_first(B): "2.00 MiB",
            LARROW.join(native_c()): "1.00 MiB",
            leaf_first(D): "512 KiB"}
    check(rows == want, "top --by stack %s: %r, want %r" % (OPT, rows, want))
    plain = stack_rows(hs("top", prof, "--by", "stack", FULL))
    full = leaf_first([f if isinstance(f, str) else f.name
                       for f in reversed(stack_a())])
    check(plain.get(full) == "4.00 MiB" and len(plain) == 4,
          "top --by stack: want the whole stack of A %r, got %r"
          % (full, plain))
    funcs = hs("top", prof, OPT, "-n", "0")
    names = [ln.split()[-1] for ln in funcs.splitlines()[5:]]
    check(EVAL not in names and "PyObject_Vectorcall" not in names and
          "load_batch" in names and "sqlite3_step" in names,
          "top %s: functions %r" % (OPT, names))
    check("Hidden: CPython's frames (--no-interpreter)" in funcs,
          "top %s: no 'Hidden:' line in %r" % (OPT, funcs))
    # Py_BytesMain stays in C only (no Python frame), 1 MiB of 7.5.
    cum = [ln for ln in funcs.splitlines() if ln.endswith(" Py_BytesMain")]
    check(len(cum) == 1 and " 1.00 MiB " in cum[0],
          "top %s: Py_BytesMain %r, want C's 1 MiB" % (OPT, cum))
    plain_names = hs("top", prof, "-n", "0")
    check(" " + EVAL in plain_names and "Hidden:" not in plain_names,
          "top without %s: no %s" % (OPT, EVAL))
    print("top: stacks %s and without it ok" % OPT)


def leaks_sites(out):
    """leaks: the function names of each site's stack, innermost first."""
    sites = []
    for line in out.splitlines():
        if line.startswith("#"):
            sites.append([])
        elif line.startswith("    ") and sites:
            sites[-1].append(line.split()[0])
    return sites


def case_leaks():
    prof = python_profile(tmp("python.pb.gz"))
    out = hs("leaks", prof, OPT)
    sites = leaks_sites(out)
    want = [list(reversed(A)), list(reversed(B)), native_c(),
            list(reversed(D))]
    check(sites == want, "leaks %s: sites %r, want %r\n%s"
          % (OPT, sites, want, out))
    check(EVAL not in out, "leaks %s shows %s" % (OPT, EVAL))
    plain = leaks_sites(hs("leaks", prof))
    check(plain and EVAL in plain[0] and plain[0][-1] == "_start",
          "leaks without %s: first site %r" % (OPT, plain[:1]))
    print("leaks: sites %s and without it ok" % OPT)


def diff_sites(out):
    """diff: {site: change text} of the rows (not the total)."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s*([+-]\S+ \S+)\s+\S+ \S+\s+\S+ \S+\s+\u00b1\S+ \S+"
                     r"\s+(?:noise)?\s+(.*)$", line)
        if m and not m.group(2).startswith("total"):
            rows[m.group(2)] = m.group(1)
    return rows


def case_diff():
    base = python_profile(tmp("base.pb.gz"), a=1 * MiB, b=2 * MiB)
    new = python_profile(tmp("new.pb.gz"), a=5 * MiB, b=2 * MiB)
    rows = diff_sites(hs("diff", base, new, OPT, FULL))
    check(rows == {leaf_first(A): "+4.00 MiB"},
          "diff %s: %r, want A's site alone" % (OPT, rows))
    plain = diff_sites(hs("diff", base, new, FULL))
    check(len(plain) == 1 and EVAL in list(plain)[0] and
          list(plain)[0].endswith("_start"),
          "diff without %s: %r" % (OPT, plain))
    by_fn = diff_sites(hs("diff", base, new, OPT, "--by", "function"))
    check(by_fn == {"malloc": "+4.00 MiB"}, "diff --by function: %r" % by_fn)
    print("diff: sites %s and without it ok" % OPT)


def trend_rows(out):
    """trend: {site: class} (columns: class, slope, Z, p, first, last,
    peak, site)."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"(growing|bounded|varying|shrinking|constant) +\S+ "
                     r"\S+ +\S+ +\S+ +\S+ \S+ +\S+ \S+ +\S+ \S+  (\S.*)$",
                     line)
        if m:
            rows[m.group(2)] = m.group(1)
    return rows


def case_trend():
    dumps = [python_profile(tmp("d%d.pb.gz" % i), a=(i + 1) * MiB,
                            time_nanos=T0 + i * 60 * 10**9)
             for i in range(6)]
    out = hs("trend", OPT, FULL, "-n", "0", *dumps)
    rows = trend_rows(out)
    check(rows.get(leaf_first(A)) == "growing" and
          not [s for s in rows if EVAL in s],
          "trend %s: %r\n%s" % (OPT, rows, out))
    check(LARROW.join(native_c()) in rows,
          "trend %s: C's site is gone: %r" % (OPT, rows))
    plain = trend_rows(hs("trend", FULL, "-n", "0", *dumps))
    grown = [s for s, c in plain.items() if c == "growing"]
    check(len(grown) == 1 and EVAL in grown[0],
          "trend without %s: growing %r" % (OPT, grown))
    print("trend: sites %s and without it ok" % OPT)


def svg_frames(text):
    """(root, [(name, class, fill, [names of the path from the root],
    second line of the tooltip: file:line or the value)])."""
    root = ET.fromstring(text.encode("utf-8"))
    out = []

    def walk(elem, path):
        for g in elem.findall(SVG + "g"):
            cls = g.get("class", "").split()
            if "f" not in cls:
                continue
            lines = g.find(SVG + "title").text.split("\n")
            name = lines[0]
            fill = g.find(SVG + "rect").get("fill")
            out.append((name, cls, fill, path + [name], lines[1]))
            walk(g, path + [name])

    walk(root.find(SVG + "g[@class='frames']"), [])
    return root, out


def paths(frames):
    return {tuple(f[3][1:]) for f in frames}


def case_flamegraph():
    prof = python_profile(tmp("python.pb.gz"))
    for ext in ("svg", "html"):
        out = tmp("py.%s" % ext)
        hs("flamegraph", prof, "-o", out, OPT)
        text = open(out, encoding="utf-8").read()
        if ext == "html":
            text = text[text.index("<svg"):text.index("</svg>") + 6]
        _, frames = svg_frames(text)
        got = paths(frames)
        for want in (A, B, D):
            check(tuple(want) in got, "flamegraph %s (%s): no path %r"
                  % (OPT, ext, want))
        names = {f[0] for f in frames}
        check(not names & (set(HIDDEN) - set(native_c())) and
              "<module>" in names,
              "flamegraph %s (%s): frames %r" % (OPT, ext, sorted(names)))
        sub = ET.fromstring(text.encode("utf-8")).find(
            SVG + "text[@class='sub']").text
        check("CPython's frames hidden" in sub, "flamegraph %s: subtitle %r"
              % (OPT, sub))
    hs("flamegraph", prof, "-o", tmp("plain.svg"))
    _, frames = svg_frames(open(tmp("plain.svg"), encoding="utf-8").read())
    tops = {f[3][1] for f in frames if len(f[3]) == 2}
    names = {f[0] for f in frames}
    check(EVAL in names and tops == {"_start"},
          "flamegraph without %s: roots %r" % (OPT, tops))
    print("flamegraph: SVG and HTML paths %s and without it ok" % OPT)


def dot_edges(text):
    return set(re.findall(r'tooltip="(.+?) -> (.+?): ', text))


def case_graph():
    prof = python_profile(tmp("python.pb.gz"))
    hs("graph", prof, "-o", tmp("py.dot"), OPT)
    text = open(tmp("py.dot"), encoding="utf-8").read()
    edges = dot_edges(text)
    for want in (A, B, D):
        for e in zip(want, want[1:]):
            check(e in edges, "graph %s: no edge %s -> %s" % ((OPT,) + e))
    check(EVAL not in text and "Hidden: CPython's frames" in text,
          "graph %s: %s or no legend note" % (OPT, EVAL))
    hs("graph", prof, "-o", tmp("plain.dot"))
    plain = dot_edges(open(tmp("plain.dot"), encoding="utf-8").read())
    check((EVAL, "main") in plain and ("load_batch", "sqlite3_step")
          not in plain, "graph without %s: edges %r" % (OPT, plain))
    print("graph: edges %s and without it ok" % OPT)


# ---- the flame graph's colours ----------------------------------------------

def rgb(fill):
    return tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))


def legend_of(root):
    g = root.find(SVG + "g[@class='legend']")
    if g is None:
        return None
    texts = [t.text for t in g.findall(SVG + "text")]
    fills = [r.get("fill") for r in g.findall(SVG + "rect")]
    return dict(zip(texts, fills))


def check_colours(text, what):
    root, frames = svg_frames(text)
    for name, cls, fill, _, where in frames:
        r, g, b = rgb(fill)
        if where.startswith(("app.py:", "util.py:")):
            check("py" in cls and b > r and r < 110,
                  "%s: Python frame %s: class %r fill %s"
                  % (what, name, cls, fill))
        elif name not in ("all",) and "s" not in cls:
            check("py" not in cls and r > 200 and b < 70,
                  "%s: native frame %s: class %r fill %s"
                  % (what, name, cls, fill))
    legend = legend_of(root)
    check(legend is not None and set(legend) ==
          {"Python functions", "native code"},
          "%s: legend %r" % (what, legend))
    if legend:
        pr, _, pb = rgb(legend["Python functions"])
        nr, _, nb = rgb(legend["native code"])
        check(pb > pr and nr > nb, "%s: legend swatches %r" % (what, legend))
    details = root.find(SVG + "text[@class='details']")
    check(float(details.get("y")) < float(root.get("height")) - 20,
          "%s: the legend's row is not under the details line" % what)


def case_legend():
    prof = python_profile(tmp("python.pb.gz"))
    for ext, opts in (("svg", []), ("html", []), ("svg", [OPT])):
        out = tmp("py.%s" % ext)
        hs("flamegraph", prof, "-o", out, *opts)
        text = open(out, encoding="utf-8").read()
        if ext == "html":
            text = text[text.index("<svg"):text.index("</svg>") + 6]
        check_colours(text, "%s %s" % (ext, " ".join(opts)))
    native = native_profile(tmp("native.pb.gz"))
    hs("flamegraph", native, "-o", tmp("native.svg"))
    root, frames = svg_frames(open(tmp("native.svg"),
                                   encoding="utf-8").read())
    check(legend_of(root) is None and
          not [f for f in frames if "py" in f[1]],
          "a profile without Python frames has a legend or Python frames")
    base = python_profile(tmp("base.pb.gz"), a=MiB)
    hs("flamegraph", prof, "--base", base, "-o", tmp("diff.svg"))
    root, _ = svg_frames(open(tmp("diff.svg"), encoding="utf-8").read())
    check(legend_of(root) is None, "a differential graph has a legend")
    print("legend: Python frames cool with class py, native warm, legend "
          "only with Python frames and not in a differential graph")


def case_help():
    for cmd in ("top", "leaks", "diff", "trend", "flamegraph", "graph"):
        out = hs(cmd, "--help")
        check(OPT in out and "CPython" in out,
              "heapsight %s --help does not document %s" % (cmd, OPT))
        check(all(len(ln) <= 80 for ln in out.splitlines()),
              "heapsight %s --help: a line over 80 columns" % cmd)
    print("help: the six commands document %s" % OPT)


CASES = {
    "golden": case_golden,
    "top": case_top,
    "leaks": case_leaks,
    "diff": case_diff,
    "trend": case_trend,
    "flamegraph": case_flamegraph,
    "graph": case_graph,
    "legend": case_legend,
    "help": case_help,
}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--heapsight", required=True)
    ap.add_argument("--regen", action="store_true",
                    help="rewrite the golden files (case golden)")
    ARGS = ap.parse_args()
    ARGS.heapsight = os.path.abspath(ARGS.heapsight)
    TMP = tempfile.mkdtemp(prefix="hs-pyview-")
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
