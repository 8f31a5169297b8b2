/*
 * sample.c — exponential gaps and inverse-probability weights (see
 * sample.h).
 *
 * The random stream is xorshift64* per thread, seeded from the thread's id,
 * the clock and the process's AT_RANDOM bytes; it needs no lock and never
 * allocates.  A gap is -ln(u) * R for u uniform in (0, 1], rounded up.
 */
#include "sample.h"

#include <math.h>
#include <stdatomic.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "../alloc/util/util.h"

static _Atomic(uint64_t) interval = 512 * 1024;

typedef struct sample_rng_s {
    uint64_t state;
} sample_rng_t;

static HS_TLS sample_rng_t rng_main;
static HS_TLS sample_rng_t rng_foreign;

uint64_t
sample_interval(void)
{
    return atomic_load_explicit(&interval, memory_order_relaxed);
}

void
sample_set_interval(uint64_t r)
{
    atomic_store_explicit(&interval, r == 0 ? 1 : r, memory_order_relaxed);
}

static uint64_t
rng_seed(uint64_t salt)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t s = (uint64_t)gettid() * 0x9e3779b97f4a7c15u ^
                 (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ salt;
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    for (int i = 0; r != NULL && i < 8; i++)
        s = (s << 8 | s >> 56) ^ r[i];
    return s == 0 ? 1 : s;
}

static uint64_t
rng_next(sample_rng_t *g, uint64_t salt)
{
    if (unlikely(g->state == 0))
        g->state = rng_seed(salt);
    uint64_t x = g->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->state = x;
    return x * 0x2545f4914f6cdd1du;
}

static uint64_t
gap_from(sample_rng_t *g, uint64_t salt)
{
    uint64_t r = sample_interval();
    if (r <= 1)
        return 0; /* exact mode: the very next allocation */
    /* u in (0, 1]: 53 random bits, never zero. */
    double u = (double)((rng_next(g, salt) >> 11) + 1) * 0x1.0p-53;
    double gap = -log(u) * (double)r;
    if (gap >= 0x1.0p63)
        return UINT64_MAX;
    return (uint64_t)gap + 1;
}

uint64_t
sample_next_gap(void)
{
    return gap_from(&rng_main, 1);
}

uint64_t
sample_next_gap_foreign(void)
{
    return gap_from(&rng_foreign, 2);
}

double
sample_weight(size_t usize, uint64_t r)
{
    if (r <= 1 || usize == 0)
        return 1.0;
    /* 1 / (1 - e^-x), computed with expm1 so tiny x keeps its precision. */
    double x = (double)usize / (double)r;
    return -1.0 / expm1(-x);
}
