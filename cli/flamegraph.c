/*
 * flamegraph.c — `heapsight flamegraph PROFILE [--base BASE] ... -o OUT`
 * and flamegraph_file (see flamegraph.h).
 *
 * From models to the renderer's tree: every frame of PROFILE's model is
 * interned in the tree once (frame_ids[model frame id] = tree frame id),
 * then each sample kept by the filters adds its stack with its value.
 * BASE's frames are only looked up (a frame PROFILE does not have cannot
 * be on a drawn path), and each kept base sample adds its value along the
 * part of its path the tree has; all of it counts in the base total, so
 * sites found only in BASE still show in the totals line.  BASE shows the
 * sample type PROFILE shows, found by name.
 *
 * Threading: none.
 */
#include "flamegraph.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "model.h"
#include "outfile.h"
#include "viz/flamegraph.h"

typedef enum {
    FLAMEGRAPH_NONE,
    FLAMEGRAPH_SVG,
    FLAMEGRAPH_HTML
} flamegraph_format_t;

static flamegraph_format_t
flamegraph_format(const char *out)
{
    const char *dot = strrchr(out, '.');
    if (dot == NULL || strchr(dot, '/') != NULL)
        return FLAMEGRAPH_NONE;
    if (strcasecmp(dot, ".svg") == 0)
        return FLAMEGRAPH_SVG;
    if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0)
        return FLAMEGRAPH_HTML;
    return FLAMEGRAPH_NONE;
}

bool
flamegraph_format_ok(const char *out)
{
    return flamegraph_format(out) != FLAMEGRAPH_NONE;
}

static const char *
flamegraph_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* ---- the tree ----------------------------------------------------------- */

/* Tree frame ids for the frames of m: interned when add, else looked up
 * (FLAME_NO_FRAME when absent).  NULL when out of memory. */
static uint32_t *
flamegraph_frame_ids(flame_tree_t *t, const model_t *m, bool add)
{
    uint32_t *ids = malloc((m->nframes + 1) * sizeof(uint32_t));
    for (size_t i = 0; ids != NULL && i < m->nframes; i++) {
        const model_frame_t *f = &m->frames[i];
        if (!add) {
            ids[i] = flame_tree_find_frame(t, f->func, f->file, f->line);
        } else if (flame_tree_frame(t, f->func, f->file, f->line,
                                    f->python ? FLAME_PYTHON : FLAME_NATIVE,
                                    &ids[i]) != 0) {
            free(ids);
            ids = NULL;
        }
    }
    return ids;
}

/* Adds the kept samples of m (to base when base); 0 or an errno value. */
static int
flamegraph_add_model(flame_tree_t *t, const model_t *m,
                     const model_filter_t *filter, bool base)
{
    uint32_t *ids = flamegraph_frame_ids(t, m, !base);
    uint32_t depth = 1;
    for (size_t i = 0; i < m->nsamples; i++)
        if (m->samples[i].depth > depth)
            depth = m->samples[i].depth;
    uint32_t *stack = malloc(depth * sizeof(uint32_t));
    int e = ids != NULL && stack != NULL ? 0 : ENOMEM;
    for (size_t i = 0; e == 0 && i < m->nsamples; i++) {
        const model_sample_t *s = &m->samples[i];
        if (!model_filter_keeps(m, filter, s))
            continue;
        for (uint32_t k = 0; k < s->depth; k++)
            stack[k] = ids[s->stack[k]];
        if (base)
            e = flame_tree_add_base(t, stack, s->depth, model_value(m, s));
        else
            e = flame_tree_add(t, stack, s->depth, model_value(m, s));
    }
    free(stack);
    free(ids);
    return e;
}

/* ---- writing ------------------------------------------------------------ */

/* ---- rendering ---------------------------------------------------------- */

typedef struct flamegraph_run_s {
    const char *profile, *out;
    const flamegraph_opts_t *o;
    model_filter_t filter;
    model_t *m, *base;
    flame_tree_t *tree;
    strbuf_t text;
} flamegraph_run_t;

/* The exit status of a failed model_load. */
static int
flamegraph_load_failed(int e, const char *err)
{
    cmd_error("%s", err);
    return e == ENOMEM ? CMD_EXIT_FAIL : CMD_EXIT_USAGE;
}

/* Loads PROFILE and BASE and checks they show the same kind of value. */
static int
flamegraph_load(flamegraph_run_t *r)
{
    char err[PROFILE_ERR_MAX];
    model_opts_t mo = {.sample_index = r->o->sample_index,
                       .no_interpreter = r->o->no_interpreter};
    int e = model_load(r->profile, &mo, &r->m, err, sizeof err);
    if (e != 0)
        return flamegraph_load_failed(e, err);
    if (r->o->base == NULL)
        return CMD_EXIT_OK;
    mo.sample_index = r->m->type_names[r->m->vi];
    e = model_load(r->o->base, &mo, &r->base, err, sizeof err);
    if (e != 0)
        return flamegraph_load_failed(e, err);
    if (strcmp(model_unit(r->m), model_unit(r->base)) != 0) {
        cmd_error("%s: '%s' is in %s, but in %s in %s", r->o->base,
                  mo.sample_index, model_unit(r->base), model_unit(r->m),
                  r->profile);
        return CMD_EXIT_USAGE;
    }
    return CMD_EXIT_OK;
}

/* The title and the line under it, from the files and options. */
static void
flamegraph_titles(const flamegraph_run_t *r, char *title, size_t tsize,
                  char *sub, size_t ssize)
{
    const flamegraph_opts_t *o = r->o;
    if (o->title != NULL)
        snprintf(title, tsize, "%s", o->title);
    else if (o->base != NULL)
        snprintf(title, tsize, "Flame graph: %s \xe2\x86\x92 %s",
                 flamegraph_base_name(o->base),
                 flamegraph_base_name(r->profile));
    else
        snprintf(title, tsize, "Flame graph: %s",
                 flamegraph_base_name(r->profile));
    int n = snprintf(sub, ssize, "%s", r->m->type_names[r->m->vi]);
    if (o->focus != NULL && n >= 0 && (size_t)n < ssize)
        n += snprintf(sub + n, ssize - (size_t)n, ", focus /%s/", o->focus);
    if (o->ignore != NULL && n >= 0 && (size_t)n < ssize)
        n += snprintf(sub + n, ssize - (size_t)n, ", ignore /%s/", o->ignore);
    if (o->no_interpreter && n >= 0 && (size_t)n < ssize)
        snprintf(sub + n, ssize - (size_t)n, ", CPython's frames hidden");
}

/* Values that add up past INT64_MAX: a profile no one can draw. */
static int
flamegraph_overflow(const char *path)
{
    cmd_error("%s: the sample values add up past 2^63", path);
    return CMD_EXIT_USAGE;
}

static int
flamegraph_render(flamegraph_run_t *r)
{
    r->tree = flame_tree_new(r->o->lines);
    int e = r->tree != NULL ? 0 : ENOMEM;
    if (e == 0)
        e = flamegraph_add_model(r->tree, r->m, &r->filter, false);
    if (e == EOVERFLOW)
        return flamegraph_overflow(r->profile);
    if (e == 0 && r->base != NULL)
        e = flamegraph_add_model(r->tree, r->base, &r->filter, true);
    if (e == EOVERFLOW)
        return flamegraph_overflow(r->o->base);
    char title[512], sub[512];
    flamegraph_titles(r, title, sizeof title, sub, sizeof sub);
    flame_opts_t fo = {
        .title = title,
        .subtitle = sub,
        .unit = model_unit(r->m),
        .fmt = model_fmt_value,
        .differential = r->base != NULL,
    };
    if (e == 0 && flamegraph_format(r->out) == FLAMEGRAPH_SVG)
        e = flame_render_svg(r->tree, &fo, &r->text);
    else if (e == 0)
        e = flame_render_html(r->tree, &fo, &r->text);
    if (e != 0) {
        cmd_error("flamegraph: %s: %s", r->profile, strerror(e));
        return CMD_EXIT_FAIL;
    }
    e = outfile_write(r->out, r->text.s, r->text.len);
    if (e != 0) {
        cmd_error("%s: cannot write: %s", r->out, strerror(e));
        return CMD_EXIT_FAIL;
    }
    return CMD_EXIT_OK;
}

int
flamegraph_file(const char *profile, const char *out,
                const flamegraph_opts_t *o)
{
    static const flamegraph_opts_t defaults;
    flamegraph_run_t r = {
        .profile = profile,
        .out = out,
        .o = o != NULL ? o : &defaults,
        .text = STRBUF_INIT,
    };
    if (!flamegraph_format_ok(out)) {
        cmd_error("%s: unknown output format (use .svg or .html)", out);
        return CMD_EXIT_USAGE;
    }
    char err[PROFILE_ERR_MAX];
    if (model_filter_init(&r.filter, r.o->focus, r.o->ignore, err,
                          sizeof err) != 0) {
        cmd_error("flamegraph: %s", err);
        return CMD_EXIT_USAGE;
    }
    int status = flamegraph_load(&r);
    if (status == CMD_EXIT_OK)
        status = flamegraph_render(&r);
    strbuf_free(&r.text);
    flame_tree_free(r.tree);
    model_free(r.base);
    model_free(r.m);
    model_filter_free(&r.filter);
    return status;
}

/* ---- the command -------------------------------------------------------- */

static int flamegraph_main(int argc, char **argv);

const cmd_t cmd_flamegraph = {
    .name = "flamegraph",
    .summary = "draw a profile (or its change from a base) as a flame graph",
    .usage =
        "usage: heapsight flamegraph PROFILE -o OUT.svg|OUT.html\n"
        "                            [--base BASE] [--sample-index TYPE]\n"
        "                            [--focus RE] [--ignore RE] [--title T]\n"
        "                            [--lines] [--no-interpreter]\n"
        "\n"
        "Draws PROFILE's stacks as a flame graph: the callers at the\n"
        "bottom, each frame as wide as its share of the total.  OUT is an\n"
        "SVG file or an HTML page (by its extension), self-contained and\n"
        "interactive in a browser: click a frame to zoom into it (click\n"
        "it again to go up a level; 'Reset zoom' or Escape to go back),\n"
        "type a regular expression in the search box to highlight the\n"
        "frames it matches and see their share, hover for a frame's file,\n"
        "line, value and share.  Frames under 0.1% of the total are merged\n"
        "into one '[N small frames]' frame per parent.  Python functions\n"
        "(in profiles of Python programs) are drawn in blues and greens,\n"
        "native frames in warm colours, and a legend says so.\n"
        "\n"
        "With --base, a differential graph: PROFILE's stacks, each frame\n"
        "coloured by its change from BASE (red: grown, blue: shrunk,\n"
        "stronger for a larger relative change); the totals count all of\n"
        "BASE, stacks found only there included.\n"
        "\n"
        "options:\n"
        "  -o, --output OUT       where to write the graph (.svg, .html)\n"
        "  -b, --base BASE        colour by the change from BASE\n"
        "  -s, --sample-index T   the sample type to draw, by name or\n"
        "                         index (default: the profile's default,\n"
        "                         else its last, as pprof)\n"
        "  -f, --focus RE         only samples with a frame matching RE\n"
        "  -i, --ignore RE        no samples with a frame matching RE\n"
        "                         (POSIX extended expressions on function\n"
        "                         names)\n"
        "  -t, --title T          the heading (default: the file names)\n"
        "  -l, --lines            one frame per source line, not per\n"
        "                         function\n"
        "      --no-interpreter   Python first: in stacks with Python\n"
        "                         frames, hide the CPython interpreter's own\n"
        "                         frames (eval loop, calls, start-up), so a\n"
        "                         stack reads <module> -> main ->\n"
        "                         load_batch -> sqlite3_step\n"
        "                         (docs/PYTHON.md)\n"
        "  -h, --help             this text\n"
        "\n"
        "exit status: 0 written, 1 OUT not written, 2 bad usage or a\n"
        "profile unreadable.\n",
    .main = flamegraph_main,
};
CMD_REGISTER(cmd_flamegraph, CMD_ORDER_FLAMEGRAPH);

static int
flamegraph_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"base", required_argument, NULL, 'b'},
        {"sample-index", required_argument, NULL, 's'},
        {"focus", required_argument, NULL, 'f'},
        {"ignore", required_argument, NULL, 'i'},
        {"title", required_argument, NULL, 't'},
        {"lines", no_argument, NULL, 'l'},
        {"no-interpreter", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    flamegraph_opts_t o = {0};
    const char *out = NULL;
    int c, status = -1;
    cmd_getopt_reset();
    while (status < 0 && (c = getopt_long(argc, argv, ":o:b:s:f:i:t:lh",
                                          longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'b':
            o.base = optarg;
            break;
        case 's':
            o.sample_index = optarg;
            break;
        case 'f':
            o.focus = optarg;
            break;
        case 'i':
            o.ignore = optarg;
            break;
        case 't':
            o.title = optarg;
            break;
        case 'l':
            o.lines = true;
            break;
        case 'P':
            o.no_interpreter = true;
            break;
        case 'h':
            status = cmd_help(&cmd_flamegraph);
            break;
        default:
            status = cmd_bad_option(&cmd_flamegraph, c, argv);
        }
    }
    if (status >= 0)
        return status;
    if (optind != argc - 1)
        return cmd_usage_error(&cmd_flamegraph, optind == argc
                                                    ? "no PROFILE given"
                                                    : "one PROFILE at a time");
    if (out == NULL)
        return cmd_usage_error(&cmd_flamegraph, "no output given (-o OUT)");
    if (!flamegraph_format_ok(out))
        return cmd_usage_error(&cmd_flamegraph,
                               "cannot tell the format of '%s': name it "
                               ".svg or .html",
                               out);
    return flamegraph_file(argv[optind], out, &o);
}
