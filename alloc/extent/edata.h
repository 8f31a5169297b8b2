/*
 * edata.h — extent metadata: the descriptor of one run of pages.
 *
 * Owns: edata_t, the extent states, and the edata cache that recycles
 * descriptors.  An extent is either active (a slab of small regions, or one
 * large allocation) or free in exactly one eset of its arena's PAC, in the
 * state of that eset.
 *
 * Descriptors live in base memory, apart from user data, so a heap overflow
 * cannot rewrite them.  Fields are guarded by whichever lock owns the
 * extent at the time: the bin lock for a slab's region fields, the ecache
 * lock while the extent is free, the owner thread while it is being split,
 * merged or purged outside any set.
 *
 * Invariants: addr and size are multiples of PAGE; for a slab,
 *   nfree == bitmap_count(&bitmap) and nfree <= bin_infos[szind].nregs.
 */
#ifndef HS_EDATA_H
#define HS_EDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/bitmap.h"
#include "../util/list.h"
#include "../util/mpsc.h"
#include "../util/mutex.h"
#include "../util/util.h"

typedef enum {
    EXTENT_ACTIVE = 0,   /* in use (or held privately by one thread) */
    EXTENT_DIRTY = 1,    /* free, pages possibly resident */
    EXTENT_MUZZY = 2,    /* free, lazily purged (MADV_FREE) */
    EXTENT_RETAINED = 3, /* free, purged: address space only */
} extent_state_t;

/* szind of an extent that has no size class (free extents). */
#define SZIND_NONE 0xffu

typedef struct edata_s edata_t;
struct edata_s {
    void *addr;
    size_t size;
    uint32_t arena_ind;
    uint16_t szind; /* size class when active, else SZIND_NONE */
    uint8_t state;  /* extent_state_t */
    bool slab;
    bool zeroed;        /* every byte reads as zero */
    bool head;          /* first extent of an OS mapping */
    bool guarded;       /* its last page is a guard page (see pac.h) */
    bool manual;        /* of an arena made by arenas.create: its blocks
                           never enter thread caches */
    uint32_t guard_off; /* guarded and active: the block's offset */
    uint32_t nfree;     /* slab: free regions; guarded by the bin lock */
    uint32_t junk_life; /* junk:free: which life of its memory (check.h) */
    uint64_t dirty_ns;  /* when it became dirty (decay order) */
    void *prof_rec;     /* active sampled allocation: the profiler's record */
    const void *prof_stack; /* the last sampled allocation's stack handle
                             * (prof_hooks.h), kept after its free */
    struct hpdata_s *ps;    /* HPA: the pageslab it was carved from (NULL:
                               from the PAC) */
    hs_link_t bin_link;     /* bin's nonfull slabs, or arena's large list */
    hs_link_t eset_link;    /* eset size bucket, or the edata cache */
    hs_link_t lru_link;     /* eset age order */
    hs_link_t active_link;  /* a manual arena's active extents */
    hs_mpsc_node_t remote;  /* HPA: queued as a free for its shard */
    bitmap_t bitmap;        /* slab: set bit = free region */
} HS_ALIGNED_CL;

static inline edata_t *
edata_of_bin_link(hs_link_t *l)
{
    return (edata_t *)((char *)l - offsetof(edata_t, bin_link));
}

static inline edata_t *
edata_of_eset_link(hs_link_t *l)
{
    return (edata_t *)((char *)l - offsetof(edata_t, eset_link));
}

static inline edata_t *
edata_of_lru_link(hs_link_t *l)
{
    return (edata_t *)((char *)l - offsetof(edata_t, lru_link));
}

static inline uintptr_t
edata_base(const edata_t *e)
{
    return (uintptr_t)e->addr;
}

static inline uintptr_t
edata_past(const edata_t *e)
{
    return (uintptr_t)e->addr + e->size;
}

/* Fills in a fresh descriptor (links unlinked, szind none). */
void edata_init(edata_t *e, unsigned arena_ind, void *addr, size_t size,
                extent_state_t state, bool zeroed, bool head);

/* An edata cache: an unbounded free list over one base's memory.  The
 * default one (edata_cache_get/put) serves every arena but those whose
 * metadata comes from their hooks, which have their own. */
struct base_s;
typedef struct edata_cache_s {
    hs_mutex_t mtx;
    hs_link_t free; /* guarded by mtx */
    struct base_s *base;
    size_t in_use;      /* guarded by mtx */
    size_t cached;      /* guarded by mtx */
    uint64_t nrecycled; /* guarded by mtx */
} edata_cache_t;

void edata_cache_init(edata_cache_t *c, struct base_s *base);
edata_t *edata_cache_get_from(edata_cache_t *c); /* NULL on OOM */
void edata_cache_put_to(edata_cache_t *c, edata_t *e);
/* Forgets every descriptor (their base was released). */
void edata_cache_forget(edata_cache_t *c);
void edata_cache_stats_of(edata_cache_t *c, size_t *r_in_use, size_t *r_cached,
                          uint64_t *r_nrecycled);

/* The default cache. */
extern edata_cache_t edata_cache_default;
void edata_cache_boot(void);
edata_t *edata_cache_get(void); /* NULL on OOM */
void edata_cache_put(edata_t *e);
/* Descriptors in use and recycled (the cache's own counters). */
void edata_cache_stats(size_t *r_in_use, size_t *r_cached,
                       uint64_t *r_nrecycled);

#endif /* HS_EDATA_H */
