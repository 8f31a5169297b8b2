/*
 * tsd.h — thread state: everything the allocator keeps per thread.
 *
 * Owns: the thread's cache, its arena, its allocation counters and its
 * event threshold, in one initial-exec TLS block (no lookup, no lock), plus
 * the list of live threads (mutex HS_RANK_CTL) that statistics walk.
 *
 * Life cycle: UNINIT (all zero: every fast path fails its check and the
 * slow path initializes) -> NOMINAL -> DYING (the thread-exit destructor
 * flushed the cache; later allocations in this thread go straight to the
 * arena).  The counters are written by the owner thread only and read
 * racily (relaxed, word-sized) by statistics.
 * Invariant: allocated < next_event or the next allocation takes the slow
 * path, which runs the due thread events (thread_event.h).  next_event is 0
 * until the state is set up, so the first allocation takes the slow path.
 */
#ifndef HS_TSD_H
#define HS_TSD_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "tcache.h"
#include "thread_event.h"
#include "util/list.h"
#include "util/util.h"

typedef enum {
    TSD_UNINIT = 0,
    TSD_NOMINAL = 1,
    TSD_DYING = 2,
} tsd_state_t;

/* Pages a thread keeps for sampled small allocations (see sampled.c). */
#define TSD_PROF_PAGES 4

typedef struct tsd_s {
    uint64_t allocated;           /* owner thread only: thread.allocated */
    uint64_t next_event;          /* owner thread only */
    uint64_t deallocated;         /* owner thread only: thread.deallocated */
    uint64_t te_next[TE_NEVENTS]; /* owner thread only: thread_event.c */
    tcache_t tcache;
    arena_t *arena;
    uint8_t state;
    bool prof_pending;       /* owner thread only: sample this allocation */
    uint32_t san_small_left; /* owner thread only: small allocations until
                                the next guarded one (san_guard_small) */
    uint32_t san_large_left; /* the same for san_guard_large */
    uint8_t nprof_pages;     /* owner thread only: prof_pages in use */
    /* Owner thread only: freed one-page extents of sampled small
     * allocations, kept for the next one (each still active, with the
     * free mark in its second word). */
    struct edata_s *prof_pages[TSD_PROF_PAGES];
    uint32_t reentrancy; /* owner thread only: see tsd_reentrancy_enter */
    hs_link_t link;      /* guarded by the thread list lock */
} tsd_t;

extern HS_TLS tsd_t tsd_tls;

/* Gives the thread's prof_pages back to their arenas. */
void tsd_prof_pages_flush(tsd_t *tsd);

static inline tsd_t *
tsd_get(void)
{
    return &tsd_tls;
}

/*
 * Reentrancy guard: while a thread is inside the profiler (or a hook it
 * runs), its own allocations are served normally but never sampled, so the
 * profiler never recurses into itself and never profiles itself.
 */
static inline void
tsd_reentrancy_enter(void)
{
    tsd_tls.reentrancy++;
}

static inline void
tsd_reentrancy_exit(void)
{
    tsd_tls.reentrancy--;
}

static inline bool
tsd_reentrant(void)
{
    return tsd_tls.reentrancy != 0;
}

bool tsd_boot(void);
/* Initializes the calling thread's state if needed; NULL if the allocator
 * cannot run (boot failed).  A DYING thread gets its state back with the
 * cache disabled. */
tsd_t *tsd_fetch_slow(void);
/* Sums allocated and deallocated over all threads, live and ended. */
void tsd_totals(uint64_t *r_allocated, uint64_t *r_deallocated);
/* Moves the calling thread to arena a. */
void tsd_set_arena(tsd_t *tsd, arena_t *a);
/* Fork: the child keeps only the forking thread. */
void tsd_postfork_child(void);

#endif /* HS_TSD_H */
