/*
 * pyboot.c — the audit-hook start (see pyboot.h).
 *
 * Why an audit hook: under `heapsight run` every Python process must
 * attach before its program runs.  A sitecustomize on PYTHONPATH does it
 * only when the interpreter reads PYTHONPATH and imports site (not with
 * -I, -E or -S), and costs the import of ctypes.  An audit hook, added
 * from the library's constructor before the interpreter starts, sees the
 * event CPython raises just before it runs the main program
 * ("cpython.run_command", "cpython.run_file", "cpython.run_module",
 * "cpython.run_stdin"), on the main thread, with the GIL held.
 *
 * What runs then, with the C API found by dlsym: two small Python
 * functions are defined in a fresh namespace (file "<heapsight>"): the
 * first only calls the builtin it is given, so that hs_python_attach can
 * check its layout on that function's own frame; the second labels the
 * main thread, removes the hook at interpreter exit (before thread states
 * are freed), wraps os._exit (the final dump first: prof.final) and has
 * threading name each thread it starts (at once if threading is imported,
 * else when it is).  Any failure there is said in one line; the program
 * runs on.
 */
#include "pyboot.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "../alloc/util/fmt.h"
#include "../alloc/util/util.h"
#include "../include/heapsight.h"
#include "../include/heapsight_hook.h"

/* The stable ABI's PyMethodDef and flags. */
typedef void *(*py_cfunc_t)(void *self, void *arg);
typedef struct py_method_def_s {
    const char *ml_name;
    py_cfunc_t ml_meth;
    int ml_flags;
    const char *ml_doc;
} py_method_def_t;

enum { PY_METH_O = 0x0008, PY_METH_NOARGS = 0x0004, PY_FILE_INPUT = 257 };

typedef int (*py_audit_hook_t)(const char *event, void *args, void *data);

/* The C API used, found once. */
static struct {
    int (*add_audit_hook)(py_audit_hook_t, void *);
    void *(*cfunction_new)(py_method_def_t *, void *, void *);
    void *(*compile)(const char *, const char *, int);
    void *(*eval_code)(void *, void *, void *);
    void *(*dict_new)(void);
    int (*dict_set)(void *, const char *, void *);
    void *(*dict_get)(void *, const char *);
    void *(*builtins)(void);
    void *(*call)(void *, ...);
    const char *(*as_utf8)(void *);
    void *(*from_long)(long);
    void *(*err_occurred)(void);
    void (*err_clear)(void);
    void (*incref)(void *);
    void (*decref)(void *);
    void *none;
} api;

static bool
find_api(void)
{
#define GET(field, name) (*(void **)&api.field = dlsym(RTLD_DEFAULT, name))
    GET(add_audit_hook, "PySys_AddAuditHook");
    GET(cfunction_new, "PyCFunction_NewEx");
    GET(compile, "Py_CompileString");
    GET(eval_code, "PyEval_EvalCode");
    GET(dict_new, "PyDict_New");
    GET(dict_set, "PyDict_SetItemString");
    GET(dict_get, "PyDict_GetItemString");
    GET(builtins, "PyEval_GetBuiltins");
    GET(call, "PyObject_CallFunctionObjArgs");
    GET(as_utf8, "PyUnicode_AsUTF8");
    GET(from_long, "PyLong_FromLong");
    GET(err_occurred, "PyErr_Occurred");
    GET(err_clear, "PyErr_Clear");
    GET(incref, "Py_IncRef");
    GET(decref, "Py_DecRef");
    GET(none, "_Py_NoneStruct");
#undef GET
    /* Every entry but the first (audit hooks, 3.8+) is needed to boot. */
    void *const *p = (void *const *)&api;
    for (size_t i = 1; i < sizeof api / sizeof(void *); i++)
        if (p[i] == NULL)
            return false;
    return true;
}

/* ---- the builtins the Python side calls ---- */

static void *
none(void)
{
    api.incref(api.none);
    return api.none;
}

static void *
native_attach(void *self, void *unused)
{
    (void)self, (void)unused;
    return api.from_long(
        hs_python_attach("_heapsight_attach", "<heapsight>", NULL, 0));
}

static void *
native_thread_name(void *self, void *name)
{
    (void)self;
    const char *s = api.as_utf8(name);
    if (s == NULL)
        return NULL;
    hs_ctl("thread.prof.name", NULL, NULL, &s, sizeof s);
    return none();
}

static void *
native_final(void *self, void *unused)
{
    (void)self, (void)unused;
    hs_ctl("prof.final", NULL, NULL, NULL, 0);
    return none();
}

static void *
native_detach(void *self, void *unused)
{
    (void)self, (void)unused;
    hs_python_detach();
    return none();
}

static py_method_def_t defs[] = {
    {"attach", native_attach, PY_METH_NOARGS, NULL},
    {"thread_name", native_thread_name, PY_METH_O, NULL},
    {"final", native_final, PY_METH_NOARGS, NULL},
    {"detach", native_detach, PY_METH_NOARGS, NULL},
};
enum { NDEFS = sizeof defs / sizeof defs[0] };

/* ---- the Python side ---- */

static const char boot_code[] =
    "def _heapsight_attach(attach):\n"
    "    return attach()\n"
    "\n"
    "def _heapsight_setup(thread_name, final, detach):\n"
    "    import atexit, os, sys\n"
    "    atexit.register(detach)\n"
    "    thread_name('MainThread')\n"
    "    real_exit = os._exit\n"
    "    def _exit(status):\n"
    "        final()\n"
    "        real_exit(status)\n"
    "    _exit.__doc__ = real_exit.__doc__\n"
    "    os._exit = _exit\n"
    "    def name_thread(frame, event, arg):\n"
    "        sys.setprofile(None)\n"
    "        t = sys.modules.get('threading')\n"
    "        if t is not None:\n"
    "            thread_name(t.current_thread().name)\n"
    "    def hook(threading):\n"
    "        if getattr(threading, '_profile_hook', None) is None:\n"
    "            threading.setprofile(name_thread)\n"
    "    if 'threading' in sys.modules:\n"
    "        hook(sys.modules['threading'])\n"
    "        return\n"
    "    class Loader:\n"
    "        def __init__(self, loader):\n"
    "            self.loader = loader\n"
    "        def __getattr__(self, name):\n"
    "            return getattr(self.loader, name)\n"
    "        def create_module(self, spec):\n"
    "            return self.loader.create_module(spec)\n"
    "        def exec_module(self, module):\n"
    "            self.loader.exec_module(module)\n"
    "            hook(module)\n"
    "    class Finder:\n"
    "        def find_spec(self, name, path=None, target=None):\n"
    "            if name != 'threading':\n"
    "                return None\n"
    "            sys.meta_path.remove(self)\n"
    "            for f in sys.meta_path:\n"
    "                find = getattr(f, 'find_spec', None)\n"
    "                spec = find(name, path, target) if find else None\n"
    "                if spec is not None and spec.loader is not None:\n"
    "                    spec.loader = Loader(spec.loader)\n"
    "                    return spec\n"
    "            return None\n"
    "    sys.meta_path.insert(0, Finder())\n";

/* Calls globals[name](args...) (up to three, NULL-terminated) and returns
 * the result (new reference), or NULL with the error cleared. */
static void *
call(void *globals, const char *name, void *a, void *b, void *c)
{
    void *fn = api.dict_get(globals, name);
    void *r = fn != NULL ? api.call(fn, a, b, c, NULL) : NULL;
    if (r == NULL && api.err_occurred() != NULL)
        api.err_clear();
    return r;
}

static void
boot(void)
{
    void *g = api.dict_new();
    void *fn[NDEFS] = {NULL};
    bool ok = g != NULL && api.dict_set(g, "__builtins__", api.builtins()) == 0;
    for (unsigned i = 0; ok && i < NDEFS; i++)
        ok = (fn[i] = api.cfunction_new(&defs[i], NULL, NULL)) != NULL;
    void *co = ok ? api.compile(boot_code, "<heapsight>", PY_FILE_INPUT) : NULL;
    void *r = co != NULL ? api.eval_code(co, g, g) : NULL;
    if (r == NULL && api.err_occurred() != NULL)
        api.err_clear();
    void *attached =
        r != NULL ? call(g, "_heapsight_attach", fn[0], NULL, NULL) : NULL;
    void *set = attached != NULL
                    ? call(g, "_heapsight_setup", fn[1], fn[2], fn[3])
                    : NULL;
    if (attached == NULL || set == NULL)
        hs_dprintf(STDERR_FILENO,
                   "heapsight: the Python start-up hook failed (%s); the "
                   "program runs on with native stacks\n",
                   attached == NULL ? "attaching" : "thread names, os._exit");
    void *objs[] = {set, attached, r, co, fn[0], fn[1], fn[2], fn[3], g};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        if (objs[i] != NULL)
            api.decref(objs[i]);
}

static bool booted; /* guarded by the GIL */

static int
audit_hook(const char *event, void *args, void *data)
{
    (void)args, (void)data;
    if (!booted && strncmp(event, "cpython.run_", 12) == 0 &&
        strcmp(event, "cpython.run_interactivehook") != 0 &&
        strcmp(event, "cpython.run_startup") != 0) {
        booted = true;
        boot();
    }
    return 0;
}

bool
pyboot_install(void)
{
    return find_api() && api.add_audit_hook != NULL &&
           api.add_audit_hook(audit_hook, NULL) == 0;
}

HS_API int
hs_python_boot(void)
{
    if (!booted) {
        booted = true;
        if (find_api())
            boot();
        else
            hs_dprintf(STDERR_FILENO,
                       "heapsight: the Python start-up hook failed (this "
                       "interpreter lacks part of the C API); the program "
                       "runs on with native stacks\n");
    }
    return hs_python_attach(NULL, NULL, NULL, 0);
}
