/*
 * hook_chain.h — thread-safe chains of user hooks: the backtrace hooks of
 * include/heapsight_hook.h, and generic chains that prof/ uses for the
 * sample, sample-free and dump hooks.
 *
 * Owns: bt_chain_t (up to BT_CHAIN_MAX (fn, arg) hooks of one kind, run
 * in the order they were added), the writer lock shared by all chains,
 * each thread's list of chain runs in progress, and the backtrace chain
 * behind hs_backtrace_hook_add/remove and bt_hooks_run.  Does not own
 * what hooks do, nor the public sample/dump functions (prof/ defines
 * them with the calls below).
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
 * HS_RANK_CTL, lowest: a writer holds it while it waits for readers, and
 * readers (hooks) may allocate, so at fork it must be taken before any
 * allocator lock a reader might need.  It is created on the first add or
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
 * Use from prof/ (the whole of it):
 *
 *     static bt_chain_t prof_sample_hooks = {.kind = BT_CHAIN_SAMPLE};
 *     static bt_chain_t prof_free_hooks = {.kind = BT_CHAIN_SAMPLE_FREE};
 *     static bt_chain_t prof_dump_hooks = {.kind = BT_CHAIN_DUMP};
 *
 *     HS_API int
 *     hs_sample_hook_add(hs_sample_hook_t hook, void *arg)
 *     {
 *         return bt_chain_add(&prof_sample_hooks,
 *                             (bt_hook_fn_t){.sample = hook}, arg);
 *     }
 *     (… _remove with bt_chain_remove, and .sample_free / .dump alike)
 *
 *     bt_chain_run_sample(&prof_sample_hooks, ptr, size, usize, frames, n);
 *     bt_chain_run_sample_free(&prof_free_hooks, ptr, usize);
 *     bt_chain_run_dump(&prof_dump_hooks, path);
 *
 * A zero-initialized bt_chain_t with .kind set is a valid, empty chain:
 * no init call.  A chain must have static storage duration (the fork
 * handler keeps a list of every chain ever written).  The run functions
 * cost one relaxed load when the chain is empty.
 */
#ifndef HS_BT_HOOK_CHAIN_H
#define HS_BT_HOOK_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "../include/heapsight_hook.h"

enum { BT_CHAIN_MAX = 16 };

typedef enum {
    BT_CHAIN_BACKTRACE,
    BT_CHAIN_SAMPLE,
    BT_CHAIN_SAMPLE_FREE,
    BT_CHAIN_DUMP,
} bt_chain_kind_t;

/* One hook function; the member read is always the chain's kind. */
typedef union bt_hook_fn_u {
    hs_backtrace_hook_t backtrace;
    hs_sample_hook_t sample;
    hs_sample_free_hook_t sample_free;
    hs_dump_hook_t dump;
} bt_hook_fn_t;

typedef struct bt_hook_s {
    bt_hook_fn_t fn;
    void *arg;
} bt_hook_t;

typedef struct bt_chain_snap_s {
    unsigned n;
    bt_hook_t hooks[BT_CHAIN_MAX];
} bt_chain_snap_t;

typedef struct bt_chain_s {
    bt_chain_kind_t kind;              /* constant */
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
 * Appends (fn, arg) to the chain: 0, EINVAL when the function (the member
 * of the chain's kind) is NULL, ENOSPC when the chain holds BT_CHAIN_MAX
 * hooks.  The same pair may be added twice (it then runs twice).
 */
int bt_chain_add(bt_chain_t *c, bt_hook_fn_t fn, void *arg);
/* Removes the earliest-added (fn, arg): 0, or ENOENT.  Returns once no
 * other thread is running a snapshot that held it. */
int bt_chain_remove(bt_chain_t *c, bt_hook_fn_t fn, void *arg);
/* Number of hooks (a racy hint). */
unsigned bt_chain_count(bt_chain_t *c);

/* Low-level reading, for a custom loop: the returned snapshot (NULL when
 * empty) stays valid until bt_chain_exit(pin), unless this thread itself
 * adds or removes hooks of c meanwhile (copy it first, as the runs do).
 * Pins nest (LIFO). */
const bt_chain_snap_t *bt_chain_enter(bt_chain_t *c, bt_chain_pin_t *pin);
void bt_chain_exit(bt_chain_pin_t *pin);

/* The typed runs: each hook in order, under the reentrancy guard. */
void bt_chain_run_backtrace(bt_chain_t *c, hs_frame_t *frames,
                            unsigned *nframes, unsigned max);
void bt_chain_run_sample(bt_chain_t *c, void *ptr, size_t size, size_t usize,
                         const hs_frame_t *frames, unsigned nframes);
void bt_chain_run_sample_free(bt_chain_t *c, void *ptr, size_t usize);
void bt_chain_run_dump(bt_chain_t *c, const char *path);

/*
 * The process's backtrace hooks (hs_backtrace_hook_add/remove): runs them
 * on frames[0 .. *nframes) after the native unwind.  *nframes stays
 * <= max (a hook that reports more is clamped).
 */
void bt_hooks_run(hs_frame_t *frames, unsigned *nframes, unsigned max);

#endif /* HS_BT_HOOK_CHAIN_H */
