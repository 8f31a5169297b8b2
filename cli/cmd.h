/*
 * cmd.h — the heapsight command's subcommand table and what every
 * subcommand shares: error lines, usage errors, --help, size and duration
 * arguments, output directories.
 *
 * Owns: the cmd_t record of one subcommand and the helpers below (defined
 * in cmd.c; the table itself is main.c's).  Each subcommand lives in its own
 * file (run.c, symbolize.c, ...), defines one `const cmd_t cmd_<name>` and
 * registers it with CMD_REGISTER(cmd_<name>, order): the linker gathers the
 * entries in the section "hs_cmds" and main.c sorts them by order for
 * `heapsight
 * --help`.  Adding a subcommand is one new file (cli/CMakeLists.txt takes
 * every .c file of cli/).
 *
 * Conventions every subcommand keeps:
 *   - argv[0] is the subcommand's name; options are parsed with
 *     getopt_long (cmd_getopt_reset() first), and `--help`/`-h` prints
 *     cmd->usage on stdout and returns 0;
 *   - every error is one line on stderr, "heapsight: ..." (cmd_error);
 *   - exit status: 0 success, 1 a failed check or a failed write,
 *     2 bad usage or unreadable input (CMD_EXIT_*).
 *
 * Threading: single-threaded; no locks.
 */
#ifndef HS_CLI_CMD_H
#define HS_CLI_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    CMD_EXIT_OK = 0,
    CMD_EXIT_FAIL = 1,  /* a failed check, a failed write */
    CMD_EXIT_USAGE = 2, /* bad usage, unreadable input */
};

typedef struct cmd_s {
    const char *name;    /* as typed: `heapsight <name>` */
    const char *summary; /* one line for `heapsight --help` */
    const char *usage;   /* the whole `heapsight <name> --help` text */
    int (*main)(int argc, char **argv); /* returns the exit status */
} cmd_t;

typedef struct cmd_entry_s {
    const cmd_t *cmd;
    int order; /* place in `heapsight --help`, ascending */
} cmd_entry_t;

/* Registers a subcommand (at file scope, once per command). */
#define CMD_REGISTER(c, ord)                                                   \
    __attribute__((used, section("hs_cmds"),                                   \
                   aligned(8))) static const cmd_entry_t cmd_entry_##c = {     \
        &(c), (ord)}

/* The places in --help of the commands that exist. */
enum {
    CMD_ORDER_RUN = 10,
    CMD_ORDER_ATTACH = 15,
    CMD_ORDER_TOP = 20,
    CMD_ORDER_LEAKS = 30,
    CMD_ORDER_DIFF = 40,
    CMD_ORDER_TREND = 50,
    CMD_ORDER_FLAMEGRAPH = 60,
    CMD_ORDER_GRAPH = 70,
    CMD_ORDER_MERGE = 80,
    CMD_ORDER_CONVERT = 90,
    CMD_ORDER_SYMBOLIZE = 100,
};

/* Prints "heapsight: <message>\n" on stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints "heapsight: <cmd>: <message> (see 'heapsight <cmd> --help')" on
 * stderr; returns CMD_EXIT_USAGE.
 */
int cmd_usage_error(const cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints cmd->usage on stdout; returns CMD_EXIT_OK. */
int cmd_help(const cmd_t *cmd);

/*
 * Reports getopt_long's verdict on argv[optind - 1] for option character
 * c ('?' or ':'): an unknown option or a missing argument.  Returns
 * CMD_EXIT_USAGE.  Call with opterr = 0 (cmd_getopt_reset does that).
 */
int cmd_bad_option(const cmd_t *cmd, int c, char **argv);

/* Rewinds getopt for a fresh argv and silences its own messages. */
void cmd_getopt_reset(void);

/*
 * Parses a byte count: decimal digits with an optional k, m or g suffix
 * (powers of 1024, either case, an optional trailing "b"/"ib").  True on
 * success, with the value in *r_bytes; false on anything else, overflow
 * included.
 */
bool cmd_parse_size(const char *s, uint64_t *r_bytes);

/* The longest duration cmd_parse_duration takes: a day. */
#define CMD_DURATION_MAX_MS 86400000ULL

/*
 * Parses a duration: decimal digits and a unit, ms, s, m or h (none:
 * seconds), from 1 ms to CMD_DURATION_MAX_MS ("500ms", "30s", "2m",
 * "1h", "10").  True on success, with the milliseconds in *r_ms; false
 * on anything else.  (`heapsight run --every`, `heapsight attach`.)
 */
bool cmd_parse_duration(const char *s, unsigned *r_ms);

/* mkdir -p dir (what it creates: mode less the umask); 0 or an errno
 * value. */
int cmd_mkdirs(const char *dir, mode_t mode);

#endif /* HS_CLI_CMD_H */
