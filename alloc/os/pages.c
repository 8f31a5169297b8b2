/*
 * pages.c — mmap/munmap/madvise wrappers (see pages.h).
 *
 * Aligned mappings over-map by (alignment - PAGE) and unmap the excess on
 * both sides, so nothing beyond the request stays reserved.
 */
#include "pages.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../util/util.h"

static void *
map_raw(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *
pages_map(size_t size, size_t alignment)
{
    hs_assert(size % PAGE == 0 && alignment >= PAGE && is_pow2(alignment));
    void *p = map_raw(size);
    if (p == NULL || ((uintptr_t)p & (alignment - 1)) == 0)
        return p;
    /* Misaligned: retry with room to trim. */
    pages_unmap(p, size);
    size_t over = size + alignment - PAGE;
    if (over < size)
        return NULL;
    p = map_raw(over);
    if (p == NULL)
        return NULL;
    uintptr_t start = (uintptr_t)p;
    uintptr_t aligned = align_up(start, alignment);
    size_t lead = aligned - start;
    size_t trail = over - lead - size;
    if (lead != 0)
        pages_unmap(p, lead);
    if (trail != 0)
        pages_unmap((void *)(aligned + size), trail);
    return (void *)aligned;
}

void
pages_unmap(void *addr, size_t size)
{
    munmap(addr, size);
}

bool
pages_purge_forced(void *addr, size_t size)
{
    return madvise(addr, size, MADV_DONTNEED) == 0;
}

bool
pages_purge_lazy(void *addr, size_t size)
{
#ifdef MADV_FREE
    return madvise(addr, size, MADV_FREE) == 0;
#else
    (void)addr;
    (void)size;
    return false;
#endif
}

bool
pages_guard(void *addr, size_t size)
{
    return mprotect(addr, size, PROT_NONE) == 0;
}

size_t
pages_max_map_count(void)
{
    size_t n = 0;
    char buf[32];
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
            n = n * 10 + (size_t)(buf[i] - '0');
    }
    return n != 0 ? n : 65530;
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

bool
pages_hugify(void *addr, size_t size, bool collapse)
{
    if (madvise(addr, size, MADV_HUGEPAGE) != 0)
        return false;
    if (collapse)
        (void)madvise(addr, size, MADV_COLLAPSE); /* best effort */
    return true;
}

bool
pages_dehugify(void *addr, size_t size)
{
    return madvise(addr, size, MADV_NOHUGEPAGE) == 0;
}
