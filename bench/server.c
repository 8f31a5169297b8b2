/*
 * server.c — a Larson-style server run for a fixed time: how many
 * allocations a second the allocator sustains under windows of live
 * objects, cross-thread frees and thread churn.
 *
 * Owns: the server benchmark only.  bench/larson.c is the same shape run
 * for a fixed amount of work and timed; this one fixes the time and counts
 * the work, as Larson & Krishnan ("Memory allocation for long-running
 * server applications", ISMM 1998) and the mimalloc-bench "larson" do.
 *
 * Shape:
 *  - `threads` slots run concurrently; each owns a window of `window`
 *    object pointers (filled before the clock starts).
 *  - A slot's thread loops: pick a random window entry, retire the object
 *    there, put a fresh object of random size min..max bytes in its place
 *    (one such replacement is one operation).  One retirement in `handoff`
 *    is not freed locally but posted to the next slot's mailbox; that
 *    slot's thread frees it (a cross-thread free).
 *  - After `rounds` operations a thread starts its successor and exits;
 *    the successor inherits the window (thread churn: objects allocated by
 *    a dead thread are freed by a new one).
 *  - After `seconds`, main raises the stop flag; each slot's current
 *    thread finishes its operation, drains its mailbox and ends the chain.
 *
 * Arguments (name=value; defaults): seconds=3, threads=2, window=2000,
 * rounds=50000, min=16, max=1024, handoff=4.
 *
 * Output: `throughput=<operations per second>` over the timed interval
 * (the figure bench/run.sh compares), plus ops and elapsed_s.  Since the
 * operation count depends on the machine, the checksum cannot: it is a
 * hash of the arguments, and correctness is checked inside instead —
 * every object's last byte is a function of the value in its header,
 * verified before the free; a mismatch (an allocator handing out
 * overlapping memory) makes the run exit 1.
 *
 * Locking: a mailbox is a list guarded by its mutex; windows are owner
 * thread only (one live thread per slot: the successor is created after
 * the predecessor's last touch of the window).  Invariant at the end:
 * allocated = freed by a slot thread + freed by main (window leftovers and
 * undrained mailboxes).
 */
#include "bench_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* Mailbox bound, in objects: see larson_post in larson.c for why. */
enum { SRV_MAILBOX_CAP = 4096 };

/*
 * Object layout: [next while in a mailbox][value][payload...][tail byte].
 * The size is a function of the value (srv_size), so the retiring thread
 * knows where the tail byte is without storing the size.
 */
typedef struct srv_obj_s {
    struct srv_obj_s *next;
    uint64_t value;
} srv_obj_t;

typedef struct srv_mailbox_s {
    pthread_mutex_t lock;
    srv_obj_t *head;    /* guarded by lock */
    long len;           /* guarded by lock; objects in the list */
    atomic_bool closed; /* atomic; the slot's chain of threads has ended */
    char pad[64];       /* keep neighbouring mailboxes off one line */
} srv_mailbox_t;

typedef struct srv_slot_s {
    srv_obj_t **window; /* owner thread only */
    long ops;           /* owner thread only; read by main after the end */
    long bad;           /* owner thread only; objects that failed checks */
    long generation;    /* owner thread only */
    int index;
} srv_slot_t;

static long srv_nthreads, srv_window, srv_rounds, srv_min, srv_max;
static long srv_handoff;
static srv_slot_t *srv_slots;
static srv_mailbox_t *srv_boxes;
static atomic_bool srv_stop;
static atomic_long srv_live_chains;
static pthread_mutex_t srv_done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t srv_done_cond = PTHREAD_COND_INITIALIZER;

/* Uniform in min..max, from the object's value. */
static size_t
srv_size(uint64_t value)
{
    return (size_t)srv_min +
           (size_t)((value >> 24) % (uint64_t)(srv_max - srv_min + 1));
}

static unsigned char
srv_tail(uint64_t value)
{
    return (unsigned char)(bench_mix(value) | 1);
}

static srv_obj_t *
srv_new(bench_rng_t *rng)
{
    uint64_t value = bench_rng_next(rng);
    size_t size = srv_size(value);
    srv_obj_t *obj = bench_xmalloc(size);
    obj->next = NULL;
    obj->value = value;
    if (size > sizeof(*obj))
        ((unsigned char *)obj)[size - 1] = srv_tail(value);
    return obj;
}

/* Frees obj; returns 1 if its tail byte is not what srv_new wrote. */
static long
srv_retire(srv_obj_t *obj)
{
    size_t size = srv_size(obj->value);
    bool ok = size == sizeof(*obj) ||
              ((unsigned char *)obj)[size - 1] == srv_tail(obj->value);
    free(obj);
    return ok ? 0 : 1;
}

static long
srv_drain(srv_mailbox_t *box)
{
    pthread_mutex_lock(&box->lock);
    srv_obj_t *list = box->head;
    box->head = NULL;
    box->len = 0;
    pthread_mutex_unlock(&box->lock);
    long bad = 0;
    while (list) {
        srv_obj_t *next = list->next;
        bad += srv_retire(list);
        list = next;
    }
    return bad;
}

/* Hands obj to box's owner, or frees it here when the box is closed or
 * full (its owner is descheduled); returns what srv_retire returns. */
static long
srv_post(srv_mailbox_t *box, srv_obj_t *obj)
{
    if (atomic_load_explicit(&box->closed, memory_order_relaxed))
        return srv_retire(obj);
    pthread_mutex_lock(&box->lock);
    bool full = box->len >= SRV_MAILBOX_CAP;
    if (!full) {
        obj->next = box->head;
        box->head = obj;
        box->len++;
    }
    pthread_mutex_unlock(&box->lock);
    return full ? srv_retire(obj) : 0;
}

static void *srv_thread(void *arg);

static void
srv_spawn(srv_slot_t *slot)
{
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, srv_thread, slot) != 0) {
        fprintf(stderr, "server: pthread_create failed\n");
        exit(1);
    }
    pthread_attr_destroy(&attr);
}

/* The end of a slot's chain: no successor, the mailbox closed. */
static void
srv_close(srv_slot_t *slot, srv_mailbox_t *mine)
{
    atomic_store(&mine->closed, true);
    slot->bad += srv_drain(mine);
    pthread_mutex_lock(&srv_done_lock);
    atomic_fetch_sub(&srv_live_chains, 1);
    pthread_cond_signal(&srv_done_cond);
    pthread_mutex_unlock(&srv_done_lock);
}

static void *
srv_thread(void *arg)
{
    srv_slot_t *slot = arg;
    bench_rng_t rng = {bench_mix((uint64_t)slot->index * 1000003u +
                                 (uint64_t)slot->generation * 7919u + 1)};
    srv_mailbox_t *mine = &srv_boxes[slot->index];
    srv_mailbox_t *next_box = &srv_boxes[(slot->index + 1) % srv_nthreads];
    long bad = 0, r = 0;
    bool stop = false;
    for (; r < srv_rounds && !stop; r++) {
        long i = (long)bench_rng_range(&rng, 0, (uint64_t)srv_window - 1);
        srv_obj_t *old = slot->window[i];
        if (bench_rng_next(&rng) % (uint64_t)srv_handoff == 0)
            bad += srv_post(next_box, old);
        else
            bad += srv_retire(old);
        slot->window[i] = srv_new(&rng);
        if ((r & 255) == 255) {
            bad += srv_drain(mine);
            stop = atomic_load_explicit(&srv_stop, memory_order_relaxed);
        }
    }
    slot->ops += r;
    slot->bad += bad + srv_drain(mine);
    slot->generation++;
    if (!stop && !atomic_load(&srv_stop))
        srv_spawn(slot);
    else
        srv_close(slot, mine);
    return NULL;
}

/* A checksum of the arguments: every allocator prints the same one. */
static uint64_t
srv_args_checksum(const bench_param_t *params)
{
    uint64_t sum = 0;
    for (const bench_param_t *p = params; p->name; p++)
        sum = bench_mix(sum ^ (uint64_t)p->value ^ (uint64_t)p->name[0]);
    return sum;
}

static void
srv_setup(void)
{
    srv_slots = calloc((size_t)srv_nthreads, sizeof(*srv_slots));
    srv_boxes = calloc((size_t)srv_nthreads, sizeof(*srv_boxes));
    for (long t = 0; t < srv_nthreads; t++) {
        bench_rng_t rng = {bench_mix((uint64_t)t + 77)};
        srv_slots[t].index = (int)t;
        srv_slots[t].window = calloc((size_t)srv_window, sizeof(srv_obj_t *));
        for (long i = 0; i < srv_window; i++)
            srv_slots[t].window[i] = srv_new(&rng);
        pthread_mutex_init(&srv_boxes[t].lock, NULL);
    }
}

/* Frees what is left; returns the slots' ops and adds their bad objects. */
static long
srv_teardown(long *r_bad)
{
    long ops = 0;
    for (long t = 0; t < srv_nthreads; t++) {
        ops += srv_slots[t].ops;
        *r_bad += srv_slots[t].bad + srv_drain(&srv_boxes[t]);
        for (long i = 0; i < srv_window; i++)
            *r_bad += srv_retire(srv_slots[t].window[i]);
        free(srv_slots[t].window);
    }
    free(srv_slots);
    free(srv_boxes);
    return ops;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"seconds", 3, "run time, seconds"},
        {"threads", 2, "concurrent worker slots"},
        {"window", 2000, "live objects per slot"},
        {"rounds", 50000, "operations per thread before its successor"},
        {"min", 16, "smallest object, bytes (>= 16)"},
        {"max", 1024, "largest object, bytes"},
        {"handoff", 4, "1 in N retirements is freed by another thread"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "fixed-time Larson server: throughput in ops/s");
    long seconds = bench_param(params, "seconds");
    srv_nthreads = bench_param(params, "threads");
    srv_window = bench_param(params, "window");
    srv_rounds = bench_param(params, "rounds");
    srv_min = bench_param(params, "min");
    srv_max = bench_param(params, "max");
    srv_handoff = bench_param(params, "handoff");
    if (srv_min < (long)sizeof(srv_obj_t) || srv_max < srv_min ||
        srv_handoff < 1 || srv_nthreads < 1 || srv_window < 1 ||
        srv_rounds < 1 || seconds < 1) {
        fprintf(stderr, "server: bad parameters\n");
        return 2;
    }
    srv_setup();

    double start = ((double)bench_now_ns() * 1e-9);
    atomic_store(&srv_live_chains, srv_nthreads);
    for (long t = 0; t < srv_nthreads; t++)
        srv_spawn(&srv_slots[t]);
    struct timespec nap = {(time_t)seconds, 0};
    while (nanosleep(&nap, &nap) != 0)
        ;
    atomic_store(&srv_stop, true);
    pthread_mutex_lock(&srv_done_lock);
    while (atomic_load(&srv_live_chains) > 0)
        pthread_cond_wait(&srv_done_cond, &srv_done_lock);
    pthread_mutex_unlock(&srv_done_lock);
    double elapsed = ((double)bench_now_ns() * 1e-9) - start;

    long bad = 0;
    long ops = srv_teardown(&bad);
    if (bad > 0) {
        fprintf(stderr, "server: %ld objects were corrupted\n", bad);
        return 1;
    }
    char extra[160];
    snprintf(extra, sizeof(extra),
             "threads=%ld seconds=%ld ops=%ld elapsed_s=%.3f throughput=%.0f",
             srv_nthreads, seconds, ops, elapsed, (double)ops / elapsed);
    bench_report("server", srv_args_checksum(params), extra);
    return 0;
}
