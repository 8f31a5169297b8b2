/*
 * alloc_fuzz.c — libFuzzer target for the allocation API: the input is a
 * program of operations on a table of NSLOTS blocks, run against
 * heapsight itself (libheapsight.so is the fuzz binary's malloc; the
 * target is built without AddressSanitizer, whose allocator would
 * replace it, and checks at start-up that malloc is heapsight's).
 *
 * Operations: malloc, calloc, realloc (grow, shrink, to 0 — which frees
 * here, and from NULL), reallocarray, free, free_sized,
 * free_aligned_sized, posix_memalign, aligned_alloc, memalign (a
 * non-power-of-two alignment too), valloc, pvalloc, hs_mallocx,
 * hs_rallocx, hs_dallocx, hs_sdallocx with HS_MALLOCX_ZERO, ALIGN (up to
 * 64 KiB), TCACHE_NONE, GUARDED and ARENA (an automatic arena, or a manual
 * one made with arenas.create, which an operation resets), a claim of
 * the whole malloc_usable_size, control operations (thread.tcache.flush,
 * arena purge and decay, epoch, thread.arena), and the failure paths
 * (sizes that cannot be served, invalid alignments, overflowing
 * products).  Sizes run from 0 to 4 MiB, mostly small, with size-class
 * edges; the live total is kept under LIVE_CAP.
 *
 * Checks (any failure prints one line naming the operation and aborts):
 *   - a new or moved block overlaps no other live block;
 *   - every live block carries a pattern derived from its slot and
 *     generation over the bytes it owns (the size asked for, or the
 *     usable size once claimed), verified before every free and realloc,
 *     after a reset of the manual arena and after purges (all blocks);
 *   - realloc and hs_rallocx keep the min(old, new) prefix, and
 *     hs_rallocx with ZERO zero-fills from the old usable size on;
 *   - calloc and ZERO blocks are zero; results are 16-byte aligned and
 *     aligned as asked; malloc_usable_size == hs_sallocx >= the size
 *     asked for, and == hs_nallocx of the same request;
 *   - a failing call returns NULL (or its error code) with the right
 *     errno and leaves the old block intact.
 * At the end of each input every block is verified and freed.  Sized
 * frees pass the size (and alignment) asked for: a mismatch is a misuse
 * report from heapsight, which aborts.
 *
 * Input format: a sequence of operations, each an opcode byte (an index
 * into ops[] mod 32), a slot byte and the operation's argument bytes (a
 * size is 3 bytes: a range selector and 16 bits); a missing byte reads as
 * 0.  gen_alloc_corpus.py writes the seed corpus in this format.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapsight.h"

/* C23 sized frees: exported by heapsight, not declared by glibc 2.36. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

#define NSLOTS 64
#define LIVE_CAP ((size_t)16 << 20)
#define PAGE_SIZE ((size_t)4096)

typedef struct slot_s {
    unsigned char *p; /* NULL: empty */
    size_t req;       /* size asked for: what a sized free passes */
    size_t len;       /* bytes carrying the pattern (req, or claimed) */
    size_t align;     /* alignment asked for (<= 16: none) */
    uint64_t seed;
    bool manual; /* in the manual arena (its reset frees it) */
} slot_t;

typedef struct in_s {
    const uint8_t *p;
    size_t n;
} in_t;

static slot_t slots[NSLOTS];
static size_t live_bytes;     /* sum of len over the live slots */
static uint64_t generation;   /* per input: the seeds' second half */
static size_t op_index;       /* per input, for the messages */
static const char *op_name;   /* the operation running */
static unsigned narenas_auto; /* arenas.narenas before the manual one */
static unsigned manual_arena; /* UINT32_MAX: none */
static unsigned home_arena;   /* thread.arena at start-up */
static unsigned op_code;      /* the opcode running (its ops[] index) */
/* Extra coverage for libFuzzer: the allocator is not instrumented, so the
 * target counts (operation, usable-size order, moved) itself. */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t
    extra_counters[32][64];
static volatile size_t huge_align = (size_t)1 << 63;
/* Called through pointers: their declarations promise (alloc_align) an
 * alignment that a non-power-of-two one is not, which UBSan would check. */
static void *(*volatile memalign_fn)(size_t, size_t) = memalign;
static void *(*volatile aligned_alloc_fn)(size_t, size_t) = aligned_alloc;

static void
fail(const char *what, int slot, const void *p)
{
    fprintf(stderr, "alloc_fuzz: op %zu (%s), slot %d, block %p: %s\n",
            op_index, op_name ? op_name : "-", slot, p, what);
    abort();
}

/* ---- input ---- */

static uint8_t
in_byte(in_t *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static unsigned
in_u16(in_t *in)
{
    unsigned lo = in_byte(in);
    return lo | (unsigned)in_byte(in) << 8;
}

/* 0..4 MiB: mostly small (9 in 16 at most 128 B), with the lookup-table
 * and small/large borders, power-of-two class edges (2^k - 2 .. 2^k + 2),
 * 3 in 32 up to 256 KiB, 1 in 32 up to 1 MiB and 1 in 32 up to 4 MiB. */
static size_t
in_size(in_t *in)
{
    uint8_t m = in_byte(in);
    size_t v = in_u16(in);
    switch (m & 15) {
    case 9:
    case 10:
        return v % 4097;
    case 11:
        return 4096 + v % 12289;
    case 12: {
        size_t b = (size_t)1 << (v % 23), d = (v >> 8) % 5;
        return b + d < 2 ? 0 : b + d - 2;
    }
    case 13:
        return v;
    case 14:
        return v * 4;
    case 15:
        return m & 16 ? v * 64 : v * 16;
    default:
        return v % 129;
    }
}

/* Flags for hs_mallocx / hs_rallocx; *r_align the alignment asked for
 * (0: none), *r_manual whether the manual arena was named. */
static int
in_flags(in_t *in, size_t *r_align, bool *r_manual)
{
    uint8_t b = in_byte(in), c = in_byte(in);
    int flags = 0;
    *r_align = 0;
    *r_manual = false;
    if (b & 1)
        flags |= HS_MALLOCX_ZERO;
    if (b & 2)
        flags |= HS_MALLOCX_TCACHE_NONE;
    if (b & 4)
        flags |= HS_MALLOCX_GUARDED;
    if (b & 8) {
        unsigned lg = c % 17;
        flags |= HS_MALLOCX_LG_ALIGN(lg);
        *r_align = lg == 0 ? 0 : (size_t)1 << lg;
    }
    if ((b & 0x30) == 0x10) {
        flags |= HS_MALLOCX_ARENA((c >> 5) % narenas_auto);
    } else if ((b & 0x30) == 0x20 && manual_arena != UINT32_MAX) {
        flags |= HS_MALLOCX_ARENA(manual_arena);
        *r_manual = true;
    }
    return flags;
}

/* ---- the content pattern ---- */

/* The pattern loops touch every byte of blocks of up to 4 MiB: they stay
 * out of the coverage instrumentation, which would trace every compare
 * and be the whole cost (noinline too: the instrumentation is added after
 * inlining), and compare words directly rather than through memcmp,
 * which libFuzzer intercepts. */
#define NO_COVERAGE __attribute__((noinline, no_sanitize("coverage")))

#define PAT_STEP UINT64_C(0x9e3779b97f4a7c15)

/* The pattern's word at byte offset off (a multiple of 8, or the word
 * holding off). */
static inline uint64_t
pat_word(uint64_t seed, size_t off)
{
    return seed + (uint64_t)(off >> 3) * PAT_STEP;
}

static inline uint8_t
pat_byte(uint64_t seed, size_t off)
{
    return (uint8_t)(pat_word(seed, off) >> ((off & 7) * 8));
}

/* Blocks are 16-byte aligned (checked first), so offset 8k is a word. */
NO_COVERAGE static void
pat_fill(unsigned char *p, size_t from, size_t to, uint64_t seed)
{
    size_t i = from;
    for (; i < to && (i & 7) != 0; i++)
        p[i] = pat_byte(seed, i);
    uint64_t w = pat_word(seed, i);
    for (; i + 8 <= to; i += 8, w += PAT_STEP)
        *(uint64_t *)(void *)(p + i) = w;
    for (; i < to; i++)
        p[i] = pat_byte(seed, i);
}

/* The first offset in [0, n) where p differs from seed's pattern; n if
 * none. */
NO_COVERAGE static size_t
pat_mismatch(const unsigned char *p, size_t n, uint64_t seed)
{
    size_t i = 0;
    uint64_t w = seed;
    for (; i + 8 <= n; i += 8, w += PAT_STEP)
        if (*(const uint64_t *)(const void *)(p + i) != w)
            break;
    for (; i < n; i++)
        if (p[i] != pat_byte(seed, i))
            return i;
    return n;
}

/* The first non-zero offset in [from, to); to if none. */
NO_COVERAGE static size_t
nonzero_at(const unsigned char *p, size_t from, size_t to)
{
    size_t i = from;
    while (i < to && p[i] == 0)
        i++;
    return i;
}

/* Verifies bytes [0, n) of slot s's block against seed. */
static void
pat_check(int s, const unsigned char *p, size_t n, uint64_t seed)
{
    size_t i = pat_mismatch(p, n, seed);
    if (i < n) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "content of %zu bytes corrupted at offset %zu "
                 "(expected 0x%02x, found 0x%02x)",
                 n, i, pat_byte(seed, i), p[i]);
        fail(msg, s, p);
    }
}

static void
zero_check(int s, const unsigned char *p, size_t from, size_t to)
{
    size_t i = nonzero_at(p, from, to);
    if (i < to) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "byte %zu of %zu is 0x%02x, not zero (ZERO/calloc)", i, to,
                 p[i]);
        fail(msg, s, p);
    }
}

static void
slot_verify(int s)
{
    slot_t *sl = &slots[s];
    if (sl->p != NULL)
        pat_check(s, sl->p, sl->len, sl->seed);
}

static void
verify_all(void)
{
    for (int s = 0; s < NSLOTS; s++)
        slot_verify(s);
}

/* ---- blocks ---- */

/* Checks a fresh (or resized) block of req bytes asked with align and
 * flags (hs_nallocx's view of the request). */
static void
check_block(int s, const unsigned char *p, size_t req, size_t align, int flags)
{
    if (p == NULL)
        fail("unexpected NULL", s, p);
    if ((uintptr_t)p % 16 != 0 || (align > 1 && (uintptr_t)p % align != 0))
        fail("misaligned", s, p);
    size_t us = malloc_usable_size((void *)p);
    if (us < req || us != hs_sallocx(p, 0))
        fail("usable size below the size asked for, or "
             "malloc_usable_size != hs_sallocx",
             s, p);
    /* No other live block may overlap it (the patterns would catch it
     * later; this names both blocks at once). */
    for (int i = 0; i < NSLOTS; i++) {
        const unsigned char *q = slots[i].p;
        if (i != s && q != NULL && p < q + slots[i].len && q < p + req)
            fail("overlaps the live block of another slot", s, p);
    }
    unsigned lg = us == 0 ? 0 : 63 - (unsigned)__builtin_clzl(us);
    extra_counters[op_code][lg < 31 ? 2 * lg + (p != slots[s].p) : 63]++;
    size_t n = hs_nallocx(req, flags & 0x3f);
    if (n != us) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "hs_nallocx(%zu, align %zu) = %zu but the block's usable "
                 "size is %zu",
                 req, align, n, us);
        fail(msg, s, p);
    }
}

/* Installs a fresh block of req bytes in empty slot s: checks it
 * (zero-filled when zero), then writes its pattern. */
static void
slot_set(int s, void *p, size_t req, size_t align, int flags, bool zero,
         bool manual)
{
    slot_t *sl = &slots[s];
    check_block(s, p, req, align, flags);
    if (zero)
        zero_check(s, p, 0, req);
    *sl = (slot_t){p, req, req, align, 0, manual};
    sl->seed =
        ((uint64_t)s << 40) ^ ++generation ^ UINT64_C(0x5851f42d4c957f2d);
    pat_fill(sl->p, 0, req, sl->seed);
    live_bytes += req;
}

/* Verifies slot s and forgets its block (the caller frees it). */
static void *
slot_take(int s)
{
    slot_t *sl = &slots[s];
    void *p = sl->p;
    slot_verify(s);
    live_bytes -= sl->len;
    sl->p = NULL;
    return p;
}

/* The size to ask for: size, or a small one when the live total would
 * pass LIVE_CAP. */
static size_t
capped(size_t size)
{
    return live_bytes + size > LIVE_CAP ? size % 4096 : size;
}

static void
release(int s)
{
    if (slots[s].p != NULL)
        free(slot_take(s));
}

/* ---- operations ---- */

typedef void op_fn(int s, in_t *in);

static void
op_malloc(int s, in_t *in)
{
    size_t size = capped(in_size(in));
    release(s);
    slot_set(s, malloc(size), size, 0, 0, false, false);
}

static void
op_calloc(int s, in_t *in)
{
    size_t n = 1 + in_byte(in) % 16;
    size_t m = capped(in_size(in)) / n;
    release(s);
    slot_set(s, calloc(n, m), n * m, 0, 0, true, false);
}

/* Resizes slot s's block (verified) to q, of req bytes: keeps the prefix,
 * fills the grown part, and zero-checks [zero_from, req) if asked. */
static void
slot_resized(int s, unsigned char *q, size_t req, size_t align, int flags,
             bool manual, size_t zero_from)
{
    slot_t *sl = &slots[s];
    size_t keep = sl->len < req ? sl->len : req;
    check_block(s, q, req, align, flags);
    if (zero_from < req)
        zero_check(s, q, zero_from, req);
    pat_check(s, q, keep, sl->seed);
    if (q != sl->p)
        sl->manual = manual; /* moved: now where flags say */
    pat_fill(q, keep, req, sl->seed);
    live_bytes += req - sl->len;
    sl->p = q;
    sl->req = sl->len = req;
    sl->align = align;
}

static void
op_realloc(int s, in_t *in)
{
    slot_t *sl = &slots[s];
    size_t size = capped(in_size(in));
    if (sl->p == NULL) {
        slot_set(s, realloc(NULL, size), size, 0, 0, false, false);
        return;
    }
    slot_verify(s);
    if (size == 0) {
        /* Frees here (as in glibc) and returns NULL. */
        live_bytes -= sl->len;
        void *q = realloc(sl->p, 0);
        sl->p = NULL;
        if (q != NULL)
            fail("realloc(p, 0) did not return NULL", s, q);
        return;
    }
    slot_resized(s, realloc(sl->p, size), size, 0, 0, false, SIZE_MAX);
}

static void
op_reallocarray(int s, in_t *in)
{
    slot_t *sl = &slots[s];
    size_t n = 1 + in_byte(in) % 8;
    size_t m = capped(in_size(in)) / n;
    if (sl->p == NULL || n * m == 0) {
        release(s);
        slot_set(s, reallocarray(NULL, n, m == 0 ? 1 : m), n * (m ? m : 1), 0,
                 0, false, false);
        return;
    }
    slot_verify(s);
    slot_resized(s, reallocarray(sl->p, n, m), n * m, 0, 0, false, SIZE_MAX);
}

static void
op_free(int s, in_t *in)
{
    (void)in;
    release(s);
}

/* A sized free of the size (and alignment) asked for, by one of
 * free_sized, free_aligned_sized, hs_sdallocx. */
static void
op_free_sized(int s, in_t *in)
{
    slot_t *sl = &slots[s];
    uint8_t b = in_byte(in);
    if (sl->p == NULL)
        return;
    size_t req = sl->req, align = sl->align;
    void *p = slot_take(s);
    int aflag = align > 1 ? HS_MALLOCX_ALIGN(align) : 0;
    if (b % 3 == 0 && align <= 1)
        free_sized(p, req);
    else if (b % 3 == 1 && align > 1)
        free_aligned_sized(p, align, req);
    else
        hs_sdallocx(p, req, aflag | (b & 4 ? HS_MALLOCX_TCACHE_NONE : 0));
}

/* An alignment 2^0 .. 2^16. */
static size_t
in_align(in_t *in)
{
    return (size_t)1 << (in_byte(in) % 17);
}

static void
op_posix_memalign(int s, in_t *in)
{
    size_t align = in_align(in), size = capped(in_size(in));
    release(s);
    void *p = (void *)&slots; /* must stay untouched on failure */
    int err = posix_memalign(&p, align, size);
    if (align < sizeof(void *)) {
        if (err != EINVAL || p != (void *)&slots)
            fail("posix_memalign: a small alignment not refused", s, p);
        return;
    }
    if (err != 0)
        fail("posix_memalign failed", s, NULL);
    slot_set(s, p, size, align, HS_MALLOCX_ALIGN(align), false, false);
}

static void
op_aligned_alloc(int s, in_t *in)
{
    size_t align = in_align(in), size = capped(in_size(in));
    bool bad = in_byte(in) % 8 == 0; /* 3 x 2^k: not a power of two */
    release(s);
    if (bad) {
        errno = 0;
        void *p = aligned_alloc_fn(align * 3, size);
        if (p != NULL || errno != EINVAL)
            fail("aligned_alloc: a non-power-of-two alignment accepted", s, p);
        return;
    }
    slot_set(s, aligned_alloc(align, size), size, align,
             HS_MALLOCX_ALIGN(align), false, false);
}

/* memalign rounds a non-power-of-two alignment up (glibc). */
static void
op_memalign(int s, in_t *in)
{
    size_t align = in_align(in), size = capped(in_size(in));
    size_t asked = in_byte(in) & 1 ? align - 1 : align;
    release(s);
    if (asked <= 1)
        align = 1;
    slot_set(s, memalign_fn(asked, size), size, align, HS_MALLOCX_ALIGN(align),
             false, false);
}

static void
op_valloc(int s, in_t *in)
{
    bool pv = in_byte(in) & 1;
    size_t size = capped(in_size(in));
    release(s);
    if (!pv) {
        slot_set(s, valloc(size), size, PAGE_SIZE, HS_MALLOCX_ALIGN(PAGE_SIZE),
                 false, false);
        return;
    }
    /* pvalloc rounds the size up to a page (0 to one page). */
    size_t rounded = size == 0 ? PAGE_SIZE : (size + 4095) & ~(size_t)4095;
    slot_set(s, pvalloc(size), rounded, PAGE_SIZE, HS_MALLOCX_ALIGN(PAGE_SIZE),
             false, false);
}

static void
op_mallocx(int s, in_t *in)
{
    size_t align;
    bool manual;
    int flags = in_flags(in, &align, &manual);
    size_t size = capped(in_size(in));
    release(s);
    slot_set(s, hs_mallocx(size, flags), size, align, flags,
             (flags & HS_MALLOCX_ZERO) != 0, manual);
}

static void
op_rallocx(int s, in_t *in)
{
    slot_t *sl = &slots[s];
    size_t align;
    bool manual;
    int flags = in_flags(in, &align, &manual);
    size_t size = capped(in_size(in));
    if (sl->p == NULL) {
        slot_set(s, hs_mallocx(size, flags), size, align, flags,
                 (flags & HS_MALLOCX_ZERO) != 0, manual);
        return;
    }
    slot_verify(s);
    size_t old_usable = hs_sallocx(sl->p, 0);
    unsigned char *q = hs_rallocx(sl->p, size, flags);
    slot_resized(s, q, size, align, flags, manual,
                 flags & HS_MALLOCX_ZERO ? old_usable : SIZE_MAX);
}

static void
op_dallocx(int s, in_t *in)
{
    uint8_t b = in_byte(in);
    if (slots[s].p != NULL)
        hs_dallocx(slot_take(s), b & 1 ? HS_MALLOCX_TCACHE_NONE : 0);
}

/* Claims the whole usable size (as programs that call malloc_usable_size
 * may): the pattern then covers it, and later checks cover it too. */
static void
op_usable(int s, in_t *in)
{
    slot_t *sl = &slots[s];
    uint8_t b = in_byte(in);
    if (sl->p == NULL)
        return;
    slot_verify(s);
    size_t us = malloc_usable_size(sl->p);
    if (us < sl->len || us != hs_sallocx(sl->p, 0))
        fail("usable size shrank, or malloc_usable_size != hs_sallocx", s,
             sl->p);
    if ((b & 1) && us - sl->len <= LIVE_CAP - live_bytes) {
        pat_fill(sl->p, sl->len, us, sl->seed);
        live_bytes += us - sl->len;
        sl->len = us;
    }
}

static void
op_check(int s, in_t *in)
{
    (void)in;
    slot_verify(s);
}

static void
ctl_or_fail(const char *name, void *oldp, size_t *oldlenp, void *newp,
            size_t newlen)
{
    int err = hs_ctl(name, oldp, oldlenp, newp, newlen);
    if (err != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "hs_ctl(\"%s\") failed: %d", name, err);
        fail(msg, -1, NULL);
    }
}

/* Control operations; after a purge every live block is verified. */
static void
op_ctl(int s, in_t *in)
{
    (void)s;
    uint8_t b = in_byte(in);
    switch (b % 6) {
    case 0:
        ctl_or_fail("thread.tcache.flush", NULL, NULL, NULL, 0);
        break;
    case 1:
        ctl_or_fail("arena.4096.purge", NULL, NULL, NULL, 0);
        verify_all();
        break;
    case 2:
        ctl_or_fail("arena.4096.decay", NULL, NULL, NULL, 0);
        verify_all();
        break;
    case 3: {
        uint64_t e = 1;
        size_t sz = sizeof(size_t), allocated;
        ctl_or_fail("epoch", NULL, NULL, &e, sizeof e);
        ctl_or_fail("stats.allocated", &allocated, &sz, NULL, 0);
        if (allocated < live_bytes)
            fail("stats.allocated below the live bytes", -1, NULL);
        break;
    }
    case 4: {
        unsigned ind = (unsigned)(b >> 3) % narenas_auto;
        ctl_or_fail("thread.arena", NULL, NULL, &ind, sizeof ind);
        break;
    }
    default:
        if (manual_arena != UINT32_MAX) {
            char name[48];
            snprintf(name, sizeof name, "arena.%u.purge", manual_arena);
            ctl_or_fail(name, NULL, NULL, NULL, 0);
            verify_all();
        }
        break;
    }
}

/* arena.<manual>.reset frees every block of the manual arena at once:
 * those slots are forgotten; every other block must be intact. */
static void
op_reset(int s, in_t *in)
{
    (void)s;
    (void)in;
    if (manual_arena == UINT32_MAX)
        return;
    for (int i = 0; i < NSLOTS; i++) {
        if (slots[i].p != NULL && slots[i].manual) {
            slot_verify(i);
            live_bytes -= slots[i].len;
            slots[i].p = NULL;
        }
    }
    char name[48];
    snprintf(name, sizeof name, "arena.%u.reset", manual_arena);
    ctl_or_fail(name, NULL, NULL, NULL, 0);
    verify_all();
}

/* Requests that must fail cleanly: NULL (or an error code) with errno
 * set, the old block (slot s, if any) untouched. */
static void
op_huge(int s, in_t *in)
{
    slot_t *sl = &slots[s];
    uint8_t b = in_byte(in);
    void *p = NULL;
    errno = 0;
    switch (b % 9) {
    case 0:
        p = malloc(SIZE_MAX - (b >> 4));
        break;
    case 1:
        p = calloc(SIZE_MAX / 2 + 1 + (b >> 4), 2);
        break;
    case 2:
        p = hs_mallocx((size_t)1 << (47 + (b >> 4) % 16), 0);
        break;
    case 3:
        p = hs_mallocx(SIZE_MAX - 4096 * (b >> 4), HS_MALLOCX_ALIGN(4096));
        break;
    case 4:
        p = memalign_fn(huge_align, 16);
        if (errno != EINVAL)
            fail("memalign(2^63) did not set EINVAL", s, p);
        break;
    case 5:
        p = pvalloc(SIZE_MAX - (b >> 4));
        break;
    case 6:
    case 7:
    case 8:
        if (sl->p == NULL)
            return;
        slot_verify(s);
        p = b % 9 == 6   ? realloc(sl->p, SIZE_MAX - (b >> 4))
            : b % 9 == 7 ? hs_rallocx(sl->p, SIZE_MAX / 2 + (b >> 4), 0)
                         : reallocarray(sl->p, SIZE_MAX / 4, 5);
        slot_verify(s);
        break;
    }
    if (p != NULL)
        fail("an impossible request succeeded", s, p);
    if (errno != ENOMEM && errno != EINVAL)
        fail("a failed request did not set errno", s, p);
    if (hs_nallocx(SIZE_MAX, 0) != 0)
        fail("hs_nallocx(SIZE_MAX) != 0", s, NULL);
}

typedef struct op_s {
    const char *name;
    op_fn *fn;
} op_t;

/* Indexed by the opcode byte mod 32 (gen_alloc_corpus.py has the same
 * table): the common operations take several entries. */
static const op_t ops[32] = {
    {"malloc", op_malloc},
    {"malloc", op_malloc},
    {"malloc", op_malloc},
    {"calloc", op_calloc},
    {"calloc", op_calloc},
    {"realloc", op_realloc},
    {"realloc", op_realloc},
    {"realloc", op_realloc},
    {"realloc", op_realloc},
    {"free", op_free},
    {"free", op_free},
    {"free", op_free},
    {"free_sized", op_free_sized},
    {"free_sized", op_free_sized},
    {"posix_memalign", op_posix_memalign},
    {"aligned_alloc", op_aligned_alloc},
    {"memalign", op_memalign},
    {"valloc", op_valloc},
    {"hs_mallocx", op_mallocx},
    {"hs_mallocx", op_mallocx},
    {"hs_mallocx", op_mallocx},
    {"hs_rallocx", op_rallocx},
    {"hs_rallocx", op_rallocx},
    {"hs_rallocx", op_rallocx},
    {"hs_dallocx", op_dallocx},
    {"usable", op_usable},
    {"usable", op_usable},
    {"check", op_check},
    {"ctl", op_ctl},
    {"huge", op_huge},
    {"reallocarray", op_reallocarray},
    {"reset", op_reset},
};

/* ---- the libFuzzer entry points ---- */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* malloc must be heapsight's: the symbol, and a block it knows. */
    Dl_info info;
    void *probe = malloc(100);
    if (dladdr((void *)&malloc, &info) == 0 || info.dli_fname == NULL ||
        strstr(info.dli_fname, "libheapsight") == NULL) {
        fprintf(stderr, "alloc_fuzz: malloc comes from %s, not heapsight\n",
                info.dli_fname ? info.dli_fname : "?");
        abort();
    }
    if (probe == NULL || hs_sallocx(probe, 0) < 100 ||
        malloc_usable_size(probe) != hs_sallocx(probe, 0)) {
        fprintf(stderr, "alloc_fuzz: heapsight does not know malloc's "
                        "blocks\n");
        abort();
    }
    free(probe);
    const char *version = NULL;
    size_t sz = sizeof version;
    ctl_or_fail("version", &version, &sz, NULL, 0);
    sz = sizeof narenas_auto;
    ctl_or_fail("arenas.narenas", &narenas_auto, &sz, NULL, 0);
    sz = sizeof home_arena;
    ctl_or_fail("thread.arena", &home_arena, &sz, NULL, 0);
    sz = sizeof manual_arena;
    if (hs_ctl("arenas.create", &manual_arena, &sz, NULL, 0) != 0)
        manual_arena = UINT32_MAX;
    const char *env = getenv("HEAPSIGHT");
    fprintf(stderr,
            "alloc_fuzz: malloc is heapsight %s (%s); HEAPSIGHT=%s; %u "
            "arenas, manual arena %d\n",
            version, info.dli_fname, env ? env : "(unset)", narenas_auto,
            (int)manual_arena);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_t in = {data, size};
    generation = 0;
    op_index = 0;
    ctl_or_fail("thread.arena", NULL, NULL, &home_arena, sizeof home_arena);
    while (in.n > 0) {
        op_code = in_byte(&in) % 32;
        const op_t *op = &ops[op_code];
        int s = in_byte(&in) % NSLOTS;
        op_name = op->name;
        op->fn(s, &in);
        op_index++;
    }
    op_name = "final free";
    for (int s = 0; s < NSLOTS; s++)
        release(s);
    if (live_bytes != 0)
        fail("live byte count not zero after freeing everything", -1, NULL);
    op_name = NULL;
    return 0;
}
