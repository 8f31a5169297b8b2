/*
 * maps.h — the process's executable mappings, for the profile's Mapping
 * table: address range, file offset, file name and GNU build ID.
 *
 * Owns: one snapshot of /proc/self/maps, filtered to what a profile needs
 * (file-backed executable mappings, and [vdso]); the build IDs of the
 * loaded ELF objects, read from their PT_NOTE segments in memory through
 * dl_iterate_phdr and matched to mappings by address.  Does not own
 * symbolization (the CLI's job) nor mappings that are not executable.
 *
 * Invariants of a snapshot: entries are sorted by start and disjoint
 * (entries[i].limit <= entries[i+1].start); start < limit; path and
 * build_id are NUL-terminated, build_id is lowercase hex of the note's
 * descriptor, or "" when the object has none (or it is not loaded by the
 * dynamic linker).
 *
 * Threading: a snapshot belongs to one thread.  maps_read() allocates
 * with malloc (heapsight itself, under the profiler's guard) but never
 * inside the dl_iterate_phdr callback, which runs under the dynamic
 * linker's lock; it reads /proc with open/read, not stdio.  It calls
 * dl_iterate_phdr, so it must not run in a fork child while the parent may
 * have been inside dlopen: after maps_forbid_loader() (called in fork
 * children) it labels mappings from the build IDs of the last pass made
 * before the fork instead (objects loaded since have none).
 */
#ifndef HS_MAPS_H
#define HS_MAPS_H

#include <stddef.h>
#include <stdint.h>

/* Longest build ID kept, in bytes (SHA-1 takes 20; longer are dropped). */
enum { MAPS_BUILD_ID_MAX = 64 };

typedef struct maps_entry_s {
    uintptr_t start, limit; /* [start, limit) */
    uint64_t offset;        /* file offset of start */
    const char *path;       /* e.g. "/usr/lib/x86_64-linux-gnu/libc.so.6" */
    char build_id[2 * MAPS_BUILD_ID_MAX + 1];
} maps_entry_t;

typedef struct maps_s {
    maps_entry_t *entries;
    size_t n;
    char *text; /* the file's text; the paths point into it */
} maps_t;

/*
 * Takes a snapshot of the process's executable mappings with build IDs.
 * Returns 0 or an errno value (that of open/read, or ENOMEM); on failure
 * m is left empty (and safe to pass to maps_fini).
 */
int maps_read(maps_t *m);

/*
 * Parses the text of a maps file (NUL-terminated, modified in place; m
 * takes ownership of it, which must come from malloc).  No build IDs.
 * Returns 0 or ENOMEM.  maps_read() = read the file + this + build IDs.
 */
int maps_parse(maps_t *m, char *text);

/* Fills the build IDs of m's entries from the loaded ELF objects. */
void maps_build_ids(maps_t *m);
/* Fills the build-ID table without a snapshot (at start-up). */
void maps_prime(void);
/* The main program's build ID as hex, "" if it has none or before the
 * first pass (maps_prime). */
const char *maps_exe_build_id(void);
/* From now on (in a fork child), never call into the dynamic linker. */
void maps_forbid_loader(void);

/* The entry that contains addr, or NULL. */
const maps_entry_t *maps_find(const maps_t *m, uintptr_t addr);

/* Frees a snapshot; m is left empty. */
void maps_fini(maps_t *m);

#endif /* HS_MAPS_H */
