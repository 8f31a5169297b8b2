/*
 * graph.c — `heapsight graph PROFILE -o OUT [options]`: the call graph of
 * a profile as SVG, PNG, PDF or DOT.
 *
 * Owns: the options, the profile's model turned into the call graph's
 * input (functions, the frame → function map, the samples kept by
 * --focus/--ignore), and the output file.  Building, pruning and the DOT
 * text are viz/callgraph's; layout and rendering are gvc_render's.
 *
 * Functions: frames are the model's (function, file, line); a node is a
 * function, so frames are grouped by (function name, file): two static
 * functions of one name in two files stay two nodes, the lines of one
 * function are one node.
 *
 * Totals: percentages and the pruning cutoffs are of the whole profile's
 * total even when --focus/--ignore keep only some samples (pprof does the
 * same); the legend then says how much the filters kept.
 *
 * The output is written to a temporary file beside OUT and renamed over
 * it, so OUT is either the old file or the whole new one.
 *
 * Threading: single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "gvc_render.h"
#include "hmap.h"
#include "model.h"
#include "outfile.h"
#include "viz/callgraph.h"
#include "viz/strbuf.h"

typedef struct graph_args_s {
    const char *profile, *out, *format;
    const char *sample_index, *focus, *ignore;
    bool no_interpreter; /* hide CPython's frames (model.h) */
    callgraph_opts_t cg;
} graph_args_t;

/* What the call graph is built from; owns the arrays, not the strings. */
typedef struct graph_input_s {
    callgraph_input_t in;
    callgraph_func_t *funcs;
    uint32_t *frame_func;
    callgraph_sample_t *samples;
    int64_t kept; /* Σ value of the samples the filters kept */
} graph_input_t;

static int graph_main(int argc, char **argv);

const cmd_t cmd_graph = {
    .name = "graph",
    .summary = "draw the call graph of a profile (SVG, PNG, PDF, DOT)",
    .usage =
        "usage: heapsight graph PROFILE -o OUT [--sample-index T]\n"
        "                       [--focus RE] [--ignore RE] [--nodes N]\n"
        "                       [--node-fraction F] [--edge-fraction F]\n"
        "                       [--no-interpreter]\n"
        "\n"
        "Draws the call graph of PROFILE: a box per function, with its\n"
        "flat value (samples allocated in it) and its cum value (in it or\n"
        "in anything it called), and an arrow per call, caller to callee,\n"
        "with the value of the samples that went through that call.  Big\n"
        "flat values make big boxes; shares of the total go from grey to\n"
        "red.  Percentages are of the whole profile.\n"
        "\n"
        "Small parts are pruned as pprof does: functions whose cum is below\n"
        "F of the total, all but the N largest by cum, then edges below\n"
        "F of the total.  A dashed arrow joins a caller to a callee it\n"
        "reached only through pruned functions; it is left out when other\n"
        "arrows already lead from the one to the other.  To keep the graph\n"
        "readable and quick to lay out, a function shows at most its 6\n"
        "heaviest incoming arrows, and the graph at most 3 arrows per\n"
        "function, but never so few that a function loses its heaviest\n"
        "caller or the graph falls apart.  The legend box says what was\n"
        "dropped.\n"
        "\n"
        "options:\n"
        "  -o, --output OUT       where to write; the format comes from the\n"
        "                         extension: .svg, .png, .pdf, or .dot (the\n"
        "                         graph in Graphviz's language, not laid out)\n"
        "      --sample-index T   the sample type to show, by name or number\n"
        "                         (default: the profile's default, else its\n"
        "                         last)\n"
        "      --focus RE         only samples with a function matching RE\n"
        "                         (POSIX extended)\n"
        "      --ignore RE        no samples with a function matching RE\n"
        "      --nodes N          at most N functions (default 80)\n"
        "      --node-fraction F  drop functions with cum below F of the\n"
        "                         total (0 to 1, default 0.005)\n"
        "      --edge-fraction F  drop edges below F of the total (0 to 1,\n"
        "                         default 0.001)\n"
        "      --no-interpreter   Python first: in stacks with Python\n"
        "                         frames, hide the CPython interpreter's own\n"
        "                         frames (eval loop, calls, start-up), so\n"
        "                         calls read <module> -> main -> load_batch\n"
        "                         -> sqlite3_step (docs/PYTHON.md)\n"
        "  -h, --help             this text\n"
        "\n"
        "exit status: 0 written, 1 OUT not written, 2 bad usage or PROFILE\n"
        "unreadable.\n",
    .main = graph_main,
};
CMD_REGISTER(cmd_graph, CMD_ORDER_GRAPH);

/* ---- options ---- */

/* The format of path from its extension, or NULL. */
static const char *
graph_format(const char *path)
{
    static const char *const formats[] = {"svg", "png", "pdf", "dot"};
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base != NULL ? base : path, '.');
    if (dot == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcasecmp(dot + 1, formats[i]) == 0)
            return formats[i];
    return NULL;
}

/* A fraction in [0, 1], the whole string. */
static bool
graph_parse_fraction(const char *s, double *r)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= 1))
        return false;
    *r = v;
    return true;
}

/* A count of at least 1, decimal digits only. */
static bool
graph_parse_count(const char *s, size_t *r)
{
    if (s[0] < '0' || s[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > SIZE_MAX / 2)
        return false;
    *r = (size_t)v;
    return true;
}

enum {
    GRAPH_OPT_SAMPLE_INDEX = 256,
    GRAPH_OPT_FOCUS,
    GRAPH_OPT_IGNORE,
    GRAPH_OPT_NODES,
    GRAPH_OPT_NODE_FRACTION,
    GRAPH_OPT_EDGE_FRACTION,
    GRAPH_OPT_NO_INTERPRETER,
};

/* One option into a; -1 when fine, else an exit status. */
static int
graph_option(int c, char **argv, graph_args_t *a)
{
    const cmd_t *cmd = &cmd_graph;
    switch (c) {
    case 'o':
        a->out = optarg;
        return -1;
    case 'h':
        return cmd_help(cmd);
    case GRAPH_OPT_SAMPLE_INDEX:
        a->sample_index = optarg;
        return -1;
    case GRAPH_OPT_FOCUS:
        a->focus = optarg;
        return -1;
    case GRAPH_OPT_IGNORE:
        a->ignore = optarg;
        return -1;
    case GRAPH_OPT_NO_INTERPRETER:
        a->no_interpreter = true;
        return -1;
    case GRAPH_OPT_NODES:
        if (graph_parse_count(optarg, &a->cg.max_nodes))
            return -1;
        return cmd_usage_error(
            cmd, "--nodes wants a whole number of at least 1, not '%s'",
            optarg);
    case GRAPH_OPT_NODE_FRACTION:
    case GRAPH_OPT_EDGE_FRACTION: {
        bool node = c == GRAPH_OPT_NODE_FRACTION;
        double *f = node ? &a->cg.node_fraction : &a->cg.edge_fraction;
        if (graph_parse_fraction(optarg, f))
            return -1;
        return cmd_usage_error(cmd, "%s wants a number from 0 to 1, not '%s'",
                               node ? "--node-fraction" : "--edge-fraction",
                               optarg);
    }
    default:
        return cmd_bad_option(cmd, c, argv);
    }
}

/* Parses argv into a; -1 when fine, else an exit status. */
static int
graph_parse(int argc, char **argv, graph_args_t *a)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"sample-index", required_argument, NULL, GRAPH_OPT_SAMPLE_INDEX},
        {"focus", required_argument, NULL, GRAPH_OPT_FOCUS},
        {"ignore", required_argument, NULL, GRAPH_OPT_IGNORE},
        {"nodes", required_argument, NULL, GRAPH_OPT_NODES},
        {"node-fraction", required_argument, NULL, GRAPH_OPT_NODE_FRACTION},
        {"edge-fraction", required_argument, NULL, GRAPH_OPT_EDGE_FRACTION},
        {"no-interpreter", no_argument, NULL, GRAPH_OPT_NO_INTERPRETER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (graph_args_t){0};
    a->cg = (callgraph_opts_t){
        .node_fraction = CALLGRAPH_NODE_FRACTION,
        .edge_fraction = CALLGRAPH_EDGE_FRACTION,
        .max_nodes = CALLGRAPH_MAX_NODES,
        .max_in_edges = CALLGRAPH_MAX_IN_EDGES,
        .edges_per_node = CALLGRAPH_EDGES_PER_NODE,
    };
    int c, status = -1;
    cmd_getopt_reset();
    while (status < 0 &&
           (c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1)
        status = graph_option(c, argv, a);
    if (status >= 0)
        return status;
    if (optind != argc - 1)
        return cmd_usage_error(&cmd_graph, optind == argc
                                               ? "no PROFILE given"
                                               : "one PROFILE at a time");
    a->profile = argv[optind];
    if (a->out == NULL)
        return cmd_usage_error(&cmd_graph, "no output given (-o OUT)");
    if ((a->format = graph_format(a->out)) == NULL)
        return cmd_usage_error(&cmd_graph,
                               "cannot tell the format of '%s': name it "
                               "*.svg, *.png, *.pdf or *.dot",
                               a->out);
    return -1;
}

/* ---- the call graph's input ---- */

/* Groups the model's frames into functions by (name, file). */
static int
graph_funcs(const model_t *m, graph_input_t *gi)
{
    gi->funcs = calloc(m->nframes + 1, sizeof(callgraph_func_t));
    gi->frame_func = calloc(m->nframes + 1, sizeof(uint32_t));
    if (gi->funcs == NULL || gi->frame_func == NULL)
        return ENOMEM;
    hmap_t ids;
    hmap_init(&ids);
    size_t nfuncs = 0, cap = 0;
    char *key = NULL; /* "func\0file", reused */
    int e = 0;
    for (size_t i = 0; e == 0 && i < m->nframes; i++) {
        const model_frame_t *f = &m->frames[i];
        size_t ln = strlen(f->func), len = ln + strlen(f->file) + 2;
        if (len > cap) {
            char *k = realloc(key, len * 2);
            if (k == NULL) {
                e = ENOMEM;
                break;
            }
            key = k;
            cap = len * 2;
        }
        memcpy(key, f->func, ln + 1);
        memcpy(key + ln + 1, f->file, len - ln - 1);
        uint64_t id;
        if (!hmap_get(&ids, key, len, &id)) {
            id = nfuncs;
            gi->funcs[nfuncs++] = (callgraph_func_t){f->func, f->file};
            e = hmap_put(&ids, key, len, id);
        }
        gi->frame_func[i] = (uint32_t)id;
    }
    free(key);
    hmap_destroy(&ids);
    gi->in.funcs = gi->funcs;
    gi->in.nfuncs = nfuncs;
    gi->in.frame_func = gi->frame_func;
    gi->in.nframes = m->nframes;
    return e;
}

/* The samples the filter keeps, and their sum in gi->kept. */
static int
graph_samples(const model_t *m, const model_filter_t *flt, graph_input_t *gi)
{
    gi->samples = calloc(m->nsamples + 1, sizeof(callgraph_sample_t));
    if (gi->samples == NULL)
        return ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->nsamples; i++) {
        const model_sample_t *s = &m->samples[i];
        if (!model_filter_keeps(m, flt, s))
            continue;
        gi->samples[n++] =
            (callgraph_sample_t){s->stack, s->depth, model_value(m, s)};
        if (__builtin_add_overflow(gi->kept, model_value(m, s), &gi->kept))
            gi->kept = model_value(m, s) > 0 ? INT64_MAX : INT64_MIN;
    }
    gi->in.samples = gi->samples;
    gi->in.nsamples = n;
    gi->in.total = model_total(m);
    return 0;
}

static void
graph_input_free(graph_input_t *gi)
{
    free(gi->funcs);
    free(gi->frame_func);
    free(gi->samples);
}

/* ---- the DOT text ---- */

enum { GRAPH_NOTE_MAX = 160 };

enum { GRAPH_NOTES = 4 };

/* The legend's lines about the filters, into notes; returns how many. */
static size_t
graph_notes(const graph_args_t *a, const model_t *m, const graph_input_t *gi,
            char notes[GRAPH_NOTES][GRAPH_NOTE_MAX])
{
    size_t n = 0;
    if (a->no_interpreter)
        snprintf(notes[n++], GRAPH_NOTE_MAX, "Hidden: CPython's frames");
    if (a->focus != NULL)
        snprintf(notes[n++], GRAPH_NOTE_MAX, "Focus: %s", a->focus);
    if (a->ignore != NULL)
        snprintf(notes[n++], GRAPH_NOTE_MAX, "Ignore: %s", a->ignore);
    if (a->focus != NULL || a->ignore != NULL) {
        char v[64];
        model_fmt_value(v, sizeof v, (double)gi->kept, model_unit(m), false);
        double total = (double)gi->in.total;
        snprintf(notes[n++], GRAPH_NOTE_MAX, "Kept by the filters: %s (%.2f%%)",
                 v, total == 0 ? 0 : 100.0 * (double)gi->kept / fabs(total));
    }
    return n;
}

/* The DOT text of the model's call graph into out; 0 or an errno. */
static int
graph_dot(const graph_args_t *a, const model_t *m, const model_filter_t *flt,
          strbuf_t *out)
{
    graph_input_t gi = {0};
    callgraph_t g = {0};
    int e = graph_funcs(m, &gi);
    if (e == 0)
        e = graph_samples(m, flt, &gi);
    if (e == 0)
        e = callgraph_build(&gi.in, &a->cg, &g);
    if (e == 0) {
        char notes[GRAPH_NOTES][GRAPH_NOTE_MAX];
        const char *note_ptrs[GRAPH_NOTES] = {notes[0], notes[1], notes[2],
                                              notes[3]};
        const char *base = strrchr(m->path, '/');
        callgraph_legend_t lg = {
            .file = base != NULL ? base + 1 : m->path,
            .type = m->type_names[m->vi],
            .unit = model_unit(m),
            .notes = note_ptrs,
            .nnotes = graph_notes(a, m, &gi, notes),
            .fmt = model_fmt_value,
        };
        callgraph_dot(&g, &lg, out);
        e = out->failed ? ENOMEM : 0;
    }
    callgraph_free(&g);
    graph_input_free(&gi);
    return e;
}

/* ---- the output file ---- */

/* Writes data to path atomically (outfile.h); returns the exit status. */
static int
graph_write(const char *path, const char *data, size_t len)
{
    int e = outfile_write(path, data, len);
    if (e != 0)
        cmd_error("%s: cannot write: %s", path, strerror(e));
    return e == 0 ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}

/* DOT as is, or laid out and rendered; returns the exit status. */
static int
graph_output(const graph_args_t *a, const strbuf_t *dot)
{
    if (strcmp(a->format, "dot") == 0)
        return graph_write(a->out, dot->s, dot->len);
    char err[600], *data;
    size_t len;
    if (gvc_render(dot->s, a->format, &data, &len, err, sizeof err) != 0) {
        cmd_error("%s: %s", a->out, err);
        return CMD_EXIT_FAIL;
    }
    int status = graph_write(a->out, data, len);
    gvc_render_free(data);
    return status;
}

static int
graph_main(int argc, char **argv)
{
    graph_args_t a;
    int status = graph_parse(argc, argv, &a);
    if (status >= 0)
        return status;
    char err[PROFILE_ERR_MAX];
    model_filter_t flt;
    if (model_filter_init(&flt, a.focus, a.ignore, err, sizeof err) != 0)
        return cmd_usage_error(&cmd_graph, "%s", err);
    model_opts_t mo = {.sample_index = a.sample_index,
                       .no_interpreter = a.no_interpreter};
    model_t *m;
    int e = model_load(a.profile, &mo, &m, err, sizeof err);
    if (e != 0) {
        cmd_error("%s", err);
        model_filter_free(&flt);
        return e == ENOMEM ? CMD_EXIT_FAIL : CMD_EXIT_USAGE;
    }
    strbuf_t dot = STRBUF_INIT;
    e = graph_dot(&a, m, &flt, &dot);
    if (e != 0) {
        cmd_error("graph: %s: %s", a.profile, strerror(e));
        status = CMD_EXIT_FAIL;
    } else {
        status = graph_output(&a, &dot);
    }
    strbuf_free(&dot);
    model_free(m);
    model_filter_free(&flt);
    return status;
}
