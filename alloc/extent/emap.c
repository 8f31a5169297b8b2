/*
 * emap.c — writing extents into the rtree (see emap.h).
 */
#include "emap.h"

bool emap_slabs_uncached;

static void
write_boundary(edata_t *e)
{
    uintptr_t last = edata_past(e) - PAGE;
    rtree_write(edata_base(e), emap_entry_pack(e));
    rtree_write(last, emap_entry_pack_page(e, e->size / PAGE - 1));
}

bool
emap_register_boundary(edata_t *e)
{
    /* Create both leaves before writing, so failure writes nothing. */
    if (rtree_slot(edata_base(e)) == NULL ||
        rtree_slot(edata_past(e) - PAGE) == NULL)
        return false;
    write_boundary(e);
    return true;
}

bool
emap_register_interior(edata_t *e)
{
    size_t pidx = 1;
    for (uintptr_t a = edata_base(e) + PAGE; a + PAGE < edata_past(e);
         a += PAGE, pidx++)
        if (!rtree_write(a, emap_entry_pack_page(e, pidx)))
            return false;
    return true;
}

void
emap_deregister_boundary(edata_t *e)
{
    rtree_write(edata_base(e), 0);
    rtree_write(edata_past(e) - PAGE, 0);
}

void
emap_deregister_interior(edata_t *e)
{
    for (uintptr_t a = edata_base(e) + PAGE; a + PAGE < edata_past(e);
         a += PAGE)
        rtree_write(a, 0);
}

void
emap_update(edata_t *e)
{
    write_boundary(e);
}
