/*
 * overwrite.c — metadata lives apart from user data: no write into a
 * block, live or freed, can change what the allocator does next.
 *
 * Blocks of several sizes (small and large) are allocated, half of them
 * freed (into the thread cache, and past it into their slabs), and then
 * every byte of every block — freed ones included, as a heap overflow or
 * a write after free would — is overwritten with pointer-like garbage.
 * The allocator must go on handing out distinct, writable blocks of the
 * right usable size, and every block must free cleanly: no free list
 * lives inside free blocks to be corrupted (slabs keep bitmaps, thread
 * caches arrays, extents descriptors, all in separate mappings).
 */
#include "hs_test.h"

#include <heapsight.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "it_util.h"

enum { NBLOCKS = 4096, NSIZES = 6 };

static const size_t sizes[NSIZES] = {16, 48, 200, 3000, 20000, 300000};

static void *blocks[NBLOCKS];
static size_t block_size[NBLOCKS];

static void
scribble(void *p, size_t n, uintptr_t seed)
{
    uintptr_t *w = p;
    for (size_t i = 0; i < n / sizeof(uintptr_t); i++)
        w[i] = seed ^ ((uintptr_t)&w[i] >> 3) ^ (uintptr_t)blocks;
}

static int
by_address(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Whether the live blocks, sorted by address, are pairwise disjoint. */
static bool
disjoint(void)
{
    static uintptr_t live[NBLOCKS];
    size_t n = 0;
    for (int i = 0; i < NBLOCKS; i++)
        if (blocks[i] != NULL)
            live[n++] = (uintptr_t)blocks[i];
    qsort(live, n, sizeof live[0], by_address);
    for (size_t k = 0; k + 1 < n; k++)
        if (live[k] + malloc_usable_size((void *)live[k]) > live[k + 1])
            return false;
    return true;
}

HS_TEST(garbage_in_live_and_freed_blocks_changes_nothing)
{
    for (int i = 0; i < NBLOCKS; i++) {
        block_size[i] = sizes[i % NSIZES];
        blocks[i] = malloc(it_opaque(block_size[i]));
        HS_ASSERT_NOT_NULL(blocks[i]);
    }
    /* Free every other block; remember the memory to scribble on. */
    void *freed[NBLOCKS / 2];
    for (int i = 0; i < NBLOCKS / 2; i++) {
        freed[i] = blocks[2 * i + 1];
        free(blocks[2 * i + 1]);
        blocks[2 * i + 1] = NULL;
    }
    /* The overflow: every byte of every block, freed ones included. */
    for (int i = 0; i < NBLOCKS / 2; i++) {
        scribble(blocks[2 * i], block_size[2 * i], 0x5151);
        scribble(freed[i], block_size[2 * i + 1], 0xdead);
    }
    /* Allocation goes on as if nothing happened. */
    for (int round = 0; round < 4; round++) {
        for (int i = 1; i < NBLOCKS; i += 2) {
            size_t n = block_size[i];
            char *p = malloc(it_opaque(n));
            HS_ASSERT_NOT_NULL(p);
            HS_ASSERT_GE_SIZE(malloc_usable_size(p), n);
            memset(p, i & 0xff, n);
            blocks[i] = p;
        }
        /* No two live blocks overlap (none handed out twice). */
        HS_ASSERT_TRUE(disjoint());
        for (int i = 1; i < NBLOCKS; i += 2) {
            const unsigned char *c = blocks[i];
            HS_ASSERT_EQ_INT(c[0], i & 0xff);
            HS_ASSERT_EQ_INT(c[block_size[i] - 1], i & 0xff);
            scribble(blocks[i], block_size[i], (uintptr_t)round);
            free(blocks[i]);
            blocks[i] = NULL;
        }
    }
    for (int i = 0; i < NBLOCKS; i += 2)
        free(blocks[i]);
    /* Everything still works, thread caches flushed back and refilled. */
    HS_EXPECT_EQ_INT(hs_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i] = malloc(it_opaque(sizes[i % NSIZES]));
        HS_ASSERT_NOT_NULL(blocks[i]);
        memset(blocks[i], 1, sizes[i % NSIZES]);
    }
    for (int i = 0; i < NBLOCKS; i++)
        free(blocks[i]);
}

HS_TEST_MAIN()
