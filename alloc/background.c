/*
 * background.c — the background purging thread (see background.h).
 */
#include "background.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "arena.h"
#include "page/pac.h"
#include "util/clock.h"
#include "util/mutex.h"

enum { BG_STOPPED, BG_RUNNING, BG_STOPPING };

/* Held by background_set across the start or the stop: pthread_create
 * allocates, so bg_mtx (a rank above the arenas' locks) cannot be. */
static hs_mutex_t bg_ctl_mtx;
static hs_mutex_t bg_mtx;
static pthread_cond_t bg_cond; /* with bg_mtx.lock */
static pthread_t bg_thread;    /* guarded by bg_ctl_mtx */
static int bg_state;           /* guarded by bg_mtx */
static bool bg_signaled;       /* guarded by bg_mtx: work came in */
/* When the sleeping thread wakes by itself: 0 while it is awake (or not
 * running), UINT64_MAX while it sleeps with no timeout.  CLOCK_MONOTONIC
 * nanoseconds, as pac_now_ns. */
static _Atomic(uint64_t) bg_sleep_until;
static _Atomic(bool) bg_running;
static _Atomic(uint64_t) bg_runs;
static _Atomic(uint64_t) bg_first_run_ns, bg_last_run_ns;
/* Set in the background thread: its own purges need no wake-up. */
static HS_TLS bool bg_self;

/* The page allocators' callback: npages of new deferred work, all due by
 * due_ns.  A few atomic operations when the thread will wake before then
 * anyway and the new pages are few; but a large batch may be due much
 * sooner (a curve lets a batch go early when it is large), so
 * BACKGROUND_WAKE_PAGES pages since the thread last looked wake it. */
static _Atomic(size_t) bg_new_pages;
/* Set by the first signal since the thread last looked: later ones skip
 * the lock (the thread looks again anyway). */
static _Atomic(bool) bg_kicked;

static void
deferred(uint64_t due_ns, size_t npages)
{
    if (!atomic_load_explicit(&bg_running, memory_order_relaxed) || bg_self)
        return;
    uint64_t until =
        atomic_load_explicit(&bg_sleep_until, memory_order_relaxed);
    size_t fresh =
        atomic_fetch_add_explicit(&bg_new_pages, npages, memory_order_relaxed) +
        npages;
    if (until != 0 && until <= due_ns && fresh < BACKGROUND_WAKE_PAGES)
        return;
    if (atomic_exchange_explicit(&bg_kicked, true, memory_order_relaxed))
        return;
    hs_mutex_lock(&bg_mtx);
    bg_signaled = true;
    pthread_cond_signal(&bg_cond);
    hs_mutex_unlock(&bg_mtx);
}

static void
cond_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&bg_cond, &attr);
    pthread_condattr_destroy(&attr);
}

void
background_boot(void)
{
    hs_mutex_init(&bg_ctl_mtx, HS_RANK_BACKGROUND_CTL);
    hs_mutex_init(&bg_mtx, HS_RANK_BACKGROUND);
    cond_init();
}

/* One pass: every arena's due work, then the time until the next. */
static uint64_t
run_once(void)
{
    uint64_t now = pac_now_ns(), wait = UINT64_MAX;
    atomic_store_explicit(&bg_new_pages, 0, memory_order_relaxed);
    atomic_store_explicit(&bg_kicked, false, memory_order_relaxed);
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (a == NULL)
            continue;
        arena_decay(a);
        uint64_t w = pa_time_until_deferred_work(&a->pa, now);
        if (w < wait)
            wait = w;
    }
    uint64_t w = arena_orphans_purge(now);
    if (w < wait)
        wait = w;
    uint64_t t = (uint64_t)hs_monotonic_ns();
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&bg_first_run_ns, &zero, t);
    atomic_store_explicit(&bg_last_run_ns, t, memory_order_relaxed);
    atomic_fetch_add_explicit(&bg_runs, 1, memory_order_relaxed);
    return wait;
}

/* Waits on the condition until until (CLOCK_MONOTONIC ns; UINT64_MAX: no
 * timeout).  bg_mtx held. */
static void
wait_until(uint64_t until)
{
    if (until == UINT64_MAX) {
        pthread_cond_wait(&bg_cond, &bg_mtx.lock);
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u),
                          .tv_nsec = (long)(until % 1000000000u)};
    pthread_cond_timedwait(&bg_cond, &bg_mtx.lock, &ts);
}

static void *
bg_main(void *arg)
{
    (void)arg;
    bg_self = true;
    const uint64_t min = (uint64_t)BACKGROUND_MIN_SLEEP_MS * 1000000;
    hs_mutex_lock(&bg_mtx);
    while (bg_state == BG_RUNNING) {
        bg_signaled = false;
        hs_mutex_unlock(&bg_mtx);
        uint64_t wait = run_once();
        hs_mutex_lock(&bg_mtx);
        /* Never sooner than the minimum sleep, even when new work is
         * signalled meanwhile: a burst of frees wakes the thread once per
         * interval, not once per batch. */
        uint64_t now = (uint64_t)hs_monotonic_ns(), earliest = now + min;
        uint64_t until =
            wait == UINT64_MAX ? UINT64_MAX : now + (wait < min ? min : wait);
        atomic_store_explicit(&bg_sleep_until, until, memory_order_relaxed);
        while (bg_state == BG_RUNNING) {
            uint64_t t = (uint64_t)hs_monotonic_ns();
            if ((bg_signaled && t >= earliest) || t >= until)
                break;
            wait_until(bg_signaled && earliest < until ? earliest : until);
        }
        atomic_store_explicit(&bg_sleep_until, 0, memory_order_relaxed);
    }
    hs_mutex_unlock(&bg_mtx);
    return NULL;
}

/* Starts the thread; bg_ctl_mtx held, bg_mtx not (pthread_create
 * allocates). */
static int
start(void)
{
    hs_mutex_lock(&bg_mtx);
    bool stopped = bg_state == BG_STOPPED;
    if (stopped) {
        bg_state = BG_RUNNING;
        bg_signaled = false;
    }
    hs_mutex_unlock(&bg_mtx);
    if (!stopped)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int err = pthread_create(&t, NULL, bg_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        hs_mutex_lock(&bg_mtx);
        bg_state = BG_STOPPED;
        hs_mutex_unlock(&bg_mtx);
        return EAGAIN;
    }
    bg_thread = t;
    pthread_setname_np(t, "hs_background");
    atomic_store_explicit(&bg_running, true, memory_order_release);
    /* Only while a thread runs: without one, a free pays no call. */
    pac_set_deferred_cb(deferred);
    return 0;
}

int
background_set(bool on)
{
    hs_mutex_lock(&bg_ctl_mtx);
    if (on) {
        int err = start();
        hs_mutex_unlock(&bg_ctl_mtx);
        return err;
    }
    hs_mutex_lock(&bg_mtx);
    if (bg_state != BG_RUNNING) {
        hs_mutex_unlock(&bg_mtx);
        hs_mutex_unlock(&bg_ctl_mtx);
        return 0;
    }
    bg_state = BG_STOPPING;
    pthread_cond_signal(&bg_cond);
    hs_mutex_unlock(&bg_mtx);
    pthread_join(bg_thread, NULL);
    hs_mutex_lock(&bg_mtx);
    bg_state = BG_STOPPED;
    pac_set_deferred_cb(NULL);
    atomic_store_explicit(&bg_running, false, memory_order_release);
    atomic_store_explicit(&bg_sleep_until, 0, memory_order_relaxed);
    hs_mutex_unlock(&bg_mtx);
    hs_mutex_unlock(&bg_ctl_mtx);
    return 0;
}

bool
background_running(void)
{
    return atomic_load_explicit(&bg_running, memory_order_relaxed);
}

void
background_stats(background_stats_t *r)
{
    r->num_threads = background_running() ? 1 : 0;
    r->num_runs = atomic_load_explicit(&bg_runs, memory_order_relaxed);
    uint64_t first =
        atomic_load_explicit(&bg_first_run_ns, memory_order_relaxed);
    uint64_t last = atomic_load_explicit(&bg_last_run_ns, memory_order_relaxed);
    r->run_interval_ns =
        r->num_runs > 1 ? (last - first) / (r->num_runs - 1) : 0;
}

void
background_postfork_child(void)
{
    /* The thread did not come along; its mutex was reinitialized with the
     * others, its condition variable may be in any state. */
    cond_init();
    bg_state = BG_STOPPED;
    bg_signaled = false;
    pac_set_deferred_cb(NULL);
    atomic_store_explicit(&bg_running, false, memory_order_relaxed);
    atomic_store_explicit(&bg_sleep_until, 0, memory_order_relaxed);
    atomic_store_explicit(&bg_kicked, false, memory_order_relaxed);
}
