/*
 * blocks.h — which live block holds an address: the heap as a
 * conservative collector sees it (the reachability scan at exit,
 * prof/reach.h).
 *
 * Owns nothing: it reads the extent map and the slabs' bitmaps without
 * locks.  A lookup racing with allocations and frees in other threads may
 * answer for the moment before or after; it never faults (the extent map
 * and the descriptors are never unmapped).
 *
 * What is found: an address inside a region of a slab whose bit says
 * allocated (thread-cached regions included: to the slab they are
 * allocated), or inside the usable part of an active large, promoted or
 * guarded extent, when the address lies in a page the extent map records:
 * every page of a slab, the first and last page of any other extent.  An
 * address in a middle page of a large block is not found (only pointers to
 * its start or its last page are).
 */
#ifndef HS_BLOCKS_H
#define HS_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if addr lies in a live block: its start, usable size, and the
 * profiler's record when the block was sampled (else NULL). */
bool blocks_find(uintptr_t addr, uintptr_t *r_start, size_t *r_size,
                 void **r_prof_rec);

#endif /* HS_BLOCKS_H */
