/*
 * attach.h — the Python support's entry into libheapsight.so: which
 * CPython is running, which frame layout reads it, whether that layout
 * reads a live frame correctly, then the frame hook and the PyMem wrappers
 * (pymem.h).  The public entry points are hs_python_attach, hs_python_
 * detach and hs_python_info (include/heapsight_hook.h); the `heapsight`
 * package calls them through ctypes.
 *
 * Owns: version detection (Py_Version, else Py_GetVersion()), the choice
 * of layout (backtrace_hooks/python/pylayout.h), the live check, the
 * "Python frames are off" line and the profile's note (prof/dump.h), and
 * the start-up check of a Python process that heapsight run meant to
 * profile but whose interpreter will never import heapsight's
 * sitecustomize (python -I, -E or -S).
 *
 * Threading: attach and detach are called with the GIL held, from Python;
 * the result of the first attach is kept (guarded by the GIL: a second
 * interpreter thread cannot attach concurrently).
 */
#ifndef HS_PYEXT_ATTACH_H
#define HS_PYEXT_ATTACH_H

#include <stdbool.h>

/*
 * Whether the flags of a Python command line (argv[1 ..], up to the
 * script, -c or -m) keep it from importing a sitecustomize found on
 * PYTHONPATH: -I, -E or -S, alone or combined ("-IS").  *r_flag gets the
 * flag found.  Exposed for tests.
 */
bool pyattach_flags_skip_site(char *const *argv, int argc, char *r_flag);

#endif /* HS_PYEXT_ATTACH_H */
