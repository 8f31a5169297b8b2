/*
 * dump.h — when and where profiles are written: the triggers, the dump
 * thread, the file names, and the report at exit.
 *
 * Owns: dump sequencing (mutex HS_RANK_PROF_DUMP: one dump at a time, never
 * under an allocator lock), file naming <prefix>.<pid>.<seq>.<trigger>.pb.gz,
 * pruning to prof_max_dumps, the dump thread that serves the asynchronous
 * triggers (byte interval, timer, high-water mark, signal: the signal
 * handler only writes a byte to a pipe), and the at-exit final dump and
 * leak report.  A failed dump prints one line and the program carries on.
 */
#ifndef HS_PROF_DUMP_H
#define HS_PROF_DUMP_H

#include <stdbool.h>

/* Starts what the options ask for (dump thread, signal, exit handler). */
void dump_boot(void);
/* Writes a dump now, to path (NULL: an automatic name).  Returns 0 or an
 * errno value. */
int dump_now(const char *path, const char *trigger);
/* Called for every sampled object with its estimated bytes. */
void dump_note_sample(double bytes);
void dump_postfork_child(void);

#endif /* HS_PROF_DUMP_H */
