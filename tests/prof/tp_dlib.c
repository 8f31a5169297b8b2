/*
 * tp_dlib.c — a small shared library that tp_threads' fork case loads and
 * unloads in a loop (dlopen/dlclose), so that forks happen while another
 * thread is inside the dynamic loader.
 *
 * Owns: a constructor and a destructor that allocate and free (the loader
 * runs them under its lock), and tp_dlib_work(), which allocates and frees
 * a little.  No state survives an unload.
 */
#include <stdlib.h>
#include <string.h>

static void *tp_dlib_block;

__attribute__((constructor)) static void
tp_dlib_init(void)
{
    tp_dlib_block = malloc(5000);
    if (tp_dlib_block != NULL)
        memset(tp_dlib_block, 1, 5000);
}

__attribute__((destructor)) static void
tp_dlib_fini(void)
{
    free(tp_dlib_block);
}

__attribute__((visibility("default"))) int
tp_dlib_work(int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++) {
        char *p = malloc((size_t)(16 + i * 40));
        if (p == NULL)
            return -1;
        p[0] = (char)i;
        sum += p[0];
        free(p);
    }
    return sum;
}
