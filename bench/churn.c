/*
 * churn.c — small-object churn: tight malloc/free of 16..256 bytes over a
 * live set, on one or more threads that never share objects.
 *
 * Owns: the churn benchmark only.
 *
 * Shape, per thread and per iteration:
 *  - replace a random member of a `live`-object set (free the old one,
 *    allocate a new log-uniform min..max size) — the steady state of a
 *    program's small-object heap;
 *  - a malloc immediately followed by free (temporary buffers) — the pure
 *    thread-cache round trip;
 *  - every 64 iterations, a burst of 64 same-size objects freed in
 *    allocation order (FIFO), as list/tree building and teardown does.
 * This is the allocator's fast path and thread cache, nothing else: with
 * threads=2 the threads are independent and scale only if the allocator
 * has no shared state on the fast path.
 *
 * Checksum: sum of values read back from each object before it is freed;
 * per-thread deterministic, so the total is too.
 */
#include "bench_util.h"

#include <pthread.h>

enum { CHURN_BURST = 64 };

typedef struct churn_thread_s {
    pthread_t tid;
    long index;   /* seeds the thread's PRNG */
    uint64_t sum; /* owner thread only; read by main after join */
} churn_thread_t;

static long churn_iters, churn_live, churn_min, churn_max;

static uint64_t *
churn_new(bench_rng_t *rng, size_t size)
{
    uint64_t *p = bench_xmalloc(size);
    p[0] = bench_rng_next(rng);
    p[size / sizeof(uint64_t) - 1] = p[0] ^ size;
    return p;
}

static uint64_t
churn_free(uint64_t *p, size_t size)
{
    uint64_t v = p[0] + p[size / sizeof(uint64_t) - 1];
    free(p);
    return v;
}

static uint64_t
churn_burst(bench_rng_t *rng)
{
    uint64_t *burst[CHURN_BURST];
    size_t size = bench_rng_logsize(rng, (size_t)churn_min, (size_t)churn_max);
    uint64_t sum = 0;
    for (int i = 0; i < CHURN_BURST; i++)
        burst[i] = churn_new(rng, size);
    for (int i = 0; i < CHURN_BURST; i++)
        sum += churn_free(burst[i], size);
    return sum;
}

static void *
churn_thread(void *arg)
{
    churn_thread_t *self = arg;
    bench_rng_t rng = {bench_mix((uint64_t)self->index + 1)};
    uint64_t **slots = calloc((size_t)churn_live, sizeof(*slots));
    uint32_t *sizes = calloc((size_t)churn_live, sizeof(*sizes));
    uint64_t sum = 0;
    for (long it = 0; it < churn_iters; it++) {
        long i = (long)bench_rng_range(&rng, 0, (uint64_t)churn_live - 1);
        if (slots[i])
            sum += churn_free(slots[i], sizes[i]);
        sizes[i] = (uint32_t)bench_rng_logsize(&rng, (size_t)churn_min,
                                               (size_t)churn_max);
        slots[i] = churn_new(&rng, sizes[i]);

        size_t tmp =
            bench_rng_logsize(&rng, (size_t)churn_min, (size_t)churn_max);
        sum += churn_free(churn_new(&rng, tmp), tmp);
        if ((it & 63) == 63)
            sum += churn_burst(&rng);
    }
    for (long i = 0; i < churn_live; i++) {
        if (slots[i])
            sum += churn_free(slots[i], sizes[i]);
    }
    free(slots);
    free(sizes);
    self->sum = sum;
    return NULL;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"threads", 1, "independent threads"},
        {"iters", 10000000, "iterations per thread"},
        {"live", 10000, "live objects per thread"},
        {"min", 16, "smallest object, bytes (>= 16)"},
        {"max", 256, "largest object, bytes"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params, "small-object churn over a live set");
    long nt = bench_param(params, "threads");
    churn_iters = bench_param(params, "iters");
    churn_live = bench_param(params, "live");
    churn_min = bench_param(params, "min");
    churn_max = bench_param(params, "max");
    if (nt < 1 || churn_live < 1 || churn_min < 16 || churn_max < churn_min) {
        fprintf(stderr, "churn: bad parameters\n");
        return 2;
    }
    churn_thread_t *threads = calloc((size_t)nt, sizeof(*threads));
    for (long t = 0; t < nt; t++) {
        threads[t].index = t;
        pthread_create(&threads[t].tid, NULL, churn_thread, &threads[t]);
    }
    uint64_t sum = 0;
    for (long t = 0; t < nt; t++) {
        pthread_join(threads[t].tid, NULL);
        sum += threads[t].sum;
    }
    char extra[64];
    snprintf(extra, sizeof(extra), "threads=%ld iters=%ld", nt, churn_iters);
    bench_report("churn", sum, extra);
    free(threads);
    return 0;
}
