/*
 * rtree.c — unit tests of alloc/extent/rtree: unset pages read 0; writes
 * read back for every address of the page and nowhere else; keys across
 * leaf boundaries (each leaf covers 1 GiB) stay separate; addresses beyond
 * the 47-bit user space read 0 and writing 0 there (or anywhere unset)
 * creates nothing; concurrent leaf creation yields one leaf.
 *
 * The keys used are synthetic addresses (the rtree never touches the
 * memory it describes), far from anything else in the process.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>

#include "extent/base.h"
#include "extent/rtree.h"
#include "util/util.h"

static void
do_boot(void)
{
    base_boot();
    rtree_boot();
}

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
}

#define GIB ((uintptr_t)1 << 30)

/* A distinct 1 GiB region per test so the tests do not see each other. */
static uintptr_t
region(unsigned k)
{
    return (uintptr_t)0x500000000000 + (uintptr_t)k * 4 * GIB;
}

HS_TEST(unset_reads_zero)
{
    boot_once();
    HS_EXPECT_EQ_U64(rtree_read(0), 0);
    HS_EXPECT_EQ_U64(rtree_read(PAGE), 0);
    HS_EXPECT_EQ_U64(rtree_read(region(0)), 0);
    HS_EXPECT_EQ_U64(rtree_read(((uintptr_t)1 << 47) - PAGE), 0);
    HS_EXPECT_EQ_U64(rtree_read(((uintptr_t)1 << 47) - 1), 0);
}

HS_TEST(write_then_read_whole_page_only)
{
    boot_once();
    uintptr_t a = region(1) + 17 * PAGE;
    uint64_t v = 0x123456789abcdef0ull;
    HS_ASSERT_TRUE(rtree_write(a, v));
    HS_EXPECT_EQ_U64(rtree_read(a), v);
    HS_EXPECT_EQ_U64(rtree_read(a + 1), v);
    HS_EXPECT_EQ_U64(rtree_read(a + PAGE - 1), v);
    HS_EXPECT_EQ_U64(rtree_read(a + PAGE), 0);
    HS_EXPECT_EQ_U64(rtree_read(a - 1), 0);
    /* Overwrite, then clear. */
    HS_ASSERT_TRUE(rtree_write(a, 42));
    HS_EXPECT_EQ_U64(rtree_read(a + 100), 42);
    HS_ASSERT_TRUE(rtree_write(a, 0));
    HS_EXPECT_EQ_U64(rtree_read(a), 0);
}

HS_TEST(slot_identity)
{
    boot_once();
    uintptr_t a = region(2) + 5 * PAGE;
    rtree_slot_t *s = rtree_slot(a);
    HS_ASSERT_NOT_NULL(s);
    HS_EXPECT_EQ_PTR(rtree_slot(a + PAGE - 1), s);
    HS_EXPECT_EQ_PTR(rtree_slot(a + PAGE), s + 1);
    HS_EXPECT_EQ_PTR(rtree_slot(a - PAGE), s - 1);
    atomic_store(s, 99);
    HS_EXPECT_EQ_U64(rtree_read(a), 99);
    atomic_store(s, 0);
}

HS_TEST(addresses_across_leaves)
{
    boot_once();
    /* Last page of one leaf, first page of the next, and pages many
     * leaves apart, each with its own value. */
    uintptr_t base = region(3);
    const uintptr_t addrs[] = {
        base + GIB - PAGE,
        base + GIB,
        base + 2 * GIB - PAGE,
        base + 2 * GIB,
        base + 3 * GIB + PAGE,
        base,
        (uintptr_t)1 << 46,
        ((uintptr_t)1 << 47) - PAGE,
        PAGE,
    };
    size_t n = sizeof addrs / sizeof addrs[0];
    for (size_t i = 0; i < n; i++)
        HS_ASSERT_TRUE(rtree_write(addrs[i], 1000 + i));
    for (size_t i = 0; i < n; i++)
        HS_EXPECT_EQ_U64(rtree_read(addrs[i]), 1000 + i);
    /* Distinct leaves really are distinct. */
    HS_EXPECT_NE_PTR(rtree_slot(base + GIB - PAGE) + 1, rtree_slot(base + GIB));
    for (size_t i = 0; i < n; i++)
        HS_ASSERT_TRUE(rtree_write(addrs[i], 0));
    for (size_t i = 0; i < n; i++)
        HS_EXPECT_EQ_U64(rtree_read(addrs[i]), 0);
}

HS_TEST(high_addresses_read_zero)
{
    boot_once();
    const uintptr_t high[] = {
        (uintptr_t)1 << 47,
        ((uintptr_t)1 << 47) + PAGE,
        (uintptr_t)1 << 48,
        (uintptr_t)1 << 56,
        (uintptr_t)0xffff800000000000,
        UINTPTR_MAX & ~(uintptr_t)PAGE_MASK,
        UINTPTR_MAX,
    };
    for (size_t i = 0; i < sizeof high / sizeof high[0]; i++) {
        HS_EXPECT_EQ_U64(rtree_read(high[i]), 0);
        /* Writing 0 never fails, even outside the key space. */
        HS_EXPECT_TRUE(rtree_write(high[i], 0));
        HS_EXPECT_EQ_U64(rtree_read(high[i]), 0);
    }
    /* Aliasing check: a value below 2^47 is not visible above it. */
    uintptr_t low = region(4) + 3 * PAGE;
    HS_ASSERT_TRUE(rtree_write(low, 7));
    HS_EXPECT_EQ_U64(rtree_read(low | ((uintptr_t)1 << 47)), 0);
    HS_EXPECT_EQ_U64(rtree_read(low | ((uintptr_t)1 << 63)), 0);
    HS_ASSERT_TRUE(rtree_write(low, 0));
}

HS_TEST(writing_zero_creates_no_leaf)
{
    boot_once();
    uintptr_t a = region(5) + 9 * PAGE;
    uintptr_t ri = (a >> LG_PAGE) >> RTREE_LEAF_BITS;
    HS_ASSERT_NULL(atomic_load(&rtree_root[ri]));
    size_t mapped = base_mapped();
    HS_EXPECT_TRUE(rtree_write(a, 0));
    HS_EXPECT_NULL(atomic_load(&rtree_root[ri]));
    HS_EXPECT_EQ_SIZE(base_mapped(), mapped);
    /* A non-zero write creates exactly that leaf, from base memory. */
    HS_EXPECT_TRUE(rtree_write(a, 5));
    HS_EXPECT_NOT_NULL(atomic_load(&rtree_root[ri]));
    HS_EXPECT_GE_SIZE(base_mapped() - mapped,
                      RTREE_NLEAF * sizeof(rtree_slot_t));
    HS_EXPECT_NULL(atomic_load(&rtree_root[ri + 1]));
    HS_EXPECT_TRUE(rtree_write(a, 0));
}

enum { NTHREADS = 4, NPER = 512 };
static uintptr_t race_base;

static void *
race_worker(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (uintptr_t i = 0; i < NPER; i++) {
        uintptr_t a = race_base + (i * NTHREADS + id) * PAGE;
        if (!rtree_write(a, (id << 32) | (i + 1)))
            return (void *)1;
    }
    return NULL;
}

HS_TEST(concurrent_leaf_creation)
{
    boot_once();
    race_base = region(6);
    pthread_t th[NTHREADS];
    for (uintptr_t t = 0; t < NTHREADS; t++)
        HS_ASSERT_EQ_INT(pthread_create(&th[t], NULL, race_worker, (void *)t),
                         0);
    for (int t = 0; t < NTHREADS; t++) {
        void *r = NULL;
        pthread_join(th[t], &r);
        HS_EXPECT_NULL(r);
    }
    size_t bad = 0;
    for (uintptr_t id = 0; id < NTHREADS; id++)
        for (uintptr_t i = 0; i < NPER; i++) {
            uintptr_t a = race_base + (i * NTHREADS + id) * PAGE;
            if (rtree_read(a) != ((id << 32) | (i + 1)))
                bad++;
        }
    /* One leaf, so every entry written by any thread is visible. */
    HS_EXPECT_EQ_SIZE(bad, 0);
}

HS_TEST_MAIN()
