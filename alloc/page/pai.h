/*
 * pai.h — the page allocator interface: the contract every page allocator
 * (PAC today; the hugepage-aware HPA later) implements, and through which
 * pa.c dispatches.
 *
 * Contract, for an implementation impl:
 *   alloc(impl, size, alignment, zero)
 *       returns an active extent of exactly size bytes (a multiple of PAGE)
 *       at an address aligned to alignment (a power of two >= PAGE), its
 *       boundary pages recorded in the emap with szind none and slab false;
 *       zero-filled if zero.  NULL with nothing changed on failure.
 *   expand(impl, e, new_size, zero)
 *       grows active e in place to new_size; the new bytes are zero if
 *       zero.  False with e unchanged when the pages after e are not free.
 *   shrink(impl, e, new_size)
 *       gives back e's pages past new_size.  False with e unchanged on OOM.
 *   dalloc(impl, e)
 *       takes back active e (boundary recorded, interior not).
 *   time_until_deferred_work(impl, now_ns)
 *       nanoseconds until a batch of deferred work (purging) is due, 0 if
 *       it is due now, UINT64_MAX when nothing is pending; an
 *       implementation that defers new work earlier than it said tells the
 *       background thread (pac_set_deferred_cb).
 * Every operation is thread-safe; none may be called with a lock of rank
 * HS_RANK_GROW or higher held.
 */
#ifndef HS_PAI_H
#define HS_PAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../extent/edata.h"

typedef struct pai_ops_s {
    edata_t *(*alloc)(void *impl, size_t size, size_t alignment, bool zero);
    bool (*expand)(void *impl, edata_t *e, size_t new_size, bool zero);
    bool (*shrink)(void *impl, edata_t *e, size_t new_size);
    void (*dalloc)(void *impl, edata_t *e);
    uint64_t (*time_until_deferred_work)(void *impl, uint64_t now_ns);
} pai_ops_t;

typedef struct pai_s {
    const pai_ops_t *ops;
    void *impl;
} pai_t;

#endif /* HS_PAI_H */
