/*
 * attach.c — `heapsight attach PID [--duration D] [--every D] [--out DIR]
 * [--sample SIZE] [--signal SIG] [--no-symbolize] [--debug-dir DIR]...`:
 * profiles a running process that was started armed but idle
 * (LD_PRELOAD=libheapsight.so HEAPSIGHT=prof:true,prof_active:false) for
 * a while, then leaves it idle again.
 *
 * Owns: the session as the command runs it — start (the process's
 * counters reset, sampling on), a dump every --every, a ping every
 * ATTACH_PING_MS so that the process's lease never runs out while this
 * command lives, stop (sampling off, the final and the peak profile) at
 * the end of --duration or on SIGINT, SIGTERM or SIGHUP — and the files:
 * each dump moved out of the channel as soon as it is written, to
 * DIR/heapsight.<pid>.<seq>.<trigger>.pb.gz (trigger timer, final or peak;
 * seq after the highest one DIR holds for that pid, so that a second
 * session continues the series), then symbolized in place and named on
 * stderr as `heapsight run` does.  The channel itself is attach_chan.c's.
 *
 * Exit status: 0 when the session ended with its final and peak profiles;
 * 1 when the process cannot be attached, does not answer, refuses, ends,
 * or a dump fails (the profiles already moved are kept and named); 2 for
 * bad usage.
 *
 * Threading: single-threaded; the signal handler only sets a flag.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../alloc/util/signame.h"
#include "attach_chan.h"
#include "cmd.h"
#include "symbolize.h"

#define ATTACH_DEFAULT_MS 10000
/* How long the first reply may take: nothing is dumped for it. */
#define ATTACH_START_TIMEOUT_MS 5000
/* How long a dump's reply may take (a large heap, a slow disk). */
#define ATTACH_DUMP_TIMEOUT_MS 120000
/* The lease each request asks for, and how often a ping renews it. */
#define ATTACH_LEASE_MS 30000
#define ATTACH_PING_MS 10000
/* Bound of --sample (prof_sample's, alloc/opts.h). */
#define ATTACH_SAMPLE_MAX_BYTES ((uint64_t)1 << 40)
#define ATTACH_PREFIX "heapsight"

typedef struct attach_opts_s {
    long pid;
    unsigned duration_ms;
    unsigned every_ms;                    /* 0: no periodic dumps */
    const char *duration_arg, *every_arg; /* as given, for messages */
    uint64_t sample;                      /* 0: the process's own interval */
    const char *out;
    const char *signal; /* NULL: as the process was started */
    bool no_symbolize;
    const char **debug_dirs;
    size_t ndebug_dirs;
} attach_opts_t;

/* The files of the session, in --out. */
typedef struct attach_files_s {
    char **paths;
    size_t n;
    unsigned next_seq;
    bool failed; /* a request failed, or a dump was not moved */
    bool broken; /* a request got no reply: the process is gone or hung */
} attach_files_t;

static int attach_main(int argc, char **argv);

const cmd_t cmd_attach = {
    .name = "attach",
    .summary = "profile a running process for a while (started armed, idle)",
    .usage =
        "usage: heapsight attach [options] PID\n"
        "\n"
        "Turns sampling on in process PID for a while, writes its profiles\n"
        "into DIR, then turns sampling off again.  PID must have been\n"
        "started with the library preloaded and the profiler armed but "
        "idle:\n"
        "  LD_PRELOAD=libheapsight.so HEAPSIGHT=prof:true,prof_active:false "
        "CMD\n"
        "and must be yours (or you root).  Its counters are reset first, so\n"
        "the profiles hold what it did while attached.  At the end: a final\n"
        "profile of the whole period and the peak profile (the live heap at\n"
        "its high-water mark in the period), each symbolized and named.\n"
        "\n"
        "options:\n"
        "      --duration DURATION  how long to sample (500ms, 30s, 2m, 1h;\n"
        "                           a bare number is seconds; default 10s;\n"
        "                           Ctrl-C ends it early, with the profiles)\n"
        "      --every DURATION     also dump every DURATION meanwhile: a\n"
        "                           series for 'heapsight trend'\n"
        "  -o, --out DIR            where profiles go (default: the current\n"
        "                           directory; created if missing), named\n"
        "                           DIR/heapsight.<pid>.<seq>.<trigger>.pb.gz\n"
        "                           (trigger: timer, final, peak)\n"
        "  -s, --sample SIZE        mean bytes between samples while attached\n"
        "                           (k, m, g suffixes; default: the process's\n"
        "                           prof_sample, 512k unless set)\n"
        "      --signal SIG         the signal announcing a request (default:\n"
        "                           the process's prof_attach_signal, else\n"
        "                           RTMIN+5)\n"
        "  -d, --debug-dir DIR      also look for symbols by build ID in DIR\n"
        "      --no-symbolize       leave the profiles' addresses as they "
        "are\n"
        "  -h, --help               this text\n"
        "\n"
        "The process's listener: docs/PROFILING.md, \"Attaching to a running\n"
        "process\" (options prof_attach and prof_attach_signal).\n",
    .main = attach_main,
};
CMD_REGISTER(cmd_attach, CMD_ORDER_ATTACH);

/* ---- options ------------------------------------------------------------ */

static int
attach_parse_duration(const char *opt, const char *arg, unsigned *r_ms)
{
    if (cmd_parse_duration(arg, r_ms))
        return -1;
    return cmd_usage_error(&cmd_attach,
                           "bad --%s '%s' (a duration from 1ms to 24h, such "
                           "as 500ms, 30s, 2m or 1h)",
                           opt, arg);
}

static int
attach_parse_sample(const char *arg, uint64_t *r_sample)
{
    if (cmd_parse_size(arg, r_sample) && *r_sample != 0 &&
        *r_sample <= ATTACH_SAMPLE_MAX_BYTES)
        return -1;
    return cmd_usage_error(&cmd_attach,
                           "bad --sample '%s' (bytes from 1 to 1024g, with "
                           "an optional k, m or g suffix)",
                           arg);
}

/* The one operand, PID. */
static int
attach_parse_pid(int argc, char **argv, attach_opts_t *o)
{
    if (optind >= argc)
        return cmd_usage_error(&cmd_attach, "no PID given");
    if (optind + 1 < argc)
        return cmd_usage_error(&cmd_attach, "one PID only ('%s' too)",
                               argv[optind + 1]);
    char *end;
    errno = 0;
    o->pid = strtol(argv[optind], &end, 10);
    if (argv[optind][0] >= '0' && argv[optind][0] <= '9' && *end == '\0' &&
        errno == 0 && o->pid > 0 && o->pid <= INT_MAX)
        return -1;
    return cmd_usage_error(&cmd_attach, "bad PID '%s'", argv[optind]);
}

/* One option c (getopt_long's answer) into o; -1 to go on. */
static int
attach_option(int c, char **argv, attach_opts_t *o)
{
    switch (c) {
    case 'D':
        o->duration_arg = optarg;
        return attach_parse_duration("duration", optarg, &o->duration_ms);
    case 'E':
        o->every_arg = optarg;
        return attach_parse_duration("every", optarg, &o->every_ms);
    case 'o':
        o->out = optarg;
        return -1;
    case 's':
        return attach_parse_sample(optarg, &o->sample);
    case 'S':
        o->signal = optarg;
        return hs_signal_number(optarg) != 0
                   ? -1
                   : cmd_usage_error(&cmd_attach,
                                     "bad --signal '%s' (RTMIN+N, USR1, "
                                     "USR2 or a real-time signal's number)",
                                     optarg);
    case 'd':
        o->debug_dirs[o->ndebug_dirs++] = optarg;
        return -1;
    case 'N':
        o->no_symbolize = true;
        return -1;
    case 'h':
        return cmd_help(&cmd_attach);
    default:
        return cmd_bad_option(&cmd_attach, c, argv);
    }
}

/* Parses argv into o; -1 to go on, else the exit status. */
static int
attach_parse(int argc, char **argv, attach_opts_t *o)
{
    static const struct option longopts[] = {
        {"duration", required_argument, NULL, 'D'},
        {"every", required_argument, NULL, 'E'},
        {"out", required_argument, NULL, 'o'},
        {"sample", required_argument, NULL, 's'},
        {"signal", required_argument, NULL, 'S'},
        {"debug-dir", required_argument, NULL, 'd'},
        {"no-symbolize", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, status = -1;
    cmd_getopt_reset();
    while (status < 0 &&
           (c = getopt_long(argc, argv, ":o:s:d:h", longopts, NULL)) != -1)
        status = attach_option(c, argv, o);
    return status < 0 ? attach_parse_pid(argc, argv, o) : status;
}

/* ---- the output directory ----------------------------------------------- */

/* The absolute output directory, created; NULL after an error line. */
static char *
attach_out_dir(const char *out)
{
    int e = cmd_mkdirs(out, 0777);
    char *dir = e == 0 ? realpath(out, NULL) : NULL;
    if (dir == NULL)
        cmd_error("attach: cannot use --out %s: %s", out,
                  strerror(e != 0 ? e : errno));
    return dir;
}

/* The first sequence number free for pid in dir: one past the highest
 * of heapsight.<pid>.<seq>.* there. */
static unsigned
attach_first_seq(const char *dir, long pid)
{
    char prefix[64];
    int np = snprintf(prefix, sizeof prefix, ATTACH_PREFIX ".%ld.", pid);
    unsigned next = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char *end;
        if (strncmp(e->d_name, prefix, (size_t)np) != 0)
            continue;
        unsigned long seq = strtoul(e->d_name + np, &end, 10);
        if (end != e->d_name + np && *end == '.' && seq >= next)
            next = (unsigned)seq + 1;
    }
    if (d != NULL)
        closedir(d);
    return next;
}

/* Moves the dumps a reply names into dir; false if one could not be. */
static bool
attach_collect(const attach_target_t *t, const attach_reply_t *r,
               const char *dir, attach_files_t *f)
{
    bool ok = true;
    for (size_t i = 0; i < r->nfiles; i++) {
        char *path, **grown = realloc(f->paths, (f->n + 1) * sizeof(char *));
        if (grown == NULL)
            return false;
        f->paths = grown;
        if (asprintf(&path, "%s/" ATTACH_PREFIX ".%ld.%u.%s.pb.gz", dir, t->pid,
                     f->next_seq++, r->files[i].trigger) < 0)
            return false;
        int e = attach_take(t, r->files[i].name, path);
        if (e == 0)
            f->paths[f->n++] = path;
        else {
            cmd_error("attach: cannot move %s/%s to %s: %s", t->dir,
                      r->files[i].name, path, strerror(e));
            free(path);
            ok = false;
        }
    }
    return ok;
}

/* ---- the session -------------------------------------------------------- */

static volatile sig_atomic_t attach_interrupted;

static void
attach_on_signal(int sig)
{
    (void)sig;
    attach_interrupted = 1;
}

/* SIGINT, SIGTERM and SIGHUP end the session early (not SA_RESTART: the
 * sleep between requests wakes up). */
static void
attach_catch_signals(void)
{
    struct sigaction sa = {.sa_handler = attach_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int64_t
attach_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Says why request op got no answer (or a failed one); false. */
static bool
attach_report(const attach_target_t *t, const char *op, int e,
              const attach_reply_t *r)
{
    if (e == 0)
        cmd_error("attach: process %ld: %s", t->pid, r->message);
    else if (e == ETIMEDOUT && strcmp(op, "start") == 0)
        cmd_error("attach: process %ld does not answer: is libheapsight.so "
                  "preloaded with prof:true?",
                  t->pid);
    else if (e == ETIMEDOUT)
        cmd_error("attach: process %ld stopped answering (%s)", t->pid, op);
    else if (e == ESRCH)
        cmd_error("attach: process %ld ended", t->pid);
    else if (e == EBUSY)
        cmd_error("attach: another heapsight attach is talking to process "
                  "%ld",
                  t->pid);
    else
        cmd_error("attach: cannot send a request to process %ld through "
                  "%s: %s",
                  t->pid, t->dir, strerror(e));
    return false;
}

/* Sends op; moves the dumps it wrote into dir.  False after a line. */
static bool
attach_op(const attach_target_t *t, const attach_req_t *q, const char *dir,
          attach_files_t *f, attach_reply_t *r)
{
    bool start = strcmp(q->op, "start") == 0;
    int e = attach_request(
        t, q, start ? ATTACH_START_TIMEOUT_MS : ATTACH_DUMP_TIMEOUT_MS, r);
    bool moved = e == 0 ? attach_collect(t, r, dir, f) : true;
    f->failed |= !moved;
    f->broken |= e != 0;
    if (e == 0 && r->ok)
        return moved;
    f->failed = true;
    return attach_report(t, q->op, e, r);
}

/* Sleeps until deadline (ms, attach_now_ms's clock) or a signal. */
static void
attach_sleep_until(int64_t deadline)
{
    int64_t left = deadline - attach_now_ms();
    if (left <= 0)
        return;
    struct timespec ts = {left / 1000, (left % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The requests between start and stop: dumps and pings until the end,
 * a signal or a failed request. */
static void
attach_wait(const attach_opts_t *o, const attach_target_t *t,
            const char *session, const char *dir, attach_files_t *f)
{
    int64_t t0 = attach_now_ms(), end = t0 + o->duration_ms;
    int64_t next_dump = o->every_ms ? t0 + o->every_ms : INT64_MAX;
    int64_t last = t0;
    attach_reply_t r;
    while (!attach_interrupted) {
        int64_t now = attach_now_ms();
        if (now >= end)
            return;
        const char *op = now >= next_dump               ? "dump"
                         : now >= last + ATTACH_PING_MS ? "ping"
                                                        : NULL;
        if (op == NULL) {
            int64_t wake = next_dump < end ? next_dump : end;
            attach_sleep_until(
                wake < last + ATTACH_PING_MS ? wake : last + ATTACH_PING_MS);
            continue;
        }
        attach_req_t q = {op, session, ATTACH_LEASE_MS, 0};
        if (!attach_op(t, &q, dir, f, &r))
            return;
        for (last = attach_now_ms(); op[0] == 'd' && next_dump <= last;)
            next_dump += o->every_ms;
    }
    cmd_error("attach: interrupted: stopping early");
}

/* Start, the requests between, stop.  The exit status. */
static int
attach_session(const attach_opts_t *o, const attach_target_t *t,
               const char *dir, attach_files_t *f)
{
    attach_reply_t r;
    attach_req_t start = {"start", NULL, ATTACH_LEASE_MS, o->sample};
    if (!attach_op(t, &start, dir, f, &r))
        return CMD_EXIT_FAIL;
    char session[ATTACH_TOKEN_MAX];
    snprintf(session, sizeof session, "%s", r.id);
    cmd_error("attach: sampling process %ld for %s%s%s", t->pid,
              o->duration_arg != NULL ? o->duration_arg : "10s",
              o->every_arg != NULL ? ", a dump every " : "",
              o->every_arg != NULL ? o->every_arg : "");
    attach_wait(o, t, session, dir, f);
    /* Whatever happened meanwhile: a process that still answers is left
     * idle, with the profiles of the period. */
    attach_req_t stop = {"stop", session, ATTACH_LEASE_MS, 0};
    if (!f->broken)
        attach_op(t, &stop, dir, f, &r);
    return f->failed ? CMD_EXIT_FAIL : CMD_EXIT_OK;
}

/* Symbolizes the session's profiles in place and names them. */
static void
attach_finish(const attach_opts_t *o, attach_files_t *f)
{
    symbolize_opts_t so = {o->debug_dirs, o->ndebug_dirs, false, NULL};
    so.session = o->no_symbolize ? NULL : symbolize_session_new(&so);
    for (size_t i = 0; i < f->n; i++) {
        if (o->no_symbolize)
            cmd_error("profile: %s", f->paths[i]);
        else if (symbolize_file(f->paths[i], f->paths[i], &so) == CMD_EXIT_OK)
            cmd_error("profile: %s", f->paths[i]);
        else
            cmd_error("profile (not symbolized): %s", f->paths[i]);
        free(f->paths[i]);
    }
    symbolize_session_free(so.session);
    free(f->paths);
}

static int
attach_main(int argc, char **argv)
{
    attach_opts_t o = {.duration_ms = ATTACH_DEFAULT_MS, .out = "."};
    attach_target_t t;
    attach_files_t f = {.paths = NULL};
    o.debug_dirs = calloc((size_t)argc + 1, sizeof(*o.debug_dirs));
    if (o.debug_dirs == NULL)
        return CMD_EXIT_FAIL;
    int status = attach_parse(argc, argv, &o);
    if (status < 0)
        status = attach_probe(o.pid, o.signal, &t);
    if (status < 0)
        status = attach_chan_open(&t);
    char *dir = status < 0 ? attach_out_dir(o.out) : NULL;
    if (status < 0 && dir == NULL)
        status = CMD_EXIT_FAIL;
    if (status < 0) {
        f.next_seq = attach_first_seq(dir, t.pid);
        attach_catch_signals();
        status = attach_session(&o, &t, dir, &f);
        attach_finish(&o, &f);
    }
    free(dir);
    free(o.debug_dirs);
    return status;
}
