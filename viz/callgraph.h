/*
 * callgraph.h — a call graph of functions built from sampled stacks, pruned
 * as pprof prunes its graphs, and written out as Graphviz DOT text.
 *
 * Owns: the kept nodes and edges (callgraph_t) and the DOT text of them.
 * Does not own the input: the function table, the frame → function map and
 * the samples stay the caller's, and the graph points into the function
 * table, which must outlive it.  It knows no files and no profile format:
 * `heapsight graph` (cli/graph.c) turns its model into a callgraph_input_t
 * and writes the text where it must go.
 *
 * Values, for a function F and a call edge A → B, over the samples given
 * (each sample a stack of frames, leaf first, and one value):
 *   flat(F) = Σ value of the samples whose leaf frame is F
 *   cum(F)  = Σ value of the samples with F anywhere in the stack, each
 *             sample counted once however often F recurs in it
 *   edge(A → B) = Σ value of the samples in which A calls B, each sample
 *             counted once; a direct recursion gives an edge F → F.
 * Samples of value 0 carry nothing and are skipped; a function is "seen"
 * when it appears in a sample of non-zero value.
 *
 * Pruning, in this order (percentages and cutoffs are of in->total, the
 * whole profile's total, so that --focus does not inflate them):
 *   1. drop the functions with |cum| < node_fraction × |total|;
 *   2. keep the max_nodes largest of the rest by |cum|;
 *   3. recompute the edges over the kept functions only: walking a stack
 *      from its root, consecutive kept functions are joined, so a kept
 *      caller that reached a kept callee only through dropped functions
 *      still gets an edge; such an edge (no sample went straight from the
 *      caller to the callee) is "residual" and drawn dashed;
 *   4. drop the edges with |value| < edge_fraction × |total|.
 * Then the edges are thinned, so that the graph stays readable and
 * Graphviz's layout fast (its time grows much faster than the edge count:
 * on a profile of 5,000 random stacks, dot took 50 s over the 596 edges
 * left after step 4, 0.2 s over the 202 left after step 8).  "Heavier"
 * is earlier in the edges' order below.
 *   5. drop the redundant residual edges: lightest first, a residual edge
 *      A → C goes when A still reaches C through the other edges left (a
 *      path of two edges or more).  Each removal keeps every "X reaches Y"
 *      of the graph, so the dashed edge only said what a path already says;
 *   6. hold the edges that keep the graph in one piece: each node's
 *      heaviest in-edge from another node, then, over the edges left
 *      heaviest first, each edge that joins two pieces not yet joined by
 *      held edges (Kruskal's spanning forest, started from the former);
 *   7. keep at most max_in_edges edges into each node: its held ones,
 *      then its heaviest others;
 *   8. keep at most edges_per_node × nnodes edges in all: the held ones,
 *      then the heaviest others.
 * Steps 5 to 8 cost O(R × (N + E)) for R residual edges, N nodes and E
 * edges (a search per residual edge): little next to reading the profile,
 * even with thousands of nodes.
 *
 * Invariants of a built graph:
 *   nodes are sorted by (|cum| desc, |flat| desc, name, file), and
 *     nnodes + dropped_cutoff + dropped_limit = nseen;
 *   edges are sorted by (|value| desc, from, to), from and to index nodes,
 *     no two edges have the same (from, to), and
 *     nedges + dropped_edges + dropped_redundant + dropped_fanin
 *       + dropped_excess = the edges over kept functions before step 4;
 *   two nodes joined by a chain of edges (of either direction) after
 *     step 4 are still joined by one after step 8: the graph is in as
 *     many pieces as before the thinning;
 *   a node has at most max(max_in_edges, its held in-edges) in-edges; its
 *     held in-edges are its heaviest one and any joining edges of step 6
 *     (rare: they come from a node no other node calls, or join a cycle
 *     of heaviest in-edges to the rest);
 *   nedges <= max(edges_per_node × nnodes, the held edges), and the held
 *     edges are fewer than 2 × nnodes (a forest, plus at most one edge
 *     per cycle of heaviest in-edges);
 *   shown_flat = Σ flat over the kept nodes.
 * The DOT text is a function of the graph and the legend alone: the same
 * input gives the same bytes.
 *
 * Threading: none; no globals.
 */
#ifndef HS_VIZ_CALLGRAPH_H
#define HS_VIZ_CALLGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* pprof's defaults for its graphs. */
#define CALLGRAPH_NODE_FRACTION 0.005
#define CALLGRAPH_EDGE_FRACTION 0.001
#define CALLGRAPH_MAX_NODES 80
/* Ours: the thinning of the edges (steps 5 to 8). */
#define CALLGRAPH_MAX_IN_EDGES 6
#define CALLGRAPH_EDGES_PER_NODE 3

typedef struct callgraph_func_s {
    const char *name; /* the node's label; never NULL */
    const char *file; /* for the tooltip; "" when unknown */
} callgraph_func_t;

typedef struct callgraph_sample_s {
    const uint32_t *stack; /* frame ids, leaf first */
    uint32_t depth;
    int64_t value;
} callgraph_sample_t;

typedef struct callgraph_input_s {
    const callgraph_func_t *funcs; /* distinct functions */
    size_t nfuncs;
    const uint32_t *frame_func; /* frame id → index into funcs */
    size_t nframes;
    const callgraph_sample_t *samples;
    size_t nsamples;
    int64_t total; /* what percentages and cutoffs are of */
} callgraph_input_t;

typedef struct callgraph_opts_s {
    double node_fraction;  /* in [0, 1] */
    double edge_fraction;  /* in [0, 1] */
    size_t max_nodes;      /* at least 1 */
    size_t max_in_edges;   /* step 7; 0: no limit */
    size_t edges_per_node; /* step 8; 0: no limit */
} callgraph_opts_t;

typedef struct callgraph_node_s {
    uint32_t func; /* index into the input's funcs */
    int64_t flat, cum;
} callgraph_node_t;

typedef struct callgraph_edge_s {
    uint32_t from, to; /* indices into nodes: caller, callee */
    int64_t value;
    bool residual; /* only through dropped functions: dashed */
} callgraph_edge_t;

typedef struct callgraph_s {
    const callgraph_func_t *funcs; /* the input's, borrowed */
    callgraph_node_t *nodes;
    size_t nnodes;
    callgraph_edge_t *edges;
    size_t nedges;
    size_t nseen;                   /* functions seen in non-zero samples */
    size_t dropped_cutoff;          /* functions below the node cutoff */
    size_t dropped_limit;           /* functions past max_nodes */
    size_t dropped_edges;           /* edges below the edge cutoff */
    size_t dropped_redundant;       /* step 5 */
    size_t dropped_fanin;           /* step 7 */
    size_t dropped_excess;          /* step 8 */
    size_t max_in_edges, max_edges; /* the limits of steps 7 and 8, 0: none */
    int64_t total, node_cutoff, edge_cutoff;
    int64_t shown_flat;
} callgraph_t;

/*
 * Builds the pruned graph of in into *r_g (freed with callgraph_free, also
 * after a failure).  Returns 0, EINVAL for an input that breaks the rules
 * above (a frame id with no function, a function index out of range,
 * options out of range), or ENOMEM.
 */
int callgraph_build(const callgraph_input_t *in, const callgraph_opts_t *o,
                    callgraph_t *r_g);
void callgraph_free(callgraph_t *g);

/*
 * Formats a value with its unit for a label ("1.50 MiB"): supplied by the
 * caller, so that the graph shows values exactly as the other reports do
 * (viz/ cannot reach the command's formatting).
 */
typedef void (*callgraph_fmt_fn)(char *buf, size_t size, double v,
                                 const char *unit, bool sign);

typedef struct callgraph_legend_s {
    const char *file;         /* the profile's name */
    const char *type;         /* the sample type shown, e.g. "inuse_space" */
    const char *unit;         /* its unit, e.g. "bytes" */
    const char *const *notes; /* more legend lines (filters), or NULL */
    size_t nnotes;
    callgraph_fmt_fn fmt;
} callgraph_legend_t;

/*
 * Appends the DOT text of g to out: the legend node, one box per kept
 * function (its wrapped name, flat and cum with percentages; font size
 * growing with flat, colour with cum), one edge per kept call (width and
 * layout weight growing with its value, labelled with it, dashed when
 * residual).  Out of memory shows in out->failed.
 */
void callgraph_dot(const callgraph_t *g, const callgraph_legend_t *lg,
                   strbuf_t *out);

#endif /* HS_VIZ_CALLGRAPH_H */
