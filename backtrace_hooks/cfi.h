/*
 * cfi.h — a native unwinder of its own: x86-64 call frame information
 * (.eh_frame) read in place, with one process-wide cache of unwind rules.
 *
 * Owns: finding the frame description entry (FDE) that covers an address
 * (glibc's _dl_find_object, then the binary-search table of the object's
 * .eh_frame_hdr), running its CFA program up to that address, reducing
 * the resulting row to a rule that needs only rsp and rbp, and the cache
 * of those rules.  Does not own stack bounds or trimming (unwind.c).
 *
 * Why: libunwind's unw_backtrace is fast once warm, but its cache is per
 * thread, 256 KiB, written in full on a thread's first backtrace: 64 page
 * faults per new thread (measured here with perf on bench/larson, 240
 * threads: 15,400 of the profiler's 18,700 extra faults).  Rules here are
 * the same for every thread, so they are cached once per process; the
 * cache is mapped at boot and filled as addresses are met.
 *
 * The rule of a frame: CFA = (rsp or rbp) + offset; the return address is
 * at CFA - 8; rbp is either unchanged or saved at CFA + offset.  Frames
 * whose row needs anything else (a CFA expression, a CFA in another
 * register, rbp kept in another register, a signal frame, a 64-bit
 * .eh_frame, an unusual .eh_frame_hdr) get the rule CFI_FALLBACK: the
 * caller then unwinds the whole stack with another unwinder.  A return
 * address rule "undefined" (the outermost frame: _start, clone) is
 * CFI_END.
 *
 * Safety: the walk reads the stack only inside [lo, hi) (the thread's
 * stack, as the frame-pointer walker), and each CFA must lie above the
 * previous one, so a wrong or stale rule ends the walk early or gives a
 * wrong frame, never a fault or a loop.  .eh_frame is read where the
 * loader mapped it; _dl_find_object takes no lock (safe in fork children
 * forked while another thread was in dlopen).  A cached rule can go stale
 * when a library is unloaded and another is loaded at the same address:
 * libunwind's per-thread cache has the same weakness; here it costs at
 * worst a wrong frame.
 *
 * Cache concurrency: 8192 direct-mapped slots, each guarded by a sequence
 * number: a writer claims a slot by moving its number from even to odd
 * (and gives up if another writer holds it), writes, and releases it even;
 * a reader that sees an odd number or a changed one treats the slot as a
 * miss.  Readers never wait; no lock, no allocation.
 */
#ifndef HS_BT_CFI_H
#define HS_BT_CFI_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CFI_NONE = 0,     /* no FDE covers the address */
    CFI_OK = 1,       /* rule below */
    CFI_END = 2,      /* the outermost frame: no caller */
    CFI_FALLBACK = 3, /* a row this unwinder does not reduce */
} cfi_kind_t;

typedef struct cfi_rule_s {
    cfi_kind_t kind;
    bool cfa_rbp;   /* CFA is rbp + cfa_off (else rsp + cfa_off) */
    bool rbp_saved; /* rbp is saved at CFA + rbp_off (else unchanged) */
    int32_t cfa_off;
    int32_t rbp_off;
} cfi_rule_t;

/* Maps the cache (outside malloc); false if the mapping failed, and then
 * cfi_walk always asks for the fallback.  Idempotent. */
bool cfi_boot(void);

/* The rule for the row that holds at code address pc, computed without
 * the cache (tests). */
cfi_rule_t cfi_rule_compute(uintptr_t pc);

/* Stores one return address; false when the walk should stop. */
typedef bool (*cfi_put_fn)(void *arg, uintptr_t ra);

/*
 * Walks the stack from the frame whose registers are pc (exact: the
 * instruction about to run), sp and bp, reading only inside [lo, hi),
 * and passes each caller's return address to put.  Returns false when a
 * frame needs the fallback unwinder (what was passed to put so far is
 * then to be discarded), true when the walk ended (outermost frame,
 * end of the readable stack, or put said stop).
 */
bool cfi_walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t lo,
              uintptr_t hi, cfi_put_fn put, void *arg);

/* Counters since start-up (tests, benchmarks): cache misses that computed
 * a rule, and walks that asked for the fallback. */
uint64_t cfi_stat_computed(void);
uint64_t cfi_stat_fallbacks(void);

#endif /* HS_BT_CFI_H */
