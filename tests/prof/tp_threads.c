/*
 * tp_threads.c — the profiler with threads and processes: fork while
 * sampling (another thread in dlopen), threads that exit with sampled
 * objects alive, and sampled objects freed by other threads.
 *
 * An hs_test program run by prof_test.py, which picks one test by name
 * (argv[1]) and sets HEAPSIGHT, TP_DIR and, for fork_dlopen, TP_DLIB (the
 * path of tp_dlib.so) and TP_NFORK.  The dumps the tests write into TP_DIR
 * are checked by the driver:
 *   thread_exit   exit-1.pb.gz: tp_exiting_site holds 50 live objects,
 *                 labelled thread "tp-exiting" (which has ended);
 *                 exit-2.pb.gz: after "tp-freer" freed them, none live.
 *   cross_free    cross.pb.gz: tp_cross_site allocated the objects and
 *                 requested bytes of the "cross truth" line (exactly at
 *                 prof_sample:1, within a few % when sampled), none live.
 *   fork_dlopen   child.<i>.pb.gz from every fourth child: a prof.dump
 *                 in a child forked while another thread was in dlopen.
 * What can be checked inside the process (hook counts, exit statuses,
 * hangs) is checked here.
 *
 * Threading: the queue of cross_free is a fixed ring under one mutex, so
 * the test's own bookkeeping never allocates.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapsight.h"
#include "heapsight_hook.h"
#include "hs_test.h"
#include "tp_util.h"

#define NOINLINE __attribute__((noinline))

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the free hook: counts frees of addresses in a watched set ---- */

enum { WATCH_MAX = 64 };
static void *watched[WATCH_MAX]; /* written before the hook is added */
static atomic_uint watched_frees;

static void
count_watched_free(void *ptr, size_t usize, void *arg)
{
    (void)usize;
    (void)arg;
    for (unsigned i = 0; i < WATCH_MAX; i++)
        if (watched[i] == ptr)
            atomic_fetch_add(&watched_frees, 1);
}

/* ---- thread_exit ---- */

enum { EXITING_N = 50 };
static void *exiting_objs[EXITING_N];

NOINLINE static void
tp_exiting_site(void)
{
    for (int i = 0; i < EXITING_N; i++) {
        exiting_objs[i] = malloc(3000);
        tp_keep(exiting_objs[i]);
    }
}

static void *
exiting_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "tp-exiting");
    tp_exiting_site();
    return NULL;
}

static void *
freeing_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "tp-freer");
    for (int i = 0; i < EXITING_N; i++)
        free(exiting_objs[i]);
    return NULL;
}

HS_TEST(thread_exit)
{
    pthread_t t;
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, exiting_thread, NULL), 0);
    HS_ASSERT_EQ_INT(pthread_join(t, NULL), 0);
    HS_EXPECT_EQ_INT(tp_dump_named("exit-1.pb.gz"), 0);
    for (int i = 0; i < EXITING_N; i++)
        watched[i] = exiting_objs[i];
    HS_ASSERT_EQ_INT(hs_sample_free_hook_add(count_watched_free, NULL), 0);
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, freeing_thread, NULL), 0);
    HS_ASSERT_EQ_INT(pthread_join(t, NULL), 0);
    HS_EXPECT_EQ_INT(hs_sample_free_hook_remove(count_watched_free, NULL), 0);
    /* At prof_sample:1 every object was sampled, so every free is seen. */
    HS_EXPECT_EQ_U64(atomic_load(&watched_frees), EXITING_N);
    HS_EXPECT_EQ_INT(tp_dump_named("exit-2.pb.gz"), 0);
}

/* ---- cross_free ---- */

enum { CROSS_PAIRS = 4, CROSS_EACH = 5000, RING = 256 };
#define CROSS_TOTAL (CROSS_PAIRS * CROSS_EACH)

static struct {
    pthread_mutex_t mtx;
    pthread_cond_t not_empty, not_full;
    void *slots[RING];    /* guarded by mtx */
    unsigned head, count; /* guarded by mtx */
} ring = {PTHREAD_MUTEX_INITIALIZER,
          PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER,
          {0},
          0,
          0};

static atomic_uint cross_sampled, cross_freed_sampled;
static atomic_uint cross_freed;
static atomic_ullong cross_bytes; /* bytes tp_cross_site was asked for */

static void
ring_put(void *p)
{
    pthread_mutex_lock(&ring.mtx);
    while (ring.count == RING)
        pthread_cond_wait(&ring.not_full, &ring.mtx);
    ring.slots[(ring.head + ring.count++) % RING] = p;
    pthread_cond_signal(&ring.not_empty);
    pthread_mutex_unlock(&ring.mtx);
}

static void *
ring_get(void)
{
    pthread_mutex_lock(&ring.mtx);
    while (ring.count == 0)
        pthread_cond_wait(&ring.not_empty, &ring.mtx);
    void *p = ring.slots[ring.head];
    ring.head = (ring.head + 1) % RING;
    ring.count--;
    pthread_cond_signal(&ring.not_full);
    pthread_mutex_unlock(&ring.mtx);
    return p;
}

/* Marks objects of tp_cross_site: their first word holds this tag. */
static const uintptr_t cross_tag = 0x7470637273736974u;
static __thread volatile bool in_cross_site;

static void
cross_sample_hook(void *ptr, size_t size, size_t usize,
                  const hs_frame_t *frames, unsigned nframes, void *arg)
{
    (void)ptr, (void)size, (void)usize, (void)frames, (void)nframes;
    (void)arg;
    if (in_cross_site)
        atomic_fetch_add(&cross_sampled, 1);
}

static void
cross_free_hook(void *ptr, size_t usize, void *arg)
{
    (void)arg;
    if (usize >= sizeof(uintptr_t) && *(uintptr_t *)ptr == cross_tag)
        atomic_fetch_add(&cross_freed_sampled, 1);
}

NOINLINE static void *
tp_cross_site(size_t size)
{
    in_cross_site = true;
    uintptr_t *p = malloc(size);
    in_cross_site = false;
    if (p != NULL)
        p[0] = cross_tag;
    return p;
}

static void *
producer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < CROSS_EACH; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 16 + (seed >> 8) % 20000;
        void *p = tp_cross_site(size);
        if (p == NULL)
            abort();
        atomic_fetch_add(&cross_bytes, size);
        ring_put(p);
    }
    return NULL;
}

static void *
consumer(void *arg)
{
    (void)arg;
    for (int i = 0; i < CROSS_EACH; i++) {
        uintptr_t *p = ring_get();
        if (p[0] != cross_tag)
            abort();
        free(p);
        atomic_fetch_add(&cross_freed, 1);
    }
    return NULL;
}

HS_TEST(cross_free)
{
    pthread_t prod[CROSS_PAIRS], cons[CROSS_PAIRS];
    HS_ASSERT_EQ_INT(hs_sample_hook_add(cross_sample_hook, NULL), 0);
    HS_ASSERT_EQ_INT(hs_sample_free_hook_add(cross_free_hook, NULL), 0);
    for (int i = 0; i < CROSS_PAIRS; i++) {
        HS_ASSERT_EQ_INT(pthread_create(&cons[i], NULL, consumer, NULL), 0);
        HS_ASSERT_EQ_INT(pthread_create(&prod[i], NULL, producer,
                                        (void *)(uintptr_t)(i + 1)),
                         0);
    }
    for (int i = 0; i < CROSS_PAIRS; i++) {
        pthread_join(prod[i], NULL);
        pthread_join(cons[i], NULL);
    }
    HS_EXPECT_EQ_INT(hs_sample_hook_remove(cross_sample_hook, NULL), 0);
    HS_EXPECT_EQ_INT(hs_sample_free_hook_remove(cross_free_hook, NULL), 0);
    HS_EXPECT_EQ_U64(atomic_load(&cross_freed), CROSS_TOTAL);
    /* Every sampled object was freed, by another thread, and seen. */
    HS_EXPECT_GT_U64(atomic_load(&cross_sampled), 0);
    HS_EXPECT_EQ_U64(atomic_load(&cross_freed_sampled),
                     atomic_load(&cross_sampled));
    printf("cross: %u of %u objects sampled\n", atomic_load(&cross_sampled),
           CROSS_TOTAL);
    printf("cross truth %u %llu\n", CROSS_TOTAL,
           (unsigned long long)atomic_load(&cross_bytes));
    HS_EXPECT_EQ_INT(tp_dump_named("cross.pb.gz"), 0);
}

/* ---- fork_dlopen ---- */

static atomic_bool stop_threads;
static atomic_ulong dl_rounds, alloc_rounds;

static void *
dl_loop(void *arg)
{
    const char *lib = arg;
    while (!atomic_load(&stop_threads)) {
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
            abort();
        }
        int (*work)(int) = (int (*)(int))dlsym(h, "tp_dlib_work");
        if (work == NULL || work(20) < 0)
            abort();
        dlclose(h);
        atomic_fetch_add(&dl_rounds, 1);
    }
    return NULL;
}

static void *
alloc_loop(void *arg)
{
    (void)arg;
    unsigned seed = 99;
    void *slots[64] = {0};
    while (!atomic_load(&stop_threads)) {
        seed = seed * 1103515245u + 12345u;
        unsigned i = (seed >> 8) % 64;
        free(slots[i]);
        slots[i] = malloc(16 + (seed >> 12) % 9000);
        atomic_fetch_add(&alloc_rounds, 1);
    }
    for (unsigned i = 0; i < 64; i++)
        free(slots[i]);
    return NULL;
}

/* Where a child is, written by the child into a page shared with the
 * parent, so that a hung child can be reported with its stage. */
enum { STAGE_FORKED, STAGE_SAMPLING, STAGE_DUMPING, STAGE_DONE };
static const char *const stage_names[] = {"forked", "sampling", "dumping",
                                          "done"};
static volatile int *child_stage;

NOINLINE static int
tp_child_work(int i)
{
    /* About 2 MB in small pieces: at prof_sample:1k, some 2,000 samples
     * unwound in the child (libgcc's unwinder after fork). */
    void *keep[100] = {0};
    *child_stage = STAGE_SAMPLING;
    for (int k = 0; k < 2000; k++) {
        int s = k % 100;
        free(keep[s]);
        keep[s] = malloc((size_t)(16 + (k * 37) % 2000));
        if (keep[s] == NULL)
            return 3;
    }
    /* Every fourth child dumps (a dump costs far more than the rest). */
    int rc = 0;
    if (i % 4 == 0) {
        *child_stage = STAGE_DUMPING;
        char name[64];
        snprintf(name, sizeof(name), "child.%d.pb.gz", i);
        rc = tp_dump_named(name) == 0 ? 0 : 4;
    }
    for (int s = 0; s < 100; s++)
        free(keep[s]);
    *child_stage = STAGE_DONE;
    return rc;
}

/* Waits up to timeout_ms for pid; kills it if it hangs.  Returns its
 * status, or -1 when it hung. */
static int
wait_or_kill(pid_t pid, long timeout_ms)
{
    int status;
    for (long waited = 0; waited < timeout_ms; waited++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -2;
        sleep_ms(1);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

HS_TEST(fork_dlopen)
{
    const char *lib = getenv("TP_DLIB");
    HS_ASSERT_NOT_NULL(lib);
    int nfork = getenv("TP_NFORK") ? atoi(getenv("TP_NFORK")) : 100;
    child_stage = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    HS_ASSERT_NE_PTR(child_stage, MAP_FAILED);
    pthread_t dl, al;
    HS_ASSERT_EQ_INT(pthread_create(&dl, NULL, dl_loop, (void *)lib), 0);
    HS_ASSERT_EQ_INT(pthread_create(&al, NULL, alloc_loop, NULL), 0);
    int hung = 0, failed = 0, forked = 0;
    for (int i = 0; i < nfork; i++, forked++) {
        /* Sample on this thread too, right up to the fork. */
        void *p = malloc((size_t)(1000 + i * 10));
        tp_keep(p);
        fflush(stdout);
        *child_stage = STAGE_FORKED;
        pid_t pid = fork();
        if (pid == 0) {
            /* _exit: glibc's own exit() can deadlock in a child forked
             * while another thread was in dlclose (its exit-handler and
             * loader locks); that is not the profiler's to test. */
            _exit(tp_child_work(i));
        }
        free(p);
        HS_ASSERT_GT_INT(pid, 0);
        int status = wait_or_kill(pid, 10000);
        if (status == -1) {
            hung++;
            printf("child %d (pid %d) hung while %s: killed\n", i, (int)pid,
                   stage_names[*child_stage]);
            if (hung == 3)
                break; /* enough to tell; keep the test's time bounded */
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
            printf("child %d (pid %d) ended with status 0x%x\n", i, (int)pid,
                   status);
        }
    }
    atomic_store(&stop_threads, true);
    pthread_join(dl, NULL);
    pthread_join(al, NULL);
    printf("forks %d, dlopen rounds %lu, alloc rounds %lu\n", forked,
           atomic_load(&dl_rounds), atomic_load(&alloc_rounds));
    HS_EXPECT_EQ_INT(hung, 0);
    HS_EXPECT_EQ_INT(failed, 0);
    HS_EXPECT_GT_U64(atomic_load(&dl_rounds), 0);
}

HS_TEST_MAIN()
