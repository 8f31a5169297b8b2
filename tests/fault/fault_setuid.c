/*
 * fault_setuid.c — what a (setuid) program sees of HEAPSIGHT: prints its
 * real and effective uid and the options it runs with, read back through
 * hs_ctl("opt.*"), then allocates a little and exits 0.
 * run_setuid.sh runs it setuid-root as nobody (options must be ignored)
 * and plainly as nobody (options must apply).
 */
#include "fault_util.h"
#include "heapsight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(void)
{
    unsigned guard = 0;
    size_t len = sizeof guard;
    hs_ctl("opt.san_guard_small", &guard, &len, NULL, 0);
    printf("uid %d euid %d\n", (int)getuid(), (int)geteuid());
    printf("opt.prof %d opt.prof_final %d opt.stats_print %d "
           "opt.san_guard_small %u\n",
           fault_opt_bool("prof"), fault_opt_bool("prof_final"),
           fault_opt_bool("stats_print"), guard);
    char *p = malloc(1000);
    if (p == NULL)
        return 2;
    memset(p, 1, 1000);
    free(p);
    return 0;
}
