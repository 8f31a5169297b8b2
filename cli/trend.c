/*
 * trend.c — `heapsight trend DUMP...`: which sites of a long-running
 * process keep growing, over a series of its periodic dumps.
 *
 * Owns: the subcommand's options, the order of the dumps, each site's
 * series, its class and the report's order, and writing the plot that
 * viz/plot.c renders.  Sites and the tests come from stats.h.
 *
 * The series: dumps are ordered by their time_nanos (equal times keep
 * the command-line order); when some dump has no time, or all share one,
 * the whole command-line order stands and slopes are per dump instead of
 * per hour (a note says so once).  A site (--by stack, function or line:
 * stats.h) has the series y_1..y_n of its value (default inuse_space) in
 * each dump, 0 where it is absent, and the sampling variances v_1..v_n
 * of those values (stats_sample_var; 0 when unknown, a note says so).  A
 * site with y_k = 0 for every k is left out.  A peak profile
 * (*.peak.pb.gz, the heap at its high-water mark, time_nanos = the peak)
 * is one more point in time, like any other dump.
 *
 * Why not the Mann–Kendall test and the Theil–Sen slope alone: live
 * sampled objects stay in every later dump, so a site moves in steps and
 * most pairs of dumps are equal.  Then the median pairwise slope is 0
 * (a site that went 14.1 -> 24.6 MiB in one step showed "+0 B/h") and a
 * single step near either end is not a significant trend (it showed
 * "constant").  So the level is compared too:
 *     b clearly above a  <=>  b - a > z·√(v_a + v_b)  and
 *                             b - a >= TREND_REL · max(|a|, |b|)
 * with z = 1.96 (95 %), or 3 for the peak (the largest of n values,
 * chosen after looking).  With α = 5 % and the halves head = the first
 * ⌈n/2⌉ dumps, tail = the last ⌈n/2⌉ (Theil–Sen slopes b_head, b_tail):
 *     rose  = MK significant upward  or  y_n clearly above y_1
 *     fell  = MK significant downward  or  y_1 clearly above y_n
 *     still = the tail's MK significant upward, or y_n clearly above the
 *             tail's first value, or b_tail > 0 and b_tail >= b_head / 2
 * the class is the first that holds of
 *   growing    rose and still;
 *   bounded    rose and y_n > y_1 (risen, then level: a cache at its
 *              limit);
 *   shrinking  fell;
 *   varying    max y clearly above y_1 and above y_n (z = 3): no trend,
 *              but a batch came and went;
 *   constant   none: so a site whose y_n is clearly above y_1 is never
 *              constant.
 * The slope shown is Theil–Sen's, or (y_n - y_1)/(x_n - x_1) for a
 * growing or bounded site whose Theil–Sen slope is not positive, or a
 * shrinking one whose slope is not negative (steps, above).
 * Order: growing, bounded, varying, shrinking, constant; growing and
 * bounded by Z descending then slope descending, varying by peak
 * descending, shrinking by Z ascending then slope ascending, constant by
 * last value descending; names break ties.  A row's name keeps its leaf
 * whole; a width limit cuts the callers (the root-ward end).
 *
 * Threading: single-threaded.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "model.h"
#include "naming.h"
#include "outfile.h"
#include "stats.h"
#include "viz/plot.h"
#include "viz/strbuf.h"

#define TREND_MIN_DUMPS 4
#define TREND_DEFAULT_ROWS 20
#define TREND_ALPHA 0.05
#define TREND_NS_PER_HOUR 3.6e12
/* "Clearly above" (see the top): at least a tenth of the larger value,
 * and this many standard errors of sampling noise for the peak. */
#define TREND_REL 0.1
#define TREND_Z_PEAK 3.0

/* In report order. */
typedef enum trend_class_e {
    TREND_GROWING,
    TREND_BOUNDED,
    TREND_VARYING,
    TREND_SHRINKING,
    TREND_CONSTANT,
    TREND_NCLASSES
} trend_class_t;

static const char *const trend_class_names[] = {"growing", "bounded", "varying",
                                                "shrinking", "constant"};

/* --by, in stats_by_t order. */
static const char *const trend_by_names[] = {"stack", "function", "line"};

typedef struct trend_opts_s {
    const char *sample_index;
    stats_by_t by;
    size_t rows; /* -n; 0: all */
    const char *plot;
    bool no_interpreter; /* hide CPython's frames (model.h) */
    char **dumps;
    size_t ndumps;
} trend_opts_t;

/* The series' common ground: dump order and x positions. */
typedef struct trend_series_s {
    size_t n;
    size_t *order;    /* order[k]: the column (command-line position) */
    int64_t *time;    /* by column: time_nanos, 0 unknown */
    double *x;        /* by k: hours since the first dump, or k + 1 */
    bool timed;       /* x is time */
    const char *unit; /* of the chosen type */
    const char *type; /* its name */
    /* work space: a site's values and variances in dump order (n
     * each), and stats_scratch_len(n) */
    double *y, *v, *scratch;
} trend_series_t;

typedef struct trend_row_s {
    const stats_site_t *site;
    trend_class_t cls;
    stats_mk_t mk;
    double slope; /* per hour, or per dump */
    double first, last, peak;
} trend_row_t;

static int trend_main(int argc, char **argv);

const cmd_t cmd_trend = {
    .name = "trend",
    .summary = "which sites keep growing over a series of dumps",
    .usage =
        "usage: heapsight trend [options] DUMP DUMP DUMP DUMP...\n"
        "\n"
        "Reads periodic dumps of one process (at least 4; `heapsight run\n"
        "--every 30s` writes them), orders them by time and follows each\n"
        "site's live value across them: first, last and peak are its value\n"
        "in the first dump, the last one and the highest.  A Mann-Kendall\n"
        "test tells a trend from noise (p < 0.05), and the Theil-Sen slope\n"
        "says how fast.  B is clearly above A when B - A is more than the\n"
        "sampling noise (1.96 standard errors; 3 for the peak) and at least\n"
        "a tenth of the larger of the two.  A site rose when its trend is\n"
        "upward or last is clearly above first; it fell when its trend is\n"
        "downward or first is clearly above last.  Its class is the first\n"
        "of these that holds:\n"
        "  growing    rose, and still rising over the last half: its own\n"
        "             trend is upward, its last value clearly above its\n"
        "             first, or its slope at least half the first half's\n"
        "  bounded    rose, then levelled off, last > first (a cache that\n"
        "             filled up)\n"
        "  shrinking  fell\n"
        "  varying    no trend, but peak clearly above first and last (a\n"
        "             batch that came and went)\n"
        "  constant   none of these: last is not clearly above first\n"
        "Growing sites come first, the strongest trend first, then bounded,\n"
        "varying, shrinking and constant.  Sites at 0 in every dump are left\n"
        "out.  In steps (most pairs of dumps equal) the Theil-Sen slope is\n"
        "0; when it is not of the class's sign, the slope shown is\n"
        "(last - first) / time.  Names keep their leaf frame whole; a narrow\n"
        "terminal cuts their callers.\n"
        "\n"
        "options:\n"
        "  -i, --sample-index T  the sample type, by name or number\n"
        "                        (default: inuse_space)\n"
        "      --by KIND         stack (default: distinct stacks of function\n"
        "                        names, leaf first), function (the leaf's\n"
        "                        function) or line (the leaf's \"func\n"
        "                        file:line\")\n"
        "  -n N                  show the first N sites (default 20; 0: "
        "all)\n"
        "      --plot FILE.svg   draw the top sites' values over time (at "
        "most\n"
        "                        10, the first of those shown)\n"
        "      --no-interpreter  Python first: in stacks with Python frames,\n"
        "                        hide the CPython interpreter's own frames\n"
        "                        (eval loop, calls, start-up), so a site\n"
        "                        reads sqlite3_step <- load_batch <- main <-\n"
        "                        <module> (docs/PYTHON.md)\n" NAMING_USAGE
        "  -h, --help            this text\n"
        "\n"
        "Dumps without a time (time_nanos) keep the command-line order and\n"
        "slopes are then per dump.  Leave out a dump taken at exit "
        "(*.final.*):\n"
        "a program may free its memory before it; the periodic ones are\n"
        "*.timer.*.  A peak profile (*.peak.*: the heap at its high-water\n"
        "mark) is one more point, at the time of the peak.\n",
    .main = trend_main,
};
CMD_REGISTER(cmd_trend, CMD_ORDER_TREND);

/* ---- options ---- */

/* --by ARG into r_by; -1, or the status after a usage error. */
static int
trend_parse_by(const char *arg, stats_by_t *r_by)
{
    for (size_t i = 0; i < sizeof trend_by_names / sizeof(char *); i++) {
        if (strcmp(arg, trend_by_names[i]) == 0) {
            *r_by = (stats_by_t)i;
            return -1;
        }
    }
    return cmd_usage_error(&cmd_trend,
                           "bad --by '%s' (stack, function or line)", arg);
}

static int
trend_parse(int argc, char **argv, trend_opts_t *o)
{
    static const struct option longopts[] = {
        {"sample-index", required_argument, NULL, 'i'},
        {"by", required_argument, NULL, 'b'},
        {"plot", required_argument, NULL, 'p'},
        {"no-interpreter", no_argument, NULL, 'P'},
        NAMING_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, status = -1;
    cmd_getopt_reset();
    while (status < 0 &&
           (c = getopt_long(argc, argv, ":i:n:h", longopts, NULL)) != -1) {
        char *end;
        if (c == 'i') {
            o->sample_index = optarg;
        } else if (c == 'b') {
            status = trend_parse_by(optarg, &o->by);
        } else if (c == 'n') {
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
                errno != 0 || v > 1000000000)
                status = cmd_usage_error(
                    &cmd_trend, "bad -n '%s' (a number of rows, 0: all)",
                    optarg);
            o->rows = (size_t)v;
        } else if (c == 'p') {
            o->plot = optarg;
        } else if (c == 'P') {
            o->no_interpreter = true;
        } else if (naming_getopt(NULL, c, optarg)) {
            continue; /* the model's default naming (naming_cmdline) */
        } else if (c == 'h') {
            status = cmd_help(&cmd_trend);
        } else {
            status = cmd_bad_option(&cmd_trend, c, argv);
        }
    }
    o->dumps = argv + optind;
    o->ndumps = optind < argc ? (size_t)(argc - optind) : 0;
    if (status < 0 && o->ndumps < TREND_MIN_DUMPS)
        status = cmd_usage_error(&cmd_trend,
                                 "needs at least %d dumps to find a trend "
                                 "(got %zu)",
                                 TREND_MIN_DUMPS, o->ndumps);
    return status;
}

/* ---- reading the dumps ---- */

/* Why some sampling variances are unknown (they count as 0): the first
 * reason met, and in how many dumps. */
typedef struct trend_unknown_s {
    const char *why; /* static text */
    size_t dumps;
} trend_unknown_t;

/* Adds m's samples to column col of t, with their sampling variances;
 * 0 or ENOMEM. */
static int
trend_add(stats_sites_t *t, const model_t *m, size_t col, trend_unknown_t *u)
{
    stats_sampling_t sm;
    stats_sampling_init(&sm, m);
    size_t unknown = 0;
    int e = 0;
    for (size_t k = 0; e == 0 && k < m->nsamples; k++) {
        const model_sample_t *smp = &m->samples[k];
        double v = (double)model_value(m, smp);
        double var = stats_sample_var(&sm, m, smp);
        if (isnan(var)) {
            unknown += v != 0;
            var = 0;
        }
        e = stats_sites_add(t, m, smp, col, v, var);
    }
    if (unknown != 0 && u->dumps++ == 0)
        u->why = sm.why_not != NULL ? sm.why_not
                                    : "no 'bytes' label, no objects/space "
                                      "pair to give the object size";
    return e;
}

/* Loads every dump into column i of t; CMD_EXIT_OK or the status after
 * an error line. */
static int
trend_load(const trend_opts_t *o, stats_sites_t *t, trend_series_t *se,
           char **r_type, char **r_unit)
{
    trend_unknown_t u = {NULL, 0};
    model_opts_t mo = {.sample_index = o->sample_index,
                       .no_interpreter = o->no_interpreter};
    char err[PROFILE_ERR_MAX];
    for (size_t i = 0; i < o->ndumps; i++) {
        model_t *m;
        model_progress("reading dumps", i, o->ndumps);
        if (model_load(o->dumps[i], &mo, &m, err, sizeof err) != 0) {
            model_progress("reading dumps", o->ndumps, o->ndumps);
            cmd_error("trend: %s", err);
            return CMD_EXIT_USAGE;
        }
        if (i == 0 && ((*r_type = strdup(m->type_names[m->vi])) == NULL ||
                       (*r_unit = strdup(model_unit(m))) == NULL)) {
            model_free(m);
            cmd_error("trend: out of memory");
            return CMD_EXIT_FAIL;
        }
        mo.sample_index = *r_type; /* the same type, by name, in all */
        if (strcmp(model_unit(m), *r_unit) != 0) {
            cmd_error("trend: %s: sample type %s is in %s, but in %s in %s",
                      o->dumps[i], *r_type, model_unit(m), *r_unit,
                      o->dumps[0]);
            model_free(m);
            return CMD_EXIT_USAGE;
        }
        se->time[i] = m->time_nanos;
        int e = trend_add(t, m, i, &u);
        model_free(m);
        if (e != 0) {
            cmd_error("trend: out of memory");
            return CMD_EXIT_FAIL;
        }
    }
    model_progress("reading dumps", o->ndumps, o->ndumps);
    if (u.dumps != 0)
        cmd_error("trend: note: %zu of %zu dumps have samples without a "
                  "sampling variance (%s); it counts as 0",
                  u.dumps, o->ndumps, u.why);
    return CMD_EXIT_OK;
}

typedef struct trend_when_s {
    int64_t time;
    size_t arg; /* command-line position */
} trend_when_t;

static int
trend_when_cmp(const void *a, const void *b)
{
    const trend_when_t *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->arg > y->arg) - (x->arg < y->arg); /* stable */
}

/* Orders the dumps and sets x; notes once when time cannot be used.
 * False when out of memory. */
static bool
trend_order(trend_series_t *se)
{
    size_t untimed = 0;
    for (size_t i = 0; i < se->n; i++) {
        se->order[i] = i;
        untimed += se->time[i] == 0;
    }
    if (untimed == 0) {
        trend_when_t *w = malloc(se->n * sizeof(*w));
        if (w == NULL)
            return false;
        for (size_t i = 0; i < se->n; i++)
            w[i] = (trend_when_t){se->time[i], i};
        qsort(w, se->n, sizeof(*w), trend_when_cmp);
        for (size_t i = 0; i < se->n; i++)
            se->order[i] = w[i].arg;
        free(w);
    }
    int64_t t0 = se->time[se->order[0]];
    se->timed = untimed == 0 && se->time[se->order[se->n - 1]] > t0;
    for (size_t k = 0; k < se->n; k++)
        se->x[k] = se->timed ? (double)(se->time[se->order[k]] - t0) /
                                   TREND_NS_PER_HOUR
                             : (double)(k + 1);
    if (untimed != 0)
        cmd_error("trend: note: %zu of %zu dumps have no time: keeping the "
                  "command-line order, slopes per dump",
                  untimed, se->n);
    else if (!se->timed)
        cmd_error("trend: note: the dumps all have the same time: keeping "
                  "the command-line order, slopes per dump");
    return true;
}

/* ---- classes ---- */

/* Whether value b (variance vb) is clearly above a (va): by more than z
 * standard errors of sampling noise and by TREND_REL of the larger. */
static bool
trend_above(double a, double va, double b, double vb, double z)
{
    double d = b - a;
    return d > z * sqrt(va + vb) && d >= TREND_REL * fmax(fabs(a), fabs(b));
}

/* Whether y (variances v) still rises over its last ⌈n/2⌉ dumps. */
static bool
trend_still(const trend_series_t *se, const double *y, const double *v)
{
    size_t n = se->n, half = n - n / 2; /* ⌈n/2⌉ */
    size_t tail = n - half;
    stats_mk_t tmk = stats_mann_kendall(y + tail, half, se->scratch);
    if ((tmk.s > 0 && tmk.p < TREND_ALPHA) ||
        trend_above(y[tail], v[tail], y[n - 1], v[n - 1], STATS_Z95))
        return true;
    double bh = stats_theil_sen(se->x, y, half, se->scratch);
    double bt = stats_theil_sen(se->x + tail, y + tail, half, se->scratch);
    return bt > 0 && bt >= bh / 2;
}

/* Whether the peak of y is clearly above its first and last values. */
static bool
trend_spiked(size_t n, const double *y, const double *v)
{
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        k = y[i] > y[k] ? i : k;
    return trend_above(y[0], v[0], y[k], v[k], TREND_Z_PEAK) &&
           trend_above(y[n - 1], v[n - 1], y[k], v[k], TREND_Z_PEAK);
}

/* The class of series y (variances v) whose whole test is mk (see the
 * top for the rule). */
static trend_class_t
trend_classify(const trend_series_t *se, const double *y, const double *v,
               stats_mk_t mk)
{
    size_t n = se->n;
    bool trend = mk.p < TREND_ALPHA;
    bool rose = (trend && mk.s > 0) ||
                trend_above(y[0], v[0], y[n - 1], v[n - 1], STATS_Z95);
    bool fell = (trend && mk.s < 0) ||
                trend_above(y[n - 1], v[n - 1], y[0], v[0], STATS_Z95);
    if (rose && trend_still(se, y, v))
        return TREND_GROWING;
    if (rose && y[n - 1] > y[0])
        return TREND_BOUNDED;
    if (fell)
        return TREND_SHRINKING;
    return trend_spiked(n, y, v) ? TREND_VARYING : TREND_CONSTANT;
}

/* Fills y (and v when not NULL) with site s's series in dump order. */
static void
trend_series_of(const trend_series_t *se, const stats_site_t *s, double *y,
                double *v)
{
    for (size_t k = 0; k < se->n; k++) {
        y[k] = s->v[se->order[k]];
        if (v != NULL)
            v[k] = s->var[se->order[k]];
    }
}

/* Whether site s is 0 in every dump. */
static bool
trend_all_zero(const trend_series_t *se, const stats_site_t *s)
{
    for (size_t k = 0; k < se->n; k++)
        if (s->v[k] != 0)
            return false;
    return true;
}

/* The slope shown: Theil–Sen's, unless steps made it 0 or of the wrong
 * sign for the class; then the mean rate from the first to the last. */
static double
trend_slope(const trend_series_t *se, const double *y, trend_class_t cls)
{
    size_t n = se->n;
    double b = stats_theil_sen(se->x, y, n, se->scratch);
    bool up = cls == TREND_GROWING || cls == TREND_BOUNDED;
    if ((up && !(b > 0)) || (cls == TREND_SHRINKING && !(b < 0)))
        return (y[n - 1] - y[0]) / (se->x[n - 1] - se->x[0]);
    return b;
}

static trend_row_t
trend_row(const trend_series_t *se, const stats_site_t *s)
{
    trend_row_t r = {.site = s};
    trend_series_of(se, s, se->y, se->v);
    r.mk = stats_mann_kendall(se->y, se->n, se->scratch);
    r.cls = trend_classify(se, se->y, se->v, r.mk);
    r.slope = trend_slope(se, se->y, r.cls);
    r.first = se->y[0];
    r.last = se->y[se->n - 1];
    r.peak = se->y[0];
    for (size_t k = 1; k < se->n; k++)
        r.peak = fmax(r.peak, se->y[k]);
    return r;
}

static int
trend_cmp3(double a, double b)
{
    return (a > b) - (a < b);
}

static int
trend_row_cmp(const void *pa, const void *pb)
{
    const trend_row_t *a = pa, *b = pb;
    int c = (int)a->cls - (int)b->cls;
    if (c == 0 && (a->cls == TREND_GROWING || a->cls == TREND_BOUNDED))
        c = trend_cmp3(b->mk.z, a->mk.z) ? trend_cmp3(b->mk.z, a->mk.z)
                                         : trend_cmp3(b->slope, a->slope);
    else if (c == 0 && a->cls == TREND_SHRINKING)
        c = trend_cmp3(a->mk.z, b->mk.z) ? trend_cmp3(a->mk.z, b->mk.z)
                                         : trend_cmp3(a->slope, b->slope);
    else if (c == 0 && a->cls == TREND_VARYING)
        c = trend_cmp3(b->peak, a->peak);
    else if (c == 0)
        c = trend_cmp3(b->last, a->last);
    return c != 0 ? c : strcmp(a->site->name, b->site->name);
}

/* ---- the report ---- */

/* Columns before the name: class, slope, Z, p, first, last, peak ("1023
 * KiB" is the widest value, "+1023 KiB/dump" the widest slope). */
enum { TREND_FIXED_COLS = 9 + 1 + 14 + 1 + 6 + 1 + 6 + 3 * (1 + 9) + 2 };

static void
trend_fmt_time(char *buf, size_t size, int64_t ns)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        snprintf(buf, size, "?");
    else
        strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/* "1h50m", "3d2h", "45s": a span of nanoseconds. */
static void
trend_fmt_span(char *buf, size_t size, int64_t ns)
{
    long long s = (long long)(ns / 1000000000);
    if (s >= 86400)
        snprintf(buf, size, "%lldd%lldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(buf, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
    else
        snprintf(buf, size, "%.1fs", (double)ns / 1e9);
}

static void
trend_print_header(const trend_series_t *se)
{
    if (!se->timed) {
        printf("%s of %zu dumps, in command-line order\n\n", se->type, se->n);
        return;
    }
    char from[32], to[32], span[32];
    int64_t t0 = se->time[se->order[0]], t1 = se->time[se->order[se->n - 1]];
    trend_fmt_time(from, sizeof from, t0);
    trend_fmt_time(to, sizeof to, t1);
    trend_fmt_span(span, sizeof span, t1 - t0);
    printf("%s of %zu dumps over %s, %s to %s UTC\n\n", se->type, se->n, span,
           from, to);
}

/* Display columns of s[0..len) (one per code point, as model_fit). */
static unsigned
trend_cols(const char *s, size_t len)
{
    unsigned cols = 0;
    for (size_t i = 0; i < len; i++)
        cols += ((unsigned char)s[i] & 0xc0) != 0x80;
    return cols;
}

/* Site name into dst (strlen(name) + 8 bytes), fitted to width but for
 * its leaf frame, which is always whole: the callers, the root-ward end,
 * are cut ("leaf ← caller ← …"). */
static void
trend_fit_name(char *dst, size_t size, const char *name, unsigned width)
{
    const char *sep = strstr(name, STATS_SEP);
    if (sep == NULL || trend_cols(name, strlen(name)) <= width) {
        snprintf(dst, size, "%s", name);
        return;
    }
    size_t leaf = (size_t)(sep - name), seplen = strlen(STATS_SEP);
    unsigned used = trend_cols(name, leaf + seplen);
    int k = snprintf(dst, size, "%.*s", (int)(leaf + seplen), name);
    model_fit(dst + k, size - (size_t)k, sep + seplen,
              width > used + 1 ? width - used : 1);
    char *end = dst + strlen(dst); /* "serve …" -> "serve…" */
    if (end - dst >= k + 4 && strcmp(end - 3, "\xe2\x80\xa6") == 0 &&
        end[-4] == ' ')
        memmove(end - 4, end - 3, 4);
}

static void
trend_print_row(const trend_series_t *se, const trend_row_t *r, unsigned site_w)
{
    char slope[40], sv[32], p[16], first[32], last[32], peak[32];
    if (isnan(r->slope)) {
        snprintf(slope, sizeof slope, "-");
    } else {
        model_fmt_value(sv, sizeof sv, r->slope, se->unit, true);
        snprintf(slope, sizeof slope, "%s/%s", sv, se->timed ? "h" : "dump");
    }
    if (r->mk.p < 0.001)
        snprintf(p, sizeof p, "<0.001");
    else
        snprintf(p, sizeof p, "%.3f", r->mk.p);
    model_fmt_value(first, sizeof first, r->first, se->unit, false);
    model_fmt_value(last, sizeof last, r->last, se->unit, false);
    model_fmt_value(peak, sizeof peak, r->peak, se->unit, false);
    size_t size = strlen(r->site->name) + 8;
    char *fit = malloc(size);
    if (fit != NULL)
        trend_fit_name(fit, size, r->site->name, site_w);
    printf("%-9s %14s %+6.2f %6s %9s %9s %9s  %s\n", trend_class_names[r->cls],
           slope, r->mk.z, p, first, last, peak,
           fit != NULL ? fit : r->site->name);
    free(fit);
}

static void
trend_print(const trend_opts_t *o, const trend_series_t *se,
            const trend_row_t *rows, size_t nrows)
{
    unsigned width = model_term_width();
    unsigned site_w =
        width > TREND_FIXED_COLS + 20 ? width - TREND_FIXED_COLS : 20;
    size_t shown = o->rows == 0 || o->rows > nrows ? nrows : o->rows;
    size_t count[TREND_NCLASSES] = {0};
    trend_print_header(se);
    printf("%-9s %14s %6s %6s %9s %9s %9s  %s\n", "class",
           se->timed ? "slope/hour" : "slope/dump", "Z", "p", "first", "last",
           "peak", trend_by_names[o->by]);
    for (size_t i = 0; i < nrows; i++) {
        count[rows[i].cls]++;
        if (i < shown)
            trend_print_row(se, &rows[i], site_w);
    }
    printf("\n%zu sites: %zu growing, %zu bounded, %zu varying, %zu "
           "shrinking, %zu constant",
           nrows, count[TREND_GROWING], count[TREND_BOUNDED],
           count[TREND_VARYING], count[TREND_SHRINKING], count[TREND_CONSTANT]);
    if (shown < nrows)
        printf("; %zu not shown (-n 0 shows all)", nrows - shown);
    printf("\n");
}

/* ---- the plot ---- */

static int
trend_write_plot(const trend_opts_t *o, const trend_series_t *se,
                 const trend_row_t *rows, size_t nrows)
{
    size_t shown = o->rows == 0 || o->rows > nrows ? nrows : o->rows;
    size_t nl = shown < PLOT_MAX_LINES ? shown : PLOT_MAX_LINES;
    plot_line_t lines[PLOT_MAX_LINES];
    double *ys = malloc((nl * se->n + 1) * sizeof(double));
    double *xs = malloc(se->n * sizeof(double));
    strbuf_t b = STRBUF_INIT;
    char title[256];
    int status = CMD_EXIT_OK;
    if (ys != NULL && xs != NULL) {
        for (size_t i = 0; i < nl; i++) {
            lines[i].name = rows[i].site->name;
            lines[i].y = ys + i * se->n;
            trend_series_of(se, rows[i].site, ys + i * se->n, NULL);
        }
        for (size_t k = 0; k < se->n; k++)
            xs[k] = se->timed ? se->x[k] * 3600 : se->x[k];
        snprintf(title, sizeof title, "heapsight trend: %s of %zu dumps",
                 se->type, se->n);
        plot_t p = {
            title,     se->unit,
            xs,        se->n,
            se->timed, se->timed ? se->time[se->order[0]] / 1000000000 : 0,
            lines,     nl};
        plot_svg(&b, &p);
    }
    if (ys == NULL || xs == NULL || b.failed) {
        cmd_error("trend: out of memory");
        status = CMD_EXIT_FAIL;
    } else {
        int e = outfile_write(o->plot, b.s, b.len);
        if (e != 0) {
            cmd_error("trend: cannot write %s: %s", o->plot, strerror(e));
            status = CMD_EXIT_FAIL;
        }
    }
    strbuf_free(&b);
    free(ys);
    free(xs);
    return status;
}

/* ---- main ---- */

static int
trend_report(const trend_opts_t *o, stats_sites_t *t, trend_series_t *se)
{
    trend_row_t *rows = malloc((t->n + 1) * sizeof(*rows));
    if (rows == NULL) {
        cmd_error("trend: out of memory");
        return CMD_EXIT_FAIL;
    }
    size_t nrows = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!trend_all_zero(se, &t->sites[i]))
            rows[nrows++] = trend_row(se, &t->sites[i]);
        if ((i & 1023) == 0)
            model_progress("testing trends", i, t->n);
    }
    model_progress("testing trends", t->n, t->n);
    qsort(rows, nrows, sizeof(*rows), trend_row_cmp);
    trend_print(o, se, rows, nrows);
    int status = CMD_EXIT_OK;
    if (o->plot != NULL)
        status = trend_write_plot(o, se, rows, nrows);
    free(rows);
    return status;
}

static int
trend_main(int argc, char **argv)
{
    trend_opts_t o = {.sample_index = "inuse_space",
                      .by = STATS_BY_STACK,
                      .rows = TREND_DEFAULT_ROWS};
    int status = trend_parse(argc, argv, &o);
    if (status >= 0)
        return status;
    size_t n = o.ndumps;
    trend_series_t se = {.n = n};
    se.order = calloc(n, sizeof(size_t));
    se.time = calloc(n, sizeof(int64_t));
    se.x = calloc(n, sizeof(double));
    se.y = calloc(n, sizeof(double));
    se.v = calloc(n, sizeof(double));
    se.scratch = calloc(stats_scratch_len(n), sizeof(double));
    char *type = NULL, *unit = NULL;
    stats_sites_t t;
    stats_sites_init(&t, n, o.by);
    if (!se.order || !se.time || !se.x || !se.y || !se.v || !se.scratch) {
        cmd_error("trend: out of memory");
        status = CMD_EXIT_FAIL;
    } else {
        status = trend_load(&o, &t, &se, &type, &unit);
    }
    if (status == CMD_EXIT_OK) {
        se.type = type;
        se.unit = unit;
        if (trend_order(&se)) {
            status = trend_report(&o, &t, &se);
        } else {
            cmd_error("trend: out of memory");
            status = CMD_EXIT_FAIL;
        }
    }
    stats_sites_free(&t);
    free(type);
    free(unit);
    free(se.order);
    free(se.time);
    free(se.x);
    free(se.y);
    free(se.v);
    free(se.scratch);
    return status;
}
