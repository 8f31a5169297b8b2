/*
 * export.c — the exported allocation entry points: the C, POSIX and glibc
 * functions and heapsight's extended API.
 *
 * Owns: the fast paths, and the argument semantics of every entry point
 * (errno, overflow, alignment rules, the extended API's flags).  What is
 * behind them is in the files front.h lists: the allocation slow path
 * (alloc_slow.c), the checks on the free path and free_slow
 * (free_check.c), sampled blocks (sampled.c) and realloc (realloc.c).
 * Part of the shared library only: a program linking the internal
 * modules (hs_core) keeps its own C library's malloc.
 *
 * Fast paths: malloc of a small size pops the thread cache after one
 * compare ("allocated bytes + usable size < next event threshold"), which
 * also routes uninitialized threads and due thread events to the slow
 * path; free pushes after one rtree lookup.  Each has a single unlikely
 * exit to a noinline slow path.  Both are inlined here, into each entry
 * point that takes them.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../include/heapsight.h"
#include "background.h"
#include "boot.h"
#include "check.h"
#include "extent/emap.h"
#include "front.h"
#include "opts.h"
#include "sz.h"
#include "tcache.h"
#include "tsd.h"
#include "util/fmt.h"

/* ---- flags of the extended API ---- */

#define FLAG_LG_ALIGN_MASK 0x3f

static inline req_t
req_from_flags(int flags)
{
    unsigned la = (unsigned)flags & FLAG_LG_ALIGN_MASK;
    return (req_t){
        .alignment = la == 0 ? 0 : (size_t)1 << la,
        .zero = (flags & HS_MALLOCX_ZERO) != 0,
        .no_tcache = (flags & HS_MALLOCX_TCACHE_NONE) != 0,
        .guarded = (flags & HS_MALLOCX_GUARDED) != 0,
        .arena = (int)((unsigned)flags >> 20) - 1,
    };
}

/* ---- fast paths ---- */

HS_INLINE void *
alloc_fast(size_t size)
{
    tsd_t *tsd = tsd_get();
    if (likely(size <= SZ_LOOKUP_MAX)) {
        unsigned ind = sz_lookup_tab[(size + QUANTUM - 1) >> LG_QUANTUM];
        uint64_t after = tsd->allocated + sz_index2size_tab[ind];
        cache_bin_t *b = &tsd->tcache.bins[ind];
        /* One test for both "empty" and "below the low-water mark"
         * (low_water <= ncached): the slow path pops at the mark. */
        if (likely(after < tsd->next_event && b->ncached > b->low_water)) {
            unsigned n = --b->ncached;
            tsd->allocated = after;
            return hand_out(b->stack[n]);
        }
    }
    return alloc_slow(size, (req_t){.arena = -1});
}

HS_INLINE void
free_fast(void *p)
{
    tsd_t *tsd = tsd_get();
    emap_entry_t ent = emap_lookup(p);
    if (likely(emap_entry_cacheable_slab(ent))) {
        unsigned ind = checked_slab_ind("free", p, ent);
        if (unlikely(ind == MISUSED_IND))
            return;
        cache_bin_t *b = &tsd->tcache.bins[ind];
        if (likely(b->ncached < b->ncached_max)) {
            mark_freed(p);
            b->stack[b->ncached++] = p;
            tsd->deallocated += sz_index2size(ind);
            return;
        }
    }
    free_slow("free", p, ent, false);
}

/* ---- helpers shared by the entry points ---- */

static void *
alloc_aligned(size_t size, size_t alignment)
{
    if (alignment <= QUANTUM)
        return alloc_fast(size);
    return alloc_slow(size, (req_t){.alignment = alignment, .arena = -1});
}

/* ---- the C and POSIX entry points ---- */

HS_API void *
malloc(size_t size)
{
    return alloc_fast(size);
}

/* free(NULL) takes the slow path: NULL's page has no entry. */
HS_API void
free(void *p)
{
    free_fast(p);
}

/* ---- C++ operator new and delete ----
 *
 * Every form (plain, array, nothrow, sized, aligned), so that a C++
 * program's new and delete reach the fast paths directly rather than
 * through the C++ runtime's wrappers, which call malloc, aligned_alloc and
 * free through the PLT.  A program that defines its own operators still
 * wins (the executable comes first in symbol lookup).  When an allocation
 * fails, the C++ runtime's own operator (the next definition) takes over:
 * it calls the new_handler and retries through malloc or aligned_alloc,
 * which are heapsight's, then throws std::bad_alloc or, for nothrow,
 * returns NULL.  The size and alignment given to delete are not needed:
 * free finds the block's size. */

/* The runtime's operator name, called with size, with alignment when not
 * 0 and with nothrow_tag when not NULL.  When there is no C++ runtime
 * behind heapsight, the nothrow forms return NULL and the throwing forms
 * end the process (nothing could catch). */
static void *
cxx_new_failed(const char *name, size_t size, size_t alignment,
               const void *nothrow_tag)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (fn == NULL) {
        if (nothrow_tag != NULL)
            return NULL;
        hs_fatal("operator new: out of memory for %zu bytes, and no C++ "
                 "runtime to throw std::bad_alloc",
                 size);
    }
    if (alignment == 0)
        return nothrow_tag != NULL
                   ? ((void *(*)(size_t, const void *))fn)(size, nothrow_tag)
                   : ((void *(*)(size_t))fn)(size);
    return nothrow_tag != NULL
               ? ((void *(*)(size_t, size_t, const void *))fn)(size, alignment,
                                                               nothrow_tag)
               : ((void *(*)(size_t, size_t))fn)(size, alignment);
}

/* One operator new: NAME(size[, alignment][, tag]). */
#define CXX_NEW(name, params, alloc, alignment, tag)                           \
    HS_API void *name params                                                   \
    {                                                                          \
        void *p = alloc;                                                       \
        return likely(p != NULL)                                               \
                   ? p                                                         \
                   : cxx_new_failed(#name, size, alignment, tag);              \
    }

/* new, new[] */
CXX_NEW(_Znwm, (size_t size), alloc_fast(size), 0, NULL)
CXX_NEW(_Znam, (size_t size), alloc_fast(size), 0, NULL)
/* new(std::nothrow), new[](std::nothrow) */
CXX_NEW(_ZnwmRKSt9nothrow_t, (size_t size, const void *tag), alloc_fast(size),
        0, tag)
CXX_NEW(_ZnamRKSt9nothrow_t, (size_t size, const void *tag), alloc_fast(size),
        0, tag)
/* new(std::align_val_t), new[](std::align_val_t), and nothrow */
CXX_NEW(_ZnwmSt11align_val_t, (size_t size, size_t al), alloc_aligned(size, al),
        al, NULL)
CXX_NEW(_ZnamSt11align_val_t, (size_t size, size_t al), alloc_aligned(size, al),
        al, NULL)
CXX_NEW(_ZnwmSt11align_val_tRKSt9nothrow_t,
        (size_t size, size_t al, const void *tag), alloc_aligned(size, al), al,
        tag)
CXX_NEW(_ZnamSt11align_val_tRKSt9nothrow_t,
        (size_t size, size_t al, const void *tag), alloc_aligned(size, al), al,
        tag)

/* One operator delete: NAME(p, ...), the rest unused. */
#define CXX_DELETE(name, ...)                                                  \
    HS_API void name(void *p, __VA_ARGS__) { free_fast(p); }

HS_API void
_ZdlPv(void *p)
{
    free_fast(p);
}

HS_API void
_ZdaPv(void *p)
{
    free_fast(p);
}

/* sized, nothrow, aligned, sized aligned, aligned nothrow */
CXX_DELETE(_ZdlPvm, size_t size __attribute__((unused)))
CXX_DELETE(_ZdaPvm, size_t size __attribute__((unused)))
CXX_DELETE(_ZdlPvRKSt9nothrow_t, const void *tag __attribute__((unused)))
CXX_DELETE(_ZdaPvRKSt9nothrow_t, const void *tag __attribute__((unused)))
CXX_DELETE(_ZdlPvSt11align_val_t, size_t al __attribute__((unused)))
CXX_DELETE(_ZdaPvSt11align_val_t, size_t al __attribute__((unused)))
CXX_DELETE(_ZdlPvmSt11align_val_t, size_t size __attribute__((unused)),
           size_t al __attribute__((unused)))
CXX_DELETE(_ZdaPvmSt11align_val_t, size_t size __attribute__((unused)),
           size_t al __attribute__((unused)))
CXX_DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t,
           size_t al __attribute__((unused)),
           const void *tag __attribute__((unused)))
CXX_DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t,
           size_t al __attribute__((unused)),
           const void *tag __attribute__((unused)))

HS_API void *
calloc(size_t n, size_t m)
{
    size_t size;
    if (unlikely(__builtin_mul_overflow(n, m, &size))) {
        errno = ENOMEM;
        return NULL;
    }
    if (size <= SZ_LOOKUP_MAX && likely(!check_any)) {
        void *p = alloc_fast(size);
        if (p != NULL)
            memset(p, 0, sz_s2u(size));
        return p;
    }
    return alloc_slow(size, (req_t){.zero = true, .arena = -1});
}

HS_API void *
realloc(void *p, size_t size)
{
    if (p == NULL)
        return alloc_fast(size);
    if (size == 0) {
        free_fast(p);
        return NULL;
    }
    return realloc_impl("realloc", p, size, (req_t){.arena = -1});
}

HS_API void *
reallocarray(void *p, size_t n, size_t m)
{
    size_t size;
    if (unlikely(__builtin_mul_overflow(n, m, &size))) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, size);
}

HS_API int
posix_memalign(void **r, size_t alignment, size_t size)
{
    if (!is_pow2(alignment) || alignment < sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *p = alloc_aligned(size, alignment);
    errno = saved;
    if (p == NULL)
        return ENOMEM;
    *r = p;
    return 0;
}

HS_API void *
aligned_alloc(size_t alignment, size_t size)
{
    if (!is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned(size, alignment);
}

HS_API void *
memalign(size_t alignment, size_t size)
{
    /* glibc semantics: a non-power-of-two alignment rounds up. */
    if (alignment > ((size_t)1 << 62)) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(alignment))
        alignment = alignment <= 1 ? 1 : (size_t)1 << lg_ceil(alignment);
    return alloc_aligned(size, alignment);
}

HS_API void *
valloc(size_t size)
{
    return alloc_aligned(size, PAGE);
}

HS_API void *
pvalloc(size_t size)
{
    size_t rounded = align_up(size, PAGE);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc_aligned(rounded == 0 ? PAGE : rounded, PAGE);
}

HS_API size_t
malloc_usable_size(void *p)
{
    return p == NULL ? 0 : usable_size_of(p);
}

/* C23 sized free: size must be the size asked for (any size of the block's
 * class is accepted, as the class is all the allocator knows). */
HS_API void
free_sized(void *p, size_t size)
{
    if (p != NULL)
        hs_sdallocx(p, size, 0);
}

HS_API void
free_aligned_sized(void *p, size_t alignment, size_t size)
{
    if (p != NULL)
        hs_sdallocx(p, size, HS_MALLOCX_ALIGN(alignment));
}

/* ---- the extended API ---- */

HS_API void *
hs_mallocx(size_t size, int flags)
{
    if (likely(flags == 0))
        return alloc_fast(size);
    return alloc_slow(size, req_from_flags(flags));
}

HS_API void *
hs_rallocx(void *p, size_t size, int flags)
{
    req_t req = req_from_flags(flags);
    if (!req.zero)
        return realloc_impl("hs_rallocx", p, size, req);
    size_t old = usable_size_of(p);
    void *q = realloc_impl("hs_rallocx", p, size, req);
    size_t now = q == NULL ? 0 : usable_size_of(q);
    if (q != NULL && now > old)
        memset((char *)q + old, 0, now - old);
    return q;
}

HS_API void
hs_dallocx(void *p, int flags)
{
    if ((flags & HS_MALLOCX_TCACHE_NONE) == 0) {
        free_fast(p);
        return;
    }
    free_slow("hs_dallocx", p, emap_lookup(p), true);
}

HS_API void
hs_sdallocx(void *p, size_t size, int flags)
{
    req_t req = req_from_flags(flags);
    size_t expect = req_usize(size, req);
    emap_entry_t ent = emap_lookup(p);
    size_t usize = checked_usize("free_sized", p, ent);
    if (unlikely(usize == MISUSED_USIZE))
        return;
    if (unlikely(check_canary)) {
        /* The size asked is known exactly: it must be the one given. */
        size_t n = canary_checked("free_sized", p, ent, usize);
        if (n == SIZE_MAX)
            return;
        usize = n;
        expect = size;
    }
    if (unlikely(expect != usize)) {
        char note[STACK_NOTE_LEN];
        hs_misuse("free_sized(): size %zu does not match the %zu-byte block "
                  "at %p%s",
                  size, usize, p, stack_note(p, ent, note, sizeof note));
        return;
    }
    hs_dallocx(p, flags);
}

HS_API size_t
hs_nallocx(size_t size, int flags)
{
    req_t req = req_from_flags(flags);
    if (!hs_boot())
        return 0;
    return req_usize(size, req);
}

HS_API size_t
hs_sallocx(const void *p, int flags)
{
    (void)flags;
    return usable_size_of(p);
}

/* The background_thread option: the thread is started once the C library
 * is up (this constructor runs after libc's), never from inside a malloc
 * that may run while the dynamic loader is still initializing it.  Part
 * of the shared library only: unit tests boot with their own options. */
__attribute__((constructor)) static void
start_background_thread(void)
{
    if (hs_boot() && opt_background_thread)
        background_set(true);
}

HS_API hs_abort_hook_t *
hs_set_abort_hook(hs_abort_hook_t *hook)
{
    return atomic_exchange(&hs_misuse_hook, hook);
}
