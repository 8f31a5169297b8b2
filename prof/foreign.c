/*
 * foreign.c — the address map of sampled foreign objects (see foreign.h).
 *
 * Open addressing with linear probing and backward-shift deletion; the
 * table doubles at half load.  Keys are never NULL (NULL marks a free
 * slot).
 *
 * In front of it, a presence filter: FILTER_SLOTS counters, each the
 * number of tracked addresses that hash to it, changed under the mutex
 * (release) and read without it (acquire).  A free of an address whose
 * counter is 0 is not tracked, which a foreign allocator's free path
 * learns in one load; with a few hundred live sampled objects, a free
 * takes the lock about once in a hundred times only when it must.  An
 * address is tracked before the allocation that returned it is handed
 * to anyone, so the thread that frees it sees its count.
 */
#include "foreign.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "../alloc/util/mutex.h"

typedef struct foreign_slot_s {
    void *ptr;
    prof_rec_t *rec;
} foreign_slot_t;

enum { FILTER_LG = 14, FILTER_SLOTS = 1 << FILTER_LG };

static _Atomic(uint32_t) filter[FILTER_SLOTS];

static size_t
filter_of(const void *ptr)
{
    uint64_t h = (uint64_t)(uintptr_t)ptr * 0xff51afd7ed558ccdu;
    return (size_t)(h >> (64 - FILTER_LG));
}

bool
foreign_maybe(const void *ptr)
{
    return atomic_load_explicit(&filter[filter_of(ptr)],
                                memory_order_acquire) != 0;
}

static struct {
    hs_mutex_t mtx;
    foreign_slot_t *slots; /* guarded by mtx */
    size_t cap;            /* guarded by mtx; a power of two */
    _Atomic(size_t) count;
} map;

void
foreign_boot(void)
{
    hs_mutex_init(&map.mtx, HS_RANK_PROF);
}

bool
foreign_any(void)
{
    return atomic_load_explicit(&map.count, memory_order_relaxed) != 0;
}

static size_t
slot_of(const void *ptr, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)ptr * 0x9e3779b97f4a7c15u;
    return (size_t)(h >> 20) & (cap - 1);
}

/* Stores (ptr, rec); returns the record ptr had, or NULL if it was new. */
static prof_rec_t *
insert_slot(foreign_slot_t *slots, size_t cap, void *ptr, prof_rec_t *rec)
{
    size_t i = slot_of(ptr, cap);
    while (slots[i].ptr != NULL && slots[i].ptr != ptr)
        i = (i + 1) & (cap - 1);
    prof_rec_t *old = slots[i].ptr == ptr ? slots[i].rec : NULL;
    slots[i] = (foreign_slot_t){ptr, rec};
    return old;
}

/* Doubles the table; false on OOM.  mtx held. */
static bool
map_grow(void)
{
    size_t cap = map.cap == 0 ? 256 : map.cap * 2;
    foreign_slot_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < map.cap; i++)
        if (map.slots[i].ptr != NULL)
            insert_slot(slots, cap, map.slots[i].ptr, map.slots[i].rec);
    free(map.slots);
    map.slots = slots;
    map.cap = cap;
    return true;
}

bool
foreign_put(void *ptr, prof_rec_t *rec, prof_rec_t **r_displaced)
{
    *r_displaced = NULL;
    hs_mutex_lock(&map.mtx);
    size_t n = atomic_load_explicit(&map.count, memory_order_relaxed);
    bool ok = (n + 1) * 2 <= map.cap || map_grow();
    if (ok) {
        *r_displaced = insert_slot(map.slots, map.cap, ptr, rec);
        if (*r_displaced == NULL) {
            atomic_store_explicit(&map.count, n + 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&filter[filter_of(ptr)], 1,
                                      memory_order_release);
        }
    }
    hs_mutex_unlock(&map.mtx);
    return ok;
}

/* Removes slot i, shifting later members of its probe run back. */
static void
remove_slot(size_t i)
{
    size_t cap = map.cap;
    size_t j = i;
    for (;;) {
        j = (j + 1) & (cap - 1);
        if (map.slots[j].ptr == NULL)
            break;
        size_t home = slot_of(map.slots[j].ptr, cap);
        /* Move j back to i if its home is not in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            map.slots[i] = map.slots[j];
            i = j;
        }
    }
    map.slots[i] = (foreign_slot_t){NULL, NULL};
}

prof_rec_t *
foreign_take(void *ptr)
{
    prof_rec_t *rec = NULL;
    hs_mutex_lock(&map.mtx);
    if (map.cap != 0) {
        size_t i = slot_of(ptr, map.cap);
        while (map.slots[i].ptr != NULL && map.slots[i].ptr != ptr)
            i = (i + 1) & (map.cap - 1);
        if (map.slots[i].ptr == ptr) {
            rec = map.slots[i].rec;
            remove_slot(i);
            atomic_fetch_sub_explicit(&map.count, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&filter[filter_of(ptr)], 1,
                                      memory_order_release);
        }
    }
    hs_mutex_unlock(&map.mtx);
    return rec;
}
