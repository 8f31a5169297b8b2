/*
 * activity.h — whether the profiler samples now: prof.active for the
 * process, thread.prof.active for each thread, and prof.reset.
 *
 * Owns: the process switch (atomic), each thread's switch (owner thread
 * only, initial-exec TLS).  Does not own the counters a reset zeroes
 * (site.h) nor the interval it may change (sample.h): it calls them.
 * activity_sampling_now is the allocator's `sampling` hook, read on its
 * slow path; it takes no lock and never allocates.
 */
#ifndef HS_PROF_ACTIVITY_H
#define HS_PROF_ACTIVITY_H

#include <stdbool.h>
#include <stdint.h>

/* prof.active. */
bool activity_on(void);
void activity_set(bool on);
/* thread.prof.active of the calling thread. */
bool activity_thread_on(void);
void activity_thread_set(bool on);
/* prof.active and thread.prof.active together. */
bool activity_sampling_now(void);
/* prof.reset: zeroes every counter (a new generation, whose clock starts
 * now); a nonzero interval also sets a new mean sample interval. */
void activity_reset(uint64_t interval);

#endif /* HS_PROF_ACTIVITY_H */
