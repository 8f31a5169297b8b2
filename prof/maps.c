/*
 * maps.c — snapshots of the process's executable mappings with GNU build
 * IDs (see maps.h).
 *
 * Owns: reading /proc/self/maps (open/read into one malloc'd text, parsed
 * in place), the filter (executable and file-backed, or [vdso]) and the
 * build-ID pass over dl_iterate_phdr.  No locking of its own; the dynamic
 * linker holds its lock around the callback, which therefore only reads
 * ELF headers and notes in memory and writes into the already allocated
 * entries.
 *
 * Invariants: see maps.h (sorted, disjoint, start < limit).  Lines that do
 * not parse, and entries that would break the order (the file can change
 * between two reads), are skipped rather than trusted.
 */
#include "maps.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAPS_READ_MIN = 16 * 1024 };

/* ---- reading the file ---- */

/* Doubles the capacity of *text; false when out of memory. */
static bool
maps_grow(char **text, size_t *cap)
{
    char *bigger = realloc(*text, *cap * 2);
    if (bigger == NULL)
        return false;
    *text = bigger;
    *cap *= 2;
    return true;
}

/* Reads all of fd into a NUL-terminated malloc'd text. */
static int
maps_read_fd(int fd, char **r_text)
{
    size_t cap = MAPS_READ_MIN, len = 0;
    char *text = malloc(cap);
    ssize_t n = 1;
    while (text != NULL && n != 0) {
        if (cap - len < 2 && !maps_grow(&text, &cap))
            break;
        n = read(fd, text + len, cap - len - 1);
        if (n < 0 && errno != EINTR) {
            int err = errno;
            free(text);
            return err;
        }
        len += n > 0 ? (size_t)n : 0;
    }
    if (n != 0) { /* stopped early: out of memory */
        free(text);
        return ENOMEM;
    }
    text[len] = '\0';
    *r_text = text;
    return 0;
}

static int
maps_read_file(const char *path, char **r_text)
{
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno;
    int err = maps_read_fd(fd, r_text);
    close(fd);
    return err;
}

/* ---- parsing ---- */

/* Parses lowercase or uppercase hex at *pp; false if there is none. */
static bool
maps_hex(char **pp, uint64_t *r_v)
{
    char *p = *pp;
    uint64_t v = 0;
    for (;; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (*p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        v = v << 4 | d;
    }
    if (p == *pp)
        return false;
    *pp = p;
    *r_v = v;
    return true;
}

/* Skips one field and the blanks after it. */
static char *
maps_skip_field(char *p)
{
    while (*p != '\0' && *p != ' ' && *p != '\t')
        p++;
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool
maps_wanted(const char *perms, const char *path)
{
    return perms[0] != '\0' && perms[1] != '\0' && perms[2] == 'x' &&
           (path[0] == '/' || strcmp(path, "[vdso]") == 0);
}

/*
 * Parses one line, "start-limit perms offset dev inode [path]", NUL-
 * terminating the path in place.  False for lines to skip.
 */
static bool
maps_parse_line(char *line, maps_entry_t *e)
{
    uint64_t start, limit, offset;
    char *p = line;
    if (!maps_hex(&p, &start) || *p++ != '-' || !maps_hex(&p, &limit))
        return false;
    p = maps_skip_field(p);
    const char *perms = p;
    p = maps_skip_field(p);
    if (!maps_hex(&p, &offset))
        return false;
    p = maps_skip_field(maps_skip_field(maps_skip_field(p)));
    if (start >= limit || !maps_wanted(perms, p))
        return false;
    e->start = (uintptr_t)start;
    e->limit = (uintptr_t)limit;
    e->offset = offset;
    e->path = p;
    e->build_id[0] = '\0';
    return true;
}

static size_t
maps_count_lines(const char *text)
{
    size_t n = 1;
    for (const char *p = text; *p != '\0'; p++)
        n += *p == '\n';
    return n;
}

int
maps_parse(maps_t *m, char *text)
{
    memset(m, 0, sizeof *m);
    m->text = text;
    m->entries = malloc(maps_count_lines(text) * sizeof *m->entries);
    if (m->entries == NULL) {
        maps_fini(m);
        return ENOMEM;
    }
    for (char *line = text; *line != '\0';) {
        char *nl = strchr(line, '\n');
        char *next = nl != NULL ? nl + 1 : line + strlen(line);
        if (nl != NULL)
            *nl = '\0';
        maps_entry_t *e = &m->entries[m->n];
        if (maps_parse_line(line, e) &&
            (m->n == 0 || m->entries[m->n - 1].limit <= e->start))
            m->n++;
        line = next;
    }
    return 0;
}

/* ---- lookup ---- */

const maps_entry_t *
maps_find(const maps_t *m, uintptr_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (addr < m->entries[mid].start)
            hi = mid;
        else if (addr >= m->entries[mid].limit)
            lo = mid + 1;
        else
            return &m->entries[mid];
    }
    return NULL;
}

/* ---- build IDs ---- */

static void
maps_hex_encode(const uint8_t *p, size_t n, char *r_hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        r_hex[2 * i] = digits[p[i] >> 4];
        r_hex[2 * i + 1] = digits[p[i] & 15];
    }
    r_hex[2 * n] = '\0';
}

static size_t
maps_note_align(size_t n, size_t align)
{
    return (n + align - 1) & ~(align - 1);
}

/*
 * Finds the NT_GNU_BUILD_ID note in one PT_NOTE segment of size bytes at
 * p and writes its descriptor as hex; false if there is none.
 */
static bool
maps_note_build_id(const uint8_t *p, size_t size, size_t align, char *r_hex)
{
    size_t off = 0;
    while (size - off >= sizeof(ElfW(Nhdr))) {
        ElfW(Nhdr) nh;
        memcpy(&nh, p + off, sizeof nh);
        size_t name = off + sizeof nh;
        size_t desc = name + maps_note_align(nh.n_namesz, align);
        size_t end = desc + maps_note_align(nh.n_descsz, align);
        if (desc > size || end > size || end <= off)
            return false;
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
            memcmp(p + name, "GNU", 4) == 0 && nh.n_descsz > 0 &&
            nh.n_descsz <= MAPS_BUILD_ID_MAX) {
            maps_hex_encode(p + desc, nh.n_descsz, r_hex);
            return true;
        }
        off = end;
    }
    return false;
}

static bool
maps_object_build_id(const struct dl_phdr_info *info, char *r_hex)
{
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        size_t align = ph->p_align == 8 ? 8 : 4;
        if (maps_note_build_id(p, ph->p_memsz, align, r_hex))
            return true;
    }
    return false;
}

/* Gives build_id to every entry overlapping [start, limit). */
static void
maps_assign(maps_t *m, uintptr_t start, uintptr_t limit, const char *id)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) { /* the first entry with limit > start */
        size_t mid = lo + (hi - lo) / 2;
        if (m->entries[mid].limit <= start)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < m->n && m->entries[i].start < limit; i++)
        strcpy(m->entries[i].build_id, id);
}

/*
 * The build IDs found by the last pass over the loaded objects, kept in
 * static storage (the callback may not allocate) so that a fork child,
 * which must not call dl_iterate_phdr (the parent may have held the
 * loader's lock at fork), still labels its mappings.  Written only by
 * passes, which the caller serializes (one dump at a time; the dump lock
 * is held across fork, so a child never sees a half-written table).
 */
enum { MAPS_ID_CACHE = 512 };
static struct {
    uintptr_t start, limit;
    char hex[2 * MAPS_BUILD_ID_MAX + 1];
} id_cache[MAPS_ID_CACHE];
static size_t id_cache_n;
static bool loader_forbidden;
/* The main program's build ID ("" if none), from the first object of the
 * first pass (dl_iterate_phdr reports the program first). */
static char exe_id[2 * MAPS_BUILD_ID_MAX + 1];
static bool exe_id_done;

static void
maps_cache_put(uintptr_t start, uintptr_t limit, const char *hex)
{
    if (id_cache_n == MAPS_ID_CACHE)
        return;
    id_cache[id_cache_n].start = start;
    id_cache[id_cache_n].limit = limit;
    strcpy(id_cache[id_cache_n].hex, hex);
    id_cache_n++;
}

/* dl_iterate_phdr callback: runs under the loader's lock, allocates not. */
static int
maps_phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    char hex[2 * MAPS_BUILD_ID_MAX + 1];
    bool found = maps_object_build_id(info, hex);
    if (!exe_id_done) {
        exe_id_done = true;
        if (found && info->dlpi_name != NULL && info->dlpi_name[0] == '\0')
            strcpy(exe_id, hex);
    }
    if (!found)
        return 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_X) == 0)
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        maps_cache_put(start, start + ph->p_memsz, hex);
        if (arg != NULL)
            maps_assign(arg, start, start + ph->p_memsz, hex);
    }
    return 0;
}

void
maps_build_ids(maps_t *m)
{
    if (!loader_forbidden) {
        id_cache_n = 0;
        dl_iterate_phdr(maps_phdr_cb, m->n != 0 ? m : NULL);
        return;
    }
    for (size_t i = 0; i < id_cache_n && m->n != 0; i++)
        maps_assign(m, id_cache[i].start, id_cache[i].limit, id_cache[i].hex);
}

void
maps_prime(void)
{
    if (!loader_forbidden) {
        id_cache_n = 0;
        dl_iterate_phdr(maps_phdr_cb, NULL);
    }
}

const char *
maps_exe_build_id(void)
{
    return exe_id;
}

void
maps_forbid_loader(void)
{
    loader_forbidden = true;
}

/* ---- the snapshot ---- */

int
maps_read(maps_t *m)
{
    char *text = NULL;
    memset(m, 0, sizeof *m);
    int err = maps_read_file("/proc/self/maps", &text);
    if (err == 0)
        err = maps_parse(m, text);
    if (err == 0)
        maps_build_ids(m);
    return err;
}

void
maps_fini(maps_t *m)
{
    free(m->entries);
    free(m->text);
    memset(m, 0, sizeof *m);
}
