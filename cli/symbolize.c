/*
 * symbolize.c — `heapsight symbolize PROFILE -o OUT [--debug-dir DIR]...`
 * and the engine of symbolize.h.
 *
 * How it stays fast (a naive libdw lookup per address costs ~250 µs):
 *   - locations are grouped by mapping, and each mapping's file is found
 *     and opened once (resolver.h: one Dwfl per file, at bias 0);
 *   - each (file, address) is resolved once (the results cache below), and
 *     each function is interned once (functions, demangled);
 *   - function names come from DWARF scopes, or from a symbol table sorted
 *     once per file (resolver.c), never from dwfl_module_addrsym.
 *
 * Measured (RelWithDebInfo build, 2 cores, Debian 12, libc6-dbg installed;
 * the profile from tests/cli/mkprof.c: random distinct addresses in the
 * code of libc, libstdc++ and python3, in stacks of 8):
 *   build/tests/cli/hs_cli_mkprof big.pb.gz 5000 \
 *       /lib/x86_64-linux-gnu/libc.so.6 \
 *       /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/bin/python3.11
 *   build/bin/heapsight symbolize big.pb.gz -o sym.pb.gz -v
 *   → 4997 distinct addresses in 0.205 s: 24,000 addresses/s (0.24 s wall
 *     for the whole command, 36 MB peak RSS); 20,000 addresses: 0.26 s,
 *     76,000 addresses/s.
 * About 0.15 s of that is fixed: zlib inflating the compressed .debug_*
 * sections of libc's debug file; each further address costs ~5 µs.
 * libc resolves through DWARF (its lines agree with addr2line -f -i, a
 * test checks), libstdc++ and python3 through .dynsym only (no debug
 * packages installed): half of their random addresses fall in static
 * functions with no symbol and stay unresolved, as they should.  Before
 * the per-CU scope tables (scopetab.h), with dwarf_getscopes per address,
 * libc alone ran at 6,200 addresses/s.
 *
 * A session (symbolize.h) keeps the opened files across profiles: a
 * file's DWARF costs its opening once per `heapsight run`, however many
 * dumps its processes left.
 *
 * Invariants: results[i] covers lines[results[i].first ..
 * results[i].first + results[i].n); the results map sends
 * (module index, vaddr) to i + 1.  modules[k] is NULL for a file that was
 * not found (reported once) or could not be opened.
 *
 * Threading: none.
 */
#include "symbolize.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "debuginfo.h"
#include "hmap.h"
#include "resolver.h"
#include "symcache.h"

typedef struct symbolize_line_s {
    uint64_t function_id;
    int64_t line;
} symbolize_line_t;

typedef struct symbolize_result_s {
    size_t first, n; /* a run of lines[], innermost first */
} symbolize_result_t;

/* The files opened, kept across profiles by a session (symbolize.h). */
struct symbolize_session_s {
    debuginfo_t *di;
    hmap_t module_of; /* "build id\0path" → index into modules */
    resolver_t **modules;
    symcache_t **caches; /* caches[k]: modules[k]'s, or NULL */
    size_t nmodules, cap_modules, cap_caches;
    size_t files, missing;    /* counted once, when opened */
    char *cache_dir;          /* symcache.h; NULL: no cache */
    size_t cached, looked_up; /* addresses answered by each */
};

typedef struct symbolize_ctx_s {
    profile_t *p;
    symbolize_session_t *s;
    hmap_t result_of; /* (module index, vaddr) → results index + 1 */
    symbolize_result_t *results;
    size_t nresults, cap_results;
    symbolize_line_t *lines;
    size_t nlines, cap_lines;
    hmap_t function_of;     /* (name, system_name, file, start) → id */
    hmap_t display_name_of; /* system name → string index of its name */
    symbolize_stats_t st;
} symbolize_ctx_t;

/* Grows *arr (elements of size sz) to hold n + 1; false if no memory. */
static bool
symbolize_reserve(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap < 64 ? 64 : *cap * 2;
    void *bigger = realloc(*arr, ncap * sz);
    if (bigger == NULL)
        return false;
    *arr = bigger;
    *cap = ncap;
    return true;
}

/* ---- functions ---------------------------------------------------------- */

/* The key of a function: its four fields. */
static void
symbolize_function_key(int64_t key[4], const profile_function_t *f)
{
    key[0] = f->name;
    key[1] = f->system_name;
    key[2] = f->filename;
    key[3] = f->start_line;
}

/* Maps the profile's existing functions, so that equal ones are reused. */
static int
symbolize_map_functions(symbolize_ctx_t *c)
{
    for (size_t i = 0; i < c->p->pb->n_function; i++) {
        int64_t key[4];
        symbolize_function_key(key, c->p->pb->function[i]);
        if (!hmap_get(&c->function_of, key, sizeof(key), NULL) &&
            hmap_put(&c->function_of, key, sizeof(key),
                     c->p->pb->function[i]->id) != 0)
            return ENOMEM;
    }
    return 0;
}

/* The string index of the name shown for system name sys; -1: no memory. */
static int64_t
symbolize_display_name(symbolize_ctx_t *c, const char *sys, int64_t sys_idx)
{
    uint64_t idx;
    if (hmap_get_str(&c->display_name_of, sys, &idx))
        return (int64_t)idx;
    char *demangled = resolver_demangle(sys);
    int64_t name =
        demangled != NULL ? profile_intern(c->p, demangled) : sys_idx;
    free(demangled);
    if (name < 0 ||
        hmap_put(&c->display_name_of, sys, strlen(sys), (uint64_t)name) != 0)
        return -1;
    return name;
}

/* The id of the function of frame f, added if new; 0 if out of memory. */
static uint64_t
symbolize_function(symbolize_ctx_t *c, const resolver_frame_t *f)
{
    const char *sys = f->linkage != NULL ? f->linkage
                      : f->name != NULL  ? f->name
                                         : "??";
    int64_t key[4];
    key[1] = profile_intern(c->p, sys);
    key[0] = key[1] < 0 ? -1 : symbolize_display_name(c, sys, key[1]);
    key[2] = profile_intern(c->p, f->file != NULL ? f->file : "");
    key[3] = f->decl_line;
    if (key[0] < 0 || key[2] < 0)
        return 0;
    uint64_t id;
    if (hmap_get(&c->function_of, key, sizeof(key), &id))
        return id;
    id = profile_add_function(c->p, key[0], key[1], key[2], key[3]);
    if (id == 0 || hmap_put(&c->function_of, key, sizeof(key), id) != 0)
        return 0;
    return id;
}

/* ---- addresses ---------------------------------------------------------- */

/* The frames of vaddr in module k: from the cache, else looked up (and
 * then added to the cache).  Returns how many. */
static size_t
symbolize_frames(symbolize_session_t *s, size_t k, uint64_t vaddr,
                 resolver_frame_t *frames)
{
    size_t n;
    if (symcache_get(s->caches[k], vaddr, frames, RESOLVER_MAX_FRAMES, &n)) {
        s->cached++;
        return n;
    }
    n = resolver_lookup(s->modules[k], vaddr, frames, RESOLVER_MAX_FRAMES);
    s->looked_up++;
    symcache_put(s->caches[k], vaddr, frames, n); /* ENOMEM: not cached */
    return n;
}

/* Resolves vaddr in module k into a new result; its index + 1, or 0. */
static uint64_t
symbolize_resolve(symbolize_ctx_t *c, size_t k, uint64_t vaddr, int *r_err)
{
    resolver_frame_t frames[RESOLVER_MAX_FRAMES];
    size_t n = symbolize_frames(c->s, k, vaddr, frames);
    *r_err = ENOMEM;
    if (!symbolize_reserve((void **)&c->results, &c->cap_results, c->nresults,
                           sizeof(*c->results)))
        return 0;
    symbolize_result_t *res = &c->results[c->nresults];
    res->first = c->nlines;
    res->n = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t fid = symbolize_function(c, &frames[i]);
        if (fid == 0 || !symbolize_reserve((void **)&c->lines, &c->cap_lines,
                                           c->nlines, sizeof(*c->lines)))
            return 0;
        c->lines[c->nlines++] = (symbolize_line_t){fid, frames[i].line};
        res->n++;
    }
    *r_err = 0;
    c->st.addresses++;
    return ++c->nresults;
}

/* The result for vaddr in module k (cached); NULL with *r_err on error. */
static const symbolize_result_t *
symbolize_result(symbolize_ctx_t *c, size_t k, uint64_t vaddr, int *r_err)
{
    uint64_t key[2] = {k, vaddr}, i;
    *r_err = 0;
    if (!hmap_get(&c->result_of, key, sizeof(key), &i)) {
        i = symbolize_resolve(c, k, vaddr, r_err);
        if (i == 0 ||
            (*r_err = hmap_put(&c->result_of, key, sizeof(key), i)) != 0)
            return NULL;
    }
    return &c->results[i - 1];
}

/* Gives location l the lines of res.  Returns 0 or ENOMEM. */
static int
symbolize_set_lines(symbolize_ctx_t *c, profile_location_t *l,
                    const symbolize_result_t *res)
{
    l->line = calloc(res->n, sizeof(*l->line));
    if (l->line == NULL)
        return ENOMEM;
    for (size_t i = 0; i < res->n; i++) {
        profile_line_t *line = malloc(sizeof(*line));
        if (line == NULL)
            return ENOMEM; /* l->n_line counts what is there to free */
        perftools__profiles__line__init(line);
        line->function_id = c->lines[res->first + i].function_id;
        line->line = c->lines[res->first + i].line;
        l->line[l->n_line++] = line;
    }
    return 0;
}

/* ---- mappings ----------------------------------------------------------- */

/* The build ID as lowercase hex (hex-encoding it if it is not hex). */
static void
symbolize_build_id(const char *raw, char out[DEBUGINFO_ID_HEX_MAX])
{
    size_t n = strlen(raw);
    bool hex = n % 2 == 0 && n < DEBUGINFO_ID_HEX_MAX;
    for (size_t i = 0; hex && i < n; i++)
        hex = strchr("0123456789abcdefABCDEF", raw[i]) != NULL;
    if (!hex) {
        debuginfo_hex((const unsigned char *)raw, n, out);
        return;
    }
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)(raw[i] | (raw[i] >= 'A' && raw[i] <= 'F' ? 0x20 : 0));
}

/* The mapping's file name without the kernel's " (deleted)" mark. */
static char *
symbolize_path(const char *name)
{
    static const char deleted[] = " (deleted)";
    size_t n = strlen(name), d = sizeof(deleted) - 1;
    if (n > d && strcmp(name + n - d, deleted) == 0)
        n -= d;
    return strndup(name, n);
}

/* The cache of module k, whose code is read from file: keyed by the file
 * that gives its DWARF too (the file itself, or a separate debug file). */
static symcache_t *
symbolize_cache(symbolize_session_t *s, const char *file, const char *id)
{
    debuginfo_elf_t info;
    if (s->cache_dir == NULL || id[0] == '\0' || !debuginfo_probe(file, &info))
        return NULL;
    char *dwarf = info.has_dwarf ? NULL : debuginfo_find_dwarf(s->di, id);
    symcache_t *cache =
        symcache_open(s->cache_dir, id, file, info.has_dwarf ? file : dwarf);
    free(dwarf);
    return cache;
}

/* Finds and opens the file of (path, build id): a module or NULL, and
 * its cache in *r_cache (NULL when there is none). */
static resolver_t *
symbolize_open(symbolize_session_t *s, const char *path, const char *id,
               symcache_t **r_cache)
{
    bool debug_only, mismatch;
    bool pseudo = path[0] == '[' || path[0] == '\0'; /* [vdso] and such */
    char *file = debuginfo_find_main(s->di, pseudo ? "" : path, id, &debug_only,
                                     &mismatch);
    resolver_t *res = NULL;
    char err[PROFILE_ERR_MAX];
    if (file == NULL && !pseudo) {
        cmd_error("symbolize: no file for %s (build id %s%s)", path,
                  id[0] != '\0' ? id : "unknown",
                  mismatch ? "; the file there has another" : "");
        s->missing++;
    } else if (file != NULL && resolver_open(file, debug_only, s->di, &res, err,
                                             sizeof(err)) != 0) {
        cmd_error("symbolize: cannot read %s", err);
        s->missing++;
    }
    s->files += res != NULL;
    *r_cache = res != NULL ? symbolize_cache(s, file, id) : NULL;
    free(file);
    return res;
}

/* The index into the session's modules of mapping m's file (opened on
 * first use in the session). */
static int
symbolize_module(symbolize_ctx_t *c, const profile_mapping_t *m, size_t *r_k)
{
    symbolize_session_t *s = c->s;
    char id[DEBUGINFO_ID_HEX_MAX];
    symbolize_build_id(profile_str(c->p, m->build_id), id);
    char *path = symbolize_path(profile_str(c->p, m->filename));
    char *key = NULL;
    int klen = path == NULL ? -1 : asprintf(&key, "%s%c%s", id, 0, path);
    uint64_t k = 0;
    int e = klen < 0 ? ENOMEM : 0;
    if (e == 0 && !hmap_get(&s->module_of, key, (size_t)klen, &k)) {
        k = s->nmodules;
        if (!symbolize_reserve((void **)&s->modules, &s->cap_modules,
                               s->nmodules, sizeof(*s->modules)) ||
            !symbolize_reserve((void **)&s->caches, &s->cap_caches, s->nmodules,
                               sizeof(*s->caches)))
            e = ENOMEM;
        if (e == 0)
            e = hmap_put(&s->module_of, key, (size_t)klen, k);
        if (e == 0) {
            s->modules[k] = symbolize_open(s, path, id, &s->caches[k]);
            s->nmodules++;
        }
    }
    free(key);
    free(path);
    *r_k = (size_t)k;
    return e;
}

/* Whether module k has DWARF: from its cache when known there, since
 * asking the resolver opens the DWARF. */
static bool
symbolize_has_dwarf(symbolize_session_t *s, size_t k)
{
    bool dwarf;
    if (!symcache_get_dwarf(s->caches[k], &dwarf)) {
        dwarf = resolver_has_dwarf(s->modules[k]);
        symcache_set_dwarf(s->caches[k], dwarf);
    }
    return dwarf;
}

/* Symbolizes the locations locs[0..n) of mapping m. */
static int
symbolize_mapping(symbolize_ctx_t *c, profile_mapping_t *m,
                  profile_location_t **locs, size_t n)
{
    size_t k;
    int e = symbolize_module(c, m, &k);
    resolver_t *res = e == 0 ? c->s->modules[k] : NULL;
    c->st.mappings++;
    if (res == NULL)
        return e;
    uint64_t bias = resolver_bias(res, m->memory_start, m->file_offset);
    size_t resolved = 0;
    for (size_t i = 0; i < n && e == 0; i++) {
        const symbolize_result_t *r =
            symbolize_result(c, k, locs[i]->address - bias, &e);
        if (r != NULL && r->n > 0) {
            e = symbolize_set_lines(c, locs[i], r);
            resolved++;
        }
    }
    c->st.resolved += resolved;
    if (resolved > 0) {
        bool dwarf = symbolize_has_dwarf(c->s, k);
        m->has_functions = true;
        m->has_filenames |= dwarf;
        m->has_line_numbers |= dwarf;
        m->has_inline_frames |= dwarf;
    }
    return e;
}

/* ---- the pass ----------------------------------------------------------- */

static int
symbolize_by_mapping(const void *a, const void *b)
{
    const profile_location_t *x = *(profile_location_t *const *)a;
    const profile_location_t *y = *(profile_location_t *const *)b;
    if (x->mapping_id != y->mapping_id)
        return x->mapping_id < y->mapping_id ? -1 : 1;
    return (x->address > y->address) - (x->address < y->address);
}

/* The locations that want symbols, grouped by mapping; NULL if none. */
static profile_location_t **
symbolize_unresolved(const profile_t *p, size_t *r_n)
{
    profile_location_t **unresolved =
        malloc((p->pb->n_location + 1) * sizeof(*unresolved));
    size_t n = 0;
    for (size_t i = 0; unresolved != NULL && i < p->pb->n_location; i++) {
        profile_location_t *l = p->pb->location[i];
        if (l->mapping_id != 0 && l->n_line == 0)
            unresolved[n++] = l;
    }
    if (unresolved != NULL)
        qsort(unresolved, n, sizeof(*unresolved), symbolize_by_mapping);
    *r_n = n;
    return unresolved;
}

/* Runs symbolize_mapping over each group of unresolved[0..n). */
static int
symbolize_groups(symbolize_ctx_t *c, profile_location_t **unresolved, size_t n)
{
    int e = 0;
    for (size_t i = 0, j; i < n && e == 0; i = j) {
        for (j = i + 1;
             j < n && unresolved[j]->mapping_id == unresolved[i]->mapping_id;)
            j++;
        profile_mapping_t *m = profile_mapping(c->p, unresolved[i]->mapping_id);
        e = symbolize_mapping(c, m, unresolved + i, j - i);
    }
    return e;
}

static void
symbolize_ctx_free(symbolize_ctx_t *c)
{
    free(c->results);
    free(c->lines);
    hmap_destroy(&c->result_of);
    hmap_destroy(&c->function_of);
    hmap_destroy(&c->display_name_of);
}

symbolize_session_t *
symbolize_session_new(const symbolize_opts_t *o)
{
    symbolize_session_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    hmap_init(&s->module_of);
    s->di = debuginfo_new(o->debug_dirs, o->ndebug_dirs);
    s->cache_dir = symcache_dir();
    if (s->di == NULL) {
        symbolize_session_free(s);
        return NULL;
    }
    return s;
}

void
symbolize_session_free(symbolize_session_t *s)
{
    if (s == NULL)
        return;
    /* The caches first: their new frames point into the resolvers. */
    for (size_t k = 0; k < s->nmodules; k++)
        symcache_close(s->caches[k]);
    for (size_t k = 0; k < s->nmodules; k++)
        resolver_close(s->modules[k]);
    free(s->caches);
    free(s->cache_dir);
    free(s->modules);
    hmap_destroy(&s->module_of);
    debuginfo_free(s->di);
    free(s);
}

static double
symbolize_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
symbolize_profile(profile_t *p, const symbolize_opts_t *o,
                  symbolize_stats_t *r_stats)
{
    double t0 = symbolize_now();
    symbolize_session_t *own =
        o->session == NULL ? symbolize_session_new(o) : NULL;
    symbolize_ctx_t c = {.p = p, .s = o->session != NULL ? o->session : own};
    hmap_init(&c.result_of);
    hmap_init(&c.function_of);
    hmap_init(&c.display_name_of);
    size_t n = 0, files = 0, missing = 0, cached = 0, looked_up = 0;
    if (c.s != NULL) {
        files = c.s->files;
        missing = c.s->missing;
        cached = c.s->cached;
        looked_up = c.s->looked_up;
    }
    profile_location_t **unresolved = symbolize_unresolved(p, &n);
    int e = unresolved == NULL || c.s == NULL ? ENOMEM
                                              : symbolize_map_functions(&c);
    if (e == 0)
        e = symbolize_groups(&c, unresolved, n);
    c.st.locations = n;
    if (c.s != NULL) {
        c.st.files = c.s->files - files;
        c.st.missing = c.s->missing - missing;
        c.st.cached = c.s->cached - cached;
        c.st.looked_up = c.s->looked_up - looked_up;
        /* Each profile's new answers reach the disk with it. */
        for (size_t k = 0; k < c.s->nmodules; k++)
            symcache_flush(c.s->caches[k]);
    }
    free(unresolved);
    symbolize_ctx_free(&c);
    symbolize_session_free(own);
    c.st.seconds = symbolize_now() - t0;
    if (r_stats != NULL)
        *r_stats = c.st;
    return e;
}

/* ---- the command -------------------------------------------------------- */

static void
symbolize_report(const char *in, const symbolize_stats_t *st)
{
    double rate = st->seconds > 0 ? (double)st->addresses / st->seconds : 0;
    cmd_error("symbolize: %s: %zu of %zu locations resolved, %zu distinct "
              "addresses in %zu files (%zu from the symbol cache, %zu looked "
              "up), %.3f s (%.0f addresses/s)",
              in, st->resolved, st->locations, st->addresses, st->files,
              st->cached, st->looked_up, st->seconds, rate);
}

int
symbolize_file(const char *in, const char *out, const symbolize_opts_t *o)
{
    char err[PROFILE_ERR_MAX];
    profile_t *p;
    if (profile_read(in, &p, err, sizeof(err)) != 0) {
        cmd_error("%s", err);
        return CMD_EXIT_USAGE;
    }
    symbolize_stats_t st;
    int e = symbolize_profile(p, o, &st);
    if (e != 0) {
        cmd_error("symbolize: %s: %s", in, strerror(e));
        profile_free(p);
        return CMD_EXIT_FAIL;
    }
    if (o->verbose)
        symbolize_report(in, &st);
    e = profile_write(p, out, err, sizeof(err));
    profile_free(p);
    if (e != 0) {
        cmd_error("%s", err);
        return CMD_EXIT_FAIL;
    }
    return CMD_EXIT_OK;
}

static int symbolize_main(int argc, char **argv);

const cmd_t cmd_symbolize = {
    .name = "symbolize",
    .summary = "add functions, files and lines to a profile's addresses",
    .usage =
        "usage: heapsight symbolize PROFILE -o OUT [--debug-dir DIR]... [-v]\n"
        "\n"
        "Resolves every native address of PROFILE (a pprof profile, gzipped\n"
        "or not) into its function, source file and line, with inlined\n"
        "functions as extra lines of one location, and writes the result\n"
        "gzipped to OUT (which may be PROFILE itself).\n"
        "\n"
        "Each mapping's file is found by its path when its build ID\n"
        "matches, else by build ID in each DIR and then /usr/lib/debug:\n"
        "DIR/.build-id/xx/yyyy.debug, DIR/xx/yyyy.debug, or any ELF file\n"
        "lying directly in DIR with that build ID.  A stripped file's\n"
        "DWARF comes from its separate debug file, found the same way.\n"
        "Copy binaries or debug files from the machine that recorded the\n"
        "profile into a DIR to symbolize it elsewhere.  Files not found\n"
        "are reported, one line each, and their addresses left as they are.\n"
        "\n"
        "Answers are kept in a cache per file version (build ID, and the\n"
        "paths, sizes and times of the files read), so an address seen\n"
        "before needs no DWARF: $HEAPSIGHT_SYMBOL_CACHE (a directory, or\n"
        "'off'), else $XDG_CACHE_HOME/heapsight/symbols, else\n"
        "~/.cache/heapsight/symbols.\n"
        "\n"
        "options:\n"
        "  -o, --output OUT     where to write the symbolized profile\n"
        "  -d, --debug-dir DIR  also look for files by build ID in DIR\n"
        "                       (repeatable; searched in order)\n"
        "  -v, --verbose        print counts and speed on stderr\n"
        "  -h, --help           this text\n"
        "\n"
        "exit status: 0 done, 1 OUT not written, 2 bad usage or PROFILE\n"
        "unreadable.\n",
    .main = symbolize_main,
};
CMD_REGISTER(cmd_symbolize, CMD_ORDER_SYMBOLIZE);

static int
symbolize_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"debug-dir", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    const char **dirs = calloc((size_t)argc + 1, sizeof(*dirs));
    symbolize_opts_t o = {dirs, 0, false, NULL};
    int c, status = -1;
    cmd_getopt_reset();
    while (dirs != NULL && status < 0 &&
           (c = getopt_long(argc, argv, ":o:d:vh", longopts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'd')
            dirs[o.ndebug_dirs++] = optarg;
        else if (c == 'v')
            o.verbose = true;
        else if (c == 'h')
            status = cmd_help(&cmd_symbolize);
        else
            status = cmd_bad_option(&cmd_symbolize, c, argv);
    }
    if (dirs == NULL)
        status = CMD_EXIT_FAIL;
    else if (status < 0 && optind != argc - 1)
        status = cmd_usage_error(&cmd_symbolize, optind == argc
                                                     ? "no PROFILE given"
                                                     : "one PROFILE at a time");
    else if (status < 0 && out == NULL)
        status = cmd_usage_error(&cmd_symbolize, "no output given (-o OUT)");
    if (status < 0)
        status = symbolize_file(argv[optind], out, &o);
    free(dirs);
    return status;
}
