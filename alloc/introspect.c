/*
 * introspect.c — glibc's introspection entry points (mallinfo, mallinfo2,
 * malloc_stats, malloc_info, malloc_trim, mallopt) over heapsight's
 * statistics, so that no caller falls through to glibc's heap.
 *
 * Part of the shared library only (like export.c): a program linking the
 * internal modules keeps its own C library's versions.  malloc_info's
 * output goes through stdio because its interface is a FILE *; it is
 * formatted first and written after every allocator lock is released, so
 * the FILE's own buffer allocation can re-enter malloc safely.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "../include/heapsight.h"
#include "arena.h"
#include "boot.h"
#include "stats.h"
#include "tcache.h"
#include "tsd.h"
#include "util/fmt.h"

static size_t
clamp_int(size_t v)
{
    return v > (size_t)0x7fffffff ? (size_t)0x7fffffff : v;
}

HS_API struct mallinfo2
mallinfo2(void)
{
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof(mi));
    if (!hs_boot())
        return mi;
    stats_snapshot_t s;
    stats_refresh(&s);
    mi.arena = s.mapped;
    mi.uordblks = s.allocated;
    mi.fordblks = s.mapped > s.allocated ? s.mapped - s.allocated : 0;
    mi.hblks = (size_t)(s.nlarge_malloc - s.nlarge_dalloc);
    mi.keepcost = s.dirty;
    return mi;
}

HS_API struct mallinfo
mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo mi;
    memset(&mi, 0, sizeof(mi));
    mi.arena = (int)clamp_int(m2.arena);
    mi.uordblks = (int)clamp_int(m2.uordblks);
    mi.fordblks = (int)clamp_int(m2.fordblks);
    mi.hblks = (int)clamp_int(m2.hblks);
    mi.keepcost = (int)clamp_int(m2.keepcost);
    return mi;
}

HS_API void
malloc_stats(void)
{
    if (hs_boot())
        stats_print(2);
}

HS_API int
malloc_info(int options, FILE *fp)
{
    if (options != 0 || fp == NULL)
        return -1;
    if (!hs_boot())
        return -1;
    stats_snapshot_t s;
    stats_refresh(&s);
    char buf[1024];
    hs_snprintf(buf, sizeof(buf),
                "<malloc version=\"heapsight-%s\">\n"
                "<total type=\"allocated\" size=\"%zu\"/>\n"
                "<total type=\"active\" size=\"%zu\"/>\n"
                "<total type=\"resident\" size=\"%zu\"/>\n"
                "<total type=\"mapped\" size=\"%zu\"/>\n"
                "<total type=\"retained\" size=\"%zu\"/>\n"
                "<total type=\"metadata\" size=\"%zu\"/>\n"
                "<arenas count=\"%u\"/>\n"
                "</malloc>\n",
                HS_VERSION, s.allocated, s.active, s.resident, s.mapped,
                s.retained, s.metadata, narenas_total);
    return fputs(buf, fp) < 0 ? -1 : 0;
}

HS_API int
malloc_trim(size_t pad)
{
    (void)pad;
    if (!hs_boot())
        return 0;
    tsd_t *tsd = tsd_get();
    if (tsd->state == TSD_NOMINAL)
        tcache_flush_all(&tsd->tcache);
    size_t purged = 0;
    for (unsigned i = 0; i < narenas_total; i++) {
        arena_t *a = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (a != NULL)
            purged += arena_purge(a);
    }
    return purged != 0;
}

/* glibc's tuning parameters are accepted (returning success, as glibc
 * does) and have no effect: heapsight's own options are in HEAPSIGHT. */
HS_API int
mallopt(int param, int value)
{
    (void)value;
    switch (param) {
    case M_MXFAST:
    case M_TRIM_THRESHOLD:
    case M_TOP_PAD:
    case M_MMAP_THRESHOLD:
    case M_MMAP_MAX:
    case M_CHECK_ACTION:
    case M_PERTURB:
    case M_ARENA_TEST:
    case M_ARENA_MAX:
        return 1;
    default:
        return 0;
    }
}
