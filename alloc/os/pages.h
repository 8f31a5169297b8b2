/*
 * pages.h — the operating system's memory: mapping, unmapping and purging.
 *
 * Owns: every mmap, munmap and madvise the allocator makes.  Stateless.
 * All functions are safe without locks.  Failures return NULL / false and
 * leave errno as the kernel set it.
 */
#ifndef HS_PAGES_H
#define HS_PAGES_H

#include <stdbool.h>
#include <stddef.h>

/* Maps size bytes (a multiple of PAGE) aligned to alignment (a power of two
 * >= PAGE), read-write, zero-filled.  NULL on failure. */
void *pages_map(size_t size, size_t alignment);
void pages_unmap(void *addr, size_t size);
/* Returns the pages to the OS; they read as zero afterwards (Linux
 * MADV_DONTNEED on private anonymous memory).  True when purged. */
bool pages_purge_forced(void *addr, size_t size);

/* Lets the OS take the pages when it needs memory (MADV_FREE); until then
 * they keep their contents, and afterwards read as zero.  False when the
 * kernel cannot (then purge forcibly). */
bool pages_purge_lazy(void *addr, size_t size);

#endif /* HS_PAGES_H */
