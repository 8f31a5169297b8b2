/*
 * prof_hooks.c — the installed profiler table (see prof_hooks.h).
 */
#include "prof_hooks.h"

#include "thread_event.h"
#include "tsd.h"

const alloc_prof_hooks_t *alloc_prof_hooks;

void
alloc_prof_hooks_install(const alloc_prof_hooks_t *hooks)
{
    alloc_prof_hooks = hooks;
    /* The installing thread (the main thread, from a constructor) has
     * usually allocated already, with no sample point scheduled: schedule
     * one now.  Other threads that exist already find the hooks at their
     * next look (thread_event.c). */
    tsd_t *tsd = tsd_get();
    if (tsd->state == TSD_NOMINAL)
        te_init(tsd);
}
