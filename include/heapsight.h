/*
 * heapsight.h — the public interface of libheapsight.
 *
 * libheapsight is a general-purpose allocator.  Preloaded (LD_PRELOAD) or
 * linked with -lheapsight it serves the standard entry points (malloc, free,
 * calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * malloc_usable_size, reallocarray, free_sized, free_aligned_sized and the
 * glibc introspection calls).  This header adds the extended API below; the
 * standard ones are declared by <stdlib.h> and <malloc.h>.
 *
 * Options come from the environment variable HEAPSIGHT, "key:value,..."
 * (see docs/OPTIONS.md), and can be read at run time as "opt.<key>" through
 * hs_ctl().
 */
#ifndef HEAPSIGHT_H
#define HEAPSIGHT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HS_VERSION "0.1.0"

/*
 * Flags for hs_mallocx, hs_rallocx, hs_dallocx, hs_sdallocx, hs_nallocx.
 * They may be or'ed together.
 *
 * HS_MALLOCX_ALIGN(a)    result aligned to a (a power of two)
 * HS_MALLOCX_ZERO        result zero-filled (on rallocx: the grown part)
 * HS_MALLOCX_TCACHE_NONE bypass the calling thread's cache
 * HS_MALLOCX_ARENA(i)    serve from arena i (0 <= i < arenas.narenas)
 * HS_MALLOCX_GUARDED     put the block in a guarded extent: its end sits
 *                        at a guard page (PROT_NONE), so a write past it
 *                        faults at once; unguarded when the mapping budget
 *                        is spent or the alignment exceeds a page
 */
#define HS_MALLOCX_LG_ALIGN(la) ((int)(la))
#define HS_MALLOCX_ALIGN(a) ((int)(__builtin_ctzl((unsigned long)(a))))
#define HS_MALLOCX_ZERO ((int)0x40)
#define HS_MALLOCX_TCACHE_NONE ((int)0x80)
#define HS_MALLOCX_ARENA(i) ((int)(((unsigned)(i) + 1) << 20))
#define HS_MALLOCX_GUARDED ((int)0x100)

/* Allocates at least size bytes; NULL with errno ENOMEM on failure. */
void *hs_mallocx(size_t size, int flags);
/* Resizes ptr (which must not be NULL); NULL and ptr untouched on failure. */
void *hs_rallocx(void *ptr, size_t size, int flags);
/* Frees ptr (which must not be NULL). */
void hs_dallocx(void *ptr, int flags);
/* Frees ptr, whose requested size was size (any size in its class). */
void hs_sdallocx(void *ptr, size_t size, int flags);
/* The usable size hs_mallocx(size, flags) would return; 0 if too large. */
size_t hs_nallocx(size_t size, int flags);
/* The usable size of ptr, an allocation of this library. */
size_t hs_sallocx(const void *ptr, int flags);

/*
 * Reads and/or writes the control node name, with mallctl semantics:
 * oldp/oldlenp receive the old value (*oldlenp must equal the value's size),
 * newp/newlen give the new one.  Returns 0 or an errno value: ENOENT for an
 * unknown name, EINVAL for a wrong length or value, EPERM for a write to a
 * read-only node, EFAULT when the node needs a buffer that was not given.
 *
 * Nodes: version (const char *), epoch (uint64_t; a write refreshes the
 * stats.* snapshot), stats.allocated, stats.active, stats.resident,
 * stats.mapped, stats.retained, stats.metadata, stats.dirty, stats.muzzy
 * (size_t), arenas.narenas (unsigned), thread.arena (unsigned,
 * read/write), thread.tcache.flush (no value), thread.allocated,
 * thread.deallocated (uint64_t), arena.<i>.purge and arena.<i>.decay (no
 * value; i may be HS_ARENAS_ALL), arena.<i>.dirty_decay_ms and
 * arena.<i>.muzzy_decay_ms (ssize_t, read/write), background_thread (bool,
 * read/write: starts or stops the purging thread),
 * stats.background_thread.num_threads (size_t), .num_runs and
 * .run_interval (uint64_t, ns), stats.arenas.<i>.pdirty, .pmuzzy,
 * .pactive (pages), .mapped, .retained (bytes, size_t),
 * stats.arenas.<i>.{dirty,muzzy}_{npurge,nmadvise,purged} and .nguarded
 * (uint64_t), stats.san.guards and stats.san.guard_budget (size_t: guard
 * pages in place, and the most allowed), stats.san.nskipped (uint64_t:
 * guarded requests served unguarded), and opt.<name> for every option.
 */
/* The arena index of arena.<i>.purge and arena.<i>.decay meaning "every
 * arena" (jemalloc's MALLCTL_ARENAS_ALL). */
#define HS_ARENAS_ALL 4096

int hs_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
           size_t newlen);

#ifdef __cplusplus
}
#endif

#endif /* HEAPSIGHT_H */
