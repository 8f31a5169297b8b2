/*
 * fault_dlopen.c — dlopen, allocate from the library, dlclose, while
 * sampling every allocation and while other threads allocate.
 *
 * Owns: DL_ROUNDS rounds of dlopen(FAULT_DSO_PATH) + fault_dso_alloc +
 * dlclose on the main thread, with DL_BG threads churning meanwhile.  Of
 * the blocks each round allocates from the library, some are freed before
 * dlclose, some after it (their sampled stacks point into a mapping that
 * is gone), and some are never freed (leaked: still in the final
 * profile).  With the profiler on, prof.dump is called every DL_DUMP_EVERY
 * rounds (while the library is loaded) and at the end (after the last
 * dlclose); run_fault.sh then reads every dump with `heapsight top` and
 * requires fault_dso_alloc to be named in at least one.  A dump taken
 * after dlclose shows the library's frames as bare addresses: the
 * mappings are read at dump time (as jemalloc and pprof do), so only
 * dumps taken while it is loaded can name them.
 */
#include "fault_util.h"
#include "heapsight.h"
#include "hs_test.h"
#include "it_util.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    DL_ROUNDS = 200,
    DL_BG = 2,
    DL_BLOCKS = 12,
    DL_DUMP_EVERY = 50,
};

typedef void *dso_alloc_fn(size_t n, int fill);

static atomic_bool dl_stop;    /* atomic */
static atomic_ulong dl_errors; /* atomic */
static void *dl_leaked[DL_ROUNDS];

static void *
dl_bg_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg + 99;
    void *live[32] = {0};
    while (!atomic_load(&dl_stop)) {
        size_t i = it_rand(&rng) % 32;
        free(live[i]);
        live[i] = malloc(1 + it_rand(&rng) % 5000);
        if (live[i] == NULL)
            atomic_fetch_add(&dl_errors, 1);
    }
    for (size_t i = 0; i < 32; i++)
        free(live[i]);
    return NULL;
}

HS_TEST(dlopen_dlclose_while_sampling)
{
    fault_watchdog(100, "dlopen: the main thread stopped");
    bool prof = fault_opt_bool("prof");
    pthread_t bg[DL_BG];
    for (uintptr_t i = 0; i < DL_BG; i++)
        HS_ASSERT_EQ_INT(pthread_create(&bg[i], NULL, dl_bg_main, (void *)i),
                         0);
    unsigned char *after[DL_ROUNDS][4];
    for (int r = 0; r < DL_ROUNDS; r++) {
        void *h = dlopen(FAULT_DSO_PATH, RTLD_NOW | RTLD_LOCAL);
        HS_ASSERT_NE_PTR(h, NULL);
        dso_alloc_fn *fn = (dso_alloc_fn *)dlsym(h, "fault_dso_alloc");
        HS_ASSERT_NE_PTR(fn, NULL);
        unsigned char *p[DL_BLOCKS];
        for (int k = 0; k < DL_BLOCKS; k++)
            p[k] = fn(16 + (size_t)(r * 37 + k * 101) % 3000, r & 0xff);
        for (int k = 0; k < DL_BLOCKS; k++)
            HS_ASSERT_NE_PTR(p[k], NULL);
        for (int k = 4; k < DL_BLOCKS - 1; k++)
            free(p[k]);
        memcpy(after[r], p, sizeof after[r]);
        dl_leaked[r] = p[DL_BLOCKS - 1];
        if (prof && r % DL_DUMP_EVERY == DL_DUMP_EVERY - 1)
            HS_EXPECT_EQ_INT(fault_prof_dump(), 0);
        HS_ASSERT_EQ_INT(dlclose(h), 0);
    }
    for (int r = 0; r < DL_ROUNDS; r++) {
        for (int k = 0; k < 4; k++) {
            size_t n = 16 + (size_t)(r * 37 + k * 101) % 3000;
            HS_EXPECT_EQ_SIZE(it_check_byte(after[r][k], n, r & 0xff), n);
            free(after[r][k]);
        }
    }
    atomic_store(&dl_stop, true);
    for (int i = 0; i < DL_BG; i++)
        HS_EXPECT_EQ_INT(pthread_join(bg[i], NULL), 0);
    HS_EXPECT_EQ_U64(atomic_load(&dl_errors), 0);
    if (prof)
        HS_EXPECT_EQ_INT(fault_prof_dump(), 0);
    printf("  %d rounds, %s\n", DL_ROUNDS,
           prof ? "dumped" : "profiler off: no dump");
}

HS_TEST_MAIN()
