/*
 * arena.h — arenas: the shared heaps behind the thread caches.
 *
 * Owns: the arena table, each arena's bins (slabs of small regions, one bin
 * per small size class), its large allocations, and its page allocator
 * shard.  Threads are spread over arenas (least loaded first) so that bin
 * locks are rarely contended.
 *
 * Locking: each bin has a mutex (HS_RANK_BIN); a bin lock may be held while
 * the page allocator is called (ranks above).  The arena table is written
 * under arenas_mtx (HS_RANK_CTL) and read lock-free.
 * Invariants, per bin: the current slab (slabcur) is not on the nonfull
 * list; every slab on the nonfull list has 0 < nfree < nregs; a slab with
 * nfree == nregs is returned to the page allocator at once; a full slab
 * (nfree == 0) other than slabcur is on no list.
 */
#ifndef HS_ARENA_H
#define HS_ARENA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "extent/edata.h"
#include "page/pa.h"
#include "sz.h"
#include "util/mutex.h"

#define ARENAS_MAX 1024

typedef struct bin_s {
    hs_mutex_t mtx;
    edata_t *slabcur;  /* guarded by mtx */
    hs_link_t nonfull; /* guarded by mtx */
    uint64_t nfills;   /* guarded by mtx: regions handed out */
    uint64_t nflushes; /* guarded by mtx: regions taken back */
    size_t curslabs;   /* guarded by mtx */
    size_t curregs;    /* guarded by mtx: regions out of their slabs */
} HS_ALIGNED_CL bin_t;

typedef struct arena_s {
    unsigned ind;
    _Atomic(unsigned) nthreads; /* atomic */
    bin_t bins[SZ_NBINS];
    pa_shard_t pa;
    _Atomic(uint64_t) nlarge_malloc;  /* atomic */
    _Atomic(uint64_t) nlarge_dalloc;  /* atomic */
    _Atomic(size_t) large_allocated;  /* atomic; usable bytes */
} arena_t;

extern _Atomic(arena_t *) arenas[ARENAS_MAX];
extern unsigned narenas_total; /* read-only after boot */

bool arenas_boot(unsigned narenas, int64_t dirty_decay_ms);
/* Arena ind, created on first use; NULL on OOM or ind out of range. */
arena_t *arena_get(unsigned ind);
/* The least loaded arena, for a new thread. */
arena_t *arena_choose(void);
void arena_thread_attach(arena_t *a);
void arena_thread_detach(arena_t *a);

/* Moves up to n regions of class ind into out; returns how many. */
unsigned arena_bin_fill(arena_t *a, unsigned ind, void **out, unsigned n);
/* Returns n regions of class ind (from slabs of any arena) to their slabs. */
void arena_bin_flush(unsigned ind, void **ptrs, unsigned n);

/* Large allocations (usize a large class, alignment a power of two). */
void *arena_malloc_large(arena_t *a, size_t usize, size_t alignment,
                         bool zero);
void arena_dalloc_large(edata_t *e);
/* Resizes large e in place to the large class new_usize.  False if the
 * neighbouring pages are not free (growing) or on OOM (shrinking). */
bool arena_ralloc_large_in_place(edata_t *e, size_t new_usize, bool zero);

/* Forces decay of every arena's dirty pages (malloc_trim, purge). */
size_t arena_purge(arena_t *a);
void arena_decay_tick(arena_t *a);

/* Statistics of one arena. */
typedef struct arena_stats_s {
    size_t small_allocated; /* bytes in regions out of slabs */
    size_t large_allocated;
    size_t active;          /* bytes of slabs and large extents */
    uint64_t nsmall_fills, nsmall_flushes;
    uint64_t nlarge_malloc, nlarge_dalloc;
    size_t nslabs;
    pa_stats_t pa;
} arena_stats_t;

void arena_stats(arena_t *a, arena_stats_t *r_stats);

#endif /* HS_ARENA_H */
