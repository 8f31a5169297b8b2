/*
 * heapsight_hook.h — the stable interface for code that augments or
 * observes heapsight's sampling profiler: interpreters that add their own
 * frames to native stacks, other allocators (pools, pymalloc) that want
 * their allocations sampled, and tools that watch samples and dumps.
 *
 * Frames.  A stack is an array of hs_frame_t, innermost first.  A frame is
 * either a native return address (as the unwinder found it) or a symbolic
 * frame made by hs_frame_symbolic(); hs_frame_is_symbolic() tells which.
 *
 * Backtrace hooks run, in the order they were added, after the native
 * unwinder on every sampled allocation; each may rewrite, insert or drop
 * frames in place (frames[0 .. *nframes), at most max).  A hook runs on the
 * allocating thread, inside the allocator's slow path but with no
 * allocator lock held; it may call hs_frame_symbolic() and may allocate
 * (such allocations are never sampled), and must not block for long.
 *
 * All functions are thread-safe.  The add functions return 0, or an errno
 * value: EINVAL for a NULL function, ENOSPC when the chain is full (at
 * least 16 hooks fit in each chain).  The remove functions return 0 or
 * ENOENT, and return only once no thread is still running that hook.
 */
#ifndef HEAPSIGHT_HOOK_H
#define HEAPSIGHT_HOOK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uintptr_t hs_frame_t;

/* Symbolic frames have the top bit set; native addresses never do. */
#define HS_FRAME_SYMBOLIC_BIT ((hs_frame_t)1 << (sizeof(hs_frame_t) * 8 - 1))

static inline int
hs_frame_is_symbolic(hs_frame_t f)
{
    return (f & HS_FRAME_SYMBOLIC_BIT) != 0;
}

/*
 * Interns a non-native frame: function (required), file (may be NULL) and
 * line (0 if unknown).  The strings are copied.  The same triple always
 * yields the same frame.  Returns 0 only when out of memory.
 */
hs_frame_t hs_frame_symbolic(const char *function, const char *file,
                             unsigned line);

typedef void (*hs_backtrace_hook_t)(hs_frame_t *frames, unsigned *nframes,
                                    unsigned max, void *arg);
int hs_backtrace_hook_add(hs_backtrace_hook_t hook, void *arg);
int hs_backtrace_hook_remove(hs_backtrace_hook_t hook, void *arg);

/*
 * From inside a backtrace hook only: labels the sample being taken with
 * key: value (one label per sample; a later call replaces it; "bytes",
 * "thread" and "allocator" are heapsight's own keys).  Samples that
 * differ only in this label are counted apart.  Returns 0, EINVAL (a
 * NULL argument, not inside a backtrace hook, or the profiler is off) or
 * ENOSPC (the label table is full).
 */
int hs_sample_label(const char *key, const char *value);

/* Called for each sampled allocation, after the backtrace hooks. */
typedef void (*hs_sample_hook_t)(void *ptr, size_t size, size_t usize,
                                 const hs_frame_t *frames, unsigned nframes,
                                 void *arg);
int hs_sample_hook_add(hs_sample_hook_t hook, void *arg);
int hs_sample_hook_remove(hs_sample_hook_t hook, void *arg);

/* Called when a sampled allocation is freed. */
typedef void (*hs_sample_free_hook_t)(void *ptr, size_t usize, void *arg);
int hs_sample_free_hook_add(hs_sample_free_hook_t hook, void *arg);
int hs_sample_free_hook_remove(hs_sample_free_hook_t hook, void *arg);

/* Called with the path of each dump once it is complete (renamed). */
typedef void (*hs_dump_hook_t)(const char *path, void *arg);
int hs_dump_hook_add(hs_dump_hook_t hook, void *arg);
int hs_dump_hook_remove(hs_dump_hook_t hook, void *arg);

/*
 * Allocation domains: allocations made by another allocator (a pool,
 * pymalloc) reported to the profiler so they are sampled with the same
 * sampler and stacks, and labelled "allocator: <name>" in the profile.
 * hs_prof_domain() returns the domain's id (the same name, the same id;
 * id 0 is heapsight's own malloc), or 0 when the table is full.
 * The events cost a few nanoseconds when the allocation is not sampled.
 */
unsigned hs_prof_domain(const char *name);
void hs_prof_alloc_event(void *ptr, size_t size, unsigned domain);
void hs_prof_free_event(void *ptr, unsigned domain);

/*
 * The fast way for an allocator that hands its out-of-pool requests to
 * malloc (pymalloc does) when heapsight is that malloc: the allocator
 * keeps its own countdown of requested bytes, drawing each gap from
 * hs_prof_foreign_gap() (exponential, mean prof_sample; a long gap while
 * sampling is off), and serves the request that crosses it with
 * hs_prof_malloc_sampled(size, domain) instead of from its pool: a block
 * from heapsight's malloc, sampled and labelled with domain, weighted by
 * size as hs_prof_alloc_event would.  The block is freed (or resized)
 * with free()/realloc(), which recognise it, so the allocator's free path
 * needs no event at all.  NULL when out of memory.
 */
uint64_t hs_prof_foreign_gap(void);
void *hs_prof_malloc_sampled(size_t size, unsigned domain);

/*
 * CPython support, used by the `heapsight` Python package (through
 * ctypes, with the GIL held).  hs_python_attach finds the running
 * CPython's version and frame layout (3.10 to 3.13 from tables made from
 * their headers; later ones from the debug offsets at the start of
 * _PyRuntime where those still fit), checks the layout by reading the
 * caller's own frame — the Python function func of file file (its
 * co_qualname, or co_name before 3.11, and co_filename) — adds the
 * backtrace hook that puts the Python functions in place of the eval
 * loop's frames, and wraps the PyMem domains so that pymalloc's
 * allocations are sampled.  Returns 0 when Python frames are on; else an
 * errno value (ENOTSUP: the version or build is not supported; ENOENT: a
 * symbol is missing; EPROTO: the layout failed its check), with one line
 * in why (why_size bytes) and on stderr saying what is off and what goes
 * on; the profile records it either way (a comment, and the label
 * python_frames: off).  Only the first call does anything; later ones
 * return its result.  hs_python_detach removes the hook (call it before
 * the interpreter frees its thread states).  hs_python_info writes
 * "key=value" lines about what attach found into buf; returns the length.
 */
int hs_python_attach(const char *func, const char *file, char *why,
                     size_t why_size);
int hs_python_detach(void);
size_t hs_python_info(char *buf, size_t size);
/*
 * What heapsight run does in every Python process when its main program is
 * about to run (an audit hook calls it; heapsight's boot sitecustomize
 * calls it where the interpreter has no audit hooks): attach, label the
 * main thread, have threading name every thread it starts, make os._exit
 * write the final dump first.  Once per process; returns what
 * hs_python_attach returned.  GIL held.
 */
int hs_python_boot(void);

#ifdef __cplusplus
}
#endif

#endif /* HEAPSIGHT_HOOK_H */
