/*
 * plot.c — the SVG line chart (see plot.h).
 *
 * Geometry, in SVG user units: the chart's frame spans x from PLOT_LEFT
 * to PLOT_WIDTH − PLOT_RIGHT and y from PLOT_TOP to PLOT_TOP + PLOT_H;
 * the legend starts PLOT_BOTTOM below the frame, one PLOT_ROW per line.
 * A value maps linearly: the axis minimum to the frame's bottom, the last
 * tick to its top, so every point lies inside the frame.
 */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum {
    PLOT_WIDTH = 960,
    PLOT_LEFT = 90,
    PLOT_RIGHT = 30,
    PLOT_TOP = 50,
    PLOT_H = 360,
    PLOT_BOTTOM = 60,
    PLOT_ROW = 18,
};

static const char *const plot_palette[PLOT_MAX_LINES] = {
    "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

/* An axis: from lo to hi, ticks every step starting at first. */
typedef struct plot_axis_s {
    double lo, hi, step, first;
    double unit;          /* labels are value/unit */
    const char *unit_sym; /* "MiB", "k", "" */
} plot_axis_t;

/* The smallest of 1, 2, 5 × 10^k that is at least raw. */
static double
plot_nice(double raw)
{
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

/* The value axis from lo (<= 0) to at least hi, about five ticks. */
static plot_axis_t
plot_value_axis(double lo, double hi, const char *unit)
{
    static const char *const bin[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    static const char *const dec[] = {"", "k", "M", "G", "T", "P"};
    bool bytes = unit != NULL && strcmp(unit, "bytes") == 0;
    double base = bytes ? 1024 : 1000, big = fmax(fabs(lo), fabs(hi));
    plot_axis_t a = {.unit = 1};
    unsigned k = 0;
    while (big / a.unit >= base && k < 5) {
        a.unit *= base;
        k++;
    }
    a.unit_sym = bytes ? bin[k] : dec[k];
    double span = (hi - lo) / a.unit;
    a.step = plot_nice(span > 0 ? span / 5 : 1);
    a.lo = floor(lo / a.unit / a.step) * a.step;
    a.hi = ceil(hi / a.unit / a.step) * a.step;
    if (a.hi <= a.lo)
        a.hi = a.lo + a.step;
    a.first = a.lo;
    return a;
}

/* The time axis over [lo, hi] seconds: a round step, at most 8 ticks. */
static plot_axis_t
plot_time_axis(double lo, double hi)
{
    static const double steps[] = {
        1,         2,         5,          10,         15,         30,
        60,        120,       300,        600,        900,        1800,
        3600,      7200,      10800,      21600,      43200,      86400,
        2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400, 365 * 86400};
    size_t n = sizeof(steps) / sizeof(steps[0]), i = 0;
    while (i + 1 < n && (hi - lo) / steps[i] > 8)
        i++;
    plot_axis_t a = {.lo = lo, .hi = hi, .step = steps[i], .unit = 1};
    a.first = ceil(lo / a.step) * a.step;
    return a;
}

/* Dump numbers: integer ticks, at most 10. */
static plot_axis_t
plot_index_axis(double lo, double hi)
{
    plot_axis_t a = {.lo = lo, .hi = hi, .unit = 1};
    a.step = plot_nice(fmax((hi - lo) / 10, 1));
    a.first = ceil(lo / a.step) * a.step;
    return a;
}

/* "0", "45s", "10m", "1h30m", "2d4h": elapsed seconds, two parts at
 * most. */
static void
plot_fmt_elapsed(char *buf, size_t size, double sec)
{
    static const struct {
        double secs;
        char sym;
    } parts[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    long long left = llround(sec);
    size_t pos = 0, shown = 0;
    buf[0] = '\0';
    if (left == 0)
        snprintf(buf, size, "0");
    for (size_t i = 0; i < 4 && shown < 2 && left > 0; i++) {
        long long q = left / (long long)parts[i].secs;
        if (q == 0 && shown == 0)
            continue;
        if (q != 0 && pos < size)
            pos += (size_t)snprintf(buf + pos, size - pos, "%lld%c", q,
                                    parts[i].sym);
        left -= q * (long long)parts[i].secs;
        shown++;
    }
}

static double
plot_px(const plot_axis_t *a, double x)
{
    return PLOT_LEFT + (x - a->lo) / (a->hi - a->lo) *
                           (PLOT_WIDTH - PLOT_LEFT - PLOT_RIGHT);
}

static double
plot_py(const plot_axis_t *a, double y)
{
    double v = y / a->unit;
    return PLOT_TOP + PLOT_H - (v - a->lo) / (a->hi - a->lo) * PLOT_H;
}

static void
plot_y_ticks(strbuf_t *b, const plot_axis_t *ya)
{
    double right = PLOT_WIDTH - PLOT_RIGHT;
    for (int i = 0; i <= 40; i++) {
        double t = ya->first + i * ya->step;
        if (t > ya->hi + ya->step / 1e6)
            break;
        double py =
            PLOT_TOP + PLOT_H - (t - ya->lo) / (ya->hi - ya->lo) * PLOT_H;
        strbuf_printf(b,
                      "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
                      "stroke=\"#e4e4e4\"/>\n",
                      PLOT_LEFT, py, right, py);
        double v = fabs(t) < ya->step / 1e6 ? 0 : t;
        strbuf_printf(b,
                      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g%s%s"
                      "</text>\n",
                      PLOT_LEFT - 6, py + 4, v, ya->unit_sym[0] ? " " : "",
                      v != 0 ? ya->unit_sym : "");
    }
}

static void
plot_x_ticks(strbuf_t *b, const plot_axis_t *xa, bool time)
{
    double bottom = PLOT_TOP + PLOT_H;
    for (int i = 0; i <= 40; i++) {
        double t = xa->first + i * xa->step;
        if (t > xa->hi + xa->step / 1e6)
            break;
        double px = plot_px(xa, t);
        char label[32];
        if (time)
            plot_fmt_elapsed(label, sizeof label, t);
        else
            snprintf(label, sizeof label, "%g", t);
        strbuf_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" "
                      "stroke=\"#888\"/>\n"
                      "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s"
                      "</text>\n",
                      px, bottom, px, bottom + 5, px, bottom + 18, label);
    }
}

/* The x axis's caption: what x is, and since when. */
static void
plot_x_caption(strbuf_t *b, const plot_t *p)
{
    char when[64] = "";
    time_t t = (time_t)p->x0_unix;
    struct tm tm;
    if (p->x_time && p->x0_unix != 0 && gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof when, " %Y-%m-%d %H:%M:%S UTC", &tm);
    strbuf_printf(b,
                  "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s%s"
                  "</text>\n",
                  (PLOT_LEFT + PLOT_WIDTH - PLOT_RIGHT) / 2,
                  PLOT_TOP + PLOT_H + 38,
                  !p->x_time        ? "dump"
                  : when[0] != '\0' ? "time since"
                                    : "time since the first dump",
                  when);
}

/* Appends name cut to cols code points (with "…"), escaped. */
static void
plot_xml_cut(strbuf_t *b, const char *name, size_t cols)
{
    size_t n = 0, i = 0, len = strlen(name);
    for (size_t k = 0; k < len; k++)
        n += ((unsigned char)name[k] & 0xc0) != 0x80;
    if (n <= cols) {
        strbuf_xml(b, name);
        return;
    }
    char buf[4 * PLOT_LEGEND_COLS + 8];
    size_t out = 0;
    for (size_t kept = 0; kept + 1 < cols && i < len; kept++) {
        size_t w = 1;
        while (i + w < len && ((unsigned char)name[i + w] & 0xc0) == 0x80)
            w++;
        if (out + w + 4 > sizeof buf)
            break;
        memcpy(buf + out, name + i, w);
        out += w;
        i += w;
    }
    memcpy(buf + out, "\xe2\x80\xa6", 4); /* "…" and its NUL */
    strbuf_xml(b, buf);
}

static void
plot_lines(strbuf_t *b, const plot_t *p, const plot_axis_t *xa,
           const plot_axis_t *ya, size_t nlines)
{
    for (size_t i = 0; i < nlines; i++) {
        const plot_line_t *l = &p->lines[i];
        strbuf_printf(b,
                      "<polyline fill=\"none\" stroke=\"%s\" "
                      "stroke-width=\"2\" stroke-linejoin=\"round\" "
                      "points=\"",
                      plot_palette[i]);
        for (size_t k = 0; k < p->npoints; k++)
            strbuf_printf(b, "%s%.1f,%.1f", k ? " " : "", plot_px(xa, p->x[k]),
                          plot_py(ya, l->y[k]));
        strbuf_puts(b, "\"><title>");
        strbuf_xml(b, l->name);
        strbuf_puts(b, "</title></polyline>\n");
    }
}

static void
plot_legend(strbuf_t *b, const plot_t *p, size_t nlines)
{
    int top = PLOT_TOP + PLOT_H + PLOT_BOTTOM;
    for (size_t i = 0; i < nlines; i++) {
        int y = top + (int)i * PLOT_ROW;
        strbuf_printf(b,
                      "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" "
                      "fill=\"%s\"/>\n<text x=\"%d\" y=\"%d\">",
                      PLOT_LEFT, y - 9, plot_palette[i], PLOT_LEFT + 20, y);
        plot_xml_cut(b, p->lines[i].name, PLOT_LEGEND_COLS);
        strbuf_puts(b, "</text>\n");
    }
}

/* The range of every value of the lines drawn, with 0 in it. */
static void
plot_range(const plot_t *p, size_t nlines, double *r_lo, double *r_hi)
{
    double lo = 0, hi = 0;
    for (size_t i = 0; i < nlines; i++)
        for (size_t k = 0; k < p->npoints; k++) {
            lo = fmin(lo, p->lines[i].y[k]);
            hi = fmax(hi, p->lines[i].y[k]);
        }
    if (hi <= lo)
        hi = lo + 1;
    *r_lo = lo;
    *r_hi = hi;
}

void
plot_svg(strbuf_t *b, const plot_t *p)
{
    size_t nlines = p->nlines < PLOT_MAX_LINES ? p->nlines : PLOT_MAX_LINES;
    double lo, hi;
    plot_range(p, nlines, &lo, &hi);
    plot_axis_t ya = plot_value_axis(lo, hi, p->y_unit);
    double x0 = p->npoints ? p->x[0] : 0;
    double x1 = p->npoints ? p->x[p->npoints - 1] : 1;
    if (x1 <= x0)
        x1 = x0 + 1;
    plot_axis_t xa =
        p->x_time ? plot_time_axis(x0, x1) : plot_index_axis(x0, x1);
    int height = PLOT_TOP + PLOT_H + PLOT_BOTTOM + (int)nlines * PLOT_ROW;
    strbuf_printf(b,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                  "<text x=\"%d\" y=\"28\" font-size=\"16\">",
                  PLOT_WIDTH, height, PLOT_WIDTH, height, PLOT_LEFT);
    strbuf_xml(b, p->title != NULL ? p->title : "");
    strbuf_puts(b, "</text>\n");
    plot_y_ticks(b, &ya);
    plot_x_ticks(b, &xa, p->x_time);
    plot_x_caption(b, p);
    strbuf_printf(b,
                  "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                  "fill=\"none\" stroke=\"#888\"/>\n",
                  PLOT_LEFT, PLOT_TOP, PLOT_WIDTH - PLOT_LEFT - PLOT_RIGHT,
                  PLOT_H);
    plot_lines(b, p, &xa, &ya, nlines);
    plot_legend(b, p, nlines);
    strbuf_puts(b, "</svg>\n");
}
