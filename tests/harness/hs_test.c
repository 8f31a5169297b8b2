/*
 * hs_test.c — the runner and the checkers behind hs_test.h.
 *
 * Owns: the per-test failure and skip counters, the failure messages and
 * the loop that runs the registered tests.  Does not own the tests.
 *
 * Memory: never calls malloc.  stdout gets a static line buffer before the
 * first test, the case list is sorted in a fixed-size static array, and a
 * crash handler reports the running test with write(2) only.
 *
 * Threading: the counters are atomic so that worker threads of one test may
 * record failures; the runner itself is single-threaded.  Invariant: a
 * test passed <=> hs_test_nfail == 0 after it returned and it did not skip.
 */
#include "hs_test.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bounds of the registration section, provided by the linker. */
extern const struct hs_test_case __start_hs_test_cases[]
    __attribute__((weak));
extern const struct hs_test_case __stop_hs_test_cases[]
    __attribute__((weak));

enum { HS_TEST_MAX_CASES = 4096 };

static atomic_uint hs_test_nfail;   /* atomic; failures in current test */
static atomic_bool hs_test_skipped; /* atomic; current test skipped */
static const char *hs_test_current; /* main thread only */
static char hs_test_stdout_buf[1 << 14];
static const struct hs_test_case *hs_test_sorted[HS_TEST_MAX_CASES];

static const char *const hs_test_op_text[] = {
    [HS_TEST_OP_EQ] = "==", [HS_TEST_OP_NE] = "!=", [HS_TEST_OP_LT] = "<",
    [HS_TEST_OP_LE] = "<=", [HS_TEST_OP_GT] = ">",  [HS_TEST_OP_GE] = ">=",
};

static bool
hs_test_compare(enum hs_test_op op, int cmp)
{
    switch (op) {
    case HS_TEST_OP_EQ: return cmp == 0;
    case HS_TEST_OP_NE: return cmp != 0;
    case HS_TEST_OP_LT: return cmp < 0;
    case HS_TEST_OP_LE: return cmp <= 0;
    case HS_TEST_OP_GT: return cmp > 0;
    case HS_TEST_OP_GE: return cmp >= 0;
    }
    return false;
}

static void
hs_test_record_failure(const char *file, int line)
{
    atomic_fetch_add(&hs_test_nfail, 1);
    printf("  %s:%d: failure in %s\n", file, line,
           hs_test_current ? hs_test_current : "(no test)");
}

bool
hs_test_check_u64(const char *file, int line, enum hs_test_op op,
                  const char *a_expr, const char *b_expr, uint64_t a,
                  uint64_t b)
{
    int cmp = a < b ? -1 : a > b;
    if (hs_test_compare(op, cmp))
        return true;
    hs_test_record_failure(file, line);
    printf("    expected: %s %s %s\n", a_expr, hs_test_op_text[op], b_expr);
    printf("    %s = %" PRIu64 " (0x%" PRIx64 ")\n", a_expr, a, a);
    printf("    %s = %" PRIu64 " (0x%" PRIx64 ")\n", b_expr, b, b);
    fflush(stdout);
    return false;
}

bool
hs_test_check_i64(const char *file, int line, enum hs_test_op op,
                  const char *a_expr, const char *b_expr, int64_t a,
                  int64_t b)
{
    int cmp = a < b ? -1 : a > b;
    if (hs_test_compare(op, cmp))
        return true;
    hs_test_record_failure(file, line);
    printf("    expected: %s %s %s\n", a_expr, hs_test_op_text[op], b_expr);
    printf("    %s = %" PRId64 "\n", a_expr, a);
    printf("    %s = %" PRId64 "\n", b_expr, b);
    fflush(stdout);
    return false;
}

bool
hs_test_check_ptr(const char *file, int line, enum hs_test_op op,
                  const char *a_expr, const char *b_expr, const void *a,
                  const void *b)
{
    uintptr_t ua = (uintptr_t)a, ub = (uintptr_t)b;
    int cmp = ua < ub ? -1 : ua > ub;
    if (hs_test_compare(op, cmp))
        return true;
    hs_test_record_failure(file, line);
    printf("    expected: %s %s %s\n", a_expr, hs_test_op_text[op], b_expr);
    printf("    %s = %p\n", a_expr, a);
    printf("    %s = %p\n", b_expr, b);
    fflush(stdout);
    return false;
}

bool
hs_test_check_str(const char *file, int line, enum hs_test_op op,
                  const char *a_expr, const char *b_expr, const char *a,
                  const char *b)
{
    int cmp;
    if (a == NULL || b == NULL)
        cmp = (b == NULL) - (a == NULL); /* NULL sorts first */
    else
        cmp = strcmp(a, b);
    if (hs_test_compare(op, cmp))
        return true;
    hs_test_record_failure(file, line);
    printf("    expected: %s %s %s\n", a_expr, hs_test_op_text[op], b_expr);
    printf("    %s = %s%s%s\n", a_expr, a ? "\"" : "", a ? a : "NULL",
           a ? "\"" : "");
    printf("    %s = %s%s%s\n", b_expr, b ? "\"" : "", b ? b : "NULL",
           b ? "\"" : "");
    fflush(stdout);
    return false;
}

bool
hs_test_check_bool(const char *file, int line, const char *expr, bool value,
                   bool expected)
{
    if (value == expected)
        return true;
    hs_test_record_failure(file, line);
    printf("    expected: %s is %s\n", expr, expected ? "true" : "false");
    printf("    %s = %s\n", expr, value ? "true" : "false");
    fflush(stdout);
    return false;
}

bool
hs_test_check_near(const char *file, int line, const char *a_expr,
                   const char *b_expr, double a, double b, double tol)
{
    double d = a > b ? a - b : b - a;
    if (d <= tol)
        return true;
    hs_test_record_failure(file, line);
    printf("    expected: |%s - %s| <= %g\n", a_expr, b_expr, tol);
    printf("    %s = %.17g\n", a_expr, a);
    printf("    %s = %.17g\n", b_expr, b);
    fflush(stdout);
    return false;
}

bool
hs_test_check_aligned(const char *file, int line, const char *expr,
                      const void *p, size_t alignment)
{
    if (alignment != 0 && ((uintptr_t)p & (alignment - 1)) == 0)
        return true;
    hs_test_record_failure(file, line);
    printf("    expected: %s aligned to %zu\n", expr, alignment);
    printf("    %s = %p (offset %zu)\n", expr, p,
           alignment ? (size_t)((uintptr_t)p & (alignment - 1)) : 0);
    fflush(stdout);
    return false;
}

void
hs_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    hs_test_record_failure(file, line);
    printf("    ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void
hs_test_skip(const char *file, int line, const char *reason)
{
    atomic_store(&hs_test_skipped, true);
    printf("  %s:%d: skipped: %s\n", file, line, reason);
}

unsigned
hs_test_failures(void)
{
    return atomic_load(&hs_test_nfail);
}

/* Reports the test that crashed, then dies of the same signal. */
static void
hs_test_on_crash(int sig)
{
    static const char prefix[] = "\n*** crashed in test ";
    const char *name = hs_test_current ? hs_test_current : "(none)";
    fflush(stdout);
    (void)!write(STDERR_FILENO, prefix, sizeof prefix - 1);
    (void)!write(STDERR_FILENO, name, strlen(name));
    (void)!write(STDERR_FILENO, "\n", 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int
hs_test_case_before(const struct hs_test_case *a,
                    const struct hs_test_case *b)
{
    int c = strcmp(a->file, b->file);
    return c != 0 ? c < 0 : a->line < b->line;
}

/* Insertion-sorts the registered cases into hs_test_sorted; returns n. */
static size_t
hs_test_collect(void)
{
    size_t n = 0;
    const struct hs_test_case *c = __start_hs_test_cases;
    for (; c != NULL && c < __stop_hs_test_cases; c++) {
        if (n == HS_TEST_MAX_CASES) {
            printf("hs_test: more than %d tests\n", HS_TEST_MAX_CASES);
            exit(2);
        }
        size_t i = n++;
        while (i > 0 && hs_test_case_before(c, hs_test_sorted[i - 1])) {
            hs_test_sorted[i] = hs_test_sorted[i - 1];
            i--;
        }
        hs_test_sorted[i] = c;
    }
    return n;
}

static void
hs_test_install_crash_handlers(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], hs_test_on_crash);
}

int
hs_test_run_all(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    size_t n, ran = 0, failed = 0, skipped = 0;

    setvbuf(stdout, hs_test_stdout_buf, _IOLBF, sizeof hs_test_stdout_buf);
    hs_test_install_crash_handlers();
    n = hs_test_collect();
    for (size_t i = 0; i < n; i++) {
        const struct hs_test_case *c = hs_test_sorted[i];
        if (filter != NULL && strstr(c->name, filter) == NULL)
            continue;
        hs_test_current = c->name;
        atomic_store(&hs_test_nfail, 0);
        atomic_store(&hs_test_skipped, false);
        c->fn();
        ran++;
        if (atomic_load(&hs_test_nfail) != 0) {
            failed++;
            printf("%s ... FAILED (%s:%d)\n", c->name, c->file, c->line);
        } else if (atomic_load(&hs_test_skipped)) {
            skipped++;
            printf("%s ... skipped\n", c->name);
        } else {
            printf("%s ... ok\n", c->name);
        }
        fflush(stdout);
    }
    hs_test_current = NULL;
    printf("%zu tests, %zu passed, %zu failed, %zu skipped\n", ran,
           ran - failed - skipped, failed, skipped);
    fflush(stdout);
    if (ran == 0) {
        printf("hs_test: no test ran\n");
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
