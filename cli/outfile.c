/*
 * outfile.c — atomic whole-file writes (see outfile.h).
 */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* The mode for path: its own when it is a regular file, else 0666 less
 * the umask. */
static mode_t
outfile_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return st.st_mode & 07777;
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

static int
outfile_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        buf += n;
        len -= (size_t)n;
    }
    return fsync(fd) != 0 ? errno : 0;
}

int
outfile_write(const char *path, const void *data, size_t len)
{
    char *temp = NULL;
    int fd = -1;
    if (asprintf(&temp, "%s.tmp.XXXXXX", path) < 0)
        temp = NULL;
    else
        fd = mkostemp(temp, O_CLOEXEC);
    int e = temp == NULL ? ENOMEM : fd < 0 ? errno : 0;
    if (e == 0 && fchmod(fd, outfile_mode(path)) != 0)
        e = errno;
    if (e == 0)
        e = outfile_write_all(fd, data, len);
    if (fd >= 0 && close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(temp, path) != 0)
        e = errno;
    if (e != 0 && fd >= 0)
        unlink(temp);
    free(temp);
    return e;
}
