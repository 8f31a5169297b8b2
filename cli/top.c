/*
 * top.c — `heapsight top PROFILE [--sample-index T] [--by KIND] [-n N]
 * [--focus RE] [--ignore RE] [--no-interpreter] [--drop RE] [--keep RE]
 * [--show-from RE] [--full-names]`: the heaviest functions (files, lines
 * or whole stacks) of one profile, flat and cumulative, as `go tool pprof
 * -top` lists them.
 *
 * Owns: the table of entries (one per function, file, "func file:line" or
 * distinct stack), their sums, their order and the printed report.  The
 * profile, its frames and the filters belong to the model (model.h).
 *
 * What the numbers are, over the samples kept by the filters whose chosen
 * value is nonzero (pprof skips the others too):
 *   total = Σ value(s)
 *   flat(e) = Σ value(s) over samples whose leaf frame belongs to e
 *   cum(e)  = Σ value(s) over samples with at least one frame in e: a
 *             recursive stack counts once (stamp: the last sample that
 *             added to cum(e), plus one);
 *   so Σ flat(e) = total (a sample without frames is the entry
 *   "[no stack]"), and flat(e) <= cum(e) when values are nonnegative.
 * In --by stack, an entry is a distinct row name: the function names of
 * a stack from its name_at (past the allocator's plumbing, naming.h) to
 * the root, so stacks that differ only in plumbing are one entry; cum =
 * flat (only flat is printed).
 * Percentages are of total; sum% is the running sum of flat% in the
 * printed order: flat descending, then cum descending, then name.
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
#include "viz/strbuf.h"

typedef enum top_by_e {
    TOP_BY_FUNCTION,
    TOP_BY_FILE,
    TOP_BY_LINE,
    TOP_BY_STACK,
} top_by_t;

/* Per kind: the --by word and the noun of the header (singular, plural). */
static const char *const top_by_names[][3] = {
    [TOP_BY_FUNCTION] = {"function", "function", "functions"},
    [TOP_BY_FILE] = {"file", "file", "files"},
    [TOP_BY_LINE] = {"line", "line", "lines"},
    [TOP_BY_STACK] = {"stack", "stack", "stacks"},
};

#define TOP_DEFAULT_N 20
#define TOP_NO_STACK "[no stack]"

typedef struct top_opts_s {
    const char *path;
    const char *sample_index; /* NULL: the profile's default */
    const char *focus, *ignore;
    top_by_t by;
    size_t n;             /* rows to print; 0: all */
    bool no_interpreter;  /* hide CPython's frames (model.h) */
    naming_opts_t naming; /* how --by stack names rows (naming.h) */
} top_opts_t;

typedef struct top_entry_s {
    char *name; /* owned */
    int64_t flat, cum;
    size_t stamp; /* the last sample (index + 1) counted in cum */
    bool touched; /* some kept sample has a frame in it */
} top_entry_t;

typedef struct top_table_s {
    hmap_t ids; /* key → entry index */
    top_entry_t *e;
    size_t n, cap;
    uint32_t *of_frame; /* model frame id → entry index */
    size_t listed;      /* after top_order: e[0 .. listed) are listed */
} top_table_t;

typedef struct top_report_s {
    top_table_t t;     /* the entries that are listed */
    top_table_t funcs; /* --by stack: functions, to key the stacks */
    int64_t total;     /* of kept samples */
    int64_t all;       /* of every sample, before the filters */
} top_report_t;

static int top_main(int argc, char **argv);

const cmd_t cmd_top = {
    .name = "top",
    .summary = "the heaviest functions, files, lines or stacks of a profile",
    .usage =
        "usage: heapsight top PROFILE [options]\n"
        "\n"
        "Lists where PROFILE's memory is, heaviest first, as\n"
        "`go tool pprof -top` does: for each entry its flat value (samples\n"
        "whose innermost frame is in it), its cumulative value (samples with\n"
        "any frame in it, counted once under recursion), their percentages\n"
        "of the total, and the running sum of flat%.  Addresses without\n"
        "symbols are symbolized on the fly from local files.\n"
        "\n"
        "options:\n"
        "      --sample-index T  the value to show: inuse_space (the default\n"
        "                        of heapsight's profiles), inuse_objects,\n"
        "                        alloc_space, alloc_objects, or any sample\n"
        "                        type or index of PROFILE\n"
        "      --by KIND         function (default), file, line (\"func\n"
        "                        file:line\"), or stack (stacks of function\n"
        "                        names from the first frame past malloc and\n"
        "                        its wrappers, the plumbing, to the root:\n"
        "                        cache_put <- main for malloc <- xmalloc <-\n"
        "                        cache_put <- main; docs/PROFILING.md, \"How\n"
        "                        rows are named\"); a frame with no file\n"
        "                        counts under its own name in --by file\n"
        "  -n N                  print the N heaviest entries (default 20;\n"
        "                        0: all)\n"
        "      --focus RE        keep only samples with a function matching\n"
        "                        RE (POSIX extended regular expression)\n"
        "      --ignore RE       drop samples with a function matching RE\n"
        "      --no-interpreter  Python first: in stacks with Python frames,\n"
        "                        hide the CPython interpreter's own frames\n"
        "                        (eval loop, calls, start-up), so a stack\n"
        "                        reads <module> -> main -> load_batch ->\n"
        "                        sqlite3_step (docs/PYTHON.md)\n" NAMING_USAGE
        "  -h, --help            this text\n"
        "\n"
        "Percentages are of the samples kept by --focus and --ignore.  Names\n"
        "are cut to the terminal's width ($COLUMNS, else the terminal's), at\n"
        "their root-ward end.  A profile that names its command line shows\n"
        "it under File.\n"
        "\n"
        "exit status: 0 done, 2 bad usage or PROFILE unreadable.\n",
    .main = top_main,
};
CMD_REGISTER(cmd_top, CMD_ORDER_TOP);

/* ---- the table ---------------------------------------------------------- */

static void
top_table_free(top_table_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->e[i].name);
    free(t->e);
    free(t->of_frame);
    hmap_destroy(&t->ids);
}

/* The index of the entry with key (name is what it prints as, copied);
 * UINT32_MAX if out of memory. */
static uint32_t
top_table_intern(top_table_t *t, const void *key, size_t len, const char *name)
{
    uint64_t id;
    if (hmap_get(&t->ids, key, len, &id))
        return (uint32_t)id;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        top_entry_t *e = realloc(t->e, cap * sizeof(*e));
        if (e == NULL)
            return UINT32_MAX;
        t->e = e;
        t->cap = cap;
    }
    char *copy = strdup(name);
    if (copy == NULL || hmap_put(&t->ids, key, len, t->n) != 0) {
        free(copy);
        return UINT32_MAX;
    }
    t->e[t->n] = (top_entry_t){.name = copy};
    return (uint32_t)t->n++;
}

/* The name of frame f's entry when grouped by `by` (not TOP_BY_STACK). */
static void
top_frame_key(strbuf_t *b, const model_frame_t *f, top_by_t by)
{
    b->len = 0;
    if (by == TOP_BY_FILE && f->file[0] != '\0')
        strbuf_puts(b, f->file);
    else if (by != TOP_BY_LINE || f->file[0] == '\0')
        strbuf_puts(b, f->func);
    else if (f->line > 0)
        strbuf_printf(b, "%s %s:%" PRId64, f->func, f->file, f->line);
    else
        strbuf_printf(b, "%s %s", f->func, f->file);
}

/* Maps every frame of m to its entry of t (grouped by `by`). */
static int
top_map_frames(top_table_t *t, const model_t *m, top_by_t by)
{
    t->of_frame = calloc(m->nframes + 1, sizeof(uint32_t));
    strbuf_t name = STRBUF_INIT;
    int e = t->of_frame != NULL ? 0 : ENOMEM;
    for (size_t i = 0; e == 0 && i < m->nframes; i++) {
        top_frame_key(&name, &m->frames[i], by);
        uint32_t id = name.failed
                          ? UINT32_MAX
                          : top_table_intern(t, name.s, name.len, name.s);
        if (id == UINT32_MAX)
            e = ENOMEM;
        else
            t->of_frame[i] = id;
    }
    strbuf_free(&name);
    return e;
}

/* ---- summing ------------------------------------------------------------ */

/* Adds sample s (number k, value v) to the entries of its frames. */
static int
top_add_frames(top_report_t *r, const model_sample_t *s, size_t k, int64_t v)
{
    top_table_t *t = &r->t;
    if (s->depth == 0) {
        uint32_t id = top_table_intern(t, TOP_NO_STACK, sizeof TOP_NO_STACK,
                                       TOP_NO_STACK);
        if (id == UINT32_MAX)
            return ENOMEM;
        model_add(&t->e[id].flat, v);
        model_add(&t->e[id].cum, v);
        t->e[id].touched = true;
        return 0;
    }
    model_add(&t->e[t->of_frame[s->stack[0]]].flat, v);
    for (uint32_t i = 0; i < s->depth; i++) {
        top_entry_t *e = &t->e[t->of_frame[s->stack[i]]];
        if (e->stamp != k + 1) {
            e->stamp = k + 1;
            model_add(&e->cum, v);
            e->touched = true;
        }
    }
    return 0;
}

/* "first ← caller ← … ← root" of s's row name (model.h) into b. */
static void
top_stack_name(strbuf_t *b, const top_report_t *r, const model_sample_t *s)
{
    b->len = 0;
    if (s->depth == 0)
        strbuf_puts(b, TOP_NO_STACK);
    for (uint32_t i = s->name_at; i < s->depth; i++) {
        if (i > s->name_at)
            strbuf_puts(b, MODEL_SEP);
        strbuf_puts(b, r->funcs.e[r->funcs.of_frame[s->stack[i]]].name);
    }
}

/* Adds sample s (value v) to the entry of its row name: the functions of
 * its frames from name_at. */
static int
top_add_stack(top_report_t *r, const model_sample_t *s, int64_t v,
              uint32_t **key, size_t *cap, strbuf_t *name)
{
    uint32_t n = s->depth - s->name_at;
    if (n > *cap) {
        uint32_t *k = realloc(*key, n * sizeof(uint32_t));
        if (k == NULL)
            return ENOMEM;
        *key = k;
        *cap = n;
    }
    for (uint32_t i = 0; i < n; i++)
        (*key)[i] = r->funcs.of_frame[s->stack[s->name_at + i]];
    size_t len = n * sizeof(uint32_t);
    uint64_t id;
    if (!hmap_get(&r->t.ids, *key, len, &id)) {
        top_stack_name(name, r, s);
        if (name->failed)
            return ENOMEM;
        id = top_table_intern(&r->t, *key, len, name->s);
        if (id == UINT32_MAX)
            return ENOMEM;
    }
    model_add(&r->t.e[id].flat, v);
    model_add(&r->t.e[id].cum, v);
    r->t.e[id].touched = true;
    return 0;
}

/* Fills r from m's samples kept by f. */
static int
top_sum(top_report_t *r, const model_t *m, const model_filter_t *f, top_by_t by)
{
    int e = top_map_frames(by == TOP_BY_STACK ? &r->funcs : &r->t, m,
                           by == TOP_BY_STACK ? TOP_BY_FUNCTION : by);
    uint32_t *key = NULL;
    size_t cap = 0;
    strbuf_t name = STRBUF_INIT;
    for (size_t k = 0; e == 0 && k < m->nsamples; k++) {
        const model_sample_t *s = &m->samples[k];
        int64_t v = model_value(m, s);
        model_add(&r->all, v);
        if (v == 0 || !model_filter_keeps(m, f, s))
            continue;
        model_add(&r->total, v);
        e = by == TOP_BY_STACK ? top_add_stack(r, s, v, &key, &cap, &name)
                               : top_add_frames(r, s, k, v);
    }
    free(key);
    strbuf_free(&name);
    return e;
}

/* ---- the report --------------------------------------------------------- */

static int
top_entry_cmp(const void *a, const void *b)
{
    const top_entry_t *x = a, *y = b;
    if (x->flat != y->flat)
        return x->flat > y->flat ? -1 : 1;
    if (x->cum != y->cum)
        return x->cum > y->cum ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Drops the entries no kept sample reached, then sorts the rest (the
 * ids map is stale afterwards). */
static void
top_order(top_table_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].touched) {
            top_entry_t keep = t->e[i];
            t->e[i] = t->e[n];
            t->e[n++] = keep;
        }
    }
    if (n > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(t->e, n, sizeof(top_entry_t), top_entry_cmp);
    t->listed = n;
}

/* Column widths of the printed rows. */
typedef struct top_widths_s {
    int flat, pct, cum;
} top_widths_t;

static double
top_pct(int64_t v, int64_t total)
{
    return total != 0 ? 100.0 * (double)v / (double)total : 0.0;
}

static int
top_max(int a, int b)
{
    return a > b ? a : b;
}

static top_widths_t
top_widths(const top_report_t *r, const model_t *m, size_t rows)
{
    top_widths_t w = {(int)strlen("flat"), (int)strlen("100.00%"),
                      (int)strlen("cum")};
    char buf[64];
    double sum = 0;
    for (size_t i = 0; i < rows; i++) {
        const top_entry_t *e = &r->t.e[i];
        model_fmt_value(buf, sizeof buf, (double)e->flat, model_unit(m), false);
        w.flat = top_max(w.flat, (int)strlen(buf));
        model_fmt_value(buf, sizeof buf, (double)e->cum, model_unit(m), false);
        w.cum = top_max(w.cum, (int)strlen(buf));
        sum += top_pct(e->flat, r->total);
        double pcts[3] = {top_pct(e->flat, r->total), sum,
                          top_pct(e->cum, r->total)};
        for (size_t k = 0; k < 3; k++)
            w.pct =
                top_max(w.pct, snprintf(buf, sizeof buf, "%.2f%%", pcts[k]));
    }
    return w;
}

/* "Total: ..." with what the filters kept. */
static void
top_print_total(const top_report_t *r, const model_t *m, const top_opts_t *o)
{
    char total[64], all[64];
    model_fmt_value(total, sizeof total, (double)r->total, model_unit(m),
                    false);
    if (o->focus == NULL && o->ignore == NULL) {
        printf("Total: %s\n", total);
        return;
    }
    model_fmt_value(all, sizeof all, (double)r->all, model_unit(m), false);
    printf("Total: %s of %s (", total, all);
    if (o->focus != NULL)
        printf("--focus '%s'%s", o->focus, o->ignore != NULL ? ", " : "");
    if (o->ignore != NULL)
        printf("--ignore '%s'", o->ignore);
    printf(")\n");
}

static void
top_print_header(const top_report_t *r, const model_t *m, const top_opts_t *o,
                 size_t rows)
{
    char origin[4096];
    printf("File: %s\n", m->path);
    if (model_origin(m, origin, sizeof origin, model_term_width() - 9))
        printf("Command: %s\n", origin);
    printf("Type: %s\n", m->type_names[m->vi]);
    if (o->no_interpreter)
        printf("Hidden: CPython's frames (--no-interpreter)\n");
    top_print_total(r, m, o);
    const char *const *noun = top_by_names[o->by];
    printf("Showing %zu of %zu %s\n", rows, r->t.listed,
           r->t.listed == 1 ? noun[1] : noun[2]);
}

static void
top_print_row(const top_report_t *r, const model_t *m, const top_opts_t *o,
              const top_widths_t *w, size_t i, double *sum)
{
    const top_entry_t *e = &r->t.e[i];
    char flat[64], cum[64], pct[3][32], name[4096];
    model_fmt_value(flat, sizeof flat, (double)e->flat, model_unit(m), false);
    model_fmt_value(cum, sizeof cum, (double)e->cum, model_unit(m), false);
    *sum += top_pct(e->flat, r->total);
    snprintf(pct[0], sizeof pct[0], "%.2f%%", top_pct(e->flat, r->total));
    snprintf(pct[1], sizeof pct[1], "%.2f%%", *sum);
    snprintf(pct[2], sizeof pct[2], "%.2f%%", top_pct(e->cum, r->total));
    int used = w->flat + 1 + w->pct + 1 + w->pct + 2;
    if (o->by != TOP_BY_STACK)
        used += 1 + w->cum + 1 + w->pct;
    int room = (int)model_term_width() - used;
    unsigned width = room < 16 ? 16 : (unsigned)room;
    if (o->by == TOP_BY_STACK)
        model_fit_name(name, sizeof name, e->name, width);
    else
        model_fit(name, sizeof name, e->name, width);
    printf("%*s %*s %*s", w->flat, flat, w->pct, pct[0], w->pct, pct[1]);
    if (o->by != TOP_BY_STACK)
        printf(" %*s %*s", w->cum, cum, w->pct, pct[2]);
    printf("  %s\n", name);
}

static void
top_print(const top_report_t *r, const model_t *m, const top_opts_t *o)
{
    size_t rows = o->n == 0 || o->n > r->t.listed ? r->t.listed : o->n;
    top_print_header(r, m, o, rows);
    if (rows == 0)
        return;
    top_widths_t w = top_widths(r, m, rows);
    printf("%*s %*s %*s", w.flat, "flat", w.pct, "flat%", w.pct, "sum%");
    if (o->by != TOP_BY_STACK)
        printf(" %*s %*s", w.cum, "cum", w.pct, "cum%");
    printf("  %s\n", top_by_names[o->by][1]);
    double sum = 0;
    for (size_t i = 0; i < rows; i++)
        top_print_row(r, m, o, &w, i, &sum);
}

/* ---- the command -------------------------------------------------------- */

static int
top_run(const top_opts_t *o)
{
    char err[PROFILE_ERR_MAX];
    model_filter_t f;
    if (model_filter_init(&f, o->focus, o->ignore, err, sizeof err) != 0)
        return cmd_usage_error(&cmd_top, "%s", err);
    model_opts_t mo = {.sample_index = o->sample_index,
                       .no_interpreter = o->no_interpreter,
                       .naming = &o->naming};
    model_t *m;
    int e = model_load(o->path, &mo, &m, err, sizeof err);
    if (e != 0) {
        model_filter_free(&f);
        cmd_error("%s", err);
        return e == ENOMEM ? CMD_EXIT_FAIL : CMD_EXIT_USAGE;
    }
    top_report_t r = {0};
    hmap_init(&r.t.ids);
    hmap_init(&r.funcs.ids);
    e = top_sum(&r, m, &f, o->by);
    if (e == 0) {
        top_order(&r.t);
        top_print(&r, m, o);
    } else {
        cmd_error("top: %s: %s", o->path, strerror(e));
    }
    top_table_free(&r.t);
    top_table_free(&r.funcs);
    model_filter_free(&f);
    model_free(m);
    return e == 0 ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}

static int
top_parse_by(const char *arg, top_by_t *r_by)
{
    for (size_t i = 0; i < sizeof top_by_names / sizeof top_by_names[0]; i++)
        if (strcmp(arg, top_by_names[i][0]) == 0) {
            *r_by = (top_by_t)i;
            return -1;
        }
    return cmd_usage_error(&cmd_top,
                           "unknown --by '%s' (function, file, line or "
                           "stack)",
                           arg);
}

static int
top_parse_n(const char *arg, size_t *r_n)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
        n > SIZE_MAX)
        return cmd_usage_error(&cmd_top, "bad -n '%s' (a count; 0: all)", arg);
    *r_n = (size_t)n;
    return -1;
}

/* Parses argv into o; -1 to go on, else the exit status. */
static int
top_parse(int argc, char **argv, top_opts_t *o)
{
    static const struct option longopts[] = {
        {"sample-index", required_argument, NULL, 's'},
        {"by", required_argument, NULL, 'b'},
        {"focus", required_argument, NULL, 'f'},
        {"ignore", required_argument, NULL, 'i'},
        {"no-interpreter", no_argument, NULL, 'P'},
        NAMING_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, status = -1;
    cmd_getopt_reset();
    while (status < 0 &&
           (c = getopt_long(argc, argv, ":n:h", longopts, NULL)) != -1) {
        if (naming_getopt(&o->naming, c, optarg))
            continue;
        if (c == 'P')
            o->no_interpreter = true;
        else if (c == 's')
            o->sample_index = optarg;
        else if (c == 'b')
            status = top_parse_by(optarg, &o->by);
        else if (c == 'n')
            status = top_parse_n(optarg, &o->n);
        else if (c == 'f')
            o->focus = optarg;
        else if (c == 'i')
            o->ignore = optarg;
        else if (c == 'h')
            status = cmd_help(&cmd_top);
        else
            status = cmd_bad_option(&cmd_top, c, argv);
    }
    if (status < 0 && optind != argc - 1)
        status =
            cmd_usage_error(&cmd_top, optind == argc ? "no PROFILE given"
                                                     : "one PROFILE at a time");
    if (status < 0)
        o->path = argv[optind];
    return status;
}

static int
top_main(int argc, char **argv)
{
    top_opts_t o = {.by = TOP_BY_FUNCTION, .n = TOP_DEFAULT_N};
    int status = top_parse(argc, argv, &o);
    return status >= 0 ? status : top_run(&o);
}
