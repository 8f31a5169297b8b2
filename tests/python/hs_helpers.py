"""hs_helpers.py — the one place for what the Python tests share: running a
command in a clean environment, ``heapsight run`` of a script, reading a
dump back with ``go tool pprof -traces`` (stack order, names) and with
tests/prof/pprof_decode.py (files, lines, labels, comments), and frame
helpers.

Plain functions with plain ``assert``s; conftest.py binds the ones that
need the command-line options (the interpreter, the heapsight command) into
fixtures.  Nothing here skips: skipping is conftest.py's job.
"""
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "prof"))
import pprof_decode  # noqa: E402

# Variables through which the calling shell (or an outer heapsight run)
# would reach the programs under test: every command starts without them
# and gets only what its test gives.
DROPPED_ENV = ("HEAPSIGHT", "LD_PRELOAD", "PYTHONPATH", "HEAPSIGHT_PYTHON",
               "PYTHONHOME", "HEAPSIGHT_RUN_TRACK", "HEAPSIGHT_CLI",
               "HEAPSIGHT_ATTACHED")


def run(cmd, env=None, cwd=None, timeout=100):
    """Runs cmd with the environment of the tests minus DROPPED_ENV, plus
    env; returns (exit status, stdout, stderr)."""
    e = dict(os.environ)
    for k in DROPPED_ENV:
        e.pop(k, None)
    e.update(env or {})
    p = subprocess.run(cmd, env=e, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def write(path, text):
    with open(str(path), "w") as f:
        f.write(text)
    return str(path)


def dumps_in(out):
    """The final profiles heapsight run wrote in out, by name."""
    return sorted(glob.glob(os.path.join(str(out), "heapsight.*.pb.gz")))


def hs_run(cli, python, script, out, extra=(), sample="1k", env=None,
           args=()):
    """heapsight run --sample SAMPLE --out OUT EXTRA -- PYTHON SCRIPT ARGS,
    which must exit 0 and leave at least one profile in out; returns
    (profiles, stdout, stderr)."""
    out = str(out)
    cmd = [cli, "run", "--sample", sample, "--out", out] + list(extra)
    cmd += ["--", python, str(script)] + list(args)
    rc, o, e = run(cmd, env=env)
    assert rc == 0, "heapsight run %s: exit %d\n%s%s" % (script, rc, o, e)
    dumps = dumps_in(out)
    assert len(dumps) >= 1, "no dump in %s: %r" % (out, os.listdir(out))
    return dumps, o, e


def traces(dump, index="inuse_space", lines=False):
    """go tool pprof -traces: a list of (labels dict, [function names leaf
    first]); with lines, each frame is "function file:line"."""
    rc, o, e = run(["go", "tool", "pprof", "-traces"] +
                   (["-lines"] if lines else []) +
                   ["-sample_index=" + index, dump])
    assert rc == 0, "go tool pprof -traces %s: %s" % (dump, e)
    out, cur = [], None
    for line in o.splitlines():
        if line.startswith("-----------+"):
            cur = ({}, [])
            out.append(cur)
            continue
        if cur is None or not line.strip():
            continue
        head, _, rest = line.partition(":")
        if not cur[1] and rest and head.strip() and " " not in head.strip() \
                and not line.startswith("      "):
            cur[0][head.strip()] = rest.strip()
            continue
        parts = line.split()
        # The first frame line carries the value in front of the name.
        if not cur[1] and len(parts) >= 2:
            cur[1].append(" ".join(parts[1:]))
        elif parts:
            cur[1].append(" ".join(parts))
    return out


def decode(path):
    """The profile at path as pprof_decode reads it."""
    return pprof_decode.decode(path)


def sym_frames(sample):
    """A decoded sample's symbolized frames: (kind, function, file, line)."""
    return [f for f in sample["frames"] if f[0] == "sym"]


def names_of(sample):
    """A decoded sample's function names, leaf first."""
    return [f[1] for f in sym_frames(sample)]


def find_order(frames, names):
    """Index of each name in frames (function names, leaf first) in
    order, or None."""
    at, pos = [], 0
    for n in names:
        while pos < len(frames) and frames[pos] != n:
            pos += 1
        if pos == len(frames):
            return None
        at.append(pos)
        pos += 1
    return at


def frames_off_lines(err):
    """heapsight's "Python frames are off" lines in a program's stderr."""
    return [ln for ln in err.splitlines()
            if ln.startswith("heapsight: Python frames are off")]


def assert_off_note(dumps, what):
    """The profiles record why Python frames are off: a comment and the
    python_frames=off label on their samples."""
    for d in dumps:
        prof = decode(d)
        assert any(c.startswith("python: frames off: " + what)
                   for c in prof["comments"]), \
            "%s: no 'python: frames off: %s' comment in %r" \
            % (d, what, prof["comments"])
        labels = set(s["labels"].get("python_frames")
                     for s in prof["samples"])
        assert prof["samples"] and labels == {"off"}, \
            "%s: python_frames labels %r" % (d, labels)


# outer() -> inner() -> the hs_fixture extension, which mallocs: the
# stacks tests and the package tests profile it.  The tests know its lines:
# inner calls at 5, outer at 9, the module at 12.
EXT_SCRIPT = """\
import hs_fixture


def inner():
    return hs_fixture.alloc(200, 4096)


def outer():
    return inner()


outer()
"""
