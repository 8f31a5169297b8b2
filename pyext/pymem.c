/*
 * pymem.c — the PyMem domain wrappers (see pymem.h).
 *
 * pymalloc serves requests of up to 512 bytes from its own arenas and
 * passes bigger ones to the raw domain (PyMem_RawMalloc, which is malloc
 * unless someone wrapped it).  Which wrappers, so that every allocation is
 * counted once:
 *
 *   - preloaded over plain pymalloc: the object and mem domains get the
 *     fast wrappers (below): they count down what pymalloc itself serves
 *     (size <= 512) and have heapsight's malloc serve the crossing request
 *     as a sampled block of domain "pymalloc"; the raw domain is malloc,
 *     which heapsight samples already, and is not wrapped;
 *   - preloaded over pymalloc with debug hooks or someone else's wrappers:
 *     the event wrappers report what pymalloc serves (size <= 512);
 *   - not preloaded (malloc is the C library's): the object and mem
 *     domains report what pymalloc serves ("pymalloc", size <= 512) and
 *     the raw domain everything ("pymem_raw"), which includes pymalloc's
 *     requests over 512 bytes — so those are counted there, once;
 *   - the object and mem domains are malloc themselves (PYTHONMALLOC=
 *     malloc): preloaded, nothing is wrapped; not preloaded, all three
 *     domains report every request as "pymem_raw" (none passes through
 *     another).
 *
 * An event wrapper calls the allocator it replaced, then
 * hs_prof_alloc_event (a countdown between samples); frees report
 * hs_prof_free_event (a flag test unless a sampled object is live); a
 * realloc is a free and an allocation.  The wrappers stay installed once
 * installed (sampling can be made idle, not the wrappers removed): memory
 * allocated through them must be freed through them for sampled objects
 * to leave the profile.
 *
 * The allocator API is reached with dlsym; PyMemAllocatorEx is declared
 * here as CPython declares it (five fields, the same since 3.5).
 */
#include "pymem.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../include/heapsight_hook.h"

/* pymalloc's SMALL_REQUEST_THRESHOLD (Objects/obmalloc.c). */
#define PYMALLOC_MAX 512

typedef struct pymem_allocator_s {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} pymem_allocator_t;

typedef void (*pymem_get_fn)(int domain, pymem_allocator_t *allocator);
typedef void (*pymem_set_fn)(int domain, pymem_allocator_t *allocator);

static pymem_get_fn get_allocator;
static pymem_set_fn set_allocator;
static const char *(*allocator_name)(void);
static bool wrapped[PYMEM_NDOMAINS];
static const char *mode = "";

typedef struct wrap_s {
    pymem_allocator_t old;
    unsigned domain;
    bool all_sizes; /* report every size (else only pymalloc's own) */
} wrap_t;

static wrap_t wraps[PYMEM_NDOMAINS];

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
        hs_prof_alloc_event(p, size, w->domain);
    return p;
}

static void *
w_calloc(void *ctx, size_t n, size_t elsize)
{
    wrap_t *w = ctx;
    void *p = w->old.calloc(w->old.ctx, n, elsize);
    if (p != NULL && reportable(w, n * elsize))
        hs_prof_alloc_event(p, n * elsize, w->domain);
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
        hs_prof_free_event(old, w->domain);
    if (p != NULL && reportable(w, size))
        hs_prof_alloc_event(p, size, w->domain);
    return p;
}

static void
w_free(void *ctx, void *p)
{
    wrap_t *w = ctx;
    if (p != NULL)
        hs_prof_free_event(p, w->domain);
    w->old.free(w->old.ctx, p);
}

static void
wrap_domain(unsigned d, const char *label, bool all_sizes)
{
    if (wrapped[d])
        return;
    wrap_t *w = &wraps[d];
    get_allocator((int)d, &w->old);
    w->domain = hs_prof_domain(label);
    w->all_sizes = all_sizes;
    pymem_allocator_t a = {w, w_malloc, w_calloc, w_realloc, w_free};
    set_allocator((int)d, &a);
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
static pymem_allocator_t fast_old[PYMEM_NDOMAINS];
static unsigned fast_domain;
static __thread __attribute__((tls_model("initial-exec"))) int64_t fast_left;
static __thread __attribute__((tls_model("initial-exec"))) bool fast_armed;

static int64_t
fast_gap(void)
{
    uint64_t g = hs_prof_foreign_gap();
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
    void *p = hs_prof_malloc_sampled(size, fast_domain);
    if (p != NULL && zero)
        memset(p, 0, size);
    return p;
}

/* A realloc that crossed the sample point: pymalloc resizes, then the
 * block moves into a sampled one (its new size bytes are the contents). */
static void *
fast_moved(const pymem_allocator_t *old, void *ctx, void *p, size_t size)
{
    void *q = old->realloc(ctx, p, size);
    if (q == NULL)
        return NULL;
    void *s = hs_prof_malloc_sampled(size, fast_domain);
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
FAST_WRAPPERS(obj, PYMEM_OBJ)
FAST_WRAPPERS(mem, PYMEM_MEM)

static void
fast_wrap(unsigned d, void *(*m)(void *, size_t),
          void *(*c)(void *, size_t, size_t),
          void *(*r)(void *, void *, size_t))
{
    get_allocator((int)d, &fast_old[d]);
    pymem_allocator_t a = {fast_old[d].ctx, m, c, r, fast_old[d].free};
    set_allocator((int)d, &a);
    wrapped[d] = true;
}

/* Whether the object and mem domains end in malloc rather than pymalloc
 * (PYTHONMALLOC=malloc or malloc_debug), asked before wrapping: CPython
 * names its own allocators, and anything else (NULL) is taken as
 * pymalloc under someone's hooks. */
static bool
domains_are_malloc(void)
{
    const char *name = allocator_name != NULL ? allocator_name() : NULL;
    return name != NULL && strncmp(name, "malloc", 6) == 0;
}

/* Plain pymalloc (no debug hooks, no other wrapper): the fast wrappers
 * may rely on its free passing foreign pointers to the raw domain. */
static bool
domains_are_pymalloc(void)
{
    const char *name = allocator_name != NULL ? allocator_name() : NULL;
    return name != NULL && strcmp(name, "pymalloc") == 0;
}

int
pymem_wrap(bool preloaded, const char **r_why)
{
    *r_why = NULL;
    if (wrapped[PYMEM_OBJ] || wrapped[PYMEM_MEM] || wrapped[PYMEM_RAW] ||
        mode[0] != '\0')
        return 0;
    *(void **)&get_allocator = dlsym(RTLD_DEFAULT, "PyMem_GetAllocator");
    *(void **)&set_allocator = dlsym(RTLD_DEFAULT, "PyMem_SetAllocator");
    *(void **)&allocator_name =
        dlsym(RTLD_DEFAULT, "_PyMem_GetCurrentAllocatorName");
    if (get_allocator == NULL || set_allocator == NULL) {
        *r_why = "PyMem_GetAllocator/PyMem_SetAllocator are not among the "
                 "process's symbols";
        return ENOENT;
    }
    if (domains_are_malloc()) {
        /* Every domain is malloc: preloaded, heapsight samples it already;
         * else report it all, as the raw domain. */
        mode = "none (malloc)";
        if (!preloaded) {
            wrap_domain(PYMEM_OBJ, "pymem_raw", true);
            wrap_domain(PYMEM_MEM, "pymem_raw", true);
            wrap_domain(PYMEM_RAW, "pymem_raw", true);
            mode = "events (malloc)";
        }
        return 0;
    }
    if (preloaded && domains_are_pymalloc()) {
        fast_domain = hs_prof_domain("pymalloc");
        fast_wrap(PYMEM_OBJ, fast_malloc_obj, fast_calloc_obj,
                  fast_realloc_obj);
        fast_wrap(PYMEM_MEM, fast_malloc_mem, fast_calloc_mem,
                  fast_realloc_mem);
        mode = "fast";
        return 0;
    }
    /* pymalloc's requests over 512 bytes go on to the raw domain: counted
     * there (not preloaded) or by heapsight's malloc (preloaded). */
    wrap_domain(PYMEM_OBJ, "pymalloc", false);
    wrap_domain(PYMEM_MEM, "pymalloc", false);
    if (!preloaded)
        wrap_domain(PYMEM_RAW, "pymem_raw", true);
    mode = "events";
    return 0;
}

bool
pymem_wrapped(unsigned d)
{
    return d < PYMEM_NDOMAINS && wrapped[d];
}

const char *
pymem_mode(void)
{
    return mode;
}
