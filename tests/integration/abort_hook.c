/*
 * abort_hook.c — hs_set_abort_hook: an in-process test sees a detection
 * fire without dying.  With the hook set, a double free, a free of a
 * pointer heapsight never returned and a sized free with the wrong size
 * each call the hook once with the line stderr gets (minus the prefix),
 * the block is left untouched (still usable, freed normally afterwards),
 * and the hook can be removed again.
 */
#include "hs_test.h"

#include <heapsight.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it_util.h"

static char last[1024];
static volatile int calls; /* (volatile: free() is assumed not to touch it) */

static void
hook(const char *message)
{
    snprintf(last, sizeof last, "%s", message);
    calls++;
}

static bool
names(const char *what, const void *p)
{
    char addr[32];
    snprintf(addr, sizeof addr, "%p", p);
    return strstr(last, what) != NULL && strstr(last, addr) != NULL;
}

HS_TEST(detections_call_the_hook_and_leave_the_block_alone)
{
    HS_EXPECT_NULL(hs_set_abort_hook(hook));
    /* A double free of a small block (via the thread cache). */
    char *p = malloc(it_opaque(40));
    HS_ASSERT_NOT_NULL(p);
    free(p);
    calls = 0;
    free(p);
    HS_EXPECT_EQ_INT(calls, 1);
    HS_EXPECT_TRUE(names("free(): double free of", p));
    /* A pointer heapsight never returned. */
    int local = 0;
    calls = 0;
    free(it_opaque_ptr(&local));
    HS_EXPECT_EQ_INT(calls, 1);
    HS_EXPECT_TRUE(names("invalid pointer", &local));
    /* The wrong size: the block stays allocated and usable. */
    char *q = malloc(it_opaque(100));
    HS_ASSERT_NOT_NULL(q);
    memset(q, 7, 100);
    calls = 0;
    hs_sdallocx(q, 5000, 0);
    HS_EXPECT_EQ_INT(calls, 1);
    HS_EXPECT_TRUE(names("does not match", q));
    HS_EXPECT_EQ_INT(q[99], 7);
    HS_EXPECT_GE_SIZE(malloc_usable_size(q), 100);
    /* A large block's interior. */
    char *l = malloc(it_opaque(100000));
    HS_ASSERT_NOT_NULL(l);
    calls = 0;
    free(l + 4096);
    HS_EXPECT_EQ_INT(calls, 1);
    HS_EXPECT_TRUE(names("invalid pointer", l + 4096));
    free(l);
    free(q);
    HS_EXPECT_EQ_PTR(hs_set_abort_hook(NULL), hook);
}

HS_TEST_MAIN()
