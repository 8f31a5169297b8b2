/*
 * mutex.c — the registry of allocator mutexes and the fork protocol.
 *
 * The registry is one intrusive list per rank, pushed lock-free (a CAS on
 * the head), so registering a mutex never waits — not even while another
 * thread is forking and holds every mutex.  Prefork remembers the head of
 * each list when it locked it; the parent then unlocks exactly the
 * mutexes from those heads on (a mutex registered meanwhile was not
 * locked), and the child reinitializes every mutex on the lists.
 */
#include "mutex.h"

#include <stdatomic.h>

static _Atomic(hs_mutex_t *) registry[HS_NRANKS];
/* Heads as prefork found them; written and read by the forking thread. */
static hs_mutex_t *locked_heads[HS_NRANKS];

void
hs_mutex_init(hs_mutex_t *m, hs_rank_t rank)
{
    /* Already made and registered (a recycled arena): it is usable as it
     * is, and another thread may still hold it for a moment. */
    if (m->registered)
        return;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_NORMAL);
    pthread_mutex_init(&m->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    m->rank = rank;
    m->registered = true;
    hs_mutex_t *head =
        atomic_load_explicit(&registry[rank], memory_order_relaxed);
    do {
        m->next_registered = head;
    } while (!atomic_compare_exchange_weak_explicit(
        &registry[rank], &head, m, memory_order_release, memory_order_relaxed));
}

void
hs_mutex_prefork(void)
{
    for (int r = 0; r < HS_NRANKS; r++) {
        hs_mutex_t *head =
            atomic_load_explicit(&registry[r], memory_order_acquire);
        locked_heads[r] = head;
        for (hs_mutex_t *m = head; m != NULL; m = m->next_registered)
            pthread_mutex_lock(&m->lock);
    }
}

void
hs_mutex_postfork_parent(void)
{
    for (int r = HS_NRANKS - 1; r >= 0; r--)
        for (hs_mutex_t *m = locked_heads[r]; m != NULL; m = m->next_registered)
            pthread_mutex_unlock(&m->lock);
}

void
hs_mutex_postfork_child(void)
{
    /* The child has one thread; the locks it inherited are held by a thread
     * that no longer exists, so they are made anew rather than unlocked. */
    for (int r = HS_NRANKS - 1; r >= 0; r--)
        for (hs_mutex_t *m =
                 atomic_load_explicit(&registry[r], memory_order_acquire);
             m != NULL; m = m->next_registered)
            pthread_mutex_init(&m->lock, NULL);
}
