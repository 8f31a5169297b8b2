/*
 * hpdata.c — pageslab metadata (see hpdata.h).
 *
 * The page bitmaps are 8 words; searches go word by word, skipping full
 * words of active pages, so a find or a longest-run update costs a few
 * dozen instructions.
 */
#include "hpdata.h"

#include <string.h>

static inline bool
bit(const uint64_t *w, size_t i)
{
    return (w[i >> 6] >> (i & 63)) & 1;
}

static void
set_range(uint64_t *w, size_t first, size_t n, bool on)
{
    for (size_t i = first; i < first + n;) {
        size_t word = i >> 6, off = i & 63;
        size_t take = 64 - off < first + n - i ? 64 - off : first + n - i;
        uint64_t mask =
            take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1) << off;
        if (on)
            w[word] |= mask;
        else
            w[word] &= ~mask;
        i += take;
    }
}

static size_t
popcount(const uint64_t *w)
{
    size_t n = 0;
    for (size_t k = 0; k < HPDATA_NWORDS; k++)
        n += (size_t)__builtin_popcountll(w[k]);
    return n;
}

/* The length of the run of clear bits starting at i. */
static size_t
clear_run(const uint64_t *w, size_t i)
{
    size_t start = i;
    while (i < HPDATA_NPAGES) {
        uint64_t rest = w[i >> 6] >> (i & 63);
        if (rest != 0)
            return i + (size_t)__builtin_ctzll(rest) - start;
        i = (i | 63) + 1;
    }
    return HPDATA_NPAGES - start;
}

/* The next clear bit at or after i (HPDATA_NPAGES if none). */
static size_t
next_clear(const uint64_t *w, size_t i)
{
    while (i < HPDATA_NPAGES) {
        uint64_t rest = ~w[i >> 6] >> (i & 63);
        if (rest != 0)
            return i + (size_t)__builtin_ctzll(rest);
        i = (i | 63) + 1;
    }
    return HPDATA_NPAGES;
}

static size_t
longest_clear(const uint64_t *w)
{
    size_t best = 0;
    for (size_t i = next_clear(w, 0); i < HPDATA_NPAGES;) {
        size_t n = clear_run(w, i);
        if (n > best)
            best = n;
        i = next_clear(w, i + n);
    }
    return best;
}

void
hpdata_init(hpdata_t *h, void *addr, uint64_t age)
{
    memset(h, 0, sizeof(*h));
    h->addr = addr;
    h->age = age;
    h->longest_free = HPDATA_NPAGES;
    hs_list_init(&h->bin_link);
    hs_list_init(&h->hugify_link);
    hs_list_init(&h->purge_link);
}

size_t
hpdata_find(const hpdata_t *h, size_t npages)
{
    if (npages == 0 || npages > h->longest_free)
        return HPDATA_NPAGES;
    for (size_t i = next_clear(h->active, 0); i < HPDATA_NPAGES;) {
        size_t n = clear_run(h->active, i);
        if (n >= npages)
            return i;
        i = next_clear(h->active, i + n);
    }
    return HPDATA_NPAGES;
}

void *
hpdata_reserve(hpdata_t *h, size_t first, size_t npages)
{
    hs_assert(first + npages <= HPDATA_NPAGES);
    set_range(h->active, first, npages, true);
    set_range(h->touched, first, npages, true);
    h->nactive = (uint32_t)popcount(h->active);
    h->ntouched = (uint32_t)popcount(h->touched);
    h->longest_free = (uint32_t)longest_clear(h->active);
    return (char *)h->addr + first * PAGE;
}

void
hpdata_unreserve(hpdata_t *h, void *addr, size_t npages)
{
    size_t first = (size_t)((char *)addr - (char *)h->addr) / PAGE;
    hs_assert(first + npages <= HPDATA_NPAGES);
    set_range(h->active, first, npages, false);
    h->nactive = (uint32_t)popcount(h->active);
    h->longest_free = (uint32_t)longest_clear(h->active);
}

bool
hpdata_purge_next(const hpdata_t *h, size_t *r_pos, size_t *r_first,
                  size_t *r_npages)
{
    /* Dirty = touched & ~active: runs of set bits in that word mask. */
    for (size_t i = *r_pos; i < HPDATA_NPAGES;) {
        size_t word = i >> 6;
        uint64_t dirty = (h->touched[word] & ~h->active[word]) >> (i & 63);
        if (dirty == 0) {
            i = (i | 63) + 1;
            continue;
        }
        size_t first = i + (size_t)__builtin_ctzll(dirty), end = first;
        while (end < HPDATA_NPAGES && bit(h->touched, end) &&
               !bit(h->active, end))
            end++;
        *r_first = first;
        *r_npages = end - first;
        *r_pos = end;
        return true;
    }
    return false;
}

void
hpdata_purge_done(hpdata_t *h, size_t first, size_t npages)
{
    set_range(h->touched, first, npages, false);
    h->ntouched = (uint32_t)popcount(h->touched);
}

bool
hpdata_consistent(const hpdata_t *h)
{
    for (size_t k = 0; k < HPDATA_NWORDS; k++)
        if (h->active[k] & ~h->touched[k])
            return false;
    return h->nactive == popcount(h->active) &&
           h->ntouched == popcount(h->touched) &&
           h->longest_free == longest_clear(h->active);
}
