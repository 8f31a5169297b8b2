/*
 * prof_ctl.h — the profiler's control nodes: prof.active, prof.dump,
 * prof.reset, prof.sample, thread.prof.name, thread.prof.active.
 *
 * Owns: their registration with hs_ctl (alloc/ctl.h) and their semantics;
 * the state they change lives in activity.c, names.c, sample.c and
 * site.c, and the dumps they ask for in dump.c.
 */
#ifndef HS_PROF_CTL_H
#define HS_PROF_CTL_H

void prof_ctl_register(void);

#endif /* HS_PROF_CTL_H */
