/*
 * site.c — unit tests of prof/site: interning by (stack, size, label,
 * domain), counters through alloc and free, reset generations, snapshots.
 */
#include "hs_test.h"

#include <stdlib.h>

#include "site.h"

static void
boot_once(void)
{
    static int booted;
    if (!booted++)
        site_boot();
}

static const prof_site_snap_t *
find(const prof_site_snap_t *s, size_t n, hs_frame_t leaf, size_t usize)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].nframes > 0 && s[i].frames[0] == leaf && s[i].usize == usize)
            return &s[i];
    return NULL;
}

HS_TEST(alloc_and_free_move_the_counters)
{
    boot_once();
    hs_frame_t st[] = {0x1001, 0x2002, 0x3003};
    prof_rec_t *a = site_record_alloc(st, 3, 32, 32, 1, 0, 0, 2.5);
    prof_rec_t *b = site_record_alloc(st, 3, 32, 32, 1, 0, 0, 1.5);
    HS_ASSERT_NOT_NULL(a);
    HS_ASSERT_NOT_NULL(b);
    HS_EXPECT_EQ_PTR(a->site, b->site); /* one site */
    prof_site_snap_t *snaps;
    size_t n = site_snapshot(&snaps);
    const prof_site_snap_t *s = find(snaps, n, 0x1001, 32);
    HS_ASSERT_NOT_NULL(s);
    HS_EXPECT_NEAR(s->alloc_objects, 4.0, 1e-12);
    HS_EXPECT_NEAR(s->alloc_space, 128.0, 1e-9);
    HS_EXPECT_NEAR(s->inuse_space, 128.0, 1e-9);
    free(snaps);
    site_record_free(a);
    n = site_snapshot(&snaps);
    s = find(snaps, n, 0x1001, 32);
    HS_ASSERT_NOT_NULL(s);
    HS_EXPECT_NEAR(s->alloc_objects, 4.0, 1e-12);
    HS_EXPECT_NEAR(s->inuse_objects, 1.5, 1e-12);
    HS_EXPECT_NEAR(s->inuse_space, 48.0, 1e-9);
    free(snaps);
    site_record_free(b);
}

HS_TEST(space_counts_the_requested_size)
{
    boot_once();
    hs_frame_t st[] = {0x8008};
    double objs0, space0, objs, space;
    site_totals(&objs0, &space0);
    /* Two requests in one 32-byte class: one site, keyed (and labelled)
     * by the usable size; its space counts the bytes asked for. */
    prof_rec_t *a = site_record_alloc(st, 1, 32, 24, 1, 0, 0, 2.0);
    prof_rec_t *b = site_record_alloc(st, 1, 32, 20, 1, 0, 0, 1.0);
    HS_ASSERT_NOT_NULL(a);
    HS_ASSERT_NOT_NULL(b);
    HS_EXPECT_EQ_PTR(a->site, b->site);
    prof_site_snap_t *snaps;
    size_t n = site_snapshot(&snaps);
    const prof_site_snap_t *s = find(snaps, n, 0x8008, 32);
    HS_ASSERT_NOT_NULL(s);
    HS_EXPECT_NULL(find(snaps, n, 0x8008, 24));
    HS_EXPECT_NEAR(s->alloc_objects, 3.0, 1e-12);
    HS_EXPECT_NEAR(s->alloc_space, 2.0 * 24 + 20, 1e-9);
    HS_EXPECT_NEAR(s->inuse_space, 2.0 * 24 + 20, 1e-9);
    free(snaps);
    site_totals(&objs, &space);
    HS_EXPECT_NEAR(objs - objs0, 3.0, 1e-9);
    HS_EXPECT_NEAR(space - space0, 68.0, 1e-9);
    /* A free takes back what its own allocation added. */
    site_record_free(a);
    n = site_snapshot(&snaps);
    s = find(snaps, n, 0x8008, 32);
    HS_ASSERT_NOT_NULL(s);
    HS_EXPECT_NEAR(s->alloc_space, 68.0, 1e-9);
    HS_EXPECT_NEAR(s->inuse_objects, 1.0, 1e-12);
    HS_EXPECT_NEAR(s->inuse_space, 20.0, 1e-9);
    free(snaps);
    site_record_free(b);
    site_totals(&objs, &space);
    HS_EXPECT_NEAR(objs - objs0, 0.0, 1e-9);
    HS_EXPECT_NEAR(space - space0, 0.0, 1e-9);
}

HS_TEST(key_separates_size_label_domain_extra_and_stack)
{
    boot_once();
    hs_frame_t st[] = {0x4004, 0x5005};
    hs_frame_t other[] = {0x4004, 0x6006};
    prof_rec_t *r[6] = {
        site_record_alloc(st, 2, 64, 64, 1, 0, 0, 1),
        site_record_alloc(st, 2, 128, 128, 1, 0, 0, 1),
        site_record_alloc(st, 2, 64, 64, 2, 0, 0, 1),
        site_record_alloc(st, 2, 64, 64, 1, 3, 0, 1),
        site_record_alloc(other, 2, 64, 64, 1, 0, 0, 1),
        site_record_alloc(st, 2, 64, 64, 1, 0, 0x10002, 1),
    };
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            HS_EXPECT_NE_PTR(r[i]->site, r[j]->site);
    /* The same key again: the same site. */
    prof_rec_t *again = site_record_alloc(st, 2, 64, 64, 1, 0, 0x10002, 1);
    HS_EXPECT_EQ_PTR(again->site, r[5]->site);
    site_record_free(again);
    for (int i = 0; i < 6; i++)
        site_record_free(r[i]);
}

HS_TEST(reset_starts_a_new_generation)
{
    boot_once();
    hs_frame_t st[] = {0x7007};
    prof_rec_t *old = site_record_alloc(st, 1, 16, 16, 1, 0, 0, 1);
    site_reset();
    double objs, space;
    site_totals(&objs, &space);
    HS_EXPECT_NEAR(objs, 0.0, 1e-12);
    prof_rec_t *fresh = site_record_alloc(st, 1, 16, 16, 1, 0, 0, 1);
    /* Freeing the pre-reset object must not disturb the new counts. */
    site_record_free(old);
    site_totals(&objs, &space);
    HS_EXPECT_NEAR(objs, 1.0, 1e-12);
    HS_EXPECT_NEAR(space, 16.0, 1e-12);
    site_record_free(fresh);
    site_totals(&objs, &space);
    HS_EXPECT_NEAR(objs, 0.0, 1e-12);
}

HS_TEST(many_sites_grow_the_table)
{
    boot_once();
    site_reset();
    enum { N = 5000 };
    static prof_rec_t *recs[N];
    for (int i = 0; i < N; i++) {
        hs_frame_t st[] = {(hs_frame_t)(0x100000 + i), 0x42};
        recs[i] = site_record_alloc(st, 2, 16, 16, 1, 0, 0, 1);
        HS_ASSERT_NOT_NULL(recs[i]);
    }
    prof_site_snap_t *snaps;
    size_t n = site_snapshot(&snaps);
    HS_EXPECT_EQ_SIZE(n, N);
    for (int i = 0; i < N; i++)
        HS_EXPECT_NOT_NULL(find(snaps, n, (hs_frame_t)(0x100000 + i), 16));
    free(snaps);
    for (int i = 0; i < N; i++)
        site_record_free(recs[i]);
}

HS_TEST_MAIN()
