/*
 * mutex.c — unit tests of alloc/util/mutex: mutual exclusion across
 * threads, registration, and the fork protocol (prefork takes every
 * registered mutex; postfork_parent releases them; postfork_child makes
 * them anew in the child).
 *
 * Every mutex here is static: hs_mutex_init puts it in the registry for
 * the life of the process.
 */
#include "hs_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/mutex.h"

enum { NTHREADS = 4, NITERS = 200000 };

static hs_mutex_t count_mtx;
static unsigned long counter; /* guarded by count_mtx */

static void *
count_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < NITERS; i++) {
        hs_mutex_lock(&count_mtx);
        /* A non-atomic read-modify-write: lost updates would show. */
        unsigned long v = counter;
        __asm__ volatile("" ::: "memory");
        counter = v + 1;
        hs_mutex_unlock(&count_mtx);
    }
    return NULL;
}

HS_TEST(lock_excludes_across_threads)
{
    hs_mutex_init(&count_mtx, HS_RANK_BIN);
    HS_EXPECT_EQ_INT(count_mtx.rank, HS_RANK_BIN);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        HS_ASSERT_EQ_INT(pthread_create(&th[i], NULL, count_worker, NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    HS_EXPECT_EQ_U64(counter, (uint64_t)NTHREADS * NITERS);
}

static hs_mutex_t reg_a, reg_b, reg_c;

/* True when m is currently held (by anyone). */
static bool
is_held(hs_mutex_t *m)
{
    int r = pthread_mutex_trylock(&m->lock);
    if (r == 0) {
        pthread_mutex_unlock(&m->lock);
        return false;
    }
    HS_EXPECT_EQ_INT(r, EBUSY);
    return true;
}

static void *
lock_unlock_once(void *arg)
{
    hs_mutex_t *m = arg;
    hs_mutex_lock(m);
    hs_mutex_unlock(m);
    return (void *)1;
}

HS_TEST(prefork_takes_every_registered_mutex)
{
    hs_mutex_init(&reg_a, HS_RANK_CTL);
    hs_mutex_init(&reg_b, HS_RANK_BASE);
    hs_mutex_init(&reg_c, HS_RANK_ECACHE);
    HS_EXPECT_FALSE(is_held(&reg_a));
    hs_mutex_prefork();
    HS_EXPECT_TRUE(is_held(&reg_a));
    HS_EXPECT_TRUE(is_held(&reg_b));
    HS_EXPECT_TRUE(is_held(&reg_c));
    hs_mutex_postfork_parent();
    HS_EXPECT_FALSE(is_held(&reg_a));
    HS_EXPECT_FALSE(is_held(&reg_b));
    HS_EXPECT_FALSE(is_held(&reg_c));
    /* Locking works again, here and from another thread. */
    hs_mutex_lock(&reg_b);
    hs_mutex_unlock(&reg_b);
    pthread_t th;
    void *ret = NULL;
    HS_ASSERT_EQ_INT(pthread_create(&th, NULL, lock_unlock_once, &reg_c), 0);
    pthread_join(th, &ret);
    HS_EXPECT_EQ_PTR(ret, (void *)1);
}

static hs_mutex_t late_mtx;

HS_TEST(registration_after_a_fork_cycle)
{
    /* The registry lock must be free again after postfork_parent, or this
     * init would spin forever (the test would time out). */
    hs_mutex_prefork();
    hs_mutex_postfork_parent();
    hs_mutex_init(&late_mtx, HS_RANK_GROW);
    hs_mutex_prefork();
    HS_EXPECT_TRUE(is_held(&late_mtx));
    hs_mutex_postfork_parent();
    HS_EXPECT_FALSE(is_held(&late_mtx));
}

static hs_mutex_t busy_mtx;
static atomic_int busy_released;

static void *
hold_then_release(void *arg)
{
    atomic_int *locked = arg;
    hs_mutex_lock(&busy_mtx);
    atomic_store(locked, 1);
    /* Hold it a while so prefork has to wait for it. */
    for (int i = 0; i < 1000; i++)
        sched_yield();
    atomic_store(&busy_released, 1);
    hs_mutex_unlock(&busy_mtx);
    return NULL;
}

HS_TEST(prefork_waits_for_a_held_mutex)
{
    hs_mutex_init(&busy_mtx, HS_RANK_BIN);
    atomic_int locked = 0;
    pthread_t th;
    HS_ASSERT_EQ_INT(pthread_create(&th, NULL, hold_then_release, &locked), 0);
    while (!atomic_load(&locked))
        sched_yield();
    hs_mutex_prefork();
    /* prefork returned, so it owns busy_mtx: the holder let go first. */
    HS_EXPECT_EQ_INT(atomic_load(&busy_released), 1);
    HS_EXPECT_TRUE(is_held(&busy_mtx));
    hs_mutex_postfork_parent();
    pthread_join(th, NULL);
    HS_EXPECT_FALSE(is_held(&busy_mtx));
}

static hs_mutex_t fork_mtx;

HS_TEST(postfork_child_remakes_locks)
{
    hs_mutex_init(&fork_mtx, HS_RANK_DECAY);
    hs_mutex_prefork();
    pid_t pid = fork();
    if (pid == 0) {
        hs_mutex_postfork_child();
        /* Every lock is usable in the child, and registering still works
         * (the registry lock was released). */
        int ok = hs_mutex_trylock(&fork_mtx);
        if (ok)
            hs_mutex_unlock(&fork_mtx);
        static hs_mutex_t child_mtx;
        hs_mutex_init(&child_mtx, HS_RANK_CTL);
        hs_mutex_lock(&child_mtx);
        hs_mutex_unlock(&child_mtx);
        ok = ok && pthread_mutex_trylock(&count_mtx.lock) == 0;
        _exit(ok ? 0 : 3);
    }
    hs_mutex_postfork_parent();
    HS_ASSERT_TRUE(pid > 0);
    int status = 0;
    HS_ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
    HS_EXPECT_TRUE(WIFEXITED(status));
    HS_EXPECT_EQ_INT(WEXITSTATUS(status), 0);
    HS_EXPECT_FALSE(is_held(&fork_mtx));
}

/* Runs fn in a child with stderr on a pipe; returns its wait status and
 * the first line it wrote in line. */
static int
run_child(void (*fn)(void), char *line, size_t len)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fds[0], line + n, len - 1 - n)) > 0)
        n += (size_t)r;
    line[n] = '\0';
    char *nl = strchr(line, '\n');
    if (nl != NULL)
        *nl = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static hs_mutex_t low_mtx, high_mtx, peer_mtx;

static void
take_out_of_order(void)
{
    hs_mutex_lock(&high_mtx);
    hs_mutex_lock(&low_mtx); /* rank ctl under rank bin: wrong */
}

static void
take_two_of_one_rank(void)
{
    hs_mutex_lock(&high_mtx);
    hs_mutex_lock(&peer_mtx);
}

static void
take_in_order(void)
{
    hs_mutex_lock(&low_mtx);
    hs_mutex_lock(&high_mtx);
    hs_mutex_unlock(&high_mtx);
    hs_mutex_unlock(&low_mtx);
    /* A trylock out of order cannot deadlock: allowed. */
    hs_mutex_lock(&high_mtx);
    if (hs_mutex_trylock(&low_mtx))
        hs_mutex_unlock(&low_mtx);
    hs_mutex_unlock(&high_mtx);
}

HS_TEST(witness_aborts_on_a_lock_taken_out_of_rank_order)
{
    if (!config_debug)
        HS_SKIP("the lock-order witness is built only with -DHS_DEBUG=ON "
                "(scripts/debug.sh runs this test in that build)");
    hs_mutex_init(&low_mtx, HS_RANK_CTL);
    hs_mutex_init(&high_mtx, HS_RANK_BIN);
    hs_mutex_init(&peer_mtx, HS_RANK_BIN);
    char line[512], want[128], held[128];
    snprintf(want, sizeof want, "heapsight: lock order: taking ctl (rank %d, ",
             (int)HS_RANK_CTL);
    snprintf(held, sizeof held, ") while holding bin (rank %d, ",
             (int)HS_RANK_BIN);
    int st = run_child(take_out_of_order, line, sizeof line);
    HS_EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    HS_EXPECT_TRUE(strstr(line, want) == line);
    HS_EXPECT_NOT_NULL(strstr(line, held));
    fprintf(stderr, "  %s\n", line);
    snprintf(want, sizeof want, "taking bin (rank %d, ", (int)HS_RANK_BIN);
    st = run_child(take_two_of_one_rank, line, sizeof line);
    HS_EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    HS_EXPECT_NOT_NULL(strstr(line, want));
    HS_EXPECT_NOT_NULL(strstr(line, held));
    st = run_child(take_in_order, line, sizeof line);
    HS_EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    HS_EXPECT_EQ_STR(line, "");
}

HS_TEST_MAIN()
