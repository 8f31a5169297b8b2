/*
 * rtree.h — the radix tree from page addresses to packed 64-bit entries.
 *
 * Owns: the mapping itself, and nothing about what the entries mean (emap
 * gives them meaning).  Keys are user-space page numbers: 47-bit addresses
 * minus LG_PAGE bits = 35 bits, split into a 17-bit root index and an 18-bit
 * leaf index.  The root is a static array; leaves (2 MiB of entries, each
 * covering 1 GiB of address space) are mapped lazily from base memory and
 * never freed, so a reader never sees a leaf disappear.
 *
 * Concurrency: lookups are lock-free (acquire loads); entries are written
 * with release stores by the thread that owns the extent at that moment;
 * leaf creation is serialized by one mutex (rank HS_RANK_RTREE).
 * Invariant: an absent leaf reads as entry 0 everywhere in its range.
 */
#ifndef HS_RTREE_H
#define HS_RTREE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../util/util.h"

#define RTREE_LG_VA 47
#define RTREE_LEAF_BITS 18
#define RTREE_ROOT_BITS (RTREE_LG_VA - LG_PAGE - RTREE_LEAF_BITS)
#define RTREE_NLEAF ((size_t)1 << RTREE_LEAF_BITS)
#define RTREE_NROOT ((size_t)1 << RTREE_ROOT_BITS)

typedef _Atomic(uint64_t) rtree_slot_t;

extern HS_HIDDEN _Atomic(rtree_slot_t *) rtree_root[RTREE_NROOT];

void rtree_boot(void);

/* The entry for addr's page, or 0 when nothing was ever recorded there
 * (including addresses outside the user address space). */
static inline uint64_t
rtree_read(uintptr_t addr)
{
    uintptr_t key = addr >> LG_PAGE;
    uintptr_t ri = key >> RTREE_LEAF_BITS;
    if (unlikely(ri >= RTREE_NROOT))
        return 0;
    rtree_slot_t *leaf =
        atomic_load_explicit(&rtree_root[ri], memory_order_acquire);
    if (unlikely(leaf == NULL))
        return 0;
    return atomic_load_explicit(&leaf[key & (RTREE_NLEAF - 1)],
                                memory_order_acquire);
}

/* The slot for addr's page, creating its leaf; NULL only on OOM. */
rtree_slot_t *rtree_slot(uintptr_t addr);

/* Writes entry for addr's page.  False on OOM (the leaf could not be
 * created); writing 0 never fails. */
bool rtree_write(uintptr_t addr, uint64_t entry);

#endif /* HS_RTREE_H */
