/*
 * dump.c — dump triggers, the dump thread, naming, and the exit report
 * (see dump.h).
 */
#include "dump.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../alloc/opts.h"
#include "../alloc/tsd.h"
#include "../alloc/util/clock.h"
#include "../alloc/util/fmt.h"
#include "../alloc/util/mutex.h"
#include "../alloc/util/signame.h"
#include "../backtrace_hooks/symbolic.h"
#include "../backtrace_hooks/unwind.h"
#include "../include/heapsight.h"
#include "dumpfile.h"
#include "hooks.h"
#include "maps.h"
#include "names.h"
#include "pprof.h"
#include "reach.h"
#include "sample.h"
#include "site.h"

#define DUMP_PATH_MAX 4096

static hs_mutex_t dump_mtx;
static _Atomic(unsigned) dump_seq;
static int wake_pipe[2] = {-1, -1};
static bool thread_running;
static _Atomic(uint64_t) interval_acc; /* estimated bytes since last dump */
static _Atomic(uint64_t) gdump_hwm;    /* in-use bytes of the last gdump */
static _Atomic(int64_t) gdump_last_ns;
static bool warned;
static bool in_fork_child;              /* no calls into the dynamic linker */
static char last_manual[DUMP_PATH_MAX]; /* guarded by dump_mtx */
/* What the reachability scan at exit said, for the final dump's comments
 * ("" before it ran); written once, at exit, before that dump. */
static char reach_comment[200];
/* The newest automatic peak profile ("" if none) and the peak mark it
 * holds (site_peak_t.marks), so that a peak written again replaces it
 * and an unchanged one is not written twice; guarded by dump_mtx. */
static char last_peak[DUMP_PATH_MAX];
static uint64_t last_peak_marks;
/* The sequence number of the newest automatic dump (guarded by dump_mtx):
 * an automatic peak file takes it, the peak as of that dump. */
static unsigned last_seq;

/* Names of the automatic dumps still on disk, oldest first (guarded by
 * dump_mtx), for prof_max_dumps. */
static char **kept;
static unsigned nkept;

/* The process's note (dump_note_set): written by one thread at a time
 * (start-up), read by dumps between two loads of note_seq (odd: being
 * written, and the dump goes without it). */
static char note_comment[256], note_key[32], note_value[64];
static _Atomic(unsigned) note_seq;

void
dump_note_set(const char *comment, const char *label_key,
              const char *label_value)
{
    atomic_fetch_add_explicit(&note_seq, 1, memory_order_acq_rel);
    hs_snprintf(note_comment, sizeof note_comment, "%s",
                comment != NULL ? comment : "");
    hs_snprintf(note_key, sizeof note_key, "%s",
                comment != NULL && label_key != NULL ? label_key : "");
    hs_snprintf(note_value, sizeof note_value, "%s",
                label_value != NULL ? label_value : "");
    atomic_fetch_add_explicit(&note_seq, 1, memory_order_release);
}

/* Copies the note out; false when there is none (or it is being set). */
static bool
note_get(char *comment, char *key, char *value)
{
    unsigned seq = atomic_load_explicit(&note_seq, memory_order_acquire);
    if (seq & 1)
        return false;
    memcpy(comment, note_comment, sizeof note_comment);
    memcpy(key, note_key, sizeof note_key);
    memcpy(value, note_value, sizeof note_value);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&note_seq, memory_order_relaxed) == seq &&
           comment[0] != '\0';
}

/* ---- the process (provenance) ----
 *
 * Every dump names the process it comes from, in three comments: its
 * pid, parent and start (the profiler's start, or the fork), its command
 * line, and its executable with the executable's build ID.  Read once at
 * start-up and again in a fork child (written then by one thread; dumps
 * come later). */
static struct {
    char cmd[1024]; /* /proc/self/cmdline, arguments joined by spaces */
    char exe[512];  /* /proc/self/exe */
    int ppid;
    int64_t start_ns; /* CLOCK_REALTIME */
} proc;

static int64_t realtime_ns(void);

/* Reads the command line into proc.cmd ("" if unreadable). */
static void
proc_read_cmdline(void)
{
    ssize_t n = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, proc.cmd, sizeof proc.cmd - 1);
        close(fd);
    }
    while (n > 0 && proc.cmd[n - 1] == '\0')
        n--; /* the last argument's terminator */
    for (ssize_t i = 0; i < n; i++)
        if (proc.cmd[i] == '\0' || proc.cmd[i] == '\n')
            proc.cmd[i] = ' ';
    proc.cmd[n > 0 ? n : 0] = '\0';
}

static void
proc_read(void)
{
    proc_read_cmdline();
    ssize_t n = readlink("/proc/self/exe", proc.exe, sizeof proc.exe - 1);
    proc.exe[n > 0 ? n : 0] = '\0';
    proc.ppid = (int)getppid();
    proc.start_ns = realtime_ns();
}

/* Writes v as exactly n decimal digits (zero-padded) at p. */
static char *
put_digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* t as ISO 8601 UTC, "2026-12-07T19:41:00Z" (hs_snprintf has no
 * zero padding). */
static void
iso_time(int64_t ns, char out[24])
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char *p = put_digits(out, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = put_digits(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_sec, 2);
    *p++ = 'Z';
    *p = '\0';
}

/* The three provenance comments, into bufs of size each. */
static void
proc_comments(char *who, char *cmd, char *exe, size_t size)
{
    char when[24];
    iso_time(proc.start_ns, when);
    hs_snprintf(who, size, "process: pid %d, parent %d, started %s",
                (int)getpid(), proc.ppid, when);
    hs_snprintf(cmd, size, "command: %s", proc.cmd);
    const char *id = maps_exe_build_id();
    hs_snprintf(exe, size, "executable: %s%s%s%s", proc.exe,
                id[0] != '\0' ? " (build id " : "", id,
                id[0] != '\0' ? ")" : "");
}

/* ---- writing ---- */

static int
symbolic_cb(hs_frame_t f, const char **r_function, const char **r_file,
            unsigned *r_line)
{
    return bt_symbolic_lookup(f, r_function, r_file, r_line);
}

static void
fill_record(prof_sample_rec_t *r, const prof_site_snap_t *s, const char *nkey,
            const char *nvalue)
{
    *r = (prof_sample_rec_t){
        .frames = s->frames,
        .nframes = s->nframes,
        .alloc_objects = llround(s->alloc_objects),
        .alloc_space = llround(s->alloc_space),
        .inuse_objects = llround(s->inuse_objects),
        .inuse_space = llround(s->inuse_space),
        .bytes = (int64_t)s->usize,
        .thread = names_label_str(s->thread_label),
        .allocator = names_domain_str(s->domain),
        .extra_key = names_pair_key(s->extra),
        .extra_value = names_pair_value(s->extra),
        .note_key = nkey,
        .note_value = nvalue,
    };
}

/*
 * The records of one site: one, or after a reachability scan (reach.h)
 * two — the reachable part of its live objects with every allocation
 * counter (label reachable: yes), and the unreachable part alone
 * (reachable: no, allocation counters 0) — so that each of the four
 * sample types still sums to the site's.  Returns how many.
 */
static size_t
fill_records(prof_sample_rec_t *r, const prof_site_snap_t *s, const char *nkey,
             const char *nvalue)
{
    fill_record(&r[0], s, nkey, nvalue);
    if (!s->reach_known || s->inuse_objects < 0.5)
        return 1;
    double lost_objects = s->inuse_objects - s->reach_objects;
    double lost_space = s->inuse_space - s->reach_space;
    r[0].reachable = "yes";
    if (lost_objects < 0.5) /* everything reached */
        return 1;
    r[0].inuse_objects = llround(s->reach_objects);
    r[0].inuse_space = llround(s->reach_space);
    r[1] = r[0];
    r[1].alloc_objects = r[1].alloc_space = 0;
    r[1].inuse_objects = llround(lost_objects);
    r[1].inuse_space = llround(lost_space);
    r[1].reachable = "no";
    return 2;
}

typedef struct dump_job_s {
    prof_profile_t profile;
} dump_job_t;

static int
dump_write_cb(int fd, void *arg)
{
    dump_job_t *job = arg;
    return pprof_write(fd, &job->profile);
}

static int64_t
realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Builds the profile from a snapshot of the sites (at the peak mark
 * with peak) and writes it. */
static int
dump_write(const char *path, bool peak)
{
    prof_site_snap_t *snaps;
    site_peak_t pk;
    site_peak(&pk);
    size_t n = peak ? site_peak_snapshot(&snaps) : site_snapshot(&snaps);
    if (peak)
        site_peak(&pk); /* the snapshot may have marked anew */
    prof_sample_rec_t *recs = n ? malloc(2 * n * sizeof(*recs)) : NULL;
    if (n != 0 && recs == NULL) {
        free(snaps);
        return ENOMEM;
    }
    char ncomment[sizeof note_comment], nkey[sizeof note_key],
        nvalue[sizeof note_value];
    bool noted = note_get(ncomment, nkey, nvalue);
    size_t nrecs = 0;
    for (size_t i = 0; i < n; i++)
        nrecs += fill_records(&recs[nrecs], &snaps[i],
                              noted && nkey[0] ? nkey : NULL, nvalue);
    char opts[160], unw[64], what[160], who[128], cmd[1100], exe[700];
    proc_comments(who, cmd, exe, sizeof exe);
    const char *env = secure_getenv("HEAPSIGHT");
    hs_snprintf(opts, sizeof(opts), "HEAPSIGHT=%s", env ? env : "");
    hs_snprintf(unw, sizeof(unw), "unwinder: %s", bt_unwinder_name());
    hs_snprintf(what, sizeof(what),
                "peak: the live heap at its high-water mark, %lld bytes in "
                "%lld objects (estimated)",
                llround(pk.inuse_space), llround(pk.inuse_objects));
    const char *comments[] = {"heapsight " HS_VERSION,
                              who,
                              cmd,
                              exe,
                              opts,
                              unw,
                              peak ? what : NULL,
                              noted ? ncomment : NULL,
                              !peak && reach_comment[0] != '\0' ? reach_comment
                                                                : NULL};
    int64_t now = realtime_ns();
    dump_job_t job = {
        .profile = {
            .samples = recs,
            .nsamples = nrecs,
            .symbolic = symbolic_cb,
            .period = (int64_t)sample_interval(),
            .time_nanos = peak && pk.time_ns != 0 ? pk.time_ns : now,
            .duration_nanos = site_age_ns(),
            .comments = comments,
            .ncomments = sizeof comments / sizeof comments[0],
        }};
    int err = dumpfile_write(path, dump_write_cb, &job);
    free(recs);
    free(snaps);
    return err;
}

/* Remembers an automatic dump and, beyond prof_max_dumps, removes the
 * oldest but the first: a long series keeps its baseline (what `heapsight
 * trend` measures growth from) and its newest dumps. */
static void
dump_keep(const char *path)
{
    if (opt_prof_max_dumps == 0)
        return;
    char **grown = realloc(kept, (nkept + 1) * sizeof(*kept));
    char *copy = strdup(path);
    if (grown == NULL || copy == NULL) {
        free(copy);
        kept = grown != NULL ? grown : kept;
        return;
    }
    kept = grown;
    kept[nkept++] = copy;
    unsigned first = opt_prof_max_dumps >= 2; /* kept[0] stays */
    while (nkept > opt_prof_max_dumps) {
        unlink(kept[first]);
        free(kept[first]);
        memmove(kept + first, kept + first + 1,
                (--nkept - first) * sizeof(*kept));
    }
}

/* The automatic name of a dump: <prefix>.<pid>.<seq>.<trigger>.pb.gz,
 * with the next sequence number.  dump_mtx held. */
static void
dump_name(char *name, size_t size, const char *trigger)
{
    last_seq = atomic_fetch_add(&dump_seq, 1);
    hs_snprintf(name, size, "%s.%d.%u.%s.pb.gz", opt_prof_prefix, (int)getpid(),
                last_seq, trigger);
}

/* After a dump: the dump hooks, or the one-time warning. */
static void
dump_done(const char *path, int err)
{
    if (err == 0)
        prof_hooks_run_dump(path);
    else if (!warned) {
        warned = true;
        hs_warn("profile dump to %s failed: %s (the program carries on)", path,
                strerror(err));
    }
}

/* dump_now, and the path written into r_path (size bytes). */
static int
dump_named(const char *path, const char *trigger, char *r_path, size_t size)
{
    char name[DUMP_PATH_MAX];
    tsd_reentrancy_enter();
    hs_mutex_lock(&dump_mtx);
    if (path == NULL) {
        dump_name(name, sizeof(name), trigger);
        path = name;
    }
    int err = dump_write(path, false);
    if (err == 0 && path == name)
        dump_keep(name);
    if (err == 0 && strcmp(trigger, "manual") == 0)
        hs_snprintf(last_manual, sizeof last_manual, "%s", path);
    hs_mutex_unlock(&dump_mtx);
    dump_done(path, err);
    if (r_path != NULL)
        hs_snprintf(r_path, size, "%s", path);
    tsd_reentrancy_exit();
    return err;
}

int
dump_now(const char *path, const char *trigger)
{
    return dump_named(path, trigger, NULL, 0);
}

int
dump_peak_now(const char *path, bool automatic)
{
    char name[DUMP_PATH_MAX], old[DUMP_PATH_MAX];
    site_peak_t pk;
    tsd_reentrancy_enter();
    hs_mutex_lock(&dump_mtx);
    site_peak(&pk);
    if (automatic && last_peak[0] != '\0' && pk.marks == last_peak_marks) {
        hs_mutex_unlock(&dump_mtx);
        tsd_reentrancy_exit();
        return 0; /* the newest peak file holds this peak already */
    }
    if (automatic) /* the peak as of the dump just written: its seq */
        hs_snprintf(name, sizeof(name), "%s.%d.%u.peak.pb.gz", opt_prof_prefix,
                    (int)getpid(), last_seq);
    else if (path == NULL)
        dump_name(name, sizeof(name), "peak");
    if (automatic || path == NULL)
        path = name;
    int err = dump_write(path, true);
    if (err == 0 && path == name) {
        /* One automatic peak file per process: the newest replaces it. */
        hs_snprintf(old, sizeof old, "%s", last_peak);
        hs_snprintf(last_peak, sizeof last_peak, "%s", name);
        site_peak(&pk);
        last_peak_marks = pk.marks;
        if (old[0] != '\0' && strcmp(old, name) != 0)
            unlink(old);
    }
    hs_mutex_unlock(&dump_mtx);
    dump_done(path, err);
    tsd_reentrancy_exit();
    return err;
}

void
dump_last_manual(char *buf, size_t size)
{
    hs_mutex_lock(&dump_mtx);
    hs_snprintf(buf, size, "%s", last_manual);
    hs_mutex_unlock(&dump_mtx);
}

/* ---- asynchronous triggers ---- */

static void
wake(char why)
{
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], &why, 1);
        (void)w; /* a full pipe already holds a wake-up */
    }
}

void
dump_note_sample(double bytes)
{
    if (opt_prof_interval != 0) {
        uint64_t acc =
            atomic_fetch_add(&interval_acc, (uint64_t)bytes) + (uint64_t)bytes;
        if (acc >= opt_prof_interval) {
            atomic_store(&interval_acc, 0);
            wake('i');
        }
    }
    if (opt_prof_gdump) {
        double objs, space;
        site_totals(&objs, &space);
        /* The mark follows every new high, dumped or not, so a dump
         * always holds more than any moment before it. */
        uint64_t hwm = atomic_load(&gdump_hwm);
        if (space <= (double)hwm)
            return;
        atomic_store(&gdump_hwm, (uint64_t)space);
        int64_t now = hs_monotonic_ns();
        if (now - atomic_load(&gdump_last_ns) >= 1000000000) {
            atomic_store(&gdump_last_ns, now);
            wake('g');
        }
    }
}

static void
on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    wake('s');
    errno = saved;
}

static const char *
trigger_name(char why)
{
    switch (why) {
    case 'i':
        return "interval";
    case 'g':
        return "gdump";
    case 's':
        return "signal";
    default:
        return "timer";
    }
}

static void *
dump_thread(void *arg)
{
    (void)arg;
    tsd_reentrancy_enter(); /* this thread's allocations are the profiler's */
    int timeout = opt_prof_interval_ms != 0 ? (int)opt_prof_interval_ms : -1;
    for (;;) {
        struct pollfd p = {.fd = wake_pipe[0], .events = POLLIN};
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        char why = 't';
        if (r > 0 && read(wake_pipe[0], &why, 1) <= 0)
            continue;
        dump_now(NULL, trigger_name(why));
        if (opt_prof_peak)
            dump_peak_now(NULL, true);
    }
    return NULL;
}

static void
start_signal(void)
{
    int sig = hs_signal_number(opt_prof_signal);
    if (sig == 0) {
        hs_warn("HEAPSIGHT: unknown prof_signal \"%s\" (ignored)",
                opt_prof_signal);
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void
start_thread(void)
{
    if (pipe2(wake_pipe, O_CLOEXEC) != 0) {
        hs_warn("profiler: cannot create the dump pipe: %s", strerror(errno));
        return;
    }
    fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    thread_running = pthread_create(&t, &attr, dump_thread, NULL) == 0;
    pthread_attr_destroy(&attr);
    if (!thread_running)
        hs_warn("profiler: cannot start the dump thread");
}

/* ---- the process marker (heapsight run's list of processes) ----
 *
 * With HEAPSIGHT_RUN_TRACK=1 in the environment (heapsight run sets it)
 * and the exit dump on, each process creates <prefix>.<pid>.running when
 * the profiler starts (and a fork child when it starts), holding its
 * parent's pid and its command line, and removes it once its final dump
 * is written.  A marker left behind names a process that wrote no final
 * profile: killed by a signal, left through _exit, or replaced by a
 * program the library could not be preloaded into. */
static bool track;
/* Set once the exit report and dump have run (at exit, or early through
 * prof.final): they run once per process. */
static _Atomic(bool) final_done;

static void
marker_path(char *buf, size_t size)
{
    hs_snprintf(buf, size, "%s.%d.running", opt_prof_prefix, (int)getpid());
}

static void
marker_create(void)
{
    char path[DUMP_PATH_MAX];
    marker_path(path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    hs_dprintf(fd, "%d\n%s\n", (int)getppid(), proc.cmd);
    close(fd);
}

static void
marker_remove(void)
{
    char path[DUMP_PATH_MAX];
    marker_path(path, sizeof path);
    unlink(path);
}

void
dump_postfork_child(void)
{
    maps_forbid_loader();
    in_fork_child = true;
    /* The dump thread did not survive the fork: asynchronous dumps stop in
     * the child (prof.dump and the exit dump still work). */
    if (wake_pipe[1] >= 0) {
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        wake_pipe[0] = wake_pipe[1] = -1;
    }
    thread_running = false;
    atomic_store(&dump_seq, 0);
    nkept = 0;
    last_peak[0] = '\0'; /* the parent's file is the parent's */
    last_seq = 0;
    proc.ppid = (int)getppid();
    proc.start_ns = realtime_ns();
    if (track && !atomic_load(&final_done))
        marker_create();
}

/* ---- the exit report ---- */

static int
by_inuse_desc(const void *a, const void *b)
{
    const prof_site_snap_t *x = a, *y = b;
    return x->inuse_space < y->inuse_space   ? 1
           : x->inuse_space > y->inuse_space ? -1
                                             : 0;
}

/* One frame of the report: a symbolic frame's function and line; a
 * native one as module+offset of the call (return address - 1, as the
 * profile and `heapsight leaks` have it; the offset is from the module's
 * load address, so for a shared object or PIE it is the ELF virtual
 * address addr2line -e MODULE takes), with the exported symbol around it
 * when dladdr knows one. */
static void
print_frame(hs_frame_t f)
{
    const char *fn, *file;
    unsigned line;
    if (hs_frame_is_symbolic(f) && bt_symbolic_lookup(f, &fn, &file, &line)) {
        hs_dprintf(2, "        %s (%s:%u)\n", fn, file ? file : "?", line);
        return;
    }
    Dl_info di = {0};
    if (in_fork_child || !dladdr((void *)(f - 1), &di) ||
        di.dli_fname == NULL) {
        hs_dprintf(2, "        %p\n", (void *)f);
        return;
    }
    const char *slash = strrchr(di.dli_fname, '/');
    const char *mod = slash != NULL ? slash + 1 : di.dli_fname;
    if (mod[0] == '\0')
        mod = proc.exe[0] != '\0' ? proc.exe : "?";
    /* The call's own address (return address - 1), as in the profile. */
    uintptr_t a = f - 1;
    hs_dprintf(2, "        %s+0x%lx", mod,
               (unsigned long)(a - (uintptr_t)di.dli_fbase));
    if (di.dli_sname != NULL)
        hs_dprintf(2, " (%s+0x%lx)", di.dli_sname,
                   (unsigned long)(a - (uintptr_t)di.dli_saddr));
    hs_dprintf(2, "\n");
}

/* What the scan found, over every site: live objects and bytes reached
 * and not. */
typedef struct leak_totals_s {
    bool known; /* a scan ran */
    double lost_objects, lost_space, kept_objects, kept_space;
} leak_totals_t;

/* Unreachable first, then by live bytes. */
static int
by_lost_then_inuse(const void *a, const void *b)
{
    const prof_site_snap_t *x = a, *y = b;
    double lx = x->reach_known ? x->inuse_space - x->reach_space : 0;
    double ly = y->reach_known ? y->inuse_space - y->reach_space : 0;
    if (lx != ly)
        return lx < ly ? 1 : -1;
    return by_inuse_desc(a, b);
}

static void
leak_site(size_t rank, const prof_site_snap_t *s)
{
    double lost = s->reach_known ? s->inuse_objects - s->reach_objects : 0;
    const char *what = !s->reach_known ? ""
                       : lost >= 0.5   ? " unreachable (definitely lost)"
                                       : " still reachable";
    double objs = !s->reach_known ? s->inuse_objects
                  : lost >= 0.5   ? lost
                                  : s->inuse_objects;
    double space = !s->reach_known ? s->inuse_space
                   : lost >= 0.5   ? s->inuse_space - s->reach_space
                                   : s->inuse_space;
    hs_dprintf(2, "  #%zu: %lld bytes in %lld objects of %zu bytes%s\n", rank,
               llround(space), llround(objs), s->usize, what);
    for (unsigned f = 0; f < s->nframes && f < 16; f++)
        print_frame(s->frames[f]);
}

/* Prints the live estimates and the top sites (unreachable first after a
 * scan), then where the profile with every site is (final: its path, ""
 * if none was written). */
static void
leak_report(double objs, double space, const leak_totals_t *t,
            const char *final)
{
    hs_dprintf(2,
               "heapsight: leak report: %lld bytes in %lld objects "
               "(estimated) still allocated at exit\n",
               llround(space), llround(objs));
    if (t->known)
        hs_dprintf(2,
                   "heapsight: %lld bytes in %lld objects unreachable "
                   "(definitely lost), %lld bytes in %lld objects still "
                   "reachable\n",
                   llround(t->lost_space), llround(t->lost_objects),
                   llround(t->kept_space), llround(t->kept_objects));
    prof_site_snap_t *snaps;
    size_t n = site_snapshot(&snaps);
    qsort(snaps, n, sizeof(*snaps), by_lost_then_inuse);
    for (size_t i = 0, shown = 0; i < n && shown < 10; i++)
        if (snaps[i].inuse_objects >= 0.5)
            leak_site(++shown, &snaps[i]);
    free(snaps);
    if (final[0] != '\0')
        hs_dprintf(2,
                   "heapsight: every site, with functions and lines: "
                   "heapsight leaks %s\n",
                   final);
}

/* Runs the reachability scan and sums what it found. */
static void
leak_scan(leak_totals_t *t)
{
    reach_stats_t st;
    int err = reach_scan(&st);
    *t = (leak_totals_t){.known = err == 0};
    if (err != 0) {
        hs_snprintf(reach_comment, sizeof reach_comment,
                    "reachability: not scanned: %s", strerror(err));
        hs_warn("reachability at exit not known: %s (every live "
                "object counts as leaked)",
                strerror(err));
        return;
    }
    hs_snprintf(reach_comment, sizeof reach_comment,
                "reachability: scanned %llu bytes of roots and %llu of heap "
                "(%llu blocks) in %llu ms; label reachable",
                (unsigned long long)st.root_bytes,
                (unsigned long long)st.heap_bytes,
                (unsigned long long)st.blocks,
                (unsigned long long)llround(st.seconds * 1000));
    prof_site_snap_t *snaps;
    size_t n = site_snapshot(&snaps);
    for (size_t i = 0; i < n; i++) {
        t->kept_objects += snaps[i].reach_objects;
        t->kept_space += snaps[i].reach_space;
        t->lost_objects += snaps[i].inuse_objects - snaps[i].reach_objects;
        t->lost_space += snaps[i].inuse_space - snaps[i].reach_space;
    }
    free(snaps);
}

/* Whether heapsight run prints the report (symbolized) instead. */
static bool
report_by_cli(void)
{
    const char *v = secure_getenv("HEAPSIGHT_LEAK_REPORT");
    return v != NULL && strcmp(v, "cli") == 0;
}

static void
at_exit(void)
{
    if (atomic_exchange(&final_done, true))
        return;
    tsd_reentrancy_enter();
    double objs = 0, space = 0;
    site_totals(&objs, &space);
    leak_totals_t t = {0};
    if (opt_prof_leak && opt_prof_leak_scan)
        leak_scan(&t);
    char final[DUMP_PATH_MAX] = "";
    if ((opt_prof_final || opt_prof_leak) &&
        dump_named(NULL, "final", final, sizeof final) != 0)
        final[0] = '\0';
    if (opt_prof_leak && !report_by_cli())
        leak_report(objs, space, &t, final);
    if ((opt_prof_final || opt_prof_leak) && opt_prof_peak)
        dump_peak_now(NULL, true);
    if (track)
        marker_remove();
    double leaked = t.known ? t.lost_objects : objs;
    if (opt_prof_leak && opt_prof_leak_error && leaked >= 0.5) {
        /* Like LeakSanitizer: report, flush what the program wrote, and
         * end with status 1. */
        fflush(NULL);
        _exit(1);
    }
    tsd_reentrancy_exit();
}

int
dump_final_now(void)
{
    if (!opt_prof_final && !opt_prof_leak)
        return ENOENT;
    at_exit();
    return 0;
}

void
dump_boot(void)
{
    hs_mutex_init(&dump_mtx, HS_RANK_PROF_DUMP);
    maps_prime();
    proc_read();
    if (opt_prof_interval != 0 || opt_prof_interval_ms != 0 || opt_prof_gdump ||
        opt_prof_signal[0] != '\0')
        start_thread();
    if (opt_prof_signal[0] != '\0' && thread_running)
        start_signal();
    if (opt_prof_final || opt_prof_leak) {
        const char *t = secure_getenv("HEAPSIGHT_RUN_TRACK");
        track = opt_prof_final && t != NULL && strcmp(t, "1") == 0;
        if (track)
            marker_create();
        atexit(at_exit);
    }
}
