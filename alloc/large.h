/*
 * large.h — large allocations: one extent each, for sizes above
 * SZ_SMALL_MAX (usable size = a large size class, a multiple of PAGE).
 *
 * Owns: the life of a large extent from its arena's page allocator to the
 * program and back, including resizing in place, and the emap entry that
 * gives free() its size class.  Counters are the arena's atomics.
 * Thread-safe; no lock of its own.
 */
#ifndef HS_LARGE_H
#define HS_LARGE_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "extent/edata.h"

/* A block of usable size usize (a large class) aligned to alignment (a
 * power of two), zero-filled if zero; NULL on OOM. */
void *large_malloc(arena_t *a, size_t usize, size_t alignment, bool zero);
/* A small allocation of class ind promoted to an extent of its own (whole
 * pages), as sampled allocations are: its emap entry carries the small
 * class, so its usable size stays the class size.  NULL on OOM. */
void *large_malloc_promoted(arena_t *a, unsigned ind, size_t alignment,
                            bool zero);
/* A block of class ind (small or large, usize bytes) in a guarded extent
 * of its own, ending at a guard page (page/pac.h); NULL when no guard can
 * be placed (the caller serves it unguarded) or alignment > PAGE. */
void *large_malloc_guarded(arena_t *a, unsigned ind, size_t usize,
                           size_t alignment, bool zero);
void large_dalloc(edata_t *e);
/* Resizes large e in place to the large class new_usize.  False if the
 * neighbouring pages are not free (growing) or on OOM (shrinking). */
bool large_ralloc_in_place(edata_t *e, size_t new_usize, bool zero);

#endif /* HS_LARGE_H */
