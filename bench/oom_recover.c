/*
 * oom_recover.c — how an allocator fares when the address space runs out
 * (bench/oom_recover.sh runs it under each allocator).
 *
 * Under RLIMIT_AS = argv[1] MiB (default 256): fill the space with 1000-byte
 * blocks until malloc fails, then ask for 3 MiB blocks until that fails,
 * free everything, and ask again: one 100 MiB block, a 150 MiB calloc, and
 * a second fill with small blocks.  Prints one line of key=value pairs:
 * how many MiB each fill got, whether each failure said ENOMEM, and whether
 * the big requests after the free succeeded (1) or not (0).  An allocator
 * that keeps the address space it reserved, or dies, shows here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

enum { SMALL = 1000, BIG = 3 << 20, MAXBLOCKS = 1 << 20 };

static void *blocks[MAXBLOCKS];

/* Allocates size-byte blocks (touched) until malloc fails; returns how
 * many; *r_enomem says whether the failure set errno to ENOMEM. */
static size_t
fill(size_t size, size_t from, int *r_enomem)
{
    size_t n = from;
    while (n < MAXBLOCKS) {
        errno = 0;
        void *p = malloc(size);
        if (p == NULL)
            break;
        memset(p, 1, size < 4096 ? size : 4096);
        blocks[n++] = p;
    }
    *r_enomem = errno == ENOMEM;
    return n - from;
}

static void
free_all(size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
}

int
main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    struct rlimit r = {mib << 20, mib << 20};
    if (setrlimit(RLIMIT_AS, &r) != 0) {
        perror("setrlimit");
        return 2;
    }
    int e_small, e_big, e_again;
    size_t n_small = fill(SMALL, 0, &e_small);
    size_t n_big = fill(BIG, n_small, &e_big);
    free_all(n_small + n_big);
    void *p = malloc(100 << 20);
    int big_after = p != NULL;
    free(p);
    void *q = calloc(1, 150 << 20);
    int calloc_after = q != NULL;
    free(q);
    size_t n_again = fill(SMALL, 0, &e_again);
    free_all(n_again);
    printf("small_mib=%zu small_enomem=%d big_mib=%zu big_enomem=%d "
           "malloc100_after=%d calloc150_after=%d small_again_mib=%zu\n",
           n_small * SMALL >> 20, e_small, n_big * (size_t)BIG >> 20, e_big,
           big_after, calloc_after, n_again * SMALL >> 20);
    return 0;
}
