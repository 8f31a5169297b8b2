"""heapsight's entry points in libheapsight.so, through ctypes.

Owns: finding the library (the process's own when it is preloaded or
linked; else a private dlopen of libheapsight.so, which then profiles only
what Python's allocators report to it) and thin calls onto hs_ctl and
hs_python_*.  Everything version-specific lives in the library, which
reads the running interpreter's layout itself: this module is the same
for every CPython, so the package needs no build.

Calls that may write a file (dump) release the GIL (ctypes.CDLL); the
Python-support calls keep it (ctypes.PyDLL), as the library requires.
"""

import ctypes
import os

_lib = None       # CDLL: calls release the GIL
_pylib = None     # PyDLL: calls keep it
_preloaded = False


def _bind(handle_name, mode):
    global _lib, _pylib
    lib = ctypes.CDLL(handle_name, mode=mode)
    pylib = ctypes.PyDLL(handle_name, mode=mode)
    lib.hs_ctl.argtypes = [ctypes.c_char_p, ctypes.c_void_p,
                           ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
                           ctypes.c_size_t]
    lib.hs_ctl.restype = ctypes.c_int
    pylib.hs_python_attach.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.c_char_p, ctypes.c_size_t]
    pylib.hs_python_attach.restype = ctypes.c_int
    pylib.hs_python_detach.argtypes = []
    pylib.hs_python_detach.restype = ctypes.c_int
    pylib.hs_python_info.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    pylib.hs_python_info.restype = ctypes.c_size_t
    pylib.hs_python_boot.argtypes = []
    pylib.hs_python_boot.restype = ctypes.c_int
    _lib, _pylib = lib, pylib


def _find_global():
    """Binds the process's own copy (preloaded or linked), if any."""
    global _preloaded
    try:
        me = ctypes.CDLL(None)
        me.hs_python_attach  # noqa: B018 -- AttributeError when absent
    except (OSError, AttributeError):
        return
    _bind(None, ctypes.DEFAULT_MODE)
    _preloaded = True


_find_global()


def preloaded():
    return _preloaded


def available():
    return _lib is not None


def load(path):
    """Opens libheapsight.so privately (not preloaded)."""
    if _lib is not None:
        return
    try:
        _bind(path, os.RTLD_LOCAL | os.RTLD_NOW)
    except OSError as e:
        raise OSError("cannot load %s: %s" % (path, e)) from None
    except AttributeError:
        raise OSError("%s is not a heapsight library" % path) from None


def _need():
    if _lib is None:
        raise RuntimeError("heapsight: the library is not loaded (call "
                           "heapsight.start() first)")


def _ctl_error(name, err):
    if err == 2:  # ENOENT
        return RuntimeError("heapsight: %s is not available (is the "
                            "profiler on? HEAPSIGHT=prof:true)" % name)
    return OSError(err, "heapsight: %s: %s" % (name, os.strerror(err)))


def _ctl_read(name, value):
    _need()
    size = ctypes.c_size_t(ctypes.sizeof(value))
    err = _lib.hs_ctl(name.encode(), ctypes.byref(value), ctypes.byref(size),
                      None, 0)
    if err:
        raise _ctl_error(name, err)
    return value


def _ctl_write(name, value):
    _need()
    if value is None:
        err = _lib.hs_ctl(name.encode(), None, None, None, 0)
    else:
        err = _lib.hs_ctl(name.encode(), None, None, ctypes.byref(value),
                          ctypes.sizeof(value))
    if err:
        raise _ctl_error(name, err)


def ctl_get_bool(name):
    return bool(_ctl_read(name, ctypes.c_bool()).value)


def ctl_set_bool(name, value):
    _ctl_write(name, ctypes.c_bool(bool(value)))


def ctl_get_size(name):
    return _ctl_read(name, ctypes.c_size_t()).value


def reset(sample):
    """prof.reset; a new mean interval when sample is not 0."""
    _ctl_write("prof.reset", ctypes.c_size_t(sample) if sample else None)


def dump(path=None):
    """Writes a profile now; returns its path."""
    arg = ctypes.c_char_p(os.fsencode(path) if path is not None else None)
    _ctl_write("prof.dump", arg)
    if path is not None:
        return path
    buf = ctypes.create_string_buffer(4096)
    _ctl_read("prof.last_dump", buf)
    return os.fsdecode(buf.value) or None


def boot():
    """hs_python_boot: what heapsight run does in a Python process at
    start-up (attach, thread names, os._exit writing the final dump), for
    the interpreters the library's audit hook does not reach."""
    _need()
    return _pylib.hs_python_boot()


def attach():
    """hs_python_attach: (0, "") when Python frames are on, else (errno,
    why).  The library checks its frame layout on this very function's
    frame, so it passes its own name and file."""
    _need()
    why = ctypes.create_string_buffer(512)
    code = attach.__code__
    err = _pylib.hs_python_attach(code.co_name.encode(),
                                  os.fsencode(code.co_filename), why,
                                  len(why))
    return err, why.value.decode("utf-8", "replace")


def detach():
    if _pylib is not None:
        _pylib.hs_python_detach()


def info():
    """What the library's Python support found, as a dict of strings."""
    _need()
    buf = ctypes.create_string_buffer(4096)
    _pylib.hs_python_info(buf, len(buf))
    out = {}
    for line in buf.value.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out
