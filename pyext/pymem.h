/*
 * pymem.h — sampling what CPython's own allocators serve: wrappers around
 * the PyMem domains (PyMem_SetAllocator), inside libheapsight.so, for
 * every supported CPython version (the PyMem allocator API is the same in
 * all of them, and is reached with dlsym: no CPython header).
 *
 * Owns: which domains are wrapped and how (the header of pymem.c says
 * why), the wrappers themselves, and the per-thread countdown of the fast
 * wrappers.  Does not own the sampler (prof/) or the frame hook.
 *
 * Threading: pymem_wrap is called once, with the GIL held; the wrappers
 * run wherever Python allocates (the raw domain without the GIL).
 */
#ifndef HS_PYEXT_PYMEM_H
#define HS_PYEXT_PYMEM_H

#include <stdbool.h>

/* CPython's domains (PyMemAllocatorDomain): raw, mem, object. */
enum { PYMEM_RAW, PYMEM_MEM, PYMEM_OBJ, PYMEM_NDOMAINS };

/*
 * Wraps the domains as pymem.c explains; preloaded says whether heapsight
 * is the process's malloc.  Returns 0, or ENOENT with *r_why set when the
 * interpreter lacks the allocator API.  A second call does nothing.
 */
int pymem_wrap(bool preloaded, const char **r_why);

/* Whether domain d (PYMEM_*) is wrapped. */
bool pymem_wrapped(unsigned d);

/* How the domains were wrapped: "fast", "events", "none (malloc)" or "". */
const char *pymem_mode(void);

#endif /* HS_PYEXT_PYMEM_H */
