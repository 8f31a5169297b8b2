/*
 * pairs.c — xmalloc-style producer/consumer pairs: each producer's blocks
 * are freed by its own consumer, one block at a time.
 *
 * Owns: the pairs benchmark only.
 *
 * Shape (after xmalloc-test, Lever & Boreham, "malloc() Performance in a
 * Multithreaded Linux Environment", USENIX 2000, as mimalloc-bench runs
 * it): `pairs` pairs of threads.  Each producer mallocs `blocks` blocks of
 * min..max bytes (uniform; min == max gives fixed-size blocks, like
 * xmalloc-test -s 64), writes a value into each, and pushes it onto its
 * pair's queue; the pair's consumer pops each block, reads it and frees
 * it.  Unlike bench/prodcons.c (one shared queue, batches, any consumer
 * frees any message), a block's allocating and freeing thread are fixed
 * and each free is a single remote free: the allocator's remote-free path
 * for one steady pair of threads, with no queue lock in the way.
 *
 * Arguments (name=value; defaults): pairs=2, blocks=4000000 (per
 * producer), min=16, max=256, depth=1024 (queue capacity, a power of
 * two).
 *
 * Queue: a single-producer single-consumer ring of `depth` pointers per
 * pair.  Invariant: 0 <= tail - head <= depth, where tail (atomic) is
 * written by the producer only and head (atomic) by the consumer only;
 * the release store of tail publishes the block's contents, the release
 * store of head hands the slot back.  A thread that finds the ring full
 * (empty) spins briefly, then yields: with 2 pairs on 2 cores, spinning
 * alone would burn the time slice of the thread it waits for.  The end of
 * a producer's stream is a NULL block.
 *
 * Checksum: the sum over blocks of bench_mix(value) + the block's last
 * byte; each producer's sequence is fixed by its index, so the total does
 * not depend on interleaving.
 */
#include "bench_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

enum { PAIRS_SPINS = 64 };

typedef struct pairs_ring_s {
    _Alignas(64) atomic_size_t head; /* atomic; written by the consumer */
    _Alignas(64) atomic_size_t tail; /* atomic; written by the producer */
    _Alignas(64) void **slots;       /* set before the threads start */
    uint64_t seed;                   /* set before the threads start */
    uint64_t sum;                    /* consumer only; read after join */
} pairs_ring_t;

typedef struct pairs_block_s {
    uint64_t value;
} pairs_block_t;

static long pairs_blocks, pairs_min, pairs_max;
static size_t pairs_depth;

static void
pairs_wait(unsigned *spins)
{
    if (++*spins < PAIRS_SPINS) {
        __asm__ volatile("" ::: "memory");
        return;
    }
    *spins = 0;
    sched_yield();
}

static void
pairs_push(pairs_ring_t *ring, void *p)
{
    size_t t = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    unsigned spins = 0;
    while (t - atomic_load_explicit(&ring->head, memory_order_acquire) >=
           pairs_depth)
        pairs_wait(&spins);
    ring->slots[t & (pairs_depth - 1)] = p;
    atomic_store_explicit(&ring->tail, t + 1, memory_order_release);
}

static void *
pairs_pop(pairs_ring_t *ring)
{
    size_t h = atomic_load_explicit(&ring->head, memory_order_relaxed);
    unsigned spins = 0;
    while (atomic_load_explicit(&ring->tail, memory_order_acquire) == h)
        pairs_wait(&spins);
    void *p = ring->slots[h & (pairs_depth - 1)];
    atomic_store_explicit(&ring->head, h + 1, memory_order_release);
    return p;
}

/* Size from the value, so the consumer finds the last byte. */
static size_t
pairs_size(uint64_t value)
{
    return (size_t)pairs_min +
           (size_t)((value >> 20) % (uint64_t)(pairs_max - pairs_min + 1));
}

static void *
pairs_producer(void *arg)
{
    pairs_ring_t *ring = arg;
    bench_rng_t rng = {ring->seed};
    for (long i = 0; i < pairs_blocks; i++) {
        uint64_t value = bench_rng_next(&rng);
        size_t size = pairs_size(value);
        pairs_block_t *b = bench_xmalloc(size);
        b->value = value;
        ((unsigned char *)b)[size - 1] = (unsigned char)(value >> 8);
        pairs_push(ring, b);
    }
    pairs_push(ring, NULL);
    return NULL;
}

static void *
pairs_consumer(void *arg)
{
    pairs_ring_t *ring = arg;
    uint64_t sum = 0;
    pairs_block_t *b;
    while ((b = pairs_pop(ring)) != NULL) {
        size_t size = pairs_size(b->value);
        sum += bench_mix(b->value) + ((unsigned char *)b)[size - 1];
        free(b);
    }
    ring->sum = sum;
    return NULL;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"pairs", 2, "producer/consumer pairs (2 threads each)"},
        {"blocks", 4000000, "blocks per producer"},
        {"min", 16, "smallest block, bytes (>= 9)"},
        {"max", 256, "largest block, bytes (max = min: fixed size)"},
        {"depth", 1024, "queue capacity per pair (a power of two)"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "xmalloc-style pairs: each producer's blocks freed by "
                     "its own consumer");
    long np = bench_param(params, "pairs");
    pairs_blocks = bench_param(params, "blocks");
    pairs_min = bench_param(params, "min");
    pairs_max = bench_param(params, "max");
    long depth = bench_param(params, "depth");
    if (np < 1 || pairs_blocks < 0 ||
        pairs_min <= (long)sizeof(pairs_block_t) || pairs_max < pairs_min ||
        depth < 2 || (depth & (depth - 1)) != 0) {
        fprintf(stderr, "pairs: bad parameters\n");
        return 2;
    }
    pairs_depth = (size_t)depth;

    pairs_ring_t *rings = aligned_alloc(64, (size_t)np * sizeof(*rings));
    pthread_t *tids = calloc((size_t)(2 * np), sizeof(pthread_t));
    memset(rings, 0, (size_t)np * sizeof(*rings));
    for (long p = 0; p < np; p++) {
        rings[p].slots = calloc(pairs_depth, sizeof(void *));
        rings[p].seed = bench_mix((uint64_t)p * 0x51ed27u + 17);
    }
    for (long p = 0; p < np; p++) {
        pthread_create(&tids[2 * p], NULL, pairs_producer, &rings[p]);
        pthread_create(&tids[2 * p + 1], NULL, pairs_consumer, &rings[p]);
    }
    for (long i = 0; i < 2 * np; i++)
        pthread_join(tids[i], NULL);
    uint64_t sum = 0;
    for (long p = 0; p < np; p++) {
        sum += rings[p].sum;
        free(rings[p].slots);
    }
    char extra[96];
    snprintf(extra, sizeof(extra), "pairs=%ld blocks=%ld min=%ld max=%ld", np,
             np * pairs_blocks, pairs_min, pairs_max);
    bench_report("pairs", sum, extra);
    free(tids);
    free(rings);
    return 0;
}
