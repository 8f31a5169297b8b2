/*
 * attach.c — hs_python_attach and its helpers (see attach.h).
 *
 * The live check.  A layout is a set of offsets; if it is wrong, every
 * sample would read garbage.  So before the hook is added, the reader
 * reads the calling thread's frames with it, and the innermost complete
 * frame must be the Python function that called hs_python_attach (its
 * name and file are passed in).  That checks the thread state, the frame
 * chain, the code object, and the string layout in one go, on every
 * version, including one newer than the table whose layout was derived
 * from its debug offsets.
 */
#include "attach.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../alloc/util/fmt.h"
#include "../alloc/util/util.h"
#include "../backtrace_hooks/python/pyframes.h"
#include "../backtrace_hooks/python/pyhook.h"
#include "../include/heapsight_hook.h"
#include "../prof/dump.h"
#include "pyboot.h"
#include "pymem.h"

#define NOTE_KEY "python_frames"

static bool attached;  /* an attach has run (guarded by the GIL) */
static int attach_err; /* its result */
static char attach_why[256];
static py_layout_t layout;
static bool layout_derived;
static unsigned py_version; /* 0xMMmm */

/* ---- which interpreter ---- */

/* The running CPython's major.minor as 0xMMmm; 0 when there is none. */
static unsigned
detect_version(void)
{
    const unsigned long *hex = dlsym(RTLD_DEFAULT, "Py_Version");
    if (hex != NULL)
        return (unsigned)(*hex >> 16) & 0xffff;
    const char *(*get)(void) = NULL;
    *(void **)&get = dlsym(RTLD_DEFAULT, "Py_GetVersion");
    if (get == NULL)
        return 0;
    const char *v = get();
    char *end;
    unsigned long major = strtoul(v, &end, 10), minor = 0;
    if (*end == '.')
        minor = strtoul(end + 1, &end, 10);
    return major < 256 && minor < 256 ? (unsigned)(major << 8 | minor) : 0;
}

static void *
sym(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

/* The getter of the thread's attached state, where CPython exports one. */
static void *
current_getter(unsigned version)
{
    if (version >= 0x030d)
        return sym("PyThreadState_GetUnchecked");
    if (version == 0x030c)
        return sym("_PyThreadState_GetCurrent");
    return NULL;
}

/* Chooses the layout and points the reader at it; 0 or an errno value
 * with *r_why. */
static int
choose_layout(const char **r_why)
{
    py_version = detect_version();
    if (py_version == 0) {
        *r_why = "this process runs no CPython the library can see";
        return ENOENT;
    }
    if (py_version < 0x030a) {
        *r_why = "CPython before 3.10 is not supported (3.10 to 3.13 are)";
        return ENOTSUP;
    }
    const py_layout_t *l = py_layout_select(py_version, sym("_PyRuntime"),
                                            &layout, &layout_derived, r_why);
    if (l == NULL)
        return ENOTSUP;
    py_runtime_t rt = {.layout = &layout,
                       .code_type = sym("PyCode_Type"),
                       .str_type = sym("PyUnicode_Type"),
                       .bytes_type = sym("PyBytes_Type")};
    *(void **)&rt.gilstate = sym("PyGILState_GetThisThreadState");
    *(void **)&rt.current = current_getter(py_version);
    if (rt.gilstate == NULL || rt.code_type == NULL || rt.str_type == NULL ||
        rt.bytes_type == NULL) {
        *r_why = "CPython's PyGILState_GetThisThreadState or type objects "
                 "are not among the process's symbols";
        return ENOENT;
    }
    py_frames_init(&rt);
    return 0;
}

/* The live check (top of file); 0 or EPROTO with why written. */
static int
check_live(const char *func, const char *file, char *why, size_t size)
{
    py_raw_frame_t raw[8];
    bool complete;
    unsigned n = py_read_frames(raw, 8, &complete);
    unsigned i = 0;
    while (i < n && raw[i].incomplete)
        i++;
    char name[128] = "", path[512] = "";
    if (i < n)
        py_code_names(raw[i].code, name, sizeof name, path, sizeof path);
    if (i < n && strcmp(name, func) == 0 && strcmp(path, file) == 0)
        return 0;
    hs_snprintf(why, size,
                "the frame layout of CPython %u.%u failed its check on a live "
                "frame (read '%s' in '%s', expected '%s')",
                py_version >> 8, py_version & 0xff, i < n ? name : "nothing",
                path, func);
    return EPROTO;
}

static const py_hs_api_t hook_api = {
    .frame_symbolic = hs_frame_symbolic,
    .hook_add = hs_backtrace_hook_add,
    .hook_remove = hs_backtrace_hook_remove,
    .sample_label = hs_sample_label,
};

/* Whether this copy of the library is the process's (preloaded or
 * linked), rather than opened privately by the package.  dlsym with
 * RTLD_DEFAULT would search this library's own scope too and always find
 * itself; the main program's handle searches the global scope only. */
static bool
is_global(void)
{
    void *main_handle = dlopen(NULL, RTLD_LAZY | RTLD_NOLOAD);
    void *found =
        main_handle != NULL ? dlsym(main_handle, "hs_python_attach") : NULL;
    if (main_handle != NULL)
        dlclose(main_handle);
    return found == (void *)hs_python_attach;
}

static int
attach_frames(const char *func, const char *file, char *why, size_t size)
{
    const char *w = NULL;
    int err = choose_layout(&w);
    if (err == 0 && (err = check_live(func, file, why, size)) != 0)
        return err;
    if (err == 0 && (err = py_hook_install(&hook_api, &w)) != 0 && w == NULL)
        w = "the backtrace hook could not be added";
    if (err != 0)
        hs_snprintf(why, size, "%s", w);
    return err;
}

HS_API int
hs_python_attach(const char *func, const char *file, char *why, size_t why_size)
{
    if (!attached) {
        attached = true;
        attach_err =
            func != NULL && file != NULL
                ? attach_frames(func, file, attach_why, sizeof attach_why)
                : EINVAL;
        if (attach_err == EINVAL)
            hs_snprintf(attach_why, sizeof attach_why, "no caller given");
        const char *pw = NULL;
        bool pymem = pymem_wrap(is_global(), &pw) == 0;
        if (attach_err == 0) {
            char c[128];
            hs_snprintf(c, sizeof c, "python: CPython %u.%u, frames merged%s",
                        py_version >> 8, py_version & 0xff,
                        layout_derived ? " (layout from debug offsets)" : "");
            dump_note_set(c, NULL, NULL);
        } else {
            char c[400];
            hs_snprintf(c, sizeof c, "python: frames off: %s", attach_why);
            dump_note_set(c, NOTE_KEY, "off");
            hs_dprintf(STDERR_FILENO,
                       "heapsight: Python frames are off: %s; native stacks "
                       "%sgo on\n",
                       attach_why, pymem ? "and pymalloc sampling " : "");
        }
    }
    if (why != NULL && why_size > 0)
        hs_snprintf(why, why_size, "%s", attach_err == 0 ? "" : attach_why);
    return attach_err;
}

HS_API int
hs_python_detach(void)
{
    return py_hook_remove();
}

HS_API size_t
hs_python_info(char *buf, size_t size)
{
    py_hook_info_t in = {0};
    if (py_hook_installed())
        py_hook_get_info(&in);
    return hs_snprintf(
        buf, size,
        "python=%u.%u\nlayout=%s\nderived=%d\nhook=%d\nreason=%s\n"
        "eval=%lx-%lx\ncold=%lx-%lx\ntrimmed=%u\nsymtab=%s\npymem=%s\n"
        "wrapped=%d%d%d\nglobal=%d\n",
        py_version >> 8, py_version & 0xff, py_frames_version(), layout_derived,
        py_hook_installed(), attach_err ? attach_why : "",
        (unsigned long)in.eval_lo, (unsigned long)in.eval_hi,
        (unsigned long)in.cold_lo, (unsigned long)in.cold_hi, in.ntrim,
        in.symtab, pymem_mode(), pymem_wrapped(PYMEM_RAW),
        pymem_wrapped(PYMEM_MEM), pymem_wrapped(PYMEM_OBJ), is_global());
}

/* ---- a Python process that will never attach ---- */

bool
pyattach_flags_skip_site(char *const *argv, int argc, char *r_flag)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0)
            return false; /* the script, "-" or "--": options end */
        if (a[1] == '-') {
            if (strcmp(a, "--check-hash-based-pycs") == 0)
                i++;
            continue;
        }
        for (const char *c = a + 1; *c != '\0'; c++) {
            if (*c == 'I' || *c == 'E' || *c == 'S') {
                *r_flag = *c;
                return true;
            }
            if (*c == 'c' || *c == 'm')
                return false; /* the rest is the program's */
            if (*c == 'W' || *c == 'X') {
                if (c[1] == '\0')
                    i++; /* the argument is the next word */
                break;
            }
        }
    }
    return false;
}

/* Reads /proc/self/cmdline into buf, splits it into argv; argc or 0. */
static int
read_cmdline(char *buf, size_t size, char **argv, int max)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    int argc = 0;
    for (char *p = buf; p < buf + n && argc < max; p += strlen(p) + 1)
        argv[argc++] = p;
    return argc;
}

/*
 * Under heapsight run (HEAPSIGHT_PYTHON=1), in a python* process: the
 * audit hook attaches when the main program is about to run (pyboot.h),
 * whatever the interpreter's flags, and HEAPSIGHT_PYTHON_BOOT=audit tells
 * heapsight's sitecustomize it has nothing to do.  An interpreter without
 * audit hooks (before 3.8, Python 2) has only the sitecustomize: one whose
 * flags skip it says so at once.  Until it attaches, the process is noted
 * "frames off" in its profile (an interpreter that exits during start-up,
 * or fails to attach).
 */
__attribute__((constructor)) static void
pyattach_boot(void)
{
    const char *env = secure_getenv("HEAPSIGHT_PYTHON");
    if (env == NULL || strcmp(env, "1") != 0)
        return;
    char buf[4096], *argv[64];
    int argc = read_cmdline(buf, sizeof buf, argv, 64);
    const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
    base = base != NULL ? base + 1 : argc > 0 ? argv[0] : "";
    if (strncmp(base, "python", 6) != 0)
        return;
    char flag = 0, c[200];
    if (pyboot_install()) {
        setenv("HEAPSIGHT_PYTHON_BOOT", "audit", 1);
        hs_snprintf(c, sizeof c,
                    "heapsight's Python support was never attached to this "
                    "interpreter");
    } else if (pyattach_flags_skip_site(argv + 1, argc - 1, &flag)) {
        hs_snprintf(c, sizeof c,
                    "%s -%c skips heapsight's sitecustomize (PYTHONPATH or "
                    "site)",
                    base, flag);
        hs_dprintf(STDERR_FILENO,
                   "heapsight: Python frames are off: %s; native stacks go "
                   "on\n",
                   c);
    } else {
        hs_snprintf(c, sizeof c,
                    "heapsight's Python support was never attached to this "
                    "interpreter");
    }
    char note[256];
    hs_snprintf(note, sizeof note, "python: frames off: %s", c);
    dump_note_set(note, NOTE_KEY, "off");
}
