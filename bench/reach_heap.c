/*
 * reach_heap.c — a large live heap for timing the reachability scan at
 * exit (prof/reach.h): `reach_heap MIB [SIZE]` allocates MIB MiB in blocks
 * of SIZE bytes (default 4096); every block but one in 1024 is linked
 * into one list from a global (reachable), the others' only pointer is
 * dropped (unreachable), so the scan has both classes to find.  Run under
 * LD_PRELOAD=libheapsight.so HEAPSIGHT=prof:true,prof_leak:true: the final
 * dump's comment "reachability: scanned ... in N ms" is the figure
 * (bench/reach.sh prints it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
};

static struct node *head;
static volatile unsigned long sink;

int
main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) : 4096;
    size_t n = (mib << 20) / size;
    for (size_t i = 0; i < n; i++) {
        struct node *b = malloc(size);
        if (b == NULL)
            return 1;
        memset(b, 0, size < 64 ? size : 64);
        if (i % 1024 == 1023) {
            sink += (unsigned long)b & 1; /* leaked: no pointer kept */
            continue;
        }
        b->next = head;
        head = b;
    }
    printf("%zu blocks of %zu bytes\n", n, size);
    return 0;
}
