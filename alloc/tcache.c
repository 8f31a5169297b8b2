/*
 * tcache.c — filling, flushing and collecting thread cache bins, and the
 * pool of stack memory (see tcache.h).
 */
#include "tcache.h"

#include <string.h>

#include "extent/base.h"
#include "extent/emap.h"
#include "large.h"
#include "util/mutex.h"

#define TCACHE_SLOTS_MIN 20
#define TCACHE_SLOTS_MAX 200
#define TCACHE_LG_FILL_DIV_MAX 4
#define TCACHE_SLOTS_LARGE 8
/* A small bin grows to at most this many bytes of regions, and slots. */
#define TCACHE_ROOM_BYTES ((size_t)128 << 10)
#define TCACHE_ROOM_SLOTS 2048

static uint16_t ncached_max_of[TCACHE_NBINS]; /* base capacity */
static uint16_t room_of[TCACHE_NBINS];        /* stack slots */
static size_t slots_total;

static struct {
    hs_mutex_t mtx;
    void **free; /* guarded by mtx: stacks blocks, linked by first word */
} pool;

void
tcache_boot(void)
{
    hs_mutex_init(&pool.mtx, HS_RANK_TCACHE_POOL);
    slots_total = 0;
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        size_t n = (size_t)bin_infos[i].nregs * 2;
        if (n < TCACHE_SLOTS_MIN)
            n = TCACHE_SLOTS_MIN;
        if (n > TCACHE_SLOTS_MAX)
            n = TCACHE_SLOTS_MAX;
        ncached_max_of[i] = (uint16_t)n;
        size_t room = TCACHE_ROOM_BYTES / bin_infos[i].reg_size;
        if (room > TCACHE_ROOM_SLOTS)
            room = TCACHE_ROOM_SLOTS;
        if (room < n)
            room = n;
        room_of[i] = (uint16_t)room;
        slots_total += room;
    }
    for (unsigned i = SZ_NBINS; i < TCACHE_NBINS; i++) {
        ncached_max_of[i] = TCACHE_SLOTS_LARGE;
        room_of[i] = TCACHE_SLOTS_LARGE;
        slots_total += TCACHE_SLOTS_LARGE;
    }
    hs_assert_cheap(sz_index2size(TCACHE_NBINS - 1) == TCACHE_MAX);
}

static void **
pool_get(void)
{
    hs_mutex_lock(&pool.mtx);
    void **mem = pool.free;
    if (mem != NULL)
        pool.free = (void **)mem[0];
    hs_mutex_unlock(&pool.mtx);
    if (mem == NULL)
        mem = base_alloc(slots_total * sizeof(void *), HS_CACHELINE);
    return mem;
}

static void
pool_put(void **mem)
{
    hs_mutex_lock(&pool.mtx);
    mem[0] = (void *)pool.free;
    pool.free = mem;
    hs_mutex_unlock(&pool.mtx);
}

bool
tcache_init(tcache_t *t)
{
    void **mem = pool_get();
    if (mem == NULL)
        return false;
    t->mem = mem;
    t->gc_bin = 0;
    size_t off = 0;
    for (unsigned i = 0; i < TCACHE_NBINS; i++) {
        cache_bin_t *b = &t->bins[i];
        b->stack = mem + off;
        b->ncached = 0;
        b->low_water = 0;
        b->lg_fill_div = 1;
        t->fill_run[i] = 0;
        b->ncached_max = ncached_max_of[i];
        off += room_of[i];
    }
    return true;
}

void
tcache_destroy(tcache_t *t)
{
    if (t->mem == NULL)
        return;
    tcache_flush_all(t);
    for (unsigned i = 0; i < TCACHE_NBINS; i++)
        t->bins[i].ncached_max = 0;
    pool_put(t->mem);
    t->mem = NULL;
}

void *
tcache_alloc_fill(tcache_t *t, arena_t *a, unsigned ind)
{
    cache_bin_t *b = &t->bins[ind];
    unsigned want = b->ncached_max >> b->lg_fill_div;
    if (want == 0)
        want = 1;
    /* Fill so the lowest addresses are popped first: the arena hands them
     * out in ascending order, and the stack pops from the top. */
    void **dst = b->stack + b->ncached;
    unsigned got = arena_bin_fill(a, ind, dst, want);
    if (got == 0)
        return NULL;
    for (unsigned i = 0; i < got / 2; i++) {
        void *tmp = dst[i];
        dst[i] = dst[got - 1 - i];
        dst[got - 1 - i] = tmp;
    }
    b->ncached = (uint16_t)(b->ncached + got - 1);
    b->low_water = 0;
    unsigned run = t->fill_run[ind] + got;
    t->fill_run[ind] = (uint16_t)(run > UINT16_MAX ? UINT16_MAX : run);
    return b->stack[b->ncached];
}

void *
tcache_alloc(tcache_t *t, arena_t *a, unsigned ind)
{
    cache_bin_t *b = &t->bins[ind];
    if (b->ncached == 0)
        return tcache_alloc_fill(t, a, ind);
    unsigned n = --b->ncached;
    if (n < b->low_water)
        b->low_water = (uint16_t)n;
    return b->stack[n];
}

void
tcache_flush_bin(tcache_t *t, unsigned ind, unsigned keep)
{
    cache_bin_t *b = &t->bins[ind];
    if (b->ncached <= keep)
        return;
    unsigned n = b->ncached - keep;
    if (ind < SZ_NBINS) {
        arena_bin_flush(ind, b->stack, n);
    } else {
        for (unsigned i = 0; i < n; i++)
            large_dalloc(emap_entry_edata(emap_lookup(b->stack[i])));
    }
    memmove(b->stack, b->stack + n, keep * sizeof(void *));
    b->ncached = (uint16_t)keep;
    t->fill_run[ind] = 0;
    if (b->low_water > keep)
        b->low_water = (uint16_t)keep;
}

void
tcache_make_room(tcache_t *t, unsigned ind)
{
    cache_bin_t *b = &t->bins[ind];
    if (t->fill_run[ind] >= b->ncached_max && b->ncached_max < room_of[ind]) {
        unsigned grown = 2u * b->ncached_max;
        b->ncached_max =
            (uint16_t)(grown < room_of[ind] ? grown : room_of[ind]);
        return;
    }
    tcache_flush_bin(t, ind, b->ncached_max / 2);
}

unsigned
tcache_base_slots(unsigned ind)
{
    return ncached_max_of[ind];
}

unsigned
tcache_room_slots(unsigned ind)
{
    return room_of[ind];
}

void
tcache_flush_all(tcache_t *t)
{
    for (unsigned i = 0; i < TCACHE_NBINS; i++)
        tcache_flush_bin(t, i, 0);
}

void
tcache_gc_step(tcache_t *t)
{
    unsigned ind = t->gc_bin;
    t->gc_bin = (ind + 1) % TCACHE_NBINS;
    cache_bin_t *b = &t->bins[ind];
    if (b->ncached_max == 0)
        return;
    if (b->low_water > 0) {
        /* These sat unused for a whole GC round: give back 3/4 of them,
         * fill less eagerly next time, and halve a grown capacity. */
        unsigned keep = b->ncached - (b->low_water - b->low_water / 4);
        if (b->ncached_max > ncached_max_of[ind]) {
            unsigned half = b->ncached_max / 2u;
            if (half < ncached_max_of[ind])
                half = ncached_max_of[ind];
            b->ncached_max = (uint16_t)half;
            if (keep > half)
                keep = half;
        }
        tcache_flush_bin(t, ind, keep);
        if (b->lg_fill_div < TCACHE_LG_FILL_DIV_MAX &&
            (b->ncached_max >> (b->lg_fill_div + 1)) >= 1)
            b->lg_fill_div++;
    } else if (b->lg_fill_div > 1) {
        /* The bin ran dry since the last visit: fill more. */
        b->lg_fill_div--;
    }
    b->low_water = b->ncached;
}

size_t
tcache_cached_bytes(const tcache_t *t)
{
    size_t n = 0;
    for (unsigned i = 0; i < TCACHE_NBINS; i++)
        n += (size_t)t->bins[i].ncached * sz_index2size(i);
    return n;
}
