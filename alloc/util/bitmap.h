/*
 * bitmap.h — fixed-capacity bitmaps for slab regions.
 *
 * Owns: the representation of a set of up to BITMAP_MAXBITS region indices.
 * A set bit means "region free".  Invariant: bits at or above nbits are
 * always clear, so a search never returns an index >= nbits.
 * Not thread-safe: callers hold the lock that guards the slab.
 */
#ifndef HS_BITMAP_H
#define HS_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_BITMAP_MAXBITS 9
#define BITMAP_MAXBITS ((size_t)1 << LG_BITMAP_MAXBITS)
#define BITMAP_NWORDS (BITMAP_MAXBITS / 64)

typedef struct bitmap_s {
    uint64_t words[BITMAP_NWORDS];
} bitmap_t;

/* Sets bits [0, nbits) and clears the rest. */
void bitmap_init_full(bitmap_t *b, size_t nbits);

static inline bool
bitmap_get(const bitmap_t *b, size_t bit)
{
    return (b->words[bit >> 6] >> (bit & 63)) & 1;
}

static inline void
bitmap_set(bitmap_t *b, size_t bit)
{
    b->words[bit >> 6] |= (uint64_t)1 << (bit & 63);
}

static inline void
bitmap_clear(bitmap_t *b, size_t bit)
{
    b->words[bit >> 6] &= ~((uint64_t)1 << (bit & 63));
}

/*
 * Finds the lowest set bit, clears it and returns its index; returns
 * BITMAP_MAXBITS when no bit is set.  Lowest-first keeps a slab's live
 * regions packed at its start.
 */
static inline size_t
bitmap_take_first(bitmap_t *b)
{
    for (size_t i = 0; i < BITMAP_NWORDS; i++) {
        uint64_t w = b->words[i];
        if (w != 0) {
            unsigned bit = (unsigned)__builtin_ctzll(w);
            b->words[i] = w & (w - 1);
            return (i << 6) + bit;
        }
    }
    return BITMAP_MAXBITS;
}

/* Clears up to max set bits, lowest first, writing their indices to out;
 * returns how many (fewer when fewer are set).  One pass over the words,
 * where max calls of bitmap_take_first would rescan the cleared ones. */
static inline size_t
bitmap_take_many(bitmap_t *b, uint32_t *out, size_t max)
{
    size_t got = 0;
    for (size_t i = 0; i < BITMAP_NWORDS && got < max; i++) {
        uint64_t w = b->words[i];
        while (w != 0 && got < max) {
            out[got++] = (uint32_t)((i << 6) + (unsigned)__builtin_ctzll(w));
            w &= w - 1;
        }
        b->words[i] = w;
    }
    return got;
}

/* Number of set bits. */
size_t bitmap_count(const bitmap_t *b);

#endif /* HS_BITMAP_H */
