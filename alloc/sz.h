/*
 * sz.h — size classes.
 *
 * Owns: the size-class table, size <-> index conversion, usable sizes of
 * aligned requests, and the slab geometry of each small class (bin_infos).
 *
 * Classes: 16, 32, 48, 64, then four per doubling: for every lg >= 6 the
 * classes 2^lg + k * 2^(lg-2), k = 1..4 (80, 96, 112, 128, 160, ...), up to
 * 2^SZ_LG_MAX.  Every class is a multiple of 16, so every result is 16-byte
 * aligned.  Classes up to SZ_SMALL_MAX (14 KiB) are small: regions of slabs.
 * Larger ones are page multiples and are served as whole extents.
 * Invariant: sz_index2size(sz_size2index(s)) >= s and is the least class
 * that is; sz_size2index(sz_index2size(i)) == i.
 * Read-only after sz_boot().
 */
#ifndef HS_SZ_H
#define HS_SZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define SZ_NBINS 35
#define SZ_SMALL_MAX ((size_t)14336)
#define SZ_LG_MAX 46
#define SZ_MAX ((size_t)1 << SZ_LG_MAX)
#define SZ_NSIZES (4 + (SZ_LG_MAX - 6) * 4)
#define SZ_LOOKUP_MAX ((size_t)4096)

extern HS_HIDDEN size_t sz_index2size_tab[SZ_NSIZES];
extern HS_HIDDEN uint8_t sz_lookup_tab[(SZ_LOOKUP_MAX >> LG_QUANTUM) + 1];

typedef struct bin_info_s {
    size_t reg_size;
    size_t slab_size;
    uint32_t nregs;
    uint64_t div_magic; /* ceil(2^48 / reg_size): exact region division */
} bin_info_t;

extern HS_HIDDEN bin_info_t bin_infos[SZ_NBINS];

/* What free's fast path needs of a class, 16 bytes apart.  With
 * c = ceil(2^64 / reg_size), off * c mod 2^64 is below c exactly when off
 * (< 2^32) is a multiple of reg_size (Lemire, Kaser and Kurz, "Faster
 * Remainder by Direct Computation", 2019); for off = k * reg_size it is
 * k * e, e = reg_size * c mod 2^64 < reg_size.  So one compare with
 * (nregs - 1) * e, which sz_boot checks is below c, accepts the region
 * starts k < nregs and rejects the rest, the slab's tail included. */
typedef struct sz_region_test_s {
    uint64_t div_test;  /* c */
    uint64_t last_test; /* (nregs - 1) * e */
} sz_region_test_t;

extern HS_HIDDEN sz_region_test_t sz_region_tests[SZ_NBINS];

void sz_boot(void);

/* Index of the least class >= size, computed (size <= SZ_MAX). */
static inline unsigned
sz_size2index_compute(size_t size)
{
    if (size <= 64)
        return size == 0 ? 0 : (unsigned)((size - 1) >> LG_QUANTUM);
    unsigned lg = lg_floor(size - 1);
    return 4 + (lg - 6) * 4 +
           (unsigned)((size - 1 - ((size_t)1 << lg)) >> (lg - 2));
}

/* Index of the least class >= size; size must be <= SZ_MAX. */
static inline unsigned
sz_size2index(size_t size)
{
    if (likely(size <= SZ_LOOKUP_MAX))
        return sz_lookup_tab[(size + QUANTUM - 1) >> LG_QUANTUM];
    return sz_size2index_compute(size);
}

static inline size_t
sz_index2size(unsigned ind)
{
    return sz_index2size_tab[ind];
}

/* Usable size of a request of size bytes; 0 if too large. */
static inline size_t
sz_s2u(size_t size)
{
    if (unlikely(size > SZ_MAX))
        return 0;
    return sz_index2size(sz_size2index(size));
}

/* Usable size of a request of size bytes aligned to alignment (a power of
 * two); 0 if too large. */
size_t sz_sa2u(size_t size, size_t alignment);

/* Whether byte off (< the slab size) of a slab of class ind starts a
 * region: one multiply and one compare (the free fast path's check). */
static inline bool
sz_region_start(unsigned ind, size_t off)
{
    const sz_region_test_t *t = &sz_region_tests[ind];
    return (uint64_t)off * t->div_test <= t->last_test;
}

/* Region index of the byte offset off within a slab of class ind, or
 * UINT32_MAX when off is not the start of a region. */
static inline uint32_t
sz_region_index(unsigned ind, size_t off)
{
    const bin_info_t *bi = &bin_infos[ind];
    uint64_t q = ((uint64_t)off * bi->div_magic) >> 48;
    if (unlikely(q * bi->reg_size != off || q >= bi->nregs))
        return UINT32_MAX;
    return (uint32_t)q;
}

#endif /* HS_SZ_H */
