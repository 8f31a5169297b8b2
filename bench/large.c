/*
 * large.c — large allocations: 32 KiB .. 8 MiB, every page touched.
 *
 * Owns: the large benchmark only.
 *
 * Shape: `threads` threads each keep `live` slots; each iteration replaces
 * a random slot with a log-uniform min..max allocation and writes one byte
 * in every 4 KiB page of it (so the cost of fresh pages — page faults,
 * zeroing, and the allocator's choice between reusing dirty memory and
 * asking the kernel — is part of the measurement).  Before a free, the
 * touched bytes are read back.  This is the extent/page layer: large size
 * classes, extent reuse and splitting, purging/decay, and mmap/munmap
 * traffic.  Peak RSS here shows how much freed memory an allocator keeps.
 *
 * Checksum: the bytes read back before each free; deterministic.
 */
#include "bench_util.h"

#include <pthread.h>

enum { LARGE_PAGE = 4096 };

typedef struct large_thread_s {
    pthread_t tid;
    long index;
    uint64_t sum; /* owner thread only; read by main after join */
} large_thread_t;

static long large_iters, large_live, large_min, large_max;

static void
large_touch(unsigned char *p, size_t size, unsigned char v)
{
    for (size_t off = 0; off < size; off += LARGE_PAGE)
        p[off] = (unsigned char)(v + (off >> 12));
    p[size - 1] = v;
}

static uint64_t
large_release(unsigned char *p, size_t size)
{
    uint64_t sum = 0;
    for (size_t off = 0; off < size; off += LARGE_PAGE)
        sum += p[off];
    sum += p[size - 1];
    free(p);
    return sum;
}

static void *
large_thread(void *arg)
{
    large_thread_t *self = arg;
    bench_rng_t rng = {bench_mix((uint64_t)self->index + 99)};
    unsigned char **slots = calloc((size_t)large_live, sizeof(*slots));
    size_t *sizes = calloc((size_t)large_live, sizeof(*sizes));
    uint64_t sum = 0;
    for (long it = 0; it < large_iters; it++) {
        long i = (long)bench_rng_range(&rng, 0, (uint64_t)large_live - 1);
        if (slots[i])
            sum += large_release(slots[i], sizes[i]);
        sizes[i] =
            bench_rng_logsize(&rng, (size_t)large_min, (size_t)large_max);
        slots[i] = bench_xmalloc(sizes[i]);
        large_touch(slots[i], sizes[i], (unsigned char)it);
    }
    for (long i = 0; i < large_live; i++) {
        if (slots[i])
            sum += large_release(slots[i], sizes[i]);
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
        {"iters", 40000, "allocations per thread"},
        {"live", 24, "live allocations per thread"},
        {"min", 32 << 10, "smallest allocation, bytes"},
        {"max", 8 << 20, "largest allocation, bytes"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "large allocations with every page touched");
    long nt = bench_param(params, "threads");
    large_iters = bench_param(params, "iters");
    large_live = bench_param(params, "live");
    large_min = bench_param(params, "min");
    large_max = bench_param(params, "max");
    if (nt < 1 || large_live < 1 || large_min < 1 || large_max < large_min) {
        fprintf(stderr, "large: bad parameters\n");
        return 2;
    }
    large_thread_t *threads = calloc((size_t)nt, sizeof(*threads));
    for (long t = 0; t < nt; t++) {
        threads[t].index = t;
        pthread_create(&threads[t].tid, NULL, large_thread, &threads[t]);
    }
    uint64_t sum = 0;
    for (long t = 0; t < nt; t++) {
        pthread_join(threads[t].tid, NULL);
        sum += threads[t].sum;
    }
    char extra[64];
    snprintf(extra, sizeof(extra), "threads=%ld iters=%ld", nt, large_iters);
    bench_report("large", sum, extra);
    free(threads);
    return 0;
}
