/*
 * prof_hooks.c — the installed profiler table (see prof_hooks.h).
 */
#include "prof_hooks.h"

const alloc_prof_hooks_t *alloc_prof_hooks;

void
alloc_prof_hooks_install(const alloc_prof_hooks_t *hooks)
{
    alloc_prof_hooks = hooks;
}
