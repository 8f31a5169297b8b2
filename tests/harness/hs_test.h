/*
 * hs_test.h — the in-house test harness: test registration, typed
 * expectations and the runner.
 *
 * Owns: the HS_TEST() registration macro, the HS_EXPECT_* / HS_ASSERT_*
 * expectation macros and the runner behind HS_TEST_MAIN().  Does not own
 * what a test checks, nor fixtures: a test is a plain void function.
 *
 * Usage:
 *
 *     #include "hs_test.h"
 *
 *     HS_TEST(sizes_round_up)
 *     {
 *         HS_EXPECT_EQ_SIZE(sz_round(17), 32);
 *     }
 *
 *     HS_TEST_MAIN()
 *
 * Registration puts one struct hs_test_case per test into the linker
 * section "hs_test_cases"; the runner walks __start_/__stop_ of that
 * section and runs the tests in (file, line) order, so there are no
 * constructors and no allocation.  Invariant: every case in the section
 * was produced by exactly one HS_TEST() expansion.
 *
 * HS_EXPECT_* records a failure and carries on; HS_ASSERT_* records it and
 * returns from the test function (use it before dereferencing a pointer
 * that might be NULL).  Each operand is evaluated exactly once.  On a
 * failure the runner prints file:line, both expressions and both values.
 *
 * Output goes to stdout, which the runner gives a static buffer, so the
 * harness itself never calls malloc.  Threading: expectations may be
 * called from several threads of one test (the counters are atomic);
 * tests themselves run one after another on the main thread.
 *
 * The process exits 0 when no test failed (skips do not count), 1
 * otherwise.  argv[1], if present, runs only tests whose name contains it.
 */
#ifndef HS_TEST_H
#define HS_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hs_test_case {
    const char *name;
    const char *file;
    int line;
    void (*fn)(void);
};

/* Comparison operators understood by the checkers. */
enum hs_test_op {
    HS_TEST_OP_EQ,
    HS_TEST_OP_NE,
    HS_TEST_OP_LT,
    HS_TEST_OP_LE,
    HS_TEST_OP_GT,
    HS_TEST_OP_GE
};

/*
 * Checkers: each returns true when the comparison holds and otherwise
 * prints the failure and marks the current test failed.
 */
bool hs_test_check_u64(const char *file, int line, enum hs_test_op op,
                       const char *a_expr, const char *b_expr, uint64_t a,
                       uint64_t b);
bool hs_test_check_i64(const char *file, int line, enum hs_test_op op,
                       const char *a_expr, const char *b_expr, int64_t a,
                       int64_t b);
bool hs_test_check_ptr(const char *file, int line, enum hs_test_op op,
                       const char *a_expr, const char *b_expr, const void *a,
                       const void *b);
bool hs_test_check_str(const char *file, int line, enum hs_test_op op,
                       const char *a_expr, const char *b_expr, const char *a,
                       const char *b);
bool hs_test_check_bool(const char *file, int line, const char *expr,
                        bool value, bool expected);
bool hs_test_check_near(const char *file, int line, const char *a_expr,
                        const char *b_expr, double a, double b, double tol);
bool hs_test_check_aligned(const char *file, int line, const char *expr,
                           const void *p, size_t alignment);
/* Records an unconditional failure with a printf-style message. */
void hs_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks the current test skipped (it is not counted as failed). */
void hs_test_skip(const char *file, int line, const char *reason);
/* Number of failures recorded so far in the current test. */
unsigned hs_test_failures(void);
/* Runs every registered test; returns the process exit status. */
int hs_test_run_all(int argc, char **argv);

#define HS_TEST_CONCAT_(a, b) a##b
#define HS_TEST_CONCAT(a, b) HS_TEST_CONCAT_(a, b)

/* Defines and registers a test: HS_TEST(name) { body } */
#define HS_TEST(name)                                                          \
    static void HS_TEST_CONCAT(hs_test_fn_, name)(void);                       \
    __attribute__((used, section("hs_test_cases"),                             \
                   aligned(8))) static const struct hs_test_case               \
        HS_TEST_CONCAT(hs_test_case_, name) = {                                \
            #name, __FILE__, __LINE__, HS_TEST_CONCAT(hs_test_fn_, name)};     \
    static void HS_TEST_CONCAT(hs_test_fn_, name)(void)

/* Defines main() to run every test linked into the program. */
#define HS_TEST_MAIN()                                                         \
    int main(int argc, char **argv) { return hs_test_run_all(argc, argv); }

/* ---- typed expectations: record and continue ---- */

#define HS_TEST_U64_(op, a, b)                                                 \
    hs_test_check_u64(__FILE__, __LINE__, op, #a, #b, (uint64_t)(a),           \
                      (uint64_t)(b))
#define HS_TEST_I64_(op, a, b)                                                 \
    hs_test_check_i64(__FILE__, __LINE__, op, #a, #b, (int64_t)(a),            \
                      (int64_t)(b))
#define HS_TEST_PTR_(op, a, b)                                                 \
    hs_test_check_ptr(__FILE__, __LINE__, op, #a, #b, (const void *)(a),       \
                      (const void *)(b))
#define HS_TEST_STR_(op, a, b)                                                 \
    hs_test_check_str(__FILE__, __LINE__, op, #a, #b, (a), (b))

#define HS_EXPECT_EQ_U64(a, b) HS_TEST_U64_(HS_TEST_OP_EQ, a, b)
#define HS_EXPECT_NE_U64(a, b) HS_TEST_U64_(HS_TEST_OP_NE, a, b)
#define HS_EXPECT_LT_U64(a, b) HS_TEST_U64_(HS_TEST_OP_LT, a, b)
#define HS_EXPECT_LE_U64(a, b) HS_TEST_U64_(HS_TEST_OP_LE, a, b)
#define HS_EXPECT_GT_U64(a, b) HS_TEST_U64_(HS_TEST_OP_GT, a, b)
#define HS_EXPECT_GE_U64(a, b) HS_TEST_U64_(HS_TEST_OP_GE, a, b)

/* size_t shares the u64 checker: size_t is 64 bits on every target. */
#define HS_EXPECT_EQ_SIZE(a, b) HS_TEST_U64_(HS_TEST_OP_EQ, a, b)
#define HS_EXPECT_NE_SIZE(a, b) HS_TEST_U64_(HS_TEST_OP_NE, a, b)
#define HS_EXPECT_LT_SIZE(a, b) HS_TEST_U64_(HS_TEST_OP_LT, a, b)
#define HS_EXPECT_LE_SIZE(a, b) HS_TEST_U64_(HS_TEST_OP_LE, a, b)
#define HS_EXPECT_GT_SIZE(a, b) HS_TEST_U64_(HS_TEST_OP_GT, a, b)
#define HS_EXPECT_GE_SIZE(a, b) HS_TEST_U64_(HS_TEST_OP_GE, a, b)

/* int, ssize_t, int64_t and other signed integers. */
#define HS_EXPECT_EQ_INT(a, b) HS_TEST_I64_(HS_TEST_OP_EQ, a, b)
#define HS_EXPECT_NE_INT(a, b) HS_TEST_I64_(HS_TEST_OP_NE, a, b)
#define HS_EXPECT_LT_INT(a, b) HS_TEST_I64_(HS_TEST_OP_LT, a, b)
#define HS_EXPECT_LE_INT(a, b) HS_TEST_I64_(HS_TEST_OP_LE, a, b)
#define HS_EXPECT_GT_INT(a, b) HS_TEST_I64_(HS_TEST_OP_GT, a, b)
#define HS_EXPECT_GE_INT(a, b) HS_TEST_I64_(HS_TEST_OP_GE, a, b)

#define HS_EXPECT_EQ_PTR(a, b) HS_TEST_PTR_(HS_TEST_OP_EQ, a, b)
#define HS_EXPECT_NE_PTR(a, b) HS_TEST_PTR_(HS_TEST_OP_NE, a, b)
#define HS_EXPECT_LT_PTR(a, b) HS_TEST_PTR_(HS_TEST_OP_LT, a, b)
#define HS_EXPECT_LE_PTR(a, b) HS_TEST_PTR_(HS_TEST_OP_LE, a, b)
#define HS_EXPECT_GT_PTR(a, b) HS_TEST_PTR_(HS_TEST_OP_GT, a, b)
#define HS_EXPECT_GE_PTR(a, b) HS_TEST_PTR_(HS_TEST_OP_GE, a, b)
#define HS_EXPECT_NULL(a) HS_TEST_PTR_(HS_TEST_OP_EQ, a, NULL)
#define HS_EXPECT_NOT_NULL(a) HS_TEST_PTR_(HS_TEST_OP_NE, a, NULL)

/* NUL-terminated strings; NULL compares equal only to NULL. */
#define HS_EXPECT_EQ_STR(a, b) HS_TEST_STR_(HS_TEST_OP_EQ, a, b)
#define HS_EXPECT_NE_STR(a, b) HS_TEST_STR_(HS_TEST_OP_NE, a, b)

#define HS_EXPECT_TRUE(a)                                                      \
    hs_test_check_bool(__FILE__, __LINE__, #a, (a) ? true : false, true)
#define HS_EXPECT_FALSE(a)                                                     \
    hs_test_check_bool(__FILE__, __LINE__, #a, (a) ? true : false, false)

/* |a - b| <= tol, for estimates. */
#define HS_EXPECT_NEAR(a, b, tol)                                              \
    hs_test_check_near(__FILE__, __LINE__, #a, #b, (double)(a), (double)(b),   \
                       (double)(tol))

/* p is a multiple of alignment (a power of two). */
#define HS_EXPECT_ALIGNED(p, alignment)                                        \
    hs_test_check_aligned(__FILE__, __LINE__, #p, (const void *)(p),           \
                          (size_t)(alignment))

#define HS_FAIL(...) hs_test_fail(__FILE__, __LINE__, __VA_ARGS__)

/* Skips the rest of the current test. */
#define HS_SKIP(reason)                                                        \
    do {                                                                       \
        hs_test_skip(__FILE__, __LINE__, (reason));                            \
        return;                                                                \
    } while (0)

/* ---- assertions: record and return from the test function ---- */

#define HS_TEST_OR_RETURN_(check)                                              \
    do {                                                                       \
        if (!(check))                                                          \
            return;                                                            \
    } while (0)

#define HS_ASSERT_EQ_U64(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_EQ_U64(a, b))
#define HS_ASSERT_NE_U64(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_NE_U64(a, b))
#define HS_ASSERT_LT_U64(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_LT_U64(a, b))
#define HS_ASSERT_LE_U64(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_LE_U64(a, b))
#define HS_ASSERT_GT_U64(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_GT_U64(a, b))
#define HS_ASSERT_GE_U64(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_GE_U64(a, b))
#define HS_ASSERT_EQ_SIZE(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_EQ_SIZE(a, b))
#define HS_ASSERT_NE_SIZE(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_NE_SIZE(a, b))
#define HS_ASSERT_LT_SIZE(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_LT_SIZE(a, b))
#define HS_ASSERT_LE_SIZE(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_LE_SIZE(a, b))
#define HS_ASSERT_GT_SIZE(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_GT_SIZE(a, b))
#define HS_ASSERT_GE_SIZE(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_GE_SIZE(a, b))
#define HS_ASSERT_EQ_INT(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_EQ_INT(a, b))
#define HS_ASSERT_NE_INT(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_NE_INT(a, b))
#define HS_ASSERT_LT_INT(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_LT_INT(a, b))
#define HS_ASSERT_LE_INT(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_LE_INT(a, b))
#define HS_ASSERT_GT_INT(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_GT_INT(a, b))
#define HS_ASSERT_GE_INT(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_GE_INT(a, b))
#define HS_ASSERT_EQ_PTR(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_EQ_PTR(a, b))
#define HS_ASSERT_NE_PTR(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_NE_PTR(a, b))
#define HS_ASSERT_LT_PTR(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_LT_PTR(a, b))
#define HS_ASSERT_LE_PTR(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_LE_PTR(a, b))
#define HS_ASSERT_GT_PTR(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_GT_PTR(a, b))
#define HS_ASSERT_GE_PTR(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_GE_PTR(a, b))
#define HS_ASSERT_EQ_STR(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_EQ_STR(a, b))
#define HS_ASSERT_NE_STR(a, b) HS_TEST_OR_RETURN_(HS_EXPECT_NE_STR(a, b))
#define HS_ASSERT_NULL(a) HS_TEST_OR_RETURN_(HS_EXPECT_NULL(a))
#define HS_ASSERT_NOT_NULL(a) HS_TEST_OR_RETURN_(HS_EXPECT_NOT_NULL(a))
#define HS_ASSERT_TRUE(a) HS_TEST_OR_RETURN_(HS_EXPECT_TRUE(a))
#define HS_ASSERT_FALSE(a) HS_TEST_OR_RETURN_(HS_EXPECT_FALSE(a))
#define HS_ASSERT_NEAR(a, b, tol) HS_TEST_OR_RETURN_(HS_EXPECT_NEAR(a, b, tol))
#define HS_ASSERT_ALIGNED(p, alignment)                                        \
    HS_TEST_OR_RETURN_(HS_EXPECT_ALIGNED(p, alignment))

#ifdef __cplusplus
}
#endif

#endif /* HS_TEST_H */
