/*
 * util.h — compiler shims shared by every layer of the allocator.
 *
 * Owns: likely/unlikely, the HS_API export macro, the three assertion
 * levels, alignment arithmetic and the page constants.  Owns no state.
 *
 * Assertion levels (none has side effects):
 *   hs_assert_cheap(e)     always on: O(1) checks on slow paths only;
 *   hs_assert(e)           internal invariants, on with HS_DEBUG;
 *   hs_assert_expensive(e) whole-structure validation, on with HS_DEBUG.
 */
#ifndef HS_UTIL_H
#define HS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define HS_API __attribute__((visibility("default")))
/* On the declaration of a global the fast paths read: the library's own,
 * so the compiler addresses it directly instead of through the GOT
 * (-fvisibility=hidden covers definitions, not extern declarations). */
#define HS_HIDDEN __attribute__((visibility("hidden")))
#define HS_INLINE static inline __attribute__((always_inline))
#define HS_NOINLINE __attribute__((noinline))
#define HS_COLD __attribute__((cold, noinline))
#define HS_TLS __thread __attribute__((tls_model("initial-exec")))
#define HS_CACHELINE 64
#define HS_ALIGNED_CL __attribute__((aligned(HS_CACHELINE)))

#define LG_PAGE 12
#define PAGE ((size_t)1 << LG_PAGE)
#define PAGE_MASK (PAGE - 1)
#define LG_QUANTUM 4
#define QUANTUM ((size_t)1 << LG_QUANTUM)
/* Hugepage size: the unit in which address space is reserved. */
#define LG_HUGEPAGE 21
#define HUGEPAGE ((size_t)1 << LG_HUGEPAGE)

void hs_assert_failed(const char *expr, const char *file, int line);

#define hs_assert_cheap(e)                                                     \
    do {                                                                       \
        if (unlikely(!(e)))                                                    \
            hs_assert_failed(#e, __FILE__, __LINE__);                          \
    } while (0)
#define hs_assert(e)                                                           \
    do {                                                                       \
        if (config_debug && unlikely(!(e)))                                    \
            hs_assert_failed(#e, __FILE__, __LINE__);                          \
    } while (0)
#define hs_assert_expensive(e) hs_assert(e)

static inline size_t
align_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

static inline uintptr_t
align_down_ptr(uintptr_t x, size_t a)
{
    return x & ~((uintptr_t)a - 1);
}

static inline bool
is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* floor(log2(x)) for x > 0. */
static inline unsigned
lg_floor(size_t x)
{
    return (unsigned)(63 - __builtin_clzl(x));
}

/* ceil(log2(x)) for x > 0. */
static inline unsigned
lg_ceil(size_t x)
{
    return x <= 1 ? 0 : lg_floor(x - 1) + 1;
}

#endif /* HS_UTIL_H */
