/*
 * sz.c — building the size-class tables (see sz.h).
 *
 * Slab geometry: each small class gets the smallest slab of 1..16 pages
 * whose tail waste is at most 1/64 of the slab (falling back to the least
 * wasteful), holding at most BITMAP_MAXBITS regions.
 */
#include "sz.h"

#include "util/bitmap.h"

size_t sz_index2size_tab[SZ_NSIZES];
uint8_t sz_lookup_tab[(SZ_LOOKUP_MAX >> LG_QUANTUM) + 1];
bin_info_t bin_infos[SZ_NBINS];
sz_region_test_t sz_region_tests[SZ_NBINS];

static size_t
class_size(unsigned ind)
{
    if (ind < 4)
        return (size_t)(ind + 1) << LG_QUANTUM;
    unsigned g = (ind - 4) / 4, m = (ind - 4) % 4;
    unsigned lg = 6 + g;
    return ((size_t)1 << lg) + (size_t)(m + 1) * ((size_t)1 << (lg - 2));
}

static size_t
slab_size_for(size_t reg)
{
    size_t best = 0, best_waste = SIZE_MAX;
    /* At most 16 pages: an rtree entry keeps the page index in 4 bits
     * (emap.h). */
    for (size_t pages = 1; pages <= 16; pages++) {
        size_t slab = pages * PAGE;
        if (slab / reg > BITMAP_MAXBITS)
            break;
        if (slab < reg)
            continue;
        size_t waste = slab % reg;
        if (waste * 64 <= slab)
            return slab;
        if (waste < best_waste) {
            best_waste = waste;
            best = slab;
        }
    }
    return best;
}

void
sz_boot(void)
{
    for (unsigned i = 0; i < SZ_NSIZES; i++)
        sz_index2size_tab[i] = class_size(i);
    for (size_t q = 0; q <= (SZ_LOOKUP_MAX >> LG_QUANTUM); q++)
        sz_lookup_tab[q] = (uint8_t)sz_size2index_compute(q << LG_QUANTUM);
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        bin_info_t *bi = &bin_infos[i];
        bi->reg_size = class_size(i);
        bi->slab_size = slab_size_for(bi->reg_size);
        bi->nregs = (uint32_t)(bi->slab_size / bi->reg_size);
        bi->div_magic = (((uint64_t)1 << 48) + bi->reg_size - 1) / bi->reg_size;
        uint64_t c = UINT64_MAX / bi->reg_size + 1;
        uint64_t last = (uint64_t)(bi->nregs - 1) * (c * bi->reg_size);
        hs_assert_cheap(last < c);
        sz_region_tests[i].div_test = c;
        sz_region_tests[i].last_test = last;
    }
    hs_assert_cheap(class_size(SZ_NBINS - 1) == SZ_SMALL_MAX);
    hs_assert_cheap(class_size(SZ_NSIZES - 1) == SZ_MAX);
}

size_t
sz_sa2u(size_t size, size_t alignment)
{
    if (alignment <= QUANTUM)
        return sz_s2u(size);
    if (alignment > SZ_MAX)
        return 0;
    if (size == 0)
        size = 1; /* a unique block, still aligned */
    /* Small: a class that is a multiple of the alignment places every
     * region on an aligned address, since slabs start on page boundaries;
     * rounding the size up to the alignment first finds such a class. */
    if (alignment < PAGE) {
        size_t s = align_up(size, alignment);
        if (s < size)
            return 0;
        size_t u = sz_s2u(s);
        if (u != 0 && u <= SZ_SMALL_MAX)
            return u;
    }
    /* Large: any large class, placed at an aligned address. */
    size_t u = sz_s2u(size > SZ_SMALL_MAX ? size : SZ_SMALL_MAX + 1);
    return u;
}
