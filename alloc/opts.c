/*
 * opts.c — the HEAPSIGHT parser over the option table (see opts.h).
 *
 * Runs inside malloc's first call: no heap, no stdio, no locale.
 */
#include "opts.h"

#include <stdlib.h>
#include <string.h>

#include "util/fmt.h"

#define HS_OPT_DEFINE(type, name, def, min, max, doc)                          \
    opt_##type##_t opt_##name = def;
HS_OPTIONS(HS_OPT_DEFINE)
#undef HS_OPT_DEFINE

static bool
parse_bool(const char *v, size_t n, bool *r)
{
    if (n == 4 && memcmp(v, "true", 4) == 0)
        *r = true;
    else if (n == 5 && memcmp(v, "false", 5) == 0)
        *r = false;
    else
        return false;
    return true;
}

static bool
parse_int(const char *v, size_t n, long long min, long long max,
          long long *r)
{
    if (n == 0 || n > 20)
        return false;
    bool neg = v[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == n)
        return false;
    long long x = 0;
    for (; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (v[i] - '0');
        if (x > max + 1LL)
            return false;
    }
    x = neg ? -x : x;
    if (x < min || x > max)
        return false;
    *r = x;
    return true;
}

static bool
set_BOOL(bool *dst, const char *v, size_t n, long long min, long long max)
{
    (void)min, (void)max;
    return parse_bool(v, n, dst);
}

static bool
set_UINT(unsigned *dst, const char *v, size_t n, long long min,
         long long max)
{
    long long x;
    if (!parse_int(v, n, min, max, &x))
        return false;
    *dst = (unsigned)x;
    return true;
}

static bool
set_MS(ssize_t *dst, const char *v, size_t n, long long min, long long max)
{
    long long x;
    if (!parse_int(v, n, min, max, &x))
        return false;
    *dst = (ssize_t)x;
    return true;
}

/* Applies one key/value pair; warns about what it cannot apply. */
static void
apply(const char *k, size_t kn, const char *v, size_t vn)
{
    char key[64], val[64];
    hs_snprintf(key, sizeof(key), "%s", "");
    memcpy(key, k, kn < 63 ? kn : 63);
    key[kn < 63 ? kn : 63] = '\0';
    memcpy(val, v, vn < 63 ? vn : 63);
    val[vn < 63 ? vn : 63] = '\0';
#define HS_OPT_APPLY(type, name, def, min, max, doc)                           \
    if (kn == sizeof(#name) - 1 && memcmp(k, #name, kn) == 0) {               \
        if (!set_##type(&opt_##name, v, vn, min, max))                         \
            hs_warn("HEAPSIGHT: bad value \"%s\" for %s (ignored)", val,       \
                    key);                                                      \
        return;                                                                \
    }
    HS_OPTIONS(HS_OPT_APPLY)
#undef HS_OPT_APPLY
    hs_warn("HEAPSIGHT: unknown option \"%s\" (ignored)", key);
}

void
opts_parse_string(const char *conf)
{
    const char *p = conf;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon == NULL) {
            if (end > p)
                apply(p, (size_t)(end - p), "", 0);
        } else {
            apply(p, (size_t)(colon - p), colon + 1,
                  (size_t)(end - colon - 1));
        }
        p = *end == ',' ? end + 1 : end;
    }
}

void
opts_parse(void)
{
    const char *conf = secure_getenv("HEAPSIGHT");
    if (conf != NULL)
        opts_parse_string(conf);
}
