/*
 * prof_hooks.h — the allocator's side of the profiler interface.
 *
 * Owns: the table of functions through which the allocator reports to a
 * profiler, and the promise it makes in return.  The allocator never
 * includes the profiler (a higher layer): the profiler installs this table
 * once, at start-up, before any thread but the first exists.
 *
 * The promise: every allocation that crosses the thread's sample point
 * (thread event TE_PROF_SAMPLE, a byte countdown drawn by next_sample) is
 * passed to sampled() after it is made, on the allocating thread, with no
 * allocator lock held and the thread's reentrancy guard taken; a sampled
 * allocation lives in an extent of its own (small ones are promoted to a
 * page), so its free is recognised in O(1) from its descriptor, which
 * keeps the record sampled() returned, and is reported to sampled_free()
 * the same way before its memory is reused.
 */
#ifndef HS_PROF_HOOKS_H
#define HS_PROF_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct alloc_prof_hooks_s {
    /* Bytes until the calling thread's next sample (UINT64_MAX: none). */
    uint64_t (*next_sample)(void);
    /* Whether a sample point reached now is taken (prof.active and
     * thread.prof.active): when not, the crossing allocation is made as
     * usual, not promoted, and the next point is drawn. */
    bool (*sampling)(void);
    /* A sampled allocation of size bytes (usize usable) at ptr: a malloc
     * (domain 0) or hs_prof_malloc_sampled's block for size bytes of
     * another allocator's domain; returns the record to keep with it, or
     * NULL to keep nothing. */
    void *(*sampled)(void *ptr, size_t size, size_t usize, unsigned domain);
    /* The sampled allocation at ptr, with record rec, is being freed. */
    void (*sampled_free)(void *ptr, size_t usize, void *rec);
    /* The stack of record rec, as a handle that outlives the record (the
     * extent keeps it after the free, for misuse reports); NULL if none. */
    const void *(*stack_of)(void *rec);
    /* Writes "allocated at <frames>" for stack handle stack into buf (len
     * bytes, NUL-terminated).  Called with allocator locks possibly held,
     * just before the process may abort: it must not allocate or lock. */
    void (*describe)(const void *stack, char *buf, size_t len);
} alloc_prof_hooks_t;

/* The installed table, or NULL (read-only after installation). */
extern const alloc_prof_hooks_t *alloc_prof_hooks;

void alloc_prof_hooks_install(const alloc_prof_hooks_t *hooks);

#endif /* HS_PROF_HOOKS_H */
