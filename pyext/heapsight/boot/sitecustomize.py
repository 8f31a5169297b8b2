"""Put on sys.path by ``heapsight run`` when the program is a Python
interpreter: turns heapsight's Python frame hook on before the program
starts, then runs the sitecustomize this one hides, if there is one."""

import importlib.util
import os
import sys


def _heapsight_boot():
    if os.environ.get("HEAPSIGHT_PYTHON") != "1":
        return
    # The package is built for CPython 3.11; other Pythons a run starts
    # (a tool's own interpreter, say) go on without Python frames.
    if sys.version_info[:2] != (3, 11):
        return
    try:
        import heapsight
        heapsight._autostart()
    except Exception as e:  # the program runs on without Python frames
        print("heapsight: Python frames are off: %s" % e, file=sys.stderr)


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.path[:]
    me = sys.modules.get("sitecustomize")
    sys.path[:] = [p for p in sys.path
                   if os.path.abspath(p or os.curdir) != here]
    try:
        sys.modules.pop("sitecustomize", None)
        spec = importlib.util.find_spec("sitecustomize")
        if spec is not None and spec.loader is not None:
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
    except Exception as e:
        print("heapsight: the next sitecustomize failed: %s" % e,
              file=sys.stderr)
    finally:
        sys.path[:] = saved
        if me is not None:
            sys.modules["sitecustomize"] = me


_heapsight_boot()
_chain()
