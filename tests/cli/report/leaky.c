/*
 * leaky.c — a small C program for the report subcommands' end-to-end
 * case: run under `heapsight run` (or with the library preloaded), its
 * final dump holds known live and freed allocations.
 *
 * What it does, in order (sizes chosen so that, sampled every 1 KiB, each
 * site is sampled hundreds of times and its estimate is within a few
 * percent):
 *   report_churn        20000 x 100 bytes, each freed at once: allocated,
 *                       never live at exit;
 *   report_leak_small   4000 x 64 bytes kept (250,000 bytes live) @small;
 *   report_recurse(3)   recursion 4 deep, then report_leak_big:
 *                       32 x 16 KiB kept (512 KiB live) @big.
 * The kept pointers stay reachable in static arrays: live, as far as a
 * heap profile knows.  Markers (@name) give the test the source lines.
 */
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))
#define SMALL_N 4000
#define BIG_N 32

static void *volatile sink;
/* volatile: the compiler may not drop a malloc whose result nobody reads. */
static void *volatile kept_small[SMALL_N];
static void *volatile kept_big[BIG_N];

NOINLINE void
report_churn(void)
{
    for (int i = 0; i < 20000; i++) {
        void *p = malloc(100);
        sink = p;
        free(p);
    }
}

NOINLINE void
report_leak_small(void)
{
    for (int i = 0; i < SMALL_N; i++)
        kept_small[i] = malloc(64); /* @small */
}

NOINLINE void
report_leak_big(void)
{
    for (int i = 0; i < BIG_N; i++)
        kept_big[i] = malloc(16384); /* @big */
}

NOINLINE int
report_recurse(int depth)
{
    if (depth == 0) {
        report_leak_big();
        return 0;
    }
    int r = report_recurse(depth - 1);
    sink = &r; /* no tail call: every level stays on the stack */
    return r + 1;
}

int
main(void)
{
    report_churn();
    report_leak_small();
    int depth = report_recurse(3);
    printf("leaky: done (%d)\n", depth);
    return 0;
}
