/*
 * hook_chain.h — thread-safe chains of user hooks, of any type: the
 * backtrace hooks of include/heapsight_hook.h here, and the chains prof/
 * keeps for its sample, sample-free and dump hooks.
 *
 * Owns: bt_chain_t (up to BT_CHAIN_MAX (fn, arg) hooks, run in the order
 * they were added), the writer lock shared by all chains, each thread's
 * list of chain runs in progress, and the backtrace chain behind
 * hs_backtrace_hook_add/remove and bt_hooks_run.  Does not own what hooks
 * do, nor any hook type but the backtrace hook's (prof/hooks.c owns the
 * sample, sample-free and dump hooks and their runs).
 *
 * Readers (the run functions) take no lock.  A chain publishes an
 * immutable snapshot: writers copy the current snapshot into the spare
 * one of two buffers, edit it and publish it with one atomic store.  A
 * reader increments readers[epoch] before it loads the snapshot pointer
 * and decrements it when done.  After publishing, a writer waits for a
 * grace period: it flips the epoch and waits for the old epoch's counter
 * to drain, twice (once per counter, so a reader that read the epoch
 * before a flip and incremented after it is still waited for).
 * Invariants, with every operation in the seq_cst order:
 *   - a reader that loaded a snapshot not current at time t incremented
 *     its counter before t, so the grace period after t waits for it;
 *   - hence when add/remove returns, no thread is using the snapshot that
 *     preceded it: a removed hook is no longer running, and the spare
 *     buffer the next writer fills has no readers;
 *   - 0 <= snapshot.n <= BT_CHAIN_MAX; nhooks == current snapshot.n
 *     except while a writer is between publish and update (a hint only).
 * A thread that adds or removes from inside a run of the same chain (a
 * hook removing itself) is not deadlocked: its own runs, found in its
 * list of runs in progress, are not waited for (every other thread's
 * are).  Such a run goes on with the hooks it started with: the runs copy
 * the snapshot out when they begin, because the writer may refill the
 * buffer the run pinned.
 *
 * Waiting: a grace period spins briefly, then sleeps 20-200 us at a time
 * (a reader on the old epoch may be preempted, or a dump hook slow).  With
 * the CPUs oversubscribed a remove may take a scheduler tick or a few:
 * measured about 2 ms per add+remove pair with two threads running the
 * chain flat out on 2 CPUs, 25 ms with three.
 *
 * Locking: one writer mutex for every chain, hs_mutex_t of rank
 * HS_RANK_BT: below every allocator rank (ctl, bin, ecache, ...) and above
 * the profiler's own two.  A writer holds it while it waits for readers,
 * and readers (hooks) may allocate, so at fork it must be taken before any
 * allocator lock a reader might need; a debug build's lock-order witness
 * (util/mutex.h) checks the order.  It is created on the first add or
 * remove (pthread_once; glibc reruns an interrupted once in a fork
 * child).
 *
 * Fork: the allocator's fork handler takes the writer mutex before fork,
 * so no snapshot is half-written in the child; but runs of other threads
 * may have been in progress, and those threads do not exist in the child.
 * A child handler (registered with pthread_atfork on the first add or
 * remove) therefore resets every written chain's reader counters to the
 * forking thread's own runs, or the child's first add/remove would wait
 * forever.  The runs take the reentrancy guard (tsd_reentrancy_enter)
 * around the hooks: hooks may allocate and are never sampled.  The writer
 * functions must not be called with an allocator lock held (they may wait
 * for hooks).
 *
 * A chain knows nothing of its hooks' types: it stores (fn, arg) pairs
 * with fn as a bt_hook_fn_t, and its user casts fn back to the hook's own
 * type before calling it (defined behaviour for function pointers).  The
 * backtrace chain below is this file's own; prof/hooks.c keeps the
 * profiler's sample, sample-free and dump chains, with its own typed runs:
 *
 *     static bt_chain_t dump_hooks;
 *     bt_chain_add(&dump_hooks, (bt_hook_fn_t)hook, arg);
 *
 *     if (bt_chain_count(&dump_hooks) == 0)
 *         return;
 *     bt_chain_pin_t pin;
 *     bt_hook_t hooks[BT_CHAIN_MAX];
 *     unsigned n = bt_chain_begin(&dump_hooks, &pin, hooks);
 *     for (unsigned i = 0; i < n; i++)
 *         ((hs_dump_hook_t)hooks[i].fn)(path, hooks[i].arg);
 *     bt_chain_end(&pin);
 *
 * A zero-initialized bt_chain_t is a valid, empty chain: no init call.  A chain
 * must have static storage duration (the fork handler keeps a list of every
 * chain ever written).  The run functions cost one relaxed load when the chain
 * is empty (bt_chain_count).
 */
#ifndef HS_BT_HOOK_CHAIN_H
#define HS_BT_HOOK_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "../include/heapsight_hook.h"

enum { BT_CHAIN_MAX = 16 };

/* Any hook function: stored as this type, called as its own. */
typedef void (*bt_hook_fn_t)(void);

typedef struct bt_hook_s {
    bt_hook_fn_t fn;
    void *arg;
} bt_hook_t;

typedef struct bt_chain_snap_s {
    unsigned n;
    bt_hook_t hooks[BT_CHAIN_MAX];
} bt_chain_snap_t;

typedef struct bt_chain_s {
    _Atomic(unsigned) nhooks;          /* atomic: hint, see above */
    _Atomic(unsigned) epoch;           /* atomic: 0 or 1 */
    _Atomic(unsigned long) readers[2]; /* atomic: runs in progress */
    _Atomic(bt_chain_snap_t *) cur;    /* atomic: NULL when never written */
    bt_chain_snap_t snap[2];         /* guarded by the writer lock; read by runs
                                        through cur */
    struct bt_chain_s *next_written; /* guarded by the writer lock */
    bool written; /* guarded by the writer lock: on the written list */
} bt_chain_t;

/* A run in progress on this thread (lives in the run's stack frame). */
typedef struct bt_chain_pin_s {
    bt_chain_t *chain;
    unsigned epoch;
    struct bt_chain_pin_s *prev;
} bt_chain_pin_t;

/*
 * Appends (fn, arg) to the chain: 0, EINVAL when fn is NULL, ENOSPC when the
 * chain holds BT_CHAIN_MAX hooks.  The same pair may be added twice (it then
 * runs twice).
 */
int bt_chain_add(bt_chain_t *c, bt_hook_fn_t fn, void *arg);
/* Removes the earliest-added (fn, arg): 0, or ENOENT.  Returns once no
 * other thread is running a snapshot that held it. */
int bt_chain_remove(bt_chain_t *c, bt_hook_fn_t fn, void *arg);
/* Number of hooks (a racy hint). */
unsigned bt_chain_count(bt_chain_t *c);

/*
 * A run, for the chain's user to loop over: pins the chain, copies its
 * hooks into hooks (room for BT_CHAIN_MAX) and returns their count, all
 * under the reentrancy guard (hooks may allocate and are never sampled),
 * which bt_chain_end drops with the pin.  The copy keeps a run consistent
 * when one of its own hooks adds or removes hooks of this chain: that
 * writer does not wait for its own run, so it may refill the buffer the
 * run pinned.  Runs nest (LIFO).
 */
unsigned bt_chain_begin(bt_chain_t *c, bt_chain_pin_t *pin, bt_hook_t *hooks);
void bt_chain_end(bt_chain_pin_t *pin);

/* The backtrace hooks of chain c in order, *nframes kept <= max. */
void bt_chain_run_backtrace(bt_chain_t *c, hs_frame_t *frames,
                            unsigned *nframes, unsigned max);

/*
 * The process's backtrace hooks (hs_backtrace_hook_add/remove): runs them
 * on frames[0 .. *nframes) after the native unwind.  *nframes stays
 * <= max (a hook that reports more is clamped).
 */
void bt_hooks_run(hs_frame_t *frames, unsigned *nframes, unsigned max);

#endif /* HS_BT_HOOK_CHAIN_H */
