/*
 * pyframes.c — pyframes.h: one frame reader for every supported CPython,
 * driven by the layout of the running interpreter (pylayout.h).
 *
 * Memory is read with plain loads at the layout's offsets (ld_* below);
 * every object is type-checked against the interpreter's own type objects
 * before its fields are trusted.
 *
 * The 3.11+ location table (co_linetable, Objects/locations.md in
 * CPython): entries of one first byte 1CCCCLLL (code C, length L+1 code
 * units) and code-dependent data: 15 no location; 14 long form (signed
 * varint line delta, then three varints); 13 no column (signed varint line
 * delta); 10-12 one line, delta C-10 (two column bytes); 0-9 short form,
 * delta 0 (one column byte).  Varints are 6-bit groups, low first, bit 6
 * set on all but the last; a signed varint keeps its sign in bit 0.  Only
 * first bytes have bit 7 set, so the walk skips data bytes by that bit.
 *
 * The 3.10 line table (PEP 626): pairs (unsigned byte: length of the range
 * in bytes, signed byte: line delta, -128 for "no line"); each pair
 * starts its range where the previous ended, the line accumulating.
 */
#include "pyframes.h"

#include <string.h>

static py_runtime_t rt;

void
py_frames_init(const py_runtime_t *r)
{
    rt = *r;
}

const char *
py_frames_version(void)
{
    return rt.layout != NULL ? rt.layout->name : "";
}

static inline const void *
ld_ptr(const void *base, int off)
{
    const void *v;
    memcpy(&v, (const char *)base + off, sizeof v);
    return v;
}

static inline int
ld_int(const void *base, int off)
{
    int v;
    memcpy(&v, (const char *)base + off, sizeof v);
    return v;
}

static inline intptr_t
ld_ssize(const void *base, int off)
{
    intptr_t v;
    memcpy(&v, (const char *)base + off, sizeof v);
    return v;
}

static inline uint8_t
ld_u8(const void *base, int off)
{
    return ((const uint8_t *)base)[off];
}

static inline bool
has_type(const void *o, const void *type)
{
    return o != NULL && type != NULL && ld_ptr(o, rt.layout->ob_type) == type;
}

static bool
is_code(const void *p)
{
    return has_type(p, rt.code_type);
}

/* The frame's code object: 3.14 keeps f_executable as a tagged stack
 * reference, so the low bits are cleared from there on. */
static const void *
frame_code(const void *f)
{
    uintptr_t c = (uintptr_t)ld_ptr(f, rt.layout->f_code);
    if (rt.layout->version >= 0x030e)
        c &= ~(uintptr_t)7;
    return (const void *)c;
}

static const void *
thread_state(void)
{
    const void *ts = rt.current != NULL ? rt.current() : NULL;
    return ts != NULL ? ts : rt.gilstate != NULL ? rt.gilstate() : NULL;
}

static const void *
innermost_frame(const void *ts)
{
    const py_layout_t *L = rt.layout;
    const void *p = ld_ptr(ts, L->ts_frame);
    if (L->cframe_current >= 0 && p != NULL)
        p = ld_ptr(p, L->cframe_current);
    return p;
}

/* One 3.11+ frame (not a shim) into *r. */
static void
read_iframe(const void *f, const void *co, py_raw_frame_t *r)
{
    const py_layout_t *L = rt.layout;
    const char *first = (const char *)co + L->co_code_adaptive;
    const char *instr = ld_ptr(f, L->f_instr);
    intptr_t units = (instr - first) / 2;
    intptr_t size = ld_ssize(co, L->ob_size);
    bool incomplete = false;
    if (L->co_firsttraceable >= 0 &&
        (int)ld_u8(f, L->f_owner) != L->owner_generator)
        incomplete = units < ld_int(co, L->co_firsttraceable);
    *r = (py_raw_frame_t){
        .code = co,
        .offset = units >= 0 && units < size ? (int)(units * 2) : -1,
        .is_entry = L->f_is_entry >= 0 && ld_u8(f, L->f_is_entry) != 0,
        .incomplete = incomplete,
    };
}

unsigned
py_read_frames(py_raw_frame_t *out, unsigned max, bool *r_complete)
{
    *r_complete = true;
    const py_layout_t *L = rt.layout;
    const void *ts = L != NULL ? thread_state() : NULL;
    if (ts == NULL)
        return 0;
    unsigned n = 0, steps = 0;
    for (const void *f = innermost_frame(ts); f != NULL;
         f = ld_ptr(f, L->f_previous)) {
        /* Every step counts, shims too: a damaged chain that loops
         * through shims must end as well. */
        if (++steps > 2 * PY_FRAMES_MAX + 1) {
            *r_complete = false;
            break;
        }
        if (L->owner_cstack >= 0 &&
            (int)ld_u8(f, L->f_owner) == L->owner_cstack) {
            /* A shim: the frame inside it began an eval-loop call. */
            if (n > 0)
                out[n - 1].is_entry = true;
            continue;
        }
        const void *co = frame_code(f);
        if (n == max || n == PY_FRAMES_MAX || !is_code(co)) {
            *r_complete = false;
            break;
        }
        if (L->model == PY_MODEL_FRAME_OBJECT) {
            int lasti = ld_int(f, L->f_instr);
            out[n++] = (py_raw_frame_t){
                .code = co,
                .offset = lasti >= 0 ? lasti * 2 : -1,
                .is_entry = true,
            };
        } else {
            read_iframe(f, co, &out[n++]);
        }
    }
    return n;
}

static const void *
code_qualname(const void *co)
{
    int off = rt.layout->co_qualname >= 0 ? rt.layout->co_qualname
                                          : rt.layout->co_name;
    return ld_ptr(co, off);
}

bool
py_code_id(const void *code, py_code_id_t *r_id)
{
    if (!is_code(code))
        return false;
    const py_layout_t *L = rt.layout;
    const void *lt = ld_ptr(code, L->co_linetable);
    *r_id = (py_code_id_t){
        .qualname = (uintptr_t)code_qualname(code),
        .filename = (uintptr_t)ld_ptr(code, L->co_filename),
        .linetable = (uintptr_t)lt,
        .firstlineno = ld_int(code, L->co_firstlineno),
    };
    if (has_type(lt, rt.bytes_type)) {
        const char *table = (const char *)lt + L->bytes_sval;
        intptr_t len = ld_ssize(lt, L->ob_size);
        r_id->lt_len = len;
        if (len >= 8) {
            memcpy(&r_id->lt_head, table, 8);
            memcpy(&r_id->lt_tail, table + len - 8, 8);
        }
    }
    return true;
}

/* Appends code point c as UTF-8 if it fits in [*pos, size - 1); false
 * when it does not (the copy must stop there, not skip to a shorter
 * character, or the result would not be a prefix of the name). */
static bool
put_utf8(char *buf, size_t size, size_t *pos, uint32_t c)
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
        return false;
    memcpy(buf + *pos, tmp, k);
    *pos += k;
    return true;
}

/* The i-th code point of kind-byte units at data. */
static uint32_t
str_char(const void *data, unsigned kind, intptr_t i)
{
    if (kind == 1)
        return ((const uint8_t *)data)[i];
    if (kind == 2)
        return ((const uint16_t *)data)[i];
    return ((const uint32_t *)data)[i];
}

/* Copies a compact str object as UTF-8; "?" for anything else. */
static void
copy_str(const void *o, char *buf, size_t size)
{
    if (size == 0)
        return;
    const py_layout_t *L = rt.layout;
    size_t pos = 0;
    uint32_t state = o != NULL ? (uint32_t)ld_int(o, L->str_state) : 0;
    unsigned kind = (state >> L->str_kind_shift) & 7;
    bool ready = L->str_ready_bit < 0 || (state >> L->str_ready_bit & 1);
    if (has_type(o, rt.str_type) && ready &&
        (state >> L->str_compact_bit & 1) &&
        (kind == 1 || kind == 2 || kind == 4)) {
        bool ascii = state >> L->str_ascii_bit & 1;
        const char *data =
            (const char *)o + (ascii ? L->str_ascii_size : L->str_compact_size);
        intptr_t len = ld_ssize(o, L->str_length);
        for (intptr_t i = 0; i < len; i++)
            if (!put_utf8(buf, size, &pos, str_char(data, kind, i)))
                break;
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
    copy_str(code_qualname(code), name, name_size);
    copy_str(ld_ptr(code, rt.layout->co_filename), file, file_size);
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
py_linetable310_line(const uint8_t *table, size_t len, int firstlineno,
                     int offset)
{
    if (offset < 0)
        return firstlineno > 0 ? (unsigned)firstlineno : 0;
    int line = firstlineno;
    long end = 0; /* bytes */
    for (size_t i = 0; i + 1 < len; i += 2) {
        long start = end;
        end += table[i];
        int delta = (int8_t)table[i + 1];
        bool none = delta == -128;
        if (!none)
            line += delta;
        if (offset >= start && offset < end)
            return none || line <= 0 ? 0 : (unsigned)line;
    }
    return 0;
}

unsigned
py_code_line(const void *code, int offset)
{
    if (!is_code(code))
        return 0;
    const py_layout_t *L = rt.layout;
    const void *lt = ld_ptr(code, L->co_linetable);
    if (!has_type(lt, rt.bytes_type))
        return 0;
    const uint8_t *table = (const uint8_t *)lt + L->bytes_sval;
    intptr_t len = ld_ssize(lt, L->ob_size);
    int first = ld_int(code, L->co_firstlineno);
    if (len < 0)
        return 0;
    return L->linetable == PY_LINETABLE_310
               ? py_linetable310_line(table, (size_t)len, first, offset)
               : py_linetable_line(table, (size_t)len, first, offset);
}
