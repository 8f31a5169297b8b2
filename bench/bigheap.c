/*
 * bigheap.c — a large, long-lived heap read at random: what a service that
 * keeps gigabytes live does between requests, and where TLB misses cost.
 *
 * Owns: the bigheap benchmark only.
 *
 * Shape: `mib` MiB of objects of 1–32 KiB (log-uniform; what the
 * hugepage-aware allocator serves from pageslabs, and the PAC from
 * extents) are allocated and filled, then `reads` random objects are
 * visited, each at a random 64-byte line (a dependent chain: the next
 * object depends on what the last read returned), with 1 in 64 visits
 * replacing the object by a new one of another size — a slowly churning,
 * mostly stable heap.  The read phase dominates the run, so transparent
 * huge pages under the heap (fewer TLB misses) show in the time.
 *
 * Checksum: the sum of the words read; deterministic.
 */
#include "bench_util.h"

typedef struct obj_s {
    size_t size;
    uint64_t words[];
} obj_t;

static obj_t *
obj_new(bench_rng_t *rng, uint64_t seed)
{
    size_t size = bench_rng_logsize(rng, 1024, 32768);
    obj_t *o = malloc(size);
    if (o == NULL) {
        fprintf(stderr, "bigheap: out of memory\n");
        exit(3);
    }
    o->size = size;
    size_t n = (size - sizeof(obj_t)) / 8;
    for (size_t i = 0; i < n; i++)
        o->words[i] = bench_mix(seed + i);
    return o;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"mib", 1024, "live heap, MiB"},
        {"reads", 10000000, "random object visits"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "a large long-lived heap read at random");
    size_t budget = (size_t)bench_param(params, "mib") << 20;
    long reads = bench_param(params, "reads");
    if (budget == 0 || reads < 1) {
        fprintf(stderr, "bigheap: bad parameters\n");
        return 2;
    }
    size_t cap = budget / 1024 + 1, n = 0, bytes = 0;
    obj_t **objs = malloc(cap * sizeof(*objs));
    if (objs == NULL)
        return 3;
    bench_rng_t rng = {11};
    while (bytes < budget && n < cap) {
        objs[n] = obj_new(&rng, n);
        bytes += objs[n]->size;
        n++;
    }
    uint64_t sum = 0, x = 12345;
    for (long r = 0; r < reads; r++) {
        size_t k = (size_t)((x ^ bench_rng_next(&rng)) % n);
        obj_t *o = objs[k];
        size_t words = (o->size - sizeof(obj_t)) / 8;
        size_t at = (size_t)(x % (words / 8 + 1)) * 8;
        if (at >= words)
            at = 0;
        x = o->words[at];
        sum += x;
        if ((r & 63) == 0) {
            free(o);
            objs[k] = obj_new(&rng, (uint64_t)r);
        }
    }
    char extra[96];
    snprintf(extra, sizeof(extra), "objects=%zu live_mib=%zu peak_rss_mib=%.1f",
             n, bytes >> 20, (double)bench_peak_rss_kib() / 1024.0);
    bench_report("bigheap", sum, extra);
    for (size_t i = 0; i < n; i++)
        free(objs[i]);
    free(objs);
    return 0;
}
