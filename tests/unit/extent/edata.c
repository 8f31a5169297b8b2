/*
 * edata.c — unit tests of alloc/extent/edata: edata_init fills a fresh
 * descriptor; the edata cache hands out cache-line aligned descriptors,
 * recycles them LIFO and counts in_use, cached and nrecycled exactly.
 * Boots base and the edata cache alone.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>

#include "extent/base.h"
#include "extent/edata.h"
#include "util/util.h"

static void
do_boot(void)
{
    base_boot();
    edata_cache_boot();
}

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
}

typedef struct counts_s {
    size_t in_use, cached;
    uint64_t nrecycled;
} counts_t;

static counts_t
counts(void)
{
    counts_t c;
    edata_cache_stats(&c.in_use, &c.cached, &c.nrecycled);
    return c;
}

HS_TEST(init_fills_descriptor)
{
    boot_once();
    edata_t *e = edata_cache_get();
    HS_ASSERT_NOT_NULL(e);
    void *addr = (void *)(uintptr_t)0x7f0000200000;
    edata_init(e, 3, addr, 5 * PAGE, EXTENT_DIRTY, true, true);
    HS_EXPECT_EQ_PTR(e->addr, addr);
    HS_EXPECT_EQ_SIZE(e->size, 5 * PAGE);
    HS_EXPECT_EQ_U64(e->arena_ind, 3);
    HS_EXPECT_EQ_U64(e->szind, SZIND_NONE);
    HS_EXPECT_EQ_INT(e->state, EXTENT_DIRTY);
    HS_EXPECT_FALSE(e->slab);
    HS_EXPECT_TRUE(e->zeroed);
    HS_EXPECT_TRUE(e->head);
    HS_EXPECT_EQ_U64(e->nfree, 0);
    HS_EXPECT_EQ_U64(e->dirty_ns, 0);
    HS_EXPECT_FALSE(hs_link_linked(&e->bin_link));
    HS_EXPECT_FALSE(hs_link_linked(&e->eset_link));
    HS_EXPECT_FALSE(hs_link_linked(&e->lru_link));
    HS_EXPECT_EQ_U64(edata_base(e), (uintptr_t)addr);
    HS_EXPECT_EQ_U64(edata_past(e), (uintptr_t)addr + 5 * PAGE);
    HS_EXPECT_EQ_PTR(edata_of_bin_link(&e->bin_link), e);
    HS_EXPECT_EQ_PTR(edata_of_eset_link(&e->eset_link), e);
    HS_EXPECT_EQ_PTR(edata_of_lru_link(&e->lru_link), e);
    edata_init(e, 0, addr, PAGE, EXTENT_RETAINED, false, false);
    HS_EXPECT_EQ_INT(e->state, EXTENT_RETAINED);
    HS_EXPECT_FALSE(e->zeroed);
    HS_EXPECT_FALSE(e->head);
    edata_cache_put(e);
}

HS_TEST(descriptors_are_cacheline_aligned_and_distinct)
{
    boot_once();
    enum { N = 100 };
    edata_t *es[N];
    for (int i = 0; i < N; i++) {
        es[i] = edata_cache_get();
        HS_ASSERT_NOT_NULL(es[i]);
        HS_EXPECT_ALIGNED(es[i], HS_CACHELINE);
        /* The emap packs the pointer above bit 5. */
        HS_EXPECT_EQ_U64((uintptr_t)es[i] & 63, 0);
        HS_EXPECT_LT_U64((uintptr_t)es[i], (uint64_t)1 << 48);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (es[i] == es[j])
                HS_FAIL("descriptor %d handed out twice", i);
    for (int i = 0; i < N; i++)
        edata_cache_put(es[i]);
}

HS_TEST(recycle_counts)
{
    boot_once();
    counts_t c0 = counts();
    edata_t *a = edata_cache_get();
    edata_t *b = edata_cache_get();
    HS_ASSERT_NOT_NULL(a);
    HS_ASSERT_NOT_NULL(b);
    counts_t c1 = counts();
    HS_EXPECT_EQ_SIZE(c1.in_use, c0.in_use + 2);
    size_t taken = c0.cached < 2 ? c0.cached : 2;
    HS_EXPECT_EQ_SIZE(c1.cached, c0.cached - taken);
    HS_EXPECT_EQ_U64(c1.nrecycled, c0.nrecycled + taken);
    edata_cache_put(a);
    edata_cache_put(b);
    counts_t c2 = counts();
    HS_EXPECT_EQ_SIZE(c2.in_use, c0.in_use);
    HS_EXPECT_EQ_SIZE(c2.cached, c1.cached + 2);
    /* LIFO: the last one put is the first one got. */
    uint64_t r0 = c2.nrecycled;
    edata_t *x = edata_cache_get();
    HS_EXPECT_EQ_PTR(x, b);
    edata_t *y = edata_cache_get();
    HS_EXPECT_EQ_PTR(y, a);
    counts_t c3 = counts();
    HS_EXPECT_EQ_U64(c3.nrecycled, r0 + 2);
    HS_EXPECT_EQ_SIZE(c3.cached, c2.cached - 2);
    HS_EXPECT_EQ_SIZE(c3.in_use, c0.in_use + 2);
    edata_cache_put(x);
    edata_cache_put(y);
}

HS_TEST(fresh_descriptors_when_cache_empty)
{
    boot_once();
    /* Drain the cache, then the next get comes from base memory and does
     * not count as a recycle. */
    counts_t c0 = counts();
    edata_t *held[4096];
    size_t n = 0;
    while (counts().cached > 0 && n < 4096)
        held[n++] = edata_cache_get();
    HS_ASSERT_EQ_SIZE(counts().cached, 0);
    HS_EXPECT_EQ_U64(counts().nrecycled, c0.nrecycled + n);
    size_t allocated = base_allocated();
    edata_t *f = edata_cache_get();
    HS_ASSERT_NOT_NULL(f);
    HS_EXPECT_EQ_U64(counts().nrecycled, c0.nrecycled + n);
    HS_EXPECT_GE_SIZE(base_allocated() - allocated, sizeof(edata_t));
    HS_EXPECT_EQ_SIZE(counts().in_use, c0.in_use + n + 1);
    edata_cache_put(f);
    for (size_t i = 0; i < n; i++)
        edata_cache_put(held[i]);
    counts_t c9 = counts();
    HS_EXPECT_EQ_SIZE(c9.in_use, c0.in_use);
    HS_EXPECT_EQ_SIZE(c9.cached, c0.cached + 1);
}

enum { NTHREADS = 4, NITERS = 20000 };

static void *
churn(void *arg)
{
    (void)arg;
    edata_t *mine[8];
    for (int i = 0; i < NITERS; i++) {
        for (int k = 0; k < 8; k++) {
            mine[k] = edata_cache_get();
            if (mine[k] == NULL)
                return (void *)1;
            mine[k]->size = (size_t)i; /* owned: nobody else writes it */
        }
        for (int k = 0; k < 8; k++) {
            if (mine[k]->size != (size_t)i)
                return (void *)2;
            edata_cache_put(mine[k]);
        }
    }
    return NULL;
}

HS_TEST(concurrent_get_put_balances)
{
    boot_once();
    counts_t c0 = counts();
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        HS_ASSERT_EQ_INT(pthread_create(&th[t], NULL, churn, NULL), 0);
    for (int t = 0; t < NTHREADS; t++) {
        void *r = NULL;
        pthread_join(th[t], &r);
        HS_EXPECT_NULL(r);
    }
    counts_t c1 = counts();
    HS_EXPECT_EQ_SIZE(c1.in_use, c0.in_use);
    HS_EXPECT_LE_SIZE(c1.cached, c0.cached + NTHREADS * 8);
    HS_EXPECT_GE_U64(c1.nrecycled - c0.nrecycled,
                     (uint64_t)NTHREADS * 8 * NITERS - NTHREADS * 8);
}

HS_TEST_MAIN()
