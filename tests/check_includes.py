#!/usr/bin/env python3
"""Checks the include rules of heapsight's layered source tree.

The table (docs/ARCHITECTURE.md writes the same one down):

    layer  folder            may include (besides public and generated headers)
    0      alloc/util        alloc/util
    1      alloc/os          layers 0..1
    2      alloc/extent      layers 0..2
    3      alloc/page        layers 0..3
    4      alloc (front)     layers 0..4   (files directly in alloc/)
    5      backtrace_hooks   layers 0..5
    6      prof              layers 0..6
    7      pyext             layers 0..7
    8      viz               viz, header-only alloc/util headers
    9      cli               cli, viz, header-only alloc/util headers

Rules:
  * `#include "..."` names only headers of the file's own layer or lower ones;
    so nothing in alloc/ includes prof/, backtrace_hooks/, pyext/, viz/, cli/.
  * viz/ renders a model to text: it includes viz/ and pure headers only.
    cli/ never includes the allocator runtime: it includes cli/, viz/ and pure
    headers only.  "Pure" means a header of alloc/util/ with no .c file beside
    it (compiler shims and the like: nothing to link).
  * The public headers include/heapsight*.h and the generated hs_config.h may
    be included everywhere; include/ itself includes only include/ headers
    (it is installed alone, without hs_config.h).
  * Every .c/.h under alloc/, backtrace_hooks/, prof/, pyext/, viz/, cli/
    starts with a block comment, the module comment.
  * An include that resolves to no file in the tree is reported too (add
    generated headers to GENERATED below).
  * Inside a folder of MODULE_ORDER, calls go one way too: a module there
    includes only headers of modules listed before it (or its own), and
    every module of the folder is listed.

An include is resolved relative to the including file's directory, then each
of its parent directories up to the repository root, then include/.  System
includes <...> are ignored.  Folders that do not exist yet are skipped.

Usage: check_includes.py [ROOT]         check the tree (default: this repo;
                                        also --root ROOT)
       check_includes.py --self-test    check the checker on a fake tree
Exit status: 0 clean, 1 violations, 2 usage error.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

# (folder, layer number, layer name); the longest matching folder wins.
LAYERS = [
    ("alloc/util", 0),
    ("alloc/os", 1),
    ("alloc/extent", 2),
    ("alloc/page", 3),
    ("alloc", 4),
    ("backtrace_hooks", 5),
    ("prof", 6),
    ("pyext", 7),
    ("viz", 8),
    ("cli", 9),
]
# Subfolders of alloc/ that are layers; a file in any other one is reported.
ALLOC_SUBLAYERS = {"alloc/util", "alloc/os", "alloc/extent", "alloc/page"}
# Layers restricted to a list of folders instead of "this layer or lower".
RESTRICTED = {
    "viz": ("viz",),
    "cli": ("cli", "viz"),
}
# Folders whose modules are ordered, bottom to top: a module includes only
# the headers of the modules before it (docs/ARCHITECTURE.md, "Inside
# prof/").
MODULE_ORDER = {
    "prof": ["pb", "maps", "pprof", "dumpfile", "sample", "names", "site",
             "reach", "foreign", "hooks", "activity", "dump", "attach",
             "prof_ctl", "prof"],
}
PUBLIC_DIR = "include"
PUBLIC = "public"  # the layer name printed for include/ files
# Headers generated into the build tree, allowed everywhere but in include/.
GENERATED = {"hs_config.h"}
SOURCE_EXTS = (".c", ".h", ".inc", ".def", ".cc", ".cpp", ".hpp")
MODULE_COMMENT_EXTS = (".c", ".h")

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"', re.M)

LAYER_OF_NAME = {name: num for name, num in LAYERS}


def layer_of(relpath):
    """The layer name of a repo-relative path, or None outside the layers.

    A file in an unknown subfolder of alloc/ gets "alloc/<sub>?" so that it
    is reported instead of silently joining the front layer.
    """
    parts = relpath.split("/")
    if parts[0] == "alloc" and len(parts) > 2:
        sub = "alloc/" + parts[1]
        return sub if sub in ALLOC_SUBLAYERS else sub + "?"
    for name, _ in LAYERS:
        if relpath == name or relpath.startswith(name + "/"):
            return name
    return None


def strip_comments(text):
    """Blanks out C comments and string literals, keeping newlines.

    Include lines are then found in the result with their line numbers; an
    include written inside a comment is not an include.  Include operands
    ("...") are kept: a string after #include is put back verbatim.
    """
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif c == "'" or c == '"':
            # Skip a literal, honouring backslash escapes; stop at a newline.
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def has_module_comment(text):
    """True when the file's first non-blank characters open a block comment
    that is closed."""
    body = text.lstrip()
    return body.startswith("/*") and "*/" in body[2:]


def is_pure(root, relpath):
    """A header of alloc/util/ with no .c beside it: nothing to link."""
    if not relpath.startswith("alloc/util/") or not relpath.endswith(".h"):
        return False
    return not os.path.exists(os.path.join(root, relpath[:-2] + ".c"))


def resolve(root, relfile, target):
    """Resolves an include to a repo-relative path, or None.

    Tries the including file's directory, each parent up to the root, then
    include/.  A path that leaves the repository resolves to None.
    """
    d = os.path.dirname(relfile)
    bases = []
    while True:
        bases.append(d)
        if not d:
            break
        d = os.path.dirname(d)
    bases.append(PUBLIC_DIR)
    for base in bases:
        rel = os.path.normpath(os.path.join(base, target))
        if rel.startswith("..") or os.path.isabs(rel):
            continue
        if os.path.isfile(os.path.join(root, rel)):
            return rel.replace(os.sep, "/")
    return None


def module_of(relpath):
    """(folder, module) of a file directly in a MODULE_ORDER folder."""
    folder, base = os.path.split(relpath)
    if folder not in MODULE_ORDER:
        return None
    return folder, os.path.splitext(base)[0]


def check_order(relfile, resolved):
    """None when the include goes down MODULE_ORDER, else the reason."""
    src, dst = module_of(relfile), module_of(resolved)
    if src is None or dst is None or src[0] != dst[0]:
        return None
    order = MODULE_ORDER[src[0]]
    if src[1] not in order:
        return ("%s is not in the module order of %s/ (MODULE_ORDER in "
                "tests/check_includes.py)" % (src[1], src[0]))
    if dst[1] not in order or order.index(dst[1]) > order.index(src[1]):
        return ("%s is above %s in the module order of %s/: calls go down "
                "only" % (dst[1], src[1], src[0]))
    return None


def check_include(root, relfile, layer, target):
    """Returns None when allowed, else (target shown, its layer, reason)."""
    resolved = resolve(root, relfile, target)
    if resolved is None:
        if os.path.basename(target) in GENERATED:
            if layer != PUBLIC:
                return None
            return (target, "generated",
                    "public headers are installed without generated headers")
        return (target, "unresolved",
                "no such file in the tree (a generated header goes in "
                "GENERATED in tests/check_includes.py)")
    tlayer = layer_of(resolved)
    if resolved.startswith(PUBLIC_DIR + "/"):
        return None
    order = check_order(relfile, resolved)
    if order is not None:
        return (resolved, tlayer, order)
    if layer == PUBLIC:
        return (resolved, tlayer or "outside the layers",
                "public headers include only include/ headers")
    if tlayer is None:
        return (resolved, "outside the layers",
                "the layers include only each other and public headers")
    if tlayer.endswith("?"):
        return (resolved, tlayer[:-1],
                "%s is not in the layer table" % tlayer[:-1])
    if layer in RESTRICTED:
        allowed = RESTRICTED[layer]
        if tlayer in allowed or is_pure(root, resolved):
            return None
        return (resolved, tlayer,
                "%s may include only %s, header-only alloc/util and public "
                "headers" % (layer, ", ".join(a + "/" for a in allowed)))
    if LAYER_OF_NAME[tlayer] > LAYER_OF_NAME[layer]:
        return (resolved, tlayer,
                "layer %d may not include layer %d"
                % (LAYER_OF_NAME[layer], LAYER_OF_NAME[tlayer]))
    return None


def source_files(root):
    """Repo-relative paths of the files to check, sorted; missing folders
    are skipped."""
    tops = sorted({name.split("/")[0] for name, _ in LAYERS} | {PUBLIC_DIR})
    found = []
    for top in tops:
        topdir = os.path.join(root, top)
        if not os.path.isdir(topdir):
            continue
        for dirpath, dirnames, filenames in os.walk(topdir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in filenames:
                if f.endswith(SOURCE_EXTS):
                    path = os.path.join(dirpath, f)
                    found.append(os.path.relpath(path, root).replace(os.sep, "/"))
    return sorted(found)


def check_tree(root):
    """Returns (number of files checked, list of violation lines)."""
    files = source_files(root)
    violations = []
    for rel in files:
        layer = PUBLIC if rel.startswith(PUBLIC_DIR + "/") else layer_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8",
                  errors="replace") as f:
            text = f.read()
        if layer.endswith("?"):
            violations.append(
                "%s:1: %s is not in the layer table (add it to LAYERS in "
                "tests/check_includes.py and to docs/ARCHITECTURE.md)"
                % (rel, layer[:-1]))
            continue
        if (layer != PUBLIC and rel.endswith(MODULE_COMMENT_EXTS)
                and not has_module_comment(text)):
            violations.append(
                "%s:1: %s file does not start with a module comment (/* ... */)"
                % (rel, layer))
        code = strip_comments(text)
        for m in INCLUDE_RE.finditer(code):
            bad = check_include(root, rel, layer, m.group(1))
            if bad is not None:
                line = code.count("\n", 0, m.start()) + 1
                violations.append("%s:%d: %s includes %s (%s): %s"
                                  % (rel, line, layer, bad[0], bad[1], bad[2]))
    return len(files), violations


def run(root):
    nfiles, violations = check_tree(root)
    for v in violations:
        print(v)
    print("include rules: %d files checked, %d violations"
          % (nfiles, len(violations)))
    return 1 if violations else 0


# ---- self-test -------------------------------------------------------------

MOD = "/*\n * %s — a fake module for the self-test.\n */\n"

# path -> (contents, expected violations as "path:line: layer includes target")
SELF_TEST_TREE = {
    "include/heapsight.h": MOD % "public" + "#include <stddef.h>\n",
    "include/heapsight_hook.h": MOD % "hook" + '#include "heapsight.h"\n',
    "alloc/util/util.h": MOD % "util" + '#include "hs_config.h"\n',
    "alloc/util/mutex.h": MOD % "mutex" + "#include <pthread.h>\n",
    "alloc/util/mutex.c": MOD % "mutex" + '#include "mutex.h"\n',
    "alloc/os/pages.h": MOD % "pages" + '#include "../util/util.h"\n',
    "alloc/extent/emap.h": (MOD % "emap" + '#include "util/util.h"\n'
                            '#include "os/pages.h"\n'),
    # line 5: a layer 2 file reaching up to the profiler
    "alloc/extent/emap.c": (MOD % "emap" + '#include "emap.h"\n'
                            '#include "prof/prof.h"\n'
                            '/* #include "cli/cli.h" in a comment */\n'
                            '#include <stdio.h>\n'),
    # line 5: layer 3 including the front (layer 4)
    "alloc/page/pa.c": (MOD % "pa" + '#include "../extent/emap.h"\n'
                        '#include "../arena.h"\n'
                        '#include "heapsight.h"\n'),
    "alloc/arena.h": MOD % "arena" + '#include "page/pa.h"\n',
    "alloc/page/pa.h": MOD % "pa" + '#include "alloc/extent/emap.h"\n',
    # no module comment, and an unknown include
    "alloc/tcache.c": ('#include "arena.h"\n#include "nosuch.h"\n'),
    "alloc/hpa/hpa.c": MOD % "hpa" + '#include "../arena.h"\n',
    "backtrace_hooks/unwind.h": MOD % "unwind" + '#include "../alloc/arena.h"\n',
    "prof/prof.h": (MOD % "prof" + '#include "backtrace_hooks/unwind.h"\n'
                    '#include "heapsight_hook.h"\n'),
    # line 5: a call up the module order of prof/ (dump below prof)
    "prof/dump.c": (MOD % "dump" + '#include "site.h"\n'
                    '#include "prof.h"\n'),
    "prof/site.h": MOD % "site" + "\n",
    # line 4: a module the order does not list
    "prof/stray.c": MOD % "stray" + '#include "site.h"\n',
    # viz: the pure util.h is fine; mutex.h (has a .c) and prof are not
    "viz/flame.c": (MOD % "flame" + '#include "../alloc/util/util.h"\n'
                    '#include "../alloc/util/mutex.h"\n'
                    '#include "../prof/prof.h"\n'
                    '#include "flame.h"\n'),
    "viz/flame.h": MOD % "flame" + "\n",
    # cli: viz is fine; the allocator front is not
    "cli/main.c": (MOD % "main" + '#include "../viz/flame.h"\n'
                   '#include "heapsight.h"\n'
                   '#include "../alloc/arena.h"\n'
                   '#include "../tests/harness.h"\n'),
    "tests/harness.h": "#include \"../prof/prof.h\"\n",  # not checked
    "include/bad.h": MOD % "bad" + '#include "../alloc/arena.h"\n'
                     '#include "hs_config.h"\n',
}
SELF_TEST_EXPECTED = [
    "alloc/extent/emap.c:5: alloc/extent includes prof/prof.h (prof)",
    "alloc/hpa/hpa.c:1: alloc/hpa is not in the layer table",
    "alloc/page/pa.c:5: alloc/page includes alloc/arena.h (alloc)",
    "alloc/tcache.c:1: alloc file does not start with a module comment",
    "alloc/tcache.c:2: alloc includes nosuch.h (unresolved)",
    "cli/main.c:6: cli includes alloc/arena.h (alloc)",
    "prof/dump.c:5: prof includes prof/prof.h (prof): prof is above dump",
    "prof/stray.c:4: prof includes prof/site.h (prof): stray is not in",
    "cli/main.c:7: cli includes tests/harness.h (outside the layers)",
    "include/bad.h:4: public includes alloc/arena.h (alloc)",
    "include/bad.h:5: public includes hs_config.h (generated)",
    "viz/flame.c:5: viz includes alloc/util/mutex.h (alloc/util)",
    "viz/flame.c:6: viz includes prof/prof.h (prof)",
]


def write_tree(root, tree):
    for rel, text in tree.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def self_test():
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="hs-includes-") as tmp:
        # 1. An empty tree (no layer folder exists yet) is clean.
        nfiles, violations = check_tree(tmp)
        expect(nfiles == 0 and not violations, "empty tree: %r" % violations)

        # 2. The fake tree: exactly the expected violations, nothing else.
        write_tree(tmp, SELF_TEST_TREE)
        nfiles, violations = check_tree(tmp)
        expect(nfiles == len(SELF_TEST_TREE) - 1,
               "files checked: %d" % nfiles)
        for want in SELF_TEST_EXPECTED:
            hits = [v for v in violations if v.startswith(want)]
            expect(len(hits) == 1, "not caught exactly once: " + want)
        for v in violations:
            expect(any(v.startswith(w) for w in SELF_TEST_EXPECTED),
                   "unexpected violation: " + v)

        # 3. The command line: exit 1 and the summary line on the bad tree.
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--root", tmp],
            stdout=subprocess.PIPE, universal_newlines=True)
        expect(proc.returncode == 1, "exit status %d, want 1" % proc.returncode)
        expect("include rules: %d files checked, %d violations"
               % (nfiles, len(SELF_TEST_EXPECTED)) in proc.stdout,
               "summary line missing:\n" + proc.stdout)

    with tempfile.TemporaryDirectory(prefix="hs-includes-") as tmp:
        # 4. A clean tree exits 0.
        clean = {k: v for k, v in SELF_TEST_TREE.items()
                 if not any(w.startswith(k + ":") for w in SELF_TEST_EXPECTED)}
        write_tree(tmp, clean)
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--root", tmp],
            stdout=subprocess.PIPE, universal_newlines=True)
        expect(proc.returncode == 0,
               "clean tree: exit %d\n%s" % (proc.returncode, proc.stdout))
        expect(", 0 violations" in proc.stdout, "clean tree summary")

    for f in failures:
        print("self-test FAILED: " + f)
    cases = len(SELF_TEST_EXPECTED) + 4
    print("check_includes self-test: %d cases, %s"
          % (cases, "ok" if not failures else "%d failed" % len(failures)))
    return 1 if failures else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", nargs="?",
                    help="repository root (default: this repo)")
    ap.add_argument("--root", dest="root_opt", metavar="DIR",
                    help="the same, as an option")
    ap.add_argument("--self-test", action="store_true",
                    help="check the checker on a temporary fake tree")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    root = args.root or args.root_opt or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(root):
        print("check_includes: no such directory: " + root, file=sys.stderr)
        return 2
    return run(root)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
