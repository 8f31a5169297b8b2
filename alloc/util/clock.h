/*
 * clock.h — the monotonic clock in nanoseconds, for intervals, deadlines
 * and durations (CLOCK_MONOTONIC through the vDSO: no system call, no
 * lock, safe in signal handlers and fork children).  Pure header: owns
 * no state.  Decay, which needs only milliseconds, reads the coarse clock
 * itself (pac_now_ns).
 */
#ifndef HS_CLOCK_H
#define HS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
hs_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif /* HS_CLOCK_H */
