/*
 * merge.c — `heapsight merge A B ... -o OUT`: one profile from many (the
 * processes of a fleet, several runs of one program).
 *
 * Owns: the output profile while it is built (a profile_t made here from
 * nothing, every element malloc'd as profile_io.h requires, its id indexes
 * dense: ids 1..n in element order), the tables that deduplicate its
 * elements, and each input's translation of ids into the output's.
 * Inputs are read one at a time and freed once merged.
 *
 * What is equal, so stored once (keys over output string indexes and ids):
 *   string      the same bytes;
 *   function    (name, system_name, filename, start_line);
 *   mapping     (limit - start, file offset, build ID, else file name):
 *               the same file mapped at another address (ASLR) in
 *               another process is one mapping; the first one seen keeps
 *               its start, and a later input's addresses in it move by
 *               Δ = out.start - in.start, so that
 *               out.address - out.start = in.address - in.start;
 *   location    with a mapping and an address: (mapping, moved address);
 *               its lines come from the first input that has any, so a
 *               symbolized and an unsymbolized copy of one address agree;
 *               otherwise (an interpreter's frame, an address of 0):
 *               (mapping, address, is_folded, lines);
 *   sample      (location ids, labels sorted); the values of equal
 *               samples are summed, so for each sample type t
 *               Σ_out value[t] = Σ_inputs Σ value[t];
 *   comment     the same string, in order of first appearance.
 * The header: sample types must be equal, in order, names and units (else
 * nothing is written, exit 2); period_type, default_sample_type,
 * drop_frames and keep_frames are the first input's; the period too, with
 * a warning when another differs (heapsight's values are estimates,
 * already scaled by their own period, so the sums stay right); time_nanos
 * is the earliest start and duration_nanos reaches the latest end over
 * the inputs that know their time (else the longest duration).
 *
 * Threading: none.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "hmap.h"
#include "model.h"
#include "profile_io.h"
#include "viz/strbuf.h"

typedef Perftools__Profiles__Sample merge_sample_t;
typedef Perftools__Profiles__Label merge_label_t;
typedef Perftools__Profiles__ValueType merge_vt_t;

typedef struct merge_s {
    profile_t *out;
    hmap_t mappings, functions, locations, samples, comments; /* key → id */
    size_t cap_mappings, cap_locations, cap_samples, cap_comments;
    const char *first; /* the first input's path */
    bool period_warned;
    bool have_time;
    int64_t start, end;   /* over inputs with a time_nanos */
    int64_t max_duration; /* over every input */
    strbuf_t key;         /* scratch for keys */
} merge_t;

typedef struct merge_in_s {
    const profile_t *p;
    const char *path;
    int64_t *str_of;         /* input string index → output's; -1: not yet */
    hmap_t map_of, shift_of; /* mapping id → output id, address shift */
    hmap_t fn_of, loc_of;    /* function, location id → output id */
} merge_in_t;

static int merge_main(int argc, char **argv);

const cmd_t cmd_merge = {
    .name = "merge",
    .summary = "merge profiles (a fleet, several runs) into one",
    .usage =
        "usage: heapsight merge PROFILE... -o OUT\n"
        "\n"
        "Writes one profile, gzipped, holding the samples of every PROFILE:\n"
        "the processes of a fleet, several runs of a program.  Equal\n"
        "strings, functions, mappings (the same file, even when mapped at\n"
        "another address) and locations are stored once; samples with the\n"
        "same stack and labels are summed, so each sample type's total in\n"
        "OUT is the sum of the inputs' totals.  The profiles must have the\n"
        "same sample types.  OUT takes the first profile's period (with a\n"
        "warning when another differs), the earliest start time and a\n"
        "duration reaching the latest end, and every distinct comment.\n"
        "One PROFILE is allowed: it comes out with its duplicates merged.\n"
        "\n"
        "options:\n"
        "  -o, --output OUT  where to write the merged profile (may be one\n"
        "                    of the inputs)\n"
        "  -h, --help        this text\n"
        "\n"
        "exit status: 0 done, 1 OUT not written, 2 bad usage, a PROFILE\n"
        "unreadable, or sample types that differ.\n",
    .main = merge_main,
};
CMD_REGISTER(cmd_merge, CMD_ORDER_MERGE);

/* Grows *arr (elements of size sz) to hold n + 1; false if no memory. */
static bool
merge_reserve(void **arr, size_t *cap, size_t n, size_t sz)
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

/* ---- the output profile ------------------------------------------------- */

/* An empty profile: string_table = {""}, dense empty indexes. */
static profile_t *
merge_new_profile(void)
{
    profile_t *p = calloc(1, sizeof(*p));
    profile_pb_t *pb = malloc(sizeof(*pb));
    char **strs = malloc(16 * sizeof(char *));
    char *empty = strdup("");
    if (p == NULL || pb == NULL || strs == NULL || empty == NULL) {
        free(p);
        free(pb);
        free(strs);
        free(empty);
        return NULL;
    }
    perftools__profiles__profile__init(pb);
    strs[0] = empty;
    pb->string_table = strs;
    pb->n_string_table = 1;
    p->pb = pb;
    p->cap_strings = 16;
    p->mappings.dense = p->locations.dense = p->functions.dense = true;
    hmap_init(&p->strings);
    return p;
}

/* The output index of input string i; -1 if out of memory. */
static int64_t
merge_str(merge_t *m, merge_in_t *in, int64_t i)
{
    if (in->str_of[i] < 0)
        in->str_of[i] = profile_intern(m->out, profile_str(in->p, i));
    return in->str_of[i];
}

/* A new ValueType of the input's (type, unit); NULL if out of memory. */
static merge_vt_t *
merge_vt(merge_t *m, merge_in_t *in, const merge_vt_t *src)
{
    merge_vt_t *vt = malloc(sizeof(*vt));
    if (vt == NULL)
        return NULL;
    perftools__profiles__value_type__init(vt);
    vt->type = merge_str(m, in, src->type);
    vt->unit = merge_str(m, in, src->unit);
    if (vt->type < 0 || vt->unit < 0) {
        free(vt);
        return NULL;
    }
    return vt;
}

/* The header from the first input. */
static int
merge_first_header(merge_t *m, merge_in_t *in)
{
    const profile_pb_t *src = in->p->pb;
    profile_pb_t *pb = m->out->pb;
    pb->sample_type = calloc(src->n_sample_type + 1, sizeof(merge_vt_t *));
    if (pb->sample_type == NULL)
        return ENOMEM;
    for (size_t i = 0; i < src->n_sample_type; i++) {
        if ((pb->sample_type[i] = merge_vt(m, in, src->sample_type[i])) == NULL)
            return ENOMEM;
        pb->n_sample_type++;
    }
    if (src->period_type != NULL &&
        (pb->period_type = merge_vt(m, in, src->period_type)) == NULL)
        return ENOMEM;
    pb->period = src->period;
    pb->default_sample_type = merge_str(m, in, src->default_sample_type);
    pb->drop_frames = merge_str(m, in, src->drop_frames);
    pb->keep_frames = merge_str(m, in, src->keep_frames);
    bool ok = pb->default_sample_type >= 0 && pb->drop_frames >= 0 &&
              pb->keep_frames >= 0;
    return ok ? 0 : ENOMEM;
}

/* "type/unit, type/unit" of p's sample types into b. */
static void
merge_types_text(strbuf_t *b, const profile_t *p)
{
    for (size_t i = 0; i < p->pb->n_sample_type; i++)
        strbuf_printf(b, "%s%s/%s", i ? ", " : "",
                      profile_str(p, p->pb->sample_type[i]->type),
                      profile_str(p, p->pb->sample_type[i]->unit));
    if (p->pb->n_sample_type == 0)
        strbuf_puts(b, "none");
}

/* Whether in's sample types are the output's; one line if not. */
static bool
merge_types_match(const merge_t *m, const merge_in_t *in)
{
    const profile_pb_t *a = m->out->pb, *b = in->p->pb;
    bool same = a->n_sample_type == b->n_sample_type;
    for (size_t i = 0; same && i < a->n_sample_type; i++)
        same = strcmp(profile_str(m->out, a->sample_type[i]->type),
                      profile_str(in->p, b->sample_type[i]->type)) == 0 &&
               strcmp(profile_str(m->out, a->sample_type[i]->unit),
                      profile_str(in->p, b->sample_type[i]->unit)) == 0;
    if (same)
        return true;
    strbuf_t have = STRBUF_INIT, want = STRBUF_INIT;
    merge_types_text(&have, in->p);
    merge_types_text(&want, m->out);
    cmd_error("%s: sample types %s differ from %s's %s", in->path,
              have.s ? have.s : "?", m->first, want.s ? want.s : "?");
    strbuf_free(&have);
    strbuf_free(&want);
    return false;
}

/* Period, times and comments of every input. */
static int
merge_header(merge_t *m, merge_in_t *in)
{
    const profile_pb_t *src = in->p->pb;
    profile_pb_t *pb = m->out->pb;
    if (src->period != pb->period && !m->period_warned) {
        cmd_error("merge: warning: %s has period %" PRId64 ", %s %" PRId64
                  "; keeping %" PRId64,
                  in->path, src->period, m->first, pb->period, pb->period);
        m->period_warned = true;
    }
    if (src->time_nanos != 0) {
        int64_t end = src->time_nanos;
        model_add(&end, src->duration_nanos);
        if (!m->have_time || src->time_nanos < m->start)
            m->start = src->time_nanos;
        if (!m->have_time || end > m->end)
            m->end = end;
        m->have_time = true;
    }
    if (src->duration_nanos > m->max_duration)
        m->max_duration = src->duration_nanos;
    for (size_t i = 0; i < src->n_comment; i++) {
        int64_t s = merge_str(m, in, src->comment[i]);
        if (s < 0)
            return ENOMEM;
        if (hmap_get_u64(&m->comments, (uint64_t)s, NULL))
            continue;
        if (!merge_reserve((void **)&pb->comment, &m->cap_comments,
                           pb->n_comment, sizeof(int64_t)) ||
            hmap_put_u64(&m->comments, (uint64_t)s, 1) != 0)
            return ENOMEM;
        pb->comment[pb->n_comment++] = s;
    }
    return 0;
}

/* ---- mappings and functions --------------------------------------------- */

/* Appends a copy of src (strings translated) as mapping id n + 1. */
static uint64_t
merge_add_mapping(merge_t *m, merge_in_t *in, const profile_mapping_t *src)
{
    profile_pb_t *pb = m->out->pb;
    profile_mapping_t *mp = malloc(sizeof(*mp));
    if (mp == NULL || !merge_reserve((void **)&pb->mapping, &m->cap_mappings,
                                     pb->n_mapping, sizeof(mp))) {
        free(mp);
        return 0;
    }
    perftools__profiles__mapping__init(mp); /* no unknown fields shared */
    mp->memory_start = src->memory_start;
    mp->memory_limit = src->memory_limit;
    mp->file_offset = src->file_offset;
    mp->filename = merge_str(m, in, src->filename);
    mp->build_id = merge_str(m, in, src->build_id);
    mp->id = pb->n_mapping + 1;
    pb->mapping[pb->n_mapping++] = mp;
    m->out->mappings.n = m->out->mappings.max_id = pb->n_mapping;
    return mp->filename < 0 || mp->build_id < 0 ? 0 : mp->id;
}

static int
merge_mappings(merge_t *m, merge_in_t *in)
{
    const profile_pb_t *src = in->p->pb;
    for (size_t i = 0; i < src->n_mapping; i++) {
        const profile_mapping_t *mp = src->mapping[i];
        const char *who = profile_str(in->p, mp->build_id);
        if (who[0] == '\0')
            who = profile_str(in->p, mp->filename);
        uint64_t key[2] = {mp->memory_limit - mp->memory_start,
                           mp->file_offset};
        m->key.len = 0;
        strbuf_add(&m->key, (const char *)key, sizeof key);
        strbuf_puts(&m->key, who);
        uint64_t id;
        if (m->key.failed)
            return ENOMEM;
        if (!hmap_get(&m->mappings, m->key.s, m->key.len, &id) &&
            ((id = merge_add_mapping(m, in, mp)) == 0 ||
             hmap_put(&m->mappings, m->key.s, m->key.len, id) != 0))
            return ENOMEM;
        profile_mapping_t *dst = m->out->pb->mapping[id - 1];
        dst->has_functions |= mp->has_functions;
        dst->has_filenames |= mp->has_filenames;
        dst->has_line_numbers |= mp->has_line_numbers;
        dst->has_inline_frames |= mp->has_inline_frames;
        if (hmap_put_u64(&in->map_of, mp->id, id) != 0 ||
            hmap_put_u64(&in->shift_of, mp->id,
                         dst->memory_start - mp->memory_start) != 0)
            return ENOMEM;
    }
    return 0;
}

static int
merge_functions(merge_t *m, merge_in_t *in)
{
    const profile_pb_t *src = in->p->pb;
    for (size_t i = 0; i < src->n_function; i++) {
        const profile_function_t *f = src->function[i];
        int64_t key[4] = {merge_str(m, in, f->name),
                          merge_str(m, in, f->system_name),
                          merge_str(m, in, f->filename), f->start_line};
        if (key[0] < 0 || key[1] < 0 || key[2] < 0)
            return ENOMEM;
        uint64_t id;
        if (!hmap_get(&m->functions, key, sizeof key, &id) &&
            ((id = profile_add_function(m->out, key[0], key[1], key[2],
                                        key[3])) == 0 ||
             hmap_put(&m->functions, key, sizeof key, id) != 0))
            return ENOMEM;
        if (hmap_put_u64(&in->fn_of, f->id, id) != 0)
            return ENOMEM;
    }
    return 0;
}

/* ---- locations ---------------------------------------------------------- */

/* Copies src's lines (function ids translated) into dst. */
static int
merge_copy_lines(merge_in_t *in, profile_location_t *dst,
                 const profile_location_t *src)
{
    dst->line = calloc(src->n_line + 1, sizeof(profile_line_t *));
    if (dst->line == NULL)
        return ENOMEM;
    for (size_t k = 0; k < src->n_line; k++) {
        profile_line_t *ln = malloc(sizeof(*ln));
        if (ln == NULL)
            return ENOMEM;
        perftools__profiles__line__init(ln);
        uint64_t fid = 0;
        if (src->line[k]->function_id != 0)
            hmap_get_u64(&in->fn_of, src->line[k]->function_id, &fid);
        ln->function_id = fid;
        ln->line = src->line[k]->line;
        dst->line[dst->n_line++] = ln;
    }
    return 0;
}

/* Appends a location at the translated mapping and address. */
static uint64_t
merge_add_location(merge_t *m, merge_in_t *in, const profile_location_t *src,
                   uint64_t mapping, uint64_t address)
{
    profile_pb_t *pb = m->out->pb;
    profile_location_t *l = malloc(sizeof(*l));
    if (l == NULL || !merge_reserve((void **)&pb->location, &m->cap_locations,
                                    pb->n_location, sizeof(l))) {
        free(l);
        return 0;
    }
    perftools__profiles__location__init(l);
    l->id = pb->n_location + 1;
    l->mapping_id = mapping;
    l->address = address;
    l->is_folded = src->is_folded;
    pb->location[pb->n_location++] = l;
    m->out->locations.n = m->out->locations.max_id = pb->n_location;
    return merge_copy_lines(in, l, src) == 0 ? l->id : 0;
}

/* The key of src at (mapping, address) into m->key. */
static void
merge_location_key(merge_t *m, merge_in_t *in, const profile_location_t *src,
                   uint64_t mapping, uint64_t address)
{
    uint64_t head[3] = {mapping, address, src->is_folded};
    m->key.len = 0;
    if (mapping != 0 && address != 0) {
        strbuf_add(&m->key, (const char *)head, 2 * sizeof(uint64_t));
        return;
    }
    strbuf_add(&m->key, (const char *)head, sizeof head);
    for (size_t k = 0; k < src->n_line; k++) {
        uint64_t fid = 0;
        if (src->line[k]->function_id != 0)
            hmap_get_u64(&in->fn_of, src->line[k]->function_id, &fid);
        int64_t ln[2] = {(int64_t)fid, src->line[k]->line};
        strbuf_add(&m->key, (const char *)ln, sizeof ln);
    }
}

static int
merge_locations(merge_t *m, merge_in_t *in)
{
    const profile_pb_t *src = in->p->pb;
    for (size_t i = 0; i < src->n_location; i++) {
        const profile_location_t *l = src->location[i];
        uint64_t mapping = 0, shift = 0, id;
        if (l->mapping_id != 0) {
            hmap_get_u64(&in->map_of, l->mapping_id, &mapping);
            hmap_get_u64(&in->shift_of, l->mapping_id, &shift);
        }
        uint64_t address = l->address != 0 ? l->address + shift : 0;
        merge_location_key(m, in, l, mapping, address);
        if (m->key.failed)
            return ENOMEM;
        if (!hmap_get(&m->locations, m->key.s, m->key.len, &id)) {
            id = merge_add_location(m, in, l, mapping, address);
            if (id == 0 ||
                hmap_put(&m->locations, m->key.s, m->key.len, id) != 0)
                return ENOMEM;
        } else if (m->out->pb->location[id - 1]->n_line == 0 && l->n_line > 0) {
            profile_location_t *dst = m->out->pb->location[id - 1];
            free(dst->line);
            dst->line = NULL;
            if (merge_copy_lines(in, dst, l) != 0)
                return ENOMEM;
        }
        if (hmap_put_u64(&in->loc_of, l->id, id) != 0)
            return ENOMEM;
    }
    return 0;
}

/* ---- samples ------------------------------------------------------------ */

static int
merge_label_cmp(const void *pa, const void *pb)
{
    const merge_label_t *a = *(merge_label_t *const *)pa;
    const merge_label_t *b = *(merge_label_t *const *)pb;
    int64_t x[4] = {a->key, a->str, a->num, a->num_unit};
    int64_t y[4] = {b->key, b->str, b->num, b->num_unit};
    for (size_t i = 0; i < 4; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* A copy of src with ids and strings translated (labels kept in order);
 * NULL if out of memory. */
static merge_sample_t *
merge_copy_sample(merge_t *m, merge_in_t *in, const merge_sample_t *src)
{
    merge_sample_t *s = malloc(sizeof(*s));
    if (s == NULL)
        return NULL;
    perftools__profiles__sample__init(s);
    s->location_id = malloc((src->n_location_id + 1) * sizeof(uint64_t));
    s->value = malloc((src->n_value + 1) * sizeof(int64_t));
    s->label = calloc(src->n_label + 1, sizeof(merge_label_t *));
    bool ok = s->location_id && s->value && s->label;
    for (size_t k = 0; ok && k < src->n_location_id; k++)
        hmap_get_u64(&in->loc_of, src->location_id[k],
                     &s->location_id[s->n_location_id++]);
    if (ok && src->n_value > 0)
        memcpy(s->value, src->value, src->n_value * sizeof(int64_t));
    s->n_value = ok ? src->n_value : 0;
    for (size_t k = 0; ok && k < src->n_label; k++) {
        const merge_label_t *a = src->label[k];
        merge_label_t *b = malloc(sizeof(*b));
        if ((ok = b != NULL)) {
            perftools__profiles__label__init(b);
            b->key = merge_str(m, in, a->key);
            b->str = merge_str(m, in, a->str);
            b->num = a->num;
            b->num_unit = merge_str(m, in, a->num_unit);
            s->label[s->n_label++] = b;
            ok = b->key >= 0 && b->str >= 0 && b->num_unit >= 0;
        }
    }
    if (!ok) {
        perftools__profiles__sample__free_unpacked(s, NULL);
        return NULL;
    }
    return s;
}

/* The key of s (translated) into m->key: locations, then sorted labels. */
static int
merge_sample_key(merge_t *m, const merge_sample_t *s)
{
    merge_label_t **sorted = malloc((s->n_label + 1) * sizeof(*sorted));
    if (sorted == NULL)
        return ENOMEM;
    memcpy(sorted, s->label, s->n_label * sizeof(*sorted));
    qsort(sorted, s->n_label, sizeof(*sorted), merge_label_cmp);
    uint64_t n = s->n_location_id;
    m->key.len = 0;
    strbuf_add(&m->key, (const char *)&n, sizeof n);
    strbuf_add(&m->key, (const char *)s->location_id, n * sizeof(uint64_t));
    for (size_t k = 0; k < s->n_label; k++) {
        int64_t lb[4] = {sorted[k]->key, sorted[k]->str, sorted[k]->num,
                         sorted[k]->num_unit};
        strbuf_add(&m->key, (const char *)lb, sizeof lb);
    }
    free(sorted);
    return m->key.failed ? ENOMEM : 0;
}

static int
merge_one_sample(merge_t *m, merge_in_t *in, const merge_sample_t *src)
{
    profile_pb_t *pb = m->out->pb;
    merge_sample_t *s = merge_copy_sample(m, in, src);
    if (s == NULL || merge_sample_key(m, s) != 0) {
        perftools__profiles__sample__free_unpacked(s, NULL);
        return ENOMEM;
    }
    uint64_t at;
    if (hmap_get(&m->samples, m->key.s, m->key.len, &at)) {
        for (size_t k = 0; k < s->n_value; k++)
            model_add(&pb->sample[at]->value[k], s->value[k]);
        perftools__profiles__sample__free_unpacked(s, NULL);
        return 0;
    }
    if (!merge_reserve((void **)&pb->sample, &m->cap_samples, pb->n_sample,
                       sizeof(s)) ||
        hmap_put(&m->samples, m->key.s, m->key.len, pb->n_sample) != 0) {
        perftools__profiles__sample__free_unpacked(s, NULL);
        return ENOMEM;
    }
    pb->sample[pb->n_sample++] = s;
    return 0;
}

/* ---- inputs ------------------------------------------------------------- */

/* Merges the profile of in (read and checked) into m. */
static int
merge_input(merge_t *m, merge_in_t *in, bool first)
{
    size_t nstr = in->p->pb->n_string_table;
    in->str_of = malloc((nstr + 1) * sizeof(int64_t));
    if (in->str_of == NULL)
        return ENOMEM;
    for (size_t i = 0; i < nstr; i++)
        in->str_of[i] = -1;
    in->str_of[0] = 0;
    int e = first ? merge_first_header(m, in) : 0;
    if (e == 0 && !first && !merge_types_match(m, in))
        return EINVAL;
    if (e == 0)
        e = merge_header(m, in);
    if (e == 0)
        e = merge_mappings(m, in);
    if (e == 0)
        e = merge_functions(m, in);
    if (e == 0)
        e = merge_locations(m, in);
    for (size_t i = 0; e == 0 && i < in->p->pb->n_sample; i++)
        e = merge_one_sample(m, in, in->p->pb->sample[i]);
    return e;
}

/* Reads and merges path; 0, or the exit status (errors reported). */
static int
merge_file(merge_t *m, const char *path, bool first)
{
    char err[PROFILE_ERR_MAX];
    merge_in_t in = {.path = path};
    profile_t *p;
    int e = profile_read(path, &p, err, sizeof err);
    if (e != 0) {
        cmd_error("%s", err);
        return e == ENOMEM ? CMD_EXIT_FAIL : CMD_EXIT_USAGE;
    }
    in.p = p;
    hmap_init(&in.map_of);
    hmap_init(&in.shift_of);
    hmap_init(&in.fn_of);
    hmap_init(&in.loc_of);
    e = merge_input(m, &in, first);
    if (e == ENOMEM)
        cmd_error("merge: %s: out of memory", path);
    hmap_destroy(&in.map_of);
    hmap_destroy(&in.shift_of);
    hmap_destroy(&in.fn_of);
    hmap_destroy(&in.loc_of);
    free(in.str_of);
    profile_free(p);
    return e == 0 ? 0 : e == EINVAL ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
}

static void
merge_free(merge_t *m)
{
    profile_free(m->out);
    hmap_destroy(&m->mappings);
    hmap_destroy(&m->functions);
    hmap_destroy(&m->locations);
    hmap_destroy(&m->samples);
    hmap_destroy(&m->comments);
    strbuf_free(&m->key);
}

static int
merge_run(char **paths, size_t n, const char *out)
{
    merge_t m = {.first = paths[0], .out = merge_new_profile()};
    int status = m.out != NULL ? 0 : CMD_EXIT_FAIL;
    hmap_init(&m.mappings);
    hmap_init(&m.functions);
    hmap_init(&m.locations);
    hmap_init(&m.samples);
    hmap_init(&m.comments);
    for (size_t i = 0; status == 0 && i < n; i++) {
        model_progress("merging", i, n);
        status = merge_file(&m, paths[i], i == 0);
    }
    model_progress("merging", n, n);
    if (status == 0) {
        m.out->pb->time_nanos = m.have_time ? m.start : 0;
        m.out->pb->duration_nanos =
            m.have_time ? (int64_t)((uint64_t)m.end - (uint64_t)m.start)
                        : m.max_duration;
        char err[PROFILE_ERR_MAX];
        if (profile_write(m.out, out, err, sizeof err) != 0) {
            cmd_error("%s", err);
            status = CMD_EXIT_FAIL;
        }
    } else if (m.out == NULL) {
        cmd_error("merge: out of memory");
    }
    merge_free(&m);
    return status;
}

static int
merge_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    int c, status = -1;
    cmd_getopt_reset();
    while (status < 0 &&
           (c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'h')
            status = cmd_help(&cmd_merge);
        else
            status = cmd_bad_option(&cmd_merge, c, argv);
    }
    if (status < 0 && optind == argc)
        status = cmd_usage_error(&cmd_merge, "no PROFILE given");
    else if (status < 0 && out == NULL)
        status = cmd_usage_error(&cmd_merge, "no output given (-o OUT)");
    if (status < 0)
        status = merge_run(argv + optind, (size_t)(argc - optind), out);
    return status;
}
