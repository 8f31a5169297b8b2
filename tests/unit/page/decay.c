/*
 * decay.c — unit tests of alloc/page/decay: the smoothstep curve's shape
 * (starts at the pages freed, never rises, about half at half time, zero
 * after the decay time), pages added between epochs are kept until they
 * join the curve, epochs advance by explicit time (several at once, or the
 * whole window), -1 and 0, re-initialization keeps the held pages on the
 * curve, and decay_ns_until_purge agrees with a brute-force scan.
 */
#include "hs_test.h"

#include <stdint.h>

#include "page/decay.h"

#define MS ((uint64_t)1000000)

static uint64_t
epoch_of(const decay_t *d)
{
    return d->interval_ns;
}

HS_TEST(curve_shape)
{
    decay_t d;
    const uint64_t t0 = 1000 * MS;
    decay_init(&d, 1000, t0, 0);
    HS_EXPECT_EQ_U64(epoch_of(&d), 1000 * MS / DECAY_NSTEPS);
    /* 10,000 pages freed during the first epoch. */
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 10000), 10000);
    HS_EXPECT_TRUE(decay_advance(&d, t0 + epoch_of(&d), 10000));
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 10000), 10000);
    size_t last = 10000;
    for (unsigned k = 1; k <= DECAY_NSTEPS; k++) {
        decay_advance(&d, t0 + (k + 1) * epoch_of(&d), last);
        size_t lim = decay_limit(&d, last);
        HS_EXPECT_LE_SIZE(lim, last);
        if (k == DECAY_NSTEPS / 2) {
            /* smoothstep(1/2) = 1/2 */
            HS_EXPECT_GE_SIZE(lim, 4900);
            HS_EXPECT_LE_SIZE(lim, 5100);
        }
        if (k == DECAY_NSTEPS / 10)
            HS_EXPECT_GE_SIZE(lim, 9500); /* a slow start */
        /* the caller purges down to the limit */
        decay_purged(&d, lim);
        last = lim;
    }
    HS_EXPECT_EQ_SIZE(last, 0);
}

HS_TEST(pages_added_between_epochs_are_kept)
{
    decay_t d;
    const uint64_t t0 = 5 * MS;
    decay_init(&d, 1000, t0, 0);
    HS_EXPECT_FALSE(decay_advance(&d, t0 + 1, 0));
    /* Added mid-epoch: above the curve, but kept (pending). */
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 300), 300);
    HS_EXPECT_FALSE(decay_advance(&d, t0 + epoch_of(&d) - 1, 300));
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 300), 300);
    HS_EXPECT_TRUE(decay_advance(&d, t0 + epoch_of(&d), 300));
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 300), 300);
    /* Reused pages: the set shrinks below the curve; nothing to purge. */
    HS_EXPECT_GE_SIZE(decay_limit(&d, 100), 100);
}

/*
 * Pages reused and freed again are not counted twice.
 * (A regression test. The bug it caught: every advance set nunpurged to the
 * set's size, so pages taken out for reuse kept their backlog share and,
 * freed again, were added anew: a set of 1,000 pages had a limit of 1,999
 * and nothing could be purged until the curve had fallen by half.)
 */
HS_TEST(reused_pages_are_not_counted_twice)
{
    decay_t d;
    decay_init(&d, 1000, 0, 0);
    uint64_t t = epoch_of(&d);
    decay_advance(&d, t, 1000); /* freed */
    t += epoch_of(&d);
    decay_advance(&d, t, 0); /* all reused */
    t += epoch_of(&d);
    decay_advance(&d, t, 1000); /* freed again */
    HS_EXPECT_LE_SIZE(decay_limit(&d, 1000), 1000);
    HS_EXPECT_GE_SIZE(decay_limit(&d, 1000), 990);
    /* And they leave on the curve from there: half way, about half. */
    decay_advance(&d, t + 500 * MS, 1000);
    HS_EXPECT_LE_SIZE(decay_limit(&d, 1000), 560);
}

HS_TEST(many_epochs_at_once)
{
    decay_t d;
    const uint64_t t0 = 0;
    decay_init(&d, 1000, t0, 0);
    decay_advance(&d, t0 + epoch_of(&d), 4000);
    /* Jumping over the whole window at once: nothing is left. */
    HS_EXPECT_TRUE(decay_advance(&d, t0 + 2000 * MS, 4000));
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 4000), 0);
    /* A jump of half the window equals stepping there epoch by epoch. */
    decay_t a, b;
    decay_init(&a, 1000, t0, 0);
    decay_init(&b, 1000, t0, 0);
    decay_advance(&a, t0 + epoch_of(&a), 4000);
    decay_advance(&b, t0 + epoch_of(&b), 4000);
    decay_advance(&a, t0 + 101 * epoch_of(&a), 4000);
    for (unsigned k = 2; k <= 101; k++)
        decay_advance(&b, t0 + k * epoch_of(&b), 4000);
    HS_EXPECT_EQ_SIZE(decay_limit(&a, 4000), decay_limit(&b, 4000));
}

HS_TEST(never_and_at_once)
{
    decay_t d;
    decay_init(&d, -1, 0, 50);
    HS_EXPECT_FALSE(decay_advance(&d, UINT64_MAX / 2, 50));
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 50), SIZE_MAX);
    HS_EXPECT_EQ_U64(decay_ns_until_purge(&d, 0, 50, 1), UINT64_MAX);
    decay_init(&d, 0, 0, 50);
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 50), 0);
    HS_EXPECT_EQ_U64(decay_ns_until_purge(&d, 0, 50, 1), 0);
    HS_EXPECT_EQ_U64(decay_ns_until_purge(&d, 0, 0, 1), UINT64_MAX);
}

HS_TEST(reinit_keeps_held_pages_on_the_curve)
{
    decay_t d;
    decay_init(&d, 1000, 0, 800);
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 800), 800);
    /* One epoch later the curve has barely begun to fall. */
    HS_EXPECT_TRUE(decay_advance(&d, epoch_of(&d), 800));
    HS_EXPECT_GE_SIZE(decay_limit(&d, 800), 790);
    HS_EXPECT_LE_SIZE(decay_limit(&d, 800), 800);
    decay_advance(&d, 1000 * MS + 2 * epoch_of(&d), 800);
    HS_EXPECT_EQ_SIZE(decay_limit(&d, 800), 0);
}

/* The first epoch boundary (relative to now) at which the limit is down
 * to npages - min, by scanning. */
static uint64_t
brute_until(const decay_t *d, uint64_t now, size_t npages, size_t min)
{
    size_t pending = npages > d->nunpurged ? npages - d->nunpurged : 0;
    size_t target = npages > min ? npages - min : 0;
    if (decay_limit_after(d, 0, pending) <= target)
        return 0;
    for (unsigned k = 1; k <= DECAY_NSTEPS + 1; k++)
        if (decay_limit_after(d, k, pending) <= target) {
            uint64_t due = d->epoch_ns + k * d->interval_ns;
            return due > now ? due - now : 0;
        }
    return UINT64_MAX;
}

HS_TEST(ns_until_purge_matches_a_scan)
{
    decay_t d;
    uint64_t t = 7 * MS;
    decay_init(&d, 3000, t, 0);
    size_t npages = 0;
    uint64_t state = 12345;
    for (int step = 0; step < 400; step++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        unsigned r = (unsigned)(state >> 33);
        t += (r % 7) * d.interval_ns / 2;
        if (r & 8)
            npages += r % 500; /* frees */
        else if (npages > 0 && (r & 16))
            npages -= (r % (npages + 1)) / 2; /* reuse */
        decay_advance(&d, t, npages);
        if (npages > decay_limit(&d, npages)) {
            npages = decay_limit(&d, npages); /* purge */
            decay_purged(&d, npages);
        }
        for (size_t min = 1; min <= 256; min *= 16) {
            uint64_t got = decay_ns_until_purge(&d, t, npages, min);
            uint64_t want =
                npages == 0 ? UINT64_MAX : brute_until(&d, t, npages, min);
            HS_EXPECT_EQ_U64(got, want);
        }
    }
}

HS_TEST_MAIN()
