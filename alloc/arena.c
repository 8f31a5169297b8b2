/*
 * arena.c — the arena table, thread placement, routing of flushes to the
 * owning arenas, purging and per-arena statistics (see arena.h).
 */
#include "arena.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "extent/base.h"
#include "extent/emap.h"
#include "opts.h"
#include "prof_hooks.h"
#include "tsd.h"

_Atomic(arena_t *) arenas[ARENAS_MAX];
unsigned narenas_auto;
_Atomic(unsigned) narenas_total;
static hs_mutex_t arenas_mtx;
static int64_t arena_dirty_ms_default, arena_muzzy_ms_default;
/* Every arena_t ever made, by index: a destroyed manual arena's stays here
 * (its locks are registered for fork handling) for the next arena created
 * at that index.  Guarded by arenas_mtx. */
static arena_t *arena_slots[ARENAS_MAX];

/* (Re)initializes a: fresh from base memory, or a destroyed arena's. */
static void
arena_init(arena_t *a, unsigned ind)
{
    a->ind = ind;
    a->manual = false;
    a->hooks = NULL;
    a->metadata_use_hooks = false;
    atomic_store_explicit(&a->nthreads, 0, memory_order_relaxed);
    atomic_store_explicit(&a->orphan_purge_ns, 0, memory_order_relaxed);
    for (unsigned i = 0; i < SZ_NBINS; i++)
        bin_init(&a->bins[i]);
    pa_shard_init(&a->pa, ind, arena_dirty_ms_default, arena_muzzy_ms_default);
    /* Automatic arenas only: a manual arena's pages come from its hooks,
     * through the PAC. */
    if (opt_hpa && ind < narenas_auto) {
        hpa_opts_t ho;
        hpa_opts_default(&ho);
        ho.slab_max_alloc = opt_hpa_slab_max_alloc;
        ho.hugify_delay_ms =
            (uint64_t)(opt_hpa_hugify_delay_ms < 0 ? 0
                                                   : opt_hpa_hugify_delay_ms);
        ho.dirty_mult_pct = opt_hpa_dirty_mult;
        ho.min_purge_interval_ms =
            (uint64_t)(opt_hpa_min_purge_interval_ms < 0
                           ? 0
                           : opt_hpa_min_purge_interval_ms);
        pa_shard_enable_hpa(&a->pa, &ho);
    }
    atomic_store_explicit(&a->nlarge_malloc, 0, memory_order_relaxed);
    atomic_store_explicit(&a->nlarge_dalloc, 0, memory_order_relaxed);
    atomic_store_explicit(&a->large_allocated, 0, memory_order_relaxed);
}

/* The arena_t for index ind (arenas_mtx held); NULL on OOM. */
static arena_t *
arena_slot(unsigned ind)
{
    if (arena_slots[ind] == NULL)
        arena_slots[ind] = base_alloc(sizeof(arena_t), HS_CACHELINE);
    return arena_slots[ind];
}

static arena_t *
arena_new(unsigned ind)
{
    arena_t *a = arena_slot(ind);
    if (a != NULL)
        arena_init(a, ind);
    return a;
}

bool
arenas_boot(unsigned narenas, int64_t dirty_decay_ms, int64_t muzzy_decay_ms)
{
    hs_mutex_init(&arenas_mtx, HS_RANK_CTL);
    /* Room is left for manual arenas. */
    narenas_auto = narenas > ARENAS_MAX / 2 ? ARENAS_MAX / 2 : narenas;
    if (narenas_auto == 0)
        narenas_auto = 1;
    atomic_store(&narenas_total, narenas_auto);
    arena_dirty_ms_default = dirty_decay_ms;
    arena_muzzy_ms_default = muzzy_decay_ms;
    return arena_get(0) != NULL;
}

arena_t *
arena_get(unsigned ind)
{
    if (ind >= ARENAS_MAX)
        return NULL;
    arena_t *a = atomic_load_explicit(&arenas[ind], memory_order_acquire);
    if (likely(a != NULL) || ind >= narenas_auto)
        return a; /* manual arenas exist only through arena_create */
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
    /* Least loaded first; among arenas with no thread, the orphan that
     * lost its last thread most recently (its dirty pages are the most
     * likely to still be there), then the lowest index. */
    unsigned best = 0, best_n = UINT32_MAX;
    uint64_t best_orphan = 0;
    for (unsigned i = 0; i < narenas_auto; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        unsigned n = 0;
        uint64_t orphan = 0;
        if (a != NULL) {
            n = atomic_load_explicit(&a->nthreads, memory_order_relaxed);
            orphan =
                atomic_load_explicit(&a->orphan_purge_ns, memory_order_relaxed);
        }
        if (n < best_n || (n == 0 && orphan > best_orphan)) {
            best = i;
            best_n = n;
            best_orphan = orphan;
        }
    }
    arena_t *a = arena_get(best);
    return a != NULL ? a : arena_get(0);
}

/* a has a thread again: if it was an orphan, its dirty pages are that
 * thread's to reuse, not to purge. */
static void
orphan_adopted(arena_t *a)
{
    atomic_store_explicit(&a->orphan_purge_ns, 0, memory_order_relaxed);
}

arena_t *
arena_choose_attach(void)
{
    /* Two threads starting together must not both see an empty arena and
     * both take it (they would share its bins for their whole life): the
     * count a thread chose by must still be the count it increments. */
    for (int tries = 0; tries < 64; tries++) {
        arena_t *a = arena_choose();
        if (a == NULL)
            return NULL;
        unsigned n = atomic_load_explicit(&a->nthreads, memory_order_relaxed);
        arena_t *again = arena_choose();
        if (again == a && atomic_compare_exchange_strong_explicit(
                              &a->nthreads, &n, n + 1, memory_order_relaxed,
                              memory_order_relaxed)) {
            orphan_adopted(a);
            return a;
        }
    }
    arena_t *a = arena_choose();
    if (a != NULL)
        arena_thread_attach(a);
    return a;
}

void
arena_thread_attach(arena_t *a)
{
    atomic_fetch_add_explicit(&a->nthreads, 1, memory_order_relaxed);
    orphan_adopted(a);
}

void
arena_thread_detach(arena_t *a)
{
    if (atomic_fetch_sub_explicit(&a->nthreads, 1, memory_order_relaxed) != 1)
        return;
    int64_t ms =
        atomic_load_explicit(&a->pa.pac.dirty_decay_ms, memory_order_relaxed);
    if (ms <= 0) {
        arena_purge(a);
        return;
    }
    uint64_t wait_ms = (uint64_t)ms < ARENA_ORPHAN_WAIT_MS
                           ? (uint64_t)ms
                           : ARENA_ORPHAN_WAIT_MS;
    /* One orphan waits at a time: new threads take the most recent one
     * first, so an older one would most likely wait in vain. */
    arena_orphans_purge(UINT64_MAX);
    /* Odd, so never 0 ("not pending"). */
    uint64_t due = pac_now_ns() + wait_ms * 1000000;
    atomic_store_explicit(&a->orphan_purge_ns, due | 1, memory_order_relaxed);
    /* The background thread, when running, purges it then. */
    pac_tell_deferred(due, 0);
}

uint64_t
arena_orphans_purge(uint64_t now_ns)
{
    uint64_t next = UINT64_MAX;
    for (unsigned i = 0; i < narenas_auto; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (a == NULL)
            continue;
        uint64_t due =
            atomic_load_explicit(&a->orphan_purge_ns, memory_order_relaxed);
        if (due == 0)
            continue;
        if (due > now_ns) {
            if (due - now_ns < next)
                next = due - now_ns;
            continue;
        }
        /* One purger per orphan; a thread that took the arena meanwhile
         * cleared the stamp and keeps the pages. */
        if (atomic_compare_exchange_strong_explicit(&a->orphan_purge_ns, &due,
                                                    0, memory_order_relaxed,
                                                    memory_order_relaxed) &&
            atomic_load_explicit(&a->nthreads, memory_order_relaxed) == 0)
            arena_purge(a);
    }
    return next;
}

void
arena_bin_flush(unsigned ind, void **ptrs, unsigned n)
{
    /* Regions may come from slabs of several arenas (frees from other
     * threads): one pass per arena, under that arena's bin lock.  Their
     * slabs are looked up first, outside every lock, so that a bin lock
     * is held only for the bitmaps (a consumer thread flushing a
     * producer's regions holds the producer's lock less). */
    enum { CHUNK = 256 };
    edata_t *slabs[CHUNK];
    while (n > 0) {
        unsigned m = n < CHUNK ? n : CHUNK, left = m;
        for (unsigned i = 0; i < m; i++)
            slabs[i] = emap_entry_edata(emap_lookup(ptrs[i]));
        while (left > 0) {
            arena_t *a = arena_get(slabs[0]->arena_ind);
            left = bin_flush(&a->bins[ind], &a->pa, a->ind, ptrs, slabs, left);
        }
        ptrs += m;
        n -= m;
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
    for (unsigned i = 0; i < SZ_NBINS; i++)
        bin_release_spare(&a->bins[i], &a->pa);
    return pa_purge_all(&a->pa);
}

size_t
arena_release_all(void)
{
    size_t bytes = 0;
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (a == NULL)
            continue;
        arena_purge(a);
        bytes += pa_release_retained(&a->pa);
    }
    return bytes;
}

size_t
arena_decay(arena_t *a)
{
    return pa_decay(&a->pa, pac_now_ns());
}

void
arena_decay_tick(arena_t *a)
{
    pa_decay_tick(&a->pa, pac_now_ns());
}

void
arena_decay_tick_all(void)
{
    uint64_t now = pac_now_ns();
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (a != NULL)
            pa_decay_tick(&a->pa, now);
    }
    arena_orphans_purge(now);
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

/* ---- manual arenas ---- */

int
arena_create(const hs_arena_config_t *cfg, unsigned *r_ind)
{
    hs_mutex_lock(&arenas_mtx);
    unsigned ind = narenas_auto;
    while (ind < ARENAS_MAX &&
           atomic_load_explicit(&arenas[ind], memory_order_relaxed) != NULL)
        ind++;
    arena_t *a = ind < ARENAS_MAX ? arena_slot(ind) : NULL;
    if (a == NULL) {
        hs_mutex_unlock(&arenas_mtx);
        return EAGAIN;
    }
    arena_init(a, ind);
    a->manual = true;
    a->hooks = cfg != NULL ? cfg->extent_hooks : NULL;
    hs_extent_hooks_t *hooks = (hs_extent_hooks_t *)a->hooks;
    edata_cache_t *edc = NULL;
    a->metadata_use_hooks =
        cfg != NULL && cfg->metadata_use_hooks && hooks != NULL;
    if (a->metadata_use_hooks) {
        /* Descriptors from blocks the hooks give; a hook that fails then
         * fails the allocation that needed one, and nothing is kept. */
        a->meta_eh = (ehooks_t){.hooks = hooks, .arena_ind = ind};
        base_init(&a->meta_base, &a->meta_eh);
        edata_cache_init(&a->meta_edc, &a->meta_base);
        edc = &a->meta_edc;
    }
    pac_set_source(&a->pa.pac, hooks, edc, true);
    atomic_store_explicit(&arenas[ind], a, memory_order_release);
    if (ind >= atomic_load(&narenas_total))
        atomic_store(&narenas_total, ind + 1);
    hs_mutex_unlock(&arenas_mtx);
    *r_ind = ind;
    return 0;
}

/* A manual arena by index, or NULL with *r_err set. */
static arena_t *
manual_arena(unsigned ind, int *r_err)
{
    arena_t *a = ind < ARENAS_MAX
                     ? atomic_load_explicit(&arenas[ind], memory_order_acquire)
                     : NULL;
    *r_err = a == NULL ? ENOENT : !a->manual ? EFAULT : 0;
    return *r_err == 0 ? a : NULL;
}

static void
reset_arena(arena_t *a)
{
    /* The bins let go of every slab (all of them are handed back below). */
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        bin_t *b = &a->bins[i];
        hs_mutex_lock(&b->mtx);
        b->slabcur = NULL;
        b->spare = NULL;
        hs_list_init(&b->nonfull);
        b->curslabs = 0;
        b->curregs = 0;
        b->nflushes = b->nfills;
        hs_mutex_unlock(&b->mtx);
    }
    hs_link_t list;
    hs_list_init(&list);
    pac_take_active(&a->pa.pac, &list);
    const alloc_prof_hooks_t *h = alloc_prof_hooks;
    hs_link_t *l;
    while ((l = hs_list_first(&list)) != NULL) {
        edata_t *e = (edata_t *)((char *)l - offsetof(edata_t, active_link));
        hs_list_remove(l);
        hs_list_init(l);
        if (e->prof_rec != NULL && h != NULL) {
            /* A sampled block (non-slab, its class in szind). */
            tsd_reentrancy_enter();
            size_t usize =
                e->szind < SZ_NBINS ? sz_index2size(e->szind) : e->size;
            h->sampled_free(e->addr, usize, e->prof_rec);
            tsd_reentrancy_exit();
        }
        e->prof_rec = NULL;
        if (e->slab) {
            emap_deregister_interior(e);
            e->slab = false;
        }
        e->szind = SZIND_NONE;
        pa_dalloc(&a->pa, e);
    }
    atomic_store_explicit(&a->nlarge_dalloc, atomic_load(&a->nlarge_malloc),
                          memory_order_relaxed);
    atomic_store_explicit(&a->large_allocated, 0, memory_order_relaxed);
}

int
arena_reset(unsigned ind)
{
    int err;
    arena_t *a = manual_arena(ind, &err);
    if (a != NULL)
        reset_arena(a);
    return err;
}

int
arena_destroy(unsigned ind)
{
    int err;
    arena_t *a = manual_arena(ind, &err);
    if (a == NULL)
        return err;
    if (atomic_load_explicit(&a->nthreads, memory_order_relaxed) != 0)
        return EFAULT;
    hs_mutex_lock(&arenas_mtx);
    atomic_store_explicit(&arenas[ind], NULL, memory_order_release);
    hs_mutex_unlock(&arenas_mtx);
    reset_arena(a);
    pac_destroy(&a->pa.pac);
    if (a->metadata_use_hooks) {
        base_release(&a->meta_base);
        edata_cache_forget(&a->meta_edc);
    }
    return 0;
}
