/*
 * stats.h — the statistics behind `heapsight diff` and `heapsight trend`:
 * sites gathered across several profiles, the sampling variance of an
 * estimate, the Mann–Kendall trend test and the Theil–Sen slope.
 *
 * Owns: a site table (stats_sites_t).  A site is the stack of function
 * names of a sample (leaf first), or its leaf frame alone, by function or
 * by line ("func file:line", as model_frame_name writes it); samples of
 * different profiles meet in the same site when their names agree, so the
 * table is the common ground of profiles whose frames were interned
 * separately.  Each site has one column per profile, holding the sum of
 * the chosen value and the sum of its sampling variance.  The table owns
 * the names and the columns; it does not own the models it reads.
 *
 * Invariants: for every i < n, sites[i].v and sites[i].var have ncols
 * entries, 0 until added to (a site missing from profile c has
 * v[c] = var[c] = 0); index maps sites[i].name to i; n <= cap.
 *
 * Sampling variance (the derivation is in docs/PROFILING.md, "Comparing
 * two profiles"): a sample of objects of size s in a profile of mean
 * interval R rests on k = n̂·p sampled objects, p = 1 − e^(−s/R), where n̂
 * is the estimated object count; its byte estimate has variance
 *     Var = k·s²·(1 − p)/p²  = n̂·s²·(1 − p)/p
 * and its object count Var = k·(1 − p)/p² = n̂·(1 − p)/p.  Exact profiles
 * (period 0 or 1) have no sampling variance.  Samples are independent, so
 * variances add over the samples of a site and over sites.
 *
 * Errors: functions that allocate return 0 or ENOMEM; the statistics
 * return NAN when undefined.
 *
 * Threading: none.
 */
#ifndef HS_CLI_STATS_H
#define HS_CLI_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "hmap.h"
#include "model.h"

/* 1.96: the two-sided 95 % quantile of the normal distribution. */
#define STATS_Z95 1.959963984540054

/* ---- sites across profiles ---- */

typedef enum stats_by_e {
    STATS_BY_STACK,    /* every frame's function, leaf first */
    STATS_BY_FUNCTION, /* the leaf frame's function */
    STATS_BY_LINE,     /* the leaf frame's "func file:line" */
} stats_by_t;

typedef struct stats_site_s {
    char *name;  /* "leaf ← caller ← main"; the key */
    double *v;   /* ncols sums of the chosen value */
    double *var; /* ncols sums of sampling variances */
} stats_site_t;

typedef struct stats_sites_s {
    hmap_t index; /* name -> position in sites */
    stats_site_t *sites;
    size_t n, cap;
    size_t ncols;
    stats_by_t by;
} stats_sites_t;

/* The separator between frames of a site's name. */
#define STATS_SEP " \xe2\x86\x90 " /* " ← " */
/* The name of a site whose sample has no frames. */
#define STATS_NO_STACK "(no stack)"

void stats_sites_init(stats_sites_t *t, size_t ncols, stats_by_t by);
void stats_sites_free(stats_sites_t *t);
/*
 * Adds value v and variance var of sample s of m to column col of its
 * site, creating the site when new.  0 or ENOMEM.
 */
int stats_sites_add(stats_sites_t *t, const model_t *m, const model_sample_t *s,
                    size_t col, double v, double var);

/* ---- sampling variance ---- */

typedef struct stats_sampling_s {
    double period;  /* R; 0 when exact (period 0 or 1) */
    bool bytes;     /* the chosen value is bytes (else objects) */
    long objects_i; /* sample type "<x>_objects" beside "<x>_space", or -1 */
    long space_i;   /* sample type "<x>_space", or -1 */
    /* Why the model does not apply (period type not space/bytes, or a unit
     * neither bytes nor count); NULL when it does or the profile is exact. */
    const char *why_not;
} stats_sampling_t;

/* How the samples of m (its chosen type) were weighted. */
void stats_sampling_init(stats_sampling_t *sm, const model_t *m);
/*
 * The sampling variance of sample s's chosen value: 0 for exact
 * profiles, NAN when the object size is unknown (no "bytes" label and
 * no objects/space pair to divide) or the model does not apply.
 */
double stats_sample_var(const stats_sampling_t *sm, const model_t *m,
                        const model_sample_t *s);

/* ---- trends ---- */

typedef struct stats_mk_s {
    double s;   /* Σ_{i<j} sgn(y_j − y_i) */
    double var; /* Var(S) under "no trend", corrected for ties in y */
    double z;   /* (S ∓ 1)/√Var, continuity corrected; 0 when S = 0 */
    double p;   /* two-sided p of z */
} stats_mk_t;

/* Scratch doubles that stats_mann_kendall and stats_theil_sen need for a
 * series of n points. */
size_t stats_scratch_len(size_t n);

/* The Mann–Kendall test of y[0..n) in that order. */
stats_mk_t stats_mann_kendall(const double *y, size_t n, double *scratch);
/* The Theil–Sen slope: the median of (y_j − y_i)/(x_j − x_i) over pairs
 * with x_i != x_j; NAN when there is no such pair. */
double stats_theil_sen(const double *x, const double *y, size_t n,
                       double *scratch);
/* Two-sided p of a standard normal z: P(|Z| >= |z|). */
double stats_p_two_sided(double z);

#endif /* HS_CLI_STATS_H */
