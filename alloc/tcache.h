/*
 * tcache.h — thread caches: per-thread stacks of free small regions.
 *
 * Owns: the cache bins of one thread (owner thread only — no locks on the
 * fast path) and the pool of stack memory recycled across threads (one
 * mutex, HS_RANK_TCACHE_POOL).  A cache bin is a LIFO stack of pointers:
 * malloc pops the most recently freed region (warm in cache), free pushes.
 * An empty bin is filled from the thread's arena in a batch; a full one
 * flushes its oldest half back to the slabs.  Every 64 KiB allocated, one
 * bin is garbage-collected: regions that sat unused since the last visit
 * (the low-water mark) go back, and that bin fills less next time.
 *
 * A small bin's capacity adapts (as tcmalloc's free lists do): it starts
 * at its base (ncached_max_of, 2 slabs' worth, 20..200) and doubles, up
 * to its room (128 KiB of regions, at most 2048), when the bin overflows
 * after its fills brought at least its capacity since its last flush: a
 * thread that frees back what it allocated in batches larger than the
 * bin (a list built and torn down) then keeps them all, with no fill and
 * flush per batch.  A thread that only frees (a consumer of another's
 * blocks) never fills, so never grows; a bin whose count wanders up and
 * down (a server replacing random objects) overflows after one fill of
 * half its capacity, so it seldom grows.
 * The GC halves a bin's capacity back toward its base when regions sat
 * unused for a whole round.
 *
 * Large bins are not filled in batches: a miss allocates one extent, and
 * a free caches it.
 *
 * Invariants, per bin: low_water <= ncached <= ncached_max; a region in a
 * bin is counted as allocated by its bin (curregs) and carries the free
 * mark (see front.h), so a second free of it is caught.
 */
#ifndef HS_TCACHE_H
#define HS_TCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "sz.h"

/* Cached classes: every small class, and large classes up to TCACHE_MAX
 * (bins SZ_NBINS .. TCACHE_NBINS-1 hold whole large extents). */
#define TCACHE_MAX ((size_t)32 << 10)
#define TCACHE_NBINS 40

typedef struct cache_bin_s {
    void **stack; /* stack[0] oldest .. stack[ncached - 1] newest */
    uint16_t ncached;
    uint16_t ncached_max; /* 0: caching disabled for this thread */
    uint16_t low_water;   /* least ncached since the last GC visit */
    uint8_t lg_fill_div;  /* a fill brings ncached_max >> lg_fill_div */
} cache_bin_t;

typedef struct tcache_s {
    cache_bin_t bins[TCACHE_NBINS];
    /* Regions each bin's fills brought since its last flush (saturating;
     * the slow paths' only, so it stays out of the bins' 16 bytes). */
    uint16_t fill_run[TCACHE_NBINS];
    void **mem;      /* the stacks, from the pool */
    unsigned gc_bin; /* next bin the GC visits */
} tcache_t;

void tcache_boot(void);
/* Gives t its stacks; false on OOM (t stays disabled). */
bool tcache_init(tcache_t *t);
/* Flushes everything and returns the stacks; t is disabled after. */
void tcache_destroy(tcache_t *t);
/* Fills small bin ind from arena a and pops one region; NULL on OOM. */
void *tcache_alloc_fill(tcache_t *t, arena_t *a, unsigned ind);
/* Pops one region of small bin ind where the fast path does not: at its
 * low-water mark (which moves down) or empty (filled from a first); NULL
 * on OOM. */
void *tcache_alloc(tcache_t *t, arena_t *a, unsigned ind);
/* Flushes bin ind down to keep regions (the newest stay). */
void tcache_flush_bin(tcache_t *t, unsigned ind, unsigned keep);
/* Makes room for one more region in full bin ind: grows its capacity
 * (above) or flushes its oldest half. */
void tcache_make_room(tcache_t *t, unsigned ind);
/* The base capacity and the most bin ind can grow to. */
unsigned tcache_base_slots(unsigned ind);
unsigned tcache_room_slots(unsigned ind);
void tcache_flush_all(tcache_t *t);
/* One incremental GC step. */
void tcache_gc_step(tcache_t *t);
/* Bytes of regions sitting in t. */
size_t tcache_cached_bytes(const tcache_t *t);

#endif /* HS_TCACHE_H */
