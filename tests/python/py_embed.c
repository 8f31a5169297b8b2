/*
 * py_embed.c — the Python frame hook driven deterministically from an
 * embedded CPython (built once per interpreter the machine has, 3.10 and
 * later: tests/python/CMakeLists.txt): Python code calls probe.capture(), a C
 * function that takes the native stack (glibc's backtrace) and runs the hook on
 * it (py_hook_run), with heapsight's API replaced by a recording stand-in.
 *
 * Checked: the merged stack names the Python functions innermost first,
 * with their files and lines, and no eval-loop frame is left (plain
 * calls, C calling back into Python through sorted(), generators,
 * coroutines, a thread, the GIL released around the capture, names that
 * are not ASCII); Python stacks deeper than the reader's bound are cut and
 * labelled "truncated"; a cut native stack is labelled "truncated"; names
 * are cached per (code, offset); and the location-table reader agrees
 * with PyCode_Addr2Line on every instruction of every function of a few
 * standard modules.  The reader is set up as libheapsight.so sets it up
 * (pyext/attach.c): the layout row of the running version, checked
 * against the debug offsets where the version has them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <execinfo.h>
#include <string.h>
#include <time.h>

#include "../../backtrace_hooks/python/pyframes.h"
#include "../../backtrace_hooks/python/pyhook.h"
#include "hs_test.h"

/* ---- a stand-in for heapsight's API ---- */

enum { MAX_SYMS = 4096, MAXF = 256 };

typedef struct sym_s {
    char function[256];
    char file[512];
    unsigned line;
} sym_t;

static sym_t syms[MAX_SYMS];
static unsigned nsyms;
static char last_label[64];
static hs_backtrace_hook_t added;

static hs_frame_t
fake_symbolic(const char *function, const char *file, unsigned line)
{
    for (unsigned i = 0; i < nsyms; i++)
        if (strcmp(syms[i].function, function) == 0 &&
            strcmp(syms[i].file, file) == 0 && syms[i].line == line)
            return HS_FRAME_SYMBOLIC_BIT | i;
    if (nsyms == MAX_SYMS)
        return 0;
    snprintf(syms[nsyms].function, sizeof syms[nsyms].function, "%s", function);
    snprintf(syms[nsyms].file, sizeof syms[nsyms].file, "%s", file);
    syms[nsyms].line = line;
    return HS_FRAME_SYMBOLIC_BIT | nsyms++;
}

static int
fake_hook_add(hs_backtrace_hook_t h, void *arg)
{
    (void)arg;
    added = h;
    return 0;
}

static int
fake_hook_remove(hs_backtrace_hook_t h, void *arg)
{
    (void)arg;
    if (added != h)
        return ENOENT;
    added = NULL;
    return 0;
}

static int
fake_label(const char *key, const char *value)
{
    snprintf(last_label, sizeof last_label, "%s=%s", key, value);
    return 0;
}

static const py_hs_api_t fake_api = {
    fake_symbolic,
    fake_hook_add,
    fake_hook_remove,
    fake_label,
};

/* ---- probe.capture() ---- */

typedef struct capture_s {
    hs_frame_t frames[MAXF];
    unsigned n;
    unsigned native_max; /* 0: MAXF */
    unsigned outer_eval; /* index of the outermost eval frame captured */
    char label[64];
    bool release_gil;
} capture_t;

static capture_t cap;

static void
do_capture(void)
{
    void *raw[MAXF];
    unsigned max = cap.native_max ? cap.native_max : MAXF;
    int n = backtrace(raw, (int)max);
    cap.n = n > 0 ? (unsigned)n : 0;
    py_hook_info_t in;
    py_hook_get_info(&in);
    for (unsigned i = 0; i < cap.n; i++) {
        cap.frames[i] = (hs_frame_t)raw[i];
        if (cap.frames[i] > in.eval_lo && cap.frames[i] <= in.eval_hi)
            cap.outer_eval = i;
    }
    last_label[0] = '\0';
    py_hook_run(cap.frames, &cap.n, max, NULL);
    snprintf(cap.label, sizeof cap.label, "%s", last_label);
}

static PyObject *
probe_capture(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    if (cap.release_gil) {
        Py_BEGIN_ALLOW_THREADS;
        do_capture();
        Py_END_ALLOW_THREADS;
    } else {
        do_capture();
    }
    Py_RETURN_NONE;
}

/* probe.time_hook(n): runs the hook n times on this stack (a copy of the
 * native frames each time); returns ns per run.  Printed, never
 * asserted on. */
static PyObject *
probe_time_hook(PyObject *self, PyObject *args)
{
    (void)self;
    int n;
    if (!PyArg_ParseTuple(args, "i", &n))
        return NULL;
    void *raw[MAXF];
    int got = backtrace(raw, MAXF);
    hs_frame_t base[MAXF], f[MAXF];
    for (int i = 0; i < got; i++)
        base[i] = (hs_frame_t)raw[i];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int k = 0; k < n; k++) {
        unsigned m = (unsigned)got;
        memcpy(f, base, m * sizeof(hs_frame_t));
        py_hook_run(f, &m, MAXF, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
                 (double)(t1.tv_nsec - t0.tv_nsec)) /
                (n > 0 ? n : 1);
    return PyFloat_FromDouble(ns);
}

static PyMethodDef probe_methods[] = {
    {"capture", probe_capture, METH_NOARGS, "run the hook on this stack"},
    {"time_hook", probe_time_hook, METH_VARARGS, "ns per hook run"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef probe_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "probe",
    .m_size = -1,
    .m_methods = probe_methods,
};

static PyObject *
probe_init(void)
{
    return PyModule_Create(&probe_module);
}

/* ---- helpers ---- */

static bool
run_py(const char *code)
{
    int rc = PyRun_SimpleString(code);
    HS_EXPECT_EQ_INT(rc, 0);
    return rc == 0;
}

/* The symbolic frames of the capture, innermost first, as "name:line". */
static unsigned
symbolic_names(char out[][300], unsigned max)
{
    unsigned k = 0;
    for (unsigned i = 0; i < cap.n && k < max; i++) {
        hs_frame_t f = cap.frames[i];
        if (!hs_frame_is_symbolic(f))
            continue;
        const sym_t *s = &syms[f & ~HS_FRAME_SYMBOLIC_BIT];
        snprintf(out[k++], 300, "%s:%u", s->function, s->line);
    }
    return k;
}

static unsigned
eval_frames_left(void)
{
    py_hook_info_t in;
    py_hook_get_info(&in);
    unsigned k = 0;
    for (unsigned i = 0; i < cap.n; i++) {
        hs_frame_t f = cap.frames[i];
        if ((f > in.eval_lo && f <= in.eval_hi) ||
            (f > in.cold_lo && f <= in.cold_hi))
            k++;
    }
    return k;
}

/* Expects the symbolic frames to start with want[0 .. n). */
static void
expect_python_stack(int line, const char *const *want, unsigned n)
{
    char got[64][300];
    unsigned k = symbolic_names(got, 64);
    bool ok = k >= n;
    for (unsigned i = 0; ok && i < n; i++) {
        /* "name" alone matches any line. */
        size_t len = strlen(want[i]);
        ok = strchr(want[i], ':') != NULL
                 ? strcmp(got[i], want[i]) == 0
                 : strncmp(got[i], want[i], len) == 0 && got[i][len] == ':';
    }
    if (!ok) {
        char buf[4096];
        size_t pos = 0;
        for (unsigned i = 0; i < k && pos < sizeof buf - 300; i++)
            pos += (size_t)snprintf(buf + pos, sizeof buf - pos, " %s", got[i]);
        buf[pos] = '\0';
        hs_test_fail(__FILE__, line, "python frames:%s (want %s first)", buf,
                     want[0]);
    }
    HS_EXPECT_EQ_U64(eval_frames_left(), 0);
    HS_EXPECT_EQ_STR(cap.label, "");
}

#define EXPECT_STACK(...)                                                      \
    do {                                                                       \
        static const char *const want_[] = {__VA_ARGS__};                      \
        expect_python_stack(__LINE__, want_, sizeof want_ / sizeof want_[0]);  \
    } while (0)

/* ---- tests ---- */

HS_TEST(hook_installs_and_finds_the_eval_loop)
{
    const char *why = NULL;
    HS_ASSERT_EQ_INT(py_hook_install(&fake_api, &why), 0);
    HS_EXPECT_TRUE(added == py_hook_run);
    py_hook_info_t in;
    py_hook_get_info(&in);
    HS_EXPECT_GT_U64(in.eval_hi, in.eval_lo);
    HS_EXPECT_GE_U64(in.ntrim, 6); /* the exported PyMem/PyObject entries */
    char want[16];
    snprintf(want, sizeof want, "%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    HS_EXPECT_EQ_STR(py_frames_version(), want);
}

HS_TEST(plain_calls)
{
    cap = (capture_t){0};
    run_py("import probe\n"        /* 1 */
           "def inner():\n"        /* 2 */
           "    probe.capture()\n" /* 3 */
           "def outer():\n"        /* 4 */
           "    x = 1\n"           /* 5 */
           "    inner()\n"         /* 6 */
           "outer()\n");           /* 7 */
    EXPECT_STACK("inner:3", "outer:6", "<module>:7");
}

HS_TEST(c_calls_back_into_python)
{
    cap = (capture_t){0};
    run_py("import probe\n"                          /* 1 */
           "def key(v):\n"                           /* 2 */
           "    if v == 2:\n"                        /* 3 */
           "        probe.capture()\n"               /* 4 */
           "    return v\n"                          /* 5 */
           "def sort_them():\n"                      /* 6 */
           "    return sorted([3, 1, 2], key=key)\n" /* 7 */
           "sort_them()\n");                         /* 8 */
    EXPECT_STACK("key:4", "sort_them:7", "<module>:8");
}

HS_TEST(generators_and_coroutines)
{
    cap = (capture_t){0};
    run_py("import probe\n"        /* 1 */
           "def gen():\n"          /* 2 */
           "    yield 1\n"         /* 3 */
           "    probe.capture()\n" /* 4 */
           "    yield 2\n"         /* 5 */
           "def use():\n"          /* 6 */
           "    g = gen()\n"       /* 7 */
           "    next(g)\n"         /* 8 */
           "    next(g)\n"         /* 9 */
           "use()\n");             /* 10 */
    EXPECT_STACK("gen:4", "use:9", "<module>:10");
    cap = (capture_t){0};
    run_py("import probe\n"              /* 1 */
           "async def leaf():\n"         /* 2 */
           "    probe.capture()\n"       /* 3 */
           "async def coro():\n"         /* 4 */
           "    await leaf()\n"          /* 5 */
           "def drive():\n"              /* 6 */
           "    c = coro()\n"            /* 7 */
           "    try:\n"                  /* 8 */
           "        c.send(None)\n"      /* 9 */
           "    except StopIteration:\n" /* 10 */
           "        pass\n"              /* 11 */
           "drive()\n");                 /* 12 */
    EXPECT_STACK("leaf:3", "coro:5", "drive:9", "<module>:12");
}

HS_TEST(thread_of_its_own)
{
    cap = (capture_t){0};
    run_py("import probe, threading\n"             /* 1 */
           "def worker():\n"                       /* 2 */
           "    probe.capture()\n"                 /* 3 */
           "t = threading.Thread(target=worker)\n" /* 4 */
           "t.start()\n"                           /* 5 */
           "t.join()\n");                          /* 6 */
    /* The thread's stack ends in threading's bootstrap, not <module>. */
#if PY_VERSION_HEX >= 0x030b0000
    EXPECT_STACK("worker:3", "Thread.run");
#else
    EXPECT_STACK("worker:3", "run"); /* 3.10 frames know no qualname */
#endif
}

HS_TEST(gil_released_around_the_capture)
{
    cap = (capture_t){.release_gil = true};
    run_py("import probe\n"
           "def f():\n"
           "    probe.capture()\n"
           "f()\n");
    EXPECT_STACK("f:3", "<module>:4");
}

HS_TEST(names_that_are_not_ascii)
{
    cap = (capture_t){0};
    run_py("import probe\n"
           "def f\xc3\xa9\xe5\x87\xbd():\n"
           "    probe.capture()\n"
           "f\xc3\xa9\xe5\x87\xbd()\n");
    EXPECT_STACK("f\xc3\xa9\xe5\x87\xbd:3", "<module>:4");
}

HS_TEST(files_are_named)
{
    cap = (capture_t){0};
    run_py("import probe\n"
           "exec(compile('def g():\\n    probe.capture()\\ng()\\n', "
           "'/srv/app/job.py', 'exec'))\n");
    bool seen = false;
    for (unsigned i = 0; i < cap.n; i++)
        if (hs_frame_is_symbolic(cap.frames[i])) {
            const sym_t *s = &syms[cap.frames[i] & ~HS_FRAME_SYMBOLIC_BIT];
            if (strcmp(s->function, "g") == 0) {
                HS_EXPECT_EQ_STR(s->file, "/srv/app/job.py");
                HS_EXPECT_EQ_U64(s->line, 2);
                seen = true;
            }
        }
    HS_EXPECT_TRUE(seen);
}

HS_TEST(names_are_cached)
{
    run_py("import probe\n"
           "def c():\n"
           "    probe.capture()\n"
           "def twice():\n"
           "    for _ in range(2):\n"
           "        c()\n"
           "        if _ == 0: first = probe\n"
           "twice()\n");
    uint64_t before = py_hook_names_computed();
    run_py("twice()\n");
    /* Only the new <module> frame of this second snippet is named. */
    HS_EXPECT_LE_U64(py_hook_names_computed() - before, 1);
}

HS_TEST(code_objects_that_reuse_memory_keep_their_lines)
{
    /* Each round compiles a new <module> whose capture sits on another
     * line; the old code object (and its line table) are freed first, so
     * the new ones often reuse their memory. */
    for (int i = 0; i < 40; i++) {
        char src[256];
        int k = snprintf(src, sizeof src, "import probe\n");
        for (int j = 0; j < i % 7; j++)
            k += snprintf(src + k, sizeof src - (size_t)k, "x = %d\n", j);
        snprintf(src + k, sizeof src - (size_t)k, "probe.capture()\n");
        cap = (capture_t){0};
        if (!run_py(src))
            return;
        char got[4][300], want[32];
        HS_ASSERT_GE_U64(symbolic_names(got, 4), 1);
        snprintf(want, sizeof want, "<module>:%d", 2 + i % 7);
        HS_EXPECT_EQ_STR(got[0], want);
    }
}

HS_TEST(deep_python_stack_is_cut_and_labelled)
{
    cap = (capture_t){0};
    run_py("import probe, sys\n"
           "sys.setrecursionlimit(5000)\n"
           "def down(n):\n"
           "    if n == 0:\n"
           "        probe.capture()\n"
           "    else:\n"
           "        down(n - 1)\n"
           "down(400)\n");
    char got[8][300];
    HS_ASSERT_GE_U64(symbolic_names(got, 8), 2);
    HS_EXPECT_EQ_STR(got[0], "down:5");
    HS_EXPECT_EQ_STR(got[1], "down:7");
    HS_EXPECT_EQ_STR(cap.label, "merge=truncated");
}

HS_TEST(cut_native_stack_is_labelled)
{
    /* A native stack cut near the outermost eval frame (it fills max),
     * the first run finding where that frame is.  3.11+: one eval call
     * runs all three functions; the stack keeps it and two frames beyond,
     * so the three Python frames in its place overflow max and the
     * outermost native frames go.  3.10: one eval call per function; the
     * outermost is cut, so its Python frame follows the last native one.
     * Either way the sample says the stack was cut. */
    static const char code[] = "import probe\n"
                               "def a():\n"
                               "    probe.capture()\n"
                               "def b():\n"
                               "    a()\n"
                               "b()\n";
    cap = (capture_t){0};
    run_py(code);
    HS_ASSERT_GT_U64(cap.outer_eval, 0);
#if PY_VERSION_HEX >= 0x030b0000
    cap = (capture_t){.native_max = cap.outer_eval + 3};
#else
    cap = (capture_t){.native_max = cap.outer_eval};
#endif
    run_py(code);
    char got[8][300];
    unsigned k = symbolic_names(got, 8);
    HS_ASSERT_GE_U64(k, 2);
    HS_EXPECT_EQ_STR(got[0], "a:3");
    HS_EXPECT_EQ_STR(got[1], "b:5");
#if PY_VERSION_HEX >= 0x030b0000
    HS_ASSERT_GE_U64(k, 3);
    HS_EXPECT_EQ_STR(got[2], "<module>:6");
#endif
    HS_EXPECT_EQ_STR(cap.label, "merge=truncated");
}

/* ---- the location table against CPython's own reader ---- */

static PyObject *
get_code(PyObject *fn)
{
    return PyObject_GetAttrString(fn, "__code__");
}

static unsigned mismatches, compared;

#if PY_VERSION_HEX >= 0x030b0000
#define CODE_NAME(co) ((co)->co_qualname)
#define CODE_BYTES(co) (Py_SIZE(co) * 2) /* 2-byte code units */
#else
#define CODE_NAME(co) ((co)->co_name)
#define CODE_BYTES(co) PyBytes_GET_SIZE((co)->co_code)
#endif

static void
compare_code(PyCodeObject *co)
{
    Py_ssize_t nbytes = CODE_BYTES(co);
    for (int off = 0; off < nbytes; off += 2) {
        int want = PyCode_Addr2Line(co, off);
        unsigned got = py_code_line(co, off);
        compared++;
        if ((want < 0 ? 0u : (unsigned)want) != got && mismatches++ < 5)
            printf("  %s offset %d: line %u, CPython says %d\n",
                   PyUnicode_AsUTF8(CODE_NAME(co)), off, got, want);
    }
    /* Nested code objects (functions, comprehensions, classes). */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(co->co_consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(co->co_consts, i);
        if (PyCode_Check(c))
            compare_code((PyCodeObject *)c);
    }
}

HS_TEST(location_table_matches_cpython)
{
    static const char *const mods[] = {"json.decoder", "asyncio.base_events",
                                       "threading", "argparse", "dataclasses"};
    mismatches = compared = 0;
    for (unsigned m = 0; m < sizeof mods / sizeof mods[0]; m++) {
        PyObject *mod = PyImport_ImportModule(mods[m]);
        HS_ASSERT_NOT_NULL(mod);
        PyObject *dict = PyModule_GetDict(mod);
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(dict, &pos, &key, &value)) {
            PyObject *targets[2] = {value, NULL};
            if (PyType_Check(value)) {
                /* Methods of classes defined in the module. */
                PyObject *vals = PyObject_CallMethod(
                    PyObject_GetAttrString(value, "__dict__"), "values", NULL);
                PyObject *it = vals != NULL ? PyObject_GetIter(vals) : NULL;
                PyObject *v;
                while (it != NULL && (v = PyIter_Next(it)) != NULL) {
                    if (PyFunction_Check(v)) {
                        PyObject *co = get_code(v);
                        compare_code((PyCodeObject *)co);
                        Py_DECREF(co);
                    }
                    Py_DECREF(v);
                }
                Py_XDECREF(it);
                Py_XDECREF(vals);
                PyErr_Clear();
                continue;
            }
            if (PyFunction_Check(targets[0])) {
                PyObject *co = get_code(targets[0]);
                compare_code((PyCodeObject *)co);
                Py_DECREF(co);
            }
        }
        Py_DECREF(mod);
    }
    printf("  %u offsets compared\n", compared);
    HS_EXPECT_GT_U64(compared, 15000);
    HS_EXPECT_EQ_U64(mismatches, 0);
}

HS_TEST(location_table_edge_cases)
{
    /* Long form with a negative delta, a no-location entry, one-line
     * forms; offsets in bytes, two per code unit. */
    static const uint8_t t[] = {
        0x80 | (13 << 3) | 1,
        2 << 1, /* units 0-1: line 10+2 */
        0x80 | (11 << 3) | 0,
        0,
        0,                    /* unit 2: +1 -> 13 */
        0x80 | (15 << 3) | 0, /* unit 3: none */
        0x80 | (14 << 3) | 2,
        (3 << 1) | 1, /* units 4-6: -3 -> 10 */
        0,
        1,
        2, /* long form's three varints */
        0x80 | (5 << 3) | 0,
        7, /* unit 7: short, same line */
    };
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, 0), 12);
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, 2), 12);
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, 4), 13);
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, 6), 0);
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, 8), 10);
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, 12), 10);
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, 14), 10);
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, 16), 0);
    HS_EXPECT_EQ_U64(py_linetable_line(t, sizeof t, 10, -1), 10);
    /* A truncated table never reads past its end. */
    HS_EXPECT_EQ_U64(py_linetable_line(t, 1, 10, 0), 10);
}

HS_TEST(line_table_310_edge_cases)
{
    /* PEP 626 pairs: 4 bytes +2, 2 bytes no line, an empty range +1 then
     * 6 bytes +0 (the empty range's delta counts), 2 bytes -5. */
    static const uint8_t t[] = {4, 2, 2, 0x80, 0, 1, 6, 0, 2, (uint8_t)-5};
    HS_EXPECT_EQ_U64(py_linetable310_line(t, sizeof t, 10, 0), 12);
    HS_EXPECT_EQ_U64(py_linetable310_line(t, sizeof t, 10, 2), 12);
    HS_EXPECT_EQ_U64(py_linetable310_line(t, sizeof t, 10, 4), 0);
    HS_EXPECT_EQ_U64(py_linetable310_line(t, sizeof t, 10, 6), 13);
    HS_EXPECT_EQ_U64(py_linetable310_line(t, sizeof t, 10, 10), 13);
    HS_EXPECT_EQ_U64(py_linetable310_line(t, sizeof t, 10, 12), 8);
    HS_EXPECT_EQ_U64(py_linetable310_line(t, sizeof t, 10, 14), 0);
    HS_EXPECT_EQ_U64(py_linetable310_line(t, sizeof t, 10, -1), 10);
    HS_EXPECT_EQ_U64(py_linetable310_line(t, 1, 10, 0), 0);
}

HS_TEST(no_python_thread_state_leaves_the_stack_alone)
{
    hs_frame_t f[3] = {0x1234, 0x5678, 0x9abc};
    unsigned n = 3;
    PyThreadState *save = PyEval_SaveThread();
    /* Still this thread's state (the GIL is released, not the state). */
    py_hook_run(f, &n, 3, NULL);
    PyEval_RestoreThread(save);
    HS_EXPECT_EQ_U64(n, 3);
    HS_EXPECT_EQ_U64(f[0], 0x1234);
}

HS_TEST(hook_cost_is_printed)
{
    /* 20 Python frames over a few eval-loop calls; the time is printed
     * for docs/PYTHON.md, not checked. */
    run_py("import probe\n"
           "def rec(n):\n"
           "    if n == 0:\n"
           "        return probe.time_hook(20000)\n"
           "    return rec(n - 1)\n"
           "def via_c(n):\n"
           "    out = []\n"
           "    sorted([0], key=lambda _: out.append(rec(n)))\n"
           "    return out[0]\n"
           "print('  hook: %.0f ns per sample, 20 Python frames' % "
           "via_c(18))\n");
}

HS_TEST(hook_removes)
{
    HS_EXPECT_EQ_INT(py_hook_remove(), 0);
    HS_EXPECT_TRUE(added == NULL);
    HS_EXPECT_FALSE(py_hook_installed());
}

/* The reader set up from the layout table, as the library does it. */
static py_layout_t layout;

static bool
setup_reader(void)
{
    unsigned version = PY_MAJOR_VERSION << 8 | PY_MINOR_VERSION;
    bool derived;
    const char *why;
    if (py_layout_select(version, dlsym(RTLD_DEFAULT, "_PyRuntime"), &layout,
                         &derived, &why) == NULL) {
        fprintf(stderr, "py_embed: no layout for this CPython: %s\n", why);
        return false;
    }
    py_runtime_t rt = {
        .layout = &layout,
        .gilstate = (void *(*)(void))PyGILState_GetThisThreadState,
        .code_type = &PyCode_Type,
        .str_type = &PyUnicode_Type,
        .bytes_type = &PyBytes_Type,
    };
#if PY_VERSION_HEX >= 0x030d0000
    rt.current = (void *(*)(void))PyThreadState_GetUnchecked;
#elif PY_VERSION_HEX >= 0x030c0000
    *(void **)&rt.current = dlsym(RTLD_DEFAULT, "_PyThreadState_GetCurrent");
#endif
    py_frames_init(&rt);
    return true;
}

int
main(int argc, char **argv)
{
    if (PyImport_AppendInittab("probe", probe_init) != 0)
        return 2;
    Py_InitializeEx(0);
    if (!setup_reader())
        return 1;
    int rc = hs_test_run_all(argc, argv);
    Py_FinalizeEx();
    return rc;
}
