/*
 * opts.c — unit tests of alloc/opts: opts_parse_string sets every option
 * type (BOOL, UINT, MS) within its bounds; a bad value or an unknown key
 * leaves every option as it was and prints exactly one warning line on
 * stderr that names the key; several pairs apply independently.
 *
 * stderr is captured by dup2 onto a temporary file.  Every test restores
 * the defaults of the option table.  Nothing is booted.
 */
#include "hs_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"

static void
restore_defaults(void)
{
    opts_reset();
}

typedef struct optvals_s {
    bool stats_print, tcache;
    unsigned narenas;
    ssize_t dirty_decay_ms;
} optvals_t;

static optvals_t
current(void)
{
    return (optvals_t){opt_stats_print, opt_tcache, opt_narenas,
                       opt_dirty_decay_ms};
}

static void
expect_same(optvals_t a, optvals_t b)
{
    HS_EXPECT_EQ_INT(a.stats_print, b.stats_print);
    HS_EXPECT_EQ_INT(a.tcache, b.tcache);
    HS_EXPECT_EQ_U64(a.narenas, b.narenas);
    HS_EXPECT_EQ_INT(a.dirty_decay_ms, b.dirty_decay_ms);
}

/* Parses conf with stderr captured into out (NUL-terminated). */
static void
parse_captured(const char *conf, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *tmp = tmpfile();
    if (tmp == NULL) {
        HS_FAIL("tmpfile failed");
        return;
    }
    int fd = fileno(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    opts_parse_string(conf);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    HS_EXPECT_EQ_U64((uint64_t)len, n);
    fclose(tmp);
}

static size_t
count_lines(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* Parses conf, which must change nothing and warn once naming key. */
static void
expect_rejected(const char *conf, const char *key)
{
    optvals_t before = current();
    char err[2048];
    parse_captured(conf, err, sizeof err);
    expect_same(current(), before);
    HS_EXPECT_EQ_SIZE(count_lines(err), 1);
    if (strncmp(err, "heapsight: warning: ", 20) != 0)
        HS_FAIL("conf \"%s\": warning \"%s\" lacks the prefix", conf, err);
    if (strstr(err, key) == NULL)
        HS_FAIL("conf \"%s\": warning \"%s\" does not name %s", conf, err, key);
}

/* Parses conf, which must print nothing. */
static void
expect_quiet(const char *conf)
{
    char err[2048];
    parse_captured(conf, err, sizeof err);
    HS_EXPECT_EQ_STR(err, "");
}

HS_TEST(defaults)
{
    restore_defaults();
    HS_EXPECT_FALSE(opt_stats_print);
    HS_EXPECT_TRUE(opt_tcache);
    HS_EXPECT_EQ_U64(opt_narenas, 0);
    HS_EXPECT_EQ_INT(opt_dirty_decay_ms, 10000);
    expect_quiet("");
    expect_quiet(",,,");
    optvals_t d = current();
    expect_same(d, current());
}

HS_TEST(bool_options)
{
    restore_defaults();
    expect_quiet("stats_print:true");
    HS_EXPECT_TRUE(opt_stats_print);
    expect_quiet("tcache:false");
    HS_EXPECT_FALSE(opt_tcache);
    expect_quiet("tcache:true,stats_print:false");
    HS_EXPECT_TRUE(opt_tcache);
    HS_EXPECT_FALSE(opt_stats_print);
    restore_defaults();
}

HS_TEST(uint_option)
{
    restore_defaults();
    expect_quiet("narenas:12");
    HS_EXPECT_EQ_U64(opt_narenas, 12);
    expect_quiet("narenas:0");
    HS_EXPECT_EQ_U64(opt_narenas, 0);
    expect_quiet("narenas:1024");
    HS_EXPECT_EQ_U64(opt_narenas, 1024);
    expect_quiet("narenas:007");
    HS_EXPECT_EQ_U64(opt_narenas, 7);
    restore_defaults();
}

HS_TEST(ms_option)
{
    restore_defaults();
    expect_quiet("dirty_decay_ms:0");
    HS_EXPECT_EQ_INT(opt_dirty_decay_ms, 0);
    expect_quiet("dirty_decay_ms:-1");
    HS_EXPECT_EQ_INT(opt_dirty_decay_ms, -1);
    expect_quiet("dirty_decay_ms:86400000");
    HS_EXPECT_EQ_INT(opt_dirty_decay_ms, 86400000);
    expect_quiet("dirty_decay_ms:250");
    HS_EXPECT_EQ_INT(opt_dirty_decay_ms, 250);
    restore_defaults();
}

HS_TEST(several_pairs_and_last_wins)
{
    restore_defaults();
    expect_quiet("tcache:false,narenas:3,dirty_decay_ms:250,stats_print:true");
    HS_EXPECT_FALSE(opt_tcache);
    HS_EXPECT_EQ_U64(opt_narenas, 3);
    HS_EXPECT_EQ_INT(opt_dirty_decay_ms, 250);
    HS_EXPECT_TRUE(opt_stats_print);
    expect_quiet("narenas:5,narenas:9,");
    HS_EXPECT_EQ_U64(opt_narenas, 9);
    restore_defaults();
}

HS_TEST(bad_values_keep_the_old_value_and_warn)
{
    restore_defaults();
    opt_narenas = 6;
    expect_rejected("tcache:yes", "tcache");
    expect_rejected("tcache:TRUE", "tcache");
    expect_rejected("tcache:1", "tcache");
    expect_rejected("stats_print:", "stats_print");
    expect_rejected("stats_print", "stats_print");
    expect_rejected("tcache:truex", "tcache");
    expect_rejected("narenas:-1", "narenas");
    expect_rejected("narenas:1025", "narenas");
    expect_rejected("narenas:abc", "narenas");
    expect_rejected("narenas:12a", "narenas");
    expect_rejected("narenas: 12", "narenas");
    expect_rejected("narenas:+12", "narenas");
    expect_rejected("narenas:", "narenas");
    expect_rejected("narenas:-", "narenas");
    expect_rejected("narenas:99999999999999999999999", "narenas");
    expect_rejected("narenas:4294967297", "narenas");
    /* 20 digits that wrap a 64-bit accumulator to a small value. */
    expect_rejected("narenas:18446744073709551617", "narenas");
    expect_rejected("dirty_decay_ms:18446744073709551615", "dirty_decay_ms");
    expect_rejected("dirty_decay_ms:-2", "dirty_decay_ms");
    expect_rejected("dirty_decay_ms:86400001", "dirty_decay_ms");
    expect_rejected("dirty_decay_ms:1.5", "dirty_decay_ms");
    expect_rejected("dirty_decay_ms:-9223372036854775808", "dirty_decay_ms");
    HS_EXPECT_EQ_U64(opt_narenas, 6);
    HS_EXPECT_EQ_INT(opt_dirty_decay_ms, 10000);
    HS_EXPECT_TRUE(opt_tcache);
    HS_EXPECT_FALSE(opt_stats_print);
    /* The warning quotes the bad value too. */
    char err[512];
    parse_captured("narenas:lots", err, sizeof err);
    HS_EXPECT_NOT_NULL(strstr(err, "\"lots\""));
    restore_defaults();
}

HS_TEST(unknown_keys_warn_and_change_nothing)
{
    restore_defaults();
    expect_rejected("bogus:1", "bogus");
    expect_rejected("narena:4", "narena");
    expect_rejected("narenasx:4", "narenasx");
    expect_rejected("Tcache:false", "Tcache");
    expect_rejected(":5", "unknown option");
    expect_rejected("justakey", "justakey");
    /* A very long key is named (truncated) on one line. */
    char conf[300];
    memset(conf, 'k', 200);
    strcpy(conf + 200, ":1");
    expect_rejected(conf, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
}

HS_TEST(one_warning_per_bad_pair)
{
    restore_defaults();
    char err[2048];
    parse_captured("bogus:1,narenas:5,tcache:maybe,dirty_decay_ms:20", err,
                   sizeof err);
    HS_EXPECT_EQ_SIZE(count_lines(err), 2);
    HS_EXPECT_NOT_NULL(strstr(err, "bogus"));
    HS_EXPECT_NOT_NULL(strstr(err, "tcache"));
    /* The good pairs around the bad ones still apply. */
    HS_EXPECT_EQ_U64(opt_narenas, 5);
    HS_EXPECT_EQ_INT(opt_dirty_decay_ms, 20);
    HS_EXPECT_TRUE(opt_tcache);
    restore_defaults();
}

HS_TEST_MAIN()
