/*
 * pylayout.c — the table of CPython layouts and the choice of one at run
 * time (see pylayout.h).
 */
#include "pylayout.h"

#include <string.h>

const py_layout_t py_layouts[] = {
#include "pylayout_gen.h"
};
const unsigned py_nlayouts = sizeof py_layouts / sizeof py_layouts[0];

/* The cookie at the start of _PyRuntime since 3.13 (_Py_Debug_Cookie). */
static const char debug_cookie[8] = {'x', 'd', 'e', 'b', 'u', 'g', 'p', 'y'};

const py_layout_t *
py_layout_find(unsigned version)
{
    for (unsigned i = 0; i < py_nlayouts; i++)
        if (py_layouts[i].version == version)
            return &py_layouts[i];
    return NULL;
}

static uint64_t
dbg_u64(const void *runtime, int pos)
{
    uint64_t v;
    memcpy(&v, (const char *)runtime + pos, sizeof v);
    return v;
}

/* A pair (field of the layout, its position in the debug offsets). */
typedef struct dbg_pair_s {
    size_t field, pos;
} dbg_pair_t;

#define PAIR(f)                                                                \
    {                                                                          \
        offsetof(py_layout_t, f), offsetof(py_layout_t, dbg_##f)               \
    }
static const dbg_pair_t dbg_pairs[] = {
    PAIR(ts_frame),       PAIR(f_previous),       PAIR(f_code),
    PAIR(f_instr),        PAIR(f_owner),          PAIR(co_name),
    PAIR(co_qualname),    PAIR(co_filename),      PAIR(co_linetable),
    PAIR(co_firstlineno), PAIR(co_code_adaptive), PAIR(ob_type),
    PAIR(bytes_sval),     PAIR(str_state),        PAIR(str_length),
    PAIR(str_ascii_size),
};
#undef PAIR

static int *
field_of(py_layout_t *l, size_t off)
{
    return (int *)((char *)l + off);
}

/* Copies the debug offsets of runtime into l (read at the positions l
 * gives); false when one is out of range for an int. */
static bool
dbg_apply(py_layout_t *l, const void *runtime)
{
    for (size_t i = 0; i < sizeof dbg_pairs / sizeof dbg_pairs[0]; i++) {
        int pos = *field_of(l, dbg_pairs[i].pos);
        uint64_t v = dbg_u64(runtime, pos);
        if (v > 1u << 16)
            return false;
        *field_of(l, dbg_pairs[i].field) = (int)v;
    }
    return true;
}

static bool
dbg_agrees(const py_layout_t *row, const void *runtime)
{
    py_layout_t copy = *row;
    return dbg_apply(&copy, runtime) && memcmp(&copy, row, sizeof copy) == 0;
}

const py_layout_t *
py_layout_select(unsigned version, const void *runtime, py_layout_t *r_out,
                 bool *r_derived, const char **r_why)
{
    *r_derived = false;
    *r_why = NULL;
    if (version < 0x030a) {
        *r_why = "CPython before 3.10 is not supported";
        return NULL;
    }
    const py_layout_t *row = py_layout_find(version);
    const py_layout_t *newest = &py_layouts[py_nlayouts - 1];
    const py_layout_t *dbg_row = row != NULL ? row : newest;
    bool have_dbg = runtime != NULL && dbg_row->dbg_version >= 0 &&
                    memcmp(runtime, debug_cookie, sizeof debug_cookie) == 0;
    if (have_dbg) {
        if ((dbg_u64(runtime, dbg_row->dbg_version) >> 16) != version) {
            *r_why = "the interpreter's debug offsets name another version";
            return NULL;
        }
        if (dbg_u64(runtime, dbg_row->dbg_free_threaded) != 0) {
            *r_why = "free-threaded CPython builds are not supported";
            return NULL;
        }
    }
    if (row != NULL) {
        if (have_dbg && !dbg_agrees(row, runtime)) {
            *r_why = "the interpreter's debug offsets disagree with the "
                     "layout of its version (a patched build?)";
            return NULL;
        }
        *r_out = *row;
        return r_out;
    }
    if (version < newest->version || !have_dbg) {
        *r_why = "no frame layout is known for this CPython version, and "
                 "it has no debug offsets to derive one from";
        return NULL;
    }
    *r_out = *newest;
    if (!dbg_apply(r_out, runtime)) {
        *r_why = "the interpreter's debug offsets are not readable at the "
                 "positions of the newest known version";
        return NULL;
    }
    r_out->version = version;
    r_out->name = "newer";
    /* Not in the debug offsets: whether a frame has run its first
     * instruction.  Without it no frame is taken as incomplete. */
    r_out->co_firsttraceable = -1;
    *r_derived = true;
    return r_out;
}
