/*
 * attach_chan.c — the command's side of the attach channel (see
 * attach_chan.h and alloc/util/attach_proto.h).
 *
 * What /proc tells before anything is sent: status (Uid: the effective
 * uid is the second; SigCgt: the caught signals, bit n-1 for signal n;
 * NSpid: the last is the pid in the process's own namespace), maps (is
 * libheapsight loaded), environ (the HEAPSIGHT it started with).  A
 * process whose maps or environ cannot be read is given the benefit of
 * the doubt; one whose SigCgt lacks the signal never gets it.
 */
#include "attach_chan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../alloc/util/signame.h"
#include "cmd.h"
#include "outfile.h"

/* How often a reply is looked for. */
#define ATTACH_POLL_NS 5000000L
/* A request left this long (seconds) by a command that went away is
 * stale and may be replaced. */
#define ATTACH_STALE_S 10
/* A file in the directory: the directory's path, '/', a name. */
#define CHAN_PATH_MAX (PATH_MAX + 72)

/* ---- what /proc says ---- */

typedef struct proc_status_s {
    long uid;         /* effective; -1: not read */
    long own_pid;     /* NSpid's last */
    uint64_t sig_cgt; /* caught signals */
} proc_status_t;

/* The last of the numbers in s (0 if none). */
static long
last_number(const char *s)
{
    long v = 0;
    for (char *end; *s != '\0'; s = end) {
        long x = strtol(s, &end, 10);
        if (end == s)
            break;
        v = x;
    }
    return v;
}

static bool
proc_status(long pid, proc_status_t *st)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    *st = (proc_status_t){.uid = -1, .own_pid = pid};
    while (fgets(line, sizeof line, f) != NULL) {
        long real;
        if (sscanf(line, "Uid: %ld %ld", &real, &st->uid) == 2)
            continue;
        if (strncmp(line, "SigCgt:", 7) == 0)
            st->sig_cgt = strtoull(line + 7, NULL, 16);
        else if (strncmp(line, "NSpid:", 6) == 0)
            st->own_pid = last_number(line + 6);
    }
    fclose(f);
    return st->uid >= 0;
}

/* 1 if libheapsight is mapped in pid, 0 if not, -1 if unknown. */
static int
proc_has_lib(long pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%ld/maps", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, "libheapsight") != NULL;
    fclose(f);
    return found;
}

/* The last prof_attach_signal in HEAPSIGHT=... of env, into out. */
static void
heapsight_signal(const char *env, char *out, size_t size)
{
    static const char key[] = "prof_attach_signal:";
    for (const char *p = env; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n > sizeof key - 1 && strncmp(p, key, sizeof key - 1) == 0)
            snprintf(out, size, "%.*s", (int)(n - (sizeof key - 1)),
                     p + sizeof key - 1);
        p = comma != NULL ? comma + 1 : NULL;
    }
}

/* prof_attach_signal as pid started with it, into out ("" if unset or
 * unreadable). */
static void
proc_signal_opt(long pid, char *out, size_t size)
{
    char path[64], *env = NULL;
    size_t cap = 0;
    out[0] = '\0';
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    while (getdelim(&env, &cap, '\0', f) > 0)
        if (strncmp(env, "HEAPSIGHT=", 10) == 0)
            heapsight_signal(env + 10, out, size);
    free(env);
    fclose(f);
}

/* ---- the checks ---- */

/* kill(pid, 0): -1 to go on, else the exit status after a line. */
static int
probe_alive(long pid)
{
    if (pid > 0 && kill((pid_t)pid, 0) == 0)
        return -1;
    if (pid <= 0 || errno == ESRCH)
        cmd_error("attach: no process %ld", pid);
    else if (errno == EPERM)
        cmd_error("attach: process %ld belongs to another user (only your "
                  "own processes can be attached, or any as root)",
                  pid);
    else
        cmd_error("attach: process %ld: %s", pid, strerror(errno));
    return CMD_EXIT_FAIL;
}

/* The signal to send, into t: --signal, else the process's option, else
 * the default.  -1 to go on, else the exit status. */
static int
probe_signal(long pid, const char *signame, attach_target_t *t)
{
    char opt[40];
    proc_signal_opt(pid, opt, sizeof opt);
    const char *name = signame != NULL  ? signame
                       : opt[0] != '\0' ? opt
                                        : ATTACH_SIGNAL_DEFAULT;
    t->sig = hs_signal_number(name);
    snprintf(t->sig_name, sizeof t->sig_name, "%s%s",
             strncmp(name, "SIG", 3) == 0 ? "" : "SIG", name);
    if (t->sig != 0 && t->sig <= 64)
        return -1;
    cmd_error("attach: unknown signal '%s'%s", name,
              signame != NULL ? "" : " in the process's prof_attach_signal");
    return signame != NULL ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
}

int
attach_probe(long pid, const char *signame, attach_target_t *t)
{
    proc_status_t st;
    int status = probe_alive(pid);
    if (status >= 0)
        return status;
    if (!proc_status(pid, &st)) {
        cmd_error("attach: no process %ld", pid);
        return CMD_EXIT_FAIL;
    }
    if ((unsigned)st.uid != getuid() && getuid() != 0) {
        cmd_error("attach: process %ld runs as another user (uid %ld)", pid,
                  st.uid);
        return CMD_EXIT_FAIL;
    }
    *t = (attach_target_t){
        .pid = pid, .own_pid = st.own_pid, .uid = (unsigned)st.uid};
    if (proc_has_lib(pid) == 0) {
        cmd_error("attach: process %ld does not have libheapsight.so "
                  "loaded (start it with LD_PRELOAD=libheapsight.so "
                  "HEAPSIGHT=prof:true,prof_active:false)",
                  pid);
        return CMD_EXIT_FAIL;
    }
    if ((status = probe_signal(pid, signame, t)) >= 0)
        return status;
    if ((st.sig_cgt >> (t->sig - 1) & 1) == 0) {
        cmd_error("attach: process %ld does not listen for heapsight attach "
                  "on %s: is libheapsight.so preloaded with "
                  "prof:true,prof_active:false?",
                  pid, t->sig_name);
        return CMD_EXIT_FAIL;
    }
    return -1;
}

/* ---- the directory ---- */

/* The directory as reached through /proc/<pid>/root when that can be
 * used (the process's own /tmp), else as here. */
static void
chan_path(attach_target_t *t)
{
    char root[64], name[32];
    snprintf(root, sizeof root, "/proc/%ld/root" ATTACH_DIR_PARENT, t->pid);
    snprintf(name, sizeof name, ATTACH_DIR_NAME_FMT, t->uid);
    snprintf(t->dir, sizeof t->dir, "%s/%s",
             access(root, X_OK) == 0 ? root : ATTACH_DIR_PARENT, name);
}

int
attach_chan_open(attach_target_t *t)
{
    struct stat st;
    chan_path(t);
    if (mkdir(t->dir, 0700) == 0 && getuid() == 0 && t->uid != 0 &&
        lchown(t->dir, t->uid, (gid_t)-1) != 0)
        rmdir(t->dir);
    if (lstat(t->dir, &st) != 0) {
        cmd_error("attach: cannot create %s: %s", t->dir, strerror(errno));
        return CMD_EXIT_FAIL;
    }
    if (S_ISDIR(st.st_mode) && st.st_uid == t->uid && (st.st_mode & 077) == 0)
        return -1;
    cmd_error("attach: %s must be a directory of uid %u with mode 0700 (it "
              "is %s of uid %u, mode %04o): remove it",
              t->dir, t->uid, S_ISDIR(st.st_mode) ? "a directory" : "a file",
              (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    return CMD_EXIT_FAIL;
}

/* ---- one request ---- */

/* "<dir>/<name formatted with the process's pid>". */
static void
chan_file(const attach_target_t *t, const char *fmt, char *out, size_t size)
{
    char name[64];
    snprintf(name, sizeof name, fmt, (int)t->own_pid);
    snprintf(out, size, "%s/%s", t->dir, name);
}

/* A fresh token: this command's pid, the time, a count. */
static void
new_token(char *out, size_t size)
{
    static unsigned count;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, size, "%ld.%lld.%09ld.%u", (long)getpid(),
             (long long)ts.tv_sec, ts.tv_nsec, count++);
}

/* Writes text to a new file at path, mode 0600, owned by uid; 0 or an
 * errno value. */
static int
write_new(const char *path, const char *text, unsigned uid)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    size_t len = strlen(text);
    int e = write(fd, text, len) == (ssize_t)len ? 0 : errno ? errno : EIO;
    if (e == 0 && getuid() == 0 && uid != 0 && fchown(fd, uid, -1) != 0)
        e = errno;
    close(fd);
    if (e != 0)
        unlink(path);
    return e;
}

/* Links tmp to req, replacing a stale request; 0, EBUSY or an errno. */
static int
link_request(const char *tmp, const char *req)
{
    struct stat st;
    if (link(tmp, req) == 0)
        return 0;
    if (errno != EEXIST)
        return errno;
    if (lstat(req, &st) == 0 && time(NULL) - st.st_mtime < ATTACH_STALE_S)
        return EBUSY;
    unlink(req);
    return link(tmp, req) == 0 ? 0 : errno == EEXIST ? EBUSY : errno;
}

/* The text of q with id. */
static void
request_text(const attach_req_t *q, const char *id, char *out, size_t size)
{
    int n = snprintf(out, size, "%s\nid %s\nop %s\nlease_ms %u\n", ATTACH_MAGIC,
                     id, q->op, q->lease_ms);
    if (q->session != NULL)
        n += snprintf(out + n, size - (size_t)n, "session %s\n", q->session);
    if (q->sample != 0)
        snprintf(out + n, size - (size_t)n, "sample %llu\n",
                 (unsigned long long)q->sample);
}

/* The thread id of the process's listener (named ATTACH_THREAD_NAME), or
 * 0 if none is found. */
static long
listener_tid(long pid)
{
    char path[96], comm[32];
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    long tid = 0;
    for (struct dirent *e; tid == 0 && d != NULL && (e = readdir(d)) != NULL;) {
        snprintf(path, sizeof path, "/proc/%ld/task/%.20s/comm", pid,
                 e->d_name);
        FILE *f = e->d_name[0] != '.' ? fopen(path, "re") : NULL;
        if (f != NULL && fgets(comm, sizeof comm, f) != NULL &&
            strcmp(comm, ATTACH_THREAD_NAME "\n") == 0)
            tid = strtol(e->d_name, NULL, 10);
        if (f != NULL)
            fclose(f);
    }
    if (d != NULL)
        closedir(d);
    return tid;
}

/*
 * Signals the listener thread itself when it can be found, so that no
 * other thread of the process has a system call interrupted by the
 * signal; else the process.  0 or -1 with errno.
 */
static int
signal_listener(const attach_target_t *t)
{
    long tid = listener_tid(t->pid);
    if (tid != 0 && syscall(SYS_tgkill, (pid_t)t->pid, (pid_t)tid, t->sig) == 0)
        return 0;
    return kill((pid_t)t->pid, t->sig);
}

/* Writes the request and signals the process; 0 or an errno value. */
static int
send_request(const attach_target_t *t, const attach_req_t *q, const char *id)
{
    char req[CHAN_PATH_MAX], tmp[CHAN_PATH_MAX + 32], rep[CHAN_PATH_MAX];
    char text[ATTACH_MSG_MAX];
    chan_file(t, ATTACH_REQ_FMT, req, sizeof req);
    chan_file(t, ATTACH_REP_FMT, rep, sizeof rep);
    snprintf(tmp, sizeof tmp, "%s.%ld", req, (long)getpid());
    request_text(q, id, text, sizeof text);
    unlink(rep);
    unlink(tmp);
    int e = write_new(tmp, text, t->uid);
    if (e == 0)
        e = link_request(tmp, req);
    unlink(tmp);
    if (e == 0 && signal_listener(t) != 0)
        e = errno;
    return e;
}

/* One "key value" line of a reply into r. */
static void
reply_line(attach_reply_t *r, char *line)
{
    char *v = strchr(line, ' ');
    if (v == NULL)
        return;
    *v++ = '\0';
    if (strcmp(line, "id") == 0)
        snprintf(r->id, sizeof r->id, "%s", v);
    else if (strcmp(line, "status") == 0)
        r->ok = strcmp(v, "ok") == 0;
    else if (strcmp(line, "message") == 0)
        snprintf(r->message, sizeof r->message, "%s", v);
    else if (strcmp(line, "file") == 0 && r->nfiles < ATTACH_REPLY_FILES &&
             sscanf(v, "%15s %63s", r->files[r->nfiles].trigger,
                    r->files[r->nfiles].name) == 2)
        r->nfiles++;
}

/* Reads the reply file into r; true if there is one from uid. */
static bool
read_reply(const attach_target_t *t, attach_reply_t *r)
{
    char path[CHAN_PATH_MAX], text[ATTACH_MSG_MAX + 1];
    struct stat st;
    chan_file(t, ATTACH_REP_FMT, path, sizeof path);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == t->uid &&
        st.st_size <= ATTACH_MSG_MAX)
        n = read(fd, text, ATTACH_MSG_MAX);
    close(fd);
    if (n < 0 || strncmp(text, ATTACH_MAGIC "\n", sizeof ATTACH_MAGIC) != 0)
        return false;
    text[n] = '\0';
    *r = (attach_reply_t){.ok = false};
    for (char *save, *l = strtok_r(text, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save))
        reply_line(r, l);
    return true;
}

int
attach_request(const attach_target_t *t, const attach_req_t *q, int timeout_ms,
               attach_reply_t *r)
{
    char id[ATTACH_TOKEN_MAX], req[CHAN_PATH_MAX];
    new_token(id, sizeof id);
    int e = send_request(t, q, id);
    if (e != 0)
        return e;
    struct timespec nap = {0, ATTACH_POLL_NS};
    for (long waited = 0; waited < timeout_ms * 1000000L;
         waited += ATTACH_POLL_NS) {
        if (read_reply(t, r) && strcmp(r->id, id) == 0) {
            chan_file(t, ATTACH_REP_FMT, req, sizeof req);
            unlink(req);
            return 0;
        }
        if (kill((pid_t)t->pid, 0) != 0 && errno == ESRCH)
            return ESRCH;
        nanosleep(&nap, NULL);
    }
    chan_file(t, ATTACH_REQ_FMT, req, sizeof req);
    unlink(req); /* not left for a later command to trip over */
    return ETIMEDOUT;
}

/* ---- the dumps ---- */

/* Whether name is a dump's name as the listener makes them. */
static bool
dump_name_ok(const char *name)
{
    if (name[0] == '\0' || name[0] == '.')
        return false;
    for (const char *p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '.'))
            return false;
    return strstr(name, ".pb.gz") != NULL;
}

/* Copies src to the new file path (0600); 0 or an errno value. */
static int
copy_file(const char *src, const char *path)
{
    FILE *f = fopen(src, "rbe");
    if (f == NULL)
        return errno;
    char *data = NULL;
    size_t cap = 0, len = 0, n;
    int e = 0;
    do {
        if (len == cap && (data = realloc(data, cap = cap * 2 + 65536)) == NULL)
            e = ENOMEM;
        n = e == 0 ? fread(data + len, 1, cap - len, f) : 0;
        len += n;
    } while (n > 0);
    if (e == 0 && ferror(f))
        e = EIO;
    fclose(f);
    int fd =
        e == 0 ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    if (e == 0 && fd < 0)
        e = errno;
    if (fd >= 0)
        close(fd); /* outfile_write keeps the mode of what is there */
    if (e == 0)
        e = outfile_write(path, data, len);
    free(data);
    return e;
}

int
attach_take(const attach_target_t *t, const char *name, const char *path)
{
    char src[CHAN_PATH_MAX];
    if (!dump_name_ok(name))
        return EINVAL;
    snprintf(src, sizeof src, "%s/%s", t->dir, name);
    if (rename(src, path) == 0)
        return 0;
    if (errno != EXDEV)
        return errno;
    int e = copy_file(src, path);
    unlink(src);
    return e;
}
