/*
 * stats.c — unit tests of alloc/stats: every snapshot satisfies
 * allocated <= active <= resident <= mapped; mapped + retained equals the
 * bytes reserved for extents (the arenas' PACs) plus metadata; active,
 * dirty and metadata agree with the arenas and base; stats_last returns
 * the last refresh; stats_print writes a complete report.
 *
 * The thread counters are maintained by hand here (the exported entry
 * points that normally do it are not linked).  Boots with 4 arenas.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "boot.h"
#include "extent/base.h"
#include "extent/emap.h"
#include "large.h"
#include "opts.h"
#include "stats.h"
#include "sz.h"
#include "tsd.h"

static void
do_boot(void)
{
    opts_parse_string("narenas:4");
    if (!hs_boot())
        abort();
}

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
}

/* Checks a snapshot against the invariants and the modules' own counters
 * (valid while no other thread allocates). */
static void
expect_snapshot_ok(const stats_snapshot_t *s)
{
    HS_EXPECT_LE_SIZE(s->allocated, s->active);
    HS_EXPECT_LE_SIZE(s->active, s->resident);
    HS_EXPECT_LE_SIZE(s->resident, s->mapped);
    size_t reserved = 0, active = 0, dirty = 0, retained = 0;
    uint64_t nlm = 0, nld = 0;
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load(&arenas[i]);
        if (a == NULL)
            continue;
        arena_stats_t as;
        arena_stats(a, &as);
        reserved += as.pa.mapped;
        active += as.active;
        dirty += as.pa.dirty;
        retained += as.pa.retained;
        nlm += as.nlarge_malloc;
        nld += as.nlarge_dalloc;
    }
    HS_EXPECT_EQ_SIZE(s->active, active);
    HS_EXPECT_EQ_SIZE(s->dirty, dirty);
    HS_EXPECT_EQ_SIZE(s->retained, retained);
    HS_EXPECT_EQ_SIZE(s->metadata, base_allocated());
    HS_EXPECT_EQ_SIZE(s->resident, s->active + s->dirty + s->metadata);
    /* Unclamped: what is mapped and not purged, plus what is purged, is
     * everything reserved. */
    HS_EXPECT_EQ_SIZE(s->mapped + s->retained, reserved + base_mapped());
    HS_EXPECT_EQ_U64(s->nlarge_malloc, nlm);
    HS_EXPECT_EQ_U64(s->nlarge_dalloc, nld);
}

static stats_snapshot_t
refresh(void)
{
    stats_snapshot_t s;
    memset(&s, 0xff, sizeof s);
    stats_refresh(&s);
    return s;
}

HS_TEST(fresh_snapshot)
{
    boot_once();
    stats_snapshot_t s = refresh();
    expect_snapshot_ok(&s);
    HS_EXPECT_GT_SIZE(s.metadata, 0);
    HS_EXPECT_GE_SIZE(s.mapped, s.metadata);
    stats_snapshot_t last;
    stats_last(&last);
    HS_EXPECT_EQ_INT(memcmp(&last, &s, sizeof s), 0);
    stats_refresh(NULL); /* allowed */
}

HS_TEST(invariants_through_a_workload)
{
    boot_once();
    tsd_t *tsd = tsd_fetch_slow();
    HS_ASSERT_NOT_NULL(tsd);
    arena_t *a = arena_get(1), *b = arena_get(2);
    HS_ASSERT_TRUE(a != NULL && b != NULL);
    static void *small[SZ_NBINS][64];
    void *large[8];
    uint64_t net0 = tsd->allocated - tsd->deallocated;

    /* Small regions of every class from two arenas. */
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        arena_t *x = i % 2 ? a : b;
        unsigned n = arena_bin_fill(x, i, small[i], 64);
        HS_ASSERT_EQ_U64(n, 64);
        tsd->allocated += 64 * sz_index2size(i);
    }
    stats_snapshot_t s = refresh();
    expect_snapshot_ok(&s);
    HS_EXPECT_EQ_SIZE(s.allocated, tsd->allocated - tsd->deallocated);
    HS_EXPECT_GT_SIZE(s.active, 0);

    /* Large ones. */
    for (unsigned k = 0; k < 8; k++) {
        size_t us = sz_s2u((size_t)(k + 1) * 40000);
        large[k] = large_malloc(k % 2 ? a : b, us, PAGE, false);
        HS_ASSERT_NOT_NULL(large[k]);
        tsd->allocated += us;
    }
    s = refresh();
    expect_snapshot_ok(&s);
    HS_EXPECT_EQ_U64(s.nlarge_malloc, 8);

    /* Free half, purge one arena, free the rest. */
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        arena_bin_flush(i, small[i], 32);
        tsd->deallocated += 32 * sz_index2size(i);
    }
    for (unsigned k = 0; k < 8; k += 2) {
        edata_t *e = emap_entry_edata(emap_lookup(large[k]));
        tsd->deallocated += e->size;
        large_dalloc(e);
    }
    s = refresh();
    expect_snapshot_ok(&s);
    HS_EXPECT_GT_SIZE(s.dirty, 0);
    arena_purge(a);
    s = refresh();
    expect_snapshot_ok(&s);
    HS_EXPECT_GT_SIZE(s.retained, 0);
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        arena_bin_flush(i, small[i] + 32, 32);
        tsd->deallocated += 32 * sz_index2size(i);
    }
    for (unsigned k = 1; k < 8; k += 2) {
        edata_t *e = emap_entry_edata(emap_lookup(large[k]));
        tsd->deallocated += e->size;
        large_dalloc(e);
    }
    s = refresh();
    expect_snapshot_ok(&s);
    /* Each bin keeps at most one empty slab (its spare, bin.h) until a
     * purge. */
    size_t spares = 0;
    for (unsigned i = 0; i < SZ_NBINS; i++)
        spares += 2 * bin_infos[i].slab_size;
    HS_EXPECT_LE_SIZE(s.active, spares);
    HS_EXPECT_EQ_SIZE(s.allocated, 0);
    HS_EXPECT_EQ_U64(tsd->allocated - tsd->deallocated, net0);
    HS_EXPECT_EQ_U64(s.nlarge_dalloc, 8);
    arena_purge(a);
    arena_purge(b);
    s = refresh();
    expect_snapshot_ok(&s);
    HS_EXPECT_EQ_SIZE(s.active, 0);
    HS_EXPECT_EQ_SIZE(s.dirty, 0);
    HS_EXPECT_GE_U64(s.npurges, 2);
}

HS_TEST(print_writes_a_complete_report)
{
    boot_once();
    FILE *tmp = tmpfile();
    HS_ASSERT_NOT_NULL(tmp);
    int fd = fileno(tmp);
    stats_print(fd);
    off_t len = lseek(fd, 0, SEEK_END);
    HS_ASSERT_TRUE(len > 0);
    static char buf[1 << 16];
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    fclose(tmp);
    HS_ASSERT_TRUE(n > 0);
    buf[n] = '\0';
    HS_EXPECT_EQ_INT(strncmp(buf, "___ heapsight ", 14), 0);
    HS_EXPECT_NOT_NULL(strstr(buf, "allocated: "));
    HS_EXPECT_NOT_NULL(strstr(buf, "narenas:4 "));
    HS_EXPECT_NOT_NULL(strstr(buf, "arena 0: "));
    const char *end = "___ end of heapsight statistics ___\n";
    HS_EXPECT_TRUE((size_t)n >= strlen(end) &&
                   strcmp(buf + n - strlen(end), end) == 0);
    /* Printing refreshes the snapshot. */
    stats_snapshot_t last;
    stats_last(&last);
    expect_snapshot_ok(&last);
}

HS_TEST_MAIN()
