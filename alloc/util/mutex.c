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

#include "fmt.h"

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

const char *
hs_rank_name(hs_rank_t r)
{
    static const char *const names[HS_NRANKS] = {
        [HS_RANK_PROF_DUMP] = "prof_dump",
        [HS_RANK_PROF] = "prof",
        [HS_RANK_BT] = "bt",
        [HS_RANK_BACKGROUND_CTL] = "background_ctl",
        [HS_RANK_CTL] = "ctl",
        [HS_RANK_QUARANTINE] = "quarantine",
        [HS_RANK_BIN] = "bin",
        [HS_RANK_GUARD] = "guard",
        [HS_RANK_HPA] = "hpa",
        [HS_RANK_EXTENTS] = "extents",
        [HS_RANK_DECAY] = "decay",
        [HS_RANK_GROW] = "grow",
        [HS_RANK_BACKGROUND] = "background",
        [HS_RANK_ECACHE] = "ecache",
        [HS_RANK_EDATA_CACHE] = "edata_cache",
        [HS_RANK_TCACHE_POOL] = "tcache_pool",
        [HS_RANK_RTREE] = "rtree",
        [HS_RANK_BASE] = "base",
    };
    return (unsigned)r < HS_NRANKS && names[r] != NULL ? names[r] : "?";
}

#if HS_DEBUG
/* The mutexes this thread holds, in the order taken.  Deeper nesting than
 * this is itself a bug (there are HS_NRANKS ranks, each held once). */
#define WITNESS_MAX 32
static __thread const hs_mutex_t *held[WITNESS_MAX]
    __attribute__((tls_model("initial-exec")));
static __thread unsigned nheld __attribute__((tls_model("initial-exec")));

void
hs_witness_acquire(const hs_mutex_t *m, bool checked)
{
    if (checked)
        for (unsigned i = 0; i < nheld; i++)
            if (held[i]->rank >= m->rank)
                hs_fatal("lock order: taking %s (rank %d, %p) while holding "
                         "%s (rank %d, %p)",
                         hs_rank_name(m->rank), (int)m->rank, (const void *)m,
                         hs_rank_name(held[i]->rank), (int)held[i]->rank,
                         (const void *)held[i]);
    if (nheld == WITNESS_MAX)
        hs_fatal("lock order: more than %d mutexes held", WITNESS_MAX);
    held[nheld++] = m;
}

void
hs_witness_release(const hs_mutex_t *m)
{
    for (unsigned i = nheld; i-- > 0;) {
        if (held[i] == m) {
            for (unsigned j = i; j + 1 < nheld; j++)
                held[j] = held[j + 1];
            nheld--;
            return;
        }
    }
    hs_fatal("lock order: releasing %s (rank %d, %p), which this thread "
             "does not hold",
             hs_rank_name(m->rank), (int)m->rank, (const void *)m);
}
#endif
