/*
 * large.c — large allocations: sizes above the largest small class, each
 * one whole extent of its arena's page allocator (see large.h).
 *
 * Counters live in the arena (atomics); the extent itself is owned by the
 * allocation while active, so no lock is taken here beyond the page
 * allocator's own.
 */
#include "large.h"

#include "check.h"
#include "extent/emap.h"

void *
large_malloc(arena_t *a, size_t usize, size_t alignment, bool zero)
{
    edata_t *e =
        pa_alloc(&a->pa, usize, alignment < PAGE ? PAGE : alignment, zero);
    if (e == NULL)
        return NULL;
    e->szind = (uint16_t)sz_size2index(usize);
    e->prof_stack = NULL; /* a new allocation: none sampled yet */
    if (check_junk_free)
        check_new_life(e);
    emap_update(e);
    atomic_fetch_add_explicit(&a->nlarge_malloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->large_allocated, usize, memory_order_relaxed);
    return e->addr;
}

void *
large_malloc_promoted(arena_t *a, unsigned ind, size_t alignment, bool zero)
{
    size_t size = align_up(sz_index2size(ind), PAGE);
    edata_t *e =
        pa_alloc(&a->pa, size, alignment < PAGE ? PAGE : alignment, zero);
    if (e == NULL)
        return NULL;
    e->szind = (uint16_t)ind;
    e->prof_stack = NULL;
    if (check_junk_free)
        check_new_life(e);
    emap_update(e);
    atomic_fetch_add_explicit(&a->nlarge_malloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->large_allocated, size, memory_order_relaxed);
    return e->addr;
}

void *
large_malloc_guarded(arena_t *a, unsigned ind, size_t usize, size_t alignment,
                     bool zero)
{
    edata_t *e = pa_alloc_guarded(&a->pa, usize, alignment, zero);
    if (e == NULL)
        return NULL;
    e->szind = (uint16_t)ind;
    e->prof_stack = NULL;
    emap_update(e);
    atomic_fetch_add_explicit(&a->nlarge_malloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->large_allocated, e->size,
                              memory_order_relaxed);
    return (char *)e->addr + e->guard_off;
}

void
large_dalloc(edata_t *e)
{
    arena_t *a = arena_get(e->arena_ind);
    atomic_fetch_add_explicit(&a->nlarge_dalloc, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&a->large_allocated, e->size,
                              memory_order_relaxed);
    pa_dalloc(&a->pa, e);
}

bool
large_ralloc_in_place(edata_t *e, size_t new_usize, bool zero)
{
    arena_t *a = arena_get(e->arena_ind);
    size_t old = e->size;
    if (e->guarded)
        return false; /* its end is the guard */
    /* A promoted small allocation already spans whole pages: the same
     * extent may serve a large class, but its size class must change. */
    bool ok = new_usize == old ||
              (new_usize > old ? pa_expand(&a->pa, e, new_usize, zero)
                               : pa_shrink(&a->pa, e, new_usize));
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
