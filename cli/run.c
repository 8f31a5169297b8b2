/*
 * run.c — `heapsight run [--sample SIZE] [--out DIR] [--leaks]
 * [--every DURATION] [--flamegraph F] [--no-python] [--no-symbolize]
 * [--lib PATH] [--debug-dir DIR]... -- CMD [ARG]...`:
 * runs CMD with libheapsight.so preloaded and profiling on, then
 * symbolizes the dumps it left (unless --no-symbolize: then the views
 * symbolize them when they read them, model.h, and so does `heapsight
 * symbolize`; what is left of the run's own cost is ~10 ms a process).
 *
 * Owns: finding the library, the environment CMD gets, the child's
 * lifetime, and which dumps count as this run's.
 *
 * The environment: LD_PRELOAD = the library, then any LD_PRELOAD already
 * set; HEAPSIGHT = any HEAPSIGHT already set, then
 *     prof:true,prof_final:true,prof_prefix:<DIR>/heapsight
 * plus prof_sample:<bytes> with --sample, prof_leak:true with --leaks,
 * prof_interval_ms:<ms> with --every (periodic dumps for `heapsight
 * trend`) and prof_max_dumps:<n> with --keep.  Unless --no-python:
 * HEAPSIGHT_PYTHON=1 and PYTHONPATH = <python>/heapsight/boot:<python> before
 * any PYTHONPATH already set, where <python> holds heapsight's Python package
 * (../python beside this program, else the installed one): every Python 3.11
 * process of the run imports boot/sitecustomize.py, which adds the Python frame
 * hook.  The library parses its options left to right, so ours win over the
 * same keys set before; without --sample a prof_sample already in HEAPSIGHT
 * stands (the library's default is 512 KiB).
 *
 * --flamegraph F: once the dumps are symbolized, CMD's own final dump
 * (else its newest, else the run's newest) is drawn into F
 * (flamegraph.h); the exit status stays CMD's.
 *
 * The library is, in order: --lib; $HEAPSIGHT_LIB; ../lib/libheapsight.so
 * beside this executable (the build tree's bin/ and lib/, and an install
 * prefix's); the configured install libdir.  An explicit --lib or
 * $HEAPSIGHT_LIB that does not exist is an error, not a reason to look
 * elsewhere.
 *
 * Which processes: HEAPSIGHT_RUN_TRACK=1 makes each process of the run
 * leave <DIR>/heapsight.<pid>.running until its final dump is written
 * (prof/dump.c); a marker still there at the end names a process that
 * wrote no final profile, and run says so, one line each.
 *
 * Which dumps: every <DIR>/heapsight.<pid>.<...>.pb.gz that did not exist
 * before CMD started.  That includes the dumps of CMD's children (they
 * inherit the environment; `make` or a shell script profile every
 * process), which a pattern on CMD's own pid would miss.  Each is
 * symbolized in place (a temporary file renamed over it, keeping its
 * 0600 mode): the symbolized profile keeps every address and mapping, so
 * nothing is lost, and `heapsight.*.pb.gz` still names one file per dump.
 *
 * Exit status: CMD's own; 128 + N when a signal N ended it; 127 when CMD
 * cannot be found, 126 when it cannot be run; 2 for bad usage.  While CMD
 * runs, SIGINT and SIGQUIT are ignored here (the terminal delivers them to
 * CMD as well, and the dumps still get symbolized) and SIGTERM and SIGHUP
 * are passed on to CMD.
 *
 * Threading: single-threaded; the signal handler only calls kill().
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "flamegraph.h"
#include "hmap.h"
#include "symbolize.h"

#define RUN_LIB_NAME "libheapsight.so"
#define RUN_PREFIX_NAME "heapsight"
#define RUN_DUMP_SUFFIX ".pb.gz"
/* The library's limit on string options (OPT_STR_MAX in alloc/opts.h). */
#define RUN_PREFIX_MAX 255
/* Bounds of prof_sample (alloc/opts.h). */
#define RUN_SAMPLE_MAX ((uint64_t)1 << 40)

typedef struct run_opts_s {
    uint64_t sample;        /* 0: not given */
    unsigned every_ms;      /* --every; 0: not given */
    unsigned keep;          /* --keep; 0: not given */
    const char *flamegraph; /* --flamegraph; NULL: none */
    const char *out;
    bool leaks;
    bool no_python;
    bool no_symbolize;
    const char *lib;
    const char **debug_dirs;
    size_t ndebug_dirs;
    char **cmd; /* NULL-terminated */
} run_opts_t;

static int run_main(int argc, char **argv);

const cmd_t cmd_run = {
    .name = "run",
    .summary = "run a program with heap profiling on, then symbolize its dumps",
    .usage =
        "usage: heapsight run [options] -- CMD [ARG]...\n"
        "\n"
        "Runs CMD with libheapsight.so preloaded and the sampling heap\n"
        "profiler on; CMD (and every process it starts) dumps a profile when\n"
        "it exits.  Then each new dump is symbolized in place and its path\n"
        "printed.  The exit status is CMD's (128+N when signal N ended it).\n"
        "\n"
        "options:\n"
        "  -s, --sample SIZE    mean bytes between samples (k, m, g suffixes;\n"
        "                       1 samples every allocation; default 512k)\n"
        "  -o, --out DIR        where dumps go (default: the current "
        "directory;\n"
        "                       created if missing); they are named\n"
        "                       DIR/heapsight.<pid>.<seq>.<trigger>.pb.gz\n"
        "  -l, --leaks          report what is still allocated at exit\n"
        "      --flamegraph F   also render CMD's final profile as a flame\n"
        "                       graph into F (.svg or .html)\n"
        "      --every DURATION also dump every DURATION while CMD runs\n"
        "                       (500ms, 30s, 2m, 1h; a bare number is\n"
        "                       seconds): a series for 'heapsight trend'\n"
        "      --keep N         keep at most N dumps of each process: the\n"
        "                       first and the newest (a run of weeks with\n"
        "                       --every cannot fill the disk; the peak\n"
        "                       profile is kept apart)\n"
        "      --lib PATH       the library to preload (default: "
        "$HEAPSIGHT_LIB,\n"
        "                       else ../lib/libheapsight.so beside this "
        "program,\n"
        "                       else the installed one)\n"
        "  -d, --debug-dir DIR  also look for symbols by build ID in DIR\n"
        "                       (see 'heapsight symbolize --help')\n"
        "      --no-python      do not merge Python frames into the stacks of\n"
        "                       Python programs (on by default: CMD and the\n"
        "                       Python processes it starts load heapsight's\n"
        "                       Python package at start-up)\n"
        "      --no-symbolize   leave the dumps' addresses as they are: the\n"
        "                       other commands symbolize a profile when they\n"
        "                       read it, 'heapsight symbolize' on request "
        "(for\n"
        "                       many short runs: symbolizing reads each\n"
        "                       file's DWARF, ~0.2 s for python3 and libc the\n"
        "                       first time; answers are cached, see\n"
        "                       'heapsight symbolize --help')\n"
        "  -h, --help           this text\n"
        "\n"
        "Options already in $HEAPSIGHT are kept; the ones above win.\n",
    .main = run_main,
};
CMD_REGISTER(cmd_run, CMD_ORDER_RUN);

/* ---- options ------------------------------------------------------------ */

static int
run_parse_sample(const char *arg, uint64_t *r_sample)
{
    if (!cmd_parse_size(arg, r_sample) || *r_sample == 0 ||
        *r_sample > RUN_SAMPLE_MAX)
        return cmd_usage_error(&cmd_run,
                               "bad --sample '%s' (bytes from 1 to 1024g, with "
                               "an optional k, m or g suffix)",
                               arg);
    return -1;
}

/* Parses --every (cmd_parse_duration); -1 to go on, else the exit
 * status. */
static int
run_parse_every(const char *arg, unsigned *r_ms)
{
    if (cmd_parse_duration(arg, r_ms))
        return -1;
    return cmd_usage_error(&cmd_run,
                           "bad --every '%s' (a duration from 1ms to 24h, "
                           "such as 500ms, 30s, 2m or 1h)",
                           arg);
}

/* Parses --keep: a count of dumps from 1 to a million. */
static int
run_parse_keep(const char *arg, unsigned *r_keep)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (arg[0] >= '0' && arg[0] <= '9' && *end == '\0' && errno == 0 &&
        v >= 1 && v <= 1000000) {
        *r_keep = (unsigned)v;
        return -1;
    }
    return cmd_usage_error(&cmd_run,
                           "bad --keep '%s' (a number of dumps from 1 to "
                           "1000000)",
                           arg);
}

/* Parses argv into o; -1 to go on, else the exit status. */
static int
run_parse(int argc, char **argv, run_opts_t *o)
{
    static const struct option longopts[] = {
        {"sample", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"leaks", no_argument, NULL, 'l'},
        {"lib", required_argument, NULL, 'L'},
        {"debug-dir", required_argument, NULL, 'd'},
        {"no-python", no_argument, NULL, 'P'},
        {"every", required_argument, NULL, 'E'},
        {"flamegraph", required_argument, NULL, 'G'},
        {"no-symbolize", no_argument, NULL, 'N'},
        {"keep", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, status = -1;
    cmd_getopt_reset();
    /* "+": CMD's own options are not ours, even without "--". */
    while (status < 0 &&
           (c = getopt_long(argc, argv, "+:s:o:ld:h", longopts, NULL)) != -1) {
        if (c == 's')
            status = run_parse_sample(optarg, &o->sample);
        else if (c == 'o')
            o->out = optarg;
        else if (c == 'l')
            o->leaks = true;
        else if (c == 'L')
            o->lib = optarg;
        else if (c == 'd')
            o->debug_dirs[o->ndebug_dirs++] = optarg;
        else if (c == 'P')
            o->no_python = true;
        else if (c == 'N')
            o->no_symbolize = true;
        else if (c == 'K')
            status = run_parse_keep(optarg, &o->keep);
        else if (c == 'E')
            status = run_parse_every(optarg, &o->every_ms);
        else if (c == 'G' && !flamegraph_format_ok(optarg))
            status = cmd_usage_error(&cmd_run,
                                     "--flamegraph '%s': the file must end in "
                                     ".svg or .html",
                                     optarg);
        else if (c == 'G')
            o->flamegraph = optarg;
        else if (c == 'h')
            status = cmd_help(&cmd_run);
        else
            status = cmd_bad_option(&cmd_run, c, argv);
    }
    if (status < 0 && optind >= argc)
        status = cmd_usage_error(&cmd_run, "no command given (-- CMD ...)");
    o->cmd = argv + optind;
    return status;
}

/* ---- the library and the output directory ------------------------------- */

/* realpath of path if it is a readable file, else NULL and why. */
static char *
run_usable(const char *path, const char **r_why)
{
    struct stat st;
    char *real = NULL;
    *r_why = NULL;
    if (stat(path, &st) != 0 || access(path, R_OK) != 0)
        *r_why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        *r_why = "not a regular file";
    else if ((real = realpath(path, NULL)) == NULL)
        *r_why = strerror(errno);
    return real;
}

/* ../lib/libheapsight.so beside the running executable, or NULL. */
static char *
run_lib_beside_exe(void)
{
    char exe[PATH_MAX], *lib = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0';
    if (asprintf(&lib, "%s/../lib/%s", exe, RUN_LIB_NAME) < 0)
        return NULL;
    const char *why;
    char *found = run_usable(lib, &why);
    free(lib);
    return found;
}

/*
 * The directory holding heapsight's Python package (heapsight/ with its
 * boot/sitecustomize.py): ../python beside this program in a build tree,
 * else the installed one; NULL when there is none (built without Python).
 */
static char *
run_find_pydir(void)
{
    char exe[PATH_MAX], *cand = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    const char *why;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            if (asprintf(&cand, "%s/../python/heapsight/boot/sitecustomize.py",
                         exe) >= 0) {
                char *found = run_usable(cand, &why);
                free(cand);
                if (found != NULL) {
                    /* .../python/heapsight/boot/sitecustomize.py -> .../python
                     */
                    for (int up = 0; up < 3; up++)
                        *strrchr(found, '/') = '\0';
                    return found;
                }
            }
        }
    }
#ifdef HS_INSTALL_PYDIR
    char *found =
        run_usable(HS_INSTALL_PYDIR "/heapsight/boot/sitecustomize.py", &why);
    if (found != NULL) {
        for (int up = 0; up < 3; up++)
            *strrchr(found, '/') = '\0';
        return found;
    }
#endif
    return NULL;
}

/* Set in the parent before the fork: where the Python package is. */
static char *run_pydir;

/* The absolute path of the library to preload; NULL after an error line. */
static char *
run_find_lib(const run_opts_t *o)
{
    const char *env = getenv("HEAPSIGHT_LIB");
    const char *given = o->lib != NULL ? o->lib : env;
    const char *why;
    if (given != NULL && given[0] != '\0') {
        char *found = run_usable(given, &why);
        if (found == NULL)
            cmd_error("run: cannot use %s %s: %s",
                      o->lib != NULL ? "--lib" : "$HEAPSIGHT_LIB", given, why);
        return found;
    }
    char *found = run_lib_beside_exe();
    if (found == NULL)
        found = run_usable(HS_INSTALL_LIBDIR "/" RUN_LIB_NAME, &why);
    if (found == NULL)
        cmd_error("run: cannot find %s (looked beside this program and in "
                  "%s; use --lib or $HEAPSIGHT_LIB)",
                  RUN_LIB_NAME, HS_INSTALL_LIBDIR);
    return found;
}

/* The absolute output directory, created; NULL after an error line. */
static char *
run_out_dir(const char *out)
{
    int e = cmd_mkdirs(out, 0777);
    char *dir = e == 0 ? realpath(out, NULL) : NULL;
    if (dir == NULL) {
        cmd_error("run: cannot use --out %s: %s", out,
                  strerror(e != 0 ? e : errno));
        return NULL;
    }
    if (strchr(dir, ',') != NULL ||
        strlen(dir) + sizeof("/" RUN_PREFIX_NAME) - 1 > RUN_PREFIX_MAX) {
        cmd_error("run: cannot use --out %s: HEAPSIGHT needs a path without "
                  "',' and under %d bytes",
                  dir, RUN_PREFIX_MAX - (int)sizeof(RUN_PREFIX_NAME));
        free(dir);
        return NULL;
    }
    return dir;
}

/* ---- dumps -------------------------------------------------------------- */

/* True if name is heapsight.<digits>.<anything>.pb.gz. */
static bool
run_is_dump(const char *name)
{
    static const char prefix[] = RUN_PREFIX_NAME ".";
    size_t n = strlen(name), np = sizeof(prefix) - 1;
    size_t ns = sizeof(RUN_DUMP_SUFFIX) - 1;
    if (n <= np + ns || strncmp(name, prefix, np) != 0 ||
        strcmp(name + n - ns, RUN_DUMP_SUFFIX) != 0)
        return false;
    const char *p = name + np;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '.';
}

static int
run_name_cmp(const void *a, const void *b)
{
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The dump names in dir, sorted, that are not in seen (NULL: all of them),
 * as a NULL-terminated malloc'd array.  *r_n gets the count.
 */
static char **
run_list_dumps(const char *dir, const hmap_t *seen, size_t *r_n)
{
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof(*names));
    DIR *d = opendir(dir);
    for (struct dirent *e;
         names != NULL && d != NULL && (e = readdir(d)) != NULL;) {
        if (!run_is_dump(e->d_name) ||
            (seen != NULL && hmap_get_str(seen, e->d_name, NULL)))
            continue;
        if (n + 1 == cap) {
            char **bigger = realloc(names, (cap *= 2) * sizeof(*names));
            if (bigger == NULL)
                break;
            names = bigger;
        }
        if ((names[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    if (d != NULL)
        closedir(d);
    if (names != NULL) {
        qsort(names, n, sizeof(*names), run_name_cmp);
        names[n] = NULL;
    }
    *r_n = n;
    return names;
}

static void
run_free_names(char **names)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++)
        free(names[i]);
    free(names);
}

/* True if name is heapsight.<digits>.running (a process marker). */
static bool
run_is_marker(const char *name)
{
    static const char prefix[] = RUN_PREFIX_NAME ".", suffix[] = ".running";
    size_t n = strlen(name), np = sizeof(prefix) - 1, ns = sizeof(suffix) - 1;
    if (n <= np + ns || strncmp(name, prefix, np) != 0 ||
        strcmp(name + n - ns, suffix) != 0)
        return false;
    for (const char *p = name + np; p < name + n - ns; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Fills seen with the dumps and process markers already in dir. */
static void
run_snapshot(const char *dir, hmap_t *seen)
{
    size_t n;
    char **names = run_list_dumps(dir, NULL, &n);
    for (size_t i = 0; i < n; i++)
        hmap_put(seen, names[i], strlen(names[i]), 1);
    run_free_names(names);
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        if (run_is_marker(e->d_name))
            hmap_put(seen, e->d_name, strlen(e->d_name), 1);
    if (d != NULL)
        closedir(d);
}

/*
 * The processes of this run that wrote no final profile: each left its
 * marker (heapsight.<pid>.running: its parent's pid, then its command
 * line; prof/dump.c).  One line each, then the marker goes.
 */
static void
run_report_markers(const char *dir, const hmap_t *seen)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (!run_is_marker(e->d_name) || hmap_get_str(seen, e->d_name, NULL))
            continue;
        char *path, line[1100] = "", cmd[1024] = "?";
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
            continue;
        FILE *f = fopen(path, "r");
        long ppid = 0;
        if (f != NULL) {
            if (fgets(line, sizeof line, f) != NULL)
                ppid = strtol(line, NULL, 10);
            if (fgets(cmd, sizeof cmd, f) != NULL)
                cmd[strcspn(cmd, "\n")] = '\0';
            /* A line of its own: long command lines are cut. */
            if (strlen(cmd) > 100)
                strcpy(cmd + 97, "...");
            fclose(f);
        }
        long pid = strtol(e->d_name + sizeof(RUN_PREFIX_NAME), NULL, 10);
        cmd_error("run: process %ld (%s; parent %ld) wrote no final profile: "
                  "it was killed by a signal, left through _exit, or ran a "
                  "program the library cannot be preloaded into",
                  pid, cmd[0] != '\0' ? cmd : "?", ppid);
        unlink(path);
        free(path);
    }
    if (d != NULL)
        closedir(d);
}

/* Whether dump file name belongs to process pid ("heapsight.<pid>."). */
static bool
run_dump_of(const char *name, long pid)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof(prefix), "%s.%ld.", RUN_PREFIX_NAME, pid);
    return n > 0 && strncmp(name, prefix, (size_t)n) == 0;
}

/*
 * The dump a flame graph is drawn from: CMD's own final dump, else CMD's
 * newest dump, else the newest dump of the run (names are sorted, so the
 * last of a process is its newest).  NULL when there is none.
 */
static const char *
run_pick_dump(char **names, size_t n, long pid)
{
    const char *own = NULL;
    for (size_t i = 0; i < n; i++)
        if (run_dump_of(names[i], pid)) {
            own = names[i];
            if (strstr(names[i], ".final.") != NULL)
                return names[i];
        }
    return own != NULL ? own : n > 0 ? names[n - 1] : NULL;
}

/* The pid of dump name heapsight.<pid>.<seq>.<trigger>.pb.gz. */
static long
run_pid_of(const char *name)
{
    return strtol(name + sizeof(RUN_PREFIX_NAME), NULL, 10);
}

/* "final, peak, 3 timer": the triggers of names[0..n) (one process's). */
static void
run_triggers(char **names, size_t n, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *t =
            strchr(strchr(names[i] + sizeof(RUN_PREFIX_NAME), '.') + 1, '.') +
            1;
        size_t tl = strcspn(t, "."), same = 0;
        bool first = true;
        for (size_t j = 0; j < n; j++) {
            const char *u =
                strchr(strchr(names[j] + sizeof(RUN_PREFIX_NAME), '.') + 1,
                       '.') +
                1;
            if (strncmp(u, t, tl) == 0 && u[tl] == '.') {
                first &= j >= i;
                same++;
            }
        }
        if (!first)
            continue;
        size_t len = strlen(out);
        if (same == 1)
            snprintf(out + len, size - len, "%s%.*s", len ? ", " : "", (int)tl,
                     t);
        else
            snprintf(out + len, size - len, "%s%zu %.*s", len ? ", " : "", same,
                     (int)tl, t);
    }
}

/* With more than one process in the run: one line per process, its pid,
 * parent, dumps and command line (from its dumps' comments). */
static void
run_report_processes(const char *dir, char **names, size_t n)
{
    size_t groups = 0;
    for (size_t i = 0; i < n; i++)
        groups += i == 0 || run_pid_of(names[i]) != run_pid_of(names[i - 1]);
    if (groups < 2)
        return;
    cmd_error("run: %zu processes left profiles:", groups);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && run_pid_of(names[j]) == run_pid_of(names[i]);)
            j++;
        char triggers[256], *path, err[PROFILE_ERR_MAX];
        run_triggers(names + i, j - i, triggers, sizeof triggers);
        profile_t *p = NULL;
        if (asprintf(&path, "%s/%s", dir, names[j - 1]) >= 0 &&
            profile_read(path, &p, err, sizeof err) != 0)
            p = NULL;
        const char *cmd = p != NULL ? profile_comment(p, "command: ") : NULL;
        const char *who = p != NULL ? profile_comment(p, "process: ") : NULL;
        const char *parent = who != NULL ? strstr(who, "parent ") : NULL;
        cmd_error("  %-7ld parent %-7ld %-24s %s", run_pid_of(names[i]),
                  parent != NULL ? strtol(parent + 7, NULL, 10) : 0L, triggers,
                  cmd != NULL ? cmd : "(command not recorded)");
        profile_free(p);
        free(path);
    }
}

/* `heapsight leaks` (leaks.c), run for the report of --leaks. */
extern const cmd_t cmd_leaks;

/* The live bytes of profile p (its inuse_space column summed); 0 if it
 * has none. */
static int64_t
run_live_bytes(const profile_t *p)
{
    size_t col = SIZE_MAX;
    for (size_t i = 0; i < p->pb->n_sample_type; i++)
        if (strcmp(profile_str(p, p->pb->sample_type[i]->type),
                   "inuse_space") == 0)
            col = i;
    int64_t sum = 0;
    for (size_t i = 0; col != SIZE_MAX && i < p->pb->n_sample; i++)
        if (col < p->pb->sample[i]->n_value)
            sum += p->pb->sample[i]->value[col];
    return sum;
}

/* With --leaks: for each final dump with anything live, the report of
 * `heapsight leaks`, symbolized, on stderr (where the library's own
 * report would have gone), after a line naming the process. */
static void
run_report_leaks(const char *dir, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strstr(names[i], ".final.") == NULL)
            continue;
        char *path, err[PROFILE_ERR_MAX];
        profile_t *p = NULL;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
            continue;
        if (profile_read(path, &p, err, sizeof err) == 0 &&
            run_live_bytes(p) > 0) {
            const char *cmd = profile_comment(p, "command: ");
            cmd_error("leaks of process %ld (%s):", run_pid_of(names[i]),
                      cmd != NULL ? cmd : "command not recorded");
            char *argv[] = {"leaks", path, NULL};
            /* The command prints on stdout: stderr for the length of it. */
            fflush(stdout);
            int saved = dup(STDOUT_FILENO);
            if (saved >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) >= 0) {
                cmd_leaks.main(2, argv);
                fflush(stdout);
                dup2(saved, STDOUT_FILENO);
            }
            if (saved >= 0)
                close(saved);
        }
        profile_free(p);
        free(path);
    }
}

/* Symbolizes this run's dumps in place and prints where they are; with
 * --flamegraph, renders the one run_pick_dump chooses. */
static void
run_collect(const char *dir, const hmap_t *seen, const run_opts_t *o, long pid)
{
    size_t n;
    char **names = run_list_dumps(dir, seen, &n);
    symbolize_opts_t so = {o->debug_dirs, o->ndebug_dirs, false, NULL};
    /* One session for every dump of the run: each file's DWARF is read
     * once, not once per process. */
    so.session = o->no_symbolize ? NULL : symbolize_session_new(&so);
    for (size_t i = 0; i < n; i++) {
        char *path;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
            continue;
        if (o->no_symbolize)
            cmd_error("profile: %s", path);
        else if (symbolize_file(path, path, &so) == CMD_EXIT_OK)
            cmd_error("profile: %s", path);
        else
            cmd_error("profile (not symbolized): %s", path);
        free(path);
    }
    symbolize_session_free(so.session);
    if (n == 0)
        cmd_error("run: no profile was written to %s", dir);
    run_report_processes(dir, names, n);
    if (o->leaks)
        run_report_leaks(dir, names, n);
    const char *pick = o->flamegraph != NULL && names != NULL
                           ? run_pick_dump(names, n, pid)
                           : NULL;
    char *path = NULL;
    if (pick != NULL && asprintf(&path, "%s/%s", dir, pick) >= 0 &&
        flamegraph_file(path, o->flamegraph, NULL) == CMD_EXIT_OK)
        cmd_error("flame graph of %s: %s", pick, o->flamegraph);
    free(path);
    run_free_names(names);
}

/* ---- the child ---------------------------------------------------------- */

static volatile sig_atomic_t run_child;

static void
run_forward(int sig)
{
    if (run_child > 0)
        kill((pid_t)run_child, sig);
}

/* The HEAPSIGHT value CMD gets; NULL if out of memory. */
static char *
run_heapsight_env(const run_opts_t *o, const char *dir)
{
    const char *old = getenv("HEAPSIGHT");
    char sample[48] = "", every[48] = "", keep[48] = "";
    if (o->sample != 0)
        snprintf(sample, sizeof(sample), ",prof_sample:%llu",
                 (unsigned long long)o->sample);
    if (o->every_ms != 0)
        snprintf(every, sizeof(every), ",prof_interval_ms:%u", o->every_ms);
    if (o->keep != 0)
        snprintf(keep, sizeof(keep), ",prof_max_dumps:%u", o->keep);
    char *val;
    if (asprintf(&val,
                 "%s%sprof:true,prof_final:true,prof_prefix:%s/%s%s%s%s%s",
                 old != NULL ? old : "",
                 old != NULL && old[0] != '\0' ? "," : "", dir, RUN_PREFIX_NAME,
                 sample, o->leaks ? ",prof_leak:true" : "", every, keep) < 0)
        return NULL;
    return val;
}

/* In the child: the environment, default signals, exec.  Never returns. */
static void __attribute__((noreturn))
run_exec(char **cmd, const char *lib, const char *heapsight,
         const sigset_t *mask)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    const char *old = getenv("LD_PRELOAD");
    char *preload = NULL;
    if (old != NULL && old[0] != '\0' &&
        asprintf(&preload, "%s:%s", lib, old) < 0)
        preload = NULL;
    setenv("LD_PRELOAD", preload != NULL ? preload : lib, 1);
    setenv("HEAPSIGHT", heapsight, 1);
    if (run_pydir != NULL) {
        /* Python programs import boot/sitecustomize.py at start-up, which
         * adds the frame hook (pyext/heapsight/boot). */
        const char *oldpp = getenv("PYTHONPATH");
        char *pp = NULL;
        if (asprintf(&pp, "%s/heapsight/boot:%s%s%s", run_pydir, run_pydir,
                     oldpp != NULL && oldpp[0] != '\0' ? ":" : "",
                     oldpp != NULL ? oldpp : "") >= 0)
            setenv("PYTHONPATH", pp, 1);
        setenv("HEAPSIGHT_PYTHON", "1", 1);
    }
    setenv("HEAPSIGHT_RUN_TRACK", "1", 1);
    /* The package symbolizes the dumps it writes to paths of its own with
     * this very command. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        setenv("HEAPSIGHT_CLI", self, 0);
    }
    execvp(cmd[0], cmd);
    int e = errno;
    cmd_error("run: cannot run %s: %s", cmd[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

/* Waits for pid; its exit status as a shell reports it. */
static int
run_wait(pid_t pid, const char *name)
{
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) {
            cmd_error("run: waitpid: %s", strerror(errno));
            return CMD_EXIT_FAIL;
        }
    }
    if (WIFSIGNALED(ws)) {
        cmd_error("run: %s ended by signal %d (%s)", name, WTERMSIG(ws),
                  strsignal(WTERMSIG(ws)));
        return 128 + WTERMSIG(ws);
    }
    return WEXITSTATUS(ws);
}

/* Runs CMD to its end; its exit status. */
/* CMD's pid, once started (for run_pick_dump). */
static long run_cmd_pid;

static int
run_child_process(const run_opts_t *o, const char *lib, const char *env)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};
    struct sigaction fwd = {.sa_handler = run_forward};
    struct sigaction old[4];
    sigset_t fwdset, oldset;
    sigemptyset(&fwdset);
    sigaddset(&fwdset, SIGTERM);
    sigaddset(&fwdset, SIGHUP);
    /* Held until run_child is set, so that none is lost in between. */
    sigprocmask(SIG_BLOCK, &fwdset, &oldset);
    sigaction(SIGINT, &ign, &old[0]);
    sigaction(SIGQUIT, &ign, &old[1]);
    sigaction(SIGTERM, &fwd, &old[2]);
    sigaction(SIGHUP, &fwd, &old[3]);
    /* The leak report is ours to print, symbolized (run_report_leaks);
     * the library still decides the exit status (prof_leak_error). */
    if (o->leaks)
        setenv("HEAPSIGHT_LEAK_REPORT", "cli", 1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        run_exec(o->cmd, lib, env, &oldset);
    run_child = pid > 0 ? pid : 0;
    run_cmd_pid = pid;
    sigprocmask(SIG_SETMASK, &oldset, NULL);
    int status = CMD_EXIT_FAIL;
    if (pid < 0)
        cmd_error("run: fork: %s", strerror(errno));
    else
        status = run_wait(pid, o->cmd[0]);
    run_child = 0;
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGQUIT, &old[1], NULL);
    sigaction(SIGTERM, &old[2], NULL);
    sigaction(SIGHUP, &old[3], NULL);
    return status;
}

static int
run_main(int argc, char **argv)
{
    run_opts_t o = {.out = "."};
    o.debug_dirs = calloc((size_t)argc + 1, sizeof(*o.debug_dirs));
    if (o.debug_dirs == NULL)
        return CMD_EXIT_FAIL;
    int status = run_parse(argc, argv, &o);
    char *lib = status < 0 ? run_find_lib(&o) : NULL;
    char *dir = lib != NULL ? run_out_dir(o.out) : NULL;
    char *env = dir != NULL ? run_heapsight_env(&o, dir) : NULL;
    if (status < 0 && env == NULL)
        status = CMD_EXIT_USAGE;
    if (status < 0 && !o.no_python)
        run_pydir = run_find_pydir();
    if (status < 0) {
        hmap_t seen;
        hmap_init(&seen);
        run_snapshot(dir, &seen);
        status = run_child_process(&o, lib, env);
        run_collect(dir, &seen, &o, run_cmd_pid);
        run_report_markers(dir, &seen);
        hmap_destroy(&seen);
    }
    free(env);
    free(dir);
    free(lib);
    free(run_pydir);
    run_pydir = NULL;
    free(o.debug_dirs);
    return status;
}
