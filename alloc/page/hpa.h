/*
 * hpa.h — the hugepage-aware page allocator: an implementation of the PAI
 * (pai.h) that carves small and mid-size extents out of 2 MiB pageslabs,
 * packed densely (psset.h), and backs dense slabs with transparent huge
 * pages.  Larger requests, and any alignment above a page, go to the
 * arena's PAC.
 *
 * Owns: one arena's pageslabs and their metadata, the hugify and purge
 * schedule, and its counters.
 *   - A slab that becomes dense (hugify threshold of its pages active) is
 *     hugified (MADV_HUGEPAGE, then a collapse) only once it has stayed
 *     dense for hugify_delay_ms: one that empties and is purged before
 *     then is never hugified and split again.
 *   - Dirty pages (freed, still backed) are purged when they exceed
 *     dirty_mult x active pages, at most every min_purge_interval_ms, empty
 *     slabs first, then the slabs with the most dirty pages; a hugified
 *     slab is dehugified (MADV_NOHUGEPAGE) before any of it is purged.
 *   - Deferred work (hugify, purge) runs from hpa_deferred: allocation
 *     ticks or the background thread, told how long until it is due by
 *     the PAI's time_until_deferred_work.
 * Pageslabs are mapped from the OS 2 MiB at a time, hugepage-aligned, and
 * never unmapped (an empty purged slab is retained address space).
 *
 * Moving slabs: a shard that holds more than HPA_EMPTY_KEEP empty, purged
 * slabs sends the extra ones to the shard that last had to map a new slab,
 * through that shard's inbox (an MPSC queue of slabs; no second shard lock
 * is ever taken): address space is reused across arenas instead of mapped
 * anew.  Only empty slabs move, so no live extent changes shard.
 *
 * Frees: a free that finds the shard's mutex taken does not wait: it
 * queues the extent on the shard's MPSC queue (util/mpsc.h), and the next
 * holder of the mutex (an allocation, a free, deferred work, stats) takes
 * the queued frees first.
 *
 * Locking: one mutex per shard (HS_RANK_HPA, above the bin and guard
 * ranks; the PAC fallback and the edata cache are called without it).
 * Purging and hugifying madvise with the lock released: the slab is
 * marked purging (not picked for allocation) or hugified first.
 */
#ifndef HS_HPA_H
#define HS_HPA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../util/mpsc.h"
#include "../util/mutex.h"
#include "pac.h"
#include "pai.h"
#include "psset.h"

#define HPA_EMPTY_KEEP 4

typedef struct hpa_opts_s {
    size_t slab_max_alloc;     /* bytes; larger requests go to the PAC */
    uint64_t hugify_delay_ms;  /* dense this long before hugify */
    uint32_t hugify_threshold; /* active pages that make a slab dense */
    uint32_t dirty_mult_pct;   /* dirty pages allowed, % of active */
    uint64_t min_purge_interval_ms;
} hpa_opts_t;

typedef struct hpa_stats_s {
    size_t nslabs, nempty, nfull, nhugified; /* now */
    size_t nactive, ndirty, nretained;       /* pages, now */
    uint64_t nhugifies, ndehugifies, npurge_passes, npurged;
    size_t metadata;  /* bytes of slab metadata */
    uint64_t nremote; /* frees handed over through the queue */
    uint64_t nslabs_sent, nslabs_received; /* empty slabs moved */
    uint64_t nslabs_mapped; /* slabs this shard mapped from the OS */
} hpa_stats_t;

typedef struct hpa_shard_s {
    hs_mutex_t mtx;
    unsigned arena_ind;
    hpa_opts_t opts;
    pac_t *pac;             /* the fallback */
    psset_t psset;          /* guarded by mtx */
    uint64_t next_age;      /* guarded by mtx */
    uint64_t last_purge_ns; /* guarded by mtx */
    hpa_stats_t counters;   /* guarded by mtx: the cumulative ones */
    /* Frees that found mtx taken: queued (lock-free) for whoever holds it
     * next, so a free never waits on the shard.  Drained under mtx. */
    hs_mpsc_t remote;
    _Atomic(uint64_t) nremote; /* frees that went through the queue */
    hs_mpsc_t inbox;           /* empty slabs sent by other shards */
} hpa_shard_t;

/* The defaults of the options (the hpa_* options set them). */
void hpa_opts_default(hpa_opts_t *r_opts);
void hpa_shard_init(hpa_shard_t *s, unsigned arena_ind, pac_t *pac,
                    const hpa_opts_t *opts);
/* The PAI view of s. */
pai_t hpa_pai(hpa_shard_t *s);
/* Runs the hugify and purge work due at now_ns; returns pages purged. */
size_t hpa_deferred(hpa_shard_t *s, uint64_t now_ns);
/* Purges every dirty page of every slab now; returns pages purged. */
size_t hpa_purge_all(hpa_shard_t *s);
void hpa_stats(hpa_shard_t *s, hpa_stats_t *r_stats);

#endif /* HS_HPA_H */
