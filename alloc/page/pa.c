/*
 * pa.c — shard set-up and statistics (see pa.h).
 */
#include "pa.h"

void
pa_shard_init(pa_shard_t *s, unsigned arena_ind, int64_t dirty_decay_ms,
              int64_t muzzy_decay_ms)
{
    pac_init(&s->pac, arena_ind, dirty_decay_ms, muzzy_decay_ms);
    s->use_hpa = false;
    atomic_init(&s->hpa_next_tick_ns, 0);
    s->pai = pac_pai(&s->pac);
}

void
pa_shard_enable_hpa(pa_shard_t *s, const hpa_opts_t *opts)
{
    hpa_shard_init(&s->hpa, s->pac.arena_ind, &s->pac, opts);
    s->use_hpa = true;
    s->pai = hpa_pai(&s->hpa);
}

size_t
pa_decay(pa_shard_t *s, uint64_t now_ns)
{
    size_t n = pac_decay(&s->pac, now_ns);
    if (s->use_hpa)
        n += hpa_deferred(&s->hpa, now_ns);
    return n;
}

void
pa_decay_tick(pa_shard_t *s, uint64_t now_ns)
{
    pac_decay_tick(&s->pac, now_ns);
    if (!s->use_hpa || now_ns < atomic_load_explicit(&s->hpa_next_tick_ns,
                                                     memory_order_relaxed))
        return;
    /* The HPA's work is due in seconds (hugify delay, purge interval):
     * a look every 100 ms is plenty. */
    atomic_store_explicit(&s->hpa_next_tick_ns, now_ns + 100000000,
                          memory_order_relaxed);
    hpa_deferred(&s->hpa, now_ns);
}

size_t
pa_purge_all(pa_shard_t *s)
{
    size_t n = pac_purge_all(&s->pac);
    if (s->use_hpa)
        n += hpa_purge_all(&s->hpa);
    return n;
}

size_t
pa_release_retained(pa_shard_t *s)
{
    return pac_release_retained(&s->pac);
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
