/*
 * base.c — the bump allocator for metadata (see base.h).
 *
 * Blocks grow geometrically from 64 KiB to 2 MiB so a tiny program maps
 * little metadata and a large one does few mmaps; a request larger than a
 * block gets a block of its own.  Each block starts with a header linking
 * it into its base's list, so a base over hooks can give them all back.
 */
#include "base.h"

#include <stdint.h>
#include <string.h>

#include "../os/pages.h"
#include "../util/util.h"

#define BASE_BLOCK_MIN ((size_t)64 << 10)
#define BASE_BLOCK_MAX ((size_t)2 << 20)

struct base_block_s {
    base_block_t *next;
    size_t size;
};

#define BLOCK_HEADER ((size_t)64) /* >= sizeof(base_block_t), aligned */

static base_t base_default;

void
base_init(base_t *b, ehooks_t *eh)
{
    hs_mutex_init(&b->mtx, HS_RANK_BASE);
    b->eh = eh;
    b->blocks = NULL;
    b->cur = b->end = 0;
    b->next_block = BASE_BLOCK_MIN;
    b->allocated = b->mapped = 0;
}

/* A new block of at least need bytes after its header; NULL on failure.
 * mtx held. */
static base_block_t *
block_new(base_t *b, size_t need)
{
    size_t size = b->next_block;
    if (size < need + BLOCK_HEADER)
        size = align_up(need + BLOCK_HEADER, PAGE);
    bool zeroed = true;
    void *p = b->eh == NULL ? pages_map(size, PAGE)
                            : ehooks_alloc(b->eh, size, PAGE, &zeroed);
    if (p == NULL)
        return NULL;
    if (!zeroed)
        memset(p, 0, size);
    base_block_t *blk = p;
    blk->size = size;
    blk->next = b->blocks;
    b->blocks = blk;
    b->mapped += size;
    if (b->next_block < BASE_BLOCK_MAX)
        b->next_block *= 2;
    return blk;
}

void *
base_alloc_from(base_t *b, size_t size, size_t align)
{
    size = align_up(size, 16);
    hs_mutex_lock(&b->mtx);
    void *r;
    if (size >= BASE_BLOCK_MAX / 2) {
        /* A block of its own, so the current block's rest stays in use. */
        size_t hdr = align > BLOCK_HEADER ? align : BLOCK_HEADER;
        base_block_t *blk = block_new(b, size + hdr - BLOCK_HEADER);
        r = blk == NULL ? NULL : (char *)blk + hdr;
    } else {
        uintptr_t p = align_up(b->cur, align);
        if (b->cur == 0 || p + size > b->end) {
            base_block_t *blk = block_new(b, size + align);
            if (blk == NULL) {
                hs_mutex_unlock(&b->mtx);
                return NULL;
            }
            b->cur = (uintptr_t)blk + BLOCK_HEADER;
            b->end = (uintptr_t)blk + blk->size;
            p = align_up(b->cur, align);
        }
        b->cur = p + size;
        r = (void *)p;
    }
    if (r != NULL)
        b->allocated += size;
    hs_mutex_unlock(&b->mtx);
    return r;
}

void
base_release(base_t *b)
{
    hs_mutex_lock(&b->mtx);
    base_block_t *blk = b->blocks;
    b->blocks = NULL;
    b->cur = b->end = 0;
    b->next_block = BASE_BLOCK_MIN;
    b->allocated = b->mapped = 0;
    hs_mutex_unlock(&b->mtx);
    while (blk != NULL) {
        base_block_t *next = blk->next;
        if (b->eh == NULL)
            pages_unmap(blk, blk->size);
        else
            ehooks_release(b->eh, blk, blk->size);
        blk = next;
    }
}

size_t
base_allocated_of(base_t *b)
{
    hs_mutex_lock(&b->mtx);
    size_t n = b->allocated;
    hs_mutex_unlock(&b->mtx);
    return n;
}

size_t
base_mapped_of(base_t *b)
{
    hs_mutex_lock(&b->mtx);
    size_t n = b->mapped;
    hs_mutex_unlock(&b->mtx);
    return n;
}

void
base_boot(void)
{
    base_init(&base_default, NULL);
}

base_t *
base_get_default(void)
{
    return &base_default;
}

void *
base_alloc(size_t size, size_t align)
{
    return base_alloc_from(&base_default, size, align);
}

size_t
base_allocated(void)
{
    return base_allocated_of(&base_default);
}

size_t
base_mapped(void)
{
    return base_mapped_of(&base_default);
}
