/*
 * stress_realloc.c — random sequences of malloc, calloc, realloc and free
 * with content checks, sizes from 0 to several MiB.
 *
 * Owns: the random walk over STRESS_SLOTS slots.  Each live block carries
 * a seed; its bytes [0, len) always hold the pattern of that seed.  On
 * realloc the first min(old, new) bytes must survive, then [old, new) is
 * filled with the same seed's pattern; on free the whole block is checked.
 *
 * Two runs: one with a fixed seed (reproducible), one with a seed taken
 * from the clock (or STRESS_REALLOC_SEED) and printed, so a failure can
 * be replayed with `STRESS_REALLOC_SEED=<seed> stress_realloc`.  Two
 * threads run each walk concurrently with different seeds, so size
 * classes are shared.
 */
#include "hs_test.h"
#include "it_util.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    STRESS_SLOTS = 512,
    STRESS_STEPS = 120000, /* per thread and run */
    STRESS_THREADS = 2,
};

struct stress_walk {
    uint64_t seed;      /* the seed this walk started from */
    uint64_t failures;  /* owner thread only; read after join */
    uint64_t first_bad; /* step of the first failure */
};

/* 0..1 KiB mostly, 1..64 KiB sometimes, up to 6 MiB rarely. */
static size_t
stress_size(uint64_t *rng)
{
    uint64_t r = it_rand(rng);
    unsigned bucket = (unsigned)(r % 1000);
    r >>= 10;
    if (bucket < 880)
        return (size_t)(r % 1025);
    if (bucket < 990)
        return 1024 + (size_t)(r % (63 << 10));
    /* log-uniform between 64 KiB and 6 MiB */
    unsigned shift = 16 + (unsigned)(r % 7);
    size_t n = ((size_t)1 << shift) + (size_t)((r >> 3) % (1u << shift));
    return n < ((size_t)6 << 20) ? n : ((size_t)6 << 20);
}

static void
stress_fail(struct stress_walk *w, uint64_t step, const char *what,
            size_t a, size_t b)
{
    if (w->failures++ == 0)
        w->first_bad = step;
    if (w->failures <= 5)
        HS_FAIL("walk seed %llu step %llu: %s (%zu, %zu)",
                (unsigned long long)w->seed, (unsigned long long)step, what,
                a, b);
}

static void *
stress_walk_main(void *arg)
{
    struct stress_walk *w = arg;
    static _Thread_local unsigned char *live[STRESS_SLOTS];
    static _Thread_local size_t len[STRESS_SLOTS];
    static _Thread_local uint64_t seed[STRESS_SLOTS];
    uint64_t rng = w->seed;
    for (uint64_t step = 0; step < STRESS_STEPS; step++) {
        size_t i = it_rand(&rng) % STRESS_SLOTS;
        unsigned op = (unsigned)(it_rand(&rng) % 10);
        if (live[i] == NULL) {
            size_t n = stress_size(&rng);
            seed[i] = it_rand(&rng);
            if (op < 2)
                live[i] = calloc(1, n);
            else if (op < 4)
                live[i] = realloc(NULL, n);
            else
                live[i] = malloc(n);
            if (live[i] == NULL) {
                stress_fail(w, step, "allocation failed", n, 0);
                continue;
            }
            if (op < 2 && it_check_byte(live[i], n, 0) != n)
                stress_fail(w, step, "calloc not zeroed", n, 0);
            it_fill(live[i], n, seed[i]);
            len[i] = n;
        } else if (op < 6) {
            size_t n = stress_size(&rng), old = len[i];
            size_t keep = old < n ? old : n;
            unsigned char *q = realloc(live[i], n);
            if (q == NULL && n != 0) {
                stress_fail(w, step, "realloc failed", old, n);
                continue;
            }
            if (q == NULL) { /* realloc(p, 0) freed the block */
                live[i] = NULL;
                continue;
            }
            size_t at = it_check(q, keep, seed[i]);
            if (at != keep)
                stress_fail(w, step, "realloc lost byte (old, new)", old,
                            n);
            if (malloc_usable_size(q) < n)
                stress_fail(w, step, "usable size below request", n,
                            malloc_usable_size(q));
            it_fill_range(q, keep, n, seed[i]);
            live[i] = q;
            len[i] = n;
        } else {
            if (it_check(live[i], len[i], seed[i]) != len[i])
                stress_fail(w, step, "block corrupted before free", len[i],
                            0);
            free(live[i]);
            live[i] = NULL;
        }
    }
    for (size_t i = 0; i < STRESS_SLOTS; i++) {
        if (live[i] != NULL &&
            it_check(live[i], len[i], seed[i]) != len[i])
            stress_fail(w, STRESS_STEPS, "block corrupted at end", len[i], 0);
        free(live[i]);
        live[i] = NULL;
    }
    return NULL;
}

static void
stress_run(uint64_t seed)
{
    pthread_t t[STRESS_THREADS];
    struct stress_walk w[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        w[i] = (struct stress_walk){seed + (uint64_t)i * 1000003, 0, 0};
        HS_ASSERT_EQ_INT(pthread_create(&t[i], NULL, stress_walk_main,
                                        &w[i]), 0);
    }
    for (int i = 0; i < STRESS_THREADS; i++)
        HS_ASSERT_EQ_INT(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < STRESS_THREADS; i++) {
        if (w[i].failures != 0)
            printf("  thread %d of run with seed %llu: %llu failures, "
                   "first at step %llu; replay with "
                   "STRESS_REALLOC_SEED=%llu stress_realloc\n",
                   i, (unsigned long long)seed,
                   (unsigned long long)w[i].failures,
                   (unsigned long long)w[i].first_bad,
                   (unsigned long long)seed);
        HS_EXPECT_EQ_U64(w[i].failures, 0);
    }
}

HS_TEST(random_walk_fixed_seed)
{
    stress_run(20240601);
}

HS_TEST(random_walk_clock_seed)
{
    const char *env = getenv("STRESS_REALLOC_SEED");
    uint64_t seed;
    if (env != NULL && *env != '\0') {
        seed = strtoull(env, NULL, 10);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    printf("  clock seed %llu (replay with STRESS_REALLOC_SEED=%llu)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    stress_run(seed);
}

HS_TEST_MAIN()
