/*
 * scopetab.h — per compilation unit, which function (or inlined
 * function) owns each address: the DWARF scope lookups of the
 * symbolizer, one tree walk per CU instead of two per address.
 *
 * Why: dwarf_getscopes and dwarf_getscopes_die walk the CU's DIE tree
 * from its root on every call; for libc's CUs that costs ~150 µs an
 * address.  A table built by one walk answers each address with a binary
 * search.
 *
 * Owns: for every CU asked about, the function-like DIEs it holds
 * (DW_TAG_subprogram, DW_TAG_inlined_subroutine, DW_TAG_entry_point with
 * code), each with its enclosing one, and the CU's address space cut into
 * disjoint segments, each naming its innermost function-like DIE.  The
 * DIEs point into the Dwarf they came from, which must outlive the table.
 *
 * Invariants, per CU: segs sorted by start, segs[i].end <= segs[i+1].start;
 * every address of a segment lies inside the ranges of scopes[seg.scope]
 * and inside no deeper function-like DIE; scopes[i].parent < i, or -1 at a
 * subprogram that no function-like DIE encloses.
 *
 * Threading: none; one owner thread.
 */
#ifndef HS_CLI_SCOPETAB_H
#define HS_CLI_SCOPETAB_H

#include <elfutils/libdw.h>
#include <stddef.h>

typedef struct scopetab_s scopetab_t;

/* An empty table; NULL if out of memory. */
scopetab_t *scopetab_new(void);

void scopetab_free(scopetab_t *t);

/*
 * The function-like DIEs around pc (a DWARF address) in cu, innermost
 * first, into out[0..max); returns how many (0: none, or out of memory).
 * out[0] is the innermost; each next one encloses the previous; the walk
 * stops after the first that is not an inlined subroutine.
 */
size_t scopetab_chain(scopetab_t *t, Dwarf_Die *cu, Dwarf_Addr pc,
                      Dwarf_Die *out, size_t max);

#endif /* HS_CLI_SCOPETAB_H */
