/*
 * selfprof.c — a PIE that writes a pprof profile of its own stack, for the
 * symbolization tests: `selfprof OUT.pb.gz`.
 *
 * The stack, innermost first, continues selflib.cpp's:
 *   prog_inlined   at @prog_inlined_call (inlined into prog_outer)
 *   prog_outer     at @prog_outer_call
 *   main           at @main_call
 *   then libc's start-up frames and _start.
 * Every address is a return address minus one, inside its call
 * instruction, as heapsight's dumps write them.  Mappings are this
 * process's file mappings from /proc/self/maps, with build IDs.
 */
#include <stdint.h>
#include <stdio.h>

#include "selflib.h"
#include "tprof.h"

static inline __attribute__((always_inline)) int
prog_inlined(void **buf, int max)
{
    int n = selflib_entry(buf, max); /* @prog_inlined_call */
    __asm__ volatile("" ::: "memory");
    return n;
}

__attribute__((noinline)) int
prog_outer(void **buf, int max)
{
    int n = prog_inlined(buf, max); /* @prog_outer_call */
    __asm__ volatile("" ::: "memory");
    return n;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: selfprof OUT\n");
        return 2;
    }
    void *buf[64];
    int n = prog_outer(buf, 64); /* @main_call */
    __asm__ volatile("" ::: "memory");
    uint64_t addrs[64];
    for (int i = 0; i < n; i++)
        addrs[i] = (uint64_t)(uintptr_t)buf[i] - 1;
    tprof_t *t = tprof_new();
    tprof_add_self_maps(t);
    tprof_add_sample(t, addrs, (size_t)n, 4096);
    tprof_write(t, argv[1]);
    return 0;
}
