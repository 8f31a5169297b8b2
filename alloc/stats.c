/*
 * stats.c — the statistics snapshot and the human-readable report (see
 * stats.h).  Reports are formatted with the signal-safe writer.
 */
#include "stats.h"

#include <string.h>

#include "../include/heapsight.h"
#include "arena.h"
#include "boot.h"
#include "extent/base.h"
#include "opts.h"
#include "page/pac.h"
#include "sz.h"
#include "tsd.h"
#include "util/fmt.h"
#include "util/mutex.h"

static hs_mutex_t stats_mtx;
static stats_snapshot_t last; /* guarded by stats_mtx */

void
stats_boot(void)
{
    hs_mutex_init(&stats_mtx, HS_RANK_CTL);
}

static void
compute(stats_snapshot_t *s)
{
    memset(s, 0, sizeof(*s));
    size_t reserved = 0;
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (a == NULL)
            continue;
        arena_stats_t as;
        arena_stats(a, &as);
        s->active += as.active;
        s->dirty += as.pa.dirty;
        s->muzzy += as.pa.muzzy;
        s->retained += as.pa.retained;
        reserved += as.pa.mapped;
        s->nlarge_malloc += as.nlarge_malloc;
        s->nlarge_dalloc += as.nlarge_dalloc;
        s->npurges += as.pa.npurges;
        s->nmadvise += as.pa.nmadvise;
    }
    uint64_t a, d;
    tsd_totals(&a, &d);
    s->allocated = a > d ? (size_t)(a - d) : 0;
    if (s->allocated > s->active)
        s->allocated = s->active; /* counters read while threads run */
    s->metadata = base_allocated();
    /* Muzzy pages stay resident until the kernel reclaims them. */
    s->resident = s->active + s->dirty + s->muzzy + s->metadata;
    s->mapped = reserved - s->retained + base_mapped();
    if (s->mapped < s->resident)
        s->mapped = s->resident;
}

void
stats_refresh(stats_snapshot_t *r)
{
    /* Computed outside the lock: the arenas' and the thread list's locks
     * are of this one's rank (ctl), and two of a rank never nest. */
    stats_snapshot_t s;
    compute(&s);
    hs_mutex_lock(&stats_mtx);
    last = s;
    hs_mutex_unlock(&stats_mtx);
    if (r != NULL)
        *r = s;
}

void
stats_last(stats_snapshot_t *r)
{
    hs_mutex_lock(&stats_mtx);
    *r = last;
    hs_mutex_unlock(&stats_mtx);
}

static void
print_bins(int fd, arena_t *a)
{
    hs_dprintf(fd, "  %8s %8s %6s %10s %14s %14s\n", "size", "slab", "slabs",
               "regs", "fills", "flushes");
    for (unsigned i = 0; i < SZ_NBINS; i++) {
        bin_t *b = &a->bins[i];
        hs_mutex_lock(&b->mtx);
        size_t slabs = b->curslabs, regs = b->curregs;
        uint64_t fills = b->nfills, flushes = b->nflushes;
        hs_mutex_unlock(&b->mtx);
        if (fills == 0)
            continue;
        hs_dprintf(fd, "  %8zu %8zu %6zu %10zu %14llu %14llu\n",
                   bin_infos[i].reg_size, bin_infos[i].slab_size, slabs, regs,
                   (unsigned long long)fills, (unsigned long long)flushes);
    }
}

void
stats_print(int fd)
{
    stats_snapshot_t s;
    stats_refresh(&s);
    hs_dprintf(fd, "___ heapsight %s statistics ___\n", HS_VERSION);
    hs_dprintf(fd,
               "options: narenas:%u tcache:%s dirty_decay_ms:%zd "
               "muzzy_decay_ms:%zd background_thread:%s\n",
               narenas_total, opt_tcache ? "true" : "false", opt_dirty_decay_ms,
               opt_muzzy_decay_ms, opt_background_thread ? "true" : "false");
    hs_dprintf(fd,
               "allocated: %zu, active: %zu, metadata: %zu, resident: %zu, "
               "mapped: %zu, retained: %zu, dirty: %zu, muzzy: %zu\n",
               s.allocated, s.active, s.metadata, s.resident, s.mapped,
               s.retained, s.dirty, s.muzzy);
    hs_dprintf(fd,
               "large: %llu allocations, %llu frees; purges: %llu "
               "(%llu madvise calls)\n",
               (unsigned long long)s.nlarge_malloc,
               (unsigned long long)s.nlarge_dalloc,
               (unsigned long long)s.npurges, (unsigned long long)s.nmadvise);
    pac_guard_stats_t gs;
    pac_guard_stats(&gs);
    hs_dprintf(fd,
               "guard pages: %zu in place (budget %zu), %llu guarded "
               "requests served unguarded\n",
               gs.live, gs.budget, (unsigned long long)gs.skipped);
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (a == NULL)
            continue;
        arena_stats_t as;
        arena_stats(a, &as);
        hs_dprintf(fd,
                   "arena %u: threads %u, small %zu B, large %zu B, "
                   "dirty %zu B, muzzy %zu B, retained %zu B\n",
                   i, atomic_load(&a->nthreads), as.small_allocated,
                   as.large_allocated, as.pa.dirty, as.pa.muzzy,
                   as.pa.retained);
        print_bins(fd, a);
    }
    hs_dprintf(fd, "___ end of heapsight statistics ___\n");
}
