/*
 * pa.c — shard set-up and statistics (see pa.h).
 */
#include "pa.h"

void
pa_shard_init(pa_shard_t *s, unsigned arena_ind, int64_t dirty_decay_ms)
{
    pac_init(&s->pac, arena_ind, dirty_decay_ms);
    s->pac_pai = pac_pai(&s->pac);
}

void
pa_stats(pa_shard_t *s, pa_stats_t *r)
{
    pac_t *pac = &s->pac;
    r->mapped = atomic_load_explicit(&pac->mapped, memory_order_relaxed);
    r->dirty = ecache_npages(&pac->dirty) * PAGE;
    r->retained = ecache_npages(&pac->retained) * PAGE;
    r->npurges = atomic_load_explicit(&pac->npurges, memory_order_relaxed);
    r->nmadvise = atomic_load_explicit(&pac->nmadvise, memory_order_relaxed);
    r->purged_pages =
        atomic_load_explicit(&pac->purged_pages, memory_order_relaxed);
}
