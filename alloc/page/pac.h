/*
 * pac.h — the classic page allocator: extents carved from address space
 * reserved in hugepage-aligned chunks, reused through ecaches, purged by
 * time-based decay.
 *
 * Owns: one arena's dirty and retained ecaches, its address-space growth,
 * its decay schedule and its page counters.  Freed extents enter the dirty
 * set; a dirty extent older than dirty_decay_ms is purged (MADV_DONTNEED)
 * and moves to the retained set, which keeps the address space for reuse
 * (nothing is ever unmapped).  Allocation prefers dirty (resident, cheap),
 * then retained, then grows.
 *
 * Locking: grow_mtx (HS_RANK_GROW) serializes growth; decay_mtx
 * (HS_RANK_DECAY) lets one thread purge at a time; each ecache has its own.
 * Invariant: mapped == active + dirty + retained bytes of this PAC, where
 * active counts extents handed out by pac_alloc and not yet returned.
 */
#ifndef HS_PAC_H
#define HS_PAC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../extent/ecache.h"
#include "../util/mutex.h"
#include "pai.h"

typedef struct pac_s {
    unsigned arena_ind;
    ecache_t dirty;
    ecache_t retained;
    hs_mutex_t grow_mtx;
    size_t grow_next; /* guarded by grow_mtx */
    hs_mutex_t decay_mtx;
    _Atomic(int64_t) dirty_decay_ms;  /* atomic; -1 never, 0 at once */
    _Atomic(uint64_t) next_decay_ns;  /* atomic; earliest useful check */
    _Atomic(size_t) mapped;           /* atomic; bytes reserved */
    _Atomic(uint64_t) npurges;        /* atomic; purge passes */
    _Atomic(uint64_t) nmadvise;       /* atomic; madvise calls */
    _Atomic(uint64_t) purged_pages;   /* atomic */
} pac_t;

void pac_init(pac_t *pac, unsigned arena_ind, int64_t dirty_decay_ms);
/* The PAI view of pac. */
pai_t pac_pai(pac_t *pac);
/* Purges the dirty extents whose decay time has passed (all of them when
 * all is true).  Returns the pages purged. */
size_t pac_decay(pac_t *pac, uint64_t now_ns, bool all);
/* Cheap check, for allocation ticks: runs pac_decay when due. */
void pac_decay_tick(pac_t *pac, uint64_t now_ns);
void pac_set_dirty_decay_ms(pac_t *pac, int64_t ms);

/* Monotonic clock in nanoseconds. */
uint64_t pac_now_ns(void);

#endif /* HS_PAC_H */
