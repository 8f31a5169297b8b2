#!/usr/bin/env python3
"""flame_test.py — tests of `heapsight flamegraph` (cli/flamegraph.c and
its renderer viz/flamegraph.c).

Usage: flame_test.py CASE --heapsight EXE
       flame_test.py regen --heapsight EXE     rewrite the golden files

Each CASE is one CTest test (cli_flame_<CASE>); see CASES at the bottom.
The profiles are written here with ../profgen.py; the golden files in
golden/ are what heapsight makes of the fixed ones (small_profile,
base_profile).  After a deliberate change to the drawing, regenerate them
from the build tree and look at them before committing:

    python3 tests/cli/flame/flame_test.py regen --heapsight build/bin/heapsight
    git diff tests/cli/flame/golden/
    chromium tests/cli/flame/golden/small.svg    # check it by eye

Every case works in its own temporary directory, removed at the end, and
prints what it checked; a failure prints FAIL lines and exits 1.
"""

import argparse
import difflib
import html.parser
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
sys.path.insert(0, HERE)
from profgen import Profile  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
GOLDEN = os.path.join(HERE, "golden")
DRAW_W = 1180.0  # the drawing's width in px: 1200 less two 10 px margins
ROW = 16
HIGHLIGHT = "#e040e0"
MiB = 1 << 20

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


def run(cmd, timeout=100):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def hs(*args):
    return run([ARGS.heapsight, "flamegraph"] + list(args))


def tmp(name):
    return os.path.join(TMP, name)


def render(profile, out, *opts):
    rc, _, err = hs(profile, "-o", out, *opts)
    if not check(rc == 0 and err == "", "flamegraph %s -o %s %s: exit %d, %r"
                 % (profile, out, " ".join(opts), rc, err)):
        raise SystemExit(finish())
    with open(out, encoding="utf-8") as f:
        return f.read()


# ---- the fixed profiles -----------------------------------------------------

def small_stacks():
    """Everything the drawing does, in 31 stacks: nesting, self values,
    names to escape, a UTF-8 name, a control character, a label too long
    for its frame, small frames merged under parse and dropped under main.
    (stack leaf first, bytes)."""
    out = [
        (["malloc_buffer", "read_input", "main"], 4 * MiB),
        (["malloc_buffer", "parse", "main"], 2 * MiB),
        (["std::vector<int>::push_back", "parse", "main"], MiB),
        (["operator new(unsigned long)",
          "a_really_long_function_name_that_does_not_fit_in_its_frame",
          "main"], 3 * MiB // 2),
        (["na\u00efve_alloc & co", "main"], MiB // 2),
        (["tab\there", "main"], MiB // 4),
        (["main"], MiB // 4),
        (["tiny_a", "main"], 100),
        (["tiny_b", "main"], 200),
    ]
    return out + [(["helper_%02d" % i, "parse", "main"], 6000)
                  for i in range(20)]


def base_stacks():
    """The base of the differential golden graph: read_input shrank by
    half, parse's malloc_buffer doubled, push_back and the UTF-8 name
    stayed, operator new's path is new, old_cache is gone."""
    out = [
        (["malloc_buffer", "read_input", "main"], 8 * MiB),
        (["malloc_buffer", "parse", "main"], MiB),
        (["std::vector<int>::push_back", "parse", "main"], MiB),
        (["na\u00efve_alloc & co", "main"], MiB // 2),
        (["old_cache", "main"], 2 * MiB),
    ]
    return out + [(["helper_%02d" % i, "parse", "main"], 3000)
                  for i in range(20)]


def objects(value):
    return value // 4096 + 1


def write_stacks(stacks, path):
    """Each sample: objects(bytes) objects and bytes bytes, allocated and
    in use."""
    p = Profile()
    for stack, value in stacks:
        p.sample(stack, [objects(value), value, objects(value), value])
    return p.write(path)


def small_profile(path):
    return write_stacks(small_stacks(), path)


def base_profile(path):
    return write_stacks(base_stacks(), path)


def total(stacks, pred=lambda stack: True, of=lambda v: v):
    return sum(of(v) for st, v in stacks if pred(st))


SMALL_TOTAL = total(small_stacks())
BASE_TOTAL = total(base_stacks())

GOLDEN_FILES = [
    # (golden file, profile maker, output name, options)
    ("small.svg", small_profile, "small.svg", ()),
    ("small.html", small_profile, "small.html", ()),
    ("diff.svg", small_profile, "diff.svg", ("--base", "base.pb.gz")),
]


def make_golden_inputs():
    small_profile(tmp("small.pb.gz"))
    base_profile(tmp("base.pb.gz"))


def render_golden(out, opts):
    cwd = os.getcwd()
    os.chdir(TMP)  # relative names: the title shows base names only
    try:
        return render("small.pb.gz", out, *opts)
    finally:
        os.chdir(cwd)


# ---- reading the SVG --------------------------------------------------------

class Frame:
    def __init__(self, g, parent, depth):
        self.g, self.parent, self.depth = g, parent, depth
        self.title = g.find(SVG + "title").text
        self.lines = self.title.split("\n")
        self.name = self.lines[0]
        rect = g.find(SVG + "rect")
        self.x, self.y = float(rect.get("x")), float(rect.get("y"))
        self.w = float(rect.get("width"))
        self.fill = rect.get("fill")
        text = g.find(SVG + "text")
        self.label = text.text if text is not None else None
        self.value = int(g.get("data-v"))
        self.base = int(g.get("data-b")) if g.get("data-b") else None
        self.small = "s" in g.get("class").split()
        self.children = []

    def __repr__(self):
        return "<%s %d>" % (self.name, self.value)


def parse_svg(text):
    """(root element, frames in pre-order); fails on malformed XML."""
    root = ET.fromstring(text.encode("utf-8"))
    frames = []

    def walk(elem, parent, depth):
        for g in elem.findall(SVG + "g"):
            if "f" not in g.get("class", "").split():
                continue
            f = Frame(g, parent, depth)
            frames.append(f)
            if parent:
                parent.children.append(f)
            walk(g, f, depth + 1)

    holder = root.find(SVG + "g[@class='frames']")
    if holder is not None:
        walk(holder, None, 0)
    return root, frames


def rgb(fill):
    return tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))


def find(frames, name, parent=None):
    out = [f for f in frames if f.name == name and
           (parent is None or (f.parent and f.parent.name == parent))]
    if not check(len(out) == 1, "want one frame %r (parent %r), got %d"
                 % (name, parent, len(out))):
        raise SystemExit(finish())
    return out[0]


def check_geometry(frames, what):
    """Widths proportional to values; children side by side from their
    parent's left edge, sorted by name, one row up; values add up."""
    total = frames[0].value
    bottom = frames[0].y
    for f in frames:
        want = f.value / total * DRAW_W
        check(abs(f.w - want) <= 0.006, "%s: %r width %.2f, want %.4f"
              % (what, f, f.w, want))
        check(f.y == bottom - ROW * f.depth, "%s: %r at y %.0f, depth %d"
              % (what, f, f.y, f.depth))
        x = f.x
        named = [c for c in f.children if not c.small]
        check([c.name for c in named] == sorted(c.name for c in named),
              "%s: children of %r not sorted: %r" % (what, f, named))
        check(all(c.small for c in f.children[len(named):]),
              "%s: the merged frame of %r is not last" % (what, f))
        for c in f.children:
            check(abs(c.x - x) <= 0.011, "%s: %r at x %.2f, want %.2f"
                  % (what, c, c.x, x))
            x = c.x + c.w
        check(sum(c.value for c in f.children) <= f.value,
              "%s: children of %r exceed it" % (what, f))
        fit = int((f.w - 6) / 7.2)
        want = (f.name if len(f.name) <= fit else
                f.name[:fit - 2] + ".." if fit >= 3 else None)
        check(f.label == want, "%s: %r labelled %r in %.2f px, want %r"
              % (what, f, f.label, f.w, want))
        if f.base is not None and f.children:
            check(sum(c.base for c in f.children) <= f.base,
                  "%s: children's base of %r exceed it" % (what, f))


# ---- cases ------------------------------------------------------------------

def case_golden():
    """small.svg, small.html and diff.svg are as in golden/, byte for byte."""
    make_golden_inputs()
    for golden, _, out, opts in GOLDEN_FILES:
        got = render_golden(out, opts)
        with open(os.path.join(GOLDEN, golden), encoding="utf-8") as f:
            want = f.read()
        if got == want:
            print("%s: as golden/%s (%d bytes)" % (out, golden, len(got)))
            continue
        diff = difflib.unified_diff(want.splitlines(), got.splitlines(),
                                    "golden/" + golden, out, lineterm="")
        print("\n".join(list(diff)[:60]))
        fail("%s differs from golden/%s (if the change is meant, regenerate:"
             " flame_test.py regen --heapsight EXE)" % (out, golden))


def regen():
    make_golden_inputs()
    os.makedirs(GOLDEN, exist_ok=True)
    for golden, _, out, opts in GOLDEN_FILES:
        text = render_golden(out, opts)
        with open(os.path.join(GOLDEN, golden), "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote golden/%s (%d bytes)" % (golden, len(text)))


def case_svg():
    """The SVG of the small profile: well-formed, geometry, tooltips,
    labels, escaping, merged and dropped small frames."""
    small_profile(tmp("small.pb.gz"))
    text = render(tmp("small.pb.gz"), tmp("small.svg"))
    root, frames = parse_svg(text)
    check(root.tag == SVG + "svg", "root element %r" % root.tag)
    check(root.find(SVG + "script") is not None, "no script")
    check(int(root.get("data-total")) == SMALL_TOTAL, "data-total %s, want %d"
          % (root.get("data-total"), SMALL_TOTAL))
    check_geometry(frames, "small.svg")
    all_, main = frames[0], find(frames, "main")
    check(all_.name == "all" and all_.w == DRAW_W and all_.depth == 0,
          "the root: %r %.2f" % (all_, all_.w))
    check(main.parent is all_ and main.value == SMALL_TOTAL, "main: %r" % main)
    rb = find(frames, "malloc_buffer", "read_input")
    check(rb.lines == ["malloc_buffer", "malloc_buffer.c:21",
                       "4.00 MiB, 41.60% of the total"],
          "tooltip of read_input's malloc_buffer: %r" % rb.lines)
    check(main.lines[2].endswith(", self 256 KiB"),
          "main's self value: %r" % main.lines[2])
    check(find(frames, "std::vector<int>::push_back").label ==
          "std::vector<in..", "escaped and cut label of push_back")
    long_ = find(frames,
                 "a_really_long_function_name_that_does_not_fit_in_its_frame")
    check(long_.label == "a_really_long_function..",
          "label of the long name: %r (%.2f px)" % (long_.label, long_.w))
    find(frames, "na\u00efve_alloc & co")
    find(frames, "tab?here")
    merged = [f for f in frames if f.small]
    check(len(merged) == 1 and merged[0].name == "[20 small frames]" and
          merged[0].parent.name == "parse" and merged[0].value == 120000,
          "merged frames: %r" % merged)
    check(not [f for f in frames if f.name.startswith(("tiny", "helper"))]
          and not [f for f in merged if f.parent is main],
          "tiny frames drawn: %r" % frames)
    check(len(frames) == 12, "%d frames, want 12: %r" % (len(frames), frames))
    sub = root.find(SVG + "text[@class='sub']").text
    check(sub == "inuse_space \u00b7 total 9.61 MiB", "totals line %r" % sub)
    print("small.svg: %d frames, geometry, tooltips, labels, merged ok"
          % len(frames))


def case_diff():
    """The differential SVG: grown red, shrunk blue, unchanged grey, new
    paths full red, base-only sites in the totals."""
    small_profile(tmp("small.pb.gz"))
    base_profile(tmp("base.pb.gz"))
    text = render(tmp("small.pb.gz"), tmp("diff.svg"),
                  "--base", tmp("base.pb.gz"))
    root, frames = parse_svg(text)
    check_geometry(frames, "diff.svg")
    grown = find(frames, "malloc_buffer", "parse")
    shrunk = find(frames, "malloc_buffer", "read_input")
    same = find(frames, "std::vector<int>::push_back")
    new = find(frames, "operator new(unsigned long)")
    check((grown.value, grown.base) == (2 * MiB, MiB), "grown: %r %r"
          % (grown.value, grown.base))
    r, g, b = rgb(grown.fill)
    check(r > g + 50 and r > b + 50, "grown frame not red: %s" % grown.fill)
    r, g, b = rgb(shrunk.fill)
    check(b > r + 50 and b > g + 30, "shrunk frame not blue: %s" % shrunk.fill)
    check(len(set(rgb(same.fill))) == 1, "unchanged not grey: %s" % same.fill)
    check(new.base == 0 and new.fill == "#dc2626",
          "new path: base %r fill %s" % (new.base, new.fill))
    # Intensity by relative change: +100% (a half) is lighter than new.
    check(rgb(grown.fill)[1] > rgb(new.fill)[1], "grown as strong as new")
    check(grown.lines[-1] ==
          "base 1.00 MiB \u2192 2.00 MiB: +1.00 MiB (+100.0%)",
          "grown tooltip %r" % grown.lines[-1])
    check(shrunk.lines[-1] ==
          "base 8.00 MiB \u2192 4.00 MiB: -4.00 MiB (-50.0%)",
          "shrunk tooltip %r" % shrunk.lines[-1])
    check(not [f for f in frames if f.name == "old_cache"], "old_cache drawn")
    main = find(frames, "main")
    check(frames[0].base == BASE_TOTAL and main.base == BASE_TOTAL,
          "root base %r, main base %r, want %d (old_cache included)"
          % (frames[0].base, main.base, BASE_TOTAL))
    sub = root.find(SVG + "text[@class='sub']").text
    check("base 12.6 MiB \u2192 new 9.61 MiB: -2.94 MiB (-23.4%)" in sub,
          "totals line %r" % sub)
    print("diff.svg: grown %s, shrunk %s, same %s, new %s; totals: %s"
          % (grown.fill, shrunk.fill, same.fill, new.fill, sub))


class Html(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.stack, self.errors = [], [], []
        self.frames = 0
        self.title = ""
        self.urls = []

    VOID = {"meta", "input", "rect", "br", "link", "img"}

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "g" and "f" in (a.get("class") or "").split():
            self.frames += 1
        for k in ("src", "href", "xlink:href"):
            if k in a:
                self.urls.append(a[k])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %r" % (tag, self.stack[-1:]))
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "title" and "head" in self.stack:
            self.title += data


def case_html():
    """The HTML page parses, holds the SVG (the same as the .svg file) and
    its script, and refers to nothing outside itself."""
    small_profile(tmp("small.pb.gz"))
    svg = render(tmp("small.pb.gz"), tmp("small.svg"))
    page = render(tmp("small.pb.gz"), tmp("small.html"))
    p = Html()
    p.feed(page)
    p.close()
    check(not p.errors and not p.stack, "HTML nesting: %r, open %r"
          % (p.errors[:3], p.stack))
    check(p.tags[:3] == ["html", "head", "meta"] and "body" in p.tags,
          "HTML skeleton: %r" % p.tags[:6])
    check(p.tags.count("svg") == 1 and p.tags.count("script") == 1,
          "svg/script elements: %r" % p.tags)
    _, frames = parse_svg(svg)
    check(p.frames == len(frames), "%d frames in the page, %d in the SVG"
          % (p.frames, len(frames)))
    check(p.title == "Flame graph: small.pb.gz", "page title %r" % p.title)
    check(not p.urls, "the page refers to %r" % p.urls)
    for url in re.findall(r"\b(?:https?|ftp)://[^\s\"'<>]+", page):
        check(url.startswith(("http://www.w3.org/2000/svg",
                              "http://www.w3.org/1999/xhtml")),
              "the page names %s" % url)
    inline = svg.split("\n", 1)[1]  # less the XML prolog
    check(inline in page, "the page's <svg> is not the .svg file's")
    print("small.html: %d tags, %d frames, title %r, self-contained"
          % (len(p.tags), p.frames, p.title))


def case_options():
    """--sample-index, --focus, --ignore, --title, --lines."""
    small_profile(tmp("small.pb.gz"))
    src = tmp("small.pb.gz")
    _, fr = parse_svg(render(src, tmp("o.svg"), "--sample-index",
                             "alloc_objects"))
    want = total(small_stacks(), of=objects)
    check(fr[0].value == want and
          fr[0].lines[1] == "%.2f k, 100.00%% of the total" % (want / 1e3),
          "alloc_objects: %r, want %d" % (fr[0].lines, want))
    _, fr0 = parse_svg(render(src, tmp("o.svg"), "--sample-index", "0"))
    check(fr0[0].value == fr[0].value, "index 0 is alloc_objects")
    root, fr = parse_svg(render(src, tmp("o.svg"), "--focus", "^parse$"))
    want = total(small_stacks(), lambda st: "parse" in st)
    check(fr[0].value == want and
          [f.name for f in fr[1].children] == ["parse"],
          "--focus ^parse$: %r" % fr)
    check("focus /^parse$/" in root.find(SVG + "text[@class='sub']").text,
          "the totals line names the focus")
    _, fr = parse_svg(render(src, tmp("o.svg"), "--ignore", "read|parse"))
    want = total(small_stacks(),
                 lambda st: "parse" not in st and "read_input" not in st)
    check(fr[0].value == want and not
          [f for f in fr if f.name in ("parse", "read_input")],
          "--ignore: %r" % fr)
    root, _ = parse_svg(render(src, tmp("o.svg"), "--title", "a <b> & 'c'"))
    check(root.find(SVG + "text[@class='title']").text == "a <b> & 'c'",
          "--title")
    # --lines: the same function called from two lines of its caller.
    write_stacks([(["leaf", ("caller", "caller.c", 10), "main"], MiB),
                  (["leaf", ("caller", "caller.c", 20), "main"], 3 * MiB)],
                 tmp("lines.pb.gz"))
    _, fr = parse_svg(render(tmp("lines.pb.gz"), tmp("o.svg")))
    caller = find(fr, "caller")
    check(caller.value == 4 * MiB and caller.lines[1] == "caller.c",
          "merged lines: %r" % caller.lines)
    _, fr = parse_svg(render(tmp("lines.pb.gz"), tmp("o.svg"), "--lines"))
    c10, c20 = find(fr, "caller:10"), find(fr, "caller:20")
    check(c10.value == MiB and c20.value == 3 * MiB and
          c10.lines[1] == "caller.c:10", "--lines: %r %r" % (c10, c20))
    print("options: --sample-index, --focus, --ignore, --title, --lines ok")


def random_profile(path, stacks, names, seed, skew=True):
    """stacks distinct random stacks, 10-40 deep, over names functions;
    with skew, callers near the root come from a few names (so that big
    frames share paths, as in real programs), else uniformly."""
    rnd = random.Random(seed)
    funcs = ["fn_%04d" % i for i in range(names)]
    seen = set()
    while len(seen) < stacks:
        depth = rnd.randint(10, 40)
        st = []
        for level in range(depth):
            if skew:
                k = min(names, 2 + level * level * 4)
                st.append(funcs[int(rnd.random() ** 2 * k)])
            else:
                st.append(rnd.choice(funcs))
        st = tuple(reversed(st))  # leaf first
        if st in seen:
            continue
        seen.add(st)
    return write_stacks([(list(st), rnd.randint(1, 1 << 16))
                         for st in sorted(seen)], path)


def case_large():
    """20,000 distinct stacks: small frames merged or dropped keep the
    drawing bounded; still well-formed with exact widths."""
    random_profile(tmp("big.pb.gz"), 20000, 3000, seed=7)
    text = render(tmp("big.pb.gz"), tmp("big.svg"))
    root, frames = parse_svg(text)
    check_geometry(frames, "big.svg")
    total = frames[0].value
    small = [f for f in frames if f.value < total * 0.001]
    check(not small, "%d frames under 0.1%% drawn: %r" % (len(small),
                                                         small[:3]))
    depth = max(f.depth for f in frames)
    check(len(frames) <= 1000 * (depth + 1), "%d frames" % len(frames))
    check(len(text) < 2_000_000, "big.svg is %d bytes" % len(text))
    merged = sum(1 for f in frames if f.small)
    print("big.svg: %d bytes, %d frames (%d merged), depth %d"
          % (len(text), len(frames), merged, depth))


def case_write():
    """The output replaces an old file atomically, keeping its mode, and
    leaves no temporary file; an empty profile draws 'No samples'."""
    small_profile(tmp("small.pb.gz"))
    out = tmp("keep.svg")
    with open(out, "w") as f:
        f.write("old")
    os.chmod(out, 0o640)
    render(tmp("small.pb.gz"), out)
    check(os.stat(out).st_mode & 0o777 == 0o640, "mode not kept: %o"
          % (os.stat(out).st_mode & 0o777))
    Profile().write(tmp("empty.pb.gz"))
    root, frames = parse_svg(render(tmp("empty.pb.gz"), tmp("empty.svg")))
    check(not frames and "No samples" in ET.tostring(root).decode(),
          "empty profile: %r" % frames)
    for upper in ("UP.SVG", "page.HTM"):
        render(tmp("small.pb.gz"), tmp(upper))
    left = [n for n in os.listdir(TMP) if ".tmp." in n]
    check(not left, "temporary files left: %r" % left)
    print("write: mode kept, replaced in place, empty profile, .SVG/.HTM ok")


def one_error_line(err, what):
    lines = err.splitlines()
    check(len(lines) == 1 and lines[0].startswith("heapsight: "),
          "%s: want one 'heapsight: ' line on stderr, got %r" % (what, err))
    return lines[0] if lines else ""


def case_errors():
    """Usage errors and unreadable input: exit 2, one line, no output;
    an unwritable output: exit 1."""
    good = small_profile(tmp("small.pb.gz"))
    with open(tmp("garbage.pb.gz"), "wb") as f:
        f.write(b"\x1f\x8b not really gzip")
    p = Profile(types=[("objects", "count")], default="objects")
    p.sample(["main"], [5])
    other = p.write(tmp("other.pb.gz"))
    huge = write_stacks([(["a", "main"], 1 << 62), (["b", "main"], 1 << 62)],
                        tmp("huge.pb.gz"))
    out = tmp("x.svg")
    cases = [
        ((huge, "-o", out), 2, huge + ": the sample values add up past 2^63"),
        ((good, "-o", out, "--base", huge), 2, huge + ": the sample values"),
        ((good, "-o", tmp("x.png")), 2, "cannot tell the format"),
        ((good, "-o", tmp("x")), 2, "cannot tell the format"),
        ((good, "-o", tmp("x.svg.d/x")), 2, "cannot tell the format"),
        ((good,), 2, "no output given"),
        (("-o", out), 2, "no PROFILE given"),
        ((good, good, "-o", out), 2, "one PROFILE at a time"),
        ((good, "-o", out, "--bogus"), 2, "unknown option --bogus"),
        ((good, "-o"), 2, "needs an argument"),
        ((tmp("nosuch.pb.gz"), "-o", out), 2, "No such file"),
        ((tmp("garbage.pb.gz"), "-o", out), 2, tmp("garbage.pb.gz") + ": "),
        ((good, "-o", out, "--base", tmp("nosuch")), 2, "No such file"),
        ((good, "-o", out, "--base", other), 2, "no sample type"),
        ((good, "-o", out, "--sample-index", "bogus"), 2, "no sample type"),
        ((good, "-o", out, "--focus", "a("), 2, "bad --focus expression"),
        ((good, "-o", out, "--ignore", "[z-a]"), 2, "bad --ignore"),
        ((good, "-o", tmp("no/such/dir/x.svg")), 1, "cannot write"),
        ((good, "-o", TMP + "/.svg"), 1, "cannot write"),
    ]
    os.mkdir(tmp(".svg"))
    for args, status, word in cases:
        rc, so, err = hs(*args)
        line = one_error_line(err, " ".join(args))
        check(rc == status and word in line and so == "",
              "flamegraph %s: exit %d (want %d), %r (want %r)"
              % (" ".join(args), rc, status, line, word))
        print("exit %d: %s" % (rc, line))
    check(not os.path.exists(out), "output written on error")
    left = [n for n in os.listdir(TMP) if ".tmp." in n]
    check(not left, "temporary files left: %r" % left)
    rc, so, err = hs("--help")
    check(rc == 0 and so.startswith("usage: heapsight flamegraph") and
          not err, "flamegraph --help: %d %r" % (rc, err))
    rc, so, _ = run([ARGS.heapsight, "--help"])
    check(rc == 0 and re.search(r"^  flamegraph ", so, re.M),
          "flamegraph missing from heapsight --help")


# ---- the browser ------------------------------------------------------------

FRAMES_JS = """(() => Array.from(document.querySelectorAll('g.f')).map(g => {
  const r = g.children[1].getBoundingClientRect();
  return {name: g.children[0].textContent.split('\\n')[0],
          x: r.x, y: r.y, w: r.width, h: r.height,
          fill: g.children[1].getAttribute('fill'),
          shown: getComputedStyle(g.children[1]).visibility === 'visible'};
}))()"""


def box(c, selector):
    return c.evaluate("(() => { const r = document.querySelector(%r)"
                      ".getBoundingClientRect(); return {x: r.x, y: r.y, "
                      "w: r.width, h: r.height, shown: getComputedStyle("
                      "document.querySelector(%r)).visibility === "
                      "'visible'}; })()" % (selector, selector))


def text_of(c, selector):
    return c.evaluate("document.querySelector(%r).textContent" % selector)


def near(a, b, eps=0.6):
    return abs(a - b) <= eps


def browse(c, url, what):
    """Zoom, reset, zoom up, search and the details line in one page."""
    c.navigate(url)
    before = c.evaluate(FRAMES_JS)
    names = [f["name"] for f in before]
    check(len(before) == 12, "%s: %d frames" % (what, len(before)))
    root = before[0]
    full = root["w"]
    pi = names.index("parse")
    parse = before[pi]
    main = before[names.index("main")]
    # A real click in the middle of parse.
    c.click(parse["x"] + parse["w"] / 2, parse["y"] + parse["h"] / 2)
    after = c.evaluate(FRAMES_JS)
    z = after[pi]
    check(z["shown"] and near(z["x"], root["x"]) and near(z["w"], full),
          "%s: zoomed parse spans %.1f+%.1f, want %.1f+%.1f"
          % (what, z["x"], z["w"], root["x"], full))
    check(near(z["y"], root["y"]), "%s: zoomed parse not on the bottom row"
          % what)
    m = after[names.index("main")]
    check(not (m["shown"] and near(m["w"], full)),
          "%s: parse's parent main still shown at full width" % what)
    check(not after[0]["shown"] and not after[names.index("read_input")]
          ["shown"], "%s: frames outside parse still shown" % what)
    kids = [i for i, f in enumerate(before)
            if f["name"] in ("malloc_buffer", "std::vector<int>::push_back",
                             "[20 small frames]")
            and parse["x"] - 0.5 <= f["x"] < parse["x"] + parse["w"]]
    check(len(kids) == 3, "%s: parse's children %r" % (what, kids))
    for i in kids:
        want = before[i]["w"] * full / parse["w"]
        check(after[i]["shown"] and near(after[i]["w"], want, 1.0),
              "%s: child %s width %.1f, want %.1f"
              % (what, names[i], after[i]["w"], want))
    check(box(c, ".reset")["shown"], "%s: no reset control" % what)
    want = "Zoomed into all \u203a main \u203a parse: 3.11 MiB, %.2f%%" % (
        100 * total(small_stacks(), lambda st: "parse" in st) / SMALL_TOTAL)
    check(text_of(c, ".details").startswith(want),
          "%s: details line when zoomed: %r" % (what,
                                               text_of(c, ".details")))
    # Clicking the zoomed frame goes up to main, which then fills the width.
    c.click(z["x"] + 40, z["y"] + z["h"] / 2)
    up = c.evaluate(FRAMES_JS)[names.index("main")]
    check(up["shown"] and near(up["w"], full), "%s: up to main: %r"
          % (what, up))
    # Reset restores every frame where it was.
    r = box(c, ".reset")
    c.click(r["x"] + r["w"] / 2, r["y"] + r["h"] / 2)
    again = c.evaluate(FRAMES_JS)
    moved = [b["name"] for a, b in zip(again, before)
             if not (a["shown"] and near(a["x"], b["x"], 0.05) and
                     near(a["w"], b["w"], 0.05) and near(a["y"], b["y"]))]
    check(not moved, "%s: after reset, moved: %r" % (what, moved))
    check(not box(c, ".reset")["shown"], "%s: reset still shown" % what)
    # Hover: the details line.
    c.mouse("mouseMoved", main["x"] + main["w"] / 2, main["y"] + 5)
    d = text_of(c, ".details")
    check(d.startswith("main  \u00b7  main.c:71  \u00b7  9.61 MiB"),
          "%s: details %r" % (what, d))
    # Search by typing into the box.
    s = box(c, ".search")
    c.click(s["x"] + 10, s["y"] + s["h"] / 2)
    c.type_text("malloc_b")
    found = c.evaluate(FRAMES_JS)
    lit = sorted(f["name"] for f in found if f["fill"] == HIGHLIGHT)
    check(lit == ["malloc_buffer", "malloc_buffer"],
          "%s: highlighted %r" % (what, lit))
    m = text_of(c, ".matched")
    want = "Matched: 2 frames, 6.00 MiB (%.2f%% of the total)" % (
        100 * total(small_stacks(), lambda st: "malloc_buffer" in st) /
        SMALL_TOTAL)
    check(m == want, "%s: matched line %r, want %r" % (what, m, want))
    c.type_text("|^parse$")  # nested matches count once
    m = text_of(c, ".matched")
    want = "Matched: 3 frames, 7.11 MiB (%.2f%% of the total)" % (
        100 * total(small_stacks(), lambda st: "parse" in st or
                    "malloc_buffer" in st) / SMALL_TOTAL)
    check(m == want, "%s: matched line %r, want %r" % (what, m, want))
    c.key("Escape", "Escape", 27)
    cleared = c.evaluate(FRAMES_JS)
    check([f["fill"] for f in cleared] == [f["fill"] for f in before] and
          text_of(c, ".matched") == "", "%s: Escape left highlights" % what)
    errors = c.exceptions()
    check(not errors, "%s: script errors %r" % (what, errors))
    print("%s: zoom, up, reset, details, search, Escape ok" % what)


def case_browser():
    """The SVG and the HTML page in headless Chromium: real clicks zoom and
    reset, typing searches."""
    from cdp import Chromium
    small_profile(tmp("small.pb.gz"))
    render(tmp("small.pb.gz"), tmp("small.svg"))
    render(tmp("small.pb.gz"), tmp("small.html"))
    with Chromium("/usr/bin/chromium", timeout=40) as c:
        browse(c, "file://" + tmp("small.svg"), "small.svg")
        browse(c, "file://" + tmp("small.html"), "small.html")


CASES = {
    "golden": case_golden,
    "svg": case_svg,
    "diff": case_diff,
    "html": case_html,
    "options": case_options,
    "large": case_large,
    "write": case_write,
    "errors": case_errors,
    "browser": case_browser,
}


def finish():
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("ok")
    return 0


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES) + ["regen"])
    ap.add_argument("--heapsight", required=True)
    ARGS = ap.parse_args()
    ARGS.heapsight = os.path.abspath(ARGS.heapsight)
    TMP = tempfile.mkdtemp(prefix="hs-flame-")
    try:
        if ARGS.case == "regen":
            regen()
        else:
            CASES[ARGS.case]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
