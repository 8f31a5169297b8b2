/*
 * psset.c — binned pageslabs (see psset.h).
 */
#include "psset.h"

#define PICK_SCAN 32 /* slabs looked at in a bin for the fullest */

static hpdata_t *
of_bin_link(hs_link_t *l)
{
    return (hpdata_t *)((char *)l - offsetof(hpdata_t, bin_link));
}

void
psset_init(psset_t *s, size_t dense_pages)
{
    for (size_t i = 0; i < PSSET_NBINS; i++)
        hs_list_init(&s->bins[i]);
    for (size_t i = 0; i < sizeof s->nonempty / sizeof s->nonempty[0]; i++)
        s->nonempty[i] = 0;
    hs_list_init(&s->hugify);
    hs_list_init(&s->purge);
    s->dense_pages = dense_pages;
    s->nslabs = s->nempty = s->nfull = s->nhugified = 0;
    s->nactive = s->ntouched = 0;
}

static bool
wants_hugify(const psset_t *s, const hpdata_t *h)
{
    return !h->hugified && h->nactive >= s->dense_pages;
}

static void
link_in(psset_t *s, hpdata_t *h)
{
    unsigned b = h->longest_free;
    h->bin = b;
    hs_list_push_back(&s->bins[b], &h->bin_link);
    s->nonempty[b / 64] |= (uint64_t)1 << (b % 64);
    if (wants_hugify(s, h))
        hs_list_push_back(&s->hugify, &h->hugify_link);
    if (hpdata_ndirty(h) > 0)
        hs_list_push_back(&s->purge, &h->purge_link);
    s->nslabs++;
    s->nempty += hpdata_empty(h);
    s->nfull += h->longest_free == 0;
    s->nhugified += h->hugified;
    s->nactive += h->nactive;
    s->ntouched += h->ntouched;
}

static void
link_out(psset_t *s, hpdata_t *h)
{
    unsigned b = h->bin;
    hs_list_remove(&h->bin_link);
    if (hs_list_empty(&s->bins[b]))
        s->nonempty[b / 64] &= ~((uint64_t)1 << (b % 64));
    if (!hs_list_empty(&h->hugify_link)) {
        hs_list_remove(&h->hugify_link);
        hs_list_init(&h->hugify_link);
    }
    if (!hs_list_empty(&h->purge_link)) {
        hs_list_remove(&h->purge_link);
        hs_list_init(&h->purge_link);
    }
    s->nslabs--;
    s->nempty -= hpdata_empty(h);
    s->nfull -= h->longest_free == 0;
    s->nhugified -= h->hugified;
    s->nactive -= h->nactive;
    s->ntouched -= h->ntouched;
}

void
psset_insert(psset_t *s, hpdata_t *h)
{
    link_in(s, h);
    hs_assert_expensive(psset_consistent(s));
}

void
psset_remove(psset_t *s, hpdata_t *h)
{
    link_out(s, h);
    hs_assert_expensive(psset_consistent(s));
}

void
psset_update_begin(psset_t *s, hpdata_t *h)
{
    link_out(s, h);
}

void
psset_update_end(psset_t *s, hpdata_t *h)
{
    link_in(s, h);
    hs_assert_expensive(psset_consistent(s));
}

/* The first non-empty bin at or above from (PSSET_NBINS if none). */
static size_t
next_bin(const psset_t *s, size_t from)
{
    for (size_t w = from / 64; w < (PSSET_NBINS + 63) / 64; w++) {
        uint64_t bits = s->nonempty[w];
        if (w == from / 64)
            bits &= ~(uint64_t)0 << (from % 64);
        if (bits != 0)
            return w * 64 + (size_t)__builtin_ctzll(bits);
    }
    return PSSET_NBINS;
}

hpdata_t *
psset_pick(psset_t *s, size_t npages)
{
    if (npages == 0 || npages > HPDATA_NPAGES)
        return NULL;
    size_t b = next_bin(s, npages);
    if (b >= PSSET_NBINS)
        return NULL;
    hpdata_t *best = NULL;
    unsigned budget = PICK_SCAN;
    for (hs_link_t *l = s->bins[b].next; l != &s->bins[b] && budget-- > 0;
         l = l->next) {
        hpdata_t *h = of_bin_link(l);
        if (h->purging)
            continue;
        if (best == NULL || h->nactive > best->nactive ||
            (h->nactive == best->nactive && h->age < best->age))
            best = h;
    }
    if (best == NULL) {
        /* Everything scanned is being purged: try the longer runs. */
        for (b = next_bin(s, b + 1); b < PSSET_NBINS; b = next_bin(s, b + 1))
            for (hs_link_t *l = s->bins[b].next; l != &s->bins[b]; l = l->next)
                if (!of_bin_link(l)->purging)
                    return of_bin_link(l);
    }
    return best;
}

bool
psset_consistent(const psset_t *s)
{
    size_t nslabs = 0, nactive = 0, ntouched = 0, nempty = 0, nfull = 0,
           nhug = 0;
    for (size_t b = 0; b < PSSET_NBINS; b++) {
        bool any = false;
        for (hs_link_t *l = s->bins[b].next; l != &s->bins[b]; l = l->next) {
            hpdata_t *h = of_bin_link(l);
            any = true;
            if (h->longest_free != b || h->bin != b || !hpdata_consistent(h))
                return false;
            if (wants_hugify(s, h) != !hs_list_empty(&h->hugify_link) ||
                (hpdata_ndirty(h) > 0) != !hs_list_empty(&h->purge_link))
                return false;
            nslabs++;
            nactive += h->nactive;
            ntouched += h->ntouched;
            nempty += hpdata_empty(h);
            nfull += h->longest_free == 0;
            nhug += h->hugified;
        }
        if (any != (((s->nonempty[b / 64] >> (b % 64)) & 1) != 0))
            return false;
    }
    return nslabs == s->nslabs && nactive == s->nactive &&
           ntouched == s->ntouched && nempty == s->nempty &&
           nfull == s->nfull && nhug == s->nhugified;
}
