/*
 * hook_chain.c — unit tests of backtrace_hooks/hook_chain: backtrace hooks
 * run in the order added and may append, insert, drop and rewrite frames
 * (with *nframes clamped to max); removal keeps the others' order; the
 * errors (EINVAL for NULL, ENOSPC at the 17th hook, ENOENT for an absent
 * pair); hooks run under the reentrancy guard; the public
 * hs_backtrace_hook_add/remove feed bt_hooks_run; a hook may remove
 * itself; and with threads running a chain continuously, remove returns
 * only when no thread is inside the removed hook, which is never called
 * again; a fork child can add and remove although other threads (or the
 * forking thread itself) were inside a run when it forked.
 */
#include "hs_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../backtrace_hooks/hook_chain.h"
#include "tsd.h"

static bt_hook_fn_t
bt_fn(hs_backtrace_hook_t f)
{
    return (bt_hook_fn_t)f;
}

/* Appends the frame *arg. */
static void
hook_append(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    if (*n < max)
        frames[(*n)++] = *(const hs_frame_t *)arg;
}

/* Inserts the frame *arg at position 1. */
static void
hook_insert1(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    unsigned keep = *n < max ? *n : max - 1;
    memmove(frames + 2, frames + 1, (keep - 1) * sizeof(hs_frame_t));
    frames[1] = *(const hs_frame_t *)arg;
    *n = keep + 1;
}

/* Drops frames[0]. */
static void
hook_drop0(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)max;
    (void)arg;
    if (*n == 0)
        return;
    memmove(frames, frames + 1, (*n - 1) * sizeof(hs_frame_t));
    (*n)--;
}

/* Rewrites every frame f into f + *arg. */
static void
hook_add_offset(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)max;
    for (unsigned i = 0; i < *n; i++)
        frames[i] += *(const hs_frame_t *)arg;
}

/* Claims far more frames than max. */
static void
hook_overclaim(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)frames;
    (void)arg;
    *n = max + 100;
}

static const hs_frame_t A = 0xa, B = 0xb, C = 0xc, X = 0x100;

HS_TEST(hooks_run_in_order_and_append)
{
    static bt_chain_t c;
    HS_ASSERT_EQ_INT(bt_chain_add(&c, bt_fn(hook_append), (void *)&A), 0);
    HS_ASSERT_EQ_INT(bt_chain_add(&c, bt_fn(hook_append), (void *)&B), 0);
    HS_ASSERT_EQ_INT(bt_chain_add(&c, bt_fn(hook_append), (void *)&C), 0);
    HS_EXPECT_EQ_U64(bt_chain_count(&c), 3);
    hs_frame_t f[8] = {1, 2};
    unsigned n = 2;
    bt_chain_run_backtrace(&c, f, &n, 8);
    HS_ASSERT_EQ_U64(n, 5);
    HS_EXPECT_EQ_U64(f[0], 1);
    HS_EXPECT_EQ_U64(f[1], 2);
    HS_EXPECT_EQ_U64(f[2], A);
    HS_EXPECT_EQ_U64(f[3], B);
    HS_EXPECT_EQ_U64(f[4], C);
    /* max holds: the third append does not fit. */
    n = 2;
    bt_chain_run_backtrace(&c, f, &n, 4);
    HS_EXPECT_EQ_U64(n, 4);
    HS_EXPECT_EQ_U64(f[3], B);
}

HS_TEST(hooks_insert_drop_rewrite)
{
    static bt_chain_t c;
    HS_ASSERT_EQ_INT(bt_chain_add(&c, bt_fn(hook_drop0), NULL), 0);
    HS_ASSERT_EQ_INT(bt_chain_add(&c, bt_fn(hook_insert1), (void *)&A), 0);
    HS_ASSERT_EQ_INT(bt_chain_add(&c, bt_fn(hook_add_offset), (void *)&X), 0);
    hs_frame_t f[8] = {1, 2, 3};
    unsigned n = 3;
    bt_chain_run_backtrace(&c, f, &n, 8);
    /* {1,2,3} -drop-> {2,3} -insert-> {2,A,3} -rewrite-> +0x100 */
    HS_ASSERT_EQ_U64(n, 3);
    HS_EXPECT_EQ_U64(f[0], 2 + X);
    HS_EXPECT_EQ_U64(f[1], A + X);
    HS_EXPECT_EQ_U64(f[2], 3 + X);
    /* Insertion into a full stack loses the outermost frame. */
    static bt_chain_t ins;
    HS_ASSERT_EQ_INT(bt_chain_add(&ins, bt_fn(hook_insert1), (void *)&A), 0);
    hs_frame_t g[3] = {5, 6, 7};
    n = 3;
    bt_chain_run_backtrace(&ins, g, &n, 3);
    HS_ASSERT_EQ_U64(n, 3);
    HS_EXPECT_EQ_U64(g[0], 5);
    HS_EXPECT_EQ_U64(g[1], A);
    HS_EXPECT_EQ_U64(g[2], 6);
}

HS_TEST(nframes_is_clamped_to_max)
{
    static bt_chain_t c;
    HS_ASSERT_EQ_INT(bt_chain_add(&c, bt_fn(hook_overclaim), NULL), 0);
    hs_frame_t f[16];
    unsigned n = 0;
    bt_chain_run_backtrace(&c, f, &n, 16);
    HS_EXPECT_EQ_U64(n, 16);
}

HS_TEST(remove_keeps_order_of_the_rest)
{
    static bt_chain_t c;
    bt_chain_add(&c, bt_fn(hook_append), (void *)&A);
    bt_chain_add(&c, bt_fn(hook_append), (void *)&B);
    bt_chain_add(&c, bt_fn(hook_append), (void *)&C);
    HS_ASSERT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_append), (void *)&B), 0);
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_append), (void *)&B),
                     ENOENT);
    hs_frame_t f[8];
    unsigned n = 0;
    bt_chain_run_backtrace(&c, f, &n, 8);
    HS_ASSERT_EQ_U64(n, 2);
    HS_EXPECT_EQ_U64(f[0], A);
    HS_EXPECT_EQ_U64(f[1], C);
    /* Adding again appends at the end. */
    bt_chain_add(&c, bt_fn(hook_append), (void *)&B);
    n = 0;
    bt_chain_run_backtrace(&c, f, &n, 8);
    HS_ASSERT_EQ_U64(n, 3);
    HS_EXPECT_EQ_U64(f[2], B);
    bt_chain_remove(&c, bt_fn(hook_append), (void *)&A);
    bt_chain_remove(&c, bt_fn(hook_append), (void *)&B);
    bt_chain_remove(&c, bt_fn(hook_append), (void *)&C);
    HS_EXPECT_EQ_U64(bt_chain_count(&c), 0);
    n = 0;
    bt_chain_run_backtrace(&c, f, &n, 8);
    HS_EXPECT_EQ_U64(n, 0);
}

HS_TEST(duplicates_run_twice_and_go_one_at_a_time)
{
    static bt_chain_t c;
    bt_chain_add(&c, bt_fn(hook_append), (void *)&A);
    bt_chain_add(&c, bt_fn(hook_append), (void *)&A);
    hs_frame_t f[8];
    unsigned n = 0;
    bt_chain_run_backtrace(&c, f, &n, 8);
    HS_EXPECT_EQ_U64(n, 2);
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_append), (void *)&A), 0);
    HS_EXPECT_EQ_U64(bt_chain_count(&c), 1);
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_append), (void *)&A), 0);
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_append), (void *)&A),
                     ENOENT);
}

HS_TEST(errors)
{
    static bt_chain_t c;
    HS_EXPECT_EQ_INT(bt_chain_add(&c, bt_fn(NULL), NULL), EINVAL);
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(NULL), NULL), ENOENT);
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_drop0), NULL), ENOENT);
    hs_frame_t args[17];
    for (unsigned i = 0; i < 16; i++)
        HS_EXPECT_EQ_INT(bt_chain_add(&c, bt_fn(hook_append), &args[i]), 0);
    HS_EXPECT_EQ_INT(bt_chain_add(&c, bt_fn(hook_append), &args[16]), ENOSPC);
    HS_EXPECT_EQ_U64(bt_chain_count(&c), 16);
    /* Same function, other argument: not the same hook. */
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_append), &args[16]),
                     ENOENT);
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_append), &args[3]), 0);
    HS_EXPECT_EQ_INT(bt_chain_add(&c, bt_fn(hook_append), &args[16]), 0);
    for (unsigned i = 0; i < 17; i++)
        if (i != 3)
            HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_append), &args[i]),
                             0);
    HS_EXPECT_EQ_U64(bt_chain_count(&c), 0);
}

/* ---- public functions ---- */

/* Records whether the reentrancy guard was held. */
static void
hook_note_guard(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)frames, (void)n, (void)max;
    *(bool *)arg = tsd_reentrant();
}

HS_TEST(hooks_run_under_the_reentrancy_guard)
{
    static bt_chain_t c;
    bool guarded = false;
    HS_ASSERT_EQ_INT(bt_chain_add(&c, bt_fn(hook_note_guard), &guarded), 0);
    hs_frame_t f[2];
    unsigned n = 0;
    bt_chain_run_backtrace(&c, f, &n, 2);
    HS_EXPECT_TRUE(guarded);
    HS_EXPECT_FALSE(tsd_reentrant());
    HS_EXPECT_EQ_INT(bt_chain_remove(&c, bt_fn(hook_note_guard), &guarded), 0);
}

HS_TEST(public_backtrace_hooks)
{
    HS_EXPECT_EQ_INT(hs_backtrace_hook_add(NULL, NULL), EINVAL);
    HS_ASSERT_EQ_INT(hs_backtrace_hook_add(hook_append, (void *)&A), 0);
    HS_ASSERT_EQ_INT(hs_backtrace_hook_add(hook_add_offset, (void *)&X), 0);
    hs_frame_t f[4] = {1};
    unsigned n = 1;
    bt_hooks_run(f, &n, 4);
    HS_ASSERT_EQ_U64(n, 2);
    HS_EXPECT_EQ_U64(f[0], 1 + X);
    HS_EXPECT_EQ_U64(f[1], A + X);
    HS_EXPECT_EQ_INT(hs_backtrace_hook_remove(hook_append, (void *)&A), 0);
    HS_EXPECT_EQ_INT(hs_backtrace_hook_remove(hook_append, (void *)&A), ENOENT);
    HS_EXPECT_EQ_INT(hs_backtrace_hook_remove(hook_add_offset, (void *)&X), 0);
    n = 1;
    f[0] = 1;
    bt_hooks_run(f, &n, 4);
    HS_EXPECT_EQ_U64(n, 1);
    HS_EXPECT_EQ_U64(f[0], 1);
}

/* ---- a hook that removes itself, or adds from inside a run ---- */

static bt_chain_t self_chain;
static int self_calls;

static void
hook_self_remove(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)frames;
    (void)n;
    (void)max;
    self_calls++;
    bt_chain_remove(&self_chain, bt_fn(hook_self_remove), arg);
    /* And churn the chain from inside its own run. */
    bt_chain_add(&self_chain, bt_fn(hook_drop0), arg);
    bt_chain_remove(&self_chain, bt_fn(hook_drop0), arg);
}

HS_TEST(hook_removes_itself)
{
    HS_ASSERT_EQ_INT(bt_chain_add(&self_chain, bt_fn(hook_self_remove), NULL),
                     0);
    HS_ASSERT_EQ_INT(bt_chain_add(&self_chain, bt_fn(hook_append), (void *)&A),
                     0);
    hs_frame_t f[4];
    unsigned n = 0;
    bt_chain_run_backtrace(&self_chain, f, &n, 4);
    HS_EXPECT_EQ_INT(self_calls, 1);
    /* The run went on with the hooks it started with. */
    HS_ASSERT_EQ_U64(n, 1);
    HS_EXPECT_EQ_U64(f[0], A);
    n = 0;
    bt_chain_run_backtrace(&self_chain, f, &n, 4);
    HS_EXPECT_EQ_INT(self_calls, 1);
    HS_EXPECT_EQ_U64(n, 1);
    HS_EXPECT_EQ_U64(bt_chain_count(&self_chain), 1);
}

/* ---- remove while other threads run the chain ---- */

enum { RUNNERS = 2 };

typedef struct slow_s {
    _Atomic(unsigned) inside; /* threads inside the hook now */
    _Atomic(unsigned long) calls;
} slow_t;

static bt_chain_t busy_chain;
static atomic_bool busy_stop;

static void
hook_slow(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)frames;
    (void)n;
    (void)max;
    slow_t *s = arg;
    atomic_fetch_add(&s->inside, 1);
    atomic_fetch_add(&s->calls, 1);
    for (int i = 0; i < 200; i++)
        __asm__ volatile("pause");
    atomic_fetch_sub(&s->inside, 1);
}

static void *
runner(void *arg)
{
    (void)arg;
    hs_frame_t f[4];
    while (!atomic_load(&busy_stop)) {
        unsigned n = 0;
        bt_chain_run_backtrace(&busy_chain, f, &n, 4);
    }
    return NULL;
}

/* Yields until hook h has been called more than `since` times, or 2 s
 * passed: on a loaded machine (ctest -j2) the runners may not have run at
 * all yet, and the test's counts must not depend on the scheduler. */
static void
wait_for_a_call(slow_t *h, unsigned long since)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&h->calls) <= since) {
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= 2)
            return;
    }
}

HS_TEST(remove_waits_for_running_hooks)
{
    pthread_t t[RUNNERS];
    slow_t hooks[4];
    memset(hooks, 0, sizeof hooks);
    atomic_store(&busy_stop, false);
    /* One hook always present, so the runs never take the empty path. */
    HS_ASSERT_EQ_INT(bt_chain_add(&busy_chain, bt_fn(hook_slow), &hooks[3]), 0);
    for (int i = 0; i < RUNNERS; i++)
        HS_ASSERT_EQ_INT(pthread_create(&t[i], NULL, runner, NULL), 0);
    wait_for_a_call(&hooks[3], 0); /* the runners are running */
    unsigned violations = 0, stale_calls = 0;
    for (int round = 0; round < 500; round++) {
        slow_t *h = &hooks[round % 3];
        unsigned long before = atomic_load(&h->calls);
        HS_ASSERT_EQ_INT(bt_chain_add(&busy_chain, bt_fn(hook_slow), h), 0);
        /* Every seventh round, the remove races with runs already inside
         * the new hook; the others remove it as soon as it is in. */
        if (round % 7 == 0)
            wait_for_a_call(h, before);
        HS_ASSERT_EQ_INT(bt_chain_remove(&busy_chain, bt_fn(hook_slow), h), 0);
        violations += atomic_load(&h->inside) != 0;
        unsigned long calls = atomic_load(&h->calls);
        for (int i = 0; i < 100; i++)
            __asm__ volatile("pause");
        stale_calls += atomic_load(&h->calls) != calls;
    }
    atomic_store(&busy_stop, true);
    for (int i = 0; i < RUNNERS; i++)
        pthread_join(t[i], NULL);
    HS_EXPECT_EQ_U64(violations, 0);
    HS_EXPECT_EQ_U64(stale_calls, 0);
    HS_EXPECT_GT_U64(atomic_load(&hooks[3].calls), 0);
    unsigned long removed_calls = atomic_load(&hooks[0].calls) +
                                  atomic_load(&hooks[1].calls) +
                                  atomic_load(&hooks[2].calls);
    HS_EXPECT_GT_U64(removed_calls, 0);
    HS_EXPECT_EQ_INT(bt_chain_remove(&busy_chain, bt_fn(hook_slow), &hooks[3]),
                     0);
}

/* ---- fork while runs are in progress ---- */

static bt_chain_t fork_chain;
static atomic_int parked; /* 1 while a thread waits inside hook_park */
static atomic_bool release_park;

static void
hook_park(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)frames;
    (void)n;
    (void)max;
    (void)arg;
    atomic_store(&parked, 1);
    while (!atomic_load(&release_park))
        sched_yield();
    atomic_store(&parked, 0);
}

static void *
park_runner(void *arg)
{
    (void)arg;
    hs_frame_t f[4];
    unsigned n = 0;
    bt_chain_run_backtrace(&fork_chain, f, &n, 4);
    return NULL;
}

/* In the child: churn fork_chain (the parked run's thread is gone). */
static int
child_churns(void)
{
    alarm(20);
    unsigned before = bt_chain_count(&fork_chain);
    if (bt_chain_add(&fork_chain, bt_fn(hook_drop0), NULL) != 0 ||
        bt_chain_remove(&fork_chain, bt_fn(hook_park), NULL) != 0 ||
        bt_chain_remove(&fork_chain, bt_fn(hook_drop0), NULL) != 0)
        return 1;
    return bt_chain_count(&fork_chain) == before - 1 ? 0 : 2;
}

/* The child's exit status, or minus the signal that ended it. */
static int
wait_status(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1000;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* Forks from inside a hook of fork_chain: the child's own run stays. */
static void
hook_fork(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)frames;
    (void)n;
    (void)max;
    int *status = arg;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_churns());
    *status = pid > 0 ? wait_status(pid) : -1;
}

HS_TEST(fork_while_runs_in_progress)
{
    atomic_store(&release_park, false);
    HS_ASSERT_EQ_INT(bt_chain_add(&fork_chain, bt_fn(hook_park), NULL), 0);
    pthread_t t;
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, park_runner, NULL), 0);
    while (atomic_load(&parked) == 0)
        sched_yield();
    /* Another thread is inside the chain: the child must not wait for
     * it. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_churns());
    HS_EXPECT_EQ_INT(wait_status(pid), 0);
    atomic_store(&release_park, true);
    pthread_join(t, NULL);
    /* This thread is inside the chain when it forks. */
    int status = -1;
    atomic_store(&release_park, true);
    HS_ASSERT_EQ_INT(bt_chain_add(&fork_chain, bt_fn(hook_fork), &status), 0);
    hs_frame_t f[4];
    unsigned n = 0;
    bt_chain_run_backtrace(&fork_chain, f, &n, 4);
    HS_EXPECT_EQ_INT(status, 0);
    HS_EXPECT_EQ_INT(bt_chain_remove(&fork_chain, bt_fn(hook_fork), &status),
                     0);
    HS_EXPECT_EQ_INT(bt_chain_remove(&fork_chain, bt_fn(hook_park), NULL), 0);
}

HS_TEST_MAIN()
