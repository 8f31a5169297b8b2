/*
 * foreign.h — live sampled objects of other allocators (hs_prof_domain
 * users such as pymalloc), keyed by address.
 *
 * Owns: a hash map from address to record, for the few objects that were
 * sampled (about one per prof_sample bytes), so a free event can tell in
 * one atomic load (a presence filter by address) that its object is not
 * sampled, and otherwise in one locked lookup.
 * Locking: one mutex (HS_RANK_PROF), never held while a site lock is.
 */
#ifndef HS_PROF_FOREIGN_H
#define HS_PROF_FOREIGN_H

#include <stdbool.h>

#include "site.h"

void foreign_boot(void);
/* True when any foreign object is being tracked. */
bool foreign_any(void);
/* False when ptr is certainly not tracked (one load, no lock); true when
 * it may be (then foreign_take says). */
bool foreign_maybe(const void *ptr);
/* Tracks ptr; false on OOM (the caller keeps rec).  If ptr was tracked
 * already (its free was never reported), *r_displaced gets its old record
 * for the caller to release. */
bool foreign_put(void *ptr, prof_rec_t *rec, prof_rec_t **r_displaced);
/* Stops tracking ptr and returns its record, or NULL if untracked. */
prof_rec_t *foreign_take(void *ptr);

#endif /* HS_PROF_FOREIGN_H */
