/*
 * soak.c — a long mixed-allocation run: does resident memory stay flat
 * while the live set does, and does every block keep its contents?
 *
 * Owns: the soak workload, its RSS timeline and the trend it reports.
 * Does not own: running it under each allocator or the comparison table
 * (bench/soak.sh does those).  A benchmark, not a test: it runs for hours
 * by default and asserts nothing about time.
 *
 * Shape: `threads` workers (default 8), each owning `slots` slots (its
 * share of the steady-state working set).  One step picks a random slot;
 * if it holds a block, the block is verified and then freed (85%), walked
 * through realloc (5%: 1..8 resizes by x0.5..x2, the kept prefix verified
 * after each), or handed to another thread through the shared handoff
 * queue (10%), which frees it; then the slot gets a new block.  Each step
 * also takes one block from the queue, if any.  Sizes are heavy-tailed:
 * 90% 8..512 B, 9% 512 B..64 KiB, 0.9% 64 KiB..1 MiB, 0.1% 1..4 MiB (each
 * log-uniform).  Every `burst_s` seconds on average (random, per thread)
 * a worker allocates a burst of `burst` extra blocks of 16 B..16 KiB,
 * verifies them and releases them in a shuffled order.
 *
 * Contents: every block is filled with a pattern derived from its own
 * seed (thread, sequence number) and the byte offset, written at
 * allocation and verified at free, at each realloc step (the kept
 * prefix) and by the thread that frees a handed-off block.  A mismatch
 * prints the block, offset and bytes and aborts (exit by SIGABRT).
 *
 * Measuring: the main thread reads /proc/self/statm once a second (with
 * open/read, never the allocator under test) and prints a progress line
 * every `report` seconds on stderr: elapsed time, ops/s over the last
 * interval, RSS and the live bytes the workers hold.  At the end the
 * workers stop, free everything and exit; stdout gets one summary line
 *   soak threads=.. seconds=.. ops=.. ops_per_s=.. rss10_kib=..
 *   rss_end_kib=.. rss_ratio=.. slope_kib_h=.. slope_se_kib_h=..
 *   ws_kib=.. slope_pct_h=.. growth_pct=.. peak_kib=.. flat=yes|no
 * rss10: mean RSS over samples 9..11% into the run; rss_end: mean over
 * the last 2%; slope: least-squares slope of RSS against time over the
 * second half (KiB/hour), slope_se its standard error; ws: mean live
 * bytes requested over the second half (the working set); slope_pct_h:
 * the slope as a percentage of the working set per hour; growth_pct:
 * the fitted change over the second half as a percentage of the working
 * set; flat=yes when that is under 10%.  A second line,
 * "quarters rss_q_kib=a,b,c,d", gives the mean RSS of each quarter of the
 * run.  (Bursts and the few blocks of
 * MiBs make RSS swing by tens of MiB within minutes: over a short run
 * the slope is mostly that noise, which slope_se shows.)  timeline=1
 * also prints every sample as
 * "timeline <s> <rss_kib> <live_kib>" after the summary.
 *
 * Bookkeeping (slots, queue, samples) is mmap'd, not malloc'd, so it
 * costs every allocator the same pages.  Threads: the queue is guarded
 * by its mutex; counters are atomics (relaxed); each worker's slots are
 * owner thread only.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static bench_param_t soak_params[] = {
    {"threads", 8, "worker threads"},
    {"seconds", 7200, "run length (--quick: 60)"},
    {"slots", 2048, "steady-state blocks per thread"},
    {"report", 60, "seconds between progress lines (--quick: 5)"},
    {"burst", 10000, "blocks per burst"},
    {"burst_s", 30, "mean seconds between a thread's bursts"},
    {"queue", 4096, "handoff queue capacity (blocks)"},
    {"timeline", 0, "1: print every 1 s RSS sample at the end"},
    {"seed", 1, "PRNG seed"},
    {NULL, 0, NULL},
};

/* ---- the content pattern ---- */

/* Byte off of the pattern of seed: byte off%8 of a word that depends on
 * the seed and on the word index, so a shifted or stale copy fails. */
static inline uint8_t
pat_byte(uint64_t seed, size_t off)
{
    uint64_t w = seed + (uint64_t)(off >> 3) * UINT64_C(0x9e3779b97f4a7c15);
    return (uint8_t)(w >> ((off & 7) * 8));
}

static void
pat_fill(unsigned char *p, size_t from, size_t to, uint64_t seed)
{
    size_t i = from;
    for (; i < to && (i & 7) != 0; i++)
        p[i] = pat_byte(seed, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = seed + (uint64_t)(i >> 3) * UINT64_C(0x9e3779b97f4a7c15);
        memcpy(p + i, &w, 8);
    }
    for (; i < to; i++)
        p[i] = pat_byte(seed, i);
}

static void
pat_check(const unsigned char *p, size_t n, uint64_t seed, const char *what)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = seed + (uint64_t)(i >> 3) * UINT64_C(0x9e3779b97f4a7c15);
        if (memcmp(p + i, &w, 8) != 0)
            break;
    }
    for (; i < n; i++) {
        if (p[i] != pat_byte(seed, i)) {
            fprintf(stderr,
                    "soak: %s: block %p (%zu bytes) corrupted at offset "
                    "%zu: expected 0x%02x, found 0x%02x\n",
                    what, (const void *)p, n, i, pat_byte(seed, i), p[i]);
            abort();
        }
    }
}

/* ---- blocks, the handoff queue, the workers ---- */

typedef struct blk_s {
    unsigned char *p;
    size_t size;
    uint64_t seed;
} blk_t;

typedef struct queue_s {
    pthread_mutex_t lock;
    blk_t *ring;             /* guarded by lock */
    size_t cap, head, count; /* guarded by lock */
} queue_t;

static queue_t soak_queue;
static atomic_bool soak_stop;
static atomic_long soak_live_bytes; /* bytes requested, all threads */
static atomic_ulong soak_ops;       /* allocations + frees + reallocs */

static void *
soak_map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("soak: mmap");
        exit(3);
    }
    return p;
}

static bool
queue_push(blk_t b)
{
    queue_t *q = &soak_queue;
    bool ok = false;
    pthread_mutex_lock(&q->lock);
    if (q->count < q->cap) {
        q->ring[(q->head + q->count++) % q->cap] = b;
        ok = true;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static bool
queue_pop(blk_t *r_b)
{
    queue_t *q = &soak_queue;
    bool ok = false;
    pthread_mutex_lock(&q->lock);
    if (q->count > 0) {
        *r_b = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        ok = true;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

typedef struct worker_s {
    unsigned id;
    bench_rng_t rng;
    uint64_t seq; /* blocks made: with id, each block's seed */
    blk_t *slots; /* owner thread only */
    size_t nslots;
    blk_t *burst; /* owner thread only */
    size_t nburst;
    double burst_s;
    pthread_t thread;
} worker_t;

static size_t
soak_size(bench_rng_t *rng)
{
    uint64_t r = bench_rng_range(rng, 0, 999);
    if (r < 900)
        return bench_rng_logsize(rng, 8, 512);
    if (r < 990)
        return bench_rng_logsize(rng, 512, 64 << 10);
    if (r < 999)
        return bench_rng_logsize(rng, 64 << 10, 1 << 20);
    return bench_rng_logsize(rng, 1 << 20, 4 << 20);
}

static blk_t
blk_new(worker_t *w, size_t size)
{
    blk_t b = {bench_xmalloc(size), size,
               bench_mix(((uint64_t)w->id << 48) ^ ++w->seq)};
    pat_fill(b.p, 0, size, b.seed);
    atomic_fetch_add_explicit(&soak_live_bytes, (long)size,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&soak_ops, 1, memory_order_relaxed);
    return b;
}

static void
blk_free(blk_t *b, const char *what)
{
    pat_check(b->p, b->size, b->seed, what);
    free(b->p);
    atomic_fetch_sub_explicit(&soak_live_bytes, (long)b->size,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&soak_ops, 1, memory_order_relaxed);
    b->p = NULL;
}

/* 1..8 resizes by x0.5..x2 (1 B .. 4 MiB), the kept prefix verified and
 * the grown part filled after each. */
static void
realloc_walk(worker_t *w, blk_t *b)
{
    unsigned steps = (unsigned)bench_rng_range(&w->rng, 1, 8);
    for (unsigned s = 0; s < steps; s++) {
        size_t old = b->size;
        size_t want = old / 2 + bench_rng_range(&w->rng, 0, old + old / 2);
        want = want < 1 ? 1 : want > (4u << 20) ? (4u << 20) : want;
        unsigned char *q = realloc(b->p, want);
        if (q == NULL) {
            fprintf(stderr, "soak: realloc(%zu) failed\n", want);
            exit(3);
        }
        b->p = q;
        b->size = want;
        pat_check(q, old < want ? old : want, b->seed, "after realloc");
        if (want > old)
            pat_fill(q, old, want, b->seed);
        atomic_fetch_add_explicit(&soak_live_bytes, (long)want - (long)old,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&soak_ops, 1, memory_order_relaxed);
    }
}

/* A burst: nburst extra blocks, verified, then released shuffled. */
static void
burst(worker_t *w)
{
    for (size_t i = 0; i < w->nburst; i++)
        w->burst[i] = blk_new(w, bench_rng_logsize(&w->rng, 16, 16 << 10));
    for (size_t i = w->nburst; i > 1; i--) {
        size_t j = (size_t)bench_rng_range(&w->rng, 0, i - 1);
        blk_t t = w->burst[i - 1];
        w->burst[i - 1] = w->burst[j];
        w->burst[j] = t;
    }
    for (size_t i = 0; i < w->nburst; i++)
        blk_free(&w->burst[i], "burst release");
}

/* One step on a random slot: retire its block (free, realloc walk or
 * handoff), refill it, and free one handed-off block if there is one. */
static void
step(worker_t *w)
{
    blk_t *b = &w->slots[bench_rng_range(&w->rng, 0, w->nslots - 1)];
    if (b->p != NULL) {
        uint64_t r = bench_rng_range(&w->rng, 0, 99);
        if (r < 5) {
            realloc_walk(w, b);
            return;
        }
        if (r < 15 && queue_push(*b))
            b->p = NULL;
        else
            blk_free(b, "free");
    }
    *b = blk_new(w, soak_size(&w->rng));
    blk_t h;
    if (queue_pop(&h))
        blk_free(&h, "handoff free");
}

/* When the next burst is due: burst_s x 0.5..1.5 from t. */
static double
next_burst_at(worker_t *w, double t)
{
    double r = (double)bench_rng_range(&w->rng, 0, 1000) / 1000.0;
    return t + w->burst_s * (0.5 + r);
}

static void *
worker_main(void *arg)
{
    worker_t *w = arg;
    double next_burst = next_burst_at(w, ((double)bench_now_ns() * 1e-9));
    while (!atomic_load_explicit(&soak_stop, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++)
            step(w);
        double t = ((double)bench_now_ns() * 1e-9);
        if (w->nburst > 0 && t >= next_burst) {
            burst(w);
            next_burst = next_burst_at(w, ((double)bench_now_ns() * 1e-9));
        }
    }
    for (size_t i = 0; i < w->nslots; i++)
        if (w->slots[i].p != NULL)
            blk_free(&w->slots[i], "final free");
    return NULL;
}

/* ---- measuring ---- */

/* Resident set in KiB from /proc/self/statm, read without the allocator;
 * -1 if unreadable. */
static long
rss_kib(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *s = strchr(buf, ' ');
    return s == NULL ? -1
                     : strtol(s + 1, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct sample_s {
    double t;
    long rss_kib;
    long live_kib;
} sample_t;

/* Mean RSS of the samples with t in [lo, hi]; with none there (a short
 * run), the sample nearest to lo; -1 without samples. */
static double
mean_rss(const sample_t *s, size_t n, double lo, double hi)
{
    double sum = 0;
    size_t k = 0, near = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].t >= lo && s[i].t <= hi) {
            sum += (double)s[i].rss_kib;
            k++;
        }
        double d = s[i].t - lo, dn = s[near].t - lo;
        if (d * d < dn * dn)
            near = i;
    }
    if (k == 0)
        return n == 0 ? -1 : (double)s[near].rss_kib;
    return sum / (double)k;
}

/* The least-squares fit of RSS against time over the samples with t >=
 * from: slope (KiB/s) and its standard error (the samples are
 * autocorrelated, so it understates the uncertainty: a scale, not a
 * bound), mean RSS and mean live KiB there. */
typedef struct fit_s {
    double slope, se, mean_rss, mean_live;
} fit_t;

static fit_t
fit_rss(const sample_t *s, size_t n, double from)
{
    double st = 0, sr = 0, sl = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].t >= from) {
            st += s[i].t;
            sr += (double)s[i].rss_kib;
            sl += (double)s[i].live_kib;
            k++;
        }
    }
    fit_t f = {0, 0, 0, 0};
    if (k < 3)
        return f;
    double mt = st / (double)k, mr = sr / (double)k, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].t >= from) {
            sxx += (s[i].t - mt) * (s[i].t - mt);
            sxy += (s[i].t - mt) * ((double)s[i].rss_kib - mr);
        }
    }
    f.mean_rss = mr;
    f.mean_live = sl / (double)k;
    if (sxx == 0)
        return f;
    f.slope = sxy / sxx;
    double ssr = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].t >= from) {
            double e = (double)s[i].rss_kib - mr - f.slope * (s[i].t - mt);
            ssr += e * e;
        }
    }
    f.se = sqrt(ssr / (double)(k - 2) / sxx);
    return f;
}

static void
summarize(const sample_t *s, size_t n, double secs, unsigned long ops,
          unsigned threads)
{
    double rss10 = mean_rss(s, n, secs * 0.09, secs * 0.11);
    double rss_end = mean_rss(s, n, secs * 0.98, secs);
    fit_t f = fit_rss(s, n, secs / 2);
    /* The fitted change over the second half, against the working set. */
    double growth = f.slope * (secs / 2);
    double growth_pct = f.mean_live > 0 ? 100.0 * growth / f.mean_live : 0;
    printf("soak threads=%u seconds=%.0f ops=%lu ops_per_s=%.0f "
           "rss10_kib=%.0f rss_end_kib=%.0f rss_ratio=%.3f slope_kib_h=%.0f "
           "slope_se_kib_h=%.0f ws_kib=%.0f slope_pct_h=%.2f "
           "growth_pct=%.2f peak_kib=%ld flat=%s\n",
           threads, secs, ops, (double)ops / secs, rss10, rss_end,
           rss10 > 0 ? rss_end / rss10 : 0, f.slope * 3600, f.se * 3600,
           f.mean_live,
           f.mean_live > 0 ? 100.0 * f.slope * 3600 / f.mean_live : 0,
           growth_pct, bench_peak_rss_kib(), growth_pct < 10 ? "yes" : "no");
    /* Mean RSS per quarter of the run: a trend the bursts' noise hides
     * less than in single samples. */
    printf("quarters rss_q_kib=");
    for (int q = 0; q < 4; q++)
        printf("%s%.0f", q ? "," : "",
               mean_rss(s, n, secs * q / 4, secs * (q + 1) / 4));
    printf("\n");
}

static long
param(const char *name, long lo)
{
    long v = bench_param(soak_params, name);
    if (v < lo) {
        fprintf(stderr, "soak: %s must be >= %ld\n", name, lo);
        exit(2);
    }
    return v;
}

int
main(int argc, char **argv)
{
    /* --quick: 60 s, a line every 5 s (key=value arguments still win). */
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
        soak_params[1].value = 60;
        soak_params[3].value = 5;
        argv[1] = argv[0];
        argc--;
        argv++;
    }
    bench_parse_args(argc, argv, soak_params,
                     "soak: hours of mixed allocation, RSS trend");
    unsigned nthreads = (unsigned)param("threads", 1);
    double secs = (double)param("seconds", 1);
    long report = param("report", 1);
    size_t nslots = (size_t)param("slots", 1);
    size_t nburst = (size_t)param("burst", 0);

    soak_queue.cap = (size_t)param("queue", 1);
    soak_queue.ring = soak_map(soak_queue.cap * sizeof(blk_t));
    pthread_mutex_init(&soak_queue.lock, NULL);
    size_t nsamples = (size_t)secs + 16;
    sample_t *samples = soak_map(nsamples * sizeof(sample_t));
    worker_t *ws = soak_map(nthreads * sizeof(worker_t));
    for (unsigned i = 0; i < nthreads; i++) {
        worker_t *w = &ws[i];
        w->id = i;
        w->rng.state = (uint64_t)param("seed", 0) * 1000003u + i;
        w->slots = soak_map(nslots * sizeof(blk_t));
        w->nslots = nslots;
        w->burst = nburst ? soak_map(nburst * sizeof(blk_t)) : NULL;
        w->nburst = nburst;
        w->burst_s = (double)param("burst_s", 1);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "soak: pthread_create failed\n");
            exit(3);
        }
    }

    double t0 = ((double)bench_now_ns() * 1e-9), last_t = t0;
    unsigned long last_ops = 0;
    size_t n = 0;
    for (long tick = 1; (double)tick <= secs; tick++) {
        double until = t0 + (double)tick;
        for (double t = ((double)bench_now_ns() * 1e-9); t < until;
             t = ((double)bench_now_ns() * 1e-9)) {
            struct timespec d = {0, (long)((until - t) * 1e9)};
            nanosleep(&d, NULL);
        }
        double t = ((double)bench_now_ns() * 1e-9);
        long live =
            atomic_load_explicit(&soak_live_bytes, memory_order_relaxed);
        samples[n++] = (sample_t){t - t0, rss_kib(), live / 1024};
        if (tick % report == 0) {
            unsigned long ops =
                atomic_load_explicit(&soak_ops, memory_order_relaxed);
            fprintf(stderr,
                    "soak: t=%6.0fs ops/s=%9.0f rss=%8ld KiB live=%8ld "
                    "KiB\n",
                    t - t0, (double)(ops - last_ops) / (t - last_t),
                    samples[n - 1].rss_kib, live / 1024);
            last_ops = ops;
            last_t = t;
        }
    }
    atomic_store(&soak_stop, true);
    double elapsed = ((double)bench_now_ns() * 1e-9) - t0;
    unsigned long ops = atomic_load(&soak_ops);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(ws[i].thread, NULL);
    blk_t h;
    while (queue_pop(&h))
        blk_free(&h, "final handoff free");
    summarize(samples, n, elapsed, ops, nthreads);
    if (bench_param(soak_params, "timeline"))
        for (size_t i = 0; i < n; i++)
            printf("timeline %.1f %ld %ld\n", samples[i].t, samples[i].rss_kib,
                   samples[i].live_kib);
    return 0;
}
