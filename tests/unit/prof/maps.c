/*
 * maps.c — unit tests of prof/maps: the parser and filter on synthetic
 * /proc/self/maps text (executable file-backed mappings and [vdso] kept;
 * data, anonymous, [stack] and malformed lines dropped; paths with
 * spaces; order enforced), maps_find's boundaries, and the live snapshot:
 * this program's own mapping and libc's carry their file names and the
 * build IDs that an independent reader finds in the files on disk.
 */
#include "hs_test.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "maps.h"

static const char synthetic[] =
    "55d0c0000000-55d0c0001000 r--p 00000000 08:01 1234 /usr/bin/prog\n"
    "55d0c0001000-55d0c0005000 r-xp 00001000 08:01 1234 /usr/bin/prog\n"
    "55d0c0005000-55d0c0006000 rw-p 00005000 08:01 1234 /usr/bin/prog\n"
    "55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0    [heap]\n"
    "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n"
    "7f0000010000-7f0000020000 r-xp 00002000 08:01 99 /opt/my lib.so\n"
    "7f0000020000-7f0000030000 r-xp 00000000 08:01 98 /tmp/gone (deleted)\n"
    "7f0000025000-7f0000026000 r-xp 00000000 08:01 97 /overlaps/prev\n"
    "garbage line\n"
    "7f0000040000-7f0000030000 r-xp 00000000 08:01 96 /limit/before/start\n"
    "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]\n"
    "7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]";

HS_TEST(parse_and_filter)
{
    maps_t m;
    HS_ASSERT_EQ_INT(maps_parse(&m, strdup(synthetic)), 0);
    HS_ASSERT_EQ_SIZE(m.n, 4);
    HS_EXPECT_EQ_U64(m.entries[0].start, 0x55d0c0001000);
    HS_EXPECT_EQ_U64(m.entries[0].limit, 0x55d0c0005000);
    HS_EXPECT_EQ_U64(m.entries[0].offset, 0x1000);
    HS_EXPECT_EQ_STR(m.entries[0].path, "/usr/bin/prog");
    HS_EXPECT_EQ_STR(m.entries[0].build_id, "");
    HS_EXPECT_EQ_STR(m.entries[1].path, "/opt/my lib.so");
    HS_EXPECT_EQ_U64(m.entries[1].offset, 0x2000);
    HS_EXPECT_EQ_STR(m.entries[2].path, "/tmp/gone (deleted)");
    HS_EXPECT_EQ_STR(m.entries[3].path, "[vdso]");
    for (size_t i = 1; i < m.n; i++)
        HS_EXPECT_LE_U64(m.entries[i - 1].limit, m.entries[i].start);
    maps_fini(&m);
    HS_EXPECT_EQ_SIZE(m.n, 0);
    HS_EXPECT_NULL(m.entries);
    maps_fini(&m); /* twice is harmless */
}

HS_TEST(find_boundaries)
{
    maps_t m;
    HS_ASSERT_EQ_INT(maps_parse(&m, strdup(synthetic)), 0);
    HS_EXPECT_NULL(maps_find(&m, 0));
    HS_EXPECT_NULL(maps_find(&m, 0x55d0c0000fff));
    HS_EXPECT_EQ_PTR(maps_find(&m, 0x55d0c0001000), &m.entries[0]);
    HS_EXPECT_EQ_PTR(maps_find(&m, 0x55d0c0004fff), &m.entries[0]);
    HS_EXPECT_NULL(maps_find(&m, 0x55d0c0005000)); /* limit excluded */
    HS_EXPECT_EQ_PTR(maps_find(&m, 0x7f0000015555), &m.entries[1]);
    HS_EXPECT_EQ_PTR(maps_find(&m, 0x7f0000020000), &m.entries[2]);
    HS_EXPECT_EQ_PTR(maps_find(&m, 0x7ffc00101000), &m.entries[3]);
    HS_EXPECT_NULL(maps_find(&m, UINTPTR_MAX));
    maps_fini(&m);

    HS_ASSERT_EQ_INT(maps_parse(&m, strdup("")), 0);
    HS_EXPECT_EQ_SIZE(m.n, 0);
    HS_EXPECT_NULL(maps_find(&m, 0x1000));
    maps_fini(&m);
}

/* ---- an independent reader of build IDs in ELF files on disk ---- */

/* The build ID of the ELF file at path as hex, from its section headers
 * (the loader-side code under test reads program headers in memory). */
static bool
file_build_id(const char *path, char *hex, size_t size)
{
    bool found = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    off_t len = lseek(fd, 0, SEEK_END);
    uint8_t *f = malloc((size_t)len);
    if (pread(fd, f, (size_t)len, 0) == len) {
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
        const Elf64_Shdr *sh = (const Elf64_Shdr *)(f + eh->e_shoff);
        for (unsigned i = 0; i < eh->e_shnum && !found; i++) {
            if (sh[i].sh_type != SHT_NOTE)
                continue;
            const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(f + sh[i].sh_offset);
            if (nh->n_type != NT_GNU_BUILD_ID || nh->n_namesz != 4)
                continue;
            const uint8_t *d = (const uint8_t *)(nh + 1) + 4;
            for (unsigned k = 0; k < nh->n_descsz && 2 * k + 2 < size; k++)
                snprintf(hex + 2 * k, 3, "%02x", d[k]);
            found = true;
        }
    }
    free(f);
    close(fd);
    return found;
}

static __attribute__((noinline)) int
own_function(int x)
{
    return x * 3 + 1;
}

/* Checks the live entry containing addr against the file on disk. */
static void
expect_entry_matches_file(const maps_t *m, uintptr_t addr, const char *path)
{
    const maps_entry_t *e = maps_find(m, addr);
    HS_ASSERT_NOT_NULL(e);
    HS_EXPECT_LE_U64(e->start, addr);
    HS_EXPECT_GT_U64(e->limit, addr);
    if (path != NULL)
        HS_EXPECT_EQ_STR(e->path, path);
    char real[PATH_MAX], hex[2 * MAPS_BUILD_ID_MAX + 1] = "";
    HS_ASSERT_NOT_NULL(realpath(e->path, real));
    HS_ASSERT_TRUE(file_build_id(real, hex, sizeof hex));
    HS_EXPECT_EQ_STR(e->build_id, hex);
    HS_EXPECT_GE_SIZE(strlen(e->build_id), 16);
}

HS_TEST(live_snapshot)
{
    maps_t m;
    HS_ASSERT_EQ_INT(maps_read(&m), 0);
    HS_ASSERT_GT_SIZE(m.n, 1);
    for (size_t i = 0; i < m.n; i++) {
        HS_EXPECT_LT_U64(m.entries[i].start, m.entries[i].limit);
        if (i > 0)
            HS_EXPECT_LE_U64(m.entries[i - 1].limit, m.entries[i].start);
        HS_EXPECT_TRUE(m.entries[i].path[0] == '/' ||
                       strcmp(m.entries[i].path, "[vdso]") == 0);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    HS_ASSERT_GT_INT(n, 0);
    exe[n] = '\0';
    HS_EXPECT_EQ_INT(own_function(1), 4);
    expect_entry_matches_file(&m, (uintptr_t)&own_function, exe);
    const maps_entry_t *libc = NULL;
    for (size_t i = 0; i < m.n && libc == NULL; i++)
        if (strstr(m.entries[i].path, "/libc.so") != NULL)
            libc = &m.entries[i];
    HS_ASSERT_NOT_NULL(libc);
    expect_entry_matches_file(&m, libc->start, libc->path);
    HS_EXPECT_NULL(maps_find(&m, (uintptr_t)&m)); /* the stack: no x */
    maps_fini(&m);
}

HS_TEST(vdso)
{
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (base == 0)
        HS_SKIP("no vDSO in this process");
    maps_t m;
    HS_ASSERT_EQ_INT(maps_read(&m), 0);
    const maps_entry_t *e = maps_find(&m, base);
    if (e == NULL) { /* the ELF header may sit in a non-executable page */
        for (size_t i = 0; i < m.n; i++)
            if (strcmp(m.entries[i].path, "[vdso]") == 0)
                e = &m.entries[i];
    }
    HS_ASSERT_NOT_NULL(e);
    HS_EXPECT_EQ_STR(e->path, "[vdso]");
    /* The kernel's vDSO has a build ID when built with one (Debian's is). */
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
    bool has_note = false;
    for (unsigned i = 0; i < eh->e_phnum; i++)
        has_note |= ph[i].p_type == PT_NOTE;
    if (has_note)
        HS_EXPECT_NE_STR(e->build_id, "");
    maps_fini(&m);
}

HS_TEST_MAIN()
