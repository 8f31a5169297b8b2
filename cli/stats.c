/*
 * stats.c — site tables, sampling variance, Mann–Kendall and Theil–Sen
 * (see stats.h; the formulas are derived in docs/PROFILING.md).
 *
 * A site's two columns (values, variances) are one calloc'd block of
 * 2·ncols doubles: v = block, var = block + ncols.  Its name is the key,
 * built with a strbuf and owned by the site.
 */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "viz/strbuf.h"

/* ---- sites ---- */

void
stats_sites_init(stats_sites_t *t, size_t ncols, stats_by_t by)
{
    *t = (stats_sites_t){.ncols = ncols, .by = by};
    hmap_init(&t->index);
}

void
stats_sites_free(stats_sites_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->sites[i].name);
        free(t->sites[i].v);
    }
    free(t->sites);
    hmap_destroy(&t->index);
    *t = (stats_sites_t){0};
}

/* Frame f as "func file:line", "func file" or "func" (model_frame_name's
 * words, into a strbuf: a name has no length limit). */
static void
stats_line_name(strbuf_t *b, const model_frame_t *f)
{
    if (f->file[0] == '\0')
        strbuf_puts(b, f->func);
    else if (f->line > 0)
        strbuf_printf(b, "%s %s:%" PRId64, f->func, f->file, f->line);
    else
        strbuf_printf(b, "%s %s", f->func, f->file);
}

/* The name of s's site into b: its function names, leaf first, or its
 * leaf alone. */
static void
stats_site_name(strbuf_t *b, const model_t *m, const model_sample_t *s,
                stats_by_t by)
{
    if (s->depth == 0) {
        strbuf_puts(b, STATS_NO_STACK);
        return;
    }
    if (by == STATS_BY_LINE) {
        stats_line_name(b, &m->frames[s->stack[0]]);
        return;
    }
    /* A stack is named from the frame that matters (naming.h). */
    uint32_t from = by == STATS_BY_STACK ? s->name_at : 0;
    uint32_t depth = by == STATS_BY_FUNCTION ? 1 : s->depth;
    for (uint32_t i = from; i < depth; i++) {
        if (i > from)
            strbuf_puts(b, STATS_SEP);
        strbuf_puts(b, m->frames[s->stack[i]].func);
    }
}

/* A new site named key (taken over); its position, or SIZE_MAX. */
static size_t
stats_sites_new(stats_sites_t *t, char *key, size_t len)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        stats_site_t *s = realloc(t->sites, cap * sizeof(*s));
        if (s == NULL)
            return SIZE_MAX;
        t->sites = s;
        t->cap = cap;
    }
    double *cols = calloc(2 * t->ncols + 1, sizeof(double));
    if (cols == NULL || hmap_put(&t->index, key, len, t->n) != 0) {
        free(cols);
        return SIZE_MAX;
    }
    t->sites[t->n] = (stats_site_t){key, cols, cols + t->ncols};
    return t->n++;
}

int
stats_sites_add(stats_sites_t *t, const model_t *m, const model_sample_t *s,
                size_t col, double v, double var)
{
    strbuf_t key = STRBUF_INIT;
    stats_site_name(&key, m, s, t->by);
    if (key.failed) {
        strbuf_free(&key);
        return ENOMEM;
    }
    uint64_t pos;
    if (hmap_get(&t->index, key.s, key.len, &pos)) {
        strbuf_free(&key);
    } else if ((pos = stats_sites_new(t, key.s, key.len)) == SIZE_MAX) {
        strbuf_free(&key);
        return ENOMEM;
    }
    t->sites[pos].v[col] += v;
    t->sites[pos].var[col] += var;
    return 0;
}

/* ---- sampling variance ---- */

/* The index of sample type "<prefix><suffix>", or -1. */
static long
stats_find_type(const model_t *m, const char *prefix, size_t plen,
                const char *suffix)
{
    size_t slen = strlen(suffix);
    for (size_t i = 0; i < m->ntypes; i++) {
        const char *n = m->type_names[i];
        if (strlen(n) == plen + slen && strncmp(n, prefix, plen) == 0 &&
            strcmp(n + plen, suffix) == 0)
            return (long)i;
    }
    return -1;
}

void
stats_sampling_init(stats_sampling_t *sm, const model_t *m)
{
    const char *unit = model_unit(m);
    const profile_pb_t *pb = m->prof->pb;
    const char *ptype = pb->period_type != NULL
                            ? profile_str(m->prof, pb->period_type->type)
                            : "";
    *sm = (stats_sampling_t){
        .period = m->period > 1 ? (double)m->period : 0,
        .bytes = strcmp(unit, "bytes") == 0,
        .objects_i = -1,
        .space_i = -1,
    };
    if (sm->period == 0)
        return;
    if (!sm->bytes && strcmp(unit, "count") != 0)
        sm->why_not = "its unit is neither bytes nor count";
    else if (ptype[0] != '\0' && strcmp(ptype, "space") != 0)
        sm->why_not = "it is not sampled by bytes (period type not space)";
    /* "inuse_space" pairs with "inuse_objects", "alloc_objects" with
     * "alloc_space": their ratio is the object size. */
    const char *name = m->type_names[m->vi];
    const char *us = strrchr(name, '_');
    if (us != NULL) {
        size_t plen = (size_t)(us - name) + 1;
        sm->objects_i = stats_find_type(m, name, plen, "objects");
        sm->space_i = stats_find_type(m, name, plen, "space");
    }
}

double
stats_sample_var(const stats_sampling_t *sm, const model_t *m,
                 const model_sample_t *s)
{
    if (sm->why_not != NULL)
        return NAN;
    double v = fabs((double)model_value(m, s));
    if (sm->period == 0 || v == 0)
        return 0;
    /* The sampling probability follows the allocator's size (the bytes
     * label, what the countdown counted); space counts the requested
     * size, space / objects of the sample (they differ for heapsight's
     * profiles: docs/PROFILING.md, "Units"). */
    double req = NAN, usize = s->bytes > 0 ? (double)s->bytes : NAN;
    if (sm->objects_i >= 0 && sm->space_i >= 0 && s->values[sm->objects_i] != 0)
        req = fabs((double)s->values[sm->space_i] /
                   (double)s->values[sm->objects_i]);
    if (!(usize > 0))
        usize = req;
    if (!(req > 0))
        req = usize;
    if (!(usize > 0))
        return NAN;
    double p = -expm1(-usize / sm->period);
    double objects = sm->bytes ? v / req : v; /* n̂ */
    double q = (1 - p) / p;
    return sm->bytes ? objects * req * req * q : objects * q;
}

/* ---- trends ---- */

size_t
stats_scratch_len(size_t n)
{
    size_t pairs = n > 1 ? n * (n - 1) / 2 : 0;
    return pairs > n ? pairs : n + 1;
}

static int
stats_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int
stats_sgn(double d)
{
    return (d > 0) - (d < 0);
}

double
stats_p_two_sided(double z)
{
    return erfc(fabs(z) / sqrt(2.0));
}

stats_mk_t
stats_mann_kendall(const double *y, size_t n, double *scratch)
{
    stats_mk_t r = {.p = 1};
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            r.s += stats_sgn(y[j] - y[i]);
    /* Ties: groups of equal values of size t take t(t−1)(2t+5) off. */
    memcpy(scratch, y, n * sizeof(double));
    qsort(scratch, n, sizeof(double), stats_cmp_double);
    double ties = 0, dn = (double)n;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && scratch[j] == scratch[i])
            j++;
        double t = (double)(j - i);
        ties += t * (t - 1) * (2 * t + 5);
        i = j;
    }
    r.var = (dn * (dn - 1) * (2 * dn + 5) - ties) / 18;
    if (r.var > 0 && r.s != 0) {
        r.z = (r.s - stats_sgn(r.s)) / sqrt(r.var);
        r.p = stats_p_two_sided(r.z);
    }
    return r;
}

/* The k-th smallest of a[0..n) (Hoare's selection; reorders a). */
static double
stats_select(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

double
stats_theil_sen(const double *x, const double *y, size_t n, double *scratch)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (x[j] != x[i])
                scratch[m++] = (y[j] - y[i]) / (x[j] - x[i]);
    if (m == 0)
        return NAN;
    double hi = stats_select(scratch, m, m / 2);
    if (m % 2 == 1)
        return hi;
    /* Even: the mean of the two middle slopes; the lower one is the
     * largest of those below position m/2 after the selection. */
    double lo = scratch[0];
    for (size_t i = 1; i < m / 2; i++)
        lo = scratch[i] > lo ? scratch[i] : lo;
    return (lo + hi) / 2;
}
