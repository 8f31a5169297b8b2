/*
 * activity.c — the profiler's switches and prof.reset (see activity.h).
 *
 * The switches are plain flags read with relaxed loads: a thread that
 * sees a change one allocation late samples (or skips) that allocation,
 * which the counters tolerate; nothing else depends on their order.
 */
#include "activity.h"

#include <stdatomic.h>

#include "../alloc/util/util.h"
#include "sample.h"
#include "site.h"

static _Atomic(bool) active; /* atomic */
/* thread.prof.active == false; owner thread only. */
static HS_TLS bool thread_inactive;

bool
activity_on(void)
{
    return atomic_load_explicit(&active, memory_order_relaxed);
}

void
activity_set(bool on)
{
    atomic_store_explicit(&active, on, memory_order_relaxed);
}

bool
activity_thread_on(void)
{
    return !thread_inactive;
}

void
activity_thread_set(bool on)
{
    thread_inactive = !on;
}

bool
activity_sampling_now(void)
{
    return atomic_load_explicit(&active, memory_order_relaxed) &&
           !thread_inactive;
}

void
activity_reset(uint64_t interval)
{
    site_reset();
    if (interval != 0)
        sample_set_interval(interval);
}
