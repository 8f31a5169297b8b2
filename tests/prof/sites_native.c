/*
 * sites_native.c — accuracy.c's four sites as plain functions, with no
 * heapsight API, so that any allocator's profiler can be measured on the
 * same heap: heapsight's (HEAPSIGHT=prof:true,...) and jemalloc's
 * (LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,...).  The sites are
 * told apart by their function names in the symbolized profile.
 *
 *   site_churn     objects of 16 .. 4096 bytes, each freed at once
 *   site_tiny      24-byte objects (a 32-byte class in both), all kept
 *   site_block64k  64 KiB blocks, all kept
 *   site_huge      one 64 MiB block, kept
 *
 * Prints "truth <site> <alloc_objects> <alloc_space> <inuse_objects>
 * <inuse_space> <alloc_requested> <inuse_requested>" (spaces in usable
 * bytes as the running allocator's malloc_usable_size reports them, then
 * the requested bytes); keeps everything until exit, where the profilers'
 * final dumps are written.  Used by compare_jemalloc.py; not a CTest test.
 *
 * Usage: sites_native SCALE [SEED]   (SCALE 1 = about 200 MB live)
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

enum { SITE_CHURN, SITE_TINY, SITE_BLOCK, SITE_HUGE, NSITES };
static const char *const site_names[NSITES] = {"site_churn", "site_tiny",
                                               "site_block64k", "site_huge"};

typedef struct truth_s {
    uint64_t alloc_objects, alloc_space, inuse_objects, inuse_space;
    uint64_t alloc_req, inuse_req;
} truth_t;
static truth_t truth[NSITES];

static uint64_t rng = 88172645463325252u;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void *
count(int site, void *p, size_t size)
{
    if (p == NULL) {
        fprintf(stderr, "sites_native: out of memory\n");
        exit(2);
    }
    memset(p, 1, size < 64 ? size : 64);
    size_t u = malloc_usable_size(p);
    truth[site].alloc_objects++;
    truth[site].alloc_space += u;
    truth[site].inuse_objects++;
    truth[site].inuse_space += u;
    truth[site].alloc_req += size;
    truth[site].inuse_req += size;
    return p;
}

static void
uncount(int site, void *p, size_t size)
{
    truth[site].inuse_objects--;
    truth[site].inuse_space -= malloc_usable_size(p);
    truth[site].inuse_req -= size;
}

NOINLINE static void
site_churn(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t size = 16 + next_rand() % 4081;
        void *p = count(SITE_CHURN, malloc(size), size);
        uncount(SITE_CHURN, p, size);
        free(p);
    }
}

/* The arrays that keep the objects are allocated by the caller, so that
 * they are not counted in the site. */
NOINLINE static void
site_tiny(void **kept, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kept[i] = count(SITE_TINY, malloc(24), 24);
}

NOINLINE static void
site_block64k(void **kept, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kept[i] = count(SITE_BLOCK, malloc(65536), 65536);
}

NOINLINE static void *
site_huge(void)
{
    return count(SITE_HUGE, malloc((size_t)64 << 20), (size_t)64 << 20);
}

static void *volatile kept_tiny, *volatile kept_blocks, *volatile kept_huge;

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sites_native SCALE [SEED]\n");
        return 2;
    }
    double scale = atof(argv[1]);
    if (argc > 2)
        rng = strtoull(argv[2], NULL, 10) * 2654435761u + 1;
    size_t ntiny = (size_t)(2000000 * scale), nblock = (size_t)(1000 * scale);
    void **tiny = calloc(ntiny, sizeof(void *));
    void **blocks = calloc(nblock, sizeof(void *));
    if (tiny == NULL || blocks == NULL)
        return 2;
    site_churn((size_t)(1000000 * scale));
    site_tiny(tiny, ntiny);
    site_block64k(blocks, nblock);
    kept_tiny = tiny;
    kept_blocks = blocks;
    kept_huge = site_huge();
    for (int i = 0; i < NSITES; i++)
        printf("truth %s %llu %llu %llu %llu %llu %llu\n", site_names[i],
               (unsigned long long)truth[i].alloc_objects,
               (unsigned long long)truth[i].alloc_space,
               (unsigned long long)truth[i].inuse_objects,
               (unsigned long long)truth[i].inuse_space,
               (unsigned long long)truth[i].alloc_req,
               (unsigned long long)truth[i].inuse_req);
    return 0;
}
