/*
 * fault_signals.c — allocation under a storm of signals.
 *
 * Owns: SIG_WORKERS threads that allocate, fill, check and free in a tight
 * loop for SIG_OPS operations each, while the process receives SIGPROF
 * (setitimer ITIMER_PROF) and SIGALRM (ITIMER_REAL) at SIG_TIMER_US
 * intervals and a bombarding thread sends SIGUSR1 and SIGUSR2 to the
 * workers with pthread_kill.
 *
 * The handlers do async-signal-safe work only: count, touch errno (and
 * restore it), call getpid(); the SIGUSR2 handler writes into a buffer
 * preallocated before the storm (the one allocation-free way for a handler
 * to keep data).  None is SA_RESTART: every interrupted system call in
 * the allocator (mmap, madvise, munmap, futex waits) and in the test must
 * restart or complete by itself.  The workers also call read() on a pipe
 * that the main thread fills slowly, so EINTR is exercised on the test
 * side too, and checked: it must be the only error.
 *
 * A bounded count of operations, not a duration: the test ends when every
 * worker has done SIG_OPS operations.  Outcome: every block intact, exit 0.
 */
#include "fault_util.h"
#include "heapsight.h"
#include "hs_test.h"
#include "it_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

enum {
    SIG_WORKERS = 3,
    SIG_OPS = 60000,
    SIG_LIVE = 48,
    SIG_TIMER_US = 200,
    SIG_RING = 4096,
};

static atomic_ulong sig_count[NSIG]; /* atomic */
static atomic_ulong sig_errors;      /* atomic */
static atomic_bool sig_stop;         /* atomic */
static unsigned char *sig_ring;      /* preallocated; written by SIGUSR2 */
static atomic_uint sig_ring_pos;     /* atomic */
static pthread_t sig_workers[SIG_WORKERS];
static int sig_pipe[2];

static void
sig_handler(int sig)
{
    int saved = errno;
    atomic_fetch_add(&sig_count[sig], 1);
    errno = EAGAIN; /* a handler that clobbers errno must not matter */
    (void)getpid();
    errno = saved;
}

static void
sig_ring_handler(int sig)
{
    unsigned pos = atomic_fetch_add(&sig_ring_pos, 1) % SIG_RING;
    sig_ring[pos] = (unsigned char)sig;
    atomic_fetch_add(&sig_count[sig], 1);
}

static void
sig_install(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn; /* no SA_RESTART: interrupted calls see EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Reads one byte, retrying on EINTR; counts any other failure. */
static void
sig_read_byte(void)
{
    unsigned char c;
    for (;;) {
        ssize_t n = read(sig_pipe[0], &c, 1);
        if (n == 1)
            return;
        if (n < 0 && errno == EINTR)
            continue;
        atomic_fetch_add(&sig_errors, 1);
        return;
    }
}

static void *
sig_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 31337 + 1;
    unsigned char *live[SIG_LIVE] = {0};
    size_t len[SIG_LIVE] = {0};
    uint64_t seed[SIG_LIVE] = {0};
    unsigned bad = 0;
    for (int op = 0; op < SIG_OPS; op++) {
        size_t i = it_rand(&rng) % SIG_LIVE;
        uint64_t x = it_rand(&rng);
        if (live[i] != NULL) {
            bad += it_check(live[i], len[i], seed[i]) != len[i];
            free(live[i]);
        }
        len[i] = x % 64 == 0 ? (size_t)(x >> 16) % (1u << 20)
                             : (size_t)(x >> 16) % 2000;
        seed[i] = x;
        live[i] = (x & 0x10) ? calloc(1, len[i]) : malloc(len[i]);
        if (live[i] == NULL) {
            bad++;
            continue;
        }
        if ((x & 0x10) && it_check_byte(live[i], len[i], 0) != len[i])
            bad++;
        it_fill(live[i], len[i], seed[i]);
        if (op % 2000 == 0)
            sig_read_byte();
    }
    for (size_t i = 0; i < SIG_LIVE; i++) {
        if (live[i] != NULL)
            bad += it_check(live[i], len[i], seed[i]) != len[i];
        free(live[i]);
    }
    atomic_fetch_add(&sig_errors, bad);
    return NULL;
}

static void *
sig_bomber(void *arg)
{
    (void)arg;
    for (unsigned k = 0; !atomic_load(&sig_stop); k++) {
        pthread_kill(sig_workers[k % SIG_WORKERS],
                     k % 2 == 0 ? SIGUSR1 : SIGUSR2);
        if (k % 64 == 0)
            sched_yield();
    }
    return NULL;
}

HS_TEST(allocation_under_signals)
{
    fault_watchdog(100, "signals: workers stopped making progress");
    sig_ring = malloc(SIG_RING);
    HS_ASSERT_NE_PTR(sig_ring, NULL);
    memset(sig_ring, 0, SIG_RING);
    HS_ASSERT_EQ_INT(pipe(sig_pipe), 0);
    sig_install(SIGPROF, sig_handler);
    sig_install(SIGALRM, sig_handler);
    sig_install(SIGUSR1, sig_handler);
    sig_install(SIGUSR2, sig_ring_handler);
    struct itimerval it = {{0, SIG_TIMER_US}, {0, SIG_TIMER_US}};
    HS_ASSERT_EQ_INT(setitimer(ITIMER_PROF, &it, NULL), 0);
    HS_ASSERT_EQ_INT(setitimer(ITIMER_REAL, &it, NULL), 0);
    for (uintptr_t i = 0; i < SIG_WORKERS; i++)
        HS_ASSERT_EQ_INT(
            pthread_create(&sig_workers[i], NULL, sig_worker, (void *)i), 0);
    pthread_t bomber;
    HS_ASSERT_EQ_INT(pthread_create(&bomber, NULL, sig_bomber, NULL), 0);
    /* One byte per read the workers will do (they may block on it). */
    unsigned need = SIG_WORKERS * (SIG_OPS / 2000);
    for (unsigned k = 0; k < need; k++) {
        ssize_t n;
        do
            n = write(sig_pipe[1], "x", 1);
        while (n < 0 && errno == EINTR);
        HS_EXPECT_EQ_INT(n, 1);
    }
    for (int i = 0; i < SIG_WORKERS; i++) {
        int rc;
        do
            rc = pthread_join(sig_workers[i], NULL);
        while (rc == EINTR);
        HS_EXPECT_EQ_INT(rc, 0);
    }
    atomic_store(&sig_stop, true);
    HS_EXPECT_EQ_INT(pthread_join(bomber, NULL), 0);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, NULL);
    setitimer(ITIMER_REAL, &off, NULL);
    printf("  signals handled: SIGPROF %lu, SIGALRM %lu, SIGUSR1 %lu, "
           "SIGUSR2 %lu\n",
           atomic_load(&sig_count[SIGPROF]), atomic_load(&sig_count[SIGALRM]),
           atomic_load(&sig_count[SIGUSR1]), atomic_load(&sig_count[SIGUSR2]));
    HS_EXPECT_EQ_U64(atomic_load(&sig_errors), 0);
    /* The storm happened (counts vary; only their being non-zero is
     * asserted). */
    HS_EXPECT_GT_U64(atomic_load(&sig_count[SIGUSR1]), 0);
    HS_EXPECT_GT_U64(atomic_load(&sig_count[SIGUSR2]), 0);
    HS_EXPECT_GT_U64(atomic_load(&sig_count[SIGALRM]), 0);
    unsigned pos = atomic_load(&sig_ring_pos);
    HS_EXPECT_EQ_INT(sig_ring[(pos - 1) % SIG_RING], SIGUSR2);
    free(sig_ring);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
}

HS_TEST_MAIN()
