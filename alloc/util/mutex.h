/*
 * mutex.h — the allocator's mutex, with lock ranks and fork handling.
 *
 * Owns: hs_mutex_t (a pthread mutex that spins briefly before sleeping),
 * the registry of every allocator mutex, and the fork protocol over it.
 *
 * Lock order: a thread holding a mutex of rank r takes only mutexes of a
 * strictly higher rank; two mutexes of one rank are never held together.
 * Before fork, hs_mutex_prefork() takes every registered mutex in rank order
 * (so no lock is held mid-update in the child); the parent then unlocks
 * them all and the child reinitializes them all.  The profiler's ranks come
 * first because it allocates (taking allocator locks) while holding them.
 * Ranks, lowest first:
 */
#ifndef HS_MUTEX_H
#define HS_MUTEX_H

#include <pthread.h>
#include <stdbool.h>

#include "hs_config.h"

typedef enum {
    HS_RANK_PROF_DUMP = 0,  /* profiler: one dump at a time */
    HS_RANK_PROF,           /* profiler: site table, records, domains */
    HS_RANK_BT,             /* backtrace hooks: hook chains, symbolic frames */
    HS_RANK_BACKGROUND_CTL, /* starting and stopping the background thread */
    HS_RANK_CTL,            /* arena list, thread list, stats refresh */
    HS_RANK_QUARANTINE,     /* junk:free's quarantine of large blocks */
    HS_RANK_BIN,            /* one arena bin (slabs of one size class) */
    HS_RANK_GUARD,          /* an arena's guard region (guarded extents) */
    HS_RANK_HPA,            /* an arena's hugepage-aware shard */
    HS_RANK_EXTENTS,        /* a manual arena's list of active extents */
    HS_RANK_DECAY,          /* an arena's purge in progress */
    HS_RANK_GROW,           /* a PAC's address-space growth */
    HS_RANK_BACKGROUND,     /* the background thread's state */
    HS_RANK_ECACHE,         /* one ecache (dirty or retained extents) */
    HS_RANK_EDATA_CACHE,    /* recycled edata structures */
    HS_RANK_TCACHE_POOL,    /* recycled thread caches */
    HS_RANK_RTREE,          /* creation of rtree leaves */
    HS_RANK_BASE,           /* metadata memory */
    HS_NRANKS
} hs_rank_t;

typedef struct hs_mutex_s hs_mutex_t;
struct hs_mutex_s {
    pthread_mutex_t lock;
    hs_rank_t rank;
    bool registered;             /* set once, with next_registered */
    hs_mutex_t *next_registered; /* set once, before publication */
};

/* The lock-order witness, in a debug build (cmake -DHS_DEBUG=ON; jemalloc
 * calls its own the witness): each thread keeps the mutexes it holds, and
 * taking one whose rank is not strictly above every rank held ends the
 * process with one line naming both ranks (util/fmt.h's hs_fatal).  A
 * trylock cannot deadlock, so it is not checked, only recorded.  The fork
 * protocol takes and drops its locks behind the witness's back: the
 * forking thread holds every lock at once, by design.  In a release build
 * these are empty and cost nothing. */
#if HS_DEBUG
void hs_witness_acquire(const hs_mutex_t *m, bool checked);
void hs_witness_release(const hs_mutex_t *m);
#else
static inline void
hs_witness_acquire(const hs_mutex_t *m, bool checked)
{
    (void)m, (void)checked;
}
static inline void
hs_witness_release(const hs_mutex_t *m)
{
    (void)m;
}
#endif
/* The name of rank r ("bin", "ecache", ...). */
const char *hs_rank_name(hs_rank_t r);

/* Initializes m and registers it for fork handling, once: m must start in
 * zeroed memory, and initializing it again (a recycled arena does) leaves
 * it as it is.  Never fails.  A registered mutex's memory must stay valid
 * for the life of the process. */
void hs_mutex_init(hs_mutex_t *m, hs_rank_t rank);

static inline void
hs_mutex_lock(hs_mutex_t *m)
{
    hs_witness_acquire(m, true);
    if (pthread_mutex_trylock(&m->lock) == 0)
        return;
    for (int i = 0; i < 64; i++) {
        __builtin_ia32_pause();
        if (pthread_mutex_trylock(&m->lock) == 0)
            return;
    }
    pthread_mutex_lock(&m->lock);
}

/* True when m was free and is now held by the caller. */
static inline bool
hs_mutex_trylock(hs_mutex_t *m)
{
    if (pthread_mutex_trylock(&m->lock) != 0)
        return false;
    hs_witness_acquire(m, false);
    return true;
}

static inline void
hs_mutex_unlock(hs_mutex_t *m)
{
    hs_witness_release(m);
    pthread_mutex_unlock(&m->lock);
}

/* The fork protocol; called from the pthread_atfork handlers. */
void hs_mutex_prefork(void);
void hs_mutex_postfork_parent(void);
void hs_mutex_postfork_child(void);

#endif /* HS_MUTEX_H */
