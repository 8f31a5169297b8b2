/*
 * bench_util.h — the small toolkit every workload in bench/ shares.
 *
 * Owns: the key=value argument reader, the deterministic PRNG, size
 * distributions, the checksum mixer and the end-of-run report line.
 * Does not own: timing or peak-RSS measurement (bench/runner.c does that
 * from outside, with wait4, so every allocator is measured the same way).
 *
 * Workloads are plain C11 + pthreads and are NOT linked to heapsight: they
 * are run with LD_PRELOAD, so they must call only the standard allocation
 * entry points.  Everything here is static inline so each workload is one
 * translation unit.
 *
 * Determinism: each workload's checksum depends only on its parameters and
 * on the contents of the objects it allocates — never on addresses or on
 * thread interleaving — so bench/run.sh can compare checksums across
 * allocators as a cheap correctness check.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* One parameter a workload accepts: name, default, one-line doc. */
typedef struct bench_param_s {
    const char *name;
    long value;
    const char *doc;
} bench_param_t;

/*
 * Parses argv as name=value pairs into params (a NULL-name terminated
 * table).  "-h"/"--help" prints the table and exits; an unknown name or a
 * malformed value is a usage error (exit 2), never silently ignored.
 */
static inline void
bench_parse_args(int argc, char **argv, bench_param_t *params, const char *what)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            printf("%s: %s\nparameters (name=value):\n", argv[0], what);
            for (bench_param_t *p = params; p->name; p++)
                printf("  %-12s %10ld  %s\n", p->name, p->value, p->doc);
            exit(0);
        }
        const char *eq = strchr(arg, '=');
        bench_param_t *p = params;
        for (; eq && p->name; p++) {
            size_t n = strlen(p->name);
            if ((size_t)(eq - arg) == n && strncmp(arg, p->name, n) == 0)
                break;
        }
        char *end = NULL;
        if (eq && p->name)
            p->value = strtol(eq + 1, &end, 0);
        if (!eq || !p->name || end == eq + 1 || *end != '\0') {
            fprintf(stderr, "%s: bad argument '%s' (try --help)\n", argv[0],
                    arg);
            exit(2);
        }
    }
}

/* The value of parameter name; aborts on a name missing from the table. */
static inline long
bench_param(const bench_param_t *params, const char *name)
{
    for (const bench_param_t *p = params; p->name; p++) {
        if (strcmp(p->name, name) == 0)
            return p->value;
    }
    fprintf(stderr, "bench: no parameter '%s'\n", name);
    abort();
}

/* splitmix64: tiny, good enough, and seedable per thread. */
typedef struct bench_rng_s {
    uint64_t state;
} bench_rng_t;

static inline uint64_t
bench_rng_next(bench_rng_t *rng)
{
    uint64_t z = (rng->state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]; the tiny modulo bias does not matter here. */
static inline uint64_t
bench_rng_range(bench_rng_t *rng, uint64_t lo, uint64_t hi)
{
    return lo + bench_rng_next(rng) % (hi - lo + 1);
}

/*
 * Log-uniform in [lo, hi]: a power-of-two bucket [2^k, 2^(k+1)) is picked
 * uniformly, then a size uniformly inside it (clipped to [lo, hi]), so
 * there are as many objects in 16..31 as in 512..1023 — closer to real
 * programs than a flat distribution (small sizes dominate by count).  A
 * power-of-two hi is the exclusive end of the last bucket, so it does not
 * get a degenerate bucket of its own.
 */
static inline size_t
bench_rng_logsize(bench_rng_t *rng, size_t lo, size_t hi)
{
    unsigned lg_lo = 63 - (unsigned)__builtin_clzll(lo);
    unsigned lg_hi = 63 - (unsigned)__builtin_clzll(hi);
    if ((hi & (hi - 1)) == 0 && lg_hi > lg_lo)
        lg_hi--;
    unsigned lg = (unsigned)bench_rng_range(rng, lg_lo, lg_hi);
    size_t first = (size_t)1 << lg;
    size_t last = (first << 1) - 1;
    if (first < lo)
        first = lo;
    if (last > hi)
        last = hi;
    return (size_t)bench_rng_range(rng, first, last);
}

/* Order-insensitive accumulation, so interleaving cannot change it. */
static inline uint64_t
bench_mix(uint64_t v)
{
    v ^= v >> 33;
    v *= UINT64_C(0xff51afd7ed558ccd);
    v ^= v >> 33;
    return v;
}

/* The monotonic clock, in nanoseconds. */
static inline int64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Peak RSS of this process so far, in KiB (Linux reports ru_maxrss in KiB). */
static inline long
bench_peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Current RSS in KiB from /proc/self/statm; -1 if unreadable. */
static inline long
bench_cur_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total = 0, pages_res = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages_total, &pages_res) != 2)
        pages_res = -1;
    fclose(f);
    return pages_res < 0 ? -1 : pages_res * 4;
}

/*
 * The one line run.sh parses: "checksum=<hex>" first, then free-form
 * key=value details.
 */
static inline void
bench_report(const char *name, uint64_t checksum, const char *extra)
{
    printf("checksum=%016" PRIx64 " workload=%s%s%s\n", checksum, name,
           extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/*
 * malloc that exits on failure (a benchmark has no recovery path).  The
 * empty asm makes the pointer escape, so the compiler cannot prove a
 * malloc/free pair dead and delete it (GCC does, for non-escaping
 * pointers), whatever the caller does with the memory.
 */
static inline void *
bench_xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p) {
        fprintf(stderr, "bench: malloc(%zu) failed\n", size);
        exit(3);
    }
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

#endif /* BENCH_UTIL_H */
