/*
 * merge.h — merging a native stack with the Python frames the interpreter
 * was running: a pure function, no CPython, no allocation.
 *
 * Owns: the rule that pairs native eval-loop frames with Python frames,
 * and what happens when they do not match.  Does not own reading either
 * stack (the unwinder; py311.c) nor naming frames (pyhook.c).
 *
 * The model.  Native frames come innermost first.  Some of them are
 * return addresses inside the interpreter's eval loop (is_eval): each is
 * one C-level invocation of the loop.  Python frames also come innermost
 * first; since CPython 3.11 one invocation runs several Python frames
 * (Python-to-Python calls stay inside the loop), and the outermost frame
 * an invocation runs is flagged is_entry.  So the Python frames split into
 * segments, each ending (on its outer side) with an entry frame, and the
 * i-th segment belongs to the i-th eval frame, both counted from the
 * innermost.  A Python frame with frame == 0 is one that must not be
 * shown (an incomplete frame: pushed, its first instruction not yet run)
 * but still ends a segment if it is an entry frame.
 *
 * The rule, in this order:
 *   - no Python frames: the stack is unchanged (PY_MERGE_NONE);
 *   - as many eval frames as segments and a complete Python chain: each
 *     eval frame is replaced by its segment's frames (PY_MERGE_EXACT, even
 *     if the native stack was cut: every segment found its frame);
 *   - a stack cut at its outer end — the native one filled its capacity
 *     (native_truncated: prof_bt_max cut it) or the Python one was cut by
 *     its reader (py_truncated: a depth bound, a frame that failed
 *     validation) — or a Python chain that does not end with an entry
 *     frame (so its outer end is in doubt): the stacks agree only at
 *     their inner end, so eval frames and segments pair from the
 *     innermost; unpaired outer eval frames stay native, unpaired outer
 *     segments follow the last native frame (PY_MERGE_TRUNCATED when a
 *     stack was cut — a Python chain cut inside a segment ends without an
 *     entry frame, as expected — and PY_MERGE_DEGRADED for a complete
 *     chain in doubt);
 *   - any other mismatch (an eval frame whose entry frame is not linked
 *     yet, an eval loop part that was not recognised): both stacks are
 *     complete and start at the same place, so they pair from the
 *     outermost; unpaired inner eval frames stay native; unpaired inner
 *     segments go just inside the innermost paired eval frame; with no
 *     eval frame at all, the native frames up to the first one inside the
 *     interpreter (in_interp) are kept and all the Python frames follow
 *     them — Python only when in_interp is NULL (PY_MERGE_DEGRADED).
 *   - no frame is ever invented; when the result does not fit in max
 *     frames, the outermost are dropped and an exact result becomes
 *     PY_MERGE_TRUNCATED.
 * More than PY_MERGE_MAX frames on either side: the stack is unchanged
 * (PY_MERGE_NONE); so is max > PY_MERGE_MAX.  Stack use: a few variable-
 * length arrays of at most that many entries (about 20 KiB at the limit,
 * about 3 KiB at the default prof_bt_max of 128 and 256 Python frames).
 */
#ifndef HS_PY_MERGE_H
#define HS_PY_MERGE_H

#include <stdbool.h>

#include "../../include/heapsight_hook.h"

typedef struct py_frame_s {
    hs_frame_t frame; /* symbolic frame; 0: not shown */
    bool is_entry;    /* outermost frame of its eval-loop invocation */
} py_frame_t;

typedef enum {
    PY_MERGE_NONE,      /* no Python frames: unchanged */
    PY_MERGE_EXACT,     /* every eval frame paired with its segment */
    PY_MERGE_TRUNCATED, /* the native stack, or the result, was cut */
    PY_MERGE_DEGRADED,  /* the stacks did not match: best honest stack */
} py_merge_t;

typedef bool (*py_frame_pred_t)(hs_frame_t ip, void *arg);

/* The largest stack py_merge handles (its scratch space). */
#define PY_MERGE_MAX 1024

/*
 * Merges py[0 .. npy) into frames[0 .. *nframes) in place; the result
 * holds at most max (<= PY_MERGE_MAX) frames.  is_eval is required;
 * in_interp may be NULL.  Both get arg.
 */
py_merge_t py_merge(hs_frame_t *frames, unsigned *nframes, unsigned max,
                    bool native_truncated, const py_frame_t *py, unsigned npy,
                    bool py_truncated, py_frame_pred_t is_eval,
                    py_frame_pred_t in_interp, void *arg);

/* "exact", "truncated", "degraded" or "none". */
const char *py_merge_name(py_merge_t m);

#endif /* HS_PY_MERGE_H */
