/*
 * tsd.c — thread state set-up, thread exit, events, and the thread list
 * (see tsd.h).
 *
 * Thread exit is detected with a pthread key whose destructor flushes the
 * cache; the key is set once per thread.  glibc stores the first 32 keys'
 * values inside the thread descriptor, so pthread_setspecific here never
 * allocates (the key is created at boot, among the process's first).
 */
#include "tsd.h"

#include "large.h"

#include <pthread.h>

#include "opts.h"
#include "util/mutex.h"

HS_TLS tsd_t tsd_tls;

static pthread_key_t tsd_key;
static hs_mutex_t list_mtx;
static hs_link_t live;             /* guarded by list_mtx */
static uint64_t ended_allocated;   /* guarded by list_mtx */
static uint64_t ended_deallocated; /* guarded by list_mtx */

static tsd_t *
tsd_of_link(hs_link_t *l)
{
    return (tsd_t *)((char *)l - offsetof(tsd_t, link));
}

void
tsd_prof_pages_flush(tsd_t *tsd)
{
    while (tsd->nprof_pages > 0)
        large_dalloc(tsd->prof_pages[--tsd->nprof_pages]);
}

static void
tsd_destructor(void *arg)
{
    tsd_t *tsd = arg;
    tcache_destroy(&tsd->tcache);
    tsd_prof_pages_flush(tsd);
    tsd->state = TSD_DYING;
    tsd->next_event = 0;
    hs_mutex_lock(&list_mtx);
    if (hs_link_linked(&tsd->link))
        hs_list_remove(&tsd->link);
    ended_allocated += tsd->allocated;
    ended_deallocated += tsd->deallocated;
    hs_mutex_unlock(&list_mtx);
    /* Counted as ended: further activity of this thread starts afresh. */
    tsd->allocated = 0;
    tsd->deallocated = 0;
    if (tsd->arena != NULL) {
        arena_thread_detach(tsd->arena);
        tsd->arena = NULL;
    }
}

bool
tsd_boot(void)
{
    hs_mutex_init(&list_mtx, HS_RANK_CTL);
    hs_list_init(&live);
    return pthread_key_create(&tsd_key, tsd_destructor) == 0;
}

tsd_t *
tsd_fetch_slow(void)
{
    tsd_t *tsd = &tsd_tls;
    if (tsd->state == TSD_DYING) {
        /* Past the destructor: no cache, not on the list (its TLS block
         * is about to go away); counters of this last stretch are not
         * reported. */
        if (tsd->arena == NULL)
            tsd->arena = arena_choose();
        if (tsd->next_event <= tsd->allocated)
            te_init(tsd);
        return tsd->arena == NULL ? NULL : tsd;
    }
    if (tsd->arena == NULL) {
        arena_t *a = arena_choose_attach();
        if (a == NULL)
            return NULL;
        tsd->arena = a;
        hs_list_init(&tsd->link);
        hs_mutex_lock(&list_mtx);
        hs_list_push_back(&live, &tsd->link);
        hs_mutex_unlock(&list_mtx);
    }
    if (tsd->state == TSD_UNINIT) {
        tsd->state = TSD_NOMINAL;
        if (opt_tcache)
            tcache_init(&tsd->tcache);
        pthread_setspecific(tsd_key, tsd);
    }
    if (tsd->next_event == 0)
        te_init(tsd);
    return tsd;
}

void
tsd_totals(uint64_t *r_allocated, uint64_t *r_deallocated)
{
    hs_mutex_lock(&list_mtx);
    uint64_t a = ended_allocated, d = ended_deallocated;
    for (hs_link_t *l = live.next; l != &live; l = l->next) {
        tsd_t *t = tsd_of_link(l);
        a += __atomic_load_n(&t->allocated, __ATOMIC_RELAXED);
        d += __atomic_load_n(&t->deallocated, __ATOMIC_RELAXED);
    }
    hs_mutex_unlock(&list_mtx);
    *r_allocated = a;
    *r_deallocated = d;
}

void
tsd_set_arena(tsd_t *tsd, arena_t *a)
{
    if (tsd->arena == a)
        return;
    /* Regions cached from the old arena are fine to keep: flushes find
     * each region's own arena. */
    if (tsd->arena != NULL)
        arena_thread_detach(tsd->arena);
    arena_thread_attach(a);
    tsd->arena = a;
}

void
tsd_postfork_child(void)
{
    /* Runs single-threaded after the mutexes were re-made. */
    tsd_t *self = &tsd_tls;
    hs_link_t *l = live.next;
    while (l != &live) {
        hs_link_t *next = l->next;
        tsd_t *t = tsd_of_link(l);
        if (t != self) {
            ended_allocated += t->allocated;
            ended_deallocated += t->deallocated;
            hs_list_remove(l);
        }
        l = next;
    }
}
