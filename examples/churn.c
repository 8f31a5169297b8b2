/*
 * churn.c — a small multi-threaded allocation workload for the demo.
 *
 * Each of NTHREADS threads keeps NSLOTS live blocks and, for ITERS steps,
 * frees a random slot and refills it with a block of a random size: mostly
 * small (8..512 bytes), some medium (1..32 KiB), a few large (64 KiB..1 MiB),
 * through malloc, calloc, realloc and aligned_alloc.  Every block is filled
 * with a pattern derived from its slot and size and checked before it is
 * freed, so a broken allocator shows up as "corrupt" rather than passing.
 *
 * leak_some_blocks() leaks LEAK_BLOCKS blocks on purpose: later work profiles
 * this program and must name that function as the leak site.
 *
 * The program is linked against the C library only; run it under
 * LD_PRELOAD=build/lib/libheapsight.so to serve it from heapsight.
 * Usage: hs_example_churn [threads [iterations]]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSLOTS 1024
#define LEAK_BLOCKS 3
#define LEAK_SIZE                                                              \
    (256 * 1024) /* large enough that 64 KiB sampling catches each */
#define MAX_THREADS 64

struct slot {
    unsigned char *p;
    size_t size;
};

struct worker {
    pthread_t thread;
    unsigned id;
    unsigned long iters;
    uint64_t rng;
    unsigned long ops;     /* allocations made */
    unsigned long corrupt; /* blocks whose pattern did not survive */
    uint64_t bytes;        /* bytes requested */
    struct slot slots[NSLOTS];
};

/* A volatile sink the compiler cannot see through: keeps leaked blocks real. */
static void *volatile leak_sink;

static uint64_t
rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic per thread, good enough for sizes. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static size_t
pick_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    unsigned kind = (unsigned)(r % 100);

    r >>= 8;
    if (kind < 85)
        return 8 + (size_t)(r % 505); /* small: 8..512 */
    if (kind < 98)
        return 1024 + (size_t)(r % (31 * 1024)); /* medium: 1..32 KiB */
    return 65536 + (size_t)(r % (960 * 1024));   /* large: 64 KiB..1 MiB */
}

static unsigned char
pattern(unsigned slot, size_t size)
{
    return (unsigned char)(slot * 31u + size * 7u + 1u);
}

/* Fills the first and last bytes (all of a small block) with the pattern. */
static void
fill(struct slot *s, unsigned idx)
{
    unsigned char c = pattern(idx, s->size);
    size_t n = s->size < 64 ? s->size : 64;

    memset(s->p, c, n);
    memset(s->p + s->size - n, c, n);
}

static int
check(const struct slot *s, unsigned idx)
{
    unsigned char c = pattern(idx, s->size);
    size_t n = s->size < 64 ? s->size : 64;

    for (size_t i = 0; i < n; i++) {
        if (s->p[i] != c || s->p[s->size - n + i] != c)
            return 0;
    }
    return 1;
}

/* Allocates a fresh block for slot idx; returns 0 on allocation failure. */
static int
refill(struct worker *w, unsigned idx)
{
    struct slot *s = &w->slots[idx];
    size_t size = pick_size(&w->rng);
    unsigned how = (unsigned)(rng_next(&w->rng) % 16);

    if (how == 0) {
        s->p = calloc(1, size);
        if (s->p != NULL && s->p[size - 1] != 0)
            w->corrupt++; /* calloc must return zeroed memory */
    } else if (how == 1) {
        size_t align = (size_t)64 << (rng_next(&w->rng) % 6); /* 64..2048 */
        size = (size + align - 1) / align * align; /* C11 wants a multiple */
        s->p = aligned_alloc(align, size);
        if (s->p != NULL && ((uintptr_t)s->p & (align - 1)) != 0)
            w->corrupt++;
    } else {
        s->p = malloc(size);
    }
    if (s->p == NULL)
        return 0;
    s->size = size;
    w->ops++;
    w->bytes += size;
    fill(s, idx);
    return 1;
}

/* Grows or shrinks the block of slot idx in place of a free + malloc. */
static int
resize(struct worker *w, unsigned idx)
{
    struct slot *s = &w->slots[idx];
    size_t size = pick_size(&w->rng);
    unsigned char *p;

    if (!check(s, idx))
        w->corrupt++;
    p = realloc(s->p, size);
    if (p == NULL)
        return 0;
    /* The kept prefix must have survived the move. */
    if (p[0] != pattern(idx, s->size))
        w->corrupt++;
    s->p = p;
    s->size = size;
    w->ops++;
    w->bytes += size;
    fill(s, idx);
    return 1;
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;

    for (unsigned i = 0; i < NSLOTS; i++) {
        if (!refill(w, i))
            return "out of memory";
    }
    for (unsigned long it = 0; it < w->iters; it++) {
        unsigned idx = (unsigned)(rng_next(&w->rng) % NSLOTS);
        struct slot *s = &w->slots[idx];

        if (rng_next(&w->rng) % 8 == 0) {
            if (!resize(w, idx))
                return "out of memory";
            continue;
        }
        if (!check(s, idx))
            w->corrupt++;
        free(s->p);
        if (!refill(w, idx))
            return "out of memory";
    }
    for (unsigned i = 0; i < NSLOTS; i++) {
        if (!check(&w->slots[i], i))
            w->corrupt++;
        free(w->slots[i].p);
    }
    return NULL;
}

/* The deliberate leak: LEAK_BLOCKS blocks whose pointers are dropped. */
__attribute__((noinline)) static size_t
leak_some_blocks(void)
{
    size_t total = 0;

    for (int i = 0; i < LEAK_BLOCKS; i++) {
        char *p = malloc(LEAK_SIZE);

        if (p == NULL)
            break;
        memset(p, 'L', LEAK_SIZE);
        leak_sink = p; /* overwritten next time round: the block leaks */
        total += LEAK_SIZE;
    }
    leak_sink = NULL;
    return total;
}

static unsigned long
parse_arg(const char *s, unsigned long min, unsigned long max)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "churn: bad argument '%s' (want %lu..%lu)\n", s, min,
                max);
        exit(2);
    }
    return v;
}

int
main(int argc, char **argv)
{
    unsigned nthreads = 4;
    unsigned long iters = 200000;
    unsigned long ops = 0, corrupt = 0;
    uint64_t bytes = 0;
    size_t leaked;
    struct worker *w;

    if (argc > 1)
        nthreads = (unsigned)parse_arg(argv[1], 1, MAX_THREADS);
    if (argc > 2)
        iters = parse_arg(argv[2], 0, 1000000000UL);

    leaked = leak_some_blocks();
    w = calloc(nthreads, sizeof(*w));
    if (w == NULL) {
        fprintf(stderr, "churn: out of memory\n");
        return 1;
    }
    for (unsigned t = 0; t < nthreads; t++) {
        w[t].id = t;
        w[t].iters = iters;
        w[t].rng = 0x9E3779B97F4A7C15ULL * (t + 1);
        if (pthread_create(&w[t].thread, NULL, worker_main, &w[t]) != 0) {
            fprintf(stderr, "churn: pthread_create failed\n");
            return 1;
        }
    }
    for (unsigned t = 0; t < nthreads; t++) {
        void *err;

        pthread_join(w[t].thread, &err);
        if (err != NULL) {
            fprintf(stderr, "churn: thread %u: %s\n", t, (char *)err);
            return 1;
        }
        ops += w[t].ops;
        bytes += w[t].bytes;
        corrupt += w[t].corrupt;
    }
    free(w);

    printf("churn: %u threads, %lu allocations, %.1f MiB requested, "
           "%lu corrupt, %d blocks (%zu bytes) leaked on purpose\n",
           nthreads, ops, (double)bytes / (1024.0 * 1024.0), corrupt,
           LEAK_BLOCKS, leaked);
    return corrupt == 0 ? 0 : 1;
}
