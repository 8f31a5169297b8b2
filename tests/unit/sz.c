/*
 * sz.c — unit tests of alloc/sz: the size-class table and its invariants
 * (index2size(size2index(s)) is the least class >= s, size2index inverts
 * index2size; every size 0..70000 and every power of two up to SZ_MAX,
 * and their neighbours), every class a multiple of 16, sz_s2u and sz_sa2u
 * (a small aligned class is a multiple of its alignment), and the slab
 * geometry of bin_infos (nregs * reg_size <= slab_size, nregs <= 512,
 * sz_region_index exact on region starts and UINT32_MAX elsewhere;
 * sz_region_start true exactly at the region starts).
 * Boots the size classes alone.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>

#include "sz.h"
#include "util/bitmap.h"
#include "util/util.h"

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sz_boot);
}

/* Checks the invariant of sz.h for one size; returns false on a failure
 * (reported once by the caller's counter). */
static bool
size_ok(size_t s)
{
    unsigned ind = sz_size2index(s);
    if (ind >= SZ_NSIZES)
        return false;
    if (sz_index2size(ind) < s)
        return false;
    if (ind > 0 && sz_index2size(ind - 1) >= s)
        return false;
    if (sz_size2index_compute(s) != ind)
        return false;
    return sz_s2u(s) == sz_index2size(ind);
}

HS_TEST(table_shape)
{
    boot_once();
    HS_EXPECT_EQ_SIZE(sz_index2size(0), 16);
    HS_EXPECT_EQ_SIZE(sz_index2size(1), 32);
    HS_EXPECT_EQ_SIZE(sz_index2size(2), 48);
    HS_EXPECT_EQ_SIZE(sz_index2size(3), 64);
    HS_EXPECT_EQ_SIZE(sz_index2size(4), 80);
    HS_EXPECT_EQ_SIZE(sz_index2size(7), 128);
    HS_EXPECT_EQ_SIZE(sz_index2size(8), 160);
    HS_EXPECT_EQ_SIZE(sz_index2size(SZ_NBINS - 1), SZ_SMALL_MAX);
    HS_EXPECT_GT_SIZE(sz_index2size(SZ_NBINS), SZ_SMALL_MAX);
    HS_EXPECT_EQ_SIZE(sz_index2size(SZ_NSIZES - 1), SZ_MAX);
    for (unsigned i = 0; i < SZ_NSIZES; i++) {
        size_t s = sz_index2size(i);
        if (s % 16 != 0)
            HS_FAIL("class %u = %zu is not a multiple of 16", i, s);
        if (i > 0 && s <= sz_index2size(i - 1))
            HS_FAIL("class %u = %zu not above the previous", i, s);
        if (sz_size2index(s) != i)
            HS_FAIL("size2index(index2size(%u) = %zu) = %u", i, s,
                    sz_size2index(s));
        if (i >= SZ_NBINS && s % PAGE != 0)
            HS_FAIL("large class %u = %zu is not a page multiple", i, s);
    }
    /* Four classes per doubling from 64 on. */
    for (unsigned lg = 6; lg < SZ_LG_MAX; lg++) {
        unsigned ind = sz_size2index((size_t)1 << lg);
        HS_EXPECT_EQ_SIZE(sz_index2size(ind + 4), (size_t)2 << lg);
    }
}

HS_TEST(every_size_up_to_70000)
{
    boot_once();
    size_t bad = 0;
    for (size_t s = 0; s <= 70000; s++)
        if (!size_ok(s) && bad++ < 5)
            HS_FAIL("size %zu: index %u, class %zu", s, sz_size2index(s),
                    sz_index2size(sz_size2index(s)));
    HS_EXPECT_EQ_SIZE(bad, 0);
    HS_EXPECT_EQ_SIZE(sz_s2u(0), 16);
    HS_EXPECT_EQ_SIZE(sz_s2u(1), 16);
    HS_EXPECT_EQ_SIZE(sz_s2u(17), 32);
    HS_EXPECT_EQ_SIZE(sz_s2u(4097), 5120);
    HS_EXPECT_EQ_SIZE(sz_s2u(SZ_SMALL_MAX + 1), 16384);
}

HS_TEST(powers_of_two_up_to_max)
{
    boot_once();
    for (unsigned lg = 0; lg <= SZ_LG_MAX; lg++) {
        size_t p = (size_t)1 << lg;
        HS_EXPECT_TRUE(size_ok(p - 1));
        HS_EXPECT_TRUE(size_ok(p));
        if (p < SZ_MAX)
            HS_EXPECT_TRUE(size_ok(p + 1));
        if (lg >= 4)
            HS_EXPECT_EQ_SIZE(sz_s2u(p), p);
    }
    HS_EXPECT_EQ_U64(sz_size2index(SZ_MAX), SZ_NSIZES - 1);
    HS_EXPECT_EQ_SIZE(sz_s2u(SZ_MAX), SZ_MAX);
    HS_EXPECT_EQ_SIZE(sz_s2u(SZ_MAX + 1), 0);
    HS_EXPECT_EQ_SIZE(sz_s2u(SIZE_MAX), 0);
}

HS_TEST(lookup_table_agrees_with_computation)
{
    boot_once();
    for (size_t q = 0; q <= (SZ_LOOKUP_MAX >> LG_QUANTUM); q++) {
        size_t s = q << LG_QUANTUM;
        if (sz_lookup_tab[q] != sz_size2index_compute(s))
            HS_FAIL("lookup[%zu] = %u, computed %u", q, sz_lookup_tab[q],
                    sz_size2index_compute(s));
    }
}

HS_TEST(sa2u_small_classes_are_aligned)
{
    boot_once();
    size_t bad = 0;
    for (size_t align = 1; align < PAGE; align *= 2)
        for (size_t s = 1; s <= 8192; s++) {
            size_t u = sz_sa2u(s, align);
            bool ok = u >= s && u >= 1 && sz_s2u(u) == u;
            if (u <= SZ_SMALL_MAX)
                ok = ok && u % align == 0;
            if (align <= QUANTUM)
                ok = ok && u == sz_s2u(s);
            /* The least aligned class that works, when small. */
            if (ok && u <= SZ_SMALL_MAX && u > 16) {
                unsigned i = sz_size2index(u);
                size_t prev = sz_index2size(i - 1);
                if (prev >= s && prev % align == 0)
                    ok = false;
            }
            if (!ok && bad++ < 5)
                HS_FAIL("sa2u(%zu, %zu) = %zu", s, align, u);
        }
    HS_EXPECT_EQ_SIZE(bad, 0);
    HS_EXPECT_EQ_SIZE(sz_sa2u(1, 64), 64);
    HS_EXPECT_EQ_SIZE(sz_sa2u(65, 64), 128);
    HS_EXPECT_EQ_SIZE(sz_sa2u(129, 128), 256);
    HS_EXPECT_EQ_SIZE(sz_sa2u(2049, 2048), 4096);
    HS_EXPECT_EQ_SIZE(sz_sa2u(100, 32), 128);
}

/*
 * A zero-byte aligned request (posix_memalign(&p, 64, 0), aligned_alloc,
 * memalign) still needs an aligned block.
 *
 * (A regression test. The bug it caught: sz_sa2u(0, a) rounds 0 up to a
 * multiple of a, which is 0, and returns sz_s2u(0) = 16 for every a < PAGE; a
 * region of the 16-byte class is only 16-aligned, so e.g. posix_memalign(&p,
 * 64, 0) through libheapsight returns a pointer that is not 64-aligned (three
 * of every four such calls, as regions are handed out consecutively).)
 */
HS_TEST(sa2u_zero_size_is_aligned)
{
    boot_once();
    for (size_t align = 32; align < PAGE; align *= 2) {
        size_t u = sz_sa2u(0, align);
        HS_EXPECT_NE_SIZE(u, 0);
        if (u <= SZ_SMALL_MAX && u % align != 0)
            HS_FAIL("sa2u(0, %zu) = %zu, not a multiple of the alignment",
                    align, u);
    }
}

HS_TEST(sa2u_large_and_overflow)
{
    boot_once();
    /* Page alignment or more: a large class (placed aligned by the page
     * allocator). */
    for (size_t align = PAGE; align <= ((size_t)1 << 30); align *= 2) {
        size_t u = sz_sa2u(1, align);
        HS_EXPECT_GT_SIZE(u, SZ_SMALL_MAX);
        HS_EXPECT_EQ_SIZE(u % PAGE, 0);
        HS_EXPECT_EQ_SIZE(sz_sa2u(100000, align), sz_s2u(100000));
    }
    /* A small request whose aligned class would be past SMALL_MAX. */
    size_t u = sz_sa2u(SZ_SMALL_MAX, 2048);
    HS_EXPECT_GE_SIZE(u, SZ_SMALL_MAX);
    HS_EXPECT_EQ_SIZE(u % 2048, 0);
    /* Alignments no extent can have. */
    HS_EXPECT_EQ_SIZE(sz_sa2u(1, SZ_MAX << 1), 0);
    HS_EXPECT_EQ_SIZE(sz_sa2u(SZ_SMALL_MAX + 1, (size_t)1 << 63), 0);
    HS_EXPECT_EQ_SIZE(sz_sa2u(SZ_MAX + 1, 64), 0);
    HS_EXPECT_EQ_SIZE(sz_sa2u(SZ_MAX + 1, PAGE), 0);
    HS_EXPECT_EQ_SIZE(sz_sa2u(SIZE_MAX, 32), 0);
    HS_EXPECT_EQ_SIZE(sz_sa2u(SIZE_MAX - 10, PAGE), 0);
}

HS_TEST(bin_infos_geometry)
{
    boot_once();
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        const bin_info_t *bi = &bin_infos[i];
        HS_EXPECT_EQ_SIZE(bi->reg_size, sz_index2size(i));
        HS_EXPECT_GE_U64(bi->nregs, 1);
        HS_EXPECT_LE_U64(bi->nregs, BITMAP_MAXBITS);
        HS_EXPECT_LE_SIZE((size_t)bi->nregs * bi->reg_size, bi->slab_size);
        HS_EXPECT_EQ_SIZE(bi->slab_size % PAGE, 0);
        HS_EXPECT_LE_SIZE(bi->slab_size, 16 * PAGE);
        /* nregs is every region that fits. */
        HS_EXPECT_LT_SIZE(bi->slab_size - (size_t)bi->nregs * bi->reg_size,
                          bi->reg_size);
    }
}

HS_TEST(slab_size_rule)
{
    /* sz.c: the smallest slab of 1..16 pages whose tail waste is at most
     * 1/64 of it, holding at most BITMAP_MAXBITS regions; else the least
     * wasteful of those. */
    boot_once();
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        size_t reg = bin_infos[i].reg_size, want = 0, best_waste = SIZE_MAX;
        for (size_t pages = 1; pages <= 16; pages++) {
            size_t slab = pages * PAGE;
            if (slab / reg > BITMAP_MAXBITS)
                break;
            if (slab < reg)
                continue;
            if ((slab % reg) * 64 <= slab) {
                want = slab;
                break;
            }
            if (slab % reg < best_waste) {
                best_waste = slab % reg;
                want = slab;
            }
        }
        HS_EXPECT_EQ_SIZE(bin_infos[i].slab_size, want);
    }
}

HS_TEST(region_index_exact)
{
    boot_once();
    size_t bad = 0;
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        const bin_info_t *bi = &bin_infos[i];
        for (size_t off = 0; off < bi->slab_size + PAGE; off++) {
            uint32_t want =
                off % bi->reg_size == 0 && off / bi->reg_size < bi->nregs
                    ? (uint32_t)(off / bi->reg_size)
                    : UINT32_MAX;
            uint32_t got = sz_region_index(i, off);
            if (got != want && bad++ < 5)
                HS_FAIL("class %u (%zu): region_index(%zu) = %u, want %u", i,
                        bi->reg_size, off, got, want);
        }
    }
    HS_EXPECT_EQ_SIZE(bad, 0);
}

/* The free path's test, over every offset it can be given (below the slab
 * size): true exactly at the starts of the nregs regions. */
HS_TEST(region_start_exact)
{
    boot_once();
    size_t bad = 0;
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        const bin_info_t *bi = &bin_infos[i];
        for (size_t off = 0; off < bi->slab_size; off++) {
            bool want =
                off % bi->reg_size == 0 && off / bi->reg_size < bi->nregs;
            if (sz_region_start(i, off) != want && bad++ < 5)
                HS_FAIL("class %u (%zu): region_start(%zu) = %d", i,
                        bi->reg_size, off, !want);
        }
    }
    HS_EXPECT_EQ_SIZE(bad, 0);
}

HS_TEST_MAIN()
