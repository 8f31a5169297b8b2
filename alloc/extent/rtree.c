/*
 * rtree.c — leaf creation and writes (see rtree.h).
 */
#include "rtree.h"

#include "../util/mutex.h"
#include "base.h"

_Atomic(rtree_slot_t *) rtree_root[RTREE_NROOT];
static hs_mutex_t leaf_mtx;

void
rtree_boot(void)
{
    hs_mutex_init(&leaf_mtx, HS_RANK_RTREE);
}

rtree_slot_t *
rtree_slot(uintptr_t addr)
{
    uintptr_t key = addr >> LG_PAGE;
    uintptr_t ri = key >> RTREE_LEAF_BITS;
    hs_assert_cheap(ri < RTREE_NROOT);
    rtree_slot_t *leaf =
        atomic_load_explicit(&rtree_root[ri], memory_order_acquire);
    if (unlikely(leaf == NULL)) {
        hs_mutex_lock(&leaf_mtx);
        leaf = atomic_load_explicit(&rtree_root[ri], memory_order_relaxed);
        if (leaf == NULL) {
            leaf = base_alloc(RTREE_NLEAF * sizeof(rtree_slot_t), PAGE);
            if (leaf != NULL)
                atomic_store_explicit(&rtree_root[ri], leaf,
                                      memory_order_release);
        }
        hs_mutex_unlock(&leaf_mtx);
        if (leaf == NULL)
            return NULL;
    }
    return &leaf[key & (RTREE_NLEAF - 1)];
}

bool
rtree_write(uintptr_t addr, uint64_t entry)
{
    if (entry == 0 && rtree_read(addr) == 0)
        return true;
    rtree_slot_t *slot = rtree_slot(addr);
    if (slot == NULL)
        return false;
    atomic_store_explicit(slot, entry, memory_order_release);
    return true;
}
