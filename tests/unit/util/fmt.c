/*
 * fmt.c — unit tests of alloc/util/fmt: hs_snprintf's format subset
 * (%s %d %u %zu %zd %lu %ld %llu %x %lx %p %c %%), field widths, left
 * justification, truncation and NUL-termination; and the line writers
 * hs_dprintf and hs_warn (captured through a pipe).
 */
#include "hs_test.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/fmt.h"

/* Formats into a 256-byte buffer and compares with expect, checking the
 * returned length too. */
#define EXPECT_FMT(expect, ...)                                                \
    do {                                                                       \
        char buf_[256];                                                        \
        size_t n_ = hs_snprintf(buf_, sizeof buf_, __VA_ARGS__);               \
        HS_EXPECT_EQ_STR(buf_, expect);                                        \
        HS_EXPECT_EQ_SIZE(n_, strlen(expect));                                 \
    } while (0)

/* hs_vsnprintf without the format attribute, for formats printf would
 * reject. */
static size_t
fmt_raw(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = hs_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

HS_TEST(strings_and_chars)
{
    EXPECT_FMT("hello", "%s", "hello");
    EXPECT_FMT("a-b-c", "%s-%s-%s", "a", "b", "c");
    EXPECT_FMT("", "%s", "");
    char buf[16];
    HS_EXPECT_EQ_SIZE(fmt_raw(buf, sizeof buf, "%s", (const char *)NULL), 6);
    HS_EXPECT_EQ_STR(buf, "(null)");
    EXPECT_FMT("x", "%c", 'x');
    EXPECT_FMT("100%", "100%%");
    EXPECT_FMT("plain text", "plain text");
    buf[0] = 'Z';
    HS_EXPECT_EQ_SIZE(fmt_raw(buf, sizeof buf, ""), 0);
    HS_EXPECT_EQ_STR(buf, "");
}

HS_TEST(signed_decimal)
{
    EXPECT_FMT("0", "%d", 0);
    EXPECT_FMT("42", "%d", 42);
    EXPECT_FMT("-42", "%d", -42);
    EXPECT_FMT("2147483647", "%d", INT_MAX);
    EXPECT_FMT("-2147483648", "%d", INT_MIN);
    EXPECT_FMT("-5", "%zd", (ssize_t)-5);
    EXPECT_FMT("9223372036854775807", "%zd", (ssize_t)INT64_MAX);
    EXPECT_FMT("-9223372036854775808", "%ld", LONG_MIN);
    EXPECT_FMT("-9223372036854775808", "%lld", LLONG_MIN);
    EXPECT_FMT("123456789012", "%ld", 123456789012L);
}

HS_TEST(unsigned_decimal_and_hex)
{
    EXPECT_FMT("0", "%u", 0u);
    EXPECT_FMT("4294967295", "%u", UINT_MAX);
    EXPECT_FMT("18446744073709551615", "%zu", SIZE_MAX);
    EXPECT_FMT("18446744073709551615", "%llu", ULLONG_MAX);
    EXPECT_FMT("18446744073709551615", "%lu", ULONG_MAX);
    EXPECT_FMT("4096", "%zu", (size_t)4096);
    EXPECT_FMT("deadbeef", "%x", 0xdeadbeefu);
    EXPECT_FMT("0", "%x", 0u);
    EXPECT_FMT("ffffffffffffffff", "%lx", ULONG_MAX);
    EXPECT_FMT("1234abcd5678", "%lx", 0x1234abcd5678UL);
}

HS_TEST(pointers)
{
    EXPECT_FMT("0x1234", "%p", (void *)(uintptr_t)0x1234);
    EXPECT_FMT("0x7fffdeadb000", "%p", (void *)(uintptr_t)0x7fffdeadb000);
    EXPECT_FMT("0x0", "%p", (void *)NULL);
    EXPECT_FMT("at 0xff!", "at %p!", (void *)(uintptr_t)0xff);
}

HS_TEST(mixed_arguments_keep_alignment_of_varargs)
{
    /* Alternating 32- and 64-bit arguments must each be read with their
     * own width. */
    EXPECT_FMT("1 18446744073709551615 -3 0xa s 7", "%d %zu %d %p %s %u", 1,
               SIZE_MAX, -3, (void *)(uintptr_t)10, "s", 7u);
}

HS_TEST(widths_and_left_justify)
{
    EXPECT_FMT("      4096", "%10zu", (size_t)4096);
    EXPECT_FMT("4096      |", "%-10zu|", (size_t)4096);
    EXPECT_FMT("  -42", "%5d", -42);
    EXPECT_FMT("-42  |", "%-5d|", -42);
    EXPECT_FMT("   abc", "%6s", "abc");
    EXPECT_FMT("abc   |", "%-6s|", "abc");
    EXPECT_FMT("      0x10", "%10p", (void *)(uintptr_t)16);
    EXPECT_FMT("    ff", "%6x", 255u);
    EXPECT_FMT("    x", "%5c", 'x');
    /* A width below the content's length does not cut it. */
    EXPECT_FMT("123456", "%3d", 123456);
    EXPECT_FMT("abcdef", "%-2s", "abcdef");
    /* A table row as stats.c prints them. */
    EXPECT_FMT("      16     4096    256", "%8zu %8zu %6zu", (size_t)16,
               (size_t)4096, (size_t)256);
}

HS_TEST(unknown_conversion_is_copied)
{
    char buf[32];
    HS_EXPECT_EQ_SIZE(fmt_raw(buf, sizeof buf, "a%qb"), 4);
    HS_EXPECT_EQ_STR(buf, "a%qb");
    /* A lone % at the very end is dropped, not read past. */
    HS_EXPECT_EQ_SIZE(fmt_raw(buf, sizeof buf, "abc%"), 3);
    HS_EXPECT_EQ_STR(buf, "abc");
}

HS_TEST(truncation_and_nul_termination)
{
    char buf[16];
    memset(buf, 'Z', sizeof buf);
    size_t n = hs_snprintf(buf, 6, "%s", "hello world");
    HS_EXPECT_EQ_STR(buf, "hello");
    HS_EXPECT_EQ_SIZE(n, 5);
    /* Nothing past the given size was written. */
    for (size_t i = 6; i < sizeof buf; i++)
        HS_EXPECT_EQ_INT(buf[i], 'Z');

    /* Exact fit: 3 characters and the NUL in 4 bytes. */
    memset(buf, 'Z', sizeof buf);
    n = hs_snprintf(buf, 4, "%d", 123);
    HS_EXPECT_EQ_STR(buf, "123");
    HS_EXPECT_EQ_SIZE(n, 3);
    HS_EXPECT_EQ_INT(buf[4], 'Z');

    /* One short: the last character is dropped for the NUL. */
    memset(buf, 'Z', sizeof buf);
    n = hs_snprintf(buf, 3, "%d", 123);
    HS_EXPECT_EQ_STR(buf, "12");
    HS_EXPECT_EQ_SIZE(n, 2);
    HS_EXPECT_EQ_INT(buf[3], 'Z');

    /* Truncation in the middle of a padded field and a number. */
    memset(buf, 'Z', sizeof buf);
    n = hs_snprintf(buf, 8, "%10zu", (size_t)42);
    HS_EXPECT_EQ_STR(buf, "       ");
    HS_EXPECT_EQ_SIZE(n, 7);
    memset(buf, 'Z', sizeof buf);
    n = hs_snprintf(buf, 5, "x%zuy", SIZE_MAX);
    HS_EXPECT_EQ_STR(buf, "x184");
    HS_EXPECT_EQ_SIZE(n, 4);
    HS_EXPECT_EQ_INT(buf[5], 'Z');

    /* Size 1: only the NUL. */
    memset(buf, 'Z', sizeof buf);
    n = hs_snprintf(buf, 1, "%s", "abc");
    HS_EXPECT_EQ_INT(buf[0], '\0');
    HS_EXPECT_EQ_INT(buf[1], 'Z');
    HS_EXPECT_EQ_SIZE(n, 0);

    /* Size 0: nothing at all is written. */
    memset(buf, 'Z', sizeof buf);
    n = hs_snprintf(buf, 0, "%s", "abc");
    HS_EXPECT_EQ_INT(buf[0], 'Z');
    HS_EXPECT_EQ_SIZE(n, 0);
}

HS_TEST(long_output_fills_buffer_exactly)
{
    char buf[64];
    memset(buf, 'Z', sizeof buf);
    size_t n = hs_snprintf(buf, 32, "%-100s", "pad");
    HS_EXPECT_EQ_SIZE(n, 31);
    HS_EXPECT_EQ_SIZE(strlen(buf), 31);
    HS_EXPECT_EQ_INT(buf[0], 'p');
    HS_EXPECT_EQ_INT(buf[30], ' ');
    HS_EXPECT_EQ_INT(buf[32], 'Z');
}

/* Reads everything available from a pipe's read end (writer closed). */
static size_t
drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return n;
}

HS_TEST(dprintf_writes_formatted_bytes)
{
    int p[2];
    HS_ASSERT_EQ_INT(pipe(p), 0);
    hs_dprintf(p[1], "fd %d: %zu bytes at %p", 7, (size_t)64,
               (void *)(uintptr_t)0x1000);
    close(p[1]);
    char buf[256];
    drain(p[0], buf, sizeof buf);
    close(p[0]);
    HS_EXPECT_EQ_STR(buf, "fd 7: 64 bytes at 0x1000");
}

HS_TEST(warn_writes_one_prefixed_line_to_stderr)
{
    int p[2];
    HS_ASSERT_EQ_INT(pipe(p), 0);
    int saved = dup(STDERR_FILENO);
    HS_ASSERT_TRUE(saved >= 0);
    dup2(p[1], STDERR_FILENO);
    hs_warn("bad thing %d at %s", 3, "here");
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[1]);
    char buf[256];
    drain(p[0], buf, sizeof buf);
    close(p[0]);
    HS_EXPECT_EQ_STR(buf, "heapsight: warning: bad thing 3 at here\n");
}

HS_TEST(warn_truncates_long_messages_to_one_line)
{
    int p[2];
    HS_ASSERT_EQ_INT(pipe(p), 0);
    int saved = dup(STDERR_FILENO);
    HS_ASSERT_TRUE(saved >= 0);
    dup2(p[1], STDERR_FILENO);
    hs_warn("%-3000s", "long");
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[1]);
    static char buf[8192];
    size_t n = drain(p[0], buf, sizeof buf);
    close(p[0]);
    HS_EXPECT_LE_SIZE(n, 1024);
    HS_EXPECT_GT_SIZE(n, 100);
    HS_EXPECT_EQ_INT(buf[n - 1], '\n');
    HS_EXPECT_NULL(memchr(buf, '\n', n - 1));
    HS_EXPECT_EQ_INT(strncmp(buf, "heapsight: warning: long", 24), 0);
}

HS_TEST_MAIN()
