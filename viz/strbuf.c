/*
 * strbuf.c — the growable text buffer (see strbuf.h).
 */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
strbuf_free(strbuf_t *b)
{
    free(b->s);
    *b = (strbuf_t)STRBUF_INIT;
}

/* Room for n more bytes and the NUL; false (and failed) if there is none. */
static bool
strbuf_room(strbuf_t *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (s == NULL) {
        b->failed = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void
strbuf_add(strbuf_t *b, const char *s, size_t n)
{
    if (!strbuf_room(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void
strbuf_puts(strbuf_t *b, const char *s)
{
    strbuf_add(b, s, strlen(s));
}

void
strbuf_printf(strbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !strbuf_room(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
strbuf_xml(strbuf_t *b, const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        switch (*p) {
        case '&':
            strbuf_puts(b, "&amp;");
            break;
        case '<':
            strbuf_puts(b, "&lt;");
            break;
        case '>':
            strbuf_puts(b, "&gt;");
            break;
        case '"':
            strbuf_puts(b, "&quot;");
            break;
        case '\'':
            strbuf_puts(b, "&#39;");
            break;
        default:
            strbuf_add(b, p, 1);
        }
    }
}

void
strbuf_json(strbuf_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            strbuf_add(b, e, 2);
        } else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&') {
            /* < > & escaped too: safe inside an HTML <script>. */
            strbuf_printf(b, "\\u%04x", *p);
        } else {
            strbuf_add(b, (const char *)p, 1);
        }
    }
}
