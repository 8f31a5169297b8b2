/*
 * hmap.c — open addressing with linear probing over a power-of-two table;
 * keys are copied into blocks of at least HMAP_BLOCK bytes (see hmap.h).
 *
 * The hash mixes eight bytes at a time with a multiply and a xor-shift
 * (the finaliser of MurmurHash3/splitmix64): good enough for file names,
 * symbol names and addresses, which is all the CLI feeds it.
 */
#include "hmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HMAP_BLOCK 65536
#define HMAP_MIN_CAP 64

struct hmap_block_s {
    hmap_block_t *next;
    size_t used, size; /* bytes of data[] */
    unsigned char data[];
};

void
hmap_init(hmap_t *m)
{
    memset(m, 0, sizeof(*m));
}

void
hmap_destroy(hmap_t *m)
{
    hmap_block_t *b = m->blocks;
    while (b != NULL) {
        hmap_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(m->slots);
    hmap_init(m);
}

static uint64_t
hmap_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t
hmap_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = hmap_mix(h ^ w);
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    return hmap_mix(h ^ tail);
}

/* The slot holding key, or the empty slot where it would go. */
static hmap_slot_t *
hmap_probe(const hmap_t *m, uint64_t hash, const void *key, size_t len)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        hmap_slot_t *s = &m->slots[i];
        if (s->key == NULL)
            return s;
        if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

bool
hmap_get(const hmap_t *m, const void *key, size_t len, uint64_t *r_value)
{
    if (m->cap == 0)
        return false;
    const hmap_slot_t *s = hmap_probe(m, hmap_hash(key, len), key, len);
    if (s->key == NULL)
        return false;
    if (r_value != NULL)
        *r_value = s->value;
    return true;
}

static int
hmap_grow(hmap_t *m)
{
    size_t cap = m->cap == 0 ? HMAP_MIN_CAP : m->cap * 2;
    hmap_slot_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return ENOMEM;
    hmap_t bigger = {slots, cap, m->count, m->blocks};
    for (size_t i = 0; i < m->cap; i++) {
        const hmap_slot_t *s = &m->slots[i];
        if (s->key != NULL)
            *hmap_probe(&bigger, s->hash, s->key, s->len) = *s;
    }
    free(m->slots);
    *m = bigger;
    return 0;
}

/* A copy of key in the block arena, or NULL. */
static const void *
hmap_copy_key(hmap_t *m, const void *key, size_t len)
{
    hmap_block_t *b = m->blocks;
    size_t need = len == 0 ? 1 : len;
    if (b == NULL || b->size - b->used < need) {
        size_t size = need > HMAP_BLOCK ? need : HMAP_BLOCK;
        b = malloc(sizeof(*b) + size);
        if (b == NULL)
            return NULL;
        b->next = m->blocks;
        b->used = 0;
        b->size = size;
        m->blocks = b;
    }
    void *copy = b->data + b->used;
    memcpy(copy, key, len);
    b->used += need;
    return copy;
}

int
hmap_put(hmap_t *m, const void *key, size_t len, uint64_t value)
{
    if ((m->count + 1) * 4 > m->cap * 3 && hmap_grow(m) != 0)
        return ENOMEM;
    uint64_t hash = hmap_hash(key, len);
    hmap_slot_t *s = hmap_probe(m, hash, key, len);
    if (s->key == NULL) {
        const void *copy = hmap_copy_key(m, key, len);
        if (copy == NULL)
            return ENOMEM;
        *s = (hmap_slot_t){hash, copy, len, value};
        m->count++;
    }
    s->value = value;
    return 0;
}
