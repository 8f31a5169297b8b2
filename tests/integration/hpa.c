/*
 * hpa.c — the hugepage-aware allocator through the public interface, run
 * with HEAPSIGHT=hpa:true,hpa_hugify_delay_ms:0 (ctest:
 * integration_hpa; without hpa:true the tests skip): a dense heap of
 * mid-size blocks comes from hugepage-aligned pageslabs, they are
 * hugified once dense (AnonHugePages in /proc/self/smaps_rollup rises when
 * the kernel's THP mode allows madvise), freed pages past hpa_dirty_mult
 * are purged, and the counters in stats.arenas.<i>.hpa_* say so.
 */
#include "hs_test.h"

#include <fcntl.h>
#include <heapsight.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "it_util.h"

static bool
thp_madvise_allowed(void)
{
    char buf[128];
    return it_read_proc("/sys/kernel/mm/transparent_hugepage/enabled", buf,
                        sizeof buf) &&
           (strstr(buf, "[madvise]") || strstr(buf, "[always]"));
}

static size_t
astat(unsigned a, const char *what)
{
    char name[96];
    snprintf(name, sizeof name, "stats.arenas.%u.%s", a, what);
    size_t v = 0, len = sizeof v;
    HS_EXPECT_EQ_INT(hs_ctl(name, &v, &len, NULL, 0), 0);
    return v;
}

HS_TEST(dense_heap_is_hugified_and_purged)
{
    bool hpa = false;
    size_t len = sizeof hpa;
    HS_ASSERT_EQ_INT(hs_ctl("opt.hpa", &hpa, &len, NULL, 0), 0);
    if (!hpa)
        HS_SKIP("HEAPSIGHT has no hpa:true");
    unsigned a = 0;
    len = sizeof a;
    HS_ASSERT_EQ_INT(hs_ctl("thread.arena", &a, &len, NULL, 0), 0);
    size_t huge0 = it_smaps_kb("AnonHugePages:");
    enum { N = 2048 }; /* 2048 x 32 KiB = 64 MiB */
    static char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(it_opaque(32768));
        HS_ASSERT_NOT_NULL(p[i]);
        memset(p[i], i, 32768);
    }
    /* Slab extents start page-aligned inside 2 MiB-aligned slabs. */
    HS_EXPECT_GE_SIZE(astat(a, "hpa_nslabs"), 32);
    HS_EXPECT_GE_SIZE(astat(a, "hpa_pactive"), N * 8);
    /* Deferred work now (delay 0). */
    char name[64];
    snprintf(name, sizeof name, "arena.%u.decay", a);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), 0);
    HS_EXPECT_GE_SIZE(astat(a, "hpa_nhugifies"), 16);
    if (thp_madvise_allowed())
        HS_EXPECT_GE_SIZE(it_smaps_kb("AnonHugePages:"), huge0 + 16 * 2048);
    /* Free most: past dirty_mult, the next pass purges (dehugifying). */
    for (int i = 0; i < N; i++)
        if (i % 8 != 0)
            free(p[i]);
    HS_EXPECT_GE_SIZE(astat(a, "hpa_pdirty"), N * 6);
    snprintf(name, sizeof name, "arena.%u.purge", a);
    HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, NULL, 0), 0);
    HS_EXPECT_EQ_SIZE(astat(a, "hpa_pdirty"), 0);
    HS_EXPECT_GE_SIZE(astat(a, "hpa_ndehugifies"), 1);
    HS_EXPECT_GE_SIZE(astat(a, "hpa_pretained"), N * 6);
    for (int i = 0; i < N; i += 8)
        HS_EXPECT_EQ_INT((unsigned char)p[i][32767], (unsigned char)i);
    for (int i = 0; i < N; i += 8)
        free(p[i]);
}

/* With the background thread, slabs become huge while the program only
 * sleeps: a slab turning dense wakes the thread. */
HS_TEST(background_thread_hugifies_an_idle_heap)
{
    bool hpa = false;
    size_t len = sizeof hpa;
    HS_ASSERT_EQ_INT(hs_ctl("opt.hpa", &hpa, &len, NULL, 0), 0);
    if (!hpa)
        HS_SKIP("HEAPSIGHT has no hpa:true");
    bool on = true;
    HS_ASSERT_EQ_INT(hs_ctl("background_thread", NULL, NULL, &on, sizeof on),
                     0);
    usleep(200000); /* it has looked once and sleeps: nothing pending */
    unsigned a = 0;
    len = sizeof a;
    HS_ASSERT_EQ_INT(hs_ctl("thread.arena", &a, &len, NULL, 0), 0);
    size_t before = astat(a, "hpa_nhugifies");
    enum { N = 1024 };
    static char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(it_opaque(32768));
        HS_ASSERT_NOT_NULL(p[i]);
        memset(p[i], 1, 32768);
    }
    size_t after = before;
    for (int t = 0; t < 50 && after < before + 8; t++) {
        usleep(100000); /* no allocation here */
        after = astat(a, "hpa_nhugifies");
    }
    HS_EXPECT_GE_SIZE(after, before + 8);
    for (int i = 0; i < N; i++)
        free(p[i]);
    on = false;
    HS_EXPECT_EQ_INT(hs_ctl("background_thread", NULL, NULL, &on, sizeof on),
                     0);
}

HS_TEST_MAIN()
