/*
 * tp_util.c — helpers of the profiler's test programs (see tp_util.h).
 *
 * No allocation: paths are built in the callers' buffers and directories
 * are listed with getdents64 into a static buffer (opendir would malloc),
 * so using a helper never adds a sample.  Not thread-safe where noted.
 */
#include "tp_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heapsight.h"

const char *
tp_dir(void)
{
    const char *d = getenv("TP_DIR");
    return d != NULL && d[0] != '\0' ? d : ".";
}

char *
tp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tp_dir(), name);
    return buf;
}

int
tp_dump(const char *path)
{
    return hs_ctl("prof.dump", NULL, NULL, (void *)&path, sizeof(path));
}

int
tp_dump_named(const char *name)
{
    char path[4096];
    return tp_dump(tp_path(path, sizeof(path), name));
}

bool
tp_ctl_bool(const char *name, bool *r_value)
{
    size_t len = sizeof(*r_value);
    return hs_ctl(name, r_value, &len, NULL, 0) == 0;
}

bool
tp_ctl_size(const char *name, size_t *r_value)
{
    size_t len = sizeof(*r_value);
    return hs_ctl(name, r_value, &len, NULL, 0) == 0;
}

bool
tp_ctl_str(const char *name, const char **r_value)
{
    size_t len = sizeof(*r_value);
    return hs_ctl(name, (void *)r_value, &len, NULL, 0) == 0;
}

int
tp_ctl_set_bool(const char *name, bool value)
{
    return hs_ctl(name, NULL, NULL, &value, sizeof(value));
}

int
tp_ctl_set_str(const char *name, const char *value)
{
    return hs_ctl(name, NULL, NULL, (void *)&value, sizeof(value));
}

void
tp_keep(void *p)
{
    /* An empty asm that claims to read p and all memory. */
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* Counts the names in TP_DIR that match; not thread-safe (one static
 * buffer). */
static unsigned
count_names(bool (*match)(const char *name, const void *arg), const void *arg)
{
    static char buf[1 << 16];
    int fd = open(tp_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned n = 0;
    long got;
    while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < got;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            if (match(d->d_name, arg))
                n++;
            off += d->d_reclen;
        }
    }
    close(fd);
    return n;
}

static bool
visible_with(const char *name, const void *needle)
{
    return name[0] != '.' && strstr(name, needle) != NULL;
}

static bool
temporary(const char *name, const void *arg)
{
    (void)arg;
    size_t len = strlen(name);
    return name[0] == '.' && len > 4 && strcmp(name + len - 4, ".tmp") == 0;
}

unsigned
tp_count_files(const char *needle)
{
    return count_names(visible_with, needle);
}

unsigned
tp_count_temporaries(void)
{
    return count_names(temporary, NULL);
}
