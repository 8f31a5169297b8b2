/*
 * front.h — what the files behind the exported entry points share: the
 * request an entry point makes (req_t), the free mark, the inline parts of
 * the free-path checks, and the out-of-line paths each file owns.
 *
 * The files, calls going down only:
 *   export.c      the exported entry points and their inline fast paths;
 *   realloc.c     realloc and the usable size of a block;
 *   alloc_slow.c  the allocation slow path (small, large, guarded, OOM);
 *   free_check.c  the free-path checks, the misuse reports and free_slow;
 *   sampled.c     blocks the profiler samples: their allocation, free and
 *                 in-place resize, and hs_prof_malloc_sampled.
 * The slow paths are noinline and out of line, so the fast paths stay a
 * few instructions with one unlikely exit.  Every function declared here
 * is internal: hidden, never exported from libheapsight.so.
 *
 * The free mark: a free small block (and a kept sampled page) holds
 * free_mark(p) = p ^ boot_free_mark_key in its second word, from its free
 * until hand_out clears it; marked_freed(p) on a block being freed is a
 * double free (free_check.c).
 *
 * Locking: none here; each path takes the locks of the modules it calls.
 */
#ifndef HS_FRONT_H
#define HS_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "boot.h"
#include "extent/emap.h"
#include "sz.h"
#include "tsd.h"
#include "util/util.h"

/* What an entry point asks for beyond a size (the extended API's flags). */
typedef struct req_s {
    size_t alignment; /* 0: default (16) */
    bool zero;
    bool no_tcache;
    bool guarded; /* HS_MALLOCX_GUARDED */
    int arena;    /* -1: the thread's */
} req_t;

static inline uintptr_t
free_mark(const void *p)
{
    return (uintptr_t)p ^ boot_free_mark_key;
}

/* The free mark's write and test.  config_free_checks is false only in a
 * build made to measure what the checks cost (cmake -DHS_FREE_CHECKS=OFF,
 * bench/run.sh --checks); such a build detects no misuse on the fast
 * paths. */
static inline void
mark_freed(void *p)
{
    if (config_free_checks)
        ((uintptr_t *)p)[1] = free_mark(p);
}

static inline bool
marked_freed(const void *p)
{
    return config_free_checks && ((const uintptr_t *)p)[1] == free_mark(p);
}

/* A block about to be handed out: its free mark, if any, cleared. */
static inline void *
hand_out(void *p)
{
    if (config_free_checks)
        ((uintptr_t *)p)[1] = 0;
    return p;
}

/* The usable size serving size bytes under req (0: too large). */
static inline size_t
req_usize(size_t size, req_t req)
{
    return req.alignment > QUANTUM ? sz_sa2u(size, req.alignment)
                                   : sz_s2u(size);
}

/* ---- the allocation slow path (alloc_slow.c) ---- */

/* Every allocation the fast path does not serve: boot, thread events,
 * sampled and guarded blocks, large sizes, a retry after OOM.  NULL with
 * errno ENOMEM on failure. */
HS_HIDDEN HS_NOINLINE void *alloc_slow(size_t size, req_t req);

/* ---- the free-path checks (free_check.c) ---- */

/* The misuse reports (util/fmt.h: they abort, unless abort_on_error is
 * false or an abort hook is set; then the block is left untouched).  fn
 * is the entry point named in the report. */
HS_HIDDEN HS_COLD void bad_pointer(const char *fn, const void *p,
                                   emap_entry_t ent);
HS_HIDDEN HS_COLD void double_free(const char *fn, const void *p,
                                   emap_entry_t ent);

/* "; allocated at ..." when the profiler sampled the block starting at p
 * (its extent keeps the stack, also after the free), else "". */
HS_HIDDEN const char *stack_note(const void *p, emap_entry_t ent, char *buf,
                                 size_t len);
#define STACK_NOTE_LEN 640

/* The size asked for block p (usize usable, entry ent) after verifying
 * its canary (check.h); a changed canary is reported for fn and gives
 * SIZE_MAX. */
HS_HIDDEN HS_COLD size_t canary_checked(const char *fn, const void *p,
                                        emap_entry_t ent, size_t usize);

/* Every free the fast path does not finish (p may be NULL): checks,
 * canary and junk, sampled, guarded and large blocks, a manual arena's,
 * a full thread cache, no_tcache. */
HS_HIDDEN HS_NOINLINE void free_slow(const char *fn, void *p, emap_entry_t ent,
                                     bool no_tcache);

/* Frees large block p (usize usable) of extent e, which no thread cache
 * takes: with junk:free (and not a manual arena's), into the quarantine
 * (check.h), marked freed; else back to its arena. */
HS_HIDDEN void large_free(void *p, size_t usize, edata_t *e);

/* What checked_slab_ind and checked_usize return for a misuse that was
 * reported and survived (abort_on_error:false or an abort hook). */
#define MISUSED_IND UINT32_MAX
#define MISUSED_USIZE 0

/* Usable size of an active extent's allocation: a promoted (sampled) or
 * guarded small allocation keeps its small class; a guarded large one
 * ends at its guard. */
static inline size_t
large_usize(emap_entry_t ent)
{
    unsigned ind = emap_entry_szind(ent);
    if (ind < SZ_NBINS)
        return sz_index2size(ind);
    const edata_t *e = emap_entry_edata(ent);
    return emap_entry_guarded(ent) ? e->size - PAGE - e->guard_off : e->size;
}

/* Validates p as a region of the slab behind slab entry ent (a region
 * start, not already freed); returns its size class. */
HS_INLINE unsigned
checked_slab_ind(const char *fn, const void *p, emap_entry_t ent)
{
    unsigned ind = emap_entry_szind(ent);
    if (config_free_checks &&
        unlikely(!sz_region_start(ind, emap_slab_offset(ent, p)))) {
        bad_pointer(fn, p, ent);
        return MISUSED_IND;
    }
    if (unlikely(marked_freed(p))) {
        double_free(fn, p, ent);
        return MISUSED_IND;
    }
    return ind;
}

/* Validates p against its entry; returns its usable size (MISUSED_USIZE
 * after a reported misuse). */
static inline size_t
checked_usize(const char *fn, const void *p, emap_entry_t ent)
{
    if (likely(emap_entry_slab(ent))) {
        unsigned ind = checked_slab_ind(fn, p, ent);
        return ind == MISUSED_IND ? MISUSED_USIZE : sz_index2size(ind);
    }
    edata_t *e = emap_entry_edata(ent);
    if (unlikely(ent == 0 || emap_entry_state(ent) != EXTENT_ACTIVE ||
                 emap_entry_szind(ent) == SZIND_NONE ||
                 (char *)e->addr +
                         (emap_entry_guarded(ent) ? e->guard_off : 0) !=
                     p)) {
        bad_pointer(fn, p, ent);
        return MISUSED_USIZE;
    }
    if (unlikely(marked_freed(p))) {
        double_free(fn, p, ent);
        return MISUSED_USIZE;
    }
    return large_usize(ent);
}

/* ---- sampled blocks (sampled.c) ---- */

/* The allocation crossing the sample point (or hs_prof_malloc_sampled's
 * block for domain): an extent of its own, then reported to the
 * profiler, which returns the record the extent keeps.  Clears
 * tsd->prof_pending.  NULL on OOM. */
HS_HIDDEN void *alloc_sampled(tsd_t *tsd, arena_t *a, size_t size, size_t usize,
                              req_t req, unsigned domain);

/* The free of sampled block p (usize usable) in extent e. */
HS_HIDDEN void free_sampled(void *p, size_t usize, edata_t *e);

/* Large p was resized in place from old to usize usable bytes (size
 * asked): the profiler hears of the old block's free, and a pending
 * sample is taken on the block where it stands. */
HS_HIDDEN void sample_in_place(tsd_t *tsd, void *p, size_t size, size_t old,
                               size_t usize);

/* ---- realloc (realloc.c) ---- */

/* Resizes p (not NULL) to size with req; NULL (p untouched) on failure. */
HS_HIDDEN void *realloc_impl(const char *fn, void *p, size_t size, req_t req);

/* The usable size of p as its rtree entry gives it, without the misuse
 * checks (0 when its page holds no active extent); with the canary on,
 * the size asked. */
HS_HIDDEN size_t usable_size_of(const void *p);

#endif /* HS_FRONT_H */
