/*
 * gvc_render.c — DOT text to SVG, PNG or PDF through libgvc (see
 * gvc_render.h).
 *
 * Plugins.  Graphviz finds its layout engines and renderers in plugin
 * libraries (/usr/lib/<triplet>/graphviz/libgvplugin_*.so.6 on Debian),
 * normally listed in a configuration file, config6a, that gvContext()
 * reads and that `dot -c` writes; a missing or stale file leaves a
 * context with no renderers at all.  Each plugin library exports one
 * table, gvplugin_<name>_LTX_library; the command links three of them
 * (cli/CMakeLists.txt, with a RUNPATH to their folder) and hands the
 * tables to gvContextPlugins with demand loading off, which installs
 * exactly these plugins and reads no file:
 *   dot_layout  the "dot" layout engine;
 *   core        Graphviz's own SVG writer ("svg:svg:core": text, one
 *               <g class="node"> per node, as every SVG viewer expects);
 *   pango       its package is named "cairo": the cairo renderers PNG and
 *               PDF ("png:cairo:cairo", "pdf:cairo:cairo") and the pango
 *               text layout that measures labels for every format.
 * The renderers are named in full so that no other installed plugin's
 * quality ranking can change which one draws.
 *
 * Errors.  Graphviz reports through agerr: a handler installed for the
 * length of a call keeps the first error line ("Error: ..." arrives in
 * pieces: "Error", ": ", the message with its newline) and drops the
 * warnings, so nothing of Graphviz's reaches stderr by itself.
 *
 * Invariant: outside gvc_render, Graphviz's error handler and level are
 * what they were before it (restored on every path).
 */
#include "gvc_render.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <gvc.h>

extern gvplugin_library_t gvplugin_core_LTX_library;
extern gvplugin_library_t gvplugin_dot_layout_LTX_library;
extern gvplugin_library_t gvplugin_pango_LTX_library;

static const lt_symlist_t gvc_render_builtins[] = {
    {"gvplugin_core_LTX_library", &gvplugin_core_LTX_library},
    {"gvplugin_dot_layout_LTX_library", &gvplugin_dot_layout_LTX_library},
    {"gvplugin_pango_LTX_library", &gvplugin_pango_LTX_library},
    {NULL, NULL},
};

static const struct {
    const char *format, *device;
} gvc_render_devices[] = {
    {"svg", "svg:svg:core"},
    {"png", "png:cairo:cairo"},
    {"pdf", "pdf:cairo:cairo"},
};

/* The first error Graphviz reported during this call (agerr pieces). */
static struct {
    char msg[512];
    bool at_line_start; /* the next piece starts a message */
    bool keep;          /* the current message is the error we keep */
    bool done;          /* one whole error line kept */
} gvc_render_err;

static int
gvc_render_on_error(char *piece)
{
    if (gvc_render_err.at_line_start) {
        gvc_render_err.at_line_start = false;
        gvc_render_err.keep =
            !gvc_render_err.done && strcmp(piece, "Warning") != 0;
        if (strcmp(piece, "Error") == 0 || strcmp(piece, "Warning") == 0)
            return 0; /* the level word; ": " follows */
    }
    if (gvc_render_err.keep && strcmp(piece, ": ") != 0) {
        size_t len = strlen(gvc_render_err.msg);
        snprintf(gvc_render_err.msg + len, sizeof gvc_render_err.msg - len,
                 "%s", piece);
    }
    size_t n = strlen(piece);
    if (n > 0 && piece[n - 1] == '\n') {
        gvc_render_err.at_line_start = true;
        gvc_render_err.done = gvc_render_err.done || gvc_render_err.keep;
        gvc_render_err.keep = false;
    }
    return 0;
}

/* err = "what: <Graphviz's message>", its newlines turned into "; ". */
static int
gvc_render_fail(int e, const char *what, char *err, size_t errlen)
{
    char *m = gvc_render_err.msg;
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    for (char *p = m; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ';';
    if (n > 0)
        snprintf(err, errlen, "%s: %s", what, m);
    else
        snprintf(err, errlen, "%s", what);
    return e;
}

static const char *
gvc_render_device(const char *format)
{
    size_t n = sizeof gvc_render_devices / sizeof gvc_render_devices[0];
    for (size_t i = 0; i < n; i++)
        if (strcmp(gvc_render_devices[i].format, format) == 0)
            return gvc_render_devices[i].device;
    return NULL;
}

/* Lays out and renders g; 0 or an error from gvc_render_fail. */
static int
gvc_render_graph(GVC_t *gvc, Agraph_t *g, const char *format,
                 const char *device, char **r_data, size_t *r_len, char *err,
                 size_t errlen)
{
    char what[64];
    if (gvLayout(gvc, g, "dot") != 0)
        return gvc_render_fail(EIO, "graphviz could not lay out the graph", err,
                               errlen);
    char *data = NULL;
    unsigned int len = 0;
    int rc = gvRenderData(gvc, g, device, &data, &len);
    gvFreeLayout(gvc, g);
    if (rc != 0 || data == NULL) {
        if (data != NULL)
            gvFreeRenderData(data);
        snprintf(what, sizeof what, "graphviz could not render %s", format);
        return gvc_render_fail(EIO, what, err, errlen);
    }
    *r_data = data;
    *r_len = len;
    return 0;
}

int
gvc_render(const char *dot, const char *format, char **r_data, size_t *r_len,
           char *err, size_t errlen)
{
    *r_data = NULL;
    *r_len = 0;
    const char *device = gvc_render_device(format);
    if (device == NULL) {
        snprintf(err, errlen, "graphviz: no renderer for format '%s'", format);
        return EINVAL;
    }
    gvc_render_err.msg[0] = '\0';
    gvc_render_err.at_line_start = true;
    gvc_render_err.keep = gvc_render_err.done = false;
    agusererrf old_handler = agseterrf(gvc_render_on_error);
    agerrlevel_t old_level = agseterr(AGWARN);

    int e = ENOMEM;
    GVC_t *gvc = gvContextPlugins(gvc_render_builtins, 0);
    Agraph_t *g = NULL;
    if (gvc == NULL)
        snprintf(err, errlen, "graphviz: out of memory");
    else if ((g = agmemread(dot)) == NULL)
        e = gvc_render_fail(EINVAL, "graphviz could not read the graph", err,
                            errlen);
    else
        e = gvc_render_graph(gvc, g, format, device, r_data, r_len, err,
                             errlen);
    if (g != NULL)
        agclose(g);
    if (gvc != NULL)
        gvFreeContext(gvc);
    agseterr(old_level);
    agseterrf(old_handler);
    return e;
}

void
gvc_render_free(char *data)
{
    if (data != NULL)
        gvFreeRenderData(data);
}
