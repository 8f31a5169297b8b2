/*
 * naming.h — the name of a stack's row in a report: from the frame that
 * matters, not from the allocator's plumbing.
 *
 * Owns: the rule that picks, for a stack (frame ids, leaf first), the
 * first frame of its row's name, name_at; the built-in lists of
 * allocator, runtime and wrapper functions it skips; the options that
 * change it (--drop, --keep, --show-from, --full-names) and their shared
 * command-line parsing.  Does not own frames or stacks (model.h computes
 * each frame's flags with naming_frame_flags and each sample's name_at
 * with naming_start) nor how a name is printed (" ← " between function
 * names, model.h; a width cuts the root-ward end).
 *
 * The rule, for a stack s[0..d) with d > 0 (docs/PROFILING.md, "How rows
 * are named", says it for users):
 *   1. --full-names: name_at = 0 (every frame, leaf first).
 *   2. --show-from RE: name_at = the first i, from the leaf, whose
 *      function matches RE; when none does, go on.
 *   3. start = 1 + the root-most i whose function matches --drop (and not
 *      --keep) and has a frame matching neither root-ward of it, else 0:
 *      as pprof's -drop_frames, that frame and all it called are left out
 *      (and, as pprof, frames matching at the root end stay, so a name is
 *      never empty).
 *   4. Walk i = start, start+1, ...: s[i] ends the walk (name_at = i)
 *      when it matches --keep, or is a Python function, or is native with
 *      no Python function root-ward of it and is not plumbing: plumbing is
 *        - an allocator or runtime entry point (naming_is_allocator:
 *          malloc and friends, operator new, the C++ standard library's
 *          allocators and its internal members, CPython's allocators);
 *        - a known malloc wrapper (naming_is_wrapper: xmalloc,
 *          g_malloc, sqlite3Malloc, ...), which is only ever reached
 *          with every frame leaf-ward of it already plumbing: the
 *          allocator itself is often not in the stack (heapsight's own
 *          profiles start at malloc's caller), so the leaf counts as
 *          directly above it;
 *        - a frame matching --drop;
 *        - a run of frames without a function name (module+offset) when
 *          the first named frame root-ward of it is one of the above:
 *          the static helpers of a wrapper in a stripped library
 *          (libsqlite3.so.0+0x1c5e3 ← sqlite3Malloc ← ...).
 *      A native frame with a Python function root-ward of it is plumbing
 *      too (the interpreter and C code under the innermost Python
 *      function), unless it matches --keep.
 *   5. The walk ran out (every frame plumbing): name_at = start.
 *     so  0 <= name_at < d, and name_at = 0 whenever s[0] matters.
 * Only the name changes: the stack stays whole (leaks prints it, flame
 * graphs draw it), and rows whose names are equal are one row.
 *
 * Errors: naming_init returns 0 or EINVAL with one line in err naming the
 * option and the bad expression.
 *
 * Threading: none.  naming_cmdline() is the process's one set of
 * options given on the command line (the CLI runs one command).
 */
#ifndef HS_CLI_NAMING_H
#define HS_CLI_NAMING_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the command line asked for; NULL and false: the default rule. */
typedef struct naming_opts_s {
    const char *drop;      /* --drop RE: plumbing too, as pprof's */
    const char *keep;      /* --keep RE: never plumbing */
    const char *show_from; /* --show-from RE: the name starts there */
    bool full_names;       /* --full-names: every frame, leaf first */
} naming_opts_t;

/* The options compiled. */
typedef struct naming_s {
    regex_t drop, keep, show_from;
    bool has_drop, has_keep, has_show_from;
    bool full_names;
} naming_t;

/* What a frame is to the rule (naming_frame_flags). */
enum {
    NAMING_PLUMBING = 1 << 0, /* an allocator or runtime entry point */
    NAMING_WRAPPER = 1 << 1,  /* a known malloc wrapper */
    NAMING_PYTHON = 1 << 2,   /* a Python function */
    NAMING_DROP = 1 << 3,     /* matches --drop and not --keep */
    NAMING_KEEP = 1 << 4,     /* matches --keep */
    NAMING_SHOW = 1 << 5,     /* matches --show-from */
    NAMING_UNNAMED = 1 << 6,  /* no function name: module+offset */
};

/* Compiles o (NULL: the default rule).  0, or EINVAL with err. */
int naming_init(naming_t *n, const naming_opts_t *o, char *err, size_t errlen);
void naming_free(naming_t *n);

/* The flags of a frame running func; kind holds NAMING_PYTHON for a
 * Python function, NAMING_UNNAMED for a frame without a function name. */
unsigned naming_frame_flags(const naming_t *n, const char *func, unsigned kind);

/* The first frame of the name of stack[0..depth), by the rule above;
 * flags[id] are the flags of frame id.  0 when depth is 0. */
uint32_t naming_start(const naming_t *n, const uint8_t *flags,
                      const uint32_t *stack, uint32_t depth);

/* Whether func is an allocator or runtime entry point, or a known
 * wrapper of one, by name (the built-in lists; naming.c). */
bool naming_is_allocator(const char *func);
bool naming_is_wrapper(const char *func);

/* ---- the command line ---- */

/* getopt_long values of the options (above every short option). */
enum {
    NAMING_OPT_DROP = 0x4e00,
    NAMING_OPT_KEEP,
    NAMING_OPT_SHOW_FROM,
    NAMING_OPT_FULL_NAMES,
};

/* The options' entries of a getopt_long table, and their --help lines
 * (descriptions at column 25). */
// clang-format off
#define NAMING_LONGOPTS                                                        \
    {"drop", required_argument, NULL, NAMING_OPT_DROP},                        \
    {"keep", required_argument, NULL, NAMING_OPT_KEEP},                        \
    {"show-from", required_argument, NULL, NAMING_OPT_SHOW_FROM},              \
    {"full-names", no_argument, NULL, NAMING_OPT_FULL_NAMES}
#define NAMING_USAGE                                                           \
    "      --drop RE         treat frames matching RE as plumbing: names\n"   \
    "                        start past them and all they called\n"           \
    "      --keep RE         never treat frames matching RE as plumbing\n"    \
    "      --show-from RE    start names at the first frame matching RE\n"    \
    "      --full-names      start names at the innermost frame, plumbing\n"  \
    "                        included\n"
// clang-format on

/* The options given on this process's command line (the default of
 * model_opts_t.naming). */
naming_opts_t *naming_cmdline(void);

/*
 * Compiles src (POSIX extended, no subexpressions) into re; 0, or EINVAL
 * with "bad <what> expression '<src>': <why>" in err.  (The model's
 * --focus and --ignore use it too.)
 */
int naming_regcomp(regex_t *re, const char *src, const char *what, char *err,
                   size_t errlen);

/* Takes getopt_long's c (and optarg) into o (NULL: naming_cmdline()) when
 * it is one of the options above; false otherwise. */
bool naming_getopt(naming_opts_t *o, int c, const char *arg);

#endif /* HS_CLI_NAMING_H */
