/*
 * ecache.h — a locked cache of free extents of one state, and the extent
 * algorithms over it: fit-and-split, coalescing free, in-place expansion,
 * and eviction of the oldest member for purging.
 *
 * Owns: its eset and the transitions of extents into and out of it.  An
 * extent taken out is "active" (owned privately by the caller) with its
 * boundary pages recorded in the emap; an extent put in must be active,
 * boundary-recorded and have no interior pages recorded.
 *
 * Locking: one mutex (rank HS_RANK_ECACHE); two ecaches are never locked
 * together.  Split and merge take the edata cache lock (higher rank).
 * Coalescing acquires a neighbour only through its emap entry, and only if
 * the neighbour's descriptor says it is in this very eset (same state and
 * arena, exactly adjacent) — facts that change only under this lock.
 *
 * Guarded extents (their last page a guard, see pac.h) live in a second
 * set of the same state: they are reused only whole and at their exact
 * size, never split or merged, and decay like the others (eviction takes
 * the older of the two sets' oldest members).
 */
#ifndef HS_ECACHE_H
#define HS_ECACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/mutex.h"
#include "edata.h"
#include "ehooks.h"
#include "eset.h"

/* Where one arena's extents come from and their descriptors live: its
 * page source and its edata cache.  Owned by the arena's PAC. */
typedef struct extent_ctx_s {
    ehooks_t eh;
    edata_cache_t *edc;
    bool manual; /* the arena was made by arenas.create */
} extent_ctx_t;

typedef struct ecache_s {
    hs_mutex_t mtx;
    eset_t eset;    /* guarded by mtx */
    eset_t guarded; /* guarded by mtx: guarded extents, never coalesced */
    unsigned arena_ind;
    extent_ctx_t *ctx;
} ecache_t;

void ecache_init(ecache_t *c, extent_state_t state, unsigned arena_ind,
                 extent_ctx_t *ctx);
/* An active extent of exactly size bytes at an address aligned to
 * alignment, or NULL when nothing fits (or on OOM while splitting). */
edata_t *ecache_alloc(ecache_t *c, size_t size, size_t alignment);
/* Inserts e, merging it with free neighbours of this set; now_ns stamps
 * its age. */
void ecache_dalloc(ecache_t *c, edata_t *e, uint64_t now_ns);
/* Grows active e in place to new_size with the free extent that follows
 * it in this set.  On success *r_zeroed says whether the added pages read
 * as zero. */
bool ecache_expand(ecache_t *c, edata_t *e, size_t new_size, bool *r_zeroed);
/* Removes and returns the oldest member if it was inserted at or before
 * before_ns, else NULL.  The result is active and owned by the caller. */
edata_t *ecache_evict(ecache_t *c, uint64_t before_ns);
/* Removes and returns the oldest member of the guarded set (guarded) or of
 * the other, whatever its age, or NULL (for giving address space back). */
edata_t *ecache_evict_from(ecache_t *c, bool guarded);
/* A guarded extent of exactly size bytes (guard page included) that last
 * held a block at offset off (so a block of the same size), active, or
 * NULL.  Reuse only for the same block size keeps a stale pointer into a
 * freed guarded block from finding a live block of another size there. */
edata_t *ecache_alloc_guarded(ecache_t *c, size_t size, uint32_t off);
/* Pages held, guarded extents included (a snapshot). */
size_t ecache_npages(ecache_t *c);

/* Splits active e at size_a: e keeps [0, size_a), the result gets the
 * rest (active, szind none).  NULL on OOM or when ctx's hooks refuse, e
 * unchanged. */
edata_t *extent_split(extent_ctx_t *ctx, edata_t *e, size_t size_a);
/* Shrinks active e to new_size, giving the trail back to c.  False on OOM. */
bool ecache_shrink(ecache_t *c, edata_t *e, size_t new_size, uint64_t now_ns);

#endif /* HS_ECACHE_H */
