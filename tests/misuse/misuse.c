/*
 * misuse.c — one misuse of the allocator per sub-command, for
 * run_misuse.cmake to run and judge: each case must end the process with
 * SIGABRT and one stderr line naming the problem and the address, and must
 * never hand one block out twice.
 *
 * The program prints the address it misuses on stdout first ("addr 0x..."),
 * so the judge can check the message names that very address.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapsight.h"

static void
announce(const void *p)
{
    printf("addr %p\n", p);
    fflush(stdout);
}

/* Keeps the compiler from proving anything about p. */
static void *volatile sink;

static int
double_free_small(void)
{
    void *p = malloc(32);
    announce(p);
    free(p);
    free(p);
    return 0;
}

static int
double_free_small_later(void)
{
    /* Other frees in between push p deep into the cache, and beyond:
     * flushing it back to its slab. */
    void *p = malloc(48);
    announce(p);
    free(p);
    for (int i = 0; i < 1000; i++)
        free(malloc(48));
    void *keep[600];
    for (int i = 0; i < 600; i++)
        keep[i] = malloc(48);
    for (int i = 0; i < 600; i++)
        free(keep[i]);
    free(p);
    return 0;
}

static int
double_free_never_hands_out_twice(void)
{
    /* jemalloc-style caches would give the same block to a and b. */
    void *p = malloc(32);
    free(p);
    announce(p);
    free(p);
    void *a = malloc(32), *b = malloc(32);
    printf("a %p b %p\n", a, b);
    return a == b ? 3 : 0;
}

static int
double_free_large(void)
{
    void *p = malloc(1 << 20);
    announce(p);
    free(p);
    free(p);
    return 0;
}

static int
double_free_cached_large(void)
{
    void *p = malloc(20000);
    announce(p);
    free(p);
    free(p);
    return 0;
}

static int
free_stack_pointer(void)
{
    char buf[64];
    sink = buf;
    announce(buf);
    free(sink);
    return 0;
}

static int
free_static_pointer(void)
{
    static char data[64];
    announce(data);
    free(data);
    return 0;
}

/* 56 bytes: a 64-byte block with or without a canary's 8. */
static int
free_interior_small(void)
{
    char *p = malloc(56);
    announce(p + 16);
    free(p + 16);
    return 0;
}

static int
free_misaligned_small(void)
{
    char *p = malloc(56);
    announce(p + 1);
    free(p + 1);
    return 0;
}

static int
free_interior_large(void)
{
    char *p = malloc(1 << 20);
    announce(p + 8192);
    free(p + 8192);
    return 0;
}

static int
realloc_freed(void)
{
    void *p = malloc(100);
    free(p);
    announce(p);
    sink = realloc(p, 200);
    return 0;
}

static int
sized_free_wrong_size(void)
{
    void *p = malloc(100);
    announce(p);
    hs_sdallocx(p, 5000, 0);
    return 0;
}

/* ---- overflows and writes after free: caught with canary:true and
 * junk:true (the suite registers them for those options only) ---- */

/* A store the compiler cannot drop (a store before free is dead to it). */
static void
poke(char *p, size_t at, char v)
{
    ((volatile char *)p)[at] = v;
}

static int
overflow_small(void)
{
    char *p = malloc(100);
    announce(p);
    poke(p, 100, 'x');
    free(p);
    return 0;
}

static int
overflow_small_tail(void)
{
    /* 40 + 8 fill a 48-byte block: the tail itself is overwritten. */
    char *p = malloc(40);
    announce(p);
    for (size_t i = 0; i < 48; i++)
        poke(p, i, 0);
    free(p);
    return 0;
}

static int
overflow_large(void)
{
    char *p = malloc(100000);
    announce(p);
    poke(p, 100000, 1);
    free(p);
    return 0;
}

static int
overflow_realloc(void)
{
    char *p = malloc(100);
    announce(p);
    poke(p, 101, 1);
    sink = realloc(p, 5000);
    return 0;
}

static int
write_after_free(void)
{
    char *p = malloc(48);
    free(p);
    announce(p);
    poke(p, 20, 7);
    sink = malloc(48);
    return 0;
}

/* A write to a freed large block: seen (with junk:free) when the block
 * leaves the quarantine, which the frees of 80 more large blocks force. */
static int
write_after_free_large(void)
{
    char *p = malloc(100000);
    free(p);
    announce(p);
    poke(p, 20, 7);
    for (int i = 0; i < 80; i++) {
        sink = malloc(100000);
        free(sink);
    }
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(void);
} cases[] = {
    {"double_free_small", double_free_small},
    {"double_free_small_later", double_free_small_later},
    {"double_free_never_hands_out_twice", double_free_never_hands_out_twice},
    {"double_free_large", double_free_large},
    {"double_free_cached_large", double_free_cached_large},
    {"free_stack_pointer", free_stack_pointer},
    {"free_static_pointer", free_static_pointer},
    {"free_interior_small", free_interior_small},
    {"free_misaligned_small", free_misaligned_small},
    {"free_interior_large", free_interior_large},
    {"realloc_freed", realloc_freed},
    {"sized_free_wrong_size", sized_free_wrong_size},
    {"overflow_small", overflow_small},
    {"overflow_small_tail", overflow_small_tail},
    {"overflow_large", overflow_large},
    {"overflow_realloc", overflow_realloc},
    {"write_after_free", write_after_free},
    {"write_after_free_large", write_after_free_large},
};

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (strcmp(argv[1], cases[i].name) == 0)
            return cases[i].fn();
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}
