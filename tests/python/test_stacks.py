"""test_stacks.py — Python functions in the stacks heapsight run records.

  ext_stack      outer() -> inner() -> a C extension that mallocs: leaf to
                 root the stack is the extension's C function, inner,
                 outer, <module>, with files and lines
  sqlite_zlib    sqlite3 and zlib allocations under the Python functions
                 that made them
  run_flamegraph heapsight run --flamegraph F: the program's final dump
                 drawn, Python functions included
  no_python      heapsight run --no-python: no Python frames
  asyncio        coroutines resumed by asyncio's event loop: the coroutine
                 that allocated, then the loop's frames down to <module>

Dumps are symbolized by heapsight run and read back with the real ``go tool
pprof -traces`` (stack order, names) and with tests/prof/pprof_decode.py
(files, lines, labels).
"""
import os

import pytest

from hs_helpers import EXT_SCRIPT, decode, find_order, run, sym_frames, write

pytestmark = pytest.mark.cpython(
    min=(3, 10), why="Python frames are read from 3.10 on (test_silent.py "
    "covers the older interpreters)")


@pytest.fixture(scope="module")
def ext_dump(tmp_path_factory, fixture_dir, hs_run):
    """ext_app.py (EXT_SCRIPT) under heapsight run: (script, profile)."""
    d = tmp_path_factory.mktemp("ext_stack")
    script = write(d / "ext_app.py", EXT_SCRIPT)
    out = d / "out"
    out.mkdir()
    dumps, _, _ = hs_run(script, out, env={"PYTHONPATH": fixture_dir})
    return script, dumps[0]


# ---- ext_stack --------------------------------------------------------------

def test_ext_stack_order(ext_dump, traces):
    _, dump = ext_dump
    want = ["hs_fixture_block", "fixture_alloc", "inner", "outer", "<module>"]
    tr = traces(dump)
    hits = [fr for labels, fr in tr if "hs_fixture_block" in fr[:1]]
    assert hits, "no trace starts at hs_fixture_block; leaves: %r" \
        % sorted(set(fr[0] for _, fr in tr if fr))
    fr = hits[0]
    at = find_order(fr, want)
    assert at is not None and at[0] == 0, \
        "stack %r lacks %r in order" % (fr, want)
    # Between the extension and inner only the C call plumbing: no eval
    # loop left, and no Python frame invented.
    between = fr[at[1] + 1:at[2]]
    assert "_PyEval_EvalFrameDefault" not in fr, \
        "an eval frame is left: %r" % fr
    assert all(not b.startswith("<") for b in between), \
        "unexpected frames between: %r" % between
    print("ext_stack: %s" % " <- ".join(fr[:at[-1] + 1]))


def test_ext_stack_lines(ext_dump, traces):
    """Files and lines as go tool pprof shows them."""
    script, dump = ext_dump
    lined = [fr for _, fr in traces(dump, lines=True)
             if fr and fr[0].startswith("hs_fixture_block ")]
    assert lined, "no -lines trace starts at hs_fixture_block"
    py = [f for f in lined[0] if f.split()[0] in
          ("inner", "outer", "<module>")]
    want_lines = ["inner %s:5" % script, "outer %s:9" % script,
                  "<module> %s:12" % script]
    assert py == want_lines, "-lines: %r, want %r" % (py, want_lines)
    assert "fixture_ext.c:" in lined[0][0], "leaf %r" % lined[0][0]


def test_ext_stack_profile(ext_dump):
    """Files and lines, and the allocator label, from the profile itself."""
    _, dump = ext_dump
    prof = decode(dump)
    for s in prof["samples"]:
        names = [f[1] for f in sym_frames(s)]
        if "inner" in names and "hs_fixture_block" in names:
            break
    else:
        pytest.fail("no sample with inner and hs_fixture_block in %d "
                    "samples" % len(prof["samples"]))
    where = {f[1]: (os.path.basename(f[2]), f[3]) for f in sym_frames(s)}
    assert where["inner"] == ("ext_app.py", 5), \
        "inner at %r" % (where["inner"],)
    assert where["outer"] == ("ext_app.py", 9), \
        "outer at %r" % (where["outer"],)
    assert where["<module>"] == ("ext_app.py", 12), \
        "<module> at %r" % (where["<module>"],)
    assert where["hs_fixture_block"][0] == "fixture_ext.c", \
        "hs_fixture_block at %r" % (where["hs_fixture_block"],)
    assert s["labels"].get("allocator") == "malloc", "labels %r" % s["labels"]
    assert "merge" not in s["labels"], "merge label %r" % s["labels"]


# ---- sqlite_zlib ------------------------------------------------------------

SQLITE_ZLIB_SCRIPT = """\
import sqlite3
import zlib

KEEP = []


def db_work():
    con = sqlite3.connect(":memory:")
    con.execute("create table t (a integer, b text)")
    con.executemany("insert into t values (?, ?)",
                    ((i, "x" * 200) for i in range(20000)))
    con.execute("create index ti on t (b)")
    KEEP.append(con)


def zlib_work():
    for _ in range(40):
        c = zlib.compressobj(9)
        c.compress(b"abc" * 1000)
        KEEP.append(c)


db_work()
zlib_work()
"""


def test_sqlite_zlib(tmp_path, hs_run, traces):
    script = write(tmp_path / "sqlz.py", SQLITE_ZLIB_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    dumps, _, _ = hs_run(script, out, sample="16k")
    tr = traces(dumps[0])
    sq = [fr for _, fr in tr if any(f.startswith("sqlite3") for f in fr)
          and "db_work" in fr]
    zl = [fr for _, fr in tr if any(f.startswith("deflate") for f in fr)
          and "zlib_work" in fr]
    assert sq, "no sqlite3 stack under db_work"
    assert zl, "no deflate stack under zlib_work"
    for fr in sq[:1] + zl[:1]:
        py = [f for f in fr if f in ("db_work", "zlib_work", "<module>")]
        assert py[-1:] == ["<module>"], \
            "stack %r does not end at <module>" % fr
        print("  " + " <- ".join(fr[:12]))


# ---- asyncio ----------------------------------------------------------------

ASYNCIO_SCRIPT = """\
import asyncio
import sys

import heapsight

KEEP = []


async def fetch(i):
    await asyncio.sleep(0)
    KEEP.append(bytearray(20000 + i))


async def crawl():
    await asyncio.gather(*(fetch(i) for i in range(300)))
    heapsight.dump(sys.argv[1])


asyncio.run(crawl())
"""


def test_asyncio(tmp_path, hs_run, traces):
    """Coroutines resumed by asyncio's event loop: each sample under a
    task shows the coroutine that allocated, then the event loop's
    frames down to asyncio.run and <module>."""
    script = write(tmp_path / "aio.py", ASYNCIO_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    live = str(out / "live.pb.gz")
    hs_run(script, out, sample="64k", args=[live])
    hits = [fr for _, fr in traces(live) if "fetch" in fr]
    assert hits, "no stack under fetch (6 MB of bytearrays)"
    for fr in hits:
        rest = fr[fr.index("fetch"):]
        assert "run" in rest and "<module>" in rest, \
            "fetch without the event loop and <module> under it: %r" % fr
    print("  " + " <- ".join(hits[0][:14]))


# ---- run_flamegraph ---------------------------------------------------------

def test_run_flamegraph(tmp_path, fixture_dir, hs_run):
    """heapsight run --flamegraph F draws the final dump of the program
    itself: here with the Python functions in it."""
    script = write(tmp_path / "ext_app.py", EXT_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    html = str(out / "flame.html")
    _, _, err = hs_run(script, out, extra=["--flamegraph", html],
                       env={"PYTHONPATH": fixture_dir})
    assert os.path.exists(html), "no %s: %s" % (html, err)
    with open(html, encoding="utf-8") as f:
        text = f.read()
    for name in ("hs_fixture_block", "inner", "outer", "&lt;module&gt;"):
        assert name in text, "%s not in the flame graph" % name
    assert "flame graph of heapsight." in err and html in err, \
        "no line naming the flame graph: %r" % err


def test_run_flamegraph_bad_extension(cli):
    rc, o, e = run([cli, "run", "--flamegraph", "x.png", "--", "true"])
    assert rc == 2 and len(e.strip().splitlines()) == 1 and ".svg" in e, \
        "bad extension: %d %r" % (rc, e)


# ---- no_python --------------------------------------------------------------

def test_no_python(tmp_path, fixture_dir, hs_run, traces):
    script = write(tmp_path / "ext_app.py", EXT_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    dumps, _, _ = hs_run(script, out, extra=["--no-python"],
                         env={"PYTHONPATH": fixture_dir})
    fr = [f for _, f in traces(dumps[0]) if "hs_fixture_block" in f[:1]]
    assert fr and "inner" not in fr[0] and \
        "_PyEval_EvalFrameDefault" in fr[0], \
        "--no-python still merged: %r" % fr[:1]
