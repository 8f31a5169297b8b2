/*
 * site.h — the site table: interned allocation sites and their counters.
 *
 * Owns: one record per distinct (stack, usable size, thread label,
 * allocation domain, extra label) — a "site" — with its estimated
 * counters, and the
 * per-allocation records that tie a live sampled object to its site.
 * Stacks are copied in; sites live until the process ends (a reset zeroes
 * their counters but keeps them).
 *
 * Locking: one mutex (HS_RANK_PROF), held only for lookups and counter
 * updates; the table allocates through malloc while holding it, which is
 * heapsight itself under the caller's reentrancy guard (unsampled).
 * Invariants: every counter >= 0 (up to rounding); inuse <= alloc for each
 * site within one generation; the peak counters are a copy of the four
 * counters taken at one moment (site.c); a record of an older generation
 * (before the last reset) no longer counts anywhere.
 */
#ifndef HS_PROF_SITE_H
#define HS_PROF_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../include/heapsight_hook.h"

typedef struct prof_site_s prof_site_t;

/* What a live sampled object carries. */
typedef struct prof_rec_s {
    prof_site_t *site;
    double weight; /* objects this one stands for */
    size_t usize;  /* the allocator's size (the site's "bytes" label) */
    size_t size;   /* the size the program asked for (the unit of space) */
    uint64_t gen;  /* table generation when sampled */
} prof_rec_t;

/* One site's counters, copied out for a dump or a report. */
typedef struct prof_site_snap_s {
    const hs_frame_t *frames; /* stable: owned by the site */
    unsigned nframes;
    size_t usize;
    unsigned thread_label;
    unsigned domain;
    unsigned extra; /* a backtrace hook's label (names_pair), or 0 */
    double alloc_objects, alloc_space, inuse_objects, inuse_space;
    bool reach_known; /* a reachability scan ran (reach.h): then */
    double reach_objects, reach_space; /* of inuse, the part it reached */
} prof_site_snap_t;

void site_boot(void);
/* Records one sampled allocation of size bytes asked for, usize given
 * (the site is keyed by usize; its space counts weight * size); returns
 * its record (NULL on OOM). */
prof_rec_t *site_record_alloc(const hs_frame_t *frames, unsigned nframes,
                              size_t usize, size_t size, unsigned thread_label,
                              unsigned domain, unsigned extra, double weight);
/* The object of rec was freed; rec is released. */
void site_record_free(prof_rec_t *rec);
/* The frames of site s (stable: sites live as long as the process). */
unsigned site_frames(const prof_site_t *s, const hs_frame_t **r_frames);
/* Zeroes every counter and starts a new generation (and its clock). */
void site_reset(void);
/* Nanoseconds since this generation began (site_boot or the last
 * site_reset): the duration a profile of the counters covers. */
int64_t site_age_ns(void);
/* Copies every site with a non-zero counter into a malloc'ed array;
 * returns the count (0 with *r_snaps NULL when none or on OOM). */
size_t site_snapshot(prof_site_snap_t **r_snaps);
/* Totals of the live estimates. */
void site_totals(double *r_inuse_objects, double *r_inuse_space);

/*
 * The peak: the live estimate at its high-water mark (site.c says how it
 * is kept).  site_peak_snapshot copies the sites as they were at the
 * mark (alloc and inuse counters alike), marking first when live bytes
 * are above the last mark now; returns the count, as site_snapshot.
 */
size_t site_peak_snapshot(prof_site_snap_t **r_snaps);

typedef struct site_peak_s {
    double inuse_objects, inuse_space; /* at the mark */
    int64_t time_ns;                   /* CLOCK_REALTIME of the mark; 0 */
    uint64_t marks; /* marks since the last reset: changes with the peak */
} site_peak_t;

void site_peak(site_peak_t *r_peak);

/*
 * The reachability scan (reach.h): site_reach_begin zeroes every site's
 * reached counters (unknown until site_reach_done); site_reach_mark adds
 * the live sampled object of rec to its site's (once per object and
 * scan: the scan visits each block once); site_reach_done says the scan
 * completed: snapshots carry the counters from then on.
 */
void site_reach_begin(void);
void site_reach_mark(prof_rec_t *rec);
void site_reach_done(void);

#endif /* HS_PROF_SITE_H */
