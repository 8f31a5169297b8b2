/*
 * tcache.c — unit tests of alloc/tcache: tcache_init lays the bins' stacks
 * out side by side with their capacities; tcache_alloc_fill brings
 * ncached_max >> lg_fill_div regions from the arena and pops the lowest;
 * tcache_flush_bin keeps the newest `keep` regions and returns the rest;
 * a GC visit after a round in which regions sat unused returns 3/4 of
 * them and fills less next time; a full bin whose fills brought its
 * capacity since its last flush doubles its capacity up to its room
 * instead of flushing, a bin never filled or filled less flushes, and
 * the GC halves a grown capacity that sat
 * unused; tcache_destroy returns everything and recycles the stacks;
 * large bins hand whole extents back.
 *
 * Boots with 16 arenas; each test fills from its own arena.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "boot.h"
#include "extent/emap.h"
#include "large.h"
#include "opts.h"
#include "sz.h"
#include "tcache.h"

static void
do_boot(void)
{
    opts_parse_string("narenas:16");
    if (!hs_boot())
        abort();
}

static arena_t *
test_arena(unsigned ind)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
    return arena_get(ind);
}

static size_t
curregs(arena_t *a, unsigned ind)
{
    hs_mutex_lock(&a->bins[ind].mtx);
    size_t n = a->bins[ind].curregs;
    hs_mutex_unlock(&a->bins[ind].mtx);
    return n;
}

static unsigned
expected_max(unsigned ind)
{
    if (ind >= SZ_NBINS)
        return 8;
    unsigned n = 2 * bin_infos[ind].nregs;
    return n < 20 ? 20 : n > 200 ? 200 : n;
}

HS_TEST(init_layout)
{
    HS_ASSERT_NOT_NULL(test_arena(0));
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    HS_ASSERT_NOT_NULL(t.mem);
    HS_EXPECT_EQ_U64(t.gc_bin, 0);
    void **next = t.mem;
    for (unsigned i = 0; i < TCACHE_NBINS; i++) {
        cache_bin_t *b = &t.bins[i];
        HS_EXPECT_EQ_PTR(b->stack, next);
        HS_EXPECT_EQ_U64(b->ncached, 0);
        HS_EXPECT_EQ_U64(b->low_water, 0);
        HS_EXPECT_EQ_U64(b->lg_fill_div, 1);
        HS_EXPECT_EQ_U64(b->ncached_max, expected_max(i));
        HS_EXPECT_EQ_U64(t.fill_run[i], 0);
        HS_EXPECT_GE_U64(tcache_room_slots(i), b->ncached_max);
        next += tcache_room_slots(i);
    }
    HS_EXPECT_EQ_SIZE(tcache_cached_bytes(&t), 0);
    tcache_destroy(&t);
    HS_EXPECT_NULL(t.mem);
}

HS_TEST(alloc_fill_pops_lowest_first)
{
    arena_t *a = test_arena(1);
    HS_ASSERT_NOT_NULL(a);
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    unsigned ind = sz_size2index(128);
    cache_bin_t *b = &t.bins[ind];
    unsigned want = b->ncached_max >> b->lg_fill_div;
    size_t regs0 = curregs(a, ind);
    void *p = tcache_alloc_fill(&t, a, ind);
    HS_ASSERT_NOT_NULL(p);
    HS_EXPECT_EQ_U64(b->ncached, want - 1);
    HS_EXPECT_EQ_U64(b->low_water, 0);
    /* The whole batch counts as allocated in the arena. */
    HS_EXPECT_EQ_SIZE(curregs(a, ind) - regs0, want);
    emap_entry_t ent = emap_lookup(p);
    HS_EXPECT_TRUE(emap_entry_slab(ent));
    HS_EXPECT_EQ_U64(emap_entry_szind(ent), ind);
    HS_EXPECT_EQ_U64(emap_entry_edata(ent)->arena_ind, 1);
    /* Pops come out in ascending address order: the top of the stack is
     * the next lowest. */
    uintptr_t prev = (uintptr_t)p;
    for (int i = (int)b->ncached - 1; i >= 0; i--) {
        HS_EXPECT_GT_U64((uintptr_t)b->stack[i], prev);
        prev = (uintptr_t)b->stack[i];
    }
    HS_EXPECT_EQ_PTR(b->stack[b->ncached - 1], (char *)p + 128);
    HS_EXPECT_EQ_SIZE(tcache_cached_bytes(&t), (size_t)(want - 1) * 128);
    /* Give p back as free() would and tear down: all regions return. */
    b->stack[b->ncached++] = p;
    tcache_destroy(&t);
    HS_EXPECT_EQ_SIZE(curregs(a, ind), regs0);
}

HS_TEST(flush_bin_keeps_the_newest)
{
    arena_t *a = test_arena(2);
    HS_ASSERT_NOT_NULL(a);
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    unsigned ind = sz_size2index(48);
    cache_bin_t *b = &t.bins[ind];
    size_t regs0 = curregs(a, ind);
    void *p = tcache_alloc_fill(&t, a, ind);
    HS_ASSERT_NOT_NULL(p);
    b->stack[b->ncached++] = p;
    unsigned n = b->ncached;
    HS_ASSERT_TRUE(n > 10);
    void *newest[10];
    memcpy(newest, b->stack + n - 10, sizeof newest);
    b->low_water = (uint16_t)(n - 1);
    tcache_flush_bin(&t, ind, 10);
    HS_EXPECT_EQ_U64(b->ncached, 10);
    HS_EXPECT_LE_U64(b->low_water, 10);
    for (int i = 0; i < 10; i++)
        HS_EXPECT_EQ_PTR(b->stack[i], newest[i]);
    HS_EXPECT_EQ_SIZE(curregs(a, ind) - regs0, 10);
    /* Keeping more than there is does nothing. */
    tcache_flush_bin(&t, ind, 50);
    HS_EXPECT_EQ_U64(b->ncached, 10);
    HS_EXPECT_EQ_SIZE(curregs(a, ind) - regs0, 10);
    tcache_flush_bin(&t, ind, 0);
    HS_EXPECT_EQ_U64(b->ncached, 0);
    HS_EXPECT_EQ_SIZE(curregs(a, ind), regs0);
    tcache_destroy(&t);
}

HS_TEST(gc_step_returns_unused_regions)
{
    arena_t *a = test_arena(3);
    HS_ASSERT_NOT_NULL(a);
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    unsigned ind = sz_size2index(256);
    cache_bin_t *b = &t.bins[ind];
    size_t regs0 = curregs(a, ind);
    void *p = tcache_alloc_fill(&t, a, ind);
    HS_ASSERT_NOT_NULL(p);
    b->stack[b->ncached++] = p; /* freed again: cached, unused */
    unsigned cached = b->ncached;
    HS_ASSERT_TRUE(cached >= 8);

    /* First visit: the bin was filled since (low water 0), so nothing is
     * dropped; the visit records the low-water mark. */
    t.gc_bin = ind;
    tcache_gc_step(&t);
    HS_EXPECT_EQ_U64(t.gc_bin, (ind + 1) % TCACHE_NBINS);
    HS_EXPECT_EQ_U64(b->ncached, cached);
    HS_EXPECT_EQ_U64(b->low_water, cached);
    /* A whole round passes without the bin being used. */
    for (unsigned i = 1; i < TCACHE_NBINS; i++)
        tcache_gc_step(&t);
    HS_EXPECT_EQ_U64(t.gc_bin, ind);
    HS_EXPECT_EQ_U64(b->ncached, cached);
    /* Second visit: 3/4 of the unused regions go back to the arena. */
    tcache_gc_step(&t);
    unsigned drop = cached - cached / 4;
    HS_EXPECT_EQ_U64(b->ncached, cached - drop);
    HS_EXPECT_LT_U64(b->ncached, cached);
    HS_EXPECT_EQ_SIZE(curregs(a, ind) - regs0, cached - drop);
    HS_EXPECT_EQ_U64(b->lg_fill_div, 2);
    HS_EXPECT_EQ_U64(b->low_water, b->ncached);
    tcache_destroy(&t);
    HS_EXPECT_EQ_SIZE(curregs(a, ind), regs0);
}

HS_TEST(gc_step_spares_used_regions)
{
    arena_t *a = test_arena(4);
    HS_ASSERT_NOT_NULL(a);
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    unsigned ind = sz_size2index(32);
    cache_bin_t *b = &t.bins[ind];
    void *p = tcache_alloc_fill(&t, a, ind);
    HS_ASSERT_NOT_NULL(p);
    b->stack[b->ncached++] = p;
    t.gc_bin = ind;
    tcache_gc_step(&t); /* low_water = ncached */
    /* The program pops all but 4 (tracking the low-water mark as the
     * fast path does), then frees a few back. */
    void *held[256];
    unsigned nheld = 0;
    while (b->ncached > 4) {
        held[nheld++] = b->stack[--b->ncached];
        if (b->ncached < b->low_water)
            b->low_water = b->ncached;
    }
    for (unsigned i = 0; i < 3; i++)
        b->stack[b->ncached++] = held[--nheld];
    unsigned cached = b->ncached; /* 7, of which 4 sat unused */
    for (unsigned i = 1; i < TCACHE_NBINS; i++)
        tcache_gc_step(&t);
    tcache_gc_step(&t);
    HS_EXPECT_EQ_U64(b->ncached, cached - (4 - 4 / 4));
    /* Bins the GC visits after they ran dry fill more eagerly again. */
    b->lg_fill_div = 3;
    b->low_water = 0;
    t.gc_bin = ind;
    tcache_gc_step(&t);
    HS_EXPECT_EQ_U64(b->lg_fill_div, 2);
    while (nheld > 0)
        b->stack[b->ncached++] = held[--nheld];
    tcache_destroy(&t);
}

/* A region of class ind from cache t, filled from arena a when empty. */
static void *
take(tcache_t *t, arena_t *a, unsigned ind)
{
    cache_bin_t *b = &t->bins[ind];
    return b->ncached > 0 ? b->stack[--b->ncached]
                          : tcache_alloc_fill(t, a, ind);
}

/* Frees region p of class ind into t as free_slow does: a full bin makes
 * room first. */
static void
free_into(tcache_t *t, unsigned ind, void *p)
{
    cache_bin_t *b = &t->bins[ind];
    if (b->ncached == b->ncached_max)
        tcache_make_room(t, ind);
    b->stack[b->ncached++] = p;
}

HS_TEST(full_bin_grows_after_a_fill_and_flushes_without_one)
{
    arena_t *a = test_arena(7);
    HS_ASSERT_NOT_NULL(a);
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    unsigned ind = sz_size2index(16);
    cache_bin_t *b = &t.bins[ind];
    unsigned base = tcache_base_slots(ind), room = tcache_room_slots(ind);
    HS_ASSERT_EQ_U64(b->ncached_max, base);
    HS_ASSERT_GE_U64(room, 4 * base);
    HS_ASSERT_LE_U64(room * sz_index2size(ind), (size_t)128 << 10);

    /* A batch of 3 x base regions taken from the arena by fills, then
     * freed back: each overflow doubles the capacity, nothing is flushed,
     * and the next batch is served from the cache alone. */
    size_t regs0 = curregs(a, ind);
    unsigned n = 3 * base;
    void **batch = calloc(n, sizeof *batch);
    HS_ASSERT_NOT_NULL(batch);
    for (unsigned i = 0; i < n; i++) {
        batch[i] = take(&t, a, ind);
        HS_ASSERT_NOT_NULL(batch[i]);
    }
    HS_EXPECT_EQ_U64(t.fill_run[ind], n);
    size_t taken = curregs(a, ind) - regs0;
    for (unsigned i = 0; i < n; i++)
        free_into(&t, ind, batch[i]);
    HS_EXPECT_EQ_U64(b->ncached_max, 4 * base);
    HS_EXPECT_EQ_SIZE(curregs(a, ind) - regs0, taken); /* no flush */
    for (unsigned i = 0; i < n; i++) {
        HS_ASSERT_GT_U64(b->ncached, 0);
        batch[i] = b->stack[--b->ncached];
    }
    HS_EXPECT_EQ_SIZE(curregs(a, ind) - regs0, taken); /* no fill */
    for (unsigned i = 0; i < n; i++)
        free_into(&t, ind, batch[i]);

    /* Growth stops at the room (the regions come from a second cache,
     * as a fill writes its whole batch into the bin). */
    static tcache_t src;
    HS_ASSERT_TRUE(tcache_init(&src));
    b->ncached_max = (uint16_t)(room - 1);
    t.fill_run[ind] = (uint16_t)room;
    while (b->ncached < b->ncached_max)
        b->stack[b->ncached++] = take(&src, a, ind);
    tcache_make_room(&t, ind);
    HS_EXPECT_EQ_U64(b->ncached_max, room);
    HS_EXPECT_EQ_U64(b->ncached, room - 1);
    /* Full at the room: the oldest half is flushed. */
    b->stack[b->ncached++] = take(&src, a, ind);
    HS_ASSERT_EQ_U64(b->ncached, room);
    tcache_make_room(&t, ind);
    HS_EXPECT_EQ_U64(b->ncached, room / 2);
    HS_EXPECT_EQ_U64(t.fill_run[ind], 0);
    HS_EXPECT_EQ_U64(b->ncached_max, room);
    tcache_destroy(&t);
    free(batch);

    /* A bin whose one fill brought half its capacity, then receives
     * frees of regions another cache filled, flushes at its base capacity
     * and never grows. */
    static tcache_t u;
    HS_ASSERT_TRUE(tcache_init(&u));
    cache_bin_t *c = &u.bins[ind];
    void *q = take(&u, a, ind);
    HS_ASSERT_NOT_NULL(q);
    HS_EXPECT_EQ_U64(u.fill_run[ind], base / 2);
    free_into(&u, ind, q);
    for (unsigned i = 0; i < 3 * base; i++) {
        void *p = take(&src, a, ind);
        HS_ASSERT_NOT_NULL(p);
        free_into(&u, ind, p);
        HS_ASSERT_LE_U64(c->ncached, base);
    }
    HS_EXPECT_EQ_U64(c->ncached_max, base);
    tcache_destroy(&u);
    tcache_destroy(&src);
    HS_EXPECT_EQ_SIZE(curregs(a, ind), regs0);
}

HS_TEST(gc_step_halves_a_grown_capacity_left_unused)
{
    arena_t *a = test_arena(8);
    HS_ASSERT_NOT_NULL(a);
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    unsigned ind = sz_size2index(16);
    cache_bin_t *b = &t.bins[ind];
    unsigned base = tcache_base_slots(ind);
    size_t regs0 = curregs(a, ind);
    static tcache_t src;
    HS_ASSERT_TRUE(tcache_init(&src));
    b->ncached_max = (uint16_t)(8 * base);
    while (b->ncached < 8 * base) {
        void *p = take(&src, a, ind);
        HS_ASSERT_NOT_NULL(p);
        b->stack[b->ncached++] = p;
    }
    tcache_destroy(&src);
    t.gc_bin = ind;
    tcache_gc_step(&t); /* records the low-water mark */
    /* Each round the regions sit unused, the capacity halves (and 3/4 of
     * the unused regions go back), down to the base and no further. */
    unsigned want = 8 * base;
    for (int round = 0; round < 6; round++) {
        t.gc_bin = ind;
        tcache_gc_step(&t);
        want = want / 2 < base ? base : want / 2;
        HS_EXPECT_EQ_U64(b->ncached_max, want);
        HS_EXPECT_LE_U64(b->ncached, b->ncached_max);
    }
    HS_EXPECT_EQ_U64(b->ncached_max, base);
    tcache_destroy(&t);
    HS_EXPECT_EQ_SIZE(curregs(a, ind), regs0);
}

HS_TEST(destroy_returns_everything_and_recycles_stacks)
{
    arena_t *a = test_arena(5);
    HS_ASSERT_NOT_NULL(a);
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    size_t regs0[SZ_NBINS];
    for (unsigned i = 0; i < SZ_NBINS; i++)
        regs0[i] = curregs(a, i);
    size_t bytes = 0;
    for (unsigned i = 0; i < SZ_NBINS; i += 3) {
        void *p = tcache_alloc_fill(&t, a, i);
        HS_ASSERT_NOT_NULL(p);
        t.bins[i].stack[t.bins[i].ncached++] = p;
        bytes += (size_t)t.bins[i].ncached * sz_index2size(i);
    }
    HS_EXPECT_EQ_SIZE(tcache_cached_bytes(&t), bytes);
    void **mem = t.mem;
    tcache_destroy(&t);
    for (unsigned i = 0; i < SZ_NBINS; i++)
        HS_EXPECT_EQ_SIZE(curregs(a, i), regs0[i]);
    for (unsigned i = 0; i < TCACHE_NBINS; i++)
        HS_EXPECT_EQ_U64(t.bins[i].ncached_max, 0);
    HS_EXPECT_NULL(t.mem);
    /* Destroying twice is harmless. */
    tcache_destroy(&t);
    /* The stacks are reused by the next cache. */
    static tcache_t u;
    HS_ASSERT_TRUE(tcache_init(&u));
    HS_EXPECT_EQ_PTR(u.mem, mem);
    tcache_destroy(&u);
}

HS_TEST(large_bins_return_extents)
{
    arena_t *a = test_arena(6);
    HS_ASSERT_NOT_NULL(a);
    static tcache_t t;
    HS_ASSERT_TRUE(tcache_init(&t));
    unsigned ind = SZ_NBINS; /* the first large class */
    size_t usize = sz_index2size(ind);
    cache_bin_t *b = &t.bins[ind];
    arena_stats_t st0, st1;
    arena_stats(a, &st0);
    for (int i = 0; i < 3; i++) {
        void *p = large_malloc(a, usize, PAGE, false);
        HS_ASSERT_NOT_NULL(p);
        b->stack[b->ncached++] = p;
    }
    HS_EXPECT_EQ_SIZE(tcache_cached_bytes(&t), 3 * usize);
    tcache_flush_bin(&t, ind, 1);
    arena_stats(a, &st1);
    HS_EXPECT_EQ_U64(st1.nlarge_dalloc - st0.nlarge_dalloc, 2);
    HS_EXPECT_EQ_SIZE(st1.large_allocated - st0.large_allocated, usize);
    tcache_destroy(&t);
    arena_stats(a, &st1);
    HS_EXPECT_EQ_U64(st1.nlarge_dalloc - st0.nlarge_dalloc, 3);
    HS_EXPECT_EQ_SIZE(st1.large_allocated, st0.large_allocated);
}

HS_TEST_MAIN()
