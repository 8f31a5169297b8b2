/*
 * leaks.c — `heapsight leaks PROFILE [--error] [-n N] [--no-interpreter]
 * [--drop RE] [--keep RE] [--show-from RE] [--full-names]`: what was live
 * when the profile was taken (at exit, what leaked), by allocation site.
 *
 * Owns: the site table, its order and the printed report.  The profile
 * and its frames belong to the model (model.h).
 *
 * After a reachability scan at exit (the samples' label "reachable",
 * prof/reach.h), a site is also one class, unreachable ("definitely
 * lost") or still reachable: the report lists unreachable sites first,
 * with both classes' totals under the header.
 *
 * A site is a stack of frames (function, file and line each, so two calls
 * from one function are two sites; a frame without a file is also its
 * address, printed beside it: model.h) plus the sample's "allocator"
 * label when present.  Over the samples of a site, with the profile's
 * estimates (already scaled up from the sampled objects):
 *   bytes(site)   = Σ inuse_space,   objects(site) = Σ inuse_objects,
 *   size range    = [min, max] of the numeric label "bytes" (the objects'
 *                   usable size), when the samples carry it;
 * a site is listed when bytes or objects is nonzero; sites are ranked by
 * bytes, then objects, then stack (names, leaf first), then allocator.
 * The totals line is over every listed site: Σ bytes, Σ objects.  When
 * a site's stack starts with the allocator's plumbing (xmalloc), its
 * header ends with its row name (model.h: from the first frame past it,
 * ", at cache_put ← main"); its whole stack follows.
 *
 * Exit status: 0; with --error, 1 when anything is live; 2 for bad usage,
 * an unreadable PROFILE, or one without inuse_space and inuse_objects.
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

#define LEAKS_DEFAULT_N 10
#define LEAKS_INDENT 4

typedef struct leaks_opts_s {
    const char *path;
    bool error;           /* exit 1 when anything is live */
    size_t n;             /* sites to print; 0: all */
    bool no_interpreter;  /* hide CPython's frames (model.h) */
    naming_opts_t naming; /* how site headers name stacks (naming.h) */
} leaks_opts_t;

typedef struct leaks_site_s {
    const model_sample_t *first; /* its stack and allocator */
    int64_t bytes, objects;
    int64_t size_min, size_max; /* of the "bytes" label; max 0: unknown */
} leaks_site_t;

typedef struct leaks_report_s {
    hmap_t ids; /* allocator "\0" frame ids → site index */
    leaks_site_t *s;
    size_t n, cap;
    size_t space, objects; /* indexes of inuse_space, inuse_objects */
    int64_t bytes_total, objects_total;
} leaks_report_t;

static int leaks_main(int argc, char **argv);

const cmd_t cmd_leaks = {
    .name = "leaks",
    .summary = "what was live when a profile was taken, by allocation site",
    .usage =
        "usage: heapsight leaks PROFILE [--error] [-n N] [--no-interpreter]\n"
        "                       [--drop RE] [--keep RE] [--show-from RE]\n"
        "                       [--full-names]\n"
        "\n"
        "Lists the memory that was live when PROFILE was taken, grouped by\n"
        "allocation site (the stack, plus the allocator when the profile\n"
        "names it) and ranked by live bytes: for each site the estimated live\n"
        "bytes and objects, the objects' size when known, and its stack,\n"
        "innermost frame first, with file:line.  A stack that starts in\n"
        "malloc's plumbing (malloc <- xmalloc <- cache_put <- main) is named\n"
        "in its header from the first frame past it (\"at cache_put <- "
        "main\").\n"
        "A profile dumped at exit (every `heapsight run` writes one) shows\n"
        "what was never freed; one that names its command line shows it under\n"
        "File.  The numbers are the profile's estimates from its samples, and\n"
        "addresses without symbols are symbolized on the fly from local\n"
        "files.  PROFILE needs the sample types inuse_space and\n"
        "inuse_objects, as heapsight's heap profiles have.\n"
        "\n"
        "options:\n"
        "      --error           exit with status 1 when anything is live\n"
        "                        (for tests and CI), after printing the\n"
        "                        report\n"
        "  -n N                  print the N largest sites (default 10; 0: "
        "all)\n"
        "      --no-interpreter  Python first: in stacks with Python frames,\n"
        "                        hide the CPython interpreter's own frames\n"
        "                        (eval loop, calls, start-up), so a stack\n"
        "                        reads sqlite3_step <- load_batch <- main <-\n"
        "                        <module> (docs/PYTHON.md)\n" NAMING_USAGE
        "  -h, --help            this text\n"
        "\n"
        "exit status: 0 done (with --error: nothing live), 1 something "
        "live\n"
        "with --error, 2 bad usage or PROFILE unreadable.\n",
    .main = leaks_main,
};
CMD_REGISTER(cmd_leaks, CMD_ORDER_LEAKS);

/* ---- sites -------------------------------------------------------------- */

/* The index of the site of s, added if new; SIZE_MAX if out of memory. */
static size_t
leaks_site_of(leaks_report_t *r, const model_sample_t *s, strbuf_t *key)
{
    key->len = 0;
    strbuf_puts(key, s->allocator != NULL ? s->allocator : "");
    strbuf_add(key, "", 1);
    strbuf_puts(key, s->reachable != NULL ? s->reachable : "");
    strbuf_add(key, "", 1);
    strbuf_add(key, (const char *)s->stack, s->depth * sizeof(uint32_t));
    if (key->failed)
        return SIZE_MAX;
    uint64_t id;
    if (hmap_get(&r->ids, key->s, key->len, &id))
        return (size_t)id;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        leaks_site_t *bigger = realloc(r->s, cap * sizeof(*bigger));
        if (bigger == NULL)
            return SIZE_MAX;
        r->s = bigger;
        r->cap = cap;
    }
    if (hmap_put(&r->ids, key->s, key->len, r->n) != 0)
        return SIZE_MAX;
    r->s[r->n] = (leaks_site_t){.first = s};
    return r->n++;
}

static void
leaks_site_add(leaks_site_t *site, const model_sample_t *s, int64_t bytes,
               int64_t objects)
{
    model_add(&site->bytes, bytes);
    model_add(&site->objects, objects);
    if (s->bytes <= 0)
        return;
    if (site->size_max == 0 || s->bytes < site->size_min)
        site->size_min = s->bytes;
    if (s->bytes > site->size_max)
        site->size_max = s->bytes;
}

static int
leaks_sum(leaks_report_t *r, const model_t *m)
{
    strbuf_t key = STRBUF_INIT;
    int e = 0;
    for (size_t k = 0; e == 0 && k < m->nsamples; k++) {
        const model_sample_t *s = &m->samples[k];
        int64_t bytes = s->values[r->space], objects = s->values[r->objects];
        if (bytes == 0 && objects == 0)
            continue;
        size_t i = leaks_site_of(r, s, &key);
        if (i == SIZE_MAX) {
            e = ENOMEM;
            break;
        }
        leaks_site_add(&r->s[i], s, bytes, objects);
        model_add(&r->bytes_total, bytes);
        model_add(&r->objects_total, objects);
    }
    strbuf_free(&key);
    return e;
}

/* The model, for qsort's comparison of stacks by name (single-threaded:
 * set just before the sort). */
static const model_t *leaks_sort_model;

static int
leaks_frame_cmp(const model_frame_t *a, const model_frame_t *b)
{
    int c = strcmp(a->func, b->func);
    if (c == 0)
        c = strcmp(a->file, b->file);
    if (c == 0)
        c = (a->line > b->line) - (a->line < b->line);
    if (c == 0)
        c = (a->addr > b->addr) - (a->addr < b->addr);
    return c;
}

static int
leaks_stack_cmp(const model_sample_t *a, const model_sample_t *b)
{
    const model_t *m = leaks_sort_model;
    for (uint32_t i = 0; i < a->depth && i < b->depth; i++) {
        int c =
            leaks_frame_cmp(&m->frames[a->stack[i]], &m->frames[b->stack[i]]);
        if (c != 0)
            return c;
    }
    return (a->depth > b->depth) - (a->depth < b->depth);
}

/* 0 unreachable, 1 unknown (no scan), 2 still reachable: the order of
 * the report. */
static int
leaks_reach_rank(const model_sample_t *s)
{
    return s->reachable == NULL ? 1 : strcmp(s->reachable, "no") == 0 ? 0 : 2;
}

static int
leaks_site_cmp(const void *pa, const void *pb)
{
    const leaks_site_t *a = pa, *b = pb;
    int ra = leaks_reach_rank(a->first), rb = leaks_reach_rank(b->first);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    if (a->objects != b->objects)
        return a->objects > b->objects ? -1 : 1;
    int c = leaks_stack_cmp(a->first, b->first);
    if (c != 0)
        return c;
    const char *x = a->first->allocator, *y = b->first->allocator;
    return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

/* ---- the report --------------------------------------------------------- */

/* Copies src into dst, cut at its start to width columns ("…" first),
 * so that a path keeps its file name and line. */
static void
leaks_fit_left(char *dst, size_t size, const char *src, unsigned width)
{
    size_t len = strlen(src);
    unsigned cols = 0;
    for (size_t k = 0; k < len; k++)
        cols += ((unsigned char)src[k] & 0xc0) != 0x80;
    if (cols <= width || width < 2) {
        model_fit(dst, size, src, width);
        return;
    }
    const char *p = src;
    for (unsigned skip = cols - (width - 1); skip > 0; skip--) {
        p++;
        while (((unsigned char)*p & 0xc0) == 0x80)
            p++;
    }
    snprintf(dst, size, "\xe2\x80\xa6%s", p); /* … */
}

/* Where frame f is: "file:line", "file", its address, or "". */
static void
leaks_frame_where(char *buf, size_t size, const model_frame_t *f)
{
    if (f->file[0] != '\0' && f->line > 0)
        snprintf(buf, size, "%s:%" PRId64, f->file, f->line);
    else if (f->file[0] != '\0')
        snprintf(buf, size, "%s", f->file);
    else if (!f->symbolic && f->addr != 0)
        snprintf(buf, size, "0x%" PRIx64, f->addr);
    else
        buf[0] = '\0';
}

/* The display width of s (one column per code point). */
static unsigned
leaks_cols(const char *s)
{
    unsigned n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void
leaks_print_stack(const model_t *m, const model_sample_t *s)
{
    unsigned width = model_term_width(), funcw = 0;
    for (uint32_t i = 0; i < s->depth; i++) {
        unsigned w = leaks_cols(m->frames[s->stack[i]].func);
        funcw = w > funcw ? w : funcw;
    }
    unsigned cap = (width - LEAKS_INDENT - 2) * 3 / 5;
    funcw = funcw < cap ? funcw : cap;
    if (s->depth == 0)
        printf("%*s[no stack]\n", LEAKS_INDENT, "");
    for (uint32_t i = 0; i < s->depth; i++) {
        const model_frame_t *f = &m->frames[s->stack[i]];
        char func[4096], where[4096], cut[4096];
        model_fit(func, sizeof func, f->func, funcw);
        leaks_frame_where(where, sizeof where, f);
        leaks_fit_left(cut, sizeof cut, where,
                       width - LEAKS_INDENT - funcw - 2);
        if (cut[0] == '\0') {
            printf("%*s%s\n", LEAKS_INDENT, "", func);
            continue;
        }
        int pad = (int)funcw - (int)leaks_cols(func);
        printf("%*s%s%*s  %s\n", LEAKS_INDENT, "", func, pad, "", cut);
    }
}

static double
leaks_pct(int64_t v, int64_t total)
{
    return total != 0 ? 100.0 * (double)v / (double)total : 0.0;
}

/* The fewest columns a site's name gets in its header. */
#define LEAKS_MIN_NAME 24

/* ", at cache_put ← main ← …": the site's row name when it does not
 * start at the innermost frame (the stack under the header says it
 * otherwise), fitted to what is left of the terminal after the header's
 * used columns. */
static void
leaks_print_name(const model_t *m, const model_sample_t *s, int used)
{
    char name[4096], fit[4096];
    if (s->name_at == 0)
        return;
    model_sample_name(name, sizeof name, m, s);
    int room = (int)model_term_width() - used - (int)strlen(", at ");
    model_fit_name(fit, sizeof fit, name,
                   room < LEAKS_MIN_NAME ? LEAKS_MIN_NAME : (unsigned)room);
    printf(", at %s", fit);
}

/* "#1  768 KiB live (61.44%) in 12 objects of 64 B, allocator malloc, at
 * cache_put ← main" */
static void
leaks_print_site(const leaks_report_t *r, const model_t *m, size_t i)
{
    const leaks_site_t *s = &r->s[i];
    char bytes[64], objects[64], lo[64], hi[64];
    model_fmt_value(bytes, sizeof bytes, (double)s->bytes, "bytes", false);
    model_fmt_value(objects, sizeof objects, (double)s->objects, "count",
                    false);
    int used = printf("#%zu  %s live (%.2f%%) in %s object%s", i + 1, bytes,
                      leaks_pct(s->bytes, r->bytes_total), objects,
                      s->objects == 1 ? "" : "s");
    if (s->size_max > 0) {
        model_fmt_value(lo, sizeof lo, (double)s->size_min, "bytes", false);
        model_fmt_value(hi, sizeof hi, (double)s->size_max, "bytes", false);
        if (s->size_min == s->size_max)
            used += printf(" of %s", lo);
        else
            used += printf(" of %s to %s", lo, hi);
    }
    if (s->first->allocator != NULL)
        used += printf(", allocator %s", s->first->allocator);
    int rank = leaks_reach_rank(s->first);
    if (rank != 1)
        used += printf(rank == 0 ? ", unreachable (definitely lost)"
                                 : ", still reachable");
    leaks_print_name(m, s->first, used);
    printf("\n");
    leaks_print_stack(m, s->first);
}

/* After a reachability scan (the label reachable): the two classes'
 * totals, unreachable first. */
static void
leaks_print_classes(const leaks_report_t *r)
{
    int64_t lost[2] = {0, 0}, kept[2] = {0, 0};
    bool any = false;
    for (size_t i = 0; i < r->n; i++) {
        int rank = leaks_reach_rank(r->s[i].first);
        int64_t *t = rank == 0 ? lost : kept;
        any |= rank != 1;
        t[0] += r->s[i].bytes;
        t[1] += r->s[i].objects;
    }
    if (!any)
        return;
    char lb[64], lo[64], kb[64], ko[64];
    model_fmt_value(lb, sizeof lb, (double)lost[0], "bytes", false);
    model_fmt_value(lo, sizeof lo, (double)lost[1], "count", false);
    model_fmt_value(kb, sizeof kb, (double)kept[0], "bytes", false);
    model_fmt_value(ko, sizeof ko, (double)kept[1], "count", false);
    printf("Unreachable (definitely lost): %s in %s object%s; still "
           "reachable: %s in %s object%s\n",
           lb, lo, lost[1] == 1 ? "" : "s", kb, ko, kept[1] == 1 ? "" : "s");
}

static void
leaks_print(const leaks_report_t *r, const model_t *m, const leaks_opts_t *o)
{
    char bytes[64], objects[64], period[64];
    model_fmt_value(bytes, sizeof bytes, (double)r->bytes_total, "bytes",
                    false);
    model_fmt_value(objects, sizeof objects, (double)r->objects_total, "count",
                    false);
    printf("Live: %s in %s object%s at %zu site%s\n", bytes, objects,
           r->objects_total == 1 ? "" : "s", r->n, r->n == 1 ? "" : "s");
    printf("File: %s", m->path);
    if (m->period > 0) {
        model_fmt_value(period, sizeof period, (double)m->period, "bytes",
                        false);
        printf(" (estimates from samples every %s)", period);
    }
    printf("\n");
    char origin[4096];
    if (model_origin(m, origin, sizeof origin, model_term_width() - 9))
        printf("Command: %s\n", origin);
    leaks_print_classes(r);
    if (r->n == 0) {
        printf("Nothing live.\n");
        return;
    }
    size_t rows = o->n == 0 || o->n > r->n ? r->n : o->n;
    printf("Showing %zu of %zu site%s, by live bytes\n", rows, r->n,
           r->n == 1 ? "" : "s");
    for (size_t i = 0; i < rows; i++) {
        printf("\n");
        leaks_print_site(r, m, i);
    }
}

/* ---- the command -------------------------------------------------------- */

/* The index of sample type name in m, or SIZE_MAX. */
static size_t
leaks_type(const model_t *m, const char *name)
{
    for (size_t i = 0; i < m->ntypes; i++)
        if (strcmp(m->type_names[i], name) == 0)
            return i;
    return SIZE_MAX;
}

static int
leaks_check_types(leaks_report_t *r, const model_t *m)
{
    r->space = leaks_type(m, "inuse_space");
    r->objects = leaks_type(m, "inuse_objects");
    if (r->space != SIZE_MAX && r->objects != SIZE_MAX)
        return 0;
    strbuf_t have = STRBUF_INIT;
    for (size_t i = 0; i < m->ntypes; i++)
        strbuf_printf(&have, "%s%s", i ? ", " : "", m->type_names[i]);
    cmd_error("%s: no live values: leaks needs the sample types inuse_space "
              "and inuse_objects (it has: %s)",
              m->path, have.s != NULL ? have.s : "none");
    strbuf_free(&have);
    return EINVAL;
}

static int
leaks_run(const leaks_opts_t *o)
{
    char err[PROFILE_ERR_MAX];
    model_t *m;
    model_opts_t mo = {.no_interpreter = o->no_interpreter,
                       .naming = &o->naming};
    int e = model_load(o->path, &mo, &m, err, sizeof err);
    if (e != 0) {
        cmd_error("%s", err);
        return e == ENOMEM ? CMD_EXIT_FAIL : CMD_EXIT_USAGE;
    }
    leaks_report_t r = {0};
    hmap_init(&r.ids);
    int status = CMD_EXIT_OK;
    if (leaks_check_types(&r, m) != 0) {
        status = CMD_EXIT_USAGE;
    } else if ((e = leaks_sum(&r, m)) != 0) {
        cmd_error("leaks: %s: %s", o->path, strerror(e));
        status = CMD_EXIT_FAIL;
    } else {
        leaks_sort_model = m;
        if (r.n > 1)
            qsort(r.s, r.n, sizeof(leaks_site_t), leaks_site_cmp);
        leaks_print(&r, m, o);
        if (o->error && r.n > 0)
            status = CMD_EXIT_FAIL;
    }
    free(r.s);
    hmap_destroy(&r.ids);
    model_free(m);
    return status;
}

static int
leaks_parse_n(const char *arg, size_t *r_n)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
        n > SIZE_MAX)
        return cmd_usage_error(&cmd_leaks, "bad -n '%s' (a count; 0: all)",
                               arg);
    *r_n = (size_t)n;
    return -1;
}

/* Parses argv into o; -1 to go on, else the exit status. */
static int
leaks_parse(int argc, char **argv, leaks_opts_t *o)
{
    static const struct option longopts[] = {
        {"error", no_argument, NULL, 'e'},
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
        if (c == 'e')
            o->error = true;
        else if (c == 'P')
            o->no_interpreter = true;
        else if (c == 'n')
            status = leaks_parse_n(optarg, &o->n);
        else if (c == 'h')
            status = cmd_help(&cmd_leaks);
        else
            status = cmd_bad_option(&cmd_leaks, c, argv);
    }
    if (status < 0 && optind != argc - 1)
        status = cmd_usage_error(&cmd_leaks, optind == argc
                                                 ? "no PROFILE given"
                                                 : "one PROFILE at a time");
    if (status < 0)
        o->path = argv[optind];
    return status;
}

static int
leaks_main(int argc, char **argv)
{
    leaks_opts_t o = {.n = LEAKS_DEFAULT_N};
    int status = leaks_parse(argc, argv, &o);
    return status >= 0 ? status : leaks_run(&o);
}
