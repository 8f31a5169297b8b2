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

#include <stdbool.h>
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
 * (uint64_t), with hpa:true stats.arenas.<i>.hpa_{nslabs,nhugified,
 * nempty,nfull,pactive,pdirty,pretained,metadata} (size_t: slabs, pages,
 * bytes) and .hpa_{nhugifies,ndehugifies,npurge_passes,npurged}
 * (uint64_t), stats.san.guards and stats.san.guard_budget (size_t: guard
 * pages in place, and the most allowed), stats.san.nskipped (uint64_t:
 * guarded requests served unguarded), stats.edata.in_use and .cached
 * (size_t: extent descriptors in use and kept for reuse), .nrecycled
 * (uint64_t), arenas.create (unsigned out, hs_arena_config_t in),
 * arena.<i>.extent_hooks (const hs_extent_hooks_t *), arena.<i>.reset and
 * arena.<i>.destroy (no value), and opt.<name> for every option.
 */
/*
 * Extent hooks: where an arena created with "arenas.create" gets its
 * memory.  The signatures and semantics are jemalloc's extent hooks, so
 * code written for jemalloc ports by renaming.  Unlike the rest of this
 * interface, each bool result means "true: did not do it / opt out" —
 * the one place where heapsight's rule (true = success) yields to
 * compatibility.  A NULL entry means: alloc — map memory as heapsight
 * does by default; dalloc — opt out (the memory stays with the arena, as
 * retained address space); destroy — do nothing; commit, decommit,
 * purge_lazy, purge_forced, split, merge — cannot.  Every table with
 * alloc set works: when split is NULL (or once it refused a split), each
 * extent is asked of alloc at the size and alignment it serves, a freed
 * one is reused only by a request of its exact size, and freed extents
 * are not merged; nothing obtained from the hooks is stranded.
 *
 * alloc      size bytes aligned to alignment (both multiples of the page
 *            size); new_addr is always NULL.  On entry *zero asks for
 *            zeroed memory and *commit for committed memory; on return
 *            they say what was given.  NULL on failure.
 * dalloc     give [addr, addr + size) back (false), or keep it (true).
 * destroy    unconditionally give it back (arena.<i>.destroy).
 * commit, decommit, purge_lazy, purge_forced
 *            act on [addr + offset, addr + offset + length) of the extent
 *            [addr, addr + size); false when done.
 * split      allow [addr, addr + size) to become [addr, +size_a) and
 *            [addr + size_a, +size_b): false to allow.
 * merge      allow [addr_a, +size_a) and the adjacent [addr_b, +size_b)
 *            to become one extent: false to allow.  Called only for
 *            neighbours of the same arena in the same free state.
 * Hooks run with allocator locks held: they must not allocate from the
 * arena they serve (allocating from another arena is fine).
 */
typedef struct hs_extent_hooks_s hs_extent_hooks_t;
struct hs_extent_hooks_s {
    void *(*alloc)(hs_extent_hooks_t *hooks, void *new_addr, size_t size,
                   size_t alignment, bool *zero, bool *commit,
                   unsigned arena_ind);
    bool (*dalloc)(hs_extent_hooks_t *hooks, void *addr, size_t size,
                   bool committed, unsigned arena_ind);
    void (*destroy)(hs_extent_hooks_t *hooks, void *addr, size_t size,
                    bool committed, unsigned arena_ind);
    bool (*commit)(hs_extent_hooks_t *hooks, void *addr, size_t size,
                   size_t offset, size_t length, unsigned arena_ind);
    bool (*decommit)(hs_extent_hooks_t *hooks, void *addr, size_t size,
                     size_t offset, size_t length, unsigned arena_ind);
    bool (*purge_lazy)(hs_extent_hooks_t *hooks, void *addr, size_t size,
                       size_t offset, size_t length, unsigned arena_ind);
    bool (*purge_forced)(hs_extent_hooks_t *hooks, void *addr, size_t size,
                         size_t offset, size_t length, unsigned arena_ind);
    bool (*split)(hs_extent_hooks_t *hooks, void *addr, size_t size,
                  size_t size_a, size_t size_b, bool committed,
                  unsigned arena_ind);
    bool (*merge)(hs_extent_hooks_t *hooks, void *addr_a, size_t size_a,
                  void *addr_b, size_t size_b, bool committed,
                  unsigned arena_ind);
};

/*
 * The configuration of hs_ctl("arenas.create", &ind, &sz, &config,
 * sizeof config) (newp may be NULL: default hooks, metadata from the
 * default allocator).  metadata_use_hooks: the arena's extent descriptors
 * and their blocks also come from its hooks (false keeps metadata off
 * slow memory); its small control block (locks, bins) always comes from
 * heapsight's own metadata, so that its locks outlive arena.<i>.destroy.
 * An arena created this way is served with HS_MALLOCX_ARENA(ind); its
 * blocks never enter thread caches; it is guarded by no guard pages; and
 * arena.<i>.reset (free every block at once) and arena.<i>.destroy (reset,
 * then give every page back through the hooks; fails with EFAULT while a
 * thread is bound to it with thread.arena) apply to it only.
 */
typedef struct hs_arena_config_s {
    const hs_extent_hooks_t *extent_hooks; /* NULL: the default */
    bool metadata_use_hooks;
} hs_arena_config_t;

/* The arena index of arena.<i>.purge and arena.<i>.decay meaning "every
 * arena" (jemalloc's MALLCTL_ARENAS_ALL). */
#define HS_ARENAS_ALL 4096

/*
 * Misuse detection (a free of a pointer heapsight did not return, a double
 * free, a sized free with the wrong size) writes one line on stderr naming
 * the problem and the address, then ends the process with abort() — or,
 * with the option abort_on_error:false, returns leaving the block
 * untouched.  An abort hook, if set, is called with that line (without the
 * "heapsight: " prefix) instead of aborting, and the block is left
 * untouched: for tests that check a detection fired without dying.  The
 * hook may run with allocator locks held: it must not allocate.  Returns
 * the previous hook; NULL removes it.
 */
typedef void hs_abort_hook_t(const char *message);
hs_abort_hook_t *hs_set_abort_hook(hs_abort_hook_t *hook);

int hs_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
           size_t newlen);

#ifdef __cplusplus
}
#endif

#endif /* HEAPSIGHT_H */
