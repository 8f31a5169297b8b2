/*
 * edata.c — descriptor initialization and the edata cache (see edata.h).
 *
 * The cache is deliberately simple: an unbounded LIFO list under one mutex,
 * refilled from base memory one descriptor at a time.  Its use is counted
 * so stats can show how many descriptors exist and how often they recycle.
 */
#include "edata.h"

#include <string.h>

#include "../util/mutex.h"
#include "base.h"

static struct {
    hs_mutex_t mtx;
    hs_link_t free;     /* guarded by mtx */
    size_t in_use;      /* guarded by mtx */
    size_t cached;      /* guarded by mtx */
    uint64_t nrecycled; /* guarded by mtx */
} cache;

void
edata_init(edata_t *e, unsigned arena_ind, void *addr, size_t size,
           extent_state_t state, bool zeroed, bool head)
{
    e->addr = addr;
    e->size = size;
    e->arena_ind = arena_ind;
    e->szind = SZIND_NONE;
    e->state = (uint8_t)state;
    e->slab = false;
    e->zeroed = zeroed;
    e->head = head;
    e->guarded = false;
    e->guard_off = 0;
    e->nfree = 0;
    e->dirty_ns = 0;
    e->prof_rec = NULL;
    hs_list_init(&e->bin_link);
    hs_list_init(&e->eset_link);
    hs_list_init(&e->lru_link);
}

void
edata_cache_boot(void)
{
    hs_mutex_init(&cache.mtx, HS_RANK_EDATA_CACHE);
    hs_list_init(&cache.free);
}

edata_t *
edata_cache_get(void)
{
    hs_mutex_lock(&cache.mtx);
    hs_link_t *l = hs_list_first(&cache.free);
    if (l != NULL) {
        hs_list_remove(l);
        cache.cached--;
        cache.nrecycled++;
    }
    cache.in_use++;
    hs_mutex_unlock(&cache.mtx);
    if (l != NULL)
        return edata_of_eset_link(l);
    edata_t *e = base_alloc(sizeof(edata_t), HS_CACHELINE);
    if (e == NULL) {
        hs_mutex_lock(&cache.mtx);
        cache.in_use--;
        hs_mutex_unlock(&cache.mtx);
    }
    return e;
}

void
edata_cache_put(edata_t *e)
{
    hs_mutex_lock(&cache.mtx);
    hs_list_push_front(&cache.free, &e->eset_link);
    cache.cached++;
    cache.in_use--;
    hs_mutex_unlock(&cache.mtx);
}

void
edata_cache_stats(size_t *r_in_use, size_t *r_cached, uint64_t *r_nrecycled)
{
    hs_mutex_lock(&cache.mtx);
    *r_in_use = cache.in_use;
    *r_cached = cache.cached;
    *r_nrecycled = cache.nrecycled;
    hs_mutex_unlock(&cache.mtx);
}
