/*
 * site.c — the site hash table and its counters (see site.h).
 *
 * Open hashing with chains; the bucket array doubles when the table holds
 * twice as many sites as buckets.  Hashing mixes every frame, the size,
 * the label, the domain and the extra label (FNV-1a over 64-bit words).
 */
#include "site.h"

#include <stdlib.h>
#include <string.h>

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
    hs_frame_t frames[]; /* innermost first */
};

static struct {
    hs_mutex_t mtx;
    prof_site_t **buckets;             /* guarded by mtx */
    size_t nbuckets;                   /* guarded by mtx */
    size_t nsites;                     /* guarded by mtx */
    uint64_t gen;                      /* guarded by mtx */
    double inuse_objects, inuse_space; /* guarded by mtx */
} table;

void
site_boot(void)
{
    hs_mutex_init(&table.mtx, HS_RANK_PROF);
    table.gen = 1;
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
        for (prof_site_t *s = table.buckets[i]; s != NULL; s = s->next)
            s->alloc_objects = s->alloc_space = s->inuse_objects =
                s->inuse_space = 0;
    table.inuse_objects = table.inuse_space = 0;
    table.gen++;
    hs_mutex_unlock(&table.mtx);
}

static bool
site_nonzero(const prof_site_t *s)
{
    return s->alloc_objects > 0 || s->inuse_objects > 0;
}

size_t
site_snapshot(prof_site_snap_t **r_snaps)
{
    *r_snaps = NULL;
    hs_mutex_lock(&table.mtx);
    size_t n = 0, cap = table.nsites;
    prof_site_snap_t *out = cap ? malloc(cap * sizeof(*out)) : NULL;
    for (size_t i = 0; out != NULL && i < table.nbuckets; i++) {
        for (prof_site_t *s = table.buckets[i]; s != NULL; s = s->next) {
            if (!site_nonzero(s))
                continue;
            out[n++] = (prof_site_snap_t){.frames = s->frames,
                                          .nframes = s->nframes,
                                          .usize = s->usize,
                                          .thread_label = s->thread_label,
                                          .domain = s->domain,
                                          .extra = s->extra,
                                          .alloc_objects = s->alloc_objects,
                                          .alloc_space = s->alloc_space,
                                          .inuse_objects = s->inuse_objects,
                                          .inuse_space = s->inuse_space};
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

void
site_totals(double *r_inuse_objects, double *r_inuse_space)
{
    hs_mutex_lock(&table.mtx);
    *r_inuse_objects = table.inuse_objects;
    *r_inuse_space = table.inuse_space;
    hs_mutex_unlock(&table.mtx);
}
