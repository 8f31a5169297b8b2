/*
 * py311.c — pyframes.h for CPython 3.11.
 *
 * The frame chain: PyGILState_GetThisThreadState() (a thread-specific
 * read, no lock, no GIL) → tstate->cframe->current_frame → previous ...
 * Each _PyInterpreterFrame holds f_code, prev_instr (the code unit before
 * the next one to run), is_entry (set by _PyEval_EvalFrameDefault on the
 * frame it was called with) and owner.  A frame is incomplete, as
 * _PyFrame_IsIncomplete says, when it is not a generator's and prev_instr
 * has not reached _co_firsttraceable: its RESUME has not run, its line
 * would be wrong, and PyFrame_GetBack skips it; it is reported as such
 * (the merge still needs its entry flag).
 *
 * The location table (co_linetable, Objects/locations.md in CPython):
 * entries of one first byte 1CCCCLLL (code C, length L+1 code units) and
 * code-dependent data: 15 no location; 14 long form (signed varint line
 * delta, then three varints); 13 no column (signed varint line delta);
 * 10-12 one line, delta C-10 (two column bytes); 0-9 short form, delta 0
 * (one column byte).  Varints are 6-bit groups, low first, bit 6 set on
 * all but the last; a signed varint keeps its sign in bit 0.  Only first
 * bytes have bit 7 set, so the walk skips data bytes by that bit.
 */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>

#if PY_VERSION_HEX < 0x030b0000 || PY_VERSION_HEX >= 0x030c0000
#error                                                                         \
    "heapsight's Python frame reader supports CPython 3.11 only: this is a different version (see backtrace_hooks/python/pyframes.h)"
#endif

#include <internal/pycore_frame.h>

#include "pyframes.h"

const char py_frames_version[] = "3.11";

static bool
is_code(const void *p)
{
    return p != NULL && Py_IS_TYPE((PyObject *)p, &PyCode_Type);
}

unsigned
py_read_frames(py_raw_frame_t *out, unsigned max, bool *r_complete)
{
    *r_complete = true;
    PyThreadState *ts = PyGILState_GetThisThreadState();
    if (ts == NULL || ts->cframe == NULL)
        return 0;
    unsigned n = 0;
    for (_PyInterpreterFrame *f = ts->cframe->current_frame; f != NULL;
         f = f->previous) {
        if (n == max || n == PY_FRAMES_MAX || !is_code(f->f_code)) {
            *r_complete = false;
            break;
        }
        PyCodeObject *co = f->f_code;
        _Py_CODEUNIT *first = _PyCode_CODE(co);
        bool incomplete = f->owner != FRAME_OWNED_BY_GENERATOR &&
                          f->prev_instr < first + co->_co_firsttraceable;
        ptrdiff_t units = f->prev_instr - first;
        out[n++] = (py_raw_frame_t){
            .code = co,
            .offset = units >= 0 && units < Py_SIZE(co)
                          ? (int)(units * (ptrdiff_t)sizeof(_Py_CODEUNIT))
                          : -1,
            .is_entry = f->is_entry,
            .incomplete = incomplete,
        };
    }
    return n;
}

bool
py_code_id(const void *code, py_code_id_t *r_id)
{
    if (!is_code(code))
        return false;
    const PyCodeObject *co = code;
    *r_id = (py_code_id_t){
        .qualname = (uintptr_t)co->co_qualname,
        .filename = (uintptr_t)co->co_filename,
        .linetable = (uintptr_t)co->co_linetable,
        .firstlineno = co->co_firstlineno,
    };
    return true;
}

/* Appends code point c as UTF-8 if it fits in [*pos, size - 1). */
static void
put_utf8(char *buf, size_t size, size_t *pos, Py_UCS4 c)
{
    char tmp[4];
    size_t k;
    if (c < 0x80) {
        tmp[0] = (char)c;
        k = 1;
    } else if (c < 0x800) {
        tmp[0] = (char)(0xc0 | c >> 6);
        tmp[1] = (char)(0x80 | (c & 0x3f));
        k = 2;
    } else if (c < 0x10000) {
        tmp[0] = (char)(0xe0 | c >> 12);
        tmp[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        tmp[2] = (char)(0x80 | (c & 0x3f));
        k = 3;
    } else {
        tmp[0] = (char)(0xf0 | c >> 18);
        tmp[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        tmp[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        tmp[3] = (char)(0x80 | (c & 0x3f));
        k = 4;
    }
    if (*pos + k >= size)
        return;
    memcpy(buf + *pos, tmp, k);
    *pos += k;
}

/* Copies a compact str object as UTF-8; "?" for anything else. */
static void
copy_str(const PyObject *o, char *buf, size_t size)
{
    if (size == 0)
        return;
    size_t pos = 0;
    if (o != NULL && Py_IS_TYPE(o, &PyUnicode_Type) && PyUnicode_IS_READY(o) &&
        PyUnicode_IS_COMPACT(o)) {
        Py_ssize_t len = PyUnicode_GET_LENGTH(o);
        int kind = PyUnicode_KIND(o);
        const void *data = PyUnicode_DATA(o);
        for (Py_ssize_t i = 0; i < len && pos + 1 < size; i++)
            put_utf8(buf, size, &pos, PyUnicode_READ(kind, data, i));
    } else {
        buf[pos++] = '?';
    }
    buf[pos < size ? pos : size - 1] = '\0';
}

bool
py_code_names(const void *code, char *name, size_t name_size, char *file,
              size_t file_size)
{
    if (!is_code(code))
        return false;
    const PyCodeObject *co = code;
    copy_str(co->co_qualname, name, name_size);
    copy_str(co->co_filename, file, file_size);
    return true;
}

/* A varint at *p (6-bit groups); advances *p, stays inside end. */
static unsigned
read_varint(const uint8_t **p, const uint8_t *end)
{
    unsigned v = 0, shift = 0;
    while (*p < end) {
        uint8_t b = *(*p)++;
        if (shift < 32)
            v |= (unsigned)(b & 63) << shift;
        shift += 6;
        if (!(b & 64))
            break;
    }
    return v;
}

static int
read_svarint(const uint8_t **p, const uint8_t *end)
{
    unsigned v = read_varint(p, end);
    return v & 1 ? -(int)(v >> 1) : (int)(v >> 1);
}

unsigned
py_linetable_line(const uint8_t *table, size_t len, int firstlineno, int offset)
{
    if (offset < 0)
        return firstlineno > 0 ? (unsigned)firstlineno : 0;
    const uint8_t *p = table, *end = table + len;
    int line = firstlineno;
    long addr = 0; /* bytes */
    while (p < end) {
        uint8_t first = *p++;
        if (!(first & 0x80))
            continue; /* not a first byte: damaged table, resync */
        unsigned code = (first >> 3) & 15;
        long next = addr + (long)((first & 7) + 1) * 2;
        bool none = false;
        switch (code) {
        case 15:
            none = true;
            break;
        case 14:
        case 13:
            line += read_svarint(&p, end);
            break;
        case 12:
        case 11:
        case 10:
            line += (int)code - 10;
            break;
        default:
            break;
        }
        while (p < end && !(*p & 0x80))
            p++;
        if (offset >= addr && offset < next)
            return none || line <= 0 ? 0 : (unsigned)line;
        addr = next;
    }
    return 0;
}

unsigned
py_code_line(const void *code, int offset)
{
    if (!is_code(code))
        return 0;
    const PyCodeObject *co = code;
    const PyObject *lt = co->co_linetable;
    if (lt == NULL || !Py_IS_TYPE(lt, &PyBytes_Type))
        return 0;
    return py_linetable_line(
        (const uint8_t *)((const PyBytesObject *)lt)->ob_sval,
        (size_t)Py_SIZE(lt), co->co_firstlineno, offset);
}
