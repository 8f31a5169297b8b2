/*
 * main.c — the heapsight command's entry point: the subcommand table,
 * dispatch, the top-level --help and --version (the helpers every
 * subcommand shares are cmd.c's).
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
