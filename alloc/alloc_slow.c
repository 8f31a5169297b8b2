/*
 * alloc_slow.c — the allocation slow path: every allocation the fast path
 * of export.c does not serve.
 *
 * Owns: boot (the process's, then the thread's), the thread events due
 * (thread_event.h), the request's checks (size overflow, arena index),
 * the choice of path for one block — sampled (sampled.c), guarded
 * (HS_MALLOCX_GUARDED or the N-th allocation with san_guard_*), small
 * from the thread cache or the arena's bins, large from the thread cache
 * or the arena — and the one retry after out of memory.  Also the
 * calls that are not the fast path's: aligned, zeroed, no-cache, a manual
 * arena's (the extended API's flags, req_t).
 *
 * Invariant: every block it returns went through hand_out (no free mark),
 * and tsd->allocated grew by its usable size.
 *
 * Locking: none of its own; called with no allocator lock held.
 */
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "boot.h"
#include "check.h"
#include "front.h"
#include "large.h"
#include "opts.h"
#include "sz.h"
#include "tcache.h"
#include "thread_event.h"
#include "tsd.h"

static void *
small_alloc_slow(tsd_t *tsd, arena_t *a, unsigned ind, bool use_tcache)
{
    void *p = NULL;
    if (use_tcache && tsd->tcache.bins[ind].ncached_max != 0) {
        p = tcache_alloc(&tsd->tcache, a, ind);
    } else if (arena_bin_fill(a, ind, &p, 1) == 0) {
        p = NULL;
    }
    return p == NULL ? NULL : hand_out(p);
}

/* A large block: from the thread cache when its class is cached there
 * and the request has no special alignment, else from the arena. */
static void *
large_alloc(tsd_t *tsd, arena_t *a, size_t usize, req_t req, bool use_tcache)
{
    unsigned ind = sz_size2index(usize);
    if (use_tcache && ind < TCACHE_NBINS && req.alignment <= PAGE) {
        cache_bin_t *b = &tsd->tcache.bins[ind];
        if (b->ncached > 0) {
            void *p = hand_out(b->stack[--b->ncached]);
            if (req.zero)
                memset(p, 0, usize);
            return p;
        }
    }
    void *p = large_malloc(a, usize, req.alignment, req.zero);
    /* The page may hold a stale free mark from an earlier life. */
    return p == NULL ? NULL : hand_out(p);
}

/* san_guard_small / san_guard_large: whether this allocation is the N-th
 * (every allocation reaches the slow path while either is on, see
 * thread_event.c). */
static inline bool
san_due(tsd_t *tsd, size_t usize)
{
    bool small = usize <= SZ_SMALL_MAX;
    unsigned n = small ? opt_san_guard_small : opt_san_guard_large;
    if (likely(n == 0))
        return false;
    uint32_t *left = small ? &tsd->san_small_left : &tsd->san_large_left;
    if (*left == 0 || *left > n)
        *left = n;
    return --*left == 0;
}

/* A block in a guarded extent of its own; NULL when no guard can be placed
 * (the caller serves it unguarded). */
static void *
alloc_guarded(arena_t *a, size_t usize, req_t req)
{
    void *p = large_malloc_guarded(a, sz_size2index(usize), usize,
                                   req.alignment, req.zero);
    return p == NULL ? NULL : hand_out(p);
}

/*
 * Out of memory: the calling thread's cached blocks go back, so do the
 * blocks junk:free's quarantine holds (verified first), every arena
 * purges its free pages and unmaps the address space it retains, so that
 * one retry can succeed where the address space (RLIMIT_AS) rather than
 * memory ran out.
 */
static HS_COLD void
oom_release(tsd_t *tsd)
{
    tcache_flush_all(&tsd->tcache);
    check_quarantine_drain();
    arena_release_all();
}

HS_NOINLINE void *
alloc_slow(size_t size, req_t req)
{
    if (unlikely(!hs_boot()))
        goto oom;
    tsd_t *tsd = tsd_fetch_slow();
    if (unlikely(tsd == NULL))
        goto oom;
    size_t psize = check_padded(size);
    size_t usize = req_usize(psize, req);
    if (unlikely(usize == 0 || psize < size))
        goto oom;
    arena_t *a = tsd->arena;
    if (req.arena >= 0 && (a = arena_get((unsigned)req.arena)) == NULL)
        goto oom;
    if (tsd->allocated + usize >= tsd->next_event)
        te_run(tsd, usize);
    void *p = NULL;
    bool use_tcache = !req.no_tcache && req.arena < 0;
    bool retried = false;
retry:
    if (unlikely(tsd->prof_pending)) {
        p = alloc_sampled(tsd, a, size, usize, req, 0);
    } else {
        if (unlikely(req.guarded || san_due(tsd, usize)))
            p = alloc_guarded(a, usize, req);
        if (p != NULL) {
            /* guarded */
        } else if (usize <= SZ_SMALL_MAX) {
            p = small_alloc_slow(tsd, a, sz_size2index(usize), use_tcache);
            if (p != NULL && req.zero)
                memset(p, 0, usize);
        } else {
            p = large_alloc(tsd, a, usize, req, use_tcache);
        }
    }
    if (unlikely(p == NULL)) {
        if (retried)
            goto oom;
        oom_release(tsd);
        retried = true;
        goto retry;
    }
    if (unlikely(check_any))
        check_fill(p, size, usize, req.zero);
    tsd->allocated += usize;
    return p;
oom:
    errno = ENOMEM;
    return NULL;
}
