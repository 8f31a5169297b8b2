/*
 * mpsc.h — an intrusive lock-free multi-producer single-consumer queue.
 *
 * Owns: the queue head and the order in which messages come out.  Owns no
 * memory: a message is any struct that embeds an hs_mpsc_node_t, recovered
 * by its own module with offsetof.  No allocation, no locks, no calls out,
 * so it is usable inside malloc; pushes are async-signal-safe; a fork
 * copies the queue consistent (a push or take lands with one atomic
 * instruction, so the child sees it whole or not at all).  Users:
 * pageslabs moving between shards, remote frees handed to the owning
 * shard.
 *
 * Threading: any number of threads may push at once; one thread at a time
 * (the consumer, made single by its user) may call hs_mpsc_pop_all.  The
 * empty check may be called by anyone.
 *
 * Representation: head is a Treiber stack, newest message first.  A push
 * links its chain in front of head with one CAS (retried only when another
 * push or the take got in between).  The consumer takes the whole stack
 * with one exchange and reverses it, so it never reads head->next while
 * producers run: nothing can be popped from under a producer and there is
 * no ABA problem.  (A push CAS that succeeds after head went A -> NULL -> A
 * links in front of A, which is head: still right, since a push depends
 * only on head's value, never on what lies behind it.)
 *
 * Invariants:
 *   queued messages = the NULL-terminated chain from head;
 *   chain order     = reverse of the modification order of head, i.e.
 *                     the newest successful push first;
 *   a node is in at most one queue, and belongs to the queue from its push
 *   until a pop_all returns it (the pusher must not touch it meanwhile).
 *
 * Ordering guarantee: messages come out in the order of their push CASes,
 * which is a total order consistent with happens-before.  So:
 *   - FIFO per producer: if push(a) happens before push(b) (in particular,
 *     one thread pushing a then b), a comes out before b — earlier in the
 *     same pop_all list or in an earlier pop_all;
 *   - a batch comes out contiguous (nothing interleaves it) and in the
 *     order its nodes were added;
 *   - pushes of different producers not ordered by happens-before come out
 *     in some interleaving consistent with the above, nothing more.
 *
 * Memory orders (C11):
 *   push:     CAS success release — publishes the message's contents and
 *             its next link to the consumer.  The load of head and a failed
 *             CAS are relaxed: a producer only copies head into its own
 *             last node, never dereferences it, so it needs nothing from
 *             the producers before it.
 *   pop_all:  exchange acquire — each push's release CAS heads a release
 *             sequence that every later push CAS (a read-modify-write)
 *             extends, so the exchange, reading the last of them,
 *             synchronizes with every push since the previous take and the
 *             consumer sees every node it walks.  No release: producers
 *             never read through the NULL it stores.
 *             The pre-check load is relaxed: it reads no message.
 *   empty:    relaxed — a hint.  To the consumer a "false" stays right
 *             (only it removes), and its next pop_all returns something;
 *             "true" may be stale by the time the caller acts on it.
 * Nodes handed back to producers (recycled) must travel through some other
 * synchronization (another queue, a lock); this queue orders nothing from
 * the consumer to the producers.
 */
#ifndef HS_MPSC_H
#define HS_MPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef struct hs_mpsc_node_s hs_mpsc_node_t;
struct hs_mpsc_node_s {
    /* Newer-to-older while queued; oldest-to-newer (FIFO) in a list
     * returned by hs_mpsc_pop_all; NULL ends either.  Written by whoever
     * owns the node (see the invariants above). */
    hs_mpsc_node_t *next;
};

typedef struct hs_mpsc_s hs_mpsc_t;
struct hs_mpsc_s {
    _Atomic(hs_mpsc_node_t *) head; /* atomic; newest message, or NULL */
};

/*
 * A batch being built by one producer: messages added in send order and
 * then pushed with one CAS.  Owner thread only.  Kept newest first, the
 * queue's own order, so pushing it needs no walk.
 */
typedef struct hs_mpsc_batch_s hs_mpsc_batch_t;
struct hs_mpsc_batch_s {
    hs_mpsc_node_t *newest; /* last added, or NULL when empty */
    hs_mpsc_node_t *oldest; /* first added; meaningless when empty */
};

static inline void
hs_mpsc_init(hs_mpsc_t *q)
{
    atomic_init(&q->head, NULL);
}

/* True when q held no message at the moment of the (relaxed) load. */
static inline bool
hs_mpsc_empty(hs_mpsc_t *q)
{
    return atomic_load_explicit(&q->head, memory_order_relaxed) == NULL;
}

/*
 * Pushes the chain newest -> ... -> oldest (linked by next; oldest->next is
 * overwritten) as one message group, oldest coming out first.  One CAS when
 * uncontended.  Lock-free: a retry means another thread's push or take
 * succeeded.
 */
static inline void
hs_mpsc_push_chain(hs_mpsc_t *q, hs_mpsc_node_t *newest, hs_mpsc_node_t *oldest)
{
    hs_assert(newest != NULL && oldest != NULL);
    hs_mpsc_node_t *head = atomic_load_explicit(&q->head, memory_order_relaxed);
    do {
        oldest->next = head;
    } while (!atomic_compare_exchange_weak_explicit(
        &q->head, &head, newest, memory_order_release, memory_order_relaxed));
}

static inline void
hs_mpsc_push(hs_mpsc_t *q, hs_mpsc_node_t *node)
{
    hs_mpsc_push_chain(q, node, node);
}

static inline void
hs_mpsc_batch_init(hs_mpsc_batch_t *b)
{
    b->newest = NULL;
    b->oldest = NULL;
}

static inline bool
hs_mpsc_batch_empty(const hs_mpsc_batch_t *b)
{
    return b->newest == NULL;
}

/* Appends node to b; it will come out after the nodes added before it. */
static inline void
hs_mpsc_batch_add(hs_mpsc_batch_t *b, hs_mpsc_node_t *node)
{
    node->next = b->newest;
    if (b->newest == NULL)
        b->oldest = node;
    b->newest = node;
}

/*
 * Pushes every node of b with one CAS (none for an empty batch) and leaves
 * b empty, ready for reuse.
 */
static inline void
hs_mpsc_push_batch(hs_mpsc_t *q, hs_mpsc_batch_t *b)
{
    if (b->newest == NULL)
        return;
    hs_mpsc_push_chain(q, b->newest, b->oldest);
    hs_mpsc_batch_init(b);
}

/*
 * Consumer only.  Takes every queued message and returns them as a list in
 * FIFO order (see the ordering guarantee above), linked by next and ending
 * in NULL; NULL when the queue was empty.  The caller owns the nodes: read
 * n->next before handing n on.  O(messages taken); an empty queue costs one
 * load and leaves its cache line shared.
 */
static inline hs_mpsc_node_t *
hs_mpsc_pop_all(hs_mpsc_t *q)
{
    if (hs_mpsc_empty(q))
        return NULL;
    hs_mpsc_node_t *n =
        atomic_exchange_explicit(&q->head, NULL, memory_order_acquire);
    /* Reverse newest-first into oldest-first. */
    hs_mpsc_node_t *fifo = NULL;
    while (n != NULL) {
        hs_mpsc_node_t *next = n->next;
        n->next = fifo;
        fifo = n;
        n = next;
    }
    return fifo;
}

#endif /* HS_MPSC_H */
