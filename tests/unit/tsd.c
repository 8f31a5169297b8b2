/*
 * tsd.c — unit tests of alloc/tsd: tsd_fetch_slow initializes a thread's
 * state once (arena attached, cache set up, on the thread list); the
 * totals sum live and ended threads; a thread that exits has its cache
 * flushed by the destructor (the arena's curregs return to the level
 * before it filled); a thread past its destructor gets its state back
 * with the cache disabled; events move the threshold and step the GC;
 * moving a thread to another arena moves its count.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "boot.h"
#include "opts.h"
#include "sz.h"
#include "tcache.h"
#include "thread_event.h"
#include "tsd.h"

static void
do_boot(void)
{
    opts_parse_string("narenas:8");
    if (!hs_boot())
        abort();
}

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
}

static size_t
curregs(arena_t *a, unsigned ind)
{
    hs_mutex_lock(&a->bins[ind].mtx);
    size_t n = a->bins[ind].curregs;
    hs_mutex_unlock(&a->bins[ind].mtx);
    return n;
}

HS_TEST(fetch_slow_initializes_once)
{
    boot_once();
    tsd_t *tsd = tsd_get();
    HS_EXPECT_EQ_INT(tsd->state, TSD_UNINIT);
    tsd_t *t = tsd_fetch_slow();
    HS_ASSERT_NOT_NULL(t);
    HS_EXPECT_EQ_PTR(t, tsd);
    HS_EXPECT_EQ_INT(t->state, TSD_NOMINAL);
    HS_ASSERT_NOT_NULL(t->arena);
    HS_EXPECT_GE_U64(atomic_load(&t->arena->nthreads), 1);
    HS_EXPECT_TRUE(opt_tcache);
    HS_EXPECT_NOT_NULL(t->tcache.mem);
    HS_EXPECT_NE_U64(t->tcache.bins[0].ncached_max, 0);
    HS_EXPECT_GT_U64(t->next_event, t->allocated);
    HS_EXPECT_TRUE(hs_link_linked(&t->link));
    /* Again: same state, no second attach. */
    arena_t *a = t->arena;
    unsigned n = atomic_load(&a->nthreads);
    void **mem = t->tcache.mem;
    HS_EXPECT_EQ_PTR(tsd_fetch_slow(), t);
    HS_EXPECT_EQ_U64(atomic_load(&a->nthreads), n);
    HS_EXPECT_EQ_PTR(t->arena, a);
    HS_EXPECT_EQ_PTR(t->tcache.mem, mem);
}

HS_TEST(event_moves_threshold_and_steps_gc)
{
    boot_once();
    tsd_t *t = tsd_fetch_slow();
    HS_ASSERT_NOT_NULL(t);
    /* The threshold is the earliest event's. */
    uint64_t min = UINT64_MAX;
    for (unsigned e = 0; e < TE_NEVENTS; e++)
        if (t->te_next[e] < min)
            min = t->te_next[e];
    HS_EXPECT_EQ_U64(t->next_event, min);
    /* Past every event: each runs once (the GC moves on by one bin) and is
     * rescheduled beyond the current count. */
    t->allocated += (uint64_t)1 << 30;
    unsigned gc0 = t->tcache.gc_bin;
    te_run(t, 0);
    HS_EXPECT_EQ_U64(t->tcache.gc_bin, (gc0 + 1) % TCACHE_NBINS);
    HS_EXPECT_GT_U64(t->next_event, t->allocated);
    for (unsigned e = 0; e < TE_NEVENTS; e++)
        HS_EXPECT_GT_U64(t->te_next[e], t->allocated);
    /* Just past the GC threshold only: the GC runs, nothing else moves. */
    uint64_t decay_next = t->te_next[TE_DECAY];
    t->allocated = t->te_next[TE_TCACHE_GC];
    if (t->allocated < decay_next) {
        te_run(t, 0);
        HS_EXPECT_EQ_U64(t->te_next[TE_DECAY], decay_next);
        HS_EXPECT_EQ_U64(t->tcache.gc_bin, (gc0 + 2) % TCACHE_NBINS);
    }
}

typedef struct counters_s {
    uint64_t add_alloc, add_dalloc;
} counters_t;

static void *
counting_thread(void *arg)
{
    counters_t *c = arg;
    tsd_t *t = tsd_fetch_slow();
    if (t == NULL)
        return (void *)1;
    t->allocated += c->add_alloc;
    t->deallocated += c->add_dalloc;
    return NULL;
}

HS_TEST(totals_sum_live_and_ended_threads)
{
    boot_once();
    tsd_t *t = tsd_fetch_slow();
    HS_ASSERT_NOT_NULL(t);
    uint64_t a0, d0;
    tsd_totals(&a0, &d0);
    t->allocated += 1000;
    t->deallocated += 400;
    uint64_t a1, d1;
    tsd_totals(&a1, &d1);
    HS_EXPECT_EQ_U64(a1 - a0, 1000);
    HS_EXPECT_EQ_U64(d1 - d0, 400);
    /* A thread's counts stay in the totals after it ends. */
    counters_t c = {.add_alloc = 70000, .add_dalloc = 30000};
    pthread_t th;
    HS_ASSERT_EQ_INT(pthread_create(&th, NULL, counting_thread, &c), 0);
    void *r = NULL;
    pthread_join(th, &r);
    HS_EXPECT_NULL(r);
    uint64_t a2, d2;
    tsd_totals(&a2, &d2);
    HS_EXPECT_EQ_U64(a2 - a1, 70000);
    HS_EXPECT_EQ_U64(d2 - d1, 30000);
}

typedef struct exit_probe_s {
    arena_t *arena;
    unsigned ind;
    size_t before;     /* the bin's curregs before this thread filled */
    size_t while_held; /* and with its cache full */
    unsigned cached;
} exit_probe_t;

static void *
fill_and_exit(void *arg)
{
    exit_probe_t *pr = arg;
    tsd_t *t = tsd_fetch_slow();
    if (t == NULL || t->tcache.mem == NULL)
        return (void *)1;
    pr->arena = t->arena;
    pr->before = curregs(t->arena, pr->ind);
    void *p = tcache_alloc_fill(&t->tcache, t->arena, pr->ind);
    if (p == NULL)
        return (void *)2;
    cache_bin_t *b = &t->tcache.bins[pr->ind];
    b->stack[b->ncached++] = p; /* freed, as free() would */
    pr->cached = b->ncached;
    pr->while_held = curregs(t->arena, pr->ind);
    return NULL; /* the destructor flushes the cache */
}

HS_TEST(thread_exit_flushes_cache)
{
    boot_once();
    exit_probe_t pr = {.ind = sz_size2index(80)};
    pthread_t th;
    HS_ASSERT_EQ_INT(pthread_create(&th, NULL, fill_and_exit, &pr), 0);
    void *r = NULL;
    pthread_join(th, &r);
    HS_ASSERT_NULL(r);
    HS_ASSERT_NOT_NULL(pr.arena);
    HS_EXPECT_GT_U64(pr.cached, 1);
    HS_EXPECT_EQ_SIZE(pr.while_held - pr.before, pr.cached);
    HS_EXPECT_EQ_SIZE(curregs(pr.arena, pr.ind), pr.before);
}

HS_TEST(thread_exit_detaches_from_arena)
{
    boot_once();
    unsigned before[8];
    for (unsigned i = 0; i < narenas_total && i < 8; i++) {
        arena_t *a = arena_get(i);
        before[i] = a == NULL ? 0 : atomic_load(&a->nthreads);
    }
    counters_t c = {0, 0};
    pthread_t th;
    HS_ASSERT_EQ_INT(pthread_create(&th, NULL, counting_thread, &c), 0);
    pthread_join(th, NULL);
    for (unsigned i = 0; i < narenas_total && i < 8; i++) {
        arena_t *a = arena_get(i);
        HS_EXPECT_EQ_U64(atomic_load(&a->nthreads), before[i]);
    }
}

/* Runs after the allocator's destructor: a key created after boot has a
 * higher index, and this one re-arms itself until the tsd is DYING. */
static pthread_key_t late_key;

typedef struct dying_probe_s {
    int rounds;
    int state;
    bool got_tsd, has_arena, cache_disabled;
} dying_probe_t;

static void
late_destructor(void *arg)
{
    dying_probe_t *pr = arg;
    if (tsd_get()->state != TSD_DYING && ++pr->rounds < 3) {
        pthread_setspecific(late_key, pr);
        return;
    }
    tsd_t *t = tsd_fetch_slow();
    pr->got_tsd = t != NULL;
    pr->state = tsd_get()->state;
    pr->has_arena = t != NULL && t->arena != NULL;
    bool disabled = true;
    for (unsigned i = 0; i < TCACHE_NBINS; i++)
        disabled &= tsd_get()->tcache.bins[i].ncached_max == 0;
    pr->cache_disabled = disabled;
}

static void *
dying_thread(void *arg)
{
    if (tsd_fetch_slow() == NULL)
        return (void *)1;
    pthread_setspecific(late_key, arg);
    return NULL;
}

HS_TEST(dying_thread_gets_state_without_cache)
{
    boot_once();
    HS_ASSERT_EQ_INT(pthread_key_create(&late_key, late_destructor), 0);
    dying_probe_t pr = {0};
    pthread_t th;
    HS_ASSERT_EQ_INT(pthread_create(&th, NULL, dying_thread, &pr), 0);
    void *r = NULL;
    pthread_join(th, &r);
    HS_ASSERT_NULL(r);
    HS_EXPECT_TRUE(pr.got_tsd);
    HS_EXPECT_EQ_INT(pr.state, TSD_DYING);
    HS_EXPECT_TRUE(pr.has_arena);
    HS_EXPECT_TRUE(pr.cache_disabled);
}

HS_TEST(set_arena_moves_thread_count)
{
    boot_once();
    tsd_t *t = tsd_fetch_slow();
    HS_ASSERT_NOT_NULL(t);
    arena_t *from = t->arena;
    arena_t *to = arena_get(from->ind == 7 ? 6 : 7);
    HS_ASSERT_NOT_NULL(to);
    unsigned nf = atomic_load(&from->nthreads), nt = atomic_load(&to->nthreads);
    tsd_set_arena(t, to);
    HS_EXPECT_EQ_PTR(t->arena, to);
    HS_EXPECT_EQ_U64(atomic_load(&from->nthreads), nf - 1);
    HS_EXPECT_EQ_U64(atomic_load(&to->nthreads), nt + 1);
    tsd_set_arena(t, to); /* no-op */
    HS_EXPECT_EQ_U64(atomic_load(&to->nthreads), nt + 1);
    tsd_set_arena(t, from);
    HS_EXPECT_EQ_U64(atomic_load(&from->nthreads), nf);
    HS_EXPECT_EQ_U64(atomic_load(&to->nthreads), nt);
}

HS_TEST_MAIN()
