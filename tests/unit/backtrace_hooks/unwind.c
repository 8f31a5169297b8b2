/*
 * unwind.c — unit tests of backtrace_hooks/unwind: every unwinder returns
 * the test's own caller chain in order (checked against
 * __builtin_return_address and, by name, with dladdr); max is respected
 * and a short unwind is a prefix of a long one; the frame-pointer walker
 * stops inside its bounds on crafted chains (cycles, downward links,
 * misaligned or out-of-range records, kernel addresses) laid out against
 * a PROT_NONE page, and never faults on real threads with a 16 KiB stack
 * or with garbage in rbp; loading libunwind leaves the C++ exception
 * runtime with libgcc_s (exceptions still work, _Unwind_RaiseException
 * still resolves there, unw_backtrace is not global); and fork children
 * of a libunwind process, forked while another thread loops
 * dlopen/dlclose, switch to libgcc's unwinder and all finish.  (Control,
 * measured while writing this test: children forced back onto libunwind
 * hung in dl_iterate_phdr in 15 of 60 forks, with all signals blocked by
 * libunwind, so the parent kills them; with the switch, 0 of 300.)
 */
#include "hs_test.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../backtrace_hooks/unwind.h"

int bt_test_throw_catch(int depth, int value, unsigned *r_dtor_unwinds,
                        unsigned *r_catch_frames);

/* ---- a known call chain: outer -> middle -> inner -> bt_unwind ---- */

typedef struct chain_s {
    hs_frame_t frames[256];
    unsigned max;
    unsigned n;
    uintptr_t ret_inner;  /* return address of inner (into middle) */
    uintptr_t ret_middle; /* return address of middle (into outer) */
} chain_t;

__attribute__((noinline, noclone)) unsigned
bt_test_inner(chain_t *c)
{
    c->ret_inner = (uintptr_t)__builtin_return_address(0);
    c->n = bt_unwind(c->frames, c->max);
    __asm__ volatile("" ::: "memory");
    return c->n;
}

__attribute__((noinline, noclone)) unsigned
bt_test_middle(chain_t *c)
{
    c->ret_middle = (uintptr_t)__builtin_return_address(0);
    unsigned n = bt_test_inner(c);
    __asm__ volatile("" ::: "memory");
    return n;
}

__attribute__((noinline, noclone)) unsigned
bt_test_outer(chain_t *c)
{
    unsigned n = bt_test_middle(c);
    __asm__ volatile("" ::: "memory");
    return n;
}

static const char *
symbol_of(hs_frame_t ip)
{
    Dl_info info;
    if (dladdr((void *)(ip - 1), &info) == 0 || info.dli_sname == NULL)
        return "?";
    return info.dli_sname;
}

/* Not static: dladdr names it (the program is linked -rdynamic). */
__attribute__((noinline, noclone)) void
bt_test_expect_chain(bt_unwinder_t u)
{
    HS_ASSERT_EQ_INT(bt_unwinder(), u);
    chain_t c = {.max = 64};
    HS_ASSERT_GE_U64(bt_test_outer(&c), 4);
    HS_EXPECT_EQ_STR(symbol_of(c.frames[0]), "bt_test_inner");
    HS_EXPECT_EQ_U64(c.frames[1], c.ret_inner);
    HS_EXPECT_EQ_STR(symbol_of(c.frames[1]), "bt_test_middle");
    HS_EXPECT_EQ_U64(c.frames[2], c.ret_middle);
    HS_EXPECT_EQ_STR(symbol_of(c.frames[2]), "bt_test_outer");
    HS_EXPECT_EQ_STR(symbol_of(c.frames[3]), "bt_test_expect_chain");
}

HS_TEST(libunwind_returns_caller_chain)
{
    HS_ASSERT_TRUE(bt_boot(BT_UNWIND_LIBUNWIND));
    HS_EXPECT_EQ_STR(bt_unwinder_name(), "libunwind");
    bt_test_expect_chain(BT_UNWIND_LIBUNWIND);
}

HS_TEST(cfi_returns_caller_chain)
{
    HS_ASSERT_TRUE(bt_boot(BT_UNWIND_CFI));
    HS_EXPECT_EQ_STR(bt_unwinder_name(), "cfi");
    bt_test_expect_chain(BT_UNWIND_CFI);
}

HS_TEST(gcc_returns_caller_chain)
{
    HS_ASSERT_TRUE(bt_boot(BT_UNWIND_GCC));
    HS_EXPECT_EQ_STR(bt_unwinder_name(), "gcc");
    bt_test_expect_chain(BT_UNWIND_GCC);
}

HS_TEST(fp_returns_caller_chain)
{
    HS_ASSERT_TRUE(bt_boot(BT_UNWIND_FP));
    HS_EXPECT_EQ_STR(bt_unwinder_name(), "fp");
    bt_test_expect_chain(BT_UNWIND_FP);
}

/* ---- max ---- */

/* Recurses depth levels, then unwinds. */
__attribute__((noinline, noclone)) unsigned
bt_test_deep(chain_t *c, unsigned depth)
{
    if (depth == 0)
        return bt_test_inner(c);
    unsigned n = bt_test_deep(c, depth - 1);
    __asm__ volatile("" ::: "memory");
    return n;
}

static void
expect_max_respected(bt_unwinder_t u)
{
    bt_boot(u);
    chain_t full = {.max = 256};
    bt_test_deep(&full, 40);
    HS_ASSERT_GE_U64(full.n, 44);
    static const unsigned maxes[] = {1, 2, 3, 7, 30, 43, 128, 150, 200};
    for (unsigned k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
        chain_t c = {.max = maxes[k]};
        memset(c.frames, 0xab, sizeof c.frames);
        bt_test_deep(&c, 40);
        HS_EXPECT_LE_U64(c.n, c.max);
        /* Exact, except libunwind above 128 may give one fewer. */
        unsigned want = c.max < full.n ? c.max : full.n;
        if (u == BT_UNWIND_LIBUNWIND && c.max > 128 && want == c.max)
            want--;
        HS_EXPECT_GE_U64(c.n, want);
        HS_EXPECT_EQ_U64(c.frames[c.max], 0xababababababababu);
        /* frames[0 .. 41]: inner and the 41 levels of bt_test_deep; the
         * next one is this function, from another call site. */
        for (unsigned i = 0; i < c.n && i <= 41; i++)
            HS_EXPECT_EQ_U64(c.frames[i], full.frames[i]);
    }
    chain_t zero = {.max = 0};
    HS_EXPECT_EQ_U64(bt_test_deep(&zero, 3), 0);
}

HS_TEST(max_respected_libunwind) { expect_max_respected(BT_UNWIND_LIBUNWIND); }

HS_TEST(max_respected_cfi) { expect_max_respected(BT_UNWIND_CFI); }

HS_TEST(max_respected_gcc) { expect_max_respected(BT_UNWIND_GCC); }

HS_TEST(max_respected_fp) { expect_max_respected(BT_UNWIND_FP); }

/* ---- the frame-pointer walker on crafted chains ---- */

/* Two pages; the second is PROT_NONE, so reading past hi faults. */
typedef struct fake_stack_s {
    uintptr_t *words; /* the readable page */
    uintptr_t lo;
    uintptr_t hi; /* the start of the PROT_NONE page */
} fake_stack_t;

static bool
fake_stack_map(fake_stack_t *s)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + page, page, PROT_NONE) != 0)
        return false;
    s->words = (uintptr_t *)m;
    s->lo = (uintptr_t)m;
    s->hi = (uintptr_t)m + page;
    return true;
}

static void
fake_stack_unmap(fake_stack_t *s)
{
    munmap(s->words, 2 * (s->hi - s->lo));
}

/* Writes a record {next, ra} at word index w; returns its address. */
static uintptr_t
fake_record(fake_stack_t *s, unsigned w, uintptr_t next, uintptr_t ra)
{
    s->words[w] = next;
    s->words[w + 1] = ra;
    return (uintptr_t)&s->words[w];
}

HS_TEST(fp_walk_valid_chain)
{
    fake_stack_t s;
    HS_ASSERT_TRUE(fake_stack_map(&s));
    uintptr_t r3 = fake_record(&s, 100, 0, 0x403000);
    uintptr_t r2 = fake_record(&s, 50, r3, 0x402000);
    uintptr_t r1 = fake_record(&s, 10, r2, 0x401000);
    hs_frame_t f[8];
    HS_EXPECT_EQ_U64(bt_fp_walk(r1, s.lo, s.hi, f, 8), 3);
    HS_EXPECT_EQ_U64(f[0], 0x401000);
    HS_EXPECT_EQ_U64(f[1], 0x402000);
    HS_EXPECT_EQ_U64(f[2], 0x403000);
    HS_EXPECT_EQ_U64(bt_fp_walk(r1, s.lo, s.hi, f, 2), 2);
    fake_stack_unmap(&s);
}

HS_TEST(fp_walk_stops_on_bad_links)
{
    fake_stack_t s;
    HS_ASSERT_TRUE(fake_stack_map(&s));
    unsigned last = (unsigned)((s.hi - s.lo) / 8) - 2;
    hs_frame_t f[8];
    /* A record pointing at itself, and one pointing downward. */
    uintptr_t self = fake_record(&s, 20, 0, 0x401000);
    s.words[20] = self;
    HS_EXPECT_EQ_U64(bt_fp_walk(self, s.lo, s.hi, f, 8), 1);
    uintptr_t low = fake_record(&s, 30, 0, 0x401000);
    uintptr_t high = fake_record(&s, 60, low, 0x402000);
    HS_EXPECT_EQ_U64(bt_fp_walk(high, s.lo, s.hi, f, 8), 1);
    /* Overlapping records (next < fp + 16), misaligned, out of range. */
    uintptr_t a = fake_record(&s, 70, 0, 0x401000);
    s.words[70] = a + 8;
    HS_EXPECT_EQ_U64(bt_fp_walk(a, s.lo, s.hi, f, 8), 1);
    uintptr_t b = fake_record(&s, 80, 0, 0x401000);
    s.words[80] = (uintptr_t)&s.words[90] + 3;
    HS_EXPECT_EQ_U64(bt_fp_walk(b, s.lo, s.hi, f, 8), 1);
    HS_EXPECT_EQ_U64(bt_fp_walk(s.lo - 4096, s.lo, s.hi, f, 8), 0);
    HS_EXPECT_EQ_U64(bt_fp_walk(0, s.lo, s.hi, f, 8), 0);
    /* A record whose return-address word would lie past hi. */
    HS_EXPECT_EQ_U64(bt_fp_walk(s.hi - 8, s.lo, s.hi, f, 8), 0);
    uintptr_t edge = fake_record(&s, last, 0, 0x401000);
    uintptr_t to_edge = fake_record(&s, 40, edge + 8, 0x402000);
    HS_EXPECT_EQ_U64(bt_fp_walk(to_edge, s.lo, s.hi, f, 8), 1);
    HS_EXPECT_EQ_U64(bt_fp_walk(edge, s.lo, s.hi, f, 8), 1);
    fake_stack_unmap(&s);
}

HS_TEST(fp_walk_stops_on_non_code)
{
    fake_stack_t s;
    HS_ASSERT_TRUE(fake_stack_map(&s));
    hs_frame_t f[8];
    uintptr_t k = fake_record(&s, 40, 0, (uintptr_t)0xffff800000001000u);
    uintptr_t r = fake_record(&s, 10, k, 0x401000);
    HS_EXPECT_EQ_U64(bt_fp_walk(r, s.lo, s.hi, f, 8), 1);
    uintptr_t z = fake_record(&s, 60, 0, 12);
    HS_EXPECT_EQ_U64(bt_fp_walk(z, s.lo, s.hi, f, 8), 0);
    /* Bounds too small for one record, or inverted. */
    HS_EXPECT_EQ_U64(bt_fp_walk(s.lo, s.lo, s.lo + 8, f, 8), 0);
    HS_EXPECT_EQ_U64(bt_fp_walk(s.lo, s.hi, s.lo, f, 8), 0);
    HS_EXPECT_EQ_U64(bt_fp_walk(16, 0, 8, f, 8), 0);
    fake_stack_unmap(&s);
}

/* ---- the frame-pointer walker on real threads ---- */

/* Calls fn(arg) with rbp set to junk; restores it (no unwind info: only
 * the frame-pointer walker runs inside). */
void bt_test_call_with_rbp(void (*fn)(void *), void *arg, uintptr_t rbp);
__asm__(".text\n"
        ".globl bt_test_call_with_rbp\n"
        ".type bt_test_call_with_rbp, @function\n"
        "bt_test_call_with_rbp:\n"
        "    push %rbp\n"
        "    mov %rdx, %rbp\n"
        "    mov %rdi, %rax\n"
        "    mov %rsi, %rdi\n"
        "    call *%rax\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size bt_test_call_with_rbp, .-bt_test_call_with_rbp\n");

typedef struct fp_job_s {
    unsigned depth;
    unsigned found; /* frames found at the bottom of the recursion */
    uintptr_t junk;
    bool cycle;     /* junk: a self-linked record in fp_thread's frame */
    bool saw_cycle; /* its return address was among the frames */
} fp_job_t;

static const uintptr_t cycle_ra = 0x401234;

/* The bottom of the recursion (its own function, so that the array is
 * not part of every level's frame). */
__attribute__((noinline, noclone)) unsigned
bt_test_bottom(fp_job_t *j)
{
    hs_frame_t f[512];
    unsigned n = bt_unwind(f, 512);
    for (unsigned i = 0; i < n; i++)
        j->saw_cycle |= f[i] == cycle_ra;
    return n;
}

__attribute__((noinline, noclone)) unsigned
bt_test_recurse(fp_job_t *j, unsigned depth)
{
    if (depth == 0)
        return bt_test_bottom(j);
    volatile char pad[32];
    pad[0] = (char)depth;
    unsigned n = bt_test_recurse(j, depth - 1);
    return n + (unsigned)(pad[0] - (char)depth);
}

static void
fp_job_run(void *arg)
{
    fp_job_t *j = arg;
    j->found = bt_test_recurse(j, j->depth);
}

static void *
fp_thread(void *arg)
{
    fp_job_t *j = arg;
    volatile uintptr_t cell[2];
    cell[0] = (uintptr_t)&cell[0];
    cell[1] = cycle_ra;
    if (j->cycle)
        j->junk = (uintptr_t)&cell[0];
    if (j->junk != 0)
        bt_test_call_with_rbp(fp_job_run, j, j->junk);
    else
        fp_job_run(j);
    return NULL;
}

static bool
run_on_small_stack(fp_job_t *j)
{
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
    bool ok = pthread_create(&t, &attr, fp_thread, j) == 0;
    pthread_attr_destroy(&attr);
    return ok && pthread_join(t, NULL) == 0;
}

HS_TEST(fp_small_stack_thread)
{
    bt_boot(BT_UNWIND_FP);
    /* As deep as a 16 KiB stack allows (about 100 bytes a level). */
    fp_job_t j = {.depth = 60};
    HS_ASSERT_TRUE(run_on_small_stack(&j));
    HS_EXPECT_GE_U64(j.found, 61);
    HS_EXPECT_LE_U64(j.found, 1024);
}

HS_TEST(fp_garbage_rbp_never_faults)
{
    bt_boot(BT_UNWIND_FP);
    int local;
    static int global;
    const uintptr_t junk[] = {
        1,
        0xdeadbeef,
        (uintptr_t)&global,             /* mapped, not on this stack */
        (uintptr_t)&local - 4096,       /* another thread's stack */
        (uintptr_t)0xffff800000000000u, /* kernel */
        (uintptr_t)-16,
        (uintptr_t)fp_thread, /* code */
    };
    for (unsigned k = 0; k < sizeof junk / sizeof junk[0]; k++) {
        fp_job_t j = {.depth = 5, .junk = junk[k]};
        HS_ASSERT_TRUE(run_on_small_stack(&j));
        /* The walk reaches the asm helper's record and stops there. */
        HS_EXPECT_GE_U64(j.found, 6);
        HS_EXPECT_LE_U64(j.found, 12);
    }
}

/* An rbp that points into the thread's own stack, above the walker, at
 * a record that links to itself: in bounds, so it is read; then the walk
 * must still end. */
HS_TEST(fp_rbp_into_own_stack_cycle)
{
    bt_boot(BT_UNWIND_FP);
    fp_job_t j = {.depth = 3, .cycle = true};
    HS_ASSERT_TRUE(run_on_small_stack(&j));
    HS_EXPECT_TRUE(j.saw_cycle);
    HS_EXPECT_LE_U64(j.found, 12);
    fp_job_t self = {.depth = 3};
    fp_thread(&self); /* main thread: bounds from /proc/self/maps */
    HS_EXPECT_GE_U64(self.found, 5);
}

/* ---- libunwind stays private ---- */

static const char *
library_of(void *addr)
{
    Dl_info info;
    if (addr == NULL || dladdr(addr, &info) == 0 || info.dli_fname == NULL)
        return "";
    return info.dli_fname;
}

HS_TEST(exceptions_stay_with_libgcc)
{
    HS_ASSERT_TRUE(bt_boot(BT_UNWIND_LIBUNWIND));
    /* libunwind is loaded, but not into the global scope. */
    void *h = dlopen("libunwind.so.8", RTLD_LAZY | RTLD_NOLOAD);
    HS_EXPECT_NOT_NULL(h);
    if (h != NULL)
        dlclose(h);
    HS_EXPECT_NULL(dlsym(RTLD_DEFAULT, "unw_backtrace"));
    void *raise = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
    HS_EXPECT_NOT_NULL(strstr(library_of(raise), "libgcc_s"));
    void *bt = dlsym(RTLD_DEFAULT, "_Unwind_Backtrace");
    HS_EXPECT_NOT_NULL(strstr(library_of(bt), "libgcc_s"));
    void *glibc_bt = dlsym(RTLD_DEFAULT, "backtrace");
    HS_EXPECT_NOT_NULL(strstr(library_of(glibc_bt), "libc.so"));
    /* Exceptions propagate through 20 frames, destructors run (and unwind
     * with libunwind while the exception is in flight). */
    for (int i = 0; i < 100; i++) {
        unsigned dtors, catch_frames;
        HS_ASSERT_EQ_INT(bt_test_throw_catch(20, i, &dtors, &catch_frames), i);
        HS_EXPECT_EQ_U64(dtors, 21);
        HS_EXPECT_GE_U64(catch_frames, 3);
    }
}

static atomic_bool throwers_stop;

static void *
thrower_thread(void *arg)
{
    unsigned *failures = arg;
    for (int i = 0; !atomic_load(&throwers_stop); i++) {
        unsigned d, c;
        if (bt_test_throw_catch(8, i & 0xffff, &d, &c) != (i & 0xffff))
            (*failures)++;
    }
    return NULL;
}

HS_TEST(exceptions_while_other_threads_unwind)
{
    HS_ASSERT_TRUE(bt_boot(BT_UNWIND_LIBUNWIND));
    pthread_t t[2];
    unsigned failures[2] = {0, 0};
    atomic_store(&throwers_stop, false);
    for (int i = 0; i < 2; i++)
        HS_ASSERT_EQ_INT(
            pthread_create(&t[i], NULL, thrower_thread, &failures[i]), 0);
    for (int i = 0; i < 20000; i++) {
        chain_t c = {.max = 64};
        HS_EXPECT_GE_U64(bt_test_outer(&c), 4);
    }
    atomic_store(&throwers_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    HS_EXPECT_EQ_U64(failures[0] + failures[1], 0);
}

/* ---- fork children while another thread is in dlopen ---- */

static atomic_bool loader_stop;

static void *
loader_thread(void *arg)
{
    unsigned long *loads = arg;
    while (!atomic_load(&loader_stop)) {
        void *h = dlopen(BT_FIXTURE_DSO, RTLD_NOW | RTLD_LOCAL);
        if (h != NULL) {
            (*loads)++;
            dlclose(h);
        }
    }
    return NULL;
}

/* The child: must be on a fork-safe unwinder (libunwind's children on
 * libgcc, cfi's stay on cfi), and must finish. */
static void
fork_child(bt_unwinder_t parent)
{
    alarm(20);
    if (bt_unwinder() !=
        (parent == BT_UNWIND_LIBUNWIND ? BT_UNWIND_GCC : parent))
        _exit(3);
    chain_t c = {.max = 64};
    _exit(bt_test_outer(&c) >= 4 && c.frames[1] == c.ret_inner ? 0 : 2);
}

/* Waits up to 20 s for pid; kills it after that.  Its exit status, or -1
 * when it did not exit normally. */
static int
wait_child(pid_t pid)
{
    int st;
    for (int ms = 0; ms < 20000; ms++) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static void
expect_fork_children_finish(bt_unwinder_t u)
{
    HS_ASSERT_TRUE(bt_boot(u));
    unsigned long loads = 0;
    pthread_t t;
    atomic_store(&loader_stop, false);
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, loader_thread, &loads), 0);
    unsigned ok = 0, forks = 300;
    for (unsigned i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid == 0)
            fork_child(u);
        HS_ASSERT_GT_INT(pid, 0);
        ok += wait_child(pid) == 0;
    }
    atomic_store(&loader_stop, true);
    pthread_join(t, NULL);
    HS_EXPECT_EQ_U64(ok, forks);
    HS_EXPECT_GT_U64(loads, 0);
    /* The parent keeps its unwinder. */
    HS_EXPECT_EQ_INT(bt_unwinder(), u);
    bt_test_expect_chain(u);
}

HS_TEST(fork_children_unwind_while_parent_dlopens)
{
    expect_fork_children_finish(BT_UNWIND_LIBUNWIND);
}

HS_TEST(fork_children_of_cfi_unwind_while_parent_dlopens)
{
    expect_fork_children_finish(BT_UNWIND_CFI);
}

HS_TEST(postfork_child_only_replaces_libunwind)
{
    bt_boot(BT_UNWIND_FP);
    bt_postfork_child();
    HS_EXPECT_EQ_INT(bt_unwinder(), BT_UNWIND_FP);
    bt_boot(BT_UNWIND_CFI);
    bt_postfork_child();
    HS_EXPECT_EQ_INT(bt_unwinder(), BT_UNWIND_CFI);
    bt_boot(BT_UNWIND_LIBUNWIND);
    bt_postfork_child();
    HS_EXPECT_EQ_INT(bt_unwinder(), BT_UNWIND_GCC);
    bt_postfork_child();
    HS_EXPECT_EQ_INT(bt_unwinder(), BT_UNWIND_GCC);
}

HS_TEST_MAIN()
