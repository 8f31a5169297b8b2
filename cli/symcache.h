/*
 * symcache.h — symbolization results kept on disk between runs, one file
 * per module version, so that a profile whose addresses were resolved
 * before needs no DWARF at all.
 *
 * Why: opening a module's DWARF is the fixed cost of symbolizing.  For
 * Debian's python3 and libc (compressed separate debug files) it is
 * ~0.3 s, paid by every `heapsight run` whose process touched them, while
 * the handful of addresses a short process leaves resolve in microseconds
 * once the DWARF is open.  A short process run again (a test suite, a
 * script in a loop) leaves mostly the same module addresses; answering
 * them from this cache takes the DWARF read out of the run.
 *
 * Owns: per module version, the results read from its cache file and
 * those added since (the file is only ever appended to), and the
 * module's "has DWARF" flag.  Does not own the frame strings it is given:
 * those of added results must outlive the cache (the resolver's do, for a
 * session); those read from the file live in the cache's own buffer.
 *
 * What a "module version" is: the build ID, the path, size and mtime of
 * the file that gives the code and of the file that gives the DWARF
 * (none, when no DWARF is found), and SYMCACHE_RESULTS (bumped whenever
 * the resolver's answers change).  The file name is
 *     DIR/<build id>-<16 hex digits: hash of the rest>.sym
 * so a debug package installed or removed, or --debug-dir pointing
 * elsewhere, selects another file rather than stale answers.  Modules
 * without a build ID are not cached.
 *
 * DIR: $HEAPSIGHT_SYMBOL_CACHE when set ("off" or "" turns the cache
 * off), else $XDG_CACHE_HOME/heapsight/symbols, else
 * $HOME/.cache/heapsight/symbols.  Created on first use (mode 0700).
 *
 * File format (text; fields separated by tabs, an empty field is NULL):
 *     heapsight-symbols 1 <key>             header (repeated: harmless)
 *     D <0|1>                               the module has DWARF
 *     A <vaddr hex> <n>                     a result of n frames, then
 *     F <name> <linkage> <file> <line> <decl line>        n times
 * Records are appended with one write(2) each batch (O_APPEND), so runs
 * that share the directory interleave whole batches.  A reader stops at
 * the first malformed record and keeps what came before; a file past
 * SYMCACHE_MAX_BYTES is started afresh.
 *
 * Threading: none; one owner thread.  Processes: any number may share
 * DIR (see above).
 */
#ifndef HS_CLI_SYMCACHE_H
#define HS_CLI_SYMCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver.h"

/* Bump when resolver.c or symbolize.c would answer an address otherwise. */
#define SYMCACHE_RESULTS 1
/* A cache file larger than this is removed and started again. */
#define SYMCACHE_MAX_BYTES (16u << 20)

typedef struct symcache_s symcache_t;

/*
 * The cache directory chosen by the environment (see above), malloc'd, or
 * NULL when the cache is off.
 */
char *symcache_dir(void);

/*
 * The cache of one module version: build_id (lowercase hex, non-empty),
 * code_path (the file symbols are read from) and dwarf_path (the file
 * DWARF is read from; NULL for none).  Reads the existing file if any.
 * Returns NULL when the module cannot be cached (no build ID, a file that
 * cannot be stat'ed, out of memory); the caller then goes without.
 */
symcache_t *symcache_open(const char *dir, const char *build_id,
                          const char *code_path, const char *dwarf_path);

/* Writes what was added (symcache_flush) and frees the cache. */
void symcache_close(symcache_t *c);

/*
 * The frames of vaddr, into frames[0..max): true with *r_n set when the
 * cache has an answer (*r_n may be 0: nothing is known at vaddr).
 */
bool symcache_get(const symcache_t *c, uint64_t vaddr, resolver_frame_t *frames,
                  size_t max, size_t *r_n);

/* Records frames[0..n) as the answer for vaddr.  Returns 0 or ENOMEM. */
int symcache_put(symcache_t *c, uint64_t vaddr, const resolver_frame_t *frames,
                 size_t n);

/* The module's "has DWARF" flag: true with *r_dwarf set when known. */
bool symcache_get_dwarf(const symcache_t *c, bool *r_dwarf);
void symcache_set_dwarf(symcache_t *c, bool dwarf);

/*
 * Appends the results added since the last flush to the file.  Returns 0
 * or an errno value (the additions are then dropped; nothing is lost but
 * the time a later run will spend resolving them again).
 */
int symcache_flush(symcache_t *c);

#endif /* HS_CLI_SYMCACHE_H */
