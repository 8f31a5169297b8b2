/*
 * pa.c — shard set-up and statistics (see pa.h).
 */
#include "pa.h"

void
pa_shard_init(pa_shard_t *s, unsigned arena_ind, int64_t dirty_decay_ms,
              int64_t muzzy_decay_ms)
{
    pac_init(&s->pac, arena_ind, dirty_decay_ms, muzzy_decay_ms);
    s->pac_pai = pac_pai(&s->pac);
}

static void
stage_stats(const pac_purge_stats_t *st, pa_purge_stats_t *r)
{
    r->npurge = atomic_load_explicit(&st->npurge, memory_order_relaxed);
    r->nmadvise = atomic_load_explicit(&st->nmadvise, memory_order_relaxed);
    r->purged = atomic_load_explicit(&st->purged, memory_order_relaxed);
}

void
pa_stats(pa_shard_t *s, pa_stats_t *r)
{
    pac_t *pac = &s->pac;
    r->mapped = atomic_load_explicit(&pac->mapped, memory_order_relaxed);
    r->dirty = ecache_npages(&pac->dirty) * PAGE;
    r->muzzy = ecache_npages(&pac->muzzy) * PAGE;
    r->retained = ecache_npages(&pac->retained) * PAGE;
    stage_stats(&pac->dirty_stats, &r->dirty_purge);
    stage_stats(&pac->muzzy_stats, &r->muzzy_purge);
    r->npurges = r->dirty_purge.npurge + r->muzzy_purge.npurge;
    r->nmadvise = r->dirty_purge.nmadvise + r->muzzy_purge.nmadvise;
    r->purged_pages = r->dirty_purge.purged + r->muzzy_purge.purged;
}
