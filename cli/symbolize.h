/*
 * symbolize.h — adding functions, files, lines and inlined frames to a
 * profile's native locations (the engine behind `heapsight symbolize`,
 * also run by `heapsight run` on the dumps it collects).
 *
 * Answers found before come from the on-disk cache of symcache.h; new
 * ones are added to it after each profile.
 *
 * Owns: the files a call opens, which it closes before returning, unless
 * the call runs in a session (symbolize_session_new): then the session
 * keeps them open for the next profile (heapsight run symbolizes every
 * dump of a run in one session, so each file's DWARF is read once).
 *
 * What changes in the profile: each Location with a mapping and no Line
 * gets its Lines (innermost first; several when functions were inlined
 * at the address); Functions are added (or reused when equal: same name,
 * system_name, filename and start_line) with name = the demangled name,
 * system_name = the symbol as linked (mangled for C++), filename = the
 * source file of the line; each Mapping with resolved locations gets
 * has_functions, and, when the module has DWARF, has_filenames,
 * has_line_numbers and has_inline_frames.  Addresses, mappings and
 * samples stay as they were, so symbolizing twice changes nothing.
 *
 * Threading: none.
 */
#ifndef HS_CLI_SYMBOLIZE_H
#define HS_CLI_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "profile_io.h"

typedef struct symbolize_session_s symbolize_session_t;

typedef struct symbolize_opts_s {
    const char *const *debug_dirs; /* --debug-dir, in search order */
    size_t ndebug_dirs;
    bool verbose;                 /* one line of counts and speed on stderr */
    symbolize_session_t *session; /* NULL: a session of one call */
} symbolize_opts_t;

/* A session for the debug directories of o (its session field is not
 * read); NULL when out of memory.  Files stay open until it is freed. */
symbolize_session_t *symbolize_session_new(const symbolize_opts_t *o);
void symbolize_session_free(symbolize_session_t *s);

typedef struct symbolize_stats_s {
    size_t locations; /* locations that wanted symbols */
    size_t resolved;  /* ... and got at least one line */
    size_t addresses; /* distinct (file, address) pairs looked up */
    size_t mappings;  /* mappings with locations that wanted symbols */
    size_t missing;   /* ... whose file was not found */
    size_t files;     /* ELF files opened */
    size_t cached;    /* addresses answered by the symbol cache ... */
    size_t looked_up; /* ... and by the files (symcache.h) */
    double seconds;   /* wall time of symbolize_profile */
} symbolize_stats_t;

/*
 * Symbolizes p in place.  Mappings whose file cannot be found are reported
 * on stderr (one line each) and left alone; so are, silently, the kernel's
 * pseudo-files ("[vdso]") when no file with their build ID is found.
 * Returns 0, or ENOMEM.
 */
int symbolize_profile(profile_t *p, const symbolize_opts_t *o,
                      symbolize_stats_t *r_stats);

/*
 * Reads in, symbolizes it and writes it gzipped to out (which may be in).
 * Errors are printed.  Returns an exit status (cmd.h): 0, 1 when out
 * cannot be written, 2 when in cannot be read.
 */
int symbolize_file(const char *in, const char *out, const symbolize_opts_t *o);

#endif /* HS_CLI_SYMBOLIZE_H */
