/*
 * tp_leak.c — a program that leaks, or not, for the leak report
 * (prof_leak) and its exit status (prof_leak_error).
 *
 * Usage: tp_leak leak|clean [STATUS]
 *   leak   tp_leaky_function keeps 4 MiB (sampled surely at any
 *          prof_sample up to 256k) and tp_leaky_small 100 x 1000 bytes;
 *   clean  allocates the same and frees everything.
 * Either way it writes three lines to stdout, fully buffered (stdout is a
 * pipe under the driver) in a static buffer — so the stdio buffer itself
 * is not a live allocation at exit, and the lines are lost unless they
 * are flushed before the process ends — then returns STATUS (default 0).
 * Linked with -rdynamic so that the report's dladdr names the functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_util.h"

#define NOINLINE __attribute__((noinline))

static char out_buf[1 << 14];
static void *small[100];

NOINLINE void *
tp_leaky_function(void)
{
    void *p = malloc(4 << 20);
    if (p != NULL)
        memset(p, 7, 4096);
    tp_keep(p);
    return p;
}

NOINLINE void
tp_leaky_small(void)
{
    for (int i = 0; i < 100; i++) {
        small[i] = malloc(1000);
        tp_keep(small[i]);
    }
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
    if (argc < 2 || (strcmp(argv[1], "leak") && strcmp(argv[1], "clean"))) {
        fprintf(stderr, "usage: tp_leak leak|clean [STATUS]\n");
        return 2;
    }
    printf("line one\n");
    void *big = tp_leaky_function();
    tp_leaky_small();
    printf("line two\n");
    if (strcmp(argv[1], "clean") == 0) {
        free(big);
        for (int i = 0; i < 100; i++)
            free(small[i]);
    }
    printf("line three\n");
    return argc > 2 ? atoi(argv[2]) : 0;
}
