/*
 * thread_event.h — thread events: work that runs once a thread has
 * allocated so many more bytes.
 *
 * Owns: the event table (each event's byte interval and handler) and each
 * thread's schedule.  All events hang off one threshold, tsd->next_event,
 * which the malloc fast path already compares against (allocated + usize),
 * so adding an event adds no branch to any fast path.
 * Owner thread only; no locks.
 * Invariant: tsd->next_event == min over events of tsd->te_next[e].
 */
#ifndef HS_THREAD_EVENT_H
#define HS_THREAD_EVENT_H

#include <stdint.h>

typedef enum {
    TE_TCACHE_GC,   /* one incremental step of thread-cache GC */
    TE_DECAY,       /* let the thread's arena purge pages that decayed */
    TE_PROF_SAMPLE, /* the next allocation is sampled (prof_hooks.h) */
    TE_SAN_GUARD,   /* with san_guard_*: every allocation takes the slow
                       path, which counts them (alloc_slow.c) */
    TE_NEVENTS
} te_event_t;

struct tsd_s;

/* Schedules every event from the thread's current byte count. */
void te_init(struct tsd_s *tsd);
/* Runs the events due once the thread has allocated usize more bytes
 * (the allocation about to be made) and recomputes the threshold. */
void te_run(struct tsd_s *tsd, uint64_t usize);

#endif /* HS_THREAD_EVENT_H */
