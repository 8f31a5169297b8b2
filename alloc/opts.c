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

/* The address set_<type> writes through: arrays decay to their first
 * element, scalars are taken by address. */
static inline bool *
opt_ref_BOOL(bool *p)
{
    return p;
}
static inline unsigned *
opt_ref_UINT(unsigned *p)
{
    return p;
}
static inline ssize_t *
opt_ref_MS(ssize_t *p)
{
    return p;
}
static inline size_t *
opt_ref_SIZE(size_t *p)
{
    return p;
}
static inline char *
opt_ref_STR(opt_STR_t *p)
{
    return *p;
}

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
parse_int(const char *v, size_t n, long long min, long long max, long long *r)
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
set_UINT(unsigned *dst, const char *v, size_t n, long long min, long long max)
{
    long long x;
    if (!parse_int(v, n, min, max, &x))
        return false;
    *dst = (unsigned)x;
    return true;
}

static bool
set_SIZE(size_t *dst, const char *v, size_t n, long long min, long long max)
{
    unsigned shift = 0;
    if (n > 1) {
        switch (v[n - 1]) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            break;
        }
    }
    long long x;
    if (!parse_int(v, shift ? n - 1 : n, 0, max, &x))
        return false;
    if (x > (max >> shift) || (x << shift) < min)
        return false;
    *dst = (size_t)x << shift;
    return true;
}

static bool
set_STR(char *dst, const char *v, size_t n, long long min, long long max)
{
    (void)min, (void)max;
    if (n >= OPT_STR_MAX)
        return false;
    memcpy(dst, v, n);
    dst[n] = '\0';
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
    if (kn == sizeof(#name) - 1 && memcmp(k, #name, kn) == 0) {                \
        if (!set_##type(opt_ref_##type(&opt_##name), v, vn, min, max))         \
            hs_warn("HEAPSIGHT: bad value \"%s\" for %s (ignored)", val, key); \
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
            apply(p, (size_t)(colon - p), colon + 1, (size_t)(end - colon - 1));
        }
        p = *end == ',' ? end + 1 : end;
    }
}

static void
reset_BOOL(bool *dst, bool def)
{
    *dst = def;
}

static void
reset_UINT(unsigned *dst, unsigned def)
{
    *dst = def;
}

static void
reset_MS(ssize_t *dst, ssize_t def)
{
    *dst = def;
}

static void
reset_SIZE(size_t *dst, size_t def)
{
    *dst = def;
}

static void
reset_STR(char *dst, const char *def)
{
    size_t n = strlen(def);
    memcpy(dst, def, n + 1);
}

void
opts_reset(void)
{
#define HS_OPT_RESET(type, name, def, min, max, doc)                           \
    reset_##type(opt_ref_##type(&opt_##name), def);
    HS_OPTIONS(HS_OPT_RESET)
#undef HS_OPT_RESET
}

void
opts_parse(void)
{
    const char *conf = secure_getenv("HEAPSIGHT");
    if (conf != NULL)
        opts_parse_string(conf);
}
