/*
 * accuracy.c — a program whose heap is known exactly, for checking the
 * profiler's estimates against the truth (judged by accuracy.py).
 *
 * Four sites, each made deterministic by a backtrace hook that replaces
 * the stack with one symbolic frame naming the site:
 *   churn    objects of mixed sizes (16 B .. 4 KiB), each freed at once
 *   tiny     24-byte objects (a 32-byte class), all kept
 *   block64k 64 KiB blocks, all kept
 *   huge     one 64 MiB block, kept
 * The truth, in requested bytes (the profile's unit of space), is printed
 * per site as "truth <site> <alloc_objects> <alloc_space> <inuse_objects>
 * <inuse_space>", and the same spaces in usable bytes (malloc_usable_size,
 * the allocator's view: objects x the "bytes" label) as "usable <site>
 * <alloc_space> <inuse_space>"; then the profile is dumped to argv[2] with
 * prof.dump.
 *
 * Usage: accuracy SCALE DUMP_PATH [SEED]   (SCALE 1 = about 200 MB live)
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapsight.h"
#include "heapsight_hook.h"

enum { SITE_CHURN, SITE_TINY, SITE_BLOCK, SITE_HUGE, NSITES };
static const char *site_names[NSITES] = {"churn", "tiny", "block64k", "huge"};
static hs_frame_t site_frames[NSITES];
/* volatile: the compiler takes malloc for a function that reads no
 * program memory, and would otherwise drop the store before the call as
 * dead (the hook, called from inside malloc, would never see it). */
static __thread volatile int current_site = -1;

typedef struct truth_s {
    uint64_t alloc_objects, alloc_space, inuse_objects, inuse_space;
    uint64_t alloc_usable, inuse_usable;
} truth_t;
static truth_t truth[NSITES];

static void
site_hook(hs_frame_t *frames, unsigned *nframes, unsigned max, void *arg)
{
    (void)arg;
    if (current_site < 0 || max == 0)
        return;
    frames[0] = site_frames[current_site];
    *nframes = 1;
}

static void *
site_alloc(int site, size_t size)
{
    current_site = site;
    void *p = malloc(size);
    current_site = -1;
    if (p == NULL) {
        fprintf(stderr, "accuracy: out of memory\n");
        exit(2);
    }
    memset(p, 1, size < 64 ? size : 64);
    size_t u = malloc_usable_size(p);
    truth[site].alloc_objects++;
    truth[site].alloc_space += size;
    truth[site].inuse_objects++;
    truth[site].inuse_space += size;
    truth[site].alloc_usable += u;
    truth[site].inuse_usable += u;
    return p;
}

/* Frees p, allocated at site with size bytes requested. */
static void
site_free(int site, void *p, size_t size)
{
    truth[site].inuse_objects--;
    truth[site].inuse_space -= size;
    truth[site].inuse_usable -= malloc_usable_size(p);
    free(p);
}

static uint64_t rng = 88172645463325252u;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: accuracy SCALE DUMP_PATH [SEED]\n");
        return 2;
    }
    double scale = atof(argv[1]);
    if (argc > 3)
        rng = strtoull(argv[3], NULL, 10) * 2654435761u + 1;
    for (int i = 0; i < NSITES; i++)
        site_frames[i] = hs_frame_symbolic(site_names[i], "accuracy.c", i + 1);
    if (hs_backtrace_hook_add(site_hook, NULL) != 0) {
        fprintf(stderr, "accuracy: cannot add the hook\n");
        return 2;
    }
    size_t nchurn = (size_t)(1000000 * scale),
           ntiny = (size_t)(2000000 * scale);
    size_t nblock = (size_t)(1000 * scale);
    for (size_t i = 0; i < nchurn; i++) {
        size_t size = 16 + next_rand() % 4081;
        site_free(SITE_CHURN, site_alloc(SITE_CHURN, size), size);
    }
    void **tiny = calloc(ntiny, sizeof(void *));
    for (size_t i = 0; i < ntiny; i++)
        tiny[i] = site_alloc(SITE_TINY, 24);
    void **blocks = calloc(nblock, sizeof(void *));
    for (size_t i = 0; i < nblock; i++)
        blocks[i] = site_alloc(SITE_BLOCK, 65536);
    void *huge = site_alloc(SITE_HUGE, (size_t)64 << 20);
    for (int i = 0; i < NSITES; i++)
        printf("truth %s %llu %llu %llu %llu\n", site_names[i],
               (unsigned long long)truth[i].alloc_objects,
               (unsigned long long)truth[i].alloc_space,
               (unsigned long long)truth[i].inuse_objects,
               (unsigned long long)truth[i].inuse_space);
    for (int i = 0; i < NSITES; i++)
        printf("usable %s %llu %llu\n", site_names[i],
               (unsigned long long)truth[i].alloc_usable,
               (unsigned long long)truth[i].inuse_usable);
    const char *path = argv[2];
    int err = hs_ctl("prof.dump", NULL, NULL, &path, sizeof(path));
    if (err != 0) {
        fprintf(stderr, "accuracy: prof.dump failed: %s\n", strerror(err));
        return 1;
    }
    /* Keep everything live until the dump is written. */
    printf("kept %p %p %p\n", (void *)tiny, (void *)blocks, huge);
    return 0;
}
