/*
 * hooks.c — unit tests of prof/hooks: the public sample, sample-free and
 * dump hooks (hs_sample_hook_add & co) reach their runs with the
 * arguments given, in the order added, under the reentrancy guard; NULL
 * is refused; removing one pair leaves the other.
 */
#include "hs_test.h"

#include <errno.h>

#include "heapsight_hook.h"
#include "hooks.h"
#include "tsd.h"

typedef struct seen_s {
    void *ptr;
    size_t size, usize;
    const hs_frame_t *frames;
    unsigned nframes;
    const char *path;
    unsigned calls;
    bool reentrant;
} seen_t;

static void
on_sample(void *ptr, size_t size, size_t usize, const hs_frame_t *frames,
          unsigned nframes, void *arg)
{
    seen_t *s = arg;
    *s = (seen_t){ptr,     size, usize,        frames,
                  nframes, NULL, s->calls + 1, tsd_reentrant()};
}

static void
on_free(void *ptr, size_t usize, void *arg)
{
    seen_t *s = arg;
    s->ptr = ptr;
    s->usize = usize;
    s->calls++;
    s->reentrant = tsd_reentrant();
}

static void
on_dump(const char *path, void *arg)
{
    seen_t *s = arg;
    s->path = path;
    s->calls++;
    s->reentrant = tsd_reentrant();
}

HS_TEST(each_kind_gets_its_arguments)
{
    seen_t s1 = {0}, s2 = {0}, f1 = {0}, d1 = {0};
    HS_EXPECT_EQ_INT(hs_sample_hook_add(NULL, NULL), EINVAL);
    HS_EXPECT_EQ_INT(hs_dump_hook_add(NULL, NULL), EINVAL);
    HS_ASSERT_EQ_INT(hs_sample_hook_add(on_sample, &s1), 0);
    HS_ASSERT_EQ_INT(hs_sample_hook_add(on_sample, &s2), 0);
    HS_ASSERT_EQ_INT(hs_sample_free_hook_add(on_free, &f1), 0);
    HS_ASSERT_EQ_INT(hs_dump_hook_add(on_dump, &d1), 0);
    hs_frame_t frames[2] = {7, 8};
    int obj;
    prof_hooks_run_sample(&obj, 24, 32, frames, 2);
    prof_hooks_run_free(&obj, 32);
    prof_hooks_run_dump("/tmp/x.pb.gz");
    HS_EXPECT_EQ_PTR(s1.ptr, &obj);
    HS_EXPECT_EQ_SIZE(s1.size, 24);
    HS_EXPECT_EQ_SIZE(s1.usize, 32);
    HS_EXPECT_EQ_PTR(s1.frames, frames);
    HS_EXPECT_EQ_U64(s1.nframes, 2);
    HS_EXPECT_TRUE(s1.reentrant);
    HS_EXPECT_EQ_U64(s1.calls, 1);
    HS_EXPECT_EQ_U64(s2.calls, 1);
    HS_EXPECT_EQ_PTR(f1.ptr, &obj);
    HS_EXPECT_EQ_SIZE(f1.usize, 32);
    HS_EXPECT_TRUE(f1.reentrant);
    HS_EXPECT_EQ_STR(d1.path, "/tmp/x.pb.gz");
    HS_EXPECT_TRUE(d1.reentrant);
    HS_EXPECT_FALSE(tsd_reentrant());
    /* A pair is found by function and argument together. */
    HS_EXPECT_EQ_INT(hs_dump_hook_remove(on_dump, &s1), ENOENT);
    HS_EXPECT_EQ_INT(hs_sample_hook_remove(on_sample, &s1), 0);
    prof_hooks_run_sample(&obj, 1, 16, frames, 1);
    HS_EXPECT_EQ_U64(s1.calls, 1);
    HS_EXPECT_EQ_U64(s2.calls, 2);
    HS_EXPECT_EQ_SIZE(s2.size, 1);
    HS_EXPECT_EQ_INT(hs_sample_hook_remove(on_sample, &s2), 0);
    HS_EXPECT_EQ_INT(hs_sample_free_hook_remove(on_free, &f1), 0);
    HS_EXPECT_EQ_INT(hs_dump_hook_remove(on_dump, &d1), 0);
    prof_hooks_run_dump("/tmp/y.pb.gz");
    HS_EXPECT_EQ_U64(d1.calls, 1);
}

HS_TEST_MAIN()
