/*
 * ctl.c — the hs_ctl() control nodes listed in heapsight.h.
 *
 * Owns the checks of: node types and lengths (a wrong *oldlenp or newlen
 * is EINVAL), ENOENT for unknown names, EPERM for writes to read-only
 * nodes, version, epoch refreshing the stats.* snapshot, stats.allocated
 * following large allocations and frees, arenas.narenas, thread.arena,
 * thread.tcache.flush, thread.allocated/deallocated moving by exactly the
 * usable size, arena.<i>.purge and the opt.* nodes every build has.
 */
#include "heapsight.h"
#include "hs_test.h"
#include "it_util.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static const char *const ctl_stats_nodes[] = {
    "stats.allocated", "stats.active",   "stats.resident",
    "stats.mapped",    "stats.retained", "stats.metadata",
};
#define CTL_NSTATS (sizeof ctl_stats_nodes / sizeof ctl_stats_nodes[0])

static size_t
ctl_read_size(const char *name)
{
    size_t v = 0, len = sizeof v;
    int rc = hs_ctl(name, &v, &len, NULL, 0);
    if (rc != 0)
        HS_FAIL("hs_ctl(\"%s\") read = %d", name, rc);
    return v;
}

static uint64_t
ctl_read_u64(const char *name)
{
    uint64_t v = 0;
    size_t len = sizeof v;
    int rc = hs_ctl(name, &v, &len, NULL, 0);
    if (rc != 0)
        HS_FAIL("hs_ctl(\"%s\") read = %d", name, rc);
    return v;
}

static unsigned
ctl_read_unsigned(const char *name)
{
    unsigned v = 0;
    size_t len = sizeof v;
    int rc = hs_ctl(name, &v, &len, NULL, 0);
    if (rc != 0)
        HS_FAIL("hs_ctl(\"%s\") read = %d", name, rc);
    return v;
}

/* Writes epoch, which refreshes the stats.* snapshot. */
static void
ctl_refresh(void)
{
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    HS_EXPECT_EQ_INT(hs_ctl("epoch", &epoch, &len, &epoch, sizeof epoch), 0);
}

static void
ctl_flush_tcache(void)
{
    HS_EXPECT_EQ_INT(hs_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
}

HS_TEST(version_is_the_header_version)
{
    const char *v = NULL;
    size_t len = sizeof v;
    HS_ASSERT_EQ_INT(hs_ctl("version", &v, &len, NULL, 0), 0);
    HS_EXPECT_EQ_SIZE(len, sizeof v);
    HS_EXPECT_EQ_STR(v, HS_VERSION);
}

HS_TEST(unknown_names_are_enoent)
{
    static const char *const names[] = {
        "",
        "no.such.node",
        "stats",
        "stats.allocatedx",
        "stats.allocated.",
        "opt.no_such_opt",
        "thread.",
        "versio",
        "arena.x.purge",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t v = 0, len = sizeof v;
        int rc = hs_ctl(names[i], &v, &len, NULL, 0);
        if (rc != ENOENT)
            HS_FAIL("hs_ctl(\"%s\") = %d, want ENOENT", names[i], rc);
    }
}

HS_TEST(wrong_lengths_are_einval)
{
    uint32_t small = 0;
    unsigned char big[32] = {0};
    size_t len;
    for (size_t i = 0; i < CTL_NSTATS; i++) {
        len = sizeof small;
        HS_EXPECT_EQ_INT(hs_ctl(ctl_stats_nodes[i], &small, &len, NULL, 0),
                         EINVAL);
        len = sizeof big;
        HS_EXPECT_EQ_INT(hs_ctl(ctl_stats_nodes[i], big, &len, NULL, 0),
                         EINVAL);
    }
    len = 4;
    HS_EXPECT_EQ_INT(hs_ctl("version", big, &len, NULL, 0), EINVAL);
    len = sizeof small;
    HS_EXPECT_EQ_INT(hs_ctl("epoch", &small, &len, NULL, 0), EINVAL);
    len = sizeof(size_t);
    HS_EXPECT_EQ_INT(hs_ctl("arenas.narenas", big, &len, NULL, 0), EINVAL);
    len = sizeof small;
    HS_EXPECT_EQ_INT(hs_ctl("thread.allocated", &small, &len, NULL, 0), EINVAL);
    unsigned arena = 0;
    HS_EXPECT_EQ_INT(
        hs_ctl("thread.arena", NULL, NULL, &arena, sizeof(uint64_t)), EINVAL);
    uint32_t e32 = 1;
    HS_EXPECT_EQ_INT(hs_ctl("epoch", NULL, NULL, &e32, sizeof e32), EINVAL);
}

HS_TEST(read_only_nodes_are_eperm)
{
    size_t sz = 1;
    unsigned u = 1;
    uint64_t u64 = 1;
    const char *s = "x";
    bool b = true;
    HS_EXPECT_EQ_INT(hs_ctl("version", NULL, NULL, &s, sizeof s), EPERM);
    for (size_t i = 0; i < CTL_NSTATS; i++)
        HS_EXPECT_EQ_INT(hs_ctl(ctl_stats_nodes[i], NULL, NULL, &sz, sizeof sz),
                         EPERM);
    HS_EXPECT_EQ_INT(hs_ctl("arenas.narenas", NULL, NULL, &u, sizeof u), EPERM);
    HS_EXPECT_EQ_INT(hs_ctl("thread.allocated", NULL, NULL, &u64, sizeof u64),
                     EPERM);
    HS_EXPECT_EQ_INT(hs_ctl("thread.deallocated", NULL, NULL, &u64, sizeof u64),
                     EPERM);
    HS_EXPECT_EQ_INT(hs_ctl("opt.narenas", NULL, NULL, &u, sizeof u), EPERM);
    HS_EXPECT_EQ_INT(hs_ctl("opt.tcache", NULL, NULL, &b, sizeof b), EPERM);
}

HS_TEST(epoch_reads_and_writes)
{
    uint64_t e0 = 0, e1 = 0, neu = 1;
    size_t len = sizeof e0;
    HS_ASSERT_EQ_INT(hs_ctl("epoch", &e0, &len, NULL, 0), 0);
    len = sizeof e1;
    HS_ASSERT_EQ_INT(hs_ctl("epoch", &e1, &len, &neu, sizeof neu), 0);
    HS_EXPECT_EQ_SIZE(len, sizeof e1);
}

HS_TEST(stats_nodes_are_size_t)
{
    ctl_refresh();
    for (size_t i = 0; i < CTL_NSTATS; i++) {
        size_t v = (size_t)-1, len = sizeof v;
        HS_EXPECT_EQ_INT(hs_ctl(ctl_stats_nodes[i], &v, &len, NULL, 0), 0);
        HS_EXPECT_EQ_SIZE(len, sizeof(size_t));
        HS_EXPECT_NE_SIZE(v, (size_t)-1);
    }
}

HS_TEST(stats_are_consistent)
{
    enum { N = 16 };
    void *keep[N];
    for (size_t i = 0; i < N; i++) {
        keep[i] = malloc(it_opaque(1 << 20));
        HS_ASSERT_NOT_NULL(keep[i]);
        memset(keep[i], 1, 1 << 20);
    }
    ctl_refresh();
    size_t allocated = ctl_read_size("stats.allocated");
    size_t active = ctl_read_size("stats.active");
    size_t resident = ctl_read_size("stats.resident");
    size_t mapped = ctl_read_size("stats.mapped");
    HS_EXPECT_GE_SIZE(allocated, (size_t)N << 20);
    HS_EXPECT_LE_SIZE(allocated, active);
    HS_EXPECT_LE_SIZE(active, mapped);
    HS_EXPECT_LE_SIZE(active, resident);
    HS_EXPECT_GT_SIZE(ctl_read_size("stats.metadata"), 0);
    for (size_t i = 0; i < N; i++)
        free(keep[i]);
}

/* Allocates N bytes in large blocks: stats.allocated must grow by about
 * N, and fall by about N after they are freed. */
HS_TEST(stats_allocated_follows_large_blocks)
{
    enum { NBLOCKS = 64 };
    static void *blocks[NBLOCKS];
    const size_t block = (size_t)2 << 20;
    const size_t total = NBLOCKS * block;
    const size_t slack = total / 8;

    ctl_flush_tcache();
    ctl_refresh();
    size_t before = ctl_read_size("stats.allocated");
    for (size_t i = 0; i < NBLOCKS; i++) {
        blocks[i] = malloc(it_opaque(block));
        HS_ASSERT_NOT_NULL(blocks[i]);
        memset(blocks[i], 7, block);
    }
    ctl_refresh();
    size_t during = ctl_read_size("stats.allocated");
    HS_EXPECT_GE_SIZE(during, before + total);
    HS_EXPECT_LE_SIZE(during, before + total + slack);
    for (size_t i = 0; i < NBLOCKS; i++)
        free(blocks[i]);
    ctl_flush_tcache();
    ctl_refresh();
    size_t after = ctl_read_size("stats.allocated");
    HS_EXPECT_LE_SIZE(after + total - slack, during);
    HS_EXPECT_LE_SIZE(after, before + slack);
}

HS_TEST(snapshot_changes_only_on_epoch)
{
    ctl_refresh();
    size_t a0 = ctl_read_size("stats.allocated");
    void *p = malloc(it_opaque(32 << 20));
    HS_ASSERT_NOT_NULL(p);
    memset(p, 1, 32 << 20);
    size_t a1 = ctl_read_size("stats.allocated");
    HS_EXPECT_EQ_SIZE(a1, a0);
    ctl_refresh();
    size_t a2 = ctl_read_size("stats.allocated");
    HS_EXPECT_GE_SIZE(a2, a0 + (32 << 20));
    free(p);
}

HS_TEST(narenas_at_least_one)
{
    unsigned n = ctl_read_unsigned("arenas.narenas");
    HS_EXPECT_GE_U64(n, 1);
    HS_EXPECT_LE_U64(n, 1u << 16);
}

HS_TEST(thread_arena_read_write)
{
    unsigned narenas = ctl_read_unsigned("arenas.narenas");
    unsigned cur = ctl_read_unsigned("thread.arena");
    HS_EXPECT_LT_U64(cur, narenas);
    unsigned want = narenas > 1 ? (cur + 1) % narenas : cur;
    unsigned old = 12345;
    size_t len = sizeof old;
    HS_ASSERT_EQ_INT(hs_ctl("thread.arena", &old, &len, &want, sizeof want), 0);
    HS_EXPECT_EQ_U64(old, cur);
    HS_EXPECT_EQ_U64(ctl_read_unsigned("thread.arena"), want);
    /* Allocation keeps working after the switch. */
    void *p = malloc(it_opaque(5000));
    HS_ASSERT_NOT_NULL(p);
    memset(p, 1, 5000);
    free(p);
    /* An arena that does not exist is a wrong value. */
    unsigned bad = narenas + 1000;
    HS_EXPECT_EQ_INT(hs_ctl("thread.arena", NULL, NULL, &bad, sizeof bad),
                     EINVAL);
    HS_EXPECT_EQ_U64(ctl_read_unsigned("thread.arena"), want);
    HS_EXPECT_EQ_INT(hs_ctl("thread.arena", NULL, NULL, &cur, sizeof cur), 0);
}

HS_TEST(tcache_flush_and_purge)
{
    void *p = malloc(it_opaque(100));
    free(p);
    HS_EXPECT_EQ_INT(hs_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    unsigned narenas = ctl_read_unsigned("arenas.narenas");
    for (unsigned i = 0; i < narenas && i < 64; i++) {
        char name[64];
        snprintf(name, sizeof name, "arena.%u.purge", i);
        HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), 0);
    }
    p = malloc(it_opaque(100));
    HS_EXPECT_NOT_NULL(p);
    free(p);
}

/* thread.allocated / thread.deallocated move by the usable size. */
static void
ctl_check_thread_counters(size_t n)
{
    uint64_t a0 = ctl_read_u64("thread.allocated");
    void *p = malloc(it_opaque(n));
    uint64_t a1 = ctl_read_u64("thread.allocated");
    if (p == NULL) {
        HS_FAIL("malloc(%zu) = NULL", n);
        return;
    }
    size_t u = malloc_usable_size(p);
    if (a1 - a0 != u)
        HS_FAIL("malloc(%zu): thread.allocated moved %llu, usable %zu", n,
                (unsigned long long)(a1 - a0), u);
    uint64_t d0 = ctl_read_u64("thread.deallocated");
    free(p);
    uint64_t d1 = ctl_read_u64("thread.deallocated");
    if (d1 - d0 != u)
        HS_FAIL("free(%zu): thread.deallocated moved %llu, usable %zu", n,
                (unsigned long long)(d1 - d0), u);
}

HS_TEST(thread_counters_move_by_usable_size)
{
    static const size_t sizes[] = {1,    8,     100,   1000,          4096,
                                   5000, 65536, 70000, (1 << 20) + 1, 10 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        ctl_check_thread_counters(sizes[i]);
}

HS_TEST(realloc_to_zero_is_counted_as_free)
{
    void *p = malloc(it_opaque(3000));
    HS_ASSERT_NOT_NULL(p);
    size_t u = malloc_usable_size(p);
    uint64_t d0 = ctl_read_u64("thread.deallocated");
    void *q = realloc(p, it_opaque(0));
    uint64_t d1 = ctl_read_u64("thread.deallocated");
    HS_EXPECT_NULL(q);
    HS_EXPECT_EQ_U64(d1 - d0, u);
}

struct ctl_thread_result {
    uint64_t own_delta;
    size_t usable;
};

enum { CTL_WORKER_BYTES = 10 << 20 };

static void *
ctl_thread_main(void *arg)
{
    struct ctl_thread_result *r = arg;
    uint64_t a0 = ctl_read_u64("thread.allocated");
    void *p = malloc(it_opaque(CTL_WORKER_BYTES));
    r->usable = malloc_usable_size(p);
    r->own_delta = ctl_read_u64("thread.allocated") - a0;
    free(p);
    return NULL;
}

HS_TEST(thread_counters_are_per_thread)
{
    struct ctl_thread_result r = {0, 0};
    pthread_t t;
    uint64_t mine0 = ctl_read_u64("thread.allocated");
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, ctl_thread_main, &r), 0);
    HS_ASSERT_EQ_INT(pthread_join(t, NULL), 0);
    uint64_t mine1 = ctl_read_u64("thread.allocated");
    HS_EXPECT_EQ_U64(r.own_delta, r.usable);
    HS_EXPECT_GE_U64(r.usable, CTL_WORKER_BYTES);
    /* pthread_create may allocate the thread's bookkeeping from this
     * thread, but the worker's 10 MiB must not show up here. */
    HS_EXPECT_LT_U64(mine1 - mine0, CTL_WORKER_BYTES);
}

HS_TEST(required_opt_nodes_exist)
{
    unsigned narenas = 0;
    bool tcache = false, stats_print = true;
    ssize_t decay = -12345;
    size_t len = sizeof narenas;
    HS_EXPECT_EQ_INT(hs_ctl("opt.narenas", &narenas, &len, NULL, 0), 0);
    len = sizeof tcache;
    HS_EXPECT_EQ_INT(hs_ctl("opt.tcache", &tcache, &len, NULL, 0), 0);
    len = sizeof stats_print;
    HS_EXPECT_EQ_INT(hs_ctl("opt.stats_print", &stats_print, &len, NULL, 0), 0);
    len = sizeof decay;
    HS_EXPECT_EQ_INT(hs_ctl("opt.dirty_decay_ms", &decay, &len, NULL, 0), 0);
    /* Defaults: this test runs without HEAPSIGHT set. */
    HS_EXPECT_FALSE(stats_print);
    HS_EXPECT_GE_INT(decay, -1);
    HS_EXPECT_NE_INT(decay, -12345);
}

HS_TEST(opt_nodes_check_lengths)
{
    uint64_t big = 0;
    size_t len = sizeof big;
    HS_EXPECT_EQ_INT(hs_ctl("opt.narenas", &big, &len, NULL, 0), EINVAL);
    len = sizeof big;
    HS_EXPECT_EQ_INT(hs_ctl("opt.tcache", &big, &len, NULL, 0), EINVAL);
    uint32_t small = 0;
    len = sizeof small;
    HS_EXPECT_EQ_INT(hs_ctl("opt.dirty_decay_ms", &small, &len, NULL, 0),
                     EINVAL);
}

/* Threads that start together each get an arena of their own while there
 * are free ones (they choose and attach in one step).  The race this
 * guards against has a window of a few instructions, so a round rarely
 * hits it; 300 rounds catch a gross regression (every thread in one
 * arena), and a subtle one only sometimes. */
enum { STARTERS = 3 };
static pthread_barrier_t start_line;

static void *
starter(void *arg)
{
    unsigned *r_ind = arg;
    pthread_barrier_wait(&start_line);
    free(it_opaque_ptr(malloc(it_opaque(64)))); /* the first allocation */
    size_t len = sizeof *r_ind;
    if (hs_ctl("thread.arena", r_ind, &len, NULL, 0) != 0)
        *r_ind = UINT32_MAX;
    /* All alive until all have chosen (an ended thread frees its arena). */
    pthread_barrier_wait(&start_line);
    return NULL;
}

HS_TEST(threads_starting_together_get_their_own_arenas)
{
    unsigned n = 0;
    size_t len = sizeof n;
    HS_ASSERT_EQ_INT(hs_ctl("arenas.narenas", &n, &len, NULL, 0), 0);
    if (n < STARTERS + 1)
        HS_SKIP("fewer arenas than threads");
    int shared = 0;
    for (int round = 0; round < 300; round++) {
        pthread_t t[STARTERS];
        unsigned ind[STARTERS];
        pthread_barrier_init(&start_line, NULL, STARTERS);
        for (int i = 0; i < STARTERS; i++)
            HS_ASSERT_EQ_INT(pthread_create(&t[i], NULL, starter, &ind[i]), 0);
        for (int i = 0; i < STARTERS; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&start_line);
        for (int i = 0; i < STARTERS; i++)
            for (int j = i + 1; j < STARTERS; j++)
                shared += ind[i] == ind[j];
    }
    HS_EXPECT_EQ_INT(shared, 0);
}

HS_TEST_MAIN()
