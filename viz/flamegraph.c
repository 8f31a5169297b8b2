/*
 * flamegraph.c — the flame graph tree and its SVG and HTML renderers
 * (see flamegraph.h).
 *
 * The tree: frames in one array, found by a hash of (func, file[, line])
 * (frame_slots: open addressing, linear probing, id + 1, 0 empty); nodes
 * in one array, each linked to its first child and next sibling, and
 * found by a hash of (parent, frame) (child_slots: node id, 0 empty: the
 * root is nobody's child).  Both tables keep count * 2 <= capacity.
 *
 * Rendering happens in two passes.  The layout pass walks the tree from
 * the root (an explicit stack: profiles may be deep) and lists the frames
 * to draw in pre-order, each with its depth and its left edge in value
 * units; children are sorted by (func, file, line) and those under the
 * minimum width are summed into one merged item.  The drawing pass writes
 * one <g class="f"> per item, nested as the tree is (a frame's group holds
 * its <title>, <rect>, <text> and its children's groups), so that the
 * script finds a frame's subtree and ancestors in the DOM.
 *
 * The drawing, in SVG user units: frames are ROW high, the root's row at
 * the bottom; x = PAD + offset / total * (width - 2 * PAD), so every
 * width is value / total of the drawing width and no rounding drifts.
 * Labels are cut to what fits at CHAR_W per character (monospace 12px),
 * with ".." at the end, and left out below 3 characters; the script cuts
 * them again the same way after a zoom (its text and the CSS are in
 * flamescript.c).  A graph with Python frames gets one more row at the
 * bottom, LEGEND high, under the details line: a swatch and a word for
 * each colour family; Python frames' groups also have the class "py".
 */
#include "flamegraph.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flamescript.h"

/* ---- the tree ----------------------------------------------------------- */

typedef struct flame_frame_s {
    char *func; /* owned */
    char *file; /* owned; "" unknown */
    int64_t line;
    uint64_t hash;
    bool python; /* a Python function: cool colours */
} flame_frame_t;

typedef struct flame_node_s {
    uint32_t frame;   /* FLAME_NO_FRAME for the root */
    uint32_t parent;  /* the root's is 0 too; never read */
    uint32_t child;   /* first child, 0: none */
    uint32_t sibling; /* next sibling, 0: none */
    int64_t value, base;
} flame_node_t;

struct flame_tree_s {
    bool lines;
    flame_frame_t *frames;
    size_t nframes, cap_frames;
    uint32_t *frame_slots; /* frame id + 1, 0 empty */
    size_t frame_cap;      /* power of two */
    flame_node_t *nodes;
    size_t nnodes, cap_nodes;
    uint32_t *child_slots; /* node id, 0 empty */
    size_t child_cap;      /* power of two */
    int64_t total_base;
    bool python; /* some frame is a Python one */
};

enum { FLAME_INITIAL_SLOTS = 1024 };

static uint64_t
flame_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t
flame_frame_hash(bool lines, const char *func, const char *file, int64_t line)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = flame_fnv(h, func, strlen(func) + 1);
    h = flame_fnv(h, file, strlen(file) + 1);
    if (lines)
        h = flame_fnv(h, &line, sizeof(line));
    return h;
}

static uint64_t
flame_child_hash(uint32_t parent, uint32_t frame)
{
    uint64_t k = ((uint64_t)parent << 32 | frame) * 0x9e3779b97f4a7c15ull;
    return k ^ (k >> 29);
}

static bool
flame_frame_eq(const flame_tree_t *t, const flame_frame_t *f, uint64_t hash,
               const char *func, const char *file, int64_t line)
{
    return f->hash == hash && strcmp(f->func, func) == 0 &&
           strcmp(f->file, file) == 0 && (!t->lines || f->line == line);
}

/* The slot of the frame, or of the empty slot where it would go. */
static size_t
flame_frame_slot(const flame_tree_t *t, uint64_t hash, const char *func,
                 const char *file, int64_t line)
{
    size_t mask = t->frame_cap - 1, i = (size_t)hash & mask;
    while (t->frame_slots[i] != 0 &&
           !flame_frame_eq(t, &t->frames[t->frame_slots[i] - 1], hash, func,
                           file, line))
        i = (i + 1) & mask;
    return i;
}

static size_t
flame_child_slot(const flame_tree_t *t, uint32_t parent, uint32_t frame)
{
    size_t mask = t->child_cap - 1;
    size_t i = (size_t)flame_child_hash(parent, frame) & mask;
    while (t->child_slots[i] != 0) {
        const flame_node_t *n = &t->nodes[t->child_slots[i]];
        if (n->parent == parent && n->frame == frame)
            break;
        i = (i + 1) & mask;
    }
    return i;
}

/* Doubles the frame table; 0 or ENOMEM. */
static int
flame_grow_frame_slots(flame_tree_t *t)
{
    size_t cap = t->frame_cap * 2;
    uint32_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return ENOMEM;
    free(t->frame_slots);
    t->frame_slots = slots;
    t->frame_cap = cap;
    for (size_t id = 0; id < t->nframes; id++) {
        const flame_frame_t *f = &t->frames[id];
        size_t i = (size_t)f->hash & (cap - 1);
        while (slots[i] != 0)
            i = (i + 1) & (cap - 1);
        slots[i] = (uint32_t)id + 1;
    }
    return 0;
}

/* Doubles the child table; 0 or ENOMEM. */
static int
flame_grow_child_slots(flame_tree_t *t)
{
    size_t cap = t->child_cap * 2;
    uint32_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return ENOMEM;
    free(t->child_slots);
    t->child_slots = slots;
    t->child_cap = cap;
    for (size_t id = 1; id < t->nnodes; id++) {
        const flame_node_t *n = &t->nodes[id];
        size_t i = (size_t)flame_child_hash(n->parent, n->frame) & (cap - 1);
        while (slots[i] != 0)
            i = (i + 1) & (cap - 1);
        slots[i] = (uint32_t)id;
    }
    return 0;
}

/* Room for one more element in *arr; 0 or ENOMEM. */
static int
flame_reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 256;
    if (ncap > UINT32_MAX - 1)
        return ENOMEM; /* ids are 32-bit */
    void *bigger = realloc(*arr, ncap * elem);
    if (bigger == NULL)
        return ENOMEM;
    *arr = bigger;
    *cap = ncap;
    return 0;
}

flame_tree_t *
flame_tree_new(bool lines)
{
    flame_tree_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->lines = lines;
    t->frame_cap = t->child_cap = FLAME_INITIAL_SLOTS;
    t->frame_slots = calloc(t->frame_cap, sizeof(uint32_t));
    t->child_slots = calloc(t->child_cap, sizeof(uint32_t));
    if (t->frame_slots == NULL || t->child_slots == NULL ||
        flame_reserve((void **)&t->nodes, &t->cap_nodes, 0,
                      sizeof(flame_node_t)) != 0) {
        flame_tree_free(t);
        return NULL;
    }
    t->nodes[0] = (flame_node_t){.frame = FLAME_NO_FRAME};
    t->nnodes = 1;
    return t;
}

void
flame_tree_free(flame_tree_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nframes; i++) {
        free(t->frames[i].func);
        free(t->frames[i].file);
    }
    free(t->frames);
    free(t->frame_slots);
    free(t->nodes);
    free(t->child_slots);
    free(t);
}

int
flame_tree_frame(flame_tree_t *t, const char *func, const char *file,
                 int64_t line, flame_kind_t kind, uint32_t *r_id)
{
    uint64_t hash = flame_frame_hash(t->lines, func, file, line);
    size_t i = flame_frame_slot(t, hash, func, file, line);
    t->python |= kind == FLAME_PYTHON;
    if (t->frame_slots[i] != 0) {
        flame_frame_t *f = &t->frames[t->frame_slots[i] - 1];
        if (f->line != line)
            f->line = 0; /* frames merged across lines: no one line */
        f->python |= kind == FLAME_PYTHON;
        *r_id = t->frame_slots[i] - 1;
        return 0;
    }
    if (flame_reserve((void **)&t->frames, &t->cap_frames, t->nframes,
                      sizeof(flame_frame_t)) != 0)
        return ENOMEM;
    flame_frame_t f = {strdup(func), strdup(file), line, hash,
                       kind == FLAME_PYTHON};
    if (f.func == NULL || f.file == NULL) {
        free(f.func);
        free(f.file);
        return ENOMEM;
    }
    t->frames[t->nframes] = f;
    t->frame_slots[i] = (uint32_t)++t->nframes;
    *r_id = (uint32_t)t->nframes - 1;
    if (t->nframes * 2 > t->frame_cap)
        return flame_grow_frame_slots(t);
    return 0;
}

uint32_t
flame_tree_find_frame(const flame_tree_t *t, const char *func, const char *file,
                      int64_t line)
{
    uint64_t hash = flame_frame_hash(t->lines, func, file, line);
    size_t i = flame_frame_slot(t, hash, func, file, line);
    return t->frame_slots[i] != 0 ? t->frame_slots[i] - 1 : FLAME_NO_FRAME;
}

/* The child of parent for frame, made if new; 0 when out of memory. */
static uint32_t
flame_child(flame_tree_t *t, uint32_t parent, uint32_t frame)
{
    size_t i = flame_child_slot(t, parent, frame);
    if (t->child_slots[i] != 0)
        return t->child_slots[i];
    if (flame_reserve((void **)&t->nodes, &t->cap_nodes, t->nnodes,
                      sizeof(flame_node_t)) != 0)
        return 0;
    uint32_t id = (uint32_t)t->nnodes++;
    t->nodes[id] = (flame_node_t){
        .frame = frame, .parent = parent, .sibling = t->nodes[parent].child};
    t->nodes[parent].child = id;
    t->child_slots[i] = id;
    if (t->nnodes * 2 > t->child_cap && flame_grow_child_slots(t) != 0)
        return 0;
    return id;
}

int
flame_tree_add(flame_tree_t *t, const uint32_t *stack, size_t depth,
               int64_t value)
{
    if (value <= 0)
        return 0;
    /* Every node's value is at most the root's: one check covers all. */
    int64_t sum;
    if (__builtin_add_overflow(t->nodes[0].value, value, &sum))
        return EOVERFLOW;
    uint32_t node = 0;
    t->nodes[0].value = sum;
    for (size_t k = depth; k-- > 0;) {
        if (stack[k] >= t->nframes)
            return EINVAL;
        node = flame_child(t, node, stack[k]);
        if (node == 0)
            return ENOMEM;
        t->nodes[node].value += value;
    }
    return 0;
}

int
flame_tree_add_base(flame_tree_t *t, const uint32_t *stack, size_t depth,
                    int64_t value)
{
    if (value <= 0)
        return 0;
    /* Every base is at most total_base: one check covers all. */
    if (__builtin_add_overflow(t->total_base, value, &t->total_base))
        return EOVERFLOW;
    uint32_t node = 0;
    t->nodes[0].base += value;
    for (size_t k = depth; k-- > 0 && stack[k] < t->nframes;) {
        size_t i = flame_child_slot(t, node, stack[k]);
        if (t->child_slots[i] == 0)
            break;
        node = t->child_slots[i];
        t->nodes[node].base += value;
    }
    return 0;
}

int64_t
flame_tree_total(const flame_tree_t *t)
{
    return t->nodes[0].value;
}

int64_t
flame_tree_total_base(const flame_tree_t *t)
{
    return t->total_base;
}

size_t
flame_tree_nodes(const flame_tree_t *t)
{
    return t->nnodes;
}

/* ---- layout ------------------------------------------------------------- */

/* One frame to draw. */
typedef struct flame_item_s {
    uint32_t node;   /* the node drawn; for a merged item, their parent */
    uint32_t merged; /* frames merged into this item; 0: node itself */
    uint32_t depth;  /* 0: the root */
    int64_t x;       /* left edge, in value units from the root's */
    int64_t value, base;
    bool children; /* the node has children (drawn or not) */
} flame_item_t;

typedef struct flame_layout_s {
    flame_item_t *items; /* pre-order */
    size_t n, cap;
    uint32_t max_depth;
} flame_layout_t;

/* A child to sort: the node and its frame. */
typedef struct flame_kid_s {
    uint32_t node;
    const flame_frame_t *f;
} flame_kid_t;

static int
flame_kid_cmp(const void *a, const void *b)
{
    const flame_frame_t *x = ((const flame_kid_t *)a)->f;
    const flame_frame_t *y = ((const flame_kid_t *)b)->f;
    int c = strcmp(x->func, y->func);
    if (c == 0)
        c = strcmp(x->file, y->file);
    if (c == 0)
        c = (x->line > y->line) - (x->line < y->line);
    return c;
}

typedef struct flame_walk_s {
    const flame_tree_t *t;
    double min_value;
    flame_item_t *pending; /* items still to visit, next on top */
    size_t npending, cap_pending;
    flame_kid_t *kids;
    size_t cap_kids;
} flame_walk_t;

static int
flame_push(flame_walk_t *w, const flame_item_t *it)
{
    if (flame_reserve((void **)&w->pending, &w->cap_pending, w->npending,
                      sizeof(*it)) != 0)
        return ENOMEM;
    w->pending[w->npending++] = *it;
    return 0;
}

/* Pushes the children of it to draw, the first one on top. */
static int
flame_push_children(flame_walk_t *w, const flame_item_t *it)
{
    const flame_tree_t *t = w->t;
    flame_item_t small = {.node = it->node, .depth = it->depth + 1};
    size_t n = 0;
    for (uint32_t c = t->nodes[it->node].child; c != 0;
         c = t->nodes[c].sibling) {
        const flame_node_t *cn = &t->nodes[c];
        if ((double)cn->value < w->min_value) {
            small.merged++;
            small.value += cn->value;
            small.base += cn->base;
            continue;
        }
        if (flame_reserve((void **)&w->kids, &w->cap_kids, n,
                          sizeof(flame_kid_t)) != 0)
            return ENOMEM;
        w->kids[n++] = (flame_kid_t){c, &t->frames[cn->frame]};
    }
    qsort(w->kids, n, sizeof(flame_kid_t), flame_kid_cmp);
    int64_t x = it->x;
    for (size_t i = 0; i < n; i++)
        x += t->nodes[w->kids[i].node].value;
    small.x = x;
    if (small.merged > 0 && (double)small.value >= w->min_value &&
        flame_push(w, &small) != 0)
        return ENOMEM;
    for (size_t i = n; i-- > 0;) {
        const flame_node_t *cn = &t->nodes[w->kids[i].node];
        x -= cn->value;
        flame_item_t kid = {.node = w->kids[i].node,
                            .depth = it->depth + 1,
                            .x = x,
                            .value = cn->value,
                            .base = cn->base,
                            .children = cn->child != 0};
        if (flame_push(w, &kid) != 0)
            return ENOMEM;
    }
    return 0;
}

/* Lists the items to draw in pre-order; 0 or ENOMEM. */
static int
flame_layout(const flame_tree_t *t, double min_share, flame_layout_t *r)
{
    *r = (flame_layout_t){0};
    if (t->nodes[0].value <= 0)
        return 0; /* nothing to draw */
    flame_walk_t w = {.t = t,
                      .min_value = min_share * (double)t->nodes[0].value};
    flame_item_t root = {.value = t->nodes[0].value,
                         .base = t->nodes[0].base,
                         .children = t->nodes[0].child != 0};
    int e = flame_push(&w, &root);
    while (e == 0 && w.npending > 0) {
        flame_item_t it = w.pending[--w.npending];
        e = flame_reserve((void **)&r->items, &r->cap, r->n, sizeof(it));
        if (e != 0)
            break;
        r->items[r->n++] = it;
        if (it.depth > r->max_depth)
            r->max_depth = it.depth;
        if (it.merged == 0)
            e = flame_push_children(&w, &it);
    }
    free(w.pending);
    free(w.kids);
    if (e != 0) {
        free(r->items);
        *r = (flame_layout_t){0};
    }
    return e;
}

/* ---- text --------------------------------------------------------------- */

/* Bytes of the valid UTF-8 sequence at s (not a control character), or
 * 0: the byte is shown as '?'. */
static size_t
flame_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return s[0] >= 0x20 && s[0] != 0x7f;
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4)
        return 0;
    uint32_t cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    bool bad = cp < least[n] || cp > 0x10ffff ||
               (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff;
    return bad ? 0 : n;
}

/* Characters (code points; a bad byte is one) of s. */
static size_t
flame_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; n++) {
        size_t len = flame_utf8_len(p);
        p += len ? len : 1;
    }
    return n;
}

/* Appends at most max characters of s as XML text: escaped, control
 * characters and invalid UTF-8 as '?'. */
static void
flame_put_text(strbuf_t *b, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t n = 0; *p != '\0' && n < max; n++) {
        size_t len = flame_utf8_len(p);
        if (len == 0) {
            strbuf_puts(b, "?");
            p++;
        } else if (len == 1) {
            char c[2] = {(char)*p++, '\0'};
            strbuf_xml(b, c);
        } else {
            strbuf_add(b, (const char *)p, len);
            p += len;
        }
    }
}

/* ---- drawing ------------------------------------------------------------ */

enum {
    FLAME_ROW = 16,
    FLAME_PAD = 10,
    FLAME_TOP = 60,
    FLAME_FOOT = 34,
    FLAME_LEGEND = 20,
};
#define FLAME_CHAR_W 7.2 /* monospace 12px: 0.6 em */

typedef struct flame_draw_s {
    const flame_tree_t *t;
    const flame_opts_t *o;
    strbuf_t *b;
    double width;  /* of the drawing, in px */
    double scale;  /* px per value unit: (width - 2 PAD) / total */
    double y_root; /* top of the root's row */
    double min_share;
} flame_draw_t;

/* The swatches of the legend: a middle colour of each family. */
#define FLAME_NATIVE_SWATCH "#e6962d"
#define FLAME_PYTHON_SWATCH "#55b4d2"

/* Colour of a frame of a normal graph, from the name: a warm hue (red to
 * yellow: red > 200 > blue) for native code, a cool one (blue to green:
 * red < 110 < blue) for Python functions. */
static void
flame_colour_name(char out[8], const char *name, bool python)
{
    uint64_t h = flame_fnv(0xcbf29ce484222325ull, name, strlen(name));
    h ^= h >> 32;
    unsigned r = 205 + (unsigned)(h % 51);
    unsigned g = 70 + (unsigned)((h >> 8) % 160);
    unsigned bl = 20 + (unsigned)((h >> 16) % 50);
    if (python) {
        r = 60 + (unsigned)(h % 50);
        g = 140 + (unsigned)((h >> 8) % 80);
        bl = 180 + (unsigned)((h >> 16) % 60);
    }
    snprintf(out, 8, "#%02x%02x%02x", r, g, bl);
}

/* Colour of a differential frame: from light grey (no change) to red by
 * growth or to blue by shrinkage, at |new - base| / max(new, base). */
static void
flame_colour_change(char out[8], int64_t value, int64_t base)
{
    static const double grey[3] = {232, 232, 232};
    static const double red[3] = {220, 38, 38};
    static const double blue[3] = {40, 96, 220};
    double hi = (double)(value > base ? value : base);
    double a = hi > 0 ? fabs((double)(value - base)) / hi : 0;
    const double *to = value >= base ? red : blue;
    unsigned c[3];
    for (int i = 0; i < 3; i++)
        c[i] = (unsigned)lround(grey[i] + (to[i] - grey[i]) * a);
    snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* The label of an item (also the first line of its tooltip). */
static void
flame_label(const flame_draw_t *d, const flame_item_t *it, char *buf,
            size_t size)
{
    if (it->merged > 0) {
        snprintf(buf, size, "[%" PRIu32 " small frames]", it->merged);
        return;
    }
    if (it->depth == 0) {
        snprintf(buf, size, "all");
        return;
    }
    const flame_frame_t *f = &d->t->frames[d->t->nodes[it->node].frame];
    if (d->t->lines && f->line > 0)
        snprintf(buf, size, "%s:%" PRId64, f->func, f->line);
    else
        snprintf(buf, size, "%s", f->func);
}

/* "+1.2 MiB (+25.0%)" or, from nothing, "+1.2 MiB (new)". */
static void
flame_change(const flame_draw_t *d, char *buf, size_t size, int64_t value,
             int64_t base)
{
    char delta[48];
    d->o->fmt(delta, sizeof delta, (double)(value - base), d->o->unit, true);
    if (base > 0)
        snprintf(buf, size, "%s (%+.1f%%)", delta,
                 100.0 * (double)(value - base) / (double)base);
    else
        snprintf(buf, size, "%s (new)", delta);
}

/* The tooltip after the label: where, how much, and the change. */
static void
flame_put_tooltip(const flame_draw_t *d, const flame_item_t *it)
{
    const flame_opts_t *o = d->o;
    strbuf_t *b = d->b;
    if (it->merged > 0) {
        strbuf_printf(b, "\n%" PRIu32 " frames under %g%% of the total each",
                      it->merged, 100 * d->min_share);
    } else if (it->depth > 0) {
        const flame_frame_t *f = &d->t->frames[d->t->nodes[it->node].frame];
        if (f->file[0] != '\0') {
            strbuf_puts(b, "\n");
            flame_put_text(b, f->file, SIZE_MAX);
            if (f->line > 0)
                strbuf_printf(b, ":%" PRId64, f->line);
        }
    }
    char v[48], self[48];
    int64_t total = flame_tree_total(d->t);
    o->fmt(v, sizeof v, (double)it->value, o->unit, false);
    strbuf_printf(b, "\n%s, %.2f%% of the total", v,
                  100.0 * (double)it->value / (double)total);
    int64_t kids = 0;
    for (uint32_t c = d->t->nodes[it->node].child; it->merged == 0 && c != 0;
         c = d->t->nodes[c].sibling)
        kids += d->t->nodes[c].value;
    if (it->children && it->value > kids) {
        o->fmt(self, sizeof self, (double)(it->value - kids), o->unit, false);
        strbuf_printf(b, ", self %s", self);
    }
    if (o->differential) {
        char base[48], change[96];
        o->fmt(base, sizeof base, (double)it->base, o->unit, false);
        flame_change(d, change, sizeof change, it->value, it->base);
        strbuf_printf(b, "\nbase %s \xe2\x86\x92 %s: %s", base, v, change);
    }
}

/* Opens the group of one frame: tooltip, rectangle, label. */
static void
flame_put_frame(const flame_draw_t *d, const flame_item_t *it)
{
    strbuf_t *b = d->b;
    char label[4096], fill[8]; /* longer names are cut */
    flame_label(d, it, label, sizeof label);
    const flame_frame_t *f = it->merged > 0 || it->depth == 0
                                 ? NULL
                                 : &d->t->frames[d->t->nodes[it->node].frame];
    bool python = f != NULL && f->python;
    if (d->o->differential)
        flame_colour_change(fill, it->value, it->base);
    else if (it->merged > 0)
        snprintf(fill, sizeof fill, "#c8c8c8");
    else
        flame_colour_name(fill, f != NULL ? f->func : label, python);
    strbuf_printf(b, "<g class=\"f%s\" data-v=\"%" PRId64 "\"",
                  it->merged ? " s"
                  : python   ? " py"
                             : "",
                  it->value);
    if (d->o->differential)
        strbuf_printf(b, " data-b=\"%" PRId64 "\"", it->base);
    strbuf_puts(b, "><title>");
    flame_put_text(b, label, SIZE_MAX);
    flame_put_tooltip(d, it);
    double x = FLAME_PAD + (double)it->x * d->scale;
    double w = (double)it->value * d->scale;
    double y = d->y_root - (double)it->depth * FLAME_ROW;
    strbuf_printf(b,
                  "</title><rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" "
                  "height=\"%d\" fill=\"%s\"/>",
                  x, y, w, FLAME_ROW - 1, fill);
    double room = floor((w - 6) / FLAME_CHAR_W);
    size_t fit = room > 0 ? (size_t)room : 0, len = flame_chars(label);
    if (len <= fit || fit >= 3) {
        strbuf_printf(b, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + 11.5);
        flame_put_text(b, label, len <= fit ? len : fit - 2);
        strbuf_puts(b, len <= fit ? "</text>" : "..</text>");
    }
    strbuf_puts(b, "\n");
}

/* Every frame, groups nested as the tree is. */
static void
flame_put_frames(const flame_draw_t *d, const flame_layout_t *l)
{
    strbuf_puts(d->b, "<g class=\"frames\">\n");
    for (size_t i = 0; i < l->n; i++) {
        flame_put_frame(d, &l->items[i]);
        /* Close this group and those it ends: the next item is a child
         * (depth + 1), a sibling, or the sibling of an ancestor. */
        uint32_t next = i + 1 < l->n ? l->items[i + 1].depth : 0;
        for (uint32_t k = l->items[i].depth + 1; k > next; k--)
            strbuf_puts(d->b, "</g>");
        if (l->items[i].depth + 1 > next)
            strbuf_puts(d->b, "\n");
    }
    strbuf_puts(d->b, "</g>\n");
}

/* The line under the title: the subtitle, then the totals. */
static void
flame_put_totals(const flame_draw_t *d)
{
    const flame_opts_t *o = d->o;
    strbuf_t *b = d->b;
    int64_t total = flame_tree_total(d->t);
    int64_t base = flame_tree_total_base(d->t);
    char v[48], bv[48], change[96];
    o->fmt(v, sizeof v, (double)total, o->unit, false);
    if (o->subtitle != NULL && o->subtitle[0] != '\0') {
        flame_put_text(b, o->subtitle, SIZE_MAX);
        strbuf_puts(b, " \xc2\xb7 ");
    }
    if (!o->differential) {
        strbuf_printf(b, "total %s", v);
        return;
    }
    o->fmt(bv, sizeof bv, (double)base, o->unit, false);
    flame_change(d, change, sizeof change, total, base);
    strbuf_printf(b, "base %s \xe2\x86\x92 new %s: %s", bv, v, change);
}

static double
flame_min_share(const flame_opts_t *o)
{
    return o->min_share > 0 ? o->min_share : 0.001;
}

/* The <svg> start tag, the style, the title and totals, the controls. */
static void
flame_put_head(const flame_draw_t *d, double height)
{
    strbuf_t *b = d->b;
    double w = d->width;
    strbuf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                  "class=\"flamegraph\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" data-cw=\"%g\" "
                  "data-total=\"%" PRId64 "\" data-unit=\"",
                  w, height, w, height, FLAME_CHAR_W, flame_tree_total(d->t));
    flame_put_text(b, d->o->unit, SIZE_MAX);
    strbuf_printf(b, "\">\n<style><![CDATA[\n%s]]></style>\n", flame_style);
    strbuf_printf(b,
                  "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%.0f\" "
                  "height=\"%.0f\" fill=\"#fbfbf8\"/>\n",
                  w, height);
    strbuf_printf(b,
                  "<text class=\"title\" x=\"%.0f\" y=\"24\" "
                  "text-anchor=\"middle\">",
                  w / 2);
    flame_put_text(b, d->o->title != NULL ? d->o->title : "Flame graph",
                   SIZE_MAX);
    strbuf_printf(b,
                  "</text>\n<text class=\"sub\" x=\"%.0f\" y=\"44\" "
                  "text-anchor=\"middle\">",
                  w / 2);
    flame_put_totals(d);
    strbuf_printf(b,
                  "</text>\n<text class=\"reset\" x=\"%d\" y=\"24\" "
                  "visibility=\"hidden\">Reset zoom</text>\n",
                  FLAME_PAD);
    strbuf_printf(b,
                  "<foreignObject x=\"%.0f\" y=\"8\" width=\"200\" "
                  "height=\"22\"><input "
                  "xmlns=\"http://www.w3.org/1999/xhtml\" class=\"search\" "
                  "type=\"search\" placeholder=\"Search (regular "
                  "expression)\"/></foreignObject>\n",
                  w - FLAME_PAD - 200);
    strbuf_printf(b,
                  "<text class=\"matched\" x=\"%.0f\" y=\"44\" "
                  "text-anchor=\"end\"></text>\n",
                  w - FLAME_PAD);
}

/* The legend row, its text's baseline at y: a swatch and a name for each
 * colour family. */
static void
flame_put_legend(const flame_draw_t *d, double y)
{
    static const char *const names[] = {"Python functions", "native code"};
    static const char *const fills[] = {FLAME_PYTHON_SWATCH,
                                        FLAME_NATIVE_SWATCH};
    strbuf_puts(d->b, "<g class=\"legend\">");
    for (int i = 0; i < 2; i++) {
        double x = FLAME_PAD + 150.0 * i;
        strbuf_printf(d->b,
                      "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" "
                      "height=\"12\" fill=\"%s\"/><text x=\"%.0f\" "
                      "y=\"%.0f\" style=\"font:12px sans-serif\">%s</text>",
                      x, y - 10, fills[i], x + 17, y, names[i]);
    }
    strbuf_puts(d->b, "</g>\n");
}

/* The whole <svg> element (no XML prolog). */
static void
flame_put_svg(const flame_tree_t *t, const flame_opts_t *o,
              const flame_layout_t *l, strbuf_t *b)
{
    double width = o->width ? o->width : 1200;
    bool legend = t->python && !o->differential;
    double foot = FLAME_FOOT + (legend ? FLAME_LEGEND : 0);
    double height = FLAME_TOP + (double)(l->max_depth + 1) * FLAME_ROW + foot;
    int64_t total = flame_tree_total(t);
    flame_draw_t d = {
        .t = t,
        .o = o,
        .b = b,
        .width = width,
        .scale = total > 0 ? (width - 2 * FLAME_PAD) / (double)total : 0,
        .y_root = FLAME_TOP + (double)l->max_depth * FLAME_ROW,
        .min_share = flame_min_share(o),
    };
    flame_put_head(&d, height);
    if (l->n > 0)
        flame_put_frames(&d, l);
    else
        strbuf_printf(b,
                      "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"middle\">"
                      "No samples: nothing to draw</text>\n",
                      width / 2, d.y_root + 11.5);
    double details = height - 12 - (legend ? FLAME_LEGEND : 0);
    strbuf_printf(b, "<text class=\"details\" x=\"%d\" y=\"%.0f\"></text>\n",
                  FLAME_PAD, details);
    if (legend)
        flame_put_legend(&d, height - 12);
    strbuf_printf(b, "<script><![CDATA[\n%s]]></script>\n</svg>\n",
                  flame_script);
}

int
flame_render_svg(const flame_tree_t *t, const flame_opts_t *o, strbuf_t *out)
{
    flame_layout_t l;
    int e = flame_layout(t, flame_min_share(o), &l);
    if (e != 0)
        return e;
    strbuf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" "
                     "standalone=\"no\"?>\n");
    flame_put_svg(t, o, &l, out);
    free(l.items);
    return out->failed ? ENOMEM : 0;
}

int
flame_render_html(const flame_tree_t *t, const flame_opts_t *o, strbuf_t *out)
{
    flame_layout_t l;
    int e = flame_layout(t, flame_min_share(o), &l);
    if (e != 0)
        return e;
    strbuf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                     "<meta charset=\"utf-8\">\n<title>");
    flame_put_text(out, o->title != NULL ? o->title : "Flame graph", SIZE_MAX);
    strbuf_puts(out, "</title>\n<style>\n"
                     "body{margin:0;padding:8px;background:#fff}\n"
                     "svg.flamegraph{display:block;width:100%;height:auto}\n"
                     "</style>\n</head>\n<body>\n");
    flame_put_svg(t, o, &l, out);
    strbuf_puts(out, "</body>\n</html>\n");
    free(l.items);
    return out->failed ? ENOMEM : 0;
}
