/*
 * ehooks.h — an arena's source of pages: heapsight's own (pages.h) or the
 * extent hooks its creator gave (hs_extent_hooks_t, heapsight.h).
 *
 * Owns: the translation between the hooks' jemalloc conventions (true =
 * refused) and heapsight's (true = done), and what a NULL entry means.
 * Stateless beyond the table pointer; thread-safe as the hooks are.
 */
#ifndef HS_EHOOKS_H
#define HS_EHOOKS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../include/heapsight.h"

typedef struct ehooks_s {
    hs_extent_hooks_t *hooks; /* NULL: heapsight's own pages */
    unsigned arena_ind;
    /* The split hook refused once: from then on extents are asked of the
     * hooks at the size needed and reused only whole (sticky: a hook that
     * refuses some splits would otherwise strand every chunk it is given
     * in the retained set). */
    _Atomic(bool) split_refused;
} ehooks_t;

static inline bool
ehooks_are_default(const ehooks_t *h)
{
    return h->hooks == NULL;
}

/* size bytes aligned to alignment, committed; *r_zeroed says whether they
 * read as zero.  NULL on failure (nothing kept). */
void *ehooks_alloc(ehooks_t *h, size_t size, size_t alignment, bool *r_zeroed);
/* Gives [addr, addr + size) back to where it came from, for good: dalloc,
 * then destroy if dalloc keeps it; the default unmaps. */
void ehooks_release(ehooks_t *h, void *addr, size_t size);
/* Gives [addr, addr + size) back unconditionally (arena destroy): the
 * destroy hook (dalloc when there is none); the default unmaps. */
void ehooks_destroy(ehooks_t *h, void *addr, size_t size);
/* Purges [addr, addr + size): true when done. */
bool ehooks_purge_lazy(ehooks_t *h, void *addr, size_t size);
bool ehooks_purge_forced(ehooks_t *h, void *addr, size_t size);
/* Whether the hooks can purge at all (lazily, forcibly). */
bool ehooks_can_purge_lazy(const ehooks_t *h);
bool ehooks_can_purge_forced(const ehooks_t *h);
/* Whether extents may be split at all: heapsight's own pages, or a split
 * hook that never refused.  When not, every extent comes from the hooks
 * at the size and alignment needed, and a free one serves only a request
 * of its exact size (ecache_alloc, pac_grow). */
bool ehooks_can_split(const ehooks_t *h);
/* Whether [addr, addr + size) may be split at size_a (true: yes); a
 * refusal makes ehooks_can_split false for good. */
bool ehooks_split(ehooks_t *h, void *addr, size_t size, size_t size_a);
/* Whether [a, a + size_a) and [b, b + size_b) may become one (true: yes). */
bool ehooks_merge(ehooks_t *h, void *a, size_t size_a, void *b, size_t size_b);

#endif /* HS_EHOOKS_H */
