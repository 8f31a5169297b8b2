/*
 * unwind_bench.c — the cost of one backtrace of 30 frames with each
 * unwinder (not a test; unwind.h quotes its output).  The program recurses
 * 40 levels deep (its own functions have frame pointers, so every
 * unwinder sees all of them) and times bt_unwind(frames, 30) in a loop.
 *
 *   cmake --build BUILD --target bt_unwind_bench
 *   BUILD/tests/unit/backtrace_hooks/bt_unwind_bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../../backtrace_hooks/unwind.h"

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

__attribute__((noinline, noclone)) double
bench_at_depth(unsigned depth, unsigned iters, unsigned *r_n)
{
    if (depth > 0) {
        double r = bench_at_depth(depth - 1, iters, r_n);
        __asm__ volatile("" ::: "memory");
        return r;
    }
    hs_frame_t frames[30];
    for (unsigned i = 0; i < 1000; i++) /* warm caches */
        *r_n = bt_unwind(frames, 30);
    double t0 = now_ns();
    for (unsigned i = 0; i < iters; i++)
        *r_n = bt_unwind(frames, 30);
    return (now_ns() - t0) / iters;
}

int
main(int argc, char **argv)
{
    unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 200000;
    static const bt_unwinder_t all[] = {BT_UNWIND_LIBUNWIND, BT_UNWIND_GCC,
                                        BT_UNWIND_FP};
    for (unsigned k = 0; k < 3; k++) {
        if (!bt_boot(all[k])) {
            printf("%-10s unavailable\n", "libunwind");
            continue;
        }
        unsigned n = 0;
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double ns = bench_at_depth(40, iters, &n);
            best = ns < best ? ns : best;
        }
        printf("%-10s %3u frames  %8.1f ns per backtrace\n", bt_unwinder_name(),
               n, best);
    }
    return 0;
}
