/*
 * merge.c — the merge of native and Python frames (see merge.h for the
 * rule).  The native frames are copied aside (a variable-length array of
 * at most PY_MERGE_MAX entries: a few KiB of stack at the default
 * prof_bt_max of 128) and the result is written over them.
 */
#include "merge.h"

#include <string.h>

typedef struct out_s {
    hs_frame_t *buf;
    unsigned n;
    unsigned max;
    bool cut;
} out_t;

static void
out_put(out_t *o, hs_frame_t f)
{
    if (f == 0)
        return;
    if (o->n < o->max)
        o->buf[o->n++] = f;
    else
        o->cut = true;
}

/* Frames of segments [first, last] (py indices [seg[first], seg[last+1]) ). */
static void
out_segments(out_t *o, const py_frame_t *py, const unsigned *seg,
             unsigned first, unsigned last)
{
    for (unsigned i = seg[first]; i < seg[last + 1]; i++)
        out_put(o, py[i].frame);
}

const char *
py_merge_name(py_merge_t m)
{
    switch (m) {
    case PY_MERGE_EXACT:
        return "exact";
    case PY_MERGE_TRUNCATED:
        return "truncated";
    case PY_MERGE_DEGRADED:
        return "degraded";
    default:
        return "none";
    }
}

py_merge_t
py_merge(hs_frame_t *frames, unsigned *nframes, unsigned max,
         bool native_truncated, const py_frame_t *py, unsigned npy,
         bool py_truncated, py_frame_pred_t is_eval, py_frame_pred_t in_interp,
         void *arg)
{
    unsigned n = *nframes;
    if (npy == 0 || npy > PY_MERGE_MAX || n > PY_MERGE_MAX ||
        max > PY_MERGE_MAX)
        return PY_MERGE_NONE;

    /* Segments: seg[j] is the first py index of segment j; seg[k] == npy.
     * A chain that does not end with an entry frame gets a last segment
     * of its own, and the merge is then in doubt. */
    unsigned seg[npy + 1], k = 0, start = 0;
    for (unsigned i = 0; i < npy; i++)
        if (py[i].is_entry) {
            seg[k++] = start;
            start = i + 1;
        }
    bool tail = start < npy;
    if (tail)
        seg[k++] = start;
    seg[k] = npy;

    /* Eval frames, innermost first; first[e]..last[e]: the segments that
     * replace eval frame e (first > last: it stays native). */
    hs_frame_t native[n > 0 ? n : 1];
    unsigned ev[n > 0 ? n : 1], ne = 0;
    memcpy(native, frames, n * sizeof(hs_frame_t));
    for (unsigned i = 0; i < n; i++)
        if (is_eval(native[i], arg))
            ev[ne++] = i;
    unsigned first[ne > 0 ? ne : 1], last[ne > 0 ? ne : 1];
    for (unsigned e = 0; e < ne; e++)
        first[e] = 1, last[e] = 0;

    py_merge_t result;
    unsigned after_first = 1, after_last = 0; /* segments after natives */
    bool keep_inner_only = false;
    if (!tail && !py_truncated && ne == k) {
        result = PY_MERGE_EXACT;
        for (unsigned e = 0; e < ne; e++)
            first[e] = last[e] = e;
    } else if (native_truncated || py_truncated || tail) {
        /* Only the inner ends agree: pair from the innermost. */
        result = tail && !py_truncated ? PY_MERGE_DEGRADED : PY_MERGE_TRUNCATED;
        unsigned p = ne < k ? ne : k;
        for (unsigned e = 0; e < p; e++)
            first[e] = last[e] = e;
        after_first = p;
        after_last = k - 1;
    } else if (ne == 0) {
        result = PY_MERGE_DEGRADED;
        keep_inner_only = true;
        after_first = 0;
        after_last = k - 1;
    } else {
        result = PY_MERGE_DEGRADED;
        unsigned p = ne < k ? ne : k;
        for (unsigned j = 0; j < p; j++)
            first[ne - 1 - j] = last[ne - 1 - j] = k - 1 - j;
        /* Inner segments without an eval frame of their own go with the
         * innermost paired one. */
        first[ne - p] = 0;
    }

    out_t o = {.buf = frames, .max = max};
    if (keep_inner_only) {
        for (unsigned i = 0; i < n && in_interp != NULL; i++) {
            if (in_interp(native[i], arg))
                break;
            out_put(&o, native[i]);
        }
    } else {
        unsigned e = 0;
        for (unsigned i = 0; i < n; i++) {
            if (e < ne && ev[e] == i) {
                if (first[e] <= last[e])
                    out_segments(&o, py, seg, first[e], last[e]);
                else
                    out_put(&o, native[i]);
                e++;
                continue;
            }
            out_put(&o, native[i]);
        }
    }
    if (after_first <= after_last)
        out_segments(&o, py, seg, after_first, after_last);
    *nframes = o.n;
    if (o.cut && result == PY_MERGE_EXACT)
        result = PY_MERGE_TRUNCATED;
    return result;
}
