/*
 * realloc.c — realloc and the extended API's resize, and the usable size
 * of a block.
 *
 * Owns: a resize's choice between keeping the block (same class and
 * alignment), resizing a large block in place (large.h) and moving it
 * (allocate, copy, free through the slow paths), with the canary's check
 * and rewrite when it is on; and the usable size malloc_usable_size and
 * hs_sallocx report.  An in-place resize counts as a free of the old
 * block and an allocation of the new one (see realloc_in_place_ok).
 *
 * Invariant: a failed resize returns NULL and leaves the block as it was.
 *
 * Locking: none of its own; called with no allocator lock held.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "extent/emap.h"
#include "front.h"
#include "large.h"
#include "sz.h"
#include "thread_event.h"
#include "tsd.h"

/* Whether p already has req's alignment. */
static inline bool
req_aligned(const void *p, req_t req)
{
    return req.alignment == 0 || ((uintptr_t)p & (req.alignment - 1)) == 0;
}

size_t
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
 * (sample_in_place, sampled.c) — the same odds as a fresh allocation, so
 * estimates stay unbiased.
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
void *
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
