/*
 * stress_xthread.c — many threads allocate blocks of random sizes and hand
 * them to each other through a shared exchange, so most frees happen on a
 * thread other than the allocating one.
 *
 * Owns: the exchange (STRESS_SLOTS slots, one mutex each; a slot holds at
 * most one block and its record) and the per-thread workers.  Every block
 * is filled with a pattern seeded by (id, address) when allocated and
 * checked in full before it is freed, so a block handed out twice while
 * live, a block written after free, or a block handed out overlapping
 * another shows up as a pattern mismatch.
 *
 * Invariant checked at the end: blocks allocated == blocks verified and
 * freed, with zero mismatches.
 */
#include "hs_test.h"
#include "it_util.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    STRESS_THREADS = 8,
    STRESS_OPS = 150000, /* per thread */
    STRESS_SLOTS = 4096,
};

struct stress_block {
    unsigned char *p;
    size_t n;
    uint64_t id;
};

struct stress_slot {
    pthread_mutex_t lock;
    struct stress_block b; /* guarded by lock; b.p == NULL when empty */
};

static struct stress_slot stress_slots[STRESS_SLOTS];
static atomic_ulong stress_allocated;  /* atomic */
static atomic_ulong stress_freed;      /* atomic */
static atomic_ulong stress_mismatches; /* atomic */
static atomic_ulong stress_nulls;      /* atomic */

static uint64_t
stress_seed(const struct stress_block *b)
{
    return b->id * 0x2545f4914f6cdd1dull ^ (uint64_t)(uintptr_t)b->p;
}

/* Mostly small, some medium, a few large (up to 1 MiB). */
static size_t
stress_size(uint64_t *rng)
{
    uint64_t r = it_rand(rng);
    switch (r % 100) {
    case 0: return (size_t)((r >> 8) % (1u << 20));
    case 1: case 2: case 3: case 4: return (size_t)((r >> 8) % 65536);
    default: return (size_t)((r >> 8) % 600);
    }
}

static void
stress_verify_and_free(struct stress_block *b, uint64_t *rng)
{
    size_t at = it_check(b->p, b->n, stress_seed(b));
    if (at != b->n) {
        if (atomic_fetch_add(&stress_mismatches, 1) < 5)
            HS_FAIL("block %p (id %llu, %zu bytes): byte %zu corrupted",
                    (void *)b->p, (unsigned long long)b->id, b->n, at);
    }
    if (malloc_usable_size(b->p) < b->n)
        atomic_fetch_add(&stress_mismatches, 1);
    /* Free through either entry point: free, or realloc to zero. */
    if (it_rand(rng) % 16 == 0)
        (void)!realloc(b->p, 0);
    else
        free(b->p);
    atomic_fetch_add(&stress_freed, 1);
}

static void
stress_new_block(struct stress_block *b, unsigned thread, unsigned long op,
                 uint64_t *rng)
{
    b->n = stress_size(rng);
    b->id = ((uint64_t)thread << 40) | op;
    bool zeroed = it_rand(rng) % 8 == 0;
    b->p = zeroed ? calloc(1, b->n) : malloc(b->n);
    if (b->p == NULL) {
        atomic_fetch_add(&stress_nulls, 1);
        return;
    }
    if (zeroed && it_check_byte(b->p, b->n, 0) != b->n) {
        if (atomic_fetch_add(&stress_mismatches, 1) < 5)
            HS_FAIL("calloc(1, %zu) = %p is not zeroed", b->n, (void *)b->p);
    }
    atomic_fetch_add(&stress_allocated, 1);
    it_fill(b->p, b->n, stress_seed(b));
}

static void *
stress_worker(void *arg)
{
    unsigned thread = (unsigned)(uintptr_t)arg;
    uint64_t rng = 0x1234567ull + thread;
    /* A few blocks stay local for a while before they are exchanged. */
    struct stress_block local[16] = {{0}};
    for (unsigned long op = 0; op < STRESS_OPS; op++) {
        struct stress_block *mine = &local[op % 16];
        if (mine->p != NULL) {
            struct stress_slot *s = &stress_slots[it_rand(&rng) %
                                                  STRESS_SLOTS];
            struct stress_block old;
            pthread_mutex_lock(&s->lock);
            old = s->b;
            s->b = *mine;
            pthread_mutex_unlock(&s->lock);
            if (old.p != NULL)
                stress_verify_and_free(&old, &rng);
        }
        stress_new_block(mine, thread, op, &rng);
    }
    for (int i = 0; i < 16; i++) {
        if (local[i].p != NULL)
            stress_verify_and_free(&local[i], &rng);
    }
    return NULL;
}

HS_TEST(cross_thread_exchange)
{
    pthread_t threads[STRESS_THREADS];
    for (size_t i = 0; i < STRESS_SLOTS; i++)
        pthread_mutex_init(&stress_slots[i].lock, NULL);
    for (unsigned t = 0; t < STRESS_THREADS; t++)
        HS_ASSERT_EQ_INT(pthread_create(&threads[t], NULL, stress_worker,
                                        (void *)(uintptr_t)t), 0);
    for (unsigned t = 0; t < STRESS_THREADS; t++)
        HS_ASSERT_EQ_INT(pthread_join(threads[t], NULL), 0);
    uint64_t rng = 99;
    for (size_t i = 0; i < STRESS_SLOTS; i++) {
        if (stress_slots[i].b.p != NULL)
            stress_verify_and_free(&stress_slots[i].b, &rng);
    }
    HS_EXPECT_EQ_U64(atomic_load(&stress_nulls), 0);
    HS_EXPECT_EQ_U64(atomic_load(&stress_mismatches), 0);
    HS_EXPECT_EQ_U64(atomic_load(&stress_allocated),
                     (uint64_t)STRESS_THREADS * STRESS_OPS);
    HS_EXPECT_EQ_U64(atomic_load(&stress_freed),
                     atomic_load(&stress_allocated));
}

HS_TEST_MAIN()
