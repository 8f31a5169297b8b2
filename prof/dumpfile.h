/*
 * dumpfile.h — writing a file safely: whole or not at all, mode 0600,
 * never through a symlink.
 *
 * Owns: the temporary-name protocol of dumps.  The contents come from the
 * caller's write function; the file is created under a temporary name in
 * the target's directory with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC and mode
 * 0600 (then fchmod 0600, whatever the umask), written, fsynced, closed
 * and renamed over the final name; the directory is then fsynced.  rename
 * replaces a symlink at the final name rather than writing through it, and
 * O_EXCL|O_NOFOLLOW refuse a symlink planted at the temporary name.
 *
 * Invariant: after dumpfile_write() returns, the final name holds either
 * its previous contents or the complete new file, and no temporary is left
 * behind (on failure it is removed).
 *
 * Threading: any thread; temporary names carry the pid and a process-wide
 * atomic counter, so concurrent writers never share a temporary.  No
 * allocation, no stdio: safe in the allocator's runtime.
 */
#ifndef HS_DUMPFILE_H
#define HS_DUMPFILE_H

/* Writes the contents to fd; returns 0 or an errno value. */
typedef int (*dumpfile_write_fn)(int fd, void *arg);

/*
 * Writes path through write_fn as above.  Returns 0, write_fn's error,
 * or the errno value of the failed step (EINVAL for a NULL or empty path
 * or NULL write_fn, ENAMETOOLONG for an over-long path).
 */
int dumpfile_write(const char *path, dumpfile_write_fn write_fn, void *arg);

#endif /* HS_DUMPFILE_H */
