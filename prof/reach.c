/*
 * reach.c — the reachability scan at exit (see reach.h).
 *
 * Roots are read through process_vm_readv, the heap in place under a
 * fault guard (see "the heap, read in place" below).
 *
 * Tables, all in pages_map memory, grown by doubling into a new mapping:
 *   marks  an open-addressing set of the marked blocks' starts (0 is
 *          never a block start), kept under half full;
 *   work   a stack of (start, size) of marked blocks not yet scanned;
 *   heap   a copy of the allocator's registry of mappings, sorted: a word
 *          outside it is no pointer into the heap, decided by a binary
 *          search before the extent map is read.
 * Invariant: every block in marks has been pushed on work exactly once.
 */
#include "reach.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../alloc/blocks.h"
#include "../alloc/os/pages.h"
#include "../alloc/util/clock.h"
#include "../alloc/util/util.h"
#include "site.h"

#define REACH_CHUNK (64 * 1024) /* bytes read at a time */
#define REACH_MAPS_MAX (16u << 20)

typedef struct reach_block_s {
    uintptr_t start;
    size_t size;
} reach_block_t;

typedef struct reach_s {
    uintptr_t *marks;
    size_t nmarks, cap_marks; /* cap: a power of two */
    reach_block_t *work;
    size_t nwork, cap_work;
    uintptr_t (*heap)[2];
    size_t nheap, cap_heap;
    unsigned char *buf; /* REACH_CHUNK */
    pid_t pid;
    bool oom;
    reach_stats_t st;
} reach_t;

/* ---- memory of its own ------------------------------------------------ */

static void *
reach_map(size_t bytes)
{
    return pages_map(align_up(bytes, PAGE), PAGE);
}

static void
reach_unmap(void *p, size_t bytes)
{
    if (p != NULL)
        pages_unmap(p, align_up(bytes, PAGE));
}

static uint64_t
reach_hash(uintptr_t a)
{
    uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* Adds start to the set; true if it was not there. */
static bool reach_mark(reach_t *r, uintptr_t start);

static bool
reach_grow_marks(reach_t *r)
{
    size_t cap = r->cap_marks * 2;
    uintptr_t *old = r->marks, *m = reach_map(cap * sizeof(*m));
    if (m == NULL)
        return false;
    size_t oldcap = r->cap_marks;
    r->marks = m;
    r->cap_marks = cap;
    r->nmarks = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i] != 0)
            reach_mark(r, old[i]);
    reach_unmap(old, oldcap * sizeof(*old));
    return true;
}

static bool
reach_mark(reach_t *r, uintptr_t start)
{
    if (r->nmarks * 2 >= r->cap_marks && !reach_grow_marks(r)) {
        r->oom = true;
        return false;
    }
    size_t mask = r->cap_marks - 1;
    for (size_t i = reach_hash(start) & mask;; i = (i + 1) & mask) {
        if (r->marks[i] == start)
            return false;
        if (r->marks[i] == 0) {
            r->marks[i] = start;
            r->nmarks++;
            return true;
        }
    }
}

static void
reach_push(reach_t *r, uintptr_t start, size_t size)
{
    if (r->nwork == r->cap_work) {
        size_t cap = r->cap_work * 2;
        reach_block_t *w = reach_map(cap * sizeof(*w));
        if (w == NULL) {
            r->oom = true;
            return;
        }
        memcpy(w, r->work, r->nwork * sizeof(*w));
        reach_unmap(r->work, r->cap_work * sizeof(*w));
        r->work = w;
        r->cap_work = cap;
    }
    r->work[r->nwork++] = (reach_block_t){start, size};
}

/* ---- marking ---------------------------------------------------------- */

/* True if a lies in one of the allocator's mappings. */
static bool
reach_in_heap(const reach_t *r, uintptr_t a)
{
    size_t lo = 0, hi = r->nheap;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->heap[mid][1] <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nheap && r->heap[lo][0] <= a;
}

/* A word that may point into the heap. */
static void
reach_word(reach_t *r, uintptr_t v)
{
    uintptr_t start;
    size_t size;
    void *rec;
    if (v < PAGE || !reach_in_heap(r, v) ||
        !blocks_find(v, &start, &size, &rec) || !reach_mark(r, start))
        return;
    r->st.blocks++;
    reach_push(r, start, size);
    if (rec != NULL) {
        r->st.sampled++;
        site_reach_mark(rec);
    }
}

/* Scans the words of [a, b), read safely (process_vm_readv). */
static void
reach_range(reach_t *r, uintptr_t a, uintptr_t b, uint64_t *r_bytes)
{
    a = align_up(a, sizeof(uintptr_t));
    while (a < b && !r->oom) {
        size_t len = b - a < REACH_CHUNK ? (size_t)(b - a) : REACH_CHUNK;
        struct iovec local = {r->buf, len}, remote = {(void *)a, len};
        ssize_t got = process_vm_readv(r->pid, &local, 1, &remote, 1, 0);
        if (got <= 0) { /* unmapped meanwhile, or unreadable: skip a page */
            a = align_up(a + 1, PAGE);
            continue;
        }
        const uintptr_t *w = (const uintptr_t *)r->buf;
        for (size_t i = 0; i < (size_t)got / sizeof(*w); i++)
            reach_word(r, w[i]);
        *r_bytes += (uint64_t)got;
        a += (uintptr_t)got;
    }
}

/* Scans [a, b) less the allocator's own mappings. */
static void
reach_root(reach_t *r, uintptr_t a, uintptr_t b)
{
    for (size_t i = 0; i < r->nheap && a < b; i++) {
        uintptr_t hs = r->heap[i][0], he = r->heap[i][1];
        if (he <= a || hs >= b)
            continue;
        if (hs > a)
            reach_range(r, a, hs, &r->st.root_bytes);
        a = he;
    }
    if (a < b)
        reach_range(r, a, b, &r->st.root_bytes);
}

/* ---- the heap, read in place ------------------------------------------
 *
 * Blocks are read directly, not through process_vm_readv: a heap of small
 * linked objects would cost a system call per object (a 1 GiB list of
 * 64-byte blocks: over a minute).  A block is live when it is marked, but
 * another thread may still free it and its pages be unmapped during the
 * scan; so while the scan reads the heap, SIGSEGV and SIGBUS of the
 * scanning thread jump back to reach_drain, which skips the block.  A
 * fault of any other thread gets the action it had before the scan
 * (restored, then the faulting instruction runs again). */
static sigjmp_buf reach_jmp;
static _Atomic(pid_t) reach_tid;
static struct sigaction reach_old_segv, reach_old_bus;

static void
reach_fault(int sig, siginfo_t *si, void *uc)
{
    (void)si, (void)uc;
    if (atomic_load(&reach_tid) == gettid())
        siglongjmp(reach_jmp, 1);
    sigaction(sig, sig == SIGSEGV ? &reach_old_segv : &reach_old_bus, NULL);
}

static void
reach_guard(bool on)
{
    if (!on) {
        atomic_store(&reach_tid, 0);
        sigaction(SIGSEGV, &reach_old_segv, NULL);
        sigaction(SIGBUS, &reach_old_bus, NULL);
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = reach_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    atomic_store(&reach_tid, gettid());
    sigaction(SIGSEGV, &sa, &reach_old_segv);
    sigaction(SIGBUS, &sa, &reach_old_bus);
}

/* Scans every marked block until none is left. */
static void
reach_drain(reach_t *r)
{
    reach_guard(true);
    if (sigsetjmp(reach_jmp, 0) != 0)
        r->st.faults++; /* the block being read went away: skipped */
    while (r->nwork > 0 && !r->oom) {
        reach_block_t blk = r->work[--r->nwork];
        const volatile uintptr_t *w = (const volatile uintptr_t *)blk.start;
        for (size_t k = 0; k < blk.size / sizeof(*w); k++)
            reach_word(r, w[k]);
        r->st.heap_bytes += blk.size;
    }
    reach_guard(false);
}

/* ---- the roots -------------------------------------------------------- */

static bool
reach_hex(const char **p, uintptr_t *r_v)
{
    uintptr_t v = 0;
    const char *s = *p;
    for (; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'); s++)
        v = v * 16 + (uintptr_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
    if (s == *p)
        return false;
    *p = s;
    *r_v = v;
    return true;
}

/* Kernel pseudo-mappings that are no program memory. */
static bool
reach_pseudo(const char *line)
{
    return strstr(line, "[vvar") != NULL || strstr(line, "[vdso]") != NULL ||
           strstr(line, "[vsyscall]") != NULL;
}

/* One line of the maps file: a root when readable and writable.  The
 * mapping that holds sp (this thread's stack) is scanned from sp up. */
static void
reach_maps_line(reach_t *r, const char *line, uintptr_t sp)
{
    uintptr_t start, end;
    const char *p = line;
    if (!reach_hex(&p, &start) || *p++ != '-' || !reach_hex(&p, &end) ||
        *p++ != ' ' || p[0] != 'r' || p[1] != 'w' || reach_pseudo(line))
        return;
    if (start <= sp && sp < end)
        start = sp & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    reach_root(r, start, end);
}

/* Reads /proc/self/maps into m (its size cap); the length, or 0. */
static size_t
reach_read_maps(char *m, size_t cap)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (fd < 0)
        return 0;
    for (ssize_t got; n + 1 < cap && (got = read(fd, m + n, cap - 1 - n)) > 0;)
        n += (size_t)got;
    close(fd);
    m[n] = '\0';
    return n + 1 < cap ? n : 0; /* a file cut short is no list of roots */
}

/* The address of this frame: below every caller's spilled registers. */
static __attribute__((noinline)) uintptr_t
reach_sp(void)
{
    return (uintptr_t)__builtin_frame_address(0);
}

static int
reach_roots(reach_t *r)
{
    size_t cap = REACH_MAPS_MAX;
    char *maps = reach_map(cap);
    if (maps == NULL)
        return ENOMEM;
    size_t n = reach_read_maps(maps, cap);
    /* The callee-saved registers, on this thread's stack from here up. */
    __builtin_unwind_init();
    uintptr_t sp = reach_sp();
    for (char *line = maps; n > 0 && line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        reach_maps_line(r, line, sp);
        line = nl != NULL ? nl + 1 : NULL;
    }
    reach_unmap(maps, cap);
    return n == 0 ? EIO : 0;
}

/* ---- the scan --------------------------------------------------------- */

static int
reach_setup(reach_t *r)
{
    r->pid = getpid();
    r->cap_marks = 1 << 16;
    r->cap_work = 1 << 12;
    r->marks = reach_map(r->cap_marks * sizeof(*r->marks));
    r->work = reach_map(r->cap_work * sizeof(*r->work));
    r->buf = reach_map(REACH_CHUNK);
    if (r->marks == NULL || r->work == NULL || r->buf == NULL)
        return ENOMEM;
    /* The registry, copied after this scan's own tables are mapped (so
     * they are in it): grown until it fits. */
    for (r->cap_heap = 1024;; r->cap_heap *= 4) {
        bool complete;
        r->heap = reach_map(r->cap_heap * sizeof(*r->heap));
        if (r->heap == NULL)
            return ENOMEM;
        r->nheap = pages_ranges(r->heap, r->cap_heap, &complete);
        if (complete)
            return 0;
        reach_unmap(r->heap, r->cap_heap * sizeof(*r->heap));
        r->heap = NULL;
        if (r->nheap < r->cap_heap)
            return ERANGE; /* records were lost, not room */
    }
}

static void
reach_teardown(reach_t *r)
{
    reach_unmap(r->marks, r->cap_marks * sizeof(*r->marks));
    reach_unmap(r->work, r->cap_work * sizeof(*r->work));
    reach_unmap(r->buf, REACH_CHUNK);
    reach_unmap(r->heap, r->cap_heap * sizeof(*r->heap));
}

int
reach_scan(reach_stats_t *r_stats)
{
    int64_t t0 = hs_monotonic_ns();
    reach_t r = {0};
    int err = reach_setup(&r);
    if (err == 0) {
        site_reach_begin();
        err = reach_roots(&r);
        reach_drain(&r);
        if (err == 0 && r.oom)
            err = ENOMEM;
        if (err == 0)
            site_reach_done();
    }
    reach_teardown(&r);
    r.st.seconds = (double)(hs_monotonic_ns() - t0) * 1e-9;
    if (r_stats != NULL)
        *r_stats = r.st;
    return err;
}
