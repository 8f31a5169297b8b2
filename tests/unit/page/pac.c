/*
 * pac.c — unit tests of alloc/page/pac through its PAI view: alloc/dalloc
 * round trips honour the contract of pai.h (exact size, alignment, emap
 * boundary with szind none and slab false, zero when asked), the page
 * counters keep mapped == active + dirty + muzzy + retained, decay moves
 * pages dirty -> muzzy -> retained (at once with decay times 0; along the
 * smoothstep curve by explicit time; all of them with pac_purge_all),
 * purged pages read zero, and time_until_deferred_work says when a batch
 * is due.
 *
 * Time: decay is driven with explicit now_ns values derived from a clock
 * reading taken before the frees, so nothing depends on how long the test
 * takes.  Each test has its own PAC (static: its mutexes stay registered)
 * with its own arena index.  Boots base, the edata cache and the rtree.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "extent/base.h"
#include "extent/edata.h"
#include "extent/emap.h"
#include "extent/rtree.h"
#include "page/pa.h"
#include "page/pac.h"
#include "util/util.h"

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

#define MS ((uint64_t)1000000)

typedef struct pacstate_s {
    size_t mapped, dirty, muzzy, retained;
} pacstate_t;

static pacstate_t
state_of(pac_t *pac)
{
    return (pacstate_t){
        .mapped = atomic_load(&pac->mapped),
        .dirty = ecache_npages(&pac->dirty) * PAGE,
        .muzzy = ecache_npages(&pac->muzzy) * PAGE,
        .retained = ecache_npages(&pac->retained) * PAGE,
    };
}

/* The invariant of pac.h, given the bytes the test holds. */
static void
expect_balanced(pac_t *pac, size_t active)
{
    pacstate_t s = state_of(pac);
    HS_EXPECT_EQ_SIZE(s.mapped, active + s.dirty + s.muzzy + s.retained);
}

static bool
all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return false;
    return true;
}

/* The PAI contract for a fresh extent. */
static void
expect_fresh_extent(edata_t *e, size_t size, size_t alignment)
{
    HS_EXPECT_EQ_SIZE(e->size, size);
    HS_EXPECT_ALIGNED(e->addr, alignment);
    HS_EXPECT_EQ_INT(e->state, EXTENT_ACTIVE);
    HS_EXPECT_EQ_U64(e->szind, SZIND_NONE);
    HS_EXPECT_FALSE(e->slab);
    emap_entry_t first = emap_lookup(e->addr);
    emap_entry_t last = emap_lookup((char *)e->addr + size - 1);
    HS_EXPECT_EQ_PTR(emap_entry_edata(first), e);
    HS_EXPECT_EQ_PTR(emap_entry_edata(last), e);
    HS_EXPECT_EQ_INT(emap_entry_state(first), EXTENT_ACTIVE);
    HS_EXPECT_EQ_U64(emap_entry_szind(first), SZIND_NONE);
    HS_EXPECT_FALSE(emap_entry_slab(first));
}

static pac_t pac_rt;

HS_TEST(alloc_dalloc_round_trip)
{
    boot_once();
    pac_t *pac = &pac_rt;
    pac_init(pac, 100, 10000, 10000);
    pai_t pai = pac_pai(pac);
    HS_EXPECT_EQ_SIZE(atomic_load(&pac->mapped), 0);
    static const size_t npages[] = {1, 2, 5, 8, 64, 513};
    edata_t *es[6];
    size_t active = 0;
    for (int i = 0; i < 6; i++) {
        size_t size = npages[i] * PAGE;
        es[i] = pai.ops->alloc(pai.impl, size, PAGE, false);
        HS_ASSERT_NOT_NULL(es[i]);
        expect_fresh_extent(es[i], size, PAGE);
        memset(es[i]->addr, 0x11 * (i + 1), size);
        active += size;
        expect_balanced(pac, active);
    }
    /* Disjoint, contents intact. */
    for (int i = 0; i < 6; i++) {
        HS_EXPECT_TRUE(all_bytes(es[i]->addr, es[i]->size, 0x11 * (i + 1)));
        for (int j = i + 1; j < 6; j++)
            if (edata_base(es[i]) < edata_past(es[j]) &&
                edata_base(es[j]) < edata_past(es[i]))
                HS_FAIL("extents %d and %d overlap", i, j);
    }
    HS_EXPECT_GT_SIZE(atomic_load(&pac->mapped), 0);
    size_t mapped = atomic_load(&pac->mapped);
    for (int i = 0; i < 6; i++) {
        pai.ops->dalloc(pai.impl, es[i]);
        active -= npages[i] * PAGE;
        expect_balanced(pac, active);
    }
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty) * PAGE,
                      (size_t)(1 + 2 + 5 + 8 + 64 + 513) * PAGE);
    /* Reuse: the same requests again are served without growing. */
    for (int i = 0; i < 6; i++) {
        es[i] = pai.ops->alloc(pai.impl, npages[i] * PAGE, PAGE, false);
        HS_ASSERT_NOT_NULL(es[i]);
        expect_fresh_extent(es[i], npages[i] * PAGE, PAGE);
    }
    HS_EXPECT_EQ_SIZE(atomic_load(&pac->mapped), mapped);
    for (int i = 0; i < 6; i++)
        pai.ops->dalloc(pai.impl, es[i]);
    expect_balanced(pac, 0);
}

static pac_t pac_align;

HS_TEST(alignment)
{
    boot_once();
    pac_t *pac = &pac_align;
    pac_init(pac, 101, 10000, 10000);
    pai_t pai = pac_pai(pac);
    size_t active = 0;
    edata_t *keep[16];
    int nkeep = 0;
    for (size_t alignment = PAGE; alignment <= ((size_t)8 << 20);
         alignment *= 2) {
        edata_t *e = pai.ops->alloc(pai.impl, 3 * PAGE, alignment, false);
        HS_ASSERT_NOT_NULL(e);
        expect_fresh_extent(e, 3 * PAGE, alignment);
        keep[nkeep++] = e;
        active += 3 * PAGE;
        expect_balanced(pac, active);
    }
    /* A big aligned one too. */
    edata_t *big =
        pai.ops->alloc(pai.impl, (size_t)4 << 20, (size_t)4 << 20, false);
    HS_ASSERT_NOT_NULL(big);
    expect_fresh_extent(big, (size_t)4 << 20, (size_t)4 << 20);
    active += (size_t)4 << 20;
    expect_balanced(pac, active);
    pai.ops->dalloc(pai.impl, big);
    for (int i = 0; i < nkeep; i++)
        pai.ops->dalloc(pai.impl, keep[i]);
    expect_balanced(pac, 0);
}

static pac_t pac_zero;

HS_TEST(zero_after_reuse)
{
    boot_once();
    pac_t *pac = &pac_zero;
    pac_init(pac, 102, 10000, 10000);
    pai_t pai = pac_pai(pac);
    size_t size = 16 * PAGE;
    edata_t *e = pai.ops->alloc(pai.impl, size, PAGE, false);
    HS_ASSERT_NOT_NULL(e);
    /* Fresh address space reads zero anyway. */
    HS_EXPECT_TRUE(all_bytes(e->addr, size, 0));
    memset(e->addr, 0xab, size);
    void *addr = e->addr;
    pai.ops->dalloc(pai.impl, e);
    /* The dirty pages come back; asked for zero, they read zero. */
    e = pai.ops->alloc(pai.impl, size, PAGE, true);
    HS_ASSERT_NOT_NULL(e);
    HS_EXPECT_EQ_PTR(e->addr, addr);
    HS_EXPECT_TRUE(all_bytes(e->addr, size, 0));
    memset(e->addr, 0xcd, size);
    pai.ops->dalloc(pai.impl, e);
    /* A smaller zeroed request carved out of the same dirty pages. */
    e = pai.ops->alloc(pai.impl, 3 * PAGE, PAGE, true);
    HS_ASSERT_NOT_NULL(e);
    HS_EXPECT_TRUE(all_bytes(e->addr, 3 * PAGE, 0));
    pai.ops->dalloc(pai.impl, e);
}

static pac_t pac_shrink_zero;

/*
 * Pages given back by shrink may hold data: a later zeroed allocation of
 * them must read zero.
 * (A regression test: the zeroed mark once survived into the shrunk
 * trail, so calloc-like requests got the old bytes.)
 */
HS_TEST(zero_after_shrink)
{
    boot_once();
    pac_t *pac = &pac_shrink_zero;
    pac_init(pac, 103, 10000, 10000);
    pai_t pai = pac_pai(pac);
    edata_t *e = pai.ops->alloc(pai.impl, 16 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(e);
    memset(e->addr, 0xab, 16 * PAGE);
    HS_ASSERT_TRUE(pai.ops->shrink(pai.impl, e, 8 * PAGE));
    HS_EXPECT_EQ_SIZE(e->size, 8 * PAGE);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 8);
    expect_balanced(pac, 8 * PAGE);
    edata_t *z = pai.ops->alloc(pai.impl, 8 * PAGE, PAGE, true);
    HS_ASSERT_NOT_NULL(z);
    HS_EXPECT_EQ_PTR(z->addr, (char *)e->addr + 8 * PAGE);
    HS_EXPECT_TRUE(all_bytes(z->addr, 8 * PAGE, 0));
    pai.ops->dalloc(pai.impl, z);
    pai.ops->dalloc(pai.impl, e);
    expect_balanced(pac, 0);
}

static pac_t pac_expand;

HS_TEST(expand_and_shrink)
{
    boot_once();
    pac_t *pac = &pac_expand;
    pac_init(pac, 104, 10000, 10000);
    pai_t pai = pac_pai(pac);
    edata_t *a = pai.ops->alloc(pai.impl, 4 * PAGE, PAGE, false);
    edata_t *b = pai.ops->alloc(pai.impl, 4 * PAGE, PAGE, false);
    HS_ASSERT_TRUE(a != NULL && b != NULL);
    HS_ASSERT_EQ_PTR(b->addr, (char *)a->addr + 4 * PAGE);
    /* b is active: a cannot grow. */
    HS_EXPECT_FALSE(pai.ops->expand(pai.impl, a, 6 * PAGE, false));
    HS_EXPECT_EQ_SIZE(a->size, 4 * PAGE);
    memset(b->addr, 0xcd, 4 * PAGE);
    pai.ops->dalloc(pai.impl, b); /* dirty, not zero */
    /* Grows into the dirty pages of b; asked for zero, they read zero. */
    HS_ASSERT_TRUE(pai.ops->expand(pai.impl, a, 6 * PAGE, true));
    HS_EXPECT_EQ_SIZE(a->size, 6 * PAGE);
    HS_EXPECT_TRUE(all_bytes((char *)a->addr + 4 * PAGE, 2 * PAGE, 0));
    HS_EXPECT_EQ_PTR(emap_entry_edata(emap_lookup((char *)a->addr + 5 * PAGE)),
                     a);
    expect_balanced(pac, 6 * PAGE);
    /* Through the rest of b's dirty pages, exactly (no split)... */
    HS_ASSERT_TRUE(pai.ops->expand(pai.impl, a, 8 * PAGE, false));
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 0);
    expect_balanced(pac, 8 * PAGE);
    /* ...then on into the retained rest of the chunk. */
    HS_ASSERT_TRUE(pai.ops->expand(pai.impl, a, 64 * PAGE, true));
    HS_EXPECT_EQ_SIZE(a->size, 64 * PAGE);
    HS_EXPECT_TRUE(all_bytes((char *)a->addr + 8 * PAGE, 56 * PAGE, 0));
    expect_balanced(pac, 64 * PAGE);
    HS_ASSERT_TRUE(pai.ops->shrink(pai.impl, a, 2 * PAGE));
    HS_EXPECT_EQ_SIZE(a->size, 2 * PAGE);
    expect_balanced(pac, 2 * PAGE);
    HS_EXPECT_EQ_PTR(emap_entry_edata(emap_lookup((char *)a->addr + PAGE)), a);
    pai.ops->dalloc(pai.impl, a);
    expect_balanced(pac, 0);
}

static pac_t pac_decay0;

HS_TEST(decay_ms_zero_moves_pages_to_retained)
{
    boot_once();
    pac_t *pac = &pac_decay0;
    pac_init(pac, 105, 0, 0);
    pai_t pai = pac_pai(pac);
    edata_t *e = pai.ops->alloc(pai.impl, 32 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(e);
    unsigned char *p = e->addr;
    memset(p, 0x77, 32 * PAGE);
    size_t retained0 = ecache_npages(&pac->retained);
    pai.ops->dalloc(pai.impl, e);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->muzzy), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->retained), retained0 + 32);
    HS_EXPECT_GE_U64(atomic_load(&pac->dirty_stats.npurge), 1);
    HS_EXPECT_GE_U64(atomic_load(&pac->dirty_stats.nmadvise), 1);
    HS_EXPECT_GE_U64(atomic_load(&pac->dirty_stats.purged), 32);
    /* The pages were purged (still mapped: nothing is unmapped). */
    HS_EXPECT_TRUE(all_bytes(p, 32 * PAGE, 0));
    expect_balanced(pac, 0);
    /* Retained pages come back reading zero; once handed out, the extent
     * is the owner's to write, so it no longer claims to be zeroed. */
    e = pai.ops->alloc(pai.impl, 32 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(e);
    HS_EXPECT_FALSE(e->zeroed);
    HS_EXPECT_TRUE(all_bytes(e->addr, 32 * PAGE, 0));
    pai.ops->dalloc(pai.impl, e);
}

static pac_t pac_decay0_muzzy;

/* dirty_decay_ms 0 with a muzzy stage: freed pages are purged lazily at
 * once (MADV_FREE) and wait in the muzzy set; reuse takes them from there;
 * a purge of everything takes them on to retained. */
HS_TEST(decay_ms_zero_with_muzzy_stage)
{
    boot_once();
    pac_t *pac = &pac_decay0_muzzy;
    pac_init(pac, 113, 0, 10000);
    pai_t pai = pac_pai(pac);
    edata_t *e = pai.ops->alloc(pai.impl, 16 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(e);
    memset(e->addr, 0x31, 16 * PAGE);
    size_t retained0 = ecache_npages(&pac->retained);
    pai.ops->dalloc(pai.impl, e);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->muzzy), 16);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->retained), retained0);
    expect_balanced(pac, 0);
    /* Not yet due for the muzzy curve. */
    HS_EXPECT_EQ_SIZE(pac_decay(pac, pac_now_ns()), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->muzzy), 16);
    /* Reuse prefers muzzy to retained; contents are unspecified there, so
     * the extent does not claim to be zeroed, but zero asks for zeros. */
    e = pai.ops->alloc(pai.impl, 16 * PAGE, PAGE, true);
    HS_ASSERT_NOT_NULL(e);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->muzzy), 0);
    HS_EXPECT_TRUE(all_bytes(e->addr, 16 * PAGE, 0));
    memset(e->addr, 0x32, 16 * PAGE);
    pai.ops->dalloc(pai.impl, e);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->muzzy), 16);
    HS_EXPECT_EQ_SIZE(pac_purge_all(pac), 16);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->muzzy), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->retained), retained0 + 16);
    HS_EXPECT_GE_U64(atomic_load(&pac->muzzy_stats.purged), 16);
    expect_balanced(pac, 0);
}

static pac_t pac_decay0_shrink;

/*
 * With dirty_decay_ms 0 ("purged at once"), the pages a shrink gives back
 * are purged at once too, like the pages of a dalloc.
 *
 * (A regression test. The bug it caught: pac_shrink_impl goes straight to
 * ecache_shrink, which puts the tail in the dirty set without the decay check
 * pac_dalloc_impl does, so the tail stays resident until some later decay
 * tick.)
 */
HS_TEST(decay_ms_zero_purges_shrunk_tail)
{
    boot_once();
    pac_t *pac = &pac_decay0_shrink;
    pac_init(pac, 111, 0, 0);
    pai_t pai = pac_pai(pac);
    edata_t *e = pai.ops->alloc(pai.impl, 16 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(e);
    memset(e->addr, 0x99, 16 * PAGE);
    HS_ASSERT_TRUE(pai.ops->shrink(pai.impl, e, 4 * PAGE));
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 0);
    HS_EXPECT_TRUE(all_bytes((char *)e->addr + 4 * PAGE, 12 * PAGE, 0));
    expect_balanced(pac, 4 * PAGE);
    pai.ops->dalloc(pai.impl, e);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 0);
}

static pac_t pac_grow_fit;

HS_TEST(growth_reserves_only_what_is_needed)
{
    boot_once();
    pac_t *pac = &pac_grow_fit;
    pac_init(pac, 112, 10000, 10000);
    pai_t pai = pac_pai(pac);
    /* The first chunk is one hugepage; a hugepage-aligned hugepage fits it
     * exactly, carved from its start. */
    edata_t *a = pai.ops->alloc(pai.impl, HUGEPAGE, HUGEPAGE, false);
    HS_ASSERT_NOT_NULL(a);
    expect_fresh_extent(a, HUGEPAGE, HUGEPAGE);
    HS_EXPECT_EQ_SIZE(atomic_load(&pac->mapped), HUGEPAGE);
    HS_EXPECT_FALSE(a->zeroed); /* handed out: the owner's to write */
    HS_EXPECT_TRUE(all_bytes(a->addr, HUGEPAGE, 0));
    expect_balanced(pac, HUGEPAGE);
    /* A large alignment does not inflate the reservation: at most one
     * chunk of the growth schedule (<= 64 MiB) is added. */
    size_t before = atomic_load(&pac->mapped);
    edata_t *b = pai.ops->alloc(pai.impl, PAGE, (size_t)1 << 30, false);
    HS_ASSERT_NOT_NULL(b);
    expect_fresh_extent(b, PAGE, (size_t)1 << 30);
    HS_EXPECT_LE_SIZE(atomic_load(&pac->mapped) - before, (size_t)64 << 20);
    expect_balanced(pac, HUGEPAGE + PAGE);
    /* A request larger than the growth step gets a chunk of its size. */
    before = atomic_load(&pac->mapped);
    edata_t *c = pai.ops->alloc(pai.impl, (size_t)100 << 20, PAGE, false);
    HS_ASSERT_NOT_NULL(c);
    expect_fresh_extent(c, (size_t)100 << 20, PAGE);
    HS_EXPECT_EQ_SIZE(atomic_load(&pac->mapped) - before, (size_t)100 << 20);
    expect_balanced(pac, HUGEPAGE + PAGE + ((size_t)100 << 20));
    pai.ops->dalloc(pai.impl, a);
    pai.ops->dalloc(pai.impl, b);
    pai.ops->dalloc(pai.impl, c);
    expect_balanced(pac, 0);
}

static pac_t pac_curve;

/*
 * The two stages along their curves, driven by explicit times: nothing is
 * purged at the moment of the free; dirty pages leave gradually (about
 * half by half the decay time, as smoothstep says) and all of them by the
 * end; the muzzy set fills as dirty empties, then drains to retained over
 * its own time.  The counts only ever move forward.
 */
HS_TEST(decay_follows_the_curve_through_both_stages)
{
    boot_once();
    pac_t *pac = &pac_curve;
    const int64_t ms = 1000;
    pac_init(pac, 106, ms, ms);
    pai_t pai = pac_pai(pac);
    /* Separate extents (not coalesced: a live one between each pair), so
     * purging can stop close to the curve. */
    enum { N = 64 };
    edata_t *keep[N], *gone[N];
    for (int i = 0; i < N; i++) {
        gone[i] = pai.ops->alloc(pai.impl, 8 * PAGE, PAGE, false);
        keep[i] = pai.ops->alloc(pai.impl, PAGE, PAGE, false);
        HS_ASSERT_TRUE(gone[i] != NULL && keep[i] != NULL);
        memset(gone[i]->addr, 0x44, 8 * PAGE);
    }
    size_t retained0 = ecache_npages(&pac->retained);
    uint64_t t0 = pac_now_ns();
    for (int i = 0; i < N; i++)
        pai.ops->dalloc(pai.impl, gone[i]);
    const size_t total = 8 * N;
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), total);
    HS_EXPECT_EQ_SIZE(pac_decay(pac, t0), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), total);
    /* The free happened within the first epoch after t0 (the test is far
     * faster than ms / DECAY_NSTEPS = 5 ms; if it was not, the pages only
     * count as younger, which the bounds below allow for). */
    size_t last_dirty = total, last_retained = retained0;
    bool half_checked = false;
    for (uint64_t t = t0; t <= t0 + 3 * (uint64_t)ms * MS;
         t += (uint64_t)ms * MS / 20) {
        pac_decay(pac, t);
        size_t d = ecache_npages(&pac->dirty), m = ecache_npages(&pac->muzzy),
               r = ecache_npages(&pac->retained);
        HS_EXPECT_LE_SIZE(d, last_dirty);
        HS_EXPECT_GE_SIZE(r, last_retained);
        HS_EXPECT_EQ_SIZE(d + m + r, total + retained0);
        expect_balanced(pac, N * PAGE);
        if (!half_checked && t >= t0 + (uint64_t)ms * MS / 2) {
            /* smoothstep(1/2) = 1/2: about half left, within an extent or
             * two and an epoch either way. */
            HS_EXPECT_GE_SIZE(d, total / 2 - total / 8);
            HS_EXPECT_LE_SIZE(d, total / 2 + total / 8);
            half_checked = true;
        }
        if (t >= t0 + (uint64_t)ms * MS + 2 * (uint64_t)ms * MS / DECAY_NSTEPS)
            HS_EXPECT_EQ_SIZE(d, 0);
        last_dirty = d;
        last_retained = r;
    }
    HS_EXPECT_TRUE(half_checked);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->muzzy), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->retained), retained0 + total);
    HS_EXPECT_EQ_U64(atomic_load(&pac->dirty_stats.purged), total);
    HS_EXPECT_EQ_U64(atomic_load(&pac->muzzy_stats.purged), total);
    for (int i = 0; i < N; i++)
        pai.ops->dalloc(pai.impl, keep[i]);
}

static pac_t pac_curve_big;

/*
 * One large freed run (its pieces coalesce into one extent) still follows
 * the curve: purging cuts the oldest extent down to what the curve asks
 * for instead of purging all of it at the first step.
 */
HS_TEST(a_single_large_run_decays_gradually)
{
    boot_once();
    pac_t *pac = &pac_curve_big;
    const int64_t ms = 1000;
    pac_init(pac, 114, ms, 0);
    pai_t pai = pac_pai(pac);
    enum { PIECES = 16, PIECE = 256 }; /* 16 MiB in all */
    edata_t *e[PIECES];
    for (int i = 0; i < PIECES; i++) {
        e[i] = pai.ops->alloc(pai.impl, PIECE * PAGE, PAGE, false);
        HS_ASSERT_NOT_NULL(e[i]);
    }
    uint64_t t0 = pac_now_ns();
    for (int i = 0; i < PIECES; i++)
        pai.ops->dalloc(pai.impl, e[i]);
    const size_t total = PIECES * PIECE;
    HS_EXPECT_GE_SIZE(ecache_npages(&pac->dirty), total);
    /* A tick one epoch later puts them on the curve (pages join it at the
     * first epoch boundary after they were freed, as freed then). */
    t0 += (uint64_t)ms * MS / DECAY_NSTEPS;
    HS_EXPECT_EQ_SIZE(pac_decay(pac, t0), 0);
    size_t start = ecache_npages(&pac->dirty), last = start;
    for (int step = 1; step <= 10; step++) {
        pac_decay(pac, t0 + (uint64_t)step * (uint64_t)ms * MS / 10);
        size_t d = ecache_npages(&pac->dirty);
        HS_EXPECT_LE_SIZE(d, last);
        if (step == 2) /* smoothstep is slow at first: most still there */
            HS_EXPECT_GE_SIZE(d, start - start / 5);
        if (step == 5) { /* about half, within a batch and an epoch */
            HS_EXPECT_GE_SIZE(d, start / 2 - start / 10);
            HS_EXPECT_LE_SIZE(d, start / 2 + start / 10);
        }
        last = d;
    }
    pac_decay(pac, t0 + 2 * (uint64_t)ms * MS);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 0);
    expect_balanced(pac, 0);
}

static pac_t pac_decay_all;

HS_TEST(purge_all_and_never)
{
    boot_once();
    pac_t *pac = &pac_decay_all;
    pac_init(pac, 107, -1, -1);
    pai_t pai = pac_pai(pac);
    edata_t *a = pai.ops->alloc(pai.impl, 4 * PAGE, PAGE, false);
    edata_t *b = pai.ops->alloc(pai.impl, 4 * PAGE, PAGE, false);
    edata_t *c = pai.ops->alloc(pai.impl, 4 * PAGE, PAGE, false);
    HS_ASSERT_TRUE(a && b && c);
    pai.ops->dalloc(pai.impl, a);
    pai.ops->dalloc(pai.impl, c); /* not adjacent to a: b sits between */
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 8);
    /* -1: never decays by time, whatever the clock says. */
    HS_EXPECT_EQ_SIZE(pac_decay(pac, UINT64_MAX / 2), 0);
    HS_EXPECT_EQ_U64(pai.ops->time_until_deferred_work(pai.impl, 0),
                     UINT64_MAX);
    /* Purging everything does not wait for the curve. */
    HS_EXPECT_EQ_SIZE(pac_purge_all(pac), 8);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 0);
    HS_EXPECT_EQ_SIZE(pac_purge_all(pac), 0);
    expect_balanced(pac, 4 * PAGE);
    pai.ops->dalloc(pai.impl, b);
    expect_balanced(pac, 0);
}

static pac_t pac_deferred;

HS_TEST(time_until_deferred_work)
{
    boot_once();
    pac_t *pac = &pac_deferred;
    int64_t ms = 10000;
    pac_init(pac, 108, ms, ms);
    pai_t pai = pac_pai(pac);
    HS_EXPECT_EQ_U64(pai.ops->time_until_deferred_work(pai.impl, 12345),
                     UINT64_MAX);
    edata_t *e = pai.ops->alloc(pai.impl, 8 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(e);
    uint64_t t0 = pac_now_ns();
    pai.ops->dalloc(pai.impl, e);
    /* Fewer pages than a batch: due when the curve lets all of them go,
     * within the decay time (plus the epoch they joined in). */
    uint64_t wait = pai.ops->time_until_deferred_work(pai.impl, t0);
    HS_EXPECT_GT_U64(wait, 0);
    HS_EXPECT_LE_U64(wait,
                     (uint64_t)ms * MS + 2 * (uint64_t)ms * MS / DECAY_NSTEPS);
    /* Purging at that time takes them all; before it, none. */
    HS_EXPECT_EQ_SIZE(
        pac_decay(pac, t0 + wait - (uint64_t)ms * MS / DECAY_NSTEPS - 1), 0);
    HS_EXPECT_EQ_SIZE(pac_decay(pac, t0 + wait), 8);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->muzzy), 8);
    /* Now the muzzy stage has deferred work. */
    HS_EXPECT_NE_U64(pai.ops->time_until_deferred_work(pai.impl, t0 + wait),
                     UINT64_MAX);
    pac_set_muzzy_decay_ms(pac, -1);
    HS_EXPECT_EQ_U64(pai.ops->time_until_deferred_work(pai.impl, t0 + wait),
                     UINT64_MAX);
    HS_EXPECT_EQ_SIZE(pac_purge_all(pac), 8);
    HS_EXPECT_EQ_U64(pai.ops->time_until_deferred_work(pai.impl, t0),
                     UINT64_MAX);
}

static pac_t pac_split_age;

/*
 * Deferred work after a partial reuse of dirty pages: the pages left
 * dirty were freed at t0, so nothing is purged at t0.
 *
 * (A regression test. The bug it caught: the remainder of the split dirty
 * extent gets dirty_ns 0 (extent_split uses edata_init), so
 * time_until_deferred_work returns 0 and the next decay tick purges it at
 * once.)
 */
HS_TEST(partial_reuse_keeps_decay_deadline)
{
    boot_once();
    pac_t *pac = &pac_split_age;
    int64_t ms = 10000;
    pac_init(pac, 109, ms, ms);
    pai_t pai = pac_pai(pac);
    edata_t *e = pai.ops->alloc(pai.impl, 8 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(e);
    uint64_t t0 = pac_now_ns();
    pai.ops->dalloc(pai.impl, e);
    edata_t *part = pai.ops->alloc(pai.impl, 2 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(part);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 6);
    HS_EXPECT_GT_U64(pai.ops->time_until_deferred_work(pai.impl, t0), 0);
    HS_EXPECT_EQ_SIZE(pac_decay(pac, t0), 0);
    HS_EXPECT_EQ_SIZE(ecache_npages(&pac->dirty), 6);
    pai.ops->dalloc(pai.impl, part);
}

static pa_shard_t shard;

HS_TEST(pa_dispatch_and_stats)
{
    boot_once();
    pa_shard_init(&shard, 110, 10000, 10000);
    edata_t *e = pa_alloc(&shard, 5 * PAGE, PAGE, true);
    HS_ASSERT_NOT_NULL(e);
    expect_fresh_extent(e, 5 * PAGE, PAGE);
    pa_stats_t st;
    pa_stats(&shard, &st);
    HS_EXPECT_EQ_SIZE(st.mapped, 5 * PAGE + st.dirty + st.retained);
    HS_EXPECT_EQ_SIZE(st.dirty, 0);
    HS_EXPECT_TRUE(pa_expand(&shard, e, 7 * PAGE, true));
    HS_EXPECT_TRUE(pa_shrink(&shard, e, 6 * PAGE));
    pa_dalloc(&shard, e);
    pa_stats(&shard, &st);
    HS_EXPECT_EQ_SIZE(st.mapped, st.dirty + st.muzzy + st.retained);
    HS_EXPECT_GE_SIZE(st.dirty, 6 * PAGE);
    HS_EXPECT_EQ_U64(st.npurges, 0);
    HS_EXPECT_NE_U64(pa_time_until_deferred_work(&shard, 0), UINT64_MAX);
    HS_EXPECT_EQ_SIZE(pac_purge_all(&shard.pac) * PAGE, st.dirty);
    pa_stats(&shard, &st);
    HS_EXPECT_EQ_SIZE(st.dirty, 0);
    HS_EXPECT_EQ_SIZE(st.muzzy, 0);
    HS_EXPECT_EQ_U64(st.npurges, 1);
    HS_EXPECT_EQ_U64(st.dirty_purge.npurge, 1);
    HS_EXPECT_EQ_SIZE(st.mapped, st.retained);
}

HS_TEST_MAIN()
