/*
 * callgraph.c — building, pruning and drawing the call graph (see
 * callgraph.h).
 *
 * Building takes two passes over the samples.  The first sums flat and cum
 * of every function; a per-function stamp (1 + the number of the last
 * sample counted) counts a function once per sample.  The second runs
 * after the nodes are chosen: it joins consecutive kept functions of each
 * stack into edges, found through an open-addressing table keyed by
 * (from, to) and counted once per sample with the same kind of stamp.
 *
 * Thinning (steps 5 to 8) marks a state per edge (dropped, kept, held)
 * and compacts the edges at the end, so that their order stays.  Step 5
 * searches breadth first over the out-edges of each node (an index built
 * once, skipping the edges dropped since); step 6 is a union-find over
 * the nodes.
 *
 * Sums saturate at INT64_MIN/INT64_MAX instead of overflowing: a corrupt
 * profile can carry any value.
 *
 * Drawing: labels are DOT double-quoted strings; every byte of a name goes
 * through cg_dot_escape (quotes and backslashes escaped, control bytes
 * turned into spaces, invalid UTF-8 into U+FFFD), so no name can break out
 * of its string or upset Graphviz's UTF-8 decoder.
 */
#include "callgraph.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CG_NONE UINT32_MAX

/* Columns per line of a function's name, and lines kept of it. */
#define CG_NAME_WIDTH 24
#define CG_NAME_LINES 4

#define CG_FONT "Helvetica,sans-Serif"

/* ---- arithmetic ---- */

static int64_t
cg_add(int64_t a, int64_t b)
{
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r))
        return r;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

static uint64_t
cg_mag(int64_t v)
{
    return v < 0 ? -(uint64_t)v : (uint64_t)v;
}

/* fraction × |total|, rounded down; fraction is in [0, 1]. */
static int64_t
cg_cutoff(double fraction, int64_t total)
{
    double c = fraction * (double)cg_mag(total);
    return c >= 9.2e18 ? INT64_MAX : (int64_t)c;
}

/* ---- building: functions ---- */

typedef struct cg_func_acc_s {
    int64_t flat, cum;
    size_t stamp; /* 1 + the last sample counted in cum; 0: never seen */
} cg_func_acc_t;

/* The function of frame id, or false for an id breaking the input. */
static bool
cg_func_of(const callgraph_input_t *in, uint32_t frame, uint32_t *r_func)
{
    if (frame >= in->nframes || in->frame_func[frame] >= in->nfuncs)
        return false;
    *r_func = in->frame_func[frame];
    return true;
}

static int
cg_sum_funcs(const callgraph_input_t *in, cg_func_acc_t *acc)
{
    for (size_t i = 0; i < in->nsamples; i++) {
        const callgraph_sample_t *s = &in->samples[i];
        if (s->value == 0)
            continue;
        for (uint32_t k = 0; k < s->depth; k++) {
            uint32_t f;
            if (!cg_func_of(in, s->stack[k], &f))
                return EINVAL;
            if (k == 0)
                acc[f].flat = cg_add(acc[f].flat, s->value);
            if (acc[f].stamp != i + 1) {
                acc[f].stamp = i + 1;
                acc[f].cum = cg_add(acc[f].cum, s->value);
            }
        }
    }
    return 0;
}

/* qsort_r's order of nodes; funcs is the input's function table. */
static int
cg_node_cmp(const void *pa, const void *pb, void *funcs)
{
    const callgraph_node_t *a = pa, *b = pb;
    const callgraph_func_t *fs = funcs;
    uint64_t ca = cg_mag(a->cum), cb = cg_mag(b->cum);
    if (ca != cb)
        return ca > cb ? -1 : 1;
    uint64_t fa = cg_mag(a->flat), fb = cg_mag(b->flat);
    if (fa != fb)
        return fa > fb ? -1 : 1;
    const callgraph_func_t *x = &fs[a->func], *y = &fs[b->func];
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : strcmp(x->file, y->file);
}

/* Steps 1 and 2: g->nodes, and rank[f] = node index or CG_NONE. */
static int
cg_choose_nodes(const callgraph_input_t *in, const callgraph_opts_t *o,
                const cg_func_acc_t *acc, uint32_t *rank, callgraph_t *g)
{
    g->nodes = calloc(in->nfuncs + 1, sizeof(callgraph_node_t));
    if (g->nodes == NULL)
        return ENOMEM;
    g->node_cutoff = cg_cutoff(o->node_fraction, in->total);
    for (size_t f = 0; f < in->nfuncs; f++) {
        rank[f] = CG_NONE;
        if (acc[f].stamp == 0)
            continue;
        g->nseen++;
        if (cg_mag(acc[f].cum) < (uint64_t)g->node_cutoff) {
            g->dropped_cutoff++;
            continue;
        }
        g->nodes[g->nnodes++] = (callgraph_node_t){
            .func = (uint32_t)f, .flat = acc[f].flat, .cum = acc[f].cum};
    }
    qsort_r(g->nodes, g->nnodes, sizeof(callgraph_node_t), cg_node_cmp,
            (void *)in->funcs);
    if (g->nnodes > o->max_nodes) {
        g->dropped_limit = g->nnodes - o->max_nodes;
        g->nnodes = o->max_nodes;
    }
    for (size_t i = 0; i < g->nnodes; i++) {
        rank[g->nodes[i].func] = (uint32_t)i;
        g->shown_flat = cg_add(g->shown_flat, g->nodes[i].flat);
    }
    return 0;
}

/* ---- building: edges ---- */

typedef struct cg_edge_acc_s {
    uint32_t from, to;
    int64_t value;
    int64_t direct; /* from samples in which from called to directly */
    size_t stamp, direct_stamp; /* as cg_func_acc_t's stamp */
} cg_edge_acc_t;

/* Invariant: nslots is a power of two and n <= nslots / 2. */
typedef struct cg_edges_s {
    cg_edge_acc_t *v;
    size_t n, cap;
    uint32_t *slots; /* 1 + index into v; 0: empty */
    size_t nslots;
} cg_edges_t;

static size_t
cg_hash(uint32_t from, uint32_t to, size_t nslots)
{
    uint64_t k = ((uint64_t)from << 32 | to) * 0x9e3779b97f4a7c15ull;
    return (size_t)(k >> 17) & (nslots - 1);
}

static bool
cg_edges_rehash(cg_edges_t *es, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof(uint32_t));
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < es->n; i++) {
        size_t h = cg_hash(es->v[i].from, es->v[i].to, nslots);
        while (slots[h] != 0)
            h = (h + 1) & (nslots - 1);
        slots[h] = (uint32_t)(i + 1);
    }
    free(es->slots);
    es->slots = slots;
    es->nslots = nslots;
    return true;
}

/* The edge from → to, added when new; NULL when out of memory. */
static cg_edge_acc_t *
cg_edge_get(cg_edges_t *es, uint32_t from, uint32_t to)
{
    size_t h = cg_hash(from, to, es->nslots);
    for (; es->slots[h] != 0; h = (h + 1) & (es->nslots - 1)) {
        cg_edge_acc_t *e = &es->v[es->slots[h] - 1];
        if (e->from == from && e->to == to)
            return e;
    }
    if (es->n == es->cap) {
        size_t cap = es->cap * 2;
        cg_edge_acc_t *v = realloc(es->v, cap * sizeof(cg_edge_acc_t));
        if (v == NULL)
            return NULL;
        es->v = v;
        es->cap = cap;
    }
    es->v[es->n] = (cg_edge_acc_t){.from = from, .to = to};
    es->slots[h] = (uint32_t)(++es->n);
    if (es->n > es->nslots / 2 && !cg_edges_rehash(es, es->nslots * 2))
        return NULL;
    return &es->v[es->n - 1];
}

/* Step 3 for one sample (number i): kept functions joined root to leaf. */
static int
cg_sample_edges(const callgraph_input_t *in, const uint32_t *rank, size_t i,
                cg_edges_t *es)
{
    const callgraph_sample_t *s = &in->samples[i];
    uint32_t parent = CG_NONE;
    bool skipped = false;
    for (uint32_t k = s->depth; k-- > 0;) {
        uint32_t f;
        if (!cg_func_of(in, s->stack[k], &f))
            return EINVAL;
        if (rank[f] == CG_NONE) {
            skipped = true;
            continue;
        }
        if (parent != CG_NONE) {
            cg_edge_acc_t *e = cg_edge_get(es, parent, rank[f]);
            if (e == NULL)
                return ENOMEM;
            if (e->stamp != i + 1) {
                e->stamp = i + 1;
                e->value = cg_add(e->value, s->value);
            }
            if (!skipped && e->direct_stamp != i + 1) {
                e->direct_stamp = i + 1;
                e->direct = cg_add(e->direct, s->value);
            }
        }
        parent = rank[f];
        skipped = false;
    }
    return 0;
}

static int
cg_edge_cmp(const void *pa, const void *pb)
{
    const callgraph_edge_t *a = pa, *b = pb;
    uint64_t va = cg_mag(a->value), vb = cg_mag(b->value);
    if (va != vb)
        return va > vb ? -1 : 1;
    if (a->from != b->from)
        return a->from < b->from ? -1 : 1;
    return (a->to > b->to) - (a->to < b->to);
}

/* Steps 3 and 4: g->edges. */
static int
cg_choose_edges(const callgraph_input_t *in, const callgraph_opts_t *o,
                const uint32_t *rank, callgraph_t *g)
{
    cg_edges_t es = {.cap = 64};
    es.v = malloc(es.cap * sizeof(cg_edge_acc_t));
    int e = es.v != NULL && cg_edges_rehash(&es, 256) ? 0 : ENOMEM;
    for (size_t i = 0; e == 0 && i < in->nsamples; i++)
        if (in->samples[i].value != 0)
            e = cg_sample_edges(in, rank, i, &es);
    if (e == 0 && (g->edges = calloc(es.n + 1, sizeof(*g->edges))) == NULL)
        e = ENOMEM;
    g->edge_cutoff = cg_cutoff(o->edge_fraction, in->total);
    for (size_t i = 0; e == 0 && i < es.n; i++) {
        const cg_edge_acc_t *a = &es.v[i];
        if (cg_mag(a->value) < (uint64_t)g->edge_cutoff) {
            g->dropped_edges++;
            continue;
        }
        g->edges[g->nedges++] = (callgraph_edge_t){.from = a->from,
                                                   .to = a->to,
                                                   .value = a->value,
                                                   .residual = a->direct == 0};
    }
    if (e == 0)
        qsort(g->edges, g->nedges, sizeof(callgraph_edge_t), cg_edge_cmp);
    free(es.v);
    free(es.slots);
    return e;
}

/* ---- building: thinning the edges ---- */

enum { CG_DROPPED, CG_KEPT, CG_HELD };

/* Steps 5 to 8's scratch. */
typedef struct cg_thin_s {
    unsigned char *state; /* per edge: CG_DROPPED, CG_KEPT or CG_HELD */
    size_t *first;        /* per node + 1: node n's out-edges are */
    uint32_t *out;        /*   out[first[n], first[n + 1]) */
    uint32_t *queue;      /* per node: the search's queue */
    size_t *seen;         /* per node: the number of the last search */
    uint32_t *parent;     /* per node: union-find */
    size_t *count;        /* per node: in-edges kept */
} cg_thin_t;

static void
cg_thin_free(cg_thin_t *t)
{
    free(t->state);
    free(t->first);
    free(t->out);
    free(t->queue);
    free(t->seen);
    free(t->parent);
    free(t->count);
}

/* Allocates t and indexes the out-edges of g; every edge kept. */
static int
cg_thin_init(const callgraph_t *g, cg_thin_t *t)
{
    size_t n = g->nnodes, m = g->nedges;
    *t = (cg_thin_t){
        .state = malloc(m + 1),
        .first = calloc(n + 1, sizeof(size_t)),
        .out = malloc((m + 1) * sizeof(uint32_t)),
        .queue = malloc((n + 1) * sizeof(uint32_t)),
        .seen = calloc(n + 1, sizeof(size_t)),
        .parent = malloc((n + 1) * sizeof(uint32_t)),
        .count = calloc(n + 1, sizeof(size_t)),
    };
    if (!t->state || !t->first || !t->out || !t->queue || !t->seen ||
        !t->parent || !t->count)
        return ENOMEM;
    memset(t->state, CG_KEPT, m);
    /* A counting sort by caller, with count as each node's next slot. */
    for (size_t i = 0; i < m; i++)
        t->first[g->edges[i].from + 1]++;
    for (size_t k = 0; k < n; k++) {
        t->first[k + 1] += t->first[k];
        t->count[k] = t->first[k];
        t->parent[k] = (uint32_t)k;
    }
    for (size_t i = 0; i < m; i++)
        t->out[t->count[g->edges[i].from]++] = (uint32_t)i;
    memset(t->count, 0, n * sizeof(size_t));
    return 0;
}

/*
 * Whether node to is reached from node from through the edges not
 * dropped, edge skip aside; stamp numbers the search (non-zero, new).
 */
static bool
cg_reaches(const callgraph_t *g, cg_thin_t *t, uint32_t from, uint32_t to,
           size_t skip, size_t stamp)
{
    size_t head = 0, tail = 0;
    t->queue[tail++] = from;
    t->seen[from] = stamp;
    while (head < tail) {
        uint32_t n = t->queue[head++];
        for (size_t k = t->first[n]; k < t->first[n + 1]; k++) {
            size_t i = t->out[k];
            uint32_t m = g->edges[i].to;
            if (i == skip || t->state[i] == CG_DROPPED)
                continue;
            if (m == to)
                return true;
            if (t->seen[m] != stamp) {
                t->seen[m] = stamp;
                t->queue[tail++] = m;
            }
        }
    }
    return false;
}

/* Step 5. */
static void
cg_drop_redundant(callgraph_t *g, cg_thin_t *t)
{
    for (size_t i = g->nedges; i-- > 0;) {
        const callgraph_edge_t *e = &g->edges[i];
        if (e->residual && cg_reaches(g, t, e->from, e->to, i, i + 1)) {
            t->state[i] = CG_DROPPED;
            g->dropped_redundant++;
        }
    }
}

static uint32_t
cg_root(uint32_t *parent, uint32_t n)
{
    while (parent[n] != n) {
        parent[n] = parent[parent[n]]; /* path halving */
        n = parent[n];
    }
    return n;
}

/* Joins the pieces of edge i's ends; false when they were one already. */
static bool
cg_join(const callgraph_t *g, cg_thin_t *t, size_t i)
{
    uint32_t a = cg_root(t->parent, g->edges[i].from);
    uint32_t b = cg_root(t->parent, g->edges[i].to);
    t->parent[a] = b;
    return a != b;
}

/* Step 6; t->count[n] = the held in-edges of node n. */
static void
cg_hold(const callgraph_t *g, cg_thin_t *t)
{
    for (size_t i = 0; i < g->nedges; i++) {
        const callgraph_edge_t *e = &g->edges[i];
        if (t->state[i] == CG_KEPT && e->from != e->to &&
            t->count[e->to] == 0) {
            t->state[i] = CG_HELD;
            t->count[e->to] = 1;
            cg_join(g, t, i);
        }
    }
    for (size_t i = 0; i < g->nedges; i++) {
        if (t->state[i] == CG_KEPT && cg_join(g, t, i)) {
            t->state[i] = CG_HELD;
            t->count[g->edges[i].to]++;
        }
    }
}

/* Steps 7 and 8, over t->count from step 6. */
static void
cg_cap(callgraph_t *g, cg_thin_t *t)
{
    size_t total = 0;
    for (size_t i = 0; i < g->nedges; i++)
        total += t->state[i] == CG_HELD;
    for (size_t i = 0; i < g->nedges; i++) {
        if (t->state[i] != CG_KEPT)
            continue;
        size_t *in = &t->count[g->edges[i].to];
        if (g->max_in_edges != 0 && *in >= g->max_in_edges) {
            t->state[i] = CG_DROPPED;
            g->dropped_fanin++;
        } else {
            ++*in;
        }
    }
    for (size_t i = 0; i < g->nedges; i++) {
        if (t->state[i] != CG_KEPT)
            continue;
        if (g->max_edges != 0 && total >= g->max_edges) {
            t->state[i] = CG_DROPPED;
            g->dropped_excess++;
        } else {
            total++;
        }
    }
}

/* Steps 5 to 8 on g->edges. */
static int
cg_thin_edges(const callgraph_opts_t *o, callgraph_t *g)
{
    g->max_in_edges = o->max_in_edges;
    if (o->edges_per_node != 0 &&
        __builtin_mul_overflow(o->edges_per_node, g->nnodes, &g->max_edges))
        g->max_edges = SIZE_MAX;
    cg_thin_t t;
    int e = cg_thin_init(g, &t);
    if (e == 0) {
        cg_drop_redundant(g, &t);
        cg_hold(g, &t);
        cg_cap(g, &t);
        size_t n = 0;
        for (size_t i = 0; i < g->nedges; i++)
            if (t.state[i] != CG_DROPPED)
                g->edges[n++] = g->edges[i];
        g->nedges = n;
    }
    cg_thin_free(&t);
    return e;
}

static bool
cg_opts_valid(const callgraph_input_t *in, const callgraph_opts_t *o)
{
    /* Written so that NaN fails too. */
    return o->node_fraction >= 0 && o->node_fraction <= 1 &&
           o->edge_fraction >= 0 && o->edge_fraction <= 1 &&
           o->max_nodes >= 1 && in->nfuncs < CG_NONE;
}

int
callgraph_build(const callgraph_input_t *in, const callgraph_opts_t *o,
                callgraph_t *r_g)
{
    *r_g = (callgraph_t){.funcs = in->funcs, .total = in->total};
    if (!cg_opts_valid(in, o))
        return EINVAL;
    cg_func_acc_t *acc = calloc(in->nfuncs + 1, sizeof(cg_func_acc_t));
    uint32_t *rank = calloc(in->nfuncs + 1, sizeof(uint32_t));
    int e = acc != NULL && rank != NULL ? 0 : ENOMEM;
    if (e == 0)
        e = cg_sum_funcs(in, acc);
    if (e == 0)
        e = cg_choose_nodes(in, o, acc, rank, r_g);
    if (e == 0)
        e = cg_choose_edges(in, o, rank, r_g);
    if (e == 0)
        e = cg_thin_edges(o, r_g);
    free(acc);
    free(rank);
    return e;
}

void
callgraph_free(callgraph_t *g)
{
    free(g->nodes);
    free(g->edges);
    *g = (callgraph_t){0};
}

/* ---- drawing: text ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
cg_utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80   ? 1
                 : s[0] < 0xc2 ? 0
                 : s[0] < 0xe0 ? 2
                 : s[0] < 0xf0 ? 3
                 : s[0] < 0xf5 ? 4
                               : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    /* Overlong three- and four-byte forms, surrogates, past U+10FFFF. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* Bytes of the first cols characters of s[0, n) (an invalid byte counts
 * as one character, as cg_dot_escape shows it). */
static size_t
cg_cut(const char *s, size_t n, size_t cols)
{
    size_t i = 0;
    for (; i < n && cols > 0; cols--) {
        size_t l = cg_utf8_len((const unsigned char *)s + i, n - i);
        i += l != 0 ? l : 1;
    }
    return i;
}

static size_t
cg_cols(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n; cols++) {
        size_t l = cg_utf8_len((const unsigned char *)s + i, n - i);
        i += l != 0 ? l : 1;
    }
    return cols;
}

/* s[0, n) as the inside of a DOT double-quoted string. */
static void
cg_dot_escape(strbuf_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = cg_utf8_len((const unsigned char *)s + i, n - i);
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            strbuf_add(out, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            strbuf_add(out, " ", 1);
        } else if (l == 0) {
            strbuf_puts(out, "\xef\xbf\xbd"); /* U+FFFD */
        } else {
            strbuf_add(out, s + i, l);
        }
        i += l != 0 ? l : 1;
    }
}

static void
cg_dot_str(strbuf_t *out, const char *s)
{
    cg_dot_escape(out, s, strlen(s));
}

/*
 * The length of name s (n bytes) without a trailing parameter list:
 * "ns::f(int) const" shows as "ns::f", "T::operator()(int)" as
 * "T::operator()" (the tooltip keeps the whole name).  A name that is all
 * parameter list, unbalanced, or "[libfoo.so]" stays whole; "T::operator()
 * const" loses its " const" only.
 */
static size_t
cg_strip_params(const char *s, size_t n)
{
    static const char qual[] = " const", op[] = "operator";
    size_t end = n, q = sizeof qual - 1, o = sizeof op - 1;
    if (end > q && memcmp(s + end - q, qual, q) == 0)
        end -= q;
    if (end == 0 || s[end - 1] != ')')
        return n;
    size_t depth = 0, i = end;
    while (i-- > 0) {
        depth += s[i] == ')';
        depth -= s[i] == '(';
        if (depth == 0)
            break;
    }
    if (depth != 0 || i == 0)
        return n;
    if (end - i == 2 && i >= o && memcmp(s + i - o, op, o) == 0)
        return end; /* the call operator's own "()" */
    return i;
}

/* Whether a name may be broken after s[i]: after "::", ".", "/", " ",
 * and after the "+" of an unsymbolized frame's "libfoo.so.6+0x1c5e3", so
 * that its offset stays on one line. */
static bool
cg_break_after(const char *s, size_t n, size_t i)
{
    if (i + 1 >= n)
        return false;
    if (s[i] == ':')
        return i > 0 && s[i - 1] == ':' && s[i + 1] != ':';
    if (s[i] == '+')
        return i + 2 < n && s[i + 1] == '0' && s[i + 2] == 'x';
    return s[i] == '.' || s[i] == '/' || s[i] == ' ';
}

typedef struct cg_span_s {
    size_t at, len;
} cg_span_t;

/* One line of a name, cut to CG_NAME_WIDTH with "…" when longer. */
static void
cg_name_line(strbuf_t *out, const char *s, cg_span_t l, bool lead)
{
    while (l.len > 0 && s[l.at + l.len - 1] == ' ')
        l.len--;
    size_t room = CG_NAME_WIDTH - (lead ? 1 : 0);
    if (lead)
        strbuf_puts(out, "\xe2\x80\xa6");
    if (cg_cols(s + l.at, l.len) <= room) {
        cg_dot_escape(out, s + l.at, l.len);
        return;
    }
    cg_dot_escape(out, s + l.at, cg_cut(s + l.at, l.len, room - 1));
    strbuf_puts(out, "\xe2\x80\xa6");
}

/*
 * A function's name for its box: parameters dropped, broken into lines of
 * at most CG_NAME_WIDTH columns at "::", ".", "/", spaces and "+0x", the last
 * CG_NAME_LINES lines kept (the innermost part of a qualified name says
 * most), each line ending in DOT's "\n".
 */
static void
cg_label_name(strbuf_t *out, const char *name)
{
    size_t n = cg_strip_params(name, strlen(name));
    cg_span_t ring[CG_NAME_LINES];
    size_t nlines = 0;
    cg_span_t cur = {0, 0};
    size_t cur_cols = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i; /* the next piece: up to a break or the end */
        while (j < n && !cg_break_after(name, n, j))
            j++;
        j = j < n ? j + 1 : n;
        size_t cols = cg_cols(name + i, j - i);
        if (cur.len > 0 && cur_cols + cols > CG_NAME_WIDTH) {
            ring[nlines++ % CG_NAME_LINES] = cur;
            cur = (cg_span_t){i, 0};
            cur_cols = 0;
        }
        cur.len += j - i;
        cur_cols += cols;
        i = j;
    }
    ring[nlines++ % CG_NAME_LINES] = cur;
    size_t first = nlines > CG_NAME_LINES ? nlines - CG_NAME_LINES : 0;
    for (size_t k = first; k < nlines; k++) {
        cg_name_line(out, name, ring[k % CG_NAME_LINES],
                     k == first && first > 0);
        strbuf_puts(out, "\\n");
    }
}

/* ---- drawing: DOT ---- */

/* |v| / |total|, at most 1 (a diff-like profile can hold negative values,
 * so that a part exceeds the whole). */
static double
cg_share(int64_t v, int64_t total)
{
    if (total == 0)
        return 0;
    double s = (double)cg_mag(v) / (double)cg_mag(total);
    return s < 1 ? s : 1;
}

static void
cg_value(strbuf_t *out, const callgraph_legend_t *lg, int64_t v)
{
    char buf[64];
    lg->fmt(buf, sizeof buf, (double)v, lg->unit, false);
    cg_dot_str(out, buf);
}

/* "1.50 MiB (12.34%)" */
static void
cg_value_pct(strbuf_t *out, const callgraph_legend_t *lg, int64_t v,
             int64_t total)
{
    cg_value(out, lg, v);
    double pct = total == 0 ? 0 : 100.0 * (double)v / (double)cg_mag(total);
    strbuf_printf(out, " (%.2f%%)", pct);
}

/* "#rrggbb" between lo (t = 0) and hi (t = 1). */
static void
cg_color(strbuf_t *out, const char *attr, const unsigned char lo[3],
         const unsigned char hi[3], double t)
{
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (int)lround(lo[k] + (hi[k] - lo[k]) * t);
    strbuf_printf(out, " %s=\"#%02x%02x%02x\"", attr, c[0], c[1], c[2]);
}

/* Grey for small shares of the total, red for large ones; the square
 * root lifts small shares so that 1% already shows. */
static const unsigned char cg_line_lo[3] = {0xb2, 0xb2, 0xb2};
static const unsigned char cg_line_hi[3] = {0xb2, 0x00, 0x00};
static const unsigned char cg_fill_lo[3] = {0xf2, 0xf2, 0xf2};
static const unsigned char cg_fill_hi[3] = {0xff, 0xa8, 0x98};

static const char *
cg_functions(size_t n)
{
    return n == 1 ? "function" : "functions";
}

static const char *
cg_edges(size_t n)
{
    return n == 1 ? "edge" : "edges";
}

/* The legend's lines for steps 5 to 8. */
static void
cg_dot_legend_thinned(const callgraph_t *g, strbuf_t *out)
{
    if (g->dropped_redundant > 0)
        strbuf_printf(out,
                      "Dropped %zu dashed %s (the caller reaches the "
                      "callee through other edges)\\l",
                      g->dropped_redundant, cg_edges(g->dropped_redundant));
    if (g->dropped_fanin > 0)
        strbuf_printf(out,
                      "Dropped %zu %s past the %zu heaviest into a "
                      "function\\l",
                      g->dropped_fanin, cg_edges(g->dropped_fanin),
                      g->max_in_edges);
    if (g->dropped_excess > 0)
        strbuf_printf(out, "Dropped %zu %s over the limit of %zu\\l",
                      g->dropped_excess, cg_edges(g->dropped_excess),
                      g->max_edges);
}

static void
cg_dot_legend(const callgraph_t *g, const callgraph_legend_t *lg, strbuf_t *out)
{
    strbuf_puts(out, "  legend [shape=box style=solid fontsize=14 "
                     "tooltip=\"heapsight graph\" label=\"File: ");
    cg_dot_str(out, lg->file);
    strbuf_puts(out, "\\lType: ");
    cg_dot_str(out, lg->type);
    strbuf_puts(out, "\\lTotal: ");
    cg_value(out, lg, g->total);
    strbuf_puts(out, "\\l");
    for (size_t i = 0; i < lg->nnotes; i++) {
        cg_dot_str(out, lg->notes[i]);
        strbuf_puts(out, "\\l");
    }
    strbuf_printf(out, "Showing %zu of %zu %s, with ", g->nnodes, g->nseen,
                  cg_functions(g->nseen));
    cg_value_pct(out, lg, g->shown_flat, g->total);
    strbuf_puts(out, " flat\\l");
    if (g->dropped_cutoff > 0) {
        strbuf_printf(out, "Dropped %zu %s (cum < ", g->dropped_cutoff,
                      cg_functions(g->dropped_cutoff));
        cg_value(out, lg, g->node_cutoff);
        strbuf_puts(out, ")\\l");
    }
    if (g->dropped_limit > 0)
        strbuf_printf(out, "Dropped %zu %s past the %zu largest by cum\\l",
                      g->dropped_limit, cg_functions(g->dropped_limit),
                      g->nnodes);
    if (g->dropped_edges > 0) {
        strbuf_printf(out, "Dropped %zu %s (< ", g->dropped_edges,
                      cg_edges(g->dropped_edges));
        cg_value(out, lg, g->edge_cutoff);
        strbuf_puts(out, ")\\l");
    }
    cg_dot_legend_thinned(g, out);
    strbuf_puts(out, "\"]\n");
}

/* The tooltip of a function: its whole name and its file. */
static void
cg_func_tooltip(strbuf_t *out, const callgraph_func_t *f)
{
    cg_dot_str(out, f->name);
    if (f->file[0] != '\0') {
        strbuf_puts(out, " (");
        cg_dot_str(out, f->file);
        strbuf_puts(out, ")");
    }
}

static void
cg_dot_node(const callgraph_t *g, const callgraph_legend_t *lg, size_t i,
            int64_t max_flat, strbuf_t *out)
{
    const callgraph_node_t *n = &g->nodes[i];
    const callgraph_func_t *f = &g->funcs[n->func];
    strbuf_printf(out, "  N%zu [label=\"", i + 1);
    cg_label_name(out, f->name);
    cg_value_pct(out, lg, n->flat, g->total);
    if (n->cum != n->flat) {
        strbuf_puts(out, "\\nof ");
        cg_value_pct(out, lg, n->cum, g->total);
    }
    double big = max_flat == 0 ? 0 : sqrt(cg_share(n->flat, max_flat));
    strbuf_printf(out, "\" fontsize=%d", 10 + (int)lround(14 * big));
    double t = sqrt(cg_share(n->cum, g->total));
    cg_color(out, "color", cg_line_lo, cg_line_hi, t);
    cg_color(out, "fillcolor", cg_fill_lo, cg_fill_hi, t);
    strbuf_puts(out, " tooltip=\"");
    cg_func_tooltip(out, f);
    strbuf_puts(out, "\"]\n");
}

static void
cg_dot_edge(const callgraph_t *g, const callgraph_legend_t *lg,
            const callgraph_edge_t *e, strbuf_t *out)
{
    double share = cg_share(e->value, g->total);
    strbuf_printf(out, "  N%u -> N%u [label=\" ", e->from + 1, e->to + 1);
    cg_value(out, lg, e->value);
    strbuf_printf(out, "\" weight=%d penwidth=%.2f", 1 + (int)(100 * share),
                  1 + 5 * share);
    cg_color(out, "color", cg_line_lo, cg_line_hi, sqrt(share));
    if (e->residual)
        strbuf_puts(out, " style=dashed");
    strbuf_puts(out, " tooltip=\"");
    cg_dot_str(out, g->funcs[g->nodes[e->from].func].name);
    strbuf_puts(out, " -> ");
    cg_dot_str(out, g->funcs[g->nodes[e->to].func].name);
    strbuf_puts(out, e->residual ? " (through dropped functions): " : ": ");
    cg_value(out, lg, e->value);
    strbuf_puts(out, "\"]\n");
}

void
callgraph_dot(const callgraph_t *g, const callgraph_legend_t *lg, strbuf_t *out)
{
    strbuf_puts(out, "digraph \"heapsight\" {\n"
                     "  graph [fontname=\"" CG_FONT "\"]\n"
                     "  node [fontname=\"" CG_FONT "\" shape=box "
                     "style=filled]\n"
                     "  edge [fontname=\"" CG_FONT "\" fontsize=12]\n");
    cg_dot_legend(g, lg, out);
    int64_t max_flat = 0;
    for (size_t i = 0; i < g->nnodes; i++)
        if (cg_mag(g->nodes[i].flat) > cg_mag(max_flat))
            max_flat = g->nodes[i].flat;
    for (size_t i = 0; i < g->nnodes; i++)
        cg_dot_node(g, lg, i, max_flat, out);
    for (size_t i = 0; i < g->nedges; i++)
        cg_dot_edge(g, lg, &g->edges[i], out);
    strbuf_puts(out, "}\n");
}
