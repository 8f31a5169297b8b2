/*
 * attach_chan.h — the command's side of the channel to a process's
 * attach listener (the library's side is prof/attach.c; the files and
 * their format are alloc/util/attach_proto.h's).
 *
 * Owns: finding out whether a pid can be attached (it exists, it is the
 * same user's or this is root, libheapsight.so is loaded in it, it
 * catches the attach signal: checked in /proc before any signal is sent,
 * so a process without the listener is never killed by one), which
 * signal to send (--signal, else prof_attach_signal in the HEAPSIGHT the
 * process started with, else the default), the channel's directory
 * (created mode 0700 and checked), one request and its reply (a timeout,
 * the process's end noticed while waiting), and moving a dump out of the
 * directory.
 *
 * Errors: attach_probe and attach_chan_open print one line themselves;
 * attach_request and attach_take return an errno value and print
 * nothing.
 *
 * Threading: single-threaded; no locks.
 */
#ifndef HS_CLI_ATTACH_CHAN_H
#define HS_CLI_ATTACH_CHAN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../alloc/util/attach_proto.h"

typedef struct attach_target_s {
    long pid;           /* as this command sees it */
    long own_pid;       /* as the process sees itself (pid namespaces) */
    unsigned uid;       /* its effective uid: the channel's owner */
    int sig;            /* the signal a request is announced with */
    char sig_name[40];  /* as the user would write it */
    char dir[PATH_MAX]; /* the channel's directory, reached from here */
} attach_target_t;

/* A request: op, and with all but start the session (the start's id). */
typedef struct attach_req_s {
    const char *op;
    const char *session; /* NULL with start */
    unsigned lease_ms;
    uint64_t sample; /* start: 0 for the process's own interval */
} attach_req_t;

enum { ATTACH_REPLY_FILES = 4 };

typedef struct attach_reply_s {
    char id[ATTACH_TOKEN_MAX]; /* the request's */
    bool ok;                   /* status ok */
    char message[512];         /* with !ok: why */
    struct {
        char trigger[16];            /* timer, final, peak */
        char name[ATTACH_TOKEN_MAX]; /* in the channel's directory */
    } files[ATTACH_REPLY_FILES];
    size_t nfiles;
} attach_reply_t;

/*
 * Checks that pid can be attached and fills t (all but dir); signame is
 * --signal or NULL.  Prints one line on failure.  Returns -1 to go on,
 * else the exit status.
 */
int attach_probe(long pid, const char *signame, attach_target_t *t);

/* Creates (if need be) and checks the channel's directory into t->dir.
 * Prints one line on failure.  Returns -1 to go on, else the exit status. */
int attach_chan_open(attach_target_t *t);

/*
 * Sends q and waits up to timeout_ms for its reply into *r.  Returns 0
 * when the reply came (r->ok tells how it went), ETIMEDOUT, ESRCH when
 * the process ended, EBUSY when another request is waiting there, or the
 * errno value of a failed file step.
 */
int attach_request(const attach_target_t *t, const attach_req_t *q,
                   int timeout_ms, attach_reply_t *r);

/* Moves the dump name (from a reply) out of the channel to path (a new
 * file, mode 0600).  Returns 0 or an errno value. */
int attach_take(const attach_target_t *t, const char *name, const char *path);

#endif /* HS_CLI_ATTACH_CHAN_H */
