/*
 * names.c — the label and domain tables, thread labels and pairs (see
 * names.h).
 *
 * Linear search: both tables are small and interning is rare (once per
 * thread, once per domain).  Strings are copied with malloc, which is
 * heapsight itself and unsampled under the caller's reentrancy guard.
 */
#include "names.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../alloc/tsd.h"
#include "../alloc/util/fmt.h"
#include "../alloc/util/mutex.h"

typedef struct names_table_s {
    const char **names;
    unsigned cap;
    _Atomic(unsigned) count; /* published after the name is stored */
} names_table_t;

static const char *label_store[NAMES_MAX_LABELS];
static const char *domain_store[NAMES_MAX_DOMAINS] = {"malloc"};
static names_table_t labels = {label_store, NAMES_MAX_LABELS, 1};
static names_table_t domains = {domain_store, NAMES_MAX_DOMAINS, 1};
static hs_mutex_t names_mtx;

void
names_boot(void)
{
    hs_mutex_init(&names_mtx, HS_RANK_PROF);
    label_store[0] = "unknown";
}

static unsigned
names_find(names_table_t *t, const char *name)
{
    unsigned n = atomic_load_explicit(&t->count, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(t->names[i], name) == 0)
            return i;
    return 0;
}

static unsigned
names_intern(names_table_t *t, const char *name)
{
    if (name == NULL)
        return 0;
    unsigned id = names_find(t, name);
    if (id != 0 || strcmp(t->names[0], name) == 0)
        return id;
    tsd_reentrancy_enter();
    hs_mutex_lock(&names_mtx);
    id = names_find(t, name);
    unsigned n = atomic_load_explicit(&t->count, memory_order_relaxed);
    if (id == 0 && n < t->cap) {
        char *copy = strdup(name);
        if (copy != NULL) {
            t->names[n] = copy;
            atomic_store_explicit(&t->count, n + 1, memory_order_release);
            id = n;
        }
    }
    hs_mutex_unlock(&names_mtx);
    tsd_reentrancy_exit();
    return id;
}

unsigned
names_label(const char *name)
{
    return names_intern(&labels, name);
}

unsigned
names_domain(const char *name)
{
    return names_intern(&domains, name);
}

static const char *
names_str(names_table_t *t, unsigned id)
{
    unsigned n = atomic_load_explicit(&t->count, memory_order_acquire);
    return id < n ? t->names[id] : t->names[0];
}

const char *
names_label_str(unsigned id)
{
    return names_str(&labels, id);
}

const char *
names_domain_str(unsigned id)
{
    return names_str(&domains, id);
}

/* ---- thread labels ---- */

static HS_TLS unsigned thread_label; /* 0: not yet looked up; owner only */
static atomic_uint tid_labels;       /* "tid <n>" labels handed out */

/* The process's own name (the main thread's comm), read once: threads
 * inherit it, so a thread whose name differs was named on purpose. */
static char proc_comm[32];
static pthread_once_t proc_comm_once = PTHREAD_ONCE_INIT;

static void
read_proc_comm(void)
{
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, proc_comm, sizeof(proc_comm) - 1);
    close(fd);
    if (n <= 0) {
        proc_comm[0] = '\0';
        return;
    }
    proc_comm[n] = '\0';
    if (proc_comm[n - 1] == '\n')
        proc_comm[n - 1] = '\0';
}

static unsigned
names_thread_label_lookup(void)
{
    char name[32] = "", label[48];
    pid_t tid = gettid();
    if (tid == getpid())
        return names_label("main");
    pthread_once(&proc_comm_once, read_proc_comm);
    prctl(PR_GET_NAME, name, 0, 0, 0);
    if (proc_comm[0] != '\0' && name[0] != '\0' && strcmp(name, proc_comm) != 0)
        return names_label(name);
    if (atomic_fetch_add_explicit(&tid_labels, 1, memory_order_relaxed) >=
        NAMES_TID_LABELS)
        return names_label("tid (other)");
    hs_snprintf(label, sizeof(label), "tid %d", (int)tid);
    return names_label(label);
}

unsigned
names_thread_label(void)
{
    if (thread_label == 0)
        thread_label = names_thread_label_lookup();
    return thread_label;
}

void
names_thread_set_label(const char *name)
{
    thread_label = names_label(name);
}

/* ---- pairs ---- */

unsigned
names_pair(const char *key, const char *value)
{
    unsigned k = names_label(key), v = names_label(value);
    if (k == 0 || v == 0 || k > 0xffff || v > 0xffff)
        return 0;
    return k << 16 | v;
}

const char *
names_pair_key(unsigned pair)
{
    return pair == 0 ? NULL : names_label_str(pair >> 16);
}

const char *
names_pair_value(unsigned pair)
{
    return pair == 0 ? NULL : names_label_str(pair & 0xffff);
}
