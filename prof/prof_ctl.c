/*
 * prof_ctl.c — the profiler's hs_ctl nodes (see prof_ctl.h).
 *
 *   prof.active        bool, read/write: sample or idle (no cost when idle
 *                      beyond one page-backed allocation per interval)
 *   prof.dump          const char *, write: dump now to that path (NULL:
 *                      an automatic name, trigger "manual")
 *   prof.dump_peak     const char *, write: write the peak profile now
 *                      (the live heap at its high-water mark) to that
 *                      path (NULL: an automatic name, trigger "peak",
 *                      replacing the process's previous automatic one)
 *   prof.final         write (no value): the exit report and final dump
 *                      now, not again at exit (before an _exit); ENOENT
 *                      unless prof_final or prof_leak is on
 *   prof.last_dump     char[], read: the path of the last prof.dump written
 *                      ("" if none), copied into the caller's buffer
 *   prof.reset         size_t, write (or no value): zero every counter,
 *                      start a new generation; a value sets a new interval
 *   prof.sample        size_t, read: the mean sample interval in bytes
 *   thread.prof.name   const char *, read/write: this thread's label
 *   thread.prof.active bool, read/write: sample this thread or not
 */
#include "prof_ctl.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "../alloc/ctl.h"
#include "activity.h"
#include "dump.h"
#include "names.h"
#include "sample.h"

static int
node_active(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    bool old = activity_on();
    bool v, set;
    int err = ctl_value_write(newp, newlen, &v, sizeof(v), &set);
    if (err != 0)
        return err;
    if (set)
        activity_set(v);
    return ctl_value_read(oldp, oldlenp, &old, sizeof(old));
}

/* The path a write-only dump node is given (NULL: an automatic name). */
static int
node_path_arg(void *oldp, size_t *oldlenp, void *newp, size_t newlen,
              const char **r_path)
{
    if (oldp != NULL || oldlenp != NULL)
        return EPERM;
    bool set;
    *r_path = NULL;
    return ctl_value_write(newp, newlen, r_path, sizeof(*r_path), &set);
}

static int
node_dump(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    const char *path;
    int err = node_path_arg(oldp, oldlenp, newp, newlen, &path);
    return err != 0 ? err : dump_now(path, "manual");
}

static int
node_dump_peak(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    const char *path;
    int err = node_path_arg(oldp, oldlenp, newp, newlen, &path);
    return err != 0 ? err : dump_peak_now(path, false);
}

static int
node_final(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    if (oldp != NULL || oldlenp != NULL || newp != NULL || newlen != 0)
        return EPERM;
    return dump_final_now();
}

static int
node_last_dump(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    if (newp != NULL || newlen != 0)
        return EPERM;
    if (oldp == NULL || oldlenp == NULL || *oldlenp == 0)
        return EINVAL;
    dump_last_manual(oldp, *oldlenp);
    return 0;
}

static int
node_reset(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    if (oldp != NULL || oldlenp != NULL)
        return EPERM;
    size_t interval;
    bool set;
    int err = ctl_value_write(newp, newlen, &interval, sizeof(interval), &set);
    if (err != 0)
        return err;
    if (set && interval == 0)
        return EINVAL;
    activity_reset(set ? interval : 0);
    return 0;
}

static int
node_sample(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    if (newp != NULL || newlen != 0)
        return EPERM;
    size_t v = (size_t)sample_interval();
    return ctl_value_read(oldp, oldlenp, &v, sizeof(v));
}

static int
node_thread_name(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    const char *old = names_label_str(names_thread_label());
    const char *name;
    bool set;
    int err = ctl_value_write(newp, newlen, &name, sizeof(name), &set);
    if (err != 0)
        return err;
    if (set && name == NULL)
        return EINVAL;
    err = ctl_value_read(oldp, oldlenp, &old, sizeof(old));
    if (err == 0 && set)
        names_thread_set_label(name);
    return err;
}

static int
node_thread_active(void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    bool old = activity_thread_on();
    bool v, set;
    int err = ctl_value_write(newp, newlen, &v, sizeof(v), &set);
    if (err != 0)
        return err;
    if (set)
        activity_thread_set(v);
    return ctl_value_read(oldp, oldlenp, &old, sizeof(old));
}

static const ctl_ext_node_t nodes[] = {
    {"prof.active", node_active},
    {"prof.dump", node_dump},
    {"prof.dump_peak", node_dump_peak},
    {"prof.final", node_final},
    {"prof.last_dump", node_last_dump},
    {"prof.reset", node_reset},
    {"prof.sample", node_sample},
    {"thread.prof.name", node_thread_name},
    {"thread.prof.active", node_thread_active},
};

void
prof_ctl_register(void)
{
    ctl_register(nodes, sizeof(nodes) / sizeof(nodes[0]));
}
