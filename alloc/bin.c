/*
 * bin.c — slabs and their regions, for one size class of one arena (see
 * bin.h).
 *
 * A slab is one extent carved into regions of one class; its free regions
 * are the set bits of its bitmap.  Filling takes regions lowest address
 * first from the current slab, then from the oldest non-full slab, then
 * from a new slab; that packs live objects into few slabs, so empty ones
 * can go back to the page allocator.
 */
#include "bin.h"

#include "check.h"
#include "extent/emap.h"
#include "util/fmt.h"

static edata_t *
slab_alloc(pa_shard_t *pa, unsigned ind)
{
    const bin_info_t *bi = &bin_infos[ind];
    edata_t *e = pa_alloc(pa, bi->slab_size, PAGE, false);
    if (e == NULL)
        return NULL;
    e->slab = true;
    e->prof_stack = NULL;
    if (check_junk_free)
        check_new_life(e);
    e->szind = (uint16_t)ind;
    e->nfree = bi->nregs;
    bitmap_init_full(&e->bitmap, bi->nregs);
    if (!emap_register_interior(e)) {
        emap_deregister_interior(e);
        e->slab = false;
        e->szind = SZIND_NONE;
        pa_dalloc(pa, e);
        return NULL;
    }
    emap_update(e);
    return e;
}

static void
slab_dalloc(pa_shard_t *pa, edata_t *e)
{
    emap_deregister_interior(e);
    e->slab = false;
    e->szind = SZIND_NONE;
    pa_dalloc(pa, e);
}

/* The slab to fill from: slabcur if it has room, else the oldest non-full
 * slab, else a new one.  NULL on OOM.  Bin lock held. */
static edata_t *
bin_slab_for_fill(bin_t *bin, pa_shard_t *pa, unsigned ind)
{
    if (bin->slabcur != NULL && bin->slabcur->nfree > 0)
        return bin->slabcur;
    hs_link_t *l = hs_list_first(&bin->nonfull);
    edata_t *e;
    if (l != NULL) {
        hs_list_remove(l);
        e = edata_of_bin_link(l);
    } else if (bin->spare != NULL) {
        e = bin->spare;
        bin->spare = NULL;
    } else {
        e = slab_alloc(pa, ind);
        if (e == NULL)
            return NULL;
        bin->curslabs++;
    }
    bin->slabcur = e;
    return e;
}

unsigned
bin_fill(bin_t *bin, pa_shard_t *pa, unsigned ind, void **out, unsigned n)
{
    size_t reg = bin_infos[ind].reg_size;
    unsigned got = 0;
    hs_mutex_lock(&bin->mtx);
    while (got < n) {
        edata_t *e = bin_slab_for_fill(bin, pa, ind);
        if (e == NULL)
            break;
        uintptr_t base = edata_base(e);
        uint32_t idx[BITMAP_MAXBITS];
        size_t k = bitmap_take_many(&e->bitmap, idx,
                                    n - got < e->nfree ? n - got : e->nfree);
        hs_assert_cheap(k > 0); /* nfree > 0 says a bit is set */
        for (size_t i = 0; i < k; i++)
            out[got++] = (void *)(base + idx[i] * reg);
        e->nfree -= (uint32_t)k;
    }
    bin->nfills += got;
    bin->curregs += got;
    hs_mutex_unlock(&bin->mtx);
    return got;
}

/* Returns one region to slab e; sets *r_empty when the slab became empty
 * and was detached from the bin.  False, with nothing changed, for a
 * misuse that was reported and survived (util/fmt.h).  Bin lock held. */
static bool
bin_region_dalloc(bin_t *bin, edata_t *e, void *ptr, bool *r_empty)
{
    const bin_info_t *bi = &bin_infos[e->szind];
    uint32_t r = sz_region_index(e->szind, (uintptr_t)ptr - edata_base(e));
    *r_empty = false;
    if (r == UINT32_MAX) {
        hs_misuse("free(): invalid pointer %p (inside a %zu-byte block)", ptr,
                  bi->reg_size);
        return false;
    }
    if (bitmap_get(&e->bitmap, r)) {
        hs_misuse("free(): double free of %p (%zu-byte block)", ptr,
                  bi->reg_size);
        return false;
    }
    bitmap_set(&e->bitmap, r);
    e->nfree++;
    if (e->nfree == bi->nregs) {
        if (bin->slabcur == e)
            bin->slabcur = NULL;
        else
            hs_list_remove(&e->bin_link);
        if (bin->spare == NULL) {
            bin->spare = e;
            return true;
        }
        bin->curslabs--;
        *r_empty = true;
    } else if (e->nfree == 1 && bin->slabcur != e) {
        hs_list_push_back(&bin->nonfull, &e->bin_link);
    }
    return true;
}

/* Returns the slabs on empty to the page allocator; no bin lock held. */
static void
bin_release_empty(pa_shard_t *pa, hs_link_t *empty)
{
    hs_link_t *l;
    while ((l = hs_list_first(empty)) != NULL) {
        hs_list_remove(l);
        slab_dalloc(pa, edata_of_bin_link(l));
    }
}

unsigned
bin_flush(bin_t *bin, pa_shard_t *pa, unsigned arena_ind, void **ptrs,
          edata_t **slabs, unsigned n)
{
    hs_link_t empty;
    hs_list_init(&empty);
    unsigned rest = 0, done = 0;
    hs_mutex_lock(&bin->mtx);
    for (unsigned i = 0; i < n; i++) {
        edata_t *e = slabs[i];
        if (e->arena_ind != arena_ind) {
            slabs[rest] = e;
            ptrs[rest++] = ptrs[i];
            continue;
        }
        bool now_empty;
        if (!bin_region_dalloc(bin, e, ptrs[i], &now_empty))
            continue; /* reported misuse: not counted as returned */
        if (now_empty)
            hs_list_push_back(&empty, &e->bin_link);
        done++;
    }
    bin->nflushes += done;
    bin->curregs -= done;
    hs_mutex_unlock(&bin->mtx);
    bin_release_empty(pa, &empty);
    return rest;
}

void
bin_init(bin_t *bin)
{
    hs_mutex_init(&bin->mtx, HS_RANK_BIN);
    hs_list_init(&bin->nonfull);
    bin->slabcur = NULL;
    bin->spare = NULL;
}

void
bin_release_spare(bin_t *bin, pa_shard_t *pa)
{
    hs_mutex_lock(&bin->mtx);
    edata_t *e = bin->spare;
    bin->spare = NULL;
    if (e != NULL)
        bin->curslabs--;
    hs_mutex_unlock(&bin->mtx);
    if (e != NULL)
        slab_dalloc(pa, e);
}

void
bin_stats(bin_t *bin, bin_stats_t *r)
{
    hs_mutex_lock(&bin->mtx);
    r->curslabs = bin->curslabs;
    r->curregs = bin->curregs;
    r->nfills = bin->nfills;
    r->nflushes = bin->nflushes;
    hs_mutex_unlock(&bin->mtx);
}
