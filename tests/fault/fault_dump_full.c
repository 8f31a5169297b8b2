/*
 * fault_dump_full.c — the program run_dump_full.sh points at a full file
 * system: it allocates from DUMP_SITES distinct stacks (so a dump is tens
 * of kilobytes), asks for DUMP_TRIES dumps, and prints its own result.
 *
 * Its stdout is fixed text apart from the dumps' outcome: the script
 * checks that the dumps failed with ENOSPC (EFBIG in the RLIMIT_FSIZE
 * substitute), that the result line is the one a run without profiler
 * prints, and that stderr holds exactly one line.
 */
#include "fault_util.h"
#include "heapsight.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DUMP_SITES = 400, DUMP_TRIES = 3 };

static void *dump_kept[DUMP_SITES];

/* Recursion depth d gives a distinct stack per d. */
__attribute__((noinline)) static void *
dump_site(int d, size_t n)
{
    if (d == 0)
        return malloc(n);
    void *p = dump_site(d - 1, n);
    __asm__ volatile("" : : "r"(p) : "memory"); /* no tail call */
    return p;
}

int
main(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < DUMP_SITES; i++) {
        dump_kept[i] = dump_site(i % 100, 64 + (size_t)i * 8);
        if (dump_kept[i] == NULL)
            return 2;
        memset(dump_kept[i], i & 0xff, 64);
        sum += (uint64_t)i * 8 + 64;
    }
    for (int t = 0; t < DUMP_TRIES; t++) {
        int err = fault_prof_dump();
        printf("dump %d: %s\n", t, err == 0 ? "written" : strerror(err));
    }
    for (int i = 0; i < DUMP_SITES; i++)
        free(dump_kept[i]);
    printf("result: %llu bytes in %d blocks\n", (unsigned long long)sum,
           DUMP_SITES);
    return 0;
}
