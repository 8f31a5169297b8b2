/*
 * decay.c — the smoothstep decay curve (see decay.h).
 */
#include "decay.h"

#include <string.h>

/* Weights in fixed point with 24 fraction bits. */
#define H_BITS 24

/* h(i): smoothstep at x = (i + 1) / DECAY_NSTEPS, 3x^2 - 2x^3 = x^2 (3 - 2x);
 * exact integer arithmetic, h(DECAY_NSTEPS - 1) == 1 << H_BITS. */
static inline uint64_t
h(unsigned i)
{
    const uint64_t n = DECAY_NSTEPS, j = i + 1;
    return ((j * j * (3 * n - 2 * j)) << H_BITS) / (n * n * n);
}

size_t
decay_limit_after(const decay_t *d, unsigned k, size_t pending)
{
    if (d->ms < 0)
        return SIZE_MAX;
    if (d->ms == 0 || k > DECAY_NSTEPS)
        return 0;
    /* 128-bit sums: backlog entries are page counts, far below 2^40. */
    unsigned __int128 sum = 0;
    for (unsigned j = 0; j + k < DECAY_NSTEPS; j++)
        sum += (unsigned __int128)d->backlog[j + k] * h(j);
    uint64_t w = k == 0 ? (uint64_t)1 << H_BITS : h(DECAY_NSTEPS - k);
    sum += (unsigned __int128)pending * w;
    return (size_t)(sum >> H_BITS);
}

void
decay_init(decay_t *d, int64_t ms, uint64_t now_ns, size_t npages)
{
    memset(d->backlog, 0, sizeof d->backlog);
    d->ms = ms;
    d->interval_ns = ms > 0 ? (uint64_t)ms * 1000000 / DECAY_NSTEPS : 1;
    if (d->interval_ns == 0)
        d->interval_ns = 1;
    d->epoch_ns = now_ns;
    d->nunpurged = npages;
    if (ms > 0)
        d->backlog[DECAY_NSTEPS - 1] = npages;
    d->limit = decay_limit_after(d, 0, 0);
}

bool
decay_advance(decay_t *d, uint64_t now_ns, size_t npages)
{
    if (d->ms <= 0 || now_ns < d->epoch_ns + d->interval_ns)
        return false;
    uint64_t n = (now_ns - d->epoch_ns) / d->interval_ns;
    d->epoch_ns += n * d->interval_ns;
    if (n >= DECAY_NSTEPS) {
        memset(d->backlog, 0, sizeof d->backlog);
    } else {
        memmove(d->backlog, d->backlog + n,
                (DECAY_NSTEPS - n) * sizeof d->backlog[0]);
        memset(d->backlog + DECAY_NSTEPS - n, 0, n * sizeof d->backlog[0]);
    }
    /* Pages added since the last purge count as freed in the epoch just
     * ended: never purged earlier than their time. */
    d->backlog[DECAY_NSTEPS - 1] =
        npages > d->nunpurged ? npages - d->nunpurged : 0;
    d->limit = decay_limit_after(d, 0, 0);
    /* Pages taken out for reuse leave their share of the backlog behind:
     * when they are freed again, only what goes past the curve's limit is
     * new, or they would be counted twice. */
    d->nunpurged = d->limit > npages ? d->limit : npages;
    return true;
}

size_t
decay_limit(const decay_t *d, size_t npages)
{
    if (d->ms <= 0)
        return d->ms < 0 ? SIZE_MAX : 0;
    size_t pending = npages > d->nunpurged ? npages - d->nunpurged : 0;
    return d->limit + pending;
}

void
decay_purged(decay_t *d, size_t npages)
{
    d->nunpurged = d->limit > npages ? d->limit : npages;
}

uint64_t
decay_ns_until_purge(const decay_t *d, uint64_t now_ns, size_t npages,
                     size_t min_pages)
{
    if (d->ms < 0 || npages == 0)
        return UINT64_MAX;
    if (d->ms == 0)
        return 0;
    size_t pending = npages > d->nunpurged ? npages - d->nunpurged : 0;
    size_t target = npages > min_pages ? npages - min_pages : 0;
    if (decay_limit_after(d, 0, pending) <= target)
        return 0;
    /* The limit never rises as epochs pass: binary search for the first
     * epoch at which it is down to target (at k = NSTEPS + 1 it is 0). */
    unsigned lo = 1, hi = DECAY_NSTEPS + 1;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (decay_limit_after(d, mid, pending) <= target)
            hi = mid;
        else
            lo = mid + 1;
    }
    uint64_t due = d->epoch_ns + (uint64_t)lo * d->interval_ns;
    return due > now_ns ? due - now_ns : 0;
}
