/*
 * export.c — the exported allocation entry points: the C, POSIX and glibc
 * functions and heapsight's extended API.
 *
 * Owns: the fast paths, the argument semantics of every entry point
 * (errno, overflow, alignment rules), and the checks on the free path.
 *
 * Fast paths: malloc of a small size pops the thread cache after one
 * compare ("allocated bytes + usable size < next event threshold"), which
 * also routes uninitialized threads and due thread events to the slow
 * path; free pushes after one rtree lookup.  Each has a single unlikely
 * exit to a noinline slow path.
 *
 * Free-path checks (cheap, from metadata read anyway):
 *   - the rtree must know the page (else: not ours);
 *   - a small pointer must be the start of a region of its slab;
 *   - a freed small region carries a mark, ptr ^ key, in its second word,
 *     cleared when the region is handed out again; a free that finds the
 *     mark is a double free, whether the region sits in a thread cache or
 *     back in its slab (the slab bitmap catches the rest at flush);
 *   - a large pointer must be its extent's start, and the extent active.
 * A failed check ends the process with one line naming the address.
 * The canary and junk options (check.h) add their checks on the slow
 * paths, which every call takes while either is on.
 */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../include/heapsight.h"
#include "arena.h"
#include "background.h"
#include "boot.h"
#include "check.h"
#include "extent/emap.h"
#include "large.h"
#include "opts.h"
#include "prof_hooks.h"
#include "sz.h"
#include "tcache.h"
#include "tsd.h"
#include "util/fmt.h"

/* ---- flags of the extended API ---- */

#define FLAG_LG_ALIGN_MASK 0x3f

typedef struct req_s {
    size_t alignment; /* 0: default (16) */
    bool zero;
    bool no_tcache;
    bool guarded; /* HS_MALLOCX_GUARDED */
    int arena;    /* -1: the thread's */
} req_t;

static inline req_t
req_from_flags(int flags)
{
    unsigned la = (unsigned)flags & FLAG_LG_ALIGN_MASK;
    return (req_t){
        .alignment = la == 0 ? 0 : (size_t)1 << la,
        .zero = (flags & HS_MALLOCX_ZERO) != 0,
        .no_tcache = (flags & HS_MALLOCX_TCACHE_NONE) != 0,
        .guarded = (flags & HS_MALLOCX_GUARDED) != 0,
        .arena = (int)((unsigned)flags >> 20) - 1,
    };
}

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

/* The usable size serving size bytes under req (0: too large). */
static inline size_t
req_usize(size_t size, req_t req)
{
    return req.alignment > QUANTUM ? sz_sa2u(size, req.alignment)
                                   : sz_s2u(size);
}

/* Whether p already has req's alignment. */
static inline bool
req_aligned(const void *p, req_t req)
{
    return req.alignment == 0 || ((uintptr_t)p & (req.alignment - 1)) == 0;
}

/* ---- allocation ---- */

static inline void *
hand_out(void *p)
{
    if (config_free_checks)
        ((uintptr_t *)p)[1] = 0;
    return p;
}

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

/* The checks on a block of size bytes asked, about to be handed out: the
 * junk of its last life, then its new junk and canary (check.h). */
static HS_COLD void
check_fill(void *p, size_t size, size_t usize, bool zero)
{
    if (check_junk_free)
        check_junk_on_reuse("malloc", p, usize,
                            emap_entry_edata(emap_lookup(p))->junk_life);
    if (check_junk_alloc && !zero)
        memset(p, CHECK_JUNK_ALLOC, size);
    if (check_canary)
        check_canary_write(p, size, usize);
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
static void *
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
 * Out of memory: the calling thread's cached blocks go back, every arena
 * purges its free pages and unmaps the address space it retains, so that
 * one retry can succeed where the address space (RLIMIT_AS) rather than
 * memory ran out.
 */
static HS_COLD void
oom_release(tsd_t *tsd)
{
    tcache_flush_all(&tsd->tcache);
    arena_release_all();
}

static HS_NOINLINE void *
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

HS_INLINE void *
alloc_fast(size_t size)
{
    tsd_t *tsd = tsd_get();
    if (likely(size <= SZ_LOOKUP_MAX)) {
        unsigned ind = sz_lookup_tab[(size + QUANTUM - 1) >> LG_QUANTUM];
        uint64_t after = tsd->allocated + sz_index2size_tab[ind];
        cache_bin_t *b = &tsd->tcache.bins[ind];
        /* One test for both "empty" and "below the low-water mark"
         * (low_water <= ncached): the slow path pops at the mark. */
        if (likely(after < tsd->next_event && b->ncached > b->low_water)) {
            unsigned n = --b->ncached;
            tsd->allocated = after;
            return hand_out(b->stack[n]);
        }
    }
    return alloc_slow(size, (req_t){.arena = -1});
}

/* ---- free ---- */

/* The misuse reports (util/fmt.h: they abort, unless abort_on_error is
 * false or an abort hook is set; then the block is left untouched). */

/* "; allocated at ..." when the profiler sampled the block starting at p
 * (its extent keeps the stack, also after the free), else "". */
static const char *
stack_note(const void *p, emap_entry_t ent, char *buf, size_t len)
{
    const alloc_prof_hooks_t *h = alloc_prof_hooks;
    buf[0] = '\0';
    if (ent == 0 || emap_entry_slab(ent) || h == NULL || h->describe == NULL)
        return buf;
    const edata_t *e = emap_entry_edata(ent);
    /* A free extent's stack is its first block's: p must be that block. */
    if (e->prof_stack == NULL ||
        (emap_entry_state(ent) != EXTENT_ACTIVE &&
         (const char *)e->addr + (e->guarded ? e->guard_off : 0) != p))
        return buf;
    buf[0] = ';';
    buf[1] = ' ';
    h->describe(e->prof_stack, buf + 2, len - 2);
    return buf;
}

#define STACK_NOTE_LEN 640

static HS_COLD void
bad_pointer(const char *fn, const void *p, emap_entry_t ent)
{
    if (ent == 0) {
        hs_misuse("%s(): invalid pointer %p (not allocated by heapsight, or "
                  "already freed)",
                  fn, p);
        return;
    }
    edata_t *e = emap_entry_edata(ent);
    if (emap_entry_slab(ent))
        hs_misuse("%s(): invalid pointer %p (inside a %zu-byte block at "
                  "offset %zu of its slab)",
                  fn, p, sz_index2size(emap_entry_szind(ent)),
                  emap_slab_offset(ent, p));
    else if (emap_entry_state(ent) != EXTENT_ACTIVE) {
        char note[STACK_NOTE_LEN];
        hs_misuse("%s(): double free of %p (block already freed)%s", fn, p,
                  stack_note(p, ent, note, sizeof note));
    } else if (emap_entry_guarded(ent)) {
        char note[STACK_NOTE_LEN];
        hs_misuse("%s(): invalid pointer %p (inside the guarded %zu-byte "
                  "block at %p)%s",
                  fn, p, e->size - PAGE - e->guard_off,
                  (void *)((char *)e->addr + e->guard_off),
                  stack_note(p, ent, note, sizeof note));
    } else {
        char note[STACK_NOTE_LEN];
        hs_misuse("%s(): invalid pointer %p (inside the %zu-byte block at "
                  "%p)%s",
                  fn, p,
                  emap_entry_szind(ent) < SZ_NBINS
                      ? sz_index2size(emap_entry_szind(ent))
                      : e->size,
                  e->addr, stack_note(p, ent, note, sizeof note));
    }
}

static HS_COLD void
double_free(const char *fn, const void *p, emap_entry_t ent)
{
    char note[STACK_NOTE_LEN];
    hs_misuse("%s(): double free of %p (%zu-byte block)%s", fn, p,
              sz_index2size(emap_entry_szind(ent)),
              stack_note(p, ent, note, sizeof note));
}

/* The size asked for block p (usize usable, entry ent) after verifying
 * its canary (check.h); a changed canary is reported for fn and gives
 * SIZE_MAX. */
static HS_COLD size_t
canary_checked(const char *fn, const void *p, emap_entry_t ent, size_t usize)
{
    size_t n, bad;
    if (likely(check_canary_intact(p, usize, &n, &bad)))
        return n;
    char note[STACK_NOTE_LEN];
    if (n == SIZE_MAX)
        hs_misuse("%s(): write past the end of the block at %p (the canary "
                  "at the end of its %zu-byte slot changed)%s",
                  fn, p, usize, stack_note(p, ent, note, sizeof note));
    else
        hs_misuse("%s(): write past the end of the %zu-byte block at %p "
                  "(byte %zu changed)%s",
                  fn, n, p, bad, stack_note(p, ent, note, sizeof note));
    return SIZE_MAX;
}

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

/* A sampled allocation: the profiler hears of the free first; its extent
 * then goes back (a promoted page may stay with the thread, see promote,
 * but never enters a thread cache). */
static void
free_sampled(void *p, size_t usize, edata_t *e)
{
    void *rec = e->prof_rec;
    e->prof_rec = NULL;
    prof_sampled_free(p, usize, rec);
    if (e->szind < SZ_NBINS && keep_promoted_page(e, p))
        return;
    large_dalloc(e);
}

static HS_NOINLINE void
free_slow(const char *fn, void *p, emap_entry_t ent, bool no_tcache)
{
    if (p == NULL)
        return;
    size_t usize = checked_usize(fn, p, ent);
    if (unlikely(usize == MISUSED_USIZE))
        return; /* reported; the block is left as it is */
    if (unlikely(check_any)) {
        if (check_canary && canary_checked(fn, p, ent, usize) == SIZE_MAX)
            return;
        if (check_junk_free)
            check_junk_on_free(p, usize, emap_entry_edata(ent)->junk_life);
    }
    tsd_t *tsd = tsd_fetch_slow();
    if (tsd != NULL)
        tsd->deallocated += usize;
    unsigned ind = emap_entry_szind(ent);
    bool slab = emap_entry_slab(ent);
    /* A manual arena's blocks never enter thread caches (its reset and
     * destroy could not reach them there).  (A slab not for the fast path
     * may also be one of the checks', check.h.) */
    if (slab && !emap_entry_cacheable_slab(ent) &&
        emap_entry_edata(ent)->manual)
        no_tcache = true;
    if (!slab) {
        edata_t *e = emap_entry_edata(ent);
        if (e->manual)
            no_tcache = true;
        if (emap_entry_guarded(ent)) {
            /* Back to its arena's guarded set, guard kept. */
            large_dalloc(e);
            return;
        }
        if (ind < SZ_NBINS || e->prof_rec != NULL) {
            free_sampled(p, usize, e);
            return;
        }
    }
    cache_bin_t *b =
        tsd == NULL || ind >= TCACHE_NBINS ? NULL : &tsd->tcache.bins[ind];
    if (no_tcache || b == NULL || b->ncached_max == 0) {
        if (slab) {
            mark_freed(p);
            arena_bin_flush(ind, &p, 1);
        } else {
            large_dalloc(emap_entry_edata(ent));
        }
        return;
    }
    mark_freed(p);
    if (b->ncached == b->ncached_max)
        tcache_flush_bin(&tsd->tcache, ind, b->ncached_max / 2);
    b->stack[b->ncached++] = p;
}

HS_INLINE void
free_fast(void *p)
{
    tsd_t *tsd = tsd_get();
    emap_entry_t ent = emap_lookup(p);
    if (likely(emap_entry_cacheable_slab(ent))) {
        unsigned ind = checked_slab_ind("free", p, ent);
        if (unlikely(ind == MISUSED_IND))
            return;
        cache_bin_t *b = &tsd->tcache.bins[ind];
        if (likely(b->ncached < b->ncached_max)) {
            mark_freed(p);
            b->stack[b->ncached++] = p;
            tsd->deallocated += sz_index2size(ind);
            return;
        }
    }
    free_slow("free", p, ent, false);
}

/* ---- helpers shared by the entry points ---- */

static void *
alloc_aligned(size_t size, size_t alignment)
{
    if (alignment <= QUANTUM)
        return alloc_fast(size);
    return alloc_slow(size, (req_t){.alignment = alignment, .arena = -1});
}

static size_t
usable_size_of(const void *p)
{
    emap_entry_t ent = emap_lookup(p);
    size_t usize;
    if (emap_entry_slab(ent))
        usize = sz_index2size(emap_entry_szind(ent));
    else if (ent == 0 || emap_entry_state(ent) != EXTENT_ACTIVE)
        return 0;
    else
        usize = large_usize(ent);
    /* With canaries, the slack past the size asked is not the caller's. */
    return unlikely(check_canary) ? check_canary_size(p, usize) : usize;
}

/*
 * Whether a large realloc may resize in place (not a promoted small one).
 * An in-place resize is accounted as a free of the old block and an
 * allocation of the new one: the resize's bytes count toward the thread's
 * sample point (its events run first), a sampled old block reports its
 * free, and the new block is sampled where it stands if a sample is due
 * (sample_in_place) — the same odds as a fresh allocation, so estimates
 * stay unbiased.
 */
static bool
realloc_in_place_ok(tsd_t *tsd, emap_entry_t ent, size_t usize)
{
    if (tsd == NULL || emap_entry_szind(ent) < SZ_NBINS ||
        emap_entry_guarded(ent))
        return false;
    if (tsd->allocated + usize >= tsd->next_event)
        te_run(tsd, usize);
    return true;
}

/* Takes a pending sample on large p, resized in place: it already has an
 * extent of its own, so only the record is needed. */
static void
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

/* A resize by moving: a new block for size under req, the first keep
 * bytes copied, p freed; NULL (p untouched) on failure. */
static void *
realloc_move(const char *fn, void *p, emap_entry_t ent, size_t size, req_t req,
             size_t keep)
{
    void *q = alloc_slow(size, req);
    if (q == NULL)
        return NULL;
    memcpy(q, p, keep);
    free_slow(fn, p, ent, false);
    return q;
}

/* realloc_impl with the canary on: p's canary verified (n bytes asked of
 * old usable), the block is rewritten in place when the new size needs
 * the same class, else moved. */
static HS_COLD void *
realloc_checked(const char *fn, void *p, emap_entry_t ent, size_t old,
                size_t size, req_t req)
{
    size_t n = canary_checked(fn, p, ent, old);
    if (n == SIZE_MAX) {
        errno = EINVAL; /* reported; p is left as it is */
        return NULL;
    }
    size_t psize = check_padded(size);
    size_t usize = req_usize(psize, req);
    if (usize == 0 || psize < size) {
        errno = ENOMEM;
        return NULL;
    }
    bool aligned = req_aligned(p, req);
    if (usize == old && aligned) {
        if (size > n)
            memset((char *)p + n, check_junk_alloc ? CHECK_JUNK_ALLOC : 0,
                   size - n);
        check_canary_write(p, size, usize);
        return p;
    }
    return realloc_move(fn, p, ent, size, req, n < size ? n : size);
}

/* Resizes p (not NULL) to size with req; NULL (p untouched) on failure. */
static void *
realloc_impl(const char *fn, void *p, size_t size, req_t req)
{
    emap_entry_t ent = emap_lookup(p);
    size_t old = checked_usize(fn, p, ent);
    if (unlikely(old == MISUSED_USIZE)) {
        errno = EINVAL; /* reported; p is left as it is */
        return NULL;
    }
    if (unlikely(check_canary))
        return realloc_checked(fn, p, ent, old, size, req);
    size_t usize = req_usize(size, req);
    if (unlikely(usize == 0)) {
        errno = ENOMEM;
        return NULL;
    }
    bool aligned = req_aligned(p, req);
    if (usize == old && aligned)
        return p;
    tsd_t *tsd = emap_entry_slab(ent) ? NULL : tsd_fetch_slow();
    if (!emap_entry_slab(ent) && usize > SZ_SMALL_MAX && aligned &&
        realloc_in_place_ok(tsd, ent, usize) &&
        large_ralloc_in_place(emap_entry_edata(ent), usize, req.zero)) {
        tsd->allocated += usize;
        tsd->deallocated += old;
        sample_in_place(tsd, p, size, old, usize);
        return p;
    }
    return realloc_move(fn, p, ent, size, req, old < usize ? old : usize);
}

/* ---- the C and POSIX entry points ---- */

HS_API void *
malloc(size_t size)
{
    return alloc_fast(size);
}

/* free(NULL) takes the slow path: NULL's page has no entry. */
HS_API void
free(void *p)
{
    free_fast(p);
}

HS_API void *
calloc(size_t n, size_t m)
{
    size_t size;
    if (unlikely(__builtin_mul_overflow(n, m, &size))) {
        errno = ENOMEM;
        return NULL;
    }
    if (size <= SZ_LOOKUP_MAX && likely(!check_any)) {
        void *p = alloc_fast(size);
        if (p != NULL)
            memset(p, 0, sz_s2u(size));
        return p;
    }
    return alloc_slow(size, (req_t){.zero = true, .arena = -1});
}

HS_API void *
realloc(void *p, size_t size)
{
    if (p == NULL)
        return alloc_fast(size);
    if (size == 0) {
        free_fast(p);
        return NULL;
    }
    return realloc_impl("realloc", p, size, (req_t){.arena = -1});
}

HS_API void *
reallocarray(void *p, size_t n, size_t m)
{
    size_t size;
    if (unlikely(__builtin_mul_overflow(n, m, &size))) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, size);
}

HS_API int
posix_memalign(void **r, size_t alignment, size_t size)
{
    if (!is_pow2(alignment) || alignment < sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *p = alloc_aligned(size, alignment);
    errno = saved;
    if (p == NULL)
        return ENOMEM;
    *r = p;
    return 0;
}

HS_API void *
aligned_alloc(size_t alignment, size_t size)
{
    if (!is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned(size, alignment);
}

HS_API void *
memalign(size_t alignment, size_t size)
{
    /* glibc semantics: a non-power-of-two alignment rounds up. */
    if (alignment > ((size_t)1 << 62)) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(alignment))
        alignment = alignment <= 1 ? 1 : (size_t)1 << lg_ceil(alignment);
    return alloc_aligned(size, alignment);
}

HS_API void *
valloc(size_t size)
{
    return alloc_aligned(size, PAGE);
}

HS_API void *
pvalloc(size_t size)
{
    size_t rounded = align_up(size, PAGE);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc_aligned(rounded == 0 ? PAGE : rounded, PAGE);
}

HS_API size_t
malloc_usable_size(void *p)
{
    return p == NULL ? 0 : usable_size_of(p);
}

/* C23 sized free: size must be the size asked for (any size of the block's
 * class is accepted, as the class is all the allocator knows). */
HS_API void
free_sized(void *p, size_t size)
{
    if (p != NULL)
        hs_sdallocx(p, size, 0);
}

HS_API void
free_aligned_sized(void *p, size_t alignment, size_t size)
{
    if (p != NULL)
        hs_sdallocx(p, size, HS_MALLOCX_ALIGN(alignment));
}

/* ---- the extended API ---- */

HS_API void *
hs_mallocx(size_t size, int flags)
{
    if (likely(flags == 0))
        return alloc_fast(size);
    return alloc_slow(size, req_from_flags(flags));
}

HS_API void *
hs_rallocx(void *p, size_t size, int flags)
{
    req_t req = req_from_flags(flags);
    if (!req.zero)
        return realloc_impl("hs_rallocx", p, size, req);
    size_t old = usable_size_of(p);
    void *q = realloc_impl("hs_rallocx", p, size, req);
    size_t now = q == NULL ? 0 : usable_size_of(q);
    if (q != NULL && now > old)
        memset((char *)q + old, 0, now - old);
    return q;
}

HS_API void
hs_dallocx(void *p, int flags)
{
    if ((flags & HS_MALLOCX_TCACHE_NONE) == 0) {
        free_fast(p);
        return;
    }
    free_slow("hs_dallocx", p, emap_lookup(p), true);
}

HS_API void
hs_sdallocx(void *p, size_t size, int flags)
{
    req_t req = req_from_flags(flags);
    size_t expect = req_usize(size, req);
    emap_entry_t ent = emap_lookup(p);
    size_t usize = checked_usize("free_sized", p, ent);
    if (unlikely(usize == MISUSED_USIZE))
        return;
    if (unlikely(check_canary)) {
        /* The size asked is known exactly: it must be the one given. */
        size_t n = canary_checked("free_sized", p, ent, usize);
        if (n == SIZE_MAX)
            return;
        usize = n;
        expect = size;
    }
    if (unlikely(expect != usize)) {
        char note[STACK_NOTE_LEN];
        hs_misuse("free_sized(): size %zu does not match the %zu-byte block "
                  "at %p%s",
                  size, usize, p, stack_note(p, ent, note, sizeof note));
        return;
    }
    hs_dallocx(p, flags);
}

HS_API size_t
hs_nallocx(size_t size, int flags)
{
    req_t req = req_from_flags(flags);
    if (!hs_boot())
        return 0;
    return req_usize(size, req);
}

HS_API size_t
hs_sallocx(const void *p, int flags)
{
    (void)flags;
    return usable_size_of(p);
}

/* The background_thread option: the thread is started once the C library
 * is up (this constructor runs after libc's), never from inside a malloc
 * that may run while the dynamic loader is still initializing it.  Part
 * of the shared library only: unit tests boot with their own options. */
__attribute__((constructor)) static void
start_background_thread(void)
{
    if (hs_boot() && opt_background_thread)
        background_set(true);
}

HS_API hs_abort_hook_t *
hs_set_abort_hook(hs_abort_hook_t *hook)
{
    return atomic_exchange(&hs_misuse_hook, hook);
}
