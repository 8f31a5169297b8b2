/*
 * hpa.c — unit tests of alloc/page/hpa through its PAI view: small extents
 * come from 2 MiB pageslabs (registered in the emap, packed into the
 * fullest slab), larger ones and over-page alignments from the PAC; a
 * slab that stays dense for the hugify delay is hugified, one that is
 * emptied and purged before the delay is never hugified; dirty pages past
 * dirty_mult of the active ones are purged at the next pass (dehugifying
 * first), and retained = slab pages - touched pages.
 *
 * Time: the shard stamps density with the monotonic clock; the tests pass
 * hpa_deferred times relative to a reading taken after the allocations,
 * with a delay of seconds, so scheduling noise cannot change an outcome.
 */
#include "hs_test.h"

#include <pthread.h>
#include <string.h>

#include "extent/base.h"
#include "extent/edata.h"
#include "extent/emap.h"
#include "extent/rtree.h"
#include "page/hpa.h"
#include "page/pac.h"

static void
do_boot(void)
{
    base_boot();
    edata_cache_boot();
    rtree_boot();
}

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
}

#define MS ((uint64_t)1000000)
#define DELAY_MS 5000

static void
setup(hpa_shard_t *s, pac_t *pac, unsigned ind)
{
    boot_once();
    pac_init(pac, ind, 10000, 0);
    hpa_opts_t o;
    hpa_opts_default(&o);
    o.hugify_delay_ms = DELAY_MS;
    o.min_purge_interval_ms = 0;
    hpa_shard_init(s, ind, pac, &o);
}

static pac_t pac_a;
static hpa_shard_t hpa_a;

HS_TEST(slab_extents_and_fallback)
{
    hpa_shard_t *s = &hpa_a;
    setup(s, &pac_a, 200);
    pai_t pai = hpa_pai(s);
    edata_t *a = pai.ops->alloc(pai.impl, 4 * PAGE, PAGE, true);
    edata_t *b = pai.ops->alloc(pai.impl, 16 * PAGE, PAGE, false);
    HS_ASSERT_TRUE(a != NULL && b != NULL);
    HS_EXPECT_NOT_NULL(a->ps);
    HS_EXPECT_EQ_PTR(a->ps, b->ps); /* packed into one slab */
    HS_EXPECT_EQ_PTR(emap_entry_edata(emap_lookup(a->addr)), a);
    HS_EXPECT_EQ_SIZE((uintptr_t)a->ps->addr % HUGEPAGE, 0);
    size_t zeros = 0;
    for (size_t i = 0; i < 4 * PAGE; i++)
        zeros += ((unsigned char *)a->addr)[i] == 0;
    HS_EXPECT_EQ_SIZE(zeros, 4 * PAGE);
    /* Too large, or aligned past a page: the PAC. */
    edata_t *big = pai.ops->alloc(pai.impl, 32 * PAGE, PAGE, false);
    edata_t *al = pai.ops->alloc(pai.impl, PAGE, 4 * PAGE, false);
    HS_ASSERT_TRUE(big != NULL && al != NULL);
    HS_EXPECT_NULL(big->ps);
    HS_EXPECT_NULL(al->ps);
    HS_EXPECT_FALSE(pai.ops->expand(pai.impl, a, 8 * PAGE, false));
    hpa_stats_t st;
    hpa_stats(s, &st);
    HS_EXPECT_EQ_SIZE(st.nslabs, 1);
    HS_EXPECT_EQ_SIZE(st.nactive, 20);
    HS_EXPECT_EQ_SIZE(st.nretained, HPDATA_NPAGES - 20);
    HS_EXPECT_GT_SIZE(st.metadata, 0);
    pai.ops->dalloc(pai.impl, a);
    pai.ops->dalloc(pai.impl, b);
    pai.ops->dalloc(pai.impl, big);
    pai.ops->dalloc(pai.impl, al);
    hpa_stats(s, &st);
    HS_EXPECT_EQ_SIZE(st.nactive, 0);
    HS_EXPECT_EQ_SIZE(st.ndirty, 20);
    HS_EXPECT_EQ_SIZE(hpa_purge_all(s), 20);
    hpa_stats(s, &st);
    HS_EXPECT_EQ_SIZE(st.ndirty, 0);
    HS_EXPECT_EQ_SIZE(st.nretained, HPDATA_NPAGES);
}

static pac_t pac_b;
static hpa_shard_t hpa_b;

HS_TEST(hugify_waits_for_the_delay_and_skips_slabs_purged_before_it)
{
    hpa_shard_t *s = &hpa_b;
    setup(s, &pac_b, 201);
    pai_t pai = hpa_pai(s);
    /* Two slabs made dense: 512 pages each, in 16-page extents. */
    enum { PER = HPDATA_NPAGES / 16 };
    edata_t *x[2][PER];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < PER; i++) {
            x[k][i] = pai.ops->alloc(pai.impl, 16 * PAGE, PAGE, false);
            HS_ASSERT_NOT_NULL(x[k][i]);
        }
    HS_ASSERT_TRUE(x[0][0]->ps != x[1][0]->ps);
    uint64_t t0 = pac_now_ns();
    /* Before the delay: nothing. */
    hpa_deferred(s, t0 + DELAY_MS * MS / 2);
    hpa_stats_t st;
    hpa_stats(s, &st);
    HS_EXPECT_EQ_U64(st.nhugifies, 0);
    /* Slab 1 empties and is purged before its delay is up. */
    for (int i = 0; i < PER; i++)
        pai.ops->dalloc(pai.impl, x[1][i]);
    hpa_purge_all(s);
    /* After the delay: slab 0 (still dense) is hugified, slab 1 is not. */
    hpa_deferred(s, t0 + 2 * DELAY_MS * MS);
    hpa_stats(s, &st);
    HS_EXPECT_EQ_U64(st.nhugifies, 1);
    HS_EXPECT_EQ_SIZE(st.nhugified, 1);
    HS_EXPECT_TRUE(x[0][0]->ps->hugified);
    HS_EXPECT_FALSE(x[1][0]->ps->hugified);
    /* time_until_deferred_work: nothing pending now. */
    HS_EXPECT_EQ_U64(
        pai.ops->time_until_deferred_work(pai.impl, t0 + 2 * DELAY_MS * MS),
        UINT64_MAX);
    /* Freeing most of slab 0 makes dirty pages past dirty_mult: the next
     * pass purges them, dehugifying the slab first. */
    for (int i = 0; i < PER - 4; i++)
        pai.ops->dalloc(pai.impl, x[0][i]);
    HS_EXPECT_EQ_U64(
        pai.ops->time_until_deferred_work(pai.impl, t0 + 2 * DELAY_MS * MS), 0);
    HS_EXPECT_GT_SIZE(hpa_deferred(s, t0 + 3 * DELAY_MS * MS), 0);
    hpa_stats(s, &st);
    HS_EXPECT_EQ_U64(st.ndehugifies, 1);
    HS_EXPECT_EQ_SIZE(st.nhugified, 0);
    HS_EXPECT_LE_SIZE(st.ndirty, st.nactive * 25 / 100);
    for (int i = PER - 4; i < PER; i++)
        pai.ops->dalloc(pai.impl, x[0][i]);
}

static pac_t pac_c;
static hpa_shard_t hpa_c;

typedef struct {
    hpa_shard_t *s;
    edata_t *e;
} freer_t;

static void *
free_it(void *arg)
{
    freer_t *f = arg;
    hpa_pai(f->s).ops->dalloc(f->s, f->e);
    return NULL;
}

/* A free that finds the shard busy is queued, not waited for, and the
 * next holder of the shard takes it. */
HS_TEST(frees_into_a_busy_shard_are_handed_over)
{
    hpa_shard_t *s = &hpa_c;
    setup(s, &pac_c, 202);
    pai_t pai = hpa_pai(s);
    edata_t *a = pai.ops->alloc(pai.impl, 8 * PAGE, PAGE, false);
    edata_t *b = pai.ops->alloc(pai.impl, 8 * PAGE, PAGE, false);
    HS_ASSERT_TRUE(a != NULL && b != NULL);
    hs_mutex_lock(&s->mtx); /* the shard is busy */
    freer_t f = {s, a};
    pthread_t t;
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, free_it, &f), 0);
    pthread_join(t, NULL); /* returned while the shard stayed locked */
    HS_EXPECT_EQ_SIZE(s->psset.nactive, 16);
    HS_EXPECT_FALSE(hs_mpsc_empty(&s->remote));
    hs_mutex_unlock(&s->mtx);
    hpa_stats_t st;
    hpa_stats(s, &st); /* takes the shard: the queued free lands */
    HS_EXPECT_EQ_U64(st.nremote, 1);
    HS_EXPECT_EQ_SIZE(st.nactive, 8);
    HS_EXPECT_TRUE(hs_mpsc_empty(&s->remote));
    /* The freed pages are reusable. */
    edata_t *c = pai.ops->alloc(pai.impl, 8 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(c);
    HS_EXPECT_EQ_PTR(c->ps, b->ps);
    pai.ops->dalloc(pai.impl, b);
    pai.ops->dalloc(pai.impl, c);
    hpa_stats(s, &st);
    HS_EXPECT_EQ_SIZE(st.nactive, 0);
}

static pac_t pac_d, pac_e;
static hpa_shard_t hpa_d, hpa_e;

/* Surplus empty slabs go to the shard that last had to map one, through
 * its inbox, and it uses them before mapping more. */
HS_TEST(surplus_empty_slabs_move_to_the_growing_shard)
{
    hpa_shard_t *a = &hpa_d, *b = &hpa_e;
    setup(a, &pac_d, 203);
    setup(b, &pac_e, 204);
    pai_t pa = hpa_pai(a), pb = hpa_pai(b);
    enum { SLABS = 7, PER = HPDATA_NPAGES / 16 };
    static edata_t *x[SLABS * PER];
    for (int i = 0; i < SLABS * PER; i++) {
        x[i] = pa.ops->alloc(pa.impl, 16 * PAGE, PAGE, false);
        HS_ASSERT_NOT_NULL(x[i]);
    }
    for (int i = 0; i < SLABS * PER; i++)
        pa.ops->dalloc(pa.impl, x[i]);
    /* b grows: it is now the shard that last mapped a slab. */
    edata_t *y = pb.ops->alloc(pb.impl, 16 * PAGE, PAGE, false);
    HS_ASSERT_NOT_NULL(y);
    hpa_purge_all(a); /* purged empties; the surplus is sent */
    hpa_stats_t sa, sb;
    hpa_stats(a, &sa);
    HS_EXPECT_EQ_U64(sa.nslabs_sent, SLABS - HPA_EMPTY_KEEP);
    HS_EXPECT_EQ_SIZE(sa.nslabs, HPA_EMPTY_KEEP);
    hpa_stats(b, &sb); /* takes its inbox */
    HS_EXPECT_EQ_U64(sb.nslabs_received, SLABS - HPA_EMPTY_KEEP);
    HS_EXPECT_EQ_SIZE(sb.nslabs, 1 + SLABS - HPA_EMPTY_KEEP);
    /* b fills its own slab, then uses a received one, mapping nothing. */
    uint64_t mapped = sb.nslabs_mapped;
    enum { NZ = PER + 8 };
    edata_t *z[NZ];
    for (int i = 0; i < NZ; i++) {
        z[i] = pb.ops->alloc(pb.impl, 16 * PAGE, PAGE, false);
        HS_ASSERT_NOT_NULL(z[i]);
    }
    hpa_stats(b, &sb);
    HS_EXPECT_EQ_U64(sb.nslabs_mapped, mapped);
    HS_EXPECT_EQ_SIZE(sb.nactive, (NZ + 1) * 16);
    for (int i = 0; i < NZ; i++)
        pb.ops->dalloc(pb.impl, z[i]);
    pb.ops->dalloc(pb.impl, y);
}

HS_TEST_MAIN()
