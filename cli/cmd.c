/*
 * cmd.c — the helpers every subcommand shares (declared in cmd.h): error
 * lines, usage errors, --help, getopt's state, and the parsers and file
 * helpers more than one subcommand needs (sizes, durations, output
 * directories).
 *
 * Owns: nothing but these functions; no state of its own (getopt's is
 * libc's).  Each prints nothing unless its comment in cmd.h says so.
 *
 * Threading: single-threaded.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"

void
cmd_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("heapsight: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int
cmd_usage_error(const cmd_t *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "heapsight: %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'heapsight %s --help')\n", cmd->name);
    va_end(ap);
    return CMD_EXIT_USAGE;
}

int
cmd_help(const cmd_t *cmd)
{
    fputs(cmd->usage, stdout);
    return CMD_EXIT_OK;
}

int
cmd_bad_option(const cmd_t *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return cmd_usage_error(cmd, "option %s needs an argument", arg);
    if (optopt != 0 && strncmp(arg, "--", 2) != 0)
        return cmd_usage_error(cmd, "unknown option -%c", optopt);
    return cmd_usage_error(cmd, "unknown option %s", arg);
}

void
cmd_getopt_reset(void)
{
    optind = 0; /* glibc: 0 also resets getopt's internal state */
    opterr = 0;
}

/* The multiplier of a size suffix ("", "k", "KiB", "mb", "b"...), or 0. */
static uint64_t
cmd_size_suffix(const char *s)
{
    static const char units[] = "kmg";
    uint64_t mult = 1;
    const char *u = *s != '\0' ? strchr(units, *s | 0x20) : NULL;
    if (u != NULL) {
        mult = (uint64_t)1 << (10 * (u - units + 1));
        s++;
        if ((*s | 0x20) == 'i')
            s++;
    }
    if ((*s | 0x20) == 'b')
        s++;
    return *s == '\0' ? mult : 0;
}

bool
cmd_parse_size(const char *s, uint64_t *r_bytes)
{
    if (s[0] < '0' || s[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = cmd_size_suffix(end);
    if (errno != 0 || mult == 0 || v > UINT64_MAX / mult)
        return false;
    *r_bytes = (uint64_t)v * mult;
    return true;
}

bool
cmd_parse_duration(const char *s, unsigned *r_ms)
{
    static const struct {
        const char *unit;
        unsigned long long ms;
    } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    if (s[0] < '0' || s[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (errno != 0 || strcmp(end, units[i].unit) != 0)
            continue;
        if (v == 0 || v > CMD_DURATION_MAX_MS / units[i].ms)
            return false;
        *r_ms = (unsigned)(v * units[i].ms);
        return true;
    }
    return false;
}

int
cmd_mkdirs(const char *dir, mode_t mode)
{
    if (dir[0] == '\0')
        return ENOENT;
    char *path = strdup(dir);
    if (path == NULL)
        return ENOMEM;
    int e = 0;
    for (char *p = path + 1; e == 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, mode) != 0 && errno != EEXIST)
            e = errno;
        *p = c;
        if (c == '\0')
            break;
    }
    free(path);
    return e;
}
