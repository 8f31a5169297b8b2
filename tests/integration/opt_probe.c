/*
 * opt_probe.c — a small program for the HEAPSIGHT= option tests
 * (options.sh): allocates and frees a few megabytes on two threads, then
 * prints the opt.* values it reads through hs_ctl and "probe done" on
 * stdout.  Owns nothing else; exits 0 unless an allocation fails.
 */
#include "heapsight.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
probe_churn(void)
{
    for (size_t n = 1; n < (1u << 22); n = n * 3 + 1) {
        char *p = malloc(n);
        if (p == NULL)
            return 1;
        memset(p, 1, n);
        free(p);
    }
    return 0;
}

static void *
probe_thread(void *arg)
{
    *(int *)arg = probe_churn();
    return NULL;
}

int
main(void)
{
    int thread_rc = 1;
    pthread_t t;
    if (pthread_create(&t, NULL, probe_thread, &thread_rc) != 0)
        return 1;
    int rc = probe_churn();
    pthread_join(t, NULL);
    if (rc != 0 || thread_rc != 0)
        return 1;

    bool stats_print = false;
    unsigned narenas = 0;
    size_t len = sizeof stats_print;
    int e1 = hs_ctl("opt.stats_print", &stats_print, &len, NULL, 0);
    len = sizeof narenas;
    int e2 = hs_ctl("opt.narenas", &narenas, &len, NULL, 0);
    printf("opt.stats_print=%d rc=%d\n", (int)stats_print, e1);
    printf("opt.narenas=%u rc=%d\n", narenas, e2);
    printf("probe done\n");
    return 0;
}
