/*
 * pprof_decode.c — the profile.proto decoder of the prof/ tests (see
 * pprof_decode.h).  Test code: no locking, unchecked realloc.
 */
#include "pprof_decode.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---- a tiny protobuf decoder ---- */

typedef struct pdec_reader_s {
    const uint8_t *p, *end;
    bool bad;
} pdec_reader_t;

typedef struct pdec_field_s {
    unsigned num, wire;
    uint64_t v;       /* wire 0 */
    const uint8_t *p; /* wire 2 */
    size_t len;
} pdec_field_t;

static uint64_t
pdec_varint(pdec_reader_t *d)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (d->p >= d->end) {
            d->bad = true;
            return 0;
        }
        uint8_t c = *d->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    d->bad = true;
    return 0;
}

/* The next field, or false at the end (or on malformed input). */
static bool
pdec_field(pdec_reader_t *d, pdec_field_t *f)
{
    if (d->bad || d->p >= d->end)
        return false;
    uint64_t key = pdec_varint(d);
    f->num = (unsigned)(key >> 3);
    f->wire = (unsigned)(key & 7);
    if (f->wire == 0) {
        f->v = pdec_varint(d);
    } else if (f->wire == 2) {
        f->len = pdec_varint(d);
        f->p = d->p;
        if (f->len > (size_t)(d->end - d->p))
            d->bad = true;
        else
            d->p += f->len;
    } else {
        d->bad = true;
    }
    return !d->bad && f->num != 0;
}

/*
 * Makes room for element n of *arr (n elements of size bytes in use) and
 * zeroes it; the capacity doubles at each power of two, so decoding a
 * table of n entries costs O(n), not O(n^2) (which ASan's realloc, a copy
 * each time, would make minutes long for the huge-stack test).
 */
static void *
pdec_grow(void *arr, size_t n, size_t size)
{
    if ((n & (n - 1)) == 0)
        arr = realloc(arr, (n == 0 ? 1 : 2 * n) * size);
    memset((char *)arr + n * size, 0, size);
    return arr;
}

#define PDEC_PUSH(arr, n)                                                      \
    ((arr) = pdec_grow((arr), (n), sizeof *(arr)), &(arr)[(n)++])

/* A repeated varint field, packed or not, appended to arr. */
static void
pdec_repeated(const pdec_field_t *f, uint64_t **arr, size_t *n)
{
    pdec_reader_t d = {f->p, f->p + f->len, false};
    do {
        *PDEC_PUSH(*arr, *n) = f->wire == 0 ? f->v : pdec_varint(&d);
    } while (f->wire == 2 && d.p < d.end && !d.bad);
}

static pdec_vt_t
pdec_vt(const pdec_field_t *f)
{
    pdec_vt_t vt = {0, 0};
    pdec_reader_t d = {f->p, f->p + f->len, false};
    pdec_field_t g;
    while (pdec_field(&d, &g))
        if (g.num == 1)
            vt.type = (int64_t)g.v;
        else if (g.num == 2)
            vt.unit = (int64_t)g.v;
    return vt;
}

static pdec_label_t
pdec_label(const pdec_field_t *f)
{
    pdec_label_t l = {0, 0, 0, 0};
    pdec_reader_t d = {f->p, f->p + f->len, false};
    pdec_field_t g;
    while (pdec_field(&d, &g)) {
        int64_t v = (int64_t)g.v;
        if (g.num == 1)
            l.key = v;
        else if (g.num == 2)
            l.str = v;
        else if (g.num == 3)
            l.num = v;
        else if (g.num == 4)
            l.unit = v;
    }
    return l;
}

static void
pdec_sample(pdec_profile_t *pr, const pdec_field_t *f)
{
    pdec_sample_t *s = PDEC_PUSH(pr->samples, pr->nsamples);
    pdec_reader_t d = {f->p, f->p + f->len, false};
    pdec_field_t g;
    while (pdec_field(&d, &g)) {
        if (g.num == 1)
            pdec_repeated(&g, &s->locs, &s->nlocs);
        else if (g.num == 2)
            pdec_repeated(&g, &s->values, &s->nvalues);
        else if (g.num == 3 && s->nlabels < 8)
            s->labels[s->nlabels++] = pdec_label(&g);
    }
    pr->bad |= d.bad;
}

static void
pdec_mapping(pdec_profile_t *pr, const pdec_field_t *f)
{
    pdec_mapping_t *m = PDEC_PUSH(pr->mappings, pr->nmappings);
    pdec_reader_t d = {f->p, f->p + f->len, false};
    pdec_field_t g;
    while (pdec_field(&d, &g)) {
        switch (g.num) {
        case 1:
            m->id = g.v;
            break;
        case 2:
            m->start = g.v;
            break;
        case 3:
            m->limit = g.v;
            break;
        case 4:
            m->offset = g.v;
            break;
        case 5:
            m->file = (int64_t)g.v;
            break;
        case 6:
            m->build_id = (int64_t)g.v;
            break;
        }
    }
    pr->bad |= d.bad;
}

static void
pdec_location(pdec_profile_t *pr, const pdec_field_t *f)
{
    pdec_location_t *l = PDEC_PUSH(pr->locations, pr->nlocations);
    pdec_reader_t d = {f->p, f->p + f->len, false};
    pdec_field_t g;
    while (pdec_field(&d, &g)) {
        if (g.num == 1)
            l->id = g.v;
        else if (g.num == 2)
            l->mapping = g.v;
        else if (g.num == 3)
            l->address = g.v;
        else if (g.num == 4 && l->nlines < 4) {
            pdec_vt_t ln = pdec_vt(&g); /* Line has the same shape: 1, 2 */
            l->fn[l->nlines] = (uint64_t)ln.type;
            l->line[l->nlines++] = ln.unit;
        }
    }
    pr->bad |= d.bad;
}

static void
pdec_function(pdec_profile_t *pr, const pdec_field_t *f)
{
    pdec_function_t *fn = PDEC_PUSH(pr->functions, pr->nfunctions);
    pdec_reader_t d = {f->p, f->p + f->len, false};
    pdec_field_t g;
    while (pdec_field(&d, &g)) {
        switch (g.num) {
        case 1:
            fn->id = g.v;
            break;
        case 2:
            fn->name = (int64_t)g.v;
            break;
        case 3:
            fn->system_name = (int64_t)g.v;
            break;
        case 4:
            fn->file = (int64_t)g.v;
            break;
        case 5:
            fn->start_line = (int64_t)g.v;
            break;
        }
    }
    pr->bad |= d.bad;
}

static void
pdec_profile_field(pdec_profile_t *pr, const pdec_field_t *f)
{
    switch (f->num) {
    case 1:
        pr->types[pr->ntypes++ & 7] = pdec_vt(f);
        break;
    case 2:
        pdec_sample(pr, f);
        break;
    case 3:
        pdec_mapping(pr, f);
        break;
    case 4:
        pdec_location(pr, f);
        break;
    case 5:
        pdec_function(pr, f);
        break;
    case 6:
        *PDEC_PUSH(pr->strings, pr->nstrings) =
            strndup((const char *)f->p, f->len);
        break;
    case 9:
        pr->time_nanos = (int64_t)f->v;
        break;
    case 10:
        pr->duration_nanos = (int64_t)f->v;
        break;
    case 11:
        pr->period_type = pdec_vt(f);
        break;
    case 12:
        pr->period = (int64_t)f->v;
        break;
    case 13:
        pdec_repeated(f, &pr->comments, &pr->ncomments);
        break;
    case 14:
        pr->default_type = (int64_t)f->v;
        break;
    default:
        pr->bad = true;
    }
}

void
pdec_decode(pdec_profile_t *pr, const uint8_t *p, size_t n)
{
    memset(pr, 0, sizeof *pr);
    pdec_reader_t d = {p, p + n, false};
    pdec_field_t f;
    while (pdec_field(&d, &f))
        pdec_profile_field(pr, &f);
    pr->bad |= d.bad;
}

void
pdec_free(pdec_profile_t *pr)
{
    for (size_t i = 0; i < pr->nsamples; i++) {
        free(pr->samples[i].locs);
        free(pr->samples[i].values);
    }
    for (size_t i = 0; i < pr->nstrings; i++)
        free(pr->strings[i]);
    free(pr->samples);
    free(pr->mappings);
    free(pr->locations);
    free(pr->functions);
    free(pr->strings);
    free(pr->comments);
}

/* The string at index i, or "<bad index>". */
const char *
pdec_str(const pdec_profile_t *pr, int64_t i)
{
    return i >= 0 && (size_t)i < pr->nstrings ? pr->strings[i] : "<bad index>";
}

const pdec_location_t *
pdec_find_location(const pdec_profile_t *pr, uint64_t id)
{
    for (size_t i = 0; i < pr->nlocations; i++)
        if (pr->locations[i].id == id)
            return &pr->locations[i];
    return NULL;
}

const pdec_function_t *
pdec_find_function(const pdec_profile_t *pr, uint64_t id)
{
    for (size_t i = 0; i < pr->nfunctions; i++)
        if (pr->functions[i].id == id)
            return &pr->functions[i];
    return NULL;
}

const pdec_mapping_t *
pdec_find_mapping(const pdec_profile_t *pr, uint64_t id)
{
    for (size_t i = 0; i < pr->nmappings; i++)
        if (pr->mappings[i].id == id)
            return &pr->mappings[i];
    return NULL;
}

/* The label with key, or NULL. */
const pdec_label_t *
pdec_find_label(const pdec_profile_t *pr, const pdec_sample_t *s,
                const char *key)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(pdec_str(pr, s->labels[i].key), key) == 0)
            return &s->labels[i];
    return NULL;
}

/* ---- reading a file ---- */

/* Inflates a gzip member; returns the bytes (malloc'd) or NULL. */
uint8_t *
pdec_gunzip(const uint8_t *in, size_t n, size_t *r_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (n < 2 || in[0] != 0x1f || in[1] != 0x8b ||
        inflateInit2(&z, 16 + 15) != Z_OK)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    int rc;
    do {
        if (cap - len < 4096)
            out = realloc(out, cap *= 2);
        z.next_out = out + len;
        z.avail_out = (uInt)(cap - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&z);
    if (rc != Z_STREAM_END || z.avail_in != 0) {
        free(out);
        return NULL;
    }
    *r_len = len;
    return out;
}

void
pdec_read_fd(int fd, pdec_profile_t *pr)
{
    memset(pr, 0, sizeof *pr);
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t *gz = malloc(size > 0 ? (size_t)size : 1);
    size_t len = 0;
    uint8_t *raw = NULL;
    if (size > 0 && pread(fd, gz, (size_t)size, 0) == size)
        raw = pdec_gunzip(gz, (size_t)size, &len);
    free(gz);
    if (raw != NULL)
        pdec_decode(pr, raw, len);
    else
        pr->bad = true;
    free(raw);
}
