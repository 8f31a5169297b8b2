"""test_processes.py — programs of many processes and many interpreters.

  processes      multiprocessing pools (fork, forkserver, spawn) closed
                 and terminated, ProcessPoolExecutor, os._exit: every
                 process leaves a profile, or run names it in one line
  subinterpreters  (3.12+) a subinterpreter's Python functions in the
                 stacks of what it allocates; no "frames off" line
"""
import glob
import os

import pytest

from hs_helpers import dumps_in, frames_off_lines, run, write

pytestmark = pytest.mark.cpython(
    min=(3, 10), why="Python frames are read from 3.10 on (test_silent.py "
    "covers the older interpreters)")


# ---- processes --------------------------------------------------------------

PROCESSES_SCRIPT = """\
import concurrent.futures as cf
import multiprocessing as mp
import os
import sys


def work(n):
    keep = [bytes(1000) for _ in range(500)]
    return os.getpid()


if __name__ == "__main__":
    closed, killed = set(), set()
    for method in ("fork", "forkserver", "spawn"):
        ctx = mp.get_context(method)
        p = ctx.Pool(2)
        closed |= set(p.map(work, range(8)))
        p.close()
        p.join()
        p = ctx.Pool(2)
        killed |= set(p.map(work, range(8)))
        p.terminate()
        p.join()
    with cf.ProcessPoolExecutor(2) as ex:
        closed |= set(ex.map(work, range(8)))
    child = os.fork()
    if child == 0:
        work(0)
        os._exit(3)
    os.waitpid(child, 0)
    closed.add(child)
    print("CLOSED", " ".join(map(str, sorted(closed))))
    print("KILLED", " ".join(map(str, sorted(killed))))
"""


class Procs:
    """One heapsight run of procs.py: what the program said and left."""

    def __init__(self, out, rc, o, e):
        self.out, self.rc, self.stdout, self.stderr = out, rc, o, e
        # The pids the program printed, by how their processes ended.
        self.pids = {}
        for line in o.splitlines():
            key, _, rest = line.partition(" ")
            if key in ("CLOSED", "KILLED"):
                self.pids[key] = [int(x) for x in rest.split()]
        # The pids with a profile, and those heapsight run named instead.
        self.dumped = {int(os.path.basename(d).split(".")[1])
                       for d in dumps_in(out)}
        self.named = set()
        for line in e.splitlines():
            if "wrote no final profile" in line:
                self.named.add(int(line.split("process ")[1].split()[0]))


@pytest.fixture(scope="module")
def procs(tmp_path_factory, cli, python):
    d = tmp_path_factory.mktemp("processes")
    script = write(d / "procs.py", PROCESSES_SCRIPT)
    out = str(d / "out")
    os.mkdir(out)
    rc, o, e = run([cli, "run", "--sample", "64k", "--out", out, "--",
                    python, script], timeout=110)
    return Procs(out, rc, o, e)


def test_processes_run(procs):
    assert procs.rc == 0, "exit %d: %s" % (procs.rc, procs.stderr[-2000:])
    assert procs.pids.get("CLOSED") and procs.pids.get("KILLED"), \
        "pids: %r" % procs.stdout


def test_processes_closed_leave_profiles(procs):
    """Pools closed and joined, the executor, os._exit: all profiled."""
    missing = [pid for pid in procs.pids.get("CLOSED", [])
               if pid not in procs.dumped]
    assert not missing, "processes %r left and wrote no profile (%d " \
        "profiles in %s)" % (missing, len(procs.dumped), procs.out)


def test_processes_terminated_profile_or_line(procs):
    """A terminated worker leaves a profile, or run names it."""
    silent = [pid for pid in procs.pids.get("KILLED", [])
              if pid not in procs.dumped and pid not in procs.named]
    assert not silent, \
        "terminated processes %r: neither a profile nor a line" % silent


def test_processes_tidy(procs):
    """No marker files left behind, and no flood on stderr."""
    assert not glob.glob(os.path.join(procs.out, "*.running")), \
        "markers left: %r" % os.listdir(procs.out)
    n = len(procs.stderr.splitlines())
    assert n < 200, "too much said: %d lines" % n


# ---- subinterpreters --------------------------------------------------------

SUB_SCRIPT = """\
import sys
try:
    import _interpreters as interp
except ImportError:
    import _xxsubinterpreters as interp
import heapsight

CODE = (
    "def sub_work():\\n"
    "    global KEEP\\n"
    "    KEEP = [('x%d' % i) * 3 for i in range(200000)]\\n"
    "    KEEP += [bytearray(100000) for _ in range(100)]\\n"
    "sub_work()\\n")
i = interp.create()
interp.run_string(i, CODE)
heapsight.dump(sys.argv[1])
"""


@pytest.mark.cpython(min=(3, 12), why="subinterpreters")
def test_subinterpreters(tmp_path, cli, python, traces):
    script = write(tmp_path / "sub.py", SUB_SCRIPT)
    out = str(tmp_path / "out")
    os.mkdir(out)
    path = os.path.join(out, "sub.pb.gz")
    rc, o, e = run([cli, "run", "--sample", "64k", "--out", out, "--",
                    python, script, path])
    assert rc == 0, "exit %d: %s" % (rc, e)
    assert not frames_off_lines(e), "frames-off line: %r" % e
    assert os.path.exists(path), "no %s" % path
    hits = [f for _, f in traces(path) if "sub_work" in f]
    assert len(hits) >= 5, "%d samples under sub_work" % len(hits)
    for fr in hits[:3]:
        assert "<module>" in fr[fr.index("sub_work"):], \
            "sub_work without its <module>: %r" % fr
