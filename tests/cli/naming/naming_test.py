#!/usr/bin/env python3
"""naming_test.py — rows named by the frame that matters (cli/naming.h):
a stack's row in `top --by stack`, `diff` and the site headers of `leaks`
starts at its first frame that is not allocator plumbing (malloc and
friends, operator new and the C++ library's allocators, CPython's
allocators, known malloc wrappers such as xmalloc), or at its innermost
Python function; --drop, --keep, --show-from and --full-names change that.
And the headers of top, leaks and diff name the profile's command line
from its provenance comments.

Usage: naming_test.py CASE --heapsight EXE [--regen]

Each CASE is one CTest test (cli_naming_<CASE>); see CASES at the bottom.
The profiles are written here with ../profgen.py.

  golden   top --by stack (default, --full-names), leaks and diff on the
           fixture, and the Command: lines of top, leaks and diff, as in
           golden/ (`naming_test.py golden --regen --heapsight
           build/bin/heapsight` rewrites them; read the diff)
  rule     each stack of the fixture's table gets its expected name in
           top --by stack, and keeps its whole stack in leaks
  options  --drop (as pprof's -drop_frames: past the root-most match),
           --keep, --show-from, --full-names in top, leaks and diff; a
           bad expression is a usage error naming the option
  help     top, leaks and diff document the four options

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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from profgen import Addr, Native, Profile, PyFrame  # noqa: E402

GOLDEN = os.path.join(HERE, "golden")
LARROW = " \u2190 "
ARGS = None
TMP = None
FAILURES = []
KiB = 1 << 10


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def run(args, columns=1000):
    """(exit status, stdout, stderr) of heapsight args."""
    p = subprocess.run([ARGS.heapsight] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=100, cwd=TMP,
                       env=dict(os.environ, COLUMNS=str(columns)))
    return p.returncode, p.stdout, p.stderr


def hs(*args):
    rc, out, err = run(args)
    check(rc == 0 and err == "", "heapsight %s: exit %d, stderr %r"
          % (" ".join(args), rc, err))
    return out


# ---- the fixture ------------------------------------------------------------

PY = "/usr/bin/python3.11"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
SQLITE = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6"
SQLITE_AT = (0x7f69c6dd9000, 0x7f69c6ea0000, 0x9000)
NEW = "operator new(unsigned long)"
VEC = ("std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>"
       "(__gnu_cxx::__normal_iterator<int*, std::vector<int, "
       "std::allocator<int> > >, int const&)")
PUSH = "std::vector<int, std::allocator<int> >::push_back(int const&)"


def cpy(name):
    return Native(name, PY, "Objects/obj.c", 100)


# (stack leaf first, live KiB, the expected row name); names that agree
# are one row in top and diff (their KiB add up), never in leaks.
TABLE = [
    (["malloc", "xmalloc", "cache_put", "main"], 64,
     "cache_put ← main"),
    # heapsight's own profiles start at malloc's caller
    (["xmalloc", "history_append", "main"], 32,
     "history_append ← main"),
    (["calloc", "xcalloc", "cache_put", "main"], 16,
     "cache_put ← main"),
    ([NEW, "std::__new_allocator<int>::allocate(unsigned long, void const*)",
      VEC, "fill", "main"], 48, "fill ← main"),
    ([NEW, "std::allocator_traits<std::allocator<int> >::allocate("
      "std::allocator<int>&, unsigned long)",
      "std::_Vector_base<int, std::allocator<int> >::_M_allocate("
      "unsigned long)", PUSH, "fill_more", "main"], 40,
     PUSH + " ← fill_more ← main"),
    ([cpy("PyObject_Realloc"), cpy("PyByteArray_Resize"),
      cpy("bytearray___init___impl"), cpy("bytearray___init__"),
      cpy("type_call"), cpy("_PyObject_MakeTpCall"),
      PyFrame("history_append", "service.py", 30),
      PyFrame("main", "service.py", 40), PyFrame("<module>", "service.py", 50),
      cpy("_PyEval_EvalFrame"), cpy("Py_RunMain"), Native("main", PY),
      Native("__libc_start_main", LIBC)], 24,
     "history_append ← main ← <module> ← _PyEval_EvalFrame ← Py_RunMain ← "
     "main ← __libc_start_main"),
    ([cpy("_PyObject_Malloc"), cpy("_PyType_AllocNoTrack"),
      cpy("PyType_GenericAlloc"), cpy("type_new_alloc"), cpy("type_new"),
      cpy("Py_InitializeFromConfig")], 20,
     "type_new_alloc ← type_new ← Py_InitializeFromConfig"),
    ([Addr(SQLITE, SQLITE_AT[0] - SQLITE_AT[2] + 0x1c5e3), "sqlite3Malloc",
      "sqlite3DbMallocRawNN", "sqlite3VdbeMemGrow", "sqlite3_step", "main"],
     12, "sqlite3VdbeMemGrow ← sqlite3_step ← main"),
    (["g_malloc0", "gtk_widget_new", "main"], 8, "gtk_widget_new ← main"),
    # a wrapper's name alone counts only in the leaf run
    (["record", "xstrdup_cb", "parse", "main"], 6,
     "record ← xstrdup_cb ← parse ← main"),
    (["arena_push", "pool_get", "make_node", "parse", "main"], 4,
     "arena_push ← pool_get ← make_node ← parse ← main"),
    # libc++, libstdc++'s strings, aliases, mangled and cloned names
    (["_Znwm", "std::__1::__libcpp_allocate(unsigned long, unsigned long)",
      "std::__1::vector<int, std::__1::allocator<int> >::"
      "__push_back_slow_path<int>(int&&)", "collect", "main"], 3,
     "collect ← main"),
    (["__libc_malloc", "xmalloc.part.0",
      "std::__cxx11::basic_string<char, std::char_traits<char>, "
      "std::allocator<char> >::_M_create(unsigned long&, unsigned long)",
      "std::__cxx11::basic_string<char, std::char_traits<char>, "
      "std::allocator<char> >::basic_string(char const*)", "greet",
      "main"], 1,
     "std::__cxx11::basic_string<char, std::char_traits<char>, "
     "std::allocator<char> >::basic_string(char const*) ← greet ← main"),
    # __libc_start_main is no __libc_malloc
    (["hs_malloc", "__libc_start_main", "_start"], 1,
     "__libc_start_main ← _start"),
    # all plumbing: the whole stack
    (["malloc", "xmalloc"], 2, "malloc ← xmalloc"),
]
COMMENTS = ("heapsight 0.1",
            "process: pid 4242, parent 4200, started 2026-12-07T19:41:39Z",
            "command: git clone https://example.org/repo.git work",
            "executable: /usr/bin/git (build id 15df0c)")


def heap(kib):
    v = kib * KiB
    return [v // 64, v, v // 64, v]


def fixture(name, scale=lambda i: 1, comments=()):
    p = Profile(comments=comments)
    p.place(SQLITE, *SQLITE_AT)
    for i, (stack, kib, _) in enumerate(TABLE):
        p.sample(stack, heap(kib * scale(i)), labels={"thread": "main"},
                 num_labels={"bytes": (64, "bytes")})
    return p.write(os.path.join(TMP, name))


def stack_rows(out):
    """top --by stack: {name: flat text}."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+ \S+)\s+\S+%\s+\S+%\s+(.*)$", line)
        if m and m.group(1) != "flat flat%":
            rows[m.group(2)] = m.group(1)
    return rows


def fmt_kib(kib):
    """model_fmt_value's KiB: "8.00 KiB", "80.0 KiB", "120 KiB"."""
    return "%.*f KiB" % (2 if kib < 10 else 1 if kib < 100 else 0, kib)


# ---- golden files -----------------------------------------------------------

GOLDEN_RUNS = [  # (name, COLUMNS, arguments)
    ("top_stack", 100, ["top", "--by", "stack", "-n", "0", "n.pb.gz"]),
    ("top_full_names", 100, ["top", "--by", "stack", "-n", "0",
                             "--full-names", "n.pb.gz"]),
    ("leaks", 100, ["leaks", "-n", "6", "n.pb.gz"]),
    ("diff", 100, ["diff", "-n", "0", "n.pb.gz", "n2.pb.gz"]),
    ("top_command", 60, ["top", "-n", "1", "cmd.pb.gz"]),
    ("leaks_command", 60, ["leaks", "-n", "1", "cmd.pb.gz"]),
    ("diff_command", 80, ["diff", "-n", "1", "n.pb.gz", "cmd.pb.gz"]),
]


def golden_text(args, columns):
    rc, out, err = run(args, columns)
    text = "$ COLUMNS=%d heapsight %s\n# exit %d\n" % (
        columns, " ".join(args), rc)
    text += "".join("# stderr: %s\n" % ln for ln in err.splitlines())
    return text + out


def case_golden():
    fixture("n.pb.gz")
    fixture("n2.pb.gz", scale=lambda i: 1 + i % 3)
    fixture("cmd.pb.gz", comments=COMMENTS)
    for name, columns, args in GOLDEN_RUNS:
        got = golden_text(args, columns)
        path = os.path.join(GOLDEN, name + ".txt")
        if ARGS.regen:
            os.makedirs(GOLDEN, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(got)
            print("wrote golden/%s.txt" % name)
            continue
        with open(path, encoding="utf-8") as f:
            want = f.read()
        if check(got == want, "heapsight %s differs from golden/%s.txt"
                 % (" ".join(args), name)):
            print("heapsight %s: as golden/%s.txt" % (" ".join(args), name))
        else:
            print("\n".join(difflib.unified_diff(
                want.splitlines(), got.splitlines(), "golden/" + name,
                "got", lineterm="")))
    # Without provenance comments: no Command line (the other goldens).
    check("Command:" not in hs("top", "n.pb.gz") + hs("leaks", "n.pb.gz"),
          "a Command: line without a command comment")


# ---- the rule ---------------------------------------------------------------

def case_rule():
    prof = fixture("n.pb.gz")
    rows = stack_rows(hs("top", "--by", "stack", "-n", "0", prof))
    want = {}
    for _, kib, name in TABLE:
        want[name] = want.get(name, 0) + kib
    want = {n: fmt_kib(k) for n, k in want.items()}
    check(rows == want, "top --by stack:\n  got  %r\n  want %r"
          % (rows, want))
    # leaks keeps one site per stack, each whole.
    out = hs("leaks", "-n", "0", prof)
    sites = [b for b in out.split("\n\n")[1:] if b.startswith("#")]
    check(len(sites) == len(TABLE), "leaks: %d sites, want %d"
          % (len(sites), len(TABLE)))
    named = {}  # the whole stack, leaf first -> its row name
    for stack, _, name in TABLE:
        named[LARROW.join(f.name if not isinstance(f, (str, Addr)) else
                          f if isinstance(f, str) else "libsqlite3.so.0.8.6"
                          "+0x1c5e3" for f in stack)] = name
    for block in sites:
        head, frames = block.splitlines()[0], block.splitlines()[1:]
        whole = LARROW.join(f.strip().split("  ")[0] for f in frames)
        m = re.search(r", at (.*)$", head)
        want = named.get(whole)
        if want == whole:  # named from the leaf: the stack says it
            check(m is None, "leaks: a name where the stack says it: %r"
                  % head)
        else:
            check(m is not None and m.group(1) == want,
                  "leaks: %r, want the name %r" % (head, want))
    print("rule: %d stacks, %d rows, leaks whole" % (len(TABLE), len(rows)))


# ---- the options ------------------------------------------------------------

def top_names(prof, *opts):
    return set(stack_rows(hs("top", "--by", "stack", "-n", "0", prof,
                             *opts)))


def case_options():
    prof = fixture("n.pb.gz")
    full = top_names(prof, "--full-names")
    want = {LARROW.join(f if isinstance(f, str) else f.name for f in stack)
            for stack, _, _ in TABLE
            if not any(isinstance(f, Addr) for f in stack)}
    check(len(full) == len(TABLE) and want <= full,
          "--full-names: every stack whole, leaf first: %r" % full)
    drop = top_names(prof, "--drop", "^pool_get$")
    check("make_node ← parse ← main" in drop,
          "--drop pool_get: past it and what it called: %r" % drop)
    drop = top_names(prof, "--drop", "^main$")
    check("cache_put ← main" in drop,
          "--drop at the root end leaves the name: %r" % drop)
    keep = top_names(prof, "--keep", "^xmalloc$")
    check("xmalloc ← cache_put ← main" in keep and
          "cache_put ← main" in keep,
          "--keep xmalloc: %r" % keep)
    keep = top_names(prof, "--keep", "^sqlite3_step$|^PyByteArray_Resize$")
    check("sqlite3VdbeMemGrow ← sqlite3_step ← main" in keep and
          any(n.startswith("PyByteArray_Resize ← bytearray___init___impl")
              for n in keep), "--keep under Python: %r" % keep)
    show = top_names(prof, "--show-from", "^parse$")
    check("parse ← main" in show and "cache_put ← main" in show,
          "--show-from parse: %r" % show)
    rows = diff_rows(hs("diff", "-n", "0", "--drop", "^pool_get$", prof,
                        fixture("n2.pb.gz", scale=lambda i: 1 + i % 3)))
    check("make_node ← parse ← main" in rows and "cache_put ← main" in rows,
          "diff --drop: %r" % rows)
    out = hs("leaks", "-n", "0", "--full-names", prof)
    check(", at " not in out, "leaks --full-names names a site")
    for cmd in (["top", "--by", "stack"], ["leaks"], ["diff", prof]):
        rc, out, err = run(cmd + ["--drop", "(", prof])
        check(rc == 2 and "--drop" in err and len(err.splitlines()) == 1,
              "%s --drop '(': exit %d, %r" % (cmd[0], rc, err))
    print("options: --drop, --keep, --show-from, --full-names; bad "
          "expressions")


def diff_rows(out):
    rows = set()
    for line in out.splitlines():
        m = re.match(r"\s*[+-]\S+ \S+\s+\S+ \S+\s+\S+ \S+\s+\u00b1\S+ \S+"
                     r"\s+(?:noise)?\s+(.*)$", line)
        if m and not m.group(1).startswith("total"):
            rows.add(m.group(1))
    return rows


def case_help():
    for cmd in ("top", "leaks", "diff"):
        out = hs(cmd, "--help")
        for opt in ("--drop RE", "--keep RE", "--show-from RE",
                    "--full-names"):
            check(opt in out, "%s --help: no %s" % (cmd, opt))
    print("help: top, leaks and diff document the options")


CASES = {"golden": case_golden, "rule": case_rule, "options": case_options,
         "help": case_help}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--heapsight", required=True)
    ap.add_argument("--regen", action="store_true")
    ARGS = ap.parse_args()
    ARGS.heapsight = os.path.abspath(ARGS.heapsight)
    TMP = tempfile.mkdtemp(prefix="hs-naming-")
    try:
        CASES[ARGS.case]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%s: %s" % (ARGS.case, "FAILED (%d)" % len(FAILURES)
                      if FAILURES else "ok"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
