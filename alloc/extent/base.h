/*
 * base.h — metadata memory.
 *
 * Owns: every byte of allocator metadata (arenas, edata, thread caches,
 * rtree leaves).  Memory is bump-allocated from blocks and is never
 * returned one allocation at a time; modules that free metadata keep their
 * own free lists over it (edata cache, thread-cache pool).
 *
 * A base_t is one such source.  The default base (base_alloc) maps its
 * blocks from the OS and lives for the process.  An arena created with
 * metadata_use_hooks has a base of its own whose blocks come from its
 * extent hooks; base_release gives all of them back (arena destroy).
 *
 * Locking: one mutex per base (rank HS_RANK_BASE, the highest: base_alloc
 * is called with any other allocator lock held).
 * Invariant: allocated <= mapped; both only grow until base_release.
 */
#ifndef HS_BASE_H
#define HS_BASE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/mutex.h"
#include "ehooks.h"

typedef struct base_block_s base_block_t;

typedef struct base_s {
    hs_mutex_t mtx;
    ehooks_t *eh;         /* NULL: the OS (pages.h) */
    base_block_t *blocks; /* guarded by mtx: every block, newest first */
    uintptr_t cur, end;   /* guarded by mtx: the current block's free part */
    size_t next_block;    /* guarded by mtx */
    size_t allocated;     /* guarded by mtx */
    size_t mapped;        /* guarded by mtx */
} base_t;

/* A base over eh (NULL: the OS).  Maps nothing yet. */
void base_init(base_t *b, ehooks_t *eh);
/* Zero-filled, aligned to align (a power of two <= PAGE); NULL on OOM
 * (or when the hooks fail: nothing is kept then). */
void *base_alloc_from(base_t *b, size_t size, size_t align);
/* Gives every block back (through its hooks) and empties b. */
void base_release(base_t *b);
size_t base_allocated_of(base_t *b);
size_t base_mapped_of(base_t *b);

/* The default base. */
void base_boot(void);
base_t *base_get_default(void);
void *base_alloc(size_t size, size_t align);
size_t base_allocated(void);
size_t base_mapped(void);

#endif /* HS_BASE_H */
