/*
 * strbuf.h — a growable text buffer: what every renderer in viz/ writes
 * into, so that renderers touch no files (the command writes the result).
 *
 * Owns: its bytes, always NUL-terminated.  Out of memory is sticky: the
 * first failed growth sets failed, later appends do nothing, and the
 * caller checks failed once at the end.
 *
 * Threading: none; one owner.
 */
#ifndef HS_VIZ_STRBUF_H
#define HS_VIZ_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf_s {
    char *s;    /* NUL-terminated, or NULL before the first append */
    size_t len; /* bytes before the NUL */
    size_t cap;
    bool failed; /* an allocation failed; the contents are incomplete */
} strbuf_t;

#define STRBUF_INIT                                                            \
    {                                                                          \
        NULL, 0, 0, false                                                      \
    }

void strbuf_free(strbuf_t *b);
void strbuf_add(strbuf_t *b, const char *s, size_t n);
void strbuf_puts(strbuf_t *b, const char *s);
void strbuf_printf(strbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " and ' escaped for XML and HTML. */
void strbuf_xml(strbuf_t *b, const char *s);
/* Appends s as the inside of a JSON (and JavaScript) string literal. */
void strbuf_json(strbuf_t *b, const char *s);

#endif /* HS_VIZ_STRBUF_H */
