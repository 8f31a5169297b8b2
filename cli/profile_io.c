/*
 * profile_io.c — pprof profiles in and out: gzip framing (zlib), decoding
 * (protobuf-c), the structural check, id indexes, interning and writing
 * (see profile_io.h for the guarantees).
 *
 * Bounded work on hostile input: the file, its decompressed contents and
 * the message tree protobuf-c decodes from them are each capped at
 * PROFILE_MAX_BYTES (the tree through a counting allocator: protobuf-c
 * needs up to ~50 bytes per byte of input, for empty submessages); the
 * check is linear plus one sort per kind.
 */
#include "profile_io.h"

#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Formats "<name>: not a pprof profile (<why>)" into err; returns EINVAL. */
static int __attribute__((format(printf, 4, 5)))
profile_bad(const char *name, char *err, size_t errlen, const char *fmt, ...)
{
    char why[PROFILE_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: not a pprof profile (%s)", name, why);
    return EINVAL;
}

/* ---- reading ------------------------------------------------------------ */

/*
 * The next capacity of a buffer growing by doubling towards the limit:
 * never past PROFILE_MAX_BYTES + 1, one byte more than a valid length, so
 * that filling it proves the input too big while the memory stays bounded
 * by the limit (doubling 1 GiB would ask for 2 GiB).
 */
static size_t
profile_grow_cap(size_t cap)
{
    size_t ncap = cap == 0 ? (size_t)1 << 16 : cap * 2;
    return ncap > PROFILE_MAX_BYTES + 1 ? PROFILE_MAX_BYTES + 1 : ncap;
}

/* Reads all of fd, stopping once past PROFILE_MAX_BYTES (the caller
 * reports a length over the limit). */
static int
profile_slurp(int fd, uint8_t **r_buf, size_t *r_len)
{
    size_t cap = 0, len = 0;
    uint8_t *buf = NULL;
    while (len <= PROFILE_MAX_BYTES) {
        if (len == cap) {
            size_t ncap = profile_grow_cap(cap);
            uint8_t *bigger = realloc(buf, ncap);
            if (bigger == NULL) {
                free(buf);
                return ENOMEM;
            }
            buf = bigger;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            return e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *r_buf = buf;
    *r_len = len;
    return 0;
}

/* profile_inflate_into's verdict when the output passes the limit. */
#define PROFILE_TOO_BIG (-100)

/* Appends inflated bytes of one gzip member stream; 0 or a zlib error. */
static int
profile_inflate_into(z_stream *z, uint8_t **r_out, size_t *r_cap)
{
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (z->avail_out == 0) {
            size_t used = *r_cap;
            if (used > PROFILE_MAX_BYTES)
                return PROFILE_TOO_BIG;
            size_t ncap = profile_grow_cap(used);
            uint8_t *bigger = realloc(*r_out, ncap);
            if (bigger == NULL)
                return Z_MEM_ERROR;
            *r_out = bigger;
            *r_cap = ncap;
            z->next_out = bigger + used;
            z->avail_out = (uInt)(ncap - used);
        }
        rc = inflate(z, Z_NO_FLUSH);
    }
    return rc == Z_STREAM_END ? 0 : rc; /* Z_BUF_ERROR: input ran out */
}

/* Gunzips data (one or more members) into *r_out. */
static int
profile_gunzip(const char *name, const uint8_t *data, size_t len,
               uint8_t **r_out, size_t *r_len, char *err, size_t errlen)
{
    z_stream z = {0};
    size_t cap = 1 << 16;
    uint8_t *out = malloc(cap);
    if (out == NULL || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        snprintf(err, errlen, "%s: out of memory", name);
        return ENOMEM;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc;
    while ((rc = profile_inflate_into(&z, &out, &cap)) == 0 && z.avail_in > 0)
        inflateReset(&z); /* another gzip member follows */
    size_t total = (size_t)(z.next_out - out);
    inflateEnd(&z);
    if (rc == 0 && total > PROFILE_MAX_BYTES)
        rc = PROFILE_TOO_BIG;
    if (rc == 0) {
        *r_out = out;
        *r_len = total;
        return 0;
    }
    free(out);
    if (rc == Z_MEM_ERROR) {
        snprintf(err, errlen, "%s: out of memory", name);
        return ENOMEM;
    }
    return profile_bad(name, err, errlen, "%s",
                       rc == PROFILE_TOO_BIG ? "decompressed size over 1 GiB"
                       : rc == Z_BUF_ERROR   ? "gzip data ends early"
                                             : "corrupt gzip data");
}

int
profile_read(const char *path, profile_t **r_prof, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return e;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "%s: is a directory", path);
        return EISDIR;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > PROFILE_MAX_BYTES) {
        close(fd);
        return profile_bad(path, err, errlen, "larger than %zu MiB",
                           PROFILE_MAX_BYTES >> 20);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int e = profile_slurp(fd, &buf, &len);
    close(fd);
    if (e != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e;
    }
    e = profile_decode(path, buf, len, r_prof, err, errlen);
    free(buf);
    return e;
}

/* ---- the check ---------------------------------------------------------- */

static int
profile_index_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

/* Sorts (id, position) pairs; pairs[2i] = id, pairs[2i+1] = position. */
static int
profile_index_build(profile_index_t *idx, const uint64_t *ids, size_t n)
{
    memset(idx, 0, sizeof(*idx));
    idx->n = idx->cap = n;
    idx->dense = true;
    for (size_t i = 0; i < n && idx->dense; i++)
        idx->dense = ids[i] == i + 1;
    idx->max_id = idx->dense ? n : 0;
    if (idx->dense || n == 0)
        return 0;
    uint64_t *pairs = malloc(n * 2 * sizeof(uint64_t));
    idx->ids = malloc(n * sizeof(uint64_t));
    idx->pos = malloc(n * sizeof(size_t));
    if (pairs == NULL || idx->ids == NULL || idx->pos == NULL) {
        free(pairs);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = ids[i];
        pairs[2 * i + 1] = i;
    }
    qsort(pairs, n, 2 * sizeof(uint64_t), profile_index_cmp);
    for (size_t i = 0; i < n; i++) {
        idx->ids[i] = pairs[2 * i];
        idx->pos[i] = (size_t)pairs[2 * i + 1];
    }
    free(pairs);
    idx->max_id = idx->ids[n - 1];
    return 0;
}

/* The first id that is zero or repeated, or 0 if all are fine. */
static uint64_t
profile_index_bad_id(const profile_index_t *idx, const uint64_t *ids)
{
    if (idx->dense)
        return 0;
    for (size_t i = 0; i < idx->n; i++) {
        if (ids[idx->pos[i]] == 0)
            return UINT64_MAX;
        if (i > 0 && idx->ids[i] == idx->ids[i - 1])
            return idx->ids[i];
    }
    return 0;
}

/* Position of id, or SIZE_MAX. */
static size_t
profile_index_find(const profile_index_t *idx, uint64_t id)
{
    if (idx->dense)
        return id >= 1 && id <= idx->n ? (size_t)(id - 1) : SIZE_MAX;
    size_t lo = 0, hi = idx->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < idx->n && idx->ids[lo] == id ? idx->pos[lo] : SIZE_MAX;
}

static void
profile_index_free(profile_index_t *idx)
{
    free(idx->ids);
    free(idx->pos);
    memset(idx, 0, sizeof(*idx));
}

/* Indexes one kind of element by the ids given; rejects zero/dup ids. */
static int
profile_index_kind(profile_index_t *idx, const uint64_t *ids, size_t n,
                   const char *kind, const char *name, char *err, size_t errlen)
{
    if (profile_index_build(idx, ids, n) != 0) {
        snprintf(err, errlen, "%s: out of memory", name);
        return ENOMEM;
    }
    uint64_t bad = profile_index_bad_id(idx, ids);
    if (bad == UINT64_MAX)
        return profile_bad(name, err, errlen, "a %s with id 0", kind);
    if (bad != 0)
        return profile_bad(name, err, errlen, "two %ss with id %llu", kind,
                           (unsigned long long)bad);
    return 0;
}

static int
profile_index_all(profile_t *p, const char *name, char *err, size_t errlen)
{
    const profile_pb_t *pb = p->pb;
    size_t n = pb->n_mapping;
    n = pb->n_location > n ? pb->n_location : n;
    n = pb->n_function > n ? pb->n_function : n;
    uint64_t *ids = malloc((n + 1) * sizeof(*ids));
    if (ids == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return ENOMEM;
    }
    for (size_t i = 0; i < pb->n_mapping; i++)
        ids[i] = pb->mapping[i]->id;
    int e = profile_index_kind(&p->mappings, ids, pb->n_mapping, "mapping",
                               name, err, errlen);
    for (size_t i = 0; e == 0 && i < pb->n_location; i++)
        ids[i] = pb->location[i]->id;
    if (e == 0)
        e = profile_index_kind(&p->locations, ids, pb->n_location, "location",
                               name, err, errlen);
    for (size_t i = 0; e == 0 && i < pb->n_function; i++)
        ids[i] = pb->function[i]->id;
    if (e == 0)
        e = profile_index_kind(&p->functions, ids, pb->n_function, "function",
                               name, err, errlen);
    free(ids);
    return e;
}

/* The check's state: the profile, its name and where the verdict goes. */
typedef struct profile_checker_s {
    const profile_t *p;
    const char *name;
    char *err;
    size_t errlen;
} profile_checker_t;

/* True if every index in s[0..n) names a string table entry. */
const char *
profile_comment(const profile_t *p, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < p->pb->n_comment; i++) {
        const char *c = profile_str(p, p->pb->comment[i]);
        if (strncmp(c, key, n) == 0)
            return c + n;
    }
    return NULL;
}

static bool
profile_strs_ok(const profile_t *p, const int64_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0 || (uint64_t)s[i] >= p->pb->n_string_table)
            return false;
    return true;
}

static int
profile_check_header(const profile_checker_t *c)
{
    const profile_pb_t *pb = c->p->pb;
    if (pb->n_string_table == 0 || pb->string_table[0][0] != '\0')
        return profile_bad(c->name, c->err, c->errlen,
                           "string table does not start with \"\"");
    int64_t top[3] = {pb->drop_frames, pb->keep_frames,
                      pb->default_sample_type};
    bool ok = profile_strs_ok(c->p, top, 3) &&
              profile_strs_ok(c->p, pb->comment, pb->n_comment);
    for (size_t i = 0; ok && i < pb->n_sample_type; i++) {
        int64_t vt[2] = {pb->sample_type[i]->type, pb->sample_type[i]->unit};
        ok = profile_strs_ok(c->p, vt, 2);
    }
    if (ok && pb->period_type != NULL) {
        int64_t vt[2] = {pb->period_type->type, pb->period_type->unit};
        ok = profile_strs_ok(c->p, vt, 2);
    }
    if (!ok)
        return profile_bad(c->name, c->err, c->errlen,
                           "string index out of range in the header");
    return 0;
}

static int
profile_check_mappings(const profile_checker_t *c)
{
    const profile_pb_t *pb = c->p->pb;
    for (size_t i = 0; i < pb->n_mapping; i++) {
        const profile_mapping_t *m = pb->mapping[i];
        int64_t s[2] = {m->filename, m->build_id};
        if (!profile_strs_ok(c->p, s, 2))
            return profile_bad(c->name, c->err, c->errlen,
                               "mapping %llu: string index out of range",
                               (unsigned long long)m->id);
    }
    return 0;
}

static int
profile_check_functions(const profile_checker_t *c)
{
    const profile_pb_t *pb = c->p->pb;
    for (size_t i = 0; i < pb->n_function; i++) {
        const profile_function_t *f = pb->function[i];
        int64_t s[3] = {f->name, f->system_name, f->filename};
        if (!profile_strs_ok(c->p, s, 3))
            return profile_bad(c->name, c->err, c->errlen,
                               "function %llu: string index out of range",
                               (unsigned long long)f->id);
    }
    return 0;
}

static int
profile_check_location(const profile_checker_t *c, const profile_location_t *l)
{
    if (l->mapping_id != 0 && profile_mapping(c->p, l->mapping_id) == NULL)
        return profile_bad(c->name, c->err, c->errlen,
                           "location %llu refers to mapping %llu, which "
                           "does not exist",
                           (unsigned long long)l->id,
                           (unsigned long long)l->mapping_id);
    for (size_t j = 0; j < l->n_line; j++) {
        uint64_t fid = l->line[j]->function_id;
        if (fid != 0 && profile_function(c->p, fid) == NULL)
            return profile_bad(c->name, c->err, c->errlen,
                               "location %llu refers to function %llu, "
                               "which does not exist",
                               (unsigned long long)l->id,
                               (unsigned long long)fid);
    }
    return 0;
}

static int
profile_check_sample(const profile_checker_t *c, size_t i)
{
    const profile_pb_t *pb = c->p->pb;
    const Perftools__Profiles__Sample *s = pb->sample[i];
    if (s->n_value != pb->n_sample_type)
        return profile_bad(c->name, c->err, c->errlen,
                           "sample %zu has %zu values for %zu sample types", i,
                           s->n_value, pb->n_sample_type);
    for (size_t j = 0; j < s->n_location_id; j++)
        if (profile_location(c->p, s->location_id[j]) == NULL)
            return profile_bad(c->name, c->err, c->errlen,
                               "sample %zu refers to location %llu, which "
                               "does not exist",
                               i, (unsigned long long)s->location_id[j]);
    for (size_t j = 0; j < s->n_label; j++) {
        const Perftools__Profiles__Label *lb = s->label[j];
        int64_t idx[3] = {lb->key, lb->str, lb->num_unit};
        if (!profile_strs_ok(c->p, idx, 3))
            return profile_bad(c->name, c->err, c->errlen,
                               "sample %zu: label string index out of range",
                               i);
    }
    return 0;
}

/*
 * True if m has no field numbered 0.  protobuf-c rejects the key byte of
 * field 0 but not an over-long encoding of it (0x81 0x00): it keeps the
 * field as an unknown one, writes it back with the key 0, and then cannot
 * read its own output.
 */
static bool
profile_fields_ok(const ProtobufCMessage *m)
{
    for (size_t i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return false;
    return true;
}

/* Every message of the profile passes profile_fields_ok. */
static int
profile_check_fields(const profile_checker_t *c)
{
    const profile_pb_t *pb = c->p->pb;
    bool ok =
        profile_fields_ok(&pb->base) &&
        (pb->period_type == NULL || profile_fields_ok(&pb->period_type->base));
    for (size_t i = 0; ok && i < pb->n_sample_type; i++)
        ok = profile_fields_ok(&pb->sample_type[i]->base);
    for (size_t i = 0; ok && i < pb->n_sample; i++) {
        ok = profile_fields_ok(&pb->sample[i]->base);
        for (size_t j = 0; ok && j < pb->sample[i]->n_label; j++)
            ok = profile_fields_ok(&pb->sample[i]->label[j]->base);
    }
    for (size_t i = 0; ok && i < pb->n_mapping; i++)
        ok = profile_fields_ok(&pb->mapping[i]->base);
    for (size_t i = 0; ok && i < pb->n_function; i++)
        ok = profile_fields_ok(&pb->function[i]->base);
    for (size_t i = 0; ok && i < pb->n_location; i++) {
        ok = profile_fields_ok(&pb->location[i]->base);
        for (size_t j = 0; ok && j < pb->location[i]->n_line; j++)
            ok = profile_fields_ok(&pb->location[i]->line[j]->base);
    }
    return ok ? 0 : profile_bad(c->name, c->err, c->errlen, "field number 0");
}

/* The structural check of profile_io.h; 0 or EINVAL with err set. */
static int
profile_check(const profile_t *p, const char *name, char *err, size_t errlen)
{
    profile_checker_t c = {p, name, err, errlen};
    int e = profile_check_fields(&c);
    if (e == 0)
        e = profile_check_header(&c);
    if (e == 0)
        e = profile_check_mappings(&c);
    if (e == 0)
        e = profile_check_functions(&c);
    for (size_t i = 0; e == 0 && i < p->pb->n_location; i++)
        e = profile_check_location(&c, p->pb->location[i]);
    for (size_t i = 0; e == 0 && i < p->pb->n_sample; i++)
        e = profile_check_sample(&c, i);
    return e;
}

/* ---- decoding ----------------------------------------------------------- */

static bool
profile_is_gzip(const uint8_t *data, size_t len)
{
    return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/*
 * protobuf-c's allocator while unpacking: malloc and free (so that
 * free_unpacked with the default allocator frees the tree, profile_io.h),
 * counting the bytes held and refusing past PROFILE_MAX_BYTES.  A 2-byte
 * empty Sample becomes an 80-byte struct and a pointer: without the
 * budget, a 2 MB gzip file of them asks for tens of GiB.
 */
typedef struct profile_budget_s {
    size_t used;   /* bytes held, by malloc_usable_size */
    bool exceeded; /* an allocation was refused: over the budget */
    bool oom;      /* malloc itself failed */
} profile_budget_t;

static void *
profile_budget_alloc(void *data, size_t size)
{
    profile_budget_t *b = data;
    if (b->used >= PROFILE_MAX_BYTES || size > PROFILE_MAX_BYTES - b->used) {
        b->exceeded = true;
        return NULL;
    }
    void *block = malloc(size);
    if (block == NULL)
        b->oom = true;
    else
        b->used += malloc_usable_size(block);
    return block;
}

static void
profile_budget_free(void *data, void *block)
{
    profile_budget_t *b = data;
    if (block != NULL)
        b->used -= malloc_usable_size(block);
    free(block);
}

/* Unpacks raw protobuf bytes into a new, checked profile. */
static int
profile_unpack(const char *name, const uint8_t *raw, size_t len,
               profile_t **r_prof, char *err, size_t errlen)
{
    profile_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return ENOMEM;
    }
    hmap_init(&p->strings);
    profile_budget_t budget = {0};
    ProtobufCAllocator alloc = {profile_budget_alloc, profile_budget_free,
                                &budget};
    p->pb = perftools__profiles__profile__unpack(&alloc, len, raw);
    if (p->pb == NULL) {
        free(p);
        if (budget.oom) {
            snprintf(err, errlen, "%s: out of memory", name);
            return ENOMEM;
        }
        return profile_bad(name, err, errlen, "%s",
                           budget.exceeded ? "decoded size over 1 GiB"
                                           : "protobuf decoding failed");
    }
    p->cap_strings = p->pb->n_string_table;
    p->cap_functions = p->pb->n_function;
    int e = profile_index_all(p, name, err, errlen);
    if (e == 0)
        e = profile_check(p, name, err, errlen);
    if (e != 0) {
        profile_free(p);
        return e;
    }
    *r_prof = p;
    return 0;
}

int
profile_decode(const char *name, const uint8_t *data, size_t len,
               profile_t **r_prof, char *err, size_t errlen)
{
    if (len > PROFILE_MAX_BYTES)
        return profile_bad(name, err, errlen, "larger than %zu MiB",
                           PROFILE_MAX_BYTES >> 20);
    if (len == 0)
        return profile_bad(name, err, errlen, "empty file");
    if (!profile_is_gzip(data, len))
        return profile_unpack(name, data, len, r_prof, err, errlen);
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    int e = profile_gunzip(name, data, len, &raw, &rawlen, err, errlen);
    if (e != 0)
        return e;
    if (rawlen == 0)
        e = profile_bad(name, err, errlen, "empty after gunzip");
    else
        e = profile_unpack(name, raw, rawlen, r_prof, err, errlen);
    free(raw);
    return e;
}

void
profile_free(profile_t *p)
{
    if (p == NULL)
        return;
    if (p->pb != NULL)
        perftools__profiles__profile__free_unpacked(p->pb, NULL);
    profile_index_free(&p->mappings);
    profile_index_free(&p->locations);
    profile_index_free(&p->functions);
    hmap_destroy(&p->strings);
    free(p);
}

/* ---- lookups and edits -------------------------------------------------- */

profile_mapping_t *
profile_mapping(const profile_t *p, uint64_t id)
{
    size_t i = profile_index_find(&p->mappings, id);
    return i == SIZE_MAX ? NULL : p->pb->mapping[i];
}

profile_location_t *
profile_location(const profile_t *p, uint64_t id)
{
    size_t i = profile_index_find(&p->locations, id);
    return i == SIZE_MAX ? NULL : p->pb->location[i];
}

profile_function_t *
profile_function(const profile_t *p, uint64_t id)
{
    size_t i = profile_index_find(&p->functions, id);
    return i == SIZE_MAX ? NULL : p->pb->function[i];
}

/* Grows *arr (of elements of size sz) to hold n + 1; false if no memory. */
static bool
profile_reserve(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap < 16 ? 16 : *cap * 2;
    void *bigger = realloc(*arr, ncap * sz);
    if (bigger == NULL)
        return false;
    *arr = bigger;
    *cap = ncap;
    return true;
}

/* Puts every existing string into the intern map (first index wins). */
static bool
profile_map_strings(profile_t *p)
{
    for (size_t i = 0; i < p->pb->n_string_table; i++) {
        const char *s = p->pb->string_table[i];
        if (!hmap_get_str(&p->strings, s, NULL) &&
            hmap_put(&p->strings, s, strlen(s), i) != 0)
            return false;
    }
    p->strings_mapped = true;
    return true;
}

int64_t
profile_intern(profile_t *p, const char *s)
{
    uint64_t idx;
    if (!p->strings_mapped && !profile_map_strings(p))
        return -1;
    if (hmap_get_str(&p->strings, s, &idx))
        return (int64_t)idx;
    profile_pb_t *pb = p->pb;
    if (!profile_reserve((void **)&pb->string_table, &p->cap_strings,
                         pb->n_string_table, sizeof(char *)))
        return -1;
    char *copy = strdup(s);
    idx = pb->n_string_table;
    if (copy == NULL || hmap_put(&p->strings, s, strlen(s), idx) != 0) {
        free(copy);
        return -1;
    }
    pb->string_table[pb->n_string_table++] = copy;
    return (int64_t)idx;
}

/* Appends id (the new maximum) at element position pos. */
static bool
profile_index_append(profile_index_t *idx, uint64_t id, size_t pos)
{
    if (idx->dense && id == idx->n + 1) {
        idx->n++;
        idx->max_id = id;
        return true;
    }
    if (idx->dense) { /* cannot happen: new ids are max + 1 */
        return false;
    }
    size_t cap = idx->cap;
    if (!profile_reserve((void **)&idx->ids, &cap, idx->n, sizeof(uint64_t)))
        return false;
    cap = idx->cap;
    if (!profile_reserve((void **)&idx->pos, &cap, idx->n, sizeof(size_t)))
        return false;
    idx->cap = cap;
    idx->ids[idx->n] = id;
    idx->pos[idx->n++] = pos;
    idx->max_id = id;
    return true;
}

uint64_t
profile_add_function(profile_t *p, int64_t name, int64_t system_name,
                     int64_t filename, int64_t start_line)
{
    profile_pb_t *pb = p->pb;
    if (!profile_reserve((void **)&pb->function, &p->cap_functions,
                         pb->n_function, sizeof(profile_function_t *)))
        return 0;
    profile_function_t *f = malloc(sizeof(*f));
    if (f == NULL)
        return 0;
    perftools__profiles__function__init(f);
    f->id = p->functions.max_id + 1;
    f->name = name;
    f->system_name = system_name;
    f->filename = filename;
    f->start_line = start_line;
    if (!profile_index_append(&p->functions, f->id, pb->n_function)) {
        free(f);
        return 0;
    }
    pb->function[pb->n_function++] = f;
    return f->id;
}

/* ---- writing ------------------------------------------------------------ */

/* Packs and gzips p into a new buffer. */
static int
profile_encode(const profile_t *p, uint8_t **r_gz, size_t *r_len)
{
    size_t rawlen = perftools__profiles__profile__get_packed_size(p->pb);
    uint8_t *raw = malloc(rawlen + 1);
    uLongf gzcap = compressBound((uLong)rawlen) + 32;
    uint8_t *gz = malloc(gzcap);
    z_stream z = {0};
    int rc = Z_MEM_ERROR;
    if (raw != NULL && gz != NULL &&
        deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) == Z_OK) {
        perftools__profiles__profile__pack(p->pb, raw);
        z.next_in = raw;
        z.avail_in = (uInt)rawlen;
        z.next_out = gz;
        z.avail_out = (uInt)gzcap;
        rc = deflate(&z, Z_FINISH);
        deflateEnd(&z);
    }
    free(raw);
    if (rc != Z_STREAM_END) {
        free(gz);
        return ENOMEM;
    }
    *r_gz = gz;
    *r_len = z.total_out;
    return 0;
}

int
profile_write(const profile_t *p, const char *path, char *err, size_t errlen)
{
    uint8_t *gz;
    size_t len;
    int e = profile_encode(p, &gz, &len);
    if (e != 0) {
        snprintf(err, errlen, "%s: cannot encode the profile: %s", path,
                 strerror(e));
        return e;
    }
    e = outfile_write(path, gz, len);
    free(gz);
    if (e != 0)
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(e));
    return e;
}
