/*
 * scopetab.c — the per-CU scope tables of scopetab.h: one walk of a CU's
 * DIE tree collects its function-like DIEs and their address ranges; a
 * sweep over the ranges, sorted by start (outer before inner on ties),
 * cuts them into disjoint segments that each name the innermost DIE.
 *
 * The walk descends into the DIEs that can hold code (units, namespaces,
 * classes, functions, lexical and exception blocks) and skips the rest
 * (types, variables, parameters), which is most of a CU's DIEs.
 */
#include "scopetab.h"

#include <dwarf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hmap.h"

/* DIE trees deeper than this are cut off (corrupt or hostile input). */
#define SCOPETAB_MAX_DEPTH 256

typedef struct scopetab_scope_s {
    Dwarf_Die die;
    int tag;
    int32_t parent; /* enclosing function-like scope, or -1 */
} scopetab_scope_t;

typedef struct scopetab_seg_s {
    Dwarf_Addr start, end;
    int32_t scope;
} scopetab_seg_t;

typedef struct scopetab_cu_s {
    scopetab_scope_t *scopes;
    size_t nscopes, cap_scopes;
    scopetab_seg_t *segs;
    size_t nsegs, cap_segs;
} scopetab_cu_t;

struct scopetab_s {
    hmap_t cu_of; /* CU DIE offset → index into cus */
    scopetab_cu_t *cus;
    size_t ncus, cap_cus;
};

/* A range of one scope while the table is built. */
typedef struct scopetab_range_s {
    Dwarf_Addr start, end;
    int32_t scope;
    uint32_t depth;
} scopetab_range_t;

typedef struct scopetab_build_s {
    scopetab_cu_t *cu;
    scopetab_range_t *ranges;
    size_t nranges, cap_ranges;
    bool oom;
} scopetab_build_t;

/* Grows *arr (elements of size sz) to hold n + 1; false if no memory. */
static bool
scopetab_reserve(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap < 16 ? 16 : *cap * 2;
    void *bigger = realloc(*arr, ncap * sz);
    if (bigger == NULL)
        return false;
    *arr = bigger;
    *cap = ncap;
    return true;
}

scopetab_t *
scopetab_new(void)
{
    scopetab_t *t = calloc(1, sizeof(*t));
    if (t != NULL)
        hmap_init(&t->cu_of);
    return t;
}

void
scopetab_free(scopetab_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->ncus; i++) {
        free(t->cus[i].scopes);
        free(t->cus[i].segs);
    }
    free(t->cus);
    hmap_destroy(&t->cu_of);
    free(t);
}

/* ---- the walk ----------------------------------------------------------- */

static bool
scopetab_is_function(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* True for DIEs whose children may hold code. */
static bool
scopetab_may_hold_code(int tag)
{
    switch (tag) {
    case DW_TAG_compile_unit:
    case DW_TAG_partial_unit:
    case DW_TAG_namespace:
    case DW_TAG_module:
    case DW_TAG_class_type:
    case DW_TAG_structure_type:
    case DW_TAG_union_type:
    case DW_TAG_lexical_block:
    case DW_TAG_try_block:
    case DW_TAG_catch_block:
        return true;
    default:
        return scopetab_is_function(tag);
    }
}

/* Records die's address ranges for scope idx at depth. */
static void
scopetab_add_ranges(scopetab_build_t *b, Dwarf_Die *die, int32_t idx,
                    uint32_t depth)
{
    Dwarf_Addr base, start, end;
    ptrdiff_t off = 0;
    while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0) {
        if (start >= end)
            continue;
        if (!scopetab_reserve((void **)&b->ranges, &b->cap_ranges, b->nranges,
                              sizeof(*b->ranges))) {
            b->oom = true;
            return;
        }
        b->ranges[b->nranges++] = (scopetab_range_t){start, end, idx, depth};
    }
}

/* Records a function-like DIE; its index, or -1 (no code, or no memory). */
static int32_t
scopetab_add_scope(scopetab_build_t *b, Dwarf_Die *die, int tag, int32_t parent,
                   uint32_t depth)
{
    scopetab_cu_t *cu = b->cu;
    size_t before = b->nranges;
    int32_t idx = (int32_t)cu->nscopes;
    scopetab_add_ranges(b, die, idx, depth);
    if (b->nranges == before) /* a declaration or abstract instance */
        return -1;
    if (!scopetab_reserve((void **)&cu->scopes, &cu->cap_scopes, cu->nscopes,
                          sizeof(*cu->scopes))) {
        b->oom = true;
        b->nranges = before;
        return -1;
    }
    cu->scopes[cu->nscopes++] = (scopetab_scope_t){*die, tag, parent};
    return idx;
}

static void
scopetab_walk(scopetab_build_t *b, Dwarf_Die *die, int32_t parent,
              uint32_t depth)
{
    Dwarf_Die child;
    if (depth >= SCOPETAB_MAX_DEPTH || dwarf_child(die, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);
        if (!scopetab_may_hold_code(tag) || b->oom)
            continue;
        int32_t inner = parent;
        if (scopetab_is_function(tag)) {
            int32_t idx = scopetab_add_scope(b, &child, tag, parent, depth);
            inner = idx >= 0 ? idx : parent;
        }
        scopetab_walk(b, &child, inner, depth + 1);
    } while (dwarf_siblingof(&child, &child) == 0);
}

/* ---- the sweep ---------------------------------------------------------- */

static int
scopetab_range_cmp(const void *a, const void *b)
{
    const scopetab_range_t *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    return 0;
}

/* Appends the segment [from, to) of scope; no-op when empty. */
static void
scopetab_emit(scopetab_build_t *b, Dwarf_Addr from, Dwarf_Addr to,
              int32_t scope)
{
    scopetab_cu_t *cu = b->cu;
    if (from >= to)
        return;
    if (!scopetab_reserve((void **)&cu->segs, &cu->cap_segs, cu->nsegs,
                          sizeof(*cu->segs))) {
        b->oom = true;
        return;
    }
    cu->segs[cu->nsegs++] = (scopetab_seg_t){from, to, scope};
}

/*
 * Cuts the sorted ranges into segments.  stack holds the ranges open at
 * pos, outermost at the bottom; everything before pos is emitted.
 */
static void
scopetab_flatten(scopetab_build_t *b)
{
    scopetab_range_t *stack = malloc((b->nranges + 1) * sizeof(*stack));
    size_t sp = 0;
    Dwarf_Addr pos = 0;
    if (stack == NULL) {
        b->oom = true;
        return;
    }
    qsort(b->ranges, b->nranges, sizeof(*b->ranges), scopetab_range_cmp);
    for (size_t i = 0; i <= b->nranges; i++) {
        bool last = i == b->nranges;
        scopetab_range_t r = last ? (scopetab_range_t){0} : b->ranges[i];
        while (sp > 0 && (last || stack[sp - 1].end <= r.start)) {
            scopetab_emit(b, pos, stack[sp - 1].end, stack[sp - 1].scope);
            pos = pos > stack[sp - 1].end ? pos : stack[sp - 1].end;
            sp--;
        }
        if (last)
            break;
        if (sp > 0) {
            scopetab_emit(b, pos, r.start, stack[sp - 1].scope);
            if (r.end > stack[sp - 1].end) /* not nested: clip */
                r.end = stack[sp - 1].end;
        }
        pos = pos > r.start ? pos : r.start;
        stack[sp++] = r;
    }
    free(stack);
}

/* The table of cu, built on first use; NULL if out of memory. */
static scopetab_cu_t *
scopetab_cu(scopetab_t *t, Dwarf_Die *cudie)
{
    uint64_t i;
    if (hmap_get_u64(&t->cu_of, dwarf_dieoffset(cudie), &i))
        return &t->cus[i];
    if (!scopetab_reserve((void **)&t->cus, &t->cap_cus, t->ncus,
                          sizeof(*t->cus)) ||
        hmap_put_u64(&t->cu_of, dwarf_dieoffset(cudie), t->ncus) != 0)
        return NULL;
    scopetab_cu_t *cu = &t->cus[t->ncus++];
    *cu = (scopetab_cu_t){0};
    scopetab_build_t b = {.cu = cu};
    scopetab_walk(&b, cudie, -1, 0);
    if (!b.oom)
        scopetab_flatten(&b);
    free(b.ranges);
    if (b.oom) /* keep the CU, empty: lookups find nothing */
        cu->nsegs = 0;
    return cu;
}

size_t
scopetab_chain(scopetab_t *t, Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die *out,
               size_t max)
{
    const scopetab_cu_t *cu = scopetab_cu(t, cudie);
    if (cu == NULL)
        return 0;
    size_t lo = 0, hi = cu->nsegs;
    while (lo < hi) { /* the first segment starting above pc */
        size_t mid = lo + (hi - lo) / 2;
        if (cu->segs[mid].start <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || pc >= cu->segs[lo - 1].end)
        return 0;
    size_t n = 0;
    for (int32_t i = cu->segs[lo - 1].scope; i >= 0 && n < max;) {
        out[n++] = cu->scopes[i].die;
        if (cu->scopes[i].tag != DW_TAG_inlined_subroutine)
            break;
        i = cu->scopes[i].parent;
    }
    return n;
}
