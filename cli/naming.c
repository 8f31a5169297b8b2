/*
 * naming.c — the row-naming rule and its built-in lists (see naming.h).
 *
 * Functions are recognized by name alone: a frame's function as the
 * profile or the symbolizer gives it, compared up to its argument list or
 * a compiler clone's suffix ("xmalloc(unsigned long)", "xmalloc.part.0"
 * are xmalloc).  The exact lists (docs/PROFILING.md repeats them):
 *   allocators   naming_allocators[], alone or after one of
 *                naming_alias_prefixes[] (__libc_malloc), names beginning
 *                with one of naming_allocator_prefixes[], operator new
 *                and new[] (demangled or _Znw/_Zna), and the C++
 *                standard library's allocators and internals
 *                (naming_cxx_internal);
 *   wrappers     naming_wrappers[].
 * Both lists are sorted once, on first use, for bsearch.
 *
 * Threading: none (the sort on first use and naming_cmdline's options
 * are the process's; the CLI is single-threaded).
 */
#include "naming.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the lists ---- */

/* Allocator and runtime entry points: C, the C library's internals,
 * other malloc implementations' public names, CPython's allocators and
 * generic object allocation (the *_New and *_Resize of its types stay:
 * they say what kind of object grew). */
static const char *naming_allocators[] = {
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "free",
    "cfree",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "pvalloc",
    "strdup",
    "strndup",
    "wcsdup",
    "__strdup",
    "__strndup",
    "asprintf",
    "vasprintf",
    "__asprintf",
    "__vasprintf",
    "__vasprintf_internal",
    "_int_malloc",
    "_int_realloc",
    "_int_memalign",
    "tcache_init",
    "mallocx",
    "rallocx",
    "je_malloc",
    "je_calloc",
    "je_realloc",
    "tc_malloc",
    "tc_calloc",
    "tc_realloc",
    "tc_new",
    "tc_newarray",
    "mi_malloc",
    "mi_calloc",
    "mi_realloc",
    "mi_zalloc",
    "mi_strdup",
    "PyObject_Malloc",
    "PyObject_Calloc",
    "PyObject_Realloc",
    "_PyObject_Malloc",
    "_PyObject_Calloc",
    "_PyObject_Realloc",
    "_PyObject_MallocWithType",
    "_PyObject_New",
    "_PyObject_NewVar",
    "PyObject_Init",
    "PyObject_InitVar",
    "PyType_GenericAlloc",
    "_PyType_AllocNoTrack",
    "gc_alloc",
    "_PyObject_VirtualAlloc",
    "_PyObject_ArenaMmap",
    "_PyObject_ArenaMalloc",
    "new_arena",
    "allocate_from_new_pool",
};

/* Prefixes of allocator names: heapsight's own entry points, CPython's
 * memory interfaces. */
static const char *const naming_allocator_prefixes[] = {
    "hs_", "PyMem_", "_PyMem_", "pymalloc_", "PyObject_GC_", "_PyObject_GC_",
};

/* Prefixes of another name for a listed allocator: the C library's own
 * (__libc_malloc), sanitizers' interceptors, the linker's --wrap. */
static const char *const naming_alias_prefixes[] = {
    "__libc_",
    "__interceptor_",
    "__wrap_",
    "__real_",
};

/* Functions that programs and libraries wrap malloc in. */
static const char *naming_wrappers[] = {
    /* GNU programs (gnulib's xalloc), git, GCC's libiberty */
    "xmalloc",
    "xcalloc",
    "xrealloc",
    "xreallocarray",
    "xstrdup",
    "xstrndup",
    "xmemdup",
    "xmemdupz",
    "xmallocz",
    "xmallocz_gently",
    "do_xmalloc",
    "xzalloc",
    "xnmalloc",
    "xnrealloc",
    "x2nrealloc",
    "xcharalloc",
    "xstrdup_or_null",
    /* PHP, Perl, Ruby, Redis, Lua */
    "emalloc",
    "ecalloc",
    "erealloc",
    "estrdup",
    "_emalloc",
    "_ecalloc",
    "_erealloc",
    "_estrdup",
    "_estrndup",
    "_safe_emalloc",
    "safe_emalloc",
    "Perl_safesysmalloc",
    "Perl_safesyscalloc",
    "Perl_safesysrealloc",
    "ruby_xmalloc",
    "ruby_xmalloc2",
    "ruby_xcalloc",
    "ruby_xrealloc",
    "ruby_xrealloc2",
    "zmalloc",
    "zcalloc",
    "zrealloc",
    "zstrdup",
    "ztrymalloc",
    "ztrycalloc",
    "ztryrealloc",
    "luaM_malloc_",
    "luaM_realloc_",
    "luaM_growaux_",
    "l_alloc",
    /* common names */
    "safe_malloc",
    "safe_calloc",
    "safe_realloc",
    "safe_strdup",
    "checked_malloc",
    "checked_calloc",
    "checked_realloc",
    /* GLib */
    "g_malloc",
    "g_malloc0",
    "g_malloc_n",
    "g_malloc0_n",
    "g_realloc",
    "g_realloc_n",
    "g_try_malloc",
    "g_try_malloc0",
    "g_try_malloc_n",
    "g_try_realloc",
    "g_strdup",
    "g_strndup",
    "g_memdup",
    "g_memdup2",
    "g_slice_alloc",
    "g_slice_alloc0",
    /* SQLite */
    "sqlite3Malloc",
    "sqlite3MallocZero",
    "sqlite3DbMallocRaw",
    "sqlite3DbMallocRawNN",
    "sqlite3DbMallocZero",
    "sqlite3DbRealloc",
    "sqlite3DbReallocOrFree",
    "sqlite3Realloc",
    "sqlite3DbStrDup",
    "sqlite3DbStrNDup",
    "sqlite3_malloc",
    "sqlite3_malloc64",
    "sqlite3_realloc",
    "sqlite3_realloc64",
    "sqlite3MemMalloc",
    "sqlite3MemRealloc",
    "mallocWithAlarm",
    "dbMallocRawFinish",
    "dbReallocFinish",
    /* OpenSSL, FFmpeg */
    "CRYPTO_malloc",
    "CRYPTO_zalloc",
    "CRYPTO_realloc",
    "CRYPTO_strdup",
    "CRYPTO_strndup",
    "CRYPTO_memdup",
    "av_malloc",
    "av_mallocz",
    "av_realloc",
    "av_strdup",
};

#define NAMING_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int
naming_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether func, up to its argument list or clone suffix, is in the
 * sorted list (n names). */
static bool
naming_listed(const char *func, const char **list, size_t n)
{
    char base[128];
    size_t len = strcspn(func, "(.");
    if (len == 0 || len >= sizeof base)
        return false;
    memcpy(base, func, len);
    base[len] = '\0';
    const char *key = base;
    return bsearch(&key, list, n, sizeof(char *), naming_cmp) != NULL;
}

static void
naming_sort_lists(void)
{
    static bool sorted;
    if (sorted)
        return;
    qsort(naming_allocators, NAMING_COUNT(naming_allocators), sizeof(char *),
          naming_cmp);
    qsort(naming_wrappers, NAMING_COUNT(naming_wrappers), sizeof(char *),
          naming_cmp);
    sorted = true;
}

/* ---- C++ ---- */

/* Whether fn is operator new or new[] (demangled, or mangled _Znw/_Zna
 * when the symbolizer could not demangle it). */
static bool
naming_operator_new(const char *fn)
{
    if (strncmp(fn, "_Znw", 4) == 0 || strncmp(fn, "_Zna", 4) == 0)
        return true;
    if (strncmp(fn, "operator new", 12) != 0)
        return false;
    return fn[12] == '\0' || fn[12] == '(' || fn[12] == '[' || fn[12] == ' ';
}

/* Whether one component of a qualified name (len bytes at s, template
 * arguments included) is reserved to the library: _Upper or __x, less
 * the inline namespaces __1 (libc++) and __cxx11 (libstdc++), or one of
 * the allocator classes. */
static bool
naming_cxx_reserved(const char *s, size_t len)
{
    static const char *const classes[] = {"allocator", "allocator_traits",
                                          "new_allocator"};
    size_t id = strcspn(s, "<");
    id = id < len ? id : len;
    for (size_t i = 0; i < NAMING_COUNT(classes); i++)
        if (strlen(classes[i]) == id && strncmp(s, classes[i], id) == 0)
            return true;
    if (id < 2 || s[0] != '_')
        return false;
    if ((id == 3 && strncmp(s, "__1", 3) == 0) ||
        (id == 7 && strncmp(s, "__cxx11", 7) == 0))
        return false;
    return s[1] == '_' || (s[1] >= 'A' && s[1] <= 'Z');
}

/*
 * Whether fn belongs to the C++ standard library's allocation machinery:
 * it is in namespace std or __gnu_cxx, and some component of its name
 * (outside template arguments, before the argument list) is an allocator
 * class or reserved (std::__new_allocator<int>::allocate,
 * std::vector<int>::_M_realloc_insert, std::__1::__libcpp_allocate).
 * Public members (std::vector<int>::push_back) are not: they say which
 * container grew.
 */
static bool
naming_cxx_internal(const char *fn)
{
    size_t skip = strncmp(fn, "std::", 5) == 0          ? 5
                  : strncmp(fn, "__gnu_cxx::", 11) == 0 ? 11
                                                        : 0;
    if (skip == 0)
        return false;
    const char *start = fn + skip;
    int depth = 0;
    for (const char *p = start;; p++) {
        if (*p == '<')
            depth++;
        else if (*p == '>' && depth > 0)
            depth--;
        bool end = *p == '\0' || (depth == 0 && *p == '(');
        if (end || (depth == 0 && p[0] == ':' && p[1] == ':')) {
            if (naming_cxx_reserved(start, (size_t)(p - start)))
                return true;
            if (end)
                return false;
            start = p + 2;
            p++;
        }
    }
}

/* ---- the predicates ---- */

bool
naming_is_allocator(const char *func)
{
    naming_sort_lists();
    for (size_t i = 0; i < NAMING_COUNT(naming_allocator_prefixes); i++) {
        const char *p = naming_allocator_prefixes[i];
        if (strncmp(func, p, strlen(p)) == 0)
            return true;
    }
    for (size_t i = 0; i < NAMING_COUNT(naming_alias_prefixes); i++) {
        size_t n = strlen(naming_alias_prefixes[i]);
        if (strncmp(func, naming_alias_prefixes[i], n) == 0 &&
            naming_listed(func + n, naming_allocators,
                          NAMING_COUNT(naming_allocators)))
            return true;
    }
    return naming_operator_new(func) || naming_cxx_internal(func) ||
           naming_listed(func, naming_allocators,
                         NAMING_COUNT(naming_allocators));
}

bool
naming_is_wrapper(const char *func)
{
    naming_sort_lists();
    return naming_listed(func, naming_wrappers, NAMING_COUNT(naming_wrappers));
}

/* ---- the rule ---- */

int
naming_regcomp(regex_t *re, const char *src, const char *what, char *err,
               size_t errlen)
{
    int rc = regcomp(re, src, REG_EXTENDED | REG_NOSUB);
    if (rc == 0)
        return 0;
    char msg[128];
    regerror(rc, re, msg, sizeof msg);
    snprintf(err, errlen, "bad %s expression '%s': %s", what, src, msg);
    return EINVAL;
}

int
naming_init(naming_t *n, const naming_opts_t *o, char *err, size_t errlen)
{
    *n = (naming_t){.full_names = o != NULL && o->full_names};
    if (o == NULL)
        return 0;
    int e = 0;
    if (o->drop != NULL &&
        (e = naming_regcomp(&n->drop, o->drop, "--drop", err, errlen)) == 0)
        n->has_drop = true;
    if (e == 0 && o->keep != NULL &&
        (e = naming_regcomp(&n->keep, o->keep, "--keep", err, errlen)) == 0)
        n->has_keep = true;
    if (e == 0 && o->show_from != NULL &&
        (e = naming_regcomp(&n->show_from, o->show_from, "--show-from", err,
                            errlen)) == 0)
        n->has_show_from = true;
    if (e != 0)
        naming_free(n);
    return e;
}

void
naming_free(naming_t *n)
{
    if (n->has_drop)
        regfree(&n->drop);
    if (n->has_keep)
        regfree(&n->keep);
    if (n->has_show_from)
        regfree(&n->show_from);
    n->has_drop = n->has_keep = n->has_show_from = false;
}

static bool
naming_match(const regex_t *re, bool has, const char *func)
{
    return has && regexec(re, func, 0, NULL, 0) == 0;
}

unsigned
naming_frame_flags(const naming_t *n, const char *func, unsigned kind)
{
    unsigned f = kind & (NAMING_PYTHON | NAMING_UNNAMED);
    bool named = f == 0; /* a native function with a name to know it by */
    if (named && naming_is_allocator(func))
        f |= NAMING_PLUMBING;
    else if (named && naming_is_wrapper(func))
        f |= NAMING_WRAPPER;
    if (naming_match(&n->keep, n->has_keep, func))
        f |= NAMING_KEEP;
    else if (naming_match(&n->drop, n->has_drop, func))
        f |= NAMING_DROP;
    if (naming_match(&n->show_from, n->has_show_from, func))
        f |= NAMING_SHOW;
    return f;
}

/* Step 3 of the rule: past the root-most --drop frame that has a frame
 * not matching root-ward of it, else 0. */
static uint32_t
naming_drop_point(const uint8_t *flags, const uint32_t *stack, uint32_t depth)
{
    bool user = false;
    for (uint32_t i = depth; i-- > 0;) {
        if (!(flags[stack[i]] & NAMING_DROP))
            user = true;
        else if (user)
            return i + 1;
    }
    return 0;
}

/* Whether stack[i], native with no Python function root-ward, is
 * plumbing (step 4): unnamed frames are when the first named frame
 * root-ward of them is. */
static bool
naming_plumbing(const uint8_t *flags, const uint32_t *stack, uint32_t depth,
                uint32_t i)
{
    const unsigned plumbing = NAMING_PLUMBING | NAMING_WRAPPER | NAMING_DROP;
    while (i < depth && (flags[stack[i]] & NAMING_UNNAMED) &&
           !(flags[stack[i]] & plumbing))
        i++;
    return i < depth && (flags[stack[i]] & plumbing);
}

uint32_t
naming_start(const naming_t *n, const uint8_t *flags, const uint32_t *stack,
             uint32_t depth)
{
    if (depth == 0 || n->full_names)
        return 0;
    for (uint32_t i = 0; n->has_show_from && i < depth; i++)
        if (flags[stack[i]] & NAMING_SHOW)
            return i;
    uint32_t start = n->has_drop ? naming_drop_point(flags, stack, depth) : 0;
    uint32_t py = depth; /* the innermost Python function from start */
    for (uint32_t i = start; i < depth && py == depth; i++)
        if (flags[stack[i]] & NAMING_PYTHON)
            py = i;
    for (uint32_t i = start; i < depth; i++) {
        unsigned f = flags[stack[i]];
        if (f & (NAMING_KEEP | NAMING_PYTHON))
            return i;
        if (py < depth && i < py)
            continue; /* native, under a Python function */
        if (!naming_plumbing(flags, stack, depth, i))
            return i;
    }
    return start;
}

/* ---- the command line ---- */

naming_opts_t *
naming_cmdline(void)
{
    static naming_opts_t o;
    return &o;
}

bool
naming_getopt(naming_opts_t *o, int c, const char *arg)
{
    if (o == NULL)
        o = naming_cmdline();
    if (c == NAMING_OPT_DROP)
        o->drop = arg;
    else if (c == NAMING_OPT_KEEP)
        o->keep = arg;
    else if (c == NAMING_OPT_SHOW_FROM)
        o->show_from = arg;
    else if (c == NAMING_OPT_FULL_NAMES)
        o->full_names = true;
    else
        return false;
    return true;
}
