/*
 * attach.c — the listener of `heapsight attach` and its sessions (see
 * attach.h; the files and their format: alloc/util/attach_proto.h).
 *
 * A request is served in three steps, all on the listener thread: read
 * (the directory and the file checked, the file removed), do (the op),
 * reply (written even when the op failed, with status error and one line
 * saying why).  A signal with no valid request behind it (a stray kill, a
 * directory that is not private) changes nothing; the problems a user
 * would want to know about say so once on stderr.
 */
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../alloc/opts.h"
#include "../alloc/tsd.h"
#include "../alloc/util/attach_proto.h"
#include "../alloc/util/clock.h"
#include "../alloc/util/fmt.h"
#include "../alloc/util/signame.h"
#include "activity.h"
#include "dump.h"
#include "dumpfile.h"
#include "sample.h"

#define ATTACH_PATH_MAX 128

static _Atomic(int) wake_fd = -1;   /* the pipe's write end; atomic */
static int read_fd = -1;            /* the listener thread only */
static int attach_sig;              /* set at boot, before the handler */
static struct sigaction attach_old; /* the action before ours; boot only */
static bool warned_dir, warned_req, warned_uid; /* the listener only */

/* The session; the listener thread only (attach.h). */
static struct {
    char id[ATTACH_TOKEN_MAX]; /* "": none */
    int64_t deadline_ns;       /* CLOCK_MONOTONIC: the lease's end */
    uint64_t saved_interval;   /* the process's own sample interval */
    unsigned ndumps;           /* dumps written; names the next one */
} session;

typedef struct attach_req_s {
    char id[ATTACH_TOKEN_MAX];
    char op[16];
    char session[ATTACH_TOKEN_MAX];
    uint64_t lease_ms; /* 0: the default */
    uint64_t sample;   /* 0: the process's own interval */
} attach_req_t;

typedef struct attach_reply_s {
    char text[ATTACH_MSG_MAX];
    size_t len;
    bool failed;
} attach_reply_t;

/* ---- the reply ---- */

static void reply_add(attach_reply_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply_add(attach_reply_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->len += hs_vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
    va_end(ap);
}

/* Marks r failed with one line saying why (the first reason stands). */
static bool
reply_fail(attach_reply_t *r, const char *why, const char *detail)
{
    if (!r->failed)
        reply_add(r, "status error\nmessage %s%s%s\n", why,
                  detail != NULL ? ": " : "", detail != NULL ? detail : "");
    r->failed = true;
    return false;
}

static int
reply_write_cb(int fd, void *arg)
{
    const attach_reply_t *r = arg;
    for (size_t off = 0; off < r->len;) {
        ssize_t n = write(fd, r->text + off, r->len - off);
        if (n < 0 && errno != EINTR)
            return errno;
        off += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

static void
reply_write(const char *dir, attach_reply_t *r)
{
    char path[ATTACH_PATH_MAX], name[64];
    if (!r->failed)
        reply_add(r, "status ok\n");
    hs_snprintf(name, sizeof name, ATTACH_REP_FMT, (int)getpid());
    hs_snprintf(path, sizeof path, "%s/%s", dir, name);
    int err = dumpfile_write(path, reply_write_cb, r);
    if (err != 0)
        hs_warn("attach: cannot write the reply %s: %s", path, strerror(err));
}

/* ---- reading a request ---- */

/* The channel's directory, opened and checked; -1 if it is not there or
 * not private (attach_proto.h). */
static int
chan_open(char *dir, size_t size)
{
    struct stat st;
    hs_snprintf(dir, size, ATTACH_DIR_PARENT "/" ATTACH_DIR_NAME_FMT,
                (unsigned)geteuid());
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
        (st.st_mode & 077) == 0)
        return fd;
    if (!warned_dir)
        hs_warn("attach: %s is not a private directory of this user (mode "
                "0700): requests there are ignored",
                dir);
    warned_dir = true;
    close(fd);
    return -1;
}

/* Whether the open request file may be trusted (attach.h). */
static bool
req_trusted(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        (st.st_mode & 022) == 0 && st.st_size <= ATTACH_MSG_MAX)
        return true;
    if (!warned_req)
        hs_warn("attach: a request that is not a regular file of this user "
                "(or is too big) was ignored");
    warned_req = true;
    return false;
}

/* Reads and removes the request into buf (NUL-terminated); its length,
 * or -1 when there is none to serve. */
static ssize_t
req_read(int dfd, char *buf)
{
    char name[64];
    hs_snprintf(name, sizeof name, ATTACH_REQ_FMT, (int)getpid());
    int fd = openat(dfd, name,
                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    ssize_t n = req_trusted(fd) ? read(fd, buf, ATTACH_MSG_MAX) : -1;
    close(fd);
    unlinkat(dfd, name, 0);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* Copies a token (letters, digits, '.', '_', '-') into dst; false if v is
 * not one or does not fit. */
static bool
token_copy(char *dst, size_t size, const char *v, size_t n)
{
    if (n == 0 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
    return true;
}

/* A decimal number of at most 15 digits; false if v is not one. */
static bool
number_parse(const char *v, size_t n, uint64_t *r_v)
{
    uint64_t x = 0;
    if (n == 0 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *r_v = x;
    return true;
}

/* Whether the key k (kn bytes) is name. */
static bool
key_is(const char *k, size_t kn, const char *name)
{
    return kn == strlen(name) && memcmp(k, name, kn) == 0;
}

/* One "key value" line into q; false if the key is known and the value
 * bad (unknown keys are skipped: a newer command may send more). */
static bool
req_field(attach_req_t *q, const char *k, size_t kn, const char *v, size_t vn)
{
    if (key_is(k, kn, "id"))
        return token_copy(q->id, sizeof q->id, v, vn);
    if (key_is(k, kn, "op"))
        return token_copy(q->op, sizeof q->op, v, vn);
    if (key_is(k, kn, "session"))
        return token_copy(q->session, sizeof q->session, v, vn);
    if (key_is(k, kn, "lease_ms"))
        return number_parse(v, vn, &q->lease_ms);
    if (key_is(k, kn, "sample"))
        return number_parse(v, vn, &q->sample) && q->sample >= 1 &&
               q->sample <= ATTACH_SAMPLE_MAX;
    return true;
}

/* Parses buf into q; NULL, or why it is no request. */
static const char *
req_parse(char *buf, attach_req_t *q)
{
    size_t magic = sizeof(ATTACH_MAGIC) - 1;
    memset(q, 0, sizeof *q);
    if (strncmp(buf, ATTACH_MAGIC "\n", magic + 1) != 0)
        return "not a heapsight attach request (or another version)";
    for (char *line = buf + magic + 1; *line != '\0';) {
        char *end = strchr(line, '\n');
        size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
        char *sp = memchr(line, ' ', n);
        if (sp != NULL && !req_field(q, line, (size_t)(sp - line), sp + 1,
                                     n - (size_t)(sp - line) - 1))
            return "a bad field in the request";
        line += n + (end != NULL);
    }
    return q->id[0] != '\0' && q->op[0] != '\0' ? NULL
                                                : "a request without id or op";
}

/* ---- the session ---- */

static void
session_lease(const attach_req_t *q)
{
    uint64_t ms = q->lease_ms != 0 ? q->lease_ms : ATTACH_LEASE_DEFAULT_MS;
    if (ms < ATTACH_LEASE_MIN_MS)
        ms = ATTACH_LEASE_MIN_MS;
    if (ms > ATTACH_LEASE_MAX_MS)
        ms = ATTACH_LEASE_MAX_MS;
    session.deadline_ns = hs_monotonic_ns() + (int64_t)ms * 1000000;
}

/* Sampling off, the process's interval back, no session. */
static void
session_end(void)
{
    activity_set(false);
    sample_set_interval(session.saved_interval);
    session.id[0] = '\0';
}

static bool
op_start(const attach_req_t *q, attach_reply_t *r)
{
    if (session.id[0] != '\0')
        return reply_fail(r,
                          "another heapsight attach is profiling this "
                          "process",
                          NULL);
    if (activity_on())
        return reply_fail(r,
                          "sampling is on already (prof_active:true, or "
                          "prof.active): attach needs a process armed "
                          "but idle",
                          NULL);
    session.saved_interval = sample_interval();
    activity_reset(q->sample);
    activity_set(true);
    hs_snprintf(session.id, sizeof session.id, "%s", q->id);
    session.ndumps = 0;
    session_lease(q);
    return true;
}

/* Writes a dump of the session (the peak profile with peak) into dir and
 * names it in the reply. */
static bool
op_dump(const char *dir, const char *trigger, bool peak, attach_reply_t *r)
{
    char name[64], path[ATTACH_PATH_MAX];
    hs_snprintf(name, sizeof name, ATTACH_DUMP_FMT, (int)getpid(),
                session.ndumps++);
    hs_snprintf(path, sizeof path, "%s/%s", dir, name);
    int err = peak ? dump_peak_now(path, false) : dump_now(path, "attach");
    if (err != 0)
        return reply_fail(r, "the profile dump failed", strerror(err));
    reply_add(r, "file %s %s\n", trigger, name);
    return true;
}

static bool
op_stop(const char *dir, attach_reply_t *r)
{
    activity_set(false);
    bool ok = op_dump(dir, "final", false, r) && op_dump(dir, "peak", true, r);
    session_end();
    return ok;
}

/* Does q's op; false after reply_fail. */
static bool
req_do(const attach_req_t *q, const char *dir, attach_reply_t *r)
{
    if (strcmp(q->op, "start") == 0)
        return op_start(q, r);
    if (session.id[0] == '\0' || strcmp(q->session, session.id) != 0)
        return reply_fail(r, "no such session (it ended: its lease ran out)",
                          NULL);
    session_lease(q);
    if (strcmp(q->op, "ping") == 0)
        return true;
    if (strcmp(q->op, "dump") == 0)
        return op_dump(dir, "timer", false, r);
    if (strcmp(q->op, "stop") == 0)
        return op_stop(dir, r);
    return reply_fail(r, "unknown op", q->op);
}

/* Reads the request, if any, does it and replies. */
static void
attach_serve(void)
{
    char dir[64], buf[ATTACH_MSG_MAX + 1];
    if (getuid() != geteuid()) {
        if (!warned_uid)
            hs_warn("attach: refused: this process's real and effective "
                    "uids differ");
        warned_uid = true;
        return;
    }
    int dfd = chan_open(dir, sizeof dir);
    ssize_t n = dfd >= 0 ? req_read(dfd, buf) : -1;
    if (dfd >= 0)
        close(dfd);
    if (n < 0)
        return;
    attach_req_t q;
    attach_reply_t r = {.len = 0};
    const char *bad = req_parse(buf, &q);
    reply_add(&r, "%s\nid %s\n", ATTACH_MAGIC, q.id);
    if (bad != NULL)
        reply_fail(&r, bad, NULL);
    else
        req_do(&q, dir, &r);
    reply_write(dir, &r);
}

/* ---- the listener ---- */

static void
on_attach_signal(int sig)
{
    (void)sig;
    int saved = errno;
    int fd = atomic_load_explicit(&wake_fd, memory_order_relaxed);
    if (fd >= 0) {
        ssize_t w = write(fd, "a", 1);
        (void)w; /* a full pipe already holds a wake-up */
    }
    errno = saved;
}

/* How long poll may sleep: until the lease's end, or for ever. */
static int
listen_timeout_ms(void)
{
    if (session.id[0] == '\0')
        return -1;
    int64_t left = session.deadline_ns - hs_monotonic_ns();
    return left <= 0 ? 0 : (int)(left / 1000000 + 1);
}

/* A lease ran out: the command went away without stop. */
static void
listen_expire(void)
{
    if (session.id[0] == '\0' || hs_monotonic_ns() < session.deadline_ns)
        return;
    session_end();
    hs_warn("attach: heapsight attach stopped asking: sampling is off again");
}

static void *
listen_thread(void *arg)
{
    (void)arg;
    tsd_reentrancy_enter(); /* this thread's allocations are the profiler's */
    prctl(PR_SET_NAME, ATTACH_THREAD_NAME);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, attach_sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    for (;;) {
        struct pollfd p = {.fd = read_fd, .events = POLLIN};
        int r = poll(&p, 1, listen_timeout_ms());
        char drain[64];
        if (r > 0) {
            while (read(read_fd, drain, sizeof drain) > 0)
                continue;
            attach_serve();
        }
        listen_expire();
    }
    return NULL;
}

/*
 * Starts the thread with every signal blocked but ours: a program that
 * blocks its signals in each thread and waits for them (sigwait,
 * signalfd) must never see one delivered here.
 */
static bool
listen_start(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    bool ok = pthread_create(&t, &attr, listen_thread, NULL) == 0;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

/* Whether prof_attach asks for the listener. */
static bool
attach_wanted(void)
{
    if (strcmp(opt_prof_attach, "false") == 0)
        return false;
    if (strcmp(opt_prof_attach, "true") == 0)
        return true;
    if (strcmp(opt_prof_attach, "idle") == 0)
        return !opt_prof_active;
    hs_warn("HEAPSIGHT: unknown prof_attach \"%s\" (idle, true or false; "
            "attach is off)",
            opt_prof_attach);
    return false;
}

/* The signal to listen on, or 0 (after a warning) when there is none. */
static int
attach_signal(void)
{
    int sig = hs_signal_number(opt_prof_attach_signal);
    struct sigaction old;
    if (sig == 0)
        hs_warn("HEAPSIGHT: unknown prof_attach_signal \"%s\" (attach is "
                "off)",
                opt_prof_attach_signal);
    else if (opt_prof_signal[0] != '\0' &&
             hs_signal_number(opt_prof_signal) == sig)
        hs_warn("HEAPSIGHT: prof_attach_signal is prof_signal's (attach is "
                "off)");
    else if (sigaction(sig, NULL, &old) != 0 ||
             (old.sa_flags & SA_SIGINFO) != 0 ||
             (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
        hs_warn("HEAPSIGHT: prof_attach_signal %s has a handler already "
                "(attach is off)",
                opt_prof_attach_signal);
    else {
        attach_old = old;
        return sig;
    }
    return 0;
}

void
attach_boot(void)
{
    if (!attach_wanted() || (attach_sig = attach_signal()) == 0)
        return;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        hs_warn("attach: cannot create the listener's pipe: %s",
                strerror(errno));
        return;
    }
    read_fd = fds[0];
    if (!listen_start()) {
        hs_warn("attach: cannot start the listener thread (attach is off)");
        close(fds[0]);
        close(fds[1]);
        read_fd = -1;
        return;
    }
    atomic_store(&wake_fd, fds[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_attach_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(attach_sig, &sa, NULL);
}

void
attach_postfork_child(void)
{
    int fd = atomic_exchange(&wake_fd, -1);
    if (fd < 0)
        return;
    /* The action from before us: a signal meant for the parent's
     * listener must not be taken for a request here. */
    sigaction(attach_sig, &attach_old, NULL);
    close(fd);
    close(read_fd);
    read_fd = -1;
    if (session.id[0] != '\0')
        session_end();
}
