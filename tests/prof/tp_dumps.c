/*
 * tp_dumps.c — dump triggers and dump files: prof.dump with a path and
 * with NULL, prof_final, prof_interval, prof_interval_ms, prof_gdump,
 * prof_signal, prof_max_dumps, the peak profile (prof_peak,
 * prof.dump_peak); file mode, symlinks, failed dumps.
 *
 * An hs_test program run by prof_test.py, one test per run (argv[1]),
 * with HEAPSIGHT (always prof_prefix:<TP_DIR>/tp plus the trigger under
 * test) and TP_DIR set by the driver, which also checks the names and
 * contents of what is left in TP_DIR after the process ended.
 *
 * Asynchronous triggers are waited for, never assumed: a test polls the
 * directory (up to 10 s) for the files it expects, so a slow machine
 * makes it slower, not wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "heapsight.h"
#include "heapsight_hook.h"
#include "hs_test.h"
#include "tp_util.h"

#define NOINLINE __attribute__((noinline))

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Polls until at least want files contain needle (or timeout_ms passes);
 * returns the last count. */
static unsigned
wait_files(const char *needle, unsigned want, long timeout_ms)
{
    unsigned n = tp_count_files(needle);
    for (long t = 0; n < want && t < timeout_ms; t += 10) {
        sleep_ms(10);
        n = tp_count_files(needle);
    }
    return n;
}

/* Waits until the count of files containing needle stops changing for
 * quiet_ms (at most timeout_ms); returns it. */
static unsigned
settle_files(const char *needle, long quiet_ms, long timeout_ms)
{
    unsigned n = tp_count_files(needle);
    long still = 0;
    for (long t = 0; still < quiet_ms && t < timeout_ms; t += 10) {
        sleep_ms(10);
        unsigned m = tp_count_files(needle);
        still = m == n ? still + 10 : 0;
        n = m;
    }
    return n;
}

static void *kept[1024];

NOINLINE void
tp_dump_site(void)
{
    for (int i = 0; i < 64; i++) {
        kept[i] = malloc(4096);
        tp_keep(kept[i]);
    }
}

static mode_t
mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_mode : 0;
}

/* ---- prof.dump ---- */

HS_TEST(manual)
{
    char path[4096], name[4096];
    umask(0); /* the dump must be 0600 whatever the umask */
    tp_dump_site();
    HS_EXPECT_EQ_INT(tp_dump(tp_path(path, sizeof(path), "given.pb.gz")), 0);
    HS_EXPECT_EQ_INT(mode_of(path) & 07777, 0600);
    HS_EXPECT_TRUE(S_ISREG(mode_of(path)));
    for (unsigned seq = 0; seq < 3; seq++) {
        HS_EXPECT_EQ_INT(tp_dump(NULL), 0);
        snprintf(name, sizeof(name), "tp.%d.%u.manual.pb.gz", (int)getpid(),
                 seq);
        HS_EXPECT_EQ_INT(mode_of(tp_path(path, sizeof(path), name)) & 07777,
                         0600);
    }
    HS_EXPECT_EQ_U64(tp_count_files(".manual.pb.gz"), 3);
    HS_EXPECT_EQ_U64(tp_count_temporaries(), 0);
    printf("pid %d\n", (int)getpid());
}

/* ---- prof_final: the dump is written after main returns ---- */

HS_TEST(final)
{
    tp_dump_site();
    HS_EXPECT_EQ_U64(tp_count_files(".final."), 0);
    printf("pid %d\n", (int)getpid());
}

/* ---- the peak: a base, a spike freed again, a later smaller rise ---- */

#define MIB (1024 * 1024)
static void *base_blocks[8], *spike_blocks[256], *after_blocks[24];

NOINLINE void
tp_peak_base(void)
{
    for (int i = 0; i < 8; i++)
        tp_keep(base_blocks[i] = malloc(MIB));
}

NOINLINE void
tp_peak_spike(int mib)
{
    for (int i = 0; i < mib; i++)
        tp_keep(spike_blocks[i] = malloc(MIB));
}

NOINLINE void
tp_peak_after(void)
{
    for (int i = 0; i < 24; i++)
        tp_keep(after_blocks[i] = malloc(MIB));
}

/* Run with prof_final (and prof_interval_ms:50 by one case): 8 MiB held,
 * a 200 MiB spike freed after 0.3 s, then 24 MiB more held to the end.
 * The peak profile must show 208 MiB with the spike's site in it; the
 * final one 32 MiB without it.  Also writes one on request, to a path,
 * while the spike is live ("request.pb.gz": 208 MiB too). */
HS_TEST(peak)
{
    char path[4096];
    tp_peak_base();
    tp_peak_spike(200);
    HS_EXPECT_EQ_INT(
        tp_ctl_set_str("prof.dump_peak",
                       tp_path(path, sizeof(path), "request.pb.gz")),
        0);
    sleep_ms(300);
    for (int i = 0; i < 200; i++)
        free(spike_blocks[i]);
    sleep_ms(300);
    tp_peak_after();
    sleep_ms(300);
    printf("pid %d\n", (int)getpid());
}

/* ---- prof_interval: run with prof_interval:1m, prof_sample:16k ---- */

HS_TEST(interval_bytes)
{
    /* 16 MiB allocated (and freed) in 4 KiB pieces: about 16 dumps. */
    for (int i = 0; i < 4096; i++) {
        void *p = malloc(4096);
        tp_keep(p);
        free(p);
    }
    unsigned n = settle_files(".interval.pb.gz", 500, 10000);
    printf("interval dumps: %u\n", n);
    HS_EXPECT_GE_U64(n, 6);
    HS_EXPECT_LE_U64(n, 40);
    HS_EXPECT_EQ_U64(tp_count_files(".timer."), 0);
}

/* ---- prof_interval_ms: run with prof_interval_ms:100 ---- */

HS_TEST(interval_ms)
{
    tp_dump_site();
    unsigned n = wait_files(".timer.pb.gz", 5, 10000);
    printf("timer dumps: %u\n", n);
    HS_EXPECT_GE_U64(n, 5);
}

/* ---- prof_gdump: run with prof_gdump:true, prof_sample:64k ---- */

static atomic_int gdump_phase;
static atomic_uint gdumps_in_phase[3];

static void
gdump_hook(const char *path, void *arg)
{
    (void)arg;
    if (strstr(path, ".gdump.") != NULL)
        atomic_fetch_add(&gdumps_in_phase[atomic_load(&gdump_phase)], 1);
}

/* Allocates mib MiB in 64 KiB blocks into kept (freed by drop_all). */
static void
grow(int mib)
{
    for (int i = 0; i < mib * 16; i++) {
        kept[i] = malloc(64 << 10);
        tp_keep(kept[i]);
    }
}

static void
drop_all(void)
{
    for (int i = 0; i < 1024; i++) {
        free(kept[i]);
        kept[i] = NULL;
    }
}

HS_TEST(gdump)
{
    HS_ASSERT_EQ_INT(hs_dump_hook_add(gdump_hook, NULL), 0);
    /* Phase 0: a first high of 16 MiB (reached within the rate limit's
     * second, so it may not all be dumped at once). */
    grow(16);
    sleep_ms(1300);
    drop_all();
    settle_files(".gdump.", 300, 5000);
    /* Phase 1: 8 MiB, below the high of phase 0: no new high, no dump. */
    atomic_store(&gdump_phase, 1);
    grow(8);
    sleep_ms(1300);
    drop_all();
    settle_files(".gdump.", 300, 5000);
    /* Phase 2: 32 MiB, a new high. */
    atomic_store(&gdump_phase, 2);
    grow(32);
    unsigned before = atomic_load(&gdumps_in_phase[2]);
    for (int t = 0; t < 1000 && before == 0; t++) {
        sleep_ms(10);
        before = atomic_load(&gdumps_in_phase[2]);
    }
    drop_all();
    unsigned in_phase[3];
    for (int i = 0; i < 3; i++)
        in_phase[i] = atomic_load(&gdumps_in_phase[i]);
    printf("gdumps: phase 0 %u, phase 1 %u, phase 2 %u\n", in_phase[0],
           in_phase[1], in_phase[2]);
    HS_EXPECT_GE_U64(in_phase[0], 1);
    HS_EXPECT_EQ_U64(in_phase[1], 0); /* 8 MiB < 16 MiB: not a new high */
    HS_EXPECT_GE_U64(in_phase[2], 1);
    HS_EXPECT_EQ_INT(hs_dump_hook_remove(gdump_hook, NULL), 0);
}

/* ---- prof_signal: run with prof_signal:USR2; the driver signals ---- */

HS_TEST(signal)
{
    tp_dump_site();
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    unsigned n = wait_files(".signal.pb.gz", 1, 10000);
    HS_EXPECT_EQ_U64(n, 1);
    printf("signal dumps: %u\n", n);
}

/* ---- prof_max_dumps: run with prof_max_dumps:3 ---- */

HS_TEST(max_dumps)
{
    tp_dump_site();
    HS_EXPECT_EQ_INT(tp_dump_named("explicit.pb.gz"), 0);
    for (int i = 0; i < 10; i++)
        HS_EXPECT_EQ_INT(tp_dump(NULL), 0);
    HS_EXPECT_EQ_U64(tp_count_files(".manual.pb.gz"), 3);
    HS_EXPECT_EQ_U64(tp_count_files("explicit.pb.gz"), 1);
    printf("pid %d\n", (int)getpid());
}

/* ---- symlinks at the target name ---- */

static void
write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, text, strlen(text));
        (void)w;
        close(fd);
    }
}

static bool
file_is(const char *path, const char *text)
{
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return strcmp(buf, text) == 0;
}

/* dumpfile.h: "rename replaces a symlink at the final name rather than
 * writing through it" — the link is gone, a 0600 file in its place, and
 * the file it pointed to is untouched. */
HS_TEST(symlink)
{
    char victim[4096], link[4096], name[256];
    tp_dump_site();
    tp_path(victim, sizeof(victim), "victim");
    write_file(victim, "precious");
    HS_ASSERT_EQ_INT(symlink(victim, tp_path(link, sizeof(link), "link.pb.gz")),
                     0);
    HS_EXPECT_EQ_INT(tp_dump(link), 0);
    HS_EXPECT_TRUE(S_ISREG(mode_of(link)));
    HS_EXPECT_EQ_INT(mode_of(link) & 07777, 0600);
    HS_EXPECT_TRUE(file_is(victim, "precious"));
    /* The same at an automatic name (the first: sequence 0). */
    snprintf(name, sizeof(name), "tp.%d.0.manual.pb.gz", (int)getpid());
    HS_ASSERT_EQ_INT(symlink(victim, tp_path(link, sizeof(link), name)), 0);
    HS_EXPECT_EQ_INT(tp_dump(NULL), 0);
    HS_EXPECT_TRUE(S_ISREG(mode_of(link)));
    HS_EXPECT_TRUE(file_is(victim, "precious"));
    /* A dangling symlink: not followed to create its target either. */
    char dangling[4096];
    tp_path(dangling, sizeof(dangling), "created-through-link");
    HS_ASSERT_EQ_INT(
        symlink(dangling, tp_path(link, sizeof(link), "dangling.pb.gz")), 0);
    HS_EXPECT_EQ_INT(tp_dump(link), 0);
    HS_EXPECT_TRUE(S_ISREG(mode_of(link)));
    HS_EXPECT_EQ_INT(mode_of(dangling), 0);
    HS_EXPECT_EQ_U64(tp_count_temporaries(), 0);
}

/* ---- failed dumps: the driver points prof_prefix at a missing or a
 * read-only directory, with prof_final:true ---- */

/* As root, directory permissions do not bind: become nobody first. */
static void
drop_root(void)
{
    if (geteuid() != 0 || getenv("TP_DROP_ROOT") == NULL)
        return;
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
        hs_test_fail(__FILE__, __LINE__, "cannot drop root: %s",
                     strerror(errno));
}

HS_TEST(dump_fail)
{
    drop_root();
    tp_dump_site();
    int e1 = tp_dump(NULL), e2 = tp_dump(NULL);
    HS_EXPECT_NE_INT(e1, 0);
    HS_EXPECT_NE_INT(e2, 0);
    printf("program output: dumps failed with %d and %d\n", e1, e2);
}

HS_TEST_MAIN()
