/*
 * blocks.c — the live block around an address (see blocks.h).
 */
#include "blocks.h"

#include "extent/edata.h"
#include "extent/emap.h"
#include "sz.h"

/* A slab's region around addr, if allocated. */
static bool
blocks_slab(emap_entry_t ent, uintptr_t addr, uintptr_t *r_start,
            size_t *r_size)
{
    edata_t *e = emap_entry_edata(ent);
    unsigned ind = emap_entry_szind(ent);
    if (ind >= SZ_NBINS)
        return false;
    const bin_info_t *bi = &bin_infos[ind];
    size_t off = emap_slab_offset(ent, (const void *)addr);
    size_t q = off / bi->reg_size;
    if (q >= bi->nregs || bitmap_get(&e->bitmap, q)) /* set: free */
        return false;
    *r_start = edata_base(e) + q * bi->reg_size;
    *r_size = bi->reg_size;
    return true;
}

bool
blocks_find(uintptr_t addr, uintptr_t *r_start, size_t *r_size,
            void **r_prof_rec)
{
    emap_entry_t ent = emap_lookup((const void *)addr);
    *r_prof_rec = NULL;
    if (ent == 0 || emap_entry_state(ent) != EXTENT_ACTIVE)
        return false;
    if (emap_entry_slab(ent))
        return blocks_slab(ent, addr, r_start, r_size);
    edata_t *e = emap_entry_edata(ent);
    unsigned ind = emap_entry_szind(ent);
    if (ind == SZIND_NONE)
        return false;
    bool guarded = emap_entry_guarded(ent);
    uintptr_t start = edata_base(e) + (guarded ? e->guard_off : 0);
    size_t size = ind < SZ_NBINS ? sz_index2size(ind)
                  : guarded      ? e->size - PAGE - e->guard_off
                                 : e->size;
    if (addr < start || addr - start >= size)
        return false;
    *r_start = start;
    *r_size = size;
    *r_prof_rec = e->prof_rec;
    return true;
}
