/*
 * stress_fork.c — fork() while other threads are inside the allocator.
 *
 * Owns: STRESS_BG background threads that allocate, check and free until
 * told to stop, and the main loop that forks STRESS_FORKS children.  Each
 * child allocates and frees (small, large, calloc, realloc), starts a
 * thread that does the same, joins it and exits 0 through exit() (so the
 * allocator's exit path runs in the child too).  The parent waits for each
 * child and requires exit status 0.
 *
 * A child that deadlocks on a lock held by a parent thread at fork time
 * would hang; alarm() turns that hang into SIGALRM, which the parent
 * reports as a deadlock rather than waiting for the CTest timeout.  The
 * alarm is a hang detector, not a time measurement: a healthy child
 * finishes in milliseconds.  The parent arms the same kind of alarm
 * around each fork, so a deadlock inside fork() itself (an atfork handler
 * waiting on a lock held by an allocating thread) ends the test with a
 * message instead of a silent CTest timeout.
 */
#include "hs_test.h"
#include "it_util.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    STRESS_BG = 4,
    STRESS_FORKS = 200,
    STRESS_CHILD_ALARM_S = 40,
    STRESS_PARENT_ALARM_S = 80, /* > child alarm, < the CTest timeout */
};

static atomic_bool stress_stop;       /* atomic */
static atomic_ulong stress_bg_errors; /* atomic */
static atomic_ulong stress_bg_rounds; /* atomic */

/* Allocation work with LIVE blocks kept alive between steps; returns the
 * number of errors seen (NULL results or corrupted blocks). */
static unsigned
stress_churn(uint64_t *rng, int steps)
{
    enum { LIVE = 32 };
    unsigned errors = 0;
    unsigned char *live[LIVE] = {0};
    size_t len[LIVE] = {0};
    uint64_t seed[LIVE] = {0};
    for (int step = 0; step < steps; step++) {
        size_t i = it_rand(rng) % LIVE;
        uint64_t x = it_rand(rng);
        if (live[i] != NULL && (x & 0x300) == 0x300) {
            size_t n = len[i] + (size_t)(x >> 20) % 5000;
            unsigned char *q = realloc(live[i], n);
            if (q == NULL) {
                errors++;
                continue;
            }
            errors += it_check(q, len[i], seed[i]) != len[i];
            it_fill_range(q, len[i], n, seed[i]);
            live[i] = q;
            len[i] = n;
            continue;
        }
        if (live[i] != NULL) {
            errors += it_check(live[i], len[i], seed[i]) != len[i];
            free(live[i]);
        }
        len[i] = x % 16 == 0 ? (size_t)(x >> 16) % (512u << 10)
                             : (size_t)(x >> 16) % 2048;
        seed[i] = x;
        live[i] = (x & 0x100) ? calloc(1, len[i]) : malloc(len[i]);
        if (live[i] == NULL) {
            errors++;
            continue;
        }
        it_fill(live[i], len[i], seed[i]);
    }
    for (size_t i = 0; i < LIVE; i++) {
        if (live[i] != NULL)
            errors += it_check(live[i], len[i], seed[i]) != len[i];
        free(live[i]);
    }
    return errors;
}

static void *
stress_bg_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 7919 + 1;
    while (!atomic_load(&stress_stop)) {
        atomic_fetch_add(&stress_bg_errors, stress_churn(&rng, 100));
        atomic_fetch_add(&stress_bg_rounds, 1);
    }
    return NULL;
}

static void
stress_parent_hung(int sig)
{
    static const char msg[] =
        "stress_fork: the parent made no progress for 80 s: deadlock "
        "in fork() or in the allocator\n";
    (void)sig;
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(3);
}

static void *
stress_child_thread(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    return (void *)(uintptr_t)stress_churn(&rng, 200);
}

static void
stress_child(int i)
{
    signal(SIGALRM, SIG_DFL);
    alarm(STRESS_CHILD_ALARM_S);
    uint64_t rng = 1000 + (uint64_t)i;
    unsigned errors = stress_churn(&rng, 200);
    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, stress_child_thread,
                       (void *)(uintptr_t)(i + 5)) != 0)
        exit(3);
    if (pthread_join(t, &ret) != 0)
        exit(4);
    errors += (unsigned)(uintptr_t)ret;
    char *s = strdup("child string");
    if (s == NULL || strcmp(s, "child string") != 0)
        exit(5);
    free(s);
    exit(errors == 0 ? 0 : 2);
}

HS_TEST(fork_while_allocating)
{
    pthread_t bg[STRESS_BG];
    for (int i = 0; i < STRESS_BG; i++)
        HS_ASSERT_EQ_INT(
            pthread_create(&bg[i], NULL, stress_bg_main, (void *)(uintptr_t)i),
            0);
    int bad = 0;
    signal(SIGALRM, stress_parent_hung);
    for (int i = 0; i < STRESS_FORKS; i++) {
        alarm(STRESS_PARENT_ALARM_S);
        /* Let the background threads make progress between forks. */
        unsigned long seen = atomic_load(&stress_bg_rounds);
        while (atomic_load(&stress_bg_rounds) < seen + 1)
            sched_yield();
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            stress_child(i);
        if (pid < 0) {
            HS_FAIL("fork %d failed", i);
            break;
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid) {
            HS_FAIL("waitpid for child %d failed", i);
            continue;
        }
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            HS_FAIL("child %d deadlocked (no exit after %d s)", i,
                    STRESS_CHILD_ALARM_S);
            bad++;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            HS_FAIL("child %d: %s %d", i,
                    WIFEXITED(status) ? "exit status" : "killed by signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            bad++;
        }
        if (bad >= 5)
            break;
    }
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    atomic_store(&stress_stop, true);
    for (int i = 0; i < STRESS_BG; i++)
        HS_EXPECT_EQ_INT(pthread_join(bg[i], NULL), 0);
    HS_EXPECT_EQ_INT(bad, 0);
    HS_EXPECT_EQ_U64(atomic_load(&stress_bg_errors), 0);
}

/*
 * Fork while threads make their first allocation.  A thread's first
 * allocation sets up its per-thread state (and, while there are fewer
 * threads than arenas, a new arena); a fork handler that takes the
 * allocator's locks must not deadlock against that.  Arenas are set up
 * once per process, so each round runs in a fresh process: the test
 * re-executes this program with STRESS_FORK_SCENARIO set, and main()
 * runs stress_thread_start_scenario() instead of the tests.
 */
enum {
    STRESS_SCENARIO_THREADS = 7,
    STRESS_SCENARIO_ROUNDS = 40,
    STRESS_SCENARIO_ALARM_S = 10, /* hang detector; a round takes ms */
};

static atomic_int stress_started; /* atomic */
static atomic_int stress_release; /* atomic */

static void *
stress_first_alloc_main(void *arg)
{
    /* -fno-builtin keeps this pair from being optimized away. */
    free(malloc(100 + (size_t)(uintptr_t)arg));
    atomic_fetch_add(&stress_started, 1);
    while (!atomic_load(&stress_release))
        usleep(1000);
    return NULL;
}

static void *
stress_creator_main(void *arg)
{
    pthread_t *t = arg;
    uint64_t rng = (uint64_t)getpid();
    for (uintptr_t i = 0; i < STRESS_SCENARIO_THREADS; i++) {
        if (pthread_create(&t[i], NULL, stress_first_alloc_main, (void *)i) !=
            0)
            _exit(5);
        usleep(100 + (useconds_t)(it_rand(&rng) % 500));
    }
    return NULL;
}

/* Forks back to back while threads start; exit 0 when nothing hung. */
static int
stress_thread_start_scenario(void)
{
    pthread_t t[STRESS_SCENARIO_THREADS], creator;
    alarm(STRESS_SCENARIO_ALARM_S);
    free(malloc(1));
    if (pthread_create(&creator, NULL, stress_creator_main, t) != 0)
        return 5;
    while (atomic_load(&stress_started) < STRESS_SCENARIO_THREADS) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0 || waitpid(pid, NULL, 0) != pid)
            return 6;
    }
    atomic_store(&stress_release, 1);
    pthread_join(creator, NULL);
    for (int i = 0; i < STRESS_SCENARIO_THREADS; i++)
        pthread_join(t[i], NULL);
    return 0;
}

HS_TEST(fork_while_threads_start)
{
    int hung = 0, failed = 0;
    for (int round = 0; round < STRESS_SCENARIO_ROUNDS; round++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            char *argv[] = {"stress_fork", NULL};
            setenv("STRESS_FORK_SCENARIO", "1", 1);
            execv("/proc/self/exe", argv);
            _exit(7);
        }
        HS_ASSERT_TRUE(pid > 0);
        int status = 0;
        HS_ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            hung++;
            break; /* one is enough, and each costs the alarm's wait */
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    if (hung != 0)
        HS_FAIL("a process deadlocked forking while its threads made "
                "their first allocation");
    HS_EXPECT_EQ_INT(failed, 0);
}

int
main(int argc, char **argv)
{
    if (getenv("STRESS_FORK_SCENARIO") != NULL)
        return stress_thread_start_scenario();
    return hs_test_run_all(argc, argv);
}
