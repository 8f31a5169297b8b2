/*
 * guard.c — guarded extents through the public interface: a block from
 * HS_MALLOCX_GUARDED (or from san_guard_small / san_guard_large) ends at a
 * guard page, so a write one byte past its end, or one byte before its
 * first page, kills the process with SIGSEGV at once; a freed guarded
 * extent keeps its guard and is reused at its exact size without a new
 * guard (stats.san.guards unchanged), also after it decayed; guarded
 * blocks carved one after another share guard pages; and when the guard
 * budget is spent, guarded requests are served unguarded, never failed.
 *
 * The faulting cases run in a forked child.  The san_* cases check the
 * options only when HEAPSIGHT sets them (ctest runs this program a second
 * time as integration_guard_options).
 */
#include "hs_test.h"

#include <heapsight.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it_util.h"

#define PG ((uintptr_t)4096)

static size_t
san_stat(const char *name)
{
    size_t v = 0, len = sizeof v;
    HS_EXPECT_EQ_INT(hs_ctl(name, &v, &len, NULL, 0), 0);
    return v;
}

static uint64_t
san_skipped(void)
{
    uint64_t v = 0;
    size_t len = sizeof v;
    HS_EXPECT_EQ_INT(hs_ctl("stats.san.nskipped", &v, &len, NULL, 0), 0);
    return v;
}

/* Runs write(p + off) in a child; its termination signal (0: none). */
static int
child_write_signal(volatile char *p, ptrdiff_t off)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        p[off] = 1;
        _exit(0);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void
expect_guarded(char *p, size_t usize)
{
    HS_EXPECT_EQ_INT(child_write_signal(p, 0), 0);
    HS_EXPECT_EQ_INT(child_write_signal(p, (ptrdiff_t)usize - 1), 0);
    /* One past the end: the guard. */
    HS_EXPECT_EQ_INT(child_write_signal(p, (ptrdiff_t)usize), SIGSEGV);
    /* One before the block's first page: the guard before it. */
    ptrdiff_t before = -(ptrdiff_t)((uintptr_t)p & (PG - 1)) - 1;
    HS_EXPECT_EQ_INT(child_write_signal(p, before), SIGSEGV);
}

HS_TEST(guarded_small_block_ends_at_its_guard)
{
    size_t guards0 = san_stat("stats.san.guards");
    char *p = hs_mallocx(it_opaque(24), HS_MALLOCX_GUARDED);
    HS_ASSERT_NOT_NULL(p);
    size_t usize = hs_sallocx(p, 0);
    HS_EXPECT_EQ_SIZE(usize, 32);
    HS_EXPECT_EQ_SIZE(((uintptr_t)p + usize) % PG, 0);
    HS_EXPECT_ALIGNED(p, 16);
    HS_EXPECT_GE_SIZE(san_stat("stats.san.guards"), guards0 + 1);
    memset(p, 0x11, usize);
    expect_guarded(p, usize);
    HS_EXPECT_EQ_SIZE(malloc_usable_size(p), usize);
    hs_dallocx(p, 0);
}

HS_TEST(guarded_large_and_aligned_blocks)
{
    char *p = hs_mallocx(it_opaque(65536), HS_MALLOCX_GUARDED);
    HS_ASSERT_NOT_NULL(p);
    HS_EXPECT_EQ_SIZE((uintptr_t)p % PG, 0);
    expect_guarded(p, 65536);
    free(p);
    /* A size between pages: the block's end is the guard. */
    size_t n = hs_nallocx(5000, 0);
    char *q =
        hs_mallocx(it_opaque(5000),
                   HS_MALLOCX_GUARDED | HS_MALLOCX_ALIGN(64) | HS_MALLOCX_ZERO);
    HS_ASSERT_NOT_NULL(q);
    HS_EXPECT_ALIGNED(q, 64);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++)
        zeros += q[i] == 0;
    HS_EXPECT_EQ_SIZE(zeros, n);
    expect_guarded(q, hs_sallocx(q, 0));
    free(q);
}

HS_TEST(freed_guarded_extents_are_reused_with_their_guard)
{
    char *p = hs_mallocx(it_opaque(100), HS_MALLOCX_GUARDED);
    HS_ASSERT_NOT_NULL(p);
    free(p);
    size_t guards = san_stat("stats.san.guards");
    char *q = hs_mallocx(it_opaque(100), HS_MALLOCX_GUARDED);
    HS_EXPECT_EQ_PTR(q, p);
    HS_EXPECT_EQ_SIZE(san_stat("stats.san.guards"), guards);
    expect_guarded(q, hs_sallocx(q, 0));
    /* After it decayed to retained: reused again, reading zero. */
    memset(q, 0x77, 112);
    free(q);
    unsigned a = 0;
    size_t len = sizeof a;
    HS_EXPECT_EQ_INT(hs_ctl("thread.arena", &a, &len, NULL, 0), 0);
    char name[64];
    snprintf(name, sizeof name, "arena.%u.purge", a);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), 0);
    char *r = hs_mallocx(it_opaque(100), HS_MALLOCX_GUARDED);
    HS_EXPECT_EQ_PTR(r, p);
    HS_EXPECT_EQ_SIZE(san_stat("stats.san.guards"), guards);
    HS_EXPECT_EQ_INT(r[0], 0);
    HS_EXPECT_EQ_INT(r[111], 0);
    free(r);
}

HS_TEST(adjacent_guarded_blocks_share_guard_pages)
{
    enum { N = 16 };
    char *p[N];
    size_t guards0 = san_stat("stats.san.guards");
    for (int i = 0; i < N; i++) {
        /* Three pages: a size no earlier test freed (carved, not
         * reused from the guarded sets). */
        p[i] = hs_mallocx(it_opaque(9000), HS_MALLOCX_GUARDED);
        HS_ASSERT_NOT_NULL(p[i]);
    }
    /* One guard per block, plus at most one per new carving region. */
    size_t added = san_stat("stats.san.guards") - guards0;
    HS_EXPECT_GE_SIZE(added, N);
    HS_EXPECT_LE_SIZE(added, N + 2);
    int shared = 0;
    for (int i = 0; i + 1 < N; i++) {
        uintptr_t end = (uintptr_t)p[i] + hs_sallocx(p[i], 0);
        if (((uintptr_t)p[i + 1] & ~(PG - 1)) == end + PG)
            shared++;
    }
    HS_EXPECT_GE_INT(shared, N - 3);
    for (int i = 0; i < N; i++)
        free(p[i]);
}

HS_TEST(misuse_of_guarded_blocks_is_caught)
{
    char *p = hs_mallocx(it_opaque(64), HS_MALLOCX_GUARDED);
    HS_ASSERT_NOT_NULL(p);
    /* realloc keeps the contents and moves (never grows into the guard). */
    memset(p, 0x5c, 64);
    char *q = realloc(p, 200);
    HS_ASSERT_NOT_NULL(q);
    HS_EXPECT_EQ_INT(q[63], 0x5c);
    free(q);
    /* An interior pointer and a double free end the process. */
    char *g = hs_mallocx(it_opaque(64), HS_MALLOCX_GUARDED);
    HS_ASSERT_NOT_NULL(g);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        free(g + 16);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    HS_EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    free(g);
    pid = fork();
    if (pid == 0) {
        free(g);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    HS_EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

/* Under HEAPSIGHT=san_guard_small:1,san_guard_large:1 (every allocation
 * guarded): plain malloc blocks end at guards; with the budget spent,
 * allocation still succeeds, unguarded. */
HS_TEST(san_options_guard_plain_malloc)
{
    unsigned small = 0;
    size_t len = sizeof small;
    HS_EXPECT_EQ_INT(hs_ctl("opt.san_guard_small", &small, &len, NULL, 0), 0);
    if (small != 1)
        HS_SKIP("HEAPSIGHT has no san_guard_small:1");
    char *p = malloc(it_opaque(48));
    HS_ASSERT_NOT_NULL(p);
    expect_guarded(p, 48);
    free(p);
    char *l = malloc(it_opaque(40000));
    HS_ASSERT_NOT_NULL(l);
    expect_guarded(l, hs_sallocx(l, 0));
    free(l);
    /* Spend the budget: live guarded blocks, one guard each. */
    size_t budget = san_stat("stats.san.guard_budget");
    HS_ASSERT_GT_SIZE(budget, 0);
    size_t n = budget + 1000;
    void **keep = malloc(n * sizeof *keep);
    HS_ASSERT_NOT_NULL(keep);
    uint64_t skipped0 = san_skipped();
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        keep[i] = malloc(it_opaque(16 + (i % 4) * 16));
        got += keep[i] != NULL;
    }
    HS_EXPECT_EQ_SIZE(got, n);
    HS_EXPECT_LE_SIZE(san_stat("stats.san.guards"), budget);
    HS_EXPECT_GE_U64(san_skipped() - skipped0, 1000);
    for (size_t i = 0; i < n; i++)
        free(keep[i]);
    free(keep);
}

HS_TEST_MAIN()
