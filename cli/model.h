/*
 * model.h — a profile made ready for reports: what `top`, `leaks`,
 * `diff`, `trend`, `flamegraph`, `graph`, `merge` and `convert` work on.
 *
 * Owns: choosing the sample type to show (as pprof does: the one asked
 * for by name or index, else the profile's default_sample_type, else its
 * last), symbolizing on the fly a profile whose native locations have no
 * lines (symbolize.h, from local binaries by build ID), turning every
 * location into frames (inlined functions first, as pprof lists them) and
 * interning the frames, the focus/ignore filters, and the shared
 * formatting of reports: human units, truncation to the terminal's width,
 * progress on a terminal.  The profile itself stays owned by the model
 * (m->prof) for subcommands that rewrite it (merge, convert).
 *
 * Frames: a location with Lines gives one frame per Line (innermost first:
 * inlined callees, then the function holding the address); a location
 * without (unsymbolized, no file found) gives one frame named module and
 * file offset, "libfoo.so+0x1c5e3" (offset = address - memory_start +
 * file_offset; why, in model.c), or "0x<address>" without a mapping file.
 * Frames are equal when function, file, line and kind are, and for a
 * native frame without a file its address too, so two unsymbolized
 * addresses are never one frame:
 *     addr(a) != addr(b), file(a) = "" = file(b), native  =>  a != b
 * A stack is an array of frame ids, leaf first.
 *
 * Kinds, for Python programs (docs/PYTHON.md, "Python-first views"): a
 * Python frame is a location with no mapping and no address, as
 * heapsight's frame hook writes them (prof/pprof.c); an interpreter frame
 * is a native one of CPython itself: its mapping is a python executable
 * (python3, python3.11, python3.12d) or libpython (libpython3.12.so.1.0),
 * or, when the location names no mapping file, its function is one of
 * CPython's by name (_Py*, Py*_, method_vectorcall*, cfunction_*,
 * slot_tp_*, ...).  C extensions (_sqlite3.cpython-311-...so) and other
 * libraries are native, never interpreter frames.  With no_interpreter,
 * each stack holding a Python frame keeps only what lies inside (leaf
 * side of) its outermost Python frame, that frame included, less every
 * interpreter frame:
 *     kept(s) = { s[i] : i <= outermost Python index, s[i] not interp }
 * so `<module> → main → load_batch → sqlite3_step → malloc` reads without
 * the eval loop, the calls between Python frames and the start-up frames
 * (_start, Py_BytesMain).  Stacks without a Python frame are unchanged.
 *
 * Row names: a report that lists stacks as rows (top --by stack, diff,
 * trend, the site headers of leaks) names each by its function names
 * from s[name_at] to the root, joined by " ← " (MODEL_SEP); name_at is
 * the first frame that is not allocator or runtime plumbing (naming.h has
 * the rule and its options), computed once here, after no_interpreter:
 *     name(s) = s[name_at] ← s[name_at + 1] ← ... ← s[depth - 1]
 * The stack itself stays whole.  A width cuts a name's root-ward end.
 *
 * Provenance: heapsight's profiles name their process in comments
 * ("process: pid N, ...", "command: ..."); model_origin makes the line
 * the report headers show from them.
 *
 * Errors: one line naming the file and the problem into err; functions
 * return 0 or an errno value (EINVAL: not a profile, or a bad option such
 * as an unknown sample type).
 *
 * Threading: none.
 */
#ifndef HS_CLI_MODEL_H
#define HS_CLI_MODEL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "naming.h"
#include "profile_io.h"

/* Between the function names of a row's name, leaf first. */
#define MODEL_SEP " \xe2\x86\x90 " /* " ← " */

typedef struct model_frame_s {
    const char *func; /* never NULL */
    const char *file; /* "" when unknown */
    int64_t line;     /* 0 when unknown */
    uint64_t addr;    /* its location's address; 0 for symbolic frames */
    bool symbolic;    /* no mapping: an interpreter's frame (Python) */
    bool python;      /* a Python function: no mapping and no address */
    bool interp;      /* native, in the CPython interpreter itself */
    bool unnamed;     /* no function: named module+offset or 0x<address> */
} model_frame_t;

typedef struct model_sample_s {
    const int64_t *values; /* one per sample type */
    uint32_t *stack;       /* frame ids, leaf first */
    uint32_t depth;
    const char *thread;    /* label "thread", or NULL */
    const char *allocator; /* label "allocator", or NULL */
    const char *reachable; /* label "reachable" ("yes", "no"), or NULL */
    int64_t bytes;         /* numeric label "bytes" (object size), or 0 */
    size_t index;          /* the sample's position in m->prof->pb */
    uint32_t name_at;      /* its row's name starts at stack[name_at] */
} model_sample_t;

typedef struct model_s {
    profile_t *prof;
    char *path;
    size_t ntypes;
    const char **type_names; /* sample types, e.g. "inuse_space" */
    const char **type_units; /* e.g. "bytes", "count" */
    size_t vi;               /* the chosen sample type */
    model_frame_t *frames;
    size_t nframes;
    char **names; /* frame names made here (module+offset), owned */
    size_t nnames, cap_names;
    model_sample_t *samples;
    size_t nsamples;
    int64_t period;     /* mean sample interval (bytes for heaps) */
    int64_t time_nanos; /* when the profile was taken; 0 unknown */
    int64_t duration_nanos;
} model_t;

typedef struct model_opts_s {
    const char *sample_index;      /* a name or a number; NULL: default */
    bool no_symbolize;             /* keep unsymbolized locations as is */
    const char *const *debug_dirs; /* for on-the-fly symbolization */
    size_t ndebug_dirs;
    bool no_interpreter; /* hide CPython's frames around Python frames */
    const naming_opts_t *naming; /* row names; NULL: naming_cmdline() */
} model_opts_t;

/* Reads path into a new model.  Returns 0, or an errno value with one
 * line in err: the file cannot be read, it is not a profile, the sample
 * type does not exist in it. */
int model_load(const char *path, const model_opts_t *o, model_t **r_m,
               char *err, size_t errlen);
/* The same for a profile already read (taken over by the model; it is
 * freed with the model, also on failure). */
int model_from_profile(profile_t *p, const char *name, const model_opts_t *o,
                       model_t **r_m, char *err, size_t errlen);
void model_free(model_t *m);

/* Picks the sample type by name or index (for diff, where both profiles
 * must show the same type); 0 or EINVAL with err. */
int model_select(model_t *m, const char *sample_index, char *err,
                 size_t errlen);

static inline int64_t
model_value(const model_t *m, const model_sample_t *s)
{
    return s->values[m->vi];
}

static inline const char *
model_unit(const model_t *m)
{
    return m->type_units[m->vi];
}

/* acc += v, wrapping as pprof's int64 sums do: the values come from the
 * file, and a sum of hostile ones must not be undefined behaviour. */
static inline void
model_add(int64_t *acc, int64_t v)
{
    *acc = (int64_t)((uint64_t)*acc + (uint64_t)v);
}

/* The sum of the chosen value over all samples (wrapping, model_add). */
int64_t model_total(const model_t *m);

/* ---- row names and provenance ---- */

/* s as its row's name sees it: stack and depth from stack[name_at] (for
 * code that names rows by walking a stack, as stats.h's sites do). */
static inline model_sample_t
model_named(const model_sample_t *s)
{
    model_sample_t v = *s;
    v.stack += s->name_at;
    v.depth -= s->name_at;
    v.name_at = 0;
    return v;
}

/* s's row name, "cache_put ← main" ("[no stack]" without frames), into
 * dst, cut at size (the root-ward end goes). */
void model_sample_name(char *dst, size_t size, const model_t *m,
                       const model_sample_t *s);

/* The text after key of m's first comment that starts with key
 * ("command: "), or NULL. */
const char *model_comment(const model_t *m, const char *key);

/* "git clone a b (pid 123)" from m's comments "command: " and "process:
 * pid N, ..." (with ", and K more processes" for a merged profile), the
 * command line cut to fit width columns with the pid whole; false, with
 * dst "", when m has no command comment (or size < 64). */
bool model_origin(const model_t *m, char *dst, size_t size, unsigned width);

/* ---- filters: --focus RE and --ignore RE on function names ---- */

typedef struct model_filter_s {
    regex_t focus, ignore;
    bool has_focus, has_ignore;
} model_filter_t;

/* Compiles the regular expressions (POSIX extended; NULL: none).  0, or
 * EINVAL with a line in err naming the bad expression. */
int model_filter_init(model_filter_t *f, const char *focus, const char *ignore,
                      char *err, size_t errlen);
void model_filter_free(model_filter_t *f);
/* Whether a sample is kept: some frame matches focus (when given) and
 * none matches ignore (when given). */
bool model_filter_keeps(const model_t *m, const model_filter_t *f,
                        const model_sample_t *s);

/* ---- report formatting ---- */

/* "12.4 MiB", "512 B", "1.2 k" (counts), with a sign when signed. */
void model_fmt_value(char *buf, size_t size, double v, const char *unit,
                     bool sign);
/* The terminal's width in columns ($COLUMNS, then the tty, else 100). */
unsigned model_term_width(void);
/* Copies src into dst cut to at most width display columns, with "…"
 * at the end when cut (UTF-8 aware). */
void model_fit(char *dst, size_t size, const char *src, unsigned width);
/* The same for a row name (model_sample_name): cut after a whole frame,
 * "cache_put ← main ← …", when that keeps at least half the width; else
 * as model_fit.  The root-ward end is what goes. */
void model_fit_name(char *dst, size_t size, const char *name, unsigned width);
/* "func file:line", "func file" or "func", as pprof's -lines shows. */
void model_frame_name(char *dst, size_t size, const model_frame_t *f,
                      bool with_line);
/* A progress line on stderr when it is a terminal ("what: 45%"), at most
 * every 100 ms; done == total clears it. */
void model_progress(const char *what, size_t done, size_t total);

#endif /* HS_CLI_MODEL_H */
