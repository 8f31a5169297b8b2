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

void
pac_init(pac_t *pac, unsigned arena_ind, int64_t dirty_decay_ms)
{
    pac->arena_ind = arena_ind;
    ecache_init(&pac->dirty, EXTENT_DIRTY, arena_ind);
    ecache_init(&pac->retained, EXTENT_RETAINED, arena_ind);
    hs_mutex_init(&pac->grow_mtx, HS_RANK_GROW);
    hs_mutex_init(&pac->decay_mtx, HS_RANK_DECAY);
    pac->grow_next = PAC_GROW_MIN;
    atomic_init(&pac->dirty_decay_ms, dirty_decay_ms);
    atomic_init(&pac->next_decay_ns, 0);
    atomic_init(&pac->mapped, 0);
    atomic_init(&pac->npurges, 0);
    atomic_init(&pac->nmadvise, 0);
    atomic_init(&pac->purged_pages, 0);
}

/* Reserves a new chunk, aligned to alignment (and to a hugepage), and
 * carves size bytes from its start; the rest enters the retained set.
 * NULL on OOM.  grow_mtx held. */
static edata_t *
pac_grow(pac_t *pac, size_t size, size_t alignment)
{
    size_t chunk = pac->grow_next;
    if (chunk < size)
        chunk = align_up(size, HUGEPAGE);
    if (chunk < size)
        return NULL;
    void *addr = pages_map(chunk, alignment > HUGEPAGE ? alignment : HUGEPAGE);
    if (addr == NULL)
        return NULL;
    edata_t *e = edata_cache_get();
    if (e == NULL) {
        pages_unmap(addr, chunk);
        return NULL;
    }
    edata_init(e, pac->arena_ind, addr, chunk, EXTENT_ACTIVE, true, true);
    if (!emap_register_boundary(e)) {
        edata_cache_put(e);
        pages_unmap(addr, chunk);
        return NULL;
    }
    if (chunk > size) {
        edata_t *rest = extent_split(e, size);
        if (rest == NULL) {
            emap_deregister_boundary(e);
            edata_cache_put(e);
            pages_unmap(addr, chunk);
            return NULL;
        }
        ecache_dalloc(&pac->retained, rest, 0);
    }
    atomic_fetch_add_explicit(&pac->mapped, chunk, memory_order_relaxed);
    if (pac->grow_next < PAC_GROW_MAX)
        pac->grow_next *= 2;
    return e;
}

static edata_t *
pac_alloc_impl(void *impl, size_t size, size_t alignment, bool zero)
{
    pac_t *pac = impl;
    edata_t *e = ecache_alloc(&pac->dirty, size, alignment);
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
    return e;
}

static bool
pac_expand_impl(void *impl, edata_t *e, size_t new_size, bool zero)
{
    pac_t *pac = impl;
    size_t old_size = e->size;
    bool zeroed;
    if (!ecache_expand(&pac->dirty, e, new_size, &zeroed) &&
        !ecache_expand(&pac->retained, e, new_size, &zeroed))
        return false;
    if (zero && !zeroed)
        memset((char *)e->addr + old_size, 0, new_size - old_size);
    return true;
}

static bool
pac_shrink_impl(void *impl, edata_t *e, size_t new_size)
{
    pac_t *pac = impl;
    uint64_t now = pac_now_ns();
    if (!ecache_shrink(&pac->dirty, e, new_size, now))
        return false;
    if (atomic_load_explicit(&pac->dirty_decay_ms, memory_order_relaxed) == 0)
        pac_decay(pac, now, false);
    return true;
}

static void
pac_dalloc_impl(void *impl, edata_t *e)
{
    pac_t *pac = impl;
    uint64_t now = pac_now_ns();
    e->zeroed = false;
    ecache_dalloc(&pac->dirty, e, now);
    if (atomic_load_explicit(&pac->dirty_decay_ms, memory_order_relaxed) == 0)
        pac_decay(pac, now, false);
}

static uint64_t
pac_time_until_deferred_work(void *impl, uint64_t now_ns)
{
    pac_t *pac = impl;
    int64_t ms =
        atomic_load_explicit(&pac->dirty_decay_ms, memory_order_relaxed);
    if (ms < 0)
        return UINT64_MAX;
    hs_mutex_lock(&pac->dirty.mtx);
    edata_t *oldest = eset_oldest(&pac->dirty.eset);
    uint64_t due =
        oldest == NULL ? UINT64_MAX : oldest->dirty_ns + (uint64_t)ms * 1000000;
    hs_mutex_unlock(&pac->dirty.mtx);
    if (due == UINT64_MAX)
        return UINT64_MAX;
    return due > now_ns ? due - now_ns : 0;
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

size_t
pac_decay(pac_t *pac, uint64_t now_ns, bool all)
{
    int64_t ms =
        atomic_load_explicit(&pac->dirty_decay_ms, memory_order_relaxed);
    if (ms < 0 && !all)
        return 0;
    uint64_t age = ms > 0 ? (uint64_t)ms * 1000000 : 0;
    uint64_t before = all ? UINT64_MAX : (now_ns >= age ? now_ns - age : 0);
    if (!all && now_ns < age)
        return 0;
    hs_mutex_lock(&pac->decay_mtx);
    size_t purged = 0;
    edata_t *e;
    while ((e = ecache_evict(&pac->dirty, before)) != NULL) {
        /* Purged outside any ecache lock: e is private meanwhile. */
        atomic_fetch_add_explicit(&pac->nmadvise, 1, memory_order_relaxed);
        if (!pages_purge_forced(e->addr, e->size)) {
            /* Still resident: back to dirty, to be tried again later. */
            ecache_dalloc(&pac->dirty, e, now_ns);
            break;
        }
        purged += e->size / PAGE;
        e->zeroed = true;
        ecache_dalloc(&pac->retained, e, now_ns);
    }
    if (purged != 0) {
        atomic_fetch_add_explicit(&pac->npurges, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&pac->purged_pages, purged,
                                  memory_order_relaxed);
    }
    hs_mutex_unlock(&pac->decay_mtx);
    return purged;
}

void
pac_decay_tick(pac_t *pac, uint64_t now_ns)
{
    uint64_t next =
        atomic_load_explicit(&pac->next_decay_ns, memory_order_relaxed);
    if (now_ns < next)
        return;
    int64_t ms =
        atomic_load_explicit(&pac->dirty_decay_ms, memory_order_relaxed);
    /* Check again after a tenth of the decay time (at least 1 ms), so the
     * oldest dirty pages outlive dirty_decay_ms by at most 10%. */
    uint64_t step = ms > 10 ? (uint64_t)ms * 100000 : 1000000;
    atomic_store_explicit(&pac->next_decay_ns, now_ns + step,
                          memory_order_relaxed);
    pac_decay(pac, now_ns, false);
}

void
pac_set_dirty_decay_ms(pac_t *pac, int64_t ms)
{
    atomic_store_explicit(&pac->dirty_decay_ms, ms, memory_order_relaxed);
    atomic_store_explicit(&pac->next_decay_ns, 0, memory_order_relaxed);
}
