/*
 * base.c — unit tests of alloc/extent/base: metadata memory is aligned as
 * asked, zero-filled, writable, never overlaps, and the counters grow with
 * it (allocated grows by the 16-rounded size, allocated <= mapped, both
 * only grow).  Boots base alone.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "extent/base.h"
#include "util/util.h"

static void
do_boot(void)
{
    base_boot();
}

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
}

static bool
all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

typedef struct range_s {
    uintptr_t lo, hi;
} range_t;

HS_TEST(aligned_zeroed_disjoint)
{
    boot_once();
    static const size_t sizes[] = {1, 8, 15, 16, 17, 48, 100, 640, 4096, 5000};
    static range_t ranges[512];
    size_t nranges = 0;
    for (size_t align = 16; align <= PAGE; align *= 2) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t size = sizes[k];
            size_t before = base_allocated();
            unsigned char *p = base_alloc(size, align);
            size_t after = base_allocated();
            HS_ASSERT_NOT_NULL(p);
            HS_EXPECT_ALIGNED(p, align);
            /* Accounting counts the 16-rounded size, not the padding. */
            HS_EXPECT_EQ_SIZE(after - before, align_up(size, 16));
            HS_EXPECT_TRUE(all_zero(p, align_up(size, 16)));
            memset(p, 0xee, size);
            ranges[nranges++] = (range_t){(uintptr_t)p, (uintptr_t)p + size};
        }
    }
    for (size_t i = 0; i < nranges; i++)
        for (size_t j = i + 1; j < nranges; j++)
            if (ranges[i].lo < ranges[j].hi && ranges[j].lo < ranges[i].hi)
                HS_FAIL("blocks %zu and %zu overlap", i, j);
    HS_EXPECT_LE_SIZE(base_allocated(), base_mapped());
}

HS_TEST(stats_grow_and_large_blocks)
{
    boot_once();
    size_t a0 = base_allocated(), m0 = base_mapped();
    /* Larger than the biggest block: gets a block of its own. */
    size_t big = (size_t)3 << 20;
    unsigned char *p = base_alloc(big, PAGE);
    HS_ASSERT_NOT_NULL(p);
    HS_EXPECT_ALIGNED(p, PAGE);
    HS_EXPECT_EQ_SIZE(base_allocated() - a0, big);
    HS_EXPECT_GE_SIZE(base_mapped() - m0, big);
    HS_EXPECT_TRUE(all_zero(p, big));
    p[0] = 1;
    p[big - 1] = 1;
    HS_EXPECT_LE_SIZE(base_allocated(), base_mapped());

    /* Many small blocks: mapped keeps up with allocated. */
    size_t m1 = base_mapped();
    for (int i = 0; i < 20000; i++) {
        void *q = base_alloc(64, 64);
        if (q == NULL) {
            HS_FAIL("base_alloc failed at %d", i);
            return;
        }
    }
    HS_EXPECT_GE_SIZE(base_allocated() - a0, big + 20000 * 64);
    HS_EXPECT_GT_SIZE(base_mapped(), m1);
    HS_EXPECT_LE_SIZE(base_allocated(), base_mapped());
}

enum { NTHREADS = 4, NPER = 3000 };
static uint64_t *blocks[NTHREADS][NPER];

static void *
worker(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (int i = 0; i < NPER; i++) {
        uint64_t *b = base_alloc(48, 16);
        blocks[id][i] = b;
        if (b == NULL)
            continue;
        for (int w = 0; w < 6; w++)
            b[w] = (id << 32) | (uint64_t)i;
    }
    return NULL;
}

HS_TEST(concurrent_allocations_do_not_overlap)
{
    boot_once();
    pthread_t th[NTHREADS];
    for (uintptr_t t = 0; t < NTHREADS; t++)
        HS_ASSERT_EQ_INT(pthread_create(&th[t], NULL, worker, (void *)t), 0);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    size_t bad = 0;
    for (uint64_t t = 0; t < NTHREADS; t++)
        for (int i = 0; i < NPER; i++) {
            uint64_t *b = blocks[t][i];
            if (b == NULL) {
                bad++;
                continue;
            }
            for (int w = 0; w < 6; w++)
                if (b[w] != ((t << 32) | (uint64_t)i))
                    bad++;
        }
    HS_EXPECT_EQ_SIZE(bad, 0);
}

HS_TEST_MAIN()
