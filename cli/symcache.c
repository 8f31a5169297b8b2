/*
 * symcache.c — the on-disk symbolization cache of symcache.h.
 *
 * In memory: entries[] (one per address, each naming a run of frames[])
 * and a map from address to entry.  entries[0..flushed) are in the file
 * already; a flush appends the rest as one write.
 *
 * Invariants: entries[i] covers frames[entries[i].first ..
 * entries[i].first + entries[i].n); at maps vaddr to i + 1; flushed <=
 * nentries; dwarf is -1 (unknown), 0 or 1.
 *
 * Threading: none.
 */
#include "symcache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "hmap.h"
#include "hs_config.h"

#define SYMCACHE_MAGIC "heapsight-symbols 1 "

typedef struct symcache_entry_s {
    uint64_t vaddr;
    size_t first, n; /* frames[first .. first + n) */
} symcache_entry_t;

struct symcache_s {
    char *path;   /* the cache file */
    char *header; /* SYMCACHE_MAGIC key "\n" */
    char *buf;    /* the file as read; strings of read frames point here */
    hmap_t at;    /* vaddr → entries index + 1 */
    symcache_entry_t *entries;
    size_t nentries, cap_entries, flushed;
    resolver_frame_t *frames;
    size_t nframes, cap_frames;
    int dwarf;         /* -1 unknown, else the flag */
    bool dwarf_stored; /* the file has a D record */
};

/* ---- where ------------------------------------------------------------ */

char *
symcache_dir(void)
{
    const char *env = getenv("HEAPSIGHT_SYMBOL_CACHE");
    char *dir = NULL;
    if (env != NULL)
        return env[0] == '\0' || strcmp(env, "off") == 0 ? NULL : strdup(env);
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg != NULL && xdg[0] == '/') {
        if (asprintf(&dir, "%s/heapsight/symbols", xdg) < 0)
            dir = NULL;
    } else if (home != NULL && home[0] == '/') {
        if (asprintf(&dir, "%s/.cache/heapsight/symbols", home) < 0)
            dir = NULL;
    }
    return dir;
}

/* "path size mtime" of a file for the key, malloc'd; NULL if unreadable. */
static char *
symcache_file_id(const char *path)
{
    struct stat st;
    char *id;
    if (path == NULL)
        return strdup("-");
    if (stat(path, &st) != 0 ||
        asprintf(&id, "%s %lld %lld.%09ld", path, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec) < 0)
        return NULL;
    return id;
}

/* FNV-1a, 64 bits: the file name's hash of the key. */
static uint64_t
symcache_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Sets c->header and c->path for the module version.  0 or an errno. */
static int
symcache_name(symcache_t *c, const char *dir, const char *build_id,
              const char *code_path, const char *dwarf_path)
{
    char *code = symcache_file_id(code_path);
    char *dwarf = symcache_file_id(dwarf_path);
    char *key = NULL;
    int e = code == NULL || dwarf == NULL ? ENOENT : 0;
    if (e == 0 && asprintf(&key, "%s\t%s\t%s\t%d\t%s", build_id, code, dwarf,
                           SYMCACHE_RESULTS, HS_VERSION_STRING) < 0)
        e = ENOMEM;
    /* A key with a newline (a path with one) would break the header. */
    if (e == 0 && strchr(key, '\n') != NULL)
        e = EINVAL;
    if (e == 0 && (asprintf(&c->header, SYMCACHE_MAGIC "%s\n", key) < 0 ||
                   asprintf(&c->path, "%s/%s-%016" PRIx64 ".sym", dir, build_id,
                            symcache_hash(key)) < 0))
        e = ENOMEM;
    free(key);
    free(code);
    free(dwarf);
    return e;
}

/* ---- in memory -------------------------------------------------------- */

/* Grows *arr (elements of size sz) to hold n + more; false if no memory. */
static bool
symcache_reserve(void **arr, size_t *cap, size_t n, size_t more, size_t sz)
{
    if (n + more <= *cap)
        return true;
    size_t ncap = *cap < 64 ? 64 : *cap;
    while (ncap < n + more)
        ncap *= 2;
    void *bigger = realloc(*arr, ncap * sz);
    if (bigger == NULL)
        return false;
    *arr = bigger;
    *cap = ncap;
    return true;
}

/* Adds an entry for vaddr over frames[first..nframes).  0 or ENOMEM. */
static int
symcache_add(symcache_t *c, uint64_t vaddr, size_t first)
{
    if (!symcache_reserve((void **)&c->entries, &c->cap_entries, c->nentries, 1,
                          sizeof(*c->entries)))
        return ENOMEM;
    c->entries[c->nentries] =
        (symcache_entry_t){vaddr, first, c->nframes - first};
    int e = hmap_put_u64(&c->at, vaddr, ++c->nentries);
    if (e != 0)
        c->nentries--;
    return e;
}

/* ---- reading ---------------------------------------------------------- */

/* Splits line into at most max tab-separated fields (NUL-terminated in
 * place); returns how many. */
static size_t
symcache_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    while (n < max) {
        f[n++] = line;
        line = strchr(line, '\t');
        if (line == NULL)
            break;
        *line++ = '\0';
    }
    return n;
}

/* An empty field is NULL. */
static const char *
symcache_str(const char *f)
{
    return f[0] == '\0' ? NULL : f;
}

/* Parses one F record into frames[nframes].  False if malformed. */
static bool
symcache_read_frame(symcache_t *c, char *line)
{
    char *f[6], *end1, *end2;
    if (symcache_fields(line, f, 6) != 6 || strcmp(f[0], "F") != 0 ||
        !symcache_reserve((void **)&c->frames, &c->cap_frames, c->nframes, 1,
                          sizeof(*c->frames)))
        return false;
    resolver_frame_t *fr = &c->frames[c->nframes];
    fr->name = symcache_str(f[1]);
    fr->linkage = symcache_str(f[2]);
    fr->file = symcache_str(f[3]);
    fr->line = strtoll(f[4], &end1, 10);
    fr->decl_line = strtoll(f[5], &end2, 10);
    if (*end1 != '\0' || *end2 != '\0' || end1 == f[4] || end2 == f[5])
        return false;
    c->nframes++;
    return true;
}

/* The next line of *p (NUL-terminated in place), or NULL at the end or
 * at a last line without its newline (a write cut short). */
static char *
symcache_next_line(char **p)
{
    char *nl = strchr(*p, '\n');
    if (nl == NULL)
        return NULL;
    char *line = *p;
    *nl = '\0';
    *p = nl + 1;
    return line;
}

/* Parses the records of c->buf up to the first malformed one. */
static void
symcache_parse(symcache_t *c)
{
    size_t hlen = strlen(c->header) - 1; /* without its newline */
    char *p = c->buf, *line;
    while ((line = symcache_next_line(&p)) != NULL) {
        char *f[3], *end;
        if (strncmp(line, SYMCACHE_MAGIC, sizeof(SYMCACHE_MAGIC) - 1) == 0) {
            if (strlen(line) != hlen || memcmp(line, c->header, hlen) != 0)
                return; /* another key: a hash collision */
            continue;
        }
        size_t nf = symcache_fields(line, f, 3);
        if (nf == 2 && strcmp(f[0], "D") == 0 &&
            (strcmp(f[1], "0") == 0 || strcmp(f[1], "1") == 0)) {
            c->dwarf = f[1][0] == '1';
            c->dwarf_stored = true;
            continue;
        }
        if (nf != 3 || strcmp(f[0], "A") != 0)
            return;
        uint64_t vaddr = strtoull(f[1], &end, 16);
        unsigned long n = *end == '\0' ? strtoul(f[2], &end, 10) : 0;
        if (*end != '\0' || n > RESOLVER_MAX_FRAMES)
            return;
        size_t first = c->nframes;
        for (unsigned long i = 0; i < n; i++) {
            line = symcache_next_line(&p);
            if (line == NULL || !symcache_read_frame(c, line)) {
                c->nframes = first;
                return;
            }
        }
        if (symcache_add(c, vaddr, first) != 0)
            return;
    }
}

/* Reads c->path into c->buf (a missing file reads as empty). */
static void
symcache_load(symcache_t *c)
{
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    if ((uint64_t)st.st_size > SYMCACHE_MAX_BYTES) {
        unlink(c->path); /* start again rather than grow without end */
        close(fd);
        return;
    }
    size_t size = (size_t)st.st_size, got = 0;
    c->buf = malloc(size + 1);
    while (c->buf != NULL && got < size) {
        ssize_t r = read(fd, c->buf + got, size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (c->buf == NULL)
        return;
    c->buf[got] = '\0';
    symcache_parse(c);
    c->flushed = c->nentries;
}

symcache_t *
symcache_open(const char *dir, const char *build_id, const char *code_path,
              const char *dwarf_path)
{
    if (dir == NULL || build_id == NULL || build_id[0] == '\0')
        return NULL;
    symcache_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    hmap_init(&c->at);
    c->dwarf = -1;
    if (symcache_name(c, dir, build_id, code_path, dwarf_path) != 0) {
        symcache_close(c);
        return NULL;
    }
    symcache_load(c);
    return c;
}

/* ---- lookups ---------------------------------------------------------- */

bool
symcache_get(const symcache_t *c, uint64_t vaddr, resolver_frame_t *frames,
             size_t max, size_t *r_n)
{
    uint64_t i;
    if (c == NULL || !hmap_get_u64(&c->at, vaddr, &i))
        return false;
    const symcache_entry_t *en = &c->entries[i - 1];
    size_t n = en->n < max ? en->n : max;
    if (n > 0) /* c->frames is NULL while every answer is empty */
        memcpy(frames, c->frames + en->first, n * sizeof(*frames));
    *r_n = n;
    return true;
}

/* True if s can be written as a field (no tab or newline). */
static bool
symcache_storable(const char *s)
{
    return s == NULL || strpbrk(s, "\t\n") == NULL;
}

int
symcache_put(symcache_t *c, uint64_t vaddr, const resolver_frame_t *frames,
             size_t n)
{
    if (c == NULL || hmap_get_u64(&c->at, vaddr, NULL))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!symcache_storable(frames[i].name) ||
            !symcache_storable(frames[i].linkage) ||
            !symcache_storable(frames[i].file))
            return 0; /* not cached: resolved again next time */
    if (!symcache_reserve((void **)&c->frames, &c->cap_frames, c->nframes, n,
                          sizeof(*c->frames)))
        return ENOMEM;
    size_t first = c->nframes;
    if (n > 0) /* c->frames is NULL until a first frame is kept */
        memcpy(c->frames + first, frames, n * sizeof(*frames));
    c->nframes += n;
    int e = symcache_add(c, vaddr, first);
    if (e != 0)
        c->nframes = first;
    return e;
}

bool
symcache_get_dwarf(const symcache_t *c, bool *r_dwarf)
{
    if (c == NULL || c->dwarf < 0)
        return false;
    *r_dwarf = c->dwarf == 1;
    return true;
}

void
symcache_set_dwarf(symcache_t *c, bool dwarf)
{
    if (c != NULL && c->dwarf < 0)
        c->dwarf = dwarf;
}

/* ---- writing ---------------------------------------------------------- */

/* The text of what is not on disk yet, malloc'd, into *r_text; 0 or an
 * errno value. */
static int
symcache_unflushed(const symcache_t *c, bool header, char **r_text,
                   size_t *r_len)
{
    FILE *f = open_memstream(r_text, r_len);
    if (f == NULL)
        return errno;
    if (header)
        fputs(c->header, f);
    if (c->dwarf >= 0 && !c->dwarf_stored)
        fprintf(f, "D\t%d\n", c->dwarf);
    for (size_t i = c->flushed; i < c->nentries; i++) {
        const symcache_entry_t *en = &c->entries[i];
        fprintf(f, "A\t%" PRIx64 "\t%zu\n", en->vaddr, en->n);
        for (size_t j = 0; j < en->n; j++) {
            const resolver_frame_t *fr = &c->frames[en->first + j];
            fprintf(f, "F\t%s\t%s\t%s\t%" PRId64 "\t%" PRId64 "\n",
                    fr->name != NULL ? fr->name : "",
                    fr->linkage != NULL ? fr->linkage : "",
                    fr->file != NULL ? fr->file : "", fr->line, fr->decl_line);
        }
    }
    return fclose(f) == 0 ? 0 : ENOMEM;
}

int
symcache_flush(symcache_t *c)
{
    if (c == NULL ||
        (c->flushed == c->nentries && (c->dwarf < 0 || c->dwarf_stored)))
        return 0;
    char *dir = strdup(c->path);
    if (dir == NULL)
        return ENOMEM;
    *strrchr(dir, '/') = '\0';
    int e = cmd_mkdirs(dir, 0700);
    free(dir);
    int fd =
        e == 0 ? open(c->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)
               : -1;
    struct stat st;
    if (e == 0 && (fd < 0 || fstat(fd, &st) != 0))
        e = errno;
    char *text = NULL;
    size_t len = 0;
    if (e == 0)
        e = symcache_unflushed(c, st.st_size == 0, &text, &len);
    /* One write: concurrent runs interleave whole batches (O_APPEND). */
    if (e == 0 && write(fd, text, len) != (ssize_t)len)
        e = errno != 0 ? errno : EIO;
    free(text);
    if (fd >= 0)
        close(fd);
    c->flushed = c->nentries;
    c->dwarf_stored |= c->dwarf >= 0;
    return e;
}

void
symcache_close(symcache_t *c)
{
    if (c == NULL)
        return;
    symcache_flush(c);
    hmap_destroy(&c->at);
    free(c->entries);
    free(c->frames);
    free(c->buf);
    free(c->header);
    free(c->path);
    free(c);
}
