/*
 * emap.h — the extent map: what the rtree says about each page.
 *
 * Owns: the meaning of an rtree entry.  An entry packs
 *   bits 0      slab bit
 *   bits 1      head bit (first extent of an OS mapping)
 *   bits 2..4   extent state (extent_state_t)
 *   bit 5       not for the free fast path: on a slab, the arena was made
 *               by arenas.create (manual: never in thread caches), or the
 *               canary or junk checks are on; on any other extent, it is
 *               guarded (ends in a guard page; never coalesced)
 *   bits 6..47  edata pointer (edata_t is cache-line aligned)
 *   bits 48..55 size class index (SZIND_NONE for free extents)
 *   bits 56..59 zero
 *   bits 60..63 slab pages: the page's index within its slab (a slab has
 *               at most 16 pages, sz.c), so that bits 48..63 read as
 *               pidx << 12 | szind and free() finds a region's offset
 *               with a shift, two masks and an or, without reading the
 *               descriptor (0 for extents that are not slabs)
 * Every extent, active or free, has its first and last page recorded (so a
 * neighbour can be found from either side); a slab has every page recorded
 * (so free() finds it from any region).  An unrecorded page reads 0.
 *
 * Who may write: the thread that owns the extent at that moment — under the
 * ecache lock while it enters or leaves a free set, privately while active.
 * Coalescing reads a neighbour's entry under the ecache lock and trusts it
 * only if the state is that ecache's state and the arena matches: both can
 * change only under that same lock.
 */
#ifndef HS_EMAP_H
#define HS_EMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "edata.h"
#include "rtree.h"

typedef uint64_t emap_entry_t;

/* Set at boot when every slab is to be marked not for the free fast path
 * (bit 5), so that every free takes free_slow (the canary and junk
 * checks, check.h); thread caches are still used. */
extern bool emap_slabs_uncached;

#define EMAP_PTR_MASK (((uint64_t)1 << 48) - 1 - 63)

static inline edata_t *
emap_entry_edata(emap_entry_t e)
{
    return (edata_t *)(uintptr_t)(e & EMAP_PTR_MASK);
}

static inline unsigned
emap_entry_szind(emap_entry_t e)
{
    return (unsigned)((e >> 48) & 0xff);
}

static inline bool
emap_entry_slab(emap_entry_t e)
{
    return e & 1;
}

static inline bool
emap_entry_head(emap_entry_t e)
{
    return (e >> 1) & 1;
}

static inline bool
emap_entry_guarded(emap_entry_t e)
{
    return (e & 0x21) == 0x20;
}

/* A slab region that may go to a thread cache (not a manual arena's). */
static inline bool
emap_entry_cacheable_slab(emap_entry_t e)
{
    return (e & 0x21) == 0x01;
}

static inline extent_state_t
emap_entry_state(emap_entry_t e)
{
    return (extent_state_t)((e >> 2) & 7);
}

/* The page's index within its slab (0 outside slabs). */
static inline unsigned
emap_entry_slab_page(emap_entry_t e)
{
    return (unsigned)(e >> 60);
}

/* The entry of page pidx of e (pidx is recorded for slabs only). */
static inline emap_entry_t
emap_entry_pack_page(const edata_t *e, size_t pidx)
{
    hs_assert(!e->slab || pidx < 16);
    return (uint64_t)(uintptr_t)e | ((uint64_t)(e->slab ? pidx : 0) << 60) |
           ((uint64_t)(e->szind & 0xff) << 48) |
           ((uint64_t)(e->slab ? e->manual || emap_slabs_uncached : e->guarded)
            << 5) |
           ((uint64_t)e->state << 2) | ((uint64_t)e->head << 1) |
           (uint64_t)e->slab;
}

/* The entry of e's first page. */
static inline emap_entry_t
emap_entry_pack(const edata_t *e)
{
    return emap_entry_pack_page(e, 0);
}

/* Byte offset of ptr within the slab of slab entry ent. */
static inline size_t
emap_slab_offset(emap_entry_t ent, const void *ptr)
{
    return ((size_t)(ent >> 48) & ((size_t)0xf << LG_PAGE)) |
           ((uintptr_t)ptr & PAGE_MASK);
}

static inline emap_entry_t
emap_lookup(const void *ptr)
{
    return rtree_read((uintptr_t)ptr);
}

/* Records the first and last page.  False on OOM (nothing recorded). */
bool emap_register_boundary(edata_t *e);
/* Records the pages strictly between first and last (slabs). */
bool emap_register_interior(edata_t *e);
void emap_deregister_boundary(edata_t *e);
void emap_deregister_interior(edata_t *e);
/* Rewrites the boundary entries after e's state, szind or slab changed. */
void emap_update(edata_t *e);

/* The entries of the pages just before and just after e (0 if none). */
static inline emap_entry_t
emap_prev_entry(const edata_t *e)
{
    return edata_base(e) >= PAGE ? rtree_read(edata_base(e) - PAGE) : 0;
}

static inline emap_entry_t
emap_next_entry(const edata_t *e)
{
    return rtree_read(edata_past(e));
}

#endif /* HS_EMAP_H */
