/*
 * py_merge.c — unit tests of backtrace_hooks/python/merge: the pure merge
 * of a native stack with CPython >= 3.11 Python frames, checked frame by
 * frame on synthetic stacks against the rule written in merge.h.
 *
 * Covered: no Python frames (unchanged, none); one eval frame and one
 * Python frame; several Python frames in one eval-loop invocation; C code
 * calling back into Python (two and three segments, the native frames
 * between them kept in place); two independent merges, interleaved on one
 * thread and run concurrently on two; generators and coroutines (each
 * resume its own invocation, so its own segment and eval frame); a native
 * stack cut by prof_bt_max (innermost pairing, outer segments appended,
 * truncated); allocations while a frame is being pushed (entry frame not
 * linked yet: degraded; incomplete entry frame: hidden but still ends its
 * segment; incomplete inner frame: hidden); eval-loop parts without
 * symbols (outermost pairing, inner segments inside the innermost paired
 * eval frame); no eval frame at all (with and without in_interp); a chain
 * not ending in an entry frame; a result larger than max (outermost
 * dropped, never a write past max); *nframes above PY_MERGE_MAX; the
 * names of the results.
 *
 * Synthetic frames: N(i) = 0x1000 + i plain native code; I(i) = 0x4000 + i
 * interpreter code outside the eval loop; E(i) = 0x5000 + i the eval loop
 * (is_eval: [0x5000, 0x6000); in_interp: [0x4000, 0x6000), which holds
 * it); P(i) = HS_FRAME_SYMBOLIC_BIT | i a Python frame.  Mismatches print
 * both stacks in that notation.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../../../backtrace_hooks/python/merge.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- synthetic frames and predicates ---- */

static inline hs_frame_t
nat(unsigned i)
{
    return (hs_frame_t)0x1000 + i;
}

static inline hs_frame_t
interp(unsigned i)
{
    return (hs_frame_t)0x4000 + i;
}

static inline hs_frame_t
ev(unsigned i)
{
    return (hs_frame_t)0x5000 + i;
}

static inline hs_frame_t
pyf(unsigned i)
{
    return HS_FRAME_SYMBOLIC_BIT | i;
}

/* Python frame i that is not the outermost of its invocation. */
static inline py_frame_t
mid(unsigned i)
{
    return (py_frame_t){.frame = i ? pyf(i) : 0, .is_entry = false};
}

/* Python frame i, the outermost of its invocation (0: incomplete). */
static inline py_frame_t
entry(unsigned i)
{
    return (py_frame_t){.frame = i ? pyf(i) : 0, .is_entry = true};
}

/* What the predicates recognise; passed to them as arg. */
typedef struct ranges_s {
    hs_frame_t eval_lo, eval_hi;     /* is_eval: [eval_lo, eval_hi) */
    hs_frame_t interp_lo, interp_hi; /* in_interp: [interp_lo, interp_hi) */
} ranges_t;

static const ranges_t default_ranges = {0x5000, 0x6000, 0x4000, 0x6000};

static bool
is_eval(hs_frame_t ip, void *arg)
{
    const ranges_t *r = arg;
    return ip >= r->eval_lo && ip < r->eval_hi;
}

static bool
in_interp(hs_frame_t ip, void *arg)
{
    const ranges_t *r = arg;
    return ip >= r->interp_lo && ip < r->interp_hi;
}

/* ---- running a case and comparing ---- */

enum { DEFAULT_MAX = 32, CANARIES = 4, BUF = PY_MERGE_MAX + 8 };
static const hs_frame_t CANARY = 0xcafe;

typedef struct mcase_s {
    const hs_frame_t *native;
    unsigned nnative;
    const py_frame_t *py;
    unsigned npy;
    unsigned max;
    bool native_truncated;
    bool py_truncated;
    py_frame_pred_t in_interp;
    const ranges_t *ranges;
} mcase_t;

/* A case with the defaults: max 32, not truncated, in_interp given. */
static mcase_t
mcase(const hs_frame_t *native, unsigned nnative, const py_frame_t *py,
      unsigned npy)
{
    return (mcase_t){.native = native,
                     .nnative = nnative,
                     .py = py,
                     .npy = npy,
                     .max = DEFAULT_MAX,
                     .in_interp = in_interp,
                     .ranges = &default_ranges};
}

/* Runs c over buf (BUF frames: the native stack, then canaries). */
static py_merge_t
run_case(const mcase_t *c, hs_frame_t *buf, unsigned *r_n)
{
    for (unsigned i = 0; i < BUF; i++)
        buf[i] = CANARY;
    if (c->nnative > 0)
        memcpy(buf, c->native, c->nnative * sizeof(hs_frame_t));
    *r_n = c->nnative;
    return py_merge(buf, r_n, c->max, c->native_truncated, c->py, c->npy,
                    c->py_truncated, is_eval, c->in_interp, (void *)c->ranges);
}

static bool
same_stack(const hs_frame_t *a, unsigned na, const hs_frame_t *b, unsigned nb)
{
    return na == nb && memcmp(a, b, na * sizeof(hs_frame_t)) == 0;
}

/* Appends one frame in the N/I/E/P notation. */
static int
format_frame(char *p, size_t size, hs_frame_t f)
{
    if (hs_frame_is_symbolic(f))
        return snprintf(p, size, " P%lu",
                        (unsigned long)(f & ~HS_FRAME_SYMBOLIC_BIT));
    if (f >= 0x1000 && f < 0x2000)
        return snprintf(p, size, " N%lu", (unsigned long)(f - 0x1000));
    if (f >= 0x4000 && f < 0x5000)
        return snprintf(p, size, " I%lu", (unsigned long)(f - 0x4000));
    if (f >= 0x5000 && f < 0x6000)
        return snprintf(p, size, " E%lu", (unsigned long)(f - 0x5000));
    return snprintf(p, size, " %#lx", (unsigned long)f);
}

static const char *
format_stack(char *buf, size_t size, const hs_frame_t *f, unsigned n)
{
    size_t len = (size_t)snprintf(buf, size, "[%u:", n);
    for (unsigned i = 0; i < n && len < size; i++)
        len += (size_t)format_frame(buf + len, size - len, f[i]);
    if (len < size)
        snprintf(buf + len, size - len, " ]");
    return buf;
}

/* Checks the merge of c against want[0 .. nwant) and result, and that
 * nothing at or past max was written. */
static void
expect_merge(int line, const mcase_t *c, const hs_frame_t *want, unsigned nwant,
             py_merge_t result)
{
    hs_frame_t buf[BUF];
    unsigned n;
    py_merge_t got = run_case(c, buf, &n);
    if (got != result || !same_stack(buf, n, want, nwant)) {
        char g[2048], w[2048];
        hs_test_fail(
            __FILE__, line, "got %s %s\n    want %s %s", py_merge_name(got),
            format_stack(g, sizeof g, buf, n < BUF ? n : BUF),
            py_merge_name(result), format_stack(w, sizeof w, want, nwant));
    }
    if (n > c->max && got != PY_MERGE_NONE)
        hs_test_fail(__FILE__, line, "%u frames, max %u", n, c->max);
    unsigned from = c->max > c->nnative ? c->max : c->nnative;
    for (unsigned i = from; i < BUF; i++)
        if (buf[i] != CANARY) {
            hs_test_fail(__FILE__, line, "frame %u past max written", i);
            break;
        }
    for (unsigned i = c->max; i < c->nnative && got != PY_MERGE_NONE; i++)
        if (buf[i] != c->native[i]) {
            hs_test_fail(__FILE__, line, "frame %u past max written", i);
            break;
        }
}

#define EXPECT_MERGE(c, want, result)                                          \
    expect_merge(__LINE__, (c), (want), COUNT_OF(want), (result))

/* ---- no Python frames ---- */

HS_TEST(no_python_frames_unchanged)
{
    hs_frame_t native[] = {nat(0), interp(1), ev(0), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), NULL, 0);
    EXPECT_MERGE(&c, native, PY_MERGE_NONE);
    /* Even when the native stack was cut and is longer than max. */
    c.native_truncated = true;
    c.max = 3;
    EXPECT_MERGE(&c, native, PY_MERGE_NONE);
}

/* ---- exact merges ---- */

HS_TEST(one_eval_frame_one_python_frame)
{
    /* malloc <- PyList_New <- eval <- PyRun <- main */
    hs_frame_t native[] = {nat(0), interp(1), ev(0), interp(0), nat(1)};
    py_frame_t py[] = {entry(1)};
    hs_frame_t want[] = {nat(0), interp(1), pyf(1), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

HS_TEST(several_python_frames_in_one_eval_loop)
{
    /* <module> -> main -> load: Python-to-Python calls stay in the loop. */
    hs_frame_t native[] = {nat(0), interp(1), ev(0), interp(0), nat(1)};
    py_frame_t py[] = {mid(3), mid(2), entry(1)};
    hs_frame_t want[] = {nat(0), interp(1), pyf(3), pyf(2),
                         pyf(1), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

HS_TEST(c_calls_back_into_python_two_segments)
{
    /* sorted(xs, key=f) from main(): a C extension's sort calls f, which
     * allocates. */
    hs_frame_t native[] = {nat(0), interp(2), ev(1),     interp(1), nat(1),
                           nat(2), ev(0),     interp(0), nat(3)};
    py_frame_t py[] = {mid(5), entry(4), mid(3), mid(2), entry(1)};
    hs_frame_t want[] = {nat(0), interp(2), pyf(5), pyf(4), interp(1), nat(1),
                         nat(2), pyf(3),    pyf(2), pyf(1), interp(0), nat(3)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

HS_TEST(c_calls_back_into_python_three_segments)
{
    /* <module> -> main -> run -> sorted (C) -> key -> map (C) -> g -> h. */
    hs_frame_t native[] = {nat(0), interp(3), ev(2),     interp(2),
                           nat(2), ev(1),     interp(1), nat(1),
                           ev(0),  interp(0), nat(9)};
    py_frame_t py[] = {mid(8), entry(7), entry(6), mid(5), mid(4), entry(3)};
    hs_frame_t want[] = {nat(0), interp(3), pyf(8),    pyf(7), interp(2),
                         nat(2), pyf(6),    interp(1), nat(1), pyf(5),
                         pyf(4), pyf(3),    interp(0), nat(9)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

/* ---- threads: independent merges, no shared state ---- */

/* Thread B's interpreter sits elsewhere: eval [0x8000, 0x8100). */
static const ranges_t ranges_b = {0x8000, 0x8100, 0x7000, 0x8100};

static const hs_frame_t native_a[] = {0x1000, 0x5000, 0x4000, 0x1001};
static const py_frame_t py_a[] = {{HS_FRAME_SYMBOLIC_BIT | 2, false},
                                  {HS_FRAME_SYMBOLIC_BIT | 1, true}};
static const hs_frame_t want_a[] = {0x1000, HS_FRAME_SYMBOLIC_BIT | 2,
                                    HS_FRAME_SYMBOLIC_BIT | 1, 0x4000, 0x1001};

static const hs_frame_t native_b[] = {0x2000, 0x8001, 0x7001, 0x2001,
                                      0x8000, 0x7000, 0x2002};
static const py_frame_t py_b[] = {{HS_FRAME_SYMBOLIC_BIT | 13, true},
                                  {HS_FRAME_SYMBOLIC_BIT | 12, false},
                                  {HS_FRAME_SYMBOLIC_BIT | 11, true}};
static const hs_frame_t want_b[] = {0x2000,
                                    HS_FRAME_SYMBOLIC_BIT | 13,
                                    0x7001,
                                    0x2001,
                                    HS_FRAME_SYMBOLIC_BIT | 12,
                                    HS_FRAME_SYMBOLIC_BIT | 11,
                                    0x7000,
                                    0x2002};

typedef struct thread_case_s {
    mcase_t c;
    const hs_frame_t *want;
    unsigned nwant;
    pthread_barrier_t *start;
    unsigned mismatches;
} thread_case_t;

static void *
merge_loop(void *arg)
{
    thread_case_t *t = arg;
    hs_frame_t buf[BUF];
    unsigned n;
    pthread_barrier_wait(t->start);
    for (int i = 0; i < 2000; i++) {
        py_merge_t m = run_case(&t->c, buf, &n);
        t->mismatches +=
            m != PY_MERGE_EXACT || !same_stack(buf, n, t->want, t->nwant);
    }
    return NULL;
}

HS_TEST(threads_merge_independently)
{
    mcase_t a = mcase(native_a, COUNT_OF(native_a), py_a, COUNT_OF(py_a));
    mcase_t b = mcase(native_b, COUNT_OF(native_b), py_b, COUNT_OF(py_b));
    b.ranges = &ranges_b;
    /* Interleaved on one thread. */
    for (int i = 0; i < 3; i++) {
        EXPECT_MERGE(&a, want_a, PY_MERGE_EXACT);
        EXPECT_MERGE(&b, want_b, PY_MERGE_EXACT);
    }
    /* And at the same time on two. */
    pthread_barrier_t start;
    HS_ASSERT_EQ_INT(pthread_barrier_init(&start, NULL, 2), 0);
    thread_case_t ta = {a, want_a, COUNT_OF(want_a), &start, 0};
    thread_case_t tb = {b, want_b, COUNT_OF(want_b), &start, 0};
    pthread_t t;
    HS_ASSERT_EQ_INT(pthread_create(&t, NULL, merge_loop, &tb), 0);
    merge_loop(&ta);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&start);
    HS_EXPECT_EQ_U64(ta.mismatches, 0);
    HS_EXPECT_EQ_U64(tb.mismatches, 0);
}

/* ---- generators and coroutines ---- */

HS_TEST(generator_resume_is_its_own_invocation)
{
    /* for x in gen(): the loop's FOR_ITER resumes gen through
     * gen_send_ex2, a new eval-loop invocation with gen's frame as entry.
     * malloc <- PyList_New <- eval(gen) <- gen_send_ex2 <- eval(consumer,
     * <module>) <- PyRun <- main. */
    hs_frame_t native[] = {nat(0), interp(2), ev(1), interp(1),
                           ev(0),  interp(0), nat(1)};
    py_frame_t py[] = {entry(3), mid(2), entry(1)};
    hs_frame_t want[] = {nat(0), interp(2), pyf(3),    interp(1),
                         pyf(2), pyf(1),    interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

HS_TEST(coroutines_resumed_by_a_c_task)
{
    /* asyncio: the C Task's step (N2) sends into handler, which awaits
     * fetch (its own invocation again); run_forever etc. are Python. */
    hs_frame_t native[] = {nat(0), ev(2),     interp(3), ev(1),     interp(2),
                           nat(2), interp(1), ev(0),     interp(0), nat(1)};
    py_frame_t py[] = {entry(9), entry(8), mid(7), mid(6), entry(5)};
    hs_frame_t want[] = {nat(0),    pyf(9), interp(3), pyf(8),
                         interp(2), nat(2), interp(1), pyf(7),
                         pyf(6),    pyf(5), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

/* ---- a native stack cut by prof_bt_max ---- */

HS_TEST(native_truncated_pairs_innermost)
{
    /* prof_bt_max 8 cut the stack before two of its four eval frames. */
    hs_frame_t native[] = {nat(0), interp(4), ev(3),     interp(3),
                           nat(3), ev(2),     interp(2), nat(2)};
    py_frame_t py[] = {mid(9),   entry(8), entry(7), mid(6),
                       entry(5), mid(4),   entry(3)};
    hs_frame_t want[] = {nat(0), interp(4), pyf(9),    pyf(8), interp(3),
                         nat(3), pyf(7),    interp(2), nat(2), pyf(6),
                         pyf(5), pyf(4),    pyf(3)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    c.native_truncated = true;
    EXPECT_MERGE(&c, want, PY_MERGE_TRUNCATED);
}

HS_TEST(native_truncated_before_any_eval_frame)
{
    /* Deep C recursion filled the stack: no eval frame, every segment
     * follows the last native frame. */
    hs_frame_t native[] = {nat(0), nat(1), nat(1), nat(1)};
    py_frame_t py[] = {mid(3), entry(2), entry(1)};
    hs_frame_t want[] = {nat(0), nat(1), nat(1), nat(1),
                         pyf(3), pyf(2), pyf(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    c.native_truncated = true;
    EXPECT_MERGE(&c, want, PY_MERGE_TRUNCATED);
}

HS_TEST(native_truncated_with_as_many_eval_frames_is_exact)
{
    /* native_truncated alone does not make the merge truncated. */
    hs_frame_t native[] = {nat(0), ev(1), interp(1), ev(0)};
    py_frame_t py[] = {entry(2), entry(1)};
    hs_frame_t want[] = {nat(0), pyf(2), interp(1), pyf(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    c.native_truncated = true;
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

/* ---- an allocation while a frame is being pushed ---- */

HS_TEST(push_entry_frame_not_linked_yet)
{
    /* The inner eval loop is running, its frame not yet in the chain:
     * paired from the outermost, the inner eval frame stays native. */
    hs_frame_t native[] = {nat(0), ev(1), interp(1), ev(0), interp(0), nat(1)};
    py_frame_t py[] = {mid(2), entry(1)};
    hs_frame_t want[] = {nat(0), ev(1),     interp(1), pyf(2),
                         pyf(1), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_DEGRADED);
}

HS_TEST(push_incomplete_entry_frame_ends_its_segment)
{
    /* The inner invocation's entry frame is linked but incomplete: not
     * shown, yet it pairs with the inner eval frame, so the rest stays
     * exact. */
    hs_frame_t native[] = {nat(0), ev(1), interp(1), ev(0), interp(0), nat(1)};
    py_frame_t py[] = {entry(0), mid(2), entry(1)};
    hs_frame_t want[] = {nat(0), interp(1), pyf(2), pyf(1), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

HS_TEST(push_incomplete_inner_frame_not_shown)
{
    /* A Python-to-Python call in progress: its frame is incomplete. */
    hs_frame_t native[] = {nat(0), ev(0), interp(0), nat(1)};
    py_frame_t py[] = {mid(0), mid(2), entry(1)};
    hs_frame_t want[] = {nat(0), pyf(2), pyf(1), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_EXACT);
}

/* ---- degraded merges ---- */

HS_TEST(eval_loop_part_without_symbols)
{
    /* The innermost invocation's return address (I9) lies in a part of
     * the eval loop is_eval does not know: two eval frames for three
     * segments, paired from the outermost; the inner segment goes just
     * inside the innermost paired eval frame. */
    hs_frame_t native[] = {nat(0),    interp(9), interp(2), ev(1),
                           interp(1), ev(0),     interp(0), nat(1)};
    py_frame_t py[] = {mid(7), entry(6), entry(5), mid(4), entry(3)};
    hs_frame_t want[] = {nat(0), interp(9), interp(2), pyf(7),
                         pyf(6), pyf(5),    interp(1), pyf(4),
                         pyf(3), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_DEGRADED);
}

HS_TEST(no_eval_frame_recognised)
{
    /* Natives up to the first interpreter frame, then all of Python. */
    hs_frame_t native[] = {nat(0), nat(1),    interp(2),
                           nat(2), interp(0), nat(3)};
    py_frame_t py[] = {mid(3), entry(2), entry(1)};
    hs_frame_t want[] = {nat(0), nat(1), pyf(3), pyf(2), pyf(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_DEGRADED);
    /* Without in_interp: Python only. */
    hs_frame_t python_only[] = {pyf(3), pyf(2), pyf(1)};
    c.in_interp = NULL;
    EXPECT_MERGE(&c, python_only, PY_MERGE_DEGRADED);
    /* No native frame at all: Python only too. */
    c = mcase(NULL, 0, py, COUNT_OF(py));
    EXPECT_MERGE(&c, python_only, PY_MERGE_DEGRADED);
}

HS_TEST(no_interpreter_frame_keeps_every_native)
{
    hs_frame_t native[] = {nat(0), nat(1), nat(2)};
    py_frame_t py[] = {entry(1)};
    hs_frame_t want[] = {nat(0), nat(1), nat(2), pyf(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_DEGRADED);
}

HS_TEST(chain_not_ending_in_entry_frame)
{
    /* As many eval frames as (apparent) segments, but the outermost
     * frame is no entry frame: its outer end is in doubt, so the stacks
     * pair from the innermost, degraded. */
    hs_frame_t native[] = {nat(0), ev(1), interp(1), ev(0), interp(0), nat(1)};
    py_frame_t py[] = {mid(4), entry(3), mid(2), mid(1)};
    hs_frame_t want[] = {nat(0), pyf(4), pyf(3),    interp(1),
                         pyf(2), pyf(1), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want, PY_MERGE_DEGRADED);
    /* A cut native stack does not make it merely truncated. */
    c.native_truncated = true;
    EXPECT_MERGE(&c, want, PY_MERGE_DEGRADED);
    /* Fewer eval frames: the innermost pairs, the unpaired outer segment
     * follows the native frames. */
    hs_frame_t native1[] = {nat(0), ev(0), interp(0), nat(1)};
    hs_frame_t want1[] = {nat(0), pyf(4), pyf(3), interp(0),
                          nat(1), pyf(2), pyf(1)};
    c = mcase(native1, COUNT_OF(native1), py, COUNT_OF(py));
    EXPECT_MERGE(&c, want1, PY_MERGE_DEGRADED);
}

HS_TEST(python_chain_cut_by_its_reader)
{
    /* The reader stopped at its depth bound inside a segment: the outer
     * Python frames are missing, the segments read pair from the
     * innermost (the cut one with the next eval frame). */
    hs_frame_t native[] = {nat(0), ev(1), interp(1), ev(0), interp(0), nat(1)};
    py_frame_t py[] = {mid(3), entry(2), mid(1)};
    hs_frame_t want[] = {nat(0), pyf(3),    pyf(2), interp(1),
                         pyf(1), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    c.py_truncated = true;
    EXPECT_MERGE(&c, want, PY_MERGE_TRUNCATED);
    /* Cut right after an entry frame: no doubtful tail, truncated. */
    py_frame_t py2[] = {mid(3), entry(2)};
    hs_frame_t want2[] = {nat(0), pyf(3),    pyf(2), interp(1),
                          ev(0),  interp(0), nat(1)};
    c = mcase(native, COUNT_OF(native), py2, COUNT_OF(py2));
    c.py_truncated = true;
    EXPECT_MERGE(&c, want2, PY_MERGE_TRUNCATED);
    /* As many segments as eval frames is still truncated: the chain may
     * have gone on. */
    py_frame_t py3[] = {mid(3), entry(2), entry(1)};
    hs_frame_t want3[] = {nat(0), pyf(3),    pyf(2), interp(1),
                          pyf(1), interp(0), nat(1)};
    c = mcase(native, COUNT_OF(native), py3, COUNT_OF(py3));
    c.py_truncated = true;
    EXPECT_MERGE(&c, want3, PY_MERGE_TRUNCATED);
}

/* ---- the result against max ---- */

HS_TEST(result_larger_than_max_drops_outermost)
{
    hs_frame_t native[] = {nat(0), ev(0), interp(0), nat(1), nat(2)};
    py_frame_t py[] = {mid(3), mid(2), entry(1)};
    hs_frame_t full[] = {nat(0),    pyf(3), pyf(2), pyf(1),
                         interp(0), nat(1), nat(2)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    c.max = COUNT_OF(full);
    EXPECT_MERGE(&c, full, PY_MERGE_EXACT);
    hs_frame_t cut[] = {nat(0), pyf(3), pyf(2), pyf(1), interp(0)};
    c.max = COUNT_OF(cut);
    EXPECT_MERGE(&c, cut, PY_MERGE_TRUNCATED);
    /* Cut inside a segment. */
    hs_frame_t cut2[] = {nat(0), pyf(3)};
    c.max = COUNT_OF(cut2);
    EXPECT_MERGE(&c, cut2, PY_MERGE_TRUNCATED);
    /* max 0: nothing written at all. */
    c.max = 0;
    hs_frame_t buf[BUF];
    unsigned n;
    HS_EXPECT_EQ_INT(run_case(&c, buf, &n), PY_MERGE_TRUNCATED);
    HS_EXPECT_EQ_U64(n, 0);
    HS_EXPECT_EQ_U64(buf[0], native[0]);
}

HS_TEST(result_larger_than_max_keeps_worse_results)
{
    /* Degraded stays degraded. */
    hs_frame_t native[] = {nat(0), ev(1), interp(1), ev(0), interp(0), nat(1)};
    py_frame_t py[] = {mid(2), entry(1)};
    hs_frame_t cut[] = {nat(0), ev(1), interp(1), pyf(2)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    c.max = COUNT_OF(cut);
    EXPECT_MERGE(&c, cut, PY_MERGE_DEGRADED);
    /* Truncated stays truncated, the appended segments cut first. */
    hs_frame_t native2[] = {nat(0), ev(0), interp(0)};
    py_frame_t py2[] = {entry(3), mid(2), entry(1)};
    hs_frame_t cut2[] = {nat(0), pyf(3), interp(0), pyf(2)};
    c = mcase(native2, COUNT_OF(native2), py2, COUNT_OF(py2));
    c.native_truncated = true;
    c.max = COUNT_OF(cut2);
    EXPECT_MERGE(&c, cut2, PY_MERGE_TRUNCATED);
}

HS_TEST(native_stack_longer_than_max)
{
    /* *nframes > max on entry: the result still holds at most max. */
    hs_frame_t native[] = {nat(0), ev(0), interp(0), nat(1), nat(2), nat(3)};
    py_frame_t py[] = {entry(1)};
    hs_frame_t want[] = {nat(0), pyf(1), interp(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, COUNT_OF(py));
    c.max = COUNT_OF(want);
    EXPECT_MERGE(&c, want, PY_MERGE_TRUNCATED);
}

/* ---- limits ---- */

static hs_frame_t big_native[PY_MERGE_MAX + 1], big_want[PY_MERGE_MAX + 1];

HS_TEST(largest_stack_merges)
{
    for (unsigned i = 0; i < PY_MERGE_MAX; i++)
        big_native[i] = big_want[i] = nat(i % 0x1000);
    big_native[PY_MERGE_MAX / 2] = ev(0);
    big_want[PY_MERGE_MAX / 2] = pyf(1);
    py_frame_t py[] = {entry(1)};
    mcase_t c = mcase(big_native, PY_MERGE_MAX, py, COUNT_OF(py));
    c.max = PY_MERGE_MAX;
    expect_merge(__LINE__, &c, big_want, PY_MERGE_MAX, PY_MERGE_EXACT);
}

HS_TEST(more_than_py_merge_max_frames_unchanged)
{
    for (unsigned i = 0; i <= PY_MERGE_MAX; i++)
        big_native[i] = nat(i % 0x1000);
    big_native[3] = ev(0);
    py_frame_t py[] = {entry(1)};
    mcase_t c = mcase(big_native, PY_MERGE_MAX + 1, py, COUNT_OF(py));
    c.max = PY_MERGE_MAX;
    expect_merge(__LINE__, &c, big_native, PY_MERGE_MAX + 1, PY_MERGE_NONE);
}

HS_TEST(more_than_py_merge_max_python_frames_unchanged)
{
    static py_frame_t py[PY_MERGE_MAX + 1];
    for (unsigned i = 0; i <= PY_MERGE_MAX; i++)
        py[i] = entry(i);
    hs_frame_t native[] = {nat(0), ev(0), nat(1)};
    mcase_t c = mcase(native, COUNT_OF(native), py, PY_MERGE_MAX + 1);
    EXPECT_MERGE(&c, native, PY_MERGE_NONE);
}

HS_TEST(result_names)
{
    HS_EXPECT_EQ_STR(py_merge_name(PY_MERGE_EXACT), "exact");
    HS_EXPECT_EQ_STR(py_merge_name(PY_MERGE_TRUNCATED), "truncated");
    HS_EXPECT_EQ_STR(py_merge_name(PY_MERGE_DEGRADED), "degraded");
    HS_EXPECT_EQ_STR(py_merge_name(PY_MERGE_NONE), "none");
}

HS_TEST_MAIN()
