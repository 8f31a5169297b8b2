/*
 * dumpfile.c — unit tests of prof/dumpfile: the contents arrive whole,
 * mode 0600 whatever the umask, an existing file is replaced, a symlink at
 * the final name is replaced (its target untouched), symlinks planted at
 * the temporary names are refused (O_EXCL|O_NOFOLLOW), a failing writer
 * leaves neither a temporary nor a changed target, and bad paths give
 * EINVAL, ENOENT or ENAMETOOLONG.  Each test works in its own mkdtemp
 * directory.
 */
#include "hs_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dumpfile.h"

typedef struct content_s {
    const char *text;
    int fail_with; /* returned after writing text, if not 0 */
    off_t offset_seen;
} content_t;

static int
write_content(int fd, void *arg)
{
    content_t *c = arg;
    c->offset_seen = lseek(fd, 0, SEEK_CUR);
    size_t n = strlen(c->text);
    if (write(fd, c->text, n) != (ssize_t)n)
        return errno;
    return c->fail_with;
}

static void
make_dir(char *dir)
{
    strcpy(dir, "/tmp/hs_dumpfile.XXXXXX");
    if (mkdtemp(dir) == NULL)
        dir[0] = '\0';
}

static void
join(char *out, const char *dir, const char *name)
{
    snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

/* The file's contents (static buffer), or "<missing>". */
static const char *
slurp(const char *path)
{
    static char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return "<missing>";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

/* Entries of dir other than . and .., and removes them all. */
static int
count_and_clean(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[PATH_MAX];
        join(p, dir, e->d_name);
        unlink(p);
        n++;
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
    return n;
}

HS_TEST(writes_whole_file_mode_0600)
{
    char dir[64], path[PATH_MAX];
    make_dir(dir);
    HS_ASSERT_NE_STR(dir, "");
    join(path, dir, "heapsight.123.0.manual.pb.gz");
    mode_t old = umask(0); /* 0600 must not depend on the umask */
    content_t c = {"hello, profile", 0, -1};
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &c), 0);
    umask(old);
    HS_EXPECT_EQ_INT(c.offset_seen, 0);
    HS_EXPECT_EQ_STR(slurp(path), "hello, profile");
    struct stat st;
    HS_ASSERT_EQ_INT(lstat(path, &st), 0);
    HS_EXPECT_TRUE(S_ISREG(st.st_mode));
    HS_EXPECT_EQ_U64(st.st_mode & 07777, 0600);
    HS_EXPECT_EQ_INT(count_and_clean(dir), 1); /* no temporary left */
}

HS_TEST(replaces_existing_file)
{
    char dir[64], path[PATH_MAX];
    make_dir(dir);
    join(path, dir, "out");
    content_t a = {"first", 0, 0}, b = {"second", 0, 0};
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &a), 0);
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &b), 0);
    HS_EXPECT_EQ_STR(slurp(path), "second");
    HS_EXPECT_EQ_INT(count_and_clean(dir), 1);
}

HS_TEST(never_writes_through_symlink)
{
    char dir[64], path[PATH_MAX], victim[PATH_MAX];
    make_dir(dir);
    join(path, dir, "out");
    join(victim, dir, "victim");
    content_t v = {"precious", 0, 0}, c = {"dump", 0, 0};
    HS_ASSERT_EQ_INT(dumpfile_write(victim, write_content, &v), 0);
    HS_ASSERT_EQ_INT(symlink(victim, path), 0);
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &c), 0);
    HS_EXPECT_EQ_STR(slurp(victim), "precious");
    struct stat st;
    HS_ASSERT_EQ_INT(lstat(path, &st), 0);
    HS_EXPECT_TRUE(S_ISREG(st.st_mode)); /* the link itself was replaced */
    HS_EXPECT_EQ_STR(slurp(path), "dump");
    HS_EXPECT_EQ_INT(count_and_clean(dir), 2);
}

/* Plants symlinks to victim at the next n temporary names of "out". */
static void
plant_links(const char *dir, const char *victim, unsigned from, unsigned n)
{
    for (unsigned i = from; i < from + n; i++) {
        char name[128], p[PATH_MAX];
        snprintf(name, sizeof name, ".out.%d.%u.tmp", (int)getpid(), i);
        join(p, dir, name);
        HS_EXPECT_EQ_INT(symlink(victim, p), 0);
    }
}

HS_TEST(refuses_planted_temporaries)
{
    char dir[64], path[PATH_MAX], victim[PATH_MAX];
    make_dir(dir);
    join(path, dir, "out");
    join(victim, dir, "victim");
    content_t v = {"precious", 0, 0}, c = {"dump", 0, 0};
    HS_ASSERT_EQ_INT(dumpfile_write(victim, write_content, &v), 0);
    /* Links at every temporary name the next call can try (the names
     * carry a process-wide counter, below 200 this early). */
    plant_links(dir, victim, 0, 200);
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &c), EEXIST);
    HS_EXPECT_EQ_STR(slurp(victim), "precious");
    HS_EXPECT_EQ_STR(slurp(path), "<missing>");
    HS_EXPECT_EQ_INT(count_and_clean(dir), 201); /* victim + links only */
}

HS_TEST(failed_writer_leaves_nothing)
{
    char dir[64], path[PATH_MAX];
    make_dir(dir);
    join(path, dir, "out");
    content_t c = {"partial", EIO, 0};
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &c), EIO);
    HS_EXPECT_EQ_STR(slurp(path), "<missing>");
    content_t good = {"old", 0, 0};
    HS_ASSERT_EQ_INT(dumpfile_write(path, write_content, &good), 0);
    c.fail_with = ENOSPC;
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &c), ENOSPC);
    HS_EXPECT_EQ_STR(slurp(path), "old"); /* the target is untouched */
    HS_EXPECT_EQ_INT(count_and_clean(dir), 1);
}

HS_TEST(relative_path)
{
    char dir[64], cwd[PATH_MAX];
    make_dir(dir);
    HS_ASSERT_NOT_NULL(getcwd(cwd, sizeof cwd));
    HS_ASSERT_EQ_INT(chdir(dir), 0);
    content_t c = {"here", 0, 0};
    HS_EXPECT_EQ_INT(dumpfile_write("rel.pb.gz", write_content, &c), 0);
    HS_EXPECT_EQ_STR(slurp("rel.pb.gz"), "here");
    HS_ASSERT_EQ_INT(chdir(cwd), 0);
    HS_EXPECT_EQ_INT(count_and_clean(dir), 1);
}

HS_TEST(bad_paths)
{
    content_t c = {"x", 0, 0};
    HS_EXPECT_EQ_INT(dumpfile_write(NULL, write_content, &c), EINVAL);
    HS_EXPECT_EQ_INT(dumpfile_write("", write_content, &c), EINVAL);
    HS_EXPECT_EQ_INT(dumpfile_write("/tmp/", write_content, &c), EINVAL);
    HS_EXPECT_EQ_INT(dumpfile_write("/tmp/x", NULL, &c), EINVAL);
    HS_EXPECT_EQ_INT(dumpfile_write("/nonexistent-hs-dir/x", write_content, &c),
                     ENOENT);
    char dir[64], path[PATH_MAX + 16];
    make_dir(dir);
    join(path, dir, "");
    memset(path + strlen(path), 'n', NAME_MAX + 1);
    path[strlen(dir) + 1 + NAME_MAX + 1] = '\0';
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &c), ENAMETOOLONG);
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &c), ENAMETOOLONG);
    /* The longest legal name still fits its temporary. */
    join(path, dir, "");
    memset(path + strlen(path), 'm', NAME_MAX);
    path[strlen(dir) + 1 + NAME_MAX] = '\0';
    HS_EXPECT_EQ_INT(dumpfile_write(path, write_content, &c), 0);
    HS_EXPECT_EQ_INT(count_and_clean(dir), 1);
}

HS_TEST_MAIN()
