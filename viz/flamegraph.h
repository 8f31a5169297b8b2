/*
 * flamegraph.h — flame graphs: a tree of call stacks with values, and its
 * rendering as a self-contained interactive SVG or HTML page.
 *
 * Owns: the tree (flame_tree_t: its frames, with copies of their strings,
 * its nodes and the two hash tables that find them) and the renderers.
 * Does not own where stacks come from (cli/flamegraph.c builds the tree
 * from a profile's samples) nor where the text goes (a strbuf the caller
 * writes out).  Pure: no files, no globals.
 *
 * The tree: node 0 is the root ("all", drawn at the bottom); every other
 * node is one frame called from its parent.  A frame is a function and
 * its file, and its line when the tree is made with lines; without lines,
 * frames that differ only by line are one frame, whose line is kept when
 * they all agree and becomes 0 (unknown) when they do not.
 * Invariants, for every node n with children c:
 *     value(n) >= sum value(c)       (the difference is n's self value)
 *     base(n)  >= sum base(c)
 *     value(n) > 0 for n != root     (only stacks with a positive value
 *                                     make nodes)
 *     value(root) == total, total_base >= base(root)
 * total_base also counts base stacks that leave the tree (sites only in
 * the base profile): they add to base() of the nodes they share with it.
 *
 * Rendering (flame_render_svg / flame_render_html): each frame is a
 * rectangle whose width is value / total of the drawing width, children
 * side by side above their parent, ordered by function, file and line so
 * the output depends only on the tree.  Children narrower than
 * min_share of the total are merged into one frame "[N small frames]"
 * (drawn only if the merged frame is itself wide enough), which bounds
 * the drawing at about depth / min_share frames however large the
 * profile.  Colours: from the function's name, warm hues (red to yellow)
 * for native frames and cool ones (blue to green) for Python frames, with
 * a legend under the graph saying which is which when the tree has a
 * Python frame; or, in a differential graph, by the relative change
 * (new - base) / max(new, base): red for growth, blue for shrinkage,
 * light grey for none (no legend).  The SVG carries its own script: click
 * to zoom, search, tooltips; see flamescript.h.
 *
 * Errors: functions return 0 or an errno value (ENOMEM, EINVAL,
 * EOVERFLOW).
 *
 * Threading: none; a tree has one owner.
 */
#ifndef HS_VIZ_FLAMEGRAPH_H
#define HS_VIZ_FLAMEGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* The id of a frame that is not in the tree (flame_tree_find_frame). */
#define FLAME_NO_FRAME UINT32_MAX

typedef struct flame_tree_s flame_tree_t;

/* What a frame runs: its colour family. */
typedef enum flame_kind_e {
    FLAME_NATIVE, /* compiled code (C, C++, Go, the interpreter itself) */
    FLAME_PYTHON, /* a Python function (an interpreter's symbolic frame) */
} flame_kind_t;

/* A new empty tree (just the root); lines: frames differ by line too.
 * NULL when out of memory. */
flame_tree_t *flame_tree_new(bool lines);
void flame_tree_free(flame_tree_t *t);

/* The id of the frame (func, file, line), added if new (strings copied;
 * file "" and line 0 mean unknown); a frame is Python's once any call
 * says so.  Returns 0 or ENOMEM. */
int flame_tree_frame(flame_tree_t *t, const char *func, const char *file,
                     int64_t line, flame_kind_t kind, uint32_t *r_id);
/* The id of the frame if the tree has it, else FLAME_NO_FRAME. */
uint32_t flame_tree_find_frame(const flame_tree_t *t, const char *func,
                               const char *file, int64_t line);

/* Adds a stack of frame ids, leaf first (as pprof stores them), with its
 * value; nothing when value <= 0.  Returns 0, EOVERFLOW when the total
 * would pass INT64_MAX (nothing added), EINVAL for an id that is no
 * frame of the tree, or ENOMEM (after those two the tree is only fit for
 * flame_tree_free). */
int flame_tree_add(flame_tree_t *t, const uint32_t *stack, size_t depth,
                   int64_t value);
/* Adds a stack of the base profile, leaf first (nothing when value <= 0):
 * its value goes to total_base and to the base of every node on its path
 * from the root as long as that path exists in the tree (a frame id
 * FLAME_NO_FRAME never does).  Never adds nodes.  Returns 0, or
 * EOVERFLOW when total_base would pass INT64_MAX (nothing added). */
int flame_tree_add_base(flame_tree_t *t, const uint32_t *stack, size_t depth,
                        int64_t value);

int64_t flame_tree_total(const flame_tree_t *t);
int64_t flame_tree_total_base(const flame_tree_t *t);
/* Nodes, the root included. */
size_t flame_tree_nodes(const flame_tree_t *t);

/* Formats a value in human units ("12.4 MiB"), with a sign when sign. */
typedef void (*flame_fmt_fn)(char *buf, size_t size, double v, const char *unit,
                             bool sign);

typedef struct flame_opts_s {
    const char *title;    /* the heading; also the HTML page's title */
    const char *subtitle; /* a line under it (e.g. the sample type), or
                             NULL; the totals follow it */
    const char *unit;     /* of the values: "bytes", "count", ... */
    flame_fmt_fn fmt;     /* required; the script's own formatter follows
                             the same rules as cli's model_fmt_value */
    bool differential;    /* colour by the change from base */
    double min_share;     /* merge frames narrower than this share of
                             the total; 0: 0.001 */
    unsigned width;       /* of the drawing in pixels; 0: 1200 */
} flame_opts_t;

/* A standalone SVG document (XML prolog, script and style included).
 * Returns 0 or ENOMEM (out->failed). */
int flame_render_svg(const flame_tree_t *t, const flame_opts_t *o,
                     strbuf_t *out);
/* An HTML page holding the same SVG inline; needs no network. */
int flame_render_html(const flame_tree_t *t, const flame_opts_t *o,
                      strbuf_t *out);

#endif /* HS_VIZ_FLAMEGRAPH_H */
