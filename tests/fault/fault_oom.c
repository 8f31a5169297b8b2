/*
 * fault_oom.c — out of memory at every entry point, under RLIMIT_AS.
 *
 * Owns: the tests below, run in order in one process whose address space
 * is limited to OOM_LIMIT (setrlimit before the first test):
 *
 *   works_under_the_limit        threads allocate, check and free small
 *                                and large blocks; the main thread cycles
 *                                OOM_NEAR bytes of 1 MiB blocks
 *   impossible_size_everywhere   every entry point asked for OOM_HUGE
 *                                (more than the limit, far less than
 *                                PTRDIFF_MAX): NULL and ENOMEM
 *                                (posix_memalign: returns ENOMEM), the
 *                                block given to realloc untouched
 *   filled_space_everywhere      the address space filled with blocks
 *                                from 64 MiB down to 16 bytes until each
 *                                size fails; then every entry point, for a
 *                                1 MiB block, fails the same way
 *   big_blocks_after_freeing     after freeing it all, OOM_BIG blocks
 *                                come back from every entry point: the
 *                                allocator must give retained address
 *                                space back and retry, not fail for good
 *
 * C++ new (throwing and nothrow) is checked through fault_oom_new.cpp.
 * Under prof_sample:1 every allocation, including the failing ones, goes
 * to the profiler, whose own metadata allocations fail too: the process
 * must carry on (samples dropped), with nothing on stderr.
 *
 * Filled blocks are chained through their first word, so filling needs
 * no memory of its own.
 */
#include "fault_util.h"
#include "heapsight.h"
#include "hs_test.h"
#include "it_util.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* fault_oom_new.cpp: new(nothrow) of size returns NULL, and new throws
 * std::bad_alloc; false (with a message on stdout) otherwise. */
bool fault_oom_new_fails(size_t size);
/* new and new[] of size succeed; false otherwise. */
bool fault_oom_new_works(size_t size);

#define OOM_LIMIT ((size_t)256 << 20)
#define OOM_HUGE ((size_t)512 << 20)
#define OOM_NEAR ((size_t)160 << 20)
#define OOM_BIG ((size_t)100 << 20)
#define OOM_MB ((size_t)1 << 20)

enum { OOM_THREADS = 4, OOM_STEPS = 20000, OOM_LIVE = 64 };

static void **oom_chain;        /* filled blocks, chained; main thread only */
static unsigned char *oom_keep; /* a small block realloc must not lose */

static void
oom_limit(void)
{
    static bool done;
    if (done)
        return;
    struct rlimit rl = {OOM_LIMIT, OOM_LIMIT};
    HS_ASSERT_EQ_INT(setrlimit(RLIMIT_AS, &rl), 0);
    oom_keep = malloc(64);
    HS_ASSERT_NE_PTR(oom_keep, NULL);
    it_fill(oom_keep, 64, 77);
    done = true;
}

static void *
oom_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 7919 + 3;
    unsigned char *live[OOM_LIVE] = {0};
    size_t len[OOM_LIVE] = {0};
    uintptr_t errors = 0;
    for (int step = 0; step < OOM_STEPS; step++) {
        size_t i = it_rand(&rng) % OOM_LIVE;
        uint64_t x = it_rand(&rng);
        if (live[i] != NULL) {
            errors += it_check(live[i], len[i], i) != len[i];
            free(live[i]);
        }
        len[i] =
            x % 32 == 0 ? (size_t)(x >> 12) % OOM_MB : (size_t)(x >> 12) % 4096;
        live[i] = malloc(len[i]);
        if (live[i] == NULL) {
            errors++;
            continue;
        }
        it_fill(live[i], len[i], i);
    }
    for (size_t i = 0; i < OOM_LIVE; i++)
        free(live[i]);
    return (void *)errors;
}

HS_TEST(works_under_the_limit)
{
    oom_limit();
    pthread_t t[OOM_THREADS];
    for (uintptr_t i = 0; i < OOM_THREADS; i++)
        HS_ASSERT_EQ_INT(pthread_create(&t[i], NULL, oom_worker, (void *)i), 0);
    for (int round = 0; round < 3; round++) {
        void *blocks[OOM_NEAR / OOM_MB];
        for (size_t i = 0; i < OOM_NEAR / OOM_MB; i++) {
            blocks[i] = malloc(OOM_MB);
            HS_EXPECT_NE_PTR(blocks[i], NULL);
            if (blocks[i] != NULL)
                memset(blocks[i], (int)i, 64);
        }
        for (size_t i = 0; i < OOM_NEAR / OOM_MB; i++)
            free(blocks[i]);
    }
    for (int i = 0; i < OOM_THREADS; i++) {
        void *errors = NULL;
        HS_EXPECT_EQ_INT(pthread_join(t[i], &errors), 0);
        HS_EXPECT_EQ_U64((uintptr_t)errors, 0);
    }
}

/* Checks one entry point's failure: p is NULL and errno is ENOMEM. */
#define OOM_EXPECT_FAIL(call)                                                  \
    do {                                                                       \
        errno = 0;                                                             \
        void *p_ = (call);                                                     \
        int e_ = errno;                                                        \
        if (!HS_EXPECT_EQ_PTR(p_, NULL))                                       \
            free(p_);                                                          \
        else if (e_ != ENOMEM)                                                 \
            HS_FAIL("%s: errno %d, expected ENOMEM", #call, e_);               \
    } while (0)

/* Every entry point asked for size bytes fails. */
static void
oom_expect_all_fail(size_t size)
{
    size_t n = it_opaque(size);
    OOM_EXPECT_FAIL(malloc(n));
    OOM_EXPECT_FAIL(calloc(1, n));
    OOM_EXPECT_FAIL(calloc(n / 16, 16));
    OOM_EXPECT_FAIL(realloc(oom_keep, n));
    OOM_EXPECT_FAIL(reallocarray(oom_keep, n / 16, 16));
    OOM_EXPECT_FAIL(aligned_alloc(64, n));
    OOM_EXPECT_FAIL(aligned_alloc(OOM_MB, n));
    OOM_EXPECT_FAIL(memalign(4096, n));
    OOM_EXPECT_FAIL(valloc(n));
    OOM_EXPECT_FAIL(pvalloc(n));
    OOM_EXPECT_FAIL(hs_mallocx(n, 0));
    OOM_EXPECT_FAIL(hs_mallocx(n, HS_MALLOCX_ZERO | HS_MALLOCX_ALIGN(4096)));
    OOM_EXPECT_FAIL(hs_rallocx(oom_keep, n, 0));
    void *p = (void *)1;
    HS_EXPECT_EQ_INT(posix_memalign(&p, 64, n), ENOMEM);
    HS_EXPECT_EQ_PTR(p, (void *)1); /* untouched on failure */
    HS_EXPECT_TRUE(fault_oom_new_fails(n));
    HS_EXPECT_EQ_SIZE(it_check(oom_keep, 64, 77), 64);
}

HS_TEST(impossible_size_everywhere)
{
    oom_limit();
    oom_expect_all_fail(OOM_HUGE);
}

/* Fills with blocks of size until one fails; returns how many. */
static size_t
oom_fill(size_t size)
{
    size_t n = 0;
    for (;;) {
        errno = 0;
        void **p = malloc(it_opaque(size));
        if (p == NULL) {
            IT_EXPECT_ERRNO(ENOMEM);
            return n;
        }
        *p = oom_chain;
        oom_chain = p;
        n++;
    }
}

HS_TEST(filled_space_everywhere)
{
    static const size_t sizes[] = {64 << 20, 8 << 20, 1 << 20, 128 << 10,
                                   16 << 10, 2048,    256,     16};
    oom_limit();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = oom_fill(sizes[i]);
        printf("  filled %zu blocks of %zu bytes\n", n, sizes[i]);
    }
    oom_expect_all_fail(OOM_MB);
    size_t n = 0;
    while (oom_chain != NULL) {
        void **next = *oom_chain;
        free(oom_chain);
        oom_chain = next;
        n++;
    }
    printf("  freed %zu blocks\n", n);
}

/* Checks that call returns a usable block of OOM_BIG bytes, and frees it. */
#define OOM_EXPECT_BIG(call)                                                   \
    do {                                                                       \
        unsigned char *p_ = (call);                                            \
        if (HS_EXPECT_NE_PTR(p_, NULL)) {                                      \
            p_[0] = 1;                                                         \
            p_[OOM_BIG - 1] = 2;                                               \
            free(p_);                                                          \
        }                                                                      \
    } while (0)

HS_TEST(big_blocks_after_freeing)
{
    oom_limit();
    size_t n = it_opaque(OOM_BIG);
    OOM_EXPECT_BIG(malloc(n));
    OOM_EXPECT_BIG(calloc(1, n));
    OOM_EXPECT_BIG(aligned_alloc(OOM_MB, n));
    OOM_EXPECT_BIG(memalign(4096, n));
    OOM_EXPECT_BIG(valloc(n));
    OOM_EXPECT_BIG(hs_mallocx(n, HS_MALLOCX_ZERO));
    void *p = NULL;
    HS_EXPECT_EQ_INT(posix_memalign(&p, 2 * OOM_MB, n), 0);
    OOM_EXPECT_BIG((unsigned char *)p);
    unsigned char *q = malloc(4096);
    HS_ASSERT_NE_PTR(q, NULL);
    it_fill(q, 4096, 5);
    q = realloc(q, n);
    if (HS_EXPECT_NE_PTR(q, NULL))
        HS_EXPECT_EQ_SIZE(it_check(q, 4096, 5), 4096);
    OOM_EXPECT_BIG(q);
    HS_EXPECT_TRUE(fault_oom_new_works(n));
    /* And the limit still holds. */
    oom_expect_all_fail(OOM_HUGE);
    free(oom_keep);
}

HS_TEST_MAIN()
