/*
 * pprof.h — writing a heap profile as pprof's profile.proto, gzipped.
 *
 * Owns: the profile.proto encoding (a small streaming encoder: no message
 * trees), gzip framing through zlib, and the process's mappings with their
 * GNU build IDs.  Does not own what the numbers are: the caller passes the
 * finished estimates in a prof_profile_t.
 *
 * Layout of the written profile:
 *   sample_type: alloc_objects/count, alloc_space/bytes,
 *                inuse_objects/count, inuse_space/bytes (in that order);
 *   period_type space/bytes, period = the mean sample interval;
 *   default_sample_type inuse_space; time_nanos, duration_nanos; comments;
 *   one Sample per prof_sample_rec_t, values in the order above, labels
 *   "bytes" (numeric, unit "bytes"), "thread" and "allocator" (strings,
 *   omitted when NULL);
 *   native frames: one Location per distinct address, with address =
 *   return address - 1 (inside the call instruction) and the Mapping that
 *   contains it (from /proc/self/maps: start, limit, file offset, file
 *   name, build ID as lowercase hex); no functions (symbolization is the
 *   CLI's job);
 *   symbolic frames: one Location without mapping per distinct frame, with
 *   one Line {Function, line}; Function name and filename set, system_name
 *   left empty (pprof's demangler mangles names like "<module>").
 *
 * Threading: called by one thread at a time per profile; takes no
 * allocator lock.  It allocates through malloc (which, under the caller's
 * reentrancy guard, is heapsight itself, unsampled).
 */
#ifndef HS_PPROF_H
#define HS_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "../include/heapsight_hook.h"

typedef struct prof_sample_rec_s {
    const hs_frame_t *frames; /* innermost first */
    unsigned nframes;
    int64_t alloc_objects, alloc_space; /* estimates since start/reset */
    int64_t inuse_objects, inuse_space; /* estimates live at the dump */
    int64_t bytes;                      /* the objects' usable size */
    const char *thread;                 /* label, or NULL */
    const char *allocator;              /* label, or NULL */
    const char *extra_key;              /* a hook's label, or NULL */
    const char *extra_value;
    const char *note_key; /* the process's note, or NULL */
    const char *note_value;
    const char *reachable; /* label "reachable": "yes", "no", or NULL */
} prof_sample_rec_t;

/* Resolves a symbolic frame; false if unknown. */
typedef int (*prof_symbolic_fn)(hs_frame_t f, const char **r_function,
                                const char **r_file, unsigned *r_line);

typedef struct prof_profile_s {
    const prof_sample_rec_t *samples;
    size_t nsamples;
    prof_symbolic_fn symbolic;
    int64_t period;         /* mean sample interval, bytes */
    int64_t time_nanos;     /* wall clock of the dump */
    int64_t duration_nanos; /* since profiling started (or reset) */
    const char *const *comments;
    size_t ncomments;
} prof_profile_t;

/* Writes p to fd, gzipped.  Returns 0 or an errno value. */
int pprof_write(int fd, const prof_profile_t *p);

#endif /* HS_PPROF_H */
