/*
 * debuginfo.h — finding the ELF file behind a profile's mapping, and its
 * separate debug file, by path and GNU build ID, on this machine or from
 * directories copied off another one.
 *
 * Owns: the list of directories searched and, per directory, a lazily
 * built index of the ELF files lying flat in it (their build IDs and what
 * they hold).  Does not open DWARF: resolver.c does, with the paths found
 * here.
 *
 * Where a build ID B = "aabbcc..." is looked for, in order, in each
 * directory D given with --debug-dir and then in /usr/lib/debug:
 *   D/.build-id/aa/bbcc...debug, D/.build-id/aa/bbcc...,
 *   D/aa/bbcc...debug, D/aa/bbcc...       (the build-id tree layout),
 *   any regular file directly in D whose build ID is B  (a flat directory;
 *   not for /usr/lib/debug itself).
 * Every candidate's own build ID is read and must equal B.
 *
 * What a file holds: "code" means its executable PT_LOAD segment has file
 * contents (a real binary, stripped or not, whose program headers give
 * true file offsets); "dwarf" means a .debug_info section with contents.
 * A debug file made by objcopy --only-keep-debug or eu-strip -f has dwarf
 * but no code.
 *
 * Threading: none; one owner thread.
 */
#ifndef HS_CLI_DEBUGINFO_H
#define HS_CLI_DEBUGINFO_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a build ID as lowercase hex (IDs are 20 bytes; allow 64). */
#define DEBUGINFO_ID_HEX_MAX 129

typedef struct debuginfo_elf_s {
    bool is_elf;
    bool has_code;  /* executable segment with file contents */
    bool has_dwarf; /* .debug_info with contents */
    char build_id[DEBUGINFO_ID_HEX_MAX]; /* "" when it has none */
} debuginfo_elf_t;

typedef struct debuginfo_s debuginfo_t;

/*
 * A search context over dirs[0..n) (searched in that order) and then
 * /usr/lib/debug.  The strings are copied.  NULL if out of memory.
 */
debuginfo_t *debuginfo_new(const char *const *dirs, size_t n);

void debuginfo_free(debuginfo_t *d);

/* Reads what path holds; false if it cannot be opened or is not ELF. */
bool debuginfo_probe(const char *path, debuginfo_elf_t *r_info);

/*
 * The file to read a mapping's code layout and symbols from: path itself
 * when it is ELF and its build ID matches build_id (or build_id is ""),
 * else a file with that build ID found in the directories — one with code
 * preferred, a debug-only file accepted (then *r_debug_only is true).
 * Returns a malloc'd path, or NULL (with *r_mismatch true when path exists
 * but has another build ID).
 */
char *debuginfo_find_main(debuginfo_t *d, const char *path,
                          const char *build_id, bool *r_debug_only,
                          bool *r_mismatch);

/*
 * A file with DWARF for build_id (a separate debug file or an unstripped
 * copy), or NULL.  Returns a malloc'd path.
 */
char *debuginfo_find_dwarf(debuginfo_t *d, const char *build_id);

/* Writes len bytes of a build ID as lowercase hex into out. */
void debuginfo_hex(const unsigned char *id, size_t len,
                   char out[DEBUGINFO_ID_HEX_MAX]);

#endif /* HS_CLI_DEBUGINFO_H */
