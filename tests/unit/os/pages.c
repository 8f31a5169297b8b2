/*
 * pages.c — unit tests of alloc/os/pages: aligned mappings (PAGE up to
 * 1 GiB), zero-filled and writable; unmapping; purging (pages read as zero
 * afterwards, neighbours untouched); failure returns NULL; the registry
 * of mappings (pages_ranges) follows maps, aligned trims and unmaps of
 * any part.
 */
#include "hs_test.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os/pages.h"
#include "util/util.h"

static bool
all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

HS_TEST(map_one_page)
{
    unsigned char *p = pages_map(PAGE, PAGE);
    HS_ASSERT_NOT_NULL(p);
    HS_EXPECT_ALIGNED(p, PAGE);
    HS_EXPECT_TRUE(all_zero(p, PAGE));
    memset(p, 0x5a, PAGE);
    HS_EXPECT_EQ_INT(p[PAGE - 1], 0x5a);
    pages_unmap(p, PAGE);
}

HS_TEST(map_alignments_up_to_1GiB)
{
    for (unsigned lg = LG_PAGE; lg <= 30; lg++) {
        size_t alignment = (size_t)1 << lg;
        static const size_t npages[] = {1, 3, 16};
        for (size_t k = 0; k < sizeof npages / sizeof npages[0]; k++) {
            size_t size = npages[k] * PAGE;
            unsigned char *p = pages_map(size, alignment);
            if (p == NULL) {
                HS_FAIL("pages_map(%zu, %zu) failed", size, alignment);
                continue;
            }
            HS_EXPECT_ALIGNED(p, alignment);
            /* First and last byte are mapped, zero and writable. */
            HS_EXPECT_EQ_INT(p[0], 0);
            HS_EXPECT_EQ_INT(p[size - 1], 0);
            p[0] = 1;
            p[size - 1] = 2;
            HS_EXPECT_EQ_INT(p[0] + p[size - 1], 3);
            pages_unmap(p, size);
        }
    }
}

/* Address-space size of the process in pages (first field of
 * /proc/self/statm), read without stdio so nothing else maps meanwhile. */
static long
vm_pages(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

HS_TEST(aligned_map_keeps_only_the_request)
{
    /* The over-mapping is trimmed on both sides: the process's address
     * space grows by the request alone, whatever the alignment. */
    static const unsigned lgs[] = {13, 16, 21, 24, 30};
    for (size_t k = 0; k < sizeof lgs / sizeof lgs[0]; k++) {
        size_t alignment = (size_t)1 << lgs[k];
        long before = vm_pages();
        unsigned char *p = pages_map(2 * PAGE, alignment);
        long after = vm_pages();
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_ALIGNED(p, alignment);
        HS_EXPECT_TRUE(before > 0);
        HS_EXPECT_EQ_INT(after - before, 2);
        pages_unmap(p, 2 * PAGE);
        HS_EXPECT_EQ_INT(vm_pages(), before);
    }
}

HS_TEST(unmap_releases)
{
    unsigned char *p = pages_map(4 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(p);
    pages_unmap(p, 4 * PAGE);
    /* The range is free: a no-replace fixed mapping there succeeds. */
    void *q = mmap(p, 4 * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    HS_EXPECT_EQ_PTR(q, p);
    if (q != MAP_FAILED)
        munmap(q, 4 * PAGE);
}

HS_TEST(purge_makes_pages_read_zero)
{
    size_t n = 6;
    unsigned char *p = pages_map(n * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(p);
    memset(p, 0xab, n * PAGE);
    HS_ASSERT_TRUE(pages_purge_forced(p + PAGE, 3 * PAGE));
    HS_EXPECT_TRUE(all_zero(p + PAGE, 3 * PAGE));
    /* Neighbours keep their contents. */
    HS_EXPECT_EQ_INT(p[0], 0xab);
    HS_EXPECT_EQ_INT(p[PAGE - 1], 0xab);
    HS_EXPECT_EQ_INT(p[4 * PAGE], 0xab);
    HS_EXPECT_EQ_INT(p[n * PAGE - 1], 0xab);
    /* Purged pages stay mapped and writable. */
    p[2 * PAGE] = 7;
    HS_EXPECT_EQ_INT(p[2 * PAGE], 7);
    /* Purging everything. */
    HS_EXPECT_TRUE(pages_purge_forced(p, n * PAGE));
    HS_EXPECT_TRUE(all_zero(p, n * PAGE));
    pages_unmap(p, n * PAGE);
}

HS_TEST(purge_of_unmapped_range_fails)
{
    unsigned char *p = pages_map(PAGE, PAGE);
    HS_ASSERT_NOT_NULL(p);
    pages_unmap(p, PAGE);
    HS_EXPECT_FALSE(pages_purge_forced(p, PAGE));
}

HS_TEST(impossible_request_returns_null)
{
    /* Larger than the 47-bit user address space. */
    HS_EXPECT_NULL(pages_map((size_t)1 << 60, PAGE));
    /* Alignment slack that overflows size_t. */
    HS_EXPECT_NULL(pages_map(SIZE_MAX & ~PAGE_MASK, (size_t)1 << 62));
}

HS_TEST_MAIN()

/* Whether [a, b) is covered by the registry, and no byte of it outside. */
static bool
registered(uintptr_t a, uintptr_t b, bool *r_any)
{
    static uintptr_t iv[1 << 14][2];
    bool complete, whole = false;
    size_t n = pages_ranges(iv, 1 << 14, &complete);
    *r_any = false;
    for (size_t i = 0; i < n; i++) {
        if (iv[i][0] < b && iv[i][1] > a)
            *r_any = true;
        if (iv[i][0] <= a && iv[i][1] >= b)
            whole = true;
        if (i > 0 && iv[i - 1][1] >= iv[i][0])
            return false; /* not sorted, disjoint and merged */
    }
    return complete && whole;
}

HS_TEST(registry_follows_maps_and_unmaps)
{
    bool any;
    unsigned char *p = pages_map(8 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(p);
    uintptr_t a = (uintptr_t)p;
    HS_EXPECT_TRUE(registered(a, a + 8 * PAGE, &any));
    /* A hole in the middle: both sides stay, the hole goes. */
    pages_unmap(p + 3 * PAGE, 2 * PAGE);
    HS_EXPECT_TRUE(registered(a, a + 3 * PAGE, &any));
    HS_EXPECT_TRUE(registered(a + 5 * PAGE, a + 8 * PAGE, &any));
    registered(a + 3 * PAGE, a + 5 * PAGE, &any);
    HS_EXPECT_FALSE(any);
    pages_unmap(p, 3 * PAGE);
    pages_unmap(p + 5 * PAGE, 3 * PAGE);
    registered(a, a + 8 * PAGE, &any);
    HS_EXPECT_FALSE(any);
    /* An aligned mapping: the trimmed excess is not registered. */
    unsigned char *q = pages_map(4 * PAGE, 64 * PAGE);
    HS_ASSERT_NOT_NULL(q);
    uintptr_t b = (uintptr_t)q;
    HS_EXPECT_TRUE(registered(b, b + 4 * PAGE, &any));
    registered(b + 4 * PAGE, b + 64 * PAGE, &any);
    HS_EXPECT_FALSE(any);
    pages_unmap(q, 4 * PAGE);
    registered(b, b + 4 * PAGE, &any);
    HS_EXPECT_FALSE(any);
}
