/*
 * main.c — the heapsight command's entry point: the subcommand table,
 * dispatch, the top-level --help and --version, and the helpers every
 * subcommand shares (cmd.h).
 *
 * Owns: the table (gathered from the "hs_cmds" section, see cmd.h, and
 * sorted into --help order on first use) and the exit status
 * of usage errors at the top level (an unknown command: one line, exit 2).
 * Does not own any subcommand's options: `heapsight <cmd> ...` hands argv
 * from <cmd> on to that subcommand's main.
 *
 * Threading: single-threaded.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "hs_config.h"

extern const cmd_entry_t __start_hs_cmds[], __stop_hs_cmds[];

enum { CMD_MAX = 64 };
static const cmd_t *cmd_table[CMD_MAX];
static size_t cmd_count;

static int
cmd_entry_cmp(const void *a, const void *b)
{
    const cmd_entry_t *x = *(const cmd_entry_t *const *)a;
    const cmd_entry_t *y = *(const cmd_entry_t *const *)b;
    return (x->order > y->order) - (x->order < y->order);
}

/* Fills cmd_table from the section, in --help order. */
static void
cmd_table_init(void)
{
    const cmd_entry_t *e[CMD_MAX];
    size_t n = 0;
    for (const cmd_entry_t *p = __start_hs_cmds;
         p < __stop_hs_cmds && n < CMD_MAX; p++)
        e[n++] = p;
    qsort(e, n, sizeof(e[0]), cmd_entry_cmp);
    for (size_t i = 0; i < n; i++)
        cmd_table[i] = e[i]->cmd;
    cmd_count = n;
}
#define CMD_COUNT cmd_count

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

static int
main_help(FILE *out)
{
    fprintf(out,
            "usage: heapsight <command> [options] [args]\n"
            "\n"
            "heapsight %s: a malloc with a sampling heap profiler.\n"
            "\n"
            "commands:\n",
            HS_VERSION_STRING);
    for (size_t i = 0; i < CMD_COUNT; i++)
        fprintf(out, "  %-12s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
    fputs("\n'heapsight <command> --help' describes one command.\n", out);
    return CMD_EXIT_OK;
}

static const cmd_t *
main_find(const char *name)
{
    for (size_t i = 0; i < CMD_COUNT; i++)
        if (strcmp(cmd_table[i]->name, name) == 0)
            return cmd_table[i];
    return NULL;
}

int
main(int argc, char **argv)
{
    cmd_table_init();
    if (argc < 2) {
        cmd_error("no command given (see 'heapsight --help')");
        return CMD_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return main_help(stdout);
    if (strcmp(name, "help") == 0 && argc == 2)
        return main_help(stdout);
    if (strcmp(name, "help") == 0)
        name = argv[2]; /* `heapsight help <cmd>` */
    if (strcmp(name, "--version") == 0) {
        printf("heapsight %s\n", HS_VERSION_STRING);
        return CMD_EXIT_OK;
    }
    const cmd_t *cmd = main_find(name);
    if (cmd == NULL) {
        cmd_error("unknown command '%s' (see 'heapsight --help')", name);
        return CMD_EXIT_USAGE;
    }
    if (name != argv[1])
        return cmd_help(cmd);
    int status = cmd->main(argc - 1, argv + 1);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cmd_error("cannot write to standard output: %s", strerror(errno));
        return status != 0 ? status : CMD_EXIT_FAIL;
    }
    return status;
}
