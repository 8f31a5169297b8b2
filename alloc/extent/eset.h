/*
 * eset.h — a set of free extents of one state.
 *
 * Owns: the free extents of one ecache, indexed two ways: by size, in
 * buckets of page-count classes (four per doubling, like the size classes),
 * for fitting; and by age (least recently freed first) for decay.
 *
 * Not locked itself: the owning ecache's mutex guards everything.
 * Invariants: npages == sum over members of size / PAGE; a member e lies in
 *   bucket psz_floor(e->size / PAGE), so every member of bucket i has at
 *   least psz_pages(i) pages; bit i of nonempty is set iff bucket i is
 *   non-empty; every member has state == eset->state; the age list is
 *   ordered by dirty_ns except where a bounded insertion gave up (see
 *   lru_insert), which can only delay a purge.
 */
#ifndef HS_ESET_H
#define HS_ESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edata.h"

#define ESET_NBUCKETS 256

typedef struct eset_s {
    hs_link_t buckets[ESET_NBUCKETS];
    uint64_t nonempty[ESET_NBUCKETS / 64];
    hs_link_t lru; /* oldest first */
    size_t npages;
    size_t nextents;
    extent_state_t state;
} eset_t;

void eset_init(eset_t *s, extent_state_t state);
void eset_insert(eset_t *s, edata_t *e);
void eset_remove(eset_t *s, edata_t *e);
/* A member with size >= size + alignment - PAGE (enough to carve an
 * aligned run of size bytes), or NULL. */
edata_t *eset_fit(eset_t *s, size_t size, size_t alignment);
/* A member of exactly size bytes whose guard_off is off (guarded extents:
 * the same block size), or NULL (a bounded search: a bucket crowded with
 * other sizes may hide one). */
edata_t *eset_fit_exact(eset_t *s, size_t size, uint32_t off);
/* The least recently inserted member, or NULL. */
edata_t *eset_oldest(eset_t *s);
/* Whether every invariant above holds (a walk of every member: for tests
 * and hs_assert_expensive, which checks it after each insert and remove
 * in a debug build). */
bool eset_consistent(const eset_t *s);

/* Page-count classes: index of the smallest class >= npages, and the
 * number of pages of class i. */
unsigned psz_ceil(size_t npages);
size_t psz_pages(unsigned i);

#endif /* HS_ESET_H */
