/*
 * tp_ctl.c — the profiler's control nodes: prof.active, thread.prof.active,
 * thread.prof.name, prof.reset and prof.sample.
 *
 * An hs_test program run by prof_test.py at prof_sample:1 (exact), one
 * test per run (argv[1]); HEAPSIGHT and TP_DIR come from the driver.  Each
 * test checks the nodes' values and errors here, and writes dumps into
 * TP_DIR that the driver reads (symbolized) to check which site functions
 * were counted:
 *   active_toggle  active.pb.gz: tp_inactive_site absent (allocated with
 *                  prof.active false), tp_active_site 100 objects
 *   active_armed   (run with prof_active:false) armed.pb.gz: likewise,
 *                  and prof.active reads false at first; in both, the
 *                  blocks kept while inactive were not promoted to pages
 *   thread_active  thr-active.pb.gz: tp_quiet_site (its thread set
 *                  thread.prof.active false) absent; tp_loud_site and
 *                  tp_main_site present
 *   thread_name    names.pb.gz: thread labels tp-renamed (thread.prof.name),
 *                  tp-pthread (pthread_setname_np), "tid <n>" (unnamed),
 *                  main, and tp-main-renamed after main renamed itself
 *   reset          reset-1.pb.gz: only tp_after_reset counted (50 objects),
 *                  nothing negative though older objects were freed;
 *                  reset-2.pb.gz: period 8192 after a reset with a value,
 *                  no counts left
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapsight.h"
#include "hs_test.h"
#include "tp_util.h"

#define NOINLINE __attribute__((noinline))

/* Allocates n blocks of size bytes into out (or frees them at once when
 * out is NULL). */
static void
alloc_n(void **out, int n, size_t size)
{
    for (int i = 0; i < n; i++) {
        void *p = malloc(size);
        tp_keep(p);
        if (out != NULL)
            out[i] = p;
        else
            free(p);
    }
}

static void *kept[400];

NOINLINE void
tp_inactive_site(void)
{
    alloc_n(NULL, 2000, 1000);
    alloc_n(kept, 100, 1000);
}

NOINLINE void
tp_active_site(void)
{
    alloc_n(kept + 100, 100, 1000);
}

/* Bytes in active pages now (stats.active, after an epoch refresh). */
static size_t
active_bytes(void)
{
    uint64_t epoch = 1;
    size_t v = 0, len = sizeof v;
    hs_ctl("epoch", NULL, NULL, &epoch, sizeof epoch);
    hs_ctl("stats.active", &v, &len, NULL, 0);
    return v;
}

static void
active_body(const char *dump, bool initially)
{
    bool on = !initially;
    HS_ASSERT_TRUE(tp_ctl_bool("prof.active", &on));
    HS_EXPECT_EQ_INT(on, initially);
    HS_EXPECT_EQ_INT(tp_ctl_set_bool("prof.active", false), 0);
    HS_ASSERT_TRUE(tp_ctl_bool("prof.active", &on));
    HS_EXPECT_FALSE(on);
    /* Inactive, no allocation is promoted to a page of its own: the 100
     * kept 1000-byte blocks take about 100 KiB of slabs, not 100 pages. */
    size_t before = active_bytes();
    tp_inactive_site();
    HS_EXPECT_LT_SIZE(active_bytes() - before, (size_t)250 << 10);
    HS_EXPECT_EQ_INT(tp_ctl_set_bool("prof.active", true), 0);
    HS_ASSERT_TRUE(tp_ctl_bool("prof.active", &on));
    HS_EXPECT_TRUE(on);
    tp_active_site();
    HS_EXPECT_EQ_INT(tp_dump_named(dump), 0);
}

HS_TEST(active_toggle) { active_body("active.pb.gz", true); }

HS_TEST(active_armed) { active_body("armed.pb.gz", false); }

/* ---- thread.prof.active ---- */

NOINLINE void
tp_quiet_site(void)
{
    alloc_n(kept, 100, 2000);
}

NOINLINE void
tp_loud_site(void)
{
    alloc_n(kept + 100, 100, 2000);
}

NOINLINE void
tp_main_site(void)
{
    alloc_n(kept + 200, 100, 2000);
}

static void *
quiet_thread(void *arg)
{
    int *r_err = arg;
    bool on = false;
    if (!tp_ctl_bool("thread.prof.active", &on) || !on)
        *r_err = 1;
    else if (tp_ctl_set_bool("thread.prof.active", false) != 0 ||
             !tp_ctl_bool("thread.prof.active", &on) || on)
        *r_err = 2;
    tp_quiet_site();
    return NULL;
}

static void *
loud_thread(void *arg)
{
    (void)arg;
    tp_loud_site();
    return NULL;
}

HS_TEST(thread_active)
{
    pthread_t q, l;
    int err = 0;
    HS_ASSERT_EQ_INT(pthread_create(&q, NULL, quiet_thread, &err), 0);
    HS_ASSERT_EQ_INT(pthread_create(&l, NULL, loud_thread, NULL), 0);
    pthread_join(q, NULL);
    pthread_join(l, NULL);
    HS_EXPECT_EQ_INT(err, 0);
    bool on = false;
    HS_EXPECT_TRUE(tp_ctl_bool("thread.prof.active", &on));
    HS_EXPECT_TRUE(on); /* the main thread's own flag is untouched */
    tp_main_site();
    HS_EXPECT_EQ_INT(tp_dump_named("thr-active.pb.gz"), 0);
}

/* ---- thread.prof.name ---- */

NOINLINE void
tp_renamed_site(void)
{
    alloc_n(kept, 10, 3000);
}

NOINLINE void
tp_pthread_named_site(void)
{
    alloc_n(kept + 10, 10, 3000);
}

NOINLINE void
tp_unnamed_site(void)
{
    alloc_n(kept + 20, 10, 3000);
}

NOINLINE void
tp_main_label_site(void)
{
    alloc_n(kept + 30, 10, 3000);
}

NOINLINE void
tp_main_renamed_site(void)
{
    alloc_n(kept + 40, 10, 3000);
}

static void *
renamed_thread(void *arg)
{
    int *r_err = arg;
    const char *name = NULL;
    if (tp_ctl_set_str("thread.prof.name", "tp-renamed") != 0)
        *r_err = 1;
    else if (!tp_ctl_str("thread.prof.name", &name) || name == NULL ||
             strcmp(name, "tp-renamed") != 0)
        *r_err = 2;
    tp_renamed_site();
    return NULL;
}

static void *
pthread_named_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "tp-pthread");
    tp_pthread_named_site();
    return NULL;
}

static void *
unnamed_thread(void *arg)
{
    (void)arg;
    tp_unnamed_site();
    return NULL;
}

HS_TEST(thread_name)
{
    pthread_t a, b, c;
    int err = 0;
    HS_ASSERT_EQ_INT(pthread_create(&a, NULL, renamed_thread, &err), 0);
    pthread_join(a, NULL);
    HS_EXPECT_EQ_INT(err, 0);
    HS_ASSERT_EQ_INT(pthread_create(&b, NULL, pthread_named_thread, NULL), 0);
    pthread_join(b, NULL);
    HS_ASSERT_EQ_INT(pthread_create(&c, NULL, unnamed_thread, NULL), 0);
    pthread_join(c, NULL);
    const char *name = NULL;
    HS_ASSERT_TRUE(tp_ctl_str("thread.prof.name", &name));
    HS_EXPECT_EQ_STR(name, "main");
    tp_main_label_site();
    HS_EXPECT_EQ_INT(tp_ctl_set_str("thread.prof.name", NULL), EINVAL);
    HS_EXPECT_EQ_INT(tp_ctl_set_str("thread.prof.name", "tp-main-renamed"), 0);
    tp_main_renamed_site();
    HS_EXPECT_EQ_INT(tp_dump_named("names.pb.gz"), 0);
}

/* ---- prof.reset, prof.sample ---- */

NOINLINE void
tp_before_reset(void)
{
    alloc_n(kept, 100, 1000);
}

NOINLINE void
tp_after_reset(void)
{
    alloc_n(kept + 100, 50, 1000);
}

HS_TEST(reset)
{
    size_t sample = 0;
    HS_ASSERT_TRUE(tp_ctl_size("prof.sample", &sample));
    HS_EXPECT_EQ_SIZE(sample, 1);
    tp_before_reset();
    HS_EXPECT_EQ_INT(hs_ctl("prof.reset", NULL, NULL, NULL, 0), 0);
    tp_after_reset();
    for (int i = 0; i < 50; i++) /* objects from before the reset */
        free(kept[i]);
    HS_EXPECT_EQ_INT(tp_dump_named("reset-1.pb.gz"), 0);
    size_t r = 8192;
    HS_EXPECT_EQ_INT(hs_ctl("prof.reset", NULL, NULL, &r, sizeof(r)), 0);
    HS_ASSERT_TRUE(tp_ctl_size("prof.sample", &sample));
    HS_EXPECT_EQ_SIZE(sample, 8192);
    for (int i = 50; i < 150; i++) /* older objects: count nowhere */
        free(kept[i]);
    HS_EXPECT_EQ_INT(tp_dump_named("reset-2.pb.gz"), 0);
    /* Errors: a zero interval; prof.sample is read-only; prof.dump and
     * prof.reset have no old value. */
    r = 0;
    HS_EXPECT_EQ_INT(hs_ctl("prof.reset", NULL, NULL, &r, sizeof(r)), EINVAL);
    HS_ASSERT_TRUE(tp_ctl_size("prof.sample", &sample));
    HS_EXPECT_EQ_SIZE(sample, 8192);
    HS_EXPECT_EQ_INT(hs_ctl("prof.sample", NULL, NULL, &r, sizeof(r)), EPERM);
    size_t len = sizeof(r);
    HS_EXPECT_EQ_INT(hs_ctl("prof.reset", &r, &len, NULL, 0), EPERM);
    const char *path = NULL;
    len = sizeof(path);
    HS_EXPECT_EQ_INT(hs_ctl("prof.dump", &path, &len, NULL, 0), EPERM);
}

HS_TEST_MAIN()
