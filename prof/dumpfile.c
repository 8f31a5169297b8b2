/*
 * dumpfile.c — the temporary-name-then-rename protocol (see dumpfile.h).
 *
 * Owns: splitting the target into directory and name, creating the
 * temporary beside the target (".<name>.<pid>.<n>.tmp", the name cut to
 * DUMPFILE_NAME_KEEP bytes so the temporary fits NAME_MAX), and the
 * fsync/rename/cleanup sequence.  Every step after the directory is open
 * is relative to the directory's descriptor (openat/renameat/unlinkat),
 * so the temporary and the rename act on the same directory even if a
 * path component is replaced meanwhile.
 *
 * Locking: none; dumpfile_seq is atomic.  Invariant: a temporary exists
 * only between a successful create and the rename or the unlink that
 * follows it in the same call.
 */
#include "dumpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h> /* renameat */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../alloc/util/fmt.h"

enum {
    DUMPFILE_NAME_KEEP = 200, /* bytes of the final name in the temporary */
    DUMPFILE_TRIES = 16       /* temporary names tried before giving up */
};

static atomic_uint dumpfile_seq; /* atomic */

typedef struct dumpfile_target_s {
    char dir[PATH_MAX];
    const char *name; /* into the caller's path */
    int dirfd;
    char tmp[NAME_MAX + 1];
} dumpfile_target_t;

/* Splits path into t->dir and t->name; returns 0 or an errno value. */
static int
dumpfile_split(const char *path, dumpfile_target_t *t)
{
    size_t len = strlen(path);
    if (len == 0 || path[len - 1] == '/')
        return EINVAL;
    if (len >= PATH_MAX)
        return ENAMETOOLONG;
    const char *slash = strrchr(path, '/');
    t->name = slash != NULL ? slash + 1 : path;
    if (strlen(t->name) > NAME_MAX)
        return ENAMETOOLONG;
    if (slash == NULL)
        strcpy(t->dir, ".");
    else if (slash == path)
        strcpy(t->dir, "/");
    else {
        memcpy(t->dir, path, (size_t)(slash - path));
        t->dir[slash - path] = '\0';
    }
    return 0;
}

static void
dumpfile_tmp_name(dumpfile_target_t *t)
{
    size_t keep = strlen(t->name);
    if (keep > DUMPFILE_NAME_KEEP)
        keep = DUMPFILE_NAME_KEEP;
    t->tmp[0] = '.';
    memcpy(t->tmp + 1, t->name, keep);
    unsigned seq =
        atomic_fetch_add_explicit(&dumpfile_seq, 1, memory_order_relaxed);
    hs_snprintf(t->tmp + 1 + keep, sizeof t->tmp - 1 - keep, ".%d.%u.tmp",
                (int)getpid(), seq);
}

/* Creates the temporary; returns its descriptor or -errno. */
static int
dumpfile_create(dumpfile_target_t *t)
{
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    for (int i = 0; i < DUMPFILE_TRIES; i++) {
        dumpfile_tmp_name(t);
        int fd = openat(t->dirfd, t->tmp, flags, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST && errno != EINTR)
            return -errno;
    }
    return -EEXIST;
}

/* Mode, contents, fsync and close of the temporary; 0 or an errno. */
static int
dumpfile_fill(int fd, dumpfile_write_fn write_fn, void *arg)
{
    int err = 0;
    if (fchmod(fd, 0600) != 0)
        err = errno;
    if (err == 0)
        err = write_fn(fd, arg);
    if (err == 0 && fsync(fd) != 0)
        err = errno;
    /* Linux releases the descriptor even when close fails: no retry. */
    if (close(fd) != 0 && err == 0 && errno != EINTR)
        err = errno;
    return err;
}

/* Writes and renames, with t->dirfd open; 0 or an errno value. */
static int
dumpfile_write_in(dumpfile_target_t *t, dumpfile_write_fn write_fn, void *arg)
{
    int fd = dumpfile_create(t);
    if (fd < 0)
        return -fd;
    int err = dumpfile_fill(fd, write_fn, arg);
    if (err == 0 && renameat(t->dirfd, t->tmp, t->dirfd, t->name) != 0)
        err = errno;
    if (err != 0) {
        unlinkat(t->dirfd, t->tmp, 0);
        return err;
    }
    /* Makes the rename durable; file systems that cannot are fine. */
    (void)fsync(t->dirfd);
    return 0;
}

int
dumpfile_write(const char *path, dumpfile_write_fn write_fn, void *arg)
{
    dumpfile_target_t t;
    if (path == NULL || write_fn == NULL)
        return EINVAL;
    int err = dumpfile_split(path, &t);
    if (err != 0)
        return err;
    t.dirfd = open(t.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t.dirfd < 0)
        return errno;
    err = dumpfile_write_in(&t, write_fn, arg);
    close(t.dirfd);
    return err;
}
