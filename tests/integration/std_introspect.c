/*
 * std_introspect.c — malloc_usable_size, free_sized, free_aligned_sized
 * and the glibc introspection calls (mallinfo, mallinfo2, malloc_stats,
 * malloc_info, malloc_trim, mallopt), through the standard symbols only.
 *
 * Owns the checks that usable sizes cover the request and are writable,
 * that the C23 sized frees accept what they should, and that the glibc
 * introspection calls give sane answers: mallinfo2 accounts for live
 * memory, malloc_stats writes something, malloc_info writes XML.
 */
#include "hs_test.h"
#include "it_util.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* C23; glibc before 2.39 does not declare them. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

HS_TEST(usable_size_of_null_is_zero)
{
    HS_EXPECT_EQ_SIZE(malloc_usable_size(it_opaque_ptr(NULL)), 0);
}

HS_TEST(usable_size_covers_request_and_is_writable)
{
    for (size_t n = 1; n < (3u << 20); n += 1 + n / 7) {
        unsigned char *p = malloc(it_opaque(n));
        HS_ASSERT_NOT_NULL(p);
        size_t u = malloc_usable_size(p);
        HS_ASSERT_GE_SIZE(u, n);
        memset(p, 0xab, u);
        HS_EXPECT_EQ_SIZE(malloc_usable_size(p), u);
        free(p);
    }
}

HS_TEST(usable_size_is_stable_across_realloc_in_place)
{
    unsigned char *p = malloc(it_opaque(1000));
    HS_ASSERT_NOT_NULL(p);
    size_t u = malloc_usable_size(p);
    memset(p, 1, u);
    /* Growing into the usable slack must keep the contents. */
    unsigned char *q = realloc(p, u);
    HS_ASSERT_NOT_NULL(q);
    HS_EXPECT_EQ_SIZE(it_check_byte(q, u, 1), u);
    free(q);
}

HS_TEST(free_sized_accepts_requested_sizes)
{
    for (size_t n = 1; n < 200000; n += 1 + n / 5) {
        void *p = malloc(it_opaque(n));
        HS_ASSERT_NOT_NULL(p);
        memset(p, 2, n);
        free_sized(p, n);
    }
    for (size_t n = 0; n < 5000; n += 97) {
        void *p = calloc(1, it_opaque(n));
        HS_ASSERT_NOT_NULL(p);
        free_sized(p, n);
    }
    free_sized(NULL, 0);
    free_sized(NULL, 100);
}

HS_TEST(free_aligned_sized_accepts_aligned_blocks)
{
    for (size_t a = 16; a <= ((size_t)1 << 22); a <<= 1) {
        static const size_t sizes[] = {1, 100, 5000, 70000};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = aligned_alloc(it_opaque(a), sizes[i]);
            HS_ASSERT_NOT_NULL(p);
            HS_EXPECT_ALIGNED(p, a);
            memset(p, 4, sizes[i]);
            free_aligned_sized(p, a, sizes[i]);
        }
    }
    free_aligned_sized(NULL, 64, 0);
}

HS_TEST(sized_frees_leave_allocator_usable)
{
    enum { N = 5000 };
    static void *ptrs[N];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N; i++) {
            ptrs[i] = malloc(it_opaque(i * 3 + 1));
            HS_ASSERT_NOT_NULL(ptrs[i]);
            it_fill(ptrs[i], i * 3 + 1, i + round);
        }
        size_t bad = 0;
        for (size_t i = 0; i < N; i++) {
            if (it_check(ptrs[i], i * 3 + 1, i + round) != i * 3 + 1)
                bad++;
            free_sized(ptrs[i], i * 3 + 1);
        }
        HS_EXPECT_EQ_SIZE(bad, 0);
    }
}

enum { STD_LIVE_BLOCKS = 32, STD_LIVE_BLOCK = 1 << 20 };

HS_TEST(mallinfo2_accounts_for_live_memory)
{
    static void *blocks[STD_LIVE_BLOCKS];
    size_t live = (size_t)STD_LIVE_BLOCKS * STD_LIVE_BLOCK;
    for (size_t i = 0; i < STD_LIVE_BLOCKS; i++) {
        blocks[i] = malloc(it_opaque(STD_LIVE_BLOCK));
        HS_ASSERT_NOT_NULL(blocks[i]);
        memset(blocks[i], 1, STD_LIVE_BLOCK);
    }
    struct mallinfo2 mi = mallinfo2();
    HS_EXPECT_GE_SIZE(mi.uordblks + mi.hblkhd, live);
    /* Nothing can be in use beyond what the process has mapped. */
    HS_EXPECT_LT_SIZE(mi.uordblks, (size_t)1 << 40);
    HS_EXPECT_LT_SIZE(mi.fordblks, (size_t)1 << 40);
    for (size_t i = 0; i < STD_LIVE_BLOCKS; i++)
        free(blocks[i]);
    struct mallinfo2 after = mallinfo2();
    HS_EXPECT_LT_SIZE(after.uordblks + after.hblkhd,
                      mi.uordblks + mi.hblkhd);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
HS_TEST(mallinfo_accounts_for_live_memory)
{
    static void *blocks[STD_LIVE_BLOCKS];
    long live = (long)STD_LIVE_BLOCKS * STD_LIVE_BLOCK;
    for (size_t i = 0; i < STD_LIVE_BLOCKS; i++) {
        blocks[i] = malloc(it_opaque(STD_LIVE_BLOCK));
        HS_ASSERT_NOT_NULL(blocks[i]);
        memset(blocks[i], 1, STD_LIVE_BLOCK);
    }
    struct mallinfo mi = mallinfo();
    /* int fields; the test keeps the totals far below INT_MAX. */
    HS_EXPECT_GE_INT((long)(unsigned)mi.uordblks + (unsigned)mi.hblkhd,
                     live);
    for (size_t i = 0; i < STD_LIVE_BLOCKS; i++)
        free(blocks[i]);
}
#pragma GCC diagnostic pop

/* Runs fn with stderr redirected to a temporary file; returns the bytes
 * written, copying up to cap - 1 of them into buf. */
static size_t
std_capture_stderr(void (*fn)(void), char *buf, size_t cap)
{
    FILE *tmp = tmpfile();
    if (tmp == NULL)
        return 0;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t len = lseek(fileno(tmp), 0, SEEK_END);
    lseek(fileno(tmp), 0, SEEK_SET);
    ssize_t got = read(fileno(tmp), buf, cap - 1);
    buf[got > 0 ? got : 0] = '\0';
    fclose(tmp);
    return len > 0 ? (size_t)len : 0;
}

static void
std_call_malloc_stats(void)
{
    malloc_stats();
}

HS_TEST(malloc_stats_writes_to_stderr)
{
    static char out[1 << 16];
    void *p = malloc(it_opaque(12345));
    size_t n = std_capture_stderr(std_call_malloc_stats, out, sizeof out);
    HS_EXPECT_GT_SIZE(n, 0);
    HS_EXPECT_GT_SIZE(strlen(out), 0);
    free(p);
}

HS_TEST(malloc_info_writes_xml)
{
    static char out[1 << 18];
    void *p = malloc(it_opaque(12345));
    FILE *f = tmpfile();
    HS_ASSERT_NOT_NULL(f);
    HS_EXPECT_EQ_INT(malloc_info(0, f), 0);
    fflush(f);
    rewind(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    HS_EXPECT_GT_SIZE(n, 0);
    HS_EXPECT_TRUE(strncmp(out, "<malloc", 7) == 0);
    if (strncmp(out, "<malloc", 7) != 0)
        HS_FAIL("malloc_info output begins: %.60s", out);
    HS_EXPECT_NOT_NULL(strstr(out, "</malloc>"));
    free(p);
}

HS_TEST(malloc_trim_returns_0_or_1)
{
    enum { N = 64 };
    void *ptrs[N];
    for (size_t i = 0; i < N; i++) {
        ptrs[i] = malloc(it_opaque(256 << 10));
        HS_ASSERT_NOT_NULL(ptrs[i]);
        memset(ptrs[i], 1, 256 << 10);
    }
    for (size_t i = 0; i < N; i++)
        free(ptrs[i]);
    int r = malloc_trim(0);
    HS_EXPECT_TRUE(r == 0 || r == 1);
    r = malloc_trim(1 << 20);
    HS_EXPECT_TRUE(r == 0 || r == 1);
    /* The allocator still works afterwards. */
    void *p = malloc(it_opaque(1 << 20));
    HS_ASSERT_NOT_NULL(p);
    memset(p, 2, 1 << 20);
    free(p);
}

HS_TEST(mallopt_returns_an_int)
{
    int r = mallopt(M_MMAP_THRESHOLD, 1 << 20);
    HS_EXPECT_TRUE(r == 0 || r == 1);
    r = mallopt(M_TRIM_THRESHOLD, 1 << 20);
    HS_EXPECT_TRUE(r == 0 || r == 1);
    r = mallopt(12345, 1);
    HS_EXPECT_TRUE(r == 0 || r == 1);
    void *p = malloc(it_opaque(100));
    HS_EXPECT_NOT_NULL(p);
    free(p);
}

HS_TEST_MAIN()
