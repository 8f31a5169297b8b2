/*
 * fault_fork_storm.c — hundreds of forks from a busy multithreaded parent.
 *
 * Owns: FORK_BG threads that allocate, fill, hand blocks to one another
 * through FORK_SLOTS shared slots (so most frees are cross-thread) and
 * check and free what they receive; with the profiler on, one more thread
 * that calls prof.dump in a loop; and the main thread, which forks
 * FORK_CHILDREN times while all of them run.
 *
 * Each child allocates and frees (small, large, realloc, calloc), every
 * third child also starts and joins a thread, and it ends through _exit(0)
 * or exit(0) in turn (exit runs the allocator's and profiler's exit
 * paths).  The parent waits for each child and requires status 0.
 *
 * stress_fork.c covers the plain case; this adds cross-thread frees in the
 * parent, a dumping thread (the dump's locks held at fork time), children
 * that start threads or skip atexit, and the guard and profiling variants.
 *
 * Hangs: the parent's watchdog (fault_util.h) names a deadlock in fork()
 * or in the parent; each child arms alarm(FORK_CHILD_ALARM_S), whose
 * SIGALRM the parent reports as a deadlock in the child.
 */
#include "fault_util.h"
#include "heapsight.h"
#include "hs_test.h"
#include "it_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    FORK_BG = 4,
    FORK_CHILDREN = 300,
    /* Every allocation guarded makes each fork() copy thousands of
     * mappings (a guarded block is a mapping of its own): about 0.2 s a
     * fork on two busy cores, so fewer forks keep the variant well under
     * its timeout. */
    FORK_CHILDREN_GUARDED = 120,
    FORK_SLOTS = 64,
    FORK_CHILD_ALARM_S = 30,
    FORK_WATCHDOG_S = 100, /* < the CTest timeout of 120 s */
};

static atomic_bool fork_stop;                          /* atomic */
static atomic_ulong fork_errors;                       /* atomic */
static atomic_ulong fork_dumps;                        /* atomic */
static _Atomic(unsigned char *) fork_slot[FORK_SLOTS]; /* atomic */

/* A block's length and seed live in its first 16 bytes (blocks are at
 * least 16 bytes), so a receiver can check it. */
static unsigned char *
fork_block(uint64_t *rng)
{
    uint64_t x = it_rand(rng);
    /* A few dozen sizes, not thousands: with every allocation guarded, a
     * freed guarded extent is kept for its own size, and each is a
     * mapping that every fork() copies. */
    size_t n = x % 16 == 0 ? (64u << 10) * (1 + (size_t)(x >> 20) % 4)
                           : 16 + 48 * (size_t)((x >> 20) % 32);
    unsigned char *p = (x & 0x100) ? calloc(1, n) : malloc(n);
    if (p == NULL)
        return NULL;
    it_fill(p + 16, n - 16, x);
    memcpy(p, &n, 8);
    memcpy(p + 8, &x, 8);
    return p;
}

static unsigned
fork_check_free(unsigned char *p)
{
    if (p == NULL)
        return 0;
    size_t n;
    uint64_t seed;
    memcpy(&n, p, 8);
    memcpy(&seed, p + 8, 8);
    unsigned bad = it_check(p + 16, n - 16, seed) != n - 16;
    free(p);
    return bad;
}

static void *
fork_bg_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 104729 + 11;
    while (!atomic_load(&fork_stop)) {
        unsigned char *p = fork_block(&rng);
        if (p == NULL) {
            atomic_fetch_add(&fork_errors, 1);
            continue;
        }
        size_t s = it_rand(&rng) % FORK_SLOTS;
        unsigned bad = fork_check_free(atomic_exchange(&fork_slot[s], p));
        if (bad != 0)
            atomic_fetch_add(&fork_errors, bad);
    }
    return NULL;
}

static void *
fork_dump_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&fork_stop)) {
        int err = fault_prof_dump();
        if (err != 0) {
            printf("  prof.dump: %s\n", strerror(err));
            atomic_fetch_add(&fork_errors, 1);
        }
        atomic_fetch_add(&fork_dumps, 1);
        usleep(5000); /* pacing only: dumps are the point, not their rate */
    }
    return NULL;
}

static void *
fork_child_thread(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    unsigned bad = 0;
    for (int i = 0; i < 100; i++)
        bad += fork_check_free(fork_block(&rng));
    return (void *)(uintptr_t)bad;
}

static void
fork_child(int i)
{
    alarm(FORK_CHILD_ALARM_S);
    uint64_t rng = 7000 + (uint64_t)i;
    unsigned bad = 0;
    unsigned char *keep[16];
    for (int k = 0; k < 16; k++)
        keep[k] = fork_block(&rng);
    for (int k = 0; k < 200; k++)
        bad += fork_check_free(fork_block(&rng));
    char *s = malloc(10);
    char *t = s == NULL ? NULL : realloc(s, 100000);
    if (t == NULL)
        _exit(5);
    free(t);
    if (i % 3 == 0) {
        pthread_t th;
        void *ret = NULL;
        if (pthread_create(&th, NULL, fork_child_thread,
                           (void *)(uintptr_t)(i + 1)) != 0 ||
            pthread_join(th, &ret) != 0)
            _exit(4);
        bad += (unsigned)(uintptr_t)ret;
    }
    for (int k = 0; k < 16; k++)
        bad += fork_check_free(keep[k]);
    if (i % 2 == 0)
        _exit(bad == 0 ? 0 : 2);
    exit(bad == 0 ? 0 : 2);
}

HS_TEST(fork_storm)
{
    fault_watchdog(FORK_WATCHDOG_S, "fork_storm: the parent (fork() or a "
                                    "parent thread) stopped");
    bool prof = fault_opt_bool("prof");
    unsigned guard = 0;
    size_t len = sizeof guard;
    hs_ctl("opt.san_guard_small", &guard, &len, NULL, 0);
    int nchildren = guard != 0 ? FORK_CHILDREN_GUARDED : FORK_CHILDREN;
    pthread_t bg[FORK_BG + 1];
    int nbg = 0;
    for (; nbg < FORK_BG; nbg++)
        HS_ASSERT_EQ_INT(pthread_create(&bg[nbg], NULL, fork_bg_main,
                                        (void *)(uintptr_t)nbg),
                         0);
    if (prof) {
        HS_ASSERT_EQ_INT(pthread_create(&bg[nbg], NULL, fork_dump_main, NULL),
                         0);
        nbg++;
    }
    unsigned bad_children = 0;
    for (int i = 0; i < nchildren; i++) {
        pid_t pid = fork();
        HS_ASSERT_GE_INT(pid, 0);
        if (pid == 0)
            fork_child(i);
        int status = 0;
        HS_ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
            HS_FAIL("child %d made no progress for %d s: deadlock after "
                    "fork",
                    i, FORK_CHILD_ALARM_S);
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            HS_FAIL("child %d: status 0x%x", i, (unsigned)status);
        bad_children += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (bad_children > 3)
            break;
    }
    atomic_store(&fork_stop, true);
    for (int i = 0; i < nbg; i++)
        HS_EXPECT_EQ_INT(pthread_join(bg[i], NULL), 0);
    for (int s = 0; s < FORK_SLOTS; s++)
        HS_EXPECT_EQ_U64(fork_check_free(atomic_load(&fork_slot[s])), 0);
    HS_EXPECT_EQ_U64(atomic_load(&fork_errors), 0);
    if (prof)
        HS_EXPECT_GT_U64(atomic_load(&fork_dumps), 0);
    printf("  %d children, %lu dumps meanwhile\n", nchildren,
           (unsigned long)atomic_load(&fork_dumps));
}

HS_TEST_MAIN()
