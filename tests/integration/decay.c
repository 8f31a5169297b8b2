/*
 * decay.c — the page layer's decay pipeline and background thread through
 * the public interface (hs_ctl, /proc/self/statm, /proc/self/smaps_rollup):
 *
 *   - resident memory falls at once after a large free with decay times 0,
 *     and at once on arena.<i>.purge with the default (10 s) times;
 *   - with short decay times, a freed block's pages pass dirty -> muzzy
 *     (MADV_FREE: LazyFree in smaps) -> retained, and resident memory falls
 *     within a bounded time, driven by allocation ticks alone;
 *   - the background thread does the same with no allocation at all, then
 *     sleeps without waking while nothing is deferred, survives fork (the
 *     child purges by ticks and can start its own), and stops on request;
 *   - the control nodes read back what was written and reject bad values;
 *   - the pages a thread leaves in its arena when it exits are purged soon
 *     after (the arena waits a few ms for a new thread first), by other
 *     threads' allocation ticks or by the background thread with no
 *     allocation at all.
 *
 * Timing: a deadline only bounds how long the test waits for purging
 * (generous: seconds for decay times of 100 ms); nothing asserts speed.
 * Each test uses its own thread arena state: decay times are set on the
 * calling thread's arena and restored afterwards.
 */
#include "hs_test.h"

#include <errno.h>
#include <fcntl.h>
#include <heapsight.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "it_util.h"

#define MIB ((size_t)1 << 20)
#define BLOCK (64 * MIB)

static size_t
rss_bytes(void)
{
    return it_rss_bytes();
}

/* LazyFree bytes of the whole process (MADV_FREE pages not reclaimed). */
static size_t
lazyfree_bytes(void)
{
    return it_smaps_kb("LazyFree:") << 10;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
my_arena(void)
{
    unsigned ind = 0;
    size_t len = sizeof ind;
    if (hs_ctl("thread.arena", &ind, &len, NULL, 0) != 0)
        return 0;
    return ind;
}

static void
set_decay(unsigned arena, ssize_t dirty, ssize_t muzzy)
{
    char name[64];
    snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", arena);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &dirty, sizeof dirty), 0);
    snprintf(name, sizeof name, "arena.%u.muzzy_decay_ms", arena);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &muzzy, sizeof muzzy), 0);
}

static size_t
arena_stat(unsigned arena, const char *what)
{
    char name[64];
    snprintf(name, sizeof name, "stats.arenas.%u.%s", arena, what);
    size_t v = 0, len = sizeof v;
    HS_EXPECT_EQ_INT(hs_ctl(name, &v, &len, NULL, 0), 0);
    return v;
}

static uint64_t
bg_runs(void)
{
    uint64_t v = 0;
    size_t len = sizeof v;
    HS_EXPECT_EQ_INT(
        hs_ctl("stats.background_thread.num_runs", &v, &len, NULL, 0), 0);
    return v;
}

static size_t
bg_threads(void)
{
    size_t v = 0, len = sizeof v;
    HS_EXPECT_EQ_INT(
        hs_ctl("stats.background_thread.num_threads", &v, &len, NULL, 0), 0);
    return v;
}

static void
set_background(bool on)
{
    HS_EXPECT_EQ_INT(hs_ctl("background_thread", NULL, NULL, &on, sizeof on),
                     0);
}

/* A BLOCK-sized allocation with every page touched. */
static char *
touched_block(void)
{
    char *p = malloc(it_opaque(BLOCK));
    if (p != NULL)
        memset(p, 0x5a, BLOCK);
    return p;
}

/* Waits (allocating small blocks when tick, else sleeping) until the RSS
 * is at most limit; the time it took, or -1 after timeout_s. */
static double
wait_rss_below(size_t limit, double timeout_s, bool tick)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        if (rss_bytes() <= limit)
            return now_s() - t0;
        if (tick) {
            /* Enough allocation to cross a decay tick (256 KiB). */
            for (int i = 0; i < 64; i++)
                free(it_opaque_ptr(malloc(it_opaque(8192))));
        }
        usleep(5000);
    }
    return -1;
}

/* A thread that touches a block of `size` bytes, frees it and exits a
 * little later: its arena keeps the pages dirty (default decay: 10 s) as
 * it loses its last thread.  The pause lets a background thread woken by
 * the free go back to sleep first. */
typedef struct exiter_s {
    size_t size;
    unsigned arena; /* the thread's arena */
    bool ok;
} exiter_t;

static void *
block_and_exit(void *arg)
{
    exiter_t *x = arg;
    x->arena = my_arena();
    char *p = malloc(it_opaque(x->size));
    x->ok = p != NULL;
    if (p != NULL)
        memset(p, 0x5a, x->size);
    free(p);
    usleep(300000);
    return NULL;
}

static void
run_exiter(exiter_t *x)
{
    pthread_t t;
    HS_EXPECT_EQ_INT(pthread_create(&t, NULL, block_and_exit, x), 0);
    HS_EXPECT_EQ_INT(pthread_join(t, NULL), 0);
    HS_EXPECT_TRUE(x->ok);
}

/* Waits (sleeping, no allocation) until arena's dirty pages are gone; the
 * time it took, or -1 after timeout_s. */
static double
wait_arena_clean(unsigned arena, double timeout_s)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        if (arena_stat(arena, "pdirty") == 0)
            return now_s() - t0;
        usleep(10000);
    }
    return -1;
}

/* Run as integration_decay_option (HEAPSIGHT=background_thread:true):
 * the option starts the thread before main. */
HS_TEST(startup_option_starts_the_thread)
{
    const char *conf = getenv("HEAPSIGHT");
    if (conf == NULL || strstr(conf, "background_thread:true") == NULL)
        HS_SKIP("HEAPSIGHT has no background_thread:true");
    HS_EXPECT_EQ_SIZE(bg_threads(), 1);
    bool on = false;
    size_t len = sizeof on;
    HS_EXPECT_EQ_INT(hs_ctl("opt.background_thread", &on, &len, NULL, 0), 0);
    HS_EXPECT_TRUE(on);
}

HS_TEST(decay_zero_returns_memory_at_once)
{
    unsigned a = my_arena();
    set_decay(a, 0, 0);
    char *p = touched_block();
    HS_ASSERT_NOT_NULL(p);
    size_t with = rss_bytes();
    free(p);
    size_t after = rss_bytes();
    HS_EXPECT_LE_SIZE(after + BLOCK - 4 * MIB, with);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pdirty"), 0);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pmuzzy"), 0);
    HS_EXPECT_GE_SIZE(arena_stat(a, "retained"), BLOCK);
    set_decay(a, 10000, 10000);
}

HS_TEST(purge_returns_memory_at_once)
{
    unsigned a = my_arena();
    char *p = touched_block();
    HS_ASSERT_NOT_NULL(p);
    size_t with = rss_bytes();
    free(p);
    /* Default decay: still resident, as dirty pages. */
    HS_EXPECT_GE_SIZE(arena_stat(a, "pdirty") * 4096, BLOCK);
    HS_EXPECT_GE_SIZE(rss_bytes() + 4 * MIB, with);
    char name[64];
    snprintf(name, sizeof name, "arena.%u.purge", a);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), 0);
    HS_EXPECT_LE_SIZE(rss_bytes() + BLOCK - 4 * MIB, with);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pdirty"), 0);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pmuzzy"), 0);
    /* Every arena at once. */
    p = touched_block();
    HS_ASSERT_NOT_NULL(p);
    free(p);
    snprintf(name, sizeof name, "arena.%u.purge", HS_ARENAS_ALL);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), 0);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pdirty"), 0);
}

HS_TEST(pages_pass_through_muzzy_to_retained_by_ticks)
{
    unsigned a = my_arena();
    set_decay(a, 100, 100);
    char *p = touched_block();
    HS_ASSERT_NOT_NULL(p);
    size_t with = rss_bytes();
    uint64_t muzzy0 = arena_stat(a, "muzzy_purged");
    size_t lazy0 = lazyfree_bytes();
    free(p);
    /* Watch the stages while allocation ticks drive decay. */
    size_t max_muzzy = 0, max_lazy = 0;
    double t0 = now_s();
    while (now_s() - t0 < 10) {
        size_t m = arena_stat(a, "pmuzzy") * 4096, l = lazyfree_bytes();
        if (m > max_muzzy)
            max_muzzy = m;
        if (l > max_lazy)
            max_lazy = l;
        if (rss_bytes() + BLOCK - 4 * MIB <= with &&
            arena_stat(a, "pdirty") == 0 && arena_stat(a, "pmuzzy") == 0)
            break;
        for (int i = 0; i < 64; i++)
            free(it_opaque_ptr(malloc(it_opaque(8192))));
        usleep(2000);
    }
    HS_EXPECT_LE_SIZE(rss_bytes() + BLOCK - 4 * MIB, with);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pdirty"), 0);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pmuzzy"), 0);
    /* Most of the block was muzzy at some point, lazily freed in the
     * kernel's eyes too. */
    HS_EXPECT_GE_SIZE(max_muzzy, BLOCK / 4);
    HS_EXPECT_GE_SIZE(max_lazy, lazy0 + BLOCK / 4);
    /* (A few pages of the block may have served the small allocations.) */
    HS_EXPECT_GE_U64(arena_stat(a, "muzzy_purged") - muzzy0,
                     (BLOCK - 4 * MIB) / 4096);
    set_decay(a, 10000, 10000);
}

HS_TEST(ctl_nodes_read_back_and_reject_bad_values)
{
    unsigned a = my_arena();
    char name[64];
    snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", a);
    ssize_t v = 1234, old = 0;
    size_t len = sizeof old;
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &v, sizeof v), 0);
    HS_EXPECT_EQ_INT(hs_ctl(name, &old, &len, NULL, 0), 0);
    HS_EXPECT_EQ_INT(old, 1234);
    v = -2;
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &v, sizeof v), EINVAL);
    v = 86400001;
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &v, sizeof v), EINVAL);
    int small = 5;
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &small, sizeof small), EINVAL);
    v = 10000;
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &v, sizeof v), 0);
    snprintf(name, sizeof name, "arena.%u.decay", a);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), 0);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &v, sizeof v), EPERM);
    HS_EXPECT_EQ_INT(hs_ctl("arena.99999.purge", NULL, NULL, NULL, 0), ENOENT);
    HS_EXPECT_EQ_INT(hs_ctl("arena.x.purge", NULL, NULL, NULL, 0), ENOENT);
    snprintf(name, sizeof name, "arena.%u.bogus", a);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), ENOENT);
    snprintf(name, sizeof name, "stats.arenas.%u.bogus", a);
    size_t s = 0;
    len = sizeof s;
    HS_EXPECT_EQ_INT(hs_ctl(name, &s, &len, NULL, 0), ENOENT);
    uint64_t e = 1;
    HS_EXPECT_EQ_INT(hs_ctl("epoch", NULL, NULL, &e, sizeof e), 0);
    size_t muzzy = 1, dirty = 1;
    len = sizeof muzzy;
    HS_EXPECT_EQ_INT(hs_ctl("stats.muzzy", &muzzy, &len, NULL, 0), 0);
    HS_EXPECT_EQ_INT(hs_ctl("stats.dirty", &dirty, &len, NULL, 0), 0);
    bool on = true;
    HS_EXPECT_EQ_INT(hs_ctl("background_thread", NULL, NULL, &on, 1 + 1),
                     EINVAL);
    /* The descriptor cache counts its use: large blocks split and merge
     * free extents, taking and giving back descriptors. */
    for (int i = 0; i < 50; i++) {
        void *big = malloc(it_opaque((size_t)(i % 5 + 1) << 20));
        void *mid = malloc(it_opaque(100000));
        free(big);
        free(mid);
    }
    size_t in_use = 0, cached = 0;
    uint64_t recycled = 0;
    len = sizeof in_use;
    HS_EXPECT_EQ_INT(hs_ctl("stats.edata.in_use", &in_use, &len, NULL, 0), 0);
    HS_EXPECT_EQ_INT(hs_ctl("stats.edata.cached", &cached, &len, NULL, 0), 0);
    len = sizeof recycled;
    HS_EXPECT_EQ_INT(hs_ctl("stats.edata.nrecycled", &recycled, &len, NULL, 0),
                     0);
    HS_EXPECT_GT_SIZE(in_use, 0);
    HS_EXPECT_GT_U64(recycled, 0);
}

HS_TEST(background_thread_purges_without_allocation)
{
    unsigned a = my_arena();
    set_background(true);
    HS_EXPECT_EQ_SIZE(bg_threads(), 1);
    set_decay(a, 100, 100);
    char *p = touched_block();
    HS_ASSERT_NOT_NULL(p);
    size_t with = rss_bytes();
    uint64_t runs0 = bg_runs();
    free(p);
    /* No allocation from here on: only the background thread purges. */
    HS_EXPECT_GE_INT(wait_rss_below(with - BLOCK + 4 * MIB, 10, false), 0);
    HS_EXPECT_GT_U64(bg_runs(), runs0);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pdirty"), 0);
    HS_EXPECT_EQ_SIZE(arena_stat(a, "pmuzzy"), 0);
    /* Nothing deferred: it sleeps and does not wake. */
    usleep(300000);
    uint64_t idle0 = bg_runs();
    usleep(1500000);
    HS_EXPECT_EQ_U64(bg_runs(), idle0);
    /* New deferred work wakes it. */
    p = touched_block();
    HS_ASSERT_NOT_NULL(p);
    free(p);
    HS_EXPECT_GE_INT(wait_rss_below(with - BLOCK + 4 * MIB, 10, false), 0);
    HS_EXPECT_GT_U64(bg_runs(), idle0);
    set_decay(a, 10000, 10000);
    set_background(false);
    HS_EXPECT_EQ_SIZE(bg_threads(), 0);
}

/* Deadlines of 2 s for what takes milliseconds (the orphan wait, then a
 * tick or the background thread's 100 ms minimum sleep): the decay curve
 * alone would keep most of the block resident for several seconds. */
HS_TEST(exited_threads_pages_purged_by_ticks)
{
    size_t before = rss_bytes();
    exiter_t x = {.size = BLOCK};
    run_exiter(&x);
    HS_EXPECT_GE_INT(wait_rss_below(before + 4 * MIB, 2.0, true), 0);
}

/* 32 pages: too few for the background thread to wake for them before
 * their decay is due (PAC_DEFER_MIN_PAGES); the thread's exit wakes it. */
HS_TEST(exited_threads_pages_purged_by_background_thread)
{
    set_background(true);
    exiter_t x = {.size = 128 << 10};
    run_exiter(&x);
    /* No allocation from here on. */
    HS_EXPECT_GE_INT(wait_arena_clean(x.arena, 2.0), 0);
    set_background(false);
}

HS_TEST(background_thread_across_fork)
{
    set_background(true);
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        HS_ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            /* The child has no background thread; allocation works, and it
             * can start one of its own. */
            size_t n = 0, len = sizeof n;
            if (hs_ctl("stats.background_thread.num_threads", &n, &len, NULL,
                       0) != 0 ||
                n != 0)
                _exit(2);
            for (int k = 0; k < 1000; k++)
                free(it_opaque_ptr(malloc(it_opaque(100 + k))));
            if (i % 4 == 0) {
                bool on = true;
                if (hs_ctl("background_thread", NULL, NULL, &on, sizeof on))
                    _exit(3);
                free(it_opaque_ptr(malloc(it_opaque(MIB))));
                on = false;
                if (hs_ctl("background_thread", NULL, NULL, &on, sizeof on))
                    _exit(4);
            }
            _exit(0);
        }
        int st = 0;
        HS_EXPECT_EQ_INT(waitpid(pid, &st, 0), pid);
        HS_EXPECT_TRUE(WIFEXITED(st));
        HS_EXPECT_EQ_INT(WEXITSTATUS(st), 0);
    }
    HS_EXPECT_EQ_SIZE(bg_threads(), 1);
    set_background(false);
}

HS_TEST_MAIN()
