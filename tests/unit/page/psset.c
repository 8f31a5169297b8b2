/*
 * psset.c — unit tests of alloc/page/psset: a pick takes the fullest slab
 * whose longest free run fits (not the emptiest, not the first), skips
 * slabs being purged, and returns NULL when nothing fits; bins, the
 * hugify and purge candidate lists and the counters follow every update;
 * a random workload keeps psset_consistent true throughout.  Slab
 * addresses are arbitrary: no memory is touched.
 */
#include "hs_test.h"

#include "page/psset.h"

static hpdata_t slabs[16];

static hpdata_t *
slab(unsigned i)
{
    hpdata_init(&slabs[i], (void *)((uintptr_t)(i + 1) << 30), i);
    return &slabs[i];
}

/* Reserves npages in h while it is in s. */
static void *
take(psset_t *s, hpdata_t *h, size_t npages)
{
    psset_update_begin(s, h);
    void *p = hpdata_reserve(h, hpdata_find(h, npages), npages);
    psset_update_end(s, h);
    return p;
}

static void
give(psset_t *s, hpdata_t *h, void *p, size_t npages)
{
    psset_update_begin(s, h);
    hpdata_unreserve(h, p, npages);
    psset_update_end(s, h);
}

HS_TEST(pick_takes_the_fullest_slab_that_fits)
{
    psset_t s;
    psset_init(&s, HPDATA_NPAGES * 3 / 4);
    hpdata_t *a = slab(0), *b = slab(1), *c = slab(2), *e = slab(3);
    psset_insert(&s, a);
    psset_insert(&s, b);
    psset_insert(&s, c);
    psset_insert(&s, e);
    take(&s, a, 100);            /* longest free 412 */
    take(&s, b, 400);            /* longest free 112 */
    void *cp = take(&s, c, 300); /* c: 300 active, then a hole */
    take(&s, c, 150);            /* longest free 62 */
    give(&s, c, cp, 10);         /* hole of 10 at the front */
    HS_EXPECT_TRUE(psset_consistent(&s));
    /* 50 pages: c (62 free) is the best fit and the fullest. */
    HS_EXPECT_EQ_PTR(psset_pick(&s, 50), c);
    /* 100 pages: only b (112), a (412), e (512) fit; b is the fullest. */
    HS_EXPECT_EQ_PTR(psset_pick(&s, 100), b);
    /* 413 pages: only the empty slab. */
    HS_EXPECT_EQ_PTR(psset_pick(&s, 413), e);
    HS_EXPECT_NULL(psset_pick(&s, HPDATA_NPAGES + 1));
    /* Two slabs in the same bin: the one with more active pages wins. */
    psset_t t;
    psset_init(&t, HPDATA_NPAGES);
    hpdata_t *x = slab(4), *y = slab(5);
    psset_insert(&t, x);
    psset_insert(&t, y);
    void *xp = take(&t, x, 200);
    take(&t, x, 112);   /* x: 312 active, 200 free at the end */
    give(&t, x, xp, 1); /* x: 311 active, longest 200 */
    take(&t, y, 312);   /* y: 312 active, longest 200 */
    HS_EXPECT_EQ_SIZE(x->longest_free, y->longest_free);
    HS_EXPECT_EQ_PTR(psset_pick(&t, 150), y);
    /* A slab being purged is not picked. */
    psset_update_begin(&t, y);
    y->purging = true;
    psset_update_end(&t, y);
    HS_EXPECT_EQ_PTR(psset_pick(&t, 150), x);
    HS_EXPECT_TRUE(psset_consistent(&t));
}

HS_TEST(candidate_lists_and_counters)
{
    psset_t s;
    psset_init(&s, 400);
    hpdata_t *a = slab(6);
    psset_insert(&s, a);
    HS_EXPECT_EQ_SIZE(s.nslabs, 1);
    HS_EXPECT_EQ_SIZE(s.nempty, 1);
    HS_EXPECT_TRUE(hs_list_empty(&s.hugify));
    void *p = take(&s, a, 450);
    HS_EXPECT_FALSE(hs_list_empty(&s.hugify)); /* dense now */
    HS_EXPECT_TRUE(hs_list_empty(&s.purge));
    HS_EXPECT_EQ_SIZE(s.nactive, 450);
    give(&s, a, p, 100);
    HS_EXPECT_TRUE(hs_list_empty(&s.hugify)); /* 350 < 400 */
    HS_EXPECT_FALSE(hs_list_empty(&s.purge)); /* 100 dirty pages */
    HS_EXPECT_EQ_SIZE(psset_ndirty(&s), 100);
    /* Purged: off the purge list; hugified: counted. */
    psset_update_begin(&s, a);
    size_t pos = 0, first, n;
    while (hpdata_purge_next(a, &pos, &first, &n))
        hpdata_purge_done(a, first, n);
    a->hugified = true;
    psset_update_end(&s, a);
    HS_EXPECT_TRUE(hs_list_empty(&s.purge));
    HS_EXPECT_EQ_SIZE(s.nhugified, 1);
    HS_EXPECT_EQ_SIZE(psset_ndirty(&s), 0);
    HS_EXPECT_TRUE(psset_consistent(&s));
    psset_remove(&s, a);
    HS_EXPECT_EQ_SIZE(s.nslabs, 0);
    HS_EXPECT_EQ_SIZE(s.nactive, 0);
    HS_EXPECT_TRUE(psset_consistent(&s));
}

HS_TEST(random_workload_stays_consistent)
{
    psset_t s;
    psset_init(&s, 384);
    enum { NSLAB = 8, LIVE = 256 };
    for (unsigned i = 0; i < NSLAB; i++)
        psset_insert(&s, slab(8 + i));
    struct {
        hpdata_t *h;
        void *p;
        size_t n;
    } live[LIVE];
    size_t nlive = 0;
    uint64_t r = 0x2545F4914F6CDD1Du;
    for (int step = 0; step < 20000; step++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        if ((r & 3) != 0 && nlive < LIVE) {
            size_t n = 1 + (size_t)((r >> 8) % 48);
            hpdata_t *h = psset_pick(&s, n);
            if (h == NULL)
                continue;
            /* Every slab with a long enough run is no fuller than h
             * unless it sits in a lower (better fitting) bin. */
            for (unsigned i = 0; i < NSLAB; i++) {
                hpdata_t *o = &slabs[8 + i];
                if (o->longest_free >= n && o->longest_free < h->longest_free)
                    HS_ASSERT_TRUE(false);
            }
            live[nlive].h = h;
            live[nlive].n = n;
            live[nlive++].p = take(&s, h, n);
        } else if (nlive > 0) {
            size_t j = (size_t)((r >> 20) % nlive);
            give(&s, live[j].h, live[j].p, live[j].n);
            live[j] = live[--nlive];
        }
        if (step % 97 == 0)
            HS_ASSERT_TRUE(psset_consistent(&s));
    }
    HS_EXPECT_TRUE(psset_consistent(&s));
}

HS_TEST_MAIN()
