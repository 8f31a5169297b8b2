/*
 * eset.c — unit tests of alloc/extent/eset: the page-count classes
 * (psz_ceil / psz_pages agree over a range and at powers of two), insert
 * and remove accounting (npages, nextents), fit (a member big enough for
 * the size plus the alignment slack, NULL only when none is, the smallest
 * bucket first), and age order (oldest first).
 *
 * The eset touches neither memory nor the emap, so descriptors here are
 * static and describe synthetic addresses; nothing is booted.
 */
#include "hs_test.h"

#include <stdint.h>

#include "extent/edata.h"
#include "extent/eset.h"
#include "util/util.h"

#define NDESC 64
static edata_t desc[NDESC];

static edata_t *
mk(unsigned i, size_t npages)
{
    edata_init(&desc[i], 0,
               (void *)((uintptr_t)0x100000000000 + (uintptr_t)i * (1 << 30)),
               npages * PAGE, EXTENT_DIRTY, false, false);
    return &desc[i];
}

/* The highest class index used by real extents (2^35 pages = 2^47 bytes)
 * plus a margin; psz_pages is exact well beyond it. */
#define PSZ_TOP 160

HS_TEST(psz_classes_are_consistent)
{
    /* psz_pages strictly increasing, and psz_ceil inverts it. */
    for (unsigned i = 0; i < PSZ_TOP; i++) {
        if (i > 0 && psz_pages(i) <= psz_pages(i - 1))
            HS_FAIL("psz_pages(%u) = %zu not above psz_pages(%u) = %zu", i,
                    psz_pages(i), i - 1, psz_pages(i - 1));
        if (psz_ceil(psz_pages(i)) != i)
            HS_FAIL("psz_ceil(psz_pages(%u) = %zu) = %u", i, psz_pages(i),
                    psz_ceil(psz_pages(i)));
    }
    /* psz_ceil(n) is the least class >= n, for every n in a range. */
    size_t bad = 0;
    for (size_t n = 1; n <= 300000; n++) {
        unsigned c = psz_ceil(n);
        if (psz_pages(c) < n || (c > 0 && psz_pages(c - 1) >= n))
            if (bad++ < 5)
                HS_FAIL("psz_ceil(%zu) = %u (pages %zu)", n, c, psz_pages(c));
    }
    HS_EXPECT_EQ_SIZE(bad, 0);
}

HS_TEST(psz_powers_of_two)
{
    for (unsigned lg = 0; lg <= 40; lg++) {
        size_t p = (size_t)1 << lg;
        const size_t ns[] = {p - 1, p, p + 1};
        for (int k = 0; k < 3; k++) {
            size_t n = ns[k];
            if (n == 0)
                continue;
            unsigned c = psz_ceil(n);
            HS_EXPECT_GE_SIZE(psz_pages(c), n);
            if (c > 0)
                HS_EXPECT_LT_SIZE(psz_pages(c - 1), n);
        }
        /* Powers of two are classes themselves. */
        HS_EXPECT_EQ_SIZE(psz_pages(psz_ceil(p)), p);
    }
    /* Four classes per doubling from 4 pages on: 5, 6, 7, 8, 10, 12, ... */
    HS_EXPECT_EQ_SIZE(psz_pages(0), 1);
    HS_EXPECT_EQ_SIZE(psz_pages(3), 4);
    HS_EXPECT_EQ_SIZE(psz_pages(4), 5);
    HS_EXPECT_EQ_SIZE(psz_pages(7), 8);
    HS_EXPECT_EQ_SIZE(psz_pages(8), 10);
    HS_EXPECT_EQ_SIZE(psz_pages(11), 16);
    /* The largest possible extent (the whole 47-bit space) has a bucket. */
    HS_EXPECT_LT_U64(psz_ceil(((size_t)1 << 47) / PAGE), ESET_NBUCKETS);
}

HS_TEST(insert_remove_accounting)
{
    eset_t s;
    eset_init(&s, EXTENT_DIRTY);
    HS_EXPECT_EQ_SIZE(s.npages, 0);
    HS_EXPECT_EQ_SIZE(s.nextents, 0);
    HS_EXPECT_NULL(eset_oldest(&s));
    HS_EXPECT_NULL(eset_fit(&s, PAGE, PAGE));
    static const size_t pages[] = {1, 2, 3, 4, 5, 7, 9, 64, 100, 1000};
    size_t n = sizeof pages / sizeof pages[0], total = 0;
    for (size_t i = 0; i < n; i++) {
        eset_insert(&s, mk((unsigned)i, pages[i]));
        total += pages[i];
        HS_EXPECT_EQ_SIZE(s.npages, total);
        HS_EXPECT_EQ_SIZE(s.nextents, i + 1);
        /* The member sits in bucket psz_floor(npages), whose bit is set. */
        unsigned fb = psz_ceil(pages[i]);
        if (psz_pages(fb) > pages[i])
            fb--;
        HS_EXPECT_TRUE((s.nonempty[fb / 64] >> (fb % 64)) & 1);
        HS_EXPECT_EQ_PTR(s.buckets[fb].next, &desc[i].eset_link);
        HS_EXPECT_TRUE(eset_consistent(&s));
    }
    size_t nbits = 0;
    for (unsigned w = 0; w < ESET_NBUCKETS / 64; w++)
        nbits += (size_t)__builtin_popcountll(s.nonempty[w]);
    HS_EXPECT_EQ_SIZE(nbits, n); /* every size above is its own bucket */
    /* Remove in a different order than inserted. */
    for (size_t k = 0; k < n; k++) {
        size_t i = (k * 3) % n;
        eset_remove(&s, &desc[i]);
        total -= pages[i];
        HS_EXPECT_EQ_SIZE(s.npages, total);
        HS_EXPECT_EQ_SIZE(s.nextents, n - k - 1);
        HS_EXPECT_FALSE(hs_link_linked(&desc[i].eset_link));
        HS_EXPECT_FALSE(hs_link_linked(&desc[i].lru_link));
        HS_EXPECT_TRUE(eset_consistent(&s));
    }
    /* Empty again: every bucket bit is clear and nothing fits. */
    for (unsigned w = 0; w < ESET_NBUCKETS / 64; w++)
        HS_EXPECT_EQ_U64(s.nonempty[w], 0);
    HS_EXPECT_NULL(eset_fit(&s, PAGE, PAGE));
    HS_EXPECT_NULL(eset_oldest(&s));
}

HS_TEST(fit_returns_a_big_enough_member)
{
    eset_t s;
    eset_init(&s, EXTENT_DIRTY);
    edata_t *e4 = mk(0, 4), *e8 = mk(1, 8), *e100 = mk(2, 100);
    eset_insert(&s, e4);
    eset_insert(&s, e8);
    eset_insert(&s, e100);
    /* Exact classes. */
    HS_EXPECT_EQ_PTR(eset_fit(&s, 4 * PAGE, PAGE), e4);
    HS_EXPECT_EQ_PTR(eset_fit(&s, 8 * PAGE, PAGE), e8);
    HS_EXPECT_EQ_PTR(eset_fit(&s, 100 * PAGE, PAGE), e100);
    /* Smaller requests get the smallest bucket that fits. */
    HS_EXPECT_EQ_PTR(eset_fit(&s, PAGE, PAGE), e4);
    HS_EXPECT_EQ_PTR(eset_fit(&s, 5 * PAGE, PAGE), e8);
    HS_EXPECT_EQ_PTR(eset_fit(&s, 9 * PAGE, PAGE), e100);
    HS_EXPECT_EQ_PTR(eset_fit(&s, 99 * PAGE, PAGE), e100);
    /* Too big for anything. */
    HS_EXPECT_NULL(eset_fit(&s, 101 * PAGE, PAGE));
    HS_EXPECT_NULL(eset_fit(&s, (size_t)1 << 40, PAGE));
    /* Overflowing size plus slack. */
    HS_EXPECT_NULL(eset_fit(&s, SIZE_MAX & ~PAGE_MASK, 4 * PAGE));
}

HS_TEST(fit_honours_alignment_slack)
{
    eset_t s;
    eset_init(&s, EXTENT_DIRTY);
    edata_t *e4 = mk(0, 4), *e7 = mk(1, 7), *e8 = mk(2, 8);
    eset_insert(&s, e4);
    eset_insert(&s, e8);
    /* 4 pages aligned to 4 pages may need up to 3 pages of lead: 7. */
    edata_t *r = eset_fit(&s, 4 * PAGE, 4 * PAGE);
    HS_EXPECT_EQ_PTR(r, e8);
    eset_insert(&s, e7);
    r = eset_fit(&s, 4 * PAGE, 4 * PAGE);
    HS_ASSERT_NOT_NULL(r);
    HS_EXPECT_GE_SIZE(r->size, 7 * PAGE);
    HS_EXPECT_NE_PTR(r, e4);
    /* Alignment <= PAGE needs no slack. */
    HS_EXPECT_EQ_PTR(eset_fit(&s, 4 * PAGE, PAGE), e4);
    HS_EXPECT_EQ_PTR(eset_fit(&s, 4 * PAGE, 16), e4);
    /* Slack beyond every member. */
    HS_EXPECT_NULL(eset_fit(&s, PAGE, 16 * PAGE));
}

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t
rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state >> 33;
}

HS_TEST(consistent_catches_each_broken_invariant)
{
    eset_t s;
    eset_init(&s, EXTENT_DIRTY);
    HS_EXPECT_TRUE(eset_consistent(&s));
    edata_t *a = mk(0, 3), *b = mk(1, 40);
    eset_insert(&s, a);
    eset_insert(&s, b);
    HS_ASSERT_TRUE(eset_consistent(&s));
    s.npages++; /* the page count */
    HS_EXPECT_FALSE(eset_consistent(&s));
    s.npages--;
    s.nonempty[0] ^= 1; /* a bucket bit */
    HS_EXPECT_FALSE(eset_consistent(&s));
    s.nonempty[0] ^= 1;
    a->size += 40 * PAGE; /* a member in the wrong bucket */
    HS_EXPECT_FALSE(eset_consistent(&s));
    a->size -= 40 * PAGE;
    b->state = EXTENT_RETAINED; /* a member of another state */
    HS_EXPECT_FALSE(eset_consistent(&s));
    b->state = EXTENT_DIRTY;
    s.nextents++; /* the extent count */
    HS_EXPECT_FALSE(eset_consistent(&s));
    s.nextents--;
    HS_EXPECT_TRUE(eset_consistent(&s));
    eset_remove(&s, a);
    eset_remove(&s, b);
    HS_EXPECT_TRUE(eset_consistent(&s));
}

HS_TEST(fit_agrees_with_brute_force)
{
    /* With at most 8 members no bucket exceeds fit's walk budget, so fit
     * must find a member whenever one is big enough. */
    static const size_t aligns[] = {PAGE, 2 * PAGE, 4 * PAGE, 16 * PAGE,
                                    64 * PAGE};
    size_t mismatches = 0, small = 0;
    for (int round = 0; round < 2000; round++) {
        eset_t s;
        eset_init(&s, EXTENT_DIRTY);
        unsigned n = 1 + (unsigned)(rng() % 8);
        for (unsigned i = 0; i < n; i++)
            eset_insert(&s, mk(i, 1 + rng() % 300));
        for (int q = 0; q < 20; q++) {
            size_t size = (1 + rng() % 300) * PAGE;
            size_t align = aligns[rng() % 5];
            size_t need = size + align - PAGE;
            bool exists = false;
            for (unsigned i = 0; i < n; i++)
                exists |= desc[i].size >= need;
            edata_t *r = eset_fit(&s, size, align);
            if ((r != NULL) != exists)
                mismatches++;
            if (r != NULL) {
                if (r < &desc[0] || r >= &desc[n])
                    HS_FAIL("fit returned a non-member %p", (void *)r);
                else if (r->size < need)
                    small++;
            }
        }
    }
    HS_EXPECT_EQ_SIZE(mismatches, 0);
    HS_EXPECT_EQ_SIZE(small, 0);
}

HS_TEST(oldest_order)
{
    eset_t s;
    eset_init(&s, EXTENT_DIRTY);
    edata_t *a = mk(0, 3), *b = mk(1, 50), *c = mk(2, 1);
    eset_insert(&s, a);
    eset_insert(&s, b);
    eset_insert(&s, c);
    HS_EXPECT_EQ_PTR(eset_oldest(&s), a);
    eset_remove(&s, a);
    HS_EXPECT_EQ_PTR(eset_oldest(&s), b);
    eset_insert(&s, a); /* now the newest */
    HS_EXPECT_EQ_PTR(eset_oldest(&s), b);
    eset_remove(&s, c); /* removing from the middle keeps the order */
    HS_EXPECT_EQ_PTR(eset_oldest(&s), b);
    eset_remove(&s, b);
    HS_EXPECT_EQ_PTR(eset_oldest(&s), a);
    eset_remove(&s, a);
    HS_EXPECT_NULL(eset_oldest(&s));
}

HS_TEST(same_bucket_prefers_most_recent)
{
    /* Within a bucket the most recently freed member is preferred (its
     * pages are the likeliest to be resident). */
    eset_t s;
    eset_init(&s, EXTENT_DIRTY);
    edata_t *x = mk(0, 10), *y = mk(1, 10), *z = mk(2, 11);
    eset_insert(&s, x);
    eset_insert(&s, y);
    eset_insert(&s, z);
    edata_t *r = eset_fit(&s, 10 * PAGE, PAGE);
    HS_EXPECT_TRUE(r == y || r == z);
    HS_EXPECT_EQ_PTR(eset_fit(&s, 11 * PAGE, PAGE), z);
    eset_remove(&s, z);
    HS_EXPECT_EQ_PTR(eset_fit(&s, 10 * PAGE, PAGE), y);
    HS_EXPECT_NULL(eset_fit(&s, 11 * PAGE, PAGE));
}

HS_TEST_MAIN()
