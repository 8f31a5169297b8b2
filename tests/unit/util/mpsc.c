/*
 * mpsc.c — unit and stress tests of alloc/util/mpsc.h: the intrusive
 * lock-free multi-producer single-consumer queue.
 *
 * Unit tests check the invariants and the ordering guarantee of mpsc.h on
 * one thread: an empty queue takes nothing; pop_all returns a NULL-ended
 * list in push order; a batch comes out contiguous in add order.
 *
 * The stress tests run 4 producers against one consumer draining at the
 * same time.  Every message carries (producer, seq, check); the consumer
 * checks that check matches (the contents were published with the node),
 * that no message is seen twice (a seen-bitmap) or lost (the count, and
 * the bitmap full at the end), and that each producer's seqs come out
 * consecutive — FIFO per producer with nothing lost.  The second stress
 * test recycles a small pool of nodes through per-producer return queues,
 * so the same addresses are pushed again and again (the head's A -> NULL
 * -> A pattern that would break a queue with an ABA problem).
 */
#include "hs_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/mpsc.h"

typedef struct msg_s {
    uint32_t producer;
    uint32_t seq;
    uint64_t check; /* msg_check(producer, seq) */
    hs_mpsc_node_t node;
} msg_t;

static msg_t *
msg_of(hs_mpsc_node_t *n)
{
    return (msg_t *)((char *)n - offsetof(msg_t, node));
}

static uint64_t
msg_check(uint32_t producer, uint32_t seq)
{
    uint64_t x = ((uint64_t)producer << 32 | seq) + 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

static void
msg_fill(msg_t *m, uint32_t producer, uint32_t seq)
{
    m->producer = producer;
    m->seq = seq;
    m->check = msg_check(producer, seq);
}

/* Walks a list from pop_all and writes the seqs into out; returns the
 * length, failing the test when it exceeds max. */
static size_t
collect(hs_mpsc_node_t *first, uint32_t *out, size_t max)
{
    size_t n = 0;
    for (hs_mpsc_node_t *l = first; l != NULL; l = l->next) {
        if (n == max) {
            HS_FAIL("list longer than %zu", max);
            return n;
        }
        out[n++] = msg_of(l)->seq;
    }
    return n;
}

/* ---- unit tests, one thread ---- */

HS_TEST(empty_queue)
{
    hs_mpsc_t q;
    hs_mpsc_init(&q);
    HS_EXPECT_TRUE(hs_mpsc_empty(&q));
    HS_EXPECT_NULL(hs_mpsc_pop_all(&q));
    HS_EXPECT_TRUE(hs_mpsc_empty(&q));
    /* An empty batch pushes nothing. */
    hs_mpsc_batch_t b;
    hs_mpsc_batch_init(&b);
    HS_EXPECT_TRUE(hs_mpsc_batch_empty(&b));
    hs_mpsc_push_batch(&q, &b);
    HS_EXPECT_TRUE(hs_mpsc_empty(&q));
    HS_EXPECT_NULL(hs_mpsc_pop_all(&q));
}

HS_TEST(single_push_pop)
{
    hs_mpsc_t q;
    msg_t m;
    hs_mpsc_init(&q);
    msg_fill(&m, 0, 7);
    m.node.next = &m.node; /* garbage: push must overwrite it */
    hs_mpsc_push(&q, &m.node);
    HS_EXPECT_FALSE(hs_mpsc_empty(&q));
    hs_mpsc_node_t *got = hs_mpsc_pop_all(&q);
    HS_ASSERT_EQ_PTR(got, &m.node);
    HS_EXPECT_NULL(got->next);
    HS_EXPECT_EQ_U64(msg_of(got)->seq, 7);
    HS_EXPECT_TRUE(hs_mpsc_empty(&q));
    HS_EXPECT_NULL(hs_mpsc_pop_all(&q));
}

HS_TEST(batch_push_keeps_add_order)
{
    hs_mpsc_t q;
    msg_t m[5];
    hs_mpsc_batch_t b;
    hs_mpsc_init(&q);
    hs_mpsc_batch_init(&b);
    for (uint32_t i = 0; i < 5; i++) {
        msg_fill(&m[i], 0, i);
        hs_mpsc_batch_add(&b, &m[i].node);
        HS_EXPECT_FALSE(hs_mpsc_batch_empty(&b));
    }
    HS_EXPECT_EQ_PTR(b.oldest, &m[0].node);
    HS_EXPECT_EQ_PTR(b.newest, &m[4].node);
    hs_mpsc_push_batch(&q, &b);
    HS_EXPECT_TRUE(hs_mpsc_batch_empty(&b)); /* ready for reuse */
    HS_EXPECT_FALSE(hs_mpsc_empty(&q));
    uint32_t got[8];
    HS_ASSERT_EQ_SIZE(collect(hs_mpsc_pop_all(&q), got, 8), 5);
    for (uint32_t i = 0; i < 5; i++)
        HS_EXPECT_EQ_U64(got[i], i);
    HS_EXPECT_TRUE(hs_mpsc_empty(&q));
}

HS_TEST(push_chain_newest_first)
{
    /* A chain linked newest -> oldest comes out oldest first. */
    hs_mpsc_t q;
    msg_t m[3];
    hs_mpsc_init(&q);
    for (uint32_t i = 0; i < 3; i++)
        msg_fill(&m[i], 0, i);
    m[2].node.next = &m[1].node;
    m[1].node.next = &m[0].node;
    m[0].node.next = &m[2].node; /* garbage: overwritten by the push */
    hs_mpsc_push_chain(&q, &m[2].node, &m[0].node);
    uint32_t got[4];
    HS_ASSERT_EQ_SIZE(collect(hs_mpsc_pop_all(&q), got, 4), 3);
    for (uint32_t i = 0; i < 3; i++)
        HS_EXPECT_EQ_U64(got[i], i);
}

HS_TEST(fifo_mixed_singles_and_batches)
{
    /* Singles and batches of growing size, one producer: one pop_all
     * returns them all in push order, each batch contiguous. */
    enum { N = 1000 };
    static msg_t m[N];
    static uint32_t got[N + 1];
    hs_mpsc_t q;
    hs_mpsc_batch_t b;
    hs_mpsc_init(&q);
    hs_mpsc_batch_init(&b);
    uint32_t i = 0, size = 1;
    while (i < N) {
        if (size % 3 == 0) {
            msg_fill(&m[i], 0, i);
            hs_mpsc_push(&q, &m[i++].node);
        } else {
            for (uint32_t k = 0; k < size && i < N; k++) {
                msg_fill(&m[i], 0, i);
                hs_mpsc_batch_add(&b, &m[i++].node);
            }
            hs_mpsc_push_batch(&q, &b);
        }
        size = size % 16 + 1;
    }
    HS_ASSERT_EQ_SIZE(collect(hs_mpsc_pop_all(&q), got, N + 1), N);
    for (uint32_t k = 0; k < N; k++) {
        if (got[k] != k) {
            HS_FAIL("position %u holds seq %u", k, got[k]);
            break;
        }
    }
    HS_EXPECT_TRUE(hs_mpsc_empty(&q));
}

HS_TEST(fifo_per_producer_interleaved)
{
    /* Two "producers" interleaved on one thread: each one's messages come
     * out in its own order; the whole is in push order. */
    hs_mpsc_t q;
    msg_t a[4], b[4];
    hs_mpsc_init(&q);
    for (uint32_t i = 0; i < 4; i++) {
        msg_fill(&a[i], 0, i);
        msg_fill(&b[i], 1, i);
        hs_mpsc_push(&q, &a[i].node);
        hs_mpsc_push(&q, &b[i].node);
    }
    hs_mpsc_node_t *n = hs_mpsc_pop_all(&q);
    for (uint32_t i = 0; i < 8; i++) {
        HS_ASSERT_NOT_NULL(n);
        HS_EXPECT_EQ_U64(msg_of(n)->producer, i % 2);
        HS_EXPECT_EQ_U64(msg_of(n)->seq, i / 2);
        n = n->next;
    }
    HS_EXPECT_NULL(n);
}

HS_TEST(interleave_push_and_consume)
{
    hs_mpsc_t q;
    msg_t m[6];
    hs_mpsc_batch_t b;
    uint32_t got[8];
    hs_mpsc_init(&q);
    hs_mpsc_batch_init(&b);
    for (uint32_t i = 0; i < 6; i++)
        msg_fill(&m[i], 0, i);

    hs_mpsc_push(&q, &m[0].node);
    hs_mpsc_push(&q, &m[1].node);
    HS_ASSERT_EQ_SIZE(collect(hs_mpsc_pop_all(&q), got, 8), 2);
    HS_EXPECT_EQ_U64(got[0], 0);
    HS_EXPECT_EQ_U64(got[1], 1);
    HS_EXPECT_TRUE(hs_mpsc_empty(&q));

    /* Single, batch, single: the batch stays between them. */
    hs_mpsc_push(&q, &m[2].node);
    hs_mpsc_batch_add(&b, &m[3].node);
    hs_mpsc_batch_add(&b, &m[4].node);
    hs_mpsc_push_batch(&q, &b);
    hs_mpsc_push(&q, &m[5].node);
    HS_ASSERT_EQ_SIZE(collect(hs_mpsc_pop_all(&q), got, 8), 4);
    for (uint32_t i = 0; i < 4; i++)
        HS_EXPECT_EQ_U64(got[i], i + 2);
    HS_EXPECT_NULL(hs_mpsc_pop_all(&q));

    /* Nodes taken may be pushed again, to the same queue, in any order. */
    hs_mpsc_push(&q, &m[1].node);
    hs_mpsc_push(&q, &m[0].node);
    HS_ASSERT_EQ_SIZE(collect(hs_mpsc_pop_all(&q), got, 8), 2);
    HS_EXPECT_EQ_U64(got[0], 1);
    HS_EXPECT_EQ_U64(got[1], 0);
    HS_EXPECT_TRUE(hs_mpsc_empty(&q));
}

/* ---- stress: 4 producers, one concurrent consumer ---- */

enum {
    NPROD = 4,
    PER_PROD = 200000,
    NMSG = NPROD * PER_PROD,
    MAX_BATCH = 16,
    POOL = 16,           /* recycling test: nodes per producer */
    RECYCLE_PER = 100000 /* recycling test: messages per producer */
};
/* Recycling test: how long a producer waits for a node to come back. */
#define STARVE_NS ((uint64_t)2000000000)

static uint64_t
rng_next(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* What a consumer found wrong; written by the consumer thread only and
 * read by the test after joining it. */
typedef struct verdict_s {
    uint64_t received;
    uint64_t bad_producer;
    uint64_t bad_check;
    uint64_t duplicate;
    uint64_t out_of_order;
    uint32_t first_bad_producer; /* of the first out-of-order message */
    uint32_t first_bad_expected;
    uint32_t first_bad_seq;
    uint64_t takes;     /* pop_all calls that returned something */
    uint64_t max_taken; /* the longest list one pop_all returned */
} verdict_t;

typedef struct checker_s {
    uint32_t per_prod;
    uint32_t next_seq[NPROD];
    uint64_t *seen; /* bit p * per_prod + seq */
    verdict_t v;
} checker_t;

static void
checker_init(checker_t *c, uint32_t per_prod, uint64_t *seen, size_t seen_words)
{
    memset(c, 0, sizeof *c);
    c->per_prod = per_prod;
    c->seen = seen;
    memset(seen, 0, seen_words * sizeof seen[0]);
}

/* Checks one message; false when it cannot be trusted (bad producer). */
static bool
checker_take(checker_t *c, const msg_t *m)
{
    verdict_t *v = &c->v;
    v->received++;
    if (m->producer >= NPROD || m->seq >= c->per_prod) {
        v->bad_producer++;
        return false;
    }
    if (m->check != msg_check(m->producer, m->seq))
        v->bad_check++;
    uint64_t bit = (uint64_t)m->producer * c->per_prod + m->seq;
    uint64_t mask = (uint64_t)1 << (bit & 63);
    if (c->seen[bit >> 6] & mask)
        v->duplicate++;
    c->seen[bit >> 6] |= mask;
    if (m->seq != c->next_seq[m->producer]) {
        if (v->out_of_order++ == 0) {
            v->first_bad_producer = m->producer;
            v->first_bad_expected = c->next_seq[m->producer];
            v->first_bad_seq = m->seq;
        }
    }
    c->next_seq[m->producer] = m->seq + 1;
    return true;
}

static void
checker_expect_clean(const checker_t *c, uint64_t nmsg)
{
    const verdict_t *v = &c->v;
    HS_EXPECT_EQ_U64(v->received, nmsg);
    HS_EXPECT_EQ_U64(v->bad_producer, 0);
    HS_EXPECT_EQ_U64(v->bad_check, 0);
    HS_EXPECT_EQ_U64(v->duplicate, 0);
    HS_EXPECT_EQ_U64(v->out_of_order, 0);
    if (v->out_of_order != 0)
        HS_FAIL("first out of order: producer %u expected seq %u got %u",
                v->first_bad_producer, v->first_bad_expected, v->first_bad_seq);
    for (uint32_t p = 0; p < NPROD; p++)
        HS_EXPECT_EQ_U64(c->next_seq[p], c->per_prod);
    uint64_t missing = 0;
    for (uint64_t bit = 0; bit < nmsg; bit++)
        missing += !(c->seen[bit >> 6] >> (bit & 63) & 1);
    HS_EXPECT_EQ_U64(missing, 0);
    HS_EXPECT_GT_U64(v->takes, 0);
}

/* Start line: every thread spins here so the producers collide. */
static _Atomic(int) stress_go;
static _Atomic(int) stress_producers_done;

static void
wait_for_go(void)
{
    while (!atomic_load_explicit(&stress_go, memory_order_acquire))
        sched_yield();
}

static void
stress_reset(void)
{
    atomic_store(&stress_go, 0);
    atomic_store(&stress_producers_done, 0);
}

/* Runs NPROD producers and one consumer; returns after joining them. */
static void
stress_run(void *(*producer)(void *), void *(*consumer)(void *))
{
    pthread_t cons, prod[NPROD];
    stress_reset();
    HS_ASSERT_EQ_INT(pthread_create(&cons, NULL, consumer, NULL), 0);
    for (uintptr_t p = 0; p < NPROD; p++)
        HS_ASSERT_EQ_INT(pthread_create(&prod[p], NULL, producer, (void *)p),
                         0);
    atomic_store_explicit(&stress_go, 1, memory_order_release);
    for (int p = 0; p < NPROD; p++)
        pthread_join(prod[p], NULL);
    /* Joining made every push happen before this store, so a consumer
     * that sees it and then finds the queue empty has taken everything. */
    atomic_store_explicit(&stress_producers_done, 1, memory_order_release);
    pthread_join(cons, NULL);
}

static msg_t stress_msgs[NPROD][PER_PROD];
static uint64_t stress_seen[NMSG / 64 + 1];
static checker_t stress_checker;
static hs_mpsc_t stress_q;

/*
 * Now and then a producer lets the others run.  Without it, on two cores
 * the scheduler runs the producers for whole time slices and the consumer
 * takes everything in a handful of huge lists; with it, takes, pushes and
 * failed CASes interleave thousands of times.
 */
static void
producer_pause(uint64_t r)
{
    if ((r >> 32) % 8 == 0)
        sched_yield();
}

static void *
stress_producer(void *arg)
{
    uint32_t p = (uint32_t)(uintptr_t)arg;
    uint64_t rng = 0x5851f42d4c957f2dull * (p + 1);
    msg_t *m = stress_msgs[p];
    hs_mpsc_batch_t b;
    hs_mpsc_batch_init(&b);
    wait_for_go();
    uint32_t seq = 0;
    while (seq < PER_PROD) {
        uint64_t r = rng_next(&rng);
        producer_pause(r);
        if (r & 1) {
            msg_fill(&m[seq], p, seq);
            hs_mpsc_push(&stress_q, &m[seq++].node);
            continue;
        }
        uint32_t n = 1 + (uint32_t)(r >> 8) % MAX_BATCH;
        for (uint32_t k = 0; k < n && seq < PER_PROD; k++) {
            msg_fill(&m[seq], p, seq);
            hs_mpsc_batch_add(&b, &m[seq++].node);
        }
        hs_mpsc_push_batch(&stress_q, &b);
    }
    return NULL;
}

/* Walks one taken list through the checker; returns its length.  Reads
 * next before anything else may touch the node. */
static uint64_t
stress_check_list(checker_t *c, hs_mpsc_node_t *n)
{
    uint64_t len = 0;
    while (n != NULL) {
        hs_mpsc_node_t *next = n->next;
        checker_take(c, msg_of(n));
        len++;
        n = next;
    }
    return len;
}

static void *
stress_consumer(void *arg)
{
    (void)arg;
    checker_t *c = &stress_checker;
    wait_for_go();
    for (;;) {
        bool done =
            atomic_load_explicit(&stress_producers_done, memory_order_acquire);
        hs_mpsc_node_t *n = hs_mpsc_pop_all(&stress_q);
        if (n == NULL) {
            if (done)
                break;
            sched_yield();
            continue;
        }
        uint64_t len = stress_check_list(c, n);
        c->v.takes++;
        if (len > c->v.max_taken)
            c->v.max_taken = len;
    }
    return NULL;
}

HS_TEST(stress_four_producers_one_consumer)
{
    hs_mpsc_init(&stress_q);
    checker_init(&stress_checker, PER_PROD, stress_seen,
                 sizeof stress_seen / sizeof stress_seen[0]);
    stress_run(stress_producer, stress_consumer);
    checker_expect_clean(&stress_checker, NMSG);
    HS_EXPECT_TRUE(hs_mpsc_empty(&stress_q));
    HS_EXPECT_NULL(hs_mpsc_pop_all(&stress_q));
}

/* ---- stress: the same few nodes pushed again and again ---- */

static msg_t recycle_pool[NPROD][POOL];
static hs_mpsc_t recycle_ret[NPROD]; /* consumer -> producer p */
static uint64_t recycle_seen[NPROD * RECYCLE_PER / 64 + 1];
static checker_t recycle_checker;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Producers that gave up waiting for their nodes to come back. */
static _Atomic(unsigned) recycle_starved;

/*
 * Producer p's next free node: from its local list, else from its return
 * queue (of which it is the single consumer).  NULL when none came back
 * for STARVE_NS: nodes were lost, and waiting longer would hang the test.
 */
static hs_mpsc_node_t *
recycle_get(uint32_t p, hs_mpsc_node_t **local)
{
    uint64_t deadline = 0;
    for (unsigned spins = 0; *local == NULL; spins++) {
        *local = hs_mpsc_pop_all(&recycle_ret[p]);
        if (*local != NULL)
            break;
        sched_yield();
        if (spins % 1024 != 1023)
            continue;
        if (deadline == 0) {
            deadline = now_ns() + STARVE_NS;
        } else if (now_ns() > deadline) {
            atomic_fetch_add(&recycle_starved, 1);
            return NULL;
        }
    }
    hs_mpsc_node_t *n = *local;
    *local = n->next;
    return n;
}

static void *
recycle_producer(void *arg)
{
    uint32_t p = (uint32_t)(uintptr_t)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (p + 1);
    hs_mpsc_node_t *local = NULL;
    hs_mpsc_batch_t b;
    hs_mpsc_batch_init(&b);
    for (int i = 0; i < POOL; i++) {
        recycle_pool[p][i].node.next = local;
        local = &recycle_pool[p][i].node;
    }
    wait_for_go();
    uint32_t seq = 0;
    bool starved = false;
    while (seq < RECYCLE_PER && !starved) {
        uint64_t r = rng_next(&rng);
        producer_pause(r);
        /* Batches only of what is free right now, so no waiting while
         * holding nodes the consumer has not seen. */
        uint32_t n = (r & 1) ? 1 : 1 + (uint32_t)(r >> 8) % (POOL / 2);
        for (uint32_t k = 0; k < n && seq < RECYCLE_PER; k++) {
            if (k > 0 && local == NULL)
                break;
            hs_mpsc_node_t *node = recycle_get(p, &local);
            if (node == NULL) {
                starved = true;
                break;
            }
            msg_fill(msg_of(node), p, seq++);
            hs_mpsc_batch_add(&b, node);
        }
        hs_mpsc_push_batch(&stress_q, &b);
    }
    /* Give the unused nodes back too, so the test can count the pool. */
    while (local != NULL) {
        hs_mpsc_node_t *next = local->next;
        hs_mpsc_push(&recycle_ret[p], local);
        local = next;
    }
    return NULL;
}

static void *
recycle_consumer(void *arg)
{
    (void)arg;
    checker_t *c = &recycle_checker;
    wait_for_go();
    for (;;) {
        bool done =
            atomic_load_explicit(&stress_producers_done, memory_order_acquire);
        hs_mpsc_node_t *n = hs_mpsc_pop_all(&stress_q);
        if (n == NULL) {
            if (done)
                break;
            sched_yield();
            continue;
        }
        uint64_t len = 0;
        c->v.takes++;
        while (n != NULL) {
            hs_mpsc_node_t *next = n->next;
            msg_t *m = msg_of(n);
            if (checker_take(c, m)) {
                /* Scribble, then hand back: a producer must see its own
                 * fill, never this, when the message comes round again. */
                m->check = 0;
                hs_mpsc_push(&recycle_ret[m->producer], n);
            }
            len++;
            n = next;
        }
        if (len > c->v.max_taken)
            c->v.max_taken = len;
    }
    return NULL;
}

HS_TEST(stress_recycled_nodes)
{
    hs_mpsc_init(&stress_q);
    for (int p = 0; p < NPROD; p++)
        hs_mpsc_init(&recycle_ret[p]);
    checker_init(&recycle_checker, RECYCLE_PER, recycle_seen,
                 sizeof recycle_seen / sizeof recycle_seen[0]);
    atomic_store(&recycle_starved, 0);
    stress_run(recycle_producer, recycle_consumer);
    HS_EXPECT_EQ_U64(atomic_load(&recycle_starved), 0);
    checker_expect_clean(&recycle_checker, (uint64_t)NPROD * RECYCLE_PER);
    HS_EXPECT_TRUE(hs_mpsc_empty(&stress_q));
    /* Every node is back in its return queue, once. */
    for (uint32_t p = 0; p < NPROD; p++) {
        bool back[POOL] = {false};
        size_t n = 0;
        for (hs_mpsc_node_t *l = hs_mpsc_pop_all(&recycle_ret[p]);
             l != NULL && n <= POOL; l = l->next, n++) {
            ptrdiff_t i = msg_of(l) - recycle_pool[p];
            HS_ASSERT_TRUE(i >= 0 && i < POOL);
            HS_EXPECT_FALSE(back[i]);
            back[i] = true;
        }
        HS_EXPECT_EQ_SIZE(n, POOL);
    }
}

HS_TEST_MAIN()
