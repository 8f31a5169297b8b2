/*
 * fault_exit.c — the process ends while its threads are inside malloc.
 *
 * Owns both halves of the case.  Run with FAULT_EXIT_MODE set, it is one
 * child: EXIT_THREADS threads allocate and free forever, and once each
 * has done EXIT_WARM operations the process ends the way the mode says:
 *
 *   return  main returns 0 (exit handlers, then _exit, threads running)
 *   exit    main calls exit(0)
 *   thread  a worker calls exit(0) while main is blocked in pthread_join
 *
 * Run without it, it is the driver: EXIT_RUNS children, the modes in turn,
 * each re-executed from /proc/self/exe with its stderr in a file of its
 * own.  Every child must exit 0 with nothing on stderr.  With the
 * profiler and prof_final:true (run_fault.sh adds it in the prof
 * variant), each child writes its final dump while its threads allocate,
 * and the driver counts one final dump per child.
 *
 * Not on the test harness: a child must be able to return from main.
 */
#include "fault_util.h"
#include "heapsight.h"
#include "it_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EXIT_THREADS = 4, EXIT_WARM = 2000, EXIT_RUNS = 36, EXIT_ALARM_S = 30 };

static atomic_uint exit_warm; /* atomic: threads past EXIT_WARM ops */
static const char *exit_mode; /* set before the threads start */

static void *
exit_worker(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint64_t rng = id + 1;
    void *live[64] = {0};
    for (unsigned long op = 0;; op++) {
        size_t i = it_rand(&rng) % 64;
        free(live[i]);
        uint64_t x = it_rand(&rng);
        live[i] = malloc(x % 32 == 0 ? (size_t)(x >> 16) % (300u << 10)
                                     : (size_t)(x >> 16) % 1000);
        if (op == EXIT_WARM) {
            atomic_fetch_add(&exit_warm, 1);
            if (id == 0 && strcmp(exit_mode, "thread") == 0) {
                while (atomic_load(&exit_warm) < EXIT_THREADS)
                    ;
                exit(0);
            }
        }
    }
    return NULL;
}

static int
exit_child(void)
{
    alarm(EXIT_ALARM_S);
    pthread_t t[EXIT_THREADS];
    for (uintptr_t i = 0; i < EXIT_THREADS; i++)
        if (pthread_create(&t[i], NULL, exit_worker, (void *)i) != 0)
            return 4;
    while (atomic_load(&exit_warm) < EXIT_THREADS)
        sched_yield();
    if (strcmp(exit_mode, "exit") == 0)
        exit(0);
    if (strcmp(exit_mode, "thread") == 0)
        pthread_join(t[0], NULL); /* never returns: thread 0 exits */
    return 0;
}

/* Files in dir whose name contains needle. */
static unsigned
exit_count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    unsigned n = 0;
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, needle) != NULL;
    closedir(d);
    return n;
}

static int
exit_driver(void)
{
    static const char *const modes[] = {"return", "exit", "thread"};
    const char *dir = getenv("FAULT_DIR");
    char err[4096];
    int failed = 0;
    snprintf(err, sizeof err, "%s/child.stderr", dir ? dir : "/tmp");
    for (int r = 0; r < EXIT_RUNS; r++) {
        const char *mode = modes[r % 3];
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0) {
            int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
                _exit(5);
            setenv("FAULT_EXIT_MODE", mode, 1);
            execl("/proc/self/exe", "hs_fault_exit", (char *)NULL);
            _exit(6);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid)
            return 2;
        struct stat st;
        bool quiet = stat(err, &st) == 0 && st.st_size == 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !quiet) {
            printf("run %d (%s): status 0x%x, stderr %s\n", r, mode,
                   (unsigned)status, quiet ? "empty" : "below");
            fflush(stdout);
            if (!quiet) {
                char cmd[4200];
                snprintf(cmd, sizeof cmd, "cat %s", err);
                (void)!system(cmd);
            }
            failed++;
        }
    }
    printf("%d runs (return, exit, exit from a thread), %d failed\n", EXIT_RUNS,
           failed);
    if (fault_opt_bool("prof") && fault_opt_bool("prof_final") && dir) {
        /* The driver's own final dump is written after this count. */
        unsigned finals = exit_count_files(dir, ".final.");
        printf("%u final dumps\n", finals);
        failed += finals != EXIT_RUNS;
    }
    return failed == 0 ? 0 : 1;
}

int
main(void)
{
    exit_mode = getenv("FAULT_EXIT_MODE");
    if (exit_mode != NULL)
        return exit_child();
    fault_watchdog(110, "exit_while_allocating: the driver stopped");
    return exit_driver();
}
