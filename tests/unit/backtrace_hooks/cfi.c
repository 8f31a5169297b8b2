/*
 * cfi.c — unit tests of backtrace_hooks/cfi: the rules read from .eh_frame
 * for known code (a frame-pointer function before and after its prologue,
 * a glibc function), stacks identical to libunwind's through libc
 * callbacks (qsort, bsearch), deep recursion, a new thread and a signal
 * handler (a signal frame asks for the fallback, and that is counted); a
 * new thread reuses the rules the first one cached; and walks from
 * garbage registers over a garbage stack laid against a PROT_NONE page
 * end without faulting.
 */
#include "hs_test.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../../backtrace_hooks/cfi.h"
#include "../../../backtrace_hooks/unwind.h"

enum { MAXF = 128 };

typedef struct pair_s {
    hs_frame_t cfi[MAXF];
    hs_frame_t lib[MAXF];
    unsigned ncfi, nlib;
} pair_t;

/* Unwinds with cfi and with libunwind from the same function; frames[0]
 * differ (two call sites), the rest must not. */
__attribute__((noinline, noclone)) static void
capture_both(pair_t *p)
{
    bt_boot(BT_UNWIND_CFI);
    p->ncfi = bt_unwind(p->cfi, MAXF);
    bt_boot(BT_UNWIND_LIBUNWIND);
    p->nlib = bt_unwind(p->lib, MAXF);
    __asm__ volatile("" ::: "memory");
}

static void
expect_same_stacks(const pair_t *p, unsigned min_frames)
{
    HS_EXPECT_GE_U64(p->ncfi, min_frames);
    HS_EXPECT_EQ_U64(p->ncfi, p->nlib);
    unsigned n = p->ncfi < p->nlib ? p->ncfi : p->nlib;
    unsigned differ = 0;
    for (unsigned i = 1; i < n; i++)
        differ += p->cfi[i] != p->lib[i];
    HS_EXPECT_EQ_U64(differ, 0);
}

/* ---- rules of known code ---- */

static int
opaque(void)
{
    return 1;
}

/* Not a leaf (a call through a volatile pointer), so it sets up rbp. */
static int (*volatile opaque_fn)(void) = opaque;

__attribute__((noinline, noclone)) static uintptr_t
fp_function_body_pc(void)
{
    uintptr_t pc;
    __asm__ volatile("lea 0(%%rip), %0" : "=r"(pc));
    return pc + (uintptr_t)opaque_fn() - 1;
}

HS_TEST(rule_of_frame_pointer_function)
{
    /* Built with -fno-omit-frame-pointer: after the prologue the CFA is
     * rbp + 16 and rbp is saved at CFA - 16. */
    cfi_rule_t r = cfi_rule_compute(fp_function_body_pc());
    HS_ASSERT_EQ_INT(r.kind, CFI_OK);
    HS_EXPECT_TRUE(r.cfa_rbp);
    HS_EXPECT_EQ_INT(r.cfa_off, 16);
    HS_EXPECT_TRUE(r.rbp_saved);
    HS_EXPECT_EQ_INT(r.rbp_off, -16);
    /* At its first instruction only the return address is on the stack. */
    cfi_rule_t e = cfi_rule_compute((uintptr_t)fp_function_body_pc);
    HS_ASSERT_EQ_INT(e.kind, CFI_OK);
    HS_EXPECT_FALSE(e.cfa_rbp);
    HS_EXPECT_EQ_INT(e.cfa_off, 8);
    HS_EXPECT_FALSE(e.rbp_saved);
}

HS_TEST(rule_of_libc_function_and_of_no_code)
{
    void *fn = dlsym(RTLD_DEFAULT, "qsort");
    HS_ASSERT_NOT_NULL(fn);
    cfi_rule_t r = cfi_rule_compute((uintptr_t)fn);
    HS_EXPECT_EQ_INT(r.kind, CFI_OK);
    HS_EXPECT_EQ_INT(r.cfa_off, 8);
    static char data[64];
    HS_EXPECT_EQ_INT(cfi_rule_compute((uintptr_t)data).kind, CFI_NONE);
    HS_EXPECT_EQ_INT(cfi_rule_compute(16).kind, CFI_NONE);
}

/* ---- the same stacks as libunwind ---- */

static pair_t cb_pair;
static int cb_captured;

static int
cmp_capture(const void *a, const void *b)
{
    if (!cb_captured) {
        cb_captured = 1;
        capture_both(&cb_pair);
    }
    return *(const int *)a - *(const int *)b;
}

HS_TEST(matches_libunwind_through_qsort_and_bsearch)
{
    int v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (i * 37) % 64;
    cb_captured = 0;
    qsort(v, 64, sizeof v[0], cmp_capture);
    expect_same_stacks(&cb_pair, 4);
    int key = 17;
    cb_captured = 0;
    HS_EXPECT_NOT_NULL(bsearch(&key, v, 64, sizeof v[0], cmp_capture));
    expect_same_stacks(&cb_pair, 4);
}

__attribute__((noinline, noclone)) static unsigned
recurse(pair_t *p, unsigned depth)
{
    if (depth == 0) {
        capture_both(p);
        return p->ncfi;
    }
    unsigned n = recurse(p, depth - 1);
    __asm__ volatile("" ::: "memory");
    return n;
}

HS_TEST(matches_libunwind_deep)
{
    static pair_t p;
    recurse(&p, 90);
    expect_same_stacks(&p, 92);
}

static void *
thread_capture(void *arg)
{
    capture_both(arg);
    return NULL;
}

HS_TEST(matches_libunwind_in_thread_to_its_end)
{
    static pair_t p;
    pthread_t t;
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, thread_capture, &p), 0);
    pthread_join(t, NULL);
    /* thread_capture, start_thread, clone3: both end at clone3. */
    expect_same_stacks(&p, 3);
}

static pair_t sig_pair;

static void
on_signal(int sig)
{
    (void)sig;
    capture_both(&sig_pair);
}

HS_TEST(signal_frame_falls_back_to_libunwind)
{
    struct sigaction sa = {.sa_handler = on_signal}, old;
    sigemptyset(&sa.sa_mask);
    HS_ASSERT_EQ_INT(sigaction(SIGUSR1, &sa, &old), 0);
    uint64_t before = cfi_stat_fallbacks();
    raise(SIGUSR1);
    sigaction(SIGUSR1, &old, NULL);
    HS_EXPECT_GT_U64(cfi_stat_fallbacks(), before);
    expect_same_stacks(&sig_pair, 4);
}

/* ---- one cache for every thread ---- */

static void *
thread_unwind(void *arg)
{
    hs_frame_t f[MAXF];
    *(unsigned *)arg = bt_unwind(f, MAXF);
    return NULL;
}

HS_TEST(second_thread_reuses_cached_rules)
{
    HS_ASSERT_TRUE(bt_boot(BT_UNWIND_CFI));
    unsigned n1 = 0, n2 = 0;
    pthread_t t;
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, thread_unwind, &n1), 0);
    pthread_join(t, NULL);
    uint64_t computed = cfi_stat_computed();
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, thread_unwind, &n2), 0);
    pthread_join(t, NULL);
    HS_EXPECT_GE_U64(n1, 3);
    HS_EXPECT_EQ_U64(n2, n1);
    HS_EXPECT_EQ_U64(cfi_stat_computed(), computed);
}

/* ---- garbage never faults ---- */

static bool
count_put(void *arg, uintptr_t ra)
{
    (void)ra;
    return ++*(unsigned *)arg < 100000;
}

HS_TEST(garbage_walks_end_without_fault)
{
    HS_ASSERT_TRUE(cfi_boot());
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    HS_ASSERT_TRUE(m != MAP_FAILED);
    HS_ASSERT_EQ_INT(mprotect(m + 2 * pg, pg, PROT_NONE), 0);
    uintptr_t lo = (uintptr_t)m, hi = (uintptr_t)(m + 2 * pg);
    /* Code addresses with real rules, so walks go on for a while. */
    uintptr_t code[] = {(uintptr_t)dlsym(RTLD_DEFAULT, "qsort") + 1,
                        (uintptr_t)dlsym(RTLD_DEFAULT, "memcpy") + 3,
                        (uintptr_t)fp_function_body_pc(),
                        (uintptr_t)recurse + 9, (uintptr_t)capture_both + 20};
    uint64_t x = 0x9e3779b97f4a7c15u;
    unsigned walks = 0;
    for (int round = 0; round < 2000; round++) {
        uintptr_t *w = (uintptr_t *)m;
        for (size_t i = 0; i < (size_t)(2 * pg) / 8; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            switch (x % 4) {
            case 0:
                w[i] = code[(x >> 8) % 5];
                break;
            case 1:
                w[i] = lo + (x >> 8) % (hi - lo + 64);
                break;
            default:
                w[i] = x;
            }
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uintptr_t sp = lo + (x % (hi - lo)), bp = lo + ((x >> 20) % (hi - lo));
        unsigned n = 0;
        cfi_walk(code[(x >> 40) % 5], sp & ~(uintptr_t)7, bp, lo, hi, count_put,
                 &n);
        HS_EXPECT_LT_U64(n, (hi - lo) / 8);
        walks++;
    }
    HS_EXPECT_EQ_U64(walks, 2000);
    munmap(m, 3 * pg);
}

HS_TEST_MAIN()
