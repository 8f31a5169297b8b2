/*
 * eset.c — size buckets and age order of free extents (see eset.h).
 *
 * Fit is "first member of the first non-empty bucket that is large enough":
 * buckets are searched from the request's class upward with the nonempty
 * bitmap, so a fit costs a few word scans whatever the set holds.
 * Within a bucket the most recently freed extent is preferred: its pages
 * are the likeliest to be resident and cached.
 */
#include "eset.h"

size_t
psz_pages(unsigned i)
{
    if (i < 4)
        return i + 1;
    unsigned g = (i - 4) / 4, m = (i - 4) % 4;
    unsigned lg = 2 + g;
    return ((size_t)1 << lg) + (size_t)(m + 1) * ((size_t)1 << (lg - 2));
}

unsigned
psz_ceil(size_t npages)
{
    if (npages <= 4)
        return npages == 0 ? 0 : (unsigned)npages - 1;
    unsigned lg = lg_floor(npages - 1);
    return 4 + (lg - 2) * 4 +
           (unsigned)((npages - 1 - ((size_t)1 << lg)) >> (lg - 2));
}

static unsigned
psz_floor(size_t npages)
{
    unsigned i = psz_ceil(npages);
    return psz_pages(i) > npages ? i - 1 : i;
}

void
eset_init(eset_t *s, extent_state_t state)
{
    for (unsigned i = 0; i < ESET_NBUCKETS; i++)
        hs_list_init(&s->buckets[i]);
    for (unsigned i = 0; i < ESET_NBUCKETS / 64; i++)
        s->nonempty[i] = 0;
    hs_list_init(&s->lru);
    s->npages = 0;
    s->nextents = 0;
    s->state = state;
}

/*
 * Age order: newly freed extents carry the newest stamp and go to the back
 * in O(1).  A piece of an older extent walks forward from the back a
 * bounded distance; if it stops early, it sits behind some younger
 * members, which can only delay its purge, never make another's early.
 */
static void
lru_insert(eset_t *s, edata_t *e)
{
    hs_link_t *pos = s->lru.prev;
    for (unsigned budget = 32; pos != &s->lru && budget > 0; budget--) {
        if (edata_of_lru_link(pos)->dirty_ns <= e->dirty_ns)
            break;
        pos = pos->prev;
    }
    hs_list_insert_after(pos, &e->lru_link);
}

void
eset_insert(eset_t *s, edata_t *e)
{
    unsigned b = psz_floor(e->size / PAGE);
    hs_assert(e->state == s->state && b < ESET_NBUCKETS);
    hs_list_push_front(&s->buckets[b], &e->eset_link);
    s->nonempty[b / 64] |= (uint64_t)1 << (b % 64);
    lru_insert(s, e);
    s->npages += e->size / PAGE;
    s->nextents++;
    hs_assert_expensive(eset_consistent(s));
}

void
eset_remove(eset_t *s, edata_t *e)
{
    unsigned b = psz_floor(e->size / PAGE);
    hs_list_remove(&e->eset_link);
    if (hs_list_empty(&s->buckets[b]))
        s->nonempty[b / 64] &= ~((uint64_t)1 << (b % 64));
    hs_list_remove(&e->lru_link);
    s->npages -= e->size / PAGE;
    s->nextents--;
    hs_assert_expensive(eset_consistent(s));
}

/* First non-empty bucket at or above from, or ESET_NBUCKETS. */
static unsigned
eset_next_nonempty(const eset_t *s, unsigned from)
{
    for (unsigned w = from / 64; w < ESET_NBUCKETS / 64; w++) {
        uint64_t bits = s->nonempty[w];
        if (w == from / 64)
            bits &= ~(uint64_t)0 << (from % 64);
        if (bits != 0)
            return w * 64 + (unsigned)__builtin_ctzll(bits);
    }
    return ESET_NBUCKETS;
}

edata_t *
eset_fit(eset_t *s, size_t size, size_t alignment)
{
    size_t need = size + (alignment > PAGE ? alignment - PAGE : 0);
    if (need < size)
        return NULL;
    size_t npages = need / PAGE;
    /* The floor bucket may hold a member that fits exactly; check it
     * before moving to buckets that fit by construction. */
    unsigned fl = psz_floor(npages);
    if (fl < ESET_NBUCKETS) {
        hs_link_t *head = &s->buckets[fl];
        unsigned budget = 8; /* bounded: a long bucket is not walked */
        for (hs_link_t *l = head->next; l != head && budget-- > 0; l = l->next)
            if (edata_of_eset_link(l)->size >= need)
                return edata_of_eset_link(l);
    }
    unsigned b = psz_ceil(npages);
    if (b == fl)
        b++;
    if (b >= ESET_NBUCKETS)
        return NULL;
    b = eset_next_nonempty(s, b);
    if (b >= ESET_NBUCKETS)
        return NULL;
    return edata_of_eset_link(s->buckets[b].next);
}

edata_t *
eset_fit_exact(eset_t *s, size_t size, uint32_t off)
{
    unsigned b = psz_floor(size / PAGE);
    if (b >= ESET_NBUCKETS)
        return NULL;
    hs_link_t *head = &s->buckets[b];
    unsigned budget = 64;
    for (hs_link_t *l = head->next; l != head && budget-- > 0; l = l->next)
        if (edata_of_eset_link(l)->size == size &&
            edata_of_eset_link(l)->guard_off == off)
            return edata_of_eset_link(l);
    return NULL;
}

edata_t *
eset_oldest(eset_t *s)
{
    hs_link_t *l = hs_list_first(&s->lru);
    return l == NULL ? NULL : edata_of_lru_link(l);
}

bool
eset_consistent(const eset_t *s)
{
    size_t npages = 0, nextents = 0;
    for (unsigned b = 0; b < ESET_NBUCKETS; b++) {
        const hs_link_t *head = &s->buckets[b];
        bool any = head->next != head;
        if (any != (((s->nonempty[b / 64] >> (b % 64)) & 1) != 0))
            return false;
        for (const hs_link_t *l = head->next; l != head; l = l->next) {
            const edata_t *e = edata_of_eset_link((hs_link_t *)l);
            if (e->size == 0 || e->size % PAGE != 0 ||
                psz_floor(e->size / PAGE) != b || e->state != s->state)
                return false;
            npages += e->size / PAGE;
            nextents++;
        }
    }
    size_t nlru = 0;
    for (const hs_link_t *l = s->lru.next; l != &s->lru; l = l->next)
        nlru++;
    return npages == s->npages && nextents == s->nextents &&
           nlru == s->nextents;
}
