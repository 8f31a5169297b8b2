/*
 * burst.c — a service between request bursts: how much resident memory
 * the allocator gives back while idle, and how fast the bursts run.
 *
 * Owns: the burst benchmark only, including its own RSS timeline (the
 * runner's wait4 sees the peak only; the point here is what comes after
 * the peak).  Does not own: repetitions, medians or the comparison table
 * (bench/rss_decay.sh does those).
 *
 * Shape: `threads` worker threads, each with a long-lived set of `live`
 * small objects (16..1024 B) kept for the whole run, then `cycles` times:
 *  - BURST: each thread, `waves` times, builds its share of a working set
 *    of `burst_mib` MiB (all threads together): small 16..1024 B objects
 *    and, for `large_pct` percent of the bytes, 64 KiB..4 MiB buffers,
 *    every word written; a malloc/free temporary every 4th small object;
 *    one live object replaced every `churn` allocations (so the long-lived
 *    set ends up among the burst's pages, as it does in a real service).
 *    Then one read pass over the whole set (the checksum), then frees it
 *    in a shuffled order.  Burst time = last thread done - first started.
 *  - IDLE for `idle_ms`: every `tick_ms` each thread does `idle_allocs`
 *    small malloc/free pairs and replaces a few live objects (0: sleeps
 *    only), like a service between bursts.  An allocator that purges only
 *    from allocating threads sees some traffic; one that needs a
 *    background thread is visible with idle_allocs=0.
 * At the end the workers free their live sets and exit.
 *
 * Measuring: a sampler thread reads /proc/self/statm every `sample_ms`
 * (with open/read, so it never calls the allocator under test) and tags
 * each sample with the phase.  The main thread reads it once more at the
 * end of every idle period (just before the next burst), and once after
 * the workers have drained and exited.  Reported on the checksum line, in
 * KiB:
 *   base_kib       after the live sets are allocated, before burst 1
 *   peak_kib       ru_maxrss (the high-water mark, exact)
 *   idle_end_kib   mean of the RSS at the end of the idle periods that a
 *                  burst follows (all but the last; with cycles=1, the
 *                  one); idle_ends_kib lists every idle period's end
 *   final_kib      at the end of the last idle period (workers alive,
 *                  live sets held: the service's steady state)
 *   idle_mean_kib  mean of all samples taken during idle periods;
 *                  idle_means_kib per cycle
 *   exit_kib       after the workers freed their live sets and exited
 *                  (some allocators purge everything when a thread
 *                  exits: jemalloc without background threads does, for
 *                  an arena left with no thread)
 *   burst_s        total burst time (the throughput figure; idles
 *                  excluded); bursts_s per cycle
 * timeline=1 adds one "timeline <t_ms> <rss_kib> <phase> <cycle>" line per
 * sample after the checksum line.
 *
 * Bookkeeping (object indexes, the sample buffer) is mmap'd, not malloc'd,
 * so it costs every allocator the same pages; the object indexes are
 * given back (MADV_DONTNEED) at the end of each burst so idle RSS is the
 * allocator's.
 *
 * Checksum: the words of every burst object, read back in the work pass;
 * per-thread deterministic (one PRNG per thread, burst work only), so the
 * total is too.  Idle work is timing-dependent, so it stays out of the
 * checksum; live objects are checked for corruption (exit 4) instead.
 *
 * Locking: the phase, the count of idle periods over and the stop flag
 * are atomics written by main (a count, not a flag: a flag cleared and
 * set again between two idle ticks would go unseen); per-thread fields
 * are owner thread only, read by main after join; the samples are the
 * sampler's only, read by main after join.
 */
#include "bench_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum {
    BURST_SMALL_MIN = 16,
    BURST_SMALL_MAX = 1024,
    BURST_LARGE_MIN = 64 << 10,
    BURST_LARGE_MAX = 4 << 20,
    BURST_TEMP_EVERY = 4,    /* a temporary per this many small objects */
    BURST_IDLE_REPLACE = 16, /* idle: a live object per this many pairs */
    BURST_MAX_CYCLES = 1000,
};

typedef enum burst_phase_e {
    BURST_SETUP,
    BURST_BURST,
    BURST_IDLE,
    BURST_DRAIN,
} burst_phase_t;

static const char *const burst_phase_name[] = {"setup", "burst", "idle",
                                               "drain"};

/* One RSS sample. */
typedef struct burst_sample_s {
    uint32_t t_ms;
    uint32_t rss_kib;
    uint8_t phase;
    uint16_t cycle;
} burst_sample_t;

typedef struct burst_thread_s {
    pthread_t tid;
    long index;       /* seeds the thread's PRNGs */
    uint64_t **objs;  /* burst objects; mmap'd; owner thread only */
    size_t objs_cap;  /* entries objs can hold */
    uint64_t **live;  /* long-lived objects; mmap'd; owner thread only */
    uint64_t sum;     /* owner thread only; read by main after join */
    long corrupt;     /* owner thread only; read by main after join */
    int64_t *t_start; /* per cycle, ns; owner thread only */
    int64_t *t_end;   /* per cycle, ns; owner thread only */
} burst_thread_t;

static long burst_threads, burst_cycles, burst_mib, burst_large_pct,
    burst_waves, burst_idle_ms, burst_idle_allocs, burst_tick_ms, burst_live,
    burst_churn, burst_sample_ms, burst_timeline;

static pthread_barrier_t burst_go;   /* main + workers: start a phase */
static pthread_barrier_t burst_done; /* main + workers: a burst ended */
static atomic_int burst_phase;       /* burst_phase_t; atomic */
static atomic_int burst_cycle;       /* atomic */
static atomic_long burst_idles_over; /* idle periods ended; atomic */
static atomic_bool burst_stop;       /* sampler stops when set; atomic */
static long burst_page_kib;

static burst_sample_t *burst_samples; /* sampler only until joined */
static size_t burst_nsamples, burst_samples_cap, burst_dropped;
static int64_t burst_t0_ns;

/* Sleeps until the monotonic time t_ns.  The clock decides, not the return
 * value: a debugger attaching (gdb calling malloc_stats, say) can end the
 * sleep early without EINTR. */
static void
burst_sleep_until(int64_t t_ns)
{
    struct timespec ts = {t_ns / 1000000000, t_ns % 1000000000};
    while (bench_now_ns() < t_ns)
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Zeroed anonymous memory outside the allocator under test. */
static void *
burst_map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "burst: mmap(%zu) failed\n", bytes);
        exit(3);
    }
    return p;
}

/* Current RSS in KiB, without stdio (fopen would call malloc). */
static long
burst_rss_kib(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end;
    strtol(buf, &end, 10);
    return strtol(end, NULL, 10) * burst_page_kib;
}

/*
 * An object: word 0 a value v, word 1 the size, word i >= 2 v + i.  Sizes
 * are >= 16, so the first two words always exist.
 */
static uint64_t *
burst_new(size_t size, uint64_t v)
{
    uint64_t *p = bench_xmalloc(size);
    size_t words = size / sizeof(uint64_t);
    p[0] = v;
    p[1] = size;
    for (size_t i = 2; i < words; i++)
        p[i] = v + i;
    return p;
}

/* True when the object's words are as burst_new wrote them. */
static bool
burst_intact(const uint64_t *p)
{
    size_t words = (size_t)p[1] / sizeof(uint64_t);
    return p[1] >= BURST_SMALL_MIN &&
           (words < 3 || p[words - 1] == p[0] + words - 1);
}

/* The work over one object: every word read. */
static uint64_t
burst_read(const uint64_t *p)
{
    size_t words = (size_t)p[1] / sizeof(uint64_t);
    uint64_t s = 0;
    for (size_t i = 0; i < words; i++)
        s += p[i] ^ (s >> 7);
    return bench_mix(s);
}

/* Frees a live (or temporary) object after checking it. */
static void
burst_release(burst_thread_t *self, uint64_t *p)
{
    if (!burst_intact(p))
        self->corrupt++;
    free(p);
}

static void
burst_replace_live(burst_thread_t *self, bench_rng_t *rng)
{
    size_t j = (size_t)bench_rng_range(rng, 0, (uint64_t)burst_live - 1);
    size_t size = bench_rng_logsize(rng, BURST_SMALL_MIN, BURST_SMALL_MAX);
    burst_release(self, self->live[j]);
    self->live[j] = burst_new(size, bench_rng_next(rng));
}

/* Builds one wave's working set into self->objs; returns its count. */
static size_t
burst_build(burst_thread_t *self, bench_rng_t *rng, uint64_t budget)
{
    uint64_t total = 0, large = 0;
    size_t n = 0, nsmall = 0;
    while (total < budget && n < self->objs_cap) {
        size_t size;
        if (large * 100 < (uint64_t)burst_large_pct * total) {
            size = bench_rng_logsize(rng, BURST_LARGE_MIN, BURST_LARGE_MAX);
            large += size;
        } else {
            size = bench_rng_logsize(rng, BURST_SMALL_MIN, BURST_SMALL_MAX);
            if (++nsmall % BURST_TEMP_EVERY == 0) {
                size_t tsize =
                    bench_rng_logsize(rng, BURST_SMALL_MIN, BURST_SMALL_MAX);
                burst_release(self, burst_new(tsize, nsmall));
            }
        }
        total += size;
        self->objs[n++] = burst_new(size, bench_rng_next(rng));
        if (burst_churn > 0 && n % (size_t)burst_churn == 0)
            burst_replace_live(self, rng);
    }
    return n;
}

/* One wave: build, read everything, free in a shuffled order. */
static void
burst_wave(burst_thread_t *self, bench_rng_t *rng, uint64_t budget)
{
    size_t n = burst_build(self, rng, budget);
    for (size_t i = 0; i < n; i++)
        self->sum += burst_read(self->objs[i]);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)bench_rng_range(rng, 0, i - 1);
        uint64_t *t = self->objs[i - 1];
        self->objs[i - 1] = self->objs[j];
        self->objs[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        burst_release(self, self->objs[i]);
}

/* One idle tick: small malloc/free pairs, a few live objects replaced. */
static void
burst_idle_tick(burst_thread_t *self, bench_rng_t *rng)
{
    for (long k = 0; k < burst_idle_allocs; k++) {
        size_t size = bench_rng_logsize(rng, BURST_SMALL_MIN, BURST_SMALL_MAX);
        burst_release(self, burst_new(size, (uint64_t)k));
        if (k % BURST_IDLE_REPLACE == BURST_IDLE_REPLACE - 1)
            burst_replace_live(self, rng);
    }
}

/* Idle period c: ticks until main ends it. */
static void
burst_idle(burst_thread_t *self, bench_rng_t *rng, long c)
{
    int64_t next = bench_now_ns();
    while (atomic_load(&burst_idles_over) <= c) {
        burst_idle_tick(self, rng);
        next += burst_tick_ms * 1000000;
        burst_sleep_until(next);
    }
}

static void *
burst_thread(void *arg)
{
    burst_thread_t *self = arg;
    bench_rng_t rng = {bench_mix((uint64_t)self->index + 1)};
    bench_rng_t idle_rng = {bench_mix((uint64_t)self->index + 1000003)};
    uint64_t budget = ((uint64_t)burst_mib << 20) / (uint64_t)burst_threads;
    for (long i = 0; i < burst_live; i++) {
        size_t size = bench_rng_logsize(&rng, BURST_SMALL_MIN, BURST_SMALL_MAX);
        self->live[i] = burst_new(size, bench_rng_next(&rng));
    }
    pthread_barrier_wait(&burst_done);
    for (long c = 0; c < burst_cycles; c++) {
        pthread_barrier_wait(&burst_go);
        self->t_start[c] = bench_now_ns();
        for (long w = 0; w < burst_waves; w++)
            burst_wave(self, &rng, budget);
        self->t_end[c] = bench_now_ns();
        /* The index goes back to the kernel: idle RSS is the allocator's. */
        madvise(self->objs, self->objs_cap * sizeof(*self->objs),
                MADV_DONTNEED);
        pthread_barrier_wait(&burst_done);
        burst_idle(self, &idle_rng, c);
    }
    pthread_barrier_wait(&burst_go);
    for (long i = 0; i < burst_live; i++)
        burst_release(self, self->live[i]);
    return NULL;
}

static void *
burst_sampler(void *arg)
{
    (void)arg;
    int64_t next = bench_now_ns();
    while (!atomic_load(&burst_stop)) {
        long rss = burst_rss_kib();
        if (burst_nsamples < burst_samples_cap) {
            burst_sample_t *s = &burst_samples[burst_nsamples++];
            s->t_ms = (uint32_t)((bench_now_ns() - burst_t0_ns) / 1000000);
            s->rss_kib = (uint32_t)(rss < 0 ? 0 : rss);
            s->phase = (uint8_t)atomic_load(&burst_phase);
            s->cycle = (uint16_t)atomic_load(&burst_cycle);
        } else {
            burst_dropped++;
        }
        next += burst_sample_ms * 1000000;
        burst_sleep_until(next);
    }
    return NULL;
}

static void
burst_params(int argc, char **argv)
{
    bench_param_t params[] = {
        {"threads", 2, "worker threads"},
        {"cycles", 3, "burst + idle cycles"},
        {"burst_mib", 320, "working set of a burst, MiB, all threads"},
        {"large_pct", 40, "percent of burst bytes in 64K..4M buffers"},
        {"waves", 3, "working sets built and freed per burst"},
        {"idle_ms", 12000, "idle period after each burst, ms"},
        {"idle_allocs", 200, "idle malloc/free pairs per thread per tick"},
        {"tick_ms", 10, "idle tick, ms"},
        {"live", 16384, "long-lived small objects per thread"},
        {"churn", 256, "burst: a live object replaced per N allocs"},
        {"sample_ms", 100, "RSS sampling interval, ms"},
        {"timeline", 0, "1: print every RSS sample after the report"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "bursts then idle periods; RSS given back while idle");
    burst_threads = bench_param(params, "threads");
    burst_cycles = bench_param(params, "cycles");
    burst_mib = bench_param(params, "burst_mib");
    burst_large_pct = bench_param(params, "large_pct");
    burst_waves = bench_param(params, "waves");
    burst_idle_ms = bench_param(params, "idle_ms");
    burst_idle_allocs = bench_param(params, "idle_allocs");
    burst_tick_ms = bench_param(params, "tick_ms");
    burst_live = bench_param(params, "live");
    burst_churn = bench_param(params, "churn");
    burst_sample_ms = bench_param(params, "sample_ms");
    burst_timeline = bench_param(params, "timeline");
    if (burst_threads < 1 || burst_cycles < 1 ||
        burst_cycles > BURST_MAX_CYCLES || burst_mib < 1 ||
        burst_large_pct < 0 || burst_large_pct > 100 || burst_waves < 1 ||
        burst_idle_ms < 0 || burst_idle_allocs < 0 || burst_tick_ms < 1 ||
        burst_live < 1 || burst_churn < 0 || burst_sample_ms < 1) {
        fprintf(stderr, "burst: bad parameters (try --help)\n");
        exit(2);
    }
}

static void
burst_thread_init(burst_thread_t *t, long index)
{
    uint64_t budget = ((uint64_t)burst_mib << 20) / (uint64_t)burst_threads;
    t->index = index;
    /* Every object is >= 16 bytes, so budget / 16 entries always do. */
    t->objs_cap = (size_t)(budget / BURST_SMALL_MIN) + 1;
    t->objs = burst_map(t->objs_cap * sizeof(*t->objs));
    t->live = burst_map((size_t)burst_live * sizeof(*t->live));
    t->t_start = burst_map((size_t)burst_cycles * sizeof(int64_t));
    t->t_end = burst_map((size_t)burst_cycles * sizeof(int64_t));
}

/* Burst time of cycle c: last thread done - first thread started. */
static double
burst_cycle_s(const burst_thread_t *threads, long c)
{
    int64_t start = threads[0].t_start[c], end = threads[0].t_end[c];
    for (long t = 1; t < burst_threads; t++) {
        if (threads[t].t_start[c] < start)
            start = threads[t].t_start[c];
        if (threads[t].t_end[c] > end)
            end = threads[t].t_end[c];
    }
    return (double)(end - start) / 1e9;
}

/* Mean RSS of the idle samples of cycle c (all cycles when c < 0). */
static long
burst_idle_mean(long c)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < burst_nsamples; i++) {
        const burst_sample_t *s = &burst_samples[i];
        if (s->phase == BURST_IDLE && (c < 0 || s->cycle == c)) {
            sum += s->rss_kib;
            n++;
        }
    }
    return n ? (long)(sum / (double)n + 0.5) : -1;
}

/* Appends printf-style text to buf (of size cap) at *len. */
static void burst_append(char *buf, size_t cap, size_t *len, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

static void
burst_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

static void
burst_print(const burst_thread_t *threads, uint64_t sum, long base_kib,
            const long *idle_end, long exit_kib)
{
    static char extra[8192];
    size_t len = 0, cap = sizeof(extra);
    double burst_s = 0, idle_end_sum = 0;
    long nfollowed = burst_cycles > 1 ? burst_cycles - 1 : 1;
    for (long c = 0; c < burst_cycles; c++)
        burst_s += burst_cycle_s(threads, c);
    for (long c = 0; c < nfollowed; c++)
        idle_end_sum += (double)idle_end[c];
    burst_append(
        extra, cap, &len,
        "threads=%ld cycles=%ld burst_mib=%ld waves=%ld "
        "idle_ms=%ld idle_allocs=%ld base_kib=%ld peak_kib=%ld "
        "idle_end_kib=%ld final_kib=%ld idle_mean_kib=%ld "
        "exit_kib=%ld burst_s=%.3f",
        burst_threads, burst_cycles, burst_mib, burst_waves, burst_idle_ms,
        burst_idle_allocs, base_kib, bench_peak_rss_kib(),
        (long)(idle_end_sum / (double)nfollowed + 0.5),
        idle_end[burst_cycles - 1], burst_idle_mean(-1), exit_kib, burst_s);
    const char *sep = " idle_ends_kib=";
    for (long c = 0; c < burst_cycles; c++, sep = ",")
        burst_append(extra, cap, &len, "%s%ld", sep, idle_end[c]);
    sep = " idle_means_kib=";
    for (long c = 0; c < burst_cycles; c++, sep = ",")
        burst_append(extra, cap, &len, "%s%ld", sep, burst_idle_mean(c));
    sep = " bursts_s=";
    for (long c = 0; c < burst_cycles; c++, sep = ",")
        burst_append(extra, cap, &len, "%s%.3f", sep,
                     burst_cycle_s(threads, c));
    burst_append(extra, cap, &len, " samples=%zu", burst_nsamples);
    if (burst_dropped)
        burst_append(extra, cap, &len, " samples_dropped=%zu", burst_dropped);
    bench_report("burst", sum, extra);
}

static void
burst_print_timeline(void)
{
    for (size_t i = 0; i < burst_nsamples; i++) {
        const burst_sample_t *s = &burst_samples[i];
        printf("timeline %u %u %s %u\n", s->t_ms, s->rss_kib,
               burst_phase_name[s->phase], (unsigned)s->cycle);
    }
    fflush(stdout);
}

/*
 * The main thread's part: phases, idle timing, idle-end RSS.  Returns the
 * RSS once the live sets are allocated, before burst 1.
 */
static long
burst_drive(long *idle_end)
{
    pthread_barrier_wait(&burst_done); /* live sets allocated */
    long base_kib = burst_rss_kib();
    for (long c = 0; c < burst_cycles; c++) {
        atomic_store(&burst_cycle, (int)c);
        atomic_store(&burst_phase, BURST_BURST);
        pthread_barrier_wait(&burst_go);
        pthread_barrier_wait(&burst_done);
        atomic_store(&burst_phase, BURST_IDLE);
        burst_sleep_until(bench_now_ns() + burst_idle_ms * 1000000);
        idle_end[c] = burst_rss_kib();
        atomic_store(&burst_idles_over, c + 1);
    }
    atomic_store(&burst_phase, BURST_DRAIN);
    pthread_barrier_wait(&burst_go);
    return base_kib;
}

int
main(int argc, char **argv)
{
    burst_params(argc, argv);
    burst_page_kib = sysconf(_SC_PAGESIZE) / 1024;
    burst_t0_ns = bench_now_ns();
    /* Room for the idles, plus a minute per burst and for the rest. */
    burst_samples_cap =
        (size_t)((burst_cycles * (burst_idle_ms + 60000) + 60000) /
                 burst_sample_ms);
    burst_samples = burst_map(burst_samples_cap * sizeof(*burst_samples));
    pthread_barrier_init(&burst_go, NULL, (unsigned)burst_threads + 1);
    pthread_barrier_init(&burst_done, NULL, (unsigned)burst_threads + 1);
    burst_thread_t *threads =
        burst_map((size_t)burst_threads * sizeof(*threads));
    long *idle_end = burst_map((size_t)burst_cycles * sizeof(long));
    pthread_t sampler;
    pthread_create(&sampler, NULL, burst_sampler, NULL);
    for (long t = 0; t < burst_threads; t++) {
        burst_thread_init(&threads[t], t);
        pthread_create(&threads[t].tid, NULL, burst_thread, &threads[t]);
    }
    long base_kib = burst_drive(idle_end);
    uint64_t sum = 0;
    long corrupt = 0;
    for (long t = 0; t < burst_threads; t++) {
        pthread_join(threads[t].tid, NULL);
        sum += threads[t].sum;
        corrupt += threads[t].corrupt;
    }
    long exit_kib = burst_rss_kib();
    atomic_store(&burst_stop, true);
    pthread_join(sampler, NULL);
    if (corrupt) {
        fprintf(stderr, "burst: %ld corrupt objects\n", corrupt);
        return 4;
    }
    burst_print(threads, sum, base_kib, idle_end, exit_kib);
    if (burst_timeline)
        burst_print_timeline();
    return 0;
}
