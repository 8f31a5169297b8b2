/*
 * fmt.c — the signal-safe writer: formatting without heap or stdio, and the
 * fatal/warning line writers.  See fmt.h for the format subset.
 */
#include "fmt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

typedef struct out_s {
    char *buf;
    size_t size; /* capacity including the NUL */
    size_t len;  /* characters produced so far (may exceed size) */
} out_t;

static void
out_char(out_t *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void
out_padded(out_t *o, const char *s, size_t n, int width, bool left)
{
    size_t pad = width > 0 && (size_t)width > n ? (size_t)width - n : 0;
    if (!left)
        for (size_t i = 0; i < pad; i++)
            out_char(o, ' ');
    for (size_t i = 0; i < n; i++)
        out_char(o, s[i]);
    if (left)
        for (size_t i = 0; i < pad; i++)
            out_char(o, ' ');
}

/* Renders v in base 10 or 16 into the end of tmp; returns the start. */
static char *
render_u64(char *end, uint64_t v, unsigned base)
{
    const char *digits = "0123456789abcdef";
    *--end = '\0';
    do {
        *--end = digits[v % base];
        v /= base;
    } while (v != 0);
    return end;
}

static void
out_int(out_t *o, uint64_t v, bool neg, unsigned base, int width, bool left,
        const char *prefix)
{
    char tmp[32];
    char *s = render_u64(tmp + sizeof(tmp) - 2, v, base);
    size_t plen = strlen(prefix);
    if (neg)
        *--s = '-';
    for (size_t i = plen; i > 0; i--)
        *--s = prefix[i - 1];
    out_padded(o, s, strlen(s), width, left);
}

/* Reads an integer argument of the length given by the modifier. */
static uint64_t
arg_unsigned(va_list *ap, int lmod)
{
    switch (lmod) {
    case 0:
        return va_arg(*ap, unsigned);
    case 'z':
        return va_arg(*ap, size_t);
    default:
        return va_arg(*ap, unsigned long long);
    }
}

static int64_t
arg_signed(va_list *ap, int lmod)
{
    switch (lmod) {
    case 0:
        return va_arg(*ap, int);
    case 'z':
        return va_arg(*ap, ssize_t);
    default:
        return va_arg(*ap, long long);
    }
}

static void
out_conversion(out_t *o, char conv, int lmod, int width, bool left, va_list *ap)
{
    switch (conv) {
    case 's': {
        const char *s = va_arg(*ap, const char *);
        if (s == NULL)
            s = "(null)";
        out_padded(o, s, strlen(s), width, left);
        break;
    }
    case 'c': {
        char c = (char)va_arg(*ap, int);
        out_padded(o, &c, 1, width, left);
        break;
    }
    case 'd': {
        int64_t v = arg_signed(ap, lmod);
        out_int(o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, width, left,
                "");
        break;
    }
    case 'u':
        out_int(o, arg_unsigned(ap, lmod), false, 10, width, left, "");
        break;
    case 'x':
        out_int(o, arg_unsigned(ap, lmod), false, 16, width, left, "");
        break;
    case 'p':
        out_int(o, (uintptr_t)va_arg(*ap, void *), false, 16, width, left,
                "0x");
        break;
    default:
        out_char(o, '%');
        out_char(o, conv);
    }
}

size_t
hs_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    out_t o = {buf, size, 0};
    va_list cur;
    va_copy(cur, ap);
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            out_char(&o, *p);
            continue;
        }
        p++;
        if (*p == '%') {
            out_char(&o, '%');
            continue;
        }
        bool left = false;
        if (*p == '-') {
            left = true;
            p++;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        int lmod = 0;
        if (*p == 'z') {
            lmod = 'z';
            p++;
        }
        while (*p == 'l') {
            lmod = 'l';
            p++;
        }
        if (*p == '\0')
            break;
        out_conversion(&o, *p, lmod, width, left, &cur);
    }
    va_end(cur);
    if (size > 0)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len < size ? o.len : (size > 0 ? size - 1 : 0);
}

size_t
hs_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = hs_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void
write_all(int fd, const char *s, size_t n)
{
    int saved = errno;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        s += w;
        n -= (size_t)w;
    }
    errno = saved;
}

static void
vline(int fd, const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];
    size_t n = hs_snprintf(buf, sizeof(buf), "%s", prefix);
    n += hs_vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
    buf[n++] = '\n';
    write_all(fd, buf, n);
}

void
hs_dprintf(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = hs_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    write_all(fd, buf, n);
}

void
hs_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(STDERR_FILENO, "heapsight: ", fmt, ap);
    va_end(ap);
    abort();
}

bool hs_misuse_aborts = true;
void (*_Atomic hs_misuse_hook)(const char *message);

void
hs_misuse(const char *fmt, ...)
{
    char buf[1024];
    size_t n = hs_snprintf(buf, sizeof(buf), "heapsight: ");
    va_list ap;
    va_start(ap, fmt);
    n += hs_vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
    va_end(ap);
    buf[n] = '\n';
    write_all(STDERR_FILENO, buf, n + 1);
    buf[n] = '\0';
    void (*hook)(const char *) = hs_misuse_hook;
    if (hook != NULL) {
        hook(buf + strlen("heapsight: "));
        return;
    }
    if (hs_misuse_aborts)
        abort();
}

void
hs_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(STDERR_FILENO, "heapsight: warning: ", fmt, ap);
    va_end(ap);
}

void
hs_assert_failed(const char *expr, const char *file, int line)
{
    hs_fatal("assertion failed: %s (%s:%d)", expr, file, line);
}
