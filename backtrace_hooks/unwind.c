/*
 * unwind.c — the three native unwinders and the switch between them (see
 * unwind.h for the contract, the fork rule and the walker's invariants).
 *
 * State: the selected unwinder (atomic: stored with release after the
 * unw_backtrace pointer it may need, loaded with acquire once per
 * backtrace), libunwind's unw_backtrace pointer (atomic, written once per
 * process by bt_boot), and per thread the stack bounds (owner thread
 * only).  libunwind writes void * into our hs_frame_t (uintptr_t) arrays:
 * same size and representation, and it is opaque code, so no aliasing
 * assumption of this file's compiler is involved.
 *
 * Trimming: each unwinder starts somewhere inside this file.  The first
 * frame that belongs to the caller is the return address of bt_unwind
 * itself (__builtin_return_address(0)); everything before it, at most
 * BT_SKIP_MAX entries, is dropped.  If it is not found (an unwinder that
 * failed early) nothing is dropped.
 */
#include "unwind.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unwind.h>

#include "../alloc/tsd.h"
#include "../alloc/util/util.h"
#include "cfi.h"

/* How deep inside this file an unwinder can start; the deepest request
 * libunwind serves exactly (prof_bt_max's default). */
enum { BT_SKIP_MAX = 8, BT_LOCAL_MAX = 128 };
/* The lowest return address taken as real code. */
static const uintptr_t bt_min_code = 4096;

typedef int (*bt_unw_backtrace_fn)(void **buffer, int size);

static _Atomic(int) bt_selected = BT_UNWIND_GCC;
/* Set in fork children: the cfi unwinder's fallback is then libgcc. */
static _Atomic(bool) bt_forked;
static _Atomic(bt_unw_backtrace_fn) bt_unw_backtrace;
static pthread_once_t bt_atfork_once = PTHREAD_ONCE_INIT;

/* The calling thread's stack, [lo, hi); known once computed (even when
 * pthread_getattr_np failed: then lo == hi == 0 and the walk finds
 * nothing). */
typedef struct bt_stack_s {
    uintptr_t lo; /* owner thread only */
    uintptr_t hi; /* owner thread only */
    bool known;   /* owner thread only */
} bt_stack_t;

static HS_TLS bt_stack_t bt_stack;

/*
 * Where collected frames go: frames are stored from the start, and when
 * the marker (the caller's return address) shows up among the first
 * BT_SKIP_MAX frames, storing restarts from it.
 */
typedef struct bt_sink_s {
    hs_frame_t *frames;
    unsigned max;
    unsigned n;
    unsigned seen;
    uintptr_t marker;
    bool found;
} bt_sink_t;

/* Stores one frame; false when the walk should stop. */
HS_INLINE bool
bt_sink_put(bt_sink_t *s, uintptr_t ip)
{
    s->seen++;
    if (!s->found && ip == s->marker && s->seen <= BT_SKIP_MAX) {
        s->found = true;
        s->n = 0;
    }
    if (s->n < s->max) {
        s->frames[s->n++] = ip;
        return true;
    }
    return !s->found && s->seen < BT_SKIP_MAX;
}

/* ---- libgcc ---- */

static _Unwind_Reason_Code
bt_gcc_frame(struct _Unwind_Context *ctx, void *arg)
{
    uintptr_t ip = _Unwind_GetIP(ctx);
    if (ip == 0 || !bt_sink_put(arg, ip))
        return _URC_END_OF_STACK;
    return _URC_NO_REASON;
}

static HS_NOINLINE void
bt_unwind_gcc(bt_sink_t *s)
{
    _Unwind_Backtrace(bt_gcc_frame, s);
}

/* ---- libunwind ---- */

/* Cuts the head of frames[0 .. n) up to the marker; returns the count. */
static unsigned
bt_trim(hs_frame_t *frames, unsigned n, uintptr_t marker)
{
    unsigned skip = 0;
    while (skip < n && skip < BT_SKIP_MAX && frames[skip] != marker)
        skip++;
    if (skip == n || skip == BT_SKIP_MAX)
        return n;
    memmove(frames, frames + skip, (n - skip) * sizeof(hs_frame_t));
    return n - skip;
}

static unsigned
bt_call_libunwind(bt_unw_backtrace_fn fn, hs_frame_t *frames, unsigned max)
{
    tsd_reentrancy_enter();
    int got = fn((void **)frames, (int)max);
    tsd_reentrancy_exit();
    return got > 0 ? (unsigned)got : 0;
}

/*
 * unw_backtrace cannot skip frames.  Up to BT_LOCAL_MAX frames it writes
 * into a local array with room for this file's frames; deeper requests go
 * straight into the caller's array, where this file's frame costs a slot.
 */
static HS_NOINLINE void
bt_unwind_libunwind(bt_sink_t *s, bt_unw_backtrace_fn fn)
{
    if (s->max <= BT_LOCAL_MAX) {
        hs_frame_t local[BT_LOCAL_MAX + BT_SKIP_MAX];
        unsigned n = bt_call_libunwind(fn, local, s->max + BT_SKIP_MAX);
        n = bt_trim(local, n, s->marker);
        s->n = n < s->max ? n : s->max;
        memcpy(s->frames, local, s->n * sizeof(hs_frame_t));
        return;
    }
    unsigned n = bt_call_libunwind(fn, s->frames, s->max);
    s->n = bt_trim(s->frames, n, s->marker);
}

/* ---- frame pointers ---- */

static bool
bt_fp_record_ok(uintptr_t fp, uintptr_t lo, uintptr_t hi)
{
    return fp >= lo && hi >= 16 && fp <= hi - 16 && (fp & 7) == 0;
}

static bool
bt_fp_code_ok(uintptr_t ra)
{
    return ra >= bt_min_code && (ra & HS_FRAME_SYMBOLIC_BIT) == 0;
}

static void
bt_fp_walk_into(uintptr_t fp, uintptr_t lo, uintptr_t hi, bt_sink_t *s)
{
    while (bt_fp_record_ok(fp, lo, hi)) {
        const uintptr_t *rec = (const uintptr_t *)fp;
        uintptr_t ra = rec[1];
        if (!bt_fp_code_ok(ra) || !bt_sink_put(s, ra))
            return;
        lo = fp + 16;
        fp = rec[0];
    }
}

unsigned
bt_fp_walk(uintptr_t fp, uintptr_t lo, uintptr_t hi, hs_frame_t *frames,
           unsigned max)
{
    bt_sink_t s = {.frames = frames, .max = max, .found = true};
    bt_fp_walk_into(fp, lo, hi, &s);
    return s.n;
}

static void
bt_stack_compute(bt_stack_t *st)
{
    pthread_attr_t attr;
    tsd_reentrancy_enter();
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            st->lo = (uintptr_t)addr;
            st->hi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&attr);
    }
    tsd_reentrancy_exit();
    st->known = true;
}

static HS_NOINLINE void
bt_unwind_fp(bt_sink_t *s)
{
    bt_stack_t *st = &bt_stack;
    if (unlikely(!st->known))
        bt_stack_compute(st);
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    /* Nothing below this frame is read: it may be unmapped or reused. */
    uintptr_t lo = fp > st->lo ? fp : st->lo;
    if (fp < st->lo || fp >= st->hi)
        return;
    bt_fp_walk_into(fp, lo, st->hi, s);
}

/* ---- call frame information (cfi.h) ---- */

static bool
bt_cfi_put(void *arg, uintptr_t ra)
{
    return bt_sink_put(arg, ra);
}

/*
 * Starts from this function's own registers (the rule for the captured pc
 * comes from this function's CFI).  When a frame needs the fallback, what
 * was collected is dropped and the whole stack is unwound again by
 * libunwind, or by libgcc in a fork child or without libunwind.
 */
static HS_NOINLINE void
bt_unwind_cfi(bt_sink_t *s)
{
    bt_stack_t *st = &bt_stack;
    if (unlikely(!st->known))
        bt_stack_compute(st);
    uintptr_t pc, sp, bp;
    __asm__ volatile("lea 0(%%rip), %0\n\t"
                     "mov %%rsp, %1\n\t"
                     "mov %%rbp, %2"
                     : "=r"(pc), "=r"(sp), "=r"(bp));
    if (sp >= st->lo && sp < st->hi &&
        cfi_walk(pc, sp, bp, sp, st->hi, bt_cfi_put, s))
        return;
    *s = (bt_sink_t){.frames = s->frames, .max = s->max, .marker = s->marker};
    bt_unw_backtrace_fn fn =
        atomic_load_explicit(&bt_unw_backtrace, memory_order_acquire);
    if (fn != NULL && !atomic_load_explicit(&bt_forked, memory_order_relaxed))
        bt_unwind_libunwind(s, fn);
    else
        bt_unwind_gcc(s);
}

/* ---- selection ---- */

static void
bt_atfork_register(void)
{
    pthread_atfork(NULL, NULL, bt_postfork_child);
}

static bt_unw_backtrace_fn
bt_libunwind_open(void)
{
    bt_unw_backtrace_fn fn =
        atomic_load_explicit(&bt_unw_backtrace, memory_order_acquire);
    if (fn != NULL)
        return fn;
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        return NULL;
    /* POSIX guarantees dlsym's result converts to a function pointer. */
    fn = (bt_unw_backtrace_fn)dlsym(h, "unw_backtrace");
    if (fn == NULL) {
        dlclose(h);
        return NULL;
    }
    atomic_store_explicit(&bt_unw_backtrace, fn, memory_order_release);
    return fn;
}

/* Under the reentrancy guard: what the loader and libunwind allocate here
 * is the profiler's, not the program's. */
bool
bt_boot(bt_unwinder_t preferred)
{
    tsd_reentrancy_enter();
    pthread_once(&bt_atfork_once, bt_atfork_register);
    bt_unwinder_t chosen = preferred;
    if (preferred == BT_UNWIND_LIBUNWIND && bt_libunwind_open() == NULL)
        chosen = BT_UNWIND_GCC;
    if (preferred == BT_UNWIND_CFI) {
        /* libunwind is the fallback; without it, libgcc is. */
        (void)bt_libunwind_open();
        if (!cfi_boot())
            chosen = BT_UNWIND_GCC;
    }
    atomic_store_explicit(&bt_selected, chosen, memory_order_release);
    hs_frame_t warm[4];
    bt_unwind(warm, 4);
    tsd_reentrancy_exit();
    return chosen == preferred;
}

void
bt_postfork_child(void)
{
    int lib = BT_UNWIND_LIBUNWIND;
    atomic_compare_exchange_strong(&bt_selected, &lib, BT_UNWIND_GCC);
    atomic_store(&bt_forked, true);
}

bt_unwinder_t
bt_unwinder(void)
{
    return (bt_unwinder_t)atomic_load_explicit(&bt_selected,
                                               memory_order_acquire);
}

const char *
bt_unwinder_name(void)
{
    switch (bt_unwinder()) {
    case BT_UNWIND_LIBUNWIND:
        return "libunwind";
    case BT_UNWIND_FP:
        return "fp";
    case BT_UNWIND_CFI:
        return "cfi";
    default:
        return "gcc";
    }
}

HS_NOINLINE unsigned
bt_unwind(hs_frame_t *frames, unsigned max)
{
    bt_sink_t s = {
        .frames = frames,
        .max = max,
        .marker = (uintptr_t)__builtin_return_address(0),
    };
    if (max == 0)
        return 0;
    switch (bt_unwinder()) {
    case BT_UNWIND_LIBUNWIND:
        bt_unwind_libunwind(
            &s, atomic_load_explicit(&bt_unw_backtrace, memory_order_acquire));
        break;
    case BT_UNWIND_FP:
        bt_unwind_fp(&s);
        break;
    case BT_UNWIND_CFI:
        bt_unwind_cfi(&s);
        break;
    default:
        bt_unwind_gcc(&s);
        break;
    }
    return s.n;
}
