/*
 * tp_stacks.c — allocation sites through every C entry point, each in a
 * function of its own, with the exact truth of what each allocated.
 *
 * For prof_test.py: the stack-top cases (the innermost frame of every
 * sample must be the site function that called the allocator), the exact
 * case (at prof_sample:1 the profile equals the truth) and the pprof case
 * (the real `go tool pprof` shows the functions and the file:line of the
 * @markers below).  Built with -g, frame pointers and no sibling calls,
 * so every site keeps its own frame.
 *
 * The truth is counted per site in requested bytes (the profile's unit of
 * space: calloc(25, 40) counts 1000, a realloc its new size) and printed
 * as "truth <function> <alloc_objects> <alloc_space> <inuse_objects>
 * <inuse_space>"; the same spaces in usable bytes (malloc_usable_size,
 * which the profile shows as objects x the "bytes" label) are printed as
 * "usable <function> <alloc_space> <inuse_space>".  A realloc counts as
 * an allocation at the realloc's site and a free at the old block's site,
 * moved or not (as jemalloc and pprof count it).  Site names and their
 * @markers (the line of the call into the allocator):
 *   tp_site_malloc          @malloc_call     64 x malloc(1000), 24 freed
 *   tp_site_calloc          @calloc_call     32 x calloc(25, 40)
 *   tp_site_realloc_src     @realloc_src     16 x malloc(100) ...
 *   tp_site_realloc_grow    @realloc_grow    ... each realloc'ed to 3000
 *   tp_site_big             @big_call        1 x malloc(80 KiB) ...
 *   tp_site_realloc_shrink  @realloc_shrink  ... realloc'ed to 48 KiB
 *   tp_site_memalign        @memalign_call   8 x posix_memalign(256, 5000)
 *   tp_site_aligned         @aligned_call    8 x aligned_alloc(4096, 8192)
 *   tp_site_mallocx         @mallocx_call    4 x hs_mallocx(700, ZERO)
 *   tp_site_thread          @thread_call     10 x malloc(2000) in a thread
 *                                            named "tp-worker"
 *
 * Usage: tp_stacks [DUMP]   (with DUMP: also prof.dump to that path)
 */
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapsight.h"
#include "tp_util.h"

#define NOINLINE __attribute__((noinline))

enum {
    S_MALLOC,
    S_CALLOC,
    S_REALLOC_SRC,
    S_REALLOC_GROW,
    S_BIG,
    S_REALLOC_SHRINK,
    S_MEMALIGN,
    S_ALIGNED,
    S_MALLOCX,
    S_THREAD,
    NSITES
};

static const char *const site_names[NSITES] = {
    "tp_site_malloc",       "tp_site_calloc",  "tp_site_realloc_src",
    "tp_site_realloc_grow", "tp_site_big",     "tp_site_realloc_shrink",
    "tp_site_memalign",     "tp_site_aligned", "tp_site_mallocx",
    "tp_site_thread"};

typedef struct truth_s {
    size_t alloc_objects, alloc_space, inuse_objects, inuse_space;
    size_t alloc_usable, inuse_usable;
} truth_t;

static truth_t truth[NSITES]; /* main thread, and tp-worker before join */

/* p was allocated at site with size bytes requested. */
static void
truth_alloc(int site, void *p, size_t size)
{
    size_t u = malloc_usable_size(p);
    truth[site].alloc_objects++;
    truth[site].alloc_space += size;
    truth[site].inuse_objects++;
    truth[site].inuse_space += size;
    truth[site].alloc_usable += u;
    truth[site].inuse_usable += u;
}

/* An object of site, of size bytes requested and usize usable, is gone. */
static void
truth_free(int site, size_t size, size_t usize)
{
    truth[site].inuse_objects--;
    truth[site].inuse_space -= size;
    truth[site].inuse_usable -= usize;
}

static void *
checked(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "tp_stacks: out of memory\n");
        exit(2);
    }
    tp_keep(p);
    return p;
}

static void *kept_malloc[64], *kept_calloc[32], *kept_realloc[16];
static void *kept_align[16], *kept_mallocx[4], *kept_thread[10], *kept_big;
static bool shrunk_in_place;

NOINLINE static void
tp_site_malloc(void)
{
    for (int i = 0; i < 64; i++) {
        kept_malloc[i] = checked(malloc(1000)); /* @malloc_call */
        truth_alloc(S_MALLOC, kept_malloc[i], 1000);
    }
}

NOINLINE static void
tp_site_calloc(void)
{
    for (int i = 0; i < 32; i++) {
        kept_calloc[i] = checked(calloc(25, 40)); /* @calloc_call */
        truth_alloc(S_CALLOC, kept_calloc[i], 25 * 40);
    }
}

NOINLINE static void
tp_site_realloc_src(void)
{
    for (int i = 0; i < 16; i++) {
        kept_realloc[i] = checked(malloc(100)); /* @realloc_src */
        truth_alloc(S_REALLOC_SRC, kept_realloc[i], 100);
    }
}

NOINLINE static void
tp_site_realloc_grow(void)
{
    for (int i = 0; i < 16; i++) {
        size_t old = malloc_usable_size(kept_realloc[i]);
        void *p = realloc(kept_realloc[i], 3000); /* @realloc_grow */
        kept_realloc[i] = checked(p);
        truth_free(S_REALLOC_SRC, 100, old);
        truth_alloc(S_REALLOC_GROW, kept_realloc[i], 3000);
    }
}

NOINLINE static void
tp_site_big(void)
{
    kept_big = checked(malloc(80 << 10)); /* @big_call */
    truth_alloc(S_BIG, kept_big, 80 << 10);
}

NOINLINE static void
tp_site_realloc_shrink(void)
{
    size_t old = malloc_usable_size(kept_big);
    void *p = checked(realloc(kept_big, 48 << 10)); /* @realloc_shrink */
    shrunk_in_place = p == kept_big;
    kept_big = p;
    truth_free(S_BIG, 80 << 10, old);
    truth_alloc(S_REALLOC_SHRINK, kept_big, 48 << 10);
}

NOINLINE static void
tp_site_memalign(void)
{
    for (int i = 0; i < 8; i++) {
        void *p = NULL;
        if (posix_memalign(&p, 256, 5000) != 0) /* @memalign_call */
            checked(NULL);
        kept_align[i] = checked(p);
        truth_alloc(S_MEMALIGN, p, 5000);
    }
}

NOINLINE static void
tp_site_aligned(void)
{
    for (int i = 0; i < 8; i++) {
        void *p = aligned_alloc(4096, 8192); /* @aligned_call */
        kept_align[8 + i] = checked(p);
        truth_alloc(S_ALIGNED, kept_align[8 + i], 8192);
    }
}

NOINLINE static void
tp_site_mallocx(void)
{
    for (int i = 0; i < 4; i++) {
        void *p = hs_mallocx(700, HS_MALLOCX_ZERO); /* @mallocx_call */
        kept_mallocx[i] = checked(p);
        truth_alloc(S_MALLOCX, kept_mallocx[i], 700);
    }
}

NOINLINE static void
tp_site_thread(void)
{
    for (int i = 0; i < 10; i++) {
        kept_thread[i] = checked(malloc(2000)); /* @thread_call */
        truth_alloc(S_THREAD, kept_thread[i], 2000);
    }
}

static void *
worker(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "tp-worker");
    tp_site_thread();
    return NULL;
}

int
main(int argc, char **argv)
{
    tp_site_malloc();
    tp_site_calloc();
    tp_site_realloc_src();
    tp_site_realloc_grow();
    tp_site_big();
    tp_site_realloc_shrink();
    tp_site_memalign();
    tp_site_aligned();
    tp_site_mallocx();
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0 ||
        pthread_join(t, NULL) != 0) {
        fprintf(stderr, "tp_stacks: cannot run the worker\n");
        return 2;
    }
    for (int i = 0; i < 24; i++) {
        truth_free(S_MALLOC, 1000, malloc_usable_size(kept_malloc[i]));
        free(kept_malloc[i]);
    }
    printf("realloc to 48 KiB: %s\n", shrunk_in_place ? "in place" : "moved");
    for (int i = 0; i < NSITES; i++)
        printf("truth %s %zu %zu %zu %zu\n", site_names[i],
               truth[i].alloc_objects, truth[i].alloc_space,
               truth[i].inuse_objects, truth[i].inuse_space);
    for (int i = 0; i < NSITES; i++)
        printf("usable %s %zu %zu\n", site_names[i], truth[i].alloc_usable,
               truth[i].inuse_usable);
    fflush(stdout);
    if (argc > 1 && tp_dump(argv[1]) != 0) {
        fprintf(stderr, "tp_stacks: prof.dump to %s failed\n", argv[1]);
        return 1;
    }
    return 0;
}
