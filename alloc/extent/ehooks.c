/*
 * ehooks.c — calls into an arena's page source (see ehooks.h).
 */
#include "ehooks.h"

#include "../os/pages.h"
#include "../util/util.h"

void *
ehooks_alloc(ehooks_t *h, size_t size, size_t alignment, bool *r_zeroed)
{
    if (h->hooks == NULL || h->hooks->alloc == NULL) {
        *r_zeroed = true;
        return pages_map(size, alignment);
    }
    bool zero = false, commit = true;
    void *p = h->hooks->alloc(h->hooks, NULL, size, alignment, &zero, &commit,
                              h->arena_ind);
    if (p == NULL)
        return NULL;
    if (((uintptr_t)p & (alignment - 1)) != 0) {
        /* A hook that ignores the alignment: unusable memory. */
        ehooks_release(h, p, size);
        return NULL;
    }
    if (!commit &&
        (h->hooks->commit == NULL ||
         h->hooks->commit(h->hooks, p, size, 0, size, h->arena_ind))) {
        ehooks_release(h, p, size);
        return NULL;
    }
    *r_zeroed = zero;
    return p;
}

void
ehooks_release(ehooks_t *h, void *addr, size_t size)
{
    if (h->hooks == NULL) {
        pages_unmap(addr, size);
        return;
    }
    if (h->hooks->dalloc != NULL &&
        !h->hooks->dalloc(h->hooks, addr, size, true, h->arena_ind))
        return;
    if (h->hooks->destroy != NULL)
        h->hooks->destroy(h->hooks, addr, size, true, h->arena_ind);
}

void
ehooks_destroy(ehooks_t *h, void *addr, size_t size)
{
    if (h->hooks == NULL)
        pages_unmap(addr, size);
    else if (h->hooks->destroy != NULL)
        h->hooks->destroy(h->hooks, addr, size, true, h->arena_ind);
    else if (h->hooks->dalloc != NULL)
        (void)h->hooks->dalloc(h->hooks, addr, size, true, h->arena_ind);
}

bool
ehooks_purge_lazy(ehooks_t *h, void *addr, size_t size)
{
    if (h->hooks == NULL)
        return pages_purge_lazy(addr, size);
    return h->hooks->purge_lazy != NULL &&
           !h->hooks->purge_lazy(h->hooks, addr, size, 0, size, h->arena_ind);
}

bool
ehooks_purge_forced(ehooks_t *h, void *addr, size_t size)
{
    if (h->hooks == NULL)
        return pages_purge_forced(addr, size);
    return h->hooks->purge_forced != NULL &&
           !h->hooks->purge_forced(h->hooks, addr, size, 0, size, h->arena_ind);
}

bool
ehooks_can_purge_lazy(const ehooks_t *h)
{
    return h->hooks == NULL || h->hooks->purge_lazy != NULL;
}

bool
ehooks_can_purge_forced(const ehooks_t *h)
{
    return h->hooks == NULL || h->hooks->purge_forced != NULL;
}

bool
ehooks_can_split(const ehooks_t *h)
{
    return h->hooks == NULL ||
           (h->hooks->split != NULL &&
            !atomic_load_explicit(&h->split_refused, memory_order_relaxed));
}

bool
ehooks_split(ehooks_t *h, void *addr, size_t size, size_t size_a)
{
    if (h->hooks == NULL)
        return true;
    if (!ehooks_can_split(h))
        return false;
    if (!h->hooks->split(h->hooks, addr, size, size_a, size - size_a, true,
                         h->arena_ind))
        return true;
    atomic_store_explicit(&h->split_refused, true, memory_order_relaxed);
    return false;
}

bool
ehooks_merge(ehooks_t *h, void *a, size_t size_a, void *b, size_t size_b)
{
    if (h->hooks == NULL)
        return true;
    return h->hooks->merge != NULL &&
           !h->hooks->merge(h->hooks, a, size_a, b, size_b, true, h->arena_ind);
}
