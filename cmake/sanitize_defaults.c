/*
 * sanitize_defaults.c — the run-time defaults of the sanitized programs of
 * an HS_SANITIZE build (cmake/sanitize.cmake links this file into them and
 * into nothing else).
 *
 * Owns: the option strings each sanitizer runtime asks its program for at
 * start-up.  The names are the runtimes' interface, hence the leading
 * underscores STYLE.md otherwise forbids.  The environment (ASAN_OPTIONS,
 * UBSAN_OPTIONS, TSAN_OPTIONS, LSAN_OPTIONS) overrides any of them.
 *
 * Reports go to HS_SANITIZE_LOG.<program>.<pid> (HS_SANITIZE_LOG is set
 * by the build: <build>/sanitizer-logs/report), not to stderr: a test
 * driver that expects the program to fail, or clears the environment,
 * cannot hide a report, because scripts/sanitize.sh fails when any such
 * file exists after the run, and prints it.
 */

#define HS_SANITIZE_COMMON                                                     \
    "log_path=" HS_SANITIZE_LOG ":log_exe_name=1:print_suppressions=0"

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__tsan_default_options(void);
const char *__lsan_default_suppressions(void);

/* detect_leaks: the CLI frees what it allocates (LeakSanitizer runs at
 * exit).  Stack use after return and init order cost little here. */
const char *
__asan_default_options(void)
{
    return HS_SANITIZE_COMMON ":detect_leaks=1"
                              ":detect_stack_use_after_return=1"
                              ":check_initialization_order=1"
                              ":strict_init_order=1";
}

/* `heapsight graph` lays text out with pango (Graphviz's pango plugin),
 * whose process-wide font map keeps fontconfig's patterns and font sets
 * until exit; the CLI frees everything of Graphviz's it is given
 * (gvc_render.c).  Only allocations made by fontconfig are ignored. */
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}

const char *
__ubsan_default_options(void)
{
    return HS_SANITIZE_COMMON ":print_stacktrace=1";
}

/* Every race is reported (halt_on_error=0), then the program exits 66. */
const char *
__tsan_default_options(void)
{
    return HS_SANITIZE_COMMON ":halt_on_error=0:exitcode=66"
                              ":second_deadlock_stack=1";
}
