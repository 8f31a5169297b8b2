/*
 * names.h — small interned name tables: thread labels and allocation
 * domains.
 *
 * Owns: two append-only tables of strings (ids are indices; a name, once
 * interned, keeps its id and its storage for the life of the process).
 * Locking: one mutex (HS_RANK_PROF) for interning; lookups by id read a
 * published count and never lock.
 */
#ifndef HS_PROF_NAMES_H
#define HS_PROF_NAMES_H

#define NAMES_MAX_LABELS 4096
#define NAMES_MAX_DOMAINS 64

void names_boot(void);
/* Id of name in the label table (interned on first use); 0 when full. */
unsigned names_label(const char *name);
/* Id of name in the domain table; id 0 is "malloc" (heapsight's own);
 * 0 is also returned when the table is full. */
unsigned names_domain(const char *name);
const char *names_label_str(unsigned id);
const char *names_domain_str(unsigned id);

#endif /* HS_PROF_NAMES_H */
