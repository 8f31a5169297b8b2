/*
 * arena.c — the arena table, thread placement, routing of flushes to the
 * owning arenas, purging and per-arena statistics (see arena.h).
 */
#include "arena.h"

#include <string.h>

#include "extent/base.h"
#include "extent/emap.h"

_Atomic(arena_t *) arenas[ARENAS_MAX];
unsigned narenas_total;
static hs_mutex_t arenas_mtx;
static int64_t arena_dirty_ms_default, arena_muzzy_ms_default;

static arena_t *
arena_new(unsigned ind)
{
    arena_t *a = base_alloc(sizeof(arena_t), HS_CACHELINE);
    if (a == NULL)
        return NULL;
    a->ind = ind;
    for (unsigned i = 0; i < SZ_NBINS; i++)
        bin_init(&a->bins[i]);
    pa_shard_init(&a->pa, ind, arena_dirty_ms_default, arena_muzzy_ms_default);
    return a;
}

bool
arenas_boot(unsigned narenas, int64_t dirty_decay_ms, int64_t muzzy_decay_ms)
{
    hs_mutex_init(&arenas_mtx, HS_RANK_CTL);
    narenas_total = narenas > ARENAS_MAX ? ARENAS_MAX : narenas;
    if (narenas_total == 0)
        narenas_total = 1;
    arena_dirty_ms_default = dirty_decay_ms;
    arena_muzzy_ms_default = muzzy_decay_ms;
    return arena_get(0) != NULL;
}

arena_t *
arena_get(unsigned ind)
{
    if (ind >= narenas_total)
        return NULL;
    arena_t *a = atomic_load_explicit(&arenas[ind], memory_order_acquire);
    if (likely(a != NULL))
        return a;
    hs_mutex_lock(&arenas_mtx);
    a = atomic_load_explicit(&arenas[ind], memory_order_relaxed);
    if (a == NULL) {
        a = arena_new(ind);
        if (a != NULL)
            atomic_store_explicit(&arenas[ind], a, memory_order_release);
    }
    hs_mutex_unlock(&arenas_mtx);
    return a;
}

arena_t *
arena_choose(void)
{
    unsigned best = 0, best_n = UINT32_MAX;
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        unsigned n = a == NULL ? 0
                               : atomic_load_explicit(&a->nthreads,
                                                      memory_order_relaxed);
        if (n < best_n) {
            best = i;
            best_n = n;
            if (n == 0)
                break;
        }
    }
    arena_t *a = arena_get(best);
    return a != NULL ? a : arena_get(0);
}

void
arena_thread_attach(arena_t *a)
{
    atomic_fetch_add_explicit(&a->nthreads, 1, memory_order_relaxed);
}

void
arena_thread_detach(arena_t *a)
{
    atomic_fetch_sub_explicit(&a->nthreads, 1, memory_order_relaxed);
}

void
arena_bin_flush(unsigned ind, void **ptrs, unsigned n)
{
    /* Regions may come from slabs of several arenas (frees from other
     * threads): one pass per arena, under that arena's bin lock. */
    while (n > 0) {
        edata_t *first = emap_entry_edata(emap_lookup(ptrs[0]));
        arena_t *a = arena_get(first->arena_ind);
        n = bin_flush(&a->bins[ind], &a->pa, a->ind, ptrs, n);
    }
}

unsigned
arena_bin_fill(arena_t *a, unsigned ind, void **out, unsigned n)
{
    return bin_fill(&a->bins[ind], &a->pa, ind, out, n);
}

size_t
arena_purge(arena_t *a)
{
    return pac_purge_all(&a->pa.pac);
}

size_t
arena_decay(arena_t *a)
{
    return pac_decay(&a->pa.pac, pac_now_ns());
}

void
arena_decay_tick(arena_t *a)
{
    pac_decay_tick(&a->pa.pac, pac_now_ns());
}

void
arena_decay_tick_all(void)
{
    uint64_t now = pac_now_ns();
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (a != NULL)
            pac_decay_tick(&a->pa.pac, now);
    }
}

void
arena_stats(arena_t *a, arena_stats_t *r)
{
    memset(r, 0, sizeof(*r));
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        bin_stats_t bs;
        bin_stats(&a->bins[i], &bs);
        r->small_allocated += bs.curregs * bin_infos[i].reg_size;
        r->active += bs.curslabs * bin_infos[i].slab_size;
        r->nslabs += bs.curslabs;
        r->nsmall_fills += bs.nfills;
        r->nsmall_flushes += bs.nflushes;
    }
    r->large_allocated =
        atomic_load_explicit(&a->large_allocated, memory_order_relaxed);
    r->active += r->large_allocated;
    r->nlarge_malloc =
        atomic_load_explicit(&a->nlarge_malloc, memory_order_relaxed);
    r->nlarge_dalloc =
        atomic_load_explicit(&a->nlarge_dalloc, memory_order_relaxed);
    pa_stats(&a->pa, &r->pa);
}
