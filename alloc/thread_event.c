/*
 * thread_event.c — the event table and the scheduler (see
 * thread_event.h).
 */
#include "thread_event.h"

#include "arena.h"
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
    arena_decay_tick_all();
}

typedef struct te_info_s {
    uint64_t interval; /* bytes between two runs */
    void (*handler)(tsd_t *tsd);
} te_info_t;

static const te_info_t te_table[TE_NEVENTS] = {
    [TE_TCACHE_GC] = {(uint64_t)64 << 10, te_tcache_gc},
    [TE_DECAY] = {(uint64_t)256 << 10, te_decay},
};

static void
te_recompute(tsd_t *tsd)
{
    uint64_t next = UINT64_MAX;
    for (unsigned e = 0; e < TE_NEVENTS; e++)
        if (tsd->te_next[e] < next)
            next = tsd->te_next[e];
    tsd->next_event = next;
}

void
te_init(tsd_t *tsd)
{
    for (unsigned e = 0; e < TE_NEVENTS; e++)
        tsd->te_next[e] = tsd->allocated + te_table[e].interval;
    te_recompute(tsd);
}

void
te_run(tsd_t *tsd)
{
    uint64_t now = tsd->allocated;
    for (unsigned e = 0; e < TE_NEVENTS; e++) {
        if (tsd->te_next[e] > now)
            continue;
        tsd->te_next[e] = now + te_table[e].interval;
        te_table[e].handler(tsd);
    }
    te_recompute(tsd);
}
