/*
 * plot.h — a line chart of a few series over time, as SVG text (what
 * `heapsight trend --plot` draws: live bytes of the top sites per dump).
 *
 * Owns: nothing beyond the call; plot_svg reads a plot_t and appends one
 * complete SVG document to a strbuf.  It touches no files and keeps no
 * state: the command writes the buffer out.
 *
 * Layout: a title, the chart (y axis on the left with "nice" ticks in
 * human units — KiB, MiB... for bytes, k, M... otherwise; x axis at the
 * bottom with ticks in elapsed time, or dump numbers when there are no
 * times), then a legend of one row per series: a colour swatch and the
 * series' name cut to PLOT_LEGEND_COLS columns (the whole name is in the
 * line's <title>, shown on hover).  Series i has colour i of a fixed
 * palette of PLOT_MAX_LINES; further series are not drawn.
 *
 * Invariants: every line is one <polyline> with npoints points, in order
 * of x; the output is well-formed XML whatever the names hold (they are
 * escaped).
 *
 * Threading: none; pure.
 */
#ifndef HS_VIZ_PLOT_H
#define HS_VIZ_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define PLOT_MAX_LINES 10
#define PLOT_LEGEND_COLS 90

typedef struct plot_line_s {
    const char *name; /* the legend's text, UTF-8 */
    const double *y;  /* npoints values */
} plot_line_t;

typedef struct plot_s {
    const char *title;
    const char *y_unit; /* "bytes": binary units; else decimal (k, M) */
    const double *x;    /* npoints, ascending: seconds since x0, or
                           dump numbers when !x_time */
    size_t npoints;
    bool x_time;     /* x is seconds: ticks in elapsed time */
    int64_t x0_unix; /* the wall time of x = 0 (seconds); 0: unknown */
    const plot_line_t *lines;
    size_t nlines;
} plot_t;

/* Appends the SVG document of p to b (b->failed tells out of memory). */
void plot_svg(strbuf_t *b, const plot_t *p);

#endif /* HS_VIZ_PLOT_H */
