/*
 * fault_dso.c — the small library fault_dlopen.c loads and unloads.
 *
 * Owns fault_dso_alloc: allocates from code inside this library, so that
 * sampled stacks have frames in a mapping that goes away at dlclose.
 */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *
fault_dso_alloc(size_t n, int fill)
{
    void *p = malloc(n);
    if (p != NULL)
        memset(p, fill, n);
    return p;
}
