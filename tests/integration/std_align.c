/*
 * std_align.c — the aligned allocation entry points: posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc, through the standard
 * symbols only.
 *
 * Owns the checks for: EINVAL on a bad alignment with the out-pointer left
 * untouched (posix_memalign) or NULL + errno EINVAL (aligned_alloc),
 * ENOMEM on huge sizes, every power-of-two alignment 16 B .. 1 GiB giving
 * an aligned, fully writable block, and page alignment/rounding of valloc
 * and pvalloc.
 */
#include "hs_test.h"
#include "it_util.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STD_SENTINEL ((void *)(uintptr_t)0x5e47196e1)

static size_t
std_page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

HS_TEST(posix_memalign_bad_alignment_is_einval)
{
    /* Not a power of two, or smaller than sizeof(void *). */
    static const size_t bad[] = {0,  1,  2,  3,   4,    5,    6,
                                 7,  12, 24, 48,  100,  4097, 3 << 12,
                                 SIZE_MAX, (SIZE_MAX >> 1) + 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *p = STD_SENTINEL;
        int rc = posix_memalign(&p, it_opaque(bad[i]), 64);
        if (rc != EINVAL)
            HS_FAIL("posix_memalign(align %zu) = %d", bad[i], rc);
        HS_EXPECT_EQ_PTR(p, STD_SENTINEL);
    }
}

HS_TEST(posix_memalign_huge_is_enomem)
{
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4095,
                                  (size_t)PTRDIFF_MAX + 1};
    static const size_t aligns[] = {8, 16, 4096, 1 << 21};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
            void *p = STD_SENTINEL;
            int rc = posix_memalign(&p, aligns[a], it_opaque(huge[i]));
            HS_EXPECT_EQ_INT(rc, ENOMEM);
            HS_EXPECT_EQ_PTR(p, STD_SENTINEL);
        }
    }
}

HS_TEST(posix_memalign_size_zero)
{
    void *p = STD_SENTINEL;
    HS_ASSERT_EQ_INT(posix_memalign(&p, 64, it_opaque(0)), 0);
    /* Either NULL or a unique pointer that free accepts. */
    HS_EXPECT_NE_PTR(p, STD_SENTINEL);
    HS_EXPECT_ALIGNED(p, 64);
    free(p);
}

HS_TEST(posix_memalign_pointer_size_alignment)
{
    void *p = NULL;
    HS_ASSERT_EQ_INT(posix_memalign(&p, sizeof(void *), 24), 0);
    HS_ASSERT_NOT_NULL(p);
    HS_EXPECT_ALIGNED(p, 16);
    memset(p, 3, 24);
    free(p);
}

HS_TEST(aligned_alloc_bad_alignment_is_einval)
{
    static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 96, 100, 4097,
                                 (SIZE_MAX >> 1) + 2, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = aligned_alloc(it_opaque(bad[i]), 96);
        if (p != NULL || errno != EINVAL)
            HS_FAIL("aligned_alloc(%zu, 96) = %p, errno %d", bad[i], p,
                    errno);
        free(p);
    }
}

HS_TEST(aligned_alloc_small_powers_of_two)
{
    static const size_t ok[] = {1, 2, 4, 8, 16, 32, 64};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        void *p = aligned_alloc(it_opaque(ok[i]), 100);
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_ALIGNED(p, ok[i]);
        HS_EXPECT_GE_SIZE(malloc_usable_size(p), 100);
        memset(p, 9, 100);
        free(p);
    }
}

HS_TEST(aligned_alloc_huge_is_enomem)
{
    errno = 0;
    void *p = aligned_alloc(4096, it_opaque(SIZE_MAX - 100));
    HS_EXPECT_NULL(p);
    IT_EXPECT_ERRNO(ENOMEM);
}

/* One aligned block: aligned, usable >= n, writable end to end. */
static void
std_check_aligned_block(const char *what, void *p, size_t align, size_t n)
{
    if (p == NULL) {
        HS_FAIL("%s(align %zu, size %zu) = NULL", what, align, n);
        return;
    }
    if (!it_is_aligned(p, align))
        HS_FAIL("%s(align %zu, size %zu) = %p", what, align, n, p);
    size_t u = malloc_usable_size(p);
    if (u < n) {
        /* Writing n bytes would corrupt the heap: report and stop. */
        HS_FAIL("%s(align %zu, size %zu): usable %zu", what, align, n, u);
        return;
    }
    memset(p, 0xcd, n);
    if (it_check_byte(p, n, 0xcd) != n)
        HS_FAIL("%s(align %zu, size %zu): lost a write", what, align, n);
}

static size_t
std_block_size(size_t align, int variant)
{
    size_t cap = (size_t)8 << 20;
    switch (variant) {
    case 0: return 1;
    case 1: return align < cap ? align : cap;
    default: return (align < cap ? align : cap) + 17;
    }
}

HS_TEST(all_alignments_16_to_1g_work)
{
    for (size_t a = 16; a <= ((size_t)1 << 30); a <<= 1) {
        for (int v = 0; v < 3; v++) {
            size_t n = std_block_size(a, v);
            void *p = NULL;
            int rc = posix_memalign(&p, it_opaque(a), n);
            HS_EXPECT_EQ_INT(rc, 0);
            std_check_aligned_block("posix_memalign", p, a, n);
            void *q = aligned_alloc(it_opaque(a), n);
            std_check_aligned_block("aligned_alloc", q, a, n);
            void *r = memalign(it_opaque(a), n);
            std_check_aligned_block("memalign", r, a, n);
            free(p);
            free(q);
            free(r);
        }
    }
}

HS_TEST(aligned_blocks_are_distinct)
{
    enum { N = 64 };
    void *ptrs[N];
    for (size_t i = 0; i < N; i++) {
        ptrs[i] = aligned_alloc(4096, 4096);
        HS_ASSERT_NOT_NULL(ptrs[i]);
        it_fill(ptrs[i], 4096, i);
    }
    for (size_t i = 0; i < N; i++) {
        HS_EXPECT_EQ_SIZE(it_check(ptrs[i], 4096, i), 4096);
        free(ptrs[i]);
    }
}

HS_TEST(memalign_works)
{
    static const size_t aligns[] = {8, 16, 32, 256, 4096, 65536, 1 << 21};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        void *p = memalign(it_opaque(aligns[i]), 1000);
        std_check_aligned_block("memalign", p, aligns[i], 1000);
        free(p);
    }
    errno = 0;
    void *p = memalign(64, it_opaque(SIZE_MAX - 10));
    HS_EXPECT_NULL(p);
    IT_EXPECT_ERRNO(ENOMEM);
}

HS_TEST(valloc_is_page_aligned)
{
    size_t page = std_page();
    static const size_t sizes[] = {1, 100, 4096, 4097, 100000, 3 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = valloc(it_opaque(sizes[i]));
        std_check_aligned_block("valloc", p, page, sizes[i]);
        free(p);
    }
    errno = 0;
    void *p = valloc(it_opaque(SIZE_MAX - 10));
    HS_EXPECT_NULL(p);
    IT_EXPECT_ERRNO(ENOMEM);
}

HS_TEST(pvalloc_rounds_up_to_pages)
{
    size_t page = std_page();
    const size_t sizes[] = {0, 1, 100, page - 1, page, page + 1,
                            3 * page + 5, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t want = (sizes[i] + page - 1) / page * page;
        if (want == 0)
            want = page;
        void *p = pvalloc(it_opaque(sizes[i]));
        std_check_aligned_block("pvalloc", p, page, want);
        free(p);
    }
}

HS_TEST(pvalloc_huge_is_enomem)
{
    /* Rounding SIZE_MAX - 10 up to a page would overflow. */
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 10,
                                  (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = pvalloc(it_opaque(huge[i]));
        HS_EXPECT_NULL(p);
        IT_EXPECT_ERRNO(ENOMEM);
    }
}

HS_TEST_MAIN()
