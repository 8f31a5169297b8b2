/*
 * psset.h — a set of pageslabs (hpdata.h), binned so that an allocation
 * packs into the fullest slab that can take it.
 *
 * Owns: the bins (one per longest-free-run length, 0 .. HPDATA_NPAGES,
 * with a bitmap of non-empty bins), the list of hugify candidates (dense
 * slabs not hugified yet) and of purge candidates (slabs with dirty
 * pages), and the set's page counters.
 *
 * Choice: psset_pick takes the lowest non-empty bin whose run is long
 * enough (best fit by longest free run), and in it the slab with the most
 * active pages (the oldest on ties; a bounded scan).  Dense packing keeps
 * hugepages full and leaves empty slabs to be purged whole.
 *
 * Not locked itself: the owning shard's mutex guards everything.
 * Invariants: every member is in exactly the bin of its longest_free; a
 * member is on the hugify list iff it is not hugified and has at least
 * dense_pages active pages; on the purge list iff it has dirty pages;
 * the counters are the sums over members.  A member's hpdata is changed
 * only between psset_update_begin and psset_update_end.
 */
#ifndef HS_PSSET_H
#define HS_PSSET_H

#include <stddef.h>
#include <stdint.h>

#include "hpdata.h"

#define PSSET_NBINS (HPDATA_NPAGES + 1)

typedef struct psset_s {
    hs_link_t bins[PSSET_NBINS];
    uint64_t nonempty[(PSSET_NBINS + 63) / 64];
    hs_link_t hugify; /* candidates, oldest dense first */
    hs_link_t purge;  /* candidates, in the order they became dirty */
    size_t dense_pages;
    size_t nslabs, nempty, nfull, nhugified;
    size_t nactive, ntouched; /* pages, over all members */
} psset_t;

/* dense_pages: active pages from which a slab is worth hugifying. */
void psset_init(psset_t *s, size_t dense_pages);
void psset_insert(psset_t *s, hpdata_t *h);
void psset_remove(psset_t *s, hpdata_t *h);
/* The slab to place npages in, or NULL when none has the room.  The slab
 * stays in the set: bracket the reservation with update_begin/end. */
hpdata_t *psset_pick(psset_t *s, size_t npages);
void psset_update_begin(psset_t *s, hpdata_t *h);
void psset_update_end(psset_t *s, hpdata_t *h);

static inline size_t
psset_ndirty(const psset_t *s)
{
    return s->ntouched - s->nactive;
}

/* Consistency check for tests. */
bool psset_consistent(const psset_t *s);

#endif /* HS_PSSET_H */
