/*
 * resolver.h — one ELF module opened with libdw for symbolization:
 * addresses in, functions, files, lines and inlined frames out.
 *
 * Owns: a Dwfl session holding exactly this module, reported at bias 0 so
 * that module addresses are the ELF file's own virtual addresses
 * ("vaddr"); the module's separate debug file, found through debuginfo.h
 * when the main file has no DWARF; the PT_LOAD table used to place a
 * mapping (resolver_bias); a symbol table sorted by address, built on
 * first use.  Does not own the profile: symbolize.c turns frames into
 * Lines and Functions.
 *
 * One module per session means a file mapped by several mappings, or by
 * several processes of a merged profile at different addresses, is
 * opened once: each mapping only needs its own bias,
 *     address = vaddr + bias.
 *
 * Frames of one address come innermost first: frames[0] is the innermost
 * inlined function at the address's own line; each following frame is
 * the function it was inlined into, at the line of the inlined call;
 * the last is the out-of-line function (pprof's order for Location.line).
 *
 * Threading: none; one owner thread.
 */
#ifndef HS_CLI_RESOLVER_H
#define HS_CLI_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debuginfo.h"

/* Deepest inline chain reported for one address. */
#define RESOLVER_MAX_FRAMES 64

typedef struct resolver_frame_s {
    const char *name;    /* function name as DWARF or the symtab has it */
    const char *linkage; /* the mangled (linkage) name, or NULL */
    const char *file;    /* source file, or NULL when unknown */
    int64_t line;        /* 0 when unknown */
    int64_t decl_line;   /* the function's first line, 0 when unknown */
} resolver_frame_t;

typedef struct resolver_s resolver_t;

/*
 * Opens path.  debug_only: path is a debug file without code (its program
 * headers have no true file offsets).  d finds separate debug files; it
 * must outlive the resolver.  Returns 0 or an errno value (EINVAL: not
 * ELF or libdw refused it), with a one-line reason in err.
 */
int resolver_open(const char *path, bool debug_only, debuginfo_t *d,
                  resolver_t **r_res, char *err, size_t errlen);

void resolver_close(resolver_t *r);

/*
 * The bias of a mapping of this file: memory_start and file_offset as the
 * profile's Mapping gives them.  For ET_DYN, with the PT_LOAD segment S
 * that holds file_offset,
 *     bias = memory_start - file_offset - (S.p_vaddr - S.p_offset);
 * ET_EXEC is never moved (bias 0).  Debug-only files keep true p_vaddr
 * but not p_offset: there S is the first segment for offset 0, else the
 * executable one, and bias = memory_start - page_down(S.p_vaddr).
 */
uint64_t resolver_bias(const resolver_t *r, uint64_t memory_start,
                       uint64_t file_offset);

/*
 * Resolves vaddr into at most max frames (see above); returns how many,
 * 0 when nothing is known about it.  Strings stay valid until
 * resolver_close.
 */
size_t resolver_lookup(resolver_t *r, uint64_t vaddr, resolver_frame_t *frames,
                       size_t max);

/*
 * True if the module has DWARF (lines, files and inline frames).  The
 * first call loads it, looking for a separate debug file if need be.
 */
bool resolver_has_dwarf(resolver_t *r);

/*
 * The demangled form of a C++ (Itanium ABI) name, malloc'd, or NULL when
 * name is not mangled or cannot be demangled.
 */
char *resolver_demangle(const char *name);

#endif /* HS_CLI_RESOLVER_H */
