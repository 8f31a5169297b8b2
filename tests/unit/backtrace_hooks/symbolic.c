/*
 * symbolic.c — unit tests of backtrace_hooks/symbolic: a triple interns to
 * one frame (symbolic bit set, index >= 1) however often and from however
 * many threads; distinct triples (function, file, line, NULL file) get
 * distinct frames; the strings are copied; lookup reads triples back,
 * rejects native addresses and unknown indices, and runs lock-free while
 * other threads intern (never a half-built entry); the table grows past
 * many thousands of frames; interning works from inside a backtrace hook;
 * a fork child looks up its parent's frames and interns new ones.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../backtrace_hooks/hook_chain.h"
#include "../../../backtrace_hooks/symbolic.h"

static bool
lookup_is(hs_frame_t f, const char *function, const char *file, unsigned line)
{
    const char *fn = NULL, *fl = "unset";
    unsigned ln = ~0u;
    if (!bt_symbolic_lookup(f, &fn, &fl, &ln))
        return false;
    bool file_ok =
        file == NULL ? fl == NULL : fl != NULL && strcmp(fl, file) == 0;
    return strcmp(fn, function) == 0 && file_ok && ln == line;
}

HS_TEST(intern_is_idempotent)
{
    hs_frame_t f = hs_frame_symbolic("load_batch", "my_module.py", 42);
    HS_ASSERT_NE_U64(f, 0);
    HS_EXPECT_TRUE(hs_frame_is_symbolic(f));
    HS_EXPECT_GE_U64(f & ~HS_FRAME_SYMBOLIC_BIT, 1);
    HS_EXPECT_EQ_U64(hs_frame_symbolic("load_batch", "my_module.py", 42), f);
    char fn[] = "load_batch", file[] = "my_module.py";
    HS_EXPECT_EQ_U64(hs_frame_symbolic(fn, file, 42), f);
    HS_EXPECT_TRUE(lookup_is(f, "load_batch", "my_module.py", 42));
}

HS_TEST(distinct_triples_distinct_frames)
{
    hs_frame_t f[] = {
        hs_frame_symbolic("f", "a.py", 1),
        hs_frame_symbolic("f", "a.py", 2),
        hs_frame_symbolic("f", "b.py", 1),
        hs_frame_symbolic("g", "a.py", 1),
        hs_frame_symbolic("f", NULL, 1),
        hs_frame_symbolic("f", "", 1),
        hs_frame_symbolic("fa", ".py", 1), /* same bytes run together */
        hs_frame_symbolic("<module>", NULL, 0),
    };
    unsigned n = sizeof f / sizeof f[0];
    for (unsigned i = 0; i < n; i++) {
        HS_EXPECT_NE_U64(f[i], 0);
        for (unsigned j = 0; j < i; j++)
            HS_EXPECT_NE_U64(f[i], f[j]);
    }
    HS_EXPECT_TRUE(lookup_is(f[4], "f", NULL, 1));
    HS_EXPECT_TRUE(lookup_is(f[5], "f", "", 1));
    HS_EXPECT_TRUE(lookup_is(f[7], "<module>", NULL, 0));
    HS_EXPECT_EQ_U64(hs_frame_symbolic(NULL, "a.py", 1), 0);
}

HS_TEST(strings_are_copied)
{
    char fn[32], file[32];
    strcpy(fn, "copied_fn");
    strcpy(file, "copied.py");
    hs_frame_t f = hs_frame_symbolic(fn, file, 7);
    const char *r_fn, *r_file;
    unsigned line;
    HS_ASSERT_TRUE(bt_symbolic_lookup(f, &r_fn, &r_file, &line));
    HS_EXPECT_NE_PTR(r_fn, fn);
    HS_EXPECT_NE_PTR(r_file, file);
    memset(fn, 'x', sizeof fn - 1);
    memset(file, 'y', sizeof file - 1);
    HS_EXPECT_TRUE(lookup_is(f, "copied_fn", "copied.py", 7));
    HS_EXPECT_TRUE(bt_symbolic_lookup(f, NULL, NULL, NULL));
}

HS_TEST(lookup_rejects_other_frames)
{
    const char *fn;
    HS_EXPECT_FALSE(bt_symbolic_lookup(0, &fn, NULL, NULL));
    HS_EXPECT_FALSE(bt_symbolic_lookup(0x401000, &fn, NULL, NULL));
    HS_EXPECT_FALSE(bt_symbolic_lookup(HS_FRAME_SYMBOLIC_BIT, &fn, NULL, NULL));
    hs_frame_t beyond = HS_FRAME_SYMBOLIC_BIT | (bt_symbolic_count() + 1);
    HS_EXPECT_FALSE(bt_symbolic_lookup(beyond, &fn, NULL, NULL));
    HS_EXPECT_FALSE(bt_symbolic_lookup(HS_FRAME_SYMBOLIC_BIT | 0xffffffffffu,
                                       &fn, NULL, NULL));
}

HS_TEST(long_strings)
{
    enum { len = 100000 };
    static char big[len + 1];
    for (size_t i = 0; i < len; i++)
        big[i] = (char)('a' + i % 26);
    big[len] = '\0';
    hs_frame_t f = hs_frame_symbolic(big, big + len / 2, 3);
    HS_ASSERT_NE_U64(f, 0);
    HS_EXPECT_EQ_U64(hs_frame_symbolic(big, big + len / 2, 3), f);
    HS_EXPECT_TRUE(lookup_is(f, big, big + len / 2, 3));
}

/* ---- many threads, many frames ---- */

enum { THREADS = 8, NAMES = 20000 };

typedef struct job_s {
    unsigned seed;
    hs_frame_t frames[NAMES];
    unsigned bad_lookups;
} job_t;

static void
name_of(unsigned i, char *fn, char *file)
{
    snprintf(fn, 32, "fn_%u", i);
    snprintf(file, 32, "file_%u.py", i % 97);
}

/* Interns all NAMES triples in a thread-specific order; after each one
 * reads back an earlier one (lookups race with other threads' inserts). */
static void *
intern_all(void *arg)
{
    job_t *j = arg;
    char fn[32], file[32];
    for (unsigned k = 0; k < NAMES; k++) {
        unsigned i = (k * 7919u + j->seed * 104729u) % NAMES;
        name_of(i, fn, file);
        j->frames[i] = hs_frame_symbolic(fn, file, i);
        unsigned back = (i * 31u) % NAMES;
        if (j->frames[back] != 0) {
            name_of(back, fn, file);
            j->bad_lookups += !lookup_is(j->frames[back], fn, file, back);
        }
    }
    return NULL;
}

HS_TEST(concurrent_interning_agrees)
{
    static job_t jobs[THREADS];
    pthread_t t[THREADS];
    unsigned before = bt_symbolic_count();
    for (unsigned i = 0; i < THREADS; i++) {
        jobs[i].seed = i;
        HS_ASSERT_EQ_INT(pthread_create(&t[i], NULL, intern_all, &jobs[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    HS_EXPECT_EQ_U64(bt_symbolic_count(), before + NAMES);
    unsigned mismatches = 0, zero = 0, bad = 0, wrong = 0;
    char fn[32], file[32];
    for (unsigned i = 0; i < NAMES; i++) {
        zero += jobs[0].frames[i] == 0;
        for (unsigned k = 1; k < THREADS; k++)
            mismatches += jobs[k].frames[i] != jobs[0].frames[i];
        name_of(i, fn, file);
        wrong += !lookup_is(jobs[0].frames[i], fn, file, i);
    }
    for (unsigned k = 0; k < THREADS; k++)
        bad += jobs[k].bad_lookups;
    HS_EXPECT_EQ_U64(zero, 0);
    HS_EXPECT_EQ_U64(mismatches, 0);
    HS_EXPECT_EQ_U64(wrong, 0);
    HS_EXPECT_EQ_U64(bad, 0);
}

/* Readers that look up every frame handed out so far, as fast as they
 * can, while one writer interns new triples and publishes each frame. */
static _Atomic(hs_frame_t) published[NAMES];
static _Atomic(unsigned) npublished;

static void *
reader(void *arg)
{
    unsigned *bad = arg;
    char fn[32];
    while (atomic_load(&npublished) < NAMES) {
        unsigned n = atomic_load(&npublished);
        for (unsigned i = n > 64 ? n - 64 : 0; i < n; i++) {
            hs_frame_t f = atomic_load(&published[i]);
            snprintf(fn, sizeof fn, "reader_fn_%u", i);
            *bad += !lookup_is(f, fn, "reader.py", i);
        }
    }
    return NULL;
}

HS_TEST(lookup_concurrent_with_interning)
{
    pthread_t t[3];
    unsigned bad[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
        HS_ASSERT_EQ_INT(pthread_create(&t[i], NULL, reader, &bad[i]), 0);
    char fn[32];
    for (unsigned i = 0; i < NAMES; i++) {
        snprintf(fn, sizeof fn, "reader_fn_%u", i);
        atomic_store(&published[i], hs_frame_symbolic(fn, "reader.py", i));
        atomic_store(&npublished, i + 1);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    HS_EXPECT_EQ_U64(bad[0] + bad[1] + bad[2], 0);
}

/* ---- from inside a backtrace hook ---- */

/* Replaces every even frame with a symbolic one named after it. */
static void
python_like_hook(hs_frame_t *frames, unsigned *n, unsigned max, void *arg)
{
    (void)max;
    (void)arg;
    char fn[32];
    for (unsigned i = 0; i < *n; i += 2) {
        snprintf(fn, sizeof fn, "py_%lu", (unsigned long)frames[i]);
        frames[i] = hs_frame_symbolic(fn, "eval.py", (unsigned)i);
    }
}

HS_TEST(intern_from_a_backtrace_hook)
{
    HS_ASSERT_EQ_INT(hs_backtrace_hook_add(python_like_hook, NULL), 0);
    hs_frame_t f[4] = {10, 11, 12, 13};
    unsigned n = 4;
    bt_hooks_run(f, &n, 4);
    HS_EXPECT_EQ_U64(n, 4);
    HS_EXPECT_TRUE(lookup_is(f[0], "py_10", "eval.py", 0));
    HS_EXPECT_EQ_U64(f[1], 11);
    HS_EXPECT_TRUE(lookup_is(f[2], "py_12", "eval.py", 2));
    HS_EXPECT_EQ_U64(f[3], 13);
    HS_EXPECT_EQ_INT(hs_backtrace_hook_remove(python_like_hook, NULL), 0);
}

/* ---- fork ---- */

HS_TEST(fork_child_keeps_working)
{
    hs_frame_t old = hs_frame_symbolic("before_fork", "p.py", 1);
    HS_ASSERT_NE_U64(old, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        int ok = lookup_is(old, "before_fork", "p.py", 1) &&
                 hs_frame_symbolic("before_fork", "p.py", 1) == old;
        char fn[32];
        for (unsigned i = 0; ok && i < 5000; i++) {
            snprintf(fn, sizeof fn, "child_%u", i);
            hs_frame_t f = hs_frame_symbolic(fn, NULL, i);
            ok = f != 0 && f != old && lookup_is(f, fn, NULL, i);
        }
        _exit(ok ? 0 : 1);
    }
    HS_ASSERT_GT_INT(pid, 0);
    int st;
    HS_ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
    HS_EXPECT_TRUE(WIFEXITED(st));
    HS_EXPECT_EQ_INT(WEXITSTATUS(st), 0);
    HS_EXPECT_TRUE(lookup_is(old, "before_fork", "p.py", 1));
}

HS_TEST_MAIN()
