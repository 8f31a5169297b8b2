/*
 * boot.h — bringing the allocator up on its first call.
 *
 * Owns: the boot state machine, the order in which modules boot, the fork
 * handlers and the at-exit statistics.  Boot runs once, on whichever
 * thread allocates first; other threads wait for it.  Nothing here calls
 * the system malloc: the allocator has no one to fall back to.
 */
#ifndef HS_BOOT_H
#define HS_BOOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

enum { BOOT_NONE = 0, BOOT_RUNNING = 1, BOOT_DONE = 2, BOOT_FAILED = 3 };
extern _Atomic(int) boot_state;
/* Key of the free mark: free() writes ptr ^ key into a freed small region
 * so that a second free of it is recognised (see front.h). */
extern HS_HIDDEN uintptr_t boot_free_mark_key;

bool boot_slow(void);

/* True when the allocator is usable. */
static inline bool
hs_boot(void)
{
    return likely(atomic_load_explicit(&boot_state, memory_order_acquire) ==
                  BOOT_DONE) ||
           boot_slow();
}

#endif /* HS_BOOT_H */
