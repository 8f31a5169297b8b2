/*
 * boot.c — module boot order, fork handlers and the exit hook (see
 * boot.h).
 *
 * Boot order follows the layers bottom-up: options, size classes, base,
 * edata cache, rtree, arenas, thread caches, thread state.  The fork
 * handlers are registered last, after the allocator already works, since
 * pthread_atfork may itself allocate.
 */
#include "boot.h"

#include <pthread.h>
#include <sched.h>
#include <sys/auxv.h>

#include "arena.h"
#include "background.h"
#include "check.h"
#include "extent/base.h"
#include "extent/edata.h"
#include "extent/rtree.h"
#include "opts.h"
#include "os/pages.h"
#include "page/pac.h"
#include "stats.h"
#include "sz.h"
#include "tcache.h"
#include "tsd.h"
#include "util/fmt.h"
#include "util/mutex.h"

_Atomic(int) boot_state;
uintptr_t boot_free_mark_key;

static unsigned
ncpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? (unsigned)n : 1;
}

static uintptr_t
random_key(void)
{
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    uintptr_t k = 0x9e3779b97f4a7c15u;
    if (r != NULL)
        for (int i = 0; i < 8; i++)
            k = (k << 8 | (k >> 56)) ^ r[i + 8];
    /* Never 0, and never with the low bits of an aligned pointer clear. */
    return k | 1;
}

static void
prefork(void)
{
    hs_mutex_prefork();
    pages_prefork(); /* a leaf: last */
}

static void
postfork_parent(void)
{
    pages_postfork();
    hs_mutex_postfork_parent();
}

static void
postfork_child(void)
{
    pages_postfork();
    hs_mutex_postfork_child();
    background_postfork_child();
    tsd_postfork_child();
}

static bool
boot_modules(void)
{
    opts_parse();
    hs_misuse_aborts = opt_abort_on_error;
    check_boot(); /* before the first slab: it sets how slabs are mapped */
    if (opt_hpa_dehugification_threshold[0] != '\0')
        hs_dprintf(2, "heapsight: hpa_dehugification_threshold is accepted "
                      "and ignored (pageslabs are dehugified before any "
                      "purge)\n");
    sz_boot();
    base_boot();
    edata_cache_boot();
    rtree_boot();
    unsigned n = opt_narenas != 0 ? opt_narenas : 4 * ncpus();
    if (!arenas_boot(n, opt_dirty_decay_ms, opt_muzzy_decay_ms))
        return false;
    tcache_boot();
    stats_boot();
    background_boot();
    /* Each guard page splits a mapping in two (two more kernel mappings):
     * a quarter of the limit leaves half of it to the program. */
    pac_guard_budget_set(pages_max_map_count() / 4);
    boot_free_mark_key = random_key();
    return tsd_boot();
}

bool
boot_slow(void)
{
    int expected = BOOT_NONE;
    if (atomic_compare_exchange_strong(&boot_state, &expected, BOOT_RUNNING)) {
        bool ok = boot_modules();
        atomic_store_explicit(&boot_state, ok ? BOOT_DONE : BOOT_FAILED,
                              memory_order_release);
        if (ok)
            pthread_atfork(prefork, postfork_parent, postfork_child);
        return ok;
    }
    int s;
    while ((s = atomic_load_explicit(&boot_state, memory_order_acquire)) ==
           BOOT_RUNNING)
        sched_yield();
    return s == BOOT_DONE;
}

__attribute__((destructor)) static void
boot_at_exit(void)
{
    if (atomic_load_explicit(&boot_state, memory_order_acquire) == BOOT_DONE &&
        opt_stats_print)
        stats_print(2);
}
