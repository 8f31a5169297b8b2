/*
 * sampled.c — blocks the profiler samples: their allocation, their free
 * and their resize in place, and hs_prof_malloc_sampled.
 *
 * Owns: the edata fields of sampled blocks, prof_rec (set when a block is
 * sampled, cleared when the profiler hears of its free) and prof_stack
 * (set with it, kept after the free for the misuse reports); the calls
 * into the profiler's hooks (prof_hooks.h) with the reentrancy guard held
 * and errno kept; and each thread's kept promoted pages (tsd->prof_pages,
 * owner thread only).  Does not own the sampling decision: the thread
 * event TE_PROF_SAMPLE sets tsd->prof_pending, and alloc_slow.c comes
 * here while it is set; free_check.c comes here for the free of a sampled
 * block, realloc.c after every resize in place.
 *
 * Invariant: a sampled block has an extent of its own (a small one is
 * promoted to a page, keeping its small class in its emap entry), so its
 * free is recognised from its entry (not a slab entry) and its edata.
 * A kept page holds the free mark like a free slab region (front.h).
 *
 * Locking: none of its own; called with no allocator lock held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../include/heapsight_hook.h"
#include "arena.h"
#include "boot.h"
#include "check.h"
#include "extent/emap.h"
#include "front.h"
#include "large.h"
#include "prof_hooks.h"
#include "sz.h"
#include "tsd.h"

/*
 * A sampled small allocation of usize bytes: a page of its own.  A
 * one-page one comes from the thread's prof_pages when it has one (a page
 * its last sampled objects gave back), which keeps a sampling thread from
 * taking and returning an extent, and later purging a scattered page, for
 * every sample.
 */
static void *
promote(tsd_t *tsd, arena_t *a, size_t usize, req_t req)
{
    unsigned ind = sz_size2index(usize);
    /* (The kept pages are automatic arenas': a manual arena's blocks must
     * be its own, for its reset.) */
    if (usize > PAGE || req.alignment > PAGE || tsd->nprof_pages == 0 ||
        a->manual)
        return large_malloc_promoted(a, ind, req.alignment, req.zero);
    /* Only a page that held a block of this very class: a stale pointer
     * to a freed block of another size must not find a live block there
     * (its free stays a detected double free, as without profiling). */
    unsigned k = tsd->nprof_pages;
    while (k > 0 && tsd->prof_pages[k - 1]->szind != ind)
        k--;
    if (k == 0)
        return large_malloc_promoted(a, ind, req.alignment, req.zero);
    edata_t *e = tsd->prof_pages[k - 1];
    tsd->prof_pages[k - 1] = tsd->prof_pages[--tsd->nprof_pages];
    if (req.zero)
        memset(e->addr, 0, usize);
    return e->addr;
}

/* Keeps the page of a freed sampled small allocation for the next one;
 * false when it cannot (not one page, no room, the thread is ending). */
static bool
keep_promoted_page(edata_t *e, void *p)
{
    tsd_t *tsd = tsd_get();
    if (e->size != PAGE || e->manual || tsd->state != TSD_NOMINAL ||
        tsd->nprof_pages == TSD_PROF_PAGES)
        return false;
    mark_freed(p);
    tsd->prof_pages[tsd->nprof_pages++] = e;
    return true;
}

/*
 * The profiler's hooks on a sampled block, under the reentrancy guard.
 * Unwinders probe memory with system calls that fail by design; the
 * program must not see their errno (Python checks errno after calls that
 * allocate).
 */
static void *
prof_sampled(void *p, size_t size, size_t usize, unsigned domain)
{
    const alloc_prof_hooks_t *h = alloc_prof_hooks;
    if (h == NULL)
        return NULL;
    int saved = errno;
    tsd_reentrancy_enter();
    void *rec = h->sampled(p, size, usize, domain);
    tsd_reentrancy_exit();
    errno = saved;
    return rec;
}

static void
prof_sampled_free(void *p, size_t usize, void *rec)
{
    const alloc_prof_hooks_t *h = alloc_prof_hooks;
    if (rec == NULL || h == NULL)
        return;
    int saved = errno;
    tsd_reentrancy_enter();
    h->sampled_free(p, usize, rec);
    tsd_reentrancy_exit();
    errno = saved;
}

/* Keeps rec, and the stack behind it for misuse reports, with e. */
static void
set_prof_rec(edata_t *e, void *rec)
{
    const alloc_prof_hooks_t *h = alloc_prof_hooks;
    e->prof_rec = rec;
    e->prof_stack = rec != NULL && h != NULL && h->stack_of != NULL
                        ? h->stack_of(rec)
                        : NULL;
}

/* The allocation crossing the sample point (or hs_prof_malloc_sampled's
 * block for domain): an extent of its own, then reported to the
 * profiler, which returns the record the extent keeps. */
void *
alloc_sampled(tsd_t *tsd, arena_t *a, size_t size, size_t usize, req_t req,
              unsigned domain)
{
    tsd->prof_pending = false;
    void *p = usize <= SZ_SMALL_MAX
                  ? promote(tsd, a, usize, req)
                  : large_malloc(a, usize, req.alignment, req.zero);
    if (p == NULL)
        return NULL;
    hand_out(p);
    set_prof_rec(emap_entry_edata(emap_lookup(p)),
                 prof_sampled(p, size, usize, domain));
    return p;
}

/* hs_prof_malloc_sampled (heapsight_hook.h): a block of its own, like a
 * sampled allocation, recorded for another allocator's domain. */
HS_API void *
hs_prof_malloc_sampled(size_t size, unsigned domain)
{
    tsd_t *tsd = hs_boot() ? tsd_fetch_slow() : NULL;
    size_t psize = check_padded(size == 0 ? 1 : size);
    size_t usize = psize == 0 ? 0 : sz_s2u(psize);
    if (alloc_prof_hooks == NULL || tsd == NULL || tsd_reentrant() ||
        usize == 0)
        return malloc(size);
    void *p = alloc_sampled(tsd, tsd->arena, size, usize, (req_t){.arena = -1},
                            domain);
    if (p == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(check_any))
        check_fill(p, size, usize, false);
    tsd->allocated += usize;
    return p;
}

/* A sampled allocation: the profiler hears of the free first; its extent
 * then goes back (a promoted page may stay with the thread, see promote,
 * but never enters a thread cache). */
void
free_sampled(void *p, size_t usize, edata_t *e)
{
    void *rec = e->prof_rec;
    e->prof_rec = NULL;
    prof_sampled_free(p, usize, rec);
    if (e->szind >= SZ_NBINS)
        large_free(p, usize, e);
    else if (!keep_promoted_page(e, p))
        large_dalloc(e); /* a promoted small block's page */
}

/* Takes a pending sample on large p, resized in place: it already has an
 * extent of its own, so only the record is needed. */
void
sample_in_place(tsd_t *tsd, void *p, size_t size, size_t old, size_t usize)
{
    edata_t *e = emap_entry_edata(emap_lookup(p));
    void *rec = e->prof_rec;
    e->prof_rec = NULL;
    prof_sampled_free(p, old, rec);
    if (!tsd->prof_pending)
        return;
    tsd->prof_pending = false;
    set_prof_rec(e, prof_sampled(p, size, usize, 0));
}
