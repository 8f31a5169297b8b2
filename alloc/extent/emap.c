/*
 * emap.c — writing extents into the rtree (see emap.h).
 */
#include "emap.h"

bool
emap_register_boundary(edata_t *e)
{
    emap_entry_t v = emap_entry_pack(e);
    uintptr_t last = edata_past(e) - PAGE;
    /* Create both leaves before writing, so failure writes nothing. */
    if (rtree_slot(edata_base(e)) == NULL || rtree_slot(last) == NULL)
        return false;
    rtree_write(edata_base(e), v);
    rtree_write(last, v);
    return true;
}

bool
emap_register_interior(edata_t *e)
{
    emap_entry_t v = emap_entry_pack(e);
    for (uintptr_t a = edata_base(e) + PAGE; a + PAGE < edata_past(e);
         a += PAGE)
        if (!rtree_write(a, v))
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
    emap_entry_t v = emap_entry_pack(e);
    rtree_write(edata_base(e), v);
    rtree_write(edata_past(e) - PAGE, v);
}
