/*
 * svc.c — a long-running "service" for the attach tests (attach_test.py):
 * run with libheapsight.so preloaded and the profiler armed but idle, it
 * allocates while nobody samples, then keeps allocating until killed or
 * for SECONDS, so that `heapsight attach` can profile a stretch of it.
 *
 * Usage: svc SECONDS
 *   1. svc_warmup: 2000 blocks of 1 KiB, kept for the whole run, while the
 *      profiler is idle: no profile of an attach may show them;
 *   2. prints "ready <pid>" (flushed);
 *   3. every millisecond: svc_grow adds a 512-byte node to a list that
 *      only grows (to 64 Ki nodes), svc_churn allocates 32 blocks of 256
 *      bytes and frees them;
 *   4. whenever hs_ctl("prof.active") changes, prints "active 0" or
 *      "active 1" (hs_ctl found with dlsym: the program links nothing of
 *      heapsight's, like any service started with LD_PRELOAD).
 *
 * Owns its list; single-threaded; no locks.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*hs_ctl_fn)(const char *, void *, size_t *, void *, size_t);

typedef struct node_s {
    struct node_s *next;
    char pad[504];
} node_t;

static void *warm[2000];
static node_t *list;
static size_t nlist;

__attribute__((noinline)) static void
svc_warmup(void)
{
    for (size_t i = 0; i < sizeof warm / sizeof warm[0]; i++) {
        warm[i] = malloc(1024);
        memset(warm[i], 1, 1024);
    }
}

__attribute__((noinline)) static void
svc_grow(void)
{
    if (nlist >= 65536)
        return;
    node_t *n = malloc(sizeof *n);
    n->next = list;
    list = n;
    nlist++;
}

__attribute__((noinline)) static void
svc_churn(void)
{
    void *p[32];
    for (int i = 0; i < 32; i++) {
        p[i] = malloc(256);
        memset(p[i], 2, 256);
    }
    for (int i = 0; i < 32; i++)
        free(p[i]);
}

/* Prints prof.active when it changed since the last call. */
static void
svc_watch(hs_ctl_fn ctl, int *last)
{
    bool on = false;
    size_t len = sizeof on;
    if (ctl == NULL || ctl("prof.active", &on, &len, NULL, 0) != 0)
        return;
    if ((int)on != *last) {
        *last = on;
        printf("active %d\n", (int)on);
        fflush(stdout);
    }
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 60;
    hs_ctl_fn ctl = (hs_ctl_fn)dlsym(RTLD_DEFAULT, "hs_ctl");
    int last = -1;
    svc_warmup();
    svc_watch(ctl, &last);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    struct timespec ms = {0, 1000000};
    for (double end = now_s() + seconds; now_s() < end;) {
        svc_grow();
        svc_churn();
        svc_watch(ctl, &last);
        nanosleep(&ms, NULL);
    }
    return 0;
}
