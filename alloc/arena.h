/*
 * arena.h — arenas: the shared heaps behind the thread caches.
 *
 * Owns: the arena table and each arena's parts — one bin per small size
 * class (bin.h), the counters of its large allocations (large.h), and its
 * page allocator shard (page/pa.h) — plus thread placement: threads are
 * spread over arenas, least loaded first, so bin locks are rarely
 * contended.
 *
 * Locking: the table is written under arenas_mtx (HS_RANK_CTL) and read
 * lock-free; an arena, once created, lives forever.  nthreads and the large
 * counters are atomics.
 */
#ifndef HS_ARENA_H
#define HS_ARENA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../include/heapsight.h"
#include "bin.h"
#include "extent/base.h"
#include "extent/edata.h"
#include "page/pa.h"
#include "sz.h"
#include "util/mutex.h"

#define ARENAS_MAX 1024
/* How long an orphaned arena's dirty pages wait for a new thread. */
#define ARENA_ORPHAN_WAIT_MS 5

typedef struct arena_s {
    unsigned ind;
    bool manual; /* made by arenas.create (ind >= narenas_auto) */
    const hs_extent_hooks_t *hooks; /* manual: as created (NULL: default) */
    bool metadata_use_hooks;
    /* metadata_use_hooks: the base and descriptor cache over the hooks. */
    ehooks_t meta_eh;
    base_t meta_base;
    edata_cache_t meta_edc;
    _Atomic(unsigned) nthreads; /* atomic */
    /* When an orphan (an arena whose last thread is gone) is purged, in
     * pac_now_ns time, odd; 0: not an orphan, or purged.  Atomic. */
    _Atomic(uint64_t) orphan_purge_ns;
    bin_t bins[SZ_NBINS];
    pa_shard_t pa;
    _Atomic(uint64_t) nlarge_malloc; /* atomic */
    _Atomic(uint64_t) nlarge_dalloc; /* atomic */
    _Atomic(size_t) large_allocated; /* atomic; usable bytes */
} arena_t;

/* Live arenas by index; NULL for one not created yet or destroyed. */
extern _Atomic(arena_t *) arenas[ARENAS_MAX];
/* Arenas threads are spread over (read-only after boot), and one past the
 * highest index ever live (grows with arenas.create). */
extern unsigned narenas_auto;
extern _Atomic(unsigned) narenas_total;

bool arenas_boot(unsigned narenas, int64_t dirty_decay_ms,
                 int64_t muzzy_decay_ms);
/* Arena ind, created on first use; NULL on OOM or ind out of range. */
arena_t *arena_get(unsigned ind);
/* arenas.create: a manual arena with cfg (NULL: defaults); 0 and its index,
 * or EAGAIN (no index left, or OOM). */
int arena_create(const hs_arena_config_t *cfg, unsigned *r_ind);
/* arena.<i>.reset: frees every block of manual arena ind at once; 0,
 * ENOENT (no such arena) or EFAULT (not a manual arena).  The caller
 * guarantees no other thread uses the arena meanwhile. */
int arena_reset(unsigned ind);
/* arena.<i>.destroy: reset, then every page back to the arena's source,
 * its descriptors and metadata blocks too; its index becomes free.  0,
 * ENOENT, or EFAULT (not manual, or a thread is bound to it). */
int arena_destroy(unsigned ind);
/* The least loaded automatic arena, for a new thread; among those with
 * no thread, the most recent orphan. */
arena_t *arena_choose(void);
/* arena_choose and arena_thread_attach as one step (a thread's first
 * allocation): the count it chose by is the count it increments. */
arena_t *arena_choose_attach(void);
void arena_thread_attach(arena_t *a);
/* A thread leaves a.  The last one to leave makes it an orphan: its dirty
 * pages wait ARENA_ORPHAN_WAIT_MS (or dirty_decay_ms when shorter; not at
 * all when that is 0 or -1) for a new thread to take the arena and reuse
 * them, and arena_orphans_purge purges them after that.  One orphan waits
 * at a time: a newer one has the older purged at once.  A thread that
 * starts and ends over and over (a pool that respawns its workers) would
 * otherwise fault every page back in after each exit; a process whose
 * threads have all ended would otherwise keep their pages for the decay
 * time. */
void arena_thread_detach(arena_t *a);
/* Purges every orphan whose wait is over; returns the ns until the next
 * one is due (UINT64_MAX: none pending).  Called by decay ticks
 * (arena_decay_tick_all) and the background thread. */
uint64_t arena_orphans_purge(uint64_t now_ns);

/* Moves up to n regions of class ind from a's bin into out; returns how
 * many (fewer only on OOM). */
unsigned arena_bin_fill(arena_t *a, unsigned ind, void **out, unsigned n);
/* Returns n regions of class ind (from slabs of any arena) to their slabs;
 * reorders ptrs. */
void arena_bin_flush(unsigned ind, void **ptrs, unsigned n);

/* Purges all of a's dirty and muzzy pages to retained (malloc_trim,
 * arena.<i>.purge); returns the pages purged. */
size_t arena_purge(arena_t *a);
/* Every arena's free pages purged and its retained address space unmapped
 * (the out-of-memory path, before its one retry); returns bytes unmapped. */
size_t arena_release_all(void);
/* Brings a's free pages down to their decay curves now (arena.<i>.decay);
 * returns the pages purged. */
size_t arena_decay(arena_t *a);
void arena_decay_tick(arena_t *a);
/* arena_decay_tick on every arena that exists, then arena_orphans_purge. */
void arena_decay_tick_all(void);

/* Statistics of one arena. */
typedef struct arena_stats_s {
    size_t small_allocated; /* bytes in regions out of slabs */
    size_t large_allocated;
    size_t active; /* bytes of slabs and large extents */
    uint64_t nsmall_fills, nsmall_flushes;
    uint64_t nlarge_malloc, nlarge_dalloc;
    size_t nslabs;
    pa_stats_t pa;
} arena_stats_t;

void arena_stats(arena_t *a, arena_stats_t *r_stats);

#endif /* HS_ARENA_H */
