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

edata_cache_t edata_cache_default;

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
    e->manual = false;
    e->guard_off = 0;
    e->nfree = 0;
    e->dirty_ns = 0;
    e->prof_rec = NULL;
    e->prof_stack = NULL;
    e->junk_life = 0;
    e->ps = NULL;
    hs_list_init(&e->bin_link);
    hs_list_init(&e->eset_link);
    hs_list_init(&e->lru_link);
    hs_list_init(&e->active_link);
}

void
edata_cache_init(edata_cache_t *c, struct base_s *base)
{
    hs_mutex_init(&c->mtx, HS_RANK_EDATA_CACHE);
    hs_list_init(&c->free);
    c->base = base;
    c->in_use = c->cached = 0;
    c->nrecycled = 0;
}

edata_t *
edata_cache_get_from(edata_cache_t *c)
{
    hs_mutex_lock(&c->mtx);
    hs_link_t *l = hs_list_first(&c->free);
    if (l != NULL) {
        hs_list_remove(l);
        c->cached--;
        c->nrecycled++;
    }
    c->in_use++;
    hs_mutex_unlock(&c->mtx);
    if (l != NULL)
        return edata_of_eset_link(l);
    edata_t *e = base_alloc_from(c->base, sizeof(edata_t), HS_CACHELINE);
    if (e == NULL) {
        hs_mutex_lock(&c->mtx);
        c->in_use--;
        hs_mutex_unlock(&c->mtx);
    }
    return e;
}

void
edata_cache_put_to(edata_cache_t *c, edata_t *e)
{
    hs_mutex_lock(&c->mtx);
    hs_list_push_front(&c->free, &e->eset_link);
    c->cached++;
    c->in_use--;
    hs_mutex_unlock(&c->mtx);
}

void
edata_cache_forget(edata_cache_t *c)
{
    hs_mutex_lock(&c->mtx);
    hs_list_init(&c->free);
    c->in_use = c->cached = 0;
    hs_mutex_unlock(&c->mtx);
}

void
edata_cache_stats_of(edata_cache_t *c, size_t *r_in_use, size_t *r_cached,
                     uint64_t *r_nrecycled)
{
    hs_mutex_lock(&c->mtx);
    *r_in_use = c->in_use;
    *r_cached = c->cached;
    *r_nrecycled = c->nrecycled;
    hs_mutex_unlock(&c->mtx);
}

void
edata_cache_boot(void)
{
    edata_cache_init(&edata_cache_default, base_get_default());
}

edata_t *
edata_cache_get(void)
{
    return edata_cache_get_from(&edata_cache_default);
}

void
edata_cache_put(edata_t *e)
{
    edata_cache_put_to(&edata_cache_default, e);
}

void
edata_cache_stats(size_t *r_in_use, size_t *r_cached, uint64_t *r_nrecycled)
{
    edata_cache_stats_of(&edata_cache_default, r_in_use, r_cached, r_nrecycled);
}
