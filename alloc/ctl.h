/*
 * ctl.h — registering control nodes from higher layers.
 *
 * Owns: the extension table of hs_ctl().  The allocator's own nodes are a
 * static table in ctl.c; a higher layer (the profiler) adds its nodes here
 * at start-up, before any thread but the first exists, so lookups read the
 * table without a lock.  A node function has hs_ctl's calling convention
 * (see include/heapsight.h) and returns 0 or an errno value.
 */
#ifndef HS_CTL_H
#define HS_CTL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ctl_ext_node_s {
    const char *name;
    int (*fn)(void *oldp, size_t *oldlenp, void *newp, size_t newlen);
} ctl_ext_node_t;

/* Adds n nodes (the array must outlive the process).  False when the
 * extension table is full. */
bool ctl_register(const ctl_ext_node_t *nodes, size_t n);

/* Helpers for node functions: read a value of size bytes (EINVAL on a
 * length mismatch), or fetch a new value of size bytes (EINVAL on a length
 * mismatch; 0 with *r_set false when no new value was given). */
int ctl_value_read(void *oldp, size_t *oldlenp, const void *v, size_t size);
int ctl_value_write(const void *newp, size_t newlen, void *v, size_t size,
                    bool *r_set);

#endif /* HS_CTL_H */
