/*
 * runner.c — runs one benchmark process and measures it from outside.
 *
 * Owns: fork/exec of a workload with a chosen LD_PRELOAD (or none, for the
 * glibc baseline), wall-clock timing with CLOCK_MONOTONIC, peak RSS, user
 * and system time from wait4's rusage, and a timeout.
 * Does not own: repetitions, medians or tables (bench/run.sh and
 * bench/report.py do those).
 *
 * Usage:
 *   hs_bench_runner [-p preload.so] [-e VAR=VALUE]... [-t timeout_s]
 *                   [-o child_stdout_file] -- program [args...]
 *
 * Prints one line on stdout:
 *   wall_s=<s> maxrss_kib=<KiB> user_s=<s> sys_s=<s> status=<code>
 * where status is the exit code, 128+signal if the child was killed, or
 * "timeout".  The runner's own exit code is 0 whenever it measured a run.
 *
 * Why a runner rather than /usr/bin/time: precise (ns clock, no shell in
 * between), no dependency, and the preload is set for the child only so
 * the measuring process never runs on the allocator under test.  Peak RSS
 * is ru_maxrss of the waited-for child (Linux: KiB, includes the preloaded
 * library's own pages).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { RUNNER_MAX_ENV = 32 };

typedef struct runner_opts_s {
    const char *preload; /* NULL: run with no LD_PRELOAD at all */
    const char *env[RUNNER_MAX_ENV];
    int nenv;
    double timeout_s;     /* <= 0: no timeout */
    const char *out_path; /* NULL: child stdout is inherited */
    char **argv;          /* program and its arguments */
} runner_opts_t;

static volatile sig_atomic_t runner_timed_out;

static void
runner_on_alarm(int sig)
{
    (void)sig;
    runner_timed_out = 1;
}

static void
runner_usage(void)
{
    fprintf(stderr, "usage: hs_bench_runner [-p preload.so] [-e VAR=VALUE]... "
                    "[-t timeout_s] [-o out_file] -- program [args...]\n");
    exit(2);
}

static void
runner_parse(int argc, char **argv, runner_opts_t *r_opts)
{
    int opt;
    memset(r_opts, 0, sizeof(*r_opts));
    while ((opt = getopt(argc, argv, "+p:e:t:o:")) != -1) {
        switch (opt) {
        case 'p':
            r_opts->preload = optarg[0] ? optarg : NULL;
            break;
        case 'e':
            if (r_opts->nenv == RUNNER_MAX_ENV || !strchr(optarg, '='))
                runner_usage();
            r_opts->env[r_opts->nenv++] = optarg;
            break;
        case 't':
            r_opts->timeout_s = atof(optarg);
            break;
        case 'o':
            r_opts->out_path = optarg;
            break;
        default:
            runner_usage();
        }
    }
    if (optind >= argc)
        runner_usage();
    r_opts->argv = &argv[optind];
}

/* In the child: set the environment, redirect stdout, exec.  Never returns. */
static void
runner_exec_child(const runner_opts_t *opts)
{
    if (opts->preload)
        setenv("LD_PRELOAD", opts->preload, 1);
    else
        unsetenv("LD_PRELOAD");
    for (int i = 0; i < opts->nenv; i++)
        putenv((char *)opts->env[i]);
    if (opts->out_path) {
        int fd = open(opts->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
            perror(opts->out_path);
            _exit(126);
        }
        close(fd);
    }
    execvp(opts->argv[0], opts->argv);
    perror(opts->argv[0]);
    _exit(127);
}

static double
runner_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
runner_arm_timeout(double timeout_s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = runner_on_alarm; /* no SA_RESTART: wait4 sees EINTR */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = (time_t)timeout_s;
    it.it_value.tv_usec =
        (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6);
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Waits for pid, killing it once the timeout fires. */
static int
runner_wait(pid_t pid, struct rusage *r_ru)
{
    int status = 0;
    for (;;) {
        pid_t got = wait4(pid, &status, 0, r_ru);
        if (got == pid)
            return status;
        if (got < 0 && errno != EINTR) {
            perror("wait4");
            exit(1);
        }
        if (runner_timed_out)
            kill(pid, SIGKILL);
    }
}

static double
runner_tv(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec * 1e-6;
}

int
main(int argc, char **argv)
{
    runner_opts_t opts;
    runner_parse(argc, argv, &opts);
    fflush(NULL);
    double start = runner_now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0)
        runner_exec_child(&opts);
    if (opts.timeout_s > 0)
        runner_arm_timeout(opts.timeout_s);
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    int status = runner_wait(pid, &ru);
    double wall = runner_now() - start;

    char status_str[32];
    if (runner_timed_out)
        snprintf(status_str, sizeof(status_str), "timeout");
    else if (WIFSIGNALED(status))
        snprintf(status_str, sizeof(status_str), "%d", 128 + WTERMSIG(status));
    else
        snprintf(status_str, sizeof(status_str), "%d", WEXITSTATUS(status));
    printf("wall_s=%.6f maxrss_kib=%ld user_s=%.6f sys_s=%.6f status=%s\n",
           wall, ru.ru_maxrss, runner_tv(&ru.ru_utime), runner_tv(&ru.ru_stime),
           status_str);
    return 0;
}
