/*
 * hpdata.h — the metadata of one pageslab: a hugepage-sized (2 MiB),
 * hugepage-aligned run of HPDATA_NPAGES pages from which the hugepage-aware
 * allocator (HPA) hands out small and mid-size extents.
 *
 * Owns: which pages are active (handed out), which are touched (backed by
 * the OS: handed out at some point and not purged since), the longest run
 * of inactive pages, and the slab's hugify and purge state.  Retained pages
 * of a slab = HPDATA_NPAGES - touched pages: never touched, or purged back.
 *
 * Not locked itself: the owning shard's mutex guards every field.
 * Invariants: active ⊆ touched; nactive == popcount(active); ntouched ==
 * popcount(touched); longest_free == the longest run of clear active bits;
 * a slab in the middle of a purge (purging) is neither allocated from nor
 * hugified.
 */
#ifndef HS_HPDATA_H
#define HS_HPDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/list.h"
#include "../util/mpsc.h"
#include "../util/util.h"

#define HPDATA_NPAGES (HUGEPAGE / PAGE)
#define HPDATA_NWORDS (HPDATA_NPAGES / 64)

typedef struct hpdata_s {
    void *addr;   /* hugepage-aligned */
    uint64_t age; /* creation order: older slabs are preferred */
    uint64_t active[HPDATA_NWORDS];
    uint64_t touched[HPDATA_NWORDS];
    uint32_t nactive;
    uint32_t ntouched;
    uint32_t longest_free;
    bool hugified;             /* madvise(MADV_HUGEPAGE) done, not undone */
    bool purging;              /* a purge of its inactive touched pages runs */
    uint64_t dense_ns;         /* when it last became dense enough to hugify (0:
                                  not dense) */
    unsigned bin;              /* psset bin it sits in (psset.c) */
    hs_link_t bin_link;        /* psset bin list */
    hs_link_t hugify_link;     /* psset hugify candidates */
    hs_link_t purge_link;      /* psset purge candidates */
    hs_mpsc_node_t inbox_link; /* on its way to another shard (hpa.c) */
} hpdata_t;

/* An empty slab over [addr, addr + HUGEPAGE): nothing active or touched. */
void hpdata_init(hpdata_t *h, void *addr, uint64_t age);

/* The index of the first run of npages inactive pages, lowest address
 * first, or HPDATA_NPAGES when none. */
size_t hpdata_find(const hpdata_t *h, size_t npages);
/* Marks pages [first, first + npages) active and touched (they must be
 * inactive).  Returns their address. */
void *hpdata_reserve(hpdata_t *h, size_t first, size_t npages);
/* Marks the npages at addr inactive (they stay touched: dirty). */
void hpdata_unreserve(hpdata_t *h, void *addr, size_t npages);

/* Dirty pages: touched and inactive. */
static inline size_t
hpdata_ndirty(const hpdata_t *h)
{
    return h->ntouched - h->nactive;
}

static inline size_t
hpdata_nretained(const hpdata_t *h)
{
    return HPDATA_NPAGES - h->ntouched;
}

static inline bool
hpdata_empty(const hpdata_t *h)
{
    return h->nactive == 0;
}

/*
 * Purging the dirty pages: hpdata_purge_next walks the maximal runs of
 * touched inactive pages from *r_pos on, giving each run's first page and
 * length (false when no run is left); the caller purges them, then
 * hpdata_purge_done marks the given run untouched.  Active bits must not
 * change in between (h->purging is set by the caller for that time).
 */
bool hpdata_purge_next(const hpdata_t *h, size_t *r_pos, size_t *r_first,
                       size_t *r_npages);
void hpdata_purge_done(hpdata_t *h, size_t first, size_t npages);

/* Consistency check for tests: the invariants above. */
bool hpdata_consistent(const hpdata_t *h);

#endif /* HS_HPDATA_H */
