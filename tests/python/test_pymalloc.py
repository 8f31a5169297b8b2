"""test_pymalloc.py — the PyMem domains: sampled once, labelled, estimated
right, preloaded or not.

  pymalloc_threads  pure-Python objects made in threads: domain
                 "pymalloc", the Python thread's name as the thread
                 label, the thread's function
  malloc_mode    PYTHONMALLOC=malloc: nothing counted twice
  no_preload     import heapsight in a plain python3: start/dump/stop and
                 heapsight.profile(); only the PyMem domains; a warning
  no_preload_sizes  not preloaded: 100 KB bytearrays counted once (the
                 object and raw domains used to count them both)
  estimates_against_tracemalloc  a malloc'd and a pymalloc'd site, live,
                 against tracemalloc: the same unit, within sampling error
"""
import os

import pytest

from hs_helpers import decode, names_of, run, write

pytestmark = pytest.mark.cpython(
    min=(3, 10), why="Python frames are read from 3.10 on (test_silent.py "
    "covers the older interpreters)")


# ---- pymalloc_threads -------------------------------------------------------

PYMALLOC_SCRIPT = """\
import sys
import threading

import heapsight

KEEP = []


def make_records(n):
    for i in range(n):
        KEEP.append({"id": i, "name": "rec%d" % i, "tags": [i, i + 1]})


def worker():
    make_records(30000)


ts = [threading.Thread(target=worker, name="maker-%d" % i) for i in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
# While KEEP is alive (at exit the interpreter frees it before the final
# dump is written).
heapsight.dump(sys.argv[1])
"""


def test_pymalloc_threads(tmp_path, hs_run):
    script = write(tmp_path / "pym.py", PYMALLOC_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    live = str(out / "live.pb.gz")
    hs_run(script, out, sample="8k", args=[live])
    assert os.path.exists(live), "no %s" % live
    prof = decode(live)
    seen = 0
    for s in prof["samples"]:
        names = names_of(s)
        if "make_records" not in names:
            continue
        if s["labels"].get("allocator") != "pymalloc":
            continue
        seen += 1
        assert names.index("make_records") < names.index("worker"), \
            "order %r" % names
        assert s["labels"].get("thread", "").startswith("maker-"), \
            "thread label %r (want the Python thread's name)" \
            % s["labels"].get("thread")
        # The PyMem wrappers (in libheapsight.so) never show; the leaf
        # location is the caller of PyObject_Malloc (which LTO builds
        # such as Debian's inline into it: its line may then name it).
        # (The wrappers' own names: w_*, fast_sampled/fast_moved/...,
        # slow_{malloc,calloc,realloc}_*; not CPython's fast_range_iter.)
        ours = ("w_malloc", "w_calloc", "w_realloc", "fast_sampled",
                "fast_moved", "fast_take", "fast_crossed", "slow_malloc_",
                "slow_calloc_", "slow_realloc_", "hs_prof_")
        assert not any(n.startswith(ours)
                       for n in names[:2]), \
            "allocator frames at the top: %r" % names[:3]
    inuse = sum(s["values"][3] for s in prof["samples"]
                if s["labels"].get("allocator") == "pymalloc")
    print("pymalloc samples under make_records: %d, in use %.1f MB"
          % (seen, inuse / 1e6))
    assert seen >= 3, "%d pymalloc samples under make_records" % seen
    # 90,000 dicts + strings + lists: several MB live through pymalloc.
    assert inuse > 4 << 20, "pymalloc in-use estimate %d bytes" % inuse


# ---- malloc_mode ------------------------------------------------------------

MALLOC_MODE_SCRIPT = """\
import sys
import heapsight

KEEP = [bytearray(200) for _ in range(100000)]
heapsight.dump(sys.argv[1])
"""


def test_malloc_mode(tmp_path, hs_run):
    """Under PYTHONMALLOC=malloc the PyMem domains are malloc itself, which
    heapsight samples already: nothing may be counted twice, so the live
    estimate matches the one of the default (pymalloc) mode."""
    script = write(tmp_path / "mm.py", MALLOC_MODE_SCRIPT)
    totals = {}
    for mode in ("pymalloc", "malloc"):
        out = tmp_path / mode
        out.mkdir()
        live = str(out / "live.pb.gz")
        hs_run(script, out, sample="16k", env={"PYTHONMALLOC": mode},
               args=[live])
        assert os.path.exists(live), "%s: no dump" % mode
        prof = decode(live)
        totals[mode] = sum(s["values"][3] for s in prof["samples"])
        doms = set(s["labels"].get("allocator") for s in prof["samples"])
        if mode == "malloc":
            assert "pymalloc" not in doms, "malloc mode labels %r" % doms
    ratio = totals["malloc"] / max(totals["pymalloc"], 1)
    msg = ("live estimate: pymalloc %.1f MB, malloc %.1f MB (ratio %.2f)"
           % (totals["pymalloc"] / 1e6, totals["malloc"] / 1e6, ratio))
    print(msg)
    assert 0.7 < ratio < 1.4, \
        "malloc mode counts %.2fx the pymalloc mode: %s" % (ratio, msg)


# ---- no_preload -------------------------------------------------------------

NO_PRELOAD_SCRIPT = """\
import sys, warnings
import heapsight
warnings.simplefilter("always")


def build():
    return [{"k": i, "v": [i] * 4} for i in range(50000)]


with warnings.catch_warnings(record=True) as w:
    heapsight.start(sample="4k")
print("warned:", any("not preloaded" in str(x.message) for x in w))
print("active:", heapsight.active())
keep = build()
path = heapsight.dump(sys.argv[1])
print("dumped:", path)
heapsight.stop()
print("active after stop:", heapsight.active())
with heapsight.profile(sys.argv[2]):
    keep2 = build()
print("preloaded:", heapsight.preloaded())
"""


@pytest.fixture(scope="module")
def no_preload(tmp_path_factory, python, pydir):
    """nopre.py in a plain interpreter: (exit, stdout, stderr, the profile
    of start/dump, the profile of heapsight.profile())."""
    d = tmp_path_factory.mktemp("no_preload")
    script = write(d / "nopre.py", NO_PRELOAD_SCRIPT)
    p1, p2 = str(d / "a.pb.gz"), str(d / "b.pb.gz")
    rc, o, e = run([python, script, p1, p2], env={"PYTHONPATH": pydir})
    print(o.strip())
    return rc, o, e, p1, p2


def test_no_preload_api(no_preload):
    rc, o, e, p1, _ = no_preload
    assert rc == 0, "exit %d: %s" % (rc, e)
    assert "warned: True" in o, \
        "no warning about the missing preload: %r" % o
    assert "active: True" in o and "active after stop: False" in o, \
        "active flags: %r" % o
    assert "dumped: " + p1 in o, "dump path: %r" % o
    assert "preloaded: False" in o, "preloaded: %r" % o


@pytest.mark.parametrize("which", ["start_dump", "profile"])
def test_no_preload_profile(no_preload, which):
    """Each profile holds only the PyMem domains, build() in its stacks."""
    rc, o, e, p1, p2 = no_preload
    assert rc == 0, "exit %d: %s" % (rc, e)
    path = p1 if which == "start_dump" else p2
    assert os.path.exists(path), "no %s" % path
    prof = decode(path)
    doms = set(s["labels"].get("allocator") for s in prof["samples"])
    assert doms <= {"pymalloc", "pymem_raw"}, "domains %r" % doms
    stacks = [names_of(s) for s in prof["samples"]]
    assert any("build" in st for st in stacks), \
        "no build() stack in %s" % path


# ---- no_preload_sizes -------------------------------------------------------

SIZES_SCRIPT = """\
import sys
import heapsight


def build_big():
    return [bytearray(100000) for _ in range(300)]


heapsight.start(sample="64k")
keep = build_big()
heapsight.dump(sys.argv[1], symbolize=False)
"""


def test_no_preload_sizes(tmp_path, python, pydir):
    script = write(tmp_path / "sizes.py", SIZES_SCRIPT)
    ratios = []
    for k in range(3):
        path = str(tmp_path / ("s%d.pb.gz" % k))
        rc, o, e = run([python, script, path], env={"PYTHONPATH": pydir})
        assert rc == 0 and os.path.exists(path), "exit %d %r" % (rc, e)
        prof = decode(path)
        est = sum(s["values"][3] for s in prof["samples"]
                  if "build_big" in names_of(s))
        ratios.append(est / (300 * 100000.0))
    shown = ", ".join("%.3f" % r for r in ratios)
    print("estimate / truth over 3 runs: %s" % shown)
    # One run's relative standard error at 64 KiB is about 3%; counted
    # twice, the ratio was 1.18 to 2.3.
    for r in ratios:
        assert 0.85 < r < 1.15, \
            "100 KB bytearrays estimated at %.2fx (runs: %s)" % (r, shown)


# ---- against tracemalloc ----------------------------------------------------

TRACEMALLOC_SCRIPT = """\
import sys
import tracemalloc


def make_blobs():
    return [bytes(1000) for _ in range(100000)]


def make_names():
    return [("name-%d" % i) * 2 for i in range(300000)]


if sys.argv[1] == "truth":
    tracemalloc.start()
blobs = make_blobs()
names = make_names()
if sys.argv[1] == "truth":
    lines = {f.__code__.co_firstlineno + 1: f.__name__
             for f in (make_blobs, make_names)}
    for st in tracemalloc.take_snapshot().statistics("lineno"):
        frame = st.traceback[0]
        if frame.filename == __file__ and frame.lineno in lines:
            print("TRUTH", lines[frame.lineno], st.size)
else:
    import heapsight
    heapsight.dump(sys.argv[1], symbolize=False)
"""


def test_estimates_against_tracemalloc(tmp_path, hs_run, python):
    """The live estimate of a site of 100,000 bytes(1000) (served by
    malloc) and of 300,000 short strings (pymalloc) against tracemalloc's
    count of the same lines in a run of its own (tracemalloc's own tables
    would otherwise be counted under the same Python frames): both in the
    bytes the program asked for, so they agree within the sampling error
    (at 64 KiB about 1% for 100 MB, 2-3% for 20 MB); before the unit
    change malloc's objects counted at their usable size."""
    script = write(tmp_path / "tm.py", TRACEMALLOC_SCRIPT)
    rc, o, e = run([python, str(script), "truth"])
    assert rc == 0, "tracemalloc run: exit %d %r" % (rc, e)
    truth = {}
    for line in o.splitlines():
        if line.startswith("TRUTH "):
            _, site, size = line.split()
            truth[site] = int(size)
    assert set(truth) == {"make_blobs", "make_names"}, \
        "tracemalloc's lines: %r %r" % (o, e)
    out = tmp_path / "out"
    out.mkdir()
    live = str(out / "live.pb.gz")
    hs_run(script, out, sample="64k", args=[live])
    prof = decode(live)
    # About 4 standard deviations of each estimate at 64 KiB
    # (docs/PROFILING.md, "Variance"): ~1,500 samples of make_blobs,
    # ~360 of make_names.
    for site, tol in (("make_blobs", 0.10), ("make_names", 0.21)):
        est = sum(s["values"][3] for s in prof["samples"]
                  if site in names_of(s))
        ratio = est / truth[site]
        print("%s: heapsight %.2f MB, tracemalloc %.2f MB, ratio %.3f"
              % (site, est / 1e6, truth[site] / 1e6, ratio))
        assert abs(ratio - 1) < tol, \
            "%s: heapsight %.0f against tracemalloc %d (%.3fx)" \
            % (site, est, truth[site], ratio)
