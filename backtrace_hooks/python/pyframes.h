/*
 * pyframes.h — reading the calling thread's Python frames without the GIL,
 * without the interpreter's help: the interface every supported CPython
 * version implements in a file of its own (py311.c for 3.11; 3.12 moves
 * the entry marker from _PyInterpreterFrame.is_entry to shim frames owned
 * by the C stack, and would be py312.c).
 *
 * Owns: what a Python frame is to the hook (a code object, an instruction
 * offset, the entry flag) and how a code object is named (qualname, file,
 * line from its location table).  Does not own caching or merging.
 *
 * Rules for every implementation: never take the GIL, never create
 * objects or touch reference counts, never call into the interpreter,
 * never allocate; validate what is read (object types, a depth bound) and
 * stop at the first thing that does not check out.  The frames read
 * belong to the calling thread, which is inside malloc and so not
 * changing them; the code objects they hold are alive while they run.
 */
#ifndef HS_PY_FRAMES_H
#define HS_PY_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The deepest Python stack read; deeper ones are cut (and flagged). */
#define PY_FRAMES_MAX 256

typedef struct py_raw_frame_s {
    const void *code; /* the frame's code object (borrowed) */
    int offset;       /* byte offset of the current instruction, or -1 */
    bool is_entry;    /* outermost frame of its eval-loop invocation */
    bool incomplete;  /* pushed, its first instruction not run yet */
} py_raw_frame_t;

/* The CPython version this file was built for, e.g. "3.11". */
extern const char py_frames_version[];

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
 * The location-table walk on its own (tests feed it synthetic tables):
 * table[0 .. len) in the 3.11 format, first line firstlineno, the line of
 * the code unit at byte offset; 0 for "no location".
 */
unsigned py_linetable_line(const uint8_t *table, size_t len, int firstlineno,
                           int offset);

#endif /* HS_PY_FRAMES_H */
