/*
 * hook_chain.c — hook chains: snapshots, grace periods, runs, and the
 * backtrace hooks with their public functions (see hook_chain.h for the
 * protocol, its invariants and the lock).
 *
 * The writer lock is one hs_mutex_t for all chains (adds and removes are
 * rare; a remove waiting for a slow dump hook delays other writers, which
 * is acceptable).  The per-thread list of runs in progress (bt_pins) is
 * owner thread only and lives in initial-exec TLS; its nodes live in the
 * runs' stack frames.
 */
#include "hook_chain.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../alloc/tsd.h"
#include "../alloc/util/mutex.h"
#include "../alloc/util/util.h"

static hs_mutex_t bt_chain_mtx;
static pthread_once_t bt_chain_mtx_once = PTHREAD_ONCE_INIT;
static bt_chain_t *bt_chains_written;  /* guarded by bt_chain_mtx */
static HS_TLS bt_chain_pin_t *bt_pins; /* owner thread only */
static const bt_chain_snap_t bt_chain_empty_snap;

static bt_chain_t bt_backtrace_chain;

static unsigned long bt_chain_own_runs(const bt_chain_t *c, unsigned e);

/* The child is single-threaded: runs of other threads will never end. */
static void
bt_chain_postfork_child(void)
{
    for (bt_chain_t *c = bt_chains_written; c != NULL; c = c->next_written)
        for (unsigned e = 0; e < 2; e++)
            atomic_store(&c->readers[e], bt_chain_own_runs(c, e));
}

static void
bt_chain_mtx_init(void)
{
    hs_mutex_init(&bt_chain_mtx, HS_RANK_BT);
    pthread_atfork(NULL, NULL, bt_chain_postfork_child);
}

static void
bt_chain_lock(void)
{
    pthread_once(&bt_chain_mtx_once, bt_chain_mtx_init);
    hs_mutex_lock(&bt_chain_mtx);
}

static void
bt_chain_unlock(void)
{
    hs_mutex_unlock(&bt_chain_mtx);
}

/* ---- readers ---- */

static const bt_chain_snap_t *
bt_chain_enter(bt_chain_t *c, bt_chain_pin_t *pin)
{
    unsigned e = atomic_load(&c->epoch) & 1;
    atomic_fetch_add(&c->readers[e], 1);
    pin->chain = c;
    pin->epoch = e;
    pin->prev = bt_pins;
    bt_pins = pin;
    return atomic_load(&c->cur);
}

static void
bt_chain_exit(bt_chain_pin_t *pin)
{
    bt_pins = pin->prev;
    atomic_fetch_sub_explicit(&pin->chain->readers[pin->epoch], 1,
                              memory_order_release);
}

unsigned
bt_chain_count(bt_chain_t *c)
{
    return atomic_load_explicit(&c->nhooks, memory_order_relaxed);
}

/* ---- grace periods ---- */

/* Runs of chain c on epoch e that this very thread is inside. */
static unsigned long
bt_chain_own_runs(const bt_chain_t *c, unsigned e)
{
    unsigned long n = 0;
    for (const bt_chain_pin_t *p = bt_pins; p != NULL; p = p->prev)
        n += p->chain == c && p->epoch == e;
    return n;
}

/*
 * Spins briefly (a hook usually takes microseconds), then sleeps: a reader
 * still on the old epoch may be preempted, and sleeping hands it the CPU
 * (sched_yield does not reliably), or a dump hook may run long.
 */
static void
bt_chain_backoff(unsigned i)
{
    if (i < 128) {
        __builtin_ia32_pause();
    } else {
        struct timespec ts = {0, i < 256 ? 20 * 1000 : 200 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void
bt_chain_drain(bt_chain_t *c, unsigned e)
{
    unsigned long own = bt_chain_own_runs(c, e);
    for (unsigned i = 0; atomic_load(&c->readers[e]) > own; i++)
        bt_chain_backoff(i);
}

static void
bt_chain_grace(bt_chain_t *c)
{
    for (int round = 0; round < 2; round++) {
        unsigned e = atomic_load(&c->epoch) & 1;
        atomic_store(&c->epoch, e ^ 1);
        bt_chain_drain(c, e);
    }
}

/* ---- writers (under bt_chain_mtx) ---- */

static const bt_chain_snap_t *
bt_chain_current(bt_chain_t *c)
{
    const bt_chain_snap_t *s = atomic_load(&c->cur);
    return s != NULL ? s : &bt_chain_empty_snap;
}

/* The buffer no reader can hold (see the invariants). */
static bt_chain_snap_t *
bt_chain_spare(bt_chain_t *c)
{
    return atomic_load(&c->cur) == &c->snap[0] ? &c->snap[1] : &c->snap[0];
}

static void
bt_chain_publish(bt_chain_t *c, bt_chain_snap_t *next)
{
    if (!c->written) {
        c->written = true;
        c->next_written = bt_chains_written;
        bt_chains_written = c;
    }
    atomic_store(&c->cur, next);
    atomic_store_explicit(&c->nhooks, next->n, memory_order_relaxed);
    bt_chain_grace(c);
}

int
bt_chain_add(bt_chain_t *c, bt_hook_fn_t fn, void *arg)
{
    if (fn == NULL)
        return EINVAL;
    int err = ENOSPC;
    bt_chain_lock();
    const bt_chain_snap_t *old = bt_chain_current(c);
    if (old->n < BT_CHAIN_MAX) {
        bt_chain_snap_t *next = bt_chain_spare(c);
        *next = *old;
        next->hooks[next->n++] = (bt_hook_t){.fn = fn, .arg = arg};
        bt_chain_publish(c, next);
        err = 0;
    }
    bt_chain_unlock();
    return err;
}

static unsigned
bt_chain_find(const bt_chain_snap_t *s, bt_hook_fn_t fn, void *arg)
{
    unsigned i = 0;
    while (i < s->n && (s->hooks[i].fn != fn || s->hooks[i].arg != arg))
        i++;
    return i;
}

int
bt_chain_remove(bt_chain_t *c, bt_hook_fn_t fn, void *arg)
{
    int err = ENOENT;
    bt_chain_lock();
    const bt_chain_snap_t *old = bt_chain_current(c);
    unsigned at = bt_chain_find(old, fn, arg);
    if (at < old->n) {
        bt_chain_snap_t *next = bt_chain_spare(c);
        next->n = 0;
        for (unsigned i = 0; i < old->n; i++)
            if (i != at)
                next->hooks[next->n++] = old->hooks[i];
        bt_chain_publish(c, next);
        err = 0;
    }
    bt_chain_unlock();
    return err;
}

/* ---- runs ---- */

unsigned
bt_chain_begin(bt_chain_t *c, bt_chain_pin_t *pin, bt_hook_t *hooks)
{
    tsd_reentrancy_enter();
    const bt_chain_snap_t *s = bt_chain_enter(c, pin);
    unsigned n = s != NULL ? s->n : 0;
    for (unsigned i = 0; i < n; i++)
        hooks[i] = s->hooks[i];
    return n;
}

void
bt_chain_end(bt_chain_pin_t *pin)
{
    bt_chain_exit(pin);
    tsd_reentrancy_exit();
}

void
bt_chain_run_backtrace(bt_chain_t *c, hs_frame_t *frames, unsigned *nframes,
                       unsigned max)
{
    if (bt_chain_count(c) == 0)
        return;
    bt_chain_pin_t pin;
    bt_hook_t hooks[BT_CHAIN_MAX];
    unsigned n = bt_chain_begin(c, &pin, hooks);
    for (unsigned i = 0; i < n; i++) {
        ((hs_backtrace_hook_t)hooks[i].fn)(frames, nframes, max, hooks[i].arg);
        if (*nframes > max)
            *nframes = max;
    }
    bt_chain_end(&pin);
}

/* ---- the process's backtrace hooks ---- */

void
bt_hooks_run(hs_frame_t *frames, unsigned *nframes, unsigned max)
{
    bt_chain_run_backtrace(&bt_backtrace_chain, frames, nframes, max);
}

HS_API int
hs_backtrace_hook_add(hs_backtrace_hook_t hook, void *arg)
{
    return bt_chain_add(&bt_backtrace_chain, (bt_hook_fn_t)hook, arg);
}

HS_API int
hs_backtrace_hook_remove(hs_backtrace_hook_t hook, void *arg)
{
    return bt_chain_remove(&bt_backtrace_chain, (bt_hook_fn_t)hook, arg);
}
