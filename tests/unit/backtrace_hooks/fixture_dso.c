/*
 * fixture_dso.c — a small shared object that unit_backtrace_hooks_unwind
 * loads and unloads in a loop (dlopen/dlclose) while it forks: each load
 * and unload takes the loader's locks.  Its contents do not matter; a
 * constructor and some relocations make each load do real work.
 */
#include <string.h>

static char bt_fixture_buf[4096];
const char *bt_fixture_names[] = {"alpha", "beta", "gamma", "delta"};

__attribute__((constructor)) static void
bt_fixture_init(void)
{
    memset(bt_fixture_buf, 1, sizeof bt_fixture_buf);
}

int
bt_fixture_value(void)
{
    return bt_fixture_buf[0] + (int)strlen(bt_fixture_names[1]);
}
