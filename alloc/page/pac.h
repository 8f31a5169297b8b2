/*
 * pac.h — the classic page allocator: extents carved from address space
 * reserved in hugepage-aligned chunks, reused through ecaches, purged by
 * time-based decay in two stages.
 *
 * Owns: one arena's three ecaches, its address-space growth, its two decay
 * curves and its page counters.  A freed extent enters the dirty set.
 * Decay moves pages along dirty -> muzzy -> retained:
 *   dirty     free, resident; reused first (no fault on reuse)
 *   muzzy     purged lazily (MADV_FREE): the kernel takes the pages when it
 *             needs memory; reuse may find old contents or zeros
 *   retained  purged forcibly (MADV_DONTNEED): not resident, read as zero;
 *             the address space is kept for reuse (nothing is unmapped)
 * Each stage follows its decay curve (decay.h) over dirty_decay_ms and
 * muzzy_decay_ms: 0 purges at once (muzzy_decay_ms 0 sends purged dirty
 * pages straight to retained), -1 never.  Allocation prefers dirty, then
 * muzzy, then retained, then grows.
 *
 * Guarded extents: a block with a guard page (PROT_NONE) right after its
 * end and one right before its first page.  They are carved one after
 * another from a guard region, [G][U G][U G]..., so each extent owns only
 * its trailing guard and the one before it is its neighbour's (or the
 * region's first page): adjacent guarded extents share guard pages.  A
 * freed one keeps its guard and waits in the guarded set of the ecache it
 * enters (dirty, then muzzy, then retained as it decays), to be reused at
 * its exact size without another mprotect.  Every guard splits a kernel
 * mapping; the process-wide number of guards is kept under a budget (a
 * quarter of vm.max_map_count), past which guarded requests are served
 * unguarded, never failed.
 *
 * Locking: grow_mtx (HS_RANK_GROW) serializes growth; guard_mtx
 * (HS_RANK_GUARD) guards the guard region; decay_mtx
 * (HS_RANK_DECAY) guards both curves and lets one thread purge at a time;
 * each ecache has its own.
 * Invariant: mapped == active + dirty + muzzy + retained bytes of this PAC,
 * where active counts extents handed out by pac_alloc and not returned.
 */
#ifndef HS_PAC_H
#define HS_PAC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../extent/ecache.h"
#include "../util/mutex.h"
#include "decay.h"
#include "pai.h"

/* time_until_deferred_work waits until this many pages (or all there are)
 * can be purged: a background thread wakes for batches, not single pages. */
#define PAC_DEFER_MIN_PAGES 64

/* Counters of one purge stage (atomics). */
typedef struct pac_purge_stats_s {
    _Atomic(uint64_t) npurge;   /* decay passes that purged something */
    _Atomic(uint64_t) nmadvise; /* madvise calls */
    _Atomic(uint64_t) purged;   /* pages purged */
} pac_purge_stats_t;

typedef struct pac_s {
    unsigned arena_ind;
    extent_ctx_t ctx; /* page source, descriptors; set before first use */
    ecache_t dirty;
    ecache_t muzzy;
    ecache_t retained;
    hs_mutex_t grow_mtx;
    size_t grow_next; /* guarded by grow_mtx */
    hs_mutex_t guard_mtx;
    edata_t *guard_region;      /* guarded by guard_mtx: carving space */
    _Atomic(uint64_t) nguarded; /* guarded extents handed out */
    hs_mutex_t decay_mtx;
    decay_t dirty_decay; /* guarded by decay_mtx */
    decay_t muzzy_decay; /* guarded by decay_mtx */
    /* Copies of the curves' times, read without the lock. */
    _Atomic(int64_t) dirty_decay_ms;
    _Atomic(int64_t) muzzy_decay_ms;
    _Atomic(uint64_t) next_tick_ns; /* earliest useful decay tick */
    _Atomic(size_t) mapped;         /* bytes reserved */
    pac_purge_stats_t dirty_stats;  /* dirty -> muzzy or retained */
    pac_purge_stats_t muzzy_stats;  /* muzzy -> retained */
    /* A manual arena's extents handed out (for reset and destroy). */
    hs_mutex_t active_mtx;
    hs_link_t active; /* guarded by active_mtx */
} pac_t;

void pac_init(pac_t *pac, unsigned arena_ind, int64_t dirty_decay_ms,
              int64_t muzzy_decay_ms);
/* Gives pac (just initialized, unused) its page source and descriptor
 * cache: hooks (NULL: heapsight's own pages), edc (NULL: the default
 * cache), manual (made by arenas.create: its active extents are tracked).
 * A stage whose purge the hooks cannot do never decays (decay time -1). */
void pac_set_source(pac_t *pac, hs_extent_hooks_t *hooks, edata_cache_t *edc,
                    bool manual);
/* Moves every extent handed out by a manual pac onto *r_list (linked by
 * active_link); they are the caller's to give back with the PAI's dalloc.
 * Returns how many. */
size_t pac_take_active(pac_t *pac, hs_link_t *r_list);
/* Gives every page of pac (all free, none handed out) back to its source,
 * for good, and forgets it; pac is empty and may be initialized again. */
void pac_destroy(pac_t *pac);
/* The PAI view of pac. */
pai_t pac_pai(pac_t *pac);

/* A guarded extent for a block of usize bytes aligned to alignment
 * (<= PAGE): whole pages for the block, then the guard page; the block's
 * offset (e->guard_off) puts its end at the guard (to within alignment).
 * Zero-filled when zero.  NULL when no guard can be placed (the budget is
 * spent, mprotect failed, or OOM): the caller then serves the block
 * unguarded. */
edata_t *pac_alloc_guarded(pac_t *pac, size_t usize, size_t alignment,
                           bool zero);
/* The process-wide guard budget (boot: a quarter of vm.max_map_count). */
void pac_guard_budget_set(size_t guards);
typedef struct pac_guard_stats_s {
    size_t live;      /* guard pages in place */
    size_t budget;    /* most guard pages allowed */
    uint64_t skipped; /* guarded requests served unguarded */
} pac_guard_stats_t;
void pac_guard_stats(pac_guard_stats_t *r_stats);

/* Brings both stages down to their curves at now_ns.  Returns the pages
 * purged (each page counted once per stage it left). */
size_t pac_decay(pac_t *pac, uint64_t now_ns);
/* Purges every dirty and muzzy page to retained at once; returns the
 * pages purged. */
size_t pac_purge_all(pac_t *pac);
/* Unmaps every retained extent, guarded ones with their guard page
 * (default hooks only: memory from extent hooks stays theirs), giving the
 * address space back; the out-of-memory path's last resort.  Returns the
 * bytes released. */
size_t pac_release_retained(pac_t *pac);
/* Cheap check for allocation ticks: pac_decay at most once an epoch, and
 * not at all when another thread is purging. */
void pac_decay_tick(pac_t *pac, uint64_t now_ns);
/* Nanoseconds until either stage has at least min_pages to purge (all it
 * holds, if less); UINT64_MAX when nothing is pending. */
uint64_t pac_ns_until_purge(pac_t *pac, uint64_t now_ns, size_t min_pages);
/* Restarts a stage's curve with a new time; the pages it holds count as
 * freed now. */
void pac_set_dirty_decay_ms(pac_t *pac, int64_t ms);
void pac_set_muzzy_decay_ms(pac_t *pac, int64_t ms);

/* cb (the background thread's) learns that npages entered the dirty or
 * muzzy set, all of them due by due_ns (sooner, in part, the more there
 * are); called with no lock of rank HS_RANK_BACKGROUND or higher held. */
void pac_set_deferred_cb(void (*cb)(uint64_t due_ns, size_t npages));
/* Calls that callback, if any (for the HPA's deferred work). */
void pac_tell_deferred(uint64_t due_ns, size_t npages);

/* Monotonic clock in nanoseconds. */
uint64_t pac_now_ns(void);

#endif /* HS_PAC_H */
