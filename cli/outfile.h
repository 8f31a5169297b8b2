/*
 * outfile.h — writing a whole output file so that no reader ever sees half
 * of it: profiles (profile_io), flame graphs, call graphs, plots.
 *
 * Owns: the one way the command writes its outputs: a temporary file
 * beside the target (mkostemp, "<path>.tmp.XXXXXX"), the target's mode
 * when it exists as a regular file (else 0666 less the umask), every byte
 * written, fsync, close, then rename over the target; on any failure the
 * temporary file is removed and the target is untouched.
 *
 * Threading: none.
 */
#ifndef HS_CLI_OUTFILE_H
#define HS_CLI_OUTFILE_H

#include <stddef.h>

/* Writes data[0 .. len) to path as above; 0 or an errno value. */
int outfile_write(const char *path, const void *data, size_t len);

#endif /* HS_CLI_OUTFILE_H */
