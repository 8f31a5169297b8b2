/*
 * hmap.h — a hash map from byte strings to 64-bit values, for the CLI's
 * interning and caches (profile strings, functions, symbolized addresses).
 *
 * Owns: its slots and a copy of every key (in an arena of blocks that only
 * grows, freed by hmap_destroy).  Does not own what the values mean.
 *
 * Invariants: cap is a power of two (or 0 before the first put);
 * count <= cap * 3 / 4 (open addressing, linear probing, no deletion);
 * a slot is empty iff its key is NULL.
 *
 * Threading: none; one owner thread.
 */
#ifndef HS_CLI_HMAP_H
#define HS_CLI_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hmap_slot_s {
    uint64_t hash;
    const void *key; /* NULL: empty slot */
    size_t len;
    uint64_t value;
} hmap_slot_t;

typedef struct hmap_block_s hmap_block_t;

typedef struct hmap_s {
    hmap_slot_t *slots;
    size_t cap;           /* power of two, or 0 */
    size_t count;         /* keys stored */
    hmap_block_t *blocks; /* key copies, newest first */
} hmap_t;

/* A map with no keys; needs no allocation until the first put. */
void hmap_init(hmap_t *m);

/* Frees the slots and the key copies; the map is empty again. */
void hmap_destroy(hmap_t *m);

/* True if key is present, with its value in *r_value (may be NULL). */
bool hmap_get(const hmap_t *m, const void *key, size_t len, uint64_t *r_value);

/* Adds key (copied) or replaces its value.  Returns 0 or ENOMEM. */
int hmap_put(hmap_t *m, const void *key, size_t len, uint64_t value);

/* The same for NUL-terminated string keys. */
static inline bool
hmap_get_str(const hmap_t *m, const char *key, uint64_t *r_value)
{
    size_t n = 0;
    while (key[n] != '\0')
        n++;
    return hmap_get(m, key, n, r_value);
}

/* The same for 64-bit keys (stored by value, in host byte order). */
static inline bool
hmap_get_u64(const hmap_t *m, uint64_t key, uint64_t *r_value)
{
    return hmap_get(m, &key, sizeof(key), r_value);
}

static inline int
hmap_put_u64(hmap_t *m, uint64_t key, uint64_t value)
{
    return hmap_put(m, &key, sizeof(key), value);
}

#endif /* HS_CLI_HMAP_H */
