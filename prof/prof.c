/*
 * prof.c — the profiler's start-up and its side of the allocator
 * interface: when to sample, what to record, what to do on free, and the
 * calls other allocators make (hs_prof_domain, hs_prof_*_event).
 *
 * Start-up runs in a library constructor, outside malloc: it loads the
 * unwinder (dlopen of libunwind happens here, never inside malloc),
 * installs the allocator hooks, registers the control nodes and starts
 * the dump machinery (dump.c) and the listener of `heapsight attach`
 * (attach.c).  With opt.prof off it does nothing and the
 * allocator's sample event never fires.
 *
 * The top of prof/: it calls every other module and none calls it (the
 * allocator reaches it only through the hooks it installs, programs
 * through its hs_* functions), so it has no header of its own.
 *
 * Locking: none of its own beyond the modules it calls; everything on the
 * sampling path runs with the thread's reentrancy guard held (taken by
 * the allocator for sampled/sampled_free, here for foreign events).
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "../alloc/boot.h"
#include "../alloc/opts.h"
#include "../alloc/prof_hooks.h"
#include "../alloc/tsd.h"
#include "../alloc/util/fmt.h"
#include "../backtrace_hooks/hook_chain.h"
#include "../backtrace_hooks/symbolic.h"
#include "../backtrace_hooks/unwind.h"
#include "activity.h"
#include "attach.h"
#include "dump.h"
#include "foreign.h"
#include "hooks.h"
#include "names.h"
#include "prof_ctl.h"
#include "sample.h"
#include "site.h"

/* Frames captured per sample at most (prof_bt_max is at most this). */
#define PROF_BT_CAP 1024

static bool enabled;
static uintptr_t self_lo, self_hi; /* heapsight's own code */

typedef struct prof_tls_s {
    unsigned extra;     /* hs_sample_label of the sample being taken */
    bool capturing;     /* inside capture: hooks may label */
    bool foreign_armed; /* foreign_left is drawn */
    uint64_t foreign_left;
} prof_tls_t;

static HS_TLS prof_tls_t tls; /* owner thread only */

/* ---- stacks ---- */

/*
 * The C++ runtime's operator new (and new[], nothrow and aligned forms)
 * only forward to malloc: their frames are trimmed with heapsight's own,
 * so a C++ stack starts at the program's `new`.  heapsight defines every
 * form itself (alloc/export.c), so dlsym finds those inside heapsight;
 * these entries matter when the program binds to the runtime's (a
 * libstdc++ ahead of heapsight in lookup order, or the runtime's operator
 * retrying after a failed allocation).  Found at start-up with dlsym (the
 * ones of a libstdc++ loaded later are not trimmed).
 */
enum { NEW_FNS = 8 };
static struct {
    uintptr_t lo, hi;
} new_fns[NEW_FNS];
static unsigned n_new_fns;

static void
find_operator_new(void)
{
    static const char *const names[NEW_FNS] = {
        "_Znwm",
        "_Znam",
        "_ZnwmRKSt9nothrow_t",
        "_ZnamRKSt9nothrow_t",
        "_ZnwmSt11align_val_t",
        "_ZnamSt11align_val_t",
        "_ZnwmSt11align_val_tRKSt9nothrow_t",
        "_ZnamSt11align_val_tRKSt9nothrow_t"};
    for (unsigned i = 0; i < NEW_FNS; i++) {
        void *fn = dlsym(RTLD_DEFAULT, names[i]);
        Dl_info di;
        const ElfW(Sym) *sym = NULL;
        if (fn == NULL || !dladdr1(fn, &di, (void **)&sym, RTLD_DL_SYMENT) ||
            sym == NULL)
            continue;
        new_fns[n_new_fns].lo = (uintptr_t)fn;
        new_fns[n_new_fns].hi = (uintptr_t)fn + sym->st_size;
        n_new_fns++;
    }
}

static bool
in_self(hs_frame_t f)
{
    if (f >= self_lo && f < self_hi)
        return true;
    /* A return address points just past the call, inside the caller. */
    for (unsigned i = 0; i < n_new_fns; i++)
        if (f > new_fns[i].lo && f <= new_fns[i].hi)
            return true;
    return false;
}

/* The calling thread's stack, innermost first, starting at the program's
 * call into heapsight, after the backtrace hooks ran; returns the count. */
static unsigned
capture(hs_frame_t *frames, unsigned max)
{
    hs_frame_t raw[PROF_BT_CAP + 32];
    unsigned n =
        bt_unwind(raw, max + 32 <= PROF_BT_CAP + 32 ? max + 32 : PROF_BT_CAP);
    unsigned skip = 0;
    while (skip < n && in_self(raw[skip]))
        skip++;
    n -= skip;
    if (n > max)
        n = max;
    memcpy(frames, raw + skip, n * sizeof(hs_frame_t));
    bt_hooks_run(frames, &n, max);
    return n;
}

/* Finds the executable segment of the object holding this code. */
static int
self_range_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t probe = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (probe >= lo && probe < lo + ph->p_memsz) {
            self_lo = lo;
            self_hi = lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

/* ---- the allocator's hooks ---- */

static uint64_t
hook_next_sample(void)
{
    return sample_next_gap();
}

/*
 * Records one sampled object; shared by malloc and foreign allocators.
 * usize is what the countdown counted (the weight's size) and the site's
 * "bytes" label; size is what the program asked for, the unit of every
 * space estimate (docs/PROFILING.md, "Units"): weight * size is unbiased
 * for the requested bytes, since the weight is 1 / P(sampled) whatever
 * the countdown counts.
 */
static prof_rec_t *
record_sample(void *ptr, size_t size, size_t usize, unsigned domain)
{
    hs_frame_t frames[PROF_BT_CAP];
    tls.extra = 0;
    tls.capturing = true;
    unsigned n = capture(frames, opt_prof_bt_max);
    tls.capturing = false;
    double w = sample_weight(usize, sample_interval());
    prof_rec_t *rec = site_record_alloc(
        frames, n, usize, size, names_thread_label(), domain, tls.extra, w);
    prof_hooks_run_sample(ptr, size, usize, frames, n);
    dump_note_sample(w * (double)size);
    return rec;
}

/* A malloc is weighed by its usable size; another allocator's block by
 * the size its own countdown used, as hs_prof_alloc_event does. */
static void *
hook_sampled(void *ptr, size_t size, size_t usize, unsigned domain)
{
    if (!activity_sampling_now())
        return NULL;
    return record_sample(ptr, size, domain == 0 ? usize : size, domain);
}

static void
hook_sampled_free(void *ptr, size_t usize, void *rec)
{
    site_record_free(rec);
    prof_hooks_run_free(ptr, usize);
}

/* A record's site: sites are never freed, so the allocator may keep it
 * past the record's free for a misuse report. */
static const void *
hook_stack_of(void *rec)
{
    return ((prof_rec_t *)rec)->site;
}

enum { DESCRIBE_FRAMES = 6 };

/* One frame as "function (file:line)" (symbolic) or "object+0xaddr" (the
 * address as `addr2line -e object` takes it).  _dl_find_object neither
 * locks nor allocates. */
static size_t
describe_frame(hs_frame_t f, char *buf, size_t len)
{
    const char *fn, *file;
    unsigned line;
    if (hs_frame_is_symbolic(f)) {
        if (!bt_symbolic_lookup(f, &fn, &file, &line))
            return hs_snprintf(buf, len, "?");
        if (file == NULL)
            return hs_snprintf(buf, len, "%s", fn);
        return hs_snprintf(buf, len, "%s (%s:%u)", fn, file, line);
    }
    struct dl_find_object dlfo;
    if (_dl_find_object((void *)f, &dlfo) != 0 || dlfo.dlfo_link_map == NULL)
        return hs_snprintf(buf, len, "%p", (void *)f);
    const char *name = dlfo.dlfo_link_map->l_name;
    if (name == NULL || name[0] == '\0')
        name = program_invocation_short_name;
    const char *slash = strrchr(name, '/');
    return hs_snprintf(buf, len, "%s+0x%zx", slash ? slash + 1 : name,
                       (size_t)(f - dlfo.dlfo_link_map->l_addr));
}

/* "allocated at f0 <- f1 <- ...", innermost first, at most
 * DESCRIBE_FRAMES frames; no allocation, no lock (see prof_hooks.h). */
static void
hook_describe(const void *stack, char *buf, size_t len)
{
    const hs_frame_t *frames;
    unsigned n = site_frames(stack, &frames);
    size_t at = hs_snprintf(buf, len, "allocated at");
    if (n == 0)
        hs_snprintf(buf + at, len - at, " an unknown place");
    for (unsigned i = 0; i < n && i < DESCRIBE_FRAMES && at + 1 < len; i++) {
        at += hs_snprintf(buf + at, len - at, i == 0 ? " " : " <- ");
        if (at + 1 < len)
            at += describe_frame(frames[i], buf + at, len - at);
    }
}

static const alloc_prof_hooks_t hooks = {
    .next_sample = hook_next_sample,
    .sampling = activity_sampling_now,
    .sampled = hook_sampled,
    .sampled_free = hook_sampled_free,
    .stack_of = hook_stack_of,
    .describe = hook_describe,
};

/* ---- labels from backtrace hooks ---- */

HS_API int
hs_sample_label(const char *key, const char *value)
{
    if (!enabled || key == NULL || value == NULL || !tls.capturing)
        return EINVAL;
    unsigned pair = names_pair(key, value);
    if (pair == 0)
        return ENOSPC;
    tls.extra = pair;
    return 0;
}

/* ---- other allocators ---- */

HS_API unsigned
hs_prof_domain(const char *name)
{
    if (!enabled || name == NULL)
        return 0;
    return names_domain(name);
}

HS_API void
hs_prof_alloc_event(void *ptr, size_t size, unsigned domain)
{
    if (!enabled || ptr == NULL || tsd_reentrant())
        return;
    if (!tls.foreign_armed) {
        tls.foreign_left = sample_next_gap_foreign();
        tls.foreign_armed = true;
    }
    if (size < tls.foreign_left) {
        tls.foreign_left -= size;
        return;
    }
    tls.foreign_left = sample_next_gap_foreign();
    if (!activity_sampling_now())
        return;
    tsd_reentrancy_enter();
    prof_rec_t *rec = record_sample(ptr, size, size, domain);
    prof_rec_t *displaced;
    if (rec != NULL && !foreign_put(ptr, rec, &displaced))
        site_record_free(rec);
    else if (rec != NULL && displaced != NULL)
        site_record_free(displaced);
    tsd_reentrancy_exit();
}

HS_API uint64_t
hs_prof_foreign_gap(void)
{
    /* Off or idle: look again after a long stretch. */
    if (!enabled || !activity_sampling_now())
        return (uint64_t)64 << 20;
    return sample_next_gap_foreign();
}

HS_API void
hs_prof_free_event(void *ptr, unsigned domain)
{
    (void)domain;
    if (!enabled || ptr == NULL || !foreign_maybe(ptr))
        return;
    tsd_reentrancy_enter();
    prof_rec_t *rec = foreign_take(ptr);
    if (rec != NULL) {
        size_t usize = rec->usize;
        site_record_free(rec);
        prof_hooks_run_free(ptr, usize);
    }
    tsd_reentrancy_exit();
}

/* ---- start-up ---- */

static bt_unwinder_t
unwinder_from_option(void)
{
    if (strcmp(opt_prof_unwind, "fp") == 0)
        return BT_UNWIND_FP;
    if (strcmp(opt_prof_unwind, "gcc") == 0)
        return BT_UNWIND_GCC;
    if (strcmp(opt_prof_unwind, "libunwind") == 0)
        return BT_UNWIND_LIBUNWIND;
    if (strcmp(opt_prof_unwind, "cfi") != 0)
        hs_warn("HEAPSIGHT: unknown prof_unwind \"%s\" (using cfi)",
                opt_prof_unwind);
    return BT_UNWIND_CFI;
}

static void
prof_postfork_child(void)
{
    bt_postfork_child();
    dump_postfork_child();
    attach_postfork_child();
}

__attribute__((constructor)) static void
prof_boot(void)
{
    if (!hs_boot() || !opt_prof)
        return;
    tsd_reentrancy_enter();
    dl_iterate_phdr(self_range_cb, (void *)(uintptr_t)prof_boot);
    find_operator_new();
    bt_boot(unwinder_from_option());
    names_boot();
    site_boot();
    foreign_boot();
    sample_set_interval(opt_prof_sample);
    activity_set(opt_prof_active);
    prof_ctl_register();
    enabled = true;
    dump_boot();
    attach_boot();
    pthread_atfork(NULL, NULL, prof_postfork_child);
    alloc_prof_hooks_install(&hooks);
    tsd_reentrancy_exit();
}
