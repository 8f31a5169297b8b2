/*
 * dump.h — when and where profiles are written: the triggers, the dump
 * thread, the file names, and the report at exit.
 *
 * Owns: dump sequencing (mutex HS_RANK_PROF_DUMP: one dump at a time, never
 * under an allocator lock), file naming <prefix>.<pid>.<seq>.<trigger>.pb.gz,
 * pruning to prof_max_dumps (the peak file is apart: one per process,
 * the newest), the dump thread that serves the asynchronous
 * triggers (byte interval, timer, high-water mark, signal: the signal
 * handler only writes a byte to a pipe), and the at-exit final dump and
 * leak report.  A failed dump prints one line and the program carries on.
 */
#ifndef HS_PROF_DUMP_H
#define HS_PROF_DUMP_H

#include <stdbool.h>
#include <stddef.h>

/* Starts what the options ask for (dump thread, signal, exit handler). */
void dump_boot(void);
/* Writes a dump now, to path (NULL: an automatic name).  Returns 0 or an
 * errno value. */
int dump_now(const char *path, const char *trigger);
/*
 * Writes the peak profile (site.h: the sites at the live heap's
 * high-water mark; its time_nanos is the mark's) to path, or with NULL to
 * <prefix>.<pid>.<seq>.peak.pb.gz with the next sequence number (on
 * request: prof.dump_peak).  automatic (path ignored): after an automatic
 * dump (prof_peak: every periodic dump and the final one), with that
 * dump's sequence number, replacing this process's previous automatic
 * peak file, and skipped when that file holds this peak already.
 * Returns 0 or an errno value.
 */
int dump_peak_now(const char *path, bool automatic);
/* Runs what the exit handler would (the leak report, the final dump)
 * now, once per process: for a process about to leave without exit
 * handlers (_exit).  ENOENT when neither prof_final nor prof_leak is on. */
int dump_final_now(void);
/* The path of the last manual dump (prof.dump) written, "" if none. */
void dump_last_manual(char *buf, size_t size);
/* Called for every sampled object with its estimated bytes. */
void dump_note_sample(double bytes);
void dump_postfork_child(void);

/*
 * A note about the whole process that every later dump carries: comment
 * as one of the profile's comments, and label_key: label_value on every
 * sample (NULL key: no label).  NULL comment clears it.  Set rarely (once
 * at start-up, by the Python support); strings are copied, cut to fit.
 */
void dump_note_set(const char *comment, const char *label_key,
                   const char *label_value);

#endif /* HS_PROF_DUMP_H */
