/*
 * hooks.c — the public observer hooks: hs_sample_hook_*,
 * hs_sample_free_hook_*, hs_dump_hook_* (see hooks.h), their three chains
 * (backtrace_hooks/hook_chain.h: thread-safe, of any hook type) and the
 * typed runs that call them.
 */
#include "hooks.h"

#include "../alloc/util/util.h"
#include "../backtrace_hooks/hook_chain.h"

static bt_chain_t sample_hooks;
static bt_chain_t free_hooks;
static bt_chain_t dump_hooks;

HS_API int
hs_sample_hook_add(hs_sample_hook_t hook, void *arg)
{
    return bt_chain_add(&sample_hooks, (bt_hook_fn_t)hook, arg);
}

HS_API int
hs_sample_hook_remove(hs_sample_hook_t hook, void *arg)
{
    return bt_chain_remove(&sample_hooks, (bt_hook_fn_t)hook, arg);
}

HS_API int
hs_sample_free_hook_add(hs_sample_free_hook_t hook, void *arg)
{
    return bt_chain_add(&free_hooks, (bt_hook_fn_t)hook, arg);
}

HS_API int
hs_sample_free_hook_remove(hs_sample_free_hook_t hook, void *arg)
{
    return bt_chain_remove(&free_hooks, (bt_hook_fn_t)hook, arg);
}

HS_API int
hs_dump_hook_add(hs_dump_hook_t hook, void *arg)
{
    return bt_chain_add(&dump_hooks, (bt_hook_fn_t)hook, arg);
}

HS_API int
hs_dump_hook_remove(hs_dump_hook_t hook, void *arg)
{
    return bt_chain_remove(&dump_hooks, (bt_hook_fn_t)hook, arg);
}

/* The runs: one relaxed load when a chain is empty; otherwise its hooks,
 * copied out and called in order under the reentrancy guard. */

void
prof_hooks_run_sample(void *ptr, size_t size, size_t usize,
                      const hs_frame_t *frames, unsigned nframes)
{
    if (bt_chain_count(&sample_hooks) == 0)
        return;
    bt_chain_pin_t pin;
    bt_hook_t hooks[BT_CHAIN_MAX];
    unsigned n = bt_chain_begin(&sample_hooks, &pin, hooks);
    for (unsigned i = 0; i < n; i++)
        ((hs_sample_hook_t)hooks[i].fn)(ptr, size, usize, frames, nframes,
                                        hooks[i].arg);
    bt_chain_end(&pin);
}

void
prof_hooks_run_free(void *ptr, size_t usize)
{
    if (bt_chain_count(&free_hooks) == 0)
        return;
    bt_chain_pin_t pin;
    bt_hook_t hooks[BT_CHAIN_MAX];
    unsigned n = bt_chain_begin(&free_hooks, &pin, hooks);
    for (unsigned i = 0; i < n; i++)
        ((hs_sample_free_hook_t)hooks[i].fn)(ptr, usize, hooks[i].arg);
    bt_chain_end(&pin);
}

void
prof_hooks_run_dump(const char *path)
{
    if (bt_chain_count(&dump_hooks) == 0)
        return;
    bt_chain_pin_t pin;
    bt_hook_t hooks[BT_CHAIN_MAX];
    unsigned n = bt_chain_begin(&dump_hooks, &pin, hooks);
    for (unsigned i = 0; i < n; i++)
        ((hs_dump_hook_t)hooks[i].fn)(path, hooks[i].arg);
    bt_chain_end(&pin);
}
