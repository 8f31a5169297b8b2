/*
 * prodcons.c — producer/consumer: messages malloc'd by producer threads
 * are freed by consumer threads after travelling through a queue.
 *
 * Owns: the prodcons benchmark only.
 *
 * Shape: `producers` threads each build `messages` messages of log-uniform
 * size min..max (a header plus payload they fill), chained in batches of
 * `batch`, and append each batch to the shared queue.  `consumers` threads
 * take whole batches, read every message and free it.  Every free is
 * therefore remote: the allocator's cross-thread free path (remote free
 * lists, returning objects to the owner's bins) is what is measured.  The
 * queue is bounded at `depth` batches so the live set stays small and the
 * pattern is steady-state, like a logging or RPC pipeline.
 *
 * Locking: the queue (head, tail, count, producers_left) is guarded by
 * queue.lock; a message belongs to exactly one thread at a time.
 *
 * Checksum: the sum over messages of bench_mix(seed value) plus payload
 * bytes, independent of which consumer freed what.
 */
#include "bench_util.h"

#include <pthread.h>

typedef struct pc_msg_s {
    struct pc_msg_s *next; /* next message of the same batch */
    uint64_t value;
    uint32_t len; /* payload bytes after the header */
    unsigned char payload[];
} pc_msg_t;

typedef struct pc_batch_s {
    struct pc_batch_s *next; /* guarded by queue lock while queued */
    pc_msg_t *msgs;
} pc_batch_t;

typedef struct pc_queue_s {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    pc_batch_t *head;    /* guarded by lock */
    pc_batch_t *tail;    /* guarded by lock */
    long count;          /* guarded by lock */
    long producers_left; /* guarded by lock */
} pc_queue_t;

static pc_queue_t pc_queue = {
    PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_COND_INITIALIZER,
    PTHREAD_COND_INITIALIZER,
    NULL,
    NULL,
    0,
    0,
};
static long pc_messages, pc_batch, pc_depth, pc_min, pc_max;

static void
pc_push(pc_batch_t *b)
{
    pthread_mutex_lock(&pc_queue.lock);
    while (pc_queue.count >= pc_depth)
        pthread_cond_wait(&pc_queue.not_full, &pc_queue.lock);
    b->next = NULL;
    if (pc_queue.tail)
        pc_queue.tail->next = b;
    else
        pc_queue.head = b;
    pc_queue.tail = b;
    pc_queue.count++;
    pthread_cond_signal(&pc_queue.not_empty);
    pthread_mutex_unlock(&pc_queue.lock);
}

/* NULL once the queue is empty and every producer is done. */
static pc_batch_t *
pc_pop(void)
{
    pthread_mutex_lock(&pc_queue.lock);
    while (!pc_queue.head && pc_queue.producers_left > 0)
        pthread_cond_wait(&pc_queue.not_empty, &pc_queue.lock);
    pc_batch_t *b = pc_queue.head;
    if (b) {
        pc_queue.head = b->next;
        if (!pc_queue.head)
            pc_queue.tail = NULL;
        pc_queue.count--;
        pthread_cond_signal(&pc_queue.not_full);
    }
    pthread_mutex_unlock(&pc_queue.lock);
    return b;
}

static pc_msg_t *
pc_msg_new(bench_rng_t *rng)
{
    size_t size = bench_rng_logsize(rng, (size_t)pc_min, (size_t)pc_max);
    if (size < sizeof(pc_msg_t) + 1)
        size = sizeof(pc_msg_t) + 1;
    pc_msg_t *m = bench_xmalloc(size);
    m->value = bench_rng_next(rng);
    m->len = (uint32_t)(size - sizeof(pc_msg_t));
    /* Fill a header-sized prefix and the last byte, not the whole body:
     * the allocator, not memset bandwidth, should dominate. */
    memset(m->payload, (int)(m->value & 0xff), m->len < 64 ? m->len : 64);
    m->payload[m->len - 1] = (unsigned char)(m->value >> 8);
    return m;
}

static void *
pc_producer(void *arg)
{
    bench_rng_t rng = {(uint64_t)(uintptr_t)arg * 0x51ed27u + 17};
    for (long done = 0; done < pc_messages;) {
        pc_batch_t *b = bench_xmalloc(sizeof(*b));
        b->msgs = NULL;
        for (long i = 0; i < pc_batch && done < pc_messages; i++, done++) {
            pc_msg_t *m = pc_msg_new(&rng);
            m->next = b->msgs;
            b->msgs = m;
        }
        pc_push(b);
    }
    pthread_mutex_lock(&pc_queue.lock);
    pc_queue.producers_left--;
    pthread_cond_broadcast(&pc_queue.not_empty);
    pthread_mutex_unlock(&pc_queue.lock);
    return NULL;
}

static void *
pc_consumer(void *arg)
{
    uint64_t *r_sum = arg;
    uint64_t sum = 0;
    pc_batch_t *b;
    while ((b = pc_pop()) != NULL) {
        for (pc_msg_t *m = b->msgs; m;) {
            pc_msg_t *next = m->next;
            sum += bench_mix(m->value) + m->payload[0] + m->payload[m->len - 1];
            free(m);
            m = next;
        }
        free(b);
    }
    *r_sum = sum;
    return NULL;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"producers", 2, "producer threads"},
        {"consumers", 2, "consumer threads"},
        {"messages", 2500000, "messages per producer"},
        {"batch", 64, "messages per queue entry"},
        {"depth", 64, "queue bound, in batches"},
        {"min", 32, "smallest message, bytes"},
        {"max", 2048, "largest message, bytes"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "producer/consumer: remote frees through a queue");
    long np = bench_param(params, "producers");
    long nc = bench_param(params, "consumers");
    pc_messages = bench_param(params, "messages");
    pc_batch = bench_param(params, "batch");
    pc_depth = bench_param(params, "depth");
    pc_min = bench_param(params, "min");
    pc_max = bench_param(params, "max");
    if (np < 1 || nc < 1 || pc_batch < 1 || pc_depth < 1 || pc_min < 1 ||
        pc_max < pc_min) {
        fprintf(stderr, "prodcons: bad parameters\n");
        return 2;
    }
    pc_queue.producers_left = np;

    pthread_t *tids = calloc((size_t)(np + nc), sizeof(pthread_t));
    uint64_t *sums = calloc((size_t)nc, sizeof(uint64_t));
    for (long c = 0; c < nc; c++)
        pthread_create(&tids[np + c], NULL, pc_consumer, &sums[c]);
    for (long p = 0; p < np; p++)
        pthread_create(&tids[p], NULL, pc_producer, (void *)(uintptr_t)p);
    uint64_t sum = 0;
    for (long i = 0; i < np + nc; i++)
        pthread_join(tids[i], NULL);
    for (long c = 0; c < nc; c++)
        sum += sums[c];
    char extra[96];
    snprintf(extra, sizeof(extra), "producers=%ld consumers=%ld msgs=%ld", np,
             nc, np * pc_messages);
    bench_report("prodcons", sum, extra);
    free(tids);
    free(sums);
    return 0;
}
