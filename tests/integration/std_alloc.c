/*
 * std_alloc.c — glibc/POSIX semantics of malloc, calloc, realloc,
 * reallocarray and free, through the standard symbols only.
 *
 * Owns the checks for: ENOMEM (with NULL) on every failed request, calloc
 * and reallocarray overflow, realloc failure leaving the old block valid
 * and untouched, malloc(0) unique pointers, realloc(p, 0) freeing,
 * realloc(NULL, n), 16-byte alignment of every result and zero-filled
 * calloc memory even when it reuses dirty blocks.  Alignment APIs are in
 * std_align.c, introspection in std_introspect.c.
 */
#include "hs_test.h"
#include "it_util.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Sizes that must fail: over PTRDIFF_MAX, and near SIZE_MAX (catches
 * overflow while rounding up to a size class or page). */
static const size_t std_huge_sizes[] = {
    SIZE_MAX,         SIZE_MAX - 1,
    SIZE_MAX - 4095,  SIZE_MAX - (1ull << 21),
    SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX + 1,
};
#define STD_NHUGE (sizeof std_huge_sizes / sizeof std_huge_sizes[0])

HS_TEST(malloc_huge_fails_with_enomem)
{
    for (size_t i = 0; i < STD_NHUGE; i++) {
        errno = 0;
        void *p = malloc(it_opaque(std_huge_sizes[i]));
        HS_EXPECT_NULL(p);
        IT_EXPECT_ERRNO(ENOMEM);
        free(p);
    }
}

HS_TEST(malloc_small_and_large_work)
{
    static const size_t sizes[] = {
        1, 8, 16, 17, 100, 4096, 65536, 1 << 20, (8 << 20) + 3, 64 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = malloc(it_opaque(sizes[i]));
        HS_ASSERT_NOT_NULL(p);
        it_fill(p, sizes[i], i);
        HS_EXPECT_EQ_SIZE(it_check(p, sizes[i], i), sizes[i]);
        free(p);
    }
}

HS_TEST(malloc_zero_gives_unique_pointers)
{
    enum { N = 1000 };
    static void *ptrs[N];
    for (size_t i = 0; i < N; i++) {
        ptrs[i] = malloc(it_opaque(0));
        HS_ASSERT_NOT_NULL(ptrs[i]);
        HS_EXPECT_ALIGNED(ptrs[i], 16);
    }
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++) {
            if (ptrs[i] == ptrs[j])
                HS_FAIL("malloc(0) returned %p twice", ptrs[i]);
        }
    }
    for (size_t i = 0; i < N; i++)
        free(ptrs[i]);
}

HS_TEST(free_null_is_noop)
{
    free(it_opaque_ptr(NULL));
    HS_EXPECT_TRUE(true);
}

HS_TEST(every_size_is_16_aligned_and_usable)
{
    size_t bad = 0;
    for (size_t n = 0; n <= 70000; n++) {
        unsigned char *p = malloc(it_opaque(n));
        if (p == NULL || !it_is_aligned(p, 16)) {
            if (bad++ < 5)
                HS_FAIL("malloc(%zu) = %p", n, (void *)p);
            free(p);
            continue;
        }
        size_t u = malloc_usable_size(p);
        if (u < n && bad++ < 5)
            HS_FAIL("malloc_usable_size(malloc(%zu)) = %zu", n, u);
        if (u > 0) {
            p[0] = 0x5a;
            p[u - 1] = 0xa5;
        }
        free(p);
    }
    HS_EXPECT_EQ_SIZE(bad, 0);
}

HS_TEST(large_sizes_are_16_aligned)
{
    static const size_t sizes[] = {(1 << 20) - 1, (1 << 20) + 1, (3 << 20) + 17,
                                   (16 << 20) + 4095, (100 << 20) + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = malloc(it_opaque(sizes[i]));
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_ALIGNED(p, 16);
        HS_EXPECT_GE_SIZE(malloc_usable_size(p), sizes[i]);
        memset(p, 0x77, sizes[i]);
        free(p);
    }
}

HS_TEST(calloc_overflow_fails_with_enomem)
{
    static const size_t pairs[][2] = {
        {SIZE_MAX, SIZE_MAX},
        {SIZE_MAX / 2 + 1, 2},
        {2, SIZE_MAX / 2 + 1},
        {(size_t)1 << 32, (size_t)1 << 32},
        {((size_t)1 << 33) + 1, (size_t)1 << 31},
        {1, SIZE_MAX},
        {SIZE_MAX, 1},
        {65537, (SIZE_MAX / 65537) + 1},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        void *p = calloc(it_opaque(pairs[i][0]), it_opaque(pairs[i][1]));
        HS_EXPECT_NULL(p);
        IT_EXPECT_ERRNO(ENOMEM);
        free(p);
    }
}

HS_TEST(calloc_zero_count_or_size_is_non_null)
{
    void *a = calloc(it_opaque(0), 16);
    void *b = calloc(16, it_opaque(0));
    void *c = calloc(it_opaque(0), it_opaque(0));
    HS_EXPECT_NOT_NULL(a);
    HS_EXPECT_NOT_NULL(b);
    HS_EXPECT_NOT_NULL(c);
    HS_EXPECT_NE_PTR(a, b);
    HS_EXPECT_NE_PTR(b, c);
    free(a);
    free(b);
    free(c);
}

/* Dirty blocks of each size, free them, then calloc must give zeros. */
HS_TEST(calloc_zeroes_reused_memory)
{
    static const size_t sizes[] = {
        1,     8,     24,     100,     1000,          4096,    12345,
        65536, 70000, 200000, 1 << 20, (2 << 20) + 5, 16 << 20};
    enum { ROUNDS = 8 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *dirty[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            dirty[r] = malloc(it_opaque(n));
            HS_ASSERT_NOT_NULL(dirty[r]);
            memset(dirty[r], 0xff, malloc_usable_size(dirty[r]));
        }
        for (int r = 0; r < ROUNDS; r++)
            free(dirty[r]);
        for (int r = 0; r < ROUNDS; r++) {
            unsigned char *p = calloc(1, it_opaque(n));
            HS_ASSERT_NOT_NULL(p);
            size_t at = it_check_byte(p, n, 0);
            if (at != n)
                HS_FAIL("calloc(1, %zu) byte %zu is 0x%02x", n, at, p[at]);
            dirty[r] = p;
        }
        for (int r = 0; r < ROUNDS; r++)
            free(dirty[r]);
    }
}

HS_TEST(calloc_count_times_size)
{
    unsigned char *p = calloc(it_opaque(1000), it_opaque(1000));
    HS_ASSERT_NOT_NULL(p);
    HS_EXPECT_GE_SIZE(malloc_usable_size(p), 1000000);
    HS_EXPECT_EQ_SIZE(it_check_byte(p, 1000000, 0), 1000000);
    free(p);
}

HS_TEST(realloc_null_is_malloc)
{
    unsigned char *p = realloc(it_opaque_ptr(NULL), it_opaque(100));
    HS_ASSERT_NOT_NULL(p);
    HS_EXPECT_ALIGNED(p, 16);
    HS_EXPECT_GE_SIZE(malloc_usable_size(p), 100);
    memset(p, 1, 100);
    free(p);
    p = realloc(it_opaque_ptr(NULL), it_opaque(0));
    HS_EXPECT_NOT_NULL(p);
    free(p);
}

HS_TEST(realloc_to_zero_frees_and_returns_null)
{
    static const size_t sizes[] = {1, 100, 5000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(it_opaque(sizes[i]));
        HS_ASSERT_NOT_NULL(p);
        void *q = realloc(p, it_opaque(0));
        HS_EXPECT_NULL(q);
        if (q != NULL)
            free(q);
    }
}

HS_TEST(realloc_huge_fails_and_keeps_block)
{
    static const size_t sizes[] = {10, 3000, 100000, 3 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *p = malloc(it_opaque(n));
        HS_ASSERT_NOT_NULL(p);
        it_fill(p, n, 1000 + i);
        for (size_t h = 0; h < STD_NHUGE; h++) {
            errno = 0;
            void *q = realloc(it_opaque_ptr(p), it_opaque(std_huge_sizes[h]));
            HS_EXPECT_NULL(q);
            IT_EXPECT_ERRNO(ENOMEM);
            HS_EXPECT_EQ_SIZE(it_check(p, n, 1000 + i), n);
        }
        HS_EXPECT_GE_SIZE(malloc_usable_size(p), n);
        /* Still a live block: it can grow, and then be freed. */
        p = realloc(p, it_opaque(n * 2));
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_EQ_SIZE(it_check(p, n, 1000 + i), n);
        free(p);
    }
}

HS_TEST(realloc_preserves_contents)
{
    static const size_t steps[] = {1,      7,       16,      33,    100,
                                   1000,   4095,    4097,    20000, 70000,
                                   300000, 1 << 20, 5 << 20, 777,   3};
    size_t old = 0;
    unsigned char *p = NULL;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t n = steps[i];
        unsigned char *q = realloc(p, it_opaque(n));
        HS_ASSERT_NOT_NULL(q);
        HS_EXPECT_ALIGNED(q, 16);
        size_t keep = old < n ? old : n;
        HS_EXPECT_EQ_SIZE(it_check(q, keep, 77), keep);
        it_fill(q, n, 77);
        p = q;
        old = n;
    }
    free(p);
}

HS_TEST(reallocarray_overflow_fails_and_keeps_block)
{
    errno = 0;
    void *p = reallocarray(NULL, it_opaque(SIZE_MAX / 2 + 1), 4);
    HS_EXPECT_NULL(p);
    IT_EXPECT_ERRNO(ENOMEM);

    unsigned char *b = malloc(it_opaque(64));
    HS_ASSERT_NOT_NULL(b);
    it_fill(b, 64, 5);
    errno = 0;
    void *q = reallocarray(it_opaque_ptr(b), it_opaque((size_t)1 << 33),
                           it_opaque((size_t)1 << 32));
    HS_EXPECT_NULL(q);
    IT_EXPECT_ERRNO(ENOMEM);
    HS_EXPECT_EQ_SIZE(it_check(b, 64, 5), 64);
    errno = 0;
    q = reallocarray(it_opaque_ptr(b), it_opaque(SIZE_MAX),
                     it_opaque(SIZE_MAX));
    HS_EXPECT_NULL(q);
    IT_EXPECT_ERRNO(ENOMEM);
    HS_EXPECT_EQ_SIZE(it_check(b, 64, 5), 64);

    q = reallocarray(it_opaque_ptr(b), it_opaque(100), it_opaque(8));
    HS_ASSERT_NOT_NULL(q);
    HS_EXPECT_GE_SIZE(malloc_usable_size(q), 800);
    HS_EXPECT_EQ_SIZE(it_check(q, 64, 5), 64);
    free(q);
}

HS_TEST(many_live_blocks_do_not_overlap)
{
    enum { N = 20000 };
    static unsigned char *ptrs[N];
    static size_t lens[N];
    uint64_t rng = 42;
    for (size_t i = 0; i < N; i++) {
        lens[i] = it_rand(&rng) % 3000;
        ptrs[i] = malloc(it_opaque(lens[i]));
        HS_ASSERT_NOT_NULL(ptrs[i]);
        it_fill(ptrs[i], lens[i], i);
    }
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        if (it_check(ptrs[i], lens[i], i) != lens[i])
            bad++;
        free(ptrs[i]);
    }
    HS_EXPECT_EQ_SIZE(bad, 0);
}

HS_TEST_MAIN()
