/*
 * model.c — loading a profile for reports, filters and report formatting
 * (see model.h).
 *
 * Each location is expanded into its frames once (loc_first/loc_count
 * into one flat array of frame ids, by location position); a sample's
 * stack is the concatenation over its location ids.  Frames are interned
 * by the bytes "func\0file\0line:kind", plus ":address" for a native
 * frame without a file (one named module+offset, or by a symbol alone):
 * there the address is all that tells two sites apart, and `leaks` prints
 * it, so it must be the frame's own and not that of the first location
 * of the same name.  Those module+offset names are the model's own
 * (m->names), not strings added to the profile, which `convert --to
 * pprof` writes out: one string per address would only bloat it.  With
 * no_interpreter the stacks are cut once built (hide_interpreter), in
 * place: depths only shrink.  Row names are picked last (name_rows): each
 * frame's flags once (naming_frame_flags), then each sample's name_at.
 */
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "symbolize.h"

static int __attribute__((format(printf, 4, 5)))
model_err(char *err, size_t errlen, int e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return e;
}

int64_t
model_total(const model_t *m)
{
    int64_t t = 0;
    for (size_t i = 0; i < m->nsamples; i++)
        model_add(&t, model_value(m, &m->samples[i]));
    return t;
}

int
model_select(model_t *m, const char *sample_index, char *err, size_t errlen)
{
    if (m->ntypes == 0)
        return model_err(err, errlen, EINVAL,
                         "%s: the profile has no sample "
                         "types",
                         m->path);
    if (sample_index == NULL || sample_index[0] == '\0') {
        /* pprof: default_sample_type when set, else the last type. */
        const profile_pb_t *pb = m->prof->pb;
        m->vi = m->ntypes - 1;
        if (pb->default_sample_type != 0) {
            const char *def = profile_str(m->prof, pb->default_sample_type);
            for (size_t i = 0; i < m->ntypes; i++)
                if (strcmp(m->type_names[i], def) == 0)
                    m->vi = i;
        }
        return 0;
    }
    for (size_t i = 0; i < m->ntypes; i++)
        if (strcmp(m->type_names[i], sample_index) == 0) {
            m->vi = i;
            return 0;
        }
    char *end;
    errno = 0;
    unsigned long k = strtoul(sample_index, &end, 10);
    if (errno == 0 && *end == '\0' && end != sample_index && k < m->ntypes) {
        m->vi = k;
        return 0;
    }
    char have[256] = "";
    size_t pos = 0;
    for (size_t i = 0; i < m->ntypes && pos < sizeof have - 1; i++)
        pos += (size_t)snprintf(have + pos, sizeof have - pos, "%s%s",
                                i ? ", " : "", m->type_names[i]);
    return model_err(err, errlen, EINVAL,
                     "%s: no sample type '%s' (it has: %s)", m->path,
                     sample_index, have);
}

/* ---- building ---- */

/*
 * The most frame ids all stacks may hold together (4 bytes each, so the
 * stacks stay within the reader's bound, PROFILE_MAX_BYTES): a few bytes
 * of a profile can name one deeply inlined location millions of times,
 * and each mention expands to all its frames.
 */
#define MODEL_MAX_FRAMES (PROFILE_MAX_BYTES / sizeof(uint32_t))

typedef struct builder_s {
    model_t *m;
    hmap_t frames; /* "func\0file\0line" -> id */
    size_t cap_frames;
    uint32_t *loc_frames; /* flat: frame ids of every location */
    size_t nloc_frames, cap_loc_frames;
    size_t *loc_first, *loc_count; /* by location position */
} builder_t;

static bool
grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* Whether frame f's address is part of its identity (see the top): a
 * native frame with no file, where the address is all there is. */
static bool
frame_keyed_by_addr(const model_frame_t *f)
{
    return !f->symbolic && f->addr != 0 && f->file[0] == '\0';
}

/* Adds frame f as a new frame, its name copied into m->names when own;
 * false when out of memory. */
static bool
add_frame(builder_t *b, const model_frame_t *f, bool own)
{
    model_t *m = b->m;
    if (!grow((void **)&m->frames, &b->cap_frames, m->nframes + 1,
              sizeof(model_frame_t)) ||
        (own && !grow((void **)&m->names, &m->cap_names, m->nnames + 1,
                      sizeof(char *))))
        return false;
    model_frame_t *nf = &m->frames[m->nframes];
    *nf = *f;
    if (own) {
        char *copy = strdup(f->func);
        if (copy == NULL)
            return false;
        nf->func = m->names[m->nnames++] = copy;
    }
    m->nframes++;
    return true;
}

/* The id of frame f, interned; UINT32_MAX when out of memory.  With own,
 * f->func is the caller's and is copied when the frame is new. */
static uint32_t
intern_frame(builder_t *b, const model_frame_t *f, bool own)
{
    size_t lf = strlen(f->func), ll = strlen(f->file);
    char stack_key[512], *key = stack_key;
    size_t len = lf + 1 + ll + 1 + 64;
    if (len > sizeof stack_key && (key = malloc(len)) == NULL)
        return UINT32_MAX;
    memcpy(key, f->func, lf + 1);
    memcpy(key + lf + 1, f->file, ll + 1);
    /* The kind: 0 symbolic or no address, 1 native, 2 Python, 3 CPython. */
    int kind = f->python   ? 2
               : f->interp ? 3
                           : (f->symbolic || f->addr == 0 ? 0 : 1);
    uint64_t addr = frame_keyed_by_addr(f) ? f->addr : 0;
    len = lf + 1 + ll + 1 +
          (size_t)snprintf(key + lf + ll + 2, 64, "%" PRId64 ":%d:%" PRIx64,
                           f->line, kind, addr);
    uint64_t id;
    uint32_t out = UINT32_MAX;
    if (hmap_get(&b->frames, key, len, &id)) {
        out = (uint32_t)id;
    } else if (hmap_put(&b->frames, key, len, b->m->nframes) == 0 &&
               add_frame(b, f, own)) {
        out = (uint32_t)(b->m->nframes - 1);
    }
    if (key != stack_key)
        free(key);
    return out;
}

static const char *
base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* ---- Python-first views (model.h: frame kinds) ---- */

/* Whether a mapping's file is CPython: python[3[.12]][dmut] or
 * libpython[3[.12]][dmut].so[.1.0], by its base name. */
static bool
interp_mapping(const char *path)
{
    const char *s = base_name(path);
    bool lib = strncmp(s, "lib", 3) == 0;
    if (strncmp(s + (lib ? 3 : 0), "python", 6) != 0)
        return false;
    s += (lib ? 3 : 0) + 6;
    s += strspn(s, "0123456789");
    if (s[0] == '.' && s[1] >= '0' && s[1] <= '9')
        s += 1 + strspn(s + 1, "0123456789");
    s += strspn(s, "dmut"); /* ABI flags: debug, pymalloc, free-threaded */
    if (!lib)
        return *s == '\0';
    return strncmp(s, ".so", 3) == 0 && (s[3] == '\0' || s[3] == '.');
}

/* Whether a function is CPython's by its name: the fallback for native
 * locations whose mapping names no file. */
static bool
interp_function(const char *fn)
{
    static const char *const prefixes[] = {
        "_Py",      "method_vectorcall", "cfunction_",
        "slot_tp_", "vectorcall_",       "pyrun_",
        "run_mod",  "run_eval_code_obj",
    };
    if (fn[0] == 'P' && fn[1] == 'y' &&
        (fn[2] == '_' || (fn[2] >= 'A' && fn[2] <= 'Z')))
        return true; /* Py_RunMain, PyObject_Call, PyEval_EvalCode */
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(fn, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* Drops, from a stack holding a Python frame, everything outside its
 * outermost Python frame and every interpreter frame (model.h). */
static void
hide_interpreter(const model_t *m, model_sample_t *s)
{
    uint32_t outer = s->depth;
    for (uint32_t i = 0; i < s->depth; i++)
        if (m->frames[s->stack[i]].python)
            outer = i;
    if (outer == s->depth)
        return; /* no Python frame: unchanged */
    uint32_t n = 0;
    for (uint32_t i = 0; i <= outer; i++)
        if (!m->frames[s->stack[i]].interp)
            s->stack[n++] = s->stack[i];
    s->depth = n;
}

/* ---- row names (model.h, naming.h) ---- */

/* Display columns of s[0..len) (one per code point). */
static unsigned
fit_cols(const char *s, size_t len)
{
    unsigned n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/* Sets every sample's name_at by the rule of naming.h. */
static int
name_rows(model_t *m, const model_opts_t *o, char *err, size_t errlen)
{
    const naming_opts_t *no =
        o != NULL && o->naming != NULL ? o->naming : naming_cmdline();
    naming_t n;
    int e = naming_init(&n, no, err, errlen);
    if (e != 0 || n.full_names) {
        naming_free(&n);
        return e;
    }
    uint8_t *flags = malloc(m->nframes + 1);
    if (flags == NULL) {
        naming_free(&n);
        return model_err(err, errlen, ENOMEM, "%s: out of memory", m->path);
    }
    for (size_t i = 0; i < m->nframes; i++) {
        const model_frame_t *f = &m->frames[i];
        unsigned kind =
            (f->python ? NAMING_PYTHON : 0) | (f->unnamed ? NAMING_UNNAMED : 0);
        flags[i] = (uint8_t)naming_frame_flags(&n, f->func, kind);
    }
    for (size_t i = 0; i < m->nsamples; i++) {
        model_sample_t *s = &m->samples[i];
        s->name_at = naming_start(&n, flags, s->stack, s->depth);
    }
    free(flags);
    naming_free(&n);
    return 0;
}

/* Appends src to dst[*pos..size) whole or not at all, so that a cut name
 * never ends inside a character; false when it did not fit. */
static bool
name_append(char *dst, size_t size, size_t *pos, const char *src)
{
    size_t n = strlen(src);
    if (*pos + n + 1 > size)
        return false;
    memcpy(dst + *pos, src, n + 1);
    *pos += n;
    return true;
}

void
model_sample_name(char *dst, size_t size, const model_t *m,
                  const model_sample_t *s)
{
    size_t pos = 0;
    if (size == 0)
        return;
    dst[0] = '\0';
    if (s->depth == 0) {
        name_append(dst, size, &pos, "[no stack]");
        return;
    }
    for (uint32_t i = s->name_at; i < s->depth; i++)
        if ((i > s->name_at && !name_append(dst, size, &pos, MODEL_SEP)) ||
            !name_append(dst, size, &pos, m->frames[s->stack[i]].func))
            break;
}

const char *
model_comment(const model_t *m, const char *key)
{
    return profile_comment(m->prof, key);
}

/* " (pid 123)", " (pid 123, and 2 more processes)" or "" into dst. */
static void
origin_pid(const model_t *m, char *dst, size_t size)
{
    const char *proc = model_comment(m, "process: pid ");
    size_t procs = 0;
    for (size_t i = 0; i < m->prof->pb->n_comment; i++)
        procs += strncmp(profile_str(m->prof, m->prof->pb->comment[i]),
                         "process: ", 9) == 0;
    if (proc == NULL)
        snprintf(dst, size, "%s", "");
    else if (procs > 1)
        snprintf(dst, size, " (pid %.*s, and %zu more process%s)",
                 (int)strspn(proc, "0123456789"), proc, procs - 1,
                 procs > 2 ? "es" : "");
    else
        snprintf(dst, size, " (pid %.*s)", (int)strspn(proc, "0123456789"),
                 proc);
}

bool
model_origin(const model_t *m, char *dst, size_t size, unsigned width)
{
    const char *cmd = model_comment(m, "command: ");
    if (size > 0)
        dst[0] = '\0';
    if (cmd == NULL || size < 64)
        return false;
    char pid[64];
    origin_pid(m, pid, sizeof pid);
    unsigned pw = fit_cols(pid, strlen(pid));
    model_fit(dst, size - sizeof pid, cmd, width > pw + 16 ? width - pw : 16);
    for (char *c = dst; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' '; /* an argument's newline must not break the header */
    strcat(dst, pid);
    return true;
}

/* ---- locations into frames ---- */

/* Appends frame f to the frames of location position i (own: as in
 * intern_frame); 0 or ENOMEM. */
static int
push_frame(builder_t *b, size_t i, const model_frame_t *f, bool own)
{
    uint32_t id = intern_frame(b, f, own);
    if (id == UINT32_MAX || !grow((void **)&b->loc_frames, &b->cap_loc_frames,
                                  b->nloc_frames + 1, sizeof(uint32_t)))
        return ENOMEM;
    b->loc_frames[b->nloc_frames++] = id;
    b->loc_count[i]++;
    return 0;
}

/*
 * The name of a location without lines (model.h, "Frames"): with a
 * mapping file, "<base name>+0x<file offset>", the file offset being
 *     offset = address - memory_start + file_offset
 * (pprof shows such a location as its absolute address and "[file]").
 * The file offset, not the absolute address: it does not move with ASLR,
 * so one site stays one row across runs (diff, trend, merged dumps); not
 * the ELF virtual address: that needs the file's program headers, and the
 * file is what is missing.  For the code of shared libraries and PIEs as
 * linked by default the two are equal (objdump and addr2line take it, and
 * the exit leak report, prof/dump.c, prints the same module+offset).
 * No mapping file, or an address outside its mapping (a damaged
 * profile): "0x<address>".  The base name is cut to 255 bytes (a file
 * name's limit) so that the offset is always there.
 */
static void
unsymbolized_name(char *buf, size_t size, const profile_location_t *l,
                  const profile_mapping_t *mp, const char *file)
{
    uint64_t a = l->address;
    bool inside = mp != NULL && a >= mp->memory_start &&
                  (mp->memory_limit == 0 || a < mp->memory_limit);
    if (file[0] != '\0' && inside)
        snprintf(buf, size, "%.255s+0x%" PRIx64, base_name(file),
                 a - mp->memory_start + mp->file_offset);
    else
        snprintf(buf, size, "0x%" PRIx64, a);
}

/* The one frame of a location without lines, named by unsymbolized_name. */
static int
expand_unsymbolized(builder_t *b, size_t i, const profile_location_t *l,
                    const profile_mapping_t *mp, const char *file)
{
    char name[300];
    unsymbolized_name(name, sizeof name, l, mp, file);
    model_frame_t f = {.func = name,
                       .file = "",
                       .addr = l->address,
                       .interp = file[0] != '\0' && interp_mapping(file),
                       .unnamed = true};
    return push_frame(b, i, &f, true);
}

/* Frames of location l (position i) into b->loc_frames. */
static int
expand_location(builder_t *b, size_t i, const profile_location_t *l)
{
    profile_t *p = b->m->prof;
    b->loc_first[i] = b->nloc_frames;
    b->loc_count[i] = 0;
    const profile_mapping_t *mp =
        l->mapping_id ? profile_mapping(p, l->mapping_id) : NULL;
    const char *file = mp != NULL ? profile_str(p, mp->filename) : "";
    if (l->n_line == 0)
        return expand_unsymbolized(b, i, l, mp, file);
    bool python = l->mapping_id == 0 && l->address == 0;
    bool by_name = file[0] == '\0' && !python;
    model_frame_t f = {.addr = l->address,
                       .symbolic = l->mapping_id == 0,
                       .python = python,
                       .interp = file[0] != '\0' && interp_mapping(file)};
    for (size_t k = 0; k < l->n_line; k++) {
        const profile_line_t *ln = l->line[k];
        const profile_function_t *fn = profile_function(p, ln->function_id);
        f.func = fn != NULL ? profile_str(p, fn->name) : "?";
        if (f.func[0] == '\0' && fn != NULL)
            f.func = profile_str(p, fn->system_name);
        if (f.func[0] == '\0')
            f.func = "?";
        f.file = fn != NULL ? profile_str(p, fn->filename) : "";
        f.line = ln->line;
        if (by_name)
            f.interp = interp_function(f.func);
        int e = push_frame(b, i, &f, false);
        if (e != 0)
            return e;
    }
    return 0;
}

/* Whether some native location lacks lines (then symbolize). */
static bool
wants_symbols(const profile_t *p)
{
    for (size_t i = 0; i < p->pb->n_location; i++) {
        const profile_location_t *l = p->pb->location[i];
        if (l->n_line == 0 && l->mapping_id != 0)
            return true;
    }
    return false;
}

/* Position of location id in pb->location (checked profiles: exists). */
static size_t
loc_pos(const profile_t *p, uint64_t id)
{
    if (p->locations.dense)
        return (size_t)(id - 1);
    size_t lo = 0, hi = p->locations.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->locations.ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return p->locations.pos[lo];
}

static void
read_labels(const profile_t *p, const Perftools__Profiles__Sample *ps,
            model_sample_t *s)
{
    for (size_t k = 0; k < ps->n_label; k++) {
        const Perftools__Profiles__Label *lb = ps->label[k];
        const char *key = profile_str(p, lb->key);
        if (strcmp(key, "thread") == 0 && lb->str != 0)
            s->thread = profile_str(p, lb->str);
        else if (strcmp(key, "allocator") == 0 && lb->str != 0)
            s->allocator = profile_str(p, lb->str);
        else if (strcmp(key, "reachable") == 0 && lb->str != 0)
            s->reachable = profile_str(p, lb->str);
        else if (strcmp(key, "bytes") == 0 && lb->str == 0)
            s->bytes = lb->num;
    }
}

static int
build(model_t *m, const model_opts_t *o, char *err, size_t errlen)
{
    profile_t *p = m->prof;
    const profile_pb_t *pb = p->pb;
    m->ntypes = pb->n_sample_type;
    m->type_names = calloc(m->ntypes + 1, sizeof(char *));
    m->type_units = calloc(m->ntypes + 1, sizeof(char *));
    if (m->type_names == NULL || m->type_units == NULL)
        return model_err(err, errlen, ENOMEM, "%s: out of memory", m->path);
    for (size_t i = 0; i < m->ntypes; i++) {
        m->type_names[i] = profile_str(p, pb->sample_type[i]->type);
        m->type_units[i] = profile_str(p, pb->sample_type[i]->unit);
    }
    int e = model_select(m, o != NULL ? o->sample_index : NULL, err, errlen);
    if (e != 0)
        return e;
    m->period = pb->period;
    m->time_nanos = pb->time_nanos;
    m->duration_nanos = pb->duration_nanos;

    builder_t b = {.m = m};
    hmap_init(&b.frames);
    size_t nloc = pb->n_location;
    b.loc_first = calloc(nloc + 1, sizeof(size_t));
    b.loc_count = calloc(nloc + 1, sizeof(size_t));
    m->samples = calloc(pb->n_sample + 1, sizeof(model_sample_t));
    e = b.loc_first && b.loc_count && m->samples ? 0 : ENOMEM;
    for (size_t i = 0; e == 0 && i < nloc; i++) {
        e = expand_location(&b, i, pb->location[i]);
        if ((i & 4095) == 0)
            model_progress("reading locations", i, nloc);
    }
    model_progress("reading locations", nloc, nloc);
    size_t all_frames = 0;
    for (size_t i = 0; e == 0 && i < pb->n_sample; i++) {
        const Perftools__Profiles__Sample *ps = pb->sample[i];
        model_sample_t *s = &m->samples[m->nsamples];
        size_t depth = 0;
        for (size_t k = 0; k < ps->n_location_id; k++)
            depth += b.loc_count[loc_pos(p, ps->location_id[k])];
        all_frames += depth;
        if (all_frames > MODEL_MAX_FRAMES) {
            e = EFBIG;
            break;
        }
        *s = (model_sample_t){.values = ps->value, .index = i};
        s->stack = malloc((depth ? depth : 1) * sizeof(uint32_t));
        if (s->stack == NULL) {
            e = ENOMEM;
            break;
        }
        for (size_t k = 0; k < ps->n_location_id; k++) {
            size_t at = loc_pos(p, ps->location_id[k]);
            memcpy(s->stack + s->depth, b.loc_frames + b.loc_first[at],
                   b.loc_count[at] * sizeof(uint32_t));
            s->depth += (uint32_t)b.loc_count[at];
        }
        read_labels(p, ps, s);
        m->nsamples++;
    }
    hmap_destroy(&b.frames);
    free(b.loc_frames);
    free(b.loc_first);
    free(b.loc_count);
    if (e == EFBIG)
        return model_err(err, errlen, EINVAL,
                         "%s: too large: its stacks expand to more than %zu "
                         "frames",
                         m->path, MODEL_MAX_FRAMES);
    if (e != 0)
        return model_err(err, errlen, e, "%s: out of memory", m->path);
    return 0;
}

int
model_from_profile(profile_t *p, const char *name, const model_opts_t *o,
                   model_t **r_m, char *err, size_t errlen)
{
    *r_m = NULL;
    model_t *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->path = strdup(name)) == NULL) {
        free(m);
        profile_free(p);
        return model_err(err, errlen, ENOMEM, "%s: out of memory", name);
    }
    m->prof = p;
    if ((o == NULL || !o->no_symbolize) && wants_symbols(p)) {
        symbolize_opts_t so = {
            .debug_dirs = o != NULL ? o->debug_dirs : NULL,
            .ndebug_dirs = o != NULL ? o->ndebug_dirs : 0,
        };
        symbolize_stats_t st;
        if (symbolize_profile(p, &so, &st) != 0) {
            model_free(m);
            return model_err(err, errlen, ENOMEM, "%s: out of memory", name);
        }
    }
    int e = build(m, o, err, errlen);
    if (e != 0) {
        model_free(m);
        return e;
    }
    for (size_t i = 0; o != NULL && o->no_interpreter && i < m->nsamples; i++)
        hide_interpreter(m, &m->samples[i]);
    e = name_rows(m, o, err, errlen);
    if (e != 0) {
        model_free(m);
        return e;
    }
    *r_m = m;
    return 0;
}

int
model_load(const char *path, const model_opts_t *o, model_t **r_m, char *err,
           size_t errlen)
{
    profile_t *p;
    *r_m = NULL;
    int e = profile_read(path, &p, err, errlen);
    if (e != 0)
        return e;
    return model_from_profile(p, path, o, r_m, err, errlen);
}

void
model_free(model_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nsamples; i++)
        free(m->samples[i].stack);
    free(m->samples);
    free(m->frames);
    for (size_t i = 0; i < m->nnames; i++)
        free(m->names[i]);
    free(m->names);
    free(m->type_names);
    free(m->type_units);
    profile_free(m->prof);
    free(m->path);
    free(m);
}

/* ---- filters ---- */

int
model_filter_init(model_filter_t *f, const char *focus, const char *ignore,
                  char *err, size_t errlen)
{
    *f = (model_filter_t){0};
    if (focus != NULL) {
        int e = naming_regcomp(&f->focus, focus, "--focus", err, errlen);
        if (e != 0)
            return e;
        f->has_focus = true;
    }
    if (ignore != NULL) {
        int e = naming_regcomp(&f->ignore, ignore, "--ignore", err, errlen);
        if (e != 0) {
            model_filter_free(f);
            return e;
        }
        f->has_ignore = true;
    }
    return 0;
}

void
model_filter_free(model_filter_t *f)
{
    if (f->has_focus)
        regfree(&f->focus);
    if (f->has_ignore)
        regfree(&f->ignore);
    f->has_focus = f->has_ignore = false;
}

bool
model_filter_keeps(const model_t *m, const model_filter_t *f,
                   const model_sample_t *s)
{
    bool focused = !f->has_focus;
    for (uint32_t i = 0; i < s->depth; i++) {
        const char *fn = m->frames[s->stack[i]].func;
        if (f->has_ignore && regexec(&f->ignore, fn, 0, NULL, 0) == 0)
            return false;
        if (!focused && regexec(&f->focus, fn, 0, NULL, 0) == 0)
            focused = true;
    }
    return focused;
}

/* ---- formatting ---- */

void
model_fmt_value(char *buf, size_t size, double v, const char *unit, bool sign)
{
    const char *s = sign ? (v < 0 ? "-" : "+") : (v < 0 ? "-" : "");
    double a = fabs(v);
    bool bytes = unit != NULL && strcmp(unit, "bytes") == 0;
    static const char *const bin[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    static const char *const dec[] = {"", "k", "M", "G", "T", "P"};
    double base = bytes ? 1024 : 1000;
    unsigned k = 0;
    while (a >= base && k < 5) {
        a /= base;
        k++;
    }
    const char *u = bytes ? bin[k] : dec[k];
    if (k == 0)
        snprintf(buf, size, "%s%.0f%s%s", s, a, bytes ? " " : "", u);
    else
        snprintf(buf, size, "%s%.*f %s", s, a < 10 ? 2 : a < 100 ? 1 : 0, a, u);
}

unsigned
model_term_width(void)
{
    const char *c = getenv("COLUMNS");
    if (c != NULL) {
        long w = strtol(c, NULL, 10);
        if (w >= 40 && w <= 1000)
            return (unsigned)w;
    }
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
        ws.ws_col >= 40)
        return ws.ws_col;
    return 100;
}

void
model_fit(char *dst, size_t size, const char *src, unsigned width)
{
    if (size == 0)
        return;
    size_t i = 0, out = 0;
    unsigned cols = 0;
    size_t len = strlen(src);
    /* Display columns of the whole string (one per code point). */
    unsigned total = 0;
    for (size_t k = 0; k < len; k++)
        total += ((unsigned char)src[k] & 0xc0) != 0x80;
    unsigned limit = total <= width ? width : (width > 0 ? width - 1 : 0);
    while (i < len) {
        size_t n = 1;
        while (i + n < len && ((unsigned char)src[i + n] & 0xc0) == 0x80)
            n++;
        if (cols + 1 > limit || out + n + 4 > size)
            break;
        memcpy(dst + out, src + i, n);
        out += n;
        i += n;
        cols++;
    }
    if (i < len && out + 4 <= size && width > 0) {
        memcpy(dst + out, "\xe2\x80\xa6", 3); /* … */
        out += 3;
    }
    dst[out] = '\0';
}

void
model_fit_name(char *dst, size_t size, const char *name, unsigned width)
{
    static const char mark[] = MODEL_SEP "\xe2\x80\xa6"; /* " ← …" */
    size_t len = strlen(name), cut = 0;
    if (fit_cols(name, len) > width) {
        /* The longest run of whole frames that fits before the mark. */
        for (const char *p = strstr(name, MODEL_SEP); p != NULL;
             p = strstr(p + 1, MODEL_SEP)) {
            size_t at = (size_t)(p - name);
            if (fit_cols(name, at) + fit_cols(mark, sizeof mark - 1) > width)
                break;
            cut = at;
        }
    }
    /* A boundary that would leave most of the width empty: cut inside. */
    if (cut == 0 || fit_cols(name, cut) < width / 2 ||
        cut + sizeof mark > size) {
        model_fit(dst, size, name, width);
        return;
    }
    memcpy(dst, name, cut);
    memcpy(dst + cut, mark, sizeof mark);
}

void
model_frame_name(char *dst, size_t size, const model_frame_t *f, bool with_line)
{
    if (!with_line || f->file[0] == '\0')
        snprintf(dst, size, "%s", f->func);
    else if (f->line > 0)
        snprintf(dst, size, "%s %s:%" PRId64, f->func, f->file, f->line);
    else
        snprintf(dst, size, "%s %s", f->func, f->file);
}

void
model_progress(const char *what, size_t done, size_t total)
{
    static struct timespec last;
    static bool shown;
    if (!isatty(STDERR_FILENO) || total == 0)
        return;
    if (done >= total) {
        if (shown)
            fputs("\r\033[K", stderr);
        shown = false;
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - last.tv_sec) +
                (double)(now.tv_nsec - last.tv_nsec) / 1e9;
    if (shown && dt < 0.1)
        return;
    last = now;
    shown = true;
    fprintf(stderr, "\r%s: %3.0f%%", what,
            100.0 * (double)done / (double)total);
}
