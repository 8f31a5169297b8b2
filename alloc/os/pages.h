/*
 * pages.h — the operating system's memory: mapping, unmapping and purging.
 *
 * Owns: every mmap, munmap and madvise the allocator makes, and the
 * registry of what it has mapped (the address ranges pages_map returned,
 * less what pages_unmap gave back), which the reachability scan at exit
 * (prof/reach.h) reads to tell the allocator's memory from the
 * program's.  All functions are safe without locks (the registry takes a
 * leaf spin lock of its own).  Failures return NULL / false and
 * leave errno as the kernel set it.
 */
#ifndef HS_PAGES_H
#define HS_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Copies the registry's ranges ({start, end}, sorted, disjoint) into
 * out[0..max); returns how many.  *r_complete is false when some were
 * not recorded (the registry could not grow) or max was too small.
 */
size_t pages_ranges(uintptr_t (*out)[2], size_t max, bool *r_complete);
/* Held across fork (the registry's lock, taken last, a leaf). */
void pages_prefork(void);
void pages_postfork(void); /* parent and child */

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

/* Asks the kernel to back [addr, addr + size) with transparent huge pages
 * (MADV_HUGEPAGE), and to collapse them now when collapse is set and the
 * kernel can (MADV_COLLAPSE, Linux 6.1).  True when the advice was taken. */
bool pages_hugify(void *addr, size_t size, bool collapse);
/* Undoes pages_hugify (MADV_NOHUGEPAGE): before purging part of it. */
bool pages_dehugify(void *addr, size_t size);
/* Makes the pages inaccessible (PROT_NONE): any access faults.  Each
 * guard splits a mapping, so it costs the process a kernel mapping (see
 * pages_max_map_count).  False on failure (ENOMEM at the map limit). */
bool pages_guard(void *addr, size_t size);
/* The kernel's limit on a process's mappings (vm.max_map_count), read
 * once per call from /proc; 65530 (the kernel's default) when unreadable. */
size_t pages_max_map_count(void);

#endif /* HS_PAGES_H */
