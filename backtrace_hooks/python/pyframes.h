/*
 * pyframes.h — reading the calling thread's Python frames without the GIL,
 * without the interpreter's help, on every supported CPython version: one
 * reader driven by the running interpreter's layout (pylayout.h).
 *
 * Owns: what a Python frame is to the hook (a code object, an instruction
 * offset, the entry flag) and how a code object is named (qualname, file,
 * line from its line table).  Does not own caching or merging, nor the
 * choice of layout.
 *
 * The models.  3.10: tstate->frame, a chain of PyFrameObject through
 * f_back; every frame is its own eval-loop call (is_entry), its
 * instruction is f_lasti (code units).  3.11 and later: a chain of
 * _PyInterpreterFrame through previous, from tstate->cframe->current_frame
 * (3.11, 3.12) or tstate->current_frame (3.13+); several frames per
 * eval-loop call.  The outermost frame of a call is flagged is_entry in
 * 3.11; from 3.12 the eval loop links a shim frame owned by the C stack
 * just outside it instead, so the frame before a shim is the entry frame
 * and the shim itself is not reported.  A frame that has not run its
 * first traceable instruction yet is incomplete (CPython's
 * _PyFrame_IsIncomplete): reported as such, since the merge still needs
 * its entry flag.
 *
 * Which thread state: the one the thread is running (3.12+: the
 * thread-local attached state, so a thread inside a subinterpreter reads
 * that interpreter's frames), else the thread's own GIL state (the GIL
 * released around a C call detaches the first; 3.10, 3.11 have only this).
 *
 * Rules: never take the GIL, never create objects or touch reference
 * counts, never call into the interpreter but for the two thread-state
 * getters, never allocate; validate what is read (object types, a depth
 * bound) and stop at the first thing that does not check out.  The frames
 * read belong to the calling thread, which is inside malloc and so not
 * changing them; the code objects they hold are alive while they run.
 */
#ifndef HS_PY_FRAMES_H
#define HS_PY_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pylayout.h"

/* The deepest Python stack read; deeper ones are cut (and flagged). */
#define PY_FRAMES_MAX 256

typedef struct py_raw_frame_s {
    const void *code; /* the frame's code object (borrowed) */
    int offset;       /* byte offset of the current instruction, or -1 */
    bool is_entry;    /* outermost frame of its eval-loop invocation */
    bool incomplete;  /* pushed, its first instruction not run yet */
} py_raw_frame_t;

/* What the reader reads: set once by py_frames_init, before any read. */
typedef struct py_runtime_s {
    const py_layout_t *layout; /* must outlive the reader */
    void *(*gilstate)(void);   /* PyGILState_GetThisThreadState */
    void *(*current)(void);    /* the attached thread state, or NULL */
    const void *code_type, *str_type, *bytes_type; /* PyCode_Type, ... */
} py_runtime_t;

void py_frames_init(const py_runtime_t *rt);

/* The layout's version name ("3.12"), or "" before py_frames_init. */
const char *py_frames_version(void);

/*
 * Reads the calling thread's Python frames, innermost first, into
 * out[0 .. max); returns how many.  *r_complete is false when the walk
 * stopped early (the depth bound, a frame that failed validation).  0
 * when the thread has no Python thread state or runs no Python code.
 */
unsigned py_read_frames(py_raw_frame_t *out, unsigned max, bool *r_complete);

/* What identifies a code object's names and line table: equal ids mean
 * the same function, file and lines (used to detect a cached code object
 * that died and whose memory now holds another). */
typedef struct py_code_id_s {
    uintptr_t qualname, filename, linetable;
    int firstlineno;
    /* The line table's length and its first and last 8 bytes (0 where
     * it is shorter): a table freed and another allocated at its address
     * differs here unless it maps the same lines, in all but contrived
     * cases (a reloaded module edited in the middle only, keeping every
     * name, the first line and the table's length). */
    intptr_t lt_len;
    uint64_t lt_head, lt_tail;
} py_code_id_t;

/* False when code is not a code object. */
bool py_code_id(const void *code, py_code_id_t *r_id);

/*
 * Copies the code object's qualified name and file name as UTF-8 into
 * buffers of the given sizes (cut to fit, always terminated); false when
 * code is not a code object.
 */
bool py_code_names(const void *code, char *name, size_t name_size, char *file,
                   size_t file_size);

/* The line of the instruction at byte offset in code, from its location
 * table; the first line for offset -1; 0 when it has none. */
unsigned py_code_line(const void *code, int offset);

/*
 * The line-table walks on their own (tests feed them synthetic tables):
 * table[0 .. len) in the 3.11 format (PEP 657 locations) or the 3.10 one
 * (PEP 626 pairs), first line firstlineno, the line of the code unit at
 * byte offset; 0 for "no location".
 */
unsigned py_linetable_line(const uint8_t *table, size_t len, int firstlineno,
                           int offset);
unsigned py_linetable310_line(const uint8_t *table, size_t len, int firstlineno,
                              int offset);

#endif /* HS_PY_FRAMES_H */
