/*
 * ecache.c — the extent algorithms over one locked eset (see ecache.h).
 */
#include "ecache.h"

#include "emap.h"

void
ecache_init(ecache_t *c, extent_state_t state, unsigned arena_ind,
            extent_ctx_t *ctx)
{
    c->ctx = ctx;
    hs_mutex_init(&c->mtx, HS_RANK_ECACHE);
    eset_init(&c->eset, state);
    eset_init(&c->guarded, state);
    c->arena_ind = arena_ind;
}

edata_t *
extent_split(extent_ctx_t *ctx, edata_t *e, size_t size_a)
{
    hs_assert(size_a % PAGE == 0 && size_a > 0 && size_a < e->size);
    if (!ehooks_split(&ctx->eh, e->addr, e->size, size_a))
        return NULL;
    edata_t *b = edata_cache_get_from(ctx->edc);
    if (b == NULL)
        return NULL;
    edata_init(b, e->arena_ind, (void *)(edata_base(e) + size_a),
               e->size - size_a, (extent_state_t)e->state, e->zeroed, false);
    b->dirty_ns = e->dirty_ns; /* a piece is as old as the whole */
    b->manual = e->manual;
    if (!emap_register_boundary(b)) {
        edata_cache_put_to(ctx->edc, b);
        return NULL;
    }
    e->size = size_a;
    emap_update(e);
    return b;
}

/* Absorbs b, which directly follows a, into a; b's descriptor is freed.
 * The result is as old as the older part: an extent that keeps absorbing
 * fresh frees must still decay. */
static void
extent_merge(extent_ctx_t *ctx, edata_t *a, edata_t *b)
{
    if (b->dirty_ns < a->dirty_ns)
        a->dirty_ns = b->dirty_ns;
    hs_assert(edata_past(a) == edata_base(b));
    uintptr_t a_last = edata_past(a) - PAGE;
    if (a_last != edata_base(a))
        rtree_write(a_last, 0);
    if (edata_base(b) != edata_past(b) - PAGE)
        rtree_write(edata_base(b), 0);
    a->size += b->size;
    a->zeroed = a->zeroed && b->zeroed;
    emap_update(a);
    edata_cache_put_to(ctx->edc, b);
}

/*
 * The neighbour behind entry if it is a member of c's (unguarded) set,
 * else NULL.  The rtree entry is read first — state (and guard) as c
 * expects, or the neighbour is not considered at all; only then its
 * descriptor (always valid memory: descriptors are never unmapped) for the
 * arena and state, which change only under c's lock, held here.
 */
static edata_t *
member_of(ecache_t *c, emap_entry_t entry)
{
    if (entry == 0 || emap_entry_guarded(entry) ||
        emap_entry_state(entry) != c->eset.state)
        return NULL;
    edata_t *n = emap_entry_edata(entry);
    if (n->arena_ind != c->arena_ind || n->state != c->eset.state || n->guarded)
        return NULL;
    return n;
}

/* Whether a and b (b directly after a, both in c's set) may become one:
 * with heapsight's own pages always (Linux handles mappings that touch);
 * with hooks, when the merge hook agrees — asked only now that both are
 * known to be this arena's, in this state — and the hooks can split: an
 * extent that cannot be split again serves only requests of its exact
 * size, and a merged one would serve none. */
static bool
may_merge(ecache_t *c, edata_t *a, edata_t *b)
{
    return ehooks_can_split(&c->ctx->eh) &&
           ehooks_merge(&c->ctx->eh, a->addr, a->size, b->addr, b->size);
}

static edata_t *
coalesce(ecache_t *c, edata_t *e)
{
    for (;;) {
        edata_t *next = member_of(c, emap_next_entry(e));
        if (next != NULL && edata_base(next) == edata_past(e) &&
            may_merge(c, e, next)) {
            eset_remove(&c->eset, next);
            extent_merge(c->ctx, e, next);
            continue;
        }
        edata_t *prev = member_of(c, emap_prev_entry(e));
        if (prev != NULL && edata_past(prev) == edata_base(e) &&
            may_merge(c, prev, e)) {
            eset_remove(&c->eset, prev);
            extent_merge(c->ctx, prev, e);
            e = prev;
            continue;
        }
        return e;
    }
}

/* Marks e private (active) so that no coalescing reaches it. */
static eset_t *
set_of(ecache_t *c, const edata_t *e)
{
    return e->guarded ? &c->guarded : &c->eset;
}

static void
take_private(ecache_t *c, edata_t *e)
{
    eset_remove(set_of(c, e), e);
    e->state = EXTENT_ACTIVE;
    emap_update(e);
}

static void
give_back(ecache_t *c, edata_t *e)
{
    e->state = (uint8_t)c->eset.state;
    emap_update(e);
    eset_insert(set_of(c, e), e);
}

edata_t *
ecache_alloc(ecache_t *c, size_t size, size_t alignment)
{
    hs_mutex_lock(&c->mtx);
    edata_t *e;
    if (ehooks_can_split(&c->ctx->eh)) {
        e = eset_fit(&c->eset, size, alignment);
    } else {
        /* Hooks that cannot split: only a whole extent of the size. */
        e = eset_fit_exact(&c->eset, size, 0);
        if (e != NULL && edata_base(e) % (alignment < PAGE ? PAGE : alignment))
            e = NULL;
    }
    if (e == NULL) {
        hs_mutex_unlock(&c->mtx);
        return NULL;
    }
    take_private(c, e);
    size_t lead = align_up(edata_base(e), alignment) - edata_base(e);
    if (lead != 0) {
        edata_t *rest = extent_split(c->ctx, e, lead);
        if (rest == NULL) {
            give_back(c, e);
            hs_mutex_unlock(&c->mtx);
            return NULL;
        }
        give_back(c, e);
        e = rest;
    }
    if (e->size > size) {
        edata_t *trail = extent_split(c->ctx, e, size);
        if (trail == NULL) {
            give_back(c, e);
            hs_mutex_unlock(&c->mtx);
            return NULL;
        }
        give_back(c, trail);
    }
    hs_mutex_unlock(&c->mtx);
    return e;
}

void
ecache_dalloc(ecache_t *c, edata_t *e, uint64_t now_ns)
{
    hs_mutex_lock(&c->mtx);
    e->szind = SZIND_NONE;
    e->slab = false;
    e->dirty_ns = now_ns;
    if (!e->guarded)
        e = coalesce(c, e);
    give_back(c, e);
    hs_mutex_unlock(&c->mtx);
}

bool
ecache_expand(ecache_t *c, edata_t *e, size_t new_size, bool *r_zeroed)
{
    size_t need = new_size - e->size;
    hs_mutex_lock(&c->mtx);
    edata_t *next = member_of(c, emap_next_entry(e));
    if (next == NULL || edata_base(next) != edata_past(e) ||
        next->size < need) {
        hs_mutex_unlock(&c->mtx);
        return false;
    }
    /* The neighbour is cut to size first, so that the merge hook is asked
     * only about the merge that follows. */
    take_private(c, next);
    if (next->size > need) {
        edata_t *trail = extent_split(c->ctx, next, need);
        if (trail == NULL) {
            give_back(c, next);
            hs_mutex_unlock(&c->mtx);
            return false;
        }
        give_back(c, trail);
    }
    if (!ehooks_merge(&c->ctx->eh, e->addr, e->size, next->addr, need)) {
        give_back(c, next);
        hs_mutex_unlock(&c->mtx);
        return false;
    }
    *r_zeroed = next->zeroed;
    /* e keeps its size class entry; the caller rewrites it. */
    bool zeroed = e->zeroed;
    extent_merge(c->ctx, e, next);
    e->zeroed = zeroed;
    hs_mutex_unlock(&c->mtx);
    return true;
}

bool
ecache_shrink(ecache_t *c, edata_t *e, size_t new_size, uint64_t now_ns)
{
    edata_t *trail = extent_split(c->ctx, e, new_size);
    if (trail == NULL)
        return false;
    trail->zeroed = false; /* it was part of an active extent */
    ecache_dalloc(c, trail, now_ns);
    return true;
}

edata_t *
ecache_evict(ecache_t *c, uint64_t before_ns)
{
    hs_mutex_lock(&c->mtx);
    edata_t *e = eset_oldest(&c->eset), *g = eset_oldest(&c->guarded);
    if (e == NULL || (g != NULL && g->dirty_ns < e->dirty_ns))
        e = g;
    if (e != NULL && e->dirty_ns <= before_ns)
        take_private(c, e);
    else
        e = NULL;
    hs_mutex_unlock(&c->mtx);
    return e;
}

edata_t *
ecache_evict_from(ecache_t *c, bool guarded)
{
    hs_mutex_lock(&c->mtx);
    edata_t *e = eset_oldest(guarded ? &c->guarded : &c->eset);
    if (e != NULL)
        take_private(c, e);
    hs_mutex_unlock(&c->mtx);
    return e;
}

size_t
ecache_npages(ecache_t *c)
{
    hs_mutex_lock(&c->mtx);
    size_t n = c->eset.npages + c->guarded.npages;
    hs_mutex_unlock(&c->mtx);
    return n;
}

edata_t *
ecache_alloc_guarded(ecache_t *c, size_t size, uint32_t off)
{
    hs_mutex_lock(&c->mtx);
    edata_t *e = eset_fit_exact(&c->guarded, size, off);
    if (e != NULL)
        take_private(c, e);
    hs_mutex_unlock(&c->mtx);
    return e;
}
