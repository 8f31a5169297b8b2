/*
 * site.c — the site hash table and its counters (see site.h).
 *
 * Open hashing with chains; the bucket array doubles when the table holds
 * twice as many sites as buckets.  Hashing mixes every frame, the size,
 * the label, the domain and the extra label (FNV-1a over 64-bit words).
 *
 * The peak.  Each site also holds its four counters as they were at the
 * last "peak mark": the moment the estimated live bytes of the whole
 * table last passed the previous mark by more than 1/SITE_PEAK_MARGIN of
 * it.  Marking copies every site's counters (O(sites), under the mutex
 * the allocation already holds), so the marks of a heap that grows from
 * A to B bytes number at most about SITE_PEAK_MARGIN * ln(B / A), however
 * often it rises and falls below its high; a mark is at most 1/64 (1.6%)
 * under the true high of the estimate, and a peak snapshot taken while
 * the heap is above its mark marks again first.  Invariant: peak_space
 * <= the largest inuse_space of this generation.
 */
#include "site.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../alloc/util/clock.h"
#include "../alloc/util/mutex.h"

struct prof_site_s {
    prof_site_t *next;
    uint64_t hash;
    size_t usize;
    unsigned thread_label;
    unsigned domain;
    unsigned extra;
    unsigned nframes;
    double alloc_objects, alloc_space, inuse_objects, inuse_space;
    double peak[4]; /* alloc objects, space, inuse objects, space: the
                     * counters above at the last peak mark */
    double reach_objects, reach_space; /* live and reached by the last
                                          reachability scan (reach.h) */
    hs_frame_t frames[];               /* innermost first */
};

/* A new peak mark when live bytes pass the last one by 1/64 of it. */
#define SITE_PEAK_MARGIN 64

static struct {
    hs_mutex_t mtx;
    prof_site_t **buckets;             /* guarded by mtx */
    size_t nbuckets;                   /* guarded by mtx */
    size_t nsites;                     /* guarded by mtx */
    uint64_t gen;                      /* guarded by mtx */
    double inuse_objects, inuse_space; /* guarded by mtx */
    double peak_objects, peak_space;   /* at the last mark; guarded by mtx */
    int64_t peak_ns;                   /* when (CLOCK_REALTIME); mtx */
    uint64_t peak_marks;               /* marks this generation; mtx */
    bool reach_known; /* a reachability scan ran; guarded by mtx */
} table;

/* When this generation began (CLOCK_MONOTONIC, ns); atomic. */
static _Atomic(int64_t) gen_start_ns;

int64_t
site_age_ns(void)
{
    return hs_monotonic_ns() -
           atomic_load_explicit(&gen_start_ns, memory_order_relaxed);
}

void
site_boot(void)
{
    hs_mutex_init(&table.mtx, HS_RANK_PROF);
    table.gen = 1;
    atomic_store_explicit(&gen_start_ns, hs_monotonic_ns(),
                          memory_order_relaxed);
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (i * 8)) & 0xff;
        h *= 0x100000001b3u;
    }
    return h;
}

static uint64_t
site_hash(const hs_frame_t *frames, unsigned n, size_t usize, unsigned label,
          unsigned domain, unsigned extra)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (unsigned i = 0; i < n; i++)
        h = mix(h, frames[i]);
    h = mix(h, usize);
    h = mix(h, extra);
    return mix(h, ((uint64_t)label << 32) | domain);
}

static bool
site_matches(const prof_site_t *s, uint64_t h, const hs_frame_t *frames,
             unsigned n, size_t usize, unsigned label, unsigned domain,
             unsigned extra)
{
    return s->hash == h && s->nframes == n && s->usize == usize &&
           s->thread_label == label && s->domain == domain &&
           s->extra == extra &&
           memcmp(s->frames, frames, n * sizeof(hs_frame_t)) == 0;
}

/* Doubles the bucket array; keeps the old one on OOM.  mtx held. */
static void
table_grow(void)
{
    size_t n = table.nbuckets == 0 ? 1024 : table.nbuckets * 2;
    prof_site_t **b = calloc(n, sizeof(*b));
    if (b == NULL)
        return;
    for (size_t i = 0; i < table.nbuckets; i++) {
        prof_site_t *s = table.buckets[i];
        while (s != NULL) {
            prof_site_t *next = s->next;
            s->next = b[s->hash & (n - 1)];
            b[s->hash & (n - 1)] = s;
            s = next;
        }
    }
    free(table.buckets);
    table.buckets = b;
    table.nbuckets = n;
}

/* The site for the key, created if new; NULL on OOM.  mtx held. */
static prof_site_t *
site_intern(const hs_frame_t *frames, unsigned n, size_t usize, unsigned label,
            unsigned domain, unsigned extra)
{
    if (table.nsites >= table.nbuckets * 2)
        table_grow();
    if (table.nbuckets == 0)
        return NULL;
    uint64_t h = site_hash(frames, n, usize, label, domain, extra);
    prof_site_t **head = &table.buckets[h & (table.nbuckets - 1)];
    for (prof_site_t *s = *head; s != NULL; s = s->next)
        if (site_matches(s, h, frames, n, usize, label, domain, extra))
            return s;
    prof_site_t *s = calloc(1, sizeof(*s) + n * sizeof(hs_frame_t));
    if (s == NULL)
        return NULL;
    s->hash = h;
    s->usize = usize;
    s->thread_label = label;
    s->domain = domain;
    s->extra = extra;
    s->nframes = n;
    memcpy(s->frames, frames, n * sizeof(hs_frame_t));
    s->next = *head;
    *head = s;
    table.nsites++;
    return s;
}

static int64_t
site_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Copies every site's counters into its peak ones.  mtx held. */
static void
site_mark_peak(void)
{
    for (size_t i = 0; i < table.nbuckets; i++)
        for (prof_site_t *s = table.buckets[i]; s != NULL; s = s->next) {
            s->peak[0] = s->alloc_objects;
            s->peak[1] = s->alloc_space;
            s->peak[2] = s->inuse_objects;
            s->peak[3] = s->inuse_space;
        }
    table.peak_objects = table.inuse_objects;
    table.peak_space = table.inuse_space;
    table.peak_ns = site_now_ns();
    table.peak_marks++;
}

prof_rec_t *
site_record_alloc(const hs_frame_t *frames, unsigned nframes, size_t usize,
                  size_t size, unsigned thread_label, unsigned domain,
                  unsigned extra, double weight)
{
    prof_rec_t *rec = malloc(sizeof(*rec));
    if (rec == NULL)
        return NULL;
    hs_mutex_lock(&table.mtx);
    prof_site_t *s =
        site_intern(frames, nframes, usize, thread_label, domain, extra);
    if (s == NULL) {
        hs_mutex_unlock(&table.mtx);
        free(rec);
        return NULL;
    }
    double bytes = weight * (double)size;
    s->alloc_objects += weight;
    s->alloc_space += bytes;
    s->inuse_objects += weight;
    s->inuse_space += bytes;
    table.inuse_objects += weight;
    table.inuse_space += bytes;
    if (table.inuse_space >
        table.peak_space + table.peak_space / SITE_PEAK_MARGIN)
        site_mark_peak();
    *rec = (prof_rec_t){s, weight, usize, size, table.gen};
    hs_mutex_unlock(&table.mtx);
    return rec;
}

void
site_record_free(prof_rec_t *rec)
{
    hs_mutex_lock(&table.mtx);
    if (rec->gen == table.gen) {
        double bytes = rec->weight * (double)rec->size;
        rec->site->inuse_objects -= rec->weight;
        rec->site->inuse_space -= bytes;
        table.inuse_objects -= rec->weight;
        table.inuse_space -= bytes;
    }
    hs_mutex_unlock(&table.mtx);
    free(rec);
}

unsigned
site_frames(const prof_site_t *s, const hs_frame_t **r_frames)
{
    *r_frames = s->frames;
    return s->nframes;
}

void
site_reset(void)
{
    hs_mutex_lock(&table.mtx);
    for (size_t i = 0; i < table.nbuckets; i++)
        for (prof_site_t *s = table.buckets[i]; s != NULL; s = s->next) {
            s->alloc_objects = s->alloc_space = s->inuse_objects =
                s->inuse_space = 0;
            memset(s->peak, 0, sizeof(s->peak));
        }
    table.inuse_objects = table.inuse_space = 0;
    table.peak_objects = table.peak_space = 0;
    table.peak_ns = 0;
    table.peak_marks = 0;
    table.gen++;
    atomic_store_explicit(&gen_start_ns, hs_monotonic_ns(),
                          memory_order_relaxed);
    hs_mutex_unlock(&table.mtx);
}

/* The counters a snapshot copies, the current ones or the peak's, in
 * the order of peak[]. */
static void
site_counters(const prof_site_t *s, bool peak, double c[4])
{
    if (peak) {
        memcpy(c, s->peak, sizeof(s->peak));
        return;
    }
    c[0] = s->alloc_objects;
    c[1] = s->alloc_space;
    c[2] = s->inuse_objects;
    c[3] = s->inuse_space;
}

/* Copies the sites with a non-zero counter (current or peak) out. */
static size_t
site_copy_out(bool peak, prof_site_snap_t **r_snaps)
{
    *r_snaps = NULL;
    hs_mutex_lock(&table.mtx);
    if (peak && table.inuse_space > table.peak_space)
        site_mark_peak(); /* above the last mark now: now is the peak */
    size_t n = 0, cap = table.nsites;
    prof_site_snap_t *out = cap ? malloc(cap * sizeof(*out)) : NULL;
    for (size_t i = 0; out != NULL && i < table.nbuckets; i++) {
        for (prof_site_t *s = table.buckets[i]; s != NULL; s = s->next) {
            double c[4];
            site_counters(s, peak, c);
            if (!(c[0] > 0 || c[2] > 0))
                continue;
            out[n++] =
                (prof_site_snap_t){.frames = s->frames,
                                   .nframes = s->nframes,
                                   .usize = s->usize,
                                   .thread_label = s->thread_label,
                                   .domain = s->domain,
                                   .extra = s->extra,
                                   .alloc_objects = c[0],
                                   .alloc_space = c[1],
                                   .inuse_objects = c[2],
                                   .inuse_space = c[3],
                                   .reach_known = !peak && table.reach_known,
                                   .reach_objects = s->reach_objects,
                                   .reach_space = s->reach_space};
        }
    }
    hs_mutex_unlock(&table.mtx);
    if (n == 0) {
        free(out);
        return 0;
    }
    *r_snaps = out;
    return n;
}

size_t
site_snapshot(prof_site_snap_t **r_snaps)
{
    return site_copy_out(false, r_snaps);
}

size_t
site_peak_snapshot(prof_site_snap_t **r_snaps)
{
    return site_copy_out(true, r_snaps);
}

void
site_reach_begin(void)
{
    hs_mutex_lock(&table.mtx);
    for (size_t i = 0; i < table.nbuckets; i++)
        for (prof_site_t *s = table.buckets[i]; s != NULL; s = s->next)
            s->reach_objects = s->reach_space = 0;
    table.reach_known = false;
    hs_mutex_unlock(&table.mtx);
}

void
site_reach_done(void)
{
    hs_mutex_lock(&table.mtx);
    table.reach_known = true;
    hs_mutex_unlock(&table.mtx);
}

void
site_reach_mark(prof_rec_t *rec)
{
    hs_mutex_lock(&table.mtx);
    if (rec->gen == table.gen) {
        rec->site->reach_objects += rec->weight;
        rec->site->reach_space += rec->weight * (double)rec->size;
    }
    hs_mutex_unlock(&table.mtx);
}

void
site_peak(site_peak_t *r_peak)
{
    hs_mutex_lock(&table.mtx);
    *r_peak = (site_peak_t){table.peak_objects, table.peak_space, table.peak_ns,
                            table.peak_marks};
    hs_mutex_unlock(&table.mtx);
}

void
site_totals(double *r_inuse_objects, double *r_inuse_space)
{
    hs_mutex_lock(&table.mtx);
    *r_inuse_objects = table.inuse_objects;
    *r_inuse_space = table.inuse_space;
    hs_mutex_unlock(&table.mtx);
}
