/*
 * signame.h — signal names as the options and the command line write
 * them: "USR2", "SIGUSR2", "RTMIN+5", "40".
 *
 * Owns: the one parser of a signal name (prof_signal and
 * prof_attach_signal in the library, `heapsight attach --signal` in the
 * command).  A pure header: nothing to link, usable from cli/.  Owns no
 * state, takes no lock; allocates nothing.
 *
 * Accepted: an optional "SIG" prefix, then USR1, USR2, HUP, PROF, URG,
 * WINCH, RTMIN, RTMIN+N (N <= SIGRTMAX - SIGRTMIN) or a decimal number of
 * a real-time signal (SIGRTMIN <= n <= SIGRTMAX).  SIGRTMIN is the C
 * library's (glibc: 34, after the two it keeps), read at run time, so a
 * library and a command built apart agree on RTMIN+N.
 */
#ifndef HS_SIGNAME_H
#define HS_SIGNAME_H

#include <signal.h>
#include <string.h>

/* The decimal value of s[0..] up to its end, or -1 if s is not all
 * digits (or is empty, or over 9999). */
static inline int
hs_signame_digits(const char *s)
{
    int v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > 999)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* The signal number name stands for, or 0 if it names none we accept. */
static inline int
hs_signal_number(const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
                {"PROF", SIGPROF}, {"URG", SIGURG},   {"WINCH", SIGWINCH}};
    if (strncmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (strcmp(name, sigs[i].name) == 0)
            return sigs[i].sig;
    if (strcmp(name, "RTMIN") == 0)
        return SIGRTMIN;
    int n = strncmp(name, "RTMIN+", 6) == 0 ? hs_signame_digits(name + 6)
                                            : hs_signame_digits(name);
    if (n >= 0 && strncmp(name, "RTMIN+", 6) == 0)
        n = n <= SIGRTMAX - SIGRTMIN ? SIGRTMIN + n : -1;
    return n >= SIGRTMIN && n <= SIGRTMAX ? n : 0;
}

#endif /* HS_SIGNAME_H */
