/*
 * attach.h — the library's side of `heapsight attach PID`: a process
 * started armed but idle (prof:true,prof_active:false) is profiled from
 * outside for a while, then left idle again.
 *
 * Owns: the listener (a signal handler for prof_attach_signal that only
 * writes a byte to a pipe, and one thread asleep in poll on it), the
 * checks of the channel's directory and request, and the session: the
 * request's ops done through the functions hs_ctl's prof.* nodes use
 * (activity_reset, activity_set, dump_now, dump_peak_now), a lease after
 * which sampling goes off by itself, and the reply.  The files and their
 * format are alloc/util/attach_proto.h's; the command's side is
 * cli/attach.c.  Does not own the dumps' contents (dump.c) nor the
 * activity flag (activity.c).
 *
 * When it listens (prof_attach): idle (the default) when the profiler
 * starts idle, true always, false never; not when the signal is unknown,
 * is prof_signal's, or already has a handler (one warning line each).
 * Idle cost: the thread blocked in poll, nothing on any allocation path.
 *
 * Who may ask: only requests in the directory /tmp/heapsight-<euid>
 * (owned by the process's effective uid, mode 0700, no symlink), in a
 * regular file of that uid that nobody else may write, are served, and
 * none while the real and effective uids differ.  The dumps go into that
 * directory, never to a path a request names.
 *
 * Threading: the session is the listener thread's alone (and, in a fork
 * child, the fork handler's, before any other thread exists).  The signal
 * handler reads one atomic (the pipe's write end).  No lock of its own;
 * the dumps take dump.c's.
 *
 * Invariants: sampling was turned on by this module <=> a session is live
 * (its id is not ""); a live session ends by stop, by its lease running
 * out, or by a fork (in the child), each turning sampling off and putting
 * the process's own sample interval back.
 */
#ifndef HS_PROF_ATTACH_H
#define HS_PROF_ATTACH_H

/* Starts the listener when prof_attach asks for it (after dump_boot). */
void attach_boot(void);
/* In a fork child: the listener thread is gone; stop listening and end a
 * session the parent had (sampling off). */
void attach_postfork_child(void);

#endif /* HS_PROF_ATTACH_H */
