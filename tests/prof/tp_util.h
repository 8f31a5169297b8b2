/*
 * tp_util.h — helpers shared by the profiler's test programs (tests/prof):
 * where their files go, dumps through prof.dump, reading ctl values, and
 * keeping allocations out of the optimizer's reach.
 *
 * Owns nothing but these functions.  The programs run under prof_test.py,
 * which sets HEAPSIGHT and TP_DIR (the case's temporary directory) in
 * their environment; every file a program writes goes into TP_DIR.
 *
 * The helpers never allocate, so they add no samples of their own.
 */
#ifndef TP_UTIL_H
#define TP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* $TP_DIR, or "." when unset. */
const char *tp_dir(void);

/* Writes "<TP_DIR>/<name>" into buf (truncated to size); returns buf. */
char *tp_path(char *buf, size_t size, const char *name);

/* prof.dump to path (NULL: the automatic name); returns hs_ctl's result. */
int tp_dump(const char *path);

/* prof.dump to "<TP_DIR>/<name>"; returns hs_ctl's result. */
int tp_dump_named(const char *name);

/* Reads a bool / size_t / const char * control node; false on error. */
bool tp_ctl_bool(const char *name, bool *r_value);
bool tp_ctl_size(const char *name, size_t *r_value);
bool tp_ctl_str(const char *name, const char **r_value);

/* Writes a bool / const char * control node; returns hs_ctl's result. */
int tp_ctl_set_bool(const char *name, bool value);
int tp_ctl_set_str(const char *name, const char *value);

/* An opaque use of p: the compiler cannot drop the allocation. */
void tp_keep(void *p);

/* Number of files in TP_DIR whose names contain needle, not counting
 * hidden ones (a dump's temporary is ".<name>.<pid>.<n>.tmp"). */
unsigned tp_count_files(const char *needle);

/* Number of temporaries (".*.tmp") left in TP_DIR. */
unsigned tp_count_temporaries(void);

#ifdef __cplusplus
}
#endif

#endif /* TP_UTIL_H */
