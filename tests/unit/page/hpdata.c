/*
 * hpdata.c — unit tests of alloc/page/hpdata: first-fit finds, reserve and
 * unreserve keep the counters and the longest free run right, touched
 * pages stay touched until purged (retained = pages never touched or
 * purged), the purge walk visits exactly the touched inactive runs, and a
 * random sequence of operations agrees with a plain model of per-page
 * booleans at every step.  No memory is touched: the slab address is
 * arbitrary (hugepage-aligned).
 */
#include "hs_test.h"

#include <stdbool.h>
#include <string.h>

#include "page/hpdata.h"

#define BASE ((void *)(uintptr_t)0x40000000)

static void *
page_addr(size_t i)
{
    return (char *)BASE + i * PAGE;
}

HS_TEST(fresh_slab)
{
    hpdata_t h;
    hpdata_init(&h, BASE, 7);
    HS_EXPECT_EQ_SIZE(h.nactive, 0);
    HS_EXPECT_EQ_SIZE(h.ntouched, 0);
    HS_EXPECT_EQ_SIZE(h.longest_free, HPDATA_NPAGES);
    HS_EXPECT_EQ_SIZE(hpdata_nretained(&h), HPDATA_NPAGES);
    HS_EXPECT_TRUE(hpdata_empty(&h));
    HS_EXPECT_EQ_SIZE(hpdata_find(&h, HPDATA_NPAGES), 0);
    HS_EXPECT_EQ_SIZE(hpdata_find(&h, HPDATA_NPAGES + 1), HPDATA_NPAGES);
    HS_EXPECT_EQ_SIZE(hpdata_find(&h, 0), HPDATA_NPAGES);
    HS_EXPECT_TRUE(hpdata_consistent(&h));
}

HS_TEST(reserve_unreserve_and_touched_arithmetic)
{
    hpdata_t h;
    hpdata_init(&h, BASE, 0);
    /* [0,10) [10,110) [110,111) active */
    HS_EXPECT_EQ_PTR(hpdata_reserve(&h, hpdata_find(&h, 10), 10), page_addr(0));
    HS_EXPECT_EQ_PTR(hpdata_reserve(&h, hpdata_find(&h, 100), 100),
                     page_addr(10));
    HS_EXPECT_EQ_PTR(hpdata_reserve(&h, hpdata_find(&h, 1), 1), page_addr(110));
    HS_EXPECT_EQ_SIZE(h.nactive, 111);
    HS_EXPECT_EQ_SIZE(h.ntouched, 111);
    HS_EXPECT_EQ_SIZE(h.longest_free, HPDATA_NPAGES - 111);
    /* Free the middle: dirty, still touched; the hole is found first. */
    hpdata_unreserve(&h, page_addr(10), 100);
    HS_EXPECT_EQ_SIZE(h.nactive, 11);
    HS_EXPECT_EQ_SIZE(h.ntouched, 111);
    HS_EXPECT_EQ_SIZE(hpdata_ndirty(&h), 100);
    HS_EXPECT_EQ_SIZE(hpdata_nretained(&h), HPDATA_NPAGES - 111);
    HS_EXPECT_EQ_SIZE(hpdata_find(&h, 50), 10);
    HS_EXPECT_EQ_SIZE(hpdata_find(&h, 200), 111);
    HS_EXPECT_EQ_SIZE(h.longest_free, HPDATA_NPAGES - 111);
    HS_EXPECT_TRUE(hpdata_consistent(&h));
    /* Fill the slab completely; nothing fits. */
    hpdata_reserve(&h, 10, 100);
    hpdata_reserve(&h, 111, HPDATA_NPAGES - 111);
    HS_EXPECT_EQ_SIZE(h.longest_free, 0);
    HS_EXPECT_EQ_SIZE(hpdata_find(&h, 1), HPDATA_NPAGES);
    HS_EXPECT_EQ_SIZE(hpdata_nretained(&h), 0);
    HS_EXPECT_TRUE(hpdata_consistent(&h));
}

HS_TEST(purge_walk_visits_dirty_runs_only)
{
    hpdata_t h;
    hpdata_init(&h, BASE, 0);
    hpdata_reserve(&h, 0, 300);
    hpdata_unreserve(&h, page_addr(5), 10);  /* dirty [5,15) */
    hpdata_unreserve(&h, page_addr(60), 4);  /* dirty [60,64) */
    hpdata_unreserve(&h, page_addr(64), 70); /* dirty [64,134): joins */
    hpdata_unreserve(&h, page_addr(299), 1); /* dirty [299,300) */
    size_t pos = 0, first, n, runs = 0, pages = 0;
    size_t want_first[] = {5, 60, 299}, want_n[] = {10, 74, 1};
    h.purging = true;
    while (hpdata_purge_next(&h, &pos, &first, &n)) {
        HS_ASSERT_LT_U64(runs, 3);
        HS_EXPECT_EQ_SIZE(first, want_first[runs]);
        HS_EXPECT_EQ_SIZE(n, want_n[runs]);
        hpdata_purge_done(&h, first, n);
        runs++;
        pages += n;
    }
    h.purging = false;
    HS_EXPECT_EQ_SIZE(runs, 3);
    HS_EXPECT_EQ_SIZE(pages, 85);
    HS_EXPECT_EQ_SIZE(hpdata_ndirty(&h), 0);
    HS_EXPECT_EQ_SIZE(h.ntouched, 300 - 85);
    HS_EXPECT_EQ_SIZE(hpdata_nretained(&h), HPDATA_NPAGES - 215);
    HS_EXPECT_TRUE(hpdata_consistent(&h));
    /* Reusing purged pages touches them again. */
    hpdata_reserve(&h, 5, 10);
    HS_EXPECT_EQ_SIZE(h.ntouched, 225);
    HS_EXPECT_TRUE(hpdata_consistent(&h));
}

/* A random walk against a per-page model. */
HS_TEST(random_operations_match_a_model)
{
    hpdata_t h;
    hpdata_init(&h, BASE, 0);
    bool active[HPDATA_NPAGES] = {0}, touched[HPDATA_NPAGES] = {0};
    enum { LIVE = 64 };
    size_t live_first[LIVE], live_n[LIVE], nlive = 0;
    uint64_t s = 88172645463325252u;
    for (int step = 0; step < 20000; step++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        unsigned op = (unsigned)(s % 10);
        if (op < 5 && nlive < LIVE) {
            size_t n = 1 + (size_t)((s >> 8) % (op == 0 ? 64 : 8));
            size_t f = hpdata_find(&h, n);
            /* model first fit */
            size_t mf = HPDATA_NPAGES;
            for (size_t i = 0; i + n <= HPDATA_NPAGES && mf == HPDATA_NPAGES;
                 i++) {
                size_t k = 0;
                while (k < n && !active[i + k])
                    k++;
                if (k == n)
                    mf = i;
            }
            HS_ASSERT_EQ_SIZE(f, mf);
            if (f == HPDATA_NPAGES)
                continue;
            hpdata_reserve(&h, f, n);
            for (size_t k = 0; k < n; k++)
                active[f + k] = touched[f + k] = true;
            live_first[nlive] = f;
            live_n[nlive++] = n;
        } else if (op < 9 && nlive > 0) {
            size_t j = (size_t)((s >> 16) % nlive);
            hpdata_unreserve(&h, page_addr(live_first[j]), live_n[j]);
            for (size_t k = 0; k < live_n[j]; k++)
                active[live_first[j] + k] = false;
            live_first[j] = live_first[--nlive];
            live_n[j] = live_n[nlive];
        } else {
            size_t pos = 0, first, n;
            while (hpdata_purge_next(&h, &pos, &first, &n)) {
                for (size_t k = 0; k < n; k++) {
                    HS_ASSERT_TRUE(touched[first + k] && !active[first + k]);
                    touched[first + k] = false;
                }
                hpdata_purge_done(&h, first, n);
            }
        }
        size_t na = 0, nt = 0, longest = 0, run = 0;
        for (size_t i = 0; i < HPDATA_NPAGES; i++) {
            na += active[i];
            nt += touched[i];
            run = active[i] ? 0 : run + 1;
            if (run > longest)
                longest = run;
        }
        HS_ASSERT_EQ_SIZE(h.nactive, na);
        HS_ASSERT_EQ_SIZE(h.ntouched, nt);
        HS_ASSERT_EQ_SIZE(h.longest_free, longest);
        HS_ASSERT_TRUE(hpdata_consistent(&h));
    }
}

HS_TEST_MAIN()
