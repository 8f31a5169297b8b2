/*
 * ecache.c — unit tests of alloc/extent/ecache: allocation from a cache
 * seeded with a mapped extent (exact size, alignment, the rest given
 * back); coalescing of freed neighbours into one member, with the emap
 * entries of the swallowed boundaries cleared; no coalescing across
 * states, arenas or active neighbours; in-place expansion; shrinking;
 * eviction of the oldest member by time.
 *
 * Extents describe pages really mapped for the test, with one mapped but
 * never registered guard page on each side so that extents of different
 * tests are never neighbours.  Each test uses its own ecache (static: its
 * mutex stays registered) and its own arena index.  Boots base, the edata
 * cache and the rtree alone.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "extent/base.h"
#include "extent/ecache.h"
#include "extent/edata.h"
#include "extent/emap.h"
#include "extent/rtree.h"
#include "os/pages.h"
#include "util/util.h"

/* Heapsight's own pages and the default descriptor cache. */
static extent_ctx_t dctx = {.eh = {.hooks = NULL}, .edc = &edata_cache_default};

static void
do_boot(void)
{
    base_boot();
    edata_cache_boot();
    rtree_boot();
}

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
}

/* npages usable pages aligned to alignment, between two guard pages. */
static char *
map_region(size_t npages, size_t alignment)
{
    char *m = pages_map((npages + 2) * PAGE + alignment, PAGE);
    if (m == NULL)
        return NULL;
    return (char *)align_up((uintptr_t)m + PAGE, alignment);
}

/* An active, boundary-registered extent over [addr, addr + npages). */
static edata_t *
active_extent(unsigned arena_ind, char *addr, size_t npages)
{
    edata_t *e = edata_cache_get();
    if (e == NULL)
        return NULL;
    edata_init(e, arena_ind, addr, npages * PAGE, EXTENT_ACTIVE, true, true);
    if (!emap_register_boundary(e))
        return NULL;
    return e;
}

/* Checks that e's boundary entries describe e as it is now. */
static void
expect_registered(const edata_t *e)
{
    emap_entry_t first = emap_lookup(e->addr);
    emap_entry_t last = emap_lookup((void *)(edata_past(e) - PAGE));
    HS_EXPECT_EQ_PTR(emap_entry_edata(first), e);
    HS_EXPECT_EQ_U64(first, emap_entry_pack(e));
    HS_EXPECT_EQ_U64(last, emap_entry_pack(e));
}

static size_t
nextents(ecache_t *c)
{
    hs_mutex_lock(&c->mtx);
    size_t n = c->eset.nextents;
    hs_mutex_unlock(&c->mtx);
    return n;
}

static edata_t *
oldest(ecache_t *c)
{
    hs_mutex_lock(&c->mtx);
    edata_t *e = eset_oldest(&c->eset);
    hs_mutex_unlock(&c->mtx);
    return e;
}

static ecache_t c_alloc;

HS_TEST(alloc_from_seeded_cache)
{
    boot_once();
    ecache_t *c = &c_alloc;
    ecache_init(c, EXTENT_DIRTY, 10, &dctx);
    HS_EXPECT_NULL(ecache_alloc(c, PAGE, PAGE));
    char *mem = map_region(16, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *seed = active_extent(10, mem, 16);
    HS_ASSERT_NOT_NULL(seed);
    ecache_dalloc(c, seed, 100);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 16);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    HS_EXPECT_EQ_INT(seed->state, EXTENT_DIRTY);
    expect_registered(seed);

    edata_t *a = ecache_alloc(c, 4 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(a);
    HS_EXPECT_EQ_PTR(a->addr, mem);
    HS_EXPECT_EQ_SIZE(a->size, 4 * PAGE);
    HS_EXPECT_EQ_INT(a->state, EXTENT_ACTIVE);
    HS_EXPECT_EQ_U64(a->szind, SZIND_NONE);
    HS_EXPECT_TRUE(a->zeroed);
    expect_registered(a);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 12);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    /* The rest is a member, registered as free. */
    edata_t *rest = emap_entry_edata(emap_next_entry(a));
    HS_ASSERT_NOT_NULL(rest);
    HS_EXPECT_EQ_PTR(rest->addr, mem + 4 * PAGE);
    HS_EXPECT_EQ_SIZE(rest->size, 12 * PAGE);
    HS_EXPECT_EQ_INT(rest->state, EXTENT_DIRTY);
    expect_registered(rest);

    HS_EXPECT_NULL(ecache_alloc(c, 13 * PAGE, PAGE));
    edata_t *b = ecache_alloc(c, 12 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(b);
    HS_EXPECT_EQ_PTR(b->addr, mem + 4 * PAGE);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 0);
    HS_EXPECT_EQ_SIZE(nextents(c), 0);
    HS_EXPECT_NULL(ecache_alloc(c, PAGE, PAGE));

    /* Both back: one member of the original 16 pages. */
    ecache_dalloc(c, a, 200);
    ecache_dalloc(c, b, 300);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 16);
    edata_t *m = oldest(c);
    HS_ASSERT_NOT_NULL(m);
    HS_EXPECT_EQ_PTR(m->addr, mem);
    HS_EXPECT_EQ_SIZE(m->size, 16 * PAGE);
    expect_registered(m);
}

static ecache_t c_align;

HS_TEST(alloc_aligned_splits_lead_and_trail)
{
    boot_once();
    ecache_t *c = &c_align;
    ecache_init(c, EXTENT_DIRTY, 11, &dctx);
    /* 63 pages starting one page past a 64-page boundary. */
    char *mem = map_region(64, 64 * PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *seed = active_extent(11, mem + PAGE, 63);
    HS_ASSERT_NOT_NULL(seed);
    ecache_dalloc(c, seed, 1);
    size_t alignment = 16 * PAGE;
    edata_t *a = ecache_alloc(c, 4 * PAGE, alignment);
    HS_ASSERT_NOT_NULL(a);
    HS_EXPECT_ALIGNED(a->addr, alignment);
    HS_EXPECT_EQ_PTR(a->addr, mem + 16 * PAGE);
    HS_EXPECT_EQ_SIZE(a->size, 4 * PAGE);
    expect_registered(a);
    /* Lead [1, 16) and trail [20, 64) are members. */
    HS_EXPECT_EQ_SIZE(nextents(c), 2);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 59);
    edata_t *lead = emap_entry_edata(emap_prev_entry(a));
    edata_t *trail = emap_entry_edata(emap_next_entry(a));
    HS_ASSERT_NOT_NULL(lead);
    HS_ASSERT_NOT_NULL(trail);
    HS_EXPECT_EQ_PTR(lead->addr, mem + PAGE);
    HS_EXPECT_EQ_SIZE(lead->size, 15 * PAGE);
    HS_EXPECT_EQ_INT(lead->state, EXTENT_DIRTY);
    HS_EXPECT_EQ_PTR(trail->addr, mem + 20 * PAGE);
    HS_EXPECT_EQ_SIZE(trail->size, 44 * PAGE);
    HS_EXPECT_EQ_INT(trail->state, EXTENT_DIRTY);
    expect_registered(lead);
    expect_registered(trail);
    /* A 64-page alignment may need 63 pages of slack: no member is big
     * enough any more. */
    HS_EXPECT_NULL(ecache_alloc(c, PAGE, 64 * PAGE));
    /* Freeing the middle merges all three back. */
    ecache_dalloc(c, a, 2);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 63);
}

static ecache_t c_merge;

HS_TEST(free_adjacent_extents_merge_into_one_member)
{
    boot_once();
    ecache_t *c = &c_merge;
    ecache_init(c, EXTENT_DIRTY, 12, &dctx);
    char *mem = map_region(8, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *seed = active_extent(12, mem, 8);
    HS_ASSERT_NOT_NULL(seed);
    ecache_dalloc(c, seed, 1);
    edata_t *a = ecache_alloc(c, 2 * PAGE, PAGE);
    edata_t *b = ecache_alloc(c, 2 * PAGE, PAGE);
    edata_t *d = ecache_alloc(c, 2 * PAGE, PAGE);
    HS_ASSERT_TRUE(a != NULL && b != NULL && d != NULL);
    HS_EXPECT_EQ_PTR(a->addr, mem);
    HS_EXPECT_EQ_PTR(b->addr, mem + 2 * PAGE);
    HS_EXPECT_EQ_PTR(d->addr, mem + 4 * PAGE);
    HS_EXPECT_EQ_SIZE(nextents(c), 1); /* [6, 8) */

    ecache_dalloc(c, a, 2); /* [0,2) alone: b is active */
    HS_EXPECT_EQ_SIZE(nextents(c), 2);
    ecache_dalloc(c, d, 3); /* [4,6) merges with [6,8) */
    HS_EXPECT_EQ_SIZE(nextents(c), 2);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 6);
    edata_t *right = emap_entry_edata(emap_lookup(mem + 4 * PAGE));
    HS_ASSERT_NOT_NULL(right);
    HS_EXPECT_EQ_PTR(right->addr, mem + 4 * PAGE);
    HS_EXPECT_EQ_SIZE(right->size, 4 * PAGE);
    expect_registered(right);
    /* The swallowed inner boundary pages no longer have entries. */
    HS_EXPECT_EQ_U64(emap_lookup(mem + 5 * PAGE), 0);
    HS_EXPECT_EQ_U64(emap_lookup(mem + 6 * PAGE), 0);

    ecache_dalloc(c, b, 4); /* fills the hole: one member */
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 8);
    edata_t *all = oldest(c);
    HS_ASSERT_NOT_NULL(all);
    HS_EXPECT_EQ_PTR(all->addr, mem);
    HS_EXPECT_EQ_SIZE(all->size, 8 * PAGE);
    /* As old as its oldest part, so it decays on that part's schedule. */
    HS_EXPECT_EQ_U64(all->dirty_ns, 1);
    expect_registered(all);
    for (int i = 1; i < 7; i++)
        HS_EXPECT_EQ_U64(emap_lookup(mem + i * PAGE), 0);
    /* The merged member serves the whole range again. */
    edata_t *whole = ecache_alloc(c, 8 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(whole);
    HS_EXPECT_EQ_PTR(whole->addr, mem);
    ecache_dalloc(c, whole, 5);
}

static ecache_t c_x, c_y, c_z;

HS_TEST(no_merge_across_state_arena_or_active)
{
    boot_once();
    ecache_init(&c_x, EXTENT_DIRTY, 13, &dctx);
    ecache_init(&c_y, EXTENT_DIRTY, 14, &dctx);    /* another arena */
    ecache_init(&c_z, EXTENT_RETAINED, 13, &dctx); /* same arena, other state */
    char *mem = map_region(8, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *p0 = active_extent(13, mem, 2);
    edata_t *p1 = active_extent(14, mem + 2 * PAGE, 2);
    edata_t *p2 = active_extent(13, mem + 4 * PAGE, 2);
    edata_t *p3 = active_extent(13, mem + 6 * PAGE, 2);
    HS_ASSERT_TRUE(p0 && p1 && p2 && p3);
    ecache_dalloc(&c_x, p0, 1);
    ecache_dalloc(&c_y, p1, 1);
    ecache_dalloc(&c_z, p2, 1);
    /* p3 stays active: its neighbour p2 is retained, not dirty. */
    HS_EXPECT_EQ_SIZE(nextents(&c_x), 1);
    HS_EXPECT_EQ_SIZE(nextents(&c_y), 1);
    HS_EXPECT_EQ_SIZE(nextents(&c_z), 1);
    HS_EXPECT_EQ_SIZE(ecache_npages(&c_x), 2);
    HS_EXPECT_EQ_SIZE(ecache_npages(&c_y), 2);
    HS_EXPECT_EQ_SIZE(ecache_npages(&c_z), 2);
    expect_registered(p0);
    expect_registered(p1);
    expect_registered(p2);
    expect_registered(p3);
    HS_EXPECT_EQ_INT(p3->state, EXTENT_ACTIVE);
    /* Now p3 goes to the dirty set of its arena: p2 is retained, so no
     * merge there either. */
    ecache_dalloc(&c_x, p3, 2);
    HS_EXPECT_EQ_SIZE(nextents(&c_x), 2);
    HS_EXPECT_EQ_SIZE(ecache_npages(&c_x), 4);
}

static ecache_t c_expand;

HS_TEST(expand_in_place)
{
    boot_once();
    ecache_t *c = &c_expand;
    ecache_init(c, EXTENT_DIRTY, 15, &dctx);
    char *mem = map_region(10, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *seed = active_extent(15, mem, 10);
    HS_ASSERT_NOT_NULL(seed);
    ecache_dalloc(c, seed, 1);
    edata_t *a = ecache_alloc(c, 2 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(a);
    a->szind = 77; /* as if a large allocation */
    emap_update(a);

    bool zeroed = false;
    HS_ASSERT_TRUE(ecache_expand(c, a, 5 * PAGE, &zeroed));
    HS_EXPECT_TRUE(zeroed); /* the seed was zeroed */
    HS_EXPECT_EQ_PTR(a->addr, mem);
    HS_EXPECT_EQ_SIZE(a->size, 5 * PAGE);
    HS_EXPECT_EQ_INT(a->state, EXTENT_ACTIVE);
    HS_EXPECT_EQ_U64(a->szind, 77); /* kept; the caller rewrites it */
    expect_registered(a);
    HS_EXPECT_EQ_U64(emap_lookup(mem + PAGE), 0); /* old last page */
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 5);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    edata_t *rest = emap_entry_edata(emap_next_entry(a));
    HS_ASSERT_NOT_NULL(rest);
    HS_EXPECT_EQ_PTR(rest->addr, mem + 5 * PAGE);
    expect_registered(rest);

    /* Not enough free pages after a: fails, a unchanged. */
    HS_EXPECT_FALSE(ecache_expand(c, a, 11 * PAGE, &zeroed));
    HS_EXPECT_EQ_SIZE(a->size, 5 * PAGE);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 5);
    expect_registered(a);

    /* Exactly the rest: no split needed. */
    HS_ASSERT_TRUE(ecache_expand(c, a, 10 * PAGE, &zeroed));
    HS_EXPECT_EQ_SIZE(a->size, 10 * PAGE);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 0);
    HS_EXPECT_EQ_SIZE(nextents(c), 0);
    expect_registered(a);
    for (int i = 1; i < 9; i++)
        HS_EXPECT_EQ_U64(emap_lookup(mem + i * PAGE), 0);
    a->szind = SZIND_NONE;
    ecache_dalloc(c, a, 2);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 10);
}

static ecache_t c_expand2;

HS_TEST(expand_fails_when_next_is_active)
{
    boot_once();
    ecache_t *c = &c_expand2;
    ecache_init(c, EXTENT_DIRTY, 16, &dctx);
    char *mem = map_region(8, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *seed = active_extent(16, mem, 8);
    HS_ASSERT_NOT_NULL(seed);
    ecache_dalloc(c, seed, 1);
    edata_t *a = ecache_alloc(c, 2 * PAGE, PAGE);
    edata_t *b = ecache_alloc(c, 2 * PAGE, PAGE);
    HS_ASSERT_TRUE(a != NULL && b != NULL);
    bool zeroed;
    HS_EXPECT_FALSE(ecache_expand(c, a, 3 * PAGE, &zeroed));
    HS_EXPECT_EQ_SIZE(a->size, 2 * PAGE);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 4);
    expect_registered(a);
    expect_registered(b);
    /* b can grow into the free rest. */
    HS_EXPECT_TRUE(ecache_expand(c, b, 6 * PAGE, &zeroed));
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 0);
}

static ecache_t c_shrink;

HS_TEST(shrink_gives_the_trail_back)
{
    boot_once();
    ecache_t *c = &c_shrink;
    ecache_init(c, EXTENT_DIRTY, 17, &dctx);
    char *mem = map_region(8, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *seed = active_extent(17, mem, 8);
    HS_ASSERT_NOT_NULL(seed);
    ecache_dalloc(c, seed, 1);
    edata_t *a = ecache_alloc(c, 8 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(a);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 0);
    HS_ASSERT_TRUE(ecache_shrink(c, a, 3 * PAGE, 50));
    HS_EXPECT_EQ_SIZE(a->size, 3 * PAGE);
    HS_EXPECT_EQ_INT(a->state, EXTENT_ACTIVE);
    expect_registered(a);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 5);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    edata_t *t = oldest(c);
    HS_ASSERT_NOT_NULL(t);
    HS_EXPECT_EQ_PTR(t->addr, mem + 3 * PAGE);
    HS_EXPECT_EQ_SIZE(t->size, 5 * PAGE);
    HS_EXPECT_EQ_U64(t->dirty_ns, 50);
    expect_registered(t);
    /* Shrinking again merges the new trail with the old one. */
    HS_ASSERT_TRUE(ecache_shrink(c, a, PAGE, 60));
    HS_EXPECT_EQ_SIZE(a->size, PAGE);
    expect_registered(a);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 7);
    ecache_dalloc(c, a, 70);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 8);
}

static ecache_t c_evict;

HS_TEST(evict_oldest_by_time)
{
    boot_once();
    ecache_t *c = &c_evict;
    ecache_init(c, EXTENT_DIRTY, 18, &dctx);
    /* Three one-page extents with unregistered gaps between them. */
    char *mem = map_region(5, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *e[3];
    for (int i = 0; i < 3; i++) {
        e[i] = active_extent(18, mem + 2 * i * PAGE, 1);
        HS_ASSERT_NOT_NULL(e[i]);
        ecache_dalloc(c, e[i], 100 * (uint64_t)(i + 1));
    }
    HS_EXPECT_EQ_SIZE(nextents(c), 3);
    HS_EXPECT_NULL(ecache_evict(c, 99));
    HS_EXPECT_EQ_SIZE(nextents(c), 3);
    edata_t *x = ecache_evict(c, 150);
    HS_EXPECT_EQ_PTR(x, e[0]);
    HS_EXPECT_NULL(ecache_evict(c, 150));
    HS_ASSERT_NOT_NULL(x);
    HS_EXPECT_EQ_INT(x->state, EXTENT_ACTIVE);
    expect_registered(x);
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 2);
    HS_EXPECT_EQ_PTR(ecache_evict(c, 200), e[1]); /* at or before */
    HS_EXPECT_EQ_PTR(ecache_evict(c, UINT64_MAX), e[2]);
    HS_EXPECT_NULL(ecache_evict(c, UINT64_MAX));
    HS_EXPECT_EQ_SIZE(ecache_npages(c), 0);
    /* Evicted extents are private: giving one back works as usual. */
    ecache_dalloc(c, e[1], 400);
    HS_EXPECT_EQ_SIZE(nextents(c), 1);
    HS_EXPECT_EQ_PTR(oldest(c), e[1]);
}

static ecache_t c_evict_split;

/*
 * A member split by an allocation keeps the age of its pages: the rest
 * given back after a partial allocation was freed at time 100 and must
 * not be evictable "at or before 50".
 *
 * (A regression test. The bug it caught: extent_split() makes the rest with
 * edata_init(), which stamps dirty_ns 0, so ecache_evict() (and through it PAC
 * decay and time_until_deferred_work) treats the remainder of every split dirty
 * extent as freed at time 0.)
 */
HS_TEST(split_remainder_keeps_its_age)
{
    boot_once();
    ecache_t *c = &c_evict_split;
    ecache_init(c, EXTENT_DIRTY, 19, &dctx);
    char *mem = map_region(8, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *seed = active_extent(19, mem, 8);
    HS_ASSERT_NOT_NULL(seed);
    ecache_dalloc(c, seed, 100);
    edata_t *a = ecache_alloc(c, 2 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(a);
    edata_t *rest = oldest(c);
    HS_ASSERT_NOT_NULL(rest);
    HS_EXPECT_EQ_U64(rest->dirty_ns, 100);
    edata_t *early = ecache_evict(c, 50);
    HS_EXPECT_NULL(early);
    if (early != NULL)
        ecache_dalloc(c, early, 100);
}

HS_TEST_MAIN()
