/*
 * retain.c — mstress-style retention: generations of mixed-size objects,
 * a fraction kept alive for several generations in a shared pool and
 * freed later, often by another thread.
 *
 * Owns: the retain benchmark only.
 *
 * Shape (after mimalloc-bench's mstress): `threads` threads each run
 * `generations` generations.  In a generation a thread allocates `objects`
 * objects — sizes log-uniform min..max, except 1 in `medium_every` of
 * 1..64 KiB and 1 in `big_every` of 64..512 KiB — and writes all of each
 * (every page is touched, so peak RSS is real).  Of these, `keep` percent
 * (chosen by the PRNG) go into the generation's batch; the rest are freed
 * by the allocating thread at the end of the generation, in random order.
 * The batch is then pushed onto the shared retention pool, a FIFO of
 * batches bounded at `retain` * `threads`; the push hands back the oldest
 * batch when the pool is over its bound, and the pushing thread frees
 * that batch's objects — usually another thread's (a cross-thread free of
 * objects that lived for about `retain` generations).
 *
 * Arguments (name=value; defaults): threads=2, generations=20,
 * objects=40000, keep=25, retain=4, min=16, max=512, medium_every=64,
 * big_every=4096.  An object averages about 470 bytes at the defaults, so
 * a generation is about 19 MiB and a batch about 4.7 MiB: some 38 MiB
 * stays in the pool, and with each thread's generation in the making
 * about 75 MiB is live at the peak.
 *
 * Locking: the pool (head, tail, count) is guarded by pool.lock; a batch
 * belongs to exactly one thread at a time, outside the pool.  Invariant:
 * pool.count <= retain * threads after every push.
 *
 * Checksum: the sum over objects of bench_mix(value ^ size) + the
 * object's last byte, added by whichever thread frees it (main frees the pool's
 * last batches): every object is freed exactly once, so the total does not
 * depend on which thread freed what.
 */
#include "bench_util.h"

#include <pthread.h>

/* Object layout: [value][payload ... last byte]; size from the value. */
typedef struct retain_obj_s {
    uint64_t value;
} retain_obj_t;

typedef struct retain_batch_s {
    struct retain_batch_s *next; /* guarded by pool lock while pooled */
    long n;
    retain_obj_t *objs[]; /* n objects */
} retain_batch_t;

typedef struct retain_pool_s {
    pthread_mutex_t lock;
    retain_batch_t *head; /* guarded by lock; oldest batch */
    retain_batch_t *tail; /* guarded by lock; newest batch */
    long count;           /* guarded by lock */
    long cap;             /* set before the threads start */
} retain_pool_t;

typedef struct retain_thread_s {
    pthread_t tid;
    long index;   /* seeds the thread's PRNG */
    uint64_t sum; /* owner thread only; read by main after join */
} retain_thread_t;

static long retain_gens, retain_objects, retain_keep, retain_min, retain_max;
static long retain_medium_every, retain_big_every;
static retain_pool_t retain_pool = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0,
                                    0};

/* The object's size, drawn from its value (so its freer knows it). */
static size_t
retain_size(uint64_t value)
{
    bench_rng_t rng = {value};
    uint64_t big = bench_rng_next(&rng), medium = bench_rng_next(&rng);
    if (retain_big_every > 0 && big % (uint64_t)retain_big_every == 0)
        return (size_t)bench_rng_range(&rng, 64 << 10, 512 << 10);
    if (retain_medium_every > 0 && medium % (uint64_t)retain_medium_every == 0)
        return bench_rng_logsize(&rng, 1 << 10, 64 << 10);
    return bench_rng_logsize(&rng, (size_t)retain_min, (size_t)retain_max);
}

static retain_obj_t *
retain_new(bench_rng_t *rng)
{
    uint64_t value = bench_rng_next(rng);
    size_t size = retain_size(value);
    retain_obj_t *obj = bench_xmalloc(size);
    /* Write it all, as a program initializes what it allocates. */
    memset(obj, (int)(value & 0xff), size);
    obj->value = value;
    ((unsigned char *)obj)[size - 1] = (unsigned char)(value >> 16);
    return obj;
}

static uint64_t
retain_free(retain_obj_t *obj)
{
    size_t size = retain_size(obj->value);
    uint64_t v =
        bench_mix(obj->value ^ size) + ((unsigned char *)obj)[size - 1];
    free(obj);
    return v;
}

static uint64_t
retain_free_batch(retain_batch_t *b)
{
    uint64_t sum = 0;
    for (long i = 0; i < b->n; i++)
        sum += retain_free(b->objs[i]);
    free(b);
    return sum;
}

/* Appends b; returns the oldest batch if the pool is over its bound. */
static retain_batch_t *
retain_pool_push(retain_batch_t *b)
{
    retain_batch_t *old = NULL;
    b->next = NULL;
    pthread_mutex_lock(&retain_pool.lock);
    if (retain_pool.tail)
        retain_pool.tail->next = b;
    else
        retain_pool.head = b;
    retain_pool.tail = b;
    if (++retain_pool.count > retain_pool.cap) {
        old = retain_pool.head;
        retain_pool.head = old->next;
        retain_pool.count--;
    }
    pthread_mutex_unlock(&retain_pool.lock);
    return old;
}

/* One generation: allocate, keep some, free the rest in random order. */
static uint64_t
retain_generation(bench_rng_t *rng, retain_obj_t **tmp)
{
    retain_batch_t *b =
        bench_xmalloc(sizeof(*b) + (size_t)retain_objects * sizeof(b->objs[0]));
    long ntmp = 0;
    b->n = 0;
    for (long i = 0; i < retain_objects; i++) {
        retain_obj_t *obj = retain_new(rng);
        if ((long)bench_rng_range(rng, 0, 99) < retain_keep)
            b->objs[b->n++] = obj;
        else
            tmp[ntmp++] = obj;
    }
    uint64_t sum = 0;
    while (ntmp > 0) {
        long i = (long)bench_rng_range(rng, 0, (uint64_t)ntmp - 1);
        sum += retain_free(tmp[i]);
        tmp[i] = tmp[--ntmp];
    }
    retain_batch_t *old = retain_pool_push(b);
    if (old)
        sum += retain_free_batch(old);
    return sum;
}

static void *
retain_thread(void *arg)
{
    retain_thread_t *self = arg;
    bench_rng_t rng = {bench_mix((uint64_t)self->index * 0x9e37u + 5)};
    retain_obj_t **tmp = bench_xmalloc((size_t)retain_objects * sizeof(*tmp));
    uint64_t sum = 0;
    for (long g = 0; g < retain_gens; g++)
        sum += retain_generation(&rng, tmp);
    free(tmp);
    self->sum = sum;
    return NULL;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"threads", 2, "threads"},
        {"generations", 20, "generations per thread"},
        {"objects", 40000, "objects allocated per generation"},
        {"keep", 25, "percent of a generation kept in the pool"},
        {"retain", 4, "pool bound, in batches per thread"},
        {"min", 16, "smallest small object, bytes (>= 9)"},
        {"max", 512, "largest small object, bytes"},
        {"medium_every", 64, "1 in N objects is 1..64 KiB (0: none)"},
        {"big_every", 4096, "1 in N objects is 64..512 KiB (0: none)"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "mstress-style retention: generations kept in a "
                     "shared pool, freed later by any thread");
    long nt = bench_param(params, "threads");
    retain_gens = bench_param(params, "generations");
    retain_objects = bench_param(params, "objects");
    retain_keep = bench_param(params, "keep");
    retain_min = bench_param(params, "min");
    retain_max = bench_param(params, "max");
    retain_medium_every = bench_param(params, "medium_every");
    retain_big_every = bench_param(params, "big_every");
    retain_pool.cap = bench_param(params, "retain") * nt;
    if (nt < 1 || retain_gens < 0 || retain_objects < 1 || retain_keep < 0 ||
        retain_keep > 100 || retain_min <= (long)sizeof(retain_obj_t) ||
        retain_max < retain_min || retain_medium_every < 0 ||
        retain_big_every < 0 || retain_pool.cap < 0) {
        fprintf(stderr, "retain: bad parameters\n");
        return 2;
    }
    retain_thread_t *threads = calloc((size_t)nt, sizeof(*threads));
    for (long t = 0; t < nt; t++) {
        threads[t].index = t;
        pthread_create(&threads[t].tid, NULL, retain_thread, &threads[t]);
    }
    uint64_t sum = 0;
    for (long t = 0; t < nt; t++) {
        pthread_join(threads[t].tid, NULL);
        sum += threads[t].sum;
    }
    while (retain_pool.head) {
        retain_batch_t *b = retain_pool.head;
        retain_pool.head = b->next;
        sum += retain_free_batch(b);
    }
    char extra[96];
    snprintf(extra, sizeof(extra), "threads=%ld objects=%ld", nt,
             nt * retain_gens * retain_objects);
    bench_report("retain", sum, extra);
    free(threads);
    return 0;
}
