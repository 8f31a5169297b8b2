/*
 * arena_hooks.c — arenas.create with extent hooks, through the public
 * interface: an arena on hooks over a private pre-reserved region serves
 * every block (small and large) from that region only, with and without
 * metadata_use_hooks (with it, the descriptors' blocks come from the hooks
 * too); a hook that fails makes the allocation fail with ENOMEM and keeps
 * nothing; arena.<i>.reset frees every block at once; arena.<i>.destroy
 * gives every byte back to the hooks (nothing outstanding afterwards) and
 * frees the index; blocks of such an arena never enter thread caches; and,
 * with threads racing on two arenas whose chunks sit next to each other in
 * the region, no merge hook call ever joins memory of two arenas.
 *
 * The hooks are a bump allocator over one 1 GiB PROT_READ|WRITE,
 * MAP_NORESERVE mapping, counting every byte handed out and given back.
 */
#include "hs_test.h"

#include <errno.h>
#include <heapsight.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "it_util.h"

#define REGION ((size_t)1 << 30)
#define MAXCHUNKS 4096

static char *region;
static _Atomic(size_t) bump;           /* next free offset */
static _Atomic(long long) outstanding; /* bytes out minus bytes back */
static _Atomic(unsigned) nalloc_calls, nsmall_allocs, nmerge_calls;
static _Atomic(unsigned) merge_violations;
static _Atomic(int) fail_allocs; /* >0: fail allocations of size >= it */
static _Atomic(int) fail_below;  /* >0: fail allocations below it */
/* Which arena each 64 KiB granule of the region was handed to. */
static _Atomic(unsigned) owner[REGION >> 16];

static void
region_once(void)
{
    region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED)
        abort();
}

static bool
in_region(const void *p)
{
    return (const char *)p >= region && (const char *)p < region + REGION;
}

static void *
h_alloc(hs_extent_hooks_t *h, void *new_addr, size_t size, size_t alignment,
        bool *zero, bool *commit, unsigned arena_ind)
{
    (void)h;
    atomic_fetch_add(&nalloc_calls, 1);
    if (new_addr != NULL)
        return NULL;
    int fa = atomic_load(&fail_allocs), fb = atomic_load(&fail_below);
    if ((fa > 0 && size >= (size_t)fa) || (fb > 0 && size < (size_t)fb))
        return NULL;
    if (size < ((size_t)1 << 20))
        atomic_fetch_add(&nsmall_allocs, 1);
    size_t off = atomic_load(&bump), start, next;
    do {
        start = (off + alignment - 1) & ~(alignment - 1);
        /* Chunks start on 64 KiB granules so owners do not share one. */
        start = (start + 0xffff) & ~(size_t)0xffff;
        next = start + size;
        if (next > REGION)
            return NULL;
    } while (!atomic_compare_exchange_weak(&bump, &off, next));
    for (size_t g = start >> 16; g < (next + 0xffff) >> 16; g++)
        atomic_store(&owner[g], arena_ind);
    atomic_fetch_add(&outstanding, (long long)size);
    *zero = false; /* may be reused memory: say so */
    *commit = true;
    return region + start;
}

static bool
h_dalloc(hs_extent_hooks_t *h, void *addr, size_t size, bool committed,
         unsigned arena_ind)
{
    (void)h, (void)committed, (void)arena_ind;
    if (!in_region(addr))
        abort();
    atomic_fetch_sub(&outstanding, (long long)size);
    return false;
}

static void
h_destroy(hs_extent_hooks_t *h, void *addr, size_t size, bool committed,
          unsigned arena_ind)
{
    (void)h, (void)committed, (void)arena_ind;
    if (!in_region(addr))
        abort();
    atomic_fetch_sub(&outstanding, (long long)size);
}

static bool
h_purge_forced(hs_extent_hooks_t *h, void *addr, size_t size, size_t offset,
               size_t length, unsigned arena_ind)
{
    (void)h, (void)size, (void)arena_ind;
    return madvise((char *)addr + offset, length, MADV_DONTNEED) != 0;
}

static bool
h_split(hs_extent_hooks_t *h, void *addr, size_t size, size_t size_a,
        size_t size_b, bool committed, unsigned arena_ind)
{
    (void)h, (void)addr, (void)size, (void)size_a, (void)size_b;
    (void)committed, (void)arena_ind;
    return false;
}

static bool
h_merge(hs_extent_hooks_t *h, void *a, size_t size_a, void *b, size_t size_b,
        bool committed, unsigned arena_ind)
{
    (void)h, (void)committed;
    atomic_fetch_add(&nmerge_calls, 1);
    size_t ga = (size_t)((char *)a - region) >> 16;
    size_t gb = (size_t)((char *)b + size_b - 1 - region) >> 16;
    if (!in_region(a) || !in_region(b) || (char *)a + size_a != (char *)b)
        atomic_fetch_add(&merge_violations, 1);
    else
        for (size_t g = ga; g <= gb; g++)
            if (atomic_load(&owner[g]) != arena_ind)
                atomic_fetch_add(&merge_violations, 1);
    return false;
}

static hs_extent_hooks_t hooks = {
    .alloc = h_alloc,
    .dalloc = h_dalloc,
    .destroy = h_destroy,
    .purge_forced = h_purge_forced,
    .split = h_split,
    .merge = h_merge,
};

static unsigned
create(bool metadata_use_hooks)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, region_once);
    hs_arena_config_t cfg = {&hooks, metadata_use_hooks};
    unsigned ind = 0;
    size_t len = sizeof ind;
    int err = hs_ctl("arenas.create", &ind, &len, &cfg, sizeof cfg);
    HS_EXPECT_EQ_INT(err, 0);
    return ind;
}

static int
arena_op(unsigned ind, const char *op)
{
    char name[64];
    snprintf(name, sizeof name, "arena.%u.%s", ind, op);
    return hs_ctl(name, NULL, NULL, NULL, 0);
}

static size_t
size_of(unsigned k)
{
    static const size_t sizes[] = {16,
                                   48,
                                   200,
                                   1024,
                                   4000,
                                   12000,
                                   40000,
                                   (size_t)300000,
                                   65536,
                                   100000,
                                   (size_t)3 << 20};
    return sizes[k % (sizeof sizes / sizeof sizes[0])];
}

static void
only_region_memory(bool metadata_use_hooks)
{
    unsigned ind = create(metadata_use_hooks);
    unsigned small0 = atomic_load(&nsmall_allocs);
    enum { N = 400 };
    static void *p[N];
    size_t outside = 0;
    for (unsigned i = 0; i < N; i++) {
        p[i] = hs_mallocx(it_opaque(size_of(i)), HS_MALLOCX_ARENA(ind));
        HS_ASSERT_NOT_NULL(p[i]);
        memset(p[i], (int)i, size_of(i));
        outside += !in_region(p[i]);
    }
    HS_EXPECT_EQ_SIZE(outside, 0);
    /* With metadata on the hooks, base blocks (64 KiB at first) came from
     * them too; without, only chunks of a megabyte or more. */
    if (metadata_use_hooks)
        HS_EXPECT_GT_INT(atomic_load(&nsmall_allocs), small0);
    else
        HS_EXPECT_EQ_INT(atomic_load(&nsmall_allocs), small0);
    const hs_extent_hooks_t *got = NULL;
    size_t len = sizeof got;
    char name[64];
    snprintf(name, sizeof name, "arena.%u.extent_hooks", ind);
    HS_EXPECT_EQ_INT(hs_ctl(name, &got, &len, NULL, 0), 0);
    HS_EXPECT_EQ_PTR(got, &hooks);
    for (unsigned i = 0; i < N; i++) {
        HS_EXPECT_EQ_INT(((unsigned char *)p[i])[size_of(i) - 1],
                         (unsigned char)i);
        if (i % 2)
            free(p[i]); /* plain free works too */
        else
            hs_dallocx(p[i], 0);
    }
    HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), 0);
    HS_EXPECT_EQ_INT(atomic_load(&outstanding), 0);
}

HS_TEST(hooked_arena_serves_only_hook_memory) { only_region_memory(false); }

HS_TEST(metadata_from_hooks_too) { only_region_memory(true); }

HS_TEST(failing_hooks_fail_the_allocation_and_keep_nothing)
{
    for (int meta = 0; meta < 2; meta++) {
        unsigned ind = create(meta);
        long long before = atomic_load(&outstanding);
        atomic_store(&fail_allocs, 1);
        errno = 0;
        void *p = hs_mallocx(it_opaque(1 << 20), HS_MALLOCX_ARENA(ind));
        HS_EXPECT_NULL(p);
        HS_EXPECT_EQ_INT(errno, ENOMEM);
        atomic_store(&fail_allocs, 0);
        HS_EXPECT_EQ_INT(atomic_load(&outstanding), before);
        if (meta) {
            /* The chunk is given, the descriptors' block is not: the chunk
             * must come back. */
            atomic_store(&fail_below, 1 << 20);
            p = hs_mallocx(it_opaque(5 << 20), HS_MALLOCX_ARENA(ind));
            HS_EXPECT_NULL(p);
            atomic_store(&fail_below, 0);
            HS_EXPECT_EQ_INT(atomic_load(&outstanding), before);
        }
        p = hs_mallocx(it_opaque(1 << 20), HS_MALLOCX_ARENA(ind));
        HS_EXPECT_NOT_NULL(p);
        HS_EXPECT_TRUE(in_region(p));
        free(p);
        HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), 0);
        HS_EXPECT_EQ_INT(atomic_load(&outstanding), 0);
    }
}

HS_TEST(reset_frees_every_block)
{
    unsigned ind = create(false);
    for (int round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 500; i++)
            HS_ASSERT_NOT_NULL(
                hs_mallocx(it_opaque(size_of(i)), HS_MALLOCX_ARENA(ind)));
        HS_EXPECT_EQ_INT(arena_op(ind, "reset"), 0);
        uint64_t e = 1;
        HS_EXPECT_EQ_INT(hs_ctl("epoch", NULL, NULL, &e, sizeof e), 0);
        char name[64];
        snprintf(name, sizeof name, "stats.arenas.%u.pactive", ind);
        size_t active = 1, len = sizeof active;
        HS_EXPECT_EQ_INT(hs_ctl(name, &active, &len, NULL, 0), 0);
        HS_EXPECT_EQ_SIZE(active, 0);
    }
    /* What reset freed is reused, not grown anew. */
    long long before = atomic_load(&outstanding);
    for (unsigned i = 0; i < 500; i++)
        HS_ASSERT_NOT_NULL(
            hs_mallocx(it_opaque(size_of(i)), HS_MALLOCX_ARENA(ind)));
    HS_EXPECT_EQ_INT(atomic_load(&outstanding), before);
    HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), 0);
    HS_EXPECT_EQ_INT(atomic_load(&outstanding), 0);
}

HS_TEST(destroy_rules_and_index_reuse)
{
    unsigned ind = create(false);
    /* Automatic arenas cannot be reset or destroyed. */
    HS_EXPECT_EQ_INT(arena_op(0, "destroy"), EFAULT);
    HS_EXPECT_EQ_INT(arena_op(0, "reset"), EFAULT);
    HS_EXPECT_EQ_INT(arena_op(1000, "destroy"), ENOENT);
    /* Not while a thread is bound to it. */
    unsigned old = 0, mine = ind;
    size_t len = sizeof old;
    HS_EXPECT_EQ_INT(hs_ctl("thread.arena", &old, &len, &mine, sizeof mine), 0);
    void *p = malloc(it_opaque(100)); /* served by the bound arena */
    HS_EXPECT_TRUE(in_region(p));
    free(p);
    HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), EFAULT);
    HS_EXPECT_EQ_INT(hs_ctl("thread.arena", NULL, NULL, &old, sizeof old), 0);
    HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), 0);
    HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), ENOENT);
    errno = 0;
    HS_EXPECT_NULL(hs_mallocx(it_opaque(100), HS_MALLOCX_ARENA(ind)));
    HS_EXPECT_EQ_INT(errno, ENOMEM);
    /* The index is free again. */
    HS_EXPECT_EQ_INT(create(false), ind);
    HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), 0);
    HS_EXPECT_EQ_INT(atomic_load(&outstanding), 0);
    /* Default hooks: an ordinary arena made on request. */
    unsigned d = 0;
    len = sizeof d;
    HS_EXPECT_EQ_INT(hs_ctl("arenas.create", &d, &len, NULL, 0), 0);
    p = hs_mallocx(it_opaque(5000), HS_MALLOCX_ARENA(d));
    HS_EXPECT_NOT_NULL(p);
    free(p);
    HS_EXPECT_EQ_INT(arena_op(d, "destroy"), 0);
}

HS_TEST(manual_blocks_never_enter_thread_caches)
{
    unsigned ind = create(false);
    enum { N = 200 };
    void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = hs_mallocx(it_opaque(32), HS_MALLOCX_ARENA(ind));
    for (int i = 0; i < N; i++)
        free(p[i]);
    HS_EXPECT_EQ_INT(arena_op(ind, "destroy"), 0);
    /* Had they been cached, the thread's next blocks would be them. */
    size_t from_region = 0;
    for (int i = 0; i < N; i++) {
        p[i] = malloc(it_opaque(32));
        from_region += in_region(p[i]);
    }
    HS_EXPECT_EQ_SIZE(from_region, 0);
    for (int i = 0; i < N; i++)
        free(p[i]);
}

/* Two arenas whose chunks interleave in the region, hammered by threads
 * with decay 0 (extents change state all the time): every merge the
 * allocator asks for joins memory of one arena. */
typedef struct {
    unsigned ind;
    unsigned seed;
} racer_t;

static void *
racer(void *arg)
{
    racer_t *r = arg;
    enum { LIVE = 64 };
    void *live[LIVE] = {0};
    unsigned s = r->seed;
    for (int i = 0; i < 4000; i++) {
        s = s * 1103515245u + 12345u;
        unsigned k = (s >> 8) % LIVE;
        if (live[k] != NULL)
            hs_dallocx(live[k], 0);
        size_t size = (s >> 4) % 3 == 0 ? (size_t)((s >> 12) % 64 + 1) << 12
                                        : (size_t)((s >> 12) % 2000 + 16);
        live[k] = hs_mallocx(size, HS_MALLOCX_ARENA(r->ind));
        if (live[k] == NULL || !in_region(live[k]))
            atomic_fetch_add(&merge_violations, 1000);
    }
    for (int k = 0; k < LIVE; k++)
        if (live[k] != NULL)
            hs_dallocx(live[k], 0);
    return NULL;
}

HS_TEST(merges_never_cross_arenas_under_a_race)
{
    unsigned a = create(false), b = create(false);
    ssize_t zero = 0;
    char name[64];
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", k ? b : a);
        HS_EXPECT_EQ_INT(hs_ctl(name, NULL, NULL, &zero, sizeof zero), 0);
    }
    unsigned merges0 = atomic_load(&nmerge_calls);
    pthread_t t[4];
    racer_t r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (racer_t){i % 2 ? b : a, 7u * (unsigned)i + 1};
        HS_ASSERT_EQ_INT(pthread_create(&t[i], NULL, racer, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    HS_EXPECT_GT_INT(atomic_load(&nmerge_calls), merges0);
    HS_EXPECT_EQ_INT(atomic_load(&merge_violations), 0);
    HS_EXPECT_EQ_INT(arena_op(a, "destroy"), 0);
    HS_EXPECT_EQ_INT(arena_op(b, "destroy"), 0);
    HS_EXPECT_EQ_INT(atomic_load(&outstanding), 0);
}

HS_TEST_MAIN()
