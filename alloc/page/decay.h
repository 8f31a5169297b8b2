/*
 * decay.h — the decay curve of one set of free pages: how many of the
 * pages freed over the last decay time may still be kept, now.
 *
 * Owns: the schedule only; purging is the caller's.  Time is cut into
 * DECAY_NSTEPS epochs of decay_ms / DECAY_NSTEPS each.  backlog[i] holds
 * the pages that entered the set during epoch i of the window (oldest
 * first); the pages allowed are sum(backlog[i] * h[i]) where h rises along
 * the smoothstep curve 3x^2 - 2x^3 from about 0 (freed a whole decay time
 * ago) to 1 (freed in the current epoch).  So a burst of frees is purged
 * gradually, most of it near the end of the decay time, and none of it
 * outlives decay_ms; pages that are reused early were never purged.
 *
 * Not locked: the owner (pac.c, under its decay mutex) serializes calls.
 * Time comes in as explicit now_ns values, so tests drive it exactly.
 * Invariants: epoch_ns <= the now_ns of every later call; limit ==
 * decay_limit_after(d, 0, 0).
 */
#ifndef HS_DECAY_H
#define HS_DECAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DECAY_NSTEPS 200

typedef struct decay_s {
    int64_t ms;           /* -1: never purge; 0: purge at once */
    uint64_t interval_ns; /* one epoch */
    uint64_t epoch_ns;    /* start of the current epoch */
    size_t nunpurged;     /* pages in the set after the last purge */
    size_t limit;         /* pages the set may hold now */
    size_t backlog[DECAY_NSTEPS];
} decay_t;

/* Starts a curve of ms milliseconds at now_ns for a set of npages pages
 * (they count as freed now). */
void decay_init(decay_t *d, int64_t ms, uint64_t now_ns, size_t npages);
/* Moves the curve to now_ns for a set that holds npages: the pages added
 * since the last call join the current epoch's backlog.  True when at
 * least one epoch ended (the limit may have fallen). */
bool decay_advance(decay_t *d, uint64_t now_ns, size_t npages);
/* The pages a set of npages may hold now: the curve's limit plus the pages
 * added since the last purge (they join the curve at the next epoch);
 * SIZE_MAX for ms -1, 0 for ms 0. */
size_t decay_limit(const decay_t *d, size_t npages);
/* After a purge left npages in the set. */
void decay_purged(decay_t *d, size_t npages);
/* Nanoseconds from now_ns until the limit falls at least min_pages below
 * npages (all of them if npages <= min_pages); 0 when already so;
 * UINT64_MAX when never (nothing held, or ms -1). */
uint64_t decay_ns_until_purge(const decay_t *d, uint64_t now_ns, size_t npages,
                              size_t min_pages);
/* The limit k epochs after the current one, with pending pages (added
 * since the last advance) joining at the next epoch.  For tests. */
size_t decay_limit_after(const decay_t *d, unsigned k, size_t pending);

#endif /* HS_DECAY_H */
