/*
 * mutex.c — the registry of allocator mutexes and the fork protocol.
 *
 * The registry is one intrusive list per rank, pushed under a spinlock that
 * is only ever held for a push or during fork (which holds it throughout, so
 * no mutex can be registered half-way through a fork).
 */
#include "mutex.h"

#include <stdatomic.h>

static hs_mutex_t *registry[HS_NRANKS]; /* guarded by registry_lock */
static atomic_flag registry_lock = ATOMIC_FLAG_INIT;

static void
registry_acquire(void)
{
    while (atomic_flag_test_and_set_explicit(&registry_lock,
                                             memory_order_acquire))
        __builtin_ia32_pause();
}

static void
registry_release(void)
{
    atomic_flag_clear_explicit(&registry_lock, memory_order_release);
}

void
hs_mutex_init(hs_mutex_t *m, hs_rank_t rank)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_NORMAL);
    pthread_mutex_init(&m->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    m->rank = rank;
    registry_acquire();
    m->next_registered = registry[rank];
    registry[rank] = m;
    registry_release();
}

void
hs_mutex_prefork(void)
{
    registry_acquire();
    for (int r = 0; r < HS_NRANKS; r++)
        for (hs_mutex_t *m = registry[r]; m != NULL; m = m->next_registered)
            pthread_mutex_lock(&m->lock);
}

void
hs_mutex_postfork_parent(void)
{
    for (int r = HS_NRANKS - 1; r >= 0; r--)
        for (hs_mutex_t *m = registry[r]; m != NULL; m = m->next_registered)
            pthread_mutex_unlock(&m->lock);
    registry_release();
}

void
hs_mutex_postfork_child(void)
{
    /* The child has one thread; the locks it inherited are held by a thread
     * that no longer exists, so they are made anew rather than unlocked. */
    for (int r = HS_NRANKS - 1; r >= 0; r--)
        for (hs_mutex_t *m = registry[r]; m != NULL; m = m->next_registered)
            pthread_mutex_init(&m->lock, NULL);
    registry_release();
}
