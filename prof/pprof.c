/*
 * pprof.c — a heap profile as profile.proto, gzipped (see pprof.h for the
 * layout of the written profile).
 *
 * Owns, for the duration of one pprof_write() call: the string table,
 * the location and function tables (each interned so a string, a frame or
 * a (name, file) pair appears once), the mapping snapshot (maps.h), the
 * encoder buffers (pb.h) and the deflate stream.  Owns nothing between
 * calls.  No locking: one thread per call, no allocator lock held; memory
 * from malloc (heapsight itself under the caller's reentrancy guard).
 *
 * Stream order: sample types, samples, mappings, locations, functions, the
 * scalar fields, and last the string table — every table is complete
 * only once everything that refers to it is written, and protobuf lets
 * the fields of a message come in any order.  Nested messages go through
 * two scratch buffers: msg (Sample, Mapping, Location, Function) and sub
 * (ValueType, Label, Line, inside msg or the top level).
 *
 * Invariants: string id 0 is ""; location, function and mapping ids are
 * 1 + their index (so ids start at 1 and are dense); mapping id i is
 * maps.entries[i - 1]; loc_frames[id - 1] is the frame of location id;
 * a frame equal to 0 (no address, or a symbolic frame that could not be
 * interned) is left out of its stack; an unknown symbolic frame becomes
 * the function "[unknown]".
 */
#include "pprof.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "maps.h"
#include "pb.h"

/* ---- profile.proto field numbers ---- */

enum pprof_profile_field {
    PPROF_PROFILE_SAMPLE_TYPE = 1,
    PPROF_PROFILE_SAMPLE = 2,
    PPROF_PROFILE_MAPPING = 3,
    PPROF_PROFILE_LOCATION = 4,
    PPROF_PROFILE_FUNCTION = 5,
    PPROF_PROFILE_STRING_TABLE = 6,
    PPROF_PROFILE_TIME_NANOS = 9,
    PPROF_PROFILE_DURATION_NANOS = 10,
    PPROF_PROFILE_PERIOD_TYPE = 11,
    PPROF_PROFILE_PERIOD = 12,
    PPROF_PROFILE_COMMENT = 13,
    PPROF_PROFILE_DEFAULT_SAMPLE_TYPE = 14
};
enum pprof_value_type_field { PPROF_VT_TYPE = 1, PPROF_VT_UNIT = 2 };
enum pprof_sample_field {
    PPROF_SAMPLE_LOCATION_ID = 1,
    PPROF_SAMPLE_VALUE = 2,
    PPROF_SAMPLE_LABEL = 3
};
enum pprof_label_field {
    PPROF_LABEL_KEY = 1,
    PPROF_LABEL_STR = 2,
    PPROF_LABEL_NUM = 3,
    PPROF_LABEL_NUM_UNIT = 4
};
enum pprof_mapping_field {
    PPROF_MAPPING_ID = 1,
    PPROF_MAPPING_MEMORY_START = 2,
    PPROF_MAPPING_MEMORY_LIMIT = 3,
    PPROF_MAPPING_FILE_OFFSET = 4,
    PPROF_MAPPING_FILENAME = 5,
    PPROF_MAPPING_BUILD_ID = 6
};
enum pprof_location_field {
    PPROF_LOCATION_ID = 1,
    PPROF_LOCATION_MAPPING_ID = 2,
    PPROF_LOCATION_ADDRESS = 3,
    PPROF_LOCATION_LINE = 4
};
enum pprof_line_field { PPROF_LINE_FUNCTION_ID = 1, PPROF_LINE_LINE = 2 };
enum pprof_function_field {
    PPROF_FUNCTION_ID = 1,
    PPROF_FUNCTION_NAME = 2,
    PPROF_FUNCTION_FILENAME = 4
};

enum {
    PPROF_NVALUES = 4,           /* sample types, see pprof.h */
    PPROF_CHUNK = 16 * 1024,     /* string arena chunk */
    PPROF_ZOUT = 64 * 1024,      /* deflate output buffer */
    PPROF_GZIP_WINDOW = 15 + 16, /* windowBits 31: a gzip wrapper */
    PPROF_ZLIB_MAX_IN = 1 << 30  /* bytes handed to deflate at once */
};

static const char *const pprof_sample_types[PPROF_NVALUES][2] = {
    {"alloc_objects", "count"},
    {"alloc_space", "bytes"},
    {"inuse_objects", "count"},
    {"inuse_space", "bytes"},
};

/* ---- tables ---- */

typedef struct pprof_chunk_s {
    struct pprof_chunk_s *next;
    size_t used, cap;
    char data[];
} pprof_chunk_t;

typedef struct pprof_str_s {
    const char *s; /* a copy in the arena */
    size_t len;
    uint64_t hash;
} pprof_str_t;

/* Strings by id, hashed: slots hold id + 1, 0 for empty. */
typedef struct pprof_strtab_s {
    pprof_str_t *strs;
    size_t n, cap;
    uint32_t *slots;
    size_t nslots; /* a power of two, > 2 n */
    pprof_chunk_t *chunks;
} pprof_strtab_t;

/* uint64 key -> id (ids are >= 1; 0 marks an empty slot). */
typedef struct pprof_idmap_s {
    uint64_t *keys;
    uint32_t *ids;
    size_t n, nslots; /* nslots a power of two, > 2 n */
} pprof_idmap_t;

/* Keys in insertion order: id = index + 1. */
typedef struct pprof_keys_s {
    uint64_t *v;
    size_t n, cap;
} pprof_keys_t;

typedef struct pprof_writer_s {
    const prof_profile_t *p;
    int fd;
    int err; /* first failure outside the pb buffers */
    z_stream z;
    bool z_live;
    uint8_t *zout;
    pb_buf_t out, msg, sub;
    pprof_keys_t ids; /* one sample's location ids (reused) */
    pprof_strtab_t strs;
    pprof_idmap_t loc_map, fn_map;
    pprof_keys_t locs; /* frame of each location */
    pprof_keys_t fns;  /* name id << 32 | file id of each function */
    maps_t maps;
} pprof_writer_t;

static void
pprof_fail(pprof_writer_t *w, int err)
{
    if (w->err == 0)
        w->err = err;
}

static uint64_t
pprof_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t
pprof_hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    return pprof_mix(h);
}

/* Grows an array of n elements of size sz to hold one more. */
static bool
pprof_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap < 16 ? 16 : *cap * 2;
    if (ncap > SIZE_MAX / sz)
        return false;
    void *p = realloc(*arr, ncap * sz);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static bool
pprof_keys_push(pprof_keys_t *k, uint64_t v)
{
    if (!pprof_grow((void **)&k->v, &k->cap, k->n, sizeof *k->v))
        return false;
    k->v[k->n++] = v;
    return true;
}

static void
pprof_keys_fini(pprof_keys_t *k)
{
    free(k->v);
}

/* -- the string arena -- */

static const char *
pprof_arena_copy(pprof_strtab_t *t, const char *s, size_t len)
{
    pprof_chunk_t *c = t->chunks;
    if (c == NULL || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > PPROF_CHUNK ? len + 1 : PPROF_CHUNK;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = t->chunks;
        t->chunks = c;
    }
    char *r = c->data + c->used;
    memcpy(r, s, len);
    r[len] = '\0';
    c->used += len + 1;
    return r;
}

/* -- strings -- */

static size_t
pprof_strtab_probe(const pprof_strtab_t *t, const char *s, size_t len,
                   uint64_t hash)
{
    size_t mask = t->nslots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t slot = t->slots[i];
        if (slot == 0)
            return i;
        const pprof_str_t *e = &t->strs[slot - 1];
        if (e->hash == hash && e->len == len && memcmp(e->s, s, len) == 0)
            return i;
    }
}

static bool
pprof_strtab_rehash(pprof_strtab_t *t)
{
    size_t nslots = t->nslots == 0 ? 64 : t->nslots * 2;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return false;
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    for (size_t id = 0; id < t->n; id++) {
        const pprof_str_t *e = &t->strs[id];
        slots[pprof_strtab_probe(t, e->s, e->len, e->hash)] = (uint32_t)id + 1;
    }
    return true;
}

/* The id of s (added if new), or -1 when out of memory. */
static int64_t
pprof_strtab_intern(pprof_strtab_t *t, const char *s, size_t len)
{
    if (2 * (t->n + 1) >= t->nslots && !pprof_strtab_rehash(t))
        return -1;
    uint64_t hash = pprof_hash_bytes(s, len);
    size_t i = pprof_strtab_probe(t, s, len, hash);
    if (t->slots[i] != 0)
        return t->slots[i] - 1;
    if (t->n >= UINT32_MAX - 1 ||
        !pprof_grow((void **)&t->strs, &t->cap, t->n, sizeof *t->strs))
        return -1;
    const char *copy = pprof_arena_copy(t, s, len);
    if (copy == NULL)
        return -1;
    t->strs[t->n] = (pprof_str_t){copy, len, hash};
    t->slots[i] = (uint32_t)++t->n;
    return (int64_t)t->n - 1;
}

static void
pprof_strtab_fini(pprof_strtab_t *t)
{
    while (t->chunks != NULL) {
        pprof_chunk_t *next = t->chunks->next;
        free(t->chunks);
        t->chunks = next;
    }
    free(t->strs);
    free(t->slots);
}

/* The string id of s (NULL is ""); 0 with w->err set on failure. */
static uint64_t
pprof_str(pprof_writer_t *w, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    int64_t id = pprof_strtab_intern(&w->strs, s, strlen(s));
    if (id < 0) {
        pprof_fail(w, ENOMEM);
        return 0;
    }
    return (uint64_t)id;
}

/* -- uint64 -> id -- */

static size_t
pprof_idmap_probe(const pprof_idmap_t *m, uint64_t key)
{
    size_t mask = m->nslots - 1;
    for (size_t i = pprof_mix(key) & mask;; i = (i + 1) & mask)
        if (m->ids[i] == 0 || m->keys[i] == key)
            return i;
}

static bool
pprof_idmap_rehash(pprof_idmap_t *m)
{
    pprof_idmap_t old = *m;
    m->nslots = old.nslots == 0 ? 64 : old.nslots * 2;
    m->keys = malloc(m->nslots * sizeof *m->keys);
    m->ids = calloc(m->nslots, sizeof *m->ids);
    if (m->keys == NULL || m->ids == NULL) {
        free(m->keys);
        free(m->ids);
        *m = old;
        return false;
    }
    for (size_t i = 0; i < old.nslots; i++) {
        if (old.ids[i] == 0)
            continue;
        size_t j = pprof_idmap_probe(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        m->ids[j] = old.ids[i];
    }
    free(old.keys);
    free(old.ids);
    return true;
}

/*
 * The id of key; a new key gets id = keys->n + 1 and is appended to keys.
 * Returns 0 when out of memory.
 */
static uint64_t
pprof_idmap_intern(pprof_idmap_t *m, pprof_keys_t *keys, uint64_t key)
{
    if (2 * (m->n + 1) >= m->nslots && !pprof_idmap_rehash(m))
        return 0;
    size_t i = pprof_idmap_probe(m, key);
    if (m->ids[i] != 0)
        return m->ids[i];
    if (keys->n >= UINT32_MAX - 1 || !pprof_keys_push(keys, key))
        return 0;
    m->keys[i] = key;
    m->ids[i] = (uint32_t)keys->n;
    m->n++;
    return keys->n;
}

static void
pprof_idmap_fini(pprof_idmap_t *m)
{
    free(m->keys);
    free(m->ids);
}

/* ---- gzip output ---- */

static int
pprof_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return errno;
        if (k == 0)
            return EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int
pprof_zlib_errno(int zrc)
{
    return zrc == Z_MEM_ERROR ? ENOMEM : EIO;
}

/* Runs deflate over the pending input with flush; writes its output. */
static int
pprof_deflate(pprof_writer_t *w, int flush)
{
    for (;;) {
        w->z.next_out = w->zout;
        w->z.avail_out = PPROF_ZOUT;
        int zrc = deflate(&w->z, flush);
        if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
            return pprof_zlib_errno(zrc);
        int err = pprof_write_all(w->fd, w->zout, PPROF_ZOUT - w->z.avail_out);
        if (err != 0)
            return err;
        if (flush == Z_FINISH ? zrc == Z_STREAM_END : w->z.avail_out != 0)
            return 0;
    }
}

/* The sink of the out stream: compresses and writes. */
static int
pprof_gz_sink(void *arg, const uint8_t *data, size_t len)
{
    pprof_writer_t *w = arg;
    while (len > 0) {
        size_t n = len < PPROF_ZLIB_MAX_IN ? len : PPROF_ZLIB_MAX_IN;
        w->z.next_in = (Bytef *)data;
        w->z.avail_in = (uInt)n;
        int err = pprof_deflate(w, Z_NO_FLUSH);
        if (err != 0)
            return err;
        data += n;
        len -= n;
    }
    return 0;
}

static int
pprof_gz_init(pprof_writer_t *w)
{
    w->zout = malloc(PPROF_ZOUT);
    if (w->zout == NULL)
        return ENOMEM;
    memset(&w->z, 0, sizeof w->z); /* zalloc NULL: zlib's malloc */
    int zrc = deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                           PPROF_GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY);
    if (zrc != Z_OK)
        return pprof_zlib_errno(zrc);
    w->z_live = true;
    return 0;
}

/* ---- the writer ---- */

static int
pprof_writer_init(pprof_writer_t *w, int fd, const prof_profile_t *p)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->fd = fd;
    pb_buf_init(&w->msg);
    pb_buf_init(&w->sub);
    int err = pprof_gz_init(w);
    if (err == 0)
        err = pb_stream_init(&w->out, pprof_gz_sink, w);
    if (err == 0 && pprof_strtab_intern(&w->strs, "", 0) != 0)
        err = ENOMEM;
    if (err != 0)
        return err;
    /* No /proc (a chroot, a sandbox): a profile without mappings. */
    err = maps_read(&w->maps);
    return err == ENOMEM ? ENOMEM : 0;
}

static void
pprof_writer_fini(pprof_writer_t *w)
{
    if (w->z_live)
        deflateEnd(&w->z);
    free(w->zout);
    pb_buf_fini(&w->out);
    pb_buf_fini(&w->msg);
    pb_buf_fini(&w->sub);
    pprof_keys_fini(&w->ids);
    pprof_keys_fini(&w->locs);
    pprof_keys_fini(&w->fns);
    pprof_strtab_fini(&w->strs);
    pprof_idmap_fini(&w->loc_map);
    pprof_idmap_fini(&w->fn_map);
    maps_fini(&w->maps);
}

/* Emits msg (or sub) as field into dst, then empties it. */
static void
pprof_emit(pb_buf_t *dst, unsigned field, pb_buf_t *msg)
{
    pb_message(dst, field, msg);
    pb_buf_reset(msg);
}

static void
pprof_value_type(pprof_writer_t *w, pb_buf_t *dst, unsigned field,
                 const char *type, const char *unit)
{
    pb_int64_opt(&w->sub, PPROF_VT_TYPE, (int64_t)pprof_str(w, type));
    pb_int64_opt(&w->sub, PPROF_VT_UNIT, (int64_t)pprof_str(w, unit));
    pprof_emit(dst, field, &w->sub);
}

static void
pprof_write_sample_types(pprof_writer_t *w)
{
    for (unsigned i = 0; i < PPROF_NVALUES; i++)
        pprof_value_type(w, &w->out, PPROF_PROFILE_SAMPLE_TYPE,
                         pprof_sample_types[i][0], pprof_sample_types[i][1]);
}

/* -- samples -- */

/* A string label into msg; none when value is NULL or "". */
static void
pprof_label_str(pprof_writer_t *w, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    pb_int64(&w->sub, PPROF_LABEL_KEY, (int64_t)pprof_str(w, key));
    pb_int64(&w->sub, PPROF_LABEL_STR, (int64_t)pprof_str(w, value));
    pprof_emit(&w->msg, PPROF_SAMPLE_LABEL, &w->sub);
}

static void
pprof_label_bytes(pprof_writer_t *w, int64_t bytes)
{
    pb_int64(&w->sub, PPROF_LABEL_KEY, (int64_t)pprof_str(w, "bytes"));
    pb_int64(&w->sub, PPROF_LABEL_NUM, bytes);
    pb_int64(&w->sub, PPROF_LABEL_NUM_UNIT, (int64_t)pprof_str(w, "bytes"));
    pprof_emit(&w->msg, PPROF_SAMPLE_LABEL, &w->sub);
}

/* Fills w->ids with the location ids of rec's stack. */
static void
pprof_sample_locations(pprof_writer_t *w, const prof_sample_rec_t *rec)
{
    w->ids.n = 0;
    if (rec->frames == NULL) /* robust to a stack that was dropped */
        return;
    for (unsigned i = 0; i < rec->nframes && w->err == 0; i++) {
        hs_frame_t f = rec->frames[i];
        if (f == 0)
            continue;
        uint64_t id = pprof_idmap_intern(&w->loc_map, &w->locs, f);
        if (id == 0 || !pprof_keys_push(&w->ids, id))
            pprof_fail(w, ENOMEM);
    }
}

static void
pprof_write_sample(pprof_writer_t *w, const prof_sample_rec_t *rec)
{
    const int64_t values[PPROF_NVALUES] = {rec->alloc_objects, rec->alloc_space,
                                           rec->inuse_objects,
                                           rec->inuse_space};
    pprof_sample_locations(w, rec);
    pb_packed_uint64(&w->msg, PPROF_SAMPLE_LOCATION_ID, w->ids.v, w->ids.n);
    pb_packed_int64(&w->msg, PPROF_SAMPLE_VALUE, values, PPROF_NVALUES);
    pprof_label_bytes(w, rec->bytes);
    pprof_label_str(w, "thread", rec->thread);
    pprof_label_str(w, "allocator", rec->allocator);
    if (rec->extra_key != NULL)
        pprof_label_str(w, rec->extra_key, rec->extra_value);
    if (rec->note_key != NULL)
        pprof_label_str(w, rec->note_key, rec->note_value);
    pprof_label_str(w, "reachable", rec->reachable);
    pprof_emit(&w->out, PPROF_PROFILE_SAMPLE, &w->msg);
}

/* -- mappings -- */

static void
pprof_write_mappings(pprof_writer_t *w)
{
    for (size_t i = 0; i < w->maps.n; i++) {
        const maps_entry_t *e = &w->maps.entries[i];
        pb_uint64(&w->msg, PPROF_MAPPING_ID, i + 1);
        pb_uint64_opt(&w->msg, PPROF_MAPPING_MEMORY_START, e->start);
        pb_uint64_opt(&w->msg, PPROF_MAPPING_MEMORY_LIMIT, e->limit);
        pb_uint64_opt(&w->msg, PPROF_MAPPING_FILE_OFFSET, e->offset);
        pb_int64_opt(&w->msg, PPROF_MAPPING_FILENAME,
                     (int64_t)pprof_str(w, e->path));
        pb_int64_opt(&w->msg, PPROF_MAPPING_BUILD_ID,
                     (int64_t)pprof_str(w, e->build_id));
        pprof_emit(&w->out, PPROF_PROFILE_MAPPING, &w->msg);
    }
}

/* -- locations and functions -- */

static void
pprof_native_location(pprof_writer_t *w, hs_frame_t f)
{
    uintptr_t addr = (uintptr_t)f - 1; /* inside the call instruction */
    const maps_entry_t *e = maps_find(&w->maps, addr);
    if (e != NULL)
        pb_uint64(&w->msg, PPROF_LOCATION_MAPPING_ID,
                  (uint64_t)(e - w->maps.entries) + 1);
    pb_uint64(&w->msg, PPROF_LOCATION_ADDRESS, addr);
}

/* The function id of (name, file), interned. */
static uint64_t
pprof_function(pprof_writer_t *w, const char *name, const char *file)
{
    uint64_t key = pprof_str(w, name) << 32 | pprof_str(w, file);
    uint64_t id = pprof_idmap_intern(&w->fn_map, &w->fns, key);
    if (id == 0)
        pprof_fail(w, ENOMEM);
    return id;
}

static void
pprof_symbolic_location(pprof_writer_t *w, hs_frame_t f)
{
    const char *name = NULL, *file = NULL;
    unsigned line = 0;
    prof_symbolic_fn resolve = w->p->symbolic;
    if (resolve == NULL || !resolve(f, &name, &file, &line)) {
        name = NULL;
        file = NULL;
        line = 0;
    }
    if (name == NULL || name[0] == '\0')
        name = "[unknown]";
    uint64_t fn = pprof_function(w, name, file);
    pb_uint64(&w->sub, PPROF_LINE_FUNCTION_ID, fn);
    pb_int64_opt(&w->sub, PPROF_LINE_LINE, line);
    pprof_emit(&w->msg, PPROF_LOCATION_LINE, &w->sub);
}

static void
pprof_write_locations(pprof_writer_t *w)
{
    for (size_t i = 0; i < w->locs.n && w->err == 0; i++) {
        hs_frame_t f = (hs_frame_t)w->locs.v[i];
        pb_uint64(&w->msg, PPROF_LOCATION_ID, i + 1);
        if (hs_frame_is_symbolic(f))
            pprof_symbolic_location(w, f);
        else
            pprof_native_location(w, f);
        pprof_emit(&w->out, PPROF_PROFILE_LOCATION, &w->msg);
    }
}

static void
pprof_write_functions(pprof_writer_t *w)
{
    for (size_t i = 0; i < w->fns.n; i++) {
        uint64_t key = w->fns.v[i];
        pb_uint64(&w->msg, PPROF_FUNCTION_ID, i + 1);
        pb_int64_opt(&w->msg, PPROF_FUNCTION_NAME, (int64_t)(key >> 32));
        pb_int64_opt(&w->msg, PPROF_FUNCTION_FILENAME,
                     (int64_t)(key & UINT32_MAX));
        pprof_emit(&w->out, PPROF_PROFILE_FUNCTION, &w->msg);
    }
}

/* -- the rest -- */

static void
pprof_write_scalars(pprof_writer_t *w)
{
    const prof_profile_t *p = w->p;
    pb_int64_opt(&w->out, PPROF_PROFILE_TIME_NANOS, p->time_nanos);
    pb_int64_opt(&w->out, PPROF_PROFILE_DURATION_NANOS, p->duration_nanos);
    pprof_value_type(w, &w->out, PPROF_PROFILE_PERIOD_TYPE, "space", "bytes");
    pb_int64_opt(&w->out, PPROF_PROFILE_PERIOD, p->period);
    for (size_t i = 0; i < p->ncomments; i++)
        if (p->comments[i] != NULL && p->comments[i][0] != '\0')
            pb_int64(&w->out, PPROF_PROFILE_COMMENT,
                     (int64_t)pprof_str(w, p->comments[i]));
    pb_int64(&w->out, PPROF_PROFILE_DEFAULT_SAMPLE_TYPE,
             (int64_t)pprof_str(w, "inuse_space"));
}

static void
pprof_write_strings(pprof_writer_t *w)
{
    for (size_t i = 0; i < w->strs.n; i++)
        pb_bytes(&w->out, PPROF_PROFILE_STRING_TABLE, w->strs.strs[i].s,
                 w->strs.strs[i].len);
}

/* The first error of the writer, its buffers, and the stream. */
static int
pprof_status(const pprof_writer_t *w)
{
    if (w->err != 0)
        return w->err;
    if (w->msg.err != 0)
        return w->msg.err;
    if (w->sub.err != 0)
        return w->sub.err;
    return w->out.err;
}

static void
pprof_write_body(pprof_writer_t *w)
{
    const prof_profile_t *p = w->p;
    pprof_write_sample_types(w);
    for (size_t i = 0; i < p->nsamples && pprof_status(w) == 0; i++)
        pprof_write_sample(w, &p->samples[i]);
    pprof_write_mappings(w);
    pprof_write_locations(w);
    pprof_write_functions(w);
    pprof_write_scalars(w);
    pprof_write_strings(w);
}

int
pprof_write(int fd, const prof_profile_t *p)
{
    pprof_writer_t w;
    if (p == NULL || (p->samples == NULL && p->nsamples != 0) ||
        (p->comments == NULL && p->ncomments != 0))
        return EINVAL;
    int err = pprof_writer_init(&w, fd, p);
    if (err == 0) {
        pprof_write_body(&w);
        err = pprof_status(&w);
    }
    if (err == 0)
        err = pb_buf_flush(&w.out);
    if (err == 0)
        err = pprof_deflate(&w, Z_FINISH);
    pprof_writer_fini(&w);
    return err;
}
