"""test_silent.py — when Python frames are off, heapsight says so.

  flags          python -I, -S, -E under heapsight run still attach (the
                 library's audit hook); before 3.8 (no audit hooks) one
                 line names the flag and the profile carries the note;
                 attached, no such line and the note says frames merged
  unsupported    (CPython 3.9 and older) one line says Python frames are
                 off and why; native stacks and pymalloc are still sampled;
                 the profile carries the note and label

The only module CTest runs on interpreters older than 3.10.
"""
import os

import pytest

from hs_helpers import (assert_off_note, decode, dumps_in, frames_off_lines,
                        run, write)

SILENT_SCRIPT = """\
KEEP = [bytes(3000) for _ in range(3000)]
"""


# ---- never_silent -----------------------------------------------------------

@pytest.mark.cpython(min=(3, 10), why="older interpreters have no Python "
                     "frames at all (test_unsupported)")
@pytest.mark.parametrize("flag", ["-I", "-S", "-IS", "-E"])
def test_flags_still_attach(tmp_path, cli, python, flag):
    """Isolated (-I), without site (-S) or ignoring PYTHON* variables (-E),
    the interpreter never imports heapsight's sitecustomize; the library
    attaches by itself (an audit hook) all the same: no "frames off" line,
    the note says frames are merged, and the stacks hold Python frames."""
    script = write(tmp_path / "silent.py", SILENT_SCRIPT)
    out = str(tmp_path / "out")
    os.mkdir(out)
    rc, o, e = run([cli, "run", "--sample", "4k", "--out", out, "--",
                    python, flag, script])
    assert rc == 0, "%s: exit %d %r" % (flag, rc, e)
    assert not frames_off_lines(e), "%s: frames-off line %r" % (flag, e)
    dumps = dumps_in(out)
    assert dumps, "%s: no profile: %r" % (flag, e)
    for d in dumps:
        prof = decode(d)
        assert any("frames merged" in c for c in prof["comments"]), \
            "%s: comments %r" % (flag, prof["comments"])
        assert any(f[0] == "sym" and f[1] == "<module>"
                   for smp in prof["samples"] for f in smp["frames"]), \
            "%s: no <module> frame in %s" % (flag, d)


@pytest.mark.cpython(below=(3, 8), why="interpreters with audit hooks (3.8+) "
                     "attach whatever their flags")
def test_flag_without_audit_hooks_says_so(tmp_path, cli, python):
    """Without audit hooks, -I leaves only the sitecustomize, which it
    skips: one line names the flag, the profile records it."""
    script = write(tmp_path / "silent.py", SILENT_SCRIPT)
    out = str(tmp_path / "out")
    os.mkdir(out)
    rc, o, e = run([cli, "run", "--sample", "4k", "--out", out, "--",
                    python, "-I", script])
    assert rc == 0, "exit %d %r" % (rc, e)
    lines = frames_off_lines(e)
    assert len(lines) == 1 and " -I " in lines[0] \
        and "native stacks go on" in lines[0], \
        "want one line naming -I, got %r" % e
    assert_off_note(dumps_in(out), os.path.basename(python))


@pytest.mark.cpython(min=(3, 10), why="older interpreters have no Python "
                     "frames at all (test_unsupported)")
def test_never_silent_attached(tmp_path, hs_run):
    """Attached: no such line, and the comment says frames are merged."""
    script = write(tmp_path / "silent.py", SILENT_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    dumps, _, e = hs_run(script, out, sample="4k")
    assert not frames_off_lines(e), "frames-off line when attached: %r" % e
    for d in dumps:
        prof = decode(d)
        assert any(c.startswith("python: CPython ") and "frames merged" in c
                   for c in prof["comments"]), \
            "%s: comments %r" % (d, prof["comments"])


# ---- unsupported ------------------------------------------------------------

@pytest.fixture(scope="module")
def old_run(tmp_path_factory, cli, python):
    """old.py on an interpreter before 3.10 under heapsight run:
    (exit, stderr, profiles)."""
    d = tmp_path_factory.mktemp("unsupported")
    script = write(d / "old.py", SILENT_SCRIPT)
    out = str(d / "out")
    os.mkdir(out)
    rc, o, e = run([cli, "run", "--sample", "4k", "--out", out, "--",
                    python, script])
    return rc, e, dumps_in(out)


UNSUPPORTED = pytest.mark.cpython(below=(3, 10), why="what heapsight says "
                                  "when it cannot read Python frames")


@UNSUPPORTED
def test_unsupported_says_why(old_run):
    rc, e, _ = old_run
    assert rc == 0, "exit %d %r" % (rc, e)
    lines = frames_off_lines(e)
    assert len(lines) == 1 and "before 3.10" in lines[0] \
        and "native stacks and pymalloc sampling go on" in lines[0], \
        "want one line saying why, got %r" % e
    assert "Traceback" not in e, "a traceback: %r" % e


@UNSUPPORTED
def test_unsupported_profile(old_run):
    """Native stacks and pymalloc still sampled; the note and label."""
    _, e, dumps = old_run
    assert dumps, "no profile: %r" % e
    assert_off_note(dumps, "CPython before 3.10")
    for d in dumps:
        prof = decode(d)
        doms = set(s["labels"].get("allocator") for s in prof["samples"])
        assert "pymalloc" in doms, "%s: pymalloc not sampled: %r" % (d, doms)
