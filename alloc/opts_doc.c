/*
 * opts_doc.c — prints docs/OPTIONS.md from the option table, so the
 * reference cannot drift from the code (a test compares the two).
 * A build tool: runs on the system allocator, linked to nothing here.
 */
#include <stdio.h>
#include <string.h>

#include "opts.h"

#define TYPE_NAME_BOOL "bool"
#define TYPE_NAME_UINT "unsigned"
#define TYPE_NAME_MS "ssize_t (ms)"
#define TYPE_NAME_SIZE "size_t (bytes; k, m, g suffixes)"
#define TYPE_NAME_STR "string"

static void
print_row(const char *name, const char *type_name, const char *def,
          const char *type, long long min, long long max, const char *doc)
{
    char range[64];
    if (type[0] == 'B')
        snprintf(range, sizeof(range), "true, false");
    else if (strcmp(type, "STR") == 0)
        snprintf(range, sizeof(range), "up to %d bytes", OPT_STR_MAX - 1);
    else
        snprintf(range, sizeof(range), "%lld .. %lld", min, max);
    printf("| `%s` | %s | `%s` | %s | %s |\n", name, type_name, def, range,
           doc);
}

int
main(void)
{
    printf("# heapsight options\n\n"
           "Set in the environment variable `HEAPSIGHT` as "
           "`key:value,key:value` (read with secure_getenv, so setuid "
           "programs ignore it). An unknown key or a bad value prints one "
           "warning line naming it and is ignored. Each option can be read "
           "at run time as `opt.<key>` through `hs_ctl()`.\n\n"
           "This file is generated from the option table in "
           "`alloc/opts.h` by `hs_opts_doc`; a test checks that it "
           "matches.\n\n"
           "| key | type | default | range | meaning |\n"
           "| --- | --- | --- | --- | --- |\n");
#define ROW(type, name, def, min, max, doc)                                    \
    print_row(#name, TYPE_NAME_##type, #def, #type, min, max, doc);
    HS_OPTIONS(ROW)
#undef ROW
    return 0;
}
