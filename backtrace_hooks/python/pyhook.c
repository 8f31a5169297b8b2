/*
 * pyhook.c — the Python backtrace hook (see pyhook.h).
 *
 * Start-up (py_hook_install, GIL held, outside malloc): dlsym and dladdr1
 * give the hot eval loop and its size; dl_iterate_phdr gives the object
 * holding it (load bias, executable segment, GNU build ID); libelf reads
 * the full symbol table of that object's file, or of its debug file, for
 * the .cold part and the allocator entry functions.
 *
 * The frame cache: 4096 direct-mapped slots keyed by (code object,
 * offset), each with the code object's identity (pyframes.h: names, file,
 * first line, and the line table's address, length and ends): a slot left
 * by a code object that died, whose memory now holds another, is taken
 * only when all of it agrees — and then it is the same frame.  A hit reads
 * no line table.  Slots are sequence-numbered (../seqslot.h).
 */
#include "pyhook.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../alloc/util/fmt.h"
#include "../seqslot.h"
#include "merge.h"
#include "pyframes.h"

enum {
    TRIM_MAX = 32,
    CUT_SCAN = 16, /* how deep a wrapper frame is looked for */
    CACHE_LG = 12,
    CACHE_SLOTS = 1 << CACHE_LG,
};

typedef struct range_s {
    uintptr_t lo, hi;
} range_t;

static py_hs_api_t api;
static py_hook_info_t info;
static range_t trims[TRIM_MAX];
static _Atomic(unsigned) ntrims;
static range_t cut_through; /* py_hook_trim: drop it and all inner frames */
static bool found;
static _Atomic(bool) installed;
static _Atomic(uint64_t) names_computed;

/* ---- the interpreter's code ---- */

typedef struct obj_s {
    uintptr_t probe;
    uintptr_t bias;
    uintptr_t text_lo, text_hi;
    char path[512];
    unsigned char build_id[64];
    size_t build_id_len;
    bool found;
} obj_t;

static void
note_build_id(obj_t *o, const ElfW(Phdr) * ph, uintptr_t bias)
{
    const unsigned char *p = (const unsigned char *)(bias + ph->p_vaddr);
    const unsigned char *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
        const unsigned char *name = p + sizeof(*nh);
        const unsigned char *desc = name + ((nh->n_namesz + 3) & ~3u);
        if (desc + nh->n_descsz > end)
            return;
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
            memcmp(name, "GNU", 4) == 0 && nh->n_descsz <= sizeof o->build_id) {
            memcpy(o->build_id, desc, nh->n_descsz);
            o->build_id_len = nh->n_descsz;
            return;
        }
        p = desc + ((nh->n_descsz + 3) & ~3u);
    }
}

static int
find_object_cb(struct dl_phdr_info *di, size_t size, void *arg)
{
    (void)size;
    obj_t *o = arg;
    for (int i = 0; i < di->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &di->dlpi_phdr[i];
        uintptr_t lo = di->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || o->probe < lo ||
            o->probe >= lo + ph->p_memsz)
            continue;
        o->found = true;
        o->bias = di->dlpi_addr;
        o->text_lo = lo;
        o->text_hi = lo + ph->p_memsz;
        hs_snprintf(o->path, sizeof o->path, "%s",
                    di->dlpi_name != NULL && di->dlpi_name[0] != '\0'
                        ? di->dlpi_name
                        : "/proc/self/exe");
        for (int j = 0; j < di->dlpi_phnum; j++)
            if (di->dlpi_phdr[j].p_type == PT_NOTE && o->build_id_len == 0)
                note_build_id(o, &di->dlpi_phdr[j], di->dlpi_addr);
        return 1;
    }
    return 0;
}

/* Names looked up in the full symbol table. */
static const char *const cold_name = "_PyEval_EvalFrameDefault.cold";
static const char *const trim_names[] = {
    "PyMem_RawMalloc",  "PyMem_RawCalloc",  "PyMem_RawRealloc",
    "PyMem_Malloc",     "PyMem_Calloc",     "PyMem_Realloc",
    "PyObject_Malloc",  "PyObject_Calloc",  "PyObject_Realloc",
    "_PyMem_RawMalloc", "_PyMem_RawCalloc", "_PyMem_RawRealloc",
    "_PyObject_Malloc", "_PyObject_Calloc", "_PyObject_Realloc",
};
enum { NTRIM_NAMES = sizeof trim_names / sizeof trim_names[0] };

static void
add_trim(uintptr_t lo, uintptr_t hi)
{
    unsigned n = atomic_load(&ntrims);
    for (unsigned i = 0; i < n; i++)
        if (trims[i].lo == lo)
            return;
    if (n < TRIM_MAX && lo < hi) {
        trims[n] = (range_t){lo, hi};
        atomic_store_explicit(&ntrims, n + 1, memory_order_release);
    }
}

/* Whether nm (a symbol name, maybe with the compiler's suffixes:
 * ".lto_priv.0", ".isra.0", ".cold") is one of trim_names: the name before
 * the first dot counts.  All of them start with "_P" or "Py", which
 * rejects most of a large symbol table at the first two bytes. */
static bool
is_trim_name(const char *nm)
{
    if (!((nm[0] == '_' && nm[1] == 'P') || (nm[0] == 'P' && nm[1] == 'y')))
        return false;
    size_t base = strcspn(nm, ".");
    for (unsigned k = 0; k < NTRIM_NAMES; k++)
        if (strncmp(nm, trim_names[k], base) == 0 &&
            trim_names[k][base] == '\0')
            return true;
    return false;
}

/* One symbol of the full table: the .cold part or an entry to trim. */
static void
note_symbol(const char *nm, uintptr_t lo, uintptr_t hi)
{
    if (strcmp(nm, cold_name) == 0) {
        info.cold_lo = lo;
        info.cold_hi = hi;
    }
    if (is_trim_name(nm))
        add_trim(lo, hi);
}

/* Walks the SHT_SYMTAB sections of the ELF image m[0 .. size); true when
 * it has one.  Every offset is checked against size. */
static bool
scan_image(const unsigned char *m, size_t size, uintptr_t bias)
{
    const ElfW(Ehdr) *eh = (const void *)m;
    if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff > size ||
        (size - eh->e_shoff) / sizeof(ElfW(Shdr)) < eh->e_shnum)
        return false;
    const ElfW(Shdr) *sh = (const void *)(m + eh->e_shoff);
    bool had = false;
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum ||
            sh[i].sh_entsize != sizeof(ElfW(Sym)) || sh[i].sh_offset > size ||
            sh[i].sh_size > size - sh[i].sh_offset)
            continue;
        const ElfW(Shdr) *st = &sh[sh[i].sh_link];
        if (st->sh_offset > size || st->sh_size > size - st->sh_offset)
            continue;
        had = true;
        const ElfW(Sym) *sym = (const void *)(m + sh[i].sh_offset);
        const char *str = (const char *)m + st->sh_offset;
        size_t count = sh[i].sh_size / sizeof *sym;
        for (size_t k = 0; k < count; k++) {
            if (ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC ||
                sym[k].st_value == 0 || sym[k].st_name >= st->sh_size)
                continue;
            const char *nm = str + sym[k].st_name;
            if (nm[0] != '_' && nm[0] != 'P')
                continue;
            if (memchr(nm, '\0', st->sh_size - sym[k].st_name) == NULL)
                continue;
            uintptr_t lo = bias + sym[k].st_value;
            note_symbol(nm, lo, lo + sym[k].st_size);
        }
    }
    return had;
}

/* Reads the symbol table of path (if it has one) for the names above;
 * true when it had a symbol table.  The file is mapped, not read: a debug
 * file is tens of megabytes and only its symbol and string tables are
 * touched. */
static bool
scan_symtab(const char *path, uintptr_t bias)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return false;
    bool had = scan_image(m, (size_t)st.st_size, bias);
    munmap(m, (size_t)st.st_size);
    if (had)
        hs_snprintf(info.symtab, sizeof info.symtab, "%s", path);
    return had;
}

static void
find_code(void)
{
    void *hot = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
    Dl_info di;
    const ElfW(Sym) *sym = NULL;
    if (hot == NULL || !dladdr1(hot, &di, (void **)&sym, RTLD_DL_SYMENT) ||
        sym == NULL)
        return;
    info.eval_lo = (uintptr_t)hot;
    info.eval_hi = (uintptr_t)hot + sym->st_size;
    obj_t o = {.probe = (uintptr_t)hot};
    dl_iterate_phdr(find_object_cb, &o);
    if (o.found) {
        info.interp_lo = o.text_lo;
        info.interp_hi = o.text_hi;
    }
    bool symtab = false;
    if (o.found && !(symtab = scan_symtab(o.path, o.bias)) &&
        o.build_id_len > 1) {
        static const char dir[] = "/usr/lib/debug/.build-id/";
        static const char hex[] = "0123456789abcdef";
        char path[sizeof dir + 2 * sizeof o.build_id + 8];
        size_t k = sizeof dir - 1;
        memcpy(path, dir, k);
        for (size_t i = 0; i < o.build_id_len; i++) {
            path[k++] = hex[o.build_id[i] >> 4];
            path[k++] = hex[o.build_id[i] & 15];
            if (i == 0)
                path[k++] = '/';
        }
        memcpy(path + k, ".debug", sizeof ".debug");
        symtab = scan_symtab(path, o.bias);
    }
    /* Without a full symbol table, the exported entry functions from the
     * dynamic symbols (dladdr1 searches them one by one: skipped when the
     * symbol table has given them all). */
    if (!symtab)
        for (unsigned k = 0; k < NTRIM_NAMES; k++) {
            void *fn = dlsym(RTLD_DEFAULT, trim_names[k]);
            const ElfW(Sym) *s = NULL;
            if (fn != NULL && dladdr1(fn, &di, (void **)&s, RTLD_DL_SYMENT) &&
                s != NULL)
                add_trim((uintptr_t)fn, (uintptr_t)fn + s->st_size);
        }
    info.ntrim = atomic_load(&ntrims);
    found = true;
}

static bool
is_eval(hs_frame_t ip, void *arg)
{
    (void)arg;
    return (ip > info.eval_lo && ip <= info.eval_hi) ||
           (ip > info.cold_lo && ip <= info.cold_hi);
}

static bool
in_interp(hs_frame_t ip, void *arg)
{
    (void)arg;
    return ip > info.interp_lo && ip <= info.interp_hi;
}

static bool
in_trim(hs_frame_t ip)
{
    unsigned n = atomic_load_explicit(&ntrims, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (ip > trims[i].lo && ip <= trims[i].hi)
            return true;
    return false;
}

/* ---- the frame cache ---- */

typedef struct slot_s {
    seqslot_t seq;
    int offset;
    const void *code;
    py_code_id_t id;
    hs_frame_t frame;
} slot_t;

static slot_t cache[CACHE_SLOTS];

static slot_t *
slot_of(const void *code, int offset)
{
    uint64_t h = ((uintptr_t)code ^ ((uint64_t)(unsigned)offset << 40)) *
                 0x9e3779b97f4a7c15u;
    return &cache[h >> (64 - CACHE_LG)];
}

static bool
id_eq(const py_code_id_t *a, const py_code_id_t *b)
{
    return a->qualname == b->qualname && a->filename == b->filename &&
           a->linetable == b->linetable && a->firstlineno == b->firstlineno &&
           a->lt_len == b->lt_len && a->lt_head == b->lt_head &&
           a->lt_tail == b->lt_tail;
}

/* Plain reads of a slot between two loads of its sequence number: a torn
 * read is detected and thrown away (seqslot.h). */
static hs_frame_t
cache_get(const void *code, int offset, const py_code_id_t *id)
{
    slot_t *s = slot_of(code, offset);
    uint32_t seq;
    if (!seqslot_read_begin(&s->seq, &seq))
        return 0;
    const void *c = s->code;
    int off = s->offset;
    py_code_id_t sid = s->id;
    hs_frame_t f = s->frame;
    if (!seqslot_read_ok(&s->seq, seq) || c != code || off != offset ||
        !id_eq(&sid, id))
        return 0;
    return f;
}

static void
cache_put(const void *code, int offset, const py_code_id_t *id, hs_frame_t f)
{
    slot_t *s = slot_of(code, offset);
    uint32_t seq;
    if (!seqslot_write_begin(&s->seq, &seq))
        return;
    s->code = code;
    s->offset = offset;
    s->id = *id;
    s->frame = f;
    seqslot_write_end(&s->seq, seq);
}

static hs_frame_t
frame_of(const py_raw_frame_t *r)
{
    py_code_id_t id;
    if (!py_code_id(r->code, &id))
        return 0;
    /* A hit costs no walk of the line table: the identity (names, first
     * line, the line table's address, length and ends) tells a slot left
     * by a code object that died, whose memory now holds another, from
     * the same function at the same offset (pyframes.h). */
    hs_frame_t f = cache_get(r->code, r->offset, &id);
    if (f != 0)
        return f;
    char name[256], file[1024];
    if (!py_code_names(r->code, name, sizeof name, file, sizeof file))
        return 0;
    f = api.frame_symbolic(name, file, py_code_line(r->code, r->offset));
    atomic_fetch_add_explicit(&names_computed, 1, memory_order_relaxed);
    if (f != 0)
        cache_put(r->code, r->offset, &id, f);
    return f;
}

/* ---- the hook ---- */

void
py_hook_run(hs_frame_t *frames, unsigned *nframes, unsigned max, void *arg)
{
    (void)arg;
    py_raw_frame_t raw[PY_FRAMES_MAX];
    bool complete;
    unsigned m = py_read_frames(raw, PY_FRAMES_MAX, &complete);
    if (m == 0)
        return;
    bool native_truncated = *nframes >= max;
    /* The stack starts at the call into the allocator: frames of the
     * PyMem wrappers (cut_through) go with everything inside them (the
     * allocator they wrap), then the entry functions (PyObject_Malloc and
     * friends). */
    unsigned skip = 0;
    for (unsigned i = 0; i < *nframes && i < CUT_SCAN; i++)
        if (frames[i] > cut_through.lo && frames[i] <= cut_through.hi)
            skip = i + 1;
    while (skip + 1 < *nframes && in_trim(frames[skip]))
        skip++;
    if (skip > 0) {
        memmove(frames, frames + skip, (*nframes - skip) * sizeof(hs_frame_t));
        *nframes -= skip;
    }
    py_frame_t py[PY_FRAMES_MAX];
    for (unsigned i = 0; i < m; i++)
        py[i] = (py_frame_t){
            .frame = raw[i].incomplete ? 0 : frame_of(&raw[i]),
            .is_entry = raw[i].is_entry,
        };
    py_merge_t r = py_merge(frames, nframes, max, native_truncated, py, m,
                            !complete, is_eval, in_interp, NULL);
    if (r == PY_MERGE_TRUNCATED || r == PY_MERGE_DEGRADED)
        api.sample_label("merge", py_merge_name(r));
}

void
py_hook_trim(uintptr_t lo, uintptr_t hi)
{
    cut_through = (range_t){lo, hi};
}

int
py_hook_install(const py_hs_api_t *a, const char **r_why)
{
    *r_why = NULL;
    if (atomic_load(&installed))
        return 0;
    api = *a;
    if (!found)
        find_code();
    if (info.eval_lo == 0) {
        *r_why = "_PyEval_EvalFrameDefault is not among this process's "
                 "dynamic symbols";
        return ENOENT;
    }
    int err = api.hook_add(py_hook_run, NULL);
    if (err != 0) {
        *r_why = "heapsight's backtrace hook chain refused the hook";
        return err;
    }
    atomic_store(&installed, true);
    return 0;
}

int
py_hook_remove(void)
{
    if (!atomic_load(&installed))
        return ENOENT;
    int err = api.hook_remove(py_hook_run, NULL);
    atomic_store(&installed, false);
    return err;
}

bool
py_hook_installed(void)
{
    return atomic_load(&installed);
}

void
py_hook_get_info(py_hook_info_t *r_info)
{
    if (!found)
        find_code();
    *r_info = info;
}

uint64_t
py_hook_names_computed(void)
{
    return atomic_load(&names_computed);
}
