/*
 * bitmap.c — the non-inline bitmap operations (see bitmap.h).
 */
#include "bitmap.h"

#include <string.h>

void
bitmap_init_full(bitmap_t *b, size_t nbits)
{
    memset(b->words, 0, sizeof(b->words));
    size_t full = nbits >> 6;
    for (size_t i = 0; i < full; i++)
        b->words[i] = ~(uint64_t)0;
    if (nbits & 63)
        b->words[full] = ((uint64_t)1 << (nbits & 63)) - 1;
}

size_t
bitmap_count(const bitmap_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < BITMAP_NWORDS; i++)
        n += (size_t)__builtin_popcountll(b->words[i]);
    return n;
}
