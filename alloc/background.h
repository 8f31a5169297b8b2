/*
 * background.h — the background purging thread.
 *
 * Owns: one thread that runs the arenas' deferred work (decay purging) so
 * allocating threads do not.  It asks every arena how long until its page
 * allocator has work due (pa_time_until_deferred_work), sleeps exactly that
 * long (at least BACKGROUND_MIN_SLEEP_MS), and sleeps with no timeout when
 * nothing is deferred; a page allocator that defers new work earlier than
 * the thread's wake-up time, or BACKGROUND_WAKE_PAGES new pages since it
 * last looked, wake it (pac_set_deferred_cb).  While it runs,
 * allocation ticks do not purge.
 *
 * Started by the background_thread option (from a constructor, once the C
 * library is up) or by hs_ctl("background_thread"); stopped (and joined)
 * by the same control.  Fork: the mutex is taken before fork like every
 * allocator mutex; the child has no background thread and purges from its
 * allocation ticks until hs_ctl("background_thread") starts one there.
 * The thread never calls malloc itself and blocks every signal.
 *
 * Locking: bg_mtx (HS_RANK_BACKGROUND), never held while purging.
 */
#ifndef HS_BACKGROUND_H
#define HS_BACKGROUND_H

#include <stdbool.h>
#include <stdint.h>

#define BACKGROUND_MIN_SLEEP_MS 100
/* Pages freed since the thread last looked that wake it early (4 MiB). */
#define BACKGROUND_WAKE_PAGES 1024

void background_boot(void);
/* Starts (on) or stops and joins (off) the thread; 0 or an errno value
 * (EAGAIN when the thread cannot be created). */
int background_set(bool on);
/* Whether the thread is running (in this process). */
bool background_running(void);

typedef struct background_stats_s {
    unsigned num_threads;     /* 0 or 1 */
    uint64_t num_runs;        /* passes over the arenas */
    uint64_t run_interval_ns; /* mean time between two passes */
} background_stats_t;
void background_stats(background_stats_t *r_stats);

/* Fork protocol (after hs_mutex_prefork/postfork in boot.c). */
void background_postfork_child(void);

#endif /* HS_BACKGROUND_H */
