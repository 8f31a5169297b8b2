/*
 * checks.c — the canary and junk options through the public interface
 * (run with HEAPSIGHT=canary:true,junk:true; a last test checks that a
 * bad junk value is refused, in a child with its own environment).
 *
 * New blocks read as junk (0xa5), calloc's as zeros, freed ones as 0x5a;
 * the usable size is the size asked; realloc keeps the contents and the
 * canary moves with the size; sized free knows the exact size; and an
 * overflow or a write after free calls the abort hook with the line,
 * leaving the block alone.
 */
#include "hs_test.h"

#include <heapsight.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it_util.h"

static char last[1024];
static volatile int calls;

static void
hook(const char *message)
{
    snprintf(last, sizeof last, "%s", message);
    calls++;
}

static bool
all_bytes(const void *p, size_t n, unsigned char v)
{
    const volatile unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != v)
            return false;
    return true;
}

static void
poke(void *p, size_t at, unsigned char v)
{
    ((volatile unsigned char *)p)[at] = v;
}

HS_TEST(new_blocks_are_junk_and_usable_size_is_the_size_asked)
{
    size_t sizes[] = {1, 13, 40, 100, 1000, 5000, 20000, 100000, 3 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = it_opaque(sizes[i]);
        unsigned char *p = malloc(n);
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_TRUE(all_bytes(p, n, 0xa5));
        HS_EXPECT_EQ_SIZE(malloc_usable_size(p), n);
        unsigned char *z = calloc(1, n);
        HS_ASSERT_NOT_NULL(z);
        HS_EXPECT_TRUE(all_bytes(z, n, 0));
        free(z);
        free(p);
    }
}

HS_TEST(freed_blocks_are_junk)
{
    unsigned char *p = malloc(it_opaque(200));
    HS_ASSERT_NOT_NULL(p);
    memset(p, 1, 200);
    free(p);
    /* Words 0 and 1 hold the stamp and the double-free mark. */
    HS_EXPECT_TRUE(all_bytes(p + 16, 200 - 16, 0x5a));
}

HS_TEST(realloc_keeps_contents_and_moves_the_canary)
{
    unsigned char *p = malloc(it_opaque(30));
    HS_ASSERT_NOT_NULL(p);
    for (int i = 0; i < 30; i++)
        p[i] = (unsigned char)i;
    /* Same class (30 + 8 and 35 + 8 fit 48 bytes): in place. */
    unsigned char *q = realloc(p, it_opaque(35));
    HS_ASSERT_NOT_NULL(q);
    HS_EXPECT_EQ_SIZE(malloc_usable_size(q), 35);
    unsigned char *r = realloc(q, it_opaque(50000));
    HS_ASSERT_NOT_NULL(r);
    HS_EXPECT_EQ_SIZE(malloc_usable_size(r), 50000);
    for (int i = 0; i < 30; i++)
        HS_EXPECT_EQ_INT(r[i], i);
    memset(r, 3, 50000);
    unsigned char *s = realloc(r, it_opaque(10));
    HS_ASSERT_NOT_NULL(s);
    HS_EXPECT_TRUE(all_bytes(s, 10, 3));
    HS_EXPECT_EQ_SIZE(malloc_usable_size(s), 10);
    free(s);
}

HS_TEST(detections_call_the_hook_and_leave_the_block_alone)
{
    HS_EXPECT_NULL(hs_set_abort_hook(hook));
    char addr[32];

    /* One byte past a small block. */
    unsigned char *p = malloc(it_opaque(100));
    HS_ASSERT_NOT_NULL(p);
    poke(p, 100, 0);
    calls = 0;
    free(p);
    HS_EXPECT_EQ_INT(calls, 1);
    snprintf(addr, sizeof addr, "%p", (void *)p);
    HS_EXPECT_TRUE(strstr(last, "write past the end of the 100-byte block") !=
                   NULL);
    HS_EXPECT_TRUE(strstr(last, addr) != NULL);
    /* Left alone: still allocated, still reported until repaired. */
    HS_EXPECT_EQ_SIZE(malloc_usable_size(p), 100);
    poke(p, 100, 0xcb);
    calls = 0;
    free(p);
    HS_EXPECT_EQ_INT(calls, 0);

    /* Sized free: the size asked exactly, not just its class. */
    unsigned char *q = malloc(it_opaque(100));
    HS_ASSERT_NOT_NULL(q);
    calls = 0;
    hs_sdallocx(q, 101, 0);
    HS_EXPECT_EQ_INT(calls, 1);
    HS_EXPECT_TRUE(strstr(last, "size 101 does not match the 100-byte") !=
                   NULL);
    calls = 0;
    hs_sdallocx(q, 100, 0);
    HS_EXPECT_EQ_INT(calls, 0);

    /* A write after free, seen when the block is handed out again. */
    unsigned char *w = malloc(it_opaque(64));
    HS_ASSERT_NOT_NULL(w);
    free(w);
    poke(w, 40, 1);
    calls = 0;
    unsigned char *again = malloc(it_opaque(64));
    HS_EXPECT_EQ_PTR(again, w);
    HS_EXPECT_EQ_INT(calls, 1);
    HS_EXPECT_TRUE(strstr(last, "write after free to the") != NULL);
    HS_EXPECT_TRUE(strstr(last, "(byte 40 changed)") != NULL);
    free(again);
    HS_EXPECT_EQ_PTR(hs_set_abort_hook(NULL), hook);
}

HS_TEST(a_bad_junk_value_is_refused)
{
    int fds[2];
    HS_ASSERT_EQ_INT(pipe(fds), 0);
    pid_t pid = fork();
    HS_ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        char *argv[] = {"/bin/true", NULL};
        char *envp[] = {"HEAPSIGHT=junk:maybe", NULL};
        char pre[4096];
        const char *lib = getenv("HS_LIB");
        snprintf(pre, sizeof pre, "LD_PRELOAD=%s", lib ? lib : "");
        char *envl[] = {envp[0], pre, NULL};
        execve(argv[0], argv, envl);
        _exit(127);
    }
    close(fds[1]);
    char buf[512] = {0};
    ssize_t n = 0, r;
    while ((r = read(fds[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    close(fds[0]);
    int st;
    HS_ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
    HS_EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    HS_EXPECT_TRUE(strstr(buf, "bad value \"maybe\" for junk") != NULL);
}

HS_TEST_MAIN()
