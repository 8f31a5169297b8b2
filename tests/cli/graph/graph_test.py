#!/usr/bin/env python3
"""graph_test.py — tests of `heapsight graph` (call graphs as DOT, SVG,
PNG and PDF).

Usage: graph_test.py CASE --heapsight EXE
       graph_test.py regen --heapsight EXE     rewrite golden/*.dot

Each CASE is one CTest test (cli_graph_<CASE>); see CASES at the bottom.

Golden cases build a fixed profile with ../profgen.py (FIXTURES below), run
`heapsight graph PROFILE ARGS -o x.dot` and compare the DOT text byte for
byte with golden/<case>.dot.  Besides the bytes, each golden case checks
what its fixture is about (a self-edge for recursion, the dashed edge over
a pruned function, ...) on the parsed DOT, so that regenerating cannot
bless a wrong graph silently.  After a deliberate change of the output:

    python3 tests/cli/graph/graph_test.py regen --heapsight build/bin/heapsight
    git diff tests/cli/graph/golden     # read every changed line

The rendered formats are checked for their structure only (their bytes
depend on fonts and Graphviz's version), and always in an environment with
HOME and the XDG directories in an empty temporary directory and GVBINDIR
unset: heapsight registers Graphviz's plugins itself, so no plugin
configuration file may be needed.

Every case works in its own temporary directory, removed at the end, and
prints what it checked; a failure prints FAIL lines and exits 1.
"""

import argparse
import difflib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from profgen import Profile  # noqa: E402  (tests/cli/profgen.py)

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


def clean_env():
    """The environment of every run: HOME and XDG in an empty directory,
    no GVBINDIR, nothing of Graphviz's configuration reachable."""
    home = os.path.join(TMP, "home")
    os.makedirs(home, mode=0o700, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "LANG": "C.UTF-8"}
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        env[var] = home
    return env


def hs(*args, env=None):
    p = subprocess.run([ARGS.heapsight] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env or clean_env(),
                       timeout=50)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def one_error_line(err, what):
    lines = err.splitlines()
    ok = len(lines) == 1 and lines[0].startswith("heapsight: ")
    check(ok, "%s: want one 'heapsight: ' line on stderr, got %r"
          % (what, err))
    return lines[0] if lines else ""


# ---- fixtures ----------------------------------------------------------------

def sample(p, stack, inuse, alloc=None):
    """A sample with inuse_space = inuse bytes (the default type) and
    alloc_space = alloc (default: twice inuse)."""
    alloc = 2 * inuse if alloc is None else alloc
    p.sample(stack, [1, alloc, 1, inuse])


def fx_recursion(path):
    """Direct recursion (fib), indirect (walk_a <-> walk_b): each sample
    counts once in cum and once on each edge, however deep it recurses."""
    p = Profile()
    sample(p, ["fib", "fib", "fib", "fib", "main"], 4096)
    sample(p, ["fib", "main"], 1024)
    sample(p, ["walk_b", "walk_a", "walk_b", "walk_a", "main"], 2048)
    sample(p, ["malloc_leaf", "walk_a", "main"], 512)
    return p.write(path)


def fx_diamond(path):
    """main calls left and right, both call leaf: leaf's cum is the sum."""
    p = Profile()
    sample(p, ["leaf", "left", "main"], 3072)
    sample(p, ["leaf", "right", "main"], 1024)
    sample(p, ["left_only", "left", "main"], 512)
    sample(p, ["main"], 256)
    return p.write(path)


def fx_pruned(path):
    """rare_a and rare_b (0.3% of the total each) fall below the node
    fraction (0.5%) while side_leaf (0.6%) stays: main -> side_leaf must
    stay, dashed (0.6% is above the edge fraction, 0.1%).  rare_path goes
    too, and main -> big_leaf over it (0.3%) would be dashed, but main
    reaches big_leaf through hot_path: that edge is dropped as redundant.
    tiny_leaf (0.05%) goes without a trace."""
    p = Profile()
    sample(p, ["big_leaf", "hot_path", "main"], 99000)
    sample(p, ["big_leaf", "rare_path", "main"], 300)
    sample(p, ["mid_leaf", "hot_path", "main"], 650)
    sample(p, ["tiny_leaf", "hot_path", "main"], 50)
    sample(p, ["side_leaf", "rare_a", "main"], 300)
    sample(p, ["side_leaf", "rare_b", "main"], 300)
    return p.write(path)


def fx_wide(path):
    """For --nodes and the fractions: two subtrees of two leaves, and a1
    also reached through other (whose cum, 3500, ranks fourth)."""
    p = Profile()
    sample(p, ["a1", "work", "main"], 4000)
    sample(p, ["a2", "work", "main"], 3000)
    sample(p, ["a3", "other", "main"], 2000)
    sample(p, ["a4", "other", "main"], 1000)
    sample(p, ["a1", "other", "main"], 500)
    return p.write(path)


def fx_names(path):
    """Names that need care: C++ with parameters, templates and deep
    namespaces (shortened and wrapped, the innermost lines kept), one long
    identifier (cut with an ellipsis), call operators and an anonymous
    namespace (their parentheses kept), quotes and a backslash (escaped),
    an inlined frame, an unsymbolized address (libfake.so+0x1234), and bytes
    that are not UTF-8 (patched into the string table: U+FFFD)."""
    p = Profile()
    cxx = ("ns::detail::Widget<std::basic_string<char> >::render(int) const",
           "widget.cc", 42)
    deep = ("alpha::bravo::charlie::delta::echo::foxtrot::golf::hotel::india::"
            "juliet::kilo::lima::mike::call(char const*)", "deep.cc", 7)
    p.sample([cxx, "main"], [1, 8192, 1, 4096])
    p.sample([deep, "main"], [1, 4096, 1, 2048])
    p.sample(["a_single_identifier_much_longer_than_a_line", "main"],
             [1, 2048, 1, 1024])
    p.sample([('say "hi" \\ now', "q.c", 3), "main"], [1, 1024, 1, 512])
    p.sample([[("inlined_helper", "h.c", 5), ("outer_fn", "o.c", 9)], "main"],
             [1, 1024, 1, 512])
    p.sample([0x401234, "main"], [1, 512, 1, 256])
    p.sample(["bad_\u00e9\u00e9_name", "main"], [1, 512, 1, 256])
    for fn in (("Foo::operator()(int) const", "f.cc", 1),
               ("Bar::operator() const", "b.cc", 2),
               ("(anonymous namespace)::helper(int)", "a.cc", 3)):
        p.sample([fn, "main"], [1, 512, 1, 256])
    data = p.encode().replace("bad_\u00e9\u00e9".encode(),
                              b"bad_\xff\xfe\xc3\x28")
    with open(path, "wb") as f:
        f.write(data)
    return path


DENSE_FAMILIES, DENSE_MIDS = 6, 12


def fx_dense(path):
    """2,000 random stacks over 300 functions (seed fixed), dense enough
    that every thinning rule of viz/callgraph.h has edges to drop.  Most
    are random walks over a call graph of 212 functions, ten callees each,
    drawn with weights falling as 1/sqrt(rank): a tangle of calls among the
    functions kept, and hundreds of dashed edges over the functions
    dropped.  Besides, calling into the tangle's 48 largest functions by
    cum (all kept):
    - six side families, main -> top_K -> one of twelve mid_K_J ->
      leaf_K, each mid_K_J too small to keep, so that top_K -> leaf_K is
      a dashed edge no other path repeats;
    - wide_mid, called once from each of the 48, and calling wide_leaf,
      which the largest also calls: kept for its cum, but each edge into
      it lighter than the edges kept, and joined to the rest through
      wide_leaf already, so that only the rule holding each function's
      heaviest in-edge keeps it a caller;
    - ring_a <-> ring_b, entered from 24 of the 48: each other's heaviest
      caller, so that the edges held first make a cycle apart from the
      rest, joined to it by an edge held in the second round only.
    Returns the path and the samples as (stack of names, leaf first;
    inuse bytes)."""
    rnd = random.Random(20240917)
    n = 300 - DENSE_FAMILIES * (2 + DENSE_MIDS) - 4
    funcs = ["fn_%03d" % i for i in range(n)]
    weights = [1.0 / (i + 1) ** 0.5 for i in range(n)]
    callees = [rnd.choices(range(n), weights, k=10) for _ in range(n)]
    samples = []
    for _ in range(2000 - DENSE_FAMILIES * DENSE_MIDS - 48 - 1 - 24):
        walk = [rnd.choices(range(n), weights)[0]]
        for _ in range(rnd.randrange(4, 20)):
            walk.append(rnd.choice(callees[walk[-1]]))
        samples.append(([funcs[i] for i in reversed(walk)] + ["main"],
                        int(2 ** rnd.uniform(4, 14))))
    cum = {f: 0 for f in funcs}
    for stack, inuse in samples:
        for f in set(stack) - {"main"}:
            cum[f] += inuse
    big = sorted(funcs, key=lambda f: (-cum[f], f))[:48]
    for k in range(DENSE_FAMILIES):
        for j in range(DENSE_MIDS):
            samples.append((["leaf_%d" % k, "mid_%d_%d" % (k, j),
                             "top_%d" % k, "main"], 32768))
    for f in big:
        samples.append((["wide_leaf", "wide_mid", f, "main"], 12288))
    samples.append((["wide_leaf", big[0], "main"], 131072))
    for f in big[:24]:
        samples.append((["ring_b", "ring_a", "ring_b", "ring_a", f, "main"],
                        16384))
    p = Profile()
    for stack, inuse in samples:
        sample(p, stack, inuse)
    return p.write(path), samples


# case: (fixture, profile name, extra arguments)
GOLDEN = {
    "recursion": (fx_recursion, "recursion.pb.gz", []),
    "diamond": (fx_diamond, "diamond.pb.gz", []),
    "pruned": (fx_pruned, "pruned.pb.gz", []),
    "nodes": (fx_wide, "wide.pb.gz", ["--nodes", "3"]),
    "fractions": (fx_wide, "wide.pb.gz",
                  ["--node-fraction", "0.3", "--edge-fraction", "0.35"]),
    "filters": (fx_wide, "wide.pb.gz",
                ["--sample-index", "alloc_space", "--focus", "other",
                 "--ignore", "^a4$"]),
    "names": (fx_names, "names.pb", []),
}


def golden_dot(case):
    """Runs the case's graph into DOT; returns the text (or None)."""
    fx, name, extra = GOLDEN[case]
    d = os.path.join(TMP, case)
    os.makedirs(d, exist_ok=True)
    prof = fx(os.path.join(d, name))
    out = os.path.join(d, case + ".dot")
    rc, _, err = hs("graph", prof, *extra, "-o", out)
    # The unsymbolized address of the names fixture: the model tries to
    # symbolize it and says, once, that its file does not exist.
    err = "".join(ln for ln in err.splitlines(True)
                  if "libfake.so" not in ln)
    if not check(rc == 0 and not err, "%s: exit %d, stderr %r"
                 % (case, rc, err)):
        return None
    check(sorted(os.listdir(d)) == sorted([name, case + ".dot"]),
          "%s: stray files beside the output: %r" % (case, os.listdir(d)))
    with open(out, encoding="utf-8") as f:
        return f.read()


# ---- reading DOT back --------------------------------------------------------

NODE_RE = re.compile(r'^  (N\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$')
EDGE_RE = re.compile(r'^  (N\d+) -> (N\d+) \[label=" ((?:[^"\\]|\\.)*)"(.*)\]$')
LEGEND_RE = re.compile(r'^  legend \[.*label="((?:[^"\\]|\\.)*)"\]$')


class Dot:
    """The nodes (name -> label lines), edges ((caller, callee) -> (value,
    dashed)) and legend lines of heapsight's DOT text."""

    def __init__(self, text):
        self.names, self.labels, self.edges, self.legend = {}, {}, {}, []
        self.attrs, self.name_lines = {}, {}
        for line in text.splitlines():
            m = NODE_RE.match(line)
            if m:
                lines = m.group(2).split("\\n")[:-1] if m.group(2).endswith(
                    "\\n") else m.group(2).split("\\n")
                name_lines = self._name_lines(lines)
                name = "".join(name_lines)
                self.name_lines[name] = name_lines
                self.names[m.group(1)] = name
                self.labels[name] = lines
                self.attrs[name] = m.group(3)
                continue
            m = EDGE_RE.match(line)
            if m:
                a, b = self.names[m.group(1)], self.names[m.group(2)]
                self.edges[(a, b)] = (m.group(3), "style=dashed" in line)
                continue
            m = LEGEND_RE.match(line)
            if m:
                self.legend = m.group(1).split("\\l")[:-1]

    @staticmethod
    def _name_lines(lines):
        """The name lines of a label: those before the value lines."""
        out = []
        for ln in lines:
            if re.match(r"^(of )?-?[\d.]+ \S*\s?\(", ln):
                break
            out.append(ln)
        return out


def check_golden(case, text):
    path = os.path.join(HERE, "golden", case + ".dot")
    with open(path, encoding="utf-8") as f:
        want = f.read()
    if text != want:
        diff = "".join(difflib.unified_diff(
            want.splitlines(True), text.splitlines(True),
            "golden/%s.dot" % case, "heapsight graph output"))
        fail("%s: output differs from the golden file (regenerate with "
             "'graph_test.py regen' if intended):\n%s" % (case, diff))
    else:
        print("%s: matches golden/%s.dot" % (case, case))


def expect_edges(case, d, want):
    """want: {(caller, callee): (value, dashed)}, exactly the edges."""
    check(d.edges == want, "%s: edges\n  got  %r\n  want %r"
          % (case, sorted(d.edges.items()), sorted(want.items())))


def expect_nodes(case, d, names):
    check(sorted(d.labels) == sorted(names), "%s: nodes %r, want %r"
          % (case, sorted(d.labels), sorted(names)))


def case_golden(case, semantic):
    text = golden_dot(case)
    if text is None:
        return
    again = golden_dot(case)
    check(text == again, "%s: two runs gave different DOT" % case)
    semantic(Dot(text))
    check_golden(case, text)


def sem_recursion(d):
    c = "recursion"
    expect_nodes(c, d, ["main", "fib", "walk_a", "walk_b", "malloc_leaf"])
    expect_edges(c, d, {
        ("main", "fib"): ("5.00 KiB", False),
        ("fib", "fib"): ("4.00 KiB", False),
        ("main", "walk_a"): ("2.50 KiB", False),
        ("walk_a", "walk_b"): ("2.00 KiB", False),
        ("walk_b", "walk_a"): ("2.00 KiB", False),
        ("walk_a", "malloc_leaf"): ("512 B", False),
    })
    # cum counts each sample once: fib's cum is its flat, 5 KiB of 7.5.
    check(d.labels["fib"][1:] == ["5.00 KiB (66.67%)"],
          "recursion: fib %r" % d.labels["fib"])
    check(d.labels["walk_a"][1:] == ["0 B (0.00%)", "of 2.50 KiB (33.33%)"],
          "recursion: walk_a %r" % d.labels["walk_a"])


def sem_diamond(d):
    c = "diamond"
    expect_nodes(c, d, ["main", "left", "right", "leaf", "left_only"])
    expect_edges(c, d, {
        ("main", "left"): ("3.50 KiB", False),
        ("main", "right"): ("1.00 KiB", False),
        ("left", "leaf"): ("3.00 KiB", False),
        ("right", "leaf"): ("1.00 KiB", False),
        ("left", "left_only"): ("512 B", False),
    })
    check(d.labels["leaf"][1:] == ["4.00 KiB (84.21%)"],
          "diamond: leaf %r" % d.labels["leaf"])
    check(d.labels["main"][1:] == ["256 B (5.26%)", "of 4.75 KiB (100.00%)"],
          "diamond: main %r" % d.labels["main"])
    check(list(d.names.values())[0] == "main", "diamond: main not first")


def sem_pruned(d):
    c = "pruned"
    expect_nodes(c, d, ["main", "hot_path", "big_leaf", "mid_leaf",
                        "side_leaf"])
    expect_edges(c, d, {
        ("main", "hot_path"): ("97.4 KiB", False),
        ("hot_path", "big_leaf"): ("96.7 KiB", False),
        ("hot_path", "mid_leaf"): ("650 B", False),
        ("main", "side_leaf"): ("600 B", True),  # over rare_a and rare_b
        # main -> big_leaf over rare_path: redundant with hot_path
    })
    for want in ("Dropped 4 functions (cum < 503 B)",
                 "Dropped 1 dashed edge (the caller reaches the callee "
                 "through other edges)"):
        check(want in d.legend, "pruned: no %r in %r" % (want, d.legend))


def sem_nodes(d):
    c = "nodes"
    expect_nodes(c, d, ["main", "work", "a1"])
    expect_edges(c, d, {
        ("main", "work"): ("6.84 KiB", False),
        ("work", "a1"): ("3.91 KiB", False),
        # main -> a1 over other (past --nodes): redundant with work
    })
    for want in ("Dropped 4 functions past the 3 largest by cum",
                 "Dropped 1 dashed edge (the caller reaches the callee "
                 "through other edges)"):
        check(want in d.legend, "nodes: no %r in %r" % (want, d.legend))


def sem_fractions(d):
    c = "fractions"
    # cutoffs: 0.3 x 10500 = 3150 for nodes, 0.35 x 10500 = 3675 for edges
    expect_nodes(c, d, ["main", "work", "other", "a1"])
    expect_edges(c, d, {
        ("main", "work"): ("6.84 KiB", False),
        ("work", "a1"): ("3.91 KiB", False),
    })
    for want in ("Dropped 3 functions (cum < 3.08 KiB)",
                 "Dropped 2 edges (< 3.59 KiB)"):
        check(want in d.legend, "fractions: no %r in %r" % (want, d.legend))


def sem_filters(d):
    c = "filters"
    expect_nodes(c, d, ["main", "other", "a3", "a1"])
    expect_edges(c, d, {
        ("main", "other"): ("4.88 KiB", False),
        ("other", "a3"): ("3.91 KiB", False),
        ("other", "a1"): ("1000 B", False),
    })
    for want in ("Type: alloc_space", "Focus: other", "Ignore: ^a4$",
                 "Kept by the filters: 4.88 KiB (23.81%)",
                 "Total: 20.5 KiB"):
        check(want in d.legend, "filters: no %r in %r" % (want, d.legend))


def sem_names(d):
    c = "names"
    for name, lines in d.name_lines.items():
        check(len(lines) <= 4, "names: %r has %d lines" % (name, len(lines)))
        for ln in lines:
            cols = len(ln.replace('\\"', '"').replace("\\\\", "\\"))
            check(cols <= 24, "names: line %r is %d columns" % (ln, cols))
    want = {
        "ns::detail::Widget<std::basic_string<char> >::render",
        "…delta::echo::foxtrot::golf::hotel::india::juliet::kilo::lima::"
        "mike::call",
        "a_single_identifier_muc…",
        'say \\"hi\\" \\\\ now',
        "inlined_helper", "outer_fn", "libfake.so+0x1234",
        "bad_\ufffd\ufffd\ufffd(_name",
        "Foo::operator()", "Bar::operator()", "(anonymous namespace)::helper",
        "main",
    }
    expect_nodes(c, d, sorted(want))
    check(("outer_fn", "inlined_helper") in d.edges,
          "names: no edge outer_fn -> inlined_helper: %r" % d.edges)


def case_golden_recursion():
    case_golden("recursion", sem_recursion)


def case_golden_diamond():
    case_golden("diamond", sem_diamond)


def case_golden_pruned():
    case_golden("pruned", sem_pruned)


def case_golden_nodes():
    case_golden("nodes", sem_nodes)


def case_golden_fractions():
    case_golden("fractions", sem_fractions)


def case_golden_filters():
    case_golden("filters", sem_filters)


def case_golden_names():
    case_golden("names", sem_names)


# ---- thinning a dense graph -------------------------------------------------

# viz/callgraph.h's CALLGRAPH_MAX_IN_EDGES and CALLGRAPH_EDGES_PER_NODE.
MAX_IN_EDGES, EDGES_PER_NODE = 6, 3
CALLGRAPH_EDGE_FRACTION = 0.001

THINNED_RE = (
    ("cutoff", r"Dropped (\d+) edges? \(< "),
    ("redundant", r"Dropped (\d+) dashed edges? \(the caller reaches the "
                  r"callee through other edges\)$"),
    ("fanin", r"Dropped (\d+) edges? past the (\d+) heaviest into a "
              r"function$"),
    ("excess", r"Dropped (\d+) edges? over the limit of (\d+)$"),
)


def model_edges(samples, kept):
    """The edges over the kept functions before any is dropped, built as
    viz/callgraph.c builds them (step 3 of callgraph.h): {(caller, callee):
    [value, residual]}; each sample counts once per edge, and an edge is
    residual when no sample went straight from its caller to its callee."""
    edges = {}
    for stack, value in samples:
        counted = set()
        parent, skipped = None, False
        for f in reversed(stack):
            if f not in kept:
                skipped = True
                continue
            if parent is not None:
                e = edges.setdefault((parent, f), [0, True])
                if (parent, f) not in counted:
                    counted.add((parent, f))
                    e[0] += value
                if not skipped:
                    e[1] = False
            parent, skipped = f, False
    return edges


def reaches(adj, a, c, skip=None):
    """Whether c is reached from a over adj's edges, the edge skip aside."""
    seen, pending = {a}, [a]
    while pending:
        n = pending.pop()
        for m in adj.get(n, ()):
            if (n, m) == skip:
                continue
            if m == c:
                return True
            if m not in seen:
                seen.add(m)
                pending.append(m)
    return False


def thinned_counts(legend):
    """{rule: (dropped, limit or None)} from the legend lines."""
    counts = {}
    for rule, pat in THINNED_RE:
        for line in legend:
            m = re.match(pat, line)
            if m:
                counts[rule] = (int(m.group(1)), int(m.group(2))
                                if m.re.groups > 1 else None)
    return counts


def dense_check_drops(d, edges, above, counts):
    """What the legend says was dropped, against the model."""
    n = len(d.names)
    for rule in ("cutoff", "redundant", "fanin", "excess"):
        check(counts.get(rule, (0,))[0] > 0,
              "dense: nothing dropped by %s: %r" % (rule, d.legend))
    check(counts.get("fanin", (0, 0))[1] == MAX_IN_EDGES and
          counts.get("excess", (0, 0))[1] == EDGES_PER_NODE * n,
          "dense: limits %r" % counts)
    check(counts.get("cutoff", (0,))[0] == len(edges) - len(above),
          "dense: %d edges below the cutoff, legend %r"
          % (len(edges) - len(above), counts))
    thinned = sum(counts.get(r, (0,))[0]
                  for r in ("redundant", "fanin", "excess"))
    check(thinned == len(above) - len(d.edges),
          "dense: %d thinned, %d above the cutoff, %d shown"
          % (thinned, len(above), len(d.edges)))


def dense_check_shape(d, above):
    """Each shown edge is one of the model's, dashed when residual; the
    caps hold; the graph is one piece; no dashed edge is redundant; each
    function keeps its heaviest in-edge when that edge is solid."""
    n, names = len(d.names), list(d.names.values())
    for (a, b), (_, dashed) in sorted(d.edges.items()):
        check((a, b) in above and above[(a, b)][1] == dashed,
              "dense: %s -> %s (dashed %s) is not %r"
              % (a, b, dashed, above.get((a, b))))
    check(len(d.edges) <= EDGES_PER_NODE * n, "dense: %d edges for %d nodes"
          % (len(d.edges), n))
    into = {}
    for a, b in d.edges:
        into[b] = into.get(b, 0) + 1
    check(max(into.values()) <= MAX_IN_EDGES, "dense: in-edges %r"
          % sorted(into.items(), key=lambda kv: -kv[1])[:3])
    undirected, adj = {}, {}
    for a, b in d.edges:
        undirected.setdefault(a, []).append(b)
        undirected.setdefault(b, []).append(a)
        adj.setdefault(a, []).append(b)
    joined = [f for f in names if f == "main" or reaches(undirected, "main",
                                                         f)]
    check(len(joined) == n, "dense: %d of %d functions joined to main"
          % (len(joined), n))
    redundant = [e for e, (_, dashed) in d.edges.items()
                 if dashed and reaches(adj, e[0], e[1], skip=e)]
    check(not redundant, "dense: redundant dashed edges %r" % redundant)
    index = {f: i for i, f in enumerate(names)}
    heaviest = {}
    for (a, b), (v, residual) in sorted(
            above.items(), key=lambda kv: (-kv[1][0], index[kv[0][0]],
                                           index[kv[0][1]])):
        if a != b:
            heaviest.setdefault(b, (a, residual))
    for b, (a, residual) in sorted(heaviest.items()):
        check(residual or (a, b) in d.edges,
              "dense: %s lost its heaviest caller %s" % (b, a))


def case_dense():
    """The thinning of the edges (steps 5 to 8 of viz/callgraph.h) on a
    dense profile, checked against the edges the profile has over the
    functions kept: counts and structure, never times."""
    prof, samples = fx_dense(os.path.join(TMP, "dense.pb.gz"))
    out = os.path.join(TMP, "dense.dot")
    rc, _, err = hs("graph", prof, "-o", out)
    if not check(rc == 0 and not err, "dense: exit %d, stderr %r"
                 % (rc, err)):
        return
    with open(out, encoding="utf-8") as f:
        text = f.read()
    rc, _, _ = hs("graph", prof, "-o", out)
    with open(out, encoding="utf-8") as f:
        check(rc == 0 and f.read() == text, "dense: two runs differ")
    d = Dot(text)
    edges = model_edges(samples, set(d.names.values()))
    total = sum(v for _, v in samples)
    cutoff = int(CALLGRAPH_EDGE_FRACTION * total)
    above = {e: v for e, v in edges.items() if v[0] >= cutoff}
    counts = thinned_counts(d.legend)
    dense_check_drops(d, edges, above, counts)
    dense_check_shape(d, above)
    for k in range(DENSE_FAMILIES):
        e = ("top_%d" % k, "leaf_%d" % k)
        check(d.edges.get(e, ("", False))[1], "dense: no dashed %s -> %s: %r"
              % (e[0], e[1], d.edges.get(e)))
    print("dense: %d functions, %d edges over them, %d above the cutoff, "
          "%d shown (%d dashed); dropped %s"
          % (len(d.names), len(edges), len(above), len(d.edges),
             sum(dashed for _, dashed in d.edges.values()),
             ", ".join("%s %d" % (r, c[0]) for r, c in sorted(counts.items()))))


# ---- rendered formats --------------------------------------------------------

def render(fx, name, fmt, *extra, env=None):
    prof = fx(os.path.join(TMP, name))
    out = os.path.join(TMP, "%s.%s" % (name.split(".")[0], fmt))
    rc, _, err = hs("graph", prof, *extra, "-o", out, env=env)
    if not check(rc == 0 and not err, "%s %s: exit %d, stderr %r"
                 % (name, fmt, rc, err)):
        return None
    with open(out, "rb") as f:
        return f.read()


def svg_nodes(data):
    """{title: text} of each <g class="node"> of an SVG document."""
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.fromstring(data)
    nodes = {}
    for g in root.iter(ns + "g"):
        if g.get("class") == "node":
            title = g.find(ns + "title").text
            nodes[title] = " ".join(t.text or "" for t in g.iter(ns + "text"))
    return nodes


def case_svg():
    for fx, name, funcs in (
            (fx_diamond, "diamond.pb.gz",
             ["main", "left", "right", "leaf", "left_only"]),
            (fx_pruned, "pruned.pb.gz",
             ["main", "hot_path", "big_leaf", "mid_leaf", "side_leaf"])):
        data = render(fx, name, "svg")
        if data is None:
            continue
        try:
            nodes = svg_nodes(data)
        except ET.ParseError as e:
            fail("%s: SVG is not well-formed XML: %s" % (name, e))
            continue
        want = ["legend"] + ["N%d" % i for i in range(1, len(funcs) + 1)]
        check(sorted(nodes) == sorted(want), "%s: node groups %r, want %r"
              % (name, sorted(nodes), want))
        shown = sorted(t.split(" ")[0] for k, t in nodes.items()
                       if k != "legend")
        check(shown == sorted(funcs), "%s: functions in the SVG %r, want %r"
              % (name, shown, sorted(funcs)))
        check("File: %s" % name in nodes.get("legend", ""),
              "%s: legend %r" % (name, nodes.get("legend")))
        edges = data.count(b'class="edge"')
        check(edges == {"diamond.pb.gz": 5, "pruned.pb.gz": 4}[name],
              "%s: %d edge groups" % (name, edges))
        dashed = data.count(b'stroke-dasharray')
        check(dashed == (1 if name == "pruned.pb.gz" else 0),
              "%s: %d dashed paths" % (name, dashed))
        print("%s: SVG well-formed, node groups %s" % (name, sorted(nodes)))


def case_png_pdf():
    png = render(fx_diamond, "diamond.pb.gz", "png")
    if png is not None:
        check(png[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature: %r" % png[:8])
        w = int.from_bytes(png[16:20], "big")
        h = int.from_bytes(png[20:24], "big")
        check(png[12:16] == b"IHDR" and w > 100 and h > 100,
              "PNG header: %r, %dx%d" % (png[12:16], w, h))
        print("PNG: %d bytes, %dx%d" % (len(png), w, h))
    pdf = render(fx_diamond, "diamond.pb.gz", "pdf")
    if pdf is not None:
        check(pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-32:],
              "PDF: starts %r, ends %r" % (pdf[:8], pdf[-16:]))
        print("PDF: %d bytes, %r" % (len(pdf), pdf[:8]))
    # Upper-case extensions name the same formats.
    upper = render(fx_diamond, "upper.pb.gz", "PNG")
    check(upper is not None and upper[:4] == b"\x89PNG", "out.PNG not PNG")


def case_no_plugin_config():
    """Graphviz's configuration is never consulted and no plugin is
    dlopen'ed: the plugins are linked in and registered by heapsight.
    GVBINDIR pointing to an empty directory (where a config6a would be
    looked for) must change nothing, and ld.so's own log (LD_DEBUG=files)
    must show the plugin libraries as needed by heapsight, never as
    dynamically loaded."""
    empty = os.path.join(TMP, "gvbindir")
    os.makedirs(empty)
    for fmt in ("svg", "png", "pdf"):
        env = clean_env()
        env["GVBINDIR"] = empty
        log = os.path.join(TMP, "ld-%s" % fmt)
        env["LD_DEBUG"] = "files"
        env["LD_DEBUG_OUTPUT"] = log
        data = render(fx_diamond, "diamond.pb.gz", fmt, env=env)
        check(data is not None and len(data) > 100,
              "%s with GVBINDIR=<empty>: nothing written" % fmt)
        text = ""
        for f in os.listdir(TMP):
            if f.startswith("ld-%s." % fmt):
                with open(os.path.join(TMP, f), errors="replace") as fh:
                    text += fh.read()
        needed = re.findall(r"file=(libgvplugin_\w+)\.so\.\d+ \[0\];  "
                            r"needed by \S*heapsight", text)
        check(sorted(set(needed)) == ["libgvplugin_core",
                                      "libgvplugin_dot_layout",
                                      "libgvplugin_pango"],
              "%s: plugins needed by heapsight: %r" % (fmt, needed))
        loaded = [ln for ln in text.splitlines()
                  if "dynamically loaded" in ln and "gvplugin" in ln]
        check(not loaded, "%s: plugins dlopen'ed: %r" % (fmt, loaded))
        check(os.listdir(empty) == [], "GVBINDIR written to")
    print("svg, png, pdf with GVBINDIR empty, HOME/XDG empty: ok; "
          "plugins linked, none dlopen'ed")


# ---- usage, bad input, writing ----------------------------------------------

def case_usage():
    prof = fx_diamond(os.path.join(TMP, "d.pb.gz"))
    out = os.path.join(TMP, "o.svg")
    for args, word in (
            ((prof, "-o", os.path.join(TMP, "o.txt")), "cannot tell the format"),
            ((prof, "-o", os.path.join(TMP, "noext")), "cannot tell the format"),
            ((prof, "-o", os.path.join(TMP, "svg")), "cannot tell the format"),
            ((prof,), "no output given"),
            (("-o", out), "no PROFILE"),
            ((prof, prof, "-o", out), "one PROFILE"),
            ((prof, "-o", out, "--node-fraction", "1.5"), "--node-fraction"),
            ((prof, "-o", out, "--node-fraction", "-0.1"), "--node-fraction"),
            ((prof, "-o", out, "--node-fraction", "nan"), "--node-fraction"),
            ((prof, "-o", out, "--edge-fraction", "0.1x"), "--edge-fraction"),
            ((prof, "-o", out, "--edge-fraction", ""), "--edge-fraction"),
            ((prof, "-o", out, "--nodes", "0"), "--nodes"),
            ((prof, "-o", out, "--nodes", "-3"), "--nodes"),
            ((prof, "-o", out, "--nodes", "12k"), "--nodes"),
            ((prof, "-o", out, "--nodes"), "needs an argument"),
            ((prof, "-o", out, "--focus", "("), "--focus"),
            ((prof, "-o", out, "--ignore", "[z-a]"), "--ignore"),
            ((prof, "-o", out, "--bogus"), "unknown option"),
            ((prof, "-o", out, "--sample-index", "nope"), "no sample type"),
            ((prof, "-o", out, "--sample-index", "9"), "no sample type")):
        rc, stdout, err = hs("graph", *args)
        what = "graph " + " ".join(a.replace(TMP + "/", "") for a in args)
        line = one_error_line(err, what)
        check(rc == 2 and word in line and not stdout,
              "%s: exit %d, %r (want %r)" % (what, rc, line, word))
        print("%-45s -> exit %d: %s" % (what[:45], rc, line))
    check(sorted(os.listdir(TMP)) == ["d.pb.gz", "home"],
          "files written by failed runs: %r" % os.listdir(TMP))


def case_bad_input():
    good = fx_diamond(os.path.join(TMP, "good.pb.gz"))
    with open(good, "rb") as f:
        data = f.read()
    inputs = {
        "empty.pb.gz": b"",
        "truncated.pb.gz": data[:len(data) // 2],
        "text.pb.gz": b"this is not a profile\n",
    }
    for name, blob in sorted(inputs.items()):
        path = os.path.join(TMP, name)
        with open(path, "wb") as f:
            f.write(blob)
    out = os.path.join(TMP, "o.svg")
    for path in sorted(os.path.join(TMP, n) for n in inputs) + [
            os.path.join(TMP, "nosuch.pb.gz"), TMP]:
        rc, _, err = hs("graph", path, "-o", out)
        line = one_error_line(err, path)
        check(rc == 2 and line.startswith("heapsight: %s: " % path),
              "%s: exit %d, %r" % (path, rc, line))
        check(not os.path.exists(out), "%s: output written" % path)
        print("%-18s -> exit %d: %s" % (os.path.basename(path), rc,
                                        line.replace(TMP + "/", "")))


def case_write():
    """The output is replaced whole or not at all; a failed write is one
    line and exit 1; no temporary file stays behind."""
    prof = fx_diamond(os.path.join(TMP, "d.pb.gz"))
    outdir = os.path.join(TMP, "out")
    os.makedirs(outdir)
    out = os.path.join(outdir, "g.dot")
    with open(out, "w") as f:
        f.write("old\n")
    os.chmod(out, 0o640)
    rc, _, err = hs("graph", prof, "-o", out)
    check(rc == 0 and not err, "overwrite: exit %d %r" % (rc, err))
    with open(out) as f:
        check(f.read().startswith('digraph "heapsight" {'),
              "overwrite: old contents stayed")
    check(os.stat(out).st_mode & 0o777 == 0o640,
          "overwrite: mode %o, want 640" % (os.stat(out).st_mode & 0o777))
    check(os.listdir(outdir) == ["g.dot"], "stray files: %r"
          % os.listdir(outdir))
    bad = os.path.join(TMP, "no", "dir", "g.svg")
    rc, _, err = hs("graph", prof, "-o", bad)
    line = one_error_line(err, "unwritable output")
    check(rc == 1 and line.startswith("heapsight: %s: cannot write" % bad),
          "unwritable: exit %d %r" % (rc, line))
    if os.geteuid() != 0:  # root writes anywhere
        os.chmod(outdir, 0o500)
        rc, _, err = hs("graph", prof, "-o", out)
        os.chmod(outdir, 0o700)
        line = one_error_line(err, "read-only directory")
        check(rc == 1 and "cannot write" in line, "read-only: %d %r"
              % (rc, line))
        with open(out) as f:
            check(f.read().startswith("digraph"), "read-only: file damaged")
    print("overwrite keeps the mode, no temporaries, unwritable -> exit 1")


def case_help():
    rc, out, err = hs("graph", "--help")
    check(rc == 0 and out.startswith("usage: heapsight graph") and not err,
          "graph --help: exit %d %r" % (rc, out[:60]))
    for opt in ("--sample-index", "--focus", "--ignore", "--nodes",
                "--node-fraction", "--edge-fraction", "-o, --output",
                ".svg", ".png", ".pdf", ".dot"):
        check(opt in out, "graph --help does not mention %s" % opt)
    rc, out, err = hs("--help")
    check(rc == 0 and re.search(r"^  graph +\S", out, re.M),
          "heapsight --help does not list graph: %r" % out)
    print("help: ok")


def regen():
    for case in sorted(GOLDEN):
        text = golden_dot(case)
        if text is None:
            continue
        path = os.path.join(HERE, "golden", case + ".dot")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote %s" % path)


CASES = {
    "golden_recursion": case_golden_recursion,
    "golden_diamond": case_golden_diamond,
    "golden_pruned": case_golden_pruned,
    "golden_nodes": case_golden_nodes,
    "golden_fractions": case_golden_fractions,
    "golden_filters": case_golden_filters,
    "golden_names": case_golden_names,
    "dense": case_dense,
    "svg": case_svg,
    "png_pdf": case_png_pdf,
    "no_plugin_config": case_no_plugin_config,
    "usage": case_usage,
    "bad_input": case_bad_input,
    "write": case_write,
    "help": case_help,
    "regen": regen,
}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--heapsight", required=True)
    ARGS = ap.parse_args()
    TMP = tempfile.mkdtemp(prefix="hs-graph-")
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
