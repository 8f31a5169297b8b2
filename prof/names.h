/*
 * names.h — small interned name tables: labels and allocation domains;
 * the calling thread's label; a hook's key: value label as one id.
 *
 * Owns: two append-only tables of strings (ids are indices; a name, once
 * interned, keeps its id and its storage for the life of the process);
 * each thread's label id (owner thread only).  Locking: one mutex
 * (HS_RANK_PROF) for interning; lookups by id read a published count and
 * never lock.  A pair is key_id << 16 | value_id, 0 for none: both ids
 * are nonzero and below 1 << 16.
 */
#ifndef HS_PROF_NAMES_H
#define HS_PROF_NAMES_H

#define NAMES_MAX_LABELS 4096
#define NAMES_MAX_DOMAINS 64
/* Unnamed threads labelled "tid <n>" at most: a process that starts
 * threads forever must not grow its profile (a label, and sites of their
 * own, per thread) without bound. */
#define NAMES_TID_LABELS 256

void names_boot(void);
/* Id of name in the label table (interned on first use); 0 when full. */
unsigned names_label(const char *name);
/* Id of name in the domain table; id 0 is "malloc" (heapsight's own);
 * 0 is also returned when the table is full. */
unsigned names_domain(const char *name);
const char *names_label_str(unsigned id);
const char *names_domain_str(unsigned id);

/* The calling thread's label id: thread.prof.name once set, else "main"
 * for the main thread, its own name when it has one (threads inherit the
 * process's), else "tid <n>" for the first NAMES_TID_LABELS unnamed
 * threads and "tid (other)" after them. */
unsigned names_thread_label(void);
/* thread.prof.name: sets the calling thread's label. */
void names_thread_set_label(const char *name);

/* key: value as a pair id (see above); 0 when either is NULL or a table
 * is full. */
unsigned names_pair(const char *key, const char *value);
/* The key and value of a pair, NULL for pair 0. */
const char *names_pair_key(unsigned pair);
const char *names_pair_value(unsigned pair);

#endif /* HS_PROF_NAMES_H */
