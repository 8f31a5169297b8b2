/*
 * ctl.c — hs_ctl(): the named control and statistics nodes.
 *
 * Owns: the node table and mallctl's calling convention: oldp/oldlenp read
 * the old value (*oldlenp must equal its size, else EINVAL), newp/newlen
 * write a new one (newlen must equal its size, else EINVAL; EPERM on a
 * read-only node); ENOENT for an unknown name.  opt.<name> nodes come from
 * the option table.  stats.* read the snapshot of the last "epoch" write.
 * Takes no lock itself; the modules it calls take theirs.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../include/heapsight.h"
#include "arena.h"
#include "background.h"
#include "boot.h"
#include "check.h"
#include "ctl.h"
#include "opts.h"
#include "stats.h"
#include "tcache.h"
#include "tsd.h"

typedef struct ctl_args_s {
    void *oldp;
    size_t *oldlenp;
    void *newp;
    size_t newlen;
} ctl_args_t;

static int
ctl_read(const ctl_args_t *a, const void *v, size_t size)
{
    if (a->oldp == NULL || a->oldlenp == NULL)
        return 0;
    if (*a->oldlenp != size) {
        size_t n = *a->oldlenp < size ? *a->oldlenp : size;
        memcpy(a->oldp, v, n);
        *a->oldlenp = n;
        return EINVAL;
    }
    memcpy(a->oldp, v, size);
    return 0;
}

static int
ctl_readonly(const ctl_args_t *a, const void *v, size_t size)
{
    if (a->newp != NULL || a->newlen != 0)
        return EPERM;
    return ctl_read(a, v, size);
}

static int
ctl_no_value(const ctl_args_t *a)
{
    if (a->oldp != NULL || a->newp != NULL || a->newlen != 0)
        return EPERM;
    return 0;
}

/* ---- nodes ---- */

static int
node_version(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    const char *v = HS_VERSION;
    return ctl_readonly(a, &v, sizeof(v));
}

static uint64_t epoch = 1;

static int
node_epoch(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    if (a->newp != NULL) {
        if (a->newlen != sizeof(uint64_t))
            return EINVAL;
        stats_refresh(NULL);
        __atomic_add_fetch(&epoch, 1, __ATOMIC_RELAXED);
    }
    uint64_t v = __atomic_load_n(&epoch, __ATOMIC_RELAXED);
    return ctl_read(a, &v, sizeof(v));
}

/* stats.<field>: arg is the field's offset in the snapshot. */
static int
node_stats(const ctl_args_t *a, size_t off)
{
    stats_snapshot_t s;
    stats_last(&s);
    size_t v;
    memcpy(&v, (const char *)&s + off, sizeof(v));
    return ctl_readonly(a, &v, sizeof(v));
}

static int
node_background_thread(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    bool old = background_running();
    if (a->newp != NULL || a->newlen != 0) {
        bool on;
        if (a->newp == NULL || a->newlen != sizeof(on))
            return EINVAL;
        memcpy(&on, a->newp, sizeof(on));
        int err = background_set(on);
        if (err != 0)
            return err;
    }
    return ctl_read(a, &old, sizeof(old));
}

/* stats.background_thread.*: num_threads (size_t), num_runs and
 * run_interval (uint64_t, nanoseconds). */
static int
node_bg_stats(const ctl_args_t *a, size_t which)
{
    background_stats_t st;
    background_stats(&st);
    if (which == 0) {
        size_t v = st.num_threads;
        return ctl_readonly(a, &v, sizeof(v));
    }
    uint64_t v = which == 1 ? st.num_runs : st.run_interval_ns;
    return ctl_readonly(a, &v, sizeof(v));
}

/* stats.edata.*: the default descriptor cache: in_use and cached
 * (size_t), nrecycled (uint64_t: descriptors handed out again). */
static int
node_edata_stats(const ctl_args_t *a, size_t which)
{
    size_t in_use, cached;
    uint64_t nrecycled;
    edata_cache_stats(&in_use, &cached, &nrecycled);
    if (which < 2) {
        size_t v = which == 0 ? in_use : cached;
        return ctl_readonly(a, &v, sizeof(v));
    }
    return ctl_readonly(a, &nrecycled, sizeof(nrecycled));
}

/* stats.san.*: guards (guard pages in place) and guard_budget (size_t),
 * nskipped (uint64_t: guarded requests served unguarded). */
static int
node_san_stats(const ctl_args_t *a, size_t which)
{
    pac_guard_stats_t st;
    pac_guard_stats(&st);
    if (which < 2) {
        size_t v = which == 0 ? st.live : st.budget;
        return ctl_readonly(a, &v, sizeof(v));
    }
    return ctl_readonly(a, &st.skipped, sizeof(st.skipped));
}

/* arenas.create: oldp receives the new arena's index (unsigned); newp, if
 * given, is an hs_arena_config_t. */
static int
node_arenas_create(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    hs_arena_config_t cfg = {0};
    if (a->newp != NULL || a->newlen != 0) {
        if (a->newp == NULL || a->newlen != sizeof(cfg))
            return EINVAL;
        memcpy(&cfg, a->newp, sizeof(cfg));
    }
    if (a->oldp == NULL || a->oldlenp == NULL)
        return EFAULT; /* the index must go somewhere */
    if (*a->oldlenp != sizeof(unsigned))
        return EINVAL;
    unsigned ind;
    int err = arena_create(a->newp != NULL ? &cfg : NULL, &ind);
    if (err != 0)
        return err;
    return ctl_read(a, &ind, sizeof(ind));
}

static int
node_narenas(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    unsigned v = narenas_total;
    return ctl_readonly(a, &v, sizeof(v));
}

static int
node_thread_arena(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    tsd_t *tsd = tsd_fetch_slow();
    if (tsd == NULL)
        return EAGAIN;
    unsigned old = tsd->arena->ind;
    if (a->newp != NULL) {
        unsigned ind;
        if (a->newlen != sizeof(ind))
            return EINVAL;
        memcpy(&ind, a->newp, sizeof(ind));
        if (ind >= narenas_total)
            return EINVAL;
        arena_t *ar = arena_get(ind);
        if (ar == NULL)
            return ind < narenas_auto ? EAGAIN : EINVAL;
        tsd_set_arena(tsd, ar);
    }
    return ctl_read(a, &old, sizeof(old));
}

static int
node_thread_tcache_flush(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    int err = ctl_no_value(a);
    if (err != 0)
        return err;
    tsd_t *tsd = tsd_fetch_slow();
    if (tsd != NULL && tsd->state == TSD_NOMINAL) {
        tcache_flush_all(&tsd->tcache);
        tsd_prof_pages_flush(tsd);
    }
    return 0;
}

static int
node_thread_allocated(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    uint64_t v = tsd_get()->allocated;
    return ctl_readonly(a, &v, sizeof(v));
}

static int
node_thread_deallocated(const ctl_args_t *a, size_t arg)
{
    (void)arg;
    uint64_t v = tsd_get()->deallocated;
    return ctl_readonly(a, &v, sizeof(v));
}

/* opt.<name>: read-only copies of the option values, by type. */
static int
ctl_opt_BOOL(const ctl_args_t *a, const bool *v)
{
    return ctl_readonly(a, v, sizeof(*v));
}

static int
ctl_opt_UINT(const ctl_args_t *a, const unsigned *v)
{
    return ctl_readonly(a, v, sizeof(*v));
}

static int
ctl_opt_MS(const ctl_args_t *a, const ssize_t *v)
{
    return ctl_readonly(a, v, sizeof(*v));
}

static int
ctl_opt_SIZE(const ctl_args_t *a, const size_t *v)
{
    return ctl_readonly(a, v, sizeof(*v));
}

static int
ctl_opt_STR(const ctl_args_t *a, const opt_STR_t *v)
{
    const char *s = *v;
    return ctl_readonly(a, &s, sizeof(s));
}

#define OPT_NODE(type, name, def, min, max, doc)                               \
    static int node_opt_##name(const ctl_args_t *a, size_t arg)                \
    {                                                                          \
        (void)arg;                                                             \
        return ctl_opt_##type(a, &opt_##name);                                 \
    }
HS_OPTIONS(OPT_NODE)
#undef OPT_NODE

typedef struct ctl_node_s {
    const char *name;
    int (*fn)(const ctl_args_t *a, size_t arg);
    size_t arg;
} ctl_node_t;

static const ctl_node_t nodes[] = {
    {"version", node_version, 0},
    {"epoch", node_epoch, 0},
    {"stats.allocated", node_stats, offsetof(stats_snapshot_t, allocated)},
    {"stats.active", node_stats, offsetof(stats_snapshot_t, active)},
    {"stats.resident", node_stats, offsetof(stats_snapshot_t, resident)},
    {"stats.mapped", node_stats, offsetof(stats_snapshot_t, mapped)},
    {"stats.retained", node_stats, offsetof(stats_snapshot_t, retained)},
    {"stats.metadata", node_stats, offsetof(stats_snapshot_t, metadata)},
    {"stats.dirty", node_stats, offsetof(stats_snapshot_t, dirty)},
    {"stats.muzzy", node_stats, offsetof(stats_snapshot_t, muzzy)},
    {"background_thread", node_background_thread, 0},
    {"stats.edata.in_use", node_edata_stats, 0},
    {"stats.edata.cached", node_edata_stats, 1},
    {"stats.edata.nrecycled", node_edata_stats, 2},
    {"stats.san.guards", node_san_stats, 0},
    {"stats.san.guard_budget", node_san_stats, 1},
    {"stats.san.nskipped", node_san_stats, 2},
    {"stats.background_thread.num_threads", node_bg_stats, 0},
    {"stats.background_thread.num_runs", node_bg_stats, 1},
    {"stats.background_thread.run_interval", node_bg_stats, 2},
    {"arenas.narenas", node_narenas, 0},
    {"arenas.create", node_arenas_create, 0},
    {"thread.arena", node_thread_arena, 0},
    {"thread.tcache.flush", node_thread_tcache_flush, 0},
    {"thread.allocated", node_thread_allocated, 0},
    {"thread.deallocated", node_thread_deallocated, 0},
#define OPT_ENTRY(type, name, def, min, max, doc)                              \
    {"opt." #name, node_opt_##name, 0},
    HS_OPTIONS(OPT_ENTRY)
#undef OPT_ENTRY
};

/* ---- the extension table ---- */

#define CTL_EXT_MAX 64
static const ctl_ext_node_t *ext_nodes[CTL_EXT_MAX];
static size_t ext_count;

bool
ctl_register(const ctl_ext_node_t *nodes, size_t n)
{
    if (ext_count + n > CTL_EXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        ext_nodes[ext_count + i] = &nodes[i];
    __atomic_store_n(&ext_count, ext_count + n, __ATOMIC_RELEASE);
    return true;
}

int
ctl_value_read(void *oldp, size_t *oldlenp, const void *v, size_t size)
{
    ctl_args_t a = {oldp, oldlenp, NULL, 0};
    return ctl_read(&a, v, size);
}

int
ctl_value_write(const void *newp, size_t newlen, void *v, size_t size,
                bool *r_set)
{
    *r_set = false;
    if (newp == NULL)
        return newlen == 0 ? 0 : EINVAL;
    if (newlen != size)
        return EINVAL;
    memcpy(v, newp, size);
    *r_set = true;
    return 0;
}

static const ctl_ext_node_t *
ctl_ext_find(const char *name)
{
    size_t n = __atomic_load_n(&ext_count, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, ext_nodes[i]->name) == 0)
            return ext_nodes[i];
    return NULL;
}

/* arena.<i>.<what>, i an arena index or HS_ARENAS_ALL (purge and decay
 * only):
 *   purge           purge every dirty and muzzy page now (no value; for
 *                   HS_ARENAS_ALL, junk:free's quarantine is freed too)
 *   decay           purge what the decay curves allow now (no value)
 *   dirty_decay_ms, muzzy_decay_ms   read/write (ssize_t; -1 .. 86400000)
 */
static int
ctl_arena_node(const char *name, const ctl_args_t *a)
{
    const char *p = name + strlen("arena.");
    char *end;
    if (*p < '0' || *p > '9')
        return ENOENT;
    unsigned long i = strtoul(p, &end, 10);
    if (end == p || *end != '.')
        return ENOENT;
    const char *what = end + 1;
    bool all = i == HS_ARENAS_ALL;
    if (!all && i >= ARENAS_MAX)
        return ENOENT;
    if (strcmp(what, "reset") == 0 || strcmp(what, "destroy") == 0) {
        int err = ctl_no_value(a);
        if (err != 0 || all)
            return err != 0 ? err : ENOENT;
        return what[0] == 'r' ? arena_reset((unsigned)i)
                              : arena_destroy((unsigned)i);
    }
    if (strcmp(what, "extent_hooks") == 0) {
        if (all)
            return ENOENT;
        arena_t *ar = atomic_load_explicit(&arenas[i], memory_order_acquire);
        if (ar == NULL)
            return ENOENT;
        const hs_extent_hooks_t *h = ar->hooks;
        return ctl_readonly(a, &h, sizeof(h));
    }
    bool purge = strcmp(what, "purge") == 0, decay = strcmp(what, "decay") == 0;
    if (purge || decay) {
        int err = ctl_no_value(a);
        if (err != 0)
            return err;
        /* A purge of every arena also frees (after verifying them) the
         * large blocks junk:free's quarantine holds. */
        if (purge && all)
            check_quarantine_drain();
        for (unsigned k = all ? 0 : (unsigned)i;
             k < (all ? narenas_total : (unsigned)i + 1); k++) {
            arena_t *ar =
                atomic_load_explicit(&arenas[k], memory_order_acquire);
            if (ar != NULL)
                (void)(purge ? arena_purge(ar) : arena_decay(ar));
        }
        return 0;
    }
    bool dirty = strcmp(what, "dirty_decay_ms") == 0,
         muzzy = strcmp(what, "muzzy_decay_ms") == 0;
    if ((!dirty && !muzzy) || all)
        return ENOENT;
    arena_t *ar = arena_get((unsigned)i);
    if (ar == NULL)
        return i < narenas_auto ? EAGAIN : ENOENT;
    pac_t *pac = &ar->pa.pac;
    ssize_t old = (ssize_t)atomic_load_explicit(dirty ? &pac->dirty_decay_ms
                                                      : &pac->muzzy_decay_ms,
                                                memory_order_relaxed);
    if (a->newp != NULL || a->newlen != 0) {
        ssize_t ms;
        if (a->newp == NULL || a->newlen != sizeof(ms))
            return EINVAL;
        memcpy(&ms, a->newp, sizeof(ms));
        if (ms < -1 || ms > 86400000)
            return EINVAL;
        if (dirty)
            pac_set_dirty_decay_ms(pac, ms);
        else
            pac_set_muzzy_decay_ms(pac, ms);
    }
    return ctl_read(a, &old, sizeof(old));
}

/* stats.arenas.<i>.<field>: the page counters of arena i (zero for an
 * arena not created yet). */
static int
ctl_arena_stats_node(const char *name, const ctl_args_t *a)
{
    const char *p = name + strlen("stats.arenas.");
    char *end;
    if (*p < '0' || *p > '9')
        return ENOENT;
    unsigned long i = strtoul(p, &end, 10);
    if (end == p || *end != '.' || i >= narenas_total)
        return ENOENT;
    const char *what = end + 1;
    arena_stats_t st = {0};
    hpa_stats_t hs = {0};
    arena_t *ar = atomic_load_explicit(&arenas[i], memory_order_acquire);
    if (ar != NULL) {
        arena_stats(ar, &st);
        if (ar->pa.use_hpa)
            hpa_stats(&ar->pa.hpa, &hs);
    }
    const struct {
        const char *name;
        size_t v;
    } sizes[] = {
        {"pdirty", st.pa.dirty / PAGE},  {"pmuzzy", st.pa.muzzy / PAGE},
        {"mapped", st.pa.mapped},        {"retained", st.pa.retained},
        {"pactive", st.active / PAGE},   {"hpa_nslabs", hs.nslabs},
        {"hpa_nhugified", hs.nhugified}, {"hpa_nempty", hs.nempty},
        {"hpa_nfull", hs.nfull},         {"hpa_pactive", hs.nactive},
        {"hpa_pdirty", hs.ndirty},       {"hpa_pretained", hs.nretained},
        {"hpa_metadata", hs.metadata},
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        if (strcmp(what, sizes[k].name) == 0)
            return ctl_readonly(a, &sizes[k].v, sizeof(size_t));
    const struct {
        const char *name;
        uint64_t v;
    } counts[] = {
        {"dirty_npurge", st.pa.dirty_purge.npurge},
        {"dirty_nmadvise", st.pa.dirty_purge.nmadvise},
        {"dirty_purged", st.pa.dirty_purge.purged},
        {"muzzy_npurge", st.pa.muzzy_purge.npurge},
        {"muzzy_nmadvise", st.pa.muzzy_purge.nmadvise},
        {"muzzy_purged", st.pa.muzzy_purge.purged},
        {"nguarded", ar == NULL ? 0 : atomic_load(&ar->pa.pac.nguarded)},
        {"hpa_nhugifies", hs.nhugifies},
        {"hpa_ndehugifies", hs.ndehugifies},
        {"hpa_npurge_passes", hs.npurge_passes},
        {"hpa_npurged", hs.npurged},
    };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
        if (strcmp(what, counts[k].name) == 0)
            return ctl_readonly(a, &counts[k].v, sizeof(uint64_t));
    return ENOENT;
}

HS_API int
hs_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    if (name == NULL)
        return EINVAL;
    if (!hs_boot())
        return EAGAIN;
    ctl_args_t a = {oldp, oldlenp, newp, newlen};
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
        if (strcmp(name, nodes[i].name) == 0)
            return nodes[i].fn(&a, nodes[i].arg);
    const ctl_ext_node_t *ext = ctl_ext_find(name);
    if (ext != NULL)
        return ext->fn(oldp, oldlenp, newp, newlen);
    if (strncmp(name, "arena.", 6) == 0)
        return ctl_arena_node(name, &a);
    if (strncmp(name, "stats.arenas.", 13) == 0)
        return ctl_arena_stats_node(name, &a);
    return ENOENT;
}
