/*
 * thread_event.c — the event table and the scheduler (see
 * thread_event.h).
 */
#include "thread_event.h"

#include "arena.h"
#include "background.h"
#include "check.h"
#include "opts.h"
#include "prof_hooks.h"
#include "tcache.h"
#include "tsd.h"

static void
te_tcache_gc(tsd_t *tsd)
{
    if (tsd->state == TSD_NOMINAL)
        tcache_gc_step(&tsd->tcache);
}

/* Every arena, not just the thread's own: an arena whose threads have all
 * ended would otherwise keep its dirty pages forever.  A tick that is not
 * due costs one atomic load per arena. */
static void
te_decay(tsd_t *tsd)
{
    (void)tsd;
    if (!background_running())
        arena_decay_tick_all();
}

/* The allocation being made crosses the sample point: mark it, unless the
 * thread is inside the profiler or past its end, or sampling is off (armed
 * but idle: then nothing is promoted). */
static void
te_prof_sample(tsd_t *tsd)
{
    const alloc_prof_hooks_t *h = alloc_prof_hooks;
    if (!tsd_reentrant() && tsd->state == TSD_NOMINAL && h != NULL &&
        h->sampling())
        tsd->prof_pending = true;
}

static uint64_t
te_interval_fixed_gc(void)
{
    return (uint64_t)64 << 10;
}

static uint64_t
te_interval_fixed_decay(void)
{
    return (uint64_t)256 << 10;
}

/* A fresh exponential gap each time, so samples form a Poisson process
 * over the bytes a thread allocates. */
static uint64_t
te_interval_prof(void)
{
    const alloc_prof_hooks_t *h = alloc_prof_hooks;
    if (h != NULL)
        return h->next_sample();
    /* The profiler installs its hooks from a constructor, after some
     * threads (this one, say) may have allocated: with prof on, look again
     * every few MiB until they are there. */
    return opt_prof ? (uint64_t)4 << 20 : UINT64_MAX;
}

/* Guarded allocations are counted per allocation, not per byte: with
 * san_guard_small or san_guard_large on, an interval of one byte sends
 * every allocation to the slow path, where the counting happens. */
static uint64_t
te_interval_san(void)
{
    return opt_san_guard_small != 0 || opt_san_guard_large != 0 ? 1
                                                                : UINT64_MAX;
}

static void
te_san_guard(tsd_t *tsd)
{
    (void)tsd;
}

typedef struct te_info_s {
    uint64_t (*interval)(void); /* bytes until the next run */
    void (*handler)(tsd_t *tsd);
} te_info_t;

static const te_info_t te_table[TE_NEVENTS] = {
    [TE_TCACHE_GC] = {te_interval_fixed_gc, te_tcache_gc},
    [TE_DECAY] = {te_interval_fixed_decay, te_decay},
    [TE_PROF_SAMPLE] = {te_interval_prof, te_prof_sample},
    [TE_SAN_GUARD] = {te_interval_san, te_san_guard},
};

static uint64_t
te_after(uint64_t now, uint64_t gap)
{
    return gap > UINT64_MAX - now ? UINT64_MAX : now + gap;
}

static void
te_recompute(tsd_t *tsd)
{
    uint64_t next = UINT64_MAX;
    for (unsigned e = 0; e < TE_NEVENTS; e++)
        if (tsd->te_next[e] < next)
            next = tsd->te_next[e];
    /* The canary and junk checks (check.h) need every allocation on the
     * slow path, also those made while one is in progress (the
     * profiler's): a threshold no allocation stays under. */
    tsd->next_event = check_any ? 1 : next;
}

void
te_init(tsd_t *tsd)
{
    for (unsigned e = 0; e < TE_NEVENTS; e++)
        tsd->te_next[e] = te_after(tsd->allocated, te_table[e].interval());
    te_recompute(tsd);
}

void
te_run(tsd_t *tsd, uint64_t usize)
{
    uint64_t now = tsd->allocated + usize;
    for (unsigned e = 0; e < TE_NEVENTS; e++) {
        if (tsd->te_next[e] > now)
            continue;
        tsd->te_next[e] = te_after(now, te_table[e].interval());
        te_table[e].handler(tsd);
    }
    te_recompute(tsd);
}
