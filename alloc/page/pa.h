/*
 * pa.h — the page allocator dispatcher: one shard per arena, routing each
 * extent operation to the page allocator behind the PAI contract (pai.h).
 *
 * Owns: an arena's page allocators and the choice among them: the PAC
 * alone, or the hugepage-aware allocator (hpa.h) in front of it, which
 * takes small and mid-size extents and hands the rest to the PAC.
 * Thread-safe; call with no lock of rank HS_RANK_GROW or higher held.
 */
#ifndef HS_PA_H
#define HS_PA_H

#include "hpa.h"
#include "pac.h"
#include "pai.h"

typedef struct pa_shard_s {
    pac_t pac;
    bool use_hpa;
    hpa_shard_t hpa;
    _Atomic(uint64_t) hpa_next_tick_ns;
    pai_t pai; /* the PAC's, or the HPA's */
} pa_shard_t;

void pa_shard_init(pa_shard_t *s, unsigned arena_ind, int64_t dirty_decay_ms,
                   int64_t muzzy_decay_ms);
/* Puts the HPA in front of the PAC (before any use). */
void pa_shard_enable_hpa(pa_shard_t *s, const hpa_opts_t *opts);
/* Deferred work of both: the decay curves and the HPA's hugify/purge. */
size_t pa_decay(pa_shard_t *s, uint64_t now_ns);
void pa_decay_tick(pa_shard_t *s, uint64_t now_ns);
size_t pa_purge_all(pa_shard_t *s);
/* pac_release_retained on the shard's PAC (the HPA keeps its slabs). */
size_t pa_release_retained(pa_shard_t *s);

static inline edata_t *
pa_alloc(pa_shard_t *s, size_t size, size_t alignment, bool zero)
{
    return s->pai.ops->alloc(s->pai.impl, size, alignment, zero);
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
    return s->pai.ops->expand(s->pai.impl, e, new_size, zero);
}

static inline bool
pa_shrink(pa_shard_t *s, edata_t *e, size_t new_size)
{
    return s->pai.ops->shrink(s->pai.impl, e, new_size);
}

static inline void
pa_dalloc(pa_shard_t *s, edata_t *e)
{
    s->pai.ops->dalloc(s->pai.impl, e);
}

static inline uint64_t
pa_time_until_deferred_work(pa_shard_t *s, uint64_t now_ns)
{
    return s->pai.ops->time_until_deferred_work(s->pai.impl, now_ns);
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
    pa_purge_stats_t dirty_purge;             /* dirty -> muzzy or retained */
    pa_purge_stats_t muzzy_purge;             /* muzzy -> retained */
    uint64_t npurges, nmadvise, purged_pages; /* both stages */
} pa_stats_t;

void pa_stats(pa_shard_t *s, pa_stats_t *r_stats);

#endif /* HS_PA_H */
