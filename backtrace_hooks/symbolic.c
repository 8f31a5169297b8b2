/*
 * symbolic.c — the symbolic-frame table (see symbolic.h for the memory,
 * locking and publication rules).
 *
 * Layout.  Entries live in chunks that never move: chunk k holds
 * SYM_CHUNK0 << k entries, so entry index i (>= 1) sits in chunk
 * lg(j) - lg(SYM_CHUNK0) at offset j - 2^lg(j), where j = i - 1 +
 * SYM_CHUNK0.  SYM_NCHUNKS chunks hold 2^32 - SYM_CHUNK0 entries.  The
 * hash table is open addressing with linear probing over 32-bit entry
 * indices; it doubles (into a new table, published with one store) before
 * it gets more than half full.  Strings are copied into 64 KiB pool blocks
 * (a long string gets its own block).
 */
#include "symbolic.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "../alloc/boot.h"
#include "../alloc/extent/base.h"
#include "../alloc/util/mutex.h"
#include "../alloc/util/util.h"

enum {
    SYM_LG_CHUNK0 = 6,
    SYM_CHUNK0 = 1 << SYM_LG_CHUNK0,
    SYM_NCHUNKS = 32 - SYM_LG_CHUNK0,
    SYM_TABLE0 = 1024,
    SYM_POOL_BLOCK = 64 << 10,
};
static const uint32_t sym_max_index = UINT32_MAX - SYM_CHUNK0;

typedef struct sym_entry_s {
    const char *function;
    const char *file; /* NULL when the frame has none */
    uint64_t hash;
    unsigned line;
} sym_entry_t;

typedef struct sym_table_s {
    uint32_t mask;             /* capacity - 1; constant */
    _Atomic(uint32_t) slots[]; /* atomic: 0 or an entry index */
} sym_table_t;

static struct {
    hs_mutex_t mtx;
    _Atomic(uint32_t) count;                    /* atomic; written under mtx */
    _Atomic(sym_table_t *) table;               /* atomic; written under mtx */
    _Atomic(sym_entry_t *) chunks[SYM_NCHUNKS]; /* atomic; written under mtx */
    char *pool;                                 /* guarded by mtx */
    size_t pool_left;                           /* guarded by mtx */
} sym;

static pthread_once_t sym_once = PTHREAD_ONCE_INIT;

/* ---- hashing and addressing ---- */

static uint64_t
sym_hash_bytes(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return (h ^ 0xff) * 0x100000001b3u; /* terminator: "ab","c" != "a","bc" */
}

static uint64_t
sym_hash(const char *function, const char *file, unsigned line)
{
    uint64_t h = sym_hash_bytes(0xcbf29ce484222325u, function);
    h = file != NULL ? sym_hash_bytes(h, file) : h * 31 + 1;
    h ^= line;
    /* splitmix64's finalizer: the table uses the low bits. */
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9u;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebu;
    return h ^ (h >> 31);
}

static unsigned
sym_chunk_of(uint32_t i, size_t *r_offset)
{
    uint64_t j = (uint64_t)i - 1 + SYM_CHUNK0;
    unsigned lg = lg_floor(j);
    *r_offset = j - ((uint64_t)1 << lg);
    return lg - SYM_LG_CHUNK0;
}

static const sym_entry_t *
sym_entry(uint32_t i)
{
    size_t off;
    unsigned k = sym_chunk_of(i, &off);
    return atomic_load_explicit(&sym.chunks[k], memory_order_acquire) + off;
}

static bool
sym_str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool
sym_entry_is(const sym_entry_t *e, uint64_t h, const char *function,
             const char *file, unsigned line)
{
    return e->hash == h && e->line == line && sym_str_eq(e->file, file) &&
           strcmp(e->function, function) == 0;
}

/* The triple's index in table t, or 0. */
static uint32_t
sym_find(const sym_table_t *t, uint64_t h, const char *function,
         const char *file, unsigned line)
{
    if (t == NULL)
        return 0;
    for (uint32_t s = (uint32_t)h & t->mask;; s = (s + 1) & t->mask) {
        uint32_t i = atomic_load_explicit(&t->slots[s], memory_order_acquire);
        if (i == 0 || sym_entry_is(sym_entry(i), h, function, file, line))
            return i;
    }
}

static hs_frame_t
sym_frame(uint32_t i)
{
    return HS_FRAME_SYMBOLIC_BIT | (hs_frame_t)i;
}

/* ---- inserting (under sym.mtx) ---- */

static void
sym_init(void)
{
    hs_mutex_init(&sym.mtx, HS_RANK_BT);
}

static void
sym_slot_put(sym_table_t *t, uint64_t h, uint32_t i)
{
    uint32_t s = (uint32_t)h & t->mask;
    while (atomic_load_explicit(&t->slots[s], memory_order_relaxed) != 0)
        s = (s + 1) & t->mask;
    atomic_store_explicit(&t->slots[s], i, memory_order_release);
}

/* A table with room for one more entry: the current one or its double. */
static sym_table_t *
sym_table_reserve(uint32_t count)
{
    sym_table_t *t = atomic_load_explicit(&sym.table, memory_order_relaxed);
    size_t cap = t != NULL ? (size_t)t->mask + 1 : 0;
    if ((size_t)(count + 1) * 2 <= cap)
        return t;
    size_t ncap = cap != 0 ? cap * 2 : SYM_TABLE0;
    sym_table_t *n = base_alloc(sizeof(*n) + ncap * sizeof(n->slots[0]), 64);
    if (n == NULL)
        return NULL;
    n->mask = (uint32_t)(ncap - 1);
    for (uint32_t i = 1; i <= count; i++)
        sym_slot_put(n, sym_entry(i)->hash, i);
    atomic_store_explicit(&sym.table, n, memory_order_release);
    return n;
}

/* The entry for index i, creating its chunk if needed. */
static sym_entry_t *
sym_entry_reserve(uint32_t i)
{
    size_t off;
    unsigned k = sym_chunk_of(i, &off);
    sym_entry_t *c = atomic_load_explicit(&sym.chunks[k], memory_order_relaxed);
    if (c == NULL) {
        c = base_alloc(((size_t)SYM_CHUNK0 << k) * sizeof(*c), 64);
        if (c == NULL)
            return NULL;
        atomic_store_explicit(&sym.chunks[k], c, memory_order_release);
    }
    return c + off;
}

/* len bytes from the current pool block, or from a new one. */
static char *
sym_pool_take(size_t len)
{
    if (sym.pool_left < len) {
        char *block = base_alloc(SYM_POOL_BLOCK, 16);
        if (block == NULL)
            return NULL;
        sym.pool = block;
        sym.pool_left = SYM_POOL_BLOCK;
    }
    char *p = sym.pool;
    sym.pool += len;
    sym.pool_left -= len;
    return p;
}

static const char *
sym_copy(const char *s)
{
    size_t len = strlen(s) + 1;
    char *p =
        len > SYM_POOL_BLOCK / 4 ? base_alloc(len, 16) : sym_pool_take(len);
    if (p != NULL)
        memcpy(p, s, len);
    return p;
}

/* Fills entry e with copies of the triple; false on OOM. */
static bool
sym_entry_fill(sym_entry_t *e, uint64_t h, const char *function,
               const char *file, unsigned line)
{
    e->function = sym_copy(function);
    e->file = file != NULL ? sym_copy(file) : NULL;
    e->hash = h;
    e->line = line;
    return e->function != NULL && (file == NULL || e->file != NULL);
}

static uint32_t
sym_insert(uint64_t h, const char *function, const char *file, unsigned line)
{
    uint32_t count = atomic_load_explicit(&sym.count, memory_order_relaxed);
    if (count >= sym_max_index)
        return 0;
    sym_table_t *t = sym_table_reserve(count);
    sym_entry_t *e = t != NULL ? sym_entry_reserve(count + 1) : NULL;
    if (e == NULL || !sym_entry_fill(e, h, function, file, line))
        return 0;
    atomic_store_explicit(&sym.count, count + 1, memory_order_release);
    sym_slot_put(t, h, count + 1);
    return count + 1;
}

static hs_frame_t
sym_intern_slow(uint64_t h, const char *function, const char *file,
                unsigned line)
{
    /* Boot first: booting takes allocator locks of any rank. */
    if (!hs_boot())
        return 0;
    pthread_once(&sym_once, sym_init);
    hs_mutex_lock(&sym.mtx);
    const sym_table_t *t =
        atomic_load_explicit(&sym.table, memory_order_relaxed);
    uint32_t i = sym_find(t, h, function, file, line);
    if (i == 0)
        i = sym_insert(h, function, file, line);
    hs_mutex_unlock(&sym.mtx);
    return i != 0 ? sym_frame(i) : 0;
}

/* ---- the interface ---- */

HS_API hs_frame_t
hs_frame_symbolic(const char *function, const char *file, unsigned line)
{
    if (function == NULL)
        return 0;
    uint64_t h = sym_hash(function, file, line);
    uint32_t i =
        sym_find(atomic_load_explicit(&sym.table, memory_order_acquire), h,
                 function, file, line);
    if (i != 0)
        return sym_frame(i);
    return sym_intern_slow(h, function, file, line);
}

bool
bt_symbolic_lookup(hs_frame_t f, const char **r_function, const char **r_file,
                   unsigned *r_line)
{
    hs_frame_t i = f & ~HS_FRAME_SYMBOLIC_BIT;
    if (!hs_frame_is_symbolic(f) || i == 0 ||
        i > atomic_load_explicit(&sym.count, memory_order_acquire))
        return false;
    const sym_entry_t *e = sym_entry((uint32_t)i);
    if (r_function != NULL)
        *r_function = e->function;
    if (r_file != NULL)
        *r_file = e->file;
    if (r_line != NULL)
        *r_line = e->line;
    return true;
}

unsigned
bt_symbolic_count(void)
{
    return atomic_load_explicit(&sym.count, memory_order_acquire);
}
