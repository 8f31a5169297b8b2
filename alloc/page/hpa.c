/*
 * hpa.c — the hugepage-aware page allocator (see hpa.h).
 */
#include "hpa.h"

#include <string.h>

#include "../extent/base.h"
#include "../extent/emap.h"
#include "../os/pages.h"

void
hpa_opts_default(hpa_opts_t *r)
{
    r->slab_max_alloc = (size_t)64 << 10;
    r->hugify_delay_ms = 10000;
    r->hugify_threshold = HPDATA_NPAGES * 95 / 100;
    r->dirty_mult_pct = 25;
    r->min_purge_interval_ms = 5000;
}

/* Every shard by arena index, and the one that last mapped a new slab:
 * where surplus empty slabs go. */
#define HPA_SHARDS_MAX 1024
static _Atomic(hpa_shard_t *) shards[HPA_SHARDS_MAX];
static _Atomic(unsigned) last_grower = UINT32_MAX;

void
hpa_shard_init(hpa_shard_t *s, unsigned arena_ind, pac_t *pac,
               const hpa_opts_t *opts)
{
    hs_mutex_init(&s->mtx, HS_RANK_HPA);
    s->arena_ind = arena_ind;
    s->opts = *opts;
    if (s->opts.hugify_threshold == 0 ||
        s->opts.hugify_threshold > HPDATA_NPAGES)
        s->opts.hugify_threshold = HPDATA_NPAGES;
    s->pac = pac;
    psset_init(&s->psset, s->opts.hugify_threshold);
    s->next_age = 0;
    s->last_purge_ns = 0;
    memset(&s->counters, 0, sizeof(s->counters));
    hs_mpsc_init(&s->remote);
    atomic_init(&s->nremote, 0);
    hs_mpsc_init(&s->inbox);
    if (arena_ind < HPA_SHARDS_MAX)
        atomic_store_explicit(&shards[arena_ind], s, memory_order_release);
}

/* After h changed: starts or stops its dense clock.  mtx held, h out of
 * the set (between update_begin and update_end). */
static void
note_density(hpa_shard_t *s, hpdata_t *h, uint64_t now_ns)
{
    if (h->nactive >= s->opts.hugify_threshold) {
        if (h->dense_ns == 0 && !h->hugified) {
            h->dense_ns = now_ns == 0 ? 1 : now_ns;
            /* New deferred work: a background thread asleep with nothing
             * to do must wake for it. */
            pac_tell_deferred(now_ns + s->opts.hugify_delay_ms * 1000000, 0);
        }
    } else {
        h->dense_ns = 0;
    }
}

/* Gives back npages at addr of h.  mtx held. */
static void
unreserve(hpa_shard_t *s, hpdata_t *h, void *addr, size_t npages,
          uint64_t now_ns)
{
    psset_update_begin(&s->psset, h);
    hpdata_unreserve(h, addr, npages);
    note_density(s, h, now_ns);
    psset_update_end(&s->psset, h);
}

/* Takes the empty slabs other shards sent.  mtx held. */
static void
drain_inbox(hpa_shard_t *s)
{
    for (hs_mpsc_node_t *n = hs_mpsc_pop_all(&s->inbox); n != NULL;) {
        hpdata_t *h = (hpdata_t *)((char *)n - offsetof(hpdata_t, inbox_link));
        n = n->next;
        psset_insert(&s->psset, h);
        s->counters.nslabs_received++;
        s->counters.metadata += sizeof(hpdata_t);
    }
}

/* Sends empty purged slabs past HPA_EMPTY_KEEP to the shard that last
 * grew (not this one).  mtx held. */
static void
send_surplus(hpa_shard_t *s)
{
    unsigned to = atomic_load_explicit(&last_grower, memory_order_relaxed);
    hpa_shard_t *dst =
        to < HPA_SHARDS_MAX
            ? atomic_load_explicit(&shards[to], memory_order_acquire)
            : NULL;
    if (dst == NULL || dst == s || s->psset.nempty <= HPA_EMPTY_KEEP)
        return;
    hs_mpsc_batch_t batch;
    hs_mpsc_batch_init(&batch);
    size_t extra = s->psset.nempty - HPA_EMPTY_KEEP;
    /* Empty slabs sit in the last bin (their run is the whole slab). */
    hs_link_t *bin = &s->psset.bins[HPDATA_NPAGES];
    for (hs_link_t *l = bin->next; l != bin && extra > 0;) {
        hpdata_t *h = (hpdata_t *)((char *)l - offsetof(hpdata_t, bin_link));
        l = l->next;
        if (h->purging || h->ntouched != 0)
            continue; /* only purged ones: nothing resident moves */
        psset_remove(&s->psset, h);
        h->hugified = false;
        h->dense_ns = 0;
        hs_mpsc_batch_add(&batch, &h->inbox_link);
        s->counters.nslabs_sent++;
        s->counters.metadata -= sizeof(hpdata_t);
        extra--;
    }
    hs_mpsc_push_batch(&dst->inbox, &batch);
}

/* Takes the frees queued while others held mtx.  mtx held. */
static void
drain_remote(hpa_shard_t *s)
{
    hs_mpsc_node_t *n = hs_mpsc_pop_all(&s->remote);
    if (n == NULL)
        return;
    uint64_t now = pac_now_ns();
    while (n != NULL) {
        edata_t *e = (edata_t *)((char *)n - offsetof(edata_t, remote));
        n = n->next;
        unreserve(s, e->ps, e->addr, e->size / PAGE, now);
        edata_cache_put(e);
    }
}

/* Takes mtx and the queued frees. */
static void
lock_shard(hpa_shard_t *s)
{
    hs_mutex_lock(&s->mtx);
    drain_inbox(s);
    drain_remote(s);
}

/* A new, empty pageslab in the set; NULL on OOM.  mtx held. */
static hpdata_t *
slab_new(hpa_shard_t *s)
{
    hpdata_t *h = base_alloc(sizeof(hpdata_t), HS_CACHELINE);
    if (h == NULL)
        return NULL;
    void *addr = pages_map(HUGEPAGE, HUGEPAGE);
    if (addr == NULL)
        return NULL; /* (h stays in base memory: a few hundred bytes) */
    hpdata_init(h, addr, s->next_age++);
    s->counters.metadata += sizeof(hpdata_t);
    s->counters.nslabs_mapped++;
    atomic_store_explicit(&last_grower, s->arena_ind, memory_order_relaxed);
    psset_insert(&s->psset, h);
    return h;
}

static edata_t *
hpa_alloc_impl(void *impl, size_t size, size_t alignment, bool zero)
{
    hpa_shard_t *s = impl;
    if (size > s->opts.slab_max_alloc || alignment > PAGE)
        return pac_pai(s->pac).ops->alloc(s->pac, size, alignment, zero);
    edata_t *e = edata_cache_get();
    if (e == NULL)
        return NULL;
    size_t npages = size / PAGE;
    uint64_t now = pac_now_ns();
    lock_shard(s);
    hpdata_t *h = psset_pick(&s->psset, npages);
    if (h == NULL)
        h = slab_new(s);
    if (h == NULL) {
        hs_mutex_unlock(&s->mtx);
        edata_cache_put(e);
        return NULL;
    }
    psset_update_begin(&s->psset, h);
    void *addr = hpdata_reserve(h, hpdata_find(h, npages), npages);
    note_density(s, h, now);
    psset_update_end(&s->psset, h);
    hs_mutex_unlock(&s->mtx);
    edata_init(e, s->arena_ind, addr, size, EXTENT_ACTIVE, false, false);
    e->ps = h;
    if (!emap_register_boundary(e)) {
        hs_mutex_lock(&s->mtx);
        psset_update_begin(&s->psset, h);
        hpdata_unreserve(h, addr, npages);
        note_density(s, h, now);
        psset_update_end(&s->psset, h);
        hs_mutex_unlock(&s->mtx);
        edata_cache_put(e);
        return NULL;
    }
    if (zero)
        memset(addr, 0, size);
    return e;
}

static bool
hpa_expand_impl(void *impl, edata_t *e, size_t new_size, bool zero)
{
    hpa_shard_t *s = impl;
    if (e->ps != NULL)
        return false; /* slab extents move instead */
    return pac_pai(s->pac).ops->expand(s->pac, e, new_size, zero);
}

static bool
hpa_shrink_impl(void *impl, edata_t *e, size_t new_size)
{
    hpa_shard_t *s = impl;
    if (e->ps != NULL)
        return false;
    return pac_pai(s->pac).ops->shrink(s->pac, e, new_size);
}

static void
hpa_dalloc_impl(void *impl, edata_t *e)
{
    hpa_shard_t *s = impl;
    hpdata_t *h = e->ps;
    if (h == NULL) {
        pac_pai(s->pac).ops->dalloc(s->pac, e);
        return;
    }
    emap_deregister_boundary(e);
    if (!hs_mutex_trylock(&s->mtx)) {
        /* Someone is in the shard: hand the free over, do not wait. */
        atomic_fetch_add_explicit(&s->nremote, 1, memory_order_relaxed);
        hs_mpsc_push(&s->remote, &e->remote);
        if (hs_mutex_trylock(&s->mtx)) {
            /* It left meanwhile: take the queue (ours included) now. */
            drain_remote(s);
            hs_mutex_unlock(&s->mtx);
        }
        return;
    }
    drain_remote(s);
    unreserve(s, h, e->addr, e->size / PAGE, pac_now_ns());
    hs_mutex_unlock(&s->mtx);
    edata_cache_put(e);
}

/* ---- deferred work ---- */

static hpdata_t *
of_hugify_link(hs_link_t *l)
{
    return (hpdata_t *)((char *)l - offsetof(hpdata_t, hugify_link));
}

static hpdata_t *
of_purge_link(hs_link_t *l)
{
    return (hpdata_t *)((char *)l - offsetof(hpdata_t, purge_link));
}

/* Dirty pages allowed now.  mtx held. */
static size_t
dirty_allowed(const hpa_shard_t *s)
{
    return s->psset.nactive * s->opts.dirty_mult_pct / 100;
}

/* The slab whose dirty pages to purge next: an empty one first, else the
 * one with the most dirty pages (a bounded scan); NULL if none.  mtx held. */
static hpdata_t *
purge_pick(hpa_shard_t *s)
{
    hpdata_t *best = NULL;
    unsigned budget = 64;
    for (hs_link_t *l = s->psset.purge.next;
         l != &s->psset.purge && budget-- > 0; l = l->next) {
        hpdata_t *h = of_purge_link(l);
        if (h->purging)
            continue;
        if (hpdata_empty(h))
            return h;
        if (best == NULL || hpdata_ndirty(h) > hpdata_ndirty(best))
            best = h;
    }
    return best;
}

enum { RUNS_MAX = HPDATA_NPAGES / 2 };

/* Purges every dirty page of h; returns how many.  Called with mtx held;
 * releases it around the madvise calls. */
static size_t
purge_slab(hpa_shard_t *s, hpdata_t *h)
{
    struct {
        uint16_t first, n;
    } runs[RUNS_MAX];
    size_t nruns = 0, pos = 0, first, n;
    psset_update_begin(&s->psset, h);
    h->purging = true;
    bool dehugify = h->hugified;
    h->hugified = false;
    while (nruns < RUNS_MAX && hpdata_purge_next(h, &pos, &first, &n)) {
        runs[nruns].first = (uint16_t)first;
        runs[nruns++].n = (uint16_t)n;
    }
    psset_update_end(&s->psset, h);
    hs_mutex_unlock(&s->mtx);
    /* A hugepage is split before part of it goes back, so the kernel does
     * not keep (or re-form) a huge page around what is left. */
    if (dehugify)
        pages_dehugify(h->addr, HUGEPAGE);
    size_t purged = 0;
    for (size_t i = 0; i < nruns; i++)
        if (pages_purge_forced((char *)h->addr + (size_t)runs[i].first * PAGE,
                               (size_t)runs[i].n * PAGE))
            purged += runs[i].n;
        else
            runs[i].n = 0;
    hs_mutex_lock(&s->mtx);
    psset_update_begin(&s->psset, h);
    for (size_t i = 0; i < nruns; i++)
        if (runs[i].n != 0)
            hpdata_purge_done(h, runs[i].first, runs[i].n);
    h->purging = false;
    h->dense_ns = 0; /* purged: its dense clock starts over */
    note_density(s, h, pac_now_ns());
    psset_update_end(&s->psset, h);
    s->counters.ndehugifies += dehugify;
    s->counters.npurged += purged;
    return purged;
}

/* Hugifies the candidates dense for long enough.  mtx held (released
 * around each madvise). */
static void
hugify_due(hpa_shard_t *s, uint64_t now_ns)
{
    uint64_t delay = s->opts.hugify_delay_ms * 1000000;
    for (int guard = 0; guard < 64; guard++) {
        hpdata_t *due = NULL;
        for (hs_link_t *l = s->psset.hugify.next; l != &s->psset.hugify;
             l = l->next) {
            hpdata_t *h = of_hugify_link(l);
            if (!h->purging && h->dense_ns != 0 &&
                h->dense_ns + delay <= now_ns) {
                due = h;
                break;
            }
        }
        if (due == NULL)
            return;
        psset_update_begin(&s->psset, due);
        due->hugified = true; /* off the candidate list before unlocking */
        psset_update_end(&s->psset, due);
        hs_mutex_unlock(&s->mtx);
        bool ok = pages_hugify(due->addr, HUGEPAGE, true);
        hs_mutex_lock(&s->mtx);
        if (ok) {
            s->counters.nhugifies++;
        } else {
            psset_update_begin(&s->psset, due);
            due->hugified = false;
            due->dense_ns = 0;
            psset_update_end(&s->psset, due);
        }
    }
}

size_t
hpa_deferred(hpa_shard_t *s, uint64_t now_ns)
{
    lock_shard(s);
    hugify_due(s, now_ns);
    size_t purged = 0;
    uint64_t interval = s->opts.min_purge_interval_ms * 1000000;
    if (psset_ndirty(&s->psset) > dirty_allowed(s) &&
        now_ns >= s->last_purge_ns + interval) {
        s->last_purge_ns = now_ns;
        s->counters.npurge_passes++;
        hpdata_t *h;
        while (psset_ndirty(&s->psset) > dirty_allowed(s) &&
               (h = purge_pick(s)) != NULL)
            purged += purge_slab(s, h);
    }
    send_surplus(s);
    hs_mutex_unlock(&s->mtx);
    return purged;
}

size_t
hpa_purge_all(hpa_shard_t *s)
{
    size_t purged = 0;
    lock_shard(s);
    hpdata_t *h;
    while ((h = purge_pick(s)) != NULL)
        purged += purge_slab(s, h);
    s->last_purge_ns = pac_now_ns();
    send_surplus(s);
    hs_mutex_unlock(&s->mtx);
    return purged;
}

static uint64_t
hpa_time_until_deferred_work(void *impl, uint64_t now_ns)
{
    hpa_shard_t *s = impl;
    uint64_t wait =
        pac_pai(s->pac).ops->time_until_deferred_work(s->pac, now_ns);
    uint64_t delay = s->opts.hugify_delay_ms * 1000000;
    hs_mutex_lock(&s->mtx);
    for (hs_link_t *l = s->psset.hugify.next; l != &s->psset.hugify;
         l = l->next) {
        hpdata_t *h = of_hugify_link(l);
        if (h->dense_ns == 0 || h->purging)
            continue;
        uint64_t due = h->dense_ns + delay;
        uint64_t w = due > now_ns ? due - now_ns : 0;
        if (w < wait)
            wait = w;
    }
    if (psset_ndirty(&s->psset) > dirty_allowed(s)) {
        uint64_t due =
            s->last_purge_ns + s->opts.min_purge_interval_ms * 1000000;
        uint64_t w = due > now_ns ? due - now_ns : 0;
        if (w < wait)
            wait = w;
    }
    hs_mutex_unlock(&s->mtx);
    return wait;
}

static const pai_ops_t hpa_ops = {
    .alloc = hpa_alloc_impl,
    .expand = hpa_expand_impl,
    .shrink = hpa_shrink_impl,
    .dalloc = hpa_dalloc_impl,
    .time_until_deferred_work = hpa_time_until_deferred_work,
};

pai_t
hpa_pai(hpa_shard_t *s)
{
    return (pai_t){.ops = &hpa_ops, .impl = s};
}

void
hpa_stats(hpa_shard_t *s, hpa_stats_t *r)
{
    lock_shard(s);
    *r = s->counters;
    r->nremote = atomic_load_explicit(&s->nremote, memory_order_relaxed);
    r->nslabs = s->psset.nslabs;
    r->nempty = s->psset.nempty;
    r->nfull = s->psset.nfull;
    r->nhugified = s->psset.nhugified;
    r->nactive = s->psset.nactive;
    r->ndirty = psset_ndirty(&s->psset);
    r->nretained = s->psset.nslabs * HPDATA_NPAGES - s->psset.ntouched;
    hs_mutex_unlock(&s->mtx);
}
