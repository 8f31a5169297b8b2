/*
 * debuginfo.c — the search of debuginfo.h: build-id trees, flat
 * directories, and probing ELF files with libelf (build ID note, program
 * headers, section names).
 *
 * Invariants: dirs[0..ndirs) are the --debug-dir directories followed by
 * DEBUGINFO_SYSTEM_DIR; flat[i] is the index of dirs[i], built on first
 * use (flat_built[i]) and never for the system directory.
 */
#include "debuginfo.h"

#include <dirent.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEBUGINFO_SYSTEM_DIR "/usr/lib/debug"

typedef struct debuginfo_flat_s {
    char *path;
    debuginfo_elf_t info;
} debuginfo_flat_t;

struct debuginfo_s {
    char **dirs;
    size_t ndirs;
    debuginfo_flat_t **flat; /* per dir: its ELF files */
    size_t *nflat;
    bool *flat_built;
};

void
debuginfo_hex(const unsigned char *id, size_t len,
              char out[DEBUGINFO_ID_HEX_MAX])
{
    static const char digits[] = "0123456789abcdef";
    size_t n = len < DEBUGINFO_ID_HEX_MAX / 2 ? len : DEBUGINFO_ID_HEX_MAX / 2;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * n] = '\0';
}

/* True if elf has an executable PT_LOAD with contents in the file. */
static bool
debuginfo_has_code(Elf *elf)
{
    size_t phnum;
    if (elf_getphdrnum(elf, &phnum) != 0)
        return false;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) != NULL && ph.p_type == PT_LOAD &&
            (ph.p_flags & PF_X) && ph.p_filesz > 0)
            return true;
    }
    return false;
}

/* True if elf has a .debug_info (or .zdebug_info) section with contents. */
static bool
debuginfo_has_dwarf(Elf *elf)
{
    size_t shstrndx;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return false;
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn)) != NULL;) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type == SHT_NOBITS ||
            sh.sh_size == 0)
            continue;
        const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
        if (name != NULL && (strcmp(name, ".debug_info") == 0 ||
                             strcmp(name, ".zdebug_info") == 0))
            return true;
    }
    return false;
}

bool
debuginfo_probe(const char *path, debuginfo_elf_t *r_info)
{
    memset(r_info, 0, sizeof(*r_info));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (elf != NULL && elf_kind(elf) == ELF_K_ELF) {
        const void *id;
        ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
        if (n > 0)
            debuginfo_hex(id, (size_t)n, r_info->build_id);
        r_info->is_elf = true;
        r_info->has_code = debuginfo_has_code(elf);
        r_info->has_dwarf = debuginfo_has_dwarf(elf);
    }
    elf_end(elf);
    close(fd);
    return r_info->is_elf;
}

debuginfo_t *
debuginfo_new(const char *const *dirs, size_t n)
{
    debuginfo_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->ndirs = n + 1;
    d->dirs = calloc(d->ndirs, sizeof(char *));
    d->flat = calloc(d->ndirs, sizeof(*d->flat));
    d->nflat = calloc(d->ndirs, sizeof(size_t));
    d->flat_built = calloc(d->ndirs, sizeof(bool));
    bool ok = d->dirs && d->flat && d->nflat && d->flat_built;
    for (size_t i = 0; ok && i < d->ndirs; i++) {
        d->dirs[i] = strdup(i < n ? dirs[i] : DEBUGINFO_SYSTEM_DIR);
        ok = d->dirs[i] != NULL;
    }
    if (!ok) {
        debuginfo_free(d);
        return NULL;
    }
    return d;
}

void
debuginfo_free(debuginfo_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->ndirs; i++) {
        for (size_t j = 0; d->flat != NULL && j < d->nflat[i]; j++)
            free(d->flat[i][j].path);
        if (d->flat != NULL)
            free(d->flat[i]);
        if (d->dirs != NULL)
            free(d->dirs[i]);
    }
    free(d->dirs);
    free(d->flat);
    free(d->nflat);
    free(d->flat_built);
    free(d);
}

/* Adds one flat-directory entry; false if out of memory. */
static bool
debuginfo_flat_add(debuginfo_t *d, size_t i, char *path,
                   const debuginfo_elf_t *info)
{
    debuginfo_flat_t *bigger =
        realloc(d->flat[i], (d->nflat[i] + 1) * sizeof(*bigger));
    if (bigger == NULL)
        return false;
    d->flat[i] = bigger;
    bigger[d->nflat[i]++] = (debuginfo_flat_t){path, *info};
    return true;
}

/* Indexes the ELF files lying directly in dirs[i] (once). */
static void
debuginfo_flat_build(debuginfo_t *d, size_t i)
{
    d->flat_built[i] = true;
    DIR *dir = opendir(d->dirs[i]);
    if (dir == NULL)
        return;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        char *path;
        struct stat st;
        debuginfo_elf_t info;
        if (e->d_name[0] == '.' ||
            asprintf(&path, "%s/%s", d->dirs[i], e->d_name) < 0)
            continue;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            debuginfo_probe(path, &info) && info.build_id[0] != '\0' &&
            debuginfo_flat_add(d, i, path, &info))
            continue;
        free(path);
    }
    closedir(dir);
}

/* The test a candidate must pass: what the caller is looking for. */
typedef enum debuginfo_want_e {
    DEBUGINFO_WANT_ANY,   /* any ELF file with the build ID */
    DEBUGINFO_WANT_CODE,  /* ... with code */
    DEBUGINFO_WANT_DWARF, /* ... with DWARF */
} debuginfo_want_t;

static bool
debuginfo_fits(const debuginfo_elf_t *info, const char *build_id,
               debuginfo_want_t want)
{
    if (!info->is_elf || strcmp(info->build_id, build_id) != 0)
        return false;
    return want == DEBUGINFO_WANT_ANY ||
           (want == DEBUGINFO_WANT_CODE && info->has_code) ||
           (want == DEBUGINFO_WANT_DWARF && info->has_dwarf);
}

/* The first file in dirs[i]'s build-id tree that fits, malloc'd, or NULL. */
static char *
debuginfo_search_tree(const debuginfo_t *d, size_t i, const char *id,
                      debuginfo_want_t want)
{
    static const char *const layouts[] = {
        "%s/.build-id/%.2s/%s.debug",
        "%s/.build-id/%.2s/%s",
        "%s/%.2s/%s.debug",
        "%s/%.2s/%s",
    };
    for (size_t k = 0; k < sizeof(layouts) / sizeof(layouts[0]); k++) {
        char *path;
        debuginfo_elf_t info;
        if (asprintf(&path, layouts[k], d->dirs[i], id, id + 2) < 0)
            return NULL;
        if (debuginfo_probe(path, &info) && debuginfo_fits(&info, id, want))
            return path;
        free(path);
    }
    return NULL;
}

/* The first file of dirs[i] or its flat index that fits, or NULL. */
static char *
debuginfo_search_dir(debuginfo_t *d, size_t i, const char *id,
                     debuginfo_want_t want)
{
    char *path = debuginfo_search_tree(d, i, id, want);
    if (path != NULL || i == d->ndirs - 1) /* no flat scan of the system dir */
        return path;
    if (!d->flat_built[i])
        debuginfo_flat_build(d, i);
    for (size_t j = 0; j < d->nflat[i]; j++)
        if (debuginfo_fits(&d->flat[i][j].info, id, want))
            return strdup(d->flat[i][j].path);
    return NULL;
}

static char *
debuginfo_search(debuginfo_t *d, const char *id, debuginfo_want_t want)
{
    if (strlen(id) < 3)
        return NULL;
    for (size_t i = 0; i < d->ndirs; i++) {
        char *path = debuginfo_search_dir(d, i, id, want);
        if (path != NULL)
            return path;
    }
    return NULL;
}

char *
debuginfo_find_main(debuginfo_t *d, const char *path, const char *build_id,
                    bool *r_debug_only, bool *r_mismatch)
{
    debuginfo_elf_t info;
    *r_debug_only = false;
    *r_mismatch = false;
    if (path[0] != '\0' && debuginfo_probe(path, &info)) {
        if (build_id[0] == '\0' || strcmp(info.build_id, build_id) == 0) {
            *r_debug_only = !info.has_code;
            return strdup(path);
        }
        *r_mismatch = true;
    }
    if (build_id[0] == '\0')
        return NULL;
    char *found = debuginfo_search(d, build_id, DEBUGINFO_WANT_CODE);
    if (found == NULL) {
        found = debuginfo_search(d, build_id, DEBUGINFO_WANT_ANY);
        *r_debug_only = found != NULL;
    }
    return found;
}

char *
debuginfo_find_dwarf(debuginfo_t *d, const char *build_id)
{
    if (build_id[0] == '\0')
        return NULL;
    return debuginfo_search(d, build_id, DEBUGINFO_WANT_DWARF);
}
