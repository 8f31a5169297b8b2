/*
 * arena.c — arena table, bins of slabs, and large allocations (see
 * arena.h).
 *
 * A slab is one extent carved into regions of one class; its free regions
 * are the set bits of its bitmap.  Filling a thread cache takes regions
 * lowest-address-first from the current slab, then from the oldest
 * non-full slab, then from a new slab; that packs live objects into few
 * slabs so empty ones can go back to the page allocator.
 */
#include "arena.h"

#include <string.h>

#include "extent/emap.h"
#include "extent/base.h"
#include "util/fmt.h"

_Atomic(arena_t *) arenas[ARENAS_MAX];
unsigned narenas_total;
static hs_mutex_t arenas_mtx;
static int64_t arena_decay_ms_default;

static arena_t *
arena_new(unsigned ind)
{
    arena_t *a = base_alloc(sizeof(arena_t), HS_CACHELINE);
    if (a == NULL)
        return NULL;
    a->ind = ind;
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        hs_mutex_init(&a->bins[i].mtx, HS_RANK_BIN);
        hs_list_init(&a->bins[i].nonfull);
    }
    pa_shard_init(&a->pa, ind, arena_decay_ms_default);
    return a;
}

bool
arenas_boot(unsigned narenas, int64_t dirty_decay_ms)
{
    hs_mutex_init(&arenas_mtx, HS_RANK_CTL);
    narenas_total = narenas > ARENAS_MAX ? ARENAS_MAX : narenas;
    if (narenas_total == 0)
        narenas_total = 1;
    arena_decay_ms_default = dirty_decay_ms;
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
        unsigned n = a == NULL ? 0 : atomic_load_explicit(
                                         &a->nthreads, memory_order_relaxed);
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

/* ---- slabs ---- */

static edata_t *
slab_alloc(arena_t *a, unsigned ind)
{
    const bin_info_t *bi = &bin_infos[ind];
    edata_t *e = pa_alloc(&a->pa, bi->slab_size, PAGE, false);
    if (e == NULL)
        return NULL;
    e->slab = true;
    e->szind = (uint16_t)ind;
    e->nfree = bi->nregs;
    bitmap_init_full(&e->bitmap, bi->nregs);
    if (!emap_register_interior(e)) {
        emap_deregister_interior(e);
        e->slab = false;
        e->szind = SZIND_NONE;
        pa_dalloc(&a->pa, e);
        return NULL;
    }
    emap_update(e);
    return e;
}

static void
slab_dalloc(arena_t *a, edata_t *e)
{
    emap_deregister_interior(e);
    e->slab = false;
    e->szind = SZIND_NONE;
    pa_dalloc(&a->pa, e);
}

/* The slab to fill from: slabcur if it has room, else the oldest non-full
 * slab, else a new one.  NULL on OOM.  Bin lock held. */
static edata_t *
bin_slab_for_fill(arena_t *a, bin_t *bin, unsigned ind)
{
    if (bin->slabcur != NULL && bin->slabcur->nfree > 0)
        return bin->slabcur;
    hs_link_t *l = hs_list_first(&bin->nonfull);
    edata_t *e;
    if (l != NULL) {
        hs_list_remove(l);
        e = edata_of_bin_link(l);
    } else {
        e = slab_alloc(a, ind);
        if (e == NULL)
            return NULL;
        bin->curslabs++;
    }
    bin->slabcur = e;
    return e;
}

unsigned
arena_bin_fill(arena_t *a, unsigned ind, void **out, unsigned n)
{
    bin_t *bin = &a->bins[ind];
    size_t reg = bin_infos[ind].reg_size;
    unsigned got = 0;
    hs_mutex_lock(&bin->mtx);
    while (got < n) {
        edata_t *e = bin_slab_for_fill(a, bin, ind);
        if (e == NULL)
            break;
        uintptr_t base = edata_base(e);
        while (got < n && e->nfree > 0) {
            size_t r = bitmap_take_first(&e->bitmap);
            out[got++] = (void *)(base + r * reg);
            e->nfree--;
        }
    }
    bin->nfills += got;
    bin->curregs += got;
    hs_mutex_unlock(&bin->mtx);
    return got;
}

/* Returns one region to slab e; sets *r_empty when the slab became empty
 * and was detached from the bin.  Bin lock held. */
static void
bin_region_dalloc(bin_t *bin, edata_t *e, void *ptr, bool *r_empty)
{
    const bin_info_t *bi = &bin_infos[e->szind];
    uint32_t r = sz_region_index(e->szind, (uintptr_t)ptr - edata_base(e));
    if (r == UINT32_MAX)
        hs_fatal("free(): invalid pointer %p (inside a %zu-byte block)", ptr,
                 bi->reg_size);
    if (bitmap_get(&e->bitmap, r))
        hs_fatal("free(): double free of %p (%zu-byte block)", ptr,
                 bi->reg_size);
    bitmap_set(&e->bitmap, r);
    e->nfree++;
    *r_empty = false;
    if (e->nfree == bi->nregs) {
        if (bin->slabcur == e)
            bin->slabcur = NULL;
        else
            hs_list_remove(&e->bin_link);
        bin->curslabs--;
        *r_empty = true;
    } else if (e->nfree == 1 && bin->slabcur != e) {
        hs_list_push_back(&bin->nonfull, &e->bin_link);
    }
}

void
arena_bin_flush(unsigned ind, void **ptrs, unsigned n)
{
    while (n > 0) {
        edata_t *first = emap_entry_edata(emap_lookup(ptrs[0]));
        arena_t *a = arena_get(first->arena_ind);
        bin_t *bin = &a->bins[ind];
        hs_link_t empty;
        hs_list_init(&empty);
        unsigned rest = 0, done = 0;
        hs_mutex_lock(&bin->mtx);
        for (unsigned i = 0; i < n; i++) {
            edata_t *e = emap_entry_edata(emap_lookup(ptrs[i]));
            if (e->arena_ind != a->ind) {
                ptrs[rest++] = ptrs[i];
                continue;
            }
            bool now_empty;
            bin_region_dalloc(bin, e, ptrs[i], &now_empty);
            if (now_empty)
                hs_list_push_back(&empty, &e->bin_link);
            done++;
        }
        bin->nflushes += done;
        bin->curregs -= done;
        hs_mutex_unlock(&bin->mtx);
        hs_link_t *l;
        while ((l = hs_list_first(&empty)) != NULL) {
            hs_list_remove(l);
            slab_dalloc(a, edata_of_bin_link(l));
        }
        n = rest;
    }
}

/* ---- large ---- */

void *
arena_malloc_large(arena_t *a, size_t usize, size_t alignment, bool zero)
{
    edata_t *e = pa_alloc(&a->pa, usize, alignment < PAGE ? PAGE : alignment,
                          zero);
    if (e == NULL)
        return NULL;
    e->szind = (uint16_t)sz_size2index(usize);
    emap_update(e);
    atomic_fetch_add_explicit(&a->nlarge_malloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->large_allocated, usize,
                              memory_order_relaxed);
    return e->addr;
}

void
arena_dalloc_large(edata_t *e)
{
    arena_t *a = arena_get(e->arena_ind);
    atomic_fetch_add_explicit(&a->nlarge_dalloc, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&a->large_allocated, e->size,
                              memory_order_relaxed);
    pa_dalloc(&a->pa, e);
}

bool
arena_ralloc_large_in_place(edata_t *e, size_t new_usize, bool zero)
{
    arena_t *a = arena_get(e->arena_ind);
    size_t old = e->size;
    if (new_usize == old)
        return true;
    bool ok = new_usize > old ? pa_expand(&a->pa, e, new_usize, zero)
                              : pa_shrink(&a->pa, e, new_usize);
    if (!ok)
        return false;
    e->szind = (uint16_t)sz_size2index(new_usize);
    emap_update(e);
    if (new_usize > old)
        atomic_fetch_add_explicit(&a->large_allocated, new_usize - old,
                                  memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(&a->large_allocated, old - new_usize,
                                  memory_order_relaxed);
    return true;
}

size_t
arena_purge(arena_t *a)
{
    return pac_decay(&a->pa.pac, pac_now_ns(), true);
}

void
arena_decay_tick(arena_t *a)
{
    pac_decay_tick(&a->pa.pac, pac_now_ns());
}

void
arena_stats(arena_t *a, arena_stats_t *r)
{
    memset(r, 0, sizeof(*r));
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        bin_t *bin = &a->bins[i];
        hs_mutex_lock(&bin->mtx);
        r->small_allocated += bin->curregs * bin_infos[i].reg_size;
        r->active += bin->curslabs * bin_infos[i].slab_size;
        r->nslabs += bin->curslabs;
        r->nsmall_fills += bin->nfills;
        r->nsmall_flushes += bin->nflushes;
        hs_mutex_unlock(&bin->mtx);
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
