/*
 * fault_thread_churn.c — thousands of threads created and ended must not
 * leak their caches or their per-thread metadata.
 *
 * Owns: CHURN_THREADS threads run in waves of CHURN_WAVE (half joined in
 * reverse order, half detached).  Each thread allocates CHURN_BLOCKS
 * blocks over the small classes and a few large ones, frees most of them
 * itself (they sit in its thread cache when it exits), frees the blocks
 * the previous wave handed over (cross-thread frees) and hands
 * CHURN_HANDOFF of its own to the next wave.
 *
 * The check: resident memory at the end minus resident memory after
 * CHURN_WARMUP threads, both measured after purging every arena (so that
 * decay timing does not enter), stays below CHURN_RSS_BOUND.  Measured on
 * the development machine (2 cores, RelWithDebInfo): growth 0 to 600 KiB
 * in all three variants, while a leaked thread cache would keep at least
 * one slab per used size class, tens of KiB per thread, i.e. > 50 MiB
 * over 4,500 threads; a leaked tsd alone is a few hundred bytes a thread,
 * ~1-2 MiB here.  The bound is 4 MiB: several times the measured noise,
 * below what leaking caches would cost.  stress_threads.c checks the same
 * shape with a 200 MiB bound and without the variants.
 */
#include "fault_util.h"
#include "heapsight.h"
#include "hs_test.h"
#include "it_util.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    CHURN_THREADS = 5000,
    CHURN_WARMUP = 500,
    CHURN_WAVE = 50,
    CHURN_BLOCKS = 200,
    CHURN_HANDOFF = 8,
};
#define CHURN_RSS_BOUND ((size_t)4 << 20)

static atomic_ulong churn_errors; /* atomic */
static sem_t churn_detached_done;
/* Blocks handed from wave k (thread i writes row i) to wave k + 1; a row
 * is read only after the wave that wrote it has ended. */
static unsigned char *churn_handoff[CHURN_WAVE][CHURN_HANDOFF];

static void
churn_work(unsigned id)
{
    unsigned char *p[CHURN_BLOCKS];
    size_t len[CHURN_BLOCKS];
    uint64_t rng = id * 2654435761u + 5;
    unsigned bad = 0;
    for (int i = 0; i < CHURN_BLOCKS; i++) {
        uint64_t x = it_rand(&rng);
        len[i] =
            i % 40 == 0 ? 20000 + (size_t)(x % 100000) : 1 + (size_t)(x % 3000);
        p[i] = malloc(len[i]);
        if (p[i] == NULL) {
            bad++;
            continue;
        }
        it_fill(p[i], len[i], id + (unsigned)i);
    }
    unsigned row = id % CHURN_WAVE;
    for (int k = 0; k < CHURN_HANDOFF; k++) {
        unsigned char *q = churn_handoff[row][k];
        if (q != NULL) {
            size_t n = 1 + (size_t)q[0] * 7;
            bad += it_check_byte(q, n, q[0]) != n;
        }
        free(q);
    }
    for (int i = 0; i < CHURN_BLOCKS; i++) {
        if (p[i] != NULL)
            bad += it_check(p[i], len[i], id + (unsigned)i) != len[i];
        if (i < CHURN_HANDOFF && p[i] != NULL) {
            unsigned char c = (unsigned char)(1 + (id + (unsigned)i) % 200);
            size_t n = 1 + (size_t)c * 7;
            unsigned char *h = realloc(p[i], n);
            if (h == NULL) {
                bad++;
                free(p[i]);
            } else {
                memset(h, c, n);
            }
            churn_handoff[row][i] = h;
        } else {
            free(p[i]);
        }
    }
    if (bad != 0)
        atomic_fetch_add(&churn_errors, bad);
}

static void *
churn_joinable(void *arg)
{
    churn_work((unsigned)(uintptr_t)arg);
    return NULL;
}

static void *
churn_detached(void *arg)
{
    churn_work((unsigned)(uintptr_t)arg);
    sem_post(&churn_detached_done);
    return NULL;
}

static void
churn_wave(unsigned first)
{
    pthread_t joinable[CHURN_WAVE];
    unsigned njoin = 0, ndetached = 0;
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (unsigned i = 0; i < CHURN_WAVE; i++) {
        void *arg = (void *)(uintptr_t)(first + i);
        pthread_t t;
        int rc =
            i % 2 == 0
                ? pthread_create(&joinable[njoin], NULL, churn_joinable, arg)
                : pthread_create(&t, &detached, churn_detached, arg);
        if (rc != 0)
            HS_FAIL("pthread_create for thread %u: %d", first + i, rc);
        else if (i % 2 == 0)
            njoin++;
        else
            ndetached++;
    }
    pthread_attr_destroy(&detached);
    while (njoin > 0)
        pthread_join(joinable[--njoin], NULL);
    while (ndetached-- > 0)
        sem_wait(&churn_detached_done);
}

/* Resident bytes after purging every arena; prints the allocator's view
 * (for diagnosing a failure: metadata growing is per-thread state). */
static size_t
churn_rss(const char *when)
{
    char name[32];
    snprintf(name, sizeof name, "arena.%d.purge", HS_ARENAS_ALL);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), 0);
    uint64_t epoch = 1;
    size_t len = sizeof epoch, allocated = 0, metadata = 0;
    hs_ctl("epoch", &epoch, &len, &epoch, len);
    len = sizeof allocated;
    hs_ctl("stats.allocated", &allocated, &len, NULL, 0);
    hs_ctl("stats.metadata", &metadata, &len, NULL, 0);
    printf("  %s: allocated %zu KiB, metadata %zu KiB\n", when, allocated >> 10,
           metadata >> 10);
    return it_rss_bytes();
}

HS_TEST(thread_churn_keeps_rss)
{
    fault_watchdog(110, "thread_churn: threads stopped ending");
    HS_ASSERT_EQ_INT(sem_init(&churn_detached_done, 0, 0), 0);
    for (unsigned t = 0; t < CHURN_WARMUP; t += CHURN_WAVE)
        churn_wave(t);
    size_t base = churn_rss("after warm-up");
    HS_ASSERT_GT_SIZE(base, 0);
    for (unsigned t = CHURN_WARMUP; t < CHURN_THREADS; t += CHURN_WAVE)
        churn_wave(t);
    size_t end = churn_rss("at the end");
    printf("  rss after %d threads %zu KiB, after %d threads %zu KiB: "
           "growth %ld KiB (bound %zu KiB)\n",
           CHURN_WARMUP, base >> 10, CHURN_THREADS, end >> 10,
           ((long)end - (long)base) / 1024, CHURN_RSS_BOUND >> 10);
    HS_EXPECT_LT_SIZE(end, base + CHURN_RSS_BOUND);
    HS_EXPECT_EQ_U64(atomic_load(&churn_errors), 0);
    for (int r = 0; r < CHURN_WAVE; r++)
        for (int k = 0; k < CHURN_HANDOFF; k++)
            free(churn_handoff[r][k]);
}

HS_TEST_MAIN()
