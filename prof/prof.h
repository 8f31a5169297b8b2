/*
 * prof.h — the profiler's shared state: start-up, activity, stack
 * capture, thread labels and allocation domains.
 *
 * Owns: whether the profiler runs (opt.prof, prof.active, thread.prof.*),
 * the range of heapsight's own code (trimmed from every stack), and the
 * label and domain name tables (mutex HS_RANK_PROF; names live forever).
 * Everything here may be called from inside malloc's slow path with the
 * reentrancy guard held and no allocator lock held.
 */
#ifndef HS_PROF_PROF_H
#define HS_PROF_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../include/heapsight_hook.h"

/* Frames captured per sample at most (prof_bt_max is at most this). */
#define PROF_BT_CAP 1024

/* True once prof_boot ran with opt.prof set. */
bool prof_enabled(void);
/* prof.active. */
bool prof_active(void);
/* prof.active and thread.prof.active together. */
bool prof_sampling_now(void);
/* The calling thread's stack, innermost first, starting at the program's
 * call into heapsight, after the backtrace hooks ran; returns the count. */
unsigned prof_capture(hs_frame_t *frames, unsigned max);
/* The calling thread's label id (thread.prof.name, else its name or id). */
unsigned prof_thread_label(void);
const char *prof_label_name(unsigned id);
const char *prof_domain_name(unsigned id);
/* The key and value of a site's extra label (hs_sample_label), or NULL. */
const char *prof_extra_key(unsigned extra);
const char *prof_extra_value(unsigned extra);
/* Nanoseconds since profiling started or was last reset. */
int64_t prof_start_ns(void);
void prof_mark_start(void);
/* prof.reset: zeroes every counter (a new generation) and restarts the
 * clock; a nonzero interval also sets a new mean sample interval. */
void prof_reset(uint64_t interval);

#endif /* HS_PROF_PROF_H */
