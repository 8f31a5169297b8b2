/*
 * pages.c — mmap/munmap/madvise wrappers (see pages.h).
 *
 * Aligned mappings over-map by (alignment - PAGE) and unmap the excess on
 * both sides, so nothing beyond the request stays reserved.
 */
#include "pages.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../util/util.h"

/* ---- the registry of the allocator's mappings ----
 *
 * Disjoint intervals [start, end) sorted by start, adjacent ones merged,
 * in memory of its own (mmap'd, doubled when full); guarded by a spin
 * lock that is a leaf (nothing is called while it is held but mmap and
 * munmap of the registry's own array).  A failure to grow loses the
 * record, never the mapping: the registry then says it is incomplete. */
typedef struct pages_iv_s {
    uintptr_t start, end;
} pages_iv_t;

static struct {
    atomic_flag lock;
    pages_iv_t *iv;
    size_t n, cap;
    bool incomplete;
} reg = {.lock = ATOMIC_FLAG_INIT};

static void
reg_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&reg.lock, memory_order_acquire))
        ;
}

static void
reg_unlock(void)
{
    atomic_flag_clear_explicit(&reg.lock, memory_order_release);
}

/* Room for n + more intervals; false if it cannot grow. */
static bool
reg_reserve(size_t more)
{
    if (reg.n + more <= reg.cap)
        return true;
    size_t cap = reg.cap == 0 ? 256 : reg.cap * 2;
    void *p = mmap(NULL, cap * sizeof(pages_iv_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    if (reg.iv != NULL) {
        memcpy(p, reg.iv, reg.n * sizeof(pages_iv_t));
        munmap(reg.iv, reg.cap * sizeof(pages_iv_t));
    }
    reg.iv = p;
    reg.cap = cap;
    return true;
}

/* The first interval with end > a. */
static size_t
reg_find(uintptr_t a)
{
    size_t lo = 0, hi = reg.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (reg.iv[mid].end <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void
reg_add(uintptr_t start, uintptr_t end)
{
    reg_lock();
    if (!reg_reserve(1)) {
        reg.incomplete = true;
        reg_unlock();
        return;
    }
    size_t i = reg_find(start); /* mappings never overlap: insert at i */
    bool left = i > 0 && reg.iv[i - 1].end == start;
    bool right = i < reg.n && reg.iv[i].start == end;
    if (left && right) {
        reg.iv[i - 1].end = reg.iv[i].end;
        memmove(&reg.iv[i], &reg.iv[i + 1], (reg.n - i - 1) * sizeof(*reg.iv));
        reg.n--;
    } else if (left) {
        reg.iv[i - 1].end = end;
    } else if (right) {
        reg.iv[i].start = start;
    } else {
        memmove(&reg.iv[i + 1], &reg.iv[i], (reg.n - i) * sizeof(*reg.iv));
        reg.iv[i] = (pages_iv_t){start, end};
        reg.n++;
    }
    reg_unlock();
}

static void
reg_remove(uintptr_t start, uintptr_t end)
{
    reg_lock();
    for (size_t i = reg_find(start); i < reg.n && reg.iv[i].start < end;) {
        pages_iv_t *v = &reg.iv[i];
        if (v->start < start && v->end > end) { /* split in two */
            if (!reg_reserve(1)) {
                reg.incomplete = true;
                break;
            }
            v = &reg.iv[i];
            memmove(v + 1, v, (reg.n - i) * sizeof(*v));
            reg.n++;
            v[0].end = start;
            v[1].start = end;
            break;
        }
        if (v->start < start) {
            v->end = start;
            i++;
        } else if (v->end > end) {
            v->start = end;
            break;
        } else {
            memmove(v, v + 1, (reg.n - i - 1) * sizeof(*v));
            reg.n--;
        }
    }
    reg_unlock();
}

void
pages_prefork(void)
{
    reg_lock();
}

void
pages_postfork(void)
{
    reg_unlock();
}

size_t
pages_ranges(uintptr_t (*out)[2], size_t max, bool *r_complete)
{
    reg_lock();
    size_t n = reg.n < max ? reg.n : max;
    for (size_t i = 0; i < n; i++) {
        out[i][0] = reg.iv[i].start;
        out[i][1] = reg.iv[i].end;
    }
    *r_complete = !reg.incomplete && reg.n <= max;
    reg_unlock();
    return n;
}

static void *
map_raw(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    reg_add((uintptr_t)p, (uintptr_t)p + size);
    return p;
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
    if (munmap(addr, size) == 0)
        reg_remove((uintptr_t)addr, (uintptr_t)addr + size);
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
