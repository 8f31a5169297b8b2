"""test_package.py — the heapsight Python package as a command and as a
library.

  module_run     python3 -m heapsight run script.py and -m module; the
                 program's exit status passes through; a bad option
  prof_off       preloaded with the profiler off: start() says so clearly
"""
import os

import pytest

from hs_helpers import EXT_SCRIPT, dumps_in, find_order, run, write

pytestmark = pytest.mark.cpython(
    min=(3, 10), why="Python frames are read from 3.10 on (test_silent.py "
    "covers the older interpreters)")


# ---- module_run -------------------------------------------------------------

def test_module_run_script(tmp_path, python, pydir, fixture_dir, traces):
    script = write(tmp_path / "ext_app.py", EXT_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    env = {"PYTHONPATH": pydir + ":" + fixture_dir}
    rc, o, e = run([python, "-m", "heapsight", "run", "--sample", "1k",
                    "--out", str(out), script], env=env)
    assert rc == 0, "python3 -m heapsight run: %d %s %s" % (rc, o, e)
    dumps = dumps_in(out)
    assert dumps, "no dump in %s: %r" % (out, os.listdir(str(out)))
    fr = [f for _, f in traces(dumps[0]) if "hs_fixture_block" in f[:1]]
    assert fr and find_order(fr[0], ["inner", "outer", "<module>"]), \
        "-m heapsight run: %r" % fr[:1]


def test_module_run_module_exit(tmp_path, python, pydir, fixture_dir):
    """-m module, and the program's exit status passes through."""
    moddir = tmp_path / "mods"
    moddir.mkdir()
    write(moddir / "exitmod.py",
          "import hs_fixture\nhs_fixture.alloc(10, 100)\n"
          "raise SystemExit(7)\n")
    out = tmp_path / "out"
    out.mkdir()
    env = {"PYTHONPATH": ":".join([pydir, fixture_dir, str(moddir)])}
    rc, o, e = run([python, "-m", "heapsight", "run", "--out", str(out),
                    "-m", "exitmod"], env=env)
    assert rc == 7, "-m exitmod: exit %d (want 7): %s" % (rc, e)


def test_module_run_bad_option(python, pydir, fixture_dir):
    env = {"PYTHONPATH": pydir + ":" + fixture_dir}
    rc, o, e = run([python, "-m", "heapsight", "run", "--bogus", "x.py"],
                   env=env)
    assert rc == 2 and "unknown option" in e, "bad option: %d %r" % (rc, e)


# ---- prof_off ---------------------------------------------------------------

def test_prof_off(tmp_path, python, pydir, lib):
    script = write(tmp_path / "off.py",
                   "import heapsight\ntry:\n    heapsight.start()\n"
                   "except heapsight.HeapsightError as e:\n"
                   "    print('error:', e)\n")
    rc, o, e = run([python, script], env={"PYTHONPATH": pydir,
                                          "LD_PRELOAD": lib})
    assert rc == 0 and "profiler is off" in o and \
        "HEAPSIGHT=prof:true" in o, "prof off: %d %r %r" % (rc, o, e)
