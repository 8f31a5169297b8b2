/*
 * fault_util.h — shared by the fault-survival programs (tests/fault): the
 * hang watchdog and the option probe.
 *
 * Owns nothing but these static inline helpers and the watchdog's two
 * statics.  The watchdog is a hang detector, not a time measurement: a
 * healthy run finishes in a fraction of its budget, and a run that makes
 * no progress ends with one line naming what hung and exit status
 * FAULT_HUNG, instead of a silent CTest timeout.
 *
 * It fires on SIGRTMAX from a POSIX timer (not alarm()), so that the
 * programs may use SIGALRM, SIGPROF, SIGUSR1 and SIGUSR2 themselves.
 * Timers are not inherited by fork(): a child arms its own with alarm().
 */
#ifndef FAULT_UTIL_H
#define FAULT_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heapsight.h"

enum { FAULT_HUNG = 3 };

static const char *fault_watchdog_what; /* set before the timer is armed */
static timer_t fault_watchdog_timer;

static void
fault_watchdog_fired(int sig)
{
    static const char head[] = "fault: no progress: ";
    static const char tail[] = " (deadlock?)\n";
    (void)sig;
    (void)!write(STDERR_FILENO, head, sizeof head - 1);
    (void)!write(STDERR_FILENO, fault_watchdog_what,
                 strlen(fault_watchdog_what));
    (void)!write(STDERR_FILENO, tail, sizeof tail - 1);
    _exit(FAULT_HUNG);
}

/* Ends the process with a line naming what (a string literal) if it is
 * still running after seconds; a second call re-arms it. */
static inline void
fault_watchdog(unsigned seconds, const char *what)
{
    static bool created;
    fault_watchdog_what = what;
    if (!created) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = fault_watchdog_fired;
        sigaction(SIGRTMAX, &sa, NULL);
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = SIGRTMAX;
        if (timer_create(CLOCK_MONOTONIC, &ev, &fault_watchdog_timer) != 0)
            return;
        created = true;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = seconds;
    timer_settime(fault_watchdog_timer, 0, &its, NULL);
}

/* The boolean option opt.<name> (false if it cannot be read). */
static inline bool
fault_opt_bool(const char *name)
{
    char node[64] = "opt.";
    bool v = false;
    size_t len = sizeof v;
    strncat(node, name, sizeof node - 5);
    return hs_ctl(node, &v, &len, NULL, 0) == 0 && v;
}

/* prof.dump to an automatic name; 0 or an errno value. */
static inline int
fault_prof_dump(void)
{
    const char *path = NULL;
    return hs_ctl("prof.dump", NULL, NULL, &path, sizeof path);
}

#endif /* FAULT_UTIL_H */
