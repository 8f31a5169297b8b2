/*
 * pyboot.h — attaching to a CPython process under `heapsight run` from
 * inside libheapsight.so, without the `heapsight` package, without ctypes
 * and whatever the interpreter's flags (-I, -E, -S skip PYTHONPATH and
 * site, not this).
 *
 * Owns: an audit hook (PySys_AddAuditHook, CPython 3.8+, which may be
 * added before the interpreter starts) registered from the library's
 * constructor; on the first "cpython.run_*" event (the main program is
 * about to run: site has been imported, the GIL is held by the main
 * thread) it attaches (hs_python_attach, checked on a frame of a small
 * function it defines for the purpose), then, through two builtin
 * functions of its own, labels the main thread, names every thread
 * threading starts, and makes os._exit write the final dump.  Every other
 * event costs a string compare.
 *
 * Does not own the attach itself (attach.c) nor the package's own start
 * (pyext/heapsight), which does nothing once this has attached.
 *
 * The C API is reached with dlsym; the few structures used (PyMethodDef,
 * the METH_* flags) are the stable ABI's.
 */
#ifndef HS_PYEXT_PYBOOT_H
#define HS_PYEXT_PYBOOT_H

#include <stdbool.h>

/* Adds the audit hook; false when the interpreter has no audit hooks
 * (before 3.8) or a symbol is missing.  Called once, from the library's
 * constructor, in a process known to be a Python one. */
bool pyboot_install(void);

#endif /* HS_PYEXT_PYBOOT_H */
