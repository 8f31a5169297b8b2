/*
 * check.h — the debugging fills: canaries after blocks and junk in them.
 *
 * Owns: the `canary` and `junk` options' meaning and the byte layouts they
 * write.  Both are off by default and cost the default paths nothing: when
 * either is on, boot sends every allocation to the slow path (a thread
 * event due at every byte, thread_event.c) and marks every slab as not for
 * the free fast path (emap.h bit 5), so free goes through free_slow too.
 *
 * Canary (`canary:true`): a block of n bytes is served from the class of
 * n + CHECK_TAIL.  The last CHECK_TAIL bytes of the block hold the tail:
 * the distance from n to the block's end, and a check word mixing that
 * distance with the address and a random key.  Up to CHECK_FILL bytes
 * right after byte n hold CHECK_CANARY_BYTE.  free, realloc and sized
 * free verify both before touching the block: a write past byte n changes
 * a canary byte (a short overflow) or the tail (a longer one).  The usable
 * size reported is n: the slack is the allocator's.
 *
 * Junk (`junk:true|alloc|free|false`, as jemalloc): alloc fills a new
 * block's n bytes with CHECK_JUNK_ALLOC (not calloc's or a zeroed one's);
 * free fills a freed block with CHECK_JUNK_FREE (its first
 * CHECK_JUNK_LARGE bytes) and stamps its first word with a mark of its
 * address, size and the life of its memory.  When a stamped block is
 * handed out again for the same size in the same life (a region of the
 * same slab, a kept sampled page, a cached large block, a guarded extent:
 * those are only ever reused whole, for the same size), the bytes of it on
 * its first page must still be junk: anything else is a write after free.
 * A life starts when an extent becomes a slab or a large block
 * (check_new_life): a block freed in an earlier life, whose memory has
 * since held blocks of other sizes, is not checked.  (Only the stamp's
 * page: another page may have been reclaimed and read as zeros; a purged
 * stamp reads as zero too.  A zeroed request clears the stamp first and
 * is not checked.)
 * A freed large block that no thread cache keeps (larger than TCACHE_MAX,
 * or no cache) is not freed at once but held, junked and marked freed, in
 * a quarantine of CHECK_QUARANTINE_BLOCKS blocks and CHECK_QUARANTINE_BYTES
 * bytes, oldest first; the block that leaves to make room must still be
 * junk in its first CHECK_JUNK_LARGE bytes (it was never reused: all of
 * it is checked), else the write after free is reported, naming the block,
 * the first changed byte and, when the profiler sampled it, its stack.
 * Out of memory and a purge of every arena drain it (check_quarantine_drain).
 *
 * Locking: the quarantine's mutex (rank HS_RANK_QUARANTINE) around its
 * ring only; a block leaves it before it is verified and freed.
 * Otherwise read-only after boot.
 */
#ifndef HS_CHECK_H
#define HS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extent/edata.h"
#include "util/util.h"

#define CHECK_TAIL 8           /* bytes of the canary tail */
#define CHECK_FILL 64          /* canary bytes checked after the size asked */
#define CHECK_JUNK_LARGE 65536 /* bytes of a large block junked at free */
#define CHECK_CANARY_BYTE 0xcb
#define CHECK_JUNK_ALLOC 0xa5
#define CHECK_JUNK_FREE 0x5a
#define CHECK_QUARANTINE_BLOCKS 64
#define CHECK_QUARANTINE_BYTES ((size_t)64 << 20)

extern bool check_canary;     /* canary:true */
extern bool check_junk_alloc; /* junk:true or junk:alloc */
extern bool check_junk_free;  /* junk:true or junk:free */
extern bool check_any;        /* any of the three: the slow paths */

/* Reads the canary and junk options (warns about a bad junk value) and
 * routes the paths; at boot, before any allocation. */
void check_boot(void);

/* The size to serve for a request of n bytes: n + CHECK_TAIL with the
 * canary on, n otherwise; 0 on overflow. */
static inline size_t
check_padded(size_t n)
{
    if (!check_canary)
        return n;
    return n > SIZE_MAX - CHECK_TAIL ? 0 : n + CHECK_TAIL;
}

/* Writes the canary of a block of n bytes asked at p, usize usable. */
void check_canary_write(void *p, size_t n, size_t usize);

/* Whether the canary of block p (usize usable bytes) is intact.  *r_n is
 * the size asked (SIZE_MAX when the tail itself changed), *r_bad the first
 * changed canary byte's offset (SIZE_MAX if none). */
bool check_canary_intact(const void *p, size_t usize, size_t *r_n,
                         size_t *r_bad);

/* The size asked for p if its tail is intact, else usize - CHECK_TAIL;
 * never reports (malloc_usable_size). */
size_t check_canary_size(const void *p, size_t usize);

/* A new life for e's memory (a new slab, a new large block): stamps of
 * blocks freed in earlier lives no longer match (junk:free only). */
void check_new_life(edata_t *e);

/* Junk and the stamp for a freed block of usize bytes in life life. */
void check_junk_on_free(void *p, size_t usize, uint32_t life);

/* Verifies a block about to be handed out again for fn: if it bears its
 * stamp of this life, its junk must be intact (else a write after free,
 * reported). */
void check_junk_on_reuse(const char *fn, const void *p, size_t usize,
                         uint32_t life);

/* Puts freed large block p (usize usable, extent e; junked and marked
 * freed) in the quarantine; the blocks that leave it to make room are
 * verified and freed (large_dalloc).  Only while check_junk_free. */
void check_quarantine(void *p, size_t usize, edata_t *e);
/* Verifies and frees every block in the quarantine (out of memory). */
void check_quarantine_drain(void);

/* The checks on block p of size bytes asked (usize usable) about to be
 * handed out by an allocation, zeroed or not (zero): the junk of its last
 * life verified (junk:free), then its new junk (junk:alloc, unless zero)
 * and canary written.  Only while check_any. */
HS_COLD void check_fill(void *p, size_t size, size_t usize, bool zero);

#endif /* HS_CHECK_H */
