"""conftest.py — the command line and fixtures of heapsight's Python tests.

The suite runs under Debian's pytest (python3-pytest, /usr/bin/python3);
the programs it profiles run on the interpreter given with --python, so
one pytest drives every CPython the machine has (tests/python/
CMakeLists.txt registers one CTest test per interpreter and test module):

    /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider \\
        tests/python/test_stacks.py \\
        --python ~/.pyenv/versions/3.12.1/bin/python3 \\
        --cli build/bin/heapsight --lib build/lib/libheapsight.so \\
        --pydir build/python --fixture-dir build/tests/python/fixture_3.12

Skips (printed with their reason under -rs) rather than failures when the
machine cannot run a test: no go (go tool pprof reads the stacks), an
interpreter outside the versions a test is about (the ``cpython`` marker,
declared in pytest.ini), no hs_fixture extension built for the
interpreter.  The helpers the tests share live in hs_helpers.py.
"""
import functools
import os
import shutil

import pytest

import hs_helpers

OPTIONS = (
    ("--python", "/usr/bin/python3",
     "the CPython the profiled programs run on"),
    ("--cli", None, "the heapsight command (CMake target hs_cli)"),
    ("--lib", None, "libheapsight.so (CMake target heapsight)"),
    ("--pydir", None, "the directory holding the heapsight package"),
    ("--fixture-dir", None,
     "the directory holding hs_fixture.so built for --python"),
)


def pytest_addoption(parser):
    group = parser.getgroup("heapsight")
    for name, default, doc in OPTIONS:
        group.addoption(name, default=default, help=doc)


def pytest_sessionstart(session):
    """Every option but --python is required (not with --help)."""
    missing = [name for name, default, _ in OPTIONS
               if session.config.getoption(name.lstrip("-").replace("-", "_"))
               is None]
    if missing:
        raise pytest.UsageError("%s required (see tests/python/conftest.py)"
                                % " ".join(missing))


@functools.lru_cache(maxsize=None)
def interpreter_version(python):
    """(major, minor) of the interpreter at python."""
    rc, o, e = hs_helpers.run(
        [python, "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
        timeout=30)
    if rc != 0:
        raise pytest.UsageError("--python %s does not run: %s" % (python, e))
    return tuple(int(x) for x in o.split())


def pytest_report_header(config):
    python = config.getoption("python")
    try:
        ver = "%d.%d" % interpreter_version(python)
    except pytest.UsageError as e:
        ver = str(e)
    return "heapsight: profiled interpreter %s (%s)" % (python, ver)


def cpython_skip(marker, python, ver):
    """Why a test marked cpython(min=, below=, why=) cannot run on python
    (version ver), or None when it can."""
    lo, hi = marker.kwargs.get("min"), marker.kwargs.get("below")
    why = marker.kwargs.get("why", "")
    why = ": " + why if why else ""
    have = "; %s is %d.%d" % ((python,) + ver)
    if lo is not None and ver < tuple(lo):
        return "needs CPython %d.%d or later" % tuple(lo) + why + have
    if hi is not None and ver >= tuple(hi):
        return "needs CPython before %d.%d" % tuple(hi) + why + have
    return None


def pytest_collection_modifyitems(config, items):
    """The cpython marker becomes a skip at collection, so no fixture (the
    module fixtures run programs) is set up for a test that cannot run, and
    the skip is reported at the test."""
    python = config.getoption("python")
    for item in items:
        for m in item.iter_markers("cpython"):
            reason = cpython_skip(m, python, interpreter_version(python))
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
                break


# ---- the options ------------------------------------------------------------

@pytest.fixture(scope="session")
def python(pytestconfig):
    """The interpreter under test (--python)."""
    return pytestconfig.getoption("python")


@pytest.fixture(scope="session")
def python_version(python):
    """(major, minor) of --python."""
    return interpreter_version(python)


@pytest.fixture(scope="session")
def cli(pytestconfig):
    return pytestconfig.getoption("cli")


@pytest.fixture(scope="session")
def lib(pytestconfig):
    return pytestconfig.getoption("lib")


@pytest.fixture(scope="session")
def pydir(pytestconfig):
    return pytestconfig.getoption("pydir")


@pytest.fixture(scope="session")
def fixture_dir(pytestconfig, python):
    """The directory of hs_fixture.so for --python; skips the test when
    the extension was not built for that interpreter."""
    d = pytestconfig.getoption("fixture_dir")
    so = os.path.join(d, "hs_fixture.so")
    if not os.path.exists(so):
        pytest.skip("the hs_fixture extension was not built for %s (CMake "
                    "builds it where the interpreter has its headers and a "
                    "shared libpython): no %s" % (python, so))
    return d


# ---- the helpers, bound to the options --------------------------------------

@pytest.fixture(scope="session")
def go():
    """The go command, for go tool pprof; skips the test without it."""
    path = shutil.which("go")
    if path is None:
        pytest.skip("go is not installed (Debian package golang-go): "
                    "go tool pprof reads the stacks back")
    return path


@pytest.fixture(scope="session")
def traces(go):
    """hs_helpers.traces: go tool pprof -traces of a dump."""
    return hs_helpers.traces


@pytest.fixture(scope="session")
def hs_run(cli, python):
    """hs_helpers.hs_run with the heapsight command and --python:
    hs_run(script, out, extra=(), sample="1k", env=None, args=())."""
    return functools.partial(hs_helpers.hs_run, cli, python)
