#!/usr/bin/env python3
"""Writes backtrace_hooks/python/pylayout_gen.h: the offsets and constants of
CPython's structures that heapsight's frame reader uses, one row per CPython
minor version, taken from each version's own headers (internal ones
included) by compiling a small probe against them.

    python3 scripts/gen_pylayout.py [PYTHON...]          rewrite the file
    python3 scripts/gen_pylayout.py --check [PYTHON...]  compare, exit 1 if
                                                         a row differs

Without PYTHONs: Debian's /usr/bin/python3 and every pyenv build of 3.10 or
later (`pyenv root`/versions/*/bin/python3).  Rewriting keeps the rows of
versions that no interpreter given provides (so a machine with only some
versions never drops the others); --check compares the rows of the versions
given and says which it could not check.  The file is committed, so that one
libheapsight.so serves every version whatever headers the machine that built
it had; the test `pylayout_current` runs --check on every build.
"""

import os
import re
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "backtrace_hooks", "python", "pylayout_gen.h")
MIN_VERSION = (3, 10)

# The probe prints one C initializer of py_layout_t (pylayout.h).  Offsets
# are offsetof() of the real structures; bit positions of PyASCIIObject's
# state bit-field are found by setting each field in a zeroed object.
PROBE = r"""
#define Py_BUILD_CORE 1
#include <stddef.h>
#include <Python.h>
#include <frameobject.h>
#include <stdio.h>
#include <string.h>
#if PY_VERSION_HEX >= 0x030b0000
#include <internal/pycore_frame.h>
#endif
#include <internal/pycore_code.h>
#if PY_VERSION_HEX >= 0x030d0000
#include <internal/pycore_runtime.h>
#define DBG(f) ((int)offsetof(_Py_DebugOffsets, f))
#else
#define DBG(f) (-1)
#endif

static int
bit(const PyASCIIObject *o)
{
    unsigned w;
    memcpy(&w, (const char *)o + offsetof(PyASCIIObject, state), sizeof w);
    return w ? __builtin_ctz(w) : -1;
}

int
main(void)
{
    PyASCIIObject o;
    int kind, compact, ascii, ready = -1;
    memset(&o, 0, sizeof o); o.state.kind = 7; kind = bit(&o);
    memset(&o, 0, sizeof o); o.state.compact = 1; compact = bit(&o);
    memset(&o, 0, sizeof o); o.state.ascii = 1; ascii = bit(&o);
#if PY_VERSION_HEX < 0x030c0000
    memset(&o, 0, sizeof o); o.state.ready = 1; ready = bit(&o);
#endif
    printf("    {\n");
    printf("        .version = 0x%02x%02x, .name = \"%d.%d\",\n",
           PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MAJOR_VERSION,
           PY_MINOR_VERSION);
#if PY_VERSION_HEX < 0x030b0000
    printf("        .model = PY_MODEL_FRAME_OBJECT,\n");
    printf("        .entry = PY_ENTRY_EVERY_FRAME,\n");
    printf("        .linetable = PY_LINETABLE_310,\n");
    printf("        .ts_frame = %zu, .cframe_current = -1,\n",
           offsetof(PyThreadState, frame));
    printf("        .f_previous = %zu, .f_code = %zu, .f_instr = %zu,\n",
           offsetof(PyFrameObject, f_back), offsetof(PyFrameObject, f_code),
           offsetof(PyFrameObject, f_lasti));
    printf("        .f_owner = -1, .f_is_entry = -1,\n");
    printf("        .owner_generator = -1, .owner_cstack = -1,\n");
    printf("        .co_code_adaptive = -1, .co_firsttraceable = -1,\n");
    printf("        .co_qualname = -1,\n");
#else
    printf("        .model = PY_MODEL_INTERPRETER_FRAME,\n");
#if PY_VERSION_HEX < 0x030c0000
    printf("        .entry = PY_ENTRY_FLAG,\n");
#else
    printf("        .entry = PY_ENTRY_SHIM,\n");
#endif
    printf("        .linetable = PY_LINETABLE_311,\n");
#if PY_VERSION_HEX < 0x030d0000
    printf("        .ts_frame = %zu, .cframe_current = %zu,\n",
           offsetof(PyThreadState, cframe),
           offsetof(_PyCFrame, current_frame));
    printf("        .f_previous = %zu, .f_code = %zu, .f_instr = %zu,\n",
           offsetof(_PyInterpreterFrame, previous),
           offsetof(_PyInterpreterFrame, f_code),
           offsetof(_PyInterpreterFrame, prev_instr));
#else
    printf("        .ts_frame = %zu, .cframe_current = -1,\n",
           offsetof(PyThreadState, current_frame));
    printf("        .f_previous = %zu, .f_code = %zu, .f_instr = %zu,\n",
           offsetof(_PyInterpreterFrame, previous),
           offsetof(_PyInterpreterFrame, f_executable),
           offsetof(_PyInterpreterFrame, instr_ptr));
#endif
    printf("        .f_owner = %zu,\n", offsetof(_PyInterpreterFrame, owner));
#if PY_VERSION_HEX < 0x030c0000
    printf("        .f_is_entry = %zu,\n",
           offsetof(_PyInterpreterFrame, is_entry));
    printf("        .owner_generator = %d, .owner_cstack = -1,\n",
           FRAME_OWNED_BY_GENERATOR);
#else
    printf("        .f_is_entry = -1,\n");
    printf("        .owner_generator = %d, .owner_cstack = %d,\n",
           FRAME_OWNED_BY_GENERATOR, FRAME_OWNED_BY_CSTACK);
#endif
    printf("        .co_code_adaptive = %zu, .co_firsttraceable = %zu,\n",
           offsetof(PyCodeObject, co_code_adaptive),
           offsetof(PyCodeObject, _co_firsttraceable));
    printf("        .co_qualname = %zu,\n",
           offsetof(PyCodeObject, co_qualname));
#endif
    printf("        .co_name = %zu, .co_filename = %zu,\n",
           offsetof(PyCodeObject, co_name),
           offsetof(PyCodeObject, co_filename));
    printf("        .co_linetable = %zu, .co_firstlineno = %zu,\n",
           offsetof(PyCodeObject, co_linetable),
           offsetof(PyCodeObject, co_firstlineno));
    printf("        .ob_type = %zu, .ob_size = %zu,\n",
           offsetof(PyObject, ob_type), offsetof(PyVarObject, ob_size));
    printf("        .bytes_sval = %zu,\n", offsetof(PyBytesObject, ob_sval));
    printf("        .str_length = %zu, .str_state = %zu,\n",
           offsetof(PyASCIIObject, length), offsetof(PyASCIIObject, state));
    printf("        .str_ascii_size = %zu, .str_compact_size = %zu,\n",
           sizeof(PyASCIIObject), sizeof(PyCompactUnicodeObject));
    printf("        .str_kind_shift = %d, .str_compact_bit = %d,\n", kind,
           compact);
    printf("        .str_ascii_bit = %d, .str_ready_bit = %d,\n", ascii,
           ready);
    printf("        .dbg_version = %d, .dbg_free_threaded = %d,\n",
           DBG(version), DBG(free_threaded));
    printf("        .dbg_ts_frame = %d, .dbg_f_previous = %d,\n",
           DBG(thread_state.current_frame), DBG(interpreter_frame.previous));
    printf("        .dbg_f_code = %d, .dbg_f_instr = %d,\n",
           DBG(interpreter_frame.executable),
           DBG(interpreter_frame.instr_ptr));
    printf("        .dbg_f_owner = %d, .dbg_co_name = %d,\n",
           DBG(interpreter_frame.owner), DBG(code_object.name));
    printf("        .dbg_co_qualname = %d, .dbg_co_filename = %d,\n",
           DBG(code_object.qualname), DBG(code_object.filename));
    printf("        .dbg_co_linetable = %d, .dbg_co_firstlineno = %d,\n",
           DBG(code_object.linetable), DBG(code_object.firstlineno));
    printf("        .dbg_co_code_adaptive = %d, .dbg_ob_type = %d,\n",
           DBG(code_object.co_code_adaptive), DBG(pyobject.ob_type));
    printf("        .dbg_bytes_sval = %d, .dbg_str_state = %d,\n",
           DBG(bytes_object.ob_sval), DBG(unicode_object.state));
    printf("        .dbg_str_length = %d, .dbg_str_ascii_size = %d,\n",
           DBG(unicode_object.length), DBG(unicode_object.asciiobject_size));
    printf("    },\n");
    return 0;
}
"""


def default_pythons():
    found = ["/usr/bin/python3"]
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        root = os.path.expanduser("~/.pyenv")
    vdir = os.path.join(root, "versions")
    if os.path.isdir(vdir):
        for v in sorted(os.listdir(vdir)):
            exe = os.path.join(vdir, v, "bin", "python3")
            if os.access(exe, os.X_OK):
                found.append(exe)
    return found


def describe(python):
    """(major, minor, include dir, free-threaded) of an interpreter, or None
    with a reason."""
    code = ("import sys, sysconfig; print(sys.version_info[0], "
            "sys.version_info[1]); print(sysconfig.get_paths()['include']); "
            "print(bool(sysconfig.get_config_var('Py_GIL_DISABLED')))")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True,
                             text=True, timeout=60)
    except OSError as e:
        return None, "cannot run: %s" % e
    if out.returncode != 0:
        return None, "cannot run: %s" % out.stderr.strip()[-200:]
    lines = out.stdout.split("\n")
    major, minor = (int(x) for x in lines[0].split())
    return (major, minor, lines[1], lines[2] == "True"), None


def probe(python):
    info, why = describe(python)
    if info is None:
        return None, why
    major, minor, inc, free_threaded = info
    if (major, minor) < MIN_VERSION:
        return None, "CPython %d.%d is older than 3.10" % (major, minor)
    if free_threaded:
        return None, "a free-threaded build (not supported)"
    if not os.path.exists(os.path.join(inc, "internal", "pycore_code.h")):
        return None, "no internal headers in %s" % inc
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write(PROBE)
        cc = subprocess.run(["cc", "-w", "-I", inc, src, "-o", exe],
                            capture_output=True, text=True)
        if cc.returncode != 0:
            return None, "the probe does not compile: %s" % cc.stderr[-400:]
        row = subprocess.run([exe], capture_output=True, text=True,
                             check=True).stdout
    return ((major, minor), row), None


HEADER = """\
/*
 * pylayout_gen.h — generated by scripts/gen_pylayout.py from each CPython
 * version's own headers; do not edit.  One py_layout_t (pylayout.h) per
 * minor version, oldest first.  The test pylayout_current checks every row
 * against the headers of the interpreters the machine has.  Its layout is
 * the generator's, not clang-format's.
 */
/* clang-format off */
"""

ROW_RE = re.compile(r'    \{\n        \.version = 0x([0-9a-f]{4}),.*?\n    \},\n',
                    re.S)


def read_rows():
    rows = {}
    if os.path.exists(OUT):
        with open(OUT) as f:
            for m in ROW_RE.finditer(f.read()):
                v = int(m.group(1), 16)
                rows[(v >> 8, v & 0xff)] = m.group(0)
    return rows


def write_rows(rows):
    with open(OUT + ".tmp", "w") as f:
        f.write(HEADER)
        for v in sorted(rows):
            f.write(rows[v])
    os.replace(OUT + ".tmp", OUT)


def main(argv):
    check = "--check" in argv
    pythons = [a for a in argv if a != "--check"] or default_pythons()
    rows = read_rows()
    probed = {}
    for py in pythons:
        got, why = probe(py)
        if got is None:
            print("gen_pylayout: %s: skipped: %s" % (py, why))
            continue
        version, row = got
        if version in probed and probed[version] != row:
            print("gen_pylayout: %s: CPython %d.%d differs from another "
                  "build of %d.%d" % ((py,) + version + version))
            return 1
        probed[version] = row
    if not check:
        rows.update(probed)
        write_rows(rows)
        print("gen_pylayout: wrote %s (%s)" % (
            os.path.relpath(OUT, ROOT),
            ", ".join("%d.%d" % v for v in sorted(rows))))
        return 0
    bad = 0
    for v, row in sorted(probed.items()):
        if rows.get(v) != row:
            print("gen_pylayout: CPython %d.%d: the committed row differs "
                  "from the headers:\n%s" % (v + (row,)))
            bad += 1
        else:
            print("gen_pylayout: CPython %d.%d: matches its headers" % v)
    for v in sorted(set(rows) - set(probed)):
        print("gen_pylayout: CPython %d.%d: not checked (no interpreter "
              "with its headers here)" % v)
    if not probed:
        print("gen_pylayout: no interpreter to check against")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
