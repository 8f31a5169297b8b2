/*
 * diff.c — `heapsight diff BASE NEW`: what changed from one profile to
 * another, per site, and whether sampling noise explains it.
 *
 * Owns: the subcommand's options, the rows of the report and their order.
 * The sites and the variance come from stats.h; the profiles from
 * model.h.
 *
 * The sample type: the one asked for, else pprof's choice on NEW (its
 * default_sample_type, else its last type); BASE must have a type of that
 * name and unit.  Each site's change is Δ = NEW − BASE of that value,
 * with variance Var = Var_base + Var_new (the two profiles were sampled
 * independently) and the 95 % interval Δ ± 1.96·√Var.  A change is
 * "noise" when its interval holds 0: |Δ| <= 1.96·√Var.  The report lists
 * the real changes by |Δ| descending, then the noise ones the same way
 * (names break ties), drops sites that did not change at all (Δ = 0),
 * and ends with the total over every kept site, which has its own
 * interval (the sum of all variances).  A site --by stack is a row name
 * (model.h: the stack from its name_at, past the allocator's plumbing),
 * so samples whose stacks differ only in plumbing are one site; each
 * profile's command line, when it names one, is under its line.  Derivation:
 * docs/PROFILING.md, "Comparing two profiles".
 *
 * Threading: single-threaded.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "model.h"
#include "stats.h"

#define DIFF_DEFAULT_ROWS 20

typedef struct diff_opts_s {
    const char *sample_index; /* NULL: pprof's rule on NEW */
    stats_by_t by;
    size_t rows; /* -n; 0: all */
    const char *focus, *ignore;
    bool no_interpreter;  /* hide CPython's frames (model.h) */
    naming_opts_t naming; /* how --by stack names sites (naming.h) */
    const char *base, *new;
} diff_opts_t;

typedef struct diff_row_s {
    const stats_site_t *site;
    double change, ci;
    bool noise;
} diff_row_t;

/* What one profile contributed: its value total, variance total, and
 * the samples whose variance is unknown. */
typedef struct diff_side_s {
    model_t *m;
    stats_sampling_t sm;
    double total, var;
    size_t unknown;
} diff_side_t;

static int diff_main(int argc, char **argv);

const cmd_t cmd_diff = {
    .name = "diff",
    .summary = "what changed between two profiles, beyond sampling noise",
    .usage =
        "usage: heapsight diff [options] BASE NEW\n"
        "\n"
        "Shows, per site, the change NEW - BASE of one sample type, with a\n"
        "95% confidence interval from the sampling variance of both\n"
        "profiles.  Changes whose interval holds 0 are marked 'noise':\n"
        "sampling alone explains them.  Real changes come first, largest\n"
        "first, then the noise ones.  The last line is the total.\n"
        "\n"
        "options:\n"
        "  -i, --sample-index T  the sample type, by name or number\n"
        "                        (default: NEW's default type, else its "
        "last);\n"
        "                        both profiles must have it\n"
        "      --by stack|function\n"
        "                        a site is a stack of function names\n"
        "                        (default), from the first frame past\n"
        "                        malloc and its wrappers, the plumbing\n"
        "                        (docs/PROFILING.md, \"How rows are\n"
        "                        named\"), or the function allocating, "
        "flat\n"
        "  -n N                  show the first N sites (default 20; 0: "
        "all)\n"
        "      --focus RE        keep samples with a function matching RE\n"
        "      --ignore RE       drop samples with a function matching RE\n"
        "      --no-interpreter  Python first: in stacks with Python frames,\n"
        "                        hide the CPython interpreter's own frames\n"
        "                        (eval loop, calls, start-up), so a site's\n"
        "                        stack reads sqlite3_step <- load_batch <-\n"
        "                        main <- <module> "
        "(docs/PYTHON.md)\n" NAMING_USAGE "  -h, --help            this text\n"
        "\n"
        "The interval is exact for heapsight's and Go's heap profiles: see\n"
        "docs/PROFILING.md, \"Comparing two profiles\".\n",
    .main = diff_main,
};
CMD_REGISTER(cmd_diff, CMD_ORDER_DIFF);

/* ---- options ---- */

/* Parses a row count for -n; -1 to go on, else the exit status. */
static int
diff_parse_rows(const cmd_t *cmd, const char *arg, size_t *r_rows)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
        v > 1000000000)
        return cmd_usage_error(cmd, "bad -n '%s' (a number of rows, 0: all)",
                               arg);
    *r_rows = (size_t)v;
    return -1;
}

static int
diff_parse(int argc, char **argv, diff_opts_t *o)
{
    static const struct option longopts[] = {
        {"sample-index", required_argument, NULL, 'i'},
        {"by", required_argument, NULL, 'b'},
        {"focus", required_argument, NULL, 'f'},
        {"ignore", required_argument, NULL, 'g'},
        {"no-interpreter", no_argument, NULL, 'P'},
        NAMING_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, status = -1;
    cmd_getopt_reset();
    while (status < 0 &&
           (c = getopt_long(argc, argv, ":i:n:h", longopts, NULL)) != -1) {
        if (naming_getopt(&o->naming, c, optarg))
            continue;
        if (c == 'i')
            o->sample_index = optarg;
        else if (c == 'b' && strcmp(optarg, "stack") == 0)
            o->by = STATS_BY_STACK;
        else if (c == 'b' && strcmp(optarg, "function") == 0)
            o->by = STATS_BY_FUNCTION;
        else if (c == 'b')
            status = cmd_usage_error(
                &cmd_diff, "bad --by '%s' (stack or function)", optarg);
        else if (c == 'n')
            status = diff_parse_rows(&cmd_diff, optarg, &o->rows);
        else if (c == 'f')
            o->focus = optarg;
        else if (c == 'g')
            o->ignore = optarg;
        else if (c == 'P')
            o->no_interpreter = true;
        else if (c == 'h')
            status = cmd_help(&cmd_diff);
        else
            status = cmd_bad_option(&cmd_diff, c, argv);
    }
    if (status < 0 && argc - optind != 2)
        status = cmd_usage_error(&cmd_diff,
                                 "want two profiles, BASE and NEW (got %d)",
                                 argc - optind);
    if (status < 0) {
        o->base = argv[optind];
        o->new = argv[optind + 1];
    }
    return status;
}

/* ---- loading ---- */

/* Loads NEW, then BASE with NEW's sample type; CMD_EXIT_OK or the
 * status after an error line. */
static int
diff_load(const diff_opts_t *o, diff_side_t *base, diff_side_t *new)
{
    char err[PROFILE_ERR_MAX];
    model_opts_t mo = {.sample_index = o->sample_index,
                       .no_interpreter = o->no_interpreter,
                       .naming = &o->naming};
    if (model_load(o->new, &mo, &new->m, err, sizeof err) != 0) {
        cmd_error("diff: %s", err);
        return CMD_EXIT_USAGE;
    }
    const char *type = new->m->type_names[new->m->vi];
    mo.sample_index = type;
    if (model_load(o->base, &mo, &base->m, err, sizeof err) != 0) {
        cmd_error("diff: %s", err);
        return CMD_EXIT_USAGE;
    }
    if (strcmp(model_unit(base->m), model_unit(new->m)) != 0) {
        cmd_error("diff: %s: sample type %s is in %s, but in %s in %s", o->base,
                  type, model_unit(base->m), model_unit(new->m), o->new);
        return CMD_EXIT_USAGE;
    }
    return CMD_EXIT_OK;
}

/* Adds every kept sample of side s to column col. */
static int
diff_add(stats_sites_t *t, const model_filter_t *f, diff_side_t *s, size_t col)
{
    const model_t *m = s->m;
    stats_sampling_init(&s->sm, m);
    for (size_t i = 0; i < m->nsamples; i++) {
        const model_sample_t *smp = &m->samples[i];
        if (!model_filter_keeps(m, f, smp))
            continue;
        double v = (double)model_value(m, smp);
        double var = stats_sample_var(&s->sm, m, smp);
        if (isnan(var)) {
            s->unknown += v != 0;
            var = 0;
        }
        /* --by stack: the site is the row name, from name_at on. */
        model_sample_t named = model_named(smp);
        if (stats_sites_add(t, m, t->by == STATS_BY_STACK ? &named : smp, col,
                            v, var) != 0)
            return ENOMEM;
        s->total += v;
        s->var += var;
    }
    return 0;
}

/* Notes on stderr when a profile's variance is not (all) known. */
static void
diff_notes(const diff_side_t *s)
{
    if (s->sm.why_not != NULL)
        cmd_error("diff: note: %s: %s; its sampling variance counts as 0",
                  s->m->path, s->sm.why_not);
    else if (s->unknown != 0)
        cmd_error("diff: note: %s: %zu samples give no object size (no "
                  "'bytes' label, no objects/space pair); their sampling "
                  "variance counts as 0",
                  s->m->path, s->unknown);
}

/* ---- the report ---- */

static int
diff_row_cmp(const void *a, const void *b)
{
    const diff_row_t *x = a, *y = b;
    if (x->noise != y->noise)
        return x->noise ? 1 : -1;
    double ax = fabs(x->change), ay = fabs(y->change);
    if (ax != ay)
        return ax < ay ? 1 : -1;
    return strcmp(x->site->name, y->site->name);
}

/* The rows of the sites that changed, sorted; *r_n of them. */
static diff_row_t *
diff_rows(const stats_sites_t *t, size_t *r_n)
{
    diff_row_t *rows = malloc((t->n + 1) * sizeof(*rows));
    size_t n = 0;
    for (size_t i = 0; rows != NULL && i < t->n; i++) {
        const stats_site_t *s = &t->sites[i];
        double change = s->v[1] - s->v[0];
        if (change == 0)
            continue;
        double ci = STATS_Z95 * sqrt(s->var[0] + s->var[1]);
        rows[n++] = (diff_row_t){s, change, ci, fabs(change) <= ci};
    }
    if (rows != NULL)
        qsort(rows, n, sizeof(*rows), diff_row_cmp);
    *r_n = n;
    return rows;
}

/* The columns before the site: change, base, new, ±ci, noise. */
enum { DIFF_FIXED_COLS = 11 + 1 + 10 + 1 + 10 + 1 + 11 + 2 + 5 + 2 };

static void
diff_print_line(const char *unit, double change, double base, double new,
                double ci, bool noise, const char *site, unsigned width)
{
    char c[32], b[32], n[32], e[40], fit[1024];
    model_fmt_value(c, sizeof c, change, unit, true);
    model_fmt_value(b, sizeof b, base, unit, false);
    model_fmt_value(n, sizeof n, new, unit, false);
    char ev[32];
    model_fmt_value(ev, sizeof ev, ci, unit, false);
    snprintf(e, sizeof e, "\u00b1%s", ev); /* "±": 2 bytes, 1 column */
    model_fit_name(fit, sizeof fit, site, width);
    printf("%11s %10s %10s %12s  %-5s  %s\n", c, b, n, e, noise ? "noise" : "",
           fit);
}

static void
diff_print_side(const char *what, const diff_side_t *s, unsigned width)
{
    char total[32], period[32], line[1024], fit[1024];
    const model_t *m = s->m;
    model_fmt_value(total, sizeof total, s->total, model_unit(m), false);
    if (s->sm.period == 0)
        snprintf(period, sizeof period, "exact");
    else
        model_fmt_value(period, sizeof period, s->sm.period, "bytes", false);
    snprintf(line, sizeof line, "%-4s %s: %s %s, %s%s", what, m->path,
             m->type_names[m->vi], total,
             s->sm.period == 0 ? "" : "sampled every ", period);
    model_fit(fit, sizeof fit, line, width);
    printf("%s\n", fit);
    if (model_origin(m, line, sizeof line, width > 30 ? width - 14 : 16))
        printf("     Command: %s\n", line);
}

static void
diff_print(const diff_opts_t *o, const stats_sites_t *t, const diff_row_t *rows,
           size_t nrows, const diff_side_t *base, const diff_side_t *new)
{
    unsigned width = model_term_width();
    unsigned site_w =
        width > DIFF_FIXED_COLS + 20 ? width - DIFF_FIXED_COLS : 20;
    const char *unit = model_unit(new->m);
    diff_print_side("base", base, width);
    diff_print_side("new", new, width);
    printf("\n%11s %10s %10s %12s  %-5s  %s\n", "change", "base", "new",
           "\u00b195%", "", o->by == STATS_BY_STACK ? "stack" : "function");
    size_t shown = o->rows == 0 || o->rows > nrows ? nrows : o->rows;
    size_t noise = 0;
    for (size_t i = 0; i < nrows; i++)
        noise += rows[i].noise;
    for (size_t i = 0; i < shown; i++) {
        const diff_row_t *r = &rows[i];
        diff_print_line(unit, r->change, r->site->v[0], r->site->v[1], r->ci,
                        r->noise, r->site->name, site_w);
    }
    double change = new->total - base->total;
    double ci = STATS_Z95 * sqrt(base->var + new->var);
    char label[64];
    snprintf(label, sizeof label, "total (%zu site%s)", t->n,
             t->n == 1 ? "" : "s");
    diff_print_line(unit, change, base->total, new->total, ci,
                    change != 0 && fabs(change) <= ci, label, site_w);
    printf("\n%zu changed: %zu beyond noise, %zu noise; %zu unchanged", nrows,
           nrows - noise, noise, t->n - nrows);
    if (shown < nrows)
        printf("; %zu not shown (-n 0 shows all)", nrows - shown);
    printf("\n");
}

static int
diff_report(const diff_opts_t *o, diff_side_t *base, diff_side_t *new)
{
    char err[PROFILE_ERR_MAX];
    model_filter_t f;
    if (model_filter_init(&f, o->focus, o->ignore, err, sizeof err) != 0)
        return cmd_usage_error(&cmd_diff, "%s", err);
    stats_sites_t t;
    stats_sites_init(&t, 2, o->by);
    int status = CMD_EXIT_OK;
    size_t nrows = 0;
    diff_row_t *rows = NULL;
    if (diff_add(&t, &f, base, 0) != 0 || diff_add(&t, &f, new, 1) != 0 ||
        (rows = diff_rows(&t, &nrows)) == NULL) {
        cmd_error("diff: out of memory");
        status = CMD_EXIT_FAIL;
    } else {
        diff_notes(base);
        diff_notes(new);
        diff_print(o, &t, rows, nrows, base, new);
    }
    free(rows);
    stats_sites_free(&t);
    model_filter_free(&f);
    return status;
}

static int
diff_main(int argc, char **argv)
{
    diff_opts_t o = {.by = STATS_BY_STACK, .rows = DIFF_DEFAULT_ROWS};
    int status = diff_parse(argc, argv, &o);
    if (status >= 0)
        return status;
    diff_side_t base = {0}, new = {0};
    status = diff_load(&o, &base, &new);
    if (status == CMD_EXIT_OK)
        status = diff_report(&o, &base, &new);
    model_free(base.m);
    model_free(new.m);
    return status;
}
