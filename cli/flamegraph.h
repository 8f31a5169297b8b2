/*
 * flamegraph.h — `heapsight flamegraph`: a profile (and optionally a base
 * profile) rendered as a flame graph into an .svg or .html file; also
 * called by `heapsight run --flamegraph F` on the final dump.
 *
 * Owns: reading the profiles into models (model.h), the tree the
 * renderer draws (viz/flamegraph.h) built from their samples, and writing
 * the result atomically (a temporary file in the output's folder renamed
 * over it, so a reader never sees half a graph).  The format comes from
 * the output's extension: .svg, or .html/.htm (any case).
 *
 * Threading: none.
 */
#ifndef HS_CLI_FLAMEGRAPH_H
#define HS_CLI_FLAMEGRAPH_H

#include <stdbool.h>

typedef struct flamegraph_opts_s {
    const char *base;         /* BASE profile: a differential graph */
    const char *sample_index; /* a sample type by name or index; NULL:
                                 the profile's default, as pprof */
    const char *focus;        /* keep samples with a matching frame */
    const char *ignore;       /* drop samples with a matching frame */
    const char *title;        /* NULL: from the file names */
    bool lines;               /* frames differ by line too */
    bool no_interpreter;      /* hide CPython's frames (model.h) */
} flamegraph_opts_t;

/* Whether out names a format flamegraph_file can write (.svg, .html). */
bool flamegraph_format_ok(const char *out);

/*
 * Renders profile into out (o may be NULL: defaults).  Errors are printed,
 * one line each.  Returns an exit status (cmd.h): 0, 1 when out cannot be
 * written, 2 for bad options, an unknown format or an unreadable profile.
 */
int flamegraph_file(const char *profile, const char *out,
                    const flamegraph_opts_t *o);

#endif /* HS_CLI_FLAMEGRAPH_H */
