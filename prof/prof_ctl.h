/*
 * prof_ctl.h — the profiler's control nodes: prof.active, prof.dump,
 * prof.reset, prof.sample, thread.prof.name, thread.prof.active.
 *
 * Owns: their registration with hs_ctl (alloc/ctl.h) and their semantics;
 * the state they change lives in prof.c, sample.c and site.c.
 */
#ifndef HS_PROF_CTL_H
#define HS_PROF_CTL_H

#include <stdbool.h>

void prof_ctl_register(void);

/* State setters used by the nodes (defined in prof.c). */
void prof_set_active(bool on);
void prof_thread_set_active(bool on);
bool prof_thread_active(void);
void prof_thread_set_label(const char *name);

#endif /* HS_PROF_CTL_H */
