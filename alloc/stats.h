/*
 * stats.h — allocator statistics: the snapshot behind stats.* and the
 * reports (stats_print at exit, malloc_stats, malloc_info, mallinfo).
 *
 * Owns: the global snapshot, refreshed on "epoch" writes (mutex
 * HS_RANK_CTL, taken before any arena lock), and the report formats.
 * Invariants of a snapshot: allocated <= active <= resident <= mapped;
 * mapped + retained == bytes reserved from the OS for extents + metadata.
 */
#ifndef HS_STATS_H
#define HS_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct stats_snapshot_s {
    size_t allocated; /* bytes in blocks the program holds */
    size_t active;    /* bytes of pages in active extents */
    size_t metadata;  /* bytes of metadata */
    size_t resident;  /* bytes of pages possibly resident */
    size_t mapped;    /* bytes mapped and not purged (excludes retained) */
    size_t retained;  /* bytes of address space kept, purged */
    size_t dirty;     /* bytes of free pages not yet purged */
    size_t muzzy;     /* bytes of free pages purged lazily */
    uint64_t nlarge_malloc, nlarge_dalloc, npurges, nmadvise;
} stats_snapshot_t;

void stats_boot(void);
/* Recomputes the snapshot and copies it out (either may be NULL). */
void stats_refresh(stats_snapshot_t *r_snap);
/* The last snapshot. */
void stats_last(stats_snapshot_t *r_snap);
/* Writes the human-readable report to fd. */
void stats_print(int fd);

#endif /* HS_STATS_H */
