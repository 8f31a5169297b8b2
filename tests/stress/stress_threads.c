/*
 * stress_threads.c — thousands of short-lived threads, each filling its
 * thread cache and exiting, must not make the process grow.
 *
 * Owns: the thread bodies and the RSS check.  STRESS_NTHREADS threads run
 * in waves of STRESS_WAVE; in each wave half the threads are detached and
 * half joinable, and the joinable ones are joined in reverse order of
 * creation, so exits and joins interleave in every order.  Each thread
 * allocates a spread of sizes (enough that a thread cache not flushed at
 * thread exit, or per-thread state not recycled, leaks tens of kilobytes
 * per thread), frees most of them, hands a few to the next wave and
 * exits.
 *
 * The check: resident memory after all threads have exited, minus the
 * resident memory after a warm-up wave, stays below STRESS_RSS_LIMIT.
 */
#include "hs_test.h"
#include "it_util.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    STRESS_NTHREADS = 5000,
    STRESS_WAVE = 50,
    STRESS_HANDOFF = 256,
};
#define STRESS_RSS_LIMIT ((size_t)200 << 20)

static atomic_ulong stress_errors; /* atomic */
static sem_t stress_detached_done;
/* Blocks passed from one wave to the next (freed by another thread).
 * Slot i is written by thread i of a wave, read by the next wave only
 * after the previous wave has finished. */
static void *stress_handoff[STRESS_HANDOFF];
static size_t stress_handoff_len[STRESS_HANDOFF];

static size_t
stress_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void
stress_thread_work(unsigned id)
{
    enum { N = 300 };
    void *p[N];
    uint64_t rng = id * 2654435761u + 17;
    for (int i = 0; i < N; i++) {
        size_t n = i % 50 == 0 ? 32768 + (size_t)(it_rand(&rng) % 32768)
                               : (size_t)(it_rand(&rng) % 1024);
        p[i] = malloc(n);
        if (p[i] == NULL) {
            atomic_fetch_add(&stress_errors, 1);
            continue;
        }
        memset(p[i], (int)(id & 0xff), n);
    }
    for (int i = 0; i < N; i++)
        free(p[i]);
    /* Free what the previous wave left, leave one block for the next. */
    size_t slot = id % STRESS_HANDOFF;
    if (stress_handoff[slot] != NULL) {
        size_t len = stress_handoff_len[slot];
        if (it_check(stress_handoff[slot], len, slot) != len)
            atomic_fetch_add(&stress_errors, 1);
        free(stress_handoff[slot]);
    }
    size_t len = 100 + id % 4000;
    stress_handoff[slot] = malloc(len);
    stress_handoff_len[slot] = len;
    if (stress_handoff[slot] != NULL)
        it_fill(stress_handoff[slot], len, slot);
}

static void *
stress_joinable_main(void *arg)
{
    stress_thread_work((unsigned)(uintptr_t)arg);
    return NULL;
}

static void *
stress_detached_main(void *arg)
{
    stress_thread_work((unsigned)(uintptr_t)arg);
    sem_post(&stress_detached_done);
    return NULL;
}

/* Runs threads [first, first + STRESS_WAVE); returns false on failure. */
static bool
stress_wave(unsigned first)
{
    pthread_t joinable[STRESS_WAVE];
    unsigned njoin = 0, ndetached = 0;
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (unsigned i = 0; i < STRESS_WAVE; i++) {
        void *arg = (void *)(uintptr_t)(first + i);
        pthread_t t;
        int rc;
        if (i % 2 == 0) {
            rc = pthread_create(&joinable[njoin], NULL, stress_joinable_main,
                                arg);
            njoin += rc == 0;
        } else {
            rc = pthread_create(&t, &detached, stress_detached_main, arg);
            ndetached += rc == 0;
        }
        if (rc != 0)
            HS_FAIL("pthread_create for thread %u: %d", first + i, rc);
    }
    pthread_attr_destroy(&detached);
    while (njoin > 0)
        pthread_join(joinable[--njoin], NULL);
    while (ndetached-- > 0)
        sem_wait(&stress_detached_done);
    return hs_test_failures() == 0;
}

HS_TEST(short_lived_threads_do_not_grow_rss)
{
    HS_ASSERT_EQ_INT(sem_init(&stress_detached_done, 0, 0), 0);
    /* Warm-up: the first waves populate arenas, stacks and caches. */
    for (unsigned t = 0; t < 4 * STRESS_WAVE; t += STRESS_WAVE)
        HS_ASSERT_TRUE(stress_wave(t));
    size_t base = stress_rss();
    HS_ASSERT_TRUE(base > 0);
    for (unsigned t = 4 * STRESS_WAVE; t < STRESS_NTHREADS; t += STRESS_WAVE)
        HS_ASSERT_TRUE(stress_wave(t));
    size_t end = stress_rss();
    printf("  rss after warm-up %zu KiB, after %d threads %zu KiB\n",
           base >> 10, STRESS_NTHREADS, end >> 10);
    HS_EXPECT_LT_SIZE(end, base + STRESS_RSS_LIMIT);
    HS_EXPECT_EQ_U64(atomic_load(&stress_errors), 0);
    for (size_t i = 0; i < STRESS_HANDOFF; i++)
        free(stress_handoff[i]);
}

HS_TEST_MAIN()
