/*
 * _heapsight.c — the C half of the `heapsight` Python package.
 *
 * Owns: finding heapsight's API in the process (preloaded: the global
 * symbols; not preloaded: a private dlopen of libheapsight.so, which then
 * profiles only what is reported to it), the Python backtrace hook's
 * installation (backtrace_hooks/python/pyhook.h), the PyMem domain
 * wrappers, and thin calls onto hs_ctl for the Python side.
 *
 * The PyMem wrappers.  pymalloc serves requests of up to 512 bytes from
 * its own arenas and passes bigger ones to the raw domain, which is
 * malloc.  Preloaded over plain pymalloc, heapsight already samples
 * malloc, so the object and mem domains get the fast wrappers (below):
 * they count down what pymalloc itself serves (size <= 512) and have
 * heapsight's malloc serve the crossing request as a sampled block of
 * domain "pymalloc"; the raw domain is not wrapped: nothing is counted
 * twice.  Preloaded over pymalloc with debug hooks or someone else's
 * wrappers, the event wrappers below report what pymalloc serves.  Not
 * preloaded, malloc is the C library's, so every request of every domain is
 * reported: "pymalloc" for the object and mem domains, "pymem_raw" for the raw
 * domain.  When the object and mem domains are malloc themselves
 * (PYTHONMALLOC=malloc), there is no pymalloc: preloaded, nothing is wrapped;
 * not preloaded, all three domains are reported as "pymem_raw".  A wrapper
 * calls the allocator it replaced, then hs_prof_alloc_event (a countdown
 * between samples); frees report hs_prof_free_event (a flag test unless a
 * sampled object is live); a realloc is a free and an allocation.  The wrappers
 * stay installed once installed (stop() only makes sampling idle): memory
 * allocated through them must be freed through them for sampled objects
 * to leave the profile.
 *
 * Threading: every function here is called with the GIL held; the
 * wrappers run wherever Python allocates (the raw domain without the
 * GIL).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>

#include "../backtrace_hooks/python/pyframes.h"
#include "../backtrace_hooks/python/pyhook.h"

/* pymalloc's SMALL_REQUEST_THRESHOLD (Objects/obmalloc.c). */
#define PYMALLOC_MAX 512

typedef struct hs_fns_s {
    py_hs_api_t hook;
    unsigned (*prof_domain)(const char *);
    void (*alloc_event)(void *, size_t, unsigned);
    void (*free_event)(void *, unsigned);
    uint64_t (*foreign_gap)(void);
    void *(*malloc_sampled)(size_t, unsigned);
    int (*ctl)(const char *, void *, size_t *, void *, size_t);
    int (*dump_hook_add)(void (*)(const char *, void *), void *);
} hs_fns_t;

static hs_fns_t fns;
static bool have_fns;
static bool preloaded;
static char last_dump[4096];

/* ---- finding heapsight ---- */

static bool
resolve(void *h)
{
    hs_fns_t f;
#define GET(field, name)                                                       \
    do {                                                                       \
        *(void **)(&f.field) = dlsym(h, name);                                 \
        if (f.field == NULL)                                                   \
            return false;                                                      \
    } while (0)
    GET(hook.frame_symbolic, "hs_frame_symbolic");
    GET(hook.hook_add, "hs_backtrace_hook_add");
    GET(hook.hook_remove, "hs_backtrace_hook_remove");
    GET(hook.sample_label, "hs_sample_label");
    GET(prof_domain, "hs_prof_domain");
    GET(alloc_event, "hs_prof_alloc_event");
    GET(free_event, "hs_prof_free_event");
    GET(foreign_gap, "hs_prof_foreign_gap");
    GET(malloc_sampled, "hs_prof_malloc_sampled");
    GET(ctl, "hs_ctl");
    GET(dump_hook_add, "hs_dump_hook_add");
#undef GET
    fns = f;
    have_fns = true;
    return true;
}

static void
on_dump(const char *path, void *arg)
{
    (void)arg;
    snprintf(last_dump, sizeof last_dump, "%s", path);
}

static PyObject *
mod_preloaded(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    return PyBool_FromLong(preloaded);
}

static PyObject *
mod_available(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    return PyBool_FromLong(have_fns);
}

/* load(path): opens libheapsight.so privately (not preloaded). */
static PyObject *
mod_load(PyObject *self, PyObject *args)
{
    (void)self;
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    if (have_fns)
        Py_RETURN_NONE;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        PyErr_Format(PyExc_OSError, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    if (!resolve(h)) {
        PyErr_Format(PyExc_OSError, "%s is not a heapsight library", path);
        return NULL;
    }
    fns.dump_hook_add(on_dump, NULL);
    Py_RETURN_NONE;
}

static bool
need_fns(void)
{
    if (have_fns)
        return true;
    PyErr_SetString(PyExc_RuntimeError,
                    "heapsight: the library is not loaded (call "
                    "heapsight.start() first)");
    return false;
}

/* ---- hs_ctl ---- */

static PyObject *
ctl_error(const char *name, int err)
{
    if (err == ENOENT)
        return PyErr_Format(PyExc_RuntimeError,
                            "heapsight: %s is not available (is the profiler "
                            "on? HEAPSIGHT=prof:true)",
                            name);
    errno = err;
    return PyErr_Format(PyExc_OSError, "heapsight: %s: %s", name,
                        strerror(err));
}

static PyObject *
mod_ctl_get_bool(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name) || !need_fns())
        return NULL;
    bool v = false;
    size_t len = sizeof v;
    int err = fns.ctl(name, &v, &len, NULL, 0);
    if (err != 0)
        return ctl_error(name, err);
    return PyBool_FromLong(v);
}

static PyObject *
mod_ctl_set_bool(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    int v;
    if (!PyArg_ParseTuple(args, "sp", &name, &v) || !need_fns())
        return NULL;
    bool b = v;
    int err = fns.ctl(name, NULL, NULL, &b, sizeof b);
    if (err != 0)
        return ctl_error(name, err);
    Py_RETURN_NONE;
}

static PyObject *
mod_ctl_get_size(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name) || !need_fns())
        return NULL;
    size_t v = 0, len = sizeof v;
    int err = fns.ctl(name, &v, &len, NULL, 0);
    if (err != 0)
        return ctl_error(name, err);
    return PyLong_FromSize_t(v);
}

/* reset(sample or 0): prof.reset, with a new interval when not 0. */
static PyObject *
mod_reset(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned long long sample;
    if (!PyArg_ParseTuple(args, "K", &sample) || !need_fns())
        return NULL;
    size_t s = (size_t)sample;
    int err = sample != 0 ? fns.ctl("prof.reset", NULL, NULL, &s, sizeof s)
                          : fns.ctl("prof.reset", NULL, NULL, NULL, 0);
    if (err != 0)
        return ctl_error("prof.reset", err);
    Py_RETURN_NONE;
}

/* dump(path or None) -> the path written. */
static PyObject *
mod_dump(PyObject *self, PyObject *args)
{
    (void)self;
    const char *path = NULL;
    if (!PyArg_ParseTuple(args, "|z", &path) || !need_fns())
        return NULL;
    last_dump[0] = '\0';
    int err;
    Py_BEGIN_ALLOW_THREADS;
    err = fns.ctl("prof.dump", NULL, NULL, &path, sizeof path);
    Py_END_ALLOW_THREADS;
    if (err != 0)
        return ctl_error("prof.dump", err);
    if (path != NULL)
        return PyUnicode_DecodeFSDefault(path);
    if (last_dump[0] == '\0')
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(last_dump);
}

/* ---- the hook ---- */

/* The executable segment of this module: its frames (the wrappers) are
 * trimmed from the top of stacks. */
static int
self_text_cb(struct dl_phdr_info *di, size_t size, void *arg)
{
    (void)size;
    uintptr_t probe = *(uintptr_t *)arg;
    for (int i = 0; i < di->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &di->dlpi_phdr[i];
        uintptr_t lo = di->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && probe >= lo &&
            probe < lo + ph->p_memsz) {
            py_hook_trim(lo, lo + ph->p_memsz);
            return 1;
        }
    }
    return 0;
}

static PyObject *
mod_install_hook(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    if (!need_fns())
        return NULL;
    uintptr_t probe = (uintptr_t)self_text_cb;
    dl_iterate_phdr(self_text_cb, &probe);
    const char *why;
    int err = py_hook_install(&fns.hook, &why);
    if (err != 0)
        return PyErr_Format(PyExc_RuntimeError, "heapsight: %s", why);
    Py_RETURN_NONE;
}

static PyObject *
mod_remove_hook(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    py_hook_remove();
    Py_RETURN_NONE;
}

static PyObject *
mod_hook_info(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    py_hook_info_t in;
    py_hook_get_info(&in);
    return Py_BuildValue("{s:O,s:K,s:K,s:K,s:K,s:I,s:s,s:s}", "installed",
                         py_hook_installed() ? Py_True : Py_False, "eval_lo",
                         (unsigned long long)in.eval_lo, "eval_hi",
                         (unsigned long long)in.eval_hi, "cold_lo",
                         (unsigned long long)in.cold_lo, "cold_hi",
                         (unsigned long long)in.cold_hi, "trimmed", in.ntrim,
                         "symtab", in.symtab, "python", py_frames_version);
}

/* ---- the PyMem wrappers ---- */

typedef struct wrap_s {
    PyMemAllocatorEx old;
    unsigned domain;
    bool all_sizes; /* report every size (else only pymalloc's own) */
} wrap_t;

static wrap_t wraps[3];
static bool wrapped[3];

static inline bool
reportable(const wrap_t *w, size_t size)
{
    return w->all_sizes || size <= PYMALLOC_MAX;
}

static void *
w_malloc(void *ctx, size_t size)
{
    wrap_t *w = ctx;
    void *p = w->old.malloc(w->old.ctx, size);
    if (p != NULL && reportable(w, size))
        fns.alloc_event(p, size, w->domain);
    return p;
}

static void *
w_calloc(void *ctx, size_t n, size_t elsize)
{
    wrap_t *w = ctx;
    void *p = w->old.calloc(w->old.ctx, n, elsize);
    if (p != NULL && reportable(w, n * elsize))
        fns.alloc_event(p, n * elsize, w->domain);
    return p;
}

static void *
w_realloc(void *ctx, void *old, size_t size)
{
    wrap_t *w = ctx;
    void *p = w->old.realloc(w->old.ctx, old, size);
    if (p == NULL && size != 0)
        return NULL;
    if (old != NULL)
        fns.free_event(old, w->domain);
    if (p != NULL && reportable(w, size))
        fns.alloc_event(p, size, w->domain);
    return p;
}

static void
w_free(void *ctx, void *p)
{
    wrap_t *w = ctx;
    if (p != NULL)
        fns.free_event(p, w->domain);
    w->old.free(w->old.ctx, p);
}

static void
wrap_domain(PyMemAllocatorDomain d, const char *label, bool all_sizes)
{
    if (wrapped[d])
        return;
    wrap_t *w = &wraps[d];
    PyMem_GetAllocator(d, &w->old);
    w->domain = fns.prof_domain(label);
    w->all_sizes = all_sizes;
    PyMemAllocatorEx a = {w, w_malloc, w_calloc, w_realloc, w_free};
    PyMem_SetAllocator(d, &a);
    wrapped[d] = true;
}

/* ---- the fast wrappers: preloaded, over pymalloc ---- */

/*
 * The countdown lives here, in initial-exec TLS (8 bytes of the static
 * TLS surplus glibc keeps for modules loaded later): between samples an
 * allocation costs a subtraction and a branch on top of pymalloc.  The
 * allocation that crosses the sample point is served by heapsight's
 * malloc (hs_prof_malloc_sampled) instead of pymalloc; pymalloc's free
 * and realloc pass pointers outside its arenas to the raw domain, which
 * is heapsight, which knows the block is sampled.  So free is pymalloc's
 * own, unwrapped, and ctx is pymalloc's: the wrappers keep their state in
 * statics, one set per domain.  A realloc counts as an allocation of its
 * new size (as heapsight's own realloc does); one that crosses the sample
 * point is done by pymalloc first, then moved into a sampled block (its
 * new size is known to hold the contents), so the old size, which only
 * pymalloc knows, is never needed.
 */
static PyMemAllocatorEx fast_old[3];
static unsigned fast_domain;
static __thread __attribute__((tls_model("initial-exec"))) int64_t fast_left;
static __thread __attribute__((tls_model("initial-exec"))) bool fast_armed;

static int64_t
fast_gap(void)
{
    uint64_t g = fns.foreign_gap();
    return g > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)g;
}

/* The countdown ran out at an allocation of size bytes: whether it is
 * sampled (an unarmed thread starts its first gap here instead). */
static bool
fast_crossed(size_t size)
{
    if (!fast_armed) {
        fast_armed = true;
        fast_left = fast_gap() - (int64_t)size;
        if (fast_left > 0)
            return false;
    }
    fast_left = fast_gap();
    return true;
}

/* The wrappers' fast path is a countdown and a tail call: built without a
 * frame-pointer frame (the CFI unwinder does not need one), it costs two
 * loads, a subtraction and a jump.  Crossing the sample point goes to the
 * out-of-line slow_* functions. */
#define HS_FRAMELESS __attribute__((optimize("omit-frame-pointer")))

static inline bool
fast_take(size_t size)
{
    int64_t left = fast_left - (int64_t)size;
    fast_left = left;
    return __builtin_expect(left <= 0, 0);
}

static void *
fast_sampled(size_t size, bool zero)
{
    void *p = fns.malloc_sampled(size, fast_domain);
    if (p != NULL && zero)
        memset(p, 0, size);
    return p;
}

/* A realloc that crossed the sample point: pymalloc resizes, then the
 * block moves into a sampled one (its new size bytes are the contents). */
static void *
fast_moved(const PyMemAllocatorEx *old, void *ctx, void *p, size_t size)
{
    void *q = old->realloc(ctx, p, size);
    if (q == NULL)
        return NULL;
    void *s = fns.malloc_sampled(size, fast_domain);
    if (s == NULL)
        return q;
    memcpy(s, q, size);
    old->free(ctx, q);
    return s;
}

/* size bytes took the countdown to zero or below (size <= PYMALLOC_MAX). */
#define FAST_WRAPPERS(dom, D)                                                  \
    static __attribute__((noinline)) void *slow_malloc_##dom(void *ctx,        \
                                                             size_t size)      \
    {                                                                          \
        if (fast_crossed(size))                                                \
            return fast_sampled(size, false);                                  \
        return fast_old[D].malloc(ctx, size);                                  \
    }                                                                          \
    static __attribute__((noinline)) void *slow_calloc_##dom(                  \
        void *ctx, size_t n, size_t elsize, size_t size)                       \
    {                                                                          \
        if (fast_crossed(size))                                                \
            return fast_sampled(size, true);                                   \
        return fast_old[D].calloc(ctx, n, elsize);                             \
    }                                                                          \
    static __attribute__((noinline)) void *slow_realloc_##dom(                 \
        void *ctx, void *p, size_t size)                                       \
    {                                                                          \
        if (fast_crossed(size))                                                \
            return fast_moved(&fast_old[D], ctx, p, size);                     \
        return fast_old[D].realloc(ctx, p, size);                              \
    }                                                                          \
    static HS_FRAMELESS void *fast_malloc_##dom(void *ctx, size_t size)        \
    {                                                                          \
        if (size <= PYMALLOC_MAX && fast_take(size))                           \
            return slow_malloc_##dom(ctx, size);                               \
        return fast_old[D].malloc(ctx, size);                                  \
    }                                                                          \
    static HS_FRAMELESS void *fast_calloc_##dom(void *ctx, size_t n,           \
                                                size_t elsize)                 \
    {                                                                          \
        size_t size;                                                           \
        if (!__builtin_mul_overflow(n, elsize, &size) &&                       \
            size <= PYMALLOC_MAX && fast_take(size))                           \
            return slow_calloc_##dom(ctx, n, elsize, size);                    \
        return fast_old[D].calloc(ctx, n, elsize);                             \
    }                                                                          \
    static HS_FRAMELESS void *fast_realloc_##dom(void *ctx, void *p,           \
                                                 size_t size)                  \
    {                                                                          \
        if (size - 1 < PYMALLOC_MAX && fast_take(size))                        \
            return slow_realloc_##dom(ctx, p, size);                           \
        return fast_old[D].realloc(ctx, p, size);                              \
    }
FAST_WRAPPERS(obj, PYMEM_DOMAIN_OBJ)
FAST_WRAPPERS(mem, PYMEM_DOMAIN_MEM)

static void
fast_wrap(PyMemAllocatorDomain d, void *(*m)(void *, size_t),
          void *(*c)(void *, size_t, size_t),
          void *(*r)(void *, void *, size_t))
{
    PyMem_GetAllocator(d, &fast_old[d]);
    PyMemAllocatorEx a = {fast_old[d].ctx, m, c, r, fast_old[d].free};
    PyMem_SetAllocator(d, &a);
    wrapped[d] = true;
}

/* Whether the object and mem domains end in malloc rather than pymalloc
 * (PYTHONMALLOC=malloc or malloc_debug), asked before wrapping: CPython
 * names its own allocators, and anything else (NULL) is taken as
 * pymalloc under someone's hooks. */
static bool
domains_are_malloc(void)
{
    const char *name = _PyMem_GetCurrentAllocatorName();
    return name != NULL && strncmp(name, "malloc", 6) == 0;
}

/* Plain pymalloc (no debug hooks, no other wrapper): the fast wrappers
 * may rely on its free passing foreign pointers to the raw domain. */
static bool
domains_are_pymalloc(void)
{
    const char *name = _PyMem_GetCurrentAllocatorName();
    return name != NULL && strcmp(name, "pymalloc") == 0;
}

/* wrap_pymem(): wraps the domains as the header comment says. */
static PyObject *
mod_wrap_pymem(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    if (!need_fns())
        return NULL;
    if (wrapped[PYMEM_DOMAIN_OBJ] || wrapped[PYMEM_DOMAIN_MEM] ||
        wrapped[PYMEM_DOMAIN_RAW])
        Py_RETURN_NONE;
    if (domains_are_malloc()) {
        /* Every domain is malloc: preloaded, heapsight samples it already;
         * else report it all, as the raw domain. */
        if (!preloaded) {
            wrap_domain(PYMEM_DOMAIN_OBJ, "pymem_raw", true);
            wrap_domain(PYMEM_DOMAIN_MEM, "pymem_raw", true);
            wrap_domain(PYMEM_DOMAIN_RAW, "pymem_raw", true);
        }
        Py_RETURN_NONE;
    }
    if (preloaded && domains_are_pymalloc()) {
        fast_domain = fns.prof_domain("pymalloc");
        fast_wrap(PYMEM_DOMAIN_OBJ, fast_malloc_obj, fast_calloc_obj,
                  fast_realloc_obj);
        fast_wrap(PYMEM_DOMAIN_MEM, fast_malloc_mem, fast_calloc_mem,
                  fast_realloc_mem);
        Py_RETURN_NONE;
    }
    wrap_domain(PYMEM_DOMAIN_OBJ, "pymalloc", !preloaded);
    wrap_domain(PYMEM_DOMAIN_MEM, "pymalloc", !preloaded);
    if (!preloaded)
        wrap_domain(PYMEM_DOMAIN_RAW, "pymem_raw", true);
    Py_RETURN_NONE;
}

static PyObject *
mod_pymem_wrapped(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    return Py_BuildValue("(OOO)",
                         wrapped[PYMEM_DOMAIN_RAW] ? Py_True : Py_False,
                         wrapped[PYMEM_DOMAIN_MEM] ? Py_True : Py_False,
                         wrapped[PYMEM_DOMAIN_OBJ] ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"preloaded", mod_preloaded, METH_NOARGS,
     "True when libheapsight.so is the process's malloc (preloaded)."},
    {"available", mod_available, METH_NOARGS,
     "True when heapsight's API has been found (preloaded or loaded)."},
    {"load", mod_load, METH_VARARGS,
     "load(path): open libheapsight.so privately (not preloaded)."},
    {"ctl_get_bool", mod_ctl_get_bool, METH_VARARGS, "hs_ctl read, bool."},
    {"ctl_set_bool", mod_ctl_set_bool, METH_VARARGS, "hs_ctl write, bool."},
    {"ctl_get_size", mod_ctl_get_size, METH_VARARGS, "hs_ctl read, size_t."},
    {"reset", mod_reset, METH_VARARGS,
     "reset(sample): prof.reset; a new interval when sample is not 0."},
    {"dump", mod_dump, METH_VARARGS,
     "dump(path=None): write a profile now; returns its path."},
    {"install_hook", mod_install_hook, METH_NOARGS,
     "Add the Python backtrace hook."},
    {"remove_hook", mod_remove_hook, METH_NOARGS,
     "Remove the Python backtrace hook."},
    {"hook_info", mod_hook_info, METH_NOARGS,
     "What the hook found: eval loop ranges, symbol table used."},
    {"wrap_pymem", mod_wrap_pymem, METH_NOARGS,
     "Wrap the PyMem domains so their allocations are sampled."},
    {"pymem_wrapped", mod_pymem_wrapped, METH_NOARGS,
     "(raw, mem, obj): which domains are wrapped."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_heapsight",
    .m_doc = "heapsight's C half: the Python frame hook and the PyMem "
             "wrappers.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__heapsight(void)
{
    /* Preloaded (or linked): the API is among the global symbols. */
    if (!have_fns && resolve(RTLD_DEFAULT)) {
        preloaded = true;
        fns.dump_hook_add(on_dump, NULL);
    }
    return PyModule_Create(&module);
}
