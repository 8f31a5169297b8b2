/*
 * it_util.h — small helpers shared by the integration and stress tests:
 * values the compiler cannot see through, fill/check patterns, and the
 * errno expectation.
 *
 * Owns nothing but these static inline helpers.  Patterns: byte i of a
 * block filled by it_fill(p, n, seed) is it_pattern_byte(seed, i); so a
 * block can be checked without remembering its contents.
 */
#ifndef IT_UTIL_H
#define IT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Hides a value from the optimizer (no constant folding of huge sizes). */
static inline size_t
it_opaque(size_t v)
{
    __asm__ volatile("" : "+r"(v));
    return v;
}

static inline void *
it_opaque_ptr(void *p)
{
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

/* Word k of the pattern with this seed. */
static inline uint64_t
it_pattern_word(uint64_t seed, size_t k)
{
    uint64_t x = (seed ^ 0x5851f42d4c957f2dull) + (uint64_t)k;
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 31) ^ (seed << 7);
}

/* Byte i of the pattern: byte i % 8 (in memory order) of word i / 8. */
static inline unsigned char
it_pattern_byte(uint64_t seed, size_t i)
{
    uint64_t w = it_pattern_word(seed, i / 8);
    unsigned char b[8];
    memcpy(b, &w, sizeof b);
    return b[i % 8];
}

/* Writes bytes [from, to) of the pattern into p[from..to). */
static inline void
it_fill_range(void *p, size_t from, size_t to, uint64_t seed)
{
    unsigned char *b = p;
    size_t i = from;
    for (; i < to && i % 8 != 0; i++)
        b[i] = it_pattern_byte(seed, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = it_pattern_word(seed, i / 8);
        memcpy(b + i, &w, 8);
    }
    for (; i < to; i++)
        b[i] = it_pattern_byte(seed, i);
}

static inline void
it_fill(void *p, size_t n, uint64_t seed)
{
    it_fill_range(p, 0, n, seed);
}

/* Returns the index of the first byte that differs, or n if none. */
static inline size_t
it_check(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = it_pattern_word(seed, i / 8), got;
        memcpy(&got, b + i, 8);
        if (got != w)
            break;
    }
    for (; i < n; i++) {
        if (b[i] != it_pattern_byte(seed, i))
            return i;
    }
    return n;
}

/* Returns the index of the first byte that is not c, or n if none. */
static inline size_t
it_check_byte(const void *p, size_t n, unsigned char c)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != c)
            return i;
    }
    return n;
}

static inline bool
it_is_aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* splitmix64: a small deterministic generator for the randomized tests. */
static inline uint64_t
it_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Checks errno (copied first, so a failure message reads "errno"). */
#define IT_EXPECT_ERRNO(want)                                                  \
    do {                                                                       \
        int errno_now = errno;                                                 \
        HS_EXPECT_EQ_INT(errno_now, (want));                                   \
    } while (0)

/* Reads a small /proc file into buf (NUL-terminated); false if it cannot. */
static inline bool
it_read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* The process's resident bytes, from /proc/self/statm (0 if unreadable). */
static inline size_t
it_rss_bytes(void)
{
    char buf[128];
    unsigned long size, resident;
    if (!it_read_proc("/proc/self/statm", buf, sizeof buf) ||
        sscanf(buf, "%lu %lu", &size, &resident) != 2)
        return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* The kB value of key (e.g. "LazyFree:") in /proc/self/smaps_rollup;
 * 0 if absent. */
static inline size_t
it_smaps_kb(const char *key)
{
    char buf[4096];
    unsigned long kb = 0;
    if (!it_read_proc("/proc/self/smaps_rollup", buf, sizeof buf))
        return 0;
    const char *p = strstr(buf, key);
    if (p != NULL)
        sscanf(p + strlen(key), " %lu", &kb);
    return (size_t)kb;
}

#endif /* IT_UTIL_H */
