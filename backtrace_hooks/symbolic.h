/*
 * symbolic.h — symbolic frames: interning (function, file, line) triples
 * that are not native code (an interpreter's functions) so that hooks can
 * put them into stacks (hs_frame_symbolic, include/heapsight_hook.h), and
 * reading them back (bt_symbolic_lookup) when a profile is written.
 *
 * Owns: the table of interned triples, their copied strings, and the
 * frame encoding HS_FRAME_SYMBOLIC_BIT | index, index >= 1 (so a symbolic
 * frame is never 0).  Entries are immortal: a frame stays valid for the
 * life of the process (and in fork children).
 *
 * Memory: base_alloc (alloc/extent/base.h), not malloc.  Entries are never
 * freed, which is what base gives; base never calls malloc, so interning
 * can run from inside malloc's slow path (inside a backtrace hook) with no
 * reentrancy concern and is never sampled; and base's lock has the
 * highest rank, so it may be taken under this module's lock.  The cost is
 * that superseded hash tables are not returned (the sum of all tables is
 * below twice the last one).
 *
 * Locking: readers take no lock.  Interning looks the triple up without a
 * lock first; only a new triple takes the module mutex (hs_mutex_t, rank
 * HS_RANK_RTREE: the highest below base, since under it only base_alloc
 * is called; created on first use with pthread_once; re-created in fork
 * children by the allocator's fork handler).  The first interning boots
 * the allocator (hs_boot) if nothing did yet.
 * Publication order: an entry's fields and strings are written, then
 * count is stored (release), then its hash slot (release); readers load
 * count or the slot with acquire, so they never see a half-built entry.
 * Invariants: 1 <= index <= count for every frame handed out; every slot
 * is 0 (empty) or an index <= count; a table is at most half full; the
 * same triple is never stored twice (inserts happen under the mutex after
 * a second lookup in the current table).
 */
#ifndef HS_BT_SYMBOLIC_H
#define HS_BT_SYMBOLIC_H

#include <stdbool.h>

#include "../include/heapsight_hook.h"

/*
 * The triple behind a symbolic frame: true with *r_function (never NULL),
 * *r_file (NULL when none was given) and *r_line set, or false when f is
 * not a frame made by hs_frame_symbolic() in this process (or its fork
 * parent).  Lock-free; safe concurrently with interning, from any thread.
 * Out-parameters may be NULL.
 */
bool bt_symbolic_lookup(hs_frame_t f, const char **r_function,
                        const char **r_file, unsigned *r_line);

/* Number of distinct symbolic frames interned so far. */
unsigned bt_symbolic_count(void);

#endif /* HS_BT_SYMBOLIC_H */
