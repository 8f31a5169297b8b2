/*
 * pylayout.h — what the frame reader needs to know about one CPython
 * version's memory layout, and how the running interpreter's layout is
 * chosen.
 *
 * Owns: py_layout_t (offsets and constants, as facts taken from each
 * version's headers by scripts/gen_pylayout.py into pylayout_gen.h), the
 * table of known versions, and the choice at run time: by the version
 * the interpreter reports (Py_Version, else Py_GetVersion()), checked
 * against the _Py_DebugOffsets table CPython 3.13 and later keep at the
 * start of _PyRuntime; a version newer than every row is read with the
 * newest row patched from its debug offsets (read at the newest row's
 * positions of that table), which the caller must then validate on a live
 * frame (pyattach.c does).  Does not own reading frames (pyframes.c).
 *
 * No CPython header is included anywhere in libheapsight.so: a layout is
 * data, so one library serves every supported version.
 *
 * Invariants: an offset of -1 means "this version has no such field";
 * the row for version v is used only when the interpreter's major.minor
 * is v (rows are per minor version: CPython keeps these structures fixed
 * within one).
 */
#ifndef HS_PY_LAYOUT_H
#define HS_PY_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PY_MODEL_FRAME_OBJECT,      /* 3.10: PyFrameObject, f_back chain */
    PY_MODEL_INTERPRETER_FRAME, /* 3.11+: _PyInterpreterFrame chain */
} py_model_t;

typedef enum {
    PY_ENTRY_EVERY_FRAME, /* 3.10: one eval-loop call per Python frame */
    PY_ENTRY_FLAG,        /* 3.11: the entry frame has is_entry set */
    PY_ENTRY_SHIM,        /* 3.12+: the entry frame's previous is a shim
                           * frame owned by the C stack */
} py_entry_t;

typedef enum {
    PY_LINETABLE_310, /* PEP 626 pairs (byte delta, signed line delta) */
    PY_LINETABLE_311, /* PEP 657 location table (Objects/locations.md) */
} py_linetable_t;

typedef struct py_layout_s {
    unsigned version; /* 0xMMmm */
    const char *name; /* "3.12" */
    py_model_t model;
    py_entry_t entry;
    py_linetable_t linetable;
    /* Thread state: the innermost frame is at ts_frame, or, when
     * cframe_current >= 0, at cframe_current inside the struct that
     * ts_frame points to (3.11, 3.12: tstate->cframe->current_frame). */
    int ts_frame, cframe_current;
    /* Frames: the next outer frame, the code object, the instruction
     * (3.10: f_lasti, an int counting code units; 3.11+: a pointer to a
     * code unit), the owner byte and (3.11) the is_entry byte. */
    int f_previous, f_code, f_instr, f_owner, f_is_entry;
    int owner_generator, owner_cstack; /* owner values; -1: none */
    /* Code objects (3.11+: a variable-size object whose ob_size counts
     * code units from co_code_adaptive). */
    int co_code_adaptive, co_firsttraceable;
    int co_qualname, co_name, co_filename, co_linetable, co_firstlineno;
    int ob_type, ob_size, bytes_sval;
    /* str: length, the state bit-field, and where compact data starts. */
    int str_length, str_state, str_ascii_size, str_compact_size;
    int str_kind_shift, str_compact_bit, str_ascii_bit, str_ready_bit;
    /* Positions inside _Py_DebugOffsets (3.13+; -1 before). */
    int dbg_version, dbg_free_threaded, dbg_ts_frame, dbg_f_previous;
    int dbg_f_code, dbg_f_instr, dbg_f_owner, dbg_co_name, dbg_co_qualname;
    int dbg_co_filename, dbg_co_linetable, dbg_co_firstlineno;
    int dbg_co_code_adaptive, dbg_ob_type, dbg_bytes_sval, dbg_str_state;
    int dbg_str_length, dbg_str_ascii_size;
} py_layout_t;

/* The known rows, oldest first (pylayout_gen.h). */
extern const py_layout_t py_layouts[];
extern const unsigned py_nlayouts;

/* The row of major.minor version (0xMMmm), or NULL. */
const py_layout_t *py_layout_find(unsigned version);

/*
 * The layout for an interpreter of version (0xMMmm) whose _PyRuntime is
 * at runtime (NULL if unknown), written into *r_out.  Returns NULL with
 * *r_why set when there is none: older than 3.10, a free-threaded build,
 * a debug-offsets table that disagrees with the row for its version, or
 * a version newer than every row without a readable table.  For a newer
 * version the result is "derived" (*r_derived true): the caller must
 * validate it on a live frame before trusting it.
 */
const py_layout_t *py_layout_select(unsigned version, const void *runtime,
                                    py_layout_t *r_out, bool *r_derived,
                                    const char **r_why);

#endif /* HS_PY_LAYOUT_H */
