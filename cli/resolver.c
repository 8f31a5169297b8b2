/*
 * resolver.c — libdw lookups for one module (see resolver.h): DWARF
 * scopes for functions and inlined frames, the line table for the
 * innermost line, call sites for the outer ones, and a sorted symbol
 * table where DWARF has no function.
 *
 * Why not dwfl_module_addrsym: it scans the whole symbol table on every
 * call; a sorted array with a binary search is built once per module and
 * answers in O(log n).
 *
 * Demangling uses libstdc++'s __cxa_demangle (the Itanium C++ ABI
 * demangler that GDB, perf and c++filt agree with).  The command links
 * the C++ runtime for it: heapsight the command is an ordinary program,
 * never preloaded into anyone, libstdc++ is present wherever g++ is, and
 * a hand-written demangler would be thousands of lines that pprof users
 * would trust less.
 */
#include "resolver.h"

#include "hmap.h"
#include "scopetab.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The Itanium C++ ABI demangler, from libstdc++ (name fixed by the ABI). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len,
                            int *status);

typedef struct resolver_sym_s {
    uint64_t addr, size; /* module (= ELF virtual) addresses */
    const char *name;    /* owned by libdw */
    int rank;            /* 2 global, 1 weak, 0 local: the preferred alias */
} resolver_sym_t;

struct resolver_s {
    Dwfl *dwfl;
    Dwfl_Module *mod;
    debuginfo_t *di;
    bool debug_only; /* program headers lack true file offsets */
    int e_type;
    GElf_Phdr *loads; /* the PT_LOAD headers, in file order */
    size_t nloads;
    bool dwarf_tried;
    Dwarf *dwarf;         /* NULL when the module has none */
    resolver_sym_t *syms; /* sorted by addr; built on first use */
    size_t nsyms;
    bool syms_built;
    scopetab_t *scopes; /* DWARF scopes per CU, built on first use */
    hmap_t qname_of;    /* declaration DIE offset → qnames index + 1 */
    char **qnames;      /* qualified C++ names, owned */
    size_t nqnames, cap_qnames;
};

/* libdwfl asks here for the DWARF of a module whose main file has none. */
static int
resolver_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                        Dwarf_Addr base, const char *file_name,
                        const char *debuglink_file, GElf_Word debuglink_crc,
                        char **debuginfo_file_name)
{
    (void)modname, (void)base, (void)file_name, (void)debuglink_file;
    (void)debuglink_crc;
    resolver_t *r = *userdata;
    const unsigned char *bits;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(mod, &bits, &vaddr);
    if (r == NULL || n <= 0)
        return -1;
    char hex[DEBUGINFO_ID_HEX_MAX];
    debuginfo_hex(bits, (size_t)n, hex);
    char *path = debuginfo_find_dwarf(r->di, hex);
    int fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
        free(path);
        return -1;
    }
    *debuginfo_file_name = path; /* libdwfl frees it */
    return fd;
}

/* Modules are always reported with their file: nothing to find. */
static int
resolver_find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
                  Dwarf_Addr base, char **file_name, Elf **elfp)
{
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
    (void)elfp;
    return -1;
}

static const Dwfl_Callbacks resolver_callbacks = {
    .find_elf = resolver_find_elf,
    .find_debuginfo = resolver_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* Copies the module's PT_LOAD headers and ELF type. */
static int
resolver_load_phdrs(resolver_t *r)
{
    GElf_Addr bias;
    Elf *elf = dwfl_module_getelf(r->mod, &bias);
    GElf_Ehdr eh;
    size_t phnum;
    if (elf == NULL || gelf_getehdr(elf, &eh) == NULL ||
        elf_getphdrnum(elf, &phnum) != 0)
        return EINVAL;
    r->e_type = eh.e_type;
    r->loads = calloc(phnum + 1, sizeof(*r->loads));
    if (r->loads == NULL)
        return ENOMEM;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) != NULL && ph.p_type == PT_LOAD)
            r->loads[r->nloads++] = ph;
    }
    return 0;
}

int
resolver_open(const char *path, bool debug_only, debuginfo_t *d,
              resolver_t **r_res, char *err, size_t errlen)
{
    resolver_t *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->dwfl = dwfl_begin(&resolver_callbacks)) == NULL) {
        free(r);
        snprintf(err, errlen, "%s: out of memory", path);
        return ENOMEM;
    }
    r->di = d;
    r->debug_only = debug_only;
    hmap_init(&r->qname_of);
    r->scopes = scopetab_new();
    dwfl_report_begin(r->dwfl);
    /* add_p_vaddr with base 0: bias 0, module addresses = ELF vaddrs. */
    r->mod = dwfl_report_elf(r->dwfl, path, path, -1, 0, true);
    int e = dwfl_report_end(r->dwfl, NULL, NULL) != 0 || r->mod == NULL ? EINVAL
            : r->scopes == NULL                                         ? ENOMEM
                                : resolver_load_phdrs(r);
    if (e != 0) {
        snprintf(err, errlen, "%s: %s", path,
                 e == ENOMEM ? strerror(e) : dwfl_errmsg(-1));
        resolver_close(r);
        return e;
    }
    void **userdata;
    dwfl_module_info(r->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
    *userdata = r;
    *r_res = r;
    return 0;
}

void
resolver_close(resolver_t *r)
{
    if (r == NULL)
        return;
    if (r->dwfl != NULL)
        dwfl_end(r->dwfl);
    free(r->loads);
    free(r->syms);
    scopetab_free(r->scopes);
    for (size_t i = 0; i < r->nqnames; i++)
        free(r->qnames[i]);
    free(r->qnames);
    hmap_destroy(&r->qname_of);
    free(r);
}

/* ---- placing a mapping -------------------------------------------------- */

/* The PT_LOAD whose file pages hold off, an executable one preferred. */
static const GElf_Phdr *
resolver_segment_at(const resolver_t *r, uint64_t off, uint64_t page)
{
    const GElf_Phdr *found = NULL;
    for (size_t i = 0; i < r->nloads; i++) {
        const GElf_Phdr *s = &r->loads[i];
        uint64_t end = s->p_offset + (s->p_filesz > 0 ? s->p_filesz : 1);
        if ((s->p_offset & ~(page - 1)) <= off && off < end &&
            (found == NULL || (s->p_flags & PF_X)))
            found = s;
    }
    return found;
}

/* Debug-only files: the first segment for offset 0, else the code. */
static const GElf_Phdr *
resolver_segment_guess(const resolver_t *r, uint64_t off)
{
    if (r->nloads == 0)
        return NULL;
    if (off == 0)
        return &r->loads[0];
    for (size_t i = 0; i < r->nloads; i++)
        if (r->loads[i].p_flags & PF_X)
            return &r->loads[i];
    return NULL;
}

uint64_t
resolver_bias(const resolver_t *r, uint64_t memory_start, uint64_t file_offset)
{
    if (r->e_type == ET_EXEC)
        return 0;
    /* This machine's page size: the recording one's, in practice. */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    const GElf_Phdr *s = r->debug_only
                             ? resolver_segment_guess(r, file_offset)
                             : resolver_segment_at(r, file_offset, page);
    if (s == NULL) /* no segment: assume vaddr == file offset */
        return memory_start - file_offset;
    if (r->debug_only)
        return memory_start - (s->p_vaddr & ~(page - 1));
    return memory_start - file_offset - (s->p_vaddr - s->p_offset);
}

/* ---- symbol table ------------------------------------------------------- */

static int
resolver_sym_cmp(const void *a, const void *b)
{
    const resolver_sym_t *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    if (x->rank != y->rank)
        return y->rank - x->rank; /* the preferred alias first */
    return (y->size > x->size) - (y->size < x->size);
}

/* Collects the function symbols (symtab, else dynsym) once. */
static void
resolver_load_syms(resolver_t *r)
{
    r->syms_built = true;
    int n = dwfl_module_getsymtab(r->mod);
    if (n <= 0 || (r->syms = malloc((size_t)n * sizeof(*r->syms))) == NULL)
        return;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *name =
            dwfl_module_getsym_info(r->mod, i, &sym, &addr, &shndx, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
        if (name == NULL || name[0] == '\0' || shndx == SHN_UNDEF ||
            (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        int rank = bind == STB_GLOBAL ? 2 : bind == STB_WEAK ? 1 : 0;
        r->syms[r->nsyms++] = (resolver_sym_t){addr, sym.st_size, name, rank};
    }
    qsort(r->syms, r->nsyms, sizeof(*r->syms), resolver_sym_cmp);
    size_t k = 0; /* one symbol per address: the first, preferred one */
    for (size_t i = 0; i < r->nsyms; i++)
        if (k == 0 || r->syms[i].addr != r->syms[k - 1].addr)
            r->syms[k++] = r->syms[i];
    r->nsyms = k;
}

/* The function symbol covering vaddr, or NULL. */
static const resolver_sym_t *
resolver_sym_find(resolver_t *r, uint64_t vaddr)
{
    if (!r->syms_built)
        resolver_load_syms(r);
    size_t lo = 0, hi = r->nsyms;
    while (lo < hi) { /* the first symbol above vaddr */
        size_t mid = lo + (hi - lo) / 2;
        if (r->syms[mid].addr <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const resolver_sym_t *s = &r->syms[lo - 1];
    /* A sized symbol must contain vaddr; an unsized one reaches the next. */
    return s->size == 0 || vaddr - s->addr < s->size ? s : NULL;
}

/* ---- DWARF -------------------------------------------------------------- */

bool
resolver_has_dwarf(resolver_t *r)
{
    if (!r->dwarf_tried) {
        Dwarf_Addr bias;
        r->dwarf_tried = true;
        r->dwarf = dwfl_module_getdwarf(r->mod, &bias);
    }
    return r->dwarf != NULL;
}

static const char *
resolver_linkage(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) != NULL ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a) != NULL)
        return dwarf_formstring(&a);
    return NULL;
}

static int64_t
resolver_decl_line(Dwarf_Die *die)
{
    int line = 0;
    return dwarf_decl_line(die, &line) == 0 ? line : 0;
}

/* The file and line an inlined subroutine was called from. */
static void
resolver_call_site(Dwarf_Die *cu, Dwarf_Die *inl, const char **r_file,
                   int64_t *r_line)
{
    Dwarf_Attribute a;
    Dwarf_Word idx, line;
    Dwarf_Files *files;
    size_t nfiles;
    *r_line = 0;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &a), &line) == 0)
        *r_line = (int64_t)line;
    *r_file = NULL;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &a), &idx) == 0 &&
        dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && idx < nfiles)
        *r_file = dwarf_filesrc(files, idx, NULL, NULL);
}

static bool
resolver_is_cxx(Dwarf_Die *cu)
{
    int lang = dwarf_srclang(cu);
    return lang == DW_LANG_C_plus_plus || lang == DW_LANG_C_plus_plus_03 ||
           lang == DW_LANG_C_plus_plus_11 || lang == DW_LANG_C_plus_plus_14;
}

/* die's declaration: through abstract origins and specifications. */
static void
resolver_declaration(Dwarf_Die *die, Dwarf_Die *r_decl)
{
    Dwarf_Attribute a;
    *r_decl = *die;
    for (int i = 0; i < 8; i++) { /* bounded: cycles in corrupt DWARF */
        if (dwarf_attr(r_decl, DW_AT_abstract_origin, &a) == NULL &&
            dwarf_attr(r_decl, DW_AT_specification, &a) == NULL)
            return;
        if (dwarf_formref_die(&a, r_decl) == NULL)
            return;
    }
}

/* "ns::Class::" for the namespaces and classes around decl, malloc'd. */
static char *
resolver_qualifier(Dwarf_Die *decl)
{
    Dwarf_Die *scopes = NULL;
    int n = dwarf_getscopes_die(decl, &scopes);
    size_t len = 0;
    char *q = calloc(1, 1);
    for (int i = n - 1; i >= 1 && q != NULL; i--) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_namespace && tag != DW_TAG_class_type &&
            tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
            continue;
        const char *part = dwarf_diename(&scopes[i]);
        if (part == NULL)
            part = tag == DW_TAG_namespace ? "(anonymous namespace)"
                                           : "(anonymous)";
        char *longer = realloc(q, len + strlen(part) + 3);
        if (longer == NULL) {
            free(q);
            q = NULL;
            break;
        }
        q = longer;
        len += (size_t)sprintf(q + len, "%s::", part);
    }
    free(scopes);
    return q;
}

/*
 * name qualified with its namespaces and classes ("ns::f"), for C++
 * functions that have no linkage name to demangle (GCC omits it for
 * functions with internal linkage).  Cached per declaration.
 */
static const char *
resolver_qualified(resolver_t *r, Dwarf_Die *die, const char *name)
{
    Dwarf_Die decl;
    uint64_t i;
    resolver_declaration(die, &decl);
    if (hmap_get_u64(&r->qname_of, dwarf_dieoffset(&decl), &i))
        return i == 0 ? name : r->qnames[i - 1];
    char *q = resolver_qualifier(&decl), *full = NULL;
    if (q != NULL && q[0] != '\0' && asprintf(&full, "%s%s", q, name) < 0)
        full = NULL;
    free(q);
    if (full != NULL && r->nqnames == r->cap_qnames) {
        size_t cap = r->cap_qnames < 16 ? 16 : r->cap_qnames * 2;
        char **bigger = realloc(r->qnames, cap * sizeof(*bigger));
        if (bigger == NULL) {
            free(full);
            full = NULL;
        } else {
            r->qnames = bigger;
            r->cap_qnames = cap;
        }
    }
    if (full != NULL)
        r->qnames[r->nqnames++] = full;
    hmap_put_u64(&r->qname_of, dwarf_dieoffset(&decl),
                 full != NULL ? r->nqnames : 0);
    return full != NULL ? full : name;
}

/* Frames from the scopes around vaddr; the outermost may lack a name. */
static size_t
resolver_dwarf_frames(resolver_t *r, uint64_t vaddr, resolver_frame_t *f,
                      size_t max)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(r->mod, vaddr, &bias);
    if (cu == NULL)
        return 0;
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(r->mod, vaddr);
    if (dl != NULL)
        file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
    int64_t cur_line = line;
    Dwarf_Die chain[RESOLVER_MAX_FRAMES];
    size_t n =
        scopetab_chain(r->scopes, cu, vaddr - bias, chain,
                       max < RESOLVER_MAX_FRAMES ? max : RESOLVER_MAX_FRAMES);
    for (size_t i = 0; i < n; i++) {
        f[i] = (resolver_frame_t){dwarf_diename(&chain[i]),
                                  resolver_linkage(&chain[i]), file, cur_line,
                                  resolver_decl_line(&chain[i])};
        if (f[i].linkage == NULL && f[i].name != NULL && resolver_is_cxx(cu))
            f[i].name = resolver_qualified(r, &chain[i], f[i].name);
        resolver_call_site(cu, &chain[i], &file, &cur_line);
    }
    if (n == 0 && file != NULL) /* a line but no function (assembly) */
        f[n++] = (resolver_frame_t){NULL, NULL, file, cur_line, 0};
    return n;
}

size_t
resolver_lookup(resolver_t *r, uint64_t vaddr, resolver_frame_t *frames,
                size_t max)
{
    size_t n = 0;
    if (max == 0)
        return 0;
    if (resolver_has_dwarf(r))
        n = resolver_dwarf_frames(r, vaddr, frames, max);
    if (n > 0 && frames[n - 1].name != NULL)
        return n;
    const resolver_sym_t *s = resolver_sym_find(r, vaddr);
    if (s == NULL && n <= 1) /* nothing named it (padding between code) */
        return 0;
    if (n == 0)
        frames[n++] = (resolver_frame_t){NULL, NULL, NULL, 0, 0};
    resolver_frame_t *out = &frames[n - 1];
    out->name = s != NULL ? s->name : "??";
    out->linkage = s != NULL ? s->name : NULL;
    return n;
}

char *
resolver_demangle(const char *name)
{
    if (name == NULL || strncmp(name, "_Z", 2) != 0)
        return NULL;
    int status = 0;
    char *d = __cxa_demangle(name, NULL, NULL, &status);
    if (status != 0) {
        free(d);
        return NULL;
    }
    return d;
}
