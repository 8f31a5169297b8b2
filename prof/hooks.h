/*
 * hooks.h — the public observer hooks of the profiler (sample, sample
 * free, dump; include/heapsight_hook.h) and running them.
 *
 * Owns: three hook chains (backtrace_hooks/hook_chain.h does the
 * thread-safety: removal waits for callers in flight).  Run on the
 * sampling path with the reentrancy guard held and no allocator lock.
 */
#ifndef HS_PROF_PUBLIC_HOOKS_H
#define HS_PROF_PUBLIC_HOOKS_H

#include <stddef.h>

#include "../include/heapsight_hook.h"

void prof_hooks_run_sample(void *ptr, size_t size, size_t usize,
                           const hs_frame_t *frames, unsigned nframes);
void prof_hooks_run_free(void *ptr, size_t usize);
void prof_hooks_run_dump(const char *path);

#endif /* HS_PROF_PUBLIC_HOOKS_H */
