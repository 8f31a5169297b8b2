/*
 * pac.c — the classic page allocator (see pac.h).
 *
 * Growth reserves hugepage-aligned chunks, starting at 2 MiB and doubling
 * up to 64 MiB, so a small program reserves little and a large one makes
 * few mmap calls; a chunk enters the retained set and is carved from there.
 */
#include "pac.h"

#include <string.h>
#include <time.h>

#include "../extent/emap.h"
#include "../os/pages.h"

#define PAC_GROW_MIN HUGEPAGE
#define PAC_GROW_MAX ((size_t)64 << 20)

uint64_t
pac_now_ns(void)
{
    /* The coarse clock (a few ms resolution) costs a few ns from the vDSO
     * and is ample for decay measured in seconds. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The callback told when new deferred work appears (the background
 * thread's), or NULL. */
static void (*_Atomic deferred_cb)(uint64_t due_ns, size_t npages);

void
pac_set_deferred_cb(void (*cb)(uint64_t due_ns, size_t npages))
{
    atomic_store_explicit(&deferred_cb, cb, memory_order_release);
}

void
pac_tell_deferred(uint64_t due_ns, size_t npages)
{
    void (*cb)(uint64_t, size_t) =
        atomic_load_explicit(&deferred_cb, memory_order_acquire);
    if (cb != NULL)
        cb(due_ns, npages);
}

/* npages entered a set whose curve has ms milliseconds. */
static void
tell_deferred(uint64_t now_ns, int64_t ms, size_t npages)
{
    void (*cb)(uint64_t, size_t) =
        atomic_load_explicit(&deferred_cb, memory_order_acquire);
    if (cb != NULL && ms > 0)
        cb(now_ns + (uint64_t)ms * 1000000, npages);
}

static void
purge_stats_init(pac_purge_stats_t *st)
{
    atomic_init(&st->npurge, 0);
    atomic_init(&st->nmadvise, 0);
    atomic_init(&st->purged, 0);
}

void
pac_init(pac_t *pac, unsigned arena_ind, int64_t dirty_decay_ms,
         int64_t muzzy_decay_ms)
{
    pac->arena_ind = arena_ind;
    pac->ctx.eh = (ehooks_t){.hooks = NULL, .arena_ind = arena_ind};
    pac->ctx.edc = &edata_cache_default;
    pac->ctx.manual = false;
    ecache_init(&pac->dirty, EXTENT_DIRTY, arena_ind, &pac->ctx);
    ecache_init(&pac->muzzy, EXTENT_MUZZY, arena_ind, &pac->ctx);
    ecache_init(&pac->retained, EXTENT_RETAINED, arena_ind, &pac->ctx);
    hs_mutex_init(&pac->active_mtx, HS_RANK_EXTENTS);
    hs_list_init(&pac->active);
    hs_mutex_init(&pac->grow_mtx, HS_RANK_GROW);
    hs_mutex_init(&pac->guard_mtx, HS_RANK_GUARD);
    pac->guard_region = NULL;
    atomic_init(&pac->nguarded, 0);
    hs_mutex_init(&pac->decay_mtx, HS_RANK_DECAY);
    pac->grow_next = PAC_GROW_MIN;
    uint64_t now = pac_now_ns();
    decay_init(&pac->dirty_decay, dirty_decay_ms, now, 0);
    decay_init(&pac->muzzy_decay, muzzy_decay_ms, now, 0);
    atomic_init(&pac->dirty_decay_ms, dirty_decay_ms);
    atomic_init(&pac->muzzy_decay_ms, muzzy_decay_ms);
    atomic_init(&pac->next_tick_ns, 0);
    atomic_init(&pac->mapped, 0);
    purge_stats_init(&pac->dirty_stats);
    purge_stats_init(&pac->muzzy_stats);
}

/* Reserves a new chunk, aligned to alignment (and to a hugepage), and
 * carves size bytes from its start; the rest enters the retained set.
 * Hooks that cannot split are asked for size bytes exactly: a larger
 * chunk could never be carved.  NULL on OOM.  grow_mtx held. */
static edata_t *
pac_grow(pac_t *pac, size_t size, size_t alignment)
{
    bool own = ehooks_are_default(&pac->ctx.eh);
    bool carve = ehooks_can_split(&pac->ctx.eh);
    size_t chunk = carve ? pac->grow_next : size;
    if (chunk < size)
        chunk = align_up(size, own ? HUGEPAGE : PAGE);
    if (chunk < size)
        return NULL;
    /* Hugepage-aligned chunks from the OS; from hooks, only the alignment
     * asked for.  When a larger chunk fails (a tight RLIMIT_AS, or hooks
     * short of memory), a chunk of just the size, aligned only as asked. */
    size_t align = own && alignment < HUGEPAGE ? HUGEPAGE
                   : alignment < PAGE          ? PAGE
                                               : alignment;
    bool zeroed;
    void *addr = ehooks_alloc(&pac->ctx.eh, chunk, align, &zeroed);
    if (addr == NULL && (chunk > size || align > alignment)) {
        chunk = size;
        align = alignment < PAGE ? PAGE : alignment;
        addr = ehooks_alloc(&pac->ctx.eh, chunk, align, &zeroed);
        if (addr != NULL)
            pac->grow_next = PAC_GROW_MIN;
    }
    if (addr == NULL)
        return NULL;
    /* From here, a failure gives the chunk back: no address space leaks. */
    edata_t *e = edata_cache_get_from(pac->ctx.edc);
    if (e == NULL) {
        ehooks_release(&pac->ctx.eh, addr, chunk);
        return NULL;
    }
    edata_init(e, pac->arena_ind, addr, chunk, EXTENT_ACTIVE, zeroed, true);
    e->manual = pac->ctx.manual;
    if (!emap_register_boundary(e)) {
        edata_cache_put_to(pac->ctx.edc, e);
        ehooks_release(&pac->ctx.eh, addr, chunk);
        return NULL;
    }
    if (chunk > size) {
        edata_t *rest = extent_split(&pac->ctx, e, size);
        if (rest == NULL) {
            emap_deregister_boundary(e);
            edata_cache_put_to(pac->ctx.edc, e);
            ehooks_release(&pac->ctx.eh, addr, chunk);
            /* The split hook refused (from now on chunks come at the size
             * needed): once more, at that size. */
            return carve && !ehooks_can_split(&pac->ctx.eh)
                       ? pac_grow(pac, size, alignment)
                       : NULL;
        }
        ecache_dalloc(&pac->retained, rest, 0);
    }
    atomic_fetch_add_explicit(&pac->mapped, chunk, memory_order_relaxed);
    if (carve && pac->grow_next < PAC_GROW_MAX)
        pac->grow_next *= 2;
    return e;
}

static edata_t *
pac_alloc_impl(void *impl, size_t size, size_t alignment, bool zero)
{
    pac_t *pac = impl;
    edata_t *e = ecache_alloc(&pac->dirty, size, alignment);
    if (e == NULL)
        e = ecache_alloc(&pac->muzzy, size, alignment);
    if (e == NULL)
        e = ecache_alloc(&pac->retained, size, alignment);
    if (e == NULL) {
        hs_mutex_lock(&pac->grow_mtx);
        /* Another thread may have grown while this one waited. */
        e = ecache_alloc(&pac->retained, size, alignment);
        if (e == NULL)
            e = pac_grow(pac, size, alignment);
        hs_mutex_unlock(&pac->grow_mtx);
    }
    if (e == NULL)
        return NULL;
    if (zero && !e->zeroed)
        memset(e->addr, 0, e->size);
    /* From here on the owner writes to it. */
    e->zeroed = false;
    if (pac->ctx.manual) {
        hs_mutex_lock(&pac->active_mtx);
        hs_list_push_back(&pac->active, &e->active_link);
        hs_mutex_unlock(&pac->active_mtx);
    }
    return e;
}

static bool
pac_expand_impl(void *impl, edata_t *e, size_t new_size, bool zero)
{
    pac_t *pac = impl;
    size_t old_size = e->size;
    bool zeroed;
    if (!ecache_expand(&pac->dirty, e, new_size, &zeroed) &&
        !ecache_expand(&pac->muzzy, e, new_size, &zeroed) &&
        !ecache_expand(&pac->retained, e, new_size, &zeroed))
        return false;
    if (zero && !zeroed)
        memset((char *)e->addr + old_size, 0, new_size - old_size);
    return true;
}

/* Pages just entered the dirty set: purged at once with dirty_decay_ms 0,
 * else new deferred work. */
static void
freed_dirty(pac_t *pac, uint64_t now_ns, size_t npages)
{
    int64_t ms =
        atomic_load_explicit(&pac->dirty_decay_ms, memory_order_relaxed);
    if (ms == 0)
        pac_decay(pac, now_ns);
    else
        tell_deferred(now_ns, ms, npages);
}

static bool
pac_shrink_impl(void *impl, edata_t *e, size_t new_size)
{
    pac_t *pac = impl;
    uint64_t now = pac_now_ns();
    size_t npages = (e->size - new_size) / PAGE;
    if (!ecache_shrink(&pac->dirty, e, new_size, now))
        return false;
    freed_dirty(pac, now, npages);
    return true;
}

static void
pac_dalloc_impl(void *impl, edata_t *e)
{
    pac_t *pac = impl;
    uint64_t now = pac_now_ns();
    if (pac->ctx.manual) {
        hs_mutex_lock(&pac->active_mtx);
        hs_list_remove(&e->active_link);
        hs_list_init(&e->active_link);
        hs_mutex_unlock(&pac->active_mtx);
    }
    e->zeroed = false;
    size_t npages = e->size / PAGE; /* (e may merge away below) */
    ecache_dalloc(&pac->dirty, e, now);
    freed_dirty(pac, now, npages);
}

static uint64_t
pac_time_until_deferred_work(void *impl, uint64_t now_ns)
{
    return pac_ns_until_purge(impl, now_ns, PAC_DEFER_MIN_PAGES);
}

static const pai_ops_t pac_ops = {
    .alloc = pac_alloc_impl,
    .expand = pac_expand_impl,
    .shrink = pac_shrink_impl,
    .dalloc = pac_dalloc_impl,
    .time_until_deferred_work = pac_time_until_deferred_work,
};

pai_t
pac_pai(pac_t *pac)
{
    return (pai_t){.ops = &pac_ops, .impl = pac};
}

static void
count_purge(pac_purge_stats_t *st, size_t pages, uint64_t nmadvise)
{
    atomic_fetch_add_explicit(&st->nmadvise, nmadvise, memory_order_relaxed);
    if (pages != 0) {
        atomic_fetch_add_explicit(&st->npurge, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->purged, pages, memory_order_relaxed);
    }
}

/* The oldest member of from, cut down to about want pages: freed extents
 * coalesce, so the oldest may be one large run whose whole purge would
 * overshoot the curve by far.  Its front goes back (as old as it was);
 * the tail is purged.  NULL when from is empty. */
static edata_t *
evict_about(pac_t *pac, ecache_t *from, size_t want)
{
    edata_t *e = ecache_evict(from, UINT64_MAX);
    if (e == NULL || e->guarded)
        return e;
    size_t pages = e->size / PAGE;
    if (want < PAC_DEFER_MIN_PAGES)
        want = PAC_DEFER_MIN_PAGES;
    if (pages <= want + want / 2)
        return e;
    edata_t *tail = extent_split(&pac->ctx, e, (pages - want) * PAGE);
    if (tail == NULL)
        return e; /* cannot split: purge it whole */
    ecache_dalloc(from, e, e->dirty_ns);
    return tail;
}

/* Moves the oldest pages of from into the next set, purging them (lazily
 * when lazy, else forcibly), until from holds at most limit pages (a
 * little less: whole extents, cut to a batch when much larger).
 * decay_mtx held; each extent is private while its pages are purged. */
static size_t
purge_down(pac_t *pac, ecache_t *from, size_t limit, bool lazy,
           pac_purge_stats_t *st, uint64_t now_ns)
{
    size_t purged = 0, have;
    uint64_t nmadvise = 0;
    edata_t *e;
    while ((have = ecache_npages(from)) > limit &&
           (e = limit == 0 ? ecache_evict(from, UINT64_MAX)
                           : evict_about(pac, from, have - limit)) != NULL) {
        nmadvise++;
        /* Read before the extent joins a set: it may merge there. */
        size_t pages = e->size / PAGE;
        /* A guard page is never resident: only the pages before it. */
        size_t span = e->guarded ? e->size - PAGE : e->size;
        if (lazy && ehooks_purge_lazy(&pac->ctx.eh, e->addr, span)) {
            e->zeroed = false;
            ecache_dalloc(&pac->muzzy, e, now_ns);
        } else if (ehooks_purge_forced(&pac->ctx.eh, e->addr, span)) {
            e->zeroed = true;
            ecache_dalloc(&pac->retained, e, now_ns);
        } else {
            /* Still resident: back where it was, tried again later. */
            ecache_dalloc(from, e, e->dirty_ns);
            break;
        }
        purged += pages;
    }
    count_purge(st, purged, nmadvise);
    return purged;
}

/* One stage brought down to its curve; decay_mtx held. */
static size_t
decay_stage(pac_t *pac, decay_t *d, ecache_t *from, bool lazy,
            pac_purge_stats_t *st, uint64_t now_ns)
{
    size_t n = ecache_npages(from);
    decay_advance(d, now_ns, n);
    size_t purged = 0;
    if (n > decay_limit(d, n))
        purged = purge_down(pac, from, decay_limit(d, n), lazy, st, now_ns);
    if (purged != 0)
        decay_purged(d, ecache_npages(from));
    return purged;
}

/* decay_mtx held. */
static size_t
decay_locked(pac_t *pac, uint64_t now_ns)
{
    /* Muzzy first: the pages dirty sends there now are new to its curve. */
    size_t purged = decay_stage(pac, &pac->muzzy_decay, &pac->muzzy, false,
                                &pac->muzzy_stats, now_ns);
    bool lazy = pac->muzzy_decay.ms != 0;
    size_t moved = decay_stage(pac, &pac->dirty_decay, &pac->dirty, lazy,
                               &pac->dirty_stats, now_ns);
    if (moved != 0 && lazy)
        tell_deferred(now_ns, pac->muzzy_decay.ms, moved);
    return purged + moved;
}

size_t
pac_decay(pac_t *pac, uint64_t now_ns)
{
    hs_mutex_lock(&pac->decay_mtx);
    size_t purged = decay_locked(pac, now_ns);
    hs_mutex_unlock(&pac->decay_mtx);
    return purged;
}

size_t
pac_purge_all(pac_t *pac)
{
    uint64_t now = pac_now_ns();
    hs_mutex_lock(&pac->decay_mtx);
    size_t purged =
        purge_down(pac, &pac->dirty, 0, false, &pac->dirty_stats, now) +
        purge_down(pac, &pac->muzzy, 0, false, &pac->muzzy_stats, now);
    decay_purged(&pac->dirty_decay, ecache_npages(&pac->dirty));
    decay_purged(&pac->muzzy_decay, ecache_npages(&pac->muzzy));
    hs_mutex_unlock(&pac->decay_mtx);
    return purged;
}

static void guard_give(void);

size_t
pac_release_retained(pac_t *pac)
{
    if (!ehooks_are_default(&pac->ctx.eh))
        return 0;
    size_t bytes = 0;
    edata_t *e;
    /* grow_mtx: no grow is carving from the retained set meanwhile. */
    hs_mutex_lock(&pac->grow_mtx);
    for (int guarded = 0; guarded <= 1; guarded++) {
        while ((e = ecache_evict_from(&pac->retained, guarded)) != NULL) {
            emap_deregister_boundary(e);
            ehooks_release(&pac->ctx.eh, e->addr, e->size);
            /* A guarded extent's guard page (its last) goes with it. */
            if (guarded)
                guard_give();
            atomic_fetch_sub_explicit(&pac->mapped, e->size,
                                      memory_order_relaxed);
            bytes += e->size;
            edata_cache_put_to(pac->ctx.edc, e);
        }
    }
    /* Start small again: a large chunk is what may not fit any more. */
    pac->grow_next = PAC_GROW_MIN;
    hs_mutex_unlock(&pac->grow_mtx);
    return bytes;
}

static uint64_t
tick_step(int64_t ms)
{
    return ms > 0 ? (uint64_t)ms * 1000000 / DECAY_NSTEPS : UINT64_MAX;
}

void
pac_decay_tick(pac_t *pac, uint64_t now_ns)
{
    uint64_t next =
        atomic_load_explicit(&pac->next_tick_ns, memory_order_relaxed);
    if (now_ns < next)
        return;
    /* At most once an epoch of the faster curve, and at most every
     * millisecond. */
    uint64_t a = tick_step(atomic_load_explicit(&pac->dirty_decay_ms,
                                                memory_order_relaxed)),
             b = tick_step(atomic_load_explicit(&pac->muzzy_decay_ms,
                                                memory_order_relaxed));
    uint64_t step = a < b ? a : b;
    if (step < 1000000)
        step = 1000000;
    atomic_store_explicit(&pac->next_tick_ns,
                          step == UINT64_MAX ? UINT64_MAX : now_ns + step,
                          memory_order_relaxed);
    if (!hs_mutex_trylock(&pac->decay_mtx))
        return; /* someone is purging already */
    decay_locked(pac, now_ns);
    hs_mutex_unlock(&pac->decay_mtx);
}

uint64_t
pac_ns_until_purge(pac_t *pac, uint64_t now_ns, size_t min_pages)
{
    hs_mutex_lock(&pac->decay_mtx);
    uint64_t d = decay_ns_until_purge(&pac->dirty_decay, now_ns,
                                      ecache_npages(&pac->dirty), min_pages);
    uint64_t m = decay_ns_until_purge(&pac->muzzy_decay, now_ns,
                                      ecache_npages(&pac->muzzy), min_pages);
    hs_mutex_unlock(&pac->decay_mtx);
    return d < m ? d : m;
}

/* The decay time a stage can have: -1 when its purge is impossible with
 * the arena's hooks (forced for muzzy; either for dirty). */
static int64_t
effective_ms(const pac_t *pac, const decay_t *d, int64_t ms)
{
    const ehooks_t *h = &pac->ctx.eh;
    bool can = d == &pac->muzzy_decay
                   ? ehooks_can_purge_forced(h)
                   : ehooks_can_purge_forced(h) || ehooks_can_purge_lazy(h);
    return can ? ms : -1;
}

static void
set_decay_ms(pac_t *pac, decay_t *d, ecache_t *c, _Atomic(int64_t) *copy,
             int64_t ms)
{
    ms = effective_ms(pac, d, ms);
    hs_mutex_lock(&pac->decay_mtx);
    uint64_t now = pac_now_ns();
    decay_init(d, ms, now, ecache_npages(c));
    atomic_store_explicit(copy, ms, memory_order_relaxed);
    atomic_store_explicit(&pac->next_tick_ns, 0, memory_order_relaxed);
    if (ms == 0)
        decay_locked(pac, now);
    hs_mutex_unlock(&pac->decay_mtx);
    tell_deferred(now, ms, ecache_npages(c));
}

void
pac_set_dirty_decay_ms(pac_t *pac, int64_t ms)
{
    set_decay_ms(pac, &pac->dirty_decay, &pac->dirty, &pac->dirty_decay_ms, ms);
}

void
pac_set_muzzy_decay_ms(pac_t *pac, int64_t ms)
{
    set_decay_ms(pac, &pac->muzzy_decay, &pac->muzzy, &pac->muzzy_decay_ms, ms);
}

/* ---- guarded extents ---- */

#define PAC_GUARD_REGION (64 * PAGE)

static _Atomic(size_t) guards_live;
static _Atomic(size_t) guard_budget = 65530 / 4;
static _Atomic(uint64_t) guards_skipped;

void
pac_guard_budget_set(size_t guards)
{
    atomic_store_explicit(&guard_budget, guards, memory_order_relaxed);
}

void
pac_guard_stats(pac_guard_stats_t *r)
{
    r->live = atomic_load_explicit(&guards_live, memory_order_relaxed);
    r->budget = atomic_load_explicit(&guard_budget, memory_order_relaxed);
    r->skipped = atomic_load_explicit(&guards_skipped, memory_order_relaxed);
}

/* One guard page more, if the budget allows. */
static bool
guard_take(void)
{
    size_t n = atomic_load_explicit(&guards_live, memory_order_relaxed);
    do {
        if (n >= atomic_load_explicit(&guard_budget, memory_order_relaxed))
            return false;
    } while (!atomic_compare_exchange_weak(&guards_live, &n, n + 1));
    return true;
}

static void
guard_give(void)
{
    atomic_fetch_sub_explicit(&guards_live, 1, memory_order_relaxed);
}

/* The guard region with room for need bytes: the current one, or a new one
 * whose first page is made a guard (the old one's rest goes back to the
 * dirty set).  NULL on OOM or when the budget is spent.  guard_mtx held. */
static edata_t *
guard_region(pac_t *pac, size_t need)
{
    edata_t *r = pac->guard_region;
    if (r != NULL && r->size >= need)
        return r;
    size_t size =
        need + PAGE > PAC_GUARD_REGION ? need + PAGE : PAC_GUARD_REGION;
    if (size < need || !guard_take())
        return NULL;
    edata_t *lead = pac_alloc_impl(pac, size, PAGE, false);
    if (lead == NULL) {
        guard_give();
        return NULL;
    }
    edata_t *rest = extent_split(&pac->ctx, lead, PAGE);
    if (rest == NULL) {
        pac_dalloc_impl(pac, lead);
        guard_give();
        return NULL;
    }
    if (!pages_guard(lead->addr, PAGE)) {
        pac_dalloc_impl(pac, lead);
        pac_dalloc_impl(pac, rest);
        guard_give();
        return NULL;
    }
    /* The lead guard page stays an active one-page extent for good: a
     * free() of its address is an invalid pointer, and no free neighbour
     * coalesces into it. */
    if (r != NULL)
        pac_dalloc_impl(pac, r);
    pac->guard_region = rest;
    return rest;
}

/* A new guarded extent of need bytes (guard included), carved from the
 * guard region.  guard_mtx held. */
static edata_t *
guard_carve(pac_t *pac, size_t need)
{
    edata_t *e = guard_region(pac, need);
    if (e == NULL || !guard_take())
        return NULL;
    edata_t *rest = NULL;
    if (e->size > need && (rest = extent_split(&pac->ctx, e, need)) == NULL) {
        guard_give();
        return NULL;
    }
    pac->guard_region = rest;
    if (!pages_guard((char *)e->addr + need - PAGE, PAGE)) {
        /* (ENOMEM: the process is at its mapping limit.) */
        pac_dalloc_impl(pac, e);
        guard_give();
        return NULL;
    }
    e->guarded = true;
    emap_update(e);
    return e;
}

edata_t *
pac_alloc_guarded(pac_t *pac, size_t usize, size_t alignment, bool zero)
{
    size_t user = align_up(usize, PAGE), need = user + PAGE;
    if (alignment < QUANTUM)
        alignment = QUANTUM;
    edata_t *e = NULL;
    uint32_t off = (uint32_t)((user - usize) & ~(alignment - 1));
    /* Not in manual arenas: their pages go back to hooks at destroy, and a
     * hook's memory may not take mprotect. */
    if (need > user && alignment <= PAGE && !pac->ctx.manual) {
        e = ecache_alloc_guarded(&pac->dirty, need, off);
        if (e == NULL)
            e = ecache_alloc_guarded(&pac->muzzy, need, off);
        if (e == NULL)
            e = ecache_alloc_guarded(&pac->retained, need, off);
        if (e == NULL) {
            hs_mutex_lock(&pac->guard_mtx);
            e = guard_carve(pac, need);
            hs_mutex_unlock(&pac->guard_mtx);
        }
    }
    if (e == NULL) {
        atomic_fetch_add_explicit(&guards_skipped, 1, memory_order_relaxed);
        return NULL;
    }
    e->guard_off = off;
    if (zero)
        memset((char *)e->addr + e->guard_off, 0, usize);
    e->zeroed = false;
    atomic_fetch_add_explicit(&pac->nguarded, 1, memory_order_relaxed);
    return e;
}

/* ---- sources, manual arenas ---- */

void
pac_set_source(pac_t *pac, hs_extent_hooks_t *hooks, edata_cache_t *edc,
               bool manual)
{
    pac->ctx.eh.hooks = hooks;
    atomic_store_explicit(&pac->ctx.eh.split_refused, false,
                          memory_order_relaxed);
    if (edc != NULL)
        pac->ctx.edc = edc;
    pac->ctx.manual = manual;
    pac_set_dirty_decay_ms(pac, atomic_load(&pac->dirty_decay_ms));
    pac_set_muzzy_decay_ms(pac, atomic_load(&pac->muzzy_decay_ms));
}

size_t
pac_take_active(pac_t *pac, hs_link_t *r_list)
{
    size_t n = 0;
    hs_mutex_lock(&pac->active_mtx);
    hs_link_t *l;
    while ((l = hs_list_first(&pac->active)) != NULL) {
        hs_list_remove(l);
        hs_list_push_back(r_list, l);
        n++;
    }
    hs_mutex_unlock(&pac->active_mtx);
    return n;
}

/* Every member of c (both sets) given back to the source and forgotten. */
static void
destroy_set(pac_t *pac, ecache_t *c)
{
    edata_t *e;
    while ((e = ecache_evict(c, UINT64_MAX)) != NULL) {
        emap_deregister_boundary(e);
        ehooks_destroy(&pac->ctx.eh, e->addr, e->size);
        edata_cache_put_to(pac->ctx.edc, e);
    }
}

void
pac_destroy(pac_t *pac)
{
    hs_mutex_lock(&pac->decay_mtx);
    destroy_set(pac, &pac->dirty);
    destroy_set(pac, &pac->muzzy);
    destroy_set(pac, &pac->retained);
    hs_mutex_unlock(&pac->decay_mtx);
    atomic_store_explicit(&pac->mapped, 0, memory_order_relaxed);
}
