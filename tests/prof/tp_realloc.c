/*
 * tp_realloc.c — sampling around reallocs that resize a block in place.
 *
 * A realloc that shrinks or grows a large block in place allocates bytes
 * as far as the sampler is concerned (it advances the thread's byte
 * count), so it may cross a sample point; the sample must then go to that
 * realloc, never to whichever allocation comes next.  Here every round
 * shrinks one 512 KiB block to 64 KiB and grows it back (both in place in
 * heapsight), then tp_small_site makes SMALL_PER_ROUND 32-byte objects.
 * The truth of tp_small_site is printed as "truth tp_small_site
 * <objects> <bytes>", in requested bytes (the profile's unit; 32 is also
 * their usable size); everything stays live until the dump.
 *
 * For prof_test.py (case realloc_in_place), at prof_sample:16k: the small
 * site's 12.8 MB have a relative standard error of sqrt(R / B) = 3.6 %, so
 * its estimate must lie within 20 % of the truth.
 *
 * Usage: tp_realloc DUMP
 */
#include <stdio.h>
#include <stdlib.h>

#include "tp_util.h"

#define NOINLINE __attribute__((noinline))

enum { ROUNDS = 50000, SMALL_PER_ROUND = 8, SMALL_SIZE = 32 };

static void *small[ROUNDS * SMALL_PER_ROUND];
static size_t small_bytes;

NOINLINE static void
tp_small_site(int round)
{
    for (int k = 0; k < SMALL_PER_ROUND; k++) {
        void *p = malloc(SMALL_SIZE);
        if (p == NULL)
            abort();
        small[round * SMALL_PER_ROUND + k] = p;
        small_bytes += SMALL_SIZE;
    }
}

NOINLINE static void *
tp_resize_site(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (q == NULL)
        abort();
    return q;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tp_realloc DUMP\n");
        return 2;
    }
    void *block = malloc(512 << 10);
    int in_place = 0;
    for (int r = 0; r < ROUNDS; r++) {
        void *q = tp_resize_site(block, 64 << 10);
        in_place += q == block;
        block = tp_resize_site(q, 512 << 10);
        in_place += q == block;
        tp_small_site(r);
    }
    printf("reallocs in place: %d of %d\n", in_place, 2 * ROUNDS);
    printf("truth tp_small_site %d %zu\n", ROUNDS * SMALL_PER_ROUND,
           small_bytes);
    fflush(stdout);
    tp_keep(block);
    return tp_dump(argv[1]) == 0 ? 0 : 1;
}
