"""Put on sys.path by ``heapsight run`` when the program is a Python
interpreter: turns heapsight's Python frame hook on before the program
starts, then runs the sitecustomize this one hides, if there is one.

Every interpreter a run starts imports this file, Python 2 included, so it
is written to parse there too (no f-strings, no print function) and does
nothing there but say so and chain (the library has noted "frames off" in
that process's profile already: pyext/attach.c).  On Python 3 before 3.10
the library says the same and still samples pymalloc."""

import os
import sys


def _heapsight_boot():
    if os.environ.get("HEAPSIGHT_PYTHON") != "1":
        return
    if sys.version_info[0] < 3:
        sys.stderr.write("heapsight: Python frames are off: Python %d.%d is "
                         "not supported (3.10 to 3.13 are); native stacks "
                         "go on\n" % sys.version_info[:2])
        return
    # libheapsight.so attaches by itself when the program starts (an audit
    # hook: pyext/pyboot.c); this file only chains then.
    if os.environ.get("HEAPSIGHT_PYTHON_BOOT") == "audit":
        return
    # A subinterpreter of a process that attached already: the hook and
    # the wrappers serve the whole process (and ctypes may not even load
    # in a subinterpreter).
    if os.environ.get("HEAPSIGHT_ATTACHED") == str(os.getpid()):
        return
    try:
        import heapsight
        heapsight._autostart()
    except Exception as e:  # the program runs on without Python frames
        sys.stderr.write("heapsight: Python frames are off: %s; native "
                         "stacks go on\n" % (e,))


def _chain():
    """Runs the next sitecustomize on sys.path (Debian has one), as a
    module of that name; a plain file is compiled and run directly
    (importing importlib for it would cost milliseconds at every
    start-up), a package goes through importlib."""
    here = os.path.dirname(os.path.abspath(__file__))
    me = sys.modules.get("sitecustomize")
    for entry in sys.path:
        d = os.path.abspath(entry or os.curdir)
        if d == here:
            continue
        path = os.path.join(d, "sitecustomize.py")
        try:
            if os.path.exists(path):
                import types
                mod = types.ModuleType("sitecustomize")
                mod.__file__ = path
                with open(path, "rb") as f:
                    code = compile(f.read(), path, "exec")
                sys.modules["sitecustomize"] = mod
                exec(code, mod.__dict__)
                return
            if os.path.isdir(os.path.join(d, "sitecustomize")):
                import importlib
                saved = sys.path[:]
                sys.path[:] = [p for p in sys.path
                               if os.path.abspath(p or os.curdir) != here]
                try:
                    sys.modules.pop("sitecustomize", None)
                    importlib.import_module("sitecustomize")
                finally:
                    sys.path[:] = saved
                return
        except Exception as e:
            sys.stderr.write("heapsight: the next sitecustomize failed: "
                             "%s\n" % (e,))
            return
        finally:
            if me is not None:
                sys.modules["sitecustomize"] = me


_heapsight_boot()
_chain()
