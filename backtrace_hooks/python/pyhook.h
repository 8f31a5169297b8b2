/*
 * pyhook.h — the Python backtrace hook: on each sampled allocation, the
 * native eval-loop frames of the stack are replaced by the Python
 * functions they were running (merge.h), named from the interpreter's own
 * frames (pyframes.h).
 *
 * Owns: finding the eval loop's code (the hot function from the dynamic
 * symbol table; its .cold part, and the allocator entry functions to trim,
 * from a full symbol table: the interpreter's own, or its separate debug
 * file found by build ID under /usr/lib/debug/.build-id), the cache of
 * symbolic frames per (code object, offset), and the hook's glue to
 * heapsight, reached through a table of function pointers so that the
 * module holding this code never links libheapsight.so (which may be
 * preloaded, or opened later, or absent).
 *
 * Cost: nothing between samples (no profile function, no shadow stack).
 * Per sample, a walk of the frame chain (a few ns a frame) and one cache
 * probe per frame; a miss copies the names out of the code object and
 * interns them (hs_frame_symbolic), outside any allocator lock.
 *
 * Threading: the hook runs on any thread that allocates, without the GIL;
 * install and remove are called with the GIL held.  The frame cache is
 * lock-free (sequence-numbered slots, backtrace_hooks/seqslot.h), so a
 * fork child never finds it locked.
 */
#ifndef HS_PY_HOOK_H
#define HS_PY_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../include/heapsight_hook.h"

/* The parts of heapsight's API the hook uses. */
typedef struct py_hs_api_s {
    hs_frame_t (*frame_symbolic)(const char *, const char *, unsigned);
    int (*hook_add)(hs_backtrace_hook_t, void *);
    int (*hook_remove)(hs_backtrace_hook_t, void *);
    int (*sample_label)(const char *, const char *);
} py_hs_api_t;

typedef struct py_hook_info_s {
    uintptr_t eval_lo, eval_hi;     /* _PyEval_EvalFrameDefault */
    uintptr_t cold_lo, cold_hi;     /* its .cold part; 0, 0 if not found */
    uintptr_t interp_lo, interp_hi; /* the interpreter's code segment */
    unsigned ntrim;                 /* allocator entry functions found */
    char symtab[512];               /* where the full symbols came from */
} py_hook_info_t;

/*
 * Finds the eval loop and the functions to trim (once; later calls reuse
 * what was found), and adds the hook through api.  Returns 0, or an errno
 * value with *r_why saying what failed (the eval loop is not in this
 * process's dynamic symbols; the hook chain is full).
 */
int py_hook_install(const py_hs_api_t *api, const char **r_why);
/* Removes the hook (it is no longer running when this returns). */
int py_hook_remove(void);
bool py_hook_installed(void);
void py_hook_get_info(py_hook_info_t *r_info);

/* Code whose frames are dropped, with every frame inside them, when one
 * is among the innermost 16 (the module's own PyMem wrappers: what is
 * inside them is the allocator they wrap).  Set once, before install. */
void py_hook_trim(uintptr_t lo, uintptr_t hi);

/* The hook (hs_backtrace_hook_t), exposed for tests. */
void py_hook_run(hs_frame_t *frames, unsigned *nframes, unsigned max,
                 void *arg);

/* Cache probes that had to name a frame, since start (tests). */
uint64_t py_hook_names_computed(void);

#endif /* HS_PY_HOOK_H */
