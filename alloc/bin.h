/*
 * bin.h — a bin: the slabs of one small size class in one arena.
 *
 * Owns: its slabs' region bitmaps and free counts while they are slabs,
 * the choice of the slab to fill from, and its counters.  Slab extents come
 * from, and empty slabs go back to, the arena's page allocator.
 *
 * Locking: one mutex (HS_RANK_BIN) guards everything below; the page
 * allocator may be called with it held (its ranks are higher), except that
 * empty slabs are returned after it is released.
 * Invariants: the current slab (slabcur) is not on the nonfull list; every
 * slab on the nonfull list has 0 < nfree < nregs; a slab that becomes
 * empty (nfree == nregs) is kept as the bin's spare when there is none,
 * else returned to the page allocator at once; the spare is on no list and
 * is the next new slab a fill takes; a full slab other than slabcur is on
 * no list; curslabs counts every slab, the spare too; curregs == regions
 * out of the slabs (in thread caches or in use) == nfills - nflushes.
 *
 * Why a spare: a producer/consumer pattern (one thread allocates, another
 * frees everything) empties each slab soon after it filled; returning it
 * and splitting a new one from the page allocator at once cost two page
 * allocator calls and their lock per slab (docs/PERFORMANCE.md, "Where
 * the instructions and cycles go").  One empty slab per bin bounds what it
 * keeps.
 */
#ifndef HS_BIN_H
#define HS_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "extent/edata.h"
#include "page/pa.h"
#include "sz.h"
#include "util/mutex.h"

typedef struct bin_s {
    hs_mutex_t mtx;
    edata_t *slabcur;  /* guarded by mtx */
    hs_link_t nonfull; /* guarded by mtx */
    uint64_t nfills;   /* guarded by mtx: regions handed out */
    uint64_t nflushes; /* guarded by mtx: regions taken back */
    size_t curslabs;   /* guarded by mtx */
    size_t curregs;    /* guarded by mtx */
    edata_t *spare;    /* guarded by mtx: an empty slab, or NULL */
} HS_ALIGNED_CL bin_t;

void bin_init(bin_t *bin);
/* Moves up to n regions of class ind into out, lowest addresses first;
 * returns how many (fewer only on OOM). */
unsigned bin_fill(bin_t *bin, pa_shard_t *pa, unsigned ind, void **out,
                  unsigned n);
/* Returns to their slabs those of ptrs whose slab (slabs[i], the
 * descriptor of ptrs[i]'s slab, looked up by the caller before the lock)
 * belongs to arena arena_ind (this bin's arena); moves the others to the
 * front of ptrs and slabs and returns their number.  A region freed twice
 * ends the process. */
unsigned bin_flush(bin_t *bin, pa_shard_t *pa, unsigned arena_ind, void **ptrs,
                   edata_t **slabs, unsigned n);

typedef struct bin_stats_s {
    size_t curslabs, curregs;
    uint64_t nfills, nflushes;
} bin_stats_t;

void bin_stats(bin_t *bin, bin_stats_t *r_stats);
/* Returns the spare slab, if any, to the page allocator (purging). */
void bin_release_spare(bin_t *bin, pa_shard_t *pa);

#endif /* HS_BIN_H */
