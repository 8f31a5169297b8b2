/*
 * unwind.h — native unwinding of the calling thread, innermost frame first.
 *
 * Owns: the choice of unwinder (libunwind, libgcc, frame pointers), the
 * private handle on libunwind, the switch to a fork-safe unwinder in fork
 * children, and each thread's cached stack bounds for the frame-pointer
 * walker.  Does not own what a stack means: callers (prof/) trim their own
 * frames, run the hook chain (hook_chain.h) and intern the result.
 *
 * The unwinders:
 *   BT_UNWIND_CFI        heapsight's own reader of .eh_frame (cfi.h): one
 *       rule per return address, cached once for the whole process, so a
 *       new thread's first backtrace costs no more than its next.  A frame
 *       it cannot reduce to an rsp/rbp rule (rare: signal frames, CFA
 *       expressions) sends the whole backtrace to libunwind, or to libgcc
 *       in a fork child or when libunwind cannot be loaded.  The default.
 *   BT_UNWIND_LIBUNWIND  libunwind's unw_backtrace: correct without frame
 *       pointers (Debian's libraries have none).  libunwind.so.8 is
 *       dlopen()ed RTLD_LOCAL by bt_boot() and never linked: it exports
 *       _Unwind_RaiseException & co and backtrace(), which would otherwise
 *       take over the process's C++ exception runtime.
 *   BT_UNWIND_GCC        libgcc's _Unwind_Backtrace (libgcc_s.so.1, already
 *       in every process that can throw).  Its FDE lookup goes through
 *       glibc's _dl_find_object (glibc >= 2.35; Debian 12 has 2.36), which
 *       takes no loader lock.
 *   BT_UNWIND_FP         a walk of the rbp chain, bounded by the thread's
 *       stack (see below).  Fast; stops at the first function built
 *       without frame pointers.
 *
 * Fork.  libunwind finds unwind tables with dl_iterate_phdr, which takes
 * the loader's dl_load_write_lock.  A child forked while another thread
 * was inside dlopen/dlclose inherits that lock held by a thread that does
 * not exist there, and would hang in its first backtrace (measured here:
 * 5 hangs in 40 forks against a thread looping dlopen/dlclose; libunwind
 * blocks all signals while it waits, so not even alarm() ends it).
 * bt_boot() registers bt_postfork_child() with pthread_atfork: in a child
 * a libunwind selection becomes BT_UNWIND_GCC for the rest of the child's
 * life (until exec), since _dl_find_object takes no lock.  The frame-
 * pointer walker needs no switch.
 *
 * Frame-pointer walker invariants.  A frame record at address fp is
 * {saved fp, return address}.  The walk reads a record only when
 *     lo <= fp,  fp + 16 <= hi,  fp % 8 == 0
 * where [lo, hi) is the thread's stack from pthread_getattr_np (computed
 * once per thread, cached in initial-exec TLS; computed under the
 * reentrancy guard because for the main thread glibc reads
 * /proc/self/maps with malloc), and lo is raised to the walker's own frame
 * and then to fp + 16 after each record: records move strictly upward,
 * inside memory that is mapped because the thread is using the stack
 * below it.  So the walk ends, and never faults, whatever garbage a
 * function without frame pointers left in rbp.  It also stops at a return
 * address below 4096 or with HS_FRAME_SYMBOLIC_BIT set (not user space).
 * On a stack it cannot bound (a sigaltstack, a coroutine's stack) it
 * returns no frames.
 *
 * Locking: none.  bt_unwind() takes no allocator lock and may be called
 * from inside malloc's slow path; it holds the reentrancy guard
 * (tsd_reentrancy_enter) while libunwind runs, because libunwind may call
 * malloc (for its per-thread cache and, in a thread's first backtrace, for
 * the dynamic TLS of the dlopen()ed library).  Those allocations are
 * served by heapsight unsampled; hence no allocator lock may be held by
 * the caller.  The selected unwinder is one atomic word.
 *
 * Cost of one bt_unwind(frames, 30) on a stack 40+ frames deep, steady
 * state, on the 2-CPU Xeon VM of the project (Debian 12, libunwind 1.6.2,
 * libgcc 12, glibc 2.36), best of 5 runs of 200k-500k calls, 3 sessions:
 *   libunwind    0.37 - 0.67 us  (its per-thread trace cache hits)
 *   gcc          7.1 - 10.0 us   (no cache: CFI parsed per frame, one
 *                                 _dl_find_object per frame)
 *   fp           0.13 - 0.15 us
 * Measured by tests/unit/backtrace_hooks/unwind_bench.c:
 *   cmake --build BUILD --target bt_unwind_bench
 *   BUILD/tests/unit/backtrace_hooks/bt_unwind_bench [iterations]
 * So a fork child that switched to gcc pays about 15x per sample.
 */
#ifndef HS_BT_UNWIND_H
#define HS_BT_UNWIND_H

#include <stdbool.h>

#include "../include/heapsight_hook.h"

typedef enum {
    BT_UNWIND_CFI,
    BT_UNWIND_LIBUNWIND,
    BT_UNWIND_GCC,
    BT_UNWIND_FP,
} bt_unwinder_t;

/*
 * Selects the unwinder; call once at start-up, outside malloc (from a
 * library constructor), before the first bt_unwind().  For libunwind it
 * dlopen()s libunwind.so.8 RTLD_NOW | RTLD_LOCAL; when that fails it
 * selects BT_UNWIND_GCC and returns false.  It warms the chosen unwinder
 * up (one backtrace, so one-time initialization never happens inside
 * malloc) and registers bt_postfork_child() with pthread_atfork (once).
 * Returns true when `preferred` is in use.  May be called again to switch
 * unwinders (tests do); without any call, bt_unwind() uses BT_UNWIND_GCC.
 */
bool bt_boot(bt_unwinder_t preferred);

/*
 * Fills frames[0 .. n) with native return addresses, innermost first, and
 * returns n <= max.  frames[0] is the return address into the caller of
 * bt_unwind (bt_unwind's own frames are removed); the caller trims its
 * own.  n == min(max, frames above that) except in one case: with
 * libunwind, max > 128 and a stack deeper than max, n may be max - 1
 * (unw_backtrace cannot skip frames, so bt_unwind's own frame takes a slot;
 * up to 128 frames it unwinds into a local array instead, 1 KiB of stack).
 * Never takes an allocator lock; async-signal-safety is not promised.
 */
unsigned bt_unwind(hs_frame_t *frames, unsigned max);

/* Fork child handler: a libunwind selection becomes BT_UNWIND_GCC.
 * Registered by bt_boot(); calling it again is harmless. */
void bt_postfork_child(void);

/* The unwinder in use now. */
bt_unwinder_t bt_unwinder(void);
/* Its name: "cfi", "libunwind", "gcc" or "fp". */
const char *bt_unwinder_name(void);

/*
 * The frame-pointer walk itself, exposed for tests: walks the chain of
 * records starting at fp, reading only records inside [lo, hi) as above,
 * and stores up to max return addresses.
 */
unsigned bt_fp_walk(uintptr_t fp, uintptr_t lo, uintptr_t hi,
                    hs_frame_t *frames, unsigned max);

#endif /* HS_BT_UNWIND_H */
