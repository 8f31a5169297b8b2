/*
 * mkprof.c — makes a large unsymbolized profile over real system files,
 * for measuring `heapsight symbolize`: `mkprof OUT N FILE...`.
 *
 * Each FILE's executable segment is placed as a loader would (a made-up
 * base for ET_DYN, its own addresses for ET_EXEC) and described by one
 * Mapping with the file's build ID; N distinct addresses are drawn from
 * the executable segments, in proportion to their sizes (a fixed seed:
 * the same profile every time), and grouped into stacks of 8.
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tprof.h"

typedef struct text_s {
    uint64_t start, size; /* the executable segment at its load address */
} text_t;

/* Places path's executable segment and adds its mapping. */
static text_t
mkprof_map(tprof_t *t, const char *path, int k)
{
    text_t text = {0, 0};
    int fd = open(path, O_RDONLY);
    elf_version(EV_CURRENT);
    Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
    GElf_Ehdr eh;
    size_t phnum = 0;
    if (elf == NULL || gelf_getehdr(elf, &eh) == NULL ||
        elf_getphdrnum(elf, &phnum) != 0) {
        fprintf(stderr, "mkprof: %s: not ELF\n", path);
        exit(1);
    }
    uint64_t base = eh.e_type == ET_DYN
                        ? 0x7f0000000000ULL + (uint64_t)k * 0x100000000ULL
                        : 0;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD ||
            !(ph.p_flags & PF_X))
            continue;
        char id[129];
        tprof_build_id(path, id);
        uint64_t start = base + (ph.p_vaddr & ~0xfffULL);
        tprof_add_mapping(t, start, base + ph.p_vaddr + ph.p_memsz,
                          ph.p_offset & ~0xfffULL, path, id);
        text = (text_t){base + ph.p_vaddr, ph.p_filesz};
        break;
    }
    elf_end(elf);
    close(fd);
    return text;
}

static int
mkprof_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: mkprof OUT N FILE...\n");
        return 2;
    }
    size_t n = strtoul(argv[2], NULL, 10), nfiles = (size_t)argc - 3;
    tprof_t *t = tprof_new();
    text_t *texts = calloc(nfiles, sizeof(*texts));
    uint64_t total = 0;
    for (size_t i = 0; i < nfiles; i++) {
        texts[i] = mkprof_map(t, argv[3 + i], (int)i);
        total += texts[i].size;
    }
    uint64_t *addrs = calloc(n, sizeof(*addrs));
    srand48(42);
    for (size_t j = 0; j < n; j++) {
        uint64_t r = (uint64_t)(drand48() * (double)total);
        size_t i = 0;
        while (r >= texts[i].size)
            r -= texts[i++].size;
        addrs[j] = texts[i].start + r;
    }
    qsort(addrs, n, sizeof(*addrs), mkprof_cmp);
    size_t m = 0; /* distinct */
    for (size_t j = 0; j < n; j++)
        if (m == 0 || addrs[j] != addrs[m - 1])
            addrs[m++] = addrs[j];
    for (size_t j = 0; j < m; j += 8)
        tprof_add_sample(t, addrs + j, m - j < 8 ? m - j : 8, 1024);
    tprof_write(t, argv[1]);
    printf("%zu distinct addresses in %zu files\n", m, nfiles);
    return 0;
}
