/*
 * prof_cost.c — the cost of one sampled allocation: malloc + free of one
 * object at a controlled stack depth, timed inside the process.
 *
 * Owns: the per-backtrace cost micro-benchmark only.  bench/prof_micro.sh
 * runs it under LD_PRELOAD twice per setting — unprofiled and with
 * HEAPSIGHT=prof:true,prof_sample:1 (every allocation sampled, so every
 * malloc unwinds the stack and every free updates its site) — and reports
 * the difference as the cost of one sampled allocation + free.
 *
 * Shape: main calls prof_cost_descend(depth), which recurses `depth`
 * levels (each level is a real frame: noinline, noipa, and a volatile
 * local read after the call, so GCC can neither inline, tail-call nor
 * turn the recursion into a loop), then runs `rounds` timed rounds of
 * `iters / rounds` malloc(size) + write + free pairs from the deepest
 * frame.  One untimed warm-up round first (first sample of a site,
 * unwinder caches, the thread's stack bounds).  A captured backtrace is
 * therefore depth + 5 frames deep: the loop, `depth` recursion frames,
 * main, __libc_start_call_main, __libc_start_main, _start
 * (prof_micro.sh checks this from a dump).  Built with frame pointers so
 * prof_unwind:fp walks the same stack as the other unwinders.
 *
 * Output: the bench_report line with ns_per_op_min (fastest round) and
 * ns_per_op_med (median round), each the round's wall time divided by
 * its malloc+free pairs.  On a loaded machine the minimum is the better
 * estimate of the work; the median shows how much the load adds.
 *
 * Checksum: sum of the bytes read back before each free; depends only on
 * the parameters.
 */
#include "bench_util.h"

#include <time.h>

static long pc_iters, pc_rounds, pc_size;
static double *pc_ns; /* per-round ns per op; main thread only */

/* One round: n malloc+free pairs from this (the deepest) frame. */
static __attribute__((noinline, noipa)) uint64_t
prof_cost_round(long n)
{
    uint64_t sum = 0;
    size_t size = (size_t)pc_size;
    for (long i = 0; i < n; i++) {
        unsigned char *p = bench_xmalloc(size);
        p[0] = (unsigned char)i;
        p[size - 1] = (unsigned char)(i >> 8);
        sum += (uint64_t)p[0] + p[size - 1];
        free(p);
    }
    return sum;
}

static __attribute__((noinline, noipa)) uint64_t
prof_cost_loop(void)
{
    long per_round = pc_iters / pc_rounds;
    uint64_t sum = prof_cost_round(per_round); /* warm-up, untimed */
    for (long r = 0; r < pc_rounds; r++) {
        int64_t t0 = bench_now_ns();
        sum += prof_cost_round(per_round);
        pc_ns[r] = (double)(bench_now_ns() - t0) / (double)per_round;
    }
    return sum;
}

/* depth levels of real frames, then the loop. */
static __attribute__((noinline, noipa)) uint64_t
prof_cost_descend(long depth)
{
    volatile long keep = depth; /* lives across the call: no tail call */
    uint64_t r = depth <= 1 ? prof_cost_loop() : prof_cost_descend(depth - 1);
    return r + (uint64_t)(keep - depth); /* + 0, unknown to GCC */
}

static int
pc_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"depth", 30, "recursion levels above the malloc loop (>= 1)"},
        {"iters", 200000, "timed malloc+free pairs in total"},
        {"rounds", 10, "timed rounds (report: fastest and median)"},
        {"size", 64, "bytes per allocation (>= 2)"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "malloc+free pairs at a controlled stack depth, timed "
                     "in process (cost per sampled backtrace)");
    long depth = bench_param(params, "depth");
    pc_iters = bench_param(params, "iters");
    pc_rounds = bench_param(params, "rounds");
    pc_size = bench_param(params, "size");
    if (depth < 1 || pc_rounds < 1 || pc_iters < pc_rounds || pc_size < 2) {
        fprintf(stderr, "prof_cost: need depth >= 1, iters >= rounds >= 1, "
                        "size >= 2\n");
        return 2;
    }
    pc_ns = calloc((size_t)pc_rounds, sizeof(double));
    if (!pc_ns)
        return 3;
    uint64_t sum = prof_cost_descend(depth);
    long per_round = pc_iters / pc_rounds;
    uint64_t expect = 0;
    for (long i = 0; i < per_round; i++)
        expect += (uint64_t)(unsigned char)i + (unsigned char)(i >> 8);
    expect *= (uint64_t)pc_rounds + 1;
    int ok = sum == expect;
    qsort(pc_ns, (size_t)pc_rounds, sizeof(double), pc_cmp);
    double med = pc_rounds % 2
                     ? pc_ns[pc_rounds / 2]
                     : (pc_ns[pc_rounds / 2 - 1] + pc_ns[pc_rounds / 2]) / 2;
    char extra[160];
    snprintf(extra, sizeof(extra),
             "depth=%ld size=%ld ops_per_round=%ld ns_per_op_min=%.1f "
             "ns_per_op_med=%.1f%s",
             depth, pc_size, per_round, pc_ns[0], med,
             ok ? "" : " READBACK_MISMATCH");
    bench_report("prof_cost", bench_mix(expect ^ (uint64_t)depth), extra);
    free(pc_ns);
    return ok ? 0 : 1;
}
