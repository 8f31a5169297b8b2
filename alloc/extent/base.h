/*
 * base.h — metadata memory.
 *
 * Owns: every byte of allocator metadata (arenas, edata, thread caches,
 * rtree leaves).  Memory is bump-allocated from blocks mapped straight from
 * the OS and is never returned; modules that free metadata keep their own
 * free lists over it (edata cache, thread-cache pool).
 *
 * Locking: one mutex (rank HS_RANK_BASE, the highest: base_alloc is called
 * with any other allocator lock held).
 * Invariant: allocated <= mapped; both only grow.
 */
#ifndef HS_BASE_H
#define HS_BASE_H

#include <stddef.h>

void base_boot(void);
/* Zero-filled, aligned to align (a power of two <= PAGE); NULL on OOM. */
void *base_alloc(size_t size, size_t align);
/* Bytes handed out and bytes mapped for metadata. */
size_t base_allocated(void);
size_t base_mapped(void);

#endif /* HS_BASE_H */
