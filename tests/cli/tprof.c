/*
 * tprof.c — the test profile writer of tprof.h.
 */
#include "tprof.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <libelf.h>
#include <profile.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

typedef Perftools__Profiles__Profile pb_profile_t;

struct tprof_s {
    pb_profile_t pb;
};

static void *
tprof_xalloc(size_t n)
{
    void *p = calloc(1, n);
    if (p == NULL) {
        fprintf(stderr, "tprof: out of memory\n");
        exit(1);
    }
    return p;
}

/* Appends one pointer to an array of n pointers. */
static void
tprof_push(void ***arr, size_t *n, void *elem)
{
    void **bigger = realloc(*arr, (*n + 1) * sizeof(void *));
    if (bigger == NULL) {
        fprintf(stderr, "tprof: out of memory\n");
        exit(1);
    }
    bigger[(*n)++] = elem;
    *arr = bigger;
}

/* The string table index of s (linear search: tests are small). */
static int64_t
tprof_str(tprof_t *t, const char *s)
{
    for (size_t i = 0; i < t->pb.n_string_table; i++)
        if (strcmp(t->pb.string_table[i], s) == 0)
            return (int64_t)i;
    char *copy = strdup(s);
    tprof_push((void ***)&t->pb.string_table, &t->pb.n_string_table, copy);
    return (int64_t)t->pb.n_string_table - 1;
}

static Perftools__Profiles__ValueType *
tprof_vt(tprof_t *t, const char *type, const char *unit)
{
    Perftools__Profiles__ValueType *vt = tprof_xalloc(sizeof(*vt));
    perftools__profiles__value_type__init(vt);
    vt->type = tprof_str(t, type);
    vt->unit = tprof_str(t, unit);
    return vt;
}

tprof_t *
tprof_new(void)
{
    tprof_t *t = tprof_xalloc(sizeof(*t));
    perftools__profiles__profile__init(&t->pb);
    tprof_str(t, "");
    tprof_push((void ***)&t->pb.sample_type, &t->pb.n_sample_type,
               tprof_vt(t, "inuse_objects", "count"));
    tprof_push((void ***)&t->pb.sample_type, &t->pb.n_sample_type,
               tprof_vt(t, "inuse_space", "bytes"));
    t->pb.period_type = tprof_vt(t, "space", "bytes");
    t->pb.period = 1;
    t->pb.default_sample_type = tprof_str(t, "inuse_space");
    return t;
}

uint64_t
tprof_add_mapping(tprof_t *t, uint64_t start, uint64_t limit, uint64_t offset,
                  const char *file, const char *build_id)
{
    Perftools__Profiles__Mapping *m = tprof_xalloc(sizeof(*m));
    perftools__profiles__mapping__init(m);
    m->id = t->pb.n_mapping + 1;
    m->memory_start = start;
    m->memory_limit = limit;
    m->file_offset = offset;
    m->filename = tprof_str(t, file);
    m->build_id = tprof_str(t, build_id);
    tprof_push((void ***)&t->pb.mapping, &t->pb.n_mapping, m);
    return m->id;
}

void
tprof_build_id(const char *path, char *out)
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const unsigned char *id;
    ssize_t n =
        elf != NULL ? dwelf_elf_gnu_build_id(elf, (const void **)&id) : -1;
    for (ssize_t i = 0; i < n && i < 64; i++)
        sprintf(out + 2 * i, "%02x", id[i]);
    elf_end(elf);
    close(fd);
}

void
tprof_add_self_maps(tprof_t *t)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        unsigned long long start, limit, off;
        char perms[8], path[4096] = "";
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &start,
                   &limit, perms, &off, path) < 4 ||
            path[0] != '/')
            continue;
        char id[129];
        tprof_build_id(path, id);
        tprof_add_mapping(t, start, limit, off, path, id);
    }
    if (f != NULL)
        fclose(f);
}

/* The id of the location of addr, added if new. */
static uint64_t
tprof_location(tprof_t *t, uint64_t addr)
{
    for (size_t i = 0; i < t->pb.n_location; i++)
        if (t->pb.location[i]->address == addr)
            return t->pb.location[i]->id;
    Perftools__Profiles__Location *l = tprof_xalloc(sizeof(*l));
    perftools__profiles__location__init(l);
    l->id = t->pb.n_location + 1;
    l->address = addr;
    for (size_t i = 0; i < t->pb.n_mapping; i++) {
        const Perftools__Profiles__Mapping *m = t->pb.mapping[i];
        if (addr >= m->memory_start && addr < m->memory_limit)
            l->mapping_id = m->id;
    }
    tprof_push((void ***)&t->pb.location, &t->pb.n_location, l);
    return l->id;
}

void
tprof_add_sample(tprof_t *t, const uint64_t *addrs, size_t n, int64_t bytes)
{
    Perftools__Profiles__Sample *s = tprof_xalloc(sizeof(*s));
    perftools__profiles__sample__init(s);
    s->location_id = tprof_xalloc((n + 1) * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        s->location_id[s->n_location_id++] = tprof_location(t, addrs[i]);
    s->value = tprof_xalloc(2 * sizeof(int64_t));
    s->n_value = 2;
    s->value[0] = 1;
    s->value[1] = bytes;
    tprof_push((void ***)&t->pb.sample, &t->pb.n_sample, s);
}

void
tprof_write(tprof_t *t, const char *path)
{
    size_t len = perftools__profiles__profile__get_packed_size(&t->pb);
    uint8_t *buf = tprof_xalloc(len + 1);
    perftools__profiles__profile__pack(&t->pb, buf);
    gzFile gz = gzopen(path, "wb");
    if (gz == NULL || gzwrite(gz, buf, (unsigned)len) != (int)len ||
        gzclose(gz) != Z_OK) {
        fprintf(stderr, "tprof: cannot write %s\n", path);
        exit(1);
    }
    free(buf);
    /* The tree is not freed: tests exit right after. */
}
