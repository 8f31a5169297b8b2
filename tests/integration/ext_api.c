/*
 * ext_api.c — the extended allocation API of heapsight.h: hs_mallocx,
 * hs_rallocx, hs_dallocx, hs_sdallocx, hs_nallocx and hs_sallocx with the
 * HS_MALLOCX_* flags.
 *
 * Owns the checks that: usable sizes agree (hs_nallocx(n, f) ==
 * hs_sallocx(hs_mallocx(n, f), f) == malloc_usable_size), ALIGN aligns,
 * ZERO zero-fills (on hs_rallocx: the grown part beyond the old usable
 * size), ARENA and TCACHE_NONE serve memory, hs_rallocx keeps contents
 * and leaves the block untouched on failure, and the sized frees accept
 * any size in the class.  Control nodes are in ctl.c.
 */
#include "heapsight.h"
#include "hs_test.h"
#include "it_util.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned
ext_narenas(void)
{
    unsigned n = 0;
    size_t len = sizeof n;
    if (hs_ctl("arenas.narenas", &n, &len, NULL, 0) != 0)
        return 0;
    return n;
}

/* Sizes from 1 to a few MiB, dense where size classes are dense. */
static size_t
ext_next_size(size_t n)
{
    return n < 4096 ? n + 1 : n + 1 + n / 9;
}

HS_TEST(mallocx_basic)
{
    for (size_t n = 1; n < (4u << 20); n = ext_next_size(n)) {
        unsigned char *p = hs_mallocx(it_opaque(n), 0);
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_ALIGNED(p, 16);
        size_t u = hs_sallocx(p, 0);
        HS_ASSERT_GE_SIZE(u, n);
        memset(p, 0x3c, u);
        hs_dallocx(p, 0);
    }
}

HS_TEST(nallocx_equals_sallocx)
{
    size_t bad = 0;
    for (size_t n = 1; n < (4u << 20); n = ext_next_size(n)) {
        size_t want = hs_nallocx(it_opaque(n), 0);
        void *p = hs_mallocx(n, 0);
        HS_ASSERT_NOT_NULL(p);
        size_t got = hs_sallocx(p, 0);
        if (got != want && bad++ < 5)
            HS_FAIL("size %zu: nallocx %zu, sallocx %zu", n, want, got);
        if (malloc_usable_size(p) != got && bad++ < 5)
            HS_FAIL("size %zu: sallocx %zu, malloc_usable_size %zu", n, got,
                    malloc_usable_size(p));
        hs_dallocx(p, 0);
    }
    HS_EXPECT_EQ_SIZE(bad, 0);
}

HS_TEST(nallocx_with_alignment_equals_sallocx)
{
    for (size_t a = 16; a <= ((size_t)1 << 24); a <<= 2) {
        static const size_t sizes[] = {1, 100, 5000, 70000, 3 << 20};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            int flags = HS_MALLOCX_ALIGN(a);
            size_t want = hs_nallocx(it_opaque(sizes[i]), flags);
            void *p = hs_mallocx(sizes[i], flags);
            HS_ASSERT_NOT_NULL(p);
            HS_EXPECT_ALIGNED(p, a);
            HS_EXPECT_EQ_SIZE(hs_sallocx(p, flags), want);
            HS_EXPECT_GE_SIZE(want, sizes[i]);
            hs_dallocx(p, flags);
        }
    }
}

HS_TEST(nallocx_too_large_is_zero)
{
    HS_EXPECT_EQ_SIZE(hs_nallocx(it_opaque(SIZE_MAX), 0), 0);
    HS_EXPECT_EQ_SIZE(hs_nallocx(it_opaque(SIZE_MAX - 4095), 0), 0);
    HS_EXPECT_EQ_SIZE(hs_nallocx(it_opaque((size_t)PTRDIFF_MAX + 1), 0), 0);
}

/* hs_nallocx reports what hs_mallocx would return: an alignment no
 * mapping can satisfy makes hs_mallocx fail, so hs_nallocx must say 0. */
HS_TEST(nallocx_unsatisfiable_alignment_is_zero)
{
    int flags = HS_MALLOCX_ALIGN((size_t)1 << 62);
    errno = 0;
    void *p = hs_mallocx(it_opaque(100), flags);
    HS_EXPECT_NULL(p);
    IT_EXPECT_ERRNO(ENOMEM);
    HS_EXPECT_EQ_SIZE(hs_nallocx(it_opaque(100), flags), 0);
}

HS_TEST(mallocx_too_large_is_enomem)
{
    errno = 0;
    HS_EXPECT_NULL(hs_mallocx(it_opaque(SIZE_MAX), 0));
    IT_EXPECT_ERRNO(ENOMEM);
    errno = 0;
    HS_EXPECT_NULL(
        hs_mallocx(it_opaque(SIZE_MAX - 4095), HS_MALLOCX_ALIGN(4096)));
    IT_EXPECT_ERRNO(ENOMEM);
    errno = 0;
    HS_EXPECT_NULL(
        hs_mallocx(it_opaque((size_t)PTRDIFF_MAX + 1), HS_MALLOCX_ZERO));
    IT_EXPECT_ERRNO(ENOMEM);
}

HS_TEST(mallocx_align_16_to_1g)
{
    for (size_t a = 16; a <= ((size_t)1 << 30); a <<= 1) {
        size_t n = a < ((size_t)4 << 20) ? a : ((size_t)4 << 20);
        unsigned char *p = hs_mallocx(it_opaque(n), HS_MALLOCX_ALIGN(a));
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_ALIGNED(p, a);
        HS_EXPECT_GE_SIZE(hs_sallocx(p, 0), n);
        memset(p, 0x11, n);
        hs_dallocx(p, HS_MALLOCX_ALIGN(a));
        p = hs_mallocx(7, HS_MALLOCX_LG_ALIGN(__builtin_ctzl(a)));
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_ALIGNED(p, a);
        hs_sdallocx(p, 7, HS_MALLOCX_LG_ALIGN(__builtin_ctzl(a)));
    }
}

/* Dirties blocks of size n, frees them, then checks ZERO gives zeros. */
static void
ext_check_zero(size_t n, int extra_flags)
{
    enum { ROUNDS = 6 };
    void *ptrs[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        ptrs[r] = hs_mallocx(n, extra_flags);
        if (ptrs[r] == NULL) {
            HS_FAIL("hs_mallocx(%zu, %#x) = NULL", n, extra_flags);
            return;
        }
        memset(ptrs[r], 0xee, hs_sallocx(ptrs[r], 0));
    }
    for (int r = 0; r < ROUNDS; r++)
        hs_dallocx(ptrs[r], extra_flags);
    for (int r = 0; r < ROUNDS; r++) {
        unsigned char *p = hs_mallocx(n, extra_flags | HS_MALLOCX_ZERO);
        if (p == NULL) {
            HS_FAIL("hs_mallocx(%zu, ZERO) = NULL", n);
            return;
        }
        size_t at = it_check_byte(p, n, 0);
        if (at != n)
            HS_FAIL("hs_mallocx(%zu, ZERO|%#x): byte %zu = 0x%02x", n,
                    extra_flags, at, p[at]);
        ptrs[r] = p;
    }
    for (int r = 0; r < ROUNDS; r++)
        hs_dallocx(ptrs[r], 0);
}

HS_TEST(mallocx_zero_fills)
{
    static const size_t sizes[] = {
        1,     16,    48,     200,     1024,          4096,    9000,
        65536, 70000, 250000, 1 << 20, (3 << 20) + 1, 20 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ext_check_zero(sizes[i], 0);
        ext_check_zero(sizes[i], HS_MALLOCX_ALIGN(64));
        ext_check_zero(sizes[i], HS_MALLOCX_TCACHE_NONE);
    }
}

HS_TEST(mallocx_each_arena)
{
    unsigned narenas = ext_narenas();
    HS_ASSERT_TRUE(narenas >= 1);
    for (unsigned i = 0; i < narenas && i < 256; i++) {
        static const size_t sizes[] = {8, 3000, 100000, 2 << 20};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            int flags = HS_MALLOCX_ARENA(i);
            unsigned char *p = hs_mallocx(sizes[s], flags);
            if (p == NULL) {
                HS_FAIL("hs_mallocx(%zu, ARENA(%u)) = NULL", sizes[s], i);
                continue;
            }
            it_fill(p, sizes[s], i);
            HS_EXPECT_EQ_SIZE(it_check(p, sizes[s], i), sizes[s]);
            /* Freeing through the plain path must be fine too. */
            if (s % 2 == 0)
                hs_dallocx(p, flags);
            else
                free(p);
        }
    }
}

HS_TEST(mallocx_tcache_none)
{
    enum { N = 200 };
    void *ptrs[N];
    for (size_t i = 0; i < N; i++) {
        ptrs[i] = hs_mallocx(it_opaque(i * 37 + 1), HS_MALLOCX_TCACHE_NONE);
        HS_ASSERT_NOT_NULL(ptrs[i]);
        it_fill(ptrs[i], i * 37 + 1, i);
    }
    for (size_t i = 0; i < N; i++) {
        HS_EXPECT_EQ_SIZE(it_check(ptrs[i], i * 37 + 1, i), i * 37 + 1);
        if (i % 3 == 0)
            hs_dallocx(ptrs[i], HS_MALLOCX_TCACHE_NONE);
        else if (i % 3 == 1)
            hs_sdallocx(ptrs[i], i * 37 + 1, HS_MALLOCX_TCACHE_NONE);
        else
            free(ptrs[i]);
    }
}

HS_TEST(mallocx_blocks_from_malloc_free_interchangeably)
{
    void *a = hs_mallocx(100, 0);
    void *b = malloc(100);
    HS_ASSERT_NOT_NULL(a);
    HS_ASSERT_NOT_NULL(b);
    HS_EXPECT_EQ_SIZE(hs_sallocx(b, 0), malloc_usable_size(b));
    free(a);
    hs_dallocx(b, 0);
}

HS_TEST(rallocx_preserves_contents)
{
    static const size_t steps[] = {1,    40,      300,   4000,    4096,
                                   5000, 65536,   70001, 1 << 20, 6 << 20,
                                   333,  9 << 20, 17,    100000,  2};
    size_t old = 16;
    unsigned char *p = hs_mallocx(old, 0);
    HS_ASSERT_NOT_NULL(p);
    it_fill(p, old, 9);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t n = steps[i];
        unsigned char *q = hs_rallocx(p, it_opaque(n), 0);
        HS_ASSERT_NOT_NULL(q);
        HS_EXPECT_GE_SIZE(hs_sallocx(q, 0), n);
        size_t keep = old < n ? old : n;
        HS_EXPECT_EQ_SIZE(it_check(q, keep, 9), keep);
        it_fill(q, n, 9);
        p = q;
        old = n;
    }
    hs_dallocx(p, 0);
}

HS_TEST(rallocx_zero_fills_grown_part)
{
    static const size_t pairs[][2] = {
        {8, 100},           {100, 4000},
        {4000, 70000},      {70000, 1 << 20},
        {1 << 20, 5 << 20}, {24, 3 << 20},
        {5000, 5001},       {3 << 20, (3 << 20) + 4097},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        size_t from = pairs[i][0], to = pairs[i][1];
        unsigned char *p = hs_mallocx(from, 0);
        HS_ASSERT_NOT_NULL(p);
        size_t old_usable = hs_sallocx(p, 0);
        it_fill(p, old_usable, i);
        unsigned char *q = hs_rallocx(p, it_opaque(to), HS_MALLOCX_ZERO);
        HS_ASSERT_NOT_NULL(q);
        HS_EXPECT_EQ_SIZE(it_check(q, old_usable, i), old_usable);
        if (to > old_usable) {
            size_t at = it_check_byte(q + old_usable, to - old_usable, 0);
            if (at != to - old_usable)
                HS_FAIL("rallocx %zu -> %zu ZERO: byte %zu = 0x%02x", from, to,
                        old_usable + at, q[old_usable + at]);
        }
        hs_dallocx(q, 0);
    }
}

HS_TEST(rallocx_with_alignment)
{
    unsigned char *p = hs_mallocx(100, 0);
    HS_ASSERT_NOT_NULL(p);
    it_fill(p, 100, 3);
    for (size_t a = 32; a <= ((size_t)1 << 22); a <<= 3) {
        unsigned char *q =
            hs_rallocx(p, it_opaque(a + 100), HS_MALLOCX_ALIGN(a));
        HS_ASSERT_NOT_NULL(q);
        HS_EXPECT_ALIGNED(q, a);
        HS_EXPECT_EQ_SIZE(it_check(q, 100, 3), 100);
        p = q;
    }
    hs_dallocx(p, 0);
}

HS_TEST(rallocx_failure_leaves_block_untouched)
{
    static const size_t sizes[] = {64, 20000, 2 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = hs_mallocx(sizes[i], 0);
        HS_ASSERT_NOT_NULL(p);
        size_t u = hs_sallocx(p, 0);
        it_fill(p, sizes[i], 40 + i);
        HS_EXPECT_NULL(hs_rallocx(p, it_opaque(SIZE_MAX), 0));
        HS_EXPECT_NULL(
            hs_rallocx(p, it_opaque(SIZE_MAX - 4095), HS_MALLOCX_ZERO));
        HS_EXPECT_NULL(hs_rallocx(p, it_opaque((size_t)PTRDIFF_MAX + 1),
                                  HS_MALLOCX_ALIGN(64)));
        HS_EXPECT_EQ_SIZE(hs_sallocx(p, 0), u);
        HS_EXPECT_EQ_SIZE(it_check(p, sizes[i], 40 + i), sizes[i]);
        hs_dallocx(p, 0);
    }
}

HS_TEST(sdallocx_accepts_any_size_in_class)
{
    for (size_t n = 1; n < (3u << 20); n = ext_next_size(n)) {
        void *p = hs_mallocx(it_opaque(n), 0);
        HS_ASSERT_NOT_NULL(p);
        size_t u = hs_sallocx(p, 0);
        /* Free with the requested size, then with the usable size. */
        hs_sdallocx(p, n, 0);
        p = hs_mallocx(n, 0);
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_EQ_SIZE(hs_sallocx(p, 0), u);
        hs_sdallocx(p, u, 0);
    }
}

HS_TEST(sdallocx_with_alignment)
{
    for (size_t a = 16; a <= ((size_t)1 << 21); a <<= 1) {
        void *p = hs_mallocx(it_opaque(a / 2 + 1), HS_MALLOCX_ALIGN(a));
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_ALIGNED(p, a);
        hs_sdallocx(p, a / 2 + 1, HS_MALLOCX_ALIGN(a));
    }
}

HS_TEST(sallocx_agrees_with_malloc_family)
{
    void *a = malloc(it_opaque(1234));
    void *b = calloc(3, it_opaque(999));
    void *c = aligned_alloc(4096, it_opaque(5000));
    void *d = realloc(NULL, it_opaque(77777));
    HS_ASSERT_NOT_NULL(a);
    HS_ASSERT_NOT_NULL(b);
    HS_ASSERT_NOT_NULL(c);
    HS_ASSERT_NOT_NULL(d);
    HS_EXPECT_EQ_SIZE(hs_sallocx(a, 0), malloc_usable_size(a));
    HS_EXPECT_EQ_SIZE(hs_sallocx(b, 0), malloc_usable_size(b));
    HS_EXPECT_EQ_SIZE(hs_sallocx(c, 0), malloc_usable_size(c));
    HS_EXPECT_EQ_SIZE(hs_sallocx(d, 0), malloc_usable_size(d));
    HS_EXPECT_EQ_SIZE(hs_sallocx(a, 0), hs_nallocx(1234, 0));
    HS_EXPECT_EQ_SIZE(hs_sallocx(d, 0), hs_nallocx(77777, 0));
    free(a);
    free(b);
    free(c);
    free(d);
}

HS_TEST_MAIN()
