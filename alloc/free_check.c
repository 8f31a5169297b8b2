/*
 * free_check.c — the checks on the free path, the misuse reports, and
 * free_slow: every free the fast path of export.c does not finish.
 *
 * Owns: what a free, realloc or sized free of a bad pointer reports (one
 * line naming the address, with the stack the profiler kept for a
 * sampled block), the canary's check, and the free of everything that is
 * not a cacheable slab region: guarded, large and sampled blocks, a
 * manual arena's, a full thread cache's overflow.  The inline parts of
 * the checks, shared with the fast path, are in front.h
 * (checked_slab_ind, checked_usize).
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
 *
 * The misuse reports (util/fmt.h) abort, unless abort_on_error is false
 * or an abort hook is set; then the block is left untouched.
 *
 * Locking: none of its own; called with no allocator lock held.
 */
#include <stdint.h>

#include "arena.h"
#include "check.h"
#include "extent/emap.h"
#include "front.h"
#include "large.h"
#include "prof_hooks.h"
#include "sz.h"
#include "tcache.h"
#include "tsd.h"
#include "util/fmt.h"

/* "; allocated at ..." when the profiler sampled the block starting at p
 * (its extent keeps the stack, also after the free), else "". */
const char *
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

HS_COLD void
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

HS_COLD void
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
HS_COLD size_t
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

void
large_free(void *p, size_t usize, edata_t *e)
{
    if (check_junk_free && !e->manual) {
        mark_freed(p); /* a second free of it is a double free */
        check_quarantine(p, usize, e);
        return;
    }
    large_dalloc(e);
}

HS_NOINLINE void
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
            large_free(p, usize, emap_entry_edata(ent));
        }
        return;
    }
    mark_freed(p);
    if (b->ncached == b->ncached_max)
        tcache_make_room(&tsd->tcache, ind);
    b->stack[b->ncached++] = p;
}
