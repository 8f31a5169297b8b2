/*
 * foreign.c — unit tests of prof/foreign: the address map of sampled
 * objects of other allocators (put, take, re-report, growth, removal with
 * probe runs).
 */
#include "hs_test.h"

#include <stdint.h>
#include <stdlib.h>

#include "foreign.h"

static void
boot_once(void)
{
    static int booted;
    if (!booted++) {
        site_boot();
        foreign_boot();
    }
}

static prof_rec_t *
rec_for(uintptr_t tag)
{
    hs_frame_t st[] = {tag};
    return site_record_alloc(st, 1, 16, 16, 0, 1, 0, 1);
}

HS_TEST(put_then_take)
{
    boot_once();
    HS_EXPECT_FALSE(foreign_any());
    prof_rec_t *r = rec_for(1), *displaced;
    HS_ASSERT_TRUE(foreign_put((void *)0x1000, r, &displaced));
    HS_EXPECT_NULL(displaced);
    HS_EXPECT_TRUE(foreign_any());
    HS_EXPECT_NULL(foreign_take((void *)0x2000));
    HS_EXPECT_EQ_PTR(foreign_take((void *)0x1000), r);
    HS_EXPECT_NULL(foreign_take((void *)0x1000));
    HS_EXPECT_FALSE(foreign_any());
    site_record_free(r);
}

HS_TEST(re_report_displaces_the_old_record)
{
    boot_once();
    prof_rec_t *a = rec_for(2), *b = rec_for(3), *displaced;
    HS_ASSERT_TRUE(foreign_put((void *)0x3000, a, &displaced));
    HS_ASSERT_TRUE(foreign_put((void *)0x3000, b, &displaced));
    HS_EXPECT_EQ_PTR(displaced, a);
    HS_EXPECT_EQ_PTR(foreign_take((void *)0x3000), b);
    HS_EXPECT_FALSE(foreign_any());
    site_record_free(a);
    site_record_free(b);
}

HS_TEST(many_entries_with_interleaved_removal)
{
    boot_once();
    enum { N = 20000 };
    static prof_rec_t *recs[N];
    prof_rec_t *displaced;
    for (int i = 0; i < N; i++) {
        recs[i] = rec_for(100 + i);
        HS_ASSERT_TRUE(foreign_put((void *)(uintptr_t)(0x10000 + 16 * i),
                                   recs[i], &displaced));
    }
    /* Remove every third, then check that every survivor is found (the
     * backward shift must keep probe runs intact). */
    for (int i = 0; i < N; i += 3)
        HS_EXPECT_EQ_PTR(foreign_take((void *)(uintptr_t)(0x10000 + 16 * i)),
                         recs[i]);
    for (int i = 0; i < N; i++) {
        prof_rec_t *got = foreign_take((void *)(uintptr_t)(0x10000 + 16 * i));
        if (i % 3 == 0)
            HS_EXPECT_NULL(got);
        else
            HS_EXPECT_EQ_PTR(got, recs[i]);
    }
    HS_EXPECT_FALSE(foreign_any());
    for (int i = 0; i < N; i++)
        site_record_free(recs[i]);
}

HS_TEST(presence_filter_is_exact_about_absence)
{
    boot_once();
    enum { N = 300 };
    static prof_rec_t *recs[N];
    prof_rec_t *displaced;
    /* Untracked addresses read absent; tracked ones always read present
     * (also when displaced, and while others sharing a filter slot
     * come and go). */
    for (uintptr_t a = 0x100000; a < 0x100000 + 64 * 1024; a += 64)
        HS_EXPECT_FALSE(foreign_maybe((void *)a));
    for (int i = 0; i < N; i++) {
        recs[i] = rec_for(500 + i);
        HS_ASSERT_TRUE(foreign_put((void *)(uintptr_t)(0x200000 + 48 * i),
                                   recs[i], &displaced));
    }
    prof_rec_t *again = rec_for(499);
    HS_ASSERT_TRUE(foreign_put((void *)0x200000, again, &displaced));
    HS_EXPECT_EQ_PTR(displaced, recs[0]);
    unsigned present = 0;
    for (int i = 0; i < N; i++)
        present += foreign_maybe((void *)(uintptr_t)(0x200000 + 48 * i));
    HS_EXPECT_EQ_U64(present, N);
    /* Few false positives among 64k other addresses (300 of 16384 slots
     * taken: about 2%). */
    unsigned maybe = 0;
    for (uintptr_t a = 0x900000; a < 0x900000 + 64 * 65536; a += 64)
        maybe += foreign_maybe((void *)a);
    HS_EXPECT_LT_U64(maybe, 65536 / 20);
    HS_EXPECT_EQ_PTR(foreign_take((void *)0x200000), again);
    for (int i = 1; i < N; i++)
        HS_EXPECT_EQ_PTR(foreign_take((void *)(uintptr_t)(0x200000 + 48 * i)),
                         recs[i]);
    /* Everything taken: absent everywhere again. */
    present = 0;
    for (int i = 0; i < N; i++)
        present += foreign_maybe((void *)(uintptr_t)(0x200000 + 48 * i));
    HS_EXPECT_EQ_U64(present, 0);
    for (int i = 0; i < N; i++)
        site_record_free(recs[i]);
    site_record_free(again);
}

HS_TEST_MAIN()
