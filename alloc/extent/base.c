/*
 * base.c — the bump allocator for metadata (see base.h).
 *
 * Blocks grow geometrically from 64 KiB to 2 MiB so a tiny program maps
 * little metadata and a large one does few mmaps; a request larger than a
 * block gets a block of its own.
 */
#include "base.h"

#include <stdint.h>

#include "../os/pages.h"
#include "../util/mutex.h"
#include "../util/util.h"

#define BASE_BLOCK_MIN ((size_t)64 << 10)
#define BASE_BLOCK_MAX ((size_t)2 << 20)

static struct {
    hs_mutex_t mtx;
    uintptr_t cur;     /* guarded by mtx */
    uintptr_t end;     /* guarded by mtx */
    size_t next_block; /* guarded by mtx */
    size_t allocated;  /* guarded by mtx */
    size_t mapped;     /* guarded by mtx */
} base;

void
base_boot(void)
{
    hs_mutex_init(&base.mtx, HS_RANK_BASE);
    base.next_block = BASE_BLOCK_MIN;
}

static bool
base_grow(size_t need)
{
    size_t size = base.next_block;
    if (size < need)
        size = align_up(need, PAGE);
    void *block = pages_map(size, PAGE);
    if (block == NULL)
        return false;
    base.cur = (uintptr_t)block;
    base.end = base.cur + size;
    base.mapped += size;
    if (base.next_block < BASE_BLOCK_MAX)
        base.next_block *= 2;
    return true;
}

/* A request of half a block or more gets a mapping of its own, so the
 * current block's remainder is not abandoned. */
static void *
base_alloc_alone(size_t size)
{
    size = align_up(size, PAGE);
    void *p = pages_map(size, PAGE);
    if (p == NULL)
        return NULL;
    hs_mutex_lock(&base.mtx);
    base.mapped += size;
    base.allocated += size;
    hs_mutex_unlock(&base.mtx);
    return p;
}

void *
base_alloc(size_t size, size_t align)
{
    size = align_up(size, 16);
    if (size >= BASE_BLOCK_MAX / 2)
        return base_alloc_alone(size);
    hs_mutex_lock(&base.mtx);
    uintptr_t p = align_up(base.cur, align);
    if (base.cur == 0 || p + size > base.end) {
        if (!base_grow(size + align)) {
            hs_mutex_unlock(&base.mtx);
            return NULL;
        }
        p = align_up(base.cur, align);
    }
    base.cur = p + size;
    base.allocated += size;
    hs_mutex_unlock(&base.mtx);
    return (void *)p;
}

size_t
base_allocated(void)
{
    hs_mutex_lock(&base.mtx);
    size_t n = base.allocated;
    hs_mutex_unlock(&base.mtx);
    return n;
}

size_t
base_mapped(void)
{
    hs_mutex_lock(&base.mtx);
    size_t n = base.mapped;
    hs_mutex_unlock(&base.mtx);
    return n;
}
