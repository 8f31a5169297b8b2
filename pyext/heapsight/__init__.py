"""heapsight: sampling heap profiles of Python programs, with Python and
native frames in one stack.

Owns: the Python-side API (start, stop, dump, active, profile) and the
automatic start under ``heapsight run``.  The frame hook and the PyMem
wrappers live in libheapsight.so itself, which reads the running
interpreter's frames whatever its version (3.10 to 3.13); ``_native``
reaches it through ctypes, so this package is pure Python and the same for
every interpreter.

Two ways to run:

* Preloaded (``heapsight run -- python3 app.py``, ``python3 -m heapsight
  run app.py`` or ``LD_PRELOAD=.../libheapsight.so HEAPSIGHT=prof:true``):
  heapsight is the process's malloc, so every allocation can be sampled,
  native and Python, and each stack shows the Python functions that were
  running.  The profiler must have been switched on when the process
  started (``HEAPSIGHT=prof:true``): it cannot be switched on later.
* Not preloaded (plain ``python3``): ``start()`` opens libheapsight.so
  privately.  malloc stays the C library's, so only allocations made
  through Python's allocators (pymalloc and the PyMem domains) are
  profiled; ``start()`` warns once that native allocations are missing.

Example::

    import heapsight
    with heapsight.profile("out.pb.gz"):
        work()
"""

import atexit
import os
import sys

from . import _native as _c

__all__ = ["start", "stop", "dump", "active", "profile", "preloaded",
           "python_status", "HeapsightError"]

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_state = {"started": False, "path": None}


class HeapsightError(RuntimeError):
    """heapsight cannot do what was asked (and says why)."""


def _parse_size(value):
    if isinstance(value, int):
        if value < 1:
            raise ValueError("sample must be at least 1 byte, got %d" % value)
        return value
    text = str(value).strip().lower()
    if text.endswith("ib"):
        text = text[:-2]
    unit = text[-1:] if text[-1:] in ("k", "m", "g") else ""
    number = text[:-1] if unit else text
    try:
        n = int(number) * _UNITS[unit]
    except ValueError:
        raise ValueError("sample must be a size like 512k, 64k or 1m, got %r"
                         % (value,)) from None
    if n < 1:
        raise ValueError("sample must be at least 1 byte, got %r" % (value,))
    return n


def preloaded():
    """True when libheapsight.so is this process's malloc."""
    return _c.preloaded()


def _library_path():
    env = os.environ.get("HEAPSIGHT_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "libheapsight.so"),
                 os.path.join(here, "..", "..", "lib", "libheapsight.so"),
                 os.path.join(here, "..", "..", "..", "libheapsight.so")):
        if os.path.exists(cand):
            return os.path.normpath(cand)
    raise HeapsightError(
        "heapsight: cannot find libheapsight.so next to the package; set "
        "HEAPSIGHT_LIB to its path")


def _ensure_library(sample):
    if _c.available():
        return
    # Opened privately, the library is no process-wide profiler: it does
    # not listen for `heapsight attach` (prof_attach's default would, the
    # profiler starting idle here).
    opts = "prof:true,prof_active:false,prof_attach:false,prof_sample:%d" \
        % sample
    old = os.environ.get("HEAPSIGHT")
    os.environ["HEAPSIGHT"] = opts if not old else old + "," + opts
    try:
        _c.load(_library_path())
    finally:
        if old is None:
            del os.environ["HEAPSIGHT"]
        else:
            os.environ["HEAPSIGHT"] = old
    import warnings  # only here: a program that is preloaded never needs it
    warnings.warn(
        "heapsight: libheapsight.so is not preloaded, so only allocations "
        "made through Python's allocators are profiled; for native ones "
        "too, run the program under `heapsight run -- python3 ...` or "
        "`python3 -m heapsight run ...`", RuntimeWarning, stacklevel=3)


def _profiler_on():
    try:
        _c.ctl_get_bool("prof.active")
    except RuntimeError:
        raise HeapsightError(
            "heapsight: libheapsight.so is preloaded but its profiler is "
            "off; start the program with HEAPSIGHT=prof:true (heapsight run "
            "does) — it cannot be switched on later") from None


def _install():
    """Attaches the library's Python support (once; the library prints the
    one line saying why Python frames are off, if they are)."""
    if _state.get("attached"):
        return
    _state["attached"] = True
    err, _why = _c.attach()
    if not err:
        # Off before the interpreter tears its thread states down: a
        # daemon thread still allocating must not read a freed one.
        atexit.register(_c.detach)


def python_status():
    """What heapsight's Python support found in this process: a dict with
    ``python`` (the version), ``layout``, ``hook`` ("1" when Python frames
    are merged), ``reason`` (why not), ``pymem`` (how the PyMem domains are
    wrapped), ``symtab`` (where the eval loop's symbols came from), ..."""
    if not _c.available():
        raise HeapsightError("heapsight: the library is not loaded")
    return _c.info()


def start(sample="512k", path=None):
    """Starts sampling: about one sample per ``sample`` bytes allocated
    (``"512k"``, ``"64k"``, ``1`` for every allocation).  ``path``, if
    given, is where ``stop()`` writes the profile.  Counters start from
    zero."""
    interval = _parse_size(sample)
    if not _c.available():
        _ensure_library(interval)
    _profiler_on()
    _install()
    _c.reset(interval)
    _c.ctl_set_bool("prof.active", True)
    _state["started"] = True
    _state["path"] = os.fspath(path) if path is not None else None


def stop():
    """Stops sampling; writes the profile to start()'s ``path`` if one was
    given and returns that path (else None).  Sampled objects still alive
    keep their place in later dumps until they are freed."""
    if not _state["started"]:
        raise HeapsightError("heapsight: stop() without start()")
    _c.ctl_set_bool("prof.active", False)
    _state["started"] = False
    path, _state["path"] = _state["path"], None
    if path is not None:
        return dump(path)
    return None


def _under_run():
    return os.environ.get("HEAPSIGHT_PYTHON") == "1"


def _symbolize(path):
    """Symbolizes a dump in place with the heapsight command, so that
    ``go tool pprof`` names native functions too; says once, on stderr,
    when the command cannot be found or fails.  The command runs without
    heapsight's preload and options (it must not profile itself)."""
    from .__main__ import find_cli
    cli = find_cli()
    why = None
    if cli is None:
        why = "the heapsight command was not found (set HEAPSIGHT_CLI)"
    else:
        import subprocess
        env = {k: v for k, v in os.environ.items()
               if k not in ("LD_PRELOAD", "HEAPSIGHT", "HEAPSIGHT_PYTHON",
                            "HEAPSIGHT_RUN_TRACK")}
        try:
            p = subprocess.run([cli, "symbolize", path, "-o", path], env=env,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=300)
            if p.returncode != 0:
                why = p.stderr.decode("utf-8", "replace").strip()[-300:]
        except (OSError, subprocess.SubprocessError) as e:
            why = str(e)
    if why is not None and not _state.get("symbolize_warned"):
        _state["symbolize_warned"] = True
        sys.stderr.write("heapsight: %s is not symbolized (native frames "
                         "show as addresses; `heapsight symbolize` adds "
                         "them later): %s\n" % (path, why))


def dump(path=None, symbolize=True):
    """Writes a profile now (gzipped profile.proto) and returns its path:
    ``path``, or an automatic ``<prof_prefix>.<pid>.<seq>.manual.pb.gz``.
    The dump is symbolized (functions, files, lines) by the heapsight
    command unless ``symbolize`` is false, or it is an automatic one under
    ``heapsight run``, which symbolizes those when the program ends."""
    if not _c.available():
        raise HeapsightError("heapsight: nothing to dump: call start() "
                             "first, or run under heapsight run")
    written = _c.dump(os.fspath(path) if path is not None else None)
    if symbolize and written and (path is not None or not _under_run()):
        _symbolize(written)
    return written


def active():
    """True while allocations are being sampled."""
    if not _c.available():
        return False
    try:
        return _c.ctl_get_bool("prof.active")
    except RuntimeError:
        return False


class profile:
    """``with heapsight.profile("out.pb.gz"):`` samples the block and
    writes its profile to ``path`` when the block ends.  (A class rather
    than a contextlib generator: importing heapsight at every Python
    start-up under ``heapsight run`` should cost next to nothing.)"""

    def __init__(self, path, sample="512k"):
        self.path, self.sample = path, sample

    def __enter__(self):
        start(sample=self.sample, path=self.path)
        return self

    def __exit__(self, *exc):
        stop()
        return False


def _autostart():
    """Run by the sitecustomize that ``heapsight run`` puts on the path,
    where libheapsight.so's audit hook cannot start the Python support
    itself (no audit hooks before 3.8, Python embedded under another
    name): the library's own start (hs_python_boot: the frame hook, the
    PyMem wrappers, thread names, os._exit)."""
    if not _c.available():
        sys.stderr.write("heapsight: HEAPSIGHT_PYTHON is set but "
                         "libheapsight.so is not preloaded: Python frames "
                         "are off\n")
        return
    _profiler_on()
    _c.boot()  # the hook is removed at exit by the boot itself
    _state["attached"] = True
    # Subinterpreters of this process skip the boot (sitecustomize.py).
    os.environ["HEAPSIGHT_ATTACHED"] = str(os.getpid())
