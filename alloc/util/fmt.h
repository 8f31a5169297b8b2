/*
 * fmt.h — the signal-safe writer used for every message the allocator
 * prints.
 *
 * Owns: formatting into a caller's buffer (no heap, no stdio, no locale),
 * writing whole lines to a file descriptor with write(2), and hs_fatal().
 * Safe to call from any context, with any allocator lock held.
 *
 * The format language is a small subset of printf: %s %d %u %zu %zd %lu %ld
 * %llu %x %lx %p %c %%, with an optional field width (e.g. %8zu, %-12s).
 */
#ifndef HS_FMT_H
#define HS_FMT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Formats into buf (always NUL-terminated); returns the length written. */
size_t hs_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
size_t hs_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Formats one message (up to 1 KiB) and writes it to fd. */
void hs_dprintf(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "heapsight: <message>\n" on stderr, then abort(). */
void hs_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn, cold));
/*
 * A misuse of the allocator (bad free, double free, wrong size): writes
 * "heapsight: <message>\n" on stderr, then calls the abort hook if one is
 * set (hs_misuse_hook), else aborts unless hs_misuse_aborts is false.
 * When it returns, the caller leaves the block untouched.
 */
void hs_misuse(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), cold));
/* Set at boot from abort_on_error; true by default. */
extern bool hs_misuse_aborts;
/* Called with the message (without the prefix) instead of aborting. */
extern void (*_Atomic hs_misuse_hook)(const char *message);

/* "heapsight: warning: <message>\n" on stderr. */
void hs_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* HS_FMT_H */
