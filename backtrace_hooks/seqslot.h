/*
 * seqslot.h — sequence-numbered slots for lock-free caches: a writer
 * claims a slot by moving its number from even to odd (and gives up when
 * another writer holds it), writes the slot's fields, and releases it at
 * the next even number; a reader takes its fields between two loads of
 * the number and keeps them only if it was even and did not change.
 * Readers never wait, writers never block, and nothing is left locked in
 * a fork child.  Used by the unwinder's rule cache (cfi.c) and the Python
 * hook's frame cache (python/pyhook.c).
 *
 * The fields themselves are plain memory; a torn read is what the second
 * load detects.  A pure header: no .c file, no state.
 */
#ifndef HS_BT_SEQSLOT_H
#define HS_BT_SEQSLOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef _Atomic(uint32_t) seqslot_t;

/* Claims the slot for writing; false when another writer holds it. */
static inline bool
seqslot_write_begin(seqslot_t *s, uint32_t *r_seq)
{
    uint32_t seq = atomic_load_explicit(s, memory_order_relaxed);
    if ((seq & 1) ||
        !atomic_compare_exchange_strong_explicit(
            s, &seq, seq + 1, memory_order_acquire, memory_order_relaxed))
        return false;
    atomic_thread_fence(memory_order_release);
    *r_seq = seq;
    return true;
}

static inline void
seqslot_write_end(seqslot_t *s, uint32_t seq)
{
    atomic_store_explicit(s, seq + 2, memory_order_release);
}

/* Starts a read; false when a writer holds the slot. */
static inline bool
seqslot_read_begin(seqslot_t *s, uint32_t *r_seq)
{
    *r_seq = atomic_load_explicit(s, memory_order_acquire);
    return (*r_seq & 1) == 0;
}

/* Whether the fields read since seqslot_read_begin are whole. */
static inline bool
seqslot_read_ok(seqslot_t *s, uint32_t seq)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(s, memory_order_relaxed) == seq;
}

#endif /* HS_BT_SEQSLOT_H */
