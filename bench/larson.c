/*
 * larson.c — a Larson-style server workload: windows of live objects,
 * cross-thread frees and thread churn.
 *
 * Owns: the larson benchmark only.
 *
 * Shape (after Larson & Krishnan, "Memory allocation for long-running
 * server applications", 1998):
 *  - `threads` slots run concurrently; each owns a window of `window`
 *    object pointers.
 *  - A slot's thread performs `rounds` steps: pick a random window entry,
 *    retire the object there, put a fresh random-size (min..max bytes)
 *    object in its place.  One retirement in `handoff` is not freed locally
 *    but pushed to the next slot's mailbox; the owner of that mailbox frees
 *    it (a cross-thread free).
 *  - When a thread has done its rounds it starts its successor and exits;
 *    the successor inherits the window, so objects allocated by a dead
 *    thread are freed by a new one (thread churn).  Each slot runs
 *    `generations` threads in turn.
 *
 * Locking: a mailbox is a list guarded by its mutex; windows are owner
 * thread only (one live thread per slot at any time: the successor is
 * created after the predecessor's last touch of the window).
 *
 * Checksum: every object carries a value drawn from its allocating
 * thread's PRNG; whoever frees it adds bench_mix(value).  Every object is
 * freed exactly once (leftovers at the end by main), so the total is
 * independent of which thread freed what.
 */
#include "bench_util.h"

#include <pthread.h>
#include <stdatomic.h>

/* Mailbox bound, in objects (~2 MB at the default sizes). */
enum { LARSON_MAILBOX_CAP = 4096 };

/* Object layout: [next link while in a mailbox][value][payload...]. */
typedef struct larson_obj_s {
    struct larson_obj_s *next;
    uint64_t value;
} larson_obj_t;

typedef struct larson_mailbox_s {
    pthread_mutex_t lock;
    larson_obj_t *head; /* guarded by lock */
    long len;           /* guarded by lock; objects in the list */
    atomic_bool closed; /* atomic; the slot's chain of threads has ended */
    char pad[64];       /* keep neighbouring mailboxes off one line */
} larson_mailbox_t;

typedef struct larson_slot_s {
    larson_obj_t **window; /* owner thread only */
    uint64_t sum;          /* owner thread only; read by main after join */
    int index;
    long generation; /* owner thread only */
} larson_slot_t;

static long larson_nthreads, larson_window, larson_rounds, larson_gens;
static long larson_min, larson_max, larson_handoff;
static larson_slot_t *larson_slots;
static larson_mailbox_t *larson_boxes;
static atomic_long larson_live_chains;
static pthread_mutex_t larson_done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t larson_done_cond = PTHREAD_COND_INITIALIZER;

static uint64_t
larson_retire(larson_obj_t *obj)
{
    uint64_t v = bench_mix(obj->value);
    free(obj);
    return v;
}

static uint64_t
larson_drain(larson_mailbox_t *box)
{
    pthread_mutex_lock(&box->lock);
    larson_obj_t *list = box->head;
    box->head = NULL;
    box->len = 0;
    pthread_mutex_unlock(&box->lock);
    uint64_t sum = 0;
    while (list) {
        larson_obj_t *next = list->next;
        sum += larson_retire(list);
        list = next;
    }
    return sum;
}

/*
 * Hands obj to the owner of box.  A closed box (its slot's chain of threads
 * has ended) or a full one (its owner is descheduled: 4 threads on 2 cores)
 * has nobody draining it soon, so the object is freed here instead.
 * Otherwise mailboxes pile up to tens of MB and peak RSS measures the
 * scheduler, not the allocator.  Returns what a local retirement adds to
 * the checksum.
 */
static uint64_t
larson_post(larson_mailbox_t *box, larson_obj_t *obj)
{
    if (atomic_load_explicit(&box->closed, memory_order_relaxed))
        return larson_retire(obj);
    pthread_mutex_lock(&box->lock);
    bool full = box->len >= LARSON_MAILBOX_CAP;
    if (!full) {
        obj->next = box->head;
        box->head = obj;
        box->len++;
    }
    pthread_mutex_unlock(&box->lock);
    return full ? larson_retire(obj) : 0;
}

static larson_obj_t *
larson_new(bench_rng_t *rng)
{
    size_t size =
        bench_rng_range(rng, (uint64_t)larson_min, (uint64_t)larson_max);
    larson_obj_t *obj = bench_xmalloc(size);
    obj->next = NULL;
    obj->value = bench_rng_next(rng);
    /* Touch the tail too, as a real object would be initialized. */
    ((unsigned char *)obj)[size - 1] = (unsigned char)obj->value;
    return obj;
}

static void *larson_thread(void *arg);

static void
larson_spawn(larson_slot_t *slot)
{
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, larson_thread, slot) != 0) {
        fprintf(stderr, "larson: pthread_create failed\n");
        exit(1);
    }
    pthread_attr_destroy(&attr);
}

static void *
larson_thread(void *arg)
{
    larson_slot_t *slot = arg;
    bench_rng_t rng = {(uint64_t)slot->index * 1000003u +
                       (uint64_t)slot->generation * 7919u + 1};
    larson_mailbox_t *mine = &larson_boxes[slot->index];
    larson_mailbox_t *next_box =
        &larson_boxes[(slot->index + 1) % larson_nthreads];
    uint64_t sum = 0;
    for (long r = 0; r < larson_rounds; r++) {
        long i = (long)bench_rng_range(&rng, 0, (uint64_t)larson_window - 1);
        larson_obj_t *old = slot->window[i];
        if (old && bench_rng_next(&rng) % (uint64_t)larson_handoff == 0)
            sum += larson_post(next_box, old);
        else if (old)
            sum += larson_retire(old);
        slot->window[i] = larson_new(&rng);
        if ((r & 255) == 255)
            sum += larson_drain(mine);
    }
    slot->sum += sum + larson_drain(mine);
    if (++slot->generation < larson_gens) {
        larson_spawn(slot);
        return NULL;
    }
    /* Posts racing with the close are drained here or, at worst, by main. */
    atomic_store(&mine->closed, true);
    slot->sum += larson_drain(mine);
    pthread_mutex_lock(&larson_done_lock);
    atomic_fetch_sub(&larson_live_chains, 1);
    pthread_cond_signal(&larson_done_cond);
    pthread_mutex_unlock(&larson_done_lock);
    return NULL;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"threads", 4, "concurrent worker slots"},
        {"window", 2000, "live objects per slot"},
        {"rounds", 60000, "alloc/free steps per thread"},
        {"generations", 60, "threads run in turn per slot (churn)"},
        {"min", 16, "smallest object, bytes (>= 16)"},
        {"max", 1024, "largest object, bytes"},
        {"handoff", 4, "1 in N retirements is freed by another thread"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "Larson server: windows, cross-thread frees, churn");
    larson_nthreads = bench_param(params, "threads");
    larson_window = bench_param(params, "window");
    larson_rounds = bench_param(params, "rounds");
    larson_gens = bench_param(params, "generations");
    larson_min = bench_param(params, "min");
    larson_max = bench_param(params, "max");
    larson_handoff = bench_param(params, "handoff");
    if (larson_min < 16 || larson_max < larson_min || larson_handoff < 1 ||
        larson_nthreads < 1 || larson_window < 1 || larson_gens < 1) {
        fprintf(stderr, "larson: bad parameters\n");
        return 2;
    }

    larson_slots = calloc((size_t)larson_nthreads, sizeof(*larson_slots));
    larson_boxes = calloc((size_t)larson_nthreads, sizeof(*larson_boxes));
    for (long t = 0; t < larson_nthreads; t++) {
        larson_slots[t].index = (int)t;
        larson_slots[t].window =
            calloc((size_t)larson_window, sizeof(larson_obj_t *));
        pthread_mutex_init(&larson_boxes[t].lock, NULL);
    }
    atomic_store(&larson_live_chains, larson_nthreads);
    for (long t = 0; t < larson_nthreads; t++)
        larson_spawn(&larson_slots[t]);

    pthread_mutex_lock(&larson_done_lock);
    while (atomic_load(&larson_live_chains) > 0)
        pthread_cond_wait(&larson_done_cond, &larson_done_lock);
    pthread_mutex_unlock(&larson_done_lock);

    uint64_t sum = 0;
    for (long t = 0; t < larson_nthreads; t++) {
        sum += larson_slots[t].sum + larson_drain(&larson_boxes[t]);
        for (long i = 0; i < larson_window; i++) {
            if (larson_slots[t].window[i])
                sum += larson_retire(larson_slots[t].window[i]);
        }
        free(larson_slots[t].window);
    }
    char extra[96];
    snprintf(extra, sizeof(extra), "threads=%ld ops=%ld", larson_nthreads,
             larson_nthreads * larson_gens * larson_rounds);
    bench_report("larson", sum, extra);
    free(larson_slots);
    free(larson_boxes);
    return 0;
}
