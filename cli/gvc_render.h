/*
 * gvc_render.h — DOT text to SVG, PNG or PDF in process, through
 * Graphviz's libgvc (what `heapsight graph` draws with).
 *
 * Owns: the Graphviz context of one call and the plugins it registers.
 * The plugin libraries are linked into the command and registered from
 * their *_LTX_library tables (gvc_render.c says which and why), so no
 * plugin configuration file (config6a) is read and no plugin is loaded
 * with dlopen: the same binary draws with an empty HOME and no GVBINDIR.
 *
 * Errors: one line into err; functions return 0, EINVAL (the DOT text did
 * not parse, an unknown format: a bug of the caller) or EIO (Graphviz
 * could not lay out or render the graph).
 *
 * Threading: not thread-safe; Graphviz keeps its error handler and error
 * level in globals, which this module sets for the length of a call.
 */
#ifndef HS_CLI_GVC_RENDER_H
#define HS_CLI_GVC_RENDER_H

#include <stddef.h>

/*
 * Lays dot out with Graphviz's dot engine and renders it as format
 * ("svg", "png" or "pdf") into a new buffer *r_data of *r_len bytes, to be
 * freed with gvc_render_free.
 */
int gvc_render(const char *dot, const char *format, char **r_data,
               size_t *r_len, char *err, size_t errlen);
void gvc_render_free(char *data);

#endif /* HS_CLI_GVC_RENDER_H */
