/*
 * names.c — the label and domain tables (see names.h).
 *
 * Linear search: both tables are small and interning is rare (once per
 * thread, once per domain).  Strings are copied with malloc, which is
 * heapsight itself and unsampled under the caller's reentrancy guard.
 */
#include "names.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../alloc/tsd.h"
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
