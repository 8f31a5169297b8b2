/*
 * check.c — canaries and junk (see check.h).
 */
#include "check.h"

#include <stdatomic.h>
#include <string.h>

#include "boot.h"
#include "extent/emap.h"
#include "front.h"
#include "large.h"
#include "opts.h"
#include "util/fmt.h"
#include "util/mutex.h"

bool check_canary;
bool check_junk_alloc;
bool check_junk_free;
bool check_any;

/* junk:free's quarantine: a ring of freed large blocks, oldest at head. */
typedef struct {
    void *p;
    size_t usize;
    edata_t *e;
} held_t;

static struct {
    hs_mutex_t mtx;
    held_t ring[CHECK_QUARANTINE_BLOCKS]; /* guarded by mtx, as below */
    unsigned head, n;
    size_t bytes;
} quarantine;

void
check_boot(void)
{
    hs_mutex_init(&quarantine.mtx, HS_RANK_QUARANTINE);
    check_canary = opt_canary;
    if (strcmp(opt_junk, "true") == 0) {
        check_junk_alloc = check_junk_free = true;
    } else if (strcmp(opt_junk, "alloc") == 0) {
        check_junk_alloc = true;
    } else if (strcmp(opt_junk, "free") == 0) {
        check_junk_free = true;
    } else if (strcmp(opt_junk, "false") != 0) {
        hs_warn("HEAPSIGHT: bad value \"%s\" for junk (ignored; expected "
                "true, false, alloc or free)",
                opt_junk);
    }
    check_any = check_canary || check_junk_alloc || check_junk_free;
    emap_slabs_uncached = check_any;
}

/* The tail's check word: the distance mixed with the address and key, so
 * an overflow writing any constant, or a copy of another block's tail,
 * does not pass. */
static uint32_t
tail_word(const void *p, uint32_t dist)
{
    uint64_t x = ((uint64_t)(uintptr_t)p ^ boot_free_mark_key) + dist;
    x *= 0x9e3779b97f4a7c15u;
    return (uint32_t)(x >> 32);
}

static size_t
fill_len(size_t n, size_t usize)
{
    size_t room = usize - CHECK_TAIL - n;
    return room < CHECK_FILL ? room : CHECK_FILL;
}

void
check_canary_write(void *p, size_t n, size_t usize)
{
    memset((char *)p + n, CHECK_CANARY_BYTE, fill_len(n, usize));
    uint32_t tail[2] = {(uint32_t)(usize - n), 0};
    tail[1] = tail_word(p, tail[0]);
    memcpy((char *)p + usize - CHECK_TAIL, tail, sizeof tail);
}

/* The distance from the size asked to the end, or 0 when the tail is not
 * intact. */
static size_t
tail_dist(const void *p, size_t usize)
{
    uint32_t tail[2];
    if (usize < CHECK_TAIL)
        return 0;
    memcpy(tail, (const char *)p + usize - CHECK_TAIL, sizeof tail);
    if (tail[0] < CHECK_TAIL || tail[0] > usize ||
        tail[1] != tail_word(p, tail[0]))
        return 0;
    return tail[0];
}

bool
check_canary_intact(const void *p, size_t usize, size_t *r_n, size_t *r_bad)
{
    size_t dist = tail_dist(p, usize);
    *r_bad = SIZE_MAX;
    if (dist == 0) {
        *r_n = SIZE_MAX;
        return false;
    }
    size_t n = usize - dist;
    *r_n = n;
    const unsigned char *c = (const unsigned char *)p + n;
    size_t len = fill_len(n, usize);
    for (size_t i = 0; i < len; i++) {
        if (c[i] != CHECK_CANARY_BYTE) {
            *r_bad = n + i;
            return false;
        }
    }
    return true;
}

size_t
check_canary_size(const void *p, size_t usize)
{
    size_t dist = tail_dist(p, usize);
    return dist == 0 ? usize - CHECK_TAIL : usize - dist;
}

static _Atomic(uint32_t) next_life = 1;

void
check_new_life(edata_t *e)
{
    e->junk_life =
        atomic_fetch_add_explicit(&next_life, 1, memory_order_relaxed);
}

/* The stamp of a junked block: its address, size and life, keyed. */
static uintptr_t
junk_stamp(const void *p, size_t usize, uint32_t life)
{
    return ((uintptr_t)p + usize + ((uintptr_t)life << 32)) *
               0x9e3779b97f4a7c15u ^
           boot_free_mark_key;
}

void
check_junk_on_free(void *p, size_t usize, uint32_t life)
{
    memset(p, CHECK_JUNK_FREE,
           usize < CHECK_JUNK_LARGE ? usize : CHECK_JUNK_LARGE);
    ((uintptr_t *)p)[0] = junk_stamp(p, usize, life);
}

/* The first byte of junked block p's first end bytes that is no longer
 * junk, or SIZE_MAX.  Words 0 and 1 hold the stamp and the free mark. */
static size_t
first_changed(const void *p, size_t end)
{
    const unsigned char *c = p;
    for (size_t i = 2 * sizeof(uintptr_t); i < end; i++)
        if (c[i] != CHECK_JUNK_FREE)
            return i;
    return SIZE_MAX;
}

void
check_junk_on_reuse(const char *fn, const void *p, size_t usize, uint32_t life)
{
    if (((const uintptr_t *)p)[0] != junk_stamp(p, usize, life))
        return;
    /* Only the stamp's page: another may have been reclaimed (zeros). */
    size_t on_page = PAGE - ((uintptr_t)p & PAGE_MASK);
    size_t bad = first_changed(p, usize < on_page ? usize : on_page);
    if (bad != SIZE_MAX)
        hs_misuse("%s(): write after free to the %zu-byte block at %p "
                  "(byte %zu changed)",
                  fn, usize, p, bad);
}

/* A block leaving the quarantine: still junk, then freed; a write after
 * free is reported and the block left as it is. */
static void
release_held(held_t h)
{
    size_t bad = first_changed(
        h.p, h.usize < CHECK_JUNK_LARGE ? h.usize : CHECK_JUNK_LARGE);
    if (bad != SIZE_MAX) {
        char note[STACK_NOTE_LEN];
        hs_misuse("free(): write after free to the %zu-byte block at %p "
                  "(byte %zu changed, seen when it left the quarantine)%s",
                  h.usize, h.p, bad,
                  stack_note(h.p, emap_lookup(h.p), note, sizeof note));
        return;
    }
    large_dalloc(h.e);
}

/* The oldest block in the quarantine, taken out; mtx held, n > 0. */
static held_t
pop_oldest(void)
{
    held_t h = quarantine.ring[quarantine.head];
    quarantine.head = (quarantine.head + 1) % CHECK_QUARANTINE_BLOCKS;
    quarantine.n--;
    quarantine.bytes -= h.usize;
    return h;
}

void
check_quarantine(void *p, size_t usize, edata_t *e)
{
    held_t out[CHECK_QUARANTINE_BLOCKS];
    unsigned nout = 0;
    hs_mutex_lock(&quarantine.mtx);
    while (quarantine.n > 0 &&
           (quarantine.n == CHECK_QUARANTINE_BLOCKS ||
            quarantine.bytes + usize > CHECK_QUARANTINE_BYTES))
        out[nout++] = pop_oldest();
    unsigned tail = (quarantine.head + quarantine.n) % CHECK_QUARANTINE_BLOCKS;
    quarantine.ring[tail] = (held_t){p, usize, e};
    quarantine.n++;
    quarantine.bytes += usize;
    hs_mutex_unlock(&quarantine.mtx);
    for (unsigned i = 0; i < nout; i++)
        release_held(out[i]);
}

void
check_quarantine_drain(void)
{
    for (;;) {
        hs_mutex_lock(&quarantine.mtx);
        if (quarantine.n == 0) {
            hs_mutex_unlock(&quarantine.mtx);
            return;
        }
        held_t h = pop_oldest();
        hs_mutex_unlock(&quarantine.mtx);
        release_held(h);
    }
}

HS_COLD void
check_fill(void *p, size_t size, size_t usize, bool zero)
{
    if (check_junk_free)
        check_junk_on_reuse("malloc", p, usize,
                            emap_entry_edata(emap_lookup(p))->junk_life);
    if (check_junk_alloc && !zero)
        memset(p, CHECK_JUNK_ALLOC, size);
    if (check_canary)
        check_canary_write(p, size, usize);
}
