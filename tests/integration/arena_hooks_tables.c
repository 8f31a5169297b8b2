/*
 * arena_hooks_tables.c — every extent hook table heapsight.h allows
 * serves mixed sizes from the hooks' memory, through the public
 * interface.
 *
 * The tables: the minimal one (alloc, and a dalloc that keeps what it is
 * given, as a bump allocator over special memory does), the full one
 * with each optional hook NULL in turn, and the full one with a split
 * hook that always refuses; each with metadata_use_hooks off and on.  For each,
 * an arena made with arenas.create serves rounds of 64 B, 40 KB and 3 MiB
 * blocks (HS_MALLOCX_ARENA | HS_MALLOCX_TCACHE_NONE): every block lies in the
 * hooks' region; the region the hooks handed out stays within a small factor of
 * the bytes asked for (nothing obtained is stranded where no request can use
 * it); a second round after freeing half reuses; arena.<i>.reset frees every
 * block and the next round reuses what it freed; arena.<i>.destroy offers every
 * page back.
 *
 * The hooks keep a page map of their region: 0 never handed out, 1 handed
 * to heapsight, 2 given back (dalloc accepted or kept it, or destroy).
 * Handing out a page twice, or getting back a page that was not out, is
 * counted as a violation.
 */
#include "hs_test.h"

#include <heapsight.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "it_util.h"

#define REGION ((size_t)1 << 30)
#define RPAGE ((size_t)4096)
#define NPAGES (REGION / RPAGE)

static char *region;
static unsigned char page_state[NPAGES];
static size_t bump; /* next free offset; the tests run on one thread */
static unsigned violations;
static bool keep_on_dalloc; /* the minimal table's dalloc keeps memory */

static bool
in_region(const void *p, size_t size)
{
    return (const char *)p >= region &&
           (const char *)p + size <= region + REGION;
}

/* Moves the pages of [addr, addr + size) from state from to state to;
 * a page in another state is a violation. */
static void
move_pages(void *addr, size_t size, unsigned char from, unsigned char to,
           unsigned char also_from)
{
    if (!in_region(addr, size) || (uintptr_t)addr % RPAGE != 0) {
        violations++;
        return;
    }
    size_t first = (size_t)((char *)addr - region) / RPAGE;
    for (size_t i = first; i < first + size / RPAGE; i++) {
        if (page_state[i] != from && page_state[i] != also_from)
            violations++;
        page_state[i] = to;
    }
}

static size_t
pages_out(void)
{
    size_t n = 0;
    for (size_t i = 0; i < bump / RPAGE; i++)
        n += page_state[i] == 1;
    return n;
}

static void *
h_alloc(hs_extent_hooks_t *h, void *new_addr, size_t size, size_t alignment,
        bool *zero, bool *commit, unsigned arena_ind)
{
    (void)h, (void)arena_ind;
    if (new_addr != NULL || size % RPAGE != 0)
        return NULL;
    if (alignment < RPAGE)
        alignment = RPAGE;
    size_t start = (bump + alignment - 1) & ~(alignment - 1);
    if (start + size > REGION)
        return NULL;
    bump = start + size;
    move_pages(region + start, size, 0, 1, 0);
    *zero = true; /* never handed out before: still zero */
    *commit = true;
    return region + start;
}

static bool
h_dalloc(hs_extent_hooks_t *h, void *addr, size_t size, bool committed,
         unsigned arena_ind)
{
    (void)h, (void)committed, (void)arena_ind;
    move_pages(addr, size, 1, 2, 1);
    return keep_on_dalloc; /* true: refused, the memory stays with us */
}

static void
h_destroy(hs_extent_hooks_t *h, void *addr, size_t size, bool committed,
          unsigned arena_ind)
{
    (void)h, (void)committed, (void)arena_ind;
    /* After a dalloc that kept them, the pages are already back. */
    move_pages(addr, size, 1, 2, 2);
}

static bool
h_commit(hs_extent_hooks_t *h, void *addr, size_t size, size_t offset,
         size_t length, unsigned arena_ind)
{
    (void)h, (void)addr, (void)size, (void)offset, (void)length;
    (void)arena_ind;
    return false;
}

static bool
h_decommit(hs_extent_hooks_t *h, void *addr, size_t size, size_t offset,
           size_t length, unsigned arena_ind)
{
    (void)h, (void)size, (void)arena_ind;
    return madvise((char *)addr + offset, length, MADV_DONTNEED) != 0;
}

static bool
h_purge(hs_extent_hooks_t *h, void *addr, size_t size, size_t offset,
        size_t length, unsigned arena_ind)
{
    (void)h, (void)size, (void)arena_ind;
    return madvise((char *)addr + offset, length, MADV_DONTNEED) != 0;
}

static bool
h_split(hs_extent_hooks_t *h, void *addr, size_t size, size_t size_a,
        size_t size_b, bool committed, unsigned arena_ind)
{
    (void)h, (void)committed, (void)arena_ind;
    if (!in_region(addr, size) || size_a + size_b != size)
        violations++;
    return false;
}

static bool
h_merge(hs_extent_hooks_t *h, void *a, size_t size_a, void *b, size_t size_b,
        bool committed, unsigned arena_ind)
{
    (void)h, (void)committed, (void)arena_ind;
    if (!in_region(a, size_a) || !in_region(b, size_b) ||
        (char *)a + size_a != (char *)b)
        violations++;
    return false;
}

static bool
h_split_refuse(hs_extent_hooks_t *h, void *addr, size_t size, size_t size_a,
               size_t size_b, bool committed, unsigned arena_ind)
{
    (void)h, (void)addr, (void)size, (void)size_a, (void)size_b;
    (void)committed, (void)arena_ind;
    return true;
}

static const hs_extent_hooks_t full = {
    .alloc = h_alloc,
    .dalloc = h_dalloc,
    .destroy = h_destroy,
    .commit = h_commit,
    .decommit = h_decommit,
    .purge_lazy = h_purge,
    .purge_forced = h_purge,
    .split = h_split,
    .merge = h_merge,
};

/* The table with optional hook k (0..7) NULL; k == 8: the minimal one;
 * k == 9: the full one with a split hook that always refuses. */
static const char *const table_names[] = {
    "full, dalloc NULL",
    "full, destroy NULL",
    "full, commit NULL",
    "full, decommit NULL",
    "full, purge_lazy NULL",
    "full, purge_forced NULL",
    "full, split NULL",
    "full, merge NULL",
    "minimal (alloc and a keeping dalloc)",
    "full, split always refusing"};

static hs_extent_hooks_t
table_without(unsigned k)
{
    hs_extent_hooks_t t = full;
    switch (k) {
    case 0:
        t.dalloc = NULL;
        break;
    case 1:
        t.destroy = NULL;
        break;
    case 2:
        t.commit = NULL;
        break;
    case 3:
        t.decommit = NULL;
        break;
    case 4:
        t.purge_lazy = NULL;
        break;
    case 5:
        t.purge_forced = NULL;
        break;
    case 6:
        t.split = NULL;
        break;
    case 7:
        t.merge = NULL;
        break;
    case 8:
        t = (hs_extent_hooks_t){.alloc = h_alloc, .dalloc = h_dalloc};
        break;
    default:
        t.split = h_split_refuse;
        break;
    }
    return t;
}

enum { ROUND = 60 }; /* 20 blocks of each size */

static size_t
size_of(unsigned i)
{
    static const size_t sizes[] = {64, 40000, (size_t)3 << 20};
    return sizes[i % 3];
}

static size_t
bytes_of_round(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < ROUND; i++)
        n += size_of(i);
    return n;
}

/* Allocates every slot of p that is NULL; false (after reporting) when
 * an allocation fails or lands outside the region. */
static bool
fill(unsigned ind, void **p, const char *what)
{
    int flags = HS_MALLOCX_ARENA(ind) | HS_MALLOCX_TCACHE_NONE;
    unsigned failed = 0, outside = 0;
    for (unsigned i = 0; i < ROUND; i++) {
        if (p[i] != NULL)
            continue;
        p[i] = hs_mallocx(it_opaque(size_of(i)), flags);
        if (p[i] == NULL) {
            failed++;
            continue;
        }
        outside += !in_region(p[i], size_of(i));
        ((unsigned char *)p[i])[0] = (unsigned char)i;
        ((unsigned char *)p[i])[size_of(i) - 1] = (unsigned char)i;
    }
    HS_EXPECT_EQ_U64(failed, 0);
    HS_EXPECT_EQ_U64(outside, 0);
    if (failed || outside)
        fprintf(stderr, "  in %s\n", what);
    return failed == 0 && outside == 0;
}

static void
release(void **p, unsigned step)
{
    for (unsigned i = 0; i < ROUND; i += step) {
        if (p[i] != NULL) {
            HS_EXPECT_EQ_U64(((unsigned char *)p[i])[size_of(i) - 1],
                             (unsigned char)i);
            hs_dallocx(p[i], HS_MALLOCX_TCACHE_NONE);
            p[i] = NULL;
        }
    }
}

static int
arena_op(unsigned ind, const char *op)
{
    char name[64];
    snprintf(name, sizeof name, "arena.%u.%s", ind, op);
    return hs_ctl(name, NULL, NULL, NULL, 0);
}

static size_t
arena_pactive(unsigned ind)
{
    uint64_t e = 1;
    HS_EXPECT_EQ_INT(hs_ctl("epoch", NULL, NULL, &e, sizeof e), 0);
    char name[64];
    snprintf(name, sizeof name, "stats.arenas.%u.pactive", ind);
    size_t active = SIZE_MAX, len = sizeof active;
    HS_EXPECT_EQ_INT(hs_ctl(name, &active, &len, NULL, 0), 0);
    return active;
}

static void
serve_mixed_sizes(unsigned k, bool metadata_use_hooks)
{
    fprintf(stderr, "  table %s, metadata_use_hooks %d\n", table_names[k],
            metadata_use_hooks);
    region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    HS_ASSERT_TRUE(region != MAP_FAILED);
    memset(page_state, 0, sizeof page_state);
    bump = 0;
    violations = 0;
    keep_on_dalloc = k == 8;
    static hs_extent_hooks_t table;
    table = table_without(k);
    hs_arena_config_t cfg = {&table, metadata_use_hooks};
    unsigned ind = 0;
    size_t len = sizeof ind;
    HS_ASSERT_EQ_INT(hs_ctl("arenas.create", &ind, &len, &cfg, sizeof cfg), 0);

    /* A round, then half of it freed and allocated again. */
    static void *p[ROUND];
    memset(p, 0, sizeof p);
    size_t asked = bytes_of_round();
    if (fill(ind, p, "the first round")) {
        release(p, 2);
        fill(ind, p, "the round after freeing half");
    }
    /* What the hooks handed out: the blocks, their slabs' rounding, the
     * chunks' unused tails and metadata, within a small factor. */
    size_t used = bump;
    fprintf(stderr, "    hooks handed out %.1f MiB for %.1f MiB asked\n",
            (double)used / (1 << 20), (double)asked / (1 << 20));
    HS_EXPECT_LE_U64(used, asked + asked / 4 + ((size_t)72 << 20));

    /* reset frees every block; the next round reuses what it freed. */
    HS_EXPECT_EQ_INT(arena_op(ind, "reset"), 0);
    HS_EXPECT_EQ_SIZE(arena_pactive(ind), 0);
    memset(p, 0, sizeof p);
    fill(ind, p, "the round after reset");
    HS_EXPECT_LE_U64(bump - used, (size_t)8 << 20);
    release(p, 1);

    /* destroy offers every page back. */
    HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), 0);
    HS_EXPECT_EQ_SIZE(pages_out(), 0);
    HS_EXPECT_EQ_U64(violations, 0);
    munmap(region, REGION);
}

HS_TEST(minimal_table_alloc_and_a_keeping_dalloc)
{
    serve_mixed_sizes(8, false);
    serve_mixed_sizes(8, true);
}

HS_TEST(split_hook_that_refuses)
{
    serve_mixed_sizes(9, false);
    serve_mixed_sizes(9, true);
}

HS_TEST(each_optional_hook_null_in_turn)
{
    for (unsigned k = 0; k < 8; k++) {
        serve_mixed_sizes(k, false);
        serve_mixed_sizes(k, true);
    }
}

HS_TEST_MAIN()
