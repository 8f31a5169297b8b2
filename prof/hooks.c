/*
 * hooks.c — the public observer hooks: hs_sample_hook_*,
 * hs_sample_free_hook_*, hs_dump_hook_* (see hooks.h), over the chains of
 * backtrace_hooks/hook_chain.h.
 */
#include "hooks.h"

#include "../alloc/util/util.h"
#include "../backtrace_hooks/hook_chain.h"

static bt_chain_t sample_hooks = {.kind = BT_CHAIN_SAMPLE};
static bt_chain_t free_hooks = {.kind = BT_CHAIN_SAMPLE_FREE};
static bt_chain_t dump_hooks = {.kind = BT_CHAIN_DUMP};

HS_API int
hs_sample_hook_add(hs_sample_hook_t hook, void *arg)
{
    return bt_chain_add(&sample_hooks, (bt_hook_fn_t){.sample = hook}, arg);
}

HS_API int
hs_sample_hook_remove(hs_sample_hook_t hook, void *arg)
{
    return bt_chain_remove(&sample_hooks, (bt_hook_fn_t){.sample = hook}, arg);
}

HS_API int
hs_sample_free_hook_add(hs_sample_free_hook_t hook, void *arg)
{
    return bt_chain_add(&free_hooks, (bt_hook_fn_t){.sample_free = hook}, arg);
}

HS_API int
hs_sample_free_hook_remove(hs_sample_free_hook_t hook, void *arg)
{
    return bt_chain_remove(&free_hooks, (bt_hook_fn_t){.sample_free = hook},
                           arg);
}

HS_API int
hs_dump_hook_add(hs_dump_hook_t hook, void *arg)
{
    return bt_chain_add(&dump_hooks, (bt_hook_fn_t){.dump = hook}, arg);
}

HS_API int
hs_dump_hook_remove(hs_dump_hook_t hook, void *arg)
{
    return bt_chain_remove(&dump_hooks, (bt_hook_fn_t){.dump = hook}, arg);
}

void
prof_hooks_run_sample(void *ptr, size_t size, size_t usize,
                      const hs_frame_t *frames, unsigned nframes)
{
    bt_chain_run_sample(&sample_hooks, ptr, size, usize, frames, nframes);
}

void
prof_hooks_run_free(void *ptr, size_t usize)
{
    bt_chain_run_sample_free(&free_hooks, ptr, usize);
}

void
prof_hooks_run_dump(const char *path)
{
    bt_chain_run_dump(&dump_hooks, path);
}
