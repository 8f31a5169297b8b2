/*
 * pa.h — the page allocator dispatcher: one shard per arena, routing each
 * extent operation to the page allocator behind the PAI contract (pai.h).
 *
 * Owns: an arena's page allocators and the choice among them.  Today every
 * extent comes from the PAC; the hugepage-aware allocator plugs in here.
 * Thread-safe; call with no lock of rank HS_RANK_GROW or higher held.
 */
#ifndef HS_PA_H
#define HS_PA_H

#include "pac.h"
#include "pai.h"

typedef struct pa_shard_s {
    pac_t pac;
    pai_t pac_pai;
} pa_shard_t;

void pa_shard_init(pa_shard_t *s, unsigned arena_ind, int64_t dirty_decay_ms,
                   int64_t muzzy_decay_ms);

static inline edata_t *
pa_alloc(pa_shard_t *s, size_t size, size_t alignment, bool zero)
{
    return s->pac_pai.ops->alloc(s->pac_pai.impl, size, alignment, zero);
}

/* A guarded extent (pac.h); NULL when none can be made. */
static inline edata_t *
pa_alloc_guarded(pa_shard_t *s, size_t usize, size_t alignment, bool zero)
{
    return pac_alloc_guarded(&s->pac, usize, alignment, zero);
}

static inline bool
pa_expand(pa_shard_t *s, edata_t *e, size_t new_size, bool zero)
{
    return s->pac_pai.ops->expand(s->pac_pai.impl, e, new_size, zero);
}

static inline bool
pa_shrink(pa_shard_t *s, edata_t *e, size_t new_size)
{
    return s->pac_pai.ops->shrink(s->pac_pai.impl, e, new_size);
}

static inline void
pa_dalloc(pa_shard_t *s, edata_t *e)
{
    s->pac_pai.ops->dalloc(s->pac_pai.impl, e);
}

static inline uint64_t
pa_time_until_deferred_work(pa_shard_t *s, uint64_t now_ns)
{
    return s->pac_pai.ops->time_until_deferred_work(s->pac_pai.impl, now_ns);
}

/* Counters of one purge stage (see pac.h). */
typedef struct pa_purge_stats_s {
    uint64_t npurge, nmadvise, purged;
} pa_purge_stats_t;

/* Page counters of the shard. */
typedef struct pa_stats_s {
    size_t mapped;   /* bytes reserved from the OS */
    size_t dirty;    /* bytes free and resident */
    size_t muzzy;    /* bytes free, purged lazily (resident until reclaimed) */
    size_t retained; /* bytes free and purged: address space only */
    pa_purge_stats_t dirty_purge; /* dirty -> muzzy or retained */
    pa_purge_stats_t muzzy_purge; /* muzzy -> retained */
    uint64_t npurges, nmadvise, purged_pages; /* both stages */
} pa_stats_t;

void pa_stats(pa_shard_t *s, pa_stats_t *r_stats);

#endif /* HS_PA_H */
